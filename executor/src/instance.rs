//! Instances: a module's registers, gas and memory, and running them.
//!
//! This file only dispatches: each backend keeps its own instance state (`InterpretedInstance`,
//! `CompiledInstance`, with the same methods) and reports how a run ended as the shared
//! `Stop` vocabulary of the `exit` module.

use crate::compiler::CompiledInstance;
use crate::error::{CallError, Error};
use crate::exit::{Exit, PanicReason, Resume, Start};
use crate::gas::starts_gas_block;
use crate::interpreter::{InterpretedInstance, TraceStep};
use crate::memory::{read_memory_vec_with, MemoryAccessError};
use crate::module::{Code, EntryPoint, Module};
use crate::program::{Reg, HALT_ADDRESS, REG_COUNT};

/// What `run` will do next.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Next {
    /// Nothing prepared, or the last run ended for good.
    Idle,
    /// Start at instruction `index` (paying for its gas block, or for the rest of it when
    /// `index` is in the middle of one); `pc` is where an out-of-gas stop there is reported.
    Start { index: usize, pc: u32 },
    /// Continue at instruction `index` after a resumable stop, with nothing to pay.
    Resume(usize),
    /// Panic immediately: the entry pc is not an instruction.
    InvalidEntry(u32),
}

/// The backend-specific part of an instance.
#[derive(Clone, Debug)]
enum State {
    Interpreted(InterpretedInstance),
    Compiled(CompiledInstance),
}

/// Runs `$body` with `$state` bound to the backend's instance, whichever it is (both have the
/// same methods).
macro_rules! with_backend {
    ($self:expr, $state:ident => $body:expr) => {
        match $self {
            State::Interpreted($state) => $body,
            State::Compiled($state) => $body,
        }
    };
}

/// A running copy of a module.
///
/// Typical use: [`Instance::call`] for a whole call, or [`Instance::prepare_call`] and then
/// [`Instance::run`] in a loop that services [`Exit::HostCall`]s.
///
/// On the compiler backend each instance owns a sandbox: 4 GiB of reserved (not committed)
/// address space (see the `sandbox` module). Cloning such an instance copies its memory into a
/// new sandbox, and panics if the process is out of address space.
#[derive(Clone, Debug)]
pub struct Instance {
    module: Module,
    state: State,
    next: Next,
    pc: Option<u32>,
}

impl Instance {
    /// Creates an instance with the module's initial memory, zeroed registers and no gas.
    pub fn new(module: &Module) -> Result<Instance, Error> {
        if module.engine.inner.config.compile_only {
            // Its engine skipped the checks that running needs (`Config::compile_only`).
            return Err(Error::CompileOnly);
        }
        let image = module.inner.container.as_ref().map(|container| &container.image);
        let state = match &module.inner.code {
            Code::Interpreted(program) => State::Interpreted(InterpretedInstance::new(program, image)),
            Code::Compiled(program) => State::Compiled(CompiledInstance::new(program, image).map_err(Error::Mapping)?),
        };
        Ok(Instance { module: module.clone(), state, next: Next::Idle, pc: None })
    }

    /// The module this instance runs.
    pub fn module(&self) -> &Module {
        &self.module
    }

    #[inline]
    fn regs_ref(&self) -> &[u64; REG_COUNT] {
        with_backend!(&self.state, state => state.regs())
    }

    #[inline]
    fn regs_mut(&mut self) -> &mut [u64; REG_COUNT] {
        with_backend!(&mut self.state, state => state.regs_mut())
    }

    fn gas_mut(&mut self) -> &mut i64 {
        with_backend!(&mut self.state, state => state.gas_mut())
    }

    /// Sets up a call with PolkaVM's convention: registers cleared, `RA = 0xffff0000` (so
    /// returning halts), `SP` at the top of the stack, arguments in `A0..A5`.
    ///
    /// `export` is the export's name or an [`ExportIndex`](crate::ExportIndex) from
    /// [`Module::export_index`].
    pub fn prepare_call(&mut self, export: impl EntryPoint, args: &[u64]) -> Result<(), Error> {
        let pc = export.export_pc(&self.module)?;
        if args.len() > Reg::ARGS.len() {
            return Err(Error::TooManyArguments(args.len()));
        }
        let sp = self.module.memory_map().map_or(0, |map| u64::from(map.default_sp()));
        let regs = self.regs_mut();
        *regs = [0; REG_COUNT];
        regs[Reg::RA as usize] = u64::from(HALT_ADDRESS);
        regs[Reg::SP as usize] = sp;
        for (reg, &value) in Reg::ARGS.iter().zip(args) {
            regs[*reg as usize] = value;
        }
        self.set_next_pc(pc);
        Ok(())
    }

    /// Makes the next [`Instance::run`] start at `pc`. Entering in the middle of a gas block
    /// first charges for it: the whole block for a container blob (as PolkaVM 0.37), the rest
    /// of it for a raw program (see [`Semantics`](crate::program::Semantics)); a pc that is not
    /// an instruction panics at once.
    pub fn set_next_pc(&mut self, pc: u32) {
        let decoded = &self.module.inner.decoded;
        self.next = match decoded.index_of(pc) {
            Some(index) => Next::Start { index, pc },
            None => Next::InvalidEntry(pc),
        };
    }

    /// Runs until the guest halts, panics, runs out of gas, page-faults or calls the host.
    // Inlined into the host-call loops of other crates (the linker's), which call it once per
    // host call.
    #[inline]
    pub fn run(&mut self) -> Result<Exit, Error> {
        self.run_with(None)
    }

    /// Like [`Instance::run`], calling `hook` before every instruction. Only the interpreter
    /// can trace; on the compiler backend this returns [`Error::TracingUnsupported`].
    pub fn run_traced(&mut self, hook: &mut dyn FnMut(TraceStep)) -> Result<Exit, Error> {
        if !matches!(self.state, State::Interpreted(_)) {
            return Err(Error::TracingUnsupported);
        }
        self.run_with(Some(hook))
    }

    // Inlined with `run` into the caller's host-call loop: the exit then stays in registers
    // instead of going back through memory on every host call.
    #[inline]
    fn run_with(&mut self, hook: Option<&mut dyn FnMut(TraceStep)>) -> Result<Exit, Error> {
        let start = match self.next {
            Next::Idle => return Err(Error::NotRunnable),
            Next::InvalidEntry(pc) => {
                self.next = Next::Idle;
                self.pc = Some(pc);
                return Ok(Exit::Panic(PanicReason::InvalidEntry));
            }
            Next::Start { index, pc } => {
                let charge = self.entry_charge(index);
                if charge > 0 {
                    let gas = self.gas_mut();
                    if *gas < charge as i64 {
                        self.pc = Some(pc);
                        return Ok(Exit::OutOfGas);
                    }
                    *gas -= charge as i64;
                }
                Start::Enter(index)
            }
            Next::Resume(index) => Start::Resume(index),
        };
        let decoded = &self.module.inner.decoded;
        let stop = match &mut self.state {
            State::Interpreted(state) => state.run(decoded, start, hook),
            State::Compiled(state) => match state.run(decoded, start) {
                Ok(stop) => stop,
                Err(error) => {
                    // The worker died mid-run: the instance cannot go on from here.
                    self.next = Next::Idle;
                    return Err(error.into());
                }
            },
        };
        self.pc = Some(stop.pc);
        self.next = match stop.resume {
            Resume::Never => Next::Idle,
            Resume::At(index) => Next::Resume(index as usize),
            Resume::Recharge(index) => Next::Start { index: index as usize, pc: stop.pc },
        };
        Ok(stop.exit)
    }

    /// Calls an export to completion and returns `A0`. Host calls are errors here; use the
    /// `host-functions` crate's linker (or [`Instance::run`]) to service them.
    pub fn call(&mut self, export: impl EntryPoint, args: &[u64]) -> Result<u64, CallError> {
        self.prepare_call(export, args)?;
        let exit = self.run()?;
        let pc = self.pc.unwrap_or(0);
        match CallError::from_exit(exit, pc, |index| {
            self.module.imports().get(index as usize).cloned().unwrap_or_else(|| "?".to_string())
        }) {
            None => Ok(self.reg(Reg::A0)),
            Some(error) => Err(error),
        }
    }

    /// The pc of the instruction the last run stopped at: the halting jump, the faulting or
    /// panicking instruction, the `ecalli`, or the start of the block that ran out of gas.
    #[inline]
    pub fn pc(&self) -> Option<u32> {
        self.pc
    }

    /// Whether [`Instance::run`] can continue (after a host call, out of gas or page fault).
    pub fn is_resumable(&self) -> bool {
        matches!(self.next, Next::Resume(_) | Next::Start { .. })
    }

    /// The gas to pay before entering at instruction `index`: what the backend does not charge
    /// itself: nothing at a block start for a backend that charges blocks on entry, else
    /// [`BlockCosts::entry`](crate::gas::BlockCosts::entry) (which follows the program's
    /// `Semantics` inside a block).
    fn entry_charge(&self, index: usize) -> u64 {
        let inner = &self.module.inner;
        let Some(costs) = &inner.block_costs else { return 0 };
        let backend_charges_block = match self.state {
            State::Interpreted(_) => InterpretedInstance::CHARGES_BLOCK_ON_ENTRY,
            State::Compiled(_) => CompiledInstance::CHARGES_BLOCK_ON_ENTRY,
        };
        if backend_charges_block && starts_gas_block(inner.decoded.instructions(), index) {
            0
        } else {
            u64::from(costs.entry(&inner.decoded, index))
        }
    }

    /// A register's value.
    #[inline]
    pub fn reg(&self, reg: Reg) -> u64 {
        self.regs_ref()[reg as usize]
    }

    /// Sets a register.
    #[inline]
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        self.regs_mut()[reg as usize] = value;
    }

    /// All registers, `r0..r12`.
    pub fn regs(&self) -> [u64; REG_COUNT] {
        *self.regs_ref()
    }

    /// Sets all registers.
    pub fn set_regs(&mut self, regs: [u64; REG_COUNT]) {
        *self.regs_mut() = regs;
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        with_backend!(&self.state, state => state.gas())
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        *self.gas_mut() = gas;
    }

    /// Reads guest memory (any accessible page, read-only included).
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        with_backend!(&self.state, state => state.read_memory(address, out))
    }

    /// Reads `length` bytes of guest memory into a new vector. The vector grows only as far as
    /// the range is readable, so a guest-chosen length cannot make the host allocate for memory
    /// the guest does not have ([`read_memory_vec_with`]).
    pub fn read_memory_vec(&self, address: u32, length: u32) -> Result<Vec<u8>, MemoryAccessError> {
        read_memory_vec_with(address, length, |address, out| self.read_memory(address, out))
    }

    /// Writes guest memory (any accessible page: the host may fill read-only data).
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        with_backend!(&mut self.state, state => state.write_memory(address, data))
    }

    /// Guest memory `[address, address + length)` as one mutable slice, when every byte of it
    /// is writable and (on the interpreter) it lies in one region, such as the heap; `None`
    /// otherwise. For host code that works in place on a guest buffer (a heap allocator
    /// keeping its headers in guest memory, as Substrate's does) instead of copying it in and
    /// out with [`Instance::read_memory`]/[`Instance::write_memory`].
    // Inlined, with the layers under it down to the page map, because a Substrate runtime's
    // heap allocator calls it several times per host call, from another crate.
    #[inline]
    pub fn memory_slice_mut(&mut self, address: u32, length: usize) -> Option<&mut [u8]> {
        with_backend!(&mut self.state, state => state.memory_slice_mut(address, length))
    }

    /// Whether `[address, address + length)` is accessible to the guest (and writable, if
    /// `write`).
    pub fn is_memory_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        with_backend!(&self.state, state => state.is_accessible(address, length, write))
    }

    /// Grows the heap by `size` bytes; returns the new heap top, or `None` if it cannot grow
    /// that far. Container programs only.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        with_backend!(&mut self.state, state => state.sbrk(size))
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        with_backend!(&self.state, state => state.heap_size())
    }

    /// The current end of the heap (where the next `sbrk` starts), for container programs.
    pub fn heap_top(&self) -> Option<u32> {
        self.module.memory_map().map(|map| map.heap_base + self.heap_size())
    }

    /// Maps zero-filled pages (raw programs only; page-aligned). Pages that would take the
    /// accessible memory past the engine's [`Config::memory_limit`](crate::Config::memory_limit)
    /// are refused with [`Error::MemoryLimit`], and nothing is mapped.
    pub fn map_memory(&mut self, address: u32, length: u32, writable: bool) -> Result<(), Error> {
        if let Some(limit) = self.module.engine().config().memory_limit {
            let (start, end) = (u64::from(address), u64::from(address) + u64::from(length));
            let (mut accessible, mut overlap) = (0u64, 0u64);
            for (region, region_length, _) in self.memory_regions() {
                let (region_start, region_end) = (u64::from(region), u64::from(region) + u64::from(region_length));
                accessible += region_end - region_start;
                overlap += region_end.min(end).saturating_sub(region_start.max(start));
            }
            let needed = accessible + (end - start) - overlap;
            let limit = crate::program::PageSize::MIN.align_down(limit);
            if needed > limit {
                return Err(Error::MemoryLimit { needed, limit });
            }
        }
        with_backend!(&mut self.state, state => state.map_memory(address, length, writable)).map_err(Error::Mapping)
    }

    /// The accessible regions as `(address, length, writable)`, in address order.
    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        with_backend!(&self.state, state => state.memory_regions())
    }

    /// Restores the module's initial memory (data reloaded, stack zeroed, heap shrunk) so the
    /// instance can serve another call. Raw programs lose their mappings.
    ///
    /// # Panics
    ///
    /// On the compiler backend, if the kernel refuses both to reset the sandbox in place and to
    /// give a new one (out of memory or address space).
    pub fn reset_memory(&mut self) {
        let image = self.module.inner.container.as_ref().map(|container| &container.image);
        with_backend!(&mut self.state, state => state.reset_memory(image));
        self.next = Next::Idle;
    }
}
