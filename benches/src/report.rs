//! Turning measurements into tables, the BENCHMARKS.md section and JSON records.

use crate::measure::{Phase, Stats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One measured cell, as written to the JSON file.
#[derive(Serialize, Clone, Debug)]
pub struct Record {
    /// Program name.
    pub program: String,
    /// VM configuration.
    pub vm: String,
    /// `compile`, `instantiate`, `execute` or `oneshot`.
    pub phase: String,
    /// The argument the program ran with.
    pub arg: u64,
    /// Median time.
    pub median_ns: u64,
    /// Fastest sample.
    pub min_ns: u64,
    /// Slowest sample.
    pub max_ns: u64,
    /// Number of samples.
    pub samples: usize,
}

/// Everything one run produced.
#[derive(Default, Debug)]
pub struct Results {
    /// VM columns, in order.
    pub vms: Vec<String>,
    /// Program rows, in order.
    pub programs: Vec<String>,
    /// Timings.
    pub cells: BTreeMap<(String, String, Phase), Stats>,
    /// Resident bytes added per live instance.
    pub memory: BTreeMap<(String, String), u64>,
    /// The argument each program ran with.
    pub args: BTreeMap<String, u64>,
    /// Failures (a wrong checksum, a VM error): reported, never turned into numbers.
    pub errors: Vec<String>,
    /// VMs that were not measured, and why.
    pub notes: Vec<String>,
}

/// Facts about the run, printed above the tables.
pub struct RunInfo {
    /// The exact command.
    pub command: String,
    /// The date (UTC).
    pub date: String,
    /// CPU model and core count.
    pub machine: String,
    /// `quick` or `full`.
    pub mode: &'static str,
}

impl Results {
    /// The JSON records.
    pub fn records(&self) -> Vec<Record> {
        self.cells
            .iter()
            .map(|((program, vm, phase), stats)| Record {
                program: program.clone(),
                vm: vm.clone(),
                phase: phase.name().to_string(),
                arg: self.args.get(program).copied().unwrap_or(0),
                median_ns: stats.median.as_nanos() as u64,
                min_ns: stats.min.as_nanos() as u64,
                max_ns: stats.max.as_nanos() as u64,
                samples: stats.samples,
            })
            .collect()
    }

    fn median(&self, program: &str, vm: &str, phase: Phase) -> Option<f64> {
        self.cells.get(&(program.to_string(), vm.to_string(), phase)).map(|stats| stats.median.as_secs_f64())
    }

    fn ratio(&self, program: &str, phase: Phase, numerator: &str, denominator: &str) -> Option<f64> {
        Some(self.median(program, numerator, phase)? / self.median(program, denominator, phase)?)
    }
}

/// Formats a duration compactly.
pub fn format_seconds(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else if seconds >= 1e-6 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{:.0} ns", seconds * 1e9)
    }
}

/// A Markdown table's header: `first` left-aligned, then one right-aligned column per entry.
fn table_header(out: &mut String, first: &str, columns: &[impl std::fmt::Display]) {
    let _ = write!(out, "| {first} |");
    for column in columns {
        let _ = write!(out, " {column} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in columns {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
}

fn phase_table(results: &Results, phase: Phase, out: &mut String) {
    let vms: Vec<&String> = results
        .vms
        .iter()
        .filter(|vm| results.programs.iter().any(|p| results.median(p, vm, phase).is_some()))
        .collect();
    if vms.is_empty() {
        return;
    }
    let what = match phase {
        Phase::Execute => "one call on a fresh instance",
        Phase::Compile => "module creation from bytes on an engine that has created it before",
        Phase::CompileFresh => "module creation from bytes, the first on a new engine",
        Phase::Instantiate => "instance creation from a module",
        Phase::Oneshot => "compile + instantiate + call",
    };
    let _ = writeln!(out, "\n### {} ({what}): median, and ratio to the fastest VM\n", phase.name());
    table_header(out, "program", &vms);
    for program in &results.programs {
        let fastest = vms.iter().filter_map(|vm| results.median(program, vm, phase)).fold(f64::INFINITY, f64::min);
        let _ = write!(out, "| {program} |");
        for vm in &vms {
            match results.median(program, vm, phase) {
                Some(median) => {
                    let _ = write!(out, " {} ({:.2}x) |", format_seconds(median), median / fastest);
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "\nSpread (min–max as a percentage of the median):\n");
    table_header(out, "program", &vms);
    for program in &results.programs {
        let _ = write!(out, "| {program} |");
        for vm in &vms {
            match results.cells.get(&(program.clone(), vm.to_string(), phase)) {
                Some(stats) => {
                    let median = stats.median.as_secs_f64();
                    let low = 100.0 * stats.min.as_secs_f64() / median;
                    let high = 100.0 * stats.max.as_secs_f64() / median;
                    let _ = write!(out, " {low:.0}–{high:.0}% (n={}) |", stats.samples);
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
}

fn ratio_rows(results: &Results, out: &mut String) {
    let rows: [(&str, Phase, &str, &str); 7] = [
        ("interpreter execute vs PolkaVM interpreter", Phase::Execute, "ours-interp", "polkavm-interp"),
        ("JIT execute vs PolkaVM recompiler", Phase::Execute, "ours-jit", "polkavm-jit"),
        ("JIT execute vs wasmtime Cranelift", Phase::Execute, "ours-jit", "wasmtime-cranelift"),
        ("JIT compile (warm engine) vs PolkaVM recompiler", Phase::Compile, "ours-jit", "polkavm-jit"),
        ("JIT compile (fresh engine) vs PolkaVM recompiler", Phase::CompileFresh, "ours-jit", "polkavm-jit"),
        ("JIT compile vs wasmtime Cranelift", Phase::Compile, "ours-jit", "wasmtime-cranelift"),
        ("JIT oneshot vs PolkaVM recompiler", Phase::Oneshot, "ours-jit", "polkavm-jit"),
    ];
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|(_, phase, a, b)| results.programs.iter().any(|p| results.ratio(p, *phase, a, b).is_some()))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Key ratios (ours ÷ peer; below 1.00 means we are faster)\n");
    table_header(out, "ratio", &results.programs);
    for (label, phase, a, b) in rows {
        let _ = write!(out, "| {label} |");
        for program in &results.programs {
            match results.ratio(program, phase, a, b) {
                Some(ratio) => {
                    let _ = write!(out, " {ratio:.2} |");
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
}

/// The markdown report.
pub fn markdown(results: &Results, info: &RunInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## VM comparison ({} sizes)\n", info.mode);
    let _ = writeln!(out, "Produced by `{}` on {} ({}).", info.command, info.date, info.machine);
    let _ = writeln!(
        out,
        "Every VM ran the same C source (PVM blob, wasm32 module, native build); every result was checked \
         against the manifest's checksum. Absolute times on a shared 2-core machine are noisy: read the ratios."
    );
    let _ = writeln!(out, "\nArguments: {}", {
        let args: Vec<String> = results.args.iter().map(|(program, arg)| format!("{program} = {arg}")).collect();
        args.join(", ")
    });
    ratio_rows(results, &mut out);
    for phase in Phase::ALL {
        phase_table(results, phase, &mut out);
    }
    if !results.memory.is_empty() {
        let _ = writeln!(out, "\n### Resident memory added per live instance (before any call)\n\nMeasured over instances 33 to 64 kept alive at once, so that pooled memory a VM recycles does not look free.\n");
        let vms: Vec<&String> = results.vms.iter().filter(|vm| results.memory.keys().any(|(_, v)| v == *vm)).collect();
        table_header(&mut out, "program", &vms);
        for program in &results.programs {
            let _ = write!(out, "| {program} |");
            for vm in &vms {
                match results.memory.get(&(program.clone(), vm.to_string())) {
                    Some(bytes) => {
                        let _ = write!(out, " {:.1} KiB |", *bytes as f64 / 1024.0);
                    }
                    None => {
                        let _ = write!(out, " - |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }
    if !results.notes.is_empty() || !results.errors.is_empty() {
        let _ = writeln!(out, "\n### Not measured\n");
        for line in results.notes.iter().chain(&results.errors) {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// The markers between which the runner owns BENCHMARKS.md; the rest of the file is kept.
pub const BEGIN_MARKER: &str = "<!-- vm-comparison:begin (written by `cargo run --release -p pvm-benches`) -->";
/// See [`BEGIN_MARKER`].
pub const END_MARKER: &str = "<!-- vm-comparison:end -->";

/// Replaces the runner's section of `existing` (or appends it) with `section`.
pub fn splice(existing: &str, section: &str) -> String {
    let block = format!("{BEGIN_MARKER}\n{section}\n{END_MARKER}");
    match (existing.find(BEGIN_MARKER), existing.find(END_MARKER)) {
        (Some(begin), Some(end)) if end > begin => {
            format!("{}{block}{}", &existing[..begin], &existing[end + END_MARKER.len()..])
        }
        _ if existing.trim().is_empty() => format!("# Benchmarks\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", existing.trim_end()),
    }
}
