//! `pvm conformance DIR [--backend interpreter|compiler]`

use pvm_executor::{BackendKind, Config, Engine};
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
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let mut config = Config::new();
    config.backend(args.backend);
    let engine = Engine::new(&config).map_err(|err| err.to_string())?;
    let summary = run_dir(&engine, &args.dir)?;
    for (name, differences) in &summary.failed {
        println!("FAIL {name}: {differences}");
    }
    println!("{} passed, {} failed", summary.passed.len(), summary.failed.len());
    Ok(if summary.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
