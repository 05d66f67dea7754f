//! Why loading or calling a PolkaVM runtime failed: [`PvmError`], typed up to the trait
//! boundary, where it becomes an [`sc_executor::error::Error`] (or, for
//! `ReadRuntimeVersion`, a string).

use pvm_executor::PanicReason;
use pvm_host_functions::{CallError, HostError, LinkError};
#[cfg(feature = "wasm")]
use sc_executor::error::{Error as ScError, MessageWithBacktrace, WasmError};

/// Why a runtime could not be loaded, or a runtime call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PvmError {
    /// The code is a Wasm module and the executor was built without the `wasm` feature.
    #[error("the runtime is a Wasm module, and this executor was built without Wasm support (sc-executor-pvm's `wasm` feature)")]
    WasmNotSupported,
    /// A Wasm runtime failed on the inner `WasmExecutor` (feature `wasm`).
    #[cfg(feature = "wasm")]
    #[error("{0}")]
    Wasm(Box<ScError>),
    /// The engine could not be created (e.g. the compiler backend was asked for where it does
    /// not run).
    #[error("cannot create the PVM engine: {0}")]
    Engine(pvm_executor::Error),
    /// The state has no runtime code.
    #[error("the runtime code is not available from the state")]
    CodeNotFound,
    /// The code is compressed and could not be decompressed.
    #[error("cannot decompress the runtime code: {0}")]
    Decompress(#[from] sp_maybe_compressed_blob::Error),
    /// The code is neither a PolkaVM program blob nor a Wasm module.
    #[error("the runtime code is neither a PolkaVM program blob nor a Wasm module (it starts with {prefix:02x?})")]
    UnknownFormat {
        /// The first bytes of the (decompressed) code.
        prefix: Vec<u8>,
    },
    /// The code starts like a PolkaVM blob but is not a valid one.
    #[error("invalid PolkaVM runtime: {0}")]
    InvalidCode(pvm_executor::Error),
    /// The code is a raw PVM program (no imports, exports or heap), not a PolkaVM blob.
    #[error("invalid PolkaVM runtime: a runtime must be a PolkaVM program blob, not a raw program")]
    NotAContainer,
    /// The runtime imports host functions the executor does not provide, or could not be
    /// instantiated.
    #[error("cannot link the runtime: {0}")]
    Link(#[from] LinkError),
    /// The runtime has no export named `method`.
    #[error("the runtime exports no function `{method}`")]
    MissingExport {
        /// The method.
        method: String,
    },
    /// The call's input does not fit in the guest heap.
    #[error("runtime method `{method}`: the input of {length} bytes does not fit in the guest heap")]
    InputTooLarge {
        /// The method.
        method: String,
        /// The input's length.
        length: usize,
    },
    /// The runtime panicked: it reported `message` (`abort_on_panic`) and trapped.
    #[error("runtime method `{method}` panicked: {message}")]
    Panic {
        /// The method.
        method: String,
        /// The runtime's panic message.
        message: String,
    },
    /// The runtime trapped without a panic message (an `unimp`/invalid instruction, an
    /// invalid jump, ...).
    #[error("runtime method `{method}` trapped at pc {pc}: {reason}")]
    Trap {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
        /// Why.
        reason: PanicReason,
    },
    /// The runtime accessed memory it may not.
    #[error("runtime method `{method}` page-faulted at pc {pc} on page 0x{address:08x}")]
    PageFault {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
        /// The page.
        address: u32,
    },
    /// The call ran out of gas (only when the executor meters gas).
    #[error("runtime method `{method}` ran out of gas at pc {pc}")]
    OutOfGas {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
    },
    /// The host's heap allocator could not serve the runtime: the guest heap is exhausted, a
    /// single allocation was larger than the allocator allows, or the runtime freed something
    /// that was not allocated.
    #[error("runtime method `{method}`: out of memory: {reason}")]
    OutOfMemory {
        /// The method.
        method: String,
        /// What the allocator said.
        reason: AllocFailure,
    },
    /// A host function failed (returned an error or panicked), or a host function the
    /// runtime imports is not provided.
    #[error("runtime method `{method}`: host function `{function}` failed: {message}")]
    HostFunction {
        /// The method.
        method: String,
        /// The host function.
        function: String,
        /// What went wrong.
        message: String,
    },
    /// The packed pointer and length the method returned do not point at readable memory.
    #[error("runtime method `{method}` returned a pointer 0x{ptr:08x} and length {len} outside guest memory")]
    InvalidOutput {
        /// The method.
        method: String,
        /// The returned pointer.
        ptr: u32,
        /// The returned length.
        len: u32,
    },
    /// `Core_version` returned something that is not a runtime version.
    #[error("cannot decode the runtime version that `Core_version` returned: {0}")]
    InvalidVersion(codec::Error),
    /// Anything else the executor reported while setting a call up.
    #[error("runtime method `{method}`: {message}")]
    Executor {
        /// The method.
        method: String,
        /// The executor's message.
        message: String,
    },
}

/// Why the host's heap allocator failed (from `sc_allocator::Error`, kept as a value).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AllocFailure {
    /// The heap cannot grow any further.
    #[error("the heap allocator ran out of space")]
    OutOfSpace,
    /// One allocation larger than the allocator's maximum (32 MiB).
    #[error("requested allocation size is too large")]
    TooLarge,
    /// The allocator found the heap in a state it cannot work with (an invalid free, a
    /// corrupted header, heap memory it could not reach).
    #[error("{0}")]
    Invalid(String),
}

impl From<&sc_allocator::Error> for AllocFailure {
    fn from(error: &sc_allocator::Error) -> Self {
        match error {
            sc_allocator::Error::AllocatorOutOfSpace => AllocFailure::OutOfSpace,
            sc_allocator::Error::RequestedAllocationTooLarge => AllocFailure::TooLarge,
            other => AllocFailure::Invalid(other.to_string()),
        }
    }
}

impl PvmError {
    /// The error of a failed call of `method`. `alloc_failure` is the first failure of the
    /// host's allocator during the call, if any: a host function that failed because of it
    /// makes the call fail with [`PvmError::OutOfMemory`].
    pub(crate) fn from_call(method: &str, error: CallError<HostError>, alloc_failure: Option<AllocFailure>) -> Self {
        use pvm_executor::CallError as Stop;
        let method = method.to_string();
        match error {
            CallError::Guest(Stop::Setup(pvm_executor::Error::UnknownExport(_))) => PvmError::MissingExport { method },
            CallError::Guest(Stop::Setup(error)) => PvmError::Executor { method, message: error.to_string() },
            CallError::Guest(Stop::Panic { pc, reason }) => PvmError::Trap { method, pc, reason },
            CallError::Abort { message, .. } => PvmError::Panic { method, message },
            CallError::Guest(Stop::OutOfGas { pc }) => PvmError::OutOfGas { method, pc },
            CallError::Guest(Stop::PageFault { pc, address }) => PvmError::PageFault { method, pc, address },
            CallError::Guest(Stop::UnhandledHostCall { index, name }) => PvmError::HostFunction {
                method,
                function: name,
                message: format!("host call {index} was not serviced"),
            },
            CallError::Host { function, error } => match alloc_failure {
                Some(reason) => PvmError::OutOfMemory { method, reason },
                None => PvmError::HostFunction { method, function, message: error.to_string() },
            },
            // sp-io's allocator functions panic when the allocator fails.
            CallError::HostPanic { function, message } => match alloc_failure {
                Some(reason) => PvmError::OutOfMemory { method, reason },
                None => PvmError::HostFunction { method, function, message: format!("panicked: {message}") },
            },
            CallError::MissingImport { index, name } => PvmError::HostFunction {
                method,
                function: name.unwrap_or_else(|| format!("import {index}")),
                message: "the executor does not provide this host function".to_string(),
            },
        }
    }
}

#[cfg(feature = "wasm")]
impl From<PvmError> for ScError {
    fn from(error: PvmError) -> Self {
        match error {
            PvmError::Wasm(error) => *error,
            PvmError::MissingExport { method } => ScError::MethodNotFound(method),
            PvmError::Panic { message, .. } => {
                ScError::AbortedDueToPanic(MessageWithBacktrace { message, backtrace: None })
            }
            error @ (PvmError::Trap { .. } | PvmError::PageFault { .. } | PvmError::OutOfGas { .. }) => {
                ScError::AbortedDueToTrap(MessageWithBacktrace { message: error.to_string(), backtrace: None })
            }
            PvmError::OutOfMemory { reason: AllocFailure::OutOfSpace, .. } => {
                ScError::Allocator(sc_allocator::Error::AllocatorOutOfSpace)
            }
            PvmError::OutOfMemory { reason: AllocFailure::TooLarge, .. } => {
                ScError::Allocator(sc_allocator::Error::RequestedAllocationTooLarge)
            }
            PvmError::HostFunction { function, message, .. } => ScError::FunctionExecution(function, message),
            PvmError::InvalidOutput { .. } => ScError::OutputExceedsBounds,
            PvmError::InvalidVersion(_) => ScError::VersionInvalid,
            error @ (PvmError::Engine(_)
            | PvmError::CodeNotFound
            | PvmError::Decompress(_)
            | PvmError::UnknownFormat { .. }
            | PvmError::InvalidCode(_)
            | PvmError::NotAContainer
            | PvmError::Link(_)
            | PvmError::WasmNotSupported) => ScError::RuntimeConstruction(WasmError::Other(error.to_string())),
            error => ScError::Other(error.to_string()),
        }
    }
}
