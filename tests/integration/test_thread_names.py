"""Every thread carries a name, so that top -H, ps -L, perf top and perf report --sort comm
tell them apart: rw-worker-N, rw-prober, rw-admin, rw-metrics, rw-watch (the main thread keeps
the process name)."""
import os

import harness


class ThreadNamesTest(harness.ProxyTest):
    def thread_names(self, pid):
        names = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    names.append(f.read().strip())
            except FileNotFoundError:
                pass  # a thread that ended meanwhile
        return sorted(names)

    def test_each_thread_is_named(self):
        web = self.start_backend("web")
        port = self.free_port()
        metrics = self.free_port()
        text = harness.simple_config(port, [web], global_extra={
            "watch_config": True, "admin": {"metrics_bind": "127.0.0.1:%d" % metrics}})
        rw = self.start_ringway(text, workers=3, admin=True)
        self.assertEqual(harness.request(port, "GET", "/").status, 200)
        expected = sorted(["ringway", "rw-worker-0", "rw-worker-1", "rw-worker-2", "rw-prober",
                           "rw-admin", "rw-metrics", "rw-watch"])
        self.assertTrue(harness.wait_for(lambda: self.thread_names(rw.pid) == expected, 5),
                        "%s != %s" % (self.thread_names(rw.pid), expected))


if __name__ == "__main__":
    harness.main()
