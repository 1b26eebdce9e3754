#!/usr/bin/env bash
# CI for the fuzz targets: build them and replay the committed corpora, on the
# stable toolchain, with nothing installed by hand (no cargo-fuzz, no nightly,
# no sanitizer). Fuzzing itself is done by hand; see fuzz/README.md.
#
# 1. `cargo build` of the libFuzzer binaries: proves the targets compile
#    and link against libFuzzer (libfuzzer-sys builds it with the system C++
#    compiler).
# 2. Each binary runs its committed corpus files once, through libFuzzer's own
#    entry point (given files, libFuzzer executes them and exits).
# 3. `cargo test --lib`: the same corpora replayed through the harness code,
#    plus the harness's own tests (seed files match fuzz/src/seeds.rs, seeds
#    reach the states they claim, the output check rejects bad frames).
#
# The main workspace's target directory is shared, so the dependencies that
# `cargo test --workspace` already built are reused (fuzz/Cargo.lock pins the
# same versions as Cargo.lock). No --locked: when the main crate gains a
# dependency, cargo adds it to fuzz/Cargo.lock here rather than failing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=target
quiet=(cargo --quiet)
"${quiet[@]}" build --manifest-path fuzz/Cargo.toml --target-dir "$target" --bins
for t in frame_decode ftp_line ftp_session session session_authed; do
    files=(fuzz/corpus/"$t"/*)
    echo "fuzz/ci.sh: replaying ${#files[@]} $t inputs through the libFuzzer binary"
    "$target/debug/$t" "${files[@]}" > "$target/fuzz-replay-$t.log" 2>&1 ||
        { cat "$target/fuzz-replay-$t.log"; exit 1; }
done
"${quiet[@]}" test --manifest-path fuzz/Cargo.toml --target-dir "$target" --lib
