//! The gas cost model: a table from instruction to cost, charged once per basic block.
//!
//! Every backend charges a block's whole cost before running its first instruction, so a block
//! that faults half way has still paid for all of it; that is what the JAM conformance vectors
//! expect with the default model (one unit per instruction, including the trap that ends a
//! program which runs off the end of its code).

use crate::program::{DecodedInstruction, DecodedProgram, Instruction, Opcode, Semantics};

/// How gas is metered.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum GasMetering {
    /// Checked before every basic block: execution stops exactly at the first block that cannot
    /// be paid for, with the pc at that block's start and the gas left unchanged.
    #[default]
    Sync,
    /// Cheaper checks: the program may run a little past the limit before it stops, but whether
    /// a call completes within its gas is the same as with `Sync`. (The interpreter meters
    /// asynchronous gas synchronously.)
    ///
    /// Compiled code charges every gas block (a `sub` on the gas counter, no branch); only the
    /// targets of backward branches and of the jump table check, so a program overruns its
    /// limit by at most one loop-free stretch of code. Such a check stops exactly like `Sync`
    /// (gas given back, pc at the block, resumable). Any other exit (halt, host call, panic,
    /// page fault) seen with negative gas is reported as out of gas instead, and cannot be
    /// resumed. Because every executed block is charged exactly as with `Sync`, a call halts
    /// under `Async` if and only if it halts under `Sync`, with the same gas left.
    Async,
}

/// The cost of each instruction.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CostModel {
    costs: [u32; Opcode::COUNT],
    invalid: u32,
}

impl Default for CostModel {
    /// One unit per instruction: the model the conformance vectors use.
    fn default() -> Self {
        CostModel::uniform(1)
    }
}

impl CostModel {
    /// Every instruction costs `cost`.
    pub fn uniform(cost: u32) -> Self {
        CostModel { costs: [cost; Opcode::COUNT], invalid: cost }
    }

    /// Sets the cost of one instruction.
    pub fn set_cost(&mut self, opcode: Opcode, cost: u32) -> &mut Self {
        self.costs[opcode as usize] = cost;
        self
    }

    /// The cost of one instruction.
    #[inline]
    pub fn cost(&self, instruction: &Instruction) -> u32 {
        match instruction.opcode() {
            Some(opcode) => self.costs[opcode as usize],
            None => self.invalid,
        }
    }
}

/// Whether instruction `index` of a decoded program starts a gas block: the first instruction,
/// or any instruction after one that ends a block ([`DecodedInstruction::ends_block`]). These
/// are the only places execution can enter other than by resuming where it stopped.
pub fn starts_gas_block(instructions: &[DecodedInstruction], index: usize) -> bool {
    index == 0 || instructions[index - 1].ends_block
}

/// For each instruction of a decoded program, the gas it takes to run from it to the end of
/// its gas block: at a block start, what entering the block costs; in the middle of a block,
/// what entering there costs (the rest of the block). Computed in one backward pass.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlockCosts(Vec<u32>);

impl BlockCosts {
    /// Prices every instruction of `program` (as written: see
    /// [`DecodedProgram::written_instruction`]).
    ///
    /// The costs go into `buffer` (a recycled one: see `BufferPool::words`), whose contents
    /// are dropped.
    pub fn new_in(program: &DecodedProgram, model: &CostModel, mut buffer: Vec<u32>) -> BlockCosts {
        let count = program.instructions().len();
        buffer.clear();
        buffer.reserve(count);
        // Every entry is written below, back to front, so the buffer is not zeroed first.
        let costs = &mut buffer.spare_capacity_mut()[..count];
        // Each instruction's cost and whether it ends its block, in one table by opcode number
        // (the undefined opcode last): one load per instruction, where looking up the cost and
        // the terminator flag apart (and checking for an undefined opcode) took three.
        let mut priced = [(0u32, false); Opcode::COUNT + 1];
        for (slot, &opcode) in priced.iter_mut().zip(Opcode::ALL) {
            *slot = (model.costs[opcode as usize], opcode.is_terminator());
        }
        priced[Opcode::COUNT] = (model.invalid, true);
        let price =
            |instruction: &Instruction| priced[instruction.opcode().map_or(Opcode::COUNT, |opcode| opcode as usize)];
        // What follows the last instruction costs nothing: it ends its block whatever it is.
        let mut rest = 0u32;
        // Only the instruction before the sentinel may differ from what was written
        // (`written_instruction`): the last two go through it, the others are read straight
        // from the slice.
        let split = count.saturating_sub(2);
        for index in (split..count).rev() {
            let (own, ends_block) = price(&program.written_instruction(index));
            rest = if ends_block { own } else { rest.saturating_add(own) };
            costs[index].write(rest);
        }
        let instructions = &program.instructions()[..split];
        for (cost, decoded) in costs[..split].iter_mut().zip(instructions).rev() {
            let (own, ends_block) = price(&decoded.instruction);
            rest = if ends_block { own } else { rest.saturating_add(own) };
            cost.write(rest);
        }
        // SAFETY: the loops wrote each of the first `count` entries (the last two, then every
        // index below them, once each), and the capacity is at least `count` (reserved above).
        unsafe { buffer.set_len(count) };
        BlockCosts(buffer)
    }

    /// The gas to run from instruction `index` to the end of its block.
    #[inline]
    pub fn from(&self, index: usize) -> u32 {
        self.0[index]
    }

    /// The gas to pay for entering `program` at instruction `index` from outside (a call, or a
    /// new start after running out of gas): with [`Semantics::PolkaVm`] the whole gas block that
    /// contains it, as PolkaVM 0.37 charges; with [`Semantics::GrayPaper`] the rest of it.
    pub fn entry(&self, program: &DecodedProgram, index: usize) -> u32 {
        match program.semantics() {
            Semantics::PolkaVm => {
                let instructions = program.instructions();
                let start = (0..=index).rev().find(|&at| starts_gas_block(instructions, at)).unwrap_or(0);
                self.0[start]
            }
            Semantics::GrayPaper => self.0[index],
        }
    }

    /// The buffer, for reuse.
    pub fn into_buffer(self) -> Vec<u32> {
        self.0
    }

    /// All of them, by instruction index.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }
}
