"""Health checking, retries and the balancing algorithms, end to end: backends that die, come
back, answer errors, drop requests or respond slowly, and what clients and backends see.

What is checked is behaviour: which backend served a request (X-Backend, the backends' /stats)
and the state changes ringway logs on stderr (a line naming the backend's address and "down" or
"up"; passive ejections mention "eject"). Timings are asserted only where they are the point
(a 503 with every backend down comes at once) and then only as upper bounds far above what a
loaded machine needs. Every wait has a deadline.
"""

import collections
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import unittest

import harness

# Active checks fast enough to see a state change within a second or two.
# (A check's timeout must be shorter than its interval.)
FAST_CHECKS = {"type": "tcp", "interval": "300ms", "timeout": "250ms", "jitter": "50ms",
               "rise": 2, "fall": 2}
NO_CHECKS = {"enabled": False}
NO_PASSIVE = {"consecutive_failures": 0}
# Enough retries in flight that every request caught by a backend's death can be retried.
GENEROUS_RETRY = {"tries": 3, "budget": "100%", "min_retries": 64}


def http_checks(**kw):
    c = {"type": "http", "path": "/health", "interval": "500ms", "timeout": "400ms",
         "jitter": "50ms", "rise": 2, "fall": 2}
    c.update(kw)
    return c


def served_by(r):
    return r.header("X-Backend")


def set_cookie(resp, name):
    """(value, attributes text) of the Set-Cookie field that sets `name`, or (None, None)."""
    for v in resp.header_all("Set-Cookie"):
        first, _, attrs = v.partition(";")
        n, sep, value = first.partition("=")
        if sep and n.strip() == name:
            return value.strip(), attrs
    return None, None


class HealthTestCase(harness.ProxyTest):
    def start(self, backends, workers=1, routes=None, timeouts=None, **upstream_options):
        self.port = self.free_port()
        return self.start_ringway(
            harness.simple_config(self.port, backends, upstream_options=upstream_options,
                                  routes=routes, timeouts=timeouts),
            workers=workers)

    def get(self, target="/", **kw):
        return harness.request(self.port, "GET", target, **kw)

    def assertServedBy(self, names, n, target="/", **kw):
        """n requests, each 200 from one of `names`; returns the Counter of backends."""
        counts = collections.Counter()
        for i in range(n):
            r = self.get(target, **kw)
            self.assertEqual(r.status, 200, r)
            self.assertIn(served_by(r), names, r)
            counts[served_by(r)] += 1
        return counts

    def wait_log(self, rw, needle, pattern, timeout=15):
        lines = harness.wait_for(lambda: rw.log_lines(needle, pattern=pattern), timeout)
        self.assertTrue(lines, "no stderr line with %r matching %r within %ss"
                        % (needle, pattern, timeout))
        return lines

    def assertNeverDown(self, rw, address):
        self.assertNotIn("down", rw.health_events(address),
                         "%s was marked down: %s" % (address, rw.log_lines(address)))


# ---------------------------------------------------------------------------------------------
# Active health checks


class ActiveHealthTest(HealthTestCase):
    def test_killed_backend_is_routed_around_under_load(self):
        self.kill_one_under_load(health_check=FAST_CHECKS, passive_health=NO_PASSIVE,
                                 retry=GENEROUS_RETRY)

    def test_killed_backend_is_routed_around_under_load_with_defaults(self):
        # Nothing but `servers:`: default checks, passive health and retry budget.
        self.kill_one_under_load()

    def kill_one_under_load(self, **upstream_options):
        if not shutil.which("wrk"):
            raise unittest.SkipTest("wrk is not installed")
        a, b = self.start_backends("a", "b")
        rw = self.start([a, b], workers=2, **upstream_options)
        wrk_out = os.path.join(self.workdir, "wrk.out")
        with open(wrk_out, "wb") as out:
            wrk = harness.spawn(["wrk", "-t1", "-c8", "-d6s", "--timeout", "5s",
                                 "http://127.0.0.1:%d/load" % self.port],
                                stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(harness.kill_proc, wrk)
        # Both backends take traffic before one dies.
        self.assertTrue(harness.wait_for(lambda: b.served("/load") > 0 and
                                         a.served("/load") > 0, 10), "no traffic reached b")
        time.sleep(1.0)
        b.stop()  # SIGKILL: a crash, with requests in flight and pooled connections open
        rw.wait_health_event(b.address, "down", timeout=20)
        try:
            wrk.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.fail("wrk still running after 60 s")
        text = harness.read_file(wrk_out)
        self.assertEqual(wrk.returncode, 0, text)
        # Retries covered the window between the death and its detection.
        self.assertNotIn("Non-2xx or 3xx responses", text, text)
        self.assertNotIn("Socket errors", text, text)
        m = re.search(r"(\d+) requests in", text)
        self.assertIsNotNone(m, text)
        self.assertGreater(int(m.group(1)), 100, text)
        self.assertNeverDown(rw, a.address)
        # Now that b is known down, requests keep succeeding, on a alone.
        self.assertEqual(self.assertServedBy({"a"}, 20, "/after-down"), {"a": 20})
        # No access-log line of those names b (whatever else the format carries).
        lines = harness.wait_for(
            lambda: [x for x in rw.access_lines() if "/after-down" in x], 5)
        self.assertEqual(len(lines), 20, rw.stdout()[-3000:])
        self.assertEqual([x for x in lines if b.address in x], [])

    def test_restarted_backend_returns_after_rise_checks(self):
        rise = 4
        a, b = self.start_backends("a", "b")
        rw = self.start([a, b], health_check=dict(FAST_CHECKS, rise=rise),
                        passive_health=NO_PASSIVE)
        self.assertEqual(set(self.assertServedBy({"a", "b"}, 4)), {"a", "b"})
        b.stop()
        n = rw.wait_health_event(b.address, "down", timeout=15)
        self.assertServedBy({"a"}, 10, "/while-down")
        b2 = self.restart_backend(b)
        # Until b2 has accepted `rise` probes it cannot be up, so it must get no request.
        # `accepted` counts the probes' bare connections, our /stats connections and the
        # connections that carried requests (`connections`). The probes that let a request
        # through were accepted before its connection, so on a correct proxy a snapshot that
        # shows a request also shows at least `rise` probes.
        own = 0
        checked = 0

        def probes(st):
            return st["accepted"] - own - st["connections"]

        deadline = time.monotonic() + 20
        while True:
            r = self.get("/rejoin")
            self.assertEqual(r.status, 200, r)
            own += 1
            st = b2.stats()
            if probes(st) < rise:
                checked += 1
                self.assertEqual(st["requests"], 0,
                                 "b got traffic after only %d probes: %r" % (probes(st), st))
            if "up" in rw.health_events(b.address)[n:]:
                break
            self.assertLess(time.monotonic(), deadline,
                            "b not up again after 20 s: %r" % rw.health_events(b.address))
            time.sleep(0.05)
        self.assertGreater(checked, 0, "never saw b between its restart and its return")
        own += 1
        st = b2.stats()
        self.assertGreaterEqual(probes(st), rise, st)
        # Back in rotation.
        b2.reset_stats()
        counts = self.assertServedBy({"a", "b"}, 10, "/back")
        self.assertGreater(counts["b"], 0, counts)
        self.assertEqual(b2.served("/back"), counts["b"])
        self.assertNeverDown(rw, a.address)

    def test_all_backends_down_gives_503_at_once(self):
        # A port that refuses, and one whose connects never complete: with either still tried,
        # the answer would be a 502 or would wait for upstream_connect (3 s).
        hole = self.blackhole()
        dead = self.closed_port()
        rw = self.start([hole.address, dead], health_check=FAST_CHECKS,
                        passive_health=NO_PASSIVE, timeouts={"upstream_connect": "3s"})
        rw.wait_health_event(dead, "down", timeout=15)
        rw.wait_health_event(hole.address, "down", timeout=15)
        times = []
        for method, body in (("GET", None), ("GET", None), ("POST", b"x" * 1000),
                             ("GET", None), ("HEAD", None)):
            start = time.monotonic()
            r = harness.request(self.port, method, "/", body=body, timeout=10)
            times.append(time.monotonic() - start)
            self.assertEqual(r.status, 503, r)
            if method != "HEAD":
                self.assertShortErrorBody(r)
        self.assertLess(statistics.median(times), 0.5, times)
        self.assertLess(max(times), 2.0, times)
        self.assertTrue(rw.running())

    def test_http_check_with_failing_status_takes_backend_down_and_back(self):
        a, b = self.start_backends("a", "b")
        a.set(health=500)
        rw = self.start([a, b], health_check=http_checks(), passive_health=NO_PASSIVE)
        n = rw.wait_health_event(a.address, "down", timeout=15)
        a.reset_stats()
        self.assertEqual(self.assertServedBy({"b"}, 10), {"b": 10})
        self.assertEqual(a.served("/"), 0)
        self.assertNeverDown(rw, b.address)
        # The check passes again: a comes back after `rise` passing checks and takes traffic.
        a.set(health=200)
        rw.wait_health_event(a.address, "up", after=n, timeout=15)
        counts = self.assertServedBy({"a", "b"}, 10)
        self.assertGreater(counts["a"], 0, counts)
        self.assertGreaterEqual(a.stats()["health"]["checks"], 2)

    def test_per_server_health_check_path(self):
        # The seed schema's per-server path: a's check path answers 500, b's answers 200.
        a, b = self.start_backends("a", "b")
        rw = self.start([{"address": a, "health_check_path": "/status/500"},
                         {"address": b, "health_check_path": "/status/200"}],
                        health_check={"interval": "500ms", "timeout": "400ms",
                                      "jitter": "50ms", "rise": 2, "fall": 2},
                        passive_health=NO_PASSIVE)
        rw.wait_health_event(a.address, "down", timeout=15)
        self.assertTrue(harness.wait_for(lambda: b.served("/status/200") >= 3, 10),
                        "b's check path was not probed: %r" % b.stats())
        self.assertGreater(a.served("/status/500"), 0)
        self.assertEqual(a.served("/status/200"), 0)
        self.assertEqual(self.assertServedBy({"b"}, 10, "/traffic"), {"b": 10})
        self.assertEqual(a.served("/traffic"), 0)
        self.assertNeverDown(rw, b.address)

    def test_http_check_expect_range(self):
        # a's check answers 418: healthy for a check that expects 400-499, not for the
        # default 200-399. Two proxies probe it side by side.
        a = self.start_backend("a", extra_args=["--health-status", "418"])
        b = self.start_backend("b")
        port1, port2 = self.free_port(), self.free_port()
        rw_expect = self.start_ringway(harness.simple_config(
            port1, [a], upstream_options={"health_check": http_checks(expect="400-499"),
                                          "passive_health": NO_PASSIVE}))
        rw_default = self.start_ringway(harness.simple_config(
            port2, [a, b], upstream_options={"health_check": http_checks(),
                                             "passive_health": NO_PASSIVE}))
        rw_default.wait_health_event(a.address, "down", timeout=15)
        # Both proxies have probed a several times by now.
        self.assertTrue(harness.wait_for(lambda: a.stats()["health"]["checks"] >= 8, 15),
                        a.stats())
        self.assertNeverDown(rw_expect, a.address)
        self.assertNeverDown(rw_default, b.address)
        self.port = port1
        self.assertEqual(self.assertServedBy({"a"}, 6), {"a": 6})
        self.port = port2
        self.assertEqual(self.assertServedBy({"a", "b"}, 10), {"b": 10})

    def test_http_check_request_method_and_host(self):
        a = self.start_backend("a")
        self.start([a], health_check=http_checks(method="HEAD", host="health.example"),
                   passive_health=NO_PASSIVE)
        self.assertTrue(harness.wait_for(lambda: a.stats()["health"]["checks"] >= 2, 10),
                        a.stats())
        h = a.stats()["health"]
        self.assertEqual(h["method"], "HEAD", h)
        self.assertEqual(h["host"], "health.example", h)
        self.assertEqual(h["target"], "/health", h)
        # The checks are not traffic.
        self.assertEqual(a.stats()["requests"], 0)

    def test_http_check_default_host_is_the_backend_address(self):
        a = self.start_backend("a")
        self.start([a], health_check=http_checks(), passive_health=NO_PASSIVE)
        self.assertTrue(harness.wait_for(lambda: a.stats()["health"]["checks"] >= 1, 10),
                        a.stats())
        h = a.stats()["health"]
        self.assertEqual(h["method"], "GET", h)
        self.assertEqual(h["host"], a.address, h)

    def test_http_check_slower_than_its_timeout_fails(self):
        a, b = self.start_backends("a", "b")
        a.set(delay_ms=1500)
        rw = self.start([a, b], health_check=http_checks(timeout="300ms"),
                        passive_health=NO_PASSIVE)
        rw.wait_health_event(a.address, "down", timeout=15)
        self.assertNeverDown(rw, b.address)
        a.set(delay_ms=0)  # traffic that did reach a would be served at once
        a.reset_stats()
        self.assertEqual(self.assertServedBy({"b"}, 6), {"b": 6})
        self.assertEqual(a.stats()["requests"], 0)

    def test_disabled_checks_never_mark_a_backend_down(self):
        a, b = self.start_backends("a", "b")
        b.stop()
        rw = self.start([a, b], health_check={"enabled": False},
                        passive_health=NO_PASSIVE, retry={"tries": 3})
        time.sleep(1.5)
        self.assertServedBy({"a"}, 6)
        self.assertNeverDown(rw, b.address)


# ---------------------------------------------------------------------------------------------
# Retries


class RetryTest(HealthTestCase):
    def start_with_dropper(self, reset):
        """Backend a reads every request, body included, and closes (or resets) without
        answering; b is fine. No checks, no passive health: only retries are at work."""
        args = ["--drop-all"] + (["--reset"] if reset else [])
        self.a = self.start_backend("a", extra_args=args)
        self.b = self.start_backend("b")
        self.start([self.a, self.b], health_check=NO_CHECKS, passive_health=NO_PASSIVE,
                   retry=GENEROUS_RETRY)

    def one(self, method, path, body):
        """Sends one request; returns (response, whether a saw it, whether b saw it)."""
        a0, b0 = self.a.served(path), self.b.served(path)
        r = harness.request(self.port, method, path, body=body, timeout=15)
        return r, self.a.served(path) - a0, self.b.served(path) - b0

    def check_method(self, method, body, retried):
        """Repeats the request until a has seen it (the balancer alternates, so a request
        goes to a first about half the time); checks what happened then."""
        path = "/m/%s-%s" % (method.lower(), "none" if body is None else len(body))
        for _ in range(8):
            r, on_a, on_b = self.one(method, path, body)
            self.assertLessEqual(on_a, 1, "a got the request %d times" % on_a)
            if not on_a:
                self.assertEqual((r.status, served_by(r), on_b), (200, "b", 1), r)
                continue
            if retried:
                self.assertEqual(r.status, 200, r)
                self.assertEqual(served_by(r), "b", r)
                self.assertEqual(on_b, 1)
            else:
                self.assertEqual(r.status, 502, r)
                if method != "HEAD":
                    self.assertShortErrorBody(r)
                self.assertEqual(on_b, 0, "b saw a request that must not be retried")
            return
        self.fail("a never got a %s request in 8 tries" % method)

    def test_request_whose_body_was_sent_is_not_retried(self):
        for reset in (False, True):
            with self.subTest(reset=reset):
                self.start_with_dropper(reset)
                self.check_method("POST", b"payload " * 500, retried=False)
                self.check_method("PUT", b"idempotent, but its body went out", retried=False)

    def test_non_idempotent_request_is_not_retried_even_without_a_body(self):
        self.start_with_dropper(reset=False)
        self.check_method("POST", None, retried=False)

    def test_idempotent_request_without_body_is_retried_on_another_backend(self):
        for reset in (False, True):
            with self.subTest(reset=reset):
                self.start_with_dropper(reset)
                self.check_method("GET", None, retried=True)
                self.check_method("HEAD", None, retried=True)
                self.check_method("DELETE", None, retried=True)

    def test_bursts_of_idempotent_requests_all_succeed(self):
        self.start_with_dropper(reset=True)
        self.b.reset_stats()
        errors = []

        def client(i):
            try:
                with harness.Conn(self.port, timeout=15) as c:
                    for j in range(10):
                        r = c.roundtrip("GET", "/burst", timeout=15)
                        if r.status != 200 or served_by(r) != "b":
                            errors.append((i, j, r))
            except Exception as e:  # reported below
                errors.append((i, repr(e)))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(errors, [])
        self.assertEqual(self.b.served("/burst"), 40)
        self.assertGreater(self.a.served("/burst"), 0)

    def start_with_refusing(self, routes=None):
        """Backend 1 is a port that refuses connections; b is fine."""
        self.dead = self.closed_port()
        self.b = self.start_backend("b")
        return self.start([self.dead, self.b], health_check=NO_CHECKS,
                          passive_health=NO_PASSIVE, retry={"tries": 3}, routes=routes)

    def test_connect_failure_is_retried_for_any_method(self):
        rw = self.start_with_refusing()
        for i in range(12):
            if i % 2:
                body = os.urandom(3000 + i)
                r = harness.request(self.port, "POST", "/echo", body=body)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["body_sha256"], harness.sha256(body))
            else:
                r = self.get("/echo")
                self.assertEqual(r.status, 200, r)
            self.assertEqual(served_by(r), "b")
        self.assertEqual(self.b.served("/echo"), 12)
        self.assertNeverDown(rw, self.dead)

    def test_route_with_one_try_does_not_retry(self):
        self.start_with_refusing(routes=[{"path": "/once/", "upstream": "pool", "tries": 1}])
        statuses = collections.Counter()
        for _ in range(10):
            r = self.get("/once/x")
            self.assertIn(r.status, (200, 502), r)
            if r.status == 200:
                self.assertEqual(served_by(r), "b")
            else:
                self.assertShortErrorBody(r)
            statuses[r.status] += 1
        # The balancer alternates between the two, so some requests met the dead one.
        self.assertGreater(statuses[502], 0, statuses)
        self.assertEqual(self.b.served("/once/x"), statuses[200])
        # Outside the route the upstream's own tries apply.
        self.assertServedBy({"b"}, 10, "/elsewhere")

    def test_route_tries_override_the_upstream(self):
        # The upstream allows one try; a route gives two, which is enough with two backends.
        self.dead = self.closed_port()
        self.b = self.start_backend("b")
        self.start([self.dead, self.b], health_check=NO_CHECKS, passive_health=NO_PASSIVE,
                   retry={"tries": 1},
                   routes=[{"path": "/twice/", "upstream": "pool", "tries": 2}])
        self.assertServedBy({"b"}, 10, "/twice/x")
        statuses = collections.Counter(self.get("/plain").status for _ in range(10))
        self.assertGreater(statuses[502], 0, statuses)


# ---------------------------------------------------------------------------------------------
# Passive health


class PassiveHealthTest(HealthTestCase):
    def test_backend_answering_503_is_ejected(self):
        a = self.start_backend("a", extra_args=["--status", "503"])
        b = self.start_backend("b")
        rw = self.start([a, b], health_check=NO_CHECKS,
                        passive_health={"consecutive_failures": 3,
                                        "on": ["connect_failure", "reset", 502, 503, 504],
                                        "base_ejection": "60s", "max_ejection": "5m"})
        seen = collections.Counter()
        deadline = time.monotonic() + 20
        while not rw.log_lines(a.address, pattern=r"eject"):
            self.assertLess(time.monotonic(), deadline, "a never ejected: %r" % seen)
            r = self.get()
            # The 503 is a response: it reaches the client (it is not retried).
            self.assertIn((r.status, served_by(r)), ((503, "a"), (200, "b")), r)
            seen[r.status] += 1
            self.assertLessEqual(seen[503], 3, "more than 3 failures without an ejection")
        self.assertEqual(seen[503], 3, seen)
        self.assertEqual(a.served("/"), 3)
        # Traffic shifts to b.
        self.assertEqual(self.assertServedBy({"b"}, 20, "/after"), {"b": 20})
        self.assertEqual(a.served("/after"), 0)

    def test_hung_backend_is_ejected_by_its_response_timeouts(self):
        # It accepts connections (TCP checks pass) but answers too late: 504s eject it.
        a = self.start_backend("a", extra_args=["--delay-ms", "3000"])
        b = self.start_backend("b")
        rw = self.start([a, b], timeouts={"upstream_response": "300ms"},
                        passive_health={"consecutive_failures": 2, "base_ejection": "60s"})
        seen = collections.Counter()
        deadline = time.monotonic() + 20
        while not rw.log_lines(a.address, pattern=r"eject"):
            self.assertLess(time.monotonic(), deadline, "a never ejected: %r" % seen)
            r = self.get(timeout=10)
            self.assertIn((r.status, served_by(r)), ((504, None), (200, "b")), r)
            seen[r.status] += 1
            self.assertLessEqual(seen[504], 2, "more than 2 timeouts without an ejection")
        self.assertEqual(seen[504], 2, seen)
        self.assertIn("response timeout", "\n".join(rw.log_lines(a.address, pattern=r"eject")))
        self.assertEqual(self.assertServedBy({"b"}, 10, "/after"), {"b": 10})

    def test_passive_health_never_empties_the_pool(self):
        # One bad path answers 503 on every backend and ejects them all; the pool still serves
        # the good paths (ringway does not answer 503 itself while the checks say up).
        a, b = self.start_backends("a", "b")
        rw = self.start([a, b], passive_health={"consecutive_failures": 2,
                                                "base_ejection": "60s"})
        deadline = time.monotonic() + 20
        while not (rw.log_lines(a.address, pattern=r"eject") and
                   rw.log_lines(b.address, pattern=r"eject")):
            self.assertLess(time.monotonic(), deadline, "not both ejected")
            r = self.get("/status/503")
            self.assertEqual(r.status, 503, r)
            self.assertIsNotNone(served_by(r), "a 503 made by ringway, not by a backend")
        counts = self.assertServedBy({"a", "b"}, 10, "/fine")
        self.assertEqual(sum(counts.values()), 10)

    def test_statuses_not_listed_do_not_count(self):
        a = self.start_backend("a", extra_args=["--status", "500"])
        b = self.start_backend("b")
        rw = self.start([a, b], health_check=NO_CHECKS,
                        passive_health={"consecutive_failures": 2, "on": [502, 503],
                                        "base_ejection": "60s"})
        for _ in range(10):
            r = self.get()
            self.assertIn((r.status, served_by(r)), ((500, "a"), (200, "b")), r)
        self.assertEqual(a.served("/"), 5)
        self.assertEqual(rw.log_lines(a.address, pattern=r"eject"), [])

    def test_ejected_backend_returns_through_the_prober(self):
        base_s = 1.0
        a = self.start_backend("a", extra_args=["--status", "503"])
        b = self.start_backend("b")
        rw = self.start([a, b], health_check=dict(FAST_CHECKS, rise=1),
                        passive_health={"consecutive_failures": 2, "base_ejection": "1s",
                                        "max_ejection": "10s"})
        failures = 0
        for _ in range(10):
            sent = time.monotonic()
            r = self.get()
            self.assertIn((r.status, served_by(r)), ((503, "a"), (200, "b")), r)
            if r.status == 503:
                failures += 1
                if failures == 2:
                    break
        self.assertEqual(failures, 2)
        last_503_sent = sent
        a.set(status=0)  # healthy again: ejected all the same, it must sit out the back-off
        self.wait_log(rw, a.address, r"eject", timeout=5)
        deadline = time.monotonic() + 20
        while True:
            r = self.get("/return")
            self.assertEqual(r.status, 200, r)
            if served_by(r) == "a":
                break
            self.assertLess(time.monotonic(), deadline, "a never came back")
            time.sleep(0.05)
        # Not before the back-off had passed (measured from before the ejecting request).
        self.assertGreater(time.monotonic() - last_503_sent, base_s * 0.9)
        counts = self.assertServedBy({"a", "b"}, 10, "/later")
        self.assertGreater(counts["a"], 0, counts)

    def test_refused_connections_eject_the_backend(self):
        dead = self.closed_port()
        b = self.start_backend("b")
        rw = self.start([dead, b], health_check=NO_CHECKS, retry={"tries": 3},
                        passive_health={"consecutive_failures": 2, "base_ejection": "60s"})
        self.assertServedBy({"b"}, 10)
        self.wait_log(rw, dead, r"eject", timeout=5)


# ---------------------------------------------------------------------------------------------
# Balancing algorithms


class AlgorithmTest(HealthTestCase):
    def load(self, port, target, clients=8, per_client=40):
        """Concurrent keep-alive clients; returns the Counter of X-Backend values."""
        counts = collections.Counter()
        errors = []
        lock = threading.Lock()

        def client():
            try:
                with harness.Conn(port, timeout=20) as c:
                    for _ in range(per_client):
                        r = c.roundtrip("GET", target, timeout=20)
                        with lock:
                            if r.status != 200:
                                errors.append(r)
                            counts[served_by(r)] += 1
            except Exception as e:  # reported below
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running")
        self.assertEqual(errors, [])
        return counts

    def test_latency_aware_algorithms_avoid_the_slow_backend(self):
        fast = self.start_backend("fast")
        slow = self.start_backend("slow", extra_args=["--delay-ms", "80"])
        for algorithm in ("p2c_ewma", "least_request"):
            with self.subTest(algorithm=algorithm):
                fast.reset_stats()
                slow.reset_stats()
                rw = self.start([fast, slow], algorithm=algorithm)
                counts = self.load(self.port, "/load")
                total = sum(counts.values())
                self.assertEqual(total, 320)
                self.assertEqual((fast.served("/load"), slow.served("/load")),
                                 (counts["fast"], counts["slow"]))
                # A fair share would be 50%.
                self.assertLess(counts["slow"], 0.3 * total, counts)
                rw.stop()

    def test_hash_on_header_is_consistent(self):
        bs = self.start_backends("a", "b", "c")
        users = ["user-%d" % i for i in range(30)]
        for algorithm in ("maglev", "ketama"):
            with self.subTest(algorithm=algorithm):
                rw = self.start(bs, workers=2, algorithm=algorithm, hash_on="header:X-User")
                first = {}
                for _ in range(4):
                    for u in users:
                        r = self.get("/", headers=[("X-User", u)])
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(first.setdefault(u, served_by(r)), served_by(r),
                                         "%s moved" % u)
                self.assertGreaterEqual(len(set(first.values())), 2, first)
                # Requests without the header are still served.
                self.assertServedBy({"a", "b", "c"}, 6)
                rw.stop()

    def test_hash_on_cookie_is_consistent(self):
        bs = self.start_backends("a", "b", "c")
        for algorithm in ("maglev", "ketama"):
            with self.subTest(algorithm=algorithm):
                rw = self.start(bs, workers=2, algorithm=algorithm, hash_on="cookie:sid")
                first = {}
                for i in range(20):
                    sid = "s%03d" % i
                    # The same sid among other cookies, in different orders.
                    for cookie in ("sid=%s" % sid, "theme=dark; sid=%s" % sid,
                                   "sid=%s; lang=en" % sid, "a=1; sid=%s; b=2" % sid):
                        r = self.get("/", headers=[("Cookie", cookie)])
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(first.setdefault(sid, served_by(r)), served_by(r),
                                         "%s moved (Cookie: %s)" % (sid, cookie))
                self.assertGreaterEqual(len(set(first.values())), 2, first)
                rw.stop()

    def test_hash_on_client_ip_is_consistent(self):
        bs = self.start_backends("a", "b", "c")
        sources = ["127.0.0.%d" % i for i in range(1, 31)]
        for algorithm in ("maglev", "ketama"):
            with self.subTest(algorithm=algorithm):
                rw = self.start(bs, workers=2, algorithm=algorithm, hash_on="client_ip")
                first = {}
                for _ in range(3):
                    for src in sources:
                        r = self.get("/", source=src)
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(first.setdefault(src, served_by(r)), served_by(r),
                                         "client %s moved" % src)
                self.assertGreaterEqual(len(set(first.values())), 2, first)
                rw.stop()

    def test_consistent_hashing_moves_only_the_keys_of_a_backend_that_went_down(self):
        for algorithm in ("maglev", "ketama"):
            with self.subTest(algorithm=algorithm):
                bs = self.start_backends("a", "b", "c")
                rw = self.start(bs, algorithm=algorithm, hash_on="header:X-User",
                                health_check=FAST_CHECKS, passive_health=NO_PASSIVE,
                                retry=GENEROUS_RETRY)
                users = ["user-%d" % i for i in range(40)]
                before = {}
                for u in users:
                    r = self.get("/", headers=[("X-User", u)])
                    self.assertEqual(r.status, 200, r)
                    before[u] = served_by(r)
                gone = collections.Counter(before.values()).most_common(1)[0][0]
                victim = [b for b in bs if b.name == gone][0]
                victim.stop()
                rw.wait_health_event(victim.address, "down", timeout=15)
                for u in users:
                    r = self.get("/", headers=[("X-User", u)])
                    self.assertEqual(r.status, 200, r)
                    if before[u] != gone:
                        self.assertEqual(served_by(r), before[u], "%s moved" % u)
                    else:
                        self.assertNotEqual(served_by(r), gone)
                rw.stop()
                for b in bs:
                    b.stop()

    def sticky_tokens(self, cookie_name, names, limit=20):
        """Fresh requests until each backend in `names` has handed out a cookie:
        {backend: (token, attributes)}."""
        tokens = {}
        for _ in range(limit):
            r = self.get("/")
            self.assertEqual(r.status, 200, r)
            token, attrs = set_cookie(r, cookie_name)
            self.assertTrue(token, "no %s cookie in %r" % (cookie_name, r))
            tokens.setdefault(served_by(r), (token, attrs))
            if set(tokens) == set(names):
                return tokens
        self.fail("only %r handed out cookies" % sorted(tokens))

    def test_sticky_sessions(self):
        a, b = self.start_backends("a", "b")
        rw = self.start([a, b], workers=2, sticky=True, health_check=FAST_CHECKS,
                        passive_health=NO_PASSIVE, retry=GENEROUS_RETRY)
        tokens = self.sticky_tokens("ringway_sticky", {"a", "b"})
        for name, (token, _) in tokens.items():
            for cookie in ("ringway_sticky=%s" % token,
                           "other=1; ringway_sticky=%s; more=2" % token):
                got = self.assertServedBy({"a", "b"}, 10, headers=[("Cookie", cookie)])
                self.assertEqual(got, {name: 10}, "Cookie: %s" % cookie)
        # A token that names no backend is ignored.
        self.assertServedBy({"a", "b"}, 4, headers=[("Cookie", "ringway_sticky=garbage")])
        # The sticky backend goes down: its sessions move rather than fail.
        b.stop()
        rw.wait_health_event(b.address, "down", timeout=15)
        cookie = "ringway_sticky=%s" % tokens["b"][0]
        self.assertEqual(self.assertServedBy({"a"}, 5, headers=[("Cookie", cookie)]),
                         {"a": 5})

    def test_sticky_cookie_name_and_lifetime(self):
        a, b = self.start_backends("a", "b")
        self.start([a, b], sticky={"cookie": "srv", "ttl": "1h"})
        tokens = self.sticky_tokens("srv", {"a", "b"})
        for name, (token, attrs) in tokens.items():
            self.assertRegex(attrs, r"(?i)\bmax-age=3600\b", attrs)
            got = self.assertServedBy({"a", "b"}, 6, headers=[("Cookie", "srv=%s" % token)])
            self.assertEqual(got, {name: 6})
        r = self.get("/")
        self.assertEqual(set_cookie(r, "ringway_sticky"), (None, None), r)

    def test_every_algorithm_serves(self):
        a, b = self.start_backends("a", "b")
        for algorithm in ("round_robin", "random", "least_request", "p2c_ewma", "maglev",
                          "ketama"):
            with self.subTest(algorithm=algorithm):
                options = {"algorithm": algorithm}
                if algorithm not in ("maglev", "ketama"):
                    options["slow_start"] = "1s"
                rw = self.start([a, {"address": b, "weight": 2}], workers=2, **options)
                counts = self.assertServedBy({"a", "b"}, 30)
                if algorithm in ("round_robin", "random"):
                    self.assertEqual(set(counts), {"a", "b"}, counts)
                rw.stop()


class ConfigTest(harness.ProxyTest):
    FULL = """\
global:
  port: {port}
servers:
  - server_name: ["localhost"]
    upstream: web
    routes: [{{path: /api, upstream: api, tries: 2}}]
upstreams:
  - name: web
    algorithm: round_robin
    sticky: {{cookie: sid, ttl: 1h}}
    slow_start: 30s
    servers: ["127.0.0.1:{p1}", {{address: "127.0.0.1:{p2}", weight: 2, health_check_path: /health}}]
    health_check: {{type: http, path: /x, method: GET, host: h, expect: 200-399, interval: 2s, timeout: 1s, jitter: 200ms, rise: 2, fall: 3, enabled: true}}
    passive_health: {{consecutive_failures: 5, on: [connect_failure, reset, 502, 503, 504], base_ejection: 10s, max_ejection: 5m}}
    retry: {{tries: 3, budget: 20%, min_retries: 3}}
  - name: api
    algorithm: maglev
    hash_on: "header:X-User"
    servers: ["127.0.0.1:{p1}"]
    health_check: {{type: tcp}}
  - name: other
    algorithm: ketama
    hash_on: "cookie:sid"
    servers: ["127.0.0.1:{p2}"]
  - name: spread
    algorithm: random
    sticky: true
    servers: ["127.0.0.1:{p1}", "127.0.0.1:{p2}"]
  - name: fewest
    algorithm: least_request
    servers: ["127.0.0.1:{p1}"]
    health_check: {{enabled: false}}
    passive_health: {{consecutive_failures: 0}}
  - name: ewma
    algorithm: p2c_ewma
    servers: ["127.0.0.1:{p1}"]
"""

    def test_the_documented_schema_validates(self):
        binary = harness.ringway_binary()
        if not binary:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
        path = os.path.join(self.workdir, "full.yaml")
        with open(path, "w") as f:
            f.write(self.FULL.format(port=self.free_port(), p1=self.free_port(),
                                     p2=self.free_port()))
        res = harness.run_cmd([binary, "--config", path, "--validate"], timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr.decode("utf-8", "replace"))

    def test_unknown_algorithm_is_refused(self):
        binary = harness.ringway_binary()
        if not binary:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
        path = os.path.join(self.workdir, "bad.yaml")
        text = self.FULL.format(port=self.free_port(), p1=self.free_port(),
                                p2=self.free_port())
        with open(path, "w") as f:
            f.write(text.replace("algorithm: round_robin", "algorithm: round_robbin"))
        res = harness.run_cmd([binary, "--config", path, "--validate"], timeout=30)
        err = res.stderr.decode("utf-8", "replace")
        self.assertEqual(res.returncode, 1, err)
        self.assertIn("round_robbin", err)


if __name__ == "__main__":
    harness.main()
