//! The comparison runner: every benchmark program on every VM, four phases each.
//!
//! ```text
//! cargo run --release -p pvm-benches -- [--quick] [--filter NAME] [--vm NAME] [--json PATH]
//! cargo run --release -p pvm-benches -- --doom [--doom-tics N] [--vm NAME]
//! ```

use clap::Parser;
use pvm_benches::manifest;
use pvm_benches::measure::{measure, memory_per_instance, Budget, Phase};
use pvm_benches::report::{markdown, splice, Results, RunInfo};
use pvm_benches::vms;
use pvm_testkit::machine;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Compare our executor with wasmtime, PolkaVM and native code on the same programs")]
struct Args {
    /// Small sizes and short sampling: finishes in minutes.
    #[arg(long)]
    quick: bool,
    /// Only programs whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Only VMs whose name contains this.
    #[arg(long)]
    vm: Option<String>,
    /// Also write one JSON record per (program, vm, phase) here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The markdown file whose VM comparison section is rewritten.
    #[arg(long, default_value_os_t = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md"))]
    output: PathBuf,
    /// Print only; do not touch the markdown file.
    #[arg(long)]
    no_write: bool,
    /// Measure Doom instead (compile time and tics per second on every VM; its own section).
    #[arg(long)]
    doom: bool,
    /// Tics each VM runs with `--doom`.
    #[arg(long, default_value_t = 700)]
    doom_tics: u32,
    /// The program manifest.
    #[arg(long, default_value_os_t = manifest::default_manifest_path())]
    manifest: PathBuf,
}

fn machine() -> String {
    format!("{}, {} cores", machine::cpu_model(), machine::cores())
}

fn command_line() -> String {
    format!("cargo run --release -p pvm-benches -- {}", std::env::args().skip(1).collect::<Vec<_>>().join(" "))
        .trim_end()
        .to_string()
}

fn run_doom(args: &Args) -> ExitCode {
    use pvm_benches::doom;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/doom");
    let read = |name: &str| -> Result<Vec<u8>, String> {
        let path = root.join(name);
        std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))
    };
    let inputs = (|| -> Result<_, String> {
        let (blob, _) = pvm_tools::doom::program_blob(read("doom_64.elf.zst")?).map_err(|err| err.to_string())?;
        let wad: std::sync::Arc<[u8]> = pvm_tools::doom::decompress_if_zstd(read("freedoom1.wad.zst")?)?.into();
        let keys = String::from_utf8(read("demo.keys")?).map_err(|err| err.to_string())?;
        let events = pvm_tools::doom::keys::parse(&keys)?;
        Ok((blob, wad, events))
    })();
    let (blob, wad, events) = match inputs {
        Ok(inputs) => inputs,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    let mut failed = false;
    for (name, backend) in doom::VMS {
        if args.vm.as_ref().is_some_and(|filter| !name.contains(filter.as_str())) {
            continue;
        }
        match doom::measure(name, backend, &blob, &wad, &events, args.doom_tics, 9) {
            Ok(row) => {
                println!(
                    "doom {name:<16} compile fresh {:>9.2} ms  warm {:>9.2} ms  {:>7.1} tics/s  gas {:?}  last frame {:016x}",
                    row.compile.as_secs_f64() * 1e3,
                    row.warm_compile.as_secs_f64() * 1e3,
                    row.tics_per_second(),
                    row.gas_used,
                    row.last_frame_hash.unwrap_or(0)
                );
                rows.push(row);
            }
            Err(err) => {
                eprintln!("error: doom / {name}: {err}");
                failed = true;
            }
        }
    }
    let hashes: Vec<_> = rows.iter().map(|row| row.last_frame_hash).collect();
    if hashes.windows(2).any(|pair| pair[0] != pair[1]) {
        eprintln!("error: the VMs ended on different frames: {hashes:x?}");
        failed = true;
    }
    let section = doom::markdown(&rows, &command_line(), &machine::today(), &machine(), blob.len());
    println!("\n{section}");
    if !args.no_write && !failed {
        let existing = std::fs::read_to_string(&args.output).unwrap_or_default();
        if let Err(err) = std::fs::write(&args.output, doom::splice(&existing, &section)) {
            eprintln!("error: cannot write {}: {err}", args.output.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", args.output.display());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.doom {
        return run_doom(&args);
    }

    let programs = match manifest::load(&args.manifest, args.quick) {
        Ok(programs) => programs,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let programs: Vec<_> =
        programs.into_iter().filter(|p| args.filter.as_ref().is_none_or(|f| p.name.contains(f.as_str()))).collect();
    let (all_vms, notes) = vms::all();
    let vms: Vec<_> =
        all_vms.into_iter().filter(|vm| args.vm.as_ref().is_none_or(|f| vm.name().contains(f.as_str()))).collect();

    let scale = if args.quick { 1 } else { 4 };
    let budget = |phase: Phase| match phase {
        Phase::Execute | Phase::Oneshot => {
            Budget { time: Duration::from_millis(300 * scale), min_samples: 3, max_samples: 50 }
        }
        Phase::Compile | Phase::CompileFresh => {
            Budget { time: Duration::from_millis(200 * scale), min_samples: 5, max_samples: 200 }
        }
        Phase::Instantiate => Budget { time: Duration::from_millis(100 * scale), min_samples: 10, max_samples: 2000 },
    };

    let mut results = Results { notes, ..Default::default() };
    results.vms = vms.iter().map(|vm| vm.name().to_string()).collect();
    results.programs = programs.iter().map(|p| p.name.clone()).collect();
    for program in &programs {
        results.args.insert(program.name.clone(), program.size.arg);
        for vm in &vms {
            for phase in Phase::ALL {
                if phase != Phase::Execute && !vm.has_setup_phases() {
                    continue;
                }
                if phase == Phase::CompileFresh && !vm.has_fresh() {
                    continue;
                }
                match measure(vm.as_ref(), program, phase, budget(phase)) {
                    Ok(stats) => {
                        println!(
                            "{:<14} {:<24} {:<12} median {:>10}  [{} .. {}]  n={}",
                            program.name,
                            vm.name(),
                            phase.name(),
                            pvm_benches::report::format_seconds(stats.median.as_secs_f64()),
                            pvm_benches::report::format_seconds(stats.min.as_secs_f64()),
                            pvm_benches::report::format_seconds(stats.max.as_secs_f64()),
                            stats.samples
                        );
                        results.cells.insert((program.name.clone(), vm.name().to_string(), phase), stats);
                    }
                    Err(err) => {
                        let message = format!("{} / {} / {}: {err}", program.name, vm.name(), phase.name());
                        eprintln!("error: {message}");
                        results.errors.push(message);
                        break;
                    }
                }
            }
            if vm.has_setup_phases() {
                if let Ok(compiled) = vm.compile(program) {
                    match memory_per_instance(compiled.as_ref(), 32) {
                        Ok(Some(bytes)) => {
                            results.memory.insert((program.name.clone(), vm.name().to_string()), bytes);
                        }
                        Ok(None) => {}
                        Err(err) => results.errors.push(format!("{} / {} / memory: {err}", program.name, vm.name())),
                    }
                }
            }
        }
    }

    let info = RunInfo {
        command: command_line(),
        date: machine::today(),
        machine: machine(),
        mode: if args.quick { "quick" } else { "full" },
    };
    let section = markdown(&results, &info);
    println!("\n{section}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&results.records()).expect("records serialize");
        if let Err(err) = std::fs::write(path, json) {
            eprintln!("error: cannot write {}: {err}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if !args.no_write {
        let existing = std::fs::read_to_string(&args.output).unwrap_or_default();
        if let Err(err) = std::fs::write(&args.output, splice(&existing, &section)) {
            eprintln!("error: cannot write {}: {err}", args.output.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", args.output.display());
    }
    if results.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} cells failed; see above", results.errors.len());
        ExitCode::FAILURE
    }
}
