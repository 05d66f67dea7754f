//! Library side of the `pvm` tool: the pieces its tests share with the binary.

pub mod conformance;
pub mod doom;
pub mod linking;
