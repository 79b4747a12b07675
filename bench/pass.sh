#!/usr/bin/env bash
# Time of `rblwatch run` for 256 addresses (a /24) x every default list of the built-in
# catalog, against a local rbldnsd that mirrors the lists (bench/zones.py), and how much of
# it is the store. Runs PASSES passes (default 3) on a fresh store: the first inserts every
# state, the later ones compare and update them.
#
#   bench/pass.sh [PASSES]        (needs rbldnsd: apt-get install rbldnsd)
set -euo pipefail
passes=${1:-3}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/rblwatch
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'kill "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$dir"' EXIT
zones=$("$bin" lists --format json | python3 bench/zones.py "$dir")
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" = 0 ] && user=(-u rbldns)
# shellcheck disable=SC2086
rbldnsd "${user[@]}" -w "$dir" -b "127.0.0.1/$port" -p "$dir/pid" -t 60 $zones >/dev/null 2>&1
sleep 0.3
cat > "$dir/rblwatch.toml" <<TOML
store = "state.db"
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
ls -l "$dir/state.db" | awk '{print "store size: " $5 " bytes"}'
