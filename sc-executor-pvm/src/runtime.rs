//! A prepared PolkaVM runtime: the linked module, a pool of instances, and its version once
//! read; and the runtime-call convention.

use crate::error::PvmError;
use crate::heap::HeapState;
use codec::Decode;
use parking_lot::Mutex;
use pvm_executor::Module;
use pvm_host_functions::{InstancePre, LinkedInstance, Linker};
use sp_externalities::Externalities;
use sp_version::RuntimeVersion;
use std::sync::OnceLock;

const ALIGNMENT: u32 = 8;
const PAGE_SIZE: u32 = 65536;

/// A runtime ready to be called: its module linked with the host functions, and idle
/// instances kept for reuse (memory reset between calls).
pub struct PreparedRuntime {
    pre: InstancePre<HeapState>,
    pool: Mutex<Vec<LinkedInstance<HeapState>>>,
    max_instances: usize,
    gas_limit: i64,
    version: OnceLock<RuntimeVersion>,
}

impl std::fmt::Debug for PreparedRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRuntime")
            .field("imports", &self.pre.module().imports().len())
            .field("exports", &self.pre.module().exports().len())
            .field("idle_instances", &self.pool.lock().len())
            .finish_non_exhaustive()
    }
}

impl PreparedRuntime {
    pub(crate) fn new(
        linker: &Linker<HeapState>,
        module: &Module,
        max_instances: usize,
        gas_limit: i64,
    ) -> Result<Self, PvmError> {
        if module.memory_map().is_none() {
            return Err(PvmError::NotAContainer);
        }
        let pre = linker.instantiate_pre(module)?;
        Ok(PreparedRuntime { pre, pool: Mutex::new(Vec::new()), max_instances, gas_limit, version: OnceLock::new() })
    }

    /// The module.
    pub fn module(&self) -> &Module {
        self.pre.module()
    }

    /// Whether the runtime exports `method`.
    pub fn has_method(&self, method: &str) -> bool {
        self.module().export_pc(method).is_some()
    }

    /// Calls `method` with `input` under the externalities `ext`.
    pub fn call_in(&self, ext: &mut dyn Externalities, method: &str, input: &[u8]) -> Result<Vec<u8>, PvmError> {
        sp_externalities::set_and_run_with_externalities(ext, || {
            // A node's panic handler aborts the process on a panic; a host function that
            // panics must only fail the call (the linker catches it), as in sc-executor.
            let _guard = sp_panic_handler::AbortGuard::force_unwind();
            self.call(method, input)
        })
    }

    /// Calls `method` with `input`, under whatever externalities the thread has set.
    ///
    /// The convention (that of `sc-executor-polkavm`): the input is placed at the heap base
    /// (the heap grown over it with `sbrk`), the export is called with `A0 = pointer`,
    /// `A1 = length`, and returns `pointer | length << 32` of its output in `A0`.
    pub fn call(&self, method: &str, input: &[u8]) -> Result<Vec<u8>, PvmError> {
        if !self.has_method(method) {
            return Err(PvmError::MissingExport { method: method.to_string() });
        }
        let pooled = self.pool.lock().pop();
        let mut instance = match pooled {
            Some(instance) => instance,
            None => self.pre.instantiate(HeapState::default())?,
        };
        let result = self.call_on(&mut instance, method, input);
        let mut pool = self.pool.lock();
        if pool.len() < self.max_instances {
            pool.push(instance);
        }
        result
    }

    fn call_on(
        &self,
        instance: &mut LinkedInstance<HeapState>,
        method: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, PvmError> {
        let too_large = || PvmError::InputTooLarge { method: method.to_string(), length: input.len() };
        instance.reset_memory();
        let map = self.module().memory_map().ok_or(PvmError::NotAContainer)?;
        let length = u32::try_from(input.len()).map_err(|_| too_large())?;
        // The input at the heap base, then the allocator's region, aligned.
        let region_start = u64::from(map.heap_base) + u64::from(length);
        let region_start =
            u32::try_from(region_start.next_multiple_of(u64::from(ALIGNMENT))).map_err(|_| too_large())?;
        instance.instance_mut().sbrk(region_start - map.heap_base).ok_or_else(too_large)?;
        instance.write_memory(map.heap_base, input).map_err(|_| too_large())?;
        let heap_end = u64::from(map.heap_base) + u64::from(map.max_heap_size);
        let max_pages = (heap_end.saturating_sub(u64::from(region_start)) / u64::from(PAGE_SIZE)) as u32;
        instance.data_mut().begin(region_start, max_pages);
        instance.set_gas(self.gas_limit);
        let result = instance.call(method, &[u64::from(map.heap_base), u64::from(length)]);
        let alloc_failure = instance.data_mut().end();
        let packed = result.map_err(|error| PvmError::from_call(method, error, alloc_failure))?;
        let (ptr, len) = (packed as u32, (packed >> 32) as u32);
        instance.read_memory_vec(ptr, len).map_err(|_| PvmError::InvalidOutput { method: method.to_string(), ptr, len })
    }

    /// The runtime's version: `Core_version` called once (under `ext`) and kept.
    pub fn version(&self, ext: &mut dyn Externalities) -> Result<RuntimeVersion, PvmError> {
        if let Some(version) = self.version.get() {
            return Ok(version.clone());
        }
        let encoded = self.call_in(ext, "Core_version", &[])?;
        let version = RuntimeVersion::decode(&mut &encoded[..]).map_err(PvmError::InvalidVersion)?;
        Ok(self.version.get_or_init(|| version).clone())
    }
}
