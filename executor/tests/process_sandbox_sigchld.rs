//! The process sandbox in a program that ignores `SIGCHLD` (children are then reaped by the
//! kernel, so a dead worker leaves no status to collect): long runs, during which the host
//! checks again and again that its worker lives, still work, and a worker killed by its seccomp
//! filter is still reported as dead (without its signal). A test binary of its own, since the
//! signal disposition is process-wide.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, RawProgram, Reg};
use pvm_executor::{BackendKind, Config, Engine, Error, Exit, Instance, Module, ProcessSandboxError, SandboxKind};

#[test]
fn workers_are_watched_even_where_children_are_reaped_automatically() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    // SAFETY: sets a signal disposition; no handler runs.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let mut config = Config::new();
    config.backend(BackendKind::Compiler).sandbox(SandboxKind::Process).gas_metering(None);
    let engine = Engine::new(&config).expect("the process sandbox starts");
    // A host call, then a loop of `A1` iterations: long enough (tens of milliseconds) that the
    // host, waiting for the worker, checks several times whether it still lives.
    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    code.push(Instruction::ecalli(3));
    code.push(Instruction::fallthrough());
    let again = code.new_label();
    code.bind(again);
    code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
    code.push_branch(Instruction::branch_not_eq(Reg::A0, Reg::A1, 0), again);
    code.push(Instruction::trap());
    let program = RawProgram::from_code(code.build().unwrap().code);
    let module = Module::from_raw(&engine, &program).unwrap();
    const ITERATIONS: u64 = 100_000_000;
    let run = || {
        let mut instance = Instance::new(&module).unwrap();
        instance.set_reg(Reg::A1, ITERATIONS);
        instance.set_next_pc(0);
        assert_eq!(instance.run().unwrap(), Exit::HostCall(3));
        let started = std::time::Instant::now();
        assert!(matches!(instance.run().unwrap(), Exit::Panic(_)));
        eprintln!("the loop ran {:?} in the worker", started.elapsed());
        instance.reg(Reg::A0)
    };
    assert_eq!(run(), ITERATIONS);
    match engine.process_sandbox_try_syscall(39) {
        Some(Err(Error::ProcessSandbox(ProcessSandboxError::WorkerDied { .. }))) => {}
        other => panic!("expected the worker to die, got {other:?}"),
    }
    assert_eq!(run(), ITERATIONS, "a fresh worker after the dead one");
}
