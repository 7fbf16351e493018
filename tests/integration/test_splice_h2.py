"""Large HTTP/1 response bodies spliced to HTTP/2 cleartext (h2c, prior knowledge) streams:
backend socket -> pipe -> client socket, each splice framed at once as DATA frames (a 9-byte
header sent as bytes, the payload from the pipe) within the peer's max frame size and the
stream's and connection's send windows.

Covered, with the python3-h2 client of test_http2.py (which turns any flow-control or frame-size
violation, or a content-length the DATA does not match, into an AssertionError):

  * Sizes around the threshold on one connection, in sequence: every body intact, the
    connection still in step, one upstream connection for all of them (a spliced response
    leaves it reusable); the same with `buffers: {splice: off}` and with a 64k threshold;
    HEAD of large bodies.
  * Concurrent spliced streams sharing a connection (and its pipe), and several connections
    at once.
  * Flow control: a small stream window, a small connection window, both, a stream holding
    the whole connection window, a large max frame size (lowered between and in the middle of
    bodies), a window opened a few bytes at a time (down to 1-byte frames, from 5000 and from
    0), and a window made negative by SETTINGS_INITIAL_WINDOW_SIZE in the middle of a body.
  * `client_send`: a stalled stream (window never reopened) is reset with CANCEL while the
    other streams of its connection go on; alone on its connection it is reset and the
    connection given up; a client that reads nothing at all is cut, its pipe closed. A stalled
    stream really holds a pipe (none with splicing off).
  * Abuse: the client resets spliced streams mid-body (alone, stalled, or beside others), the
    backend dies mid-body, the client drops the connection mid-download: no pipe or descriptor
    leaks (the helpers of test_splice.py), and ringway keeps serving.
  * Backends and limits (test_splice.py's regressions, on h2): body bytes received before
    splicing go first, bytes past Content-Length never reach the next response, TCP urgent
    data mid-body does not spin, and stalled streams stay within a small open-file limit.
  * Regressions: a window opened to exactly the bytes received before the splice still wakes
    the stream at the next WINDOW_UPDATE; a stream reset while its window is shut gives its
    connection's pipe back though nothing more is sent.

No ringway may log an error meanwhile (in particular the splice's own "queue expects" and
"could not be framed", which reset the connection).

Run with /usr/bin/python3 (Debian's python3-h2); every wait has a deadline, everything is on
127.0.0.1.
"""

import signal
import socket
import struct
import threading
import time

import harness
import test_splice
from test_http2 import H2Client, need_h2
from test_splice import fd_links, pipe_fds, splice_off_config, total_fds, with_buffers

try:
    import h2.config
    import h2.connection
    from h2.settings import SettingCodes
except ImportError:  # pragma: no cover - another interpreter than Debian's
    SettingCodes = None

KiB = 1024
MiB = harness.MiB
HOST = harness.HOST

NO_ERROR = 0x0
INTERNAL_ERROR = 0x2
CANCEL = 0x8
FRAME_DATA = 0x0
DEFAULT_WINDOW = 65535

THRESHOLD_SIZES = [100, 32767, 32768, 32769, 65536, 65537, MiB, 0, 4 * MiB, 100]

pattern_sha = test_splice.pattern_sha


def record_data_frames(c):
    """Makes `c` (an H2Client) count the DATA frames it receives: c.data_frames[sid] is
    [frames, largest payload]; c.frame_limit_broken lists any DATA frame longer than the
    SETTINGS_MAX_FRAME_SIZE in force (python3-h2 refuses those too)."""
    c.data_frames = {}
    c.frame_limit_broken = []
    receive = c.h2.receive_data

    def receive_data(data):
        # H2Client hands h2 whole frames only.
        mv = memoryview(data)
        i = 0
        while i + 9 <= len(mv):
            length = int.from_bytes(mv[i:i + 3], "big")
            if mv[i + 3] == FRAME_DATA:
                sid = int.from_bytes(mv[i + 5:i + 9], "big") & 0x7FFFFFFF
                entry = c.data_frames.setdefault(sid, [0, 0])
                entry[0] += 1
                entry[1] = max(entry[1], length)
                if length > c.h2.max_inbound_frame_size:
                    c.frame_limit_broken.append((sid, length, c.h2.max_inbound_frame_size))
            i += 9 + length
        return receive(data)

    c.h2.receive_data = receive_data
    return c


def drain(c, seconds):
    """Lets `c` read and answer whatever arrives for `seconds`."""
    deadline = time.monotonic() + seconds
    while not c.eof:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        data = c._recv(left)
        if data:
            c._receive(data)


class WindowClient(H2Client):
    """An h2c H2Client with SETTINGS of its own (`settings`: {SettingCodes.X: value}, in force
    once the server acknowledged them, before __init__ returns) and a connection receive window
    of `conn_window` bytes (H2Client opens it by 2^30; here 65535 unless asked for more), so
    that the connection's window can be the one that binds."""

    def __init__(self, port, settings, conn_window=DEFAULT_WINDOW, timeout=20):
        need_h2()
        self.port = port
        self.timeout = timeout
        self.tls = False
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.streams = {}
        self.stalled = set()
        self.goaways = []
        self.eof = False
        self.settings_received = False
        self.inbuf = bytearray()
        self.h2.initiate_connection()
        self.h2.update_settings(dict(settings))
        if conn_window > DEFAULT_WINDOW:
            self.h2.increment_flow_control_window(conn_window - DEFAULT_WINDOW)
        self.flush()
        local = self.h2.local_settings
        self.pump(lambda: self.settings_received and
                  all(local[k] == v for k, v in settings.items()), 10,
                  "the server's SETTINGS and its ACK of ours")


def with_splice_h2(text):
    """`text` (a harness config, perhaps with a buffers mapping already) with
    `buffers.splice_h2: true`."""
    if "\n  buffers:\n" in text:
        return text.replace("\n  buffers:\n", "\n  buffers:\n    splice_h2: true\n", 1)
    return with_buffers(text, splice_h2="true")


class H2SpliceTest(harness.ProxyTest):
    def start_ringway(self, text, *args, splice_h2=True, **kwargs):
        """Every ringway here splices to h2c clients (`buffers.splice_h2`, off by default)
        unless asked with splice_h2=False."""
        return super().start_ringway(with_splice_h2(text) if splice_h2 else text, *args,
                                     **kwargs)

    def setUp(self):
        super().setUp()
        need_h2()
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.rw = self.start_ringway(harness.simple_config(self.port, [self.web]), workers=1)
        # Registered before the ringways' stop (cleanups run last first): checked once every
        # ringway has exited, before their logs go.
        self.addCleanup(self.assertNoSpliceErrors)

    # -- helpers (the descriptor checks are test_splice's) ------------------------------------

    warm_baseline = test_splice.SpliceTest.warm_baseline
    assertNoPipeLeak = test_splice.SpliceTest.assertNoPipeLeak

    def assertNoSpliceErrors(self):
        """No ringway logged an error: in particular neither that the pipe and the send queue
        disagreed nor that spliced bytes could not be framed (both reset the connection)."""
        for rw in self.ringways:
            bad = [line for line in rw.stderr().splitlines()
                   if line.split(" ", 2)[1:2] in (["error"], ["crit"], ["fatal"]) or
                   "could not be framed" in line or "queue expects" in line]
            self.assertEqual(bad, [], "%s logged errors" % rw.label)

    def raw_backend(self, handler):
        b = test_splice.RawBackend(handler)
        self.addCleanup(b.close)
        return b

    def client(self, port=None, **kw):
        c = record_data_frames(H2Client(port or self.port, **kw))
        self.addCleanup(c.close)
        return c

    def window_client(self, settings, conn_window=DEFAULT_WINDOW, port=None):
        c = record_data_frames(WindowClient(port or self.port, settings, conn_window))
        self.addCleanup(c.close)
        return c

    def assertIntact(self, st, n, what=""):
        what = "%s (stream %d, /bytes?n=%d)" % (what, st.sid, n)
        self.assertEqual(st.status, 200, "%s: %r" % (what, st))
        self.assertIsNone(st.reset, "%s: reset: %r" % (what, st))
        self.assertTrue(st.ended, "%s: not ended: %r" % (what, st))
        self.assertEqual(st.header("content-length"), str(n), "%s: %r" % (what, st))
        self.assertEqual(st.length, n, "%s: %r" % (what, st))
        self.assertEqual(st.digest(), pattern_sha(n), "%s: the body differs" % what)

    def assertFramesFit(self, c):
        self.assertEqual(c.frame_limit_broken, [],
                         "DATA frames over SETTINGS_MAX_FRAME_SIZE (stream, length, limit)")

    def fetch(self, c, n, what="", timeout=60):
        st = c.get("/bytes?n=%d" % n, keep_body=False, timeout=timeout)
        self.assertIntact(st, n, what)
        return st

    def assertServes(self, port=None, n=MiB):
        """A fresh h2c connection gets a spliced body intact."""
        c = self.client(port, timeout=30)
        self.fetch(c, n, "on a fresh connection")
        c.close()

    def assertFewPipes(self, rw, base_pipes, spares, settle=5.0):
        """At most `spares` pipes (two descriptors each) beyond the baseline: every pipe went
        back for reuse (or was closed), however many rounds there were."""
        limit = base_pipes + 2 * spares
        harness.wait_for(lambda: pipe_fds(rw.pid) <= limit, settle, interval=0.05)
        self.assertLessEqual(pipe_fds(rw.pid), limit,
                             "ringway holds %d pipe descriptors (baseline %d, %d spare pipes "
                             "allowed):\n%s" % (pipe_fds(rw.pid), base_pipes, spares,
                                                sorted(fd_links(rw.pid))))

    # -- 1. sizes around the threshold, one connection ----------------------------------------

    def sizes_in_sequence(self, port, web):
        web.reset_stats()
        c = self.client(port, timeout=60)
        for n in THRESHOLD_SIZES:
            self.fetch(c, n, "in sequence")
        # Still in step: a small request on the same connection.
        st = c.get("/echo?after=1")
        self.assertEqual(st.status, 200, st)
        self.assertIn(b'"/echo?after=1"', bytes(st.body), st)
        self.assertEqual(c.goaways, [])
        self.assertFalse(c.eof)
        self.assertFramesFit(c)
        stats = web.stats()
        self.assertEqual(stats["requests"], len(THRESHOLD_SIZES) + 1, stats)
        # Streams one after the other: one upstream connection carried every request (a
        # spliced response leaves it reusable).
        self.assertEqual(stats["connections"], 1, stats)
        return c

    def test_sizes_around_threshold_on_one_connection(self):
        c = self.sizes_in_sequence(self.port, self.web)
        # Spliced DATA frames stay within the default SETTINGS_MAX_FRAME_SIZE, and a 4 MiB body
        # is not sent in tiny frames.
        big = [st for st in c.streams.values() if st.length == 4 * MiB][0]
        frames, largest = c.data_frames[big.sid]
        self.assertLessEqual(largest, 16384, c.data_frames)
        self.assertGreaterEqual(frames, 4 * MiB // 16384, c.data_frames)
        self.assertLess(frames, 4 * MiB // 1024, "%d DATA frames for 4 MiB" % frames)
        self.assertTrue(self.rw.running())

    # -- 2. concurrency -----------------------------------------------------------------------

    def test_concurrent_streams_on_one_connection(self):
        sizes = [100, 40000, 200 * KiB, MiB, 3 * MiB, 40000, 100, MiB, 200 * KiB, 3 * MiB,
                 40000, 100]
        c = self.client(timeout=60)
        for rnd in range(2):
            streams = [c.request("GET", "/bytes?n=%d&i=%d" % (n, i), keep_body=False)
                       for i, n in enumerate(sizes)]
            c.wait(*streams, timeout=60)
            for st, n in zip(streams, sizes):
                self.assertIntact(st, n, "round %d, concurrent" % rnd)
        self.assertEqual(c.goaways, [])
        self.assertFramesFit(c)
        self.assertTrue(self.rw.running())

    def test_several_connections_at_once(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        sizes = [MiB, 200 * KiB, 3 * MiB, 40000, 100, 2 * MiB]
        clients = 5
        results = [None] * clients
        barrier = threading.Barrier(clients, timeout=30)

        def one(i):
            try:
                c = record_data_frames(H2Client(self.port, timeout=60))
                try:
                    barrier.wait()
                    streams = [c.request("GET", "/bytes?n=%d&c=%d" % (n, i), keep_body=False)
                               for n in sizes]
                    c.wait(*streams, timeout=60)
                    results[i] = ([(st.status, st.reset, st.ended, st.length, st.digest())
                                   for st in streams], c.frame_limit_broken)
                finally:
                    c.close()
            except Exception as e:  # reported below
                results[i] = "%s: %s" % (type(e).__name__, e)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        self.assertFalse(any(t.is_alive() for t in threads), "a client is still downloading")
        want = ([(200, None, True, n, pattern_sha(n)) for n in sizes], [])
        bad = [(i, r) for i, r in enumerate(results) if r != want]
        self.assertEqual(bad, [], "%d of %d connections not intact" % (len(bad), clients))
        self.assertTrue(self.rw.running())
        # Up to one pipe per connection was lent at once; they all came back (spares).
        self.assertFewPipes(self.rw, base_pipes, clients)
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=clients * len(sizes))

    # -- 3. flow control ----------------------------------------------------------------------

    def test_small_stream_window(self):
        n = 300 * KiB
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: 5000}, conn_window=1 << 30)
        self.fetch(c, n, "stream window 5000")
        streams = [c.request("GET", "/bytes?n=%d&i=%d" % (n, i), keep_body=False)
                   for i in range(3)]
        c.wait(*streams, timeout=60)
        for st in streams:
            self.assertIntact(st, n, "stream window 5000, three at once")
            self.assertLessEqual(c.data_frames[st.sid][1], 5000, c.data_frames)
        self.assertFramesFit(c)
        self.assertEqual(c.goaways, [])

    def test_small_connection_window(self):
        # The streams' windows are large (1 MiB), the connection's 65535: the connection binds,
        # and the streams share it.
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: MiB})
        self.assertEqual(c.h2.inbound_flow_control_window, DEFAULT_WINDOW)
        sizes = [2 * MiB, MiB, 300 * KiB, 2 * MiB]
        streams = [c.request("GET", "/bytes?n=%d&i=%d" % (n, i), keep_body=False)
                   for i, n in enumerate(sizes)]
        c.wait(*streams, timeout=60)
        for st, n in zip(streams, sizes):
            self.assertIntact(st, n, "connection window 65535")
        self.fetch(c, 4 * MiB, "connection window 65535, alone")
        self.assertFramesFit(c)
        self.assertEqual(c.goaways, [])

    def test_small_windows_both(self):
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: 5000}, conn_window=12000)
        sizes = [300 * KiB, 100, 300 * KiB, 40000]
        streams = [c.request("GET", "/bytes?n=%d&i=%d" % (n, i), keep_body=False)
                   for i, n in enumerate(sizes)]
        c.wait(*streams, timeout=60)
        for st, n in zip(streams, sizes):
            self.assertIntact(st, n, "stream window 5000, connection window 12000")
        self.assertFramesFit(c)

    def test_large_max_frame_size(self):
        limit = 1 << 20
        c = self.window_client({SettingCodes.MAX_FRAME_SIZE: limit,
                                SettingCodes.INITIAL_WINDOW_SIZE: 8 * MiB},
                               conn_window=64 * MiB)
        for n in (4 * MiB, 40000, 3 * MiB + 7):
            self.fetch(c, n, "max frame size 1 MiB")
        self.assertFramesFit(c)
        self.assertLessEqual(max(m for _, m in c.data_frames.values()), limit, c.data_frames)
        # And back to a small one on the same connection.
        c.h2.update_settings({SettingCodes.MAX_FRAME_SIZE: 16384})
        c.flush()
        c.pump(lambda: c.h2.local_settings.max_frame_size == 16384, 10, "the SETTINGS ACK")
        st = self.fetch(c, 2 * MiB, "max frame size back to 16384")
        self.assertLessEqual(c.data_frames[st.sid][1], 16384, c.data_frames)
        self.assertFramesFit(c)

    def test_max_frame_size_lowered_mid_body(self):
        # SETTINGS_MAX_FRAME_SIZE lowered while large spliced frames are queued: those framed
        # before ringway acknowledged the change may be large, none after it.
        n = 16 * MiB
        c = self.window_client({SettingCodes.MAX_FRAME_SIZE: 1 << 20,
                                SettingCodes.INITIAL_WINDOW_SIZE: 8 * MiB},
                               conn_window=64 * MiB)
        for rnd in range(3):
            st = c.request("GET", "/bytes?n=%d&r=%d" % (n, rnd), keep_body=False)
            c.pump(lambda: st.length >= (rnd + 1) * MiB or st.finished, 20, "some MiB")
            self.assertFalse(st.finished, st)
            c.h2.update_settings({SettingCodes.MAX_FRAME_SIZE: 16384})
            c.flush()
            c.wait(st, timeout=60)
            self.assertIntact(st, n, "max frame size lowered mid-body, round %d" % rnd)
            self.assertFramesFit(c)
            c.h2.update_settings({SettingCodes.MAX_FRAME_SIZE: 1 << 20})
            c.flush()
            c.pump(lambda: c.h2.local_settings.max_frame_size == 1 << 20, 10, "the ACK")

    def test_head_then_get(self):
        c = self.client(timeout=30)
        for n in (4 * MiB, 32768, 100):
            st = c.wait(c.request("HEAD", "/bytes?n=%d" % n), timeout=10)
            self.assertEqual((st.status, st.reset, st.ended, st.length), (200, None, True, 0), st)
            self.assertEqual(st.header("content-length"), str(n), st)
            self.fetch(c, n, "GET after HEAD")
        self.assertEqual(c.goaways, [])

    def window_opened_bit_by_bit(self, initial):
        # A stream window the client never gives back by itself: it opens it itself, a few
        # bytes at a time (down to one), and each time gets exactly what it allowed.
        n = 160 * KiB
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: initial}, conn_window=1 << 30)
        st = c.request("GET", "/bytes?n=%d" % n, keep_body=False, stalled=True)
        if initial == 0:
            c.pump(lambda: st.status is not None, 10, "the response head")
        opened = initial
        steps = [1, 1, 2, 7, 100, 1000, 4095, 16384, 16385, 1, 40000, 3]
        i = 0
        while True:
            want = min(opened, n)
            c.pump(lambda: st.length >= want or st.finished, 10,
                   "%d bytes (window opened to %d)" % (want, opened))
            self.assertIsNone(st.reset, st)
            self.assertEqual(st.length, want, "more than the window allowed? %r" % st)
            if want == n:
                break
            # Nothing beyond the window comes meanwhile.
            drain(c, 0.02 if i % 4 else 0.15)
            self.assertEqual(st.length, want, "more than the window allowed: %r" % st)
            step = steps[i % len(steps)]
            i += 1
            opened += step
            c.h2.increment_flow_control_window(step, stream_id=st.sid)
            c.flush()
            self.assertLess(i, 200, "too many steps")
        c.pump(lambda: st.finished, 10, "the end of the stream")
        self.assertIntact(st, n, "window opened bit by bit from %d" % initial)
        self.assertLessEqual(c.data_frames[st.sid][1], 16384, c.data_frames)
        self.assertFramesFit(c)
        # The connection goes on (with windows the client gives back).
        c.stalled.clear()
        if initial < 1000:
            c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: DEFAULT_WINDOW})
            c.flush()
        self.fetch(c, MiB, "after the bit-by-bit stream")

    def test_window_opened_bit_by_bit(self):
        self.window_opened_bit_by_bit(5000)

    def test_window_opened_bit_by_bit_from_zero(self):
        self.window_opened_bit_by_bit(0)

    def test_stream_hogging_the_connection_window(self):
        # A stalled stream takes the whole connection window (65535): another spliced stream
        # can send nothing; once the first is read, both complete.
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: 4 * MiB})
        hog = c.request("GET", "/bytes?n=%d" % (4 * MiB), keep_body=False, stalled=True)
        c.pump(lambda: hog.length >= DEFAULT_WINDOW, 10, "the connection window to fill")
        other = c.request("GET", "/bytes?n=%d" % (2 * MiB), keep_body=False)
        c.pump(lambda: other.status is not None, 10, "the other stream's head")
        drain(c, 0.3)
        self.assertEqual((hog.length, other.length), (DEFAULT_WINDOW, 0),
                         "beyond the connection window: %r %r" % (hog, other))
        c.unstall(hog)
        c.wait(hog, other, timeout=60)
        self.assertIntact(hog, 4 * MiB, "the stream that held the connection window")
        self.assertIntact(other, 2 * MiB, "the stream behind it")
        self.assertFramesFit(c)

    def test_window_shrunk_mid_body(self):
        # SETTINGS_INITIAL_WINDOW_SIZE lowered in the middle of a spliced body makes the
        # stream's window negative (RFC 9113 section 6.9.2): nothing may come until
        # WINDOW_UPDATEs lift it above zero; then the setting is raised again. python3-h2
        # raises on any DATA beyond the window.
        n = 3 * MiB
        c = self.client(timeout=60)
        small = 1500
        # a) The window used up (a stalled stream) when the setting drops: -64035.
        st = c.request("GET", "/bytes?n=%d&a=1" % n, keep_body=False, stalled=True)
        c.pump(lambda: st.length >= DEFAULT_WINDOW, 20, "a window's worth")
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: small})
        c.flush()
        c.pump(lambda: c.h2.local_settings.initial_window_size == small, 10, "the SETTINGS ACK")
        self.assertEqual(c.h2.remote_flow_control_window(st.sid), small - DEFAULT_WINDOW)
        drain(c, 0.2)
        self.assertEqual(st.length, DEFAULT_WINDOW, "DATA on a negative window: %r" % st)
        c.unstall(st)  # gives back 65535: the window is `small` again
        self.assertEqual(c.h2.remote_flow_control_window(st.sid), small)
        c.pump(lambda: st.length >= DEFAULT_WINDOW + 150 * KiB or st.finished, 30,
               "150 KiB in windows of %d" % small)
        self.assertFalse(st.finished, st)
        self.assertLessEqual(c.data_frames[st.sid][1], DEFAULT_WINDOW, c.data_frames)
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2 * MiB})
        c.flush()
        c.wait(st, timeout=60)
        self.assertIntact(st, n, "window shrunk while shut, then raised")
        # b) The same while DATA flows.
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: DEFAULT_WINDOW})
        c.flush()
        st = c.request("GET", "/bytes?n=%d&b=1" % n, keep_body=False)
        c.pump(lambda: st.length >= 600 * KiB or st.finished, 20, "600 KiB")
        self.assertFalse(st.finished, st)
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: small})
        c.flush()
        c.pump(lambda: c.h2.local_settings.initial_window_size == small, 10, "the SETTINGS ACK")
        # python3-h2 sends WINDOW_UPDATE only as DATA is taken in: a window left at zero or
        # below would never reopen. Bring it to `small` here.
        window = c.h2.remote_flow_control_window(st.sid)
        if window < small:
            c.h2.increment_flow_control_window(small - window, stream_id=st.sid)
            c.flush()
        mark = st.length
        c.pump(lambda: st.length >= mark + 150 * KiB or st.finished, 30, "150 KiB more")
        self.assertFalse(st.finished, st)
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 2 * MiB})
        c.flush()
        c.wait(st, timeout=60)
        self.assertIntact(st, n, "window shrunk mid-flight, then raised")
        self.assertFramesFit(c)
        self.fetch(c, 100, "after")

    # -- 4. a stalled stream ------------------------------------------------------------------

    def client_send_ringway(self):
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [self.web],
                                                      timeouts={"client_send": "2s"}),
                                workers=1)
        return rw, port

    def test_stalled_stream_reset_others_go_on(self):
        rw, port = self.client_send_ringway()
        base_pipes, base_total = self.warm_baseline(rw, port)
        c = self.client(port, timeout=30)
        n = 4 * MiB
        stalled = c.request("GET", "/bytes?n=%d&stalled=1" % n, keep_body=False, stalled=True)
        slow = c.request("GET", "/slow?ms=6000")  # keeps a stream open past the reset
        other = c.request("GET", "/bytes?n=%d" % MiB, keep_body=False)
        c.pump(lambda: stalled.length >= DEFAULT_WINDOW or stalled.finished, 10,
               "the stalled stream's window to fill")
        shut_at = time.monotonic()
        self.assertFalse(stalled.finished, stalled)
        c.wait(other, timeout=30)
        self.assertIntact(other, MiB, "beside a stalled stream")
        c.wait(stalled, timeout=10)
        waited = stalled.finished_at - shut_at
        print("\n    stalled stream reset %.2f s after its window shut" % waited, flush=True)
        self.assertEqual(stalled.reset, CANCEL, "want RST_STREAM CANCEL: %r" % stalled)
        self.assertFalse(stalled.ended, stalled)
        self.assertEqual(stalled.status, 200, stalled)
        # It got its window's worth, no more, and those bytes are the body's start.
        self.assertEqual(stalled.length, DEFAULT_WINDOW, stalled)
        self.assertEqual(stalled.digest(), pattern_sha(DEFAULT_WINDOW))
        self.assertGreaterEqual(waited, 1.5, "reset before client_send (2 s)")
        self.assertLess(waited, 5.0, "reset long after client_send (2 s)")
        # Another stream ran: the connection goes on.
        self.assertFalse(slow.finished, slow)
        self.fetch(c, MiB, "after the reset, same connection")
        c.wait(slow, timeout=10)
        self.assertEqual(slow.status, 200, slow)
        self.assertEqual(c.goaways, [])
        self.assertFramesFit(c)
        c.close()
        self.assertTrue(rw.running())
        self.assertFewPipes(rw, base_pipes, 1)
        self.assertNoPipeLeak(rw, base_pipes, base_total, pooled=3)

    def test_stalled_last_stream_reset_and_connection_given_up(self):
        rw, port = self.client_send_ringway()
        base_pipes, base_total = self.warm_baseline(rw, port)
        for rnd in range(2):
            c = self.client(port, timeout=30)
            n = 4 * MiB
            stalled = c.request("GET", "/bytes?n=%d" % n, keep_body=False, stalled=True)
            c.pump(lambda: stalled.length >= DEFAULT_WINDOW or stalled.finished, 10,
                   "the window to fill")
            shut_at = time.monotonic()
            c.wait(stalled, timeout=10)
            waited = stalled.finished_at - shut_at
            self.assertEqual(stalled.reset, CANCEL, "round %d: %r" % (rnd, stalled))
            self.assertEqual(stalled.length, DEFAULT_WINDOW, stalled)
            self.assertGreaterEqual(waited, 1.5, "reset before client_send (2 s)")
            self.assertLess(waited, 5.0, "reset long after client_send (2 s)")
            # Nothing else ran on it: the connection is given up (GOAWAY, then closed).
            self.assertTrue(c.wait_closed(5), "round %d: the connection stayed open" % rnd)
            self.assertTrue(all(code == NO_ERROR for _, code in c.goaways), c.goaways)
            c.close()
        self.assertTrue(rw.running())
        self.assertServes(port)
        self.assertFewPipes(rw, base_pipes, 1)
        self.assertNoPipeLeak(rw, base_pipes, base_total, pooled=2)

    def test_client_reading_nothing_is_cut(self):
        # Windows wide open, but the client reads nothing: the spliced bytes wait in the pipe
        # and the socket; after client_send the connection is cut, and its pipe (bytes still in
        # it) is closed with it.
        rw, port = self.client_send_ringway()
        base_pipes, base_total = self.warm_baseline(rw, port)
        for rnd in range(2):
            c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: (1 << 31) - 1},
                                   conn_window=(1 << 31) - 1, port=port)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # With this client's socket: the download adds descriptors (an upstream connection
            # unless a pooled one is taken, a pipe unless a spare one is), never takes any, so
            # one fewer means the client's socket is closed.
            connected = total_fds(rw.pid)
            t0 = time.monotonic()
            st = c.request("GET", "/bytes?n=%d&r=%d" % (64 * MiB, rnd), keep_body=False)
            harness.wait_for(lambda: total_fds(rw.pid) < connected, 10, interval=0.05)
            cut = time.monotonic() - t0
            self.assertLess(total_fds(rw.pid), connected,
                            "round %d: still connected %.1f s later:\n%s"
                            % (rnd, cut, sorted(fd_links(rw.pid))))
            print("\n    cut %.2f s after the request" % cut, end="", flush=True)
            self.assertGreaterEqual(cut, 1.5, "cut before client_send (2 s)")
            self.assertLess(cut, 6.0, "cut long after client_send (2 s)")
            self.assertTrue(c.wait_closed(10), "round %d: not closed" % rnd)
            self.assertFalse(st.ended, st)
            self.assertLess(st.length, 64 * MiB, st)
            self.assertEqual(st.digest(), pattern_sha(st.length), "the bytes that came differ")
            c.close()
        self.assertTrue(rw.running())
        self.assertFewPipes(rw, base_pipes, 1)
        self.assertServes(port)

    def stalled_pipes(self, rw, port):
        """The most pipe descriptors seen in ringway while a 4 MiB stream stalls on a shut
        window, and the baseline; the stream then completes intact."""
        base_pipes, _ = self.warm_baseline(rw, port)
        c = self.client(port, timeout=30)
        n = 4 * MiB
        st = c.request("GET", "/bytes?n=%d" % n, keep_body=False, stalled=True)
        c.pump(lambda: st.length >= DEFAULT_WINDOW, 10, "the window to fill")
        seen = base_pipes
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            seen = max(seen, pipe_fds(rw.pid))
            time.sleep(0.02)
        self.assertEqual(st.length, DEFAULT_WINDOW, st)
        c.unstall(st)
        c.wait(st, timeout=30)
        self.assertIntact(st, n, "after the stall")
        return seen, base_pipes

    def test_stalled_stream_holds_a_pipe_only_when_splicing(self):
        seen, base = self.stalled_pipes(self.rw, self.port)
        self.assertGreater(seen, base, "no pipe in ringway while a spliced h2 stream stalled "
                                       "(baseline %d): is the body spliced at all?" % base)
        port = self.free_port()
        rw_off = self.start_ringway(splice_off_config(harness.simple_config(port, [self.web])),
                                    workers=1)
        seen, base = self.stalled_pipes(rw_off, port)
        self.assertEqual(seen, base, "with splice: off ringway opened pipes (baseline %d, seen "
                                     "%d)" % (base, seen))
        # By default only HTTP/1 clients get spliced bodies: an h2c stream's are copied.
        port = self.free_port()
        rw_default = self.start_ringway(harness.simple_config(port, [self.web]), workers=1,
                                        splice_h2=False)
        seen, base = self.stalled_pipes(rw_default, port)
        self.assertEqual(seen, base, "without splice_h2 ringway opened pipes for an h2c stream "
                                     "(baseline %d, seen %d)" % (base, seen))

    def test_splice_h2_applies_at_reload(self):
        # Off (the default) at start: no pipe for an h2c stream. A reload (SIGHUP) that turns it
        # on splices the next bodies in the same process.
        port = self.free_port()
        text = harness.simple_config(port, [self.web])
        rw = self.start_ringway(text, workers=1, splice_h2=False)
        seen, base = self.stalled_pipes(rw, port)
        self.assertEqual(seen, base, "pipes opened before splice_h2 was turned on")
        with open(rw.config_path, "w") as f:
            f.write(with_splice_h2(text))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: rw.log_lines("reload (SIGHUP): configuration 2 in use"), 5),
            rw.stderr()[-2000:])
        seen, base = self.stalled_pipes(rw, port)
        self.assertGreater(seen, base, "no pipe for a stalled h2c stream after the reload that "
                                       "turned splice_h2 on (baseline %d)" % base)
        self.assertTrue(rw.running())

    # -- 5. the client resets spliced streams -------------------------------------------------

    def test_client_resets_spliced_streams(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        c = self.client(timeout=30)
        n = 8 * MiB
        for i in range(20):
            # Every fifth stream is reset while its window is shut (the rest of its body
            # waiting in the backend's socket), the others while DATA flows.
            stalled = i % 5 == 4
            st = c.request("GET", "/bytes?n=%d&r=%d" % (n, i), keep_body=False,
                           stalled=stalled)
            got = DEFAULT_WINDOW if stalled else (i % 4 + 1) * 64 * KiB
            c.pump(lambda: st.length >= got or st.finished, 20, "round %d: %d bytes" % (i, got))
            if stalled:
                drain(c, 0.1)
            self.assertFalse(st.finished, "round %d: %r" % (i, st))
            c.h2.reset_stream(st.sid, error_code=CANCEL)
            c.flush()
            after = 100 if i % 3 == 0 else (40000 if i % 3 == 1 else MiB)
            self.fetch(c, after, "round %d, after a reset" % i)
        self.assertEqual(c.goaways, [])
        self.assertFalse(c.eof)
        self.assertFramesFit(c)
        self.assertTrue(self.rw.running())
        # One spliced stream at a time on one connection: a single pipe went round.
        self.assertFewPipes(self.rw, base_pipes, 1)
        c.close()
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=2)
        self.assertServes()

    def test_client_resets_one_of_several_streams(self):
        # Reset while other spliced streams share the connection (and its pipe): theirs arrive
        # intact.
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        c = self.client(timeout=60)
        for i in range(6):
            victim = c.request("GET", "/bytes?n=%d&v=%d" % (8 * MiB, i), keep_body=False)
            others = [c.request("GET", "/bytes?n=%d&o=%d" % (m, i), keep_body=False)
                      for m in (MiB, 3 * MiB, 40000)]
            c.pump(lambda: victim.length >= 128 * KiB or victim.finished, 20, "the victim")
            self.assertFalse(victim.finished, victim)
            c.h2.reset_stream(victim.sid, error_code=CANCEL)
            c.flush()
            c.wait(*others, timeout=60)
            for st, m in zip(others, (MiB, 3 * MiB, 40000)):
                self.assertIntact(st, m, "round %d, beside a reset stream" % i)
        self.assertEqual(c.goaways, [])
        c.close()
        self.assertTrue(self.rw.running())
        self.assertFewPipes(self.rw, base_pipes, 1)
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=4)

    # -- 6. the backend dies mid-body ---------------------------------------------------------

    def test_backend_dies_mid_body(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        c = self.client(timeout=30)
        n = 4 * MiB
        for i in range(10):
            st = c.get("/close-mid?n=%d&i=%d" % (n, i), keep_body=False, timeout=30)
            self.assertEqual(st.status, 200, "round %d: %r" % (i, st))
            self.assertEqual(st.header("content-length"), str(n), st)
            # The truncation is visible: a reset, never END_STREAM after a short body.
            self.assertFalse(st.ended, "round %d: %r" % (i, st))
            self.assertEqual(st.reset, INTERNAL_ERROR, "round %d: %r" % (i, st))
            # What came is the start of what the backend sent (half the body), nothing else.
            self.assertLessEqual(st.length, n // 2, st)
            self.assertEqual(st.digest(), pattern_sha(st.length),
                             "round %d: the partial body differs" % i)
            # The connection serves a spliced body next.
            self.fetch(c, MiB if i % 2 else 40000, "round %d, after the backend died" % i)
            self.assertTrue(self.rw.running(), "ringway exited in round %d" % i)
        self.assertEqual(c.goaways, [])
        self.assertFalse(c.eof)
        self.assertFramesFit(c)
        self.assertFewPipes(self.rw, base_pipes, 1)
        c.close()
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=2)

    # -- 7. the client drops the connection mid-download --------------------------------------

    def test_client_closes_mid_download(self):
        base_pipes, base_total = self.warm_baseline(self.rw, self.port)
        for i in range(10):
            c = self.client(timeout=30)
            streams = [c.request("GET", "/bytes?n=%d&k=%d" % (8 * MiB, k), keep_body=False)
                       for k in range(4)]
            c.pump(lambda: all(st.length >= 64 * KiB for st in streams), 20,
                   "round %d: every download to start" % i)
            if i % 2 == 0:  # a reset rather than a FIN
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        time.sleep(0.2)
        self.assertTrue(self.rw.running())
        self.assertServes()
        # One connection at a time: a pipe cut with bytes in it is closed, an empty one kept.
        self.assertFewPipes(self.rw, base_pipes, 2)
        self.assertNoPipeLeak(self.rw, base_pipes, base_total, pooled=4)
        self.assertServes(n=2 * MiB)

    # -- backends that misbehave, and the descriptor budget ----------------------------------

    def test_body_start_received_before_splicing_goes_first(self):
        # The head and the first 50000 body bytes in one write (received, not spliced), the
        # rest a moment later (spliced): the received bytes go first, whatever the window.
        n = MiB
        first = 50000

        def handler(sock, stop):
            buf = bytearray()
            while not stop.is_set():
                if test_splice.read_head(sock, buf) is None:
                    return
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n +
                             harness.pattern(first))
                time.sleep(0.1)
                for piece in harness.backend_module.pattern_pieces(n - first, offset=first):
                    sock.sendall(piece)

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [raw.address]), workers=1)
        c = self.client(port, timeout=30)
        for _ in range(3):
            st = c.get("/x", keep_body=False, timeout=30)
            self.assertIntact(st, n, "received start, spliced rest")
        w = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: 5000}, port=port)
        for _ in range(2):
            st = w.get("/y", keep_body=False, timeout=30)
            self.assertIntact(st, n, "received start, spliced rest, stream window 5000")
        self.assertTrue(rw.running())

    def test_window_opened_exactly_to_the_received_bytes(self):
        # Regression: the body's first bytes were received (they wait in `pending`) and the
        # rest is spliced; the client opens its stream window by exactly what was received.
        # That empties `pending` with the window at 0, and the next WINDOW_UPDATE must still
        # wake the stream (it once waited for client_send and was reset).
        n = MiB
        first = 3000

        def handler(sock, stop):
            buf = bytearray()
            while not stop.is_set():
                if test_splice.read_head(sock, buf) is None:
                    return
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n +
                             harness.pattern(first))
                time.sleep(0.3)
                for piece in harness.backend_module.pattern_pieces(n - first, offset=first):
                    sock.sendall(piece)

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [raw.address]), workers=1)
        c = self.window_client({SettingCodes.INITIAL_WINDOW_SIZE: 0}, conn_window=1 << 30,
                               port=port)
        st = c.request("GET", "/exact", keep_body=False, stalled=True)
        c.pump(lambda: st.status is not None, 10, "the response head")
        drain(c, 0.6)  # the rest of the body is in ringway's backend socket by now
        self.assertEqual(st.length, 0, st)
        c.h2.increment_flow_control_window(first, stream_id=st.sid)
        c.flush()
        c.pump(lambda: st.length >= first, 10, "the received bytes")
        drain(c, 0.2)
        self.assertEqual(st.length, first, st)
        c.h2.increment_flow_control_window(200000, stream_id=st.sid)
        c.flush()
        c.pump(lambda: st.length >= first + 200000 or st.finished, 5,
               "the next 200000 bytes after a WINDOW_UPDATE")
        self.assertEqual(st.length, first + 200000, st)
        c.unstall(st)
        c.h2.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 4 * MiB})
        c.flush()
        window = c.h2.remote_flow_control_window(st.sid)
        if window < n:
            c.h2.increment_flow_control_window(n - window, stream_id=st.sid)
            c.flush()
        c.wait(st, timeout=30)
        self.assertIntact(st, n, "window opened to exactly the received bytes")
        self.assertTrue(rw.running())

    def test_reset_of_a_stalled_stream_gives_the_pipe_back(self):
        # Regression: a spliced stream reset by its client while its window is shut sends
        # nothing more, and its connection then idles; the pipe must go back to the worker
        # anyway (another connection's download reuses it rather than opening a new one).
        base_pipes, _ = self.warm_baseline(self.rw, self.port)
        a = self.client(timeout=30)
        st = a.request("GET", "/bytes?n=%d" % (4 * MiB), keep_body=False, stalled=True)
        a.pump(lambda: st.length >= DEFAULT_WINDOW, 10, "the window to fill")
        drain(a, 0.2)
        a.h2.reset_stream(st.sid, error_code=CANCEL)
        a.flush()
        drain(a, 0.3)  # a stays open and idle
        b = self.client(timeout=30)
        other = b.request("GET", "/bytes?n=%d" % (4 * MiB), keep_body=False, stalled=True)
        b.pump(lambda: other.length >= DEFAULT_WINDOW, 10, "the second window to fill")
        drain(b, 0.2)
        self.assertLessEqual(pipe_fds(self.rw.pid), base_pipes + 2,
                             "the reset stream's connection still holds its pipe:\n%s"
                             % sorted(fd_links(self.rw.pid)))
        b.unstall(other)
        b.wait(other, timeout=30)
        self.assertIntact(other, 4 * MiB, "after the other connection's reset")
        self.fetch(a, MiB, "on the connection whose stream was reset")

    def test_bytes_after_spliced_body_stop_connection_reuse(self):
        # A backend that sends more than its Content-Length at the end of a spliced body: the
        # extra bytes are never taken for the next response on that upstream connection.
        n = 40000

        def handler(sock, stop):
            buf = bytearray()
            while not stop.is_set():
                head = test_splice.read_head(sock, buf)
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
        c = self.client(port, timeout=10)
        for i in range(8):
            a = c.get("/a", timeout=10)
            self.assertEqual((a.status, a.reset, a.ended), (200, None, True), "round %d" % i)
            self.assertEqual(bytes(a.body), b"a" * n, "round %d: the first body differs" % i)
            b = c.get("/b", timeout=10)
            self.assertEqual((b.status, bytes(b.body)), (200, b"REAL"), "round %d: %r" % (i, b))
        self.assertTrue(rw.running())

    def test_urgent_data_mid_body_does_not_spin(self):
        # TCP urgent data inside a body spliced to an h2 stream: the splice stops at the mark
        # while the socket stays readable; the rest must come (received), without spinning.
        def handler(sock, stop):
            buf = bytearray()
            head = test_splice.read_head(sock, buf)
            if head is None:
                return
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
            stop.wait(10)

        raw = self.raw_backend(handler)
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [raw.address]), workers=1)
        c = self.client(port, timeout=10)
        st = c.request("GET", "/big")
        cpu0 = test_splice.cpu_seconds(rw.pid)
        t0 = time.monotonic()
        drain(c, 3.0)
        spent = test_splice.cpu_seconds(rw.pid) - cpu0
        self.assertLess(spent, 0.5, "ringway used %.2f s of CPU in %.1f s with urgent data in a "
                                    "spliced body" % (spent, time.monotonic() - t0))
        self.assertEqual(st.status, 200, st)
        self.assertFalse(st.finished, st)
        self.assertGreater(st.length, 150000, "the bytes past the urgent mark did not come: %r"
                           % st)
        self.assertLessEqual(set(bytes(st.body)), set(b"abU"), "unexpected bytes in the body")
        small = c.get("/small", timeout=5)
        self.assertEqual((small.status, bytes(small.body)), (200, b"tiny"), small)
        self.assertTrue(rw.running())

    def test_stalled_streams_fit_the_open_file_limit(self):
        # Forty stalled spliced h2 streams, each holding a pipe as far as the descriptor budget
        # allows: with an open-file limit of 200 ringway never runs out of descriptors, and
        # serves the others.
        nofile = 200
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [self.web]), workers=1,
                                nofile=nofile)
        holders = []

        def close_holders():
            for h in holders:
                try:
                    h.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
                except OSError:
                    pass
                h.close()
            del holders[:]

        self.addCleanup(close_holders)
        streams = []
        for _ in range(40):
            h = H2Client(port, timeout=10)
            holders.append(h)
            streams.append((h, h.request("GET", "/bytes?n=%d" % (64 * MiB), keep_body=False,
                                         stalled=True)))
        for h, st in streams:
            h.pump(lambda: st.length >= DEFAULT_WINDOW or st.finished, 10, "a window's worth")
            self.assertEqual((st.status, st.reset, st.length), (200, None, DEFAULT_WINDOW), st)
        time.sleep(0.5)
        nfd = total_fds(rw.pid)
        self.assertLessEqual(nfd, nofile - 10, "ringway holds %d descriptors (%d pipe ends) with "
                             "an open-file limit of %d" % (nfd, pipe_fds(rw.pid), nofile))
        for i in range(3):
            self.assertServes(port, n=MiB if i % 2 else 100)
            r = harness.request(port, "GET", "/bytes?n=%d" % MiB, timeout=10)
            self.assertEqual((r.status, len(r.body)), (200, MiB), "HTTP/1.1 beside them")
        bad = [line for line in rw.stderr().splitlines()
               if "Too many open files" in line or "accept failed" in line]
        self.assertEqual(bad, [], "ringway ran out of descriptors")
        # Released, every stalled stream completes.
        for h, st in streams[:2]:
            h.unstall(st)
            h.wait(st, timeout=60)
            self.assertIntact(st, 64 * MiB, "a stalled stream released")
        close_holders()
        self.assertTrue(rw.running())
        self.assertServes(port)

    # -- 8. splicing off, and another threshold -----------------------------------------------

    def test_splice_off_same_bodies(self):
        port = self.free_port()
        web = self.start_backend("web-off")
        rw = self.start_ringway(splice_off_config(harness.simple_config(port, [web])),
                                workers=1)
        base_pipes, _ = self.warm_baseline(rw, port)
        self.sizes_in_sequence(port, web)
        self.assertEqual(pipe_fds(rw.pid), base_pipes, "pipes opened with splice: off")
        self.assertTrue(rw.running())

    def test_custom_threshold(self):
        port = self.free_port()
        web = self.start_backend("web-64k")
        rw = self.start_ringway(with_buffers(harness.simple_config(port, [web]), splice="64k"),
                                workers=1)
        web.reset_stats()
        c = self.client(port, timeout=60)
        for n in (65535, 65536, 65537, 100, 3 * MiB, 40000, 131072):
            self.fetch(c, n, "splice: 64k")
        self.assertEqual(web.stats()["connections"], 1, web.stats())
        self.assertFramesFit(c)
        self.assertTrue(rw.running())


if __name__ == "__main__":
    harness.main()
