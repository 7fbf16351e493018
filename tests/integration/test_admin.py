"""The admin listener end to end: health and readiness endpoints, the status, upstreams and
config documents, the Prometheus metrics page, the API's error answers and its token, and
configuration reloads (POST /api/v1/reload, SIGHUP, global.watch_config), also under load.

Every ringway here gets an admin listener of its own (start_ringway(admin=True): --admin on a
free 127.0.0.1 port, rw.admin_port). The metrics page is parsed whole, twice: by a strict
line-by-line reader here (every sample under a TYPE declared before it, no family twice, no
series twice, histograms cumulative with +Inf equal to _count) and by prometheus_client's
parser (python3-prometheus-client, as Debian ships it: run with /usr/bin/python3). Counters are
checked by how much they move across a scripted series of requests, not by absolute values.
"""

import json
import math
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import threading
import time
import unittest

import harness
from harness import HOST

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover
    text_string_to_metric_families = None


TOKEN = "s3cret-admin-token-0123456789"
# Active checks fast enough to see a state change within a second.
FAST_CHECKS = {"type": "tcp", "interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 2}
NO_CHECKS = {"enabled": False}
NO_PASSIVE = {"consecutive_failures": 0}

FAMILIES = {
    # family (as the TYPE line names it) -> type
    "ringway_build_info": "gauge",
    "ringway_requests_total": "counter",
    "proxy_requests_total": "counter",
    "ringway_request_duration_seconds": "histogram",
    "proxy_latency_seconds": "histogram",
    "ringway_upstream_connect_seconds": "histogram",
    "ringway_upstream_ttfb_seconds": "histogram",
    "ringway_upstream_connect_failures_total": "counter",
    "ringway_retries_total": "counter",
    "ringway_retry_budget_denied_total": "counter",
    "ringway_no_usable_backend_total": "counter",
    "ringway_received_bytes_total": "counter",
    "ringway_sent_bytes_total": "counter",
    "ringway_connections": "gauge",
    "ringway_connections_total": "counter",
    "ringway_tls_handshakes_total": "counter",
    "ringway_tls_handshake_failures_total": "counter",
    "ringway_backend_up": "gauge",
    "health_check_status": "gauge",
    "ringway_backend_ejected": "gauge",
    "ringway_backend_ejections_total": "counter",
    "ringway_health_checks_total": "counter",
    "ringway_backend_in_flight": "gauge",
    "ringway_backend_requests_total": "counter",
    "ringway_backend_ttfb_seconds": "summary",
    "ringway_config_reloads_total": "counter",
    "ringway_config_last_reload_success_timestamp_seconds": "gauge",
    "ringway_config_generation": "gauge",
    "api_requests_total": "counter",
    "api_latency_seconds": "histogram",
}
BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
           60]


def need_prometheus():
    if text_string_to_metric_families is None:
        raise unittest.SkipTest("prometheus_client is not importable (apt-get install "
                                "python3-prometheus-client; run with /usr/bin/python3)")


def ringway_version():
    r = harness.run_cmd([harness.ringway_binary(), "--version"], timeout=10)
    m = re.match(r"ringway (\S+)", r.stdout.decode())
    assert m, r
    return m.group(1)


# ---------------------------------------------------------------------------------------------
# The metrics page


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"(%s)(?:\{(.*)\})? (\S+)(?: (-?\d+))?\Z" % _NAME)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|\Z)')


def _labels(text):
    out = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise AssertionError("bad label set {%s}" % text)
        if m.group(1) in out:
            raise AssertionError("label %s twice in {%s}" % (m.group(1), text))
        out[m.group(1)] = (m.group(2).replace("\\n", "\n").replace('\\"', '"')
                           .replace("\\\\", "\\"))
        pos = m.end()
        if m.group(3) == "" and pos < len(text):
            raise AssertionError("bad label set {%s}" % text)
    return out


def _family_of(sample, declared):
    """The declared family a sample name belongs to (suffixes by type), or None."""
    if sample in declared and declared[sample] in ("counter", "gauge", "untyped"):
        return sample
    for suffix, types in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                          ("_count", ("histogram", "summary"))):
        if sample.endswith(suffix):
            base = sample[:-len(suffix)]
            if declared.get(base) in types:
                return base
    if declared.get(sample) == "summary":
        return sample  # quantiles
    return None


class Metrics:
    """One scrape, checked strictly; samples by (name, labels)."""

    def __init__(self, text):
        self.text = text
        self.types = {}     # family -> type
        self.samples = {}   # (sample name, sorted label items) -> value
        self._strict(text)
        # The reference parser must take the page whole too.
        need_prometheus()
        parsed = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                parsed[(s.name, tuple(sorted(s.labels.items())))] = s.value
        if parsed != self.samples:
            diff = set(parsed.items()) ^ set(self.samples.items())
            raise AssertionError("prometheus_client reads the page differently: %r"
                                 % sorted(diff)[:10])

    def _strict(self, text):
        if not text.endswith("\n"):
            raise AssertionError("the page does not end with a newline")
        helps = set()
        current = None
        closed = set()  # families whose samples are over
        for n, line in enumerate(text.split("\n")[:-1], 1):
            where = "line %d %r" % (n, line)
            if line.startswith("#"):
                m = re.match(r"# (HELP|TYPE) (%s) (.*)\Z" % _NAME, line)
                if not m:
                    if line.startswith("# HELP") or line.startswith("# TYPE"):
                        raise AssertionError("bad comment " + where)
                    continue
                kind, name, rest = m.groups()
                if kind == "HELP":
                    if name in helps:
                        raise AssertionError("HELP twice for %s: %s" % (name, where))
                    helps.add(name)
                else:
                    if name in self.types:
                        raise AssertionError("TYPE twice for %s: %s" % (name, where))
                    if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise AssertionError("unknown type " + where)
                    self.types[name] = rest
                    if current is not None:
                        closed.add(current)
                    current = name
                continue
            if not line.strip():
                raise AssertionError("empty line " + where)
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError("bad sample " + where)
            name, labels, value = m.group(1), _labels(m.group(2) or ""), m.group(3)
            fam = _family_of(name, self.types)
            if fam is None:
                raise AssertionError("sample of no declared family: " + where)
            if fam != current or fam in closed:
                raise AssertionError("sample away from its family %s: %s" % (fam, where))
            try:
                v = float(value)
            except ValueError:
                raise AssertionError("bad value " + where)
            if math.isnan(v) or v < 0:
                raise AssertionError("negative or NaN value " + where)
            if self.types[fam] == "counter" and not name.endswith("_total"):
                raise AssertionError("counter sample without _total: " + where)
            key = (name, tuple(sorted(labels.items())))
            if key in self.samples:
                raise AssertionError("series twice: " + where)
            self.samples[key] = v
        for fam, t in self.types.items():
            if fam not in helps:
                raise AssertionError("family %s without HELP" % fam)
            if t == "histogram":
                self._check_histogram(fam)

    def _check_histogram(self, fam):
        groups = {}
        for (name, labels), v in self.samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                groups.setdefault(tuple(sorted(d.items())), []).append(
                    (math.inf if le == "+Inf" else float(le), v))
        for labels, buckets in groups.items():
            buckets.sort()
            bounds = [b for b, _ in buckets]
            if bounds != BUCKETS + [math.inf]:
                raise AssertionError("%s%r: buckets %r" % (fam, labels, bounds))
            counts = [c for _, c in buckets]
            if counts != sorted(counts):
                raise AssertionError("%s%r: buckets not cumulative: %r" % (fam, labels, counts))
            count = self.samples.get((fam + "_count", labels))
            if count != counts[-1]:
                raise AssertionError("%s%r: _count %r, +Inf bucket %r"
                                     % (fam, labels, count, counts[-1]))
            if (fam + "_sum", labels) not in self.samples:
                raise AssertionError("%s%r without _sum" % (fam, labels))

    def get(self, name, **labels):
        """The sample with exactly these labels; 0 if absent (a counter not yet counted)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0)

    def has(self, name, **labels):
        return (name, tuple(sorted(labels.items()))) in self.samples

    def series(self, name):
        """[(labels dict, value)] of every sample named `name`."""
        return [(dict(l), v) for (n, l), v in self.samples.items() if n == name]

    def total(self, name, **labels):
        """Sum over the samples named `name` whose labels include `labels`."""
        return sum(v for l, v in self.series(name)
                   if all(l.get(k) == x for k, x in labels.items()))


# ---------------------------------------------------------------------------------------------
# Clients


class CountingConn(harness.Conn):
    """A Conn that counts the bytes it sends and receives."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = 0
        self.received = 0

    def send(self, data):
        self.sent += len(data)
        super().send(data)

    def _recv(self, deadline):
        before = len(self.buf)
        more = super()._recv(deadline)
        self.received += len(self.buf) - before
        return more


def tls_context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def tls_get(port, ctx, session=None):
    """One GET over TLS; (status line, the session, whether it was resumed, TLS version)."""
    raw = socket.create_connection((HOST, port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0], s.session, s.session_reused, s.version()


def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    assert m, out
    return int(m.group(1))


class AdminTest(harness.ProxyTest):
    def start(self, config_text, workers=1, ready=True, **kw):
        """ringway with an admin listener; with ready=True, once /readyz says so (start-up
        done, the first round of health checks made)."""
        rw = self.start_ringway(config_text, workers=workers, admin=True, **kw)
        if ready:
            self.assertTrue(harness.wait_for(
                lambda: self.api(rw, "GET", "/readyz").status == 200, 10, interval=0.02),
                "not ready within 10 s: %r" % self.api(rw, "GET", "/readyz"))
        return rw

    def api(self, rw, method, target, body=None, token=None, headers=(), timeout=10,
            content_type="application/json"):
        hs = list(headers)
        if token is not None:
            hs.append(("Authorization", "Bearer " + token))
        if isinstance(body, (dict, list, int, str)) and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None and content_type:
            hs.append(("Content-Type", content_type))
        return harness.request(rw.admin_port, method, target, host="127.0.0.1", headers=hs,
                               body=body, timeout=timeout)

    def get_json(self, rw, target):
        r = self.api(rw, "GET", target)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        return r.json()

    def status(self, rw):
        return self.get_json(rw, "/api/v1/status")

    def upstreams(self, rw):
        return {u["name"]: {b["address"]: b for b in u["backends"]}
                for u in self.get_json(rw, "/api/v1/upstreams")}

    def scrape(self, rw, path="/metrics"):
        need_prometheus()
        r = self.api(rw, "GET", path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return Metrics(r.body.decode("utf-8"))

    def wait_metric(self, rw, predicate, timeout=5, what="metrics"):
        """Scrapes until predicate(Metrics) holds; returns that scrape."""
        last = [None]

        def check():
            last[0] = self.scrape(rw)
            return predicate(last[0])
        ok = harness.wait_for(check, timeout, interval=0.05)
        self.assertTrue(ok, "%s never held; last page:\n%s" % (what, last[0].text[-4000:]))
        return last[0]

    def error_shape(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        doc = r.json()
        self.assertEqual(sorted(doc), ["error", "hint"], doc)
        self.assertTrue(doc["error"] and doc["hint"], doc)
        return doc

    def write_config(self, rw, text):
        with open(rw.config_path, "w") as f:
            f.write(text)

    def reload(self, rw, expect=200, **kw):
        r = self.api(rw, "POST", "/api/v1/reload", **kw)
        self.assertEqual(r.status, expect, r)
        return r.json()


def site(upstream="pool", routes=None, default=False, name="site", names=("localhost",), **kw):
    s = {"name": name, "server_name": list(names), "upstream": upstream}
    if default:
        s["default"] = True
    if routes:
        s["routes"] = list(routes)
    s.update(kw)
    return s


def served_by(r):
    return r.header("X-Backend")


# ---------------------------------------------------------------------------------------------
# 1. Endpoints


class EndpointsTest(AdminTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()

    def test_health_endpoints(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        r = self.api(rw, "GET", "/api/v1/health")
        self.assertEqual((r.status, r.body), (200, b"OK"), r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        r = self.api(rw, "GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"), r)
        ready = harness.wait_for(lambda: self.api(rw, "GET", "/readyz").status == 200, 5)
        self.assertTrue(ready)
        r = self.api(rw, "GET", "/readyz")
        self.assertEqual(r.body, b"ready\n", r)
        self.assertIs(self.status(rw)["ready"], True)
        # Both metrics paths serve the same page.
        a = self.scrape(rw, "/metrics")
        b = self.scrape(rw, "/api/v1/metrics")
        self.assertEqual(set(a.types), set(b.types))

    def test_readyz_waits_for_the_first_health_round(self):
        slow = self.start_backend("slow", extra_args=["--delay-ms", "2000"])
        checks = {"type": "http", "path": "/health", "interval": "10s", "timeout": "5s"}
        rw = self.start(harness.simple_config(self.port, [slow],
                                              upstream_options={"health_check": checks}),
                        ready=False)
        r = self.api(rw, "GET", "/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.body.startswith(b"not ready: "), r)
        self.assertIn(b"health check", r.body)
        self.assertIs(self.status(rw)["ready"], False)
        # The listeners serve meanwhile: readiness is advice for load balancers.
        self.assertEqual(harness.request(self.port, "GET", "/", timeout=10).status, 200)
        self.assertTrue(harness.wait_for(
            lambda: self.api(rw, "GET", "/readyz").status == 200, 10))
        self.assertEqual(self.api(rw, "GET", "/readyz").body, b"ready\n")
        self.assertIs(self.status(rw)["ready"], True)

    def test_readyz_while_draining(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        self.assertTrue(harness.wait_for(
            lambda: self.api(rw, "GET", "/readyz").status == 200, 5))
        slow = []
        t = threading.Thread(target=lambda: slow.append(
            harness.request(self.port, "GET", "/slow?ms=2000", timeout=10)))
        t.start()
        self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["pool"][self.web.address]["in_flight"] == 1, 2))
        rw.signal(signal.SIGTERM)
        # The admin listener stays while the request finishes, and says why it is not ready.
        got = harness.wait_for(lambda: self.api(rw, "GET", "/readyz").status == 503, 1.5)
        self.assertTrue(got)
        r = self.api(rw, "GET", "/readyz")
        self.assertEqual((r.status, r.body), (503, b"not ready: draining\n"), r)
        self.assertIs(self.status(rw)["ready"], False)
        self.assertEqual(self.api(rw, "GET", "/healthz").status, 200)
        t.join(10)
        self.assertEqual([x.status for x in slow], [200])
        self.assertEqual(rw.wait(10), 0)

    def test_status_document(self):
        cfg = harness.simple_config(self.port, [self.web], log={"level": "warn"})
        rw = self.start(cfg, workers=2)
        st = self.status(rw)
        self.assertEqual(sorted(st), sorted(["version", "config", "generation", "workers",
                                             "uptime_seconds", "reloads", "ready",
                                             "log_level"]), st)
        self.assertEqual(st["version"], ringway_version(), st)
        self.assertEqual(st["config"], rw.config_path)
        self.assertEqual(st["generation"], 1)
        self.assertEqual(st["workers"], 2)
        self.assertEqual(st["reloads"], {"ok": 0, "failed": 0})
        self.assertEqual(st["log_level"], "warn")
        self.assertIsInstance(st["uptime_seconds"], int)
        self.assertLessEqual(st["uptime_seconds"], 5)
        time.sleep(1.1)
        self.assertGreaterEqual(self.status(rw)["uptime_seconds"], 1)

    def test_upstreams_document(self):
        other = self.start_backend("other")
        dead = self.closed_port()
        cfg = harness.config(
            [("main", self.port)],
            [site(default=True, routes=[{"path": "/o/", "upstream": "second"}])],
            [harness.upstream("pool", [self.web, dead], weights=[3, 1], health_check=NO_CHECKS,
                              passive_health=NO_PASSIVE, retry={"tries": 1}),
             harness.upstream("second", [other])])
        rw = self.start(cfg)
        ups = self.upstreams(rw)
        self.assertEqual(sorted(ups), ["pool", "second"])
        self.assertEqual(sorted(ups["pool"]), sorted([self.web.address, dead]))
        web = ups["pool"][self.web.address]
        self.assertEqual(sorted(web), sorted(["id", "state", "address", "weight", "health",
                                              "ejected", "ejections", "in_flight", "requests",
                                              "mean_ttfb_ms"]))
        self.assertEqual((web["id"], web["state"]), ("pool-" + self.web.address, "ready"))
        self.assertEqual((web["weight"], ups["pool"][dead]["weight"]), (3, 1))
        self.assertEqual((web["health"], web["ejected"], web["ejections"], web["in_flight"],
                          web["requests"], web["mean_ttfb_ms"]), ("up", False, 0, 0, 0, None))
        for _ in range(3):
            self.assertEqual(harness.request(self.port, "GET", "/o/x").status, 200)
        statuses = [harness.request(self.port, "GET", "/slow?ms=20").status for _ in range(8)]
        # Smooth weighted round robin, 3:1: 6 to web and 2 to the port that refuses (502).
        self.assertEqual(sorted(statuses), [200] * 6 + [502] * 2, statuses)
        ups = self.upstreams(rw)
        web = ups["pool"][self.web.address]
        self.assertEqual(web["requests"], 6, web)
        self.assertEqual(web["in_flight"], 0, web)
        self.assertGreaterEqual(web["mean_ttfb_ms"], 20, web)
        self.assertLess(web["mean_ttfb_ms"], 2000, web)
        self.assertEqual(ups["pool"][dead]["requests"], 2, ups)
        self.assertEqual(ups["second"][other.address]["requests"], 3, ups)

    def test_in_flight_is_counted(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        done = []
        t = threading.Thread(target=lambda: done.append(
            harness.request(self.port, "GET", "/slow?ms=1500").status))
        t.start()
        try:
            self.assertTrue(harness.wait_for(
                lambda: self.upstreams(rw)["pool"][self.web.address]["in_flight"] == 1, 1.2),
                self.upstreams(rw))
            m = self.scrape(rw)
            self.assertEqual(m.get("ringway_backend_in_flight", upstream="pool",
                                   backend=self.web.address), 1)
        finally:
            t.join(10)
        self.assertEqual(done, [200])
        self.assertEqual(self.upstreams(rw)["pool"][self.web.address]["in_flight"], 0)

    def test_config_document(self):
        cfg = harness.config([("main", self.port)],
                             [site(default=True, routes=[{"path": "/api/", "upstream": "pool"}])],
                             [harness.upstream("pool", [self.web], algorithm="least_request")])
        rw = self.start(cfg)
        doc = self.get_json(rw, "/api/v1/config")
        text = json.dumps(doc)
        self.assertIn('"127.0.0.1:%d"' % self.port, text)
        self.assertIn(self.web.address, text)
        self.assertIn("least_request", text)
        self.assertIn("/api/", text)
        self.assertEqual(doc.get("generation"), 1, doc)

    def test_unknown_path_and_wrong_method(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        doc = self.error_shape(self.api(rw, "GET", "/api/v1/nope-xyzzy"), 404)
        self.assertIn("/api/v1/nope-xyzzy", doc["error"])
        self.error_shape(self.api(rw, "GET", "/api/v2/status"), 404)
        for method, path, allow in [("POST", "/healthz", "GET"),
                                    ("DELETE", "/api/v1/status", "GET"),
                                    ("PUT", "/metrics", "GET"),
                                    ("GET", "/api/v1/reload", "POST"),
                                    ("PUT", "/api/v1/reload", "POST"),
                                    ("DELETE", "/api/v1/log_level", "GET, PUT"),
                                    ("POST", "/api/v1/upstreams", "GET")]:
            r = self.api(rw, method, path, body=b"" if method != "GET" else None)
            doc = self.error_shape(r, 405)
            self.assertEqual(r.header("Allow"), allow, (method, path, r))
            self.assertIn(method, doc["error"])
        # The index lists the endpoints; / is the dashboard.
        idx = self.get_json(rw, "/api/v1")
        self.assertIn("POST /api/v1/reload", idx["endpoints"])
        self.assertIn("GET /metrics", idx["endpoints"])
        r = self.api(rw, "GET", "/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        self.assertIn("default-src 'none'", r.header("Content-Security-Policy", ""))
        # The API counts by endpoint pattern, never by the raw path.
        m = self.scrape(rw)
        self.assertNotIn("xyzzy", m.text)
        self.assertEqual(m.get("api_requests_total", endpoint="other", code="4xx"), 2)
        self.assertEqual(m.get("api_requests_total", endpoint="/api/v1/reload", code="4xx"), 2)
        self.assertEqual(m.get("api_requests_total", endpoint="/api/v1/upstreams", code="4xx"),
                         1)
        self.assertEqual(m.get("api_latency_seconds_count", endpoint="/healthz"), 1)

    def test_head(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        with harness.Conn(rw.admin_port) as c:
            for path in ("/healthz", "/api/v1/config", "/metrics"):
                get = c.roundtrip("GET", path, host="127.0.0.1")
                head = c.roundtrip("HEAD", path, host="127.0.0.1")
                self.assertEqual(head.status, 200, head)
                self.assertEqual(head.body, b"")
                self.assertEqual(head.header("Content-Type"), get.header("Content-Type"))
                if path != "/metrics":  # (the page changes between the two: api counters)
                    self.assertEqual(int(head.header("Content-Length")), len(get.body), path)
            # No body followed the HEAD answers: the connection is still in step.
            r = c.roundtrip("GET", "/api/v1/health", host="127.0.0.1")
            self.assertEqual((r.status, r.body), (200, b"OK"))


# ---------------------------------------------------------------------------------------------
# 2. Metrics


class MetricsTest(AdminTest):
    def test_page_has_every_family(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web]))
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        m = self.scrape(rw)
        for fam, t in FAMILIES.items():
            self.assertEqual(m.types.get(fam), t, "family %s: %r" % (fam, m.types.get(fam)))
        self.assertEqual(m.series("ringway_build_info"), [({"version": ringway_version()}, 1)])
        self.assertEqual(m.get("ringway_config_generation"), 1)
        now = time.time()
        self.assertLess(abs(m.get("ringway_config_last_reload_success_timestamp_seconds") - now),
                        30)
        for fam in ("ringway_tls_handshakes_total",):
            self.assertEqual(sorted((l["version"], l["resumed"]) for l, _ in m.series(fam)),
                             [("1.2", "false"), ("1.2", "true"), ("1.3", "false"),
                              ("1.3", "true")])
        # Every labelled family names what its labels say.
        self.assertTrue(m.has("ringway_backend_up", upstream="pool", backend=web.address))
        self.assertTrue(m.has("ringway_connections", listener="main", protocol="http1"))
        self.assertTrue(m.has("ringway_connections", listener="main", protocol="h2"))
        self.assertTrue(m.has("ringway_upstream_connect_failures_total", upstream="pool"))

    def test_request_counters(self):
        web = self.start_backend("web")
        port = self.free_port()
        # No default server: an unknown Host is answered 404 by ringway, under server "-".
        cfg = harness.config(
            [("main", port)],
            [site(), site(name="redir", names=["redir.test"], redirect_https=True)],
            [harness.upstream("pool", [web])])
        rw = self.start(cfg, workers=2)
        before = self.scrape(rw)
        script = [("localhost", "/", 200)] * 3 + [("localhost", "/status/404", 404)] * 2 + \
            [("unknown.test", "/", 404), ("redir.test", "/x", 301)]
        sent = received = 0
        for host, target, status in script:
            with CountingConn(port) as c:
                r = c.roundtrip("GET", target, host=host)
                self.assertEqual(r.status, status, (host, target, r))
                sent += c.sent
                received += c.received
        expect = {("site", "pool", "2xx"): 3, ("site", "pool", "4xx"): 2,
                  ("-", "-", "4xx"): 1, ("redir", "-", "3xx"): 1}

        def moved(m):
            out = {}
            for labels, v in m.series("ringway_requests_total"):
                key = (labels["server"], labels["upstream"], labels["code"])
                d = v - before.get("ringway_requests_total", **labels)
                if d:
                    out[key] = d
            return out
        after = self.wait_metric(rw, lambda m: moved(m) == expect, what="request counts")
        # Counting is done once the responses are out: nothing more moves.
        time.sleep(0.3)
        after = self.scrape(rw)
        self.assertEqual(moved(after), expect)
        self.assertEqual(sorted(after.series("proxy_requests_total"), key=repr),
                         sorted(after.series("ringway_requests_total"), key=repr))
        for fam in ("ringway_request_duration_seconds", "proxy_latency_seconds",
                    "ringway_upstream_ttfb_seconds"):
            self.assertEqual(after.get(fam + "_count", upstream="pool") -
                             before.get(fam + "_count", upstream="pool"), 5, fam)
            self.assertGreater(after.get(fam + "_sum", upstream="pool"),
                               before.get(fam + "_sum", upstream="pool"), fam)
            self.assertLess(after.get(fam + "_sum", upstream="pool"), 5, fam)
        self.assertEqual(after.get("ringway_backend_requests_total", upstream="pool",
                                   backend=web.address), 5)
        self.assertEqual(after.get("ringway_backend_ttfb_seconds_count", upstream="pool",
                                   backend=web.address), 5)
        # A fresh backend connection or a pooled one: one connect at least, at most one each.
        connects = after.get("ringway_upstream_connect_seconds_count", upstream="pool")
        self.assertTrue(1 <= connects <= 5, connects)
        # Every byte each way, exactly.
        self.assertEqual(after.get("ringway_received_bytes_total", listener="main") -
                         before.get("ringway_received_bytes_total", listener="main"), sent)
        self.assertEqual(after.get("ringway_sent_bytes_total", listener="main") -
                         before.get("ringway_sent_bytes_total", listener="main"), received)
        self.assertEqual(after.get("ringway_connections_total", listener="main",
                                   protocol="http1") -
                         before.get("ringway_connections_total", listener="main",
                                    protocol="http1"), len(script))
        self.assertEqual(after.get("ringway_connections_total", listener="main",
                                   protocol="h2"), 0)
        self.assertEqual(web.stats()["requests"], 5)

    def client_gone(self, leave):
        """A request whose client goes before the answer (leave(port) sends it and goes) is
        counted once, under code "none"."""
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web]))
        leave(port, lambda: self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["pool"][web.address]["in_flight"] == 1, 2)))
        m = self.wait_metric(rw, lambda m: m.get("ringway_requests_total", server="site",
                                                 upstream="pool", code="none") == 1,
                             what="code none")
        time.sleep(0.7)  # (the backend's answer comes meanwhile, to nobody)
        m = self.scrape(rw)
        self.assertEqual(m.total("ringway_requests_total"), 1, m.series("ringway_requests_total"))
        self.assertEqual(m.get("ringway_backend_in_flight", upstream="pool",
                               backend=web.address), 0)

    def test_client_gone_h1(self):
        def leave(port, in_flight):
            c = harness.Conn(port)
            c.request("GET", "/slow?ms=500")
            in_flight()
            # Gone with a reset: no answer can reach it.
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        self.client_gone(leave)

    def test_client_gone_h2(self):
        import test_http2
        test_http2.need_h2()

        def leave(port, in_flight):
            client = test_http2.H2Client(port)
            try:
                st = client.request("GET", "/slow?ms=500")
                in_flight()
                client.h2.reset_stream(st.sid, error_code=8)  # CANCEL
                client.flush()
                time.sleep(0.2)
            finally:
                client.sock.close()
        self.client_gone(leave)

    def test_connections_gauge(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web]), workers=2)

        def open_now(m):
            return m.get("ringway_connections", listener="main", protocol="http1")
        self.wait_metric(rw, lambda m: open_now(m) == 0, what="no connection open")
        c1, c2 = harness.Conn(port), harness.Conn(port)
        try:
            for c in (c1, c2):
                self.assertEqual(c.roundtrip("GET", "/").status, 200)
            m = self.scrape(rw)
            self.assertEqual(open_now(m), 2, m.series("ringway_connections"))
            c1.close()
            self.wait_metric(rw, lambda m: open_now(m) == 1, what="one connection open")
            self.assertEqual(c2.roundtrip("GET", "/").status, 200)
            c2.close()
            m = self.wait_metric(rw, lambda m: open_now(m) == 0, what="no connection open")
            self.assertEqual(m.get("ringway_connections", listener="main", protocol="h2"), 0)
        finally:
            c1.close()
            c2.close()

    def test_h2_connections(self):
        if not shutil.which("curl"):
            raise unittest.SkipTest("curl is not installed")
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web]))
        before = self.scrape(rw)
        for _ in range(2):
            r = harness.run_cmd(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
                                 "-w", "%{http_version} %{http_code}",
                                 "http://127.0.0.1:%d/" % port], timeout=20)
            self.assertEqual(r.stdout, b"2 200", r)

        def h2_total(m):
            return m.get("ringway_connections_total", listener="main", protocol="h2")
        after = self.wait_metric(rw, lambda m: h2_total(m) == 2 and m.get(
            "ringway_requests_total", server="site", upstream="pool", code="2xx") == 2,
            what="two h2 connections and requests")
        self.assertEqual(after.get("ringway_connections", listener="main", protocol="h2"), 0)
        self.wait_metric(rw, lambda m: m.total("ringway_connections") == 0,
                         what="no connection open after the h2 ones")
        self.assertEqual(after.get("ringway_request_duration_seconds_count", upstream="pool"), 2)
        self.assertGreater(after.get("ringway_received_bytes_total", listener="main"),
                           before.get("ringway_received_bytes_total", listener="main") + 24 * 2)
        # One kept open shows in the gauge until it closes.
        import test_http2
        test_http2.need_h2()
        client = test_http2.H2Client(port)
        try:
            self.wait_metric(rw, lambda m: m.get("ringway_connections", listener="main",
                                                 protocol="h2") == 1, what="one h2 open")
        finally:
            client.sock.close()
        self.wait_metric(rw, lambda m: m.get("ringway_connections", listener="main",
                                             protocol="h2") == 0, what="no h2 open")

    def test_backend_health_metrics(self):
        web, spare = self.start_backends("web", "spare")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web, spare],
                                              upstream_options={"health_check": FAST_CHECKS}))
        lab = {"upstream": "pool", "backend": web.address}
        m = self.wait_metric(rw, lambda m: m.get("ringway_health_checks_total", result="ok",
                                                 **lab) >= 2, what="two good checks")
        self.assertEqual(m.get("ringway_backend_up", **lab), 1)
        self.assertEqual(m.get("health_check_status", **lab), 1)
        self.assertEqual(m.get("ringway_health_checks_total", result="failed", **lab), 0)
        web.stop()
        m = self.wait_metric(rw, lambda m: m.get("ringway_backend_up", **lab) == 0, timeout=5,
                             what="backend_up 0 after the kill")
        self.assertEqual(m.get("health_check_status", **lab), 0)
        failed = m.get("ringway_health_checks_total", result="failed", **lab)
        ok = m.get("ringway_health_checks_total", result="ok", **lab)
        self.assertGreaterEqual(failed, 2)
        self.assertEqual(self.upstreams(rw)["pool"][web.address]["health"], "down")
        # The other backend stays up; checks go on counting.
        self.assertEqual(m.get("ringway_backend_up", upstream="pool", backend=spare.address), 1)
        m = self.wait_metric(rw, lambda m: m.get("ringway_health_checks_total", result="failed",
                                                 **lab) >= failed + 2, what="more failed checks")
        self.assertEqual(m.get("ringway_health_checks_total", result="ok", **lab), ok)
        # Traffic goes to the spare meanwhile.
        for _ in range(4):
            r = harness.request(port, "GET", "/")
            self.assertEqual((r.status, served_by(r)), (200, "spare"))
        self.restart_backend(web)
        self.wait_metric(rw, lambda m: m.get("ringway_backend_up", **lab) == 1, timeout=5,
                         what="backend_up 1 after the restart")

    def test_connect_failures_and_retries(self):
        web = self.start_backend("web")
        dead = self.closed_port()
        gone = self.closed_port()
        port = self.free_port()
        cfg = harness.config(
            [("main", port)],
            [site(default=True, routes=[{"path": "/gone/", "upstream": "gone"}])],
            [harness.upstream("pool", [dead, web], health_check=NO_CHECKS,
                              passive_health=NO_PASSIVE,
                              retry={"tries": 2, "budget": "100%", "min_retries": 100}),
             harness.upstream("gone", [gone], health_check=FAST_CHECKS)])
        rw = self.start(cfg)
        for _ in range(6):
            r = harness.request(port, "GET", "/")
            self.assertEqual((r.status, served_by(r)), (200, "web"), r)
        m = self.scrape(rw)
        failures = m.get("ringway_upstream_connect_failures_total", upstream="pool")
        self.assertGreaterEqual(failures, 2)
        self.assertLessEqual(failures, 6)
        self.assertEqual(m.get("ringway_retries_total", upstream="pool"), failures)
        self.assertEqual(m.get("ringway_retry_budget_denied_total", upstream="pool"), 0)
        self.assertEqual(m.get("ringway_requests_total", server="site", upstream="pool",
                               code="2xx"), 6)
        self.assertEqual(web.stats()["requests"], 6)
        # An upstream whose only backend is down answers 503 and counts it.
        self.wait_metric(rw, lambda m: m.get("ringway_backend_up", upstream="gone",
                                             backend=gone) == 0,
                         what="gone's backend down")
        for _ in range(3):
            self.assertEqual(harness.request(port, "GET", "/gone/x").status, 503)
        m = self.wait_metric(rw, lambda m: m.get("ringway_requests_total", server="site",
                                                 upstream="gone", code="5xx") == 3)
        self.assertEqual(m.get("ringway_no_usable_backend_total", upstream="gone"), 3)

    def test_passive_ejection(self):
        web = self.start_backend("web")
        bad = self.start_backend("bad", extra_args=["--status", "503"])
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web, bad], upstream_options={
            "health_check": NO_CHECKS, "retry": {"tries": 1},
            "passive_health": {"consecutive_failures": 2, "base_ejection": "30s",
                               "on": [503]}}))
        lab = {"upstream": "pool", "backend": bad.address}
        codes = [harness.request(port, "GET", "/").status for _ in range(4)]
        self.assertEqual(sorted(codes), [200, 200, 503, 503], codes)
        m = self.wait_metric(rw, lambda m: m.get("ringway_backend_ejected", **lab) == 1,
                             what="bad ejected")
        self.assertEqual(m.get("ringway_backend_ejections_total", **lab), 1)
        self.assertEqual(m.get("ringway_backend_ejected", upstream="pool",
                               backend=web.address), 0)
        # Ejection is not the health checks' verdict.
        self.assertEqual(m.get("ringway_backend_up", **lab), 1)
        b = self.upstreams(rw)["pool"][bad.address]
        self.assertEqual((b["ejected"], b["ejections"], b["health"]), (True, 1, "up"))
        for _ in range(4):
            self.assertEqual(harness.request(port, "GET", "/").status, 200)

    def test_tls_handshakes(self):
        web = self.start_backend("web")
        cert, key = os.path.join(self.workdir, "c.pem"), os.path.join(self.workdir, "k.pem")
        r = harness.run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                             "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                             "-keyout", key, "-out", cert], timeout=30)
        self.assertEqual(r.returncode, 0, r)
        port = self.free_port()
        doc = {"global": {"log": {"level": "info"}, "timeouts": {"shutdown": "5s"}},
               "listeners": [{"name": "secure", "bind": "%s:%d" % (HOST, port),
                              "tls": {"cert": cert, "key": key}}],
               "servers": [site(default=True)],
               "upstreams": [harness.upstream("pool", [web])]}
        rw = self.start(harness.to_yaml(doc) + "\n", workers=2)

        def hs(m):
            return {(l["version"], l["resumed"]): v
                    for l, v in m.series("ringway_tls_handshakes_total")}
        before = self.scrape(rw)
        self.assertEqual(set(hs(before).values()), {0})
        seen = {}
        for version, n in ((ssl.TLSVersion.TLSv1_3, 2), (ssl.TLSVersion.TLSv1_2, 1)):
            ctx = tls_context(version)
            session = None
            for i in range(n + 1):
                line, session, reused, ver = tls_get(port, ctx, session if i else None)
                self.assertEqual(line, b"HTTP/1.1 200 OK")
                key_ = ({"TLSv1.3": "1.3", "TLSv1.2": "1.2"}[ver], "true" if reused else "false")
                seen[key_] = seen.get(key_, 0) + 1
        # Python resumes TLS 1.2 and 1.3 sessions here; the counts follow what it saw.
        self.assertEqual(sum(seen.values()), 5, seen)
        self.assertGreaterEqual(seen.get(("1.2", "true"), 0), 1, seen)
        m = self.wait_metric(rw, lambda m: sum(hs(m).values()) == 5, what="5 handshakes")
        got = {k: v for k, v in hs(m).items() if v}
        self.assertEqual(got, seen)
        self.assertEqual(m.get("ringway_tls_handshake_failures_total"), 0)
        self.assertEqual(m.get("ringway_connections_total", listener="secure",
                               protocol="http1") -
                         before.get("ringway_connections_total", listener="secure",
                                    protocol="http1"), 5)
        # Plain text on the TLS port is a failed handshake.
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        m = self.wait_metric(rw, lambda m: m.get("ringway_tls_handshake_failures_total") == 1,
                             what="one failed handshake")
        self.assertEqual(sum(hs(m).values()), 5)
        self.wait_metric(rw, lambda m: m.total("ringway_connections") == 0,
                         what="no TLS connection open")

    def test_metrics_off(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start(harness.simple_config(port, [web], global_extra={"metrics": False}))
        for _ in range(3):
            self.assertEqual(harness.request(port, "GET", "/").status, 200)
        time.sleep(0.3)
        m = self.scrape(rw)
        for fam in FAMILIES:
            self.assertIn(fam, m.types)
        self.assertEqual(m.total("ringway_requests_total"), 0, m.text)
        self.assertEqual(m.total("ringway_request_duration_seconds_count"), 0)
        self.assertEqual(m.total("ringway_received_bytes_total"), 0)
        self.assertEqual(m.total("ringway_connections_total"), 0)
        self.assertEqual(self.get_json(rw, "/api/v1/config")["metrics"], False)


# ---------------------------------------------------------------------------------------------
# 3. API errors and the token


class ApiErrorsTest(AdminTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()

    def level(self, rw):
        return self.get_json(rw, "/api/v1/log_level")["level"]

    def test_log_level(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        self.assertEqual(self.level(rw), "info")
        r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "debug"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"level": "debug"})
        self.assertEqual(self.level(rw), "debug")
        self.assertEqual(self.status(rw)["log_level"], "debug")
        self.assertTrue(rw.log_lines("log level set to debug"))
        bad = [(b"{", 400, None), (b"", 400, None), (b"[\"level\", \"warn\"]", 400, None),
               (b"\"warn\"", 400, None), (b"{\"level\": \"warn\", \"extra\": 1}", 400, "extra"),
               (b"{\"levle\": \"warn\"}", 400, "levle"), (b"{\"level\": 3}", 400, "level"),
               (b"{\"level\": null}", 400, "level"), (b"{\"level\": \"loud\"}", 422, "loud"),
               (b"{}", 422, "level")]
        for body, status, word in bad:
            r = self.api(rw, "PUT", "/api/v1/log_level", body=body)
            doc = self.error_shape(r, status)
            if word:
                self.assertIn(word, doc["error"], (body, doc))
            self.assertEqual(self.level(rw), "debug", body)
        r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "warn"},
                     content_type="application/json; charset=utf-8")
        self.assertEqual((r.status, r.json()), (200, {"level": "warn"}), r)
        m = self.scrape(rw)
        self.assertEqual(m.get("api_requests_total", endpoint="/api/v1/log_level", code="4xx"),
                         len(bad))
        self.assertEqual(m.get("api_requests_total", endpoint="/api/v1/log_level", code="2xx"),
                         4 + len(bad))
        # A reload sets the config's level again.
        self.reload(rw)
        self.assertEqual(self.level(rw), "info")

    def test_log_level_content_type(self):
        # The body is read as JSON whatever its Content-Type says (curl -d sends
        # application/x-www-form-urlencoded); what is not JSON is refused as such. Browsers
        # cannot use this from another page: the Origin check refuses their changes.
        rw = self.start(harness.simple_config(self.port, [self.web]))
        levels = iter(["warn", "error", "debug", "info", "warn"])
        for ctype in ("text/plain", "application/x-www-form-urlencoded", None,
                      "application/json; charset=utf-8", "multipart/form-data"):
            level = next(levels)
            r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": level},
                         content_type=ctype)
            self.assertEqual((r.status, r.json()), (200, {"level": level}), r)
            self.assertEqual(self.level(rw), level)
        r = self.api(rw, "PUT", "/api/v1/log_level", body=b"level=debug",
                     content_type="application/x-www-form-urlencoded")
        self.error_shape(r, 400)
        self.assertEqual(self.level(rw), "warn")

    def test_browser_requests_from_elsewhere(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        origin = "http://127.0.0.1:%d" % rw.admin_port
        # A change from a page of another origin (CSRF).
        r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "debug"},
                     headers=[("Origin", "http://evil.example")])
        self.error_shape(r, 403)
        r = self.api(rw, "POST", "/api/v1/reload", headers=[("Origin", "null")])
        self.error_shape(r, 403)
        # A name that resolves here but is not this machine's (DNS rebinding).
        r = harness.request(rw.admin_port, "GET", "/api/v1/status", host="evil.example")
        self.error_shape(r, 403)
        self.assertEqual(self.level(rw), "info")
        self.assertEqual(self.status(rw)["reloads"], {"ok": 0, "failed": 0})
        # The dashboard's own origin, and Host names of this machine, are fine.
        r = harness.request(rw.admin_port, "PUT", "/api/v1/log_level",
                            host="127.0.0.1:%d" % rw.admin_port, body=b'{"level":"debug"}',
                            headers=[("Origin", origin), ("Content-Type", "application/json")])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.level(rw), "debug")
        for host in ("localhost", "localhost:%d" % rw.admin_port, "127.0.0.1"):
            r = harness.request(rw.admin_port, "GET", "/api/v1/status", host=host)
            self.assertEqual(r.status, 200, (host, r))

    def test_server_limits(self):
        rw = self.start(harness.simple_config(self.port, [self.web]))
        # A body over 1 MiB: 413, the body is not read.
        with harness.Conn(rw.admin_port) as c:
            c.send(harness.build_request("PUT", "/api/v1/log_level", host="127.0.0.1",
                                         headers=[("Content-Type", "application/json"),
                                                  ("Content-Length", str(2 * harness.MiB))]))
            sender = threading.Thread(target=self._send_quietly,
                                      args=(c.sock, b"x" * (2 * harness.MiB)), daemon=True)
            sender.start()
            r = c.read_response()
            self.error_shape(r, 413)
            self.assertTrue(c.wait_closed(5))
            sender.join(10)
        # 1 MiB exactly is taken (and refused as JSON).
        body = b" " * (harness.MiB - 20) + b'{"level":"error"}'
        r = self.api(rw, "PUT", "/api/v1/log_level", body=body, timeout=20)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.level(rw), "error")
        # A head over 16 KiB: 431.
        r, closed = harness.raw_exchange(rw.admin_port, harness.build_request(
            "GET", "/api/v1/status", host="127.0.0.1", headers=[("X-Pad", "a" * 17000)]))
        self.error_shape(r, 431)
        self.assertTrue(closed)
        # A head just under it is fine.
        r = self.api(rw, "GET", "/healthz", headers=[("X-Pad", "a" * 15000)])
        self.assertEqual(r.status, 200, r)
        # A chunked body: 411.
        r, closed = harness.raw_exchange(rw.admin_port, harness.build_request(
            "PUT", "/api/v1/log_level", host="127.0.0.1",
            headers=[("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")],
            body=b"11\r\n{\"level\":\"debug\"}\r\n0\r\n\r\n"))
        self.error_shape(r, 411)
        self.assertTrue(closed)
        self.assertEqual(self.level(rw), "error")
        # Expect: 100-continue gets its 100 before the body goes.
        with harness.Conn(rw.admin_port) as c:
            body = b'{"level":"info"}'
            c.send(harness.build_request("PUT", "/api/v1/log_level", host="127.0.0.1", headers=[
                ("Content-Type", "application/json"), ("Expect", "100-continue"),
                ("Content-Length", str(len(body)))]))
            ready, _, _ = select.select([c.sock], [], [], 5)
            self.assertTrue(ready, "no 100 Continue")
            c.send(body)
            r = c.read_response()
            self.assertEqual((r.interim, r.status), ([100], 200), r)
        self.assertEqual(self.level(rw), "info")
        self.assertTrue(rw.running())

    @staticmethod
    def _send_quietly(sock, data):
        try:
            sock.sendall(data)
        except OSError:
            pass

    def test_token(self):
        cfg = harness.simple_config(self.port, [self.web],
                                    global_extra={"admin": {"token": TOKEN}})
        rw = self.start(cfg)
        cases = [(None, "needs"), ("wrong-token-0123456789abc", "not right"),
                 (TOKEN[:-1], "not right"), (TOKEN + "x", "not right")]
        for token, words in cases:
            r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "debug"}, token=token)
            doc = self.error_shape(r, 401)
            self.assertIn(words, doc["error"])
            self.assertTrue(r.header("WWW-Authenticate", "").startswith("Bearer"), r)
            r = self.api(rw, "POST", "/api/v1/reload", token=token)
            self.error_shape(r, 401)
        for auth in ("Basic " + TOKEN, "bearer x" + TOKEN, "Bearer", TOKEN):
            r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "debug"},
                         headers=[("Authorization", auth)])
            self.error_shape(r, 401)
        # Nothing changed; reads from loopback need no token.
        self.assertEqual(self.level(rw), "info")
        st = self.status(rw)
        self.assertEqual((st["generation"], st["reloads"]), (1, {"ok": 0, "failed": 0}))
        self.assertFalse(rw.log_lines("reload ("))
        # Every refusal is counted as a 4xx answer of the API.
        m = self.scrape(rw)
        self.assertEqual(m.total("api_requests_total", code="4xx"), 2 * len(cases) + 4)
        # With the token: done.
        r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "debug"}, token=TOKEN)
        self.assertEqual((r.status, r.json()), (200, {"level": "debug"}), r)
        doc = self.reload(rw, token=TOKEN)
        self.assertEqual(doc["generation"], 2)
        # The token is never shown.
        for path in ("/api/v1/config", "/api/v1/status", "/metrics", "/api/v1/upstreams"):
            self.assertNotIn(TOKEN.encode(), self.api(rw, "GET", path).body, path)
        conf = self.get_json(rw, "/api/v1/config")
        admin = conf.get("global", conf).get("admin")
        self.assertEqual(admin["token"], "********", conf)
        # A reload changes the token: the old one is refused from then on.
        token2 = "another-admin-token-9876543210"
        self.write_config(rw, harness.simple_config(self.port, [self.web], global_extra={
            "admin": {"token": token2}}))
        doc = self.reload(rw, token=TOKEN)
        self.assertEqual((doc["generation"], doc["restart_required"]), (3, []))
        self.error_shape(self.api(rw, "PUT", "/api/v1/log_level", body={"level": "warn"},
                                  token=TOKEN), 401)
        r = self.api(rw, "PUT", "/api/v1/log_level", body={"level": "warn"}, token=token2)
        self.assertEqual((r.status, r.json()), (200, {"level": "warn"}), r)

    def validate(self, text):
        path = os.path.join(self.workdir, "check.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = harness.run_cmd([harness.ringway_binary(), "--validate", "--config", path],
                            timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace"), path

    def test_token_and_bind_checked_at_start(self):
        base = harness.simple_config(self.port, [self.web])
        lines = base.splitlines()
        g = lines.index("global:")
        # A short token.
        short = "\n".join(lines[:g + 1] + ['  admin: {token: "short-token"}'] + lines[g + 1:])
        rc, out, path = self.validate(short + "\n")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:%d:\d+: .*token" % (re.escape(path), g + 2))
        self.assertIn("16", out)
        # A bind other machines reach, without a token.
        bind_port = self.free_port()
        open_bind = "\n".join(lines[:g + 1] + ["  admin:", '    bind: "0.0.0.0:%d"' % bind_port]
                              + lines[g + 1:])
        rc, out, path = self.validate(open_bind + "\n")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:%d:\d+: " % (re.escape(path), g + 3))
        self.assertIn("token", out)
        # Start-up refuses it too, and nothing listens.
        env = dict(os.environ)
        env.pop("RINGWAY_ADMIN", None)
        rw = self.start_ringway(open_bind + "\n", wait=False, check_exit=False, env=env)
        self.assertEqual(rw.wait(15), 1, rw.logs())
        self.assertRegex(rw.stderr(), r"%s:%d:\d+: " % (re.escape(rw.config_path), g + 3))
        with self.assertRaises(OSError):
            socket.create_connection((HOST, bind_port), timeout=1).close()
        # --admin on the command line is held to the same rule.
        rw = self.start_ringway(base, wait=False, check_exit=False,
                                extra_args=["--admin", "0.0.0.0:%d" % bind_port])
        self.assertEqual(rw.wait(15), 1, rw.logs())
        self.assertIn("token", rw.stderr())
        # With a token of 16 characters or more it is valid.
        good = "\n".join(lines[:g + 1] + ["  admin:", '    bind: "0.0.0.0:%d"' % bind_port,
                                          '    token: "%s"' % TOKEN] + lines[g + 1:])
        rc, out, _ = self.validate(good + "\n")
        self.assertEqual(rc, 0, out)


# ---------------------------------------------------------------------------------------------
# 4. Reloads


class ReloadTest(AdminTest):
    def setUp(self):
        super().setUp()
        self.a, self.b = self.start_backends("a", "b")
        self.port = self.free_port()

    def cfg(self, backends, routes=None, upstreams=(), listeners=None, global_extra=None,
            **kw):
        return harness.config(listeners or [("main", self.port)],
                              [site(default=True, routes=routes)],
                              [harness.upstream("pool", backends)] + list(upstreams),
                              global_extra=global_extra, **kw)

    def served(self, n=6, target="/", port=None):
        out = []
        for _ in range(n):
            r = harness.request(port or self.port, "GET", target)
            self.assertEqual(r.status, 200, r)
            out.append(served_by(r))
        return out

    def test_post_reload(self):
        rw = self.start(self.cfg([self.a]), workers=2)
        self.assertEqual(set(self.served()), {"a"})
        t0 = time.time()
        # A request in flight finishes on the configuration it started on.
        slow = []
        t = threading.Thread(target=lambda: slow.append(
            harness.request(self.port, "GET", "/slow?ms=1000", timeout=10)))
        t.start()
        self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["pool"][self.a.address]["in_flight"] == 1, 2))
        self.write_config(rw, self.cfg([self.b]))
        doc = self.reload(rw)
        self.assertEqual(doc, {"result": "reloaded", "generation": 2, "restart_required": []})
        self.assertEqual(set(self.served()), {"b"})
        t.join(10)
        self.assertEqual([(r.status, served_by(r)) for r in slow], [(200, "a")])
        st = self.status(rw)
        self.assertEqual((st["generation"], st["reloads"]), (2, {"ok": 1, "failed": 0}))
        self.assertEqual(sorted(self.upstreams(rw)["pool"]), [self.b.address])
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_config_generation"), 2)
        self.assertEqual(m.get("ringway_config_reloads_total", result="ok"), 1)
        self.assertEqual(m.get("ringway_config_reloads_total", result="failed"), 0)
        self.assertGreaterEqual(m.get("ringway_config_last_reload_success_timestamp_seconds"),
                                int(t0))
        # The route's series keeps counting across the reload.
        self.assertEqual(m.get("ringway_requests_total", server="site", upstream="pool",
                               code="2xx"), 6 + 1 + 6)
        # Backends of the old configuration are no longer on the page.
        self.assertFalse(m.has("ringway_backend_up", upstream="pool", backend=self.a.address))
        self.assertTrue(m.has("ringway_backend_up", upstream="pool", backend=self.b.address))
        self.assertTrue(rw.log_lines("reload (POST /api/v1/reload): configuration 2 in use"))

    def test_sighup_reload(self):
        c = self.start_backend("c")
        rw = self.start(self.cfg([self.a]))
        self.assertEqual(set(self.served(target="/api/x")), {"a"})
        self.write_config(rw, self.cfg([self.a], routes=[{"path": "/api/", "upstream": "api"}],
                                       upstreams=[harness.upstream("api", [c])]))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: self.status(rw)["generation"] == 2, 5))
        self.assertEqual(set(self.served(target="/api/x")), {"c"})
        self.assertEqual(set(self.served(target="/other")), {"a"})
        self.assertEqual(self.status(rw)["reloads"], {"ok": 1, "failed": 0})
        self.assertTrue(rw.log_lines("reload (SIGHUP): configuration 2 in use"))
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_requests_total", server="site", upstream="api",
                               code="2xx"), 6)
        # The process is the same one.
        self.assertTrue(rw.running())

    def test_broken_file_is_refused(self):
        rw = self.start(self.cfg([self.a]))
        good = self.cfg([self.b])
        # An unknown key, and a route to an upstream that does not exist.
        lines = good.splitlines()
        u = next(i for i, l in enumerate(lines) if l.strip() == "- name: pool")
        broken = lines[:u + 1] + ["    servres: [\"127.0.0.1:1\"]"] + lines[u + 1:]
        self.write_config(rw, "\n".join(broken) + "\n")
        r = self.api(rw, "POST", "/api/v1/reload")
        doc = self.error_shape(r, 422)
        self.assertRegex(doc["error"], r"\A%s:%d:5: .*servres" % (re.escape(rw.config_path),
                                                                  u + 2))
        self.assertEqual(set(self.served()), {"a"})
        st = self.status(rw)
        self.assertEqual((st["generation"], st["reloads"]), (1, {"ok": 0, "failed": 1}))
        self.assertTrue(rw.log_lines("reload (POST /api/v1/reload) refused, the running "
                                     "configuration stays: %s:%d:5:" % (rw.config_path, u + 2)))
        # A YAML syntax error, through SIGHUP.
        self.write_config(rw, good.replace("servers:\n", "servers: [\n", 1))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: self.status(rw)["reloads"]["failed"] == 2, 5), self.status(rw))
        line = rw.log_lines("reload (SIGHUP) refused, the running configuration stays:")
        self.assertTrue(line)
        self.assertRegex(line[0], r"stays: %s:\d+:\d+: " % re.escape(rw.config_path))
        # A route to an upstream no file names.
        self.write_config(rw, self.cfg([self.b], routes=[{"path": "/x/", "upstream": "nope"}]))
        doc = self.error_shape(self.api(rw, "POST", "/api/v1/reload"), 422)
        self.assertRegex(doc["error"], r"\A%s:\d+:\d+: .*nope" % re.escape(rw.config_path))
        self.assertEqual(set(self.served()), {"a"})
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_config_reloads_total", result="failed"), 3)
        self.assertEqual(m.get("ringway_config_reloads_total", result="ok"), 0)
        self.assertEqual(m.get("ringway_config_generation"), 1)
        # Fixed: taken.
        self.write_config(rw, good)
        self.assertEqual(self.reload(rw)["generation"], 2)
        self.assertEqual(set(self.served()), {"b"})

    def test_listeners_added_and_removed(self):
        rw = self.start(self.cfg([self.a]), workers=2)
        p2 = self.free_port()
        self.write_config(rw, self.cfg([self.a], listeners=[("main", self.port),
                                                            ("extra", p2)]))
        self.reload(rw)
        self.assertEqual(set(self.served(port=p2)), {"a"})
        self.assertEqual(set(self.served()), {"a"})
        # A request in flight on the listener about to go, and a kept-alive connection.
        slow = []
        t = threading.Thread(target=lambda: slow.append(
            harness.request(self.port, "GET", "/slow?ms=1000", timeout=10).status))
        t.start()
        self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["pool"][self.a.address]["in_flight"] == 1, 2))
        self.write_config(rw, self.cfg([self.b], listeners=[("extra", p2)]))
        self.reload(rw)

        def refused():
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return False
            except OSError:
                return True
        self.assertTrue(harness.wait_for(refused, 3), "the removed listener still accepts")
        # Stays refused (every worker closed its socket).
        for _ in range(20):
            self.assertTrue(refused())
        t.join(10)
        self.assertEqual(slow, [200])
        self.assertEqual(set(self.served(port=p2)), {"b"})
        # Listener series stay on the page; the removed one's connections are gone.
        m = self.wait_metric(rw, lambda m: m.get("ringway_connections", listener="main",
                                                 protocol="http1") == 0,
                             what="no connection open on the removed listener")
        self.assertGreaterEqual(m.get("ringway_connections_total", listener="extra",
                                      protocol="http1"), 12)
        # And it comes back.
        self.write_config(rw, self.cfg([self.b], listeners=[("main", self.port),
                                                            ("extra", p2)]))
        self.reload(rw)
        self.assertEqual(set(self.served()), {"b"})

    def test_reload_right_after_start(self):
        # A reload asked for the moment the admin listener accepts is done, or (while start-up
        # finishes) refused as such: never "stopping", nor a 422 that blames the file.
        answers = []
        for _ in range(15):
            port = self.free_port()
            rw = self.start_ringway(self.cfg([self.a], listeners=[("main", port)]), wait=False,
                                    admin=True)
            deadline = time.monotonic() + 10
            while True:
                try:
                    r = self.api(rw, "POST", "/api/v1/reload", timeout=5)
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, rw.logs())
                    self.assertTrue(rw.running(), rw.logs())
                    time.sleep(0.0005)
            answers.append((r.status, r.body[:120]))
            self.assertEqual(rw.stop(), 0)
        wrong = [a for a in answers if a[0] not in (200, 503) or b"stopping" in a[1]]
        self.assertEqual(wrong, [], answers)

    def test_listener_bind_failure_refuses_reload(self):
        rw = self.start(self.cfg([self.a]))
        taken = socket.socket()
        taken.bind((HOST, 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        self.write_config(rw, self.cfg([self.b], listeners=[
            ("main", self.port), ("busy", taken.getsockname()[1])]))
        doc = self.error_shape(self.api(rw, "POST", "/api/v1/reload"), 422)
        self.assertIn("busy", doc["error"])
        self.assertEqual(set(self.served()), {"a"})
        self.assertEqual(self.status(rw)["reloads"], {"ok": 0, "failed": 1})

    def test_restart_required(self):
        g1 = {"workers": 1, "buffers": {"size": "16k", "count": 256}}
        rw = self.start(self.cfg([self.a], global_extra=g1), workers=None)
        self.assertEqual(self.status(rw)["workers"], 1)
        g2 = {"workers": 2, "buffers": {"size": "32k", "count": 256}, "metrics": False}
        self.write_config(rw, self.cfg([self.b], global_extra=g2))
        doc = self.reload(rw)
        self.assertEqual(doc["generation"], 2)
        self.assertEqual(sorted(doc["restart_required"]),
                         ["global.buffers", "global.metrics", "global.workers"])
        # The rest of the file applies; those keep their running values.
        self.assertEqual(set(self.served()), {"b"})
        self.assertEqual(self.status(rw)["workers"], 1)
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_requests_total", server="site", upstream="pool",
                               code="2xx"), 6)
        self.assertTrue(rw.log_lines("configuration 2 in use", "next restart", "global.workers"))
        # A reload that changes none of them says so.
        self.write_config(rw, self.cfg([self.a], global_extra=g1))
        self.assertEqual(self.reload(rw)["restart_required"], [])
        # --workers on the command line wins: global.workers is no restart matter then.
        rw2 = self.start(self.cfg([self.a], global_extra=g1), workers=2)
        self.write_config(rw2, self.cfg([self.a], global_extra=dict(g1, workers=3)))
        self.assertEqual(self.reload(rw2)["restart_required"], [])

    def test_health_state_carried(self):
        dead = self.closed_port()
        opts = {"health_check": FAST_CHECKS, "passive_health": NO_PASSIVE,
                "retry": {"tries": 1}}
        ups = [harness.upstream("pool", [self.a, dead], **opts)]

        def cfg(extra=()):
            return harness.config([("main", self.port)],
                                  [site(default=True, routes=[{"path": "/b/", "upstream": "bee"}]
                                        if extra else None)], ups + list(extra))
        rw = self.start(cfg(), workers=2)
        self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["pool"][dead]["health"] == "down", 5))
        self.write_config(rw, cfg([harness.upstream("bee", [self.b], **opts)]))
        self.reload(rw)
        # Right after the reload, before any new check could have run: still down.
        got = self.upstreams(rw)
        self.assertEqual(got["pool"][dead]["health"], "down", got)
        self.assertEqual(got["pool"][self.a.address]["health"], "up", got)
        self.assertEqual(got["bee"][self.b.address]["health"], "up", got)
        # No request goes to the dead one (a single try each: one would be a 502).
        self.assertEqual(set(self.served(10)), {"a"})
        self.assertEqual(set(self.served(2, target="/b/x")), {"b"})
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_backend_up", upstream="pool", backend=dead), 0)
        self.assertEqual(m.get("ringway_requests_total", server="site", upstream="pool",
                               code="5xx"), 0)
        # A backend that moves to another upstream is a new one there: checked afresh.
        ups2 = [harness.upstream("pool", [self.a], **opts),
                harness.upstream("other", [dead, self.b], **opts)]
        self.write_config(rw, harness.config([("main", self.port)], [site(default=True)], ups2))
        self.reload(rw)
        self.assertTrue(harness.wait_for(
            lambda: self.upstreams(rw)["other"][dead]["health"] == "down", 5))

    def test_watch_config(self):
        g = {"watch_config": True}
        rw = self.start(self.cfg([self.a], global_extra=g))
        self.assertTrue(harness.wait_for(lambda: rw.log_lines("watch_config"), 5))
        # Written in place.
        t0 = time.monotonic()
        self.write_config(rw, self.cfg([self.b], global_extra=g))
        self.assertTrue(harness.wait_for(lambda: self.status(rw)["generation"] == 2, 3,
                                         interval=0.05), self.status(rw))
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.25)  # the debounce
        self.assertEqual(set(self.served()), {"b"})
        self.assertTrue(rw.log_lines("reload (the file changed): configuration 2 in use"))
        # Replaced by a rename, as editors and config managers do; several writes in a burst
        # make one reload.
        tmp = rw.config_path + ".tmp"
        for backends in ([self.b], [self.a, self.b], [self.a]):
            with open(tmp, "w") as f:
                f.write(self.cfg(backends, global_extra=g))
            os.replace(tmp, rw.config_path)
            time.sleep(0.02)
        self.assertTrue(harness.wait_for(lambda: self.status(rw)["generation"] == 3, 3,
                                         interval=0.05), self.status(rw))
        time.sleep(0.6)
        self.assertEqual(self.status(rw)["generation"], 3)
        self.assertEqual(set(self.served()), {"a"})
        # Another file in the directory changes nothing.
        with open(os.path.join(os.path.dirname(rw.config_path), "unrelated.yaml"), "w") as f:
            f.write("x: 1\n")
        time.sleep(0.6)
        self.assertEqual(self.status(rw)["reloads"], {"ok": 2, "failed": 0})
        # A broken edit: refused and counted; the running one serves on.
        self.write_config(rw, self.cfg([self.b], global_extra=g).replace("upstreams:",
                                                                         "upstreams: [", 1))
        self.assertTrue(harness.wait_for(
            lambda: self.status(rw)["reloads"]["failed"] == 1, 3, interval=0.05))
        self.assertEqual(self.status(rw)["generation"], 3)
        self.assertEqual(set(self.served()), {"a"})
        self.assertTrue(rw.log_lines("reload (the file changed) refused"))
        m = self.scrape(rw)
        self.assertEqual(m.get("ringway_config_reloads_total", result="failed"), 1)
        self.assertEqual(m.get("ringway_config_reloads_total", result="ok"), 2)


# ---------------------------------------------------------------------------------------------
# 5. Reloads under load


class ReloadUnderLoadTest(AdminTest):
    SECONDS = 11

    def setUp(self):
        super().setUp()
        for tool in ("wrk", "h2load"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed" % tool)

    def test_reloads_under_load(self):
        a1, a2, b1, b2, c = self.start_backends("a1", "a2", "b1", "b2", "c")
        port = self.free_port()
        pools = {"A": [a1, a2], "B": [b1, b2]}

        def cfg(pool, route):
            return harness.config(
                [("main", port)],
                [site(default=True, routes=[{"path": "/r/", "upstream": route}])],
                [harness.upstream("pool", pools[pool]), harness.upstream("other", [c])])
        rw = self.start(cfg("A", "pool"), workers=2)
        url = "http://127.0.0.1:%d" % port
        results = {}

        def run(name, args):
            try:
                r = harness.run_cmd(args, timeout=self.SECONDS + 40)
                results[name] = (r.returncode, r.stdout.decode("utf-8", "replace") +
                                 r.stderr.decode("utf-8", "replace"))
            except Exception as e:  # a timeout: reported below
                results[name] = (-1, repr(e))
        d = "%ds" % self.SECONDS
        loads = [
            ("wrk keep-alive", ["wrk", "-t1", "-c6", "-d" + d, "--timeout", "5s", url + "/"]),
            ("wrk close", ["wrk", "-t1", "-c3", "-d" + d, "--timeout", "5s",
                           "-H", "Connection: close", url + "/r/x"]),
            ("h2load", ["h2load", "-c4", "-m4", "-D", str(self.SECONDS), "-T", "5",
                        url + "/", url + "/r/y"]),
        ]
        threads = [threading.Thread(target=run, args=l) for l in loads]
        for t in threads:
            t.start()
        started = time.monotonic()
        time.sleep(0.5)
        # 30 reloads that move "pool" between two sets of backends (every 5th with a broken
        # file), 20 that move a route between two upstreams; interleaved, ~150 ms apart.
        ops = []
        for i in range(30):
            ops.append(("pool", i % 5 == 4))
            if i < 20:
                ops.append(("route", False))
        pool, route = "A", "pool"
        good = bad = 0
        answers = []
        for n, (kind, broken) in enumerate(ops):
            if broken:
                text = cfg(pool, route)
                text = (text.replace("servers:", "servres:", 1) if n % 2 else
                        text.replace("upstreams:", "upstreams: [", 1))
            else:
                if kind == "pool":
                    pool = "B" if pool == "A" else "A"
                else:
                    route = "other" if route == "pool" else "pool"
                text = cfg(pool, route)
            self.write_config(rw, text)
            r = self.api(rw, "POST", "/api/v1/reload", timeout=20)
            answers.append(r.status)
            self.assertEqual(r.status, 422 if broken else 200, r)
            if broken:
                bad += 1
            else:
                good += 1
            # ~150 ms apart, on a schedule: a slow reload is not followed by a full pause.
            time.sleep(max(0.0, started + 0.5 + 0.15 * (n + 1) - time.monotonic()))
        reloads_took = time.monotonic() - started
        for t in threads:
            t.join(self.SECONDS + 60)
        self.assertEqual((good, bad), (44, 6))
        # Every reload happened while the load ran.
        self.assertLess(reloads_took, self.SECONDS - 0.5)
        st = self.status(rw)
        self.assertEqual(st["reloads"], {"ok": good, "failed": bad})
        self.assertEqual(st["generation"], 1 + good)

        report = "\n".join("== %s (rc %s)\n%s" % (k, v[0], v[1]) for k, v in results.items())
        for name in ("wrk keep-alive", "wrk close"):
            rc, out = results[name]
            self.assertEqual(rc, 0, report)
            self.assertNotIn("Non-2xx or 3xx responses", out, report)
            self.assertNotIn("Socket errors", out, report)
            self.assertGreater(parse_wrk(out), 200, report)
        rc, out = results["h2load"]
        self.assertEqual(rc, 0, report)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
        self.assertIsNotNone(m, report)
        total, started, done, succeeded, failed, errored, timeouts = map(int, m.groups())
        self.assertEqual((failed, errored, timeouts), (0, 0, 0), report)
        self.assertEqual(succeeded, done, report)
        self.assertGreater(succeeded, 200, report)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        self.assertIsNotNone(codes, report)
        self.assertEqual(codes.group(2, 3, 4), ("0", "0", "0"), report)
        self.assertEqual(int(codes.group(1)), succeeded, report)
        # Every pool took traffic: the reloads did move it.
        for b in (a1, a2, b1, b2, c):
            self.assertGreater(b.stats()["requests"], 20, (b.name, report))
        # The counters agree: no 5xx anywhere, nothing left open, and ringway still serves.
        mt = self.wait_metric(rw, lambda m: m.total("ringway_connections") == 0 and
                              m.total("ringway_backend_in_flight") == 0, timeout=10,
                              what="no connection open nor request in flight after the load")
        self.assertEqual(mt.total("ringway_requests_total", code="5xx"), 0)
        self.assertEqual(mt.total("ringway_requests_total", code="4xx"), 0)
        self.assertEqual(mt.get("ringway_config_reloads_total", result="failed"), bad)
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        self.assertTrue(rw.running())


if __name__ == "__main__":
    harness.main()
