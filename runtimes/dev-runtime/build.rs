//! Builds the runtime blob with substrate-wasm-builder: for Wasm by default, for the PVM with
//! `SUBSTRATE_RUNTIME_TARGET=riscv`, and not at all with `SKIP_WASM_BUILD=1` (a native build for
//! tests that only need the runtime's types). `runtimes/build.sh` runs both blob builds.

fn main() {
    #[cfg(feature = "std")]
    {
        // The wasm-builder takes the crate's manifest path as given and compares it with the
        // canonical paths `cargo metadata` reports; a path through a symbolic link (a checkout
        // reached through one, or a `..` component) would not match, so canonicalise first.
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let manifest = manifest.canonicalize().unwrap_or_else(|error| panic!("{}: {error}", manifest.display()));
        substrate_wasm_builder::WasmBuilder::new()
            .with_project(manifest)
            .unwrap_or_else(|error| panic!("{error}"))
            // Both are what every Substrate executor expects of a Wasm runtime: the heap starts
            // at `__heap_base`, and the memory is provided by the host. (The wasm-builder
            // ignores them for RISC-V, where the PolkaVM program format defines both.)
            .export_heap_base()
            .import_memory()
            .build();
    }
}
