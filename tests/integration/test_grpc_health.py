"""gRPC health checks end to end: ringway in front of tests/backend/grpc_service.py with
`protocol: h2c` and `health_check: {type: grpc}`, which calls grpc.health.v1.Health/Check on
each backend.

Covered:

  * A SERVING backend stays up (no state change logged, "up" in /api/v1/upstreams) and takes
    gRPC calls through ringway.
  * A NOT_SERVING backend is taken down, with NOT_SERVING as the logged reason; calls go to the
    serving one only.
  * A backend that is stopped goes down (connection refused) and comes back up (SERVING) when
    it is started again on its port, and then takes calls again.
  * An h2c backend without the health service (tests/backend/h2_backend.py answers any path
    with 200 and no grpc-status) is taken down, and it did get POST
    /grpc.health.v1.Health/Check.
  * `ringway --validate` refuses type: grpc on an upstream with protocol: h2 (TLS) or http1,
    naming file:line:col.

State is read from ringway's log (health_events: "down"/"up" lines naming the backend) and the
admin API's /api/v1/upstreams. Run with /usr/bin/python3 (Debian's python3-grpcio); every wait
has a deadline, everything is on 127.0.0.1.
"""

import os
import subprocess
import tempfile
import time
import unittest

import harness
from test_grpc import GrpcService, need_grpc
from test_h2_upstream import H2Backend

try:
    import grpc
except ImportError:  # pragma: no cover
    grpc = None

HOST = harness.HOST

# Fast enough to see a change within a second: a check every 200-250 ms, two in a row decide.
GRPC_CHECKS = {"type": "grpc", "interval": "200ms", "timeout": "180ms", "jitter": "50ms",
               "rise": 2, "fall": 2}
NO_PASSIVE = {"consecutive_failures": 0}


class GrpcHealthTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        need_grpc()

    def service(self, name, *args, port=None):
        extra = list(args)
        if port is not None:
            extra += ["--listen", "%s:%d" % (HOST, port)]  # the last --listen wins
        svc = GrpcService(name, self.workdir, extra_args=extra)
        self.backends.append(svc)
        return svc

    def proxy(self, addresses, **health):
        """ringway with an h2c listener whose default server goes to the upstream "grpc" of
        `addresses`, with gRPC checks (GRPC_CHECKS updated by `health`), passive health off,
        and an admin listener."""
        self.port = self.free_port()
        checks = dict(GRPC_CHECKS)
        checks.update(health)
        doc = {
            "global": {"log": {"level": "info", "format": "text", "access_log": True},
                       "timeouts": {"shutdown": "5s", "upstream_response": "10s"}},
            "listeners": [{"name": "grpc", "bind": "%s:%d" % (HOST, self.port)}],
            "servers": [{"name": "site", "server_name": ["localhost"], "upstream": "grpc",
                         "default": True}],
            "upstreams": [harness.upstream("grpc", list(addresses), protocol="h2c",
                                           health_check=checks, passive_health=NO_PASSIVE)],
        }
        self.rw = self.start_ringway(harness.to_yaml(doc) + "\n", admin=True)
        return self.rw

    def channel(self):
        ch = grpc.insecure_channel("%s:%d" % (HOST, self.port),
                                   options=[("grpc.enable_http_proxy", 0)])
        self.addCleanup(ch.close)
        return ch

    def call(self, ch, msg=b"ping"):
        """One unary call through ringway: the name of the backend that answered."""
        resp, call = ch.unary_unary("/test.Echo/Unary").with_call(msg, timeout=5)
        self.assertEqual(resp, msg)
        return dict(call.initial_metadata()).get("x-backend")

    def health(self):
        """{address: "up" or "down"} from the admin API."""
        r = harness.request(self.rw.admin_port, "GET", "/api/v1/upstreams", host="127.0.0.1")
        self.assertEqual(r.status, 200, r)
        return {b["address"]: b["health"] for u in r.json() if u["name"] == "grpc"
                for b in u["backends"]}

    def wait_health(self, address, state, timeout=10):
        ok = harness.wait_for(lambda: self.health().get(address) == state, timeout,
                              interval=0.05)
        self.assertTrue(ok, "%s not %s in the admin API within %ss: %r"
                        % (address, state, timeout, self.health()))

    def state_lines(self, address, state):
        return [line for line in self.rw.log_lines(address, "health:")
                if (" is %s:" % state) in line]

    # -- tests ---------------------------------------------------------------------------------

    def test_serving_backend_stays_up_and_takes_traffic(self):
        svc = self.service("g1")
        rw = self.proxy([svc.address])
        ch = self.channel()
        self.assertEqual(self.call(ch), "g1")
        time.sleep(1.5)  # six checks or more
        self.assertEqual(rw.health_events(svc.address), [], rw.log_lines(svc.address))
        self.assertEqual(self.health(), {svc.address: "up"})
        for _ in range(5):
            self.assertEqual(self.call(ch), "g1")

    def test_not_serving_backend_is_taken_down(self):
        good = self.service("g1")
        bad = self.service("g2", "--not-serving")
        rw = self.proxy([good.address, bad.address])
        rw.wait_health_event(bad.address, "down", timeout=10)
        lines = self.state_lines(bad.address, "down")
        self.assertTrue(lines, rw.log_lines(bad.address))
        self.assertIn("NOT_SERVING", lines[0])
        self.wait_health(bad.address, "down")
        self.assertEqual(self.health()[good.address], "up")
        ch = self.channel()
        served = [self.call(ch) for _ in range(20)]
        self.assertEqual(set(served), {"g1"}, served)
        # It stays down: every later check fails too, and the serving one never moved.
        time.sleep(0.8)
        self.assertEqual(rw.health_events(bad.address), ["down"])
        self.assertEqual(rw.health_events(good.address), [])

    def test_stopped_backend_goes_down_and_comes_back(self):
        g1 = self.service("g1")
        g2 = self.service("g2")
        rw = self.proxy([g1.address, g2.address])
        ch = self.channel()
        seen = set()
        for _ in range(20):
            seen.add(self.call(ch))
            if seen == {"g1", "g2"}:
                break
        self.assertEqual(seen, {"g1", "g2"})

        port = g2.port
        g2.stop()
        n = rw.wait_health_event(g2.address, "down", timeout=10)
        # Refused; or reset, when the process died with a check in flight.
        self.assertRegex(self.state_lines(g2.address, "down")[0],
                         r"is down: (connect: |receive: |send: |connection closed)")
        self.wait_health(g2.address, "down")
        served = [self.call(ch) for _ in range(10)]
        self.assertEqual(set(served), {"g1"}, served)

        g2b = self.service("g2b", port=port)
        self.assertEqual(g2b.port, port)
        rw.wait_health_event(g2.address, "up", after=n, timeout=10)
        self.assertIn("SERVING", self.state_lines(g2.address, "up")[-1])
        self.wait_health(g2.address, "up")
        seen = set()
        for _ in range(40):
            seen.add(self.call(ch))
            if "g2b" in seen:
                break
        self.assertIn("g2b", seen)
        self.assertEqual(rw.health_events(g1.address), [])

    def test_backend_without_the_health_service_is_taken_down(self):
        good = self.service("g1")
        plain = H2Backend("plain", self.workdir)
        self.backends.append(plain)
        rw = self.proxy([good.address, plain.address], service="my.pkg.Svc")
        rw.wait_health_event(plain.address, "down", timeout=10)
        self.assertIn("no grpc-status", self.state_lines(plain.address, "down")[0])
        stats = plain.stats()
        self.assertGreaterEqual(stats["paths"].get("/grpc.health.v1.Health/Check", 0), 1, stats)
        self.assertIn(["POST", "/grpc.health.v1.Health/Check"],
                      [entry[2:] for entry in stats["log"]], stats["log"][-5:])
        self.assertEqual(rw.health_events(good.address), [])


class GrpcHealthConfigTest(unittest.TestCase):
    """ringway --validate on configs that ask for gRPC checks where they cannot run."""

    def setUp(self):
        self.bin = harness.ringway_binary()
        if not self.bin:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")

    def validate(self, text):
        with tempfile.TemporaryDirectory(prefix="ringway-it-") as d:
            path = os.path.join(d, "ringway.yaml")
            with open(path, "w") as f:
                f.write(text)
            res = subprocess.run([self.bin, "--config", path, "--validate"],
                                 capture_output=True, timeout=15)
            return path, res.returncode, res.stderr.decode("utf-8", "replace")

    def test_grpc_over_tls_is_accepted(self):
        path, rc, err = self.validate("""global: {port: 8080}
upstreams:
  - name: g
    protocol: h2
    tls: true
    servers: ["127.0.0.1:50051"]
    health_check: {type: grpc}
""")
        self.assertEqual(rc, 0, err)

    def test_grpc_on_http1_is_refused(self):
        path, rc, err = self.validate("""global: {port: 8080}
upstreams:
  - name: g
    servers: ["127.0.0.1:50051"]
    health_check:
      type: grpc
""")
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:6:13:" % path, err)
        self.assertIn("needs HTTP/2", err)

    def test_grpc_on_h2c_is_valid(self):
        path, rc, err = self.validate("""global: {port: 8080}
upstreams:
  - name: g
    protocol: h2c
    servers: ["127.0.0.1:50051"]
    health_check: {type: grpc, service: my.pkg.Svc}
""")
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    harness.main()
