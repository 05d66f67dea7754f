//! The PVM executor as a polkadot-sdk node's executor.
//!
//! [`PvmExecutor`] implements [`CodeExecutor`], [`ReadRuntimeVersion`] and [`RuntimeVersionOf`]:
//! it goes wherever a node passes sc-executor's `WasmExecutor`. Runtimes that are PolkaVM
//! program blobs (`PVM\0`, plain or zstd-compressed the way `sp-maybe-compressed-blob` does
//! it) run on the PVM executor (interpreter or x86-64 compiler); any other code is handed to an
//! inner [`WasmExecutor`], so one executor serves PolkaVM and Wasm runtimes alike.
//!
//! * Host functions: any `sp_wasm_interface::HostFunctions` set `H`, unchanged; a node uses
//!   `sp_io::SubstrateHostFunctions` (plus its extensions), as with `WasmExecutor<H>`.
//! * Call convention (that of `sc-executor-polkavm`): the call's input is placed at the heap
//!   base, the export is called with `(pointer, length)` in `A0`, `A1` and returns
//!   `pointer | length << 32` in `A0`; host-function arguments are in `A0..A5` by signature.
//! * Heap: the memory the host allocates for the runtime comes from `sc-allocator`'s
//!   `FreeingBumpHeapAllocator`, over the guest heap after the input, grown with `sbrk`.
//! * Runtime version: `Core_version`, called once per runtime and kept (a PolkaVM blob has no
//!   custom sections, so there is no `runtime_version` section to read; Wasm runtimes get
//!   sc-executor's handling, section first).
//! * Prepared runtimes (the compiled module, linked, with a pool of instances) are cached by
//!   the runtime code's hash, least recently used first out, up to
//!   [`PvmExecutorBuilder::with_runtime_cache_size`] entries.
//! * Errors are a typed [`PvmError`] (also `CodeExecutor::Error`), which
//!   `sc_executor::error::Error::from` maps to sc-executor's variants (`MethodNotFound`,
//!   `AbortedDueToPanic` with the runtime's panic message, `AbortedDueToTrap`,
//!   `Allocator(AllocatorOutOfSpace)`, ...); `RuntimeVersionOf` returns those.
//! * Feature `wasm` (default): the Wasm fallback, `RuntimeVersionOf` and that mapping, which
//!   need sc-executor (and wasmtime). Without it, Wasm code is [`PvmError::WasmNotSupported`].
//! * [`chain`] drives a runtime as a node does (genesis, block production, import) through
//!   `sp_state_machine`, with any `CodeExecutor`; [`transfer`] builds signed balance transfers
//!   for any FRAME runtime from its metadata.
//!
//! ```no_run
//! use sc_executor_pvm::{BackendKind, PvmExecutor};
//!
//! let executor = PvmExecutor::<sp_io::SubstrateHostFunctions>::builder()
//!     .with_backend(BackendKind::Auto)
//!     .with_runtime_cache_size(4)
//!     .build()
//!     .expect("the PVM engine starts");
//! // `executor` is a `CodeExecutor + RuntimeVersionOf + Clone`: pass it to
//! // `sc_service::new_full_parts_with_genesis_builder`/`new_full_client` in place of the
//! // `WasmExecutor` a node builds with `sc_service::new_wasm_executor`.
//! # let _ = executor;
//! ```
#![warn(missing_docs)]

pub mod chain;
mod error;
mod heap;
mod runtime;
pub mod transfer;

pub use error::{AllocFailure, PvmError};
pub use pvm_executor::BackendKind;
pub use runtime::PreparedRuntime;

use lru::LruCache;
use parking_lot::Mutex;
use pvm_executor::{Config, Engine, Module};
use pvm_host_functions::Linker;
#[cfg(feature = "wasm")]
use sc_executor::{RuntimeVersionOf, WasmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, Externalities, FetchRuntimeCode, ReadRuntimeVersion, RuntimeCode};
use sp_version::RuntimeVersion;
use sp_wasm_interface::HostFunctions;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// The magic bytes of a PolkaVM program blob.
pub const POLKAVM_MAGIC: &[u8; 4] = b"PVM\0";
/// The magic bytes of a Wasm module.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// What kind of runtime code a blob is, after decompression.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum CodeKind {
    /// A PolkaVM program blob: runs on the PVM executor.
    PolkaVm,
    /// A Wasm module: runs on the inner `WasmExecutor`.
    Wasm,
}

/// Decompresses runtime code if it is compressed (`sp-maybe-compressed-blob`'s zstd format,
/// with its bomb limit) and says what it is.
pub fn classify_code(code: &[u8]) -> Result<(Cow<'_, [u8]>, CodeKind), PvmError> {
    let code = sp_maybe_compressed_blob::decompress(code, sp_maybe_compressed_blob::CODE_BLOB_BOMB_LIMIT)?;
    let kind = if code.starts_with(POLKAVM_MAGIC) {
        CodeKind::PolkaVm
    } else if code.starts_with(WASM_MAGIC) {
        CodeKind::Wasm
    } else {
        return Err(PvmError::UnknownFormat { prefix: code.iter().copied().take(8).collect() });
    };
    Ok((code, kind))
}

/// Settings of a [`PvmExecutor`]; from [`PvmExecutor::builder`].
pub struct PvmExecutorBuilder<H> {
    backend: BackendKind,
    gas_limit: Option<i64>,
    max_runtime_instances: usize,
    runtime_cache_size: NonZeroUsize,
    allow_missing_host_functions: bool,
    /// `None`: as `PVM_PERF_MAP` says when the executor is built.
    perf_map: Option<bool>,
    #[cfg(feature = "wasm")]
    wasm: Option<WasmExecutor<H>>,
    _host_functions: PhantomData<fn() -> H>,
}

impl<H: HostFunctions> PvmExecutorBuilder<H> {
    /// Which backend runs PolkaVM runtimes: the interpreter, the x86-64 compiler, or `Auto`
    /// (the compiler where it runs, else the interpreter; the default).
    pub fn with_backend(mut self, backend: BackendKind) -> Self {
        self.backend = backend;
        self
    }

    /// Meters gas, giving each call `gas` units (one per instruction); a call that runs out
    /// fails. Default: no metering (as `WasmExecutor` runs Wasm runtimes without fuel).
    pub fn with_gas_limit(mut self, gas: Option<i64>) -> Self {
        self.gas_limit = gas;
        self
    }

    /// How many idle instances of one runtime are kept for reuse. Default: 2.
    pub fn with_max_runtime_instances(mut self, count: usize) -> Self {
        self.max_runtime_instances = count;
        self
    }

    /// How many runtimes (by code hash) are kept prepared. Default: 4, and at least 1.
    pub fn with_runtime_cache_size(mut self, count: usize) -> Self {
        self.runtime_cache_size = NonZeroUsize::new(count).unwrap_or(NonZeroUsize::MIN);
        self
    }

    /// Whether PolkaVM runtimes importing host functions that `H` lacks may run (calling such
    /// a function then fails the call). Default: `false`, such a runtime is refused.
    pub fn with_allow_missing_host_functions(mut self, allow: bool) -> Self {
        self.allow_missing_host_functions = allow;
        self
    }

    /// Whether compiled runtimes' code is listed in this process's perf map, for `perf report`
    /// (see [`Config::perf_map`](pvm_executor::Config::perf_map)). Default: what the
    /// environment variable `PVM_PERF_MAP` says (`1` or `0`, read when the executor is built;
    /// off when unset), as sc-executor's wasmtime reads `WASMTIME_PROFILING_STRATEGY`.
    pub fn with_perf_map(mut self, enabled: bool) -> Self {
        self.perf_map = Some(enabled);
        self
    }

    /// The executor for code that is not a PolkaVM blob. Default: `WasmExecutor::builder()`
    /// with its defaults (wasmtime, compiled). (Feature `wasm`.)
    #[cfg(feature = "wasm")]
    pub fn with_wasm_executor(mut self, wasm: WasmExecutor<H>) -> Self {
        self.wasm = Some(wasm);
        self
    }

    /// Builds the executor.
    pub fn build(self) -> Result<PvmExecutor<H>, PvmError> {
        let mut config = Config::new();
        let perf_map = match self.perf_map {
            Some(enabled) => enabled,
            None => Config::perf_map_from_env().map_err(PvmError::Engine)?.unwrap_or(false),
        };
        config.backend(self.backend).perf_map(perf_map);
        if self.gas_limit.is_none() {
            config.gas_metering(None);
        }
        let engine = Engine::new(&config).map_err(PvmError::Engine)?;
        let linker = heap::substrate_linker::<H>(self.allow_missing_host_functions)?;
        #[cfg(feature = "wasm")]
        let wasm = self.wasm.unwrap_or_else(|| WasmExecutor::builder().build());
        Ok(PvmExecutor {
            inner: Arc::new(Inner {
                engine,
                linker,
                max_runtime_instances: self.max_runtime_instances,
                gas_limit: self.gas_limit.unwrap_or(i64::MAX),
                cache: Mutex::new(LruCache::new(self.runtime_cache_size)),
            }),
            #[cfg(feature = "wasm")]
            wasm,
            _host_functions: PhantomData,
        })
    }
}

/// A runtime the cache knows, by code hash.
#[derive(Clone)]
enum Cached {
    PolkaVm(Arc<PreparedRuntime>),
    /// Code for the inner `WasmExecutor` (remembered so its code is not fetched and
    /// decompressed again on every call).
    Wasm,
}

struct Inner {
    engine: Engine,
    linker: Linker<heap::HeapState>,
    max_runtime_instances: usize,
    gas_limit: i64,
    cache: Mutex<LruCache<Vec<u8>, Cached>>,
}

/// Runs PolkaVM runtimes on the PVM executor and everything else on sc-executor's
/// `WasmExecutor`; see the [crate docs](crate). Cheap to clone (shared caches).
pub struct PvmExecutor<H> {
    inner: Arc<Inner>,
    #[cfg(feature = "wasm")]
    wasm: WasmExecutor<H>,
    _host_functions: PhantomData<fn() -> H>,
}

impl<H> Clone for PvmExecutor<H> {
    fn clone(&self) -> Self {
        PvmExecutor {
            inner: Arc::clone(&self.inner),
            #[cfg(feature = "wasm")]
            wasm: self.wasm.clone(),
            _host_functions: PhantomData,
        }
    }
}

impl<H> std::fmt::Debug for PvmExecutor<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PvmExecutor")
            .field("backend", &self.inner.engine.backend())
            .field("cached_runtimes", &self.inner.cache.lock().len())
            .finish_non_exhaustive()
    }
}

impl<H: HostFunctions> PvmExecutor<H> {
    /// Settings with their defaults.
    pub fn builder() -> PvmExecutorBuilder<H> {
        PvmExecutorBuilder {
            backend: BackendKind::Auto,
            gas_limit: None,
            max_runtime_instances: 2,
            runtime_cache_size: NonZeroUsize::new(4).expect("4 is not zero"),
            allow_missing_host_functions: false,
            perf_map: None,
            #[cfg(feature = "wasm")]
            wasm: None,
            _host_functions: PhantomData,
        }
    }

    /// An executor with the default settings.
    pub fn new() -> Result<Self, PvmError> {
        Self::builder().build()
    }

    /// The backend PolkaVM runtimes run on (never `Auto`).
    pub fn backend(&self) -> BackendKind {
        self.inner.engine.backend()
    }

    /// The executor Wasm runtimes are handed to. (Feature `wasm`.)
    #[cfg(feature = "wasm")]
    pub fn wasm_executor(&self) -> &WasmExecutor<H> {
        &self.wasm
    }

    /// Prepares PolkaVM runtime code (decompressed), bypassing the cache.
    pub fn prepare(&self, code: &[u8]) -> Result<PreparedRuntime, PvmError> {
        let module = Module::from_blob(&self.inner.engine, code).map_err(PvmError::InvalidCode)?;
        PreparedRuntime::new(&self.inner.linker, &module, self.inner.max_runtime_instances, self.inner.gas_limit)
    }

    /// The prepared runtime for `runtime_code`, or `None` if it is Wasm code.
    fn runtime(&self, runtime_code: &RuntimeCode) -> Result<Option<Arc<PreparedRuntime>>, PvmError> {
        if !runtime_code.hash.is_empty() {
            if let Some(cached) = self.inner.cache.lock().get(&runtime_code.hash).cloned() {
                return Ok(match cached {
                    Cached::PolkaVm(runtime) => Some(runtime),
                    Cached::Wasm => None,
                });
            }
        }
        let code = runtime_code.fetch_runtime_code().ok_or(PvmError::CodeNotFound)?;
        let key = match runtime_code.hash.is_empty() {
            true => sp_crypto_hashing::blake2_256(&code).to_vec(),
            false => runtime_code.hash.clone(),
        };
        self.runtime_for(key, &code)
    }

    /// The prepared runtime for `code` (as stored: maybe compressed), cached under `key`.
    fn runtime_for(&self, key: Vec<u8>, code: &[u8]) -> Result<Option<Arc<PreparedRuntime>>, PvmError> {
        let mut cache = self.inner.cache.lock();
        if let Some(cached) = cache.get(&key) {
            return Ok(match cached {
                Cached::PolkaVm(runtime) => Some(Arc::clone(runtime)),
                Cached::Wasm => None,
            });
        }
        let (code, kind) = classify_code(code)?;
        let cached = match kind {
            CodeKind::PolkaVm => Cached::PolkaVm(Arc::new(self.prepare(&code)?)),
            CodeKind::Wasm => Cached::Wasm,
        };
        cache.put(key, cached.clone());
        Ok(match cached {
            Cached::PolkaVm(runtime) => Some(runtime),
            Cached::Wasm => None,
        })
    }

    /// Calls `method` of the runtime `runtime_code` with `data` under `ext`, with typed errors:
    /// what [`CodeExecutor::call`] does, for PolkaVM code (`Ok(None)` for Wasm code, which
    /// this does not run).
    pub fn call_pvm(
        &self,
        ext: &mut dyn Externalities,
        runtime_code: &RuntimeCode,
        method: &str,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, PvmError> {
        match self.runtime(runtime_code)? {
            Some(runtime) => runtime.call_in(ext, method, data).map(Some),
            None => Ok(None),
        }
    }

    /// The runtime version of PolkaVM code (`Core_version`, read once per runtime and kept),
    /// with typed errors; `Ok(None)` for Wasm code.
    pub fn runtime_version_pvm(
        &self,
        ext: &mut dyn Externalities,
        runtime_code: &RuntimeCode,
    ) -> Result<Option<RuntimeVersion>, PvmError> {
        match self.runtime(runtime_code)? {
            Some(runtime) => runtime.version(ext).map(Some),
            None => Ok(None),
        }
    }
}

/// Errors are [`PvmError`]s whether the `wasm` feature is on or not (features must only add);
/// a Wasm runtime's errors are [`PvmError::Wasm`], and `sc_executor::error::Error::from`
/// maps any of them to sc-executor's error type.
impl<H: HostFunctions> CodeExecutor for PvmExecutor<H> {
    type Error = PvmError;

    fn call(
        &self,
        ext: &mut dyn Externalities,
        runtime_code: &RuntimeCode,
        method: &str,
        data: &[u8],
        #[cfg_attr(not(feature = "wasm"), allow(unused_variables))] context: CallContext,
    ) -> (Result<Vec<u8>, Self::Error>, bool) {
        match self.call_pvm(ext, runtime_code, method, data) {
            Ok(Some(output)) => (Ok(output), false),
            #[cfg(feature = "wasm")]
            Ok(None) => {
                let (result, native) = self.wasm.call(ext, runtime_code, method, data, context);
                (result.map_err(|error| PvmError::Wasm(Box::new(error))), native)
            }
            #[cfg(not(feature = "wasm"))]
            Ok(None) => (Err(PvmError::WasmNotSupported), false),
            Err(error) => (Err(error), false),
        }
    }
}

impl<H: HostFunctions> ReadRuntimeVersion for PvmExecutor<H> {
    fn read_runtime_version(&self, code: &[u8], ext: &mut dyn Externalities) -> Result<Vec<u8>, String> {
        let key = sp_crypto_hashing::blake2_256(code).to_vec();
        match self.runtime_for(key, code).map_err(|error| error.to_string())? {
            Some(runtime) => runtime.call_in(ext, "Core_version", &[]).map_err(|error| error.to_string()),
            #[cfg(feature = "wasm")]
            None => self.wasm.read_runtime_version(code, ext),
            #[cfg(not(feature = "wasm"))]
            None => Err(PvmError::WasmNotSupported.to_string()),
        }
    }
}

/// (Feature `wasm`: the trait is sc-executor's.)
#[cfg(feature = "wasm")]
impl<H: HostFunctions> RuntimeVersionOf for PvmExecutor<H> {
    fn runtime_version(
        &self,
        ext: &mut dyn Externalities,
        runtime_code: &RuntimeCode,
    ) -> sc_executor::error::Result<RuntimeVersion> {
        match self.runtime_version_pvm(ext, runtime_code)? {
            Some(version) => Ok(version),
            None => self.wasm.runtime_version(ext, runtime_code),
        }
    }
}
