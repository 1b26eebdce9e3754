#!/usr/bin/env bash
# mioftpd's FTP front end against pyftpdlib, in one run, with pyftpdlib's own
# benchmark tool, ftpbench (installed by pip together with pyftpdlib, into a
# venv this script makes). Both servers serve from the same tmpfs, one at a
# time, pinned to CPU $SERVER_CPU with taskset; ftpbench runs pinned to
# $CLIENT_CPU. Each repetition runs `ftpbench -b all -n $CLIENTS -s 10M`
# against each server in turn (mioftpd first on odd repetitions, pyftpdlib
# first on even ones), then reads the server's RSS (VmRSS) after the run.
# The rows: STOR and RETR throughput (ftpbench's one-second streams),
# $CLIENTS logins, $CLIENTS concurrent RETR and STOR of 10 MiB, QUIT. One
# change to ftpbench, made from outside and for both servers
# (ftpbench_distinct.py): the concurrent STORs write one file each, since
# mioftpd answers 450 "busy" to a second upload of a path in progress.
#
# mioftpd runs with its defaults (PBKDF2 at 600,000 iterations, every byte
# hashed with SHA-256, each upload fsynced and renamed into place) and its
# credential cache on; one more run per repetition, with the cache off
# (--ftp-login-cache-ttl 0), gives the login row without it. The bench
# lifts --max-per-ip and uses a passive port range that fits the clients;
# pyftpdlib gets the same range and its connection caps raised (pyftpd.py:
# its standard classes, as `python -m pyftpdlib` uses them).
#
# usage: bench/ftp/run.sh     env: REPEAT=3 CLIENTS=300 SERVER_CPU=0 CLIENT_CPU=1
#                                  VENV=target/ftpbench-venv OUT=target/ftpbench
# Output: a markdown table (min-max over the repetitions) on stdout, and the
# raw ftpbench logs and a JSON of every figure in $OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
REPEAT=${REPEAT:-3}
CLIENTS=${CLIENTS:-300}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
VENV=${VENV:-$top/target/ftpbench-venv}
OUT=${OUT:-$top/target/ftpbench}
PYFTPDLIB=${PYFTPDLIB:-2.2.0}
USER_NAME=bench
PASSWORD=bench-ftp-password
PASV=50000-50999

for tool in taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench/ftp: $tool is needed" >&2; exit 1; }
done
tmpfs=/dev/shm
[ -d "$tmpfs" ] && [ "$(stat -f -c %T "$tmpfs")" = tmpfs ] || { echo "bench/ftp: no tmpfs at $tmpfs" >&2; exit 1; }
work=$(mktemp -d "$tmpfs/mioftp-ftpbench.XXXXXX")
mkdir -p "$OUT"
server=
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=
    fi
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

# pyftpdlib and its ftpbench, in a venv of their own.
if [ ! -x "$VENV/bin/ftpbench" ] || ! "$VENV/bin/python" -c "import pyftpdlib, sys; sys.exit(pyftpdlib.__ver__ != '$PYFTPDLIB')"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "pyftpdlib==$PYFTPDLIB"
fi
(cd "$top" && cargo build --release --quiet --bin mioftpd --bin mioftp)
bin=$top/target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 200); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/ftp: nothing listens on $1" >&2
    return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# mioftpd with a fresh root holding the bench account; $1 is the cache TTL.
start_mioftpd() {
    local root=$work/mioftpd port ftp
    rm -rf "$root"
    port=$(free_port)
    ftp=$(free_port)
    taskset -c "$SERVER_CPU" "$bin/mioftpd" --root "$root" --listen "127.0.0.1:$port" \
        --ftp-listen "127.0.0.1:$ftp" --ftp-passive-ports "$PASV" --ftp-login-cache-ttl "$1" \
        --max-per-ip 0 --default-quota unlimited >"$work/mioftpd.log" 2>&1 &
    server=$!
    wait_port "$port"
    MIOFTP_SERVER=127.0.0.1:$port MIOFTP_KEY_FILE=$root/server.key MIOFTP_PASSWORD=$PASSWORD \
        "$bin/mioftp" --user "$USER_NAME" register >/dev/null
    wait_port "$ftp"
    PORT=$ftp
}

start_pyftpdlib() {
    local root=$work/pyftpdlib
    rm -rf "$root"
    mkdir -p "$root"
    PORT=$(free_port)
    taskset -c "$SERVER_CPU" "$VENV/bin/python" -W ignore "$here/pyftpd.py" 127.0.0.1 "$PORT" "$root" \
        "$USER_NAME" "$PASSWORD" "${PASV%-*}" "${PASV#*-}" >"$work/pyftpdlib.log" 2>&1 &
    server=$!
    wait_port "$PORT"
}

# ftpbench against the server on $PORT; its output (colours removed) in $1.
ftpbench() {
    taskset -c "$CLIENT_CPU" "$VENV/bin/python" -W ignore "$here/ftpbench_distinct.py" "$VENV/bin/ftpbench" \
        -u "$USER_NAME" -p "$PASSWORD" \
        -H 127.0.0.1 -P "$PORT" -n "$CLIENTS" -s 10M -b "$2" | sed 's/\x1b\[[0-9;]*m//g' >"$1"
}

one() { # server label, benchmark, log name
    local name=$3
    case $1 in
        mioftpd) start_mioftpd 60 ;;
        mioftpd-nocache) start_mioftpd 0 ;;
        pyftpdlib) start_pyftpdlib ;;
    esac
    ftpbench "$OUT/$name.txt" "$2"
    echo "server RSS after the run: $(rss_kib "$server") KiB" >>"$OUT/$name.txt"
    stop_server
    echo "bench/ftp: $name done" >&2
}

for i in $(seq "$REPEAT"); do
    if [ $((i % 2)) = 1 ]; then order="mioftpd pyftpdlib"; else order="pyftpdlib mioftpd"; fi
    for s in $order; do one "$s" all "$s-$i"; done
    one mioftpd-nocache concurrence "mioftpd-nocache-$i"
done

python3 "$here/summarize.py" "$OUT" "$CLIENTS" "$REPEAT"
