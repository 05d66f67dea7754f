//! The pallet-revive ABI as contracts see it: sentinels, limits, gas costs, flags and return
//! codes.
//!
//! Every host function follows pallet-revive's calling convention for 64-bit PolkaVM guests:
//! arguments in registers A0..A5, a result (if any) in A0, pointers and lengths are 32-bit,
//! 256-bit numbers live in guest memory as 32 little-endian bytes, and `u32::MAX`
//! ([`SENTINEL`]) stands for "none". Functions with more than six logical arguments (`call`,
//! `delegate_call`, `instantiate`) pack two 32-bit values into one register, high half first
//! (see [`split_hi_lo`]).

/// "None" for pointers and lengths, and "key not found" for storage lengths.
pub const SENTINEL: u32 = u32::MAX;

/// Limits that contracts can observe (pallet-revive's `limits` module).
pub mod limits {
    /// Maximum size of a storage value and of event data.
    pub const PAYLOAD_BYTES: u32 = 416;
    /// Maximum length of a variable-length storage key.
    pub const STORAGE_KEY_BYTES: u32 = 128;
    /// Maximum number of event topics.
    pub const NUM_EVENT_TOPICS: u32 = 4;
    /// Maximum size of a contract's immutable data.
    pub const IMMUTABLE_BYTES: u32 = 4 * 1024;
    /// Maximum nesting of contract calls below the outermost one.
    pub const CALL_STACK_DEPTH: usize = 25;
    /// Maximum size of call data and return data.
    pub const CALLDATA_BYTES: u32 = 128 * 1024;
    /// Most guest memory one contract instance may have (read-only and read-write data, stack),
    /// enforced by the executor's `Config::memory_limit` when code is uploaded, so that 26
    /// nested frames cannot make the node allocate without bound. pallet-revive's
    /// `PURGABLE_MEMORY_LIMIT`: it counts this memory plus the interpreter's cache against
    /// that figure, so a contract it accepts is accepted here too.
    pub const INSTANCE_MEMORY_BYTES: u64 = 3 * 1024 * 1024;
    /// Most bytes one host function copies out of guest memory (return data, hash input).
    /// Not a pallet-revive limit: the node's guard against huge host allocations.
    pub const MAX_HOST_READ: u32 = 4 * 1024 * 1024;
}

/// Gas charged by host functions, in the same unit as one guest instruction (the
/// executor's cost model charges 1 per instruction). The node treats gas and pallet-revive's
/// `ref_time` as the same number.
pub mod costs {
    /// Every host call.
    pub const HOST_CALL: u64 = 30;
    /// Per 32 bytes copied between guest memory and the host.
    pub const PER_WORD_COPIED: u64 = 1;
    /// A storage read.
    pub const STORAGE_READ: u64 = 1_000;
    /// A storage write or removal.
    pub const STORAGE_WRITE: u64 = 5_000;
    /// Per byte of a stored value.
    pub const PER_STORAGE_BYTE: u64 = 5;
    /// An event, plus per topic and per data byte below.
    pub const EVENT: u64 = 500;
    /// Per event topic.
    pub const PER_TOPIC: u64 = 250;
    /// Per byte of event data.
    pub const PER_EVENT_BYTE: u64 = 2;
    /// A hash function call, plus per input word.
    pub const HASH: u64 = 100;
    /// Per 32 bytes hashed.
    pub const PER_WORD_HASHED: u64 = 4;
    /// A balance lookup.
    pub const BALANCE: u64 = 300;
    /// A call to another contract (not counting what the callee uses).
    pub const CALL: u64 = 2_000;
    /// A value transfer made with a call.
    pub const TRANSFER: u64 = 2_000;
    /// An instantiation (not counting what the constructor uses).
    pub const INSTANTIATE: u64 = 10_000;

    /// Cost of moving `len` bytes across the guest boundary.
    pub fn copy(len: u32) -> u64 {
        u64::from(len).div_ceil(32) * PER_WORD_COPIED
    }
}

/// Return codes of pallet-revive's host functions (`ReturnErrorCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ReturnCode {
    /// Success.
    Success = 0,
    /// The callee trapped; its changes were undone.
    CalleeTrapped = 1,
    /// The callee reverted; its changes were undone.
    CalleeReverted = 2,
    /// No value under the key.
    KeyNotFound = 3,
    /// The value transfer failed.
    TransferFailed = 4,
    /// The callee ran out of gas.
    OutOfResources = 11,
}

/// Splits a register holding two packed 32-bit values: `(high, low)`.
pub fn split_hi_lo(reg: u64) -> (u32, u32) {
    ((reg >> 32) as u32, reg as u32)
}

/// Flags of `call` and `delegate_call`.
pub mod call_flags {
    /// Pass the caller's own input to the callee.
    pub const FORWARD_INPUT: u32 = 0b0_0001;
    /// Pass a copy of the caller's own input to the callee.
    pub const CLONE_INPUT: u32 = 0b0_0010;
    /// The callee's return becomes the caller's.
    pub const TAIL_CALL: u32 = 0b0_0100;
    /// The callee may call back into the caller.
    pub const ALLOW_REENTRY: u32 = 0b0_1000;
    /// The callee may not change state.
    pub const READ_ONLY: u32 = 0b1_0000;
    /// Every defined flag.
    pub const ALL: u32 = FORWARD_INPUT | CLONE_INPUT | TAIL_CALL | ALLOW_REENTRY | READ_ONLY;
}

/// `seal_return`'s flag: the frame reverts.
pub const RETURN_FLAG_REVERT: u32 = 1;
/// The storage functions' flag: transient storage.
pub const STORAGE_FLAG_TRANSIENT: u32 = 1;
