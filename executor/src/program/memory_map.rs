//! Where a container program's memory regions live in the 32-bit guest address space.
//!
//! The placement is PolkaVM's, to the byte, because linked programs bake these addresses into
//! their code: each region is reserved in 64 KiB units with a 64 KiB guard gap around it, and is
//! accessible in whole pages of the map's [`PageSize`] (4 KiB by default; PolkaVM also runs
//! programs with pages of 8 to 64 KiB, and its Doom example with 16 KiB). Only the accessible
//! sizes depend on the page size: every address below is the same for all of them.
//!
//! ```text
//! 0x0000_0000  inaccessible (the lowest 64 KiB always panic)
//! 0x0001_0000  read-only data
//!              guard
//!  rw_address  read-write data, then the heap (grows upwards through `sbrk`)
//!              ...
//!   stack low  stack (grows downwards from stack high)
//!  stack high  guard
//! aux_address  auxiliary data
//! 0xffff_0000  guard up to the end of the address space
//! ```

/// The default page size, 4 KiB: the smallest [`PageSize`], and the only one raw programs
/// (the Gray Paper's) use.
pub const PAGE_SIZE: u32 = 0x1000;

/// The granularity in which a container program's memory is accessible: a power of two from
/// 4 KiB to 64 KiB, as PolkaVM 0.37 allows (its `ModuleConfig::set_page_size`).
///
/// A region's accessible size is its declared size rounded up to whole pages (so a larger page
/// gives a program more stack than it declares), the heap grows page by page, and a page
/// fault reports the start of the page (of this size) holding the first inaccessible byte.
///
/// ```
/// use pvm_executor::program::PageSize;
///
/// let page = PageSize::new(16 * 1024).unwrap();
/// assert_eq!(page.get(), 0x4000);
/// assert_eq!(PageSize::default(), PageSize::MIN);
/// assert!(PageSize::new(0x3000).is_err() && PageSize::new(0x20000).is_err());
/// ```
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct PageSize(u32);

impl PageSize {
    /// 4 KiB, the default.
    pub const MIN: PageSize = PageSize(PAGE_SIZE);
    /// 64 KiB (the unit regions are reserved in).
    pub const MAX: PageSize = PageSize(REGION_ALIGNMENT);

    /// `bytes` as a page size, or why it is not one (the reasons PolkaVM gives).
    pub const fn new(bytes: u32) -> Result<PageSize, &'static str> {
        if bytes < PageSize::MIN.0 {
            Err("invalid page size: page size is too small (the minimum is 4 KiB)")
        } else if bytes > PageSize::MAX.0 {
            Err("invalid page size: page size is too big (the maximum is 64 KiB)")
        } else if !bytes.is_power_of_two() {
            Err("invalid page size: page size is not a power of two")
        } else {
            Ok(PageSize(bytes))
        }
    }

    /// The size in bytes.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `address` rounded down to the start of its page.
    pub const fn page_start(self, address: u32) -> u32 {
        address & !(self.0 - 1)
    }

    /// Whether `value` is a multiple of the page size.
    pub const fn is_aligned(self, value: u64) -> bool {
        value % self.0 as u64 == 0
    }

    /// `value` rounded up to whole pages.
    pub const fn align_up(self, value: u64) -> u64 {
        align_up(value, self.0)
    }

    /// `value` rounded down to whole pages.
    pub const fn align_down(self, value: u64) -> u64 {
        value - value % self.0 as u64
    }
}

impl Default for PageSize {
    /// 4 KiB.
    fn default() -> Self {
        PageSize::MIN
    }
}

impl std::fmt::Display for PageSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} KiB", self.0 / 1024)
    }
}

/// The unit in which regions are reserved and separated (PolkaVM's maximum page size).
pub const REGION_ALIGNMENT: u32 = 0x10000;

/// Addresses below this always panic when accessed.
pub const LOWEST_ACCESSIBLE_ADDRESS: u32 = 0x10000;

const ADDRESS_SPACE_SIZE: u64 = 1 << 32;
const ADDRESS_SPACE_TOP: u64 = ADDRESS_SPACE_SIZE - REGION_ALIGNMENT as u64;

/// Rounds `value` up to a multiple of `alignment` (a power of two).
pub const fn align_up(value: u64, alignment: u32) -> u64 {
    let mask = alignment as u64 - 1;
    (value + mask) & !mask
}

/// The memory sizes a program declares (and the host's auxiliary data size).
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct MemoryConfig {
    /// Size of the read-only data region.
    pub ro_data_size: u32,
    /// Size of the read-write data region (the heap starts right after it).
    pub rw_data_size: u32,
    /// Size of the stack.
    pub stack_size: u32,
    /// Size of the auxiliary data region, which the host fills and the guest reads.
    pub aux_data_size: u32,
}

/// The placed regions of a program's memory, for one page size.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct MemoryMap {
    /// The page size the accessible sizes are rounded to (and the heap grows by).
    pub page_size: PageSize,
    /// Start of read-only data (always 0x10000).
    pub ro_data_address: u32,
    /// Accessible size of read-only data (whole pages).
    pub ro_data_size: u32,
    /// Start of read-write data.
    pub rw_data_address: u32,
    /// Accessible size of read-write data before any `sbrk` (whole pages).
    pub rw_data_size: u32,
    /// Where the heap starts: right after the declared (unrounded) read-write data.
    pub heap_base: u32,
    /// How far the heap may grow from `heap_base`.
    pub max_heap_size: u32,
    /// Lowest stack address.
    pub stack_address_low: u32,
    /// One past the highest stack address; the initial stack pointer.
    pub stack_address_high: u32,
    /// Start of auxiliary data.
    pub aux_data_address: u32,
    /// Accessible size of auxiliary data (whole pages).
    pub aux_data_size: u32,
}

impl MemoryMap {
    /// Places the regions of `config` with the default 4 KiB pages, or says why they do not
    /// fit in the address space.
    pub fn new(config: MemoryConfig) -> Result<MemoryMap, &'static str> {
        MemoryMap::with_page_size(config, PageSize::default())
    }

    /// Places the regions of `config` with pages of `page_size`, or says why they do not fit
    /// in the address space (whether they fit does not depend on the page size).
    pub fn with_page_size(config: MemoryConfig, page_size: PageSize) -> Result<MemoryMap, &'static str> {
        let reserve = |size: u32| align_up(u64::from(size), REGION_ALIGNMENT);
        let pages = |size: u32| page_size.align_up(u64::from(size));

        let mut low = u64::from(LOWEST_ACCESSIBLE_ADDRESS);
        let ro_data_address = low;
        low += reserve(config.ro_data_size) + u64::from(REGION_ALIGNMENT);
        let rw_data_address = low;
        let heap_base = low + u64::from(config.rw_data_size);
        low += reserve(config.rw_data_size);
        let heap_slack = low - heap_base;
        low += u64::from(REGION_ALIGNMENT);

        let mut high = ADDRESS_SPACE_TOP as i64;
        high -= reserve(config.aux_data_size) as i64;
        let aux_data_address = high;
        high -= i64::from(REGION_ALIGNMENT);
        let stack_address_high = high;
        high -= reserve(config.stack_size) as i64;

        if low as i64 > high {
            return Err("the declared memory does not fit in the 32-bit address space");
        }
        Ok(MemoryMap {
            page_size,
            ro_data_address: ro_data_address as u32,
            ro_data_size: pages(config.ro_data_size) as u32,
            rw_data_address: rw_data_address as u32,
            rw_data_size: pages(config.rw_data_size) as u32,
            heap_base: heap_base as u32,
            max_heap_size: (high as u64 - low + heap_slack) as u32,
            stack_address_low: (stack_address_high as u64 - pages(config.stack_size)) as u32,
            stack_address_high: stack_address_high as u32,
            aux_data_address: aux_data_address as u32,
            aux_data_size: pages(config.aux_data_size) as u32,
        })
    }

    /// The initial stack pointer.
    pub fn default_sp(&self) -> u32 {
        self.stack_address_high
    }

    /// The stack's size (whole pages).
    pub fn stack_size(&self) -> u32 {
        self.stack_address_high - self.stack_address_low
    }

    /// The bytes accessible before the heap grows: read-only data, read-write data, stack and
    /// auxiliary data, each in whole pages.
    ///
    /// ```
    /// use pvm_executor::program::{MemoryConfig, MemoryMap};
    ///
    /// let map = MemoryMap::new(MemoryConfig { ro_data_size: 1, rw_data_size: 0x1001, stack_size: 0x2000, aux_data_size: 0 }).unwrap();
    /// assert_eq!(map.static_size(), 0x1000 + 0x2000 + 0x2000);
    /// ```
    pub fn static_size(&self) -> u64 {
        [self.ro_data_size, self.rw_data_size, self.stack_size(), self.aux_data_size].into_iter().map(u64::from).sum()
    }

    /// This map with the heap bounded so that no more than `limit` bytes are ever accessible
    /// (`limit` rounded down to whole pages), or `None` if [`MemoryMap::static_size`] alone
    /// passes it. The heap then stops growing (`sbrk` fails) where the next page would pass
    /// the limit; nothing else moves.
    ///
    /// ```
    /// use pvm_executor::program::{MemoryConfig, MemoryMap};
    ///
    /// let map = MemoryMap::new(MemoryConfig { rw_data_size: 0x800, stack_size: 0x1000, ..Default::default() }).unwrap();
    /// let limited = map.with_memory_limit(0x5000).unwrap();
    /// // 8 KiB of read-write data and stack; 12 KiB of heap pages beyond the read-write page.
    /// assert_eq!(limited.heap_base + limited.max_heap_size, limited.rw_data_address + 0x1000 + 0x3000);
    /// assert_eq!(map.with_memory_limit(0x1fff), None);
    /// ```
    pub fn with_memory_limit(&self, limit: u64) -> Option<MemoryMap> {
        let room = self.page_size.align_down(limit).checked_sub(self.static_size())?;
        // The heap grows the read-write region page by page from its end: a top at most
        // `room` past that end never maps more than `room` bytes of new pages.
        let rw_end = u64::from(self.rw_data_address) + u64::from(self.rw_data_size);
        let max_top = u64::from(self.heap_base) + u64::from(self.max_heap_size);
        let bounded_top = max_top.min(rw_end + room);
        Some(MemoryMap { max_heap_size: (bounded_top - u64::from(self.heap_base)) as u32, ..*self })
    }

    /// Whether a page fault at `address` is the stack overflowing: an access in the unmapped
    /// 64 KiB just below the stack, where a guest that outgrows its stack lands first (the heap
    /// would have to grow through nearly all of the address space to get there).
    pub fn stack_overflow(&self, address: u32) -> Option<StackOverflow> {
        let window_start = self.stack_address_low.saturating_sub(REGION_ALIGNMENT);
        (window_start..self.stack_address_low).contains(&address).then_some(StackOverflow {
            address,
            stack_address_low: self.stack_address_low,
            stack_address_high: self.stack_address_high,
        })
    }
}

/// A page fault just below the stack: the guest needs a larger stack than its blob declares.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct StackOverflow {
    /// The faulting address (the start of its page).
    pub address: u32,
    /// Lowest stack address.
    pub stack_address_low: u32,
    /// One past the highest stack address.
    pub stack_address_high: u32,
}

impl StackOverflow {
    /// The declared stack size (whole pages).
    pub fn stack_size(&self) -> u32 {
        self.stack_address_high - self.stack_address_low
    }
}

impl std::fmt::Display for StackOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stack overflow: page 0x{:08x} is {} bytes below the {} KiB stack (0x{:08x}..0x{:08x})",
            self.address,
            self.stack_address_low - self.address,
            self.stack_size() / 1024,
            self.stack_address_low,
            self.stack_address_high
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_polkavm_placement() {
        // The same placement PolkaVM computes for one byte of each region with 4 KiB pages.
        let map =
            MemoryMap::new(MemoryConfig { ro_data_size: 1, rw_data_size: 1, stack_size: 1, aux_data_size: 0 }).unwrap();
        assert_eq!(map.ro_data_address, 0x10000);
        assert_eq!(map.ro_data_size, 0x1000);
        assert_eq!(map.rw_data_address, 0x30000);
        assert_eq!(map.rw_data_size, 0x1000);
        assert_eq!(map.heap_base, 0x30001);
        assert_eq!(map.stack_address_high, 0xfffe_0000);
        assert_eq!(map.stack_address_low, 0xfffd_f000);
        assert_eq!(map.aux_data_address, 0xffff_0000);
        assert_eq!(
            u64::from(map.max_heap_size),
            (1u64 << 32) - 4 * u64::from(REGION_ALIGNMENT) - u64::from(map.heap_base)
        );
    }

    #[test]
    fn larger_pages_round_sizes_up_and_move_no_address() {
        // PolkaVM's placement of one byte of each region with 16 KiB pages.
        let config = MemoryConfig { ro_data_size: 1, rw_data_size: 1, stack_size: 1, aux_data_size: 1 };
        let page = PageSize::new(0x4000).unwrap();
        let map = MemoryMap::with_page_size(config, page).unwrap();
        assert_eq!(map.page_size, page);
        assert_eq!((map.ro_data_address, map.ro_data_size), (0x10000, 0x4000));
        assert_eq!((map.rw_data_address, map.rw_data_size, map.heap_base), (0x30000, 0x4000, 0x30001));
        assert_eq!((map.stack_address_low, map.stack_address_high), (0xfffc_c000, 0xfffd_0000));
        assert_eq!((map.aux_data_address, map.aux_data_size), (0xfffe_0000, 0x4000));
        // Only the accessible sizes differ from the 4 KiB map; a 64 KiB page fills each
        // region's reservation.
        let small = MemoryMap::new(config).unwrap();
        assert_eq!(
            MemoryMap {
                page_size: PageSize::MIN,
                ro_data_size: 0x1000,
                rw_data_size: 0x1000,
                aux_data_size: 0x1000,
                ..map
            },
            MemoryMap { stack_address_low: 0xfffc_c000, ..small }
        );
        let large = MemoryMap::with_page_size(config, PageSize::MAX).unwrap();
        assert_eq!((large.ro_data_size, large.stack_size()), (0x10000, 0x10000));
        // An 8 KiB stack (what `pvm link` declares by default) gets 16 KiB with 16 KiB pages.
        let stack = MemoryConfig { stack_size: 0x2000, ..Default::default() };
        assert_eq!(MemoryMap::with_page_size(stack, page).unwrap().stack_size(), 0x4000);
    }

    #[test]
    fn page_sizes_are_powers_of_two_from_4_to_64_kib() {
        let valid: Vec<u32> = (0..=17).map(|shift| 1 << shift).filter(|&bytes| PageSize::new(bytes).is_ok()).collect();
        assert_eq!(valid, [0x1000, 0x2000, 0x4000, 0x8000, 0x10000]);
        assert!(PageSize::new(0x5000).unwrap_err().contains("power of two"));
        assert!(PageSize::new(0).unwrap_err().contains("too small"));
        let page = PageSize::new(0x4000).unwrap();
        assert_eq!((page.page_start(0x1_7fff), page.align_up(0x1_4001)), (0x1_4000, 0x1_8000));
        assert_eq!(page.to_string(), "16 KiB");
    }

    #[test]
    fn classifies_faults_just_below_the_stack_as_overflow() {
        let map = MemoryMap::new(MemoryConfig { stack_size: 8192, ..Default::default() }).unwrap();
        let low = map.stack_address_low;
        let overflow = map.stack_overflow(low - PAGE_SIZE).expect("the page below the stack");
        assert_eq!(overflow.stack_size(), 8192);
        assert!(overflow.to_string().starts_with("stack overflow: "), "{overflow}");
        assert!(overflow.to_string().contains("4096 bytes below the 8 KiB stack"), "{overflow}");
        assert!(map.stack_overflow(low - REGION_ALIGNMENT).is_some());
        assert!(map.stack_overflow(low - REGION_ALIGNMENT - PAGE_SIZE).is_none(), "too far below");
        assert!(map.stack_overflow(low).is_none(), "inside the stack");
        assert!(map.stack_overflow(map.stack_address_high).is_none(), "the guard above");
        assert!(map.stack_overflow(0).is_none());
    }

    #[test]
    fn rejects_memory_that_does_not_fit() {
        let max = ((1u64 << 32) - 5 * u64::from(REGION_ALIGNMENT)) as u32;
        assert!(MemoryMap::new(MemoryConfig { ro_data_size: max, ..Default::default() }).is_ok());
        assert!(MemoryMap::new(MemoryConfig { ro_data_size: max, stack_size: 1, ..Default::default() }).is_err());
    }
}
