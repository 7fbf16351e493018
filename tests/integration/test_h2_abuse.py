"""HTTP/2 peers that break the protocol, abuse it, or stall: ringway must answer each with the
error RFC 9113 names (a connection error: GOAWAY with its code, then close; a stream error:
RST_STREAM, and the connection goes on), cut the abusers (GOAWAY ENHANCE_YOUR_CALM, from the
budgets of proto/h2_abuse.h and SessionLimits), keep its memory bounded, and keep serving
everyone else.

As in test_abuse.py, a probe makes a normal request on a fresh connection every 150 ms while an
attack runs (here alternately HTTP/1.1 and h2c, the latter through python3-h2, to a site with
its own backend); every probe must be answered with 200 within 2 s, and ringway's RSS, sampled
every 20 ms, must stay under a stated bound. The numbers observed are printed with each test.

Frames are written by hand (struct, the 9-byte frame header) wherever a conforming library
would refuse to send them; HPACK blocks come from python3-hpack (literals never indexed, so
blocks are stateless) or are written by hand (the HPACK bomb), and ringway's replies are parsed
here, their field blocks decoded with hpack.Decoder. python3-h2 is Debian's: run with
/usr/bin/python3 (without it every test is skipped).
"""

import os
import select
import shutil
import socket
import ssl
import struct
import threading
import time
import unittest

import harness

try:
    import hpack
    import h2.config
    import h2.connection
    import h2.events
except ImportError:  # pragma: no cover - another interpreter than Debian's
    hpack = None

MiB = harness.MiB
HOST = harness.HOST
PROBE_LIMIT = harness.PROBE_LIMIT
RECOVERY_LIMIT = 5.0  # see assertServed

# ---------------------------------------------------------------------------------------------
# Frames (RFC 9113 section 4.1 and 6)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
          "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
          "HTTP_1_1_REQUIRED"]
CODE = {name: i for i, name in enumerate(ERRORS)}

S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, \
    S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = range(1, 7)

MAX_WINDOW = 2 ** 31 - 1


def err_name(code):
    return ERRORS[code] if 0 <= code < len(ERRORS) else "0x%x" % code


def frame(ftype, flags, stream, payload=b"", length=None):
    """One frame; `length` overrides the length field (a lie about the payload)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def settings_frame(*pairs, ack=False):
    return frame(SETTINGS, FLAG_ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


SETTINGS_ACK = settings_frame(ack=True)


def ping_frame(opaque=b"abcdefgh", ack=False):
    return frame(PING, FLAG_ACK if ack else 0, 0, opaque)


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def rst_frame(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def priority_frame(stream, depends_on=0, weight=15):
    return frame(PRIORITY, 0, stream, struct.pack(">IB", depends_on, weight))


def data_frame(stream, payload=b"", end_stream=False):
    return frame(DATA, FLAG_END_STREAM if end_stream else 0, stream, payload)


def block(fields):
    """An HPACK field block that leaves both dynamic tables alone (static-table indexes and
    never-indexed literals), so any block can be sent in any order. Names are sent as given:
    uppercase ones stay uppercase."""
    enc = hpack.Encoder()
    return enc.encode([hpack.NeverIndexedHeaderTuple(n, v) for n, v in fields], huffman=False)


def req(path="/", method="GET", authority="localhost", scheme="http", extra=()):
    return [(":method", method), (":scheme", scheme), (":path", path),
            (":authority", authority)] + list(extra)


def headers_frame(stream, fields, end_stream=True, end_headers=True):
    payload = fields if isinstance(fields, (bytes, bytearray)) else block(fields)
    flags = (FLAG_END_STREAM if end_stream else 0) | (FLAG_END_HEADERS if end_headers else 0)
    return frame(HEADERS, flags, stream, payload)


def hpack_int(value, prefix_bits, first_byte_flags=0):
    """An HPACK integer (RFC 7541 section 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(s):
    return hpack_int(len(s), 7) + s


# ---------------------------------------------------------------------------------------------
# A raw HTTP/2 client


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.status = None
        self.interim = []
        self.headers = []
        self.body = bytearray()
        self.body_len = 0
        self.ended = False  # END_STREAM received
        self.reset = None   # RST_STREAM code received

    def done(self):
        return self.ended or self.reset is not None

    def __repr__(self):
        return "<stream %d status=%s body=%d ended=%s reset=%s>" % (
            self.id, self.status, self.body_len, self.ended,
            None if self.reset is None else err_name(self.reset))


class Goaway:
    def __init__(self, last, code, debug):
        self.last = last
        self.code = code
        self.debug = debug

    @property
    def name(self):
        return err_name(self.code)

    def __repr__(self):
        return "<GOAWAY %s last=%d %r>" % (self.name, self.last, self.debug)


class RawH2:
    """One h2c connection (or `sock`, already connected, e.g. TLS with ALPN h2) written frame by
    frame. With `preface`, sends the client preface, an empty SETTINGS and, blindly, the ACK of
    the server's SETTINGS (which a server sends first, whether or not the client reads).
    Everything received is parsed into .streams, .goaway, .frames (type counts)."""

    def __init__(self, port=None, preface=True, settings=(), rcvbuf=None, timeout=10,
                 sock=None, auto_window=True):
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect((HOST, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = bytearray()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 24
        self.streams = {}
        self.goaway = None
        self.frames = {}
        self.eof = False
        self.send_error = None
        self.server_settings = {}
        self.auto_window = auto_window
        self._block = bytearray()
        self._block_stream = 0
        self._block_end_stream = False
        self._unacked = {}  # window owed per stream (0: the connection)
        if preface:
            self.send(PREFACE + settings_frame(*settings) + SETTINGS_ACK)

    # -- sending

    def send(self, data):
        """Sends all of `data`; False (and .send_error set) when the peer has closed."""
        try:
            self.sock.sendall(data)
            return True
        except (OSError, ssl.SSLError) as e:
            self.send_error = e
            return False

    def request(self, sid, path="/", method="GET", end_stream=True, extra=()):
        self.send(headers_frame(sid, req(path, method, extra=extra), end_stream=end_stream))

    def get(self, sid, path="/", timeout=5, **kw):
        """A request on stream `sid`; the Stream once it ended (or None at the deadline)."""
        self.request(sid, path, **kw)
        return self.wait_stream(sid, timeout)

    def close(self):
        harness_rst_close(self.sock)

    # -- receiving

    def stream(self, sid):
        s = self.streams.get(sid)
        if s is None:
            s = self.streams[sid] = Stream(sid)
        return s

    def _recv(self, deadline):
        """Reads once (waiting until `deadline`) and parses; False at EOF or the deadline."""
        if self.eof:
            return False
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
        if not pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
        try:
            data = self.sock.recv(1 << 18)
        except (BlockingIOError, ssl.SSLWantReadError):
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        self._parse()
        return True

    def _parse(self):
        pos = 0
        buf = self.buf
        while len(buf) - pos >= 9:
            n = int.from_bytes(buf[pos:pos + 3], "big")
            if len(buf) - pos < 9 + n:
                break
            t, flags = buf[pos + 3], buf[pos + 4]
            sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            payload = bytes(buf[pos + 9:pos + 9 + n])
            pos += 9 + n
            self._frame(t, flags, sid, payload)
        del buf[:pos]
        self._give_window()

    def _frame(self, t, flags, sid, payload):
        self.frames[t] = self.frames.get(t, 0) + 1
        if t == DATA:
            s = self.stream(sid)
            data = payload
            if flags & FLAG_PADDED:
                data = payload[1:len(payload) - payload[0]]
            s.body_len += len(data)
            if len(s.body) < MiB:
                s.body += data[:MiB - len(s.body)]
            if flags & FLAG_END_STREAM:
                s.ended = True
            if payload:
                self._unacked[0] = self._unacked.get(0, 0) + len(payload)
                if not s.ended:
                    self._unacked[sid] = self._unacked.get(sid, 0) + len(payload)
        elif t in (HEADERS, CONTINUATION):
            if t == HEADERS:
                if flags & FLAG_PADDED:
                    payload = payload[1:len(payload) - payload[0]]
                if flags & FLAG_PRIORITY:
                    payload = payload[5:]
                self._block = bytearray(payload)
                self._block_stream = sid
                self._block_end_stream = bool(flags & FLAG_END_STREAM)
            else:
                self._block += payload
            if flags & FLAG_END_HEADERS:
                fields = self.dec.decode(bytes(self._block), raw=True)
                s = self.stream(self._block_stream)
                status = dict(fields).get(b":status")
                if status is not None and 100 <= int(status) < 200:
                    s.interim.append(int(status))
                elif status is not None and s.status is None:
                    s.status = int(status)
                    s.headers = fields
                if self._block_end_stream:
                    s.ended = True
        elif t == RST_STREAM and len(payload) == 4:
            self.stream(sid).reset = struct.unpack(">I", payload)[0]
        elif t == GOAWAY and len(payload) >= 8:
            last, code = struct.unpack(">II", payload[:8])
            self.goaway = Goaway(last & 0x7FFFFFFF, code, payload[8:])
        elif t == SETTINGS and not flags & FLAG_ACK:
            for i in range(0, len(payload) - 5, 6):
                k, v = struct.unpack(">HI", payload[i:i + 6])
                self.server_settings[k] = v

    def _give_window(self):
        """Opens the windows again for what was received (in steps of 16 KiB and more: smaller
        WINDOW_UPDATE frames are what a flood is made of)."""
        if not self.auto_window or self.eof or self.goaway:
            return
        out = []
        for sid, n in list(self._unacked.items()):
            if n >= 16384:
                out.append(window_update(sid, n))
                self._unacked[sid] = 0
        if out:
            self.send(b"".join(out))

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            if not self._recv(deadline):
                break
        return predicate()

    def wait_stream(self, sid, timeout=5):
        self.wait(lambda: self.stream(sid).done() or self.goaway is not None, timeout)
        s = self.stream(sid)
        return s if s.done() else None

    def read_goaway(self, timeout=5):
        self.wait(lambda: self.goaway is not None, timeout)
        return self.goaway

    def wait_closed(self, timeout=5):
        """True once the peer has closed (FIN or RST) within `timeout`."""
        self.wait(lambda: self.eof, timeout)
        return self.eof


def harness_rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def ended(sock):
    """True once the peer has closed or reset `sock`; looks without reading."""
    p = select.poll()
    p.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    try:
        return bool(p.poll(0))
    except OSError:
        return True


# ---------------------------------------------------------------------------------------------
# Normal clients


def h2_get(port, path="/", host="localhost", timeout=3.0):
    """One GET over h2c with prior knowledge, through python3-h2: (status, body)."""
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    deadline = time.monotonic() + timeout
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":path", path),
                                (":authority", host)], end_stream=True)
        s.sendall(conn.data_to_send())
        status = None
        body = bytearray()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete h2 response within %.1f s" % timeout)
            s.settimeout(left)
            data = s.recv(65536)
            if not data:
                raise ConnectionError("closed before the h2 response ended")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    conn.close_connection()
                    s.sendall(conn.data_to_send())
                    return status, bytes(body)
                elif isinstance(ev, h2.events.StreamReset):
                    raise ConnectionError("stream reset: %s" % ev.error_code)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise ConnectionError("GOAWAY %s" % ev.error_code)
            out = conn.data_to_send()
            if out:
                s.sendall(out)


PROBE_HOST = "probe.test"


class Probe(harness.Probe):
    """harness.Probe towards the probe backend (Host probe.test), alternately over HTTP/1.1
    and h2c; an h2c probe that fails says so in its error text."""

    def __init__(self, port, **kw):
        super().__init__(port, host=kw.pop("host", None) or PROBE_HOST, **kw)
        self.sent = 0

    def once(self):
        self.sent += 1
        if self.sent % 2:
            return super().once()
        try:
            return h2_get(self.port, "/", host=self.host, timeout=self.timeout)[0]
        except Exception as e:
            raise ConnectionError("h2c %s: %s" % (type(e).__name__, e)) from e


def rss_mib(rw):
    return (rw.proc_status("VmRSS") or 0) / 1024.0


def established_to(port):
    """TCP connections in ESTABLISHED state whose local port is `port` (a backend's side)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Tests


@unittest.skipIf(hpack is None, "python3-h2 is missing (run with Debian's /usr/bin/python3)")
class H2AbuseTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.port = self.free_port()
        self.clients = []
        self.addCleanup(self.close_clients)

    def close_clients(self):
        for c in self.clients:
            c.close()

    def client(self, **kw):
        c = RawH2(self.port, **kw)
        self.clients.append(c)
        return c

    def start(self, timeouts=None, limits=None, http2=None, keepalive=None, log=None,
              buffers=None):
        """ringway in front of the backend "web" (the default server, localhost), which the
        attacks use, and of a second one for the probes (Host probe.test): what is measured
        is whether ringway serves others, not how many connections a test backend in Python
        accepts per second while an attack makes ringway connect to it. For the same reason
        the attacked pool has no active health check: a Python backend holding 2,000
        connections can miss a 1 s TCP check on a loaded machine, and the 503 that follows
        would be the test backend's doing, not ringway's."""
        web, probe_backend = self.start_backends("web", "probe")
        extra = {}
        if http2:
            extra["http2"] = http2
        if buffers:
            extra["buffers"] = buffers
        servers = [{"name": "site", "server_name": ["localhost"], "upstream": "pool",
                    "default": True},
                   {"name": "probe", "server_name": [PROBE_HOST], "upstream": "probes"}]
        rw = self.start_ringway(harness.config(
            [("main", self.port)], servers,
            [harness.upstream("pool", [web], keepalive=keepalive,
                              health_check={"enabled": False}),
             harness.upstream("probes", [probe_backend])],
            timeouts=timeouts, limits=limits, log=log, global_extra=extra or None))
        for host in ("localhost", PROBE_HOST):
            self.assertEqual(harness.request(self.port, "GET", "/", host=host).status, 200)
            self.assertEqual(h2_get(self.port, host=host)[0], 200)
        return web, rw

    def report(self, what, **numbers):
        parts = ", ".join("%s=%s" % (k, ("%.1f" % v) if isinstance(v, float) else v)
                          for k, v in numbers.items())
        print("\n    [%s] %s: %s" % (self._testMethodName, what, parts), flush=True)

    def assertServed(self, what=""):
        """New HTTP/1.1 and h2c clients get 200 from both backends: from the probes' within
        PROBE_LIMIT (ringway's own responsiveness), from the attacked site's within
        RECOVERY_LIMIT (that backend, a Python test server, has just been sent thousands of
        requests whose clients went away, and takes its own time to get over them: 0.2-0.7 s
        on a quiet machine, over 2 s with a sanitized build beside another test)."""
        for kind, host in (("h1", "localhost"), ("h2c", "localhost"), ("h1", PROBE_HOST),
                           ("h2c", PROBE_HOST)):
            start = time.monotonic()
            try:
                if kind == "h1":
                    status = harness.request(self.port, "GET", "/", host=host, timeout=5).status
                else:
                    status = h2_get(self.port, host=host, timeout=5)[0]
            except Exception as e:
                status = "%s: %s" % (type(e).__name__, e)
            took = time.monotonic() - start
            self.assertEqual(status, 200, "%s: a new %s client of %s was not served "
                             "afterwards" % (what, kind, host))
            limit = PROBE_LIMIT if host == PROBE_HOST else RECOVERY_LIMIT
            self.assertLess(took, limit, "%s: a new %s client of %s waited %.2f s"
                            % (what, kind, host, took))

    def assertProbesServed(self, probe, minimum=5):
        bad = probe.late_or_failed()
        self.assertEqual(bad, [], "probes not answered with 200 within %.1f s beside the "
                         "attack (%s); first ones: %r" % (PROBE_LIMIT, probe.summary(), bad[:5]))
        self.assertGreaterEqual(len(probe.results), minimum, "too few probes ran: %s"
                                % probe.summary())

    def assertRssBelow(self, mib, limit_mib, what):
        if harness.sanitized_binary(self.ringways[0].binary):
            return  # ASan's quarantine and shadow memory: RSS says nothing there
        self.assertLess(mib, limit_mib, "%s %.1f MiB, over %.1f MiB" % (what, mib, limit_mib))

    def assertGoaway(self, c, code, what, timeout=5):
        g = c.read_goaway(timeout)
        self.assertIsNotNone(g, "%s: no GOAWAY within %d s (frames by type %r, eof=%s)"
                             % (what, timeout, c.frames, c.eof))
        self.assertEqual(g.name, code, "%s: %r" % (what, g))
        self.assertTrue(c.wait_closed(5), "%s: the connection stayed open 5 s after %r"
                        % (what, g))
        return g

    # -----------------------------------------------------------------------------------------
    # 1. Connection errors: GOAWAY with the code RFC 9113 names, then close

    def test_connection_errors_get_goaway_with_the_rfc_code(self):
        self.start()
        req1 = headers_frame(1, req())

        def finished_stream(sid):
            def setup(c):
                s = c.get(sid)
                self.assertTrue(s is not None and s.status == 200, "setup: %r" % s)
            return setup

        big = 16385  # one past SETTINGS_MAX_FRAME_SIZE (16384, ringway's default)
        cases = [
            # (name, bytes after the preface, expected GOAWAY code, setup)
            ("DATA on stream 0 (6.1)", data_frame(0, b"x"), "PROTOCOL_ERROR", None),
            ("HEADERS on an even stream (5.1.1)", headers_frame(2, req()),
             "PROTOCOL_ERROR", None),
            ("HEADERS on stream 0 (6.2)", headers_frame(0, req()), "PROTOCOL_ERROR", None),
            ("SETTINGS of 7 bytes (6.5)", frame(SETTINGS, 0, 0, b"\0" * 7),
             "FRAME_SIZE_ERROR", None),
            ("SETTINGS ACK with a payload (6.5)", frame(SETTINGS, FLAG_ACK, 0, b"\0" * 6),
             "FRAME_SIZE_ERROR", None),
            ("SETTINGS on a stream (6.5)", frame(SETTINGS, 0, 1, b""), "PROTOCOL_ERROR", None),
            ("SETTINGS_INITIAL_WINDOW_SIZE 2^31 (6.5.2)",
             settings_frame((S_INITIAL_WINDOW_SIZE, 2 ** 31)), "FLOW_CONTROL_ERROR", None),
            ("SETTINGS_ENABLE_PUSH 2 (6.5.2)", settings_frame((S_ENABLE_PUSH, 2)),
             "PROTOCOL_ERROR", None),
            ("SETTINGS_MAX_FRAME_SIZE 16383 (6.5.2)", settings_frame((S_MAX_FRAME_SIZE, 16383)),
             "PROTOCOL_ERROR", None),
            ("PING of 7 bytes (6.7)", frame(PING, 0, 0, b"\0" * 7), "FRAME_SIZE_ERROR", None),
            ("PING on a stream (6.7)", frame(PING, 0, 1, b"\0" * 8), "PROTOCOL_ERROR", None),
            ("WINDOW_UPDATE of 0 on the connection (6.9)", window_update(0, 0),
             "PROTOCOL_ERROR", None),
            ("WINDOW_UPDATE of 5 bytes (6.9)", frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\1\0"),
             "FRAME_SIZE_ERROR", None),
            ("connection window past 2^31-1 (6.9.1)", window_update(0, MAX_WINDOW),
             "FLOW_CONTROL_ERROR", None),
            ("connection window past 2^31-1 in two steps (6.9.1)",
             window_update(0, 2 ** 30) + window_update(0, 2 ** 30), "FLOW_CONTROL_ERROR", None),
            ("HEADERS larger than SETTINGS_MAX_FRAME_SIZE (4.2)",
             frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1, b"\0" * big),
             "FRAME_SIZE_ERROR", None),
            ("PING header announcing 16 MiB (4.2)",
             frame(PING, 0, 0, b"\0" * 8, length=(1 << 24) - 1), "FRAME_SIZE_ERROR", None),
            ("CONTINUATION without HEADERS (6.10)",
             frame(CONTINUATION, FLAG_END_HEADERS, 1, block(req())), "PROTOCOL_ERROR", None),
            ("PING inside a field block (6.10)",
             headers_frame(1, req(), end_headers=False) + ping_frame(), "PROTOCOL_ERROR", None),
            ("CONTINUATION of another stream inside a field block (6.10)",
             headers_frame(1, req(), end_headers=False)
             + frame(CONTINUATION, FLAG_END_HEADERS, 3, b""), "PROTOCOL_ERROR", None),
            ("HEADERS of another stream inside a field block (6.10)",
             headers_frame(1, req(), end_headers=False) + headers_frame(3, req()),
             "PROTOCOL_ERROR", None),
            ("HPACK index 0 (RFC 7541 6.1)", headers_frame(1, b"\x80"), "COMPRESSION_ERROR",
             None),
            ("HPACK index past the tables (RFC 7541 2.3.3)",
             headers_frame(1, block(req()) + hpack_int(300, 7, 0x80)), "COMPRESSION_ERROR",
             None),
            ("HPACK literal longer than the block (RFC 7541 5.2)",
             headers_frame(1, block(req()) + b"\x00" + hpack_int(200, 7) + b"abc"),
             "COMPRESSION_ERROR", None),
            ("HPACK table size update over the limit (RFC 7541 4.2)",
             headers_frame(1, hpack_int(1 << 20, 5, 0x20) + block(req())),
             "COMPRESSION_ERROR", None),
            ("stream id going backwards (5.1.1)", headers_frame(3, req()), "PROTOCOL_ERROR",
             finished_stream(5)),
            ("stream id going backwards in one read (5.1.1)",
             headers_frame(5, req()) + headers_frame(3, req()), "PROTOCOL_ERROR", None),
            ("DATA on a stream closed by END_STREAM (5.1)", data_frame(1, b"x"),
             "STREAM_CLOSED", finished_stream(1)),
            ("DATA on an idle stream (5.1)", data_frame(1, b"x"), "PROTOCOL_ERROR", None),
            ("RST_STREAM on an idle stream (6.4)", rst_frame(1, CODE["CANCEL"]),
             "PROTOCOL_ERROR", None),
            ("WINDOW_UPDATE on an idle stream (5.1)", window_update(7, 1024),
             "PROTOCOL_ERROR", None),
            ("RST_STREAM of 3 bytes (6.4)", req1 + frame(RST_STREAM, 0, 1, b"\0\0\0"),
             "FRAME_SIZE_ERROR", None),
            ("PUSH_PROMISE from a client (8.4)",
             frame(PUSH_PROMISE, FLAG_END_HEADERS, 1, struct.pack(">I", 2) + block(req())),
             "PROTOCOL_ERROR", None),
        ]
        for name, payload, code, setup in cases:
            with self.subTest(case=name):
                c = self.client()
                try:
                    if setup:
                        setup(c)
                    c.send(payload)
                    self.assertGoaway(c, code, name)
                finally:
                    c.close()
                self.assertServed(name)

        with self.subTest(case="first frame not SETTINGS (3.4)"):
            c = self.client(preface=False)
            c.send(PREFACE + ping_frame())
            self.assertGoaway(c, "PROTOCOL_ERROR", "first frame not SETTINGS")
            c.close()
            self.assertServed("first frame not SETTINGS")

        # A bad preface on a plaintext listener is HTTP/1 to ringway (h2c is decided by the
        # preface): it is answered (or not) and closed, and ringway goes on.
        for name, garbage in [("garbage", os.urandom(64) + b"\r\n\r\n"),
                              ("preface with a wrong tail", b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
                              ("HTTP/2 frames without a preface", settings_frame() * 3)]:
            with self.subTest(case="bad preface: " + name):
                with harness.Conn(self.port, timeout=5) as conn:
                    conn.send(garbage)
                    self.assertTrue(conn.wait_closed(timeout=5),
                                    "%s: the connection stayed open" % name)
                self.assertTrue(self.ringways[0].running(), "ringway died")
                self.assertServed(name)

    def test_bad_preface_over_tls_alpn_h2_gets_goaway_protocol_error(self):
        """Over TLS the protocol is settled by ALPN before any byte: a client that negotiated
        h2 and then sends no preface is an HTTP/2 connection error (RFC 9113 section 3.4)."""
        if not shutil.which("openssl"):
            self.skipTest("no openssl command")
        cert, key = os.path.join(self.workdir, "c.pem"), os.path.join(self.workdir, "k.pem")
        harness.run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                         "-days", "2", "-subj", "/CN=localhost"], timeout=30).check_returncode()
        web = self.start_backend("web")
        tls_port = self.free_port()
        doc = {"global": {"log": {"level": "info", "format": "text", "access_log": True},
                          "timeouts": {"shutdown": "5s"}},
               "listeners": [{"name": "plain", "bind": "%s:%d" % (HOST, self.port)},
                             {"name": "tls", "bind": "%s:%d" % (HOST, tls_port),
                              "tls": {"cert": cert, "key": key}}],
               "servers": [{"name": "site", "server_name": ["localhost"], "upstream": "pool",
                            "default": True}],
               "upstreams": [harness.upstream("pool", [web])]}
        self.start_ringway(harness.to_yaml(doc) + "\n")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])

        def tls_client():
            raw = socket.create_connection((HOST, tls_port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            self.assertEqual(s.selected_alpn_protocol(), "h2")
            c = RawH2(sock=s, preface=False)
            self.clients.append(c)
            return c

        c = tls_client()
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertGoaway(c, "PROTOCOL_ERROR", "HTTP/1.1 after ALPN h2")
        # And a well-behaved h2 client on the same listener is served.
        c = tls_client()
        c.send(PREFACE + settings_frame() + SETTINGS_ACK)
        s = c.get(1)
        self.assertTrue(s is not None and s.status == 200, "h2 over TLS: %r" % s)
        self.assertServed("bad preface over TLS")

    # -----------------------------------------------------------------------------------------
    # 2. Stream errors: RST_STREAM, and the connection goes on

    def test_stream_errors_reset_the_stream_and_the_connection_goes_on(self):
        self.start(http2={"max_concurrent_streams": 5}, limits={"max_header_size": "8k"},
                   timeouts={"upstream_response": "30s"})

        def expect_reset(c, sid, code, what):
            s = c.wait_stream(sid, 5)
            self.assertIsNotNone(s, "%s: stream %d not ended within 5 s (goaway %r)"
                                 % (what, sid, c.goaway))
            self.assertIsNone(c.goaway, "%s: the connection got %r" % (what, c.goaway))
            self.assertIsNotNone(s.reset, "%s: no RST_STREAM: %r" % (what, s))
            self.assertEqual(err_name(s.reset), code, "%s: %r" % (what, s))

        def still_serves(c, sid, what):
            s = c.get(sid)
            self.assertTrue(s is not None and s.status == 200 and s.ended,
                            "%s: a later request on the same connection: %r (goaway %r)"
                            % (what, s, c.goaway))

        with self.subTest(case="WINDOW_UPDATE of 0 on a stream (6.9)"):
            c = self.client()
            c.request(1, "/slow?ms=3000")
            c.send(window_update(1, 0))
            expect_reset(c, 1, "PROTOCOL_ERROR", "WINDOW_UPDATE 0 on a stream")
            still_serves(c, 3, "after WINDOW_UPDATE 0")
            c.close()

        with self.subTest(case="stream window past 2^31-1 (6.9.1)"):
            c = self.client()
            c.request(1, "/slow?ms=3000")
            c.send(window_update(1, MAX_WINDOW))
            expect_reset(c, 1, "FLOW_CONTROL_ERROR", "stream window overflow")
            still_serves(c, 3, "after a stream window overflow")
            c.close()

        with self.subTest(case="stream window past 2^31-1 through SETTINGS (6.9.2)"):
            # An open stream's window moved past 2^31-1 by SETTINGS_INITIAL_WINDOW_SIZE is a
            # connection error FLOW_CONTROL_ERROR (6.9.2).
            c = self.client()
            c.request(1, "/slow?ms=3000")
            c.send(window_update(1, MAX_WINDOW - 65535))
            time.sleep(0.1)
            c.send(settings_frame((S_INITIAL_WINDOW_SIZE, 65536)))
            self.assertGoaway(c, "FLOW_CONTROL_ERROR", "window overflow through SETTINGS")
            c.close()

        malformed = [
            ("missing :method", [(":scheme", "http"), (":path", "/"),
                                 (":authority", "localhost")]),
            ("missing :path", [(":method", "GET"), (":scheme", "http"),
                               (":authority", "localhost")]),
            ("missing :scheme", [(":method", "GET"), (":path", "/"),
                                 (":authority", "localhost")]),
            ("empty :path", req(path="")),
            ("repeated :method", req(extra=[(":method", "GET")])),
            ("pseudo-header after a regular field",
             [(":method", "GET"), (":scheme", "http"), ("x-a", "1"), (":path", "/"),
              (":authority", "localhost")]),
            ("unknown pseudo-header", req(extra=[(":foo", "bar")])),
            ("response pseudo-header in a request", req(extra=[(":status", "200")])),
            ("uppercase field name", req(extra=[("X-Upper", "1")])),
            ("connection-specific field", req(extra=[("connection", "keep-alive")])),
            ("transfer-encoding", req(extra=[("transfer-encoding", "chunked")])),
            ("te other than trailers", req(extra=[("te", "gzip")])),
            ("CR LF in a field value", req(extra=[("x-a", "1\r\nx-b: 2")])),
            ("NUL in a field value", req(extra=[("x-a", "1\x002")])),
            ("space in a field name", req(extra=[("x a", "1")])),
            ("content-length with END_STREAM and no DATA",
             req(method="POST", extra=[("content-length", "5")])),
        ]
        with self.subTest(case="malformed requests (8.1.1, 8.2, 8.3)"):
            c = self.client()
            sid = 1
            for what, fields in malformed:
                c.send(headers_frame(sid, fields))
                expect_reset(c, sid, "PROTOCOL_ERROR", what)
                sid += 2
            # DATA that does not add up to content-length (8.1.1).
            c.send(headers_frame(sid, req("/sink", "POST", extra=[("content-length", "5")]),
                                 end_stream=False) + data_frame(sid, b"abc", end_stream=True))
            expect_reset(c, sid, "PROTOCOL_ERROR", "DATA short of content-length")
            sid += 2
            c.send(headers_frame(sid, req("/sink", "POST", extra=[("content-length", "2")]),
                                 end_stream=False) + data_frame(sid, b"abc"))
            expect_reset(c, sid, "PROTOCOL_ERROR", "DATA beyond content-length")
            sid += 2
            # A second HEADERS without END_STREAM (8.1) and a pseudo-header in trailers.
            c.send(headers_frame(sid, req("/sink", "POST"), end_stream=False)
                   + headers_frame(sid, [("x-t", "1")], end_stream=False))
            expect_reset(c, sid, "PROTOCOL_ERROR", "second HEADERS without END_STREAM")
            sid += 2
            c.send(headers_frame(sid, req("/sink", "POST"), end_stream=False)
                   + data_frame(sid, b"abc") + headers_frame(sid, [(":path", "/")]))
            expect_reset(c, sid, "PROTOCOL_ERROR", "pseudo-header in trailers")
            sid += 2
            still_serves(c, sid, "after %d malformed requests" % (len(malformed) + 4))
            c.close()

        with self.subTest(case="more streams than SETTINGS_MAX_CONCURRENT_STREAMS (5.1.2)"):
            c = self.client()
            c.wait(lambda: S_MAX_CONCURRENT_STREAMS in c.server_settings, 5)
            self.assertEqual(c.server_settings.get(S_MAX_CONCURRENT_STREAMS), 5)
            ids = list(range(1, 17, 2))  # 8 streams at once
            c.send(b"".join(headers_frame(i, req("/slow?ms=1000")) for i in ids))
            start = time.monotonic()
            for i in ids[5:]:
                expect_reset(c, i, "REFUSED_STREAM", "stream %d past the limit" % i)
            refused_after = time.monotonic() - start
            for i in ids[:5]:
                s = c.wait_stream(i, 5)
                self.assertTrue(s is not None and s.status == 200 and s.ended,
                                "stream %d within the limit: %r" % (i, s))
            self.assertLess(refused_after, 0.9, "the extra streams were not refused at once")
            still_serves(c, 17, "after REFUSED_STREAM")
            c.close()

        with self.subTest(case="header list over max_header_size (10.5.1)"):
            c = self.client()
            c.wait(lambda: S_MAX_HEADER_LIST_SIZE in c.server_settings, 5)
            self.assertEqual(c.server_settings.get(S_MAX_HEADER_LIST_SIZE), 8192)
            c.send(headers_frame(1, req(extra=[("x-big", "a" * 9000)])))
            s = c.wait_stream(1)
            self.assertTrue(s is not None and (s.status == 431 or s.reset is not None),
                            "a 9000-byte field over max_header_size 8k: %r" % s)
            self.assertIsNone(c.goaway)
            # The same over CONTINUATION frames, 40000 bytes (under the block limit).
            blk = block(req(extra=[("x-big-%d" % i, "b" * 4000) for i in range(10)]))
            c.send(frame(HEADERS, FLAG_END_STREAM, 3, blk[:16384])
                   + frame(CONTINUATION, 0, 3, blk[16384:32768])
                   + frame(CONTINUATION, FLAG_END_HEADERS, 3, blk[32768:]))
            s = c.wait_stream(3)
            self.assertTrue(s is not None and (s.status == 431 or s.reset is not None),
                            "a 40000-byte list over CONTINUATION: %r" % s)
            # With a body to come: 431, and the body is refused (RST_STREAM NO_ERROR).
            c.send(headers_frame(5, req("/sink", "POST", extra=[("x-big", "a" * 9000)]),
                                 end_stream=False))
            s = c.wait_stream(5)
            self.assertTrue(s is not None and (s.status == 431 or s.reset is not None),
                            "a 9000-byte field on a POST: %r" % s)
            self.assertIsNone(c.goaway)
            still_serves(c, 7, "after 431")
            c.close()
        self.assertServed("after the stream errors")

    # -----------------------------------------------------------------------------------------
    # 3. Abuse: floods end with GOAWAY ENHANCE_YOUR_CALM, memory bounded, others served

    def flood_once(self, prelude, chunks, read=True, limit_s=5.0, max_bytes=8 * MiB):
        """One attacker connection: the preface, `prelude`, then chunk after chunk from the
        iterator `chunks` as fast as ringway takes them (reading what comes meanwhile unless
        `read` is false) until the connection ends, `max_bytes` went out or `limit_s` passed.
        Returns (Goaway or None, bytes sent, seconds)."""
        c = self.client()
        c.auto_window = False
        start = time.monotonic()
        c.send(prelude)
        c.sock.setblocking(False)
        data, pos, sent = b"", 0, 0
        stalled_since = None
        while time.monotonic() - start < limit_s and sent < max_bytes and not c.eof:
            if pos == len(data):
                data, pos = next(chunks, b""), 0
                if not data:
                    break
            r, w, _ = select.select([c.sock] if read else [], [c.sock], [], 0.2)
            if r and not c._recv(time.monotonic() + 0.01) and c.eof:
                break
            if w:
                stalled_since = None
                try:
                    n = c.sock.send(memoryview(data)[pos:pos + 256 * 1024])
                    pos += n
                    sent += n
                except BlockingIOError:
                    pass
                except OSError as e:  # reset or broken pipe: ringway closed it
                    c.send_error = e
                    break
            elif stalled_since is None:
                stalled_since = time.monotonic()
            elif time.monotonic() - stalled_since > 1.0:
                break  # ringway stopped reading us
        took = time.monotonic() - start
        c.read_goaway(3)
        c.wait_closed(3)
        c.close()
        return c.goaway, sent, took

    def attack(self, what, make, read=True, run_s=1.2, rss_limit=64, config=None):
        """Attacker connections one after another for `run_s` seconds (each made by `make()`:
        (prelude, chunk iterator)), beside the probe. Each must end with GOAWAY
        ENHANCE_YOUR_CALM; the probe is served throughout; RSS stays under `rss_limit` MiB."""
        web, rw = self.start(**(config or {}))
        baseline = rss_mib(rw)
        results = []
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            start = time.monotonic()
            while (time.monotonic() - start < run_s or not results) and len(results) < 200:
                prelude, chunks = make()
                results.append(self.flood_once(prelude, chunks, read=read))
            harness.wait_for(lambda: len(probe.results) >= 5, 3)  # a few probes at least
        codes = [g.name if g else None for g, _, _ in results]
        self.report(what, attackers=len(results), goaway=sorted(set(map(str, codes))),
                    first_goaway=results[0][0],
                    sent_kib_each=[round(s / 1024.0) for _, s, _ in results[:5]],
                    cut_after_s=[round(t, 3) for _, _, t in results[:5]],
                    rss_baseline_mib=baseline, rss_peak_mib=rss.peak_kb / 1024.0,
                    probes=probe.summary())
        for i, code in enumerate(codes):
            self.assertEqual(code, "ENHANCE_YOUR_CALM", "%s: attacker %d ended with %r (sent "
                             "%d bytes in %.2f s)" % (what, i, results[i][0], results[i][1],
                                                      results[i][2]))
        self.assertProbesServed(probe)
        self.assertRssBelow(rss.peak_kb / 1024.0, rss_limit, "RSS peak")
        self.assertServed(what)
        return web, rw, results

    @staticmethod
    def repeat(piece, times=1000):
        chunk = piece * times
        return iter(lambda: chunk, None)  # endless

    def test_rapid_reset_gets_enhance_your_calm(self):
        """CVE-2023-44487: streams opened and reset at once, thousands of them. The budget
        (max_rapid_resets, 200 per 10 s by default) ends each connection; the backend sees a
        bounded number of the requests."""
        blk = block(req("/rr"))

        def make():
            def chunks():
                sid = 1
                while sid < 2 ** 31 - 200:
                    out = []
                    for _ in range(50):
                        out.append(frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, sid, blk)
                                   + rst_frame(sid, CODE["CANCEL"]))
                        sid += 2
                    yield b"".join(out)
            return b"", chunks()

        web, rw, results = self.attack("rapid reset", make)
        time.sleep(0.3)
        stats = web.stats()
        reached = stats["paths"].get("/rr", 0)
        # Streams opened before each GOAWAY (its last-stream-id; later ones were not processed).
        opened = [(g.last + 1) // 2 for g, _, _ in results]
        self.report("rapid reset at the backend", streams_before_goaway=opened[:10],
                    requests_reached_backend=reached, backend_accepted=stats["accepted"])
        # Per connection: 200 rapid resets (the bucket), and the streams refused around them
        # (REFUSED_STREAM past a read's 100 new streams) cost a glitch point each (1000).
        self.assertLess(max(opened), 1300, "a connection had %d streams processed before "
                        "its GOAWAY" % max(opened))
        self.assertLess(reached, len(results) * 400, "the backend saw %d of the %d reset "
                        "requests" % (reached, sum(opened)))
        # A stream reset in the read that opened it never reaches for a backend (ringway
        # connects once the read is processed); only a pair split across reads can.
        self.assertLess(stats["accepted"], len(results) * 10, "the backend was connected to "
                        "%d times for %d reset requests" % (stats["accepted"], sum(opened)))

    def test_settings_flood_gets_enhance_your_calm(self):
        self.attack("SETTINGS flood", lambda: (b"", self.repeat(settings_frame())))

    def test_settings_flood_with_many_entries_gets_enhance_your_calm(self):
        entries = [(S_MAX_HEADER_LIST_SIZE, 65536)] * 1000
        self.attack("SETTINGS with 1000 entries each",
                    lambda: (b"", self.repeat(settings_frame(*entries), 10)))

    def test_ping_flood_not_reading_acks_gets_enhance_your_calm(self):
        self.attack("PING flood, ACKs not read", lambda: (b"", self.repeat(ping_frame())),
                    read=False)

    def test_priority_flood_gets_enhance_your_calm(self):
        self.attack("PRIORITY flood", lambda: (b"", self.repeat(priority_frame(1))))

    def test_window_update_flood_gets_enhance_your_calm(self):
        self.attack("WINDOW_UPDATE flood", lambda: (b"", self.repeat(window_update(0, 1))))

    def test_window_update_flood_on_a_stream_gets_enhance_your_calm(self):
        self.attack("WINDOW_UPDATE flood on a stream",
                    lambda: (headers_frame(1, req("/slow?ms=3000")),
                             self.repeat(window_update(1, 1))),
                    config={"timeouts": {"upstream_response": "30s"}})

    def test_empty_data_flood_gets_enhance_your_calm(self):
        self.attack("empty DATA flood",
                    lambda: (headers_frame(1, req("/sink", "POST"), end_stream=False),
                             self.repeat(data_frame(1))))

    def test_empty_continuation_flood_gets_enhance_your_calm(self):
        self.attack("empty CONTINUATION flood",
                    lambda: (headers_frame(1, req(), end_headers=False),
                             self.repeat(frame(CONTINUATION, 0, 1, b""))))

    def test_unknown_frame_flood_gets_enhance_your_calm(self):
        self.attack("unknown frame type flood",
                    lambda: (b"", self.repeat(frame(0xFA, 0, 0, b"grease"))))

    def test_huge_header_block_over_continuation_is_cut(self):
        """A field block that never ends, in full-size CONTINUATION frames: it has to be held
        whole to be decoded, so past SessionLimits::max_header_block_bytes (128 KiB) the
        connection gets ENHANCE_YOUR_CALM, long before memory is at stake."""
        head = block(req()) + b"\x00" + hpack_str(b"x-huge") + hpack_int(100 * MiB, 7)
        first = frame(HEADERS, FLAG_END_STREAM, 1, head + b"a" * (16384 - len(head)))
        self.attack("endless header block", lambda: (first, self.repeat(
            frame(CONTINUATION, 0, 1, b"a" * 16384), 16)))

    def test_hpack_bomb_is_bounded_by_the_header_list_limit(self):
        """One 4000-byte field inserted into the HPACK dynamic table, then referenced 16000
        times by one-byte indexes in each request (64 MB of header list per 16 KB block):
        each such request gets 431 (or RST_STREAM) from the header-list limit, memory does not
        grow, and the connection goes on."""
        web, rw = self.start()
        baseline = rss_mib(rw)
        pseudo = b"\x82\x86\x84" + b"\x01" + hpack_str(b"localhost")  # GET http / localhost
        insert = b"\x40" + hpack_str(b"x-bomb") + hpack_str(b"b" * 4000)  # incremental indexing
        bombs = 300
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            c = self.client()
            c.send(headers_frame(1, pseudo + insert))
            s = c.wait_stream(1)
            self.assertTrue(s is not None and s.status == 200, "the inserting request: %r" % s)
            bomb = pseudo + b"\xbe" * 16000  # index 62: the newest dynamic entry
            start = time.monotonic()
            sid = 3
            for i in range(bombs):
                c.send(headers_frame(sid, bomb))
                sid += 2
                if i % 20 == 19:  # read what came, so that nothing piles up either way
                    c.wait(lambda: c.stream(sid - 2).done() or c.goaway, 5)
            last = c.wait_stream(sid - 2, 10)
            took = time.monotonic() - start
            answered = [c.streams.get(i) for i in range(3, sid, 2)]
            ok = sum(1 for s in answered if s and (s.status == 431 or s.reset is not None))
            after = c.get(sid)
            time.sleep(max(0.0, 1.0 - took))
        self.report("HPACK bomb", bombs=bombs, decoded_list_mb_each=16000 * 4038 // 10 ** 6,
                    answered_431_or_reset=ok, seconds=took, rss_baseline_mib=baseline,
                    rss_peak_mib=rss.peak_kb / 1024.0, probes=probe.summary(),
                    goaway=c.goaway)
        self.assertIsNone(c.goaway, "the bombing connection got %r" % c.goaway)
        self.assertIsNotNone(last, "the last bomb was not answered within 10 s")
        self.assertEqual(ok, bombs, "bombs not answered with 431 or RST_STREAM: %r"
                         % [s for s in answered if not (s and (s.status == 431 or s.reset))][:5])
        self.assertTrue(after is not None and after.status == 200,
                        "a normal request after the bombs: %r" % after)
        self.assertProbesServed(probe)
        self.assertRssBelow(rss.peak_kb / 1024.0, baseline + 32, "RSS peak")

    # -----------------------------------------------------------------------------------------
    # 4. Slow and stalling peers

    def test_client_that_never_opens_its_window_is_cut_after_client_send(self):
        """Clients ask for a 50 MB response and never read. One never sends WINDOW_UPDATE
        (ringway can send 64 KiB, then the stream and connection windows are shut), one opens
        both windows wide (the kernel buffers fill, then ringway's queue). Both are stalled
        peers: cut within client_send (1 s) and a margin, and the backend connection of each is
        released. A third keeps one stream's window shut beside a stream that is still running:
        only that stream is reset (CANCEL), and the other one completes."""
        web, rw = self.start(timeouts={"client_send": "1s", "upstream_response": "30s"},
                             keepalive=0)
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            shut = self.client(rcvbuf=4096)
            shut.request(1, "/bytes?n=50000000")
            wide = self.client(rcvbuf=4096, settings=[(S_INITIAL_WINDOW_SIZE, MAX_WINDOW)])
            wide.send(window_update(0, MAX_WINDOW - 65535))
            wide.request(1, "/bytes?n=50000000")
            mixed = self.client(auto_window=False)
            mixed.send(window_update(0, MAX_WINDOW - 65535))
            mixed.request(1, "/bytes?n=50000000")
            mixed.request(3, "/slow?ms=2500")
            start = time.monotonic()
            time.sleep(0.5)
            held_at_start = established_to(web.port)
            cut = {"window shut": None, "window wide": None}
            reset_after = None
            while time.monotonic() - start < 6 and (None in cut.values() or reset_after is None):
                for name, c in (("window shut", shut), ("window wide", wide)):
                    if cut[name] is None and ended(c.sock):
                        cut[name] = round(time.monotonic() - start, 2)
                mixed.wait(lambda: False, 0.05)
                if reset_after is None and mixed.stream(1).reset is not None:
                    reset_after = round(time.monotonic() - start, 2)
            other = mixed.wait_stream(3, max(0.1, start + 5 - time.monotonic()))
            mixed.close()
        time.sleep(0.3)
        released = harness.wait_for(lambda: established_to(web.port) == 0, 3)
        self.report("stalled downloads", cut_after_s=cut, backend_conns_at_0_5s=held_at_start,
                    backend_conns_after=established_to(web.port), mixed_stream_1=mixed.stream(1),
                    mixed_reset_after_s=reset_after, mixed_stream_3=other,
                    mixed_goaway=mixed.goaway, rss_peak_mib=rss.peak_kb / 1024.0,
                    probes=probe.summary())
        self.assertProbesServed(probe)
        self.assertGreaterEqual(held_at_start, 3, "no backend connection while stalled?")
        self.assertIsNotNone(cut["window wide"], "a client that never reads (windows open) "
                             "still connected 6 s after; client_send is 1 s")
        self.assertIsNotNone(cut["window shut"], "a client that never sends WINDOW_UPDATE "
                             "(and never reads) still connected 6 s after; client_send is 1 s")
        self.assertGreater(min(cut.values()), 0.7, "cut before client_send passed")
        self.assertIsNotNone(reset_after, "a stream whose window stayed shut beside a live "
                             "stream was not reset within 6 s: %r" % mixed.stream(1))
        self.assertEqual(err_name(mixed.stream(1).reset), "CANCEL")
        self.assertTrue(other is not None and other.status == 200 and other.ended,
                        "the other stream of that connection: %r (goaway %r)"
                        % (other, mixed.goaway))
        self.assertTrue(released, "backend connections still established after the cuts")
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        self.assertServed("after stalled downloads")

    def test_h2_downloads_never_read_do_not_empty_the_buffer_ring(self):
        """The README's bound for HTTP/1 (the ring of 1,024 buffers cannot be emptied by fewer
        than 113 connections that only download) asked of HTTP/2: 12 h2c connections with 10
        streams of 1 MB each, none of them ever read (64 KiB windows, never opened further).
        While they sit there, within client_send (30 s here), everyone else is served."""
        web, rw = self.start(timeouts={"client_send": "30s", "upstream_response": "30s"},
                             log={"level": "debug"})
        blk = block(req("/bytes?n=1000000"))
        hello = PREFACE + settings_frame() + SETTINGS_ACK + b"".join(
            frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1 + 2 * i, blk)
            for i in range(10))
        for _ in range(12):
            c = self.client(rcvbuf=4096, preface=False)
            c.send(hello)
        time.sleep(1.0)  # every stream's share is queued by now
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            time.sleep(2.5)
        dry = rw.log_lines("provided buffers exhausted")
        self.report("12 h2c connections x 10 downloads never read", probes=probe.summary(),
                    backend_conns=established_to(web.port), rss_peak_mib=rss.peak_kb / 1024.0,
                    ring_ran_dry=len(dry))
        self.assertProbesServed(probe)
        self.assertEqual(dry, [], "the ring ran dry")

    def test_stalled_request_body_is_ended_after_client_body(self):
        """A stream whose request body stops coming (no END_STREAM, then nothing) is answered
        (408) or reset within client_body (1 s) and a margin; a stream of the same connection
        that completes is not affected, and the connection serves later requests (unless it
        was closed with GOAWAY)."""
        web, rw = self.start(timeouts={"client_body": "1s", "upstream_response": "30s",
                                       "keepalive": "30s"})
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            c = self.client()
            c.send(headers_frame(1, req("/sink", "POST", extra=[("content-length", "1000")]),
                                 end_stream=False) + data_frame(1, b"x" * 10))
            start = time.monotonic()
            s = c.wait_stream(1, 6)
            took = time.monotonic() - start
            later = None if c.goaway or c.eof else c.get(3)
        self.report("stalled request body", ended_after_s=took, stream=s, goaway=c.goaway,
                    later_request=later, rss_peak_mib=rss.peak_kb / 1024.0,
                    probes=probe.summary())
        self.assertProbesServed(probe)
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")
        self.assertTrue(s is not None or c.goaway is not None,
                        "a stream whose body stalled was not ended 6 s later; client_body 1 s "
                        "(%r)" % c.stream(1))
        if s is not None:
            self.assertTrue(s.status == 408 or s.reset is not None, "stalled body: %r" % s)
        self.assertGreater(took, 0.7, "ended before client_body passed")
        if later is not None:
            self.assertEqual(later.status, 200, "a later request on the connection: %r" % later)

    def test_idle_connections_are_closed(self):
        """A connection that carried a request and then stays idle gets GOAWAY NO_ERROR after
        keepalive (1 s) and is closed; one that sent the preface (and SETTINGS) and nothing
        more, or only part of the preface, is closed after client_header (1 s) or keepalive."""
        web, rw = self.start(timeouts={"keepalive": "1s", "client_header": "1s"})
        with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
            idle = self.client()
            s = idle.get(1)
            self.assertTrue(s is not None and s.status == 200, "%r" % s)
            idle_from = time.monotonic()
            preface_only = self.client()
            bare = self.client(preface=False)
            bare.send(PREFACE)
            partial = self.client(preface=False)
            partial.send(PREFACE[:16])
            start = time.monotonic()
            g = idle.read_goaway(5)
            goaway_after = time.monotonic() - idle_from
            idle_closed = idle.wait_closed(3)
            closed, goaways = {}, {}
            for name, c in (("preface and SETTINGS", preface_only), ("preface only", bare),
                            ("partial preface", partial)):
                closed[name] = c.wait_closed(max(0.1, start + 5 - time.monotonic()))
                closed[name] = round(time.monotonic() - start, 2) if closed[name] else None
                goaways[name] = c.goaway
        self.report("idle connections", goaway=g, goaway_after_s=goaway_after,
                    closed_after_s=closed, their_goaways=goaways, rss_peak_mib=rss.peak_kb / 1024.0,
                    probes=probe.summary())
        self.assertProbesServed(probe)
        self.assertIsNotNone(g, "no GOAWAY on a connection idle for 5 s; keepalive 1 s")
        self.assertEqual(g.name, "NO_ERROR")
        self.assertEqual(g.last, 1, "GOAWAY's last stream id: %r" % g)
        self.assertGreater(goaway_after, 0.7, "GOAWAY before keepalive passed")
        self.assertTrue(idle_closed, "not closed after its GOAWAY")
        for name, t in closed.items():
            self.assertIsNotNone(t, "%s: still open 5 s later" % name)
            self.assertGreater(t, 0.7, "%s: closed before the timeout" % name)
        self.assertRssBelow(rss.peak_kb / 1024.0, 64, "RSS peak")

    # -----------------------------------------------------------------------------------------
    # 5. Many connections

    def test_many_slow_h2_readers_keep_rss_bounded(self):
        """200 h2c connections, 10 streams each, each stream a 1 MB download, read slowly
        (4 KiB per connection every 50 ms, windows given back for what was read): ringway's
        memory stays bounded (flow control and the per-stream cap throttle the backends), the
        probe is served, and no reader is cut. The ring is sized for 200 connections by the
        README's bound (18 buffers per connection: 4,096 buffers of 16 KiB, 64 MiB). The RSS
        bound follows the design: the ring (64 MiB), each connection's response budget once
        the ring is half lent (2 queue caps, 256 KiB: 50 MiB for 200), and the state of 2,000
        streams with their backend connections and their reads in flight; 192 MiB in all."""
        self.slow_readers(200, 10, 1000000, buffers={"count": 4096}, rss_limit=192)

    def slow_readers(self, conns_n, streams_n, size, buffers=None, rss_limit=64, read_s=5):
        web, rw = self.start(timeouts={"client_send": "30s", "upstream_response": "30s"},
                             buffers=buffers, log={"level": "debug"})
        baseline = rss_mib(rw)
        blk = block(req("/bytes?n=%d" % size))
        hello = PREFACE + settings_frame() + SETTINGS_ACK + b"".join(
            frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1 + 2 * i, blk)
            for i in range(streams_n))
        socks = []
        state = {}
        got = [0]
        goaways = [0]
        resets = [0]

        def read_round():
            for s in socks:
                st = state[s]
                if st["dead"]:
                    continue
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    st["dead"] = True
                    continue
                buf = st["buf"]
                buf += data
                pos = 0
                while len(buf) - pos >= 9:
                    n = int.from_bytes(buf[pos:pos + 3], "big")
                    if len(buf) - pos < 9 + n:
                        break
                    t, flags = buf[pos + 3], buf[pos + 4]
                    sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
                    pos += 9 + n
                    if t == DATA and n:
                        got[0] += n
                        st["conn"] += n
                        if not flags & FLAG_END_STREAM:
                            st["owed"][sid] = st["owed"].get(sid, 0) + n
                    elif t == GOAWAY:
                        goaways[0] += 1
                    elif t == RST_STREAM:
                        resets[0] += 1
                del buf[:pos]
                out = b""
                if st["conn"] >= 16384:
                    out += window_update(0, st["conn"])
                    st["conn"] = 0
                for sid, n in list(st["owed"].items()):
                    if n >= 16384:
                        out += window_update(sid, n)
                        st["owed"][sid] = 0
                if out:
                    try:
                        s.sendall(out)
                    except OSError:
                        pass

        try:
            with harness.RssSampler(rw) as rss, Probe(self.port) as probe:
                start = time.monotonic()
                for i in range(conns_n):
                    s = socket.create_connection((HOST, self.port), timeout=5)
                    s.sendall(hello)
                    s.setblocking(False)
                    socks.append(s)
                    state[s] = {"buf": bytearray(), "conn": 0, "owed": {}, "dead": False}
                    if i % 20 == 19:
                        read_round()
                opened = time.monotonic() - start
                while time.monotonic() - start < opened + read_s:
                    round_start = time.monotonic()
                    read_round()
                    time.sleep(max(0.0, 0.05 - (time.monotonic() - round_start)))
                cut = sum(1 for s in socks if state[s]["dead"])
                during = rss_mib(rw)
        finally:
            for s in socks:
                harness_rst_close(s)
        dry = rw.log_lines("provided buffers exhausted")
        self.report("%d connections x %d streams of 1 MB, slow readers" % (conns_n, streams_n),
                    opened_in_s=opened, read_mib=got[0] / MiB, goaways=goaways[0],
                    ring_ran_dry=len(dry),
                    rst_streams=resets[0], readers_cut=cut, rss_baseline_mib=baseline,
                    rss_peak_mib=rss.peak_kb / 1024.0, rss_end_mib=during,
                    probes=probe.summary())
        self.assertProbesServed(probe)
        self.assertEqual(cut, 0, "slow readers that keep reading were cut")
        self.assertEqual(goaways[0], 0, "slow readers got GOAWAY")
        self.assertGreater(got[0], conns_n * 16384, "the readers got almost nothing")
        self.assertRssBelow(rss.peak_kb / 1024.0, rss_limit, "RSS peak")
        self.assertServed("after the slow readers left")


if __name__ == "__main__":
    harness.main()
