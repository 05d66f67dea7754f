//! Test support shared by the workspace's crates (a dev-dependency only).
//!
//! * [`testdata`]: the workspace's `testdata/` folder, the one place a test reads fixtures from
//!   outside its own crate (see `testdata/README.md` for what it holds and why).
//! * [`require_compiler`]: the one rule for tests of the compiled backend, so that none of
//!   them passes by skipping its work unnoticed.
//! * [`engine`]: an engine for one backend and gas metering, as most tests build it.
//! * [`random`]: what the random-program generators of the differential tests share.
//! * [`allocations`]: the largest single host allocation a piece of work makes.

pub mod allocations;
pub mod machine;
pub mod random;

use pvm_executor::{BackendKind, Config, Engine, GasMetering};
use std::io::Write;
use std::path::PathBuf;

/// The environment variable that makes a machine without the compiled backend a test
/// failure instead of a skip (`.ci/run` sets it to `1`).
pub const REQUIRE_JIT_VAR: &str = "PVM_REQUIRE_JIT";

/// `testdata/<relative>` in the workspace.
pub fn testdata(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(relative)
}

/// The bytes of `testdata/<relative>`; panics with the path when it cannot be read.
pub fn read_testdata(relative: &str) -> Vec<u8> {
    let path = testdata(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Whether the calling test should run its compiled-backend part.
///
/// Returns `true` where the compiled backend runs (x86-64 Linux with the CPU features that
/// [`pvm_executor::compiler::is_supported`] checks). Elsewhere it panics if
/// `PVM_REQUIRE_JIT=1` (a machine that must run the compiler but cannot is a failure, not a
/// skip), and otherwise prints a skip notice naming the test and returns `false`. The notice
/// is written straight to the process's stderr, past the test harness's output capture, so a
/// skip shows in a plain `cargo test` run.
pub fn require_compiler() -> bool {
    if pvm_executor::compiler::is_supported() {
        return true;
    }
    // The harness runs each test on a thread named after it.
    let current = std::thread::current();
    let test = current.name().filter(|name| *name != "main").unwrap_or("a test");
    let why = "the compiled backend does not run on this machine \
               (it needs x86-64 Linux with popcnt, lzcnt, BMI1, BMI2 and user-mode FSGSBASE)";
    if compiler_required() {
        panic!("{test}: {why}, and {REQUIRE_JIT_VAR}=1 requires it");
    }
    // Written to the stderr handle, not with `eprintln!`, which the harness captures.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}; set {REQUIRE_JIT_VAR}=1 to make this a failure");
    false
}

/// Whether `PVM_REQUIRE_JIT` is set to `1`.
fn compiler_required() -> bool {
    std::env::var_os(REQUIRE_JIT_VAR).is_some_and(|value| value == "1")
}

/// An engine for `backend` with `metering`, the rest as [`Config::new`] sets it, except the
/// sandbox: `PVM_SANDBOX=process` ([`pvm_executor::config::SANDBOX_ENV_VAR`]) runs compiled
/// code in worker processes, so that any suite can be run on the process sandbox.
pub fn engine(backend: BackendKind, metering: Option<GasMetering>) -> Engine {
    let mut config = Config::new();
    config.backend(backend).gas_metering(metering);
    if let Some(sandbox) = sandbox_from_env() {
        config.sandbox(sandbox);
    }
    Engine::new(&config).unwrap_or_else(|err| panic!("a {backend:?} engine: {err}"))
}

/// The sandbox `PVM_SANDBOX` names, if it is set; panics on a value that names none.
pub fn sandbox_from_env() -> Option<pvm_executor::SandboxKind> {
    let value = std::env::var(pvm_executor::config::SANDBOX_ENV_VAR).ok()?;
    let kind = pvm_executor::SandboxKind::from_name(value.trim());
    Some(kind.unwrap_or_else(|| panic!("PVM_SANDBOX={value:?} is neither in-process nor process")))
}
