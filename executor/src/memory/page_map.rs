//! The memory model both backends share: which pages are accessible, how the heap grows, and
//! how an access is judged.
//!
//! [`PageMap`] is pure bookkeeping. The interpreter's [`GuestMemory`](super::GuestMemory)
//! gives its regions bytes in vectors; the compiled backend's sandbox gives them host pages
//! with the same protection. Neither decides on its own whether an access is legal, how a bad
//! one is classified, where a container program's regions go or how far `sbrk` may grow the
//! heap: they ask the page map, so the two backends fault alike by construction. That includes
//! the page size: a container program's page map takes it from its [`MemoryMap`] (regions,
//! heap growth and fault addresses are in pages of that size, 4 KiB to 64 KiB), a raw
//! program's is 4 KiB. The storage under it does not care: the interpreter's vectors hold any
//! length, and the sandbox protects host pages of 4 KiB, which divide every page size.

use super::{Fault, MemoryAccessError, MemoryAccessReason, MemoryImage};
use crate::program::memory_map::{MemoryMap, LOWEST_ACCESSIBLE_ADDRESS};
use crate::program::PageSize;

/// Bytes of guest address space.
const ADDRESS_SPACE: u64 = 1 << 32;

/// Whether some byte of `[address, address + length)`, taken modulo 2^32, is below 64 KiB.
/// A guest access that wraps past `0xffffffff` continues at address 0, so it counts too.
pub(crate) fn touches_low_memory(address: u32, length: usize) -> bool {
    length > 0 && (address < LOWEST_ACCESSIBLE_ADDRESS || u64::from(address) + length as u64 > ADDRESS_SPACE)
}

/// One accessible range of guest memory: `[start, end)`, page-aligned.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) struct Region {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Whether guest stores may write it (guest loads and the host may always read it).
    pub writable: bool,
}

/// Where a region's initial bytes come from (the rest of it is zero).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Init {
    /// Nothing: the region starts zero.
    Zero,
    /// The program's read-only data.
    RoData,
    /// The program's read-write data.
    RwData,
}

impl Init {
    /// The initial bytes in `image`.
    pub fn bytes(self, image: &MemoryImage) -> &[u8] {
        match self {
            Init::Zero => &[],
            Init::RoData => &image.ro_data,
            Init::RwData => &image.rw_data,
        }
    }
}

/// One of the four regions of a container program's memory, before the heap grows.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) struct Area {
    /// Where it starts.
    pub address: u32,
    /// Its size in bytes (a multiple of the page size; may be zero).
    pub size: u32,
    /// Whether guest stores may write it.
    pub writable: bool,
    /// What it starts with.
    pub init: Init,
}

impl Area {
    /// The area as `[start, end)`.
    pub fn range(&self) -> (u64, u64) {
        (u64::from(self.address), u64::from(self.address) + u64::from(self.size))
    }
}

/// A container program's regions, in the order programs touch them most: the stack, the
/// read-write data (where the heap grows), the read-only data and the auxiliary data.
pub(crate) fn container_areas(map: &MemoryMap) -> [Area; 4] {
    let area = |address, size, writable, init| Area { address, size, writable, init };
    [
        area(map.stack_address_low, map.stack_size(), true, Init::Zero),
        area(map.rw_data_address, map.rw_data_size, true, Init::RwData),
        area(map.ro_data_address, map.ro_data_size, false, Init::RoData),
        area(map.aux_data_address, map.aux_data_size, false, Init::Zero),
    ]
}

/// Heap bookkeeping of a container program: the heap starts in the read-write data and grows
/// its region upwards, page by page.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
struct Heap {
    /// The first heap byte (the end of the read-write data, unaligned).
    base: u32,
    /// The current top, as `sbrk` reports it.
    top: u32,
    /// The highest top `sbrk` may reach.
    max_top: u64,
    /// The start of the read-write region the heap extends.
    region_start: u64,
    /// That region's end before the heap grew.
    initial_end: u64,
}

/// The accessible pages of one instance's guest memory, and its heap.
#[derive(PartialEq, Eq, Debug, Default)]
pub(crate) struct PageMap {
    /// Sorted by address, non-overlapping, neighbours with equal protection merged.
    regions: Vec<Region>,
    /// Present for container programs, whose layout is fixed apart from the heap.
    heap: Option<Heap>,
    /// The page size: regions are whole pages, faults report page starts.
    page_size: PageSize,
    /// `[start, end)` of the writable region the heap grows (container programs; empty
    /// otherwise), kept in step with `regions` and `heap` by `set` and `container`, the only
    /// places that change them. Nearly every host access is to the heap (a Substrate
    /// runtime's allocator reaches its headers several times per host call): one inside this
    /// range is allowed without searching the regions, the answer the search would give.
    writable_heap: (u64, u64),
}

impl Clone for PageMap {
    fn clone(&self) -> Self {
        PageMap {
            regions: self.regions.clone(),
            heap: self.heap,
            page_size: self.page_size,
            writable_heap: self.writable_heap,
        }
    }

    /// Reuses `self`'s region buffer (a warm sandbox takes its layout over on every instance).
    fn clone_from(&mut self, source: &Self) {
        self.regions.clone_from(&source.regions);
        self.heap = source.heap;
        self.page_size = source.page_size;
        self.writable_heap = source.writable_heap;
    }
}

impl PageMap {
    /// No page accessible (raw programs map their own, in 4 KiB pages).
    pub fn empty() -> PageMap {
        PageMap::default()
    }

    /// A container program's memory as it starts: the regions of [`container_areas`] and an
    /// empty heap, in pages of the map's page size.
    pub fn container(map: &MemoryMap) -> PageMap {
        let mut pages =
            PageMap { regions: Vec::with_capacity(4), heap: None, page_size: map.page_size, writable_heap: (0, 0) };
        for area in container_areas(map) {
            let (start, end) = area.range();
            pages.set(start, end, Some(area.writable));
        }
        let region_start = u64::from(map.rw_data_address);
        pages.heap = Some(Heap {
            base: map.heap_base,
            top: map.heap_base,
            max_top: u64::from(map.heap_base) + u64::from(map.max_heap_size),
            region_start,
            initial_end: region_start + u64::from(map.rw_data_size),
        });
        pages.refresh_writable_heap();
        pages
    }

    /// Recomputes `writable_heap` from the regions and the heap.
    fn refresh_writable_heap(&mut self) {
        let region = self.heap.and_then(|heap| self.region_of(heap.region_start).filter(|region| region.writable));
        self.writable_heap = region.map_or((0, 0), |region| (region.start, region.end));
    }

    /// Checks a raw program's request to map `[address, address + length)` and returns it as
    /// `[start, end)`; the caller sets up the storage, then records it with [`PageMap::set`].
    pub fn check_map(&self, address: u32, length: u32) -> Result<(u64, u64), &'static str> {
        if self.heap.is_some() {
            return Err("a container program's memory layout is fixed; only raw programs map pages");
        }
        if !self.page_size.is_aligned(address.into()) || !self.page_size.is_aligned(length.into()) {
            return Err("the address and length must be multiples of the page size");
        }
        let end = u64::from(address) + u64::from(length);
        if end > ADDRESS_SPACE {
            return Err("the range does not fit in the 32-bit address space");
        }
        Ok((u64::from(address), end))
    }

    /// Records that pages `[start, end)` (page-aligned) became inaccessible (`None`) or
    /// accessible with the given writability.
    pub fn set(&mut self, start: u64, end: u64, access: Option<bool>) {
        if start >= end {
            return;
        }
        debug_assert!(self.page_size.is_aligned(start) && self.page_size.is_aligned(end) && end <= ADDRESS_SPACE);
        let mut regions = Vec::with_capacity(self.regions.len() + 2);
        for region in &self.regions {
            if region.end <= start || region.start >= end {
                regions.push(*region);
                continue;
            }
            if region.start < start {
                regions.push(Region { start: region.start, end: start, writable: region.writable });
            }
            if region.end > end {
                regions.push(Region { start: end, end: region.end, writable: region.writable });
            }
        }
        if let Some(writable) = access {
            regions.push(Region { start, end, writable });
        }
        regions.sort_by_key(|region| region.start);
        self.regions.clear();
        for region in regions {
            match self.regions.last_mut() {
                Some(last) if last.end == region.start && last.writable == region.writable => last.end = region.end,
                _ => self.regions.push(region),
            }
        }
        self.refresh_writable_heap();
    }

    /// The accessible regions, in address order.
    pub fn region_list(&self) -> &[Region] {
        &self.regions
    }

    /// The region holding byte `address`, if it is accessible.
    #[inline]
    pub fn region_of(&self, address: u64) -> Option<&Region> {
        let index = self.regions.partition_point(|region| region.end <= address);
        self.regions.get(index).filter(|region| region.start <= address)
    }

    /// The first byte of `[address, address + length)` (no wrap) that is not accessible (or
    /// not writable, if `write`).
    #[inline]
    fn first_inaccessible(&self, address: u64, length: u64, write: bool) -> Option<u64> {
        let end = address + length;
        let (heap_start, heap_end) = self.writable_heap;
        if address >= heap_start && end <= heap_end {
            return None;
        }
        let mut at = address;
        while at < end {
            match self.region_of(at) {
                Some(region) if region.writable || !write => at = region.end,
                _ => return Some(at),
            }
        }
        None
    }

    /// How a guest access of `length` bytes at `address` (a store, if `write`) ends: `None` if
    /// it is allowed; a panic if any byte (modulo 2^32) is below 64 KiB; else a page fault at
    /// the page of the first byte that is not accessible (or not writable, for a store).
    #[inline]
    pub fn classify(&self, address: u32, length: usize, write: bool) -> Option<Fault> {
        if touches_low_memory(address, length) {
            return Some(Fault::Panic);
        }
        // Not below 64 KiB, so the range does not wrap either.
        self.first_inaccessible(address.into(), length as u64, write)
            .map(|byte| Fault::PageFault(self.page_size.page_start(byte as u32)))
    }

    /// Checks a host access of `length` bytes at `address`. The host may read and write
    /// read-only pages (it is how auxiliary data gets in); it may not wrap around the address
    /// space, touch the lowest 64 KiB or reach an inaccessible page.
    #[inline]
    pub fn host_check(&self, address: u32, length: usize) -> Result<(), MemoryAccessError> {
        let error = |reason| MemoryAccessError { address, length, reason };
        if length == 0 {
            return Ok(());
        }
        if u64::from(address) + length as u64 > ADDRESS_SPACE {
            return Err(error(MemoryAccessReason::Wraps));
        }
        if touches_low_memory(address, length) {
            return Err(error(MemoryAccessReason::BelowMinimum));
        }
        match self.first_inaccessible(address.into(), length as u64, false) {
            Some(byte) => Err(error(MemoryAccessReason::Inaccessible(self.page_size.page_start(byte as u32)))),
            None => Ok(()),
        }
    }

    /// Whether every byte of `[address, address + length)` is accessible to the guest (and
    /// writable, if `write`), without wrapping.
    #[inline]
    pub fn is_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        length == 0
            || u64::from(address) + length as u64 <= ADDRESS_SPACE && self.classify(address, length, write).is_none()
    }

    /// The end of the region the heap grows (its start, while that region is empty).
    fn heap_end(&self, heap: &Heap) -> u64 {
        self.region_of(heap.region_start).map_or(heap.region_start, |region| region.end)
    }

    /// Grows the heap by `size` bytes and returns the new top, or `None` if that would pass
    /// the maximum heap size (or the program has no heap). Pages up to the new top become
    /// accessible and writable: `grow(start, end)` is asked to give `[start, end)` storage
    /// first, and may refuse (`false`), which fails the call and changes nothing.
    pub fn sbrk(&mut self, size: u32, grow: impl FnOnce(u64, u64) -> bool) -> Option<u32> {
        let heap = self.heap?;
        let new_top = u64::from(heap.top) + u64::from(size);
        if new_top > heap.max_top {
            return None;
        }
        let (end, needed) = (self.heap_end(&heap), self.page_size.align_up(new_top));
        if needed > end {
            if !grow(end, needed) {
                return None;
            }
            self.set(end, needed, Some(true));
        }
        let heap = self.heap.as_mut()?;
        heap.top = new_top as u32;
        Some(heap.top)
    }

    /// The pages the heap has grown into beyond the read-write data, if any.
    pub fn heap_growth(&self) -> Option<(u64, u64)> {
        let heap = self.heap.as_ref()?;
        let end = self.heap_end(heap);
        (end > heap.initial_end).then_some((heap.initial_end, end))
    }

    /// Shrinks the heap back to empty: the pages it had grown into become inaccessible.
    pub fn shrink_heap(&mut self) {
        if let Some((start, end)) = self.heap_growth() {
            self.set(start, end, None);
        }
        if let Some(heap) = &mut self.heap {
            heap.top = heap.base;
        }
    }

    /// How far the heap has grown with `sbrk`.
    pub fn heap_size(&self) -> u32 {
        self.heap.map_or(0, |heap| heap.top - heap.base)
    }

    /// The accessible regions as `(address, length, writable)`, in address order.
    pub fn regions(&self) -> Vec<(u32, u32, bool)> {
        self.regions
            .iter()
            .map(|region| (region.start as u32, (region.end - region.start) as u32, region.writable))
            .collect()
    }

    /// Total accessible bytes.
    #[cfg(test)]
    pub fn accessible_bytes(&self) -> usize {
        self.regions.iter().map(|region| (region.end - region.start) as usize).sum()
    }

    /// The length of the region starting at `address`, or 0 if none starts there.
    pub fn length_at(&self, address: u32) -> usize {
        self.region_of(address.into())
            .filter(|region| region.start == u64::from(address))
            .map_or(0, |region| (region.end - region.start) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_and_host_checks() {
        let mut pages = PageMap::empty();
        pages.set(0x20000, 0x21000, Some(true));
        pages.set(0x21000, 0x22000, Some(false));
        assert_eq!(pages.classify(0x20ffc, 8, false), None, "a load may span regions");
        assert_eq!(pages.classify(0x20ffc, 8, true), Some(Fault::PageFault(0x21000)));
        assert_eq!(pages.classify(0x21fff, 2, false), Some(Fault::PageFault(0x22000)));
        assert_eq!(pages.classify(0xffff, 1, false), Some(Fault::Panic));
        assert_eq!(pages.classify(0xffff_fffe, 4, false), Some(Fault::Panic), "wraps into low memory");
        assert_eq!(pages.classify(0x30000, 0, true), None);
        assert_eq!(pages.host_check(0x21000, 0x1000), Ok(()), "the host may access read-only pages");
        let reason = |address, length| pages.host_check(address, length).unwrap_err().reason;
        assert_eq!(reason(0xffff_fffe, 4), MemoryAccessReason::Wraps);
        assert_eq!(reason(0xfff0, 0x20), MemoryAccessReason::BelowMinimum);
        assert_eq!(reason(0x21ff0, 0x20), MemoryAccessReason::Inaccessible(0x22000));
        assert!(pages.is_accessible(0x20000, 0x2000, false) && !pages.is_accessible(0x20000, 0x2000, true));
        assert!(!pages.is_accessible(0xffff_f000, 0x2000, false));
    }

    #[test]
    fn the_heap_fast_path_answers_as_the_search_does() {
        let map = MemoryMap::new(crate::program::MemoryConfig {
            ro_data_size: 0x1800,
            rw_data_size: 0x2010,
            stack_size: 0x3000,
            ..Default::default()
        })
        .unwrap();
        let mut pages = PageMap::container(&map);
        let check = |pages: &PageMap| {
            assert!(pages.writable_heap.1 > pages.writable_heap.0, "the heap's region is known");
            let mut searched = pages.clone();
            searched.writable_heap = (0, 0);
            let heap = u64::from(map.rw_data_address);
            let around =
                [heap - 0x1001, heap - 8, heap, heap + 0x1ff8, pages.writable_heap.1 - 8, pages.writable_heap.1];
            for address in around {
                for length in [0, 1, 8, 9, 0x1000, 0x3000] {
                    for write in [false, true] {
                        let address = address as u32;
                        assert_eq!(pages.classify(address, length, write), searched.classify(address, length, write));
                        assert_eq!(
                            pages.is_accessible(address, length, write),
                            searched.is_accessible(address, length, write)
                        );
                        assert_eq!(pages.host_check(address, length), searched.host_check(address, length));
                    }
                }
            }
        };
        check(&pages);
        pages.sbrk(0x5000, |_, _| true).unwrap();
        check(&pages);
        pages.shrink_heap();
        check(&pages);
        assert_eq!(pages, PageMap::container(&map));
    }

    #[test]
    fn set_splits_and_merges_regions() {
        let mut pages = PageMap::empty();
        pages.set(0x20000, 0x24000, Some(true));
        pages.set(0x21000, 0x22000, Some(false));
        assert_eq!(pages.regions(), vec![(0x20000, 0x1000, true), (0x21000, 0x1000, false), (0x22000, 0x2000, true)]);
        pages.set(0x21000, 0x22000, Some(true));
        assert_eq!(pages.regions(), vec![(0x20000, 0x4000, true)]);
        pages.set(0x20000, 0x21000, None);
        assert_eq!(pages.regions(), vec![(0x21000, 0x3000, true)]);
        assert_eq!(pages.accessible_bytes(), 0x3000);
        assert_eq!(pages.check_map(0x20001, 0x1000), Err("the address and length must be multiples of the page size"));
        assert!(pages.check_map(0xffff_f000, 0x2000).is_err());
    }

    #[test]
    fn the_heap_grows_page_by_page_up_to_its_maximum() {
        let map =
            MemoryMap::new(crate::program::MemoryConfig { rw_data_size: 10, stack_size: 0x1000, ..Default::default() })
                .unwrap();
        let mut pages = PageMap::container(&map);
        assert!(pages.check_map(0x20000, 0x1000).is_err(), "the layout is fixed");
        let rw_end = u64::from(map.rw_data_address) + 0x1000;
        assert_eq!(pages.sbrk(0x1000 - 10, |_, _| panic!("no new page is needed")), Some(map.rw_data_address + 0x1000));
        let mut asked = None;
        assert_eq!(
            pages.sbrk(1, |start, end| {
                asked = Some((start, end));
                true
            }),
            Some(map.rw_data_address + 0x1001)
        );
        assert_eq!(asked, Some((rw_end, rw_end + 0x1000)));
        assert_eq!(pages.sbrk(0x1000, |_, _| false), None, "storage refused");
        assert_eq!(pages.heap_size(), 0x1000 - 10 + 1);
        assert_eq!(pages.sbrk(map.max_heap_size, |_, _| true), None, "past the maximum");
        assert_eq!(pages.heap_growth(), Some((rw_end, rw_end + 0x1000)));
        pages.shrink_heap();
        assert_eq!((pages.heap_size(), pages.heap_growth()), (0, None));
        assert_eq!(pages, PageMap::container(&map));
    }
}
