//! How typed values travel through registers.
//!
//! Every argument and result of a typed host function, and of [`LinkedInstance::call_typed`],
//! occupies one 64-bit register: arguments in `A0..A5` in order, the result in `A0`. The
//! conversions are PolkaVM's for 64-bit guests:
//!
//! | type | from a register | into a register |
//! |---|---|---|
//! | `u8`, `u16`, `u32` | the low 8/16/32 bits | zero-extended |
//! | `i8`, `i16`, `i32` | the low 8/16/32 bits | sign-extended |
//! | `u64`, `i64` | all 64 bits | all 64 bits |
//! | `bool` | any non-zero value is `true` | `0` or `1` |
//! | [`GuestPtr`] | the low 32 bits (guest addresses are 32-bit) | zero-extended |
//! | [`FatPtr`] | pointer in the low 32 bits, length in the high 32 bits | the same |
//!
//! [`LinkedInstance::call_typed`]: crate::LinkedInstance::call_typed

use core::fmt;

/// A value that fits in one guest register.
///
/// Implemented for the integer types, `bool`, [`GuestPtr`] and [`FatPtr`]; implement it for
/// your own newtypes to use them as host-function arguments and results.
pub trait AbiValue: Sized + 'static {
    /// Reads the value from a register.
    fn from_reg(value: u64) -> Self;
    /// Writes the value into a register.
    fn into_reg(self) -> u64;
}

/// Integers: truncated from the register, widened into it through `$wide` (zero extension
/// for unsigned types, sign extension for signed ones).
macro_rules! impl_integer {
    ($($ty:ty => $wide:ty),*) => {$(
        impl AbiValue for $ty {
            #[inline]
            fn from_reg(value: u64) -> Self {
                value as $ty
            }
            #[inline]
            fn into_reg(self) -> u64 {
                <$wide>::from(self) as u64
            }
        }
    )*};
}

impl_integer!(u8 => u64, u16 => u64, u32 => u64, u64 => u64, i8 => i64, i16 => i64, i32 => i64, i64 => i64);

impl AbiValue for bool {
    #[inline]
    fn from_reg(value: u64) -> Self {
        value != 0
    }
    #[inline]
    fn into_reg(self) -> u64 {
        u64::from(self)
    }
}

/// A guest address: the low 32 bits of a register.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GuestPtr(pub u32);

impl GuestPtr {
    /// The address.
    pub fn addr(self) -> u32 {
        self.0
    }

    /// The address `offset` bytes further, or `None` if that leaves the 32-bit address space.
    pub fn offset(self, offset: u32) -> Option<GuestPtr> {
        self.0.checked_add(offset).map(GuestPtr)
    }

    /// Whether this is address zero (C's `NULL`).
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for GuestPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuestPtr(0x{:08x})", self.0)
    }
}

impl From<u32> for GuestPtr {
    fn from(address: u32) -> Self {
        GuestPtr(address)
    }
}

impl From<GuestPtr> for u32 {
    fn from(pointer: GuestPtr) -> Self {
        pointer.0
    }
}

impl AbiValue for GuestPtr {
    #[inline]
    fn from_reg(value: u64) -> Self {
        GuestPtr(value as u32)
    }
    #[inline]
    fn into_reg(self) -> u64 {
        u64::from(self.0)
    }
}

/// A guest slice packed into one register the way Substrate runtimes pass byte buffers: the
/// pointer in the low 32 bits, the length in the high 32 bits.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct FatPtr {
    /// The first byte.
    pub ptr: u32,
    /// The number of bytes.
    pub len: u32,
}

impl FatPtr {
    /// A fat pointer to `len` bytes at `ptr`.
    pub fn new(ptr: u32, len: u32) -> Self {
        FatPtr { ptr, len }
    }

    /// Unpacks a register value: pointer from the low half, length from the high half.
    pub fn unpack(value: u64) -> Self {
        FatPtr { ptr: value as u32, len: (value >> 32) as u32 }
    }

    /// Packs into a register value: pointer in the low half, length in the high half.
    pub fn pack(self) -> u64 {
        u64::from(self.ptr) | (u64::from(self.len) << 32)
    }
}

impl fmt::Debug for FatPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FatPtr(0x{:08x}, {} bytes)", self.ptr, self.len)
    }
}

impl AbiValue for FatPtr {
    #[inline]
    fn from_reg(value: u64) -> Self {
        FatPtr::unpack(value)
    }
    #[inline]
    fn into_reg(self) -> u64 {
        self.pack()
    }
}

/// What the guest does after a host function: continue (with a value for `A0`, if `V` is
/// not `()`), or end its call successfully now.
///
/// Ending early is a normal outcome, not an error: a contract's `seal_return` stops the guest
/// this way, and [`LinkedInstance::call`](crate::LinkedInstance::call) returns `Ok` with the
/// value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flow<V = ()> {
    /// Resume the guest after the `ecalli`; `V` goes to `A0` (nothing for `()`).
    Continue(V),
    /// Stop the guest as if it had returned: `A0` is set to this value and the call succeeds
    /// with it.
    Return(u64),
}

impl Flow {
    /// Resume the guest, leaving `A0` as it is.
    pub const CONTINUE: Flow = Flow::Continue(());
}

/// What a typed host function may return: nothing, a value for `A0`, a [`Flow`], or a
/// `Result` of any of these whose error (convertible to the linker's user error `E`) stops the
/// guest (see [`HostError`](crate::HostError)).
pub trait HostReturn<E>: 'static {
    /// Where the guest goes next (and the value for `A0`, if any), or why it must stop.
    fn into_flow(self) -> Result<Flow<Option<u64>>, E>;
}

impl<E> HostReturn<E> for () {
    #[inline]
    fn into_flow(self) -> Result<Flow<Option<u64>>, E> {
        Ok(Flow::Continue(None))
    }
}

impl<E, V: AbiValue> HostReturn<E> for V {
    #[inline]
    fn into_flow(self) -> Result<Flow<Option<u64>>, E> {
        Ok(Flow::Continue(Some(self.into_reg())))
    }
}

impl<E> HostReturn<E> for Flow {
    #[inline]
    fn into_flow(self) -> Result<Flow<Option<u64>>, E> {
        Ok(match self {
            Flow::Continue(()) => Flow::Continue(None),
            Flow::Return(value) => Flow::Return(value),
        })
    }
}

impl<E, V: AbiValue> HostReturn<E> for Flow<V> {
    #[inline]
    fn into_flow(self) -> Result<Flow<Option<u64>>, E> {
        Ok(match self {
            Flow::Continue(value) => Flow::Continue(Some(value.into_reg())),
            Flow::Return(value) => Flow::Return(value),
        })
    }
}

impl<E, R: HostReturn<E>, F: Into<E> + 'static> HostReturn<E> for Result<R, F> {
    #[inline]
    fn into_flow(self) -> Result<Flow<Option<u64>>, E> {
        self.map_err(Into::into).and_then(R::into_flow)
    }
}

/// Arguments of [`LinkedInstance::call_typed`](crate::LinkedInstance::call_typed): `()` or a
/// tuple of up to six [`AbiValue`]s.
pub trait CallArgs {
    /// The register values for `A0..`, in order.
    fn into_regs(self) -> Vec<u64>;
}

/// The result of [`LinkedInstance::call_typed`](crate::LinkedInstance::call_typed): `()` or
/// an [`AbiValue`] read from `A0`.
pub trait CallResult: Sized {
    /// Converts `A0`.
    fn from_a0(value: u64) -> Self;
}

impl CallResult for () {
    fn from_a0(_: u64) -> Self {}
}

impl<V: AbiValue> CallResult for V {
    fn from_a0(value: u64) -> Self {
        V::from_reg(value)
    }
}

macro_rules! impl_call_args {
    ($($arg:ident),*) => {
        impl<$($arg: AbiValue),*> CallArgs for ($($arg,)*) {
            #[allow(non_snake_case)]
            fn into_regs(self) -> Vec<u64> {
                let ($($arg,)*) = self;
                vec![$($arg.into_reg()),*]
            }
        }
    };
}

impl_call_args!();
impl_call_args!(A1);
impl_call_args!(A1, A2);
impl_call_args!(A1, A2, A3);
impl_call_args!(A1, A2, A3, A4);
impl_call_args!(A1, A2, A3, A4, A5);
impl_call_args!(A1, A2, A3, A4, A5, A6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversions_follow_the_64_bit_polkavm_abi() {
        assert_eq!(u32::from_reg(0xffff_ffff_0000_0005), 5);
        assert_eq!(i32::from_reg(0x0000_0000_ffff_fffe), -2);
        assert_eq!((-2i32).into_reg(), 0xffff_ffff_ffff_fffe);
        assert_eq!(0xffff_fffeu32.into_reg(), 0x0000_0000_ffff_fffe);
        assert_eq!(u8::from_reg(0x1ff), 0xff);
        assert_eq!((-1i8).into_reg(), u64::MAX);
        assert!(bool::from_reg(0x1_0000_0000));
        assert_eq!(GuestPtr::from_reg(0xffff_ffff_0002_0000), GuestPtr(0x20000));
    }

    #[test]
    fn fat_pointers_pack_like_substrate() {
        let fat = FatPtr::new(0x0002_0010, 7);
        assert_eq!(fat.pack(), 0x0000_0007_0002_0010);
        assert_eq!(FatPtr::unpack(fat.pack()), fat);
        assert_eq!((1u32, -1i64, GuestPtr(3)).into_regs(), vec![1, u64::MAX, 3]);
        assert_eq!(<i16 as CallResult>::from_a0(0xffff), -1);
    }
}
