#!/usr/bin/env bash
# Start-up and one-address latency, next to rblcheck (Debian's `rblcheck`) on the same rig in
# the same run: `rblwatch check 192.0.2.5` against every default list of the built-in catalog
# (health checks, A and TXT: the address is listed everywhere) versus `rblcheck` asking 50
# lists about the same address, both served by one local rbldnsd. rblcheck asks the system
# resolver, so both run in a network and mount namespace of their own where rbldnsd answers
# on 127.0.0.1:53 and /etc/resolv.conf names it. Prints the medians, their ratio, the page
# faults of a start, the binary size and the load average.
#
# rblwatch is timed twice: as the build left it in target/release and as installed (a copy,
# as `cargo install` or install(1) makes), which is what an admin runs and what rblcheck is.
# The same bytes can start later straight from the linker (0.5-0.7 ms when a start's code was
# spread over the whole binary, 0-0.1 ms since it is laid out together): the linker's output
# sits in the page cache differently, in smaller pieces, so a start takes more page faults.
# The goal is judged on the installed copy, beside the installed rblcheck.
#
# With --order it times nothing: it runs `--version`, a check and a JSON check under
# Valgrind's lackey on the same rig and writes the binary's functions they run, in the order
# they first run, to src/startup.order, which the release build hands to the linker (see
# build.rs). Run it after a change of compiler or dependencies: the file names functions by
# their mangled names, which change with both.
#
#   bench/startup.sh [RUNS]      (as root; needs rbldnsd and rblcheck: apt-get install rbldnsd rblcheck)
#   bench/startup.sh --order     (as root; needs rbldnsd and valgrind)
set -euo pipefail
mode=time
runs=${1:-40}
if [ "$runs" = --order ]; then
  mode=order runs=0
  command -v valgrind >/dev/null || { echo "--order needs valgrind: apt-get install valgrind" >&2; exit 1; }
fi
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
import os, resource, statistics, subprocess, sys, time
bin_, installed, runs, order = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rblcheck = ["rblcheck", "-c"] + [a for n in range(1, 51) for a in ("-s", f"r{n}.bench.test")] + ["192.0.2.5"]
rblwatch = [bin_, "check", "192.0.2.5", "--nameserver", "127.0.0.1:53"]
copy = [installed] + rblwatch[1:]
version = [installed, "--version"]
faults = {}
def once(cmd, name=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = (time.perf_counter() - start) * 1000
    if name:
        faults.setdefault(name, []).append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before)
    return took
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
    times["rblcheck"].append(once(rblcheck, "rblcheck"))
    times["rblwatch"].append(once(copy, "rblwatch check"))
    times["as built"].append(once(rblwatch))
    times["version"].append(once(version, "rblwatch --version"))
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in times.items():
    print(f"{k:9} median {med[k]:6.2f} ms  min {min(v):6.2f} ms  ({runs} runs)")
print(f"rblwatch check of all {len(d['lists'])} default lists with health checks ({queries} queries), installed: {med['rblwatch']:.2f} ms, "
      f"rblcheck of 50 lists (50 queries): {med['rblcheck']:.2f} ms = {med['rblwatch'] / med['rblcheck']:.2f}x (goal at most 1x); "
      f"straight from target/release: {med['as built']:.2f} ms = {med['as built'] / med['rblcheck']:.2f}x")
print("page faults, median: " + ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in faults.items()))
# How much of the start-up order the linker could follow: the file names functions by their
# mangled names, which another compiler or other dependencies change.
names = {line.strip() for line in open(order) if line.strip() and not line.startswith("#")}
symbols = set(subprocess.run(["nm", "--defined-only", "--format=just-symbols", bin_], capture_output=True, text=True).stdout.split())
print(f"src/startup.order: {len(names & symbols)} of its {len(names)} functions found in the binary"
      + ("" if len(names & symbols) >= 0.9 * len(names) else " (stale: run bench/startup.sh --order)"))
print(f"binary: {os.path.getsize(bin_) / 1e6:.1f} MB (goal under 20 MB); load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
PY
cat > "$dir/order.py" <<'PY'
import bisect, subprocess, sys
installed, out = sys.argv[1], sys.argv[2]
# The binary's functions, by address.
syms = []
nm = subprocess.run(["nm", "--defined-only", "-S", installed], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 4 and parts[2] in "tTW":
        syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
syms.sort()
starts = [addr for addr, _, _ in syms]
with open(installed, "rb") as f:
    entry = int.from_bytes(f.read(32)[24:32], "little")
# Valgrind loads a position-independent executable at this address on x86-64; checked below
# by finding the entry point among the blocks run.
base = 0x108000
order, seen = [], set()
check = ["check", "192.0.2.5", "--nameserver", "127.0.0.1:53"]
for args in [["--version"], check, check + ["--format", "json"]]:
    log = out + ".lackey"
    subprocess.run(["valgrind", "--tool=lackey", "--trace-superblocks=yes", f"--log-file={log}", installed] + args,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    blocks = [int(line[3:], 16) - base for line in open(log) if line.startswith("SB ")]
    if entry not in blocks:
        sys.exit(f"the entry point 0x{entry:x} is not among the blocks run by {args}: not loaded at 0x{base:x}?")
    for addr in blocks:
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < syms[i][0] + max(syms[i][1], 1) and syms[i][2] not in seen:
            seen.add(syms[i][2])
            order.append(syms[i][2])
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
with open(out, "w") as f:
    f.write("# The functions a start runs, in the order it first runs them: `rblwatch --version`, then a\n"
            "# check of one address against the default lists with health checks, as text and as JSON.\n"
            "# The release build hands this file to the linker (build.rs), which lays them out side by\n"
            "# side at the start of the code, so a start maps fewer pages. Written by\n"
            f"# `bench/startup.sh --order` for {rustc}\n"
            "# and this Cargo.lock; a name the binary does not have is passed over.\n")
    f.write("".join(name + "\n" for name in order))
print(f"{len(order)} functions written to {out}")
PY
# shellcheck disable=SC2086
unshare -mn bash -c "
  set -e
  ip link set lo up
  rbldnsd -u rbldns -w '$dir' -b 127.0.0.1/53 -p '$dir/pid' -t 60 $zones $rzones >/dev/null 2>&1
  sleep 0.3
  mount --bind '$dir/resolv.conf' /etc/resolv.conf
  if [ $mode = order ]; then
    python3 '$dir/order.py' '$dir/rblwatch' '$dir/startup.order'
  else
    python3 '$dir/measure.py' '$bin' '$dir/rblwatch' '$runs' '$PWD/src/startup.order'
  fi
  kill \$(cat '$dir/pid')
"
if [ $mode = order ]; then cp "$dir/startup.order" src/startup.order; fi
