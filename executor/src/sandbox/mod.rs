//! The in-process sandbox the compiled backend runs guest code in (and, through [`process`],
//! the memory the out-of-process sandbox shares with its workers).
//!
//! Each instance owns one reservation of address space:
//!
//! ```text
//! start                      start + 4 KiB = base                 base + 4 GiB       + 64 KiB
//! | context page (rw) |  guest memory: 4 GiB, page by page as mapped |  guard (none) |
//! ```
//!
//! * The **context page** holds the [`VmCtx`] (guest registers while the host owns them, gas,
//!   exit information) right below `base`. While guest code runs, the `gs` segment base is
//!   `base`, so JIT code reaches guest memory and the context alike `gs`-relative, the context
//!   at small negative offsets; the entry and exit trampolines reach it through `r15` = `base`
//!   before `gs` is set and after it is restored (a host call's exit leaves `gs` at `base` for
//!   the resumption; see the compiler's module head). In between, `r15` is the gas counter,
//!   written back to [`VmCtx::gas`] on every exit (see the compiler's module head).
//! * **Guest memory**: guest address `a` is host address `base + a`. Every page starts
//!   inaccessible (`PROT_NONE`); mapped pages are `PROT_READ` (read-only) or
//!   `PROT_READ | PROT_WRITE`, mirroring the memory map exactly. The lowest 64 KiB are never
//!   mapped.
//! * The **guard** after the 4 GiB: a guest access is a 32-bit address plus at most 7 bytes, so
//!   no access can leave the reservation; one that runs past `0xffffffff` hits the guard.
//!
//! Address-space cost per instance: 4 GiB + 68 KiB of *reserved* (not committed) address
//! space, `MAP_NORESERVE`. Memory actually used is the pages the guest and host touch plus one
//! context page. With the 128 TiB user address space of x86-64 Linux that allows roughly
//! 30,000 live instances per process. Freed reservations go to a small pool of the engine's
//! (`SandboxPools`) so that creating an instance usually costs no `mmap` at all.
//!
//! A container program's sandbox is also kept *warm* when it is dropped or reset: its pages
//! keep their protection, writable pages are zeroed in place (small regions by `memset`,
//! large ones by `madvise`), and the next instance of a program with the same memory map and
//! read-only data takes it over and only copies the read-write data in. A node that runs a
//! contract call on a fresh instance each time then pays no `mprotect` and, for small
//! memories, no page faults. Resident memory held by an engine's warm pool is bounded by
//! `PoolLimits::warm_sandboxes` sandboxes of at most `MEMSET_LIMIT` bytes per writable region.
//!
//! A guest access to an inaccessible page raises `SIGSEGV`; the handler in [`signals`]
//! recognises that the fault came from JIT code of the instance running on this thread and
//! redirects execution to the module's fault exit, which hands the registers back to the host.
//! The host then classifies the fault with [`Sandbox::classify`], exactly as the interpreter
//! does (below 64 KiB: panic; else the page of the first inaccessible byte).

pub(crate) mod process;
pub(crate) mod signals;

use crate::memory::page_map::{container_areas, PageMap};
use crate::memory::{Fault, MemoryAccessError, MemoryAccessReason, MemoryImage};
use crate::pool::{Pool, PoolLimits, Pools};
use crate::program::memory_map::{align_up, MemoryMap};
use crate::program::REG_COUNT;
use process::{ArenaKind, ProcessSandbox, SharedSlice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Bytes of guest address space.
const GUEST_SPACE: usize = 1 << 32;
/// The host's page size (x86-64 Linux), the granularity of `mprotect`: it divides every guest
/// page size, so guest pages of any size are protected as runs of host pages.
const HOST_PAGE_SIZE: u32 = 4096;
/// The context page in front of guest memory.
const CONTEXT_SIZE: usize = HOST_PAGE_SIZE as usize;
/// Inaccessible space after guest memory (accesses reach at most 7 bytes past 0xffffffff).
const GUARD_SIZE: usize = 64 * 1024;
/// The whole reservation.
const RESERVATION_SIZE: usize = CONTEXT_SIZE + GUEST_SPACE + GUARD_SIZE;
/// Writable regions up to this size are zeroed with `memset` (pages stay resident); larger
/// ones are discarded with `madvise` (zero again on next touch).
const MEMSET_LIMIT: u64 = 256 * 1024;

/// The state JIT code and the host share, placed right below guest memory (at `gs:[-size]`
/// while guest code runs).
///
/// JIT code reads and writes it only on entry and exit (gas lives in `r15` in between), so the
/// field order is not performance-critical; the compiler takes offsets with [`ctx_offset`].
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VmCtx {
    /// The host stack pointer saved on entry; every exit restores it.
    pub host_rsp: u64,
    /// Why JIT code returned (one of the `EXIT_*` constants of the compiler).
    pub exit_kind: u32,
    /// The instruction index the exit belongs to.
    pub exit_index: u32,
    /// At a host-call exit (`ecalli`): the host call's number, written by the `ecalli`'s code
    /// so that the host need not look the instruction up.
    pub host_call: u32,
    /// At a host-call exit: the `ecalli`'s pc.
    pub exit_pc: u32,
    /// At a host-call exit: the native offset to resume at (the next instruction's own code),
    /// or `u32::MAX` if there is none; the host then need not look it up in the offset table.
    pub resume_offset: u32,
    /// Padding (keeps the fields after it 8-byte aligned).
    pub reserved: u32,
    /// Where in JIT code a memory fault happened (set by the signal handler).
    pub fault_rip: u64,
    /// The running module's code, for the signal handler: `[code_start, code_end)`.
    pub code_start: u64,
    /// End of the running module's code.
    pub code_end: u64,
    /// The module's fault exit, where the signal handler sends execution.
    pub fault_exit: u64,
    /// The thread's `gs` base from before guest code set `gs` = memory base (kept across host
    /// calls, which leave `gs` set), restored at every other exit.
    pub saved_gs: u64,
    /// Guest registers while the host holds them.
    pub regs: [u64; REG_COUNT],
    /// Gas left.
    pub gas: i64,
}

/// Offset of a [`VmCtx`] field from the memory base (negative).
pub(crate) const fn ctx_offset(field_offset: usize) -> i32 {
    field_offset as i32 - core::mem::size_of::<VmCtx>() as i32
}

/// An address-space reservation: `RESERVATION_SIZE` bytes, all `PROT_NONE` except the context
/// page.
struct Reservation {
    start: *mut u8,
    /// With the process sandbox: the memory-arena slice behind it, which workers map too.
    shared: Option<(Arc<ProcessSandbox>, SharedSlice)>,
    /// Changes with every change of page protection (unique across reservations), so that a
    /// worker can tell whether its view of the protection is current.
    protection: AtomicU64,
}

/// The source of [`Reservation::protection`] numbers.
static PROTECTION_GENERATION: AtomicU64 = AtomicU64::new(1);

// SAFETY: the reservation is plain memory owned by exactly one sandbox (or the pool) at a time.
unsafe impl Send for Reservation {}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the reservation is ours and nothing refers to it any more.
        unsafe { libc::munmap(self.start.cast(), RESERVATION_SIZE) };
        if let Some((process, slice)) = &self.shared {
            process.free(slice);
        }
    }
}

/// An engine's sandbox pools (see [`Pools`]).
#[derive(Debug)]
pub(crate) struct SandboxPools {
    /// Clean reservations: every guest page inaccessible and zero.
    reservations: Pool<Reservation>,
    /// Warm sandboxes, oldest first.
    warm: Pool<WarmSandbox>,
}

impl SandboxPools {
    /// Empty pools.
    pub fn new(limits: &PoolLimits) -> SandboxPools {
        SandboxPools { reservations: Pool::new(limits.sandbox_reservations), warm: Pool::new(limits.warm_sandboxes) }
    }
}

/// A container program's memory layout as `load_image` leaves it: what a warm sandbox must
/// match to be reused.
#[derive(Clone, Debug)]
struct Layout {
    map: MemoryMap,
    ro_data: Vec<u8>,
    pages: PageMap,
    /// The image the layout was loaded from. A live `Arc` to the same allocation is the same,
    /// unchanged image (the `Weak` keeps the allocation from being reused, and an `Arc` with a
    /// `Weak` to it cannot be mutated in place), so a sandbox reset for the module that built it
    /// (every call of a warm instance) skips comparing the read-only data byte by byte.
    source: Weak<MemoryImage>,
}

impl Layout {
    fn fits(&self, image: &Arc<MemoryImage>) -> bool {
        std::ptr::eq(self.source.as_ptr(), Arc::as_ptr(image)) || self.map == image.map && self.ro_data == image.ro_data
    }
}

/// A reservation whose guest pages are laid out as `layout`, writable pages zero, read-only
/// pages holding `layout.ro_data`.
struct WarmSandbox {
    reservation: Reservation,
    layout: Layout,
}

impl Reservation {
    fn new(pools: &Pools) -> Result<Reservation, &'static str> {
        if let Some(reservation) = pools.sandboxes.reservations.take() {
            return Ok(reservation);
        }
        let (start, shared) = match &pools.process {
            Some(process) => {
                let (start, slice) = process
                    .map(ArenaKind::Memory, RESERVATION_SIZE, libc::PROT_NONE, libc::MAP_NORESERVE)
                    .map_err(|_| "cannot map 4 GiB of shared guest memory")?;
                (start.cast(), Some((process.clone(), slice)))
            }
            None => {
                // SAFETY: a fresh anonymous mapping; no existing memory is affected.
                let start = unsafe {
                    libc::mmap(
                        core::ptr::null_mut(),
                        RESERVATION_SIZE,
                        libc::PROT_NONE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                        -1,
                        0,
                    )
                };
                if start == libc::MAP_FAILED {
                    return Err("cannot reserve 4 GiB of address space for guest memory");
                }
                (start, None)
            }
        };
        let reservation = Reservation { start: start.cast(), shared, protection: AtomicU64::new(0) };
        reservation.touch_protection();
        // SAFETY: the context page is the first page of the mapping just made.
        let result = unsafe { libc::mprotect(start, CONTEXT_SIZE, libc::PROT_READ | libc::PROT_WRITE) };
        if result != 0 {
            return Err("cannot make the sandbox context page writable");
        }
        Ok(reservation)
    }

    fn base(&self) -> *mut u8 {
        // SAFETY: `CONTEXT_SIZE` is inside the reservation.
        unsafe { self.start.add(CONTEXT_SIZE) }
    }

    /// Records that the page protection changed (for workers: only shared reservations have
    /// any).
    fn touch_protection(&self) {
        if self.shared.is_some() {
            self.protection.store(PROTECTION_GENERATION.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Zeroes guest pages `[start, end)` (page-aligned) and lets the kernel take them back.
    fn discard(&self, start: u64, end: u64) -> Result<(), &'static str> {
        if let Some((process, slice)) = &self.shared {
            // A shared mapping keeps its pages after `MADV_DONTNEED`: the file is cut instead.
            return process
                .zero(slice, CONTEXT_SIZE as u64 + start, end - start)
                .map_err(|_| "discarding guest pages failed");
        }
        // SAFETY: discards pages inside the guest part of the reservation; private anonymous
        // pages read back as zero afterwards.
        if unsafe { libc::madvise(self.base().add(start as usize).cast(), (end - start) as usize, libc::MADV_DONTNEED) }
            != 0
        {
            return Err("discarding guest pages failed");
        }
        Ok(())
    }

    /// Gives a clean reservation (every guest page `PROT_NONE` and zero) back to the pool, or
    /// unmaps it if the pool is full.
    fn release(self, pools: &SandboxPools) {
        // A full pool hands it back, and dropping it unmaps it.
        let _ = pools.reservations.put(self);
    }
}

/// One instance's guest memory and context in a reserved address range.
pub(crate) struct Sandbox {
    reservation: Option<Reservation>,
    /// The engine's pools, where the reservation goes when the sandbox is dropped.
    pools: Arc<Pools>,
    base: *mut u8,
    /// Which guest pages are accessible (and so mapped with which protection), and the heap.
    pages: PageMap,
    /// The container layout loaded, while read-only pages still hold its data (cleared when the
    /// host writes to a read-only page).
    layout: Option<Layout>,
}

// SAFETY: the sandbox exclusively owns its reservation; raw pointers into it are only used
// through `&self`/`&mut self` methods.
unsafe impl Send for Sandbox {}
// SAFETY: shared references only read guest memory and bookkeeping.
unsafe impl Sync for Sandbox {}

impl core::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sandbox").field("base", &self.base).field("pages", &self.pages).finish()
    }
}

fn protection(writable: bool) -> libc::c_int {
    if writable {
        libc::PROT_READ | libc::PROT_WRITE
    } else {
        libc::PROT_READ
    }
}

/// Sets the protection of guest pages `[start, end)` (page-aligned): `None` makes them
/// inaccessible (and zero), `Some(writable)` accessible.
///
/// # Safety
/// No Rust reference may point into the range.
unsafe fn protect_range(
    reservation: &Reservation,
    start: u64,
    end: u64,
    access: Option<bool>,
) -> Result<(), &'static str> {
    if start >= end {
        return Ok(());
    }
    let host_page = u64::from(HOST_PAGE_SIZE);
    debug_assert!(start % host_page == 0 && end % host_page == 0 && end <= 1 << 32);
    reservation.touch_protection();
    // SAFETY: `[start, end)` lies inside the guest part of the reservation.
    let host = unsafe { reservation.base().add(start as usize) };
    let length = (end - start) as usize;
    let result = match access {
        // SAFETY: changes protection of pages inside the reservation only.
        Some(writable) => unsafe { libc::mprotect(host.cast(), length, protection(writable)) },
        None => {
            // A failed discard leaves data behind: the page is then not clean, and the
            // reservation is not reused (`clear` fails).
            reservation.discard(start, end)?;
            // SAFETY: protects pages inside the reservation only; the caller guarantees no
            // Rust reference points into them.
            unsafe { libc::mprotect(host.cast(), length, libc::PROT_NONE) }
        }
    };
    if result != 0 {
        return Err("changing guest page protection failed");
    }
    Ok(())
}

impl Sandbox {
    /// An empty sandbox: no guest page accessible.
    pub fn new(pools: &Arc<Pools>) -> Result<Sandbox, &'static str> {
        Ok(Sandbox::on(Reservation::new(pools)?, pools.clone()))
    }

    /// A sandbox on `reservation` with a fresh context and no bookkeeping.
    fn on(reservation: Reservation, pools: Arc<Pools>) -> Sandbox {
        let base = reservation.base();
        let mut sandbox =
            Sandbox { reservation: Some(reservation), pools, base, pages: PageMap::empty(), layout: None };
        *sandbox.ctx_mut() = VmCtx {
            host_rsp: 0,
            exit_kind: 0,
            exit_index: 0,
            host_call: 0,
            exit_pc: 0,
            resume_offset: u32::MAX,
            reserved: 0,
            fault_rip: 0,
            code_start: 0,
            code_end: 0,
            fault_exit: 0,
            saved_gs: 0,
            regs: [0; REG_COUNT],
            gas: 0,
        };
        sandbox
    }

    /// A sandbox laid out as a container program expects: a warm one from the pool if one
    /// fits, else a fresh one.
    pub fn from_image(image: &Arc<MemoryImage>, pools: &Arc<Pools>) -> Result<Sandbox, &'static str> {
        if let Some(warm) = pools.sandboxes.warm.take_where(|warm| warm.layout.fits(image)) {
            let mut sandbox = Sandbox::on(warm.reservation, pools.clone());
            sandbox.adopt(warm.layout, image)?;
            return Ok(sandbox);
        }
        let mut sandbox = Sandbox::new(pools)?;
        sandbox.load_image(image)?;
        Ok(sandbox)
    }

    /// Takes over pages laid out as `layout` (writable pages zero, read-only data in place) and
    /// copies the read-write data in.
    fn adopt(&mut self, layout: Layout, image: &MemoryImage) -> Result<(), &'static str> {
        self.pages.clone_from(&layout.pages);
        self.layout = Some(layout);
        self.write(image.map.rw_data_address, &image.rw_data).map_err(|_| "read-write data does not fit its region")
    }

    /// Brings the pages back to `layout` with every writable byte zero, without touching the
    /// read-only data: shrinks a grown heap, then zeroes writable regions in place.
    fn wipe_to(&mut self, layout: &Layout) -> Result<(), &'static str> {
        if let Some((start, end)) = self.pages.heap_growth() {
            self.protect(start, end, None)?;
        }
        if self.pages.region_list() != layout.pages.region_list() {
            return Err("guest pages no longer follow the program's layout");
        }
        for region in self.pages.region_list().iter().filter(|region| region.writable) {
            let length = (region.end - region.start) as usize;
            if region.end - region.start <= MEMSET_LIMIT {
                // SAFETY: the region is mapped read-write inside our reservation, and no Rust
                // reference points into guest memory.
                unsafe { core::ptr::write_bytes(self.base.add(region.start as usize), 0, length) };
            } else {
                self.reservation()?.discard(region.start, region.end)?;
            }
        }
        self.pages.shrink_heap();
        Ok(())
    }

    /// Maps a container program's regions (see [`PageMap::container`]) on a clean
    /// reservation and copies its data in. Read-only data is copied while its pages are still
    /// writable.
    fn load_image(&mut self, image: &Arc<MemoryImage>) -> Result<(), &'static str> {
        let pages = PageMap::container(&image.map);
        for area in container_areas(&image.map) {
            let (start, end) = area.range();
            let init = area.init.bytes(image);
            if init.len() as u64 > end - start {
                return Err("initial data does not fit its region");
            }
            self.protect(start, end, Some(area.writable || !init.is_empty()))?;
            // SAFETY: `[start, start + init.len())` is inside the area, just made writable,
            // inside our reservation; `init` is a distinct host buffer.
            unsafe { core::ptr::copy_nonoverlapping(init.as_ptr(), self.base.add(start as usize), init.len()) };
            if !area.writable && !init.is_empty() {
                self.protect(start, end, Some(false))?;
            }
        }
        // The same regions as the ones just protected, plus the heap.
        debug_assert_eq!(self.pages.region_list(), pages.region_list());
        self.layout = Some(Layout {
            map: image.map,
            ro_data: image.ro_data.clone(),
            pages: pages.clone(),
            source: Arc::downgrade(image),
        });
        self.pages = pages;
        Ok(())
    }

    /// The memory base: guest address 0.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The shared context.
    #[inline]
    pub fn ctx(&self) -> &VmCtx {
        // SAFETY: the context page is mapped read-write for the sandbox's whole life and the
        // `VmCtx` sits at its end, properly aligned (the page is page-aligned, the size a
        // multiple of 8).
        unsafe { &*self.base.sub(core::mem::size_of::<VmCtx>()).cast::<VmCtx>() }
    }

    /// The shared context, mutably.
    #[inline]
    pub fn ctx_mut(&mut self) -> &mut VmCtx {
        // SAFETY: as in `ctx`; `&mut self` makes the access exclusive.
        unsafe { &mut *self.base.sub(core::mem::size_of::<VmCtx>()).cast::<VmCtx>() }
    }

    /// A raw pointer to the context, for JIT entry and the signal handler.
    pub fn ctx_ptr(&mut self) -> *mut VmCtx {
        self.ctx_mut()
    }

    /// Sets the protection of guest pages `[start, end)` (page-aligned) and records it in the
    /// page map: `None` makes them inaccessible (and zero), `Some(writable)` accessible.
    fn protect(&mut self, start: u64, end: u64, access: Option<bool>) -> Result<(), &'static str> {
        // SAFETY: no Rust reference points into guest memory while `&mut self` is held.
        unsafe { protect_range(self.reservation()?, start, end, access)? };
        self.pages.set(start, end, access);
        Ok(())
    }

    /// Maps zero-filled pages (raw programs); existing pages keep their contents.
    pub fn map(&mut self, address: u32, length: u32, writable: bool) -> Result<(), &'static str> {
        let (start, end) = self.pages.check_map(address, length)?;
        self.protect(start, end, Some(writable))
    }

    /// Classifies a guest access as the interpreter does; `None` if it is allowed (see
    /// [`PageMap::classify`]).
    pub fn classify(&self, address: u32, length: usize, write: bool) -> Option<Fault> {
        self.pages.classify(address, length, write)
    }

    /// Reads guest memory for the host.
    pub fn read(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.pages.host_check(address, out.len())?;
        if !out.is_empty() {
            // SAFETY: every byte of the range is mapped readable (checked above) and lies in
            // our reservation; `out` is a distinct host buffer.
            unsafe { core::ptr::copy_nonoverlapping(self.base.add(address as usize), out.as_mut_ptr(), out.len()) };
        }
        Ok(())
    }

    /// Writes guest memory for the host; read-only pages are written too.
    pub fn write(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        // Nearly every host write is to writable memory (the heap): copied at once, without
        // looking for read-only pages to open.
        if let Some(memory) = self.slice_mut(address, data.len()) {
            memory.copy_from_slice(data);
            return Ok(());
        }
        self.pages.host_check(address, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let start = u64::from(address);
        let end = start + data.len() as u64;
        // Read-only pages in the range become writable for the copy.
        let read_only: Vec<(u64, u64)> = self
            .pages
            .region_list()
            .iter()
            .filter(|region| !region.writable && region.start < end && region.end > start)
            .map(|region| {
                let page = u64::from(HOST_PAGE_SIZE);
                (region.start.max(start / page * page), region.end.min(align_up(end, HOST_PAGE_SIZE)))
            })
            .collect();
        if !read_only.is_empty() {
            // Read-only pages no longer hold just the program's data: not reusable warm.
            self.layout = None;
        }
        let set = |range: &(u64, u64), prot| {
            // SAFETY: the range is page-aligned and inside our reservation.
            unsafe { libc::mprotect(self.base.add(range.0 as usize).cast(), (range.1 - range.0) as usize, prot) }
        };
        for range in &read_only {
            if set(range, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                return Err(MemoryAccessError {
                    address,
                    length: data.len(),
                    reason: MemoryAccessReason::Inaccessible(range.0 as u32),
                });
            }
        }
        // SAFETY: every byte of the range is mapped and writable now and inside our reservation.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.base.add(address as usize), data.len()) };
        for range in &read_only {
            set(range, libc::PROT_READ);
        }
        Ok(())
    }

    /// Guest memory `[address, address + length)` as one slice, if every byte of it is
    /// writable.
    #[inline]
    pub fn slice_mut(&mut self, address: u32, length: usize) -> Option<&mut [u8]> {
        if length == 0 {
            return Some(&mut []);
        }
        if !self.pages.is_accessible(address, length, true) {
            return None;
        }
        // SAFETY: every byte of the range is mapped writable (checked above) and lies in our
        // reservation; the slice borrows `self` mutably, so nothing else (the guest included,
        // which only runs through `&mut self`) touches the range while it lives, and the
        // mapping cannot change (unmapping or re-protecting also needs `&mut self`).
        Some(unsafe { std::slice::from_raw_parts_mut(self.base.add(address as usize), length) })
    }

    /// Grows the heap (container programs); see [`PageMap::sbrk`].
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        let reservation = self.reservation.as_ref()?;
        // SAFETY: no Rust reference points into guest memory while `&mut self` is held.
        self.pages.sbrk(size, |start, end| unsafe { protect_range(reservation, start, end, Some(true)) }.is_ok())
    }

    /// The reservation (present until the sandbox is dropped).
    fn reservation(&self) -> Result<&Reservation, &'static str> {
        self.reservation.as_ref().ok_or("the sandbox has no memory")
    }

    /// Runs the code of `code` (a slice of the code arena mapped at `code_address`) from
    /// `target` in a worker of the process sandbox.
    pub fn run_in_worker(
        &self,
        process: &ProcessSandbox,
        code_address: *const u8,
        code: &SharedSlice,
        target: *const u8,
    ) -> Result<(), process::ProcessSandboxError> {
        // Both hold for every sandbox of an engine with the process sandbox.
        let not_shared =
            process::ProcessSandboxError::Host { what: "finding shared guest memory", errno: libc::EINVAL };
        let reservation = self.reservation.as_ref().ok_or(not_shared)?;
        let Some((_, memory)) = &reservation.shared else { return Err(not_shared) };
        let mut regions = self.pages.region_list().iter().map(|region| (region.start, region.end, region.writable));
        process.run(
            reservation.start,
            memory,
            reservation.protection.load(Ordering::Relaxed),
            &mut regions,
            code_address,
            code,
            target,
        )
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        self.pages.heap_size()
    }

    /// Whether the range is accessible (and writable, if `write`).
    #[inline]
    pub fn is_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        self.pages.is_accessible(address, length, write)
    }

    /// The accessible regions as `(address, length, writable)`.
    pub fn regions(&self) -> Vec<(u32, u32, bool)> {
        self.pages.regions()
    }

    /// Makes every guest page inaccessible and zero.
    fn clear(&mut self) -> Result<(), &'static str> {
        while let Some(&region) = self.pages.region_list().first() {
            self.protect(region.start, region.end, None)?;
        }
        self.pages = PageMap::empty();
        self.layout = None;
        Ok(())
    }

    /// Restores `image` (container programs) or unmaps everything (raw programs, `None`).
    /// When the pages still follow `image`'s layout they are wiped in place.
    pub fn reset(&mut self, image: Option<&Arc<MemoryImage>>) -> Result<(), &'static str> {
        if let (Some(image), Some(layout)) = (image, self.layout.take()) {
            if layout.fits(image) && self.wipe_to(&layout).is_ok() {
                return self.adopt(layout, image);
            }
        }
        self.clear()?;
        match image {
            Some(image) => self.load_image(image),
            None => Ok(()),
        }
    }

    /// Hands the reservation to the warm pool if the pages can be wiped back to their layout.
    fn keep_warm(&mut self) -> bool {
        let Some(layout) = self.layout.take() else { return false };
        if self.wipe_to(&layout).is_err() {
            return false;
        }
        let Some(reservation) = self.reservation.take() else { return false };
        let evicted = self.pools.sandboxes.warm.put_evicting_oldest(WarmSandbox { reservation, layout });
        if let Some(evicted) = evicted {
            // The oldest warm sandbox goes cold: every page inaccessible again.
            let mut sandbox = Sandbox::on(evicted.reservation, self.pools.clone());
            sandbox.pages = evicted.layout.pages;
            drop(sandbox);
        }
        true
    }

    /// A copy with the same pages, contents, heap and context.
    pub fn try_clone(&self) -> Result<Sandbox, &'static str> {
        let mut copy = Sandbox::new(&self.pools)?;
        for region in self.pages.region_list() {
            copy.protect(region.start, region.end, Some(true))?;
            let length = (region.end - region.start) as usize;
            // SAFETY: the source range is mapped readable in `self`, the destination range was
            // just made writable in `copy`; both lie in distinct reservations.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    self.base.add(region.start as usize),
                    copy.base.add(region.start as usize),
                    length,
                )
            };
            if !region.writable {
                copy.protect(region.start, region.end, Some(false))?;
            }
        }
        copy.pages.clone_from(&self.pages);
        copy.layout.clone_from(&self.layout);
        let ctx = self.ctx();
        let (regs, gas) = (ctx.regs, ctx.gas);
        copy.ctx_mut().regs = regs;
        copy.ctx_mut().gas = gas;
        Ok(copy)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if self.keep_warm() {
            return;
        }
        let Some(reservation) = self.reservation.take() else { return };
        // A reservation that could not be cleaned is dropped, which unmaps it.
        if self.clear().is_ok() {
            reservation.release(&self.pools.sandboxes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools() -> Arc<Pools> {
        Arc::new(Pools::new(&PoolLimits::default()))
    }

    #[test]
    fn pages_follow_the_map_and_host_writes_reach_read_only_pages() {
        let mut sandbox = Sandbox::new(&pools()).unwrap();
        sandbox.map(0x20000, 0x2000, true).unwrap();
        sandbox.map(0x21000, 0x1000, false).unwrap();
        assert_eq!(sandbox.regions(), vec![(0x20000, 0x1000, true), (0x21000, 0x1000, false)]);
        sandbox.write(0x20ffe, &[1, 2, 3, 4]).unwrap();
        let mut out = [0; 4];
        sandbox.read(0x20ffe, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(sandbox.classify(0x20ffe, 4, true), Some(Fault::PageFault(0x21000)));
        assert_eq!(sandbox.classify(0x20ffe, 4, false), None);
        assert_eq!(sandbox.classify(0xffff, 1, false), Some(Fault::Panic));
        assert_eq!(sandbox.classify(0xffff_fffe, 4, false), Some(Fault::Panic));
        assert!(sandbox.read(0x22000, &mut out).is_err());
        sandbox.reset(None).unwrap();
        assert!(sandbox.regions().is_empty());
        sandbox.map(0x20000, 0x1000, true).unwrap();
        sandbox.read(0x20ffc, &mut out).unwrap();
        assert_eq!(out, [0; 4], "reset pages come back zeroed");
    }

    fn image() -> Arc<MemoryImage> {
        let config = crate::program::memory_map::MemoryConfig {
            ro_data_size: 0x1000,
            rw_data_size: 0x2000,
            stack_size: 0x1000,
            aux_data_size: 0,
        };
        Arc::new(MemoryImage { map: MemoryMap::new(config).unwrap(), ro_data: vec![7; 16], rw_data: vec![9; 8] })
    }

    /// Everything a guest can observe of memory: regions, heap and every accessible byte.
    fn snapshot(sandbox: &Sandbox) -> (Vec<(u32, u32, bool)>, u32, Vec<u8>) {
        let mut bytes = Vec::new();
        for (address, length, _) in sandbox.regions() {
            let mut chunk = vec![0; length as usize];
            sandbox.read(address, &mut chunk).unwrap();
            bytes.extend(chunk);
        }
        (sandbox.regions(), sandbox.heap_size(), bytes)
    }

    fn scribble(sandbox: &mut Sandbox, image: &MemoryImage) {
        let map = image.map;
        sandbox.write(map.rw_data_address + 100, &[1; 300]).unwrap();
        sandbox.write(map.stack_address_high - 64, &[2; 64]).unwrap();
        let top = sandbox.sbrk(0x3000).unwrap();
        sandbox.write(top - 8, &[3; 8]).unwrap();
    }

    #[test]
    fn warm_reuse_and_in_place_reset_look_like_a_fresh_sandbox() {
        let (image, pools) = (image(), pools());
        let fresh = snapshot(&Sandbox::from_image(&image, &pools).unwrap());
        for _ in 0..3 {
            let mut sandbox = Sandbox::from_image(&image, &pools).unwrap();
            assert_eq!(snapshot(&sandbox), fresh);
            scribble(&mut sandbox, &image);
            assert_ne!(snapshot(&sandbox), fresh);
            sandbox.reset(Some(&image)).unwrap();
            assert_eq!(snapshot(&sandbox), fresh);
            scribble(&mut sandbox, &image);
        }
    }

    #[test]
    fn host_writes_to_read_only_data_are_not_carried_into_a_new_sandbox() {
        let (image, pools) = (image(), pools());
        let fresh = snapshot(&Sandbox::from_image(&image, &pools).unwrap());
        for _ in 0..3 {
            let mut sandbox = Sandbox::from_image(&image, &pools).unwrap();
            assert_eq!(snapshot(&sandbox), fresh);
            sandbox.write(image.map.ro_data_address, &[5; 4]).unwrap();
            assert_ne!(snapshot(&sandbox), fresh);
        }
        let mut sandbox = Sandbox::from_image(&image, &pools).unwrap();
        sandbox.write(image.map.ro_data_address, &[5; 4]).unwrap();
        sandbox.reset(Some(&image)).unwrap();
        assert_eq!(snapshot(&sandbox), fresh);
    }

    #[test]
    fn a_layout_fits_its_own_image_and_equal_copies_only() {
        let image = image();
        let mut sandbox = Sandbox::from_image(&image, &pools()).unwrap();
        let layout = sandbox.layout.take().unwrap();
        assert!(layout.fits(&image), "the same image, by identity");
        assert!(layout.fits(&Arc::new((*image).clone())), "an equal copy, byte by byte");
        let mut other = (*image).clone();
        other.ro_data[3] ^= 1;
        assert!(!layout.fits(&Arc::new(other)), "different read-only data");
    }
}
