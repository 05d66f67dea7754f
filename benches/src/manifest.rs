//! The benchmark programs and their expected results.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One run size of a program with its expected checksum.
#[derive(Deserialize, Clone, Debug)]
pub struct Size {
    /// The argument passed in A0.
    pub arg: u64,
    /// The checksum the program returns for it (hex digits, as the manifest writes it).
    #[serde(deserialize_with = "hex_u64")]
    pub checksum: u64,
}

fn hex_u64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = String::deserialize(deserializer)?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map_err(|err| serde::de::Error::custom(format!("checksum {text:?} is not hex: {err}")))
}

/// A benchmark program as the manifest describes it.
#[derive(Deserialize, Clone, Debug)]
pub struct ProgramEntry {
    /// File stem: `<file>.polkavm`, `<file>.wasm`, `<file>.c`.
    pub file: String,
    /// The exported function: `uint64_t f(uint64_t n)`.
    pub export: String,
    /// The small size (`--quick`).
    pub quick: Size,
    /// The full size.
    pub full: Size,
}

/// The programs, in the order the manifest lists them.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// `(name, entry)` pairs.
    pub programs: Vec<(String, ProgramEntry)>,
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered(Vec<(String, ProgramEntry)>);
        impl<'de> Deserialize<'de> for Ordered {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = Ordered;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a map from program name to program")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                        let mut entries = Vec::new();
                        while let Some(entry) = map.next_entry()? {
                            entries.push(entry);
                        }
                        Ok(Ordered(entries))
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
        #[derive(Deserialize)]
        struct File {
            programs: Ordered,
        }
        Ok(Manifest { programs: File::deserialize(deserializer)?.programs.0 })
    }
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
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/bench-programs/programs.json")
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
        .map(|(name, entry)| {
            Ok(Program {
                polkavm: read(&format!("{}.polkavm", entry.file))?,
                wasm: read(&format!("{}.wasm", entry.file))?,
                size: if quick { entry.quick } else { entry.full },
                name,
                export: entry.export,
            })
        })
        .collect()
}
