//! Hand-assembled encodings of the instructions the compiler emits most (by count in real
//! programs: register moves, immediates, `lea`, shifts by a constant, the gas charge and
//! branches), each built in a local 16-byte [`Chunk`] and appended with one copy.
//!
//! dynasm's macros append an instruction byte by byte through the assembler's `push`; each
//! byte is a capacity check and a length update on the buffer, reloaded from memory after
//! every byte store (a `u8` store may alias anything). In a large program that was a quarter
//! of all compile work (callgrind: ~6 instructions per byte of native code). A chunk lives in
//! registers and costs one capacity check per instruction.
//!
//! Every encoding here is the one dynasm picks for the same instruction with the registers
//! named statically (the tests compare them byte for byte), except that an immediate operand
//! of `rax` keeps the general form (`81 /ext`, as dynasm writes it for a register given at run
//! time). Where the compiler gave dynasm its registers at run time, dynasm added a REX prefix
//! that changes nothing (`40`) and always took a 32-bit immediate; those instructions are now
//! a byte or three shorter, and do the same.

use super::emitter::Emitter;

/// One instruction being assembled: up to 16 bytes.
pub(super) struct Chunk {
    bytes: [u8; 16],
    length: usize,
}

impl Chunk {
    #[inline(always)]
    pub fn new() -> Chunk {
        Chunk { bytes: [0; 16], length: 0 }
    }

    #[inline(always)]
    pub fn byte(&mut self, byte: u8) -> &mut Chunk {
        self.bytes[self.length] = byte;
        self.length += 1;
        self
    }

    #[inline(always)]
    pub fn imm32(&mut self, value: i32) -> &mut Chunk {
        self.bytes[self.length..self.length + 4].copy_from_slice(&value.to_le_bytes());
        self.length += 4;
        self
    }

    /// A REX prefix with W = `wide`, R = bit 3 of `reg`, B = bit 3 of `rm`, left out when it
    /// would be the empty `0x40`.
    #[inline(always)]
    pub fn rex(&mut self, wide: bool, reg: u8, rm: u8) -> &mut Chunk {
        let rex = 0x40 | (u8::from(wide) << 3) | ((reg >> 3) << 2) | (rm >> 3);
        if rex != 0x40 {
            self.byte(rex);
        }
        self
    }

    /// ModRM for two registers (mod 11).
    #[inline(always)]
    pub fn modrm_rr(&mut self, reg: u8, rm: u8) -> &mut Chunk {
        self.byte(0xc0 | ((reg & 7) << 3) | (rm & 7))
    }

    /// A group-1 operation of `d` with a sign-extended immediate (see [`alu_imm`]).
    #[inline(always)]
    pub fn alu_imm(&mut self, wide: bool, ext: u8, d: u8, imm: i32) -> &mut Chunk {
        self.rex(wide, 0, d);
        match i8::try_from(imm) {
            Ok(imm) => self.byte(0x83).modrm_rr(ext, d).byte(imm as u8),
            Err(_) => self.byte(0x81).modrm_rr(ext, d).imm32(imm),
        }
    }

    /// Appends it to `ops`.
    #[inline(always)]
    pub fn emit(&self, ops: &mut Emitter) {
        ops.chunk(self.bytes, self.length);
    }
}

/// The REX prefix with W = `wide`, R = bit 3 of `reg`, B = bit 3 of `rm` (`0x40` when empty).
#[inline(always)]
fn rex_byte(wide: bool, reg: u8, rm: u8) -> u8 {
    0x40 | (u8::from(wide) << 3) | ((reg >> 3) << 2) | (rm >> 3)
}

/// Appends the chunk `pre`, REX prefix `rex` (left out if it is the empty `0x40`), `post`
/// make: as two code paths, each of a length known at compile time. A chunk whose length is
/// known only at run time keeps its bytes on the stack and reads them back; one of constant
/// length is assembled in registers.
#[inline(always)]
pub(super) fn emit_with_rex(ops: &mut Emitter, pre: impl Fn(&mut Chunk), rex: u8, post: impl Fn(&mut Chunk)) {
    let mut chunk = Chunk::new();
    pre(&mut chunk);
    if rex != 0x40 {
        chunk.byte(rex);
        post(&mut chunk);
        chunk.emit(ops);
    } else {
        post(&mut chunk);
        chunk.emit(ops);
    }
}

/// [`emit_with_rex`] for an instruction with a memory operand `[base + disp]` after `post`
/// (ModRM with register field `reg`, a SIB byte for a base of `rsp`/`r12`, an 8-bit
/// displacement where it fits, even zero, as dynasm does, else a 32-bit one), each of the
/// four forms a path of its own.
#[inline(always)]
pub(super) fn emit_with_memory(
    ops: &mut Emitter,
    pre: impl Fn(&mut Chunk),
    rex: u8,
    post: impl Fn(&mut Chunk),
    reg: u8,
    base: u8,
    disp: i32,
) {
    emit_with_memory_and(ops, pre, rex, post, reg, base, disp, |_| {});
}

/// [`emit_with_memory`] with `tail` (an immediate operand) after the memory operand.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_with_memory_and(
    ops: &mut Emitter,
    pre: impl Fn(&mut Chunk),
    rex: u8,
    post: impl Fn(&mut Chunk),
    reg: u8,
    base: u8,
    disp: i32,
    tail: impl Fn(&mut Chunk),
) {
    let modrm = ((reg & 7) << 3) | (base & 7);
    match (i8::try_from(disp), base & 7 == 4) {
        (Ok(short), false) => emit_with_rex(ops, pre, rex, |chunk| {
            post(chunk);
            chunk.byte(0x40 | modrm).byte(short as u8);
            tail(chunk);
        }),
        (Ok(short), true) => emit_with_rex(ops, pre, rex, |chunk| {
            post(chunk);
            chunk.byte(0x40 | modrm).byte(0x24).byte(short as u8);
            tail(chunk);
        }),
        (Err(_), false) => emit_with_rex(ops, pre, rex, |chunk| {
            post(chunk);
            chunk.byte(0x80 | modrm).imm32(disp);
            tail(chunk);
        }),
        (Err(_), true) => emit_with_rex(ops, pre, rex, |chunk| {
            post(chunk);
            chunk.byte(0x80 | modrm).byte(0x24).imm32(disp);
            tail(chunk);
        }),
    }
}

/// `op r/m, reg` or `op reg, r/m` with registers only: REX, a one-byte `opcode`, ModRM.
#[inline(always)]
pub(super) fn rr(ops: &mut Emitter, wide: bool, opcode: u8, reg: u8, rm: u8) {
    emit_with_rex(
        ops,
        |_| {},
        rex_byte(wide, reg, rm),
        |chunk| {
            chunk.byte(opcode).modrm_rr(reg, rm);
        },
    );
}

/// `mov d, s` (64-bit, or 32-bit zero-extending): `89 /r`, as dynasm encodes it.
#[inline(always)]
pub(super) fn mov_rr(ops: &mut Emitter, wide: bool, d: u8, s: u8) {
    rr(ops, wide, 0x89, s, d);
}

/// `mov d32, imm32` (zero-extends to 64 bits): `B8+r id`.
#[inline(always)]
pub(super) fn mov_r32_imm(ops: &mut Emitter, d: u8, imm: i32) {
    emit_with_rex(
        ops,
        |_| {},
        rex_byte(false, 0, d),
        |chunk| {
            chunk.byte(0xb8 | (d & 7)).imm32(imm);
        },
    );
}

/// `mov d64, imm32` (sign-extended): `REX.W C7 /0 id`.
#[inline(always)]
pub(super) fn mov_r64_simm(ops: &mut Emitter, d: u8, imm: i32) {
    emit_with_rex(
        ops,
        |_| {},
        rex_byte(true, 0, d),
        |chunk| {
            chunk.byte(0xc7).modrm_rr(0, d).imm32(imm);
        },
    );
}

/// `lea d, [base + disp]` (64-bit, or 32-bit): `8D /r`.
#[inline(always)]
pub(super) fn lea(ops: &mut Emitter, wide: bool, d: u8, base: u8, disp: i32) {
    emit_with_memory(
        ops,
        |_| {},
        rex_byte(wide, d, base),
        |chunk| {
            chunk.byte(0x8d);
        },
        d,
        base,
        disp,
    );
}

/// A group-2 shift of `d` by a constant (`C1 /ext ib`): `ext` 4 is `shl`, 5 `shr`, 7 `sar`.
#[inline(always)]
pub(super) fn shift_imm(ops: &mut Emitter, wide: bool, ext: u8, d: u8, count: u8) {
    emit_with_rex(
        ops,
        |_| {},
        rex_byte(wide, 0, d),
        |chunk| {
            chunk.byte(0xc1).modrm_rr(ext, d).byte(count);
        },
    );
}

/// A group-1 operation of `d` with a sign-extended immediate (`83 /ext ib` where it fits in
/// 8 bits, else `81 /ext id`): `ext` 0 is `add`, 1 `or`, 4 `and`, 5 `sub`, 6 `xor`, 7 `cmp`.
#[inline(always)]
pub(super) fn alu_imm(ops: &mut Emitter, wide: bool, ext: u8, d: u8, imm: i32) {
    let rex = rex_byte(wide, 0, d);
    match i8::try_from(imm) {
        Ok(imm) => emit_with_rex(
            ops,
            |_| {},
            rex,
            |chunk| {
                chunk.byte(0x83).modrm_rr(ext, d).byte(imm as u8);
            },
        ),
        Err(_) => emit_with_rex(
            ops,
            |_| {},
            rex,
            |chunk| {
                chunk.byte(0x81).modrm_rr(ext, d).imm32(imm);
            },
        ),
    }
}

/// The gas charge of a block: `sub r15, cost` (8-bit immediate where it fits) and, for a
/// checked charge, `jl rel32` (displacement 0, patched later), in one chunk (a large program
/// has tens of thousands of blocks).
#[inline(always)]
pub(super) fn charge(ops: &mut Emitter, cost: i32, check: bool) {
    if check && (0..=i32::from(i8::MAX)).contains(&cost) {
        // The commonest case, as fixed bytes: `49 83 EF ib` `0F 8C 00000000`.
        let mut bytes = [0; 16];
        bytes[..6].copy_from_slice(&[0x49, 0x83, 0xef, cost as u8, 0x0f, 0x8c]);
        ops.chunk(bytes, 10);
        return;
    }
    let mut chunk = Chunk::new();
    chunk.alu_imm(true, 5, 15, cost);
    if check {
        chunk.byte(0x0f).byte(0x8c).imm32(0);
    }
    chunk.emit(ops);
}

/// A conditional branch on a comparison: `cmp a, imm` (sign-extended, 8-bit where it fits)
/// or, with `b`, `cmp a, b` (`3B /r`, as dynasm encodes it), then `jcc rel32` (condition `cc`, displacement 0,
/// patched later), in one chunk.
#[inline(always)]
pub(super) fn compare_and_branch(ops: &mut Emitter, a: u8, b: Option<u8>, imm: i32, cc: u8) {
    // Each form a path of constant length (see `emit_with_rex`); REX.W is always there.
    let jcc = |chunk: &mut Chunk| {
        chunk.byte(0x0f).byte(0x80 | cc).imm32(0);
    };
    match (b, i8::try_from(imm)) {
        (Some(b), _) => {
            let mut chunk = Chunk::new();
            chunk.byte(rex_byte(true, a, b)).byte(0x3b).modrm_rr(a, b);
            jcc(&mut chunk);
            chunk.emit(ops);
        }
        (None, Ok(short)) => {
            let mut chunk = Chunk::new();
            chunk.byte(rex_byte(true, 0, a)).byte(0x83).modrm_rr(7, a).byte(short as u8);
            jcc(&mut chunk);
            chunk.emit(ops);
        }
        (None, Err(_)) => {
            let mut chunk = Chunk::new();
            chunk.byte(rex_byte(true, 0, a)).byte(0x81).modrm_rr(7, a).imm32(imm);
            jcc(&mut chunk);
            chunk.emit(ops);
        }
    }
}

/// An out-of-gas stub for a cost below 128: `add r15, cost` (giving the charge back), then
/// [`exit_with`] (`mov r14d, index` and `jmp rel32` to the exit at offset `target`): 15 bytes,
/// one chunk.
#[inline(always)]
pub(super) fn out_of_gas(ops: &mut Emitter, cost: u8, index: u32, target: u32) {
    use dynasmrt::DynasmApi;
    debug_assert!(cost <= i8::MAX as u8);
    // The jump is relative to the end of the chunk, 15 bytes on.
    let end = ops.offset().0 as i32 + 15;
    Chunk::new()
        .byte(0x49)
        .byte(0x83)
        .byte(0xc7)
        .byte(cost)
        .byte(0x41)
        .byte(0xbe)
        .imm32(index as i32)
        .byte(0xe9)
        .imm32(target as i32 - end)
        .emit(ops);
}

/// `movsxd d, s32`: `REX.W 63 /r`.
#[inline(always)]
pub(super) fn movsxd(ops: &mut Emitter, d: u8, s: u8) {
    rr(ops, true, 0x63, d, s);
}

/// `jcc rel32` (`0F 80+cc`) or `jmp rel32` (`E9`, `cc` = `None`) with displacement `rel`.
#[inline(always)]
pub(super) fn branch(ops: &mut Emitter, cc: Option<u8>, rel: i32) {
    let mut chunk = Chunk::new();
    match cc {
        Some(cc) => chunk.byte(0x0f).byte(0x80 | cc),
        None => chunk.byte(0xe9),
    };
    chunk.imm32(rel).emit(ops);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasmrt::{dynasm, DynasmApi};

    macro_rules! asm {
        ($ops:expr; $($t:tt)*) => {
            dynasm!($ops ; .arch x64 ; $($t)*)
        };
    }

    fn check_eq(ours: Emitter, expected: Emitter, what: &str) {
        check(ours, expected, what);
    }

    fn check(ours: Emitter, mut expected: Emitter, what: &str) {
        let mut ours = ours;
        assert_eq!(ours.code_mut(), expected.code_mut(), "{what}");
    }

    /// Each encoding is dynasm's with the registers named statically, for registers that
    /// change the encoding: low and high (REX.R, REX.B), `rsp`/`r12` as base (SIB) and
    /// `rbp`/`r13` (no displacement-free form).
    #[test]
    fn hand_assembled_instructions_match_dynasm() {
        macro_rules! case {
            ($q:ident, $d:ident, $n:expr, $q2:ident, $d2:ident, $n2:expr) => {{
                let what = format!("registers {} and {}", $n, $n2);
                let mut expected = Emitter::new();
                asm!(expected
                    ; mov $q, $q2
                    ; mov $d, $d2
                    ; add $q, $q2
                    ; movsxd $q, $d2
                    ; shl $q, 3
                    ; shr $d, 31
                    ; sar $q, 63
                    ; add $q, 5
                    ; sub $q, -100
                    // With a 32-bit immediate dynasm writes `rax` in its short form (`3D`,
                    // `0D`) when named, and `81 /ext` when given at run time, as we do.
                    ; cmp Rq($n), 0x1234
                    ; and $q, -1
                    ; or Rq($n), 0x7fff_ffff
                    ; xor $q, -128
                    ; mov $d, 0x1234_5678
                    ; mov $q, -2
                    ; lea $q, [BYTE $q2 + 8]
                    ; lea $d, [BYTE $q2 - 128]
                    ; lea $q, [$q2 + 0x1000]
                    ; lea $d, [$q2 - 129]
                    ; cmp $q, $q2
                    ; or $q, $q2
                    ; and $q, $q2
                    ; xor $q, $q2
                    ; sub $q, $q2
                );
                let mut ours = Emitter::new();
                mov_rr(&mut ours, true, $n, $n2);
                mov_rr(&mut ours, false, $n, $n2);
                rr(&mut ours, true, 0x01, $n2, $n);
                movsxd(&mut ours, $n, $n2);
                shift_imm(&mut ours, true, 4, $n, 3);
                shift_imm(&mut ours, false, 5, $n, 31);
                shift_imm(&mut ours, true, 7, $n, 63);
                alu_imm(&mut ours, true, 0, $n, 5);
                alu_imm(&mut ours, true, 5, $n, -100);
                alu_imm(&mut ours, true, 7, $n, 0x1234);
                alu_imm(&mut ours, true, 4, $n, -1);
                alu_imm(&mut ours, true, 1, $n, 0x7fff_ffff);
                alu_imm(&mut ours, true, 6, $n, -128);
                mov_r32_imm(&mut ours, $n, 0x1234_5678);
                mov_r64_simm(&mut ours, $n, -2);
                lea(&mut ours, true, $n, $n2, 8);
                lea(&mut ours, false, $n, $n2, -128);
                lea(&mut ours, true, $n, $n2, 0x1000);
                lea(&mut ours, false, $n, $n2, -129);
                rr(&mut ours, true, 0x3b, $n, $n2);
                rr(&mut ours, true, 0x09, $n2, $n);
                rr(&mut ours, true, 0x21, $n2, $n);
                rr(&mut ours, true, 0x31, $n2, $n);
                rr(&mut ours, true, 0x29, $n2, $n);
                check(ours, expected, &what);
            }};
        }
        case!(rax, eax, 0, rcx, ecx, 1);
        case!(rbx, ebx, 3, rdi, edi, 7);
        case!(rsi, esi, 6, rbp, ebp, 5);
        case!(rdi, edi, 7, r12, r12d, 12);
        case!(r8, r8d, 8, rsp, esp, 4);
        case!(r13, r13d, 13, r13, r13d, 13);
        case!(rbp, ebp, 5, r9, r9d, 9);
        case!(r12, r12d, 12, r12, r12d, 12);
        case!(r11, r11d, 11, rbx, ebx, 3);
        case!(r14, r14d, 14, r15, r15d, 15);
        case!(r15, r15d, 15, rax, eax, 0);
    }

    /// The gas charge and the out-of-gas stub are what the compiler assembled with dynasm
    /// before: `sub r15, imm` and `jl rel32`; `add r15, imm8`, `mov r14d, imm32`, `jmp rel32`.
    #[test]
    fn gas_charges_and_stubs_match_dynasm() {
        for cost in [0, 1, 127, 128, 0x1234, i32::MAX] {
            for check in [false, true] {
                let mut expected = Emitter::new();
                match i8::try_from(cost) {
                    Ok(cost) => asm!(expected; sub r15, BYTE cost as _),
                    Err(_) => asm!(expected; sub r15, cost),
                }
                if check {
                    branch(&mut expected, Some(0xc), 0);
                }
                let mut ours = Emitter::new();
                charge(&mut ours, cost, check);
                check_eq(ours, expected, &format!("charge of {cost}, checked: {check}"));
            }
        }
        for (cost, index, target) in [(0u8, 0u32, 0u32), (1, 7, 3), (127, 0x1234_5678, 40), (5, u32::MAX, 100)] {
            let mut expected = Emitter::new();
            asm!(expected; nop; add r15, BYTE cost as i8 as _; mov r14d, index as i32);
            branch(&mut expected, None, target as i32 - 16);
            let mut ours = Emitter::new();
            asm!(ours; nop);
            out_of_gas(&mut ours, cost, index, target);
            check_eq(ours, expected, &format!("stub of {cost} at {index} to {target}"));
        }
    }

    /// A compare and branch is `cmp` as [`alu_imm`] or [`rr`] assemble it, then `jcc rel32`.
    #[test]
    fn compare_and_branch_is_cmp_then_jcc() {
        for (a, b) in [(0, 1), (3, 7), (6, 5), (7, 12), (8, 4), (13, 13), (5, 9), (12, 12), (11, 3)] {
            for imm in [0, 5, -128, 127, 128, -129, 0x1234, i32::MAX, i32::MIN] {
                for cc in [0x2, 0x4, 0x5, 0xc, 0xf] {
                    let mut expected = Emitter::new();
                    alu_imm(&mut expected, true, 7, a, imm);
                    branch(&mut expected, Some(cc), 0);
                    dynasm!(expected; .arch x64; cmp Rq(a), Rq(b));
                    branch(&mut expected, Some(cc), 0);
                    let mut ours = Emitter::new();
                    compare_and_branch(&mut ours, a, None, imm, cc);
                    compare_and_branch(&mut ours, a, Some(b), imm, cc);
                    check(ours, expected, &format!("cmp {a}, {b} or {imm}, condition {cc}"));
                }
            }
        }
    }

    #[test]
    fn branches_are_rel32() {
        let mut ours = Emitter::new();
        branch(&mut ours, Some(0x4), -6);
        branch(&mut ours, None, 0x1234);
        assert_eq!(ours.code_mut(), &[0x0f, 0x84, 0xfa, 0xff, 0xff, 0xff, 0xe9, 0x34, 0x12, 0, 0][..]);
    }
}
