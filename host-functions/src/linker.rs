//! The registry: [`Linker`] maps import names to host functions, [`InstancePre`] is a module
//! with its imports resolved, [`LinkedInstance`] runs the guest and services its host calls,
//! and [`Caller`] is what a host function sees of the instance that called it.
//!
//! Besides the per-instance user data `T`, a call may lend its host functions a per-call
//! context that borrows from the caller's stack frame (see [`CallContext`]).

use crate::abi::{AbiValue, CallArgs, CallResult, FatPtr, Flow, HostReturn};
use crate::allocator::{AllocError, GuestAllocator};
use crate::error::{CallError, HostError, LinkError};
use pvm_executor::program::Reg;
use pvm_executor::{EntryPoint, Exit, Instance, MemoryAccessError, Module};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// A family of per-call contexts: what [`LinkedInstance::call_in`] lends to the host
/// functions for the duration of one call, as [`Caller::context`].
///
/// User data `T` must be `'static` because the linker, its host functions and the instances
/// outlive any one call. A context is for what does not: state that a call borrows from its
/// caller (a database transaction, a call stack, externalities). `Context<'c>` is that
/// state when borrowed for `'c`; the family type itself is only a name (an empty enum will do).
///
/// ```
/// use pvm_host_functions::{CallContext, Caller, Linker};
///
/// /// What the host functions need from whoever runs the guest.
/// trait Journal {
///     fn record(&mut self, value: u64);
/// }
///
/// /// The family: a `dyn Journal` borrowed for any lifetime.
/// enum JournalContext {}
///
/// impl CallContext for JournalContext {
///     type Context<'c> = dyn Journal + 'c;
///     fn reborrow<'s, 'c: 's>(context: &'s mut (dyn Journal + 'c)) -> &'s mut (dyn Journal + 's) {
///         context
///     }
/// }
///
/// let mut linker = Linker::<(), JournalContext>::default();
/// linker.func_wrap("record", |mut caller: Caller<'_, (), JournalContext>, value: u64| {
///     caller.context().record(value);
/// })?;
/// # Ok::<(), pvm_host_functions::LinkError>(())
/// ```
///
/// `()` is the family of "no context" (the default): `Context<'c> = ()`.
pub trait CallContext: 'static {
    /// The context as borrowed for `'c`. A trait object `dyn Trait + 'c` lets the context
    /// borrow anything; a type without lifetimes makes it plain per-call data.
    type Context<'c>: ?Sized + 'c;

    /// Shortens the borrow: the linker lends the context to one host call at a time. For a
    /// trait object and for a type without lifetimes the body is just `context`: Rust
    /// shortens `&'s mut (dyn Trait + 'c)` to `&'s mut (dyn Trait + 's)` by itself.
    fn reborrow<'s, 'c: 's>(context: &'s mut Self::Context<'c>) -> &'s mut Self::Context<'s>;
}

impl CallContext for () {
    type Context<'c> = ();

    fn reborrow<'s, 'c: 's>(context: &'s mut ()) -> &'s mut () {
        context
    }
}

/// What a host function reaches of a guest: registers, memory, gas and the heap top.
///
/// The executor's [`Instance`] is one; a [`LinkedInstance`] hands its own to the host
/// functions. Implementing it for another VM lets that VM's host calls be served by the same
/// host functions, through [`HostFunc::call_on`].
pub trait Guest {
    /// A register.
    fn reg(&self, reg: Reg) -> u64;
    /// Sets a register.
    fn set_reg(&mut self, reg: Reg, value: u64);
    /// Copies `out.len()` bytes of guest memory at `address` into `out`.
    fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError>;
    /// Copies `data` into guest memory at `address`.
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError>;
    /// Gas left (negative once exhausted).
    fn gas(&self) -> i64;
    /// Sets the gas left.
    fn set_gas(&mut self, gas: i64);
    /// Grows the heap by `size` bytes; the new heap top, or `None` if it cannot grow.
    fn sbrk(&mut self, size: u32) -> Option<u32>;
}

impl Guest for Instance {
    fn reg(&self, reg: Reg) -> u64 {
        Instance::reg(self, reg)
    }
    fn set_reg(&mut self, reg: Reg, value: u64) {
        Instance::set_reg(self, reg, value);
    }
    fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        Instance::read_memory(self, address, out)
    }
    fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        Instance::write_memory(self, address, data)
    }
    fn gas(&self) -> i64 {
        Instance::gas(self)
    }
    fn set_gas(&mut self, gas: i64) {
        Instance::set_gas(self, gas);
    }
    fn sbrk(&mut self, size: u32) -> Option<u32> {
        Instance::sbrk(self, size)
    }
}

type RawHostFn<T, C, E> = dyn for<'a> Fn(Caller<'a, T, C>) -> Result<Flow, E> + Send + Sync;

/// A host function, ready to be called by any instance whose user data is `T` (and whose
/// calls lend a context of the family `C`, see [`CallContext`]); it fails with `E`.
pub struct HostFunc<T, C: CallContext = (), E = HostError> {
    func: Arc<RawHostFn<T, C, E>>,
    arity: Option<usize>,
}

impl<T, C: CallContext, E> Clone for HostFunc<T, C, E> {
    fn clone(&self) -> Self {
        HostFunc { func: Arc::clone(&self.func), arity: self.arity }
    }
}

impl<T, C: CallContext, E> fmt::Debug for HostFunc<T, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arity {
            Some(arity) => write!(f, "HostFunc(typed, {arity} arguments)"),
            None => f.write_str("HostFunc(raw)"),
        }
    }
}

impl<T: 'static, C: CallContext, E: 'static> HostFunc<T, C, E> {
    /// A raw host function: it reads its arguments from the registers and writes its results
    /// there itself, through the [`Caller`].
    pub fn raw(func: impl Fn(Caller<'_, T, C>) -> Result<Flow, E> + Send + Sync + 'static) -> Self {
        HostFunc { func: Arc::new(func), arity: None }
    }

    /// A typed host function from a closure; see [`Linker::func_wrap`].
    pub fn wrap<Params, Results>(func: impl IntoHostFunc<T, Params, Results, C, E>) -> Self {
        func.into_host_func()
    }

    /// The number of register arguments of a typed function (`None` for raw functions).
    pub fn arity(&self) -> Option<usize> {
        self.arity
    }

    /// Runs the function for a guest that is not a [`LinkedInstance`] (another VM, through
    /// its [`Guest`] implementation), stopped at an `ecalli` of the import `function`.
    ///
    /// The result is what a linked instance would make of it: `Ok(Flow::Continue(()))` to
    /// resume the guest (a result, if any, is in `A0`), `Ok(Flow::Return(value))` to end its
    /// call successfully, or the [`CallError`] that stops it. Such a guest has no
    /// [`GuestAllocator`]: [`Caller::allocate`] fails with [`AllocError::NoAllocator`].
    pub fn call_on(
        &self,
        function: &str,
        guest: &mut dyn Guest,
        data: &mut T,
        context: &mut C::Context<'_>,
    ) -> Result<Flow, CallError<E>> {
        let caller = Caller { guest: CallerGuest::Foreign(guest), data, context: C::reborrow(context), function };
        invoke(&*self.func, function, caller)
    }
}

/// Runs a host function, catching its panic: what the guest does next, or why it stops.
fn invoke<T, C: CallContext, E>(
    func: &RawHostFn<T, C, E>,
    function: &str,
    caller: Caller<'_, T, C>,
) -> Result<Flow, CallError<E>> {
    match catch_unwind(AssertUnwindSafe(|| func(caller))) {
        Ok(Ok(flow)) => Ok(flow),
        Ok(Err(error)) => {
            log::debug!(target: "pvm-host", "host function `{function}` failed");
            Err(CallError::Host { function: function.to_string(), error })
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            log::debug!(target: "pvm-host", "host function `{function}` panicked: {message}");
            Err(CallError::HostPanic { function: function.to_string(), message })
        }
    }
}

/// Marker for closures whose first parameter is a [`Caller`] (a type parameter of
/// [`IntoHostFunc`], never constructed).
pub enum WithCaller {}
/// Marker for closures without a [`Caller`] parameter.
pub enum WithoutCaller {}

/// Closures that can be typed host functions: `Fn([Caller<'_, T, C>,] A1, ..., An) -> R` with
/// `n <= 6`, every `Ai` an [`AbiValue`] and `R` a [`HostReturn`] whose errors become `E`.
///
/// `Params` and `Results` only tell the implementations apart; callers never name them.
pub trait IntoHostFunc<T, Params, Results, C: CallContext = (), E = HostError>: Send + Sync + 'static {
    /// Wraps the closure.
    fn into_host_func(self) -> HostFunc<T, C, E>;
}

/// A typed host function from `call`, which reads the arguments and runs the closure; its
/// result is applied to the guest (a value goes to `A0`).
fn typed<T, C, E, R>(
    arity: usize,
    call: impl for<'a, 'b> Fn(&'b mut Caller<'a, T, C>) -> R + Send + Sync + 'static,
) -> HostFunc<T, C, E>
where
    T: 'static,
    C: CallContext,
    R: HostReturn<E>,
{
    let func = move |mut caller: Caller<'_, T, C>| match call(&mut caller).into_flow()? {
        Flow::Continue(value) => {
            if let Some(value) = value {
                caller.set_reg(Reg::A0, value);
            }
            Ok(Flow::CONTINUE)
        }
        Flow::Return(value) => Ok(Flow::Return(value)),
    };
    HostFunc { func: Arc::new(func), arity: Some(arity) }
}

macro_rules! impl_into_host_func {
    ($count:expr; $($arg:ident $reg:ident),*) => {
        impl<T, C, E, F, R, $($arg),*> IntoHostFunc<T, (WithCaller, ($($arg,)*)), R, C, E> for F
        where
            T: 'static,
            C: CallContext,
            F: for<'a> Fn(Caller<'a, T, C>, $($arg),*) -> R + Send + Sync + 'static,
            R: HostReturn<E>,
            $($arg: AbiValue,)*
        {
            #[allow(non_snake_case)]
            fn into_host_func(self) -> HostFunc<T, C, E> {
                typed($count, move |caller: &mut Caller<'_, T, C>| {
                    $(let $arg = <$arg as AbiValue>::from_reg(caller.reg(Reg::$reg));)*
                    self(caller.reborrow(), $($arg),*)
                })
            }
        }

        impl<T, C, E, F, R, $($arg),*> IntoHostFunc<T, (WithoutCaller, ($($arg,)*)), R, C, E> for F
        where
            T: 'static,
            C: CallContext,
            F: Fn($($arg),*) -> R + Send + Sync + 'static,
            R: HostReturn<E>,
            $($arg: AbiValue,)*
        {
            #[allow(non_snake_case, unused_variables)]
            fn into_host_func(self) -> HostFunc<T, C, E> {
                typed($count, move |caller: &mut Caller<'_, T, C>| {
                    $(let $arg = <$arg as AbiValue>::from_reg(caller.reg(Reg::$reg));)*
                    self($($arg),*)
                })
            }
        }
    };
}

impl_into_host_func!(0;);
impl_into_host_func!(1; A1 A0);
impl_into_host_func!(2; A1 A0, A2 A1);
impl_into_host_func!(3; A1 A0, A2 A1, A3 A2);
impl_into_host_func!(4; A1 A0, A2 A1, A3 A2, A4 A3);
impl_into_host_func!(5; A1 A0, A2 A1, A3 A2, A4 A3, A5 A4);
impl_into_host_func!(6; A1 A0, A2 A1, A3 A2, A4 A3, A5 A4, A6 A5);

/// Maps import names to host functions.
///
/// ```
/// use pvm_host_functions::{Caller, Flow, HostError, Linker};
///
/// struct Counter(u64);
///
/// let mut linker = Linker::<Counter>::new();
/// linker.func_wrap("add", |a: u32, b: u32| a.wrapping_add(b))?;
/// linker.func_wrap("bump", |mut caller: Caller<'_, Counter>, by: u64| -> u64 {
///     caller.data_mut().0 += by;
///     caller.data().0
/// })?;
/// linker.func_wrap("checked_div", |a: u64, b: u64| -> Result<u64, HostError> {
///     a.checked_div(b).ok_or_else(|| HostError::new("division by zero"))
/// })?;
/// linker.func_raw("swap", |mut caller: Caller<'_, Counter>| {
///     use pvm_executor::program::Reg;
///     let (a, b) = (caller.reg(Reg::A0), caller.reg(Reg::A1));
///     caller.set_reg(Reg::A0, b);
///     caller.set_reg(Reg::A1, a);
///     Ok(Flow::CONTINUE)
/// })?;
/// assert!(linker.is_defined("swap"));
/// # Ok::<(), pvm_host_functions::LinkError>(())
/// ```
///
/// A linker whose calls lend a context (see [`CallContext`]) is created with
/// `Linker::<T, C>::default()`.
pub struct Linker<T, C: CallContext = (), E = HostError> {
    functions: HashMap<String, HostFunc<T, C, E>>,
    allow_shadowing: bool,
    allow_missing_imports: bool,
}

impl<T, C: CallContext, E> Clone for Linker<T, C, E> {
    fn clone(&self) -> Self {
        Linker {
            functions: self.functions.clone(),
            allow_shadowing: self.allow_shadowing,
            allow_missing_imports: self.allow_missing_imports,
        }
    }
}

impl<T, C: CallContext, E> fmt::Debug for Linker<T, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.functions.keys().collect();
        names.sort();
        f.debug_struct("Linker")
            .field("functions", &names)
            .field("allow_shadowing", &self.allow_shadowing)
            .field("allow_missing_imports", &self.allow_missing_imports)
            .finish()
    }
}

impl<T: 'static, C: CallContext, E: 'static> Default for Linker<T, C, E> {
    /// An empty linker: duplicate definitions are errors, and so are missing imports.
    fn default() -> Self {
        Linker { functions: HashMap::new(), allow_shadowing: false, allow_missing_imports: false }
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker: duplicate definitions are errors, and so are missing imports. (For a
    /// linker whose calls lend a context, `Linker::<T, C>::default()`.)
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: 'static, C: CallContext, E: 'static> Linker<T, C, E> {
    /// Whether a second definition of a name replaces the first (off by default: it is a
    /// [`LinkError::Duplicate`]).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    /// Whether modules whose imports the linker does not all define may be instantiated (off
    /// by default: [`Linker::instantiate_pre`] fails with [`LinkError::MissingImports`]). When
    /// on, calling a missing import stops the guest with [`CallError::MissingImport`].
    pub fn allow_missing_imports(&mut self, allow: bool) -> &mut Self {
        self.allow_missing_imports = allow;
        self
    }

    /// Defines a typed host function from a closure (the shape of wasmtime's
    /// `Linker::func_wrap` and PolkaVM's `define_typed`).
    ///
    /// The closure may take a [`Caller`] first, then up to six [`AbiValue`] arguments read from
    /// `A0..A5`; its result (any [`HostReturn`]) goes to `A0`. Returning `Err` stops the guest
    /// (see [`HostError`]); so does a panic, which is caught.
    pub fn func_wrap<Params, Results>(
        &mut self,
        name: &str,
        func: impl IntoHostFunc<T, Params, Results, C, E>,
    ) -> Result<&mut Self, LinkError> {
        self.define(name, func.into_host_func())
    }

    /// Defines a raw host function: it gets the [`Caller`] and does its own argument and
    /// result passing through the registers.
    pub fn func_raw(
        &mut self,
        name: &str,
        func: impl Fn(Caller<'_, T, C>) -> Result<Flow, E> + Send + Sync + 'static,
    ) -> Result<&mut Self, LinkError> {
        self.define(name, HostFunc::raw(func))
    }

    /// Defines `name` as an already built [`HostFunc`].
    pub fn define(&mut self, name: &str, func: HostFunc<T, C, E>) -> Result<&mut Self, LinkError> {
        if !self.allow_shadowing && self.functions.contains_key(name) {
            return Err(LinkError::Duplicate(name.to_string()));
        }
        self.functions.insert(name.to_string(), func);
        Ok(self)
    }

    /// The host function defined as `name`.
    pub fn get(&self, name: &str) -> Option<&HostFunc<T, C, E>> {
        self.functions.get(name)
    }

    /// Whether `name` is defined.
    pub fn is_defined(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// The defined names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.functions.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The module's imports the linker does not define, in import order.
    pub fn missing_imports<'m>(&self, module: &'m Module) -> Vec<&'m str> {
        module.imports().iter().map(String::as_str).filter(|name| !self.functions.contains_key(*name)).collect()
    }

    /// Resolves every import of `module`. All missing imports are reported in one
    /// [`LinkError::MissingImports`], unless [`Linker::allow_missing_imports`] is on.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T, C, E>, LinkError> {
        let missing = self.missing_imports(module);
        if !missing.is_empty() && !self.allow_missing_imports {
            return Err(LinkError::MissingImports(missing.into_iter().map(str::to_string).collect()));
        }
        let imports = module
            .imports()
            .iter()
            .map(|name| Import { name: Arc::from(name.as_str()), func: self.functions.get(name).cloned() })
            .collect();
        Ok(InstancePre { module: module.clone(), imports })
    }

    /// [`Linker::instantiate_pre`] and [`InstancePre::instantiate`] in one step.
    pub fn instantiate(&self, module: &Module, data: T) -> Result<LinkedInstance<T, C, E>, LinkError> {
        self.instantiate_pre(module)?.instantiate(data)
    }
}

struct Import<T, C: CallContext, E> {
    name: Arc<str>,
    func: Option<HostFunc<T, C, E>>,
}

impl<T, C: CallContext, E> Clone for Import<T, C, E> {
    fn clone(&self) -> Self {
        Import { name: Arc::clone(&self.name), func: self.func.clone() }
    }
}

/// A module whose imports are resolved: instantiate it as often as needed.
pub struct InstancePre<T, C: CallContext = (), E = HostError> {
    module: Module,
    imports: Arc<[Import<T, C, E>]>,
}

impl<T, C: CallContext, E> Clone for InstancePre<T, C, E> {
    fn clone(&self) -> Self {
        InstancePre { module: self.module.clone(), imports: Arc::clone(&self.imports) }
    }
}

impl<T, C: CallContext, E> fmt::Debug for InstancePre<T, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstancePre").field("imports", &self.module.imports()).finish_non_exhaustive()
    }
}

impl<T: 'static, C: CallContext, E: 'static> InstancePre<T, C, E> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Imports that have no host function (only with [`Linker::allow_missing_imports`]).
    pub fn missing_imports(&self) -> Vec<&str> {
        self.imports.iter().filter(|import| import.func.is_none()).map(|import| &*import.name).collect()
    }

    /// The host function import `index` resolved to (`None` beyond the import table or for a
    /// missing import), with the import's name: what an `ecalli index` calls.
    pub fn import(&self, index: u32) -> Option<(&str, &HostFunc<T, C, E>)> {
        let import = self.imports.get(index as usize)?;
        Some((&import.name, import.func.as_ref()?))
    }

    /// Creates an instance with fresh memory and `data` as its user data.
    pub fn instantiate(&self, data: T) -> Result<LinkedInstance<T, C, E>, LinkError> {
        let instance = Instance::new(&self.module)?;
        Ok(LinkedInstance {
            imports: Arc::clone(&self.imports),
            state: State { instance, data, allocator: GuestAllocator::new(), abort_message: None },
            resumable: false,
        })
    }
}

/// What a host function may touch: the instance and the user data.
struct State<T> {
    instance: Instance,
    data: T,
    allocator: GuestAllocator,
    abort_message: Option<String>,
}

/// The calling instance as a host function sees it: user data, registers, memory, gas, the
/// heap allocator, and the call's context (see [`CallContext`]).
pub struct Caller<'a, T, C: CallContext = ()> {
    guest: CallerGuest<'a>,
    data: &'a mut T,
    context: &'a mut C::Context<'a>,
    function: &'a str,
}

/// The guest behind a [`Caller`].
enum CallerGuest<'a> {
    /// A [`LinkedInstance`]'s executor instance, with its heap allocator and abort message.
    Linked { instance: &'a mut Instance, allocator: &'a mut GuestAllocator, abort_message: &'a mut Option<String> },
    /// Another VM, served through [`HostFunc::call_on`].
    Foreign(&'a mut dyn Guest),
}

impl<'a, T, C: CallContext> Caller<'a, T, C> {
    fn reborrow(&mut self) -> Caller<'_, T, C> {
        let guest = match &mut self.guest {
            CallerGuest::Linked { instance, allocator, abort_message } => {
                CallerGuest::Linked { instance, allocator, abort_message }
            }
            CallerGuest::Foreign(guest) => CallerGuest::Foreign(&mut **guest),
        };
        Caller { guest, data: &mut *self.data, context: C::reborrow(&mut *self.context), function: self.function }
    }

    /// The guest: registers, memory, gas.
    pub fn guest(&self) -> &dyn Guest {
        match &self.guest {
            CallerGuest::Linked { instance, .. } => &**instance,
            CallerGuest::Foreign(guest) => &**guest,
        }
    }

    /// The guest, mutably.
    pub fn guest_mut(&mut self) -> &mut dyn Guest {
        match &mut self.guest {
            CallerGuest::Linked { instance, .. } => &mut **instance,
            CallerGuest::Foreign(guest) => &mut **guest,
        }
    }

    /// The context the running call lent (see [`LinkedInstance::call_in`]; `()` for
    /// [`LinkedInstance::call`]).
    pub fn context(&mut self) -> &mut C::Context<'a> {
        self.context
    }

    /// The user data, the guest and the call's context at once (a host function that works
    /// on guest memory and on the context together needs all three).
    pub fn data_guest_and_context_mut(&mut self) -> (&mut T, &mut dyn Guest, &mut C::Context<'a>) {
        let guest: &mut dyn Guest = match &mut self.guest {
            CallerGuest::Linked { instance, .. } => &mut **instance,
            CallerGuest::Foreign(guest) => &mut **guest,
        };
        (&mut *self.data, guest, &mut *self.context)
    }

    /// The import name this host function was called as.
    pub fn function_name(&self) -> &str {
        self.function
    }

    /// The instance's user data.
    pub fn data(&self) -> &T {
        self.data
    }

    /// The instance's user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.data
    }

    /// The executor instance (registers, memory, gas), unless the guest is another VM (see
    /// [`HostFunc::call_on`]). Running it from a host function is not supported: the host call
    /// in progress would be lost.
    pub fn instance(&self) -> Option<&Instance> {
        match &self.guest {
            CallerGuest::Linked { instance, .. } => Some(&**instance),
            CallerGuest::Foreign(_) => None,
        }
    }

    /// The user data and the executor instance at once (`None` for another VM, see
    /// [`HostFunc::call_on`]): for host functions that keep their own state about the
    /// instance's memory, such as a heap allocator of their own.
    pub fn data_and_instance_mut(&mut self) -> (&mut T, Option<&mut Instance>) {
        let instance = match &mut self.guest {
            CallerGuest::Linked { instance, .. } => Some(&mut **instance),
            CallerGuest::Foreign(_) => None,
        };
        (&mut *self.data, instance)
    }

    /// The executor instance, mutably. See [`Caller::instance`].
    pub fn instance_mut(&mut self) -> Option<&mut Instance> {
        match &mut self.guest {
            CallerGuest::Linked { instance, .. } => Some(&mut **instance),
            CallerGuest::Foreign(_) => None,
        }
    }

    // The accessors below reach a linked instance directly rather than through `dyn Guest`:
    // a Substrate host call makes several of them.

    /// A register.
    #[inline]
    pub fn reg(&self, reg: Reg) -> u64 {
        match &self.guest {
            CallerGuest::Linked { instance, .. } => instance.reg(reg),
            CallerGuest::Foreign(guest) => guest.reg(reg),
        }
    }

    /// Sets a register (results go to `A0`, and `A1` for a second one).
    #[inline]
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        match &mut self.guest {
            CallerGuest::Linked { instance, .. } => instance.set_reg(reg, value),
            CallerGuest::Foreign(guest) => guest.set_reg(reg, value),
        }
    }

    /// Reads guest memory.
    #[inline]
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        match &self.guest {
            CallerGuest::Linked { instance, .. } => instance.read_memory(address, out),
            CallerGuest::Foreign(guest) => guest.read_memory(address, out),
        }
    }

    /// Reads `length` bytes of guest memory.
    pub fn read_memory_vec(&self, address: u32, length: u32) -> Result<Vec<u8>, MemoryAccessError> {
        // Piecewise: `length` is the guest's to choose (see `read_memory_vec_with`).
        pvm_executor::read_memory_vec_with(address, length, |address, out| self.read_memory(address, out))
    }

    /// Reads the bytes a fat pointer points at.
    pub fn read_fat(&self, pointer: FatPtr) -> Result<Vec<u8>, MemoryAccessError> {
        self.read_memory_vec(pointer.ptr, pointer.len)
    }

    /// Reads a little-endian `u32`.
    pub fn read_u32(&self, address: u32) -> Result<u32, MemoryAccessError> {
        let mut bytes = [0; 4];
        self.read_memory(address, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    /// Reads a little-endian `u64`.
    pub fn read_u64(&self, address: u32) -> Result<u64, MemoryAccessError> {
        let mut bytes = [0; 8];
        self.read_memory(address, &mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// Writes guest memory.
    #[inline]
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        match &mut self.guest {
            CallerGuest::Linked { instance, .. } => instance.write_memory(address, data),
            CallerGuest::Foreign(guest) => guest.write_memory(address, data),
        }
    }

    /// Writes a little-endian `u32`.
    pub fn write_u32(&mut self, address: u32, value: u32) -> Result<(), MemoryAccessError> {
        self.write_memory(address, &value.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    pub fn write_u64(&mut self, address: u32, value: u64) -> Result<(), MemoryAccessError> {
        self.write_memory(address, &value.to_le_bytes())
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.guest().gas()
    }

    /// Sets the gas left (a host function charges for its work this way).
    pub fn set_gas(&mut self, gas: i64) {
        self.guest_mut().set_gas(gas);
    }

    /// Grows the heap by `size` bytes; the new heap top, or `None` if it cannot grow.
    pub fn sbrk(&mut self, size: u32) -> Option<u32> {
        self.guest_mut().sbrk(size)
    }

    /// Allocates guest heap memory with the instance's [`GuestAllocator`].
    pub fn allocate(&mut self, size: u32) -> Result<u32, AllocError> {
        match &mut self.guest {
            CallerGuest::Linked { instance, allocator, .. } => allocator.allocate(instance, size),
            CallerGuest::Foreign(_) => Err(AllocError::NoAllocator),
        }
    }

    /// Frees memory from [`Caller::allocate`].
    pub fn deallocate(&mut self, address: u32) -> Result<(), AllocError> {
        match &mut self.guest {
            CallerGuest::Linked { allocator, .. } => allocator.deallocate(address),
            CallerGuest::Foreign(_) => Err(AllocError::NoAllocator),
        }
    }

    /// Allocates guest memory, copies `data` into it, and returns a fat pointer to it.
    pub fn allocate_bytes(&mut self, data: &[u8]) -> Result<FatPtr, HostError> {
        let length =
            u32::try_from(data.len()).map_err(|_| HostError::new("cannot pass more than 4 GiB to the guest"))?;
        let address = self.allocate(length)?;
        self.write_memory(address, data)?;
        Ok(FatPtr::new(address, length))
    }

    /// The instance's heap allocator (`None` for another VM, see [`HostFunc::call_on`]).
    pub fn allocator(&self) -> Option<&GuestAllocator> {
        match &self.guest {
            CallerGuest::Linked { allocator, .. } => Some(&**allocator),
            CallerGuest::Foreign(_) => None,
        }
    }

    /// Records a message to report if the guest then panics (what Substrate's
    /// `abort_on_panic` does before the guest traps). Ignored for another VM.
    pub fn set_abort_message(&mut self, message: impl Into<String>) {
        if let CallerGuest::Linked { abort_message, .. } = &mut self.guest {
            **abort_message = Some(message.into());
        }
    }
}

/// An instance with its host functions: runs the guest and services its host calls.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, ProgramBlobBuilder, Reg};
/// use pvm_executor::{Config, Engine, Module};
/// use pvm_host_functions::Linker;
///
/// // A guest whose export `twice_plus_one(x)` returns `double(x) + 1`, `double` being the host's.
/// let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
/// code.push(Instruction::ecalli(0));
/// code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
/// code.push(Instruction::jump_indirect(Reg::RA, 0));
/// let blob = ProgramBlobBuilder::new(code.build()?.code).import("double").export("twice_plus_one", 0).build()?;
///
/// let module = Module::from_blob(&Engine::new(&Config::new())?, &blob.to_bytes())?;
/// let mut linker = Linker::new();
/// linker.func_wrap("double", |x: u64| x * 2)?;
/// let mut instance = linker.instantiate_pre(&module)?.instantiate(())?;
/// instance.set_gas(1_000);
/// assert_eq!(instance.call_typed::<_, u64>("twice_plus_one", (20u64,))?, 41);
/// # Ok(())
/// # }
/// ```
pub struct LinkedInstance<T, C: CallContext = (), E = HostError> {
    imports: Arc<[Import<T, C, E>]>,
    state: State<T>,
    resumable: bool,
}

impl<T, C: CallContext, E> fmt::Debug for LinkedInstance<T, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedInstance")
            .field("imports", &self.imports.iter().map(|import| &*import.name).collect::<Vec<_>>())
            .field("gas", &self.state.instance.gas())
            .finish_non_exhaustive()
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

impl<T: 'static, E: 'static> LinkedInstance<T, (), E> {
    /// Calls an export (by name, or by an [`ExportIndex`](pvm_executor::ExportIndex) resolved
    /// once with [`Module::export_index`]) with up to six register arguments and returns `A0`,
    /// servicing host calls until the guest halts or fails.
    pub fn call(&mut self, export: impl EntryPoint, args: &[u64]) -> Result<u64, CallError<E>> {
        self.call_in(&mut (), export, args)
    }

    /// Calls an export with typed arguments (a tuple of [`AbiValue`]s) and a typed result.
    pub fn call_typed<A: CallArgs, R: CallResult>(
        &mut self,
        export: impl EntryPoint,
        args: A,
    ) -> Result<R, CallError<E>> {
        self.call_typed_in(&mut (), export, args)
    }

    /// Continues a call that ran out of gas (after [`LinkedInstance::set_gas`]).
    pub fn resume(&mut self) -> Result<u64, CallError<E>> {
        self.resume_in(&mut ())
    }
}

impl<T: 'static, C: CallContext, E: 'static> LinkedInstance<T, C, E> {
    /// [`LinkedInstance::call`] lending `context` to the host functions for this call (they
    /// reach it with [`Caller::context`]). The context may borrow from the caller's stack:
    /// a host function may even run another instance with it, reborrowed.
    pub fn call_in(
        &mut self,
        context: &mut C::Context<'_>,
        export: impl EntryPoint,
        args: &[u64],
    ) -> Result<u64, CallError<E>> {
        self.resumable = false;
        self.state.abort_message = None;
        self.state.instance.prepare_call(export, args)?;
        self.run(context)
    }

    /// [`LinkedInstance::call_typed`] lending `context` (see [`LinkedInstance::call_in`]).
    pub fn call_typed_in<A: CallArgs, R: CallResult>(
        &mut self,
        context: &mut C::Context<'_>,
        export: impl EntryPoint,
        args: A,
    ) -> Result<R, CallError<E>> {
        let regs = args.into_regs();
        self.call_in(context, export, &regs).map(R::from_a0)
    }

    /// [`LinkedInstance::resume`] lending `context` (which need not be the one the call
    /// started with).
    pub fn resume_in(&mut self, context: &mut C::Context<'_>) -> Result<u64, CallError<E>> {
        if !self.resumable {
            return Err(pvm_executor::Error::NotRunnable.into());
        }
        self.run(context)
    }

    fn run(&mut self, context: &mut C::Context<'_>) -> Result<u64, CallError<E>> {
        use pvm_executor::CallError as Stop;
        self.resumable = false;
        loop {
            let exit = self.state.instance.run()?;
            let pc = self.state.instance.pc().unwrap_or(0);
            match exit {
                Exit::Halt => return Ok(self.state.instance.reg(Reg::A0)),
                Exit::HostCall(index) => {
                    if let Flow::Return(value) = self.host_call(index, C::reborrow(&mut *context))? {
                        self.state.instance.set_reg(Reg::A0, value);
                        return Ok(value);
                    }
                }
                Exit::Panic(reason) => {
                    return Err(match self.state.abort_message.take() {
                        Some(message) => CallError::Abort { pc, reason, message },
                        None => CallError::Guest(Stop::Panic { pc, reason }),
                    })
                }
                Exit::OutOfGas => {
                    self.resumable = true;
                    return Err(CallError::Guest(Stop::OutOfGas { pc }));
                }
                Exit::PageFault(address) => return Err(CallError::Guest(Stop::PageFault { pc, address })),
            }
        }
    }

    /// Runs the host function for import `index`: what the guest does next.
    fn host_call<'s>(&'s mut self, index: u32, context: &'s mut C::Context<'s>) -> Result<Flow, CallError<E>> {
        let Some(import) = self.imports.get(index as usize) else {
            return Err(CallError::MissingImport { index, name: None });
        };
        let Some(func) = &import.func else {
            return Err(CallError::MissingImport { index, name: Some(import.name.to_string()) });
        };
        let state = &mut self.state;
        let guest = CallerGuest::Linked {
            instance: &mut state.instance,
            allocator: &mut state.allocator,
            abort_message: &mut state.abort_message,
        };
        let caller = Caller { guest, data: &mut state.data, context, function: &import.name };
        invoke(&*func.func, &import.name, caller)
    }

    /// The module.
    pub fn module(&self) -> &Module {
        self.state.instance.module()
    }

    /// The user data.
    pub fn data(&self) -> &T {
        &self.state.data
    }

    /// The user data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.state.data
    }

    /// Gives the user data back.
    pub fn into_data(self) -> T {
        self.state.data
    }

    /// The executor instance (registers, memory, gas).
    pub fn instance(&self) -> &Instance {
        &self.state.instance
    }

    /// The executor instance, mutably. Running it directly bypasses the host functions.
    pub fn instance_mut(&mut self) -> &mut Instance {
        &mut self.state.instance
    }

    /// Gas left.
    pub fn gas(&self) -> i64 {
        self.state.instance.gas()
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        self.state.instance.set_gas(gas);
    }

    /// Reads guest memory.
    pub fn read_memory(&self, address: u32, out: &mut [u8]) -> Result<(), MemoryAccessError> {
        self.state.instance.read_memory(address, out)
    }

    /// Reads `length` bytes of guest memory.
    pub fn read_memory_vec(&self, address: u32, length: u32) -> Result<Vec<u8>, MemoryAccessError> {
        self.state.instance.read_memory_vec(address, length)
    }

    /// Writes guest memory.
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryAccessError> {
        self.state.instance.write_memory(address, data)
    }

    /// Allocates guest heap memory with the instance's allocator (e.g. to pass a buffer in).
    pub fn allocate(&mut self, size: u32) -> Result<u32, AllocError> {
        self.state.allocator.allocate(&mut self.state.instance, size)
    }

    /// Frees memory from [`LinkedInstance::allocate`] (or from a host function's allocation).
    pub fn deallocate(&mut self, address: u32) -> Result<(), AllocError> {
        self.state.allocator.deallocate(address)
    }

    /// The heap allocator.
    pub fn allocator(&self) -> &GuestAllocator {
        &self.state.allocator
    }

    /// Restores the module's initial memory and forgets every heap allocation, so the
    /// instance can serve an unrelated call.
    pub fn reset_memory(&mut self) {
        self.state.instance.reset_memory();
        self.state.allocator.reset();
        self.state.abort_message = None;
        self.resumable = false;
    }
}
