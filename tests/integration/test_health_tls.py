"""HTTP and gRPC health checks over TLS, end to end: ringway with an upstream that has
`tls: {ca: <test CA>, server_name: backend.test}` in front of HTTPS (and gRPC over TLS)
backends run by this test, with the test certificates of test_tls.py.

Covered:

  * HTTP checks (`health_check: {path: /health}`) speak TLS: a healthy HTTPS backend stays up
    (no state change logged) and takes traffic through ringway; its /health answering 503
    takes it down with "status 503" as the logged reason, and 200 again brings it back up.
  * A backend whose certificate does not verify (the upstream expects another server_name) is
    taken down with "TLS handshake failed" as the reason, and its /health never sees a request.
  * gRPC checks over TLS (`protocol: h2`, `health_check: {type: grpc}`) against a grpcio server
    with TLS credentials (tests/backend/grpc_service.py's service, in this process): SERVING
    stays up and takes calls through ringway; NOT_SERVING takes it down with NOT_SERVING as
    the reason, and SERVING brings it back.
  * `ringway --validate` accepts HTTP checks on TLS upstreams and gRPC checks on h2 upstreams.

State is read from ringway's log (health_events: "down"/"up" lines naming the backend). Run
with /usr/bin/python3 (python3-grpcio for the gRPC part); every wait has a deadline, everything
is on 127.0.0.1.
"""

import http.server
import os
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
import test_tls

try:
    import grpc
    from concurrent import futures
    import grpc_service
except ImportError:  # pragma: no cover
    grpc = None

HOST = harness.HOST

HTTP_CHECKS = {"path": "/health", "interval": "200ms", "timeout": "180ms", "jitter": "20ms",
               "rise": 2, "fall": 2}
GRPC_CHECKS = {"type": "grpc", "interval": "200ms", "timeout": "180ms", "jitter": "20ms",
               "rise": 2, "fall": 2}
NO_PASSIVE = {"consecutive_failures": 0}


class HttpsBackend:
    """An HTTP/1.1 server over TLS (Python's ssl and http.server, a thread per connection).
    /health answers `health` (200 at first); /set?health=N changes it; any other path answers
    200 "hello from NAME" with X-Backend: NAME. Counts /health requests."""

    def __init__(self, name, certfile, keyfile):
        self.name = name
        self.health = 200
        self.health_checks = 0
        self.handshake_errors = 0
        self.lock = threading.Lock()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/health":
                    with backend.lock:
                        backend.health_checks += 1
                        code = backend.health
                    body = b"health %d\n" % code
                elif url.path == "/set":
                    q = urllib.parse.parse_qs(url.query)
                    with backend.lock:
                        backend.health = int(q["health"][0])
                    code, body = 200, b"ok\n"
                else:
                    code, body = 200, b"hello from %s\n" % backend.name.encode()
                self.send_response(code)
                self.send_header("X-Backend", backend.name)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                with backend.lock:
                    backend.handshake_errors += 1

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        self.server = Server((HOST, 0), Handler)
        # The handshake happens in the connection's thread, not in the accept loop.
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                             do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.address = "%s:%d" % (HOST, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def set_health(self, code):
        with self.lock:
            self.health = code

    def checks(self):
        with self.lock:
            return self.health_checks

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class HealthTlsTest(harness.ProxyTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = test_tls.certs()

    def https_backend(self, name):
        b = HttpsBackend(name, self.certs.pem("backend"), self.certs.key("backend"))
        self.addCleanup(b.close)
        return b

    def upstream_tls(self, server_name="backend.test"):
        return {"ca": self.certs.pem("ca"), "server_name": server_name}

    def proxy(self, upstreams):
        self.port = self.free_port()
        doc = {
            "global": {"log": {"level": "info", "format": "text", "access_log": True},
                       "timeouts": {"shutdown": "5s"}},
            "listeners": [{"name": "plain", "bind": "%s:%d" % (HOST, self.port)}],
            "servers": [{"name": "site", "server_name": ["a.test"],
                         "upstream": upstreams[0]["name"], "default": True}],
            "upstreams": upstreams,
        }
        self.rw = self.start_ringway(harness.to_yaml(doc) + "\n")
        return self.rw

    def state_lines(self, address, state):
        return [line for line in self.rw.log_lines(address, "health:")
                if (" is %s:" % state) in line]

    # -- HTTP checks ---------------------------------------------------------------------------

    def test_http_check_over_tls_follows_the_backend(self):
        b = self.https_backend("tls1")
        rw = self.proxy([harness.upstream("web", [b.address], tls=self.upstream_tls(),
                                          health_check=HTTP_CHECKS,
                                          passive_health=NO_PASSIVE)])
        self.assertTrue(harness.wait_for(lambda: b.checks() >= 4, 10), b.checks())
        self.assertEqual(rw.health_events(b.address), [], rw.log_lines(b.address))
        r = harness.request(self.port, "GET", "/x", host="a.test")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "tls1")

        b.set_health(503)
        n = rw.wait_health_event(b.address, "down", timeout=10)
        lines = self.state_lines(b.address, "down")
        self.assertTrue(lines, rw.log_lines(b.address))
        self.assertIn("status 503", lines[0])
        r = harness.request(self.port, "GET", "/x", host="a.test")
        self.assertEqual(r.status, 503, r)

        b.set_health(200)
        rw.wait_health_event(b.address, "up", after=n, timeout=10)
        self.assertIn("status 200", self.state_lines(b.address, "up")[-1])
        r = harness.request(self.port, "GET", "/x", host="a.test")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("X-Backend"), "tls1")

    def test_certificate_that_does_not_verify_is_down_with_a_tls_reason(self):
        good = self.https_backend("good")
        bad = self.https_backend("bad")
        rw = self.proxy([
            harness.upstream("web", [good.address], tls=self.upstream_tls(),
                             health_check=HTTP_CHECKS, passive_health=NO_PASSIVE),
            harness.upstream("wrong", [bad.address], tls=self.upstream_tls("other.test"),
                             health_check=HTTP_CHECKS, passive_health=NO_PASSIVE),
        ])
        rw.wait_health_event(bad.address, "down", timeout=10)
        lines = self.state_lines(bad.address, "down")
        self.assertTrue(lines, rw.log_lines(bad.address))
        self.assertIn("TLS handshake failed", lines[0])
        self.assertTrue(harness.wait_for(lambda: good.checks() >= 3, 10), good.checks())
        self.assertEqual(bad.checks(), 0)
        self.assertEqual(rw.health_events(good.address), [])

    def test_validate_accepts_checks_over_tls(self):
        bin_ = harness.ringway_binary()
        if not bin_:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
        text = """global: {port: 8080}
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    tls: {server_name: backend.test}
    health_check: {path: /health}
  - name: g
    protocol: h2
    tls: true
    servers: ["127.0.0.1:50051"]
    health_check: {type: grpc, service: my.pkg.Svc}
"""
        with tempfile.TemporaryDirectory(prefix="ringway-it-") as d:
            path = os.path.join(d, "ringway.yaml")
            with open(path, "w") as f:
                f.write(text)
            res = subprocess.run([bin_, "--config", path, "--validate"], capture_output=True,
                                 timeout=15)
        self.assertEqual(res.returncode, 0, res.stderr.decode("utf-8", "replace"))

    # -- gRPC checks ---------------------------------------------------------------------------

    def grpc_tls_service(self, name):
        """grpc_service.py's service on a free port with TLS (backend.test); returns
        (service, address)."""
        if grpc is None:
            raise unittest.SkipTest("python3-grpcio is not importable (run with /usr/bin/python3)")
        svc = grpc_service.Service(name)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                             handlers=svc.handlers(), options=[("grpc.so_reuseport", 0)])
        with open(self.certs.key("backend"), "rb") as f:
            key = f.read()
        with open(self.certs.pem("backend"), "rb") as f:
            cert = f.read()
        port = server.add_secure_port("%s:0" % HOST,
                                      grpc.ssl_server_credentials([(key, cert)]))
        self.assertTrue(port)
        server.start()
        # Stopped whole before the next test: grpcio aborts the process ("assertion failed:
        # state_ == State::kRunning", thread_pool.cc) when its pool is still shutting down as
        # the next test forks its processes.
        self.addCleanup(lambda: server.stop(0).wait(10))
        return svc, "%s:%d" % (HOST, port)

    def test_grpc_check_over_tls_follows_the_serving_status(self):
        svc, address = self.grpc_tls_service("gt1")
        rw = self.proxy([harness.upstream("grpc", [address], protocol="h2",
                                          tls=self.upstream_tls(), health_check=GRPC_CHECKS,
                                          passive_health=NO_PASSIVE)])
        # Calls through ringway (h2c listener) reach it over TLS.
        ch = grpc.insecure_channel("%s:%d" % (HOST, self.port),
                                   options=[("grpc.enable_http_proxy", 0)])
        self.addCleanup(ch.close)
        resp, call = ch.unary_unary("/test.Echo/Unary").with_call(b"ping", timeout=5)
        self.assertEqual(resp, b"ping")
        self.assertEqual(dict(call.initial_metadata()).get("x-backend"), "gt1")
        time.sleep(1.0)  # five checks or more
        self.assertEqual(rw.health_events(address), [], rw.log_lines(address))

        svc.serving = False
        n = rw.wait_health_event(address, "down", timeout=10)
        self.assertIn("NOT_SERVING", self.state_lines(address, "down")[0])
        svc.serving = True
        rw.wait_health_event(address, "up", after=n, timeout=10)
        self.assertIn("SERVING", self.state_lines(address, "up")[-1])


if __name__ == "__main__":
    harness.main()
