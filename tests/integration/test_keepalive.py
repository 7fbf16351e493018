"""Keep-alive on both sides, and pipelining."""

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


if __name__ == "__main__":
    harness.main()
