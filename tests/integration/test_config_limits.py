"""`ringway --validate` on hostile and very large configuration files: each is answered with
exit status 1 and a file:line:col error (or 0 for a large valid file) within seconds, without
an exception escaping (std::bad_alloc ended the process before) or gigabytes of memory."""

import os
import re
import unittest

import harness


def upstreams_config(count):
    lines = ["global: {port: 8080}",
             "servers: [{server_name: acme.com, upstream: u0}]",
             "upstreams:"]
    for i in range(count):
        lines.append('  - {name: u%d, servers: ["127.0.0.1:3001"], keepalive: 8, '
                     'algorithm: random, retry: {tries: 2}}' % i)
    return "\n".join(lines) + "\n"


class ConfigLimitsTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        self.bin = harness.ringway_binary()
        if not self.bin:
            raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")

    def validate(self, text, timeout=30):
        path = os.path.join(self.workdir, "ringway.yaml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ)
        env.pop("CONFIG_PATH", None)
        res = harness.run_cmd([self.bin, "--config", path, "--validate"], timeout=timeout,
                              env=env)
        return path, res.returncode, res.stderr.decode("utf-8", "replace")

    def assertRefusedAt(self, text, line, col, needle):
        path, rc, err = self.validate(text)
        self.assertEqual(rc, 1, err[:2000])
        self.assertNotIn("bad_alloc", err)
        self.assertNotIn("terminate", err)
        m = re.search(re.escape(path) + r":(\d+):(\d+): (.*)", err)
        self.assertIsNotNone(m, err[:2000])
        self.assertEqual((int(m.group(1)), int(m.group(2))), (line, col), err[:2000])
        self.assertIn(needle, m.group(3))

    def test_alias_of_a_large_scalar_many_times_is_refused_at_the_alias(self):
        # The file: about 1 MB, a 1 MiB scalar aliased 20,000 times (20 GiB expanded).
        text = ('global: {port: 8080}\nx: &big "' + "A" * (1 << 20) + '"\ny: [' +
                ", ".join(["*big"] * 20000) + "]\n")
        # The anchor's copy and 14 aliases fit in 16 MiB; the 15th, at column 5 + 6 * 14, not.
        self.assertRefusedAt(text, 3, 5 + 6 * 14, "alias '*big' takes the document past 16 MiB")

    def test_billion_laughs_is_refused(self):
        text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for prev, c in zip("abcdefgh", "bcdefghi"):
            text += "%s: &%s [%s]\n" % (c, c, ", ".join(["*" + prev] * 9))
        path, rc, err = self.validate(text)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, re.escape(path) + r":\d+:\d+: .*once aliases are expanded")

    def test_forty_thousand_upstreams_validate(self):
        path, rc, err = self.validate(upstreams_config(40000))
        self.assertEqual(rc, 0, err[:2000])

    def test_duplicate_key_at_the_end_of_a_large_mapping_is_located(self):
        keys = "".join("    k%d: 1\n" % i for i in range(200000))
        text = "global:\n  port: 8080\n  x:\n" + keys + "    k7: 2\n"
        self.assertRefusedAt(text, 200004, 5, "duplicate key 'k7' (first at line 11, column 5)")

    def test_new_keys_validate(self):
        text = ("global:\n  port: 8080\n  underscores_in_headers: true\n"
                "  timeouts: {tunnel: 30m}\n"
                "listeners: [{name: b, bind: \"127.0.0.1:8081\", underscores_in_headers: false}]\n"
                "servers: [{server_name: acme.com, upstream: web}]\n"
                "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n")
        path, rc, err = self.validate(text)
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    harness.main()
