//! The one module that touches the PVM executor and the host-function registry.
//!
//! Everything else in the node sees only [`VmEngine`], [`CompiledModule`] and [`execute`].
//! [`VmEngine::new`] registers every function of the host API ([`HOST_FUNCTIONS`]) in a
//! `pvm_host_functions::Linker`. Validation at upload loads the blob as an executor `Module`,
//! requires the revive_v1 instruction set, resolves its imports with the linker (an import
//! the node does not provide is refused by name) and requires the `call` and `deploy` exports.
//! Compiling keeps the resolved module (`InstancePre`), so the module cache holds everything
//! a warm call needs; running a contract instantiates it and calls the export through the
//! linker, which services the host calls.
//!
//! The per-call environment ([`HostEnv`]: the running frame, the state overlay, the call
//! stack) borrows from the caller and outlives no call, so it is not the instances' user data
//! (which must be `'static`): each call lends it to the host functions as the linker's
//! per-call context (`HostContext`), and a nested contract call simply lends it again,
//! reborrowed. The user data records why a host function stopped the guest (`HostStop`):
//! `seal_return` (or a tail call) writes its output there and halts through the linker, and a
//! host function that runs out of gas notes it there before it traps.
//!
//! With the `polkavm-reference` feature, a chain spec may also choose the backend
//! `polkavm-reference`: the `polkavm` crate's interpreter, kept to compare our executor with
//! on the same contracts. It is never the default. The linker cannot drive a `polkavm`
//! instance, so that backend keeps its own small host-call loop over the same host-function
//! bodies (see the `reference` module); uploads are still validated by the linker.

use crate::chain_spec::Backend;
use crate::host::{GuestAccess, HostEnv, HostError, HostFlow, HostFunction, MemoryAccessError, HOST_FUNCTIONS};
use pvm_host_functions::{CallContext, CallError, Caller, InstancePre, LinkError, Linker};

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
    /// The imported host functions, by import index (`ecalli n` calls `imports[n]`).
    pub imports: Vec<String>,
    /// Size of the blob.
    pub blob_len: usize,
}

/// The linker's per-call context for contract runs: the running frame's [`HostEnv`],
/// borrowed for the call.
enum HostContext {}

impl CallContext for HostContext {
    type Context<'c> = dyn HostEnv + 'c;

    fn reborrow<'s, 'c: 's>(context: &'s mut (dyn HostEnv + 'c)) -> &'s mut (dyn HostEnv + 's) {
        context
    }
}

/// Why a host function stopped the guest, when the linker's result alone does not say: the
/// instances' user data (`None` while the guest runs).
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostStop {
    /// `seal_return`, or a tail call returning the callee's result: the guest was halted.
    Return {
        /// Revert flag.
        revert: bool,
        /// Output.
        data: Vec<u8>,
    },
    /// A host function could not pay for its work: the guest was trapped.
    OutOfGas,
}

/// The registry holding the host API.
type ContractLinker = Linker<Option<HostStop>, HostContext>;

/// A contract module with its imports resolved.
type LinkedModule = InstancePre<Option<HostStop>, HostContext>;

/// A contract module ready to run.
pub struct CompiledModule {
    /// What validation found.
    pub info: CodeInfo,
    code: ModuleCode,
}

enum ModuleCode {
    Executor(LinkedModule),
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
            ModuleCode::Executor(module) => module.module().memory_usage(),
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

impl RunResult {
    /// The result of a run that started with `gas_limit` and ended with `gas_left`; running
    /// out of gas uses it all.
    fn new(exit: Exit, gas_limit: u64, gas_left: i64) -> RunResult {
        let gas_limit_signed = gas_as_i64(gas_limit);
        let gas_used = match exit {
            Exit::OutOfGas => gas_limit,
            _ => (gas_limit_signed - gas_left.clamp(0, gas_limit_signed)) as u64,
        };
        RunResult { exit, gas_used }
    }
}

fn gas_as_i64(gas: u64) -> i64 {
    i64::try_from(gas).unwrap_or(i64::MAX)
}

/// The executor engine for one backend, with the host API registered.
pub struct VmEngine {
    backend: Backend,
    /// Loads modules: those that run, and (for the reference backend) those that are validated.
    engine: pvm_executor::Engine,
    linker: ContractLinker,
    #[cfg(feature = "polkavm-reference")]
    reference: Option<reference::Engine>,
}

impl VmEngine {
    /// An engine for `backend`; an error if that backend cannot run here.
    pub fn new(backend: Backend) -> Result<VmEngine, VmError> {
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
        config.backend(executor_backend).gas_metering(Some(GasMetering::Sync)).cache_modules(false);
        let engine = pvm_executor::Engine::new(&config).map_err(|error| unavailable(error.to_string()))?;
        tracing::info!("contracts run on the executor's {} backend", engine.backend().name());
        #[cfg(feature = "polkavm-reference")]
        let reference = match backend {
            Backend::PolkavmReference => Some(reference::Engine::new().map_err(unavailable)?),
            _ => None,
        };
        let linker = contract_linker().map_err(|error| VmError::Executor(error.to_string()))?;
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
        self.link(blob).map(|module| code_info(&module, blob))
    }

    /// Validates and compiles a code blob for this engine's backend.
    pub fn compile(&self, blob: &[u8]) -> Result<CompiledModule, VmError> {
        let module = self.link(blob)?;
        let info = code_info(&module, blob);
        #[cfg(feature = "polkavm-reference")]
        if let Some(engine) = &self.reference {
            return Ok(CompiledModule { code: ModuleCode::Reference(engine.compile(blob, &info.imports)?), info });
        }
        Ok(CompiledModule { info, code: ModuleCode::Executor(module) })
    }

    /// Loads `blob` and resolves its imports with the linker.
    fn link(&self, blob: &[u8]) -> Result<LinkedModule, VmError> {
        if blob.len() > MAX_CODE_BYTES {
            return Err(VmError::TooLarge(blob.len()));
        }
        let module = pvm_executor::Module::from_blob(&self.engine, blob)
            .map_err(|error| VmError::InvalidBlob(error.to_string()))?;
        let isa = module.isa();
        if isa.name() != "revive_v1" {
            return Err(VmError::WrongInstructionSet(isa.name().to_string()));
        }
        let linked = self.linker.instantiate_pre(&module).map_err(|error| match error {
            LinkError::MissingImports(names) => VmError::UnknownImports(names),
            other => VmError::Executor(other.to_string()),
        })?;
        for export in [EntryPoint::Call, EntryPoint::Deploy] {
            if module.export_pc(export.export_name()).is_none() {
                return Err(VmError::MissingExport(export.export_name()));
            }
        }
        Ok(linked)
    }
}

fn code_info(module: &LinkedModule, blob: &[u8]) -> CodeInfo {
    CodeInfo { imports: module.module().imports().to_vec(), blob_len: blob.len() }
}

/// Registers every function of the host API, each under its import name.
fn contract_linker() -> Result<ContractLinker, LinkError> {
    let mut linker = ContractLinker::default();
    for function in HOST_FUNCTIONS {
        linker.func_raw(function.name(), move |caller| serve(function, caller))?;
    }
    Ok(linker)
}

/// Runs a host function for the linker: on the calling instance and the call's [`HostEnv`].
fn serve(
    function: &HostFunction,
    mut caller: Caller<'_, Option<HostStop>, HostContext>,
) -> Result<(), pvm_host_functions::HostError> {
    let (stop, instance, env) = caller.data_instance_and_context_mut();
    match function.call(instance, env) {
        Ok(HostFlow::Continue) => Ok(()),
        Ok(HostFlow::Return { revert, data }) => {
            *stop = Some(HostStop::Return { revert, data });
            // The halt value is not the output: `stop` carries that.
            Err(pvm_host_functions::HostError::halt(0))
        }
        Err(error) => {
            if error == HostError::OutOfGas {
                *stop = Some(HostStop::OutOfGas);
            }
            Err(pvm_host_functions::HostError::from_error(error))
        }
    }
}

/// Runs `entry` of `module` with `gas_limit`, the host functions working on `env`.
pub fn execute(
    module: &CompiledModule,
    entry: EntryPoint,
    gas_limit: u64,
    env: &mut dyn HostEnv,
) -> Result<RunResult, VmError> {
    match &module.code {
        ModuleCode::Executor(module) => run_linked(module, entry, gas_limit, env),
        #[cfg(feature = "polkavm-reference")]
        ModuleCode::Reference(module) => module.run(entry, gas_limit, env),
    }
}

fn run_linked(
    module: &LinkedModule,
    entry: EntryPoint,
    gas_limit: u64,
    env: &mut dyn HostEnv,
) -> Result<RunResult, VmError> {
    let mut instance = module.instantiate(None).map_err(|error| VmError::Executor(error.to_string()))?;
    instance.set_gas(gas_as_i64(gas_limit));
    let result = instance.call_in(env, entry.export_name(), &[]);
    let exit = match (result, instance.data_mut().take()) {
        (_, Some(HostStop::OutOfGas)) | (Err(CallError::OutOfGas { .. }), _) => Exit::OutOfGas,
        (Ok(_), Some(HostStop::Return { revert, data })) => Exit::Returned { revert, data },
        (Ok(_), None) => Exit::Returned { revert: false, data: Vec::new() },
        (Err(CallError::Panic { reason, .. }), _) => Exit::Trapped(format!("contract panicked: {reason}")),
        (Err(CallError::PageFault { address, .. }), _) => Exit::Trapped(format!("page fault at {address:#x}")),
        (Err(CallError::HostFunction { function, message }), _) => Exit::Trapped(format!("{function}: {message}")),
        (Err(CallError::HostPanic { function, message }), _) => {
            Exit::Trapped(format!("{function}: host function panicked: {message}"))
        }
        (Err(CallError::MissingImport { index, .. }), _) => {
            Exit::Trapped(format!("host call to import {index}, which does not exist"))
        }
        (Err(CallError::Setup(error)), _) => return Err(VmError::Executor(error.to_string())),
    };
    Ok(RunResult::new(exit, gas_limit, instance.gas()))
}

fn executor_reg(index: usize) -> pvm_executor::program::Reg {
    // Host functions only name r0..r12; anything else reads as A0 rather than panicking.
    pvm_executor::program::Reg::from_index(index).unwrap_or(pvm_executor::program::Reg::A0)
}

impl GuestAccess for pvm_executor::Instance {
    fn reg(&self, index: usize) -> u64 {
        pvm_executor::Instance::reg(self, executor_reg(index))
    }
    fn set_reg(&mut self, index: usize, value: u64) {
        pvm_executor::Instance::set_reg(self, executor_reg(index), value);
    }
    fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        let length = out.len() as u32;
        pvm_executor::Instance::read_memory(self, address, out).map_err(|_| MemoryAccessError { address, length })
    }
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        pvm_executor::Instance::write_memory(self, address, data)
            .map_err(|_| MemoryAccessError { address, length: data.len() as u32 })
    }
    fn gas_left(&self) -> i64 {
        self.gas()
    }
    fn set_gas_left(&mut self, gas: i64) {
        self.set_gas(gas);
    }
}

#[cfg(feature = "polkavm-reference")]
mod reference {
    //! The `polkavm` crate's interpreter as a reference backend.
    //!
    //! The linker drives only executor instances, so this backend has its own host-call
    //! loop. It runs the same host-function bodies ([`HOST_FUNCTIONS`]) and maps their
    //! results to the same [`Exit`]s as the linker path in the parent module; imports are
    //! resolved by name here after the linker has validated them at compile time.

    use super::{EntryPoint, Exit, RunResult, VmError};
    use crate::host::{GuestAccess, HostEnv, HostError, HostFlow, HostFunction, MemoryAccessError, HOST_FUNCTIONS};
    use polkavm::{BackendKind, Config, GasMeteringKind, InterruptKind, ModuleConfig, RawInstance, Reg};

    pub struct Engine(polkavm::Engine);

    impl Engine {
        pub fn new() -> Result<Engine, String> {
            let mut config = Config::new();
            config.set_backend(Some(BackendKind::Interpreter));
            polkavm::Engine::new(&config).map(Engine).map_err(|error| error.to_string())
        }

        /// Compiles `blob`, whose `imports` the linker has resolved.
        pub fn compile(&self, blob: &[u8], imports: &[String]) -> Result<Module, VmError> {
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
            let imports = imports
                .iter()
                .map(|name| {
                    HOST_FUNCTIONS
                        .iter()
                        .find(|function| function.name() == name)
                        .ok_or_else(|| VmError::UnknownImports(vec![name.clone()]))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Module { module, call, deploy, imports })
        }
    }

    pub struct Module {
        module: polkavm::Module,
        call: polkavm::ProgramCounter,
        deploy: polkavm::ProgramCounter,
        imports: Vec<&'static HostFunction>,
    }

    impl Module {
        pub fn run(&self, entry: EntryPoint, gas_limit: u64, env: &mut dyn HostEnv) -> Result<RunResult, VmError> {
            let mut instance = self.module.instantiate().map_err(|error| VmError::Executor(error.to_string()))?;
            let pc = match entry {
                EntryPoint::Call => self.call,
                EntryPoint::Deploy => self.deploy,
            };
            instance.set_gas(super::gas_as_i64(gas_limit));
            instance.prepare_call_untyped(pc, &[]);
            let exit = loop {
                match instance.run() {
                    Ok(InterruptKind::Finished) => break Exit::Returned { revert: false, data: Vec::new() },
                    Ok(InterruptKind::Trap) => break Exit::Trapped("contract panicked: trap".to_string()),
                    Err(error) => break Exit::Trapped(format!("contract panicked: {error}")),
                    Ok(InterruptKind::Segfault(fault)) => {
                        break Exit::Trapped(format!("page fault at {:#x}", fault.page_address))
                    }
                    Ok(InterruptKind::NotEnoughGas) => break Exit::OutOfGas,
                    // Step tracing is off; a step interrupt only asks to resume.
                    Ok(InterruptKind::Step) => continue,
                    Ok(InterruptKind::Ecalli(index)) => {
                        let Some(function) = self.imports.get(index as usize) else {
                            break Exit::Trapped(format!("host call to import {index}, which does not exist"));
                        };
                        match function.call(&mut instance, env) {
                            Ok(HostFlow::Continue) => continue,
                            Ok(HostFlow::Return { revert, data }) => break Exit::Returned { revert, data },
                            Err(HostError::OutOfGas) => break Exit::OutOfGas,
                            Err(error) => break Exit::Trapped(format!("{}: {error}", function.name())),
                        }
                    }
                }
            };
            Ok(RunResult::new(exit, gas_limit, instance.gas()))
        }
    }

    fn reg(index: usize) -> Reg {
        // Host functions only name r0..r12; anything else reads as A0 rather than panicking.
        Reg::ALL.get(index).copied().unwrap_or(Reg::A0)
    }

    impl GuestAccess for RawInstance {
        fn reg(&self, index: usize) -> u64 {
            RawInstance::reg(self, reg(index))
        }
        fn set_reg(&mut self, index: usize, value: u64) {
            RawInstance::set_reg(self, reg(index), value);
        }
        fn read_memory(&mut self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
            let length = out.len() as u32;
            self.read_memory_into(address, out).map(|_| ()).map_err(|_| MemoryAccessError { address, length })
        }
        fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
            RawInstance::write_memory(self, address, data)
                .map_err(|_| MemoryAccessError { address, length: data.len() as u32 })
        }
        fn gas_left(&self) -> i64 {
            self.gas()
        }
        fn set_gas_left(&mut self, gas: i64) {
            self.set_gas(gas);
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
    fn every_host_function_is_registered_once() {
        let linker = contract_linker().unwrap();
        let mut names: Vec<&str> = HOST_FUNCTIONS.iter().map(HostFunction::name).collect();
        names.sort_unstable();
        assert_eq!(linker.names(), names);
        assert_eq!(names.len(), 46);
    }

    mod through_the_linker {
        //! Contract runs on small guests built with the executor's `CodeBuilder`: what the
        //! linker makes of host functions that return, trap, run out of gas or panic.

        use super::*;
        use crate::host::testing::MapEnv;
        use crate::host::{costs, SENTINEL};
        use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};

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

        fn run(module: &CompiledModule, gas_limit: u64, env: &mut MapEnv) -> RunResult {
            execute(module, EntryPoint::Call, gas_limit, env).unwrap()
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
            assert_eq!(result.exit, Exit::Returned { revert: false, data: b"the output".to_vec() });
            // The guest's one block (five instructions), the host call, one word copied.
            assert_eq!(result.gas_used, 5 + costs::HOST_CALL + costs::copy(10));
            let result = run(&seal_return(1, 3), 10_000, &mut env);
            assert_eq!(result.exit, Exit::Returned { revert: true, data: b"the".to_vec() });
        }

        #[test]
        fn returning_without_seal_return_is_an_empty_success() {
            let module = compile(&[], &[], |code| {
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            let result = run(&module, 100, &mut MapEnv::default());
            assert_eq!(result.exit, Exit::Returned { revert: false, data: Vec::new() });
            assert_eq!(result.gas_used, 1);
        }

        #[test]
        fn host_function_errors_trap_with_the_function_and_the_message() {
            let result = run(&seal_return(2, 3), 10_000, &mut MapEnv::default());
            assert_eq!(result.exit, Exit::Trapped("seal_return: invalid return flags 0x2".to_string()));
            assert!(result.gas_used > costs::HOST_CALL && result.gas_used < 10_000, "{result:?}");
            // A pointer outside guest memory.
            let module = compile(&["caller"], &[], |code| {
                code.push(Instruction::load_imm(Reg::A0, 0x100));
                code.push(Instruction::ecalli(0));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            let result = run(&module, 10_000, &mut MapEnv::default());
            assert_eq!(
                result.exit,
                Exit::Trapped("caller: guest memory access out of bounds: 20 bytes at 0x100".to_string())
            );
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
            assert_eq!(result, RunResult { exit: Exit::OutOfGas, gas_used: gas_limit });
            // With enough gas the same call returns (the key is not found, nothing is written).
            let result = run(&module, 100_000, &mut env);
            assert_eq!(result.exit, Exit::Returned { revert: false, data: Vec::new() });
            assert_eq!(result.gas_used, 5 + costs::HOST_CALL + costs::STORAGE_READ);
        }

        #[test]
        fn guest_out_of_gas_page_fault_and_bad_host_call_index() {
            let spin = compile(&[], &[], |code| {
                let top = code.new_label();
                code.bind(top);
                code.push_branch(Instruction::jump(0), top);
            });
            assert_eq!(run(&spin, 1_000, &mut MapEnv::default()), RunResult { exit: Exit::OutOfGas, gas_used: 1_000 });

            let fault = compile(&[], &[], |code| {
                code.push(Instruction::load_u32(Reg::A0, 0x5000_0000));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            assert_eq!(
                run(&fault, 1_000, &mut MapEnv::default()).exit,
                Exit::Trapped("page fault at 0x50000000".into())
            );

            let trap = compile(&[], &[], |code| {
                code.push(Instruction::trap());
            });
            assert_eq!(run(&trap, 1_000, &mut MapEnv::default()).exit, Exit::Trapped("contract panicked: trap".into()));

            let beyond = compile(&["caller"], &[], |code| {
                code.push(Instruction::ecalli(5));
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            });
            assert_eq!(
                run(&beyond, 1_000, &mut MapEnv::default()).exit,
                Exit::Trapped("host call to import 5, which does not exist".into())
            );
        }
    }
}
