//! A profiling harness for the interpreter: `interp_profile new|run BLOB EXPORT ARG ITERATIONS`.
//!
//! `new` creates (and drops) an instance `ITERATIONS` times; `run` calls the export
//! `ITERATIONS` times, each on a fresh instance; `live` does the same but keeps the instances
//! alive and reports the resident memory they added. Meant for `perf` and
//! `valgrind --tool=callgrind`.

use pvm_executor::program::Reg;
use pvm_executor::{BackendKind, Config, Engine, Exit, GasMetering, Instance, Module};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: interp_profile new|run|live BLOB EXPORT ARG ITERATIONS");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[2]).expect("cannot read the blob");
    let arg: u64 = args[4].parse().expect("ARG is a number");
    let iterations: usize = args[5].parse().expect("ITERATIONS is a number");
    let mut config = Config::new();
    config
        .backend(BackendKind::Interpreter)
        .gas_metering(Some(GasMetering::Sync))
        .cache_modules(false)
        .allow_env_override(false);
    let engine = Engine::new(&config).expect("an engine");
    let module = Module::from_blob(&engine, &bytes).expect("the blob loads");
    if let Some(map) = module.memory_map() {
        eprintln!("{map:?}");
    }
    let mut checksum = 0u64;
    let mut times = Vec::new();
    let mut live = Vec::new();
    let resident_before = resident_bytes();
    for _ in 0..iterations {
        let start = std::time::Instant::now();
        let mut instance = Instance::new(&module).expect("instantiation");
        if args[1] == "new" {
            times.push(start.elapsed());
            checksum = checksum.wrapping_add(instance.heap_size() as u64);
            drop(instance);
            continue;
        }
        instance.set_gas(i64::MAX / 2);
        instance.prepare_call(&args[3], &[arg]).expect("the export exists");
        let start = std::time::Instant::now();
        let exit = instance.run().expect("the call runs");
        times.push(start.elapsed());
        match exit {
            Exit::Halt => checksum = checksum.wrapping_add(instance.reg(Reg::A0)),
            other => panic!("stopped with {other}"),
        }
        if args[1] == "live" {
            live.push(instance);
        }
    }
    if args[1] == "live" {
        let added = resident_bytes().saturating_sub(resident_before);
        println!("{} KiB resident per live instance after its call", added / 1024 / iterations.max(1) as u64);
    }
    times.sort();
    match times.get(times.len() / 2) {
        Some(median) => println!("{checksum:x} median {median:?}"),
        None => println!("{checksum:x}"),
    }
}

/// Resident memory of this process in bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()).unwrap_or(0) * 4096
}
