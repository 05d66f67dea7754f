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
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest single allocation while a test watches.
struct WatchingAllocator;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches
// only an atomic and a const-initialised thread-local without a destructor (no allocation).
unsafe impl GlobalAlloc for WatchingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as for `alloc`; `ptr` and `layout` come from this allocator, that is System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    if WATCHING.with(Cell::get) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: WatchingAllocator = WatchingAllocator;

/// Runs `work` and returns the largest single allocation it made on this thread.
fn largest_allocation<R>(work: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    WATCHING.with(|watching| watching.set(true));
    let result = work();
    WATCHING.with(|watching| watching.set(false));
    (result, LARGEST.load(Ordering::Relaxed))
}

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
