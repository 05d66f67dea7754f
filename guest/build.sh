#!/bin/sh
# Builds one C guest program into a PVM blob and a wasm32 module:
#
#   guest/build.sh [-o OUTDIR] [--isa revive_v1|jam_v1] [--elf] PROG.c
#
# writes OUTDIR/PROG.polkavm and OUTDIR/PROG.wasm (OUTDIR defaults to the source's folder),
# and with --elf also keeps OUTDIR/PROG.elf (the input of `pvm link`).
#
# Needs clang-19 and lld-19 (`apt-get install clang-19 lld-19`) and the `pvm` tool: $PVM if
# set, otherwise it is built from this repository with cargo. The outputs depend only on the
# source and the tool versions, so rebuilding committed artifacts reproduces them byte for byte.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

CLANG=${CLANG:-clang-19}
LLD=${LLD:-ld.lld-19}
WASM_LD=${WASM_LD:-wasm-ld-19}
# The wasm32 stack (the PVM stack is declared by the program with PVM_MIN_STACK_SIZE).
WASM_STACK_SIZE=${WASM_STACK_SIZE:-1048576}

outdir=
isa=revive_v1
keep_elf=
source=
while [ $# -gt 0 ]; do
    case "$1" in
        -o) outdir=$2; shift 2 ;;
        --isa) isa=$2; shift 2 ;;
        --elf) keep_elf=1; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
        *) [ -z "$source" ] || { echo "build.sh: one source file at a time" >&2; exit 2; }
           source=$1; shift ;;
    esac
done
[ -n "$source" ] || { echo "usage: build.sh [-o OUTDIR] [--isa ISA] [--elf] PROG.c" >&2; exit 2; }
[ -f "$source" ] || { echo "build.sh: no such file: $source" >&2; exit 2; }
for tool in "$CLANG" "$LLD" "$WASM_LD"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build.sh: $tool not found (apt-get install clang-19 lld-19)" >&2; exit 2; }
done

name=$(basename "$source" .c)
[ -n "$outdir" ] || outdir=$(dirname "$source")
mkdir -p "$outdir"

if [ -z "${PVM:-}" ]; then
    (cd "$repo" && cargo build --quiet -p pvm-tools)
    PVM="${CARGO_TARGET_DIR:-$repo/target}/debug/pvm"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Same flags for both targets; the libc subset is built with -fno-builtin so that its loops
# are not turned back into calls to itself.
common="-O2 -ffreestanding -nostdlib -fvisibility=hidden -I$here/include -std=gnu11 -Wall -Wextra -Werror"
libc="$here/libc/string.c"

# PVM: riscv64 ELF -> polkavm-linker. PVM loads and stores need no alignment, so
# -mno-strict-align lets the compiler use one 64-bit access where it would otherwise split an
# unaligned (or possibly unaligned) one into eight byte accesses, as wasm32 already does.
pvm_flags="--target=riscv64-unknown-none-elf -march=rv64emac_zbb -mabi=lp64e -mno-strict-align -fPIE $common"
"$CLANG" $pvm_flags -c "$source" -o "$work/prog.o"
"$CLANG" $pvm_flags -fno-builtin -c "$libc" -o "$work/libc.o"
"$LLD" --emit-relocs --unique --apply-dynamic-relocs --no-allow-shlib-undefined \
    -Bsymbolic -shared -z notext -o "$work/prog.elf" "$work/prog.o" "$work/libc.o"
"$PVM" link "$work/prog.elf" --isa "$isa" -o "$outdir/$name.polkavm"
[ -z "$keep_elf" ] || cp "$work/prog.elf" "$outdir/$name.elf"

# wasm32: exports by name (PVM_EXPORT sets export_name), no libc, no entry point.
wasm_flags="--target=wasm32 $common"
"$CLANG" $wasm_flags -c "$source" -o "$work/prog.wasm.o"
"$CLANG" $wasm_flags -fno-builtin -c "$libc" -o "$work/libc.wasm.o"
"$WASM_LD" --no-entry -z "stack-size=$WASM_STACK_SIZE" \
    -o "$outdir/$name.wasm" "$work/prog.wasm.o" "$work/libc.wasm.o"

echo "built $outdir/$name.polkavm and $outdir/$name.wasm"
