//! Our interpreter and JIT against PolkaVM 0.37's interpreter and recompiler.
//!
//! * `random_programs_*`: 20,000 random container blobs per run (two halves, one per core);
//!   `PVM_REFERENCE_DIFF_SEED` moves the seeds, `PVM_REFERENCE_DIFF_PROGRAMS` sets the count.
//! * `long_run` (ignored): `PVM_REFERENCE_DIFF_PROGRAMS` programs (default 1,000,000), for
//!   `cargo test -p pvm-reference-diff --release -- --ignored --nocapture`.
//! * `edge_fixtures_*`: the blobs of `testdata/polkavm-edge/` on PolkaVM itself.

use pvm_reference_diff::{compare, run_polkavm, Backends, Case, StopKind, Tally};
use std::time::Instant;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|value| value.parse().unwrap_or_else(|_| panic!("{name}={value}: not a number")))
}

fn seed() -> u64 {
    env_u64("PVM_REFERENCE_DIFF_SEED").unwrap_or(0)
}

fn check(name: &str, first_seed: u64, count: u64) {
    let backends = Backends::new();
    if let Some(reason) = &backends.recompiler_unavailable {
        println!("PolkaVM's recompiler cannot run here ({reason}); comparing against its interpreter");
    }
    let started = Instant::now();
    let tally = Tally::run(&backends, first_seed, count);
    println!(
        "{name}: {} programs from seed {first_seed} on {:?}: {} refused at load, last stops (finished, trap, out of gas, host call) {:?}, {} where PolkaVM's interpreter disagreed with its recompiler, {} divergences, {:.1} s",
        tally.programs,
        backends.names(),
        tally.refused,
        tally.stops,
        tally.polkavm_disagreements,
        tally.divergences.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.divergences.is_empty(),
        "{} divergences:\n{}",
        tally.divergences.len(),
        tally.divergences.join("\n\n")
    );
    // The generator reaches every kind of end, and the jam_v1 refusal.
    assert!(tally.refused > 0 && tally.stops.iter().take(3).all(|&count| count > 0), "{tally:?}");
}

const CI_PROGRAMS: u64 = 20_000;

#[test]
fn random_programs_first_half() {
    let count = env_u64("PVM_REFERENCE_DIFF_PROGRAMS").unwrap_or(CI_PROGRAMS);
    check("first half", seed(), count / 2);
}

#[test]
fn random_programs_second_half() {
    let count = env_u64("PVM_REFERENCE_DIFF_PROGRAMS").unwrap_or(CI_PROGRAMS);
    check("second half", seed() + count / 2, count - count / 2);
}

#[test]
#[ignore = "long: a million programs; run with --ignored"]
fn long_run() {
    let count = env_u64("PVM_REFERENCE_DIFF_PROGRAMS").unwrap_or(1_000_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let first = seed();
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (from, to) = (first + count * thread / threads, first + count * (thread + 1) / threads);
            std::thread::spawn(move || {
                // In chunks, with progress on stderr, so that a run cut short still says how far
                // it got.
                let backends = Backends::new();
                let mut total = Tally::default();
                let mut seed = from;
                while seed < to {
                    let chunk = (to - seed).min(10_000);
                    let tally = Tally::run(&backends, seed, chunk);
                    total.programs += tally.programs;
                    total.divergences.extend(tally.divergences);
                    seed += chunk;
                    eprintln!(
                        "thread {thread}: {} programs, {} divergences, {:.0} s",
                        total.programs,
                        total.divergences.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
                total
            })
        })
        .collect();
    let tallies: Vec<Tally> = handles.into_iter().map(|handle| handle.join().expect("a thread")).collect();
    let programs: u64 = tallies.iter().map(|tally| tally.programs).sum();
    let divergences: Vec<String> = tallies.into_iter().flat_map(|tally| tally.divergences).collect();
    println!(
        "long run: {programs} programs from seed {first}, {} divergences, {:.1} s",
        divergences.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(divergences.is_empty(), "{}", divergences.join("\n\n"));
}

fn fixture(name: &str) -> Vec<u8> {
    pvm_testkit::read_testdata(&format!("polkavm-edge/{name}"))
}

fn fixture_case(name: &str, entry: Option<u32>, args: &[u64], gas: i64) -> Case {
    let blob = fixture(name);
    let parsed = polkavm::ProgramBlob::parse(blob.clone().into()).expect("PolkaVM parses the fixture");
    let export = parsed.exports().next().expect("an export").program_counter().0;
    let stack_top = {
        let engine = polkavm::Engine::new(&polkavm::Config::new()).expect("engine");
        polkavm::Module::from_blob(&engine, &polkavm::ModuleConfig::new(), parsed)
            .map_or(0, |module| module.default_sp())
    };
    // PolkaVM's calling convention: registers cleared, RA = 0xffff0000, SP at the stack's top.
    let mut regs = [0u64; 13];
    regs[0] = 0xffff_0000;
    regs[1] = stack_top;
    for (reg, &value) in regs[7..].iter_mut().zip(args) {
        *reg = value;
    }
    Case { seed: 0, blob, entry: entry.unwrap_or(export), regs, gas, page_size: Default::default() }
}

/// The five edge families: identical on every backend, ours and PolkaVM's.
#[test]
fn edge_fixtures_match_polkavm() {
    let backends = Backends::new();
    for (name, entry, args) in [
        ("mid-block-export.polkavm", None, &[][..]),
        ("mid-block-entry-gas.polkavm", Some(10), &[][..]),
        ("run-off-end-revive.polkavm", None, &[][..]),
        ("branch-at-end-of-code.polkavm", None, &[0, 0, 0, 0, 0x3c][..]),
        ("branch-at-end-of-code.polkavm", None, &[][..]),
        ("run-off-end-jam.polkavm", None, &[][..]),
    ] {
        let case = fixture_case(name, entry, args, 1_000_000);
        let outcome = compare(&backends, &case).unwrap_or_else(|difference| panic!("{name}: {difference}"));
        assert_eq!(outcome.loaded, name != "run-off-end-jam.polkavm", "{name}");
    }
}

/// The sixth fixture: PolkaVM 0.37's interpreter lets the guest use the guard page below a
/// 12 KiB stack; its recompiler stops it there (a trap: its memory faults are traps), and so do
/// we, on both backends (our exit is a page fault). We keep the fault.
#[test]
fn edge_fixture_stack_guard_faults_like_polkavm_recompiler() {
    let backends = Backends::new();
    let case = fixture_case("polkavm-interp-stack-guard.polkavm", None, &[0, 0x1122_3344_5566_7788], 1_000);
    let mut config = polkavm::Config::new();
    config.set_backend(Some(polkavm::BackendKind::Interpreter));
    let interpreter = polkavm::Engine::new(&config).unwrap();
    let interpreted = run_polkavm(&interpreter, &case).expect("loads");
    // PolkaVM's interpreter finishes: the bug we do not copy.
    assert_eq!(interpreted.stops.last().map(|stop| stop.kind), Some(StopKind::Finished), "{:?}", interpreted.stops);
    if backends.recompiler_unavailable.is_none() {
        // `compare` takes the recompiler as the reference (tolerating exactly this interpreter bug).
        let outcome = compare(&backends, &case).unwrap_or_else(|difference| panic!("{difference}"));
        assert!(outcome.polkavm_disagreement);
        assert_eq!(outcome.last_stop, Some(StopKind::Trap));
    }
    for kind in [pvm_executor::BackendKind::Interpreter, pvm_executor::BackendKind::Compiler] {
        let mut config = pvm_executor::Config::new();
        config.backend(kind);
        let engine = pvm_executor::Engine::new(&config).unwrap();
        let module = pvm_executor::Module::from_blob(&engine, &case.blob).unwrap();
        let mut instance = pvm_executor::Instance::new(&module).unwrap();
        instance.set_gas(case.gas);
        instance.prepare_call("main", &[0, 0x1122_3344_5566_7788]).unwrap();
        let exit = instance.run().unwrap();
        assert!(matches!(exit, pvm_executor::Exit::PageFault(_)), "{kind:?}: {exit:?}");
    }
}
