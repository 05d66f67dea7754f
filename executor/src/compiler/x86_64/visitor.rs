//! The instruction visitor: the native code of each guest instruction.

use super::encode;
use super::*;

// `d = a op b` for a commutative operation (`imul`), with dynasm.
macro_rules! alu64 {
    ($s:ident, $d:expr, $a:expr, $b:expr, $op:ident, commutative) => {{
        let (d, a, b) = (r($d), r($a), r($b));
        if d == a {
            asm!($s.ops; $op Rq(d), Rq(b));
        } else if d == b {
            asm!($s.ops; $op Rq(d), Rq(a));
        } else {
            asm!($s.ops; mov Rq(d), Rq(a); $op Rq(d), Rq(b));
        }
    }};
}

// `d = a op b` (64-bit) for the ALU operations with a one-byte `op r/m64, r64` opcode
// (`or` 09, `and` 21, `sub` 29, `xor` 31), hand-assembled (`encode::rr`, which encodes them
// as dynasm did).
macro_rules! alu64_rr {
    ($s:ident, $d:expr, $a:expr, $b:expr, $opcode:expr, $commutative:expr) => {{
        let (d, a, b) = (r($d), r($a), r($b));
        if d == a {
            encode::rr(&mut $s.ops, true, $opcode, b, d);
        } else if d == b && $commutative {
            encode::rr(&mut $s.ops, true, $opcode, a, d);
        } else if d == b {
            encode::mov_rr(&mut $s.ops, true, 14, a);
            encode::rr(&mut $s.ops, true, $opcode, b, 14);
            encode::mov_rr(&mut $s.ops, true, d, 14);
        } else {
            encode::mov_rr(&mut $s.ops, true, d, a);
            encode::rr(&mut $s.ops, true, $opcode, b, d);
        }
    }};
}

macro_rules! alu32 {
    ($s:ident, $d:expr, $a:expr, $b:expr, $op:ident) => {{
        let (d, a, b) = (r($d), r($a), r($b));
        if d == a {
            asm!($s.ops; $op Rd(d), Rd(b); movsxd Rq(d), Rd(d));
        } else if d == b {
            asm!($s.ops; mov r14d, Rd(a); $op r14d, Rd(b); movsxd Rq(d), r14d);
        } else {
            asm!($s.ops; mov Rd(d), Rd(a); $op Rd(d), Rd(b); movsxd Rq(d), Rd(d));
        }
    }};
}

// `d = (a cmp b)` as 0 or 1.
macro_rules! set_cc {
    ($s:ident, $d:expr, $a:expr, $b:expr, $set:ident) => {{
        let (d, a, b) = (r($d), r($a), r($b));
        asm!($s.ops; cmp Rq(a), Rq(b); $set r14b; movzx Rd(d), r14b);
    }};
    ($s:ident, $d:expr, $a:expr, imm $imm:expr, $set:ident) => {{
        let (d, a) = (r($d), r($a));
        $s.cmp_imm(a, $imm as i32);
        asm!($s.ops; $set r14b; movzx Rd(d), r14b);
    }};
}

// A conditional branch: the comparison and the `jcc` in one chunk (`encode::compare_and_branch`),
// the displacement patched once the target has its offset.
macro_rules! branch {
    ($s:ident, $a:expr, $b:expr, $target:expr, $jcc:expr) => {{
        let (a, b) = (r($a), r($b));
        let label = $s.branch_label($target);
        encode::compare_and_branch(&mut $s.ops, a, Some(b), 0, $jcc);
        $s.branched(label);
    }};
    ($s:ident, $a:expr, imm $imm:expr, $target:expr, $jcc:expr) => {{
        let a = r($a);
        let label = $s.branch_label($target);
        encode::compare_and_branch(&mut $s.ops, a, None, $imm as i32, $jcc);
        $s.branched(label);
    }};
}

macro_rules! min_max {
    ($s:ident, $d:expr, $a:expr, $b:expr, $cmov:ident) => {{
        // d = b if (a cmp b) else a
        let (d, a, b) = (r($d), r($a), r($b));
        asm!($s.ops; mov r14, Rq(a); cmp r14, Rq(b); $cmov r14, Rq(b); mov Rq(d), r14);
    }};
}

// Guest memory is `gs`-relative (`gs` base = memory base). With a base register the access
// uses 32-bit addressing (`0x67`), so `base + offset` wraps modulo 2^32 exactly as the guest's
// address arithmetic does; an absolute address goes through `r14`.
macro_rules! load {
    ($s:ident, $d:expr, None, $offset:expr, $kind:tt) => {{
        let d = r($d);
        let offset = $offset;
        if offset <= i32::MAX as u32 {
            // The displacement is sign-extended: only the low 2 GiB are addressed directly.
            load!(@op $s, d, [offset as i32], $kind);
        } else {
            asm!($s.ops; mov r14d, offset as i32);
            load!(@op $s, d, [r14], $kind);
        }
    }};
    ($s:ident, $d:expr, Some($base:expr), $offset:expr, $kind:tt) => {{
        let (d, b) = (r($d), r($base));
        let offset = $offset as i32;
        if let Ok(offset) = i8::try_from(offset) {
            load!(@op $s, d, [BYTE Rd(b) + offset as _], $kind);
        } else {
            load!(@op $s, d, [Rd(b) + offset], $kind);
        }
    }};
    (@op $s:ident, $d:ident, $m:tt, u8) => { asm!($s.ops; gs movzx Rd($d), BYTE $m) };
    (@op $s:ident, $d:ident, $m:tt, i8) => { asm!($s.ops; gs movsx Rq($d), BYTE $m) };
    (@op $s:ident, $d:ident, $m:tt, u16) => { asm!($s.ops; gs movzx Rd($d), WORD $m) };
    (@op $s:ident, $d:ident, $m:tt, i16) => { asm!($s.ops; gs movsx Rq($d), WORD $m) };
    (@op $s:ident, $d:ident, $m:tt, u32) => { asm!($s.ops; gs mov Rd($d), DWORD $m) };
    (@op $s:ident, $d:ident, $m:tt, i32) => { asm!($s.ops; gs movsxd Rq($d), DWORD $m) };
    (@op $s:ident, $d:ident, $m:tt, u64) => { asm!($s.ops; gs mov Rq($d), QWORD $m) };
}

macro_rules! store {
    ($s:ident, $value:tt, None, $offset:expr, $size:tt) => {{
        let offset = $offset;
        if offset <= i32::MAX as u32 {
            // The displacement is sign-extended: only the low 2 GiB are addressed directly.
            store!(@value $s, $value, [offset as i32], $size);
        } else {
            asm!($s.ops; mov r14d, offset as i32);
            store!(@value $s, $value, [r14], $size);
        }
    }};
    ($s:ident, $value:tt, Some($base:expr), $offset:expr, $size:tt) => {{
        let b = r($base);
        let offset = $offset as i32;
        if let Ok(offset) = i8::try_from(offset) {
            store!(@value $s, $value, [BYTE Rd(b) + offset as _], $size);
        } else {
            store!(@value $s, $value, [Rd(b) + offset], $size);
        }
    }};
    (@value $s:ident, (reg $v:expr), $m:tt, $size:tt) => {{
        let v = r($v);
        store!(@reg $s, v, $m, $size);
    }};
    (@value $s:ident, (imm $v:expr), $m:tt, $size:tt) => {{
        let v = $v;
        store!(@imm $s, v, $m, $size);
    }};
    (@reg $s:ident, $v:ident, $m:tt, 1) => { asm!($s.ops; gs mov BYTE $m, Rb($v)) };
    (@reg $s:ident, $v:ident, $m:tt, 2) => { asm!($s.ops; gs mov WORD $m, Rw($v)) };
    (@reg $s:ident, $v:ident, $m:tt, 4) => { asm!($s.ops; gs mov DWORD $m, Rd($v)) };
    (@reg $s:ident, $v:ident, $m:tt, 8) => { asm!($s.ops; gs mov QWORD $m, Rq($v)) };
    (@imm $s:ident, $v:ident, $m:tt, 1) => { asm!($s.ops; gs mov BYTE $m, $v as i8) };
    (@imm $s:ident, $v:ident, $m:tt, 2) => { asm!($s.ops; gs mov WORD $m, $v as i16) };
    (@imm $s:ident, $v:ident, $m:tt, 4) => { asm!($s.ops; gs mov DWORD $m, $v as i32) };
    (@imm $s:ident, $v:ident, $m:tt, 8) => { asm!($s.ops; gs mov QWORD $m, $v as i32) };
}

impl InstructionVisitor for Compiler<'_> {
    type Output = ();

    fn trap(&mut self) {
        self.exit_here(EXIT_TRAP);
    }
    fn fallthrough(&mut self) {}
    fn unlikely(&mut self) {}
    fn invalid(&mut self, _raw: u8) {
        self.exit_here(EXIT_INVALID_INSTRUCTION);
    }
    fn ecalli(&mut self, number: u32) {
        self.host_call_exit(number);
    }
    fn load_imm64(&mut self, reg: Reg, value: u64) {
        self.load_imm(r(reg), value);
    }

    fn store_imm_u8(&mut self, address: u32, value: u32) {
        store!(self, (imm value), None, address, 1)
    }
    fn store_imm_u16(&mut self, address: u32, value: u32) {
        store!(self, (imm value), None, address, 2)
    }
    fn store_imm_u32(&mut self, address: u32, value: u32) {
        store!(self, (imm value), None, address, 4)
    }
    fn store_imm_u64(&mut self, address: u32, value: u32) {
        store!(self, (imm value), None, address, 8)
    }

    fn jump(&mut self, target: u32) {
        self.jump_to(target);
    }

    fn jump_indirect(&mut self, reg: Reg, imm: u32) {
        self.dynamic_jump_address(reg, imm);
        self.dynamic_jump();
    }
    fn load_imm(&mut self, reg: Reg, imm: u32) {
        self.load_imm(r(reg), crate::program::sext(imm));
    }
    fn load_u8(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, u8)
    }
    fn load_i8(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, i8)
    }
    fn load_u16(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, u16)
    }
    fn load_i16(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, i16)
    }
    fn load_u32(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, u32)
    }
    fn load_i32(&mut self, reg: Reg, imm: u32) {
        // The commonest absolute accesses, hand-assembled (`gs_absolute`) where the address is
        // a displacement (below 2^31).
        match i32::try_from(imm) {
            Ok(address) => gs_absolute(&mut self.ops, true, 0x63, r(reg), address),
            Err(_) => load!(self, reg, None, imm, i32),
        }
    }
    fn load_u64(&mut self, reg: Reg, imm: u32) {
        match i32::try_from(imm) {
            Ok(address) => gs_absolute(&mut self.ops, true, 0x8b, r(reg), address),
            Err(_) => load!(self, reg, None, imm, u64),
        }
    }
    fn store_u8(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 1)
    }
    fn store_u16(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 2)
    }
    fn store_u32(&mut self, reg: Reg, imm: u32) {
        match i32::try_from(imm) {
            Ok(address) => gs_absolute(&mut self.ops, false, 0x89, r(reg), address),
            Err(_) => store!(self, (reg reg), None, imm, 4),
        }
    }
    fn store_u64(&mut self, reg: Reg, imm: u32) {
        match i32::try_from(imm) {
            Ok(address) => gs_absolute(&mut self.ops, true, 0x89, r(reg), address),
            Err(_) => store!(self, (reg reg), None, imm, 8),
        }
    }

    fn store_imm_indirect_u8(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 1)
    }
    fn store_imm_indirect_u16(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 2)
    }
    fn store_imm_indirect_u32(&mut self, base: Reg, offset: u32, value: u32) {
        gs_store_imm(&mut self.ops, false, r(base), offset as i32, value as i32);
    }
    fn store_imm_indirect_u64(&mut self, base: Reg, offset: u32, value: u32) {
        gs_store_imm(&mut self.ops, true, r(base), offset as i32, value as i32);
    }

    fn load_imm_and_jump(&mut self, reg: Reg, imm: u32, target: u32) {
        self.load_imm(r(reg), crate::program::sext(imm));
        self.jump_to(target);
    }
    fn branch_eq_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::E)
    }
    fn branch_not_eq_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::NE)
    }
    fn branch_less_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::B)
    }
    fn branch_less_or_equal_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::BE)
    }
    fn branch_greater_or_equal_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::AE)
    }
    fn branch_greater_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::A)
    }
    fn branch_less_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::L)
    }
    fn branch_less_or_equal_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::LE)
    }
    fn branch_greater_or_equal_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::GE)
    }
    fn branch_greater_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) {
        branch!(self, reg, imm imm, target, cc::G)
    }

    fn move_reg(&mut self, d: Reg, s: Reg) {
        self.mov(r(d), r(s));
    }
    fn count_set_bits_64(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; popcnt Rq(d), Rq(s));
    }
    fn count_set_bits_32(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; popcnt Rd(d), Rd(s));
    }
    fn count_leading_zero_bits_64(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; lzcnt Rq(d), Rq(s));
    }
    fn count_leading_zero_bits_32(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; lzcnt Rd(d), Rd(s));
    }
    fn count_trailing_zero_bits_64(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; tzcnt Rq(d), Rq(s));
    }
    fn count_trailing_zero_bits_32(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; tzcnt Rd(d), Rd(s));
    }
    fn sign_extend_8(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; movsx Rq(d), Rb(s));
    }
    fn sign_extend_16(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; movsx Rq(d), Rw(s));
    }
    fn zero_extend_16(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        asm!(self.ops; movzx Rd(d), Rw(s));
    }
    fn reverse_byte(&mut self, d: Reg, s: Reg) {
        let (d, s) = (r(d), r(s));
        self.mov(d, s);
        asm!(self.ops; bswap Rq(d));
    }

    fn store_indirect_u8(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access_narrow(false, Narrow::StoreByte, r(a), r(b), imm as i32);
    }
    fn store_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) {
        store!(self, (reg a), Some(b), imm, 2)
    }
    // The commonest accesses, hand-assembled (`Compiler::gs_access`): `mov r/m, r` is 89,
    // `mov r, r/m` 8B, `movsxd` 63 (with W).
    fn store_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access(false, 0x89, r(a), r(b), imm as i32);
    }
    // The commonest memory accesses (in Doom, about one instruction in four is one of these) are
    // inlined into `Instruction::visit`'s dispatch in `emit_all`, without a call and its
    // register saves: 0.9M fewer instructions per Doom compile in callgrind. Inlining more of
    // the visitors (branches, other accesses) measured worse.
    #[inline(always)]
    fn store_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access(true, 0x89, r(a), r(b), imm as i32);
    }
    // `movzx r32, r/m8` is 0F B6, `movsx r64, r/m8` 0F BE, `movzx r32, r/m16` 0F B7,
    // `movsx r64, r/m16` 0F BF.
    #[inline(always)] // see `store_indirect_u64`
    fn load_indirect_u8(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access_narrow(false, Narrow::TwoByte(0xb6), r(a), r(b), imm as i32);
    }
    fn load_indirect_i8(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access_narrow(true, Narrow::TwoByte(0xbe), r(a), r(b), imm as i32);
    }
    fn load_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access_narrow(false, Narrow::TwoByte(0xb7), r(a), r(b), imm as i32);
    }
    fn load_indirect_i16(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access_narrow(true, Narrow::TwoByte(0xbf), r(a), r(b), imm as i32);
    }
    fn load_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access(false, 0x8b, r(a), r(b), imm as i32);
    }
    #[inline(always)] // see `store_indirect_u64`
    fn load_indirect_i32(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access(true, 0x63, r(a), r(b), imm as i32);
    }
    #[inline(always)] // see `store_indirect_u64`
    fn load_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) {
        self.gs_access(true, 0x8b, r(a), r(b), imm as i32);
    }
    fn add_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.lea_offset(a, b, imm as i32, false);
        self.sext32(a);
    }
    fn and_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::alu_imm(&mut self.ops, true, 4, a, imm as i32);
    }
    fn xor_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::alu_imm(&mut self.ops, true, 6, a, imm as i32);
    }
    fn or_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::alu_imm(&mut self.ops, true, 1, a, imm as i32);
    }
    fn mul_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; imul Rd(a), Rd(b), imm as i32; movsxd Rq(a), Rd(a));
    }
    fn set_less_than_unsigned_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        set_cc!(self, a, b, imm imm, setb)
    }
    fn set_less_than_signed_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        set_cc!(self, a, b, imm imm, setl)
    }
    fn shift_logical_left_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov Rd(a), Rd(b); shl Rd(a), (imm % 32) as i8; movsxd Rq(a), Rd(a));
    }
    fn shift_logical_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov Rd(a), Rd(b); shr Rd(a), (imm % 32) as i8; movsxd Rq(a), Rd(a));
    }
    fn shift_arithmetic_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov Rd(a), Rd(b); sar Rd(a), (imm % 32) as i8; movsxd Rq(a), Rd(a));
    }
    fn negate_and_add_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        if a == b {
            asm!(self.ops; neg Rd(a); add Rd(a), imm as i32);
        } else {
            asm!(self.ops; mov Rd(a), imm as i32; sub Rd(a), Rd(b));
        }
        self.sext32(a);
    }
    fn set_greater_than_unsigned_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        set_cc!(self, a, b, imm imm, seta)
    }
    fn set_greater_than_signed_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        set_cc!(self, a, b, imm imm, setg)
    }
    fn shift_logical_left_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14d, imm as i32; shlx Rd(a), r14d, Rd(b); movsxd Rq(a), Rd(a));
    }
    fn shift_logical_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14d, imm as i32; shrx Rd(a), r14d, Rd(b); movsxd Rq(a), Rd(a));
    }
    fn shift_arithmetic_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14d, imm as i32; sarx Rd(a), r14d, Rd(b); movsxd Rq(a), Rd(a));
    }
    fn cmov_if_zero_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14, imm as i32; test Rq(b), Rq(b); cmovz Rq(a), r14);
    }
    fn cmov_if_not_zero_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14, imm as i32; test Rq(b), Rq(b); cmovnz Rq(a), r14);
    }
    fn add_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.lea_offset(a, b, imm as i32, true);
    }
    fn mul_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; imul Rq(a), Rq(b), imm as i32);
    }
    fn shift_logical_left_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::shift_imm(&mut self.ops, true, 4, a, (imm % 64) as u8);
    }
    fn shift_logical_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::shift_imm(&mut self.ops, true, 5, a, (imm % 64) as u8);
    }
    fn shift_arithmetic_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        encode::shift_imm(&mut self.ops, true, 7, a, (imm % 64) as u8);
    }
    fn negate_and_add_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        if a == b {
            asm!(self.ops; neg Rq(a); add Rq(a), imm as i32);
        } else {
            asm!(self.ops; mov Rq(a), imm as i32; sub Rq(a), Rq(b));
        }
    }
    fn shift_logical_left_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14, imm as i32; shlx Rq(a), r14, Rq(b));
    }
    fn shift_logical_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14, imm as i32; shrx Rq(a), r14, Rq(b));
    }
    fn shift_arithmetic_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; mov r14, imm as i32; sarx Rq(a), r14, Rq(b));
    }
    fn rotate_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; rorx Rq(a), Rq(b), (imm % 64) as i8);
    }
    fn rotate_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let a = r(a);
        asm!(self.ops; mov r14, imm as i32);
        self.rotate_by_reg(a, b, true, true);
    }
    fn rotate_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        asm!(self.ops; rorx Rd(a), Rd(b), (imm % 32) as i8; movsxd Rq(a), Rd(a));
    }
    fn rotate_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let a = r(a);
        asm!(self.ops; mov r14d, imm as i32);
        self.rotate_by_reg(a, b, true, false);
    }

    fn branch_eq(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::E)
    }
    fn branch_not_eq(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::NE)
    }
    fn branch_less_unsigned(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::B)
    }
    fn branch_less_signed(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::L)
    }
    fn branch_greater_or_equal_unsigned(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::AE)
    }
    fn branch_greater_or_equal_signed(&mut self, a: Reg, b: Reg, target: u32) {
        branch!(self, a, b, target, cc::GE)
    }

    fn load_imm_and_jump_indirect(&mut self, a: Reg, b: Reg, value: u32, offset: u32) {
        // The address uses `b` before `a` is written.
        self.dynamic_jump_address(b, offset);
        self.load_imm(r(a), crate::program::sext(value));
        self.dynamic_jump();
    }

    fn add_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        self.add_rr(d, a, b, false);
        self.sext32(d);
    }
    fn sub_32(&mut self, d: Reg, a: Reg, b: Reg) {
        alu32!(self, d, a, b, sub)
    }
    fn mul_32(&mut self, d: Reg, a: Reg, b: Reg) {
        alu32!(self, d, a, b, imul)
    }
    fn div_unsigned_32(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, false, false, false);
    }
    fn div_signed_32(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, true, false, false);
    }
    fn rem_unsigned_32(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, false, true, false);
    }
    fn rem_signed_32(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, true, true, false);
    }
    fn shift_logical_left_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; shlx Rd(d), Rd(a), Rd(b); movsxd Rq(d), Rd(d));
    }
    fn shift_logical_right_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; shrx Rd(d), Rd(a), Rd(b); movsxd Rq(d), Rd(d));
    }
    fn shift_arithmetic_right_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; sarx Rd(d), Rd(a), Rd(b); movsxd Rq(d), Rd(d));
    }
    fn add_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        self.add_rr(d, a, b, true);
    }
    fn sub_64(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64_rr!(self, d, a, b, 0x29, false)
    }
    fn mul_64(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64!(self, d, a, b, imul, commutative)
    }
    fn div_unsigned_64(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, false, false, true);
    }
    fn div_signed_64(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, true, false, true);
    }
    fn rem_unsigned_64(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, false, true, true);
    }
    fn rem_signed_64(&mut self, d: Reg, a: Reg, b: Reg) {
        self.divide(d, a, b, true, true, true);
    }
    fn shift_logical_left_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; shlx Rq(d), Rq(a), Rq(b));
    }
    fn shift_logical_right_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; shrx Rq(d), Rq(a), Rq(b));
    }
    fn shift_arithmetic_right_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; sarx Rq(d), Rq(a), Rq(b));
    }
    fn and(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64_rr!(self, d, a, b, 0x21, true)
    }
    fn xor(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64_rr!(self, d, a, b, 0x31, true)
    }
    fn or(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64_rr!(self, d, a, b, 0x09, true)
    }
    fn mul_upper_signed_signed(&mut self, d: Reg, a: Reg, b: Reg) {
        self.mul_upper(d, a, b, true, true);
    }
    fn mul_upper_unsigned_unsigned(&mut self, d: Reg, a: Reg, b: Reg) {
        self.mul_upper(d, a, b, false, false);
    }
    fn mul_upper_signed_unsigned(&mut self, d: Reg, a: Reg, b: Reg) {
        self.mul_upper(d, a, b, true, false);
    }
    fn set_less_than_unsigned(&mut self, d: Reg, a: Reg, b: Reg) {
        set_cc!(self, d, a, b, setb)
    }
    fn set_less_than_signed(&mut self, d: Reg, a: Reg, b: Reg) {
        set_cc!(self, d, a, b, setl)
    }
    fn cmov_if_zero(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; test Rq(b), Rq(b); cmovz Rq(d), Rq(a));
    }
    fn cmov_if_not_zero(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; test Rq(b), Rq(b); cmovnz Rq(d), Rq(a));
    }
    fn rotate_left_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a) = (r(d), r(a));
        asm!(self.ops; mov r14, Rq(a));
        self.rotate_by_reg(d, b, false, true);
    }
    fn rotate_left_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a) = (r(d), r(a));
        asm!(self.ops; mov r14d, Rd(a));
        self.rotate_by_reg(d, b, false, false);
    }
    fn rotate_right_64(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a) = (r(d), r(a));
        asm!(self.ops; mov r14, Rq(a));
        self.rotate_by_reg(d, b, true, true);
    }
    fn rotate_right_32(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a) = (r(d), r(a));
        asm!(self.ops; mov r14d, Rd(a));
        self.rotate_by_reg(d, b, true, false);
    }
    fn and_inverted(&mut self, d: Reg, a: Reg, b: Reg) {
        // d = a & !b
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; andn Rq(d), Rq(b), Rq(a));
    }
    fn or_inverted(&mut self, d: Reg, a: Reg, b: Reg) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; mov r14, Rq(b); not r14; or r14, Rq(a); mov Rq(d), r14);
    }
    fn xnor(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64_rr!(self, d, a, b, 0x31, true);
        let d = r(d);
        asm!(self.ops; not Rq(d));
    }
    fn maximum(&mut self, d: Reg, a: Reg, b: Reg) {
        min_max!(self, d, a, b, cmovl)
    }
    fn maximum_unsigned(&mut self, d: Reg, a: Reg, b: Reg) {
        min_max!(self, d, a, b, cmovb)
    }
    fn minimum(&mut self, d: Reg, a: Reg, b: Reg) {
        min_max!(self, d, a, b, cmovg)
    }
    fn minimum_unsigned(&mut self, d: Reg, a: Reg, b: Reg) {
        min_max!(self, d, a, b, cmova)
    }
}
