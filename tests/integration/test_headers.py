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


if __name__ == "__main__":
    harness.main()
