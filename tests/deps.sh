#!/bin/sh
# Installs what the tests need on a Debian machine: rbldnsd, the DNS server many real
# blocklists run, which the integration tests start on loopback. Does nothing when present.
set -eu
command -v rbldnsd >/dev/null 2>&1 && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rbldnsd >/dev/null
command -v rbldnsd >/dev/null
