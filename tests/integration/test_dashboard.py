"""The admin dashboard (GET / on the admin listener) in a real headless browser: Debian's
chromium driven through chromium-driver by python3-selenium (run with /usr/bin/python3).

Each test starts ringway with an admin listener, opens the page and reads the DOM through the
page's stable hooks (data-upstream, data-backend, data-backend-id, data-domain, data-field,
data-action, data-rate, body[data-refreshes]). The page refreshes itself every 2 s; every wait
here is bounded. The browser's console is collected through goog:loggingPrefs and any SEVERE or
WARNING entry fails the test, except the few network errors a test provokes on purpose (Chrome
logs every 4xx answer to fetch() as "Failed to load resource").

The whole class is skipped when chromium, chromedriver or selenium is missing:
    apt-get install -y chromium chromium-driver python3-selenium
"""

import os
import re
import shutil
import sys
import threading
import time
import unittest

import harness

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
except ImportError:  # pragma: no cover
    webdriver = None


def _find_binary(env, names):
    path = os.environ.get(env)
    if path:
        return path if os.access(path, os.X_OK) else None
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    return None


CHROMIUM = _find_binary("CHROMIUM_BIN", ["chromium", "chromium-browser"])
CHROMEDRIVER = _find_binary("CHROMEDRIVER_BIN", ["chromedriver"])

TOKEN = "dashboard-admin-token-0123456789"
FAST_CHECKS = {"interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 1}
NO_PASSIVE = {"consecutive_failures": 0}
PAGE_WAIT = 15      # seconds: the page's loop refreshes every 2 s
DOWN_WAIT = 10      # seconds for a killed backend to show as down (checks every 200 ms)

# Finds an element by a path of [attribute, exact value] pairs, each searched inside the last
# (values compared in JS, so no CSS escaping of names with quotes or brackets).
_FIND_JS = """
let el = document;
for (const [attr, value] of arguments[0]) {
  let hit = null;
  for (const e of el.querySelectorAll('[' + attr + ']')) {
    if (e.getAttribute(attr) === value) { hit = e; break; }
  }
  if (!hit) return null;
  el = hit;
}
return el;
"""

# A snapshot of one element: its data-* attributes and the text of its data-field cells.
_SNAPSHOT_JS = _FIND_JS.replace("return el;\n", "") + """
const out = {attrs: {}, fields: {}, text: el.textContent};
for (const a of el.attributes) if (a.name.startsWith('data-')) out.attrs[a.name] = a.value;
for (const f of el.querySelectorAll('[data-field]')) {
  const k = f.getAttribute('data-field');
  if (!(k in out.fields)) out.fields[k] = f.textContent;
}
return out;
"""


def _rate(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class DashboardTest(harness.ProxyTest):
    @classmethod
    def setUpClass(cls):
        missing = []
        if webdriver is None:
            missing.append("python3-selenium (import selenium failed; run with /usr/bin/python3)")
        if not CHROMIUM:
            missing.append("chromium")
        if not CHROMEDRIVER:
            missing.append("chromium-driver (chromedriver)")
        if missing:
            raise unittest.SkipTest("no headless browser: missing %s; apt-get install -y "
                                    "chromium chromium-driver python3-selenium"
                                    % ", ".join(missing))

    def setUp(self):
        super().setUp()
        self.console = []
        self.driver = None
        self.timings = {}

    # ---- set-up ----

    def start_site(self, upstream_name="pool", server_name="site", passive=None,
                   global_extra=None):
        """Backends web-a (tag a) and web-b (tag b) in one upstream, and a server for
        app.example.com that uses tag a; ringway with an admin listener."""
        self.web_a, self.web_b = self.start_backends("web-a", "web-b")
        self.port = self.free_port()
        options = {"health_check": FAST_CHECKS}
        if passive is not None:
            options["passive_health"] = passive
        servers = [{"name": server_name, "server_name": ["app.example.com"],
                    "upstream": upstream_name, "enabled_backends_tag": "a", "default": True}]
        upstreams = [harness.upstream(upstream_name, [
            {"id": "web-a", "address": self.web_a, "tags": ["a"]},
            {"id": "web-b", "address": self.web_b, "tags": ["b"]}], **options)]
        cfg = harness.config([("main", self.port)], servers, upstreams,
                             global_extra=global_extra)
        self.rw = self.start_ringway(cfg, admin=True)
        self.upstream_name = upstream_name
        return self.rw

    def open_dashboard(self):
        """Starts chromium and loads the page; waits for its first refresh."""
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-default-apps", "--window-size=1200,1000",
                  "--user-data-dir=" + os.path.join(self.workdir, "chromium-profile")):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        start = time.monotonic()
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        except WebDriverException as e:
            raise AssertionError("chromium did not start: %s" % e)
        # Registered after start_ringway's cleanup, so the browser goes first (LIFO): the page
        # never sees ringway stop.
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(10)
        self.timings["browser start"] = time.monotonic() - start
        self.url = "http://127.0.0.1:%d/" % self.rw.admin_port
        start = time.monotonic()
        self.driver.get(self.url)
        self.wait_refreshes(1)
        self.timings["first refresh"] = time.monotonic() - start

    # ---- reading the page ----

    def find(self, *path):
        return self.driver.execute_script(_FIND_JS, [list(p) for p in path])

    def snapshot(self, *path):
        return self.driver.execute_script(_SNAPSHOT_JS, [list(p) for p in path])

    def refreshes(self):
        return int(self.driver.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"))

    def wait_refreshes(self, n, timeout=PAGE_WAIT):
        self.wait_until(lambda: self.refreshes() >= n, timeout,
                        "the page to finish %d refreshes" % n)

    def wait_until(self, predicate, timeout, what):
        """Polls `predicate` (a falsy value or an exception: not yet) every 100 ms for at most
        `timeout` seconds; returns its value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
                last = value
            except (WebDriverException, KeyError, TypeError, AttributeError) as e:
                last = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            if time.monotonic() > deadline:
                body = ""
                try:
                    body = self.driver.find_element(By.TAG_NAME, "body").text[:3000]
                except WebDriverException:
                    pass
                self.fail("timed out after %ss waiting for %s (last: %r)\n--- page ---\n%s"
                          % (timeout, what, last, body))
            time.sleep(0.1)

    def api(self, method, path, body=None, token=None):
        headers = [("Content-Type", "application/json")] if body is not None else []
        if token:
            headers.append(("Authorization", "Bearer " + token))
        data = None if body is None else __import__("json").dumps(body).encode()
        return harness.request(self.rw.admin_port, method, path, host="127.0.0.1",
                               headers=headers, body=data)

    def drain_console(self):
        try:
            self.console += self.driver.get_log("browser")
        except WebDriverException:
            pass
        return self.console

    def assert_clean_console(self, allowed=()):
        """No SEVERE or WARNING entry in the console, except those matching a regex in
        `allowed` (each of which must have appeared)."""
        bad, seen = [], set()
        for e in self.drain_console():
            if e.get("level") not in ("SEVERE", "WARNING"):
                continue
            hit = [rx for rx in allowed if re.search(rx, e.get("message", ""))]
            if hit:
                seen.update(hit)
            else:
                bad.append(e)
        self.assertEqual(bad, [], "console errors or warnings on the dashboard")
        self.assertEqual(sorted(set(allowed) - seen), [],
                         "expected console entries that did not appear")

    def report(self):
        if self.timings:
            sys.stderr.write("  [%s] %s\n" % (self._testMethodName, ", ".join(
                "%s %.2fs" % kv for kv in self.timings.items())))

    def served_by(self, host):
        r = harness.request(self.port, "GET", "/", host=host)
        return r.status, r.header("X-Backend")

    # ---- tests ----

    def test_loads_clean_and_shows_backends(self):
        self.start_site()
        self.open_dashboard()
        # The page's own checks: its CSP header and the icon that needs no request.
        r = harness.request(self.rw.admin_port, "GET", "/", host="127.0.0.1")
        self.assertEqual(r.status, 200)
        self.assertIn("default-src 'none'", r.header("Content-Security-Policy", ""))
        for b in (self.web_a, self.web_b):
            row = self.wait_until(
                lambda b=b: (lambda s: s if s and s["attrs"].get("data-health") == "up"
                             else None)(self.snapshot(("data-upstream", "pool"),
                                                      ("data-backend", b.address))),
                PAGE_WAIT, "%s up in upstream pool" % b.address)
            self.assertEqual(row["fields"]["health"].strip(), "up")
            self.assertEqual(row["fields"]["weight"], "1")
        a = self.snapshot(("data-backend-id", "web-a"))
        self.assertEqual(a["fields"]["address"], self.web_a.address)
        self.assertEqual(a["fields"]["tags"], "a")
        self.assertEqual(a["attrs"]["data-state"], "ready")
        self.assertEqual(a["attrs"]["data-health"], "up")
        d = self.snapshot(("data-domain", "app.example.com"))
        self.assertEqual(d["fields"]["tag"], "a")
        self.assertEqual(d["fields"]["upstream"], "pool")
        status = self.driver.find_element(By.ID, "status")
        self.assertEqual(status.get_attribute("data-ready"), "true")
        self.assertIn("generation 1", status.text)
        self.assertFalse(self.driver.find_element(By.ID, "banner").is_displayed())
        self.assertFalse(self.driver.find_element(By.ID, "auth").is_displayed())
        # Two more refreshes: the loop runs, and nothing asked for /favicon.ico (any path the
        # API does not know is counted under endpoint="other").
        n = self.refreshes()
        self.wait_refreshes(n + 2)
        metrics = self.api("GET", "/metrics").body.decode()
        self.assertNotIn('endpoint="other"', metrics)
        self.assertRegex(metrics, r'api_requests_total\{endpoint="/api/v1/upstreams",'
                                  r'code="2xx"\} [1-9]')
        self.assert_clean_console()
        self.report()

    def test_killed_backend_shows_down(self):
        self.start_site()
        self.open_dashboard()
        path = [("data-upstream", "pool"), ("data-backend", self.web_b.address)]
        self.wait_until(lambda: self.snapshot(*path)["attrs"]["data-health"] == "up",
                        PAGE_WAIT, "web-b up")
        start = time.monotonic()
        self.web_b.stop()
        self.wait_until(lambda: self.snapshot(*path)["attrs"]["data-health"] == "down",
                        DOWN_WAIT, "web-b down in upstream pool")
        self.timings["kill to down on the page"] = time.monotonic() - start
        row = self.snapshot(*path)
        self.assertEqual(row["fields"]["health"].strip(), "down")
        badge = self.find(*path).find_element(By.CSS_SELECTOR, "[data-field=health] .badge")
        self.assertIn("down", badge.get_attribute("class"))
        self.wait_until(lambda: self.snapshot(("data-backend-id", "web-b"))["attrs"]
                        ["data-health"] == "down", PAGE_WAIT, "web-b down in Backends")
        # web-a is untouched.
        self.assertEqual(self.snapshot(("data-upstream", "pool"),
                                       ("data-backend", self.web_a.address))
                         ["attrs"]["data-health"], "up")
        self.assert_clean_console()
        self.report()

    def test_switch_domain_tag(self):
        self.start_site()
        self.assertEqual(self.served_by("app.example.com"), (200, "web-a"))
        self.open_dashboard()
        row = self.find(("data-domain", "app.example.com"))
        self.assertIsNotNone(row)
        self.assertEqual(self.snapshot(("data-domain", "app.example.com"))["fields"]["tag"], "a")
        tag_input = row.find_element(By.CSS_SELECTOR, "[data-action=new-tag]")
        button = row.find_element(By.CSS_SELECTOR, "[data-action=switch]")

        # A malformed tag: the API's refusal shows inline, with its hint.
        result = lambda: self.snapshot(("data-domain", "app.example.com"))["fields"]["result"]
        tag_input.send_keys("no/such")
        button.click()
        msg = self.wait_until(lambda: "not valid" in result() and result(), PAGE_WAIT,
                              "the API's error inline")
        self.assertIn("tag 'no/such' is not valid", msg)
        self.assertIn("send {\"new_tag\": \"b\"}", msg)  # the hint
        # A tag no backend has: the API refuses it (409) and the page offers to force it; the
        # switch is not made until the second press.
        tag_input.clear()
        tag_input.send_keys("nosuch")
        button.click()
        msg = self.wait_until(lambda: "Press Switch again" in result() and result(), PAGE_WAIT,
                              "the refusal and the offer to force it")
        self.assertIn("carries tag 'nosuch'", msg)
        self.assertEqual(self.api("GET", "/api/v1/domains/app.example.com").json()
                         ["enabled_backends_tag"], "a")
        button.click()
        self.wait_until(lambda: self.api("GET", "/api/v1/domains/app.example.com").json()
                        ["enabled_backends_tag"] == "nosuch", PAGE_WAIT, "the forced switch")
        self.assertEqual(self.served_by("app.example.com")[0], 503)

        tag_input.clear()
        tag_input.send_keys("b")
        start = time.monotonic()
        button.click()
        self.wait_until(lambda: self.snapshot(("data-domain", "app.example.com"))
                        ["fields"]["tag"] == "b", PAGE_WAIT, "the domain's tag b on the page")
        self.timings["click to tag b on the page"] = time.monotonic() - start
        self.assertIn("switched nosuch \u2192 b", result())
        domains = self.api("GET", "/api/v1/domains").json()
        self.assertEqual([d["enabled_backends_tag"] for d in domains
                          if d["domain"] == "app.example.com"], ["b"])
        # Traffic for the domain now reaches web-b (bounded: workers pick the change up).
        self.wait_until(lambda: self.served_by("app.example.com") == (200, "web-b"), 5,
                        "app.example.com served by web-b")
        for _ in range(5):
            self.assertEqual(self.served_by("app.example.com"), (200, "web-b"))
        self.assert_clean_console(allowed=[r"/switch - Failed to load resource: the server "
                                           r"responded with a status of (422|409)"])
        self.report()

    def test_backend_state_and_weight(self):
        self.start_site()
        self.open_dashboard()
        row = self.find(("data-backend-id", "web-a"))
        Select(row.find_element(By.CSS_SELECTOR, "[data-action=state]")).select_by_value("drain")
        self.wait_until(lambda: self.snapshot(("data-backend-id", "web-a"))["attrs"]
                        ["data-state"] == "drain", PAGE_WAIT, "web-a drain on the page")
        self.assertEqual(self.api("GET", "/api/v1/backends/web-a").json()["state"], "drain")
        weight = row.find_element(By.CSS_SELECTOR, "[data-action=weight]")
        weight.send_keys(Keys.CONTROL, "a")
        weight.send_keys("7", Keys.TAB)
        self.wait_until(lambda: self.api("GET", "/api/v1/backends/web-a").json()["weight"] == 7,
                        PAGE_WAIT, "the weight 7 through the API")
        self.wait_until(lambda: self.snapshot(("data-upstream", "pool"),
                                              ("data-backend", self.web_a.address))
                        ["fields"]["weight"] == "7", PAGE_WAIT, "weight 7 in upstream pool")
        self.assertIn("weight set to 7",
                      self.snapshot(("data-backend-id", "web-a"))["fields"]["result"])
        self.assert_clean_console()
        self.report()

    def test_request_rates(self):
        # Names with markup, quotes and backslashes: they must come out as text, and the
        # metrics parser must unescape them (label values carry \" and \\).
        up = 'p<b>"x"</b>'
        server = 's<i>"\\\\q'
        self.start_site(upstream_name=up, server_name=server, passive=NO_PASSIVE)
        self.open_dashboard()
        stop = threading.Event()
        sent = {"n": 0}

        def load():
            targets = ["/", "/", "/status/404", "/status/503"]
            deadline = time.monotonic() + 30
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    harness.request(self.port, "GET", targets[i % 4], host="app.example.com",
                                    timeout=5)
                    sent["n"] += 1
                except Exception:  # counted by the proxy or not: the rates show it anyway
                    pass
                i += 1
                stop.wait(0.02)

        t = threading.Thread(target=load, daemon=True)
        start = time.monotonic()
        t.start()
        try:
            ids = ["rate-total", "rate-2xx", "rate-4xx", "rate-5xx"]
            rates = self.wait_until(
                lambda: (lambda v: v if all(_rate(x) > 0 for x in v.values()) else None)(
                    {i: self.driver.find_element(By.ID, i).get_attribute("data-rate")
                     for i in ids}),
                PAGE_WAIT, "non-zero request, 2xx, 4xx and 5xx rates")
            self.timings["load to non-zero rates"] = time.monotonic() - start
            derived = up + "#a"
            row = self.wait_until(
                lambda: (lambda s: s if s and _rate(s["fields"].get("rate")) > 0 else None)(
                    self.snapshot(("data-rate-upstream", derived))),
                PAGE_WAIT, "a non-zero rate for upstream %r" % derived)
        finally:
            stop.set()
            t.join(timeout=10)
        self.assertGreater(sent["n"], 0)
        self.assertGreater(_rate(rates["rate-total"]), _rate(rates["rate-5xx"]))
        self.assertEqual(row["fields"]["upstream"], derived)
        self.assertEqual(row["fields"]["servers"], server)
        self.assertGreater(float(row["fields"]["rate-5xx"]), 0)
        self.assertGreater(int(self.driver.find_element(By.ID, "total-requests").text), 0)
        # The upstream's name shows as text, and made no elements.
        self.assertIsNotNone(self.find(("data-upstream", up)))
        sec = self.snapshot(("data-upstream", up))
        self.assertEqual(sec["fields"]["name"], up)
        for tag in ("b", "i"):
            self.assertEqual(self.driver.execute_script(
                "return document.querySelectorAll('table %s, h3 %s').length" % (tag, tag)), 0)
        self.assert_clean_console()
        self.report()

    def test_token(self):
        self.start_site(global_extra={"admin": {"token": TOKEN}})
        self.open_dashboard()
        auth = self.driver.find_element(By.ID, "auth")
        self.assertFalse(auth.is_displayed())  # reads from this machine need no token
        row = self.find(("data-domain", "app.example.com"))
        row.find_element(By.CSS_SELECTOR, "[data-action=new-tag]").send_keys("b")
        row.find_element(By.CSS_SELECTOR, "[data-action=switch]").click()
        self.wait_until(auth.is_displayed, PAGE_WAIT, "the token field after a 401")
        result = lambda: self.snapshot(("data-domain", "app.example.com"))["fields"]["result"]
        self.wait_until(lambda: "needs the admin token" in result(), PAGE_WAIT,
                        "the 401's error inline")
        self.driver.find_element(By.ID, "token-input").send_keys(TOKEN)
        self.driver.find_element(By.ID, "token-save").click()
        self.assertEqual(self.driver.execute_script(
            "return sessionStorage.getItem('ringway.admin.token')"), TOKEN)
        # Repeat the change: it goes through with the token.
        tag_input = row.find_element(By.CSS_SELECTOR, "[data-action=new-tag]")
        tag_input.clear()
        tag_input.send_keys("b")
        row.find_element(By.CSS_SELECTOR, "[data-action=switch]").click()
        self.wait_until(lambda: self.snapshot(("data-domain", "app.example.com"))
                        ["fields"]["tag"] == "b", PAGE_WAIT, "tag b after the token")
        # The token outlives a reload of the page (same tab), and is sent on every request.
        self.driver.refresh()
        self.wait_refreshes(1)
        self.assertIn("kept", self.driver.find_element(By.ID, "auth-msg").text)
        row = self.find(("data-backend-id", "web-b"))
        Select(row.find_element(By.CSS_SELECTOR, "[data-action=state]")).select_by_value("maint")
        self.wait_until(lambda: self.api("GET", "/api/v1/backends/web-b").json()["state"]
                        == "maint", PAGE_WAIT, "web-b maint with the kept token")
        self.assertEqual(self.api("GET", "/api/v1/domains/app.example.com").json()
                         ["enabled_backends_tag"], "b")
        self.assert_clean_console(allowed=[r"/switch - Failed to load resource: the server "
                                           r"responded with a status of 401"])
        self.report()

    def test_unreachable_banner(self):
        self.start_site()
        self.open_dashboard()
        banner = self.driver.find_element(By.ID, "banner")
        self.assertFalse(banner.is_displayed())
        self.assertEqual(self.rw.stop(), 0)
        self.wait_until(lambda: banner.is_displayed() and "cannot reach ringway" in banner.text,
                        PAGE_WAIT, "the banner that says ringway cannot be reached")
        self.assertIn("stale", self.driver.find_element(By.TAG_NAME, "body")
                      .get_attribute("class"))
        # While down, one request per try (each failed fetch is a console line).
        n = len([e for e in self.drain_console() if "ERR_CONNECTION_REFUSED" in e["message"]])
        time.sleep(4.5)
        m = len([e for e in self.drain_console() if "ERR_CONNECTION_REFUSED" in e["message"]])
        self.assertLessEqual(m - n, 3, "more than one request per refresh while unreachable")
        self.assert_clean_console(allowed=[r"Failed to load resource: net::ERR_CONNECTION_REFUSED"])
        self.report()



if __name__ == "__main__":
    harness.main()
