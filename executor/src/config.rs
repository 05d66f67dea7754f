//! Engine configuration.

use crate::error::Error;
use crate::gas::{CostModel, GasMetering};
use crate::pool::PoolLimits;
use crate::program::PageSize;

/// Which execution backend runs the guest.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum BackendKind {
    /// The interpreter: portable, the reference semantics.
    Interpreter,
    /// The x86-64 compiler, where the platform supports it.
    Compiler,
    /// The compiler where supported, the interpreter elsewhere.
    Auto,
}

impl BackendKind {
    /// The name used on the command line and in `PVM_BACKEND`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Interpreter => "interpreter",
            BackendKind::Compiler => "compiler",
            BackendKind::Auto => "auto",
        }
    }

    /// Whether this backend can run in this process: always for the interpreter and `Auto`
    /// (which falls back to it), for the compiler where [`crate::compiler::is_supported`] (an
    /// [`Engine`](crate::Engine) asked for it elsewhere fails with
    /// [`Error::BackendUnavailable`]).
    pub fn is_available(self) -> bool {
        match self {
            BackendKind::Interpreter | BackendKind::Auto => true,
            BackendKind::Compiler => crate::compiler::is_available(),
        }
    }

    /// Parses a name as printed by [`BackendKind::name`].
    pub fn from_name(name: &str) -> Option<BackendKind> {
        [BackendKind::Interpreter, BackendKind::Compiler, BackendKind::Auto]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// Where compiled guest code runs.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum SandboxKind {
    /// In the host's own process, on the calling thread, guarded by a 4 GiB address-space
    /// reservation per instance and a fault handler: the fastest, above all for host calls.
    #[default]
    InProcess,
    /// In worker processes (x86-64 Linux): pre-started, reused, each with no other memory of
    /// the host's, a seccomp filter allowing a handful of system calls, and its own namespaces
    /// where the kernel allows. Same results as in-process; a host call costs a round trip
    /// between processes (microseconds). A worker that dies fails the call it was running
    /// with [`Error::ProcessSandbox`] and is replaced.
    Process,
}

impl SandboxKind {
    /// The name used on the command line and in `PVM_SANDBOX`.
    pub fn name(self) -> &'static str {
        match self {
            SandboxKind::InProcess => "in-process",
            SandboxKind::Process => "process",
        }
    }

    /// Parses a name as printed by [`SandboxKind::name`].
    pub fn from_name(name: &str) -> Option<SandboxKind> {
        [SandboxKind::InProcess, SandboxKind::Process].into_iter().find(|kind| kind.name() == name)
    }
}

/// The environment variable [`Config::from_env`] reads the sandbox from (`in-process` or
/// `process`).
pub const SANDBOX_ENV_VAR: &str = "PVM_SANDBOX";

/// The environment variable [`Config::from_env`] reads the backend from (`interpreter`,
/// `compiler` or `auto`), so a program's executor can be switched without rebuilding it.
/// [`Config::new`] does not read it.
pub const BACKEND_ENV_VAR: &str = "PVM_BACKEND";

/// The environment variable [`Config::from_env`] reads [`Config::perf_map`] from (`1` to write
/// the perf map, `0` not to).
pub const PERF_MAP_ENV_VAR: &str = "PVM_PERF_MAP";

/// The trimmed value of environment variable `name`, `None` if it is not set.
fn env_value(name: &'static str) -> Result<Option<String>, Error> {
    let Some(value) = std::env::var_os(name) else { return Ok(None) };
    let invalid = || Error::InvalidEnvVar { name, value: value.to_string_lossy().into_owned() };
    Ok(Some(value.to_str().ok_or_else(invalid)?.trim().to_string()))
}

/// How an [`Engine`](crate::Engine) compiles and runs modules.
///
/// [`Config::new`] reads nothing from the environment: a library embedding the executor gets
/// the same engine wherever it runs. Programs that want the `PVM_BACKEND` switch start from
/// [`Config::from_env`].
///
/// ```
/// use pvm_executor::{BackendKind, Config, GasMetering};
///
/// let mut config = Config::new();
/// config.backend(BackendKind::Interpreter).gas_metering(Some(GasMetering::Sync));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Config {
    pub(crate) backend: BackendKind,
    pub(crate) gas_metering: Option<GasMetering>,
    pub(crate) cost_model: CostModel,
    pub(crate) cache_modules: bool,
    pub(crate) pool_limits: PoolLimits,
    pub(crate) compile_only: bool,
    pub(crate) sandbox: SandboxKind,
    pub(crate) process_workers: usize,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) perf_map: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: `Auto` backend, synchronous gas metering with one unit per instruction,
    /// module caching on. Reads no environment variable.
    pub fn new() -> Self {
        Config {
            backend: BackendKind::Auto,
            gas_metering: Some(GasMetering::Sync),
            cost_model: CostModel::default(),
            cache_modules: true,
            pool_limits: PoolLimits::default(),
            compile_only: false,
            sandbox: SandboxKind::InProcess,
            process_workers: 2,
            memory_limit: None,
            perf_map: false,
        }
    }

    /// The defaults, with the backend taken from `PVM_BACKEND` ([`BACKEND_ENV_VAR`]), the
    /// sandbox from `PVM_SANDBOX` ([`SANDBOX_ENV_VAR`]) and the perf map switch from
    /// `PVM_PERF_MAP` ([`PERF_MAP_ENV_VAR`]) when they are set. Later calls (such as
    /// [`Config::backend`]) still change them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnvVar`] if a variable is set to something other than its names
    /// (`interpreter`, `compiler` or `auto`; `in-process` or `process`; `1` or `0`), or is not
    /// Unicode.
    pub fn from_env() -> Result<Self, Error> {
        let mut config = Config::new();
        let invalid = |name: &'static str, value: &str| Error::InvalidEnvVar { name, value: value.to_string() };
        if let Some(value) = env_value(BACKEND_ENV_VAR)? {
            config.backend = BackendKind::from_name(&value).ok_or_else(|| invalid(BACKEND_ENV_VAR, &value))?;
        }
        if let Some(value) = env_value(SANDBOX_ENV_VAR)? {
            config.sandbox = SandboxKind::from_name(&value).ok_or_else(|| invalid(SANDBOX_ENV_VAR, &value))?;
        }
        if let Some(enabled) = Config::perf_map_from_env()? {
            config.perf_map = enabled;
        }
        Ok(config)
    }

    /// The perf map switch as `PVM_PERF_MAP` ([`PERF_MAP_ENV_VAR`]) sets it: `Some(true)` for
    /// `1`, `Some(false)` for `0`, `None` when it is not set. For embedders that build their
    /// configuration themselves but honour this variable as [`Config::from_env`] does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEnvVar`] for any other value.
    pub fn perf_map_from_env() -> Result<Option<bool>, Error> {
        match env_value(PERF_MAP_ENV_VAR)?.as_deref() {
            None => Ok(None),
            Some("1") => Ok(Some(true)),
            Some("0") => Ok(Some(false)),
            Some(value) => Err(Error::InvalidEnvVar { name: PERF_MAP_ENV_VAR, value: value.to_string() }),
        }
    }

    /// Whether the compiler appends the symbols of the code it generates to this process's
    /// perf map, `/tmp/perf-PID.map` (default `false`), so that `perf report` names samples in
    /// compiled code by module and guest pc (`pvm:3:0x1a2c`: the basic block at pc `0x1a2c` of
    /// the third module compiled with this on) instead of showing bare addresses. Only for
    /// profiling: the file grows with every module compiled and is never cleaned up. Guest code
    /// running in the process sandbox is sampled in the worker processes, which have no map.
    ///
    /// ```
    /// use pvm_executor::{BackendKind, Config};
    ///
    /// let mut config = Config::new();
    /// config.backend(BackendKind::Compiler).perf_map(true);
    /// ```
    pub fn perf_map(&mut self, enabled: bool) -> &mut Self {
        self.perf_map = enabled;
        self
    }

    /// Chooses where compiled code runs (default [`SandboxKind::InProcess`]). The interpreter
    /// backend runs no native guest code and ignores it.
    pub fn sandbox(&mut self, sandbox: SandboxKind) -> &mut Self {
        self.sandbox = sandbox;
        self
    }

    /// How many worker processes the process sandbox starts with the engine (default 2, at
    /// least 1). Concurrent runs beyond that start more, which are kept for later runs (up to
    /// 32 idle workers, or this many if more).
    pub fn process_workers(&mut self, workers: usize) -> &mut Self {
        self.process_workers = workers.max(1);
        self
    }

    /// The most guest memory one instance may have accessible at once, in bytes (default
    /// `None`: the whole 4 GiB address space). It is rounded down to whole pages. A program
    /// whose read-only data, read-write data, stack and auxiliary data already need more is
    /// refused when its module is built ([`Error::MemoryLimit`]); otherwise its heap stops
    /// growing where the next page would pass the limit (`sbrk` fails, as at the end of the
    /// address space; see [`MemoryMap::with_memory_limit`](crate::program::MemoryMap::with_memory_limit)),
    /// and [`Instance::map_memory`](crate::Instance::map_memory) refuses pages past it. The
    /// bound is the same on every backend and sandbox, so it is part of what a guest
    /// observes: nodes that must agree must configure the same limit.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
    /// use pvm_executor::{Config, Engine, Error, Module};
    ///
    /// # let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    /// # code.push(Instruction::jump_indirect(Reg::RA, 0));
    /// # let memory = MemoryConfig { stack_size: 64 * 1024, ..Default::default() };
    /// # let bytes = ProgramBlobBuilder::new(code.build()?.code).memory(memory).export("main", 0).build()?.to_bytes();
    /// let mut config = Config::new();
    /// config.memory_limit(Some(32 * 1024));
    /// let engine = Engine::new(&config)?;
    /// // The blob declares a 64 KiB stack.
    /// let error = Module::from_blob(&engine, &bytes).unwrap_err();
    /// assert_eq!(error, Error::MemoryLimit { needed: 64 * 1024, limit: 32 * 1024 });
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory_limit(&mut self, bytes: Option<u64>) -> &mut Self {
        self.memory_limit = bytes;
        self
    }

    /// Chooses the backend.
    pub fn backend(&mut self, backend: BackendKind) -> &mut Self {
        self.backend = backend;
        self
    }

    /// Chooses gas metering; `None` turns it off (gas is then never charged).
    pub fn gas_metering(&mut self, metering: Option<GasMetering>) -> &mut Self {
        self.gas_metering = metering;
        self
    }

    /// Sets the cost of each instruction.
    pub fn cost_model(&mut self, model: CostModel) -> &mut Self {
        self.cost_model = model;
        self
    }

    /// Whether the engine reuses modules created from identical bytes.
    pub fn cache_modules(&mut self, enabled: bool) -> &mut Self {
        self.cache_modules = enabled;
        self
    }

    /// How many resources of dropped modules and instances the engine keeps for reuse (see
    /// [`PoolLimits`] for each one and its default).
    pub fn pool_limits(&mut self, limits: PoolLimits) -> &mut Self {
        self.pool_limits = limits;
        self
    }

    /// An engine that builds modules but never runs them (default `false`): with
    /// [`BackendKind::Compiler`] it compiles to native code without asking whether this process
    /// could run that code (CPU features, user-mode `wrgsbase`, the fault handler), and
    /// [`Instance::new`](crate::Instance::new) refuses its modules with
    /// [`Error::CompileOnly`]. For measuring or checking compilation where compiled code cannot
    /// run, such as under valgrind (which does not emulate `wrgsbase`); the compiler itself
    /// must still exist on this platform ([`Error::BackendUnavailable`] elsewhere).
    pub fn compile_only(&mut self, enabled: bool) -> &mut Self {
        self.compile_only = enabled;
        self
    }

    /// How many warm sandboxes the engine keeps (compiler backend; default 16): see
    /// [`PoolLimits::warm_sandboxes`].
    pub fn warm_sandboxes(&mut self, count: usize) -> &mut Self {
        self.pool_limits.warm_sandboxes = count;
        self
    }

    /// How many code mappings of dropped modules the engine keeps, and how many bytes in all
    /// (compiler backend; default 16 and 32 MiB): see [`PoolLimits::code_mappings`].
    pub fn code_pool(&mut self, mappings: usize, bytes: usize) -> &mut Self {
        self.pool_limits.code_mappings = mappings;
        self.pool_limits.code_bytes = bytes;
        self
    }
}

/// How one module is loaded: what belongs to the program rather than to the engine running it.
///
/// Today that is the page size. It is per module, as in PolkaVM (`ModuleConfig::set_page_size`)
/// and as in WebAssembly's custom page sizes (a property of a module's memory, not of
/// wasmtime's `Config`), because it is part of a program's ABI: a program is linked for a
/// memory map, and the page size rounds that map's regions (an 8 KiB stack is 16 KiB with
/// 16 KiB pages; PolkaVM's Doom example relies on it). One engine can then run programs built
/// for different page sizes side by side, sharing its pools and compiled code (native code does
/// not depend on the page size; the engine's module cache keeps modules with different
/// configurations apart).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
/// use pvm_executor::program::PageSize;
/// use pvm_executor::{Config, Engine, Module, ModuleConfig};
///
/// # let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
/// # code.push(Instruction::jump_indirect(Reg::RA, 0));
/// # let memory = MemoryConfig { stack_size: 8192, ..Default::default() };
/// # let bytes = ProgramBlobBuilder::new(code.build()?.code).memory(memory).export("main", 0).build()?.to_bytes();
/// let engine = Engine::new(&Config::new())?;
/// let mut config = ModuleConfig::new();
/// config.page_size(PageSize::new(16 * 1024)?);
/// let module = Module::from_blob_with_config(&engine, &bytes, &config)?;
/// // The 8 KiB stack the blob declares, in whole 16 KiB pages.
/// assert_eq!(module.memory_map().unwrap().stack_size(), 16 * 1024);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ModuleConfig {
    pub(crate) page_size: PageSize,
}

impl ModuleConfig {
    /// The defaults: 4 KiB pages.
    pub fn new() -> Self {
        ModuleConfig::default()
    }

    /// Sets the page size a container program's memory map is computed with (default 4 KiB;
    /// see [`PageSize`]). Raw programs always use 4 KiB pages.
    pub fn page_size(&mut self, page_size: PageSize) -> &mut Self {
        self.page_size = page_size;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test for everything that touches `PVM_BACKEND`, so no two tests race on it (no
    /// other test in this crate reads the environment).
    #[test]
    fn only_from_env_reads_the_backend_variable() {
        // Changing the environment races only with threads reading it; no other test of this
        // binary does.
        std::env::remove_var(SANDBOX_ENV_VAR);
        std::env::set_var(BACKEND_ENV_VAR, "interpreter");
        assert_eq!(Config::new().backend, BackendKind::Auto, "new() ignores the environment");
        assert_eq!(Config::from_env().unwrap().backend, BackendKind::Interpreter);
        let mut config = Config::from_env().unwrap();
        config.backend(BackendKind::Compiler);
        assert_eq!(config.backend, BackendKind::Compiler, "later settings win");

        std::env::set_var(BACKEND_ENV_VAR, "jit");
        assert_eq!(Config::from_env(), Err(Error::InvalidEnvVar { name: BACKEND_ENV_VAR, value: "jit".to_string() }));

        std::env::remove_var(BACKEND_ENV_VAR);
        assert_eq!(Config::from_env().unwrap(), Config::new());

        std::env::set_var(SANDBOX_ENV_VAR, "process");
        assert_eq!(Config::new().sandbox, SandboxKind::InProcess, "new() ignores the environment");
        assert_eq!(Config::from_env().unwrap().sandbox, SandboxKind::Process);
        std::env::set_var(SANDBOX_ENV_VAR, "elsewhere");
        assert_eq!(
            Config::from_env(),
            Err(Error::InvalidEnvVar { name: SANDBOX_ENV_VAR, value: "elsewhere".to_string() })
        );
        std::env::remove_var(SANDBOX_ENV_VAR);
    }

    #[test]
    fn the_compiler_is_available_where_it_is_supported() {
        assert_eq!(BackendKind::Compiler.is_available(), crate::compiler::is_supported());
        assert!(BackendKind::Interpreter.is_available() && BackendKind::Auto.is_available());
    }
}
