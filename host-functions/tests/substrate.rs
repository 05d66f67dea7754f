//! Real `sp_io::SubstrateHostFunctions` through the adapter, under `TestExternalities`, every
//! result checked against the same operation done natively.
//!
//! The guest here is a set of trampolines (`ecalli i; ret`, one per host function, built with
//! the executor's `CodeBuilder`): the test plays the runtime's part (puts arguments in guest
//! memory, packs fat pointers into registers, decodes what the host function left in guest
//! memory), so each function's register and memory convention is checked one by one. The C
//! guest in `tests/c_guest.rs` does the same from inside the guest.

mod common;

use codec::Decode;
use common::*;
use pvm_host_functions::{CallError, LinkedInstance, Linker};
use sp_io::TestExternalities;

const IMPORTS: &[&str] = &[
    "ext_storage_set_version_1",
    "ext_storage_get_version_1",
    "ext_storage_clear_version_1",
    "ext_storage_exists_version_1",
    "ext_storage_read_version_1",
    "ext_hashing_blake2_256_version_1",
    "ext_hashing_twox_128_version_1",
    "ext_hashing_keccak_256_version_1",
    "ext_logging_log_version_1",
    "ext_allocator_malloc_version_1",
    "ext_allocator_free_version_1",
    "ext_panic_handler_abort_on_panic_version_1",
];

fn instance() -> LinkedInstance<()> {
    let mut linker = Linker::<()>::new();
    linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>().unwrap();
    let mut instance = linker.instantiate(&trampolines(IMPORTS), ()).unwrap();
    instance.set_gas(i64::MAX);
    instance
}

/// Copies `data` into the guest heap and returns its fat pointer.
fn put(instance: &mut LinkedInstance<()>, data: &[u8]) -> u64 {
    let address = instance.allocate(data.len() as u32).unwrap();
    instance.write_memory(address, data).unwrap();
    fat(address, data.len())
}

/// Reads the bytes a returned fat pointer points at, and frees them as a runtime would.
fn take(instance: &mut LinkedInstance<()>, packed: u64) -> Vec<u8> {
    let (ptr, len) = (packed as u32, (packed >> 32) as u32);
    let bytes = instance.read_memory_vec(ptr, len).unwrap();
    instance.deallocate(ptr).unwrap();
    bytes
}

/// Reads `len` bytes at a returned (sign-extended) 32-bit pointer, and frees them.
fn take_ptr(instance: &mut LinkedInstance<()>, result: u64, len: u32) -> Vec<u8> {
    let ptr = result as u32;
    assert_eq!(result, i64::from(ptr as i32) as u64, "an I32 result is sign-extended into A0");
    let bytes = instance.read_memory_vec(ptr, len).unwrap();
    instance.deallocate(ptr).unwrap();
    bytes
}

#[test]
fn storage_functions_match_native_sp_io() {
    let mut ext = TestExternalities::default();
    let mut instance = instance();
    let key = put(&mut instance, b"answer");
    let value = put(&mut instance, b"forty-two");

    ext.execute_with(|| {
        assert_eq!(instance.call("ext_storage_set_version_1", &[key, value]).unwrap(), key, "no result: A0 untouched");
        assert_eq!(sp_io::storage::get(b"answer").as_deref(), Some(&b"forty-two"[..]));

        let got = instance.call("ext_storage_get_version_1", &[key]).unwrap();
        let encoded = take(&mut instance, got);
        let decoded = <Option<Vec<u8>>>::decode(&mut &encoded[..]).unwrap();
        assert_eq!(decoded, sp_io::storage::get(b"answer").map(|bytes| bytes.to_vec()));

        assert_eq!(instance.call("ext_storage_exists_version_1", &[key]).unwrap(), 1);
        assert!(sp_io::storage::exists(b"answer"));

        // read(key, out[4], offset 3) -> Some(remaining length), out = value[3..7]
        let out_ptr = instance.allocate(4).unwrap();
        let read = instance.call("ext_storage_read_version_1", &[key, fat(out_ptr, 4), 3]).unwrap();
        let remaining = <Option<u32>>::decode(&mut &take(&mut instance, read)[..]).unwrap();
        let mut native_out = [0u8; 4];
        assert_eq!(remaining, sp_io::storage::read(b"answer", &mut native_out, 3));
        assert_eq!(remaining, Some(6));
        assert_eq!(instance.read_memory_vec(out_ptr, 4).unwrap(), native_out);
        assert_eq!(&native_out, b"ty-t");

        instance.call("ext_storage_clear_version_1", &[key]).unwrap();
        assert_eq!(sp_io::storage::get(b"answer"), None);
        let got = instance.call("ext_storage_get_version_1", &[key]).unwrap();
        assert_eq!(<Option<Vec<u8>>>::decode(&mut &take(&mut instance, got)[..]).unwrap(), None);
        assert_eq!(instance.call("ext_storage_exists_version_1", &[key]).unwrap(), 0);
    });
    // The writes went to the externalities, not somewhere else.
    ext.execute_with(|| {
        instance.call("ext_storage_set_version_1", &[key, value]).unwrap();
    });
    assert_eq!(ext.execute_with(|| sp_io::storage::get(b"answer")).as_deref(), Some(&b"forty-two"[..]));
}

#[test]
fn hashing_functions_match_native_sp_io() {
    let mut instance = instance();
    for data in [&b""[..], b"abc", &[0x5a; 1000]] {
        let input = put(&mut instance, data);
        let blake2 = instance.call("ext_hashing_blake2_256_version_1", &[input]).unwrap();
        assert_eq!(take_ptr(&mut instance, blake2, 32), sp_io::hashing::blake2_256(data));
        let twox = instance.call("ext_hashing_twox_128_version_1", &[input]).unwrap();
        assert_eq!(take_ptr(&mut instance, twox, 16), sp_io::hashing::twox_128(data));
        let keccak = instance.call("ext_hashing_keccak_256_version_1", &[input]).unwrap();
        assert_eq!(take_ptr(&mut instance, keccak, 32), sp_io::hashing::keccak_256(data));
        instance.deallocate(input as u32).unwrap();
    }
    assert_eq!(instance.allocator().live_allocations(), 0, "every host allocation was freed");
}

#[test]
fn logging_reaches_the_host_logger() {
    let logs = captured_logs();
    let mut instance = instance();
    let target = put(&mut instance, b"pvm-guest");
    let message = put(&mut instance, b"hello from the guest");
    // RuntimeInterfaceLogLevel: 0 error, 1 warn, 2 info, 3 debug, 4 trace.
    instance.call("ext_logging_log_version_1", &[2, target, message]).unwrap();
    let expected = (log::Level::Info, "pvm-guest".to_string(), "hello from the guest".to_string());
    assert!(logs.0.lock().unwrap().contains(&expected));
    // Natively, the same call logs the same record.
    sp_io::logging::log(sp_core::RuntimeInterfaceLogLevel::Warn, "native", b"same path");
    let native = (log::Level::Warn, "native".to_string(), "same path".to_string());
    assert!(logs.0.lock().unwrap().contains(&native));
}

#[test]
fn the_allocator_host_functions_reuse_freed_memory() {
    let mut instance = instance();
    let first = instance.call("ext_allocator_malloc_version_1", &[100]).unwrap() as u32;
    instance.call("ext_allocator_free_version_1", &[u64::from(first)]).unwrap();
    let heap = instance.instance().heap_size();
    for round in 0..1000u32 {
        let a = instance.call("ext_allocator_malloc_version_1", &[100]).unwrap() as u32;
        let b = instance.call("ext_allocator_malloc_version_1", &[u64::from(round % 300)]).unwrap() as u32;
        assert_eq!(a, first, "the freed block is handed out again");
        instance.write_memory(b, &vec![1; (round % 300) as usize]).unwrap();
        instance.call("ext_allocator_free_version_1", &[u64::from(b)]).unwrap();
        instance.call("ext_allocator_free_version_1", &[u64::from(a)]).unwrap();
    }
    assert!(instance.instance().heap_size() <= heap + 4096, "no leak: {}", instance.instance().heap_size());
    // Freeing twice is the guest's bug, reported as a failed host call, not a host crash.
    let error = instance.call("ext_allocator_free_version_1", &[u64::from(first)]).unwrap_err();
    assert_eq!(error.host_function(), Some("ext_allocator_free_version_1"));
    assert!(error.to_string().contains("not a live allocation"), "{error}");
}

#[test]
fn host_functions_without_externalities_fail_the_call_not_the_host() {
    let mut instance = instance();
    let key = put(&mut instance, b"k");
    let error = instance.call("ext_storage_get_version_1", &[key]).unwrap_err();
    match &error {
        CallError::HostPanic { function, message } => {
            assert_eq!(function, "ext_storage_get_version_1");
            assert!(message.contains("outside of an Externalities-provided environment"), "{message}");
        }
        other => panic!("expected a caught host panic, got {other:?}"),
    }
    // A bad fat pointer from the guest: an error message from the argument conversion.
    let error = instance.call("ext_hashing_blake2_256_version_1", &[fat(0x100, 4)]).unwrap_err();
    assert!(matches!(error, CallError::Host { .. }), "{error:?}");
    assert!(error.to_string().contains("0x00000100"), "{error}");
    // And the instance still works.
    let data = put(&mut instance, b"abc");
    let hash = instance.call("ext_hashing_blake2_256_version_1", &[data]).unwrap();
    assert_eq!(take_ptr(&mut instance, hash, 32), sp_io::hashing::blake2_256(b"abc"));
}

#[test]
fn a_registered_panic_message_is_reported_with_the_trap() {
    // The runtime's panic handler: `abort_on_panic(message)`, then `trap`.
    let module = module(&["ext_panic_handler_abort_on_panic_version_1"], b"the runtime gave up", |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(pvm_executor::program::Instruction::load_imm64(pvm_executor::program::Reg::A0, fat(RO_DATA, 19)));
        code.push(pvm_executor::program::Instruction::ecalli(0));
        code.push(pvm_executor::program::Instruction::trap());
        vec![("panic", entry)]
    });
    let mut linker = Linker::<()>::new();
    linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>().unwrap();
    let mut instance = linker.instantiate(&module, ()).unwrap();
    instance.set_gas(1_000);
    let error = instance.call("panic", &[]).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("the guest panicked at pc ") && text.ends_with(": trap: the runtime gave up"), "{text}");
    // The message belongs to that call only.
    let error = instance.call("panic", &[]).unwrap_err();
    assert!(matches!(error, CallError::Abort { .. }));
}

#[test]
fn every_substrate_host_function_is_registered_under_its_own_name() {
    let mut linker = Linker::<()>::new();
    linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>().unwrap();
    use sp_wasm_interface::HostFunctions;
    let functions = sp_io::SubstrateHostFunctions::host_functions();
    assert!(functions.len() > 50);
    for function in &functions {
        assert!(linker.is_defined(function.name()), "{}", function.name());
    }
    for name in IMPORTS {
        assert!(linker.is_defined(name), "{name}");
    }
}
