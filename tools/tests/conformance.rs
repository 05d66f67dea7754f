//! The JAM conformance vectors (`testdata/pvm-test-vectors`) pass on both backends, and on the
//! compiler in both sandboxes.

use pvm_executor::{BackendKind, Config, Engine, GasMetering, SandboxKind};
use pvm_tools::conformance::run_dir;

fn run_on(backend: BackendKind) {
    check(&pvm_testkit::engine(backend, Some(GasMetering::Sync)));
}

fn check(engine: &Engine) {
    let summary = run_dir(engine, &pvm_testkit::testdata("pvm-test-vectors/programs")).expect("vectors readable");
    for (name, differences) in &summary.failed {
        eprintln!("FAIL {name}: {differences}");
    }
    assert_eq!(summary.passed.len(), 307, "{} failed", summary.failed.len());
    assert!(summary.failed.is_empty());
}

#[test]
fn all_vectors_pass_on_the_interpreter() {
    run_on(BackendKind::Interpreter);
}

#[test]
fn all_vectors_pass_on_the_compiler() {
    if pvm_testkit::require_compiler() {
        run_on(BackendKind::Compiler);
    }
}

#[test]
fn all_vectors_pass_on_the_compiler_in_the_process_sandbox() {
    if pvm_testkit::require_compiler() {
        let mut config = Config::new();
        config.backend(BackendKind::Compiler).gas_metering(Some(GasMetering::Sync)).sandbox(SandboxKind::Process);
        check(&Engine::new(&config).expect("the process sandbox starts"));
    }
}
