//! The parts of a random-program generator that the workspace's differential tests share:
//! a seeded generator, random registers, random non-terminator instructions and the lists of
//! conditional branches.
//!
//! Two generators build on it: the executor's interpreter-against-JIT test over raw programs
//! (`executor/tests/support/differential.rs`, also the fuzz target's) and the comparison with
//! PolkaVM over container blobs (`reference-diff`). They differ in where memory operands point
//! (a fixed page map or a blob's memory layout) and in a few odds, which they pass in as an
//! [`Operands`]; everything else about an instruction is drawn here, so the two draw from the
//! same instruction table in the same way.
//!
//! ```
//! use pvm_executor::program::{CodeBuilder, InstructionSet};
//! use pvm_testkit::random::{body_instruction, Operands, Rng};
//!
//! struct Plain;
//! impl Operands for Plain {
//!     fn address(&self, rng: &mut Rng) -> u32 {
//!         0x10000 + rng.below(0x1000) as u32
//!     }
//!     fn interesting_u32(&self, rng: &mut Rng) -> u32 {
//!         rng.next_u64() as u32
//!     }
//!     fn interesting_u64(&self, rng: &mut Rng) -> u64 {
//!         rng.next_u64()
//!     }
//! }
//!
//! let mut rng = Rng::new(7, 0);
//! let mut code = CodeBuilder::new(InstructionSet::JamV1);
//! body_instruction(&mut rng, &mut code, InstructionSet::JamV1, &Plain);
//! ```

use pvm_executor::program::{ArgKind, Args, CodeBuilder, Instruction, InstructionSet, Opcode, Reg, REG_COUNT};

/// A small, fast, deterministic generator (SplitMix64).
///
/// A program is a pure function of its seed, so a failing seed reproduces anywhere.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`. `stream` separates generators that take the same seeds (each
    /// test keeps its own constant, so its seeds keep meaning the same programs).
    pub fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A random register.
pub fn reg(rng: &mut Rng) -> Reg {
    Reg::ALL[rng.below(REG_COUNT as u64) as usize]
}

/// Where a generator's operands come from: what differs between the generators.
pub trait Operands {
    /// A guest address worth touching.
    fn address(&self, rng: &mut Rng) -> u32;
    /// A 32-bit immediate biased towards edge cases.
    fn interesting_u32(&self, rng: &mut Rng) -> u32;
    /// A 64-bit immediate biased towards edge cases.
    fn interesting_u64(&self, rng: &mut Rng) -> u64;
    /// How often (in percent) a drawn `ecalli` is drawn again, so host calls stay a minority.
    fn ecalli_redraw_percent(&self) -> u64 {
        70
    }
    /// `ecalli` takes an index below this.
    fn host_call_indices(&self) -> u32 {
        4
    }
}

/// Appends a random non-terminator instruction of `isa`, sometimes preceded by a `load_imm`
/// that points its base register at an interesting address. Every non-terminator of the
/// instruction table can be drawn; memory instructions are told apart by the table's
/// memory-access column.
pub fn body_instruction(rng: &mut Rng, code: &mut CodeBuilder, isa: InstructionSet, operands: &impl Operands) {
    loop {
        let opcode = Opcode::ALL[rng.below(Opcode::COUNT as u64) as usize];
        if opcode.is_terminator()
            || opcode.to_raw(isa).is_none()
            || opcode == Opcode::ecalli && rng.chance(operands.ecalli_redraw_percent())
        {
            continue;
        }
        let accesses_memory = opcode.memory_access().is_some();
        let (a, b, c) = (reg(rng), reg(rng), reg(rng));
        let args = match opcode.kind() {
            ArgKind::NoArgs => Args::NoArgs(),
            ArgKind::Imm => Args::Imm(rng.below(u64::from(operands.host_call_indices())) as u32),
            ArgKind::RegImm64 => Args::RegImm64(a, operands.interesting_u64(rng)),
            ArgKind::ImmImm => Args::ImmImm(operands.address(rng), operands.interesting_u32(rng)),
            ArgKind::RegImm if accesses_memory => Args::RegImm(a, operands.address(rng)),
            ArgKind::RegImm => Args::RegImm(a, operands.interesting_u32(rng)),
            ArgKind::RegImmImm => {
                // Usually point the base at an interesting address first.
                if rng.chance(80) {
                    code.push(Instruction::load_imm(a, operands.address(rng)));
                }
                Args::RegImmImm(a, rng.below(16) as u32, operands.interesting_u32(rng))
            }
            ArgKind::RegRegImm if accesses_memory => {
                if rng.chance(80) {
                    code.push(Instruction::load_imm(b, operands.address(rng)));
                }
                let offset = if rng.chance(80) { rng.below(16) as u32 } else { operands.interesting_u32(rng) };
                Args::RegRegImm(a, b, offset)
            }
            ArgKind::RegRegImm => Args::RegRegImm(a, b, operands.interesting_u32(rng)),
            ArgKind::RegReg => Args::RegReg(a, b),
            ArgKind::RegRegReg => Args::RegRegReg(a, b, c),
            ArgKind::Offset | ArgKind::RegImmOffset | ArgKind::RegRegOffset | ArgKind::RegRegImmImm => continue,
        };
        code.push(Instruction::from_parts(opcode, args).expect("operands of the opcode's kind"));
        return;
    }
}

/// The conditional branches that compare a register with an immediate.
pub const BRANCHES_IMM: [Opcode; 10] = [
    Opcode::branch_eq_imm,
    Opcode::branch_not_eq_imm,
    Opcode::branch_less_unsigned_imm,
    Opcode::branch_less_or_equal_unsigned_imm,
    Opcode::branch_greater_or_equal_unsigned_imm,
    Opcode::branch_greater_unsigned_imm,
    Opcode::branch_less_signed_imm,
    Opcode::branch_less_or_equal_signed_imm,
    Opcode::branch_greater_or_equal_signed_imm,
    Opcode::branch_greater_signed_imm,
];

/// The conditional branches that compare two registers.
pub const BRANCHES: [Opcode; 6] = [
    Opcode::branch_eq,
    Opcode::branch_not_eq,
    Opcode::branch_less_unsigned,
    Opcode::branch_less_signed,
    Opcode::branch_greater_or_equal_unsigned,
    Opcode::branch_greater_or_equal_signed,
];
