#!/usr/bin/env python3
"""A small HTTP/1.1 backend for testing and demonstrating ringway.

    python3 tests/backend/backend.py --listen 127.0.0.1:3001 --name web1

It is written on raw sockets (one thread per connection) so that every byte on the wire is
under our control: keep-alive, pipelining, chunked bodies both ways, close-delimited bodies
and deliberately broken responses. Every response carries `X-Backend: <name>`.

Endpoints (any path not listed answers 200 "hello from <name>"):

    /echo                  JSON of the request: method, target, version, headers (in order),
                           body length, body sha256, whether the body came chunked, trailers
    /headers               like /echo without the body fields
    /status/<code>         that status with a short body (none for 204 and 304)
    /slow?ms=N             wait N ms before the response head
    /slow-body?ms=N        send the head, wait N ms, then the body
    /bytes?n=N             N bytes of the deterministic pattern, with Content-Length
    /chunked?n=N&size=S    N pattern bytes in chunks of S (add trailers=1 for a trailer field)
    /close-delimited?n=N   N pattern bytes with neither Content-Length nor chunked, then close
    /close-mid?n=N         Content-Length: N, sends N/2 bytes, then closes
    /sink                  reads a body of any size (streamed), answers {length, sha256}
    /bad-response          sends bytes that are not HTTP, then closes
    /drop                  closes the connection without answering
    /stats                 {requests, connections, accepted, bad_requests, targets, paths,
                           health} since start (paths: requests per path, query left out)
    /reset-stats           zeroes the counters
    /health                a health-check target: answers the health status (200 unless set
                           otherwise), after the delay; counted in `health`, not `requests`
    /set?K=V&...           changes the behaviour at run time (keys as the options below:
                           delay_ms, status, health, drop, reset); answers the new settings

`?pause_ms=N` on any endpoint waits N ms before reading the request body.
`?read_kbps=N` on any endpoint reads the request body at about N KiB/s (a slow reader).
`/upgrade?stall=1` answers 101 and then reads nothing more (holding the connection open for
up to 5 minutes), as a backend does that stops reading its side of a tunnel.
`?close=1` on any endpoint answers with `Connection: close` and closes afterwards.
/stats, /reset-stats, /set and /health are not counted in `requests` and `connections`;
/health requests are counted in `health` {checks, method, host, target} (the last one's).
`connections` counts connections that carried at least one counted request since the last
reset; `accepted` counts every accept (health probes' bare TCP connections included).

`--idle-ms N` closes keep-alive connections idle for N ms between requests.
`--drop-nth N` reads the Nth request on each connection and closes without answering, as a
server does that closes a keep-alive connection just as a request arrives.

Failure modes for health checking and retries (each also settable with /set; none of them
touches /stats, /reset-stats, /set or /health):

`--delay-ms N` waits N ms before answering every request (/health included), as a slow
backend does.
`--status N` answers every request with status N (0: normal behaviour).
`--health-status N` is the status /health answers (default 200).
`--drop-all` reads each request, body included, and closes the connection without answering.
`--reset` makes those closes (and --drop-nth's, and /drop's) resets (RST) instead of FINs.

On start-up it prints "listening on 127.0.0.1:PORT" per listener (port 0 picks a free port and
the real one is printed) and flushes stdout.

The pattern served by /bytes and friends is `pattern(n)`; tests import this module to check
what they received.
"""

import argparse
import collections
import hashlib
import json
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

# ---------------------------------------------------------------------------------------------
# The deterministic byte pattern: a 1 MiB block of SHAKE-256 output, repeated.

_BLOCK = hashlib.shake_256(b"ringway test pattern").digest(1 << 20)
_BLOCK2 = _BLOCK + _BLOCK  # lets any offset inside the block slice a full block


def pattern_pieces(n, offset=0, piece=len(_BLOCK)):
    """Yields memoryviews that together are bytes [offset, offset + n) of the pattern."""
    view = memoryview(_BLOCK2)
    pos = offset
    end = offset + n
    while pos < end:
        start = pos % len(_BLOCK)
        take = min(piece, end - pos, len(_BLOCK))
        yield view[start:start + take]
        pos += take


def pattern(n, offset=0):
    """Bytes [offset, offset + n) of the pattern."""
    return b"".join(bytes(p) for p in pattern_pieces(n, offset))


def pattern_sha256(n):
    h = hashlib.sha256()
    for p in pattern_pieces(n):
        h.update(p)
    return h.hexdigest()


def write_pattern_file(path, n):
    with open(path, "wb") as f:
        for p in pattern_pieces(n):
            f.write(p)


# ---------------------------------------------------------------------------------------------

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Content Too Large",
    417: "Expectation Failed", 418: "I'm a teapot", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_HEAD = 1 << 20
RECV_SIZE = 1 << 18


class BadRequest(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


class PeerClosed(Exception):
    pass


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.generation = 0
        self.requests = 0
        self.connections = 0
        self.accepted = 0
        self.bad_requests = 0
        self.targets = collections.deque(maxlen=1000)
        self.paths = collections.Counter()
        self.health = {"checks": 0, "method": None, "host": None, "target": None}

    def on_accept(self):
        with self.lock:
            self.accepted += 1

    def on_request(self, conn_state, target, bad=False):
        with self.lock:
            self.requests += 1
            if bad:
                self.bad_requests += 1
            self.targets.append(target)
            self.paths[target.partition("?")[0]] += 1
            if conn_state.get("generation") != self.generation:
                conn_state["generation"] = self.generation
                self.connections += 1

    def reset(self):
        with self.lock:
            self.generation += 1
            self.requests = self.connections = self.accepted = self.bad_requests = 0
            self.targets.clear()
            self.paths.clear()
            self.health = {"checks": 0, "method": None, "host": None, "target": None}

    def on_health(self, req):
        with self.lock:
            hosts = req.get_all("host")
            self.health = {"checks": self.health["checks"] + 1, "method": req.method,
                           "host": hosts[0] if hosts else None, "target": req.target}

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "connections": self.connections,
                    "accepted": self.accepted, "bad_requests": self.bad_requests,
                    "targets": list(self.targets), "paths": dict(self.paths),
                    "health": dict(self.health)}


class Reader:
    """Buffered reads from a socket; keeps what was read past one message for the next."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise PeerClosed()
        self.buf += data

    def read_head(self):
        """Returns the bytes of one message head without the final CRLFCRLF, or None at a
        clean end of stream between messages."""
        scan = 0
        while True:
            # Empty lines before a request line are ignored (RFC 9112, section 2.2).
            while self.buf[:2] == b"\r\n":
                del self.buf[:2]
            idx = self.buf.find(b"\r\n\r\n", scan)
            if idx >= 0:
                head = bytes(self.buf[:idx])
                del self.buf[:idx + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise BadRequest(431, "head too large")
            scan = max(0, len(self.buf) - 3)
            try:
                self._fill()
            except PeerClosed:
                if not self.buf:
                    return None
                raise

    def read_line(self, limit=8192):
        while True:
            idx = self.buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self.buf[:idx])
                del self.buf[:idx + 2]
                return line
            if len(self.buf) > limit:
                raise BadRequest(400, "line too long")
            self._fill()

    def read_into(self, n, consume, rate=0):
        """Reads exactly n bytes, handing each piece to consume(); `rate` (bytes a second, 0:
        as fast as they come) paces the socket reads."""
        left = n
        if self.buf:
            take = min(left, len(self.buf))
            consume(bytes(self.buf[:take]))
            del self.buf[:take]
            left -= take
        scratch = bytearray(RECV_SIZE)
        view = memoryview(scratch)
        piece = min(RECV_SIZE, max(1024, rate // 10)) if rate else RECV_SIZE
        start = time.monotonic()
        done = 0
        while left > 0:
            got = self.sock.recv_into(view, min(left, piece))
            if got == 0:
                raise PeerClosed()
            consume(view[:got])
            left -= got
            if rate:
                done += got
                ahead = done / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)


class Request:
    def __init__(self):
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers = []  # [name, value] as received
        self.body_length = 0
        self.body_sha256 = hashlib.sha256().hexdigest()
        self.chunked = False
        self.trailers = []

    def get_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def connection_tokens(self):
        tokens = set()
        for v in self.get_all("connection"):
            tokens.update(t.strip().lower() for t in v.split(",") if t.strip())
        return tokens


def parse_head(head):
    req = Request()
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest(400, "bad request line")
    method, target, version = parts
    if not all(c in TOKEN_CHARS for c in method):
        raise BadRequest(400, "bad method")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(400, "bad version")
    if any(c <= 0x20 or c == 0x7f for c in target):
        raise BadRequest(400, "bad target")
    req.method = method.decode("latin-1")
    req.target = target.decode("latin-1")
    req.version = version.decode("latin-1")
    for line in lines[1:]:
        if not line:
            raise BadRequest(400, "empty line inside head")
        if line[0] in b" \t":
            raise BadRequest(400, "obs-fold")
        name, sep, value = line.partition(b":")
        if not sep or not name or not all(c in TOKEN_CHARS for c in name):
            raise BadRequest(400, "bad field name")
        if any((c < 0x20 and c != 0x09) or c == 0x7f for c in value):
            raise BadRequest(400, "control character in field value")
        req.headers.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1")])
    return req


def body_framing(req):
    """Returns ("none"|"length"|"chunked", length)."""
    te = req.get_all("transfer-encoding")
    cl = req.get_all("content-length")
    if te:
        if cl:
            raise BadRequest(400, "both Content-Length and Transfer-Encoding")
        codings = [c.strip().lower() for v in te for c in v.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise BadRequest(501 if "chunked" not in codings else 400, "unsupported coding")
        return "chunked", 0
    if cl:
        values = {v.strip() for v in cl}
        if len(values) != 1:
            raise BadRequest(400, "conflicting Content-Length")
        v = values.pop()
        if not v.isdigit() or not v.isascii():
            raise BadRequest(400, "bad Content-Length")
        return "length", int(v)
    return "none", 0


def read_body(reader, req, framing, length, rate=0):
    h = hashlib.sha256()
    total = [0]

    def consume(piece):
        h.update(piece)
        total[0] += len(piece)

    if framing == "length":
        reader.read_into(length, consume, rate)
    elif framing == "chunked":
        req.chunked = True
        while True:
            line = reader.read_line()
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise BadRequest(400, "bad chunk size")
            if len(size_text) > 15:
                raise BadRequest(400, "chunk size too large")
            size = int(size_text, 16)
            if size == 0:
                while True:
                    t = reader.read_line()
                    if not t:
                        break
                    name, _, value = t.partition(b":")
                    req.trailers.append([name.decode("latin-1"),
                                         value.strip().decode("latin-1")])
                break
            reader.read_into(size, consume, rate)
            if reader.read_line(limit=2) != b"":
                raise BadRequest(400, "chunk data not followed by CRLF")
    req.body_length = total[0]
    req.body_sha256 = h.hexdigest()


class Connection:
    def __init__(self, server, sock):
        self.server = server
        self.sock = sock
        self.reader = Reader(sock)
        self.state = {}

    def send(self, data):
        self.sock.sendall(data)

    def head_bytes(self, status, fields, close, version="HTTP/1.1"):
        lines = ["%s %d %s" % (version, status, REASONS.get(status, "Status"))]
        lines.append("X-Backend: " + self.server.name)
        for n, v in fields:
            lines.append("%s: %s" % (n, v))
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def respond(self, req, status, body=b"", content_type="text/plain", close=False,
                extra=()):
        fields = list(extra)
        no_body = status in (204, 304) or 100 <= status < 200
        if not no_body:
            fields.append(("Content-Type", content_type))
            fields.append(("Content-Length", str(len(body))))
        if req is not None and req.version == "HTTP/1.0" and not close:
            fields.append(("Connection", "keep-alive"))
        data = self.head_bytes(status, fields, close)
        if not no_body and (req is None or req.method != "HEAD"):
            data += body
        self.send(data)

    def serve(self):
        try:
            while True:
                if not self.one_request():
                    break
        except (PeerClosed, ConnectionError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def one_request(self):
        """Handles one request; returns whether the connection stays open."""
        idle_ms = self.server.idle_ms
        if idle_ms and self.state.get("served") and not self.reader.buf:
            readable, _, _ = select.select([self.sock], [], [], idle_ms / 1000.0)
            if not readable:
                return False  # idle keep-alive connection: close it
        self.state["served"] = True
        try:
            head = self.reader.read_head()
        except BadRequest as e:
            self.server.stats.on_request(self.state, "<unparsed>", bad=True)
            self.respond(None, e.status, b"%s\n" % str(e).encode(), close=True)
            return False
        if head is None:
            return False
        try:
            req = parse_head(head)
        except BadRequest as e:
            target = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
            self.server.stats.on_request(self.state, target, bad=True)
            self.respond(None, e.status, b"%s\n" % str(e).encode(), close=True)
            return False

        path, _, query = req.target.partition("?")
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        counted = path not in CONTROL_PATHS
        try:
            framing, length = body_framing(req)
        except BadRequest as e:
            if counted:
                self.server.stats.on_request(self.state, req.target, bad=True)
            self.respond(req, e.status, b"%s\n" % str(e).encode(), close=True)
            return False
        if counted:
            self.server.stats.on_request(self.state, req.target)
        self.state["nth"] = self.state.get("nth", 0) + 1
        if self.server.drop_nth and self.state["nth"] == self.server.drop_nth:
            return self.drop()  # close without a response

        expects = [v.lower() for v in req.get_all("expect")]
        if "100-continue" in expects and (framing == "chunked" or length > 0) \
                and req.version == "HTTP/1.1":
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "pause_ms" in params:
            # Lets a test hold a request body in flight (flow control, memory bounds).
            try:
                time.sleep(max(0, int(params["pause_ms"])) / 1000.0)
            except ValueError:
                pass
        rate = 0
        if "read_kbps" in params:
            try:
                rate = max(0, int(params["read_kbps"])) * 1024
            except ValueError:
                pass
        try:
            read_body(self.reader, req, framing, length, rate)
        except BadRequest as e:
            self.respond(req, e.status, b"%s\n" % str(e).encode(), close=True)
            return False

        tokens = req.connection_tokens()
        if req.version == "HTTP/1.0":
            close = "keep-alive" not in tokens
        else:
            close = "close" in tokens
        if params.get("close") == "1":
            close = True

        server = self.server
        if counted and server.drop_all:
            return self.drop()  # the whole request was read; no answer
        if (counted or path == "/health") and server.delay_ms:
            time.sleep(server.delay_ms / 1000.0)
        if path == "/health":
            server.stats.on_health(req)
            code = server.health_status
            self.respond(req, code, b"health %d from %s\n" % (code, server.name.encode()),
                         close=close)
            return not close
        if counted and server.status:
            code = server.status
            self.respond(req, code, b"status %d from %s\n" % (code, server.name.encode()),
                         close=close)
            return not close
        return self.dispatch(req, path, params, close)

    def drop(self):
        """Ends the connection unanswered: a FIN, or a reset with --reset. Returns False."""
        if self.server.reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            except OSError:
                pass
        return False

    def dispatch(self, req, path, params, close):
        name = self.server.name

        def num(key, default=0):
            try:
                return max(0, int(params.get(key, default)))
            except ValueError:
                return default

        if path == "/echo" or path == "/headers":
            info = {"backend": name, "method": req.method, "target": req.target,
                    "version": req.version, "headers": req.headers}
            if path == "/echo":
                info.update({"body_length": req.body_length, "body_sha256": req.body_sha256,
                             "chunked": req.chunked, "trailers": req.trailers})
            body = (json.dumps(info) + "\n").encode()
            self.respond(req, 200, body, "application/json", close)
        elif path == "/sink":
            body = (json.dumps({"length": req.body_length, "sha256": req.body_sha256}) +
                    "\n").encode()
            self.respond(req, 200, body, "application/json", close)
        elif path.startswith("/status/"):
            try:
                code = int(path[len("/status/"):])
            except ValueError:
                code = 0
            if not 200 <= code <= 599:
                self.respond(req, 400, b"bad status code\n", close=True)
                return False
            self.respond(req, code, b"status %d from %s\n" % (code, name.encode()),
                         close=close)
        elif path == "/slow":
            time.sleep(num("ms") / 1000.0)
            self.respond(req, 200, b"slow %d from %s\n" % (num("ms"), name.encode()),
                         close=close)
        elif path == "/slow-body":
            body = b"slow body from %s\n" % name.encode()
            self.send(self.head_bytes(200, [("Content-Type", "text/plain"),
                                            ("Content-Length", str(len(body)))], close))
            time.sleep(num("ms") / 1000.0)
            if req.method != "HEAD":
                self.send(body)
        elif path == "/bytes":
            n = num("n")
            self.send(self.head_bytes(200, [("Content-Type", "application/octet-stream"),
                                            ("Content-Length", str(n))], close))
            if req.method != "HEAD":
                for piece in pattern_pieces(n):
                    self.send(piece)
        elif path == "/chunked":
            n = num("n")
            size = max(1, num("size", 4096))
            trailers = params.get("trailers") == "1"
            fields = [("Content-Type", "application/octet-stream"),
                      ("Transfer-Encoding", "chunked")]
            if trailers:
                fields.append(("Trailer", "X-Trailer"))
            self.send(self.head_bytes(200, fields, close))
            if req.method != "HEAD":
                for piece in pattern_pieces(n, piece=size):
                    self.send(b"%x\r\n" % len(piece) + bytes(piece) + b"\r\n")
                self.send(b"0\r\nX-Trailer: yes\r\n\r\n" if trailers else b"0\r\n\r\n")
        elif path == "/close-delimited":
            n = num("n")
            self.send(self.head_bytes(200, [("Content-Type", "application/octet-stream")],
                                      True))
            if req.method != "HEAD":
                for piece in pattern_pieces(n):
                    self.send(piece)
            self.shutdown_write()
            return False
        elif path == "/close-mid":
            n = num("n")
            self.send(self.head_bytes(200, [("Content-Type", "application/octet-stream"),
                                            ("Content-Length", str(n))], False))
            for piece in pattern_pieces(n // 2):
                self.send(piece)
            self.shutdown_write()
            return False
        elif path == "/bad-response":
            self.send(b"THIS IS NOT HTTP AT ALL\r\n\r\n")
            self.shutdown_write()
            return False
        elif path == "/drop":
            return self.drop()
        elif path == "/interim":
            # n interim (103) responses, then the final one.
            for _ in range(num("n", 1)):
                self.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
            self.respond(req, 200, b"final\n", close=close)
        elif path == "/extra":
            # A response followed by bytes that belong to no response.
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: %s\r\n\r\n"
                      b"hiEXTRA-BYTES" % name.encode())
        elif path == "/upgrade":
            # 101 to any Upgrade request, then echo raw bytes back until the peer closes.
            proto = req.get_all("upgrade")
            if not proto:
                self.respond(req, 426, b"upgrade required\n", close=close)
                return not close
            self.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                      b"Upgrade: %s\r\nX-Backend: %s\r\n\r\n"
                      % (proto[0].encode("latin-1"), name.encode()))
            if params.get("stall") == "1":
                time.sleep(300)  # never reads again; the test ends long before
                return False
            data = bytes(self.reader.buf)
            self.reader.buf.clear()
            while True:
                if data:
                    self.send(data)
                data = self.sock.recv(RECV_SIZE)
                if not data:
                    return False
        elif path == "/stats":
            body = (json.dumps(self.server.stats.snapshot()) + "\n").encode()
            self.respond(req, 200, body, "application/json", close)
        elif path == "/reset-stats":
            self.server.stats.reset()
            self.respond(req, 200, b"reset\n", close=close)
        elif path == "/set":
            try:
                self.server.configure(params)
            except ValueError as e:
                self.respond(req, 400, b"%s\n" % str(e).encode(), close=True)
                return False
            body = (json.dumps(self.server.settings()) + "\n").encode()
            self.respond(req, 200, body, "application/json", close)
        else:
            self.respond(req, 200, b"hello from %s\n" % name.encode(), close=close)
        return not close

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


CONTROL_PATHS = frozenset(("/stats", "/reset-stats", "/set", "/health"))


class Server:
    SETTINGS = ("delay_ms", "status", "health", "drop", "reset")

    def __init__(self, name, idle_ms=0, drop_nth=0, delay_ms=0, status=0, health_status=200,
                 drop_all=False, reset=False):
        self.name = name
        self.idle_ms = idle_ms
        self.drop_nth = drop_nth
        self.delay_ms = delay_ms
        self.status = status
        self.health_status = health_status
        self.drop_all = drop_all
        self.reset = reset
        self.stats = Stats()
        self.listeners = []

    def configure(self, params):
        """Applies /set?delay_ms=N&status=N&health=N&drop=0|1&reset=0|1."""
        unknown = set(params) - set(self.SETTINGS)
        if unknown:
            raise ValueError("unknown setting(s) %s" % ", ".join(sorted(unknown)))
        values = {}
        for k, v in params.items():
            if not v.isdigit():
                raise ValueError("%s must be a number" % k)
            values[k] = int(v)
        for k in ("status", "health"):
            if k in values and values[k] != 0 and not 200 <= values[k] <= 599:
                raise ValueError("%s must be 0 or 200..599" % k)
        if "health" in values and values["health"] == 0:
            raise ValueError("health must be 200..599")
        if "delay_ms" in values:
            self.delay_ms = values["delay_ms"]
        if "status" in values:
            self.status = values["status"]
        if "health" in values:
            self.health_status = values["health"]
        if "drop" in values:
            self.drop_all = bool(values["drop"])
        if "reset" in values:
            self.reset = bool(values["reset"])

    def settings(self):
        return {"delay_ms": self.delay_ms, "status": self.status,
                "health": self.health_status, "drop": int(self.drop_all),
                "reset": int(self.reset)}

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
            self.stats.on_accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=Connection(self, conn).serve, daemon=True)
            t.start()

    def start(self):
        for sock in self.listeners:
            threading.Thread(target=self.accept_loop, args=(sock,), daemon=True).start()


def main(argv=None):
    ap = argparse.ArgumentParser(description="HTTP/1.1 test backend for ringway")
    ap.add_argument("--listen", action="append", default=[],
                    help="address to listen on, e.g. 127.0.0.1:3001 (port 0: any free port);"
                         " may be repeated")
    ap.add_argument("--name", default="backend", help="value of the X-Backend header")
    ap.add_argument("--idle-ms", type=int, default=0,
                    help="close a keep-alive connection idle this long between requests"
                         " (0: never)")
    ap.add_argument("--drop-nth", type=int, default=0,
                    help="close each connection, unanswered, when its Nth request arrives"
                         " (0: never)")
    ap.add_argument("--delay-ms", type=int, default=0,
                    help="wait this long before answering every request, /health included")
    ap.add_argument("--status", type=int, default=0,
                    help="answer every request with this status (0: normal behaviour)")
    ap.add_argument("--health-status", type=int, default=200,
                    help="the status /health answers (default 200)")
    ap.add_argument("--drop-all", action="store_true",
                    help="read each request, body included, then close without answering")
    ap.add_argument("--reset", action="store_true",
                    help="end unanswered connections with a reset (RST) instead of a FIN")
    args = ap.parse_args(argv)
    if not args.listen:
        args.listen = ["127.0.0.1:3001"]
    for flag, code in (("--status", args.status), ("--health-status", args.health_status)):
        if code and not 200 <= code <= 599:
            ap.error("%s must be 0 or 200..599" % flag)

    server = Server(args.name, idle_ms=args.idle_ms, drop_nth=args.drop_nth,
                    delay_ms=max(0, args.delay_ms), status=args.status,
                    health_status=args.health_status or 200, drop_all=args.drop_all,
                    reset=args.reset)
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
