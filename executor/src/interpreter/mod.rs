//! The interpreter: the reference semantics every other backend is tested against.
//!
//! A module is decoded once into a flat array of ops, indexed like the decoded program, with
//! branch targets rewritten from pcs into array indices. Each op carries its instruction's
//! handler (one function per instruction, generated from the one instruction table, whose
//! body is the [`InstructionVisitor`](crate::program::InstructionVisitor) method in
//! [`semantics`]). In optimised builds a handler ends by tail-calling the next op's handler, so
//! dispatch is one indirect jump per instruction, made from a different place for each
//! instruction (which the branch predictor likes better than one shared dispatch); debug builds
//! return to the run loop after every instruction instead.
//!
//! Gas is charged when control enters a gas block: every instruction that ends a block (a
//! taken or untaken branch, a jump, `fallthrough`) pays for the block it continues into
//! before continuing, and entry points pay before the run starts.
//!
//! Inside the handlers, loads and stores only try raw windows onto the first few memory regions
//! (the stack first); anything else goes to `slow_access`, which runs it on the full path.

mod semantics;

use crate::exit::{Exit, Resume, Start, Stop};
use crate::gas::BlockCosts;
use crate::memory::{GuestMemory, MemoryAccessError, MemoryImage};
use crate::program::isa::for_each_instruction;
use crate::program::{ArgKind, DecodedInstruction, DecodedProgram, Instruction, InstructionVisitor, Opcode, REG_COUNT};
use semantics::{Flow, Interrupt, Machine, CONTINUE, FALL_THROUGH, SLOW_ACCESS, STOP};
use std::sync::Arc;

/// An index that means "not a valid branch target": taking the branch panics.
pub(crate) const INVALID_TARGET: u32 = u32::MAX;

/// A module compiled for the interpreter. Shared by every instance of the module.
#[derive(Debug)]
pub struct InterpreterProgram {
    /// The decoded instructions, branch targets rewritten to indices into this array.
    ops: Vec<Op>,
    /// For each jump table entry, the index to continue at (or `INVALID_TARGET`).
    jump_table_ops: Vec<u32>,
}

impl InterpreterProgram {
    /// Compiles a decoded program; `costs` is `None` when gas metering is off.
    pub fn new(decoded: &DecodedProgram, costs: Option<&BlockCosts>) -> InterpreterProgram {
        let instructions = decoded.instructions();
        let target_index = |pc: u32| match decoded.index_of(pc) {
            Some(index) if instructions[index].block_start => index as u32,
            _ => INVALID_TARGET,
        };
        let op = |decoded: &DecodedInstruction, cost: u32| {
            let handler = match decoded.instruction.opcode() {
                Some(opcode) => HANDLERS[opcode as usize],
                None => handlers::invalid,
            };
            Op { handler, instruction: decoded.instruction, cost }
        };
        let mut ops: Vec<Op> = match costs {
            Some(costs) => {
                instructions.iter().zip(costs.as_slice()).map(|(decoded, &cost)| op(decoded, cost)).collect()
            }
            None => instructions.iter().map(|decoded| op(decoded, 0)).collect(),
        };
        // Branch targets, from pcs to op indices (in a second pass: the first one stays a copy).
        for op in &mut ops {
            if op.instruction.opcode().is_some_and(|opcode| HAS_TARGET[opcode as usize]) {
                if let Some(target) = op.instruction.branch_target() {
                    op.instruction = op.instruction.with_branch_target(target_index(target));
                }
            }
        }
        let jump_table_ops = decoded.jump_table().iter().map(|&pc| target_index(pc)).collect();
        InterpreterProgram { ops, jump_table_ops }
    }

    /// Approximate heap memory held by the compiled form.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of_val(&self.ops[..]) + self.jump_table_ops.len() * 4
    }
}

/// One instruction about to run, as the trace hook sees it.
#[derive(Copy, Clone, Debug)]
pub struct TraceStep<'a> {
    /// The instruction's pc.
    pub pc: u32,
    /// The instruction, as decoded (branch targets are pcs).
    pub instruction: Instruction,
    /// Registers before it runs.
    pub regs: &'a [u64; REG_COUNT],
    /// Gas left before it runs (its block has already been charged).
    pub gas: i64,
}

/// Execution state of one interpreted instance.
#[derive(Clone, Debug)]
pub struct InterpreterState {
    /// Registers.
    pub regs: [u64; REG_COUNT],
    /// Gas left.
    pub gas: i64,
    /// Guest memory.
    pub memory: GuestMemory,
    /// The instruction to run next.
    pub ip: u32,
}

/// One interpreted instance: its execution state and the module's interpreter code. This is
/// the interpreter's side of the backend seam; the compiler's is `CompiledInstance`, with the
/// same methods.
#[derive(Clone, Debug)]
pub(crate) struct InterpretedInstance {
    state: InterpreterState,
    program: Arc<InterpreterProgram>,
}

impl InterpretedInstance {
    /// An instance of `program` with zeroed registers, no gas, and the initial memory of
    /// `image` (container programs) or none (raw programs).
    pub fn new(program: &Arc<InterpreterProgram>, image: Option<&Arc<MemoryImage>>) -> InterpretedInstance {
        let memory = match image {
            Some(image) => GuestMemory::from_image(image),
            None => GuestMemory::empty(),
        };
        InterpretedInstance {
            state: InterpreterState { regs: [0; REG_COUNT], gas: 0, memory, ip: 0 },
            program: program.clone(),
        }
    }

    /// The interpreter charges every gas block it enters from outside before the run, so the
    /// host charges the whole block (or the rest of it) at any entry.
    pub const CHARGES_BLOCK_ON_ENTRY: bool = false;

    /// Runs from `start` until the program stops, calling `hook` (if any) before every
    /// instruction. The host has charged the entry already.
    pub fn run(&mut self, decoded: &DecodedProgram, start: Start, hook: Option<&mut dyn FnMut(TraceStep)>) -> Stop {
        let (Start::Enter(index) | Start::Resume(index)) = start;
        self.state.ip = index as u32;
        match hook {
            Some(hook) => self.state.run_traced(&self.program, decoded, hook),
            None => self.state.run(&self.program, decoded),
        }
    }

    /// The registers.
    pub fn regs(&self) -> &[u64; REG_COUNT] {
        &self.state.regs
    }

    /// The registers, mutably.
    pub fn regs_mut(&mut self) -> &mut [u64; REG_COUNT] {
        &mut self.state.regs
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.state.gas
    }

    /// Gas left, mutably.
    pub fn gas_mut(&mut self) -> &mut i64 {
        &mut self.state.gas
    }

    /// Reads guest memory.
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.state.memory.read(address, out)
    }

    /// Writes guest memory.
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.state.memory.write(address, data)
    }

    /// Guest memory `[address, address + length)` as a slice, if all of it is writable and
    /// in one region.
    pub fn memory_slice_mut(&mut self, address: u32, length: usize) -> Option<&mut [u8]> {
        self.state.memory.slice_mut(address, length)
    }

    /// Whether the guest may access `[address, address + length)` (and write it, if `write`).
    pub fn is_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        self.state.memory.is_accessible(address, length, write)
    }

    /// Grows the heap; the new top, if it can grow that far.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        self.state.memory.sbrk(size)
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        self.state.memory.heap_size()
    }

    /// Maps zero-filled pages (raw programs).
    pub fn map_memory(&mut self, address: u32, length: u32, writable: bool) -> Result<(), &'static str> {
        self.state.memory.map(address, length, writable)
    }

    /// The accessible regions as `(address, length, writable)`.
    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        self.state.memory.regions()
    }

    /// Restores `image`'s initial memory (container programs) or an empty one (raw programs).
    pub fn reset_memory(&mut self, image: Option<&Arc<MemoryImage>>) {
        match image {
            Some(image) => self.state.memory.reset(image),
            None => self.state.memory = GuestMemory::empty(),
        }
    }
}

impl InterpreterState {
    /// Runs from `self.ip` until the program exits, faults, runs out of gas or calls the host.
    /// The gas for entering at `self.ip` must already have been charged.
    pub(crate) fn run(&mut self, program: &InterpreterProgram, decoded: &DecodedProgram) -> Stop {
        let ip = self.ip as usize;
        let mut machine = self.machine::<false>(program, decoded);
        let Some(first) = program.ops.get(ip) else { unreachable!("the program ends with the sentinel trap") };
        let mut op: *const Op = first;
        loop {
            // SAFETY: `op` points at an element of `program.ops` (`machine.ops`): the first
            // one checked above, the others returned by handlers.
            let handler = unsafe { (*op).handler };
            let gas = machine.gas;
            op = handler(&mut machine, op, gas);
            if op.is_null() {
                break;
            }
        }
        let at = machine.stopped_at as usize;
        let stop = stop(decoded, at, machine.interrupt);
        let (regs, gas) = (machine.regs, machine.gas);
        self.finish(regs, gas, at, stop)
    }

    /// Like [`InterpreterState::run`], calling `hook` before every instruction.
    pub(crate) fn run_traced(
        &mut self,
        program: &InterpreterProgram,
        decoded: &DecodedProgram,
        hook: &mut dyn FnMut(TraceStep),
    ) -> Stop {
        let mut ip = self.ip as usize;
        let mut machine = self.machine::<true>(program, decoded);
        let ops = &program.ops[..];
        let stop = loop {
            let Some(op) = ops.get(ip) else { unreachable!("the program ends with the sentinel trap") };
            let decoded_instruction = &decoded.instructions()[ip];
            hook(TraceStep {
                pc: decoded_instruction.pc,
                instruction: decoded_instruction.instruction,
                regs: &machine.regs,
                gas: machine.gas,
            });
            let flow = match op.instruction.visit(&mut machine) {
                FALL_THROUGH => machine.enter_block(ip as u32 + 1),
                flow @ (CONTINUE | STOP) => flow,
                target => machine.enter_block(target),
            };
            match flow {
                CONTINUE => ip += 1,
                STOP => break stop(decoded, ip, machine.interrupt),
                target => ip = target as usize,
            }
        };
        let (regs, gas) = (machine.regs, machine.gas);
        self.finish(regs, gas, ip, stop)
    }

    fn machine<'a, const FULL: bool>(
        &'a mut self,
        program: &'a InterpreterProgram,
        decoded: &'a DecodedProgram,
    ) -> Machine<'a, FULL> {
        let windows = self.memory.windows();
        Machine {
            regs: self.regs,
            memory: &mut self.memory,
            ops: &program.ops,
            program,
            decoded,
            gas: self.gas,
            interrupt: Interrupt::Halt,
            stopped_at: self.ip,
            windows,
        }
    }

    fn finish(&mut self, regs: [u64; REG_COUNT], gas: i64, ip: usize, stop: Stop) -> Stop {
        self.regs = regs;
        self.gas = gas;
        self.ip = match stop.resume {
            Resume::At(next) | Resume::Recharge(next) => next,
            Resume::Never => ip as u32,
        };
        stop
    }
}

/// Whether handlers continue straight into the next instruction's handler (a tail call, which
/// the optimiser turns into a jump: one indirect jump per instruction, from a different place
/// for each instruction kind, which predicts better than one shared dispatch). Without
/// optimisation the calls would nest, so unoptimised builds return to the run loop instead;
/// `build.rs` sets `pvm_tail_calls` from the optimisation level.
/// (`tests/interpreter_loops.rs` fails if some handler's call stays a call.)
const TAIL_CALLS: bool = cfg!(pvm_tail_calls);

/// An instruction's handler: runs the op `op` points at (an element of `Machine::ops`) with
/// `gas` left, then (with [`TAIL_CALLS`]) the ones after it, and returns the op to continue at,
/// or null once the run has stopped (the reason is in `Machine::interrupt`, the op in
/// `Machine::stopped_at`). The gas left travels in the argument from handler to handler
/// (`Machine::gas` is behind meanwhile) and is stored back before a handler returns.
type Handler = for<'a, 'b> fn(&'a mut Machine<'b, false>, *const Op, i64) -> *const Op;

/// An instruction as the interpreter keeps it: its handler and its operands.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Op {
    handler: Handler,
    instruction: Instruction,
    /// The gas to run from this op to the end of its block (zero when metering is off); at a
    /// block start, the price of entering the block.
    pub(crate) cost: u32,
}

/// The index in `machine.ops` of the op `op` points at.
#[inline(always)]
fn index_of(machine: &Machine<false>, op: *const Op) -> u32 {
    // SAFETY: handlers only get pointers to elements of `machine.ops`.
    unsafe { op.offset_from(machine.ops.as_ptr()) as u32 }
}

/// Continues after the op `op` points at returned `flow`.
#[inline(always)]
fn continue_after(machine: &mut Machine<false>, op: *const Op, mut gas: i64, flow: Flow) -> *const Op {
    let next = match flow {
        // SAFETY: an op that continues is not the last one (the program ends with the
        // sentinel trap, which stops), so the next one is in `machine.ops` too.
        CONTINUE => unsafe { op.add(1) },
        SLOW_ACCESS => {
            machine.gas = gas;
            return slow_access(machine, op);
        }
        STOP => {
            machine.gas = gas;
            return stopped(machine, op);
        }
        _ => {
            // Entering a gas block: `Machine::enter_block`, with the gas in a register.
            let entry = match flow {
                // SAFETY: a terminator is not the last op (that is the sentinel trap), so the
                // next one is in `machine.ops` too.
                FALL_THROUGH => unsafe { op.add(1) },
                target => machine.op_at(target),
            };
            // SAFETY: `entry` points at an element of `machine.ops`.
            let cost = unsafe { (*entry).cost };
            if cost != 0 {
                let cost = i64::from(cost);
                if gas < cost {
                    machine.gas = gas;
                    machine.interrupt = Interrupt::OutOfGas(index_of(machine, entry));
                    return stopped(machine, op);
                }
                gas -= cost;
            }
            entry
        }
    };
    if TAIL_CALLS {
        // SAFETY: `next` points at an element of `machine.ops` (see above and `op_at`).
        let handler = unsafe { (*next).handler };
        handler(machine, next, gas)
    } else {
        machine.gas = gas;
        next
    }
}

#[cold]
fn stopped(machine: &mut Machine<false>, op: *const Op) -> *const Op {
    machine.stopped_at = index_of(machine, op);
    std::ptr::null()
}

/// Runs the load or store `op` points at again on the full memory path (its address is in
/// none of the memory windows), and returns the op to continue at (or null).
#[cold]
#[inline(never)]
fn slow_access(machine: &mut Machine<false>, op: *const Op) -> *const Op {
    // SAFETY: handlers only get pointers to elements of `machine.ops`.
    let instruction = unsafe { (*op).instruction };
    let mut full = Machine::<true> {
        regs: machine.regs,
        memory: &mut *machine.memory,
        ops: machine.ops,
        program: machine.program,
        decoded: machine.decoded,
        gas: machine.gas,
        interrupt: machine.interrupt,
        stopped_at: machine.stopped_at,
        windows: machine.windows,
    };
    let flow = instruction.visit(&mut full);
    machine.regs = full.regs;
    machine.interrupt = full.interrupt;
    machine.refresh_windows();
    match flow {
        // SAFETY: as in `continue_after`.
        CONTINUE => unsafe { op.add(1) },
        STOP => stopped(machine, op),
        _ => unreachable!("loads and stores continue or stop"),
    }
}

macro_rules! define_handlers {
    ($( $name:ident ( $( $field:ident : $ty:ty ),* ); )*) => {
        /// One handler per instruction.
        #[allow(non_snake_case)]
        mod handlers {
            use super::*;
            $(
                pub(super) fn $name(machine: &mut Machine<false>, op: *const Op, gas: i64) -> *const Op {
                    // SAFETY: handlers only get pointers to elements of `machine.ops`.
                    let Instruction::$name( $( $field ),* ) = (unsafe { &*op }).instruction else {
                        // SAFETY: `Op::new` gives each op the handler of its instruction.
                        unsafe { std::hint::unreachable_unchecked() }
                    };
                    let flow = InstructionVisitor::$name(machine, $( $field ),* );
                    continue_after(machine, op, gas, flow)
                }
            )*

            pub(super) fn invalid(machine: &mut Machine<false>, op: *const Op, gas: i64) -> *const Op {
                // SAFETY: as above.
                let Instruction::invalid(raw) = (unsafe { &*op }).instruction else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                let flow = InstructionVisitor::invalid(machine, raw);
                continue_after(machine, op, gas, flow)
            }
        }

        /// Each opcode's handler, in opcode order (`for_each_instruction` lists the table in the
        /// order `Opcode` is declared in).
        static HANDLERS: [Handler; Opcode::COUNT] = [ $( handlers::$name, )* ];

        /// Whether each opcode has a static branch target.
        static HAS_TARGET: [bool; Opcode::COUNT] = {
            let mut table = [false; Opcode::COUNT];
            let mut index = 0;
            while index < Opcode::COUNT {
                let kind = Opcode::ALL[index].kind();
                table[index] = matches!(kind, ArgKind::Offset | ArgKind::RegImmOffset | ArgKind::RegRegOffset);
                index += 1;
            }
            table
        };

    };
}

for_each_instruction!(define_handlers);

/// Where a run stops for `interrupt`, raised by the instruction at `ip`.
#[cold]
fn stop(decoded: &DecodedProgram, ip: usize, interrupt: Interrupt) -> Stop {
    let pc = decoded.instructions()[ip].pc;
    match interrupt {
        Interrupt::Halt => Stop { exit: Exit::Halt, pc, resume: Resume::Never },
        Interrupt::HostCall(index) => Stop { exit: Exit::HostCall(index), pc, resume: Resume::At(ip as u32 + 1) },
        Interrupt::Panic(reason) => Stop { exit: Exit::Panic(reason), pc, resume: Resume::Never },
        Interrupt::PageFault(address) => Stop { exit: Exit::PageFault(address), pc, resume: Resume::At(ip as u32) },
        Interrupt::OutOfGas(entry) => Stop {
            exit: Exit::OutOfGas,
            pc: decoded.instructions()[entry as usize].pc,
            resume: Resume::Recharge(entry),
        },
    }
}
