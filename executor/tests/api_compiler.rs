//! The public API on the compiler (cases in `support/api_cases.rs`, shared with the
//! interpreter), plus what only the compiled backend has: sandboxes, code caching, clones.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

const BACKEND: pvm_executor::BackendKind = pvm_executor::BackendKind::Compiler;

#[path = "support/api_cases.rs"]
mod cases;

use pvm_executor::program::*;
use pvm_executor::*;

fn compiler(metering: Option<GasMetering>) -> Engine {
    pvm_testkit::engine(BackendKind::Compiler, metering)
}

fn raw(body: impl FnOnce(&mut CodeBuilder)) -> RawProgram {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    body(&mut code);
    RawProgram::from_code(code.build().unwrap().code)
}

#[test]
fn compiled_code_is_reused_for_identical_bytes_even_after_the_module_is_dropped() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = compiler(Some(GasMetering::Sync));
    let program = raw(|code| {
        code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        code.push(Instruction::trap());
    });
    let first = Module::from_raw(&engine, &program).unwrap();
    let length = first.native_code_len().expect("compiled");
    drop(first);
    let second = Module::from_raw(&engine, &program).unwrap();
    let third = Module::from_raw(&engine, &program).unwrap();
    assert!(second.shares_code_with(&third));
    assert_eq!(second.native_code_len(), Some(length));
    let stats = engine.code_cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 1), "the second load hit; the third reused the live module");
    // Another configuration compiles its own code.
    let unmetered = Module::from_raw(&compiler(None), &program).unwrap();
    assert!(!unmetered.shares_code_with(&second));
}

#[test]
fn page_faults_report_the_page_and_resume_after_mapping_it() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = compiler(Some(GasMetering::Sync));
    // Store 8 bytes straddling a mapped and an unmapped page, then load them back.
    let program = raw(|code| {
        code.push(Instruction::store_indirect_u64(Reg::A1, Reg::A0, 0));
        code.push(Instruction::load_indirect_u64(Reg::A2, Reg::A0, 0));
        code.push(Instruction::trap());
    });
    let module = Module::from_raw(&engine, &program).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.map_memory(0x20000, 0x1000, true).unwrap();
    instance.set_regs([0, 0, 0, 0, 0, 0, 0, 0x20ffc, 0x1122_3344_5566_7788, 0, 0, 0, 0]);
    instance.set_gas(100);
    instance.set_next_pc(0);
    assert_eq!(instance.run().unwrap(), Exit::PageFault(0x21000));
    assert_eq!(instance.pc(), Some(0));
    assert_eq!(instance.gas(), 97, "the block was charged");
    assert_eq!(instance.read_memory_vec(0x20ffc, 4).unwrap(), [0; 4], "a faulting store writes nothing");
    instance.map_memory(0x21000, 0x1000, false).unwrap();
    assert_eq!(instance.run().unwrap(), Exit::PageFault(0x21000), "read-only: still no store");
    instance.map_memory(0x21000, 0x1000, true).unwrap();
    assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::Trap));
    assert_eq!(instance.reg(Reg::A2), 0x1122_3344_5566_7788);
    assert_eq!(instance.gas(), 97, "resuming does not charge again");
}

#[test]
fn low_and_wrapping_accesses_panic() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = compiler(Some(GasMetering::Sync));
    let program = raw(|code| {
        code.push(Instruction::load_indirect_u32(Reg::A1, Reg::A0, 0));
        code.push(Instruction::trap());
    });
    let module = Module::from_raw(&engine, &program).unwrap();
    for address in [0u64, 0xffff, 0xffff_fffe] {
        let mut instance = Instance::new(&module).unwrap();
        instance.map_memory(0xffff_f000, 0x1000, true).unwrap();
        instance.set_reg(Reg::A0, address);
        instance.set_gas(10);
        instance.set_next_pc(0);
        assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::MemoryBelowMinimum), "address {address:#x}");
        assert!(!instance.is_resumable());
    }
}

#[test]
fn faults_outside_guest_code_still_reach_the_previous_handler() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    // A fault in host code while no guest runs must not be swallowed: the child process
    // dereferences an unmapped page after the handler is installed and must die by SIGSEGV.
    if std::env::var_os("PVM_FAULT_CHILD").is_some() {
        let _engine = compiler(Some(GasMetering::Sync));
        // SAFETY: deliberately faults (this is the child process the test inspects).
        unsafe {
            let page = libc_like_null_page();
            std::ptr::read_volatile(page);
        }
        unreachable!("the read above faults");
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args(["--exact", "faults_outside_guest_code_still_reach_the_previous_handler", "--nocapture"])
        .env("PVM_FAULT_CHILD", "1")
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(!status.success());
    assert_eq!(status.signal(), Some(11), "killed by SIGSEGV, as without the handler ({status:?})");
}

fn libc_like_null_page() -> *const u8 {
    // An address that is never mapped in a user process: the first page.
    std::ptr::without_provenance(8)
}

#[test]
fn cloned_instances_own_their_memory() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = compiler(Some(GasMetering::Sync));
    let program = raw(|code| {
        code.push(Instruction::store_indirect_u32(Reg::A1, Reg::A0, 0));
        code.push(Instruction::trap());
    });
    let module = Module::from_raw(&engine, &program).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.map_memory(0x20000, 0x1000, true).unwrap();
    instance.map_memory(0x21000, 0x1000, false).unwrap();
    instance.write_memory(0x21000, &[9]).unwrap();
    instance.set_regs([0, 0, 0, 0, 0, 0, 0, 0x20000, 7, 0, 0, 0, 0]);
    instance.set_gas(10);
    let mut copy = instance.clone();
    instance.set_next_pc(0);
    assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::Trap));
    assert_eq!(instance.read_memory_vec(0x20000, 1).unwrap(), [7]);
    assert_eq!(copy.read_memory_vec(0x20000, 1).unwrap(), [0], "the clone is unaffected");
    assert_eq!(copy.read_memory_vec(0x21000, 1).unwrap(), [9]);
    assert_eq!(copy.memory_regions(), instance.memory_regions());
    copy.set_reg(Reg::A1, 5);
    copy.set_next_pc(0);
    assert_eq!(copy.run().unwrap(), Exit::Panic(PanicReason::Trap));
    assert_eq!(copy.read_memory_vec(0x20000, 1).unwrap(), [5]);
    assert_eq!(copy.gas(), 8);
}

#[test]
fn many_instances_live_at_once_and_reset_cheaply() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = compiler(Some(GasMetering::Sync));
    let program = raw(|code| {
        code.push(Instruction::store_indirect_u64(Reg::A1, Reg::A0, 0));
        code.push(Instruction::trap());
    });
    let module = Module::from_raw(&engine, &program).unwrap();
    let mut instances: Vec<Instance> = (0..64).map(|_| Instance::new(&module).unwrap()).collect();
    for (i, instance) in instances.iter_mut().enumerate() {
        instance.map_memory(0x20000, 0x1000, true).unwrap();
        instance.set_regs([0, 0, 0, 0, 0, 0, 0, 0x20000, i as u64, 0, 0, 0, 0]);
        instance.set_gas(10);
        instance.set_next_pc(0);
        assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::Trap));
    }
    for (i, instance) in instances.iter_mut().enumerate() {
        assert_eq!(instance.read_memory_vec(0x20000, 8).unwrap(), (i as u64).to_le_bytes());
        instance.reset_memory();
        assert!(instance.memory_regions().is_empty());
        instance.map_memory(0x20000, 0x1000, true).unwrap();
        assert_eq!(instance.read_memory_vec(0x20000, 8).unwrap(), [0; 8], "reset memory is zero");
    }
}

#[test]
fn a_compile_only_engine_compiles_without_the_run_time_checks_and_runs_nothing() {
    // Runs even where compiled code cannot (valgrind, an old kernel): that is what it is for.
    let mut config = Config::new();
    config.backend(BackendKind::Compiler).compile_only(true);
    let engine = Engine::new(&config).expect("the compiler exists on x86-64 Linux");
    assert_eq!(engine.backend(), BackendKind::Compiler);
    let program = raw(|code| {
        code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        code.push(Instruction::trap());
    });
    let module = Module::from_raw(&engine, &program).unwrap();
    assert!(module.native_code_len().is_some_and(|length| length > 0), "compiled to native code");
    assert!(matches!(Instance::new(&module), Err(Error::CompileOnly)));
}
