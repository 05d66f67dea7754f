//! The runtime's heap as the host manages it: `sc-allocator`'s `FreeingBumpHeapAllocator`
//! (the allocator of every Substrate executor) over a region of the PVM guest heap, and the
//! Substrate host functions (`sp_wasm_interface`) served with it.
//!
//! Guest memory layout during a runtime call:
//!
//! ```text
//! heap_base                region_start                      region_start + pages * 64 KiB
//! | input (the call's data) | pad | allocator region: headers and blocks ...            |
//! ```
//!
//! The allocator sees the region as a linear memory of 64 KiB pages starting at offset 0
//! ([`sc_allocator::Memory`]); its offset `o` is guest address `region_start + o`. It keeps
//! its 8-byte headers in guest memory in front of each block, exactly as in a Wasm runtime's
//! linear memory, and grows the region with `sbrk`, a page at a time as it asks.

use crate::error::AllocFailure;
use pvm_executor::Instance;
use pvm_host_functions::substrate::SubstrateHeap;
use pvm_host_functions::{Caller, LinkError, Linker};
use sc_allocator::FreeingBumpHeapAllocator;
use sp_wasm_interface::{HostFunctions, Pointer, WordSize};
use std::cell::RefCell;

/// The allocator's page size (a Wasm page).
const PAGE_SIZE: u32 = 65536;
/// The most pages `sc_allocator::Memory::max_pages` may report.
const MAX_PAGES: u32 = 65536;

/// Per-instance state of the host functions: the heap allocator of the running call.
#[derive(Default)]
pub(crate) struct HeapState {
    /// `None` between calls.
    allocator: Option<FreeingBumpHeapAllocator>,
    /// Where the allocator's region starts in guest memory.
    region_start: u32,
    /// How many pages the region has (all of them reachable with `sbrk`).
    pages: u32,
    /// How many pages it may grow to (the rest of the guest heap).
    max_pages: u32,
    /// The first failure of the allocator in this call.
    failure: Option<AllocFailure>,
}

impl HeapState {
    /// Starts a call: an empty allocator region at `region_start` (the current heap top),
    /// which may grow to `max_pages` pages.
    pub(crate) fn begin(&mut self, region_start: u32, max_pages: u32) {
        self.allocator = Some(FreeingBumpHeapAllocator::new(0));
        self.region_start = region_start;
        self.pages = 0;
        self.max_pages = max_pages.min(MAX_PAGES);
        self.failure = None;
    }

    /// Ends a call; returns the allocator's first failure, if any.
    pub(crate) fn end(&mut self) -> Option<AllocFailure> {
        self.allocator = None;
        self.failure.take()
    }

    fn allocate(&mut self, instance: &mut Instance, size: WordSize) -> Result<u32, String> {
        let HeapState { allocator, region_start, pages, max_pages, failure } = self;
        let allocator = allocator.as_mut().ok_or("the host allocator is used outside a runtime call")?;
        let mut region =
            Region { instance: RefCell::new(instance), start: *region_start, pages, max_pages: *max_pages };
        match allocator.allocate(&mut region, size) {
            Ok(offset) => Ok(*region_start + u32::from(offset)),
            Err(error) => {
                failure.get_or_insert_with(|| AllocFailure::from(&error));
                Err(format!("cannot allocate {size} bytes: {error}"))
            }
        }
    }

    fn deallocate(&mut self, instance: &mut Instance, address: u32) -> Result<(), String> {
        let HeapState { allocator, region_start, pages, max_pages, failure } = self;
        let allocator = allocator.as_mut().ok_or("the host allocator is used outside a runtime call")?;
        let Some(offset) = address.checked_sub(*region_start) else {
            let message = format!("cannot free 0x{address:08x}: it is below the allocator's heap");
            failure.get_or_insert_with(|| AllocFailure::Invalid(message.clone()));
            return Err(message);
        };
        let mut region =
            Region { instance: RefCell::new(instance), start: *region_start, pages, max_pages: *max_pages };
        allocator.deallocate(&mut region, Pointer::new(offset)).map_err(|error| {
            failure.get_or_insert_with(|| AllocFailure::from(&error));
            format!("cannot free 0x{address:08x}: {error}")
        })
    }
}

/// The allocator's region of guest memory as an [`sc_allocator::Memory`].
struct Region<'i> {
    /// In a cell because `Memory::with_access` takes `&self` while a slice of guest memory
    /// needs the instance mutably.
    instance: RefCell<&'i mut Instance>,
    start: u32,
    pages: &'i mut u32,
    max_pages: u32,
}

impl Region<'_> {
    fn len(&self) -> usize {
        *self.pages as usize * PAGE_SIZE as usize
    }
}

impl sc_allocator::Memory for Region<'_> {
    fn with_access_mut<R>(&mut self, run: impl FnOnce(&mut [u8]) -> R) -> R {
        let len = self.len();
        match self.instance.get_mut().memory_slice_mut(self.start, len) {
            Some(memory) => run(memory),
            // Cannot happen (the region is heap the allocator grew); if it did, the allocator
            // sees no memory and fails with an out-of-bounds error rather than touching any.
            None => run(&mut []),
        }
    }

    fn with_access<R>(&self, run: impl FnOnce(&[u8]) -> R) -> R {
        let len = self.len();
        let mut instance = self.instance.borrow_mut();
        match instance.memory_slice_mut(self.start, len) {
            Some(memory) => run(memory),
            None => run(&[]),
        }
    }

    fn grow(&mut self, additional: u32) -> Result<(), ()> {
        let end = u64::from(self.start) + self.len() as u64;
        let instance = self.instance.get_mut();
        // The region must stay contiguous: if anything else moved the heap top (the runtime
        // calling `sbrk` itself), it cannot grow.
        if instance.heap_top().map(u64::from) != Some(end) || *self.pages + additional > self.max_pages {
            return Err(());
        }
        let bytes = additional.checked_mul(PAGE_SIZE).ok_or(())?;
        instance.sbrk(bytes).ok_or(())?;
        *self.pages += additional;
        Ok(())
    }

    fn pages(&self) -> u32 {
        *self.pages
    }

    fn max_pages(&self) -> Option<u32> {
        Some(self.max_pages)
    }
}

/// `sc-allocator`'s heap for the Substrate host functions' allocations.
pub(crate) struct ScAllocatorHeap;

impl ScAllocatorHeap {
    fn state_and_instance<'c>(
        caller: &'c mut Caller<'_, HeapState>,
    ) -> Result<(&'c mut HeapState, &'c mut Instance), String> {
        match caller.data_and_instance_mut() {
            (state, Some(instance)) => Ok((state, instance)),
            (_, None) => Err("the host allocator serves only PVM instances".to_string()),
        }
    }
}

impl SubstrateHeap<HeapState> for ScAllocatorHeap {
    fn allocate(caller: &mut Caller<'_, HeapState>, size: WordSize) -> Result<u32, String> {
        let (state, instance) = Self::state_and_instance(caller)?;
        state.allocate(instance, size)
    }

    fn deallocate(caller: &mut Caller<'_, HeapState>, address: u32) -> Result<(), String> {
        let (state, instance) = Self::state_and_instance(caller)?;
        state.deallocate(instance, address)
    }
}

/// A linker with every function of `H` (e.g. `sp_io::SubstrateHostFunctions`) under its own
/// name, allocating with `sc-allocator`.
pub(crate) fn substrate_linker<H: HostFunctions>(allow_missing: bool) -> Result<Linker<HeapState>, LinkError> {
    let mut linker = Linker::new();
    linker.allow_shadowing(true).allow_missing_imports(allow_missing);
    linker.define_substrate_host_functions_with::<H, ScAllocatorHeap>()?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
    use pvm_executor::{Config, Engine, Module};

    fn instance(stack_size: u32) -> Instance {
        let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
        code.push(Instruction::jump_indirect(Reg::RA, 0));
        let memory = MemoryConfig { stack_size, ..Default::default() };
        let bytes = ProgramBlobBuilder::new(code.build().unwrap().code).memory(memory).build().unwrap().to_bytes();
        let module = Module::from_blob(&Engine::new(&Config::new()).unwrap(), &bytes).unwrap();
        Instance::new(&module).unwrap()
    }

    fn start(instance: &mut Instance, state: &mut HeapState) -> u32 {
        let map = instance.module().memory_map().unwrap();
        let top = instance.heap_top().unwrap();
        state.begin(top, (map.heap_base + map.max_heap_size - top) / PAGE_SIZE);
        top
    }

    #[test]
    fn blocks_live_in_guest_memory_after_the_region_start_and_are_reused() {
        let mut instance = instance(4096);
        instance.sbrk(100).unwrap(); // the call's input
        let mut state = HeapState::default();
        let region = start(&mut instance, &mut state);
        let a = state.allocate(&mut instance, 100).unwrap();
        let b = state.allocate(&mut instance, 5000).unwrap();
        assert!(a >= region + 8 && b > a, "{a:#x} {b:#x} after {region:#x}");
        assert!(instance.is_memory_accessible(b, 5000, true));
        instance.write_memory(a, &[7; 100]).unwrap();
        // The header in front of the block, in guest memory: occupied, order of 128 bytes.
        let header = u64::from_le_bytes(instance.read_memory_vec(a - 8, 8).unwrap().try_into().unwrap());
        assert_eq!(header, (1 << 32) | 4);
        state.deallocate(&mut instance, a).unwrap();
        assert_eq!(state.allocate(&mut instance, 120).unwrap(), a, "a freed block of the same order is reused");
        assert_eq!(state.end(), None);
    }

    #[test]
    fn exhausting_the_heap_is_out_of_space() {
        // A stack leaving the heap about 3 MiB: a 2 MiB block fits, a second one does not.
        let max_heap = 3 << 20;
        let stack_size = 0xfffe_0000 - 0x3_0000 - max_heap;
        let mut instance = instance(stack_size);
        let mut state = HeapState::default();
        start(&mut instance, &mut state);
        state.allocate(&mut instance, 2 << 20).unwrap();
        let error = state.allocate(&mut instance, 2 << 20).unwrap_err();
        assert!(error.contains("ran out of space"), "{error}");
        assert_eq!(state.end(), Some(AllocFailure::OutOfSpace));
    }

    #[test]
    fn invalid_frees_are_errors() {
        let mut instance = instance(4096);
        let mut state = HeapState::default();
        let region = start(&mut instance, &mut state);
        state.allocate(&mut instance, 16).unwrap();
        assert!(state.deallocate(&mut instance, region - 8).is_err());
        assert!(matches!(state.end(), Some(AllocFailure::Invalid(_))));
        start(&mut instance, &mut state);
        let b = state.allocate(&mut instance, 16).unwrap();
        state.deallocate(&mut instance, b).unwrap();
        let error = state.deallocate(&mut instance, b).unwrap_err();
        assert!(error.contains("empty header"), "{error}");
    }

    #[test]
    fn the_region_does_not_grow_over_someone_elses_sbrk() {
        let mut instance = instance(4096);
        let mut state = HeapState::default();
        start(&mut instance, &mut state);
        state.allocate(&mut instance, 60_000).unwrap();
        instance.sbrk(10).unwrap();
        let error = state.allocate(&mut instance, 60_000).unwrap_err();
        assert!(error.contains("ran out of space"), "{error}");
    }
}
