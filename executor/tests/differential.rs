//! Differential testing: the compiler against the interpreter on random programs.
//!
//! Every case is compared at every exit (status, pc, registers, gas, resumability and all
//! accessible memory); see `support/differential.rs` for what the programs contain. The number
//! of programs is `PVM_DIFF_PROGRAMS` (default 100,000), the first seed `PVM_DIFF_SEED`; the
//! compiled code runs in the sandbox `PVM_SANDBOX` names (default in-process). A second test
//! runs the first `PVM_DIFF_PROCESS_PROGRAMS` (default 2,000) of the same programs with the
//! compiled code in the process sandbox.

#[path = "support/differential.rs"]
mod differential;

use differential::{compare, describe, generate, Expect};
use pvm_executor::{BackendKind, Config, Engine, GasMetering, SandboxKind};

fn engine(backend: BackendKind, metering: Option<GasMetering>, sandbox: SandboxKind) -> Engine {
    let mut config = Config::new();
    config.backend(backend).gas_metering(metering).cache_modules(false).sandbox(sandbox);
    Engine::new(&config).expect("backend available")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

#[test]
fn compiler_matches_interpreter_on_random_programs() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let sandbox = pvm_testkit::sandbox_from_env().unwrap_or_default();
    differential(env_u64("PVM_DIFF_PROGRAMS", 100_000), sandbox);
}

#[test]
fn compiler_in_the_process_sandbox_matches_interpreter_on_random_programs() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    differential(env_u64("PVM_DIFF_PROCESS_PROGRAMS", 2_000), SandboxKind::Process);
}

fn differential(count: u64, sandbox: SandboxKind) {
    let first = env_u64("PVM_DIFF_SEED", 0x5eed_0000);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4) as u64;
    let started = std::time::Instant::now();
    let results: Vec<(u64, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                scope.spawn(move || {
                    let interpreter = engine(BackendKind::Interpreter, Some(GasMetering::Sync), sandbox);
                    let compiler = engine(BackendKind::Compiler, Some(GasMetering::Sync), sandbox);
                    let compiler_async = engine(BackendKind::Compiler, Some(GasMetering::Async), sandbox);
                    let interpreter_off = engine(BackendKind::Interpreter, None, sandbox);
                    let compiler_off = engine(BackendKind::Compiler, None, sandbox);
                    let (mut programs, mut exits, mut failures) = (0u64, 0usize, Vec::new());
                    let mut seed = first + worker;
                    while seed < first + count {
                        let case = generate(seed);
                        let mut check = |reference: &Engine, subject: &Engine, expect, what: &str| match compare(
                            reference, subject, &case, expect,
                        ) {
                            Ok(compared) => exits += compared,
                            Err(difference) => {
                                failures.push(format!("seed {seed} ({what}): {difference}\n{}", describe(&case)))
                            }
                        };
                        check(&interpreter, &compiler, Expect::Identical, "sync gas");
                        if seed % 4 == 0 {
                            check(&interpreter, &compiler_async, Expect::AsyncGas, "async gas");
                        }
                        if case.terminates {
                            check(&interpreter_off, &compiler_off, Expect::Identical, "no gas");
                        }
                        programs += 1;
                        if failures.len() >= 5 {
                            break;
                        }
                        seed += workers;
                    }
                    (programs, exits, failures)
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("worker")).collect()
    });
    let programs: u64 = results.iter().map(|(programs, _, _)| programs).sum();
    let exits: usize = results.iter().map(|(_, exits, _)| exits).sum();
    let failures: Vec<&String> = results.iter().flat_map(|(_, _, failures)| failures).collect();
    eprintln!(
        "{programs} programs, {exits} exits compared in {:.1} s on {workers} threads ({} sandbox)",
        started.elapsed().as_secs_f64(),
        sandbox.name()
    );
    for failure in &failures {
        eprintln!("{failure}");
    }
    assert!(failures.is_empty(), "{} programs differ (first ones above)", failures.len());
    assert_eq!(programs, count);
}
