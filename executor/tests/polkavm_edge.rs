//! The edge programs where PolkaVM 0.37 and the Gray Paper part ways (`testdata/polkavm-edge/`,
//! see its README): on container blobs both of our backends give PolkaVM 0.37's end state, pc
//! and gas (`Semantics::PolkaVm`), except for the one blob that shows a PolkaVM interpreter bug.
//! The `pvm-reference-diff` crate runs the same blobs on PolkaVM itself.

use pvm_executor::program::BlobErrorKind;
use pvm_executor::{BackendKind, Config, Engine, Error, Exit, Instance, Module, PanicReason};

const GAS: i64 = 1_000_000;

fn fixture(name: &str) -> Vec<u8> {
    pvm_testkit::read_testdata(&format!("polkavm-edge/{name}"))
}

fn backends() -> Vec<BackendKind> {
    let mut backends = vec![BackendKind::Interpreter];
    if pvm_testkit::require_compiler() {
        backends.push(BackendKind::Compiler);
    }
    backends
}

fn load(backend: BackendKind, name: &str) -> Result<Module, Error> {
    let mut config = Config::new();
    config.backend(backend);
    let engine = Engine::new(&config).expect("engine");
    Module::from_blob(&engine, &fixture(name))
}

/// Calls `main` (started at `start` if given) with `args` and `gas`; returns the exit, the pc
/// it stopped at and the gas left.
fn run(backend: BackendKind, name: &str, args: &[u64], gas: i64, start: Option<u32>) -> (Exit, u32, i64) {
    let module = load(backend, name).unwrap_or_else(|err| panic!("{name} on {backend:?}: {err}"));
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(gas);
    instance.prepare_call("main", args).unwrap();
    if let Some(pc) = start {
        instance.set_next_pc(pc);
    }
    let exit = instance.run().unwrap();
    (exit, instance.pc().unwrap(), instance.gas())
}

#[test]
fn an_export_inside_a_basic_block_loads_and_runs_from_there() {
    for backend in backends() {
        let module = load(backend, "mid-block-export.polkavm").unwrap();
        assert_eq!(module.export_pc("main"), Some(9));
        assert!(!module.decoded().is_block_start(9), "the export is inside a block");
        // PolkaVM 0.37: the call runs from pc 9, traps at pc 9, 999998 gas left.
        let (exit, pc, gas) = run(backend, "mid-block-export.polkavm", &[], GAS, None);
        assert_eq!((exit, pc, gas), (Exit::Panic(PanicReason::Trap), 9, 999_998), "{backend:?}");
    }
}

#[test]
fn entering_inside_a_block_pays_for_the_whole_block() {
    for backend in backends() {
        // PolkaVM 0.37: started at pc 10, inside a block, it charges the whole block that
        // contains pc 10 and finishes with 999997 left (the rest of the block alone would leave
        // 999998).
        let (exit, pc, gas) = run(backend, "mid-block-entry-gas.polkavm", &[], GAS, Some(10));
        assert_eq!(exit, Exit::Halt, "{backend:?}");
        assert_eq!(gas, 999_997, "{backend:?} stopped at pc {pc}");
    }
}

#[test]
fn a_fallthrough_off_the_end_of_the_code_traps_at_itself() {
    for backend in backends() {
        // PolkaVM 0.37: one `fallthrough`, then the end of the code: trap at pc 0, 1 gas.
        let (exit, pc, gas) = run(backend, "run-off-end-revive.polkavm", &[], GAS, None);
        assert_eq!((exit, pc, gas), (Exit::Panic(PanicReason::Trap), 0, GAS - 1), "{backend:?}");
    }
}

#[test]
fn a_conditional_branch_that_is_the_last_instruction_traps() {
    for backend in backends() {
        // PolkaVM 0.37, with A4 = 0x3c (the branch would be taken): trap at the branch, pc 2,
        // with the 3 gas of its block charged.
        let args = [0, 0, 0, 0, 0x3c];
        let (exit, pc, gas) = run(backend, "branch-at-end-of-code.polkavm", &args, GAS, None);
        assert_eq!((exit, pc, gas), (Exit::Panic(PanicReason::Trap), 2, GAS - 3), "{backend:?}");
        // Not taken, it traps the same way.
        let (exit, pc, gas) = run(backend, "branch-at-end-of-code.polkavm", &[], GAS, None);
        assert_eq!((exit, pc, gas), (Exit::Panic(PanicReason::Trap), 2, GAS - 3), "{backend:?}");
    }
}

#[test]
fn jam_v1_code_that_can_run_off_its_end_is_refused() {
    for backend in backends() {
        // PolkaVM 0.37: "validation failed at offset 13".
        let err = load(backend, "run-off-end-jam.polkavm").map(drop).unwrap_err();
        let Error::Blob(blob) = &err else { panic!("{backend:?}: {err}") };
        assert_eq!(blob.kind, BlobErrorKind::RunsOffEnd { pc: 6, code_length: 13 }, "{err}");
        assert!(err.to_string().contains("offset 13"), "{err}");
    }
}

/// PolkaVM 0.37's interpreter lets this guest load and store in the guard page below a 12 KiB
/// stack (and its host-side read of the stack returns zeros); its recompiler page-faults. We
/// page-fault on both backends, like the recompiler: this is PolkaVM's bug, not copied.
#[test]
fn the_guard_page_below_a_12_kib_stack_faults_unlike_polkavm_0_37s_interpreter() {
    for backend in backends() {
        let args = [0, 0x1122_3344_5566_7788];
        let (exit, pc, gas) = run(backend, "polkavm-interp-stack-guard.polkavm", &args, 1_000, None);
        assert!(matches!(exit, Exit::PageFault(_)), "{backend:?}: {exit:?} at pc {pc}, gas {gas}");
        let module = load(backend, "polkavm-interp-stack-guard.polkavm").unwrap();
        let map = module.memory_map().unwrap();
        let Exit::PageFault(address) = exit else { unreachable!() };
        let stack_low = map.stack_address_low;
        assert!(address < stack_low && address >= stack_low - 4096, "{address:#x}: the page below the stack");
    }
}
