//! The JAM-style raw entry point: (program, pc, registers, gas, pages, memory) ->
//! (status, pc, registers, gas, memory).

use crate::engine::Engine;
use crate::error::Error;
use crate::exit::Exit;
use crate::instance::Instance;
use crate::module::Module;
use crate::program::{RawProgram, REG_COUNT};

/// Pages to make accessible before the run.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct PageMapping {
    /// Start (page-aligned).
    pub address: u32,
    /// Length (a multiple of the page size).
    pub length: u32,
    /// Whether the guest may write them.
    pub writable: bool,
}

/// The machine state a raw invocation starts from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawState {
    /// Where to start.
    pub pc: u32,
    /// Registers `r0..r12`.
    pub regs: [u64; REG_COUNT],
    /// Gas available.
    pub gas: i64,
    /// Accessible pages.
    pub pages: Vec<PageMapping>,
    /// Initial contents: `(address, bytes)` chunks inside the mapped pages.
    pub memory: Vec<(u32, Vec<u8>)>,
}

/// How a raw invocation ended. The instance stays available to inspect memory (and, after a
/// host call, out of gas or page fault, to resume with [`Instance::run`]).
#[derive(Debug)]
pub struct RawOutcome {
    /// How it stopped.
    pub exit: Exit,
    /// The pc it stopped at (see [`Instance::pc`]).
    pub pc: u32,
    /// Registers at the end.
    pub regs: [u64; REG_COUNT],
    /// Gas left.
    pub gas: i64,
    /// The instance, for reading memory.
    pub instance: Instance,
}

/// Runs a raw program from the given state until it stops.
pub fn invoke(engine: &Engine, program: &RawProgram, state: &RawState) -> Result<RawOutcome, Error> {
    let module = Module::from_raw(engine, program)?;
    let mut instance = Instance::new(&module)?;
    for page in &state.pages {
        instance.map_memory(page.address, page.length, page.writable)?;
    }
    for (address, bytes) in &state.memory {
        instance.write_memory(*address, bytes)?;
    }
    instance.set_regs(state.regs);
    instance.set_gas(state.gas);
    instance.set_next_pc(state.pc);
    let exit = instance.run()?;
    Ok(RawOutcome { exit, pc: instance.pc().unwrap_or(state.pc), regs: instance.regs(), gas: instance.gas(), instance })
}
