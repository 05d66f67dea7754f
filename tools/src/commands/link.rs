//! `pvm link ELF -o BLOB`: turns a relocatable-enough RISC-V ELF file (see `guest/README.md`)
//! into a PolkaVM program blob through the `polkavm-linker` crate, then checks that our own
//! loader accepts the result.

use super::load::parse_isa;
use polkavm_linker::TargetInstructionSet;
use pvm_executor::program::{InstructionSet, ProgramBlob};
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
}

fn target_isa(isa: InstructionSet) -> TargetInstructionSet {
    match isa {
        InstructionSet::ReviveV1 => TargetInstructionSet::ReviveV1,
        InstructionSet::JamV1 => TargetInstructionSet::JamV1,
    }
}

/// Links ELF bytes into blob bytes and checks the blob with [`ProgramBlob::parse`].
pub fn link(elf: &[u8], isa: InstructionSet, strip: bool) -> Result<Vec<u8>, String> {
    if !elf.starts_with(b"\x7fELF") {
        return Err("not an ELF file (no \\x7fELF magic)".to_string());
    }
    let mut config = polkavm_linker::Config::default();
    config.set_strip(strip);
    // The linker is large and has internal assertions; a panic in it must not take the tool
    // down without a message.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let linked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        polkavm_linker::program_from_elf(config, target_isa(isa), elf)
    }));
    std::panic::set_hook(previous_hook);
    let linked = linked
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            format!("polkavm-linker panicked: {message}")
        })?
        .map_err(|err| format!("polkavm-linker: {err}"))?;
    let blob = ProgramBlob::parse(&linked).map_err(|err| format!("the linked blob does not load: {err}"))?;
    if blob.isa() != isa {
        return Err(format!("the linked blob is {} code, but {isa} was requested", blob.isa()));
    }
    Ok(linked)
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let elf = std::fs::read(&args.elf).map_err(|err| format!("cannot read {}: {err}", args.elf.display()))?;
    let blob = link(&elf, args.isa, args.strip).map_err(|err| format!("{}: {err}", args.elf.display()))?;
    std::fs::write(&args.output, &blob).map_err(|err| format!("cannot write {}: {err}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
