//! Timing the phases, and resident memory per live instance.

use crate::manifest::Program;
use crate::vms::{Compiled, Vm};
use std::time::{Duration, Instant};

/// What is timed.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Phase {
    /// Module creation from bytes (validation and compilation) on an engine that has created
    /// the same module before: what a node pays for every module after its first.
    Compile,
    /// Module creation from bytes as the first module of a new engine: what a process pays
    /// once (no buffers or mappings kept from an earlier module).
    CompileFresh,
    /// Creating an instance from a module.
    Instantiate,
    /// One call on a fresh instance.
    Execute,
    /// All three, as a node does for a contract it has not seen before.
    Oneshot,
}

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Phase; 5] =
        [Phase::Execute, Phase::Compile, Phase::CompileFresh, Phase::Instantiate, Phase::Oneshot];

    /// Its name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Compile => "compile",
            Phase::CompileFresh => "compile-fresh",
            Phase::Instantiate => "instantiate",
            Phase::Execute => "execute",
            Phase::Oneshot => "oneshot",
        }
    }
}

/// Timing statistics of one (program, VM, phase) cell.
#[derive(Copy, Clone, Debug)]
pub struct Stats {
    /// Median sample.
    pub median: Duration,
    /// Fastest sample.
    pub min: Duration,
    /// Slowest sample.
    pub max: Duration,
    /// Number of samples.
    pub samples: usize,
}

/// How long to spend on each cell.
#[derive(Copy, Clone, Debug)]
pub struct Budget {
    /// Keep sampling until this much measured time has accumulated...
    pub time: Duration,
    /// ...with at least this many samples...
    pub min_samples: usize,
    /// ...and at most this many.
    pub max_samples: usize,
}

fn collect(budget: Budget, mut sample: impl FnMut() -> Result<Duration, String>) -> Result<Stats, String> {
    let mut samples = Vec::new();
    let mut total = Duration::ZERO;
    let started = Instant::now();
    while samples.len() < budget.min_samples
        || (total < budget.time && samples.len() < budget.max_samples && started.elapsed() < budget.time * 4)
    {
        let duration = sample()?;
        total += duration;
        samples.push(duration);
    }
    samples.sort();
    Ok(Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
        samples: samples.len(),
    })
}

fn check(vm: &dyn Vm, program: &Program, result: u64) -> Result<(), String> {
    if result == program.size.checksum {
        Ok(())
    } else {
        Err(format!(
            "{} on {} returned checksum {result:#x}, expected {:#x}",
            vm.name(),
            program.name,
            program.size.checksum
        ))
    }
}

/// Measures one phase of one program on one VM. Every execution's result is checked against
/// the manifest's checksum; a mismatch is an error, not a number.
pub fn measure(vm: &dyn Vm, program: &Program, phase: Phase, budget: Budget) -> Result<Stats, String> {
    let arg = program.size.arg;
    match phase {
        Phase::Compile => {
            // Untimed: every timed module is then the engine's second or later.
            drop(vm.compile(program)?);
            collect(budget, || {
                let start = Instant::now();
                let compiled = vm.compile(program)?;
                let elapsed = start.elapsed();
                drop(compiled);
                Ok(elapsed)
            })
        }
        Phase::CompileFresh => collect(budget, || {
            // A new engine per sample, created before the clock starts.
            let fresh = match vm.fresh() {
                Some(fresh) => fresh?,
                None => return Err(format!("{} has no fresh-engine measurement", vm.name())),
            };
            let start = Instant::now();
            let compiled = fresh.compile(program)?;
            let elapsed = start.elapsed();
            drop(compiled);
            Ok(elapsed)
        }),
        Phase::Instantiate => {
            let compiled = vm.compile(program)?;
            collect(budget, || {
                let start = Instant::now();
                let instance = compiled.instantiate()?;
                let elapsed = start.elapsed();
                drop(instance);
                Ok(elapsed)
            })
        }
        Phase::Execute => {
            let compiled = vm.compile(program)?;
            let mut first = true;
            collect(budget, || {
                let mut instance = compiled.instantiate()?;
                let start = Instant::now();
                let result = instance.call(arg)?;
                let elapsed = start.elapsed();
                if first || vm.fresh_instances() {
                    check(vm, program, result)?;
                }
                first = false;
                drop(instance);
                Ok(elapsed)
            })
        }
        Phase::Oneshot => collect(budget, || {
            let start = Instant::now();
            let compiled = vm.compile(program)?;
            let mut instance = compiled.instantiate()?;
            let result = instance.call(arg)?;
            let elapsed = start.elapsed();
            check(vm, program, result)?;
            drop(instance);
            drop(compiled);
            Ok(elapsed)
        }),
    }
}

/// Resident memory of this process in bytes (Linux `/proc/self/statm`).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Resident memory added per live instance: `count` instances kept alive at once, before any
/// call (what a node pays to keep instances around), divided by `count`. The first `count`
/// instances are created (and kept alive) before measuring, so instances that a VM hands out
/// from a pool of recycled memory (ours keeps up to 16 warm sandboxes) are not counted as free.
pub fn memory_per_instance(compiled: &dyn Compiled, count: usize) -> Result<Option<u64>, String> {
    let mut live = Vec::with_capacity(2 * count);
    for _ in 0..count {
        live.push(compiled.instantiate()?);
    }
    let Some(before) = resident_bytes() else { return Ok(None) };
    for _ in 0..count {
        live.push(compiled.instantiate()?);
    }
    let after = resident_bytes().unwrap_or(before);
    drop(live);
    Ok(Some(after.saturating_sub(before) / count as u64))
}
