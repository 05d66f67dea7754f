//! Why a host function stops a contract.

use super::abi::limits;
use crate::chain::primitives::{H160, H256};
use pvm_executor::MemoryAccessError;

/// Why a host function stopped the contract: the host functions' error type (the registry's
/// user error, `Linker<_, _, Trap>`). The frame's state changes are undone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    /// A pointer argument pointed outside guest memory.
    #[error(transparent)]
    Memory(#[from] MemoryAccessError),
    /// A pointer plus a length runs past the end of the 32-bit address space.
    #[error("{len} bytes at {ptr:#x} run past the end of the address space")]
    PointerOverflow {
        /// The pointer.
        ptr: u32,
        /// The length.
        len: u32,
    },
    /// Not enough gas left for the host function.
    #[error("out of gas")]
    OutOfGas,
    /// A flags argument had bits that mean nothing.
    #[error("invalid {kind} flags {flags:#x}")]
    InvalidFlags {
        /// Which flags (call, return, storage).
        kind: &'static str,
        /// The value passed.
        flags: u32,
    },
    /// A variable-length storage key is longer than allowed.
    #[error("storage key of {0} bytes is longer than {max}", max = limits::STORAGE_KEY_BYTES)]
    KeyTooLong(u32),
    /// A storage value or event payload is larger than allowed.
    #[error("value of {len} bytes is larger than the limit of {max}")]
    ValueTooLarge {
        /// Its size.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// An event with more topics than allowed.
    #[error("event has {0} topics, at most {max} are allowed", max = limits::NUM_EVENT_TOPICS)]
    TooManyTopics(u32),
    /// A state change in a read-only (static) call.
    #[error("state change denied in a read-only call")]
    StateChangeDenied,
    /// Immutable data read during deploy, or written outside deploy or twice.
    #[error("invalid immutable data access: {0}")]
    InvalidImmutableAccess(ImmutableAccess),
    /// `return_data_copy` past the end of the last call's output.
    #[error("return data offset {offset} is past the end of {len} bytes")]
    ReturnDataOutOfBounds {
        /// Requested offset.
        offset: u32,
        /// Length of the return data.
        len: u32,
    },
    /// A read from guest memory larger than [`limits::MAX_HOST_READ`].
    #[error("reading {0} bytes of guest memory exceeds the host limit of {max}", max = limits::MAX_HOST_READ)]
    ReadTooLarge(u32),
    /// Input larger than the call data limit.
    #[error("call data of {0} bytes exceeds the limit")]
    CallDataTooLarge(u32),
    /// The call stack refused a call or an instantiation.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Which rule of immutable data an access broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImmutableAccess {
    /// `get_immutable_data` in a constructor (the data is not there yet).
    #[error("read during deploy")]
    ReadDuringDeploy,
    /// `set_immutable_data` outside a constructor.
    #[error("written outside deploy")]
    WrittenOutsideDeploy,
    /// `set_immutable_data` a second time in one constructor.
    #[error("written twice")]
    WrittenTwice,
}

/// Why the call stack refused a call or an instantiation before running it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The call stack is as deep as pallet-revive allows.
    #[error("maximum call depth reached")]
    MaxCallDepth,
    /// A contract on the stack did not allow reentry.
    #[error("reentrance into {0:?} denied")]
    Reentrance(H160),
    /// A delegate call to an account without code.
    #[error("delegate call to {0:?}, which is not a contract")]
    DelegateToNonContract(H160),
    /// An instantiation of code that was never uploaded.
    #[error("code {0:?} not found")]
    CodeNotFound(H256),
    /// A precompile address the node does not implement.
    #[error("precompile at address {0:#04x} is not supported by this node")]
    UnsupportedPrecompile(u8),
}
