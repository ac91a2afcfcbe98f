#!/usr/bin/env bash
# Instructions per request of an `atlas` binary, counted by valgrind's
# callgrind: steady where wall-clock rates on a shared machine swing by
# 10-20 % between runs, so two builds compare exactly.
#
#   cargo build --release -p atlas-bin
#   bash benches/count_instructions.sh target/release/atlas [REQUESTS]
#
# Starts `atlas serve --no-worker` under callgrind on a fresh data
# directory, creates two current code items and 40 pending instances,
# warms up, then sends REQUESTS (default 300) requests of each kind on one
# kept-alive connection, the counters dumped right before and after, and
# prints the instructions per request: `GET /instance/<id>` and the page
# `GET /instance?where={"status":"pending"}&max_results=25`.
# Needs valgrind (`apt-get install valgrind`) and python3.
set -euo pipefail

bin=${1:?usage: count_instructions.sh ATLAS_BINARY [REQUESTS]}
requests=${2:-300}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 2; }
dir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

RUST_LOG=warn ATLAS_METRICS__LISTEN=127.0.0.1:0 valgrind --tool=callgrind \
    --compress-strings=no --compress-pos=no --callgrind-out-file="$dir/callgrind.out" \
    "$bin" --data-dir "$dir/data" serve --listen 127.0.0.1:0 --no-worker >"$dir/out" 2>&1 &
server=$!
for _ in $(seq 1 180); do
    grep -q "Atlas is listening on http://" "$dir/out" && break
    kill -0 "$server" 2>/dev/null || { cat "$dir/out" >&2; exit 1; }
    sleep 1
done
addr=$(sed -n 's|.*Atlas is listening on http://\([^/]*\).*|\1|p' "$dir/out" | head -n 1)
password=$(sed -n 's|^Created the first API user: admin / ||p' "$dir/out" | head -n 1)
[ -n "$addr" ] && [ -n "$password" ] || { echo "atlas did not start:" >&2; cat "$dir/out" >&2; exit 1; }

python3 - "$addr" "$password" "$requests" "$dir" "$server" <<'PY'
import base64, glob, http.client, json, subprocess, sys

addr, password, n, dir, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
host, port = addr.rsplit(":", 1)
headers = {
    "Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode(),
    "Content-Type": "application/json",
}
conn = http.client.HTTPConnection(host, int(port), timeout=600)

def call(method, path, body=None):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        sys.exit(f"{method} {path}: {response.status} {data[:300]!r}")
    return data

for name, kind in (("drupal", "core"), ("express", "profile")):
    call("POST", "/code", json.dumps({
        "git_url": f"https://example.invalid/{name}.git",
        "commit_hash": ("0123456789abcdef" * 3)[:40] if kind == "core" else ("89abcdef01234567" * 3)[:40],
        "meta": {"name": name, "version": "1.0", "code_type": kind, "is_current": True},
    }))
ids = [json.loads(call("POST", "/instance", '{"status": "pending"}'))["_id"] for _ in range(40)]
page = '/instance?where={"status":"pending"}&max_results=25'
for _ in range(50):
    call("GET", "/instance/" + ids[0])
    call("GET", page)

def dump():
    subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
    return max(glob.glob(dir + "/callgrind.out.*"), key=lambda f: int(f.rsplit(".", 1)[1]))

def per_request(path):
    dump()
    for _ in range(n):
        call("GET", path)
    with open(dump()) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:")))
    return total / n

item = per_request("/instance/" + ids[0])
listing = per_request(page)
print(f"GET /instance/<id>                       {item:12,.0f} instructions per request")
print(f"GET pending page of 25 (of 40 pending)   {listing:12,.0f} instructions per request")
PY
