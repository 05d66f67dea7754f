//! Errors: why a host function stops the guest, why linking fails, why a call fails.

use crate::allocator::AllocError;
use pvm_executor::{MemoryAccessError, PanicReason};

/// Why a host function stops the guest instead of returning to it.
///
/// Returning `Err` from a host function never unwinds through the host: the guest stops, and
/// [`LinkedInstance::call`](crate::LinkedInstance::call) returns the outcome.
///
/// ```
/// use pvm_host_functions::HostError;
///
/// let trap: HostError = "the key is too long".into();
/// assert_eq!(trap, HostError::Trap("the key is too long".to_string()));
/// let done = HostError::halt(7); // e.g. a contract's `seal_return`
/// assert_eq!(done.to_string(), "the host asked the guest to halt with 7");
/// ```
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum HostError {
    /// Stop the guest with a trap carrying this message; the call fails with
    /// [`CallError::HostFunction`].
    #[error("{0}")]
    Trap(String),
    /// Stop the guest as if it had returned: `A0` is set to this value and the call succeeds
    /// with it.
    #[error("the host asked the guest to halt with {0}")]
    Halt(u64),
}

impl HostError {
    /// A trap with a message.
    pub fn trap(message: impl Into<String>) -> Self {
        HostError::Trap(message.into())
    }

    /// A trap whose message is any error's `Display` text.
    pub fn from_error(error: impl core::fmt::Display) -> Self {
        HostError::Trap(error.to_string())
    }

    /// Ends the guest's call successfully with `A0 = value`.
    pub fn halt(value: u64) -> Self {
        HostError::Halt(value)
    }
}

impl From<String> for HostError {
    fn from(message: String) -> Self {
        HostError::Trap(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> Self {
        HostError::Trap(message.to_string())
    }
}

impl From<MemoryAccessError> for HostError {
    fn from(error: MemoryAccessError) -> Self {
        HostError::from_error(error)
    }
}

impl From<AllocError> for HostError {
    fn from(error: AllocError) -> Self {
        HostError::from_error(error)
    }
}

impl From<pvm_executor::Error> for HostError {
    fn from(error: pvm_executor::Error) -> Self {
        HostError::from_error(error)
    }
}

/// Why a definition or an instantiation failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum LinkError {
    /// A second definition of a name, without [`Linker::allow_shadowing`](crate::Linker::allow_shadowing).
    #[error("the linker already defines a host function named `{0}` (allow shadowing to replace it)")]
    Duplicate(String),
    /// The module imports functions the linker does not define. All of them are listed.
    #[error(
        "the module imports {} host function{} that the linker does not define: {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    )]
    MissingImports(Vec<String>),
    /// A host function whose arguments do not fit in `A0..A5`.
    #[error("host function `{name}` takes {count} arguments, but at most 6 fit in the argument registers A0..A5")]
    TooManyArguments {
        /// The function.
        name: String,
        /// How many arguments it takes.
        count: usize,
    },
    /// The executor refused to create the instance.
    #[error("cannot instantiate the module: {0}")]
    Instantiate(#[from] pvm_executor::Error),
}

/// Why [`LinkedInstance::call`](crate::LinkedInstance::call) returned no value.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CallError {
    /// The call could not be set up (unknown export, too many arguments, nothing to resume).
    #[error(transparent)]
    Setup(#[from] pvm_executor::Error),
    /// The guest panicked (a `trap`, an invalid jump, ...). If the guest registered a message
    /// first (Substrate's `abort_on_panic`), it is here.
    #[error(
        "the guest panicked at pc {pc}: {reason}{}",
        .message.as_ref().map(|message| format!(": {message}")).unwrap_or_default()
    )]
    Panic {
        /// Where.
        pc: u32,
        /// Why.
        reason: PanicReason,
        /// The message the guest registered before trapping, if any.
        message: Option<String>,
    },
    /// The guest ran out of gas. [`LinkedInstance::resume`](crate::LinkedInstance::resume)
    /// continues once gas is added.
    #[error("the guest ran out of gas at pc {pc}")]
    OutOfGas {
        /// The block it could not pay for.
        pc: u32,
    },
    /// The guest touched memory it may not.
    #[error("the guest page-faulted at pc {pc} on page 0x{address:08x}")]
    PageFault {
        /// Where.
        pc: u32,
        /// The page.
        address: u32,
    },
    /// A host function returned an error: the guest was stopped with a trap.
    #[error("host function `{function}` failed: {message}")]
    HostFunction {
        /// The import name.
        function: String,
        /// The host function's message.
        message: String,
    },
    /// A host function panicked; the panic was caught and the guest stopped with a trap.
    #[error("host function `{function}` panicked: {message}")]
    HostPanic {
        /// The import name.
        function: String,
        /// The panic message.
        message: String,
    },
    /// The guest called an import the linker does not define (only possible after
    /// [`Linker::allow_missing_imports`](crate::Linker::allow_missing_imports)).
    #[error("the guest called import {index} (`{name}`), which no host function defines")]
    MissingImport {
        /// The import index of the `ecalli`.
        index: u32,
        /// The import's name (`?` if the index is beyond the module's import table).
        name: String,
    },
}

impl CallError {
    /// The host function involved, for host-function failures.
    pub fn host_function(&self) -> Option<&str> {
        match self {
            CallError::HostFunction { function, .. } | CallError::HostPanic { function, .. } => Some(function),
            CallError::MissingImport { name, .. } => Some(name),
            _ => None,
        }
    }
}
