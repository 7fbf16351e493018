"""Graceful shutdown on SIGTERM: in-flight requests finish, listeners close at once, idle
connections do not hold the exit, the shutdown deadline bounds it, and the exit status is 0."""

import signal
import socket
import threading
import time

import harness


class ShutdownTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()

    def start(self, workers=1, **timeouts):
        t = {"shutdown": "5s"}
        t.update(timeouts)
        return self.start_ringway(harness.simple_config(self.port, [self.web], timeouts=t),
                                  workers=workers)

    def assertRefused(self):
        try:
            s = socket.create_connection((harness.HOST, self.port), timeout=2)
        except ConnectionRefusedError:
            return
        s.close()
        self.fail("a new connection was accepted after SIGTERM")

    def in_flight(self, target):
        """Sends `target` on a new connection; returns (thread, result dict)."""
        c = self.conn(self.port)
        result = {}

        def run():
            try:
                result["response"] = c.read_response(timeout=15)
                result["closed"] = c.wait_closed(timeout=3)
            except Exception as e:  # reported by the test
                result["error"] = e

        c.request("GET", target)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, result

    def test_in_flight_request_completes(self):
        rw = self.start()
        t, result = self.in_flight("/slow?ms=1500")
        time.sleep(0.3)
        rw.signal(signal.SIGTERM)
        time.sleep(0.2)
        self.assertRefused()
        rc = rw.wait(timeout=10)
        t.join(timeout=10)
        self.assertNotIn("error", result, result)
        r = result["response"]
        self.assertEqual((r.status, r.body), (200, b"slow 1500 from web\n"), r)
        # The client connection is closed after the response instead of kept alive.
        self.assertTrue(result["closed"], "keep-alive connection left open during shutdown")
        self.assertEqual(rc, 0, rw.logs())

    def test_in_flight_with_several_workers(self):
        rw = self.start(workers=2)
        threads = [self.in_flight("/slow?ms=1000") for _ in range(4)]
        time.sleep(0.3)
        rw.signal(signal.SIGTERM)
        rc = rw.wait(timeout=10)
        for t, result in threads:
            t.join(timeout=10)
            self.assertNotIn("error", result, result)
            self.assertEqual(result["response"].status, 200)
        self.assertEqual(rc, 0, rw.logs())

    def test_idle_connections_do_not_delay_exit(self):
        rw = self.start(keepalive="60s")
        idle = []
        for _ in range(5):
            c = self.conn(self.port)
            self.assertEqual(c.roundtrip("GET", "/").status, 200)
            idle.append(c)
        silent = self.conn(self.port)  # connected, never sent a byte
        start = time.monotonic()
        rw.signal(signal.SIGTERM)
        rc = rw.wait(timeout=10)
        self.assertEqual(rc, 0, rw.logs())
        self.assertLess(time.monotonic() - start, 2.0)
        for c in idle + [silent]:
            self.assertTrue(c.wait_closed(timeout=1))

    def test_shutdown_deadline_bounds_exit(self):
        rw = self.start(shutdown="1s", upstream_response="30s")
        t, result = self.in_flight("/slow?ms=8000")
        time.sleep(0.3)
        start = time.monotonic()
        rw.signal(signal.SIGTERM)
        rc = rw.wait(timeout=10)
        waited = time.monotonic() - start
        self.assertIsNotNone(rc, "still running 10 s after SIGTERM with a 1 s deadline")
        self.assertGreater(waited, 0.7)
        self.assertLess(waited, 3.0)
        self.assertEqual(rc, 0, rw.logs())
        t.join(timeout=10)
        # The cut-off client got no successful response.
        r = result.get("response")
        self.assertTrue(r is None or r.status != 200 or not r.complete, result)

    def test_exit_without_traffic(self):
        rw = self.start(workers=2)
        start = time.monotonic()
        self.assertEqual(rw.stop(timeout=10), 0, rw.logs())
        self.assertLess(time.monotonic() - start, 2.0)


if __name__ == "__main__":
    harness.main()
