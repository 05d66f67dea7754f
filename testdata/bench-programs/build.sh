#!/bin/sh
# Rebuilds every benchmark program's PVM blob (.polkavm) and wasm32 module (.wasm) beside its
# source, through guest/build.sh (clang-19 + lld-19 + `pvm link`):
#
#   testdata/bench-programs/build.sh            rebuild all artifacts
#   testdata/bench-programs/build.sh --check    also build the native driver (cc -O2) and check that
#                                               it computes the checksums in programs.json
#
# The artifacts are committed; a rebuild reproduces them byte for byte (`git diff --exit-code`).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
guest="$here/../../guest"
PROGRAMS="minimal prime_sieve memset memcpy keccak sort matmul minilang fib scale_decode"

check=
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: build.sh [--check]" >&2; exit 2 ;;
esac

for program in $PROGRAMS; do
    "$guest/build.sh" "$here/$program.c"
done

if [ -n "$check" ]; then
    CC=${CC:-cc}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    sources=""
    for program in $PROGRAMS; do
        sources="$sources $here/$program.c"
    done
    # The native recipe: plain C, one translation unit per program plus the driver.
    "$CC" -O2 -std=gnu11 -I"$guest/include" "$here/native_run.c" $sources -o "$work/native_run"
    python3 - "$here/programs.json" "$work/native_run" <<'PY'
import json, subprocess, sys
manifest = json.load(open(sys.argv[1]))
bad = 0
for name, program in manifest["programs"].items():
    for size in ("quick", "full"):
        arg = program[size]["arg"]
        expected = int(program[size]["checksum"], 16)
        out = subprocess.check_output([sys.argv[2], program["export"], str(arg)]).split()
        got = int(out[2])
        status = "ok" if got == expected else "MISMATCH"
        bad += got != expected
        print(f"{name:12} {size:5} {arg:>10} {got:016x} {float(out[3]):9.3f} ms  {status}")
sys.exit(1 if bad else 0)
PY
fi
