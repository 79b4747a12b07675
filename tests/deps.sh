#!/bin/sh
# Installs what the tests need on a Debian machine: rbldnsd, the DNS server many real
# blocklists run, and python3-aiosmtpd, a real SMTP server; the integration tests start both
# on loopback (and Python's own http.server for webhooks); openssl makes a test CA. Does nothing when all are present.
set -eu
if command -v rbldnsd >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rbldnsd python3-aiosmtpd openssl >/dev/null
command -v rbldnsd >/dev/null
/usr/bin/python3 -c 'import aiosmtpd'
