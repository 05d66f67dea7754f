#!/bin/sh
# Runs every cargo-fuzz target (or the ones named) for a fixed time each, installing what it
# needs first: the nightly toolchain (rustup) and cargo-fuzz (crates.io).
#
#     fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      # default: 60 seconds, every target
#
# All targets are built first, in one `cargo fuzz build` (AddressSanitizer, optimised), then
# each runs for the given time. The committed corpus (corpus/TARGET) seeds each run and is
# only read: new inputs go to a scratch corpus under the target directory ($CARGO_TARGET_DIR,
# else fuzz/target), so a run leaves the working tree as it was. Crashes go to
# artifacts/TARGET/ (ignored by git); copy the ones worth keeping to regressions/TARGET/.
# Extra libFuzzer options: $FUZZ_ARGS (e.g. FUZZ_ARGS='-jobs=2 -workers=2'). Exits non-zero if
# anything is missing and cannot be installed, if the build fails, or if any target crashed.
set -eu

cd "$(dirname "$0")"
seconds=${1:-60}
[ $# -gt 0 ] && shift

die() {
    echo "fuzz/run.sh: $*" >&2
    exit 1
}

command -v rustup >/dev/null 2>&1 || die "rustup is needed to install the nightly toolchain cargo-fuzz builds with"
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal || die "cannot install the nightly toolchain"
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz from crates.io"
fi

target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
targets=${*:-$(cargo +nightly fuzz list)}
[ -n "$targets" ] || die "no fuzz targets"

started=$(date +%s)
# One build for every target: they share all dependencies.
cargo +nightly fuzz build --target-dir "$target_dir" || die "the fuzz targets do not build"
echo "== built in $(($(date +%s) - started)) s"
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin="$target_dir/$triple/release"

failed=""
for target in $targets; do
    scratch="$target_dir/fuzz-corpus/$target"
    mkdir -p "$scratch" "artifacts/$target" "corpus/$target"
    # The longest input each target reads something from (`differential` reads an 8-byte seed).
    case $target in
        differential) max_len=8 ;;
        host_registry) max_len=1024 ;;
        *) max_len=65536 ;;
    esac
    echo "== $target: $seconds s"
    # libFuzzer adds new inputs to the first corpus directory only. -timeout: an input that
    # runs for more than 30 s is a hang, reported like a crash.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
    if ! "$bin/$target" "$scratch" "corpus/$target" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=30 -print_final_stats=1 -artifact_prefix="artifacts/$target/" ${FUZZ_ARGS:-}; then
        failed="$failed $target"
    fi
done
echo "== all targets in $(($(date +%s) - started)) s"
if [ -n "$failed" ]; then
    echo "crashes in:$failed (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crashes"
