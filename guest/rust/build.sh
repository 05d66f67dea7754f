#!/bin/sh
# Builds one no_std Rust guest crate into a PVM blob:
#
#   guest/rust/build.sh [-o OUTDIR] [--isa revive_v1|jam_v1] [--elf] [--no-install] CRATE_DIR
#
# writes OUTDIR/NAME.polkavm, NAME being the crate folder's name (OUTDIR defaults to the crate
# folder), and with --elf also keeps OUTDIR/NAME.elf (the input of `pvm link`).
#
# The toolchain is Debian's: rustc-web, cargo-web and rust-web-src 1.96 (the standard library
# source matching that compiler, for -Zbuild-std) and lld-22 (the target spec links with
# rust-lld, which Debian points at lld-22). The crate must be a `#![no_main]` binary (see the
# build step below). Missing packages are installed with apt-get unless --no-install is given. The
# target spec is polkavm-linker 0.37's riscv64emac-unknown-none-polkavm.json (its 1_91
# variant), taken from the crate this repository already depends on. `pvm link` is $PVM if set,
# otherwise it is built from this repository with cargo. The output depends only on the crate
# (with its Cargo.lock) and the tool versions: rebuilding a committed blob reproduces it byte
# for byte.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

outdir=
isa=revive_v1
keep_elf=
install=1
crate=
while [ $# -gt 0 ]; do
    case "$1" in
        -o) outdir=$2; shift 2 ;;
        --isa) isa=$2; shift 2 ;;
        --elf) keep_elf=1; shift ;;
        --no-install) install=; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
        *) [ -z "$crate" ] || { echo "build.sh: one crate at a time" >&2; exit 2; }
           crate=$1; shift ;;
    esac
done
[ -n "$crate" ] || { echo "usage: build.sh [-o OUTDIR] [--isa ISA] [--elf] [--no-install] CRATE_DIR" >&2; exit 2; }
[ -f "$crate/Cargo.toml" ] || { echo "build.sh: no Cargo.toml in $crate" >&2; exit 2; }
crate=$(cd "$crate" && pwd)

# The toolchain, from Debian's packages only (guest/rust/toolchain.sh).
# shellcheck source=toolchain.sh
. "$here/toolchain.sh"
rust_guest_toolchain "$install" || exit 2
GUEST_RUSTC=$RUST_GUEST_RUSTC
GUEST_CARGO=$RUST_GUEST_CARGO

name=$(basename "$crate")
[ -n "$outdir" ] || outdir=$crate
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# The `pvm` tool (built with the host toolchain, like guest/build.sh does).
if [ -z "${PVM:-}" ]; then
    (cd "$repo" && cargo build --quiet -p pvm-tools)
    PVM="${CARGO_TARGET_DIR:-$repo/target}/debug/pvm"
fi

# polkavm-linker's target spec for 64-bit PolkaVM and rustc >= 1.91, from the registry copy of
# the version the workspace resolves (cargo metadata downloads it if needed).
linker_dir=$(cd "$repo" && cargo metadata --format-version 1 --locked |
    tr ',' '\n' | sed -n 's|.*"manifest_path":"\(.*/polkavm-linker-0\.37\.[0-9]*\)/Cargo.toml".*|\1|p' | head -n 1)
spec="$linker_dir/targets/1_91/riscv64emac-unknown-none-polkavm.json"
[ -f "$spec" ] || { echo "build.sh: polkavm-linker 0.37's target spec not found (looked in '$linker_dir')" >&2; exit 2; }

# A target folder of the guest's own, so that guests never share build-std artefacts with
# host builds.
target_dir="${CARGO_TARGET_DIR:-$repo/target}/rust-guests/$name"
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# Paths that reach the binary (panic locations) are remapped to fixed names, so the output does
# not depend on where the repository, the cargo home or the target folder are.
remap="--remap-path-prefix=$crate=/guest/$name --remap-path-prefix=$cargo_home=/cargo"
remap="$remap --remap-path-prefix=$target_dir=/target"

# -Zbuild-std and -Zjson-target-spec are unstable: RUSTC_BOOTSTRAP=1 allows them on the stable
# 1.96 compiler, whose rust-web-src is exactly the library source it needs. The crate is a
# `#![no_main]` binary, which cargo links with the target spec's `rust-lld` (Debian's points at
# lld-22), as substrate-wasm-builder does for RISC-V runtimes. Not a cdylib: Debian's rustc
# panics linking one for this target ("assertion failed: l.is_cc()"), because its
# d-rustc-add-soname.patch passes a C-compiler `-Wl,-soname=` flag for every cdylib of a
# GNU-flavour target, and this target's `ld.lld` flavour has no C compiler driver.
messages=$(cd "$crate" && RUSTC_BOOTSTRAP=1 RUSTC="$GUEST_RUSTC" RUSTFLAGS="$remap" CARGO_TARGET_DIR="$target_dir" \
    "$GUEST_CARGO" build --quiet --release --locked --target "$spec" \
    -Zbuild-std=core,alloc -Zjson-target-spec --message-format=json-render-diagnostics)
# The one executable built for the PVM target (build scripts are under release/build/).
elf_dir="$target_dir/riscv64emac-unknown-none-polkavm/release"
elf=$(echo "$messages" | sed -n "s|.*\"executable\":\"\($elf_dir/[^/\"]*\)\".*|\1|p" | tail -n 1)
[ -n "$elf" ] && [ -f "$elf" ] || { echo "build.sh: cargo built no binary for the PVM target (the crate must be a #![no_main] bin)" >&2; exit 1; }

"$PVM" link "$elf" --isa "$isa" -o "$outdir/$name.polkavm"
[ -z "$keep_elf" ] || cp "$elf" "$outdir/$name.elf"

echo "built $outdir/$name.polkavm"
