"""Timeouts: client head (408), client body, keep-alive idle, upstream response (504)."""

import select
import time

import harness


class TimeoutsTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(
            self.port, [self.web],
            timeouts={"client_header": "500ms", "client_body": "500ms", "keepalive": "500ms",
                      "upstream_connect": "1s", "upstream_response": "500ms"}))

    def closed_after(self, c, limit=5):
        """Seconds until the peer closes, or fails after `limit` seconds."""
        start = time.monotonic()
        self.assertTrue(c.wait_closed(timeout=limit), "connection still open after %ss" % limit)
        return time.monotonic() - start

    def test_keepalive_idle_connection_closed(self):
        c = self.conn(self.port)
        self.assertEqual(c.roundtrip("GET", "/").status, 200)
        waited = self.closed_after(c)
        self.assertGreater(waited, 0.3)
        self.assertLess(waited, 2.5)

    def test_keepalive_timer_restarts_per_request(self):
        c = self.conn(self.port)
        for _ in range(4):
            self.assertEqual(c.roundtrip("GET", "/").status, 200)
            time.sleep(0.3)  # under the 500 ms keep-alive timeout each time
        self.assertEqual(c.roundtrip("GET", "/").status, 200)
        waited = self.closed_after(c)
        self.assertGreater(waited, 0.3)
        self.assertLess(waited, 2.5)

    def test_partial_head_gets_408_then_close(self):
        c = self.conn(self.port)
        start = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Partial: yes")
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - start
        self.assertEqual(r.status, 408, r)
        self.assertShortErrorBody(r)
        self.assertGreater(elapsed, 0.3)
        self.assertLess(elapsed, 2.5)
        self.assertTrue(c.wait_closed(timeout=2))
        self.assertEqual(self.web.stats()["requests"], 0)

    def test_head_dribbled_slowly_gets_408(self):
        # One byte every 50 ms: every read is prompt, but the head as a whole is late.
        c = self.conn(self.port)
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        start = time.monotonic()
        answered = False
        while time.monotonic() - start < 4:
            r, _, _ = select.select([c.sock], [], [], 0.05)
            if r:
                answered = True
                break
            try:
                c.send(b"a")
            except OSError:
                answered = True
                break
        self.assertTrue(answered, "no answer to a head dribbled for 4 s")
        self.assertLess(time.monotonic() - start, 2.5)
        r = c.read_response(timeout=2)
        self.assertEqual(r.status, 408, r)
        self.assertTrue(c.wait_closed(timeout=2))

    def test_silent_new_connection_closed(self):
        # No bytes at all: closed (with or without a 408) once client_header expires.
        c = self.conn(self.port)
        waited = self.closed_after(c)
        self.assertLess(waited, 2.5)
        if c.buf:
            self.assertTrue(bytes(c.buf).startswith(b"HTTP/1.1 408"), bytes(c.buf))

    def test_stalled_request_body(self):
        c = self.conn(self.port)
        c.send(harness.build_request("POST", "/sink", headers=[("Content-Length", "100")]) +
               b"0123456789")
        waited = self.closed_after(c)
        self.assertLess(waited, 2.5)
        if c.buf:
            self.assertTrue(bytes(c.buf).startswith(b"HTTP/1.1 408"), bytes(c.buf))

    def test_upstream_response_timeout_is_504(self):
        start = time.monotonic()
        r = harness.request(self.port, "GET", "/slow?ms=3000", timeout=10)
        elapsed = time.monotonic() - start
        self.assertEqual(r.status, 504, r)
        self.assertShortErrorBody(r)
        self.assertGreater(elapsed, 0.3)
        self.assertLess(elapsed, 2.5)
        # The upstream connection left waiting is not reused for the next request.
        for _ in range(3):
            r = harness.request(self.port, "GET", "/echo")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo")

    def test_response_under_timeout_is_fine(self):
        r = harness.request(self.port, "GET", "/slow?ms=200")
        self.assertEqual((r.status, r.body), (200, b"slow 200 from web\n"))
        r = harness.request(self.port, "GET", "/slow-body?ms=200")
        self.assertEqual((r.status, r.body), (200, b"slow body from web\n"))

    def test_upstream_stalls_mid_response(self):
        # The head arrived, then the body is late: the response cannot become a 504 any more,
        # so the client connection ends with the response incomplete.
        c = self.conn(self.port)
        start = time.monotonic()
        c.request("GET", "/slow-body?ms=3000")
        try:
            r = c.read_response(timeout=5)
        except harness.ClosedEarly:
            r = None
        if r is not None and r.status != 504:
            self.assertEqual(r.status, 200, r)
            self.assertFalse(r.complete, r)
        self.assertTrue(c.wait_closed(timeout=3))
        self.assertLess(time.monotonic() - start, 2.5)


if __name__ == "__main__":
    harness.main()
