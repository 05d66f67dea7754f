//! `pvm link ELF -o BLOB`: turns a relocatable-enough RISC-V ELF file (see `guest/README.md`)
//! into a PolkaVM program blob through the `polkavm-linker` crate, then checks that our own
//! loader accepts the result.

use super::load::parse_isa;
use pvm_executor::program::InstructionSet;
use pvm_tools::linking::{link, parse_size, LinkOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The ELF file (riscv64, linked with `ld.lld --emit-relocs ... -shared`).
    elf: PathBuf,
    /// Where to write the program blob.
    #[arg(short, long)]
    output: PathBuf,
    /// Instruction set of the produced code.
    #[arg(long, default_value = "revive_v1", value_parser = parse_isa)]
    isa: InstructionSet,
    /// Leave out debug information (symbol names, line programs).
    #[arg(long)]
    strip: bool,
    /// The smallest stack the blob declares, in bytes (`16384`, `16K`, `1M`; rounded up to
    /// whole 4 KiB pages). Without it the stack is what the ELF's `.polkavm_min_stack_size`
    /// section asks for, at least 8 KiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    min_stack_size: Option<u32>,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let elf = std::fs::read(&args.elf).map_err(|err| format!("cannot read {}: {err}", args.elf.display()))?;
    let blob = link(&elf, &LinkOptions { isa: args.isa, strip: args.strip, min_stack_size: args.min_stack_size })
        .map_err(|err| format!("{}: {err}", args.elf.display()))?;
    std::fs::write(&args.output, &blob).map_err(|err| format!("cannot write {}: {err}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
