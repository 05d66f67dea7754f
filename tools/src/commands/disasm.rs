//! `pvm disasm BLOB`

use super::asm::container_directives;
use super::load::{load, parse_isa, LoadedProgram};
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
    let listing = disassemble_to_string(program.code(), program.exports());
    match &program {
        // The container's other parts as `pvm asm` directives, after the `.isa` and
        // `.jump_table` header, so that the listing reassembles into the same blob.
        LoadedProgram::Container(blob) => {
            let (header, code) = listing.split_once("\n\n").unwrap_or((&listing, ""));
            print!("{header}\n{}\n{code}", container_directives(blob));
        }
        LoadedProgram::Raw(_) => print!("{listing}"),
    }
    Ok(ExitCode::SUCCESS)
}
