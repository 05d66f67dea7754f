//! What each instruction does (Gray Paper appendix A.5), as [`InstructionVisitor`] methods.
//!
//! Immediates arrive as the 32-bit pattern of a sign-extended value; [`sext`] widens them.
//! 32-bit operations sign-extend their 32-bit result to 64 bits.

use super::{InterpreterProgram, Op, INVALID_TARGET};
use crate::exit::PanicReason;
use crate::memory::{Fault, GuestMemory, Windows};
use crate::program::code::JUMP_TABLE_ALIGNMENT;
use crate::program::{sext, DecodedProgram, InstructionVisitor, Reg, HALT_ADDRESS, REG_COUNT};

/// Why an instruction stops the run loop (the common case, continuing, is `Ok(())`).
#[derive(Copy, Clone, Debug)]
pub(super) enum Interrupt {
    /// A dynamic jump to the halt address.
    Halt,
    /// Call the host; resume after this instruction.
    HostCall(u32),
    /// Stop with a panic.
    Panic(PanicReason),
    /// Stop with a page fault at this page address.
    PageFault(u32),
    /// Entering the gas block starting at this instruction could not be paid for.
    OutOfGas(u32),
}

/// The result of one instruction: the index of the op that starts the gas block to enter next
/// (not paid for yet: the caller pays with `Machine::enter_block` or its equivalent), or
/// [`CONTINUE`] for the next op, or [`FALL_THROUGH`], or [`SLOW_ACCESS`], or [`STOP`] (with the
/// reason left in `Machine::interrupt`).
pub(super) type Flow = u32;

/// Enter the gas block that starts at the next op (a terminator that did not jump).
pub(super) const FALL_THROUGH: Flow = u32::MAX - 2;
/// A load or store whose address is in none of the memory windows: run it again on the full
/// path (only returned when the machine's `FULL` is false).
pub(super) const SLOW_ACCESS: Flow = u32::MAX - 3;
/// Continue with the next op.
pub(super) const CONTINUE: Flow = u32::MAX - 1;
/// Stop; see `Machine::interrupt`.
pub(super) const STOP: Flow = u32::MAX;

/// Registers and memory, as the instructions see them. With `FULL` false, loads and stores
/// only take the fast path (the memory windows) and return [`SLOW_ACCESS`] otherwise,
/// which keeps the interpreter's handlers small; with `FULL` true they do everything.
pub(super) struct Machine<'a, const FULL: bool> {
    pub regs: [u64; REG_COUNT],
    pub memory: &'a mut GuestMemory,
    /// The program's ops (`program.ops`).
    pub ops: &'a [Op],
    pub program: &'a InterpreterProgram,
    pub decoded: &'a DecodedProgram,
    /// Gas left.
    pub gas: i64,
    /// Why the last instruction returned [`STOP`].
    pub interrupt: Interrupt,
    /// The index of the instruction that returned [`STOP`].
    pub stopped_at: u32,
    /// `memory`'s windows (see [`GuestMemory::windows`]).
    pub windows: Windows,
}

#[inline(always)]
fn sext32(value: u32) -> u64 {
    value as i32 as i64 as u64
}

impl<const FULL: bool> Machine<'_, FULL> {
    #[inline(always)]
    fn get(&self, reg: Reg) -> u64 {
        self.regs[reg as usize]
    }

    #[inline(always)]
    fn get32(&self, reg: Reg) -> u32 {
        self.regs[reg as usize] as u32
    }

    #[inline(always)]
    fn next(&mut self) -> Flow {
        CONTINUE
    }

    #[cold]
    fn stop(&mut self, interrupt: Interrupt) -> Flow {
        self.interrupt = interrupt;
        STOP
    }

    /// Remakes the memory windows, after memory was used other than through them.
    pub(super) fn refresh_windows(&mut self) {
        self.windows = self.memory.windows();
    }

    #[cold]
    fn fault(&mut self, fault: Fault) -> Flow {
        self.stop(match fault {
            Fault::Panic => Interrupt::Panic(PanicReason::MemoryBelowMinimum),
            Fault::PageFault(address) => Interrupt::PageFault(address),
        })
    }

    #[inline(always)]
    fn set(&mut self, reg: Reg, value: u64) -> Flow {
        self.regs[reg as usize] = value;
        self.next()
    }

    #[inline(always)]
    fn jump_to(&mut self, target: u32) -> Flow {
        if target == INVALID_TARGET {
            return self.stop(Interrupt::Panic(PanicReason::InvalidBranch));
        }
        // SAFETY: op indices are below the code size limit plus one, far from the flow codes.
        unsafe { std::hint::assert_unchecked(target < SLOW_ACCESS) };
        target
    }

    /// The op at index `index`, which must be one (see `enter_block`).
    #[inline(always)]
    pub(super) fn op_at(&self, index: u32) -> *const Op {
        debug_assert!((index as usize) < self.ops.len());
        // SAFETY: the caller's contract: `index` is an op index.
        unsafe { self.ops.as_ptr().add(index as usize) }
    }

    /// Continues at the start of a gas block, paying for the block first.
    #[inline(always)]
    pub(super) fn enter_block(&mut self, entry: u32) -> Flow {
        debug_assert!((entry as usize) < self.ops.len());
        // SAFETY: blocks are only entered at op indices: resolved branch and jump table targets
        // (invalid ones stop before getting here) and the op after a terminator (the program
        // ends with the sentinel trap, which is not one).
        let cost = unsafe { self.ops.get_unchecked(entry as usize) }.cost;
        // SAFETY: op indices are below the code size limit plus one, far from the flow codes.
        unsafe { std::hint::assert_unchecked(entry < SLOW_ACCESS) };
        if cost != 0 {
            let cost = i64::from(cost);
            if self.gas < cost {
                return self.stop(Interrupt::OutOfGas(entry));
            }
            self.gas -= cost;
        }
        entry
    }

    /// Falls through into the next gas block (after a terminator that did not jump).
    #[inline(always)]
    fn fall_through(&mut self) -> Flow {
        FALL_THROUGH
    }

    #[inline(always)]
    fn dynamic_jump(&mut self, address: u32) -> Flow {
        // `DecodedProgram::resolve_dynamic_jump`, with the targets already resolved to op
        // indices (`INVALID_TARGET` where the target is not a block start).
        if address == HALT_ADDRESS {
            return self.stop(Interrupt::Halt);
        }
        let index = (address / JUMP_TABLE_ALIGNMENT).wrapping_sub(1);
        match self.program.jump_table_ops.get(index as usize) {
            Some(&target) if target != INVALID_TARGET && address % JUMP_TABLE_ALIGNMENT == 0 => {
                // SAFETY: as in `jump_to`.
                unsafe { std::hint::assert_unchecked(target < SLOW_ACCESS) };
                target
            }
            _ => self.stop(Interrupt::Panic(PanicReason::InvalidJump)),
        }
    }

    #[inline(always)]
    fn set32(&mut self, reg: Reg, value: u32) -> Flow {
        self.set(reg, sext32(value))
    }

    #[inline(always)]
    fn load<const N: usize>(&mut self, reg: Reg, address: u32, convert: impl FnOnce([u8; N]) -> u64) -> Flow {
        let windows = &mut self.windows.load;
        if let Some(offset) = windows[0].offset(address, N) {
            // SAFETY: the windows are remade whenever memory is used other than through them
            // (`refresh_windows`), and `memory` is borrowed by this machine alone.
            let bytes = unsafe { windows[0].read::<N>(offset) };
            return self.set(reg, convert(bytes));
        }
        for index in 1..windows.len() {
            if let Some(offset) = windows[index].offset(address, N) {
                // SAFETY: as above.
                let bytes = unsafe { windows[index].read::<N>(offset) };
                // The most recently used window goes first.
                windows.swap(0, index);
                return self.set(reg, convert(bytes));
            }
        }
        if !FULL {
            return SLOW_ACCESS;
        }
        let flow = match self.memory.load::<N>(address) {
            Ok(bytes) => self.set(reg, convert(bytes)),
            Err(error) => self.fault(error),
        };
        self.refresh_windows();
        flow
    }

    #[inline(always)]
    fn store<const N: usize>(&mut self, address: u32, value: u64) -> Flow {
        let bytes: [u8; N] = value.to_le_bytes()[..N].try_into().expect("N <= 8");
        let windows = &mut self.windows.store;
        if let Some(offset) = windows[0].offset(address, N) {
            // SAFETY: as in `load`, and this is a store window.
            unsafe { windows[0].write::<N>(offset, bytes) };
            return self.next();
        }
        for index in 1..windows.len() {
            if let Some(offset) = windows[index].offset(address, N) {
                // SAFETY: as above.
                unsafe { windows[index].write::<N>(offset, bytes) };
                windows.swap(0, index);
                return self.next();
            }
        }
        if !FULL {
            return SLOW_ACCESS;
        }
        let flow = match self.memory.store::<N>(address, bytes) {
            Ok(()) => self.next(),
            Err(error) => self.fault(error),
        };
        self.refresh_windows();
        flow
    }

    #[inline(always)]
    fn branch(&mut self, condition: bool, target: u32) -> Flow {
        if condition {
            self.jump_to(target)
        } else {
            self.fall_through()
        }
    }
}

fn u8_(bytes: [u8; 1]) -> u64 {
    u64::from(bytes[0])
}
fn i8_(bytes: [u8; 1]) -> u64 {
    bytes[0] as i8 as i64 as u64
}
fn u16_(bytes: [u8; 2]) -> u64 {
    u64::from(u16::from_le_bytes(bytes))
}
fn i16_(bytes: [u8; 2]) -> u64 {
    i16::from_le_bytes(bytes) as i64 as u64
}
fn u32_(bytes: [u8; 4]) -> u64 {
    u64::from(u32::from_le_bytes(bytes))
}
fn i32_(bytes: [u8; 4]) -> u64 {
    i32::from_le_bytes(bytes) as i64 as u64
}
fn u64_(bytes: [u8; 8]) -> u64 {
    u64::from_le_bytes(bytes)
}

#[inline(always)]
fn div_unsigned_32(a: u32, b: u32) -> u64 {
    a.checked_div(b).map_or(u64::MAX, sext32)
}

#[inline(always)]
fn div_signed_32(a: u32, b: u32) -> u64 {
    let (a, b) = (a as i32, b as i32);
    if b == 0 {
        u64::MAX
    } else {
        a.wrapping_div(b) as i64 as u64
    }
}

#[inline(always)]
fn rem_unsigned_32(a: u32, b: u32) -> u64 {
    sext32(a.checked_rem(b).unwrap_or(a))
}

#[inline(always)]
fn rem_signed_32(a: u32, b: u32) -> u64 {
    let (a, b) = (a as i32, b as i32);
    if b == 0 {
        a as i64 as u64
    } else {
        a.wrapping_rem(b) as i64 as u64
    }
}

#[inline(always)]
fn div_signed_64(a: u64, b: u64) -> u64 {
    if b == 0 {
        u64::MAX
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

#[inline(always)]
fn rem_signed_64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

#[inline(always)]
fn mul_upper_signed_signed(a: u64, b: u64) -> u64 {
    ((i128::from(a as i64) * i128::from(b as i64)) >> 64) as u64
}

#[inline(always)]
fn mul_upper_unsigned_unsigned(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> 64) as u64
}

#[inline(always)]
fn mul_upper_signed_unsigned(a: u64, b: u64) -> u64 {
    ((i128::from(a as i64) * i128::from(b)) >> 64) as u64
}

impl<const FULL: bool> InstructionVisitor for Machine<'_, FULL> {
    type Output = Flow;

    // --- no operands ---
    #[inline(always)]
    fn trap(&mut self) -> Flow {
        self.stop(Interrupt::Panic(PanicReason::Trap))
    }
    #[inline(always)]
    fn fallthrough(&mut self) -> Flow {
        self.fall_through()
    }
    #[inline(always)]
    fn unlikely(&mut self) -> Flow {
        self.next()
    }
    #[inline(always)]
    fn invalid(&mut self, _raw: u8) -> Flow {
        self.stop(Interrupt::Panic(PanicReason::InvalidInstruction))
    }

    // --- one immediate ---
    #[inline(always)]
    fn ecalli(&mut self, index: u32) -> Flow {
        self.stop(Interrupt::HostCall(index))
    }

    // --- register and 64-bit immediate ---
    #[inline(always)]
    fn load_imm64(&mut self, reg: Reg, value: u64) -> Flow {
        self.set(reg, value)
    }

    // --- two immediates: store an immediate at an absolute address ---
    #[inline(always)]
    fn store_imm_u8(&mut self, address: u32, value: u32) -> Flow {
        self.store::<1>(address, u64::from(value))
    }
    #[inline(always)]
    fn store_imm_u16(&mut self, address: u32, value: u32) -> Flow {
        self.store::<2>(address, u64::from(value))
    }
    #[inline(always)]
    fn store_imm_u32(&mut self, address: u32, value: u32) -> Flow {
        self.store::<4>(address, u64::from(value))
    }
    #[inline(always)]
    fn store_imm_u64(&mut self, address: u32, value: u32) -> Flow {
        self.store::<8>(address, sext(value))
    }

    // --- one offset ---
    #[inline(always)]
    fn jump(&mut self, target: u32) -> Flow {
        self.jump_to(target)
    }

    // --- register and immediate ---
    #[inline(always)]
    fn jump_indirect(&mut self, reg: Reg, imm: u32) -> Flow {
        self.dynamic_jump(self.get32(reg).wrapping_add(imm))
    }
    #[inline(always)]
    fn load_imm(&mut self, reg: Reg, imm: u32) -> Flow {
        self.set(reg, sext(imm))
    }
    #[inline(always)]
    fn load_u8(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<1>(reg, imm, u8_)
    }
    #[inline(always)]
    fn load_i8(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<1>(reg, imm, i8_)
    }
    #[inline(always)]
    fn load_u16(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<2>(reg, imm, u16_)
    }
    #[inline(always)]
    fn load_i16(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<2>(reg, imm, i16_)
    }
    #[inline(always)]
    fn load_u32(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<4>(reg, imm, u32_)
    }
    #[inline(always)]
    fn load_i32(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<4>(reg, imm, i32_)
    }
    #[inline(always)]
    fn load_u64(&mut self, reg: Reg, imm: u32) -> Flow {
        self.load::<8>(reg, imm, u64_)
    }
    #[inline(always)]
    fn store_u8(&mut self, reg: Reg, imm: u32) -> Flow {
        self.store::<1>(imm, self.get(reg))
    }
    #[inline(always)]
    fn store_u16(&mut self, reg: Reg, imm: u32) -> Flow {
        self.store::<2>(imm, self.get(reg))
    }
    #[inline(always)]
    fn store_u32(&mut self, reg: Reg, imm: u32) -> Flow {
        self.store::<4>(imm, self.get(reg))
    }
    #[inline(always)]
    fn store_u64(&mut self, reg: Reg, imm: u32) -> Flow {
        self.store::<8>(imm, self.get(reg))
    }

    // --- register and two immediates: store an immediate at register + offset ---
    #[inline(always)]
    fn store_imm_indirect_u8(&mut self, base: Reg, offset: u32, value: u32) -> Flow {
        self.store::<1>(self.get32(base).wrapping_add(offset), u64::from(value))
    }
    #[inline(always)]
    fn store_imm_indirect_u16(&mut self, base: Reg, offset: u32, value: u32) -> Flow {
        self.store::<2>(self.get32(base).wrapping_add(offset), u64::from(value))
    }
    #[inline(always)]
    fn store_imm_indirect_u32(&mut self, base: Reg, offset: u32, value: u32) -> Flow {
        self.store::<4>(self.get32(base).wrapping_add(offset), u64::from(value))
    }
    #[inline(always)]
    fn store_imm_indirect_u64(&mut self, base: Reg, offset: u32, value: u32) -> Flow {
        self.store::<8>(self.get32(base).wrapping_add(offset), sext(value))
    }

    // --- register, immediate and offset ---
    #[inline(always)]
    fn load_imm_and_jump(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.regs[reg as usize] = sext(imm);
        self.jump_to(target)
    }
    #[inline(always)]
    fn branch_eq_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) == sext(imm), target)
    }
    #[inline(always)]
    fn branch_not_eq_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) != sext(imm), target)
    }
    #[inline(always)]
    fn branch_less_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) < sext(imm), target)
    }
    #[inline(always)]
    fn branch_less_or_equal_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) <= sext(imm), target)
    }
    #[inline(always)]
    fn branch_greater_or_equal_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) >= sext(imm), target)
    }
    #[inline(always)]
    fn branch_greater_unsigned_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch(self.get(reg) > sext(imm), target)
    }
    #[inline(always)]
    fn branch_less_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch((self.get(reg) as i64) < (sext(imm) as i64), target)
    }
    #[inline(always)]
    fn branch_less_or_equal_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch((self.get(reg) as i64) <= (sext(imm) as i64), target)
    }
    #[inline(always)]
    fn branch_greater_or_equal_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch((self.get(reg) as i64) >= (sext(imm) as i64), target)
    }
    #[inline(always)]
    fn branch_greater_signed_imm(&mut self, reg: Reg, imm: u32, target: u32) -> Flow {
        self.branch((self.get(reg) as i64) > (sext(imm) as i64), target)
    }

    // --- two registers ---
    #[inline(always)]
    fn move_reg(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, self.get(s))
    }
    #[inline(always)]
    fn count_set_bits_64(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get(s).count_ones()))
    }
    #[inline(always)]
    fn count_set_bits_32(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get32(s).count_ones()))
    }
    #[inline(always)]
    fn count_leading_zero_bits_64(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get(s).leading_zeros()))
    }
    #[inline(always)]
    fn count_leading_zero_bits_32(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get32(s).leading_zeros()))
    }
    #[inline(always)]
    fn count_trailing_zero_bits_64(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get(s).trailing_zeros()))
    }
    #[inline(always)]
    fn count_trailing_zero_bits_32(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get32(s).trailing_zeros()))
    }
    #[inline(always)]
    fn sign_extend_8(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, self.get(s) as i8 as i64 as u64)
    }
    #[inline(always)]
    fn sign_extend_16(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, self.get(s) as i16 as i64 as u64)
    }
    #[inline(always)]
    fn zero_extend_16(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, u64::from(self.get(s) as u16))
    }
    #[inline(always)]
    fn reverse_byte(&mut self, d: Reg, s: Reg) -> Flow {
        self.set(d, self.get(s).swap_bytes())
    }

    // --- two registers and an immediate: `a = b op imm`, or memory at `b + imm` ---
    #[inline(always)]
    fn store_indirect_u8(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.store::<1>(self.get32(b).wrapping_add(imm), self.get(a))
    }
    #[inline(always)]
    fn store_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.store::<2>(self.get32(b).wrapping_add(imm), self.get(a))
    }
    #[inline(always)]
    fn store_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.store::<4>(self.get32(b).wrapping_add(imm), self.get(a))
    }
    #[inline(always)]
    fn store_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.store::<8>(self.get32(b).wrapping_add(imm), self.get(a))
    }
    #[inline(always)]
    fn load_indirect_u8(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<1>(a, self.get32(b).wrapping_add(imm), u8_)
    }
    #[inline(always)]
    fn load_indirect_i8(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<1>(a, self.get32(b).wrapping_add(imm), i8_)
    }
    #[inline(always)]
    fn load_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<2>(a, self.get32(b).wrapping_add(imm), u16_)
    }
    #[inline(always)]
    fn load_indirect_i16(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<2>(a, self.get32(b).wrapping_add(imm), i16_)
    }
    #[inline(always)]
    fn load_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<4>(a, self.get32(b).wrapping_add(imm), u32_)
    }
    #[inline(always)]
    fn load_indirect_i32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<4>(a, self.get32(b).wrapping_add(imm), i32_)
    }
    #[inline(always)]
    fn load_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.load::<8>(a, self.get32(b).wrapping_add(imm), u64_)
    }
    #[inline(always)]
    fn add_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, self.get32(b).wrapping_add(imm))
    }
    #[inline(always)]
    fn and_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b) & sext(imm))
    }
    #[inline(always)]
    fn xor_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b) ^ sext(imm))
    }
    #[inline(always)]
    fn or_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b) | sext(imm))
    }
    #[inline(always)]
    fn mul_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, self.get32(b).wrapping_mul(imm))
    }
    #[inline(always)]
    fn set_less_than_unsigned_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, u64::from(self.get(b) < sext(imm)))
    }
    #[inline(always)]
    fn set_less_than_signed_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, u64::from((self.get(b) as i64) < (sext(imm) as i64)))
    }
    #[inline(always)]
    fn shift_logical_left_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, self.get32(b) << (imm % 32))
    }
    #[inline(always)]
    fn shift_logical_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, self.get32(b) >> (imm % 32))
    }
    #[inline(always)]
    fn shift_arithmetic_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, ((self.get32(b) as i32) >> (imm % 32)) as u32)
    }
    #[inline(always)]
    fn negate_and_add_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, imm.wrapping_sub(self.get32(b)))
    }
    #[inline(always)]
    fn set_greater_than_unsigned_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, u64::from(self.get(b) > sext(imm)))
    }
    #[inline(always)]
    fn set_greater_than_signed_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, u64::from((self.get(b) as i64) > (sext(imm) as i64)))
    }
    #[inline(always)]
    fn shift_logical_left_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, imm << (self.get32(b) % 32))
    }
    #[inline(always)]
    fn shift_logical_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, imm >> (self.get32(b) % 32))
    }
    #[inline(always)]
    fn shift_arithmetic_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, ((imm as i32) >> (self.get32(b) % 32)) as u32)
    }
    #[inline(always)]
    fn cmov_if_zero_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        if self.get(b) == 0 {
            self.regs[a as usize] = sext(imm);
        }
        self.next()
    }
    #[inline(always)]
    fn cmov_if_not_zero_imm(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        if self.get(b) != 0 {
            self.regs[a as usize] = sext(imm);
        }
        self.next()
    }
    #[inline(always)]
    fn add_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b).wrapping_add(sext(imm)))
    }
    #[inline(always)]
    fn mul_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b).wrapping_mul(sext(imm)))
    }
    #[inline(always)]
    fn shift_logical_left_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b) << (imm % 64))
    }
    #[inline(always)]
    fn shift_logical_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b) >> (imm % 64))
    }
    #[inline(always)]
    fn shift_arithmetic_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, ((self.get(b) as i64) >> (imm % 64)) as u64)
    }
    #[inline(always)]
    fn negate_and_add_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, sext(imm).wrapping_sub(self.get(b)))
    }
    #[inline(always)]
    fn shift_logical_left_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, sext(imm) << (self.get(b) % 64))
    }
    #[inline(always)]
    fn shift_logical_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, sext(imm) >> (self.get(b) % 64))
    }
    #[inline(always)]
    fn shift_arithmetic_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, ((sext(imm) as i64) >> (self.get(b) % 64)) as u64)
    }
    #[inline(always)]
    fn rotate_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, self.get(b).rotate_right(imm % 64))
    }
    #[inline(always)]
    fn rotate_right_imm_alt_64(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set(a, sext(imm).rotate_right((self.get(b) % 64) as u32))
    }
    #[inline(always)]
    fn rotate_right_imm_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, self.get32(b).rotate_right(imm % 32))
    }
    #[inline(always)]
    fn rotate_right_imm_alt_32(&mut self, a: Reg, b: Reg, imm: u32) -> Flow {
        self.set32(a, imm.rotate_right(self.get32(b) % 32))
    }

    // --- two registers and an offset ---
    #[inline(always)]
    fn branch_eq(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch(self.get(a) == self.get(b), target)
    }
    #[inline(always)]
    fn branch_not_eq(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch(self.get(a) != self.get(b), target)
    }
    #[inline(always)]
    fn branch_less_unsigned(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch(self.get(a) < self.get(b), target)
    }
    #[inline(always)]
    fn branch_less_signed(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch((self.get(a) as i64) < (self.get(b) as i64), target)
    }
    #[inline(always)]
    fn branch_greater_or_equal_unsigned(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch(self.get(a) >= self.get(b), target)
    }
    #[inline(always)]
    fn branch_greater_or_equal_signed(&mut self, a: Reg, b: Reg, target: u32) -> Flow {
        self.branch((self.get(a) as i64) >= (self.get(b) as i64), target)
    }

    // --- two registers and two immediates ---
    #[inline(always)]
    fn load_imm_and_jump_indirect(&mut self, a: Reg, b: Reg, value: u32, offset: u32) -> Flow {
        // The jump address uses `b` as it was before `a` is written (they may be the same).
        let address = self.get32(b).wrapping_add(offset);
        self.regs[a as usize] = sext(value);
        self.dynamic_jump(address)
    }

    // --- three registers: `d = a op b` ---
    #[inline(always)]
    fn add_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a).wrapping_add(self.get32(b)))
    }
    #[inline(always)]
    fn sub_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a).wrapping_sub(self.get32(b)))
    }
    #[inline(always)]
    fn mul_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a).wrapping_mul(self.get32(b)))
    }
    #[inline(always)]
    fn div_unsigned_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, div_unsigned_32(self.get32(a), self.get32(b)))
    }
    #[inline(always)]
    fn div_signed_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, div_signed_32(self.get32(a), self.get32(b)))
    }
    #[inline(always)]
    fn rem_unsigned_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, rem_unsigned_32(self.get32(a), self.get32(b)))
    }
    #[inline(always)]
    fn rem_signed_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, rem_signed_32(self.get32(a), self.get32(b)))
    }
    #[inline(always)]
    fn shift_logical_left_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a) << (self.get32(b) % 32))
    }
    #[inline(always)]
    fn shift_logical_right_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a) >> (self.get32(b) % 32))
    }
    #[inline(always)]
    fn shift_arithmetic_right_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, ((self.get32(a) as i32) >> (self.get32(b) % 32)) as u32)
    }
    #[inline(always)]
    fn add_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).wrapping_add(self.get(b)))
    }
    #[inline(always)]
    fn sub_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).wrapping_sub(self.get(b)))
    }
    #[inline(always)]
    fn mul_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).wrapping_mul(self.get(b)))
    }
    #[inline(always)]
    fn div_unsigned_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).checked_div(self.get(b)).unwrap_or(u64::MAX))
    }
    #[inline(always)]
    fn div_signed_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, div_signed_64(self.get(a), self.get(b)))
    }
    #[inline(always)]
    fn rem_unsigned_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).checked_rem(self.get(b)).unwrap_or(self.get(a)))
    }
    #[inline(always)]
    fn rem_signed_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, rem_signed_64(self.get(a), self.get(b)))
    }
    #[inline(always)]
    fn shift_logical_left_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) << (self.get(b) % 64))
    }
    #[inline(always)]
    fn shift_logical_right_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) >> (self.get(b) % 64))
    }
    #[inline(always)]
    fn shift_arithmetic_right_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, ((self.get(a) as i64) >> (self.get(b) % 64)) as u64)
    }
    #[inline(always)]
    fn and(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) & self.get(b))
    }
    #[inline(always)]
    fn xor(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) ^ self.get(b))
    }
    #[inline(always)]
    fn or(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) | self.get(b))
    }
    #[inline(always)]
    fn mul_upper_signed_signed(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, mul_upper_signed_signed(self.get(a), self.get(b)))
    }
    #[inline(always)]
    fn mul_upper_unsigned_unsigned(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, mul_upper_unsigned_unsigned(self.get(a), self.get(b)))
    }
    #[inline(always)]
    fn mul_upper_signed_unsigned(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, mul_upper_signed_unsigned(self.get(a), self.get(b)))
    }
    #[inline(always)]
    fn set_less_than_unsigned(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, u64::from(self.get(a) < self.get(b)))
    }
    #[inline(always)]
    fn set_less_than_signed(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, u64::from((self.get(a) as i64) < (self.get(b) as i64)))
    }
    #[inline(always)]
    fn cmov_if_zero(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        if self.get(b) == 0 {
            self.regs[d as usize] = self.get(a);
        }
        self.next()
    }
    #[inline(always)]
    fn cmov_if_not_zero(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        if self.get(b) != 0 {
            self.regs[d as usize] = self.get(a);
        }
        self.next()
    }
    #[inline(always)]
    fn rotate_left_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).rotate_left((self.get(b) % 64) as u32))
    }
    #[inline(always)]
    fn rotate_left_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a).rotate_left(self.get32(b) % 32))
    }
    #[inline(always)]
    fn rotate_right_64(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).rotate_right((self.get(b) % 64) as u32))
    }
    #[inline(always)]
    fn rotate_right_32(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set32(d, self.get32(a).rotate_right(self.get32(b) % 32))
    }
    #[inline(always)]
    fn and_inverted(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) & !self.get(b))
    }
    #[inline(always)]
    fn or_inverted(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a) | !self.get(b))
    }
    #[inline(always)]
    fn xnor(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, !(self.get(a) ^ self.get(b)))
    }
    #[inline(always)]
    fn maximum(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, (self.get(a) as i64).max(self.get(b) as i64) as u64)
    }
    #[inline(always)]
    fn maximum_unsigned(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).max(self.get(b)))
    }
    #[inline(always)]
    fn minimum(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, (self.get(a) as i64).min(self.get(b) as i64) as u64)
    }
    #[inline(always)]
    fn minimum_unsigned(&mut self, d: Reg, a: Reg, b: Reg) -> Flow {
        self.set(d, self.get(a).min(self.get(b)))
    }
}
