#!/usr/bin/env bash
# Passes of a /16 (65,536 addresses) x 10 lists (655,360 queries) by a fleet of daemons on
# one PostgreSQL store, with 1 and then 3 workers on this machine, against a local rbldnsd
# that mirrors the lists (bench/zones.py). Two passes each: the first fills the store, the
# second is every day after. Prints, for each pass: its wall time from its slot to its
# commit, queries a second, the evaluation (last shard stored to pass committed), the time
# the database spent on the pass's statements (the coordination and storage overhead) and
# each worker's peak RSS.
#
#   bench/fleet.sh        (needs rbldnsd and Debian's postgresql)
#
# RANGE (10.0.0.0/16) and WORKERS ("1 3") change what is measured; PGLOG=FILE keeps the
# database's log of every statement and its duration, for profiling.
set -euo pipefail
range=${RANGE:-10.0.0.0/16}
addresses=$(( 1 << (32 - ${range#*/}) ))
cd "$(dirname "$0")/.."
# The database logs each statement's duration: summed, that is its share of a pass.
export PG_LOG_STATEMENTS=1
# shellcheck source=bench/mirror.sh
source bench/mirror.sh
# shellcheck source=bench/postgres.sh
source bench/postgres.sh
lists='"spamhaus-zen", "spamcop", "uceprotect-1", "psbl", "mailspike-bl", "spamrats-all", "dronebl", "hostkarma", "truncate", "justspam"'
for workers in ${WORKERS:-1 3}; do
  db="fleet$workers"
  psql -q "postgresql://rblwatch@127.0.0.1:$pgport/postgres" -c "CREATE DATABASE $db"
  for pass in 1 2; do
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
address = "$range"
TOML
    logs=()
    pids=()
    for n in $(seq "$workers"); do
      log="$dir/w$workers-$pass-$n.log"
      logs+=("$log")
      "$bin" --config "$dir/fleet$workers.toml" daemon -v 2> "$log" &
      pids+=($!)
    done
    until grep -q "pass finished" "${logs[@]}" 2>/dev/null; do sleep 0.2; done
    rss=()
    for pid in "${pids[@]}"; do
      rss+=("$(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$pid/status")")
      kill "$pid"
    done
    wait 2>/dev/null || true
    python3 - "$slot" "$workers" "$pass" "${rss[*]}" "$(( addresses * 10 ))" "$dir/pg.log" "$db" "${logs[@]}" <<'PY'
import re, sys
from datetime import datetime, timezone
slot, workers, npass, rss, queries, pglog, db = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
logs = sys.argv[8:]
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
# The database's time: every statement logged from the slot to the commit.
in_db = 0.0
for line in open(pglog):
    m = re.match(r"(\S+ \S+) UTC \[\d+\] LOG:  duration: ([\d.]+) ms", line)
    if m:
        at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
        if slot - 1 <= at <= finished + 1:
            in_db += float(m.group(2)) / 1000
wall = finished - slot
kind = "first pass" if npass == "1" else "next pass "
print(f"{workers} worker(s), {kind}: {wall:6.2f} s from its slot = {queries / wall:8,.0f} queries/s; "
      f"evaluation {finished - last_shard:5.2f} s; in the database {in_db:5.2f} s; "
      f"shards per worker {shards}; peak RSS {rss}")
PY
  done
done
[ -z "${PGLOG:-}" ] || cp "$dir/pg.log" "$PGLOG"
