//! The benchmark suite: the same programs on our executor, wasmtime, PolkaVM and natively.
//!
//! * [`manifest`]: the programs (`testdata/bench-programs/programs.json`) and their expected checksums;
//! * [`vms`]: one adapter per VM configuration behind the [`vms::Vm`] trait;
//! * [`measure`]: timing of the compile / instantiate / execute / oneshot phases and memory;
//! * [`report`]: tables, the BENCHMARKS.md section and the JSON records;
//! * [`doom`]: Doom (it needs host functions): compile time and tics per second (`--doom`).
//!
//! The runner (`cargo run --release -p pvm-benches -- [--quick] [--filter NAME] [--json PATH]`)
//! and the criterion benches (`cargo bench -p pvm-benches`) share all of it.

pub mod doom;
pub mod manifest;
pub mod measure;
pub mod report;
pub mod vms;
