//! A profiling harness for either backend, meant for `perf` and `valgrind --tool=callgrind`
//! (whose instruction counts are stable where wall times are not):
//!
//! ```sh
//! profile interpreter|compiler compile|new|run|live BLOB EXPORT ARG ITERATIONS
//! ```
//!
//! `compile` creates the module `ITERATIONS` times (no module cache); `new` creates and drops
//! an instance `ITERATIONS` times; `run` calls the export `ITERATIONS` times, each on a fresh
//! instance; `live` does the same but keeps the instances alive and reports the resident memory
//! they added. Prints a checksum and the median time of the measured step. `NOGAS=1` turns gas
//! metering off; `PVM_SANDBOX=process` runs compiled code in the process sandbox.

use pvm_executor::program::Reg;
use pvm_executor::{BackendKind, Config, Engine, Exit, GasMetering, Instance, Module};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: profile interpreter|compiler compile|new|run|live BLOB EXPORT ARG ITERATIONS");
        std::process::exit(2);
    }
    let backend = BackendKind::from_name(&args[1]).expect("the backend is interpreter or compiler");
    let mode = args[2].as_str();
    let bytes = std::fs::read(&args[3]).expect("cannot read the blob");
    let export = &args[4];
    let arg: u64 = args[5].parse().expect("ARG is a number");
    let iterations: usize = args[6].parse().expect("ITERATIONS is a number");
    let metering = if std::env::var_os("NOGAS").is_some() { None } else { Some(GasMetering::Sync) };
    let mut config = Config::from_env().expect("PVM_SANDBOX is in-process or process");
    config.backend(backend).gas_metering(metering).cache_modules(false);
    let engine = Engine::new(&config).expect("the backend is supported here");
    let module = Module::from_blob(&engine, &bytes).expect("the blob loads");
    let mut checksum = 0u64;
    let mut times = Vec::new();
    let mut live = Vec::new();
    let resident_before = resident_bytes();
    for _ in 0..iterations {
        let start = Instant::now();
        match mode {
            "compile" => {
                let module = Module::from_blob(&engine, &bytes).expect("the blob loads");
                times.push(start.elapsed());
                checksum = checksum.wrapping_add(module.exports().len() as u64);
            }
            "new" => {
                let instance = Instance::new(&module).expect("instantiation");
                times.push(start.elapsed());
                checksum = checksum.wrapping_add(u64::from(instance.heap_size()));
            }
            "run" | "live" => {
                let mut instance = Instance::new(&module).expect("instantiation");
                instance.set_gas(i64::MAX / 2);
                instance.prepare_call(export, &[arg]).expect("the export exists");
                let start = Instant::now();
                let exit = instance.run().expect("the call runs");
                times.push(start.elapsed());
                match exit {
                    Exit::Halt => checksum = checksum.wrapping_add(instance.reg(Reg::A0)),
                    other => panic!("stopped with {other}"),
                }
                if mode == "live" {
                    live.push(instance);
                }
            }
            other => panic!("unknown mode `{other}` (compile, new, run or live)"),
        }
    }
    if mode == "live" {
        let added = resident_bytes().saturating_sub(resident_before);
        println!("{} KiB resident per live instance after its call", added / 1024 / iterations.max(1) as u64);
    }
    println!("{checksum:x} median {:?}", median(&mut times));
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Resident memory of this process in bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()).unwrap_or(0) * 4096
}
