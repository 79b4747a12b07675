#!/usr/bin/env bash
# One pass of a /16 (65,536 addresses) x 10 lists (655,360 queries) by a fleet of daemons on
# one PostgreSQL store, with 1 and then 3 workers on this machine, against a local rbldnsd
# that mirrors the lists (bench/zones.py). Prints, for each: the pass's wall time from its
# slot to its commit, queries a second, the evaluation (last shard stored to pass committed)
# and each worker's peak RSS.
#
#   bench/fleet.sh        (needs rbldnsd and Debian's postgresql)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/mirror.sh
source bench/mirror.sh
# shellcheck source=bench/postgres.sh
source bench/postgres.sh
lists='"spamhaus-zen", "spamcop", "uceprotect-1", "psbl", "mailspike-bl", "spamrats-all", "dronebl", "hostkarma", "truncate", "justspam"'
for workers in 1 3; do
  db="fleet$workers"
  psql -q "postgresql://rblwatch@127.0.0.1:$pgport/postgres" -c "CREATE DATABASE $db"
  # The slot: a few seconds from now, as a 6-field cron line.
  slot=$(( $(date +%s) + 6 ))
  cron=$(date -u -d "@$slot" '+%-S %-M %-H * * *')
  cat > "$dir/fleet$workers.toml" <<TOML
store = "postgresql://rblwatch@127.0.0.1:$pgport/$db?sslmode=disable"
[lists]
only = [$lists]
[resolver]
nameservers = ["127.0.0.1:$port"]
[fleet]
shard = 256
lease = 120
[schedule]
cron = "$cron"
timezone = "UTC"
[[target]]
address = "10.0.0.0/16"
TOML
  pids=()
  for n in $(seq "$workers"); do
    "$bin" --config "$dir/fleet$workers.toml" daemon -v 2> "$dir/w$workers-$n.log" &
    pids+=($!)
  done
  until grep -q "pass finished" "$dir"/w"$workers"-*.log 2>/dev/null; do sleep 0.2; done
  rss=()
  for pid in "${pids[@]}"; do
    rss+=("$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")")
    kill "$pid"
  done
  wait 2>/dev/null || true
  python3 - "$slot" "$workers" "${rss[*]}" "$dir"/w"$workers"-*.log <<'PY'
import re, sys
from datetime import datetime
slot, workers, rss, logs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
stamp = lambda line: datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
finished, last_shard, shards = None, 0.0, []
for path in logs:
    n = 0
    for line in open(path):
        if "shard asked" in line:
            n += 1
            last_shard = max(last_shard, stamp(line))
        if "pass finished" in line:
            finished = stamp(line)
    shards.append(n)
wall = finished - slot
print(f"{workers} worker(s): pass {wall:.2f} s from its slot = {655360 / wall:,.0f} queries/s; "
      f"evaluation {finished - last_shard:.2f} s; shards per worker {shards}; peak RSS {rss}")
PY
done
