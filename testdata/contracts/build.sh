#!/usr/bin/env bash
# Rebuilds the contract blobs and ABIs in this folder with resolc 0.3.0 (npm
# @parity/resolc, which bundles solc 0.8.30) and OpenZeppelin Contracts 5.
# A rebuild reproduces the committed Flipper and Token blobs byte for byte.
# Usage: testdata/contracts/build.sh   (needs node and npm; writes into this folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent @parity/resolc@0.3.0 @openzeppelin/contracts@5.7.0 >/dev/null
mkdir src out
cp "$here"/*.sol src/
node node_modules/.bin/resolc --bin --abi --base-path src --include-path node_modules -o out \
    src/Flipper.sol src/Token.sol src/Nft.sol src/Owned.sol src/Probe.sol src/Factory.sol src/Deep.sol
for name in Flipper Token Nft Owned Probe Factory Deep; do
    cp "out/${name}_sol_${name}.polkavm" "$here/$name.polkavm"
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
        "out/${name}_sol_${name}.abi" > "$here/$name.abi.json"
done
echo "built: Flipper Token Nft Owned Probe Factory Deep"
