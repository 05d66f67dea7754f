//! Test doubles: a guest in flat memory and a frame over in-memory state. They store data
//! and nothing more: every rule of the host API is in the host functions.

use super::env::{BlockInfo, CallRequest, HostEnv, InstantiateRequest, StorageKey};
use super::trap::Trap;
use crate::chain::primitives::{H160, H256, U256};
use crate::runtime::outcome::CallOutcome;
use pvm_executor::program::{Reg, REG_COUNT};
use pvm_executor::{MemoryAccessError, MemoryAccessReason};
use pvm_host_functions::Guest;
use std::collections::BTreeMap;

/// Flat guest memory starting at [`FlatGuest::BASE`], registers and gas.
pub struct FlatGuest {
    pub regs: [u64; REG_COUNT],
    pub memory: Vec<u8>,
    pub gas: i64,
}

impl FlatGuest {
    /// Lowest accessible address (PolkaVM never maps the first 64 KiB).
    pub const BASE: u32 = 0x1_0000;

    pub fn new(size: usize, gas: i64) -> FlatGuest {
        FlatGuest { regs: [0; REG_COUNT], memory: vec![0; size], gas }
    }

    /// Sets the argument registers A0.. to `args`.
    pub fn args(&mut self, args: &[u64]) {
        for (reg, value) in Reg::ARGS.iter().zip(args) {
            self.set_reg(*reg, *value);
        }
    }

    /// The result register.
    pub fn a0(&self) -> u64 {
        self.reg(Reg::A0)
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
        let error = |reason| MemoryAccessError { address, length: len, reason };
        let start = address.checked_sub(Self::BASE).ok_or(error(MemoryAccessReason::BelowMinimum))? as usize;
        let end = start.checked_add(len).ok_or(error(MemoryAccessReason::Wraps))?;
        if end > self.memory.len() {
            let first_missing = Self::BASE as usize + self.memory.len().max(start);
            return Err(error(MemoryAccessReason::Inaccessible(first_missing as u32)));
        }
        Ok(start..end)
    }
}

impl Guest for FlatGuest {
    fn reg(&self, reg: Reg) -> u64 {
        self.regs[reg as usize]
    }
    fn set_reg(&mut self, reg: Reg, value: u64) {
        self.regs[reg as usize] = value;
    }
    fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        let range = self.range(address, out.len())?;
        out.copy_from_slice(&self.memory[range]);
        Ok(())
    }
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        let range = self.range(address, data.len())?;
        self.memory[range].copy_from_slice(data);
        Ok(())
    }
    fn gas(&self) -> i64 {
        self.gas
    }
    fn set_gas(&mut self, gas: i64) {
        self.gas = gas;
    }
    fn sbrk(&mut self, _size: u32) -> Option<u32> {
        None
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
    pub next_outcome: Option<CallOutcome>,
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
    fn block(&self) -> BlockInfo {
        BlockInfo { number: 42, timestamp_seconds: 1_700_000_000, chain_id: 420_420, gas_limit: 10_000_000_000 }
    }
    fn block_hash(&self, number: u64) -> Option<H256> {
        (number < 42).then(|| H256::repeat_byte(number as u8))
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
    fn set_immutable_data(&mut self, data: Vec<u8>) -> Option<Vec<u8>> {
        self.immutable.replace(data)
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
    fn call(&mut self, request: CallRequest) -> Result<CallOutcome, Trap> {
        self.calls.push(request);
        let outcome = self.next_outcome.take().expect("test set the sub-call outcome");
        self.return_data = outcome.output.clone();
        Ok(outcome)
    }
    fn instantiate(&mut self, request: InstantiateRequest) -> Result<CallOutcome, Trap> {
        self.instantiations.push(request);
        let outcome = self.next_outcome.take().expect("test set the sub-call outcome");
        self.return_data = outcome.output.clone();
        Ok(outcome)
    }
}
