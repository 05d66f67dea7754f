//! The compiled-module cache: an LRU keyed by code hash, bounded in entries and in bytes,
//! with hit, miss and eviction counters (exposed over RPC and in `/metrics`).
//!
//! Generic over the module type so that it does not depend on the VM.

use crate::chain::primitives::H256;
use lru::LruCache;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counters and occupancy of a [`ModuleCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Lookups that found a module.
    pub hits: u64,
    /// Lookups that had to compile.
    pub misses: u64,
    /// Modules dropped to respect the bounds.
    pub evictions: u64,
    /// Modules compiled (misses that compiled successfully).
    pub compilations: u64,
    /// Modules held now.
    pub entries: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// Bound on entries.
    pub max_entries: u64,
    /// Bound on bytes.
    pub max_bytes: u64,
}

struct Inner<M> {
    lru: LruCache<H256, (Arc<M>, usize)>,
    bytes: usize,
}

/// LRU cache of compiled modules.
pub struct ModuleCache<M> {
    inner: Mutex<Inner<M>>,
    max_entries: usize,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    compilations: AtomicU64,
}

impl<M> ModuleCache<M> {
    /// A cache holding at most `max_entries` modules and `max_bytes` bytes (both above 0).
    pub fn new(max_entries: usize, max_bytes: usize) -> ModuleCache<M> {
        ModuleCache {
            inner: Mutex::new(Inner { lru: LruCache::unbounded(), bytes: 0 }),
            max_entries: max_entries.max(1),
            max_bytes: max_bytes.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            compilations: AtomicU64::new(0),
        }
    }

    /// The module for `code_hash`, compiling it with `compile` (which returns the module and
    /// its size in bytes) on a miss. Compilation runs outside the lock, so two threads
    /// missing the same hash at once may both compile; the second insert wins.
    pub fn get_or_compile<E>(
        &self,
        code_hash: H256,
        compile: impl FnOnce() -> Result<(M, usize), E>,
    ) -> Result<Arc<M>, E> {
        if let Some((module, _)) = self.inner.lock().lru.get(&code_hash) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (module, size) = compile()?;
        self.compilations.fetch_add(1, Ordering::Relaxed);
        let module = Arc::new(module);
        if size > self.max_bytes {
            // Larger than the whole cache: use it once, keep nothing.
            return Ok(module);
        }
        let mut inner = self.inner.lock();
        if let Some((_, old_size)) = inner.lru.put(code_hash, (module.clone(), size)) {
            inner.bytes -= old_size;
        }
        inner.bytes += size;
        while inner.lru.len() > self.max_entries || inner.bytes > self.max_bytes {
            match inner.lru.pop_lru() {
                Some((_, (_, evicted_size))) => {
                    inner.bytes -= evicted_size;
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => break,
            }
        }
        Ok(module)
    }

    /// Drops every module (counters stay). For measuring cold-cache cost.
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.lru.clear();
        inner.bytes = 0;
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            compilations: self.compilations.load(Ordering::Relaxed),
            entries: inner.lru.len() as u64,
            bytes: inner.bytes as u64,
            max_entries: self.max_entries as u64,
            max_bytes: self.max_bytes as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> H256 {
        H256::repeat_byte(n)
    }

    #[test]
    fn hit_after_miss_compiles_once() {
        let cache = ModuleCache::<String>::new(4, 1000);
        let mut compiled = 0;
        for _ in 0..3 {
            let module = cache
                .get_or_compile::<()>(hash(1), || {
                    compiled += 1;
                    Ok(("module".to_string(), 10))
                })
                .unwrap();
            assert_eq!(*module, "module");
        }
        assert_eq!(compiled, 1);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.compilations, stats.entries, stats.bytes), (2, 1, 1, 1, 10));
    }

    #[test]
    fn evicts_least_recently_used_by_entries() {
        let cache = ModuleCache::<u8>::new(2, 1000);
        cache.get_or_compile::<()>(hash(1), || Ok((1, 1))).unwrap();
        cache.get_or_compile::<()>(hash(2), || Ok((2, 1))).unwrap();
        cache.get_or_compile::<()>(hash(1), || Ok((1, 1))).unwrap(); // 1 is now most recent
        cache.get_or_compile::<()>(hash(3), || Ok((3, 1))).unwrap(); // evicts 2
        assert_eq!(cache.stats().evictions, 1);
        let mut recompiled = false;
        cache
            .get_or_compile::<()>(hash(1), || {
                recompiled = true;
                Ok((1, 1))
            })
            .unwrap();
        assert!(!recompiled, "1 stayed");
        cache
            .get_or_compile::<()>(hash(2), || {
                recompiled = true;
                Ok((2, 1))
            })
            .unwrap();
        assert!(recompiled, "2 was evicted");
    }

    #[test]
    fn evicts_by_bytes_and_skips_oversized_modules() {
        let cache = ModuleCache::<u8>::new(10, 100);
        cache.get_or_compile::<()>(hash(1), || Ok((1, 60))).unwrap();
        cache.get_or_compile::<()>(hash(2), || Ok((2, 60))).unwrap();
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes, stats.evictions), (1, 60, 1));
        cache.get_or_compile::<()>(hash(3), || Ok((3, 500))).unwrap();
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes), (1, 60));
    }

    #[test]
    fn clear_drops_modules_and_keeps_counters() {
        let cache = ModuleCache::<u8>::new(10, 100);
        cache.get_or_compile::<()>(hash(1), || Ok((1, 10))).unwrap();
        cache.clear();
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes, stats.misses), (0, 0, 1));
        cache.get_or_compile::<()>(hash(1), || Ok((1, 10))).unwrap();
        assert_eq!(cache.stats().compilations, 2);
    }

    #[test]
    fn compile_errors_are_returned_and_not_cached() {
        let cache = ModuleCache::<u8>::new(10, 100);
        assert_eq!(cache.get_or_compile(hash(1), || Err("bad code")).unwrap_err(), "bad code");
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.stats().misses, 1);
    }
}
