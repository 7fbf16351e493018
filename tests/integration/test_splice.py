"""Large HTTP/1 response bodies spliced (backend socket -> pipe -> client socket): every body
arrives intact whatever its size around the threshold, pipelined or not, after HEAD, mixed with
chunked responses (which are not spliced); a backend or a client that goes away mid-body leaks
no pipe; a stalled download really holds a pipe (none with `buffers: {splice: off}`); and the
upstream connection of a spliced response is reused. Regressions: TCP urgent data inside a
spliced body (no spinning, the rest arrives), bytes a backend sends past its Content-Length
(no reuse of that upstream connection), and stalled downloads up to a small open-file limit
(pipes fit the descriptor budget)."""

import os
import re
import select
import socket
import struct
import threading
import time

import harness

KiB = 1024
MiB = harness.MiB
SPARE_PIPES = 128  # pipes a worker keeps open for reuse (two descriptors each)

_sha_cache = {}


def pattern_sha(n):
    if n not in _sha_cache:
        _sha_cache[n] = harness.pattern_sha256(n)
    return _sha_cache[n]


def fd_links(pid):
    """The targets of ringway's open descriptors (an fd closed while listing is skipped)."""
    out = []
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            out.append(os.readlink(os.path.join(base, name)))
        except OSError:
            pass
    return out


def pipe_fds(pid):
    return sum(1 for t in fd_links(pid) if t.startswith("pipe:"))


def total_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def splice_off_config(text):
    """`text` (a harness config) with `buffers: {splice: off}` under global."""
    assert text.startswith("global:\n"), text[:40]
    return text.replace("global:\n", "global:\n  buffers:\n    splice: off\n", 1)


def with_buffers(text, **buffers):
    assert text.startswith("global:\n"), text[:40]
    lines = "".join("    %s: %s\n" % kv for kv in buffers.items())
    return text.replace("global:\n", "global:\n  buffers:\n" + lines, 1)


def cpu_seconds(pid):
    """User plus system CPU time of process `pid` (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_head(sock, buf):
    """Reads one request head from `sock` (bytes already read in `buf`, a bytearray, which
    keeps what follows the head); the head, or None at end of stream."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    buf[:] = rest
    return head


class RawBackend:
    """A backend on raw sockets at 127.0.0.1 (`address`), for bytes no well-behaved backend
    sends: each accepted connection is served by handler(sock, stop) in a daemon thread.
    close() sets `stop`, closes the listener and shuts every accepted connection down."""

    def __init__(self, handler):
        self.handler = handler
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((harness.HOST, 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.address = "%s:%d" % (harness.HOST, self.port)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self.lock:
                if self.stop.is_set():
                    sock.close()
                    return
                self.accepted.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        try:
            self.handler(sock, self.stop)
        except OSError:
            pass
        finally:
            sock.close()

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)
        with self.lock:
            socks, self.accepted = self.accepted, []
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it
            except OSError:
                pass
            sock.close()


class SpliceTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.rw = self.start_ringway(harness.simple_config(self.port, [self.web]), workers=1)

    # -- helpers ------------------------------------------------------------------------------

    def assertIntact(self, r, n, what=""):
        self.assertEqual(r.status, 200, "%s %r" % (what, r))
        self.assertEqual(r.header("content-length"), str(n), "%s %r" % (what, r))
        self.assertTrue(r.complete, "%s %r" % (what, r))
        self.assertEqual(len(r.body), n, what)
        self.assertEqual(harness.sha256(r.body), pattern_sha(n), "%s: body differs" % what)

    def get_bytes(self, c, n, timeout=60):
        r = c.roundtrip("GET", "/bytes?n=%d" % n, timeout=timeout)
        self.assertIntact(r, n, "GET /bytes?n=%d" % n)
        return r

    def warm_baseline(self, rw, port):
        """One small request (so an upstream connection sits in the pool), then ringway's pipe
        and total descriptor counts."""
        self.assertEqual(harness.request(port, "GET", "/bytes?n=100").status, 200)
        time.sleep(0.2)
        return pipe_fds(rw.pid), total_fds(rw.pid)

    def assertNoPipeLeak(self, rw, base_pipes, base_total, pooled=0, settle=5.0):
        """At most SPARE_PIPES spare pipes stay open beyond the baseline, and the descriptor
        count comes back near the baseline (polled for up to `settle` seconds); `pooled`:
        idle upstream connections the pool may keep on top of that."""
        limit_pipes = base_pipes + 2 * SPARE_PIPES
        limit_total = base_total + 2 * SPARE_PIPES + 4 + pooled
        harness.wait_for(lambda: pipe_fds(rw.pid) <= limit_pipes and
                         total_fds(rw.pid) <= limit_total, settle, interval=0.05)
        pipes, total = pipe_fds(rw.pid), total_fds(rw.pid)
        self.assertLessEqual(pipes, limit_pipes,
                             "ringway holds %d pipe descriptors (baseline %d, %d spares max):\n%s"
                             % (pipes, base_pipes, SPARE_PIPES, sorted(fd_links(rw.pid))))
        self.assertLessEqual(total, limit_total,
                             "ringway holds %d descriptors (baseline %d):\n%s"
                             % (total, base_total, sorted(fd_links(rw.pid))))

    # -- 1. sizes around the threshold, one keep-alive connection -----------------------------

    def test_sizes_around_threshold_on_one_connection_and_upstream_reused(self):
        sizes = [100, 32767, 32768, 32769, 100, 49152, 65536, 1, 65537, 100,
                 MiB, 0, 8 * MiB, 100, 32 * KiB + 1, MiB + 1]
        self.web.reset_stats()
        c = self.conn(self.port, timeout=60)
        for n in sizes:
            self.get_bytes(c, n)
        # The connection is still in step after all of it.
        r = c.roundtrip("GET", "/echo")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo")
        stats = self.web.stats()
        self.assertEqual(stats["requests"], len(sizes) + 1, stats)
        # A spliced response leaves its upstream connection reusable: one connection carried
        # every request (one per spliced response if it were closed after each).
        self.assertEqual(stats["connections"], 1, stats)

    def test_custom_threshold_sizes_intact(self):
        port = self.free_port()
        rw = self.start_ringway(with_buffers(harness.simple_config(port, [self.web]),
                                             splice="64k"), workers=1)
        self.web.reset_stats()
        c = self.conn(port, timeout=60)
        for n in (65535, 65536, 65537, 100, 3 * MiB, 40000, 131072):
            self.get_bytes(c, n)
        self.assertEqual(self.web.stats()["connections"], 1, self.web.stats())
        self.assertTrue(rw.running())

    # -- 2. pipelining ------------------------------------------------------------------------

    def test_pipelined_spliced_responses_in_order(self):
        sizes = [MiB, 100, 256 * KiB]
        c = self.conn(self.port, timeout=60)
        c.send(b"".join(harness.build_request("GET", "/bytes?n=%d" % n) for n in sizes))
        for n in sizes:
            r = c.read_response(timeout=60)
            self.assertIntact(r, n, "pipelined /bytes?n=%d" % n)
        # And once more, in the other order, on the same connection.
        sizes.reverse()
        c.send(b"".join(harness.build_request("GET", "/bytes?n=%d" % n) for n in sizes))
        for n in sizes:
            r = c.read_response(timeout=60)
            self.assertIntact(r, n, "pipelined /bytes?n=%d" % n)

    # -- 3. HEAD ------------------------------------------------------------------------------

    def test_head_of_large_body_then_get(self):
        c = self.conn(self.port, timeout=30)
        r = c.roundtrip("HEAD", "/bytes?n=%d" % MiB)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-length"), str(MiB), r)
        self.assertEqual(r.body, b"")
        # No body bytes follow the HEAD response.
        time.sleep(0.3)
        self.assertFalse(c.wait_closed(timeout=0.2), "connection closed after HEAD")
        self.assertEqual(bytes(c.buf), b"", "bytes after a HEAD response")
        self.get_bytes(c, MiB)
        r = c.roundtrip("HEAD", "/bytes?n=%d" % (8 * MiB))
        self.assertEqual(r.header("content-length"), str(8 * MiB), r)
        self.get_bytes(c, 100)

    # -- 4. the backend dies mid-body ---------------------------------------------------------

    def test_backend_dies_mid_body(self):
        n = 4 * MiB
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        for i in range(20):
            c = self.conn(self.port, timeout=30)
            c.request("GET", "/close-mid?n=%d" % n)
            try:
                r = c.read_response(timeout=30)
            except harness.ClosedEarly:
                r = None
            if r is not None and r.status != 502:
                # The head went out: the body must end short, with the connection.
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("content-length"), str(n), r)
                self.assertFalse(r.complete, "round %d: a complete response %r" % (i, r))
                self.assertLess(len(r.body), n, "round %d" % i)
                # What arrived is the start of the body the backend sent, nothing else.
                self.assertLessEqual(len(r.body), n // 2, "round %d" % i)
                self.assertEqual(harness.sha256(r.body), pattern_sha(len(r.body)),
                                 "round %d: the partial body differs" % i)
                self.assertTrue(c.wait_closed(timeout=5), "round %d: connection left open" % i)
            c.close()
            # A new connection is served in full.
            c2 = self.conn(self.port, timeout=30)
            self.get_bytes(c2, MiB)
            c2.close()
            self.assertTrue(self.rw.running(), "ringway exited in round %d" % i)
        self.assertTrue(self.rw.running())
        self.assertNoPipeLeak(self.rw, base_pipes, base_total)

    # -- 5. the client gives up mid-download --------------------------------------------------

    def test_client_aborts_mid_download_leaks_no_pipe(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        n = 16 * MiB
        for i in range(50):
            s = socket.create_connection((harness.HOST, self.port), timeout=20)
            try:
                if i % 2 == 0:  # close with a reset
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.sendall(harness.build_request("GET", "/bytes?n=%d" % n))
                got = 0
                deadline = time.monotonic() + 20
                while got < 100 * KiB:
                    self.assertLess(time.monotonic(), deadline, "round %d: only %d bytes" % (i, got))
                    data = s.recv(64 * KiB)
                    self.assertTrue(data, "round %d: closed after %d bytes" % (i, got))
                    got += len(data)
            finally:
                s.close()
        time.sleep(0.2)
        self.assertTrue(self.rw.running())
        c = self.conn(self.port, timeout=30)
        self.get_bytes(c, MiB)
        c.close()
        self.assertNoPipeLeak(self.rw, base_pipes, base_total)
        # One download at a time: a pipe cut with bytes in it is closed, an empty one is reused,
        # so at most one spare is left, whatever the 50 aborts did.
        self.assertLessEqual(pipe_fds(self.rw.pid), base_pipes + 2,
                             sorted(fd_links(self.rw.pid)))
        # And ringway still serves a spliced body afterwards.
        self.get_bytes(self.conn(self.port, timeout=30), 2 * MiB)

    # -- 6. splice is really used (and not with splice: off) ----------------------------------

    def stalled_download(self, rw, port, n, expect_pipe):
        """A client with a small receive buffer asks for n bytes and reads nothing for a while;
        returns (the most pipe descriptors seen meanwhile, the baseline)."""
        base_pipes, _ = self.warm_baseline(rw, port)
        c = self.conn(port, timeout=120)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * KiB)
        start = time.monotonic()
        c.request("GET", "/bytes?n=%d" % n)
        seen = base_pipes
        # Poll (up to 3 s) for a pipe lent while the download stalls; without splicing, watch
        # for 1.5 s that none appears.
        window = 3.0 if expect_pipe else 1.5
        while time.monotonic() - start < window:
            seen = max(seen, pipe_fds(rw.pid))
            if expect_pipe and seen > base_pipes and time.monotonic() - start >= 1.0:
                break
            time.sleep(0.02)
        r = c.read_response(timeout=120)
        self.assertIntact(r, n, "stalled /bytes?n=%d" % n)
        # The connection goes on.
        self.get_bytes(c, 100)
        return seen, base_pipes

    def test_stalled_download_holds_a_pipe_only_when_splicing(self):
        n = 64 * MiB
        seen, base = self.stalled_download(self.rw, self.port, n, expect_pipe=True)
        self.assertGreater(seen, base, "no pipe descriptor appeared in ringway while a spliced "
                                       "download stalled (baseline %d)" % base)

        port = self.free_port()
        rw_off = self.start_ringway(splice_off_config(harness.simple_config(port, [self.web])),
                                    workers=1)
        seen, base = self.stalled_download(rw_off, port, n, expect_pipe=False)
        self.assertEqual(seen, base, "with splice: off ringway opened pipe descriptors "
                                     "(baseline %d, seen %d)" % (base, seen))

    def test_stalled_spliced_downloads_pin_no_provided_buffers(self):
        # Six clients stall on large downloads with a ring of 16 small buffers: received, their
        # bodies would pin every buffer (test_robustness.py, with splicing off); spliced, they
        # wait in pipes, and the ring still serves everyone else.
        port = self.free_port()
        rw = self.start_ringway(with_buffers(harness.simple_config(port, [self.web]),
                                             size="4k", count=16).replace(
                                                 "level: info", "level: debug"), workers=1)
        holders = []
        for _ in range(6):
            s = socket.create_connection((harness.HOST, port), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /bytes?n=20000000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            holders.append(s)
            time.sleep(0.01)
        time.sleep(1.0)
        for s in holders:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.5)
        for _ in range(5):
            r = harness.request(port, "GET", "/bytes?n=100000", timeout=5)
            self.assertIntact(r, 100000, "a client beside the stalled ones")
        self.assertNotIn("provided buffers exhausted", rw.stderr())
        for s in holders:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        r = harness.request(port, "GET", "/bytes?n=1000000", timeout=10)
        self.assertIntact(r, 1000000, "after the stalled clients reset")

    # -- 7. many at once ----------------------------------------------------------------------

    def test_many_concurrent_downloads(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        n = 2 * MiB
        clients = 40
        results = [None] * clients
        barrier = threading.Barrier(clients, timeout=30)

        def one(i):
            try:
                with harness.Conn(self.port, timeout=60) as c:
                    barrier.wait()
                    r = c.roundtrip("GET", "/bytes?n=%d&i=%d" % (n, i), timeout=60)
                    results[i] = (r.status, r.complete, len(r.body), harness.sha256(r.body))
            except Exception as e:  # reported below
                results[i] = "%s: %s" % (type(e).__name__, e)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        self.assertFalse(any(t.is_alive() for t in threads), "a client is still downloading")
        want = (200, True, n, pattern_sha(n))
        bad = [(i, r) for i, r in enumerate(results) if r != want]
        self.assertEqual(bad, [], "%d of %d downloads not intact" % (len(bad), clients))
        # However many pipes were lent at once, at most SPARE_PIPES stay open (beside up to one
        # pooled upstream connection per client).
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=clients)

    # -- 8. chunked is not spliced, and still intact ------------------------------------------

    def test_chunked_after_spliced_on_same_connection(self):
        c = self.conn(self.port, timeout=60)
        self.get_bytes(c, MiB)
        for n, size in ((MiB, 4096), (MiB, 65536), (300000, 1000)):
            r = c.roundtrip("GET", "/chunked?n=%d&size=%d" % (n, size), timeout=60)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.chunked, r)
            self.assertTrue(r.complete, r)
            self.assertEqual(len(r.body), n)
            self.assertEqual(harness.sha256(r.body), pattern_sha(n), "chunked body differs")
            # A spliced one right after the chunked one.
            self.get_bytes(c, 512 * KiB)
        r = c.roundtrip("GET", "/chunked?n=%d" % MiB, timeout=60)
        self.assertTrue(r.complete, r)
        self.assertEqual(harness.sha256(r.body), pattern_sha(MiB))


    # -- 9. regressions from review ----------------------------------------------------------

    def raw_backend(self, handler):
        b = RawBackend(handler)
        self.addCleanup(b.close)
        return b

    def test_urgent_data_mid_body_does_not_spin(self):
        # A TCP urgent byte (MSG_OOB) inside a spliced body: splice(2) stops at the urgent
        # mark and moves nothing while the socket stays readable, so a worker that only
        # splices spins at 100% CPU with the rest of the body stuck behind the mark.
        def handler(sock, stop):
            buf = bytearray()
            head = read_head(sock, buf)
            if head is None:
                return  # a health probe
            if head.split(b" ")[1] == b"/small":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntiny")
                stop.wait(10)
                return
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
            time.sleep(0.2)
            sock.sendall(b"a" * 100000)
            time.sleep(0.2)
            sock.send(b"U", socket.MSG_OOB)
            sock.sendall(b"b" * 100000)
            stop.wait(10)  # holds the connection open with the body unfinished

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [raw.address]), workers=1)
        s = socket.create_connection((harness.HOST, port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(harness.build_request("GET", "/big"))
        cpu0 = cpu_seconds(rw.pid)
        start = time.monotonic()
        data = bytearray()
        while time.monotonic() - start < 3.0:
            ready, _, _ = select.select([s], [], [], 0.1)
            if ready:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        spent = cpu_seconds(rw.pid) - cpu0
        wall = time.monotonic() - start
        self.assertLess(spent, 0.5, "ringway used %.2f s of CPU in %.1f s while a body with "
                                    "urgent data in it was in flight" % (spent, wall))
        head, sep, body = bytes(data).partition(b"\r\n\r\n")
        self.assertTrue(sep, "no response head: %r" % bytes(data[:300]))
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertGreater(len(body), 150000,
                           "only %d body bytes arrived: the bytes past the urgent mark did not"
                           % len(body))
        self.assertLessEqual(set(body), set(b"abU"), "unexpected bytes in the body")
        s.close()
        # The worker still serves.
        self.assertTrue(rw.running())
        r = harness.request(port, "GET", "/small", timeout=5)
        self.assertEqual((r.status, r.body), (200, b"tiny"), r)

    def test_first_response_on_fresh_upstream_connections_reads_only_its_head(self):
        # Each download on a new upstream connection (the backend closes after each answer,
        # written head and body in one go). The first receive on a fresh connection reads the
        # head alone (4 KiB at most), as after a spliced response, and the body stays in the
        # socket for the splice: one buffer at a time. A multishot receive there took up to
        # 128 KiB of the body into buffers (32 of 4 KiB) before the head was parsed; with many
        # connections at once the ring grew, and its memory stayed resident.
        n = MiB
        body = bytes(range(256)) * (n // 256)

        def handler(sock, stop):
            buf = bytearray()
            head = read_head(sock, buf)
            if head is None:
                return  # a health probe
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % n + body)

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(with_buffers(harness.simple_config(port, [raw.address]),
                                             size="4k").replace("level: info", "level: debug"),
                                workers=1)
        for i in range(10):
            with harness.Conn(port, timeout=30) as c:
                r = c.roundtrip("GET", "/big?i=%d" % i, timeout=30)
                self.assertEqual((r.status, r.complete, r.body == body), (200, True, True),
                                 "download %d: %r" % (i, r))
        rw.stop()
        lines = rw.log_lines("provided buffers were lent at once")
        self.assertEqual(len(lines), 1, rw.stderr()[-2000:])
        m = re.search(r"at most (\d+) of \d+ provided buffers were lent at once", lines[0])
        self.assertIsNotNone(m, lines[0])
        # The head's buffer, and the request's for a moment.
        self.assertLessEqual(int(m.group(1)), 2, lines[0])

    def test_bytes_after_spliced_body_stop_connection_reuse(self):
        # A backend sends more than its Content-Length in the write that ends a spliced body:
        # the extra bytes must not be taken as the head of the next response on that
        # upstream connection (response smuggling into another client's request).
        n = 40000

        def handler(sock, stop):
            buf = bytearray()
            while not stop.is_set():
                head = read_head(sock, buf)
                if head is None:
                    return
                if head.split(b" ")[1] == b"/a":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                    time.sleep(0.05)
                    sock.sendall(b"a" * n + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL")
                else:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nREAL")

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [raw.address]), workers=1)
        for i in range(10):
            with harness.Conn(port, timeout=10) as c:
                c.send(harness.build_request("GET", "/a") + harness.build_request("GET", "/b"))
                r1 = c.read_response(timeout=10)
                self.assertEqual(r1.status, 200, "round %d: %r" % (i, r1))
                self.assertTrue(r1.complete, "round %d: %r" % (i, r1))
                self.assertEqual(r1.body, b"a" * n, "round %d: the first body differs" % i)
                r2 = c.read_response(timeout=10)
                self.assertEqual((r2.status, r2.body), (200, b"REAL"),
                                 "round %d: the second response %r" % (i, r2))
        self.assertTrue(rw.running())

    def test_pipes_fit_the_open_file_limit(self):
        # max_connections is derived from the open-file limit with room for two descriptors
        # per connection and a pipe (two more) for a quarter of them, and pipes are capped to
        # what the connections leave: stalled spliced downloads up to the limit never run
        # ringway out of descriptors.
        nofile = 200
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [self.web]), workers=1,
                                nofile=nofile)
        holders = []

        def close_holders():
            for s in holders:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                s.close()
            del holders[:]

        self.addCleanup(close_holders)
        time.sleep(0.3)
        for _ in range(48):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            holders.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect((harness.HOST, port))
            s.sendall(harness.build_request("GET", "/bytes?n=%d" % (64 * MiB)))
            time.sleep(0.02)
        time.sleep(1.0)
        nfd = total_fds(rw.pid)
        self.assertLessEqual(nfd, nofile - 10,
                             "ringway holds %d descriptors (%d pipe ends) with an open-file "
                             "limit of %d" % (nfd, pipe_fds(rw.pid), nofile))
        for i in range(3):
            r = harness.request(port, "GET", "/bytes?n=100", timeout=5)
            self.assertIntact(r, 100, "request %d beside the stalled downloads" % i)
        bad = [line for line in rw.stderr().splitlines()
               if "Too many open files" in line or "accept failed" in line]
        self.assertEqual(bad, [], "ringway ran out of descriptors")
        self.assertTrue(rw.running())
        close_holders()
        r = harness.request(port, "GET", "/bytes?n=%d" % MiB, timeout=10)
        self.assertIntact(r, MiB, "after the stalled clients reset")


if __name__ == "__main__":
    harness.main()
