//! Every benchmark program (`testdata/bench-programs`, described by `programs.json`) returns its
//! recorded checksum, and uses the same gas, on the interpreter and on the compiler (with
//! synchronous and asynchronous metering).

use pvm_executor::{BackendKind, Exit, GasMetering, Instance, Module};
use pvm_testkit::{engine, read_testdata};

/// `(exit, A0, gas used)` of one call with a fresh instance.
fn run(backend: BackendKind, metering: Option<GasMetering>, blob: &[u8], export: &str, arg: u64) -> (Exit, u64, i64) {
    let module = Module::from_blob(&engine(backend, metering), blob).expect("benchmark blob loads");
    let mut instance = Instance::new(&module).expect("instance");
    let gas = i64::MAX / 2;
    instance.set_gas(gas);
    instance.prepare_call(export, &[arg]).expect("export exists");
    let exit = instance.run().expect("runs");
    (exit, instance.reg(pvm_executor::program::Reg::A0), gas - instance.gas())
}

#[test]
fn benchmark_programs_agree_on_every_backend() {
    let manifest: serde_json::Value =
        serde_json::from_slice(&read_testdata("bench-programs/programs.json")).expect("manifest is JSON");
    let programs = manifest["programs"].as_object().expect("programs");
    assert!(programs.len() >= 10, "the manifest lists the benchmark programs");
    let compiler = pvm_testkit::require_compiler();
    for (name, program) in programs {
        let file = program["file"].as_str().expect("file");
        let export = program["export"].as_str().expect("export");
        let arg = program["quick"]["arg"].as_u64().expect("arg");
        let checksum = u64::from_str_radix(program["quick"]["checksum"].as_str().expect("checksum"), 16).unwrap();
        let blob = read_testdata(&format!("bench-programs/{file}.polkavm"));

        let reference = run(BackendKind::Interpreter, Some(GasMetering::Sync), &blob, export, arg);
        assert_eq!(reference.0, Exit::Halt, "{name} on the interpreter");
        assert_eq!(reference.1, checksum, "{name}: interpreter checksum");
        if !compiler {
            continue;
        }
        let compiled = run(BackendKind::Compiler, Some(GasMetering::Sync), &blob, export, arg);
        assert_eq!(compiled, reference, "{name}: compiler (sync gas) against the interpreter");
        let compiled_async = run(BackendKind::Compiler, Some(GasMetering::Async), &blob, export, arg);
        assert_eq!(compiled_async, reference, "{name}: compiler (async gas) against the interpreter");
        let unmetered = run(BackendKind::Compiler, None, &blob, export, arg);
        assert_eq!((unmetered.0, unmetered.1), (Exit::Halt, checksum), "{name}: compiler without gas");
        // Just enough gas completes; one less runs out, on every backend and mode.
        let used = reference.2;
        for (backend, metering) in [
            (BackendKind::Interpreter, GasMetering::Sync),
            (BackendKind::Compiler, GasMetering::Sync),
            (BackendKind::Compiler, GasMetering::Async),
        ] {
            let module = Module::from_blob(&engine(backend, Some(metering)), &blob).unwrap();
            for (gas, expected) in [(used, Exit::Halt), (used - 1, Exit::OutOfGas)] {
                let mut instance = Instance::new(&module).unwrap();
                instance.set_gas(gas);
                instance.prepare_call(export, &[arg]).unwrap();
                assert_eq!(instance.run().unwrap(), expected, "{name} {backend:?} {metering:?} with {gas} gas");
            }
        }
    }
}
