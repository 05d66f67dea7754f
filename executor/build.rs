//! Decides two things at build time.
//!
//! **`pvm_compiler`: whether the crate has a compiler.** Set for x86-64 Linux, the one target
//! with a code generator and sandbox. This is the only place that tests the platform; the rest
//! of the crate says `cfg(pvm_compiler)`, in `compiler/mod.rs` (which picks the real compiler or
//! its uninhabited stand-in) and `lib.rs` (the sandbox). `Cargo.toml`'s target table, which
//! pulls in the assembler and `libc`, must name the same targets.
//!
//! **`pvm_tail_calls`: whether the interpreter's handlers may chain into each other with tail
//! calls.**
//! A handler ends by calling the next instruction's handler; the optimiser usually turns that
//! call into a jump, so the stack stays flat however long the guest runs. Without optimisation
//! the calls would nest, so the `pvm_tail_calls` cfg is only set when the code is optimised and
//! built without debug assertions (with them, the standard library's checks keep some calls from
//! becoming jumps). Even then the jump is not guaranteed: a sanitizer build (`cargo fuzz`) keeps
//! the calls, and so may a user's profile or a future compiler. So the cfg only compiles the
//! tail-call handlers in; the interpreter uses them after a start-up check (once per process,
//! `interpreter::tail_calls_are_flat`) has run them on a small loop and seen the stack stay
//! flat, and dispatches from a loop otherwise. `tests/interpreter_loops.rs` checks that every
//! handler's call became a jump; this workspace's test profile builds the executor that way so
//! that the test suite runs the same dispatch as a release build.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pvm_compiler)");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "x86_64" && os == "linux" {
        println!("cargo::rustc-cfg=pvm_compiler");
    }

    println!("cargo::rustc-check-cfg=cfg(pvm_tail_calls)");
    let optimised = matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("2" | "3" | "s" | "z"));
    let debug_assertions = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some();
    if optimised && !debug_assertions {
        println!("cargo::rustc-cfg=pvm_tail_calls");
    }
}
