//! `pvm disasm BLOB`

use super::load::{load, parse_isa, LoadedProgram};
use pvm_executor::program::disasm::{disassemble_blob_to_string, disassemble_to_string};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The program blob (PolkaVM container, or Gray Paper raw blob).
    blob: PathBuf,
    /// Instruction set for raw blobs (container blobs name their own).
    #[arg(long, default_value = "revive_v1", value_parser = parse_isa)]
    isa: pvm_executor::program::InstructionSet,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match load(&args.blob, args.isa)? {
        LoadedProgram::Container(blob) => print!("{}", disassemble_blob_to_string(&blob)),
        LoadedProgram::Raw(raw) => print!("{}", disassemble_to_string(raw.code(), &[])),
    }
    Ok(ExitCode::SUCCESS)
}
