# Sourced by the benchmarks: builds rblwatch (release) and starts a local rbldnsd that mirrors
# every default list of the built-in catalog (bench/zones.py). Sets bin, dir and port; the
# EXIT trap stops rbldnsd and removes the directory.
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
