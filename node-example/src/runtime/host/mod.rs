//! The host API that resolc-compiled (pallet-revive) contracts import, in four parts:
//!
//! * [`abi`]: the ABI contracts see (sentinels, limits, gas costs, flags, return codes);
//! * [`env`]: [`HostEnv`], what the host functions need from the chain and the call stack,
//!   with the requests they make of it;
//! * [`functions`]: the functions themselves, defined with the host-function registry's typed
//!   functions (`pvm_host_functions::Linker::func_wrap`) and failing with a [`Trap`]
//!   ([`trap`]);
//! * `testing` (tests only): doubles that store data and nothing more.
//!
//! A host function continues the contract (possibly with a result in A0), ends it
//! successfully (`seal_return`, a tail call), or stops it with a [`Trap`]; a trap undoes the
//! frame's changes.

pub mod abi;
pub mod env;
pub mod functions;
#[cfg(test)]
pub(crate) mod testing;
pub mod trap;

pub use abi::{costs, limits, split_hi_lo, ReturnCode, SENTINEL};
pub use env::{BlockInfo, CallRequest, HostEnv, InstantiateRequest, StorageKey};
pub use functions::{linker, ContractLinker, HostCaller, HostContext, Returned, HOST_FUNCTION_NAMES};
pub use trap::{ImmutableAccess, Refusal, Trap};

#[cfg(test)]
mod tests {
    use super::testing::{FlatGuest, MapEnv};
    use super::*;
    use crate::chain::primitives::{H160, H256, U256};
    use crate::runtime::outcome::{CallOutcome, Failure, Status};
    use pvm_executor::MemoryAccessError;
    use pvm_host_functions::{CallError, Flow};

    const B: u32 = FlatGuest::BASE;

    /// Runs the production host function `name` (from [`linker`]) on the test doubles: `None`
    /// if the guest continues, the output if the function returned for the contract.
    fn run(name: &str, guest: &mut FlatGuest, env: &mut MapEnv) -> Result<Option<Returned>, Trap> {
        let linker = linker().unwrap();
        let function = linker.get(name).expect("a host function");
        let mut returned = None;
        match function.call_on(name, guest, &mut returned, env) {
            Ok(Flow::Continue(())) => {
                assert_eq!(returned, None, "{name} kept an output but continued");
                Ok(None)
            }
            Ok(Flow::Return(_)) => Ok(Some(returned.expect("an output kept for the return"))),
            Err(CallError::Host { function, error }) => {
                assert_eq!(function, name);
                Err(error)
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }

    fn outcome(status: Status, output: &[u8], gas_used: u64, address: Option<H160>) -> CallOutcome {
        CallOutcome { status, output: output.to_vec(), gas_used, address }
    }

    fn guest() -> FlatGuest {
        FlatGuest::new(8192, 1_000_000)
    }

    #[test]
    fn call_data_size_load_and_copy() {
        let mut env = MapEnv { input: (1..=40).collect(), ..Default::default() };
        let mut g = guest();
        run("call_data_size", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 40);

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
        assert!(matches!(error, Trap::Memory(_)), "{error:?}");
        assert_eq!(g.get(B, 8), vec![7; 8]);
        // Return 4 GiB: refused before reading.
        g.args(&[0, u64::from(B), u64::from(u32::MAX)]);
        assert_eq!(run("seal_return", &mut g, &mut env).unwrap_err(), Trap::ReadTooLarge(u32::MAX));
        g.args(&[u64::from(B), u64::from(u32::MAX), u64::from(B)]);
        assert_eq!(run("hash_keccak_256", &mut g, &mut env).unwrap_err(), Trap::ReadTooLarge(u32::MAX));
    }

    #[test]
    fn tail_call_returns_the_callee_result() {
        for (status, revert) in [(Status::Success, false), (Status::Reverted, true)] {
            let mut env = MapEnv { next_outcome: Some(outcome(status, b"tail", 1, None)), ..Default::default() };
            let mut g = guest();
            g.args(&[pack(0b0100, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B + 300, u32::MAX)]);
            assert_eq!(run("call", &mut g, &mut env).unwrap(), Some(Returned { revert, data: b"tail".to_vec() }));
        }
    }

    #[test]
    fn out_of_bounds_pointer_traps() {
        let mut env = MapEnv { input: vec![1; 32], ..Default::default() };
        let mut g = guest();
        g.args(&[0x100, 0]);
        let error = run("call_data_load", &mut g, &mut env).unwrap_err();
        assert!(matches!(error, Trap::Memory(MemoryAccessError { address: 0x100, length: 32, .. })), "{error:?}");
    }

    #[test]
    fn seal_return_carries_the_revert_flag() {
        let mut env = MapEnv::default();
        let mut g = guest();
        g.put(B, b"output");
        g.args(&[0, u64::from(B), 6]);
        assert_eq!(
            run("seal_return", &mut g, &mut env).unwrap(),
            Some(Returned { revert: false, data: b"output".to_vec() })
        );
        g.args(&[1, u64::from(B), 3]);
        assert_eq!(
            run("seal_return", &mut g, &mut env).unwrap(),
            Some(Returned { revert: true, data: b"out".to_vec() })
        );
        g.args(&[2, u64::from(B), 3]);
        assert_eq!(run("seal_return", &mut g, &mut env).unwrap_err(), Trap::InvalidFlags { kind: "return", flags: 2 });
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
        assert_eq!(g.a0(), sentinel);
        assert_eq!(env.storage.get(&StorageKey::Fixed(key)), Some(&vec![0xaa; 40]));

        // overwrite: returns the old length.
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 8]);
        run("set_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 40);

        // contains: length of the value.
        g.args(&[0, u64::from(B), sentinel]);
        run("contains_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 8);

        // get into a buffer of 4 bytes: truncated, length written back.
        g.put(B + 200, &4u32.to_le_bytes());
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 100), u64::from(B + 200)]);
        run("get_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), ReturnCode::Success as u64);
        assert_eq!(g.get(B + 100, 4), vec![0xaa; 4]);
        assert_eq!(g.get(B + 200, 4), 4u32.to_le_bytes());

        // the same 32 bytes as a variable-length key are a different key.
        g.put(B + 200, &64u32.to_le_bytes());
        g.args(&[0, u64::from(B), 32, u64::from(B + 100), u64::from(B + 200)]);
        run("get_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), ReturnCode::KeyNotFound as u64);

        // take: returns and removes.
        g.put(B + 200, &64u32.to_le_bytes());
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 100), u64::from(B + 200)]);
        run("take_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), ReturnCode::Success as u64);
        assert_eq!(g.get(B + 200, 4), 8u32.to_le_bytes());
        assert!(env.storage.is_empty());

        // clear of a missing key: SENTINEL.
        g.args(&[0, u64::from(B), sentinel]);
        run("clear_storage", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), sentinel);

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
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), Trap::ValueTooLarge { len: 417, max: 416 });
        g.args(&[0, u64::from(B), 129, u64::from(B + 32), 1]);
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), Trap::KeyTooLong(129));
        g.args(&[2, u64::from(B), sentinel, u64::from(B + 32), 1]);
        assert!(matches!(
            run("set_storage", &mut g, &mut env).unwrap_err(),
            Trap::InvalidFlags { kind: "storage", .. }
        ));
        // Transient storage is separate from persistent storage.
        g.args(&[1, u64::from(B), sentinel, u64::from(B + 32), 1]);
        run("set_storage", &mut g, &mut env).unwrap();
        assert!(env.storage.is_empty());
        assert_eq!(env.transient.len(), 1);
        // Read-only frames cannot write.
        env.read_only = true;
        g.args(&[0, u64::from(B), sentinel, u64::from(B + 32), 1]);
        assert_eq!(run("set_storage", &mut g, &mut env).unwrap_err(), Trap::StateChangeDenied);
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
        assert_eq!(g.a0(), 10_000_000_000);
        run("caller_is_origin", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 1);
    }

    #[test]
    fn gas_is_charged_and_ref_time_left_reports_it() {
        let mut env = MapEnv::default();
        let mut g = FlatGuest::new(64, 1000);
        run("ref_time_left", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 1000 - costs::HOST_CALL);
        assert_eq!(g.gas, (1000 - costs::HOST_CALL) as i64);
        // Not enough gas for a storage read: out of gas.
        let mut g = FlatGuest::new(64, (costs::HOST_CALL + 10) as i64);
        g.args(&[0, u64::from(B), u64::from(SENTINEL), u64::from(B), u64::from(B + 32)]);
        assert_eq!(run("get_storage", &mut g, &mut env).unwrap_err(), Trap::OutOfGas);
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
        assert_eq!(run("deposit_event", &mut g, &mut env).unwrap_err(), Trap::TooManyTopics(5));
        env.read_only = true;
        g.args(&[u64::from(B), 1, u64::from(B + 200), 7]);
        assert_eq!(run("deposit_event", &mut g, &mut env).unwrap_err(), Trap::StateChangeDenied);
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
        assert_eq!(
            run("set_immutable_data", &mut g, &mut env).unwrap_err(),
            Trap::InvalidImmutableAccess(ImmutableAccess::WrittenTwice)
        );
        g.args(&[u64::from(B + 100), u64::from(B + 200)]);
        assert_eq!(
            run("get_immutable_data", &mut g, &mut env).unwrap_err(),
            Trap::InvalidImmutableAccess(ImmutableAccess::ReadDuringDeploy)
        );
        env.deploy = false;
        g.put(B + 200, &100u32.to_le_bytes());
        run("get_immutable_data", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 200, 4), 10u32.to_le_bytes());
        assert_eq!(g.get(B + 100, 10), b"immutable!");
        // Outside a constructor it cannot be written, not even a first time.
        let mut env = MapEnv::default();
        g.args(&[u64::from(B), 10]);
        assert_eq!(
            run("set_immutable_data", &mut g, &mut env).unwrap_err(),
            Trap::InvalidImmutableAccess(ImmutableAccess::WrittenOutsideDeploy)
        );
        assert_eq!(env.immutable, None);
    }

    #[test]
    fn return_data_size_and_copy() {
        let mut env = MapEnv { return_data: (0..50).collect(), ..Default::default() };
        let mut g = guest();
        run("return_data_size", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 50);
        g.put(B + 100, &100u32.to_le_bytes());
        g.args(&[u64::from(B), u64::from(B + 100), 45]);
        run("return_data_copy", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 100, 4), 5u32.to_le_bytes());
        assert_eq!(g.get(B, 5), vec![45, 46, 47, 48, 49]);
        g.args(&[u64::from(B), u64::from(B + 100), 51]);
        assert_eq!(
            run("return_data_copy", &mut g, &mut env).unwrap_err(),
            Trap::ReturnDataOutOfBounds { offset: 51, len: 50 }
        );
    }

    fn pack(high: u32, low: u32) -> u64 {
        (u64::from(high) << 32) | u64::from(low)
    }

    #[test]
    fn call_unpacks_registers_and_writes_output() {
        let callee = H160::repeat_byte(0x42);
        let mut env =
            MapEnv { next_outcome: Some(outcome(Status::Success, b"returned data", 5000, None)), ..Default::default() };
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
        assert_eq!(g.a0(), ReturnCode::Success as u64);
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
            (Status::Reverted, ReturnCode::CalleeReverted as u64),
            (Status::Failed(Failure::Panic(pvm_executor::PanicReason::Trap)), ReturnCode::CalleeTrapped as u64),
            (
                Status::Failed(Failure::TransferFailed(crate::runtime::outcome::TransferFailure::InsufficientBalance)),
                ReturnCode::TransferFailed as u64,
            ),
            (Status::Failed(Failure::OutOfGas), ReturnCode::OutOfResources as u64),
        ] {
            let reverted = status == Status::Reverted;
            let mut env = MapEnv { next_outcome: Some(outcome(status, b"why", 1, None)), ..Default::default() };
            g.put(B + 300, &32u32.to_le_bytes());
            g.args(&args);
            run("call", &mut g, &mut env).unwrap();
            assert_eq!(g.a0(), code);
            // Requested gas u64::MAX is capped by what the caller has left.
            assert!(env.calls[0].gas_limit <= 1_000_000);
            let written = u32::from_le_bytes(g.get(B + 300, 4).try_into().unwrap());
            assert_eq!(written, if reverted { 3 } else { 0 });
        }
    }

    #[test]
    fn value_in_static_call_is_denied() {
        let mut env = MapEnv::default();
        let mut g = guest();
        g.put(B + 32, &U256::from(1u64).to_little_endian());
        g.args(&[pack(0b1_0000, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B, u32::MAX)]);
        assert_eq!(run("call", &mut g, &mut env).unwrap_err(), Trap::StateChangeDenied);
        g.args(&[pack(0b10_0000, B), u64::MAX, u64::MAX, pack(B + 64, B + 32), pack(0, B), pack(B, u32::MAX)]);
        assert!(matches!(run("call", &mut g, &mut env).unwrap_err(), Trap::InvalidFlags { .. }));
    }

    #[test]
    fn instantiate_unpacks_code_hash_input_and_address() {
        let new_address = H160::repeat_byte(0x99);
        let mut env =
            MapEnv { next_outcome: Some(outcome(Status::Success, &[], 10, Some(new_address))), ..Default::default() };
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
        assert_eq!(g.a0(), 0);
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
        assert_eq!(g.a0(), 1234);
        g.args(&[u64::from(B)]);
        run("is_contract", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 1);
        g.args(&[u64::from(B), u64::from(B + 64)]);
        run("code_hash", &mut g, &mut env).unwrap();
        assert_eq!(g.get(B + 64, 32), vec![0x22; 32]);
        g.put(B, H160::repeat_byte(0x33).as_bytes());
        g.args(&[u64::from(B)]);
        run("code_size", &mut g, &mut env).unwrap();
        assert_eq!(g.a0(), 0);
    }
}
