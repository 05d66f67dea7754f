//! The code section (jump table, code bytes, bitmask) and its one-time decoding.
//!
//! Both program formats carry the same code layout, the Gray Paper's `deblob` form:
//! `varint(jump table entries) ++ u8(entry size) ++ varint(code length) ++ jump table ++ code ++
//! bitmask`. [`ProgramCode`] holds it; [`ProgramCode::decode`] walks it once, in O(n), into a
//! [`DecodedProgram`] that the disassembler, the interpreter and the compiler all consume.

use super::error::{BlobError, BlobErrorKind};
use super::isa::{decode_instruction, Instruction, InstructionSet, MAX_SKIP};
use super::varint::{read_varint, write_varint};
use std::borrow::Cow;

/// The largest code section the VM accepts.
pub const MAX_CODE_SIZE: u32 = 32 * 1024 * 1024;
/// The largest number of jump table entries the VM accepts.
pub const MAX_JUMP_TABLE_ENTRIES: u32 = 16 * 1024 * 1024;
/// Dynamic jump addresses are multiples of this (entry `i` has address `(i + 1) * 2`).
pub const JUMP_TABLE_ALIGNMENT: u32 = 2;
/// The dynamic jump address that ends execution with a halt.
pub const HALT_ADDRESS: u32 = 0xffff_0000;

/// Code, bitmask and jump table of a program, structurally valid (lengths and padding checked).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProgramCode {
    isa: InstructionSet,
    code: Vec<u8>,
    bitmask: Vec<u8>,
    jump_table: Vec<u32>,
    jump_table_entry_size: u8,
}

/// Byte offsets of the jump table and the code inside a blob.
pub(crate) struct CodeLayout {
    pub jump_table: usize,
    pub code: usize,
}

/// A little cursor over a byte slice that reports errors with absolute blob offsets.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub position: usize,
    /// Added to `position` in error offsets (where `bytes` starts inside the whole blob).
    pub base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader { bytes, position: 0, base }
    }

    pub fn offset(&self) -> usize {
        self.base + self.position
    }

    pub fn error(&self, kind: BlobErrorKind) -> BlobError {
        BlobError::new(self.offset(), kind)
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn bytes(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], BlobError> {
        if self.remaining() < count {
            return Err(self.error(BlobErrorKind::Truncated { what, needed: count, available: self.remaining() }));
        }
        let slice = &self.bytes[self.position..self.position + count];
        self.position += count;
        Ok(slice)
    }

    pub fn byte(&mut self, what: &'static str) -> Result<u8, BlobError> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn varint(&mut self, what: &'static str) -> Result<u32, BlobError> {
        match read_varint(&self.bytes[self.position..]) {
            Some((value, length)) => {
                self.position += length;
                Ok(value)
            }
            None if self.remaining() == 0 => {
                Err(self.error(BlobErrorKind::Truncated { what, needed: 1, available: 0 }))
            }
            None => Err(self.error(BlobErrorKind::InvalidVarint { what })),
        }
    }
}

fn over_limit(reader: &Reader, what: &'static str, value: u64, limit: u64) -> Result<(), BlobError> {
    if value > limit {
        Err(reader.error(BlobErrorKind::OverLimit { what, value, limit }))
    } else {
        Ok(())
    }
}

impl ProgramCode {
    /// Builds program code from its parts, checking the bitmask's length and padding.
    pub fn new(isa: InstructionSet, code: Vec<u8>, bitmask: Vec<u8>, jump_table: Vec<u32>) -> Result<Self, BlobError> {
        let entry_size = jump_table.iter().map(|&entry| 4 - entry.leading_zeros() / 8).max().unwrap_or(0) as u8;
        let code = ProgramCode { isa, code, bitmask, jump_table, jump_table_entry_size: entry_size };
        code.view().check_bitmask(0)?;
        if code.code.len() > MAX_CODE_SIZE as usize {
            return Err(BlobError::new(
                0,
                BlobErrorKind::OverLimit {
                    what: "the code length",
                    value: code.code.len() as u64,
                    limit: u64::from(MAX_CODE_SIZE),
                },
            ));
        }
        Ok(code)
    }

    /// Parses the `deblob` layout from `bytes`, which must be exactly the code section.
    /// `base` is where `bytes` starts in the whole blob (for error offsets).
    pub(crate) fn parse(isa: InstructionSet, bytes: &[u8], base: usize) -> Result<(Self, CodeLayout), BlobError> {
        let (view, layout) = CodeView::parse(isa, bytes, base)?;
        Ok((view.to_code(), layout))
    }

    /// No code (what a blob loaded by a module keeps: see
    /// `ProgramBlob::parse_and_decode_without_code`).
    pub(crate) fn empty(isa: InstructionSet) -> ProgramCode {
        ProgramCode { isa, code: Vec::new(), bitmask: Vec::new(), jump_table: Vec::new(), jump_table_entry_size: 0 }
    }

    /// The parts decoding reads, borrowed.
    pub(crate) fn view(&self) -> CodeView<'_> {
        CodeView {
            isa: self.isa,
            code: &self.code,
            bitmask: &self.bitmask,
            jump_table: Cow::Borrowed(&self.jump_table),
            jump_table_entry_size: self.jump_table_entry_size,
        }
    }

    /// Appends the `deblob` layout.
    pub fn serialize(&self, out: &mut Vec<u8>) {
        write_varint(self.jump_table.len() as u32, out);
        out.push(self.jump_table_entry_size);
        write_varint(self.code.len() as u32, out);
        for &entry in &self.jump_table {
            out.extend_from_slice(&entry.to_le_bytes()[..self.jump_table_entry_size as usize]);
        }
        out.extend_from_slice(&self.code);
        out.extend_from_slice(&self.bitmask);
    }

    /// The instruction set the code is written in.
    pub fn isa(&self) -> InstructionSet {
        self.isa
    }

    /// The code bytes.
    pub fn code(&self) -> &[u8] {
        &self.code
    }

    /// One bit per code byte, set where an instruction starts (least significant bit first).
    pub fn bitmask(&self) -> &[u8] {
        &self.bitmask
    }

    /// The jump table: entry `i` is the target pc of dynamic jump address `(i + 1) * 2`.
    pub fn jump_table(&self) -> &[u32] {
        &self.jump_table
    }

    /// The size in bytes of each serialized jump table entry.
    pub fn jump_table_entry_size(&self) -> u8 {
        self.jump_table_entry_size
    }

    /// Whether the bitmask marks `pc` as the start of an instruction.
    #[inline]
    pub fn is_instruction_start(&self, pc: u32) -> bool {
        let pc = pc as usize;
        pc < self.code.len() && self.bitmask[pc / 8] & (1 << (pc % 8)) != 0
    }

    /// The Gray Paper's `skip(pc)`: how many operand bytes follow the opcode at `pc`. The
    /// bitmask is treated as followed by ones, and the result is capped at 24.
    pub fn skip(&self, pc: u32) -> u32 {
        SkipTable::new(&self.view()).skip(pc)
    }

    /// Decodes the whole program once, for the given [`Semantics`]. With [`Semantics::PolkaVm`]
    /// (container blobs) every branch target and jump table entry must be a basic block start
    /// and every opcode defined, `jam_v1` code must not be able to run off its end, and a
    /// `fallthrough` or conditional branch that is the last instruction is decoded as the trap
    /// PolkaVM makes of it; with [`Semantics::GrayPaper`] (raw blobs) invalid targets and opcodes
    /// are left to fail at run time, as the Gray Paper specifies.
    pub fn decode(&self, semantics: Semantics) -> Result<DecodedProgram, BlobError> {
        self.decode_with(semantics, &mut |_| DecodeBuffers::default())
    }

    /// [`ProgramCode::decode`] into buffers from `buffers` (given the code length in bytes):
    /// a caller that decodes many programs can hand back the buffers of dropped ones (see
    /// [`DecodedProgram::take_buffers`]) instead of faulting in fresh ones.
    pub fn decode_with(
        &self,
        semantics: Semantics,
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
    ) -> Result<DecodedProgram, BlobError> {
        self.view().decode_with(semantics, buffers)
    }
}

/// A code section's parts as decoding reads them: borrowed from a [`ProgramCode`], or straight
/// from a blob's bytes, so that loading a module does not copy the code and bitmask only to
/// decode them and drop them (the jump table is parsed into words either way).
pub(crate) struct CodeView<'a> {
    pub isa: InstructionSet,
    pub code: &'a [u8],
    pub bitmask: &'a [u8],
    pub jump_table: Cow<'a, [u32]>,
    pub jump_table_entry_size: u8,
}

impl<'a> CodeView<'a> {
    /// Parses the `deblob` layout from `bytes`, which must be exactly the code section.
    /// `base` is where `bytes` starts in the whole blob (for error offsets).
    pub(crate) fn parse(isa: InstructionSet, bytes: &'a [u8], base: usize) -> Result<(Self, CodeLayout), BlobError> {
        let mut reader = Reader::new(bytes, base);
        let entry_count = reader.varint("the jump table entry count")?;
        over_limit(&reader, "the jump table entry count", entry_count.into(), MAX_JUMP_TABLE_ENTRIES.into())?;
        let entry_size_offset = reader.offset();
        let entry_size = reader.byte("the jump table entry size")?;
        if entry_size > 4 {
            return Err(BlobError::new(entry_size_offset, BlobErrorKind::JumpTableEntrySize(entry_size)));
        }
        let code_length = reader.varint("the code length")?;
        over_limit(&reader, "the code length", code_length.into(), MAX_CODE_SIZE.into())?;

        let jump_table_offset = reader.offset();
        let table_bytes = reader.bytes(entry_count as usize * entry_size as usize, "the jump table")?;
        let jump_table = if entry_size == 0 {
            vec![0; entry_count as usize]
        } else {
            table_bytes
                .chunks_exact(entry_size as usize)
                .map(|chunk| chunk.iter().rev().fold(0u32, |acc, &byte| acc << 8 | u32::from(byte)))
                .collect()
        };
        let code_offset = reader.offset();
        let code = reader.bytes(code_length as usize, "the code")?;
        let bitmask_offset = reader.offset();
        let expected = code.len().div_ceil(8);
        let bitmask = reader.bytes(expected, "the bitmask")?;
        if reader.remaining() != 0 {
            return Err(reader.error(BlobErrorKind::TrailingBytes(reader.remaining())));
        }
        let jump_table = Cow::Owned(jump_table);
        let code = CodeView { isa, code, bitmask, jump_table, jump_table_entry_size: entry_size };
        code.check_bitmask(bitmask_offset)?;
        let layout = CodeLayout { jump_table: jump_table_offset, code: code_offset };
        Ok((code, layout))
    }

    /// An owned copy.
    pub fn to_code(&self) -> ProgramCode {
        ProgramCode {
            isa: self.isa,
            code: self.code.to_vec(),
            bitmask: self.bitmask.to_vec(),
            jump_table: self.jump_table.to_vec(),
            jump_table_entry_size: self.jump_table_entry_size,
        }
    }

    /// Whether the bitmask marks `pc` as the start of an instruction.
    fn is_instruction_start(&self, pc: u32) -> bool {
        let pc = pc as usize;
        pc < self.code.len() && self.bitmask[pc / 8] & (1 << (pc % 8)) != 0
    }

    fn check_bitmask(&self, offset: usize) -> Result<(), BlobError> {
        let expected = self.code.len().div_ceil(8);
        if self.bitmask.len() != expected {
            return Err(BlobError::new(
                offset,
                BlobErrorKind::BitmaskLength { actual: self.bitmask.len(), expected, code_length: self.code.len() },
            ));
        }
        let used_bits = self.code.len() % 8;
        if used_bits != 0 && self.bitmask[expected - 1] >> used_bits != 0 {
            return Err(BlobError::new(offset + expected - 1, BlobErrorKind::BitmaskPadding));
        }
        Ok(())
    }

    /// See [`ProgramCode::decode_with`].
    pub fn decode_with(
        self,
        semantics: Semantics,
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
    ) -> Result<DecodedProgram, BlobError> {
        let strict = semantics == Semantics::PolkaVm;
        let code_len = self.code.len() as u32;
        let error = |pc: u32, kind| BlobError::new(pc as usize, kind);
        if strict && code_len > 0 && !self.is_instruction_start(0) {
            return Err(error(0, BlobErrorKind::FirstInstructionNotMarked));
        }

        // Instruction indices leave the top bit of `index_of_pc`'s entries free (`BLOCK_START`).
        assert!(code_len < BLOCK_START, "the code size is limited to MAX_CODE_SIZE");
        let DecodeBuffers { mut instructions, mut index_of_pc } = buffers(self.code.len());
        let (instruction_capacity, index_capacity) = DecodedProgram::buffer_capacities(self.code.len());
        instructions.clear();
        instructions.reserve(instruction_capacity);
        // Every entry is written below (each instruction writes its own and those of its
        // operand bytes, the sentinel the last), so a buffer that already has the length, as
        // a recycled pc index does, is not filled first: that fill was a tenth of decoding.
        index_of_pc.truncate(index_capacity);
        index_of_pc.resize(index_capacity, NO_INSTRUCTION);
        let skips = SkipTable::new(&self);
        // Strictly validated code checks its branches once all block starts are known. About
        // one instruction in four branches: reserving that avoids growing (and copying) the list.
        // The list is the thread's, kept between decodes: a fresh one of this size would be
        // mapped and page-faulted in anew by every decode.
        let mut branches = BRANCHES.with(|cell| cell.take());
        branches.clear();
        if strict {
            branches.reserve(instruction_capacity / 4);
        }
        let mut pc = 0u32;
        let mut previous_is_terminator = true;
        while pc < code_len {
            let skip = skips.skip(pc);
            let instruction = decode_instruction(self.isa, self.code, pc, skip);
            let mut loop_head = false;
            if let Some(target) = instruction.branch_target() {
                if strict {
                    branches.push((pc, target));
                }
                // A backward branch: its target, if an instruction, is decoded already.
                if target == pc {
                    loop_head = true;
                } else if target < pc {
                    let entry = index_of_pc[target as usize];
                    if entry != NO_INSTRUCTION {
                        instructions[(entry & !BLOCK_START) as usize].loop_head = true;
                    }
                }
            }
            let next_pc = pc + 1 + skip;
            // Strictly validated code only reaches marked instructions (the first one is
            // checked above, every next one below).
            let marked = strict || skips.is_marked(pc);
            if strict {
                if let Instruction::invalid(raw) = instruction {
                    return Err(error(pc, BlobErrorKind::InvalidInstruction { pc, raw }));
                }
                // Below the cap, `skip` is the distance to the next marked byte, so only a
                // capped skip can leave the next instruction unmarked.
                if skip == MAX_SKIP && next_pc < code_len && !skips.is_marked(next_pc) {
                    return Err(error(pc, BlobErrorKind::InstructionTooLong { pc }));
                }
            }
            let block_start = previous_is_terminator && marked && !matches!(instruction, Instruction::invalid(_));
            // The instruction's entry, and its operand bytes' (no instructions): most have at
            // most eight, and one fixed-size store covers them (what it writes past them, the
            // instructions after this one overwrite; the index is padded for the last ones).
            let entry = instructions.len() as u32 | if block_start { BLOCK_START } else { 0 };
            let window: &mut [u32; 1 + INDEX_PADDING] =
                (&mut index_of_pc[pc as usize..pc as usize + 1 + INDEX_PADDING]).try_into().expect("a window");
            *window = [
                entry,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
                NO_INSTRUCTION,
            ];
            if skip as usize > INDEX_PADDING {
                index_of_pc[pc as usize + 1 + INDEX_PADDING..next_pc as usize].fill(NO_INSTRUCTION);
            }
            let is_terminator = instruction.is_terminator();
            let ends_block = is_terminator || matches!(instruction, Instruction::invalid(_));
            instructions.push(DecodedInstruction { pc, instruction, block_start, loop_head, ends_block });
            previous_is_terminator = is_terminator;
            pc = next_pc;
        }
        // PolkaVM 0.37 places an implicit invalid instruction after a last instruction that can
        // fall through. `jam_v1` blobs with one are refused; in other blobs, a terminator that
        // would continue into it (a `fallthrough`, or either edge of a conditional branch, which
        // PolkaVM compiles to a trap when its next pc is not a jump target) traps at its own
        // pc, having paid for its block as written.
        let mut written_end = None;
        if strict {
            if let Some(last) = instructions.last_mut() {
                let falls_through = last.instruction.opcode().is_some_and(|opcode| opcode.can_fall_through());
                if falls_through && self.isa == InstructionSet::JamV1 {
                    let kind = BlobErrorKind::RunsOffEnd { pc: last.pc, code_length: code_len };
                    return Err(error(code_len, kind));
                }
                if falls_through && last.instruction.is_terminator() {
                    written_end = Some(last.instruction);
                    last.instruction = Instruction::trap();
                }
            }
        }
        // Past the end, execution traps: a sentinel makes that an ordinary instruction.
        index_of_pc[code_len as usize] = instructions.len() as u32;
        index_of_pc[code_len as usize + 1..].fill(NO_INSTRUCTION);
        instructions.push(DecodedInstruction {
            pc: code_len,
            instruction: Instruction::trap(),
            block_start: false,
            loop_head: false,
            ends_block: true,
        });

        // PolkaVM 0.37 reads a jump table whose entries are zero bytes wide as empty: every
        // dynamic jump through it (other than to halt) panics.
        // (Those zero-byte entries are all pc 0, and are still checked below.)
        let zero_width_entries = if strict && self.jump_table_entry_size == 0 { self.jump_table.len() } else { 0 };
        let jump_table = if zero_width_entries > 0 { Vec::new() } else { self.jump_table.into_owned() };
        let program = DecodedProgram { isa: self.isa, semantics, instructions, index_of_pc, jump_table, written_end };

        if strict {
            let invalid = branches.iter().find(|&&(_, target)| !program.is_block_start(target)).copied();
            BRANCHES.with(|cell| cell.set(branches));
            if let Some((pc, target)) = invalid {
                return Err(error(pc, BlobErrorKind::InvalidBranchTarget { pc, target }));
            }
            let entries = program.jump_table.iter().copied().chain(core::iter::repeat_n(0, zero_width_entries));
            for (index, target) in entries.enumerate() {
                if !program.is_block_start(target) {
                    return Err(error(0, BlobErrorKind::InvalidJumpTableEntry { index: index as u32, target }));
                }
            }
        }
        Ok(program)
    }
}

thread_local! {
    /// The static branches of the program being decoded (pc, target), kept between decodes on
    /// this thread (see `ProgramCode::decode_with`).
    static BRANCHES: core::cell::Cell<Vec<(u32, u32)>> = const { core::cell::Cell::new(Vec::new()) };
}

/// Where a dynamic jump goes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum DynamicJump {
    /// To `0xffff0000`: execution halts.
    Halt,
    /// Through jump table entry `index` to the block at `target`.
    Jump {
        /// The jump table index.
        index: u32,
        /// The target pc.
        target: u32,
    },
    /// Zero, misaligned, out of range, or not a block start: the guest panics.
    Invalid,
}

/// The bitmask prepared for computing `skip` a word at a time: the padding bits after the
/// code are set and eight bytes of ones follow, as the Gray Paper's "bitmask followed by ones".
struct SkipTable {
    bits: Vec<u8>,
}

impl SkipTable {
    fn new(code: &CodeView) -> SkipTable {
        let mut bits = Vec::with_capacity(code.bitmask.len() + 8);
        bits.extend_from_slice(code.bitmask);
        let used = code.code.len() % 8;
        if used != 0 {
            if let Some(last) = bits.last_mut() {
                *last |= 0xff << used;
            }
        }
        bits.extend_from_slice(&[0xff; 8]);
        SkipTable { bits }
    }

    /// Whether the bit at `position` is set.
    #[inline(always)]
    fn is_marked(&self, position: u32) -> bool {
        self.bits[position as usize / 8] & (1 << (position % 8)) != 0
    }

    /// The distance from `pc + 1` to the next set bit, capped at 24.
    #[inline(always)]
    fn skip(&self, pc: u32) -> u32 {
        let start = pc as usize + 1;
        let byte = start / 8;
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bits[byte..byte + 8]);
        let bits = u64::from_le_bytes(word) >> (start % 8);
        bits.trailing_zeros().min(MAX_SKIP)
    }
}

/// Whose rules a program follows where PolkaVM 0.37 and the Gray Paper differ: the one switch
/// for those differences, carried by every [`DecodedProgram`].
///
/// PolkaVM container blobs (`PVM\0`, every instruction set) are what pallet-revive runs with
/// PolkaVM, so for them loading, validation, entry, gas and traps follow PolkaVM 0.37 down to
/// the gas; Gray Paper raw programs (the JAM conformance vectors) follow the Gray Paper.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Semantics {
    /// PolkaVM 0.37, for container blobs:
    /// * loading rejects undefined opcodes, over-long instructions and branches or jump table
    ///   entries that do not point at basic block starts; `jam_v1` code whose last instruction
    ///   can fall through past the end is refused, as PolkaVM refuses it;
    /// * exports may point at any instruction, also inside a basic block;
    /// * entering inside a basic block (a call, [`Instance::set_next_pc`]) pays for the whole
    ///   block that contains the entry point, not only for the rest of it;
    /// * a `fallthrough` or conditional branch that is the last instruction traps at its own pc
    ///   (whether or not the branch is taken), having paid for its block;
    /// * a jump table whose entries are zero bytes wide (all of them pc 0) is empty: dynamic
    ///   jumps through it panic.
    ///
    /// [`Instance::set_next_pc`]: crate::Instance::set_next_pc
    PolkaVm,
    /// The Gray Paper, for raw programs: anything structurally sound loads, and undefined
    /// opcodes and invalid targets panic when executed; entering inside a block pays for the
    /// rest of it; running off the end of the code reaches a trap at `pc == code length`,
    /// which costs like an instruction (what the JAM conformance vectors rely on); a jump table
    /// of zero-byte entries holds zeros (pc 0).
    GrayPaper,
}
const NO_INSTRUCTION: u32 = u32::MAX;
/// Entries of `index_of_pc` past the sentinel's (all `NO_INSTRUCTION`), so that decoding can
/// write a fixed-size window from any instruction's pc (see `ProgramCode::decode_with`).
const INDEX_PADDING: usize = 8;
/// Set in an `index_of_pc` entry (other than `NO_INSTRUCTION`) whose instruction starts a
/// basic block: whether a pc is a branch target is then one lookup, not a second one in the
/// instructions (the compiler asks for every branch; in a large program both lookups are
/// cache misses more often than not). Indices stay below it: the code is at most
/// `MAX_CODE_SIZE` bytes.
const BLOCK_START: u32 = 1 << 31;

/// One decoded instruction and where it sits.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct DecodedInstruction {
    /// Its program counter. (The next instruction's is the next entry's: every instruction
    /// has one after it, the sentinel's own being the code length. Not storing it keeps an
    /// entry at 24 bytes: a large program's list is megabytes, written once and read twice
    /// per compile.)
    pub pc: u32,
    /// The instruction.
    pub instruction: Instruction,
    /// Whether branches and dynamic jumps may target it (the Gray Paper's set ϖ).
    pub block_start: bool,
    /// Whether a static branch at or after it targets it (the head of a loop, if it is a block
    /// start). The compiler aligns these.
    pub loop_head: bool,
    /// Whether it ends its gas block: execution cannot simply continue with the next
    /// instruction (a terminator, or an undefined opcode, which traps). Decoding works it out
    /// once, so that the compiler and the gas model need not again.
    pub ends_block: bool,
}

// Compile time reads the list twice (block gas costs, then code generation): keep entries small.
const _: () = assert!(core::mem::size_of::<DecodedInstruction>() == 24);

/// A program decoded once: the instruction sequence in pc order (ending with a sentinel `trap`
/// at `pc == code length`), a pc-to-instruction index, basic block starts and the jump table.
#[derive(Clone, Debug)]
pub struct DecodedProgram {
    isa: InstructionSet,
    semantics: Semantics,
    instructions: Vec<DecodedInstruction>,
    index_of_pc: Vec<u32>,
    jump_table: Vec<u32>,
    /// The last instruction as written, when [`Semantics::PolkaVm`] decoded it as a trap (it is
    /// still priced as written).
    written_end: Option<Instruction>,
}

/// The large buffers of a [`DecodedProgram`], to decode into (their contents are discarded).
#[derive(Default, Debug)]
pub struct DecodeBuffers {
    /// The instruction sequence.
    pub instructions: Vec<DecodedInstruction>,
    /// The pc-to-instruction index.
    pub index_of_pc: Vec<u32>,
}

impl DecodedProgram {
    /// The capacities decoding `code_len` bytes of code needs at most, for the instruction
    /// sequence and the pc index.
    pub const fn buffer_capacities(code_len: usize) -> (usize, usize) {
        (code_len / 3 + 1, code_len + 1 + INDEX_PADDING)
    }

    /// Takes the program's large buffers out (for reuse), leaving it empty.
    pub fn take_buffers(&mut self) -> DecodeBuffers {
        DecodeBuffers {
            instructions: core::mem::take(&mut self.instructions),
            index_of_pc: core::mem::take(&mut self.index_of_pc),
        }
    }

    /// The instruction set the program was decoded with.
    pub fn isa(&self) -> InstructionSet {
        self.isa
    }

    /// Whose rules the program follows.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// The instruction at `index` as written in the code: what [`DecodedProgram::instructions`]
    /// holds, except for a last instruction [`Semantics::PolkaVm`] turned into a trap. Gas is
    /// charged for instructions as written.
    pub fn written_instruction(&self, index: usize) -> Instruction {
        match self.written_end {
            Some(written) if index + 2 == self.instructions.len() => written,
            _ => self.instructions[index].instruction,
        }
    }

    /// Every instruction in pc order; the last one is the sentinel `trap` past the end.
    pub fn instructions(&self) -> &[DecodedInstruction] {
        &self.instructions
    }

    /// The pc of the instruction after instruction `index`: the next entry's (the code length
    /// for the sentinel).
    pub fn next_pc(&self, index: usize) -> u32 {
        self.instructions.get(index + 1).map_or_else(|| self.code_len(), |next| next.pc)
    }

    /// The length of the code in bytes (the sentinel's pc).
    pub fn code_len(&self) -> u32 {
        self.instructions.last().map_or(0, |sentinel| sentinel.pc)
    }

    /// The index in [`DecodedProgram::instructions`] of the instruction at `pc`.
    #[inline]
    pub fn index_of(&self, pc: u32) -> Option<usize> {
        match self.index_of_pc.get(pc as usize) {
            Some(&entry) if entry != NO_INSTRUCTION => Some((entry & !BLOCK_START) as usize),
            _ => None,
        }
    }

    /// Whether `pc` starts a basic block (a valid branch or jump target).
    pub fn is_block_start(&self, pc: u32) -> bool {
        self.block_at(pc).is_some()
    }

    /// The index of the instruction at `pc` if it starts a basic block.
    #[inline]
    pub fn block_at(&self, pc: u32) -> Option<usize> {
        match self.index_of_pc.get(pc as usize) {
            Some(&entry) if entry != NO_INSTRUCTION && entry & BLOCK_START != 0 => {
                Some((entry & !BLOCK_START) as usize)
            }
            _ => None,
        }
    }

    /// The jump table.
    pub fn jump_table(&self) -> &[u32] {
        &self.jump_table
    }

    /// Resolves a dynamic jump address (Gray Paper `djump`).
    #[inline]
    pub fn resolve_dynamic_jump(&self, address: u32) -> DynamicJump {
        if address == HALT_ADDRESS {
            return DynamicJump::Halt;
        }
        if address == 0 || address % JUMP_TABLE_ALIGNMENT != 0 {
            return DynamicJump::Invalid;
        }
        let index = address / JUMP_TABLE_ALIGNMENT - 1;
        match self.jump_table.get(index as usize) {
            Some(&target) if self.is_block_start(target) => DynamicJump::Jump { index, target },
            _ => DynamicJump::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::reg::Reg;

    /// `fallthrough` (1) then `fallthrough` (1), the jump table one zero-byte entry: decoded
    /// with each semantics.
    fn code(isa: InstructionSet) -> ProgramCode {
        ProgramCode::new(isa, vec![1, 1], vec![0b11], vec![0]).unwrap()
    }

    #[test]
    fn the_two_semantics_differ_only_where_polkavm_and_the_gray_paper_do() {
        let gray = code(InstructionSet::ReviveV1).decode(Semantics::GrayPaper).unwrap();
        let polkavm = code(InstructionSet::ReviveV1).decode(Semantics::PolkaVm).unwrap();
        assert_eq!((gray.semantics(), polkavm.semantics()), (Semantics::GrayPaper, Semantics::PolkaVm));
        // The last `fallthrough` traps at itself in PolkaVM, priced as written.
        assert_eq!(gray.instructions()[1].instruction, Instruction::fallthrough());
        assert_eq!(polkavm.instructions()[1].instruction, Instruction::trap());
        assert_eq!(polkavm.written_instruction(1), Instruction::fallthrough());
        assert_eq!(polkavm.instructions()[0], gray.instructions()[0]);
        // A zero-byte jump table is empty in PolkaVM.
        assert_eq!(gray.resolve_dynamic_jump(2), DynamicJump::Jump { index: 0, target: 0 });
        assert_eq!(polkavm.resolve_dynamic_jump(2), DynamicJump::Invalid);
        // jam_v1 code that runs off its end is refused, naming the offset.
        let err = code(InstructionSet::JamV1).decode(Semantics::PolkaVm).unwrap_err();
        assert_eq!((err.offset, err.kind), (2, BlobErrorKind::RunsOffEnd { pc: 1, code_length: 2 }));
        assert!(code(InstructionSet::JamV1).decode(Semantics::GrayPaper).is_ok());
        // A last instruction that is no terminator runs into the trap at the end either way.
        let add = ProgramCode::new(InstructionSet::ReviveV1, vec![190, 0x87, 9], vec![1], vec![]).unwrap();
        let decoded = add.decode(Semantics::PolkaVm).unwrap();
        assert_eq!(decoded.instructions()[0].instruction, Instruction::add_32(Reg::A2, Reg::A0, Reg::A1));
        assert_eq!(decoded.written_instruction(0), decoded.instructions()[0].instruction);
    }
}
