//! The benchmark programs and their expected results.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One run size of a program with its expected checksum.
#[derive(Deserialize, Clone, Debug)]
pub struct Size {
    /// The argument passed in A0.
    pub arg: u64,
    /// The checksum the program returns for it (a decimal or `0x` hex string, or a number).
    #[serde(deserialize_with = "u64_from_any")]
    pub checksum: u64,
}

fn u64_from_any<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        Number(u64),
        Text(String),
    }
    match Any::deserialize(deserializer)? {
        Any::Number(value) => Ok(value),
        Any::Text(text) => {
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.map_err(|err| serde::de::Error::custom(format!("checksum {text:?}: {err}")))
        }
    }
}

/// A benchmark program as the manifest describes it.
#[derive(Deserialize, Clone, Debug)]
pub struct ProgramEntry {
    /// Short name (`prime-sieve`).
    pub name: String,
    /// The exported function: `uint64_t f(uint64_t n)`.
    pub export: String,
    /// The PVM blob, relative to the manifest.
    pub polkavm: String,
    /// The wasm32 module, relative to the manifest.
    pub wasm: String,
    /// The small size (`--quick`).
    pub quick: Size,
    /// The full size.
    pub full: Size,
}

/// The manifest file.
#[derive(Deserialize, Clone, Debug)]
pub struct Manifest {
    /// The programs.
    pub programs: Vec<ProgramEntry>,
}

/// A program loaded for benchmarking: its bytes and the size to run.
#[derive(Clone, Debug)]
pub struct Program {
    /// Short name.
    pub name: String,
    /// Export to call.
    pub export: String,
    /// The PVM blob.
    pub polkavm: Vec<u8>,
    /// The wasm32 module.
    pub wasm: Vec<u8>,
    /// Argument and expected checksum.
    pub size: Size,
}

/// Where the committed programs live.
pub fn default_manifest_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("programs/programs.json")
}

/// Loads the manifest and every program's bytes; `quick` picks the small sizes.
pub fn load(path: &Path, quick: bool) -> Result<Vec<Program>, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let read = |file: &str| std::fs::read(dir.join(file)).map_err(|err| format!("cannot read {file}: {err}"));
    manifest
        .programs
        .into_iter()
        .map(|entry| {
            Ok(Program {
                polkavm: read(&entry.polkavm)?,
                wasm: read(&entry.wasm)?,
                size: if quick { entry.quick } else { entry.full },
                name: entry.name,
                export: entry.export,
            })
        })
        .collect()
}
