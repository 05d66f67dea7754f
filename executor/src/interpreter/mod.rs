//! The interpreter: the reference semantics every other backend is tested against.
//!
//! A module is decoded once into a flat array of [`Op`]s: the decoded instructions, with branch
//! targets rewritten from pcs into op indices, and a [`Op::Charge`] in front of every gas block.
//! Running is a loop over that array; the semantics of each instruction are the
//! [`InstructionVisitor`] methods in [`semantics`], generated from the one instruction table.

mod semantics;

use crate::gas::{starts_gas_block, CostModel};
use crate::instance::Exit;
use crate::memory::GuestMemory;
use crate::program::{DecodedProgram, Instruction, REG_COUNT};
use semantics::{Interrupt, Machine, CONTINUE, STOP};

/// An op index that means "not a valid branch target": taking the branch panics.
pub(crate) const INVALID_TARGET: u32 = u32::MAX;

/// One step of the interpreter.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Op {
    /// Charge a gas block's cost before running it.
    Charge(u32),
    /// Run an instruction; branch targets are op indices.
    Run(Instruction),
}

/// A module compiled for the interpreter. Shared by every instance of the module.
#[derive(Debug)]
pub struct InterpreterProgram {
    ops: Vec<Op>,
    /// The pc of each op (a charge op has the pc of the block it charges for).
    pcs: Vec<u32>,
    /// For each decoded instruction, the index of its `Run` op.
    op_of_instruction: Vec<u32>,
    /// For each jump table entry, the op to continue at (or `INVALID_TARGET`).
    jump_table_ops: Vec<u32>,
    metered: bool,
}

impl InterpreterProgram {
    /// Compiles a decoded program; `costs` is `None` when gas metering is off.
    pub fn new(decoded: &DecodedProgram, costs: Option<&CostModel>) -> InterpreterProgram {
        let instructions = decoded.instructions();
        let mut ops = Vec::with_capacity(instructions.len() * 5 / 4);
        let mut pcs = Vec::with_capacity(ops.capacity());
        let mut op_of_instruction = Vec::with_capacity(instructions.len());
        for (index, decoded_instruction) in instructions.iter().enumerate() {
            if let Some(costs) = costs {
                if starts_gas_block(instructions, index) {
                    let cost = costs.cost_of(decoded.block_at(index)).min(u64::from(u32::MAX)) as u32;
                    ops.push(Op::Charge(cost));
                    pcs.push(decoded_instruction.pc);
                }
            }
            op_of_instruction.push(ops.len() as u32);
            ops.push(Op::Run(decoded_instruction.instruction));
            pcs.push(decoded_instruction.pc);
        }
        let metered = costs.is_some();
        let mut program = InterpreterProgram { ops, pcs, op_of_instruction, jump_table_ops: Vec::new(), metered };
        let target_op = |program: &InterpreterProgram, pc: u32| {
            if decoded.is_block_start(pc) {
                program.block_entry_op(decoded.index_of(pc).expect("block starts are instructions"))
            } else {
                INVALID_TARGET
            }
        };
        for index in 0..instructions.len() {
            let op = program.op_of_instruction[index] as usize;
            if let Op::Run(instruction) = program.ops[op] {
                if let Some(target) = instruction.branch_target() {
                    let target = target_op(&program, target);
                    program.ops[op] = Op::Run(instruction.with_branch_target(target));
                }
            }
        }
        program.jump_table_ops = decoded.jump_table().iter().map(|&pc| target_op(&program, pc)).collect();
        program
    }

    /// Where execution entering the gas block at instruction `index` starts (its charge op).
    fn block_entry_op(&self, index: usize) -> u32 {
        let op = self.op_of_instruction[index];
        if self.metered && matches!(self.ops[op as usize - 1], Op::Charge(_)) {
            op - 1
        } else {
            op
        }
    }

    /// The op at which to start running at instruction `index`, and the gas to charge first
    /// when `index` is in the middle of a gas block (the rest of that block's cost).
    pub fn entry(&self, decoded: &DecodedProgram, costs: Option<&CostModel>, index: usize) -> (u32, u64) {
        match costs {
            Some(costs) if !starts_gas_block(decoded.instructions(), index) => {
                let block_start = (0..index).rev().find(|&i| starts_gas_block(decoded.instructions(), i)).unwrap_or(0);
                let block = decoded.block_at(block_start);
                let rest = &block[index - block_start..];
                (self.op_of_instruction[index], costs.cost_of(rest))
            }
            _ => (self.block_entry_op(index), 0),
        }
    }

    /// Approximate heap memory held by the compiled form.
    pub fn memory_usage(&self) -> usize {
        self.ops.len() * std::mem::size_of::<Op>()
            + (self.pcs.len() + self.op_of_instruction.len() + self.jump_table_ops.len()) * 4
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
    /// The op to run next.
    pub ip: u32,
}

/// Where a run stopped.
#[derive(Copy, Clone, Debug)]
pub struct Stop {
    /// Why.
    pub exit: Exit,
    /// The pc of the instruction (or block, for out of gas) where it stopped.
    pub pc: u32,
    /// The op to resume at, if execution can resume.
    pub resume: Option<u32>,
}

impl InterpreterState {
    /// Runs until the program exits, faults, runs out of gas or calls the host.
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
            interrupt: Interrupt::Halt,
        };
        let mut ip = self.ip as usize;
        let stop = loop {
            let Some(&op) = ops.get(ip) else { unreachable!("the op array ends with the sentinel trap") };
            let instruction = match op {
                Op::Charge(cost) => {
                    let cost = i64::from(cost);
                    if machine.gas < cost {
                        break Stop { exit: Exit::OutOfGas, pc: program.pcs[ip], resume: Some(ip as u32) };
                    }
                    machine.gas -= cost;
                    ip += 1;
                    continue;
                }
                Op::Run(instruction) => instruction,
            };
            if TRACE {
                let index = decoded.index_of(program.pcs[ip]).expect("every op has an instruction");
                let instruction = decoded.instructions()[index].instruction;
                hook(TraceStep { pc: program.pcs[ip], instruction, regs: &machine.regs, gas: machine.gas });
            }
            match instruction.visit(&mut machine) {
                CONTINUE => ip += 1,
                STOP => break stop(program, ip, machine.interrupt),
                target => ip = target as usize,
            }
        };
        self.regs = machine.regs;
        self.gas = machine.gas;
        self.ip = stop.resume.unwrap_or(ip as u32);
        stop
    }
}

/// Where a run stops for `interrupt`, raised by the op at `ip`.
#[cold]
fn stop(program: &InterpreterProgram, ip: usize, interrupt: Interrupt) -> Stop {
    let pc = program.pcs[ip];
    match interrupt {
        Interrupt::Halt => Stop { exit: Exit::Halt, pc, resume: None },
        Interrupt::HostCall(index) => Stop { exit: Exit::HostCall(index), pc, resume: Some(ip as u32 + 1) },
        Interrupt::Panic(reason) => Stop { exit: Exit::Panic(reason), pc, resume: None },
        Interrupt::PageFault(address) => Stop { exit: Exit::PageFault(address), pc, resume: Some(ip as u32) },
        Interrupt::OutOfGas(entry) => {
            Stop { exit: Exit::OutOfGas, pc: program.pcs[entry as usize], resume: Some(entry) }
        }
    }
}
