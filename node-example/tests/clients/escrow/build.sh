#!/usr/bin/env bash
# Rebuilds Escrow.polkavm and Escrow.abi.json in this folder from Escrow.sol with resolc
# 0.3.0 (npm @parity/resolc, which bundles solc 0.8.30) and OpenZeppelin Contracts 5.7.0,
# the same pinned versions as testdata/contracts/build.sh. The tests use the committed build.
# Usage: node-example/tests/clients/escrow/build.sh   (needs node and npm; writes here)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund @parity/resolc@0.3.0 @openzeppelin/contracts@5.7.0 >/dev/null
mkdir src out
cp "$here/Escrow.sol" src/
node node_modules/.bin/resolc --bin --abi --base-path src --include-path node_modules -o out src/Escrow.sol
cp out/Escrow_sol_Escrow.polkavm "$here/Escrow.polkavm"
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
    out/Escrow_sol_Escrow.abi > "$here/Escrow.abi.json"
echo "built: Escrow"
