"""Engine edge cases: a backend that never completes the TCP handshake (connect timeout), a
buffer ring so small that receives run out of buffers (-ENOBUFS) and must be re-armed, and a
default ring whose kernel reserve many downloads empty turn after turn."""

import hashlib
import os
import re
import signal
import socket
import struct
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


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class BufferReserveTest(harness.ProxyTest):
    def test_many_downloads_use_no_more_buffers_than_lent_plus_the_reserve(self):
        # 60 clients ask for copied (not spliced) 2 MB bodies and read slowly (4 KiB receive
        # buffers), so hundreds of buffers are lent, more than the 64 the kernel's ring holds:
        # receives find it empty turn after turn and wait to be re-armed. A client beside them
        # is served whole. A buffer is used for the first time only when none has come back,
        # so the ring touches at most the most lent at once plus the reserve (a ring that hands
        # every buffer back to the kernel at once keeps all it ever handed out cycling, doubled
        # as the load grew: 256 with 187 lent at most, in a run of this test against such a
        # ring).
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(
            port, [web], global_extra={"buffers": {"splice": False}},
            log={"level": "debug"}), workers=1)
        n = 2000000
        slow = []
        for _ in range(60):
            s = socket.create_connection((harness.HOST, port), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /bytes?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % n)
            slow.append(s)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # a trickle each, so every queue keeps moving
            for s in slow:
                s.setblocking(False)
                try:
                    s.recv(4096)
                except OSError:
                    pass
            time.sleep(0.05)
        r = harness.request(port, "GET", "/bytes?n=%d" % n, timeout=30)
        self.assertEqual((r.status, harness.sha256(r.body)), (200, harness.pattern_sha256(n)))
        for s in slow:
            rst_close(s)
        time.sleep(0.5)
        rw.stop()
        lines = rw.log_lines("provided buffers were lent at once")
        self.assertEqual(len(lines), 1, rw.stderr()[-2000:])
        m = re.search(r"at most (\d+) of \d+ provided buffers were lent at once "
                      r"\((\d+) handed out, reserve (\d+)\)", lines[0])
        self.assertIsNotNone(m, lines[0])
        lent, used, reserve = (int(x) for x in m.groups())
        self.assertEqual(reserve, 64, lines[0])
        self.assertGreater(lent, reserve, "more lent than the kernel's ring holds: " + lines[0])
        self.assertLessEqual(used, lent + reserve, lines[0])
        self.assertEqual(rw.log_lines("provided buffers still lent at exit"), [])


    def test_reserve_applies_at_reload(self):
        # buffers.reserve from the file, then changed by a reload (SIGHUP) in the same process:
        # the worker's line at exit names the reserve it ended with, and the reload asks for
        # no restart.
        web = self.start_backend("web")
        port = self.free_port()
        text = harness.simple_config(port, [web], global_extra={"buffers": {"reserve": 32}},
                                     log={"level": "debug"})
        self.assertIn("reserve: 32", text)
        rw = self.start_ringway(text, workers=1)
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        with open(rw.config_path, "w") as f:
            f.write(text.replace("reserve: 32", "reserve: 16"))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: rw.log_lines("reload (SIGHUP): configuration 2 in use"), 5), rw.stderr())
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        self.assertNotIn("restart", " ".join(rw.log_lines("reload (SIGHUP)")))
        rw.stop()
        lines = rw.log_lines("provided buffers were lent at once")
        self.assertEqual(len(lines), 1, rw.stderr()[-2000:])
        self.assertIn("reserve 16)", lines[0])


if __name__ == "__main__":
    harness.main()
