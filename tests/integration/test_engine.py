"""Engine edge cases: a backend that never completes the TCP handshake (connect timeout), and a
buffer ring so small that receives run out of buffers (-ENOBUFS) and must be re-armed."""

import hashlib
import os
import socket
import threading
import time

import harness


class ConnectTimeoutTest(harness.ProxyTest):
    def test_connect_timeout_is_504(self):
        # A listener that never accepts, with its accept queue already full: the kernel drops
        # further SYNs, so ringway's connect stays pending until upstream_connect fires.
        blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blackhole.bind((harness.HOST, 0))
        blackhole.listen(0)
        fillers = []
        for _ in range(3):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(blackhole.getsockname())
            except BlockingIOError:
                pass
            fillers.append(s)
        time.sleep(0.2)
        try:
            port = self.free_port()
            cfg = harness.config(
                [("main", port)],
                [{"name": "site", "server_name": ["localhost"], "upstream": "pool",
                  "default": True}],
                [{"name": "pool", "servers": ["%s:%d" % blackhole.getsockname()]}],
                timeouts={"upstream_connect": "500ms", "upstream_response": "30s"})
            self.start_ringway(cfg)
            start = time.monotonic()
            r = harness.request(port, "GET", "/", timeout=10)
            elapsed = time.monotonic() - start
            self.assertEqual(r.status, 504, r)
            self.assertShortErrorBody(r)
            self.assertGreater(elapsed, 0.3)
            self.assertLess(elapsed, 3.0)
        finally:
            for s in fillers:
                s.close()
            blackhole.close()


class BufferStarvationTest(harness.ProxyTest):
    def test_transfers_complete_when_the_buffer_ring_runs_dry(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(
            port, [web], global_extra={"buffers": {"size": "4k", "count": 16}},
            log={"level": "debug"}))
        n_down = 3 * harness.MiB
        body = os.urandom(harness.MiB)
        want_up = hashlib.sha256(body).hexdigest()
        errors = []

        def client(i):
            try:
                for _ in range(2):
                    r = harness.request(port, "GET", "/bytes?n=%d" % n_down, timeout=60)
                    if r.status != 200 or len(r.body) != n_down:
                        errors.append("client %d: download %r" % (i, r))
                    r = harness.request(port, "POST", "/sink", body=body, timeout=60)
                    if r.status != 200 or r.json().get("sha256") != want_up:
                        errors.append("client %d: upload %r" % (i, r))
            except Exception as e:  # reported below with the client number
                errors.append("client %d: %r" % (i, e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still running")
        self.assertEqual(errors, [])
        # Every download had the same deterministic content.
        r = harness.request(port, "GET", "/bytes?n=%d" % n_down, timeout=60)
        self.assertEqual(harness.sha256(r.body), harness.pattern_sha256(n_down))
        # The ring really ran dry (the receive path logs each exhaustion at debug level).
        self.assertIn("provided buffers exhausted", self.ringways[0].stderr())


if __name__ == "__main__":
    harness.main()
