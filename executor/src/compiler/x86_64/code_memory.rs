//! Executable memory for compiled code, and the pool of mappings that dropped modules leave.

use super::CompileError;
use crate::pool::{Pool, PoolLimits, Pools};
use crate::sandbox::process::{ArenaKind, SharedSlice};
use std::sync::Arc;

/// Executable memory holding one module's code; it goes back to its engine's [`CodePool`]
/// when dropped.
pub(super) struct CodeMemory {
    pub(super) pointer: *mut u8,
    pub(super) length: usize,
    pub(super) pools: Arc<Pools>,
    /// With the process sandbox: the code-arena slice behind the mapping, which workers map
    /// (read-execute) at the same address; the host's own mapping is never executable then.
    pub(super) shared: Option<SharedSlice>,
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
        let protection = libc::PROT_READ | libc::PROT_WRITE;
        if let Some(process) = &pools.process {
            let low = process.map(ArenaKind::Code, length, protection, libc::MAP_POPULATE | libc::MAP_32BIT);
            let (pointer, slice) = match low {
                Ok(mapped) => mapped,
                Err(_) => process
                    .map(ArenaKind::Code, length, protection, libc::MAP_POPULATE)
                    .map_err(|_| CompileError::CodeAllocation)?,
            };
            return Ok(CodeMemory { pointer, length, pools: pools.clone(), shared: Some(slice) });
        }
        // Populated up front: one call instead of a page fault per page on the copy.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
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
        Ok(CodeMemory { pointer: pointer.cast(), length, pools: pools.clone(), shared: None })
    }

    /// A pooled mapping of `length` to `2 * length` bytes, made writable again.
    fn reuse(length: usize, pools: &Arc<Pools>) -> Option<CodeMemory> {
        let kept = {
            let mut pool = pools.code.mappings.items();
            let (at, _) = pool
                .iter()
                .enumerate()
                .filter(|(_, kept)| kept.length >= length && kept.length <= 2 * length)
                .min_by_key(|(_, kept)| kept.length)?;
            pool.swap_remove(at)
        };
        let (pointer, mapped) = (kept.pointer, kept.length);
        let mut kept = core::mem::ManuallyDrop::new(kept);
        // The mapping passes to the new `CodeMemory`, and with it the slice.
        let memory = CodeMemory {
            pointer: pointer as *mut u8,
            length: mapped,
            pools: pools.clone(),
            shared: kept.shared.take(),
        };
        // SAFETY: a mapping of ours that no module uses any more (see `Drop`); its pages are
        // populated, so writing them after this costs no page faults.
        if unsafe { libc::mprotect(pointer as *mut libc::c_void, mapped, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            return None; // dropping `memory` unmaps it
        }
        Some(memory)
    }

    /// Copies `code` in and makes the memory read-execute for good (read-only in the host
    /// with the process sandbox, whose workers execute it).
    pub(super) fn fill(&self, code: &[u8]) -> Result<(), CompileError> {
        assert!(code.len() <= self.length);
        let protection = if self.shared.is_some() { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_EXEC };
        // SAFETY: the mapping is `length >= code.len()` bytes, writable, and ours; then it is
        // switched to read-execute and never written again.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), self.pointer, code.len());
            if libc::mprotect(self.pointer.cast(), self.length, protection) != 0 {
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
    /// Each kept mapping, at most `PoolLimits::code_mappings`...
    mappings: Pool<KeptMapping>,
    /// ...and at most this many bytes in them.
    max_bytes: usize,
}

/// A code mapping kept for reuse.
struct KeptMapping {
    pointer: usize,
    length: usize,
    shared: Option<SharedSlice>,
}

impl CodePool {
    /// An empty pool.
    pub fn new(limits: &PoolLimits) -> CodePool {
        CodePool { mappings: Pool::new(limits.code_mappings), max_bytes: limits.code_bytes }
    }
}

impl Drop for KeptMapping {
    fn drop(&mut self) {
        // SAFETY: a mapping of ours that no module uses any more.
        unsafe { libc::munmap(self.pointer as *mut libc::c_void, self.length) };
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        {
            let pool = &self.pools.code;
            let mut mappings = pool.mappings.items();
            let pooled: usize = mappings.iter().map(|kept| kept.length).sum();
            if mappings.len() < pool.mappings.limit() && pooled + self.length <= pool.max_bytes {
                let shared = self.shared.take();
                mappings.push(KeptMapping { pointer: self.pointer as usize, length: self.length, shared });
                return;
            }
        }
        // SAFETY: our own mapping; no instance runs it any more (instances hold the module).
        unsafe { libc::munmap(self.pointer.cast(), self.length) };
        if let (Some(slice), Some(process)) = (&self.shared, &self.pools.process) {
            process.free(slice);
        }
    }
}
