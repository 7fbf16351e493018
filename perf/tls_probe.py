#!/usr/bin/env python3
"""Times requests on one established HTTPS keep-alive connection while other load runs.

    perf/tls_probe.py --port PORT --seconds 6 [--path /small] [--interval-ms 5]

One TLS connection (no certificate check: the benchmark's self-signed one), then a GET every
--interval-ms for --seconds, each timed from its send to its last body byte. The load generator
beside it (wrk making a full handshake per request) times only the requests of its own
connections, and it runs saturated, so its latencies include its own queue; this client is
nearly idle, so its times show how long a proxy makes established connections wait while it
answers handshakes. Prints one JSON line: {"requests": N, "p50_ms": .., "p99_ms": ..,
"errors": N}. Bounded: ends after --seconds (plus a 10 s socket timeout at most).
"""

import argparse
import json
import socket
import ssl
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--path", default="/small")
    ap.add_argument("--interval-ms", type=float, default=5.0)
    args = ap.parse_args()

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % args.path).encode()
    times, errors = [], 0
    end = time.monotonic() + args.seconds
    conn = None
    while time.monotonic() < end:
        try:
            if conn is None:
                raw = socket.create_connection(("127.0.0.1", args.port), timeout=10)
                conn = ctx.wrap_socket(raw, server_hostname="localhost")
            t0 = time.perf_counter()
            conn.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                buf += data
            head, _, body = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(body) < length:
                data = conn.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                body += data
            times.append((time.perf_counter() - t0) * 1000.0)
        except (OSError, ValueError):
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(args.interval_ms / 1000.0)
    if conn is not None:
        conn.close()
    times.sort()

    def pct(p):
        if not times:
            return None
        k = max(1, -(-len(times) * p // 100))  # nearest rank
        return round(times[int(k) - 1], 3)

    print(json.dumps({"requests": len(times), "p50_ms": pct(50), "p99_ms": pct(99),
                      "errors": errors}))


if __name__ == "__main__":
    main()
