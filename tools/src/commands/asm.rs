//! `pvm asm FILE -o BLOB [--raw]`: assemble text in the form `pvm disasm` prints (see
//! `pvm_executor::program::asm` for the syntax).

use pvm_executor::program::asm::assemble;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The assembly text (what `pvm disasm` prints, or hand-written).
    file: PathBuf,
    /// Where to write the program blob.
    #[arg(short, long)]
    output: PathBuf,
    /// Write a Gray Paper raw blob (code and jump table only) instead of a container blob.
    #[arg(long)]
    raw: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let text =
        std::fs::read_to_string(&args.file).map_err(|err| format!("cannot read {}: {err}", args.file.display()))?;
    let program = assemble(&text).map_err(|err| format!("{}:{err}", args.file.display()))?;
    let bytes = if args.raw {
        program.to_raw().map_err(|err| format!("{err}; or drop --raw"))?.to_bytes()
    } else {
        program.blob.to_bytes()
    };
    std::fs::write(&args.output, bytes).map_err(|err| format!("cannot write {}: {err}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
