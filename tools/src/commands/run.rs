//! `pvm run BLOB --export NAME [ARGS..] [--gas N] [--backend ..] [--page-size BYTES] [--trace]`

use super::load::{load, parse_isa, LoadedProgram};
use pvm_executor::config::BACKEND_ENV_VAR;
use pvm_executor::program::{InstructionSet, PageSize, Reg};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module, ModuleConfig, SandboxKind};
use pvm_tools::linking::parse_page_size;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The program blob.
    blob: PathBuf,
    /// The export to call (container blobs).
    #[arg(long)]
    export: Option<String>,
    /// Start pc, for raw blobs (which have no exports).
    #[arg(long)]
    pc: Option<u32>,
    /// Arguments, passed in A0..A5.
    args: Vec<u64>,
    /// Gas available.
    #[arg(long, default_value_t = 10_000_000_000)]
    gas: i64,
    /// Turn gas metering off.
    #[arg(long)]
    no_gas: bool,
    /// Backend.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendKind,
    /// The page size a container blob's memory map is computed with, in bytes (`16384`,
    /// `16K`): a power of two from 4 KiB to 64 KiB, as PolkaVM's `ModuleConfig::set_page_size`.
    /// Raw blobs always have 4 KiB pages.
    #[arg(long, value_name = "BYTES", default_value = "4096", value_parser = parse_page_size)]
    page_size: PageSize,
    /// Print every instruction as it runs (pc, instruction, registers it reads).
    #[arg(long)]
    trace: bool,
    /// Instruction set for raw blobs.
    #[arg(long, default_value = "revive_v1", value_parser = parse_isa)]
    isa: InstructionSet,
}

/// Parses `--sandbox`.
pub fn parse_sandbox(name: &str) -> Result<SandboxKind, String> {
    SandboxKind::from_name(name).ok_or_else(|| format!("unknown sandbox `{name}` (expected in-process or process)"))
}

/// Parses `--backend`.
pub fn parse_backend(name: &str) -> Result<BackendKind, String> {
    BackendKind::from_name(name)
        .ok_or_else(|| format!("unknown backend `{name}` (expected interpreter, compiler or auto)"))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    // `PVM_BACKEND`, when set, chooses the backend (over `--backend`).
    let mut config = Config::from_env().map_err(|err| err.to_string())?;
    if std::env::var_os(BACKEND_ENV_VAR).is_none() {
        // Only the interpreter traces: `--trace` makes `auto` mean the interpreter.
        let backend =
            if args.trace && args.backend == BackendKind::Auto { BackendKind::Interpreter } else { args.backend };
        config.backend(backend);
    }
    if args.no_gas {
        config.gas_metering(None);
    }
    let engine = Engine::new(&config).map_err(|err| err.to_string())?;
    let module = match load(&args.blob, args.isa)? {
        LoadedProgram::Container(_) => {
            let bytes = std::fs::read(&args.blob).map_err(|err| err.to_string())?;
            let mut module_config = ModuleConfig::new();
            module_config.page_size(args.page_size);
            Module::from_blob_with_config(&engine, &bytes, &module_config)
        }
        LoadedProgram::Raw(_) if args.page_size != PageSize::default() => {
            return Err(format!("--page-size {}: raw programs have 4 KiB pages", args.page_size.get()));
        }
        LoadedProgram::Raw(raw) => Module::from_raw(&engine, &raw),
    }
    .map_err(|err| err.to_string())?;
    let mut instance = Instance::new(&module).map_err(|err| err.to_string())?;
    match (&args.export, args.pc) {
        (Some(export), _) => instance.prepare_call(export, &args.args).map_err(|err| {
            let names: Vec<&str> = module.exports().iter().map(|e| e.name.as_str()).collect();
            format!("{err} (exports: {})", names.join(", "))
        })?,
        (None, Some(pc)) => {
            if args.args.len() > Reg::ARGS.len() {
                return Err(format!("{} arguments given, at most 6 fit in A0..A5", args.args.len()));
            }
            for (reg, value) in Reg::ARGS.iter().zip(&args.args) {
                instance.set_reg(*reg, *value);
            }
            instance.set_next_pc(pc);
        }
        (None, None) => return Err("say where to start: --export NAME (container blobs) or --pc N".to_string()),
    }
    instance.set_gas(args.gas);
    let exit = if args.trace {
        instance.run_traced(&mut |step| {
            println!("{:>8}: {:<40} gas={}", step.pc, step.instruction.to_string(), step.gas);
        })
    } else {
        instance.run()
    }
    .map_err(|err| err.to_string())?;

    let gas_used = if args.no_gas { 0 } else { args.gas - instance.gas() };
    let pc = instance.pc().unwrap_or(0);
    match exit {
        Exit::HostCall(index) => {
            let name = module.imports().get(index as usize).map_or("?", String::as_str);
            println!("status: host call {index} (`{name}`) at pc {pc}: `pvm run` provides no host functions");
        }
        Exit::PageFault(address) => {
            println!("status: {exit} at pc {pc}");
            if let Some(overflow) = module.memory_map().and_then(|map| map.stack_overflow(address)) {
                println!(
                    "  {overflow}: the program needs a larger stack (`pvm link --min-stack-size BYTES`, or \
                     larger pages: `--page-size BYTES`)"
                );
            }
        }
        other => println!("status: {other} at pc {pc}"),
    }
    println!("a0: {} (0x{:x})", instance.reg(Reg::A0), instance.reg(Reg::A0));
    println!("gas used: {gas_used}");
    Ok(if exit == Exit::Halt { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
