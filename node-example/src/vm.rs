//! The one module that touches the PVM executor.
//!
//! Everything else in the node sees only [`VmEngine`], [`CompiledModule`] and [`execute`].
//! Code validation (parsing the blob, resolving imports against the host API, finding the
//! `call` and `deploy` exports) uses the executor's program loader and works today.
//! Compiling and running need the executor's engine API (`Engine`, `Module`, `Instance`),
//! which is not published yet: [`VmEngine::compile`] and [`execute`] say so with
//! [`VmError::ExecutorUnavailable`] instead of pretending to run anything.

use crate::chain_spec::Backend;
use crate::host::{self, GuestAccess, HostEnv, HostFlow, HostFunction};
use pvm_executor::program::ProgramBlob;

/// Largest code blob accepted (pallet-revive's limit).
pub const MAX_CODE_BYTES: usize = 1024 * 1024;

/// Why code was refused or could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    /// Larger than [`MAX_CODE_BYTES`].
    #[error("code blob of {0} bytes is larger than the limit of {MAX_CODE_BYTES}")]
    TooLarge(usize),
    /// Not a valid program blob.
    #[error("invalid program blob: {0}")]
    InvalidBlob(String),
    /// Not the instruction set pallet-revive contracts use.
    #[error("program uses instruction set {0}, contracts must use revive_v1")]
    WrongInstructionSet(String),
    /// The program imports a function the node does not provide.
    #[error("program imports `{0}`, which this node does not provide")]
    UnknownImport(String),
    /// The program lacks a required export.
    #[error("program does not export `{0}`")]
    MissingExport(&'static str),
    /// The executor's engine API is not wired into the node yet.
    #[error("the PVM executor engine is not wired into pvm-node yet ({0})")]
    ExecutorUnavailable(&'static str),
}

/// Which export to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryPoint {
    /// The constructor.
    Deploy,
    /// A call.
    Call,
}

impl EntryPoint {
    /// Export name.
    pub fn export_name(self) -> &'static str {
        match self {
            EntryPoint::Deploy => "deploy",
            EntryPoint::Call => "call",
        }
    }
}

/// What validation learned about a code blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// Host function behind each import index (`ecalli n` calls `imports[n]`).
    pub imports: Vec<HostFunction>,
    /// Size of the blob.
    pub blob_len: usize,
}

/// A contract module ready to run.
#[derive(Debug)]
pub struct CompiledModule {
    /// What validation found.
    pub info: CodeInfo,
}

impl CompiledModule {
    /// Bytes the module occupies in the module cache.
    pub fn size_bytes(&self) -> usize {
        self.info.blob_len
    }
}

/// How a contract run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `seal_return`, or the export returned (empty output).
    Returned {
        /// Revert flag.
        revert: bool,
        /// Output.
        data: Vec<u8>,
    },
    /// Trap: a guest panic, a page fault, or a host function error.
    Trapped(String),
    /// Ran out of gas.
    OutOfGas,
}

/// A finished run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// How it ended.
    pub exit: Exit,
    /// Gas consumed (at most the limit).
    pub gas_used: u64,
}

/// The executor engine for one backend.
pub struct VmEngine {
    backend: Backend,
}

impl VmEngine {
    /// An engine for `backend`.
    pub fn new(backend: Backend) -> VmEngine {
        VmEngine { backend }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks a code blob the way pallet-revive does at upload: a revive_v1 program blob
    /// whose instructions decode, whose imports are all host functions this node provides,
    /// and which exports `call` and `deploy`.
    pub fn validate(&self, blob: &[u8]) -> Result<CodeInfo, VmError> {
        if blob.len() > MAX_CODE_BYTES {
            return Err(VmError::TooLarge(blob.len()));
        }
        let (program, _decoded) =
            ProgramBlob::parse_and_decode(blob).map_err(|error| VmError::InvalidBlob(error.to_string()))?;
        let isa = program.isa();
        if isa.name() != "revive_v1" {
            return Err(VmError::WrongInstructionSet(isa.name().to_string()));
        }
        let imports = program
            .imports()
            .iter()
            .map(|name| HostFunction::from_name(name).ok_or_else(|| VmError::UnknownImport(name.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        for export in [EntryPoint::Call, EntryPoint::Deploy] {
            if program.export(export.export_name()).is_none() {
                return Err(VmError::MissingExport(export.export_name()));
            }
        }
        Ok(CodeInfo { imports, blob_len: blob.len() })
    }

    /// Validates and compiles a code blob for this engine's backend.
    pub fn compile(&self, blob: &[u8]) -> Result<CompiledModule, VmError> {
        let _info = self.validate(blob)?;
        // Wiring point: `pvm_executor::Module::from_blob(&engine, blob)` goes here, keeping
        // `info` next to the module so that host calls resolve by import index.
        Err(VmError::ExecutorUnavailable("Module::from_blob"))
    }
}

/// A suspended guest as the run loop needs it: [`GuestAccess`] plus resuming.
pub trait GuestVm: GuestAccess {
    /// Runs until the guest stops.
    fn run(&mut self) -> VmStop;
}

/// Why the guest stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmStop {
    /// The export returned.
    Halt,
    /// Trap or invalid instruction.
    Panic,
    /// Gas exhausted.
    OutOfGas,
    /// Access to an unmapped page.
    PageFault(u32),
    /// `ecalli` with this import index; resumable.
    HostCall(u32),
}

/// Drives a guest to completion, servicing host calls with [`host::dispatch`].
pub fn drive<G: GuestVm>(
    guest: &mut G,
    imports: &[HostFunction],
    gas_limit: u64,
    env: &mut dyn HostEnv,
) -> RunResult {
    let gas_limit_signed = i64::try_from(gas_limit).unwrap_or(i64::MAX);
    let exit = loop {
        match guest.run() {
            VmStop::Halt => break Exit::Returned { revert: false, data: Vec::new() },
            VmStop::Panic => break Exit::Trapped("contract trapped".to_string()),
            VmStop::OutOfGas => break Exit::OutOfGas,
            VmStop::PageFault(address) => {
                break Exit::Trapped(format!("page fault at {address:#x}"))
            }
            VmStop::HostCall(index) => {
                let Some(function) = imports.get(index as usize) else {
                    break Exit::Trapped(format!("host call to import {index}, which does not exist"));
                };
                match host::dispatch(*function, guest, env) {
                    Ok(HostFlow::Continue) => continue,
                    Ok(HostFlow::Return { revert, data }) => break Exit::Returned { revert, data },
                    Err(host::HostError::OutOfGas) => break Exit::OutOfGas,
                    Err(error) => break Exit::Trapped(format!("{}: {error}", function.name())),
                }
            }
        }
    };
    let left = guest.gas_left().clamp(0, gas_limit_signed);
    let gas_used = match exit {
        Exit::OutOfGas => gas_limit,
        _ => (gas_limit_signed - left) as u64,
    };
    RunResult { exit, gas_used }
}

/// Runs `entry` of `module` with `input` available to the contract through `env`.
pub fn execute(
    module: &CompiledModule,
    entry: EntryPoint,
    gas_limit: u64,
    env: &mut dyn HostEnv,
) -> Result<RunResult, VmError> {
    let _ = (&module.info.imports, entry, gas_limit, env);
    // Wiring point: `Instance::new(&module)`, `prepare_call(entry.export_name(), &[])`,
    // `set_gas(gas_limit)`, then `drive(&mut instance_adapter, &module.info.imports, ..)`
    // where the adapter implements `GuestVm` over the instance.
    Err(VmError::ExecutorUnavailable("Instance::new / Instance::run"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts").join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    #[test]
    fn shared_contracts_validate() {
        let engine = VmEngine::new(Backend::Interpreter);
        let token = engine.validate(&contract("Token.polkavm")).unwrap();
        let names: Vec<&str> = token.imports.iter().map(|function| function.name()).collect();
        assert_eq!(
            names,
            [
                "call_data_copy",
                "call_data_load",
                "call_data_size",
                "caller",
                "deposit_event",
                "get_storage",
                "hash_keccak_256",
                "seal_return",
                "set_immutable_data",
                "set_storage",
                "value_transferred"
            ]
        );
        let flipper = engine.validate(&contract("Flipper.polkavm")).unwrap();
        assert_eq!(flipper.imports.len(), 8);
    }

    #[test]
    fn unknown_import_is_named() {
        // Rename one import of a real contract to a function the node does not provide,
        // keeping the length so the blob stays well formed.
        let mut blob = contract("Flipper.polkavm");
        let at = blob.windows(11).position(|window| window == b"get_storage").unwrap();
        blob[at..at + 11].copy_from_slice(b"get_storag3");
        let error = VmEngine::new(Backend::Interpreter).validate(&blob).unwrap_err();
        assert_eq!(error, VmError::UnknownImport("get_storag3".to_string()));
        assert!(error.to_string().contains("get_storag3"));
    }

    #[test]
    fn garbage_is_refused() {
        let engine = VmEngine::new(Backend::Interpreter);
        assert!(matches!(engine.validate(b"not a program"), Err(VmError::InvalidBlob(_))));
        assert!(matches!(engine.validate(&vec![0; MAX_CODE_BYTES + 1]), Err(VmError::TooLarge(_))));
    }
}
