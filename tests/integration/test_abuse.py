"""Peers that try to take more than their share of a worker: pipelined requests whose responses
are never read (proxied, or answered by ringway itself), readers and writers slower than the
proxy, and Upgrade tunnels that stall or sit idle.

Each attack runs beside a normal client, the probe, that makes a request on a fresh connection
every 150 ms. Every probe must get its answer (200, unless ringway answers it itself) within 2 s
while the attack runs (a functional bound, not a performance one: a starved worker stalls its
other clients for minutes or for ever), and ringway's RSS, sampled every 20 ms, must stay under
a stated bound. The numbers observed (probe
latencies, RSS, when an attacker was cut) are printed with each test so they can be quoted.
"""

import re
import select
import socket
import struct
import threading
import time

import harness

MiB = harness.MiB
PROBE_LIMIT = harness.PROBE_LIMIT
Probe = harness.Probe


def rst_close(sock):
    """Closes with a reset (SO_LINGER 0), so nothing the peer still queued for us lingers."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def ended(sock):
    """True once the peer has closed or reset `sock`; looks without reading (reading would be
    progress, and these clients must never make any)."""
    p = select.poll()
    p.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    try:
        return bool(p.poll(0))
    except OSError:
        return True


def held_by_process(proxy_port, sock):
    """Whether a process still has the proxy's side of `sock` open (the kernel's table lists
    an inode for it). A socket the proxy closed with unsent data left is an orphan with inode
    0: the kernel's to deliver or drop, no longer the proxy's memory."""
    local = sock.getsockname()[1]
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            lport = int(fields[1].rsplit(":", 1)[1], 16)
            rport = int(fields[2].rsplit(":", 1)[1], 16)
            if lport == proxy_port and rport == local:
                return int(fields[9]) != 0
    return False


def wait_ended(sock, timeout):
    """Seconds until the peer ends `sock` (polled every 20 ms), or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if ended(sock):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def client_socket(port, rcvbuf=4096, sndbuf=None, timeout=10):
    """A connected socket with a small receive buffer (set before connecting, so the window the
    kernel advertises stays small): the kernel holds little for it, ringway the rest."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    s.settimeout(timeout)
    s.connect((harness.HOST, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class NeverReads:
    """A client that writes `first`, then `more` again and again (when given) until stopped or
    `max_bytes` went out, as fast as ringway takes them, in a thread. It never reads a byte."""

    def __init__(self, port, first, more=None, max_bytes=256 * MiB, rcvbuf=4096, sndbuf=None):
        self.sock = client_socket(port, rcvbuf=rcvbuf, sndbuf=sndbuf)
        self.first = first
        self.more = more
        self.max_bytes = max_bytes
        self.sent = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self, data):
        view = memoryview(data)[:self.max_bytes - self.sent]
        pos = 0
        while pos < len(view) and not self._stop.is_set():
            try:
                n = self.sock.send(view[pos:pos + MiB])
            except socket.timeout:
                continue  # ringway is not reading us now
            pos += n
            self.sent += n

    def _run(self):
        self.sock.settimeout(0.2)
        try:
            self._write(self.first)
            while self.more and not self._stop.is_set() and self.sent < self.max_bytes:
                self._write(self.more)
        except OSError as e:
            self.error = e

    def ended(self):
        return self.error is not None or ended(self.sock)

    def stop(self, wait=True):
        self._stop.set()
        if wait:
            self._thread.join(timeout=5)

    def close(self):
        """Stops writing and resets the connection (again: a no-op)."""
        self.stop()
        rst_close(self.sock)


def pipelined(target, count, host="localhost"):
    return harness.build_request("GET", target, host=host) * count


# The bound the README states: what is queued towards one socket is capped at 8 buffers, and a
# receive is sized to the room left (about one buffer more at most).
BUFFERS_PER_DIRECTION = 9


def peak_lent(rw):
    """Stops `rw` (started with log level debug) and returns the most provided buffers its
    worker had lent at once, from the line it logs on the way out."""
    rw.stop()
    found = re.findall(r"at most (\d+) of \d+ provided buffers were lent at once", rw.stderr())
    assert found, "no buffer line in the log:\n" + rw.stderr()[-2000:]
    return max(int(n) for n in found)


def rss_mib(rw):
    kb = rw.proc_status("VmRSS")
    return (kb or 0) / 1024.0


class AbuseTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.port = self.free_port()
        self.attackers = []
        self.addCleanup(self.close_attackers)

    def close_attackers(self):
        for a in self.attackers:
            a.stop(wait=False)  # all at once: each may be waiting out a send timeout
        for a in self.attackers:
            a.close()

    def report(self, what, **numbers):
        """Prints the observed numbers under the test's name, for quoting."""
        parts = ", ".join("%s=%s" % (k, ("%.1f" % v) if isinstance(v, float) else v)
                          for k, v in numbers.items())
        print("\n    [%s] %s: %s" % (self._testMethodName, what, parts), flush=True)

    def assertProbesServed(self, probe):
        bad = probe.late_or_failed()
        self.assertEqual(bad, [], "probes not answered with %d within %.1f s beside the "
                         "attack (%s); first ones: %r"
                         % (probe.expect, PROBE_LIMIT, probe.summary(), bad[:5]))
        self.assertGreaterEqual(len(probe.results), 5, "too few probes ran: %s"
                                % probe.summary())

    def assertRssBelow(self, mib, limit_mib, what):
        """RSS bounds hold for the release build; under AddressSanitizer (quarantined frees,
        shadow memory) RSS says nothing about ringway's own memory, so they are not checked."""
        if harness.sanitized_binary(self.ringways[0].binary):
            return
        self.assertLess(mib, limit_mib, "%s %.1f MiB, over %.1f MiB" % (what, mib, limit_mib))

    def keep(self, attacker):
        self.attackers.append(attacker)
        return attacker

    # -----------------------------------------------------------------------------------------
    # 1. Pipelined proxied requests, responses never read

    def flood_proxied(self, workers, attackers, requests_each):
        """`attackers` connections each send `requests_each` pipelined GETs in one go and never
        read. Ringway must stop taking a connection's next request while its unsent responses
        are over a fixed bound (so the others keep being served) and cut it once it has stayed
        over the bound for client_send."""
        web = self.start_backend("web")
        rw = self.start_ringway(harness.simple_config(
            self.port, [web], timeouts={"client_send": "2s"}), workers=workers)
        self.assertEqual(harness.request(self.port, "GET", "/").status, 200)
        baseline = rss_mib(rw)
        payload = pipelined("/bytes?n=2000", requests_each)
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            start = time.monotonic()
            flood = [self.keep(NeverReads(self.port, payload)) for _ in range(attackers)]
            cut_after = [None] * attackers
            while time.monotonic() - start < 7 and None in cut_after:
                for i, a in enumerate(flood):
                    if cut_after[i] is None and a.ended():
                        cut_after[i] = round(time.monotonic() - start, 2)
                time.sleep(0.05)
            time.sleep(max(0.0, 5 - (time.monotonic() - start)))  # probes for 5 s at least
        self.close_attackers()
        served = web.stats()["paths"].get("/bytes", 0)
        self.report("pipelined flood", workers=workers, attackers=attackers,
                    requests_each=requests_each, probes=probe.summary(),
                    rss_baseline_mib=baseline, rss_peak_mib=rss.peak_kb / 1024.0,
                    attackers_cut_after_s=cut_after, backend_served=served)
        self.assertProbesServed(probe)
        self.assertNotIn(None, cut_after, "attackers over the bound for client_send (2 s) "
                         "still connected 7 s after the flood began")
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        # Served afterwards, by every worker.
        for _ in range(4):
            self.assertEqual(harness.request(self.port, "GET", "/", timeout=5).status, 200)

    def test_pipelined_flood_never_read_does_not_stall_two_workers(self):
        self.flood_proxied(workers=2, attackers=4, requests_each=3000)

    def test_pipelined_flood_never_read_does_not_stall_one_worker(self):
        self.flood_proxied(workers=1, attackers=2, requests_each=3000)

    # -----------------------------------------------------------------------------------------
    # 2. Pipelined requests that ringway answers itself, responses never read

    def flood_local(self, config_text, host, expect_status, ready=None):
        """One connection writes pipelined requests that ringway answers itself (no backend
        involved, so no provided buffer holds them back) for 4 s and never reads. The
        responses it cannot send must not pile up in memory: the peak RSS stays bounded, and
        once the client leaves, RSS falls back near where it was. `ready(rw)` waits until
        ringway answers `expect_status`."""
        rw = self.start_ringway(config_text)
        if ready:
            ready(rw)
        r = harness.request(self.port, "GET", "/x", host=host)
        self.assertEqual(r.status, expect_status, r)
        time.sleep(0.2)
        baseline = rss_mib(rw)
        payload = pipelined("/x", 2000, host=host)
        with harness.RssSampler(rw) as rss, Probe(self.port, host=host, interval=0.2,
                                                       expect=expect_status) as probe:
            attacker = self.keep(NeverReads(self.port, payload, more=payload))
            start = time.monotonic()
            # 4 s of it, cut short once RSS is far over the bound (an unbounded ringway
            # reaches gigabytes within those seconds).
            while time.monotonic() - start < 4 and rss.peak_kb < 256 * 1024:
                time.sleep(0.05)
            attacker.stop()
            during = rss_mib(rw)
            attacker.close()
            time.sleep(1.5)
        after = rss_mib(rw)
        self.report("pipelined %d flood" % expect_status, sent_mib=attacker.sent / MiB,
                    rss_baseline_mib=baseline, rss_peak_mib=rss.peak_kb / 1024.0,
                    rss_at_end_of_attack_mib=during, rss_1_5s_after_close_mib=after,
                    probes=probe.summary())
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        # The buffer ring (16 MiB) may have been touched by the attack; more than that left
        # over is responses kept after their connection died.
        self.assertRssBelow(after, baseline + 24, "RSS after the attacker left")
        r = harness.request(self.port, "GET", "/x", host=host, timeout=5)
        self.assertEqual(r.status, expect_status, r)

    def test_pipelined_404s_never_read_keep_memory_bounded(self):
        # No default server: an unknown Host gets 404 from ringway.
        site = {"name": "site", "server_name": ["known.test"], "upstream": "pool"}
        self.flood_local(harness.config([("main", self.port)], [site], [
            harness.upstream("pool", [self.closed_port()])]), "unknown.test", 404)

    def test_pipelined_503s_never_read_keep_memory_bounded(self):
        # The only backend refuses connections; once its first health check says so (a
        # backend that fails its very first check is out at once), every request gets 503.
        dead = self.closed_port()
        site = {"name": "site", "server_name": ["localhost"], "upstream": "pool",
                "default": True}
        cfg = harness.config([("main", self.port)], [site], [
            harness.upstream("pool", [dead])])
        self.flood_local(cfg, "localhost", 503,
                         ready=lambda rw: rw.wait_health_event(dead, "down"))

    def test_pipelined_redirects_never_read_keep_memory_bounded(self):
        site = {"name": "site", "server_name": ["localhost"], "upstream": "pool",
                "default": True, "redirect_https": True}
        self.flood_local(harness.config([("main", self.port)], [site], [
            harness.upstream("pool", [self.closed_port()])]), "localhost", 301)

    # -----------------------------------------------------------------------------------------
    # 3. Slow readers and slow uploads

    def test_slow_readers_of_large_bodies_do_not_starve_others(self):
        """48 clients each fetch a 50 MB body through a small receive buffer and read 4 KiB
        every 200 ms: slower than the proxy, far faster than client_send, so none is cut.
        With default buffers (1024 x 16 KiB, one worker) they must not take every buffer."""
        web = self.start_backend("web")
        rw = self.start_ringway(harness.simple_config(self.port, [web], log={"level": "debug"}))
        readers = []
        for _ in range(48):
            s = client_socket(self.port)
            readers.append(s)
            s.sendall(b"GET /bytes?n=50000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            s.setblocking(False)
        stop = threading.Event()
        got = [0]

        def read_slowly():
            while not stop.is_set():
                for s in readers:
                    try:
                        got[0] += len(s.recv(4096))
                    except OSError:  # nothing there yet (or cut: counted below)
                        pass
                stop.wait(0.2)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        try:
            time.sleep(1.5)  # every reader's queue in ringway has filled
            with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
                time.sleep(5)
            cut = sum(1 for s in readers if ended(s))
        finally:
            stop.set()
            reader.join(timeout=5)
            for s in readers:
                rst_close(s)
        lent = peak_lent(rw)
        self.report("48 slow readers", probes=probe.summary(),
                    rss_peak_mib=rss.peak_kb / 1024.0, readers_cut=cut,
                    read_mib_total=got[0] / MiB, peak_buffers_lent=lent)
        self.assertProbesServed(probe)
        self.assertEqual(cut, 0, "slow readers that keep reading were cut")
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        # Each reader pins at most BUFFERS_PER_DIRECTION (probes add a few more).
        self.assertLessEqual(lent, 48 * BUFFERS_PER_DIRECTION + 8)

    def test_fewer_slow_readers_than_ring_over_bound_never_empty_the_ring(self):
        """The guarantee as the README states it: a ring of N buffers cannot be emptied by
        fewer than N / 9 connections that only download. A ring of 128 buffers and 13 readers
        that never read: the ring never runs dry, and a probe is served throughout."""
        web = self.start_backend("web")
        count = 128
        readers_n = count // BUFFERS_PER_DIRECTION - 1
        rw = self.start_ringway(harness.simple_config(
            self.port, [web], log={"level": "debug"},
            global_extra={"buffers": {"size": "16k", "count": count}},
            timeouts={"client_send": "30s"}))
        for _ in range(readers_n):
            s = client_socket(self.port)
            self.addCleanup(rst_close, s)
            s.sendall(b"GET /bytes?n=50000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(1.5)  # every reader's queue is full
        with Probe(self.port) as probe:
            time.sleep(3)
        rw.stop()
        dry = rw.log_lines("provided buffers exhausted")
        self.report("%d readers, ring of %d" % (readers_n, count), probes=probe.summary(),
                    ring_ran_dry=len(dry))
        self.assertProbesServed(probe)
        self.assertEqual(dry, [], "the ring ran dry")
        self.assertLessEqual(peak_lent(rw), readers_n * BUFFERS_PER_DIRECTION + 4)

    def test_slow_uploads_to_a_slow_backend_do_not_starve_others(self):
        """The mirror image: 64 clients each upload a 50 MB body as fast as they can to a
        backend that reads it at 16 KiB/s. The bodies queued for the backend must not take
        every buffer either. (More clients than readers above: uploads pin fewer buffers each
        in the unfixed ringway, where 48 of them did not run the ring dry and 64 do.)"""
        web = self.start_backend("web")
        rw = self.start_ringway(harness.simple_config(self.port, [web], log={"level": "debug"}))
        head = (b"POST /sink?read_kbps=16 HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Length: 50000000\r\n\r\n")
        body = b"u" * MiB
        uploads = [self.keep(NeverReads(self.port, head, more=body,
                                        max_bytes=len(head) + 50000000, sndbuf=256 * 1024))
                   for _ in range(64)]
        time.sleep(2.0)  # every upload's queue in ringway has filled
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            time.sleep(5)
        self.close_attackers()
        lent = peak_lent(rw)
        self.report("%d slow uploads" % len(uploads), probes=probe.summary(),
                    rss_peak_mib=rss.peak_kb / 1024.0,
                    uploaded_mib=sum(u.sent for u in uploads) / MiB, peak_buffers_lent=lent)
        self.assertProbesServed(probe)
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        self.assertLessEqual(lent, len(uploads) * BUFFERS_PER_DIRECTION + 8)

    # -----------------------------------------------------------------------------------------
    # 4. Upgrade tunnels

    def open_tunnel(self, target="/upgrade", rcvbuf=4096):
        """A socket with a 101 from the echo backend's /upgrade read off it (closed at the end
        of the test, if not before)."""
        s = client_socket(self.port, rcvbuf=rcvbuf)
        self.addCleanup(rst_close, s)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
                  b"Upgrade: echo-proto\r\n\r\n" % target.encode())
        head = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in head and time.monotonic() < deadline:
            data = s.recv(1)  # byte by byte: nothing past the head is read
            if not data:
                break
            head += data
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        return s

    @staticmethod
    def write_until_blocked(s, quiet=0.5, limit=8.0, max_bytes=512 * MiB):
        """Writes as fast as the tunnel takes bytes until no write has gone through for
        `quiet` seconds (or the connection ended). Returns (bytes written, error or None)."""
        s.setblocking(False)
        chunk = b"t" * 65536
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < limit and sent < max_bytes:
            try:
                sent += s.send(chunk)
                continue
            except BlockingIOError:
                pass
            except OSError as e:
                return sent, e
            _, writable, _ = select.select([], [s], [], quiet)
            if not writable:
                return sent, None
        return sent, None

    def stalled_tunnel(self, target, what):
        """A tunnel that stops moving (the client writes until it can write no more) is cut
        within a few seconds of client_send (2 s; upstream_response is 2 s too, whichever of
        them the stalled side runs under), while other clients are served."""
        web = self.start_backend("web")
        self.start_ringway(harness.simple_config(
            self.port, [web], timeouts={"client_send": "2s", "upstream_response": "2s"}))
        with Probe(self.port) as probe:
            s = self.open_tunnel(target)
            start = time.monotonic()
            sent, error = self.write_until_blocked(s)
            blocked = time.monotonic() - start
            waited = 0.0 if error is not None else wait_ended(s, 2 + 4)
            time.sleep(max(0.0, 3 - (time.monotonic() - start)))
        rst_close(s)
        self.report(what, written_mib=sent / MiB, blocked_after_s=blocked,
                    cut_after_blocked_s=waited, probes=probe.summary())
        self.assertIsNotNone(waited, "a tunnel that stalled (%s) was still open 6 s after it "
                             "stopped moving; the send timeouts are 2 s" % what)
        self.assertProbesServed(probe)

    def test_tunnel_whose_client_stops_reading_is_cut(self):
        """The client writes into an echo tunnel and never reads: the echoed bytes pile up
        towards the client, and it makes no progress for client_send."""
        self.stalled_tunnel("/upgrade", "client stops reading")

    def test_tunnel_whose_backend_stops_reading_is_cut(self):
        """The backend switches protocols and then never reads; the client keeps writing."""
        self.stalled_tunnel("/upgrade?stall=1", "backend stops reading")

    def test_idle_tunnel_is_closed_after_the_tunnel_timeout(self):
        """global.timeouts.tunnel: a tunnel with no bytes either way for that long is closed;
        one that carries bytes stays open. (Needs the `tunnel` key.)"""
        web = self.start_backend("web")
        self.start_ringway(harness.simple_config(self.port, [web], timeouts={"tunnel": "1s"}))
        s = self.open_tunnel(rcvbuf=65536)
        start = time.monotonic()
        while time.monotonic() - start < 2.5:  # busy: a ping every 400 ms
            time.sleep(0.4)
            s.sendall(b"ping")
            s.settimeout(2)
            got = b""
            while len(got) < 4:
                data = s.recv(4 - len(got))
                self.assertTrue(data, "a busy tunnel was closed after %.1f s"
                                % (time.monotonic() - start))
                got += data
            self.assertEqual(got, b"ping")
        idle_from = time.monotonic()  # the last byte just came back
        waited = wait_ended(s, 5)
        self.report("idle tunnel", busy_s=idle_from - start, closed_after_idle_s=waited)
        self.assertIsNotNone(waited, "an idle tunnel outlived tunnel: 1s by 4 s")
        self.assertGreater(waited, 0.5, "closed before it had been idle for tunnel: 1s")

    # -----------------------------------------------------------------------------------------
    # 5. Deadlines that nothing a peer does can lift

    def test_last_response_left_queued_for_a_client_that_never_reads_is_cut(self):
        """HTTP/1.0 clients ask for bodies of sizes around what the kernel's socket buffers
        hold and never read: for some, what is left in ringway is under the cap, so no
        backpressure ever starts, and the exchange is over. Their send deadline must still
        run: within client_send (2 s) ringway lets go of each (cut, or closed with the rest
        left to the kernel), none held for ever."""
        web = self.start_backend("web")
        self.start_ringway(harness.simple_config(
            self.port, [web], timeouts={"client_send": "2s", "keepalive": "2s"}))
        socks = []
        # Around 2.8 MB is where the kernel's socket buffers fill on loopback here: a step of
        # 25 KB leaves some response with less than the cap in ringway, whatever the machine.
        for n in [64 * 1024] + list(range(2500000, 3200001, 25000)):
            s = client_socket(self.port)
            self.addCleanup(rst_close, s)
            s.sendall(b"GET /bytes?n=%d HTTP/1.0\r\nHost: localhost\r\n\r\n" % n)
            socks.append((n, s))
        time.sleep(1)
        # The sizes the kernel could not take whole are still ringway's to send.
        held_at_1s = [n for n, s in socks if held_by_process(self.port, s)]
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline and any(held_by_process(self.port, s)
                                                  for _, s in socks):
            time.sleep(0.1)
        held = [n for n, s in socks if held_by_process(self.port, s)]
        self.report("last responses never read", sizes=len(socks), held_at_1s=held_at_1s,
                    still_held_at_8s=held)
        self.assertNotEqual(held_at_1s, [], "no response was left in ringway: nothing tested")
        self.assertEqual(held, [], "connections kept 8 s past client_send (2 s)")

    def test_finishing_the_request_body_does_not_lift_the_send_deadline(self):
        """A backend answers a large response before reading the request body; the client never
        reads it, then sends the last body byte (or one byte now and then). The state timers
        that the body arms must not replace the deadline the full queue started."""
        backend = AnswersBeforeBody(8 * MiB)
        self.addCleanup(backend.close)
        self.start_ringway(harness.simple_config(
            self.port, [backend.address],
            timeouts={"client_send": "2s", "client_body": "3s", "upstream_response": "3s"}))
        last = client_socket(self.port)
        self.addCleanup(rst_close, last)
        last.sendall(b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\na")
        trickle = client_socket(self.port)
        self.addCleanup(rst_close, trickle)
        trickle.sendall(b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\na")
        time.sleep(1.0)  # both queues are over the cap by now
        last.sendall(b"b")  # the body ends
        start = time.monotonic()
        trickle_ended = None
        while time.monotonic() - start < 6 and trickle_ended is None:
            time.sleep(0.5)
            try:
                trickle.sendall(b"b")  # a body byte now and then, well within client_body
            except OSError:
                pass
            if ended(trickle):
                trickle_ended = time.monotonic() - start
        last_ended = wait_ended(last, 1)
        self.report("body ends under a full queue", last_cut=last_ended is not None,
                    trickle_cut_after_s=trickle_ended)
        self.assertIsNotNone(last_ended, "a client that never reads kept after its body ended")
        self.assertIsNotNone(trickle_ended, "body bytes kept a client that never reads alive")

    def test_a_pooled_connection_brings_no_receive_budget_to_a_full_queue(self):
        """A client pipelines two large responses and does not read: the second request goes
        out on a pooled connection while the first response still fills the client's queue.
        Its receive must be sized for that queue, not for the empty one it was armed for."""
        web = self.start_backend("web")
        rw = self.start_ringway(harness.simple_config(
            self.port, [web], keepalive=8, log={"level": "debug"},
            timeouts={"client_send": "20s"}))
        self.assertEqual(harness.request(self.port, "GET", "/bytes?n=10").status, 200)
        s = client_socket(self.port)
        self.addCleanup(rst_close, s)
        s.sendall(b"GET /bytes?n=2900000 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET /bytes?n=1000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(3)
        lent = peak_lent(rw)
        self.report("pipelined over a pooled connection", peak_buffers_lent=lent)
        self.assertLessEqual(lent, BUFFERS_PER_DIRECTION + 1)


class AnswersBeforeBody:
    """A backend that reads a request head and at once sends a `size`-byte response, never
    reading the request body (as a server answering from a file does)."""

    def __init__(self, size):
        self.size = size
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((harness.HOST, 0))
        self.listener.listen(16)
        self.address = "%s:%d" % (harness.HOST, self.listener.getsockname()[1])
        self.conns = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        head = b""
        c.settimeout(10)
        try:
            while b"\r\n\r\n" not in head:
                data = c.recv(65536)
                if not data:
                    return
                head += data
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size)
            c.sendall(b"x" * self.size)
        except OSError:
            pass

    def close(self):
        self._stop.set()
        self.listener.close()
        for c in self.conns:
            rst_close(c)


if __name__ == "__main__":
    harness.main()
