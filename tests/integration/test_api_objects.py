"""The admin API's domains and backends (the API of seed 002's README) end to end: the README's
own calls replayed with curl; the overlay state file ("<config stem>.state.json", or
global.state_file) across a restart, reloads (POST /api/v1/reload, SIGHUP) and its removal;
every refusal, each checked to change nothing (the lists, the state file's bytes,
ringway_config_generation); the backend states drain and maint, and weights; switches and
backend changes under load (wrk, wrk with "Connection: close", h2load h2c) with a probe client
that checks who answered.

Every ringway here gets an admin listener of its own (start_ringway(admin=True)). Backends are
tests/backend/backend.py processes; every response carries X-Backend: <the backend's name>.
"""

import collections
import json
import os
import re
import shutil
import signal
import threading
import time
import unittest

import harness

TOKEN = "api-objects-token-0123456789"
FAST_CHECKS = {"type": "tcp", "interval": "100ms", "timeout": "50ms", "rise": 1, "fall": 2}
MiB = 1024 * 1024

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?\Z")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, labels dict, value)] of every sample on a Prometheus text page."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_total(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == x for k, x in labels.items()))


def served_by(r):
    return r.header("X-Backend")


def without_health(backends):
    """A backends list without what the health checks move (health, ejected)."""
    return [{k: v for k, v in b.items() if k not in ("health", "ejected")} for b in backends]


def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    assert m, out
    return int(m.group(1))


class SameConfigRingway(harness.Ringway):
    """A new ringway process for the config file (and the command line, admin port included) of
    one that has stopped: what a restart of the service does."""

    def __init__(self, old, workdir, label):
        self.binary = old.binary
        self.ports = list(old.ports)
        self.port = old.port
        self.label = label
        self.config_path = old.config_path
        self.out_path = os.path.join(workdir, "%s.stdout" % label)
        self.err_path = os.path.join(workdir, "%s.stderr" % label)
        self.args = list(old.args)
        self.admin_port = old.admin_port
        self.check_exit = True
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = harness.spawn(self.args, stdout=out, stderr=err)
        self.pid = self.proc.pid
        self.stopped_rc = None
        self.wait_ready()


class ApiObjectsTest(harness.ProxyTest):
    maxDiff = None
    token = None  # sent with every API call unless a call says otherwise

    # -- the admin API ------------------------------------------------------------------------

    def start(self, config_text, workers=1, **kw):
        """ringway with an admin listener, once /readyz says it is ready."""
        rw = self.start_ringway(config_text, workers=workers, admin=True, **kw)
        self.wait_ready(rw)
        return rw

    def wait_ready(self, rw):
        self.assertTrue(harness.wait_for(
            lambda: self.api(rw, "GET", "/readyz").status == 200, 10, interval=0.02),
            "not ready within 10 s: %r" % self.api(rw, "GET", "/readyz"))

    def api(self, rw, method, target, body=None, token=Ellipsis, headers=(), timeout=10,
            content_type="application/json"):
        """One API call. `body`: bytes as they are, anything else as JSON. `token`: the bearer
        token (default: self.token; None sends none)."""
        if token is Ellipsis:
            token = self.token
        hs = list(headers)
        if token is not None:
            hs.append(("Authorization", "Bearer " + token))
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None and content_type:
            hs.append(("Content-Type", content_type))
        return harness.request(rw.admin_port, method, target, host="127.0.0.1", headers=hs,
                               body=body, timeout=timeout)

    def call(self, rw, method, target, body=None, expect=200, **kw):
        """An API call that must answer `expect` with a JSON body; the body."""
        r = self.api(rw, method, target, body=body, **kw)
        self.assertEqual(r.status, expect, (method, target, body, r))
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        return r.json()

    def get_json(self, rw, target):
        return self.call(rw, "GET", target)

    def error_shape(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        doc = r.json()
        self.assertEqual(sorted(doc), ["error", "hint"], doc)
        self.assertTrue(doc["error"] and doc["hint"], doc)
        return doc

    def metrics(self, rw):
        r = self.api(rw, "GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        return parse_metrics(r.body.decode("utf-8"))

    def generation(self, rw):
        return metric_total(self.metrics(rw), "ringway_config_generation")

    def checks(self, rw, address):
        """Active health checks made of one backend so far (every result, every upstream)."""
        return metric_total(self.metrics(rw), "ringway_health_checks_total", backend=address)

    def in_flight(self, rw, address):
        return sum(b.get("in_flight", 0) for u in self.get_json(rw, "/api/v1/upstreams")
                   for b in u["backends"] if b["address"] == address)

    def reload(self, rw):
        return self.call(rw, "POST", "/api/v1/reload")

    @staticmethod
    def state_path(rw):
        return os.path.splitext(rw.config_path)[0] + ".state.json"

    def state_file(self, rw):
        """(bytes, inode, mtime_ns) of the state file, or None when there is none."""
        path = self.state_path(rw)
        try:
            with open(path, "rb") as f:
                data = f.read()
            st = os.stat(path)
            return data, st.st_ino, st.st_mtime_ns
        except FileNotFoundError:
            return None

    def state_doc(self, rw):
        with open(self.state_path(rw), "rb") as f:
            return json.loads(f.read().decode("utf-8"))

    def write_config(self, rw, text):
        with open(rw.config_path, "w") as f:
            f.write(text)

    def restart(self, rw):
        """SIGTERM (exit 0), then a new process with the same config file and command line."""
        self.assertEqual(rw.stop(timeout=15), 0, rw.logs())
        new = SameConfigRingway(rw, self.workdir, "ringway%d" % (len(self.ringways) + 1))
        self.ringways.append(new)
        self.wait_ready(new)
        return new

    # -- traffic -------------------------------------------------------------------------------

    def served(self, port, host, n, target="/", expect=200):
        """The X-Backend of `n` sequential requests for `host` (each on its own connection)."""
        c = collections.Counter()
        for _ in range(n):
            r = harness.request(port, "GET", target, host=host)
            self.assertEqual(r.status, expect, r)
            c[served_by(r)] += 1
        return dict(c)


# ---------------------------------------------------------------------------------------------
# 1. Seed 002's README, replayed with curl


class SeedReadmeTest(ApiObjectsTest):
    def curl(self, rw, method, path, data=None):
        """The README's call with curl: (status, body text)."""
        args = ["curl", "-sS", "-m", "10", "-w", "\n%{http_code}"]
        if method != "GET":
            args += ["-X", method]
        args.append("http://127.0.0.1:%d%s" % (rw.admin_port, path))
        if data is not None:
            args += ["-H", "Content-Type: application/json", "-d", data]
        r = harness.run_cmd(args, timeout=20)
        self.assertEqual(r.returncode, 0, r)
        text, _, code = r.stdout.decode("utf-8").rpartition("\n")
        return int(code), text

    def curl_json(self, rw, method, path, data=None, expect=200):
        status, text = self.curl(rw, method, path, data)
        self.assertEqual(status, expect, (method, path, data, text))
        return json.loads(text)

    def test_readme_replayed_with_curl(self):
        if not shutil.which("curl"):
            raise unittest.SkipTest("curl is not installed")
        v1, v2, v3 = self.start_backends("web-v1", "web-v2", "web-v3")
        port = self.free_port()
        # One listener; no servers, no upstreams: everything comes through the API.
        rw = self.start(harness.config([("main", port)], [], []))
        self.assertEqual(self.generation(rw), 1)
        self.assertIsNone(self.state_file(rw))
        self.assertEqual(harness.request(port, "GET", "/", host="example.com").status, 404)

        # GET /api/v1/health -> "OK"
        self.assertEqual(self.curl(rw, "GET", "/api/v1/health"), (200, "OK"))
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/domains"), [])
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/backends"), [])

        # Add Backend (the README's body; its "localhost:3001" ports are the test backends').
        def backend_doc(bid, b, tags):
            return {"id": bid, "address": b.address, "tags": tags, "weight": 1,
                    "state": "ready", "upstream": "backends", "health": "up", "ejected": False}
        doc = self.curl_json(rw, "POST", "/api/v1/backends",
                             '{"id": "web-v1", "address": "localhost:%d", "tags": ["a"]}'
                             % v1.port, expect=201)
        self.assertEqual(doc, backend_doc("web-v1", v1, ["a"]))
        doc = self.curl_json(rw, "POST", "/api/v1/backends",
                             '{"id": "web-v2", "address": "localhost:%d", "tags": ["b"]}'
                             % v2.port, expect=201)
        self.assertEqual(doc, backend_doc("web-v2", v2, ["b"]))

        # Add Domain (http_to_https false: this listener is plain HTTP).
        example = {"domain": "example.com", "enabled_backends_tag": "a", "http_to_https": False,
                   "upstream": None, "server_names": ["example.com"]}
        doc = self.curl_json(rw, "POST", "/api/v1/domains",
                             '{"domain": "example.com", "enabled_backends_tag": "a", '
                             '"http_to_https": false}', expect=201)
        self.assertEqual(doc, example)
        self.assertEqual(self.served(port, "example.com", 6), {"web-v1": 6})
        # Another name still gets 404.
        self.assertEqual(harness.request(port, "GET", "/", host="other.com").status, 404)

        # List / get.
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/domains"), [example])
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/domains/example.com"), example)
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/backends"),
                         [backend_doc("web-v1", v1, ["a"]), backend_doc("web-v2", v2, ["b"])])
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/backends/web-v2"),
                         backend_doc("web-v2", v2, ["b"]))
        self.assertEqual(self.generation(rw), 4)

        # Performing a Switch: the README's exact call.
        doc = self.curl_json(rw, "POST", "/api/v1/domains/example.com/switch", '{"new_tag": "b"}')
        self.assertEqual(doc, {"domain": "example.com", "previous_tag": "a",
                               "enabled_backends_tag": "b", "generation": 5})
        self.assertEqual(self.generation(rw), 5)
        self.assertEqual(self.served(port, "example.com", 10), {"web-v2": 10})
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/domains/example.com"),
                         dict(example, enabled_backends_tag="b"))
        # Rollback.
        doc = self.curl_json(rw, "POST", "/api/v1/domains/example.com/switch", '{"new_tag": "a"}')
        self.assertEqual(doc, {"domain": "example.com", "previous_tag": "b",
                               "enabled_backends_tag": "a", "generation": 6})
        self.assertEqual(self.served(port, "example.com", 10), {"web-v1": 10})

        # Update Domain: http_to_https on redirects; the README's body moves it to "b".
        doc = self.curl_json(rw, "PUT", "/api/v1/domains/example.com", '{"http_to_https": true}')
        self.assertEqual(doc, dict(example, http_to_https=True))
        r = harness.request(port, "GET", "/x?y=1", host="example.com")
        self.assertEqual((r.status, r.header("Location")), (301, "https://example.com/x?y=1"), r)
        doc = self.curl_json(rw, "PUT", "/api/v1/domains/example.com",
                             '{"enabled_backends_tag": "b", "http_to_https": false}')
        self.assertEqual(doc, dict(example, enabled_backends_tag="b"))
        self.assertEqual(self.served(port, "example.com", 6), {"web-v2": 6})
        self.curl_json(rw, "POST", "/api/v1/domains/example.com/switch", '{"new_tag": "a"}')
        self.assertEqual(self.served(port, "example.com", 4), {"web-v1": 4})

        # Update Backend: the README's body (a new address and both tags): the domain on "a"
        # now picks both web-v1 and web-v2, which is at web-v3's address.
        before_v2 = v2.stats()["requests"]
        doc = self.curl_json(rw, "PUT", "/api/v1/backends/web-v2",
                             '{"address": "localhost:%d", "tags": ["a", "b"]}' % v3.port)
        self.assertEqual(doc, backend_doc("web-v2", v3, ["a", "b"]))
        self.assertEqual(self.served(port, "example.com", 20), {"web-v1": 10, "web-v3": 10})
        self.assertEqual(v2.stats()["requests"], before_v2)
        self.assertEqual(self.generation(rw), 10)

        # Delete Backend, then Domain.
        self.assertEqual(self.curl_json(rw, "DELETE", "/api/v1/backends/web-v1"),
                         {"deleted": "web-v1"})
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/backends"),
                         [backend_doc("web-v2", v3, ["a", "b"])])
        status, text = self.curl(rw, "GET", "/api/v1/backends/web-v1")
        self.assertEqual(status, 404, text)
        self.assertEqual(self.served(port, "example.com", 4), {"web-v3": 4})
        self.assertEqual(self.curl_json(rw, "DELETE", "/api/v1/domains/example.com"),
                         {"deleted": "example.com"})
        self.assertEqual(self.curl_json(rw, "GET", "/api/v1/domains"), [])
        status, text = self.curl(rw, "GET", "/api/v1/domains/example.com")
        self.assertEqual(status, 404, text)
        self.assertEqual(self.served(port, "example.com", 2, expect=404), {None: 2})
        self.assertEqual(self.generation(rw), 12)

        # Metrics, at the README's path.
        status, text = self.curl(rw, "GET", "/api/v1/metrics")
        self.assertEqual(status, 200)
        samples = parse_metrics(text)
        self.assertEqual(metric_total(samples, "ringway_config_generation"), 12)
        self.assertGreater(metric_total(samples, "proxy_requests_total"), 60)
        self.assertGreater(metric_total(samples, "api_requests_total"), 20)
        # The state file holds what the API did: deleting what the API added leaves no entry;
        # the address is kept as it was sent.
        self.assertEqual(self.state_doc(rw), {
            "version": 1,
            "domains": [],
            "backends": [{"id": "web-v2", "added": True, "address": "localhost:%d" % v3.port,
                          "tags": ["a", "b"]}]})


# ---------------------------------------------------------------------------------------------
# 2. The state file: restarts, reloads, its removal


class PersistenceTest(ApiObjectsTest):
    def test_state_survives_restart_and_reloads(self):
        ba, bb, bc, bd = self.start_backends("ba", "bb", "bc", "bd")
        port = self.free_port()
        base = harness.config([("main", port)], [], [])
        rw = self.start(base)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "be-a", "address": ba.address, "tags": ["a"]}, expect=201)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "be-b", "address": bb.address, "tags": ["b"], "weight": 7}, expect=201)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "be-c", "address": bc.address, "tags": ["a"], "state": "maint"},
                  expect=201)
        self.call(rw, "POST", "/api/v1/domains",
                  {"domain": "site.test", "enabled_backends_tag": "a"}, expect=201)
        self.call(rw, "POST", "/api/v1/domains",
                  {"domain": "shop.test", "enabled_backends_tag": "a"}, expect=201)
        self.call(rw, "POST", "/api/v1/domains/shop.test/switch", {"new_tag": "b"})
        self.call(rw, "PUT", "/api/v1/domains/site.test", {"http_to_https": False})
        self.assertEqual(self.generation(rw), 8)

        def routing():
            return (self.served(port, "site.test", 6), self.served(port, "shop.test", 4))
        expected_routing = ({"ba": 6}, {"bb": 4})  # be-c is in maint
        self.assertEqual(routing(), expected_routing)
        domains = self.get_json(rw, "/api/v1/domains")
        backends = self.get_json(rw, "/api/v1/backends")
        self.assertEqual([(d["domain"], d["enabled_backends_tag"]) for d in domains],
                         [("site.test", "a"), ("shop.test", "b")])
        self.assertEqual([(b["id"], b["tags"], b["weight"], b["state"]) for b in backends],
                         [("be-a", ["a"], 1, "ready"), ("be-b", ["b"], 7, "ready"),
                          ("be-c", ["a"], 1, "maint")])

        # The state file: valid JSON, version 1, what was changed; written atomically (no
        # temporary file left beside it).
        state = self.state_doc(rw)
        self.assertEqual(state, {
            "version": 1,
            "domains": [{"domain": "site.test", "added": True, "enabled_backends_tag": "a",
                         "http_to_https": False},
                        {"domain": "shop.test", "added": True, "enabled_backends_tag": "b"}],
            "backends": [{"id": "be-a", "added": True, "address": ba.address, "tags": ["a"]},
                         {"id": "be-b", "added": True, "address": bb.address, "tags": ["b"],
                          "weight": 7},
                         {"id": "be-c", "added": True, "address": bc.address, "tags": ["a"],
                          "state": "maint"}]})
        self.assertEqual([n for n in os.listdir(self.workdir) if n.endswith(".tmp")], [])

        # A restart with the same config file: the same domains, backends and routing.
        rw = self.restart(rw)
        self.assertEqual(self.get_json(rw, "/api/v1/domains"), domains)
        self.assertEqual(without_health(self.get_json(rw, "/api/v1/backends")),
                         without_health(backends))
        self.assertEqual(routing(), expected_routing)
        self.assertEqual(self.state_doc(rw), state)
        self.assertEqual(self.generation(rw), 1)
        # Changes go on from there.
        self.call(rw, "PUT", "/api/v1/backends/be-c", {"state": "ready"})
        self.assertEqual(self.served(port, "site.test", 6), {"ba": 3, "bc": 3})
        self.call(rw, "PUT", "/api/v1/backends/be-c", {"state": "maint"})
        self.assertEqual(self.generation(rw), 3)
        self.assertEqual(self.state_doc(rw), state)

        # An edit of the file (a new upstream and server) and POST /api/v1/reload: the file's
        # new server and the API's changes are both in force. site.test has no upstream: it
        # takes every backend with tag "a", the file's new one included.
        edited = harness.config(
            [("main", port)],
            [{"name": "files", "server_name": ["files.test"], "upstream": "filepool"}],
            [harness.upstream("filepool", [{"address": bd, "id": "file-d", "tags": ["a"]}])])
        self.write_config(rw, edited)
        doc = self.reload(rw)
        self.assertEqual(doc["generation"], 4)
        self.assertEqual(self.served(port, "files.test", 4), {"bd": 4})
        self.assertEqual(self.served(port, "site.test", 6), {"ba": 3, "bd": 3})
        self.assertEqual(self.served(port, "shop.test", 4), {"bb": 4})
        files = {"domain": "files.test", "enabled_backends_tag": None, "http_to_https": False,
                 "upstream": "filepool", "server_names": ["files.test"]}
        self.assertEqual(self.get_json(rw, "/api/v1/domains"), [files] + domains)
        self.assertEqual(sorted((b["id"], b["upstream"], b["state"])
                                for b in self.get_json(rw, "/api/v1/backends")),
                         [("be-a", "backends", "ready"), ("be-b", "backends", "ready"),
                          ("be-c", "backends", "maint"), ("file-d", "filepool", "ready")])
        self.assertEqual(self.state_doc(rw), state)  # a reload does not rewrite it

        # An API backend moved into the file's upstream; the file's own backend edited.
        doc = self.call(rw, "PUT", "/api/v1/backends/be-a", {"upstream": "filepool"})
        self.assertEqual((doc["id"], doc["address"], doc["upstream"], doc["tags"]),
                         ("be-a", ba.address, "filepool", ["a"]))
        self.assertEqual(self.served(port, "files.test", 4), {"ba": 2, "bd": 2})
        self.assertEqual(self.served(port, "site.test", 4), {"ba": 2, "bd": 2})
        self.call(rw, "PUT", "/api/v1/backends/file-d", {"weight": 3})
        self.assertEqual(self.served(port, "files.test", 8), {"ba": 2, "bd": 6})
        self.assertEqual(self.state_doc(rw)["backends"], [
            {"id": "be-a", "added": True, "address": ba.address, "tags": ["a"],
             "upstream": "filepool"},
            state["backends"][1], state["backends"][2], {"id": "file-d", "weight": 3}])
        self.assertEqual(self.generation(rw), 6)

        # A domain of the file deleted: an entry that keeps it deleted across reloads, though
        # the file still lists it.
        self.assertEqual(self.call(rw, "DELETE", "/api/v1/domains/files.test"),
                         {"deleted": "files.test"})
        self.assertEqual(self.state_doc(rw)["domains"][-1],
                         {"domain": "files.test", "deleted": True})
        self.assertEqual(self.served(port, "files.test", 2, expect=404), {None: 2})
        self.assertEqual(self.reload(rw)["generation"], 8)
        self.assertEqual(self.served(port, "files.test", 2, expect=404), {None: 2})
        self.assertEqual(self.get_json(rw, "/api/v1/domains"), domains)

        # The state file removed and SIGHUP: the file alone.
        os.unlink(self.state_path(rw))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: self.generation(rw) == 9, 5),
                        self.generation(rw))
        self.assertEqual(self.get_json(rw, "/api/v1/domains"), [files])
        self.assertEqual([(b["id"], b["weight"]) for b in self.get_json(rw, "/api/v1/backends")],
                         [("file-d", 1)])
        self.assertEqual(self.served(port, "files.test", 3), {"bd": 3})
        self.assertEqual(self.served(port, "site.test", 2, expect=404), {None: 2})
        self.assertEqual(self.served(port, "shop.test", 2, expect=404), {None: 2})
        self.assertIsNone(self.state_file(rw))
        self.assertTrue(rw.log_lines("reload (SIGHUP)"))


    def test_edits_of_what_the_file_drops_are_let_go(self):
        # The usual reason to drain a backend is to take it out of the file next; and a domain
        # of the file switched through the API may later be removed from the file. Neither
        # edit may block the reload nor bring the thing back.
        w1, w2 = self.start_backends("w1", "w2")
        port = self.free_port()
        def text(with_w2, with_app):
            backends = [{"address": w1.address, "id": "w1", "tags": ["a", "b"]}]
            if with_w2:
                backends.append({"address": w2.address, "id": "w2", "tags": ["a", "b"]})
            servers = [{"name": "web", "server_name": ["web.test"], "upstream": "pool"}]
            if with_app:
                servers.append({"name": "app", "server_name": ["app.test"], "upstream": "pool",
                                "enabled_backends_tag": "a"})
            return harness.config([("main", port)], servers, [harness.upstream("pool", backends)])
        rw = self.start(text(True, True))
        self.call(rw, "PUT", "/api/v1/backends/w2", {"state": "drain"})
        self.call(rw, "POST", "/api/v1/domains/app.test/switch", {"new_tag": "b"})
        self.assertEqual(self.served(port, "web.test", 4), {"w1": 4})  # w2 drains
        self.write_config(rw, text(False, False))
        r = self.reload(rw)
        self.assertEqual(r["result"], "reloaded", r)
        self.assertEqual([d["domain"] for d in self.get_json(rw, "/api/v1/domains")],
                         ["web.test"])
        self.assertEqual([b["id"] for b in self.get_json(rw, "/api/v1/backends")], ["w1"])
        self.assertEqual(self.served(port, "app.test", 2, expect=404), {None: 2})
        self.assertEqual(self.served(port, "web.test", 2), {"w1": 2})
        # A restart loads the same: the edits left in the state file are let go there too.
        rw = self.restart(rw)
        self.assertEqual([d["domain"] for d in self.get_json(rw, "/api/v1/domains")],
                         ["web.test"])
        self.assertEqual(self.served(port, "web.test", 2), {"w1": 2})

    def test_state_file_setting(self):
        # global.state_file puts the state elsewhere; where it cannot be written, a change is
        # refused with 500 and nothing changes.
        web = self.start_backend("web")
        port = self.free_port()
        os.mkdir(os.path.join(self.workdir, "var"))
        custom = os.path.join(self.workdir, "var", "state.json")
        rw = self.start(harness.config([("main", port)], [], [],
                                       global_extra={"state_file": custom}))
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "w", "address": web.address, "tags": ["a"]}, expect=201)
        self.call(rw, "POST", "/api/v1/domains",
                  {"domain": "site.test", "enabled_backends_tag": "a"}, expect=201)
        with open(custom) as f:
            self.assertEqual(json.load(f)["version"], 1)
        self.assertIsNone(self.state_file(rw))  # (not beside the config)
        rw = self.restart(rw)
        self.assertEqual(self.served(port, "site.test", 3), {"web": 3})

        # A state file in a directory that does not exist: 500, and nothing changes.
        port2 = self.free_port()
        nowhere = os.path.join(self.workdir, "missing", "state.json")
        rw2 = self.start(harness.config([("main", port2)], [], [],
                                        global_extra={"state_file": nowhere}))
        doc = self.error_shape(self.api(rw2, "POST", "/api/v1/backends", body={
            "id": "w", "address": web.address, "tags": ["a"]}), 500)
        self.assertIn(nowhere, doc["error"])
        doc = self.error_shape(self.api(rw2, "POST", "/api/v1/domains", body={
            "domain": "x.test", "enabled_backends_tag": "a", "http_to_https": False}), 500)
        self.assertIn(nowhere, doc["error"])
        self.assertEqual(self.get_json(rw2, "/api/v1/backends"), [])
        self.assertEqual(self.get_json(rw2, "/api/v1/domains"), [])
        self.assertEqual(self.generation(rw2), 1)
        self.assertFalse(os.path.exists(os.path.dirname(nowhere)))


# ---------------------------------------------------------------------------------------------
# 3. Refusals change nothing


class ErrorsTest(ApiObjectsTest):
    token = TOKEN

    def test_every_refusal_changes_nothing(self):
        web, f1, spare = self.start_backends("web-a", "file-f", "spare")
        port, port2 = self.free_port(), self.free_port()
        # Listener "fl" serves only the file's server "files": that domain cannot be deleted.
        cfg = harness.config(
            [("main", port), ("fl", port2, ["files"])],
            [{"name": "files", "server_name": ["files.test"], "upstream": "filepool"}],
            [harness.upstream("filepool", [{"address": f1, "id": "file-f", "tags": ["f"]}])],
            global_extra={"admin": {"token": TOKEN}})
        rw = self.start(cfg)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "web-a", "address": web.address, "tags": ["a"]}, expect=201)
        self.call(rw, "POST", "/api/v1/domains",
                  {"domain": "example.com", "enabled_backends_tag": "a"}, expect=201)

        def snapshot():
            return (self.get_json(rw, "/api/v1/domains"),
                    without_health(self.get_json(rw, "/api/v1/backends")),
                    self.state_file(rw), self.generation(rw))
        before = snapshot()
        self.assertEqual(before[3], 3)
        self.assertIsNotNone(before[2])

        D, B = "/api/v1/domains", "/api/v1/backends"
        X = "/api/v1/domains/example.com"
        addr = spare.address
        cases = [
            # -- domains: POST
            ("POST", D, {"domain": "example.com", "enabled_backends_tag": "a"}, 409),
            ("POST", D, {"domain": "files.test", "upstream": "filepool"}, 409),
            ("POST", D, {"domain": "Bad_Name!", "enabled_backends_tag": "a"}, 422),
            ("POST", D, {"domain": "a..b", "enabled_backends_tag": "a"}, 422),
            ("POST", D, {"domain": "", "enabled_backends_tag": "a"}, 422),
            ("POST", D, {"enabled_backends_tag": "a"}, 422),
            ("POST", D, {"domain": "new.test"}, 422),  # neither upstream nor tag
            ("POST", D, {"domain": "new.test", "enabled_backends_tag": "bad tag"}, 422),
            ("POST", D, {"domain": "new.test", "upstream": "nope"}, 404),
            ("POST", D, {"domain": "new.test", "enabled_backends_tag": "a", "color": "red"},
             400),
            ("POST", D, {"domain": "new.test", "enabled_backends_tag": "a",
                         "http_to_https": "yes"}, 400),
            ("POST", D, {"domain": 123, "enabled_backends_tag": "a"}, 400),
            ("POST", D, {"domain": "new.test", "enabled_backends_tag": ["a"]}, 400),
            ("POST", D, {"domain": "new.test", "upstream": None, "enabled_backends_tag": "a"},
             400),
            ("POST", D, b'{"domain": "new.test", "enabled_backends_tag": "a"', 400),
            ("POST", D, b'{"domain": "new.test"} x', 400),
            ("POST", D, b"", 400),
            ("POST", D, ["new.test"], 400),
            ("PATCH", D, {"domain": "new.test"}, 405),
            # -- domains: one
            ("GET", "/api/v1/domains/nope.test", None, 404),
            ("PUT", "/api/v1/domains/nope.test", {"enabled_backends_tag": "a"}, 404),
            ("DELETE", "/api/v1/domains/nope.test", None, 404),
            ("PUT", X, {"domain": "other.test"}, 422),
            ("PUT", X, {"upstream": "nope"}, 404),
            ("PUT", X, {"enabled_backends_tag": ""}, 422),  # leaves neither
            ("PUT", X, {"enabled_backends_tag": "bad tag"}, 422),
            ("PUT", X, {"enabled_backends_tag": 5}, 400),
            ("PUT", X, {"http_to_https": 1}, 400),
            ("PUT", X, {"server_names": ["x.test"]}, 400),
            ("PUT", X, b"{not json}", 400),
            ("DELETE", "/api/v1/domains/files.test", None, 409),  # the only server of "fl"
            ("POST", X + "/nope", {}, 404),
            # -- switch
            ("POST", X + "/switch", {"new_tag": "zzz"}, 409),
            ("POST", "/api/v1/domains/files.test/switch", {"new_tag": "a"}, 409),  # not in
            ("POST", X + "/switch", {"new_tag": "f", "force": "yes"}, 400),        # filepool
            ("POST", X + "/switch", {"new_tag": 7}, 400),
            ("POST", X + "/switch", {"new_tag": "b", "extra": True}, 400),
            ("POST", X + "/switch", {}, 422),
            ("POST", X + "/switch", {"new_tag": "bad tag"}, 422),
            ("POST", X + "/switch", b"[", 400),
            ("POST", "/api/v1/domains/nope.test/switch", {"new_tag": "a"}, 404),
            ("GET", X + "/switch", None, 405),
            # -- backends: POST
            ("POST", B, {"id": "web-a", "address": addr}, 409),
            ("POST", B, {"id": "file-f", "address": addr}, 409),
            ("POST", B, {"id": "dup", "address": web.address}, 409),
            ("POST", B, {"id": "dup", "address": f1.address, "upstream": "filepool"}, 409),
            ("POST", B, {"id": "new", "address": "not-an-address"}, 422),
            ("POST", B, {"id": "new", "address": "127.0.0.1:99999"}, 422),
            ("POST", B, {"id": "new", "address": "backend.example.com:80"}, 422),
            ("POST", B, {"id": "bad id!", "address": addr}, 422),
            ("POST", B, {"address": addr}, 422),
            ("POST", B, {"id": "new"}, 422),
            ("POST", B, {"id": "new", "address": addr, "state": "sleeping"}, 422),
            ("POST", B, {"id": "new", "address": addr, "weight": 0}, 422),
            ("POST", B, {"id": "new", "address": addr, "weight": 1001}, 422),
            ("POST", B, {"id": "new", "address": addr, "weight": "3"}, 400),
            ("POST", B, {"id": "new", "address": addr, "weight": 2.5}, 400),
            ("POST", B, {"id": "new", "address": addr, "weight": -1}, 400),
            ("POST", B, {"id": "new", "address": addr, "upstream": "nope"}, 404),
            ("POST", B, {"id": "new", "address": addr, "tags": "a"}, 400),
            ("POST", B, {"id": "new", "address": addr, "tags": [1]}, 400),
            ("POST", B, {"id": "new", "address": addr, "tags": ["bad tag"]}, 422),
            ("POST", B, {"id": "new", "address": addr, "health": "up"}, 400),
            ("POST", B, {"id": 5, "address": addr}, 400),
            ("POST", B, b"\xff\xfe", 400),
            ("DELETE", B, None, 405),
            # -- backends: one
            ("GET", "/api/v1/backends/nope", None, 404),
            ("PUT", "/api/v1/backends/nope", {"weight": 2}, 404),
            ("DELETE", "/api/v1/backends/nope", None, 404),
            ("PUT", "/api/v1/backends/web-a", {"id": "other"}, 422),
            ("PUT", "/api/v1/backends/web-a", {"address": "x"}, 422),
            ("PUT", "/api/v1/backends/web-a", {"state": "off"}, 422),
            ("PUT", "/api/v1/backends/web-a", {"upstream": "nope"}, 404),
            ("PUT", "/api/v1/backends/web-a", {"address": f1.address, "upstream": "filepool"},
             409),
            ("PUT", "/api/v1/backends/web-a", {"weight": True}, 400),
            ("PUT", "/api/v1/backends/web-a", {"ejected": False}, 400),
            ("DELETE", "/api/v1/backends/file-f", None, 409),  # the last of upstream filepool
            ("PUT", "/api/v1/backends/file-f", {"upstream": "backends"}, 409),  # (the same)
            ("PATCH", "/api/v1/backends/web-a", {"weight": 2}, 405),
        ]
        for method, target, body, status in cases:
            with self.subTest(method=method, target=target, body=body):
                r = self.api(rw, method, target, body=body)
                doc = self.error_shape(r, status)
                if status == 405:
                    self.assertTrue(r.header("Allow"), r)
                self.assertEqual(snapshot(), before, (method, target, body, doc))

        # A body over 1 MiB: 413, unread. One of exactly 1 MiB is read (here: refused for its
        # unknown field, so still nothing changes).
        with harness.Conn(rw.admin_port) as c:
            c.send(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    % (D, TOKEN, MiB + 1)).encode() + b"{" + b" " * 65536)
            r = c.read_response()
        self.error_shape(r, 413)
        self.assertEqual(snapshot(), before)
        body = b'{"domain": "big.test", "enabled_backends_tag": "a", "pad": 1'
        body += b" " * (MiB - len(body) - 1) + b"}"
        self.assertEqual(len(body), MiB)
        doc = self.error_shape(self.api(rw, "POST", D, body=body), 400)
        self.assertIn("pad", doc["error"])
        self.assertEqual(snapshot(), before)

        # The token: every change needs it; reads from loopback do not.
        change_calls = [
            ("POST", D, {"domain": "new.test", "enabled_backends_tag": "a"}),
            ("PUT", X, {"enabled_backends_tag": "a"}),
            ("DELETE", X, None),
            ("POST", X + "/switch", {"new_tag": "a"}),
            ("POST", B, {"id": "new", "address": addr, "tags": ["a"]}),
            ("PUT", "/api/v1/backends/web-a", {"weight": 3}),
            ("DELETE", "/api/v1/backends/web-a", None),
        ]
        for method, target, body in change_calls:
            for token in (None, "wrong-token-0123456789abc", TOKEN[:-1]):
                with self.subTest(method=method, target=target, token=token):
                    r = self.api(rw, method, target, body=body, token=token)
                    self.error_shape(r, 401)
                    self.assertTrue(r.header("WWW-Authenticate", "").startswith("Bearer"), r)
        self.assertEqual(snapshot(), before)
        self.assertEqual(self.api(rw, "GET", D, token=None).status, 200)

        # A tag that no backend carries is taken with "force" (and then answers 503).
        doc = self.call(rw, "POST", X + "/switch", {"new_tag": "zzz", "force": True})
        self.assertEqual(doc, {"domain": "example.com", "previous_tag": "a",
                               "enabled_backends_tag": "zzz", "generation": 4})
        self.assertEqual(self.served(port, "example.com", 2, expect=503), {None: 2})
        doc = self.call(rw, "POST", X + "/switch", {"new_tag": "a", "force": False})
        self.assertEqual(doc, {"domain": "example.com", "previous_tag": "zzz",
                               "enabled_backends_tag": "a", "generation": 5})

        # Traffic is as before, and a good change still works (with the token).
        self.assertEqual(self.served(port, "example.com", 4), {"web-a": 4})
        self.assertEqual(self.served(port2, "files.test", 2), {"file-f": 2})
        self.call(rw, "POST", B, {"id": "new", "address": addr, "tags": ["a"]}, expect=201)
        self.assertEqual(self.generation(rw), 6)
        self.assertEqual(self.served(port, "example.com", 4), {"web-a": 2, "spare": 2})
        # Nothing the refusals tried reached the state file.
        self.assertEqual(self.state_doc(rw), {
            "version": 1,
            "domains": [{"domain": "example.com", "added": True, "enabled_backends_tag": "a"}],
            "backends": [{"id": "web-a", "added": True, "address": web.address, "tags": ["a"]},
                         {"id": "new", "added": True, "address": addr, "tags": ["a"]}]})


# ---------------------------------------------------------------------------------------------
# 4. Weights, drain and maint


class BackendStatesTest(ApiObjectsTest):
    def slow_pair(self, rw, port, w1, w2, ms=2000):
        """Two slow requests in flight, one on each backend (round robin); returns the threads
        and where their responses land."""
        results = []

        def one():
            try:
                t0 = time.monotonic()
                r = harness.request(port, "GET", "/slow?ms=%d" % ms, host="site.test",
                                    timeout=15)
                results.append((r.status, served_by(r), r.complete, time.monotonic() - t0))
            except Exception as e:  # reported by the assertions
                results.append(("error", repr(e)))
        threads = [threading.Thread(target=one, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        self.assertTrue(harness.wait_for(
            lambda: self.in_flight(rw, w1.address) == 1 and self.in_flight(rw, w2.address) == 1,
            3), self.get_json(rw, "/api/v1/upstreams"))
        return threads, results

    def test_weight_drain_maint(self):
        w1, w2 = self.start_backends("w1", "w2")
        port = self.free_port()
        # The server takes the pool's backends with tag "a" (both): requests go through the
        # tag's own upstream "pool#a", which holds copies of them; the API edits the originals.
        cfg = harness.config(
            [("main", port)],
            [{"name": "site", "server_name": ["site.test"], "upstream": "pool",
              "enabled_backends_tag": "a"}],
            [harness.upstream("pool", [{"address": w1, "id": "p1", "tags": ["a"]},
                                       {"address": w2, "id": "p2", "tags": ["a"]}],
                              health_check=FAST_CHECKS)])
        rw = self.start(cfg, workers=1)
        self.assertEqual(self.served(port, "site.test", 8), {"w1": 4, "w2": 4})

        # Weights 3:1: an exact 3:1 split (smooth round robin, one worker).
        doc = self.call(rw, "PUT", "/api/v1/backends/p1", {"weight": 3})
        self.assertEqual((doc["id"], doc["weight"], doc["state"]), ("p1", 3, "ready"))
        self.assertEqual(self.served(port, "site.test", 40), {"w1": 30, "w2": 10})
        self.call(rw, "PUT", "/api/v1/backends/p1", {"weight": 1})
        self.assertEqual(self.served(port, "site.test", 8), {"w1": 4, "w2": 4})

        for state in ("drain", "maint"):
            with self.subTest(state=state):
                threads, results = self.slow_pair(rw, port, w1, w2)
                t0 = time.monotonic()
                doc = self.call(rw, "PUT", "/api/v1/backends/p1", {"state": state})
                self.assertEqual((doc["id"], doc["state"]), ("p1", state))
                changed_in = time.monotonic() - t0
                before = w1.stats()["requests"]
                checks0 = self.checks(rw, w1.address)
                checks2 = self.checks(rw, w2.address)
                # No new request for p1 while its old one is in flight.
                self.assertEqual(self.served(port, "site.test", 10), {"w2": 10})
                self.assertEqual(self.in_flight(rw, w1.address), 1)
                for t in threads:
                    t.join(15)
                self.assertLess(changed_in, 1.0)
                self.assertEqual(sorted(x[:3] for x in results),
                                 [(200, "w1", True), (200, "w2", True)], results)
                self.assertEqual(self.served(port, "site.test", 10), {"w2": 10})
                self.assertEqual(w1.stats()["requests"], before)
                self.assertEqual(self.get_json(rw, "/api/v1/backends/p1")["state"], state)
                # Health checks: drain goes on checking, maint stops.
                time.sleep(0.6)
                self.assertGreater(self.checks(rw, w2.address), checks2)
                if state == "drain":
                    self.assertGreater(self.checks(rw, w1.address), checks0)
                else:
                    self.assertEqual(self.checks(rw, w1.address), checks0)
                # Back to ready: p1 takes requests (and checks) again.
                self.call(rw, "PUT", "/api/v1/backends/p1", {"state": "ready"})
                self.assertEqual(self.served(port, "site.test", 8), {"w1": 4, "w2": 4})
        checks0 = self.checks(rw, w1.address)
        self.assertTrue(harness.wait_for(lambda: self.checks(rw, w1.address) > checks0, 3))
        self.assertEqual(self.generation(rw), 7)


# ---------------------------------------------------------------------------------------------
# 5. Under load


class UnderLoadTest(ApiObjectsTest):
    SECONDS = 8

    def setUp(self):
        super().setUp()
        for tool in ("wrk", "h2load"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed" % tool)

    def test_switches_and_backend_changes_under_load(self):
        va, vb, vc = self.start_backends("va", "vb", "vc")
        port = self.free_port()
        rw = self.start(harness.config([("main", port)], [], []), workers=2)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "v-a", "address": va.address, "tags": ["a"]}, expect=201)
        self.call(rw, "POST", "/api/v1/backends",
                  {"id": "v-b", "address": vb.address, "tags": ["b"]}, expect=201)
        self.call(rw, "POST", "/api/v1/domains",
                  {"domain": "load.test", "enabled_backends_tag": "b"}, expect=201)
        gen0 = self.generation(rw)
        tag_of = {"va": "a", "vb": "b"}
        url = "http://127.0.0.1:%d" % port
        results = {}

        def run(name, args):
            try:
                r = harness.run_cmd(args, timeout=self.SECONDS + 40)
                results[name] = (r.returncode, r.stdout.decode("utf-8", "replace") +
                                 r.stderr.decode("utf-8", "replace"))
            except Exception as e:  # a timeout: reported below
                results[name] = (-1, repr(e))
        d = "%ds" % self.SECONDS
        loads = [
            ("wrk keep-alive", ["wrk", "-t1", "-c6", "-d" + d, "--timeout", "5s",
                                "-H", "Host: load.test", url + "/"]),
            ("wrk close", ["wrk", "-t1", "-c3", "-d" + d, "--timeout", "5s",
                           "-H", "Host: load.test", "-H", "Connection: close", url + "/c"]),
            ("h2load", ["h2load", "-c4", "-m8", "-D", str(self.SECONDS), "-T", "5",
                        "-H", ":authority: load.test", url + "/h2"]),
        ]
        # The probe: sequential requests, each with when it was sent and answered.
        probes = []
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                s = time.monotonic()
                try:
                    r = harness.request(port, "GET", "/probe", host="load.test", timeout=5)
                    probes.append((s, time.monotonic(), r.status, served_by(r)))
                except Exception as e:
                    probes.append((s, time.monotonic(), "error", repr(e)))
                time.sleep(0.005)
        threads = [threading.Thread(target=run, args=l, daemon=True) for l in loads]
        prober = threading.Thread(target=probe, daemon=True)
        for t in threads + [prober]:
            t.start()
        started = time.monotonic()
        # 50 switches (b -> a -> b ...), ~100 ms apart; after every 5th the third backend
        # (both tags) is added, and two switches later deleted again: 10 times each.
        switches = []  # (sent, answered, new tag)
        tag = "b"
        answers = collections.Counter()
        try:
            time.sleep(0.8)
            for i in range(50):
                tag = "a" if tag == "b" else "b"
                s = time.monotonic()
                r = self.api(rw, "POST", "/api/v1/domains/load.test/switch",
                             body={"new_tag": tag}, timeout=10)
                switches.append((s, time.monotonic(), tag))
                answers[("switch", r.status)] += 1
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["enabled_backends_tag"], tag)
                if i % 5 == 1:
                    r = self.api(rw, "POST", "/api/v1/backends", timeout=10, body={
                        "id": "v-c", "address": vc.address, "tags": ["a", "b"]})
                    answers[("add", r.status)] += 1
                    self.assertEqual(r.status, 201, r)
                elif i % 5 == 3:
                    r = self.api(rw, "DELETE", "/api/v1/backends/v-c", timeout=10)
                    answers[("delete", r.status)] += 1
                    self.assertEqual(r.status, 200, r)
                time.sleep(max(0.0, started + 0.8 + 0.1 * (i + 1) - time.monotonic()))
            ops_took = time.monotonic() - started
        finally:
            for t in threads:
                t.join(self.SECONDS + 60)
            stop.set()
            prober.join(10)
        self.assertEqual(answers, {("switch", 200): 50, ("add", 201): 10, ("delete", 200): 10})
        self.assertEqual(tag, "b")
        self.assertLess(ops_took, self.SECONDS - 0.3, "the changes outlasted the load")

        report = "\n".join("== %s (rc %s)\n%s" % (k, v[0], v[1]) for k, v in results.items())
        for name in ("wrk keep-alive", "wrk close"):
            rc, out = results[name]
            self.assertEqual(rc, 0, report)
            self.assertNotIn("Non-2xx or 3xx responses", out, report)
            self.assertNotIn("Socket errors", out, report)
            self.assertGreater(parse_wrk(out), 200, report)
        rc, out = results["h2load"]
        self.assertEqual(rc, 0, report)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
        self.assertIsNotNone(m, report)
        total, started_n, done, succeeded, failed, errored, timeouts = map(int, m.groups())
        self.assertEqual((failed, errored, timeouts), (0, 0, 0), report)
        self.assertEqual(succeeded, done, report)
        self.assertGreater(succeeded, 200, report)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        self.assertIsNotNone(codes, report)
        self.assertEqual(codes.group(2, 3, 4), ("0", "0", "0"), report)
        self.assertEqual(int(codes.group(1)), succeeded, report)

        # Every probe was answered 200 by a backend of a tag in force while it ran, or by the
        # third backend (which carries both).
        def possible_tags(s, e):
            before = "b"
            for sent, answered, t in switches:
                if answered <= s:
                    before = t
            out = {before}
            out.update(t for sent, answered, t in switches if sent <= e and answered >= s)
            return out
        bad = []
        during = 0
        for s, e, status, who in probes:
            if status != 200:
                bad.append((round(s - started, 3), status, who))
                continue
            if switches[0][0] <= s <= switches[-1][1]:
                during += 1
            if who == "vc":
                continue
            if who not in tag_of or tag_of[who] not in possible_tags(s, e):
                bad.append((round(s - started, 3), status, who, sorted(possible_tags(s, e))))
        self.assertEqual(bad, [], "probes answered wrongly")
        self.assertGreater(during, 50, "too few probes while the switches ran")
        self.assertEqual(set(who for _, _, _, who in probes), {"va", "vb", "vc"})

        # The switches ended on "b": only vb answers now (vc was deleted last).
        self.assertEqual(self.served(port, "load.test", 20), {"vb": 20})
        self.assertEqual(self.get_json(rw, "/api/v1/domains/load.test")["enabled_backends_tag"],
                         "b")
        self.assertEqual([b["id"] for b in self.get_json(rw, "/api/v1/backends")],
                         ["v-a", "v-b"])
        self.assertEqual(self.generation(rw), gen0 + 70)
        for b in (va, vb, vc):
            self.assertGreater(b.stats()["requests"], 20, b.name)
        samples = self.metrics(rw)
        self.assertEqual(metric_total(samples, "ringway_requests_total", code="5xx"), 0)
        self.assertEqual(metric_total(samples, "ringway_requests_total", code="4xx"), 0)
        self.assertTrue(rw.running())


if __name__ == "__main__":
    harness.main()
