"""Command line: --version, --help, --validate with file:line:col errors, CONFIG_PATH,
start-up failures, and the access log."""

import os
import re
import signal
import socket
import time
import unittest

import harness

ORIGINAL_SCHEMA = """\
global:
  port: 8080
servers:
  - server_name: ["acme.com", "www.acme.com"]
    upstream: web_servers
    tls: false
  - server_name: ["api.acme.com"]
    upstream: api_servers
upstreams:
  - name: web_servers
    servers: ["127.0.0.1:3001", "127.0.0.1:3002"]
  - name: api_servers
    servers: ["127.0.0.1:9090", "127.0.0.1:9091"]
"""

EXTENDED_SCHEMA = """\
global:
  port: 8080
  log: {level: info, format: text, access_log: true}
  timeouts: {client_header: 10s, client_body: 60s, keepalive: 75s, upstream_connect: 5s, upstream_response: 60s, shutdown: 30s}
  limits: {max_request_line: 8k, max_header_size: 64k, max_headers: 100, max_body_size: 0, max_connections: 10000}
listeners:
  - {name: main, bind: "127.0.0.1:18080", servers: [web, api]}
servers:
  - {name: web, server_name: ["acme.com", "*.acme.com"], upstream: web_servers, default: true, routes: [{path: /api/, upstream: api_servers}]}
  - {name: api, server_name: ["api.example"], upstream: api_servers}
upstreams:
  - {name: web_servers, servers: ["127.0.0.1:3001", {address: "127.0.0.1:3002", weight: 3}], keepalive: 64}
  - {name: api_servers, servers: ["127.0.0.1:9090"], keepalive: 0}
"""


def project_version():
    try:
        with open(os.path.join(harness.SRC, "CMakeLists.txt")) as f:
            m = re.search(r"project\(\s*ringway\s+VERSION\s+([0-9.]+)", f.read())
            return m.group(1) if m else None
    except OSError:
        return None


class CliTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.bin = harness.ringway_binary()
        if not self.bin:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")

    def run_ringway(self, *args, env=None, timeout=15):
        full_env = dict(os.environ)
        full_env.pop("CONFIG_PATH", None)
        if env:
            full_env.update(env)
        res = harness.run_cmd([self.bin] + list(args), timeout=timeout, env=full_env)
        return res.returncode, res.stdout.decode("utf-8", "replace"), \
            res.stderr.decode("utf-8", "replace")

    def write(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def validate(self, text, name="ringway.yaml"):
        path = self.write(name, text)
        rc, out, err = self.run_ringway("--config", path, "--validate")
        return path, rc, out, err

    def assertLocated(self, err, path, line, col=None):
        m = re.search(re.escape(path) + r":(\d+):(\d+):\s*\S", err)
        self.assertIsNotNone(m, "no '%s:LINE:COL: message' in stderr:\n%s" % (path, err))
        self.assertEqual(int(m.group(1)), line, err)
        if col is not None:
            self.assertEqual(int(m.group(2)), col, err)

    def test_version(self):
        rc, out, err = self.run_ringway("--version")
        self.assertEqual(rc, 0, err)
        text = out + err
        self.assertRegex(text, r"\d+\.\d+\.\d+")
        version = project_version()
        if version:
            self.assertIn(version, text)

    def test_help(self):
        rc, out, err = self.run_ringway("--help")
        self.assertEqual(rc, 0, err)
        text = out + err
        for flag in ("--config", "--workers", "--validate", "--version"):
            self.assertIn(flag, text)

    def test_unknown_flag_fails(self):
        rc, out, err = self.run_ringway("--no-such-flag")
        self.assertNotEqual(rc, 0)
        self.assertIn("--no-such-flag", out + err)

    def test_validate_good_configs(self):
        for name, text in (("original.yaml", ORIGINAL_SCHEMA), ("extended.yaml", EXTENDED_SCHEMA)):
            with self.subTest(config=name):
                path, rc, out, err = self.validate(text, name)
                self.assertEqual(rc, 0, "valid config %s refused:\n%s" % (name, err))

    def test_validate_does_not_serve(self):
        port = self.free_port()
        path, rc, out, err = self.validate(
            harness.simple_config(port, ["127.0.0.1:%d" % self.free_port()]))
        self.assertEqual(rc, 0, err)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((harness.HOST, port), timeout=1).close()

    def test_validate_unknown_key(self):
        text = ORIGINAL_SCHEMA.replace("  port: 8080\n", "  port: 8080\n  bogus_key: 1\n")
        path, rc, out, err = self.validate(text)
        self.assertEqual(rc, 1, err)
        self.assertLocated(err, path, 3, 3)
        self.assertIn("bogus_key", err)

    def test_validate_misspelt_key_in_upstream(self):
        text = ORIGINAL_SCHEMA.replace('  - name: api_servers\n    servers:',
                                       '  - name: api_servers\n    servres:')
        path, rc, out, err = self.validate(text)
        self.assertEqual(rc, 1, err)
        self.assertLocated(err, path, 13, 5)
        self.assertIn("servres", err)

    def test_validate_unknown_upstream_reference(self):
        text = ORIGINAL_SCHEMA.replace("upstream: api_servers", "upstream: nowhere")
        path, rc, out, err = self.validate(text)
        self.assertEqual(rc, 1, err)
        self.assertLocated(err, path, 8)
        self.assertIn("nowhere", err)

    def test_validate_bad_values(self):
        cases = [
            ("  port: 8080\n", "  port: 99999\n", 2),
            ("  port: 8080\n", "  port: 8080\n  timeouts: {keepalive: 5 parsecs}\n", 3),
            ("  port: 8080\n", "  port: 8080\n  limits: {max_header_size: lots}\n", 3),
            ('"127.0.0.1:3001"', '"not-an-address"', 11),
        ]
        for old, new, line in cases:
            with self.subTest(new=new):
                path, rc, out, err = self.validate(ORIGINAL_SCHEMA.replace(old, new, 1))
                self.assertEqual(rc, 1, err)
                self.assertLocated(err, path, line)

    def test_validate_yaml_syntax_error(self):
        text = ORIGINAL_SCHEMA.replace('["api.acme.com"]', '["api.acme.com"')
        path, rc, out, err = self.validate(text)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, re.escape(path) + r":\d+:\d+:")

    def test_missing_config_file(self):
        path = os.path.join(self.workdir, "does-not-exist.yaml")
        for extra in (["--validate"], []):
            with self.subTest(extra=extra):
                rc, out, err = self.run_ringway("--config", path, *extra)
                self.assertEqual(rc, 1, err)
                self.assertIn(path, err)

    def test_config_path_environment(self):
        good = self.write("env-good.yaml", ORIGINAL_SCHEMA)
        rc, out, err = self.run_ringway("--validate", env={"CONFIG_PATH": good})
        self.assertEqual(rc, 0, err)
        bad = self.write("env-bad.yaml", ORIGINAL_SCHEMA + "bogus_top: 1\n")
        rc, out, err = self.run_ringway("--validate", env={"CONFIG_PATH": bad})
        self.assertEqual(rc, 1, err)
        self.assertIn(bad, err)

    def test_invalid_config_refuses_to_start(self):
        port = self.free_port()
        path = self.write("bad.yaml", harness.simple_config(port, ["127.0.0.1:1"]) +
                          "bogus_top: 1\n")
        rc, out, err = self.run_ringway("--config", path, "--workers", "1")
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, re.escape(path) + r":\d+:\d+:")

    def test_port_in_use_fails_start(self):
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind((harness.HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        path = self.write("busy.yaml", harness.simple_config(port, ["127.0.0.1:1"]))
        rc, out, err = self.run_ringway("--config", path, "--workers", "1")
        self.assertNotEqual(rc, 0, err)
        self.assertIn(str(port), err)

    def test_serves_with_config_path_environment(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [web]), config_via_env=True)
        self.assertNotIn("--config", rw.args)
        r = harness.request(port, "GET", "/")
        self.assertEqual((r.status, r.body), (200, b"hello from web\n"))


class AccessLogTest(harness.ProxyTest):
    def test_access_log_lines_on_stdout(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [web]))
        for i in range(3):
            r = harness.request(port, "GET", "/access-check-%d?q=1" % i)
            self.assertEqual(r.status, 200)
        r = harness.request(port, "POST", "/status/404", body=b"abc")
        self.assertEqual(r.status, 404)
        self.assertEqual(rw.stop(), 0, rw.logs())
        lines = rw.stdout().splitlines()
        for i in range(3):
            hits = [l for l in lines if "/access-check-%d" % i in l]
            self.assertEqual(len(hits), 1, "access log:\n%s" % rw.stdout())
            line = hits[0]
            for part in ("GET", " 200", "127.0.0.1", web.address):
                self.assertIn(part, line, line)
        hits = [l for l in lines if "/status/404" in l]
        self.assertEqual(len(hits), 1, rw.stdout())
        self.assertIn("POST", hits[0])
        self.assertIn(" 404", hits[0])

    def test_errors_made_by_ringway_are_logged(self):
        port = self.free_port()
        dead = "127.0.0.1:%d" % self.free_port()
        # Checks off, so that the answer is the request's own 502, not a prober's 503.
        rw = self.start_ringway(harness.simple_config(
            port, [dead], upstream_options={"health_check": {"enabled": False}}))
        r = harness.request(port, "GET", "/dead-end")
        self.assertEqual(r.status, 502)
        self.assertEqual(rw.stop(), 0, rw.logs())
        hits = [l for l in rw.stdout().splitlines() if "/dead-end" in l]
        self.assertEqual(len(hits), 1, rw.stdout())
        self.assertIn(" 502", hits[0])

    def test_each_line_is_its_own_request_when_connections_take_turns(self):
        # An idle keep-alive connection gives its request's state back to the worker, and the
        # next request, on this connection or another, takes one afresh: no line may show what
        # an earlier request (its own connection's, or another's) left in it.
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [web]), workers=1)
        a = harness.Conn(port)
        b = harness.Conn(port)
        try:
            a.request("GET", "/turn-a-first")
            self.assertEqual(a.read_response().status, 200)
            time.sleep(0.1)  # a is idle now
            b.request("POST", "/status/201", body=b"xyz")
            self.assertEqual(b.read_response("POST").status, 201)
            time.sleep(0.1)
            # Pipelined on b: three requests in one write, each with its own line.
            b.send(b"".join(harness.build_request("GET", "/turn-b-pipe-%d" % i) for i in range(3)))
            for _ in range(3):
                self.assertEqual(b.read_response().status, 200)
            # A request ringway refuses before it has a method or target: "-" in the log, not
            # a path from before.
            a.send(b"GET /turn-a-bad HTTP/1.1\r\nHost: localhost\r\nBad Field\r\n\r\n")
            self.assertEqual(a.read_response().status, 400)
            b.request("HEAD", "/turn-b-last")
            self.assertEqual(b.read_response("HEAD").status, 200)
            # And right behind a proxied request, in the same write: the refused one is
            # parsed in the turn that finished the first, on the state that request left.
            c = harness.Conn(port)
            c.send(harness.build_request("GET", "/turn-c-first") +
                   b"GET /turn-c-bad HTTP/1.1\r\nHost: localhost\r\nBad Field\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_response().status, 400)
            c.close()
        finally:
            a.close()
            b.close()
        self.assertEqual(rw.stop(), 0, rw.logs())
        lines = [l for l in rw.stdout().splitlines() if l.strip()]
        want = [("/turn-a-first", "GET", " 200"), ("/status/201", "POST", " 201"),
                ("/turn-b-pipe-0", "GET", " 200"), ("/turn-b-pipe-1", "GET", " 200"),
                ("/turn-b-pipe-2", "GET", " 200"), ("/turn-b-last", "HEAD", " 200"),
                ("/turn-c-first", "GET", " 200")]
        for path, method, status in want:
            hits = [l for l in lines if path in l]
            self.assertEqual(len(hits), 1, "%s:\n%s" % (path, rw.stdout()))
            self.assertIn('"%s %s' % (method, path), hits[0])
            self.assertIn(status, hits[0])
        bad = [l for l in lines if " 400 " in l]
        self.assertEqual(len(bad), 2, rw.stdout())
        for line in bad:
            self.assertNotIn("/turn-", line)
            self.assertNotIn(web.address, line)  # no backend had it
            self.assertIn('"- -', line)
        self.assertEqual(len(lines), len(want) + 2, rw.stdout())

    def test_access_log_off(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [web], log={"access_log": False}))
        self.assertEqual(harness.request(port, "GET", "/quiet-please").status, 200)
        self.assertEqual(rw.stop(), 0, rw.logs())
        self.assertNotIn("/quiet-please", rw.stdout())
        self.assertNotIn("/quiet-please", rw.stderr())




class LogReopenTest(harness.ProxyTest):
    def test_sigusr1_reopens_the_access_log_after_rotation(self):
        web = self.start_backend("web")
        port = self.free_port()
        log_path = os.path.join(self.workdir, "access.log")
        rw = self.start_ringway(harness.simple_config(port, [web],
                                                      log={"access_log": log_path}))

        def lines(path):
            try:
                with open(path) as f:
                    return [line for line in f.read().splitlines() if line]
            except FileNotFoundError:
                return []
        self.assertEqual(harness.request(port, "GET", "/before").status, 200)
        self.assertTrue(harness.wait_for(lambda: len(lines(log_path)) == 1, 5), lines(log_path))
        os.rename(log_path, log_path + ".1")  # what logrotate does, then postrotate:
        rw.signal(signal.SIGUSR1)
        self.assertTrue(harness.wait_for(lambda: rw.log_lines("access log") != [], 5),
                        rw.logs())
        self.assertEqual(harness.request(port, "GET", "/after").status, 200)
        self.assertTrue(harness.wait_for(lambda: len(lines(log_path)) == 1, 5), lines(log_path))
        self.assertIn('"GET /after"', lines(log_path)[0])
        old = lines(log_path + ".1")
        self.assertEqual(len(old), 1, old)
        self.assertIn('"GET /before"', old[0])


class ProcessControlTest(harness.ProxyTest):
    """--pid-file, --daemon and systemd's readiness protocol (NOTIFY_SOCKET)."""

    def config(self):
        self.web = self.start_backend("web")
        self.port = self.free_port()
        path = os.path.join(self.workdir, "rw.yaml")
        with open(path, "w") as f:
            f.write(harness.simple_config(self.port, [self.web]))
        return path

    def test_pid_file_written_once_serving_and_removed_at_exit(self):
        web = self.start_backend("web")
        port = self.free_port()
        pid_path = os.path.join(self.workdir, "run", "ringway.pid")
        os.makedirs(os.path.dirname(pid_path))
        rw = self.start_ringway(harness.simple_config(port, [web]),
                                extra_args=("--pid-file", pid_path))
        # The sockets listen (what start_ringway waits for) just before the file is written.
        deadline = time.monotonic() + 5
        while not os.path.exists(pid_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(pid_path) as f:
            self.assertEqual(f.read(), "%d\n" % rw.pid)
        self.assertEqual(os.listdir(os.path.dirname(pid_path)), ["ringway.pid"])  # no temp
        rw.signal(signal.SIGTERM)
        self.assertEqual(rw.wait(15), 0, rw.logs())
        self.assertFalse(os.path.exists(pid_path))

    def test_unwritable_pid_file_refuses_to_start(self):
        path = self.config()
        bad = os.path.join(self.workdir, "no-such-dir", "ringway.pid")
        res = harness.run_cmd([harness.ringway_binary(), "--config", path, "--workers", "1",
                               "--pid-file", bad], timeout=20)
        err = res.stderr.decode()
        self.assertEqual(res.returncode, 1, err)
        self.assertIn("cannot write the pid file %s" % bad, err)

    def daemon(self, *args):
        out = open(os.path.join(self.workdir, "daemon.out"), "wb")
        err = open(os.path.join(self.workdir, "daemon.err"), "wb")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        proc = harness.spawn([harness.ringway_binary()] + list(args), stdout=out, stderr=err)
        rc = proc.wait(timeout=20)
        with open(err.name, "rb") as f:
            return rc, f.read().decode()

    def test_daemon_returns_once_serving(self):
        path = self.config()
        pid_path = os.path.join(self.workdir, "ringway.pid")
        rc, err = self.daemon("--config", path, "--workers", "1", "--daemon",
                              "--pid-file", pid_path)
        self.assertEqual(rc, 0, err)
        with open(pid_path) as f:
            pid = int(f.read())

        def kill():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.addCleanup(kill)
        # Serving already when the command returned: no wait needed.
        r = harness.request(self.port, "GET", "/")
        self.assertEqual((r.status, r.body), (200, b"hello from web\n"))
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        self.assertEqual(int(fields[3]), pid, "the daemon leads its own session")  # sid
        def gone():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, not reaped
            except FileNotFoundError:
                return True
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(harness.wait_for(gone, 15), "the daemon did not stop on SIGTERM")
        self.assertTrue(harness.wait_for(lambda: not os.path.exists(pid_path), 5))

    def test_daemon_that_cannot_start_fails(self):
        path = self.config()
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", self.port))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        rc, err = self.daemon("--config", path, "--workers", "1", "--daemon")
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot listen on 127.0.0.1:%d" % self.port, err)

    def test_notify_socket_ready_reloading_stopping(self):
        sock_path = os.path.join(self.workdir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(10)
        self.addCleanup(sock.close)
        web = self.start_backend("web")
        port = self.free_port()
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        rw = self.start_ringway(harness.simple_config(port, [web]), env=env)
        self.assertEqual(sock.recv(4096).decode(), "READY=1\nMAINPID=%d" % rw.pid)
        rw.signal(signal.SIGHUP)
        reloading = sock.recv(4096).decode()
        self.assertRegex(reloading, r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertEqual(sock.recv(4096).decode(), "READY=1")
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        rw.signal(signal.SIGTERM)
        self.assertEqual(sock.recv(4096).decode(), "STOPPING=1")
        self.assertEqual(rw.wait(15), 0, rw.logs())


if __name__ == "__main__":
    harness.main()
