//! Doom as a benchmark program: it needs its five host functions, so it has its own
//! measurement path (`pvm-benches --doom`) over `pvm_tools::doom`, which serves them on our
//! interpreter and JIT and on PolkaVM 0.37's interpreter and recompiler alike.
//!
//! Three figures per VM, from one run: the module's load + compile time on a fresh engine (a
//! process's first module; median of several, each on a new engine), the same on a warm engine
//! (the second and later modules of one engine, what a node pays for every module after its
//! first; median of several), caches off for both, and tics per second over the same scripted
//! tics.

use pvm_tools::doom::{self, keys::KeyEvent, DoomBackend};
use std::sync::Arc;
use std::time::Duration;

/// The VMs, in the column names of the rest of the comparison.
pub const VMS: [(&str, DoomBackend); 4] = [
    ("ours-interp", DoomBackend::Interpreter),
    ("ours-jit", DoomBackend::Compiler),
    ("polkavm-interp", DoomBackend::PolkavmInterpreter),
    ("polkavm-jit", DoomBackend::PolkavmReference),
];

/// One VM's figures.
#[derive(Clone, Debug)]
pub struct DoomRow {
    /// The VM's column name.
    pub vm: &'static str,
    /// Median load + compile time on a fresh engine.
    pub compile: Duration,
    /// Fastest and slowest load + compile time on a fresh engine.
    pub compile_range: (Duration, Duration),
    /// Median load + compile time on an engine that has compiled the blob before.
    pub warm_compile: Duration,
    /// Fastest and slowest of those.
    pub warm_compile_range: (Duration, Duration),
    /// `ext_initialize`.
    pub initialize: Duration,
    /// Tics run.
    pub tics: u32,
    /// Time in `ext_tick` (and key events) for those tics.
    pub tics_time: Duration,
    /// Gas used by initialization and the tics.
    pub gas_used: Option<u64>,
    /// The hash of the last frame, which every VM must agree on.
    pub last_frame_hash: Option<u64>,
}

impl DoomRow {
    /// Tics per second.
    pub fn tics_per_second(&self) -> f64 {
        f64::from(self.tics) / self.tics_time.as_secs_f64().max(1e-9)
    }
}

/// Median, fastest and slowest.
fn summary(mut times: Vec<Duration>) -> (Duration, (Duration, Duration)) {
    times.sort();
    match (times.first(), times.last()) {
        (Some(&first), Some(&last)) => (times[times.len() / 2], (first, last)),
        _ => (Duration::ZERO, (Duration::ZERO, Duration::ZERO)),
    }
}

/// Measures one VM: `compile_samples` loads of `blob` on fresh engines and as many on one warm
/// engine, then a run of `tics` tics.
pub fn measure(
    vm: &'static str,
    backend: DoomBackend,
    blob: &[u8],
    wad: &Arc<[u8]>,
    events: &[KeyEvent],
    tics: u32,
    compile_samples: usize,
) -> Result<DoomRow, String> {
    let samples = compile_samples.max(1);
    let mut fresh = Vec::with_capacity(samples);
    for _ in 0..samples {
        fresh.push(doom::compile_times(backend, blob, doom::DOOM_PAGE_SIZE, 0).map_err(|err| err.to_string())?.first);
    }
    let (compile, compile_range) = summary(fresh);
    let warm = doom::compile_times(backend, blob, doom::DOOM_PAGE_SIZE, samples).map_err(|err| err.to_string())?.warm;
    let (warm_compile, warm_compile_range) = summary(warm);
    let mut loaded = doom::load(backend, blob, doom::DOOM_PAGE_SIZE, wad.clone()).map_err(|err| err.to_string())?;
    let (records, initialize, tics_time) =
        doom::play(loaded.machine.as_mut(), tics, events, |_, _| {}).map_err(|err| err.to_string())?;
    let last = records.last();
    Ok(DoomRow {
        vm,
        compile,
        compile_range,
        warm_compile,
        warm_compile_range,
        initialize,
        tics,
        tics_time,
        gas_used: last.and_then(|record| record.gas_used),
        last_frame_hash: last.and_then(|record| record.frame_hash),
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// The Markdown section for BENCHMARKS.md.
pub fn markdown(rows: &[DoomRow], command: &str, date: &str, machine: &str, blob_len: usize) -> String {
    let mut out = String::new();
    out.push_str("## Doom\n\n");
    out.push_str(&format!("Produced by `{command}` on {date} ({machine}).\n"));
    out.push_str(&format!(
        "PolkaVM's Doom port (`testdata/doom/doom_64.elf.zst`, linked as `pvm link` does by default, an 8 KiB stack, and run with 16 KiB pages as PolkaVM's Doom example does: {blob_len} bytes of blob) playing \
         `testdata/doom/freedoom1.wad.zst` with the scripted input of `testdata/doom/demo.keys`, host functions served by \
         `pvm_tools::doom` on every VM, synchronous gas metering everywhere. *compile* = module creation from the \
         blob, caches off: *fresh* on a new engine of its VM (a process's first compile, with no buffers kept from \
         an earlier one; median of several, each on its own engine), *warm* the second and later modules of the same \
         blob on one engine (what a node pays for every module after its first; median of several); PolkaVM's \
         interpreter compiles lazily, so its figures are near zero and its work shows in its tics; *tics/s* = `ext_tick` calls per second over the same tics (35 tics = one \
         second of game time).\n\n"
    ));
    out.push_str(
        "| VM | compile, fresh (median) | fresh range | compile, warm (median) | warm range | ext_initialize | tics | tics/s | gas used | last frame hash |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} .. {} | {} | {} .. {} | {} | {} | {:.1} | {} | {} |\n",
            row.vm,
            ms(row.compile),
            ms(row.compile_range.0),
            ms(row.compile_range.1),
            ms(row.warm_compile),
            ms(row.warm_compile_range.0),
            ms(row.warm_compile_range.1),
            ms(row.initialize),
            row.tics,
            row.tics_per_second(),
            row.gas_used.map_or("-".to_string(), |gas| gas.to_string()),
            row.last_frame_hash.map_or("-".to_string(), |hash| format!("`{hash:016x}`")),
        ));
    }
    let find = |name: &str| rows.iter().find(|row| row.vm == name);
    if let (Some(ours), Some(peer)) = (find("ours-jit"), find("polkavm-jit")) {
        out.push_str(&format!(
            "\nRatios from this run: our JIT's compile takes {:.2}x PolkaVM's recompiler's on a fresh engine and {:.2}x \
             on a warm one (the goal: at most 1x); our JIT runs {:.2}x PolkaVM's recompiler's tics per second (the \
             goal: at least 1x).\n",
            ours.compile.as_secs_f64() / peer.compile.as_secs_f64().max(1e-12),
            ours.warm_compile.as_secs_f64() / peer.warm_compile.as_secs_f64().max(1e-12),
            ours.tics_per_second() / peer.tics_per_second().max(1e-12),
        ));
    }
    if let (Some(ours), Some(peer)) = (find("ours-interp"), find("polkavm-interp")) {
        out.push_str(&format!(
            "Our interpreter runs {:.2}x PolkaVM's interpreter's tics per second.\n",
            ours.tics_per_second() / peer.tics_per_second().max(1e-12),
        ));
    }
    out
}

/// Markers around the Doom section of BENCHMARKS.md.
pub const BEGIN_MARKER: &str = "<!-- doom:begin (written by `cargo run --release -p pvm-benches -- --doom`) -->";
/// See [`BEGIN_MARKER`].
pub const END_MARKER: &str = "<!-- doom:end -->";

/// Replaces (or appends) the Doom section of `existing`.
pub fn splice(existing: &str, section: &str) -> String {
    let block = format!("{BEGIN_MARKER}\n{section}{END_MARKER}");
    match (existing.find(BEGIN_MARKER), existing.find(END_MARKER)) {
        (Some(begin), Some(end)) if end > begin => {
            format!("{}{block}{}", &existing[..begin], &existing[end + END_MARKER.len()..])
        }
        _ => format!("{}\n\n{block}\n", existing.trim_end()),
    }
}
