"""HTTP/2 from clients: h2 by ALPN on TLS listeners, h2c with prior knowledge on plaintext ones,
each stream proxied as an HTTP/1.1 request to the backend.

Covered, against the real binary and real clients (curl, nghttp, h2load, python3-h2):

  * h2c and h2 (ALPN, SNI, client certificates) requests reach the backend as HTTP/1.1 with
    Host from :authority and X-Forwarded-*; one access log line per stream.
  * Concurrent streams on one connection (nghttp), h2load over h2c and TLS.
  * The request mapping: cookie crumbs joined, te: trailers, bodies with and without
    content-length (the latter sent chunked), request trailers.
  * Malformed requests: a stream error (RST_STREAM PROTOCOL_ERROR), never a GOAWAY, never
    forwarded, and the connection goes on working.
  * Responses: chunked with trailers, close-delimited, HEAD, 103, hop-by-hop fields dropped.
  * 100 MB both ways with bounded memory; 100 streams on one connection with one stalled by
    flow control while the others finish.
  * The per-listener switches (http2: false, h2c: false), redirect_https and HSTS.
  * Graceful shutdown: GOAWAY NO_ERROR, in-flight streams finish, new connections refused.
  * A dead backend: 502 on the stream, the connection stays usable.

The python3-h2 client here strips GOAWAY frames out of the byte stream before h2 sees them
(and records them): h2 4.1 refuses every frame after a GOAWAY, while a graceful GOAWAY lets
the streams it covers finish. Run with /usr/bin/python3 (Debian's python3-h2); every wait has
a deadline, everything is on 127.0.0.1.
"""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import time
import unittest

import harness
import test_tls

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError:  # pragma: no cover
    h2 = None

HOST = harness.HOST
MiB = harness.MiB
BIG = 100 * MiB
RSS_GROWTH_LIMIT_KB = 64 * 1024

PROTOCOL_ERROR = 0x1
NO_ERROR = 0x0
FRAME_GOAWAY = 0x7

HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")

_sha_cache = {}


def pattern_sha(n):
    if n not in _sha_cache:
        _sha_cache[n] = harness.pattern_sha256(n)
    return _sha_cache[n]


def need(tool):
    if not shutil.which(tool):
        raise unittest.SkipTest("%s is not installed" % tool)


def need_h2():
    if h2 is None:
        raise unittest.SkipTest("python3-h2 is not importable (run with /usr/bin/python3)")


def text(b):
    return b.decode("utf-8", "replace")


def field(pairs, name):
    """Every value of `name` (any case) in a list of (name, value) pairs."""
    return [v for n, v in pairs if n.lower() == name.lower()]


# ---------------------------------------------------------------------------------------------
# A python3-h2 client


class H2Stream:
    def __init__(self, sid, keep_body=True):
        self.sid = sid
        self.status = None
        self.headers = []      # [(name, value)] of the final response
        self.interim = []      # [(status, headers)] of 1xx responses
        self.keep_body = keep_body
        self.body = bytearray()
        self.sha = hashlib.sha256()
        self.length = 0
        self.trailers = None   # [(name, value)] when a trailing HEADERS came
        self.ended = False     # END_STREAM received
        self.reset = None      # RST_STREAM error code received
        self.unacked = 0       # DATA bytes not given back to the window (stalled streams)
        self.finished_at = None
        # Request body still to send
        self.out_src = None
        self.out_cur = None
        self.out_end = True
        self.out_trailers = None

    @property
    def finished(self):
        return self.ended or self.reset is not None

    def header(self, name):
        values = field(self.headers, name)
        return values[0] if values else None

    def digest(self):
        return self.sha.hexdigest()

    def __repr__(self):
        return "<H2Stream %d status=%s reset=%s ended=%s len=%d headers=%r body=%r>" % (
            self.sid, self.status, self.reset, self.ended, self.length, self.headers,
            bytes(self.body[:200]))


class H2Client:
    """One HTTP/2 connection (h2c with prior knowledge, or TLS with ALPN h2) driven by
    python3-h2. Requests are queued with request(); pump() reads and answers frames until a
    condition holds or a deadline passes. DATA is given back to the flow-control windows as it
    arrives, except on streams listed in `stalled`. GOAWAY frames are recorded in `goaways`
    as (last_stream_id, error_code) and kept from h2."""

    def __init__(self, port, tls_host=None, cafile=None, cert=None, key=None, validate=True,
                 timeout=20):
        need_h2()
        self.port = port
        self.timeout = timeout
        raw = socket.create_connection((HOST, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = tls_host is not None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(cafile or test_tls.certs().pem("ca"))
            if cert:
                ctx.load_cert_chain(cert, key)
            ctx.set_alpn_protocols(["h2"])
            try:
                self.sock = ctx.wrap_socket(raw, server_hostname=tls_host)
            except BaseException:
                raw.close()
                raise
            if self.sock.selected_alpn_protocol() != "h2":
                proto = self.sock.selected_alpn_protocol()
                self.sock.close()
                raise AssertionError("ALPN chose %r, not h2" % proto)
        else:
            self.sock = raw
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                        validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate,
                                        validate_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.streams = {}
        self.stalled = set()
        self.goaways = []
        self.eof = False
        self.settings_received = False
        self.inbuf = bytearray()
        self.h2.initiate_connection()
        # A large connection window, so a stalled stream only ever blocks itself.
        self.h2.increment_flow_control_window(1 << 30)
        self.flush()
        self.pump(lambda: self.settings_received, 10, "the server's SETTINGS")

    # -- output -------------------------------------------------------------------------------

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method="GET", path="/", authority="localhost", scheme="http",
                headers=(), body=None, trailers=None, keep_body=True, raw_headers=None,
                stalled=False, over_limit=False):
        """Opens a stream. `body`: bytes, or an int n for n pattern bytes (streamed);
        `trailers` go in a HEADERS frame with END_STREAM after the body; `raw_headers` replace
        the whole head; `over_limit` opens it even beyond the server's
        SETTINGS_MAX_CONCURRENT_STREAMS. Returns the H2Stream."""
        if over_limit:
            # h2 refuses to exceed the peer's limit; lift its copy of the setting for this one.
            code = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
            values = self.h2.remote_settings._settings
            saved = values[code]
            values[code] = type(saved)([1 << 30])
            try:
                return self.request(method, path, authority, scheme, headers, body, trailers,
                                    keep_body, raw_headers, stalled)
            finally:
                values[code] = saved
        sid = self.h2.get_next_available_stream_id()
        st = H2Stream(sid, keep_body=keep_body)
        self.streams[sid] = st
        if stalled:
            self.stalled.add(sid)
        if raw_headers is not None:
            head = list(raw_headers)
        else:
            head = [(":method", method), (":scheme", scheme), (":authority", authority),
                    (":path", path)] + list(headers)
        has_more = body is not None or trailers is not None
        self.h2.send_headers(sid, head, end_stream=not has_more)
        if has_more:
            if body is None:
                body = b""
            if isinstance(body, int):
                st.out_src = harness.backend_module.pattern_pieces(body, piece=1 << 20)
            else:
                st.out_src = iter([memoryview(body)])
            st.out_cur = memoryview(b"")
            st.out_trailers = trailers
        self._send_pending()
        self.flush()
        return st

    def _send_pending(self):
        for st in list(self.streams.values()):
            if st.out_src is None:
                continue
            try:
                while True:
                    if not len(st.out_cur):
                        st.out_cur = next(st.out_src, None)
                        if st.out_cur is None:
                            st.out_src = None
                            if st.out_trailers is not None:
                                self.h2.send_headers(st.sid, st.out_trailers, end_stream=True)
                            else:
                                self.h2.end_stream(st.sid)
                            break
                        continue
                    win = min(self.h2.local_flow_control_window(st.sid),
                              self.h2.max_outbound_frame_size)
                    if win <= 0:
                        break
                    piece = st.out_cur[:win]
                    st.out_cur = st.out_cur[len(piece):]
                    self.h2.send_data(st.sid, piece.tobytes())
                    if len(self.h2._data_to_send) > (1 << 20):  # bounded buffering
                        self.flush()
            except h2.exceptions.StreamClosedError:
                st.out_src = None  # reset by the server: nothing more to send
        self.flush()

    def unstall(self, st):
        self.stalled.discard(st.sid)
        if st.unacked:
            self.h2.acknowledge_received_data(st.unacked, st.sid)
            st.unacked = 0
        self.flush()

    # -- input --------------------------------------------------------------------------------

    def _recv(self, left):
        if self.tls and self.sock.pending():
            return self.sock.recv(self.sock.pending())
        r, _, _ = select.select([self.sock], [], [], min(left, 0.5))
        if not r:
            return None
        try:
            data = self.sock.recv(1 << 18)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        except (ssl.SSLWantReadError, socket.timeout):
            return None
        if not data:
            self.eof = True
        return data

    def _receive(self, data):
        """Splits frames off; GOAWAY is recorded here, everything else goes to h2."""
        self.inbuf += data
        out = bytearray()
        while len(self.inbuf) >= 9:
            length = int.from_bytes(self.inbuf[:3], "big")
            if len(self.inbuf) < 9 + length:
                break
            frame = bytes(self.inbuf[:9 + length])
            del self.inbuf[:9 + length]
            if frame[3] == FRAME_GOAWAY:
                last = int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF
                code = int.from_bytes(frame[13:17], "big")
                self.goaways.append((last, code))
            else:
                out += frame
        if not out:
            return
        try:
            events = self.h2.receive_data(bytes(out))
        except h2.exceptions.ProtocolError as e:
            raise AssertionError("the server broke HTTP/2: %r" % e)
        now = time.monotonic()
        for ev in events:
            st = self.streams.get(getattr(ev, "stream_id", None) or 0)
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.settings_received = True
            elif isinstance(ev, h2.events.InformationalResponseReceived):
                st.interim.append((int(dict(ev.headers)[":status"]), list(ev.headers)))
            elif isinstance(ev, h2.events.ResponseReceived):
                st.status = int(dict(ev.headers)[":status"])
                st.headers = [(n, v) for n, v in ev.headers if not n.startswith(":")]
            elif isinstance(ev, h2.events.TrailersReceived):
                st.trailers = list(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                st.length += len(ev.data)
                st.sha.update(ev.data)
                if st.keep_body:
                    st.body += ev.data
                if st.sid in self.stalled:
                    st.unacked += ev.flow_controlled_length
                else:
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, st.sid)
            elif isinstance(ev, h2.events.StreamEnded):
                st.ended = True
                st.finished_at = now
            elif isinstance(ev, h2.events.StreamReset):
                st.reset = int(ev.error_code)
                st.finished_at = now
        self.flush()

    def pump(self, until, timeout, what="the condition"):
        deadline = time.monotonic() + timeout
        while True:
            self._send_pending()
            if until():
                return
            if self.eof:
                raise AssertionError("connection closed while waiting for %s; goaways %r, "
                                     "streams %r" % (what, self.goaways,
                                                     list(self.streams.values())[-5:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %ss; goaways %r, streams %r"
                                     % (what, timeout, self.goaways,
                                        list(self.streams.values())[-5:]))
            data = self._recv(left)
            if data:
                self._receive(data)

    def wait(self, *streams, timeout=None):
        self.pump(lambda: all(s.finished for s in streams), timeout or self.timeout,
                  "the end of stream(s) %s" % [s.sid for s in streams])
        return streams[0] if len(streams) == 1 else streams

    def get(self, path, **kw):
        timeout = kw.pop("timeout", None)
        return self.wait(self.request("GET", path, **kw), timeout=timeout)

    def wait_closed(self, timeout):
        """True if the server closes the connection within `timeout` seconds."""
        try:
            self.pump(lambda: self.eof, timeout, "EOF")
            return True
        except AssertionError:
            return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Configuration


def h2_config(listeners, servers, upstreams, timeouts=None, http2=None):
    g = {"log": {"level": "info", "format": "text", "access_log": True},
         "timeouts": dict({"shutdown": "5s"}, **(timeouts or {}))}
    if http2:
        g["http2"] = dict(http2)
    doc = {"global": g, "listeners": listeners, "servers": servers, "upstreams": upstreams}
    return harness.to_yaml(doc) + "\n"


SITE_NAMES = test_tls.SITE_NAMES + ["localhost"]


class H2Test(harness.ProxyTest):
    def start(self, plain=True, tls=False, tls_block=None, plain_keys=None, tls_keys=None,
              servers=None, upstreams=None, timeouts=None, http2=None, backend=True):
        """A plaintext listener (self.port) and/or a TLS one (self.tls_port) in front of one
        backend (self.web); returns the Ringway (self.rw)."""
        if backend:
            self.web = self.start_backend("web")
        listeners = []
        if plain:
            self.port = self.free_port()
            item = {"name": "plain", "bind": "%s:%d" % (HOST, self.port)}
            item.update(plain_keys or {})
            listeners.append(item)
        if tls:
            self.certs = test_tls.certs()
            self.tls_port = self.free_port()
            item = {"name": "tls", "bind": "%s:%d" % (HOST, self.tls_port),
                    "tls": tls_block if tls_block is not None else test_tls.default_tls()}
            item.update(tls_keys or {})
            listeners.append(item)
        if servers is None:
            servers = [{"name": "site", "server_name": SITE_NAMES, "upstream": "web",
                        "default": True}]
        if upstreams is None:
            upstreams = [harness.upstream("web", [self.web])]
        self.rw = self.start_ringway(h2_config(listeners, servers, upstreams, timeouts, http2))
        return self.rw

    def client(self, port=None, **kw):
        c = H2Client(port or self.port, **kw)
        self.addCleanup(c.close)
        return c

    def tls_client(self, host="a.test", **kw):
        return self.client(self.tls_port, tls_host=host, **kw)

    def curl(self, *args, timeout=60):
        r = harness.run_cmd(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout - 5)]
                            + list(args), timeout=timeout)
        return r.returncode, r.stdout, text(r.stderr)

    def curl_tls(self, host, target, *args, timeout=60):
        return self.curl("--cacert", self.certs.pem("ca"),
                         "--resolve", "%s:%d:%s" % (host, self.tls_port, HOST),
                         *args, "https://%s:%d%s" % (host, self.tls_port, target),
                         timeout=timeout)

    def access_for(self, needle, count=1, timeout=5):
        """Access log lines containing `needle`, once there are `count` of them."""
        harness.wait_for(lambda: len([x for x in self.rw.access_lines() if needle in x])
                         >= count, timeout)
        return [x for x in self.rw.access_lines() if needle in x]

    def assertNoHopByHop(self, st):
        for n, _ in st.headers:
            self.assertEqual(n, n.lower(), "field name not lowercase: %r" % (st,))
            self.assertNotIn(n, HOP_BY_HOP, "hop-by-hop field in an HTTP/2 response: %r"
                             % (st,))

    def assertRssGrowthBounded(self, sampler, idle_kb, what):
        self.assertGreater(sampler.samples, 0)
        growth = sampler.peak_kb - idle_kb
        print("\n    %s: ringway RSS idle %d kB, peak %d kB (+%d kB)"
              % (what, idle_kb, sampler.peak_kb, growth), flush=True)
        if harness.sanitized_binary(self.rw.binary):
            return  # ASan's shadow memory and quarantine make RSS meaningless
        self.assertLess(growth, RSS_GROWTH_LIMIT_KB,
                        "%s: ringway RSS grew by %d kB" % (what, growth))


# ---------------------------------------------------------------------------------------------
# 1-4. Clients: curl, nghttp, h2load


class ClientsTest(H2Test):
    def test_curl_h2c_prior_knowledge(self):
        need("curl")
        self.start()
        rc, out, err = self.curl("-v", "--http2-prior-knowledge", "-H",
                                 "Host: shop.example:8443",
                                 "http://%s:%d/echo?via=curl" % (HOST, self.port))
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/2 200", err)
        info = json.loads(out)
        self.assertEqual(info["version"], "HTTP/1.1", info)
        self.assertEqual((info["method"], info["target"]), ("GET", "/echo?via=curl"), info)
        hs = info["headers"]
        self.assertEqual(field(hs, "Host"), ["shop.example:8443"], info)
        self.assertEqual(field(hs, "X-Forwarded-For"), ["127.0.0.1"], info)
        self.assertEqual(field(hs, "X-Forwarded-Proto"), ["http"], info)
        self.assertEqual(field(hs, "X-Forwarded-Host"), ["shop.example:8443"], info)
        self.assertEqual(field(hs, "user-agent")[0][:5], "curl/", info)
        # A request without a body is sent without one.
        self.assertEqual(field(hs, "Transfer-Encoding") + field(hs, "Content-Length"), [],
                         info)
        self.assertEqual((info["body_length"], info["chunked"]), (0, False), info)
        lines = self.access_for('"GET /echo?via=curl"')
        self.assertEqual(len(lines), 1, self.rw.access_lines())
        self.assertRegex(lines[0], r'"GET /echo\?via=curl" 200 %d ' % len(out))
        self.assertIn(self.web.address, lines[0])

    def test_curl_tls_alpn_sni_and_client_certificates(self):
        need("curl")
        self.start(plain=False, tls=True)
        for host, subject in (("a.test", "CN=a.test"), ("x.a.test", "CN=a.test"),
                              ("b.test", "CN=b.test")):
            rc, out, err = self.curl_tls(host, "/echo?sni=" + host, "-v", "--http2")
            self.assertEqual(rc, 0, err)
            self.assertIn("ALPN: server accepted h2", err)
            self.assertIn("subject: %s" % subject, err)
            self.assertIn("< HTTP/2 200", err)
            info = json.loads(out)
            self.assertEqual(field(info["headers"], "Host"), ["%s:%d" % (host, self.tls_port)])
            self.assertEqual(field(info["headers"], "X-Forwarded-Proto"), ["https"], info)
            self.assertEqual(info["version"], "HTTP/1.1")
        self.assertEqual(self.web.stats()["paths"], {"/echo": 3})

    def test_curl_tls_required_client_certificate(self):
        need("curl")
        self.start(plain=False, tls=True,
                   tls_block=test_tls.default_tls(ca=test_tls.certs().pem("clientca")))
        rc, out, err = self.curl_tls("a.test", "/no-cert", "--http2")
        self.assertNotEqual(rc, 0, "an h2 request without a client certificate got through: %r"
                            % out)
        rc, out, err = self.curl_tls("a.test", "/rogue", "--http2", "--cert",
                                     self.certs.pem("rogue"), "--key", self.certs.key("rogue"))
        self.assertNotEqual(rc, 0, "a client certificate from another CA got through: %r" % out)
        rc, out, err = self.curl_tls("a.test", "/good", "-v", "--http2", "--cert",
                                     self.certs.pem("client"), "--key",
                                     self.certs.key("client"))
        self.assertEqual(rc, 0, err)
        self.assertIn("ALPN: server accepted h2", err)
        self.assertIn("< HTTP/2 200", err)
        self.assertEqual(out, b"hello from web\n")
        # python3-h2 with the client certificate too.
        c = self.tls_client(cert=self.certs.pem("client"), key=self.certs.key("client"))
        st = c.get("/good", authority="a.test")
        self.assertEqual((st.status, bytes(st.body)), (200, b"hello from web\n"), st)
        self.assertEqual(self.web.stats()["paths"], {"/good": 2})

    def test_nghttp_concurrent_streams_on_one_connection(self):
        need("nghttp")
        self.start()
        n = 10
        uris = ["http://%s:%d/slow?ms=600&i=%d" % (HOST, self.port, i) for i in range(n)]
        t0 = time.monotonic()
        r = harness.run_cmd(["nghttp", "-nv", "-t", "20"] + uris, timeout=30)
        took = time.monotonic() - t0
        out = text(r.stdout)
        self.assertEqual(r.returncode, 0, out + text(r.stderr))
        statuses = re.findall(r"recv \(stream_id=(\d+)\) :status: (\d+)", out)
        self.assertEqual(len(statuses), n, out)
        self.assertEqual({s for _, s in statuses}, {"200"}, statuses)
        self.assertEqual(len({sid for sid, _ in statuses}), n, statuses)
        # One connection: connected once, one SETTINGS (not counting the ACK) sent.
        self.assertEqual(out.count("] Connected"), 1, out)
        self.assertEqual(len(re.findall(r"send SETTINGS frame <length=\d+, flags=0x00", out)), 1,
                         out)
        # Concurrent: ten 600 ms responses in far less than 6 s.
        self.assertLess(took, 4.0, "the streams were not served concurrently")
        self.assertEqual(self.web.served("/slow"), n)
        for i in range(n):
            lines = self.access_for('"GET /slow?ms=600&i=%d"' % i)
            self.assertEqual(len(lines), 1, self.rw.access_lines())
            self.assertRegex(lines[0], r'" 200 ')
        self.assertEqual(len([x for x in self.rw.access_lines() if '"GET /slow' in x]), n)

    def h2load(self, url, expect_proto):
        need("h2load")
        r = harness.run_cmd(["h2load", "-n", "2000", "-c", "4", "-m", "20", url], timeout=90)
        out = text(r.stdout)
        self.assertEqual(r.returncode, 0, out + text(r.stderr))
        self.assertIn("Application protocol: %s" % expect_proto, out)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.groups(), ("2000", "2000", "2000", "2000", "0", "0"), out)
        self.assertIn("status codes: 2000 2xx", out)
        return out

    def test_h2load_h2c_and_tls(self):
        self.start(tls=True)
        self.h2load("http://%s:%d/h2c" % (HOST, self.port), "h2c")
        self.h2load("https://%s:%d/tls" % (HOST, self.tls_port), "h2")
        paths = self.web.stats()["paths"]
        self.assertEqual((paths.get("/h2c"), paths.get("/tls")), (2000, 2000), paths)


# ---------------------------------------------------------------------------------------------
# 5. The request as the backend sees it


class RequestMappingTest(H2Test):
    def setUp(self):
        super().setUp()
        need_h2()
        self.start()
        self.c = self.client()

    def echo(self, st):
        self.c.wait(st)
        self.assertEqual(st.status, 200, st)
        return json.loads(bytes(st.body))

    def test_host_and_cookie_crumbs(self):
        st = self.c.request("GET", "/echo", authority="shop.example:8443",
                            headers=[("cookie", "a=1"), ("x-mid", "m"), ("cookie", "b=2"),
                                     ("cookie", "c=3")])
        info = self.echo(st)
        hs = info["headers"]
        self.assertEqual(field(hs, "Host"), ["shop.example:8443"], info)
        self.assertEqual(field(hs, "X-Forwarded-Host"), ["shop.example:8443"], info)
        self.assertEqual(field(hs, "Cookie"), ["a=1; b=2; c=3"], info)
        self.assertEqual(field(hs, "x-mid"), ["m"], info)
        self.assertEqual(info["version"], "HTTP/1.1")
        for n, _ in hs:
            self.assertFalse(n.startswith(":"), "pseudo-header forwarded: %r" % info)

    def test_te_trailers(self):
        info = self.echo(self.c.request("GET", "/echo", headers=[("te", "trailers"),
                                                                ("x-after", "1")]))
        hs = info["headers"]
        # Dropped or passed as it came; never turned into a transfer coding.
        self.assertIn(field(hs, "TE"), ([], ["trailers"]), info)
        self.assertEqual(field(hs, "Transfer-Encoding"), [], info)
        self.assertEqual(field(hs, "x-after"), ["1"], info)

    def test_post_with_content_length(self):
        body = harness.pattern(300_000)
        info = self.echo(self.c.request("POST", "/echo", body=body,
                                        headers=[("content-length", str(len(body)))]))
        self.assertEqual(info["method"], "POST")
        self.assertEqual(field(info["headers"], "Content-Length"), [str(len(body))], info)
        self.assertEqual(field(info["headers"], "Transfer-Encoding"), [], info)
        self.assertFalse(info["chunked"], info)
        self.assertEqual((info["body_length"], info["body_sha256"]),
                         (len(body), harness.sha256(body)))

    def test_post_without_content_length_goes_chunked(self):
        n = 1_234_567
        info = self.echo(self.c.request("POST", "/echo", body=n))
        self.assertTrue(info["chunked"], info)
        self.assertEqual(field(info["headers"], "Content-Length"), [], info)
        self.assertEqual((info["body_length"], info["body_sha256"]), (n, pattern_sha(n)))
        self.assertEqual(info["trailers"], [], info)

    def test_expect_100_continue_answered_by_ringway(self):
        """A client that waits for 100 before its body gets it from ringway; the backend
        sees neither the expect field nor an interim response, just the body."""
        c = self.c
        sid = c.h2.get_next_available_stream_id()
        st = H2Stream(sid)
        c.streams[sid] = st
        c.h2.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                (":authority", "localhost"), (":path", "/echo"),
                                ("expect", "100-continue"), ("content-length", "5")])
        c.flush()
        c.pump(lambda: st.interim or st.finished, 5, "the 100 (Continue)")
        self.assertEqual([status for status, _ in st.interim], [100], st)
        self.assertIsNone(st.status, st)
        c.h2.send_data(sid, b"hello", end_stream=True)
        c.flush()
        info = self.echo(st)
        self.assertEqual(field(info["headers"], "Expect"), [], info)
        self.assertEqual((info["body_length"], info["body_sha256"]), (5, harness.sha256(b"hello")))

    def test_reset_stream_beside_a_live_upload_in_one_read(self):
        """DATA for two streams in one read, the first reset in between: the bytes of the
        second still reach its backend intact (the read's buffer, shared by both, stays ours
        until the read is done), and every buffer comes back (the harness checks at exit)."""
        c = self.c
        for i in range(30):
            b_body = bytes([(i * 7 + k) % 251 for k in range(8000)])
            a = H2Stream(c.h2.get_next_available_stream_id())
            c.streams[a.sid] = a
            # Both heads first (a second read): each stream has its backend by then.
            c.h2.send_headers(a.sid, [(":method", "POST"), (":scheme", "http"),
                                      (":authority", "localhost"), (":path", "/echo"),
                                      ("content-length", "8000")])
            sid_b = c.h2.get_next_available_stream_id()
            b = H2Stream(sid_b)
            c.streams[sid_b] = b
            c.h2.send_headers(sid_b, [(":method", "POST"), (":scheme", "http"),
                                      (":authority", "localhost"), (":path", "/echo"),
                                      ("content-length", "8000")])
            c.flush()
            time.sleep(0.03)
            c.h2.send_data(a.sid, b"x" * 3000)
            c.h2.reset_stream(a.sid)
            c.h2.send_data(sid_b, b_body[:4000])
            c.h2.send_data(sid_b, b_body[4000:], end_stream=True)
            c.flush()  # one write: one read on ringway's side, as a rule
            info = self.echo(b)
            self.assertEqual((info["body_length"], info["body_sha256"]),
                             (8000, harness.sha256(b_body)), "round %d" % i)

    def test_request_trailers(self):
        body = b"trailer test body " * 1000
        st = self.c.request("POST", "/echo", body=body,
                            trailers=[("x-checksum", "abc123"), ("x-count", "7")])
        info = self.echo(st)
        self.assertTrue(info["chunked"], info)
        self.assertEqual((info["body_length"], info["body_sha256"]),
                         (len(body), harness.sha256(body)))
        got = {n.lower(): v for n, v in info["trailers"]}
        self.assertEqual(got, {"x-checksum": "abc123", "x-count": "7"}, info)
        # The trailer fields were not put in the head.
        self.assertEqual(field(info["headers"], "x-checksum"), [], info)
        # Trailers right after the head, with no DATA at all.
        info = self.echo(self.c.request("POST", "/echo", trailers=[("x-only", "1")]))
        self.assertEqual(info["body_length"], 0, info)
        self.assertEqual({n.lower(): v for n, v in info["trailers"]}, {"x-only": "1"}, info)


# ---------------------------------------------------------------------------------------------
# 6. Malformed requests


class MalformedTest(H2Test):
    def test_malformed_requests_are_stream_errors(self):
        need_h2()
        self.start()
        c = self.client(validate=False)

        def head(path, *extra, method="GET"):
            return [(":method", method), (":scheme", "http"), (":authority", "localhost"),
                    (":path", path)] + list(extra)

        cases = [
            ("uppercase name", head("/bad/upper", ("X-Upper", "1")), None),
            ("connection", head("/bad/connection", ("connection", "keep-alive")), None),
            ("transfer-encoding", head("/bad/te-chunked", ("transfer-encoding", "chunked"),
                                       method="POST"), b"5\r\nhello\r\n0\r\n\r\n"),
            ("keep-alive", head("/bad/keep-alive", ("keep-alive", "timeout=5")), None),
            ("te gzip", head("/bad/te-gzip", ("te", "gzip")), None),
            ("missing :path", [(":method", "GET"), (":scheme", "http"),
                               (":authority", "localhost")], None),
            ("empty :path", head(""), None),
            ("unknown pseudo-header", head("/bad/pseudo", (":foo", "x")), None),
            ("pseudo-header after a field", [(":method", "GET"), (":scheme", "http"),
                                             ("x-a", "1"), (":authority", "localhost"),
                                             (":path", "/bad/order")], None),
            ("content-length above the data", head("/bad/cl-short", ("content-length", "10"),
                                                   method="POST"), b"12345"),
            ("content-length below the data", head("/bad/cl-long", ("content-length", "3"),
                                                   method="POST"), b"1234567890"),
        ]
        good = 0
        for name, headers, body in cases:
            with self.subTest(name):
                if c.eof or c.goaways:  # a failed case took the connection: go on with another
                    c = self.client(validate=False)
                st = c.request(raw_headers=headers, body=body)
                c.wait(st, timeout=10)
                self.assertEqual(st.reset, PROTOCOL_ERROR,
                                 "%s: want RST_STREAM PROTOCOL_ERROR, got %r" % (name, st))
                self.assertIsNone(st.status, st)
                self.assertEqual(c.goaways, [], "%s: a GOAWAY for a stream error" % name)
                self.assertFalse(c.eof, "%s: the connection was closed" % name)
                # The connection keeps working.
                ok = c.get("/good", timeout=10)
                good += 1
                self.assertEqual((ok.status, bytes(ok.body)), (200, b"hello from web\n"), ok)
        stats = self.web.stats()
        self.assertEqual(stats["paths"], {"/good": good}, stats)
        self.assertEqual(stats["bad_requests"], 0, stats)


# ---------------------------------------------------------------------------------------------
# 7. Responses


class ResponsesTest(H2Test):
    def setUp(self):
        super().setUp()
        need_h2()
        self.start()
        self.c = self.client()

    def test_chunked_response_with_trailers(self):
        n = 1_000_000
        st = self.c.get("/chunked?n=%d&size=7000&trailers=1" % n, keep_body=False)
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        self.assertEqual((st.length, st.digest()), (n, pattern_sha(n)))
        self.assertIsNotNone(st.trailers, "no trailing HEADERS: %r" % st)
        self.assertEqual(field(st.trailers, "x-trailer"), ["yes"], st.trailers)
        self.assertEqual(st.header("x-backend"), "web")
        self.assertIsNone(st.header("content-length"), st)
        self.assertNoHopByHop(st)
        # Without trailers: no trailing HEADERS.
        st = self.c.get("/chunked?n=%d&size=4096" % n, keep_body=False)
        self.assertEqual((st.status, st.length, st.digest()), (200, n, pattern_sha(n)))
        self.assertIsNone(st.trailers, st)

    def test_close_delimited_response(self):
        n = 3 * MiB + 17
        st = self.c.get("/close-delimited?n=%d" % n, keep_body=False, timeout=30)
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        self.assertEqual((st.length, st.digest()), (n, pattern_sha(n)))
        self.assertNoHopByHop(st)
        # The client connection outlives the backend's close.
        st = self.c.get("/after-close")
        self.assertEqual((st.status, bytes(st.body)), (200, b"hello from web\n"))

    def test_head(self):
        st = self.c.request("HEAD", "/bytes?n=5000")
        self.c.wait(st)
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.ended, st)
        self.assertEqual(st.length, 0, st)
        self.assertIn(st.header("content-length"), (None, "5000"), st)
        st = self.c.request("HEAD", "/chunked?n=5000")
        self.c.wait(st)
        self.assertEqual((st.status, st.length, st.ended), (200, 0, True), st)
        self.assertNoHopByHop(st)
        st = self.c.get("/bytes?n=5000")
        self.assertEqual(bytes(st.body), harness.pattern(5000))

    def test_interim_103(self):
        st = self.c.get("/interim?n=2")
        self.assertEqual([s for s, _ in st.interim], [103, 103], st.interim)
        for _, hs in st.interim:
            self.assertEqual(field(hs, "link"), ["</a.css>; rel=preload"], hs)
        self.assertEqual((st.status, bytes(st.body)), (200, b"final\n"), st)

    def test_hop_by_hop_response_fields_dropped(self):
        # ?close=1: the backend answers with "Connection: close".
        st = self.c.get("/echo?close=1")
        self.assertEqual(st.status, 200, st)
        self.assertNoHopByHop(st)
        self.assertEqual(st.header("content-type"), "application/json")
        self.assertEqual(json.loads(bytes(st.body))["target"], "/echo?close=1")
        # Transfer-Encoding: chunked from the backend is framing, not a field.
        st = self.c.get("/chunked?n=100")
        self.assertNoHopByHop(st)
        self.assertEqual(bytes(st.body), harness.pattern(100))
        # And the connection goes on.
        self.assertEqual(self.c.get("/").status, 200)


# ---------------------------------------------------------------------------------------------
# 8. 100 MB both ways


class LargeBodiesTest(H2Test):
    def pattern_file(self, n):
        path = os.path.join(self.workdir, "pattern-%d.bin" % n)
        harness.write_pattern_file(path, n)
        return path

    def idle_rss(self):
        time.sleep(0.1)
        kb = self.rw.proc_status("VmRSS")
        self.assertIsNotNone(kb)
        return kb

    def curl_sha(self, args, timeout=100):
        """Runs curl with stdout piped through sha256; (exit status, length, sha, stderr)."""
        p = harness.spawn(["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout)]
                          + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h = hashlib.sha256()
        size = 0
        while True:
            data = p.stdout.read(1 << 20)
            if not data:
                break
            h.update(data)
            size += len(data)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            harness.kill_proc(p)
            rc = None
        return rc, size, h.hexdigest(), text(p.stderr.read())

    def test_100mb_both_ways_h2c_and_tls(self):
        need("curl")
        self.start(tls=True)
        path = self.pattern_file(BIG)
        base = "http://%s:%d" % (HOST, self.port)
        idle = self.idle_rss()

        t0 = time.monotonic()
        with harness.RssSampler(self.rw) as sampler:
            rc, out, err = self.curl("-v", "--http2-prior-knowledge", "--data-binary",
                                     "@" + path,
                                     "-H", "Content-Type: application/octet-stream",
                                     base + "/sink", timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/2 200", err)
        self.assertEqual(json.loads(out), {"length": BIG, "sha256": pattern_sha(BIG)})
        print("\n    upload over h2c: %.1f s" % (time.monotonic() - t0), end="")
        self.assertRssGrowthBounded(sampler, idle, "100 MB upload over h2c")

        t0 = time.monotonic()
        with harness.RssSampler(self.rw) as sampler:
            rc, size, sha, err = self.curl_sha(["-v", "--http2-prior-knowledge",
                                                base + "/bytes?n=%d" % BIG])
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/2 200", err)
        self.assertEqual((size, sha), (BIG, pattern_sha(BIG)))
        print("    download over h2c: %.1f s" % (time.monotonic() - t0), end="")
        self.assertRssGrowthBounded(sampler, idle, "100 MB download over h2c")

        t0 = time.monotonic()
        with harness.RssSampler(self.rw) as sampler:
            rc, size, sha, err = self.curl_sha([
                "-v", "--http2", "--cacert", self.certs.pem("ca"), "--resolve",
                "a.test:%d:%s" % (self.tls_port, HOST),
                "https://a.test:%d/bytes?n=%d" % (self.tls_port, BIG)])
        self.assertEqual(rc, 0, err)
        self.assertIn("< HTTP/2 200", err)
        self.assertEqual((size, sha), (BIG, pattern_sha(BIG)))
        print("    download over TLS: %.1f s" % (time.monotonic() - t0), end="")
        self.assertRssGrowthBounded(sampler, idle, "100 MB download over h2 (TLS)")
        self.assertEqual(self.web.stats()["paths"], {"/sink": 1, "/bytes": 2})


# ---------------------------------------------------------------------------------------------
# 9. 100 streams, one stalled by flow control


class ConcurrencyTest(H2Test):
    def test_stalled_stream_does_not_block_the_others(self):
        need_h2()
        self.start()
        c = self.client(timeout=30)
        self.assertEqual(c.h2.remote_settings.max_concurrent_streams, 100)
        small, large = 300_000, 1_000_000
        stalled = c.request("GET", "/bytes?n=%d&stalled=1" % large, keep_body=False,
                            stalled=True)
        t0 = time.monotonic()
        others = [c.request("GET", "/bytes?n=%d&i=%d" % (small, i), keep_body=False)
                  for i in range(99)]
        c.pump(lambda: all(s.finished for s in others), 20, "the 99 other streams")
        took = time.monotonic() - t0
        print("\n    99 streams of %d bytes beside a stalled one: %.2f s" % (small, took),
              flush=True)
        for s in others:
            self.assertEqual((s.status, s.reset, s.length), (200, None, small), s)
            self.assertEqual(s.digest(), pattern_sha(small), s)
        self.assertLess(took, 10.0)
        # The stalled one got what its window allowed, no more, and is still pending.
        self.assertFalse(stalled.finished, stalled)
        self.assertEqual(stalled.status, 200, stalled)
        self.assertLessEqual(stalled.length, 65535, stalled)
        self.assertEqual(c.goaways, [])
        # Released, it completes whole.
        c.unstall(stalled)
        c.wait(stalled, timeout=20)
        self.assertEqual((stalled.status, stalled.reset, stalled.length),
                         (200, None, large), stalled)
        self.assertEqual(stalled.digest(), pattern_sha(large))
        self.assertEqual(self.web.served("/bytes"), 100)


# ---------------------------------------------------------------------------------------------
# global.http2


class TuningTest(H2Test):
    def test_global_http2_settings(self):
        need_h2()
        self.start(http2={"max_concurrent_streams": 7, "initial_window": 20000,
                          "connection_window": 200000, "max_frame_size": 32768})
        c = self.client()
        rs = c.h2.remote_settings
        self.assertEqual((rs.max_concurrent_streams, rs.initial_window_size, rs.max_frame_size),
                         (7, 20000, 32768))
        c.pump(lambda: c.h2.outbound_flow_control_window == 200000, 5,
               "the connection window to open to 200000")
        # Request bodies larger than both windows, in frames up to 32768 bytes.
        n = 500_000
        posts = [c.request("POST", "/echo?i=%d" % i, body=n) for i in range(3)]
        slow = [c.request("GET", "/slow?ms=1000&i=%d" % i) for i in range(4)]
        # An eighth stream while seven are open: refused, and only that stream.
        extra = c.request("GET", "/eighth", over_limit=True)
        c.wait(extra, timeout=10)
        self.assertEqual(extra.reset, 0x7, "want RST_STREAM REFUSED_STREAM: %r" % extra)
        c.wait(*(posts + slow), timeout=20)
        for st in posts:
            info = json.loads(bytes(st.body))
            self.assertEqual((st.status, info["body_length"], info["body_sha256"]),
                             (200, n, pattern_sha(n)), info)
        for st in slow:
            self.assertEqual(st.status, 200, st)
        # Room again: a new stream is served.
        st = c.get("/ninth")
        self.assertEqual(st.status, 200, st)
        self.assertEqual(c.goaways, [])
        paths = self.web.stats()["paths"]
        self.assertEqual(paths, {"/echo": 3, "/slow": 4, "/ninth": 1}, paths)


# ---------------------------------------------------------------------------------------------
# 10, 11. Listener switches, redirects and HSTS


class SwitchesTest(H2Test):
    def test_h2c_false(self):
        need("curl")
        self.start(plain_keys={"h2c": False})
        rc, out, err = self.curl("-v", "--http2-prior-knowledge",
                                 "http://%s:%d/h2c-off" % (HOST, self.port))
        self.assertFalse(rc == 0 and "< HTTP/2 200" in err,
                         "h2c: false and an h2c request succeeded: %s" % err)
        # The preface as raw bytes: answered as HTTP/1 (an error) or closed, never SETTINGS.
        with harness.Conn(self.port) as conn:
            conn.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            conn.wait_closed(timeout=5)
            got = bytes(conn.buf)
        self.assertTrue(got == b"" or re.match(rb"HTTP/1\.[01] [45]\d\d ", got), got[:100])
        # HTTP/1.1 still works.
        r = harness.request(self.port, "GET", "/h1")
        self.assertEqual((r.status, r.body), (200, b"hello from web\n"), r)
        self.assertEqual(self.web.stats()["paths"], {"/h1": 1})

    def test_http2_false_on_tls(self):
        need("curl")
        self.start(plain=False, tls=True, tls_keys={"http2": False})
        rc, out, err = self.curl_tls("a.test", "/alpn", "-v", "--http2")
        self.assertEqual(rc, 0, err)
        self.assertIn("ALPN: server accepted http/1.1", err)
        self.assertIn("< HTTP/1.1 200", err)
        self.assertEqual(out, b"hello from web\n")
        need_h2()
        # A client that offers h2 alone gets no h2: no ALPN answer, or a refusal.
        with self.assertRaises((AssertionError, ssl.SSLError, ConnectionError)):
            H2Client(self.tls_port, tls_host="a.test").close()
        self.assertEqual(self.web.served("/alpn"), 1)

    def test_redirect_https_and_hsts(self):
        need_h2()
        servers = [
            {"name": "a", "server_name": ["a.test"], "upstream": "web", "default": True,
             "redirect_https": True, "hsts": True},
            {"name": "b", "server_name": ["b.test"], "upstream": "web",
             "hsts": "max-age=600; includeSubDomains"},
        ]
        self.start(tls=True, servers=servers)
        c = self.client()
        for method in ("GET", "HEAD"):
            st = c.wait(c.request(method, "/p?q=1", authority="a.test:%d" % self.port))
            self.assertEqual(st.status, 301, st)
            self.assertEqual(st.header("location"), "https://a.test/p?q=1", st)
            self.assertIsNone(st.header("strict-transport-security"), st)
        st = c.wait(c.request("POST", "/p", authority="a.test", body=b"x" * 100))
        self.assertEqual(st.status, 308, st)
        self.assertEqual(st.header("location"), "https://a.test/p", st)
        self.assertEqual(self.web.stats()["requests"], 0)

        t = self.tls_client("a.test")
        st = t.get("/p?q=1", authority="a.test", scheme="https")
        self.assertEqual(st.status, 200, st)
        self.assertEqual(field(st.headers, "strict-transport-security"), ["max-age=31536000"])
        st = t.get("/status/404", authority="a.test", scheme="https")
        self.assertEqual(st.status, 404, st)
        self.assertEqual(field(st.headers, "strict-transport-security"), ["max-age=31536000"])
        t2 = self.tls_client("b.test")
        st = t2.get("/", authority="b.test", scheme="https")
        self.assertEqual(st.status, 200, st)
        self.assertEqual(field(st.headers, "strict-transport-security"),
                         ["max-age=600; includeSubDomains"])
        # No HSTS on h2c.
        st = c.get("/", authority="b.test")
        self.assertEqual(st.status, 200, st)
        self.assertIsNone(st.header("strict-transport-security"), st)
        self.assertEqual(self.web.stats()["requests"], 4)


# ---------------------------------------------------------------------------------------------
# 12. Graceful shutdown


class ShutdownTest(H2Test):
    def assertRefused(self, port, timeout=2):
        """New connections are refused within `timeout` seconds."""
        def refused():
            try:
                s = socket.create_connection((HOST, port), timeout=2)
            except ConnectionRefusedError:
                return True
            s.close()
            return False
        self.assertTrue(harness.wait_for(refused, timeout, interval=0.05),
                        "new connections still accepted %ss after SIGTERM" % timeout)

    def test_goaway_and_in_flight_streams_complete(self):
        need_h2()
        rw = self.start()
        c = self.client()
        n = 4 * MiB
        big = c.request("GET", "/bytes?n=%d" % n, keep_body=False, stalled=True)
        slow = c.request("GET", "/slow?ms=1200")
        c.pump(lambda: big.length > 0 and self.web.served("/slow") == 1, 10,
               "the download to start")
        rw.signal(signal.SIGTERM)
        c.pump(lambda: c.goaways, 5, "a GOAWAY")
        self.assertRefused(self.port)
        print("\n    GOAWAY frames (last stream, code): %r" % c.goaways, flush=True)
        last, code = c.goaways[-1]
        self.assertEqual(code, NO_ERROR, c.goaways)
        self.assertGreaterEqual(last, slow.sid, c.goaways)
        self.assertFalse(big.finished, big)
        # The stalled reader catches up; both streams finish whole.
        c.unstall(big)
        c.wait(big, slow, timeout=10)
        self.assertEqual((big.status, big.reset, big.length), (200, None, n), big)
        self.assertEqual(big.digest(), pattern_sha(n))
        self.assertEqual((slow.status, bytes(slow.body)), (200, b"slow 1200 from web\n"), slow)
        self.assertTrue(all(code == NO_ERROR for _, code in c.goaways), c.goaways)
        self.assertTrue(c.wait_closed(5), "the connection stayed open after its streams")
        # Two steps (RFC 9113 section 6.8): 2^31-1 first, then, a round trip later (the PING
        # this client acknowledged), the last stream ringway processed.
        print("    all GOAWAY frames: %r" % c.goaways, flush=True)
        self.assertEqual(len(c.goaways), 2, c.goaways)
        self.assertEqual(c.goaways[0][0], 2 ** 31 - 1, c.goaways)
        self.assertEqual(c.goaways[1][0], slow.sid, c.goaways)
        self.assertEqual(rw.wait(timeout=10), 0, rw.logs())


# ---------------------------------------------------------------------------------------------
# 13. Backend failure


class BackendFailureTest(H2Test):
    def test_dead_backend_is_502_on_the_stream(self):
        need_h2()
        dead = self.closed_port()
        servers = [{"name": "site", "server_name": ["localhost"], "upstream": "web",
                    "default": True},
                   {"name": "dead", "server_name": ["dead.test"], "upstream": "dead"}]
        # Health checks off, so the request itself finds the port closed (502, not 503).
        no_health = {"health_check": {"enabled": False},
                     "passive_health": {"consecutive_failures": 0}}
        self.web = self.start_backend("web")
        upstreams = [harness.upstream("web", [self.web]),
                     harness.upstream("dead", [dead], **no_health)]
        self.start(servers=servers, upstreams=upstreams, backend=False)
        c = self.client()
        for _ in range(2):
            st = c.get("/x", authority="dead.test")
            self.assertEqual(st.status, 502, st)
            self.assertTrue(st.ended, st)
            self.assertGreater(st.length, 0, st)
            self.assertLess(st.length, 4096, st)
            ok = c.get("/alive")
            self.assertEqual((ok.status, bytes(ok.body)), (200, b"hello from web\n"), ok)
        # HEAD: the same head, content-length included, and no body (RFC 9110 section 9.3.2).
        head = c.request("HEAD", "/x", authority="dead.test")
        c.wait(head)
        self.assertEqual((head.status, head.reset, head.ended, head.length), (502, None, True, 0),
                         head)
        self.assertEqual(head.header("content-length"), str(st.length), head)
        # Both at once on the same connection.
        bad, good = c.request("GET", "/y", authority="dead.test"), c.request("GET", "/alive")
        c.wait(bad, good)
        self.assertEqual((bad.status, good.status), (502, 200))
        self.assertEqual(c.goaways, [])
        self.assertFalse(c.eof)
        self.assertEqual(self.web.stats()["paths"], {"/alive": 3})
        lines = self.access_for('"GET /x"', count=2)
        self.assertEqual(len(lines), 2, self.rw.access_lines())
        self.assertTrue(all('" 502 ' in x for x in lines), lines)


if __name__ == "__main__":
    harness.main()
