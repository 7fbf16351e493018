"""Errors ringway answers itself: 400, 413, 414, 431, 502, and broken upstream responses.
Each error carries a short body, and a bad request never reaches the backend."""

import socket
import struct
import time

import harness


class ClientErrorsTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(
            self.port, [self.web],
            limits={"max_request_line": "8k", "max_header_size": "64k", "max_headers": 100,
                    "max_body_size": "1k"}))
        self.web.reset_stats()

    def tearDown(self):
        # Whatever happened, ringway still answers normal requests.
        r = harness.request(self.port, "GET", "/")
        self.assertEqual((r.status, r.body), (200, b"hello from web\n"))
        super().tearDown()

    def assertRejected(self, data, statuses, closed=True):
        resp, was_closed = harness.raw_exchange(self.port, data)
        self.assertIsNotNone(resp, "connection closed without a response for %r" % data[:200])
        self.assertIn(resp.status, statuses, "for %r: %r" % (data[:200], resp))
        self.assertShortErrorBody(resp)
        if closed:
            self.assertTrue(was_closed, "connection left open after %d for %r"
                            % (resp.status, data[:200]))
        return resp

    def assertBackendUntouched(self):
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 0, stats)

    def test_malformed_requests_are_400(self):
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
            b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / FOO/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nBad\x7fName: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
        ]
        for data in cases:
            with self.subTest(data=data):
                self.assertRejected(data, (400,))
        self.assertBackendUntouched()

    def test_unsupported_version(self):
        for data in (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", b"GET / HTTP/3.1\r\nHost: a\r\n\r\n"):
            with self.subTest(data=data):
                self.assertRejected(data, (400, 505))
        self.assertBackendUntouched()

    def test_host_header_required_once(self):
        # RFC 9112 section 3.2: no Host, or more than one, in HTTP/1.1 is a 400.
        self.assertRejected(b"GET / HTTP/1.1\r\n\r\n", (400,))
        self.assertRejected(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (400,))
        self.assertBackendUntouched()

    def test_request_line_too_long_is_414(self):
        self.assertRejected(harness.build_request("GET", "/" + "a" * 9000), (414,))
        self.assertBackendUntouched()
        # Just under the limit is fine.
        r = harness.request(self.port, "GET", "/echo?" + "b" * 7000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["target"]), 7006)

    def test_too_many_header_fields_is_431(self):
        headers = [("X-Field-%d" % i, "v") for i in range(150)]
        self.assertRejected(harness.build_request("GET", "/", headers=headers), (431,))
        self.assertBackendUntouched()
        headers = [("X-Field-%d" % i, "v") for i in range(90)]
        r = harness.request(self.port, "GET", "/headers", headers=headers)
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(len(r.json()["headers"]), 91)

    def test_head_too_large_is_431(self):
        headers = [("X-Big-%d" % i, "v" * 1000) for i in range(70)]
        self.assertRejected(harness.build_request("GET", "/", headers=headers), (431,))
        self.assertRejected(harness.build_request("GET", "/", headers=[("X-Huge", "h" * 70000)]),
                            (431,))
        self.assertBackendUntouched()
        headers = [("X-Big-%d" % i, "v" * 1000) for i in range(50)]
        r = harness.request(self.port, "GET", "/headers", headers=headers)
        self.assertEqual(r.status, 200, r)

    def test_head_too_large_sent_slowly_is_431(self):
        # The head arrives in many small pieces; the limit still applies to the total.
        c = self.conn(self.port)
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
        line = b"X-Piece: " + b"p" * 4000 + b"\r\n"
        try:
            for _ in range(20):
                c.send(line)
                time.sleep(0.01)
        except OSError:
            pass  # ringway may answer and close before everything is sent
        r = c.read_response()
        self.assertEqual(r.status, 431, r)
        self.assertShortErrorBody(r)
        self.assertBackendUntouched()

    def test_body_over_limit_is_413(self):
        data = harness.build_request("POST", "/sink", body=b"x" * 2000)
        self.assertRejected(data, (413,), closed=False)
        self.assertBackendUntouched()
        r = harness.request(self.port, "POST", "/sink", body=b"x" * 1000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["length"], 1000)

    def test_body_over_limit_with_expect_gets_413_not_100(self):
        c = self.conn(self.port)
        c.send(harness.build_request("POST", "/sink", headers=[("Content-Length", "5000"),
                                                               ("Expect", "100-continue")]))
        r = c.read_response(timeout=5)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.interim, [], "100 Continue sent for a body over the limit")
        self.assertShortErrorBody(r)
        self.assertBackendUntouched()


class UpstreamErrorsTest(harness.ProxyTest):
    # Health checks off: every request tries the backends itself (three tries, then 502).
    # With checks on, the first failed check takes a dead backend down and the answer is 503.
    NO_HEALTH = {"health_check": {"enabled": False},
                 "passive_health": {"consecutive_failures": 0}}

    def test_backend_port_closed_is_502(self):
        port = self.free_port()
        dead = "127.0.0.1:%d" % self.free_port()
        self.start_ringway(harness.simple_config(port, [dead], upstream_options=self.NO_HEALTH))
        c = self.conn(port)
        r = c.roundtrip("GET", "/", timeout=10)
        self.assertEqual(r.status, 502, r)
        self.assertShortErrorBody(r)
        # The client connection is still usable (or closed cleanly): never a hang.
        try:
            r = c.roundtrip("GET", "/", timeout=10)
            self.assertEqual(r.status, 502, r)
        except harness.ClosedEarly:
            pass

    def test_all_backends_refusing_is_502(self):
        port = self.free_port()
        dead = ["127.0.0.1:%d" % self.free_port() for _ in range(3)]
        self.start_ringway(harness.simple_config(port, dead, upstream_options=self.NO_HEALTH))
        for _ in range(4):
            start = time.monotonic()
            r = harness.request(port, "GET", "/", timeout=10)
            self.assertEqual(r.status, 502, r)
            self.assertShortErrorBody(r)
            self.assertLess(time.monotonic() - start, 3.0)

    def test_one_backend_down_out_of_two(self):
        # Requests that reach the live backend succeed; those that cannot get 502, quickly.
        live = self.start_backend("live")
        port = self.free_port()
        dead = "127.0.0.1:%d" % self.free_port()
        self.start_ringway(harness.simple_config(
            port, [live, dead], upstream_options=dict(self.NO_HEALTH, retry={"tries": 1})))
        statuses = set()
        for _ in range(10):
            r = harness.request(port, "GET", "/", timeout=10)
            statuses.add(r.status)
            if r.status == 200:
                self.assertEqual(r.header("X-Backend"), "live")
            else:
                self.assertEqual(r.status, 502, r)
        self.assertIn(200, statuses)
        self.assertIn(502, statuses)

    def test_one_backend_down_out_of_two_is_retried(self):
        # The defaults: a refused connect goes to the other backend; no client sees an error.
        live = self.start_backend("live")
        port = self.free_port()
        dead = "127.0.0.1:%d" % self.free_port()
        self.start_ringway(harness.simple_config(port, [live, dead]))
        for _ in range(10):
            r = harness.request(port, "GET", "/", timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-Backend"), "live")

    def test_backend_stopped_while_running(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]))
        c = self.conn(port)
        self.assertEqual(c.roundtrip("GET", "/").status, 200)
        web.stop()
        time.sleep(0.1)
        r = harness.request(port, "GET", "/", timeout=10)
        # 502 if the request finds out (refused), 503 if a health check found out first.
        self.assertIn(r.status, (502, 503), r)
        self.assertShortErrorBody(r)

    def test_backend_closes_mid_body(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]))
        n = 200000
        for target in ("/close-mid?n=%d" % n, "/close-mid?n=10"):
            with self.subTest(target=target):
                c = self.conn(port)
                start = time.monotonic()
                c.request("GET", target)
                try:
                    r = c.read_response(timeout=10)
                except harness.ClosedEarly:
                    r = None
                if r is not None and r.status != 502:
                    # The head went out already: the client must see the body cut short
                    # and the connection end, never a complete-looking response.
                    self.assertEqual(r.status, 200, r)
                    self.assertFalse(r.complete and not r.close_delimited, r)
                    self.assertTrue(c.wait_closed(timeout=5))
                self.assertLess(time.monotonic() - start, 5.0)
        # Ringway is fine afterwards.
        self.assertEqual(harness.request(port, "GET", "/").status, 200)

    def test_invalid_upstream_response_is_502(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]))
        for target in ("/bad-response", "/drop"):
            with self.subTest(target=target):
                r = harness.request(port, "GET", target, timeout=10)
                self.assertEqual(r.status, 502, r)
                self.assertShortErrorBody(r)
        self.assertEqual(harness.request(port, "GET", "/").status, 200)


class ClientAbortTest(harness.ProxyTest):
    """Clients that go away mid-exchange leave ringway and its upstream pool sound."""

    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.rw = self.start_ringway(harness.simple_config(self.port, [self.web]))

    def assertHealthy(self):
        self.assertTrue(self.rw.running(), self.rw.logs())
        c = self.conn(self.port)
        for i in range(5):
            r = c.roundtrip("GET", "/echo?after=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?after=%d" % i)

    def test_client_gone_while_waiting_for_response(self):
        for _ in range(5):
            with harness.Conn(self.port) as c:
                c.request("GET", "/slow?ms=300")
                time.sleep(0.05)
        time.sleep(0.5)
        self.assertHealthy()

    def test_client_gone_during_large_response(self):
        for _ in range(3):
            with harness.Conn(self.port) as c:
                c.request("GET", "/bytes?n=%d" % (50 * harness.MiB))
                c.sock.recv(65536)
        self.assertHealthy()

    def test_client_gone_during_request_body(self):
        for _ in range(3):
            with harness.Conn(self.port) as c:
                c.send(harness.build_request("POST", "/sink",
                                             headers=[("Content-Length", "1000000")]))
                c.send(b"x" * 1000)
                time.sleep(0.05)
        self.assertHealthy()

    def test_client_reset(self):
        for _ in range(3):
            c = harness.Conn(self.port)
            c.request("GET", "/slow?ms=200")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # RST instead of FIN
        time.sleep(0.4)
        self.assertHealthy()


if __name__ == "__main__":
    harness.main()
