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
use super::isa::{Args, EncodeError, Instruction, InstructionSet};

/// A position in the code, bound with [`CodeBuilder::bind`].
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Label(usize);

/// Why code could not be built.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BuildError {
    /// An instruction the instruction set lacks.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A label used but never bound.
    #[error("label {0} is used but never bound")]
    UnboundLabel(usize),
    /// An instruction without a branch target was given a label.
    #[error("`{0}` has no branch target to point at a label")]
    NotABranch(String),
    /// Branch encodings kept changing length.
    #[error("branch offsets did not settle on a layout")]
    NoStableLayout,
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
#[derive(Clone, Debug)]
pub struct CodeBuilder {
    isa: InstructionSet,
    instructions: Vec<(Instruction, Option<Label>)>,
    /// For each label, the index of the instruction it is bound to (`len` = the end).
    labels: Vec<Option<usize>>,
    jump_table: Vec<Label>,
}

fn with_target(instruction: Instruction, target: u32) -> Option<Instruction> {
    let args = match instruction.args() {
        Args::Offset(_) => Args::Offset(target),
        Args::RegImmOffset(reg, imm, _) => Args::RegImmOffset(reg, imm, target),
        Args::RegRegOffset(a, b, _) => Args::RegRegOffset(a, b, target),
        _ => return None,
    };
    Instruction::from_parts(instruction.opcode()?, args)
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

    /// Appends an instruction; branch targets in it are kept as written (absolute pcs).
    pub fn push(&mut self, instruction: Instruction) -> &mut Self {
        self.instructions.push((instruction, None));
        self
    }

    /// Appends a branch or jump whose target is `label`.
    pub fn push_branch(&mut self, instruction: Instruction, label: Label) -> &mut Self {
        self.instructions.push((instruction, Some(label)));
        self
    }

    /// Adds a jump table entry for `label` and returns its dynamic jump address.
    pub fn jump_table_entry(&mut self, label: Label) -> u32 {
        self.jump_table.push(label);
        self.jump_table.len() as u32 * JUMP_TABLE_ALIGNMENT
    }

    /// Lays the code out and encodes it.
    pub fn build(&self) -> Result<BuiltCode, BuildError> {
        for (instruction, label) in &self.instructions {
            if label.is_some() && instruction.branch_target().is_none() {
                return Err(BuildError::NotABranch(instruction.to_string()));
            }
        }
        let label_index = |label: Label| self.labels[label.0].ok_or(BuildError::UnboundLabel(label.0));
        let mut pcs = vec![0u32; self.instructions.len() + 1];
        let mut bytes = Vec::new();
        let mut bitmask_bits = Vec::new();
        for _ in 0..64 {
            bytes.clear();
            bitmask_bits.clear();
            let mut changed = false;
            for (i, (instruction, label)) in self.instructions.iter().enumerate() {
                let pc = bytes.len() as u32;
                changed |= pcs[i] != pc;
                pcs[i] = pc;
                let instruction = match label {
                    Some(label) => with_target(*instruction, pcs[label_index(*label)?]).expect("checked above"),
                    None => *instruction,
                };
                let length = instruction.encode(self.isa, pc, &mut bytes)?;
                bitmask_bits.push(true);
                bitmask_bits.extend(std::iter::repeat_n(false, length - 1));
            }
            let end = bytes.len() as u32;
            changed |= pcs[self.instructions.len()] != end;
            pcs[self.instructions.len()] = end;
            if !changed {
                let mut bitmask = vec![0u8; bitmask_bits.len().div_ceil(8)];
                for (i, _) in bitmask_bits.iter().enumerate().filter(|(_, bit)| **bit) {
                    bitmask[i / 8] |= 1 << (i % 8);
                }
                let jump_table = self.jump_table.iter().map(|&label| Ok(pcs[label_index(label)?])).collect::<Result<
                    Vec<_>,
                    BuildError,
                >>(
                )?;
                let label_pcs = self.labels.iter().map(|index| index.map_or(u32::MAX, |i| pcs[i])).collect();
                return Ok(BuiltCode { code: ProgramCode::new(self.isa, bytes, bitmask, jump_table)?, label_pcs });
            }
        }
        Err(BuildError::NoStableLayout)
    }
}
