#!/usr/bin/env bash
# Throughput, memory and latency of rblwatch against one local rbldnsd, next to dnsperf on the
# same server and the same questions.
#
#   bench/scale.sh        (needs rbldnsd and dnsperf: apt-get install rbldnsd dnsperf)
#
# Cases: 65,536 addresses (10.0.0.0/16) x 10 lists (throughput, peak RSS, at concurrency 16,
# 64, 256 and 1024), and 1 address x 50 lists (latency: wall time against the slowest single
# answer). Every 97th address is listed on every list, with a TXT reason, so the TXT path runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/rblwatch
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'kill "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import os, sys
d = sys.argv[1]
lines = ["$SOA 60 ns.bench.test. hostmaster.bench.test. 1 600 300 86400 60", ":127.0.0.2:listed $", "127.0.0.2"]
lines += [f"10.0.{i >> 8}.{i & 255}" for i in range(0, 65536, 97)]
with open(f"{d}/zone.ip4set", "w") as f:
    f.write("\n".join(lines) + "\n")
with open(f"{d}/lists.toml", "w") as f:
    for n in range(1, 51):
        f.write(f'[[list]]\nid = "l{n}"\nname = "L{n}"\nzone = "l{n}.bench.test"\nquery = ["ipv4"]\n'
                f'default = {"true" if n <= 10 else "false"}\nsources = ["bench"]\n'
                f'delist = {{ method = "automatic" }}\ncodes = [ {{ code = "127.0.0.2", meaning = "listed" }} ]\n')
with open(f"{d}/queries.txt", "w") as f:
    for i in range(65536):
        for n in range(1, 11):
            f.write(f"{i & 255}.{i >> 8}.0.10.l{n}.bench.test A\n")
os.chmod(f"{d}/zone.ip4set", 0o644)
PY
zones=""
for n in $(seq 1 50); do zones="$zones l$n.bench.test:ip4set:zone.ip4set"; done
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" = 0 ] && user=(-u rbldns)
# shellcheck disable=SC2086
rbldnsd "${user[@]}" -w "$dir" -b "127.0.0.1/$port" -p "$dir/pid" -t 60 $zones >/dev/null 2>&1
sleep 0.5

echo "machine: $(nproc) cores, $(uname -r)"
# dnsperf with the same number of queries outstanding as rblwatch's --concurrency; the best of
# these is the server's ceiling.
declare -A same
ceiling=0
for c in 16 64 256 1024; do
  same[$c]=$(dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries.txt" -l 5 -q "$c" 2>&1 | awk '/Queries per second/ {print $4}')
  printf 'dnsperf -q %4d: %.0f queries/s\n' "$c" "${same[$c]}"
  ceiling=$(python3 -c "print(max($ceiling, ${same[$c]}))")
done
printf 'dnsperf ceiling: %.0f queries/s\n' "$ceiling"

for c in 16 64 256 1024; do
  # A new file each time: ext4 flushes a file truncated and written again when it is closed
  # (auto_da_alloc), about 0.1 s for this output, a cost of the file system, not of the run.
  rm -f "$dir/out.json"
  /usr/bin/time -v "$bin" --lists "$dir/lists.toml" check 10.0.0.0/16 --force --nameserver "127.0.0.1:$port" \
    --concurrency "$c" --format json > "$dir/out.json" 2> "$dir/time.txt" || true
  python3 - "$dir/out.json" "$dir/time.txt" "$c" "$ceiling" "${same[$c]}" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss):")[1].split()[0]
parts = [float(p) for p in wall.split(":")]
secs = parts[-1] + 60 * (parts[-2] if len(parts) > 1 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
s = doc["summary"]
n = len(doc["results"])
qps = n / secs
print(f"concurrency {sys.argv[3]:>4}: {n} answers ({s['listed']} listed, {s['clear']} clear, "
      f"{s['error'] + s['refused'] + s['bogus'] + s['unhealthy']} other) in {secs:.2f} s = {qps:.0f} queries/s, "
      f"ratio {qps / float(sys.argv[4]):.2f} of the ceiling ({qps / float(sys.argv[5]):.2f} of dnsperf at the same concurrency), "
      f"peak RSS {rss / 1024:.1f} MB")
PY
done

# Latency: 1 address x 50 lists; the slowest single answer is the floor.
"$bin" --lists "$dir/lists.toml" check 10.0.0.0 --enable "$(seq -s, -f 'l%g' 11 50)" \
  --nameserver "127.0.0.1:$port" --format json > "$dir/one.json" || true
python3 - "$dir/one.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
slowest = max(r["elapsed_ms"] for r in doc["results"])
print(f"1 address x {len(doc['results'])} lists: wall {doc['summary']['elapsed_ms']} ms "
      f"(health checks, queries and TXT), slowest single answer {slowest} ms")
PY

# Local mirror: the same data file read in-process for 10 lists, no DNS at all.
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
with open(f"{d}/mirrors.toml", "w") as f:
    for n in range(1, 11):
        f.write(f'[[list]]\nid = "m{n}"\nname = "M{n}"\nzone = "m{n}.mirror.test"\nquery = ["ipv4"]\ndefault = true\n'
                f'sources = ["bench"]\ndelist = {{ method = "automatic" }}\ncodes = [ {{ code = "127.0.0.2", meaning = "listed" }} ]\n'
                f'mirror = {{ file = "zone.ip4set", format = "ip4set" }}\n')
PY
start=$(date +%s%N)
"$bin" --lists "$dir/mirrors.toml" check 10.0.0.0/16 --force --nameserver 127.0.0.1:1 --concurrency 1024 --format nagios > /dev/null || true
end=$(date +%s%N)
awk -v ns=$((end - start)) 'BEGIN { printf "local mirror: 655360 lookups (/16 x 10 lists) in %.2f s = %.0f lookups/s through the whole engine\n", ns / 1e9, 655360 / (ns / 1e9) }'

# The daily watch over the same range: `run` with a /16 target and the 10 lists, twice (the
# first pass creates 655,360 states, the second compares and updates them).
only=$(seq -s, -f '"l%g"' 1 10)
cat > "$dir/watch.toml" <<TOML
store = "$dir/state.db"
[lists]
catalogs = ["$dir/lists.toml"]
only = [$only]
[resolver]
nameservers = ["127.0.0.1:$port"]
[[target]]
address = "10.0.0.0/16"
TOML
for pass in 1 2; do
  /usr/bin/time -v "$bin" --config "$dir/watch.toml" run > /dev/null 2> "$dir/time.txt" || true
  python3 - "$dir/time.txt" "$pass" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss):")[1].split()[0]
parts = [float(p) for p in wall.split(":")]
secs = parts[-1] + 60 * (parts[-2] if len(parts) > 1 else 0)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
print(f"run pass {sys.argv[2]}, /16 x 10 lists into the store: {secs:.2f} s, peak RSS {rss / 1024:.1f} MB")
PY
done
