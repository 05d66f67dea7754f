//! Engine configuration.

use crate::gas::{CostModel, GasMetering};

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

    /// Parses a name as printed by [`BackendKind::name`].
    pub fn from_name(name: &str) -> Option<BackendKind> {
        [BackendKind::Interpreter, BackendKind::Compiler, BackendKind::Auto]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// The environment variable that overrides the configured backend (`interpreter`,
/// `compiler` or `auto`), so a node's executor can be switched without rebuilding it.
pub const BACKEND_ENV_VAR: &str = "PVM_BACKEND";

/// How an [`Engine`](crate::Engine) compiles and runs modules.
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
    pub(crate) allow_env_override: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: `Auto` backend, synchronous gas metering with one unit per instruction,
    /// module caching on, `PVM_BACKEND` honoured.
    pub fn new() -> Self {
        Config {
            backend: BackendKind::Auto,
            gas_metering: Some(GasMetering::Sync),
            cost_model: CostModel::default(),
            cache_modules: true,
            allow_env_override: true,
        }
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

    /// Whether `PVM_BACKEND` may override the backend chosen here (on by default).
    pub fn allow_env_override(&mut self, allowed: bool) -> &mut Self {
        self.allow_env_override = allowed;
        self
    }

    /// The backend after applying `PVM_BACKEND`, if allowed.
    pub(crate) fn effective_backend(&self) -> Result<BackendKind, String> {
        if self.allow_env_override {
            if let Ok(value) = std::env::var(BACKEND_ENV_VAR) {
                return BackendKind::from_name(value.trim())
                    .ok_or_else(|| format!("{BACKEND_ENV_VAR}={value:?} is not one of interpreter, compiler, auto"));
            }
        }
        Ok(self.backend)
    }
}
