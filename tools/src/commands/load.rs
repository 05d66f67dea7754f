//! Reading program files: a PolkaVM container blob, or a Gray Paper raw blob.

use pvm_executor::program::{InstructionSet, ProgramBlob, RawProgram};
use std::path::Path;

/// A program file as loaded from disk.
pub enum LoadedProgram {
    /// A PolkaVM container blob (`PVM\0` magic).
    Container(ProgramBlob),
    /// A raw Gray Paper blob.
    Raw(RawProgram),
}

/// Reads a file; files starting with `PVM\0` are container blobs, others raw blobs decoded with `raw_isa`.
pub fn load(path: &Path, raw_isa: InstructionSet) -> Result<LoadedProgram, String> {
    let bytes = std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if bytes.starts_with(b"PVM\0") {
        ProgramBlob::parse(&bytes).map(LoadedProgram::Container).map_err(|err| format!("{}: {err}", path.display()))
    } else {
        RawProgram::parse(&bytes, raw_isa)
            .map(LoadedProgram::Raw)
            .map_err(|err| format!("{} (read as a raw Gray Paper blob): {err}", path.display()))
    }
}

/// Parses an `--isa` value.
pub fn parse_isa(name: &str) -> Result<InstructionSet, String> {
    InstructionSet::from_name(name)
        .ok_or_else(|| format!("unknown instruction set `{name}` (expected revive_v1 or jam_v1)"))
}
