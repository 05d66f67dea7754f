//! The same C compiled natively for x86-64 at the same optimisation level: the physical limit.

use super::{Compiled, Running, Vm};
use crate::manifest::Program;

macro_rules! native_programs {
    ($($export:ident),* $(,)?) => {
        extern "C" {
            $(fn $export(n: u64) -> u64;)*
        }

        fn lookup(export: &str) -> Option<unsafe extern "C" fn(u64) -> u64> {
            match export {
                $(stringify!($export) => Some($export as unsafe extern "C" fn(u64) -> u64),)*
                _ => None,
            }
        }
    };
}

native_programs!(
    bench_minimal,
    bench_prime_sieve,
    bench_memset,
    bench_memcpy,
    bench_keccak,
    bench_sort,
    bench_matmul,
    bench_minilang,
    bench_fib,
    bench_scale_decode,
);

/// Native code (no compile or instantiate phase).
pub struct Native;

struct NativeFunction(unsafe extern "C" fn(u64) -> u64);

impl Vm for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn has_setup_phases(&self) -> bool {
        false
    }

    fn fresh_instances(&self) -> bool {
        false
    }

    fn compile(&self, program: &Program) -> Result<Box<dyn Compiled>, String> {
        lookup(&program.export)
            .map(|function| Box::new(NativeFunction(function)) as Box<dyn Compiled>)
            .ok_or_else(|| format!("no native build of `{}`", program.export))
    }
}

impl Compiled for NativeFunction {
    fn instantiate(&self) -> Result<Box<dyn Running>, String> {
        Ok(Box::new(NativeFunction(self.0)))
    }
}

impl Running for NativeFunction {
    fn call(&mut self, arg: u64) -> Result<u64, String> {
        // SAFETY: the function is one of the benchmark programs compiled by build.rs: it takes
        // and returns a plain u64 and touches only its own static data.
        Ok(unsafe { (self.0)(arg) })
    }
}
