#!/usr/bin/env python3
"""A gRPC test service for ringway's HTTP/2 upstreams, on python3-grpcio with generic handlers
and raw bytes (no protobuf code generation).

    /usr/bin/python3 tests/backend/grpc_service.py --listen 127.0.0.1:50051 --name g1

Service `test.Echo` (request and response messages are raw bytes; where a method takes
parameters they are a JSON object in the request message):

    Unary          answers the request bytes unchanged. Initial metadata: x-backend; trailing
                   metadata: x-backend, and every request metadata key starting with x-echo-
                   sent back as it came
    ServerStream   {"n": N, "size": S, "interval_ms": I}: N messages, message i is
                   b"<i>:" padded with b"x" to S bytes (at least the prefix), I ms apart
    ClientStream   reads every message; answers JSON {"count", "bytes", "sha256" (of the
                   concatenation), "concat" (the concatenation as latin-1 text when at most
                   4096 bytes, else null)}
    BidiStream     answers each message with the same bytes as it arrives
    Sleep          {"ms": N}: sleeps N ms (in steps, watching the call) and answers b"slept";
                   a call that ends first (deadline, cancellation) is counted in `cancelled`
    Fail           {"code": "NOT_FOUND" (a grpc.StatusCode name) or a number, "message": M,
                   "trailers": [[key, value], ...]}: aborts with that status and message and
                   the trailing metadata (a key ending in -bin takes its value as hex)
    Die            {"n": N, "after_ms": A}: N messages of b"msg <i>", then A ms later the
                   whole process exits (os._exit), mid-stream, with no status sent
    Stats          JSON: {"name", "calls": {method: n}, "completed": {method: n},
                   "cancelled": {method: n}, "metadata": {method: [[k, v], ...] of the last
                   call}, "time_remaining": {method: seconds or null, of the last call},
                   "peers": [the last peers]}
    ResetStats     zeroes the counters

Plus grpc.health.v1.Health/Check, answering a hand-encoded HealthCheckResponse: b"\\x08\\x01"
(SERVING), or b"\\x08\\x02" (NOT_SERVING) with --not-serving.

A call "completes" when its handler returned normally; one that the client cancelled or whose
deadline passed while it ran counts in `cancelled` (seen through the call's context: its
callback and is_active()). Stats and ResetStats are not counted.

On start-up it prints "listening on 127.0.0.1:PORT" (port 0 picks a free one) and flushes
stdout.
"""

import argparse
import collections
import hashlib
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "test.Echo"
HEALTH_SERVICE = "grpc.health.v1.Health"


class Stats:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.calls = collections.Counter()
        self.completed = collections.Counter()
        self.cancelled = collections.Counter()
        self.metadata = {}
        self.time_remaining = {}
        self.peers = collections.deque(maxlen=50)

    def snapshot(self):
        with self.lock:
            return {"name": self.name, "calls": dict(self.calls),
                    "completed": dict(self.completed), "cancelled": dict(self.cancelled),
                    "metadata": dict(self.metadata), "time_remaining": dict(self.time_remaining),
                    "peers": list(self.peers)}


def _text(v):
    return v.hex() if isinstance(v, bytes) else v


class Service:
    def __init__(self, name, serving=True):
        self.name = name
        self.serving = serving
        self.stats = Stats(name)

    # -- bookkeeping ---------------------------------------------------------------------------

    def begin(self, method, ctx):
        """Counts the call and watches how it ends; returns a function to call when the
        handler finished normally."""
        state = {"done": False}
        with self.stats.lock:
            self.stats.calls[method] += 1
            self.stats.metadata[method] = [[k, _text(v)] for k, v in ctx.invocation_metadata()]
            self.stats.time_remaining[method] = ctx.time_remaining()
            self.stats.peers.append(ctx.peer())

        def on_end():
            with self.stats.lock:
                if state["done"]:
                    self.stats.completed[method] += 1
                else:
                    self.stats.cancelled[method] += 1

        def finished():
            state["done"] = True

        ctx.add_callback(on_end)
        return finished

    @staticmethod
    def params(request):
        if not request:
            return {}
        try:
            p = json.loads(request.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        return p if isinstance(p, dict) else {}

    # -- test.Echo -----------------------------------------------------------------------------

    def unary(self, request, ctx):
        finished = self.begin("Unary", ctx)
        ctx.send_initial_metadata([("x-backend", self.name)])
        echo = [(k, v) for k, v in ctx.invocation_metadata() if k.startswith("x-echo-")]
        ctx.set_trailing_metadata([("x-backend", self.name)] + echo)
        finished()
        return request

    def server_stream(self, request, ctx):
        finished = self.begin("ServerStream", ctx)
        p = self.params(request)
        n = int(p.get("n", 3))
        size = int(p.get("size", 0))
        interval = int(p.get("interval_ms", 0)) / 1000.0
        ctx.send_initial_metadata([("x-backend", self.name)])
        for i in range(n):
            if not ctx.is_active():
                return
            msg = b"%d:" % i
            if size > len(msg):
                msg += b"x" * (size - len(msg))
            yield msg
            if interval and i + 1 < n:
                end = time.monotonic() + interval
                while time.monotonic() < end:
                    if not ctx.is_active():
                        return
                    time.sleep(min(0.01, max(0.0, end - time.monotonic())))
        finished()

    def client_stream(self, request_iterator, ctx):
        finished = self.begin("ClientStream", ctx)
        count = 0
        total = 0
        h = hashlib.sha256()
        parts = []
        for msg in request_iterator:
            count += 1
            total += len(msg)
            h.update(msg)
            if total <= 4096:
                parts.append(msg)
        body = {"count": count, "bytes": total, "sha256": h.hexdigest(),
                "concat": b"".join(parts).decode("latin-1") if total <= 4096 else None}
        finished()
        return json.dumps(body).encode()

    def bidi_stream(self, request_iterator, ctx):
        finished = self.begin("BidiStream", ctx)
        ctx.send_initial_metadata([("x-backend", self.name)])
        for msg in request_iterator:
            yield msg
        finished()

    def sleep(self, request, ctx):
        finished = self.begin("Sleep", ctx)
        ms = int(self.params(request).get("ms", 1000))
        end = time.monotonic() + ms / 1000.0
        while time.monotonic() < end:
            if not ctx.is_active():
                return b""  # the call is over; nothing is sent
            time.sleep(min(0.01, max(0.0, end - time.monotonic())))
        finished()
        return b"slept"

    def fail(self, request, ctx):
        finished = self.begin("Fail", ctx)
        p = self.params(request)
        code = p.get("code", "INTERNAL")
        if isinstance(code, int):
            status = next(s for s in grpc.StatusCode if s.value[0] == code)
        else:
            status = grpc.StatusCode[code]
        md = []
        for k, v in p.get("trailers", []):
            md.append((k, bytes.fromhex(v) if k.endswith("-bin") else v))
        if md:
            ctx.set_trailing_metadata(md)
        finished()  # failing is what it was asked to do
        ctx.abort(status, p.get("message", ""))

    def die(self, request, ctx):
        self.begin("Die", ctx)
        p = self.params(request)
        n = int(p.get("n", 2))
        after = int(p.get("after_ms", 300)) / 1000.0
        for i in range(n):
            yield b"msg %d" % i

        def kill():
            time.sleep(after)
            sys.stderr.write("grpc_service %s: Die: exiting mid-stream\n" % self.name)
            sys.stderr.flush()
            os._exit(3)

        threading.Thread(target=kill, daemon=True).start()
        time.sleep(after + 5)  # never returns: the process is gone first
        yield b"not reached"

    def stats_method(self, request, ctx):
        return json.dumps(self.stats.snapshot()).encode()

    def reset_stats(self, request, ctx):
        with self.stats.lock:
            self.stats.reset()
        return b"reset"

    # -- grpc.health.v1.Health -----------------------------------------------------------------

    def health_check(self, request, ctx):
        return b"\x08\x01" if self.serving else b"\x08\x02"

    def handlers(self):
        echo = grpc.method_handlers_generic_handler(SERVICE, {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self.client_stream),
            "BidiStream": grpc.stream_stream_rpc_method_handler(self.bidi_stream),
            "Sleep": grpc.unary_unary_rpc_method_handler(self.sleep),
            "Fail": grpc.unary_unary_rpc_method_handler(self.fail),
            "Die": grpc.unary_stream_rpc_method_handler(self.die),
            "Stats": grpc.unary_unary_rpc_method_handler(self.stats_method),
            "ResetStats": grpc.unary_unary_rpc_method_handler(self.reset_stats),
        })
        health = grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
            "Check": grpc.unary_unary_rpc_method_handler(self.health_check),
        })
        return [echo, health]


def main(argv=None):
    ap = argparse.ArgumentParser(description="gRPC test service (test.Echo) for ringway")
    ap.add_argument("--listen", default="127.0.0.1:0",
                    help="address to listen on (port 0: any free port)")
    ap.add_argument("--name", default="grpc", help="value of the x-backend metadata")
    ap.add_argument("--not-serving", action="store_true",
                    help="grpc.health.v1.Health/Check answers NOT_SERVING")
    ap.add_argument("--workers", type=int, default=64, help="handler threads")
    args = ap.parse_args(argv)

    svc = Service(args.name, serving=not args.not_serving)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         handlers=svc.handlers(),
                         options=[("grpc.so_reuseport", 0)])
    port = server.add_insecure_port(args.listen)
    if not port:
        sys.stderr.write("cannot listen on %s\n" % args.listen)
        return 1
    server.start()
    host = args.listen.rpartition(":")[0] or "127.0.0.1"
    print("listening on %s:%d" % (host, port), flush=True)

    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(1.0):
        pass
    server.stop(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
