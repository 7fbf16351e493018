#!/usr/bin/env python3
"""Opens many HTTP/1.1 keep-alive connections to a proxy and holds them, for memory measurements.

    perf/hold_conns.py --port PORT --conns N --path /small --body-size 13 --mode idle \\
        --release-file FILE

Modes:
  idle   each connection sends one GET and reads its whole response (Content-Length bytes of
         body), then stays open and idle.
  stall  each connection sends one GET and then reads nothing; after the release, every response
         is read to its end and its body counted.

Once every connection is held (or has failed), one JSON line with "event": "held" goes to stdout;
the caller measures the proxy from outside, then creates FILE (--release-file). In idle mode the
connections are then closed; in stall mode each response is read to its end first. A last JSON
line, "event": "done", sums up the run: the connections that failed, and the first error among
them, must be 0 and null. Every phase has a deadline, so the run ends on its own even when the
proxy stops answering or FILE never appears.

Connections come from the source addresses 127.0.0.2 to 127.0.0.9 in turn, each bound with
IP_BIND_ADDRESS_NO_PORT, so that the kernel picks the port at connect() for the whole 4-tuple:
the ephemeral port range of one source address does not bound the count. At most --parallel
connections are connecting or awaiting their first response at once, so that the proxy's listen
backlog never overflows (a dropped SYN is retried only after a second).
"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import time

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h; not in Python's socket module
RECV_BYTES = 256 * 1024


class Conn:
    __slots__ = ("sock", "source", "index", "state", "out", "head", "body_left", "started")

    def __init__(self, sock, source, index):
        self.sock = sock
        self.source = source
        self.index = index
        self.state = "connecting"  # connecting, sending, reading, held, done, failed
        self.out = b""
        self.head = bytearray()
        self.body_left = None  # body bytes still to come once the head is parsed
        self.started = time.monotonic()


class Run:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                        % (args.path, args.host, args.port)).encode()
        self.sources = expand_sources(args.sources)
        self.failed = 0
        self.first_error = None
        self.buf = bytearray(RECV_BYTES)

    def fail(self, c, why):
        if self.first_error is None:
            self.first_error = "connection %d from %s: %s" % (c.index, c.source, why)
        self.failed += 1
        c.state = "failed"
        self.drop(c)

    def drop(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def open_one(self, index):
        source = self.sources[index % len(self.sources)]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c = Conn(s, source, index)
        try:
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((source, 0))
            rc = s.connect_ex((self.args.host, self.args.port))
        except OSError as e:
            self.fail(c, "connect: %s" % e)
            return None
        if rc not in (0, errno.EINPROGRESS):
            self.fail(c, "connect: %s" % os.strerror(rc))
            return None
        self.sel.register(s, selectors.EVENT_WRITE, c)
        return c

    def on_writable(self, c):
        if c.state == "connecting":
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail(c, "connect: %s" % os.strerror(err))
                return
            c.state = "sending"
            c.out = self.request
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            return
        except OSError as e:
            self.fail(c, "send: %s" % e)
            return
        c.out = c.out[n:]
        if c.out:
            return
        if self.args.mode == "idle":
            c.state = "reading"
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
        else:  # stall: nothing is read until the release
            c.state = "held"
            self.sel.unregister(c.sock)

    # Reads what is there; returns True once the whole response has come.
    def on_readable(self, c):
        try:
            n = c.sock.recv_into(self.buf)
        except BlockingIOError:
            return False
        except OSError as e:
            self.fail(c, "recv: %s" % e)
            return False
        if n == 0:
            got = ("%d body bytes short" % c.body_left if c.body_left is not None
                   else "%d bytes of head" % len(c.head))
            self.fail(c, "closed by the proxy before the response ended (%s)" % got)
            return False
        data = memoryview(self.buf)[:n]
        if c.body_left is None:
            c.head += data
            end = c.head.find(b"\r\n\r\n")
            if end < 0:
                if len(c.head) > 64 * 1024:
                    self.fail(c, "response head over 64 KiB")
                return False
            why = self.parse_head(c, bytes(c.head[:end]))
            if why:
                self.fail(c, why)
                return False
            rest = len(c.head) - end - 4
            c.head = bytearray()
            c.body_left -= rest
        else:
            c.body_left -= n
        if c.body_left < 0:
            self.fail(c, "%d bytes more than Content-Length" % -c.body_left)
            return False
        return c.body_left == 0

    def parse_head(self, c, head):
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "200":
            return "status line %r" % lines[0]
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return "no Content-Length in the response"
        if length != self.args.body_size:
            return "Content-Length %d, expected %d" % (length, self.args.body_size)
        c.body_left = length
        return None

    # Opens every connection, at most --parallel of them unfinished at once, until each is held
    # or failed or the deadline passes. Returns the held ones.
    def open_all(self):
        a = self.args
        deadline = time.monotonic() + a.open_timeout
        pending = {}  # id(conn) -> conn, connecting or awaiting the response
        held = []
        next_index = 0
        while next_index < a.conns or pending:
            now = time.monotonic()
            if now >= deadline:
                for c in list(pending.values()):
                    self.fail(c, "no %s within %.0f s (open phase deadline)"
                              % ("response" if c.state == "reading" else "connection",
                                 a.open_timeout))
                pending.clear()
                self.failed += a.conns - next_index
                if next_index < a.conns and self.first_error is None:
                    self.first_error = "%d connections never attempted before the deadline" % (
                        a.conns - next_index)
                break
            while next_index < a.conns and len(pending) < a.parallel:
                c = self.open_one(next_index)
                next_index += 1
                if c is not None:
                    pending[id(c)] = c
            for key, events in self.sel.select(timeout=0.05):
                c = key.data
                if c.state == "held":  # idle mode: answered already, and now closed or written to
                    self.on_idle_event(c)
                    continue
                if c.state in ("connecting", "sending") and events & selectors.EVENT_WRITE:
                    self.on_writable(c)
                elif c.state == "reading" and events & selectors.EVENT_READ:
                    if self.on_readable(c):
                        c.state = "held"
                if c.state in ("held", "failed"):
                    pending.pop(id(c), None)
                    if c.state == "held":
                        held.append(c)
            for c in list(pending.values()):
                if now - c.started > a.conn_timeout:
                    pending.pop(id(c))
                    self.fail(c, "no %s within %.0f s"
                              % ("response" if c.state == "reading" else "connection",
                                 a.conn_timeout))
        return held

    # Idle mode: watches the held connections (any byte or end of stream from the proxy while
    # idle is a failure) until the release file appears or --max-hold passes.
    def hold(self, held):
        def watch():
            for key, _ in self.sel.select(timeout=0.1):
                self.on_idle_event(key.data)
        released_by = self.wait_for_release(watch)
        closed_while_held = sum(1 for c in held if c.state == "failed")
        return released_by, closed_while_held

    # Runs `tick` (which waits a little) until the release file appears ("file") or --max-hold
    # passes ("timeout").
    def wait_for_release(self, tick):
        a = self.args
        deadline = time.monotonic() + a.max_hold
        while time.monotonic() < deadline:
            if a.release_file and os.path.exists(a.release_file):
                return "file"
            tick()
        return "timeout"

    # An event on an answered, idle connection: the proxy closed it or sent something unasked.
    def on_idle_event(self, c):
        try:
            n = c.sock.recv_into(self.buf)
        except BlockingIOError:
            return
        except OSError as e:
            self.fail(c, "while idle: %s" % e)
            return
        self.fail(c, "closed by the proxy while idle" if n == 0
                  else "%d unexpected bytes while idle" % n)

    # Stall mode: waits for the release without reading, then reads every response to its end.
    def stall_then_read(self, held):
        a = self.args
        released_by = self.wait_for_release(lambda: time.sleep(0.05))
        t0 = time.monotonic()
        for c in held:
            c.state = "reading"
            self.sel.register(c.sock, selectors.EVENT_READ, c)
        left = len(held)
        completed = 0
        read_deadline = t0 + a.read_timeout
        while left and time.monotonic() < read_deadline:
            for key, _ in self.sel.select(timeout=0.1):
                c = key.data
                if c.state != "reading":
                    continue
                if self.on_readable(c):
                    c.state = "done"
                    completed += 1
                    self.drop(c)
                if c.state != "reading":
                    left -= 1
        for c in held:
            if c.state == "reading":
                self.fail(c, "response not complete within %.0f s of the release (%d body bytes "
                          "short)" % (a.read_timeout, c.body_left if c.body_left is not None
                                      else a.body_size))
        return released_by, completed, time.monotonic() - t0


def expand_sources(spec):
    # "127.0.0.2-127.0.0.9" or a comma list.
    if "-" in spec:
        first, last = spec.split("-")
        head, lo = first.rsplit(".", 1)
        head2, hi = last.rsplit(".", 1)
        if head != head2:
            raise SystemExit("--sources: a range must stay within one /24: %s" % spec)
        return ["%s.%d" % (head, i) for i in range(int(lo), int(hi) + 1)]
    return spec.split(",")


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/small")
    p.add_argument("--body-size", type=int, default=13, help="expected Content-Length")
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--mode", choices=("idle", "stall"), default="idle")
    p.add_argument("--sources", default="127.0.0.2-127.0.0.9",
                   help="source addresses, a range a.b.c.X-a.b.c.Y or a comma list")
    p.add_argument("--parallel", type=int, default=256,
                   help="most connections connecting or awaiting their response at once")
    p.add_argument("--release-file", help="hold until this file exists")
    p.add_argument("--conn-timeout", type=float, default=10.0,
                   help="seconds for one connection to connect and be answered (idle) or sent")
    p.add_argument("--open-timeout", type=float, default=120.0,
                   help="seconds for opening all connections")
    p.add_argument("--max-hold", type=float, default=300.0,
                   help="seconds to hold at most when the release file does not appear")
    p.add_argument("--read-timeout", type=float, default=120.0,
                   help="stall mode: seconds to read all responses after the release")
    a = p.parse_args()

    # One descriptor per connection: take the hard limit, and say plainly when it cannot do.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and a.conns + 32 > soft:
        raise SystemExit("hold_conns: %d connections need about %d descriptors; the open-file "
                         "limit is %d" % (a.conns, a.conns + 32, soft))

    run = Run(a)
    t0 = time.monotonic()
    held = run.open_all()
    open_s = time.monotonic() - t0
    emit({"event": "held", "mode": a.mode, "conns": a.conns, "held": len(held),
          "failed": run.failed, "open_s": round(open_s, 3), "first_error": run.first_error})

    summary = {"event": "done", "mode": a.mode, "conns": a.conns, "held": len(held),
               "open_s": round(open_s, 3)}
    if a.mode == "idle":
        released_by, closed = run.hold(held)
        summary["closed_while_held"] = closed
        for c in held:
            if c.state == "held":
                run.drop(c)
    else:
        released_by, completed, read_s = run.stall_then_read(held)
        summary["completed"] = completed
        summary["read_s"] = round(read_s, 3)
    summary["released_by"] = released_by
    summary["failed"] = run.failed
    summary["first_error"] = run.first_error
    emit(summary)


if __name__ == "__main__":
    main()
