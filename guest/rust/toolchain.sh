# Sourced by the scripts that build Rust for the PVM (guest/rust/build.sh, runtimes/build.sh):
# makes sure Debian's Rust toolchain is installed and names its compiler and cargo.
#
#   . guest/rust/toolchain.sh
#   rust_guest_toolchain INSTALL [EXTRA_PACKAGE...]
#
# installs what is missing of rustc-web, cargo-web, rust-web-src 1.96 (the standard library source
# matching that compiler, for -Zbuild-std), lld-22 (the PVM target spec links with rust-lld, which
# Debian points at lld-22) and the extra packages, with apt-get when INSTALL is non-empty (and
# fails naming them when it is empty), then sets RUST_GUEST_RUSTC and RUST_GUEST_CARGO (Debian's
# compiler and cargo, not rustup's, whose toolchains ship no rust-src; GUEST_RUSTC and GUEST_CARGO
# override them).

rust_guest_toolchain() {
    rust_guest_install=$1
    shift
    rust_guest_missing=
    for rust_guest_package in rustc-web cargo-web rust-web-src lld-22 "$@"; do
        dpkg-query -W -f '${Status}' "$rust_guest_package" 2>/dev/null | grep -q "install ok installed" ||
            rust_guest_missing="$rust_guest_missing $rust_guest_package"
    done
    if [ -n "$rust_guest_missing" ]; then
        if [ -z "$rust_guest_install" ]; then
            echo "missing packages:$rust_guest_missing (apt-get install -y$rust_guest_missing)" >&2
            return 2
        fi
        echo "installing$rust_guest_missing" >&2
        apt-get update
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y $rust_guest_missing
    fi
    RUST_GUEST_RUSTC=${GUEST_RUSTC:-/usr/bin/rustc}
    RUST_GUEST_CARGO=${GUEST_CARGO:-/usr/bin/cargo}
}
