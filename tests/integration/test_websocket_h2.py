"""WebSocket over HTTP/2 (RFC 8441) through ringway, against tests/backend/ws_backend.py (an
RFC 6455 echo server on HTTP/1.1).

ringway announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1; an extended CONNECT (:method CONNECT,
:protocol websocket, :scheme, :path, :authority) is routed as a GET on :path and goes to the
backend as an HTTP/1.1 Upgrade with a Sec-WebSocket-Key of ringway's; the backend's 101
becomes :status 200 and DATA frames carry the WebSocket byte stream both ways.

Covered, with python3-h2 as the client (WebSocket frames built and parsed here, masked as a
client must):

  * the SETTINGS frame carries ENABLE_CONNECT_PROTOCOL = 1 (h2c and h2 by ALPN);
  * echo of text, binary (7-, 16- and 64-bit lengths), empty, fragmented messages and ping/pong
    over h2c and TLS; what the backend received (GET, Upgrade, Connection, a fresh 24-character
    key per tunnel, version 13, subprotocols, X-Forwarded-*, no pseudo-header leftovers); the
    same echo over an HTTP/1.1 Upgrade (regression);
  * 100 MB both ways through one tunnel with sha256 checks and bounded ringway memory;
  * flow control: a client that gives no window to a tunnel the backend floods stops the
    backend (ringway stops reading it) without memory growth, while other streams go on;
  * ends: the client's END_STREAM reaches the backend as EOF, the backend's close is
    END_STREAM, the client's RST_STREAM closes the backend connection;
  * refusals: plain CONNECT 405, :protocol other than websocket 501, a backend's 403 (and 426)
    passed on; malformed extended CONNECT is RST_STREAM PROTOCOL_ERROR and the connection goes
    on;
  * timeouts.tunnel ends an idle tunnel.

Run with /usr/bin/python3 (Debian's python3-h2); every wait has a deadline, everything is on
127.0.0.1.
"""

import base64
import collections
import hashlib
import json
import os
import re
import select
import socket
import struct
import sys
import time

import harness
import test_http2
import ws_backend  # tests/backend, on sys.path through harness

from test_http2 import H2Stream, H2Test, need_h2

HOST = harness.HOST
MiB = harness.MiB
WS_BACKEND_PY = os.path.join(harness.BACKEND_DIR, "ws_backend.py")

PROTOCOL_ERROR = 0x1
NO_ERROR = 0x0
CANCEL = 0x8
SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
OP_CONT = 0x0

BIG = 100 * MiB


def client_frame(opcode, payload, fin=True):
    """A masked WebSocket frame, as a client sends it."""
    return ws_backend.build_frame(opcode, payload, fin=fin, mask=os.urandom(4))


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


# ---------------------------------------------------------------------------------------------
# The WebSocket backend process


class WsBackend:
    """One ws_backend.py process on a port the OS picks; the same surface as harness.Backend
    for what ProxyTest uses (logs, stop) and what these tests need (stats)."""

    def __init__(self, name, workdir, timeout=15):
        self.name = name
        self.out_path = os.path.join(workdir, "ws-backend-%s.out" % name)
        self.err_path = os.path.join(workdir, "ws-backend-%s.err" % name)
        args = [sys.executable, WS_BACKEND_PY, "--name", name, "--listen", "%s:0" % HOST]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = harness.spawn(args, stdout=out, stderr=err)
        self.port = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            found = re.findall(r"listening on [0-9.]+:(\d+)", harness.read_file(self.out_path))
            if found:
                self.port = int(found[0])
                break
            time.sleep(0.01)
        if self.port is None:
            harness.kill_proc(self.proc)
            raise AssertionError("ws backend did not start:\n%s" % harness.tail(self.err_path))

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def get(self, target, timeout=10):
        return harness.request(self.port, "GET", target, timeout=timeout)

    def stats(self):
        r = self.get("/stats")
        assert r.status == 200, r
        return r.json()

    def conn_record(self, target):
        """The backend's record of the WebSocket connection for `target` (path and query)."""
        for rec in self.stats()["conns"]:
            if rec["target"] == target:
                return rec
        return None

    def wait_conn_closed(self, target, timeout=5):
        """The record once that connection is closed (None if it is still open then)."""
        def closed():
            rec = self.conn_record(target)
            return rec if rec is not None and not rec["open"] else None
        return harness.wait_for(closed, timeout, interval=0.05)

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        harness.kill_proc(self.proc)

    def logs(self):
        return "--- ws backend %s stderr ---\n%s" % (self.name, harness.tail(self.err_path, 3000))


# ---------------------------------------------------------------------------------------------
# WebSocket over one HTTP/2 stream (python3-h2, through test_http2.H2Client)


class WsH2:
    """A WebSocket on an extended CONNECT stream of an H2Client. Frames to send are queued and
    go out as the stream's flow-control window allows (pump() pushes them); what arrives is
    parsed into messages. keep=False keeps only a count, a byte count and a sha256 of the
    message payloads (for large transfers)."""

    def __init__(self, client, path="/ws", authority="localhost", scheme="http", headers=(),
                 protocol="websocket", raw_headers=None, keep=True, stalled=False):
        self.c = client
        if not hasattr(client, "websockets"):
            client.websockets = []
        client.websockets.append(self)
        self.sid = client.h2.get_next_available_stream_id()
        self.st = H2Stream(self.sid)
        client.streams[self.sid] = self.st
        if stalled:
            client.stalled.add(self.sid)
        if raw_headers is not None:
            head = list(raw_headers)
        else:
            head = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", scheme),
                    (":authority", authority), (":path", path),
                    ("sec-websocket-version", "13")] + list(headers)
        self.head = head
        self.out = collections.deque()
        self.end_after_out = False
        self.keep = keep
        self.messages = collections.deque()  # (opcode, payload)
        self.pongs = []
        self.close = None        # (code, reason) of the close frame received
        self.after_close = 0     # frames received after the close frame (must stay 0)
        self.masked_frames = 0   # masked frames from the server (must stay 0)
        self.rx_count = 0
        self.rx_bytes = 0
        self.rx_sha = hashlib.sha256()
        self.tx_bytes = 0        # payload bytes of data messages queued
        self._frag = None
        client.h2.send_headers(self.sid, head, end_stream=False)
        client.flush()

    # -- sending -----------------------------------------------------------------------------

    def send(self, opcode, payload, fin=True):
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            self.tx_bytes += len(payload)
        self.out.append(memoryview(client_frame(opcode, payload, fin=fin)))

    def send_raw(self, data):
        self.out.append(memoryview(data))

    def end_stream(self):
        """END_STREAM once the queued bytes are out."""
        self.end_after_out = True

    def reset(self, code=CANCEL):
        self.c.h2.reset_stream(self.sid, error_code=code)
        self.out.clear()
        self.c.flush()

    def queued(self):
        return sum(len(m) for m in self.out)

    def push(self, budget=256 * 1024):
        h2c = self.c.h2
        sent = 0
        try:
            while self.out and sent < budget and self.st.reset is None:
                win = min(h2c.local_flow_control_window(self.sid), h2c.max_outbound_frame_size,
                          budget - sent)
                if win <= 0:
                    break
                first = self.out[0]
                piece = first[:win]
                h2c.send_data(self.sid, piece.tobytes())
                sent += len(piece)
                if len(piece) == len(first):
                    self.out.popleft()
                else:
                    self.out[0] = first[len(piece):]
            if self.end_after_out and not self.out and self.st.reset is None:
                self.end_after_out = False
                h2c.end_stream(self.sid)
        except test_http2.h2.exceptions.StreamClosedError:
            self.out.clear()
        self.c.flush()

    # -- receiving ---------------------------------------------------------------------------

    def parse(self):
        buf = self.st.body
        pos = 0
        while True:
            r = ws_backend.parse_frame(buf, pos)
            if r is None:
                break
            fin, _rsv, op, masked, payload, pos = r
            if masked:
                self.masked_frames += 1
            if self.close is not None:
                self.after_close += 1
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close = (code, payload[2:])
            elif op == OP_PONG:
                self.pongs.append(payload)
            elif op == OP_PING:
                self.send(OP_PONG, payload)
            elif op == OP_CONT:
                self._frag[1].append(payload)
            else:
                self._frag = (op, [payload])
            if op in (OP_TEXT, OP_BINARY, OP_CONT) and fin:
                mop, parts = self._frag
                self._frag = None
                message = b"".join(parts)
                self.rx_count += 1
                self.rx_bytes += len(message)
                self.rx_sha.update(message)
                if self.keep:
                    self.messages.append((mop, message))
        if pos:
            del buf[:pos]

    def step(self):
        for ws in self.c.websockets:
            ws.push()
            ws.parse()

    def pump(self, cond, timeout=10, what="the condition"):
        def until():
            self.step()
            return cond()
        self.c.pump(until, timeout, what)

    def wait_open(self, timeout=10):
        """Waits for the response head (or the end of the stream); returns the :status."""
        self.pump(lambda: self.st.status is not None or self.st.finished, timeout,
                  "the response to the extended CONNECT on stream %d" % self.sid)
        return self.st.status

    def recv(self, timeout=10):
        self.pump(lambda: self.messages or self.st.finished or self.close is not None, timeout,
                  "a message on stream %d" % self.sid)
        if not self.messages:
            raise AssertionError("stream %d ended without a message: close %r, %r"
                                 % (self.sid, self.close, self.st))
        return self.messages.popleft()

    def roundtrip(self, opcode, payload, timeout=10):
        self.send(opcode, payload)
        return self.recv(timeout)

    def wait_finished(self, timeout=10):
        self.pump(lambda: self.st.finished, timeout, "the end of stream %d" % self.sid)


def key_ok(key):
    """A Sec-WebSocket-Key as RFC 6455 section 4.1 wants it: base64 of 16 bytes."""
    try:
        return len(key) == 24 and len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


def header_values(req, name):
    return [v for n, v in req["headers"] if n.lower() == name.lower()]


def tokens(req, name):
    return [t.strip().lower() for v in header_values(req, name) for t in v.split(",")]


# ---------------------------------------------------------------------------------------------


class WsTest(H2Test):
    def start_ws(self, plain=True, tls=False, timeouts=None):
        """The ws backend (self.ws) behind ringway (self.rw): h2c on self.port, h2 over TLS on
        self.tls_port."""
        need_h2()
        self.ws = WsBackend("ws", self.workdir)
        self.backends.append(self.ws)
        return self.start(plain=plain, tls=tls, backend=False, timeouts=timeouts,
                          upstreams=[harness.upstream("web", [self.ws.address])])

    def idle_rss(self):
        time.sleep(0.1)
        kb = self.rw.proc_status("VmRSS")
        self.assertIsNotNone(kb)
        return kb

    def assertEcho(self, ws, opcode, payload):
        got = ws.roundtrip(opcode, payload)
        self.assertEqual(got[0], opcode)
        self.assertEqual(len(got[1]), len(payload))
        self.assertEqual(got[1], payload)

    def assertBackendHead(self, req, path, authority, proto):
        """What the backend got for an extended CONNECT: the HTTP/1.1 opening handshake."""
        self.assertEqual((req["method"], req["target"], req["version"]),
                         ("GET", path, "HTTP/1.1"), req)
        self.assertEqual(header_values(req, "Host"), [authority], req)
        self.assertEqual(tokens(req, "Upgrade"), ["websocket"], req)
        self.assertIn("upgrade", tokens(req, "Connection"), req)
        keys = header_values(req, "Sec-WebSocket-Key")
        self.assertEqual(len(keys), 1, req)
        self.assertTrue(key_ok(keys[0]), "Sec-WebSocket-Key %r is not base64 of 16 bytes"
                        % keys[0])
        self.assertEqual(header_values(req, "Sec-WebSocket-Version"), ["13"], req)
        self.assertEqual(header_values(req, "X-Forwarded-For"), ["127.0.0.1"], req)
        self.assertEqual(header_values(req, "X-Forwarded-Proto"), [proto], req)
        for n, v in req["headers"]:
            self.assertFalse(n.startswith(":"), "pseudo-header leftover %r: %r" % (n, req))
            self.assertNotIn(n.lower(), ("protocol", "method", "scheme", "path", "authority"),
                             req)
        self.assertEqual(header_values(req, "Content-Length"), [], req)
        self.assertEqual(header_values(req, "Transfer-Encoding"), [], req)
        return keys[0]

    def assertTunnelHead(self, ws):
        """The client's view of the handshake answer: 200, no Sec-WebSocket-Accept."""
        self.assertEqual(ws.st.status, 200, ws.st)
        self.assertIsNone(ws.st.reset, ws.st)
        self.assertFalse(ws.st.ended, ws.st)
        self.assertIsNone(ws.st.header("sec-websocket-accept"), ws.st)
        for n, _ in ws.st.headers:
            self.assertNotIn(n, test_http2.HOP_BY_HOP, ws.st)


# ---------------------------------------------------------------------------------------------
# 1. SETTINGS_ENABLE_CONNECT_PROTOCOL


class SettingsTest(WsTest):
    def test_settings_frame_has_enable_connect_protocol(self):
        self.start_ws(tls=True)
        # h2c, read off the wire: the server's first frame is its SETTINGS.
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            buf = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                    break
                r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
                data = s.recv(65536) if r else b""
                self.assertTrue(data, "no SETTINGS from ringway; got %r" % buf)
                buf += data
        length, ftype, flags, sid = int.from_bytes(buf[:3], "big"), buf[3], buf[4], buf[5:9]
        self.assertEqual((ftype, flags, sid), (0x4, 0, b"\0\0\0\0"), buf[:9])
        payload = buf[9:9 + length]
        self.assertEqual(length % 6, 0)
        settings = {}
        for i in range(0, length, 6):
            ident, value = struct.unpack("!HI", payload[i:i + 6])
            settings[ident] = value
        self.assertEqual(settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL), 1, settings)
        # h2 by ALPN: the same setting, as python3-h2 applied it.
        c = self.tls_client()
        self.assertEqual(c.h2.remote_settings.enable_connect_protocol, 1)
        c = self.client(validate=False)
        self.assertEqual(c.h2.remote_settings.enable_connect_protocol, 1)


# ---------------------------------------------------------------------------------------------
# 2. Echo over h2c, TLS and HTTP/1.1


class EchoTest(WsTest):
    def echo_session(self, c, authority, proto):
        ws = WsH2(c, path="/chat?room=1", authority=authority, scheme=proto,
                  headers=[("sec-websocket-protocol", "chat, superchat"),
                           ("origin", "http://%s" % authority), ("x-client", "h2")])
        self.assertEqual(ws.wait_open(), 200, ws.st)
        self.assertTunnelHead(ws)
        # The backend chose a subprotocol: RFC 8441 section 5 carries it to the client.
        self.assertEqual(ws.st.header("sec-websocket-protocol"), "chat", ws.st)
        self.assertEcho(ws, OP_TEXT, b"hello over h2")
        self.assertEcho(ws, OP_TEXT, "h\u00e9llo \u2603".encode())
        self.assertEcho(ws, OP_BINARY, b"")
        self.assertEcho(ws, OP_BINARY, bytes(range(256)) * 4)        # 16-bit length
        self.assertEcho(ws, OP_BINARY, os.urandom(200_000))          # 64-bit length
        # A fragmented message with a ping between its fragments: the pong comes first, then
        # the whole message.
        ws.send(OP_TEXT, b"frag-one ", fin=False)
        ws.send(OP_PING, b"ping-1")
        ws.send(OP_CONT, b"frag-two ", fin=False)
        ws.send(OP_CONT, b"frag-three", fin=True)
        self.assertEqual(ws.recv(), (OP_TEXT, b"frag-one frag-two frag-three"))
        self.assertEqual(ws.pongs, [b"ping-1"])
        # A frame split across DATA frames, and several frames in one DATA frame.
        frame = client_frame(OP_BINARY, b"x" * 5000)
        ws.send_raw(frame[:3])
        ws.push()
        ws.send_raw(frame[3:] + client_frame(OP_TEXT, b"a") + client_frame(OP_TEXT, b"b"))
        self.assertEqual(ws.recv(), (OP_BINARY, b"x" * 5000))
        self.assertEqual(ws.recv(), (OP_TEXT, b"a"))
        self.assertEqual(ws.recv(), (OP_TEXT, b"b"))
        stats = self.ws.stats()
        req = [r for r in stats["requests"] if r["target"] == "/chat?room=1"][-1]
        key = self.assertBackendHead(req, "/chat?room=1", authority, proto)
        self.assertEqual(header_values(req, "Sec-WebSocket-Protocol"), ["chat, superchat"])
        self.assertEqual(header_values(req, "Origin"), ["http://%s" % authority], req)
        self.assertEqual(header_values(req, "X-Client"), ["h2"], req)
        # A second tunnel on the same connection, in parallel, gets a key of its own, and
        # /headers shows the head in-band.
        ws2 = WsH2(c, path="/headers", authority=authority, scheme=proto)
        self.assertEqual(ws2.wait_open(), 200, ws2.st)
        op, text = ws2.recv()
        self.assertEqual(op, OP_TEXT)
        head = json.loads(text)
        key2 = self.assertBackendHead(head, "/headers", authority, proto)
        self.assertNotEqual(key, key2)
        self.assertEcho(ws2, OP_TEXT, b"second tunnel")
        self.assertEcho(ws, OP_TEXT, b"first tunnel still there")
        # Close handshakes: the backend answers and closes, the stream ends with END_STREAM.
        for w in (ws, ws2):
            w.send(OP_CLOSE, close_payload(1000, b"done"))
            w.wait_finished()
            self.assertEqual(w.close, (1000, b""), w.st)
            self.assertTrue(w.st.ended, w.st)
            self.assertIn(w.st.reset, (None, NO_ERROR), w.st)
            self.assertEqual((w.masked_frames, w.after_close), (0, 0))
        self.assertEqual(c.goaways, [])
        stats = self.ws.stats()
        self.assertEqual(stats["bad_handshakes"], 0, stats)
        self.assertIn(key, stats["keys"])
        self.assertIn(key2, stats["keys"])
        return stats

    def test_echo_over_h2c(self):
        self.start_ws()
        c = self.client(validate=False)
        stats = self.echo_session(c, "localhost", "http")
        self.assertEqual(stats["connections"], 2, stats)
        for rec in stats["conns"]:
            self.assertEqual(rec["end"], "close_frame", rec)
        # Plain requests on the same connection still work.
        st = c.get("/plain")
        self.assertEqual((st.status, bytes(st.body)), (200, b"hello from ws\n"), st)
        # The access log has the tunnels.
        lines = self.access_for("/chat?room=1")
        self.assertEqual(len(lines), 1, self.rw.access_lines())

    def test_echo_over_tls_h2(self):
        self.start_ws(plain=False, tls=True)
        c = self.tls_client(host="a.test", validate=False)
        self.assertEqual(c.sock.selected_alpn_protocol(), "h2")
        self.echo_session(c, "a.test:%d" % self.tls_port, "https")

    def test_echo_over_http11_upgrade(self):
        """The HTTP/1.1 Upgrade path is untouched: the backend's 101 and Sec-WebSocket-Accept
        reach the client, and the tunnel echoes."""
        self.start_ws()
        key = base64.b64encode(os.urandom(16)).decode()
        with harness.Conn(self.port, timeout=10) as conn:
            conn.send(("GET /chat?v=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: superchat\r\n\r\n"
                       % key).encode())
            resp = conn.read_response(timeout=10)
            self.assertEqual(resp.status, 101, resp)
            self.assertEqual(resp.header("Sec-WebSocket-Accept"), ws_backend.accept_key(key),
                             resp)
            self.assertTrue(resp.has_token("Upgrade", "websocket"), resp)
            self.assertTrue(resp.has_token("Connection", "upgrade"), resp)
            self.assertEqual(resp.header("Sec-WebSocket-Protocol"), "superchat", resp)

            def recv_frame(timeout=10):
                deadline = time.monotonic() + timeout
                while True:
                    r = ws_backend.parse_frame(conn.buf)
                    if r is not None:
                        del conn.buf[:r[5]]
                        self.assertFalse(r[3], "masked frame from the server")
                        return r[2], r[4]
                    self.assertTrue(conn._recv(deadline), "the tunnel closed")

            for op, payload in ((OP_TEXT, b"hello over http/1.1"), (OP_BINARY, os.urandom(70000)),
                                (OP_BINARY, b"")):
                conn.send(client_frame(op, payload))
                self.assertEqual(recv_frame(), (op, payload))
            conn.send(client_frame(OP_PING, b"p"))
            self.assertEqual(recv_frame(), (OP_PONG, b"p"))
            conn.send(client_frame(OP_CLOSE, close_payload(1000)))
            self.assertEqual(recv_frame(), (OP_CLOSE, close_payload(1000)))
            self.assertTrue(conn.wait_closed(5), "the tunnel stayed open after the close")
        req = self.ws.stats()["last_request"]
        self.assertEqual(header_values(req, "Sec-WebSocket-Key"), [key], req)
        self.assertEqual(header_values(req, "X-Forwarded-For"), ["127.0.0.1"], req)
        rec = self.ws.wait_conn_closed("/chat?v=1")
        self.assertIsNotNone(rec)
        self.assertEqual((rec["messages"], rec["end"]), (3, "close_frame"), rec)


# ---------------------------------------------------------------------------------------------
# 3. 100 MB both ways, and flow control


class VolumeTest(WsTest):
    def test_100mb_both_ways_bounded_memory(self):
        self.start_ws()
        c = self.client(validate=False, timeout=60)
        ws = WsH2(c, path="/volume", keep=False)
        self.assertEqual(ws.wait_open(), 200, ws.st)
        idle = self.idle_rss()
        size = 1 * MiB
        blocks = [os.urandom(size) for _ in range(7)]
        tx_sha = hashlib.sha256()
        count = BIG // size
        state = {"i": 0}
        in_flight = 8 * MiB  # echo bytes outstanding at most (the client's own bound)

        def feed():
            while state["i"] < count and ws.tx_bytes - ws.rx_bytes < in_flight \
                    and ws.queued() < 2 * size:
                i = state["i"]
                payload = struct.pack("!Q", i) + blocks[i % 7][8:]
                tx_sha.update(payload)
                ws.send(OP_BINARY, payload)
                state["i"] += 1
            ws.push()
            return ws.rx_count >= count or ws.st.finished or ws.close is not None

        t0 = time.monotonic()
        with harness.RssSampler(self.rw) as sampler:
            ws.pump(feed, 100, "100 MB echoed")
        took = time.monotonic() - t0
        print("\n    100 MB both ways through one WebSocket over h2c: %.1f s (%.0f MB/s each way)"
              % (took, BIG / MiB / took), flush=True)
        self.assertIsNone(ws.close, ws.st)
        self.assertFalse(ws.st.finished, ws.st)
        self.assertEqual((ws.rx_count, ws.rx_bytes), (count, BIG))
        self.assertEqual(ws.rx_sha.hexdigest(), tx_sha.hexdigest())
        self.assertRssGrowthBounded(sampler, idle, "100 MB both ways over WebSocket/h2")
        self.assertLess(took, 90)
        rec = self.ws.conn_record("/volume")
        self.assertEqual((rec["messages"], rec["bytes_in"], rec["bytes_out"]),
                         (count, BIG, BIG), rec)
        ws.send(OP_CLOSE, close_payload(1000))
        ws.wait_finished()
        self.assertEqual(ws.close, (1000, b""))

    def test_client_that_does_not_read_stalls_the_backend_not_memory(self):
        self.start_ws()
        c = self.client(validate=False, timeout=30)
        n, size = 48 * MiB, 65536
        target = "/flood?flood=%d&size=%d" % (n, size)
        idle = self.idle_rss()
        with harness.RssSampler(self.rw) as sampler:
            flood = WsH2(c, path=target, keep=False, stalled=True)
            self.assertEqual(flood.wait_open(), 200, flood.st)
            # While the flood is held by flow control, other streams work: a second tunnel
            # and plain requests on the same connection.
            other = WsH2(c, path="/other")
            self.assertEqual(other.wait_open(), 200, other.st)
            t0 = time.monotonic()
            samples = []
            while time.monotonic() - t0 < 3.0:
                self.assertEcho(other, OP_BINARY, os.urandom(100_000))
                st = c.get("/plain", timeout=10)
                self.assertEqual((st.status, bytes(st.body)), (200, b"hello from ws\n"), st)
                samples.append(self.ws.conn_record(target)["flood_sent"])
                time.sleep(0.1)
            flood.parse()
            stalled_rx = flood.st.length
            sent_then = self.ws.conn_record(target)["flood_sent"]
            time.sleep(0.5)
            sent_later = self.ws.conn_record(target)["flood_sent"]
        print("\n    flood held: client got %d bytes, backend wrote %.1f MiB (samples %s MiB)"
              % (stalled_rx, sent_later / MiB,
                 [round(x / MiB, 1) for x in samples[::max(1, len(samples) // 6)]]), flush=True)
        self.assertLessEqual(stalled_rx, 65535, flood.st)
        self.assertFalse(flood.st.finished, flood.st)
        # The backend is stopped by ringway no longer reading it: what it wrote stays put,
        # well short of the flood (the kernel's socket buffers on loopback hold some MiB).
        self.assertEqual(sent_later, sent_then, "the backend kept writing into a stalled tunnel")
        self.assertLess(sent_later, 40 * MiB, "ringway read on from a stalled tunnel")
        self.assertRssGrowthBounded(sampler, idle, "WebSocket flood held by flow control")
        self.assertEqual(c.goaways, [])
        # Released, every byte arrives, intact and in order.
        expected = hashlib.sha256()
        count = 0
        for i in range((n + size - 1) // size):
            piece = ws_backend.flood_message(i, min(size, n - i * size))
            expected.update(piece)
            count += 1
        c.unstall(flood.st)
        flood.pump(lambda: flood.rx_bytes >= n or flood.st.finished, 60, "the whole flood")
        self.assertEqual((flood.rx_count, flood.rx_bytes), (count, n))
        self.assertEqual(flood.rx_sha.hexdigest(), expected.hexdigest())
        self.assertEcho(other, OP_TEXT, b"still here")


# ---------------------------------------------------------------------------------------------
# 4. How tunnels end


class EndsTest(WsTest):
    def test_half_close_backend_close_and_reset(self):
        self.start_ws()
        c = self.client(validate=False)
        # The client's END_STREAM: the backend reads EOF (ringway's shutdown(SHUT_WR)) and can
        # still answer; its close then ends the stream.
        half = WsH2(c, path="/ws?eof_reply=1")
        self.assertEqual(half.wait_open(), 200, half.st)
        self.assertEcho(half, OP_TEXT, b"one")
        half.end_stream()
        self.assertEqual(half.recv(), (OP_TEXT, b"eof after 1 messages"))
        half.wait_finished()
        self.assertEqual(half.close, (1000, b""), half.st)
        self.assertTrue(half.st.ended, half.st)
        self.assertIn(half.st.reset, (None, NO_ERROR), half.st)
        rec = self.ws.wait_conn_closed("/ws?eof_reply=1")
        self.assertIsNotNone(rec, self.ws.stats()["conns"])
        self.assertEqual(rec["end"], "eof", rec)

        # The backend closes first: its last message and close frame, then END_STREAM.
        server = WsH2(c, path="/ws?close=1")
        self.assertEqual(server.wait_open(), 200, server.st)
        self.assertEqual(server.recv(), (OP_TEXT, b"bye"))
        server.wait_finished()
        self.assertEqual(server.close, (1001, b""), server.st)
        self.assertTrue(server.st.ended, "the backend's close did not end the stream: %r"
                        % server.st)
        self.assertIn(server.st.reset, (None, NO_ERROR), server.st)

        # The client's RST_STREAM: ringway closes the backend connection.
        reset = WsH2(c, path="/ws?reset=1&hold=1")
        self.assertEqual(reset.wait_open(), 200, reset.st)
        self.assertEcho(reset, OP_TEXT, b"before the reset")
        self.assertTrue(self.ws.conn_record("/ws?reset=1&hold=1")["open"])
        reset.reset(CANCEL)
        rec = self.ws.wait_conn_closed("/ws?reset=1&hold=1", timeout=5)
        self.assertIsNotNone(rec, "the backend connection outlived the client's RST_STREAM "
                             "by 5 s: %r" % self.ws.conn_record("/ws?reset=1&hold=1"))
        self.assertIn(rec["end"], ("eof", "reset"), rec)

        # The connection goes on.
        self.assertEqual(c.goaways, [])
        again = WsH2(c, path="/ws?after=1")
        self.assertEqual(again.wait_open(), 200, again.st)
        self.assertEcho(again, OP_TEXT, b"after all that")
        st = c.get("/plain")
        self.assertEqual(st.status, 200, st)
        self.assertEqual(self.ws.stats()["open"], 1)

    def test_idle_tunnel_ends_after_timeouts_tunnel(self):
        self.start_ws(timeouts={"tunnel": "1s"})
        c = self.client(validate=False)
        ws = WsH2(c, path="/ws?idle=1")
        self.assertEqual(ws.wait_open(), 200, ws.st)
        start = time.monotonic()
        while time.monotonic() - start < 2.5:  # busy: a message every 400 ms keeps it open
            time.sleep(0.4)
            self.assertEcho(ws, OP_TEXT, b"ping")
            self.assertFalse(ws.st.finished, "a busy tunnel ended after %.1f s: %r"
                             % (time.monotonic() - start, ws.st))
        idle_from = time.monotonic()
        ws.pump(lambda: ws.st.finished, 6, "the idle tunnel to end (timeouts.tunnel: 1s)")
        waited = time.monotonic() - idle_from
        print("\n    idle tunnel ended %.2f s after its last byte (%s)"
              % (waited, "RST_STREAM %d" % ws.st.reset if ws.st.reset is not None
                 else "END_STREAM"), flush=True)
        self.assertGreater(waited, 0.5, "ended before it had been idle for tunnel: 1s")
        self.assertLess(waited, 5.0)
        rec = self.ws.wait_conn_closed("/ws?idle=1", timeout=5)
        self.assertIsNotNone(rec, "the backend connection of an idle tunnel stayed open")
        # Bytes from the backend alone keep a tunnel alive too: a message every 300 ms for
        # 2.4 s, the client silent; then idle, it ends.
        target = "/ws?tick_ms=300&ticks=8"
        ticks = WsH2(c, path=target)
        self.assertEqual(ticks.wait_open(), 200, ticks.st)
        start = time.monotonic()
        for i in range(1, 9):
            self.assertEqual(ticks.recv(timeout=5), (OP_TEXT, b"tick %d" % i),
                             "after %.1f s" % (time.monotonic() - start))
        self.assertFalse(ticks.st.finished, ticks.st)
        idle_from = time.monotonic()
        ticks.pump(lambda: ticks.st.finished, 6, "the tunnel to end after its last tick")
        self.assertGreater(time.monotonic() - idle_from, 0.5)
        self.assertIsNotNone(self.ws.wait_conn_closed(target, timeout=5))
        # The connection itself is not taken down with the tunnel.
        self.assertFalse(c.eof)
        st = c.get("/plain")
        self.assertEqual(st.status, 200, st)


# ---------------------------------------------------------------------------------------------
# 5. Refusals and malformed requests


class RefusalTest(WsTest):
    def test_plain_connect_other_protocol_and_backend_refusals(self):
        self.start_ws()
        c = self.client(validate=False)
        # Plain CONNECT (RFC 9113 section 8.5): ringway does not tunnel to arbitrary hosts.
        plain = c.request(raw_headers=[(":method", "CONNECT"), (":authority", "localhost:443")])
        c.wait(plain)
        self.assertEqual(plain.status, 405, plain)
        self.assertTrue(plain.ended or plain.reset is not None, plain)
        # An extended CONNECT for a protocol other than websocket.
        foo = WsH2(c, path="/foo", protocol="foo")
        foo.wait_finished()
        self.assertEqual(foo.st.status, 501, foo.st)
        # The backend refuses the handshake: its status reaches the client, and the stream
        # ends.
        rej = WsH2(c, path="/reject")
        self.assertEqual(rej.wait_open(), 403, rej.st)
        rej.wait_finished()
        self.assertTrue(rej.st.ended, rej.st)
        self.assertIn(rej.st.reset, (None, NO_ERROR), rej.st)
        self.assertEqual(bytes(rej.st.body), b"forbidden\n", rej.st)
        # A handshake without sec-websocket-version: the backend's 426 comes back as it is.
        old = WsH2(c, raw_headers=[(":method", "CONNECT"), (":protocol", "websocket"),
                                   (":scheme", "http"), (":authority", "localhost"),
                                   (":path", "/noversion")])
        self.assertEqual(old.wait_open(), 426, old.st)
        old.wait_finished()
        self.assertEqual(old.st.header("sec-websocket-version"), "13", old.st)
        self.assertEqual(c.goaways, [])
        self.assertFalse(c.eof)
        ok = WsH2(c, path="/ok")
        self.assertEqual(ok.wait_open(), 200, ok.st)
        self.assertEcho(ok, OP_TEXT, b"fine")
        stats = self.ws.stats()
        targets = [r["target"] for r in stats["requests"]]
        self.assertEqual(targets, ["/reject", "/noversion", "/ok"], stats["requests"])
        self.assertEqual((stats["rejected"], stats["bad_handshakes"], stats["connections"]),
                         (1, 1, 1), stats)

    def test_malformed_extended_connect_is_a_stream_error(self):
        self.start_ws()
        c = self.client(validate=False)

        def head(*drop, method="CONNECT", extra=()):
            h = [(":method", method), (":protocol", "websocket"), (":scheme", "http"),
                 (":authority", "localhost"), (":path", "/bad")]
            return [x for x in h if x[0] not in drop] + [("sec-websocket-version", "13")] \
                + list(extra)

        cases = [
            (":protocol on GET", head(method="GET")),
            (":protocol on POST", head(method="POST")),
            ("without :scheme", head(":scheme")),
            ("without :path", head(":path")),
            ("without :authority", head(":authority")),
            ("only :method and :protocol", head(":scheme", ":path", ":authority")),
            ("empty :protocol", [(":method", "CONNECT"), (":protocol", ""), (":scheme", "http"),
                                 (":authority", "localhost"), (":path", "/bad")]),
            ("empty :path", [(":method", "CONNECT"), (":protocol", "websocket"),
                             (":scheme", "http"), (":authority", "localhost"), (":path", "")]),
            ("upgrade field", head(extra=[("upgrade", "websocket")])),
            ("connection field", head(extra=[("connection", "upgrade")])),
        ]
        for name, headers in cases:
            with self.subTest(name):
                if c.eof or c.goaways:
                    c = self.client(validate=False)
                ws = WsH2(c, raw_headers=headers)
                ws.wait_finished()
                self.assertEqual(ws.st.reset, PROTOCOL_ERROR,
                                 "%s: want RST_STREAM PROTOCOL_ERROR, got %r" % (name, ws.st))
                self.assertIsNone(ws.st.status, ws.st)
                self.assertEqual(c.goaways, [], "%s: a GOAWAY for a stream error" % name)
                self.assertFalse(c.eof, "%s: the connection was closed" % name)
                good = WsH2(c, path="/good")
                self.assertEqual(good.wait_open(), 200, good.st)
                self.assertEcho(good, OP_TEXT, name.encode())
                good.reset()
        stats = self.ws.stats()
        self.assertEqual({r["path"] for r in stats["requests"]}, {"/good"}, stats["requests"])
        self.assertEqual(stats["bad_handshakes"], 0, stats)


if __name__ == "__main__":
    harness.main()
