//! The one module that touches the PVM executor and the host-function registry.
//!
//! Everything else in the node sees only [`VmEngine`], [`CompiledModule`] and [`execute`].
//! [`VmEngine::new`] takes the host API as a `pvm_host_functions::Linker` ([`host::linker`]).
//! Validation at upload loads the blob as an executor `Module`, requires the revive_v1
//! instruction set, resolves its imports with the linker (an import the node does not provide
//! is refused by name) and requires the `call` and `deploy` exports. Compiling keeps the
//! resolved module (`InstancePre`) with its `call` and `deploy` exports resolved once
//! (`ExportIndex`), so the module cache holds everything a warm call needs;
//! running a contract instantiates it and calls the export through the linker, which services
//! the host calls.
//!
//! The per-call environment ([`HostEnv`]: the running frame, the state overlay, the call
//! stack) borrows from the caller and outlives no call, so it is not the instances' user data
//! (which must be `'static`): each call lends it to the host functions as the linker's
//! per-call context, and a nested contract call simply lends it again, reborrowed. The user
//! data is what `seal_return` (or a tail call) kept as the contract's output
//! ([`Returned`]). How the run ended becomes one [`CallOutcome`].
//!
//! With the `polkavm-reference` feature, a chain spec may also choose the backend
//! `polkavm-reference`: the `polkavm` crate's interpreter, kept to compare our executor with
//! on the same contracts. It is never the default. The linker cannot run a `polkavm`
//! instance, so that backend keeps a small host-call loop that calls the linker's own host
//! functions on the `polkavm` instance (through the registry's `Guest` trait; see the
//! `reference` module).

use crate::chain::chain_spec::Backend;
use crate::runtime::host::{self, HostEnv, Returned, Trap};
use crate::runtime::outcome::{CallOutcome, Failure, Status};
use pvm_executor::program::InstructionSet;
use pvm_executor::ExportIndex;
use pvm_host_functions::{CallError, InstancePre, LinkError};

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
    InvalidBlob(pvm_executor::Error),
    /// The program's memory (data and stack) is larger than a contract instance may have
    /// ([`host::limits::INSTANCE_MEMORY_BYTES`]; pallet-revive's `StaticMemoryTooLarge`).
    #[error("program needs {needed} bytes of memory, more than the limit of {limit} per contract")]
    MemoryTooLarge {
        /// Its data and stack, in whole pages.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// Not the instruction set pallet-revive contracts use.
    #[error("program uses instruction set {}, contracts must use revive_v1", .0.name())]
    WrongInstructionSet(InstructionSet),
    /// The program imports functions the node does not provide (all of them, in import order).
    #[error(
        "program imports {}, which this node does not provide",
        .0.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    )]
    UnknownImports(Vec<String>),
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
    /// The host API could not be registered, or a module not instantiated.
    #[error("executor error: {0}")]
    Link(LinkError),
    /// The executor could not set up a call.
    #[error("executor error: {0}")]
    Executor(pvm_executor::Error),
    /// The reference backend (the `polkavm` crate) refused the code or an instance.
    #[cfg(feature = "polkavm-reference")]
    #[error("polkavm: {0}")]
    Reference(String),
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
    /// The imported host functions, by import index (`ecalli n` calls `imports[n]`).
    pub imports: Vec<String>,
    /// Size of the blob.
    pub blob_len: usize,
}

/// A contract module with its imports resolved.
type LinkedModule = InstancePre<Option<Returned>, host::HostContext, Trap>;

/// A contract module for the executor: imports resolved, and its two entry points resolved
/// once (no export lookup by name on a call).
struct ExecutorModule {
    linked: LinkedModule,
    call: ExportIndex,
    deploy: ExportIndex,
}

impl ExecutorModule {
    fn export(&self, entry: EntryPoint) -> ExportIndex {
        match entry {
            EntryPoint::Call => self.call,
            EntryPoint::Deploy => self.deploy,
        }
    }
}

/// A contract module ready to run.
pub struct CompiledModule {
    /// What validation found.
    pub info: CodeInfo,
    code: ModuleCode,
}

enum ModuleCode {
    Executor(ExecutorModule),
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
            ModuleCode::Executor(module) => module.linked.module().memory_usage(),
            #[cfg(feature = "polkavm-reference")]
            ModuleCode::Reference(_) => self.info.blob_len,
        }
    }
}

fn gas_as_i64(gas: u64) -> i64 {
    i64::try_from(gas).unwrap_or(i64::MAX)
}

/// The outcome of a run that started with `gas_limit` and ended with `gas_left`; running out
/// of gas uses it all.
fn finished(status: Status, output: Vec<u8>, gas_limit: u64, gas_left: i64) -> CallOutcome {
    let gas_limit_signed = gas_as_i64(gas_limit);
    let gas_used = match status {
        Status::Failed(Failure::OutOfGas) => gas_limit,
        _ => (gas_limit_signed - gas_left.clamp(0, gas_limit_signed)) as u64,
    };
    CallOutcome { status, output, gas_used, address: None }
}

/// How a run that ended with `result` (the registry's) and `returned` (the output a host
/// function kept) went.
fn run_status(result: Result<u64, CallError<Trap>>, returned: Option<Returned>) -> (Status, Vec<u8>) {
    use pvm_executor::CallError as Stop;
    let failure = match result {
        Ok(_) => {
            return match returned {
                Some(Returned { revert: false, data }) => (Status::Success, data),
                Some(Returned { revert: true, data }) => (Status::Reverted, data),
                // The export returned without `seal_return`: an empty success.
                None => (Status::Success, Vec::new()),
            };
        }
        Err(CallError::Guest(Stop::Panic { reason, .. }) | CallError::Abort { reason, .. }) => Failure::Panic(reason),
        Err(CallError::Guest(Stop::PageFault { address, .. })) => Failure::PageFault(address),
        Err(CallError::Guest(Stop::OutOfGas { .. }) | CallError::Host { error: Trap::OutOfGas, .. }) => {
            Failure::OutOfGas
        }
        Err(CallError::Guest(Stop::Setup(error))) => Failure::Vm(VmError::Executor(error)),
        Err(CallError::Guest(Stop::UnhandledHostCall { index, .. }) | CallError::MissingImport { index, .. }) => {
            Failure::MissingImport(index)
        }
        Err(CallError::Host { function, error }) => Failure::Host { function, trap: error },
        Err(CallError::HostPanic { function, message }) => Failure::HostPanic { function, message },
    };
    (Status::Failed(failure), Vec::new())
}

/// The executor engine for one backend, with the host API registered.
pub struct VmEngine {
    backend: Backend,
    /// Loads modules: those that run, and (for the reference backend) those that are validated.
    engine: pvm_executor::Engine,
    linker: host::ContractLinker,
    #[cfg(feature = "polkavm-reference")]
    reference: Option<reference::Engine>,
}

impl VmEngine {
    /// An engine for `backend` (compiled code in-process); an error if that backend cannot
    /// run here.
    pub fn new(backend: Backend) -> Result<VmEngine, VmError> {
        VmEngine::with_sandbox(backend, pvm_executor::SandboxKind::InProcess)
    }

    /// An engine for `backend` whose compiled code runs in `sandbox` (the interpreter ignores
    /// it); an error if that backend or sandbox cannot run here.
    pub fn with_sandbox(backend: Backend, sandbox: pvm_executor::SandboxKind) -> Result<VmEngine, VmError> {
        use pvm_executor::{BackendKind, Config, GasMetering};
        let unavailable = |message: String| VmError::BackendUnavailable { backend: backend.name(), message };
        let executor_backend = match backend {
            Backend::Interpreter => BackendKind::Interpreter,
            Backend::Jit => BackendKind::Compiler,
            Backend::Auto => BackendKind::Auto,
            // Contracts run on polkavm; the executor's interpreter loads them for validation.
            #[cfg(feature = "polkavm-reference")]
            Backend::PolkavmReference => BackendKind::Interpreter,
        };
        let mut config = Config::new();
        // The chain spec decides the backend, not the environment; the node's module cache
        // is the only cache, so the engine keeps none of its own.
        config
            .backend(executor_backend)
            .gas_metering(Some(GasMetering::Sync))
            .cache_modules(false)
            .sandbox(sandbox)
            .memory_limit(Some(host::limits::INSTANCE_MEMORY_BYTES));
        let engine = pvm_executor::Engine::new(&config).map_err(|error| unavailable(error.to_string()))?;
        tracing::info!(
            "contracts run on the executor's {} backend ({} sandbox)",
            engine.backend().name(),
            engine.sandbox().name()
        );
        #[cfg(feature = "polkavm-reference")]
        let reference = match backend {
            Backend::PolkavmReference => Some(reference::Engine::new().map_err(unavailable)?),
            _ => None,
        };
        let linker = host::linker().map_err(VmError::Link)?;
        Ok(VmEngine {
            backend,
            engine,
            linker,
            #[cfg(feature = "polkavm-reference")]
            reference,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks a code blob the way pallet-revive does at upload: a revive_v1 program blob
    /// whose instructions decode, whose imports are all host functions this node provides,
    /// and which exports `call` and `deploy`.
    pub fn validate(&self, blob: &[u8]) -> Result<CodeInfo, VmError> {
        self.link(blob).map(|module| code_info(&module.linked, blob))
    }

    /// Validates and compiles a code blob for this engine's backend.
    pub fn compile(&self, blob: &[u8]) -> Result<CompiledModule, VmError> {
        let module = self.link(blob)?;
        let info = code_info(&module.linked, blob);
        #[cfg(feature = "polkavm-reference")]
        if let Some(engine) = &self.reference {
            return Ok(CompiledModule { code: ModuleCode::Reference(engine.compile(blob, module.linked)?), info });
        }
        Ok(CompiledModule { info, code: ModuleCode::Executor(module) })
    }

    /// Loads `blob`, resolves its imports with the linker and its entry points.
    fn link(&self, blob: &[u8]) -> Result<ExecutorModule, VmError> {
        if blob.len() > MAX_CODE_BYTES {
            return Err(VmError::TooLarge(blob.len()));
        }
        let module = pvm_executor::Module::from_blob(&self.engine, blob).map_err(|error| match error {
            pvm_executor::Error::MemoryLimit { needed, limit } => VmError::MemoryTooLarge { needed, limit },
            other => VmError::InvalidBlob(other),
        })?;
        if module.isa() != InstructionSet::ReviveV1 {
            return Err(VmError::WrongInstructionSet(module.isa()));
        }
        let linked = self.linker.instantiate_pre(&module).map_err(|error| match error {
            LinkError::MissingImports(names) => VmError::UnknownImports(names),
            other => VmError::Link(other),
        })?;
        let export = |entry: EntryPoint| {
            module.export_index(entry.export_name()).ok_or(VmError::MissingExport(entry.export_name()))
        };
        Ok(ExecutorModule { call: export(EntryPoint::Call)?, deploy: export(EntryPoint::Deploy)?, linked })
    }
}

fn code_info(module: &LinkedModule, blob: &[u8]) -> CodeInfo {
    CodeInfo { imports: module.module().imports().to_vec(), blob_len: blob.len() }
}

/// Runs `entry` of `module` with `gas_limit`, the host functions working on `env`.
pub fn execute(module: &CompiledModule, entry: EntryPoint, gas_limit: u64, env: &mut dyn HostEnv) -> CallOutcome {
    match &module.code {
        ModuleCode::Executor(module) => run_linked(module, entry, gas_limit, env),
        #[cfg(feature = "polkavm-reference")]
        ModuleCode::Reference(module) => module.run(entry, gas_limit, env),
    }
}

fn run_linked(module: &ExecutorModule, entry: EntryPoint, gas_limit: u64, env: &mut dyn HostEnv) -> CallOutcome {
    let mut instance = match module.linked.instantiate(None) {
        Ok(instance) => instance,
        Err(error) => return CallOutcome::failed(Failure::Vm(VmError::Link(error)), 0),
    };
    instance.set_gas(gas_as_i64(gas_limit));
    let result = instance.call_in(env, module.export(entry), &[]);
    if let Err(CallError::Guest(pvm_executor::CallError::Setup(error))) = result {
        // Nothing ran.
        return CallOutcome::failed(Failure::Vm(VmError::Executor(error)), 0);
    }
    let (status, output) = run_status(result, instance.data_mut().take());
    finished(status, output, gas_limit, instance.gas())
}

#[cfg(feature = "polkavm-reference")]
mod reference {
    //! The `polkavm` crate's interpreter as a reference backend.
    //!
    //! The linker runs only executor instances, so this backend has its own host-call loop.
    //! It calls the linker's host functions (resolved at compile time, in the module's
    //! `InstancePre`) on the `polkavm` instance through the registry's `Guest` trait, and maps
    //! the run's end to the same [`CallOutcome`] as the linker path in the parent module.

    use super::{finished, run_status, EntryPoint, LinkedModule, VmError};
    use crate::runtime::host::HostEnv;
    use crate::runtime::outcome::{CallOutcome, Failure, Status};
    use polkavm::{BackendKind, Config, GasMeteringKind, InterruptKind, ModuleConfig, RawInstance};
    use pvm_executor::MemoryAccessReason;
    use pvm_executor::{MemoryAccessError, PanicReason};
    use pvm_host_functions::{Flow, Guest};
    use std::cell::RefCell;

    pub struct Engine(polkavm::Engine);

    impl Engine {
        pub fn new() -> Result<Engine, String> {
            let mut config = Config::new();
            config.set_backend(Some(BackendKind::Interpreter));
            polkavm::Engine::new(&config).map(Engine).map_err(|error| error.to_string())
        }

        /// Compiles `blob`, whose imports `linked` has resolved.
        pub fn compile(&self, blob: &[u8], linked: LinkedModule) -> Result<Module, VmError> {
            let engine = &self.0;
            let mut config = ModuleConfig::new();
            config.set_gas_metering(Some(GasMeteringKind::Sync));
            let module = polkavm::Module::new(engine, &config, blob.to_vec().into())
                .map_err(|error| VmError::Reference(error.to_string()))?;
            let export = |name: &str| {
                module
                    .exports()
                    .find(|export| export.symbol().as_bytes() == name.as_bytes())
                    .map(|export| export.program_counter())
            };
            let call = export("call").ok_or(VmError::MissingExport("call"))?;
            let deploy = export("deploy").ok_or(VmError::MissingExport("deploy"))?;
            Ok(Module { module, call, deploy, linked })
        }
    }

    pub struct Module {
        module: polkavm::Module,
        call: polkavm::ProgramCounter,
        deploy: polkavm::ProgramCounter,
        linked: LinkedModule,
    }

    impl Module {
        pub fn run(&self, entry: EntryPoint, gas_limit: u64, env: &mut dyn HostEnv) -> CallOutcome {
            let mut instance = match self.module.instantiate() {
                Ok(instance) => instance,
                Err(error) => return CallOutcome::failed(Failure::Vm(VmError::Reference(error.to_string())), 0),
            };
            let pc = match entry {
                EntryPoint::Call => self.call,
                EntryPoint::Deploy => self.deploy,
            };
            instance.set_gas(super::gas_as_i64(gas_limit));
            instance.prepare_call_untyped(pc, &[]);
            let mut returned = None;
            let (status, output) = loop {
                let failure = match instance.run() {
                    Ok(InterruptKind::Finished) => break run_status(Ok(0), returned),
                    Ok(InterruptKind::Trap) => Failure::Panic(PanicReason::Trap),
                    Err(error) => Failure::Vm(VmError::Reference(error.to_string())),
                    Ok(InterruptKind::Segfault(fault)) => Failure::PageFault(fault.page_address),
                    Ok(InterruptKind::NotEnoughGas) => Failure::OutOfGas,
                    // Step tracing is off; a step interrupt only asks to resume.
                    Ok(InterruptKind::Step) => continue,
                    Ok(InterruptKind::Ecalli(index)) => {
                        let Some((name, function)) = self.linked.import(index) else {
                            break (Status::Failed(Failure::MissingImport(index)), Vec::new());
                        };
                        match function.call_on(name, &mut PolkavmGuest(RefCell::new(&mut instance)), &mut returned, env)
                        {
                            Ok(Flow::Continue(())) => continue,
                            Ok(Flow::Return(value)) => break run_status(Ok(value), returned),
                            Err(error) => break run_status(Err(error), None),
                        }
                    }
                };
                break (Status::Failed(failure), Vec::new());
            };
            finished(status, output, gas_limit, instance.gas())
        }
    }

    /// A `polkavm` instance as the registry's guest: the thin adapter through which the
    /// linker's host functions serve this backend. polkavm reads memory through `&mut self`
    /// (it may fault pages in), hence the cell.
    struct PolkavmGuest<'a>(RefCell<&'a mut RawInstance>);

    fn reg(reg: pvm_executor::program::Reg) -> polkavm::Reg {
        // Both number the registers the same way (RA = 0 .. A5 = 12).
        polkavm::Reg::ALL[reg as usize]
    }

    /// The executor's error for a failed access of `length` bytes at `address` (polkavm does
    /// not say which page failed: the first one is named).
    fn access_error(address: u32, length: usize) -> MemoryAccessError {
        let reason = if address < 0x1_0000 {
            MemoryAccessReason::BelowMinimum
        } else if u64::from(address) + length as u64 > 1 << 32 {
            MemoryAccessReason::Wraps
        } else {
            MemoryAccessReason::Inaccessible(address & !0xfff)
        };
        MemoryAccessError { address, length, reason }
    }

    impl Guest for PolkavmGuest<'_> {
        fn reg(&self, index: pvm_executor::program::Reg) -> u64 {
            self.0.borrow().reg(reg(index))
        }
        fn set_reg(&mut self, index: pvm_executor::program::Reg, value: u64) {
            self.0.get_mut().set_reg(reg(index), value);
        }
        fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
            let length = out.len();
            self.0.borrow_mut().read_memory_into(address, out).map(|_| ()).map_err(|_| access_error(address, length))
        }
        fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
            self.0.get_mut().write_memory(address, data).map_err(|_| access_error(address, data.len()))
        }
        fn gas(&self) -> i64 {
            self.0.borrow().gas()
        }
        fn set_gas(&mut self, gas: i64) {
            self.0.get_mut().set_gas(gas);
        }
        fn sbrk(&mut self, _size: u32) -> Option<u32> {
            // The contract host API never grows the guest heap.
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(name: &str) -> Vec<u8> {
        pvm_testkit::read_testdata(&format!("contracts/{name}"))
    }

    #[test]
    fn shared_contracts_validate() {
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
        let token = engine.validate(&contract("Token.polkavm")).unwrap();
        assert_eq!(
            token.imports,
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
    fn unknown_imports_are_named_by_the_linker() {
        // Rename imports of a real contract to functions the node does not provide, keeping
        // the lengths so the blob stays well formed.
        let mut blob = contract("Flipper.polkavm");
        let at = blob.windows(11).position(|window| window == b"get_storage").unwrap();
        blob[at..at + 11].copy_from_slice(b"get_storag3");
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
        let error = engine.validate(&blob).unwrap_err();
        assert_eq!(error, VmError::UnknownImports(vec!["get_storag3".to_string()]));
        assert_eq!(error.to_string(), "program imports `get_storag3`, which this node does not provide");
        let at = blob.windows(11).position(|window| window == b"seal_return").unwrap();
        blob[at..at + 11].copy_from_slice(b"seal_retur2");
        let error = engine.compile(&blob).unwrap_err();
        let VmError::UnknownImports(names) = &error else { panic!("{error:?}") };
        assert_eq!(names.len(), 2, "{error}");
        assert!(names.contains(&"get_storag3".to_string()) && names.contains(&"seal_retur2".to_string()));
        assert!(error.to_string().contains("`seal_retur2`"), "{error}");
    }

    #[test]
    fn garbage_is_refused() {
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
        assert!(matches!(engine.validate(b"not a program"), Err(VmError::InvalidBlob(_))));
        assert!(matches!(engine.validate(&vec![0; MAX_CODE_BYTES + 1]), Err(VmError::TooLarge(_))));
    }

    #[test]
    fn a_contract_with_more_memory_than_an_instance_may_have_is_refused() {
        let program = |stack_size: u64| {
            let text = format!(
                ".stack_size {stack_size}\n.export \"call\" @entry\n.export \"deploy\" @entry\n@entry:\n    jump_indirect ra, 0\n"
            );
            pvm_executor::program::asm::assemble(&text).unwrap().blob.to_bytes()
        };
        let limit = host::limits::INSTANCE_MEMORY_BYTES;
        for backend in [Backend::Interpreter, Backend::Auto] {
            let engine = VmEngine::new(backend).unwrap();
            engine.validate(&program(limit)).unwrap();
            let error = engine.validate(&program(limit + 1)).unwrap_err();
            assert_eq!(error, VmError::MemoryTooLarge { needed: limit + 4096, limit });
            assert_eq!(
                error.to_string(),
                "program needs 3149824 bytes of memory, more than the limit of 3145728 per contract"
            );
        }
    }

    #[test]
    fn every_host_function_is_registered_once() {
        let linker = host::linker().unwrap();
        let mut names = host::HOST_FUNCTION_NAMES.to_vec();
        names.sort_unstable();
        assert_eq!(linker.names(), names);
        assert_eq!(names.len(), 46);
    }

    mod through_the_linker {
        //! Contract runs on small guests built with the executor's `CodeBuilder`: what the
        //! linker makes of host functions that return, trap, run out of gas or panic.

        use super::*;
        use crate::runtime::host::testing::MapEnv;
        use crate::runtime::host::{costs, SENTINEL};
        use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
        use pvm_executor::PanicReason;

        /// Where the guests' read-only data starts.
        const RO_DATA: u32 = 0x10000;

        /// A contract whose `call` and `deploy` run `body`, importing `imports` in order,
        /// with `ro_data` at [`RO_DATA`].
        fn compile(imports: &[&str], ro_data: &[u8], body: impl FnOnce(&mut CodeBuilder)) -> CompiledModule {
            let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
            let entry = code.new_label();
            code.bind(entry);
            body(&mut code);
            let built = code.build().unwrap();
            let memory = MemoryConfig { ro_data_size: 4096, rw_data_size: 4096, stack_size: 4096, aux_data_size: 0 };
            let mut blob = ProgramBlobBuilder::new(built.code.clone()).memory(memory).ro_data(ro_data.to_vec());
            for import in imports {
                blob = blob.import(import);
            }
            let pc = built.label_pc(entry);
            let blob = blob.export("call", pc).export("deploy", pc).build().unwrap().to_bytes();
            VmEngine::new(Backend::Interpreter).unwrap().compile(&blob).unwrap()
        }

        fn run(module: &CompiledModule, gas_limit: u64, env: &mut MapEnv) -> CallOutcome {
            execute(module, EntryPoint::Call, gas_limit, env)
        }

        fn returned(revert: bool, data: &[u8]) -> (Status, Vec<u8>) {
            (if revert { Status::Reverted } else { Status::Success }, data.to_vec())
        }

        fn ended(outcome: &CallOutcome) -> (Status, Vec<u8>) {
            (outcome.status.clone(), outcome.output.clone())
        }

        fn failed(failure: Failure) -> (Status, Vec<u8>) {
            (Status::Failed(failure), Vec::new())
        }

        /// `seal_return(flags, RO_DATA, len)`.
        fn seal_return(flags: u32, len: u32) -> CompiledModule {
            compile(&["seal_return"], b"the output", |code| {
                code.push(Instruction::load_imm(Reg::A0, flags));
                code.push(Instruction::load_imm(Reg::A1, RO_DATA));
                code.push(Instruction::load_imm(Reg::A2, len));
                code.push(Instruction::ecalli(0));
                code.push(Instruction::trap());
            })
        }

        #[test]
        fn seal_return_halts_with_the_output_and_the_revert_flag() {
            let mut env = MapEnv::default();
            let result = run(&seal_return(0, 10), 10_000, &mut env);
            assert_eq!(ended(&result), returned(false, b"the output"));
            // The guest's one block (five instructions), the host call, one word copied.
            assert_eq!(result.gas_used, 5 + costs::HOST_CALL + costs::copy(10));
            let result = run(&seal_return(1, 3), 10_000, &mut env);
            assert_eq!(ended(&result), returned(true, b"the"));
        }

        #[test]
        fn returning_without_seal_return_is_an_empty_success() {
            let module = compile(&[], &[], |code| {
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            let result = run(&module, 100, &mut MapEnv::default());
            assert_eq!(ended(&result), returned(false, b""));
            assert_eq!(result.gas_used, 1);
        }

        #[test]
        fn host_function_errors_trap_with_the_function_and_the_message() {
            let result = run(&seal_return(2, 3), 10_000, &mut MapEnv::default());
            assert_eq!(
                ended(&result),
                failed(Failure::Host {
                    function: "seal_return".into(),
                    trap: Trap::InvalidFlags { kind: "return", flags: 2 }
                })
            );
            // Rendered at the edge as before.
            let Status::Failed(failure) = &result.status else { panic!("{result:?}") };
            assert_eq!(failure.to_string(), "seal_return: invalid return flags 0x2");
            assert!(result.gas_used > costs::HOST_CALL && result.gas_used < 10_000, "{result:?}");
            // A pointer outside guest memory.
            let module = compile(&["caller"], &[], |code| {
                code.push(Instruction::load_imm(Reg::A0, 0x100));
                code.push(Instruction::ecalli(0));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            let result = run(&module, 10_000, &mut MapEnv::default());
            let Status::Failed(Failure::Host { function, trap: Trap::Memory(error) }) = &result.status else {
                panic!("{result:?}")
            };
            assert_eq!((function.as_str(), error.address, error.length), ("caller", 0x100, 20));
        }

        #[test]
        fn running_out_of_gas_in_a_host_function_uses_all_gas() {
            // get_storage(0, key at RO_DATA, SENTINEL, 0, 0): the storage read costs more than
            // the guest has left after the host-call charge.
            let module = compile(&["get_storage"], &[7; 32], |code| {
                code.push(Instruction::load_imm(Reg::A0, 0));
                code.push(Instruction::load_imm(Reg::A1, RO_DATA));
                code.push(Instruction::load_imm(Reg::A2, SENTINEL));
                code.push(Instruction::ecalli(0));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            let mut env = MapEnv::default();
            let gas_limit = costs::HOST_CALL + costs::STORAGE_READ / 2;
            let result = run(&module, gas_limit, &mut env);
            assert_eq!(result, CallOutcome::failed(Failure::OutOfGas, gas_limit));
            // With enough gas the same call returns (the key is not found, nothing is written).
            let result = run(&module, 100_000, &mut env);
            assert_eq!(ended(&result), returned(false, b""));
            assert_eq!(result.gas_used, 5 + costs::HOST_CALL + costs::STORAGE_READ);
        }

        #[test]
        fn guest_out_of_gas_page_fault_and_bad_host_call_index() {
            let spin = compile(&[], &[], |code| {
                let top = code.new_label();
                code.bind(top);
                code.push_branch(Instruction::jump(0), top);
            });
            assert_eq!(run(&spin, 1_000, &mut MapEnv::default()), CallOutcome::failed(Failure::OutOfGas, 1_000));

            let fault = compile(&[], &[], |code| {
                code.push(Instruction::load_u32(Reg::A0, 0x5000_0000));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            assert_eq!(ended(&run(&fault, 1_000, &mut MapEnv::default())), failed(Failure::PageFault(0x5000_0000)));

            let trap = compile(&[], &[], |code| {
                code.push(Instruction::trap());
            });
            assert_eq!(ended(&run(&trap, 1_000, &mut MapEnv::default())), failed(Failure::Panic(PanicReason::Trap)));

            let beyond = compile(&["caller"], &[], |code| {
                code.push(Instruction::ecalli(5));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            assert_eq!(ended(&run(&beyond, 1_000, &mut MapEnv::default())), failed(Failure::MissingImport(5)));
        }
    }
}
