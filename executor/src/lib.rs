//! A PVM executor: the PolkaVM / JAM virtual machine for Substrate-style nodes.
//!
//! Layers, each depending only on the ones before it:
//!
//! * [`program`]: formats and the instruction set (one table drives decoding, disassembly,
//!   assembly, interpretation and compilation);
//! * the semantics both backends share (internal): the cost model (`gas`, public as
//!   [`GasMetering`] and [`CostModel`]), guest memory (`memory`, public as
//!   [`MemoryAccessError`]) and the exit vocabulary ([`Exit`], [`PanicReason`]);
//! * the backends (internal): the interpreter, the reference semantics (public as
//!   [`TraceStep`], what [`Instance::run_traced`] shows), and the [`compiler`]: the x86-64
//!   JIT (one pass, one native block per guest block), running in an in-process sandbox (a
//!   4 GiB address-space reservation per instance, guard pages, a `SIGSEGV`/`SIGBUS` handler
//!   that turns faults in guest code into guest page faults) or, with
//!   [`SandboxKind::Process`], in worker processes under seccomp that share only guest memory
//!   and code with the host. Both report how a run stopped in
//!   the same terms; whether the compiler exists on this platform is decided in one place
//!   (`compiler/mod.rs`), and [`compiler::is_supported`] / [`BackendKind::is_available`] say
//!   whether it runs in this process;
//! * the public API: [`Config`] -> [`Engine`] -> [`Module`] -> [`Instance`], and [`invoke()`]
//!   for JAM-style raw invocations. [`Config::new`] reads no environment variable;
//!   [`Config::from_env`] takes the backend from `PVM_BACKEND`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pvm_executor::{Config, Engine, Instance, Module};
//!
//! let engine = Engine::new(&Config::new())?;
//! # let bytes = {
//! #     use pvm_executor::program::*;
//! #     let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
//! #     code.push(Instruction::mul_64(Reg::A0, Reg::A0, Reg::A0));
//! #     code.push(Instruction::jump_indirect(Reg::RA, 0));
//! #     ProgramBlobBuilder::new(code.build()?.code).export("square", 0).build()?.to_bytes()
//! # };
//! let module = Module::from_blob(&engine, &bytes)?;   // a PolkaVM blob
//! let mut instance = Instance::new(&module)?;
//! instance.set_gas(1_000);
//! assert_eq!(instance.call("square", &[12])?, 144);
//! assert_eq!(instance.gas(), 1_000 - 2);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod compiler;
pub mod config;
pub mod engine;
pub mod error;
mod exit;
mod gas;
pub mod instance;
mod interpreter;
pub mod invoke;
mod memory;
pub mod module;
mod pool;
pub mod program;
#[cfg(pvm_compiler)]
mod sandbox;

pub use compiler::CompileError;
pub use config::{BackendKind, Config, ModuleConfig, SandboxKind};
pub use engine::Engine;
pub use error::{CallError, Error, ProcessSandboxError};
pub use exit::{Exit, PanicReason};
pub use gas::{CostModel, GasMetering};
pub use instance::Instance;
pub use interpreter::TraceStep;
pub use invoke::{invoke, PageMapping, RawOutcome, RawState};
pub use memory::{read_memory_vec_with, MemoryAccessError, MemoryAccessReason};
pub use module::{EntryPoint, ExportIndex, Module};
pub use pool::PoolLimits;
