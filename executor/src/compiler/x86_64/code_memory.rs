//! Executable memory for compiled code, and the pool of mappings that dropped modules leave.

use super::CompileError;
use crate::pool::{Pool, PoolLimits, Pools};
use std::sync::Arc;

/// Executable memory holding one module's code; it goes back to its engine's [`CodePool`]
/// when dropped.
pub(super) struct CodeMemory {
    pub(super) pointer: *mut u8,
    pub(super) length: usize,
    pub(super) pools: Arc<Pools>,
}

// SAFETY: immutable (read-execute) memory after construction, owned by this value.
unsafe impl Send for CodeMemory {}
// SAFETY: as above; nothing writes it after construction.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Maps `length` bytes (rounded up to pages) for code, writable until [`CodeMemory::fill`];
    /// in the low 2 GiB of the address space where the kernel has room (`MAP_32BIT`), so that
    /// the code can address its jump table absolutely.
    pub(super) fn map(length: usize, pools: &Arc<Pools>) -> Result<CodeMemory, CompileError> {
        let length = length.max(1).div_ceil(4096) * 4096;
        if let Some(memory) = CodeMemory::reuse(length, pools) {
            return Ok(memory);
        }
        // Populated up front: one call instead of a page fault per page on the copy.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
        let protection = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: fresh anonymous mappings, placed by the kernel.
        let pointer = unsafe {
            let low = libc::mmap(core::ptr::null_mut(), length, protection, flags | libc::MAP_32BIT, -1, 0);
            if low == libc::MAP_FAILED {
                libc::mmap(core::ptr::null_mut(), length, protection, flags, -1, 0)
            } else {
                low
            }
        };
        if pointer == libc::MAP_FAILED {
            return Err(CompileError::CodeAllocation);
        }
        Ok(CodeMemory { pointer: pointer.cast(), length, pools: pools.clone() })
    }

    /// A pooled mapping of `length` to `2 * length` bytes, made writable again.
    fn reuse(length: usize, pools: &Arc<Pools>) -> Option<CodeMemory> {
        let (pointer, mapped) = {
            let mut pool = pools.code.mappings.items();
            let (at, _) = pool
                .iter()
                .enumerate()
                .filter(|(_, &(_, mapped))| mapped >= length && mapped <= 2 * length)
                .min_by_key(|(_, &(_, mapped))| mapped)?;
            pool.swap_remove(at)
        };
        let memory = CodeMemory { pointer: pointer as *mut u8, length: mapped, pools: pools.clone() };
        // SAFETY: a mapping of ours that no module uses any more (see `Drop`); its pages are
        // populated, so writing them after this costs no page faults.
        if unsafe { libc::mprotect(pointer as *mut libc::c_void, mapped, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            return None; // dropping `memory` unmaps it
        }
        Some(memory)
    }

    /// Copies `code` in and makes the memory read-execute for good.
    pub(super) fn fill(&self, code: &[u8]) -> Result<(), CompileError> {
        assert!(code.len() <= self.length);
        // SAFETY: the mapping is `length >= code.len()` bytes, writable, and ours; then it is
        // switched to read-execute and never written again.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), self.pointer, code.len());
            if libc::mprotect(self.pointer.cast(), self.length, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                return Err(CompileError::CodeProtection);
            }
        }
        Ok(())
    }
}

/// Code mappings of dropped modules, kept (read-execute) for the next compiles: reusing one
/// costs two `mprotect` calls where a fresh one costs `mmap`, populating (zeroing) its pages
/// and `munmap`. Owned by an engine ([`Pools`]); limits from [`PoolLimits`].
#[derive(Debug)]
pub(crate) struct CodePool {
    /// `(address, length)` of each kept mapping, at most `PoolLimits::code_mappings`...
    mappings: Pool<(usize, usize)>,
    /// ...and at most this many bytes in them.
    max_bytes: usize,
}

impl CodePool {
    /// An empty pool.
    pub fn new(limits: &PoolLimits) -> CodePool {
        CodePool { mappings: Pool::new(limits.code_mappings), max_bytes: limits.code_bytes }
    }
}

impl Drop for CodePool {
    fn drop(&mut self) {
        for &(pointer, length) in self.mappings.items().iter() {
            // SAFETY: a mapping of ours that no module uses any more.
            unsafe { libc::munmap(pointer as *mut libc::c_void, length) };
        }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        {
            let pool = &self.pools.code;
            let mut mappings = pool.mappings.items();
            let pooled: usize = mappings.iter().map(|&(_, mapped)| mapped).sum();
            if mappings.len() < pool.mappings.limit() && pooled + self.length <= pool.max_bytes {
                mappings.push((self.pointer as usize, self.length));
                return;
            }
        }
        // SAFETY: our own mapping; no instance runs it any more (instances hold the module).
        unsafe { libc::munmap(self.pointer.cast(), self.length) };
    }
}
