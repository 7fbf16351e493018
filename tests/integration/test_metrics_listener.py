"""The metrics listener (global.admin.metrics_bind): a second admin listener that serves only the
read-only pages (/metrics, /api/v1/metrics, /healthz, /readyz, /api/v1/health), to any Host and
without a token, while the management API and the dashboard stay on global.admin.bind.

Covered: both metrics pages parse with prometheus_client's parser (python3-prometheus-client:
run with /usr/bin/python3) and count the proxied requests; the health pages; the API, the
dashboard and every change answered 404 there (405 for another method on a page it serves); the
admin API unchanged on its own address; a reload that changes metrics_bind keeps the running one
and says a restart is needed; --validate refusing metrics_bind equal to the admin bind with
file:line:col; start-up refusing an address in use; a binary upgrade handing the socket over.
"""

import json
import os
import re
import signal
import socket
import time
import unittest

import harness
from harness import HOST

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover
    text_string_to_metric_families = None


def families(text):
    if text_string_to_metric_families is None:
        raise unittest.SkipTest("prometheus_client is not importable (apt-get install "
                                "python3-prometheus-client; run with /usr/bin/python3)")
    return {f.name: f for f in text_string_to_metric_families(text)}


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


class MetricsListenerTest(harness.ProxyTest):
    def config(self, metrics_port, port=None):
        self.web = getattr(self, "web", None) or self.start_backend("web")
        self.port = port or getattr(self, "port", None) or self.free_port()
        return harness.simple_config(
            self.port, [self.web],
            global_extra={"admin": {"metrics_bind": "%s:%d" % (HOST, metrics_port)}})

    def start(self, **kw):
        self.metrics_port = self.free_port()
        rw = self.start_ringway(self.config(self.metrics_port), admin=True, **kw)
        return rw

    def get(self, port, target, method="GET", host="127.0.0.1", **kw):
        return harness.request(port, method, target, host=host, **kw)

    def assertJsonError(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"), r)
        doc = r.json()
        self.assertIn("error", doc, r)
        self.assertIn("hint", doc, r)
        return doc

    def test_metrics_pages_parse_and_count(self):
        rw = self.start()
        for _ in range(3):
            self.assertEqual(harness.request(self.port, "GET", "/echo").status, 200)
        for path in ("/metrics", "/api/v1/metrics"):
            r = self.get(self.metrics_port, path)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r)
            fams = families(r.body.decode())
            self.assertIn("ringway_build_info", fams)
            self.assertIn("ringway_config_generation", fams)
            requests = fams.get("ringway_requests")  # (the parser drops _total from counters)
            self.assertIsNotNone(requests, sorted(fams))
            self.assertGreaterEqual(sum(s.value for s in requests.samples
                                        if s.name == "ringway_requests_total"), 3)
        # The same page as the admin listener's (bar the counters that moved in between).
        admin = self.get(rw.admin_port, "/metrics")
        self.assertEqual(admin.status, 200)
        self.assertEqual(set(families(admin.body.decode())),
                         set(families(self.get(self.metrics_port, "/metrics").body.decode())))
        # HEAD: the head of GET without the body.
        r = self.get(self.metrics_port, "/metrics", method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""), r)
        self.assertGreater(int(r.header("Content-Length")), 0, r)

    def test_health_pages(self):
        self.start()
        r = self.get(self.metrics_port, "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"), r)
        r = self.get(self.metrics_port, "/api/v1/health")
        self.assertEqual((r.status, r.body), (200, b"OK"), r)
        ready = harness.wait_for(
            lambda: self.get(self.metrics_port, "/readyz").status == 200, 10)
        self.assertTrue(ready, self.get(self.metrics_port, "/readyz"))
        self.assertEqual(self.get(self.metrics_port, "/readyz").body, b"ready\n")

    def test_any_host_and_no_token_needed(self):
        # A scraper names this machine by its own address; the admin listener refuses such a
        # Host (DNS rebinding), the metrics listener serves it.
        rw = self.start()
        r = self.get(self.metrics_port, "/metrics", host="metrics.example.com:9090")
        self.assertEqual(r.status, 200, r)
        r = self.get(self.metrics_port, "/healthz", host="10.0.0.7")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get(rw.admin_port, "/metrics", host="metrics.example.com").status,
                         403)

    def test_api_and_dashboard_are_not_there(self):
        rw = self.start()
        for path in ("/", "/index.html", "/api/v1", "/api/v1/domains", "/api/v1/domains/x.com",
                     "/api/v1/backends", "/api/v1/status", "/api/v1/config",
                     "/api/v1/upstreams", "/api/v1/log_level", "/api/v1/reload", "/nope",
                     "/metrics/", "/METRICS"):
            r = self.get(self.metrics_port, path)
            doc = self.assertJsonError(r, 404)
            self.assertIn("metrics listener", doc["error"], r)
        # Changes: never routed to the API.
        for method, path, body in (
                ("POST", "/api/v1/reload", b""),
                ("PUT", "/api/v1/log_level", b'{"level": "debug"}'),
                ("POST", "/api/v1/domains", b'{"domain": "x.com", "backends": []}'),
                ("DELETE", "/api/v1/domains/localhost", None),
                ("DELETE", "/api/v1/backends/pool-1", None)):
            r = self.get(self.metrics_port, path, method=method, body=body,
                         headers=[("Content-Type", "application/json")])
            self.assertJsonError(r, 404)
        # A page it serves, with another method: 405 and Allow.
        for path in ("/metrics", "/api/v1/metrics", "/healthz", "/readyz", "/api/v1/health"):
            r = self.get(self.metrics_port, path, method="POST", body=b"x")
            self.assertJsonError(r, 405)
            self.assertEqual(r.header("Allow"), "GET", r)
        # Nothing changed: still the first configuration, at the first log level.
        status = self.get(rw.admin_port, "/api/v1/status").json()
        self.assertEqual(status["generation"], 1, status)
        self.assertEqual(status["reloads"], {"ok": 0, "failed": 0}, status)
        self.assertEqual(status["log_level"], "info", status)

    def test_admin_api_still_on_its_own_address(self):
        rw = self.start()
        r = self.get(rw.admin_port, "/api/v1/domains")
        self.assertEqual(r.status, 200, r)
        r = self.get(rw.admin_port, "/")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"<html", r.body.lower())
        r = self.get(rw.admin_port, "/api/v1/reload", method="POST", body=b"")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["restart_required"], [], r)
        # The metrics listener goes on serving after the reload.
        self.assertEqual(self.get(self.metrics_port, "/metrics").status, 200)

    def test_changing_metrics_bind_needs_a_restart(self):
        rw = self.start()
        other = self.free_port()
        with open(rw.config_path, "w") as f:
            f.write(self.config(other))
        r = self.get(rw.admin_port, "/api/v1/reload", method="POST", body=b"")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["restart_required"], ["global.admin.metrics_bind"], r)
        self.assertTrue(rw.log_lines("global.admin.metrics_bind"), rw.logs())
        # The running address stays; the new one is not opened.
        self.assertEqual(self.get(self.metrics_port, "/metrics").status, 200)
        with self.assertRaises(OSError):
            socket.create_connection((HOST, other), timeout=1).close()
        # SIGHUP alike.
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: len(rw.log_lines("global.admin.metrics_bind")) >= 2, 10), rw.logs())
        self.assertEqual(self.get(self.metrics_port, "/healthz").status, 200)

    def validate(self, text):
        path = os.path.join(self.workdir, "check.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = harness.run_cmd([harness.ringway_binary(), "--validate", "--config", path],
                            timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace"), path

    def test_validate_refuses_metrics_bind_equal_to_admin_bind(self):
        web = self.start_backend("web")
        admin_port = self.free_port()
        text = harness.simple_config(self.free_port(), [web], global_extra={"admin": {
            "bind": "%s:%d" % (HOST, admin_port),
            "metrics_bind": "%s:%d" % (HOST, admin_port)}})
        lines = text.splitlines()
        line = next(i for i, l in enumerate(lines) if "metrics_bind:" in l) + 1
        column = lines[line - 1].index("metrics_bind:") + len("metrics_bind: ") + 1
        rc, out, path = self.validate(text)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:%d:%d: global\.admin\.metrics_bind 127\.0\.0\.1:%d takes "
                              r"the address of global\.admin\.bind"
                         % (re.escape(path), line, column, admin_port))
        # Another port is valid, and so is an address other machines reach, without a token.
        ok = "\n".join(l if "metrics_bind:" not in l else
                       '%smetrics_bind: "0.0.0.0:%d"' % (l[:l.index("metrics_bind:")],
                                                         self.free_port())
                       for l in lines) + "\n"
        rc, out, _ = self.validate(ok)
        self.assertEqual(rc, 0, out)

    def test_address_in_use_refuses_start(self):
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(taken.close)
        taken.bind((HOST, 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        rw = self.start_ringway(self.config(busy), admin=True, ports=[], wait=False,
                                check_exit=False)
        self.assertEqual(rw.wait(15), 1, rw.logs())
        self.assertIn("metrics listener (global.admin.metrics_bind): cannot listen on "
                      "%s:%d" % (HOST, busy), rw.stderr())

    def test_upgrade_hands_the_socket_over(self):
        # The old process keeps its socket open until the new one serves: a new process that
        # bound the address itself could not start.
        pid_path = os.path.join(self.workdir, "ringway.pid")
        rw = self.start(extra_args=["--pid-file", pid_path])
        self.assertTrue(harness.wait_for(lambda: read_pid(pid_path) == rw.pid, 10))

        def stop_successor():
            pid = read_pid(pid_path)
            if pid and pid != rw.pid and alive(pid):
                os.kill(pid, signal.SIGTERM)
                if not harness.wait_for(lambda: not alive(pid), 15):
                    os.kill(pid, signal.SIGKILL)
        self.addCleanup(stop_successor)
        res = harness.run_cmd([harness.ringway_binary(), "--upgrade", "--pid-file", pid_path],
                              timeout=90)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr + rw.logs().encode())
        new_pid = read_pid(pid_path)
        self.assertNotEqual(new_pid, rw.pid)
        self.assertEqual(rw.wait(30), 0, rw.logs())
        r = self.get(self.metrics_port, "/metrics")
        self.assertEqual(r.status, 200, r)
        families(r.body.decode())
        self.assertEqual(self.get(rw.admin_port, "/api/v1/health").status, 200)
        self.assertTrue(rw.log_lines("upgrade: process %d serves" % new_pid), rw.logs())


if __name__ == "__main__":
    harness.main()
