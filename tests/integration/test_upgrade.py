"""Binary upgrade: a new process takes over the listening sockets (SCM_RIGHTS), the old one
drains; under load nothing fails, and a new process that cannot start leaves the old one
serving."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


class UpgradeTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        for tool in ("wrk", "h2load"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed" % tool)

    def start(self, workers=2, env=None):
        self.web = self.start_backend("web")
        self.port = self.free_port()
        self.pid_path = os.path.join(self.workdir, "ringway.pid")
        text = harness.simple_config(self.port, [self.web], timeouts={"shutdown": "20s"})
        rw = self.start_ringway(text, workers=workers, admin=True, env=env,
                                extra_args=["--pid-file", self.pid_path])
        self.assertTrue(harness.wait_for(lambda: read_pid(self.pid_path) == rw.pid, 10))
        # The process the upgrade starts is not this test's child: it is stopped here.
        self.addCleanup(self.stop_successor, rw.pid)
        return rw

    def stop_successor(self, old_pid):
        pid = read_pid(self.pid_path)
        if pid and pid != old_pid and alive(pid):
            os.kill(pid, signal.SIGTERM)
            if not harness.wait_for(lambda: not alive(pid), 15):
                os.kill(pid, signal.SIGKILL)

    def upgrade(self):
        return harness.run_cmd([harness.ringway_binary(), "--upgrade", "--pid-file",
                                self.pid_path], timeout=90)

    def test_upgrade_under_load_fails_nothing(self):
        rw = self.start()
        url = "http://127.0.0.1:%d/" % self.port
        seconds = 6
        loads = {
            "keepalive": ["wrk", "-t1", "-c20", "-d%ds" % seconds, "--timeout", "5s", url],
            "close": ["wrk", "-t1", "-c8", "-d%ds" % seconds, "--timeout", "5s", "-H",
                      "Connection: close", url],
            "h2": ["h2load", "-c4", "-m8", "-D", str(seconds), url],
        }
        procs = {}
        for name, args in loads.items():
            out = open(os.path.join(self.workdir, name + ".out"), "wb")
            self.addCleanup(out.close)
            procs[name] = (harness.spawn(args, stdout=out, stderr=subprocess.STDOUT), out.name)
        time.sleep(2)
        res = self.upgrade()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr + rw.logs().encode())
        new_pid = read_pid(self.pid_path)
        self.assertNotEqual(new_pid, rw.pid)
        self.assertTrue(alive(new_pid))
        outputs = {}
        for name, (p, path) in procs.items():
            p.wait(timeout=seconds + 30)
            with open(path, "rb") as f:
                outputs[name] = f.read().decode("utf-8", "replace")
        for name in ("keepalive", "close"):
            out = outputs[name]
            self.assertNotIn("Socket errors", out, name + ": " + out)
            self.assertNotIn("Non-2xx", out, name + ": " + out)
            self.assertGreater(int(re.search(r"(\d+) requests in", out).group(1)), 100, out)
        h2 = outputs["h2"]
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", h2)
        self.assertIsNotNone(m, h2)
        self.assertEqual((m.group(5), m.group(6), m.group(7)), ("0", "0", "0"), h2)
        self.assertGreater(int(m.group(4)), 100, h2)
        # The old process drained and left with 0; the new one serves, the admin API too.
        self.assertEqual(rw.wait(30), 0, rw.logs())
        self.assertTrue(rw.log_lines("upgrade: process %d serves" % new_pid), rw.logs())
        self.assertEqual(harness.request(self.port, "GET", "/").status, 200)
        r = harness.request(rw.admin_port, "GET", "/api/v1/health")
        self.assertEqual((r.status, r.body), (200, b"OK"))
        # The pid file is the new process's: the old one left it in place.
        self.assertEqual(read_pid(self.pid_path), new_pid)

    def test_new_process_that_cannot_start_leaves_the_old_one(self):
        rw = self.start()
        with open(rw.config_path, "a") as f:
            f.write("upstreams: [\n")  # broken YAML
        res = self.upgrade()
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn(b"the new process did not start", res.stderr)
        self.assertTrue(rw.running())
        self.assertEqual(read_pid(self.pid_path), rw.pid)
        self.assertTrue(rw.log_lines("did not start"), rw.logs())
        for _ in range(5):
            self.assertEqual(harness.request(self.port, "GET", "/").status, 200)

    def test_upgrade_tells_systemd_the_new_main_pid(self):
        sock_path = os.path.join(self.workdir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(20)
        self.addCleanup(sock.close)
        rw = self.start(env=dict(os.environ, NOTIFY_SOCKET=sock_path))
        self.assertEqual(sock.recv(4096).decode(), "READY=1\nMAINPID=%d" % rw.pid)
        res = self.upgrade()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr + rw.logs().encode())
        new_pid = read_pid(self.pid_path)
        self.assertEqual(sock.recv(4096).decode(), "READY=1\nMAINPID=%d" % new_pid)
        # The old one drains without STOPPING=1: the service is not stopping.
        self.assertEqual(rw.wait(30), 0, rw.logs())
        sock.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            sock.recv(4096)


if __name__ == "__main__":
    harness.main()
