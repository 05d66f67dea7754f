//! Errors: why a host function stops the guest, why linking fails, why a call fails.

use crate::allocator::AllocError;
use pvm_executor::{MemoryAccessError, PanicReason};

/// The default user error of a [`Linker`](crate::Linker): a message.
///
/// A host function stops the guest by returning `Err` with the linker's user error type `E`
/// (any type: `Linker<T, C, E>`, as PolkaVM's `Linker<UserData, UserError>`); the call then
/// fails with [`CallError::Host`] carrying that value, and the host is never unwound. Linkers
/// that do not name `E` use this one, which only carries a message. Ending the guest's call
/// successfully is not an error: a host function returns [`Flow::Return`](crate::Flow::Return).
///
/// ```
/// use pvm_host_functions::HostError;
///
/// let error: HostError = "the key is too long".into();
/// assert_eq!(error, HostError::new("the key is too long"));
/// assert_eq!(error.to_string(), "the key is too long");
/// ```
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct HostError {
    message: String,
}

impl HostError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        HostError { message: message.into() }
    }

    /// An error whose message is any error's `Display` text.
    pub fn from_error(error: impl core::fmt::Display) -> Self {
        HostError::new(error.to_string())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<String> for HostError {
    fn from(message: String) -> Self {
        HostError::new(message)
    }
}

impl From<&str> for HostError {
    fn from(message: &str) -> Self {
        HostError::new(message)
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

/// Why [`LinkedInstance::call`](crate::LinkedInstance::call) returned no value; `E` is the
/// linker's user error (see [`HostError`]).
///
/// The executor's own outcomes (a call that cannot be set up, a guest panic, running out of
/// gas, a page fault) arrive unchanged in [`CallError::Guest`]; the other variants are what
/// the registry adds: host functions that fail, panic or are missing.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CallError<E = HostError> {
    /// What the executor reported: the call could not be set up (unknown export, too many
    /// arguments, nothing to resume), or the guest panicked, ran out of gas (resumable with
    /// [`LinkedInstance::resume`](crate::LinkedInstance::resume) once gas is added) or
    /// page-faulted.
    #[error(transparent)]
    Guest(pvm_executor::CallError),
    /// The guest panicked after registering a message (Substrate's `abort_on_panic`).
    #[error("the guest panicked at pc {pc}: {reason}: {message}")]
    Abort {
        /// Where.
        pc: u32,
        /// Why.
        reason: PanicReason,
        /// The message the guest registered before trapping.
        message: String,
    },
    /// A host function returned an error: the guest was stopped.
    #[error("host function `{function}` failed: {error}")]
    Host {
        /// The import name.
        function: String,
        /// The host function's error.
        error: E,
    },
    /// A host function panicked; the panic was caught and the guest stopped.
    #[error("host function `{function}` panicked: {message}")]
    HostPanic {
        /// The import name.
        function: String,
        /// The panic message.
        message: String,
    },
    /// The guest called an import the linker does not define (only possible after
    /// [`Linker::allow_missing_imports`](crate::Linker::allow_missing_imports)).
    #[error("the guest called import {index} ({}), which no host function defines", .name.as_deref().map(|name| format!("`{name}`")).unwrap_or_else(|| "beyond the import table".to_string()))]
    MissingImport {
        /// The import index of the `ecalli`.
        index: u32,
        /// The import's name (`None` if the index is beyond the module's import table).
        name: Option<String>,
    },
}

impl<E> CallError<E> {
    /// The host function involved, for host-function failures.
    pub fn host_function(&self) -> Option<&str> {
        match self {
            CallError::Host { function, .. } | CallError::HostPanic { function, .. } => Some(function),
            CallError::MissingImport { name, .. } => name.as_deref(),
            _ => None,
        }
    }

    /// The host function's error, for [`CallError::Host`].
    pub fn host_error(&self) -> Option<&E> {
        match self {
            CallError::Host { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl<E> From<pvm_executor::CallError> for CallError<E> {
    fn from(error: pvm_executor::CallError) -> Self {
        CallError::Guest(error)
    }
}

impl<E> From<pvm_executor::Error> for CallError<E> {
    fn from(error: pvm_executor::Error) -> Self {
        CallError::Guest(pvm_executor::CallError::Setup(error))
    }
}
