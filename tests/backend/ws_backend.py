#!/usr/bin/env python3
"""A small RFC 6455 WebSocket echo server, for testing ringway's WebSocket tunnels (HTTP/1.1
Upgrade, and WebSocket over HTTP/2 (RFC 8441), which ringway turns into an HTTP/1.1 Upgrade).

    /usr/bin/python3 tests/backend/ws_backend.py --listen 127.0.0.1:0 --name ws1

Raw sockets and one thread per connection, python3 standard library only, so that every byte
on the wire is under our control. On start-up it prints "listening on 127.0.0.1:PORT" per
listener (port 0 picks a free port and the real one is printed) and flushes stdout.

The opening handshake (RFC 6455 section 4.2.1) is checked: GET, HTTP/1.1, Upgrade: websocket,
Connection with the "upgrade" token, Sec-WebSocket-Key that is base64 of 16 bytes,
Sec-WebSocket-Version: 13. A request that fails a check gets 400 (426 with
Sec-WebSocket-Version: 13 for another version) and a text body naming the check. A good one
gets 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), and the first offered
Sec-WebSocket-Protocol, if any, chosen. No extension is ever accepted.

After the handshake every text or binary message is echoed as one unfragmented message of the
same type (fragmented messages are reassembled first); pings get pongs with the same payload;
unsolicited pongs are ignored; a close frame is answered with a close frame (same status code)
and then the server closes the TCP connection (RFC 6455 section 7.1.1). Client frames must be
masked (else close 1002); text must be UTF-8 (else close 1007). RSV bits set: close 1002.

Paths (query options combine; any path not listed is an echo endpoint when it is a WebSocket
handshake, and a plain 200 "hello from <name>" otherwise):

    /stats            JSON over plain HTTP: {name, connections, open, handshakes, rejected,
                      bad_handshakes, messages, bytes_in, bytes_out, keys, last_request,
                      requests, conns}. `keys`: every Sec-WebSocket-Key seen, in order;
                      `last_request` and `requests` (the last 200): {method, target, version,
                      headers: [[name, value], ...], path}; `conns`: one record per WebSocket
                      connection {id, path, target, key, open, end, messages, bytes_in,
                      bytes_out, flood_sent, opened_at, eof_at, closed_at}, where `end` says
                      how the client side ended: "close_frame", "eof" (a FIN: the peer's
                      half-close or close), "reset", "error", "server" (the server closed
                      first) or null while open.
                      Not counted in the other stats.
    /reset-stats      zeroes the stats
    /reject           403 "forbidden" (the handshake refused), Connection: close
    /headers          a WebSocket endpoint that first sends one text message: the JSON of the
                      request head ({method, target, version, headers}), then echoes;
                      without Upgrade, 200 with the same JSON
    any path ?flood=N&size=S
                      after the handshake, sends N bytes in binary messages of S bytes (default
                      65536) as fast as the connection takes them (flood_sent counts the
                      payload bytes written so far), while reading and answering the client
                      as usual. Message i (from 0) is S bytes of the 8-byte string "%08d" % i
                      repeated (the last one cut short).
    any path ?tick_ms=T&ticks=K
                      after the handshake, sends K text messages "tick i" (i from 1), one every
                      T ms, whatever the client does (traffic in the backend's direction only)
    any path ?eof_reply=1
                      when the client's side ends with a FIN (ringway's shutdown(SHUT_WR) for
                      an HTTP/2 client's END_STREAM), sends a text message
                      "eof after N messages" and a close frame 1000, then closes
    any path ?close=1 right after the handshake sends a text message "bye" and a close frame
                      1001, then closes the TCP connection without waiting for the client's
    any path ?hold=1  when the client's side ends with a FIN, keeps the connection open
                      (default: close it) for up to 30 s, sending a ping every 100 ms, until
                      a write fails (the peer closed the connection, not just its side)

Options: --listen HOST:PORT (repeatable), --name NAME.
"""

import argparse
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

MAX_HEAD = 64 * 1024
MAX_MESSAGE = 64 * 1024 * 1024


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    if isinstance(key, str):
        key = key.encode("latin-1")
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode("ascii")


def mask_bytes(data, mask):
    """XOR `data` with the 4-byte `mask` repeated (fast for large payloads)."""
    n = len(data)
    if n == 0:
        return b""
    reps = (n + 3) // 4
    m = int.from_bytes((mask * reps)[:n], "big")
    return (int.from_bytes(data, "big") ^ m).to_bytes(n, "big")


def build_frame(opcode, payload, fin=True, mask=None, rsv=0):
    """One WebSocket frame; `mask` (4 bytes) masks it, as a client must."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask is not None:
        return head + mask + mask_bytes(payload, mask)
    return head + bytes(payload)


def parse_frame(buf, start=0):
    """(fin, rsv, opcode, masked, payload, end) for a whole frame at buf[start:], payload
    unmasked; None when the frame is not all there yet."""
    if len(buf) - start < 2:
        return None
    b0, b1 = buf[start], buf[start + 1]
    n = b1 & 0x7F
    at = start + 2
    if n == 126:
        if len(buf) - at < 2:
            return None
        n = struct.unpack_from("!H", buf, at)[0]
        at += 2
    elif n == 127:
        if len(buf) - at < 8:
            return None
        n = struct.unpack_from("!Q", buf, at)[0]
        at += 8
    masked = bool(b1 & 0x80)
    mask = None
    if masked:
        if len(buf) - at < 4:
            return None
        mask = bytes(buf[at:at + 4])
        at += 4
    if len(buf) - at < n:
        return None
    payload = bytes(buf[at:at + n])
    if masked:
        payload = mask_bytes(payload, mask)
    return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload, at + n


def flood_message(i, size):
    piece = b"%08d" % i
    return (piece * (size // 8 + 1))[:size]


class Stats:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.connections = 0     # WebSocket connections (101 sent)
            self.handshakes = 0      # WebSocket handshake requests, good or bad
            self.rejected = 0        # /reject answers
            self.bad_handshakes = 0  # 400/426 answers
            self.messages = 0        # data messages received (and echoed)
            self.bytes_in = 0        # data message payload bytes received
            self.bytes_out = 0       # data message payload bytes sent
            self.keys = []
            self.last_request = None
            self.requests = []
            self.conns = []

    def snapshot(self):
        with self.lock:
            return {
                "name": self.name,
                "connections": self.connections,
                "open": sum(1 for c in self.conns if c["open"]),
                "handshakes": self.handshakes,
                "rejected": self.rejected,
                "bad_handshakes": self.bad_handshakes,
                "messages": self.messages,
                "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out,
                "keys": list(self.keys),
                "last_request": self.last_request,
                "requests": list(self.requests),
                "conns": [dict(c) for c in self.conns],
            }


class Request:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)] in order
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.query = dict(urllib.parse.parse_qsl(parsed.query))

    def get_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name):
        values = self.get_all(name)
        return values[0] if values else None

    def tokens(self, name):
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]

    def as_json(self):
        return {"method": self.method, "target": self.target, "version": self.version,
                "path": self.path, "headers": [[n, v] for n, v in self.headers]}


class Closed(Exception):
    pass


class Connection:
    def __init__(self, server, sock, addr):
        self.server = server
        self.stats = server.stats
        self.sock = sock
        self.addr = addr
        self.buf = bytearray()
        self.send_lock = threading.Lock()
        self.record = None
        self.closing = False

    # -- I/O -------------------------------------------------------------------------------

    def recv_more(self):
        """Reads more into buf; False on FIN. Raises ConnectionResetError on RST."""
        data = self.sock.recv(1 << 18)
        if not data:
            return False
        self.buf += data
        return True

    def send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def read_head(self):
        while True:
            idx = self.buf.find(b"\r\n\r\n")
            if idx >= 0:
                head = bytes(self.buf[:idx])
                del self.buf[:idx + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise Closed("head too large")
            if not self.recv_more():
                return None

    def respond(self, status, reason, body, headers=(), close=True):
        lines = ["HTTP/1.1 %d %s" % (status, reason), "X-Backend: %s" % self.server.name,
                 "Content-Length: %d" % len(body)]
        lines += ["%s: %s" % h for h in headers]
        if close:
            lines.append("Connection: close")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    # -- HTTP ------------------------------------------------------------------------------

    def run(self):
        try:
            self.serve()
        except (ConnectionResetError, BrokenPipeError):
            self.end("reset")
        except (Closed, OSError, ValueError):
            self.end("error")
        finally:
            if self.record is not None:
                with self.stats.lock:
                    self.record["open"] = False
                    self.record["closed_at"] = time.time()
            try:
                self.sock.close()
            except OSError:
                pass

    def end(self, how):
        if self.record is not None:
            with self.stats.lock:
                if self.record["end"] is None:
                    self.record["end"] = how

    def serve(self):
        while True:
            head = self.read_head()
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.respond(400, "Bad Request", b"bad request line\n")
                return
            headers = []
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self.respond(400, "Bad Request", b"bad header line\n")
                    return
                headers.append((name, value.strip(" \t")))
            req = Request(parts[0], parts[1], parts[2], headers)
            if req.path in ("/stats", "/reset-stats"):
                if req.path == "/reset-stats":
                    self.stats.reset()
                body = json.dumps(self.stats.snapshot()).encode()
                self.respond(200, "OK", body, [("Content-Type", "application/json")],
                             close=False)
                continue
            with self.stats.lock:
                self.stats.last_request = req.as_json()
                self.stats.requests.append(req.as_json())
                del self.stats.requests[:-200]
            # A request body is not expected anywhere (GET handshakes, stats): one is refused.
            if req.get("content-length") not in (None, "0") or req.get("transfer-encoding"):
                self.respond(400, "Bad Request", b"no request bodies here\n")
                return
            if req.path == "/reject":
                with self.stats.lock:
                    self.stats.rejected += 1
                self.respond(403, "Forbidden", b"forbidden\n", [("Content-Type", "text/plain")])
                return
            if "websocket" in req.tokens("upgrade"):
                self.websocket(req)
                return
            if req.path == "/headers":
                body = json.dumps(req.as_json()).encode()
                self.respond(200, "OK", body, [("Content-Type", "application/json")],
                             close=False)
                continue
            self.respond(200, "OK", ("hello from %s\n" % self.server.name).encode(),
                         [("Content-Type", "text/plain")], close=False)

    def check_handshake(self, req):
        """None when the opening handshake is good, else (status, reason, text)."""
        if req.method != "GET":
            return 400, "Bad Request", "handshake method is %s, not GET" % req.method
        if req.version != "HTTP/1.1":
            return 400, "Bad Request", "handshake version is %s" % req.version
        if req.tokens("upgrade") != ["websocket"]:
            return 400, "Bad Request", "Upgrade is %r" % req.get_all("upgrade")
        if "upgrade" not in req.tokens("connection"):
            return 400, "Bad Request", "Connection is %r" % req.get_all("connection")
        if not req.get_all("host"):
            return 400, "Bad Request", "no Host"
        keys = req.get_all("sec-websocket-key")
        if len(keys) != 1:
            return 400, "Bad Request", "%d Sec-WebSocket-Key fields" % len(keys)
        try:
            raw = base64.b64decode(keys[0].encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(keys[0]) != 24 or len(raw) != 16:
            return 400, "Bad Request", "Sec-WebSocket-Key %r is not base64 of 16 bytes" % keys[0]
        versions = req.get_all("sec-websocket-version")
        if versions != ["13"]:
            return 426, "Upgrade Required", "Sec-WebSocket-Version is %r" % versions
        return None

    # -- WebSocket ---------------------------------------------------------------------------

    def websocket(self, req):
        with self.stats.lock:
            self.stats.handshakes += 1
            key = req.get("sec-websocket-key")
            if key is not None:
                self.stats.keys.append(key)
        bad = self.check_handshake(req)
        if bad is not None:
            status, reason, text = bad
            with self.stats.lock:
                self.stats.bad_handshakes += 1
            extra = [("Sec-WebSocket-Version", "13")] if status == 426 else []
            self.respond(status, reason, (text + "\n").encode(), extra)
            return
        lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Accept: %s" % accept_key(key),
                 "X-Backend: %s" % self.server.name]
        offered = req.tokens("sec-websocket-protocol")
        if offered:
            lines.append("Sec-WebSocket-Protocol: %s" % offered[0])
        with self.stats.lock:
            self.stats.connections += 1
            self.record = {"id": len(self.stats.conns) + 1, "path": req.path,
                           "target": req.target, "key": key,
                           "open": True, "end": None, "messages": 0, "bytes_in": 0,
                           "bytes_out": 0, "flood_sent": 0, "eof_at": None,
                           "closed_at": None, "opened_at": time.time()}
            self.stats.conns.append(self.record)
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if req.path == "/headers":
            self.send_message(OP_TEXT, json.dumps(req.as_json()).encode())
        if req.query.get("close") == "1":
            self.send_message(OP_TEXT, b"bye")
            self.send(build_frame(OP_CLOSE, struct.pack("!H", 1001)))
            self.end("server")
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            time.sleep(0.05)
            return
        if "flood" in req.query:
            n = int(req.query["flood"])
            size = int(req.query.get("size", "65536"))
            t = threading.Thread(target=self.flood, args=(n, size), daemon=True)
            t.start()
        if "tick_ms" in req.query:
            args = (int(req.query["tick_ms"]), int(req.query.get("ticks", "10")))
            threading.Thread(target=self.tick, args=args, daemon=True).start()
        self.echo_loop(req)

    def tick(self, ms, count):
        try:
            for i in range(1, count + 1):
                time.sleep(ms / 1000.0)
                if self.closing:
                    return
                self.send_message(OP_TEXT, b"tick %d" % i)
        except OSError:
            pass

    def send_message(self, opcode, payload):
        self.send(build_frame(opcode, payload))
        if opcode in (OP_TEXT, OP_BINARY):
            with self.stats.lock:
                self.stats.bytes_out += len(payload)
                self.record["bytes_out"] += len(payload)

    def flood(self, n, size):
        sent = 0
        i = 0
        try:
            while sent < n and not self.closing:
                piece = flood_message(i, min(size, n - sent))
                self.send(build_frame(OP_BINARY, piece))
                sent += len(piece)
                i += 1
                with self.stats.lock:
                    self.stats.bytes_out += len(piece)
                    self.record["bytes_out"] += len(piece)
                    self.record["flood_sent"] = sent
        except OSError:
            pass

    def close_with(self, code, reason=b""):
        self.closing = True
        try:
            self.send(build_frame(OP_CLOSE, struct.pack("!H", code) + reason))
        except OSError:
            pass

    def hold(self, limit=30.0):
        """After the client's FIN: keeps the connection open while the peer does, probing
        with a ping every 100 ms (a write to a socket the peer closed fails within two)."""
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                time.sleep(0.1)
                self.send(build_frame(OP_PING, b"hold"))
        except OSError:
            pass

    def echo_loop(self, req):
        fragments = None  # (opcode, [payloads]) of a message in progress
        size = 0
        while True:
            r = parse_frame(self.buf)
            if r is None:
                try:
                    more = self.recv_more()
                except ConnectionResetError:
                    self.end("reset")
                    return
                if not more:
                    self.end("eof")
                    with self.stats.lock:
                        self.record["eof_at"] = time.time()
                    if req.query.get("eof_reply") == "1":
                        with self.stats.lock:
                            count = self.record["messages"]
                        self.send_message(OP_TEXT, b"eof after %d messages" % count)
                        self.close_with(1000)
                    elif req.query.get("hold") == "1":
                        self.hold()
                    return
                continue
            fin, rsv, opcode, masked, payload, end = r
            del self.buf[:end]
            if not masked:
                self.close_with(1002, b"unmasked client frame")
                self.end("error")
                return
            if rsv:
                self.close_with(1002, b"RSV bits without an extension")
                self.end("error")
                return
            if opcode >= 0x8:  # control frames: never fragmented, at most 125 bytes
                if not fin or len(payload) > 125:
                    self.close_with(1002, b"bad control frame")
                    self.end("error")
                    return
                if opcode == OP_PING:
                    self.send(build_frame(OP_PONG, payload))
                elif opcode == OP_CLOSE:
                    self.end("close_frame")
                    code = payload[:2] if len(payload) >= 2 else b""
                    self.closing = True
                    self.send(build_frame(OP_CLOSE, code))
                    try:
                        self.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                continue  # pong: ignored
            if opcode == OP_CONT:
                if fragments is None:
                    self.close_with(1002, b"continuation without a message")
                    self.end("error")
                    return
                fragments[1].append(payload)
            elif opcode in (OP_TEXT, OP_BINARY):
                if fragments is not None:
                    self.close_with(1002, b"new message inside a fragmented one")
                    self.end("error")
                    return
                fragments = (opcode, [payload])
                size = 0
            else:
                self.close_with(1002, b"unknown opcode")
                self.end("error")
                return
            size += len(payload)
            if size > MAX_MESSAGE:
                self.close_with(1009, b"message too big")
                self.end("error")
                return
            if not fin:
                continue
            op, parts = fragments
            fragments = None
            message = b"".join(parts)
            if op == OP_TEXT:
                try:
                    message.decode("utf-8")
                except UnicodeDecodeError:
                    self.close_with(1007, b"text is not UTF-8")
                    self.end("error")
                    return
            with self.stats.lock:
                self.stats.messages += 1
                self.stats.bytes_in += len(message)
                self.record["messages"] += 1
                self.record["bytes_in"] += len(message)
            self.send_message(op, message)


class Server:
    def __init__(self, name, listens):
        self.name = name
        self.stats = Stats(name)
        self.listeners = []
        for spec in listens:
            host, _, port = spec.rpartition(":")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host or "127.0.0.1", int(port)))
            s.listen(256)
            self.listeners.append(s)

    def serve_forever(self):
        for s in self.listeners:
            host, port = s.getsockname()
            print("listening on %s:%d" % (host, port), flush=True)
        threads = [threading.Thread(target=self.accept_loop, args=(s,), daemon=True)
                   for s in self.listeners[1:]]
        for t in threads:
            t.start()
        self.accept_loop(self.listeners[0])

    def accept_loop(self, listener):
        while True:
            sock, addr = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(self, sock, addr)
            threading.Thread(target=conn.run, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", action="append", default=[],
                    help="HOST:PORT to listen on (repeatable; port 0 picks one)")
    ap.add_argument("--name", default="ws")
    args = ap.parse_args()
    server = Server(args.name, args.listen or ["127.0.0.1:0"])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
