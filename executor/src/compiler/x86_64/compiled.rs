//! The compiled product: a module's native code, its offset tables, and what the host asks of
//! it (run from an instruction, find the instruction at a faulting address, recompute the
//! faulting access).

use super::code_memory::CodeMemory;
use super::{CompileError, Compiler, Scratch, Target, SCRATCH};
use crate::error::ProcessSandboxError;
use crate::gas::{BlockCosts, GasMetering};
use crate::pool::Pools;
use crate::program::{AccessKind, DecodedProgram, Instruction};
use crate::sandbox::process::ProcessSandbox;
use crate::sandbox::{Sandbox, VmCtx};
use std::sync::Arc;

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
    /// At this native offset, which the code itself gave as the resume point of a host call
    /// (`VmCtx::resume_offset`): the own code of the instruction after the `ecalli`.
    Native(u32),
}

impl CompiledProgram {
    /// Compiles `decoded`.
    /// `gas` is how to meter it; `costs` is `None` when metering is off (and then `gas` is
    /// ignored). With `perf_map`, the code's blocks are appended to this process's perf map
    /// (see [`Config::perf_map`](crate::Config::perf_map)).
    pub fn compile(
        decoded: &DecodedProgram,
        costs: Option<&BlockCosts>,
        gas: Option<GasMetering>,
        pools: &Arc<Pools>,
        perf_map: bool,
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
            instructions_end,
            stubs,
            stub_offsets,
            fixups,
            ..
        } = compiler;
        let committed = ops.commit().map_err(|_| CompileError::UnresolvedLabel);
        let mut scratch = Scratch { ops, stubs, stub_offsets, fixups, jump_table_targets, jump_sites };
        let result = committed.and_then(|()| {
            let bytes = scratch.ops.code_mut();
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
        if perf_map {
            let start = code.pointer as u64;
            if let Err(error) =
                super::perf_map::append(start, decoded, &entry_offsets, instructions_end, code_len as u32)
            {
                log::warn!(target: "pvm", "cannot write the perf map: {error}");
            }
        }
        Ok(CompiledProgram { code, code_len, instruction_offsets, entry_offsets, fault_exit, gas })
    }

    /// Maps the code and fills it in: the jump table's absolute addresses and the dynamic jump
    /// sites, which need the code's address.
    fn finish(
        bytes: &mut [u8],
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
        code.fill(bytes)?;
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
        // No host call's resume point of another program (or of before a reset) may be taken.
        ctx.exit_kind = 0;
        ctx.resume_offset = u32::MAX;
    }

    /// Runs guest code from `entry` until it exits; the exit is described in the context.
    /// `gs_set` says that this thread's `gs` base is already `base` (left so by a host-call
    /// exit): the code then neither reads nor writes it on entry.
    ///
    /// # Safety
    ///
    /// `base` must be the memory base of a live sandbox whose context was prepared with
    /// [`CompiledProgram::prepare_ctx`] for this program, with the fault handler installed;
    /// if `gs_set`, this thread's `gs` base must be `base`.
    #[inline]
    pub(crate) unsafe fn run(&self, base: *mut u8, entry: EntryPoint, gs_set: bool) {
        let Some(offset) = self.entry_offset(entry) else { panic!("resume offset outside the code") };
        // SAFETY: offset 0 is the entry trampoline, generated with exactly this signature; the
        // target is an instruction boundary inside the code; the caller guarantees the sandbox
        // and `gs_set`.
        unsafe {
            let trampoline: extern "sysv64" fn(*mut u8, *const u8, u64) = core::mem::transmute(self.code.pointer);
            trampoline(base, self.code.pointer.add(offset as usize), u64::from(gs_set));
        }
    }

    /// The native offset `entry` starts at; `None` for a resume offset outside the code.
    #[inline]
    fn entry_offset(&self, entry: EntryPoint) -> Option<u32> {
        match entry {
            EntryPoint::Block(index) => Some(self.entry_offsets[index]),
            EntryPoint::Instruction(index) => Some(self.instruction_offsets[index]),
            EntryPoint::Native(offset) => ((offset as usize) < self.code_len).then_some(offset),
        }
    }

    /// Like [`CompiledProgram::run`], in a worker of the engine's process sandbox.
    pub(crate) fn run_in_worker(
        &self,
        process: &ProcessSandbox,
        sandbox: &Sandbox,
        entry: EntryPoint,
    ) -> Result<(), ProcessSandboxError> {
        let offset = self
            .entry_offset(entry)
            .ok_or(ProcessSandboxError::Host { what: "resuming outside the code", errno: libc::EINVAL })?;
        let not_shared = ProcessSandboxError::Host { what: "finding shared code", errno: libc::EINVAL };
        let code = self.code.shared.as_ref().ok_or(not_shared)?;
        // The target is an instruction boundary inside the code (in-bounds offset).
        let target = self.code.pointer.wrapping_add(offset as usize);
        sandbox.run_in_worker(process, self.code.pointer, code, target)
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
