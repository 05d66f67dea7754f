//! The engine: configuration plus the cache of modules it has built.

use crate::compiler::{self, CompiledProgram};
use crate::config::{BackendKind, Config, ModuleConfig};
use crate::error::Error;
use crate::module::ModuleInner;
use crate::pool::{lock, Pools};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};

/// Builds and caches modules with one configuration. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub config: Config,
    pub backend: BackendKind,
    /// Live modules by a hash of their bytes and [`ModuleConfig`]; entries are checked byte
    /// for byte (and the configuration) on a hit.
    cache: Mutex<HashMap<u64, Vec<Weak<ModuleInner>>>>,
    /// Resources of dropped modules and instances, kept for reuse (see [`crate::pool`]).
    pub pools: Arc<Pools>,
    /// Compiled code, kept after its modules are gone (bounded), by a hash of the bytes.
    code_cache: Mutex<CodeCache>,
}

/// The engine's cache of compiled code: the most recently used `CODE_CACHE_ENTRIES` programs.
#[derive(Debug, Default)]
struct CodeCache {
    entries: HashMap<u64, Vec<CodeEntry>>,
    tick: u64,
    count: usize,
    stats: CacheStats,
}

#[derive(Debug)]
struct CodeEntry {
    bytes: Vec<u8>,
    code: Arc<CompiledProgram>,
    last_used: u64,
}

/// How many compiled programs an engine keeps after their modules are dropped.
pub const CODE_CACHE_ENTRIES: usize = 256;

/// Counters of the engine's module cache.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct CacheStats {
    /// Modules served from the cache.
    pub hits: u64,
    /// Modules built because no live copy existed.
    pub misses: u64,
}

impl Engine {
    /// Creates an engine, resolving `Auto` to a concrete backend.
    ///
    /// # Errors
    ///
    /// [`Error::BackendUnavailable`] if the configuration asks for the compiler where it does
    /// not run.
    pub fn new(config: &Config) -> Result<Engine, Error> {
        // A compile-only engine never runs code, so it needs the compiler but none of what
        // running needs (`Instance::new` refuses its modules).
        let compiler = if config.compile_only { compiler::exists() } else { compiler::is_available() };
        let backend = match config.backend {
            BackendKind::Interpreter => BackendKind::Interpreter,
            BackendKind::Auto if compiler => BackendKind::Compiler,
            BackendKind::Auto => BackendKind::Interpreter,
            BackendKind::Compiler if compiler => BackendKind::Compiler,
            BackendKind::Compiler => return Err(Error::BackendUnavailable("compiler")),
        };
        #[allow(unused_mut)]
        let mut pools = Pools::new(&config.pool_limits);
        #[cfg(pvm_compiler)]
        if backend == BackendKind::Compiler
            && config.sandbox == crate::config::SandboxKind::Process
            && !config.compile_only
        {
            let process = crate::sandbox::process::ProcessSandbox::new(config.process_workers)?;
            pools.process = Some(Arc::new(process));
        }
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                backend,
                cache: Mutex::new(HashMap::new()),
                pools: Arc::new(pools),
                code_cache: Mutex::new(CodeCache::default()),
            }),
        })
    }

    /// The backend modules run on (never `Auto`).
    pub fn backend(&self) -> BackendKind {
        self.inner.backend
    }

    /// How gas is metered (`None`: it is not, and instances never run out of gas).
    pub fn gas_metering(&self) -> Option<crate::gas::GasMetering> {
        self.inner.config.gas_metering
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Where compiled code runs: [`SandboxKind::Process`](crate::SandboxKind::Process) only
    /// for the compiler backend configured so; the interpreter runs in-process.
    pub fn sandbox(&self) -> crate::SandboxKind {
        #[cfg(pvm_compiler)]
        if self.inner.pools.process.is_some() {
            return crate::SandboxKind::Process;
        }
        crate::SandboxKind::InProcess
    }

    /// With the process sandbox: whether its workers run in namespaces of their own (user,
    /// PID, network, mount, IPC, UTS), which the kernel may refuse. `None` for other engines.
    pub fn process_sandbox_namespaces(&self) -> Option<bool> {
        #[cfg(pvm_compiler)]
        if let Some(process) = &self.inner.pools.process {
            return Some(process.namespaces().isolated);
        }
        None
    }

    /// Makes a process-sandbox worker issue system call `number` with no arguments, as guest
    /// code that escaped the compiler's checks could; its seccomp filter must kill it (the
    /// result is then [`ProcessSandboxError::WorkerDied`](crate::ProcessSandboxError) with
    /// `SIGSYS`). For tests of the filter; `None` for other engines.
    #[doc(hidden)]
    pub fn process_sandbox_try_syscall(&self, number: i64) -> Option<Result<i64, Error>> {
        #[cfg(pvm_compiler)]
        if let Some(process) = &self.inner.pools.process {
            return Some(process.try_syscall(number).map_err(Error::from));
        }
        let _ = number;
        None
    }

    /// Hits and misses of the compiled-code cache (all zero on the interpreter backend).
    pub fn code_cache_stats(&self) -> CacheStats {
        lock(&self.inner.code_cache).stats
    }

    /// The compiled code for `bytes`, from the cache or built (and cached) now.
    pub(crate) fn compiled(
        &self,
        bytes: &[u8],
        build: impl FnOnce() -> Result<CompiledProgram, Error>,
    ) -> Result<Arc<CompiledProgram>, Error> {
        if !self.inner.config.cache_modules {
            return build().map(Arc::new);
        }
        let key = hash(bytes);
        {
            let mut cache = lock(&self.inner.code_cache);
            cache.tick += 1;
            let tick = cache.tick;
            let found = cache.entries.get_mut(&key).and_then(|entries| {
                entries.iter_mut().find(|entry| entry.bytes[..] == *bytes).map(|entry| {
                    entry.last_used = tick;
                    entry.code.clone()
                })
            });
            if let Some(code) = found {
                cache.stats.hits += 1;
                return Ok(code);
            }
            cache.stats.misses += 1;
        }
        let code = Arc::new(build()?);
        let mut cache = lock(&self.inner.code_cache);
        if cache.count >= CODE_CACHE_ENTRIES {
            // Evict the least recently used entry.
            let oldest = cache
                .entries
                .iter()
                .flat_map(|(key, entries)| entries.iter().enumerate().map(move |(i, entry)| (entry.last_used, *key, i)))
                .min();
            if let Some((_, key, i)) = oldest {
                if let Some(entries) = cache.entries.get_mut(&key) {
                    entries.swap_remove(i);
                    if entries.is_empty() {
                        cache.entries.remove(&key);
                    }
                }
                cache.count -= 1;
            }
        }
        let last_used = cache.tick;
        cache.entries.entry(key).or_default().push(CodeEntry { bytes: bytes.to_vec(), code: code.clone(), last_used });
        cache.count += 1;
        Ok(code)
    }

    /// What a module keeps of the `bytes` it was loaded from for [`Engine::cached`] to compare:
    /// a copy, or nothing if this engine does not cache modules.
    pub(crate) fn cache_key_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        if self.inner.config.cache_modules {
            bytes.to_vec()
        } else {
            Vec::new()
        }
    }

    /// The live module loaded from `bytes` with `config`, or one built (and cached) now.
    pub(crate) fn cached(
        &self,
        bytes: &[u8],
        config: &ModuleConfig,
        build: impl FnOnce() -> Result<Arc<ModuleInner>, Error>,
    ) -> Result<Arc<ModuleInner>, Error> {
        if !self.inner.config.cache_modules {
            return build();
        }
        let key = {
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            config.hash(&mut hasher);
            hasher.finish()
        };
        {
            let mut cache = lock(&self.inner.cache);
            if let Some(entries) = cache.get_mut(&key) {
                entries.retain(|weak| weak.strong_count() > 0);
                if let Some(module) = entries
                    .iter()
                    .filter_map(Weak::upgrade)
                    .find(|module| module.bytes[..] == *bytes && module.config == *config)
                {
                    return Ok(module);
                }
            }
        }
        let module = build()?;
        let mut cache = lock(&self.inner.cache);
        cache.entry(key).or_default().push(Arc::downgrade(&module));
        Ok(module)
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}
