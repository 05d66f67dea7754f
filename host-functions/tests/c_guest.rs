//! The proof with real host functions: a C guest (`guests/sp_io_runtime.c`, built with the
//! team's guest toolchain into `guests/sp_io_runtime.polkavm`) calls sp-io's storage,
//! hashing, logging and allocator host functions through the adapter, under
//! `sp_io::TestExternalities`; every result is checked against sp-io called natively.

mod common;

use codec::Encode;
use common::captured_logs;
use pvm_host_functions::{FatPtr, Linker, RuntimeError, RuntimeExecutor};
use sp_io::{SubstrateHostFunctions, TestExternalities};

const RUNTIME: &[u8] = include_bytes!("../guests/sp_io_runtime.polkavm");

fn executor() -> RuntimeExecutor<SubstrateHostFunctions> {
    RuntimeExecutor::<SubstrateHostFunctions>::builder().with_gas_limit(100_000_000).build().unwrap()
}

fn put_input(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut input = (key.len() as u32).to_le_bytes().to_vec();
    input.extend_from_slice(key);
    input.extend_from_slice(value);
    input
}

#[test]
fn storage_through_the_c_guest_matches_native_sp_io() {
    let logs = captured_logs();
    let executor = executor();
    let mut ext = TestExternalities::default();
    let mut call = |method: &str, input: &[u8]| executor.call_in(&mut ext.ext(), RUNTIME, method, input).unwrap();

    assert_eq!(call("put", &put_input(b"planet", b"earth")), b"");
    assert_eq!(call("put", &put_input(b"moon", b"")), b"", "an empty value is a value");
    let long_value = vec![0xee; 10_000];
    assert_eq!(call("put", &put_input(b"long", &long_value)), b"");

    let got_planet = call("get", b"planet");
    let got_moon = call("get", b"moon");
    let got_long = call("get", b"long");
    let got_missing = call("get", b"pluto");
    let exists_planet = call("exists", b"planet");
    let exists_missing = call("exists", b"pluto");
    let cleared = call("clear", b"planet");
    let got_cleared = call("get", b"planet");

    ext.execute_with(|| {
        // What the guest read is what sp-io reads natively, byte for byte (SCALE Option<Vec<u8>>).
        let native = |key: &[u8]| sp_io::storage::get(key).map(|bytes| bytes.to_vec()).encode();
        assert_eq!(got_moon, native(b"moon"));
        assert_eq!(got_moon, Some(Vec::<u8>::new()).encode());
        assert_eq!(got_long, native(b"long"));
        assert_eq!(got_long, Some(long_value.clone()).encode());
        assert_eq!(got_missing, native(b"pluto"));
        assert_eq!(got_missing, None::<Vec<u8>>.encode());
        assert_eq!(got_planet, Some(b"earth".to_vec()).encode());
        assert_eq!(exists_planet, [1]);
        assert_eq!(exists_missing, [u8::from(sp_io::storage::exists(b"pluto"))]);
        assert_eq!(cleared, [0]);
        assert_eq!(got_cleared, native(b"planet"));
        assert_eq!(sp_io::storage::get(b"planet"), None);
        assert_eq!(sp_io::storage::get(b"moon").as_deref(), Some(&b""[..]));
    });

    // The guest's log lines reached the host's logger with their target and level.
    assert!(logs.contains(log::Level::Info, "c-guest", "stored: 5 bytes"));
    assert!(logs.contains(log::Level::Info, "c-guest", "stored: 10000 bytes"));
}

#[test]
fn hashing_through_the_c_guest_matches_native_sp_io() {
    let executor = executor();
    for data in [&b""[..], b"abc", b"The quick brown fox jumps over the lazy dog", &[7; 5000]] {
        let output = executor.call(RUNTIME, "hashes", data).unwrap();
        assert_eq!(output.len(), 80);
        assert_eq!(output[..32], sp_io::hashing::blake2_256(data));
        assert_eq!(output[32..48], sp_io::hashing::twox_128(data));
        assert_eq!(output[48..], sp_io::hashing::keccak_256(data));
    }
}

#[test]
fn guest_side_logic_over_storage_and_hashing() {
    let executor = executor();
    let mut ext = TestExternalities::default();
    let data = b"remember me";
    // The guest stores blake2_256(data) under twox_128(data), reads it back, checks the SCALE
    // encoding itself (it traps otherwise), and returns the key.
    let key = executor.call_in(&mut ext.ext(), RUNTIME, "remember", data).unwrap();
    assert_eq!(key, sp_io::hashing::twox_128(data));
    let stored = ext.execute_with(|| sp_io::storage::get(&sp_io::hashing::twox_128(data)));
    assert_eq!(stored.as_deref(), Some(&sp_io::hashing::blake2_256(data)[..]));

    // Its own checks fail as traps naming the method; the host carries on.
    let error = executor.call_in(&mut ext.ext(), RUNTIME, "put", b"ab").unwrap_err();
    assert!(matches!(&error, RuntimeError::Trap { method, .. } if method == "put"), "{error:?}");
    assert_eq!(executor.call_in(&mut ext.ext(), RUNTIME, "get", b"nothing").unwrap(), None::<Vec<u8>>.encode());
}

#[test]
fn the_guests_heap_use_stays_flat_when_it_frees_what_the_host_allocated() {
    // An instance that is *not* reset between calls, so leaks would accumulate.
    let mut linker = Linker::<()>::new();
    linker.define_substrate_host_functions::<SubstrateHostFunctions>().unwrap();
    let module = pvm_executor::Module::from_blob(&common::engine(), RUNTIME).unwrap();
    let mut instance = linker.instantiate(&module, ()).unwrap();
    instance.set_gas(i64::MAX);
    let churn = |instance: &mut pvm_host_functions::LinkedInstance<()>, rounds: u32| {
        let input = instance.allocate(4).unwrap();
        instance.write_memory(input, &rounds.to_le_bytes()).unwrap();
        let output = instance.call("churn", &[u64::from(input), 4]).unwrap();
        assert_eq!(FatPtr::unpack(output).len, 0);
        instance.deallocate(input).unwrap();
    };
    churn(&mut instance, 50);
    let heap = instance.instance().heap_size();
    let stats = instance.allocator().stats();
    churn(&mut instance, 3_000);
    assert_eq!(instance.instance().heap_size(), heap, "3000 more rounds, not one more byte of heap");
    assert_eq!(instance.allocator().live_allocations(), 0);
    assert_eq!(instance.allocator().stats().allocations, stats.allocations + 3_000 * 2 + 1);
}
