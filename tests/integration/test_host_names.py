"""Backends given by host name ("localhost:3001", "http://api.internal", "backend-1:8080"):
resolved when a configuration is put to use (start-up, --validate, reloads, admin API changes).
A name that does not resolve leaves its backend down with a warning: ringway starts, --validate
passes, requests go to the other backends, and an upstream with nothing else answers 502/503
at once.

Only loopback is used: names under .invalid never resolve (RFC 6761), and the one test that
needs a name other than localhost takes it from /etc/hosts (skipped when there is none).
"""

import os
import signal
import socket
import time
import unittest

import harness

BAD = "nothing.invalid:80"
FAST_CHECKS = {"type": "tcp", "interval": "100ms", "timeout": "50ms", "rise": 1, "fall": 1}


def hosts_file_name():
    """A name other than localhost that /etc/hosts maps to 127.0.0.1 and that getaddrinfo
    answers with 127.0.0.1 first (as ringway takes the first answer), or None."""
    try:
        with open("/etc/hosts") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or fields[0] != "127.0.0.1":
            continue
        for name in fields[1:]:
            if name.lower() == "localhost" or not all(c.isalnum() or c in "-." for c in name):
                continue
            if not any(c.isalpha() for c in name.rsplit(".", 1)[-1]):
                continue
            try:
                first = socket.getaddrinfo(name, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)[0]
            except OSError:
                continue
            if first[0] == socket.AF_INET and first[4][0] == "127.0.0.1":
                return name
    return None


class HostNamesTest(harness.ProxyTest):
    def site_config(self, port, servers, **upstream_options):
        return harness.simple_config(port, servers, upstream_options=upstream_options)

    def served_by(self, port, n, host="localhost"):
        """{backend name: count} over n requests; every one must be a 200."""
        seen = {}
        for _ in range(n):
            r = harness.request(port, "GET", "/", host=host, timeout=10)
            self.assertEqual(r.status, 200, r)
            name = r.header("X-Backend")
            seen[name] = seen.get(name, 0) + 1
        return seen

    def validate(self, text):
        path = os.path.join(self.workdir, "validate.yaml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ)
        env.pop("CONFIG_PATH", None)
        res = harness.run_cmd([harness.ringway_binary(), "--config", path, "--validate"],
                              timeout=30, env=env)
        return (res.returncode, res.stdout.decode("utf-8", "replace"),
                res.stderr.decode("utf-8", "replace"))

    def test_localhost_backend_is_proxied(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(self.site_config(port, ["localhost:%d" % web.port]))
        self.assertEqual(self.served_by(port, 4), {"web": 4})
        self.assertEqual(rw.log_lines("stays down until its name resolves"), [])

    def test_localhost_url_backend_is_proxied(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(self.site_config(port, ["http://LocalHost:%d/" % web.port]))
        self.assertEqual(self.served_by(port, 3), {"web": 3})

    def test_name_from_the_hosts_file_survives_reload_and_api_changes(self):
        name = hosts_file_name()
        if not name:
            raise unittest.SkipTest("/etc/hosts maps no name but localhost to 127.0.0.1")
        web = self.start_backend("web")
        port = self.free_port()
        text = self.site_config(port, [{"address": "%s:%d" % (name.upper(), web.port),
                                        "id": "named"}])
        rc, out, err = self.validate(text)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("resolve", err)
        rw = self.start_ringway(text, admin=True)
        self.assertEqual(self.served_by(port, 3), {"web": 3})

        # A reload resolves it again.
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: rw.log_lines("configuration 2 in use"), 10),
                        rw.logs())
        self.assertEqual(self.served_by(port, 3), {"web": 3})

        # So does a change through the admin API (its snapshot is rebuilt from the file's
        # config, whose names are not resolved yet).
        r = harness.request(rw.admin_port, "PUT", "/api/v1/backends/named", host="127.0.0.1",
                            headers=[("Content-Type", "application/json")],
                            body=b'{"weight": 2}', timeout=10)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(harness.wait_for(lambda: rw.log_lines("configuration 3 in use"), 10),
                        rw.logs())
        self.assertEqual(self.served_by(port, 3), {"web": 3})
        self.assertTrue(rw.running())

    def test_unresolvable_backend_beside_a_good_one(self):
        web = self.start_backend("web")
        port = self.free_port()
        text = self.site_config(port, [BAD, web], health_check=FAST_CHECKS)

        rc, out, err = self.validate(text)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("is valid", out)
        warnings = [line for line in err.splitlines() if BAD in line]
        self.assertEqual(len(warnings), 1, err)
        self.assertIn("warn", warnings[0])
        self.assertIn("upstream 'pool': backend %s: " % BAD, warnings[0])

        rw = self.start_ringway(text)
        self.assertEqual(len(rw.log_lines("upstream 'pool': backend %s: " % BAD, "warn")), 1,
                         rw.logs())
        # Down from the start: no request is ever sent its way, not even before its first
        # check, and its checks never bring it up.
        self.assertEqual(self.served_by(port, 12), {"web": 12})
        self.assertEqual(rw.log_lines(BAD, "connect failed"), [], rw.logs())
        time.sleep(0.5)  # several check intervals (FAST_CHECKS)
        self.assertEqual(self.served_by(port, 6), {"web": 6})
        self.assertEqual(rw.log_lines(BAD, "is up"), [], rw.logs())
        self.assertTrue(rw.running())

    def test_unresolvable_backend_without_health_checks_is_never_picked(self):
        # No active checks: the backend is down from the start all the same, so every request
        # goes to the good one without a failed try.
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(self.site_config(
            port, [BAD, web], algorithm="round_robin", health_check={"enabled": False},
            retry={"tries": 1}))
        self.assertEqual(self.served_by(port, 20), {"web": 20})
        self.assertEqual(rw.log_lines(BAD, "connect failed"), [], rw.logs())
        self.assertTrue(rw.running())

    def test_only_an_unresolvable_backend_answers_at_once(self):
        for options in ({}, {"health_check": {"enabled": False}}):
            with self.subTest(options=options):
                port = self.free_port()
                rw = self.start_ringway(self.site_config(port, [BAD], **options))
                for _ in range(5):
                    started = time.monotonic()
                    r = harness.request(port, "GET", "/", timeout=10)
                    self.assertIn(r.status, (502, 503), r)
                    self.assertShortErrorBody(r)
                    self.assertLess(time.monotonic() - started, 5, r)
                self.assertTrue(rw.running())
                self.assertEqual(rw.stop(), 0)

    def test_reload_to_an_unresolvable_name_keeps_serving(self):
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(self.site_config(port, [web], health_check=FAST_CHECKS))
        self.assertEqual(self.served_by(port, 2), {"web": 2})
        with open(rw.config_path, "w") as f:
            f.write(self.site_config(port, [web, "other.invalid:8080"],
                                     health_check=FAST_CHECKS))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: rw.log_lines("configuration 2 in use"), 10),
                        rw.logs())
        self.assertTrue(rw.log_lines("backend other.invalid:8080: ", "warn"), rw.logs())
        self.assertEqual(self.served_by(port, 8), {"web": 8})
        self.assertTrue(rw.running())


if __name__ == "__main__":
    harness.main()
