//! Program formats and the instruction set: everything about a program that holds before it
//! runs. Nothing here executes code or touches the host.
//!
//! * [`isa`]: the single instruction table and everything derived from it;
//! * [`ProgramBlob`]: the PolkaVM container format; [`RawProgram`]: the Gray Paper raw format;
//! * [`ProgramCode`] / [`DecodedProgram`]: the code section and its one-time decoding;
//! * [`MemoryMap`]: where a container program's memory lives.

pub mod asm;
pub mod blob;
pub mod builder;
pub mod code;
pub mod disasm;
pub mod error;
pub mod isa;
pub mod memory_map;
pub mod raw;
pub mod reg;
pub mod varint;

pub use blob::{Export, ProgramBlob, ProgramBlobBuilder};
pub use builder::{BuildError, BuiltCode, CodeBuilder, Label, Target};
pub use code::{DecodeBuffers, DecodedInstruction, DecodedProgram, DynamicJump, ProgramCode, Semantics, HALT_ADDRESS};
pub use error::{BlobError, BlobErrorKind};
pub use isa::{
    sext, AccessKind, Address, ArgKind, Args, Instruction, InstructionSet, InstructionVisitor, MemoryAccess, Opcode,
};
pub use memory_map::{MemoryConfig, MemoryMap, PageSize, StackOverflow, PAGE_SIZE};
pub use raw::RawProgram;
pub use reg::{Reg, REG_COUNT};
