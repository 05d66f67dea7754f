#!/bin/sh
# Builds the runtimes of this folder for the PVM and for Wasm and copies the blobs to
# testdata/runtimes/:
#
#   runtimes/build.sh [--no-install] [--pvm-only | --wasm-only]
#
# writes testdata/runtimes/dev_runtime.polkavm (the raw `PVM\0` program, as substrate-wasm-builder
# links it for RISC-V) and testdata/runtimes/dev_runtime.wasm (the compact, uncompressed Wasm).
#
# The toolchain is Debian's, the one guest/rust/build.sh uses (see guest/rust/toolchain.sh):
# rustc-web, cargo-web, rust-web-src 1.96 and lld-22, with RUSTC_BOOTSTRAP=1 for the unstable
# flags (-Zbuild-std, -Zjson-target-spec) that substrate-wasm-builder passes. A C++ compiler is
# needed as well: the wasm-builder links binaryen (through `wasm-opt`) to compact Wasm blobs.
# Missing packages are installed with apt-get unless --no-install is given. Everything else comes
# from crates.io through cargo and the committed runtimes/Cargo.lock. The steps shared with
# build-third-party.sh are in common.sh; README.md beside this script says why each is needed.
# Built twice, the blobs are the same bytes.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)

install=1
targets="riscv wasm"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) install=; shift ;;
        --pvm-only) targets=riscv; shift ;;
        --wasm-only) targets=wasm; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# shellcheck source=common.sh
. "$here/common.sh"
runtime_env "$install"
runtime_radium_vendor
case " $targets " in *" wasm "*) runtime_wasm_check_sysroot ;; esac
target_dir=$RUNTIME_TARGET_DIR

out="$repo/testdata/runtimes"
mkdir -p "$out"
for target in $targets; do
    runtime_cargo_check "$here" "$target" "$here" pvm-dev-runtime
    case "$target" in
        # The wasm-builder names the PVM blob after the package it generates (`<crate>-blob`) and
        # the Wasm blobs after that package's library (the crate's name, in snake case).
        riscv) cp "$target_dir/release/rbuild/pvm-dev-runtime/pvm-dev-runtime-blob.polkavm" "$out/dev_runtime.polkavm" ;;
        wasm) cp "$target_dir/release/wbuild/pvm-dev-runtime/pvm_dev_runtime.compact.wasm" "$out/dev_runtime.wasm" ;;
    esac
done
(cd "$out" && ls -l dev_runtime.* && sha256sum dev_runtime.*)
