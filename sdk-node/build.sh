#!/usr/bin/env bash
# Builds sdk-node, first installing what the build needs beside the Rust toolchain:
# `protoc` (litep2p's build script compiles protobuf files), from Debian's
# `protobuf-compiler` package. Extra arguments go to `cargo build` (e.g. `--release`).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v protoc >/dev/null 2>&1; then
    echo "sdk-node/build.sh: installing protobuf-compiler (protoc) from Debian" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y protobuf-compiler
fi

exec cargo build "$@"
