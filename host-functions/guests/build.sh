#!/bin/sh
# Rebuilds sp_io_runtime.polkavm from sp_io_runtime.c with the team's guest toolchain
# (guest/build.sh: clang-19 + ld.lld-19 + `pvm link`, i.e. polkavm-linker 0.37):
#
#   host-functions/guests/build.sh
#
# The blob is committed so the tests never need clang; a rebuild reproduces it byte for byte
# (check with `git diff --exit-code host-functions/guests`). Only the PVM blob is kept: the
# wasm32 module guest/build.sh also writes is not used here.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
guest="$here/../../guest"
[ -x "$guest/build.sh" ] || [ -f "$guest/build.sh" ] || {
    echo "build.sh: $guest/build.sh not found (the guest toolchain)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh "$guest/build.sh" -o "$work" "$here/sp_io_runtime.c"
cp "$work/sp_io_runtime.polkavm" "$here/sp_io_runtime.polkavm"
echo "built $here/sp_io_runtime.polkavm"
