#!/bin/sh
# Builds a FRAME runtime crate published on crates.io, unchanged, for the PVM and writes its blob
# to testdata/runtimes/third-party/:
#
#   runtimes/build-third-party.sh [--no-install] [--rebuild] NAME VERSION
#
# e.g. `runtimes/build-third-party.sh glutton-westend-runtime 35.0.0` writes
# testdata/runtimes/third-party/glutton-westend-runtime-35.0.0.polkavm and the blob's provenance
# section of testdata/runtimes/third-party/README.md.
#
# The crate and every dependency come from crates.io through cargo, pinned by the lock file
# runtimes/third-party/NAME-VERSION.lock (cargo checks each download against its checksum there;
# the script checks the runtime crate's archive against it once more before unpacking it). When
# that file does not exist yet, the script makes it, resolving from runtimes/Cargo.lock so that
# the versions this repository's own runtime uses are kept, and says so: commit it. The crate is
# unpacked into the target folder and built from there by substrate-wasm-builder
# (SUBSTRATE_RUNTIME_TARGET=riscv) with the toolchain and the workarounds of build.sh (common.sh):
# its source is not part of this repository. The crate must use the polkadot-sdk release line of
# runtimes/Cargo.lock closely enough to resolve against it (substrate-wasm-builder 35 here).
# --rebuild recompiles the runtime crate (and links the blob again) even when cargo finds it up to
# date: the unpacked files keep the archive's timestamps, so a second run is otherwise a no-op;
# run it twice with --rebuild to see that the blob comes out the same bytes.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)

install=1
rebuild=
name=
version=
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) install=; shift ;;
        --rebuild) rebuild=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "build-third-party.sh: unknown argument $1" >&2; exit 2 ;;
        *)
            if [ -z "$name" ]; then name=$1; elif [ -z "$version" ]; then version=$1; else
                echo "build-third-party.sh: unexpected argument $1" >&2; exit 2
            fi
            shift ;;
    esac
done
if [ -z "$name" ] || [ -z "$version" ]; then
    echo "usage: runtimes/build-third-party.sh [--no-install] [--rebuild] NAME VERSION" >&2
    exit 2
fi

# shellcheck source=common.sh
. "$here/common.sh"
runtime_env "$install"
runtime_radium_vendor

# Everything this script makes lives in the target folder: the cargo config, a workspace that
# fetches the crate, the unpacked crate, and the workspace that builds it.
tp="$RUNTIME_TOOLS/third-party"
fetch="$tp/fetch-$name-$version"
build="$tp/build-$name-$version"
src="$tp/src/$name-$version"
lock="$here/third-party/$name-$version.lock"
mkdir -p "$tp/.cargo" "$fetch" "$build" "$tp/src"

# The radium source replacement (see common.sh) for both workspaces and for the cargo the
# wasm-builder starts: cargo reads .cargo/config.toml from the folders above its working folder,
# and the build script, hence that cargo, runs in the unpacked crate's folder under $tp.
cat > "$tp/.cargo/config.toml" <<EOF
[source.radium-fork]
git = "https://github.com/paritytech/radium-0.7-fork.git"
rev = "a5da15a15c90fd169d661d206cf0db592487f52b"
replace-with = "radium-pvm"

[source.radium-pvm]
directory = "$here/vendor"
EOF

# The two workspaces differ only in where the runtime crate comes from. Their profile and patch
# are what the wasm-builder copies into the project it builds the blob in (see
# runtimes/Cargo.toml: `panic = "unwind"`, and the radium patch that gives Cargo.lock its entry).
workspace_manifest() {
    printf '[package]\nname = "third-party-runtime"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
    printf '[lib]\npath = "lib.rs"\n\n[dependencies]\n%s = %s\n\n' "$name" "$1"
    printf '[profile.release]\npanic = "unwind"\n\n'
    printf '[patch.crates-io]\nradium = { git = "https://github.com/paritytech/radium-0.7-fork.git", rev = "a5da15a15c90fd169d661d206cf0db592487f52b" }\n\n'
    printf '[workspace]\n'
}
workspace_manifest "\"=$version\"" > "$fetch/Cargo.toml"
: > "$fetch/lib.rs"

# 1. Fetch through the lock file: cargo downloads the crate and its dependencies and checks each
# archive against the lock file's checksum.
if [ -f "$lock" ]; then
    cp "$lock" "$fetch/Cargo.lock"
    (cd "$fetch" && "$RUST_GUEST_CARGO" fetch --locked)
else
    cp "$here/Cargo.lock" "$fetch/Cargo.lock"
    (cd "$fetch" && "$RUST_GUEST_CARGO" fetch)
    mkdir -p "$here/third-party"
    cp "$fetch/Cargo.lock" "$lock"
    echo "build-third-party.sh: wrote ${lock#"$repo"/}: commit it" >&2
fi

# 2. The runtime crate's archive, checked against the lock file and unpacked as published.
checksum=$(awk -v name="$name" -v version="$version" '
    /^\[\[package\]\]/ { n = ""; v = "" }
    /^name = / { n = $3; gsub(/"/, "", n) }
    /^version = / { v = $3; gsub(/"/, "", v) }
    /^checksum = / && n == name && v == version { c = $3; gsub(/"/, "", c); print c }
' "$fetch/Cargo.lock")
if [ -z "$checksum" ]; then
    echo "build-third-party.sh: no checksum for $name $version in the lock file" >&2
    exit 1
fi
archive=$(ls "$RUNTIME_CARGO_HOME"/registry/cache/*/"$name-$version.crate" | head -n 1)
actual=$(sha256sum "$archive" | cut -d ' ' -f 1)
if [ "$actual" != "$checksum" ]; then
    echo "build-third-party.sh: $archive has sha256 $actual, the lock file says $checksum" >&2
    exit 1
fi
rm -rf "$src"
tar -xzf "$archive" -C "$tp/src"
[ -z "$rebuild" ] || find "$src" -type f -exec touch {} +

# 3. The build workspace takes the unpacked crate by path. Its lock file is the fetched one with
# the crate's registry source and checksum dropped, which is how cargo records a path package, so
# `--locked` holds every dependency at the version (and checksum) just fetched.
workspace_manifest "{ path = \"../src/$name-$version\" }" > "$build/Cargo.toml"
: > "$build/lib.rs"
awk -v name="$name" -v version="$version" '
    /^\[\[package\]\]/ { n = ""; v = "" }
    /^name = / { n = $3; gsub(/"/, "", n) }
    /^version = / { v = $3; gsub(/"/, "", v) }
    (/^source = / || /^checksum = /) && n == name && v == version { next }
    { print }
' "$fetch/Cargo.lock" > "$build/Cargo.lock"

started=$(date +%s)
runtime_cargo_check "$build" riscv "$build" "$name"
finished=$(date +%s)

# 4. The blob, and its provenance note.
out="$repo/testdata/runtimes/third-party"
blob="$out/$name-$version.polkavm"
mkdir -p "$out"
cp "$RUNTIME_TARGET_DIR/release/rbuild/$name/$name-blob.polkavm" "$blob"
size=$(wc -c < "$blob")
sha=$(sha256sum "$blob" | cut -d ' ' -f 1)
licence=$(sed -n 's/^license = "\(.*\)"$/\1/p' "$src/Cargo.toml" | head -n 1)
locked() {
    awk -v name="$1" '/^\[\[package\]\]/ { n = "" } /^name = / { n = $3; gsub(/"/, "", n) }
        /^version = / && n == name { v = $3; gsub(/"/, "", v); print v; exit }' "$fetch/Cargo.lock"
}
note="$out/.$name-$version.note"
{
    echo "<!-- begin $name-$version: written by runtimes/build-third-party.sh -->"
    echo "### \`$name-$version.polkavm\`"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| crate | \`$name\` $version from crates.io, unchanged |"
    echo "| source checksum | sha256 \`$checksum\` (the \`.crate\` archive; pinned in \`runtimes/third-party/$name-$version.lock\`) |"
    echo "| licence | $licence |"
    echo "| build command | \`runtimes/build-third-party.sh $name $version\` |"
    echo "| toolchain | $("$RUNTIME_TOOLS/bin/rustc" --version) (Debian \`rustc-web\`), $("$RUST_GUEST_CARGO" --version | cut -d ' ' -f 1-2), substrate-wasm-builder $(locked substrate-wasm-builder), polkavm-linker $(locked polkavm-linker), release profile with \`panic = \"unwind\"\` |"
    echo "| blob | $size bytes, sha256 \`$sha\` |"
    echo "<!-- end $name-$version -->"
} > "$note"
readme="$out/README.md"
[ -f "$readme" ] || printf '# Third-party runtimes built for the PVM\n\n' > "$readme"
# Replace this blob's section (between its markers) or append it.
awk -v begin="<!-- begin $name-$version:" -v end="<!-- end $name-$version -->" -v note="$note" '
    index($0, begin) == 1 { while ((getline line < note) > 0) print line; skip = 1; done = 1; next }
    skip && index($0, end) == 1 { skip = 0; next }
    !skip { print }
    END { if (!done) { print ""; while ((getline line < note) > 0) print line } }
' "$readme" > "$readme.new"
mv "$readme.new" "$readme"
rm -f "$note"

echo "$name $version: blob build (cargo check --release) took $((finished - started)) s"
ls -l "$blob"
echo "$sha  ${blob#"$repo"/}"
