#!/bin/sh
# Installs what the tests need on a Debian machine: rbldnsd, the DNS server many real
# blocklists run; python3-aiosmtpd and Postfix, real SMTP servers (Postfix is installed
# unconfigured: each relay test starts its own instance with its own config and queue);
# openssl makes a test CA; Prometheus's promtool (Debian `prometheus`; its server is not
# started) checks the scrape, the alert rules and their unit tests; groff (groff-base) formats
# the man page with warnings on; PostgreSQL (its server is started by the tests, in a temporary
# directory, as the `postgres` user the package creates) is a store; tzdata holds the time
# zones schedules are read in; headless Chromium (chromium-headless-shell) loads the daemon's
# status page as a browser does. The integration tests start them all on loopback (and
# Python's own http.server for webhooks). Does nothing when all are present.
set -eu
if command -v rbldnsd >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 \
  && command -v promtool >/dev/null 2>&1 && command -v groff >/dev/null 2>&1 \
  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  && [ -e /usr/share/zoneinfo/Europe/Berlin ] && [ -x /usr/sbin/postfix ] \
  && command -v chromium-headless-shell >/dev/null 2>&1 \
  && /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
# No system mail setup: Postfix's package must not configure (or start) a mail system.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  rbldnsd python3-aiosmtpd openssl postfix prometheus groff-base postgresql tzdata \
  chromium-headless-shell >/dev/null
command -v rbldnsd >/dev/null
command -v promtool >/dev/null
command -v chromium-headless-shell >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
[ -x /usr/sbin/postfix ]
[ -e /usr/share/zoneinfo/Europe/Berlin ]
/usr/bin/python3 -c 'import aiosmtpd'
