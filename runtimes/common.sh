# Sourced by the scripts that build FRAME runtimes through substrate-wasm-builder with Debian's
# Rust toolchain: runtimes/build.sh (this workspace's runtimes) and runtimes/build-third-party.sh
# (a runtime crate published on crates.io, built unchanged). It holds what both need; README.md
# beside it says why each step exists.
#
#   here=/path/to/runtimes; repo=/path/to/repository
#   . "$here/common.sh"
#   runtime_env INSTALL            # toolchain, target folder, cargo home, the rustc wrapper
#   runtime_radium_vendor          # $here/vendor, the directory source that replaces radium's fork
#   runtime_wasm_check_sysroot     # only for Wasm builds
#   runtime_cargo_check DIR TARGET WORKSPACE PACKAGE   # builds one blob (TARGET: riscv or wasm)
#
# runtime_env sets RUNTIME_TARGET_DIR, RUNTIME_CARGO_HOME, RUNTIME_TOOLS (a folder inside the
# target folder for what these scripts make), RUNTIME_REMAP (the --remap-path-prefix flags) and,
# through guest/rust/toolchain.sh, RUST_GUEST_RUSTC and RUST_GUEST_CARGO.

# shellcheck source=../guest/rust/toolchain.sh
. "$repo/guest/rust/toolchain.sh"

runtime_env() {
    rust_guest_toolchain "$1" g++ || return

    RUNTIME_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
    mkdir -p "$RUNTIME_TARGET_DIR"
    RUNTIME_TARGET_DIR=$(cd "$RUNTIME_TARGET_DIR" && pwd -P)
    RUNTIME_CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
    RUNTIME_TOOLS="$RUNTIME_TARGET_DIR/runtime-tools"
    mkdir -p "$RUNTIME_TOOLS/bin"

    # 1. `rustc --version`. polkavm-linker (which picks the PVM target spec for the compiler at
    # hand) parses the output as "rustc X.Y.Z (HASH DATE)" and takes the date from its last word;
    # Debian's compiler prints " (built from a source tarball)" after it, which fails the parse.
    # This wrapper drops that suffix for `--version` and is otherwise the compiler itself. It is
    # first on PATH because the wasm-builder removes RUSTC from the environment of the cargo it
    # starts.
    cat > "$RUNTIME_TOOLS/bin/rustc" <<EOF
#!/bin/sh
if [ "\$#" = 1 ] && [ "\$1" = --version ]; then
    version=\$("$RUST_GUEST_RUSTC" --version) || exit
    echo "\${version% (built from a source tarball)}"
    exit 0
fi
exec "$RUST_GUEST_RUSTC" "\$@"
EOF
    chmod +x "$RUNTIME_TOOLS/bin/rustc"

    # Paths that reach the blobs (panic locations) are remapped to fixed names, so the blobs do
    # not depend on where the repository, the cargo home or the target folder are. The same flags
    # for every runtime also let the builds share the dependencies they have in common.
    RUNTIME_REMAP="--remap-path-prefix=$here=/runtimes --remap-path-prefix=$RUNTIME_CARGO_HOME=/cargo"
    RUNTIME_REMAP="$RUNTIME_REMAP --remap-path-prefix=$RUNTIME_TARGET_DIR=/target"
}

# 2. radium. For RISC-V the wasm-builder patches crates.io's `radium` with a git fork, which
# cannot be fetched here; a cargo config replaces that git source with the directory source
# $here/vendor/ (runtimes/.cargo/config.toml for this workspace), assembled here from crates.io's
# radium 0.7.0 (through cargo's own download, into the shared registry cache) and our build
# script radium-pvm/build.rs.
runtime_radium_vendor() {
    radium_crate=$(ls "$RUNTIME_CARGO_HOME"/registry/cache/*/radium-0.7.0.crate 2>/dev/null | head -n 1 || true)
    if [ -z "$radium_crate" ]; then
        fetch="$RUNTIME_TOOLS/fetch-radium"
        mkdir -p "$fetch/src"
        printf '[package]\nname = "fetch-radium"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nradium = "=0.7.0"\n' > "$fetch/Cargo.toml"
        : > "$fetch/src/lib.rs"
        (cd "$fetch" && "$RUST_GUEST_CARGO" fetch --quiet) || return
        radium_crate=$(ls "$RUNTIME_CARGO_HOME"/registry/cache/*/radium-0.7.0.crate | head -n 1)
    fi
    vendor="$here/vendor"
    rm -rf "$vendor"
    mkdir -p "$vendor"
    tar -xzf "$radium_crate" -C "$vendor" || return
    mv "$vendor/radium-0.7.0" "$vendor/radium"
    # `-p`: radium's build script asks to rerun when build.rs changes, which cargo judges by its
    # time stamp; a fresh one on every run would rebuild radium and everything above it (bitvec,
    # parity-scale-codec, so nearly the whole runtime) each time.
    cp -p "$here/radium-pvm/build.rs" "$vendor/radium/build.rs"
    # A directory source lists each package's file checksums; none are listed, so cargo checks
    # none, and the package checksum is null because the git source it replaces has none in
    # Cargo.lock.
    printf '{"files":{},"package":null}' > "$vendor/radium/.cargo-checksum.json"
}

# 3. A sysroot for the wasm-builder's preflight check. Before a Wasm build it compiles a small
# crate for wasm32-unknown-unknown *without* -Zbuild-std, which needs a prebuilt `core` for that
# target; Debian ships none for rustc-web 1.96. The real build compiles `core` and `alloc` from
# rust-web-src itself (the wasm-builder passes -Zbuild-std=core,alloc and `-C target-cpu=mvp`
# when the toolchain has no wasm32v1-none target, as here). So the check gets a sysroot holding
# `core` and `alloc` built the same way, through target-specific rustflags that only the check
# sees: the real build sets RUSTFLAGS, which takes precedence over them.
runtime_wasm_check_sysroot() {
    check_sysroot="$RUNTIME_TOOLS/wasm-check-sysroot"
    check_libdir="$check_sysroot/lib/rustlib/wasm32-unknown-unknown/lib"
    [ -f "$RUNTIME_TOOLS/wasm-check-sysroot.done" ] && return
    seed="$RUNTIME_TOOLS/wasm-check-core"
    mkdir -p "$seed/src"
    printf '[package]\nname = "wasm-check-core"\nversion = "0.0.0"\nedition = "2021"\n\n[lib]\npath = "src/lib.rs"\n\n[workspace]\n' > "$seed/Cargo.toml"
    printf '#![no_std]\n' > "$seed/src/lib.rs"
    (cd "$seed" && RUSTC_BOOTSTRAP=1 RUSTC="$RUNTIME_TOOLS/bin/rustc" RUSTFLAGS="-C target-cpu=mvp" \
        CARGO_TARGET_DIR="$seed/target" "$RUST_GUEST_CARGO" build --quiet --release \
        --target wasm32-unknown-unknown -Zbuild-std=core,alloc) || return
    rm -rf "$check_sysroot"
    mkdir -p "$check_libdir"
    cp "$seed"/target/wasm32-unknown-unknown/release/deps/*.rlib "$check_libdir/"
    # The check also looks for the library source under the sysroot before a -Zbuild-std build.
    ln -s "$("$RUST_GUEST_RUSTC" --print sysroot)/lib/rustlib/src" "$check_sysroot/lib/rustlib/src"
    touch "$RUNTIME_TOOLS/wasm-check-sysroot.done"
}

# Builds the blob of PACKAGE for TARGET (riscv or wasm) by running `cargo check --release` in DIR
# (a folder of the workspace whose root is WORKSPACE).
#
# WASM_BUILD_WORKSPACE_HINT: the wasm-builder looks for the workspace's Cargo.lock (which it copies
# into the project it builds the blob in, with the workspace's profiles and patches) upwards from
# the target folder, which need not be inside the workspace.
# `cargo check --release`: the build script (which builds the blob) runs as in a build, and the
# release profile is what makes the wasm-builder compact the Wasm blob, but the native library
# itself is only checked, which saves compiling the runtime's dependencies twice.
runtime_cargo_check() {
    (cd "$1" && PATH="$RUNTIME_TOOLS/bin:$PATH" RUSTC="$RUNTIME_TOOLS/bin/rustc" RUSTC_BOOTSTRAP=1 \
        SUBSTRATE_RUNTIME_TARGET="$2" WASM_BUILD_RUSTFLAGS="$RUNTIME_REMAP" WASM_BUILD_NO_COLOR=1 \
        WASM_BUILD_WORKSPACE_HINT="$3" \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--sysroot=$RUNTIME_TOOLS/wasm-check-sysroot" \
        CARGO_TARGET_DIR="$RUNTIME_TARGET_DIR" "$RUST_GUEST_CARGO" check --locked --release -p "$4")
}
