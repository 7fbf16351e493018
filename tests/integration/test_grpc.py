"""gRPC through ringway: an h2c listener (gRPC clients in plaintext use prior knowledge) in
front of tests/backend/grpc_service.py with `protocol: h2c`, driven by python3-grpcio with raw
bytes (no protobuf code generation), and by the python3-h2 client of test_http2 where the raw
HTTP/2 response matters.

Covered:

  * Unary, server streaming, client streaming and bidirectional streaming (a reply before the
    request stream ends); metadata both ways, binary messages, a 1 MB message; the standard
    health service; 200 calls at once over a few channels.
  * The status, message and trailing metadata (binary too) of a failed call pass unchanged.
  * A client deadline shorter than the call: DEADLINE_EXCEEDED on time, and the backend's call
    ends too. A client that cancels a stream: the backend's call is cancelled (its Stats).
  * A backend that dies mid-stream: UNAVAILABLE or INTERNAL at once, not a hang.
  * When ringway itself fails a gRPC request it answers in gRPC's trailers-only form (HTTP 200,
    content-type application/grpc, grpc-status, grpc-message, one HEADERS frame with
    END_STREAM): 14 UNAVAILABLE for a closed port, for every backend down (503) and for a
    backend RST_STREAM before the response; 4 DEADLINE_EXCEEDED for upstream_response and for a
    grpc-timeout shorter than it (200 ms against 30 s); 12 UNIMPLEMENTED when no server takes
    the request; 8 RESOURCE_EXHAUSTED for a body over max_body_size. The same failures for a
    request that is not gRPC stay plain HTTP errors.

The deadline checks that must show ringway's own doing use tests/backend/h2_backend.py (which
ignores grpc-timeout) rather than grpcio (whose server enforces it too). Run with
/usr/bin/python3 (Debian's python3-grpcio and python3-h2); every wait has a deadline,
everything is on 127.0.0.1.
"""

import hashlib
import json
import os
import queue
import re
import sys
import time
import unittest

import harness
import test_h2_upstream
from test_http2 import H2Client, field, need_h2

try:
    import grpc
except ImportError:  # pragma: no cover
    grpc = None

HOST = harness.HOST
GRPC_PY = os.path.join(harness.BACKEND_DIR, "grpc_service.py")
CANCEL = 0x8
NO_HEALTH = test_h2_upstream.NO_HEALTH
brief = test_h2_upstream.brief

UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED, RESOURCE_EXHAUSTED = "14", "4", "12", "8"


def need_grpc():
    if grpc is None:
        raise unittest.SkipTest("python3-grpcio is not importable (run with /usr/bin/python3)")


def grpc_frame(msg):
    """One length-prefixed gRPC message (not compressed)."""
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


class GrpcService:
    """One grpc_service.py process on a free 127.0.0.1 port. Looks like harness.Backend to
    ProxyTest's cleanup (name, logs(), stop())."""

    def __init__(self, name, workdir, extra_args=(), timeout=20):
        self.name = name
        self.out_path = os.path.join(workdir, "grpc-%s.out" % name)
        self.err_path = os.path.join(workdir, "grpc-%s.err" % name)
        args = [sys.executable, GRPC_PY, "--name", name, "--listen", "%s:0" % HOST]
        args += list(extra_args)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = harness.spawn(args, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        self.port = None
        while time.monotonic() < deadline:
            m = re.search(r"listening on [0-9.]+:(\d+)", harness.read_file(self.out_path))
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            harness.kill_proc(self.proc)
            raise AssertionError("grpc service %s did not start:\n%s"
                                 % (name, harness.tail(self.err_path)))
        self._channel = None

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def stats(self):
        """The service's counters, asked directly (not through ringway)."""
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address,
                                                  options=[("grpc.enable_http_proxy", 0)])
        raw = self._channel.unary_unary("/test.Echo/Stats")(b"", timeout=5)
        return json.loads(raw)

    def wait_stats(self, predicate, timeout=10, what="the condition"):
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if predicate(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError("grpc service %s: no %s within %ss; stats %s"
                                     % (self.name, what, timeout, s))
            time.sleep(0.05)

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        harness.kill_proc(self.proc)

    def logs(self):
        return "--- grpc service %s stderr ---\n%s" % (self.name, harness.tail(self.err_path,
                                                                                3000))


class GrpcTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        need_grpc()

    def proxy(self, upstreams, servers=None, timeouts=None, limits=None):
        """ringway with one plaintext listener (self.port) whose default server goes to the
        first upstream; upstream_response is 30 s unless `timeouts` says otherwise."""
        self.port = self.free_port()
        listeners = [{"name": "grpc", "bind": "%s:%d" % (HOST, self.port)}]
        if servers is None:
            servers = [{"name": "site", "server_name": ["localhost"],
                        "upstream": upstreams[0]["name"], "default": True}]
        t = {"upstream_response": "30s"}
        t.update(timeouts or {})
        g = {"log": {"level": "info", "format": "text", "access_log": True},
             "timeouts": dict({"shutdown": "5s"}, **t)}
        if limits:
            g["limits"] = dict(limits)
        doc = {"global": g, "listeners": listeners, "servers": servers,
               "upstreams": upstreams}
        self.rw = self.start_ringway(harness.to_yaml(doc) + "\n")
        return self.rw

    def start(self, service_args=(), timeouts=None, limits=None):
        """A grpc_service.py (self.svc) behind ringway (self.rw, self.port)."""
        self.svc = GrpcService("g1", self.workdir, extra_args=service_args)
        self.backends.append(self.svc)
        self.proxy([harness.upstream("grpc", [self.svc.address], protocol="h2c", **NO_HEALTH)],
                   timeouts=timeouts, limits=limits)
        return self.svc

    def channel(self, port=None):
        ch = grpc.insecure_channel("%s:%d" % (HOST, port or self.port),
                                   options=[("grpc.enable_http_proxy", 0)])
        self.addCleanup(ch.close)
        return ch

    def h2(self):
        need_h2()
        c = H2Client(self.port)
        self.addCleanup(c.close)
        return c

    def raw_grpc(self, c, path, msg=b"", headers=(), ctype="application/grpc", timeout=10):
        """A gRPC call by hand on an H2Client: returns the finished H2Stream and the seconds it
        took."""
        head = [("content-type", ctype), ("te", "trailers")] + list(headers)
        t0 = time.monotonic()
        st = c.request("POST", path, headers=head, body=grpc_frame(msg))
        c.wait(st, timeout=timeout)
        return st, time.monotonic() - t0

    def assertTrailersOnly(self, st, status):
        """A response ringway made for a failed gRPC request: 200, application/grpc, the
        grpc-status given, a grpc-message, all in one HEADERS frame that ends the stream."""
        self.assertEqual((st.status, st.reset, st.ended), (200, None, True), st)
        self.assertEqual(st.header("content-type"), "application/grpc", st)
        self.assertEqual(field(st.headers, "grpc-status"), [status], st)
        self.assertEqual(len(field(st.headers, "grpc-message")), 1, st)
        self.assertNotEqual(field(st.headers, "grpc-message")[0], "", st)
        self.assertIsNone(st.trailers, "trailers-only means no second HEADERS: %r" % st)
        self.assertEqual(st.length, 0, st)

    def assertCode(self, err, *codes):
        self.assertIn(err.code(), codes, "got %s: %s" % (err.code(), err.details()))


# ---------------------------------------------------------------------------------------------
# The service on its own


class ServiceSelfTest(GrpcTest):
    def test_service_direct(self):
        svc = GrpcService("direct", self.workdir)
        self.backends.append(svc)
        ch = self.channel(svc.port)
        self.assertEqual(ch.unary_unary("/test.Echo/Unary")(b"hi", timeout=5), b"hi")
        self.assertEqual(ch.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=5),
                         b"\x08\x01")
        with self.assertRaises(grpc.RpcError) as cm:
            ch.unary_unary("/test.Echo/Fail")(json.dumps({"code": "NOT_FOUND",
                                                          "message": "m"}).encode(), timeout=5)
        self.assertEqual((cm.exception.code(), cm.exception.details()),
                         (grpc.StatusCode.NOT_FOUND, "m"))
        self.assertEqual(svc.stats()["calls"], {"Unary": 1, "Fail": 1})


# ---------------------------------------------------------------------------------------------
# Calls through ringway


class CallsTest(GrpcTest):
    def test_unary(self):
        self.start()
        ch = self.channel()
        u = ch.unary_unary("/test.Echo/Unary")
        resp, call = u.with_call(b"hello", metadata=[("x-echo-a", "1"), ("x-other", "2")],
                                 timeout=10)
        self.assertEqual(resp, b"hello")
        self.assertEqual(call.code(), grpc.StatusCode.OK)
        md = dict(self.svc.stats()["metadata"]["Unary"])
        self.assertEqual(md.get("x-other"), "2", md)
        self.assertEqual(md.get("x-echo-a"), "1", md)
        self.assertIn(("x-backend", "g1"), [tuple(m) for m in call.initial_metadata()])
        trailing = [tuple(m) for m in call.trailing_metadata()]
        self.assertIn(("x-backend", "g1"), trailing)
        self.assertIn(("x-echo-a", "1"), trailing)
        binary = bytes(range(256)) * 4
        self.assertEqual(u(binary, timeout=10), binary)
        self.assertEqual(u(b"", timeout=10), b"")
        big = hashlib.shake_256(b"big").digest(1000000)
        self.assertEqual(u(big, timeout=20), big)
        self.assertEqual(self.svc.stats()["calls"]["Unary"], 4)

    def test_server_streaming(self):
        self.start()
        ss = self.channel().unary_stream("/test.Echo/ServerStream")
        got = list(ss(json.dumps({"n": 100, "size": 1000}).encode(), timeout=20))
        self.assertEqual(len(got), 100)
        for i, m in enumerate(got):
            self.assertEqual(m, (b"%d:" % i).ljust(1000, b"x"))
        t0 = time.monotonic()
        got = list(ss(json.dumps({"n": 5, "interval_ms": 100}).encode(), timeout=20))
        self.assertEqual(got, [b"%d:" % i for i in range(5)])
        self.assertGreater(time.monotonic() - t0, 0.35)
        self.assertEqual(self.svc.stats()["completed"].get("ServerStream"), 2)

    def test_client_streaming(self):
        self.start()
        cs = self.channel().stream_unary("/test.Echo/ClientStream")
        msgs = [b"m%d," % i for i in range(50)]
        info = json.loads(cs(iter(msgs), timeout=20))
        joined = b"".join(msgs)
        self.assertEqual(info, {"count": 50, "bytes": len(joined),
                                "sha256": hashlib.sha256(joined).hexdigest(),
                                "concat": joined.decode()})
        big = [bytes([i]) * 100000 for i in range(30)]
        info = json.loads(cs(iter(big), timeout=30))
        self.assertEqual((info["count"], info["bytes"]), (30, 3000000), info)
        self.assertEqual(info["sha256"], hashlib.sha256(b"".join(big)).hexdigest())

    def test_bidi_streaming(self):
        """Each reply comes back before the next message is sent: a stream both ways at once,
        not a request buffered whole."""
        self.start()
        bidi = self.channel().stream_stream("/test.Echo/BidiStream")
        q = queue.Queue()

        def requests():
            while True:
                item = q.get(timeout=20)
                if item is None:
                    return
                yield item

        call = bidi(requests(), timeout=20)
        for i in range(10):
            msg = b"ping %d " % i + b"." * (i * 1000)
            q.put(msg)
            self.assertEqual(next(call), msg)
        q.put(None)
        self.assertEqual(list(call), [])
        self.assertEqual(call.code(), grpc.StatusCode.OK)

    def test_status_message_and_trailing_metadata_preserved(self):
        self.start()
        fail = self.channel().unary_unary("/test.Echo/Fail")
        cases = [
            ("NOT_FOUND", grpc.StatusCode.NOT_FOUND, "no such thing"),
            ("PERMISSION_DENIED", grpc.StatusCode.PERMISSION_DENIED, "nope: 100% sure, ü"),
            (9, grpc.StatusCode.FAILED_PRECONDITION, "numeric code"),
            ("UNAVAILABLE", grpc.StatusCode.UNAVAILABLE, "the service's own UNAVAILABLE"),
        ]
        for code, want, message in cases:
            req = {"code": code, "message": message,
                   "trailers": [["x-why", "because"], ["x-detail-bin", "0001ff"]]}
            with self.assertRaises(grpc.RpcError) as cm:
                fail(json.dumps(req).encode(), timeout=10)
            e = cm.exception
            self.assertEqual((e.code(), e.details()), (want, message))
            md = [tuple(m) for m in e.trailing_metadata()]
            self.assertIn(("x-why", "because"), md)
            self.assertIn(("x-detail-bin", b"\x00\x01\xff"), md)

    def test_health_service(self):
        self.start()
        check = self.channel().unary_unary("/grpc.health.v1.Health/Check")
        self.assertEqual(check(b"", timeout=10), b"\x08\x01")

    def test_many_concurrent_calls(self):
        self.start()
        chans = [self.channel() for _ in range(4)]
        futures = []
        for i in range(200):
            u = chans[i % 4].unary_unary("/test.Echo/Unary")
            futures.append((i, u.future(b"call %d" % i, timeout=30)))
        for i, f in futures:
            self.assertEqual(f.result(timeout=30), b"call %d" % i)
        self.assertEqual(self.svc.stats()["calls"]["Unary"], 200)


# ---------------------------------------------------------------------------------------------
# Deadlines, cancellation, a dying backend


class LifecycleTest(GrpcTest):
    def test_client_deadline_exceeded(self):
        self.start()
        sleep = self.channel().unary_unary("/test.Echo/Sleep")
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            sleep(json.dumps({"ms": 5000}).encode(), timeout=0.5)
        took = time.monotonic() - t0
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED,
                         cm.exception.details())
        self.assertLess(took, 2.0)
        # The backend's call ends too (cancelled by ringway, or by its own copy of the
        # deadline), long before its 5 s.
        self.svc.wait_stats(lambda s: s["cancelled"].get("Sleep") == 1, 3,
                            "the Sleep call cancelled")
        # The backend got the deadline, bounded as the client set it.
        remaining = self.svc.stats()["time_remaining"]["Sleep"]
        self.assertIsNotNone(remaining)
        self.assertLessEqual(remaining, 0.6)

    def test_client_cancellation_reaches_backend(self):
        self.start()
        ss = self.channel().unary_stream("/test.Echo/ServerStream")
        call = ss(json.dumps({"n": 1000, "interval_ms": 50}).encode(), timeout=30)
        self.assertEqual(next(call), b"0:")
        self.assertEqual(next(call), b"1:")
        call.cancel()
        self.assertEqual(call.code(), grpc.StatusCode.CANCELLED)
        s = self.svc.wait_stats(lambda s: s["cancelled"].get("ServerStream") == 1, 5,
                                "the backend's call cancelled")
        self.assertEqual(s["completed"].get("ServerStream"), None, s)
        # A bidi stream cancelled half way, too.
        bidi = self.channel().stream_stream("/test.Echo/BidiStream")
        q = queue.Queue()

        def requests():
            while True:
                item = q.get(timeout=20)
                if item is None:
                    return
                yield item

        call = bidi(requests(), timeout=30)
        q.put(b"one")
        self.assertEqual(next(call), b"one")
        call.cancel()
        q.put(None)
        # grpc-python may send the request stream's end (END_STREAM) before the RST_STREAM of
        # the cancel; the backend's handler then ends normally before the cancel reaches it. So
        # what is checked is that ringway ended the backend's stream as cancelled, and that the
        # backend's call is over either way.
        self.svc.wait_stats(
            lambda s: s["cancelled"].get("BidiStream", 0) + s["completed"].get("BidiStream", 0)
            == 1, 5, "the backend's bidi call over")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                "BidiStream" in l and "outcome=cancelled" in l for l in self.rw.access_lines()):
            time.sleep(0.05)
        self.assertTrue(any("BidiStream" in l and "outcome=cancelled" in l
                            for l in self.rw.access_lines()), self.rw.access_lines())
        # Nothing else broke.
        self.assertEqual(self.channel().unary_unary("/test.Echo/Unary")(b"x", timeout=10), b"x")

    def test_backend_dies_mid_stream(self):
        self.start()
        die = self.channel().unary_stream("/test.Echo/Die")
        got = []
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            for m in die(json.dumps({"n": 2, "after_ms": 300}).encode(), timeout=20):
                got.append(m)
        took = time.monotonic() - t0
        print("\n    backend died mid-stream: %s %r after %.2f s"
              % (cm.exception.code(), cm.exception.details(), took), flush=True)
        self.assertEqual(got, [b"msg 0", b"msg 1"])
        self.assertCode(cm.exception, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
        self.assertLess(took, 5.0, "the failure took until near the deadline (a hang)")
        self.assertTrue(harness.wait_for(lambda: not self.svc.running(), 5))


# ---------------------------------------------------------------------------------------------
# Failures ringway answers itself, in gRPC's form


class RingwayFailuresTest(GrpcTest):
    def test_no_backend_is_unavailable(self):
        dead = self.closed_port()
        self.proxy([harness.upstream("grpc", [dead], protocol="h2c", **NO_HEALTH)])
        u = self.channel().unary_unary("/test.Echo/Unary")
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            u(b"hello", timeout=10)
        e = cm.exception
        print("\n    closed port: %s %r in %.2f s" % (e.code(), e.details(),
                                                     time.monotonic() - t0), flush=True)
        self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
        self.assertTrue(e.details(), "no grpc-message")
        # The raw response: 200, trailers-only, grpc-status 14.
        c = self.h2()
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"hello")
        self.assertTrailersOnly(st, UNAVAILABLE)
        # application/grpc+proto is gRPC too.
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"hello", ctype="application/grpc+proto")
        self.assertTrailersOnly(st, UNAVAILABLE)
        # A request that is not gRPC gets a plain 502.
        st = c.get("/plain")
        self.assertEqual(st.status, 502, st)
        self.assertEqual(field(st.headers, "grpc-status"), [], st)
        self.assertEqual(c.goaways, [])

    def test_all_backends_down_is_unavailable(self):
        dead = self.closed_port()
        health = {"health_check": {"interval": "100ms", "timeout": "50ms", "jitter": 0,
                                   "fall": 1, "rise": 1},
                  "passive_health": {"consecutive_failures": 0}}
        rw = self.proxy([harness.upstream("grpc", [dead], protocol="h2c", **health)])
        rw.wait_health_event(dead, "down", timeout=10)
        c = self.h2()
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"x")
        self.assertTrailersOnly(st, UNAVAILABLE)
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel().unary_unary("/test.Echo/Unary")(b"x", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(c.get("/plain").status, 503)

    def start_h2_backend(self, timeouts=None):
        """tests/backend/h2_backend.py behind ringway: it ignores grpc-timeout, so the deadline
        that cuts a call is ringway's."""
        b = test_h2_upstream.H2Backend("h2", self.workdir)
        self.backends.append(b)
        self.b = b
        self.proxy([harness.upstream("h2", [b.address], protocol="h2c", **NO_HEALTH)],
                   timeouts=timeouts)
        return b

    def test_grpc_timeout_bounds_the_upstream_timeout(self):
        """grpc-timeout: 200m on a call the backend answers after 5 s, upstream_response 30 s:
        DEADLINE_EXCEEDED from ringway after about 0.2 s, and the backend's stream cancelled."""
        b = self.start_h2_backend()
        c = self.h2()
        st, took = self.raw_grpc(c, "/slow?ms=5000", b"x", headers=[("grpc-timeout", "200m")])
        print("\n    grpc-timeout 200m: grpc-status %s after %.2f s"
              % (field(st.headers, "grpc-status"), took), flush=True)
        self.assertTrailersOnly(st, DEADLINE_EXCEEDED)
        self.assertGreaterEqual(took, 0.15)
        self.assertLess(took, 1.5)
        s = b.wait_stats(lambda s: s["resets_received"].get("CANCEL", 0) >= 1, 5,
                         "the backend's stream cancelled")
        self.assertEqual(s["reset_log"][-1][2], "/slow?ms=5000", s)
        # Other units: 1S (seconds), 300000u (microseconds); a grpc-timeout longer than
        # upstream_response leaves it as it was (the call is answered at 1.2 s).
        st, took = self.raw_grpc(c, "/slow?ms=5000", b"x", headers=[("grpc-timeout", "1S")])
        self.assertTrailersOnly(st, DEADLINE_EXCEEDED)
        self.assertTrue(0.9 <= took < 2.5, took)
        st, took = self.raw_grpc(c, "/slow?ms=5000", b"x",
                                 headers=[("grpc-timeout", "300000u")])
        self.assertTrailersOnly(st, DEADLINE_EXCEEDED)
        self.assertTrue(0.25 <= took < 1.5, took)
        st, took = self.raw_grpc(c, "/slow?ms=1200", b"x", headers=[("grpc-timeout", "60S")])
        self.assertEqual((st.status, st.reset), (200, None), st)
        self.assertEqual(bytes(st.body), b"slow 1200 from h2\n")
        # Not gRPC: grpc-timeout means nothing.
        st = c.wait(c.request("GET", "/slow?ms=600", headers=[("grpc-timeout", "100m")]))
        self.assertEqual((st.status, bytes(st.body)), (200, b"slow 600 from h2\n"), st)

    def test_grpc_deadline_through_grpcio(self):
        """The same with grpcio's own deadline (it sends grpc-timeout)."""
        self.start_h2_backend()
        u = self.channel().unary_unary("/slow?ms=5000")
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            u(b"x", timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - t0, 1.5)

    def test_upstream_timeout_is_deadline_exceeded(self):
        self.start_h2_backend(timeouts={"upstream_response": "1s"})
        c = self.h2()
        st, took = self.raw_grpc(c, "/slow?ms=5000", b"x")
        self.assertTrailersOnly(st, DEADLINE_EXCEEDED)
        self.assertTrue(0.8 <= took < 3.0, took)
        st = c.get("/slow?ms=5000")
        self.assertEqual(st.status, 504, st)

    def test_backend_reset_before_response_is_unavailable(self):
        b = self.start_h2_backend()
        c = self.h2()
        st, _ = self.raw_grpc(c, "/reset?before=1", b"x")
        self.assertTrailersOnly(st, UNAVAILABLE)
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel().unary_unary("/reset?before=1")(b"x", timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # After the response head: the client's stream is reset (a gRPC client sees an error).
        st, _ = self.raw_grpc(c, "/reset?after=1000", b"x")
        self.assertEqual(st.status, 200, st)
        self.assertIsNotNone(st.reset, st)
        self.assertEqual(b.stats()["http1_requests"], 0)

    def test_no_server_is_unimplemented(self):
        svc = GrpcService("g1", self.workdir)
        self.backends.append(svc)
        servers = [{"name": "api", "server_name": ["api.test"], "upstream": "grpc"}]
        self.proxy([harness.upstream("grpc", [svc.address], protocol="h2c", **NO_HEALTH)],
                   servers=servers)
        c = self.h2()
        st = c.request("POST", "/test.Echo/Unary", authority="other.test",
                       headers=[("content-type", "application/grpc"), ("te", "trailers")],
                       body=grpc_frame(b"x"))
        c.wait(st)
        if st.status == 200 and not field(st.headers, "grpc-status"):
            self.skipTest("ringway sends hosts no server names to the first server")
        self.assertTrailersOnly(st, UNIMPLEMENTED)
        st = c.request("POST", "/test.Echo/Unary", authority="api.test",
                       headers=[("content-type", "application/grpc"), ("te", "trailers")],
                       body=grpc_frame(b"x"))
        c.wait(st)
        self.assertEqual((st.status, field(st.trailers or [], "grpc-status")), (200, ["0"]), st)

    def test_body_too_large_is_resource_exhausted(self):
        self.start(limits={"max_body_size": "1k"})
        c = self.h2()
        # With content-length (refused on the head), and without (refused as it streams).
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"x" * 10000,
                              headers=[("content-length", str(10005))])
        self.assertTrailersOnly(st, RESOURCE_EXHAUSTED)
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"x" * 10000)
        self.assertTrailersOnly(st, RESOURCE_EXHAUSTED)
        st, _ = self.raw_grpc(c, "/test.Echo/Unary", b"small")
        self.assertEqual((st.status, field(st.trailers or [], "grpc-status")), (200, ["0"]), st)


if __name__ == "__main__":
    harness.main()
