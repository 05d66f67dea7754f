//! The out-of-process sandbox: compiled guest code runs in worker processes, not in the host.
//!
//! Selected per engine with [`Config::sandbox`](crate::Config::sandbox). Everything else
//! stays as in the in-process sandbox (see the module head of `sandbox`): the host still owns
//! each instance's 4 GiB reservation, its page map and its context, and still services host
//! calls reading and writing guest memory directly. What changes is where guest code runs and
//! what backs the memory:
//!
//! * **Shared backing.** Guest memory and compiled code live in two `memfd` files of the
//!   engine (*arenas*): each reservation is a 4 GiB slice of the memory arena, each code
//!   mapping a slice of the code arena. The host maps a slice wherever the kernel puts it; a
//!   worker maps the same slice at the **same address**, so that compiled code (which holds
//!   absolute addresses in its jump table) and the context (the saved stack pointer, the
//!   fault exit) mean the same in both. Zeroing pages punches holes in the file, which zeroes
//!   them for every process mapping them.
//! * **Workers.** A pool of processes, each started once with `clone` (no `exec`, no fork of
//!   the node per call) and reused for any number of calls. A worker starts by dropping
//!   everything of the host it does not need: it resets every signal handler but its own
//!   fault handler, leaves the host's session, closes every file but the two arenas, sets
//!   `PR_SET_NO_NEW_PRIVS`, `PR_SET_DUMPABLE` = 0, a parent-death signal and zero resource
//!   limits for files, processes and core dumps, installs a seccomp-bpf filter that allows
//!   only `futex`, `mmap` of the two arenas, `mprotect`, `munmap`, `rt_sigreturn` and `exit`
//!   (anything else kills it), and then unmaps every page of the host's address space except
//!   the host executable's own mappings, its stack and its control block. From then on it
//!   holds no copy of the host's heap, other threads' stacks or other instances' memory. Where
//!   the kernel allows, it also runs in new user, PID, network, mount, IPC and UTS namespaces
//!   ([`ProcessSandbox::namespaces`] says whether it does).
//! * **Handshake.** Each worker has a control block (a shared anonymous mapping made before
//!   it starts) with a state word: the host writes a command and sets it to `REQUEST`, the
//!   worker executes it and sets it to `DONE`. Both sides spin briefly and then sleep on the
//!   word with `futex`, waking the other only when it sleeps. Registers and the exit travel in
//!   the context page, which is shared memory already.
//! * **A run** takes an idle worker (or starts one), makes sure it has the instance's
//!   reservation and the module's code mapped (by identity, so a slice reused at an address
//!   is mapped again) and the reservation's page protection current (by a generation number
//!   the sandbox bumps on every protection change), then runs the code from the entry point
//!   to its next exit, exactly as the in-process sandbox does on the host's own thread; faults
//!   are caught by the worker's handler, which finds the context through the `gs` base. The
//!   worker goes back to the pool afterwards: between a host call's exit and its resumption
//!   nothing lives in the worker, so any worker can resume any instance.
//! * **Failure.** A worker that dies (killed, crashed, or stopped by its seccomp filter) is
//!   noticed within [`DEATH_CHECK_INTERVAL`] while the host waits, reaped, and reported as
//!   [`ProcessSandboxError::WorkerDied`] for that run; the next run starts a fresh worker.
//!
//! Costs: a host call is two handshakes (out and back in), a few microseconds instead of tens
//! of nanoseconds in-process, so the in-process sandbox stays the default; BENCHMARKS.md has
//! the figures.

use super::VmCtx;
use crate::pool::lock;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::error::ProcessSandboxError;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn host_error(what: &'static str) -> ProcessSandboxError {
    ProcessSandboxError::Host { what, errno: errno() }
}

/// The namespaces workers were started in.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct Namespaces {
    /// New user, PID, network, mount, IPC and UTS namespaces (all or none).
    pub isolated: bool,
}

/// How often a waiting host checks whether its worker is still alive.
pub const DEATH_CHECK_INTERVAL: Duration = Duration::from_millis(10);
/// How long a worker may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// A worker's stack.
const WORKER_STACK_SIZE: usize = 256 * 1024;
/// Entries in a control block's list (start-up keep list, or guest page ranges).
const LIST_LEN: usize = 4000;
/// Instructions in the seccomp filter, at most.
const FILTER_LEN: usize = 32;
/// Spin iterations before sleeping on the state word: about 10 µs, enough to catch the other
/// side's answer to a host call without a futex sleep and wake, short enough not to starve
/// the other side on a machine with few cores.
const SPINS: u32 = 400;
/// Idle workers kept beyond the configured count (workers started for concurrent runs): an
/// idle worker sleeps on its futex and costs only its memory.
const MAX_IDLE_WORKERS: usize = 32;
/// A worker that has mapped this many distinct ranges is retired (its stale mappings hold
/// no memory, since freed slices are hole-punched, but they hold address space).
const MAX_WORKER_MAPPINGS: usize = 4096;

const STATE_IDLE: u32 = 0;
const STATE_REQUEST: u32 = 1;
const STATE_DONE: u32 = 2;

const CMD_START: u32 = 0;
const CMD_MAP: u32 = 1;
const CMD_PROTECT: u32 = 2;
const CMD_RUN: u32 = 3;
const CMD_SYSCALL: u32 = 4;

/// Which arena a mapping comes from.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum ArenaKind {
    Memory = 0,
    Code = 1,
}

/// A worker's control block: shared between the host and one worker.
#[repr(C)]
struct Control {
    state: AtomicU32,
    /// Set while the worker sleeps on `state`.
    worker_sleeping: AtomicU32,
    /// Set while the host sleeps on `state`.
    host_sleeping: AtomicU32,
    command: u32,
    args: [u64; 6],
    /// Non-negative on success, `-errno` on failure.
    result: i64,
    /// The arenas' descriptors (memory, code), the same numbers in the worker.
    arena_fds: [u64; 2],
    /// The restartable-sequences area the C library registered for the thread that started
    /// the worker (address, length), or zeros: the worker must unregister it before unmapping
    /// it, or the kernel's next look at it (on preemption or signal delivery) kills the worker.
    rseq: [u64; 2],
    /// Entries used in `list`.
    count: u64,
    filter_len: u64,
    filter: [libc::sock_filter; FILTER_LEN],
    list: [[u64; 2]; LIST_LEN],
}

const CONTROL_SIZE: usize = core::mem::size_of::<Control>().div_ceil(4096) * 4096;

/// A slice of an arena: `[offset, offset + length)`.
struct Arena {
    fd: OwnedFd,
    state: Mutex<ArenaState>,
}

#[derive(Default)]
struct ArenaState {
    /// Offsets up to here have been handed out.
    end: u64,
    /// Freed slices `(offset, length)`, handed out again to requests of the same length.
    free: Vec<(u64, u64)>,
}

/// Arenas are sparse files this large: pages exist only where written.
const ARENA_SIZE: u64 = 1 << 46;

impl Arena {
    fn new(name: &core::ffi::CStr) -> Result<Arena, ProcessSandboxError> {
        // SAFETY: `memfd_create` with a valid name; the descriptor is owned from here on.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(host_error("memfd_create"));
        }
        // SAFETY: a descriptor just created and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: resizes our own memory file.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), ARENA_SIZE as libc::off_t) } != 0 {
            return Err(host_error("sizing an arena"));
        }
        Ok(Arena { fd, state: Mutex::new(ArenaState::default()) })
    }

    fn allocate(&self, length: u64) -> Result<u64, ProcessSandboxError> {
        let mut state = lock(&self.state);
        if let Some(at) = state.free.iter().position(|&(_, free)| free == length) {
            return Ok(state.free.swap_remove(at).0);
        }
        let offset = state.end;
        if offset + length > ARENA_SIZE {
            return Err(ProcessSandboxError::Host { what: "allocating arena space", errno: libc::ENOMEM });
        }
        state.end += length;
        Ok(offset)
    }

    /// Zeroes `[offset, offset + length)` for every process that maps it (and frees its pages).
    fn punch(&self, offset: u64, length: u64) -> Result<(), ProcessSandboxError> {
        // SAFETY: punches a hole in our own memory file; mappings of it read zeros afterwards.
        let result = unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset as libc::off_t,
                length as libc::off_t,
            )
        };
        if result != 0 {
            return Err(host_error("zeroing arena pages"));
        }
        Ok(())
    }

    fn free(&self, offset: u64, length: u64) {
        if self.punch(offset, length).is_ok() {
            lock(&self.state).free.push((offset, length));
        }
        // A slice that could not be zeroed is not handed out again.
    }
}

/// An engine's process sandbox: the arenas and the pool of idle workers.
pub(crate) struct ProcessSandbox {
    memory: Arena,
    code: Arena,
    idle: Mutex<Vec<Worker>>,
    max_idle: usize,
    namespaces: Mutex<Option<bool>>,
    next_id: AtomicU64,
}

impl core::fmt::Debug for ProcessSandbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProcessSandbox").field("idle", &lock(&self.idle).len()).finish()
    }
}

/// A slice of an arena mapped in the host: what a worker needs to map the same pages at the
/// same address.
#[derive(Debug)]
pub(crate) struct SharedSlice {
    pub kind: ArenaKind,
    pub offset: u64,
    pub length: u64,
    /// Unique per allocation, so that a worker notices when an address holds a new slice.
    pub id: u64,
}

impl ProcessSandbox {
    /// Creates the arenas and starts `workers` workers.
    pub fn new(workers: usize) -> Result<ProcessSandbox, ProcessSandboxError> {
        let sandbox = ProcessSandbox {
            memory: Arena::new(c"pvm-guest-memory")?,
            code: Arena::new(c"pvm-guest-code")?,
            idle: Mutex::new(Vec::new()),
            max_idle: workers.max(MAX_IDLE_WORKERS),
            namespaces: Mutex::new(None),
            next_id: AtomicU64::new(1),
        };
        for _ in 0..workers {
            let worker = sandbox.spawn()?;
            lock(&sandbox.idle).push(worker);
        }
        Ok(sandbox)
    }

    /// Whether workers run in namespaces of their own (known once one has started).
    pub fn namespaces(&self) -> Namespaces {
        Namespaces { isolated: lock(&self.namespaces).unwrap_or(false) }
    }

    fn arena(&self, kind: ArenaKind) -> &Arena {
        match kind {
            ArenaKind::Memory => &self.memory,
            ArenaKind::Code => &self.code,
        }
    }

    /// Allocates a slice of `length` bytes and maps it in the host with `protection`.
    pub fn map(
        &self,
        kind: ArenaKind,
        length: usize,
        protection: libc::c_int,
        extra_flags: libc::c_int,
    ) -> Result<(*mut u8, SharedSlice), ProcessSandboxError> {
        let arena = self.arena(kind);
        let offset = arena.allocate(length as u64)?;
        // SAFETY: maps a slice of our own memory file wherever the kernel has room.
        let pointer = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                length,
                protection,
                libc::MAP_SHARED | extra_flags,
                arena.fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if pointer == libc::MAP_FAILED {
            let error = host_error("mapping an arena slice");
            arena.free(offset, length as u64);
            return Err(error);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok((pointer.cast(), SharedSlice { kind, offset, length: length as u64, id }))
    }

    /// Zeroes part of a slice (offsets relative to the slice).
    pub fn zero(&self, slice: &SharedSlice, offset: u64, length: u64) -> Result<(), ProcessSandboxError> {
        self.arena(slice.kind).punch(slice.offset + offset, length)
    }

    /// Frees a slice the host has unmapped.
    pub fn free(&self, slice: &SharedSlice) {
        self.arena(slice.kind).free(slice.offset, slice.length);
    }

    /// Runs compiled code in a worker: the entry trampoline at the start of the code slice
    /// `code` (mapped at `code_address`) with the memory base and `target`, with the
    /// reservation `memory` (mapped in the host at `reservation`, protected as `regions` of
    /// generation `protection`).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        reservation: *mut u8,
        memory: &SharedSlice,
        protection: u64,
        regions: &mut dyn Iterator<Item = (u64, u64, bool)>,
        code_address: *const u8,
        code: &SharedSlice,
        target: *const u8,
    ) -> Result<(), ProcessSandboxError> {
        let mut worker = self.checkout()?;
        let base = reservation as u64 + super::CONTEXT_SIZE as u64;
        let result = (|| {
            worker.ensure_mapped(reservation as u64, memory, libc::PROT_NONE)?;
            if worker.protection.get(&(reservation as u64)) != Some(&protection) {
                worker.protect(base, regions)?;
                worker.protection.insert(reservation as u64, protection);
            }
            worker.ensure_mapped(code_address as u64, code, libc::PROT_READ | libc::PROT_EXEC)?;
            worker.request(CMD_RUN, [code_address as u64, base, target as u64, 0, 0, 0]).map(drop)
        })();
        // A worker that failed a command may be in any state: it is not reused.
        if result.is_ok() {
            self.checkin(worker);
        }
        result
    }

    /// Makes a worker issue system call `number` (with no arguments), as a compromised guest
    /// could try to; the seccomp filter must kill it. For tests of the filter.
    #[doc(hidden)]
    pub fn try_syscall(&self, number: i64) -> Result<i64, ProcessSandboxError> {
        let mut worker = self.checkout()?;
        let result = worker.request(CMD_SYSCALL, [number as u64, 0, 0, 0, 0, 0])?;
        self.checkin(worker);
        Ok(result)
    }

    fn checkout(&self) -> Result<Worker, ProcessSandboxError> {
        match lock(&self.idle).pop() {
            Some(worker) => Ok(worker),
            None => self.spawn(),
        }
    }

    fn checkin(&self, worker: Worker) {
        if worker.mapped.len() >= MAX_WORKER_MAPPINGS {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push(worker);
        }
    }

    /// Starts a worker.
    fn spawn(&self) -> Result<Worker, ProcessSandboxError> {
        let mut worker = Worker::allocate()?;
        // SAFETY: the control block was just mapped, zeroed, and is ours alone until the
        // worker starts.
        let control = unsafe { &mut *worker.control };
        control.arena_fds = [self.memory.fd.as_raw_fd() as u64, self.code.fd.as_raw_fd() as u64];
        let filter = seccomp_filter(self.memory.fd.as_raw_fd(), self.code.fd.as_raw_fd());
        control.filter[..filter.len()].copy_from_slice(&filter);
        control.filter_len = filter.len() as u64;
        let keep = keep_list(worker.control as u64, worker.stack as u64)?;
        if keep.len() > LIST_LEN {
            return Err(ProcessSandboxError::TooManyRegions(LIST_LEN));
        }
        control.list[..keep.len()].copy_from_slice(&keep);
        control.count = keep.len() as u64;
        control.rseq = rseq_area();
        control.command = CMD_START;
        control.state.store(STATE_REQUEST, Ordering::SeqCst);

        let isolated = lock(&self.namespaces).unwrap_or(true);
        let namespaces = libc::CLONE_NEWUSER
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS;
        // SAFETY: the child runs `worker_main` on its own stack with its own copy of the
        // address space (no `CLONE_VM`); `worker_main` touches nothing but the control block,
        // its stack and raw system calls (see its comments).
        let clone = |flags: libc::c_int| unsafe {
            libc::clone(
                worker_main,
                worker.stack.add(WORKER_STACK_SIZE).cast(),
                flags | libc::SIGCHLD,
                worker.control.cast(),
            )
        };
        let mut pid = if isolated { clone(namespaces) } else { -1 };
        let mut got_namespaces = isolated && pid > 0;
        if pid <= 0 {
            pid = clone(0);
            got_namespaces = false;
        }
        if pid <= 0 {
            return Err(host_error("clone"));
        }
        worker.pid = pid;
        *lock(&self.namespaces) = Some(got_namespaces);
        let started = Instant::now();
        loop {
            if control.state.load(Ordering::Acquire) == STATE_DONE {
                break;
            }
            if let Some(died) = worker.reap_if_dead() {
                return Err(died);
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(ProcessSandboxError::StartTimeout(START_TIMEOUT.as_millis() as u64));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let result = control.result;
        control.state.store(STATE_IDLE, Ordering::SeqCst);
        if result < 0 {
            return Err(ProcessSandboxError::Worker { what: "starting", errno: -result as i32 });
        }
        Ok(worker)
    }
}

impl Drop for ProcessSandbox {
    fn drop(&mut self) {
        lock(&self.idle).clear();
    }
}

/// One worker process, seen from the host.
struct Worker {
    pid: libc::pid_t,
    control: *mut Control,
    stack: *mut u8,
    /// What the worker has mapped: address -> slice id.
    mapped: HashMap<u64, u64>,
    /// The protection generation applied to each reservation it has mapped.
    protection: HashMap<u64, u64>,
}

// SAFETY: the control block and stack are owned by this value; the worker process is only
// driven through `&mut self`.
unsafe impl Send for Worker {}

impl Worker {
    /// The control block and stack of a worker not started yet.
    fn allocate() -> Result<Worker, ProcessSandboxError> {
        // SAFETY: fresh mappings placed by the kernel; the control block is shared, so the
        // worker started later sees the same pages.
        let (control, stack) = unsafe {
            let control = libc::mmap(
                core::ptr::null_mut(),
                CONTROL_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if control == libc::MAP_FAILED {
                return Err(host_error("mapping a control block"));
            }
            let stack = libc::mmap(
                core::ptr::null_mut(),
                WORKER_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if stack == libc::MAP_FAILED {
                libc::munmap(control, CONTROL_SIZE);
                return Err(host_error("mapping a worker stack"));
            }
            (control, stack)
        };
        Ok(Worker {
            pid: 0,
            control: control.cast(),
            stack: stack.cast(),
            mapped: HashMap::new(),
            protection: HashMap::new(),
        })
    }

    /// Reaps the worker if it has died.
    fn reap_if_dead(&mut self) -> Option<ProcessSandboxError> {
        let mut status = 0;
        // SAFETY: waits without blocking for our own child.
        let result = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG | libc::__WALL) };
        if result == 0 {
            return None;
        }
        self.pid = 0;
        let (signal, exit_code) = if result < 0 {
            // Reaped by someone else (a `waitpid(-1)` of the embedding program).
            (None, None)
        } else if libc::WIFSIGNALED(status) {
            (Some(libc::WTERMSIG(status)), None)
        } else {
            (None, Some(libc::WEXITSTATUS(status)))
        };
        Some(ProcessSandboxError::WorkerDied { signal, exit_code })
    }

    /// Sends a command and waits for its result.
    fn request(&mut self, command: u32, args: [u64; 6]) -> Result<i64, ProcessSandboxError> {
        {
            // SAFETY: the worker is idle (state `IDLE`), so the host owns the plain fields.
            let control = unsafe { &mut *self.control };
            control.command = command;
            control.args = args;
        }
        // SAFETY: as in `control` (not borrowed from `self`, which `reap_if_dead` needs).
        let control: &Control = unsafe { &*self.control };
        control.state.store(STATE_REQUEST, Ordering::SeqCst);
        if control.worker_sleeping.load(Ordering::SeqCst) != 0 {
            futex_wake(&control.state);
        }
        let mut spins = 0;
        let mut last_check = None::<Instant>;
        loop {
            if control.state.load(Ordering::Acquire) == STATE_DONE {
                break;
            }
            if spins < SPINS {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            control.host_sleeping.store(1, Ordering::SeqCst);
            if control.state.load(Ordering::SeqCst) != STATE_DONE {
                futex_wait(&control.state, STATE_REQUEST, Some(DEATH_CHECK_INTERVAL));
            }
            control.host_sleeping.store(0, Ordering::SeqCst);
            if control.state.load(Ordering::Acquire) == STATE_DONE {
                break;
            }
            let now = Instant::now();
            if last_check.is_none_or(|at| now - at >= DEATH_CHECK_INTERVAL) {
                last_check = Some(now);
                if let Some(died) = self.reap_if_dead() {
                    return Err(died);
                }
            }
        }
        let result = control.result;
        control.state.store(STATE_IDLE, Ordering::SeqCst);
        Ok(result)
    }

    /// Maps `slice` at `address` unless this worker already has exactly it there.
    fn ensure_mapped(
        &mut self,
        address: u64,
        slice: &SharedSlice,
        protection: libc::c_int,
    ) -> Result<(), ProcessSandboxError> {
        if self.mapped.get(&address) == Some(&slice.id) {
            return Ok(());
        }
        let args = [address, slice.length, slice.kind as u64, slice.offset, protection as u64, 0];
        let result = self.request(CMD_MAP, args)?;
        if result < 0 {
            return Err(ProcessSandboxError::Worker { what: "mapping an arena slice", errno: -result as i32 });
        }
        self.mapped.insert(address, slice.id);
        self.protection.remove(&address);
        Ok(())
    }

    /// Sets the worker's page protection of a reservation to `regions`.
    fn protect(
        &mut self,
        base: u64,
        regions: &mut dyn Iterator<Item = (u64, u64, bool)>,
    ) -> Result<(), ProcessSandboxError> {
        let mut count = 0;
        {
            // SAFETY: the worker is idle, so the host owns the list.
            let control = unsafe { &mut *self.control };
            for (start, end, writable) in regions {
                if count == LIST_LEN {
                    return Err(ProcessSandboxError::TooManyRegions(LIST_LEN));
                }
                control.list[count] = [start | (u64::from(writable) << 63), end];
                count += 1;
            }
            control.count = count as u64;
        }
        let result = self.request(CMD_PROTECT, [base, 0, 0, 0, 0, 0])?;
        if result < 0 {
            return Err(ProcessSandboxError::Worker { what: "protecting guest pages", errno: -result as i32 });
        }
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.pid > 0 {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, core::ptr::null_mut(), libc::__WALL);
            }
        }
        // SAFETY: our own mappings; the worker that used them is gone.
        unsafe {
            libc::munmap(self.control.cast(), CONTROL_SIZE);
            libc::munmap(self.stack.cast(), WORKER_STACK_SIZE);
        }
    }
}

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let timespec = timeout.map(|timeout| libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    });
    let timespec_pointer = timespec.as_ref().map_or(core::ptr::null(), |timespec| timespec as *const libc::timespec);
    // SAFETY: a shared (not private: the word is in memory shared between processes) futex
    // wait on a live atomic; a wrong `expected` only makes it return at once.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, timespec_pointer);
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: wakes sleepers on a live atomic; harmless if there are none.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// The address ranges a worker keeps: the host executable's mappings (the worker's code),
/// the worker's stack and its control block. Everything else is unmapped at start-up.
fn keep_list(control: u64, stack: u64) -> Result<Vec<[u64; 2]>, ProcessSandboxError> {
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|error| ProcessSandboxError::Host {
        what: "reading /proc/self/maps",
        errno: error.raw_os_error().unwrap_or(0),
    })?;
    let code = worker_main as *const () as u64;
    let parse = |line: &str| -> Option<(u64, u64, String)> {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let (_perms, _offset, device, inode) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        Some((u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?, format!("{device} {inode}")))
    };
    let mappings: Vec<(u64, u64, String)> = maps.lines().filter_map(parse).collect();
    let file = mappings
        .iter()
        .find(|(start, end, _)| (*start..*end).contains(&code))
        .map(|(_, _, file)| file.clone())
        .ok_or(ProcessSandboxError::Host { what: "finding the executable's mappings", errno: libc::ENOENT })?;
    let mut keep: Vec<[u64; 2]> =
        mappings.iter().filter(|(_, _, mapped)| *mapped == file).map(|&(start, end, _)| [start, end]).collect();
    keep.push([control, control + CONTROL_SIZE as u64]);
    keep.push([stack, stack + WORKER_STACK_SIZE as u64]);
    keep.sort_unstable();
    Ok(keep)
}

/// The restartable-sequences area of this thread, as glibc (2.35 and later) registers it:
/// `__rseq_offset` from the thread pointer, `__rseq_size` bytes.
fn rseq_area() -> [u64; 2] {
    // SAFETY: looks up data symbols by name; absent ones (another C library) give null.
    let (offset, size) = unsafe {
        (
            libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()).cast::<isize>(),
            libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()).cast::<u32>(),
        )
    };
    if offset.is_null() || size.is_null() {
        return [0, 0];
    }
    let thread_pointer: u64;
    // SAFETY: reads the `fs` base (the thread pointer; FSGSBASE is required by the compiled
    // backend); the two symbols are plain data of the C library.
    let (offset, size) = unsafe {
        core::arch::asm!("rdfsbase {}", out(reg) thread_pointer, options(nomem, nostack, preserves_flags));
        (*offset, *size)
    };
    if size == 0 {
        return [0, 0];
    }
    [thread_pointer.wrapping_add(offset as u64), u64::from(size)]
}

/// The worker's seccomp-bpf program: system calls it needs are allowed, everything else kills
/// the process (`SECCOMP_RET_KILL_PROCESS`, which the host sees as `SIGSYS`).
fn seccomp_filter(memory_fd: i32, code_fd: i32) -> Vec<libc::sock_filter> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    // Offsets in `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const ARG4: u32 = 16 + 4 * 8;
    let statement = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter { code: code as u16, jt, jf, k };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let equal = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let allowed = [
        libc::SYS_futex,
        libc::SYS_mprotect,
        libc::SYS_munmap,
        libc::SYS_rt_sigreturn,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    let mut program = vec![
        statement(load, ARCH),
        jump(equal, AUDIT_ARCH_X86_64, 1, 0),
        statement(ret, RET_KILL_PROCESS),
        statement(load, NR),
    ];
    for (i, &number) in allowed.iter().enumerate() {
        // Matching: jump to the `allow` at the end of this list; the `mmap` check (4
        // instructions) and the kill lie in between.
        let to_allow = (allowed.len() - i - 1) + 5;
        program.push(jump(equal, number as u32, to_allow as u8, 0));
    }
    // `mmap` of the arenas only (its fifth argument, the descriptor).
    program.push(jump(equal, libc::SYS_mmap as u32, 0, 3));
    program.push(statement(load, ARG4));
    program.push(jump(equal, memory_fd as u32, 2, 0));
    program.push(jump(equal, code_fd as u32, 1, 0));
    program.push(statement(ret, RET_KILL_PROCESS));
    program.push(statement(ret, RET_ALLOW));
    debug_assert!(program.len() <= FILTER_LEN);
    program
}

// ---------------------------------------------------------------------------------------------
// The worker side. Everything below runs in the worker process, which must not touch the
// heap, thread-local storage or anything of the host's it unmaps at start-up: only raw system
// calls, its stack, and the control block.

/// A raw system call (no `errno`, which lives in thread-local storage the worker unmaps).
///
/// # Safety
/// As for the system call made.
#[inline(always)]
unsafe fn raw_syscall(number: i64, args: [u64; 6]) -> i64 {
    let result: i64;
    // SAFETY: the `syscall` instruction with the x86-64 Linux convention; the kernel clobbers
    // rcx and r11 only.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

// The signal return trampoline the worker's handlers return through: glibc's lives in libc,
// which the worker unmaps.
core::arch::global_asm!(
    ".pushsection .text.pvm_worker_sigreturn,\"ax\",@progbits",
    ".globl pvm_executor_worker_sigreturn",
    ".hidden pvm_executor_worker_sigreturn",
    "pvm_executor_worker_sigreturn:",
    "mov eax, 15",
    "syscall",
    "ud2",
    ".popsection",
);

extern "C" {
    fn pvm_executor_worker_sigreturn();
}

/// The kernel's `struct sigaction` on x86-64.
#[repr(C)]
struct KernelSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

const SA_RESTORER: u64 = 0x0400_0000;

/// The worker's fault handler: the in-process handler's job, without thread-local storage.
/// Guest code runs with `gs` = the memory base and the context right below it, so the
/// context is found from the `gs` base.
extern "C" fn worker_fault(signal: libc::c_int, _info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let gs: u64;
    // SAFETY: `rdgsbase` only reads the `gs` base (the process sandbox needs FSGSBASE, as the
    // compiled backend does); the signal did not change it.
    unsafe { core::arch::asm!("rdgsbase {}", out(reg) gs, options(nomem, nostack, preserves_flags)) };
    if gs != 0 && gs % 4096 == 0 && !context.is_null() {
        // SAFETY: a nonzero page-aligned `gs` base is a memory base set by the entry
        // trampoline, with the context page (shared, mapped read-write) right below it; a
        // bogus one faults again here, which kills the worker (the signal is blocked while
        // its handler runs), as any fault outside guest code should. The kernel passes a valid
        // `ucontext_t` for `SA_SIGINFO` handlers.
        unsafe {
            let ctx = &mut *((gs - core::mem::size_of::<VmCtx>() as u64) as *mut VmCtx);
            let ucontext = &mut *context.cast::<libc::ucontext_t>();
            let rip = ucontext.uc_mcontext.gregs[libc::REG_RIP as usize] as u64;
            if rip >= ctx.code_start && rip < ctx.code_end {
                ctx.fault_rip = rip;
                ucontext.uc_mcontext.gregs[libc::REG_RIP as usize] = ctx.fault_exit as i64;
                return;
            }
        }
    }
    // Not a guest fault: die of it.
    let default = KernelSigaction { handler: libc::SIG_DFL as u64, flags: 0, restorer: 0, mask: 0 };
    // SAFETY: resets the signal to its default action; returning re-executes the faulting
    // instruction, which then kills the process.
    unsafe {
        raw_syscall(libc::SYS_rt_sigaction, [signal as u64, &default as *const _ as u64, 0, 8, 0, 0]);
    }
}

/// Start-up, then the command loop. Runs in the new process on its own stack.
extern "C" fn worker_main(argument: *mut libc::c_void) -> libc::c_int {
    let control = argument.cast::<Control>();
    // SAFETY: the control block is shared memory mapped before the worker started and kept
    // mapped by it; only the worker writes the plain fields while the state is `REQUEST`.
    let result = unsafe { start(&mut *control) };
    // SAFETY: as above.
    unsafe {
        (*control).result = result;
        finish(&*control);
        serve(control)
    }
}

/// Drops the host's privileges, files and memory; 0 or `-errno`.
///
/// # Safety
/// Only in a freshly started worker, with `control` filled in by [`ProcessSandbox::spawn`].
unsafe fn start(control: &mut Control) -> i64 {
    let [memory_fd, code_fd] = control.arena_fds;
    // SAFETY: each call below changes only this new process's own state.
    unsafe {
        // Signals: default actions everywhere (the host's handlers are the host's), then the
        // fault handler for SIGSEGV and SIGBUS; nothing blocked.
        let default = KernelSigaction { handler: libc::SIG_DFL as u64, flags: 0, restorer: 0, mask: 0 };
        for signal in 1..=64u64 {
            if signal != libc::SIGKILL as u64 && signal != libc::SIGSTOP as u64 {
                raw_syscall(libc::SYS_rt_sigaction, [signal, &default as *const _ as u64, 0, 8, 0, 0]);
            }
        }
        let fault = KernelSigaction {
            handler: worker_fault as *const () as u64,
            flags: libc::SA_SIGINFO as u64 | SA_RESTORER,
            restorer: pvm_executor_worker_sigreturn as *const () as u64,
            mask: 0,
        };
        for signal in [libc::SIGSEGV, libc::SIGBUS] {
            let result = raw_syscall(libc::SYS_rt_sigaction, [signal as u64, &fault as *const _ as u64, 0, 8, 0, 0]);
            if result < 0 {
                return result;
            }
        }
        // The C library's restartable sequence, registered with the signature glibc uses on
        // x86-64 and, depending on its version, 32 bytes or `__rseq_size`.
        let [area, size] = control.rseq;
        if area != 0 {
            const RSEQ_FLAG_UNREGISTER: u64 = 1;
            const RSEQ_SIG: u64 = 0x5305_3053;
            let mut result = raw_syscall(libc::SYS_rseq, [area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, 0, 0]);
            if result < 0 && size != 32 {
                result = raw_syscall(libc::SYS_rseq, [area, size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG, 0, 0]);
            }
            if result < 0 {
                return result;
            }
        }
        let empty = 0u64;
        raw_syscall(libc::SYS_rt_sigprocmask, [libc::SIG_SETMASK as u64, &empty as *const _ as u64, 0, 8, 0, 0]);
        // Out of the host's session (no terminal signals), dies with the host, no new
        // privileges, no core dumps or ptrace by others.
        raw_syscall(libc::SYS_setsid, [0; 6]);
        for (option, value) in
            [(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64), (libc::PR_SET_NO_NEW_PRIVS, 1), (libc::PR_SET_DUMPABLE, 0)]
        {
            let result = raw_syscall(libc::SYS_prctl, [option as u64, value, 0, 0, 0, 0]);
            if result < 0 {
                return result;
            }
        }
        // Every file but the arenas closed.
        let (low, high) = (memory_fd.min(code_fd), memory_fd.max(code_fd));
        for (first, last) in [(0, low.wrapping_sub(1)), (low + 1, high - 1), (high + 1, u64::from(u32::MAX))] {
            if first <= last && last != u64::MAX {
                let result = raw_syscall(libc::SYS_close_range, [first, last, 0, 0, 0, 0]);
                if result < 0 {
                    return result;
                }
            }
        }
        let zero = [0u64; 2];
        for resource in [libc::RLIMIT_NOFILE, libc::RLIMIT_NPROC, libc::RLIMIT_FSIZE, libc::RLIMIT_CORE] {
            let result = raw_syscall(libc::SYS_setrlimit, [resource as u64, &zero as *const _ as u64, 0, 0, 0, 0]);
            if result < 0 {
                return result;
            }
        }
        // The filter, from the control block (the heap is about to go).
        let program = libc::sock_fprog { len: control.filter_len as u16, filter: control.filter.as_mut_ptr() };
        let result = raw_syscall(
            libc::SYS_prctl,
            [libc::PR_SET_SECCOMP as u64, libc::SECCOMP_MODE_FILTER as u64, &program as *const _ as u64, 0, 0, 0],
        );
        if result < 0 {
            return result;
        }
        // Everything but the kept ranges unmapped: the gaps between them.
        let top = 0x7fff_ffff_f000u64;
        let mut from = 0u64;
        let count = (control.count as usize).min(LIST_LEN);
        for index in 0..=count {
            let to = if index < count { control.list[index][0] } else { top };
            if to > from {
                raw_syscall(libc::SYS_munmap, [from, to - from, 0, 0, 0, 0]);
            }
            if index < count {
                from = from.max(control.list[index][1]);
            }
        }
    }
    0
}

/// Hands a finished command's result to the host.
fn finish(control: &Control) {
    control.state.store(STATE_DONE, Ordering::SeqCst);
    if control.host_sleeping.load(Ordering::SeqCst) != 0 {
        // SAFETY: a shared futex wake on the state word.
        unsafe { raw_syscall(libc::SYS_futex, [control.state.as_ptr() as u64, libc::FUTEX_WAKE as u64, 1, 0, 0, 0]) };
    }
}

/// The command loop.
///
/// # Safety
/// Only in a started worker.
unsafe fn serve(control: *mut Control) -> ! {
    loop {
        // SAFETY: shared fields are atomics.
        let shared = unsafe { &*control };
        let mut spins = 0;
        loop {
            let state = shared.state.load(Ordering::Acquire);
            if state == STATE_REQUEST {
                break;
            }
            if spins < SPINS {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            shared.worker_sleeping.store(1, Ordering::SeqCst);
            if shared.state.load(Ordering::SeqCst) == state {
                // SAFETY: a shared futex wait on the state word.
                unsafe {
                    raw_syscall(
                        libc::SYS_futex,
                        [shared.state.as_ptr() as u64, libc::FUTEX_WAIT as u64, u64::from(state), 0, 0, 0],
                    )
                };
            }
            shared.worker_sleeping.store(0, Ordering::SeqCst);
        }
        // SAFETY: the state is `REQUEST`: the worker owns the plain fields until it sets
        // `DONE`.
        let result = unsafe { execute(&mut *control) };
        // SAFETY: as above.
        unsafe { (*control).result = result };
        finish(shared);
    }
}

/// Executes one command; its result.
///
/// # Safety
/// The state is `REQUEST`.
unsafe fn execute(control: &mut Control) -> i64 {
    let args = control.args;
    match control.command {
        CMD_MAP => {
            let [address, length, kind, offset, protection, _] = args;
            let fd = control.arena_fds[usize::from(kind == ArenaKind::Code as u64)];
            let flags = (libc::MAP_SHARED | libc::MAP_FIXED | libc::MAP_NORESERVE) as u64;
            // SAFETY: maps an arena slice over whatever the worker had there: only stale
            // slices can be there, never the worker's own stack, code or control block, which
            // the host keeps mapped (and so never reuses) for the worker's life.
            let result = unsafe { raw_syscall(libc::SYS_mmap, [address, length, protection, flags, fd, offset]) };
            result.min(0)
        }
        CMD_PROTECT => {
            let base = args[0];
            let context = base - super::CONTEXT_SIZE as u64;
            let read_write = (libc::PROT_READ | libc::PROT_WRITE) as u64;
            // SAFETY: changes protections inside a reservation the worker has mapped.
            unsafe {
                let mut result = raw_syscall(libc::SYS_mprotect, [base, super::GUEST_SPACE as u64, 0, 0, 0, 0]);
                if result == 0 {
                    result =
                        raw_syscall(libc::SYS_mprotect, [context, super::CONTEXT_SIZE as u64, read_write, 0, 0, 0]);
                }
                let count = (control.count as usize).min(LIST_LEN);
                for index in 0..count {
                    if result != 0 {
                        break;
                    }
                    let [start, end] = control.list[index];
                    let writable = start >> 63 != 0;
                    let start = start & !(1 << 63);
                    let protection = if writable { read_write } else { libc::PROT_READ as u64 };
                    result = raw_syscall(libc::SYS_mprotect, [base + start, end - start, protection, 0, 0, 0]);
                }
                result
            }
        }
        CMD_RUN => {
            let [trampoline, base, target, ..] = args;
            // Whether `gs` already holds this base (a host-call exit of the same instance left
            // it so), as `CompiledProgram::run` is told in-process.
            let gs: u64;
            // SAFETY: reads the `gs` base (FSGSBASE is required by the compiled backend).
            unsafe { core::arch::asm!("rdgsbase {}", out(reg) gs, options(nomem, nostack, preserves_flags)) };
            // SAFETY: the host checked that the code and the reservation are mapped here as
            // in the host and prepared the context, as `CompiledProgram::run` requires; `gs`
            // was just read.
            unsafe {
                let trampoline: extern "sysv64" fn(*mut u8, *const u8, u64) = core::mem::transmute(trampoline as usize);
                trampoline(base as *mut u8, target as *const u8, u64::from(gs == base));
            }
            0
        }
        // SAFETY: a system call with no arguments, as a test of the filter asks for.
        CMD_SYSCALL => unsafe { raw_syscall(args[0] as i64, [0; 6]) },
        _ => -i64::from(libc::EINVAL),
    }
}
