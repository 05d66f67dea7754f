//! Building code from instructions, with labels for branch targets and jump table entries.
//!
//! ```
//! use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, Reg};
//!
//! let mut builder = CodeBuilder::new(InstructionSet::ReviveV1);
//! let done = builder.new_label();
//! builder.push(Instruction::load_imm(Reg::A0, 10));
//! builder.push_branch(Instruction::branch_eq_imm(Reg::A1, 0, 0), done);
//! builder.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
//! builder.bind(done);
//! builder.push(Instruction::jump_indirect(Reg::RA, 0));
//! let built = builder.build().unwrap();
//! assert_eq!(built.label_pc(done), 9);
//! ```

use super::code::{ProgramCode, JUMP_TABLE_ALIGNMENT};
use super::error::BlobError;
use super::isa::{EncodeError, Instruction, InstructionSet};

/// A position in the code, bound with [`CodeBuilder::bind`].
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Label(usize);

/// Where a branch or jump table entry points.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Target {
    /// A label's position.
    Label(Label),
    /// An absolute pc, whatever is there.
    Pc(u32),
}

/// Why code could not be built.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BuildError {
    /// An instruction the instruction set lacks.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A label used but never bound.
    #[error("label {0} is used but never bound")]
    UnboundLabel(usize),
    /// An instruction without a branch target was given one.
    #[error("`{0}` has no branch target to point elsewhere")]
    NotABranch(String),
    /// The code would not fit in the address space.
    #[error("the code does not fit in 4 GiB")]
    TooLarge,
    /// The result is not valid code.
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Code that was built, with the pc each label was bound to.
#[derive(Clone, Debug)]
pub struct BuiltCode {
    /// The code.
    pub code: ProgramCode,
    label_pcs: Vec<u32>,
}

impl BuiltCode {
    /// The pc a label was bound to.
    pub fn label_pc(&self, label: Label) -> u32 {
        self.label_pcs[label.0]
    }
}

/// Assembles instructions into [`ProgramCode`], laying out branch offsets.
///
/// The layout is the least one: every branch starts in its shortest encoding and only grows
/// while its distance does not fit; distances only grow as instructions grow, so this settles
/// where each branch has the shortest encoding for its final offset (what `polkavm-linker`
/// produces, so linked code reassembles byte for byte).
#[derive(Clone, Debug)]
pub struct CodeBuilder {
    isa: InstructionSet,
    instructions: Vec<(Instruction, Option<Target>)>,
    /// For each label, the index of the instruction it is bound to (`len` = the end).
    labels: Vec<Option<usize>>,
    jump_table: Vec<Target>,
}

impl CodeBuilder {
    /// An empty builder.
    pub fn new(isa: InstructionSet) -> Self {
        CodeBuilder { isa, instructions: Vec::new(), labels: Vec::new(), jump_table: Vec::new() }
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `label` to the next instruction pushed (or to the end of the code).
    pub fn bind(&mut self, label: Label) -> &mut Self {
        self.labels[label.0] = Some(self.instructions.len());
        self
    }

    /// Appends an instruction; a branch target in it is kept as written (an absolute pc).
    pub fn push(&mut self, instruction: Instruction) -> &mut Self {
        // Branches are laid out like any other: their offset depends on where they land.
        let target = instruction.branch_target().map(Target::Pc);
        self.instructions.push((instruction, target));
        self
    }

    /// Appends a branch or jump whose target is `label`.
    pub fn push_branch(&mut self, instruction: Instruction, label: Label) -> &mut Self {
        self.instructions.push((instruction, Some(Target::Label(label))));
        self
    }

    /// Adds a jump table entry for `label` and returns its dynamic jump address.
    pub fn jump_table_entry(&mut self, label: Label) -> u32 {
        self.jump_table_entry_to(Target::Label(label))
    }

    /// Adds a jump table entry and returns its dynamic jump address.
    pub fn jump_table_entry_to(&mut self, target: Target) -> u32 {
        self.jump_table.push(target);
        self.jump_table.len() as u32 * JUMP_TABLE_ALIGNMENT
    }

    fn target_pc(&self, target: Target, pcs: &[u32]) -> Result<u32, BuildError> {
        match target {
            Target::Label(label) => {
                let index = self.labels[label.0].ok_or(BuildError::UnboundLabel(label.0))?;
                Ok(pcs[index])
            }
            Target::Pc(pc) => Ok(pc),
        }
    }

    fn resolved(&self, index: usize, pcs: &[u32]) -> Result<Instruction, BuildError> {
        let (instruction, target) = self.instructions[index];
        Ok(match target {
            Some(target) => instruction.with_branch_target(self.target_pc(target, pcs)?),
            None => instruction,
        })
    }

    /// Lays the code out and encodes it.
    pub fn build(&self) -> Result<BuiltCode, BuildError> {
        let count = self.instructions.len();
        let mut scratch = Vec::new();
        let mut lengths = Vec::with_capacity(count);
        for &(instruction, target) in &self.instructions {
            if target.is_some() && instruction.branch_target().is_none() {
                return Err(BuildError::NotABranch(instruction.to_string()));
            }
            // A branch to itself has a zero offset: its shortest possible encoding.
            let shortest = if target.is_some() { instruction.with_branch_target(0) } else { instruction };
            scratch.clear();
            lengths.push(shortest.encode(self.isa, 0, &mut scratch)?);
        }
        let mut pcs = vec![0u32; count + 1];
        loop {
            let mut pc = 0u32;
            for (index, length) in lengths.iter().enumerate() {
                pcs[index] = pc;
                pc = pc.checked_add(*length as u32).ok_or(BuildError::TooLarge)?;
            }
            pcs[count] = pc;
            let mut changed = false;
            for index in (0..count).filter(|&index| self.instructions[index].1.is_some()) {
                scratch.clear();
                let needed = self.resolved(index, &pcs)?.encode(self.isa, pcs[index], &mut scratch)?;
                if needed > lengths[index] {
                    lengths[index] = needed;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut bytes = Vec::with_capacity(pcs[count] as usize);
        for index in 0..count {
            self.resolved(index, &pcs)?.encode(self.isa, pcs[index], &mut bytes)?;
        }
        let mut bitmask = vec![0u8; bytes.len().div_ceil(8)];
        for &pc in &pcs[..count] {
            bitmask[pc as usize / 8] |= 1 << (pc % 8);
        }
        let jump_table =
            self.jump_table.iter().map(|&target| self.target_pc(target, &pcs)).collect::<Result<Vec<_>, _>>()?;
        let label_pcs = self.labels.iter().map(|index| index.map_or(u32::MAX, |i| pcs[i])).collect();
        Ok(BuiltCode { code: ProgramCode::new(self.isa, bytes, bitmask, jump_table)?, label_pcs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::code::Semantics;
    use crate::program::reg::Reg;

    #[test]
    fn absolute_targets_are_laid_out_where_they_land() {
        // A backward jump to pc 0 from far enough away needs a two-byte offset; pushed after
        // 200 bytes of code its encoding must grow with its distance.
        let mut builder = CodeBuilder::new(InstructionSet::ReviveV1);
        for _ in 0..100 {
            builder.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        }
        builder.push(Instruction::jump(0));
        builder.push(Instruction::trap());
        let built = builder.build().unwrap();
        let decoded = built.code.decode(Semantics::GrayPaper).unwrap();
        let jump = decoded.instructions()[100];
        assert_eq!(jump.pc, 300);
        assert_eq!(jump.instruction, Instruction::jump(0));
        assert_eq!(decoded.next_pc(100), 303, "the jump takes an opcode and a two-byte offset");
        assert_eq!(decoded.instructions()[101].instruction, Instruction::trap());
        assert_eq!(decoded.instructions().len(), 103, "102 instructions and the sentinel");
    }
}
