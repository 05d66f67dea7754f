//! How a contract frame ends: the one outcome type from the guest's exit to the RPC.
//!
//! The VM turns the registry's result into a [`CallOutcome`]; the call stack builds one for
//! frames that never ran (a failed transfer, a duplicate contract); sub-calls hand it to the
//! calling contract, and transactions and dry runs to the node and the RPC. A failure stays a
//! typed [`Failure`] all the way up: it becomes text only where it leaves the node (the RPC's
//! `error` field, the receipt's stored message beside its kind, the CLI).

use crate::chain::primitives::{FailureKind, Outcome, H160, H256};
use crate::runtime::host::{ReturnCode, Trap};
use crate::runtime::vm::VmError;
use pvm_executor::PanicReason;

/// How a contract frame (or a top-level call or instantiation) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    /// Success, revert or failure.
    pub status: Status,
    /// Return or revert data; empty after a failure.
    pub output: Vec<u8>,
    /// Gas used (at most the limit; all of it after running out).
    pub gas_used: u64,
    /// Address of the new contract, for instantiations that succeeded.
    pub address: Option<H160>,
}

impl CallOutcome {
    /// An outcome where nothing ran: no output, no gas, no new address.
    pub fn nothing_ran(status: Status) -> CallOutcome {
        CallOutcome { status, output: Vec::new(), gas_used: 0, address: None }
    }

    /// A failure after `gas_used` gas.
    pub fn failed(failure: Failure, gas_used: u64) -> CallOutcome {
        CallOutcome { status: Status::Failed(failure), output: Vec::new(), gas_used, address: None }
    }

    /// True for [`Status::Success`].
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }
}

/// Whether a frame's changes are kept, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Returned normally; changes kept.
    Success,
    /// Returned with the revert flag; changes undone.
    Reverted,
    /// Did not return; changes undone.
    Failed(Failure),
}

impl Status {
    /// The return code a calling contract sees in A0 (pallet-revive's `ReturnErrorCode`).
    pub fn return_code(&self) -> u64 {
        let code = match self {
            Status::Success => ReturnCode::Success,
            Status::Reverted => ReturnCode::CalleeReverted,
            Status::Failed(Failure::OutOfGas) => ReturnCode::OutOfResources,
            Status::Failed(Failure::TransferFailed(_)) => ReturnCode::TransferFailed,
            Status::Failed(_) => ReturnCode::CalleeTrapped,
        };
        code as u64
    }

    /// True for [`Status::Success`] and [`Status::Reverted`]: the frame returned.
    pub fn returned(&self) -> bool {
        matches!(self, Status::Success | Status::Reverted)
    }
}

/// Why a frame did not return.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The contract panicked (a `trap`, an invalid jump, an access below 64 KiB...).
    #[error("contract panicked: {0}")]
    Panic(PanicReason),
    /// The contract touched an inaccessible page.
    #[error("page fault at {0:#x}")]
    PageFault(u32),
    /// A host function stopped the contract.
    #[error("{function}: {trap}")]
    Host {
        /// The import name.
        function: String,
        /// Why.
        trap: Trap,
    },
    /// A host function panicked (a bug in the node; caught, the contract stopped).
    #[error("{function}: host function panicked: {message}")]
    HostPanic {
        /// The import name.
        function: String,
        /// The panic message.
        message: String,
    },
    /// An `ecalli` beyond the contract's import table.
    #[error("host call to import {0}, which does not exist")]
    MissingImport(u32),
    /// The frame ran out of gas (in the contract or in a host function).
    #[error("out of gas")]
    OutOfGas,
    /// The value transfer of the call or instantiation failed.
    #[error(transparent)]
    TransferFailed(TransferFailure),
    /// An instantiation hit an address that already holds a contract.
    #[error("a contract already exists at {0:?}")]
    DuplicateContract(H160),
    /// The frame's code is not stored.
    #[error("code {0:?} not found")]
    CodeNotFound(H256),
    /// The code could not be loaded or run by the VM.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// An upload whose code failed validation.
    #[error("code rejected: {0}")]
    CodeRejected(VmError),
    /// The call or instantiation was refused before any frame ran (call depth, reentrancy,
    /// an unknown precompile or code hash).
    #[error(transparent)]
    Rejected(Trap),
}

impl Failure {
    /// The kind of failure a receipt records.
    pub fn kind(&self) -> FailureKind {
        match self {
            Failure::Panic(_) => FailureKind::Panic,
            Failure::PageFault(_) => FailureKind::PageFault,
            Failure::Host { .. } => FailureKind::HostFunction,
            Failure::HostPanic { .. } => FailureKind::HostPanic,
            Failure::MissingImport(_) => FailureKind::MissingImport,
            Failure::OutOfGas => FailureKind::OutOfGas,
            Failure::TransferFailed(_) => FailureKind::TransferFailed,
            Failure::DuplicateContract(_) => FailureKind::DuplicateContract,
            Failure::CodeNotFound(_) => FailureKind::CodeNotFound,
            Failure::Vm(_) => FailureKind::Vm,
            Failure::CodeRejected(_) => FailureKind::CodeRejected,
            Failure::Rejected(_) => FailureKind::Rejected,
        }
    }
}

impl From<&Status> for Outcome {
    /// The receipt's record of a status: the failure's kind and its message, which is what
    /// the store keeps and the RPC reports.
    fn from(status: &Status) -> Self {
        match status {
            Status::Success => Outcome::Success,
            Status::Reverted => Outcome::Reverted,
            Status::Failed(failure) => Outcome::Failed { kind: failure.kind(), message: failure.to_string() },
        }
    }
}

/// Why a value transfer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferFailure {
    /// The sender's balance is below the value of a call.
    #[error("insufficient balance for the transfer")]
    InsufficientBalance,
    /// The deployer's balance is below the endowment of an instantiation.
    #[error("insufficient balance for the endowment")]
    InsufficientEndowment,
    /// The value is larger than any balance (balances are 128-bit).
    #[error("value does not fit a balance")]
    ValueTooLarge,
}
