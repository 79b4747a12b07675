#!/usr/bin/env bash
# Wall time of `rblwatch check` for one address against every default list of the built-in
# catalog, served by a local rbldnsd that mirrors them (each list healthy, the address listed
# everywhere, so health checks, A and TXT queries all run). Prints min / median / max of RUNS
# runs, and the queries one run sends.
#
#   bench/check-wall-time.sh [RUNS]        (needs rbldnsd: apt-get install rbldnsd)
set -euo pipefail
runs=${1:-20}
cd "$(dirname "$0")/.."
# shellcheck source=bench/mirror.sh
source bench/mirror.sh
"$bin" check 192.0.2.5 --nameserver "127.0.0.1:$port" --format json > "$dir/one.json" || true
python3 - "$dir/one.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lists = d["lists"]
bad = [l["id"] for l in lists if l["health"] != "ok"]
s = d["summary"]
print(f"lists: {len(lists)} (not ok: {bad or 'none'}); answers: {len(d['results'])}; "
      f"listed {s['listed']}, clear {s['clear']}, other {s['refused'] + s['bogus'] + s['error'] + s['unhealthy']}")
PY
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "$bin" check 192.0.2.5 --nameserver "127.0.0.1:$port" > /dev/null || true
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" '
  { t[NR] = $1 }
  END { printf "wall time of 1 address x all default lists, %d runs: min %.1f ms, median %.1f ms, max %.1f ms\n",
        runs, t[1] / 1000, t[int((NR + 1) / 2)] / 1000, t[NR] / 1000 }'
