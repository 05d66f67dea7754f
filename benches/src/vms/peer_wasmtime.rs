//! wasmtime (the Wasm executor a node would otherwise use): Cranelift, Cranelift with fuel
//! metering (wasmtime's equivalent of gas), and Winch (its baseline compiler).

use super::{Compiled, Running, Vm};
use crate::manifest::Program;

struct Wasmtime {
    name: &'static str,
    engine: wasmtime::Engine,
    fuel: bool,
}

pub fn all() -> Vec<Result<Box<dyn Vm>, String>> {
    [
        ("wasmtime-cranelift", wasmtime::Strategy::Cranelift, false),
        ("wasmtime-cranelift-fuel", wasmtime::Strategy::Cranelift, true),
        ("wasmtime-winch", wasmtime::Strategy::Winch, false),
    ]
    .into_iter()
    .map(|(name, strategy, fuel)| {
        let mut config = wasmtime::Config::new();
        config.strategy(strategy).consume_fuel(fuel);
        wasmtime::Engine::new(&config)
            .map(|engine| Box::new(Wasmtime { name, engine, fuel }) as Box<dyn Vm>)
            .map_err(|err| format!("{name}: not measured: {err}"))
    })
    .collect()
}

struct WasmModule {
    engine: wasmtime::Engine,
    module: wasmtime::Module,
    export: String,
    fuel: bool,
}

struct WasmInstance {
    store: wasmtime::Store<()>,
    function: wasmtime::TypedFunc<i64, i64>,
}

impl Vm for Wasmtime {
    fn name(&self) -> &'static str {
        self.name
    }

    fn compile(&self, program: &Program) -> Result<Box<dyn Compiled>, String> {
        let module = wasmtime::Module::new(&self.engine, &program.wasm).map_err(|err| err.to_string())?;
        Ok(Box::new(WasmModule {
            engine: self.engine.clone(),
            module,
            export: program.export.clone(),
            fuel: self.fuel,
        }))
    }
}

impl Compiled for WasmModule {
    fn instantiate(&self) -> Result<Box<dyn Running>, String> {
        let mut store = wasmtime::Store::new(&self.engine, ());
        if self.fuel {
            store.set_fuel(u64::MAX / 2).map_err(|err| err.to_string())?;
        }
        let linker = wasmtime::Linker::new(&self.engine);
        let instance = linker.instantiate(&mut store, &self.module).map_err(|err| err.to_string())?;
        let function = instance.get_typed_func::<i64, i64>(&mut store, &self.export).map_err(|err| err.to_string())?;
        Ok(Box::new(WasmInstance { store, function }))
    }
}

impl Running for WasmInstance {
    fn call(&mut self, arg: u64) -> Result<u64, String> {
        self.function.call(&mut self.store, arg as i64).map(|value| value as u64).map_err(|err| err.to_string())
    }
}
