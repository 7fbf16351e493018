"""The Debian package (packaging/build-deb.sh): built from the binary under test, its files and
their modes, the control fields, the conffiles, the maintainer scripts and the manual page.

Then, only as root with a usable dpkg and no systemd running (installing there would enable
and start a system service): `dpkg -i`, the installed files, the `ringway` user and its
directories, the installed binary run as that user on a config of the test's own (a request
proxied, a reload by SIGHUP that moves traffic to another backend, a clean stop), a reinstall
(the upgrade path of the maintainer scripts), `dpkg -r` (the conffiles and the user stay) and
`dpkg --purge` (everything goes). The package is purged whatever happens; the install part is
skipped, with the reason printed, where it would touch a ringway the machine already has.
One copy of this test at a time per machine holds the install part (a lock file).
"""

import fcntl
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import harness

SRC = harness.SRC
BUILD_DEB = os.path.join(SRC, "packaging", "build-deb.sh")
LOCK_PATH = "/tmp/ringway-package-test.lock"
# Exists while this test has the package installed: a run that was killed (SIGKILL, a timeout)
# leaves it, and the next run purges what it left before anything else.
MARKER_PATH = "/var/tmp/ringway-package-test.installed"

# What the package must hold: path -> mode.
EXPECTED_FILES = {
    "usr/sbin/ringway": 0o755,
    "etc/ringway/ringway.yaml": 0o644,
    "lib/systemd/system/ringway.service": 0o644,
    "etc/logrotate.d/ringway": 0o644,
    "usr/share/man/man8/ringway.8.gz": 0o644,
    "usr/share/doc/ringway/copyright": 0o644,
    "usr/share/doc/ringway/changelog.Debian.gz": 0o644,
    "usr/share/doc/ringway/configuration.md.gz": 0o644,
}
MAN_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION", "SIGNALS",
                "ENVIRONMENT", "FILES", "SEE ALSO"]


def run(args, timeout=120, check=True, **kw):
    p = harness.run_cmd(args, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\n--- stdout ---\n%s\n--- stderr ---\n%s"
                             % (" ".join(args), p.returncode,
                                p.stdout.decode(errors="replace"),
                                p.stderr.decode(errors="replace")))
    return p


def text(p):
    return p.stdout.decode(errors="replace")


class Package:
    """The package built once for this module from the binary under test."""
    binary = None
    workdir = None
    deb = None
    version = None
    tree = None  # the package's files, unpacked
    control_dir = None


def setUpModule():
    binary = harness.ringway_binary()
    if not binary:
        raise unittest.SkipTest("no ringway binary (set RINGWAY_BIN)")
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "man"):
        if not shutil.which(tool):
            raise unittest.SkipTest("%s is missing (dpkg-dev, man-db)" % tool)
    Package.binary = os.path.abspath(binary)
    Package.workdir = tempfile.mkdtemp(prefix="ringway-pkg-")
    try:
        out = os.path.join(Package.workdir, "deb")
        p = run(["bash", BUILD_DEB, "--binary", Package.binary, "--out", out], timeout=240)
        Package.deb = text(p).strip().splitlines()[-1]
        Package.version = text(run([Package.binary, "--version"])).split()[1]
        Package.tree = os.path.join(Package.workdir, "tree")
        Package.control_dir = os.path.join(Package.workdir, "control")
        run(["dpkg-deb", "-x", Package.deb, Package.tree])
        run(["dpkg-deb", "-e", Package.deb, Package.control_dir])
    except BaseException:
        tearDownModule()  # (unittest does not call it when this fails)
        raise


def tearDownModule():
    if Package.workdir:
        shutil.rmtree(Package.workdir, ignore_errors=True)


class PackageContents(unittest.TestCase):
    def test_file_name(self):
        arch = text(run(["dpkg", "--print-architecture"])).strip()
        self.assertEqual(os.path.basename(Package.deb),
                         "ringway_%s_%s.deb" % (Package.version, arch))

    def test_file_list_and_modes(self):
        listing = {}
        for line in text(run(["dpkg-deb", "-c", Package.deb])).splitlines():
            # -rwxr-xr-x root/root   4962520 2026-12-02 14:30 ./usr/sbin/ringway
            fields = line.split(None, 5)
            path = fields[5].split(" -> ")[0]
            listing[path[2:] if path.startswith("./") else path] = (fields[0], fields[1])
        for path, mode in EXPECTED_FILES.items():
            self.assertIn(path, listing, "missing from the package: " + path)
            perms, owner = listing[path]
            self.assertEqual(perms, "-" + stat.filemode(mode)[1:], path)
            self.assertEqual(owner, "root/root", path)
        for path, (perms, owner) in listing.items():
            self.assertEqual(owner, "root/root", path)
            if perms.startswith("d"):
                self.assertEqual(perms, "drwxr-xr-x", path)

    def test_binary_is_the_one_built_with_its_symbols(self):
        packaged = os.path.join(Package.tree, "usr/sbin/ringway")
        with open(packaged, "rb") as a, open(Package.binary, "rb") as b:
            self.assertTrue(a.read() == b.read(), "the packaged binary differs from the built one")
        sections = text(run(["readelf", "-S", "-W", packaged]))
        self.assertIn(".symtab", sections, "the packaged binary is stripped")

    def test_control_fields(self):
        def field(name):
            return text(run(["dpkg-deb", "-f", Package.deb, name])).strip()
        self.assertEqual(field("Package"), "ringway")
        self.assertEqual(field("Version"), Package.version)
        self.assertEqual(field("Architecture"),
                         text(run(["dpkg", "--print-architecture"])).strip())
        self.assertRegex(field("Maintainer"), r"^.+ <[^@\s]+@[^>\s]+>$")
        self.assertRegex(field("Installed-Size"), r"^[1-9][0-9]*$")
        self.assertTrue(field("Description").startswith("io_uring reverse proxy"))
        depends = [d.strip() for d in field("Depends").split(",")]
        names = {re.split(r"[\s(]", d)[0] for d in depends}
        self.assertIn("adduser", names)
        # From dpkg-shlibdeps: the libraries the binary links, with versions.
        for lib in ("libc6", "liburing2", "libyaml-0-2"):
            self.assertIn(lib, names, "Depends: %s" % field("Depends"))
        # Abseil is a package dependency exactly when the binary loads it (a Release build links
        # its static archives; other builds its shared libraries).
        needed = text(run(["readelf", "-d", "-W", Package.binary]))
        loads_absl = "libabsl_" in needed
        self.assertEqual(any(n.startswith("libabsl") for n in names), loads_absl,
                         "Depends: %s; NEEDED: %s" % (field("Depends"), needed))
        if not loads_absl:  # linked statically: named in Built-Using and in the copyright file
            self.assertIn("abseil (= ", field("Built-Using"))
            with open(os.path.join(Package.tree, "usr/share/doc/ringway/copyright")) as f:
                self.assertIn("links Abseil statically", f.read())
        # The same for the C++ runtime (a Release build links it statically); toml++, compiled
        # in from its headers, is always named with its license.
        loads_cxx = "libstdc++" in needed
        self.assertEqual(any(n.startswith("libstdc++") for n in names), loads_cxx,
                         "Depends: %s; NEEDED: %s" % (field("Depends"), needed))
        with open(os.path.join(Package.tree, "usr/share/doc/ringway/copyright")) as f:
            copyright_text = f.read()
        if not loads_cxx:
            self.assertRegex(field("Built-Using"), r"\bgcc-[0-9]+ \(= ")
            self.assertIn("C++ runtime (libstdc++ and libgcc) statically", copyright_text)
        self.assertIn("The binary includes toml++", copyright_text)
        self.assertIn("\nLicense: Expat\n", copyright_text)
        self.assertTrue(any("(>=" in d for d in depends), field("Depends"))

    def test_conffiles_and_maintainer_scripts(self):
        with open(os.path.join(Package.control_dir, "conffiles")) as f:
            conffiles = f.read().split()
        self.assertIn("/etc/ringway/ringway.yaml", conffiles)
        self.assertIn("/etc/logrotate.d/ringway", conffiles)
        for name in ("postinst", "prerm", "postrm"):
            path = os.path.join(Package.control_dir, name)
            self.assertTrue(os.access(path, os.X_OK), name + " is not executable")
            run(["sh", "-n", path])
        # Every file is in md5sums, with the right sum.
        p = run(["md5sum", "--check", "--quiet", os.path.join(Package.control_dir, "md5sums")],
                cwd=Package.tree)
        self.assertEqual(text(p), "")

    def test_lintian(self):
        self.assertTrue(shutil.which("lintian"), "lintian is missing: `make deps` installs it")
        p = run(["lintian", "--allow-root", Package.deb], check=False, timeout=300)
        tags = [l for l in text(p).splitlines() if re.match(r"^[EW]: ", l)]
        self.assertEqual(tags, [], text(p) + p.stderr.decode(errors="replace"))

    def test_packaged_config_validates(self):
        config = os.path.join(Package.tree, "etc/ringway/ringway.yaml")
        run([Package.binary, "--validate", "--config", config])
        with open(config) as f:
            body = f.read()
        self.assertIn("state_file: /var/lib/ringway/state.json", body)
        self.assertNotIn("make run", body)  # the repository's notes are gone

    def test_systemd_unit(self):
        with open(os.path.join(Package.tree, "lib/systemd/system/ringway.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^ExecStart=/usr/sbin/ringway ")
        self.assertRegex(unit, r"(?m)^User=ringway$")
        self.assertRegex(unit, r"(?m)^AmbientCapabilities=.*CAP_NET_BIND_SERVICE")
        self.assertRegex(unit, r"(?m)^Type=notify$")
        self.assertRegex(unit, r"(?m)^StateDirectory=ringway$")

    def test_manual_page(self):
        page = os.path.join(Package.tree, "usr/share/man/man8/ringway.8.gz")
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        p = run(["man", "--warnings", "-l", page], env=env)
        self.assertEqual(p.stderr.decode(errors="replace"), "",
                         "the manual page renders with warnings")
        rendered = re.sub(r".\x08", "", text(p))
        for section in MAN_SECTIONS:
            self.assertRegex(rendered, r"(?m)^%s$" % section)
        help_text = text(run([Package.binary, "--help"]))
        for option in re.findall(r"(?m)^\s+(?:-\w, )?(--[a-z-]+)", help_text):
            self.assertIn(option, rendered)
        for name in ("CONFIG_PATH", "WORKER_THREADS", "RINGWAY_ADMIN"):
            self.assertIn(name, rendered.split("\nENVIRONMENT\n", 1)[1])
        for name in ("RINGWAY_LOG", "RUST_LOG"):
            if name in help_text:
                self.assertIn(name, rendered.split("\nENVIRONMENT\n", 1)[1])
        # The configuration reference: its section headings, its table rows, its examples.
        with open(os.path.join(SRC, "docs", "configuration.md")) as f:
            reference = f.read()
        flat = re.sub(r"\s+", " ", rendered)
        outside_code = re.sub(r"(?ms)^\s*```.*?^\s*```", "", reference)
        for heading in re.findall(r"(?m)^##+ (.+)$", outside_code):
            words = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
            self.assertIn(words, flat)
        self.assertIn("max_header_size", rendered)
        self.assertIn("upstream_connect", rendered)
        self.assertIn("ringway " + Package.version, rendered)


def _cannot_install():
    """Why this machine cannot take the package, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("dpkg") or not os.access("/var/lib/dpkg", os.W_OK):
        return "dpkg is not usable here"
    if os.path.isdir("/run/systemd/system"):
        return ("systemd runs here: installing would enable and start a system service "
                "on this machine")
    return None


def _ringway_present():
    """What of a ringway this machine already has (and this test leaves alone), or None."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "ringway"],
                       capture_output=True)
    if p.returncode == 0 and b"installed" in p.stdout and b"not-installed" not in p.stdout:
        return "a ringway package is installed on this machine; it is left alone"
    try:
        pwd.getpwnam("ringway")
        return "a user named ringway exists on this machine; it is left alone"
    except KeyError:
        pass
    for path in ("/usr/sbin/ringway", "/etc/ringway", "/var/lib/ringway"):
        if os.path.lexists(path):
            return "%s exists on this machine; it is left alone" % path
    return None


class PackageInstall(harness.ProxyTest):
    """dpkg -i, run as the ringway user, reload, dpkg -r, dpkg --purge."""

    def setUp(self):
        reason = _cannot_install()
        if reason:
            print("test_package: install part skipped: " + reason, file=sys.stderr)
            self.skipTest(reason)
        self.lock = open(LOCK_PATH, "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.addCleanup(self.lock.close)
        if os.path.exists(MARKER_PATH):
            print("test_package: purging the package an earlier run left installed",
                  file=sys.stderr)
            self.dpkg("--purge", "ringway", check=False)
            os.unlink(MARKER_PATH)
        reason = _ringway_present()
        if reason:
            print("test_package: install part skipped: " + reason, file=sys.stderr)
            self.skipTest(reason)
        super().setUp()

    def dpkg(self, *args, check=True):
        """dpkg, waiting (up to two minutes) while apt or dpkg elsewhere holds its lock."""
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        args = ["dpkg", "--force-confdef", "--force-confold"] + list(args)
        deadline = time.monotonic() + 120
        while True:
            p = run(args, timeout=180, check=False, env=env)
            if p.returncode == 0 or b"lock" not in p.stderr or time.monotonic() > deadline:
                break
            time.sleep(1)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\n%s%s" % (" ".join(args), p.returncode,
                                                        text(p), p.stderr.decode(errors="replace")))
        return p

    def assert_gone(self):
        p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "ringway"], capture_output=True)
        self.assertFalse(p.returncode == 0 and b" installed" in p.stdout, p.stdout)
        self.assertRaises(KeyError, pwd.getpwnam, "ringway")
        self.assertRaises(KeyError, grp.getgrnam, "ringway")
        for path in ["/" + f for f in EXPECTED_FILES] + [
                "/etc/ringway", "/var/lib/ringway", "/var/log/ringway",
                "/etc/systemd/system/multi-user.target.wants/ringway.service",
                "/etc/systemd/system/ringway.service"]:
            self.assertFalse(os.path.lexists(path), path + " is still there after purge")

    def test_install_run_reload_purge(self):
        # SIGTERM, SIGHUP or SIGINT while the package is installed end the test through the
        # `finally` below (harness's handlers would exit at once), so the purge still runs.
        def interrupted(signum, frame):
            raise KeyboardInterrupt("signal %d" % signum)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            self.addCleanup(signal.signal, sig, signal.signal(sig, interrupted))
        with open(MARKER_PATH, "w") as f:
            f.write(Package.deb + "\n")
        try:
            self.dpkg("-i", Package.deb)
            self.check_installed()
            self.run_as_service_user()
            # A reinstall takes the maintainer scripts' upgrade path; the user and the
            # directories stay as they were.
            uid = pwd.getpwnam("ringway").pw_uid
            self.dpkg("-i", Package.deb)
            self.assertEqual(pwd.getpwnam("ringway").pw_uid, uid)
            self.check_installed()
            # Removal keeps the conffiles and the user; purge takes everything.
            self.dpkg("-r", "ringway")
            self.assertFalse(os.path.exists("/usr/sbin/ringway"))
            self.assertTrue(os.path.exists("/etc/ringway/ringway.yaml"))
            pwd.getpwnam("ringway")
            self.dpkg("--purge", "ringway")
            self.assert_gone()
        finally:
            self.dpkg("--purge", "ringway", check=False)
            left = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "ringway"],
                                  capture_output=True)
            if left.returncode != 0 or left.stdout.endswith(b"not-installed"):
                os.unlink(MARKER_PATH)
        self.assert_gone()

    def check_installed(self):
        p = run(["dpkg-query", "-W", "-f=${Status} ${Version}", "ringway"])
        self.assertEqual(text(p), "install ok installed " + Package.version)
        for path, mode in EXPECTED_FILES.items():
            st = os.stat("/" + path)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, path)
            self.assertEqual((st.st_uid, st.st_gid), (0, 0), path)
        user = pwd.getpwnam("ringway")
        self.assertEqual(user.pw_dir, "/var/lib/ringway")
        self.assertIn(os.path.basename(user.pw_shell), ("nologin", "false"))
        self.assertLess(user.pw_uid, 1000, "not a system user")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "ringway")
        for d in ("/var/lib/ringway", "/var/log/ringway"):
            st = os.stat(d)
            self.assertEqual(st.st_uid, user.pw_uid, d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o750, d)
        if shutil.which("deb-systemd-helper"):
            # Enabled for the next boot, though systemd does not run here.
            self.assertTrue(os.path.islink(
                "/etc/systemd/system/multi-user.target.wants/ringway.service"))
        run(["/usr/sbin/ringway", "--validate", "--config", "/etc/ringway/ringway.yaml"])
        self.assertIn("ringway " + Package.version,
                      text(run(["/usr/sbin/ringway", "--version"])))
        if shutil.which("systemd-analyze"):
            run(["systemd-analyze", "verify", "--man=no", "/lib/systemd/system/ringway.service"])
        if shutil.which("logrotate"):
            run(["logrotate", "--debug", "/etc/logrotate.d/ringway"])

    def run_as_service_user(self):
        web1, web2 = self.start_backends("web1", "web2")
        port = self.free_port()
        confdir = tempfile.mkdtemp(prefix="ringway-pkg-run-")
        self.addCleanup(shutil.rmtree, confdir, True)
        os.chmod(confdir, 0o755)
        config_path = os.path.join(confdir, "ringway.yaml")
        state = {"state_file": "/var/lib/ringway/state.json"}

        def write_config(backend):
            with open(config_path + ".new", "w") as f:
                f.write(harness.simple_config(port, [backend], global_extra=state))
            os.chmod(config_path + ".new", 0o644)
            os.replace(config_path + ".new", config_path)

        write_config(web1)
        run(["/usr/sbin/ringway", "--validate", "--config", config_path])
        out_path = os.path.join(self.workdir, "installed.stdout")
        err_path = os.path.join(self.workdir, "installed.stderr")
        if shutil.which("setpriv"):
            drop = ["setpriv", "--reuid=ringway", "--regid=ringway", "--init-groups",
                    "--pdeathsig=KILL", "--"]
        else:
            drop = ["runuser", "-u", "ringway", "--"]
        args = drop + ["/usr/sbin/ringway", "--config", config_path, "--workers", "1"]
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = harness.spawn(args, stdout=out, stderr=err)
        try:
            def logs():
                return "--- stderr ---\n%s\n--- stdout ---\n%s" % (
                    harness.tail(err_path), harness.tail(out_path))

            def serves(name):
                try:
                    r = harness.request(port, "GET", "/echo", timeout=2)
                except (OSError, AssertionError):
                    return False
                return r.status == 200 and r.header("X-Backend") == name

            self.assertTrue(harness.wait_for(lambda: serves("web1") or proc.poll() is not None,
                                             15) and proc.poll() is None,
                            "the installed ringway did not serve\n" + logs())
            # It runs as the ringway user.
            with open("/proc/%d/status" % proc.pid) as f:
                uids = re.search(r"(?m)^Uid:\s+(\d+)\s+(\d+)", f.read())
            self.assertEqual(int(uids.group(2)), pwd.getpwnam("ringway").pw_uid)
            # Reload: the new file sends traffic to web2.
            write_config(web2)
            proc.send_signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(lambda: serves("web2"), 15),
                            "no request reached web2 after SIGHUP\n" + logs())
            self.assertIsNone(proc.poll())
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=20), 0, logs())
        finally:
            harness.kill_proc(proc)


if __name__ == "__main__":
    harness.main()
