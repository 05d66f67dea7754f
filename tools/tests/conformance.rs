//! The JAM conformance vectors pass on every backend this machine has.

use pvm_executor::{BackendKind, Config, Engine};
use pvm_tools::conformance::run_dir;
use std::path::PathBuf;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("PVM_TEST_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pvm-test-vectors/programs"),
    }
}

fn run_on(backend: BackendKind) {
    let mut config = Config::new();
    config.backend(backend);
    let engine = Engine::new(&config).expect("backend available");
    let summary = run_dir(&engine, &vectors_dir()).expect("vectors readable");
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
    if !pvm_executor::compiler::is_supported() {
        eprintln!("the compiler backend does not run on this machine; only the interpreter was checked");
        return;
    }
    run_on(BackendKind::Compiler);
}
