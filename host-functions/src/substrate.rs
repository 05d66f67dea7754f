//! Substrate host functions (`sp_wasm_interface::HostFunctions`, e.g.
//! `sp_io::SubstrateHostFunctions`) on the PVM, unchanged.
//!
//! The register convention is the one of Substrate's own PolkaVM executor
//! (`sc-executor-polkavm`) for 64-bit guests, which the runtime side
//! (`sp-runtime-interface` with `polkavm_import`) is built for:
//!
//! * the import name is the function's [`Function::name`], e.g. `ext_storage_get_version_1`;
//! * argument `n` of the signature is in the `n`-th argument register (`A0..A5`), one
//!   register per argument whatever its type: an `I32` is the register's low 32 bits, an
//!   `I64` all 64 bits (so a fat pointer, packed `ptr | len << 32`, is one register);
//!   `F32`/`F64` likewise as raw bits;
//! * the result, if any, goes to `A0`: an `I32` sign-extended to 64 bits, an `I64` as is;
//! * `FunctionContext::allocate_memory`/`deallocate_memory` use the instance's
//!   [`GuestAllocator`](crate::GuestAllocator) (freeing, reusing blocks, growing the heap with
//!   `sbrk`), where `sc-executor-polkavm` only bumps the heap and cannot free;
//! * `register_panic_error_message` (from `abort_on_panic`, after which the guest traps) is
//!   kept and reported in [`CallError::Abort`](crate::CallError::Abort).
//!
//! A host function that returns an error, or panics (e.g. a storage function called without
//! externalities), stops the guest with a trap carrying the message; the host carries on.

use crate::abi::Flow;
use crate::error::{HostError, LinkError};
use crate::linker::{Caller, Linker};
use pvm_executor::program::Reg;
use sp_wasm_interface::{Function, FunctionContext, HostFunctions, Pointer, Value, ValueType, WordSize};
use std::marker::PhantomData;

/// Where a Substrate host function's `allocate_memory`/`deallocate_memory` go: the one
/// choice an embedder may make about the adapter. [`GuestHeap`], the instance's
/// [`GuestAllocator`](crate::GuestAllocator), is the default; `sc-executor-pvm` plugs in
/// `sc-allocator`'s heap.
pub trait SubstrateHeap<T> {
    /// Allocates `size` bytes of guest memory for the calling instance.
    fn allocate(caller: &mut Caller<'_, T>, size: WordSize) -> Result<u32, String>;
    /// Frees memory from [`SubstrateHeap::allocate`].
    fn deallocate(caller: &mut Caller<'_, T>, address: u32) -> Result<(), String>;
}

/// The instance's own [`GuestAllocator`](crate::GuestAllocator).
pub struct GuestHeap;

impl<T> SubstrateHeap<T> for GuestHeap {
    fn allocate(caller: &mut Caller<'_, T>, size: WordSize) -> Result<u32, String> {
        caller.allocate(size).map_err(|error| error.to_string())
    }

    fn deallocate(caller: &mut Caller<'_, T>, address: u32) -> Result<(), String> {
        caller.deallocate(address).map_err(|error| error.to_string())
    }
}

/// [`FunctionContext`] over a calling PVM instance: its memory and the heap `A`.
pub struct SubstrateContext<'c, 'a, T, A = GuestHeap> {
    caller: &'c mut Caller<'a, T>,
    heap: PhantomData<A>,
}

impl<'c, 'a, T, A> SubstrateContext<'c, 'a, T, A> {
    /// A context over `caller`.
    pub fn new(caller: &'c mut Caller<'a, T>) -> Self {
        SubstrateContext { caller, heap: PhantomData }
    }
}

impl<T, A: SubstrateHeap<T>> FunctionContext for SubstrateContext<'_, '_, T, A> {
    /// Piecewise, like [`Caller::read_memory_vec`]: the trait's provided method allocates
    /// `size` bytes before reading, and `size` is the guest's (a fat pointer's length), so a
    /// guest could make the host allocate up to 4 GiB for a range it does not have.
    fn read_memory(&mut self, address: Pointer<u8>, size: WordSize) -> sp_wasm_interface::Result<Vec<u8>> {
        self.caller.read_memory_vec(u32::from(address), size).map_err(|error| error.to_string())
    }

    fn read_memory_into(&mut self, address: Pointer<u8>, dest: &mut [u8]) -> sp_wasm_interface::Result<()> {
        self.caller.read_memory(u32::from(address), dest).map_err(|error| error.to_string())
    }

    fn write_memory(&mut self, address: Pointer<u8>, data: &[u8]) -> sp_wasm_interface::Result<()> {
        self.caller.write_memory(u32::from(address), data).map_err(|error| error.to_string())
    }

    fn allocate_memory(&mut self, size: WordSize) -> sp_wasm_interface::Result<Pointer<u8>> {
        A::allocate(self.caller, size).map(Pointer::new)
    }

    fn deallocate_memory(&mut self, ptr: Pointer<u8>) -> sp_wasm_interface::Result<()> {
        A::deallocate(self.caller, u32::from(ptr))
    }

    fn register_panic_error_message(&mut self, message: &str) {
        self.caller.set_abort_message(message);
    }
}

/// A Substrate host function's arguments as read from `A0..A5`: at most one per argument
/// register, held inline so that a host call allocates nothing for them.
#[derive(Clone, Copy, Debug)]
pub struct Arguments {
    values: [Value; Reg::ARGS.len()],
    len: usize,
}

impl Arguments {
    /// The arguments, in signature order.
    pub fn as_slice(&self) -> &[Value] {
        &self.values[..self.len]
    }
}

impl IntoIterator for Arguments {
    type Item = Value;
    type IntoIter = std::iter::Take<std::array::IntoIter<Value, { Reg::ARGS.len() }>>;

    fn into_iter(self) -> Self::IntoIter {
        self.values.into_iter().take(self.len)
    }
}

/// Reads a Substrate host function's arguments from `A0..A5` by its signature.
pub fn read_arguments<T>(caller: &Caller<'_, T>, args: &[ValueType]) -> Result<Arguments, HostError> {
    if args.len() > Reg::ARGS.len() {
        return Err(too_many_arguments(args.len()));
    }
    // The unused slots are never read: `len` bounds both views of the array.
    let mut values = [Value::I64(0); Reg::ARGS.len()];
    for ((slot, &kind), reg) in values.iter_mut().zip(args).zip(Reg::ARGS) {
        *slot = argument(kind, caller.reg(reg));
    }
    Ok(Arguments { values, len: args.len() })
}

fn too_many_arguments(count: usize) -> HostError {
    HostError::new(format!("{count} arguments do not fit in the registers A0..A5"))
}

/// An argument of type `kind` from the value of its register.
#[inline]
fn argument(kind: ValueType, raw: u64) -> Value {
    match kind {
        ValueType::I32 => Value::I32(raw as u32 as i32),
        ValueType::I64 => Value::I64(raw as i64),
        ValueType::F32 => Value::F32(raw as u32),
        ValueType::F64 => Value::F64(raw),
    }
}

/// The register value of a Substrate host function's result.
pub fn result_register(value: Value) -> u64 {
    match value {
        Value::I32(value) => i64::from(value) as u64,
        Value::I64(value) => value as u64,
        Value::F32(bits) => u64::from(bits),
        Value::F64(bits) => bits,
    }
}

/// Runs one Substrate host function for the calling instance, allocating from the heap `A`.
/// `args` is the function's argument list ([`Function::signature`]), which the linker looks
/// up once when it defines the function rather than on every call.
pub fn call_substrate_function<T, A: SubstrateHeap<T>>(
    function: &dyn Function,
    args: &[ValueType],
    mut caller: Caller<'_, T>,
) -> Result<Flow, HostError> {
    // The registers are read first (the context below borrows the caller) and each value is
    // made as the function takes it. Collecting the values in an `Arguments` first (six
    // 16-byte values, moved through a `Result` and into an iterator) cost more than all the
    // rest of this adapter: several copies per call, each stalling on the stores before it.
    if args.len() > Reg::ARGS.len() {
        return Err(too_many_arguments(args.len()));
    }
    let mut registers = [0; Reg::ARGS.len()];
    for (slot, reg) in registers.iter_mut().zip(Reg::ARGS).take(args.len()) {
        *slot = caller.reg(reg);
    }
    if log::log_enabled!(target: "pvm-host", log::Level::Trace) {
        let values: Vec<Value> = args.iter().zip(registers).map(|(&kind, raw)| argument(kind, raw)).collect();
        log::trace!(target: "pvm-host", "calling `{}` with {values:?}", function.name());
    }
    let mut values = args.iter().zip(registers).map(|(&kind, raw)| argument(kind, raw));
    let result = function.execute(&mut SubstrateContext::<T, A>::new(&mut caller), &mut values)?;
    if let Some(value) = result {
        caller.set_reg(Reg::A0, result_register(value));
    }
    Ok(Flow::CONTINUE)
}

impl<T: 'static> Linker<T> {
    /// Defines every function of a Substrate host-function set, such as
    /// `sp_io::SubstrateHostFunctions`, under its own name (see the [module docs](self) for
    /// the register convention).
    ///
    /// ```
    /// use pvm_host_functions::Linker;
    ///
    /// let mut linker = Linker::<()>::new();
    /// linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>()?;
    /// # Ok::<(), pvm_host_functions::LinkError>(())
    /// ```
    pub fn define_substrate_host_functions<H: HostFunctions>(&mut self) -> Result<&mut Self, LinkError> {
        self.define_substrate_host_functions_with::<H, GuestHeap>()
    }

    /// Like [`Linker::define_substrate_host_functions`], with the functions' guest memory
    /// allocations served by the heap `A`.
    pub fn define_substrate_host_functions_with<H: HostFunctions, A: SubstrateHeap<T> + 'static>(
        &mut self,
    ) -> Result<&mut Self, LinkError> {
        for function in H::host_functions() {
            self.define_substrate_function_with::<A>(function)?;
        }
        Ok(self)
    }

    /// Defines one Substrate host function under its own name.
    pub fn define_substrate_function(&mut self, function: &'static dyn Function) -> Result<&mut Self, LinkError> {
        self.define_substrate_function_with::<GuestHeap>(function)
    }

    /// Like [`Linker::define_substrate_function`], allocating from the heap `A`.
    pub fn define_substrate_function_with<A: SubstrateHeap<T> + 'static>(
        &mut self,
        function: &'static dyn Function,
    ) -> Result<&mut Self, LinkError> {
        let args = function.signature().args;
        let count = args.len();
        if count > Reg::ARGS.len() {
            return Err(LinkError::TooManyArguments { name: function.name().to_string(), count });
        }
        self.func_raw(function.name(), move |caller| call_substrate_function::<T, A>(function, &args, caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_sign_extended_like_sc_executor_polkavm() {
        assert_eq!(result_register(Value::I32(-1)), u64::MAX);
        assert_eq!(result_register(Value::I32(0x7fff_ffff)), 0x7fff_ffff);
        assert_eq!(result_register(Value::I64(-2)), u64::MAX - 1);
        assert_eq!(result_register(Value::F32(0x8000_0000)), 0x8000_0000);
    }
}
