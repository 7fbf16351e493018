"""Load smoke test with wrk: no errors under 20 concurrent keep-alive connections."""

import re
import shutil
import unittest

import harness


class WrkSmokeTest(harness.ProxyTest):
    def setUp(self):
        super().setUp()
        if not shutil.which("wrk"):
            raise unittest.SkipTest("wrk is not installed")

    def run_wrk(self, url, connections=20, seconds=2):
        res = harness.run_cmd(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds,
                               "--timeout", "5s", url], timeout=seconds + 30)
        out = res.stdout.decode("utf-8", "replace")
        self.assertEqual(res.returncode, 0, out + res.stderr.decode("utf-8", "replace"))
        return out

    def check_clean(self, out):
        self.assertNotIn("Non-2xx or 3xx responses", out, out)
        self.assertNotIn("Socket errors", out, out)
        m = re.search(r"(\d+) requests in", out)
        self.assertIsNotNone(m, out)
        return int(m.group(1))

    def test_wrk_two_backends(self):
        a, b = self.start_backends("a", "b")
        port = self.free_port()
        rw = self.start_ringway(harness.simple_config(port, [a, b]), workers=2)
        out = self.run_wrk("http://127.0.0.1:%d/" % port)
        n = self.check_clean(out)
        self.assertGreater(n, 100, out)
        sa, sb = a.stats(), b.stats()
        # Both backends took a share; upstream connections were pooled, not one per request.
        self.assertGreater(sa["requests"], n // 4, (sa["requests"], sb["requests"], n))
        self.assertGreater(sb["requests"], n // 4, (sa["requests"], sb["requests"], n))
        self.assertLess(sa["connections"] + sb["connections"], n // 4 + 100)
        # Still healthy afterwards.
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        self.assertTrue(rw.running())

    def test_wrk_larger_responses(self):
        web = self.start_backend("web")
        port = self.free_port()
        self.start_ringway(harness.simple_config(port, [web]), workers=2)
        out = self.run_wrk("http://127.0.0.1:%d/bytes?n=65536" % port, connections=10)
        self.check_clean(out)


if __name__ == "__main__":
    harness.main()
