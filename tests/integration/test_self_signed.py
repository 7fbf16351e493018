"""TLS listeners with `tls: {self_signed: true}`: ringway makes a key and a self-signed
certificate at start for the names of the servers the listener serves, logs a warning, and
serves it; every reload makes a new one.

Covered, with openssl s_client, openssl x509 and curl: the certificate's names (DNS, wildcards,
the servers of the listener only when it lists them), subject and validity; requests proxied to
a backend over HTTP/1.1 and HTTP/2 with curl -k; curl without -k refusing it, and trusting it
when given the served certificate as its CA; the warning; a new certificate on SIGHUP with the
names of the new configuration; global.tls with self_signed; --validate refusing self_signed
beside a certificate, and a tls block with neither naming self_signed as a way out.
"""

import json
import os
import re
import shutil
import signal
import unittest

import harness
from harness import HOST


def text(b):
    return b.decode("utf-8", "replace")


def served_pem(port, servername):
    """The leaf certificate (PEM) the listener on `port` serves for `servername`."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-servername", servername]
    r = harness.run_cmd(cmd, input=b"", timeout=20)
    out = text(r.stdout)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", out, re.S)
    if not m:
        raise AssertionError("s_client showed no certificate (%d):\n%s%s"
                             % (r.returncode, out, text(r.stderr)))
    return m.group(0), out


def x509_text(pem):
    r = harness.run_cmd(["openssl", "x509", "-noout", "-text", "-fingerprint", "-sha256"],
                        input=pem.encode(), timeout=20)
    if r.returncode != 0:
        raise AssertionError("openssl x509 failed: %s" % text(r.stderr))
    return text(r.stdout)


def san(pem):
    m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.*)\n", x509_text(pem))
    return [n.strip() for n in m.group(1).split(",")] if m else []


def curl(*args, timeout=30):
    r = harness.run_cmd(["curl", "-sS", "--noproxy", "*", "--max-time", "20"] + list(args),
                        timeout=timeout)
    return r.returncode, r.stdout, text(r.stderr)


class SelfSignedTest(harness.ProxyTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("openssl", "curl"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed" % tool)

    def make_config(self, listeners, servers, upstreams, global_extra=None):
        g = {"log": {"level": "info", "format": "text", "access_log": True},
             "timeouts": {"shutdown": "5s"}}
        g.update(global_extra or {})
        doc = {"global": g}
        if listeners:
            doc["listeners"] = listeners
        doc["servers"] = servers
        doc["upstreams"] = upstreams
        return harness.to_yaml(doc) + "\n"

    def start_self_signed(self, names=("example.com", "*.example.org"), listener_extra=None,
                          more_servers=()):
        self.web = getattr(self, "web", None) or self.start_backend("web")
        self.port = getattr(self, "port", None) or self.free_port()
        listener = {"name": "secure", "bind": "%s:%d" % (HOST, self.port),
                    "tls": {"self_signed": True}}
        listener.update(listener_extra or {})
        servers = [{"name": "site", "server_name": list(names), "upstream": "web",
                    "default": True}] + list(more_servers)
        return self.make_config([listener], servers, [harness.upstream("web", [self.web])])

    def curl_k(self, host, target, *args):
        return curl("-k", "--resolve", "%s:%d:%s" % (host, self.port, HOST), *args,
                    "https://%s:%d%s" % (host, self.port, target))

    def test_certificate_names_and_proxying(self):
        rw = self.start_ringway(self.start_self_signed())
        pem, out = served_pem(self.port, "example.com")
        self.assertEqual(san(pem), ["DNS:example.com", "DNS:*.example.org"])
        info = x509_text(pem)
        self.assertRegex(info, r"Subject: O ?= ?ringway self-signed, CN ?= ?example\.com")
        self.assertRegex(info, r"Issuer: O ?= ?ringway self-signed, CN ?= ?example\.com")
        self.assertIn("ecdsa-with-SHA256", info)
        self.assertRegex(out, r"Verify return code: 18 \(self.signed certificate\)")
        # Every name gets the same certificate (it is the listener's only one).
        self.assertEqual(served_pem(self.port, "a.example.org")[0], pem)
        self.assertEqual(served_pem(self.port, "other.test")[0], pem)

        rc, body, err = self.curl_k("example.com", "/headers")
        self.assertEqual(rc, 0, err)
        doc = json.loads(body)
        self.assertEqual(doc["backend"], "web")
        headers = {k.lower(): v for k, v in doc["headers"]}
        self.assertEqual(headers.get("x-forwarded-proto"), "https", doc)
        rc, body, err = self.curl_k("example.com", "/", "-o", "/dev/null", "-w", "%{http_code}")
        self.assertEqual((rc, body), (0, b"200"), err)
        # HTTP/2 by ALPN.
        rc, body, err = self.curl_k("x.example.org", "/headers", "--http2", "-w",
                                    "\n%{http_version}")
        self.assertEqual(rc, 0, err)
        self.assertTrue(body.endswith(b"\n2"), body)

        # Without -k curl refuses it; with the served certificate as its CA it accepts it for
        # the names it carries.
        rc, _, err = curl("--resolve", "example.com:%d:%s" % (self.port, HOST),
                          "https://example.com:%d/" % self.port)
        self.assertEqual(rc, 60, err)
        ca = os.path.join(self.workdir, "served.pem")
        with open(ca, "w") as f:
            f.write(pem)
        rc, body, err = curl("--cacert", ca, "--resolve", "example.com:%d:%s" % (self.port, HOST),
                             "https://example.com:%d/headers" % self.port)
        self.assertEqual(rc, 0, err)

        # The warning names the listener and the names.
        lines = rw.log_lines("listener 'secure' serves a self-signed certificate for "
                             "example.com, *.example.org; give it a certificate "
                             "(tls: {cert, key}) for clients to trust it")
        self.assertEqual(len(lines), 1, rw.logs())

    def test_validity_is_90_days_from_an_hour_ago(self):
        self.start_ringway(self.start_self_signed())
        pem, _ = served_pem(self.port, "example.com")
        r = harness.run_cmd(["openssl", "x509", "-noout", "-checkend", str(89 * 86400)],
                            input=pem.encode(), timeout=20)
        self.assertEqual(r.returncode, 0, text(r.stdout))
        r = harness.run_cmd(["openssl", "x509", "-noout", "-checkend", str(91 * 86400)],
                            input=pem.encode(), timeout=20)
        self.assertEqual(r.returncode, 1, text(r.stdout))

    def test_listener_servers_only(self):
        # The listener lists one of two servers: only that server's names.
        other = {"name": "other", "server_name": ["other.test"], "upstream": "web"}
        self.start_ringway(self.start_self_signed(names=["api.example.com"],
                                                  listener_extra={"servers": ["site"]},
                                                  more_servers=[other]))
        pem, _ = served_pem(self.port, "api.example.com")
        self.assertEqual(san(pem), ["DNS:api.example.com"])

    def test_all_servers_when_the_listener_lists_none(self):
        other = {"name": "other", "server_name": ["other.test", "*.other.test"],
                 "upstream": "web"}
        self.start_ringway(self.start_self_signed(names=["a.test"], more_servers=[other]))
        pem, _ = served_pem(self.port, "other.test")
        self.assertEqual(san(pem), ["DNS:a.test", "DNS:other.test", "DNS:*.other.test"])
        rc, body, err = self.curl_k("x.other.test", "/headers")
        self.assertEqual(rc, 0, err)

    def test_reload_makes_a_new_certificate_with_the_new_names(self):
        rw = self.start_ringway(self.start_self_signed())
        before, _ = served_pem(self.port, "example.com")
        with open(rw.config_path, "w") as f:
            f.write(self.start_self_signed(names=["example.com", "new.example.com"]))
        rw.signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: rw.log_lines("reload (SIGHUP): configuration 2 in use"), 10), rw.logs())
        after, _ = served_pem(self.port, "new.example.com")
        self.assertNotEqual(after, before)
        self.assertEqual(san(after), ["DNS:example.com", "DNS:new.example.com"])
        self.assertEqual(len(rw.log_lines("serves a self-signed certificate")), 2, rw.logs())
        rc, _, err = self.curl_k("new.example.com", "/")
        self.assertEqual(rc, 0, err)

    def test_global_tls_self_signed(self):
        self.web = self.start_backend("web")
        self.port = self.free_port()
        text_ = self.make_config(
            None, [{"name": "site", "server_name": ["g.example.com"], "upstream": "web"}],
            [harness.upstream("web", [self.web])],
            global_extra={"port": self.port, "tls": {"self_signed": True}})
        rw = self.start_ringway(text_, ports=[self.port])
        pem, _ = served_pem(self.port, "g.example.com")
        self.assertEqual(san(pem), ["DNS:g.example.com"])
        rc, _, err = self.curl_k("g.example.com", "/")
        self.assertEqual(rc, 0, err)
        self.assertTrue(rw.log_lines("listener 'default' serves a self-signed certificate for "
                                     "g.example.com"), rw.logs())

    def validate(self, config_text):
        path = os.path.join(self.workdir, "check.yaml")
        with open(path, "w") as f:
            f.write(config_text)
        r = harness.run_cmd([harness.ringway_binary(), "--validate", "--config", path],
                            timeout=20)
        return r.returncode, text(r.stdout + r.stderr), path

    def test_validate(self):
        good = self.start_self_signed()
        rc, out, _ = self.validate(good)
        self.assertEqual(rc, 0, out)
        # Beside a certificate: refused at the certificate, naming self_signed's line.
        both = good.replace("self_signed: true",
                            "self_signed: true\n      cert: /etc/x.pem\n      key: /etc/x.key")
        self.assertNotEqual(both, good)
        lines = both.splitlines()
        ss_line = next(i for i, l in enumerate(lines) if "self_signed:" in l) + 1
        cert_line = next(i for i, l in enumerate(lines) if "cert: /etc/x.pem" in l) + 1
        rc, out, path = self.validate(both)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:%d:\d+: 'tls' in listener 'secure' has self_signed: true "
                              r"\(line %d, column \d+\) and names a certificate too"
                         % (re.escape(path), cert_line, ss_line))
        # Neither: the error offers self_signed: true.
        neither = good.replace("self_signed: true", "min_version: \"1.2\"")
        rc, out, path = self.validate(neither)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:\d+:\d+: 'tls' in listener 'secure' names no certificate"
                         % re.escape(path))
        self.assertIn("self_signed: true", out)
        # self_signed: false is a tls block with no certificate.
        off = good.replace("self_signed: true", "self_signed: false")
        rc, out, _ = self.validate(off)
        self.assertEqual(rc, 1, out)
        self.assertIn("names no certificate", out)


if __name__ == "__main__":
    harness.main()
