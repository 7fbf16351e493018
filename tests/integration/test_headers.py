"""Request header rewriting: X-Forwarded-*, hop-by-hop removal, everything else intact."""

import harness


class HeadersTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.start_ringway(harness.simple_config(self.port, [self.web]))

    def echo(self, method="GET", target="/echo", **kw):
        r = harness.request(self.port, method, target, **kw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "web")
        return r.json()

    @staticmethod
    def values(info, name):
        return [v for n, v in info["headers"] if n.lower() == name.lower()]

    def test_x_forwarded_headers_added(self):
        info = self.echo(host="shop.example:8443")
        self.assertEqual(self.values(info, "X-Forwarded-For"), ["127.0.0.1"], info)
        self.assertEqual(self.values(info, "X-Forwarded-Proto"), ["http"], info)
        self.assertEqual(self.values(info, "X-Forwarded-Host"), ["shop.example:8443"], info)

    def test_x_forwarded_for_is_appended(self):
        info = self.echo(headers=[("X-Forwarded-For", "10.0.0.1")])
        xff = ",".join(self.values(info, "X-Forwarded-For"))
        self.assertEqual([p.strip() for p in xff.split(",")], ["10.0.0.1", "127.0.0.1"], info)

        info = self.echo(headers=[("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
                                  ("X-Forwarded-For", "10.0.0.3")])
        xff = ",".join(self.values(info, "X-Forwarded-For"))
        self.assertEqual([p.strip() for p in xff.split(",")],
                         ["10.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1"], info)

    def test_client_x_forwarded_proto_not_trusted_blindly(self):
        # Whatever the client claims, the hop to ringway was plain HTTP.
        info = self.echo(headers=[("X-Forwarded-Proto", "https")])
        self.assertEqual(self.values(info, "X-Forwarded-Proto")[-1:], ["http"], info)

    def test_hop_by_hop_headers_removed(self):
        info = self.echo(headers=[
            ("Connection", "Foo, keep-alive"),
            ("Foo", "bar"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "websocket"),
            ("X-Kept", "yes"),
        ])
        names = [n.lower() for n, _ in info["headers"]]
        for gone in ("foo", "keep-alive", "te", "trailer", "proxy-connection", "upgrade"):
            self.assertNotIn(gone, names, info)
        # Ringway may send its own Connection header upstream, but never the client's tokens.
        for v in self.values(info, "Connection"):
            self.assertNotIn("foo", v.lower(), info)
        self.assertEqual(self.values(info, "X-Kept"), ["yes"], info)

    def test_connection_named_fields_removed_case_insensitively(self):
        info = self.echo(headers=[("Connection", "x-private,  X-Other"),
                                  ("X-PRIVATE", "1"), ("x-other", "2"), ("X-Public", "3")])
        names = [n.lower() for n, _ in info["headers"]]
        self.assertNotIn("x-private", names, info)
        self.assertNotIn("x-other", names, info)
        self.assertEqual(self.values(info, "X-Public"), ["3"], info)

    def test_end_to_end_headers_preserved_in_order(self):
        sent = [("X-A", "1"), ("Accept", "text/html, */*;q=0.1"), ("X-Dup", "first"),
                ("Cookie", "a=b; c=d"), ("X-Dup", "second"), ("Authorization", "Bearer t0k3n"),
                ("X-Spaces", "inner  spaces kept"), ("X-Empty", "")]
        info = self.echo(headers=sent)
        got = [(n.lower(), v) for n, v in info["headers"]
               if n.lower() in {s[0].lower() for s in sent}]
        self.assertEqual(got, [(n.lower(), v) for n, v in sent], info)

    def test_host_forwarded_once(self):
        info = self.echo(host="acme.com")
        self.assertEqual(len(self.values(info, "Host")), 1, info)
        self.assertEqual(info["version"], "HTTP/1.1")

    def test_method_and_target_preserved(self):
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            body = b"x" * 7 if method in ("POST", "PUT", "PATCH") else None
            info = self.echo(method, "/echo?m=%s&a=1&b=%%20c&d=/x/" % method.lower(), body=body)
            self.assertEqual(info["method"], method)
            self.assertEqual(info["target"], "/echo?m=%s&a=1&b=%%20c&d=/x/" % method.lower())
            self.assertEqual(info["body_length"], len(body or b""))

    def test_http10_request_forwarded(self):
        r = harness.request(self.port, "GET", "/echo", version="HTTP/1.0")
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(info["method"], "GET")
        self.assertEqual(self.values(info, "X-Forwarded-For"), ["127.0.0.1"], info)

    def test_http10_without_host_gets_one_upstream(self):
        r = harness.request(self.port, "GET", "/echo", host=None, version="HTTP/1.0")
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(self.values(info, "Host"), ["pool"], info)  # the upstream's name
        self.assertEqual(self.values(info, "X-Forwarded-Host"), [], info)

        r = harness.request(self.port, "GET", "http://origin.example:81/echo", host=None,
                            version="HTTP/1.0")
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual(info["target"], "/echo", info)
        self.assertEqual(self.values(info, "Host"), ["origin.example:81"], info)

    def test_response_headers_passed_back(self):
        r = harness.request(self.port, "GET", "/bytes?n=10")
        self.assertEqual(r.header("X-Backend"), "web")
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")
        self.assertEqual(r.header("Content-Length"), "10")


def listener_config(port, backend, **listener_keys):
    """One listener on `port` (with `listener_keys`) and one default server in front of
    `backend`."""
    doc = {"global": {"log": {"level": "info", "format": "text", "access_log": True},
                      "timeouts": {"shutdown": "5s"}},
           "listeners": [dict({"name": "main", "bind": "%s:%d" % (harness.HOST, port)},
                              **listener_keys)],
           "servers": [{"name": "site", "server_name": ["localhost"], "upstream": "pool",
                        "default": True}],
           "upstreams": [harness.upstream("pool", [backend])]}
    return harness.to_yaml(doc) + "\n"


def field(info, name):
    return [v for n, v in info["headers"] if n.lower() == name.lower()]


class AbsoluteFormTest(harness.ProxyTest):
    """Request targets (RFC 9112, 3.2): an absolute-form target names the host, which wins over
    the Host field (3.2.2); it is routed by that host and forwarded in origin form with Host
    set to it. Targets of no known form are refused; CONNECT is not offered (405)."""

    def setUp(self):
        super().setUp()
        self.a, self.b = self.start_backends("a", "b")
        self.port = self.free_port()
        servers = [{"name": "site", "server_name": ["localhost"], "upstream": "pa",
                    "default": True},
                   {"name": "other", "server_name": ["other.test"], "upstream": "pb"}]
        self.start_ringway(harness.config(
            [("main", self.port)], servers,
            [harness.upstream("pa", [self.a]), harness.upstream("pb", [self.b])]))

    def raw(self, request_line, host="localhost"):
        data = ("%s\r\nHost: %s\r\nConnection: close\r\n\r\n"
                % (request_line, host)).encode("latin-1")
        resp, _ = harness.raw_exchange(self.port, data, timeout=5)
        self.assertIsNotNone(resp, "closed without a response to %r" % request_line)
        return resp

    def assertForwardedToOther(self, request_line):
        r = self.raw(request_line)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "b", "routed by Host, not by the target: %r" % r)
        info = r.json()
        self.assertEqual(info["target"], "/echo?x=1", info)
        self.assertEqual(field(info, "Host"), ["other.test"], info)
        self.assertEqual(field(info, "X-Forwarded-Host"), ["other.test"], info)

    def assertRefused(self, request_line, status=400):
        self.a.reset_stats()
        self.b.reset_stats()
        r = self.raw(request_line)
        self.assertEqual(r.status, status, "%r: %r" % (request_line, r))
        self.assertEqual(self.a.stats()["requests"] + self.b.stats()["requests"], 0,
                         "%r reached a backend" % request_line)
        return r

    def test_absolute_form_is_forwarded_in_origin_form_with_its_host(self):
        self.assertForwardedToOther("GET http://other.test/echo?x=1 HTTP/1.1")

    def test_absolute_form_scheme_is_case_insensitive(self):
        self.assertForwardedToOther("GET HTTP://other.test/echo?x=1 HTTP/1.1")
        self.assertForwardedToOther("GET hTtP://other.test/echo?x=1 HTTP/1.1")

    def test_absolute_form_with_empty_path_becomes_slash(self):
        self.b.reset_stats()
        r = self.raw("GET http://other.test?a=1 HTTP/1.1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "b", r)
        self.assertEqual(self.b.stats()["targets"], ["/?a=1"])

    def test_absolute_form_with_userinfo_is_refused(self):
        self.assertRefused("GET http://user@other.test/echo HTTP/1.1")
        self.assertRefused("GET http://user:pw@other.test/echo HTTP/1.1")

    def test_targets_of_no_known_form_are_refused(self):
        for line in ("GET @other.test/echo HTTP/1.1", "GET x/y HTTP/1.1",
                     "GET other.test/echo HTTP/1.1"):
            with self.subTest(line=line):
                self.assertRefused(line)

    def test_connect_is_405_with_allow(self):
        r = self.assertRefused("CONNECT other.test:443 HTTP/1.1", status=405)
        self.assertTrue(r.header("Allow"), "405 without an Allow field: %r" % r)

    def test_options_asterisk_is_forwarded(self):
        # Asterisk-form (3.2.4) is valid for OPTIONS; the unfixed ringway already does this.
        self.a.reset_stats()
        r = self.raw("OPTIONS * HTTP/1.1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.a.stats()["targets"], ["*"])


class UnderscoreFieldNamesTest(harness.ProxyTest):
    """Field names with underscores are dropped by default: a backend behind a CGI-style
    gateway sees `X_Forwarded_For` and `X-Forwarded-For` as the same variable, so a client
    could forge what ringway sets. A listener with `underscores_in_headers: true` passes
    them."""

    SENT = [("X_Forwarded_For", "6.6.6.6"), ("Foo_Bar", "1"), ("X-Kept", "yes")]

    def echo(self, port):
        r = harness.request(port, "GET", "/echo", headers=self.SENT)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_underscored_field_names_are_dropped_by_default(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]))
        info = self.echo(port)
        self.assertEqual(field(info, "X_Forwarded_For"), [], info)
        self.assertEqual(field(info, "Foo_Bar"), [], info)
        self.assertEqual(field(info, "X-Forwarded-For"), ["127.0.0.1"], info)
        self.assertEqual(field(info, "X-Kept"), ["yes"], info)

    def test_listener_with_underscores_in_headers_passes_them(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(listener_config(port, web, underscores_in_headers=True))
        info = self.echo(port)
        self.assertEqual(field(info, "X_Forwarded_For"), ["6.6.6.6"], info)
        self.assertEqual(field(info, "Foo_Bar"), ["1"], info)
        self.assertEqual(field(info, "X-Forwarded-For"), ["127.0.0.1"], info)


if __name__ == "__main__":
    harness.main()
