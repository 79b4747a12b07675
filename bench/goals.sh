#!/usr/bin/env bash
# The speed goals in one run, each figure beside its reference measured in the same run:
#   bulk DNS    a /16 x 10 lists, JSON to a file, against dnsperf's own rate on the same rbldnsd
#               and names at the same concurrency (goal: at least 0.9x)      bench/scale.sh
#   mirrors     a /16 and a /12 x 10 lists from rbldnsd data files, Nagios and JSON to a file
#               (goals: 5 M and 2 M lookups/s)                               bench/mirror-scan.sh
#   start-up    one address against every default list with health checks, against rblcheck
#               asking 50 lists (goal: at most 1x), and the binary's size   bench/startup.sh
# Their whole output is shown as they run; a summary of the goal lines comes last.
#
#   bench/goals.sh     (as root; apt-get install rbldnsd dnsperf rblcheck)
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
echo "== bulk DNS (bench/scale.sh)"
bench/scale.sh | tee "$log/scale"
echo "== mirrors (bench/mirror-scan.sh)"
bench/mirror-scan.sh | tee "$log/mirror"
echo "== start-up (bench/startup.sh)"
bench/startup.sh | tee "$log/startup"
echo
echo "== goals ($(nproc) cores; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
grep -E '^concurrency' "$log/scale" | sed -E 's/^(concurrency +[0-9]+): .* = ([0-9]+ queries\/s).*\(([0-9.]+) of dnsperf at the same concurrency\).*/bulk DNS, \1: \2 = \3x dnsperf (goal 0.9x)/'
grep -E '^10\.0\.0\.0/1[26] x 10' "$log/mirror" | sed -E 's/; general engine.*//; s/^/mirrors, /'
grep -E '^rblwatch check|^binary' "$log/startup" | sed -E 's/^/start-up, /'
