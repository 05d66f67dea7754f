//! The interpreter: the reference semantics every other backend is tested against.
//!
//! A module is decoded once into a flat array of instructions, indexed like the decoded
//! program, with branch targets rewritten from pcs into array indices. Gas is charged when
//! control enters a gas block: every instruction that ends a block (a taken or untaken branch,
//! a jump, `fallthrough`) pays for the block it continues into before continuing, and entry
//! points pay before the run starts. So the run loop is nothing but one dispatch per
//! instruction; the semantics are the [`InstructionVisitor`](crate::program::InstructionVisitor)
//! methods in [`semantics`], generated from the one instruction table.

mod semantics;

use crate::gas::BlockCosts;
use crate::instance::Exit;
use crate::memory::GuestMemory;
use crate::program::{DecodedProgram, Instruction, REG_COUNT};
use semantics::{Interrupt, Machine, CONTINUE, STOP};

/// An index that means "not a valid branch target": taking the branch panics.
pub(crate) const INVALID_TARGET: u32 = u32::MAX;

/// A module compiled for the interpreter. Shared by every instance of the module.
#[derive(Debug)]
pub struct InterpreterProgram {
    /// The decoded instructions, branch targets rewritten to indices into this array.
    ops: Vec<Instruction>,
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
                Some(target) => decoded.instruction.with_branch_target(target_index(target)),
                None => decoded.instruction,
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
        self.run_impl::<false>(program, decoded, &mut |_| {})
    }

    /// Like [`InterpreterState::run`], calling `hook` before every instruction.
    pub fn run_traced(
        &mut self,
        program: &InterpreterProgram,
        decoded: &DecodedProgram,
        hook: &mut dyn FnMut(TraceStep),
    ) -> Stop {
        self.run_impl::<true>(program, decoded, hook)
    }

    #[inline(always)]
    fn run_impl<const TRACE: bool>(
        &mut self,
        program: &InterpreterProgram,
        decoded: &DecodedProgram,
        hook: &mut dyn FnMut(TraceStep),
    ) -> Stop {
        let ops = &program.ops[..];
        let mut machine = Machine {
            regs: self.regs,
            memory: &mut self.memory,
            program,
            decoded,
            gas: self.gas,
            ip: self.ip,
            interrupt: Interrupt::Halt,
        };
        let mut ip = self.ip as usize;
        let stop = loop {
            let Some(&instruction) = ops.get(ip) else { unreachable!("the program ends with the sentinel trap") };
            if TRACE {
                let decoded_instruction = &decoded.instructions()[ip];
                hook(TraceStep {
                    pc: decoded_instruction.pc,
                    instruction: decoded_instruction.instruction,
                    regs: &machine.regs,
                    gas: machine.gas,
                });
            }
            machine.ip = ip as u32;
            match instruction.visit(&mut machine) {
                CONTINUE => ip += 1,
                STOP => break stop(decoded, ip, machine.interrupt),
                target => ip = target as usize,
            }
        };
        self.regs = machine.regs;
        self.gas = machine.gas;
        self.ip = match stop.resume {
            Resume::At(next) | Resume::Recharge(next) => next,
            Resume::Never => ip as u32,
        };
        stop
    }
}

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
