//! A PVM executor: the PolkaVM / JAM virtual machine for Substrate-style nodes.
//!
//! Layers, each in its own module, each depending only on the ones before it:
//!
//! * [`program`]: formats and the instruction set (one table drives decoding, disassembly,
//!   assembly, interpretation and compilation);
//! * [`gas`]: the cost model;
//! * [`interpreter`]: the reference semantics;
//! * [`engine`]: the public API (`Config` -> `Engine` -> `Module` -> `Instance`).
#![warn(missing_docs)]

pub mod program;
