//! Modules: a program validated, decoded and compiled once, ready to instantiate many times.

use crate::compiler::CompiledProgram;
use crate::config::{BackendKind, ModuleConfig};
use crate::engine::Engine;
use crate::error::Error;
use crate::gas::BlockCosts;
use crate::interpreter::InterpreterProgram;
use crate::memory::MemoryImage;
use crate::pool::Pools;
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

/// An export resolved by [`Module::export_index`]: its position in [`Module::exports`]. It
/// stands for that export in the module it came from (and in modules with the same exports,
/// such as one loaded from the same bytes).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct ExportIndex(u32);

impl ExportIndex {
    /// The position in [`Module::exports`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What [`Instance::prepare_call`](crate::Instance::prepare_call) and
/// [`Instance::call`](crate::Instance::call) accept as the export to call: its name (looked up
/// on every call) or an [`ExportIndex`] (resolved once).
pub trait EntryPoint {
    /// The export's pc in `module`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExport`] if the module has no such export.
    fn export_pc(&self, module: &Module) -> Result<u32, Error>;
}

impl EntryPoint for &str {
    fn export_pc(&self, module: &Module) -> Result<u32, Error> {
        module.export_pc(self).ok_or_else(|| Error::UnknownExport(self.to_string()))
    }
}

impl EntryPoint for &String {
    fn export_pc(&self, module: &Module) -> Result<u32, Error> {
        self.as_str().export_pc(module)
    }
}

impl EntryPoint for ExportIndex {
    fn export_pc(&self, module: &Module) -> Result<u32, Error> {
        module
            .exports()
            .get(self.index())
            .map(|export| export.pc)
            .ok_or_else(|| Error::UnknownExport(format!("#{}", self.0)))
    }
}

#[derive(Debug)]
pub(crate) struct ModuleInner {
    /// The bytes it was loaded from, for the module cache to compare (empty when the engine
    /// does not cache modules: nothing compares them then, and a large blob is not copied).
    pub bytes: Vec<u8>,
    /// How it was loaded (with the bytes, the module cache's key).
    pub config: ModuleConfig,
    pub isa: InstructionSet,
    pub decoded: DecodedProgram,
    /// The code in the engine's backend's form.
    pub code: Code,
    /// Gas per block (and per rest of block), `None` when metering is off.
    pub block_costs: Option<BlockCosts>,
    pub container: Option<Container>,
    /// The engine's pools, which get the decode buffers back when the module is dropped.
    pub pools: Arc<Pools>,
}

impl Drop for ModuleInner {
    fn drop(&mut self) {
        self.pools.buffers.recycle_decoded(&mut self.decoded);
        if let Some(costs) = self.block_costs.take() {
            self.pools.buffers.recycle_words(costs.into_buffer());
        }
    }
}

/// A module's code, prepared for one backend.
#[derive(Debug)]
pub(crate) enum Code {
    /// The interpreter's form.
    Interpreted(Arc<InterpreterProgram>),
    /// Native code (shared with the engine's code cache).
    Compiled(Arc<CompiledProgram>),
}

#[derive(Debug)]
pub(crate) struct Container {
    /// Shared: interpreter instances keep it until they build their memory from it.
    pub image: Arc<MemoryImage>,
    pub imports: Vec<String>,
    pub exports: Vec<Export>,
}

impl Module {
    /// Loads a PolkaVM program blob with the default [`ModuleConfig`] (4 KiB pages): validates
    /// it, decodes it once and prepares it for the engine's backend. Loading the same bytes
    /// again while the first module is alive returns the same compiled module.
    pub fn from_blob(engine: &Engine, bytes: &[u8]) -> Result<Module, Error> {
        Module::from_blob_with_config(engine, bytes, &ModuleConfig::default())
    }

    /// Loads a PolkaVM program blob as [`Module::from_blob`] does, with `config` (such as a page
    /// size other than 4 KiB). The same bytes loaded with another configuration are another
    /// module (with the same compiled code).
    pub fn from_blob_with_config(engine: &Engine, bytes: &[u8], config: &ModuleConfig) -> Result<Module, Error> {
        let inner = engine.cached(bytes, config, || {
            let buffers = &engine.inner.pools.buffers;
            let (mut blob, decoded) =
                ProgramBlob::parse_and_decode_without_code(bytes, &mut |code_len| buffers.decode_buffers(code_len))?;
            let mut map = blob.memory_map_with_page_size(config.page_size);
            if let Some(limit) = engine.config().memory_limit {
                map = map.with_memory_limit(limit).ok_or(Error::MemoryLimit {
                    needed: map.static_size(),
                    limit: config.page_size.align_down(limit),
                })?;
            }
            let (ro_data, rw_data) = blob.take_data();
            let image = MemoryImage { map, ro_data, rw_data };
            let container = Container {
                image: Arc::new(image),
                imports: blob.imports().to_vec(),
                exports: blob.exports().to_vec(),
            };
            Ok(Arc::new(Self::build(
                engine,
                engine.cache_key_bytes(bytes),
                config,
                blob.isa(),
                decoded,
                Some(container),
            )?))
        })?;
        Ok(Module { inner, engine: engine.clone() })
    }

    /// Loads a Gray Paper raw program (the JAM conformance vectors' format). Its memory is
    /// whatever the host maps into each instance ([`Instance::map_memory`](crate::Instance::map_memory)),
    /// in 4 KiB pages.
    pub fn from_raw(engine: &Engine, program: &RawProgram) -> Result<Module, Error> {
        let bytes = program.to_bytes();
        let config = ModuleConfig::default();
        let inner = engine.cached(&bytes, &config, || {
            let buffers = &engine.inner.pools.buffers;
            let decoded = program.decode_with(&mut |code_len| buffers.decode_buffers(code_len));
            Ok(Arc::new(Self::build(
                engine,
                engine.cache_key_bytes(&bytes),
                &config,
                program.code().isa(),
                decoded,
                None,
            )?))
        })?;
        Ok(Module { inner, engine: engine.clone() })
    }

    fn build(
        engine: &Engine,
        bytes: Vec<u8>,
        module_config: &ModuleConfig,
        isa: InstructionSet,
        decoded: DecodedProgram,
        container: Option<Container>,
    ) -> Result<ModuleInner, Error> {
        let config = engine.config();
        // In a recycled buffer: a fresh one of this size (Doom: 600 KB) would be mapped and
        // page-faulted in anew by every build.
        let block_costs = config.gas_metering.map(|_| {
            let buffer = engine.inner.pools.buffers.words(decoded.instructions().len());
            BlockCosts::new_in(&decoded, &config.cost_model, buffer)
        });
        let code = match engine.backend() {
            BackendKind::Compiler => Code::Compiled(engine.compiled(&bytes, || {
                CompiledProgram::compile(
                    &decoded,
                    block_costs.as_ref(),
                    config.gas_metering,
                    &engine.inner.pools,
                    config.perf_map,
                )
                .map_err(Error::Compile)
            })?),
            BackendKind::Interpreter | BackendKind::Auto => {
                Code::Interpreted(Arc::new(InterpreterProgram::new(&decoded, block_costs.as_ref())))
            }
        };
        let pools = engine.inner.pools.clone();
        Ok(ModuleInner { bytes, config: module_config.clone(), isa, decoded, code, block_costs, container, pools })
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

    /// Resolves an export's name once, for calls that should not look it up again
    /// ([`Instance::prepare_call`](crate::Instance::prepare_call) and
    /// [`Instance::call`](crate::Instance::call) take the handle in place of the name).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, ProgramBlobBuilder, Reg};
    /// # use pvm_executor::{Config, Engine, Instance, Module};
    /// # let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    /// # code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
    /// # code.push(Instruction::jump_indirect(Reg::RA, 0));
    /// # let blob = ProgramBlobBuilder::new(code.build()?.code).export("add", 0).build()?;
    /// let module = Module::from_blob(&Engine::new(&Config::new())?, &blob.to_bytes())?;
    /// let add = module.export_index("add").expect("the program exports `add`");
    /// let mut instance = Instance::new(&module)?;
    /// for n in 0..3 {
    ///     instance.set_gas(100);
    ///     assert_eq!(instance.call(add, &[n, 1])?, n + 1);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn export_index(&self, name: &str) -> Option<ExportIndex> {
        let index = self.exports().iter().position(|export| export.name == name)?;
        Some(ExportIndex(index as u32))
    }

    /// Where the program's memory is placed, for the page size it was loaded with (container
    /// programs only).
    pub fn memory_map(&self) -> Option<MemoryMap> {
        self.inner.container.as_ref().map(|c| c.image.map)
    }

    /// The decoded code.
    pub fn decoded(&self) -> &DecodedProgram {
        &self.inner.decoded
    }

    /// Whether two handles share one module (true for hits of the engine's module cache). A
    /// diagnostic, for tests of the caches.
    pub fn same_module(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Approximate heap memory held by the module (bytes, decoded and prepared forms). A
    /// diagnostic, for tests and tuning.
    pub fn memory_usage(&self) -> usize {
        let code = match &self.inner.code {
            Code::Interpreted(program) => program.memory_usage(),
            Code::Compiled(program) => program.memory_usage(),
        };
        self.inner.bytes.len() + std::mem::size_of_val(self.inner.decoded.instructions()) + code
    }

    /// The backend this module runs on.
    pub fn backend(&self) -> BackendKind {
        self.engine.backend()
    }

    /// Bytes of native code, for modules compiled by the compiler backend. A diagnostic.
    pub fn native_code_len(&self) -> Option<usize> {
        match &self.inner.code {
            Code::Compiled(program) => Some(program.code_len()),
            Code::Interpreted(_) => None,
        }
    }

    /// Whether two modules share the same prepared code (true when the engine's code cache
    /// served the second one). A diagnostic, for tests of the caches.
    pub fn shares_code_with(&self, other: &Module) -> bool {
        match (&self.inner.code, &other.inner.code) {
            (Code::Compiled(a), Code::Compiled(b)) => Arc::ptr_eq(a, b),
            _ => self.same_module(other),
        }
    }
}
