"""Routing: by Host (exact, wildcard, case, port), by path prefix (longest wins), default
server, listener server sets, and 404 when nothing matches and there is no default."""

import harness


class RoutingTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web, self.api, self.v2, self.wild, self.fallback = self.start_backends(
            "web", "api", "v2", "wild", "fallback")
        self.port = self.free_port()
        self.port2 = self.free_port()
        servers = [
            {"name": "site", "server_name": ["acme.com", "www.acme.com"], "upstream": "web",
             "routes": [{"path": "/api/", "upstream": "api"},
                        {"path": "/api/v2/", "upstream": "v2"}]},
            {"name": "wild", "server_name": ["*.wild.test"], "upstream": "wild"},
            {"name": "fallback", "server_name": ["fallback.test"], "upstream": "fallback",
             "default": True},
        ]
        upstreams = [harness.upstream(n, [b]) for n, b in
                     (("web", self.web), ("api", self.api), ("v2", self.v2),
                      ("wild", self.wild), ("fallback", self.fallback))]
        cfg = harness.config([("main", self.port), ("side", self.port2, ["fallback"])],
                             servers, upstreams)
        self.rw = self.start_ringway(cfg)

    def backend_for(self, host, target="/", port=None):
        r = harness.request(port or self.port, "GET", target, host=host)
        self.assertEqual(r.status, 200, r)
        return r.header("X-Backend")

    def test_exact_host(self):
        self.assertEqual(self.backend_for("acme.com"), "web")
        self.assertEqual(self.backend_for("www.acme.com"), "web")

    def test_host_is_case_insensitive(self):
        self.assertEqual(self.backend_for("ACME.com"), "web")
        self.assertEqual(self.backend_for("WWW.ACME.COM"), "web")
        self.assertEqual(self.backend_for("Foo.Wild.TEST"), "wild")

    def test_host_port_is_ignored(self):
        self.assertEqual(self.backend_for("acme.com:%d" % self.port), "web")
        self.assertEqual(self.backend_for("acme.com:8080"), "web")
        self.assertEqual(self.backend_for("foo.wild.test:1"), "wild")

    def test_wildcard(self):
        self.assertEqual(self.backend_for("foo.wild.test"), "wild")
        self.assertEqual(self.backend_for("bar.wild.test"), "wild")
        # A suffix that is not on a label boundary does not match.
        self.assertEqual(self.backend_for("foowild.test"), "fallback")

    def test_default_server_takes_unknown_hosts(self):
        self.assertEqual(self.backend_for("unknown.example"), "fallback")
        self.assertEqual(self.backend_for("fallback.test"), "fallback")
        self.assertEqual(self.backend_for("acme.com.evil"), "fallback")

    def test_path_prefix_longest_wins(self):
        self.assertEqual(self.backend_for("acme.com", "/api/users"), "api")
        self.assertEqual(self.backend_for("acme.com", "/api/"), "api")
        self.assertEqual(self.backend_for("acme.com", "/api/v2/users"), "v2")
        self.assertEqual(self.backend_for("acme.com", "/api/v2/"), "v2")
        self.assertEqual(self.backend_for("acme.com", "/api/v2"), "api")
        self.assertEqual(self.backend_for("acme.com", "/api/x?y=/api/v2/"), "api")
        self.assertEqual(self.backend_for("acme.com", "/api?x"), "web")
        self.assertEqual(self.backend_for("acme.com", "/apix"), "web")
        self.assertEqual(self.backend_for("acme.com", "/"), "web")
        self.assertEqual(self.backend_for("acme.com", "/other/api/"), "web")

    def test_routes_belong_to_their_server(self):
        # The /api/ route is the acme.com server's; other hosts do not use it.
        self.assertEqual(self.backend_for("foo.wild.test", "/api/users"), "wild")
        self.assertEqual(self.backend_for("unknown.example", "/api/v2/x"), "fallback")

    def test_target_reaches_backend_unchanged(self):
        r = harness.request(self.port, "GET", "/api/v2/echo?q=1&r=%20x", host="acme.com")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "v2")
        r = harness.request(self.port, "GET", "/echo?a=b", host="acme.com")
        self.assertEqual(r.json()["target"], "/echo?a=b")

    def test_listener_server_set(self):
        # The side listener only knows the fallback server, so acme.com goes there too.
        self.assertEqual(self.backend_for("acme.com", port=self.port2), "fallback")
        self.assertEqual(self.backend_for("foo.wild.test", port=self.port2), "fallback")

    def test_routing_per_request_on_one_connection(self):
        c = self.conn(self.port)
        seen = []
        for host, target in (("acme.com", "/"), ("foo.wild.test", "/"), ("acme.com", "/api/x"),
                             ("nope.test", "/"), ("acme.com", "/api/v2/x")):
            r = c.roundtrip("GET", target, host=host)
            self.assertEqual(r.status, 200, r)
            seen.append(r.header("X-Backend"))
        self.assertEqual(seen, ["web", "wild", "api", "fallback", "v2"])


class NoDefaultServerTest(harness.ProxyTest):
    def test_unknown_host_is_404(self):
        web = self.start_backend("web")
        port = self.free_port()
        cfg = harness.config([("main", port)],
                             [{"name": "site", "server_name": ["acme.com"], "upstream": "web"}],
                             [harness.upstream("web", [web])])
        self.start_ringway(cfg)
        r = harness.request(port, "GET", "/", host="acme.com")
        self.assertEqual(r.status, 200, r)
        web.reset_stats()
        c = self.conn(port)
        r = c.roundtrip("GET", "/", host="other.test")
        self.assertEqual(r.status, 404, r)
        self.assertShortErrorBody(r)
        self.assertIsNone(r.header("X-Backend"))
        # A 404 leaves the connection usable.
        r = c.roundtrip("GET", "/", host="acme.com")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(web.stats()["requests"], 1)


if __name__ == "__main__":
    harness.main()
