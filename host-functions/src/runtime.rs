//! Calling Substrate runtimes: `call(method, input) -> output`, the way a node calls into
//! its runtime with sc-executor's `WasmExecutor`.
//!
//! The call convention (that of `sc-executor-polkavm`):
//!
//! 1. the instance's memory is reset (instances are pooled and reused across calls);
//! 2. the heap is grown by the input's length with `sbrk` and the input is written at the
//!    heap base;
//! 3. the export named `method` is called with `A0 = input pointer`, `A1 = input length`;
//! 4. it returns a packed `u64` in `A0`: the output pointer in the low 32 bits, its length in
//!    the high 32 bits; the output is copied out of guest memory.
//!
//! Heap memory the host allocates for the runtime during the call (the `allocate_memory` of
//! the Substrate host functions) comes from the instance's [`GuestAllocator`], after the input.
//!
//! [`GuestAllocator`]: crate::GuestAllocator

use crate::abi::FatPtr;
use crate::allocator::AllocationStats;
use crate::error::{CallError, LinkError};
use crate::linker::{InstancePre, LinkedInstance, Linker};
use pvm_executor::{Config, Engine, Module, PanicReason};
use sp_externalities::Externalities;
use sp_wasm_interface::HostFunctions;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a runtime call failed. Every failure of a call names the method.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be created.
    #[error("cannot create the PVM engine: {0}")]
    Engine(pvm_executor::Error),
    /// The runtime code is not a valid PVM program blob.
    #[error("invalid runtime code: {0}")]
    InvalidCode(pvm_executor::Error),
    /// The runtime is a raw program: it has no exports, imports or heap.
    #[error("invalid runtime code: a runtime must be a PolkaVM program blob, not a raw program")]
    NotAContainer,
    /// The runtime imports host functions the executor does not provide (all are listed), or
    /// instantiating it failed.
    #[error("cannot link the runtime: {0}")]
    Link(#[from] LinkError),
    /// The runtime has no export named `method`.
    #[error("cannot call runtime method `{method}`: the runtime exports no such function")]
    MissingExport {
        /// The method.
        method: String,
    },
    /// The input does not fit in the guest heap.
    #[error("cannot call runtime method `{method}`: the input of {length} bytes does not fit in the guest heap")]
    InputTooLarge {
        /// The method.
        method: String,
        /// The input's length.
        length: usize,
    },
    /// The runtime trapped or panicked; `message` is its panic message if it registered one.
    #[error(
        "runtime method `{method}` trapped at pc {pc}: {reason}{}",
        .message.as_ref().map(|message| format!(": {message}")).unwrap_or_default()
    )]
    Trap {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
        /// Why.
        reason: PanicReason,
        /// The runtime's own panic message (`abort_on_panic`), if any.
        message: Option<String>,
    },
    /// The runtime accessed memory it may not.
    #[error("runtime method `{method}` page-faulted at pc {pc} on page 0x{address:08x}")]
    PageFault {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
        /// The page.
        address: u32,
    },
    /// The call ran out of gas.
    #[error("runtime method `{method}` ran out of gas at pc {pc}")]
    OutOfGas {
        /// The method.
        method: String,
        /// Where.
        pc: u32,
    },
    /// A host function failed (returned an error, panicked, or is missing).
    #[error("runtime method `{method}`: host function `{function}` failed: {message}")]
    HostFunction {
        /// The method.
        method: String,
        /// The host function.
        function: String,
        /// What went wrong.
        message: String,
    },
    /// The packed pointer/length the method returned does not point at readable memory.
    #[error("runtime method `{method}` returned {output:?}, which is not readable guest memory")]
    InvalidOutput {
        /// The method.
        method: String,
        /// What it returned.
        output: FatPtr,
    },
    /// Anything else the executor reported while setting up or running the call.
    #[error("runtime method `{method}`: {message}")]
    Executor {
        /// The method.
        method: String,
        /// The executor's message.
        message: String,
    },
}

impl RuntimeError {
    /// The method a call failure is about (`None` for loading and linking failures).
    pub fn method(&self) -> Option<&str> {
        match self {
            RuntimeError::Engine(_)
            | RuntimeError::InvalidCode(_)
            | RuntimeError::NotAContainer
            | RuntimeError::Link(_) => None,
            RuntimeError::MissingExport { method }
            | RuntimeError::InputTooLarge { method, .. }
            | RuntimeError::Trap { method, .. }
            | RuntimeError::PageFault { method, .. }
            | RuntimeError::OutOfGas { method, .. }
            | RuntimeError::HostFunction { method, .. }
            | RuntimeError::InvalidOutput { method, .. }
            | RuntimeError::Executor { method, .. } => Some(method),
        }
    }

    fn from_call(method: &str, error: CallError) -> Self {
        use pvm_executor::CallError as Stop;
        let method = method.to_string();
        match error {
            CallError::Guest(Stop::Setup(pvm_executor::Error::UnknownExport(_))) => {
                RuntimeError::MissingExport { method }
            }
            CallError::Guest(Stop::Setup(error)) => RuntimeError::Executor { method, message: error.to_string() },
            CallError::Guest(Stop::Panic { pc, reason }) => RuntimeError::Trap { method, pc, reason, message: None },
            CallError::Abort { pc, reason, message } => {
                RuntimeError::Trap { method, pc, reason, message: Some(message) }
            }
            CallError::Guest(Stop::OutOfGas { pc }) => RuntimeError::OutOfGas { method, pc },
            CallError::Guest(Stop::PageFault { pc, address }) => RuntimeError::PageFault { method, pc, address },
            // Only the linker serves host calls; the executor alone never reports one.
            CallError::Guest(Stop::UnhandledHostCall { index, name }) => RuntimeError::HostFunction {
                method,
                function: name,
                message: format!("host call {index} was not serviced"),
            },
            CallError::Host { function, error } => {
                RuntimeError::HostFunction { method, function, message: error.to_string() }
            }
            CallError::HostPanic { function, message } => {
                RuntimeError::HostFunction { method, function, message: format!("panicked: {message}") }
            }
            CallError::MissingImport { index, name } => RuntimeError::HostFunction {
                method,
                function: name.unwrap_or_else(|| format!("import {index}")),
                message: "the executor does not provide this host function".to_string(),
            },
        }
    }
}

/// Settings of a [`RuntimeExecutor`], built with [`RuntimeExecutor::builder`].
#[derive(Clone, Debug)]
pub struct RuntimeExecutorBuilder<H> {
    config: Config,
    allow_missing_host_functions: bool,
    max_runtime_instances: usize,
    runtime_cache_size: usize,
    gas_limit: i64,
    _host_functions: PhantomData<fn() -> H>,
}

impl<H: HostFunctions> RuntimeExecutorBuilder<H> {
    /// The engine configuration (backend, gas metering). Default: [`Config::new`].
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Whether runtimes importing host functions that `H` lacks may run (calling such a
    /// function then fails the call). Default: `false`, the runtime is refused at load time.
    pub fn with_allow_missing_host_functions(mut self, allow: bool) -> Self {
        self.allow_missing_host_functions = allow;
        self
    }

    /// How many idle instances of one runtime are kept for reuse. Default: 2.
    pub fn with_max_runtime_instances(mut self, count: usize) -> Self {
        self.max_runtime_instances = count;
        self
    }

    /// How many different runtimes (by code) are kept prepared. Default: 2.
    pub fn with_runtime_cache_size(mut self, count: usize) -> Self {
        self.runtime_cache_size = count.max(1);
        self
    }

    /// The gas each call starts with when the engine meters gas. Default: `i64::MAX`.
    pub fn with_gas_limit(mut self, gas: i64) -> Self {
        self.gas_limit = gas;
        self
    }

    /// Builds the executor.
    pub fn build(self) -> Result<RuntimeExecutor<H>, RuntimeError> {
        let engine = Engine::new(&self.config).map_err(RuntimeError::Engine)?;
        let mut linker = Linker::new();
        linker.allow_shadowing(true).allow_missing_imports(self.allow_missing_host_functions);
        linker.define_substrate_host_functions::<H>()?;
        Ok(RuntimeExecutor {
            engine,
            linker,
            max_runtime_instances: self.max_runtime_instances,
            runtime_cache_size: self.runtime_cache_size,
            gas_limit: self.gas_limit,
            runtimes: Mutex::new(Vec::new()),
            _host_functions: PhantomData,
        })
    }
}

/// Executes Substrate runtimes compiled to PVM, with the host functions `H` (typically
/// `sp_io::SubstrateHostFunctions`), where a node would use sc-executor's `WasmExecutor`.
///
/// Prepared runtimes are cached by code, and each keeps a pool of instances that are reused
/// (memory reset) from call to call. The executor is `Send + Sync`; calls on different threads
/// use different instances.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pvm_host_functions::RuntimeExecutor;
/// # type HostFunctions = ();
/// # let runtime_code = {
/// #     use pvm_executor::program::*;
/// #     let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
/// #     // Returns its input: A0 = ptr | len << 32.
/// #     code.push(Instruction::shift_logical_left_imm_64(Reg::A1, Reg::A1, 32));
/// #     code.push(Instruction::or(Reg::A0, Reg::A0, Reg::A1));
/// #     code.push(Instruction::jump_indirect(Reg::RA, 0));
/// #     let memory = MemoryConfig { stack_size: 4096, ..Default::default() };
/// #     ProgramBlobBuilder::new(code.build()?.code).memory(memory).export("echo", 0).build()?.to_bytes()
/// # };
///
/// // `HostFunctions` would be `sp_io::SubstrateHostFunctions` in a node.
/// let executor = RuntimeExecutor::<HostFunctions>::builder().build()?;
/// assert_eq!(executor.call(&runtime_code, "echo", b"hello")?, b"hello");
/// # Ok(())
/// # }
/// ```
pub struct RuntimeExecutor<H> {
    engine: Engine,
    linker: Linker<()>,
    max_runtime_instances: usize,
    runtime_cache_size: usize,
    gas_limit: i64,
    /// Most recently used last.
    runtimes: Mutex<Vec<Arc<Runtime>>>,
    _host_functions: PhantomData<fn() -> H>,
}

impl<H> std::fmt::Debug for RuntimeExecutor<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeExecutor")
            .field("host_functions", &self.linker.names().len())
            .field("max_runtime_instances", &self.max_runtime_instances)
            .field("runtime_cache_size", &self.runtime_cache_size)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data inconsistent (they
    // only guard pools and caches of complete values), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<H: HostFunctions> RuntimeExecutor<H> {
    /// Settings with their defaults.
    pub fn builder() -> RuntimeExecutorBuilder<H> {
        RuntimeExecutorBuilder {
            config: Config::new(),
            allow_missing_host_functions: false,
            max_runtime_instances: 2,
            runtime_cache_size: 2,
            gas_limit: i64::MAX,
            _host_functions: PhantomData,
        }
    }

    /// An executor with the default settings.
    pub fn new() -> Result<Self, RuntimeError> {
        Self::builder().build()
    }

    /// The engine runtimes are loaded with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads, validates and links runtime code, or returns the already prepared runtime for
    /// the same code.
    pub fn runtime(&self, code: &[u8]) -> Result<Arc<Runtime>, RuntimeError> {
        let module = Module::from_blob(&self.engine, code).map_err(RuntimeError::InvalidCode)?;
        let mut runtimes = lock(&self.runtimes);
        if let Some(position) = runtimes.iter().position(|runtime| runtime.module().same_module(&module)) {
            let runtime = runtimes.remove(position);
            runtimes.push(Arc::clone(&runtime));
            return Ok(runtime);
        }
        let runtime = Arc::new(Runtime::new(&self.linker, &module, self.max_runtime_instances, self.gas_limit)?);
        if runtimes.len() >= self.runtime_cache_size {
            runtimes.remove(0);
        }
        runtimes.push(Arc::clone(&runtime));
        Ok(runtime)
    }

    /// Calls `method` of the runtime `code` with `input` and returns its output. Host
    /// functions that need externalities fail unless the caller provides them (see
    /// [`RuntimeExecutor::call_in`]).
    pub fn call(&self, code: &[u8], method: &str, input: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        self.runtime(code)?.call(method, input)
    }

    /// Calls `method` with `ext` as the externalities the host functions work on (storage,
    /// ...): what sc-executor's `WasmExecutor::uncached_call` does.
    pub fn call_in(
        &self,
        ext: &mut dyn Externalities,
        code: &[u8],
        method: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, RuntimeError> {
        self.runtime(code)?.call_in(ext, method, input)
    }
}

/// A prepared runtime: a linked module and a pool of instances of it.
pub struct Runtime {
    pre: InstancePre<()>,
    pool: Mutex<Vec<LinkedInstance<()>>>,
    max_instances: usize,
    gas_limit: i64,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("pre", &self.pre).field("idle_instances", &lock(&self.pool).len()).finish()
    }
}

impl Runtime {
    /// Links `module` with `linker`. The module must be a PolkaVM program blob.
    pub fn new(
        linker: &Linker<()>,
        module: &Module,
        max_instances: usize,
        gas_limit: i64,
    ) -> Result<Self, RuntimeError> {
        if module.memory_map().is_none() {
            return Err(RuntimeError::NotAContainer);
        }
        let pre = linker.instantiate_pre(module)?;
        Ok(Runtime { pre, pool: Mutex::new(Vec::new()), max_instances, gas_limit })
    }

    /// The module.
    pub fn module(&self) -> &Module {
        self.pre.module()
    }

    /// Whether the runtime exports `method`.
    pub fn has_method(&self, method: &str) -> bool {
        self.module().export_pc(method).is_some()
    }

    /// Calls `method` with `ext` installed as the externalities for the host functions.
    pub fn call_in(&self, ext: &mut dyn Externalities, method: &str, input: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        sp_externalities::set_and_run_with_externalities(ext, || self.call(method, input))
    }

    /// Calls `method` with `input`, with whatever externalities the calling thread has set.
    pub fn call(&self, method: &str, input: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        self.call_with_stats(method, input).0
    }

    /// Like [`Runtime::call`], also returning the host allocator's counters for the call.
    pub fn call_with_stats(&self, method: &str, input: &[u8]) -> (Result<Vec<u8>, RuntimeError>, AllocationStats) {
        if !self.has_method(method) {
            return (Err(RuntimeError::MissingExport { method: method.to_string() }), AllocationStats::default());
        }
        let pooled = lock(&self.pool).pop();
        let mut instance = match pooled {
            Some(instance) => instance,
            None => match self.pre.instantiate(()) {
                Ok(instance) => instance,
                Err(error) => return (Err(error.into()), AllocationStats::default()),
            },
        };
        let result = self.call_on(&mut instance, method, input);
        let stats = instance.allocator().stats();
        let mut pool = lock(&self.pool);
        if pool.len() < self.max_instances {
            pool.push(instance);
        }
        (result, stats)
    }

    fn call_on(&self, instance: &mut LinkedInstance<()>, method: &str, input: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        let too_large = || RuntimeError::InputTooLarge { method: method.to_string(), length: input.len() };
        let length = u32::try_from(input.len()).map_err(|_| too_large())?;
        instance.reset_memory();
        let heap_base = self.module().memory_map().ok_or(RuntimeError::NotAContainer)?.heap_base;
        instance.instance_mut().sbrk(length).ok_or_else(too_large)?;
        instance.write_memory(heap_base, input).map_err(|_| too_large())?;
        instance.set_gas(self.gas_limit);
        let packed = instance
            .call(method, &[u64::from(heap_base), u64::from(length)])
            .map_err(|error| RuntimeError::from_call(method, error))?;
        let output = FatPtr::unpack(packed);
        instance
            .read_memory_vec(output.ptr, output.len)
            .map_err(|_| RuntimeError::InvalidOutput { method: method.to_string(), output })
    }
}
