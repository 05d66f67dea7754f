//! Guest memory: its semantics, and the interpreter's plain-`Vec` storage for it.
//!
//! Memory is a set of page-aligned regions, each read-only or read-write. An access is all or
//! nothing: if any byte of it is below 64 KiB the guest panics; otherwise if any byte is not
//! accessible (or not writable, for a store) it page-faults at the page holding the first such
//! byte, and nothing is written.
//!
//! These rules, the layout of a container program's regions and the heap's growth are written
//! once, in [`PageMap`] ([`page_map`]). Both backends keep one: [`GuestMemory`] here holds
//! the bytes in vectors for the interpreter, the compiled backend's sandbox
//! (`crate::sandbox`) in host pages with the same protection. Only the storage differs.

pub(crate) mod page_map;

pub(crate) use page_map::PageMap;
use page_map::{container_areas, Init};

use crate::program::memory_map::LOWEST_ACCESSIBLE_ADDRESS;
use crate::program::MemoryMap;
use std::sync::Arc;

/// Why a guest memory access failed.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Fault {
    /// The access touched the lowest 64 KiB: the guest panics.
    Panic,
    /// The access touched an inaccessible (or, for a store, read-only) page at this address.
    PageFault(u32),
}

/// A host-side access to guest memory that failed.
#[derive(Copy, Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("guest memory access of {length} bytes at 0x{address:08x} failed: {reason}")]
pub struct MemoryAccessError {
    /// The start of the access.
    pub address: u32,
    /// Its length.
    pub length: usize,
    /// Why it failed.
    pub reason: MemoryAccessReason,
}

/// Why a host-side memory access failed.
#[derive(Copy, Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MemoryAccessReason {
    /// Part of the range is below 64 KiB.
    #[error("the range reaches below 0x10000")]
    BelowMinimum,
    /// Part of the range is not mapped (or not writable, for a write).
    #[error("page 0x{0:08x} is not accessible")]
    Inaccessible(u32),
    /// The range wraps around the end of the 32-bit address space.
    #[error("the range wraps around the end of the address space")]
    Wraps,
}

/// Reads `length` bytes at `address` through `read` into a new vector, growing it only as far
/// as the reads succeed.
///
/// The length of a host-side read usually comes from a guest (a pointer and a length in
/// registers): allocating all of it up front would let a guest make the host reserve up to
/// 4 GiB for a range that is not there. Reading piecewise bounds the allocation by what the
/// guest really has mapped; a failure is reported for the whole range, with the reason a
/// one-piece read would give. [`Instance::read_memory_vec`](crate::Instance::read_memory_vec)
/// uses it, and so can any other view of guest memory (a host-function caller, say).
pub fn read_memory_vec_with(
    address: u32,
    length: u32,
    mut read: impl FnMut(u32, &mut [u8]) -> Result<(), MemoryAccessError>,
) -> Result<Vec<u8>, MemoryAccessError> {
    const PIECE: u32 = 64 * 1024;
    let whole = |reason| MemoryAccessError { address, length: length as usize, reason };
    if length <= PIECE {
        let mut out = vec![0; length as usize];
        read(address, &mut out)?;
        return Ok(out);
    }
    // A one-piece read refuses a wrapping range before looking at any page; so do we, rather
    // than report the first inaccessible page below the end of the address space.
    if u64::from(address) + u64::from(length) > 1 << 32 {
        return Err(whole(MemoryAccessReason::Wraps));
    }
    let mut out = Vec::new();
    let mut done = 0;
    while done < length {
        let step = PIECE.min(length - done);
        let start = out.len();
        out.resize(start + step as usize, 0);
        read(address + done, &mut out[start..]).map_err(|error| whole(error.reason))?;
        done += step;
    }
    Ok(out)
}

/// The initial contents of a container program's memory, to build and reset an instance.
#[derive(Clone, Debug)]
pub struct MemoryImage {
    /// Where everything goes.
    pub map: MemoryMap,
    /// Initial read-only data.
    pub ro_data: Vec<u8>,
    /// Initial read-write data.
    pub rw_data: Vec<u8>,
}

/// The bytes of one accessible region (one region of the [`PageMap`], or for a container
/// program one of its [`container_areas`]). `base` and `writable` repeat what the page map
/// says, for the fast path.
#[derive(Clone, Debug)]
struct Chunk {
    base: u32,
    /// The region's bytes, or none while the memory is not built yet (see
    /// [`GuestMemory::pending`]).
    data: Vec<u8>,
    writable: bool,
    /// What the region starts with (the rest is zero).
    init: Init,
}

impl Chunk {
    #[inline(always)]
    fn offset(&self, address: u32, length: usize) -> Option<usize> {
        let offset = address.wrapping_sub(self.base) as usize;
        (offset + length <= self.data.len()).then_some(offset)
    }
}

/// Guest memory held in ordinary vectors (the interpreter's memory): the [`PageMap`] decides
/// what is accessible, `chunks` hold the bytes.
#[derive(Clone, Debug, Default)]
pub struct GuestMemory {
    /// The accessible pages and the heap.
    pages: PageMap,
    /// The bytes of each region, ordered by how often programs touch them (stack first), not
    /// by address.
    chunks: Vec<Chunk>,
    /// The chunk the heap grows (container programs).
    heap_chunk: usize,
    /// The chunk the last guest access hit: tried first, since programs tend to work on one
    /// region (the stack, or a data array) for a while.
    hot: usize,
    /// The layout a container program's memory was built with.
    map: Option<MemoryMap>,
    /// A container program's memory that is not built yet: `chunks` hold no bytes until
    /// something needs them (a run, a host write; see [`GuestMemory::build`]), so that
    /// creating an instance allocates and touches no guest memory, and an instance that never
    /// runs never does.
    pending: Option<Arc<MemoryImage>>,
}

/// How many regions [`GuestMemory::windows`] shows for loads (a container program has four).
pub(crate) const LOAD_WINDOWS: usize = 4;
/// How many writable regions it shows for stores (a container program has two).
pub(crate) const STORE_WINDOWS: usize = 2;

/// See [`GuestMemory::windows`].
#[derive(Copy, Clone, Debug)]
pub(crate) struct Windows {
    /// For loads.
    pub load: [Window; LOAD_WINDOWS],
    /// For stores.
    pub store: [Window; STORE_WINDOWS],
}

/// A raw view of one region of guest memory, above 64 KiB: `len` bytes at `ptr`, which are
/// guest addresses `base..base + len`.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Window {
    base: u32,
    len: usize,
    ptr: *mut u8,
}

impl Window {
    /// A window that holds nothing.
    pub const EMPTY: Window = Window { base: 0, len: 0, ptr: std::ptr::null_mut() };

    /// Where `[address, address + length)` is in the window, if it is all there.
    #[inline(always)]
    pub fn offset(&self, address: u32, length: usize) -> Option<usize> {
        let offset = address.wrapping_sub(self.base) as usize;
        (offset + length <= self.len).then_some(offset)
    }

    /// Reads `N` bytes at `offset`.
    ///
    /// # Safety
    /// `offset` must come from [`Window::offset`] with length `N`, and the memory the window
    /// was made from must not have been used since, other than through windows.
    #[inline(always)]
    pub unsafe fn read<const N: usize>(&self, offset: usize) -> [u8; N] {
        // SAFETY: the caller's contract: `offset + N <= len`, and the `len` bytes at `ptr`
        // are a live region buffer nothing else references.
        unsafe { self.ptr.add(offset).cast::<[u8; N]>().read_unaligned() }
    }

    /// Writes `N` bytes at `offset`.
    ///
    /// # Safety
    /// As for [`Window::read`], and the window must be a store window.
    #[inline(always)]
    pub unsafe fn write<const N: usize>(&self, offset: usize, bytes: [u8; N]) {
        // SAFETY: as in `read`; store windows only show writable regions, through a pointer
        // made from a mutable borrow.
        unsafe { self.ptr.add(offset).cast::<[u8; N]>().write_unaligned(bytes) }
    }
}

impl GuestMemory {
    /// Memory laid out as a container program expects: read-only data, read-write data (the
    /// heap grows from it), stack, and auxiliary data. Nothing is allocated yet: the regions
    /// get their bytes when first needed.
    pub fn from_image(image: &Arc<MemoryImage>) -> GuestMemory {
        let map = &image.map;
        let mut chunks = Vec::with_capacity(4);
        let mut heap_chunk = 0;
        for area in container_areas(map) {
            // An empty read-write region stays: the heap grows it.
            if area.size == 0 && area.init != Init::RwData {
                continue;
            }
            if area.init == Init::RwData {
                heap_chunk = chunks.len();
            }
            chunks.push(Chunk { base: area.address, data: Vec::new(), writable: area.writable, init: area.init });
        }
        GuestMemory {
            pages: PageMap::container(map),
            chunks,
            heap_chunk,
            hot: 0,
            map: Some(*map),
            pending: Some(image.clone()),
        }
    }

    /// Builds the memory if it is not built yet (see [`GuestMemory::pending`]).
    #[inline(always)]
    fn materialize(&mut self) {
        if self.pending.is_some() {
            self.build();
        }
    }

    /// Gives every region its bytes: the initial data, then zeroes.
    #[cold]
    #[inline(never)]
    fn build(&mut self) {
        let Some(image) = self.pending.take() else { return };
        for chunk in &mut self.chunks {
            let init = chunk.init.bytes(&image);
            let mut data = vec![0; self.pages.length_at(chunk.base)];
            data[..init.len()].copy_from_slice(init);
            chunk.data = data;
        }
    }

    /// Empty memory, to be filled with [`GuestMemory::map`] (raw programs).
    pub fn empty() -> GuestMemory {
        GuestMemory::default()
    }

    /// Makes `[address, address + length)` accessible (zero-filled), both page-aligned.
    /// Pages that are already accessible keep their contents and get the new protection.
    pub fn map(&mut self, address: u32, length: u32, writable: bool) -> Result<(), &'static str> {
        let (start, end) = self.pages.check_map(address, length)?;
        self.materialize();
        self.pages.set(start, end, Some(writable));
        // One chunk per region of the page map, with the bytes of the old chunks where they
        // overlap it.
        let old = std::mem::take(&mut self.chunks);
        for region in self.pages.region_list() {
            let mut data = vec![0; (region.end - region.start) as usize];
            for chunk in &old {
                let (from, to) = (
                    region.start.max(chunk.base.into()),
                    region.end.min(u64::from(chunk.base) + chunk.data.len() as u64),
                );
                if from < to {
                    data[(from - region.start) as usize..(to - region.start) as usize].copy_from_slice(
                        &chunk.data[(from - u64::from(chunk.base)) as usize..(to - u64::from(chunk.base)) as usize],
                    );
                }
            }
            self.chunks.push(Chunk { base: region.start as u32, data, writable: region.writable, init: Init::Zero });
        }
        self.hot = 0;
        Ok(())
    }

    /// Restores a container program's memory to `image` (zeroes the stack, reloads data,
    /// shrinks the heap back). Built regions are rewritten in place, without reallocating,
    /// unless one is large: zeroing a big region would touch every page of it, while memory
    /// that is not built yet costs nothing until it is needed.
    pub fn reset(&mut self, image: &Arc<MemoryImage>) {
        const IN_PLACE_LIMIT: usize = 1 << 20;
        let map = &image.map;
        let layout_matches = self.map.as_ref() == Some(map);
        if !layout_matches
            || self.pending.is_some()
            || self.chunks.iter().any(|chunk| chunk.data.len() > IN_PLACE_LIMIT)
        {
            *self = GuestMemory::from_image(image);
            return;
        }
        self.pages.shrink_heap();
        for chunk in &mut self.chunks {
            let init = chunk.init.bytes(image);
            chunk.data.truncate(self.pages.length_at(chunk.base));
            chunk.data[..init.len()].copy_from_slice(init);
            chunk.data[init.len()..].fill(0);
        }
        self.hot = 0;
    }

    #[inline(always)]
    fn find(&self, address: u32, length: usize) -> Option<(usize, usize)> {
        for (index, chunk) in self.chunks.iter().enumerate() {
            if let Some(offset) = chunk.offset(address, length) {
                return Some((index, offset));
            }
        }
        None
    }

    /// Raw views of the first regions (in the order of `chunks`: the stack first), for
    /// loads, and of the first writable ones, for stores; windows past the regions are
    /// empty. The interpreter accesses memory through them on its fast path; they stay valid
    /// until `self` is next used otherwise.
    pub(crate) fn windows(&mut self) -> Windows {
        self.materialize();
        let mut windows = Windows { load: [Window::EMPTY; LOAD_WINDOWS], store: [Window::EMPTY; STORE_WINDOWS] };
        let (mut loads, mut stores) = (0, 0);
        for chunk in &mut self.chunks {
            if chunk.base < LOWEST_ACCESSIBLE_ADDRESS {
                continue;
            }
            let window = Window { base: chunk.base, len: chunk.data.len(), ptr: chunk.data.as_mut_ptr() };
            if loads < LOAD_WINDOWS {
                windows.load[loads] = window;
                loads += 1;
            }
            if chunk.writable && stores < STORE_WINDOWS {
                windows.store[stores] = window;
                stores += 1;
            }
        }
        windows
    }

    /// Loads `N` bytes as a guest load instruction does.
    #[inline(always)]
    pub fn load<const N: usize>(&mut self, address: u32) -> Result<[u8; N], Fault> {
        if let Some(chunk) = self.chunks.get(self.hot) {
            let offset = address.wrapping_sub(chunk.base) as usize;
            if let (true, Some(bytes)) = (address >= LOWEST_ACCESSIBLE_ADDRESS, chunk.data.get(offset..offset + N)) {
                return Ok(bytes.try_into().expect("N bytes"));
            }
        }
        self.load_other::<N>(address)
    }

    /// A load outside the hot chunk (kept out of line, so the fast path stays small).
    #[inline(never)]
    fn load_other<const N: usize>(&mut self, address: u32) -> Result<[u8; N], Fault> {
        self.materialize();
        if address >= LOWEST_ACCESSIBLE_ADDRESS {
            for (index, chunk) in self.chunks.iter().enumerate() {
                let offset = address.wrapping_sub(chunk.base) as usize;
                if let Some(bytes) = chunk.data.get(offset..offset + N) {
                    self.hot = index;
                    return Ok(bytes.try_into().expect("N bytes"));
                }
            }
        }
        self.load_slow(address)
    }

    #[cold]
    fn load_slow<const N: usize>(&self, address: u32) -> Result<[u8; N], Fault> {
        if let Some(fault) = self.pages.classify(address, N, false) {
            return Err(fault);
        }
        let mut out = [0; N];
        for (i, byte) in out.iter_mut().enumerate() {
            let (index, offset) = self.find(address.wrapping_add(i as u32), 1).expect("classified as accessible");
            *byte = self.chunks[index].data[offset];
        }
        Ok(out)
    }

    /// Stores `N` bytes as a guest store instruction does: all or nothing.
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, address: u32, bytes: [u8; N]) -> Result<(), Fault> {
        if let Some(chunk) = self.chunks.get_mut(self.hot) {
            let offset = address.wrapping_sub(chunk.base) as usize;
            if let (true, Some(target)) =
                (chunk.writable && address >= LOWEST_ACCESSIBLE_ADDRESS, chunk.data.get_mut(offset..offset + N))
            {
                target.copy_from_slice(&bytes);
                return Ok(());
            }
        }
        self.store_other(address, bytes)
    }

    /// A store outside the hot chunk (kept out of line, so the fast path stays small).
    #[inline(never)]
    fn store_other<const N: usize>(&mut self, address: u32, bytes: [u8; N]) -> Result<(), Fault> {
        self.materialize();
        if address >= LOWEST_ACCESSIBLE_ADDRESS {
            for (index, chunk) in self.chunks.iter_mut().enumerate() {
                let offset = address.wrapping_sub(chunk.base) as usize;
                if let Some(target) = chunk.data.get_mut(offset..offset + N) {
                    if !chunk.writable {
                        break;
                    }
                    target.copy_from_slice(&bytes);
                    self.hot = index;
                    return Ok(());
                }
            }
        }
        self.store_slow(address, bytes)
    }

    /// Takes the bytes by value: a reference to a local would keep the interpreter's handlers
    /// from tail-calling the next one.
    #[cold]
    fn store_slow<const N: usize>(&mut self, address: u32, bytes: [u8; N]) -> Result<(), Fault> {
        if let Some(fault) = self.pages.classify(address, bytes.len(), true) {
            return Err(fault);
        }
        for (i, &byte) in bytes.iter().enumerate() {
            let (index, offset) = self.find(address.wrapping_add(i as u32), 1).expect("classified as accessible");
            self.chunks[index].data[offset] = byte;
        }
        Ok(())
    }

    /// Reads guest memory for the host (read-only pages are readable).
    pub fn read(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        if let Some(image) = &self.pending {
            return self.read_pending(image, address, out);
        }
        if let Some((index, offset)) = self.find(address, out.len()) {
            if address >= LOWEST_ACCESSIBLE_ADDRESS {
                out.copy_from_slice(&self.chunks[index].data[offset..offset + out.len()]);
                return Ok(());
            }
        }
        self.pages.host_check(address, out.len())?;
        for (i, byte) in out.iter_mut().enumerate() {
            let (index, offset) = self.find(address + i as u32, 1).expect("checked");
            *byte = self.chunks[index].data[offset];
        }
        Ok(())
    }

    /// [`GuestMemory::read`] from memory that is not built yet: the initial data, or zero.
    #[cold]
    fn read_pending(&self, image: &MemoryImage, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.pages.host_check(address, out.len())?;
        out.fill(0);
        let (start, end) = (u64::from(address), u64::from(address) + out.len() as u64);
        for chunk in &self.chunks {
            let init = chunk.init.bytes(image);
            let (from, to) = (start.max(u64::from(chunk.base)), end.min(u64::from(chunk.base) + init.len() as u64));
            if from < to {
                let source = (from - u64::from(chunk.base)) as usize..(to - u64::from(chunk.base)) as usize;
                out[(from - start) as usize..(to - start) as usize].copy_from_slice(&init[source]);
            }
        }
        Ok(())
    }

    /// Writes guest memory for the host. The host may write read-only pages too (it is how
    /// auxiliary data gets in); only inaccessible pages are refused.
    pub fn write(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.materialize();
        if let Some((index, offset)) = self.find(address, data.len()) {
            if address >= LOWEST_ACCESSIBLE_ADDRESS {
                self.chunks[index].data[offset..offset + data.len()].copy_from_slice(data);
                return Ok(());
            }
        }
        self.pages.host_check(address, data.len())?;
        for (i, &byte) in data.iter().enumerate() {
            let (index, offset) = self.find(address + i as u32, 1).expect("checked");
            self.chunks[index].data[offset] = byte;
        }
        Ok(())
    }

    /// Guest memory `[address, address + length)` as one slice, if every byte of it is
    /// writable and it lies in one region (e.g. within the heap).
    pub fn slice_mut(&mut self, address: u32, length: usize) -> Option<&mut [u8]> {
        if length == 0 {
            return Some(&mut []);
        }
        if !self.pages.is_accessible(address, length, true) {
            return None;
        }
        self.materialize();
        let (index, offset) = self.find(address, length)?;
        Some(&mut self.chunks[index].data[offset..offset + length])
    }

    /// Grows the heap by `size` bytes and returns the new heap top, or `None` if the heap
    /// would exceed its maximum (or the program has no heap). Pages up to the new top become
    /// accessible, zero-filled (see [`PageMap::sbrk`]).
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        let chunk = self.chunks.get_mut(self.heap_chunk);
        let built = self.pending.is_none();
        self.pages.sbrk(size, |_, end| {
            // Memory not built yet gets the bytes when it is.
            if let (true, Some(chunk)) = (built, chunk) {
                chunk.data.resize((end - u64::from(chunk.base)) as usize, 0);
            }
            true
        })
    }

    /// How far the heap has grown with `sbrk`.
    pub fn heap_size(&self) -> u32 {
        self.pages.heap_size()
    }

    /// Whether every page of `[address, address + length)` is accessible (and writable, if
    /// `write`).
    pub fn is_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        self.pages.is_accessible(address, length, write)
    }

    /// The accessible regions as `(address, length, writable)`, in address order.
    pub fn regions(&self) -> Vec<(u32, u32, bool)> {
        self.pages.regions()
    }

    /// Total accessible bytes.
    #[cfg(test)]
    pub fn accessible_bytes(&self) -> usize {
        self.pages.accessible_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_memory() -> GuestMemory {
        let mut memory = GuestMemory::empty();
        memory.map(0x20000, 0x1000, true).unwrap();
        memory.map(0x21000, 0x1000, false).unwrap();
        memory
    }

    #[test]
    fn accesses_within_and_across_regions() {
        let mut memory = raw_memory();
        memory.store(0x20ffc, [1, 2, 3, 4]).unwrap();
        assert_eq!(memory.load::<4>(0x20ffc), Ok([1, 2, 3, 4]));
        // A load across the read-write / read-only boundary is fine; a store is not.
        assert_eq!(memory.load::<8>(0x20ffc), Ok([1, 2, 3, 4, 0, 0, 0, 0]));
        assert_eq!(memory.store(0x20ffc, [9; 8]), Err(Fault::PageFault(0x21000)));
        assert_eq!(memory.load::<4>(0x20ffc), Ok([1, 2, 3, 4]), "a failed store writes nothing");
        assert_eq!(memory.load::<2>(0x21fff), Err(Fault::PageFault(0x22000)));
        assert_eq!(memory.load::<1>(0xffff), Err(Fault::Panic));
        assert_eq!(memory.load::<4>(0xffff_fffe), Err(Fault::Panic), "wraps into low memory");
    }

    #[test]
    fn memory_not_built_yet_behaves_like_built_memory() {
        let config = crate::program::MemoryConfig {
            ro_data_size: 0x1800,
            rw_data_size: 0x2000,
            stack_size: 0x1000,
            ..Default::default()
        };
        let map = MemoryMap::new(config).unwrap();
        let image = Arc::new(MemoryImage { map, ro_data: vec![3; 0x1234], rw_data: vec![7; 0x10] });
        let lazy = GuestMemory::from_image(&image);
        assert!(lazy.pending.is_some() && lazy.chunks.iter().all(|chunk| chunk.data.is_empty()));
        let mut built = lazy.clone();
        built.materialize();
        assert_eq!(lazy.regions(), built.regions());
        assert_eq!(lazy.accessible_bytes(), built.accessible_bytes());
        let probes = [
            (map.ro_data_address - 8, 16),
            (map.ro_data_address + 0x1230, 8),
            (map.ro_data_address + 0x1ff8, 16),
            (map.rw_data_address, 0x20),
            (map.rw_data_address + 0x1ffc, 8),
            (map.stack_address_high - 8, 8),
            (map.stack_address_high - 4, 8),
            (0xfff8, 16),
            (0xffff_fff8, 16),
        ];
        for (address, length) in probes {
            let (mut a, mut b) = (vec![0xaa; length], vec![0x55; length]);
            assert_eq!(lazy.read(address, &mut a), built.read(address, &mut b), "{address:x}");
            if built.read(address, &mut b).is_ok() {
                assert_eq!(a, b, "{address:x}");
            }
            for write in [false, true] {
                assert_eq!(lazy.is_accessible(address, length, write), built.is_accessible(address, length, write));
            }
        }
        // The heap grows before the memory is built; building gives the new pages too.
        let mut lazy = lazy;
        assert_eq!(lazy.sbrk(0x3000), built.sbrk(0x3000));
        assert!(lazy.pending.is_some());
        assert_eq!(lazy.regions(), built.regions());
        let top = map.rw_data_address + 0x4ff8;
        assert_eq!(lazy.load::<8>(top), built.load::<8>(top));
        assert!(lazy.pending.is_none());
        assert_eq!(lazy.store::<8>(top, [1; 8]), Ok(()));
    }

    #[test]
    fn heap_grows_page_by_page() {
        let map =
            MemoryMap::new(crate::program::MemoryConfig { rw_data_size: 10, stack_size: 0x1000, ..Default::default() })
                .unwrap();
        let image = Arc::new(MemoryImage { map, ro_data: vec![], rw_data: vec![7; 10] });
        let mut memory = GuestMemory::from_image(&image);
        assert_eq!(memory.load::<1>(map.rw_data_address + 9), Ok([7]));
        assert_eq!(memory.load::<1>(map.rw_data_address + 0x1000), Err(Fault::PageFault(map.rw_data_address + 0x1000)));
        assert_eq!(memory.sbrk(0x1000), Some(map.heap_base + 0x1000));
        assert_eq!(memory.load::<1>(map.rw_data_address + 0x1000), Ok([0]));
        assert_eq!(memory.heap_size(), 0x1000);
        memory.store::<4>(map.stack_address_high - 4, [1, 2, 3, 4]).unwrap();
        memory.store::<1>(map.rw_data_address, [9]).unwrap();
        memory.write(map.ro_data_address, &[5]).ok();
        memory.reset(&image);
        assert_eq!(memory.heap_size(), 0);
        assert_eq!(memory.load::<4>(map.stack_address_high - 4), Ok([0; 4]), "the stack is zeroed");
        assert_eq!(memory.load::<1>(map.rw_data_address), Ok([7]), "data is reloaded");
        assert_eq!(
            memory.load::<1>(map.rw_data_address + 0x1000),
            Err(Fault::PageFault(map.rw_data_address + 0x1000)),
            "the heap shrinks back"
        );
    }
}
