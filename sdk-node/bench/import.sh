#!/usr/bin/env bash
# Block import time of a live sdk-node on each executor (our JIT, our interpreter, wasmtime),
# from the importing node's Prometheus metrics: builds the node (./build.sh, the debug profile
# `cargo test` uses; see Cargo.toml for what it optimises), installs @polkadot/api into the
# cache tests/dev_node.rs uses, and runs bench/import.mjs with the arguments given, e.g.
#
#   bench/import.sh --transfers 100,1000 --blocks 8,4 --rounds 2 --json /tmp/import.json
#
# Needs Node.js 18+ and npm. Prints the table on stdout, one line per block on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

api_version=16.5.6
keyring_version=14.0.3
cache="${SDK_NODE_CLIENTS_CACHE:-$HOME/.cache/sdk-node-clients}"
prefix="$cache/polkadot-api-$api_version"

for program in node npm; do
    command -v "$program" >/dev/null 2>&1 || { echo "bench/import.sh needs $program (Node.js 18+ with npm)" >&2; exit 1; }
done
if [ ! -f "$prefix/node_modules/@polkadot/api/package.json" ] || [ ! -f "$prefix/node_modules/@polkadot/keyring/package.json" ]; then
    mkdir -p "$prefix"
    npm install --no-audit --no-fund --prefix "$prefix" "@polkadot/api@$api_version" "@polkadot/keyring@$keyring_version" >&2
fi

./build.sh >&2
target="${CARGO_TARGET_DIR:-target}"
NODE_PATH="$prefix/node_modules" exec node bench/import.mjs --bin "$target/debug/sdk-node" "$@"
