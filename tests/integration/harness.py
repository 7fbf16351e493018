"""Shared helpers for ringway's integration tests.

The tests run the real binary (env RINGWAY_BIN) against backends from tests/backend/backend.py,
all on 127.0.0.1. Every process started here is killed when its test ends, when the test
process exits, and (through PR_SET_PDEATHSIG) when the test process dies. Every wait has a
deadline.

    class MyTest(harness.ProxyTest):
        def test_it(self):
            web = self.start_backend("web1")
            rw = self.start_ringway(harness.simple_config(self.free_port(), [web]))
            r = harness.request(rw.port, "GET", "/echo")
            self.assertEqual(r.status, 200)
"""

import atexit
import ctypes
import glob
import hashlib
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("RINGWAY_SRC") or os.path.dirname(os.path.dirname(HERE))
BACKEND_DIR = os.path.join(os.path.dirname(HERE), "backend")
BACKEND_PY = os.path.join(BACKEND_DIR, "backend.py")
sys.path.insert(0, BACKEND_DIR)
import backend as backend_module  # noqa: E402  (the pattern helpers)

pattern = backend_module.pattern
pattern_sha256 = backend_module.pattern_sha256
write_pattern_file = backend_module.write_pattern_file

HOST = "127.0.0.1"

# Tests run many ringways at once: none takes the default admin address unless a test asks for
# an admin listener of its own (Ringway(admin=True) gives each a free port).
os.environ["RINGWAY_ADMIN"] = "off"
MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Processes


_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_live = []
_live_lock = threading.Lock()


def spawn(args, stdout=None, stderr=None, env=None, stdin=subprocess.DEVNULL, nofile=None):
    """Popen that is killed at interpreter exit and when this process dies. `nofile` sets the
    child's open-file limit (soft and hard)."""
    def preexec():
        _die_with_parent()
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.Popen(args, stdout=stdout, stderr=stderr, stdin=stdin, env=env,
                         preexec_fn=preexec)
    with _live_lock:
        _live.append(p)
    return p


def _kill_all():
    with _live_lock:
        procs = list(_live)
    for p in procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


atexit.register(_kill_all)


def _on_signal(signum, frame):
    _kill_all()
    os._exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):  # not the main thread
        pass


def kill_proc(p, timeout=5):
    if p.poll() is None:
        p.kill()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass


def ringway_binary():
    path = os.environ.get("RINGWAY_BIN")
    if path:
        return path
    candidates = [os.path.join(SRC, "build", "it", "ringway"),
                  os.path.join(SRC, "build", "ringway")]
    candidates += sorted(glob.glob(os.path.join(SRC, "build", "*", "ringway")))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return None


_sanitized = {}


def sanitized_binary(path):
    """Whether the binary at `path` is built with AddressSanitizer, whose quarantine keeps freed
    memory and whose shadow memory counts in RSS: memory bounds measured as RSS mean nothing
    there."""
    if path not in _sanitized:
        try:
            with open(path, "rb") as f:
                _sanitized[path] = b"__asan_init" in f.read()
        except OSError:
            _sanitized[path] = False
    return _sanitized[path]


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_LOW = _ephemeral_low()
_PORT_RANGE = (10000, _EPHEMERAL_LOW) if _EPHEMERAL_LOW >= 12000 else None
_ports_given = set()
_port_rng = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port():
    """A port that was free a moment ago on 127.0.0.1, below the kernel's ephemeral range
    where it has room: a port taken from that range (bind to port 0) could meanwhile become
    the source port of some other test's outgoing connection (tests run side by side), and the
    listener meant for it then fails with "Address already in use". Never the same port twice
    in one process."""
    if _PORT_RANGE is not None:
        for _ in range(200):
            port = _port_rng.randrange(*_PORT_RANGE)
            if port in _ports_given:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    continue
            _ports_given.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    _ports_given.add(port)
    return port


def tail(path, limit=6000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
        text = data.decode("utf-8", "replace")
        return ("...(%d bytes before)\n" % (size - limit) if size > limit else "") + text
    except OSError as e:
        return "<%s>" % e


def read_file(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


class Backend:
    """One backend.py process with `listens` listeners on 127.0.0.1 (ports picked by the OS,
    or `port` for a single listener, as when a backend is restarted where it was)."""

    def __init__(self, name, workdir, listens=1, extra_args=(), timeout=15, wait=True,
                 port=None, label=None):
        self.name = name
        self.workdir = workdir
        self.extra_args = list(extra_args)
        label = label or name
        self.out_path = os.path.join(workdir, "backend-%s.out" % label)
        self.err_path = os.path.join(workdir, "backend-%s.err" % label)
        args = [sys.executable, BACKEND_PY, "--name", name]
        if port is not None:
            if listens != 1:
                raise ValueError("a fixed port needs exactly one listener")
            args += ["--listen", "%s:%d" % (HOST, port)]
        else:
            for _ in range(listens):
                args += ["--listen", "%s:0" % HOST]
        args += list(extra_args)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = spawn(args, stdout=out, stderr=err)
        self.listens = listens
        self.ports = []
        self.port = None
        if wait:
            self.wait_started(timeout)

    def wait_started(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(r"listening on [0-9.]+:(\d+)", read_file(self.out_path))
            if len(found) >= self.listens:
                self.ports = [int(p) for p in found[:self.listens]]
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        if len(self.ports) < self.listens:
            kill_proc(self.proc)
            raise AssertionError("backend %s did not start:\n%s"
                                 % (self.name, tail(self.err_path)))
        self.port = self.ports[0]

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def get(self, target, timeout=10):
        return request(self.port, "GET", target, timeout=timeout)

    def stats(self):
        r = self.get("/stats")
        assert r.status == 200, r
        return r.json()

    def reset_stats(self):
        r = self.get("/reset-stats")
        assert r.status == 200, r

    def served(self, path):
        """Requests for `path` (query left out) since start or the last reset."""
        return self.stats()["paths"].get(path, 0)

    def set(self, **settings):
        """Changes the backend's behaviour at run time: delay_ms, status, health, drop, reset
        (see backend.py). Returns the settings now in force."""
        query = "&".join("%s=%d" % (k, int(v)) for k, v in sorted(settings.items()))
        r = self.get("/set?" + query)
        assert r.status == 200, r
        return r.json()

    def stop(self):
        kill_proc(self.proc)

    def running(self):
        return self.proc.poll() is None

    def logs(self):
        return "--- backend %s stderr ---\n%s" % (self.name, tail(self.err_path, 3000))


class Ringway:
    """A ringway process for one config. Waits until every listener in `ports` accepts."""

    def __init__(self, config_text, workdir, ports, workers=1, extra_args=(), env=None,
                 wait=True, label="ringway", config_via_env=False, nofile=None, admin=False):
        binary = ringway_binary()
        if not binary:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
        if not os.access(binary, os.X_OK):
            raise AssertionError("RINGWAY_BIN=%s is not an executable file" % binary)
        self.binary = binary
        self.ports = list(ports)
        self.port = self.ports[0] if self.ports else None
        self.label = label
        self.config_path = os.path.join(workdir, "%s.yaml" % label)
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.out_path = os.path.join(workdir, "%s.stdout" % label)
        self.err_path = os.path.join(workdir, "%s.stderr" % label)
        if config_via_env:
            self.args = [binary]
            env = dict(os.environ if env is None else env, CONFIG_PATH=self.config_path)
        else:
            self.args = [binary, "--config", self.config_path]
        if workers is not None:
            self.args += ["--workers", str(workers)]
        self.admin_port = None
        if admin:
            self.admin_port = free_port()
            self.args += ["--admin", "%s:%d" % (HOST, self.admin_port)]
        self.args += list(extra_args)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = spawn(self.args, stdout=out, stderr=err, env=env, nofile=nofile)
        self.pid = self.proc.pid
        self.stopped_rc = None
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        ports = self.ports + ([self.admin_port] if self.admin_port else [])
        for port in ports:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("ringway exited with %s before listening on %d\n%s"
                                         % (self.proc.returncode, port, self.logs()))
                try:
                    with socket.create_connection((HOST, port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("ringway did not listen on %d within %ss\n%s"
                                             % (port, timeout, self.logs()))
                    time.sleep(0.02)

    def running(self):
        return self.proc.poll() is None

    def signal(self, signum=signal.SIGTERM):
        self.proc.send_signal(signum)

    def wait(self, timeout):
        """Exit status, or None if still running after `timeout` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=15):
        """SIGTERM, then the exit status (None if it had to be killed after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            kill_proc(self.proc)
        self.stopped_rc = rc
        return rc

    def kill(self):
        kill_proc(self.proc)

    def proc_status(self, field):
        """A kB field of /proc/PID/status (VmRSS, VmHWM), or None once gone."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stdout(self):
        return read_file(self.out_path)

    def stderr(self):
        return read_file(self.err_path)

    def log_lines(self, *needles, pattern=None):
        """stderr lines that contain every needle (and match the regex `pattern`). A needle
        that looks like an address ("127.0.0.1:3001") does not match a longer port."""
        rx = re.compile(pattern, re.I) if pattern else None
        finders = [_needle_re(n) for n in needles]
        return [line for line in self.stderr().splitlines()
                if all(f.search(line) for f in finders) and (rx is None or rx.search(line))]

    def health_events(self, address):
        """The health state changes logged for one backend, in order: a list of "up" and
        "down". A line naming the address counts as an event when it says "up" or "down"
        as a word; phrases like "was up" or "from down" are skipped, and the first word
        left is the new state ("is down: connection refused")."""
        events = []
        for line in self.log_lines(address):
            text = _needle_re(address).sub(" ", line)
            text = _OLD_STATE.sub(" ", text)
            found = _STATE_WORD.findall(text)
            if found:
                events.append(found[0].lower())
        return events

    def wait_health_event(self, address, state, after=0, timeout=15):
        """Waits until the log has a `state` ("up"/"down") event for `address` beyond the
        first `after` events; returns the number of events up to and including it."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.health_events(address)
            for i in range(after, len(events)):
                if events[i] == state:
                    return i + 1
            if time.monotonic() > deadline or not self.running():
                raise AssertionError("no '%s' line for %s within %ss (events so far: %r)"
                                     % (state, address, timeout, events))
            time.sleep(0.02)

    def access_lines(self):
        return [line for line in self.stdout().splitlines() if line.strip()]

    def logs(self):
        return ("--- %s %s ---\n--- stderr ---\n%s\n--- stdout ---\n%s"
                % (self.label, " ".join(self.args), tail(self.err_path), tail(self.out_path)))


_STATE_WORD = re.compile(r"\b(up|down)\b", re.I)
_OLD_STATE = re.compile(r"\b(was|from)\s+(up|down)\b", re.I)


def _needle_re(needle):
    text = re.escape(needle)
    if re.match(r"[0-9.]+:\d+\Z", needle):
        text = r"(?<![\d.])" + text + r"(?!\d)"
    return re.compile(text)


def closed_port():
    """(socket, port): a 127.0.0.1 port that refuses connections (bound, never listening),
    reserved while the socket stays open. Close the socket when done."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    return s, s.getsockname()[1]


class Blackhole:
    """A 127.0.0.1 port whose connects never complete: a listener that never accepts, with its
    accept queue already full, so the kernel drops further SYNs."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((HOST, 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.address = "%s:%d" % (HOST, self.port)
        self.fillers = []
        for _ in range(3):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            try:
                f.connect((HOST, self.port))
            except BlockingIOError:
                pass
            self.fillers.append(f)
        time.sleep(0.2)

    def close(self):
        for f in self.fillers:
            f.close()
        self.listener.close()


PROBE_LIMIT = 2.0  # seconds: every probe must be answered within this while an attack runs


class Probe:
    """A normal client beside an attack: one GET on a fresh connection every `interval`
    seconds, each allowed `timeout` seconds, expecting status `expect`. Records (latency,
    status or error) per probe."""

    def __init__(self, port, target="/", host="localhost", interval=0.15, timeout=3.0,
                 expect=200):
        self.port = port
        self.expect = expect
        self.target = target
        self.host = host
        self.interval = interval
        self.timeout = timeout
        self.results = []  # (seconds, status or error text)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def once(self):
        """One probe: its status (raises if it was not answered)."""
        return request(self.port, "GET", self.target, host=self.host,
                       timeout=self.timeout).status

    def _run(self):
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                outcome = self.once()
            except Exception as e:  # a timeout, a reset: the probe was not served
                outcome = "%s: %s" % (type(e).__name__, str(e)[:80])
            self.results.append((time.monotonic() - start, outcome))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)

    def late_or_failed(self, limit=PROBE_LIMIT):
        return [(round(t, 2), o) for t, o in self.results if o != self.expect or t > limit]

    def summary(self):
        if not self.results:
            return "no probes"
        times = sorted(t for t, _ in self.results)
        return "%d probes, %d late or failed, latency max %.3f s, median %.3f s" % (
            len(self.results), len(self.late_or_failed()), times[-1], times[len(times) // 2])


class RssSampler:
    """Samples a ringway's VmRSS every `interval` seconds in a thread; `peak_kb` is the max."""

    def __init__(self, rw, interval=0.02):
        self.rw = rw
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = self.rw.proc_status("VmRSS")
            if v is not None:
                self.peak_kb = max(self.peak_kb, v)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# Configuration

_PLAIN = re.compile(r"[A-Za-z0-9_./-][A-Za-z0-9_./:-]*\Z")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED and not s.endswith(":"):
        return s
    return json.dumps(s)


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts, lists and scalars."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append("%s%s: %s" % (pad, k, "{}" if isinstance(v, dict) else "[]"))
            else:
                lines.append("%s%s: %s" % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                inner = to_yaml(item, indent + 2)
                lines.append(pad + "- " + inner[indent + 2:])
            elif isinstance(item, list) and item:
                inner = to_yaml(item, indent + 2)
                lines.append(pad + "- " + inner[indent + 2:])
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


def _address(b):
    return b.address if isinstance(b, Backend) else b


def upstream(name, backends, weights=None, keepalive=None, **options):
    """An upstream entry; backends are Backend objects, "ip:port" strings or server dicts
    ({"address": ..., "weight": ..., ...}, Backend objects allowed as the address).
    `options` are further upstream keys (algorithm, health_check, retry, ...)."""
    servers = []
    for i, b in enumerate(backends):
        if isinstance(b, dict):
            entry = dict(b)
            entry["address"] = _address(entry["address"])
            if weights is not None:
                entry["weight"] = weights[i]
            servers.append(entry)
        elif weights is not None:
            servers.append({"address": _address(b), "weight": weights[i]})
        else:
            servers.append(_address(b))
    u = {"name": name, "servers": servers}
    if keepalive is not None:
        u["keepalive"] = keepalive
    u.update(options)
    return u


def config(listeners, servers, upstreams, timeouts=None, limits=None, log=None,
           global_extra=None):
    """YAML text. `listeners` is a list of (name, port) or (name, port, [server names])."""
    g = {"log": {"level": "info", "format": "text", "access_log": True}}
    if log:
        g["log"].update(log)
    t = {"shutdown": "5s"}
    if timeouts:
        t.update(timeouts)
    g["timeouts"] = t
    if limits:
        g["limits"] = dict(limits)
    if global_extra:
        g.update(global_extra)
    ls = []
    for entry in listeners:
        item = {"name": entry[0], "bind": "%s:%d" % (HOST, entry[1])}
        if len(entry) > 2 and entry[2] is not None:
            item["servers"] = list(entry[2])
        ls.append(item)
    doc = {"global": g, "listeners": ls, "servers": servers, "upstreams": upstreams}
    return to_yaml(doc) + "\n"


def simple_config(port, backends, weights=None, keepalive=None, upstream_options=None,
                  routes=None, **kw):
    """One listener on `port`, one default server, one upstream "pool" of `backends`
    (`upstream_options`: more upstream keys; `routes`: the server's routes)."""
    site = {"name": "site", "server_name": ["localhost"], "upstream": "pool", "default": True}
    if routes:
        site["routes"] = list(routes)
    return config([("main", port)], [site],
                  [upstream("pool", backends, weights=weights, keepalive=keepalive,
                            **(upstream_options or {}))], **kw)


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 client


class ReadTimeout(AssertionError):
    pass


class ClosedEarly(AssertionError):
    """The peer closed (or reset) the connection before a response head arrived."""


class Response:
    def __init__(self):
        self.version = ""
        self.status = 0
        self.reason = ""
        self.headers = []  # (name, value)
        self.body = b""
        self.head = b""
        self.interim = []  # statuses of 1xx responses seen before this one
        self.chunked = False
        self.trailers = []
        self.complete = True  # False: the connection ended before the body did
        self.close_delimited = False

    def header(self, name, default=None):
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def has_token(self, name, token):
        token = token.lower()
        return any(t.strip().lower() == token for v in self.header_all(name)
                   for t in v.split(","))

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        body = self.body[:300]
        return "<Response %s %s headers=%r body[%d]=%r%s>" % (
            self.status, self.reason, self.headers, len(self.body), body,
            "" if self.complete else " INCOMPLETE")


def build_request(method, target, host="localhost", headers=(), body=None,
                  version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    names = set()
    for n, v in headers:
        lines.append("%s: %s" % (n, v))
        names.add(n.lower())
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Conn:
    """One client connection with its own read buffer, so pipelined responses parse."""

    def __init__(self, port, timeout=10, source=None):
        """`source`: the local address to connect from (any 127.x.y.z works on loopback)."""
        self.sock = socket.create_connection((HOST, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, **kw):
        self.send(build_request(method, target, **kw))

    def _recv(self, deadline):
        """Reads more into buf; False at end of stream. Raises ReadTimeout at the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise ReadTimeout("no data before the deadline; have %d bytes: %r"
                              % (len(self.buf), bytes(self.buf[:500])))
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise ReadTimeout("no data before the deadline; have %d bytes: %r"
                              % (len(self.buf), bytes(self.buf[:500])))
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep, deadline, limit=1 << 20):
        scan = 0
        while True:
            idx = self.buf.find(sep, scan)
            if idx >= 0:
                out = bytes(self.buf[:idx])
                del self.buf[:idx + len(sep)]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (sep, limit))
            scan = max(0, len(self.buf) - len(sep) + 1)
            if not self._recv(deadline):
                return None

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._recv(deadline):
                out = bytes(self.buf)
                self.buf.clear()
                return out
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, method="GET", timeout=10):
        """Reads one final response (1xx responses are recorded in .interim)."""
        deadline = time.monotonic() + timeout
        resp = Response()
        while True:
            head = self._read_until(b"\r\n\r\n", deadline)
            if head is None:
                raise ClosedEarly("connection closed before a response head; got %r"
                                  % bytes(self.buf[:500]))
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise AssertionError("bad status line %r" % lines[0])
            status = int(parts[1])
            if 100 <= status < 200 and status != 101:
                resp.interim.append(status)
                continue
            resp.head = head
            resp.version = parts[0]
            resp.status = status
            resp.reason = parts[2] if len(parts) > 2 else ""
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise AssertionError("bad header line %r in %r" % (line, head))
                resp.headers.append((name, value.strip(" \t")))
            break

        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        te = ",".join(resp.header_all("transfer-encoding")).lower()
        cl = resp.header_all("content-length")
        if te:
            if te.split(",")[-1].strip() != "chunked":
                raise AssertionError("response with Transfer-Encoding %r" % te)
            resp.chunked = True
            body = bytearray()
            while True:
                line = self._read_until(b"\r\n", deadline, limit=4096)
                if line is None:
                    resp.complete = False
                    break
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self._read_until(b"\r\n", deadline, limit=65536)
                        if t is None:
                            resp.complete = False
                            break
                        if not t:
                            break
                        n, _, v = t.decode("latin-1").partition(":")
                        resp.trailers.append((n, v.strip()))
                    break
                data = self._read_exact(size, deadline)
                body += data
                if len(data) < size:
                    resp.complete = False
                    break
                if self._read_exact(2, deadline) != b"\r\n":
                    raise AssertionError("chunk not followed by CRLF")
            resp.body = bytes(body)
        elif cl:
            if len(set(cl)) != 1:
                raise AssertionError("response with several Content-Length: %r" % cl)
            n = int(cl[0])
            resp.body = self._read_exact(n, deadline)
            resp.complete = len(resp.body) == n
        else:
            resp.close_delimited = True
            while self._recv(deadline):
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp

    def wait_closed(self, timeout=5):
        """True if the peer ends the connection (FIN or RST) within `timeout` seconds; bytes
        that arrive meanwhile are kept in .buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._recv(deadline):
                pass
            return True
        except ReadTimeout:
            return False
        except OSError:
            return True

    def roundtrip(self, method, target, timeout=10, **kw):
        self.request(method, target, **kw)
        return self.read_response(method, timeout=timeout)


def request(port, method, target, timeout=10, source=None, **kw):
    """One request on a fresh connection (from the local address `source`, if given)."""
    with Conn(port, timeout=timeout, source=source) as c:
        return c.roundtrip(method, target, timeout=timeout, **kw)


def raw_exchange(port, data, timeout=10, method="GET"):
    """Sends raw bytes on a fresh connection; returns (response or None, closed_after)."""
    with Conn(port, timeout=timeout) as c:
        c.send(data)
        try:
            resp = c.read_response(method, timeout=timeout)
        except ClosedEarly:
            return None, True
        return resp, c.wait_closed(timeout=2)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run_cmd(args, timeout=60, **kw):
    """subprocess.run with a deadline; the child dies with this process."""
    return subprocess.run(args, capture_output=True, timeout=timeout,
                          preexec_fn=_die_with_parent, **kw)


def wait_for(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Test case base


class ProxyTest(unittest.TestCase):
    """Gives each test a work directory, backends and ringway processes that are cleaned up,
    and prints their logs when the test fails. After every test each ringway still running
    gets SIGTERM and must exit 0 within its shutdown deadline."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="ringway-it-")
        self.backends = []
        self.ringways = []
        self.conns = []
        self._log_text = ""
        self.addCleanup(self._final_cleanup)

    def _final_cleanup(self):
        parts = []
        for rw in self.ringways:
            parts.append(rw.logs())
            rw.kill()
        for b in self.backends:
            parts.append(b.logs())
            b.stop()
        self._log_text = "\n".join(parts)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _stop_ringways(self):
        for c in self.conns:
            c.close()
        problems = []
        for rw in self.ringways:
            if rw.running() and rw.check_exit:
                rc = rw.stop(timeout=15)
                if rc != 0:
                    problems.append("%s: SIGTERM at test end gave exit status %r (None: hung)"
                                    % (rw.label, rc))
            # Every provided buffer goes back to its ring by the time a worker exits: one that
            # does not was leaked by some path the test took.
            leaks = rw.log_lines("provided buffers still lent at exit")
            if leaks:
                problems.append("%s: %s" % (rw.label, leaks[0]))
        if problems:
            raise AssertionError("; ".join(problems))

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before and self._log_text:
            sys.stderr.write("\n===== logs for %s =====\n%s\n===== end of logs =====\n"
                             % (self.id(), self._log_text))
            sys.stderr.flush()
        return out

    def free_port(self):
        return free_port()

    def start_backend(self, name, listens=1, extra_args=()):
        b = Backend(name, self.workdir, listens=listens, extra_args=extra_args)
        self.backends.append(b)
        return b

    def start_backends(self, *names, extra_args=()):
        """Several backends started side by side (faster than one after another)."""
        bs = [Backend(n, self.workdir, wait=False, extra_args=extra_args) for n in names]
        self.backends.extend(bs)
        for b in bs:
            b.wait_started()
        return bs

    def restart_backend(self, old, extra_args=None):
        """A new process for a backend that was stopped, on the same port and with the same
        name (and options, unless `extra_args` is given)."""
        if old.running():
            old.stop()
        n = sum(1 for b in self.backends if b.name == old.name)
        args = old.extra_args if extra_args is None else extra_args
        b = Backend(old.name, self.workdir, extra_args=args, port=old.port,
                    label="%s.%d" % (old.name, n + 1))
        self.backends.append(b)
        return b

    def closed_port(self):
        """A 127.0.0.1 "ip:port" that refuses connections until the test ends."""
        s, port = closed_port()
        self.addCleanup(s.close)
        return "%s:%d" % (HOST, port)

    def blackhole(self):
        """A Blackhole ("ip:port" in .address) that lasts until the test ends."""
        b = Blackhole()
        self.addCleanup(b.close)
        return b

    def start_ringway(self, config_text, ports=None, workers=1, extra_args=(), env=None,
                      wait=True, check_exit=True, config_via_env=False, nofile=None,
                      admin=False):
        """Starts ringway; `ports` defaults to every 127.0.0.1 bind port in the config.
        admin=True: with an admin listener on a port of its own (rw.admin_port)."""
        if ports is None:
            ports = [int(p) for p in re.findall(r"bind: \"?127\.0\.0\.1:(\d+)", config_text)]
        label = "ringway%d" % (len(self.ringways) + 1)
        rw = Ringway(config_text, self.workdir, ports, workers=workers, extra_args=extra_args,
                     env=env, wait=False, label=label, config_via_env=config_via_env,
                     nofile=nofile, admin=admin)
        rw.check_exit = check_exit
        self.ringways.append(rw)
        if len(self.ringways) == 1:
            # Registered after _final_cleanup, so it runs before it (cleanups are LIFO).
            self.addCleanup(self._stop_ringways)
        if wait:
            rw.wait_ready()
        return rw

    def conn(self, port, timeout=10):
        c = Conn(port, timeout=timeout)
        self.conns.append(c)
        return c

    def assertShortErrorBody(self, resp):
        """Errors made by ringway carry a short body and a matching length."""
        self.assertTrue(resp.complete, resp)
        self.assertGreater(len(resp.body), 0, "error response without a body: %r" % (resp,))
        self.assertLess(len(resp.body), 4096, resp)


def main():
    unittest.main(verbosity=2)
