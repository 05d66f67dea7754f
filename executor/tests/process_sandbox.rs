//! The process sandbox: compiled code in worker processes gives the same results as in-process,
//! a worker that issues a system call its seccomp filter does not allow is killed and the
//! engine carries on with a fresh one, and workers hold no host memory.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, RawProgram, Reg};
use pvm_executor::{
    BackendKind, Config, Engine, Error, Exit, GasMetering, Instance, Module, ProcessSandboxError, SandboxKind,
};

fn engine(sandbox: SandboxKind) -> Engine {
    let mut config = Config::new();
    config.backend(BackendKind::Compiler).gas_metering(Some(GasMetering::Sync)).sandbox(sandbox);
    Engine::new(&config).unwrap_or_else(|error| panic!("a {sandbox:?} engine: {error}"))
}

fn raw(body: impl FnOnce(&mut CodeBuilder)) -> RawProgram {
    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    body(&mut code);
    RawProgram::from_code(code.build().expect("the test program assembles").code)
}

/// Sums 1..=A0 into A1, making a host call every iteration, storing the running sum to
/// memory; then page-faults on purpose.
fn looping_program() -> RawProgram {
    raw(|code| {
        code.push(Instruction::load_imm(Reg::A2, 0x20000));
        code.push(Instruction::fallthrough());
        let top = code.new_label();
        code.bind(top);
        code.push(Instruction::add_64(Reg::A1, Reg::A1, Reg::A0));
        code.push(Instruction::store_indirect_u64(Reg::A1, Reg::A2, 0));
        code.push(Instruction::ecalli(7));
        code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, -1i32 as u32));
        code.push_branch(Instruction::branch_not_eq_imm(Reg::A0, 0, 0), top);
        code.push(Instruction::load_imm(Reg::A3, 0x30000));
        code.push(Instruction::store_indirect_u64(Reg::A1, Reg::A3, 0));
        code.push(Instruction::trap());
    })
}

/// Everything observable of one run: each exit with registers and gas, and the data page.
fn observe(engine: &Engine, program: &RawProgram) -> Vec<(Exit, Vec<u64>, i64, Vec<u8>)> {
    let module = Module::from_raw(engine, program).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.map_memory(0x20000, 0x1000, true).unwrap();
    instance.set_reg(Reg::A0, 50);
    instance.set_gas(100_000);
    instance.set_next_pc(0);
    let mut seen = Vec::new();
    loop {
        let exit = instance.run().unwrap();
        let mut page = vec![0; 16];
        instance.read_memory(0x20000, &mut page).unwrap();
        let regs = (0..13).map(|i| instance.reg(Reg::from_index(i).unwrap())).collect();
        seen.push((exit, regs, instance.gas(), page));
        match exit {
            Exit::HostCall(_) => instance.set_reg(Reg::A5, instance.reg(Reg::A5) + 1),
            _ => break,
        }
    }
    seen
}

#[test]
fn the_process_sandbox_runs_like_the_in_process_one() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let program = looping_program();
    let expected = observe(&engine(SandboxKind::InProcess), &program);
    assert_eq!(expected.len(), 51, "50 host calls, then the page fault: {:?}", expected.first());
    assert_eq!(expected.last().unwrap().0, Exit::PageFault(0x30000));
    let process = engine(SandboxKind::Process);
    assert_eq!(process.sandbox(), SandboxKind::Process);
    assert_eq!(observe(&process, &program), expected);
    // Again on the same engine: workers reused, mappings and protection already in place.
    assert_eq!(observe(&process, &program), expected);
}

#[test]
fn a_worker_that_makes_a_forbidden_system_call_dies_and_is_replaced() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let engine = engine(SandboxKind::Process);
    let program = looping_program();
    let expected = observe(&engine, &program);
    // getpid, openat, write, fork: all outside the filter.
    for number in [libc_getpid(), 257, 1, 57] {
        match engine.process_sandbox_try_syscall(number) {
            Some(Err(Error::ProcessSandbox(ProcessSandboxError::WorkerDied { signal: Some(31), .. }))) => {}
            other => panic!("system call {number}: expected the worker to die of SIGSYS, got {other:?}"),
        }
        assert_eq!(observe(&engine, &program), expected, "the engine carries on after a dead worker");
    }
}

fn libc_getpid() -> i64 {
    39
}
