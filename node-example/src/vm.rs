//! The one module that touches the PVM executor.
//!
//! Everything else in the node sees only [`VmEngine`], [`CompiledModule`] and [`execute`].
//! Validation at upload parses the blob with the executor's program loader, resolves every
//! import against the host API and requires the `call` and `deploy` exports. Running a
//! contract creates an executor `Instance`, prepares the export and drives it with
//! [`drive`], which services each `ecalli` with [`host::dispatch`] and resumes.
//!
//! With the `polkavm-reference` feature, a chain spec may also choose the backend
//! `polkavm-reference`: the `polkavm` crate's interpreter, kept to compare our executor
//! with on the same contracts. It is never the default.

use crate::chain_spec::Backend;
use crate::host::{self, GuestAccess, HostEnv, HostFlow, HostFunction, MemoryAccessError};
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
    /// The chain spec's backend cannot run here.
    #[error("executor backend `{backend}` is not available: {message}")]
    BackendUnavailable {
        /// The chain spec's backend.
        backend: &'static str,
        /// Why.
        message: String,
    },
    /// The executor could not set up or run an instance.
    #[error("executor error: {0}")]
    Executor(String),
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
pub struct CompiledModule {
    /// What validation found.
    pub info: CodeInfo,
    code: ModuleCode,
}

enum ModuleCode {
    Executor(pvm_executor::Module),
    #[cfg(feature = "polkavm-reference")]
    Reference(reference::Module),
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("CompiledModule").field("info", &self.info).finish_non_exhaustive()
    }
}

impl CompiledModule {
    /// Bytes the module occupies in the module cache.
    pub fn size_bytes(&self) -> usize {
        match &self.code {
            ModuleCode::Executor(module) => module.memory_usage(),
            #[cfg(feature = "polkavm-reference")]
            ModuleCode::Reference(_) => self.info.blob_len,
        }
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
    kind: EngineKind,
}

enum EngineKind {
    Executor(pvm_executor::Engine),
    #[cfg(feature = "polkavm-reference")]
    Reference(reference::Engine),
}

impl VmEngine {
    /// An engine for `backend`; an error if that backend cannot run here.
    pub fn new(backend: Backend) -> Result<VmEngine, VmError> {
        use pvm_executor::{BackendKind, Config, GasMetering};
        let unavailable = |message: String| VmError::BackendUnavailable { backend: backend.name(), message };
        let executor_backend = match backend {
            Backend::Interpreter => BackendKind::Interpreter,
            Backend::Jit => BackendKind::Compiler,
            #[cfg(feature = "polkavm-reference")]
            Backend::PolkavmReference => {
                let engine = reference::Engine::new().map_err(unavailable)?;
                return Ok(VmEngine { backend, kind: EngineKind::Reference(engine) });
            }
        };
        let mut config = Config::new();
        // The chain spec decides the backend, not the environment; the node's module cache
        // is the only cache, so the engine keeps none of its own.
        config
            .backend(executor_backend)
            .gas_metering(Some(GasMetering::Sync))
            .allow_env_override(false)
            .cache_modules(false);
        let engine = pvm_executor::Engine::new(&config).map_err(|error| unavailable(error.to_string()))?;
        Ok(VmEngine { backend, kind: EngineKind::Executor(engine) })
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
        let info = self.validate(blob)?;
        let code = match &self.kind {
            EngineKind::Executor(engine) => ModuleCode::Executor(
                pvm_executor::Module::from_blob(engine, blob)
                    .map_err(|error| VmError::InvalidBlob(error.to_string()))?,
            ),
            #[cfg(feature = "polkavm-reference")]
            EngineKind::Reference(engine) => ModuleCode::Reference(engine.compile(blob)?),
        };
        Ok(CompiledModule { info, code })
    }
}

/// A suspended guest as the run loop needs it: [`GuestAccess`] plus resuming.
pub trait GuestVm: GuestAccess {
    /// Runs until the guest stops.
    fn run(&mut self) -> VmStop;
}

/// Why the guest stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmStop {
    /// The export returned.
    Halt,
    /// Trap, invalid instruction or jump; the text says which.
    Panic(String),
    /// Gas exhausted.
    OutOfGas,
    /// Access to an unmapped page.
    PageFault(u32),
    /// `ecalli` with this import index; resumable.
    HostCall(u32),
}

/// Drives a guest to completion, servicing host calls with [`host::dispatch`].
pub fn drive<G: GuestVm>(guest: &mut G, imports: &[HostFunction], gas_limit: u64, env: &mut dyn HostEnv) -> RunResult {
    let gas_limit_signed = i64::try_from(gas_limit).unwrap_or(i64::MAX);
    let exit = loop {
        match guest.run() {
            VmStop::Halt => break Exit::Returned { revert: false, data: Vec::new() },
            VmStop::Panic(reason) => break Exit::Trapped(format!("contract panicked: {reason}")),
            VmStop::OutOfGas => break Exit::OutOfGas,
            VmStop::PageFault(address) => break Exit::Trapped(format!("page fault at {address:#x}")),
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
    let gas = i64::try_from(gas_limit).unwrap_or(i64::MAX);
    match &module.code {
        ModuleCode::Executor(code) => {
            let mut instance =
                pvm_executor::Instance::new(code).map_err(|error| VmError::Executor(error.to_string()))?;
            instance.prepare_call(entry.export_name(), &[]).map_err(|error| VmError::Executor(error.to_string()))?;
            instance.set_gas(gas);
            Ok(drive(&mut ExecutorGuest(instance), &module.info.imports, gas_limit, env))
        }
        #[cfg(feature = "polkavm-reference")]
        ModuleCode::Reference(code) => {
            let mut guest = code.instantiate(entry, gas)?;
            Ok(drive(&mut guest, &module.info.imports, gas_limit, env))
        }
    }
}

/// An executor instance as the host API sees it.
struct ExecutorGuest(pvm_executor::Instance);

fn executor_reg(index: usize) -> pvm_executor::program::Reg {
    // Host functions only name r0..r12; anything else reads as A0 rather than panicking.
    pvm_executor::program::Reg::from_index(index).unwrap_or(pvm_executor::program::Reg::A0)
}

impl GuestAccess for ExecutorGuest {
    fn reg(&self, index: usize) -> u64 {
        self.0.reg(executor_reg(index))
    }
    fn set_reg(&mut self, index: usize, value: u64) {
        self.0.set_reg(executor_reg(index), value);
    }
    fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        let length = out.len() as u32;
        self.0.read_memory(address, out).map_err(|_| MemoryAccessError { address, length })
    }
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.0.write_memory(address, data).map_err(|_| MemoryAccessError { address, length: data.len() as u32 })
    }
    fn gas_left(&self) -> i64 {
        self.0.gas()
    }
    fn set_gas_left(&mut self, gas: i64) {
        self.0.set_gas(gas);
    }
}

impl GuestVm for ExecutorGuest {
    fn run(&mut self) -> VmStop {
        use pvm_executor::Exit as E;
        match self.0.run() {
            Ok(E::Halt) => VmStop::Halt,
            Ok(E::Panic(reason)) => VmStop::Panic(reason.to_string()),
            Ok(E::OutOfGas) => VmStop::OutOfGas,
            Ok(E::PageFault(address)) => VmStop::PageFault(address),
            Ok(E::HostCall(index)) => VmStop::HostCall(index),
            Err(error) => VmStop::Panic(error.to_string()),
        }
    }
}

#[cfg(feature = "polkavm-reference")]
mod reference {
    //! The `polkavm` crate's interpreter as a reference backend.

    use super::{EntryPoint, GuestVm, VmError, VmStop};
    use crate::host::{GuestAccess, MemoryAccessError};
    use polkavm::{BackendKind, Config, GasMeteringKind, InterruptKind, ModuleConfig, RawInstance, Reg};

    pub struct Engine(polkavm::Engine);

    impl Engine {
        pub fn new() -> Result<Engine, String> {
            let mut config = Config::new();
            config.set_backend(Some(BackendKind::Interpreter));
            polkavm::Engine::new(&config).map(Engine).map_err(|error| error.to_string())
        }

        pub fn compile(&self, blob: &[u8]) -> Result<Module, VmError> {
            let engine = &self.0;
            let mut config = ModuleConfig::new();
            config.set_gas_metering(Some(GasMeteringKind::Sync));
            let module = polkavm::Module::new(engine, &config, blob.to_vec().into())
                .map_err(|error| VmError::InvalidBlob(error.to_string()))?;
            let export = |name: &str| {
                module
                    .exports()
                    .find(|export| export.symbol().as_bytes() == name.as_bytes())
                    .map(|export| export.program_counter())
            };
            let call = export("call").ok_or(VmError::MissingExport("call"))?;
            let deploy = export("deploy").ok_or(VmError::MissingExport("deploy"))?;
            Ok(Module { module, call, deploy })
        }
    }

    pub struct Module {
        module: polkavm::Module,
        call: polkavm::ProgramCounter,
        deploy: polkavm::ProgramCounter,
    }

    impl Module {
        pub fn instantiate(&self, entry: EntryPoint, gas: i64) -> Result<Guest, VmError> {
            let mut instance = self.module.instantiate().map_err(|error| VmError::Executor(error.to_string()))?;
            let pc = match entry {
                EntryPoint::Call => self.call,
                EntryPoint::Deploy => self.deploy,
            };
            instance.set_gas(gas);
            instance.prepare_call_untyped(pc, &[]);
            Ok(Guest(instance))
        }
    }

    pub struct Guest(RawInstance);

    fn reg(index: usize) -> Reg {
        Reg::ALL[index]
    }

    impl GuestAccess for Guest {
        fn reg(&self, index: usize) -> u64 {
            self.0.reg(reg(index))
        }
        fn set_reg(&mut self, index: usize, value: u64) {
            self.0.set_reg(reg(index), value);
        }
        fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
            let length = out.len() as u32;
            self.0.read_memory_into(address, out).map(|_| ()).map_err(|_| MemoryAccessError { address, length })
        }
        fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
            self.0.write_memory(address, data).map_err(|_| MemoryAccessError { address, length: data.len() as u32 })
        }
        fn gas_left(&self) -> i64 {
            self.0.gas()
        }
        fn set_gas_left(&mut self, gas: i64) {
            self.0.set_gas(gas);
        }
    }

    impl GuestVm for Guest {
        fn run(&mut self) -> VmStop {
            loop {
                return match self.0.run() {
                    Ok(InterruptKind::Finished) => VmStop::Halt,
                    Ok(InterruptKind::Trap) => VmStop::Panic("trap".to_string()),
                    Err(error) => VmStop::Panic(error.to_string()),
                    Ok(InterruptKind::Ecalli(index)) => VmStop::HostCall(index),
                    Ok(InterruptKind::Segfault(fault)) => VmStop::PageFault(fault.page_address),
                    Ok(InterruptKind::NotEnoughGas) => VmStop::OutOfGas,
                    // Step tracing is off; a step interrupt only asks to resume.
                    Ok(InterruptKind::Step) => continue,
                };
            }
        }
    }
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
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
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
        // The contracts built for the node's tests use call, instantiate, code_size, the
        // block context, immutables and return data: all provided.
        for name in ["Factory.polkavm", "Nft.polkavm", "Owned.polkavm", "Probe.polkavm"] {
            engine.validate(&contract(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[test]
    fn unknown_import_is_named() {
        // Rename one import of a real contract to a function the node does not provide,
        // keeping the length so the blob stays well formed.
        let mut blob = contract("Flipper.polkavm");
        let at = blob.windows(11).position(|window| window == b"get_storage").unwrap();
        blob[at..at + 11].copy_from_slice(b"get_storag3");
        let error = VmEngine::new(Backend::Interpreter).unwrap().validate(&blob).unwrap_err();
        assert_eq!(error, VmError::UnknownImport("get_storag3".to_string()));
        assert!(error.to_string().contains("get_storag3"));
    }

    #[test]
    fn garbage_is_refused() {
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
        assert!(matches!(engine.validate(b"not a program"), Err(VmError::InvalidBlob(_))));
        assert!(matches!(engine.validate(&vec![0; MAX_CODE_BYTES + 1]), Err(VmError::TooLarge(_))));
    }
}
