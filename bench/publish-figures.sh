#!/usr/bin/env bash
# Regenerates every published figure of BENCHMARKS.md and RELIABILITY.md on the
# checked-out commit, one step after another (run it on a quiet machine: nothing
# else building or testing; the restart step stops and starts the local PostgreSQL
# and MariaDB).
#
#   bench/publish-figures.sh [STEP...]     # default: all steps, in this order
#
# Steps:
#   bench        storage-bench --backend all --scale 1m        (BENCHMARKS.md generated
#                section, bench/results/latest.json; ~25 min)
#   phase2       storage-bench --backend all --scale 1m --phases phase2 --out
#                bench/results/phase2 (the generated phase-2 block of BENCHMARKS.md,
#                bench/results/phase2/latest.json; ~30 min)
#   examples     the pipelining, PgBouncer and read-replica examples (their blocks in
#                BENCHMARKS.md; ~3 min)
#   reliability  the reliability, restart and failover tests with --nocapture (the
#                "reliability figures" block of RELIABILITY.md; ~3 min)
#
# Every block it writes names the commit, the time and the machine. It refuses to run
# on a work tree with uncommitted changes to anything but the documents and the
# results (ALLOW_DIRTY=1 overrides, and the stamp then says "dirty").
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(bench phase2 examples reliability)

dirty=$(git status --porcelain --untracked-files=no -- . ':(exclude)*.md' ':(exclude)bench/results')
state=clean
if [ -n "$dirty" ]; then
  if [ "${ALLOW_DIRTY:-}" != 1 ]; then
    echo "uncommitted changes (commit them, or ALLOW_DIRTY=1):" >&2
    echo "$dirty" >&2
    exit 1
  fi
  state="DIRTY (uncommitted changes: figures do not describe a commit)"
fi
COMMIT=$(git rev-parse --short=12 HEAD)
COMMIT_DATE=$(git show -s --format=%cI HEAD)
OUT=target/publish/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

machine() {
  local cpu cores mem
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  cores=$(nproc)
  mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
  echo "$cpu, $cores cores, $mem, kernel $(uname -r)"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# stamp FILE STARTED LOAD_BEFORE: the lines every generated block starts with.
stamp() {
  {
    echo "- commit \`$COMMIT\` ($COMMIT_DATE), work tree $state"
    echo "- measured $2 to $(date -u '+%Y-%m-%d %H:%M:%S') UTC on $(machine)"
    echo "- load average before $3 / after $(load)"
  } > "$1"
}

log() { printf '== %s\n' "$*" >&2; }

log "servers"
eval "$(.ci/extra-servers.sh)"
eval "$(.ci/pg-replica.sh)"
export POSTGRES_TEST_URI="${POSTGRES_TEST_URI:-postgres://postgres@127.0.0.1:5432/test}"
export MYSQL_TEST_URI="${MYSQL_TEST_URI:-mysql://root@127.0.0.1:3306/test}"

log "release build"
# A target directory shared with other work trees can hold workspace crates built
# from another tree's sources that cargo takes for up to date (their dep-info names
# the other tree's files): rebuild this workspace's own crates, in both profiles (the
# bench also prints the tree its binary was built from).
pkgs=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')
# shellcheck disable=SC2086
cargo clean --release $pkgs
# shellcheck disable=SC2086
cargo clean $pkgs
cargo build --release -p storage-bench --bins --examples

for step in "${STEPS[@]}"; do
  log "$step (commit $COMMIT, $state)"
  case $step in
    bench)
      ./target/release/storage-bench --backend all --scale 1m
      ;;
    phase2)
      ./target/release/storage-bench --backend all --scale 1m --phases phase2 --out bench/results/phase2
      ;;
    examples)
      for ex in "pipelining:KS=8,4,2,1 SECS=4:cargo run --release -p storage-bench --example pipelining" \
                "pgbouncer:SECS=3 ROUNDS=3:cargo run --release -p storage-bench --example pgbouncer" \
                "replica:SECS=2 ROUNDS=3:cargo run --release -p storage-bench --example replica"; do
        name=${ex%%:*}; rest=${ex#*:}; envs=${rest%%:*}; cmd=${rest#*:}
        started=$(date -u '+%Y-%m-%d %H:%M:%S'); before=$(load)
        # shellcheck disable=SC2086
        env $envs "./target/release/examples/$name" > "$OUT/$name.txt"
        stamp "$OUT/$name.stamp" "$started" "$before"
        python3 bench/publish_blocks.py output BENCHMARKS.md "example $name" \
          "${envs:+$envs }$cmd" "$OUT/$name.stamp" "$OUT/$name.txt"
      done
      ;;
    reliability)
      started=$(date -u '+%Y-%m-%d %H:%M:%S'); before=$(load)
      logs=()
      for t in reliability reliability_restart postgres_failover; do
        cargo test -p storage-tests --test "$t" -- --nocapture 2>&1 | tee "$OUT/$t.log" >&2
        logs+=("$OUT/$t.log")
      done
      stamp "$OUT/reliability.stamp" "$started" "$before"
      echo "- command: \`bench/publish-figures.sh reliability\` (\`cargo test -p storage-tests --test reliability|reliability_restart|postgres_failover -- --nocapture\`, debug build as in CI)" >> "$OUT/reliability.stamp"
      python3 bench/publish_blocks.py reliability RELIABILITY.md "$OUT/reliability.stamp" "${logs[@]}"
      ;;
    *)
      echo "unknown step \`$step\` (bench, phase2, examples, reliability)" >&2
      exit 2
      ;;
  esac
done
log "done: $OUT"
