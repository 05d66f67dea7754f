//! PolkaVM 0.37 (the peer we measure against): its interpreter and its recompiler, with
//! synchronous gas metering like ours, and its default sandbox.

use super::{Compiled, Running, Vm};
use crate::manifest::Program;

struct PolkaVm {
    name: &'static str,
    backend: polkavm::BackendKind,
    engine: polkavm::Engine,
}

impl PolkaVm {
    fn boxed(name: &'static str, backend: polkavm::BackendKind) -> Result<Box<dyn Vm>, String> {
        let mut config = polkavm::Config::new();
        config.set_backend(Some(backend));
        polkavm::Engine::new(&config)
            .map(|engine| Box::new(PolkaVm { name, backend, engine }) as Box<dyn Vm>)
            .map_err(|err| format!("{name}: not measured: {err}"))
    }
}

pub fn all() -> Vec<Result<Box<dyn Vm>, String>> {
    [("polkavm-interp", polkavm::BackendKind::Interpreter), ("polkavm-jit", polkavm::BackendKind::Compiler)]
        .into_iter()
        .map(|(name, backend)| PolkaVm::boxed(name, backend))
        .collect()
}

struct PolkaModule {
    pre: polkavm::InstancePre<(), polkavm::Error>,
    export: String,
}

struct PolkaInstance {
    instance: polkavm::Instance<(), polkavm::Error>,
    export: String,
}

impl Vm for PolkaVm {
    fn name(&self) -> &'static str {
        self.name
    }

    fn compile(&self, program: &Program) -> Result<Box<dyn Compiled>, String> {
        let mut module_config = polkavm::ModuleConfig::new();
        module_config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
        let blob = polkavm::ProgramBlob::parse(program.polkavm.clone().into()).map_err(|err| err.to_string())?;
        let module = polkavm::Module::from_blob(&self.engine, &module_config, blob).map_err(|err| err.to_string())?;
        let linker: polkavm::Linker<(), polkavm::Error> = polkavm::Linker::new();
        let pre = linker.instantiate_pre(&module).map_err(|err| err.to_string())?;
        Ok(Box::new(PolkaModule { pre, export: program.export.clone() }))
    }

    fn has_fresh(&self) -> bool {
        true
    }

    fn fresh(&self) -> Option<Result<Box<dyn Vm>, String>> {
        Some(PolkaVm::boxed(self.name, self.backend))
    }
}

impl Compiled for PolkaModule {
    fn instantiate(&self) -> Result<Box<dyn Running>, String> {
        let mut instance = self.pre.instantiate().map_err(|err| err.to_string())?;
        instance.set_gas(i64::MAX / 2);
        Ok(Box::new(PolkaInstance { instance, export: self.export.clone() }))
    }
}

impl Running for PolkaInstance {
    fn call(&mut self, arg: u64) -> Result<u64, String> {
        self.instance
            .call_typed_and_get_result::<u64, (u64,)>(&mut (), self.export.as_str(), (arg,))
            .map_err(|err| format!("{err:?}"))
    }
}
