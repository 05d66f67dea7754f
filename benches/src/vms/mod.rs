//! One adapter per VM configuration. Each splits a run into the phases measured separately:
//! compile (module creation from bytes), instantiate, and execute (one call on a fresh instance).

mod native;
mod ours;
mod peer_polkavm;
mod peer_wasmtime;

use crate::manifest::Program;

/// A VM configuration under test.
pub trait Vm {
    /// Its column name in the reports.
    fn name(&self) -> &'static str;
    /// Whether module creation and instantiation exist as separate phases (not for native code).
    fn has_setup_phases(&self) -> bool {
        true
    }
    /// Whether every instance starts from the program's initial state. Native code keeps its
    /// static data between calls, so only its first call in a process can be checked.
    fn fresh_instances(&self) -> bool {
        true
    }
    /// Creates a module from the program's bytes.
    fn compile(&self, program: &Program) -> Result<Box<dyn Compiled>, String>;
    /// The same configuration on a new engine, for the first-module compile time (`None`
    /// where that is not measured).
    fn fresh(&self) -> Option<Result<Box<dyn Vm>, String>> {
        None
    }
    /// Whether [`Vm::fresh`] gives a new engine.
    fn has_fresh(&self) -> bool {
        false
    }
}

/// A module, ready to instantiate.
pub trait Compiled {
    /// Creates a fresh instance.
    fn instantiate(&self) -> Result<Box<dyn Running>, String>;
}

/// An instance, ready to call.
pub trait Running {
    /// Calls the program's export with `arg`; returns its result.
    fn call(&mut self, arg: u64) -> Result<u64, String>;
}

/// Every VM configuration that works on this machine, and notes on those that do not.
pub fn all() -> (Vec<Box<dyn Vm>>, Vec<String>) {
    let mut vms: Vec<Box<dyn Vm>> = Vec::new();
    let mut notes = Vec::new();
    for candidate in ours::all().into_iter().chain(peer_wasmtime::all()).chain(peer_polkavm::all()) {
        match candidate {
            Ok(vm) => vms.push(vm),
            Err(note) => notes.push(note),
        }
    }
    vms.push(Box::new(native::Native));
    (vms, notes)
}
