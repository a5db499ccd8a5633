#!/usr/bin/env bash
# Before/after benchmark of two commits in one run: builds storage-bench of BEFORE
# (a git worktree of that commit) and of the working tree
# ("after"), then runs the two binaries alternately, round after round (before,
# after, before, after, ...), with the same settings, so that a machine shared with
# other work disturbs both alike. Each binary gets its own databases
# (storage_bench_before / storage_bench_after, through STORAGE_BENCH_DB at build time;
# the BEFORE tree gets that one-line change to bench/src/db.rs if it lacks it) and its
# own SQLite file. Prints the after/before table (bench/before_after.py).
#
#   bench/before-after.sh [BEFORE_COMMIT] [ROUNDS] [-- extra storage-bench options]
#
# Defaults: BEFORE_COMMIT 2b9e1d4 (the last commit before the statement layer),
# ROUNDS 3, options `--backend all --phases main --quick`.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
ROOT=$PWD
BEFORE=${1:-2b9e1d4}
ROUNDS=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
OPTS=("$@")
[ ${#OPTS[@]} -eq 0 ] && OPTS=(--backend all --phases main --quick)

WORK=$ROOT/target
SRC=$WORK/before-src
OUT=$WORK/before-after/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

if [ ! -d "$SRC" ]; then
    git worktree add --detach "$SRC" "$BEFORE"
fi
if ! grep -q STORAGE_BENCH_DB "$SRC/bench/src/db.rs"; then
    python3 - "$SRC/bench/src/db.rs" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = 'pub const DB: &str = "storage_bench";'
assert old in s, "bench/src/db.rs of BEFORE has no DB constant"
s = s.replace(old, 'pub const DB: &str = match option_env!("STORAGE_BENCH_DB") {\n    Some(d) => d,\n    None => "storage_bench",\n};')
open(p, "w").write(s)
PY
fi

# Each build its own target directory: cargo names the artifacts of a workspace crate
# by its path relative to the workspace, so the two trees in one directory would
# overwrite each other. The after directory starts as a copy of the before one, so
# that the dependencies are compiled once.
T_BEFORE=$WORK/before-after-target
T_AFTER=$WORK/after-target
echo "building before ($BEFORE) and after ($(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty))" >&2
(cd "$SRC" && STORAGE_BENCH_DB=storage_bench_before CARGO_TARGET_DIR=$T_BEFORE \
    nice -n 5 cargo build --release -q -p storage-bench)
[ -d "$T_AFTER" ] || cp -a "$T_BEFORE" "$T_AFTER"
STORAGE_BENCH_DB=storage_bench_after CARGO_TARGET_DIR=$T_AFTER \
    nice -n 5 cargo build --release -q -p storage-bench
cp "$T_BEFORE/release/storage-bench" "$OUT/storage-bench-before"
cp "$T_AFTER/release/storage-bench" "$OUT/storage-bench-after"
if cmp -s "$OUT/storage-bench-before" "$OUT/storage-bench-after"; then
    echo "the two builds gave the same binary" >&2
    exit 1
fi
BIN_BEFORE=$OUT/storage-bench-before
BIN_AFTER=$OUT/storage-bench-after

{
    echo "before $BEFORE $(git rev-parse "$BEFORE")"
    echo "after $(git rev-parse HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
    echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "rounds $ROUNDS"
    echo "options ${OPTS[*]}"
} > "$OUT/run.txt"

for r in $(seq 1 "$ROUNDS"); do
    for side in before after; do
        bin=BIN_${side^^}
        echo "round $r: $side" >&2
        "${!bin}" "${OPTS[@]}" --out "$OUT/$side-$r" --sqlite "$OUT/$side.db" \
            > "$OUT/$side-$r.log" 2>&1
    done
done
python3 "$ROOT/bench/before_after.py" "$OUT"
