//! Substrate host functions called with fat pointers whose length is hostile (up to 4 GiB)
//! must fail without the host allocating a buffer of that length first.
//!
//! Found by the `host_registry` fuzz target (`fuzz/regressions/host_registry/`): the
//! adapter's `FunctionContext` used `sp-wasm-interface`'s provided `read_memory`, which
//! allocates `vec![0; size]` before reading, so one `ecalli` with `ptr | 0xffff_ffff << 32`
//! made the host allocate 4 GiB. It now reads piecewise, as `Caller::read_memory_vec` does.

mod common;

use common::*;
use pvm_host_functions::{CallError, Linker};
use pvm_testkit::allocations::{largest_allocation, WatchingAllocator};

#[global_allocator]
static ALLOCATOR: WatchingAllocator = WatchingAllocator;

#[test]
fn fat_pointers_with_hostile_lengths_fail_without_allocating_their_length() {
    let imports = ["ext_hashing_blake2_256_version_1", "ext_storage_get_version_1", "ext_misc_print_utf8_version_1"];
    let mut linker = Linker::<()>::new();
    linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>().unwrap();
    let mut instance = linker.instantiate(&trampolines(&imports), ()).unwrap();
    let heap = instance.allocate(16).unwrap();
    instance.write_memory(heap, b"sixteen bytes ok").unwrap();
    let mut ext = sp_io::TestExternalities::default();
    for name in imports {
        for length in [u32::MAX, 0x8000_0000, 0x1000_0000] {
            for pointer in [heap, RO_DATA, 0, u32::MAX - 15] {
                instance.set_gas(1_000_000);
                let (result, largest) =
                    largest_allocation(|| ext.execute_with(|| instance.call(name, &[fat(pointer, length as usize)])));
                assert!(matches!(result, Err(CallError::Host { .. })), "{name}({pointer:#x}, {length:#x}): {result:?}");
                assert!(
                    largest < 1 << 20,
                    "{name}({pointer:#x}, {length:#x}): the host allocated {largest} bytes at once"
                );
            }
        }
    }
    // The instance still works.
    instance.set_gas(1_000_000);
    let hash = ext.execute_with(|| instance.call("ext_hashing_blake2_256_version_1", &[fat(heap, 16)])).unwrap();
    assert_eq!(instance.read_memory_vec(hash as u32, 32).unwrap(), sp_io::hashing::blake2_256(b"sixteen bytes ok"));
}
