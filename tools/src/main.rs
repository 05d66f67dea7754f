//! `pvm`: inspect, disassemble, assemble, link and run PVM programs.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod commands;

#[derive(Parser)]
#[command(name = "pvm", version, about = "Inspect, disassemble, link and run PVM programs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a program blob's format version, instruction set, sections, memory map, imports and exports.
    Info(commands::info::Args),
    /// Disassemble a program blob: one instruction per line (pc, bytes, text).
    Disasm(commands::disasm::Args),
    /// Run an export of a program blob and print the exit status, A0 and the gas used.
    Run(commands::run::Args),
    /// Run a directory of JAM conformance vectors; ends with `N passed, M failed`.
    Conformance(commands::conformance::Args),
    /// Link a RISC-V ELF file (built as `guest/README.md` describes) into a program blob.
    Link(commands::link::Args),
    /// Assemble a program blob from text in the form `pvm disasm` prints.
    Asm(commands::asm::Args),
    /// Run a polkadot-sdk runtime built for the PVM as a node does: `info`, `genesis`, `block`.
    Runtime(commands::runtime::Args),
    /// Run Doom (PolkaVM's port) headless: PNG frames, an animated GIF, tics per second.
    Doom(commands::doom::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(args),
        Command::Disasm(args) => commands::disasm::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Conformance(args) => commands::conformance::run(args),
        Command::Link(args) => commands::link::run(args),
        Command::Asm(args) => commands::asm::run(args),
        Command::Doom(args) => commands::doom::run(args),
        Command::Runtime(args) => commands::runtime::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
