//! `pvm conformance DIR [--backend interpreter|compiler] [--sandbox in-process|process]`

use pvm_executor::{BackendKind, Config, Engine, SandboxKind};
use pvm_tools::conformance::run_dir;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Directory of conformance vectors (`*.json`).
    dir: PathBuf,
    /// Backend to run them on.
    #[arg(long, default_value = "interpreter", value_parser = super::run::parse_backend)]
    backend: BackendKind,
    /// Where compiled code runs: in this process or in sandbox worker processes.
    #[arg(long, default_value = "in-process", value_parser = super::run::parse_sandbox)]
    sandbox: SandboxKind,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let mut config = Config::new();
    config.backend(args.backend).sandbox(args.sandbox);
    let engine = Engine::new(&config).map_err(|err| err.to_string())?;
    let summary = run_dir(&engine, &args.dir)?;
    for (name, differences) in &summary.failed {
        println!("FAIL {name}: {differences}");
    }
    println!("{} passed, {} failed", summary.passed.len(), summary.failed.len());
    Ok(if summary.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
