//! A profiling harness for the compiler: `jit_profile compile|run BLOB EXPORT ARG ITERATIONS`.
//!
//! `compile` creates the module `ITERATIONS` times (no module cache); `run` compiles once and
//! calls the export `ITERATIONS` times, each on a fresh instance. Meant for `perf` and
//! `valgrind --tool=callgrind`, whose instruction counts are stable where wall times are not.

use pvm_executor::program::Reg;
use pvm_executor::{BackendKind, Config, Engine, Exit, GasMetering, Instance, Module};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: jit_profile compile|run BLOB EXPORT ARG ITERATIONS");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[2]).expect("cannot read the blob");
    let arg: u64 = args[4].parse().expect("ARG is a number");
    let iterations: usize = args[5].parse().expect("ITERATIONS is a number");
    let mut config = Config::new();
    let metering = if std::env::var_os("NOGAS").is_some() { None } else { Some(GasMetering::Sync) };
    config.backend(BackendKind::Compiler).gas_metering(metering).cache_modules(false).allow_env_override(false);
    let engine = Engine::new(&config).expect("the compiler is supported here");
    let module = Module::from_blob(&engine, &bytes).expect("the blob compiles");
    let mut checksum = 0u64;
    let mut times = Vec::new();
    for _ in 0..iterations {
        if args[1] == "compile" {
            let module = Module::from_blob(&engine, &bytes).expect("the blob compiles");
            checksum = checksum.wrapping_add(module.exports().len() as u64);
        } else {
            let mut instance = Instance::new(&module).expect("instantiation");
            instance.set_gas(i64::MAX / 2);
            instance.prepare_call(&args[3], &[arg]).expect("the export exists");
            let start = std::time::Instant::now();
            let exit = instance.run().expect("the call runs");
            times.push(start.elapsed());
            match exit {
                Exit::Halt => checksum = checksum.wrapping_add(instance.reg(Reg::A0)),
                other => panic!("stopped with {other}"),
            }
        }
    }
    times.sort();
    match times.get(times.len() / 2) {
        Some(median) => println!("{checksum:x} median call {median:?}"),
        None => println!("{checksum:x}"),
    }
}
