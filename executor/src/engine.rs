//! The engine: configuration plus the cache of modules it has built.

use crate::config::{BackendKind, Config};
use crate::error::Error;
use crate::module::ModuleInner;
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
    /// Live modules by a hash of their bytes; entries are checked byte for byte on a hit.
    cache: Mutex<HashMap<u64, Vec<Weak<ModuleInner>>>>,
}

/// Counters of the engine's module cache.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct CacheStats {
    /// Modules served from the cache.
    pub hits: u64,
    /// Modules built because no live copy existed.
    pub misses: u64,
}

impl Engine {
    /// Creates an engine, resolving `Auto` and the `PVM_BACKEND` override to a concrete backend.
    pub fn new(config: &Config) -> Result<Engine, Error> {
        let backend = match config.effective_backend().map_err(Error::Config)? {
            BackendKind::Interpreter | BackendKind::Auto => BackendKind::Interpreter,
            BackendKind::Compiler => return Err(Error::BackendUnavailable("compiler")),
        };
        Ok(Engine {
            inner: Arc::new(EngineInner { config: config.clone(), backend, cache: Mutex::new(HashMap::new()) }),
        })
    }

    /// The backend modules run on (never `Auto`).
    pub fn backend(&self) -> BackendKind {
        self.inner.backend
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn cached(
        &self,
        bytes: &[u8],
        build: impl FnOnce() -> Result<Arc<ModuleInner>, Error>,
    ) -> Result<Arc<ModuleInner>, Error> {
        if !self.inner.config.cache_modules {
            return build();
        }
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        let key = hasher.finish();
        {
            let mut cache = self.inner.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(entries) = cache.get_mut(&key) {
                entries.retain(|weak| weak.strong_count() > 0);
                if let Some(module) = entries.iter().filter_map(Weak::upgrade).find(|module| module.bytes[..] == *bytes)
                {
                    return Ok(module);
                }
            }
        }
        let module = build()?;
        let mut cache = self.inner.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.entry(key).or_default().push(Arc::downgrade(&module));
        Ok(module)
    }
}
