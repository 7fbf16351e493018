"""The configuration files of the proxies ringway replaces (tests/seeds/, see its README),
loaded as written and checked end to end: --validate with the warnings each one should give,
and ringway serving each file the way the earlier proxy did:

- server/backends YAML (server_quickstart.yaml, server_config.yaml): a listener on host:port,
  round robin over the backends by weight, per-backend HTTP checks on health_check_path with
  the file's interval and failure_threshold, X-Forwarded-For;
- services YAML (services_default.yaml): one port per service, each to its own upstream, with
  TCP checks at the file's frequency;
- virtual-hosts TOML (vhosts_*.toml): HTTPS with a self-signed certificate for the domains,
  plain HTTP redirected to https, the management API (domains, backends, switch) and the
  metrics-only listener.

Every behaviour check runs twice: on the seed file and on what `ringway config print` makes of
it (the printed file must pass --validate too). Also: RUST_LOG / RINGWAY_LOG, the default
configuration paths of the working directory, and the errors for files that mix schemas or are
malformed (file:line:col).

The seed files bind fixed ports (3000, 6188, 6189, 443, 80, 8080, 9090), expect backends on
fixed ports (3001, 3002) and name internet hosts (httpbin.org, example.com, ...). So the whole
file runs in a private network namespace of its own: run as a script, it re-executes itself
under `unshare -rn` (a user and a network namespace) and brings `lo` up there. In it the fixed
ports belong to this file alone, binding 80 and 443 works, and a lookup of an internet name
fails at once without any traffic leaving the machine. Where user namespaces are not allowed
the file fails with a message saying so.

The seed files are read from tests/seeds/ and never changed. Where a seed names internet hosts
it is checked as written (it validates with warnings, starts, and answers 502/503 at once) and
its behaviour is checked on a copy whose URLs name the loopback test backends instead (the only
change, except where a comment says a copy also shortens a health-check interval for timing).
"""

import collections
import ctypes
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

import harness

SEEDS = os.path.join(harness.SRC, "tests", "seeds")
HOST = harness.HOST

AS_WRITTEN = "as written"
PRINTED = "printed"

# Every seed file and the warnings --validate must give for it, as regexes.
UNRESOLVED = r"backend %s: .*stays down until its name resolves"
SELF_SIGNED = r"listener 'https' serves a self-signed certificate for %s;"
SEED_WARNINGS = {
    "server_quickstart.yaml": [UNRESOLVED % re.escape("backend1.example.com:80"),
                               UNRESOLVED % re.escape("backend2.example.com:80")],
    "server_config.yaml": [UNRESOLVED % re.escape("httpbin.org:80"),
                           UNRESOLVED % re.escape("example.com:80")],
    "services_default.yaml": [],
    "vhosts_config.toml": [SELF_SIGNED % re.escape("example.com")],
    "vhosts_ab.toml": [UNRESOLVED % re.escape("backend-prod-1:8080"),
                       UNRESOLVED % re.escape("backend-prod-2:8080"),
                       UNRESOLVED % re.escape("backend-canary:8080"),
                       SELF_SIGNED % re.escape("app.example.com")],
    "vhosts_rollout.toml": [SELF_SIGNED % re.escape("canary.app.example.com, app.example.com")],
}

# ringway's health-check defaults where a file leaves them out (docs/configuration.md).
DEFAULT_JITTER = 0.2
DEFAULT_RISE = 2
DEFAULT_FALL = 3
# Room on top of a computed worst case for a loaded machine.
SLACK = 3.0


# ---------------------------------------------------------------------------------------------
# The private network namespace

_OUTER_NETNS = "RINGWAY_SEED_TESTS_OUTER_NETNS"


def _netns():
    return os.readlink("/proc/self/ns/net")


def _loopback_up():
    ip = shutil.which("ip")
    if ip:
        r = subprocess.run([ip, "link", "set", "lo", "up"], capture_output=True, timeout=10)
        if r.returncode == 0:
            return
    # Without iproute2: SIOCGIFFLAGS / SIOCSIFFLAGS with IFF_UP.
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def enter_private_network_namespace():
    """Re-executes this file in a new user and network namespace (once), then brings lo up.
    Exits with status 1 and a message if that is not possible."""
    outer = os.environ.get(_OUTER_NETNS)
    if outer is None:
        unshare = shutil.which("unshare")
        reason = None
        if not unshare:
            reason = "the unshare command (util-linux) is not installed"
        else:
            try:
                probe = subprocess.run([unshare, "-rn", "true"], capture_output=True,
                                       timeout=30)
                if probe.returncode != 0:
                    reason = "`unshare -rn true` failed: %s" % (
                        probe.stderr.decode("utf-8", "replace").strip() or
                        "exit status %d" % probe.returncode)
            except (OSError, subprocess.SubprocessError) as e:
                reason = "`unshare -rn true` failed: %s" % e
        if reason:
            sys.stderr.write(
                "FAIL: test_seed_configs.py needs a private network namespace and cannot make "
                "one: %s.\nThe seed files bind fixed ports (3000, 6188, 6189, 443, 80, 8080, "
                "9090) and name internet hosts, so these tests run only in a network namespace "
                "of their own. Run them as root, or allow unprivileged user namespaces "
                "(sysctl user.max_user_namespaces > 0; kernel.unprivileged_userns_clone=1 on "
                "Debian kernels; kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu).\n"
                % reason)
            sys.exit(1)
        env = dict(os.environ)
        env[_OUTER_NETNS] = _netns()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(unshare, [unshare, "-rn", "--", sys.executable, os.path.abspath(__file__)] +
                  sys.argv[1:], env)
    if outer == _netns():
        sys.stderr.write("FAIL: %s is set, but this process is in the network namespace it "
                         "names (%s), not in a private one; unset it\n" % (_OUTER_NETNS, outer))
        sys.exit(1)
    _loopback_up()
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        sys.stderr.write("FAIL: the private network namespace has interfaces %r; expected lo "
                         "alone\n" % names)
        sys.exit(1)


def setUpModule():
    # Loaded some other way than as a script (a test runner's discovery), the file would bind
    # the machine's ports and let the seeds reach for internet hosts: refuse.
    outer = os.environ.get(_OUTER_NETNS)
    if outer is None or outer == _netns():
        raise AssertionError("test_seed_configs.py runs only as a script (python3 "
                             "tests/integration/test_seed_configs.py), which moves it into a "
                             "private network namespace first")


# ---------------------------------------------------------------------------------------------
# Helpers

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def seed_path(name):
    return os.path.join(SEEDS, name)


def seed_text(name):
    with open(seed_path(name), encoding="utf-8") as f:
        return f.read()


def ringway_env(**overrides):
    """The environment for ringway: none of the settings a caller's shell may carry that would
    change what is checked, then `overrides` (a value of None removes the variable)."""
    env = dict(os.environ)
    for k in ("CONFIG_PATH", "RINGWAY_LOG", "RUST_LOG", "WORKER_THREADS", _OUTER_NETNS):
        env.pop(k, None)
    env["RINGWAY_ADMIN"] = "off"
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_ringway(args, env=None, timeout=20, cwd=None):
    """(exit status, stdout, stderr) of a ringway run that must end by itself."""
    binary = harness.ringway_binary()
    if not binary:
        raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
    res = subprocess.run([binary] + list(args), capture_output=True, timeout=timeout,
                         env=env if env is not None else ringway_env(), cwd=cwd,
                         preexec_fn=_die_with_parent)
    return (res.returncode, res.stdout.decode("utf-8", "replace"),
            res.stderr.decode("utf-8", "replace"))


def served_by(r):
    return r.header("X-Backend")


def header_values(echo, name):
    return [v for n, v in echo["headers"] if n.lower() == name.lower()]


class SeedRingway(harness.Ringway):
    """A ringway process on a configuration file as it is (any extension, not rewritten), or
    on none (`config_path` None: the default paths), in `cwd`."""

    def __init__(self, config_path, workdir, ports, label, env=None, cwd=None, workers=1):
        binary = harness.ringway_binary()
        if not binary:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
        self.binary = binary
        self.ports = list(ports)
        self.port = self.ports[0] if self.ports else None
        self.label = label
        self.config_path = config_path
        self.out_path = os.path.join(workdir, "%s.stdout" % label)
        self.err_path = os.path.join(workdir, "%s.stderr" % label)
        self.args = [binary]
        if config_path is not None:
            self.args += ["--config", config_path]
        self.args += ["--workers", str(workers)]
        self.admin_port = None
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=cwd,
                                         env=env if env is not None else ringway_env(),
                                         preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self.stopped_rc = None
        self.check_exit = True


class SeedTest(harness.ProxyTest):
    """Runs ringway on seed files (or their printed form, by the class's VARIANT)."""

    VARIANT = AS_WRITTEN

    def start_seed(self, config_path, ports, env=None, cwd=None, wait=True):
        label = "ringway%d" % (len(self.ringways) + 1)
        rw = SeedRingway(config_path, self.workdir, ports, label, env=env, cwd=cwd)
        self.ringways.append(rw)
        if len(self.ringways) == 1:
            # Registered after the base class's cleanup, so it runs first (LIFO): every ringway
            # still running gets SIGTERM and must exit 0.
            self.addCleanup(self._stop_ringways)
        if wait:
            rw.wait_ready(timeout=15)
        return rw

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def copy_seed(self, name):
        """A byte-for-byte copy of a seed in the work directory. Used where ringway writes
        beside its configuration file (the admin API's state file), so that nothing is ever
        written into tests/seeds/."""
        dst = os.path.join(self.workdir, name)
        shutil.copyfile(seed_path(name), dst)
        with open(seed_path(name), "rb") as a, open(dst, "rb") as b:
            self.assertEqual(a.read(), b.read())
        return dst

    def edited_seed(self, name, replacements, out_name=None):
        """A copy of a seed with each (old, new) replaced; each `old` must occur once."""
        text = seed_text(name)
        for old, new in replacements:
            self.assertEqual(text.count(old), 1, "%r in %s" % (old, name))
            text = text.replace(old, new)
        return self.write(out_name or ("edited-" + name), text)

    def printed(self, path):
        """`ringway config print --config path` written to a file, which must pass
        --validate; returns the file's path."""
        rc, out, err = run_ringway(["config", "print", "--config", path])
        self.assertEqual(rc, 0, "config print %s failed:\n%s" % (path, err))
        self.assertIn("listeners:", out)
        stem = os.path.splitext(os.path.basename(path))[0]
        dst = self.write("%s.printed.yaml" % stem, out)
        rc, _, verr = run_ringway(["--validate", "--config", dst])
        self.assertEqual(rc, 0, "the printed form of %s does not validate:\n%s\n--- file ---\n%s"
                         % (path, verr, out))
        return dst

    def variant(self, path):
        """`path` itself, or its printed form, as the class's VARIANT says."""
        return path if self.VARIANT == AS_WRITTEN else self.printed(path)

    def get(self, port, target="/", host="localhost", timeout=5, **kw):
        return harness.request(port, "GET", target, host=host, timeout=timeout, **kw)

    def served(self, port, n, target="/", **kw):
        """n requests, each must get 200; the list of the backends that served them."""
        names = []
        for _ in range(n):
            r = self.get(port, target, **kw)
            self.assertEqual(r.status, 200, r)
            names.append(served_by(r))
        return names

    def assertQuickError(self, port, statuses=(502, 503), limit=3.0, host="localhost"):
        """A request answered with one of `statuses` within `limit` seconds (not a hang)."""
        start = time.monotonic()
        r = self.get(port, "/", host=host, timeout=limit + 5)
        took = time.monotonic() - start
        self.assertIn(r.status, statuses, r)
        self.assertLess(took, limit, "the %d took %.2f s" % (r.status, took))
        return r

    def wait_name_down(self, rw, name, upstream="backends", timeout=2 + DEFAULT_JITTER + SLACK):
        """Waits for the health checker's line that takes down the backend `name` (a host name
        that does not resolve) in `upstream`: its first check fails."""
        self.wait_log(rw, r"health: backend %s \(upstream '%s'\) is down"
                      % (re.escape(name), re.escape(upstream)), timeout)

    def wait_probed(self, backend, timeout):
        """Waits until a TCP health check has reached `backend`: a connection it accepted
        beyond those that carried requests and those of these /stats calls."""
        own = [0]

        def probed():
            own[0] += 1
            st = backend.stats()
            return st["accepted"] - st["connections"] - own[0] > 0

        self.assertTrue(harness.wait_for(probed, timeout, interval=0.1),
                        "no health check reached %s within %ss: %r"
                        % (backend.address, timeout, backend.stats()))

    def wait_log(self, rw, pattern, timeout):
        rx = re.compile(pattern)
        lines = harness.wait_for(lambda: [x for x in rw.stderr().splitlines() if rx.search(x)],
                                 timeout)
        self.assertTrue(lines, "no stderr line matching %r within %ss" % (pattern, timeout))
        return lines


# ---------------------------------------------------------------------------------------------
# --validate and config print on every seed


class ValidateSeedsTest(SeedTest):
    def check_warnings(self, name, err):
        for pattern in SEED_WARNINGS[name]:
            self.assertRegex(err, r"\bwarn\b.*" + pattern, "%s: warning %r missing:\n%s"
                             % (name, pattern, err))
        warns = [x for x in err.splitlines() if re.search(r"\bwarn\b", x)]
        self.assertEqual(len(warns), len(SEED_WARNINGS[name]), "%s: warnings:\n%s"
                         % (name, "\n".join(warns)))

    def test_validate_each_seed_as_written(self):
        for name in sorted(SEED_WARNINGS):
            with self.subTest(seed=name):
                start = time.monotonic()
                rc, out, err = run_ringway(["--validate", "--config", seed_path(name)])
                took = time.monotonic() - start
                self.assertEqual(rc, 0, "%s:\n%s" % (name, err))
                self.assertIn("configuration %s is valid" % seed_path(name), out + err)
                self.check_warnings(name, err)
                # Names that do not resolve fail at once here (no network): no lookup waits.
                self.assertLess(took, 5.0, "--validate %s took %.1f s" % (name, took))

    def test_printed_form_of_each_seed_validates(self):
        for name in sorted(SEED_WARNINGS):
            with self.subTest(seed=name):
                printed = self.printed(seed_path(name))
                rc, out, err = run_ringway(["--validate", "--config", printed])
                self.assertEqual(rc, 0, err)
                self.check_warnings(name, err)
                # Printing the printed file gives the same configuration again.
                rc, again, err2 = run_ringway(["config", "print", "--config", printed])
                self.assertEqual(rc, 0, err2)
                strip = lambda t: [x for x in t.splitlines() if not x.lstrip().startswith("#")]
                self.assertEqual(strip(again), strip(harness.read_file(printed)))


# ---------------------------------------------------------------------------------------------
# server/backends YAML

SERVER_PORT = 3000


class ServerBackendsAsWrittenTest(SeedTest):
    """The two server/backends examples as written: their backends are internet names, which
    do not resolve in the namespace."""

    def check_as_written(self, name, hosts):
        rw = self.start_seed(self.variant(seed_path(name)), [SERVER_PORT])
        for h in hosts:
            self.assertTrue(rw.log_lines(h, "stays down until its name resolves"),
                            "no warning for %s:\n%s" % (h, rw.stderr()))
        for _ in range(3):
            self.assertQuickError(SERVER_PORT)
        # Once the first checks have failed, every request gets 503 at once.
        for h in hosts:
            self.wait_name_down(rw, h)
        for _ in range(3):
            self.assertQuickError(SERVER_PORT, statuses=(503,))
        self.assertTrue(rw.running())

    def test_quickstart_starts_and_answers_at_once(self):
        self.check_as_written("server_quickstart.yaml",
                              ["backend1.example.com:80", "backend2.example.com:80"])

    def test_config_starts_and_answers_at_once(self):
        self.check_as_written("server_config.yaml", ["httpbin.org:80", "example.com:80"])


class ServerBackendsAsWrittenPrintedTest(ServerBackendsAsWrittenTest):
    VARIANT = PRINTED


class ServerBackendsLoopbackTest(SeedTest):
    """The server/backends examples with their URLs replaced by the test backends on
    127.0.0.1:3001 and 127.0.0.1:3002."""

    QUICKSTART_URLS = [("http://backend1.example.com", "http://127.0.0.1:3001"),
                       ("http://backend2.example.com", "http://127.0.0.1:3002")]
    CONFIG_URLS = [("http://httpbin.org", "http://127.0.0.1:3001"),
                   ("http://example.com", "http://127.0.0.1:3002")]

    def start_backends_ab(self):
        a = harness.Backend("a", self.workdir, port=3001, wait=False)
        b = harness.Backend("b", self.workdir, port=3002, wait=False)
        self.backends += [a, b]
        a.wait_started()
        b.wait_started()
        return a, b

    def test_quickstart_round_robin_forwarded_for_and_health_path(self):
        a, b = self.start_backends_ab()
        path = self.edited_seed("server_quickstart.yaml", self.QUICKSTART_URLS)
        rw = self.start_seed(self.variant(path), [SERVER_PORT])
        # Equal weights: strict alternation.
        names = self.served(SERVER_PORT, 10)
        self.assertEqual(collections.Counter(names), {"a": 5, "b": 5}, names)
        self.assertTrue(all(x != y for x, y in zip(names, names[1:])), names)
        # X-Forwarded-For reaches the backend.
        r = self.get(SERVER_PORT, "/echo")
        self.assertEqual(r.status, 200, r)
        echo = r.json()
        self.assertEqual(header_values(echo, "X-Forwarded-For"), [HOST], echo)
        # Both backends are checked on their health_check_path.
        for be in (a, b):
            self.assertTrue(harness.wait_for(lambda: be.stats()["health"]["checks"] > 0, 10),
                            "%s never checked" % be.name)
            self.assertEqual(be.stats()["health"]["target"], "/health")
        # /health answering 500 takes a out, with the file's timing (no health_checks
        # section: ringway's defaults, 2 s interval and 3 failures).
        a.set(health=500)
        rw.wait_health_event(a.address, "down", timeout=DEFAULT_FALL * (2 + DEFAULT_JITTER) +
                             1 + SLACK)
        self.assertEqual(set(self.served(SERVER_PORT, 6)), {"b"})
        self.assertNotIn("down", rw.health_events(b.address))

    def test_quickstart_weights(self):
        # The quickstart with one weight changed from 1 to 3 besides the URLs: the weights.
        a, b = self.start_backends_ab()
        path = self.edited_seed("server_quickstart.yaml", self.QUICKSTART_URLS +
                                [("weight: 1\n", "weight: 3\n")])
        self.start_seed(self.variant(path), [SERVER_PORT])
        names = self.served(SERVER_PORT, 16)
        self.assertEqual(collections.Counter(names), {"a": 12, "b": 4}, names)

    def test_config_failure_threshold_stop_and_return(self):
        # The example's interval_seconds is 30, too long to wait for here: this copy checks
        # every second (timeout 500 ms, as the timeout must be shorter than the interval). The
        # failure_threshold (3) is the file's.
        a, b = self.start_backends_ab()
        interval, fall = 1.0, 3
        path = self.edited_seed("server_config.yaml", self.CONFIG_URLS + [
            ("interval_seconds: 30 ", "interval_seconds: 1  "),
            ("timeout_seconds: 5 ", 'timeout_seconds: "500ms" ')])
        rw = self.start_seed(self.variant(path), [SERVER_PORT])
        names = self.served(SERVER_PORT, 6, "/echo")
        self.assertEqual(collections.Counter(names), {"a": 3, "b": 3}, names)
        r = self.get(SERVER_PORT, "/echo")
        self.assertEqual(header_values(r.json(), "X-Forwarded-For"), [HOST], r)
        # Each backend is checked on its own path: a on /status/200, b on /.
        self.assertTrue(harness.wait_for(lambda: a.served("/status/200") > 0 and
                                         b.served("/") > 0, 5 * interval),
                        (a.stats(), b.stats()))
        # a answers 500 on its health_check_path: out after `fall` failed checks in a row.
        before = a.served("/status/200")
        a.set(status=500)
        rw.wait_health_event(a.address, "down",
                             timeout=fall * (interval + DEFAULT_JITTER) + 0.5 + SLACK)
        failed = a.served("/status/200") - before
        self.assertGreaterEqual(failed, fall, "down after %d failed checks" % failed)
        self.assertEqual(set(self.served(SERVER_PORT, 4)), {"b"})
        # b stops: out too, and with no backend left requests get 503 at once.
        b.stop()
        n = rw.wait_health_event(b.address, "down",
                                 timeout=fall * (interval + DEFAULT_JITTER) + 0.5 + SLACK)
        for _ in range(3):
            self.assertQuickError(SERVER_PORT, statuses=(503,))
        # b comes back: in again after `rise` passing checks.
        self.restart_backend(b)
        rw.wait_health_event(b.address, "up", after=n,
                             timeout=DEFAULT_RISE * (interval + DEFAULT_JITTER) + 0.5 + SLACK)
        self.assertEqual(set(self.served(SERVER_PORT, 4)), {"b"})
        # logging.format "json": one JSON object per line on stderr.
        lines = rw.stderr().splitlines()
        self.assertTrue(lines)
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                self.fail("not a JSON log line: %r" % line)
            self.assertLessEqual({"time", "level", "msg"}, set(entry), line)


class ServerBackendsLoopbackPrintedTest(ServerBackendsLoopbackTest):
    VARIANT = PRINTED


# ---------------------------------------------------------------------------------------------
# services YAML

# services_default.yaml: health_check {timeout_ms: 500, frequency_secs: 5} on admin-portal; the
# oauth-service entry has none and gets the same values.
SERVICE_INTERVAL = 5.0
SERVICE_TIMEOUT = 0.5


class ServicesTest(SeedTest):
    def start_services(self):
        oauth = harness.Backend("oauth-service", self.workdir, port=3001, wait=False)
        admin = harness.Backend("admin-portal", self.workdir, port=3002, wait=False)
        self.backends += [oauth, admin]
        oauth.wait_started()
        admin.wait_started()
        rw = self.start_seed(self.variant(seed_path("services_default.yaml")), [6188, 6189])
        return rw, oauth, admin

    def test_each_service_port_reaches_its_upstream(self):
        rw, oauth, admin = self.start_services()
        self.assertEqual(set(self.served(6188, 4)), {"admin-portal"})
        self.assertEqual(set(self.served(6189, 4)), {"oauth-service"})
        r = self.get(6188, "/echo")
        self.assertEqual(header_values(r.json(), "X-Forwarded-For"), [HOST], r)
        # Bound to 0.0.0.0: another loopback address reaches it too.
        with socket.create_connection(("127.0.0.2", 6189), timeout=5):
            pass
        self.assertTrue(rw.log_lines("0.0.0.0:6188", "admin-portal"), rw.stderr())
        self.assertTrue(rw.log_lines("0.0.0.0:6189", "oauth-service"), rw.stderr())

    def test_stopped_upstream_is_detected_and_returns(self):
        # The file's timing: a TCP check every 5 s (plus up to 200 ms of jitter). ringway
        # applies its default thresholds to these checks (3 failures take a backend down, 2
        # passes bring it back), so the wait below allows 3 intervals. (Pingora's
        # TcpHealthCheck, which the earlier proxy used, defaults to 1 and 1.)
        rw, oauth, admin = self.start_services()
        self.assertEqual(set(self.served(6188, 2)), {"admin-portal"})
        # A backend that has not passed a check yet goes down at its first failed one; the
        # file's timing applies from its first passing check on.
        self.wait_probed(admin, SERVICE_INTERVAL + DEFAULT_JITTER + SLACK)
        stopped = time.monotonic()
        admin.stop()
        n = rw.wait_health_event(admin.address, "down", timeout=DEFAULT_FALL * (
            SERVICE_INTERVAL + DEFAULT_JITTER) + SERVICE_TIMEOUT + SLACK)
        took = time.monotonic() - stopped
        sys.stderr.write("[%s: 127.0.0.1:3002 down %.1f s after it stopped] " % (
            self.VARIANT, took))
        for _ in range(3):
            self.assertQuickError(6188)
        self.assertEqual(set(self.served(6189, 3)), {"oauth-service"})
        self.restart_backend(admin)
        rw.wait_health_event(admin.address, "up", after=n, timeout=DEFAULT_RISE * (
            SERVICE_INTERVAL + DEFAULT_JITTER) + SERVICE_TIMEOUT + SLACK)
        self.assertEqual(set(self.served(6188, 3)), {"admin-portal"})
        self.assertNotIn("down", rw.health_events(oauth.address))


class ServicesPrintedTest(ServicesTest):
    VARIANT = PRINTED


# ---------------------------------------------------------------------------------------------
# virtual-hosts TOML

HTTPS_PORT, HTTP_PORT, API_PORT, METRICS_PORT = 443, 80, 8080, 9090


class VhostsTest(SeedTest):
    def start_vhosts(self):
        v1 = harness.Backend("web-v1", self.workdir, port=3001, wait=False)
        v2 = harness.Backend("web-v2", self.workdir, port=3002, wait=False)
        self.backends += [v1, v2]
        v1.wait_started()
        v2.wait_started()
        # The management API writes its state file beside the configuration: a copy in the
        # work directory, not the seed itself.
        path = self.variant(self.copy_seed("vhosts_config.toml"))
        rw = self.start_seed(path, [HTTPS_PORT, HTTP_PORT, API_PORT, METRICS_PORT],
                             env=ringway_env(RINGWAY_ADMIN=None))
        return rw, v1, v2

    def curl_https(self, domain, target="/"):
        res = harness.run_cmd(["curl", "-sk", "--max-time", "5", "--resolve",
                               "%s:%d:%s" % (domain, HTTPS_PORT, HOST),
                               "-w", "\n%{http_code}", "https://%s%s" % (domain, target)],
                              timeout=15)
        body, _, code = res.stdout.decode("utf-8", "replace").rpartition("\n")
        self.assertEqual(res.returncode, 0, res.stderr)
        return int(code), body.strip()

    def api(self, method, path, body=None, port=API_PORT):
        data = json.dumps(body).encode() if body is not None else None
        headers = [("Content-Type", "application/json")] if data is not None else []
        return harness.request(port, method, path, host="127.0.0.1:%d" % port, body=data,
                               headers=headers, timeout=5)

    def setUp(self):
        super().setUp()
        if not shutil.which("curl") or not shutil.which("openssl"):
            self.fail("curl and openssl are needed for the virtual-hosts checks")

    def test_https_certificate_backend_and_redirect(self):
        rw, v1, v2 = self.start_vhosts()
        self.assertTrue(rw.log_lines("self-signed certificate for example.com"), rw.stderr())
        # A self-signed certificate for example.com.
        s_client = harness.run_cmd(["openssl", "s_client", "-connect",
                                    "%s:%d" % (HOST, HTTPS_PORT), "-servername", "example.com"],
                                   input=b"", timeout=15)
        pem = re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                        s_client.stdout, re.S)
        self.assertIsNotNone(pem, s_client.stdout[-2000:] + s_client.stderr[-2000:])
        x509 = harness.run_cmd(["openssl", "x509", "-noout", "-text"], input=pem.group(0),
                               timeout=15)
        text = x509.stdout.decode()
        self.assertIn("DNS:example.com", text)
        issuer = re.search(r"Issuer: (.*)", text).group(1)
        subject = re.search(r"Subject: (.*)", text).group(1)
        self.assertEqual(issuer, subject, "not self-signed")
        # HTTPS for example.com reaches the backend tagged "a" (web-v1).
        for _ in range(3):
            code, body = self.curl_https("example.com")
            self.assertEqual((code, body.strip()), (200, "hello from web-v1"))
        code, body = self.curl_https("example.com", "/echo")
        echo = json.loads(body)
        self.assertEqual(echo["backend"], "web-v1")
        self.assertEqual(header_values(echo, "X-Forwarded-For"), [HOST], echo)
        self.assertEqual(v2.stats()["requests"], 0)
        # http_to_https: plain HTTP on :80 for example.com is redirected.
        r = self.get(HTTP_PORT, "/path?q=1", host="example.com")
        self.assertIn(r.status, (301, 308), r)
        self.assertEqual(r.header("Location"), "https://example.com/path?q=1", r)
        r = harness.request(HTTP_PORT, "POST", "/form", host="example.com", body=b"x=1",
                            timeout=5)
        self.assertIn(r.status, (301, 307, 308), r)
        self.assertEqual(r.header("Location"), "https://example.com/form", r)
        self.assertEqual(v1.stats()["paths"].get("/path", 0), 0)

    def test_management_api_lists_and_switches(self):
        rw, v1, v2 = self.start_vhosts()
        r = self.api("GET", "/api/v1/health")
        self.assertEqual((r.status, r.body.strip()), (200, b"OK"), r)
        r = self.api("GET", "/api/v1/domains")
        self.assertEqual(r.status, 200, r)
        domains = r.json()
        self.assertEqual(len(domains), 1, domains)
        # The fields the seed's README shows.
        self.assertEqual({k: domains[0].get(k) for k in
                          ("domain", "enabled_backends_tag", "http_to_https")},
                         {"domain": "example.com", "enabled_backends_tag": "a",
                          "http_to_https": True})
        r = self.api("GET", "/api/v1/backends")
        self.assertEqual(r.status, 200, r)
        backends = {b["id"]: b for b in r.json()}
        self.assertEqual(sorted(backends), ["web-v1", "web-v2"])
        for bid, port, tag in (("web-v1", 3001, "a"), ("web-v2", 3002, "b")):
            self.assertEqual(backends[bid]["tags"], [tag])
            # The README shows the address as written; ringway shows it resolved.
            self.assertIn(backends[bid]["address"],
                          ("localhost:%d" % port, "127.0.0.1:%d" % port), backends[bid])
        self.assertEqual(self.curl_https("example.com")[1].strip(), "hello from web-v1")
        # The README's switch to "b" moves the traffic to web-v2 ...
        r = self.api("POST", "/api/v1/domains/example.com/switch", {"new_tag": "b"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["enabled_backends_tag"], "b")
        self.assertEqual(r.json()["previous_tag"], "a")
        for _ in range(3):
            self.assertEqual(self.curl_https("example.com"), (200, "hello from web-v2"))
        self.assertEqual(self.api("GET", "/api/v1/domains/example.com").json()
                         ["enabled_backends_tag"], "b")
        # ... and the rollback brings it back.
        r = self.api("POST", "/api/v1/domains/example.com/switch", {"new_tag": "a"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.curl_https("example.com"), (200, "hello from web-v1"))

    def test_metrics_listener(self):
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            self.fail("prometheus_client is not importable by %s: run this file with "
                      "/usr/bin/python3 (python3-prometheus-client)" % sys.executable)
        rw, v1, v2 = self.start_vhosts()
        self.assertEqual(self.curl_https("example.com")[0], 200)
        for path in ("/metrics", "/api/v1/metrics"):
            r = self.api("GET", path, port=METRICS_PORT)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), r)
            families = {f.name: f for f in text_string_to_metric_families(r.body.decode())}
            # The metrics the seed's README lists.
            for name in ("proxy_requests", "proxy_latency_seconds", "health_check_status",
                         "api_requests", "api_latency_seconds"):
                self.assertIn(name, families, "%s: %s" % (path, sorted(families)))
            served = sum(s.value for s in families["proxy_requests"].samples
                         if s.name == "proxy_requests_total" and
                         s.labels.get("server") == "example.com" and
                         s.labels.get("code") == "2xx")
            self.assertGreaterEqual(served, 1)
        # Bound to 0.0.0.0: another loopback address reaches it too.
        with socket.create_connection(("127.0.0.2", METRICS_PORT), timeout=5):
            pass
        # The management API is not served on the metrics listener.
        for method, path, body in (("GET", "/api/v1/domains", None),
                                   ("GET", "/api/v1/backends", None),
                                   ("POST", "/api/v1/domains/example.com/switch",
                                    {"new_tag": "b"})):
            r = self.api(method, path, body, port=METRICS_PORT)
            self.assertEqual(r.status, 404, "%s %s on the metrics listener: %r"
                             % (method, path, r))
        self.assertEqual(self.api("GET", "/api/v1/domains").json()[0]["enabled_backends_tag"],
                         "a")
        # ... and the management API listens on 127.0.0.1 only.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.2", API_PORT), timeout=2).close()

    def test_ab_and_rollout_examples(self):
        if self.VARIANT == PRINTED:
            ab = self.printed(seed_path("vhosts_ab.toml"))
            rollout = self.printed(seed_path("vhosts_rollout.toml"))
        else:
            ab = self.copy_seed("vhosts_ab.toml")
            rollout = self.copy_seed("vhosts_rollout.toml")
        env = ringway_env(RINGWAY_ADMIN=None)
        # A/B example: backends named by host names that do not resolve here.
        rw = self.start_seed(ab, [HTTPS_PORT, HTTP_PORT, API_PORT], env=env)
        code, _ = self.curl_https("app.example.com")
        self.assertIn(code, (502, 503))
        # The domain takes the backends tagged "a" (ringway's upstream "tag:a").
        for name in ("backend-prod-1:8080", "backend-prod-2:8080"):
            self.wait_name_down(rw, name, upstream="tag:a")
        self.assertEqual(self.curl_https("app.example.com")[0], 503)
        r = self.get(HTTP_PORT, "/", host="app.example.com")
        self.assertEqual((r.status, r.header("Location")), (301, "https://app.example.com/"), r)
        backends = {b["id"]: b for b in self.api("GET", "/api/v1/backends").json()}
        self.assertEqual(sorted(backends), ["app-v1-stable", "app-v1-stable-2", "app-v2-canary"])
        self.assertEqual(backends["app-v2-canary"]["tags"], ["b", "canary"])
        self.assertEqual(rw.stop(), 0)
        # Rollout example: two domains, no backends.
        rw = self.start_seed(rollout, [HTTPS_PORT, HTTP_PORT, API_PORT], env=env)
        for domain in ("canary.app.example.com", "app.example.com"):
            self.assertEqual(self.curl_https(domain)[0], 503)
            self.assertQuickError(HTTP_PORT, statuses=(503,), host=domain)
        domains = {d["domain"]: d for d in self.api("GET", "/api/v1/domains").json()}
        self.assertEqual({d: domains[d]["enabled_backends_tag"] for d in domains},
                         {"canary.app.example.com": "b", "app.example.com": "a"})


class VhostsPrintedTest(VhostsTest):
    VARIANT = PRINTED


# ---------------------------------------------------------------------------------------------
# Log level from the environment


class LogLevelTest(SeedTest):
    """services_default.yaml with no backends running: the checks log at debug (each failed
    check) and warn (a backend down)."""

    NOTICE = re.compile(r"^ringway: log level (\w+) from RUST_LOG=")

    def start_logging(self, **env):
        return self.start_seed(seed_path("services_default.yaml"), [6188, 6189],
                               env=ringway_env(**env))

    def level_lines(self, rw, level):
        return [x for x in rw.stderr().splitlines() if re.search(r"\s%s\s" % level, x)]

    def test_rust_log_debug(self):
        rw = self.start_logging(RUST_LOG="debug")
        notices = [x for x in rw.stderr().splitlines() if self.NOTICE.search(x)]
        self.assertEqual(len(notices), 1, rw.stderr())
        self.assertIn("debug", notices[0])
        self.assertIn("RINGWAY_LOG", notices[0])
        self.assertTrue(harness.wait_for(lambda: self.level_lines(rw, "debug"), 5),
                        rw.stderr())

    def test_ringway_log_wins_over_rust_log(self):
        rw = self.start_logging(RUST_LOG="debug", RINGWAY_LOG="warn")
        # The first checks find both backends down.
        self.wait_log(rw, r"\swarn\s.*127\.0\.0\.1:300[12].*down", 5)
        self.assertEqual(self.level_lines(rw, "debug"), [])
        self.assertEqual(self.level_lines(rw, "info"), [])
        self.assertEqual([x for x in rw.stderr().splitlines() if self.NOTICE.search(x)], [])

    def test_ringway_log_bogus_exits_1(self):
        start = time.monotonic()
        rc, out, err = run_ringway(["--config", seed_path("services_default.yaml"),
                                    "--workers", "1"],
                                   env=ringway_env(RINGWAY_LOG="bogus"), timeout=10)
        self.assertEqual(rc, 1, err)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn("RINGWAY_LOG", err)
        self.assertIn("'bogus'", err)
        for level in ("trace", "debug", "info", "warn", "error"):
            self.assertIn(level, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


# ---------------------------------------------------------------------------------------------
# The default configuration paths

ETC_CONFIG = "/etc/ringway/ringway.yaml"


class DefaultPathTest(SeedTest):
    def setUp(self):
        super().setUp()
        if os.path.exists(ETC_CONFIG):
            self.skipTest("%s exists on this machine and comes before the working directory's "
                          "files; the default-path checks need it absent" % ETC_CONFIG)
        sys.stderr.write("[%s does not exist] " % ETC_CONFIG)

    def directory(self, name, files):
        d = os.path.join(self.workdir, name)
        for rel, seed in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            shutil.copyfile(seed_path(seed), os.path.join(d, rel))
        os.makedirs(d, exist_ok=True)
        return d

    def test_config_default_yaml_in_working_directory(self):
        oauth = harness.Backend("oauth-service", self.workdir, port=3001, wait=False)
        admin = harness.Backend("admin-portal", self.workdir, port=3002, wait=False)
        self.backends += [oauth, admin]
        oauth.wait_started()
        admin.wait_started()
        d = self.directory("run", {"config/default.yaml": "services_default.yaml"})
        rw = self.start_seed(None, [6188, 6189], cwd=d)
        self.assertTrue(rw.log_lines("no --config given", "config/default.yaml"), rw.stderr())
        self.assertEqual(set(self.served(6188, 2)), {"admin-portal"})
        self.assertEqual(set(self.served(6189, 2)), {"oauth-service"})

    def test_order_of_the_default_paths(self):
        cases = [
            ({"config/default.yaml": "services_default.yaml",
              "config.yaml": "server_quickstart.yaml",
              "config.toml": "vhosts_config.toml"}, "config/default.yaml"),
            ({"config.yaml": "server_quickstart.yaml",
              "config.toml": "vhosts_config.toml"}, "config.yaml"),
            ({"config.toml": "vhosts_config.toml"}, "config.toml"),
        ]
        for i, (files, chosen) in enumerate(cases):
            with self.subTest(chosen=chosen):
                d = self.directory("order%d" % i, files)
                rc, out, err = run_ringway(["--validate"], cwd=d)
                self.assertEqual(rc, 0, err)
                self.assertIn("no --config given; reading %s" % chosen, err)
                self.assertIn("configuration %s is valid" % chosen, out + err)
        rc, out, err = run_ringway(["--validate"], cwd=self.directory("empty", {}))
        self.assertEqual(rc, 1, err)
        for p in (ETC_CONFIG, "config/default.yaml", "config.yaml", "config.toml"):
            self.assertIn(p, err)


# ---------------------------------------------------------------------------------------------
# Files that mix schemas or are malformed


class ErrorsTest(SeedTest):
    def refused(self, name, text):
        """Writes `text` to `name`; --validate and a start must both exit 1 with the same
        one-line message, which is returned (with the path replaced by FILE)."""
        path = self.write(name, text)
        rc, out, err = run_ringway(["--validate", "--config", path])
        self.assertEqual(rc, 1, "validate: %s %s" % (out, err))
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        rc2, out2, err2 = run_ringway(["--config", path, "--workers", "1"], timeout=10)
        self.assertEqual(rc2, 1, "start: %s %s" % (out2, err2))
        self.assertEqual(err2.strip(), err.strip())
        self.assertTrue(err.startswith("ringway: %s:" % path), err)
        return err.strip().replace(path, "FILE")

    @staticmethod
    def line_of(text, prefix):
        lines = text.splitlines()
        hits = [i + 1 for i, x in enumerate(lines) if x.startswith(prefix)]
        assert len(hits) == 1, (prefix, hits)
        return hits[0]

    def test_services_and_server_in_one_file(self):
        text = seed_text("services_default.yaml") + seed_text("server_quickstart.yaml")
        line = self.line_of(text, "server:")
        msg = self.refused("mixed.yaml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:1: " % line), msg)
        self.assertIn("'server'", msg)
        self.assertIn("'services' at line 1, column 1", msg)
        self.assertIn("one schema", msg)

    def test_servers_and_backends_in_one_file(self):
        native = "servers:\n  - name: web\n    upstream: backends\n    default: true\n"
        text = native + seed_text("server_quickstart.yaml").split("\n\n", 1)[1]
        line = self.line_of(text, "backends:")
        msg = self.refused("servers-backends.yaml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:1: " % line), msg)
        self.assertIn("'backends'", msg)

    def test_toml_syntax_error(self):
        text = seed_text("vhosts_config.toml").replace("[metrics]\n", "[metrics\n")
        line = self.line_of(text, "[metrics")
        msg = self.refused("syntax.toml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:%d: " % (line, len("[metrics") + 1)),
                        msg)
        self.assertIn("TOML syntax error", msg)
        self.assertIn("expected ']'", msg)

    def test_toml_unknown_key_in_proxy(self):
        text = seed_text("vhosts_config.toml").replace("listen_addr_http =", "listen_adr_http =")
        line = self.line_of(text, "listen_adr_http")
        msg = self.refused("unknown.toml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:1: " % line), msg)
        self.assertIn("'listen_adr_http' in [proxy]", msg)
        self.assertIn("did you mean 'listen_addr_http'", msg)

    def test_toml_logging_output_file(self):
        text = seed_text("vhosts_config.toml").replace(
            'format = "text"\n', 'format = "text"\noutput = "file"\n'
            'file_path = "/var/log/pingora-vhost.log"\n')
        line = self.line_of(text, "output =")
        msg = self.refused("logfile.toml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:" % line), msg)
        self.assertIn("'output' in [logging] is 'file'", msg)
        self.assertIn("standard error", msg)

    def test_toml_lets_encrypt(self):
        text = seed_text("vhosts_config.toml").replace(
            "[logging]\n", '[lets_encrypt]\nemail = "ops@example.com"\nstaging = true\n'
            'cache_dir = "/var/cache/certs"\n\n[logging]\n')
        line = self.line_of(text, "[lets_encrypt]")
        msg = self.refused("acme.toml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:" % line), msg)
        self.assertIn("[lets_encrypt]", msg)
        self.assertIn("not supported", msg)

    def test_service_without_upstreams(self):
        text = seed_text("services_default.yaml").replace(
            "    upstreams:\n      - '127.0.0.1:3001'\n", "")
        line = self.line_of(text, "  - name: 'oauth-service'")
        msg = self.refused("no-upstreams.yaml", text)
        self.assertTrue(msg.startswith("ringway: FILE:%d:5: " % line), msg)
        self.assertIn("'oauth-service'", msg)
        self.assertIn("'upstreams'", msg)


if __name__ == "__main__":
    enter_private_network_namespace()
    harness.main()
