#!/usr/bin/env bash
# Start-up and one-address latency, next to rblcheck (Debian's `rblcheck`) on the same rig in
# the same run: `rblwatch check 192.0.2.5` against every default list of the built-in catalog
# (health checks, A and TXT: the address is listed everywhere) versus `rblcheck` asking 50
# lists about the same address, both served by one local rbldnsd. rblcheck asks the system
# resolver, so both run in a network and mount namespace of their own where rbldnsd answers
# on 127.0.0.1:53 and /etc/resolv.conf names it. Prints the medians, their ratio, the binary
# size and the load average.
#
# rblwatch is timed twice: as the build left it in target/release and as installed (a copy,
# as `cargo install` or install(1) makes), which is what an admin runs and what rblcheck is.
# The same bytes start 0.5-0.7 ms later straight from the linker: its output sits in the page
# cache differently (about 25 more page faults per start, each dearer); dropping the caches
# makes the two alike. The goal is judged on the installed copy, beside the installed rblcheck.
#
#   bench/startup.sh [RUNS]      (as root; needs rbldnsd and rblcheck: apt-get install rbldnsd rblcheck)
set -euo pipefail
runs=${1:-40}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/rblwatch
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
zones=$("$bin" lists --format json | python3 bench/zones.py "$dir")
# 50 more zones for rblcheck, each with the address listed.
printf '$SOA 60 ns.bench.test. hostmaster.bench.test. 1 600 300 86400 60\n127.0.0.2\n192.0.2.5\n' > "$dir/r.ip4set"
rzones=""
for n in $(seq 50); do rzones="$rzones r$n.bench.test:ip4set:r.ip4set"; done
chmod 644 "$dir"/*
install -m 755 "$bin" "$dir/rblwatch"
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' > "$dir/resolv.conf"
cat > "$dir/measure.py" <<'PY'
import os, statistics, subprocess, sys, time
bin_, installed, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
rblcheck = ["rblcheck", "-c"] + [a for n in range(1, 51) for a in ("-s", f"r{n}.bench.test")] + ["192.0.2.5"]
rblwatch = [bin_, "check", "192.0.2.5", "--nameserver", "127.0.0.1:53"]
copy = [installed] + rblwatch[1:]
version = [installed, "--version"]
def once(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000
# What each answers, once, so a broken setup is not timed.
out = subprocess.run(rblcheck, capture_output=True, text=True).stdout
listed = sum(" listed by " in line for line in out.splitlines())
doc = subprocess.run(rblwatch + ["--format", "json"], capture_output=True, text=True).stdout
import json
d = json.loads(doc)
print(f"rblcheck: {listed} of 50 lists list 192.0.2.5; rblwatch: {len(d['lists'])} lists, "
      f"{sum(1 for l in d['lists'] if l['health'] == 'ok')} healthy, {d['summary']['listed']} listings")
# Queries rblwatch sends: both test points and the address for each list, TXT for each listing.
queries = 3 * len(d["lists"]) + d["summary"]["listed"]
times = {"rblcheck": [], "rblwatch": [], "as built": [], "version": []}
for _ in range(runs):
    times["rblcheck"].append(once(rblcheck))
    times["rblwatch"].append(once(copy))
    times["as built"].append(once(rblwatch))
    times["version"].append(once(version))
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in times.items():
    print(f"{k:9} median {med[k]:6.2f} ms  min {min(v):6.2f} ms  ({runs} runs)")
print(f"rblwatch check of all {len(d['lists'])} default lists with health checks ({queries} queries), installed: {med['rblwatch']:.2f} ms, "
      f"rblcheck of 50 lists (50 queries): {med['rblcheck']:.2f} ms = {med['rblwatch'] / med['rblcheck']:.2f}x (goal at most 1x); "
      f"straight from target/release: {med['as built']:.2f} ms = {med['as built'] / med['rblcheck']:.2f}x")
print(f"binary: {os.path.getsize(bin_) / 1e6:.1f} MB (goal under 20 MB); load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
PY
# shellcheck disable=SC2086
unshare -mn bash -c "
  set -e
  ip link set lo up
  rbldnsd -u rbldns -w '$dir' -b 127.0.0.1/53 -p '$dir/pid' -t 60 $zones $rzones >/dev/null 2>&1
  sleep 0.3
  mount --bind '$dir/resolv.conf' /etc/resolv.conf
  python3 '$dir/measure.py' '$bin' '$dir/rblwatch' '$runs'
  kill \$(cat '$dir/pid')
"
