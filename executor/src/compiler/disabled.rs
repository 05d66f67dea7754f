//! The compiler on platforms without one: the same API as `x86_64`, with uninhabited types.
//!
//! No value of [`CompiledProgram`] or [`CompiledInstance`] can exist, so the code that handles
//! them elsewhere compiles unchanged and is statically dead here (each method is
//! `match *self {}`). [`is_available`] is `false`, so no engine ever asks to compile.

use super::CompileError;
use crate::exit::{Start, Stop};
use crate::gas::{BlockCosts, GasMetering};
use crate::memory::{MemoryAccessError, MemoryImage};
use crate::program::{DecodedProgram, REG_COUNT};
use std::sync::Arc;

/// No platform support, so no process can run compiled code.
pub(crate) fn is_supported() -> bool {
    false
}

/// No compiled code runs here.
pub(crate) fn is_available() -> bool {
    false
}

/// A compiled module; none exists on this platform.
#[derive(Debug)]
pub(crate) enum CompiledProgram {}

impl CompiledProgram {
    /// Always fails: there is no compiler.
    pub fn compile(
        _decoded: &DecodedProgram,
        _costs: Option<&BlockCosts>,
        _gas: Option<GasMetering>,
        _pools: &Arc<crate::pool::Pools>,
        _perf_map: bool,
    ) -> Result<Self, CompileError> {
        Err(CompileError::Unsupported)
    }

    pub fn code_len(&self) -> usize {
        match *self {}
    }

    pub fn memory_usage(&self) -> usize {
        match *self {}
    }
}

/// A compiled instance; none exists on this platform.
#[derive(Clone, Debug)]
pub(crate) enum CompiledInstance {}

impl CompiledInstance {
    pub const CHARGES_BLOCK_ON_ENTRY: bool = true;

    pub fn new(program: &Arc<CompiledProgram>, _image: Option<&Arc<MemoryImage>>) -> Result<Self, &'static str> {
        match **program {}
    }

    pub fn run(&mut self, _decoded: &DecodedProgram, _start: Start) -> Stop {
        match *self {}
    }

    pub fn regs(&self) -> &[u64; REG_COUNT] {
        match *self {}
    }

    pub fn regs_mut(&mut self) -> &mut [u64; REG_COUNT] {
        match *self {}
    }

    pub fn gas(&self) -> i64 {
        match *self {}
    }

    pub fn gas_mut(&mut self) -> &mut i64 {
        match *self {}
    }

    pub fn read_memory(&self, _address: u32, _out: &mut [u8]) -> Result<(), MemoryAccessError> {
        match *self {}
    }

    pub fn write_memory(&mut self, _address: u32, _data: &[u8]) -> Result<(), MemoryAccessError> {
        match *self {}
    }

    pub fn memory_slice_mut(&mut self, _address: u32, _length: usize) -> Option<&mut [u8]> {
        match *self {}
    }

    pub fn is_accessible(&self, _address: u32, _length: usize, _write: bool) -> bool {
        match *self {}
    }

    pub fn sbrk(&mut self, _size: u32) -> Option<u32> {
        match *self {}
    }

    pub fn heap_size(&self) -> u32 {
        match *self {}
    }

    pub fn map_memory(&mut self, _address: u32, _length: u32, _writable: bool) -> Result<(), &'static str> {
        match *self {}
    }

    pub fn memory_regions(&self) -> Vec<(u32, u32, bool)> {
        match *self {}
    }

    pub fn reset_memory(&mut self, _image: Option<&Arc<MemoryImage>>) {
        match *self {}
    }
}
