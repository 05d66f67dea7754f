//! The x86-64 compiler: one pass over the decoded program, straight to machine code.
//!
//! # Register assignment
//!
//! Every guest register lives in a host register for the whole run:
//!
//! | guest | `ra` | `sp` | `t0` | `t1` | `t2` | `s0` | `s1` | `a0` | `a1` | `a2` | `a3` | `a4` | `a5` |
//! |-------|------|------|------|------|------|------|------|------|------|------|------|------|------|
//! | host  | rax  | rsi  | rbx  | rdx  | rcx  | rbp  | rdi  | r8   | r9   | r10  | r11  | r12  | r13  |
//!
//! `r14` is the one scratch register; `r15` holds the gas counter (written back to the context
//! on every exit). The `gs` segment's base is the sandbox's memory base (guest address 0), with
//! the sandbox's context (`VmCtx`) right below it: guest memory and the context are both
//! addressed `gs`-relative. `rsp` stays the host stack, so
//! the few instructions that need more scratch (division, wide multiplication, rotation by a
//! register, dynamic jumps) save a guest register with `push`/`pop`.
//!
//! # Code layout
//!
//! Offset 0 is the entry trampoline (`extern "sysv64" fn(base, target, gs_set)`): it saves the
//! host's callee-saved registers and stack pointer in the context, sets `gs` (unless the host
//! says it already is this sandbox's base, or it finds so), loads the guest registers and jumps
//! to `target`. Then come the shared exits,
//! which store the guest registers back, record why the guest stopped (`exit_kind`,
//! `exit_index` = instruction index) and return to the host. Every exit but a host call's puts
//! back the thread's `gs` base saved on entry; a host call's leaves `gs` at the sandbox while
//! the host services it, since `wrgsbase` costs about as much as all the rest of a host call's
//! round trip and the host does not use `gs` (thread-local storage is `fs` on x86-64 Linux).
//! Then one native block per guest basic block, in guest order, each starting with its gas
//! charge; then cold stubs (out of gas, invalid branches, halts); then the jump table: one
//! absolute 64-bit native address per guest address a dynamic jump may go to.
//!
//! The table has one entry per guest address from 0 to twice the guest table's length (odd
//! addresses and 0 lead to the invalid jump exit), so a dynamic jump to `a` is a range check
//! and `jmp [r14 * 8 + table]`: the code is mapped in the low 2 GiB where possible so that
//! the table's address is a 32-bit displacement; otherwise each such jump goes through one
//! shared dispatch that addresses the table with a saved register.
//!
//! # Memory accesses
//!
//! A guest access to `reg + imm` is one instruction on `gs:[reg32 + imm]` (32-bit address
//! size, so the address wraps modulo 2^32 as the guest's does); an absolute address below
//! 2^31 is a `gs`-relative displacement, a higher one goes through `r14`. The sandbox
//! guarantees that this cannot leave the instance's reservation, and that an inaccessible byte faults; the signal handler
//! sends the fault to the fault exit, and the host classifies it from the instruction and the
//! registers, exactly as the interpreter would have. x86 faults are precise, so a faulting store writes
//! nothing and a faulting load leaves its destination unchanged, as the interpreter's
//! all-or-nothing accesses do.
//!
//! # Files
//!
//! This file is the code generator's driver (the `Compiler`: prologue and shared exits, gas
//! charges, blocks, stubs, jump table, branch fixups); `visitor.rs` has each instruction's
//! code; `compiled.rs` the product (`CompiledProgram`: compile, run from an entry point, map a
//! faulting address back to its instruction and access); `code_memory.rs` the executable
//! mappings and their pool; `run.rs` one instance's run and the translation of the code's exits
//! into the backends' common `Stop`.

// `dynasm!` converts dynamic register numbers with `.into()`, which is the identity for `u8`.
#![allow(clippy::useless_conversion)]

mod code_memory;
mod compiled;
mod emitter;
mod encode;
mod perf_map;
mod run;

pub(crate) use code_memory::CodePool;
pub(crate) use compiled::{CompiledProgram, EntryPoint};
pub(crate) use run::{is_available, is_supported, CompiledInstance};

use super::CompileError;
use crate::gas::{BlockCosts, GasMetering};
use crate::pool::BufferPool;
use crate::program::{DecodedProgram, InstructionVisitor, Reg, HALT_ADDRESS};
use crate::sandbox::{ctx_offset, VmCtx};
use core::mem::offset_of;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi};
use emitter::Emitter;

/// The guest stopped at a halting dynamic jump.
pub(crate) const EXIT_HALT: u32 = 1;
/// A `trap` (or running off the end of the code).
pub(crate) const EXIT_TRAP: u32 = 2;
/// An undefined opcode.
pub(crate) const EXIT_INVALID_INSTRUCTION: u32 = 3;
/// A static branch to a non-block target.
pub(crate) const EXIT_INVALID_BRANCH: u32 = 4;
/// An invalid dynamic jump.
pub(crate) const EXIT_INVALID_JUMP: u32 = 5;
/// `ecalli`.
pub(crate) const EXIT_HOST_CALL: u32 = 6;
/// A gas block could not be paid for.
pub(crate) const EXIT_OUT_OF_GAS: u32 = 7;
/// A memory access faulted (the signal handler sent execution here).
pub(crate) const EXIT_FAULT: u32 = 8;

/// Host register numbers (x86 encoding).
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RBX: u8 = 3;
const RBP: u8 = 5;
const RSI: u8 = 6;
const RDI: u8 = 7;

/// The host register of each guest register.
const HOST_REG: [u8; 13] = [RAX, RSI, RBX, RDX, RCX, RBP, RDI, 8, 9, 10, 11, 12, 13];

#[inline(always)]
fn r(reg: Reg) -> u8 {
    HOST_REG[reg as usize]
}

const OFF_HOST_RSP: i32 = ctx_offset(offset_of!(VmCtx, host_rsp));
const OFF_EXIT_KIND: i32 = ctx_offset(offset_of!(VmCtx, exit_kind));
const OFF_EXIT_INDEX: i32 = ctx_offset(offset_of!(VmCtx, exit_index));
const OFF_REGS: i32 = ctx_offset(offset_of!(VmCtx, regs));
const OFF_GAS: i32 = ctx_offset(offset_of!(VmCtx, gas));
const OFF_SAVED_GS: i32 = ctx_offset(offset_of!(VmCtx, saved_gs));
const OFF_HOST_CALL: i32 = ctx_offset(offset_of!(VmCtx, host_call));
const OFF_EXIT_PC: i32 = ctx_offset(offset_of!(VmCtx, exit_pc));
const OFF_RESUME_OFFSET: i32 = ctx_offset(offset_of!(VmCtx, resume_offset));

macro_rules! asm {
    ($ops:expr; $($t:tt)*) => {
        dynasm!($ops ; .arch x64 ; $($t)*)
    };
}

thread_local! {
    /// The compiler's working memory, kept between compiles on this thread (see
    /// [`CompiledProgram::compile`]).
    static SCRATCH: core::cell::Cell<Option<Scratch>> = const { core::cell::Cell::new(None) };
}

/// The compiler's working memory, kept between compiles on a thread.
struct Scratch {
    ops: Emitter,
    stubs: Vec<Stub>,
    stub_offsets: Vec<u32>,
    fixups: Vec<(u32, Target)>,
    jump_table_targets: Vec<u32>,
    jump_sites: Vec<u32>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            ops: Emitter::new(),
            stubs: Vec::new(),
            stub_offsets: Vec::new(),
            fixups: Vec::new(),
            jump_table_targets: Vec::new(),
            jump_sites: Vec::new(),
        }
    }
}

/// A piece of cold code emitted after all blocks.
#[derive(Copy, Clone)]
enum Stub {
    /// Give back `cost` and exit out of gas at gas block `index`; reached only from the
    /// charge's `jl`, whose displacement ends at `site` and is patched when the stub is
    /// emitted (not through the fixup list: there is one per gas block).
    OutOfGas { index: u32, cost: u32, site: u32 },
    /// Exit with `kind` at instruction `index`.
    Exit { index: u32, kind: u32 },
    /// A dynamic jump out of the table's range at instruction `index`: a halt if `r14d` is
    /// `halt`, else an invalid jump.
    DynamicJump { index: u32, halt: u32 },
}

struct Compiler<'a> {
    ops: Emitter,
    decoded: &'a DecodedProgram,
    costs: Option<&'a BlockCosts>,
    gas: Option<GasMetering>,
    /// The instruction being compiled.
    index: usize,
    /// Async gas: blocks that check (loop heads and dynamic jump targets).
    checkpoints: Vec<bool>,
    stubs: Vec<Stub>,
    /// The offset of each stub, once emitted.
    stub_offsets: Vec<u32>,
    /// Each branch's end (after its 32-bit displacement) and where it goes.
    fixups: Vec<(u32, Target)>,
    instruction_offsets: Vec<u32>,
    entry_offsets: Vec<u32>,
    jump_table_at: usize,
    /// The native offset each jump table entry leads to.
    jump_table_targets: Vec<u32>,
    /// Each dynamic jump's 8-byte patch site.
    jump_sites: Vec<u32>,
    /// The shared dispatch, for code mapped above 2 GiB.
    dispatch: u32,
    fault_exit: u32,
    /// The offset of the shared exit of each exit kind (all in the prologue).
    exit_offsets: [u32; 9],
    /// Each `ecalli`'s resume offset store (the end of its 32-bit immediate) and the index of
    /// the instruction after it, whose offset goes there once the offsets are known.
    resume_sites: Vec<(u32, u32)>,
    /// Where the instructions' code ends and the stubs begin.
    instructions_end: u32,
}

/// Where a branch goes, resolved once all code is emitted.
#[derive(Copy, Clone)]
enum Target {
    /// The gas block starting at this instruction index.
    Block(u32),
    /// The stub with this number.
    Stub(u32),
}

/// x86 condition codes, as in `0f 80+cc` (`jcc rel32`).
mod cc {
    pub const B: u8 = 0x2;
    pub const AE: u8 = 0x3;
    pub const E: u8 = 0x4;
    pub const NE: u8 = 0x5;
    pub const BE: u8 = 0x6;
    pub const A: u8 = 0x7;
    pub const L: u8 = 0xc;
    pub const GE: u8 = 0xd;
    pub const LE: u8 = 0xe;
    pub const G: u8 = 0xf;
}

impl<'a> Compiler<'a> {
    fn new(
        decoded: &'a DecodedProgram,
        costs: Option<&'a BlockCosts>,
        gas: Option<GasMetering>,
        scratch: Scratch,
        buffers: &BufferPool,
    ) -> Self {
        let count = decoded.instructions().len();
        let Scratch { mut ops, mut stubs, mut stub_offsets, mut fixups, mut jump_table_targets, mut jump_sites } =
            scratch;
        ops.clear();
        ops.reserve(decoded.code_len() as usize * 6 + 1024);
        stubs.clear();
        stub_offsets.clear();
        fixups.clear();
        jump_table_targets.clear();
        jump_sites.clear();
        Compiler {
            ops,
            decoded,
            costs,
            gas,
            index: 0,
            checkpoints: Vec::new(),
            stubs,
            stub_offsets,
            fixups,
            instruction_offsets: buffers.words(count),
            entry_offsets: buffers.words(count),
            jump_table_at: 0,
            jump_table_targets,
            jump_sites,
            dispatch: 0,
            fault_exit: 0,
            instructions_end: 0,
            exit_offsets: [0; 9],
            resume_sites: Vec::new(),
        }
    }

    fn offset(&self) -> u32 {
        self.ops.offset().0 as u32
    }

    fn stub(&mut self, stub: Stub) -> Target {
        self.stubs.push(stub);
        Target::Stub(self.stubs.len() as u32 - 1)
    }

    fn exit_stub(&mut self, kind: u32) -> Target {
        let index = self.index as u32;
        self.stub(Stub::Exit { index, kind })
    }

    /// Where a static branch to `target` goes: the target block, or a stub that panics with an
    /// invalid branch.
    fn branch_label(&mut self, target: u32) -> Target {
        match self.block_at(target) {
            Some(index) => Target::Block(index as u32),
            None => self.exit_stub(EXIT_INVALID_BRANCH),
        }
    }

    /// The index of the instruction at `target` if it starts a basic block: one lookup
    /// (`is_block_start` then `index_of` made two each).
    #[inline]
    fn block_at(&self, target: u32) -> Option<usize> {
        self.decoded.block_at(target)
    }

    /// `jcc rel32` (condition `cc`) to `target`, resolved after emission. Branches are encoded
    /// by hand, not with dynasm's labels: this is most of the relocations, and patching them
    /// from our own offset tables costs far less.
    fn jcc(&mut self, cc: u8, target: Target) {
        encode::branch(&mut self.ops, Some(cc), 0);
        let end = self.offset();
        self.fixups.push((end, target));
    }

    /// Records that the branch just emitted (ending in its 32-bit displacement) goes to
    /// `target`, to be resolved after emission.
    fn branched(&mut self, target: Target) {
        let end = self.offset();
        self.fixups.push((end, target));
    }

    /// `jmp rel32` to `target`, resolved after emission.
    fn jmp(&mut self, target: Target) {
        encode::branch(&mut self.ops, None, 0);
        let end = self.offset();
        self.fixups.push((end, target));
    }

    /// `jcc rel32` to code already emitted at `offset`.
    fn jcc_back(&mut self, cc: u8, offset: u32) {
        let relative = offset as i32 - (self.offset() as i32 + 6);
        encode::branch(&mut self.ops, Some(cc), relative);
    }

    /// `jmp rel32` to code already emitted at `offset`.
    fn jmp_back(&mut self, offset: u32) {
        let relative = offset as i32 - (self.offset() as i32 + 5);
        encode::branch(&mut self.ops, None, relative);
    }

    fn emit_all(&mut self) {
        let instructions = self.decoded.instructions();
        if self.gas == Some(GasMetering::Async) {
            let mut checkpoints = vec![false; instructions.len()];
            for decoded in instructions {
                if let Some(target) = decoded.instruction.branch_target() {
                    if target <= decoded.pc {
                        if let Some(index) = self.decoded.index_of(target) {
                            checkpoints[index] = true;
                        }
                    }
                }
            }
            for &target in self.decoded.jump_table() {
                if let Some(index) = self.decoded.index_of(target) {
                    checkpoints[index] = true;
                }
            }
            self.checkpoints = checkpoints;
        }

        self.emit_prologue();
        // The hottest loop of compiling: instructions are visited by reference (a copy of each
        // costs more than the visit of most), and whether one starts a gas block is carried
        // from the previous iteration instead of looked up again (`starts_gas_block`).
        //
        // The two offset tables are written through slices of their spare capacity, not pushed
        // to through `self` (a push there reloads the vector's pointer, length and capacity
        // from memory every time, as any byte of code written in between may have changed
        // them): two stores per instruction instead of some sixteen instructions.
        let count = instructions.len();
        let mut entry_offsets = core::mem::take(&mut self.entry_offsets);
        let mut instruction_offsets = core::mem::take(&mut self.instruction_offsets);
        entry_offsets.clear();
        entry_offsets.reserve(count);
        instruction_offsets.clear();
        instruction_offsets.reserve(count);
        let entries = &mut entry_offsets.spare_capacity_mut()[..count];
        let starts = &mut instruction_offsets.spare_capacity_mut()[..count];
        let mut starts_block = true;
        for (index, ((decoded, entry), start)) in instructions.iter().zip(entries).zip(starts).enumerate() {
            self.index = index;
            if decoded.loop_head && decoded.block_start {
                self.align_loop_head();
            }
            entry.write(self.offset());
            if starts_block {
                self.emit_charge(index);
            }
            start.write(self.offset());
            decoded.instruction.visit(self);
            starts_block = decoded.ends_block;
        }
        // SAFETY: the loop wrote entry `index` of both tables for every `index` below `count`
        // (it zips `count` instructions with `count` entries of each), and both have capacity
        // for `count` (reserved above).
        unsafe {
            entry_offsets.set_len(count);
            instruction_offsets.set_len(count);
        }
        self.entry_offsets = entry_offsets;
        self.instruction_offsets = instruction_offsets;
        self.instructions_end = self.offset();
        // Each host call's resume point: the own code of the instruction after it.
        let code = self.ops.code_mut();
        for &(end, next) in &self.resume_sites {
            let offset = self.instruction_offsets.get(next as usize).copied().unwrap_or(u32::MAX);
            code[end as usize - 4..end as usize].copy_from_slice(&offset.to_le_bytes());
        }
        self.emit_stubs();
        self.emit_jump_table();
    }

    /// Pads with multi-byte NOPs (run only when entering the loop from above) up to a 32-byte
    /// boundary. Measured on AMD Zen 5: the same loop ran at 1 or 1.5 cycles per iteration
    /// depending on where it fell relative to the 64-byte lines (memcpy's copy loop: 8.1 or
    /// 11 ms; the slow placements were this loop starting 17 to 29 bytes into a line), and a
    /// 32-byte aligned head was fast wherever the surrounding code moved it.
    fn align_loop_head(&mut self) {
        const NOPS: [&[u8]; 9] = [
            &[0x90],
            &[0x66, 0x90],
            &[0x0f, 0x1f, 0x00],
            &[0x0f, 0x1f, 0x40, 0x00],
            &[0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
            &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
            &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
            &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        let mut padding = (32 - self.offset() % 32) % 32;
        while padding > 0 {
            let length = padding.min(NOPS.len() as u32);
            self.ops.extend(NOPS[length as usize - 1].iter().copied());
            padding -= length;
        }
    }

    fn emit_prologue(&mut self) {
        // The entry trampoline: rdi = memory base, rsi = target, rdx = nonzero if the host
        // knows that `gs` already holds this memory base.
        asm!(self.ops
            ; push rbx ; push rbp ; push r12 ; push r13 ; push r14 ; push r15
            ; mov r15, rdi
            ; mov [r15 + OFF_HOST_RSP], rsp
            ; mov r14, rsi
            // `wrgsbase` is slow (~20 ns here), and a host call leaves `gs` at this memory
            // base (see the host-call exit below): re-entering after one finds it set and
            // skips the write, keeping the host's value saved on the first entry. The host
            // tracks when that is the case (rdx), which saves the `rdgsbase` too (a stall of
            // several ns in a host call's round trip on AMD EPYC); else `gs` is read to check.
            ; test edx, edx
            ; jnz >gs_set
            ; rdgsbase rax
            ; cmp rax, r15
            ; je >gs_set
            ; mov [r15 + OFF_SAVED_GS], rax
            ; wrgsbase r15
            ; gs_set:
        );
        for (guest, &host) in HOST_REG.iter().enumerate() {
            let offset = OFF_REGS + guest as i32 * 8;
            asm!(self.ops; mov Rq(host), [r15 + offset]);
        }
        // From here on `r15` is the gas counter; the context is `gs`-relative.
        asm!(self.ops; mov r15, [r15 + OFF_GAS]; jmp r14);

        // The shared exits; r14d holds the instruction index.
        for kind in [
            EXIT_HALT,
            EXIT_TRAP,
            EXIT_INVALID_INSTRUCTION,
            EXIT_INVALID_BRANCH,
            EXIT_INVALID_JUMP,
            EXIT_HOST_CALL,
            EXIT_OUT_OF_GAS,
        ] {
            self.exit_offsets[kind as usize] = self.offset();
            asm!(self.ops
                ; gs mov DWORD [OFF_EXIT_KIND], kind as i32
                ; gs mov [OFF_EXIT_INDEX], r14d
            );
            if kind == EXIT_HOST_CALL {
                asm!(self.ops; jmp ->save_keep_gs);
            } else {
                asm!(self.ops; jmp ->save);
            }
        }
        // A jump table entry that is no block start: the jumping instruction stored its index.
        asm!(self.ops
            ; ->invalid_table_entry:
            ; gs mov DWORD [OFF_EXIT_KIND], EXIT_INVALID_JUMP as i32
            ; jmp ->save
        );
        self.fault_exit = self.offset();
        asm!(self.ops
            ; gs mov DWORD [OFF_EXIT_KIND], EXIT_FAULT as i32
            ; ->save:
        );
        self.emit_return_to_host(true);
        // A host call's exit: the same, except that `gs` keeps this memory base while the host
        // services the call, so that resuming needs no `wrgsbase` at either end (two of them
        // were about a third of a host call's round trip). Nothing in the host uses `gs` (on
        // x86-64 Linux thread-local storage is `fs`), and every entry sets it anyway; the
        // host's value comes back at the guest's next other exit.
        asm!(self.ops; ->save_keep_gs:);
        self.emit_return_to_host(false);
    }

    /// The tail of every exit: stores gas and the guest registers in the context, puts back
    /// the host's `gs` base if `restore_gs`, and returns to the host's stack and callee-saved
    /// registers as the entry trampoline left them.
    ///
    /// Everything goes through `gs` (the context is right below the memory base): reading the
    /// base into a register with `rdgsbase` first, as this did before, stalled the stores
    /// behind it.
    fn emit_return_to_host(&mut self, restore_gs: bool) {
        asm!(self.ops; gs mov [OFF_GAS], r15);
        for (guest, &host) in HOST_REG.iter().enumerate() {
            let offset = OFF_REGS + guest as i32 * 8;
            asm!(self.ops; gs mov [offset], Rq(host));
        }
        if restore_gs {
            // The host stack pointer is read while `gs` still addresses the context.
            asm!(self.ops
                ; gs mov rax, [OFF_SAVED_GS]
                ; gs mov rsp, [OFF_HOST_RSP]
                ; wrgsbase rax
            );
        } else {
            asm!(self.ops; gs mov rsp, [OFF_HOST_RSP]);
        }
        asm!(self.ops
            ; pop r15 ; pop r14 ; pop r13 ; pop r12 ; pop rbp ; pop rbx
            ; ret
        );
    }

    /// `mov r14d, index` then a jump to the shared exit of `kind`.
    fn exit_with(&mut self, index: u32, kind: u32) {
        asm!(self.ops; mov r14d, index as i32);
        self.jmp_back(self.exit_offsets[kind as usize]);
    }

    fn emit_charge(&mut self, index: usize) {
        let Some(costs) = self.costs else { return };
        if self.gas.is_none() {
            return;
        }
        let cost = costs.from(index);
        let check = self.gas == Some(GasMetering::Sync) || self.checkpoints[index];
        if cost <= i32::MAX as u32 {
            // `sub r15, imm`, and `jl` to the stub: one chunk (see `encode::charge`).
            encode::charge(&mut self.ops, cost as i32, check);
        } else {
            asm!(self.ops; mov r14, QWORD i64::from(cost); sub r15, r14);
            if check {
                encode::branch(&mut self.ops, Some(cc::L), 0);
            }
        }
        if check {
            let site = self.offset();
            self.stubs.push(Stub::OutOfGas { index: index as u32, cost, site });
        }
    }

    fn emit_stubs(&mut self) {
        // Taken out while emitting (emitting needs `self`), then put back for reuse.
        let stubs = std::mem::take(&mut self.stubs);
        for &stub in &stubs {
            let offset = self.offset();
            self.stub_offsets.push(offset);
            match stub {
                Stub::OutOfGas { index, cost, site } => {
                    let site = site as usize;
                    let relative = offset as i32 - site as i32;
                    self.ops.code_mut()[site - 4..site].copy_from_slice(&relative.to_le_bytes());
                    if cost <= i8::MAX as u32 {
                        // Nearly all of them (most blocks are short): one chunk.
                        let exit = self.exit_offsets[EXIT_OUT_OF_GAS as usize];
                        encode::out_of_gas(&mut self.ops, cost as u8, index, exit);
                    } else {
                        if cost <= i32::MAX as u32 {
                            asm!(self.ops; add r15, cost as i32);
                        } else {
                            asm!(self.ops; mov r14, QWORD i64::from(cost); add r15, r14);
                        }
                        self.exit_with(index, EXIT_OUT_OF_GAS);
                    }
                }
                Stub::Exit { index, kind } => self.exit_with(index, kind),
                Stub::DynamicJump { index, halt } => {
                    asm!(self.ops; cmp r14d, halt as i32; mov r14d, index as i32);
                    self.jcc_back(cc::E, self.exit_offsets[EXIT_HALT as usize]);
                    self.jmp_back(self.exit_offsets[EXIT_INVALID_JUMP as usize]);
                }
            }
        }
        self.stubs = stubs;
    }

    fn emit_jump_table(&mut self) {
        self.dispatch = self.offset();
        asm!(self.ops
            ; push rax
            ; lea rax, [->jump_table]
            ; mov r14, [rax + r14 * 8]
            ; pop rax
            ; jmp r14
        );
        let invalid = self.offset();
        asm!(self.ops; jmp ->invalid_table_entry; .align 8; ->jump_table:);
        // Placeholder entries, filled in once every label has an offset.
        self.jump_table_at = self.ops.offset().0;
        // One entry per address 0, 1, ..., 2 * length: address `2 * (i + 1)` is table entry `i`.
        let table = self.decoded.jump_table();
        for address in 0..=2 * table.len() {
            let target = (address >= 2 && address % 2 == 0).then(|| table[address / 2 - 1]);
            let offset = match target.and_then(|target| self.block_at(target)) {
                // Every block start is a gas block start, whose entry is its charge.
                Some(index) => self.entry_offsets[index],
                None => invalid,
            };
            self.jump_table_targets.push(offset);
            asm!(self.ops; .u64 0);
        }
    }

    // --- helpers -------------------------------------------------------------------------

    fn exit_here(&mut self, kind: u32) {
        self.exit_with(self.index as u32, kind);
    }

    /// `ecalli number`: records the host call's number, its pc and where to resume (patched
    /// once the next instruction's offset is known) in the context, so that the host finds
    /// them there instead of looking the instruction and the resume point up in the decoded
    /// program and the offset table, then exits.
    fn host_call_exit(&mut self, number: u32) {
        let pc = self.decoded.instructions()[self.index].pc;
        asm!(self.ops
            ; gs mov DWORD [OFF_HOST_CALL], number as i32
            ; gs mov DWORD [OFF_EXIT_PC], pc as i32
            ; gs mov DWORD [OFF_RESUME_OFFSET], -1
        );
        let end = self.offset();
        self.resume_sites.push((end, self.index as u32 + 1));
        self.exit_here(EXIT_HOST_CALL);
    }

    fn mov(&mut self, d: u8, s: u8) {
        if d != s {
            encode::mov_rr(&mut self.ops, true, d, s);
        }
    }

    fn load_imm(&mut self, d: u8, value: u64) {
        if value == 0 {
            // `xor d32, d32`.
            encode::rr(&mut self.ops, false, 0x31, d, d);
        } else if value <= u64::from(u32::MAX) {
            encode::mov_r32_imm(&mut self.ops, d, value as u32 as i32);
        } else {
            self.load_wide_imm(d, value);
        }
    }

    /// [`Compiler::load_imm`] of a value above `u32::MAX` (a negative one, mostly): apart, so
    /// that the commoner cases do not pay for the registers dynasm's path needs (saved and
    /// restored on every call).
    #[inline(never)]
    fn load_wide_imm(&mut self, d: u8, value: u64) {
        if value as i64 >= i64::from(i32::MIN) && value as i64 <= i64::from(i32::MAX) {
            encode::mov_r64_simm(&mut self.ops, d, value as i64 as i32);
        } else {
            asm!(self.ops; mov Rq(d), QWORD value as i64);
        }
    }

    /// `cmp Rq(a), imm` (sign-extended), with an 8-bit immediate where it fits (which dynasm
    /// does not choose by itself for a register given at run time).
    fn cmp_imm(&mut self, a: u8, imm: i32) {
        encode::alu_imm(&mut self.ops, true, 7, a, imm);
    }

    /// `lea Rq(d), [Rq(base) + offset]`, or its 32-bit form, with an 8-bit displacement where
    /// it fits.
    fn lea_offset(&mut self, d: u8, base: u8, offset: i32, wide: bool) {
        encode::lea(&mut self.ops, wide, d, base, offset);
    }

    /// `d = a + b` (64-bit, or 32-bit zero-extended). An `add` where `d` is a source, else a
    /// two-component `lea` without displacement: dynasm encodes `[a + b]` with a zero 8-bit
    /// displacement for registers given at run time, which some CPUs (AMD Zen) execute as a
    /// three-component `lea` with one more cycle of latency.
    fn add_rr(&mut self, d: u8, a: u8, b: u8, wide: bool) {
        match (d == a, d == b, wide) {
            // `add d, b` (`01 /r`).
            (true, _, _) => encode::rr(&mut self.ops, wide, 0x01, b, d),
            (false, true, _) => encode::rr(&mut self.ops, wide, 0x01, a, d),
            (false, false, _) => {
                // A base of rbp or r13 needs a displacement; as the index it does not.
                let (base, index) = if a & 7 == 5 { (b, a) } else { (a, b) };
                if base & 7 == 5 {
                    if wide {
                        asm!(self.ops; lea Rq(d), [Rq(base) + Rq(index)]);
                    } else {
                        asm!(self.ops; lea Rd(d), [Rq(base) + Rq(index)]);
                    }
                    return;
                }
                // REX (W, R, X, B), 8D /r with mod 00 and a SIB byte of scale 1. Neither is rsp.
                let rex = 0x40 | (u8::from(wide) << 3) | ((d >> 3) << 2) | ((index >> 3) << 1) | (base >> 3);
                self.ops.extend([rex, 0x8d, ((d & 7) << 3) | 0b100, ((index & 7) << 3) | (base & 7)]);
            }
        }
    }

    /// `gs op reg, [base32 + disp]` (or the store direction, by `opcode`): a guest access with
    /// a base register, the commonest instruction compiled, assembled by hand into one chunk.
    /// The encoding is dynasm's for the same operands: `gs` and address-size (32-bit, so the
    /// address wraps as the guest's does) prefixes, REX (W for 64-bit, R and B for the high
    /// registers) when needed, the opcode, ModRM with an 8-bit displacement where it fits (even
    /// zero) else a 32-bit one, and a SIB byte for a base of `r12` (`rm` 100 means SIB).
    /// Only for opcodes whose register operand is no byte register (where REX would also be
    /// needed for `sil`, `dil` and so on).
    #[inline]
    fn gs_access(&mut self, wide: bool, opcode: u8, reg: u8, base: u8, disp: i32) {
        gs_access(&mut self.ops, wide, opcode, reg, base, disp);
    }

    /// [`Compiler::gs_access`] for the byte and word accesses: `movzx`/`movsx` (two-byte
    /// opcodes `0F xx`) and the byte store (`88 /r`, whose register operand is a byte register:
    /// with a REX prefix, always, as dynasm writes it for registers given at run time, so that
    /// 5 to 7 are `bpl`, `sil`, `dil`).
    #[inline]
    fn gs_access_narrow(&mut self, wide: bool, opcode: Narrow, reg: u8, base: u8, disp: i32) {
        gs_access_narrow(&mut self.ops, wide, opcode, reg, base, disp);
    }

    fn sext32(&mut self, d: u8) {
        encode::movsxd(&mut self.ops, d, d);
    }

    /// `r14d = base + offset - 2` (32-bit): the start of a dynamic jump to `base + offset`.
    fn dynamic_jump_address(&mut self, base: Reg, offset: u32) {
        if offset == 0 {
            let base = r(base);
            asm!(self.ops; mov r14d, Rd(base));
        } else {
            self.lea_offset(14, r(base), offset as i32, false);
        }
    }

    /// The end of a dynamic jump: `r14d` holds the guest address.
    fn dynamic_jump(&mut self) {
        // The table has an entry per address up to the last valid one; odd addresses and 0
        // lead to the invalid entry exit, which needs the instruction's index.
        let last = 2 * self.decoded.jump_table().len() as u32;
        debug_assert!(last < HALT_ADDRESS);
        let index = self.index as i32;
        let slow = self.stub(Stub::DynamicJump { index: index as u32, halt: HALT_ADDRESS });
        if last == 0 {
            self.jmp(slow);
            return;
        }
        asm!(self.ops; gs mov DWORD [OFF_EXIT_INDEX], index; cmp r14d, last as i32);
        self.jcc(cc::A, slow);
        // Patched once the code's address is known (see `CompiledProgram::compile`).
        let site = self.offset();
        self.jump_sites.push(site);
        asm!(self.ops; .u64 0);
    }

    fn jump_to(&mut self, target: u32) {
        match self.block_at(target) {
            // Falls through to the target.
            Some(index) if index == self.index + 1 => {}
            Some(index) => self.jmp(Target::Block(index as u32)),
            None => {
                let stub = self.exit_stub(EXIT_INVALID_BRANCH);
                self.jmp(stub);
            }
        }
    }

    /// Division and remainder; `kind`: bit 0 signed, bit 1 remainder, bit 2 32-bit.
    fn divide(&mut self, d: Reg, a: Reg, b: Reg, signed: bool, remainder: bool, wide: bool) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; push rax; push rdx);
        if wide {
            asm!(self.ops; mov r14, Rq(b); mov rax, Rq(a); test r14, r14; jz >zero);
        } else {
            asm!(self.ops; mov r14d, Rd(b); mov eax, Rd(a); test r14d, r14d; jz >zero);
        }
        if signed {
            if wide {
                asm!(self.ops; cmp r14, -1; je >minus_one; cqo; idiv r14);
            } else {
                asm!(self.ops; cmp r14d, -1; je >minus_one; cdq; idiv r14d);
            }
        } else if wide {
            asm!(self.ops; xor edx, edx; div r14);
        } else {
            asm!(self.ops; xor edx, edx; div r14d);
        }
        match (remainder, wide) {
            (false, true) => asm!(self.ops; mov r14, rax),
            (true, true) => asm!(self.ops; mov r14, rdx),
            (false, false) => asm!(self.ops; movsxd r14, eax),
            (true, false) => asm!(self.ops; movsxd r14, edx),
        }
        asm!(self.ops; jmp >done);
        if signed {
            // x / -1 = -x (wrapping, where idiv would fault), x % -1 = 0.
            asm!(self.ops; minus_one:);
            match (remainder, wide) {
                (true, _) => asm!(self.ops; xor r14d, r14d),
                (false, true) => asm!(self.ops; mov r14, rax; neg r14),
                (false, false) => asm!(self.ops; neg eax; movsxd r14, eax),
            }
            asm!(self.ops; jmp >done);
        }
        // Division by zero: all ones; remainder by zero: the dividend.
        asm!(self.ops; zero:);
        match (remainder, wide) {
            (false, _) => asm!(self.ops; mov r14, -1),
            (true, true) => asm!(self.ops; mov r14, rax),
            (true, false) => asm!(self.ops; movsxd r14, eax),
        }
        asm!(self.ops; done:; pop rdx; pop rax; mov Rq(d), r14);
    }

    /// The upper 64 bits of a 128-bit product.
    fn mul_upper(&mut self, d: Reg, a: Reg, b: Reg, signed_a: bool, signed_b: bool) {
        let (d, a, b) = (r(d), r(a), r(b));
        asm!(self.ops; push rax; push rdx);
        match (signed_a, signed_b) {
            (true, true) => asm!(self.ops; mov r14, Rq(b); mov rax, Rq(a); imul r14; mov r14, rdx),
            (false, false) => asm!(self.ops; mov r14, Rq(b); mov rax, Rq(a); mul r14; mov r14, rdx),
            _ => {
                // signed a times unsigned b: the unsigned high part, minus b where a < 0.
                asm!(self.ops
                    ; push Rq(a)
                    ; mov r14, Rq(b)
                    ; mov rax, Rq(a)
                    ; mul r14
                    ; pop rax
                    ; sar rax, 63
                    ; and rax, r14
                    ; sub rdx, rax
                    ; mov r14, rdx
                );
            }
        }
        asm!(self.ops; pop rdx; pop rax; mov Rq(d), r14);
    }

    /// Rotates `r14` (or `r14d`) by guest register `count`, then writes it to `d`.
    fn rotate_by_reg(&mut self, d: u8, count: Reg, right: bool, wide: bool) {
        let count = r(count);
        if count != RCX {
            asm!(self.ops; push rcx; mov ecx, Rd(count));
        }
        match (right, wide) {
            (true, true) => asm!(self.ops; ror r14, cl),
            (false, true) => asm!(self.ops; rol r14, cl),
            (true, false) => asm!(self.ops; ror r14d, cl),
            (false, false) => asm!(self.ops; rol r14d, cl),
        }
        if count != RCX {
            asm!(self.ops; pop rcx);
        }
        if wide {
            asm!(self.ops; mov Rq(d), r14);
        } else {
            asm!(self.ops; movsxd Rq(d), r14d);
        }
    }
}

/// The opcode of a [`Compiler::gs_access_narrow`].
#[derive(Copy, Clone)]
enum Narrow {
    /// `0F` and this byte.
    TwoByte(u8),
    /// `88 /r`.
    StoreByte,
}

/// The body of [`Compiler::gs_access_narrow`], on the emitter alone (for the tests).
#[inline(always)]
fn gs_access_narrow(ops: &mut Emitter, wide: bool, opcode: Narrow, reg: u8, base: u8, disp: i32) {
    let prefixes = |chunk: &mut encode::Chunk| {
        chunk.byte(0x65).byte(0x67);
    };
    match opcode {
        Narrow::TwoByte(second) => {
            let rex = 0x40 | (u8::from(wide) << 3) | ((reg >> 3) << 2) | (base >> 3);
            let opcode = |chunk: &mut encode::Chunk| {
                chunk.byte(0x0f).byte(second);
            };
            encode::emit_with_memory(ops, prefixes, rex, opcode, reg, base, disp);
        }
        Narrow::StoreByte => {
            // Always a REX prefix (see above): emitted with the prefixes, never left out.
            let rex = 0x40 | ((reg >> 3) << 2) | (base >> 3);
            let prefixes = |chunk: &mut encode::Chunk| {
                chunk.byte(0x65).byte(0x67).byte(rex);
            };
            let opcode = |chunk: &mut encode::Chunk| {
                chunk.byte(0x88);
            };
            encode::emit_with_memory(ops, prefixes, 0x40, opcode, reg, base, disp);
        }
    }
}

/// `gs mov DWORD/QWORD [base32 + disp], imm32` (`C7 /0`; with `wide` the immediate is
/// sign-extended to 64 bits), as dynasm encodes it.
#[inline(always)]
fn gs_store_imm(ops: &mut Emitter, wide: bool, base: u8, disp: i32, value: i32) {
    let rex = 0x40 | (u8::from(wide) << 3) | (base >> 3);
    let prefixes = |chunk: &mut encode::Chunk| {
        chunk.byte(0x65).byte(0x67);
    };
    let opcode = |chunk: &mut encode::Chunk| {
        chunk.byte(0xc7);
    };
    let immediate = |chunk: &mut encode::Chunk| {
        chunk.imm32(value);
    };
    encode::emit_with_memory_and(ops, prefixes, rex, opcode, 0, base, disp, immediate);
}

/// `gs op reg, [address]` (or the store direction, by `opcode`) at an absolute address below
/// 2^31 (ModRM `00 reg 100`, SIB `25`: a 32-bit displacement alone), as dynasm encodes it.
/// Only for opcodes whose register operand is no byte register.
#[inline(always)]
fn gs_absolute(ops: &mut Emitter, wide: bool, opcode: u8, reg: u8, address: i32) {
    let rex = 0x40 | (u8::from(wide) << 3) | ((reg >> 3) << 2);
    encode::emit_with_rex(
        ops,
        |chunk| {
            chunk.byte(0x65);
        },
        rex,
        |chunk| {
            chunk.byte(opcode).byte(((reg & 7) << 3) | 4).byte(0x25).imm32(address);
        },
    );
}

/// The body of [`Compiler::gs_access`], on the emitter alone (so that a test can compare it
/// with dynasm's encoding).
#[inline(always)]
fn gs_access(ops: &mut Emitter, wide: bool, opcode: u8, reg: u8, base: u8, disp: i32) {
    let rex = 0x40 | (u8::from(wide) << 3) | ((reg >> 3) << 2) | (base >> 3);
    let prefixes = |chunk: &mut encode::Chunk| {
        chunk.byte(0x65).byte(0x67);
    };
    let opcode = |chunk: &mut encode::Chunk| {
        chunk.byte(opcode);
    };
    encode::emit_with_memory(ops, prefixes, rex, opcode, reg, base, disp);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-assembled accesses are byte for byte what dynasm assembles with the same
    /// registers named statically (for registers given at run time dynasm always adds a REX
    /// prefix and a SIB byte; with named ones it picks the shortest form, as we do), for the
    /// register classes that change the encoding: low and high (REX.R, REX.B), `rbp`/`r13`
    /// as base (no displacement-free form) and `r12` as base (SIB).
    #[test]
    fn hand_assembled_accesses_match_dynasm() {
        macro_rules! case {
            ($q:ident, $d:ident, $reg:expr, $b:ident, $base:expr) => {
                for disp in [0, 5, -128, 127, 128, -129, 0x1234, i32::MAX, i32::MIN] {
                    let mut expected = Emitter::new();
                    match i8::try_from(disp) {
                        Ok(d) => asm!(expected
                            ; gs mov $q, QWORD [BYTE $b + d as _]
                            ; gs mov $d, DWORD [BYTE $b + d as _]
                            ; gs movsxd $q, DWORD [BYTE $b + d as _]
                            ; gs mov QWORD [BYTE $b + d as _], $q
                            ; gs mov DWORD [BYTE $b + d as _], $d
                        ),
                        Err(_) => asm!(expected
                            ; gs mov $q, QWORD [$b + disp]
                            ; gs mov $d, DWORD [$b + disp]
                            ; gs movsxd $q, DWORD [$b + disp]
                            ; gs mov QWORD [$b + disp], $q
                            ; gs mov DWORD [$b + disp], $d
                        ),
                    }
                    let mut ours = Emitter::new();
                    gs_access(&mut ours, true, 0x8b, $reg, $base, disp);
                    gs_access(&mut ours, false, 0x8b, $reg, $base, disp);
                    gs_access(&mut ours, true, 0x63, $reg, $base, disp);
                    gs_access(&mut ours, true, 0x89, $reg, $base, disp);
                    gs_access(&mut ours, false, 0x89, $reg, $base, disp);
                    let (reg, base) = ($reg, $base);
                    assert_eq!(ours.code_mut(), expected.code_mut(), "reg {reg}, base {base}, displacement {disp}");
                }
            };
        }
        case!(rax, eax, RAX, eax, RAX);
        case!(rbx, ebx, RBX, edi, RDI);
        case!(rsi, esi, RSI, ebp, RBP);
        case!(rdi, edi, RDI, r12d, 12);
        case!(r8, r8d, 8, ecx, RCX);
        case!(r13, r13d, 13, r13d, 13);
        case!(rbp, ebp, RBP, r9d, 9);
        case!(r12, r12d, 12, r12d, 12);
        case!(r11, r11d, 11, ebp, RBP);
    }

    /// Stores of an immediate through a base register, and accesses at absolute addresses,
    /// likewise.
    #[test]
    fn hand_assembled_immediate_stores_and_absolute_accesses_match_dynasm() {
        macro_rules! case {
            ($q:ident, $d:ident, $reg:expr, $b:ident, $base:expr) => {
                for disp in [0, 5, -128, 127, 128, -129, 0x1234, i32::MAX, i32::MIN] {
                    for value in [0, -1, 0x7f, 0x1234_5678] {
                        let mut expected = Emitter::new();
                        match i8::try_from(disp) {
                            Ok(d) => asm!(expected
                                ; gs mov DWORD [BYTE $b + d as _], value
                                ; gs mov QWORD [BYTE $b + d as _], value
                            ),
                            Err(_) => asm!(expected
                                ; gs mov DWORD [$b + disp], value
                                ; gs mov QWORD [$b + disp], value
                            ),
                        }
                        let mut ours = Emitter::new();
                        gs_store_imm(&mut ours, false, $base, disp, value);
                        gs_store_imm(&mut ours, true, $base, disp, value);
                        let base = $base;
                        assert_eq!(ours.code_mut(), expected.code_mut(), "base {base}, displacement {disp}, value {value}");
                    }
                }
                for address in [0, 5, 0x80, 0x1234_5678, i32::MAX] {
                    let mut expected = Emitter::new();
                    asm!(expected
                        ; gs movsxd $q, DWORD [address]
                        ; gs mov $q, QWORD [address]
                        ; gs mov $d, DWORD [address]
                        ; gs mov DWORD [address], $d
                        ; gs mov QWORD [address], $q
                    );
                    let mut ours = Emitter::new();
                    gs_absolute(&mut ours, true, 0x63, $reg, address);
                    gs_absolute(&mut ours, true, 0x8b, $reg, address);
                    gs_absolute(&mut ours, false, 0x8b, $reg, address);
                    gs_absolute(&mut ours, false, 0x89, $reg, address);
                    gs_absolute(&mut ours, true, 0x89, $reg, address);
                    let reg = $reg;
                    assert_eq!(ours.code_mut(), expected.code_mut(), "reg {reg}, address {address}");
                }
            };
        }
        case!(rax, eax, RAX, eax, RAX);
        case!(rbx, ebx, RBX, edi, RDI);
        case!(rsi, esi, RSI, ebp, RBP);
        case!(rdi, edi, RDI, r12d, 12);
        case!(r8, r8d, 8, ecx, RCX);
        case!(r13, r13d, 13, r13d, 13);
        case!(r12, r12d, 12, r9d, 9);
    }

    /// The byte and word accesses likewise; the byte store always has a REX prefix (what makes
    /// registers 5 to 7 `bpl`, `sil`, `dil`), which dynasm also writes for those registers.
    #[test]
    fn hand_assembled_narrow_accesses_match_dynasm() {
        macro_rules! case {
            ($q:ident, $d:ident, $b8:ident, $reg:expr, $b:ident, $base:expr) => {
                for disp in [0, 5, -128, 127, 128, -129, 0x1234, i32::MAX, i32::MIN] {
                    let mut expected = Emitter::new();
                    match i8::try_from(disp) {
                        Ok(d) => asm!(expected
                            ; gs movzx $d, BYTE [BYTE $b + d as _]
                            ; gs movsx $q, BYTE [BYTE $b + d as _]
                            ; gs movzx $d, WORD [BYTE $b + d as _]
                            ; gs movsx $q, WORD [BYTE $b + d as _]
                            ; gs mov BYTE [BYTE $b + d as _], $b8
                        ),
                        Err(_) => asm!(expected
                            ; gs movzx $d, BYTE [$b + disp]
                            ; gs movsx $q, BYTE [$b + disp]
                            ; gs movzx $d, WORD [$b + disp]
                            ; gs movsx $q, WORD [$b + disp]
                            ; gs mov BYTE [$b + disp], $b8
                        ),
                    }
                    let mut ours = Emitter::new();
                    gs_access_narrow(&mut ours, false, Narrow::TwoByte(0xb6), $reg, $base, disp);
                    gs_access_narrow(&mut ours, true, Narrow::TwoByte(0xbe), $reg, $base, disp);
                    gs_access_narrow(&mut ours, false, Narrow::TwoByte(0xb7), $reg, $base, disp);
                    gs_access_narrow(&mut ours, true, Narrow::TwoByte(0xbf), $reg, $base, disp);
                    gs_access_narrow(&mut ours, false, Narrow::StoreByte, $reg, $base, disp);
                    let (reg, base) = ($reg, $base);
                    assert_eq!(ours.code_mut(), expected.code_mut(), "reg {reg}, base {base}, displacement {disp}");
                }
            };
        }
        case!(rsi, esi, sil, RSI, eax, RAX);
        case!(rdi, edi, dil, RDI, r12d, 12);
        case!(rbp, ebp, bpl, RBP, r13d, 13);
        case!(r8, r8d, r8b, 8, ebp, RBP);
        case!(r13, r13d, r13b, 13, ebx, RBX);
        case!(r12, r12d, r12b, 12, r9d, 9);
    }
}

// The scratch (`r14`), gas counter (`r15`) and stack pointer are no guest registers.
const _: () = {
    let mut i = 0;
    while i < HOST_REG.len() {
        assert!(HOST_REG[i] != 14 && HOST_REG[i] != 15 && HOST_REG[i] != 4);
        i += 1;
    }
};

mod visitor;
