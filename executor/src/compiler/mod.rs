//! The compiled backend: guest code translated once to native code.
//!
//! Only x86-64 Linux has a compiler (`x86_64`). This module is the one place that decides
//! whether it exists: everywhere else the crate names `CompiledProgram` and
//! `CompiledInstance` without a `cfg`, and on other platforms those are the uninhabited types of
//! `disabled`, which an engine never creates (its `Auto` backend picks the interpreter there,
//! and `Compiler` is refused). [`is_supported`] says whether this process can run compiled
//! code (platform and CPU features), which is what [`BackendKind::Auto`](crate::BackendKind::Auto)
//! decides by.
//!
//! The platform test itself is the `pvm_compiler` cfg, set by `build.rs` for x86-64 Linux
//! (the target table of `Cargo.toml`, which pulls in the assembler and `libc`, says the same).

#[cfg(not(pvm_compiler))]
mod disabled;
#[cfg(pvm_compiler)]
mod x86_64;

#[cfg(not(pvm_compiler))]
use disabled as native;
#[cfg(pvm_compiler)]
use x86_64 as native;

pub(crate) use native::{is_available, CompiledInstance, CompiledProgram};
#[cfg(pvm_compiler)]
pub(crate) use x86_64::CodePool;

/// Why a program could not be compiled to native code.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The kernel refused memory for the code.
    #[error("cannot allocate memory for compiled code")]
    CodeAllocation,
    /// The kernel refused to make the code executable.
    #[error("cannot make compiled code executable")]
    CodeProtection,
    /// A bug in the compiler: a branch to a label it never placed.
    #[error("internal compiler error: unresolved label in compiled code")]
    UnresolvedLabel,
    /// There is no compiler for this platform.
    #[error("no compiler for this platform")]
    Unsupported,
}

/// Whether the compiled backend runs in this process: x86-64 Linux with the instructions the
/// generated code uses (`popcnt`, `lzcnt`, BMI1, BMI2) and user-mode `wrgsbase` (the kernel
/// enables it since Linux 5.9 where the CPU has it). Same as
/// [`BackendKind::Compiler.is_available()`](crate::BackendKind::is_available).
pub fn is_supported() -> bool {
    native::is_supported()
}

/// Whether this platform has a compiler at all (it may still be unable to run its code: see
/// [`is_supported`]). What a compile-only engine needs.
pub(crate) fn exists() -> bool {
    cfg!(pvm_compiler)
}
