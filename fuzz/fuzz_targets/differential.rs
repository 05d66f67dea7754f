//! Long-running differential fuzzing: compiler against interpreter.
//!
//! Each input is a 64-bit seed for the same program generator the differential test uses
//! (`executor/tests/support/differential.rs`); libFuzzer's coverage feedback steers the seeds.
//! Run with `cargo fuzz run differential` from this directory (nightly toolchain).

#![no_main]

#[path = "../../executor/tests/support/differential.rs"]
mod differential;

use libfuzzer_sys::fuzz_target;
use pvm_executor::{BackendKind, Config, Engine, GasMetering};
use std::sync::OnceLock;

struct Engines {
    interpreter: Engine,
    compiler: Engine,
    compiler_async: Engine,
    interpreter_off: Engine,
    compiler_off: Engine,
}

fn engine(backend: BackendKind, metering: Option<GasMetering>) -> Engine {
    let mut config = Config::new();
    config.backend(backend).gas_metering(metering).cache_modules(false);
    Engine::new(&config).expect("backend available")
}

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| Engines {
        interpreter: engine(BackendKind::Interpreter, Some(GasMetering::Sync)),
        compiler: engine(BackendKind::Compiler, Some(GasMetering::Sync)),
        compiler_async: engine(BackendKind::Compiler, Some(GasMetering::Async)),
        interpreter_off: engine(BackendKind::Interpreter, None),
        compiler_off: engine(BackendKind::Compiler, None),
    })
}

fuzz_target!(|seed: u64| {
    let engines = engines();
    let case = differential::generate(seed);
    let check = |reference: &Engine, subject: &Engine, expect| {
        if let Err(difference) = differential::compare(reference, subject, &case, expect) {
            panic!("seed {seed}: {difference}\n{}", differential::describe(&case));
        }
    };
    check(&engines.interpreter, &engines.compiler, differential::Expect::Identical);
    check(&engines.interpreter, &engines.compiler_async, differential::Expect::AsyncGas);
    if case.terminates {
        check(&engines.interpreter_off, &engines.compiler_off, differential::Expect::Identical);
    }
});
