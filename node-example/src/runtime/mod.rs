//! Contract execution: the host API, the VM, compiled modules, the state overlay, the call
//! stack, and how a frame ends.

pub mod cache;
pub mod exec;
pub mod host;
pub mod outcome;
pub mod state;
pub mod vm;
