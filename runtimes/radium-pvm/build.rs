//! Build script for the `radium` 0.7.0 directory source that replaces the RISC-V radium fork.
//!
//! `radium` 0.7 names the atomic types of `core::sync::atomic` only behind the cfgs
//! `radium_atomic_{8,16,32,64,ptr}`, which its own build script derives from the target's name.
//! The PolkaVM target is a JSON target spec (`riscv64emac-unknown-none-polkavm`) that the name
//! table does not know. Rather than adding one more name, this script asks the compiler: cargo
//! passes the target's `target_has_atomic` values to build scripts in
//! `CARGO_CFG_TARGET_HAS_ATOMIC` (for example `8,16,32,64,ptr`), which are exactly the widths for
//! which `core` defines atomic types, on every target.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let widths = env::var("CARGO_CFG_TARGET_HAS_ATOMIC").unwrap_or_default();
    for width in widths.split(',').map(str::trim) {
        if matches!(width, "8" | "16" | "32" | "64" | "ptr") {
            println!("cargo:rustc-cfg=radium_atomic_{width}");
        }
    }
}
