"""Keep-alive on both sides, and pipelining."""

import socket
import time

import harness


class KeepAliveTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()

    def start(self, **kw):
        return self.start_ringway(harness.simple_config(self.port, [self.web], **kw), workers=1)

    def test_upstream_connections_are_reused(self):
        self.start()
        self.web.reset_stats()
        c = self.conn(self.port)
        for i in range(50):
            r = c.roundtrip("GET", "/echo?i=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?i=%d" % i)
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 50, stats)
        self.assertLessEqual(stats["connections"], 2, stats)

    def test_upstream_pool_shared_by_client_connections(self):
        self.start()
        self.web.reset_stats()
        for i in range(30):
            r = harness.request(self.port, "GET", "/?i=%d" % i)
            self.assertEqual(r.status, 200, r)
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 30, stats)
        self.assertLessEqual(stats["connections"], 3, stats)

    def test_upstream_keepalive_zero_disables_pool(self):
        self.start(keepalive=0)
        self.web.reset_stats()
        c = self.conn(self.port)
        for i in range(10):
            r = c.roundtrip("GET", "/")
            self.assertEqual(r.status, 200, r)
        stats = self.web.stats()
        self.assertEqual(stats["requests"], 10, stats)
        self.assertEqual(stats["connections"], 10, stats)

    def test_backend_closing_is_not_reused(self):
        # Every other response says Connection: close and the backend closes; ringway must not
        # send the next request on that connection.
        self.start()
        c = self.conn(self.port)
        for i in range(10):
            r = c.roundtrip("GET", "/echo?close=%d" % (i % 2))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?close=%d" % (i % 2))

    def test_pooled_connection_closed_by_backend_while_idle(self):
        # This backend closes keep-alive connections idle for 100 ms, without any notice in
        # the response. A pooled connection it closed must not be used for the next request.
        idle = self.start_backend("idle", extra_args=["--idle-ms", "100"])
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [idle]), workers=1)
        c = self.conn(port)
        for i in range(4):
            r = c.roundtrip("GET", "/echo?i=%d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("X-Backend"), "idle")
            time.sleep(0.3)
        # Two requests a moment apart still share an upstream connection.
        idle.reset_stats()
        for i in range(2):
            self.assertEqual(c.roundtrip("GET", "/").status, 200)
        self.assertEqual(idle.stats()["connections"], 1)

    def test_request_on_a_connection_the_backend_just_closed_is_retried(self):
        # The backend closes every connection, unanswered, when its 2nd request arrives: the
        # 2nd request meets a pooled connection that dies before any response byte. A request
        # without a body is retried once, on a fresh connection, so the client sees no error.
        flaky = self.start_backend("flaky", extra_args=["--drop-nth", "2"])
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [flaky]), workers=1)
        c = self.conn(port)
        for i in range(6):
            r = c.roundtrip("GET", "/echo?i=%d" % i)
            self.assertEqual(r.status, 200, r)
        # Requests 2, 4 and 6 each needed a second connection.
        self.assertGreaterEqual(flaky.stats()["accepted"], 4)

    def test_request_with_body_is_not_retried(self):
        flaky = self.start_backend("flaky", extra_args=["--drop-nth", "2"])
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [flaky]), workers=1)
        c = self.conn(port)
        self.assertEqual(c.roundtrip("POST", "/sink", body=b"one").status, 200)
        r = c.roundtrip("POST", "/sink", body=b"two")
        self.assertEqual(r.status, 502, r)

    def test_upgrade_becomes_a_tunnel(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]), workers=1)
        with harness.Conn(port) as c:
            c.send(b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
                   b"Upgrade: echo-proto\r\n\r\n")
            r = c.read_response(timeout=5)
            self.assertEqual(r.status, 101, r)
            self.assertEqual(r.header("Upgrade"), "echo-proto")
            self.assertTrue(r.has_token("Connection", "upgrade"), r)
            for msg in (b"ping", b"\x00\x01 binary \xff", b"x" * 100000):
                c.send(msg)
                got = c._read_exact(len(msg), time.monotonic() + 5)
                self.assertEqual(bytes(got), msg)

    def test_upgrade_header_without_connection_upgrade_is_dropped(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]), workers=1)
        r = harness.request(port, "GET", "/upgrade", headers=[("Upgrade", "echo-proto")])
        self.assertEqual(r.status, 426, r)  # the backend never saw the Upgrade field

    def test_client_keepalive_http11_default(self):
        self.start()
        c = self.conn(self.port)
        for i in range(5):
            r = c.roundtrip("GET", "/echo")
            self.assertEqual(r.status, 200, r)
            self.assertFalse(r.has_token("Connection", "close"), r)
        self.assertFalse(c.wait_closed(timeout=0.3))

    def test_client_connection_close(self):
        self.start()
        c = self.conn(self.port)
        r = c.roundtrip("GET", "/", headers=[("Connection", "close")])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.has_token("Connection", "close"), r)
        self.assertTrue(c.wait_closed(timeout=3), "connection stayed open after Connection: close")

    def test_http10_closes_by_default(self):
        self.start()
        c = self.conn(self.port)
        r = c.roundtrip("GET", "/", version="HTTP/1.0")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"hello from web\n")
        self.assertTrue(c.wait_closed(timeout=3), "HTTP/1.0 connection stayed open")

    def test_http10_keepalive(self):
        self.start()
        c = self.conn(self.port)
        for _ in range(3):
            r = c.roundtrip("GET", "/", version="HTTP/1.0",
                            headers=[("Connection", "keep-alive")])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"hello from web\n")

    def test_pipelined_requests_answered_in_order(self):
        self.start()
        c = self.conn(self.port)
        c.send(harness.build_request("GET", "/echo?n=1") +
               harness.build_request("POST", "/echo?n=2", body=b"abc") +
               harness.build_request("GET", "/echo?n=3"))
        targets = []
        for _ in range(3):
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            targets.append(r.json()["target"])
        self.assertEqual(targets, ["/echo?n=1", "/echo?n=2", "/echo?n=3"])

    def test_pipelined_slow_first(self):
        # The first response is the slowest; the order must still hold.
        self.start()
        c = self.conn(self.port)
        c.send(harness.build_request("GET", "/slow?ms=300") +
               harness.build_request("GET", "/bytes?n=100000") +
               harness.build_request("HEAD", "/bytes?n=5") +
               harness.build_request("GET", "/status/204") +
               harness.build_request("GET", "/chunked?n=5000&size=100"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"slow 300 from web\n"))
        r = c.read_response()
        self.assertEqual(r.body, harness.pattern(100000))
        r = c.read_response("HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (204, b""))
        r = c.read_response()
        self.assertEqual(r.body, harness.pattern(5000))
        self.assertFalse(c.wait_closed(timeout=0.2))


class HalfCloseTest(harness.ProxyTest):
    """A client that sends its requests and then shuts down its sending side (what
    `printf ... | nc -N` and many scripts do) still gets every response to what it sent, and
    then ringway closes. The end of the client's stream ends its requests, not its responses.
    (The backend holds each response back a little, with pause_ms, so that the end of the
    client's stream always arrives first.)"""

    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(self.port, [self.web]), workers=1)

    def send_then_shut(self, data):
        c = self.conn(self.port)
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)
        return c

    def read(self, c, what):
        try:
            return c.read_response(timeout=5)
        except harness.ClosedEarly:
            self.fail("closed without a response to %s sent before SHUT_WR" % what)

    def test_requests_answered_by_ringway_in_a_pipeline_after_shut_wr_keep_the_rest(self):
        """Pipelined requests after SHUT_WR, one of them answered by ringway itself while the
        rest wait: every one is answered, in order."""
        port = self.free_port()  # a second ringway, with a redirecting server beside
        cfg = harness.config(
            [("main", port)],
            [{"name": "site", "server_name": ["localhost"], "upstream": "pool", "default": True},
             {"name": "redir", "server_name": ["r.example"], "upstream": "pool",
              "redirect_https": True}],
            [harness.upstream("pool", [self.web])])
        self.start_ringway(cfg)
        c = self.conn(port)
        c.send(harness.build_request("GET", "/echo?pause_ms=300") +
               harness.build_request("GET", "/a", host="r.example") +
               harness.build_request("GET", "/echo"))
        c.sock.shutdown(socket.SHUT_WR)
        statuses = [self.read(c, "request %d" % i).status for i in range(3)]
        self.assertEqual(statuses, [200, 301, 200])
        self.assertTrue(c.wait_closed(timeout=3), "connection left open after the responses")

    def test_request_then_shut_wr_gets_its_response_then_close(self):
        c = self.send_then_shut(harness.build_request("GET", "/echo?pause_ms=200"))
        r = self.read(c, "a GET")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo?pause_ms=200")
        self.assertTrue(c.wait_closed(timeout=3), "connection left open after the response")

    def test_pipelined_requests_then_shut_wr_get_every_response(self):
        sent = ["/echo?n=%d&pause_ms=100" % i for i in range(3)]
        c = self.send_then_shut(b"".join(harness.build_request("GET", t) for t in sent))
        targets = []
        for i in range(3):
            r = self.read(c, "pipelined request %d of 3" % (i + 1))
            self.assertEqual(r.status, 200, r)
            targets.append(r.json()["target"])
        self.assertEqual(targets, sent)
        self.assertTrue(c.wait_closed(timeout=3), "connection left open after the responses")

    def test_body_complete_then_shut_wr_gets_its_response(self):
        c = self.send_then_shut(harness.build_request("POST", "/echo?pause_ms=200",
                                                      body=b"x" * 5000))
        r = self.read(c, "a POST with its whole body")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_length"], 5000)
        self.assertTrue(c.wait_closed(timeout=3))

    def test_malformed_request_then_shut_wr_gets_400(self):
        bad = b"GET / HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\n\r\n"
        c = self.send_then_shut(bad)
        r = self.read(c, "a malformed request")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(c.wait_closed(timeout=3))
        # Behind a good request, whose response is still on its way when the end comes.
        c = self.send_then_shut(harness.build_request("GET", "/slow?ms=200") + bad)
        r = self.read(c, "a good request followed by a malformed one")
        self.assertEqual(r.status, 200, r)
        r = self.read(c, "a malformed request behind a good one")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(c.wait_closed(timeout=3))
        self.assertEqual(self.web.stats()["paths"], {"/slow": 1})

    def test_incomplete_head_then_shut_wr_gets_400_and_close(self):
        # The head can never be completed now: answer it at once, not at client_header.
        c = self.send_then_shut(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Partial: ye")
        r = self.read(c, "an incomplete head")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.has_token("Connection", "close"), r)
        self.assertTrue(c.wait_closed(timeout=3))
        self.assertEqual(self.web.stats()["requests"], 0)


class StaleConnectionRetryTest(harness.ProxyTest):
    """A pooled connection the backend closes just as a request arrives (the keep-alive race):
    only idempotent requests are replayed on a fresh connection (RFC 9110, 9.2.2). A POST
    without a body may already have been acted on, so it goes to the backend once and the
    client gets 502."""

    def setUp(self):
        super().setUp()
        # Each backend connection reads its 2nd request and closes without answering.
        self.flaky = self.start_backend("flaky", extra_args=["--drop-nth", "2"])
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(self.port, [self.flaky]), workers=1)

    def on_stale_connection(self, method, target, body=None):
        """Sends `method target` so that it meets a pooled connection that dies unanswered:
        a GET first leaves a connection in the pool (its 1st request), this is its 2nd."""
        with harness.Conn(self.port) as c:
            r = c.roundtrip("GET", "/warm")
            self.assertEqual(r.status, 200, r)
            self.flaky.reset_stats()
            return c.roundtrip(method, target, body=body)

    def test_bodiless_post_on_a_stale_connection_is_sent_once(self):
        for body in (None, b""):  # no framing at all, and Content-Length: 0
            with self.subTest(body=body):
                r = self.on_stale_connection("POST", "/post-once", body=body)
                self.assertEqual(self.flaky.served("/post-once"), 1,
                                 "the POST reached the backend %d times"
                                 % self.flaky.served("/post-once"))
                self.assertEqual(r.status, 502, r)

    def test_patch_on_a_stale_connection_is_sent_once(self):
        r = self.on_stale_connection("PATCH", "/patch-once")
        self.assertEqual(self.flaky.served("/patch-once"), 1,
                         "the PATCH reached the backend %d times"
                         % self.flaky.served("/patch-once"))
        self.assertEqual(r.status, 502, r)

    def test_get_on_a_stale_connection_is_still_retried(self):
        # The fresh connection answers its 1st request: the client sees no error.
        r = self.on_stale_connection("GET", "/get-twice")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.flaky.served("/get-twice"), 2)


if __name__ == "__main__":
    harness.main()
