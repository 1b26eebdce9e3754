#!/usr/bin/env bash
# A recursive put and get of a 2,000-file tree of mixed sizes with mioftp,
# beside the single-stream copy people reach for: `tar c | ssh host tar x`.
# With no ssh server to assume, the tar stream goes through one loopback
# TCP connection (relay.py) instead: the same shape (one stream, one
# connection, no per-file round trips), minus ssh's encryption. tar does
# not fsync; mioftp does, per file, on the receiving side (the server before
# it acknowledges an upload, the client before it renames a download into
# place), so two more rows make tar as durable: one `sync -f` of the
# destination at the end, and an fsync of every file one by one (as
# mioftp's receiver does).
#
# Builds the release binaries, writes the tree (gen.py), starts mioftpd on
# a fresh root next to it (KDF at 1,000 iterations: login is not measured),
# then times each method REPEAT times and prints the median of each, after
# checking every copy is byte-identical to the source (diff -r).
#
# usage: bench/tree/run.sh        env: FILES=2000 SEED=1 REPEAT=3 WORK_DIR=target
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
FILES=${FILES:-2000}
SEED=${SEED:-1}
REPEAT=${REPEAT:-3}
parent=${WORK_DIR:-$top/target}
mkdir -p "$parent"
work=$(mktemp -d "$parent/tree-bench.XXXXXX")
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$top" && cargo build --release --quiet --bin mioftpd --bin mioftp)
bin=$top/target/release
bytes=$(python3 "$here/gen.py" "$work/src" "$FILES" "$SEED")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/mioftpd" --root "$work/root" --listen "127.0.0.1:$port" --kdf-iterations 1000 \
    --default-quota unlimited --idle-timeout 3600 --transfer-timeout 600 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    [ -s "$work/root/server.key" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
    sleep 0.1
done
export MIOFTP_SERVER=127.0.0.1:$port MIOFTP_KEY_FILE=$work/root/server.key MIOFTP_PASSWORD=bench-tree-password
"$bin/mioftp" --user bench register >/dev/null 2>&1

# Seconds (to the millisecond) that "$@" takes.
timed() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) / 1e9 }'
}
tar_copy() { tar -C "$work/src" -cf - . | python3 "$here/relay.py" | tar -C "$1" -xf -; }
tar_sync() { tar_copy "$1" && sync -f "$1"; }
tar_fsync() { tar_copy "$1" && python3 "$here/fsync_each.py" "$1"; }
put_tree() { (cd "$work" && "$bin/mioftp" --user bench put -r src "$1"); }
get_tree() { (cd "$work" && "$bin/mioftp" --user bench get -r "$1" "$2"); }

declare -A times
for i in $(seq "$REPEAT"); do
    times[put]+="$(timed put_tree "r$i") "
    diff -r "$work/src" "$work/root/home/bench/r$i"
    times[get]+="$(timed get_tree "r$i" "down$i") "
    diff -r "$work/src" "$work/down$i"
    mkdir "$work/t$i" "$work/ts$i" "$work/tf$i"
    times[tar]+="$(timed tar_copy "$work/t$i") "
    times[tarsync]+="$(timed tar_sync "$work/ts$i") "
    times[tarfsync]+="$(timed tar_fsync "$work/tf$i") "
    for t in t ts tf; do diff -r "$work/src" "$work/$t$i"; done
    rm -rf "$work/down$i" "$work/t$i" "$work/ts$i" "$work/tf$i" "$work/root/home/bench/r$i"
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "tree: $FILES files, $mib MiB (seed $SEED), median of $REPEAT, on $(df -T "$work" | awk 'NR == 2 { print $2 }') in $parent"
printf '%-34s %8s %10s %10s\n' method seconds MiB/s files/s
for m in put get tar tarsync tarfsync; do
    s=$(echo "${times[$m]}" | median)
    case $m in
        put) name="mioftp put -r" ;;
        get) name="mioftp get -r" ;;
        tar) name="tar c | TCP | tar x" ;;
        tarsync) name="tar c | TCP | tar x; sync -f" ;;
        tarfsync) name="tar c | TCP | tar x; fsync each" ;;
    esac
    awk -v n="$name" -v s="$s" -v b="$bytes" -v f="$FILES" \
        'BEGIN { printf "%-34s %8.3f %10.1f %10.0f\n", n, s, b / 1048576 / s, f / s }'
done
