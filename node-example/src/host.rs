//! The host API that resolc-compiled (pallet-revive) contracts import.
//!
//! Every function follows pallet-revive's calling convention for 64-bit PolkaVM guests:
//! arguments in registers A0..A5 (r7..r12), a result (if any) in A0, pointers and lengths
//! are 32-bit, 256-bit numbers live in guest memory as 32 little-endian bytes, and
//! `u32::MAX` ([`SENTINEL`]) stands for "none". Functions with more than six logical
//! arguments (`call`, `delegate_call`, `instantiate`) pack two 32-bit values into one
//! register, high half first (see [`split_hi_lo`]).
//!
//! A host function either continues the guest (possibly with a result in A0), stops it
//! (`seal_return`), or traps it with a [`HostError`]; a trap undoes the frame's changes.
//!
//! [`HOST_FUNCTIONS`] is the API: every import name with its body, and the only list of them.
//! [`crate::vm`] registers each in the host-function registry (`pvm_host_functions::Linker`),
//! which resolves contracts' imports and services their host calls. The bodies reach the VM
//! only through [`GuestAccess`] and the chain only through [`HostEnv`]: the same bodies serve
//! the executor (through the linker), the `polkavm-reference` comparison backend, and the
//! tests here, which run them against plain in-memory implementations of both.

use crate::primitives::{H160, H256, U256};

/// "None" for pointers and lengths, and "key not found" for storage lengths.
pub const SENTINEL: u32 = u32::MAX;

/// Register index of the first argument / the result (A0 = r7).
pub const A0: usize = 7;

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

/// A guest memory access outside the guest's accessible memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest memory access out of bounds: {length} bytes at {address:#x}")]
pub struct MemoryAccessError {
    /// First address accessed.
    pub address: u32,
    /// Number of bytes.
    pub length: u32,
}

/// What host functions need from a suspended guest: registers, memory and gas.
///
/// Implemented in [`crate::vm`] for the executor's `Instance` (which the linker hands to the
/// host functions) and for the `polkavm-reference` backend's instance, and for tests by plain
/// memory. It exists so that one set of host-function bodies serves every backend.
pub trait GuestAccess {
    /// Register `index` (0..13).
    fn reg(&self, index: usize) -> u64;
    /// Sets register `index`.
    fn set_reg(&mut self, index: usize, value: u64);
    /// Copies `out.len()` bytes from guest `address` into `out`.
    fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError>;
    /// Copies `data` into guest memory at `address`.
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError>;
    /// Gas the guest has left (negative once exhausted).
    fn gas_left(&self) -> i64;
    /// Replaces the guest's remaining gas.
    fn set_gas_left(&mut self, gas: i64);
}

/// Why a host function trapped the guest. The frame's state changes are undone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// A pointer argument pointed outside guest memory.
    #[error(transparent)]
    Memory(#[from] MemoryAccessError),
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
    InvalidImmutableAccess(&'static str),
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
    /// The executing environment refused the operation (reentrancy, call depth, unknown
    /// code hash, unsupported precompile...).
    #[error("{0}")]
    Refused(String),
}

/// What happens to the guest after a host function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostFlow {
    /// Resume the guest.
    Continue,
    /// Stop the guest: `seal_return` was called.
    Return {
        /// The revert flag was set.
        revert: bool,
        /// Output data.
        data: Vec<u8>,
    },
}

/// A storage key as pallet-revive distinguishes them: fixed 32-byte keys (what Solidity
/// uses) and variable-length keys live in separate spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StorageKey {
    /// A 32-byte key (`key_len == SENTINEL`).
    Fixed([u8; 32]),
    /// A variable-length key (at most 128 bytes).
    Variable(Vec<u8>),
}

impl StorageKey {
    /// The bytes the node stores the key as: a tag byte, then the key.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            StorageKey::Fixed(key) => {
                let mut bytes = Vec::with_capacity(33);
                bytes.push(0);
                bytes.extend_from_slice(key);
                bytes
            }
            StorageKey::Variable(key) => {
                let mut bytes = Vec::with_capacity(key.len() + 1);
                bytes.push(1);
                bytes.extend_from_slice(key);
                bytes
            }
        }
    }

    /// Inverse of [`StorageKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<StorageKey> {
        match bytes.split_first()? {
            (0, rest) => Some(StorageKey::Fixed(rest.try_into().ok()?)),
            (1, rest) => Some(StorageKey::Variable(rest.to_vec())),
            _ => None,
        }
    }
}

/// A call from the running contract to another address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRequest {
    /// Address called (a contract, a plain account, or a precompile).
    pub callee: H160,
    /// Value sent along (ignored for delegate calls).
    pub value: U256,
    /// Call data.
    pub input: Vec<u8>,
    /// Gas the callee may use at most.
    pub gas_limit: u64,
    /// Whether the callee may call back into the caller.
    pub allow_reentry: bool,
    /// Static call: the callee may not change state.
    pub read_only: bool,
    /// Run the callee's code in the caller's context (`delegate_call`).
    pub delegate: bool,
}

/// An instantiation requested by the running contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstantiateRequest {
    /// Code (already uploaded) to instantiate.
    pub code_hash: H256,
    /// Value endowed to the new contract.
    pub value: U256,
    /// Constructor input.
    pub input: Vec<u8>,
    /// CREATE2 salt; CREATE semantics without one.
    pub salt: Option<[u8; 32]>,
    /// Gas the constructor may use at most.
    pub gas_limit: u64,
}

/// Result of a sub-call or sub-instantiation that ran (whatever the callee did).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubcallOutcome {
    /// How the callee ended.
    pub status: SubcallStatus,
    /// Output (return data or revert data; empty after a trap).
    pub output: Vec<u8>,
    /// Gas the callee used; charged to the caller.
    pub gas_used: u64,
    /// Address of the new contract (instantiations that did not revert or fail).
    pub address: Option<H160>,
}

impl SubcallOutcome {
    /// An outcome where the callee never ran (refused before or instead of running): no
    /// output, no gas, no new address.
    pub fn nothing_ran(status: SubcallStatus) -> SubcallOutcome {
        SubcallOutcome { status, output: Vec::new(), gas_used: 0, address: None }
    }
}

/// How a sub-call ended, as pallet-revive reports it to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubcallStatus {
    /// Returned normally.
    Success,
    /// Returned with the revert flag.
    Reverted,
    /// Trapped (panic, bad host call...).
    Trapped,
    /// Ran out of gas.
    OutOfGas,
    /// The value transfer failed (balance too low).
    TransferFailed,
    /// An instantiation hit an address that already holds a contract.
    DuplicateContract,
}

impl SubcallStatus {
    /// The return code the caller sees in A0.
    pub fn return_code(self) -> u64 {
        match self {
            SubcallStatus::Success => ReturnCode::Success as u64,
            SubcallStatus::Reverted => ReturnCode::CalleeReverted as u64,
            SubcallStatus::Trapped | SubcallStatus::DuplicateContract => ReturnCode::CalleeTrapped as u64,
            SubcallStatus::OutOfGas => ReturnCode::OutOfResources as u64,
            SubcallStatus::TransferFailed => ReturnCode::TransferFailed as u64,
        }
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

/// Everything host functions need from the chain and the call stack.
///
/// Implemented by [`crate::exec`] over the state overlay; tests use an in-memory version.
pub trait HostEnv {
    /// Call data of the running frame.
    fn input(&self) -> &[u8];
    /// Address of the running contract.
    fn address(&self) -> H160;
    /// Address of the caller of the running frame.
    fn caller(&self) -> H160;
    /// Address of the account that signed the transaction.
    fn origin(&self) -> H160;
    /// Value sent with the running frame.
    fn value_transferred(&self) -> U256;
    /// Balance of `address`.
    fn balance_of(&self, address: &H160) -> U256;
    /// Block timestamp in seconds.
    fn now_seconds(&self) -> u64;
    /// Number of the block being built (or the best block for dry runs).
    fn block_number(&self) -> u64;
    /// Hash of block `number` if it is a known past block.
    fn block_hash(&self, number: u64) -> Option<H256>;
    /// EVM chain id of the chain.
    fn chain_id(&self) -> u64;
    /// Gas limit of a block.
    fn block_gas_limit(&self) -> u64;
    /// True inside a static call.
    fn is_read_only(&self) -> bool;
    /// True while running a constructor.
    fn is_deploy(&self) -> bool;
    /// Reads contract storage of the running contract.
    fn get_storage(&mut self, key: &StorageKey, transient: bool) -> Option<Vec<u8>>;
    /// Writes (`Some`) or removes (`None`) contract storage; returns the previous value.
    fn set_storage(&mut self, key: &StorageKey, value: Option<Vec<u8>>, transient: bool) -> Option<Vec<u8>>;
    /// Records an event of the running contract.
    fn deposit_event(&mut self, topics: Vec<H256>, data: Vec<u8>);
    /// Immutable data of the running contract.
    fn immutable_data(&self) -> Vec<u8>;
    /// Attaches immutable data to the contract being constructed.
    fn set_immutable_data(&mut self, data: Vec<u8>) -> Result<(), HostError>;
    /// Output of the last sub-call or sub-instantiation of the running frame.
    fn return_data(&self) -> &[u8];
    /// Code hash of the contract at `address`, if one lives there.
    fn code_hash_of(&self, address: &H160) -> Option<H256>;
    /// Size of the code of the contract at `address` (0 for plain accounts).
    fn code_size_of(&self, address: &H160) -> u64;
    /// Code hash the running frame executes.
    fn own_code_hash(&self) -> H256;
    /// True when the caller of the running frame signed the transaction.
    fn caller_is_origin(&self) -> bool;
    /// Calls another address; the result replaces the frame's return data.
    fn call(&mut self, request: CallRequest) -> Result<SubcallOutcome, HostError>;
    /// Instantiates a contract; the result replaces the frame's return data.
    fn instantiate(&mut self, request: InstantiateRequest) -> Result<SubcallOutcome, HostError>;
}

/// One function of the host API: the name contracts import it by, and what it does.
pub struct HostFunction {
    name: &'static str,
    body: HostFunctionBody,
}

/// A host function's work after the host-call charge: arguments from A0..A5, a result (if
/// any) to A0 through [`Ctx::result`].
type HostFunctionBody = fn(&mut Ctx<'_>) -> Result<HostFlow, HostError>;

impl HostFunction {
    /// The import name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the function for a guest stopped at `ecalli`: charges [`costs::HOST_CALL`], reads
    /// the arguments from A0..A5 and writes a result (if any) to A0 before returning
    /// [`HostFlow::Continue`].
    pub fn call(&self, guest: &mut dyn GuestAccess, env: &mut dyn HostEnv) -> Result<HostFlow, HostError> {
        let mut ctx = Ctx { guest, env };
        ctx.charge(costs::HOST_CALL)?;
        (self.body)(&mut ctx)
    }
}

impl std::fmt::Debug for HostFunction {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_tuple("HostFunction").field(&self.name).finish()
    }
}

/// Splits a register holding two packed 32-bit values: `(high, low)`.
pub fn split_hi_lo(reg: u64) -> (u32, u32) {
    ((reg >> 32) as u32, reg as u32)
}

mod call_flags {
    pub const FORWARD_INPUT: u32 = 0b0_0001;
    pub const CLONE_INPUT: u32 = 0b0_0010;
    pub const TAIL_CALL: u32 = 0b0_0100;
    pub const ALLOW_REENTRY: u32 = 0b0_1000;
    pub const READ_ONLY: u32 = 0b1_0000;
    pub const ALL: u32 = FORWARD_INPUT | CLONE_INPUT | TAIL_CALL | ALLOW_REENTRY | READ_ONLY;
}

const RETURN_FLAG_REVERT: u32 = 1;
const STORAGE_FLAG_TRANSIENT: u32 = 1;

/// Every host function the node provides, with its pallet-revive signature.
pub static HOST_FUNCTIONS: &[HostFunction] = &[
    // call_data_size() -> u64
    HostFunction { name: "call_data_size", body: |ctx| ctx.result(ctx.env.input().len() as u64) },
    // call_data_load(out_ptr, offset)
    HostFunction {
        name: "call_data_load",
        body: |ctx| {
            ctx.call_data_load(ctx.arg32(0), ctx.arg32(1))?;
            Ok(HostFlow::Continue)
        },
    },
    // call_data_copy(out_ptr, out_len, offset)
    HostFunction {
        name: "call_data_copy",
        body: |ctx| {
            ctx.call_data_copy(ctx.arg32(0), ctx.arg32(1), ctx.arg32(2))?;
            Ok(HostFlow::Continue)
        },
    },
    // seal_return(flags, data_ptr, data_len)
    HostFunction {
        name: "seal_return",
        body: |ctx| {
            let (flags, ptr, len) = (ctx.arg32(0), ctx.arg32(1), ctx.arg32(2));
            if flags & !RETURN_FLAG_REVERT != 0 {
                return Err(HostError::InvalidFlags { kind: "return", flags });
            }
            ctx.charge(costs::copy(len))?;
            let data = ctx.read(ptr, len)?;
            Ok(HostFlow::Return { revert: flags & RETURN_FLAG_REVERT != 0, data })
        },
    },
    // get_storage(flags, key_ptr, key_len, out_ptr, out_len_ptr) -> ReturnCode
    HostFunction {
        name: "get_storage",
        body: |ctx| {
            let code = ctx.get_storage(ctx.arg32(0), ctx.arg32(1), ctx.arg32(2), ctx.arg32(3), Some(ctx.arg32(4)))?;
            ctx.result(code)
        },
    },
    // get_storage_or_zero(flags, key_ptr, out_ptr)
    HostFunction {
        name: "get_storage_or_zero",
        body: |ctx| {
            ctx.get_storage(ctx.arg32(0), ctx.arg32(1), SENTINEL, ctx.arg32(2), None)?;
            Ok(HostFlow::Continue)
        },
    },
    // set_storage(flags, key_ptr, key_len, value_ptr, value_len) -> old len or SENTINEL
    HostFunction {
        name: "set_storage",
        body: |ctx| {
            let (value_ptr, value_len) = (ctx.arg32(3), ctx.arg32(4));
            if value_len > limits::PAYLOAD_BYTES {
                return Err(HostError::ValueTooLarge { len: value_len, max: limits::PAYLOAD_BYTES });
            }
            let value = ctx.read(value_ptr, value_len)?;
            let old_len = ctx.set_storage(ctx.arg32(0), ctx.arg32(1), ctx.arg32(2), Some(value))?;
            ctx.result(old_len)
        },
    },
    // set_storage_or_clear(flags, key_ptr, value_ptr) -> old len or SENTINEL
    HostFunction {
        name: "set_storage_or_clear",
        body: |ctx| {
            let value = ctx.read(ctx.arg32(2), 32)?;
            let value = if value.iter().all(|byte| *byte == 0) { None } else { Some(value) };
            let old_len = ctx.set_storage(ctx.arg32(0), ctx.arg32(1), SENTINEL, value)?;
            ctx.result(old_len)
        },
    },
    // clear_storage(flags, key_ptr, key_len) -> old len or SENTINEL
    HostFunction {
        name: "clear_storage",
        body: |ctx| {
            let old_len = ctx.set_storage(ctx.arg32(0), ctx.arg32(1), ctx.arg32(2), None)?;
            ctx.result(old_len)
        },
    },
    // contains_storage(flags, key_ptr, key_len) -> len or SENTINEL
    HostFunction {
        name: "contains_storage",
        body: |ctx| {
            let transient = storage_flags(ctx.arg32(0))?;
            let key = ctx.storage_key(ctx.arg32(1), ctx.arg32(2))?;
            ctx.charge(costs::STORAGE_READ)?;
            let len = match ctx.env.get_storage(&key, transient) {
                Some(value) => value.len() as u64,
                None => u64::from(SENTINEL),
            };
            ctx.result(len)
        },
    },
    // take_storage(flags, key_ptr, key_len, out_ptr, out_len_ptr) -> ReturnCode
    HostFunction {
        name: "take_storage",
        body: |ctx| {
            let transient = storage_flags(ctx.arg32(0))?;
            ctx.deny_if_read_only()?;
            let key = ctx.storage_key(ctx.arg32(1), ctx.arg32(2))?;
            ctx.charge(costs::STORAGE_WRITE)?;
            match ctx.env.set_storage(&key, None, transient) {
                Some(value) => {
                    ctx.write_output(ctx.arg32(3), ctx.arg32(4), &value, false)?;
                    ctx.result(ReturnCode::Success as u64)
                }
                None => ctx.result(ReturnCode::KeyNotFound as u64),
            }
        },
    },
    // caller(out_ptr)
    HostFunction {
        name: "caller",
        body: |ctx| {
            let caller = ctx.env.caller();
            ctx.write(ctx.arg32(0), caller.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // origin(out_ptr)
    HostFunction {
        name: "origin",
        body: |ctx| {
            let origin = ctx.env.origin();
            ctx.write(ctx.arg32(0), origin.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // address(out_ptr)
    HostFunction {
        name: "address",
        body: |ctx| {
            let address = ctx.env.address();
            ctx.write(ctx.arg32(0), address.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // caller_is_origin() -> bool
    HostFunction { name: "caller_is_origin", body: |ctx| ctx.result(u64::from(ctx.env.caller_is_origin())) },
    // caller_is_root() -> bool (never root here)
    HostFunction { name: "caller_is_root", body: |ctx| ctx.result(0) },
    // value_transferred(out_ptr)
    HostFunction {
        name: "value_transferred",
        body: |ctx| {
            let value = ctx.env.value_transferred();
            ctx.write_u256(ctx.arg32(0), value)?;
            Ok(HostFlow::Continue)
        },
    },
    // balance(out_ptr)
    HostFunction {
        name: "balance",
        body: |ctx| {
            ctx.charge(costs::BALANCE)?;
            let balance = ctx.env.balance_of(&ctx.env.address());
            ctx.write_u256(ctx.arg32(0), balance)?;
            Ok(HostFlow::Continue)
        },
    },
    // balance_of(addr_ptr, out_ptr)
    HostFunction {
        name: "balance_of",
        body: |ctx| {
            ctx.charge(costs::BALANCE)?;
            let address = ctx.read_h160(ctx.arg32(0))?;
            let balance = ctx.env.balance_of(&address);
            ctx.write_u256(ctx.arg32(1), balance)?;
            Ok(HostFlow::Continue)
        },
    },
    // minimum_balance(out_ptr) (the node has no existential deposit: 0)
    HostFunction {
        name: "minimum_balance",
        body: |ctx| {
            ctx.write_u256(ctx.arg32(0), U256::zero())?;
            Ok(HostFlow::Continue)
        },
    },
    // now(out_ptr): block timestamp in seconds
    HostFunction {
        name: "now",
        body: |ctx| {
            let now = U256::from(ctx.env.now_seconds());
            ctx.write_u256(ctx.arg32(0), now)?;
            Ok(HostFlow::Continue)
        },
    },
    // block_number(out_ptr)
    HostFunction {
        name: "block_number",
        body: |ctx| {
            let number = U256::from(ctx.env.block_number());
            ctx.write_u256(ctx.arg32(0), number)?;
            Ok(HostFlow::Continue)
        },
    },
    // block_hash(block_number_ptr, out_ptr)
    HostFunction {
        name: "block_hash",
        body: |ctx| {
            let number = ctx.read_u256(ctx.arg32(0))?;
            let hash = if number > U256::from(u64::MAX) {
                H256::zero()
            } else {
                ctx.env.block_hash(number.as_u64()).unwrap_or_default()
            };
            ctx.write(ctx.arg32(1), hash.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // block_author(out_ptr) (no authors here: zero)
    HostFunction {
        name: "block_author",
        body: |ctx| {
            ctx.write(ctx.arg32(0), H160::zero().as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // chain_id(out_ptr)
    HostFunction {
        name: "chain_id",
        body: |ctx| {
            let chain_id = U256::from(ctx.env.chain_id());
            ctx.write_u256(ctx.arg32(0), chain_id)?;
            Ok(HostFlow::Continue)
        },
    },
    // gas_limit() -> u64: the block gas limit
    HostFunction { name: "gas_limit", body: |ctx| ctx.result(ctx.env.block_gas_limit()) },
    // gas_price() -> u64
    HostFunction { name: "gas_price", body: |ctx| ctx.result(1) },
    // base_fee(out_ptr)
    HostFunction {
        name: "base_fee",
        body: |ctx| {
            ctx.write_u256(ctx.arg32(0), U256::zero())?;
            Ok(HostFlow::Continue)
        },
    },
    // ref_time_left() -> u64
    HostFunction { name: "ref_time_left", body: |ctx| ctx.result(ctx.guest.gas_left().max(0) as u64) },
    // weight_left(out_ptr, out_len_ptr): SCALE `Weight { ref_time, proof_size }`
    HostFunction {
        name: "weight_left",
        body: |ctx| {
            use parity_scale_codec::{Compact, Encode};
            let ref_time = ctx.guest.gas_left().max(0) as u64;
            let encoded = (Compact(ref_time), Compact(u64::MAX)).encode();
            ctx.write_output(ctx.arg32(0), ctx.arg32(1), &encoded, false)?;
            Ok(HostFlow::Continue)
        },
    },
    // deposit_event(topics_ptr, num_topic, data_ptr, data_len)
    HostFunction {
        name: "deposit_event",
        body: |ctx| {
            ctx.deposit_event(ctx.arg32(0), ctx.arg32(1), ctx.arg32(2), ctx.arg32(3))?;
            Ok(HostFlow::Continue)
        },
    },
    // hash_keccak_256(input_ptr, input_len, out_ptr)
    HostFunction { name: "hash_keccak_256", body: |ctx| ctx.hash(|data| sp_crypto_hashing::keccak_256(data).to_vec()) },
    // hash_sha2_256(input_ptr, input_len, out_ptr)
    HostFunction { name: "hash_sha2_256", body: |ctx| ctx.hash(|data| sp_crypto_hashing::sha2_256(data).to_vec()) },
    // hash_blake2_256(input_ptr, input_len, out_ptr)
    HostFunction { name: "hash_blake2_256", body: |ctx| ctx.hash(|data| sp_crypto_hashing::blake2_256(data).to_vec()) },
    // hash_blake2_128(input_ptr, input_len, out_ptr)
    HostFunction { name: "hash_blake2_128", body: |ctx| ctx.hash(|data| sp_crypto_hashing::blake2_128(data).to_vec()) },
    // get_immutable_data(out_ptr, out_len_ptr)
    HostFunction {
        name: "get_immutable_data",
        body: |ctx| {
            if ctx.env.is_deploy() {
                return Err(HostError::InvalidImmutableAccess("read during deploy"));
            }
            let data = ctx.env.immutable_data();
            ctx.charge(costs::copy(data.len() as u32))?;
            ctx.write_output(ctx.arg32(0), ctx.arg32(1), &data, false)?;
            Ok(HostFlow::Continue)
        },
    },
    // set_immutable_data(ptr, len)
    HostFunction {
        name: "set_immutable_data",
        body: |ctx| {
            let (ptr, len) = (ctx.arg32(0), ctx.arg32(1));
            if len > limits::IMMUTABLE_BYTES {
                return Err(HostError::ValueTooLarge { len, max: limits::IMMUTABLE_BYTES });
            }
            ctx.charge(costs::copy(len))?;
            let data = ctx.read(ptr, len)?;
            ctx.env.set_immutable_data(data)?;
            Ok(HostFlow::Continue)
        },
    },
    // return_data_size() -> u64
    HostFunction { name: "return_data_size", body: |ctx| ctx.result(ctx.env.return_data().len() as u64) },
    // return_data_copy(out_ptr, out_len_ptr, offset)
    HostFunction {
        name: "return_data_copy",
        body: |ctx| {
            let (out_ptr, out_len_ptr, offset) = (ctx.arg32(0), ctx.arg32(1), ctx.arg32(2));
            let data = ctx.env.return_data().to_vec();
            if offset as usize > data.len() {
                return Err(HostError::ReturnDataOutOfBounds { offset, len: data.len() as u32 });
            }
            ctx.write_output(out_ptr, out_len_ptr, &data[offset as usize..], false)?;
            Ok(HostFlow::Continue)
        },
    },
    // code_size(addr_ptr) -> u64
    HostFunction {
        name: "code_size",
        body: |ctx| {
            let address = ctx.read_h160(ctx.arg32(0))?;
            ctx.result(ctx.env.code_size_of(&address))
        },
    },
    // code_hash(addr_ptr, out_ptr)
    HostFunction {
        name: "code_hash",
        body: |ctx| {
            let address = ctx.read_h160(ctx.arg32(0))?;
            // pallet-revive: zero for accounts that do not exist, the hash of empty code
            // for plain accounts; the node knows no "nonexistent" accounts with balance
            // apart, so plain accounts with a balance or nonce get the empty-code hash.
            let hash = match ctx.env.code_hash_of(&address) {
                Some(hash) => hash,
                None if ctx.env.balance_of(&address).is_zero() => H256::zero(),
                None => crate::primitives::keccak_256(&[]),
            };
            ctx.write(ctx.arg32(1), hash.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // own_code_hash(out_ptr)
    HostFunction {
        name: "own_code_hash",
        body: |ctx| {
            let hash = ctx.env.own_code_hash();
            ctx.write(ctx.arg32(0), hash.as_bytes())?;
            Ok(HostFlow::Continue)
        },
    },
    // is_contract(addr_ptr) -> bool
    HostFunction {
        name: "is_contract",
        body: |ctx| {
            let address = ctx.read_h160(ctx.arg32(0))?;
            ctx.result(u64::from(ctx.env.code_hash_of(&address).is_some()))
        },
    },
    // call(flags_and_callee, ref_time_limit, proof_size_limit, deposit_and_value, input_data, output_data) -> ReturnCode
    HostFunction { name: "call", body: |ctx| ctx.call(false) },
    // delegate_call(flags_and_callee, ref_time_limit, proof_size_limit, deposit_ptr, input_data, output_data) -> ReturnCode
    HostFunction { name: "delegate_call", body: |ctx| ctx.call(true) },
    // instantiate(ref_time_limit, proof_size_limit, deposit_and_value, input_data, output_data, address_and_salt) -> ReturnCode
    HostFunction { name: "instantiate", body: |ctx| ctx.instantiate() },
];

fn storage_flags(flags: u32) -> Result<bool, HostError> {
    if flags & !STORAGE_FLAG_TRANSIENT != 0 {
        return Err(HostError::InvalidFlags { kind: "storage", flags });
    }
    Ok(flags & STORAGE_FLAG_TRANSIENT != 0)
}

/// A guest and its environment during one host call.
struct Ctx<'a> {
    guest: &'a mut dyn GuestAccess,
    env: &'a mut dyn HostEnv,
}

impl Ctx<'_> {
    /// Argument `n` (register A0 + n).
    fn arg(&self, n: usize) -> u64 {
        self.guest.reg(A0 + n)
    }

    /// Argument `n` as a 32-bit value (a pointer, a length or flags): the register's low half.
    fn arg32(&self, n: usize) -> u32 {
        self.arg(n) as u32
    }

    /// Writes the function's result to A0 and continues the guest.
    fn result(&mut self, value: u64) -> Result<HostFlow, HostError> {
        self.guest.set_reg(A0, value);
        Ok(HostFlow::Continue)
    }

    fn charge(&mut self, amount: u64) -> Result<(), HostError> {
        let left = self.guest.gas_left();
        let amount = i64::try_from(amount).unwrap_or(i64::MAX);
        if left < amount {
            self.guest.set_gas_left(0);
            return Err(HostError::OutOfGas);
        }
        self.guest.set_gas_left(left - amount);
        Ok(())
    }

    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        // The host allocates what the guest asks to read; bound it before allocating.
        if len > limits::MAX_HOST_READ {
            return Err(HostError::ReadTooLarge(len));
        }
        let mut buffer = vec![0u8; len as usize];
        self.guest.read_memory(ptr, &mut buffer)?;
        Ok(buffer)
    }

    fn read_h160(&mut self, ptr: u32) -> Result<H160, HostError> {
        let mut buffer = [0u8; 20];
        self.guest.read_memory(ptr, &mut buffer)?;
        Ok(H160(buffer))
    }

    fn read_u256(&mut self, ptr: u32) -> Result<U256, HostError> {
        let mut buffer = [0u8; 32];
        self.guest.read_memory(ptr, &mut buffer)?;
        Ok(U256::from_little_endian(&buffer))
    }

    fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), HostError> {
        self.guest.write_memory(ptr, data)?;
        Ok(())
    }

    fn write_u256(&mut self, ptr: u32, value: U256) -> Result<(), HostError> {
        self.write(ptr, &value.to_little_endian())
    }

    /// pallet-revive's `write_sandbox_output`: `out_len_ptr` holds the buffer's capacity on
    /// entry and the number of bytes written on exit; `SENTINEL` as `out_ptr` skips the copy
    /// where `allow_skip` says so.
    fn write_output(&mut self, out_ptr: u32, out_len_ptr: u32, data: &[u8], allow_skip: bool) -> Result<(), HostError> {
        if allow_skip && out_ptr == SENTINEL {
            return Ok(());
        }
        let mut capacity = [0u8; 4];
        self.guest.read_memory(out_len_ptr, &mut capacity)?;
        let len = u32::from_le_bytes(capacity).min(data.len() as u32);
        self.charge(costs::copy(len))?;
        self.write(out_ptr, &data[..len as usize])?;
        self.write(out_len_ptr, &len.to_le_bytes())
    }

    fn storage_key(&mut self, key_ptr: u32, key_len: u32) -> Result<StorageKey, HostError> {
        if key_len == SENTINEL {
            let mut key = [0u8; 32];
            self.guest.read_memory(key_ptr, &mut key)?;
            return Ok(StorageKey::Fixed(key));
        }
        if key_len > limits::STORAGE_KEY_BYTES {
            return Err(HostError::KeyTooLong(key_len));
        }
        Ok(StorageKey::Variable(self.read(key_ptr, key_len)?))
    }

    fn deny_if_read_only(&self) -> Result<(), HostError> {
        if self.env.is_read_only() {
            return Err(HostError::StateChangeDenied);
        }
        Ok(())
    }

    fn call_data_load(&mut self, out_ptr: u32, offset: u32) -> Result<(), HostError> {
        let input = self.env.input();
        let mut word = [0u8; 32];
        let start = offset as usize;
        if start < input.len() {
            let end = start.saturating_add(32).min(input.len());
            word[..end - start].copy_from_slice(&input[start..end]);
            // The guest keeps 256-bit numbers little-endian; call data is big-endian.
            word.reverse();
        }
        self.write(out_ptr, &word)
    }

    fn call_data_copy(&mut self, out_ptr: u32, out_len: u32, offset: u32) -> Result<(), HostError> {
        self.charge(costs::copy(out_len))?;
        let input = self.env.input();
        let start = (offset as usize).min(input.len());
        let end = start.saturating_add(out_len as usize).min(input.len());
        let data = input[start..end].to_vec();
        self.write(out_ptr, &data)?;
        // Zero the rest in chunks: the guest may ask for far more than there is input.
        let zeros = [0u8; 4096];
        let mut written = data.len() as u32;
        while written < out_len {
            let chunk = (out_len - written).min(zeros.len() as u32);
            let at = out_ptr.checked_add(written).ok_or(MemoryAccessError { address: out_ptr, length: out_len })?;
            self.write(at, &zeros[..chunk as usize])?;
            written += chunk;
        }
        Ok(())
    }

    fn get_storage(
        &mut self,
        flags: u32,
        key_ptr: u32,
        key_len: u32,
        out_ptr: u32,
        out_len_ptr: Option<u32>,
    ) -> Result<u64, HostError> {
        let transient = storage_flags(flags)?;
        let key = self.storage_key(key_ptr, key_len)?;
        self.charge(costs::STORAGE_READ)?;
        let value = self.env.get_storage(&key, transient);
        match out_len_ptr {
            Some(out_len_ptr) => match value {
                Some(value) => {
                    self.write_output(out_ptr, out_len_ptr, &value, false)?;
                    Ok(ReturnCode::Success as u64)
                }
                None => Ok(ReturnCode::KeyNotFound as u64),
            },
            None => {
                // Fixed 32-byte output, zeros when absent (Ethereum's SLOAD).
                let mut word = [0u8; 32];
                if let Some(value) = value {
                    let len = value.len().min(32);
                    word[..len].copy_from_slice(&value[..len]);
                }
                self.write(out_ptr, &word)?;
                Ok(ReturnCode::Success as u64)
            }
        }
    }

    fn set_storage(
        &mut self,
        flags: u32,
        key_ptr: u32,
        key_len: u32,
        value: Option<Vec<u8>>,
    ) -> Result<u64, HostError> {
        let transient = storage_flags(flags)?;
        self.deny_if_read_only()?;
        let key = self.storage_key(key_ptr, key_len)?;
        let value_len = value.as_ref().map_or(0, |value| value.len() as u64);
        self.charge(costs::STORAGE_WRITE + value_len * costs::PER_STORAGE_BYTE)?;
        Ok(match self.env.set_storage(&key, value, transient) {
            Some(old) => old.len() as u64,
            None => u64::from(SENTINEL),
        })
    }

    fn deposit_event(
        &mut self,
        topics_ptr: u32,
        num_topics: u32,
        data_ptr: u32,
        data_len: u32,
    ) -> Result<(), HostError> {
        self.deny_if_read_only()?;
        if num_topics > limits::NUM_EVENT_TOPICS {
            return Err(HostError::TooManyTopics(num_topics));
        }
        if data_len > limits::PAYLOAD_BYTES {
            return Err(HostError::ValueTooLarge { len: data_len, max: limits::PAYLOAD_BYTES });
        }
        self.charge(
            costs::EVENT + u64::from(num_topics) * costs::PER_TOPIC + u64::from(data_len) * costs::PER_EVENT_BYTE,
        )?;
        let raw_topics = self.read(topics_ptr, num_topics * 32)?;
        let topics = raw_topics.chunks_exact(32).map(H256::from_slice).collect();
        let data = self.read(data_ptr, data_len)?;
        self.env.deposit_event(topics, data);
        Ok(())
    }

    /// The `hash_*` functions: `(input_ptr, input_len, out_ptr)`.
    fn hash(&mut self, hash: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<HostFlow, HostError> {
        let (input_ptr, input_len, out_ptr) = (self.arg32(0), self.arg32(1), self.arg32(2));
        self.charge(costs::HASH + u64::from(input_len).div_ceil(32) * costs::PER_WORD_HASHED)?;
        let input = self.read(input_ptr, input_len)?;
        let digest = hash(&input);
        self.write(out_ptr, &digest)?;
        Ok(HostFlow::Continue)
    }

    /// Gas the callee may use: the requested limit, capped by what the caller has left.
    fn callee_gas_limit(&self, requested: u64) -> u64 {
        requested.min(self.guest.gas_left().max(0) as u64)
    }

    /// Charges the caller for gas its callee used.
    fn charge_callee(&mut self, gas_used: u64) {
        let left = self.guest.gas_left();
        self.guest.set_gas_left(left.saturating_sub(i64::try_from(gas_used).unwrap_or(i64::MAX)));
    }

    /// `call` and `delegate_call`; a tail call returns the callee's return as its own.
    fn call(&mut self, delegate: bool) -> Result<HostFlow, HostError> {
        let (flags, callee_ptr) = split_hi_lo(self.arg(0));
        let ref_time_limit = self.arg(1);
        // The storage deposit limit (`deposit_ptr`) is accepted and not enforced.
        let value_ptr = if delegate { SENTINEL } else { split_hi_lo(self.arg(3)).1 };
        let (input_len, input_ptr) = split_hi_lo(self.arg(4));
        let (output_len_ptr, output_ptr) = split_hi_lo(self.arg(5));
        if flags & !call_flags::ALL != 0 {
            return Err(HostError::InvalidFlags { kind: "call", flags });
        }
        if delegate && flags & (call_flags::ALLOW_REENTRY | call_flags::READ_ONLY) != 0 {
            return Err(HostError::InvalidFlags { kind: "delegate call", flags });
        }
        self.charge(costs::CALL)?;
        let callee = self.read_h160(callee_ptr)?;
        let input = if flags & (call_flags::CLONE_INPUT | call_flags::FORWARD_INPUT) != 0 {
            // Forwarding consumes the input in pallet-revive; cloning keeps it. The node
            // keeps it in both cases, which only differs for contracts that read their
            // input after forwarding it (an error in pallet-revive).
            self.env.input().to_vec()
        } else {
            if input_len > limits::CALLDATA_BYTES {
                return Err(HostError::CallDataTooLarge(input_len));
            }
            self.charge(costs::copy(input_len))?;
            self.read(input_ptr, input_len)?
        };
        let value = if delegate { U256::zero() } else { self.read_u256(value_ptr)? };
        let read_only = flags & call_flags::READ_ONLY != 0;
        if !value.is_zero() {
            if read_only || self.env.is_read_only() {
                return Err(HostError::StateChangeDenied);
            }
            self.charge(costs::TRANSFER)?;
        }
        let request = CallRequest {
            callee,
            value,
            input,
            gas_limit: self.callee_gas_limit(ref_time_limit),
            allow_reentry: flags & call_flags::ALLOW_REENTRY != 0,
            read_only,
            delegate,
        };
        let outcome = self.env.call(request)?;
        self.charge_callee(outcome.gas_used);
        let returned = matches!(outcome.status, SubcallStatus::Success | SubcallStatus::Reverted);
        if flags & call_flags::TAIL_CALL != 0 && returned {
            // The callee's return (or revert) becomes the caller's.
            return Ok(HostFlow::Return { revert: outcome.status == SubcallStatus::Reverted, data: outcome.output });
        }
        match outcome.status {
            SubcallStatus::Success | SubcallStatus::Reverted => {
                self.write_output(output_ptr, output_len_ptr, &outcome.output, true)?;
            }
            _ => {
                if output_ptr != SENTINEL {
                    self.write(output_len_ptr, &0u32.to_le_bytes())?;
                }
            }
        }
        if self.guest.gas_left() < 0 {
            return Err(HostError::OutOfGas);
        }
        self.result(outcome.status.return_code())
    }

    /// `instantiate`.
    fn instantiate(&mut self) -> Result<HostFlow, HostError> {
        let ref_time_limit = self.arg(0);
        // The storage deposit limit (high half of A2) is accepted and not enforced.
        let value_ptr = split_hi_lo(self.arg(2)).1;
        let (input_len, code_hash_ptr) = split_hi_lo(self.arg(3));
        let (output_len_ptr, output_ptr) = split_hi_lo(self.arg(4));
        let (address_ptr, salt_ptr) = split_hi_lo(self.arg(5));
        self.deny_if_read_only()?;
        // The code hash is the first 32 bytes of the input buffer.
        let input_ptr =
            code_hash_ptr.checked_add(32).ok_or(MemoryAccessError { address: code_hash_ptr, length: 32 })?;
        let input_len =
            input_len.checked_sub(32).ok_or(MemoryAccessError { address: code_hash_ptr, length: input_len })?;
        if input_len > limits::CALLDATA_BYTES {
            return Err(HostError::CallDataTooLarge(input_len));
        }
        self.charge(costs::INSTANTIATE + costs::copy(input_len))?;
        let value = self.read_u256(value_ptr)?;
        let mut code_hash = [0u8; 32];
        self.guest.read_memory(code_hash_ptr, &mut code_hash)?;
        let input = self.read(input_ptr, input_len)?;
        let salt = if salt_ptr == SENTINEL {
            None
        } else {
            let mut salt = [0u8; 32];
            self.guest.read_memory(salt_ptr, &mut salt)?;
            Some(salt)
        };
        let request = InstantiateRequest {
            code_hash: H256(code_hash),
            value,
            input,
            salt,
            gas_limit: self.callee_gas_limit(ref_time_limit),
        };
        let outcome = self.env.instantiate(request)?;
        self.charge_callee(outcome.gas_used);
        match outcome.status {
            SubcallStatus::Success | SubcallStatus::Reverted => {
                if let (SubcallStatus::Success, Some(address)) = (outcome.status, outcome.address) {
                    if address_ptr != SENTINEL {
                        self.write(address_ptr, address.as_bytes())?;
                    }
                }
                self.write_output(output_ptr, output_len_ptr, &outcome.output, true)?;
            }
            _ => {}
        }
        if self.guest.gas_left() < 0 {
            return Err(HostError::OutOfGas);
        }
        self.result(outcome.status.return_code())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! In-memory implementations of [`GuestAccess`] and [`HostEnv`] for unit tests.

    use super::*;
    use std::collections::BTreeMap;

    /// Flat guest memory starting at [`FlatGuest::BASE`].
    pub struct FlatGuest {
        pub regs: [u64; 13],
        pub memory: Vec<u8>,
        pub gas: i64,
    }

    impl FlatGuest {
        /// Lowest accessible address (PolkaVM never maps the first 64 KiB).
        pub const BASE: u32 = 0x1_0000;

        pub fn new(size: usize, gas: i64) -> FlatGuest {
            FlatGuest { regs: [0; 13], memory: vec![0; size], gas }
        }

        pub fn args(&mut self, args: &[u64]) {
            for (index, value) in args.iter().enumerate() {
                self.regs[A0 + index] = *value;
            }
        }

        pub fn put(&mut self, address: u32, data: &[u8]) {
            self.write_memory(address, data).expect("test address inside guest memory");
        }

        pub fn get(&mut self, address: u32, len: usize) -> Vec<u8> {
            let mut out = vec![0; len];
            self.read_memory(address, &mut out).expect("test address inside guest memory");
            out
        }

        fn range(&self, address: u32, len: usize) -> Result<std::ops::Range<usize>, MemoryAccessError> {
            let error = MemoryAccessError { address, length: len as u32 };
            let start = address.checked_sub(Self::BASE).ok_or(error)? as usize;
            let end = start.checked_add(len).ok_or(error)?;
            if end > self.memory.len() {
                return Err(error);
            }
            Ok(start..end)
        }
    }

    impl GuestAccess for FlatGuest {
        fn reg(&self, index: usize) -> u64 {
            self.regs[index]
        }
        fn set_reg(&mut self, index: usize, value: u64) {
            self.regs[index] = value;
        }
        fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
            let range = self.range(address, out.len())?;
            out.copy_from_slice(&self.memory[range]);
            Ok(())
        }
        fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
            let range = self.range(address, data.len())?;
            self.memory[range].copy_from_slice(data);
            Ok(())
        }
        fn gas_left(&self) -> i64 {
            self.gas
        }
        fn set_gas_left(&mut self, gas: i64) {
            self.gas = gas;
        }
    }

    /// A single contract frame over in-memory state, recording sub-calls.
    #[derive(Default)]
    pub struct MapEnv {
        pub input: Vec<u8>,
        pub address: H160,
        pub caller: H160,
        pub origin: H160,
        pub value: U256,
        pub balances: BTreeMap<H160, U256>,
        pub storage: BTreeMap<StorageKey, Vec<u8>>,
        pub transient: BTreeMap<StorageKey, Vec<u8>>,
        pub events: Vec<(Vec<H256>, Vec<u8>)>,
        pub immutable: Option<Vec<u8>>,
        pub deploy: bool,
        pub read_only: bool,
        pub return_data: Vec<u8>,
        pub code_hashes: BTreeMap<H160, (H256, u64)>,
        pub calls: Vec<CallRequest>,
        pub instantiations: Vec<InstantiateRequest>,
        pub next_outcome: Option<SubcallOutcome>,
    }

    impl HostEnv for MapEnv {
        fn input(&self) -> &[u8] {
            &self.input
        }
        fn address(&self) -> H160 {
            self.address
        }
        fn caller(&self) -> H160 {
            self.caller
        }
        fn origin(&self) -> H160 {
            self.origin
        }
        fn value_transferred(&self) -> U256 {
            self.value
        }
        fn balance_of(&self, address: &H160) -> U256 {
            self.balances.get(address).copied().unwrap_or_default()
        }
        fn now_seconds(&self) -> u64 {
            1_700_000_000
        }
        fn block_number(&self) -> u64 {
            42
        }
        fn block_hash(&self, number: u64) -> Option<H256> {
            (number < 42).then(|| H256::repeat_byte(number as u8))
        }
        fn chain_id(&self) -> u64 {
            420_420
        }
        fn block_gas_limit(&self) -> u64 {
            10_000_000_000
        }
        fn is_read_only(&self) -> bool {
            self.read_only
        }
        fn is_deploy(&self) -> bool {
            self.deploy
        }
        fn get_storage(&mut self, key: &StorageKey, transient: bool) -> Option<Vec<u8>> {
            let map = if transient { &self.transient } else { &self.storage };
            map.get(key).cloned()
        }
        fn set_storage(&mut self, key: &StorageKey, value: Option<Vec<u8>>, transient: bool) -> Option<Vec<u8>> {
            let map = if transient { &mut self.transient } else { &mut self.storage };
            match value {
                Some(value) => map.insert(key.clone(), value),
                None => map.remove(key),
            }
        }
        fn deposit_event(&mut self, topics: Vec<H256>, data: Vec<u8>) {
            self.events.push((topics, data));
        }
        fn immutable_data(&self) -> Vec<u8> {
            self.immutable.clone().unwrap_or_default()
        }
        fn set_immutable_data(&mut self, data: Vec<u8>) -> Result<(), HostError> {
            if !self.deploy {
                return Err(HostError::InvalidImmutableAccess("written outside deploy"));
            }
            if self.immutable.is_some() {
                return Err(HostError::InvalidImmutableAccess("written twice"));
            }
            self.immutable = Some(data);
            Ok(())
        }
        fn return_data(&self) -> &[u8] {
            &self.return_data
        }
        fn code_hash_of(&self, address: &H160) -> Option<H256> {
            self.code_hashes.get(address).map(|(hash, _)| *hash)
        }
        fn code_size_of(&self, address: &H160) -> u64 {
            self.code_hashes.get(address).map_or(0, |(_, size)| *size)
        }
        fn own_code_hash(&self) -> H256 {
            H256::repeat_byte(0xc0)
        }
        fn caller_is_origin(&self) -> bool {
            self.caller == self.origin
        }
        fn call(&mut self, request: CallRequest) -> Result<SubcallOutcome, HostError> {
            self.calls.push(request);
            let outcome = self.next_outcome.take().expect("test set the sub-call outcome");
            self.return_data = outcome.output.clone();
            Ok(outcome)
        }
        fn instantiate(&mut self, request: InstantiateRequest) -> Result<SubcallOutcome, HostError> {
            self.instantiations.push(request);
            let outcome = self.next_outcome.take().expect("test set the sub-call outcome");
            self.return_data = outcome.output.clone();
            Ok(outcome)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{FlatGuest, MapEnv};
    use super::*;

    const B: u32 = FlatGuest::BASE;

    fn run(name: &str, guest: &mut FlatGuest, env: &mut MapEnv) -> Result<HostFlow, HostError> {
        let function = HOST_FUNCTIONS.iter().find(|function| function.name() == name).expect("a host function");
        function.call(guest, env)
    }

    fn guest() -> FlatGuest {
        FlatGuest::new(8192, 1_000_000)
    }

    #[test]
    fn call_data_size_load_and_copy() {
        let mut env = MapEnv { input: (1..=40).collect(), ..Default::default() };
        let mut g = guest();
        run("call_data_size", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 40);

        // Load reverses the 32 bytes at the offset (big-endian call data to a LE word).
        g.args(&[u64::from(B), 4]);
        run("call_data_load", &mut g, &mut env).unwrap();
        let expected: Vec<u8> = (5..=36).rev().collect();
        assert_eq!(g.get(B, 32), expected);

        // Past the end: zero padded on the right before the reversal.
        g.args(&[u64::from(B), 30]);
        run("call_data_load", &mut g, &mut env).unwrap();
        let mut expected = [0u8; 32];
        expected[..10].copy_from_slice(&(31..=40).collect::<Vec<u8>>());
        expected.reverse();
        assert_eq!(g.get(B, 32), expected);

        // Fully out of range: zeros.
        g.put(B, &[0xff; 32]);
        g.args(&[u64::from(B), 1000]);
        run("call_data_load", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B, 32), vec![0; 32]);

        // Copy with zero fill past the end of the input.
        g.put(B + 100, &[0xee; 16]);
        g.args(&[u64::from(B + 100), 16, 36]);
        run("call_data_copy", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 100, 16), [37, 38, 39, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn huge_lengths_trap_without_huge_allocations() {
        let mut env = MapEnv { input: vec![7; 8], ..Default::default() };
        let mut g = guest();
        // Copy 4 GiB of call data: the first 8 bytes land, the zero fill runs into the end
        // of guest memory and traps there.
        g.args(&[u64::from(B), u64::from(u32::MAX), 0]);
        g.gas = i64::MAX;
        let error = run("call_data_copy", &mut g, &mut env).unwrap_err();
        assert!(matches!(error, HostError::Memory(_)), "{error:?}");
        assert_eq!(g.get(B, 8), vec![7; 8]);
        // Return 4 GiB: refused before reading.
        g.args(&[0, u64::from(B), u64::from(u32::MAX)]);
        assert_eq!(run("seal_return", &mut g, &mut env).unwrap_err(), HostError::ReadTooLarge(u32::MAX));
        g.args(&[u64::from(B), u64::from(u32::MAX), u64::from(B)]);
        assert_eq!(run("hash_keccak_256", &mut g, &mut env).unwrap_err(), HostError::ReadTooLarge(u32::MAX));
    }

    #[test]
    fn tail_call_returns_the_callee_result() {
        for (status, revert) in [(SubcallStatus::Success, false), (SubcallStatus::Reverted, true)] {
            let mut env = MapEnv {
                next_outcome: Some(SubcallOutcome { status, output: b"tail".to_vec(), gas_used: 1, address: None }),
                ..Default::default()
            };
            let mut g = guest();
            g.args(&[pack(0b0100, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B + 300, u32::MAX)]);
            assert_eq!(run("call", &mut g, &mut env).unwrap(), HostFlow::Return { revert, data: b"tail".to_vec() });
        }
    }

    #[test]
    fn out_of_bounds_pointer_traps() {
        let mut env = MapEnv { input: vec![1; 32], ..Default::default() };
        let mut g = guest();
        g.args(&[0x100, 0]);
        let error = run("call_data_load", &mut g, &mut env).unwrap_err();
        assert!(matches!(error, HostError::Memory(MemoryAccessError { address: 0x100, length: 32 })));
    }

    #[test]
    fn seal_return_carries_the_revert_flag() {
        let mut env = MapEnv::default();
        let mut g = guest();
        g.put(B, b"output");
        g.args(&[0, u64::from(B), 6]);
        assert_eq!(
            run("seal_return", &mut g, &mut env).unwrap(),
            HostFlow::Return { revert: false, data: b"output".to_vec() }
        );
        g.args(&[1, u64::from(B), 3]);
        assert_eq!(
            run("seal_return", &mut g, &mut env).unwrap(),
            HostFlow::Return { revert: true, data: b"out".to_vec() }
        );
        g.args(&[2, u64::from(B), 3]);
        assert_eq!(
            run("seal_return", &mut g, &mut env).unwrap_err(),
            HostError::InvalidFlags { kind: "return", flags: 2 }
        );
    }

    #[test]
    fn storage_set_get_contains_take_clear() {
        let mut env = MapEnv::default();
        let mut g = guest();
        let key = [7u8; 32];
        g.put(B, &key);
        g.put(B + 32, &[0xaa; 40]);
        let sentinel = u64::from(SENTINEL);

        // set a fresh fixed key: no previous value.
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 40]);
        run("set_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], sentinel);
        assert_eq!(env.storage.get(&StorageKey::Fixed(key)), Some(&vec![0xaa; 40]));

        // overwrite: returns the old length.
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 8]);
        run("set_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 40);

        // contains: length of the value.
        g.args(&[0, u64::from(B), sentinel]);
        run("contains_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 8);

        // get into a buffer of 4 bytes: truncated, length written back.
        g.put(B + 200, &4u32.to_le_bytes());
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 100), u64::from(B + 200)]);
        run("get_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], ReturnCode::Success as u64);
        assert_eq!(g.get(B + 100, 4), vec![0xaa; 4]);
        assert_eq!(g.get(B + 200, 4), 4u32.to_le_bytes());

        // the same 32 bytes as a variable-length key are a different key.
        g.put(B + 200, &64u32.to_le_bytes());
        g.args(&[0, u64::from(B), 32, u64::from(B + 100), u64::from(B + 200)]);
        run("get_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], ReturnCode::KeyNotFound as u64);

        // take: returns and removes.
        g.put(B + 200, &64u32.to_le_bytes());
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 100), u64::from(B + 200)]);
        run("take_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], ReturnCode::Success as u64);
        assert_eq!(g.get(B + 200, 4), 8u32.to_le_bytes());
        assert!(env.storage.is_empty());

        // clear of a missing key: SENTINEL.
        g.args(&[0, u64::from(B), sentinel]);
        run("clear_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], sentinel);

        // get_storage_or_zero on a missing key writes zeros.
        g.put(B + 100, &[0xff; 32]);
        g.args(&[0, u64::from(B), u64::from(B + 100)]);
        run("get_storage_or_zero", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 100, 32), vec![0; 32]);
    }

    #[test]
    fn storage_limits_and_flags() {
        let mut env = MapEnv::default();
        let mut g = guest();
        let sentinel = u64::from(SENTINEL);
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 417]);
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), HostError::ValueTooLarge { len: 417, max: 416 });
        g.args(&[0, u64::from(B), 129, u64::from(B + 32), 1]);
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), HostError::KeyTooLong(129));
        g.args(&[2, u64::from(B), sentinel, u64::from(B + 32), 1]);
        assert!(matches!(
            run("set_storage", &mut g, &mut env).unwrap_err(),
            HostError::InvalidFlags { kind: "storage", .. }
        ));
        // Transient storage is separate from persistent storage.
        g.args(&[1, u64::from(B), sentinel, u64::from(B + 32), 1]);
        run("set_storage", &mut g, &mut env).unwrap();
        assert!(env.storage.is_empty());
        assert_eq!(env.transient.len(), 1);
        // Read-only frames cannot write.
        env.read_only = true;
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 1]);
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), HostError::StateChangeDenied);
    }

    #[test]
    fn context_values() {
        let alice = H160::repeat_byte(0xa1);
        let contract = H160::repeat_byte(0xc0);
        let mut env = MapEnv {
            address: contract,
            caller: alice,
            origin: alice,
            value: U256::from(1234u64),
            ..Default::default()
        };
        env.balances.insert(contract, U256::from(99u64));
        env.balances.insert(alice, U256::from(5u64) << 200);
        let mut g = guest();
        let checks: Vec<(&str, Vec<u8>)> = vec![
            ("caller", alice.as_bytes().to_vec()),
            ("origin", alice.as_bytes().to_vec()),
            ("address", contract.as_bytes().to_vec()),
            ("value_transferred", U256::from(1234u64).to_little_endian().to_vec()),
            ("balance", U256::from(99u64).to_little_endian().to_vec()),
            ("now", U256::from(1_700_000_000u64).to_little_endian().to_vec()),
            ("block_number", U256::from(42u64).to_little_endian().to_vec()),
            ("chain_id", U256::from(420_420u64).to_little_endian().to_vec()),
        ];
        for (function, expected) in checks {
            g.put(B, &[0xff; 32]);
            g.args(&[u64::from(B)]);
            run(function, &mut g, &mut env).unwrap();
            assert_eq!(g.get(B, expected.len()), expected, "{function}");
        }
        g.put(B, alice.as_bytes());
        g.args(&[u64::from(B), u64::from(B + 64)]);
        run("balance_of", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 64, 32), (U256::from(5u64) << 200).to_little_endian());

        run("gas_limit", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 10_000_000_000);
        run("caller_is_origin", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 1);
    }

    #[test]
    fn gas_is_charged_and_ref_time_left_reports_it() {
        let mut env = MapEnv::default();
        let mut g = FlatGuest::new(64, 1000);
        run("ref_time_left", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 1000 - costs::HOST_CALL);
        assert_eq!(g.gas, (1000 - costs::HOST_CALL) as i64);
        // Not enough gas for a storage read: out of gas.
        let mut g = FlatGuest::new(64, (costs::HOST_CALL + 10) as i64);
        g.args(&[0, u64::from(B), u64::from(SENTINEL), u64::from(B), u64::from(B + 32)]);
        assert_eq!(run("get_storage", &mut g, &mut env).unwrap_err(), HostError::OutOfGas);
    }

    #[test]
    fn events_with_topics() {
        let mut env = MapEnv::default();
        let mut g = guest();
        let topics: Vec<u8> = (0..96).collect();
        g.put(B, &topics);
        g.put(B + 200, b"payload");
        g.args(&[u64::from(B), 3, u64::from(B + 200), 7]);
        run("deposit_event", &mut g, &mut env).unwrap();
        assert_eq!(env.events.len(), 1);
        assert_eq!(env.events[0].0.len(), 3);
        assert_eq!(env.events[0].0[1].as_bytes(), &topics[32..64]);
        assert_eq!(env.events[0].1, b"payload");
        g.args(&[u64::from(B), 5, u64::from(B + 200), 7]);
        assert_eq!(run("deposit_event", &mut g, &mut env).unwrap_err(), HostError::TooManyTopics(5));
        env.read_only = true;
        g.args(&[u64::from(B), 1, u64::from(B + 200), 7]);
        assert_eq!(run("deposit_event", &mut g, &mut env).unwrap_err(), HostError::StateChangeDenied);
    }

    #[test]
    fn hashes_match_known_digests() {
        let mut env = MapEnv::default();
        let mut g = guest();
        g.put(B, b"abc");
        let cases = [
            ("hash_keccak_256", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
            ("hash_sha2_256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("hash_blake2_256", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"),
            ("hash_blake2_128", "cf4ab791c62b8d2b2109c90275287816"),
        ];
        for (function, digest) in cases {
            g.args(&[u64::from(B), 3, u64::from(B + 64)]);
            run(function, &mut g, &mut env).unwrap();
            let expected = hex::decode(digest).unwrap();
            assert_eq!(g.get(B + 64, expected.len()), expected, "{function}");
        }
    }

    #[test]
    fn immutable_data_only_in_deploy_and_once() {
        let mut env = MapEnv { deploy: true, ..Default::default() };
        let mut g = guest();
        g.put(B, b"immutable!");
        g.args(&[u64::from(B), 10]);
        run("set_immutable_data", &mut g, &mut env).unwrap();
        assert_eq!(env.immutable.as_deref(), Some(&b"immutable!"[..]));
        assert!(matches!(
            run("set_immutable_data", &mut g, &mut env).unwrap_err(),
            HostError::InvalidImmutableAccess(_)
        ));
        g.args(&[u64::from(B + 100), u64::from(B + 200)]);
        assert!(matches!(
            run("get_immutable_data", &mut g, &mut env).unwrap_err(),
            HostError::InvalidImmutableAccess(_)
        ));
        env.deploy = false;
        g.put(B + 200, &100u32.to_le_bytes());
        run("get_immutable_data", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 200, 4), 10u32.to_le_bytes());
        assert_eq!(g.get(B + 100, 10), b"immutable!");
    }

    #[test]
    fn return_data_size_and_copy() {
        let mut env = MapEnv { return_data: (0..50).collect(), ..Default::default() };
        let mut g = guest();
        run("return_data_size", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 50);
        g.put(B + 100, &100u32.to_le_bytes());
        g.args(&[u64::from(B), u64::from(B + 100), 45]);
        run("return_data_copy", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 100, 4), 5u32.to_le_bytes());
        assert_eq!(g.get(B, 5), vec![45, 46, 47, 48, 49]);
        g.args(&[u64::from(B), u64::from(B + 100), 51]);
        assert_eq!(
            run("return_data_copy", &mut g, &mut env).unwrap_err(),
            HostError::ReturnDataOutOfBounds { offset: 51, len: 50 }
        );
    }

    fn pack(high: u32, low: u32) -> u64 {
        (u64::from(high) << 32) | u64::from(low)
    }

    #[test]
    fn call_unpacks_registers_and_writes_output() {
        let callee = H160::repeat_byte(0x42);
        let mut env = MapEnv {
            next_outcome: Some(SubcallOutcome {
                status: SubcallStatus::Success,
                output: b"returned data".to_vec(),
                gas_used: 5000,
                address: None,
            }),
            ..Default::default()
        };
        let mut g = guest();
        g.put(B, callee.as_bytes());
        g.put(B + 32, &U256::from(77u64).to_little_endian()); // value
        g.put(B + 64, &[0xff; 32]); // deposit limit
        g.put(B + 128, b"input");
        g.put(B + 300, &8u32.to_le_bytes()); // output capacity
        g.args(&[
            pack(0b1000, B),        // ALLOW_REENTRY | callee
            100_000,                // ref_time_limit
            u64::MAX,               // proof_size_limit
            pack(B + 64, B + 32),   // deposit, value
            pack(5, B + 128),       // input len, input ptr
            pack(B + 300, B + 200), // output len ptr, output ptr
        ]);
        let gas_before = g.gas;
        run("call", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], ReturnCode::Success as u64);
        let request = &env.calls[0];
        assert_eq!(request.callee, callee);
        assert_eq!(request.value, U256::from(77u64));
        assert_eq!(request.input, b"input");
        assert_eq!(request.gas_limit, 100_000);
        assert!(request.allow_reentry && !request.read_only && !request.delegate);
        assert_eq!(g.get(B + 300, 4), 8u32.to_le_bytes());
        assert_eq!(g.get(B + 200, 8), b"returned");
        // The callee's gas is charged to the caller, on top of the host costs.
        assert!(gas_before - g.gas >= 5000 + costs::CALL as i64);
    }

    #[test]
    fn call_reports_revert_and_trap_codes() {
        let mut g = guest();
        let args = [pack(0, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B + 128), pack(B + 300, B + 200)];
        for (status, code) in [
            (SubcallStatus::Reverted, ReturnCode::CalleeReverted as u64),
            (SubcallStatus::Trapped, ReturnCode::CalleeTrapped as u64),
            (SubcallStatus::TransferFailed, ReturnCode::TransferFailed as u64),
            (SubcallStatus::OutOfGas, ReturnCode::OutOfResources as u64),
        ] {
            let mut env = MapEnv {
                next_outcome: Some(SubcallOutcome { status, output: b"why".to_vec(), gas_used: 1, address: None }),
                ..Default::default()
            };
            g.put(B + 300, &32u32.to_le_bytes());
            g.args(&args);
            run("call", &mut g, &mut env).unwrap();
            assert_eq!(g.regs[A0], code);
            // Requested gas u64::MAX is capped by what the caller has left.
            assert!(env.calls[0].gas_limit <= 1_000_000);
            let written = u32::from_le_bytes(g.get(B + 300, 4).try_into().unwrap());
            assert_eq!(written, if status == SubcallStatus::Reverted { 3 } else { 0 });
        }
    }

    #[test]
    fn value_in_static_call_is_denied() {
        let mut env = MapEnv::default();
        let mut g = guest();
        g.put(B + 32, &U256::from(1u64).to_little_endian());
        g.args(&[pack(0b1_0000, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B, u32::MAX)]);
        assert_eq!(run("call", &mut g, &mut env).unwrap_err(), HostError::StateChangeDenied);
        g.args(&[pack(0b10_0000, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B, u32::MAX)]);
        assert!(matches!(run("call", &mut g, &mut env).unwrap_err(), HostError::InvalidFlags { .. }));
    }

    #[test]
    fn instantiate_unpacks_code_hash_input_and_address() {
        let new_address = H160::repeat_byte(0x99);
        let mut env = MapEnv {
            next_outcome: Some(SubcallOutcome {
                status: SubcallStatus::Success,
                output: Vec::new(),
                gas_used: 10,
                address: Some(new_address),
            }),
            ..Default::default()
        };
        let mut g = guest();
        let code_hash = [0x5au8; 32];
        g.put(B, &code_hash);
        g.put(B + 32, b"ctor");
        g.put(B + 100, &U256::from(3u64).to_little_endian());
        g.put(B + 400, &[1u8; 32]); // salt
        g.args(&[
            50_000,
            u64::MAX,
            pack(u32::MAX, B + 100),  // deposit, value
            pack(36, B),              // input len (code hash + input), code hash ptr
            pack(u32::MAX, u32::MAX), // no output wanted
            pack(B + 300, B + 400),   // address ptr, salt ptr
        ]);
        run("instantiate", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 0);
        let request = &env.instantiations[0];
        assert_eq!(request.code_hash, H256(code_hash));
        assert_eq!(request.input, b"ctor");
        assert_eq!(request.value, U256::from(3u64));
        assert_eq!(request.salt, Some([1u8; 32]));
        assert_eq!(g.get(B + 300, 20), new_address.as_bytes());
    }

    #[test]
    fn code_queries() {
        let contract = H160::repeat_byte(0x11);
        let mut env = MapEnv::default();
        env.code_hashes.insert(contract, (H256::repeat_byte(0x22), 1234));
        let mut g = guest();
        g.put(B, contract.as_bytes());
        g.args(&[u64::from(B)]);
        run("code_size", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 1234);
        g.args(&[u64::from(B)]);
        run("is_contract", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 1);
        g.args(&[u64::from(B), u64::from(B + 64)]);
        run("code_hash", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 64, 32), vec![0x22; 32]);
        g.put(B, H160::repeat_byte(0x33).as_bytes());
        g.args(&[u64::from(B)]);
        run("code_size", &mut g, &mut env).unwrap();
        assert_eq!(g.regs[A0], 0);
    }
}
