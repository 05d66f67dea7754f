//! The instruction set, defined once.
//!
//! [`define_instruction_set!`] below holds one line per instruction: its name, its argument
//! layout ([`ArgKind`]) and its opcode number in each supported instruction set. Everything else
//! is derived from that table:
//!
//! * [`Opcode`] and the per-ISA opcode lookup tables (decoder),
//! * [`Instruction`], the decoded form with typed operands,
//! * [`InstructionVisitor`], one method per instruction (interpreter, compiler, gas model),
//! * [`Opcode::memory_access`]: which instructions load or store guest memory, how wide (an
//!   optional `=> load(width)` / `=> store(width)` column of the table), and
//!   [`Instruction::memory_access`], with the address operands,
//! * the text form (`Display`, used by the disassembler) and its parser ([`Instruction::parse`],
//!   used by the assembler),
//! * the binary encoder ([`Instruction::encode`], used by the builder and the assembler).
//!
//! Operand encodings follow the Gray Paper (appendix A): variable-length little-endian
//! immediates sign-extended from their length, register nibbles clamped to `r12`, and branch
//! offsets relative to the instruction's own program counter.

use super::reg::Reg;
use core::fmt;

/// An instruction set: which number each opcode has.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum InstructionSet {
    /// `revive_v1`: what `resolc` and pallet-revive use; blob version byte 0. The JAM test
    /// vectors (Gray Paper 0.5.x numbering) decode with this table too.
    ReviveV1,
    /// `jam_v1`: the JAM instruction set; blob version byte 3.
    JamV1,
}

impl InstructionSet {
    /// Every supported instruction set.
    pub const ALL: [InstructionSet; 2] = [InstructionSet::ReviveV1, InstructionSet::JamV1];

    /// The name used in the CLI and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            InstructionSet::ReviveV1 => "revive_v1",
            InstructionSet::JamV1 => "jam_v1",
        }
    }

    /// Parses a name as printed by [`InstructionSet::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|isa| isa.name() == name)
    }

    /// The version byte of a PolkaVM program blob holding code for this instruction set.
    pub const fn blob_version(self) -> u8 {
        match self {
            InstructionSet::ReviveV1 => 0,
            InstructionSet::JamV1 => 3,
        }
    }

    /// The instruction set a blob version byte stands for.
    pub const fn from_blob_version(version: u8) -> Option<Self> {
        match version {
            0 => Some(InstructionSet::ReviveV1),
            3 => Some(InstructionSet::JamV1),
            _ => None,
        }
    }

    /// Looks up the opcode a raw opcode byte stands for in this instruction set.
    #[inline(always)]
    pub fn opcode(self, raw: u8) -> Option<Opcode> {
        match self {
            InstructionSet::ReviveV1 => REVIVE_V1_OPCODES[raw as usize],
            InstructionSet::JamV1 => JAM_V1_OPCODES[raw as usize],
        }
    }
}

impl fmt::Display for InstructionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an instruction's operands are laid out after its opcode byte (Gray Paper A.5.1-A.5.13).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum ArgKind {
    /// No operands.
    NoArgs,
    /// One immediate.
    Imm,
    /// One register and a full 64-bit immediate.
    RegImm64,
    /// Two immediates; the first one's length is in the low 3 bits of the first operand byte.
    ImmImm,
    /// One branch offset.
    Offset,
    /// One register and one immediate.
    RegImm,
    /// One register and two immediates.
    RegImmImm,
    /// One register, one immediate and one branch offset.
    RegImmOffset,
    /// Two registers.
    RegReg,
    /// Two registers and one immediate.
    RegRegImm,
    /// Two registers and one branch offset.
    RegRegOffset,
    /// Two registers and two immediates.
    RegRegImmImm,
    /// Three registers.
    RegRegReg,
}

/// Decoded operands, independent of the instruction they belong to.
///
/// Immediates are kept as the 32-bit two's complement pattern of the sign-extended value
/// (semantics widen them to 64 bits with [`sext`]); branch targets are absolute program counters.
#[allow(missing_docs)] // one variant per `ArgKind`, documented there
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Args {
    NoArgs(),
    Imm(u32),
    RegImm64(Reg, u64),
    ImmImm(u32, u32),
    Offset(u32),
    RegImm(Reg, u32),
    RegImmImm(Reg, u32, u32),
    RegImmOffset(Reg, u32, u32),
    RegReg(Reg, Reg),
    RegRegImm(Reg, Reg, u32),
    RegRegOffset(Reg, Reg, u32),
    RegRegImmImm(Reg, Reg, u32, u32),
    RegRegReg(Reg, Reg, Reg),
}

/// Which way a memory access goes.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum AccessKind {
    /// The instruction reads guest memory.
    Load,
    /// The instruction writes guest memory.
    Store,
}

/// How an instruction accesses guest memory: a column of the instruction table.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct MemoryAccess {
    /// Load or store.
    pub kind: AccessKind,
    /// Bytes accessed: 1, 2, 4 or 8.
    pub width: u8,
}

/// Where a memory access goes, as the instruction's operands give it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Address {
    /// A fixed address.
    Absolute(u32),
    /// A register plus an offset, modulo 2^32.
    Indirect {
        /// The register holding the base address (its low 32 bits count).
        base: Reg,
        /// Added to the base.
        offset: u32,
    },
}

impl Address {
    /// The guest address, given the guest registers.
    #[inline]
    pub fn resolve(self, regs: &[u64; super::reg::REG_COUNT]) -> u32 {
        match self {
            Address::Absolute(address) => address,
            Address::Indirect { base, offset } => (regs[base as usize] as u32).wrapping_add(offset),
        }
    }
}

/// Sign-extends a 32-bit immediate to the 64-bit value the semantics use.
#[inline(always)]
pub const fn sext(imm: u32) -> u64 {
    imm as i32 as i64 as u64
}

macro_rules! opt_raw {
    (_) => {
        None
    };
    ($raw:literal) => {
        Some($raw)
    };
}

/// The branch target among an instruction's operands, by operand layout.
macro_rules! branch_target_of {
    (Offset, $target:ident) => {
        Some($target)
    };
    (RegImmOffset, $reg:ident, $imm:ident, $target:ident) => {
        Some($target)
    };
    (RegRegOffset, $a:ident, $b:ident, $target:ident) => {
        Some($target)
    };
    ($kind:ident $(, $field:ident)*) => {
        None
    };
}

/// An instruction rebuilt with its branch target (if it has one) replaced, by operand layout.
macro_rules! with_branch_target_of {
    ($name:ident, Offset, $new:ident, $target:ident) => {
        Instruction::$name($new)
    };
    ($name:ident, RegImmOffset, $new:ident, $reg:ident, $imm:ident, $target:ident) => {
        Instruction::$name($reg, $imm, $new)
    };
    ($name:ident, RegRegOffset, $new:ident, $a:ident, $b:ident, $target:ident) => {
        Instruction::$name($a, $b, $new)
    };
    ($name:ident, $kind:ident, $new:ident $(, $field:ident)*) => {
        Instruction::$name($($field),*)
    };
}

/// The memory access column of a table entry: empty, or `load(width)` / `store(width)`.
macro_rules! memory_access_of {
    (()) => {
        None
    };
    ((load $width:literal)) => {
        Some(MemoryAccess { kind: AccessKind::Load, width: $width })
    };
    ((store $width:literal)) => {
        Some(MemoryAccess { kind: AccessKind::Store, width: $width })
    };
}

macro_rules! define_instruction_set {
    // The table is written grouped by operand layout; flatten it to one entry per instruction
    // (each carrying its group's operand list) so the generator below can nest repetitions.
    (@flatten [$($done:tt)*] $kind:ident $fields:tt {
        $( $name:ident = $revive:tt / $jam:tt $( => $access:ident ( $width:literal ) )?, )*
    } $($rest:tt)*) => {
        define_instruction_set!(@flatten [$($done)* $( ($name $kind $fields $revive $jam ($($access $width)?)) )*] $($rest)*);
    };
    (@flatten [$($done:tt)*]) => {
        define_instruction_set!(@generate ($) $($done)*);
    };
    (@generate ($d:tt) $( ($name:ident $kind:ident ( $( $field:ident : $ty:ty ),* ) $revive:tt $jam:tt $access:tt) )*) => {
        /// Invokes `$callback!` once with every instruction of the table, as
        /// `name(field: Type, ...);` entries (for code that needs one item per instruction,
        /// such as the interpreter's handler table).
        macro_rules! for_each_instruction {
            ($d callback:ident) => {
                $d callback! { $( $name ( $( $field : $ty ),* ); )* }
            };
        }
        pub(crate) use for_each_instruction;

        /// An instruction, without its operands.
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        #[repr(u8)]
        pub enum Opcode {
            $( $name, )*
        }

        impl Opcode {
            /// Every opcode, in table order.
            pub const ALL: &'static [Opcode] = &[ $( Opcode::$name, )* ];

            /// The number of opcodes.
            pub const COUNT: usize = Self::ALL.len();

            /// The instruction's name, as the disassembler prints it.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Opcode::$name => stringify!($name), )*
                }
            }

            /// How the instruction's operands are encoded.
            #[inline(always)]
            pub const fn kind(self) -> ArgKind {
                match self {
                    $( Opcode::$name => ArgKind::$kind, )*
                }
            }

            /// Whether the instruction loads or stores guest memory, and how many bytes.
            #[inline]
            pub const fn memory_access(self) -> Option<MemoryAccess> {
                match self {
                    $( Opcode::$name => memory_access_of!($access), )*
                }
            }

            /// The raw opcode byte in the given instruction set, if the instruction exists there.
            pub const fn to_raw(self, isa: InstructionSet) -> Option<u8> {
                match isa {
                    InstructionSet::ReviveV1 => match self {
                        $( Opcode::$name => opt_raw!($revive), )*
                    },
                    InstructionSet::JamV1 => match self {
                        $( Opcode::$name => opt_raw!($jam), )*
                    },
                }
            }
        }

        /// A decoded instruction with its operands.
        ///
        /// Field order follows the Gray Paper's operand names: for three-register instructions
        /// `(d, a, b)` computes `d = a op b`; for register-register-immediate instructions
        /// `(a, b, imm)` computes `a = b op imm` (loads and ALU) or stores `a` at `b + imm`.
        #[allow(non_camel_case_types, missing_docs)]
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
        pub enum Instruction {
            $( $name( $( $ty ),* ), )*
            /// An opcode byte that the instruction set does not define; executes as a trap.
            invalid(u8),
        }

        /// A visitor with one method per instruction: the interpreter, the compiler and the gas
        /// model implement it, so adding an instruction to the table is a compile error until
        /// each of them handles it.
        #[allow(non_snake_case)]
        pub trait InstructionVisitor {
            /// What each visit returns.
            type Output;
            $(
                #[allow(missing_docs)]
                fn $name(&mut self, $( $field: $ty ),* ) -> Self::Output;
            )*
            /// An undefined opcode (`raw`); it executes as a trap.
            fn invalid(&mut self, raw: u8) -> Self::Output;
        }

        impl Instruction {
            /// The instruction's opcode, or `None` for [`Instruction::invalid`].
            pub const fn opcode(&self) -> Option<Opcode> {
                match *self {
                    $( Instruction::$name(..) => Some(Opcode::$name), )*
                    Instruction::invalid(..) => None,
                }
            }

            /// Calls the visitor method for this instruction.
            #[inline(always)]
            pub fn visit<V: InstructionVisitor + ?Sized>(self, visitor: &mut V) -> V::Output {
                match self {
                    $( Instruction::$name( $( $field ),* ) => visitor.$name( $( $field ),* ), )*
                    Instruction::invalid(raw) => visitor.invalid(raw),
                }
            }

            /// The instruction's operands.
            #[inline]
            pub const fn args(&self) -> Args {
                match *self {
                    $( Instruction::$name( $( $field ),* ) => Args::$kind( $( $field ),* ), )*
                    Instruction::invalid(..) => Args::NoArgs(),
                }
            }

            /// The static branch target, for instructions that have one.
            #[inline]
            #[allow(unused_variables)]
            pub fn branch_target(&self) -> Option<u32> {
                match *self {
                    $( Instruction::$name( $( $field ),* ) => branch_target_of!($kind $(, $field)*), )*
                    Instruction::invalid(..) => None,
                }
            }

            /// The same instruction with its static branch target replaced (instructions
            /// without one are returned unchanged).
            #[inline]
            #[allow(unused_variables)]
            pub fn with_branch_target(self, new_target: u32) -> Instruction {
                match self {
                    $( Instruction::$name( $( $field ),* ) => with_branch_target_of!($name, $kind, new_target $(, $field)*), )*
                    Instruction::invalid(raw) => Instruction::invalid(raw),
                }
            }

            /// Decodes the operands of a known opcode: one dispatch on the opcode, with the
            /// operand layout's decoder inlined into each arm.
            #[inline(always)]
            fn decode_known(opcode: Opcode, ops: &OperandBytes, pc: u32, skip: u32) -> Instruction {
                match opcode {
                    $(
                        Opcode::$name => match decode_operands(ArgKind::$kind, ops, pc, skip) {
                            Args::$kind( $( $field ),* ) => Instruction::$name( $( $field ),* ),
                            #[allow(unreachable_patterns)]
                            _ => unreachable!("decode_operands returns operands of the kind it is given"),
                        },
                    )*
                }
            }

            /// Builds an instruction from an opcode and operands of the matching kind.
            #[inline]
            pub const fn from_parts(opcode: Opcode, args: Args) -> Option<Instruction> {
                match (opcode, args) {
                    $( (Opcode::$name, Args::$kind( $( $field ),* )) => Some(Instruction::$name( $( $field ),* )), )*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
    ($($table:tt)*) => {
        define_instruction_set!(@flatten [] $($table)*);
    };
}

// The table. Opcode numbers: revive_v1 / jam_v1 (`_` = not in that instruction set). The two
// sets differ in `unlikely` and in the numbering of the bit-counting and extension instructions.
define_instruction_set! {
    NoArgs() {
        trap = 0 / 0,
        fallthrough = 1 / 1,
        unlikely = _ / 2,
    }
    Imm(index: u32) {
        ecalli = 10 / 10,
    }
    RegImm64(reg: Reg, value: u64) {
        load_imm64 = 20 / 20,
    }
    ImmImm(address: u32, value: u32) {
        store_imm_u8 = 30 / 30 => store(1),
        store_imm_u16 = 31 / 31 => store(2),
        store_imm_u32 = 32 / 32 => store(4),
        store_imm_u64 = 33 / 33 => store(8),
    }
    Offset(target: u32) {
        jump = 40 / 40,
    }
    RegImm(reg: Reg, imm: u32) {
        jump_indirect = 50 / 50,
        load_imm = 51 / 51,
        load_u8 = 52 / 52 => load(1),
        load_i8 = 53 / 53 => load(1),
        load_u16 = 54 / 54 => load(2),
        load_i16 = 55 / 55 => load(2),
        load_u32 = 56 / 56 => load(4),
        load_i32 = 57 / 57 => load(4),
        load_u64 = 58 / 58 => load(8),
        store_u8 = 59 / 59 => store(1),
        store_u16 = 60 / 60 => store(2),
        store_u32 = 61 / 61 => store(4),
        store_u64 = 62 / 62 => store(8),
    }
    RegImmImm(base: Reg, offset: u32, value: u32) {
        store_imm_indirect_u8 = 70 / 70 => store(1),
        store_imm_indirect_u16 = 71 / 71 => store(2),
        store_imm_indirect_u32 = 72 / 72 => store(4),
        store_imm_indirect_u64 = 73 / 73 => store(8),
    }
    RegImmOffset(reg: Reg, imm: u32, target: u32) {
        load_imm_and_jump = 80 / 80,
        branch_eq_imm = 81 / 81,
        branch_not_eq_imm = 82 / 82,
        branch_less_unsigned_imm = 83 / 83,
        branch_less_or_equal_unsigned_imm = 84 / 84,
        branch_greater_or_equal_unsigned_imm = 85 / 85,
        branch_greater_unsigned_imm = 86 / 86,
        branch_less_signed_imm = 87 / 87,
        branch_less_or_equal_signed_imm = 88 / 88,
        branch_greater_or_equal_signed_imm = 89 / 89,
        branch_greater_signed_imm = 90 / 90,
    }
    RegReg(d: Reg, s: Reg) {
        move_reg = 100 / 100,
        count_set_bits_64 = 102 / 101,
        count_set_bits_32 = 103 / 102,
        count_leading_zero_bits_64 = 104 / 103,
        count_leading_zero_bits_32 = 105 / 104,
        count_trailing_zero_bits_64 = 106 / 105,
        count_trailing_zero_bits_32 = 107 / 106,
        sign_extend_8 = 108 / 107,
        sign_extend_16 = 109 / 108,
        zero_extend_16 = 110 / 109,
        reverse_byte = 111 / 110,
    }
    RegRegImm(a: Reg, b: Reg, imm: u32) {
        store_indirect_u8 = 120 / 120 => store(1),
        store_indirect_u16 = 121 / 121 => store(2),
        store_indirect_u32 = 122 / 122 => store(4),
        store_indirect_u64 = 123 / 123 => store(8),
        load_indirect_u8 = 124 / 124 => load(1),
        load_indirect_i8 = 125 / 125 => load(1),
        load_indirect_u16 = 126 / 126 => load(2),
        load_indirect_i16 = 127 / 127 => load(2),
        load_indirect_u32 = 128 / 128 => load(4),
        load_indirect_i32 = 129 / 129 => load(4),
        load_indirect_u64 = 130 / 130 => load(8),
        add_imm_32 = 131 / 131,
        and_imm = 132 / 132,
        xor_imm = 133 / 133,
        or_imm = 134 / 134,
        mul_imm_32 = 135 / 135,
        set_less_than_unsigned_imm = 136 / 136,
        set_less_than_signed_imm = 137 / 137,
        shift_logical_left_imm_32 = 138 / 138,
        shift_logical_right_imm_32 = 139 / 139,
        shift_arithmetic_right_imm_32 = 140 / 140,
        negate_and_add_imm_32 = 141 / 141,
        set_greater_than_unsigned_imm = 142 / 142,
        set_greater_than_signed_imm = 143 / 143,
        shift_logical_left_imm_alt_32 = 144 / 144,
        shift_logical_right_imm_alt_32 = 145 / 145,
        shift_arithmetic_right_imm_alt_32 = 146 / 146,
        cmov_if_zero_imm = 147 / 147,
        cmov_if_not_zero_imm = 148 / 148,
        add_imm_64 = 149 / 149,
        mul_imm_64 = 150 / 150,
        shift_logical_left_imm_64 = 151 / 151,
        shift_logical_right_imm_64 = 152 / 152,
        shift_arithmetic_right_imm_64 = 153 / 153,
        negate_and_add_imm_64 = 154 / 154,
        shift_logical_left_imm_alt_64 = 155 / 155,
        shift_logical_right_imm_alt_64 = 156 / 156,
        shift_arithmetic_right_imm_alt_64 = 157 / 157,
        rotate_right_imm_64 = 158 / 158,
        rotate_right_imm_alt_64 = 159 / 159,
        rotate_right_imm_32 = 160 / 160,
        rotate_right_imm_alt_32 = 161 / 161,
    }
    RegRegOffset(a: Reg, b: Reg, target: u32) {
        branch_eq = 170 / 170,
        branch_not_eq = 171 / 171,
        branch_less_unsigned = 172 / 172,
        branch_less_signed = 173 / 173,
        branch_greater_or_equal_unsigned = 174 / 174,
        branch_greater_or_equal_signed = 175 / 175,
    }
    RegRegImmImm(a: Reg, b: Reg, value: u32, offset: u32) {
        load_imm_and_jump_indirect = 180 / 180,
    }
    RegRegReg(d: Reg, a: Reg, b: Reg) {
        add_32 = 190 / 190,
        sub_32 = 191 / 191,
        mul_32 = 192 / 192,
        div_unsigned_32 = 193 / 193,
        div_signed_32 = 194 / 194,
        rem_unsigned_32 = 195 / 195,
        rem_signed_32 = 196 / 196,
        shift_logical_left_32 = 197 / 197,
        shift_logical_right_32 = 198 / 198,
        shift_arithmetic_right_32 = 199 / 199,
        add_64 = 200 / 200,
        sub_64 = 201 / 201,
        mul_64 = 202 / 202,
        div_unsigned_64 = 203 / 203,
        div_signed_64 = 204 / 204,
        rem_unsigned_64 = 205 / 205,
        rem_signed_64 = 206 / 206,
        shift_logical_left_64 = 207 / 207,
        shift_logical_right_64 = 208 / 208,
        shift_arithmetic_right_64 = 209 / 209,
        and = 210 / 210,
        xor = 211 / 211,
        or = 212 / 212,
        mul_upper_signed_signed = 213 / 213,
        mul_upper_unsigned_unsigned = 214 / 214,
        mul_upper_signed_unsigned = 215 / 215,
        set_less_than_unsigned = 216 / 216,
        set_less_than_signed = 217 / 217,
        cmov_if_zero = 218 / 218,
        cmov_if_not_zero = 219 / 219,
        rotate_left_64 = 220 / 220,
        rotate_left_32 = 221 / 221,
        rotate_right_64 = 222 / 222,
        rotate_right_32 = 223 / 223,
        and_inverted = 224 / 224,
        or_inverted = 225 / 225,
        xnor = 226 / 226,
        maximum = 227 / 227,
        maximum_unsigned = 228 / 228,
        minimum = 229 / 229,
        minimum_unsigned = 230 / 230,
    }
}

const fn build_opcode_table(isa: InstructionSet) -> [Option<Opcode>; 256] {
    let mut table = [None; 256];
    let mut i = 0;
    while i < Opcode::ALL.len() {
        let opcode = Opcode::ALL[i];
        if let Some(raw) = opcode.to_raw(isa) {
            table[raw as usize] = Some(opcode);
        }
        i += 1;
    }
    table
}

static REVIVE_V1_OPCODES: [Option<Opcode>; 256] = build_opcode_table(InstructionSet::ReviveV1);
static JAM_V1_OPCODES: [Option<Opcode>; 256] = build_opcode_table(InstructionSet::JamV1);

const fn build_terminator_table() -> [bool; Opcode::COUNT] {
    let mut table = [false; Opcode::COUNT];
    let mut i = 0;
    while i < Opcode::COUNT {
        table[i] = Opcode::ALL[i].computes_terminator();
        i += 1;
    }
    table
}

static TERMINATORS: [bool; Opcode::COUNT] = build_terminator_table();

impl Opcode {
    /// Whether the instruction ends a basic block (the Gray Paper's set T): the next
    /// instruction, if any, starts a new block.
    #[inline]
    pub fn is_terminator(self) -> bool {
        TERMINATORS[self as usize]
    }

    const fn computes_terminator(self) -> bool {
        matches!(
            self,
            Opcode::trap
                | Opcode::fallthrough
                | Opcode::jump
                | Opcode::jump_indirect
                | Opcode::load_imm_and_jump
                | Opcode::load_imm_and_jump_indirect
        ) || matches!(self.kind(), ArgKind::RegImmOffset | ArgKind::RegRegOffset)
    }

    /// Whether execution can continue with the next instruction after this one.
    pub const fn can_fall_through(self) -> bool {
        !matches!(
            self,
            Opcode::trap
                | Opcode::jump
                | Opcode::jump_indirect
                | Opcode::load_imm_and_jump
                | Opcode::load_imm_and_jump_indirect
        )
    }

    /// Looks an opcode up by its name.
    pub fn from_name(name: &str) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|opcode| opcode.name() == name)
    }
}

impl Instruction {
    /// Whether this instruction ends a basic block (see [`Opcode::is_terminator`]). Undefined
    /// opcodes trap, but are not in the Gray Paper's terminator set.
    pub fn is_terminator(&self) -> bool {
        self.opcode().is_some_and(Opcode::is_terminator)
    }

    /// The guest memory access the instruction makes, if any: how wide, which way, and the
    /// address operands (the [`Opcode::memory_access`] column of the table, with the address
    /// form its operand layout implies).
    pub fn memory_access(&self) -> Option<(MemoryAccess, Address)> {
        let access = self.opcode()?.memory_access()?;
        let address = match self.args() {
            Args::ImmImm(address, _) | Args::RegImm(_, address) => Address::Absolute(address),
            Args::RegImmImm(base, offset, _) | Args::RegRegImm(_, base, offset) => Address::Indirect { base, offset },
            _ => unreachable!("the table gives memory accesses only to instructions with an address operand"),
        };
        Some((access, address))
    }
}

// ---------------------------------------------------------------------------------------------
// Binary decoding (Gray Paper A.5)
// ---------------------------------------------------------------------------------------------

/// The largest number of operand bytes an instruction may have (`skip` is capped at 24).
pub const MAX_SKIP: u32 = 24;

/// The operand bytes of one instruction, copied into a fixed window and zero-padded past the
/// end of the code as the Gray Paper specifies (the code is conceptually followed by zeroes).
/// No instruction reads more than 10 operand bytes, so reads never leave the window.
struct OperandBytes {
    window: [u8; 16],
}

impl OperandBytes {
    #[inline(always)]
    fn new(code: &[u8], start: usize) -> OperandBytes {
        let window = match code.get(start..start + 16) {
            Some(bytes) => u128::from_le_bytes(bytes.try_into().expect("16 bytes")).to_le_bytes(),
            None => {
                let mut window = [0u8; 16];
                let tail = code.get(start..).unwrap_or(&[]);
                window[..tail.len()].copy_from_slice(tail);
                window
            }
        };
        OperandBytes { window }
    }

    #[inline(always)]
    fn byte(&self, index: usize) -> u8 {
        self.window[index]
    }

    /// Reads `length` (0..=4) little-endian bytes at `index`, sign-extended to 32 bits.
    #[inline(always)]
    fn imm(&self, index: usize, length: u32) -> u32 {
        if length == 0 {
            return 0;
        }
        let raw = u32::from_le_bytes([
            self.window[index],
            self.window[index + 1],
            self.window[index + 2],
            self.window[index + 3],
        ]);
        let shift = 32 - 8 * length;
        (((raw << shift) as i32) >> shift) as u32
    }

    #[inline(always)]
    fn imm64(&self, index: usize) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.window[index..index + 8]);
        u64::from_le_bytes(bytes)
    }

    #[inline(always)]
    fn low_reg(&self, index: usize) -> Reg {
        Reg::from_low_nibble(self.byte(index))
    }

    #[inline(always)]
    fn high_reg(&self, index: usize) -> Reg {
        Reg::from_low_nibble(self.byte(index) >> 4)
    }
}

/// Decodes operands of the given kind. `pc` is the opcode's position, `skip` the number of
/// operand bytes (the Gray Paper's `skip(pc)`).
pub fn decode_args(kind: ArgKind, code: &[u8], pc: u32, skip: u32) -> Args {
    decode_operands(kind, &OperandBytes::new(code, pc as usize + 1), pc, skip)
}

#[inline(always)]
fn decode_operands(kind: ArgKind, ops: &OperandBytes, pc: u32, skip: u32) -> Args {
    let rel = |offset: u32| pc.wrapping_add(offset);
    match kind {
        ArgKind::NoArgs => Args::NoArgs(),
        ArgKind::Imm => Args::Imm(ops.imm(0, skip.min(4))),
        ArgKind::RegImm64 => Args::RegImm64(ops.low_reg(0), ops.imm64(1)),
        ArgKind::ImmImm => {
            let lx = u32::from(ops.byte(0) & 7).min(4);
            let ly = skip.saturating_sub(lx + 1).min(4);
            Args::ImmImm(ops.imm(1, lx), ops.imm(1 + lx as usize, ly))
        }
        ArgKind::Offset => Args::Offset(rel(ops.imm(0, skip.min(4)))),
        ArgKind::RegImm => Args::RegImm(ops.low_reg(0), ops.imm(1, skip.saturating_sub(1).min(4))),
        ArgKind::RegImmImm | ArgKind::RegImmOffset => {
            let lx = u32::from((ops.byte(0) >> 4) & 7).min(4);
            let ly = skip.saturating_sub(lx + 1).min(4);
            let (reg, x, y) = (ops.low_reg(0), ops.imm(1, lx), ops.imm(1 + lx as usize, ly));
            if kind == ArgKind::RegImmImm {
                Args::RegImmImm(reg, x, y)
            } else {
                Args::RegImmOffset(reg, x, rel(y))
            }
        }
        ArgKind::RegReg => Args::RegReg(ops.low_reg(0), ops.high_reg(0)),
        ArgKind::RegRegImm => {
            Args::RegRegImm(ops.low_reg(0), ops.high_reg(0), ops.imm(1, skip.saturating_sub(1).min(4)))
        }
        ArgKind::RegRegOffset => {
            Args::RegRegOffset(ops.low_reg(0), ops.high_reg(0), rel(ops.imm(1, skip.saturating_sub(1).min(4))))
        }
        ArgKind::RegRegImmImm => {
            let lx = u32::from(ops.byte(1) & 7).min(4);
            let ly = skip.saturating_sub(lx + 2).min(4);
            Args::RegRegImmImm(ops.low_reg(0), ops.high_reg(0), ops.imm(2, lx), ops.imm(2 + lx as usize, ly))
        }
        ArgKind::RegRegReg => Args::RegRegReg(Reg::from_low_nibble(ops.byte(1)), ops.low_reg(0), ops.high_reg(0)),
    }
}

/// Decodes the instruction whose opcode byte is at `pc`, given its operand length `skip`.
/// A `pc` past the end of the code decodes as `trap`, as the Gray Paper specifies.
#[inline]
pub fn decode_instruction(isa: InstructionSet, code: &[u8], pc: u32, skip: u32) -> Instruction {
    let Some(&raw) = code.get(pc as usize) else {
        return Instruction::trap();
    };
    match isa.opcode(raw) {
        Some(opcode) => Instruction::decode_known(opcode, &OperandBytes::new(code, pc as usize + 1), pc, skip),
        None => Instruction::invalid(raw),
    }
}

// ---------------------------------------------------------------------------------------------
// Binary encoding (the shortest form; used by the builder and the assembler)
// ---------------------------------------------------------------------------------------------

/// The shortest length (0..=4 bytes) that reproduces `value` after sign extension.
pub const fn imm_length(value: u32) -> u32 {
    let value = value as i32;
    if value == 0 {
        0
    } else if value as i8 as i32 == value {
        1
    } else if (value << 16) >> 16 == value {
        2
    } else if (value << 8) >> 8 == value {
        3
    } else {
        4
    }
}

fn push_imm(out: &mut Vec<u8>, value: u32, length: u32) {
    out.extend_from_slice(&value.to_le_bytes()[..length as usize]);
}

/// An instruction that cannot be encoded in the requested instruction set.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("instruction `{name}` does not exist in the {isa} instruction set")]
pub struct EncodeError {
    /// The instruction's name.
    pub name: &'static str,
    /// The instruction set it was encoded for.
    pub isa: InstructionSet,
}

impl Instruction {
    /// Appends the instruction's shortest encoding, assuming it is placed at `pc` (branch
    /// offsets are relative to it), and returns the number of bytes written.
    pub fn encode(&self, isa: InstructionSet, pc: u32, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let opcode = match self.opcode() {
            Some(opcode) => opcode,
            None => {
                let Instruction::invalid(raw) = *self else { unreachable!() };
                out.push(raw);
                return Ok(1);
            }
        };
        let raw = opcode.to_raw(isa).ok_or(EncodeError { name: opcode.name(), isa })?;
        let start = out.len();
        out.push(raw);
        let rel = |target: u32| target.wrapping_sub(pc);
        let nibbles = |low: Reg, high: Reg| (low as u8) | ((high as u8) << 4);
        match self.args() {
            Args::NoArgs() => {}
            Args::Imm(x) | Args::Offset(x) => {
                let x = if matches!(self.args(), Args::Offset(_)) { rel(x) } else { x };
                push_imm(out, x, imm_length(x));
            }
            Args::RegImm64(reg, value) => {
                out.push(reg as u8);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Args::ImmImm(x, y) => {
                let lx = imm_length(x);
                out.push(lx as u8);
                push_imm(out, x, lx);
                push_imm(out, y, imm_length(y));
            }
            Args::RegImm(reg, x) => {
                out.push(reg as u8);
                push_imm(out, x, imm_length(x));
            }
            Args::RegImmImm(reg, x, y) | Args::RegImmOffset(reg, x, y) => {
                let y = if matches!(self.args(), Args::RegImmOffset(..)) { rel(y) } else { y };
                let lx = imm_length(x);
                out.push(reg as u8 | (lx as u8) << 4);
                push_imm(out, x, lx);
                push_imm(out, y, imm_length(y));
            }
            Args::RegReg(d, s) => out.push(nibbles(d, s)),
            Args::RegRegImm(a, b, x) => {
                out.push(nibbles(a, b));
                push_imm(out, x, imm_length(x));
            }
            Args::RegRegOffset(a, b, target) => {
                out.push(nibbles(a, b));
                let x = rel(target);
                push_imm(out, x, imm_length(x));
            }
            Args::RegRegImmImm(a, b, x, y) => {
                let lx = imm_length(x);
                out.push(nibbles(a, b));
                out.push(lx as u8);
                push_imm(out, x, lx);
                push_imm(out, y, imm_length(y));
            }
            Args::RegRegReg(d, a, b) => {
                out.push(nibbles(a, b));
                out.push(d as u8);
            }
        }
        Ok(out.len() - start)
    }
}

// ---------------------------------------------------------------------------------------------
// Text form: `name op, op, ...` (the disassembler prints it, the assembler parses it)
// ---------------------------------------------------------------------------------------------

/// Formats an immediate: small values in signed decimal, others as hexadecimal.
pub fn format_imm(value: u32) -> String {
    let signed = value as i32;
    if (-4096..=4096).contains(&signed) {
        signed.to_string()
    } else {
        format!("0x{value:x}")
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.opcode() {
            Some(opcode) => opcode.name(),
            None => {
                let Instruction::invalid(raw) = *self else { unreachable!() };
                return write!(f, "invalid {raw}");
            }
        };
        let imm = format_imm;
        let target = |t: u32| format!("@{t}");
        match self.args() {
            Args::NoArgs() => f.write_str(name),
            Args::Imm(x) => write!(f, "{name} {}", imm(x)),
            Args::RegImm64(r, x) => write!(f, "{name} {r}, 0x{x:x}"),
            Args::ImmImm(x, y) => write!(f, "{name} {}, {}", imm(x), imm(y)),
            Args::Offset(t) => write!(f, "{name} {}", target(t)),
            Args::RegImm(r, x) => write!(f, "{name} {r}, {}", imm(x)),
            Args::RegImmImm(r, x, y) => write!(f, "{name} {r}, {}, {}", imm(x), imm(y)),
            Args::RegImmOffset(r, x, t) => write!(f, "{name} {r}, {}, {}", imm(x), target(t)),
            Args::RegReg(d, s) => write!(f, "{name} {d}, {s}"),
            Args::RegRegImm(a, b, x) => write!(f, "{name} {a}, {b}, {}", imm(x)),
            Args::RegRegOffset(a, b, t) => write!(f, "{name} {a}, {b}, {}", target(t)),
            Args::RegRegImmImm(a, b, x, y) => write!(f, "{name} {a}, {b}, {}, {}", imm(x), imm(y)),
            Args::RegRegReg(d, a, b) => write!(f, "{name} {d}, {a}, {b}"),
        }
    }
}

/// Why a line of assembly text is not an instruction.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParseError {
    /// The first word names no instruction.
    #[error("unknown instruction `{0}`")]
    UnknownInstruction(String),
    /// The operands do not fit the instruction.
    #[error("`{name}` takes {expected}; got `{got}`")]
    BadOperands {
        /// The instruction's name.
        name: &'static str,
        /// A description of the expected operands.
        expected: &'static str,
        /// The operand text as given.
        got: String,
    },
}

fn parse_u32_imm(text: &str) -> Option<u32> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    if negative {
        (magnitude <= 1 << 31).then(|| (magnitude as u32).wrapping_neg())
    } else {
        u32::try_from(magnitude).ok()
    }
}

fn parse_u64_imm(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => match text.strip_prefix('-') {
            Some(digits) => digits.parse::<u64>().ok().filter(|v| *v <= 1 << 63).map(u64::wrapping_neg),
            None => text.parse().ok(),
        },
    }
}

fn parse_target(text: &str) -> Option<u32> {
    parse_u32_imm(text.strip_prefix('@')?)
}

impl ArgKind {
    /// A description of the operands, for error messages and documentation.
    pub const fn describe(self) -> &'static str {
        match self {
            ArgKind::NoArgs => "no operands",
            ArgKind::Imm => "an immediate",
            ArgKind::RegImm64 => "a register and a 64-bit immediate",
            ArgKind::ImmImm => "two immediates",
            ArgKind::Offset => "a target (@pc)",
            ArgKind::RegImm => "a register and an immediate",
            ArgKind::RegImmImm => "a register and two immediates",
            ArgKind::RegImmOffset => "a register, an immediate and a target (@pc)",
            ArgKind::RegReg => "two registers",
            ArgKind::RegRegImm => "two registers and an immediate",
            ArgKind::RegRegOffset => "two registers and a target (@pc)",
            ArgKind::RegRegImmImm => "two registers and two immediates",
            ArgKind::RegRegReg => "three registers",
        }
    }

    /// Parses comma-separated operand text in the form [`Instruction`]'s `Display` prints.
    pub fn parse_args(self, text: &str) -> Option<Args> {
        let ops: Vec<&str> = if text.trim().is_empty() { Vec::new() } else { text.split(',').map(str::trim).collect() };
        let reg = |i: usize| Reg::parse(ops[i]);
        let imm = |i: usize| parse_u32_imm(ops[i]);
        let target = |i: usize| parse_target(ops[i]);
        let arity = match self {
            ArgKind::NoArgs => 0,
            ArgKind::Imm | ArgKind::Offset => 1,
            ArgKind::RegImm64 | ArgKind::ImmImm | ArgKind::RegImm | ArgKind::RegReg => 2,
            ArgKind::RegImmImm
            | ArgKind::RegImmOffset
            | ArgKind::RegRegImm
            | ArgKind::RegRegOffset
            | ArgKind::RegRegReg => 3,
            ArgKind::RegRegImmImm => 4,
        };
        if ops.len() != arity {
            return None;
        }
        Some(match self {
            ArgKind::NoArgs => Args::NoArgs(),
            ArgKind::Imm => Args::Imm(imm(0)?),
            ArgKind::RegImm64 => Args::RegImm64(reg(0)?, parse_u64_imm(ops[1])?),
            ArgKind::ImmImm => Args::ImmImm(imm(0)?, imm(1)?),
            ArgKind::Offset => Args::Offset(target(0)?),
            ArgKind::RegImm => Args::RegImm(reg(0)?, imm(1)?),
            ArgKind::RegImmImm => Args::RegImmImm(reg(0)?, imm(1)?, imm(2)?),
            ArgKind::RegImmOffset => Args::RegImmOffset(reg(0)?, imm(1)?, target(2)?),
            ArgKind::RegReg => Args::RegReg(reg(0)?, reg(1)?),
            ArgKind::RegRegImm => Args::RegRegImm(reg(0)?, reg(1)?, imm(2)?),
            ArgKind::RegRegOffset => Args::RegRegOffset(reg(0)?, reg(1)?, target(2)?),
            ArgKind::RegRegImmImm => Args::RegRegImmImm(reg(0)?, reg(1)?, imm(2)?, imm(3)?),
            ArgKind::RegRegReg => Args::RegRegReg(reg(0)?, reg(1)?, reg(2)?),
        })
    }
}

impl Instruction {
    /// Parses one instruction in the text form that `Display` prints.
    pub fn parse(text: &str) -> Result<Instruction, ParseError> {
        let text = text.trim();
        let (name, operands) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        if name == "invalid" {
            return parse_u32_imm(operands.trim())
                .and_then(|raw| u8::try_from(raw).ok())
                .map(Instruction::invalid)
                .ok_or_else(|| ParseError::BadOperands {
                    name: "invalid",
                    expected: "an opcode byte",
                    got: operands.trim().to_string(),
                });
        }
        let opcode = Opcode::from_name(name).ok_or_else(|| ParseError::UnknownInstruction(name.to_string()))?;
        let kind = opcode.kind();
        kind.parse_args(operands).and_then(|args| Instruction::from_parts(opcode, args)).ok_or_else(|| {
            ParseError::BadOperands { name: opcode.name(), expected: kind.describe(), got: operands.trim().to_string() }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_access_column_matches_the_instruction_names() {
        for &opcode in Opcode::ALL {
            let name = opcode.name();
            let expected = if name.starts_with("load_") && !name.starts_with("load_imm") {
                Some(AccessKind::Load)
            } else if name.starts_with("store_") {
                Some(AccessKind::Store)
            } else {
                None
            };
            let access = opcode.memory_access();
            assert_eq!(access.map(|access| access.kind), expected, "{name}");
            if let Some(access) = access {
                let bits: u32 = name.rsplit('_').next().unwrap()[1..].parse().unwrap();
                assert_eq!(u32::from(access.width) * 8, bits, "{name}");
            }
        }
        let regs = core::array::from_fn(|i| 0x1_0000_0000 + i as u64 * 0x100);
        let address = |instruction: Instruction| instruction.memory_access().map(|(_, address)| address.resolve(&regs));
        assert_eq!(address(Instruction::store_imm_u16(0x20000, 5)), Some(0x20000));
        assert_eq!(address(Instruction::load_i8(Reg::A0, 0x30000)), Some(0x30000));
        assert_eq!(address(Instruction::store_imm_indirect_u64(Reg::T0, 0x10, 7)), Some(0x210));
        assert_eq!(address(Instruction::load_indirect_u32(Reg::A0, Reg::SP, 0xffff_fff0)), Some(0xf0));
        assert_eq!(address(Instruction::add_imm_32(Reg::A0, Reg::SP, 4)), None);
    }

    #[test]
    fn opcode_tables_are_consistent() {
        for isa in InstructionSet::ALL {
            let mut seen = [false; 256];
            for &opcode in Opcode::ALL {
                if let Some(raw) = opcode.to_raw(isa) {
                    assert!(!seen[raw as usize], "{isa}: opcode {raw} used twice");
                    seen[raw as usize] = true;
                    assert_eq!(isa.opcode(raw), Some(opcode));
                }
            }
        }
        assert_eq!(InstructionSet::ReviveV1.opcode(2), None);
        assert_eq!(InstructionSet::JamV1.opcode(2), Some(Opcode::unlikely));
        assert_eq!(InstructionSet::ReviveV1.opcode(102), Some(Opcode::count_set_bits_64));
        assert_eq!(InstructionSet::JamV1.opcode(101), Some(Opcode::count_set_bits_64));
    }

    #[test]
    fn decodes_gray_paper_examples() {
        // i32 r9 = r7 + r8
        let code = [190, 0x87, 9];
        assert_eq!(
            decode_instruction(InstructionSet::ReviveV1, &code, 0, 2),
            Instruction::add_32(Reg::A2, Reg::A0, Reg::A1)
        );
        // r0 = 0x10000 (three immediate bytes)
        let code = [51, 0, 0, 0, 1];
        assert_eq!(decode_instruction(InstructionSet::ReviveV1, &code, 0, 4), Instruction::load_imm(Reg::RA, 0x10000));
        // i32 r0 = r0 + -1
        let code = [131, 0, 0xff];
        assert_eq!(
            decode_instruction(InstructionSet::ReviveV1, &code, 0, 2),
            Instruction::add_imm_32(Reg::RA, Reg::RA, u32::MAX)
        );
        // Past the end of the code: trap.
        assert_eq!(decode_instruction(InstructionSet::ReviveV1, &code, 3, 0), Instruction::trap());
        // Undefined opcode.
        assert_eq!(decode_instruction(InstructionSet::ReviveV1, &[2], 0, 0), Instruction::invalid(2));
    }

    #[test]
    fn operands_past_the_end_read_as_zero_and_registers_clamp() {
        // load_imm r12 (nibble 15 clamps), immediate truncated by the end of the code.
        let code = [51, 0x0f, 0x80];
        assert_eq!(decode_instruction(InstructionSet::ReviveV1, &code, 0, 3), Instruction::load_imm(Reg::A5, 0x80));
    }

    #[test]
    fn encode_decode_text_round_trip_for_every_opcode() {
        let samples = [0u32, 1, 0x7f, 0x80, 0xff, 0x1234, 0xffff_ff80, 0x0012_3456, 0x8000_0000, u32::MAX];
        for isa in InstructionSet::ALL {
            for &opcode in Opcode::ALL {
                if opcode.to_raw(isa).is_none() {
                    continue;
                }
                for (i, &x) in samples.iter().enumerate() {
                    let y = samples[(i * 7 + 3) % samples.len()];
                    let pc = 0x100;
                    let target = x.wrapping_add(pc);
                    let (r1, r2, r3) = (Reg::ALL[i % 13], Reg::ALL[(i + 5) % 13], Reg::ALL[(i + 11) % 13]);
                    let args = match opcode.kind() {
                        ArgKind::NoArgs => Args::NoArgs(),
                        ArgKind::Imm => Args::Imm(x),
                        ArgKind::RegImm64 => Args::RegImm64(r1, u64::from(x) << 20 | u64::from(y)),
                        ArgKind::ImmImm => Args::ImmImm(x, y),
                        ArgKind::Offset => Args::Offset(target),
                        ArgKind::RegImm => Args::RegImm(r1, x),
                        ArgKind::RegImmImm => Args::RegImmImm(r1, x, y),
                        ArgKind::RegImmOffset => Args::RegImmOffset(r1, x, target),
                        ArgKind::RegReg => Args::RegReg(r1, r2),
                        ArgKind::RegRegImm => Args::RegRegImm(r1, r2, x),
                        ArgKind::RegRegOffset => Args::RegRegOffset(r1, r2, target),
                        ArgKind::RegRegImmImm => Args::RegRegImmImm(r1, r2, x, y),
                        ArgKind::RegRegReg => Args::RegRegReg(r1, r2, r3),
                    };
                    let instruction = Instruction::from_parts(opcode, args).unwrap();
                    let mut code = vec![0; pc as usize];
                    let length = instruction.encode(isa, pc, &mut code).unwrap() as u32;
                    assert!(length <= 1 + MAX_SKIP);
                    let decoded = decode_instruction(isa, &code, pc, length - 1);
                    assert_eq!(decoded, instruction, "{isa} {}", opcode.name());
                    let text = instruction.to_string();
                    assert_eq!(Instruction::parse(&text), Ok(instruction), "{text}");
                }
            }
        }
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert!(matches!(Instruction::parse("frobnicate a0"), Err(ParseError::UnknownInstruction(_))));
        let err = Instruction::parse("add_32 a0, a1").unwrap_err();
        assert_eq!(err.to_string(), "`add_32` takes three registers; got `a0, a1`");
    }
}
