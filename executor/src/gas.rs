//! The gas cost model: a table from instruction to cost, charged once per basic block.
//!
//! Every backend charges a block's whole cost before running its first instruction, so a block
//! that faults half way has still paid for all of it; that is what the JAM conformance vectors
//! expect with the default model (one unit per instruction, including the trap that ends a
//! program which runs off the end of its code).

use crate::program::{DecodedInstruction, Instruction, Opcode};

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

    /// The cost of a sequence of instructions (a basic block, or the rest of one).
    pub fn cost_of(&self, instructions: &[DecodedInstruction]) -> u64 {
        instructions.iter().map(|decoded| u64::from(self.cost(&decoded.instruction))).sum()
    }
}

/// Whether instruction `index` of a decoded program starts a gas block: the first instruction,
/// or any instruction after one that ends a block (a terminator or an undefined opcode).
/// These are the only places execution can enter other than by resuming where it stopped.
pub fn starts_gas_block(instructions: &[DecodedInstruction], index: usize) -> bool {
    index == 0 || {
        let previous = instructions[index - 1].instruction;
        previous.is_terminator() || matches!(previous, Instruction::invalid(_))
    }
}
