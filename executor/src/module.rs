//! Modules: a program validated, decoded and compiled once, ready to instantiate many times.

use crate::config::BackendKind;
use crate::engine::Engine;
use crate::error::Error;
use crate::gas::BlockCosts;
use crate::interpreter::InterpreterProgram;
use crate::memory::MemoryImage;
use crate::program::{DecodedProgram, Export, InstructionSet, MemoryMap, ProgramBlob, RawProgram};
use std::sync::Arc;

/// A loaded program. Cheap to clone (shared).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, ProgramBlobBuilder, Reg};
/// use pvm_executor::{Config, Engine, Instance, Module};
///
/// let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
/// code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
/// code.push(Instruction::jump_indirect(Reg::RA, 0));
/// let blob = ProgramBlobBuilder::new(code.build()?.code).export("add", 0).build()?;
///
/// let engine = Engine::new(&Config::new())?;
/// let module = Module::from_blob(&engine, &blob.to_bytes())?;
/// let mut instance = Instance::new(&module)?;
/// instance.set_gas(100); // metering is on by default; an instance starts with no gas
/// assert_eq!(instance.call("add", &[2, 3])?, 5);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
    pub(crate) engine: Engine,
}

#[derive(Debug)]
pub(crate) struct ModuleInner {
    pub bytes: Vec<u8>,
    pub isa: InstructionSet,
    pub decoded: DecodedProgram,
    /// The interpreter's form (interpreter backend only).
    pub interpreter: Option<InterpreterProgram>,
    /// The native code (compiler backend only).
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub compiled: Option<Arc<crate::compiler::x86_64::CompiledProgram>>,
    /// Gas per block (and per rest of block), `None` when metering is off.
    pub block_costs: Option<BlockCosts>,
    pub container: Option<Container>,
}

#[derive(Debug)]
pub(crate) struct Container {
    /// Shared: interpreter instances keep it until they build their memory from it.
    pub image: Arc<MemoryImage>,
    pub imports: Vec<String>,
    pub exports: Vec<Export>,
}

impl Module {
    /// Loads a PolkaVM program blob: validates it, decodes it once and prepares it for the
    /// engine's backend. Loading the same bytes again while the first module is alive returns
    /// the same compiled module.
    pub fn from_blob(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        let inner = engine.cached(bytes, || {
            let (blob, decoded) = ProgramBlob::parse_and_decode(bytes)?;
            let image = MemoryImage {
                map: blob.memory_map(),
                ro_data: blob.ro_data().to_vec(),
                rw_data: blob.rw_data().to_vec(),
            };
            let container = Container {
                image: Arc::new(image),
                imports: blob.imports().to_vec(),
                exports: blob.exports().to_vec(),
            };
            Ok(Arc::new(Self::build(engine, bytes.to_vec(), blob.isa(), decoded, Some(container))?))
        })?;
        Ok(Module { inner, engine: engine.clone() })
    }

    /// Loads a Gray Paper raw program (the JAM conformance vectors' format). Its memory is
    /// whatever the host maps into each instance ([`Instance::map_memory`](crate::Instance::map_memory)).
    pub fn from_raw(engine: &Engine, program: &RawProgram) -> Result<Module, Error> {
        let bytes = program.to_bytes();
        let inner = engine.cached(&bytes, || {
            let decoded = program.decode();
            Ok(Arc::new(Self::build(engine, bytes.clone(), program.code().isa(), decoded, None)?))
        })?;
        Ok(Module { inner, engine: engine.clone() })
    }

    fn build(
        engine: &Engine,
        bytes: Vec<u8>,
        isa: InstructionSet,
        decoded: DecodedProgram,
        container: Option<Container>,
    ) -> Result<ModuleInner, Error> {
        let config = engine.config();
        let block_costs = config.gas_metering.map(|_| BlockCosts::new(decoded.instructions(), &config.cost_model));
        match engine.backend() {
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            BackendKind::Compiler => {
                let gas = crate::compiler::GasMode::from_config(config.gas_metering);
                let compiled = engine.compiled(&bytes, || {
                    crate::compiler::x86_64::CompiledProgram::compile(&decoded, block_costs.as_ref(), gas)
                        .map_err(|error| Error::Config(format!("compiling failed: {error}")))
                })?;
                Ok(ModuleInner {
                    bytes,
                    isa,
                    decoded,
                    interpreter: None,
                    compiled: Some(compiled),
                    block_costs,
                    container,
                })
            }
            _ => {
                let interpreter = Some(InterpreterProgram::new(&decoded, block_costs.as_ref()));
                Ok(ModuleInner {
                    bytes,
                    isa,
                    decoded,
                    interpreter,
                    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
                    compiled: None,
                    block_costs,
                    container,
                })
            }
        }
    }

    /// The engine this module belongs to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The instruction set of the code.
    pub fn isa(&self) -> InstructionSet {
        self.inner.isa
    }

    /// Imported function names, by import index (`ecalli N` calls import `N`). Empty for raw
    /// programs.
    pub fn imports(&self) -> &[String] {
        self.inner.container.as_ref().map_or(&[], |c| &c.imports)
    }

    /// Exported entry points. Empty for raw programs.
    pub fn exports(&self) -> &[Export] {
        self.inner.container.as_ref().map_or(&[], |c| &c.exports)
    }

    /// The pc of an export.
    pub fn export_pc(&self, name: &str) -> Option<u32> {
        self.exports().iter().find(|export| export.name == name).map(|export| export.pc)
    }

    /// Where the program's memory is placed (container programs only).
    pub fn memory_map(&self) -> Option<MemoryMap> {
        self.inner.container.as_ref().map(|c| c.image.map)
    }

    /// The decoded code.
    pub fn decoded(&self) -> &DecodedProgram {
        &self.inner.decoded
    }

    /// Whether two handles share one compiled module (true for cache hits).
    pub fn same_module(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Approximate heap memory held by the module (decoded and compiled forms).
    pub fn memory_usage(&self) -> usize {
        self.inner.bytes.len()
            + std::mem::size_of_val(self.inner.decoded.instructions())
            + self.inner.interpreter.as_ref().map_or(0, InterpreterProgram::memory_usage)
            + self.compiled_code_usage()
    }

    fn compiled_code_usage(&self) -> usize {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if let Some(compiled) = &self.inner.compiled {
            return compiled.memory_usage();
        }
        0
    }

    /// The backend this module runs on.
    pub fn backend(&self) -> BackendKind {
        self.engine.backend()
    }

    /// Bytes of native code, for modules compiled by the compiler backend.
    pub fn native_code_len(&self) -> Option<usize> {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if let Some(compiled) = &self.inner.compiled {
            return Some(compiled.code_len());
        }
        None
    }

    /// Whether two modules share the same native code (true when the engine's code cache
    /// served the second one).
    pub fn shares_code_with(&self, other: &Module) -> bool {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if let (Some(a), Some(b)) = (&self.inner.compiled, &other.inner.compiled) {
            return Arc::ptr_eq(a, b);
        }
        self.same_module(other)
    }
}
