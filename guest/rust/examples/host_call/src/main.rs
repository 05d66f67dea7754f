//! A `no_std` Rust guest with the same interface as `guest/examples/host_call.c` (imports
//! `host_add` and `host_log`, exports `add_twice` and `call_count`), plus two computations over
//! guest memory: `sort_u64` (through `alloc`, with the bump allocator below) and `keccak256`
//! (the `sha3` crate from crates.io). `guest/rust/build.sh` builds it into `host_call.polkavm`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use sha3::{Digest, Keccak256};

#[polkavm_derive::polkavm_import]
extern "C" {
    /// Provided by the host: `a + b` (or whatever the host decides).
    fn host_add(a: u64, b: u64) -> u64;
    /// Provided by the host: records a value; no result.
    fn host_log(value: u64);
}

// The linker's default is 8 KiB; the sort's recursion and the keccak state want more.
polkavm_derive::min_stack_size!(65536);

/// How often `add_twice` ran (single-threaded: the atomic only gives safe interior mutability).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// `add_twice(x, y)` = host_add(host_add(x, y), y), and logs how often it was called.
#[polkavm_derive::polkavm_export]
extern "C" fn add_twice(x: u64, y: u64) -> u64 {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    // SAFETY: host functions take and return plain integers; the host defines both.
    unsafe {
        host_log(calls);
        host_add(host_add(x, y), y)
    }
}

/// How often `add_twice` ran.
#[polkavm_derive::polkavm_export]
extern "C" fn call_count() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

/// Sorts the `count` little-endian u64 values at `address` in place and returns how many distinct
/// values there are. The values are copied into a `Vec` (heap memory from the allocator below),
/// sorted with the standard library's stable sort (which allocates its own scratch buffer) and
/// written back; both allocations are freed before returning.
#[polkavm_derive::polkavm_export]
extern "C" fn sort_u64(address: u32, count: u32) -> u64 {
    let (address, count) = (address as usize, count as usize);
    // SAFETY: the host passes memory it allocated in the guest for `count` u64 values; PVM
    // accesses need no alignment, hence the unaligned reads and writes.
    unsafe {
        let values = address as *mut u64;
        let mut sorted: Vec<u64> = (0..count).map(|index| values.add(index).read_unaligned()).collect();
        sorted.sort();
        for (index, value) in sorted.iter().enumerate() {
            values.add(index).write_unaligned(*value);
        }
        sorted.dedup();
        sorted.len() as u64
    }
}

/// Writes keccak-256 of the `length` bytes at `input` to the 32 bytes at `output`.
#[polkavm_derive::polkavm_export]
extern "C" fn keccak256(input: u32, length: u32, output: u32) {
    // SAFETY: the host passes `length` readable bytes at `input` and 32 writable bytes at
    // `output`, all in guest memory it allocated.
    unsafe {
        let data = core::slice::from_raw_parts(input as usize as *const u8, length as usize);
        let hash = Keccak256::digest(data);
        core::ptr::copy_nonoverlapping(hash.as_ptr(), output as usize as *mut u8, hash.len());
    }
}

/// How many heap bytes are in use (0 between calls: every export frees what it allocates).
#[polkavm_derive::polkavm_export]
extern "C" fn heap_in_use() -> u64 {
    // SAFETY: single-threaded guest; nothing else holds a reference into the arena state.
    unsafe { (*ALLOCATOR.state.get()).top as u64 }
}

/// The heap: a bump allocator over a static arena (`.bss`, so it costs nothing in the blob) that
/// starts over when its last live allocation is freed. The guest frees everything before each
/// export returns, so the arena never fills up across calls. The host's own allocator lives in
/// the PVM heap above the program's data, so the two never meet.
struct BumpArena {
    memory: UnsafeCell<[u8; ARENA_SIZE]>,
    state: UnsafeCell<ArenaState>,
}

struct ArenaState {
    /// Offset of the first free byte.
    top: usize,
    /// Allocations not yet freed.
    live: usize,
}

const ARENA_SIZE: usize = 1 << 20;

// SAFETY: a PVM guest runs on one thread; the allocator is never entered concurrently.
unsafe impl Sync for BumpArena {}

#[global_allocator]
static ALLOCATOR: BumpArena =
    BumpArena { memory: UnsafeCell::new([0; ARENA_SIZE]), state: UnsafeCell::new(ArenaState { top: 0, live: 0 }) };

// SAFETY: `alloc` hands out disjoint, aligned ranges of the arena until it is full (then null);
// the arena is reused only when no allocation is live.
unsafe impl GlobalAlloc for BumpArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded; no other reference to the state exists during this call.
        let state = unsafe { &mut *self.state.get() };
        let base = self.memory.get() as *mut u8;
        let start = (base as usize + state.top).next_multiple_of(layout.align()) - base as usize;
        match start.checked_add(layout.size()) {
            Some(end) if end <= ARENA_SIZE => {
                state.top = end;
                state.live += 1;
                // SAFETY: `start` is within the arena (checked above).
                unsafe { base.add(start) }
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, _pointer: *mut u8, _layout: Layout) {
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.state.get() };
        state.live -= 1;
        if state.live == 0 {
            state.top = 0;
        }
    }
}

/// A panic (an out-of-memory `Vec`, an index out of bounds) ends the call with a trap.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: `unimp` traps; it never returns.
    unsafe { core::arch::asm!("unimp", options(noreturn)) }
}
