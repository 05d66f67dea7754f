//! What the host functions need from the chain and the call stack: the [`HostEnv`] trait and
//! the requests they make of it.
//!
//! `HostEnv` is storage and context only. Every rule of pallet-revive's host API (limits,
//! flags, read-only frames, immutable data written once and only in a constructor, gas) is in
//! the host functions (`functions.rs`), so every implementation of `HostEnv` gets them: the
//! node's call stack and the test double alike.

use super::trap::Trap;
use crate::chain::primitives::{H160, H256, U256};
use crate::runtime::outcome::CallOutcome;

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

/// The block a frame runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Number of the block being built (or the best block for dry runs).
    pub number: u64,
    /// Its timestamp in seconds.
    pub timestamp_seconds: u64,
    /// EVM chain id of the chain.
    pub chain_id: u64,
    /// Gas limit of a block.
    pub gas_limit: u64,
}

/// Everything host functions need from the chain and the call stack.
///
/// Implemented by `exec` over the state overlay; the unit tests use an in-memory version.
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
    /// The block the frame runs in.
    fn block(&self) -> BlockInfo;
    /// Hash of block `number` if it is a known past block.
    fn block_hash(&self, number: u64) -> Option<H256>;
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
    /// Stores the immutable data of the contract being constructed; returns what the running
    /// frame stored before, if anything.
    fn set_immutable_data(&mut self, data: Vec<u8>) -> Option<Vec<u8>>;
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
    /// Calls another address; the result replaces the frame's return data. `Err` when the
    /// call stack refuses the call, which stops the calling contract.
    fn call(&mut self, request: CallRequest) -> Result<CallOutcome, Trap>;
    /// Instantiates a contract; the result replaces the frame's return data. `Err` when the
    /// call stack refuses the instantiation, which stops the calling contract.
    fn instantiate(&mut self, request: InstantiateRequest) -> Result<CallOutcome, Trap>;
}
