//! Instances: a module's registers, gas and memory, and running them.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::compiler::x86_64::{CompiledProgram, EntryPoint};
use crate::error::{CallError, Error};
use crate::gas::starts_gas_block;
use crate::interpreter::{InterpreterState, Resume, TraceStep};
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::memory::Fault;
use crate::memory::{GuestMemory, MemoryAccessError};
use crate::module::Module;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::program::{DecodedProgram, Instruction};
use crate::program::{Reg, HALT_ADDRESS, REG_COUNT};
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use crate::sandbox::{signals, Sandbox};
use core::fmt;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
use std::sync::Arc;

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
    /// Start at instruction `index` (paying for its gas block, or for the rest of it when
    /// `index` is in the middle of one); `pc` is where an out-of-gas stop there is reported.
    Start { index: usize, pc: u32 },
    /// Continue where the last run stopped.
    Resume,
    /// Panic immediately: the entry pc is not an instruction.
    InvalidEntry(u32),
}

/// The backend-specific part of an instance.
#[derive(Debug)]
enum State {
    Interpreter(InterpreterState),
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    Compiled(CompiledState),
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[derive(Debug)]
struct CompiledState {
    sandbox: Sandbox,
    program: Arc<CompiledProgram>,
    /// Where a resumable exit continues.
    resume: Option<EntryPoint>,
}

impl Clone for State {
    fn clone(&self) -> Self {
        match self {
            State::Interpreter(state) => State::Interpreter(state.clone()),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => {
                let mut sandbox = match state.sandbox.try_clone() {
                    Ok(sandbox) => sandbox,
                    Err(error) => panic!("cloning an instance failed: {error}"),
                };
                state.program.prepare_ctx(sandbox.ctx_mut());
                State::Compiled(CompiledState { sandbox, program: state.program.clone(), resume: state.resume })
            }
        }
    }
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

fn initial_memory(module: &Module) -> GuestMemory {
    match &module.inner.container {
        Some(container) => GuestMemory::from_image(&container.image),
        None => GuestMemory::empty(),
    }
}

impl Instance {
    /// Creates an instance with the module's initial memory, zeroed registers and no gas.
    pub fn new(module: &Module) -> Result<Instance, Error> {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if let Some(program) = &module.inner.compiled {
            let mut sandbox = match &module.inner.container {
                Some(container) => Sandbox::from_image(&container.image),
                None => Sandbox::new(),
            }
            .map_err(Error::Mapping)?;
            program.prepare_ctx(sandbox.ctx_mut());
            return Ok(Instance {
                module: module.clone(),
                state: State::Compiled(CompiledState { sandbox, program: program.clone(), resume: None }),
                next: Next::Idle,
                pc: None,
            });
        }
        Ok(Instance {
            module: module.clone(),
            state: State::Interpreter(InterpreterState {
                regs: [0; REG_COUNT],
                gas: 0,
                memory: initial_memory(module),
                ip: 0,
            }),
            next: Next::Idle,
            pc: None,
        })
    }

    /// The module this instance runs.
    pub fn module(&self) -> &Module {
        &self.module
    }

    fn regs_ref(&self) -> &[u64; REG_COUNT] {
        match &self.state {
            State::Interpreter(state) => &state.regs,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => &state.sandbox.ctx().regs,
        }
    }

    fn regs_mut(&mut self) -> &mut [u64; REG_COUNT] {
        match &mut self.state {
            State::Interpreter(state) => &mut state.regs,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => &mut state.sandbox.ctx_mut().regs,
        }
    }

    fn gas_mut(&mut self) -> &mut i64 {
        match &mut self.state {
            State::Interpreter(state) => &mut state.gas,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => &mut state.sandbox.ctx_mut().gas,
        }
    }

    /// Sets up a call with PolkaVM's convention: registers cleared, `RA = 0xffff0000` (so
    /// returning halts), `SP` at the top of the stack, arguments in `A0..A5`.
    pub fn prepare_call(&mut self, export: &str, args: &[u64]) -> Result<(), Error> {
        let pc = self.module.export_pc(export).ok_or_else(|| Error::UnknownExport(export.to_string()))?;
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
    /// first charges the rest of that block; a pc that is not an instruction panics at once.
    pub fn set_next_pc(&mut self, pc: u32) {
        let decoded = &self.module.inner.decoded;
        self.next = match decoded.index_of(pc) {
            Some(index) => Next::Start { index, pc },
            None => Next::InvalidEntry(pc),
        };
    }

    /// Runs until the guest halts, panics, runs out of gas, page-faults or calls the host.
    pub fn run(&mut self) -> Result<Exit, Error> {
        self.run_with(None)
    }

    /// Like [`Instance::run`], calling `hook` before every instruction. Only the interpreter
    /// can trace; on the compiler backend this returns [`Error::Config`].
    pub fn run_traced(&mut self, hook: &mut dyn FnMut(TraceStep)) -> Result<Exit, Error> {
        if !matches!(self.state, State::Interpreter(_)) {
            return Err(Error::Config("instruction tracing needs the interpreter backend".to_string()));
        }
        self.run_with(Some(hook))
    }

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
                Some(index)
            }
            Next::Resume => None,
        };
        let inner = &self.module.inner;
        let (exit, pc, next) = match &mut self.state {
            State::Interpreter(state) => {
                let program = inner.interpreter.as_ref().expect("interpreter modules have the interpreter's form");
                if let Some(index) = start {
                    state.ip = index as u32;
                }
                let stop = match hook {
                    Some(hook) => state.run_traced(program, &inner.decoded, hook),
                    None => state.run(program, &inner.decoded),
                };
                let next = match stop.resume {
                    Resume::Never => Next::Idle,
                    Resume::At(_) => Next::Resume,
                    Resume::Recharge(entry) => Next::Start { index: entry as usize, pc: stop.pc },
                };
                (stop.exit, stop.pc, next)
            }
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => {
                let entry = match start {
                    Some(index) if starts_gas_block(inner.decoded.instructions(), index) => EntryPoint::Block(index),
                    Some(index) => EntryPoint::Instruction(index),
                    None => state.resume.ok_or(Error::NotRunnable)?,
                };
                let (exit, pc, resumable) = run_compiled(state, &inner.decoded, entry);
                (exit, pc, if resumable { Next::Resume } else { Next::Idle })
            }
        };
        self.pc = Some(pc);
        self.next = next;
        Ok(exit)
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

    /// The gas to pay before entering at instruction `index`: what the backend does not charge
    /// itself. The interpreter charges whole blocks here; compiled code charges a block on
    /// entering it, so only entering in the middle of a block costs the rest of it here.
    fn entry_charge(&self, index: usize) -> u64 {
        let inner = &self.module.inner;
        let Some(costs) = &inner.block_costs else { return 0 };
        match &self.state {
            State::Interpreter(_) => u64::from(costs.from(index)),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(_) if !starts_gas_block(inner.decoded.instructions(), index) => {
                u64::from(costs.from(index))
            }
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(_) => 0,
        }
    }

    /// A register's value.
    pub fn reg(&self, reg: Reg) -> u64 {
        self.regs_ref()[reg as usize]
    }

    /// Sets a register.
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
        match &self.state {
            State::Interpreter(state) => state.gas,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.ctx().gas,
        }
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        *self.gas_mut() = gas;
    }

    /// Reads guest memory (any accessible page, read-only included).
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        match &self.state {
            State::Interpreter(state) => state.memory.read(address, out),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.read(address, out),
        }
    }

    /// Reads `length` bytes of guest memory into a new vector.
    pub fn read_memory_vec(&self, address: u32, length: u32) -> Result<Vec<u8>, MemoryAccessError> {
        let mut out = vec![0; length as usize];
        self.read_memory(address, &mut out)?;
        Ok(out)
    }

    /// Writes guest memory (any accessible page: the host may fill read-only data).
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        match &mut self.state {
            State::Interpreter(state) => state.memory.write(address, data),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.write(address, data),
        }
    }

    /// Whether `[address, address + length)` is accessible to the guest (and writable, if
    /// `write`).
    pub fn is_memory_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        match &self.state {
            State::Interpreter(state) => state.memory.is_accessible(address, length, write),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.is_accessible(address, length, write),
        }
    }

    /// Grows the heap by `size` bytes; returns the new heap top, or `None` if it cannot grow
    /// that far. Container programs only.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        match &mut self.state {
            State::Interpreter(state) => state.memory.sbrk(size),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.sbrk(size),
        }
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        match &self.state {
            State::Interpreter(state) => state.memory.heap_size(),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.heap_size(),
        }
    }

    /// The current end of the heap (where the next `sbrk` starts), for container programs.
    pub fn heap_top(&self) -> Option<u32> {
        self.module.memory_map().map(|map| map.heap_base + self.heap_size())
    }

    /// Maps zero-filled pages (raw programs only; page-aligned).
    pub fn map_memory(&mut self, address: u32, length: u32, writable: bool) -> Result<(), Error> {
        match &mut self.state {
            State::Interpreter(state) => state.memory.map(address, length, writable),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.map(address, length, writable),
        }
        .map_err(Error::Mapping)
    }

    /// The accessible regions as `(address, length, writable)`, in address order.
    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        match &self.state {
            State::Interpreter(state) => state.memory.regions(),
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => state.sandbox.regions(),
        }
    }

    /// Restores the module's initial memory (data reloaded, stack zeroed, heap shrunk) so the
    /// instance can serve another call. Raw programs lose their mappings.
    pub fn reset_memory(&mut self) {
        match &mut self.state {
            State::Interpreter(state) => match &self.module.inner.container {
                Some(container) => state.memory.reset(&container.image),
                None => state.memory = initial_memory(&self.module),
            },
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            State::Compiled(state) => {
                let image = self.module.inner.container.as_ref().map(|container| &*container.image);
                if let Err(error) = state.sandbox.reset(image) {
                    // Only an exhausted kernel (mprotect/madvise failing) gets here; a fresh
                    // sandbox is the same state.
                    log::warn!("resetting guest memory in place failed ({error}); using a new sandbox");
                    let fresh = match image {
                        Some(image) => Sandbox::from_image(image),
                        None => Sandbox::new(),
                    };
                    match fresh {
                        Ok(mut sandbox) => {
                            let ctx = state.sandbox.ctx();
                            let (regs, gas) = (ctx.regs, ctx.gas);
                            state.program.prepare_ctx(sandbox.ctx_mut());
                            sandbox.ctx_mut().regs = regs;
                            sandbox.ctx_mut().gas = gas;
                            state.sandbox = sandbox;
                        }
                        Err(error) => panic!("cannot recreate guest memory: {error}"),
                    }
                }
                state.resume = None;
            }
        }
        self.next = Next::Idle;
    }
}

/// Runs compiled code from `entry` and turns its exit into the interpreter's terms:
/// `(exit, pc, resumable)`.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn run_compiled(state: &mut CompiledState, decoded: &DecodedProgram, entry: EntryPoint) -> (Exit, u32, bool) {
    use crate::compiler::x86_64 as native;
    let program = &state.program;
    let ctx = state.sandbox.ctx_ptr();
    signals::set_running(ctx);
    // SAFETY: the sandbox is live and its context was prepared for this program when the
    // instance was created (or cloned, or its sandbox replaced); the engine installed the
    // fault handler before creating any compiled module.
    unsafe { program.run(state.sandbox.base(), entry) };
    signals::set_running(core::ptr::null_mut());

    let instructions = decoded.instructions();
    let ctx = state.sandbox.ctx();
    let index = ctx.exit_index as usize;
    let pc_of = |index: usize| instructions.get(index).map_or(0, |instruction| instruction.pc);
    let (exit, pc, resume) = match ctx.exit_kind {
        native::EXIT_HALT => (Exit::Halt, pc_of(index), None),
        native::EXIT_TRAP => (Exit::Panic(PanicReason::Trap), pc_of(index), None),
        native::EXIT_INVALID_INSTRUCTION => (Exit::Panic(PanicReason::InvalidInstruction), pc_of(index), None),
        native::EXIT_INVALID_BRANCH => (Exit::Panic(PanicReason::InvalidBranch), pc_of(index), None),
        native::EXIT_INVALID_JUMP => (Exit::Panic(PanicReason::InvalidJump), pc_of(index), None),
        native::EXIT_HOST_CALL => match instructions.get(index).map(|instruction| instruction.instruction) {
            Some(Instruction::ecalli(number)) => {
                (Exit::HostCall(number), pc_of(index), Some(EntryPoint::Instruction(index + 1)))
            }
            _ => internal_error(pc_of(index), "a host call exit that is no ecalli"),
        },
        native::EXIT_OUT_OF_GAS => (Exit::OutOfGas, pc_of(index), Some(EntryPoint::Block(index))),
        native::EXIT_FAULT => match program.instruction_at(ctx.fault_rip) {
            Some(index) => {
                let instruction = instructions[index].instruction;
                let fault = CompiledProgram::fault_access(instruction, &ctx.regs)
                    .and_then(|(address, length, write)| state.sandbox.classify(address, length, write));
                match fault {
                    Some(Fault::PageFault(page)) => {
                        (Exit::PageFault(page), pc_of(index), Some(EntryPoint::Instruction(index)))
                    }
                    Some(Fault::Panic) => (Exit::Panic(PanicReason::MemoryBelowMinimum), pc_of(index), None),
                    // The access is allowed after all: nothing the guest did explains the
                    // fault. Stop the guest rather than the host.
                    None => internal_error(pc_of(index), "a fault on memory the guest may access"),
                }
            }
            None => internal_error(0, "a fault outside any instruction"),
        },
        _ => internal_error(0, "an unknown exit kind"),
    };
    // Asynchronous metering: an exit past the limit is out of gas (and final).
    if program.gas_mode() == crate::compiler::GasMode::Async && ctx.gas < 0 && exit != Exit::OutOfGas {
        state.resume = None;
        return (Exit::OutOfGas, pc, false);
    }
    state.resume = resume;
    (exit, pc, resume.is_some())
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[cold]
fn internal_error(pc: u32, what: &str) -> (Exit, u32, Option<EntryPoint>) {
    // Never expected; if it happens, the guest stops with a panic instead of the host.
    log::error!("compiled code reported {what} at pc {pc}; stopping the guest");
    (Exit::Panic(PanicReason::Trap), pc, None)
}
