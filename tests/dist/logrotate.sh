#!/usr/bin/env bash
# Checks dist/logrotate.d/mioftpd with a real `logrotate -f`: a temporary
# logs folder stands in for <root>/logs, and a dummy process that counts the
# SIGHUPs it receives stands in for the server (the real-server version of
# this check comes when the driver is integrated).
#
# Usage: tests/dist/logrotate.sh [--install]
#   --install  apt-get install logrotate first if it is missing (needs root;
#              runs `apt-get update` once).
# Prints "N passed, M failed" and exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
stanza="$here/dist/logrotate.d/mioftpd"

if ! command -v logrotate >/dev/null 2>&1; then
    if [[ "${1:-}" == "--install" ]]; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq logrotate >/dev/null
    else
        echo "logrotate is not installed (run with --install)" >&2
        exit 2
    fi
fi
LOGROTATE=$(command -v logrotate || echo /usr/sbin/logrotate)

work=$(mktemp -d)
dummy=""
cleanup() {
    if [[ -n "$dummy" ]]; then kill "$dummy" 2>/dev/null || true; wait "$dummy" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

logs="$work/logs"
mkdir -p "$logs"
names=(register_login_accounts shell_command upload_file download_file)
for n in "${names[@]}"; do
    printf '{"ts":"2026-11-23T07:00:00.000Z","event":"first","outcome":"ok"}\n' > "$logs/$n.log"
done

# The dummy server: counts SIGHUPs in a file.
count="$work/hups"
echo 0 > "$count"
bash -c 'n=0; trap "n=\$((n+1)); echo \$n > \"$1\"" HUP; echo ready > "$1.ready"; while :; do sleep 0.05; done' _ "$count" &
dummy=$!
for _ in $(seq 1 200); do [[ -f "$count.ready" ]] && break; sleep 0.05; done

# The shipped stanza, pointed at the temporary folder and the dummy's pid.
grep -q 'systemctl kill --signal=HUP --kill-whom=main mioftpd.service' "$stanza"
sed -e "s|^/var/lib/mioftpd/logs/\*\.log|$logs/*.log|" \
    -e "s|systemctl kill --signal=HUP --kill-whom=main mioftpd.service|{ kill -HUP $dummy; echo run >> $work/runs; }|" \
    "$stanza" > "$work/mioftpd.conf"
grep -q "^$logs/\*\.log {" "$work/mioftpd.conf"

passed=0
failed=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
wait_hups() { # expected count; bounded wait for the signal to be handled
    for _ in $(seq 1 200); do [[ "$(cat "$count")" == "$1" ]] && return 0; sleep 0.05; done
    echo "  SIGHUPs counted: $(cat "$count"), expected $1" >&2
    return 1
}
mode_of() { stat -c '%a' "$1"; }
# postrotate runs, counted synchronously (the SIGHUPs are counted by the dummy).
runs() { test "$(cat "$work/runs" 2>/dev/null | wc -l)" = "$1"; }

"$LOGROTATE" -f -s "$work/state" "$work/mioftpd.conf"

check "first rotation: postrotate ran once for all four logs (sharedscripts)" runs 1
check "first rotation: the server got one SIGHUP" wait_hups 1
for n in "${names[@]}"; do
    check "$n.log moved to $n.log.1 with its records" grep -q '"event":"first"' "$logs/$n.log.1"
    check "$n.log recreated empty, mode 0640" test "$(mode_of "$logs/$n.log")" = 640 -a ! -s "$logs/$n.log"
done

# The server appends after reopening; a second rotation compresses the older one.
for n in "${names[@]}"; do
    printf '{"ts":"2026-11-30T07:00:00.000Z","event":"second","outcome":"ok"}\n' >> "$logs/$n.log"
done
"$LOGROTATE" -f -s "$work/state" "$work/mioftpd.conf"
check "second rotation: postrotate ran again" runs 2
check "second rotation: a second SIGHUP" wait_hups 2
for n in "${names[@]}"; do
    check "$n.log.1 holds the second week, uncompressed (delaycompress)" grep -q '"event":"second"' "$logs/$n.log.1"
    check "$n.log.2.gz holds the first week, compressed" sh -c "gzip -dc '$logs/$n.log.2.gz' | grep -q '\"event\":\"first\"'"
done

# An empty log is not rotated (notifempty), and no signal is sent for nothing.
"$LOGROTATE" -f -s "$work/state" "$work/mioftpd.conf"
check "nothing to rotate: postrotate did not run" runs 2
check "nothing to rotate: no .log.3.gz" test ! -e "$logs/register_login_accounts.log.3.gz"

echo "logrotate: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
