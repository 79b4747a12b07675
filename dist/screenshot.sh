#!/usr/bin/env bash
# Draws the daemon's status page for a store with listings, as a browser shows it:
# dist/status-page.png (a desktop window) and dist/status-page-phone.png (a phone's width).
#
# The store is made the way a real one is: passes of `rblwatch run` against a local rbldnsd
# serving six of the default lists, whose data changes between passes, with the clock set
# (RBLWATCH_NOW) to days of November 2026; mail goes to a port nobody listens on, so the
# outbox has something waiting. Then `rblwatch daemon` serves the page and headless Chromium
# loads it.
#
#   dist/screenshot.sh      (needs rbldnsd and chromium-headless-shell; tests/deps.sh installs both)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/rblwatch
out=$PWD/dist
dir=$(mktemp -d)
chmod 755 "$dir"
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null
  [ -f "$dir/rbldnsd.pid" ] && kill "$(cat "$dir/rbldnsd.pid")" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
dns=$(port)
web=$(port)
smtp=$(port)
day() { echo $((1793491200 + $1 * 86400)); } # day N of November 2026 (day 0: the 1st)

soa='$SOA 60 ns.example.test. hostmaster.example.test. 1 600 300 86400 60'
# zone FILE CODE REASON [ADDRESS...]: the list's test point and the addresses it lists.
zone() {
  local file=$1 code=$2 reason=$3
  shift 3
  { echo "$soa"; echo ":$code:$reason"; echo 127.0.0.2; printf '%s\n' "$@"; } > "$dir/$file.tmp"
  chmod 644 "$dir/$file.tmp"
  mv "$dir/$file.tmp" "$dir/$file"
}
# reload: rbldnsd reads changed files on SIGHUP (by modification time, to the second).
reload() {
  sleep 1.1
  kill -HUP "$(cat "$dir/rbldnsd.pid")"
  sleep 0.3
}

zone zen 127.0.0.4 'https://check.spamhaus.org/results/?query=$' 192.0.2.25
zone spamcop 127.0.0.2 'Blocked - see https://www.spamcop.net/bl.shtml?$'
zone uce 127.0.0.2 'Net $ is UCEPROTECT-Level1 listed because of spam trap hits'
zone psbl 127.0.0.2 'Listed in PSBL, see https://psbl.org/listing?ip=$'
zone mailspike 127.0.0.2 'Mailspike: bad reputation'
zone dnswl 127.0.2.0 'https://www.dnswl.org/s/?s=$' 192.0.2.26
user=()
[ "$(id -u)" = 0 ] && user=(-u rbldns)
rbldnsd "${user[@]}" -w "$dir" -b "127.0.0.1/$dns" -p "$dir/rbldnsd.pid" -t 60 \
  zen.spamhaus.org:ip4set:zen bl.spamcop.net:ip4set:spamcop \
  dnsbl-1.uceprotect.net:ip4set:uce psbl.surriel.com:ip4set:psbl \
  bl.mailspike.net:ip4set:mailspike list.dnswl.org:ip4set:dnswl >/dev/null
sleep 0.3

cat > "$dir/rblwatch.toml" <<EOF
store = "state.db"
[lists]
only = ["spamhaus-zen", "spamcop", "uceprotect-1", "psbl", "mailspike-bl", "dnswl"]
[resolver]
nameservers = ["127.0.0.1:$dns"]
timeout = 1
[[target]]
address = "192.0.2.25"
label = "mx1"
contacts = ["postmaster@example.com"]
[[target]]
address = "192.0.2.26"
label = "mx2"
[[target]]
address = "198.51.100.8/29"
label = "outbound pool"
[notify]
[notify.smtp]
host = "127.0.0.1"
port = $smtp
security = "none"
from = "rblwatch@example.com"
timeout = 2
[schedule]
cron = "0 0 1 1 *"
timezone = "UTC"
[metrics]
listen = "127.0.0.1:$web"
EOF
run() { RBLWATCH_NOW=$(day "$1") "$bin" --config "$dir/rblwatch.toml" "${@:2}" >/dev/null 2>&1 || true; }

# Day 0: Spamhaus XBL lists mx1 (an infected host). Day 6: cleaned up, it is gone.
run 0 run
zone zen 127.0.0.4 'https://check.spamhaus.org/results/?query=$'
reload
run 6 run
# Day 14: spam trap hits put mx2 on UCEPROTECT and a pool address on PSBL; day 15 mx1
# lands on SpamCop; the UCEPROTECT removal is asked for on day 15.
zone uce 127.0.0.2 'Net $ is UCEPROTECT-Level1 listed because of spam trap hits' 192.0.2.26
zone psbl 127.0.0.2 'Listed in PSBL, see https://psbl.org/listing?ip=$' 198.51.100.12
reload
run 14 run
run 15 delist 192.0.2.26 --list uceprotect-1 --requested
zone spamcop 127.0.0.2 'Blocked - see https://www.spamcop.net/bl.shtml?$' 192.0.2.25
reload
run 15 run
run 24 run

RBLWATCH_NOW=$(day 24) "$bin" --config "$dir/rblwatch.toml" daemon 2>"$dir/daemon.log" &
daemon=$!
for _ in $(seq 50); do
  grep -q "serving metrics" "$dir/daemon.log" && break
  sleep 0.1
done
shot() {
  local size=$1 file=$2
  chromium-headless-shell --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --user-data-dir="$dir/profile" --window-size="$size" --screenshot="$file" \
    "http://127.0.0.1:$web/" 2>/dev/null
  echo "$file ($size)"
}
shot 1200,2750 "$out/status-page.png"
shot 390,3900 "$out/status-page-phone.png"
