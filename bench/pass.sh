#!/usr/bin/env bash
# Time of `rblwatch run` for 256 addresses (a /24) x every default list of the built-in
# catalog but the rate-limited ones (SpamEatingMonkey, SPFBL), against a local rbldnsd that mirrors
# the lists (bench/zones.py), and how much of it is the store. Runs PASSES passes (default 3) on a fresh store: the first inserts every
# state, the later ones compare and update them.
#
#   bench/pass.sh [PASSES] [sqlite|postgresql]
#
# (needs rbldnsd: apt-get install rbldnsd; for postgresql, Debian's postgresql package: a
# throw-away cluster is started in the temporary directory, as the postgres user when root.)
set -euo pipefail
passes=${1:-3}
store=${2:-sqlite}
cd "$(dirname "$0")/.."
# shellcheck source=bench/mirror.sh
source bench/mirror.sh
store_lines='store = "state.db"'
if [ "$store" = postgresql ]; then
  # shellcheck source=bench/postgres.sh
  source bench/postgres.sh
  psql -q "postgresql://rblwatch@127.0.0.1:$pgport/postgres" -c 'CREATE DATABASE rblwatch'
  store_lines="store = \"postgresql://rblwatch@127.0.0.1:$pgport/rblwatch?sslmode=disable\""
fi
cat > "$dir/rblwatch.toml" <<TOML
$store_lines
[lists]
# SpamEatingMonkey asks for at most 5 queries a second, SPFBL 10: a /24 would take minutes by
# design.
disable = ["sem-bl", "sem-bl-ipv6", "sem-backscatter", "sem-netbl", "sem-uribl", "sem-urired", "sem-fresh", "spfbl"]
[resolver]
nameservers = ["127.0.0.1:$port"]
[[target]]
address = "192.0.2.0/24"
TOML
for n in $(seq "$passes"); do
  start=$(date +%s%N)
  "$bin" --config "$dir/rblwatch.toml" run --format json > "$dir/pass.json" || true
  end=$(date +%s%N)
  python3 - "$dir/pass.json" "$n" "$(( (end - start) / 1000000 ))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r, t = d["run"], d["timing"]
print(f"pass {sys.argv[2]}: {r['answers']} answers ({r['counts']['listed']} listed, {r['counts']['clear']} clear, "
      f"{sum(r['unknown'].values())} not definite), {len(d['events'])} events; "
      f"wall {sys.argv[3]} ms = dns {t['dns_ms']} ms + store {t['store_ms']} ms + start-up")
PY
done
if [ "$store" = sqlite ]; then
  ls -l "$dir/state.db" | awk '{print "store size: " $5 " bytes"}'
fi
