//! Running compiled code: one instance's sandbox with the module's code, and the translation
//! of the code's exits (`EXIT_*` in the context, faults caught by the signal handler) into the
//! [`Stop`] both backends report.

use super::{
    CompiledProgram, EntryPoint, EXIT_FAULT, EXIT_HALT, EXIT_HOST_CALL, EXIT_INVALID_BRANCH, EXIT_INVALID_INSTRUCTION,
    EXIT_INVALID_JUMP, EXIT_OUT_OF_GAS, EXIT_TRAP,
};
use crate::error::ProcessSandboxError;
use crate::exit::{Exit, PanicReason, Resume, Start, Stop};
use crate::gas::starts_gas_block;
use crate::memory::{Fault, MemoryAccessError, MemoryImage};
use crate::program::{DecodedProgram, REG_COUNT};
use crate::sandbox::{signals, Sandbox};
use std::sync::Arc;

thread_local! {
    /// This thread's `gs` base when the host knows it to be a sandbox's memory base (a
    /// host-call exit of compiled code left it so); null when it does not know. Every compiled
    /// run sets it after its exit, so it is never stale: nothing else on the thread writes
    /// `gs` (thread-local storage is `fs` on x86-64 Linux).
    static GS_BASE: core::cell::Cell<*mut u8> = const { core::cell::Cell::new(core::ptr::null_mut()) };
}

/// Whether compiled code runs in this process: the CPU has the instructions the generated
/// code uses (`popcnt`, `lzcnt`, BMI1, BMI2) and user mode may use `wrgsbase` (the kernel
/// enables it since Linux 5.9 where the CPU has it).
pub(crate) fn is_supported() -> bool {
    /// `HWCAP2_FSGSBASE` of `<asm/hwcap2.h>`.
    const HWCAP2_FSGSBASE: libc::c_ulong = 1 << 1;
    // SAFETY: `getauxval` only reads the process's auxiliary vector.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("lzcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && hwcap2 & HWCAP2_FSGSBASE != 0
}

/// Whether an engine may use compiled code: [`is_supported`], and the fault handler is
/// installed (it is, once, by the first call).
pub(crate) fn is_available() -> bool {
    is_supported() && signals::install().is_ok()
}

/// One compiled instance: its sandbox (guest memory and context) and the module's code.
#[derive(Debug)]
pub(crate) struct CompiledInstance {
    sandbox: Sandbox,
    program: Arc<CompiledProgram>,
}

impl Clone for CompiledInstance {
    /// Copies the memory into a new sandbox; panics if the process is out of address space
    /// (documented on `Instance`).
    fn clone(&self) -> Self {
        let mut sandbox = match self.sandbox.try_clone() {
            Ok(sandbox) => sandbox,
            Err(error) => panic!("cloning an instance failed: {error}"),
        };
        self.program.prepare_ctx(sandbox.ctx_mut());
        CompiledInstance { sandbox, program: self.program.clone() }
    }
}

impl CompiledInstance {
    /// Compiled code charges a gas block when entered at its start, so the host pays only for
    /// the rest of a block entered in the middle.
    pub const CHARGES_BLOCK_ON_ENTRY: bool = true;

    /// An instance of `program` with zeroed registers, no gas, and the initial memory of
    /// `image` (container programs) or none (raw programs).
    pub fn new(program: &Arc<CompiledProgram>, image: Option<&Arc<MemoryImage>>) -> Result<Self, &'static str> {
        let mut sandbox = match image {
            Some(image) => Sandbox::from_image(image, program.pools()),
            None => Sandbox::new(program.pools()),
        }?;
        program.prepare_ctx(sandbox.ctx_mut());
        Ok(CompiledInstance { sandbox, program: program.clone() })
    }

    /// Runs compiled code from `start` until it exits, and reports the exit in the
    /// interpreter's terms. The host has charged what the code does not charge itself.
    // Inlined into `Instance::run_with`, its one caller: a host call comes through here twice
    // (out and back in), and the `Stop` then stays in registers.
    ///
    /// With the process sandbox the code runs in a worker process; a worker that fails is
    /// the error.
    #[inline]
    pub fn run(&mut self, decoded: &DecodedProgram, start: Start) -> Result<Stop, ProcessSandboxError> {
        let ctx = self.sandbox.ctx();
        let entry = match start {
            Start::Enter(index) if starts_gas_block(decoded.instructions(), index) => EntryPoint::Block(index),
            // Right after a host call: where the `ecalli`'s code said to resume, which is
            // `instruction_offsets[index]` without the lookup.
            Start::Resume(index)
                if ctx.exit_kind == EXIT_HOST_CALL
                    && ctx.exit_index as usize + 1 == index
                    && ctx.resume_offset != u32::MAX =>
            {
                EntryPoint::Native(ctx.resume_offset)
            }
            Start::Enter(index) | Start::Resume(index) => EntryPoint::Instruction(index),
        };
        let program = &self.program;
        let base = self.sandbox.base();
        if let Some(process) = &program.pools().process {
            // The worker tracks its own `gs`; this thread's is untouched.
            program.run_in_worker(process, &self.sandbox, entry)?;
        } else {
            let gs_set = GS_BASE.with(|gs| gs.get() == base);
            let ctx = self.sandbox.ctx_ptr();
            signals::set_running(ctx);
            // SAFETY: the sandbox is live and its context was prepared for this program when
            // the instance was created (or cloned, or its sandbox replaced); the engine
            // installed the fault handler before creating any compiled module
            // (`is_available`); `GS_BASE` is this thread's `gs` base whenever it is not null
            // (see there).
            unsafe { program.run(base, entry, gs_set) };
            signals::set_running(core::ptr::null_mut());
            // A host-call exit leaves `gs` at this memory base; every other exit puts back the
            // value from before the first entry.
            let gs_now = if self.sandbox.ctx().exit_kind == EXIT_HOST_CALL { base } else { core::ptr::null_mut() };
            GS_BASE.with(|gs| gs.set(gs_now));
        }

        let instructions = decoded.instructions();
        let ctx = self.sandbox.ctx();
        let index = ctx.exit_index as usize;
        let pc_of = |index: usize| instructions.get(index).map_or(0, |instruction| instruction.pc);
        let stop = |exit: Exit, index: usize, resume: Resume| Stop { exit, pc: pc_of(index), resume };
        // Built in place rather than returned from a function, so that every arm's `Stop`
        // stays in registers (a `Stop` returned through memory from one arm made all of them
        // go through memory, and each host call paid for the copy).
        let internal_error = |pc: u32, what: &str| {
            report_internal_error(pc, what);
            Stop { exit: Exit::Panic(PanicReason::Trap), pc, resume: Resume::Never }
        };
        let stop = match ctx.exit_kind {
            EXIT_HALT => stop(Exit::Halt, index, Resume::Never),
            EXIT_TRAP => stop(Exit::Panic(PanicReason::Trap), index, Resume::Never),
            EXIT_INVALID_INSTRUCTION => stop(Exit::Panic(PanicReason::InvalidInstruction), index, Resume::Never),
            EXIT_INVALID_BRANCH => stop(Exit::Panic(PanicReason::InvalidBranch), index, Resume::Never),
            EXIT_INVALID_JUMP => stop(Exit::Panic(PanicReason::InvalidJump), index, Resume::Never),
            // The `ecalli`'s code stored its number and pc (and where to resume).
            EXIT_HOST_CALL => {
                Stop { exit: Exit::HostCall(ctx.host_call), pc: ctx.exit_pc, resume: Resume::At(index as u32 + 1) }
            }
            // Entering the block again pays for it again (no charge at the host: the block's
            // code charges it).
            EXIT_OUT_OF_GAS => stop(Exit::OutOfGas, index, Resume::Recharge(index as u32)),
            EXIT_FAULT => match program.instruction_at(ctx.fault_rip) {
                Some(index) => {
                    let instruction = instructions[index].instruction;
                    let fault = CompiledProgram::fault_access(instruction, &ctx.regs)
                        .and_then(|(address, length, write)| self.sandbox.classify(address, length, write));
                    match fault {
                        Some(Fault::PageFault(page)) => stop(Exit::PageFault(page), index, Resume::At(index as u32)),
                        Some(Fault::Panic) => stop(Exit::Panic(PanicReason::MemoryBelowMinimum), index, Resume::Never),
                        // The access is allowed after all: nothing the guest did explains the
                        // fault. Stop the guest rather than the host.
                        None => internal_error(pc_of(index), "a fault on memory the guest may access"),
                    }
                }
                None => internal_error(0, "a fault outside any instruction"),
            },
            _ => internal_error(0, "an unknown exit kind"),
        };
        // Asynchronous metering: an exit past the limit is out of gas (and final).
        if program.gas_metering() == Some(crate::GasMetering::Async) && ctx.gas < 0 && stop.exit != Exit::OutOfGas {
            return Ok(Stop { exit: Exit::OutOfGas, pc: stop.pc, resume: Resume::Never });
        }
        Ok(stop)
    }

    /// The registers.
    #[inline]
    pub fn regs(&self) -> &[u64; REG_COUNT] {
        &self.sandbox.ctx().regs
    }

    /// The registers, mutably.
    #[inline]
    pub fn regs_mut(&mut self) -> &mut [u64; REG_COUNT] {
        &mut self.sandbox.ctx_mut().regs
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.sandbox.ctx().gas
    }

    /// Gas left, mutably.
    pub fn gas_mut(&mut self) -> &mut i64 {
        &mut self.sandbox.ctx_mut().gas
    }

    /// Reads guest memory.
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.sandbox.read(address, out)
    }

    /// Writes guest memory.
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.sandbox.write(address, data)
    }

    /// Guest memory `[address, address + length)` as a slice, if all of it is writable.
    #[inline]
    pub fn memory_slice_mut(&mut self, address: u32, length: usize) -> Option<&mut [u8]> {
        self.sandbox.slice_mut(address, length)
    }

    /// Whether the guest may access `[address, address + length)` (and write it, if `write`).
    pub fn is_accessible(&self, address: u32, length: usize, write: bool) -> bool {
        self.sandbox.is_accessible(address, length, write)
    }

    /// Grows the heap; the new top, if it can grow that far.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        self.sandbox.sbrk(size)
    }

    /// How far the heap has grown.
    pub fn heap_size(&self) -> u32 {
        self.sandbox.heap_size()
    }

    /// Maps zero-filled pages (raw programs).
    pub fn map_memory(&mut self, address: u32, length: u32, writable: bool) -> Result<(), &'static str> {
        self.sandbox.map(address, length, writable)
    }

    /// The accessible regions as `(address, length, writable)`.
    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        self.sandbox.regions()
    }

    /// Restores `image`'s initial memory (container programs) or an empty one (raw programs),
    /// keeping registers and gas.
    ///
    /// # Panics
    ///
    /// If the sandbox can be neither reset nor replaced (the kernel refuses memory).
    pub fn reset_memory(&mut self, image: Option<&Arc<MemoryImage>>) {
        if let Err(error) = self.sandbox.reset(image) {
            // Only an exhausted kernel (mprotect/madvise failing) gets here; a fresh sandbox
            // is the same state.
            log::warn!("resetting guest memory in place failed ({error}); using a new sandbox");
            let fresh = match image {
                Some(image) => Sandbox::from_image(image, self.program.pools()),
                None => Sandbox::new(self.program.pools()),
            };
            match fresh {
                Ok(mut sandbox) => {
                    let ctx = self.sandbox.ctx();
                    let (regs, gas) = (ctx.regs, ctx.gas);
                    self.program.prepare_ctx(sandbox.ctx_mut());
                    sandbox.ctx_mut().regs = regs;
                    sandbox.ctx_mut().gas = gas;
                    self.sandbox = sandbox;
                }
                Err(error) => panic!("cannot recreate guest memory: {error}"),
            }
        }
    }
}

/// Never expected; if it happens, the guest stops with a panic instead of the host.
#[cold]
#[inline(never)]
fn report_internal_error(pc: u32, what: &str) {
    log::error!("compiled code reported {what} at pc {pc}; stopping the guest");
}
