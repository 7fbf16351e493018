"""Request smuggling: every ambiguous framing is refused before anything reaches the backend,
and a request hidden in a body never arrives as a request of its own."""

import socket
import threading
import time

import harness

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


class SmugglingTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(self.port, [self.web]))

    def check(self, data, statuses=(400,)):
        self.web.reset_stats()
        with harness.Conn(self.port) as c:
            c.send(data)
            try:
                resp = c.read_response(timeout=5)
            except harness.ClosedEarly:
                resp = None
            self.assertIsNotNone(resp, "closed without a response for %r" % data)
            self.assertIn(resp.status, statuses, "for %r: %r" % (data, resp))
            self.assertShortErrorBody(resp)
            # The rest of the bytes cannot be trusted: the connection must end.
            self.assertTrue(c.wait_closed(timeout=3), "connection left open for %r" % data)
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 0, "backend saw %r for %r" % (stats, data))

    def test_content_length_and_transfer_encoding(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED)
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Length: 40\r\n\r\n0\r\n\r\n" + SMUGGLED)

    def test_two_content_lengths(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED)
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, %d\r\n\r\n"
                   % len(SMUGGLED) + SMUGGLED)

    def test_chunked_not_last(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED, (400, 501))
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                   b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED, (400, 501))

    def test_unknown_transfer_coding(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED, (501, 400))
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked-false\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED, (501, 400))

    def test_chunked_twice(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED, (400, 501))

    def test_space_before_colon(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length : %d\r\n\r\n"
                   % len(SMUGGLED) + SMUGGLED)
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED)
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\nhello")

    def test_obs_fold(self):
        self.check(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                   b"0\r\n\r\n" + SMUGGLED)
        self.check(b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: first\r\n\tsecond\r\n\r\n")
        self.check(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n")

    def test_bare_cr(self):
        self.check(b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\rb\r\n\r\n")
        self.check(b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\r\rContent-Length: 5\r\n\r\nhello")
        self.check(b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n")

    def test_nul_byte(self):
        self.check(b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\x00b\r\n\r\n")
        self.check(b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n")
        self.check(b"GET / HTTP/1.1\r\nHost: a\r\nX-F\x00oo: a\r\n\r\n")

    def test_bad_content_length_values(self):
        for v in (b"+5", b"0x5", b"5.0", b"5a", b" ", b"99999999999999999999999999"):
            with self.subTest(value=v):
                self.check(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + v +
                           b"\r\n\r\nhello", (400, 413) if len(v) > 15 else (400,))

    def test_smuggled_request_in_chunked_body_never_arrives_alone(self):
        # A well-framed chunked body that contains request bytes is just a body.
        self.web.reset_stats()
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
        r = harness.request(self.port, "POST", "/echo", body=body,
                            headers=[("Transfer-Encoding", "chunked")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_sha256"], harness.sha256(SMUGGLED))
        stats = self.web.stats()
        self.assertEqual(stats["targets"], ["/echo"], stats)

    def test_invalid_chunk_size_never_lets_a_request_through(self):
        # The head is fine, so the backend may see the POST; but the bad chunk must end the
        # exchange and the hidden request must never arrive.
        for size_line in (b"fffffffffffffffffff1", b"zz", b"-1", b"0x5", b"5 5"):
            with self.subTest(size=size_line):
                self.web.reset_stats()
                data = (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        size_line + b"\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
                with harness.Conn(self.port) as c:
                    c.send(data)
                    try:
                        resp = c.read_response(timeout=5)
                    except harness.ClosedEarly:
                        resp = None
                    if resp is not None:
                        self.assertIn(resp.status, (400, 502), resp)
                    self.assertTrue(c.wait_closed(timeout=3))
                stats = self.web.stats()
                self.assertNotIn("/smuggled", stats["targets"], stats)
                self.assertLessEqual(stats["requests"], 1, stats)

    def test_pipelined_after_content_length_body(self):
        # The body is taken by Content-Length; the bytes after it are the next request.
        self.web.reset_stats()
        with harness.Conn(self.port) as c:
            c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
                   SMUGGLED)
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual(r1.json()["body_length"], 5)
        self.assertEqual(r2.status, 200)
        self.assertEqual(self.web.stats()["targets"], ["/echo", "/smuggled"])


class RawBackend:
    """A backend on 127.0.0.1 that answers every request head with the fixed bytes `reply`
    (one write), then closes; `requests` counts the heads it read."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((harness.HOST, 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.address = "%s:%d" % self.listener.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                try:
                    while b"\r\n\r\n" not in head:
                        data = conn.recv(4096)
                        if not data:
                            break
                        head += data
                    if b"\r\n\r\n" in head:
                        self.requests += 1
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


class BareLineFeedChunkedTest(harness.ProxyTest):
    """Chunked framing lines end in CRLF (RFC 9112, 7.1). A bare LF where a CRLF belongs (after
    a chunk size, an extension or chunk data, or ending the trailer section) is refused with
    400 before anything reaches the backend: a parser downstream that reads the lines
    differently would see other chunk boundaries, and a request hidden in the body."""

    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(self.port, [self.web]))

    HEAD = (b"POST /echo HTTP/1.1\r\nHost: localhost\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")

    def check(self, data):
        """`data` (sent in one write) gets a 400 from ringway, the connection ends, and the
        backend sees nothing of it."""
        self.web.reset_stats()
        with harness.Conn(self.port) as c:
            c.send(data)
            try:
                resp = c.read_response(timeout=3)
            except (harness.ClosedEarly, harness.ReadTimeout):
                resp = None
            closed = c.wait_closed(timeout=3)
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 0, "the backend saw %r for %r" % (stats, data))
        self.assertIsNotNone(resp, "closed without a response for %r" % data)
        self.assertEqual(resp.status, 400, "for %r: %r" % (data, resp))
        self.assertShortErrorBody(resp)
        self.assertTrue(closed, "connection left open for %r" % data)

    def test_bare_lf_after_chunk_size(self):
        self.check(self.HEAD + b"5\nhello\r\n0\r\n\r\n")
        self.check(self.HEAD + b"5\r\nhello\r\n0\n\r\n")

    def test_bare_lf_after_chunk_extension(self):
        self.check(self.HEAD + b"5;ext=1\nhello\r\n0\r\n\r\n")
        self.check(self.HEAD + b"5;ext=\"q\"\nhello\r\n0\r\n\r\n")

    def test_bare_lf_after_chunk_data(self):
        self.check(self.HEAD + b"5\r\nhello\n0\r\n\r\n")

    def test_bare_lf_in_trailer_section(self):
        self.check(self.HEAD + b"5\r\nhello\r\n0\r\n\n")  # ends the trailer section
        self.check(self.HEAD + b"5\r\nhello\r\n0\r\nX-T: 1\n\r\n")  # ends a trailer field

    def test_bare_lf_framing_cannot_smuggle_a_request(self):
        data = (self.HEAD + b"5\nhello\n0\n\n" +
                b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n")
        with harness.Conn(self.port) as c:
            c.send(data)
            try:
                r = c.read_response(timeout=3)
            except (harness.ClosedEarly, harness.ReadTimeout):
                r = None
            closed = c.wait_closed(timeout=3)
        stats = self.web.stats()
        self.assertNotIn("/smuggled", stats["paths"], stats)
        self.assertEqual(stats["requests"], 0, stats)
        self.assertIsNotNone(r, "no response")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(closed, "connection left open")
        self.assertNotIn(b"HTTP/1.1", bytes(c.buf), "a second response followed the 400")

    def test_backend_response_with_bare_lf_chunk_framing_is_502(self):
        replies = [
            b"5\nhello\r\n0\r\n\r\n",      # after the chunk size
            b"5\r\nhello\n0\r\n\r\n",      # after the chunk data
            b"5\r\nhello\r\n0\n\r\n",      # after the last chunk
            b"5\r\nhello\r\n0\r\n\n",      # ending the trailer section
        ]
        for body in replies:
            with self.subTest(body=body):
                raw = RawBackend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                 body)
                self.addCleanup(raw.close)
                port = self.free_port()
                rw = self.start_ringway(harness.simple_config(port, [raw.address]))
                with socket.create_connection((harness.HOST, port), timeout=5) as c:
                    c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                              b"Connection: close\r\n\r\n")
                    got = b""
                    deadline = time.monotonic() + 5
                    while time.monotonic() < deadline:
                        try:
                            data = c.recv(65536)
                        except (ConnectionResetError, socket.timeout):
                            break
                        if not data:
                            break
                        got += data
                self.assertEqual(raw.requests, 1)
                # The whole response arrived in one read, so it is refused before its head
                # goes to the client.
                self.assertTrue(got.startswith(b"HTTP/1.1 502 "), got)
                rw.stop()


if __name__ == "__main__":
    harness.main()
