//! Symbols for `perf`: the compiled code's basic blocks, named by their guest pc, in
//! `/tmp/perf-PID.map` (the "perf map" of JIT runtimes, which `perf report` reads by itself).
//!
//! Without it every sample in compiled code is an anonymous address; with it `perf report`
//! shows which guest blocks are hot (`pvm:3:0x1a2c` is the block at pc `0x1a2c` of the
//! third module compiled in this process), and `pvm disasm` shows their instructions.
//! wasmtime offers the same (`ProfilingStrategy::PerfMap`).

use crate::gas::starts_gas_block;
use crate::program::DecodedProgram;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Modules compiled with a perf map so far in this process (their symbols' prefix number).
static MODULES: AtomicU32 = AtomicU32::new(0);
/// One writer at a time, so that lines of two modules compiled at once do not interleave.
static FILE_LOCK: Mutex<()> = Mutex::new(());

/// Appends this module's symbols to this process's perf map: the entry trampoline and
/// shared exits before the first block (`pvm:N:prologue`), one line per basic block (gas
/// block, [`starts_gas_block`]: where branches may land) of `decoded` from its native start (its
/// gas charge included) to the next block's, and the out-of-line stubs and jump table after the
/// last (`pvm:N:stubs`). `start` is the code's address; the offsets are from it: each
/// instruction's entry, where the blocks' code ends, and where the code ends.
pub(super) fn append(
    start: u64,
    decoded: &DecodedProgram,
    entry_offsets: &[u32],
    blocks_end: u32,
    code_len: u32,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let module = MODULES.fetch_add(1, Ordering::Relaxed) + 1;
    let instructions = decoded.instructions();
    let mut text = String::new();
    let mut line = |from: u32, to: u32, name: core::fmt::Arguments<'_>| {
        if to > from {
            let _ = writeln!(text, "{:x} {:x} pvm:{module}:{name}", start + u64::from(from), to - from);
        }
    };
    let mut heads = (0..instructions.len()).filter(|&index| starts_gas_block(instructions, index)).peekable();
    line(0, entry_offsets.first().copied().unwrap_or(blocks_end), format_args!("prologue"));
    while let Some(index) = heads.next() {
        let to = heads.peek().map_or(blocks_end, |&next| entry_offsets[next]);
        line(entry_offsets[index], to, format_args!("{:#x}", instructions[index].pc));
    }
    line(blocks_end, code_len, format_args!("stubs"));
    let _guard = FILE_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = format!("/tmp/perf-{}.map", std::process::id());
    std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(text.as_bytes())
}
