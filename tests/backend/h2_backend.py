#!/usr/bin/env python3
"""An HTTP/2 test backend for ringway's HTTP/2 upstreams (`protocol: h2c` and `protocol: h2`).

    /usr/bin/python3 tests/backend/h2_backend.py --listen 127.0.0.1:50080 --name grpc1
    /usr/bin/python3 tests/backend/h2_backend.py --listen 127.0.0.1:50443 --tls cert.pem key.pem

Built on python3-h2 (Debian's, so run it with /usr/bin/python3) and raw sockets: one thread per
connection, each a small event loop (non-blocking socket, select) that runs every stream's
handler as a generator, so one connection carries any number of concurrent streams, each with
its own timers, and every byte sent respects the peer's flow-control windows. Received DATA is
given back to the windows as it is consumed, so 100 MB bodies pass both ways. Every response
carries `x-backend: <name>`.

Cleartext connections speak HTTP/2 with prior knowledge (h2c). With --tls the listener speaks
TLS and offers ALPN "h2" (--alpn changes the list offered). A connection that does not start
with the HTTP/2 preface is read as HTTP/1.1: the control paths (/stats, /reset-stats, /set,
/health) are answered, every other request gets 505 with a body that says this backend speaks
HTTP/2 only (counted in `http1_requests`), so a proxy that falls back to HTTP/1.1 is caught.

Endpoints (any path not listed answers 200 "hello from <name>"):

    /echo                  JSON: backend, connection, stream, method, path (:path, query
                           included), scheme, authority, headers [[name, value], ...] in
                           order (pseudo-headers left out), body_length, body_sha256,
                           content_length (the request's field or null), trailers;
                           ?ms=N waits N ms after the body before answering
    /bytes?n=N             N bytes of the deterministic pattern (backend.pattern), with
                           content-length
    /stream?n=N&size=S&ms=D  N pattern bytes in DATA pieces of S bytes, no content-length,
                           D ms between pieces
    /trailers?n=N          N pattern bytes, then trailers: x-checksum (sha256 of the body),
                           x-length, x-backend-trailer, x-request-trailers (how many trailer
                           fields the request had)
    /slow?ms=N             waits N ms, then answers "slow N from <name>"
    /reset?code=C&before=1&after=B&n=N&pause_ms=P
                           RST_STREAM with error code C (default 2, INTERNAL_ERROR):
                           before=1: before any HEADERS; else after the response head
                           (content-length: N when n is given) and B bytes of DATA (default
                           65536), then P ms (default 300) so they reach the client first
    /drop?after=B          the response head and B bytes (default 0), then the TCP connection
                           is closed with no GOAWAY (a backend that dies)
    /goaway?last=K&code=C  answers 200, then sends GOAWAY with last-stream-id K (default: the
                           highest stream id received so far on the connection) and error
                           code C (default 0); streams above K are never processed; the
                           connection is closed once the streams up to K are done
    /status/NNN            that status with a short body (none for 204 and 304)
    /sink                  reads a body of any size, answers {"length", "sha256"};
                           ?hold_ms=N keeps the window shut (no WINDOW_UPDATE) for N ms
    /stats                 JSON: accepted (TCP accepts), connections (HTTP/2 connections),
                           http1_requests, requests (counted request streams), streams
                           (every stream opened, refused and ignored ones too), paths
                           (requests per path, query left out), targets (the last :paths),
                           log (the last requests as [connection, stream, method, :path]),
                           per_connection {id: requests}, max_concurrent (most streams open
                           at once on one connection, refused ones left out),
                           resets_received {code name: count}, reset_log [[connection,
                           stream, :path, code name, response began]], refused (streams
                           over --max-streams, refused with REFUSED_STREAM),
                           refused_after_settings (those of them that came after the peer
                           had acknowledged the SETTINGS: it knew the limit), ignored
                           (streams above a GOAWAY this backend sent, never processed),
                           goaways_sent, goaways_received [[connection, last, code]],
                           protocol_errors [text], alpn {protocol: count}, drops,
                           request_trailers (requests that had trailers)
    /reset-stats           zeroes the counters
    /set?goaway_after=N    arms a GOAWAY: the connection that next receives its Nth request
                           (counted from now) sends GOAWAY with last-stream-id = that
                           stream's id at once, goes on serving the streams up to it and never
                           processes the ones above (counted in `ignored`, not in
                           `requests`), then closes. One shot. /set answers the settings.
    /health                200 "ok" (not counted)

Handlers wait for the whole request body before answering, except with ?early=1.
/stats, /reset-stats, /set and /health are not counted in `requests` or `paths`.

Options: --listen ADDR (repeatable; port 0 picks one), --name, --tls CERT KEY, --alpn LIST
(comma-separated, default "h2"), --max-streams N (SETTINGS_MAX_CONCURRENT_STREAMS, default
100; streams over it are refused with RST_STREAM REFUSED_STREAM and counted), --window N
(SETTINGS_INITIAL_WINDOW_SIZE, at least 65535, default 65535), --conn-window N (the connection
window, default 1 MiB), --max-frame N (SETTINGS_MAX_FRAME_SIZE, default 16384),
--goaway-after N (armed at start, as /set).

On start-up it prints "listening on 127.0.0.1:PORT" per listener and flushes stdout.
"""

import argparse
import collections
import hashlib
import json
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backend import pattern_pieces  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_GOAWAY = 0x7
OUTBUF_HIGH = 4 << 20  # stop producing DATA while this much waits for the socket
CONTROL_PATHS = frozenset(("/stats", "/reset-stats", "/set", "/health"))
ERROR_NAMES = {int(c): c.name for c in h2.errors.ErrorCodes}
SC = h2.settings.SettingCodes


def error_name(code):
    return ERROR_NAMES.get(int(code), str(int(code)))


def log(msg):
    sys.stderr.write("%s h2_backend: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def pattern_sha(n):
    h = hashlib.sha256()
    for p in pattern_pieces(n):
        h.update(p)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Counters


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.accepted = 0
        self.connections = 0
        self.http1_requests = 0
        self.requests = 0
        self.streams = 0
        self.paths = collections.Counter()
        self.targets = collections.deque(maxlen=2000)
        self.log = collections.deque(maxlen=2000)
        self.per_connection = collections.Counter()
        self.max_concurrent = 0
        self.resets_received = collections.Counter()
        self.reset_log = collections.deque(maxlen=1000)
        self.refused = 0
        self.refused_after_settings = 0
        self.ignored = 0
        self.goaways_sent = 0
        self.goaways_received = []
        self.protocol_errors = []
        self.alpn = collections.Counter()
        self.drops = 0
        self.request_trailers = 0

    def snapshot(self):
        with self.lock:
            return {
                "accepted": self.accepted, "connections": self.connections,
                "http1_requests": self.http1_requests, "requests": self.requests,
                "streams": self.streams, "paths": dict(self.paths),
                "targets": list(self.targets), "log": list(self.log),
                "per_connection": {str(k): v for k, v in self.per_connection.items()},
                "max_concurrent": self.max_concurrent,
                "resets_received": dict(self.resets_received),
                "reset_log": list(self.reset_log), "refused": self.refused,
                "refused_after_settings": self.refused_after_settings,
                "ignored": self.ignored, "goaways_sent": self.goaways_sent,
                "goaways_received": list(self.goaways_received),
                "protocol_errors": list(self.protocol_errors), "alpn": dict(self.alpn),
                "drops": self.drops, "request_trailers": self.request_trailers,
            }


# ---------------------------------------------------------------------------------------------
# Streams


class Stream:
    def __init__(self, sid, headers):
        self.sid = sid
        self.pseudo = {}
        self.headers = []
        for n, v in headers:
            if n.startswith(":"):
                self.pseudo[n] = v
            else:
                self.headers.append([n, v])
        self.method = self.pseudo.get(":method", "")
        self.target = self.pseudo.get(":path", "")
        self.path, _, query = self.target.partition("?")
        self.params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        self.body_length = 0
        self.sha = hashlib.sha256()
        self.trailers = []
        self.remote_ended = False
        self.local_ended = False
        self.reset = False          # reset by either side
        self.responded = False      # response HEADERS sent
        self.ignored = False
        self.gen = None
        self.wait_until = 0.0
        self.wait_body = False
        self.src = None             # iterator of DATA pieces still to send
        self.cur = memoryview(b"")
        self.data_end = False
        self.hold_until = 0.0
        self.unacked = 0

    @property
    def done(self):
        return self.reset or (self.local_ended and self.remote_ended)

    def header(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def num(self, key, default=0):
        try:
            return max(0, int(self.params.get(key, default)))
        except ValueError:
            return default


# Handlers are generators of commands:
#   ("headers", status, fields, end_stream)   fields without :status and x-backend
#   ("data", iterable of bytes-like, end_stream)
#   ("trailers", fields)                      with END_STREAM
#   ("sleep", seconds)
#   ("body",)                                 until the request's END_STREAM
#   ("reset", error code)
#   ("goaway", last stream id or None, error code)
#   ("drop",)                                 close the TCP connection now


def respond(status, body, ctype="text/plain"):
    fields = [("content-type", ctype), ("content-length", str(len(body)))]
    if status in (204, 304):
        yield ("headers", status, [("content-type", ctype)], True)
        return
    yield ("headers", status, fields, not body)
    if body:
        yield ("data", [body], True)


def h_echo(conn, st):
    info = {"backend": conn.server.name, "connection": conn.cid, "stream": st.sid,
            "method": st.method, "path": st.target, "scheme": st.pseudo.get(":scheme"),
            "authority": st.pseudo.get(":authority"), "headers": st.headers,
            "body_length": st.body_length, "body_sha256": st.sha.hexdigest(),
            "content_length": st.header("content-length"), "trailers": st.trailers}
    if st.num("ms"):
        yield ("sleep", st.num("ms") / 1000.0)
    yield from respond(200, (json.dumps(info) + "\n").encode(), "application/json")


def h_bytes(conn, st):
    n = st.num("n")
    yield ("headers", 200, [("content-type", "application/octet-stream"),
                            ("content-length", str(n))], n == 0 or st.method == "HEAD")
    if n and st.method != "HEAD":
        yield ("data", pattern_pieces(n, piece=1 << 20), True)


def h_stream(conn, st):
    n = st.num("n", 100000)
    size = max(1, st.num("size", 16384))
    delay = st.num("ms") / 1000.0
    yield ("headers", 200, [("content-type", "application/octet-stream")], False)
    for piece in pattern_pieces(n, piece=size):
        yield ("data", [piece], False)
        if delay:
            yield ("sleep", delay)
    yield ("data", [], True)


def h_trailers(conn, st):
    n = st.num("n", 1000)
    yield ("headers", 200, [("content-type", "application/octet-stream")], False)
    if n:
        yield ("data", pattern_pieces(n, piece=1 << 20), False)
    yield ("trailers", [("x-checksum", pattern_sha(n)), ("x-length", str(n)),
                        ("x-backend-trailer", conn.server.name),
                        ("x-request-trailers", str(len(st.trailers)))])


def h_slow(conn, st):
    ms = st.num("ms")
    yield ("sleep", ms / 1000.0)
    yield from respond(200, b"slow %d from %s\n" % (ms, conn.server.name.encode()))


def h_reset(conn, st):
    code = st.num("code", 2)
    if st.num("ms"):
        yield ("sleep", st.num("ms") / 1000.0)
    if st.params.get("before") == "1":
        yield ("reset", code)
        return
    fields = [("content-type", "application/octet-stream")]
    if "n" in st.params:
        fields.append(("content-length", str(st.num("n"))))
    yield ("headers", 200, fields, False)
    after = st.num("after", 65536)
    if after:
        yield ("data", pattern_pieces(after, piece=1 << 20), False)
    yield ("sleep", st.num("pause_ms", 300) / 1000.0)
    yield ("reset", code)


def h_interim(conn, st):
    """?n=N interim 103 heads, then the response."""
    for i in range(st.num("n", 1)):
        yield ("headers", 103, [("link", "</style%d.css>; rel=preload" % i)], False)
    yield from respond(200, b"after %d interim heads\n" % st.num("n", 1))


def h_drop(conn, st):
    after = st.num("after")
    yield ("headers", 200, [("content-type", "application/octet-stream")], False)
    if after:
        yield ("data", pattern_pieces(after, piece=1 << 20), False)
    yield ("sleep", st.num("pause_ms", 300) / 1000.0)
    yield ("drop",)


def h_goaway(conn, st):
    last = int(st.params["last"]) if "last" in st.params else None
    yield from respond(200, b"goaway from %s\n" % conn.server.name.encode())
    yield ("goaway", last, st.num("code"))


def h_status(conn, st):
    try:
        code = int(st.path[len("/status/"):])
    except ValueError:
        code = 0
    if not 200 <= code <= 599:
        yield from respond(400, b"bad status code\n")
        return
    yield from respond(code, b"status %d from %s\n" % (code, conn.server.name.encode()))


def h_sink(conn, st):
    body = json.dumps({"length": st.body_length, "sha256": st.sha.hexdigest()}) + "\n"
    yield from respond(200, body.encode(), "application/json")


def h_stats(conn, st):
    yield from respond(200, (json.dumps(conn.server.stats.snapshot()) + "\n").encode(),
                       "application/json")


def h_reset_stats(conn, st):
    conn.server.reset_stats()
    yield from respond(200, b"reset\n")


def h_set(conn, st):
    try:
        conn.server.configure(st.params)
    except ValueError as e:
        yield from respond(400, b"%s\n" % str(e).encode())
        return
    yield from respond(200, (json.dumps(conn.server.settings()) + "\n").encode(),
                       "application/json")


def h_health(conn, st):
    yield from respond(200, b"ok\n")


def h_default(conn, st):
    yield from respond(200, b"hello from %s\n" % conn.server.name.encode())


HANDLERS = {
    "/echo": h_echo, "/bytes": h_bytes, "/stream": h_stream, "/trailers": h_trailers,
    "/slow": h_slow, "/reset": h_reset, "/drop": h_drop, "/interim": h_interim, "/goaway": h_goaway,
    "/sink": h_sink, "/stats": h_stats, "/reset-stats": h_reset_stats, "/set": h_set,
    "/health": h_health,
}


def handler_for(st, conn):
    fn = HANDLERS.get(st.path)
    if fn is None:
        fn = h_status if st.path.startswith("/status/") else h_default

    def run():
        if st.params.get("early") != "1":
            yield ("body",)
        yield from fn(conn, st)
    return run()


# ---------------------------------------------------------------------------------------------
# One HTTP/2 connection


class Closed(Exception):
    pass


class H2Conn:
    def __init__(self, server, sock, cid, tls):
        self.server = server
        self.sock = sock
        self.cid = cid
        self.tls = tls
        self.h2 = None
        self.streams = {}
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.highest = 0             # the highest stream id received
        self.goaway_last = None      # last-stream-id of the GOAWAY this side sent
        self.peer_goaway = False
        self.eof = False
        self.dropped = False
        self.arm_gen = -1            # the /set?goaway_after generation counted against
        self.arm_count = 0
        self.settings_acked = False  # the peer acknowledged this side's SETTINGS

    # -- setup ---------------------------------------------------------------------------------

    def start(self, first):
        srv = self.server
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8",
                                        validate_inbound_headers=True)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.local_settings = h2.settings.Settings(client=False, initial_values={
            SC.MAX_CONCURRENT_STREAMS: srv.max_streams,
            SC.INITIAL_WINDOW_SIZE: srv.window,
            SC.MAX_FRAME_SIZE: srv.max_frame,
            SC.MAX_HEADER_LIST_SIZE: 1 << 20,
        })
        self.h2.initiate_connection()
        # The limit is advertised; this side enforces it itself (REFUSED_STREAM, counted)
        # instead of h2's connection error.
        self.h2.local_settings._settings[SC.MAX_CONCURRENT_STREAMS] = \
            collections.deque([1 << 30])
        if srv.conn_window > 65535:
            self.h2.increment_flow_control_window(srv.conn_window - 65535)
        self.outbuf += self.h2.data_to_send()
        self.h2.receive_data(PREFACE)
        self.feed(first[len(PREFACE):])

    # -- input ---------------------------------------------------------------------------------

    def feed(self, data):
        """Splits off GOAWAY frames (recorded; python3-h2 would refuse to send anything after
        one, while a graceful GOAWAY lets the open streams finish) and hands the rest to h2."""
        self.inbuf += data
        buf = self.inbuf
        n = len(buf)
        pos = start = 0
        while n - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            if n - pos < 9 + length:
                break
            if buf[pos + 3] == FRAME_GOAWAY:
                if pos > start:
                    self.receive(bytes(buf[start:pos]))
                last = int.from_bytes(buf[pos + 9:pos + 13], "big") & 0x7FFFFFFF
                code = int.from_bytes(buf[pos + 13:pos + 17], "big")
                with self.server.stats.lock:
                    self.server.stats.goaways_received.append([self.cid, last, error_name(code)])
                self.peer_goaway = True
                start = pos + 9 + length
            pos += 9 + length
        if pos > start:
            self.receive(bytes(buf[start:pos]))
        del buf[:pos]

    def receive(self, data):
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            text = "connection %d: %s: %s" % (self.cid, type(e).__name__, e)
            log("protocol error from the peer: " + text)
            with self.server.stats.lock:
                self.server.stats.protocol_errors.append(text)
            self.outbuf += self.h2.data_to_send()  # h2's GOAWAY
            raise Closed()
        for ev in events:
            self.on_event(ev)

    def on_event(self, ev):
        stats = self.server.stats
        if isinstance(ev, h2.events.RequestReceived):
            self.on_request(ev)
            return
        sid = getattr(ev, "stream_id", None)
        st = self.streams.get(sid) if sid else None
        if isinstance(ev, h2.events.DataReceived):
            if st is not None and not st.ignored:
                st.body_length += len(ev.data)
                st.sha.update(ev.data)
                if st.hold_until > time.monotonic():
                    st.unacked += ev.flow_controlled_length
                    return
            self.ack(ev.flow_controlled_length, sid)
        elif isinstance(ev, h2.events.TrailersReceived):
            if st is not None:
                st.trailers = [[n, v] for n, v in ev.headers]
                if not st.ignored:
                    with stats.lock:
                        stats.request_trailers += 1
        elif isinstance(ev, h2.events.SettingsAcknowledged):
            self.settings_acked = True
        elif isinstance(ev, h2.events.StreamEnded):
            if st is not None:
                st.remote_ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = True
                self.close_gen(st)
                with stats.lock:
                    stats.resets_received[error_name(ev.error_code)] += 1
                    stats.reset_log.append([self.cid, sid, st.target, error_name(ev.error_code),
                                            st.responded])
            else:
                with stats.lock:
                    stats.resets_received[error_name(ev.error_code)] += 1
                    stats.reset_log.append([self.cid, sid, None, error_name(ev.error_code),
                                            None])

    def ack(self, n, sid):
        if n <= 0:
            return
        try:
            self.h2.acknowledge_received_data(n, sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            pass

    def on_request(self, ev):
        srv = self.server
        stats = srv.stats
        sid = ev.stream_id
        self.highest = max(self.highest, sid)
        st = Stream(sid, ev.headers)
        if ev.stream_ended is not None:
            st.remote_ended = True
        self.streams[sid] = st
        open_now = sum(1 for s in self.streams.values() if not s.done)
        with stats.lock:
            stats.streams += 1
        if self.goaway_last is not None and sid > self.goaway_last:
            st.ignored = True  # never processed: the peer retries it elsewhere
            with stats.lock:
                stats.ignored += 1
            return
        if open_now > srv.max_streams:
            with stats.lock:
                stats.refused += 1
                if self.settings_acked:
                    stats.refused_after_settings += 1
            self.reset_stream(st, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        with stats.lock:
            stats.max_concurrent = max(stats.max_concurrent, open_now)
        fire = False
        if st.path not in CONTROL_PATHS:
            with stats.lock:
                stats.requests += 1
                stats.paths[st.path] += 1
                stats.targets.append(st.target)
                stats.log.append([self.cid, sid, st.method, st.target])
                stats.per_connection[self.cid] += 1
                if srv.goaway_after:
                    if self.arm_gen != srv.arm_gen:
                        self.arm_gen = srv.arm_gen
                        self.arm_count = 0
                    self.arm_count += 1
                    if self.arm_count >= srv.goaway_after:
                        srv.goaway_after = 0  # one shot
                        fire = True
        if "hold_ms" in st.params:
            st.hold_until = time.monotonic() + st.num("hold_ms") / 1000.0
        st.gen = handler_for(st, self)
        if fire:
            self.send_goaway(sid, 0)

    # -- output --------------------------------------------------------------------------------

    def send_goaway(self, last, code):
        if last is None:
            last = self.highest
        self.outbuf += self.h2.data_to_send()
        payload = (last & 0x7FFFFFFF).to_bytes(4, "big") + int(code).to_bytes(4, "big")
        self.outbuf += len(payload).to_bytes(3, "big") + bytes([FRAME_GOAWAY, 0]) + \
            (0).to_bytes(4, "big") + payload
        self.goaway_last = last if self.goaway_last is None else min(self.goaway_last, last)
        with self.server.stats.lock:
            self.server.stats.goaways_sent += 1

    def reset_stream(self, st, code):
        try:
            self.h2.reset_stream(st.sid, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass
        st.reset = True
        self.close_gen(st)

    def close_gen(self, st):
        if st.gen is not None:
            st.gen.close()
            st.gen = None
        st.src = None

    def push_data(self, st):
        """Sends what the windows allow of the stream's pending DATA; True when all went."""
        h = self.h2
        while True:
            if not len(st.cur):
                nxt = next(st.src, None)
                if nxt is None:
                    st.src = None
                    if st.data_end:
                        h.end_stream(st.sid)
                        st.local_ended = True
                    return True
                st.cur = memoryview(nxt)
                continue
            if len(self.outbuf) + len(h._data_to_send) > OUTBUF_HIGH:
                return False
            win = min(h.local_flow_control_window(st.sid), h.max_outbound_frame_size)
            if win <= 0:
                return False
            piece = st.cur[:win]
            st.cur = st.cur[len(piece):]
            h.send_data(st.sid, piece.tobytes())
            if len(h._data_to_send) > (1 << 20):
                self.outbuf += h.data_to_send()

    def execute(self, st, cmd, now):
        op = cmd[0]
        h = self.h2
        head = st.method == "HEAD"
        if head and op in ("data", "trailers"):
            return  # a HEAD response has no body (the head already ended the stream)
        if op == "headers":
            _, status, fields, end = cmd
            end = end or head
            h.send_headers(st.sid, [(":status", str(status))] + list(fields) +
                           [("x-backend", self.server.name)], end_stream=end)
            st.responded = True
            if end:
                st.local_ended = True
        elif op == "data":
            _, pieces, end = cmd
            st.src = iter(pieces)
            st.cur = memoryview(b"")
            st.data_end = end
        elif op == "trailers":
            h.send_headers(st.sid, list(cmd[1]), end_stream=True)
            st.local_ended = True
        elif op == "sleep":
            st.wait_until = now + cmd[1]
        elif op == "body":
            st.wait_body = True
        elif op == "reset":
            self.reset_stream(st, cmd[1])
        elif op == "goaway":
            self.send_goaway(cmd[1], cmd[2])
        elif op == "drop":
            with self.server.stats.lock:
                self.server.stats.drops += 1
            self.dropped = True
        else:
            raise ValueError("unknown command %r" % (cmd,))

    def advance(self, st, now):
        while not self.dropped:
            if st.reset or (st.gen is None and st.src is None):
                return
            if st.src is not None:
                if not self.push_data(st):
                    return
                continue
            if st.wait_until:
                if now < st.wait_until:
                    return
                st.wait_until = 0.0
            if st.wait_body:
                if not st.remote_ended:
                    return
                st.wait_body = False
            try:
                cmd = next(st.gen)
            except StopIteration:
                st.gen = None
                return
            try:
                self.execute(st, cmd, now)
            except h2.exceptions.StreamClosedError:
                st.reset = True
                self.close_gen(st)
                return
            except h2.exceptions.ProtocolError as e:
                log("connection %d stream %d: %s: %s" % (self.cid, st.sid, type(e).__name__, e))
                self.reset_stream(st, h2.errors.ErrorCodes.INTERNAL_ERROR)
                return

    def step(self, now):
        for st in list(self.streams.values()):
            if st.hold_until and now >= st.hold_until:
                st.hold_until = 0.0
                if st.unacked:
                    self.ack(st.unacked, st.sid)
                    st.unacked = 0
            if not st.ignored:
                self.advance(st, now)
            if self.dropped:
                return
        for sid in [sid for sid, st in self.streams.items() if st.done and st.gen is None]:
            del self.streams[sid]

    def next_timeout(self, now):
        t = 1.0
        for st in self.streams.values():
            for when in (st.wait_until, st.hold_until):
                if when:
                    t = min(t, max(0.0, when - now))
        return t

    def finished(self):
        if self.dropped:
            return True
        if self.goaway_last is None:
            return False
        return all(st.done or st.ignored for st in self.streams.values()) and not self.outbuf

    # -- socket --------------------------------------------------------------------------------

    def write_some(self):
        while self.outbuf:
            try:
                n = self.sock.send(self.outbuf[:1 << 18])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            if n <= 0:
                return
            del self.outbuf[:n]

    def read_some(self):
        try:
            data = self.sock.recv(1 << 18)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.eof = True
            return
        self.feed(data)

    def run(self, first):
        self.sock.setblocking(False)
        try:
            self.start(first)
            while True:
                now = time.monotonic()
                self.step(now)
                self.outbuf += self.h2.data_to_send()
                if self.dropped:
                    break
                if self.outbuf:
                    self.write_some()
                if self.finished() or self.eof:
                    break
                if self.tls and self.sock.pending():
                    self.read_some()
                    continue
                wl = [self.sock] if self.outbuf else []
                r, w, _ = select.select([self.sock], wl, [], self.next_timeout(now))
                if w:
                    self.write_some()
                if r:
                    self.read_some()
        except Closed:
            pass
        finally:
            for st in self.streams.values():
                self.close_gen(st)
        if self.dropped:
            # What was queued before the drop goes out (best effort), then the connection
            # just ends, as when a backend process dies.
            deadline = time.monotonic() + 1.0
            try:
                while self.outbuf and time.monotonic() < deadline:
                    select.select([], [self.sock], [], 0.1)
                    self.write_some()
            except OSError:
                pass
            return
        # Graceful end: what is queued goes out, then a FIN, then the peer's FIN (or a
        # second) before the close, so no reset destroys frames the peer has not read.
        deadline = time.monotonic() + 2.0
        try:
            while self.outbuf and time.monotonic() < deadline:
                select.select([], [self.sock], [], 0.1)
                self.write_some()
            self.sock.shutdown(socket.SHUT_WR)
            end = time.monotonic() + 1.0
            while not self.eof and time.monotonic() < end:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if r:
                    try:
                        if not self.sock.recv(1 << 16):
                            break
                    except (BlockingIOError, ssl.SSLWantReadError):
                        pass
                    except OSError:
                        break
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 on a connection without the preface: control paths only


def serve_http1(server, sock, first):
    sock.settimeout(30)
    buf = bytearray(first)
    while True:
        while b"\r\n\r\n" not in buf:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            if len(buf) > 1 << 20:
                return
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return
        method, target, _ = parts
        length = 0
        close = False
        for line in lines[1:]:
            n, _, v = line.partition(":")
            n = n.strip().lower()
            if n == "content-length":
                length = int(v.strip() or 0)
            elif n == "transfer-encoding":
                close = True
            elif n == "connection" and "close" in v.lower():
                close = True
        while len(buf) < length:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        del buf[:length]
        path, _, query = target.partition("?")
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        status, ctype = 200, "text/plain"
        if path == "/stats":
            body = (json.dumps(server.stats.snapshot()) + "\n").encode()
            ctype = "application/json"
        elif path == "/reset-stats":
            server.reset_stats()
            body = b"reset\n"
        elif path == "/set":
            try:
                server.configure(params)
                body = (json.dumps(server.settings()) + "\n").encode()
                ctype = "application/json"
            except ValueError as e:
                status, body = 400, b"%s\n" % str(e).encode()
        elif path == "/health":
            body = b"ok\n"
        else:
            with server.stats.lock:
                server.stats.http1_requests += 1
                server.stats.targets.append("HTTP/1.1 %s %s" % (method, target))
            status = 505
            body = (b"h2_backend %s speaks HTTP/2 only (prior knowledge or ALPN h2); this was "
                    b"an HTTP/1.1 request for %s\n" % (server.name.encode(),
                                                       target.encode("latin-1")))
        reason = {200: "OK", 400: "Bad Request", 505: "HTTP Version Not Supported"}[status]
        out = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Backend: %s\r\n"
               "%s\r\n" % (status, reason, ctype, len(body), server.name,
                           "Connection: close\r\n" if close else "")).encode("latin-1")
        try:
            sock.sendall(out + (body if method != "HEAD" else b""))
        except OSError:
            return
        if close:
            return


# ---------------------------------------------------------------------------------------------
# Server


class Server:
    def __init__(self, name, tls_ctx=None, max_streams=100, window=65535, conn_window=1 << 20,
                 max_frame=16384, goaway_after=0):
        self.name = name
        self.tls_ctx = tls_ctx
        self.max_streams = max_streams
        self.window = window
        self.conn_window = conn_window
        self.max_frame = max_frame
        self.goaway_after = goaway_after
        self.arm_gen = 0
        self.stats = Stats()
        self.listeners = []
        self.next_cid = 0
        self.cid_lock = threading.Lock()

    def reset_stats(self):
        with self.stats.lock:
            self.stats.reset()

    def configure(self, params):
        unknown = set(params) - {"goaway_after"}
        if unknown:
            raise ValueError("unknown setting(s) %s" % ", ".join(sorted(unknown)))
        if "goaway_after" in params:
            v = params["goaway_after"]
            if not v.isdigit():
                raise ValueError("goaway_after must be a number")
            with self.stats.lock:
                self.goaway_after = int(v)
                self.arm_gen += 1

    def settings(self):
        return {"goaway_after": self.goaway_after, "max_streams": self.max_streams,
                "window": self.window, "conn_window": self.conn_window,
                "max_frame": self.max_frame}

    def listen(self, address):
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(1024)
        self.listeners.append(sock)
        real = sock.getsockname()
        shown = "[%s]" % real[0] if family == socket.AF_INET6 else real[0]
        return "%s:%d" % (shown, real[1])

    def accept_loop(self, sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with self.stats.lock:
                self.stats.accepted += 1
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, sock):
        try:
            self._serve(sock)
        except Exception:  # a bug here must show, not hang a test
            log("connection failed:\n" + traceback.format_exc())
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _serve(self, sock):
        tls = False
        if self.tls_ctx is not None:
            sock.settimeout(10)
            try:
                sock = self.tls_ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log("TLS handshake failed: %s" % e)
                return
            tls = True
            with self.stats.lock:
                self.stats.alpn[sock.selected_alpn_protocol() or "none"] += 1
        # The preface, or the first bytes of something else (an HTTP/1.1 request, a TCP
        # health check that connects and leaves).
        sock.settimeout(30)
        first = b""
        try:
            while len(first) < len(PREFACE) and PREFACE.startswith(first):
                data = sock.recv(65536)
                if not data:
                    return
                first += data
        except (OSError, ssl.SSLError):
            return
        if not first.startswith(PREFACE):
            serve_http1(self, sock, first)
            return
        with self.cid_lock:
            self.next_cid += 1
            cid = self.next_cid
        with self.stats.lock:
            self.stats.connections += 1
        H2Conn(self, sock, cid, tls).run(first)

    def start(self):
        for sock in self.listeners:
            threading.Thread(target=self.accept_loop, args=(sock,), daemon=True).start()


def main(argv=None):
    ap = argparse.ArgumentParser(description="HTTP/2 test backend for ringway")
    ap.add_argument("--listen", action="append", default=[],
                    help="address to listen on, e.g. 127.0.0.1:50080 (port 0: any free port);"
                         " may be repeated")
    ap.add_argument("--name", default="h2backend", help="value of the x-backend field")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="speak TLS with this certificate chain and key (ALPN h2)")
    ap.add_argument("--alpn", default="h2",
                    help="comma-separated ALPN protocols offered with --tls (default h2)")
    ap.add_argument("--max-streams", type=int, default=100,
                    help="SETTINGS_MAX_CONCURRENT_STREAMS (default 100)")
    ap.add_argument("--window", type=int, default=65535,
                    help="SETTINGS_INITIAL_WINDOW_SIZE, 65535 to 2^31-1 (default 65535)")
    ap.add_argument("--conn-window", type=int, default=1 << 20,
                    help="the connection's receive window (default 1 MiB)")
    ap.add_argument("--max-frame", type=int, default=16384,
                    help="SETTINGS_MAX_FRAME_SIZE, 16384 to 2^24-1 (default 16384)")
    ap.add_argument("--goaway-after", type=int, default=0,
                    help="arm a GOAWAY at start, as /set?goaway_after=N")
    args = ap.parse_args(argv)
    if not args.listen:
        args.listen = ["127.0.0.1:50080"]
    if not 65535 <= args.window <= 2 ** 31 - 1:
        ap.error("--window must be 65535 to 2^31-1")
    if not 65535 <= args.conn_window <= 2 ** 31 - 1:
        ap.error("--conn-window must be 65535 to 2^31-1")
    if not 16384 <= args.max_frame <= 2 ** 24 - 1:
        ap.error("--max-frame must be 16384 to 2^24-1")
    if args.max_streams < 1:
        ap.error("--max-streams must be at least 1")
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        protos = [p for p in args.alpn.split(",") if p]
        if protos:
            ctx.set_alpn_protocols(protos)
    server = Server(args.name, tls_ctx=ctx, max_streams=args.max_streams, window=args.window,
                    conn_window=args.conn_window, max_frame=args.max_frame,
                    goaway_after=args.goaway_after)
    for address in args.listen:
        print("listening on %s" % server.listen(address), flush=True)
    server.start()

    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
