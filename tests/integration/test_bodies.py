"""Message bodies both ways: large streams with bounded memory, chunked, close-delimited,
bodiless responses, Expect: 100-continue."""

import hashlib
import json
import os
import socket
import threading
import time

import harness

BIG = 100 * harness.MiB
RSS_LIMIT_KB = 64 * 1024

_sha_cache = {}


def pattern_sha(n):
    if n not in _sha_cache:
        _sha_cache[n] = harness.pattern_sha256(n)
    return _sha_cache[n]


class BodiesTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.rw = self.start_ringway(harness.simple_config(self.port, [self.web]), workers=1)
        self.base = "http://127.0.0.1:%d" % self.port

    def curl(self, *args, timeout=120):
        res = harness.run_cmd(["curl", "-sS", "--max-time", str(timeout - 5)] + list(args),
                              timeout=timeout)
        self.assertEqual(res.returncode, 0, "curl %s: %s" % (args, res.stderr.decode()))
        return res.stdout

    def pattern_file(self, n):
        path = os.path.join(self.workdir, "pattern-%d.bin" % n)
        if not os.path.exists(path):
            harness.write_pattern_file(path, n)
        return path

    def assertRssBounded(self, sampler):
        self.assertGreater(sampler.samples, 0)
        self.assertLess(sampler.peak_kb, RSS_LIMIT_KB,
                        "ringway VmRSS peaked at %d kB" % sampler.peak_kb)
        hwm = self.rw.proc_status("VmHWM")
        self.assertIsNotNone(hwm)
        self.assertLess(hwm, RSS_LIMIT_KB, "ringway VmHWM is %d kB" % hwm)

    # -- large streams ------------------------------------------------------------------------

    def test_upload_100mb(self):
        path = self.pattern_file(BIG)
        with harness.RssSampler(self.rw) as sampler:
            out = self.curl("--data-binary", "@" + path, "-H", "Expect:",
                            "-H", "Content-Type: application/octet-stream", self.base + "/sink")
        got = json.loads(out)
        self.assertEqual(got, {"length": BIG, "sha256": pattern_sha(BIG)})
        self.assertRssBounded(sampler)

    def test_download_100mb(self):
        with harness.RssSampler(self.rw) as sampler:
            p = harness.spawn(["curl", "-sS", "--max-time", "100",
                               self.base + "/bytes?n=%d" % BIG],
                              stdout=harness.subprocess.PIPE)
            h = hashlib.sha256()
            size = 0
            while True:
                data = p.stdout.read(1 << 20)
                if not data:
                    break
                h.update(data)
                size += len(data)
            self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(size, BIG)
        self.assertEqual(h.hexdigest(), pattern_sha(BIG))
        self.assertRssBounded(sampler)

    def test_download_to_stalled_client_is_flow_controlled(self):
        # The client reads nothing for a while: ringway must stop reading from the backend
        # instead of buffering the response.
        c = self.conn(self.port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        with harness.RssSampler(self.rw) as sampler:
            c.request("GET", "/bytes?n=%d" % BIG)
            time.sleep(1.5)
            r = c.read_response(timeout=60)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), BIG)
        self.assertEqual(harness.sha256(r.body), pattern_sha(BIG))
        self.assertRssBounded(sampler)

    def test_upload_to_stalled_backend_is_flow_controlled(self):
        # The backend reads the body only after 1.5 s: ringway must stop reading from the
        # client meanwhile instead of buffering the request body.
        n = BIG
        c = self.conn(self.port, timeout=60)
        head = harness.build_request("POST", "/sink?pause_ms=1500",
                                     headers=[("Content-Length", str(n))])
        errors = []

        def send_body():
            try:
                c.send(head)
                for piece in harness.backend_module.pattern_pieces(n):
                    c.send(piece)
            except OSError as e:
                errors.append(e)

        with harness.RssSampler(self.rw) as sampler:
            t = threading.Thread(target=send_body, daemon=True)
            t.start()
            r = c.read_response(timeout=60)
            t.join(timeout=10)
        self.assertEqual(errors, [])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"length": n, "sha256": pattern_sha(n)})
        self.assertRssBounded(sampler)

    # -- chunked ------------------------------------------------------------------------------

    def test_chunked_request_body_via_curl(self):
        n = 3 * harness.MiB + 123
        path = self.pattern_file(n)
        out = self.curl("--data-binary", "@" + path, "-H", "Transfer-Encoding: chunked",
                        "-H", "Expect:", self.base + "/echo")
        info = json.loads(out)
        self.assertEqual(info["body_length"], n, info)
        self.assertEqual(info["body_sha256"], pattern_sha(n), info)

    def test_chunked_request_with_extensions_and_trailers(self):
        body = (b"5;name=value\r\nhello\r\n"
                b"1\r\n \r\n"
                b"000005\r\nworld\r\n"
                b"0\r\nX-Checksum: abc\r\n\r\n")
        r = harness.request(self.port, "POST", "/echo", body=body,
                            headers=[("Transfer-Encoding", "chunked")])
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(info["body_length"], 11, info)
        self.assertEqual(info["body_sha256"], harness.sha256(b"hello world"), info)

    def test_chunked_request_split_across_packets(self):
        c = self.conn(self.port)
        c.send(harness.build_request("POST", "/echo",
                                     headers=[("Transfer-Encoding", "chunked")]))
        for piece in (b"4\r", b"\nab", b"cd\r\n", b"3\r\nxyz", b"\r\n0\r", b"\n\r\n"):
            c.send(piece)
            time.sleep(0.05)
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual((info["body_length"], info["body_sha256"]),
                         (7, harness.sha256(b"abcdxyz")), info)
        # The connection is still in step.
        self.assertEqual(c.roundtrip("GET", "/").status, 200)

    def test_chunked_response_via_curl(self):
        n = 2 * harness.MiB + 17
        out = self.curl(self.base + "/chunked?n=%d&size=1000" % n)
        self.assertEqual(len(out), n)
        self.assertEqual(harness.sha256(out), pattern_sha(n))

    def test_chunked_response_raw(self):
        c = self.conn(self.port)
        for n, size in ((100000, 333), (1, 1), (0, 10), (70000, 65536)):
            r = c.roundtrip("GET", "/chunked?n=%d&size=%d" % (n, size))
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.complete, r)
            self.assertEqual(r.body, harness.pattern(n))
        r = c.roundtrip("GET", "/chunked?n=5000&size=100&trailers=1")
        self.assertEqual(r.body, harness.pattern(5000))
        self.assertEqual(c.roundtrip("GET", "/").status, 200)

    def test_chunked_response_to_http10_client_arrives_dechunked_and_intact(self):
        # Several chunks of a few KiB share each receive buffer; the HTTP/1.0 client gets their
        # data only, each run still pointing into the buffer it arrived in (runs of 2 KiB or
        # less are copied): mixed sizes catch a buffer given back while a run still needs it.
        for n, size in ((3000000, 5000), (1000000, 2049), (600000, 2048), (500000, 16384)):
            s = socket.create_connection((harness.HOST, self.port), timeout=20)
            try:
                s.sendall(b"GET /chunked?n=%d&size=%d HTTP/1.0\r\nHost: localhost\r\n\r\n"
                          % (n, size))
                data = bytearray()
                while True:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    data += chunk
            finally:
                s.close()
            head, _, body = bytes(data).partition(b"\r\n\r\n")
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            self.assertNotIn(b"transfer-encoding", head.lower())
            self.assertEqual(len(body), n, (n, size))
            self.assertEqual(harness.sha256(body), pattern_sha(n), (n, size))

    # -- close-delimited ----------------------------------------------------------------------

    def test_close_delimited_response(self):
        n = 1000003
        c = self.conn(self.port)
        r = c.roundtrip("GET", "/close-delimited?n=%d" % n, timeout=20)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.complete, r)
        self.assertEqual(len(r.body), n)
        self.assertEqual(r.body, harness.pattern(n))
        out = self.curl(self.base + "/close-delimited?n=%d" % n)
        self.assertEqual(out, harness.pattern(n))

    def test_close_delimited_then_more_requests(self):
        # Whatever ringway does with the client connection afterwards, new requests work and
        # the upstream connection that ended is not reused.
        for _ in range(3):
            r = harness.request(self.port, "GET", "/close-delimited?n=1000")
            self.assertEqual(r.body, harness.pattern(1000))
            r = harness.request(self.port, "GET", "/")
            self.assertEqual((r.status, r.body), (200, b"hello from web\n"))

    # -- bodiless responses -------------------------------------------------------------------

    def test_head_has_no_body(self):
        c = self.conn(self.port)
        for target in ("/bytes?n=1000", "/", "/chunked?n=1000", "/echo"):
            r = c.roundtrip("HEAD", target)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"")
        # Nothing stray follows on the connection: the next response is the right one.
        r = c.roundtrip("GET", "/bytes?n=1000")
        self.assertEqual(r.body, harness.pattern(1000))
        self.assertEqual(bytes(c.buf), b"")

    def test_head_content_length_is_forwarded(self):
        r = harness.request(self.port, "HEAD", "/bytes?n=123456")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "123456")

    def test_204_and_304_have_no_body(self):
        c = self.conn(self.port)
        for code in (204, 304, 204):
            r = c.roundtrip("GET", "/status/%d" % code)
            self.assertEqual(r.status, code, r)
            self.assertEqual(r.body, b"")
            self.assertIsNone(r.header("Transfer-Encoding"), r)
        r = c.roundtrip("GET", "/status/200")
        self.assertEqual(r.body, b"status 200 from web\n")
        self.assertFalse(c.wait_closed(timeout=0.2))

    def test_error_statuses_from_backend_pass_through(self):
        c = self.conn(self.port)
        for code in (404, 500, 503, 418):
            r = c.roundtrip("GET", "/status/%d" % code)
            self.assertEqual(r.status, code, r)
            self.assertEqual(r.body, b"status %d from web\n" % code)

    # -- Expect: 100-continue -----------------------------------------------------------------

    def test_expect_100_continue_with_curl(self):
        n = 2 * harness.MiB
        path = self.pattern_file(n)
        start = time.monotonic()
        out = self.curl("--data-binary", "@" + path, "-H", "Expect: 100-continue",
                        "--expect100-timeout", "3", self.base + "/sink")
        elapsed = time.monotonic() - start
        self.assertEqual(json.loads(out), {"length": n, "sha256": pattern_sha(n)})
        # curl sends the body early only if it saw 100 Continue; otherwise it waits 3 s.
        self.assertLess(elapsed, 2.5, "no 100 Continue reached curl")

    def test_expect_100_continue_raw(self):
        c = self.conn(self.port)
        c.send(harness.build_request("POST", "/echo", headers=[("Expect", "100-continue"),
                                                               ("Content-Length", "10")]))
        interim = c._read_until(b"\r\n\r\n", time.monotonic() + 3)
        self.assertIsNotNone(interim)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100"), interim)
        c.send(b"0123456789")
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(info["body_length"], 10)
        self.assertEqual(info["body_sha256"], harness.sha256(b"0123456789"))
        self.assertEqual(c.roundtrip("GET", "/").status, 200)

    def test_request_bodies_on_keepalive_connection(self):
        c = self.conn(self.port)
        for size in (0, 1, 4095, 4096, 65537, 300000):
            body = harness.pattern(size, offset=size)
            r = c.roundtrip("PUT", "/echo", body=body)
            self.assertEqual(r.status, 200, r)
            info = r.json()
            self.assertEqual(info["body_length"], size)
            self.assertEqual(info["body_sha256"], harness.sha256(body))


if __name__ == "__main__":
    harness.main()
