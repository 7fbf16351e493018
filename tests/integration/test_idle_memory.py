"""Idle keep-alive connections cost bounded memory: thousands of clients that each sent one
request and then sit idle add little to ringway's resident set (no buffer, no head, no copy of
the last request is kept per idle connection; docs/design.md, "What memory N workers and M
connections need"), and every one of them is still served when it speaks again."""
import resource
import selectors
import socket
import time

import harness

# Measured: about 460 bytes per idle connection (3,000 here; perf/RESULTS.md for 10,000). The
# bound leaves room for allocator rounding, and fails if an idle connection kept its last
# exchange again (its 280 bytes: about 740), its request's upstream head (1,320 bytes) or a
# gather list of its own (1,120).
MAX_BYTES_PER_IDLE = 700
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def response_complete(buf):
    """True once `buf` holds one whole response with a Content-Length body."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= end + 4 + length


def exchange_all(socks, deadline_s=60):
    """Sends REQUEST on every socket and reads each whole response, all at once, with a
    deadline. Returns the status lines (None where no whole response came)."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.sendall(REQUEST)
        bufs[s] = b""
        sel.register(s, selectors.EVENT_READ)
    done = {}
    end = time.monotonic() + deadline_s
    while len(done) < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                bufs[s] += chunk
            if not chunk or response_complete(bufs[s]):
                sel.unregister(s)
                done[s] = bufs[s].split(b"\r\n", 1)[0] if chunk or bufs[s] else None
    sel.close()
    return [done.get(s) for s in socks]


class IdleMemoryTest(harness.ProxyTest):
    def report(self, what, **numbers):
        print("\n    [%s] %s: %s" % (self._testMethodName, what,
                                     ", ".join("%s=%s" % kv for kv in numbers.items())), flush=True)

    def test_idle_keep_alive_connections_hold_little_memory(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        n = min(3000, (want - 300) // 2)
        if n < 1000:
            self.skipTest("open-file limit %d leaves room for only %d connections" % (want, n))
        web = self.start_backend("web")
        port = self.free_port()
        rw = self.start_ringway(
            harness.simple_config(port, [web], global_extra={"limits": {"max_connections": n + 100}}),
            nofile=want)
        # Warm up: pools, buffers and the first allocations are not what is measured. As many
        # requests in flight at once as below, so that the provided-buffer ring has grown to
        # what those bursts need before `before` (it grows with load and stays grown).
        warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(250)]
        for _ in range(3):
            self.assertTrue(all(st and st.startswith(b"HTTP/1.1 200") for st in exchange_all(warm)))
        for s in warm:
            s.close()
        time.sleep(0.5)
        before = rw.proc_status("VmRSS")

        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
                s.bind(("127.0.0.%d" % (2 + i % 8), 0))
                s.connect(("127.0.0.1", port))
                socks.append(s)
            statuses = []
            for i in range(0, n, 250):  # at most 250 requests in flight at once
                statuses += exchange_all(socks[i:i + 250])
            ok = sum(1 for st in statuses if st and st.startswith(b"HTTP/1.1 200"))
            self.assertEqual(ok, n, "answered: %d of %d" % (ok, n))
            time.sleep(1)
            held = rw.proc_status("VmRSS")
            per_conn = (held - before) * 1024 / n
            self.report("idle memory", connections=n, rss_before_kib=before, rss_held_kib=held,
                        bytes_per_idle_connection=round(per_conn))
            # (Under AddressSanitizer, redzones and the quarantine of freed memory count in RSS.)
            if not harness.sanitized_binary(rw.binary):
                self.assertLess(per_conn, MAX_BYTES_PER_IDLE,
                                "%d idle connections added %d KiB" % (n, held - before))
            # Every idle connection is still sound: a sample speaks again and is answered.
            sample = socks[::max(1, n // 200)]
            again = exchange_all(sample)
            self.assertTrue(all(st and st.startswith(b"HTTP/1.1 200") for st in again), again[:5])
        finally:
            for s in socks:
                s.close()
        # They all close, and ringway goes on serving.
        self.assertEqual(harness.request(port, "GET", "/").status, 200)


if __name__ == "__main__":
    harness.main()
