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

use crate::gas::BlockCosts;
use crate::instance::Exit;
use crate::memory::GuestMemory;
use crate::program::isa::for_each_instruction;
use crate::program::{DecodedProgram, Instruction, InstructionVisitor, REG_COUNT};
use semantics::{Flow, Interrupt, Machine, CONTINUE, FALL_THROUGH, SLOW_ACCESS, STOP};

/// An index that means "not a valid branch target": taking the branch panics.
pub(crate) const INVALID_TARGET: u32 = u32::MAX;

/// A module compiled for the interpreter. Shared by every instance of the module.
#[derive(Debug)]
pub struct InterpreterProgram {
    /// The decoded instructions, branch targets rewritten to indices into this array.
    ops: Vec<Op>,
    /// For each instruction: the gas to run from it to the end of its block (zero when
    /// metering is off); at a block start, the price of entering the block.
    block_costs: Vec<u32>,
    /// For each jump table entry, the index to continue at (or `INVALID_TARGET`).
    jump_table_ops: Vec<u32>,
}

impl InterpreterProgram {
    /// Compiles a decoded program; `costs` is `None` when gas metering is off.
    pub fn new(decoded: &DecodedProgram, costs: Option<&BlockCosts>) -> InterpreterProgram {
        let instructions = decoded.instructions();
        let block_costs = match costs {
            Some(costs) => costs.as_slice().to_vec(),
            None => vec![0; instructions.len()],
        };
        let target_index = |pc: u32| match decoded.index_of(pc) {
            Some(index) if decoded.is_block_start(pc) => index as u32,
            _ => INVALID_TARGET,
        };
        let ops = instructions
            .iter()
            .map(|decoded| match decoded.instruction.branch_target() {
                Some(target) => Op::new(decoded.instruction.with_branch_target(target_index(target))),
                None => Op::new(decoded.instruction),
            })
            .collect();
        let jump_table_ops = decoded.jump_table().iter().map(|&pc| target_index(pc)).collect();
        InterpreterProgram { ops, block_costs, jump_table_ops }
    }

    /// Approximate heap memory held by the compiled form.
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of_val(&self.ops[..]) + (self.block_costs.len() + self.jump_table_ops.len()) * 4
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

/// How execution can continue after a stop.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Resume {
    /// It cannot (halt, panic).
    Never,
    /// At this instruction, with nothing more to pay (after a host call or a page fault).
    At(u32),
    /// By entering the gas block at this instruction again, paying for it (out of gas).
    Recharge(u32),
}

/// Where a run stopped.
#[derive(Copy, Clone, Debug)]
pub struct Stop {
    /// Why.
    pub exit: Exit,
    /// The pc of the instruction (or block, for out of gas) where it stopped.
    pub pc: u32,
    /// How execution can continue.
    pub resume: Resume,
}

impl InterpreterState {
    /// Runs from `self.ip` until the program exits, faults, runs out of gas or calls the host.
    /// The gas for entering at `self.ip` must already have been charged.
    pub fn run(&mut self, program: &InterpreterProgram, decoded: &DecodedProgram) -> Stop {
        let mut ip = self.ip as usize;
        let mut machine = self.machine::<false>(program, decoded);
        let ops = &program.ops[..];
        loop {
            let Some(op) = ops.get(ip) else { unreachable!("the program ends with the sentinel trap") };
            ip = (op.handler)(&mut machine, ip);
            if ip == STOPPED {
                break;
            }
        }
        let at = machine.stopped_at as usize;
        let stop = stop(decoded, at, machine.interrupt);
        let (regs, gas) = (machine.regs, machine.gas);
        self.finish(regs, gas, at, stop)
    }

    /// Like [`InterpreterState::run`], calling `hook` before every instruction.
    pub fn run_traced(
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
                flow => flow,
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

/// What a handler returns once the run has stopped (the reason is in `Machine::interrupt`,
/// the instruction in `Machine::stopped_at`).
const STOPPED: usize = usize::MAX;

/// Whether handlers continue straight into the next instruction's handler (a tail call, which
/// the optimiser turns into a jump: one indirect jump per instruction, from a different place
/// for each instruction kind, which predicts better than one shared dispatch). Without
/// optimisation the calls would nest, so debug builds return to the run loop instead.
const TAIL_CALLS: bool = !cfg!(debug_assertions);

/// Whether jumps, branches and fall-throughs into a new block tail-call too. Without it the
/// chain of tail calls returns to the run loop at the end of every block, so the stack stays
/// bounded by the longest block even if the optimiser failed to turn some call into a jump.
const TAIL_CALL_JUMPS: bool = true;

/// An instruction's handler: runs the op at index `ip`, then (with [`TAIL_CALLS`]) the ones
/// after it, and returns the index to continue at, or [`STOPPED`].
type Handler = for<'a, 'b> fn(&'a mut Machine<'b, false>, usize) -> usize;

/// An instruction as the interpreter keeps it: its handler and its operands.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Op {
    handler: Handler,
    instruction: Instruction,
}

impl Op {
    fn new(instruction: Instruction) -> Op {
        Op { handler: handler_of(&instruction), instruction }
    }
}

/// Continues after the op at `ip` returned `flow`.
#[inline(always)]
fn continue_after(machine: &mut Machine<false>, ip: usize, flow: Flow) -> usize {
    let next = match flow {
        CONTINUE => ip + 1,
        FALL_THROUGH => match machine.enter_block(ip as u32 + 1) {
            STOP => return stopped(machine, ip),
            next if TAIL_CALL_JUMPS => next as usize,
            next => return next as usize,
        },
        SLOW_ACCESS => return slow_access(machine, ip),
        STOP => return stopped(machine, ip),
        target if TAIL_CALL_JUMPS => target as usize,
        target => return target as usize,
    };
    if TAIL_CALLS {
        // SAFETY: `next` is the index of an op: the op after a non-terminator (the program
        // ends with the sentinel trap, which never continues), or a branch or jump table
        // target that `InterpreterProgram::new` resolved to an op index (invalid targets stop
        // before getting here).
        let op = unsafe { machine.ops.get_unchecked(next) };
        (op.handler)(machine, next)
    } else {
        next
    }
}

#[cold]
fn stopped(machine: &mut Machine<false>, ip: usize) -> usize {
    machine.stopped_at = ip as u32;
    STOPPED
}

/// Runs the load or store at `ip` again on the full memory path (its address is in none of the
/// memory windows), and returns where to continue.
#[cold]
#[inline(never)]
fn slow_access(machine: &mut Machine<false>, ip: usize) -> usize {
    let instruction = machine.ops[ip].instruction;
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
        CONTINUE => ip + 1,
        STOP => stopped(machine, ip),
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
                pub(super) fn $name(machine: &mut Machine<false>, ip: usize) -> usize {
                    // SAFETY: handlers only run for op indices (see `continue_after`).
                    let op = unsafe { machine.ops.get_unchecked(ip) };
                    let Instruction::$name( $( $field ),* ) = op.instruction else {
                        // SAFETY: `Op::new` gives each op the handler of its instruction.
                        unsafe { std::hint::unreachable_unchecked() }
                    };
                    let flow = InstructionVisitor::$name(machine, $( $field ),* );
                    continue_after(machine, ip, flow)
                }
            )*

            pub(super) fn invalid(machine: &mut Machine<false>, ip: usize) -> usize {
                // SAFETY: as above.
                let op = unsafe { machine.ops.get_unchecked(ip) };
                let Instruction::invalid(raw) = op.instruction else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                let flow = InstructionVisitor::invalid(machine, raw);
                continue_after(machine, ip, flow)
            }
        }

        fn handler_of(instruction: &Instruction) -> Handler {
            match instruction {
                $( Instruction::$name(..) => handlers::$name, )*
                Instruction::invalid(..) => handlers::invalid,
            }
        }
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
