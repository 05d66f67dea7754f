//! The engine's pools: resources of dropped modules and instances, kept for the next ones.
//!
//! Creating a module or an instance is dominated by work the previous one already did: mapping
//! and populating code memory, reserving 4 GiB of address space, setting page protection for a
//! memory layout, and faulting in large decode buffers. An [`Engine`](crate::Engine) keeps a
//! bounded number of each (limits in [`PoolLimits`], set with
//! [`Config::pool_limits`](crate::Config::pool_limits)) and hands them out again. Every
//! resource that may come from a pool holds the engine's [`Pools`], so it can go back to them
//! when dropped, even after the engine itself is gone.

use crate::program::{DecodeBuffers, DecodedInstruction, DecodedProgram};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, carrying on if another thread panicked while holding it: the pools and
/// caches behind these locks hold whole items and counters, which a panic cannot leave half
/// updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many resources an engine keeps for reuse. The defaults suit a node that creates a
/// fresh instance for every contract call; zero turns a pool off.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct PoolLimits {
    /// Sandboxes (compiler backend) kept warm: still laid out for a program's memory, so that
    /// the next instance of a program with the same layout pays no page protection changes.
    /// Each holds 4 GiB of reserved address space and its touched pages (writable regions up
    /// to 256 KiB are zeroed in place and stay resident). Default: 16.
    pub warm_sandboxes: usize,
    /// Bare address-space reservations (compiler backend) kept, so that creating a sandbox
    /// usually costs no `mmap`. Default: 32.
    pub sandbox_reservations: usize,
    /// Code mappings (compiler backend) of dropped modules kept for the next compiles...
    /// Default: 16.
    pub code_mappings: usize,
    /// ...holding at most this many bytes in all. Default: 32 MiB.
    pub code_bytes: usize,
    /// Decoded-instruction buffers of dropped modules kept (one per module). Default: 2.
    pub instruction_buffers: usize,
    /// Word buffers (program counter index, compiled code's offset tables) kept. Default: 8.
    pub word_buffers: usize,
    /// Buffers larger than this many bytes are freed, not kept. Default: 8 MiB, which keeps
    /// the buffers of programs up to 2 MiB of code (a program counter index has 4 bytes per
    /// code byte; PolkaVM's Doom has 0.5 MiB of code). At most `word_buffers` +
    /// `instruction_buffers` buffers of this size are kept.
    pub buffer_bytes: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            warm_sandboxes: 16,
            sandbox_reservations: 32,
            code_mappings: 16,
            code_bytes: 32 << 20,
            instruction_buffers: 2,
            word_buffers: 8,
            buffer_bytes: 8 << 20,
        }
    }
}

/// A bounded set of kept items of one kind.
pub(crate) struct Pool<T> {
    items: Mutex<Vec<T>>,
    limit: usize,
}

impl<T> Pool<T> {
    /// An empty pool that keeps at most `limit` items.
    pub fn new(limit: usize) -> Pool<T> {
        Pool { items: Mutex::new(Vec::new()), limit }
    }

    /// The most recently kept item.
    pub fn take(&self) -> Option<T> {
        lock(&self.items).pop()
    }

    /// The most recently kept item that `fits`.
    pub fn take_where(&self, fits: impl Fn(&T) -> bool) -> Option<T> {
        let mut items = lock(&self.items);
        let index = items.iter().rposition(fits)?;
        Some(items.swap_remove(index))
    }

    /// Keeps `item`, or gives it back if the pool is full.
    pub fn put(&self, item: T) -> Result<(), T> {
        let mut items = lock(&self.items);
        if items.len() < self.limit {
            items.push(item);
            Ok(())
        } else {
            Err(item)
        }
    }

    /// Keeps `item`; if the pool is full, the oldest item makes room and is returned. With a
    /// limit of zero, `item` itself is returned.
    pub fn put_evicting_oldest(&self, item: T) -> Option<T> {
        if self.limit == 0 {
            return Some(item);
        }
        let mut items = lock(&self.items);
        let evicted = if items.len() >= self.limit { Some(items.remove(0)) } else { None };
        items.push(item);
        evicted
    }

    /// The kept items, locked, for pools with their own policy.
    pub fn items(&self) -> MutexGuard<'_, Vec<T>> {
        lock(&self.items)
    }

    /// The most items kept.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<T> core::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool").field("kept", &lock(&self.items).len()).field("limit", &self.limit).finish()
    }
}

/// Buffers of dropped decoded programs and compiled code's offset tables: a fresh large
/// buffer costs a page fault per page on first touch, and its release lets the allocator hand
/// the memory back to the kernel, so that a module built and dropped again and again would pay
/// both every time; a recycled buffer costs neither.
#[derive(Debug)]
pub(crate) struct BufferPool {
    instructions: Pool<Vec<DecodedInstruction>>,
    words: Pool<Vec<u32>>,
    /// Larger buffers (in bytes) are not kept.
    max_bytes: usize,
}

/// A kept buffer with room for `capacity` elements but not much more (it goes on to live as
/// long as the program), or a new one.
fn take_fitting<T>(pool: &Pool<Vec<T>>, capacity: usize) -> Vec<T> {
    let fits = |buffer: &Vec<T>| buffer.capacity() >= capacity && buffer.capacity() <= capacity + capacity / 2 + 1024;
    pool.take_where(fits).unwrap_or_else(|| Vec::with_capacity(capacity))
}

impl BufferPool {
    fn new(limits: &PoolLimits) -> BufferPool {
        BufferPool {
            instructions: Pool::new(limits.instruction_buffers),
            words: Pool::new(limits.word_buffers),
            max_bytes: limits.buffer_bytes,
        }
    }

    /// Buffers to decode a program of `code_len` bytes into.
    pub fn decode_buffers(&self, code_len: usize) -> DecodeBuffers {
        let (instructions, index_of_pc) = DecodedProgram::buffer_capacities(code_len);
        DecodeBuffers {
            instructions: take_fitting(&self.instructions, instructions),
            index_of_pc: take_fitting(&self.words, index_of_pc),
        }
    }

    /// Keeps the buffers of a decoded program that is no longer needed.
    pub fn recycle_decoded(&self, decoded: &mut DecodedProgram) {
        let DecodeBuffers { mut instructions, index_of_pc } = decoded.take_buffers();
        let bytes = instructions.capacity() * size_of::<DecodedInstruction>();
        if instructions.capacity() != 0 && bytes <= self.max_bytes {
            instructions.clear();
            let _ = self.instructions.put(instructions);
        }
        // Kept at its length: decoding writes every entry of a pc index anyway, and one that
        // is long enough already needs no fill first (see `ProgramCode::decode_with`).
        if index_of_pc.capacity() != 0 && index_of_pc.capacity() * size_of::<u32>() <= self.max_bytes {
            let _ = self.words.put(index_of_pc);
        }
    }

    /// An empty buffer with room for `capacity` words, recycled where possible.
    pub fn words(&self, capacity: usize) -> Vec<u32> {
        let mut buffer = take_fitting(&self.words, capacity);
        buffer.clear(); // a kept pc index keeps its length (see `recycle_decoded`)
        buffer
    }

    /// Keeps `buffer` for [`BufferPool::words`] (or frees it, if enough are kept or it is too
    /// large).
    pub fn recycle_words(&self, mut buffer: Vec<u32>) {
        if buffer.capacity() == 0 || buffer.capacity() * size_of::<u32>() > self.max_bytes {
            return;
        }
        buffer.clear();
        let _ = self.words.put(buffer);
    }
}

/// Everything an engine keeps for reuse. Shared (`Arc`) by the engine and every resource that
/// may go back to it.
#[derive(Debug)]
pub(crate) struct Pools {
    /// Decode and offset-table buffers.
    pub buffers: BufferPool,
    /// Executable memory (compiler backend).
    #[cfg(pvm_compiler)]
    pub code: crate::compiler::CodePool,
    /// Reservations and warm sandboxes (compiler backend).
    #[cfg(pvm_compiler)]
    pub sandboxes: crate::sandbox::SandboxPools,
    /// The worker processes and shared memory of the process sandbox, when the engine uses
    /// it: code and reservations are then made in its arenas.
    #[cfg(pvm_compiler)]
    pub process: Option<std::sync::Arc<crate::sandbox::process::ProcessSandbox>>,
}

impl Pools {
    /// Empty pools with the given limits, for the in-process sandbox.
    pub fn new(limits: &PoolLimits) -> Pools {
        Pools {
            buffers: BufferPool::new(limits),
            #[cfg(pvm_compiler)]
            code: crate::compiler::CodePool::new(limits),
            #[cfg(pvm_compiler)]
            sandboxes: crate::sandbox::SandboxPools::new(limits),
            #[cfg(pvm_compiler)]
            process: None,
        }
    }
}
