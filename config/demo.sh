#!/usr/bin/env bash
# Starts the demo: two test backends, ringway in front of them, and one request through it.
# Ctrl-C stops everything.
set -euo pipefail
bin=${1:-build/release/ringway}
cfg=${2:-config/ringway.yaml}
here=$(cd "$(dirname "$0")/.." && pwd)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for spec in "3001 web1" "3002 web2"; do
  set -- $spec
  python3 "$here/tests/backend/backend.py" --listen "127.0.0.1:$1" --name "$2" >/dev/null &
  pids+=($!)
done
for port in 3001 3002; do
  for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
done
"$bin" --config "$cfg" &
rw=$!
pids+=($rw)
for _ in $(seq 1 50); do
  curl -s -o /dev/null http://127.0.0.1:8080/ && break
  sleep 0.1
done
echo
echo "== curl -i http://127.0.0.1:8080/  (proxied to a demo backend)"
curl -s -i http://127.0.0.1:8080/
curl -s -i http://127.0.0.1:8080/ | grep X-Backend
echo
echo "ringway is running on 127.0.0.1:8080 with backends on :3001 and :3002. Try:"
echo "  curl -i http://127.0.0.1:8080/echo        # what the backend received"
echo "  curl -i -H 'Host: api.acme.com' http://127.0.0.1:8080/"
echo "  curl -X POST http://127.0.0.1:9901/api/v1/domains/localhost/switch -d '{\"new_tag\": \"b\"}'"
echo "                                            # only web2 (tag b) answers localhost now"
echo "Dashboard: http://127.0.0.1:9901/    Metrics: http://127.0.0.1:9901/metrics"
echo "API: http://127.0.0.1:9901/api/v1 (docs/admin-api.md)"
echo "Press Ctrl-C to stop."
wait "$rw"
