//! `pvm disasm BLOB`

use super::load::{load, parse_isa};
use pvm_executor::program::disasm::disassemble_to_string;
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
    let program = load(&args.blob, args.isa)?;
    print!("{}", disassemble_to_string(program.code(), program.exports()));
    Ok(ExitCode::SUCCESS)
}
