//! Decides whether the interpreter's handlers chain into each other with tail calls.
//!
//! A handler ends by calling the next instruction's handler; the optimiser turns that call into
//! a jump, so the stack stays flat however long the guest runs. Without optimisation the calls
//! would nest and a long run would overflow the stack, so the `pvm_tail_calls` cfg is only set
//! when the code is optimised and built without debug assertions (with them, the standard
//! library's checks keep some calls from becoming jumps). `tests/interpreter_loops.rs` checks
//! that every handler's call became a jump; this workspace's test profile builds the executor
//! that way so that the test suite runs the same dispatch as a release build.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pvm_tail_calls)");
    let optimised = matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("2" | "3" | "s" | "z"));
    let debug_assertions = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some();
    if optimised && !debug_assertions {
        println!("cargo::rustc-cfg=pvm_tail_calls");
    }
}
