//! Instances: a module's registers, gas and memory, and running them.

use crate::error::{CallError, Error};
use crate::interpreter::{InterpreterState, Resume, TraceStep};
use crate::memory::{GuestMemory, MemoryAccessError};
use crate::module::Module;
use crate::program::{Reg, HALT_ADDRESS, REG_COUNT};
use core::fmt;

/// How a run stopped.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Exit {
    /// A dynamic jump to `0xffff0000`: the program finished normally.
    Halt,
    /// The program panicked (trap, undefined instruction, invalid jump, access below 64 KiB).
    Panic(PanicReason),
    /// The next basic block costs more gas than is left. Resumable once gas is added.
    OutOfGas,
    /// An access to an inaccessible page (this is its address). Resumable: the faulting
    /// instruction runs again, for hosts that map the page.
    PageFault(u32),
    /// `ecalli` with this import index. Resumable: set the result registers, then `run` again.
    HostCall(u32),
}

/// Why a program panicked.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum PanicReason {
    /// A `trap` instruction, or running past the end of the code.
    Trap,
    /// An opcode the instruction set does not define.
    InvalidInstruction,
    /// A branch to something that is not a basic block start.
    InvalidBranch,
    /// A dynamic jump to zero, a misaligned or out-of-range address, or a non-block target.
    InvalidJump,
    /// A memory access below address 0x10000.
    MemoryBelowMinimum,
    /// Execution was started at a pc that is not an instruction.
    InvalidEntry,
}

impl fmt::Display for PanicReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PanicReason::Trap => "trap",
            PanicReason::InvalidInstruction => "undefined instruction",
            PanicReason::InvalidBranch => "branch to a non-basic-block target",
            PanicReason::InvalidJump => "invalid dynamic jump",
            PanicReason::MemoryBelowMinimum => "memory access below 0x10000",
            PanicReason::InvalidEntry => "entry at a pc that is not an instruction",
        })
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Halt => f.write_str("halt"),
            Exit::Panic(reason) => write!(f, "panic ({reason})"),
            Exit::OutOfGas => f.write_str("out of gas"),
            Exit::PageFault(address) => write!(f, "page fault at 0x{address:08x}"),
            Exit::HostCall(index) => write!(f, "host call {index}"),
        }
    }
}

/// What `run` will do next.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Next {
    /// Nothing prepared, or the last run ended for good.
    Idle,
    /// Start at this op, after charging this much gas (entry in the middle of a gas block).
    Start { op: u32, charge: u64, pc: u32 },
    /// Continue where the last run stopped.
    Resume,
    /// Panic immediately: the entry pc is not an instruction.
    InvalidEntry(u32),
}

/// A running copy of a module.
///
/// Typical use: [`Instance::call`] for a whole call, or [`Instance::prepare_call`] and then
/// [`Instance::run`] in a loop that services [`Exit::HostCall`]s.
#[derive(Clone, Debug)]
pub struct Instance {
    module: Module,
    state: InterpreterState,
    next: Next,
    pc: Option<u32>,
}

impl Instance {
    /// Creates an instance with the module's initial memory, zeroed registers and no gas.
    pub fn new(module: &Module) -> Result<Instance, Error> {
        let memory = match &module.inner.container {
            Some(container) => GuestMemory::from_image(&container.image),
            None => GuestMemory::empty(),
        };
        Ok(Instance {
            module: module.clone(),
            state: InterpreterState { regs: [0; REG_COUNT], gas: 0, memory, ip: 0 },
            next: Next::Idle,
            pc: None,
        })
    }

    /// The module this instance runs.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Sets up a call with PolkaVM's convention: registers cleared, `RA = 0xffff0000` (so
    /// returning halts), `SP` at the top of the stack, arguments in `A0..A5`.
    pub fn prepare_call(&mut self, export: &str, args: &[u64]) -> Result<(), Error> {
        let pc = self.module.export_pc(export).ok_or_else(|| Error::UnknownExport(export.to_string()))?;
        if args.len() > Reg::ARGS.len() {
            return Err(Error::TooManyArguments(args.len()));
        }
        self.state.regs = [0; REG_COUNT];
        self.state.regs[Reg::RA as usize] = u64::from(HALT_ADDRESS);
        self.state.regs[Reg::SP as usize] = self.module.memory_map().map_or(0, |map| u64::from(map.default_sp()));
        for (reg, &value) in Reg::ARGS.iter().zip(args) {
            self.state.regs[*reg as usize] = value;
        }
        self.set_next_pc(pc);
        Ok(())
    }

    /// Makes the next [`Instance::run`] start at `pc`. Entering in the middle of a gas block
    /// first charges the rest of that block; a pc that is not an instruction panics at once.
    pub fn set_next_pc(&mut self, pc: u32) {
        let decoded = &self.module.inner.decoded;
        self.next = match decoded.index_of(pc) {
            Some(index) => {
                let (op, charge) =
                    self.module.inner.interpreter.entry(decoded, self.module.inner.costs.as_ref(), index);
                Next::Start { op, charge, pc }
            }
            None => Next::InvalidEntry(pc),
        };
    }

    /// Runs until the guest halts, panics, runs out of gas, page-faults or calls the host.
    pub fn run(&mut self) -> Result<Exit, Error> {
        self.run_with(None)
    }

    /// Like [`Instance::run`], calling `hook` before every instruction (interpreter only; used
    /// for instruction traces).
    pub fn run_traced(&mut self, hook: &mut dyn FnMut(TraceStep)) -> Result<Exit, Error> {
        self.run_with(Some(hook))
    }

    fn run_with(&mut self, hook: Option<&mut dyn FnMut(TraceStep)>) -> Result<Exit, Error> {
        match self.next {
            Next::Idle => return Err(Error::NotRunnable),
            Next::InvalidEntry(pc) => {
                self.next = Next::Idle;
                self.pc = Some(pc);
                return Ok(Exit::Panic(PanicReason::InvalidEntry));
            }
            Next::Start { op, charge, pc } => {
                if charge > 0 {
                    if self.state.gas < charge as i64 {
                        self.pc = Some(pc);
                        return Ok(Exit::OutOfGas);
                    }
                    self.state.gas -= charge as i64;
                }
                self.state.ip = op;
            }
            Next::Resume => {}
        }
        let inner = &self.module.inner;
        let stop = match hook {
            Some(hook) => self.state.run_traced(&inner.interpreter, &inner.decoded, hook),
            None => self.state.run(&inner.interpreter, &inner.decoded),
        };
        self.pc = Some(stop.pc);
        self.next = match stop.resume {
            Resume::Never => Next::Idle,
            Resume::At(_) => Next::Resume,
            Resume::Recharge(entry) => {
                Next::Start { op: entry, charge: inner.interpreter.block_cost(entry), pc: stop.pc }
            }
        };
        Ok(stop.exit)
    }

    /// Calls an export to completion and returns `A0`. Host calls are errors here; use the
    /// `host-functions` crate's linker (or [`Instance::run`]) to service them.
    pub fn call(&mut self, export: &str, args: &[u64]) -> Result<u64, CallError> {
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
    pub fn pc(&self) -> Option<u32> {
        self.pc
    }

    /// Whether [`Instance::run`] can continue (after a host call, out of gas or page fault).
    pub fn is_resumable(&self) -> bool {
        matches!(self.next, Next::Resume | Next::Start { .. })
    }

    /// A register's value.
    pub fn reg(&self, reg: Reg) -> u64 {
        self.state.regs[reg as usize]
    }

    /// Sets a register.
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        self.state.regs[reg as usize] = value;
    }

    /// All registers, `r0..r12`.
    pub fn regs(&self) -> [u64; REG_COUNT] {
        self.state.regs
    }

    /// Sets all registers.
    pub fn set_regs(&mut self, regs: [u64; REG_COUNT]) {
        self.state.regs = regs;
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.state.gas
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        self.state.gas = gas;
    }

    /// Reads guest memory (any accessible page, read-only included).
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.state.memory.read(address, out)
    }

    /// Reads `length` bytes of guest memory into a new vector.
    pub fn read_memory_vec(&self, address: u32, length: u32) -> Result<Vec<u8>, MemoryAccessError> {
        let mut out = vec![0; length as usize];
        self.read_memory(address, &mut out)?;
        Ok(out)
    }

    /// Writes guest memory (any accessible page: the host may fill read-only data).
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.state.memory.write(address, data)
    }

    /// Whether `[address, address + length)` is accessible to the guest (and writable, if
    /// `write`).
    pub fn is_memory_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        self.state.memory.is_accessible(address, length, write)
    }

    /// Grows the heap by `size` bytes; returns the new heap top, or `None` if it cannot grow
    /// that far. Container programs only.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        self.state.memory.sbrk(size)
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        self.state.memory.heap_size()
    }

    /// Maps zero-filled pages (raw programs only; page-aligned).
    pub fn map_memory(&mut self, address: u32, length: u32, writable: bool) -> Result<(), Error> {
        self.state.memory.map(address, length, writable).map_err(Error::Mapping)
    }

    /// The accessible regions as `(address, length, writable)`, in address order.
    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        self.state.memory.regions()
    }

    /// Restores the module's initial memory (data reloaded, stack zeroed, heap shrunk) so the
    /// instance can serve another call. Raw programs lose their mappings.
    pub fn reset_memory(&mut self) {
        self.state.memory = match &self.module.inner.container {
            Some(container) => GuestMemory::from_image(&container.image),
            None => GuestMemory::empty(),
        };
        self.next = Next::Idle;
    }
}
