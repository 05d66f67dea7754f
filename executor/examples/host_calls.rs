//! The cost of a host call's round trip (out of guest code to the host and back in), on either
//! backend:
//!
//! ```sh
//! host_calls interpreter|compiler [CALLS [TRIALS]]
//! ```
//!
//! The guest loops `CALLS` times over `ecalli 0` (and a decrement and a branch); the host
//! answers each call by setting `A1`, as a host function sets its result. Prints the process's
//! CPU time per round trip for each trial, then the lowest (the least disturbed by other load);
//! wall time off x86-64 Linux. `PVM_SANDBOX=process` runs the compiled code in the process
//! sandbox, whose worker's CPU time this process's does not include: wall time is printed
//! beside it.

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, RawProgram, Reg};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(2..=4).contains(&args.len()) {
        eprintln!("usage: host_calls interpreter|compiler [CALLS [TRIALS]]");
        std::process::exit(2);
    }
    let backend = BackendKind::from_name(&args[1]).expect("the backend is interpreter or compiler");
    let calls: u64 = args.get(2).map_or(5_000_000, |calls| calls.parse().expect("CALLS is a number"));
    let trials: usize = args.get(3).map_or(5, |trials| trials.parse().expect("TRIALS is a number"));

    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    let again = code.new_label();
    let done = code.new_label();
    code.bind(again);
    code.push(Instruction::ecalli(0));
    code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, u32::MAX));
    code.push_branch(Instruction::branch_not_eq_imm(Reg::A0, 0, 0), again);
    code.push_branch(Instruction::jump(0), done);
    code.bind(done);
    code.push(Instruction::trap());
    let program = RawProgram::from_code(code.build().expect("the program assembles").code);

    // `PVM_SANDBOX` chooses the sandbox.
    let mut config = Config::from_env().expect("PVM_SANDBOX is in-process or process");
    config.backend(backend).gas_metering(None);
    let engine = Engine::new(&config).expect("the backend is supported here");
    let module = Module::from_raw(&engine, &program).expect("the program loads");
    let (mut best, mut best_wall) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..trials {
        let mut instance = Instance::new(&module).expect("an instance");
        instance.set_reg(Reg::A0, calls);
        instance.set_next_pc(0);
        let start = cpu_time();
        let wall = std::time::Instant::now();
        let mut seen = 0u64;
        loop {
            match instance.run().expect("an exit") {
                Exit::HostCall(0) => {
                    seen += 1;
                    instance.set_reg(Reg::A1, seen);
                }
                exit => {
                    assert!(matches!(exit, Exit::Panic(_)), "the loop ends at its trap, not {exit:?}");
                    break;
                }
            }
        }
        let elapsed = cpu_time().saturating_sub(start);
        let wall = wall.elapsed();
        assert_eq!(seen, calls);
        let ns = elapsed.as_secs_f64() * 1e9 / calls as f64;
        let wall_ns = wall.as_secs_f64() * 1e9 / calls as f64;
        println!("{ns:.2} ns per round trip ({wall_ns:.2} ns wall)");
        best = best.min(ns);
        best_wall = best_wall.min(wall_ns);
    }
    println!(
        "lowest: {best:.2} ns per round trip ({best_wall:.2} ns wall; {} backend, {} sandbox, {calls} calls per trial)",
        args[1],
        engine.sandbox().name()
    );
}

/// The CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid `timespec` for the call to fill in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Wall time since the first call, where this crate does not depend on `libc` (only the
/// interpreter runs there).
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
