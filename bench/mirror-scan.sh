#!/usr/bin/env bash
# Lookups a second through `check` when local mirrors answer everything: 10 lists, each an
# rbldnsd ip4set data file (one address in 97 listed, with TXT), over a /16 and a /12, with
# `--format nagios` and with JSON written to a file. The reference is the general engine on
# the same work in the same run (RBLWATCH_NO_SCAN), and the goals (5 M/s Nagios, 2 M/s JSON).
# A /12's JSON is 2.7 GB: written to disk it measures the disk, so it is also written to
# /dev/shm.
#
#   bench/mirror-scan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/rblwatch
dir=$(mktemp -d)
trap 'rm -rf "$dir" /dev/shm/rblwatch-bench.json' EXIT
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
lines = ["$SOA 60 ns.bench.test. hostmaster.bench.test. 1 600 300 86400 60", ":127.0.0.2:listed $", "127.0.0.2"]
lines += [f"10.{(i >> 16) & 15}.{(i >> 8) & 255}.{i & 255}" for i in range(0, 1 << 20, 97)]
open(f"{d}/zone.ip4set", "w").write("\n".join(lines) + "\n")
with open(f"{d}/mirrors.toml", "w") as f:
    for n in range(1, 11):
        f.write(f'[[list]]\nid = "m{n}"\nname = "M{n}"\nzone = "m{n}.mirror.test"\nquery = ["ipv4"]\ndefault = true\n'
                f'sources = ["bench"]\ndelist = {{ method = "automatic" }}\ncodes = [ {{ code = "127.0.0.2", meaning = "listed" }} ]\n'
                f'mirror = {{ file = "{d}/zone.ip4set", format = "ip4set" }}\n')
PY
echo "machine: $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Wall seconds of one check (best of 3), its output to $3.
measure() {
  local range=$1 format=$2 out=$3 best=
  for _ in 1 2 3; do
    # A file written by an earlier run is removed first (overwriting costs more than writing).
    if [ -f "$out" ]; then rm -f "$out"; fi
    local start end
    start=$(date +%s%N)
    "$bin" --lists "$dir/mirrors.toml" check "$range" --force --nameserver 127.0.0.1:9 --format "$format" > "$out" || true
    end=$(date +%s%N)
    local t=$(( end - start ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  echo "$best"
}
report() {
  local what=$1 pairs=$2 ns=$3 general=$4 goal=$5
  python3 -c "
pairs, ns, general, goal = $pairs, $ns, ${general:-0}, $goal
rate = pairs / (ns / 1e9)
line = f'$what: {pairs:,} lookups in {ns / 1e9:.3f} s = {rate / 1e6:.2f} M/s (goal {goal} M/s: {rate / 1e6 / goal:.2f}x)'
if general:
    g = pairs / (general / 1e9)
    line += f'; general engine {g / 1e6:.2f} M/s, {rate / g:.1f}x faster'
print(line)"
}
for range in 10.0.0.0/16 10.0.0.0/12; do
  pairs=$(( (1 << (32 - ${range#*/})) * 10 ))
  scan=$(measure "$range" nagios /dev/null)
  general=
  [ "$range" = 10.0.0.0/16 ] && general=$(RBLWATCH_NO_SCAN=1 measure "$range" nagios /dev/null)
  report "$range x 10, Nagios" "$pairs" "$scan" "$general" 5
  scan=$(measure "$range" json "$dir/out.json")
  general=
  [ "$range" = 10.0.0.0/16 ] && general=$(RBLWATCH_NO_SCAN=1 measure "$range" json "$dir/out.json")
  report "$range x 10, JSON to a file ($(( $(stat -c %s "$dir/out.json") / 1000000 )) MB)" "$pairs" "$scan" "$general" 2
  rm -f "$dir/out.json"
done
scan=$(measure 10.0.0.0/12 json /dev/shm/rblwatch-bench.json)
report "10.0.0.0/12 x 10, JSON to /dev/shm" $(( (1 << 20) * 10 )) "$scan" "" 2
/usr/bin/time -f "peak RSS of the /12 JSON run: %M KB" "$bin" --lists "$dir/mirrors.toml" check 10.0.0.0/12 --force \
  --nameserver 127.0.0.1:9 --format json > /dev/shm/rblwatch-bench.json || true
