"""HTTP/2 to backends: upstreams with `protocol: h2c` (cleartext, prior knowledge) and
`protocol: h2` (TLS, ALPN "h2"), in front of tests/backend/h2_backend.py and of nghttpd.

Covered, against the real binary and real clients (curl, h2load, python3-h2, the harness's
HTTP/1.1 client):

  * HTTP/1.1 and HTTP/2 clients reach an h2c backend: each request one stream, spoken in
    HTTP/2 (the backend answers HTTP/1.1 with 505 and counts it: none may come), no
    connection-specific fields (the backend's python3-h2 validates every head it receives).
  * Bodies with and without content-length both ways; trailers both ways (request trailers
    from HTTP/2 and chunked HTTP/1.1 clients reach the backend; response trailers reach
    HTTP/2 clients and chunked HTTP/1.1 clients).
  * Pooling: 1,000 concurrent streams from 20 h2load connections (once a first request has
    brought the backend's SETTINGS), and 60 HTTP/1.1 clients at once, over at most 4 backend
    connections (1 worker); the backend's SETTINGS_MAX_CONCURRENT_STREAMS respected.
  * Flow control: a client that stops reading one response does not stall the other streams
    on the shared backend connection; a backend that stops reading one upload neither; 100 MB
    up and 100 MB down (HTTP/1.1 and HTTP/2 clients) with sha256 checks and bounded memory.
  * GOAWAY from the backend: the streams it covers finish on the old connection, the ones
    above its last-stream-id (POSTs included, with and without bodies; 3 or 25 of them) are
    retried on a new connection or on another backend, and no request runs twice; a GOAWAY
    after a response moves later requests to a new connection.
  * RST_STREAM from the backend: before the response, 502 (HTTP/1.1) or 502/RST_STREAM
    (HTTP/2); mid-body, the HTTP/1.1 client's connection is cut short of the length and the
    HTTP/2 client gets RST_STREAM while its other streams go on. A backend connection that
    just ends mid-response does the same.
  * Clients that go away: an HTTP/2 client's RST_STREAM (waiting, mid-download, mid-upload)
    and an HTTP/1.1 client's close (mid-response, and while waiting for the head) reach the
    backend as RST_STREAM CANCEL, and the pooled connection lives on.
  * `protocol: h2` over TLS, verified, ALPN h2; a backend that does not agree on h2 is 502, and
    is never spoken to in HTTP/1.1.
  * nghttpd (nghttp2's server) as the backend, cleartext and TLS: files, 404s, uploads echoed,
    response trailers, h2load through ringway over few connections.

The backend's counters come from its /stats over HTTP/1.1 (h2_backend.py answers its control
paths on connections that do not start with the HTTP/2 preface), so reading them adds no HTTP/2
connection. Health checks and passive health are off in these configs: every request reaches
the backend whatever an earlier one did. Run with /usr/bin/python3 (Debian's python3-h2);
every wait has a deadline, everything is on 127.0.0.1.
"""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import harness
import test_http2
import test_tls
from test_http2 import H2Client, field, need, need_h2, pattern_sha

HOST = harness.HOST
MiB = harness.MiB
BIG = 100 * MiB
H2_BACKEND_PY = os.path.join(harness.BACKEND_DIR, "h2_backend.py")
RSS_GROWTH_LIMIT_KB = test_http2.RSS_GROWTH_LIMIT_KB

CANCEL = 0x8
REFUSED_STREAM = 0x7
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")

# Health checks and passive health off: each request finds the backend as it is.
NO_HEALTH = {"health_check": {"enabled": False}, "passive_health": {"consecutive_failures": 0}}


def text(b):
    return b.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# The HTTP/2 backend process


class H2Backend:
    """One h2_backend.py process on 127.0.0.1 (a free port, or `port`). With `certs` (test_tls
    certificates) it speaks TLS with the backend.test certificate. Looks like harness.Backend
    to ProxyTest's cleanup (name, logs(), stop())."""

    def __init__(self, name, workdir, extra_args=(), certs=None, port=None, timeout=15):
        self.name = name
        self.certs = certs
        self.out_path = os.path.join(workdir, "h2backend-%s.out" % name)
        self.err_path = os.path.join(workdir, "h2backend-%s.err" % name)
        args = [sys.executable, H2_BACKEND_PY, "--name", name,
                "--listen", "%s:%d" % (HOST, port or 0)]
        if certs is not None:
            args += ["--tls", certs.pem("backend"), certs.key("backend")]
        args += list(extra_args)
        self.args = args
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = harness.spawn(args, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        self.port = None
        while time.monotonic() < deadline:
            m = re.search(r"listening on [0-9.]+:(\d+)", harness.read_file(self.out_path))
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            harness.kill_proc(self.proc)
            raise AssertionError("h2 backend %s did not start:\n%s"
                                 % (name, harness.tail(self.err_path)))

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def control(self, target, timeout=10):
        """A control request (/stats, /set, /reset-stats) over HTTP/1.1 (TLS without ALPN
        for a TLS backend)."""
        if self.certs is not None:
            with test_tls.TlsConn(self.port, host="backend.test",
                                  cafile=self.certs.pem("ca"), timeout=timeout) as c:
                r = c.roundtrip("GET", target, host="backend.test", timeout=timeout)
        else:
            r = harness.request(self.port, "GET", target, timeout=timeout)
        assert r.status == 200, r
        return r

    def stats(self):
        return self.control("/stats").json()

    def reset_stats(self):
        self.control("/reset-stats")

    def set(self, **settings):
        query = "&".join("%s=%d" % (k, int(v)) for k, v in sorted(settings.items()))
        return self.control("/set?" + query).json()

    def wait_stats(self, predicate, timeout=10, what="the condition"):
        """Polls /stats until predicate(stats) holds; returns those stats."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if predicate(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError("backend %s: no %s within %ss; stats %s"
                                     % (self.name, what, timeout, brief(s)))
            time.sleep(0.05)

    def stop(self):
        harness.kill_proc(self.proc)

    def running(self):
        return self.proc.poll() is None

    def logs(self):
        return "--- h2 backend %s stderr ---\n%s" % (self.name, harness.tail(self.err_path, 3000))


def brief(stats):
    """Stats without the long lists, for messages."""
    s = dict(stats)
    for k in ("targets", "log"):
        if k in s:
            s[k] = s[k][-10:]
    return json.dumps(s)


def settle(client, seconds):
    """Lets an H2Client read and answer frames for `seconds`."""
    try:
        client.pump(lambda: False, seconds)
    except AssertionError:
        pass


def h2_upstream(name, addresses, protocol="h2c", **options):
    opts = dict(NO_HEALTH)
    opts.update(options)
    return harness.upstream(name, list(addresses), protocol=protocol, **opts)


def tls_block(certs):
    return {"ca": certs.pem("ca"), "server_name": "backend.test"}


# ---------------------------------------------------------------------------------------------
# Test base


class H2UpstreamTest(harness.ProxyTest):
    def h2_backend(self, name="h2", args=(), tls=False, port=None):
        b = H2Backend(name, self.workdir, extra_args=args,
                      certs=test_tls.certs() if tls else None, port=port)
        self.backends.append(b)
        return b

    def proxy(self, upstreams, servers=None, timeouts=None, workers=1):
        """ringway with one plaintext listener (self.port; h2c on) in front of `upstreams`;
        the default server goes to the first."""
        self.port = self.free_port()
        listeners = [{"name": "plain", "bind": "%s:%d" % (HOST, self.port)}]
        if servers is None:
            servers = [{"name": "site", "server_name": ["localhost"],
                        "upstream": upstreams[0]["name"], "default": True}]
        self.rw = self.start_ringway(test_http2.h2_config(listeners, servers, upstreams,
                                                          timeouts), workers=workers)
        return self.rw

    def start(self, protocol="h2c", args=(), tls=False, timeouts=None, **options):
        """One h2 backend (self.b) behind ringway (self.rw, self.port)."""
        self.b = self.h2_backend("h2", args, tls=tls)
        if tls:
            options.setdefault("tls", tls_block(test_tls.certs()))
        self.proxy([h2_upstream("h2", [self.b.address], protocol, **options)],
                   timeouts=timeouts)
        return self.b

    def client(self, **kw):
        c = H2Client(self.port, **kw)
        self.addCleanup(c.close)
        return c

    def get(self, target, **kw):
        return harness.request(self.port, "GET", target, **kw)

    def curl(self, *args, timeout=60):
        r = harness.run_cmd(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout - 5)]
                            + list(args), timeout=timeout)
        return r.returncode, r.stdout, text(r.stderr)

    def url(self, target):
        return "http://%s:%d%s" % (HOST, self.port, target)

    def assertSpokeH2(self, stats=None, backend=None):
        """The backend saw only HTTP/2 (no HTTP/1.1 request) and no protocol error."""
        stats = stats or (backend or self.b).stats()
        self.assertEqual(stats["http1_requests"], 0,
                         "ringway spoke HTTP/1.1 to an HTTP/2 upstream: %s" % brief(stats))
        self.assertEqual(stats["protocol_errors"], [],
                         "the backend's HTTP/2 stack refused what ringway sent: %s"
                         % stats["protocol_errors"])
        self.assertGreaterEqual(stats["connections"], 1, brief(stats))
        return stats

    def assertNoHopByHop(self, headers, what):
        for n, _ in headers:
            self.assertNotIn(n.lower(), HOP_BY_HOP, "%s: hop-by-hop field %r in %r"
                             % (what, n, headers))


# ---------------------------------------------------------------------------------------------
# The backend on its own (no ringway): the tools the other tests rely on


class BackendSelfTest(H2UpstreamTest):
    def test_backend_direct(self):
        need_h2()
        b = self.h2_backend("direct")
        c = H2Client(b.port)
        self.addCleanup(c.close)
        body = b"abc" * 1000
        st = c.wait(c.request("POST", "/echo?x=1", body=body, trailers=[("x-t", "1")]))
        info = json.loads(bytes(st.body))
        self.assertEqual((st.status, st.header("x-backend")), (200, "direct"), st)
        self.assertEqual((info["method"], info["path"], info["authority"]),
                         ("POST", "/echo?x=1", "localhost"), info)
        self.assertEqual((info["body_length"], info["body_sha256"], info["trailers"]),
                         (len(body), harness.sha256(body), [["x-t", "1"]]), info)
        st = c.get("/trailers?n=5000")
        self.assertEqual(field(st.trailers or [], "x-checksum"), [pattern_sha(5000)], st)
        st = c.get("/stream?n=100000&size=7000")
        self.assertEqual((st.length, st.digest(), st.header("content-length")),
                         (100000, pattern_sha(100000), None), st)
        st = c.get("/reset?before=1")
        self.assertEqual((st.status, st.reset), (None, 2), st)
        st = c.get("/reset?n=300000&after=100000&pause_ms=10", keep_body=False)
        self.assertEqual((st.status, st.reset, st.length), (200, 2, 100000), st)
        slow = c.request("GET", "/slow?ms=5000")
        b.wait_stats(lambda s: s["paths"].get("/slow") == 1, 5, "the slow request")
        c.h2.reset_stream(slow.sid, CANCEL)
        c.flush()
        s = b.wait_stats(lambda s: s["resets_received"].get("CANCEL") == 1, 5, "the CANCEL")
        self.assertEqual(s["reset_log"][-1][2:], ["/slow?ms=5000", "CANCEL", False], s)
        # An armed GOAWAY: the third request of the connection fires it; the fourth and fifth
        # are never processed.
        b.set(goaway_after=3)
        c2 = H2Client(b.port)
        self.addCleanup(c2.close)
        sts = [c2.request("GET", "/slow?ms=300&i=%d" % i) for i in range(5)]
        c2.pump(lambda: all(s.finished for s in sts[:3]) and c2.goaways, 10, "3 answers")
        self.assertEqual([s.status for s in sts], [200, 200, 200, None, None], sts)
        self.assertEqual(c2.goaways, [(sts[2].sid, 0)])
        s = b.stats()
        self.assertEqual((s["goaways_sent"], s["ignored"]), (1, 2), brief(s))
        self.assertEqual([t for t in s["targets"] if t.startswith("/slow?ms=300")],
                         ["/slow?ms=300&i=%d" % i for i in range(3)], brief(s))
        # HTTP/1.1: control paths answered, everything else 505 (counted).
        r = harness.request(b.port, "GET", "/echo")
        self.assertEqual(r.status, 505, r)
        self.assertEqual(b.stats()["http1_requests"], 1)

    def test_backend_over_tls(self):
        need_h2()
        b = self.h2_backend("tlsdirect", tls=True)
        c = H2Client(b.port, tls_host="backend.test", cafile=test_tls.certs().pem("ca"))
        self.addCleanup(c.close)
        st = c.get("/bytes?n=1000000", keep_body=False)
        self.assertEqual((st.status, st.length, st.digest()), (200, 1000000, pattern_sha(1000000)))
        self.assertEqual(b.stats()["alpn"].get("h2"), 1)


# ---------------------------------------------------------------------------------------------
# Requests and responses through ringway (h2c upstream)


class RequestsTest(H2UpstreamTest):
    def test_http1_client_get(self):
        self.start()
        r = self.get("/echo?via=h1", headers=[("X-Custom", "v1"), ("Connection", "keep-alive"),
                                              ("Keep-Alive", "timeout=5")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-backend"), "h2", r)
        info = r.json()
        self.assertEqual((info["method"], info["path"], info["authority"]),
                         ("GET", "/echo?via=h1", "localhost"), info)
        self.assertEqual(field(info["headers"], "x-custom"), ["v1"], info)
        self.assertNoHopByHop(info["headers"], "request to the backend")
        self.assertIn(field(info["headers"], "te"), ([], ["trailers"]), info)
        self.assertEqual((info["body_length"], info["content_length"]), (0, None), info)
        # Several on one client connection, bodies of a few sizes.
        with harness.Conn(self.port) as c:
            for n in (0, 1, 16384, 65535, 65536, 1000000):
                r = c.roundtrip("GET", "/bytes?n=%d" % n)
                self.assertEqual((r.status, r.header("content-length")), (200, str(n)), r)
                self.assertEqual(r.body, harness.pattern(n))
            # No content-length from the backend: chunked (or close-delimited) to HTTP/1.1.
            r = c.roundtrip("GET", "/stream?n=300000&size=7000")
            self.assertEqual((r.status, len(r.body)), (200, 300000), r)
            self.assertEqual(harness.sha256(r.body), pattern_sha(300000))
        with harness.Conn(self.port) as c:
            r = c.roundtrip("HEAD", "/bytes?n=5000")
            self.assertEqual((r.status, r.header("content-length"), r.body),
                             (200, "5000", b""), r)
            self.assertEqual(c.roundtrip("GET", "/status/404").status, 404)
        need("curl")
        rc, out, err = self.curl("-v", "--http1.1", self.url("/bytes?n=2000000"))
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/1.1 200", err)
        self.assertEqual((len(out), harness.sha256(out)), (2000000, pattern_sha(2000000)))
        s = self.assertSpokeH2()
        self.assertEqual(s["paths"], {"/echo": 1, "/bytes": 8, "/stream": 1, "/status/404": 1},
                         brief(s))

    def test_forwarded_fields(self):
        """The X-Forwarded-* fields ringway adds for HTTP/1.1 backends come to HTTP/2 ones
        too."""
        self.start()
        info = self.get("/echo", host="shop.example:8443").json()
        self.assertEqual(info["authority"], "shop.example:8443", info)
        self.assertEqual(field(info["headers"], "x-forwarded-for"), ["127.0.0.1"], info)
        self.assertEqual(field(info["headers"], "x-forwarded-proto"), ["http"], info)

    def test_http2_clients_get(self):
        need("curl")
        need_h2()
        self.start()
        rc, out, err = self.curl("-v", "--http2-prior-knowledge", "-H", "x-a: 1",
                                 self.url("/echo?via=curl"))
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/2 200", err)
        self.assertIn("< x-backend: h2", err)
        info = json.loads(out)
        self.assertEqual((info["method"], info["path"]), ("GET", "/echo?via=curl"), info)
        self.assertEqual(field(info["headers"], "x-a"), ["1"], info)
        c = self.client()
        st = c.get("/echo", headers=[("cookie", "a=1"), ("cookie", "b=2")])
        self.assertEqual(st.status, 200, st)
        self.assertNoHopByHop(st.headers, "response to an h2 client")
        info = json.loads(bytes(st.body))
        # Cookie crumbs may come joined or as they were; together they are the same.
        self.assertIn(field(info["headers"], "cookie"), (["a=1; b=2"], ["a=1", "b=2"]), info)
        sts = [c.request("GET", "/bytes?n=%d" % n, keep_body=False)
               for n in (0, 100, 70000, 1000000)]
        sts.append(c.request("GET", "/stream?n=500000&size=3000", keep_body=False))
        c.wait(*sts, timeout=20)
        for st, n in zip(sts, (0, 100, 70000, 1000000, 500000)):
            self.assertEqual((st.status, st.reset, st.length, st.digest()),
                             (200, None, n, pattern_sha(n)), st)
        self.assertIsNone(sts[-1].header("content-length"), sts[-1])
        head = c.request("HEAD", "/bytes?n=5000")
        c.wait(head)
        self.assertEqual((head.status, head.length, head.ended), (200, 0, True), head)
        self.assertEqual(c.get("/status/503").status, 503)
        self.assertEqual(c.goaways, [])
        self.assertSpokeH2()

    def test_post_bodies(self):
        need_h2()
        self.start()
        body = harness.pattern(300000)
        # HTTP/1.1, content-length.
        r = harness.request(self.port, "POST", "/echo", body=body)
        info = r.json()
        self.assertEqual((r.status, info["method"], info["body_length"], info["body_sha256"]),
                         (200, "POST", len(body), harness.sha256(body)), info)
        self.assertEqual(info["content_length"], str(len(body)), info)
        # HTTP/1.1, chunked: no content-length on the stream.
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000])
                           for i in range(0, len(body), 7000)) + b"0\r\n\r\n"
        r = harness.request(self.port, "POST", "/echo", body=chunked,
                            headers=[("Transfer-Encoding", "chunked")])
        info = r.json()
        self.assertEqual((r.status, info["body_length"], info["body_sha256"]),
                         (200, len(body), harness.sha256(body)), info)
        self.assertEqual(info["content_length"], None, info)
        self.assertEqual(field(info["headers"], "transfer-encoding"), [], info)
        # An empty POST.
        r = harness.request(self.port, "POST", "/echo", body=b"")
        self.assertEqual((r.status, r.json()["body_length"]), (200, 0), r)
        # HTTP/2, with and without content-length.
        c = self.client()
        st = c.wait(c.request("POST", "/echo", body=body,
                              headers=[("content-length", str(len(body)))]))
        info = json.loads(bytes(st.body))
        self.assertEqual((st.status, info["body_length"], info["body_sha256"],
                          info["content_length"]),
                         (200, len(body), harness.sha256(body), str(len(body))), info)
        n = 1234567
        st = c.wait(c.request("POST", "/echo", body=n), timeout=20)
        info = json.loads(bytes(st.body))
        self.assertEqual((st.status, info["body_length"], info["body_sha256"],
                          info["content_length"]), (200, n, pattern_sha(n), None), info)
        st = c.wait(c.request("PUT", "/sink", body=5 * MiB), timeout=20)
        self.assertEqual(json.loads(bytes(st.body)),
                         {"length": 5 * MiB, "sha256": pattern_sha(5 * MiB)})
        self.assertSpokeH2()

    def test_h2_request_trailers_reach_backend(self):
        need_h2()
        self.start()
        c = self.client()
        body = b"trailer test body " * 1000
        st = c.wait(c.request("POST", "/echo", body=body, headers=[("te", "trailers")],
                              trailers=[("x-checksum", "abc123"), ("x-count", "7")]))
        info = json.loads(bytes(st.body))
        self.assertEqual(st.status, 200, st)
        self.assertEqual((info["body_length"], info["body_sha256"]),
                         (len(body), harness.sha256(body)), info)
        self.assertEqual(info["trailers"], [["x-checksum", "abc123"], ["x-count", "7"]], info)
        self.assertEqual(field(info["headers"], "x-checksum"), [], info)
        # Trailers right after the head, no DATA.
        st = c.wait(c.request("POST", "/echo", trailers=[("x-only", "1")]))
        info = json.loads(bytes(st.body))
        self.assertEqual((info["body_length"], info["trailers"]), (0, [["x-only", "1"]]), info)
        self.assertEqual(self.b.stats()["request_trailers"], 2)

    def test_http1_request_trailers_reach_backend(self):
        """A chunked HTTP/1.1 request's trailer section becomes the stream's trailing HEADERS
        (as it reaches HTTP/1.1 backends as trailers)."""
        self.start()
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n"
        r = harness.request(self.port, "POST", "/echo", body=body,
                            headers=[("Transfer-Encoding", "chunked"), ("TE", "trailers")])
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual((info["body_length"], info["body_sha256"]),
                         (11, harness.sha256(b"hello world")), info)
        self.assertEqual(info["trailers"], [["x-checksum", "abc"], ["x-count", "2"]], info)

    def test_response_trailers_reach_clients(self):
        need_h2()
        self.start()
        c = self.client()
        for n in (0, 5000, 300000):
            st = c.get("/trailers?n=%d" % n, headers=[("te", "trailers")], keep_body=False)
            self.assertEqual((st.status, st.reset, st.length, st.digest()),
                             (200, None, n, pattern_sha(n)), st)
            self.assertIsNotNone(st.trailers, "no trailing HEADERS: %r" % st)
            self.assertEqual(field(st.trailers, "x-checksum"), [pattern_sha(n)], st.trailers)
            self.assertEqual(field(st.trailers, "x-length"), [str(n)], st.trailers)
            self.assertEqual(field(st.headers, "x-checksum"), [], st)
        # HTTP/1.1 with TE: trailers: a chunked response whose trailer section has them.
        r = self.get("/trailers?n=5000", headers=[("TE", "trailers")])
        self.assertEqual((r.status, r.body), (200, harness.pattern(5000)), r)
        self.assertTrue(r.chunked, r)
        got = {n.lower(): v for n, v in r.trailers}
        self.assertEqual(got.get("x-checksum"), pattern_sha(5000), r.trailers)
        self.assertSpokeH2()


# ---------------------------------------------------------------------------------------------
# Pooling: many client streams over few backend connections


class PoolingTest(H2UpstreamTest):
    def test_h2load_1000_concurrent_streams_over_few_connections(self):
        need("h2load")
        self.start(args=["--max-streams", "1000"])
        # A warm connection, whose SETTINGS ringway has (until then it assumes 100 streams a
        # connection, RFC 9113 section 6.5.2, and a cold burst opens one per 100).
        self.assertEqual(self.get("/warm").status, 200)
        t0 = time.monotonic()
        r = harness.run_cmd(["h2load", "-c", "20", "-m", "50", "-n", "1000",
                             self.url("/slow?ms=400")], timeout=90)
        took = time.monotonic() - t0
        out = text(r.stdout)
        self.assertEqual(r.returncode, 0, out + text(r.stderr))
        self.assertIn("requests: 1000 total, 1000 started, 1000 done, 1000 succeeded", out)
        self.assertIn("status codes: 1000 2xx", out)
        s = self.assertSpokeH2()
        print("\n    1000 streams from 20 clients: %.2f s; backend connections %d, most "
              "streams open on one %d" % (took, s["connections"], s["max_concurrent"]),
              flush=True)
        self.assertEqual(s["paths"], {"/warm": 1, "/slow": 1000}, brief(s))
        self.assertLessEqual(s["connections"], 4, brief(s))
        self.assertGreaterEqual(s["max_concurrent"], 50, "streams were not multiplexed: %s"
                                % brief(s))
        self.assertEqual(s["refused_after_settings"], 0, brief(s))

    def test_http1_clients_share_few_connections(self):
        self.start()
        results = []
        lock = threading.Lock()

        def one(i):
            try:
                r = self.get("/slow?ms=500&i=%d" % i, timeout=20)
                out = (r.status, r.body)
            except Exception as e:  # recorded, then asserted on
                out = (repr(e), b"")
            with lock:
                results.append(out)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual([s for s, _ in results], [200] * 60, results[:5])
        s = self.assertSpokeH2()
        print("\n    60 HTTP/1.1 clients: backend connections %d, most streams open on one %d"
              % (s["connections"], s["max_concurrent"]), flush=True)
        self.assertEqual(s["paths"], {"/slow": 60}, brief(s))
        self.assertLessEqual(s["connections"], 4, brief(s))
        self.assertGreaterEqual(s["max_concurrent"], 15, brief(s))

    def test_http1_requests_waiting_for_a_stream_keep_their_heads(self):
        """HTTP/1.1 requests that wait for a free stream on a full backend connection reach
        the backend with their own method, path, authority and fields, names lowercased."""
        self.start(args=["--max-streams", "2"])
        self.assertEqual(self.get("/warm").status, 200)  # the connection knows the limit
        results = {}
        lock = threading.Lock()

        def one(target, headers, host):
            try:
                r = self.get(target, headers=headers, host=host, timeout=20)
                out = (r.status, r.json() if r.status == 200 and target.startswith("/echo")
                       else None)
            except Exception as e:  # recorded, then asserted on
                out = (repr(e), None)
            with lock:
                results[target] = out

        threads = [threading.Thread(target=one, args=("/slow?ms=800&i=%d" % i, [], "localhost"))
                   for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # both slots taken: what follows waits for them
        waiting = [threading.Thread(target=one, args=(
            "/echo?i=%d" % i, [("X-Index-Field", "value-%d" % i), ("Accept", "text/%d" % i)],
            "host%d.example" % i)) for i in range(10)]
        for t in waiting:
            t.start()
        for t in threads + waiting:
            t.join(timeout=30)
        self.assertEqual(len(results), 12, results)
        for i in range(10):
            status, info = results["/echo?i=%d" % i]
            self.assertEqual(status, 200, results)
            self.assertEqual((info["method"], info["path"], info["authority"]),
                             ("GET", "/echo?i=%d" % i, "host%d.example" % i), info)
            self.assertEqual(field(info["headers"], "x-index-field"), ["value-%d" % i], info)
            self.assertEqual(field(info["headers"], "accept"), ["text/%d" % i], info)
            self.assertEqual(field(info["headers"], "x-forwarded-host"), ["host%d.example" % i],
                             info)
            self.assertNoHopByHop(info["headers"], "request to the backend")
        s = self.assertSpokeH2()
        print("\n    10 waiting HTTP/1.1 requests: backend connections %d, most streams open on "
              "one %d" % (s["connections"], s["max_concurrent"]), flush=True)
        self.assertEqual(s["paths"], {"/warm": 1, "/slow": 2, "/echo": 10}, brief(s))
        self.assertEqual(s["refused_after_settings"], 0, brief(s))

    def test_backend_max_concurrent_streams_respected(self):
        need_h2()
        self.start(args=["--max-streams", "10"])
        self.assertEqual(self.get("/warm").status, 200)  # the connection knows the limit
        clients = [self.client() for _ in range(3)]
        sts = {c: [] for c in clients}
        for i in range(40):
            c = clients[i % 3]
            sts[c].append(c.request("GET", "/slow?ms=200&i=%d" % i))
        for c in clients:
            c.wait(*sts[c], timeout=30)
        every = [st for c in clients for st in sts[c]]
        self.assertEqual([st.status for st in every], [200] * 40,
                         [st for st in every if st.status != 200][:3])
        s = self.assertSpokeH2()
        print("\n    40 streams, backend limit 10: %d connections, most open on one %d, "
              "%d refused (%d after SETTINGS)" % (s["connections"], s["max_concurrent"],
                                                 s["refused"], s["refused_after_settings"]),
              flush=True)
        self.assertEqual(s["paths"], {"/warm": 1, "/slow": 40}, brief(s))
        self.assertEqual(s["refused_after_settings"], 0,
                         "streams over the backend's SETTINGS_MAX_CONCURRENT_STREAMS on a "
                         "connection that knew it: %s" % brief(s))


# ---------------------------------------------------------------------------------------------
# Flow control and large bodies


class FlowControlTest(H2UpstreamTest):
    def test_stalled_client_does_not_block_the_shared_connection(self):
        need_h2()
        self.start()
        a = self.client()
        n = 4 * MiB
        stalled = a.request("GET", "/bytes?n=%d&stalled=1" % n, keep_body=False, stalled=True)
        a.pump(lambda: stalled.length > 0, 10, "the first bytes of the stalled download")
        b = self.client()
        t0 = time.monotonic()
        others = [b.request("GET", "/bytes?n=200000&i=%d" % i, keep_body=False)
                  for i in range(20)]
        b.wait(*others, timeout=20)
        took = time.monotonic() - t0
        for st in others:
            self.assertEqual((st.status, st.length, st.digest()),
                             (200, 200000, pattern_sha(200000)), st)
        self.assertLess(took, 10.0)
        # The one that does not read is still waiting, on a window of 64 KiB.
        settle(a, 0.3)
        self.assertFalse(stalled.finished, stalled)
        self.assertLessEqual(stalled.length, 65535, stalled)
        a.unstall(stalled)
        a.wait(stalled, timeout=30)
        self.assertEqual((stalled.status, stalled.reset, stalled.length, stalled.digest()),
                         (200, None, n, pattern_sha(n)), stalled)
        s = self.assertSpokeH2()
        self.assertLessEqual(s["connections"], 2, "a stalled client should not need a "
                             "connection of its own: %s" % brief(s))

    def test_backend_that_holds_one_upload_does_not_block_others(self):
        need_h2()
        self.start()
        c = self.client()
        n = 3 * MiB
        held = c.request("POST", "/sink?hold_ms=3000", body=n)
        self.b.wait_stats(lambda s: s["paths"].get("/sink") == 1, 5, "the held upload")
        t0 = time.monotonic()
        others = [c.request("POST", "/echo?i=%d" % i, body=100000) for i in range(10)]
        c.pump(lambda: all(s.finished for s in others), 15, "the other uploads")
        took = time.monotonic() - t0
        for st in others:
            info = json.loads(bytes(st.body))
            self.assertEqual((st.status, info["body_length"], info["body_sha256"]),
                             (200, 100000, pattern_sha(100000)), info)
        self.assertLess(took, 2.5, "other uploads waited for the held one")
        c.wait(held, timeout=20)
        self.assertEqual(json.loads(bytes(held.body)), {"length": n, "sha256": pattern_sha(n)})
        self.assertSpokeH2()

    def pattern_file(self, n):
        path = os.path.join(self.workdir, "pattern-%d.bin" % n)
        harness.write_pattern_file(path, n)
        return path

    def curl_sha(self, args, timeout=100):
        p = harness.spawn(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout)]
                          + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h = hashlib.sha256()
        size = 0
        while True:
            data = p.stdout.read(1 << 20)
            if not data:
                break
            h.update(data)
            size += len(data)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            harness.kill_proc(p)
            rc = None
        return rc, size, h.hexdigest(), text(p.stderr.read())

    def assertRssGrowthBounded(self, sampler, idle_kb, what):
        growth = sampler.peak_kb - idle_kb
        print("    %s: ringway RSS +%d kB;" % (what, growth), end="", flush=True)
        if harness.sanitized_binary(self.rw.binary):
            return
        self.assertLess(growth, RSS_GROWTH_LIMIT_KB, "%s: ringway RSS grew by %d kB"
                        % (what, growth))

    def test_100mb_up_and_down(self):
        need("curl")
        self.start(timeouts={"upstream_response": "60s"})
        path = self.pattern_file(BIG)
        want = pattern_sha(BIG)
        time.sleep(0.1)
        idle = self.rw.proc_status("VmRSS")
        print("", flush=True)
        for proto in ("--http1.1", "--http2-prior-knowledge"):
            t0 = time.monotonic()
            with harness.RssSampler(self.rw) as sampler:
                rc, out, err = self.curl(proto, "--data-binary", "@" + path, "-H", "Expect:",
                                         "-H", "Content-Type: application/octet-stream",
                                         self.url("/sink"), timeout=120)
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), {"length": BIG, "sha256": want})
            print("    upload %s %.1f s;" % (proto, time.monotonic() - t0), end="", flush=True)
            self.assertRssGrowthBounded(sampler, idle, "upload " + proto)
            t0 = time.monotonic()
            with harness.RssSampler(self.rw) as sampler:
                rc, size, sha, err = self.curl_sha([proto, self.url("/bytes?n=%d" % BIG)])
            self.assertEqual(rc, 0, err)
            self.assertEqual((size, sha), (BIG, want))
            print("    download %s %.1f s;" % (proto, time.monotonic() - t0), end="",
                  flush=True)
            self.assertRssGrowthBounded(sampler, idle, "download " + proto)
        s = self.assertSpokeH2()
        self.assertEqual(s["paths"], {"/sink": 2, "/bytes": 2}, brief(s))


# ---------------------------------------------------------------------------------------------
# GOAWAY from the backend


class GoawayTest(H2UpstreamTest):
    def goaway_run(self, n, after, body=None, ms=800):
        """Arms the backend so that the connection that gets the `after`th request from now
        sends GOAWAY naming that stream, then sends `n` requests at once from one h2 client
        (POSTs and GETs by turns; POSTs carry `body` bytes, if given). The first `after` sleep
        `ms` ms, so they are in flight when the GOAWAY goes; those above it were never
        processed. Returns (streams, backend stats)."""
        need_h2()
        self.start()
        self.assertEqual(self.get("/warm").status, 200)  # one connection, settled
        self.b.set(goaway_after=after)
        c = self.client()
        sts = []
        # All the requests in one write, so that ringway has them all on the backend
        # connection before the GOAWAY can come back.
        c.flush = lambda: None
        try:
            for i in range(n):
                method = "POST" if i % 2 == 0 else "GET"
                sts.append(c.request(method, "/echo?ms=%d&i=%d" % (ms, i),
                                     body=body if method == "POST" else None))
        finally:
            del c.flush
        c.flush()
        c.wait(*sts, timeout=30)
        s = self.assertSpokeH2()
        failed = [(i, st.status, st.reset) for i, st in enumerate(sts) if st.status != 200]
        print("\n    GOAWAY after %d of %d streams%s: %d ignored by the backend, %d "
              "connections, served per connection %r; failed (index, status, reset): %r"
              % (after, n, " with bodies" if body else "", s["ignored"], s["connections"],
                 s["per_connection"], failed), flush=True)
        self.assertEqual(s["goaways_sent"], 1, brief(s))
        self.assertEqual(self.get("/after").status, 200)
        self.assertEqual(c.get("/after2").status, 200)
        self.assertEqual(c.goaways, [])
        return sts, s, failed

    def assertEachRanOnce(self, sts, s, failed, n, body=None):
        budget = self.rw.log_lines("retry budget")
        self.assertEqual(failed, [], "streams above the GOAWAY's last-stream-id were not "
                         "retried%s; ringway's log: %s"
                         % (" (the retry budget stopped them)" if budget else "",
                            self.rw.log_lines("upstream") + budget))
        for i, st in enumerate(sts):
            info = json.loads(bytes(st.body))
            want = len(body) if body and i % 2 == 0 else 0
            self.assertEqual((info["path"], info["body_length"]), ("/echo?ms=800&i=%d" % i,
                                                                   want), info)
            if want:
                self.assertEqual(info["body_sha256"], harness.sha256(body), info)
        # Each request ran exactly once: the ignored ones were not processed.
        targets = sorted(t for t in s["targets"] if t.startswith("/echo"))
        self.assertEqual(targets, sorted("/echo?ms=800&i=%d" % i for i in range(n)),
                         "a request ran twice or not at all: %s" % brief(s))
        self.assertGreaterEqual(s["ignored"], 1, "the GOAWAY left no stream out: %s" % brief(s))
        self.assertGreaterEqual(s["connections"], 2, brief(s))

    def test_streams_above_last_stream_id_are_retried_once(self):
        """Requests without a body, POSTs among them (never processed, so not a retry of a
        non-idempotent request)."""
        n = 6
        sts, s, failed = self.goaway_run(n, after=3)
        self.assertEachRanOnce(sts, s, failed, n)

    def test_many_streams_above_last_stream_id(self):
        """A GOAWAY that leaves 25 streams out: all go to a new connection (none of them was
        processed, so retrying them costs the backend nothing new)."""
        n = 30
        sts, s, failed = self.goaway_run(n, after=5)
        self.assertEachRanOnce(sts, s, failed, n)

    def test_streams_above_last_stream_id_with_bodies(self):
        """POSTs whose (small) bodies had gone out before the GOAWAY came: replayed on the new
        connection, whole."""
        n = 6
        body = b"0123456789abcdef" * 256
        sts, s, failed = self.goaway_run(n, after=3, body=body)
        self.assertEachRanOnce(sts, s, failed, n, body=body)

    def test_streams_above_last_stream_id_go_to_another_backend(self):
        """Two backends, the GOAWAY from one: what it left out is served by the other (or
        by it again, on a new connection), each request once."""
        need_h2()
        a = self.h2_backend("a")
        b = self.h2_backend("b")
        self.proxy([h2_upstream("h2", [a.address, b.address])])
        for i in range(2):
            self.assertEqual(self.get("/warm").status, 200)
        a.set(goaway_after=3)
        c = self.client()
        n = 12
        c.flush = lambda: None
        try:
            sts = [c.request("GET", "/echo?ms=800&i=%d" % i) for i in range(n)]
        finally:
            del c.flush
        c.flush()
        c.wait(*sts, timeout=30)
        sa, sb = self.assertSpokeH2(backend=a), self.assertSpokeH2(backend=b)
        failed = [(i, st.status) for i, st in enumerate(sts) if st.status != 200]
        print("\n    GOAWAY from a: a ignored %d, served a %r, b %r; failed %r"
              % (sa["ignored"], sa["per_connection"], sb["per_connection"], failed), flush=True)
        self.assertEqual(sa["goaways_sent"], 1, brief(sa))
        self.assertGreaterEqual(sa["ignored"], 1, brief(sa))
        self.assertEqual(failed, [], self.rw.log_lines("upstream"))
        targets = sorted(t for t in sa["targets"] + sb["targets"] if t.startswith("/echo"))
        self.assertEqual(targets, sorted("/echo?ms=800&i=%d" % i for i in range(n)),
                         "a request ran twice or not at all")

    def test_goaway_on_a_connection_moves_later_requests(self):
        self.start()
        r = self.get("/goaway")
        self.assertEqual((r.status, r.body), (200, b"goaway from h2\n"), r)
        for i in range(5):
            r = self.get("/after?i=%d" % i)
            self.assertEqual((r.status, r.body), (200, b"hello from h2\n"), r)
        s = self.assertSpokeH2()
        self.assertEqual(s["goaways_sent"], 1, brief(s))
        self.assertEqual(s["paths"], {"/goaway": 1, "/after": 5}, brief(s))
        self.assertEqual(s["connections"], 2, brief(s))
        self.assertEqual(s["per_connection"], {"1": 1, "2": 5}, brief(s))


# ---------------------------------------------------------------------------------------------
# RST_STREAM and a backend connection that ends


class ResetTest(H2UpstreamTest):
    def test_reset_before_response_is_502_for_http1(self):
        self.start()
        with harness.Conn(self.port) as c:
            for method in ("GET", "POST"):
                r = c.roundtrip(method, "/reset?before=1", body=b"x" if method == "POST"
                                else None)
                self.assertEqual(r.status, 502, r)
                self.assertShortErrorBody(r)
            # A response, not a cut: the connection goes on.
            r = c.roundtrip("GET", "/echo")
            self.assertEqual(r.status, 200, r)
        s = self.assertSpokeH2()
        self.assertGreaterEqual(s["paths"].get("/reset", 0), 2, brief(s))

    def test_interim_heads_relayed_and_bounded(self):
        """103 heads reach the client before the response; a backend that sends more than 16
        is broken: 502, as for an HTTP/1 backend."""
        self.start()
        rc, out, err = self.curl("-si", "--http1.1", self.url("/interim?n=2"))
        self.assertEqual(rc, 0, err)
        text = out.decode("latin-1") if isinstance(out, bytes) else out
        self.assertEqual(text.count("HTTP/1.1 103"), 2, text)
        self.assertIn("HTTP/1.1 200", text)
        self.assertIn("after 2 interim heads", text)
        r = self.get("/interim?n=40")
        self.assertEqual(r.status, 502, r)
        self.assertTrue(self.rw.log_lines("more than 16 interim responses"), self.rw.logs())

    def test_backend_that_never_sends_settings_times_out(self):
        """A backend that takes the connection and never answers (no SETTINGS): the request
        waiting for the connection to be ready ends at upstream_response (504), not later."""
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        silent.bind((HOST, 0))
        silent.listen(16)  # connects complete in the kernel; nothing is ever accepted or read
        self.addCleanup(silent.close)
        address = "%s:%d" % (HOST, silent.getsockname()[1])
        self.proxy([h2_upstream("h2", [address])],
                   timeouts={"upstream_response": "1s", "upstream_connect": "5s"})
        t0 = time.monotonic()
        r = self.get("/echo", timeout=15)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 504, r)
        self.assertLess(took, 4, "the response deadline, not the SETTINGS timeout, ended it")

    def test_unanswered_ping_drops_the_connection(self):
        """keepalive_ping: a backend that goes silent (stopped with SIGSTOP: the kernel still
        holds the connection, nothing answers) is found by an unanswered PING; the request in
        flight fails with 502 instead of waiting for the response timeout, and once the backend
        is back the next request gets a new connection."""
        self.start(keepalive_ping={"interval": "300ms", "timeout": "300ms"},
                   timeouts={"upstream_response": "30s"})
        self.assertEqual(self.get("/echo").status, 200)
        os.kill(self.b.proc.pid, signal.SIGSTOP)
        try:
            # The stop lands asynchronously: wait until every thread of it is stopped, or a
            # thread still running could answer the next request.
            deadline = time.monotonic() + 5
            task_dir = "/proc/%d/task" % self.b.proc.pid
            while time.monotonic() < deadline:
                states = []
                for tid in os.listdir(task_dir):
                    try:
                        with open(os.path.join(task_dir, tid, "stat")) as f:
                            states.append(f.read().rsplit(")", 1)[1].split()[0])
                    except OSError:
                        pass
                if states and all(st in ("T", "t") for st in states):
                    break
                time.sleep(0.01)
            t0 = time.monotonic()
            r = self.get("/echo?late=1", timeout=15)
            took = time.monotonic() - t0
        finally:
            os.kill(self.b.proc.pid, signal.SIGCONT)
        self.assertEqual(r.status, 502, r)
        self.assertLess(took, 5, "the PING timeout, not the 30 s response timeout, ended it")
        self.assertTrue(self.rw.log_lines("PING not answered"), self.rw.logs())
        self.assertEqual(self.get("/echo").status, 200)
        s = self.b.stats()
        self.assertEqual(s["connections"], 2, brief(s))

    def test_access_log_and_metrics_show_protocol_and_outcome(self):
        """The access log line says the upstream protocol and how a stream ended; the metrics
        page counts streams reset by the backend and the open HTTP/2 connections."""
        self.b = self.h2_backend("h2")
        self.port = self.free_port()
        listeners = [{"name": "plain", "bind": "%s:%d" % (HOST, self.port)}]
        servers = [{"name": "site", "server_name": ["localhost"], "upstream": "h2",
                    "default": True}]
        self.rw = self.start_ringway(
            test_http2.h2_config(listeners, servers, [h2_upstream("h2", [self.b.address])]),
            admin=True)
        self.assertEqual(self.get("/echo").status, 200)
        self.assertEqual(self.get("/reset?before=1").status, 502)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                "outcome=backend_reset" in l for l in self.rw.access_lines()):
            time.sleep(0.05)
        ok = [l for l in self.rw.access_lines() if '"GET /echo" 200' in l]
        self.assertTrue(ok and " proto=h2c" in ok[-1], ok)
        self.assertNotIn("outcome=", ok[-1])
        bad = [l for l in self.rw.access_lines() if "outcome=backend_reset" in l]
        self.assertTrue(bad and '"GET /reset?before=1" 502' in bad[-1], bad)
        page = harness.request(self.rw.admin_port, "GET", "/metrics", host="127.0.0.1").body
        page = page.decode()
        self.assertRegex(page, r'ringway_upstream_h2_streams_ended_total\{upstream="h2",'
                               r'outcome="reset"\} 1\b')
        self.assertRegex(page, r'ringway_upstream_h2_connections\{upstream="h2"\} 1\b')

    def test_reset_before_response_for_http2_client(self):
        need_h2()
        self.start()
        c = self.client()
        st = c.get("/reset?before=1")
        print("\n    reset before the response, to an h2 client: status %s, reset %s"
              % (st.status, st.reset), flush=True)
        self.assertTrue(st.status == 502 or (st.status is None and st.reset is not None), st)
        self.assertEqual(c.get("/echo").status, 200)
        self.assertEqual(c.goaways, [])
        self.assertSpokeH2()

    def test_reset_mid_body_cuts_http1_client(self):
        self.start()
        n, after = 1000000, 200000
        with harness.Conn(self.port) as c:
            c.request("GET", "/reset?n=%d&after=%d" % (n, after))
            r = c.read_response(timeout=10)
            self.assertEqual((r.status, r.header("content-length")), (200, str(n)), r)
            self.assertFalse(r.complete, "a reset response arrived whole: %r" % r)
            self.assertLessEqual(len(r.body), after)
            self.assertEqual(r.body, harness.pattern(len(r.body)))
            self.assertTrue(c.wait_closed(5), "the connection stayed open after a cut body")
        # Without content-length: a chunked body that never ends properly.
        with harness.Conn(self.port) as c:
            c.request("GET", "/reset?after=%d" % after)
            r = c.read_response(timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertFalse(r.complete, "a reset response ended as if whole: %r" % r)
            self.assertTrue(c.wait_closed(5))
        self.assertEqual(self.get("/echo").status, 200)
        self.assertSpokeH2()

    def test_reset_mid_body_is_rst_stream_for_http2_client(self):
        need_h2()
        self.start()
        c = self.client()
        n, after = 1000000, 200000
        st = c.request("GET", "/reset?n=%d&after=%d" % (n, after), keep_body=False)
        other = c.request("GET", "/slow?ms=600")
        c.wait(st, other, timeout=15)
        print("\n    reset mid-body, to an h2 client: RST_STREAM code %s after %d bytes"
              % (st.reset, st.length), flush=True)
        self.assertEqual(st.status, 200, st)
        self.assertIsNotNone(st.reset, "want RST_STREAM: %r" % st)
        self.assertNotEqual(st.reset, 0, st)
        self.assertFalse(st.ended, st)
        self.assertLessEqual(st.length, after, st)
        # The other stream, on the same client and backend connections, is fine.
        self.assertEqual((other.status, other.reset), (200, None), other)
        self.assertEqual(c.get("/echo").status, 200)
        self.assertEqual(c.goaways, [])
        self.assertSpokeH2()

    def test_backend_connection_ends_mid_response(self):
        need_h2()
        self.start()
        with harness.Conn(self.port) as conn:
            conn.request("GET", "/drop?after=100000")
            r = conn.read_response(timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertFalse(r.complete, r)
            self.assertTrue(conn.wait_closed(5))
        c = self.client()
        st = c.get("/drop?after=100000", keep_body=False)
        self.assertEqual(st.status, 200, st)
        self.assertIsNotNone(st.reset, "want RST_STREAM: %r" % st)
        # A new backend connection serves what comes next.
        self.assertEqual(c.get("/echo").status, 200)
        self.assertEqual(self.get("/echo").status, 200)
        s = self.assertSpokeH2()
        self.assertEqual(s["drops"], 2, brief(s))


# ---------------------------------------------------------------------------------------------
# Clients that go away


class CancelTest(H2UpstreamTest):
    def test_client_rst_stream_is_cancel_to_backend(self):
        need_h2()
        self.start()
        c = self.client()
        st = c.request("GET", "/slow?ms=5000")
        self.b.wait_stats(lambda s: s["paths"].get("/slow") == 1, 5, "the request")
        c.h2.reset_stream(st.sid, CANCEL)
        c.flush()
        s = self.b.wait_stats(lambda s: s["resets_received"].get("CANCEL", 0) >= 1, 5,
                              "RST_STREAM CANCEL")
        self.assertEqual([e[2:4] for e in s["reset_log"]], [["/slow?ms=5000", "CANCEL"]], s)
        # Mid-download: a client that resets a response in flight.
        dl = c.request("GET", "/stream?n=50000000&size=16384&ms=5", keep_body=False)
        c.pump(lambda: dl.length > 100000, 10, "some of the download")
        c.h2.reset_stream(dl.sid, CANCEL)
        c.flush()
        s = self.b.wait_stats(lambda s: s["resets_received"].get("CANCEL", 0) >= 2, 5,
                              "the second RST_STREAM CANCEL")
        self.assertEqual(s["reset_log"][-1][2:4], ["/stream?n=50000000&size=16384&ms=5",
                                                   "CANCEL"], s)
        # Mid-upload.
        up = c.request("POST", "/sink?i=up", body=50 * MiB)
        self.b.wait_stats(lambda s: s["paths"].get("/sink") == 1, 5, "the upload")
        c.h2.reset_stream(up.sid, CANCEL)
        up.out_src = None
        c.flush()
        s = self.b.wait_stats(lambda s: s["resets_received"].get("CANCEL", 0) >= 3, 5,
                              "the third RST_STREAM CANCEL")
        # The pooled connection lives on.
        self.assertEqual(c.get("/echo").status, 200)
        s = self.assertSpokeH2()
        self.assertEqual(s["connections"], 1, "a cancel cost the backend connection: %s"
                         % brief(s))

    def test_http1_client_close_mid_response_is_cancel_to_backend(self):
        self.start()
        conn = harness.Conn(self.port)
        conn.request("GET", "/stream?n=50000000&size=16384&ms=5&h1=1")
        deadline = time.monotonic() + 10
        while len(conn.buf) < 100000 and conn._recv(deadline):
            pass
        self.assertGreaterEqual(len(conn.buf), 100000, bytes(conn.buf[:300]))
        conn.close()
        s = self.b.wait_stats(lambda s: s["resets_received"].get("CANCEL", 0) >= 1, 5,
                              "RST_STREAM CANCEL")
        self.assertEqual(s["reset_log"][-1][2:4], ["/stream?n=50000000&size=16384&ms=5&h1=1",
                                                   "CANCEL"], s)
        self.assertEqual(self.get("/echo").status, 200)
        s = self.assertSpokeH2()
        self.assertEqual(s["connections"], 1, brief(s))


# ---------------------------------------------------------------------------------------------
# HTTP/2 over TLS


class TlsUpstreamTest(H2UpstreamTest):
    def test_h2_over_tls_with_alpn(self):
        need_h2()
        self.start(protocol="h2", tls=True)
        r = self.get("/echo?tls=1")
        self.assertEqual(r.status, 200, r)
        info = r.json()
        self.assertEqual((info["path"], info["authority"]), ("/echo?tls=1", "localhost"), info)
        body = harness.pattern(1000000)
        r = harness.request(self.port, "POST", "/echo", body=body)
        self.assertEqual((r.status, r.json()["body_sha256"]), (200, harness.sha256(body)), r)
        c = self.client()
        sts = [c.request("GET", "/bytes?n=%d" % (20 * MiB), keep_body=False),
               c.request("GET", "/trailers?n=5000", headers=[("te", "trailers")]),
               c.request("POST", "/sink", body=5 * MiB)]
        c.wait(*sts, timeout=60)
        self.assertEqual((sts[0].status, sts[0].length, sts[0].digest()),
                         (200, 20 * MiB, pattern_sha(20 * MiB)), sts[0])
        self.assertEqual(field(sts[1].trailers or [], "x-checksum"), [pattern_sha(5000)],
                         sts[1])
        self.assertEqual(json.loads(bytes(sts[2].body)),
                         {"length": 5 * MiB, "sha256": pattern_sha(5 * MiB)})
        s = self.assertSpokeH2()
        self.assertEqual(s["alpn"].get("h2"), s["connections"], brief(s))
        self.assertLessEqual(s["connections"], 2, brief(s))
        self.assertEqual(s["paths"], {"/echo": 2, "/bytes": 1, "/trailers": 1, "/sink": 1},
                         brief(s))

    def test_backend_without_h2_alpn_is_502(self):
        self.start(protocol="h2", tls=True, args=["--alpn", "http/1.1"])
        r = self.get("/x")
        self.assertEqual(r.status, 502, r)
        s = self.b.stats()
        self.assertEqual(s["http1_requests"], 0, "ringway fell back to HTTP/1.1: %s" % brief(s))
        self.assertEqual(s["requests"], 0, brief(s))


# ---------------------------------------------------------------------------------------------
# nghttpd (nghttp2's server) as the backend


class Nghttpd:
    """nghttpd serving `docroot` on 127.0.0.1 (cleartext, or TLS with the backend.test
    certificate), verbose into a log file, echoing uploads, with a response trailer."""

    def __init__(self, workdir, docroot, certs=None, name="nghttpd"):
        self.name = name
        self.port = harness.free_port()
        self.log_path = os.path.join(workdir, "%s.log" % name)
        args = ["nghttpd", "-v", "-a", HOST, "-d", docroot, "--echo-upload",
                "--trailer", "x-nghttpd: yes"]
        if certs is None:
            args += ["--no-tls", str(self.port)]
        else:
            args += [str(self.port), certs.key("backend"), certs.pem("backend")]
        with open(self.log_path, "wb") as log:
            self.proc = harness.spawn(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    harness.kill_proc(self.proc)
                    raise AssertionError("nghttpd did not start:\n%s"
                                         % harness.tail(self.log_path))
                time.sleep(0.05)

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def log(self):
        return harness.read_file(self.log_path)

    def h2_connections(self):
        """HTTP/2 connections: those that sent a SETTINGS frame (the start-up probe, which
        connects and leaves, is not one)."""
        return set(re.findall(r"\[id=(\d+)\] \[[ 0-9.]+\] recv SETTINGS frame", self.log()))

    def requests(self):
        return re.findall(r"recv \(stream_id=\d+\) :path: (\S+)", self.log())

    def stop(self):
        harness.kill_proc(self.proc)

    def logs(self):
        return "--- nghttpd ---\n%s" % harness.tail(self.log_path, 3000)


class NghttpdTest(H2UpstreamTest):
    def setUp(self):
        super().setUp()
        need("nghttpd")
        self.docroot = os.path.join(self.workdir, "htdocs")
        os.makedirs(self.docroot)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write("hello from nghttpd\n")
        self.big_n = 3 * MiB + 5
        harness.write_pattern_file(os.path.join(self.docroot, "big.bin"), self.big_n)

    def start_nghttpd(self, tls=False):
        self.ng = Nghttpd(self.workdir, self.docroot,
                          certs=test_tls.certs() if tls else None)
        self.backends.append(self.ng)
        options = {"tls": tls_block(test_tls.certs())} if tls else {}
        self.proxy([h2_upstream("ng", [self.ng.address], "h2" if tls else "h2c", **options)])

    def check_files(self):
        r = self.get("/index.html")
        self.assertEqual((r.status, r.body), (200, b"hello from nghttpd\n"), r)
        r = self.get("/big.bin")
        self.assertEqual((r.status, len(r.body), harness.sha256(r.body)),
                         (200, self.big_n, pattern_sha(self.big_n)), r)
        self.assertEqual(self.get("/missing").status, 404)
        need_h2()
        c = self.client()
        st = c.get("/big.bin", keep_body=False, headers=[("te", "trailers")])
        self.assertEqual((st.status, st.length, st.digest()),
                         (200, self.big_n, pattern_sha(self.big_n)), st)
        self.assertEqual(field(st.trailers or [], "x-nghttpd"), ["yes"], st)
        # Uploads echoed back, from both kinds of client.
        body = harness.pattern(1000000)
        r = harness.request(self.port, "POST", "/echo", body=body)
        self.assertEqual((r.status, len(r.body), harness.sha256(r.body)),
                         (200, len(body), harness.sha256(body)), r)
        st = c.wait(c.request("POST", "/echo", body=2 * MiB, keep_body=False), timeout=20)
        self.assertEqual((st.status, st.length, st.digest()),
                         (200, 2 * MiB, pattern_sha(2 * MiB)), st)

    def test_nghttpd_h2c(self):
        self.start_nghttpd()
        self.check_files()
        need("h2load")
        r = harness.run_cmd(["h2load", "-c", "10", "-m", "20", "-n", "400",
                             self.url("/index.html")], timeout=60)
        out = text(r.stdout)
        self.assertEqual(r.returncode, 0, out + text(r.stderr))
        self.assertIn("status codes: 400 2xx", out)
        conns = self.ng.h2_connections()
        print("\n    nghttpd: %d requests over %d connections"
              % (len(self.ng.requests()), len(conns)), flush=True)
        self.assertLessEqual(len(conns), 4, sorted(conns))
        self.assertEqual(self.ng.requests().count("/index.html"), 401)

    def test_nghttpd_h2_over_tls(self):
        self.start_nghttpd(tls=True)
        self.check_files()
        self.assertLessEqual(len(self.ng.h2_connections()), 2)


if __name__ == "__main__":
    harness.main()
