//! The interpreter: the reference semantics every other backend is tested against.
//!
//! A module is decoded once into a flat array of ops, indexed like the decoded program, with
//! branch targets rewritten from pcs into array indices. Each op carries its instruction's
//! handler (one function per instruction, generated from the one instruction table, whose
//! body is the [`InstructionVisitor`](crate::program::InstructionVisitor) method in
//! [`semantics`]). In optimised builds a handler ends by tail-calling the next op's handler, so
//! dispatch is one indirect jump per instruction, made from a different place for each
//! instruction (which the branch predictor likes better than one shared dispatch); debug builds
//! return to the run loop after every instruction instead, and so do optimised builds whose
//! tail calls turn out not to be jumps (a start-up check, [`tail_calls_are_flat`], runs them once
//! and watches the stack: a call that nests would let a long-running guest overflow the host's
//! stack).
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
        InterpreterProgram::with_handlers(decoded, costs, dispatch_handlers())
    }

    /// [`InterpreterProgram::new`] with the handlers of `table` (one of the dispatch modes).
    fn with_handlers(decoded: &DecodedProgram, costs: Option<&BlockCosts>, table: &HandlerTable) -> InterpreterProgram {
        let instructions = decoded.instructions();
        let target_index = |pc: u32| match decoded.index_of(pc) {
            Some(index) if instructions[index].block_start => index as u32,
            _ => INVALID_TARGET,
        };
        let op = |decoded: &DecodedInstruction, cost: u32| {
            let handler = match decoded.instruction.opcode() {
                Some(opcode) => table.by_opcode[opcode as usize],
                None => table.invalid,
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
    #[inline]
    pub fn regs(&self) -> &[u64; REG_COUNT] {
        &self.state.regs
    }

    /// The registers, mutably.
    #[inline]
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

/// Whether this build has the tail-call dispatch at all: handlers continue straight into the
/// next instruction's handler (a tail call, which the optimiser usually turns into a jump: one
/// indirect jump per instruction, from a different place for each instruction kind, which
/// predicts better than one shared dispatch). Without optimisation the calls would nest, so
/// `build.rs` only sets `pvm_tail_calls` for optimised builds without debug assertions. Even
/// then the jump is not guaranteed (sanitizer builds, some profiles, another compiler keep the
/// calls), so [`dispatch_handlers`] only uses the tail-call handlers after
/// [`tail_calls_are_flat`] has seen them keep the stack flat in this very binary.
/// (`tests/interpreter_loops.rs` fails if some handler's call stays a call.)
const TAIL_CALLS: bool = cfg!(pvm_tail_calls);

/// Dispatch modes, the const parameter of the handlers and of [`continue_after`].
/// `LOOP`: a handler returns the next op to the run loop.
const LOOP: u8 = 0;
/// `TAIL`: a handler tail-calls the next op's handler (only with [`TAIL_CALLS`]; else as `LOOP`).
const TAIL: u8 = 1;
/// `NEST` (tests only): a handler calls the next op's handler and cannot turn the call into a
/// jump, which is what `TAIL` becomes in a build that keeps the calls; the tests give the
/// start-up check this mode to see that it notices the stack growing.
#[cfg(test)]
const NEST: u8 = 2;

/// The handlers of one dispatch mode: one per opcode, in opcode order, and the one for bytes
/// that are no instruction.
struct HandlerTable {
    by_opcode: [Handler; Opcode::COUNT],
    invalid: Handler,
}

/// The handlers new programs get: the tail-call ones if this build has them and they keep the
/// stack flat here, the loop ones otherwise. Decided once per process; afterwards one load.
fn dispatch_handlers() -> &'static HandlerTable {
    if TAIL_CALLS && tail_calls_are_flat() {
        &HANDLERS_TAIL
    } else {
        &HANDLERS_LOOP
    }
}

/// Whether the tail-call handlers run in constant stack in this binary, checked once per
/// process (see [`stack_stays_flat`]). Logged once, since a `false` costs interpreter speed.
fn tail_calls_are_flat() -> bool {
    static FLAT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FLAT.get_or_init(|| {
        let flat = stack_stays_flat(&HANDLERS_TAIL);
        if !flat {
            log::warn!(
                "the interpreter's tail calls grow the stack in this build (not turned into jumps); \
                 it dispatches from a loop instead, more slowly"
            );
        }
        flat
    })
}

/// How many times [`stack_stays_flat`]'s program goes round its loop. Each round nests at least
/// seven handler frames when calls are not jumps, so the growth shows at once; the number is kept
/// small because when the check fails, it has run on the caller's stack with that many frames.
const PROBE_ROUNDS: u64 = 16;

/// Runs a small loop program with the handlers of `table` and reports whether the stack stayed
/// flat: a probe op before the loop and one after it record where their frame is, and with
/// calls that became jumps (or a loop dispatch) both are called at the same depth, straight
/// from the run loop; with calls that nest, the second is [`PROBE_ROUNDS`] rounds of handler
/// frames deeper. The loop body has the instruction kinds that end a handler differently
/// (straight on, a store and load through the memory windows, a fall-through into a block and
/// a taken branch), since each is its own call site in [`continue_after`].
fn stack_stays_flat(table: &HandlerTable) -> bool {
    use crate::program::{CodeBuilder, InstructionSet, RawProgram, Reg};
    const DATA: u32 = 0x20000;
    let (first, second, counter) = (Reg::A0, Reg::A1, Reg::A5);
    let mut builder = CodeBuilder::new(InstructionSet::JamV1);
    let top = builder.new_label();
    builder.push(Instruction::load_imm(first, 0)); // the first probe
    builder.push(Instruction::fallthrough());
    builder.bind(top);
    builder.push(Instruction::add_imm_64(counter, counter, u32::MAX));
    builder.push(Instruction::store_imm_u32(DATA, 0x55));
    builder.push(Instruction::store_u32(counter, DATA + 4));
    builder.push(Instruction::load_u32(Reg::T0, DATA + 4));
    builder.push(Instruction::add_64(Reg::T1, Reg::T0, counter));
    builder.push(Instruction::fallthrough());
    builder.push_branch(Instruction::branch_not_eq_imm(counter, 0, 0), top);
    builder.push(Instruction::load_imm(second, 0)); // the second probe
    builder.push(Instruction::trap());
    let Ok(built) = builder.build() else { return false };
    let decoded = RawProgram::from_code(built.code).decode();
    let mut program = InterpreterProgram::with_handlers(&decoded, None, table);
    let mut probes = 0;
    for op in program.ops.iter_mut().filter(|op| matches!(op.instruction, Instruction::load_imm(..))) {
        op.handler = probe;
        probes += 1;
    }
    if probes != 2 {
        return false;
    }
    let mut memory = GuestMemory::empty();
    if memory.map(DATA, 0x1000, true).is_err() {
        return false;
    }
    let mut regs = [0; REG_COUNT];
    regs[counter as usize] = PROBE_ROUNDS;
    let mut state = InterpreterState { regs, gas: 0, memory, ip: 0 };
    let stop = state.run(&program, &decoded);
    let (first, second) = (state.regs[first as usize], state.regs[second as usize]);
    matches!(stop.exit, Exit::Panic(crate::PanicReason::Trap))
        && state.regs[counter as usize] == 0
        && first != 0
        && first == second
}

/// The probe of [`stack_stays_flat`], in place of a `load_imm`: writes the address of one of its
/// locals (where its frame is) to the `load_imm`'s register and returns the next op to the run
/// loop. It never tail-calls (its local's address escapes), so it is always a frame of its own.
#[inline(never)]
fn probe(machine: &mut Machine<false>, op: *const Op, gas: i64) -> *const Op {
    let marker = 0u8;
    let at = std::hint::black_box(&marker) as *const u8 as u64;
    // SAFETY: handlers only get pointers to elements of `machine.ops`.
    if let Instruction::load_imm(reg, _) = (unsafe { &*op }).instruction {
        machine.regs[reg as usize] = at;
    }
    machine.gas = gas;
    // SAFETY: the probe ops are followed by another op (the program ends with `trap`).
    unsafe { op.add(1) }
}

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

/// Continues after the op `op` points at returned `flow`, in dispatch mode `MODE`.
#[inline(always)]
fn continue_after<const MODE: u8>(machine: &mut Machine<false>, op: *const Op, mut gas: i64, flow: Flow) -> *const Op {
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
    #[cfg(test)]
    if MODE == NEST {
        // SAFETY: `next` points at an element of `machine.ops` (see above and `op_at`).
        let handler = unsafe { (*next).handler };
        // Used after the call, so the call cannot become a jump.
        return std::hint::black_box(handler(machine, next, gas));
    }
    if TAIL_CALLS && MODE == TAIL {
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
                pub(super) fn $name<const MODE: u8>(machine: &mut Machine<false>, op: *const Op, gas: i64) -> *const Op {
                    // SAFETY: handlers only get pointers to elements of `machine.ops`.
                    let Instruction::$name( $( $field ),* ) = (unsafe { &*op }).instruction else {
                        // SAFETY: `Op::new` gives each op the handler of its instruction.
                        unsafe { std::hint::unreachable_unchecked() }
                    };
                    let flow = InstructionVisitor::$name(machine, $( $field ),* );
                    continue_after::<MODE>(machine, op, gas, flow)
                }
            )*

            pub(super) fn invalid<const MODE: u8>(machine: &mut Machine<false>, op: *const Op, gas: i64) -> *const Op {
                // SAFETY: as above.
                let Instruction::invalid(raw) = (unsafe { &*op }).instruction else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                let flow = InstructionVisitor::invalid(machine, raw);
                continue_after::<MODE>(machine, op, gas, flow)
            }
        }

        // Each mode's handlers, in opcode order (`for_each_instruction` lists the table in the
        // order `Opcode` is declared in).
        /// The handlers that return to the run loop.
        static HANDLERS_LOOP: HandlerTable =
            HandlerTable { by_opcode: [ $( handlers::$name::<LOOP>, )* ], invalid: handlers::invalid::<LOOP> };
        /// The handlers that tail-call the next one (with [`TAIL_CALLS`]).
        static HANDLERS_TAIL: HandlerTable =
            HandlerTable { by_opcode: [ $( handlers::$name::<TAIL>, )* ], invalid: handlers::invalid::<TAIL> };
        /// The handlers that nest (tests only).
        #[cfg(test)]
        static HANDLERS_NEST: HandlerTable =
            HandlerTable { by_opcode: [ $( handlers::$name::<NEST>, )* ], invalid: handlers::invalid::<NEST> };

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{CodeBuilder, InstructionSet, RawProgram, Reg};

    #[test]
    fn the_check_sees_nesting_calls_grow_the_stack() {
        // What the tail-call handlers become in a build whose calls stay calls (the sanitizer
        // build of the fuzz target was one): the check must refuse them.
        assert!(!stack_stays_flat(&HANDLERS_NEST));
    }

    #[test]
    fn the_check_passes_the_loop_dispatch() {
        assert!(stack_stays_flat(&HANDLERS_LOOP));
    }

    #[test]
    fn the_check_passes_the_tail_calls_of_an_optimised_build() {
        // This workspace's test profile builds the executor as a release build is built, so
        // the check must find the tail calls flat here, or release builds would silently lose
        // the fast dispatch.
        eprintln!("interpreter tail-call dispatch compiled in: {TAIL_CALLS}");
        if TAIL_CALLS {
            assert!(stack_stays_flat(&HANDLERS_TAIL));
            assert!(std::ptr::eq(dispatch_handlers(), &HANDLERS_TAIL));
        } else {
            assert!(std::ptr::eq(dispatch_handlers(), &HANDLERS_LOOP));
        }
    }

    /// Runs a loop of `rounds` rounds (five instructions each) with the handlers of `table` on
    /// a thread with a 128 KiB stack, and checks that it ran to the end.
    fn long_loop_on_a_small_stack(table: &'static HandlerTable, rounds: u64) {
        const DATA: u32 = 0x20000;
        let counter = Reg::A5;
        let mut builder = CodeBuilder::new(InstructionSet::JamV1);
        let top = builder.new_label();
        builder.push(Instruction::fallthrough());
        builder.bind(top);
        builder.push(Instruction::add_imm_64(counter, counter, u32::MAX));
        builder.push(Instruction::store_u32(counter, DATA));
        builder.push(Instruction::load_u32(Reg::T0, DATA));
        builder.push(Instruction::add_64(Reg::T1, Reg::T1, Reg::T0));
        builder.push_branch(Instruction::branch_not_eq_imm(counter, 0, 0), top);
        builder.push(Instruction::trap());
        let decoded = RawProgram::from_code(builder.build().expect("builds").code).decode();
        let outcome = std::thread::Builder::new()
            .stack_size(128 << 10)
            .spawn(move || {
                let program = InterpreterProgram::with_handlers(&decoded, None, table);
                let mut memory = GuestMemory::empty();
                memory.map(DATA, 0x1000, true).expect("maps");
                let mut regs = [0; REG_COUNT];
                regs[counter as usize] = rounds;
                let mut state = InterpreterState { regs, gas: 0, memory, ip: 0 };
                let stop = state.run(&program, &decoded);
                (stop.exit, state.regs)
            })
            .expect("spawns")
            .join()
            .expect("no stack overflow");
        assert_eq!(outcome.0, Exit::Panic(crate::PanicReason::Trap));
        assert_eq!(outcome.1[counter as usize], 0, "every round ran");
        // The sum of rounds-1 .. 0.
        assert_eq!(outcome.1[Reg::T1 as usize], rounds * (rounds - 1) / 2);
    }

    #[test]
    fn the_loop_dispatch_runs_millions_of_instructions_on_a_small_stack() {
        // The dispatch a build gets when the check refuses its tail calls.
        long_loop_on_a_small_stack(&HANDLERS_LOOP, 1_000_000);
    }

    #[test]
    fn the_chosen_dispatch_runs_millions_of_instructions_on_a_small_stack() {
        long_loop_on_a_small_stack(dispatch_handlers(), 1_000_000);
    }
}
