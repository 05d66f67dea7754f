//! A freeing allocator for the guest heap, used when the host hands memory to the guest
//! (Substrate's `allocate_memory`/`deallocate_memory`, `ext_allocator_malloc`/`free`).
//!
//! The scheme: every request is rounded up to a power of two between 8 bytes and
//! [`MAX_ALLOCATION_SIZE`] (its size class); a freed block goes on its class's free list and
//! the next request of that class reuses it; a request no free block serves takes fresh space
//! from the end of the heap, which grows with `sbrk` as needed. So a guest that allocates and
//! frees in a loop uses the same memory again and again.
//!
//! The bookkeeping (which blocks are live and of what class) lives on the host, not in guest
//! memory: a guest that scribbles over its heap cannot corrupt the allocator, and freeing a
//! pointer the allocator did not hand out (or freeing it twice) is a clear error.
//!
//! Heap growth is shared with anything else that calls `sbrk` on the same instance: the
//! allocator notices when the heap top moved under it and continues from the new top.

use pvm_executor::Instance;
use std::collections::HashMap;

/// The largest single allocation: 32 MiB (the same limit as Substrate's allocator).
pub const MAX_ALLOCATION_SIZE: u32 = 1 << MAX_CLASS_LOG2;

const MIN_CLASS_LOG2: u32 = 3;
const MAX_CLASS_LOG2: u32 = 25;
const CLASS_COUNT: usize = (MAX_CLASS_LOG2 - MIN_CLASS_LOG2 + 1) as usize;
/// Every block is aligned to this.
const ALIGNMENT: u32 = 8;
/// The heap grows by at least this much at a time (when it can), to keep `sbrk` calls rare.
const GROWTH_GRANULE: u32 = 0x1000;

/// Why an allocation or a free failed.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AllocError {
    /// More than [`MAX_ALLOCATION_SIZE`] bytes requested.
    #[error("cannot allocate {0} bytes: a single allocation is limited to {MAX_ALLOCATION_SIZE} bytes")]
    TooLarge(u32),
    /// The heap cannot grow enough.
    #[error("cannot allocate {size} bytes: the guest heap cannot grow any further (heap size {heap_size} bytes)")]
    OutOfMemory {
        /// The request.
        size: u32,
        /// The heap's size when it failed.
        heap_size: u32,
    },
    /// The program has no heap (raw programs).
    #[error("the program has no heap to allocate from")]
    NoHeap,
    /// The guest is another VM served through
    /// [`HostFunc::call_on`](crate::HostFunc::call_on), which has no host allocator.
    #[error("this guest has no host allocator")]
    NoAllocator,
    /// A free of something that is not a live allocation.
    #[error(
        "cannot free 0x{0:08x}: it is not a live allocation of the host allocator (freed twice, or never allocated)"
    )]
    InvalidFree(u32),
}

/// Counters of a [`GuestAllocator`] since it was created or last reset.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct AllocationStats {
    /// Bytes in live blocks (block sizes, not request sizes).
    pub bytes_allocated: u64,
    /// The most `bytes_allocated` ever was.
    pub bytes_allocated_peak: u64,
    /// Bytes handed out over all allocations.
    pub bytes_allocated_sum: u64,
    /// Heap bytes the allocator has taken with `sbrk`.
    pub address_space_used: u64,
    /// Number of allocations.
    pub allocations: u64,
    /// Number of frees.
    pub frees: u64,
}

/// A size-class allocator over an instance's heap. See the [module docs](self).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
/// use pvm_executor::{Config, Engine, Instance, Module};
/// use pvm_host_functions::GuestAllocator;
///
/// # let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
/// # code.push(Instruction::jump_indirect(Reg::RA, 0));
/// # let memory = MemoryConfig { stack_size: 4096, ..Default::default() };
/// # let bytes = ProgramBlobBuilder::new(code.build()?.code).memory(memory).build()?.to_bytes();
/// let module = Module::from_blob(&Engine::new(&Config::new())?, &bytes)?;
/// let mut instance = Instance::new(&module)?;
/// let mut allocator = GuestAllocator::new();
/// let first = allocator.allocate(&mut instance, 100)?;
/// instance.write_memory(first, &[1; 100])?;
/// allocator.deallocate(first)?;
/// assert_eq!(allocator.allocate(&mut instance, 120)?, first, "same size class: reused");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct GuestAllocator {
    /// The unused tail of the space taken with `sbrk`: `[next, end)`.
    next: u32,
    end: u32,
    free: [Vec<u32>; CLASS_COUNT],
    live: HashMap<u32, u8>,
    stats: AllocationStats,
}

fn class_of(size: u32) -> usize {
    let block = size.max(1 << MIN_CLASS_LOG2).next_power_of_two();
    (block.trailing_zeros() - MIN_CLASS_LOG2) as usize
}

fn class_size(class: usize) -> u32 {
    1 << (class as u32 + MIN_CLASS_LOG2)
}

impl GuestAllocator {
    /// An allocator that has handed out nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every allocation (after the instance's memory was reset).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Allocates `size` bytes (at least one block of 8) in the guest heap, growing it if
    /// needed, and returns the guest address (8-byte aligned). The contents are unspecified:
    /// fresh heap pages are zero, reused blocks keep what was last written to them.
    pub fn allocate(&mut self, instance: &mut Instance, size: u32) -> Result<u32, AllocError> {
        if size > MAX_ALLOCATION_SIZE {
            return Err(AllocError::TooLarge(size));
        }
        let class = class_of(size);
        let block = class_size(class);
        let address = match self.free[class].pop() {
            Some(address) => address,
            None => self.take_fresh(instance, size, block)?,
        };
        self.live.insert(address, class as u8);
        self.stats.allocations += 1;
        self.stats.bytes_allocated += u64::from(block);
        self.stats.bytes_allocated_sum += u64::from(block);
        self.stats.bytes_allocated_peak = self.stats.bytes_allocated_peak.max(self.stats.bytes_allocated);
        Ok(address)
    }

    fn take_fresh(&mut self, instance: &mut Instance, size: u32, block: u32) -> Result<u32, AllocError> {
        let top = instance.sbrk(0).ok_or(AllocError::NoHeap)?;
        if top != self.end {
            // First use, or someone else moved the heap top: continue from the current top.
            self.next = top;
            self.end = top;
        }
        let start = u64::from(self.next).next_multiple_of(u64::from(ALIGNMENT));
        let needed_end = start + u64::from(block);
        if needed_end > u64::from(self.end) {
            let out_of_memory = |instance: &Instance| AllocError::OutOfMemory { size, heap_size: instance.heap_size() };
            let exact = u32::try_from(needed_end - u64::from(self.end)).map_err(|_| out_of_memory(instance))?;
            let rounded = exact.max(GROWTH_GRANULE).next_multiple_of(GROWTH_GRANULE);
            let new_top = match instance.sbrk(rounded).or_else(|| instance.sbrk(exact)) {
                Some(new_top) => new_top,
                None => return Err(out_of_memory(instance)),
            };
            self.stats.address_space_used += u64::from(new_top - self.end);
            self.end = new_top;
        }
        self.next = needed_end as u32;
        Ok(start as u32)
    }

    /// Frees a block returned by [`GuestAllocator::allocate`]. Freeing address 0 does nothing
    /// (C's `free(NULL)`).
    pub fn deallocate(&mut self, address: u32) -> Result<(), AllocError> {
        if address == 0 {
            return Ok(());
        }
        let class = self.live.remove(&address).ok_or(AllocError::InvalidFree(address))?;
        self.free[class as usize].push(address);
        self.stats.frees += 1;
        self.stats.bytes_allocated -= u64::from(class_size(class as usize));
        Ok(())
    }

    /// The block size of a live allocation.
    pub fn block_size(&self, address: u32) -> Option<u32> {
        self.live.get(&address).map(|&class| class_size(class as usize))
    }

    /// Number of live allocations.
    pub fn live_allocations(&self) -> usize {
        self.live.len()
    }

    /// The counters.
    pub fn stats(&self) -> AllocationStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
    use pvm_executor::{Config, Engine, Module};

    fn instance(rw_data_size: u32) -> Instance {
        instance_with(MemoryConfig { rw_data_size, stack_size: 4096, ..Default::default() })
    }

    fn instance_with(memory: MemoryConfig) -> Instance {
        let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
        code.push(Instruction::jump_indirect(Reg::RA, 0));
        let bytes = ProgramBlobBuilder::new(code.build().unwrap().code).memory(memory).build().unwrap().to_bytes();
        let module = Module::from_blob(&Engine::new(&Config::new()).unwrap(), &bytes).unwrap();
        Instance::new(&module).unwrap()
    }

    #[test]
    fn size_classes() {
        assert_eq!(class_of(0), 0);
        assert_eq!(class_of(8), 0);
        assert_eq!(class_of(9), 1);
        assert_eq!(class_size(class_of(100)), 128);
        assert_eq!(class_size(class_of(MAX_ALLOCATION_SIZE)), MAX_ALLOCATION_SIZE);
        assert_eq!(class_of(MAX_ALLOCATION_SIZE), CLASS_COUNT - 1);
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_writable() {
        let mut instance = instance(3); // heap_base is not aligned
        let heap_base = instance.module().memory_map().unwrap().heap_base;
        let mut allocator = GuestAllocator::new();
        let mut blocks = Vec::new();
        for size in [1u32, 8, 9, 100, 5000, 0, 64] {
            let address = allocator.allocate(&mut instance, size).unwrap();
            assert_eq!(address % 8, 0);
            assert!(address >= heap_base);
            assert!(instance.is_memory_accessible(address, size as usize, true));
            instance.write_memory(address, &vec![size as u8; size as usize]).unwrap();
            blocks.push((address, size));
        }
        for (i, &(a, size_a)) in blocks.iter().enumerate() {
            assert_eq!(instance.read_memory_vec(a, size_a).unwrap(), vec![size_a as u8; size_a as usize]);
            for &(b, _) in &blocks[i + 1..] {
                let end_a = a + allocator.block_size(a).unwrap();
                let end_b = b + allocator.block_size(b).unwrap();
                assert!(end_a <= b || end_b <= a, "blocks overlap");
            }
        }
    }

    #[test]
    fn repeated_allocate_free_does_not_grow_the_heap() {
        let mut instance = instance(0);
        let mut allocator = GuestAllocator::new();
        for _ in 0..3 {
            let a = allocator.allocate(&mut instance, 1000).unwrap();
            let b = allocator.allocate(&mut instance, 20).unwrap();
            allocator.deallocate(a).unwrap();
            allocator.deallocate(b).unwrap();
        }
        let heap = instance.heap_size();
        for _ in 0..10_000 {
            let a = allocator.allocate(&mut instance, 1000).unwrap();
            let b = allocator.allocate(&mut instance, 20).unwrap();
            allocator.deallocate(b).unwrap();
            allocator.deallocate(a).unwrap();
        }
        assert_eq!(instance.heap_size(), heap);
        assert_eq!(allocator.live_allocations(), 0);
        let stats = allocator.stats();
        assert_eq!(stats.allocations, 20_006);
        assert_eq!(stats.frees, 20_006);
        assert_eq!(stats.bytes_allocated, 0);
        assert_eq!(stats.bytes_allocated_peak, 1024 + 32);
    }

    #[test]
    fn bad_frees_and_oversized_requests_are_errors() {
        let mut instance = instance(0);
        let mut allocator = GuestAllocator::new();
        let a = allocator.allocate(&mut instance, 16).unwrap();
        assert_eq!(allocator.deallocate(a + 8), Err(AllocError::InvalidFree(a + 8)));
        allocator.deallocate(a).unwrap();
        let err = allocator.deallocate(a).unwrap_err();
        assert!(err.to_string().contains("freed twice"), "{err}");
        allocator.deallocate(0).unwrap();
        assert_eq!(
            allocator.allocate(&mut instance, MAX_ALLOCATION_SIZE + 1),
            Err(AllocError::TooLarge(MAX_ALLOCATION_SIZE + 1))
        );
    }

    #[test]
    fn the_heap_limit_is_an_error_not_a_panic() {
        // A stack that leaves the heap 40 MiB of room: one 32 MiB block fits, a second does not.
        let max_heap = 40 << 20;
        let stack_size = 0xfffe_0000 - 0x3_0000 - max_heap;
        let mut instance = instance_with(MemoryConfig { stack_size, ..Default::default() });
        assert_eq!(instance.module().memory_map().unwrap().max_heap_size, max_heap);
        let mut allocator = GuestAllocator::new();
        allocator.allocate(&mut instance, MAX_ALLOCATION_SIZE).unwrap();
        let err = allocator.allocate(&mut instance, MAX_ALLOCATION_SIZE).unwrap_err();
        assert!(matches!(err, AllocError::OutOfMemory { size: MAX_ALLOCATION_SIZE, .. }), "{err}");
        // Smaller blocks still fit in what is left.
        allocator.allocate(&mut instance, 4 << 20).unwrap();
    }

    #[test]
    fn continues_after_someone_else_grows_the_heap() {
        let mut instance = instance(0);
        let mut allocator = GuestAllocator::new();
        let a = allocator.allocate(&mut instance, 8).unwrap();
        let foreign_top = instance.sbrk(100).unwrap();
        let b = allocator.allocate(&mut instance, 8).unwrap();
        assert!(b >= foreign_top, "never hands out space another sbrk user took");
        assert_ne!(a, b);
    }
}
