//! The compiled backend: guest code translated once to native code.
//!
//! Only x86-64 Linux is supported (see [`x86_64`]); [`is_supported`] says whether this
//! process can use it (platform and CPU features), which is what
//! [`BackendKind::Auto`](crate::BackendKind::Auto) decides by.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod x86_64;

/// How the compiled code meters gas.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum GasMode {
    /// No gas code at all.
    Off,
    /// Every gas block charges and checks (bit-identical to the interpreter).
    Sync,
    /// Every gas block charges (a `sub` on the gas counter, no branch); only the targets of
    /// backward branches and of the jump table check, so a program overruns its limit by at
    /// most one loop-free stretch of code. Such a check stops exactly like `Sync` (gas given
    /// back, pc at the block, resumable). Any other exit (halt, host call, panic, page fault)
    /// seen with negative gas is reported as out of gas instead, and cannot be resumed.
    /// Because every executed block is charged exactly as with `Sync`, a call halts under
    /// `Async` if and only if it halts under `Sync`, with the same gas left.
    Async,
}

impl GasMode {
    /// The mode for a configuration's metering choice.
    pub fn from_config(metering: Option<crate::GasMetering>) -> GasMode {
        match metering {
            None => GasMode::Off,
            Some(crate::GasMetering::Sync) => GasMode::Sync,
            Some(crate::GasMetering::Async) => GasMode::Async,
        }
    }
}

/// Whether the compiled backend runs in this process: x86-64 Linux with the instructions the
/// generated code uses (`popcnt`, `lzcnt`, BMI1, BMI2) and user-mode `wrgsbase` (the kernel
/// enables it since Linux 5.9 where the CPU has it).
pub fn is_supported() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        /// `HWCAP2_FSGSBASE` of `<asm/hwcap2.h>`.
        const HWCAP2_FSGSBASE: libc::c_ulong = 1 << 1;
        // SAFETY: `getauxval` only reads the process's auxiliary vector.
        let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
        std::arch::is_x86_feature_detected!("popcnt")
            && std::arch::is_x86_feature_detected!("lzcnt")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
            && hwcap2 & HWCAP2_FSGSBASE != 0
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        false
    }
}
