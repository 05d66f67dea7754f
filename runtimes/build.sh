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
# from crates.io through cargo and the committed runtimes/Cargo.lock. README.md beside this
# script says why each of the steps below is needed. Built twice, the blobs are the same bytes.
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
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

# shellcheck source=../guest/rust/toolchain.sh
. "$repo/guest/rust/toolchain.sh"
rust_guest_toolchain "$install" g++

target_dir=${CARGO_TARGET_DIR:-$here/target}
mkdir -p "$target_dir"
target_dir=$(cd "$target_dir" && pwd -P)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
tools="$target_dir/runtime-tools"
mkdir -p "$tools/bin"

# 1. `rustc --version`. polkavm-linker (which picks the PVM target spec for the compiler at hand)
# parses the output as "rustc X.Y.Z (HASH DATE)" and takes the date from its last word; Debian's
# compiler prints " (built from a source tarball)" after it, which fails the parse. This wrapper
# drops that suffix for `--version` and is otherwise the compiler itself. It is first on PATH
# because the wasm-builder removes RUSTC from the environment of the cargo it starts.
cat > "$tools/bin/rustc" <<EOF
#!/bin/sh
if [ "\$#" = 1 ] && [ "\$1" = --version ]; then
    version=\$("$RUST_GUEST_RUSTC" --version) || exit
    echo "\${version% (built from a source tarball)}"
    exit 0
fi
exec "$RUST_GUEST_RUSTC" "\$@"
EOF
chmod +x "$tools/bin/rustc"

# 2. radium. For RISC-V the wasm-builder patches crates.io's `radium` with a git fork, which
# cannot be fetched here; runtimes/.cargo/config.toml replaces that git source with the directory
# source runtimes/vendor/, assembled here from crates.io's radium 0.7.0 (through cargo's own
# download, into the shared registry cache) and our build script radium-pvm/build.rs.
radium_crate=$(ls "$cargo_home"/registry/cache/*/radium-0.7.0.crate 2>/dev/null | head -n 1 || true)
if [ -z "$radium_crate" ]; then
    fetch="$tools/fetch-radium"
    mkdir -p "$fetch/src"
    printf '[package]\nname = "fetch-radium"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nradium = "=0.7.0"\n' > "$fetch/Cargo.toml"
    : > "$fetch/src/lib.rs"
    (cd "$fetch" && "$RUST_GUEST_CARGO" fetch --quiet)
    radium_crate=$(ls "$cargo_home"/registry/cache/*/radium-0.7.0.crate | head -n 1)
fi
vendor="$here/vendor"
rm -rf "$vendor"
mkdir -p "$vendor"
tar -xzf "$radium_crate" -C "$vendor"
mv "$vendor/radium-0.7.0" "$vendor/radium"
cp "$here/radium-pvm/build.rs" "$vendor/radium/build.rs"
# A directory source lists each package's file checksums; none are listed, so cargo checks none,
# and the package checksum is null because the git source it replaces has none in Cargo.lock.
printf '{"files":{},"package":null}' > "$vendor/radium/.cargo-checksum.json"

# 3. A sysroot for the wasm-builder's preflight check. Before a Wasm build it compiles a small
# crate for wasm32-unknown-unknown *without* -Zbuild-std, which needs a prebuilt `core` for that
# target; Debian ships none for rustc-web 1.96. The real build compiles `core` and `alloc` from
# rust-web-src itself (the wasm-builder passes -Zbuild-std=core,alloc and `-C target-cpu=mvp`
# when the toolchain has no wasm32v1-none target, as here). So the check gets a sysroot holding
# `core` and `alloc` built the same way, through target-specific rustflags that only the check
# sees: the real build sets RUSTFLAGS, which takes precedence over them.
check_sysroot="$tools/wasm-check-sysroot"
check_libdir="$check_sysroot/lib/rustlib/wasm32-unknown-unknown/lib"
case " $targets " in *" wasm "*)
    if [ ! -f "$tools/wasm-check-sysroot.done" ]; then
        seed="$tools/wasm-check-core"
        mkdir -p "$seed/src"
        printf '[package]\nname = "wasm-check-core"\nversion = "0.0.0"\nedition = "2021"\n\n[lib]\npath = "src/lib.rs"\n\n[workspace]\n' > "$seed/Cargo.toml"
        printf '#![no_std]\n' > "$seed/src/lib.rs"
        (cd "$seed" && RUSTC_BOOTSTRAP=1 RUSTC="$tools/bin/rustc" RUSTFLAGS="-C target-cpu=mvp" \
            CARGO_TARGET_DIR="$seed/target" "$RUST_GUEST_CARGO" build --quiet --release \
            --target wasm32-unknown-unknown -Zbuild-std=core,alloc)
        rm -rf "$check_sysroot"
        mkdir -p "$check_libdir"
        cp "$seed"/target/wasm32-unknown-unknown/release/deps/*.rlib "$check_libdir/"
        # The check also looks for the library source under the sysroot before a -Zbuild-std build.
        ln -s "$("$RUST_GUEST_RUSTC" --print sysroot)/lib/rustlib/src" "$check_sysroot/lib/rustlib/src"
        touch "$tools/wasm-check-sysroot.done"
    fi
    ;;
esac

# Paths that reach the blobs (panic locations) are remapped to fixed names, so the blobs do not
# depend on where the repository, the cargo home or the target folder are.
remap="--remap-path-prefix=$here=/runtimes --remap-path-prefix=$cargo_home=/cargo"
remap="$remap --remap-path-prefix=$target_dir=/target"

build_blob() {
    # WASM_BUILD_WORKSPACE_HINT: the wasm-builder looks for the workspace's Cargo.lock (which it
    # copies into the project it builds the blob in) upwards from the target folder, which need
    # not be inside this one.
    # `cargo check --release`: the build script (which builds the blob) runs as in a build, and
    # the release profile is what makes the wasm-builder compact the Wasm blob, but the native
    # library itself is only checked, which saves compiling the runtime's dependencies twice.
    (cd "$here" && PATH="$tools/bin:$PATH" RUSTC="$tools/bin/rustc" RUSTC_BOOTSTRAP=1 \
        SUBSTRATE_RUNTIME_TARGET="$1" WASM_BUILD_RUSTFLAGS="$remap" WASM_BUILD_NO_COLOR=1 \
        WASM_BUILD_WORKSPACE_HINT="$here" \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--sysroot=$check_sysroot" \
        CARGO_TARGET_DIR="$target_dir" "$RUST_GUEST_CARGO" check --locked --release -p pvm-dev-runtime)
}

out="$repo/testdata/runtimes"
mkdir -p "$out"
for target in $targets; do
    build_blob "$target"
    case "$target" in
        # The wasm-builder names the blobs after the project it generates, `<crate>-blob`.
        riscv) cp "$target_dir/release/rbuild/pvm-dev-runtime/pvm-dev-runtime-blob.polkavm" "$out/dev_runtime.polkavm" ;;
        wasm) cp "$target_dir/release/wbuild/pvm-dev-runtime/pvm_dev_runtime_blob.compact.wasm" "$out/dev_runtime.wasm" ;;
    esac
done
(cd "$out" && ls -l dev_runtime.* && sha256sum dev_runtime.*)
