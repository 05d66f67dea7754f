//! The largest single allocation a piece of work makes: for tests that a guest-chosen length
//! never sizes a host allocation.
//!
//! A test binary installs the allocator itself (only a binary may choose its global
//! allocator):
//!
//! ```
//! use pvm_testkit::allocations::{largest_allocation, WatchingAllocator};
//!
//! #[global_allocator]
//! static ALLOCATOR: WatchingAllocator = WatchingAllocator;
//!
//! fn main() {
//!     let (buffer, largest) = largest_allocation(|| vec![0u8; 4096]);
//!     assert!(largest >= buffer.len());
//! }
//! ```
//!
//! and then measures with [`largest_allocation`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest single allocation made on a thread while it
/// watches (see [`largest_allocation`]).
pub struct WatchingAllocator;

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

/// Runs `work` and returns the largest single allocation it made on this thread (zero unless
/// the binary's global allocator is [`WatchingAllocator`]). One call watches at a time (the
/// maximum is global).
pub fn largest_allocation<R>(work: impl FnOnce() -> R) -> (R, usize) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    LARGEST.store(0, Ordering::Relaxed);
    WATCHING.with(|watching| watching.set(true));
    let result = work();
    WATCHING.with(|watching| watching.set(false));
    (result, LARGEST.load(Ordering::Relaxed))
}
