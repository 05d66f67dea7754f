//! How a run ends: the vocabulary both backends speak.
//!
//! This module sits below the interpreter and the compiler, which both report a [`Stop`]
//! ([`Exit`] plus where and how execution can continue); the public API
//! ([`Instance`](crate::Instance)) only dispatches to a backend and passes the stop on.

use core::fmt;

/// How a run stopped.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Exit {
    /// A dynamic jump to `0xffff0000`: the program finished normally.
    Halt,
    /// The program panicked (trap, undefined instruction, invalid jump, access below 64 KiB).
    Panic(PanicReason),
    /// The next basic block costs more gas than is left. Resumable once gas is added.
    OutOfGas,
    /// An access to an inaccessible page (this is its address). Resumable: the faulting
    /// instruction runs again, for hosts that map the page.
    PageFault(u32),
    /// `ecalli` with this import index. Resumable: set the result registers, then `run` again.
    HostCall(u32),
}

/// Why a program panicked.
// 32 bits like the other exits' payloads, so that an `Exit` is a pair of scalars (tag and
// payload) that stays in registers on its way out of a run, instead of a byte-wise aggregate
// that host-call loops stored field by field and read back whole (a stalled load per call).
#[repr(u32)]
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum PanicReason {
    /// A `trap` instruction, or running past the end of the code.
    Trap,
    /// An opcode the instruction set does not define.
    InvalidInstruction,
    /// A branch to something that is not a basic block start.
    InvalidBranch,
    /// A dynamic jump to zero, a misaligned or out-of-range address, or a non-block target.
    InvalidJump,
    /// A memory access below address 0x10000.
    MemoryBelowMinimum,
    /// Execution was started at a pc that is not an instruction.
    InvalidEntry,
}

impl fmt::Display for PanicReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PanicReason::Trap => "trap",
            PanicReason::InvalidInstruction => "undefined instruction",
            PanicReason::InvalidBranch => "branch to a non-basic-block target",
            PanicReason::InvalidJump => "invalid dynamic jump",
            PanicReason::MemoryBelowMinimum => "memory access below 0x10000",
            PanicReason::InvalidEntry => "entry at a pc that is not an instruction",
        })
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Halt => f.write_str("halt"),
            Exit::Panic(reason) => write!(f, "panic ({reason})"),
            Exit::OutOfGas => f.write_str("out of gas"),
            Exit::PageFault(address) => write!(f, "page fault at 0x{address:08x}"),
            Exit::HostCall(index) => write!(f, "host call {index}"),
        }
    }
}

/// Where a backend's run stopped: what both backends return.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) struct Stop {
    /// Why.
    pub exit: Exit,
    /// The pc of the instruction (or block, for out of gas) where it stopped.
    pub pc: u32,
    /// How execution can continue.
    pub resume: Resume,
}

/// How execution can continue after a stop. Indices are instruction indices of the decoded
/// program.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Resume {
    /// It cannot (halt, panic; out of gas under asynchronous metering).
    Never,
    /// At this instruction, with nothing more to pay (after a host call or a page fault).
    At(u32),
    /// By entering the gas block at this instruction again, paying for it (out of gas).
    Recharge(u32),
}

/// Where a backend starts running.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Start {
    /// Enter at this instruction. The host has charged what the backend does not charge
    /// itself (see `Instance::entry_charge`).
    Enter(usize),
    /// Continue at this instruction after a resumable stop, with nothing to pay
    /// ([`Resume::At`]).
    Resume(usize),
}
