//! The pallet-revive host API, written with the registry's typed functions.
//!
//! [`linker`] defines every import a contract may use in a `pvm_host_functions::Linker`:
//! typed arguments come from A0..A5 and a typed result goes to A0 (the registry does both),
//! each function sees the calling guest through a [`Caller`] and the running frame's
//! [`HostEnv`] as the call's context ([`HostContext`]), and fails with a [`Trap`]. Every
//! function first pays [`costs::HOST_CALL`].
//!
//! `seal_return` (and a tail call) ends the contract successfully: it keeps the output in the
//! instance's user data ([`Returned`]) and returns [`Flow::Return`], so the registry stops the
//! guest without an error.
//!
//! The rules of the API are here, not in `HostEnv`: limits, flags, read-only frames and
//! immutable data. The environment only stores and looks up.

use super::abi::{
    call_flags, costs, limits, split_hi_lo, ReturnCode, RETURN_FLAG_REVERT, SENTINEL, STORAGE_FLAG_TRANSIENT,
};
use super::env::{CallRequest, HostEnv, InstantiateRequest, StorageKey};
use super::trap::{ImmutableAccess, Trap};
use crate::chain::primitives::{H160, H256, U256};
use crate::runtime::outcome::Status;
use pvm_host_functions::{CallContext, Caller, Flow, LinkError, Linker};

/// The output of `seal_return` (or of a tail call), kept in the instance's user data until
/// the run ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Returned {
    /// The revert flag.
    pub revert: bool,
    /// The output.
    pub data: Vec<u8>,
}

/// The registry's per-call context for contract runs: the running frame's [`HostEnv`],
/// borrowed for the call. A nested contract call lends it again, reborrowed.
pub enum HostContext {}

impl CallContext for HostContext {
    type Context<'c> = dyn HostEnv + 'c;

    fn reborrow<'s, 'c: 's>(context: &'s mut (dyn HostEnv + 'c)) -> &'s mut (dyn HostEnv + 's) {
        context
    }
}

/// The registry holding the host API: user data `Option<Returned>` (set when the contract
/// returns through a host function), context [`HostContext`], errors [`Trap`].
pub type ContractLinker = Linker<Option<Returned>, HostContext, Trap>;

/// What a host function sees of the contract calling it.
pub type HostCaller<'a> = Caller<'a, Option<Returned>, HostContext>;

/// Defines the host API: [`HOST_FUNCTION_NAMES`] and [`linker`]. Each entry is an import name
/// and a typed closure whose body runs after the host-call charge.
macro_rules! host_api {
    ($( $name:literal => |$caller:ident $(, $arg:ident : $ty:ty)*| -> $ret:ty $body:block )*) => {
        /// Every import name the host API provides, in definition order.
        pub const HOST_FUNCTION_NAMES: &[&str] = &[$($name),*];

        /// A linker with every function of the host API, each under its import name.
        pub fn linker() -> Result<ContractLinker, LinkError> {
            let mut linker = ContractLinker::default();
            $(
                linker.func_wrap($name, |mut $caller: HostCaller<'_>, $($arg: $ty),*| -> Result<$ret, Trap> {
                    charge(&mut $caller, costs::HOST_CALL)?;
                    $body
                })?;
            )*
            Ok(linker)
        }
    };
}

host_api! {
    "call_data_size" => |caller| -> u64 { Ok(caller.context().input().len() as u64) }
    "call_data_load" => |caller, out_ptr: u32, offset: u32| -> () { call_data_load(&mut caller, out_ptr, offset) }
    "call_data_copy" => |caller, out_ptr: u32, out_len: u32, offset: u32| -> () {
        call_data_copy(&mut caller, out_ptr, out_len, offset)
    }
    "seal_return" => |caller, flags: u32, data_ptr: u32, data_len: u32| -> Flow {
        if flags & !RETURN_FLAG_REVERT != 0 {
            return Err(Trap::InvalidFlags { kind: "return", flags });
        }
        charge(&mut caller, costs::copy(data_len))?;
        let data = read(&caller, data_ptr, data_len)?;
        keep_output(&mut caller, flags & RETURN_FLAG_REVERT != 0, data);
        Ok(Flow::Return(0))
    }
    "get_storage" => |caller, flags: u32, key_ptr: u32, key_len: u32, out_ptr: u32, out_len_ptr: u32| -> u64 {
        get_storage(&mut caller, flags, key_ptr, key_len, out_ptr, Some(out_len_ptr))
    }
    "get_storage_or_zero" => |caller, flags: u32, key_ptr: u32, out_ptr: u32| -> () {
        get_storage(&mut caller, flags, key_ptr, SENTINEL, out_ptr, None).map(drop)
    }
    "set_storage" => |caller, flags: u32, key_ptr: u32, key_len: u32, value_ptr: u32, value_len: u32| -> u64 {
        if value_len > limits::PAYLOAD_BYTES {
            return Err(Trap::ValueTooLarge { len: value_len, max: limits::PAYLOAD_BYTES });
        }
        let value = read(&caller, value_ptr, value_len)?;
        set_storage(&mut caller, flags, key_ptr, key_len, Some(value))
    }
    "set_storage_or_clear" => |caller, flags: u32, key_ptr: u32, value_ptr: u32| -> u64 {
        let value = read(&caller, value_ptr, 32)?;
        let value = if value.iter().all(|byte| *byte == 0) { None } else { Some(value) };
        set_storage(&mut caller, flags, key_ptr, SENTINEL, value)
    }
    "clear_storage" => |caller, flags: u32, key_ptr: u32, key_len: u32| -> u64 {
        set_storage(&mut caller, flags, key_ptr, key_len, None)
    }
    "contains_storage" => |caller, flags: u32, key_ptr: u32, key_len: u32| -> u64 {
        let transient = storage_flags(flags)?;
        let key = storage_key(&caller, key_ptr, key_len)?;
        charge(&mut caller, costs::STORAGE_READ)?;
        Ok(match caller.context().get_storage(&key, transient) {
            Some(value) => value.len() as u64,
            None => u64::from(SENTINEL),
        })
    }
    "take_storage" => |caller, flags: u32, key_ptr: u32, key_len: u32, out_ptr: u32, out_len_ptr: u32| -> u64 {
        let transient = storage_flags(flags)?;
        deny_if_read_only(&mut caller)?;
        let key = storage_key(&caller, key_ptr, key_len)?;
        charge(&mut caller, costs::STORAGE_WRITE)?;
        match caller.context().set_storage(&key, None, transient) {
            Some(value) => {
                write_output(&mut caller, out_ptr, out_len_ptr, &value, false)?;
                Ok(ReturnCode::Success as u64)
            }
            None => Ok(ReturnCode::KeyNotFound as u64),
        }
    }
    "caller" => |caller, out_ptr: u32| -> () {
        let address = caller.context().caller();
        write(&mut caller, out_ptr, address.as_bytes())
    }
    "origin" => |caller, out_ptr: u32| -> () {
        let origin = caller.context().origin();
        write(&mut caller, out_ptr, origin.as_bytes())
    }
    "address" => |caller, out_ptr: u32| -> () {
        let address = caller.context().address();
        write(&mut caller, out_ptr, address.as_bytes())
    }
    "caller_is_origin" => |caller| -> u64 { Ok(u64::from(caller.context().caller_is_origin())) }
    // Never root here.
    "caller_is_root" => |caller| -> u64 { Ok(0) }
    "value_transferred" => |caller, out_ptr: u32| -> () {
        let value = caller.context().value_transferred();
        write_u256(&mut caller, out_ptr, value)
    }
    "balance" => |caller, out_ptr: u32| -> () {
        charge(&mut caller, costs::BALANCE)?;
        let env = caller.context();
        let balance = env.balance_of(&env.address());
        write_u256(&mut caller, out_ptr, balance)
    }
    "balance_of" => |caller, address_ptr: u32, out_ptr: u32| -> () {
        charge(&mut caller, costs::BALANCE)?;
        let address = read_h160(&caller, address_ptr)?;
        let balance = caller.context().balance_of(&address);
        write_u256(&mut caller, out_ptr, balance)
    }
    // The node has no existential deposit.
    "minimum_balance" => |caller, out_ptr: u32| -> () { write_u256(&mut caller, out_ptr, U256::zero()) }
    // The block timestamp in seconds.
    "now" => |caller, out_ptr: u32| -> () {
        let now = caller.context().block().timestamp_seconds;
        write_u256(&mut caller, out_ptr, U256::from(now))
    }
    "block_number" => |caller, out_ptr: u32| -> () {
        let number = caller.context().block().number;
        write_u256(&mut caller, out_ptr, U256::from(number))
    }
    "block_hash" => |caller, number_ptr: u32, out_ptr: u32| -> () {
        let number = read_u256(&caller, number_ptr)?;
        let hash = if number > U256::from(u64::MAX) {
            H256::zero()
        } else {
            caller.context().block_hash(number.as_u64()).unwrap_or_default()
        };
        write(&mut caller, out_ptr, hash.as_bytes())
    }
    // No authors here: zero.
    "block_author" => |caller, out_ptr: u32| -> () { write(&mut caller, out_ptr, H160::zero().as_bytes()) }
    "chain_id" => |caller, out_ptr: u32| -> () {
        let chain_id = caller.context().block().chain_id;
        write_u256(&mut caller, out_ptr, U256::from(chain_id))
    }
    // The block gas limit.
    "gas_limit" => |caller| -> u64 { Ok(caller.context().block().gas_limit) }
    "gas_price" => |caller| -> u64 { Ok(1) }
    "base_fee" => |caller, out_ptr: u32| -> () { write_u256(&mut caller, out_ptr, U256::zero()) }
    "ref_time_left" => |caller| -> u64 { Ok(caller.gas().max(0) as u64) }
    // SCALE `Weight { ref_time, proof_size }`.
    "weight_left" => |caller, out_ptr: u32, out_len_ptr: u32| -> () {
        use parity_scale_codec::{Compact, Encode};
        let ref_time = caller.gas().max(0) as u64;
        let encoded = (Compact(ref_time), Compact(u64::MAX)).encode();
        write_output(&mut caller, out_ptr, out_len_ptr, &encoded, false)
    }
    "deposit_event" => |caller, topics_ptr: u32, num_topics: u32, data_ptr: u32, data_len: u32| -> () {
        deposit_event(&mut caller, topics_ptr, num_topics, data_ptr, data_len)
    }
    "hash_keccak_256" => |caller, input_ptr: u32, input_len: u32, out_ptr: u32| -> () {
        hash(&mut caller, input_ptr, input_len, out_ptr, |data| sp_crypto_hashing::keccak_256(data).to_vec())
    }
    "hash_sha2_256" => |caller, input_ptr: u32, input_len: u32, out_ptr: u32| -> () {
        hash(&mut caller, input_ptr, input_len, out_ptr, |data| sp_crypto_hashing::sha2_256(data).to_vec())
    }
    "hash_blake2_256" => |caller, input_ptr: u32, input_len: u32, out_ptr: u32| -> () {
        hash(&mut caller, input_ptr, input_len, out_ptr, |data| sp_crypto_hashing::blake2_256(data).to_vec())
    }
    "hash_blake2_128" => |caller, input_ptr: u32, input_len: u32, out_ptr: u32| -> () {
        hash(&mut caller, input_ptr, input_len, out_ptr, |data| sp_crypto_hashing::blake2_128(data).to_vec())
    }
    // The data does not exist before the constructor has returned.
    "get_immutable_data" => |caller, out_ptr: u32, out_len_ptr: u32| -> () {
        if caller.context().is_deploy() {
            return Err(Trap::InvalidImmutableAccess(ImmutableAccess::ReadDuringDeploy));
        }
        let data = caller.context().immutable_data();
        charge(&mut caller, costs::copy(data.len() as u32))?;
        write_output(&mut caller, out_ptr, out_len_ptr, &data, false)
    }
    // Only a constructor writes it, once.
    "set_immutable_data" => |caller, ptr: u32, len: u32| -> () {
        if len > limits::IMMUTABLE_BYTES {
            return Err(Trap::ValueTooLarge { len, max: limits::IMMUTABLE_BYTES });
        }
        charge(&mut caller, costs::copy(len))?;
        let data = read(&caller, ptr, len)?;
        let env = caller.context();
        if !env.is_deploy() {
            return Err(Trap::InvalidImmutableAccess(ImmutableAccess::WrittenOutsideDeploy));
        }
        match env.set_immutable_data(data) {
            // The frame traps, so its changes (this write among them) are undone.
            Some(_) => Err(Trap::InvalidImmutableAccess(ImmutableAccess::WrittenTwice)),
            None => Ok(()),
        }
    }
    "return_data_size" => |caller| -> u64 { Ok(caller.context().return_data().len() as u64) }
    "return_data_copy" => |caller, out_ptr: u32, out_len_ptr: u32, offset: u32| -> () {
        let data = caller.context().return_data().to_vec();
        if offset as usize > data.len() {
            return Err(Trap::ReturnDataOutOfBounds { offset, len: data.len() as u32 });
        }
        write_output(&mut caller, out_ptr, out_len_ptr, &data[offset as usize..], false)
    }
    "code_size" => |caller, address_ptr: u32| -> u64 {
        let address = read_h160(&caller, address_ptr)?;
        Ok(caller.context().code_size_of(&address))
    }
    "code_hash" => |caller, address_ptr: u32, out_ptr: u32| -> () {
        let address = read_h160(&caller, address_ptr)?;
        // pallet-revive: zero for accounts that do not exist, the hash of empty code for
        // plain accounts; the node knows no "nonexistent" accounts with balance apart, so
        // plain accounts with a balance or nonce get the empty-code hash.
        let env = caller.context();
        let hash = match env.code_hash_of(&address) {
            Some(hash) => hash,
            None if env.balance_of(&address).is_zero() => H256::zero(),
            None => crate::chain::primitives::keccak_256(&[]),
        };
        write(&mut caller, out_ptr, hash.as_bytes())
    }
    "own_code_hash" => |caller, out_ptr: u32| -> () {
        let hash = caller.context().own_code_hash();
        write(&mut caller, out_ptr, hash.as_bytes())
    }
    "is_contract" => |caller, address_ptr: u32| -> u64 {
        let address = read_h160(&caller, address_ptr)?;
        Ok(u64::from(caller.context().code_hash_of(&address).is_some()))
    }
    "call" => |caller, flags_and_callee: u64, ref_time_limit: u64, _proof_size_limit: u64,
               deposit_and_value: u64, input_data: u64, output_data: u64| -> Flow<u64> {
        let value_ptr = split_hi_lo(deposit_and_value).1;
        call(&mut caller, flags_and_callee, ref_time_limit, Some(value_ptr), input_data, output_data)
    }
    "delegate_call" => |caller, flags_and_callee: u64, ref_time_limit: u64, _proof_size_limit: u64,
                        _deposit_ptr: u64, input_data: u64, output_data: u64| -> Flow<u64> {
        call(&mut caller, flags_and_callee, ref_time_limit, None, input_data, output_data)
    }
    "instantiate" => |caller, ref_time_limit: u64, _proof_size_limit: u64, deposit_and_value: u64,
                      input_data: u64, output_data: u64, address_and_salt: u64| -> u64 {
        instantiate(&mut caller, ref_time_limit, deposit_and_value, input_data, output_data, address_and_salt)
    }
}

/// Keeps the output of a contract that returns through a host function, which then returns
/// [`Flow::Return`] (whose value is not the output: the user data carries that).
fn keep_output(caller: &mut HostCaller<'_>, revert: bool, data: Vec<u8>) {
    *caller.data_mut() = Some(Returned { revert, data });
}

/// Takes `amount` gas from the contract, or all of it and traps.
fn charge(caller: &mut HostCaller<'_>, amount: u64) -> Result<(), Trap> {
    let left = caller.gas();
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    if left < amount {
        caller.set_gas(0);
        return Err(Trap::OutOfGas);
    }
    caller.set_gas(left - amount);
    Ok(())
}

/// Reads `len` bytes of guest memory, bounded by [`limits::MAX_HOST_READ`].
fn read(caller: &HostCaller<'_>, ptr: u32, len: u32) -> Result<Vec<u8>, Trap> {
    // The host allocates what the guest asks to read; bound it before allocating.
    if len > limits::MAX_HOST_READ {
        return Err(Trap::ReadTooLarge(len));
    }
    Ok(caller.read_memory_vec(ptr, len)?)
}

fn read_array<const N: usize>(caller: &HostCaller<'_>, ptr: u32) -> Result<[u8; N], Trap> {
    let mut buffer = [0u8; N];
    caller.read_memory(ptr, &mut buffer)?;
    Ok(buffer)
}

fn read_h160(caller: &HostCaller<'_>, ptr: u32) -> Result<H160, Trap> {
    Ok(H160(read_array(caller, ptr)?))
}

fn read_u256(caller: &HostCaller<'_>, ptr: u32) -> Result<U256, Trap> {
    Ok(U256::from_little_endian(&read_array::<32>(caller, ptr)?))
}

fn write(caller: &mut HostCaller<'_>, ptr: u32, data: &[u8]) -> Result<(), Trap> {
    Ok(caller.write_memory(ptr, data)?)
}

fn write_u256(caller: &mut HostCaller<'_>, ptr: u32, value: U256) -> Result<(), Trap> {
    write(caller, ptr, &value.to_little_endian())
}

/// pallet-revive's `write_sandbox_output`: `out_len_ptr` holds the buffer's capacity on entry
/// and the number of bytes written on exit; `SENTINEL` as `out_ptr` skips the copy where
/// `allow_skip` says so.
fn write_output(
    caller: &mut HostCaller<'_>,
    out_ptr: u32,
    out_len_ptr: u32,
    data: &[u8],
    allow_skip: bool,
) -> Result<(), Trap> {
    if allow_skip && out_ptr == SENTINEL {
        return Ok(());
    }
    let capacity = caller.read_u32(out_len_ptr)?;
    let len = capacity.min(data.len() as u32);
    charge(caller, costs::copy(len))?;
    write(caller, out_ptr, &data[..len as usize])?;
    write(caller, out_len_ptr, &len.to_le_bytes())
}

/// Whether the storage flags ask for transient storage; a trap for undefined bits.
fn storage_flags(flags: u32) -> Result<bool, Trap> {
    if flags & !STORAGE_FLAG_TRANSIENT != 0 {
        return Err(Trap::InvalidFlags { kind: "storage", flags });
    }
    Ok(flags & STORAGE_FLAG_TRANSIENT != 0)
}

fn storage_key(caller: &HostCaller<'_>, key_ptr: u32, key_len: u32) -> Result<StorageKey, Trap> {
    if key_len == SENTINEL {
        return Ok(StorageKey::Fixed(read_array(caller, key_ptr)?));
    }
    if key_len > limits::STORAGE_KEY_BYTES {
        return Err(Trap::KeyTooLong(key_len));
    }
    Ok(StorageKey::Variable(read(caller, key_ptr, key_len)?))
}

fn deny_if_read_only(caller: &mut HostCaller<'_>) -> Result<(), Trap> {
    if caller.context().is_read_only() {
        return Err(Trap::StateChangeDenied);
    }
    Ok(())
}

fn call_data_load(caller: &mut HostCaller<'_>, out_ptr: u32, offset: u32) -> Result<(), Trap> {
    let input = caller.context().input();
    let mut word = [0u8; 32];
    let start = offset as usize;
    if start < input.len() {
        let end = start.saturating_add(32).min(input.len());
        word[..end - start].copy_from_slice(&input[start..end]);
        // The guest keeps 256-bit numbers little-endian; call data is big-endian.
        word.reverse();
    }
    write(caller, out_ptr, &word)
}

fn call_data_copy(caller: &mut HostCaller<'_>, out_ptr: u32, out_len: u32, offset: u32) -> Result<(), Trap> {
    charge(caller, costs::copy(out_len))?;
    let (_, guest, env) = caller.data_guest_and_context_mut();
    let input = env.input();
    let start = (offset as usize).min(input.len());
    let end = start.saturating_add(out_len as usize).min(input.len());
    guest.write_memory(out_ptr, &input[start..end])?;
    // Zero the rest in chunks: the guest may ask for far more than there is input.
    let zeros = [0u8; 4096];
    let mut written = (end - start) as u32;
    while written < out_len {
        let chunk = (out_len - written).min(zeros.len() as u32);
        let at = out_ptr.checked_add(written).ok_or(Trap::PointerOverflow { ptr: out_ptr, len: out_len })?;
        guest.write_memory(at, &zeros[..chunk as usize])?;
        written += chunk;
    }
    Ok(())
}

/// `get_storage` (the value into a buffer, `Some(out_len_ptr)`) and `get_storage_or_zero`
/// (a fixed 32-byte word, `None`).
fn get_storage(
    caller: &mut HostCaller<'_>,
    flags: u32,
    key_ptr: u32,
    key_len: u32,
    out_ptr: u32,
    out_len_ptr: Option<u32>,
) -> Result<u64, Trap> {
    let transient = storage_flags(flags)?;
    let key = storage_key(caller, key_ptr, key_len)?;
    charge(caller, costs::STORAGE_READ)?;
    let value = caller.context().get_storage(&key, transient);
    match out_len_ptr {
        Some(out_len_ptr) => match value {
            Some(value) => {
                write_output(caller, out_ptr, out_len_ptr, &value, false)?;
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
            write(caller, out_ptr, &word)?;
            Ok(ReturnCode::Success as u64)
        }
    }
}

/// Writes or removes a value; the old value's length, or `SENTINEL`.
fn set_storage(
    caller: &mut HostCaller<'_>,
    flags: u32,
    key_ptr: u32,
    key_len: u32,
    value: Option<Vec<u8>>,
) -> Result<u64, Trap> {
    let transient = storage_flags(flags)?;
    deny_if_read_only(caller)?;
    let key = storage_key(caller, key_ptr, key_len)?;
    let value_len = value.as_ref().map_or(0, |value| value.len() as u64);
    charge(caller, costs::STORAGE_WRITE + value_len * costs::PER_STORAGE_BYTE)?;
    Ok(match caller.context().set_storage(&key, value, transient) {
        Some(old) => old.len() as u64,
        None => u64::from(SENTINEL),
    })
}

fn deposit_event(
    caller: &mut HostCaller<'_>,
    topics_ptr: u32,
    num_topics: u32,
    data_ptr: u32,
    data_len: u32,
) -> Result<(), Trap> {
    deny_if_read_only(caller)?;
    if num_topics > limits::NUM_EVENT_TOPICS {
        return Err(Trap::TooManyTopics(num_topics));
    }
    if data_len > limits::PAYLOAD_BYTES {
        return Err(Trap::ValueTooLarge { len: data_len, max: limits::PAYLOAD_BYTES });
    }
    charge(
        caller,
        costs::EVENT + u64::from(num_topics) * costs::PER_TOPIC + u64::from(data_len) * costs::PER_EVENT_BYTE,
    )?;
    let raw_topics = read(caller, topics_ptr, num_topics * 32)?;
    let topics = raw_topics.chunks_exact(32).map(H256::from_slice).collect();
    let data = read(caller, data_ptr, data_len)?;
    caller.context().deposit_event(topics, data);
    Ok(())
}

/// The `hash_*` functions.
fn hash(
    caller: &mut HostCaller<'_>,
    input_ptr: u32,
    input_len: u32,
    out_ptr: u32,
    hash: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Result<(), Trap> {
    charge(caller, costs::HASH + u64::from(input_len).div_ceil(32) * costs::PER_WORD_HASHED)?;
    let input = read(caller, input_ptr, input_len)?;
    write(caller, out_ptr, &hash(&input))
}

/// Gas the callee may use: the requested limit, capped by what the caller has left.
fn callee_gas_limit(caller: &HostCaller<'_>, requested: u64) -> u64 {
    requested.min(caller.gas().max(0) as u64)
}

/// Charges the caller for gas its callee used.
fn charge_callee(caller: &mut HostCaller<'_>, gas_used: u64) {
    let left = caller.gas();
    caller.set_gas(left.saturating_sub(i64::try_from(gas_used).unwrap_or(i64::MAX)));
}

/// `call` (with the value at `value_ptr`) and `delegate_call` (`None`); a tail call returns
/// the callee's return as its own.
fn call(
    caller: &mut HostCaller<'_>,
    flags_and_callee: u64,
    ref_time_limit: u64,
    value_ptr: Option<u32>,
    input_data: u64,
    output_data: u64,
) -> Result<Flow<u64>, Trap> {
    let delegate = value_ptr.is_none();
    let (flags, callee_ptr) = split_hi_lo(flags_and_callee);
    // The storage deposit limit is accepted and not enforced.
    let (input_len, input_ptr) = split_hi_lo(input_data);
    let (output_len_ptr, output_ptr) = split_hi_lo(output_data);
    if flags & !call_flags::ALL != 0 {
        return Err(Trap::InvalidFlags { kind: "call", flags });
    }
    if delegate && flags & (call_flags::ALLOW_REENTRY | call_flags::READ_ONLY) != 0 {
        return Err(Trap::InvalidFlags { kind: "delegate call", flags });
    }
    charge(caller, costs::CALL)?;
    let callee = read_h160(caller, callee_ptr)?;
    let input = if flags & (call_flags::CLONE_INPUT | call_flags::FORWARD_INPUT) != 0 {
        // Forwarding consumes the input in pallet-revive; cloning keeps it. The node keeps it
        // in both cases, which only differs for contracts that read their input after
        // forwarding it (an error in pallet-revive).
        caller.context().input().to_vec()
    } else {
        if input_len > limits::CALLDATA_BYTES {
            return Err(Trap::CallDataTooLarge(input_len));
        }
        charge(caller, costs::copy(input_len))?;
        read(caller, input_ptr, input_len)?
    };
    let value = match value_ptr {
        Some(value_ptr) => read_u256(caller, value_ptr)?,
        None => U256::zero(),
    };
    // A static frame's callees are static too.
    let read_only = flags & call_flags::READ_ONLY != 0 || caller.context().is_read_only();
    if !value.is_zero() {
        if read_only {
            return Err(Trap::StateChangeDenied);
        }
        charge(caller, costs::TRANSFER)?;
    }
    let request = CallRequest {
        callee,
        value,
        input,
        gas_limit: callee_gas_limit(caller, ref_time_limit),
        allow_reentry: flags & call_flags::ALLOW_REENTRY != 0,
        read_only,
        delegate,
    };
    let outcome = caller.context().call(request)?;
    charge_callee(caller, outcome.gas_used);
    if flags & call_flags::TAIL_CALL != 0 && outcome.status.returned() {
        // The callee's return (or revert) becomes the caller's.
        keep_output(caller, outcome.status == Status::Reverted, outcome.output);
        return Ok(Flow::Return(0));
    }
    if outcome.status.returned() {
        write_output(caller, output_ptr, output_len_ptr, &outcome.output, true)?;
    } else if output_ptr != SENTINEL {
        write(caller, output_len_ptr, &0u32.to_le_bytes())?;
    }
    if caller.gas() < 0 {
        return Err(Trap::OutOfGas);
    }
    Ok(Flow::Continue(outcome.status.return_code()))
}

/// `instantiate`.
fn instantiate(
    caller: &mut HostCaller<'_>,
    ref_time_limit: u64,
    deposit_and_value: u64,
    input_data: u64,
    output_data: u64,
    address_and_salt: u64,
) -> Result<u64, Trap> {
    // The storage deposit limit (the high half) is accepted and not enforced.
    let value_ptr = split_hi_lo(deposit_and_value).1;
    let (input_len, code_hash_ptr) = split_hi_lo(input_data);
    let (output_len_ptr, output_ptr) = split_hi_lo(output_data);
    let (address_ptr, salt_ptr) = split_hi_lo(address_and_salt);
    deny_if_read_only(caller)?;
    // The code hash is the first 32 bytes of the input buffer.
    let input_ptr = code_hash_ptr.checked_add(32).ok_or(Trap::PointerOverflow { ptr: code_hash_ptr, len: 32 })?;
    let input_len = input_len.checked_sub(32).ok_or(Trap::PointerOverflow { ptr: code_hash_ptr, len: input_len })?;
    if input_len > limits::CALLDATA_BYTES {
        return Err(Trap::CallDataTooLarge(input_len));
    }
    charge(caller, costs::INSTANTIATE + costs::copy(input_len))?;
    let value = read_u256(caller, value_ptr)?;
    let code_hash = H256(read_array(caller, code_hash_ptr)?);
    let input = read(caller, input_ptr, input_len)?;
    let salt = if salt_ptr == SENTINEL { None } else { Some(read_array(caller, salt_ptr)?) };
    let request =
        InstantiateRequest { code_hash, value, input, salt, gas_limit: callee_gas_limit(caller, ref_time_limit) };
    let outcome = caller.context().instantiate(request)?;
    charge_callee(caller, outcome.gas_used);
    if outcome.status.returned() {
        if let (Status::Success, Some(address)) = (&outcome.status, outcome.address) {
            if address_ptr != SENTINEL {
                write(caller, address_ptr, address.as_bytes())?;
            }
        }
        write_output(caller, output_ptr, output_len_ptr, &outcome.output, true)?;
    }
    if caller.gas() < 0 {
        return Err(Trap::OutOfGas);
    }
    Ok(outcome.status.return_code())
}
