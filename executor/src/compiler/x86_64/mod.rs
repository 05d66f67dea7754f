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
//! Offset 0 is the entry trampoline (`extern "sysv64" fn(base, target)`): it saves the host's
//! callee-saved registers and stack pointer in the context, loads the guest registers and jumps
//! to `target`. Then come the shared exits, which store the guest registers back, record why
//! the guest stopped (`exit_kind`, `exit_index` = instruction index) and return to the host.
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

// `dynasm!` converts dynamic register numbers with `.into()`, which is the identity for `u8`.
#![allow(clippy::useless_conversion)]

mod run;

pub(crate) use run::{is_available, is_supported, CompiledInstance};

use super::CompileError;
use crate::gas::{starts_gas_block, BlockCosts, GasMetering};
use crate::pool::{BufferPool, Pool, PoolLimits, Pools};
use crate::program::{AccessKind, DecodedProgram, Instruction, InstructionVisitor, Reg, HALT_ADDRESS};
use crate::sandbox::{ctx_offset, VmCtx};
use core::mem::offset_of;
use dynasmrt::x64::X64Relocation;
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};
use std::sync::Arc;

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
    ops: VecAssembler<X64Relocation>,
    stubs: Vec<Stub>,
    stub_offsets: Vec<u32>,
    fixups: Vec<(u32, Target)>,
    jump_table_targets: Vec<u32>,
    jump_sites: Vec<u32>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            ops: VecAssembler::new(0),
            stubs: Vec::new(),
            stub_offsets: Vec::new(),
            fixups: Vec::new(),
            jump_table_targets: Vec::new(),
            jump_sites: Vec::new(),
        }
    }
}

/// Executable memory holding one module's code; it goes back to its engine's [`CodePool`]
/// when dropped.
struct CodeMemory {
    pointer: *mut u8,
    length: usize,
    pools: Arc<Pools>,
}

// SAFETY: immutable (read-execute) memory after construction, owned by this value.
unsafe impl Send for CodeMemory {}
// SAFETY: as above; nothing writes it after construction.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Maps `length` bytes (rounded up to pages) for code, writable until [`CodeMemory::fill`];
    /// in the low 2 GiB of the address space where the kernel has room (`MAP_32BIT`), so that
    /// the code can address its jump table absolutely.
    fn map(length: usize, pools: &Arc<Pools>) -> Result<CodeMemory, CompileError> {
        let length = length.max(1).div_ceil(4096) * 4096;
        if let Some(memory) = CodeMemory::reuse(length, pools) {
            return Ok(memory);
        }
        // Populated up front: one call instead of a page fault per page on the copy.
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
        let protection = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: fresh anonymous mappings, placed by the kernel.
        let pointer = unsafe {
            let low = libc::mmap(core::ptr::null_mut(), length, protection, flags | libc::MAP_32BIT, -1, 0);
            if low == libc::MAP_FAILED {
                libc::mmap(core::ptr::null_mut(), length, protection, flags, -1, 0)
            } else {
                low
            }
        };
        if pointer == libc::MAP_FAILED {
            return Err(CompileError::CodeAllocation);
        }
        Ok(CodeMemory { pointer: pointer.cast(), length, pools: pools.clone() })
    }

    /// A pooled mapping of `length` to `2 * length` bytes, made writable again.
    fn reuse(length: usize, pools: &Arc<Pools>) -> Option<CodeMemory> {
        let (pointer, mapped) = {
            let mut pool = pools.code.mappings.items();
            let (at, _) = pool
                .iter()
                .enumerate()
                .filter(|(_, &(_, mapped))| mapped >= length && mapped <= 2 * length)
                .min_by_key(|(_, &(_, mapped))| mapped)?;
            pool.swap_remove(at)
        };
        let memory = CodeMemory { pointer: pointer as *mut u8, length: mapped, pools: pools.clone() };
        // SAFETY: a mapping of ours that no module uses any more (see `Drop`); its pages are
        // populated, so writing them after this costs no page faults.
        if unsafe { libc::mprotect(pointer as *mut libc::c_void, mapped, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            return None; // dropping `memory` unmaps it
        }
        Some(memory)
    }

    /// Copies `code` in and makes the memory read-execute for good.
    fn fill(&self, code: &[u8]) -> Result<(), CompileError> {
        assert!(code.len() <= self.length);
        // SAFETY: the mapping is `length >= code.len()` bytes, writable, and ours; then it is
        // switched to read-execute and never written again.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), self.pointer, code.len());
            if libc::mprotect(self.pointer.cast(), self.length, libc::PROT_READ | libc::PROT_EXEC) != 0 {
                return Err(CompileError::CodeProtection);
            }
        }
        Ok(())
    }
}

/// Code mappings of dropped modules, kept (read-execute) for the next compiles: reusing one
/// costs two `mprotect` calls where a fresh one costs `mmap`, populating (zeroing) its pages
/// and `munmap`. Owned by an engine ([`Pools`]); limits from [`PoolLimits`].
#[derive(Debug)]
pub(crate) struct CodePool {
    /// `(address, length)` of each kept mapping, at most `PoolLimits::code_mappings`...
    mappings: Pool<(usize, usize)>,
    /// ...and at most this many bytes in them.
    max_bytes: usize,
}

impl CodePool {
    /// An empty pool.
    pub fn new(limits: &PoolLimits) -> CodePool {
        CodePool { mappings: Pool::new(limits.code_mappings), max_bytes: limits.code_bytes }
    }
}

impl Drop for CodePool {
    fn drop(&mut self) {
        for &(pointer, length) in self.mappings.items().iter() {
            // SAFETY: a mapping of ours that no module uses any more.
            unsafe { libc::munmap(pointer as *mut libc::c_void, length) };
        }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        {
            let pool = &self.pools.code;
            let mut mappings = pool.mappings.items();
            let pooled: usize = mappings.iter().map(|&(_, mapped)| mapped).sum();
            if mappings.len() < pool.mappings.limit() && pooled + self.length <= pool.max_bytes {
                mappings.push((self.pointer as usize, self.length));
                return;
            }
        }
        // SAFETY: our own mapping; no instance runs it any more (instances hold the module).
        unsafe { libc::munmap(self.pointer.cast(), self.length) };
    }
}

/// A module compiled to x86-64, shared by all its instances.
pub struct CompiledProgram {
    code: CodeMemory,
    code_len: usize,
    /// Native offset of each instruction's own code (after any gas charge).
    instruction_offsets: Vec<u32>,
    /// Native offset to enter each instruction at: its block's charge for gas block starts.
    entry_offsets: Vec<u32>,
    fault_exit: u32,
    /// How the code meters gas (`None`: it does not).
    gas: Option<GasMetering>,
}

impl Drop for CompiledProgram {
    fn drop(&mut self) {
        let buffers = &self.code.pools.buffers;
        buffers.recycle_words(core::mem::take(&mut self.instruction_offsets));
        buffers.recycle_words(core::mem::take(&mut self.entry_offsets));
    }
}

impl core::fmt::Debug for CompiledProgram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompiledProgram").field("code_len", &self.code_len).field("gas", &self.gas).finish()
    }
}

/// Where the host asked the guest to start or resume.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum EntryPoint {
    /// At instruction `index`, charging its gas block first if it starts one.
    Block(usize),
    /// At instruction `index`'s own code, without any charge.
    Instruction(usize),
}

impl CompiledProgram {
    /// Compiles `decoded`.
    /// `gas` is how to meter it; `costs` is `None` when metering is off (and then `gas` is
    /// ignored).
    pub fn compile(
        decoded: &DecodedProgram,
        costs: Option<&BlockCosts>,
        gas: Option<GasMetering>,
        pools: &Arc<Pools>,
    ) -> Result<Self, CompileError> {
        let gas = if costs.is_none() { None } else { gas };
        // The working memory (the assembler's tables, stubs, branch fixups and so on) is reused
        // from one compile to the next on this thread: growing it afresh every time costs more
        // (reallocation, page faults) than filling it.
        let scratch = SCRATCH.with(|scratch| scratch.take()).unwrap_or_else(Scratch::new);
        let mut compiler = Compiler::new(decoded, costs, gas, scratch, &pools.buffers);
        compiler.emit_all();
        let Compiler {
            mut ops,
            instruction_offsets,
            entry_offsets,
            jump_table_at,
            jump_table_targets,
            jump_sites,
            dispatch,
            fault_exit,
            stubs,
            stub_offsets,
            fixups,
            ..
        } = compiler;
        let bytes = ops.take().map_err(|_| CompileError::UnresolvedLabel);
        let scratch = Scratch { ops, stubs, stub_offsets, fixups, jump_table_targets, jump_sites };
        let result = bytes.and_then(|mut bytes| {
            // The branches, now that every block and stub has its offset.
            for &(end, target) in &scratch.fixups {
                let destination = match target {
                    Target::Block(index) => entry_offsets[index as usize],
                    Target::Stub(stub) => scratch.stub_offsets[stub as usize],
                };
                let end = end as usize;
                bytes[end - 4..end].copy_from_slice(&(destination as i32 - end as i32).to_le_bytes());
            }
            Self::finish(bytes, &scratch.jump_table_targets, jump_table_at, &scratch.jump_sites, dispatch, pools)
        });
        SCRATCH.with(|cell| cell.set(Some(scratch)));
        let (code, code_len) = result?;
        Ok(CompiledProgram { code, code_len, instruction_offsets, entry_offsets, fault_exit, gas })
    }

    /// Maps the code and fills it in: the jump table's absolute addresses and the dynamic jump
    /// sites, which need the code's address.
    fn finish(
        mut bytes: Vec<u8>,
        table_targets: &[u32],
        jump_table_at: usize,
        jump_sites: &[u32],
        dispatch: u32,
        pools: &Arc<Pools>,
    ) -> Result<(CodeMemory, usize), CompileError> {
        let code_len = bytes.len();
        let code = CodeMemory::map(code_len, pools)?;
        let start = code.pointer as u64;
        // The table holds absolute addresses, now that the code's address is known.
        for (i, &target) in table_targets.iter().enumerate() {
            let at = jump_table_at + i * 8;
            bytes[at..at + 8].copy_from_slice(&(start + u64::from(target)).to_le_bytes());
        }
        // Each dynamic jump site is `jmp [r14 * 8 + table]` where the table's address fits in a
        // sign-extended 32-bit displacement (the code is mapped in the low 2 GiB when the kernel
        // allows), else a jump to the shared dispatch that reads the table through `rax`.
        let table = start + jump_table_at as u64;
        let direct = start + code_len as u64 <= i32::MAX as u64;
        for &site in jump_sites {
            let site = site as usize;
            let patch: [u8; 8] = if direct {
                let [a, b, c, d] = (table as u32).to_le_bytes();
                [0x42, 0xff, 0x24, 0xf5, a, b, c, d]
            } else {
                let [a, b, c, d] = (dispatch as i32 - (site as i32 + 5)).to_le_bytes();
                [0xe9, a, b, c, d, 0xcc, 0xcc, 0xcc]
            };
            bytes[site..site + 8].copy_from_slice(&patch);
        }
        code.fill(&bytes)?;
        Ok((code, code_len))
    }

    /// Bytes of native code.
    pub fn code_len(&self) -> usize {
        self.code_len
    }

    /// The engine's pools this program's code came from (its instances' sandboxes come from
    /// them too).
    pub(crate) fn pools(&self) -> &Arc<Pools> {
        &self.code.pools
    }

    /// Approximate memory held (code and offset tables).
    pub fn memory_usage(&self) -> usize {
        self.code.length + (self.instruction_offsets.len() + self.entry_offsets.len()) * 4
    }

    /// How the code meters gas (`None`: it does not).
    pub fn gas_metering(&self) -> Option<GasMetering> {
        self.gas
    }

    /// Fills in the parts of the context the signal handler needs.
    pub(crate) fn prepare_ctx(&self, ctx: &mut VmCtx) {
        let start = self.code.pointer as u64;
        ctx.code_start = start;
        ctx.code_end = start + self.code_len as u64;
        ctx.fault_exit = start + u64::from(self.fault_exit);
    }

    /// Runs guest code from `entry` until it exits; the exit is described in the context.
    ///
    /// # Safety
    ///
    /// `base` must be the memory base of a live sandbox whose context was prepared with
    /// [`CompiledProgram::prepare_ctx`] for this program, with the fault handler installed.
    pub(crate) unsafe fn run(&self, base: *mut u8, entry: EntryPoint) {
        let offset = match entry {
            EntryPoint::Block(index) => self.entry_offsets[index],
            EntryPoint::Instruction(index) => self.instruction_offsets[index],
        };
        // SAFETY: offset 0 is the entry trampoline, generated with exactly this signature; the
        // target is an instruction boundary inside the code; the caller guarantees the sandbox.
        unsafe {
            let trampoline: extern "sysv64" fn(*mut u8, *const u8) = core::mem::transmute(self.code.pointer);
            trampoline(base, self.code.pointer.add(offset as usize));
        }
    }

    /// The instruction whose code contains native address `rip` (a faulting access).
    pub(crate) fn instruction_at(&self, rip: u64) -> Option<usize> {
        let offset = rip.checked_sub(self.code.pointer as u64)?;
        if offset >= self.code_len as u64 {
            return None;
        }
        let after = self.instruction_offsets.partition_point(|&start| u64::from(start) <= offset);
        after.checked_sub(1)
    }

    /// The guest access `instruction` makes with registers `regs`: address, length, store.
    pub(crate) fn fault_access(instruction: Instruction, regs: &[u64; 13]) -> Option<(u32, usize, bool)> {
        let (access, address) = instruction.memory_access()?;
        Some((address.resolve(regs), usize::from(access.width), access.kind == AccessKind::Store))
    }
}

/// A piece of cold code emitted after all blocks.
#[derive(Copy, Clone)]
enum Stub {
    /// Give back `cost` and exit out of gas at gas block `index`.
    OutOfGas { index: u32, cost: u64 },
    /// Exit with `kind` at instruction `index`.
    Exit { index: u32, kind: u32 },
    /// A dynamic jump out of the table's range at instruction `index`: a halt if `r14d` is
    /// `halt`, else an invalid jump.
    DynamicJump { index: u32, halt: u32 },
}

struct Compiler<'a> {
    ops: VecAssembler<X64Relocation>,
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
        ops.reserve_ops(decoded.code_len() as usize * 6 + 1024);
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
            exit_offsets: [0; 9],
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
        if self.decoded.is_block_start(target) {
            let index = self.decoded.index_of(target).expect("block starts are instructions");
            Target::Block(index as u32)
        } else {
            self.exit_stub(EXIT_INVALID_BRANCH)
        }
    }

    /// `jcc rel32` (condition `cc`) to `target`, resolved after emission. Branches are encoded
    /// by hand, not with dynasm's labels: this is most of the relocations, and patching them
    /// from our own offset tables costs far less.
    fn jcc(&mut self, cc: u8, target: Target) {
        self.ops.extend([0x0f, 0x80 | cc, 0, 0, 0, 0]);
        let end = self.offset();
        self.fixups.push((end, target));
    }

    /// `jmp rel32` to `target`, resolved after emission.
    fn jmp(&mut self, target: Target) {
        self.ops.extend([0xe9, 0, 0, 0, 0]);
        let end = self.offset();
        self.fixups.push((end, target));
    }

    /// `jcc rel32` to code already emitted at `offset`.
    fn jcc_back(&mut self, cc: u8, offset: u32) {
        let relative = offset as i32 - (self.offset() as i32 + 6);
        let [a, b, c, d] = relative.to_le_bytes();
        self.ops.extend([0x0f, 0x80 | cc, a, b, c, d]);
    }

    /// `jmp rel32` to code already emitted at `offset`.
    fn jmp_back(&mut self, offset: u32) {
        let relative = offset as i32 - (self.offset() as i32 + 5);
        let [a, b, c, d] = relative.to_le_bytes();
        self.ops.extend([0xe9, a, b, c, d]);
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
        for index in 0..instructions.len() {
            self.index = index;
            let decoded = instructions[index];
            if decoded.loop_head && decoded.block_start {
                self.align_loop_head();
            }
            if starts_gas_block(instructions, index) {
                self.entry_offsets.push(self.offset());
                self.emit_charge(index);
            } else {
                self.entry_offsets.push(self.offset());
            }
            self.instruction_offsets.push(self.offset());
            decoded.instruction.visit(self);
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
        // The entry trampoline: rdi = memory base, rsi = target.
        asm!(self.ops
            ; push rbx ; push rbp ; push r12 ; push r13 ; push r14 ; push r15
            ; mov r15, rdi
            ; mov [r15 + OFF_HOST_RSP], rsp
            ; mov r14, rsi
            ; rdgsbase rax
            ; mov [r15 + OFF_SAVED_GS], rax
            ; wrgsbase r15
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
                ; jmp ->save
            );
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
            ; gs mov [OFF_GAS], r15
            ; rdgsbase r15
        );
        for (guest, &host) in HOST_REG.iter().enumerate() {
            let offset = OFF_REGS + guest as i32 * 8;
            asm!(self.ops; mov [r15 + offset], Rq(host));
        }
        asm!(self.ops
            ; mov rax, [r15 + OFF_SAVED_GS]
            ; wrgsbase rax
            ; mov rsp, [r15 + OFF_HOST_RSP]
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
        let cost = u64::from(costs.from(index));
        if cost <= i8::MAX as u64 {
            asm!(self.ops; sub r15, BYTE cost as i8 as _);
        } else if cost <= i32::MAX as u64 {
            asm!(self.ops; sub r15, cost as i32);
        } else {
            asm!(self.ops; mov r14, QWORD cost as i64; sub r15, r14);
        }
        if self.gas == Some(GasMetering::Sync) || self.checkpoints[index] {
            let stub = self.stub(Stub::OutOfGas { index: index as u32, cost });
            self.jcc(cc::L, stub);
        }
    }

    fn emit_stubs(&mut self) {
        // Taken out while emitting (emitting needs `self`), then put back for reuse.
        let stubs = std::mem::take(&mut self.stubs);
        for &stub in &stubs {
            let offset = self.offset();
            self.stub_offsets.push(offset);
            match stub {
                Stub::OutOfGas { index, cost } => {
                    if cost <= i8::MAX as u64 {
                        asm!(self.ops; add r15, BYTE cost as i8 as _);
                    } else if cost <= i32::MAX as u64 {
                        asm!(self.ops; add r15, cost as i32);
                    } else {
                        asm!(self.ops; mov r14, QWORD cost as i64; add r15, r14);
                    }
                    self.exit_with(index, EXIT_OUT_OF_GAS);
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
        let table: Vec<Option<u32>> = (0..=2 * self.decoded.jump_table().len())
            .map(|address| (address >= 2 && address % 2 == 0).then(|| self.decoded.jump_table()[address / 2 - 1]))
            .collect();
        for target in table {
            let offset = if let Some(target) = target.filter(|&target| self.decoded.is_block_start(target)) {
                let index = self.decoded.index_of(target).expect("block starts are instructions");
                // Every block start is a gas block start, whose entry is its charge.
                self.entry_offsets[index]
            } else {
                invalid
            };
            self.jump_table_targets.push(offset);
            asm!(self.ops; .u64 0);
        }
    }

    // --- helpers -------------------------------------------------------------------------

    fn exit_here(&mut self, kind: u32) {
        self.exit_with(self.index as u32, kind);
    }

    fn mov(&mut self, d: u8, s: u8) {
        if d != s {
            asm!(self.ops; mov Rq(d), Rq(s));
        }
    }

    fn load_imm(&mut self, d: u8, value: u64) {
        if value == 0 {
            asm!(self.ops; xor Rd(d), Rd(d));
        } else if value <= u64::from(u32::MAX) {
            asm!(self.ops; mov Rd(d), value as u32 as i32);
        } else if value as i64 >= i64::from(i32::MIN) && value as i64 <= i64::from(i32::MAX) {
            asm!(self.ops; mov Rq(d), value as i64 as i32);
        } else {
            asm!(self.ops; mov Rq(d), QWORD value as i64);
        }
    }

    /// `cmp Rq(a), imm` (sign-extended), with an 8-bit immediate where it fits (which dynasm
    /// does not choose by itself for a register given at run time).
    fn cmp_imm(&mut self, a: u8, imm: i32) {
        if let Ok(imm) = i8::try_from(imm) {
            // REX.W (+B), 83 /7 ib.
            self.ops.extend([0x48 | (a >> 3), 0x83, 0xf8 | (a & 7), imm as u8]);
        } else {
            asm!(self.ops; cmp Rq(a), imm);
        }
    }

    /// `lea Rq(d), [Rq(base) + offset]`, or its 32-bit form, with an 8-bit displacement where
    /// it fits.
    fn lea_offset(&mut self, d: u8, base: u8, offset: i32, wide: bool) {
        match (i8::try_from(offset), wide) {
            (Ok(offset), true) => asm!(self.ops; lea Rq(d), [BYTE Rq(base) + offset as _]),
            (Ok(offset), false) => asm!(self.ops; lea Rd(d), [BYTE Rq(base) + offset as _]),
            (Err(_), true) => asm!(self.ops; lea Rq(d), [Rq(base) + offset]),
            (Err(_), false) => asm!(self.ops; lea Rd(d), [Rq(base) + offset]),
        }
    }

    /// `d = a + b` (64-bit, or 32-bit zero-extended). An `add` where `d` is a source, else a
    /// two-component `lea` without displacement: dynasm encodes `[a + b]` with a zero 8-bit
    /// displacement for registers given at run time, which some CPUs (AMD Zen) execute as a
    /// three-component `lea` with one more cycle of latency.
    fn add_rr(&mut self, d: u8, a: u8, b: u8, wide: bool) {
        match (d == a, d == b, wide) {
            (true, _, true) => asm!(self.ops; add Rq(d), Rq(b)),
            (true, _, false) => asm!(self.ops; add Rd(d), Rd(b)),
            (false, true, true) => asm!(self.ops; add Rq(d), Rq(a)),
            (false, true, false) => asm!(self.ops; add Rd(d), Rd(a)),
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

    fn sext32(&mut self, d: u8) {
        asm!(self.ops; movsxd Rq(d), Rd(d));
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
        let next_is_target =
            self.decoded.is_block_start(target) && self.decoded.index_of(target) == Some(self.index + 1);
        if !next_is_target {
            let label = self.branch_label(target);
            self.jmp(label);
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

// Two-operand ALU patterns: `d = a op b`.
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
    ($s:ident, $d:expr, $a:expr, $b:expr, $op:ident) => {{
        let (d, a, b) = (r($d), r($a), r($b));
        if d == a {
            asm!($s.ops; $op Rq(d), Rq(b));
        } else if d == b {
            asm!($s.ops; mov r14, Rq(a); $op r14, Rq(b); mov Rq(d), r14);
        } else {
            asm!($s.ops; mov Rq(d), Rq(a); $op Rq(d), Rq(b));
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

macro_rules! branch {
    ($s:ident, $a:expr, $b:expr, $target:expr, $jcc:expr) => {{
        let (a, b) = (r($a), r($b));
        let label = $s.branch_label($target);
        asm!($s.ops; cmp Rq(a), Rq(b));
        $s.jcc($jcc, label);
    }};
    ($s:ident, $a:expr, imm $imm:expr, $target:expr, $jcc:expr) => {{
        let a = r($a);
        let label = $s.branch_label($target);
        $s.cmp_imm(a, $imm as i32);
        $s.jcc($jcc, label);
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
    fn ecalli(&mut self, _index: u32) {
        self.exit_here(EXIT_HOST_CALL);
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
        load!(self, reg, None, imm, i32)
    }
    fn load_u64(&mut self, reg: Reg, imm: u32) {
        load!(self, reg, None, imm, u64)
    }
    fn store_u8(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 1)
    }
    fn store_u16(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 2)
    }
    fn store_u32(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 4)
    }
    fn store_u64(&mut self, reg: Reg, imm: u32) {
        store!(self, (reg reg), None, imm, 8)
    }

    fn store_imm_indirect_u8(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 1)
    }
    fn store_imm_indirect_u16(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 2)
    }
    fn store_imm_indirect_u32(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 4)
    }
    fn store_imm_indirect_u64(&mut self, base: Reg, offset: u32, value: u32) {
        store!(self, (imm value), Some(base), offset, 8)
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
        store!(self, (reg a), Some(b), imm, 1)
    }
    fn store_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) {
        store!(self, (reg a), Some(b), imm, 2)
    }
    fn store_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) {
        store!(self, (reg a), Some(b), imm, 4)
    }
    fn store_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) {
        store!(self, (reg a), Some(b), imm, 8)
    }
    fn load_indirect_u8(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, u8)
    }
    fn load_indirect_i8(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, i8)
    }
    fn load_indirect_u16(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, u16)
    }
    fn load_indirect_i16(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, i16)
    }
    fn load_indirect_u32(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, u32)
    }
    fn load_indirect_i32(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, i32)
    }
    fn load_indirect_u64(&mut self, a: Reg, b: Reg, imm: u32) {
        load!(self, a, Some(b), imm, u64)
    }
    fn add_imm_32(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.lea_offset(a, b, imm as i32, false);
        self.sext32(a);
    }
    fn and_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        asm!(self.ops; and Rq(a), imm as i32);
    }
    fn xor_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        asm!(self.ops; xor Rq(a), imm as i32);
    }
    fn or_imm(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        asm!(self.ops; or Rq(a), imm as i32);
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
        asm!(self.ops; shl Rq(a), (imm % 64) as i8);
    }
    fn shift_logical_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        asm!(self.ops; shr Rq(a), (imm % 64) as i8);
    }
    fn shift_arithmetic_right_imm_64(&mut self, a: Reg, b: Reg, imm: u32) {
        let (a, b) = (r(a), r(b));
        self.mov(a, b);
        asm!(self.ops; sar Rq(a), (imm % 64) as i8);
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
        alu64!(self, d, a, b, sub)
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
        alu64!(self, d, a, b, and, commutative)
    }
    fn xor(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64!(self, d, a, b, xor, commutative)
    }
    fn or(&mut self, d: Reg, a: Reg, b: Reg) {
        alu64!(self, d, a, b, or, commutative)
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
        alu64!(self, d, a, b, xor, commutative);
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

// The scratch (`r14`), gas counter (`r15`) and stack pointer are no guest registers.
const _: () = {
    let mut i = 0;
    while i < HOST_REG.len() {
        assert!(HOST_REG[i] != 14 && HOST_REG[i] != 15 && HOST_REG[i] != 4);
        i += 1;
    }
};
