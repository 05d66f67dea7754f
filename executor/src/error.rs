//! The executor's error types.

use crate::compiler::CompileError;
use crate::exit::{Exit, PanicReason};
use crate::memory::MemoryAccessError;
use crate::program::BlobError;

/// An error from the executor's API (as opposed to a guest's own failure, which is an
/// [`Exit`]).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Error {
    /// The program could not be loaded.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// An environment variable read by [`Config::from_env`](crate::Config::from_env) holds
    /// something it cannot use.
    #[error("{name}={value:?} is not one of the values it takes")]
    InvalidEnvVar {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The program could not be compiled to native code.
    #[error("compiling failed: {0}")]
    Compile(#[from] CompileError),
    /// Instruction tracing was asked of a backend that cannot trace (only the interpreter
    /// can).
    #[error("instruction tracing needs the interpreter backend")]
    TracingUnsupported,
    /// The chosen backend does not run here.
    #[error("the {0} backend is not available on this platform")]
    BackendUnavailable(&'static str),
    /// The engine was configured to compile only ([`Config::compile_only`](crate::Config::compile_only)):
    /// its modules cannot be instantiated.
    #[error("the engine compiles only: its modules cannot be instantiated")]
    CompileOnly,
    /// No export has that name.
    #[error("the program has no export named `{0}`")]
    UnknownExport(String),
    /// More arguments than argument registers.
    #[error("{0} arguments given, but at most 6 fit in the argument registers A0..A5")]
    TooManyArguments(usize),
    /// `run` was called with nothing to run.
    #[error("the instance has nothing to run: it finished, or no call was prepared")]
    NotRunnable,
    /// A pc that is not an instruction.
    #[error("pc {0} is not the start of an instruction")]
    InvalidPc(u32),
    /// The program needs more guest memory than the engine's
    /// [`Config::memory_limit`](crate::Config::memory_limit) allows one instance: its static
    /// regions when its module is built, or the pages a host asked
    /// [`Instance::map_memory`](crate::Instance::map_memory) for.
    #[error("the program needs {needed} bytes of memory, more than the engine's limit of {limit} bytes per instance")]
    MemoryLimit {
        /// The bytes it needs accessible.
        needed: u64,
        /// The engine's limit (whole pages).
        limit: u64,
    },
    /// A memory mapping the program cannot have.
    #[error("cannot map memory: {0}")]
    Mapping(&'static str),
    /// A host-side access to guest memory failed.
    #[error(transparent)]
    Memory(#[from] MemoryAccessError),
    /// The process sandbox ([`SandboxKind::Process`](crate::config::SandboxKind::Process))
    /// could not be set up, or its worker failed during a run.
    #[error(transparent)]
    ProcessSandbox(#[from] ProcessSandboxError),
}

/// Why the process sandbox could not be set up or could not run a call.
#[derive(Copy, Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ProcessSandboxError {
    /// A system call the sandbox needs failed in the host.
    #[error("process sandbox: {what} failed (errno {errno})")]
    Host {
        /// What was being done.
        what: &'static str,
        /// The error number.
        errno: i32,
    },
    /// A worker refused a command (it could not map or protect memory).
    #[error("process sandbox worker: {what} failed (errno {errno})")]
    Worker {
        /// What was being done.
        what: &'static str,
        /// The error number.
        errno: i32,
    },
    /// A worker process died during a call or while starting.
    #[error("the sandbox worker process died ({})", describe_status(*.signal, *.exit_code))]
    WorkerDied {
        /// The signal that killed it, if one did (31, `SIGSYS`, is its seccomp filter).
        signal: Option<i32>,
        /// Its exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// A worker did not finish starting in time.
    #[error("a sandbox worker process did not start within {0} ms")]
    StartTimeout(u64),
    /// More distinct page ranges than a control block can carry.
    #[error("guest memory has more than {0} separately protected ranges, more than the process sandbox carries")]
    TooManyRegions(usize),
}

fn describe_status(signal: Option<i32>, exit_code: Option<i32>) -> String {
    match (signal, exit_code) {
        // SIGSYS on x86-64 Linux, the one platform with the process sandbox.
        (Some(31), _) => "stopped by its seccomp filter: SIGSYS".to_string(),
        (Some(signal), _) => format!("killed by signal {signal}"),
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "status unknown".to_string(),
    }
}

/// Why [`Instance::call`](crate::Instance::call) did not return a value.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CallError {
    /// The call could not be set up or run.
    #[error(transparent)]
    Setup(#[from] Error),
    /// The guest panicked.
    #[error("the guest panicked at pc {pc}: {reason}")]
    Panic {
        /// Where.
        pc: u32,
        /// Why.
        reason: PanicReason,
    },
    /// The guest ran out of gas.
    #[error("the guest ran out of gas at pc {pc}")]
    OutOfGas {
        /// The block it could not pay for.
        pc: u32,
    },
    /// The guest touched memory it may not.
    #[error("the guest page-faulted at pc {pc} on page 0x{address:08x}")]
    PageFault {
        /// Where.
        pc: u32,
        /// The page.
        address: u32,
    },
    /// The guest called a host function and nothing handles host calls.
    #[error("the guest called host function {index} (`{name}`) and no host functions are registered")]
    UnhandledHostCall {
        /// The import index.
        index: u32,
        /// The import's name, if the program names it.
        name: String,
    },
}

impl CallError {
    /// Builds the error for a guest exit that is not a normal return.
    pub fn from_exit(exit: Exit, pc: u32, import_name: impl FnOnce(u32) -> String) -> Option<CallError> {
        match exit {
            Exit::Halt => None,
            Exit::Panic(reason) => Some(CallError::Panic { pc, reason }),
            Exit::OutOfGas => Some(CallError::OutOfGas { pc }),
            Exit::PageFault(address) => Some(CallError::PageFault { pc, address }),
            Exit::HostCall(index) => Some(CallError::UnhandledHostCall { index, name: import_name(index) }),
        }
    }
}
