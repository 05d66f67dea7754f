//! Running the JAM PVM conformance vectors (the JSON files of `pvm-test-vectors`).
//!
//! Each vector gives a raw program, the initial registers, pc, gas, page map and memory, and
//! the expected status, pc, registers, gas, page-fault address and memory. Memory is compared
//! in full: every accessible byte must equal the expected contents (zero where none is given).

use pvm_executor::program::{InstructionSet, RawProgram, REG_COUNT};
use pvm_executor::{invoke, Engine, Exit, PageMapping, RawState};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One memory chunk of a vector.
#[derive(Deserialize, Clone, Debug)]
pub struct Chunk {
    /// Start address.
    pub address: u32,
    /// Bytes.
    pub contents: Vec<u8>,
}

/// One page range of a vector's initial page map.
#[derive(Deserialize, Clone, Debug)]
pub struct Page {
    /// Start address.
    pub address: u32,
    /// Length in bytes.
    pub length: u32,
    /// Whether the guest may write it.
    #[serde(rename = "is-writable")]
    pub is_writable: bool,
}

/// A conformance vector, as in `schema.asn`.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "kebab-case")]
pub struct Vector {
    /// The test's name.
    pub name: String,
    /// Registers before.
    pub initial_regs: [u64; REG_COUNT],
    /// Where to start.
    pub initial_pc: u32,
    /// Accessible pages.
    pub initial_page_map: Vec<Page>,
    /// Non-zero memory before.
    pub initial_memory: Vec<Chunk>,
    /// Gas before.
    pub initial_gas: i64,
    /// The raw program blob.
    pub program: Vec<u8>,
    /// `panic`, `halt` or `page-fault`.
    pub expected_status: String,
    /// Registers after.
    pub expected_regs: [u64; REG_COUNT],
    /// The pc after.
    pub expected_pc: u32,
    /// Non-zero memory after.
    pub expected_memory: Vec<Chunk>,
    /// Gas after.
    pub expected_gas: i64,
    /// The faulting page, for page faults.
    pub expected_page_fault_address: Option<u32>,
}

/// Reads every `*.json` vector in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Vector)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|err| format!("cannot read {}: {err}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            let vector = serde_json::from_str(&text)
                .map_err(|err| format!("{}: not a conformance vector: {err}", path.display()))?;
            Ok((path, vector))
        })
        .collect()
}

fn status_name(exit: Exit) -> &'static str {
    match exit {
        Exit::Halt => "halt",
        Exit::Panic(_) => "panic",
        Exit::PageFault(_) => "page-fault",
        Exit::OutOfGas => "out-of-gas",
        Exit::HostCall(_) => "host",
    }
}

/// Runs one vector; `Err` lists every difference from the expected outcome.
pub fn run_vector(engine: &Engine, vector: &Vector) -> Result<(), String> {
    let program =
        RawProgram::parse(&vector.program, InstructionSet::ReviveV1).map_err(|err| format!("program: {err}"))?;
    let state = RawState {
        pc: vector.initial_pc,
        regs: vector.initial_regs,
        gas: vector.initial_gas,
        pages: vector
            .initial_page_map
            .iter()
            .map(|page| PageMapping { address: page.address, length: page.length, writable: page.is_writable })
            .collect(),
        memory: vector.initial_memory.iter().map(|chunk| (chunk.address, chunk.contents.clone())).collect(),
    };
    let outcome = invoke(engine, &program, &state).map_err(|err| format!("invocation failed: {err}"))?;

    let mut differences = Vec::new();
    let status = status_name(outcome.exit);
    if status != vector.expected_status {
        differences.push(format!("status {status} ({}), expected {}", outcome.exit, vector.expected_status));
    }
    if let (Exit::PageFault(address), Some(expected)) = (outcome.exit, vector.expected_page_fault_address) {
        if address != expected {
            differences.push(format!("page fault at 0x{address:x}, expected 0x{expected:x}"));
        }
    }
    if outcome.pc != vector.expected_pc {
        differences.push(format!("pc {}, expected {}", outcome.pc, vector.expected_pc));
    }
    if outcome.gas != vector.expected_gas {
        differences.push(format!("gas {}, expected {}", outcome.gas, vector.expected_gas));
    }
    for (index, (actual, expected)) in outcome.regs.iter().zip(&vector.expected_regs).enumerate() {
        if actual != expected {
            differences.push(format!("r{index} = 0x{actual:x}, expected 0x{expected:x}"));
        }
    }
    for (address, length, _) in outcome.instance.memory_regions() {
        let actual =
            outcome.instance.read_memory_vec(address, length).map_err(|err| format!("reading memory back: {err}"))?;
        let mut expected = vec![0u8; length as usize];
        for chunk in &vector.expected_memory {
            for (i, &byte) in chunk.contents.iter().enumerate() {
                let at = u64::from(chunk.address) + i as u64;
                if at >= u64::from(address) && at < u64::from(address) + u64::from(length) {
                    expected[(at - u64::from(address)) as usize] = byte;
                }
            }
        }
        if let Some(offset) = actual.iter().zip(&expected).position(|(a, e)| a != e) {
            differences.push(format!(
                "memory at 0x{:x} is 0x{:02x}, expected 0x{:02x}",
                address + offset as u32,
                actual[offset],
                expected[offset]
            ));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(differences.join("; "))
    }
}

/// The results of a directory run.
pub struct Summary {
    /// Names of passing vectors.
    pub passed: Vec<String>,
    /// `(name, differences)` of failing vectors.
    pub failed: Vec<(String, String)>,
}

/// Runs every vector in `dir`.
pub fn run_dir(engine: &Engine, dir: &Path) -> Result<Summary, String> {
    let mut summary = Summary { passed: Vec::new(), failed: Vec::new() };
    for (path, vector) in load_dir(dir)? {
        let name = path.file_stem().map_or_else(|| vector.name.clone(), |stem| stem.to_string_lossy().into_owned());
        match run_vector(engine, &vector) {
            Ok(()) => summary.passed.push(name),
            Err(differences) => summary.failed.push((name, differences)),
        }
    }
    Ok(summary)
}
