# Sourced by the benchmarks: a throw-away PostgreSQL cluster in $dir (set by mirror.sh), as
# the postgres user when root (PG_LOG_STATEMENTS=1: it logs every statement with its duration).
# Sets pgport; the EXIT trap stops it with the rest.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as=()
if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; as=(runuser -u postgres --); fi
"${as[@]}" "$pgbin/initdb" -D "$dir/pg" -A trust -U rblwatch >/dev/null
"${as[@]}" "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
  -o "-p $pgport -k $dir -c listen_addresses=127.0.0.1 ${PG_LOG_STATEMENTS:+-c log_min_duration_statement=0}" start >/dev/null
trap '"${as[@]}" "$pgbin/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1; kill "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$dir"' EXIT
