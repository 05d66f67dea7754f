//! Host functions for the PVM executor: a registry of typed and raw host functions, an
//! adapter that runs Substrate's host functions (`sp-wasm-interface`) unchanged, and a runtime
//! executor with the call convention of Substrate runtimes.
//!
//! * [`Linker`] maps import names to host functions ([`Linker::func_wrap`] for typed closures,
//!   [`Linker::func_raw`] for direct register and memory access), resolves a module's imports
//!   into an [`InstancePre`] (all missing imports reported in one error), and instantiates it
//!   as a [`LinkedInstance`] with per-instance user data `T`, whose [`LinkedInstance::call`]
//!   runs the guest and services its host calls. Host functions see a [`Caller`].
//!   [`LinkedInstance::call_in`] also lends the host functions a per-call context that may
//!   borrow from the caller (see [`CallContext`]).
//! * A host function that returns an error or panics stops the guest; the call fails with the
//!   host function's error, typed as the linker's user error `E` ([`CallError::Host`]; `E`
//!   defaults to [`HostError`], a message), or with the panic message
//!   ([`CallError::HostPanic`]). The host is never unwound. Returning [`Flow::Return`] ends
//!   the guest's call successfully instead. The executor's own outcomes (panic, out of gas,
//!   page fault, setup errors) arrive unchanged as [`CallError::Guest`].
//! * [`Guest`] is what a host function reaches of a guest; implementing it for another VM lets
//!   the same host functions serve that VM ([`HostFunc::call_on`]).
//! * [`Linker::define_substrate_host_functions`] registers any
//!   `sp_wasm_interface::HostFunctions` set (see [`substrate`] for the register convention),
//!   with a freeing [`GuestAllocator`] behind `allocate_memory`/`deallocate_memory`.
//! * [`RuntimeExecutor`] calls runtime methods: `call(code, method, input) -> output`, under
//!   externalities with [`RuntimeExecutor::call_in`].
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, ProgramBlobBuilder, Reg};
//! use pvm_executor::{Config, Engine, Module};
//! use pvm_host_functions::{Caller, CallError, HostError, Linker};
//!
//! // Guest: `run(x)` calls the host's `log_value(x)` and then `check(x)`, and returns A0.
//! let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
//! code.push(Instruction::move_reg(Reg::S0, Reg::A0));
//! code.push(Instruction::ecalli(0));
//! code.push(Instruction::move_reg(Reg::A0, Reg::S0));
//! code.push(Instruction::ecalli(1));
//! code.push(Instruction::jump_indirect(Reg::RA, 0));
//! let blob = ProgramBlobBuilder::new(code.build()?.code)
//!     .import("log_value")
//!     .import("check")
//!     .export("run", 0)
//!     .build()?;
//! let module = Module::from_blob(&Engine::new(&Config::new())?, &blob.to_bytes())?;
//!
//! let mut linker = Linker::<Vec<u64>>::new();
//! linker.func_wrap("log_value", |mut caller: Caller<'_, Vec<u64>>, x: u64| caller.data_mut().push(x))?;
//! linker.func_wrap("check", |x: u64| -> Result<u64, HostError> {
//!     if x > 100 { Err(HostError::new(format!("{x} is too large"))) } else { Ok(x + 1) }
//! })?;
//!
//! let mut instance = linker.instantiate_pre(&module)?.instantiate(Vec::new())?;
//! instance.set_gas(1_000);
//! assert_eq!(instance.call("run", &[5])?, 6);
//! let error = instance.call("run", &[500]).unwrap_err();
//! assert_eq!(error.to_string(), "host function `check` failed: 500 is too large");
//! assert!(matches!(error, CallError::Host { .. }));
//! assert_eq!(instance.data(), &[5, 500]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod abi;
pub mod allocator;
pub mod error;
pub mod linker;
pub mod runtime;
pub mod substrate;

pub use abi::{AbiValue, CallArgs, CallResult, FatPtr, Flow, GuestPtr, HostReturn};
pub use allocator::{AllocError, AllocationStats, GuestAllocator, MAX_ALLOCATION_SIZE};
pub use error::{CallError, HostError, LinkError};
pub use linker::{CallContext, Caller, Guest, HostFunc, InstancePre, IntoHostFunc, LinkedInstance, Linker};
pub use runtime::{Runtime, RuntimeError, RuntimeExecutor, RuntimeExecutorBuilder};
pub use substrate::SubstrateContext;

/// Re-exported so users of the adapter need not depend on it themselves.
pub use sp_wasm_interface;
