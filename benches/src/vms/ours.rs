//! Our executor: the interpreter and the compiler, with and without gas.

use super::{Compiled, Running, Vm};
use crate::manifest::Program;
use pvm_executor::program::Reg;
use pvm_executor::{BackendKind, Config, Engine, Exit, GasMetering, Instance, Module, SandboxKind};

struct Ours {
    name: &'static str,
    config: Config,
    engine: Engine,
}

impl Ours {
    fn boxed(name: &'static str, config: Config) -> Result<Box<dyn Vm>, String> {
        Engine::new(&config)
            .map(|engine| Box::new(Ours { name, config, engine }) as Box<dyn Vm>)
            .map_err(|err| format!("{name}: not measured: {err}"))
    }
}

pub fn all() -> Vec<Result<Box<dyn Vm>, String>> {
    let (in_process, process) = (SandboxKind::InProcess, SandboxKind::Process);
    [
        ("ours-interp", BackendKind::Interpreter, Some(GasMetering::Sync), in_process),
        ("ours-jit", BackendKind::Compiler, Some(GasMetering::Sync), in_process),
        ("ours-jit-nogas", BackendKind::Compiler, None, in_process),
        ("ours-jit-process", BackendKind::Compiler, Some(GasMetering::Sync), process),
    ]
    .into_iter()
    .map(|(name, backend, metering, sandbox)| {
        let mut config = Config::new();
        // Caching would turn every compile after the first into a lookup.
        config.backend(backend).gas_metering(metering).cache_modules(false).sandbox(sandbox);
        Ours::boxed(name, config)
    })
    .collect()
}

struct OursModule {
    module: Module,
    export: String,
}

struct OursInstance {
    instance: Instance,
    export: String,
}

impl Vm for Ours {
    fn name(&self) -> &'static str {
        self.name
    }

    fn compile(&self, program: &Program) -> Result<Box<dyn Compiled>, String> {
        let module = Module::from_blob(&self.engine, &program.polkavm).map_err(|err| err.to_string())?;
        Ok(Box::new(OursModule { module, export: program.export.clone() }))
    }

    fn has_fresh(&self) -> bool {
        true
    }

    fn fresh(&self) -> Option<Result<Box<dyn Vm>, String>> {
        Some(Ours::boxed(self.name, self.config.clone()))
    }
}

impl Compiled for OursModule {
    fn instantiate(&self) -> Result<Box<dyn Running>, String> {
        let mut instance = Instance::new(&self.module).map_err(|err| err.to_string())?;
        instance.set_gas(i64::MAX / 2);
        Ok(Box::new(OursInstance { instance, export: self.export.clone() }))
    }
}

impl Running for OursInstance {
    fn call(&mut self, arg: u64) -> Result<u64, String> {
        self.instance.prepare_call(&self.export, &[arg]).map_err(|err| err.to_string())?;
        match self.instance.run().map_err(|err| err.to_string())? {
            Exit::Halt => Ok(self.instance.reg(Reg::A0)),
            other => Err(format!("stopped with {other} at pc {:?}", self.instance.pc())),
        }
    }
}
