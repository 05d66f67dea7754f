#!/bin/sh
# Runs every cargo-fuzz target (or the ones named) for a fixed time each, installing what it
# needs first: the nightly toolchain (rustup) and cargo-fuzz (crates.io).
#
#     fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      # default: 60 seconds, every target
#
# The committed corpus (corpus/TARGET) seeds each run and is only read: new inputs go to a
# scratch corpus under the target directory ($CARGO_TARGET_DIR, else fuzz/target), so a run
# leaves the working tree as it was. Crashes go to artifacts/TARGET/ (ignored by git); copy the
# ones worth keeping to regressions/TARGET/. Extra libFuzzer options: $FUZZ_ARGS
# (e.g. FUZZ_ARGS='-jobs=2 -workers=2'). Exits non-zero if any target found a crash.
set -eu

cd "$(dirname "$0")"
seconds=${1:-60}
[ $# -gt 0 ] && shift

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
targets=${*:-$(cargo +nightly fuzz list)}
failed=""
for target in $targets; do
    scratch="$target_dir/fuzz-corpus/$target"
    mkdir -p "$scratch" "artifacts/$target" "corpus/$target"
    echo "== $target: $seconds s"
    # libFuzzer adds new inputs to the first corpus directory only.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
    if ! cargo +nightly fuzz run --target-dir "$target_dir" "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="artifacts/$target/" \
        ${FUZZ_ARGS:-}; then
        failed="$failed $target"
    fi
done
if [ -n "$failed" ]; then
    echo "crashes in:$failed (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crashes"
