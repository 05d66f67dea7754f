//! Doom on the PVM: the host side of PolkaVM's Doom port (github.com/koute/polkadoom) for our
//! interpreter, our JIT and, behind the `polkavm-reference` feature, PolkaVM 0.37 itself.
//!
//! The guest imports five host functions and exports three entry points:
//!
//! | import | what the host does |
//! |---|---|
//! | `ext_rom_size() -> u32` | the WAD's size |
//! | `ext_rom_read(pointer, offset, length)` | copies WAD bytes into guest memory |
//! | `ext_output_video(address, width, height)` | takes a frame of `width * height` BGRX pixels |
//! | `ext_output_audio(address, samples)` | takes stereo i16 samples (counted, not played) |
//! | `ext_stdout(buffer, length) -> i32` | takes text the guest prints; returns `length` |
//!
//! `ext_initialize()` once, then `ext_tick()` once per game tic (35 per second of game time),
//! with `ext_on_keychange(key, pressed)` between tics for input. The port keeps its own clock
//! from the calls it makes, so a run is deterministic: the same program, WAD and key events
//! give the same frames on every backend.
//!
//! Doom runs with 16 KiB pages ([`DOOM_PAGE_SIZE`]), as in PolkaVM's own Doom example: the
//! ELF declares no stack size, so `polkavm-linker` gives it its default 8 KiB, which
//! `ext_initialize` overflows with 4 KiB pages; 16 KiB pages round it up to 16 KiB.

pub mod keys;
pub mod media;

use pvm_executor::program::{MemoryMap, PageSize, StackOverflow};
use pvm_executor::{BackendKind, CallError as GuestError, Config, Engine, Module, ModuleConfig};
use pvm_host_functions::{CallError, Caller, HostError, LinkError, LinkedInstance, Linker};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The page size `pvm doom` runs Doom with by default: 16 KiB, as PolkaVM's Doom example does,
/// which makes the 8 KiB stack `polkavm-linker` gives the ELF by default 16 KiB, enough for
/// `ext_initialize`.
pub const DOOM_PAGE_SIZE: PageSize = match PageSize::new(16 * 1024) {
    Ok(page_size) => page_size,
    Err(_) => panic!("16 KiB is a page size"),
};

/// Gas given to each run on our backends: far more than any run uses, so gas only counts.
const GAS_BUDGET: i64 = i64::MAX / 4;

/// Which virtual machine runs Doom.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DoomBackend {
    /// Our interpreter.
    Interpreter,
    /// Our x86-64 JIT.
    Compiler,
    /// PolkaVM 0.37's recompiler (the `polkavm-reference` feature).
    PolkavmReference,
    /// PolkaVM 0.37's interpreter (the `polkavm-reference` feature).
    PolkavmInterpreter,
}

impl DoomBackend {
    /// Every backend, ours first.
    pub const ALL: [DoomBackend; 4] = [
        DoomBackend::Interpreter,
        DoomBackend::Compiler,
        DoomBackend::PolkavmReference,
        DoomBackend::PolkavmInterpreter,
    ];

    /// The name `--backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            DoomBackend::Interpreter => "interpreter",
            DoomBackend::Compiler => "compiler",
            DoomBackend::PolkavmReference => "polkavm-reference",
            DoomBackend::PolkavmInterpreter => "polkavm-interpreter",
        }
    }

    /// The backend called `name`.
    pub fn from_name(name: &str) -> Option<DoomBackend> {
        DoomBackend::ALL.into_iter().find(|backend| backend.name() == name)
    }

    /// Whether this build can run the backend (PolkaVM's need the `polkavm-reference` feature).
    pub fn is_available(self) -> bool {
        match self {
            DoomBackend::Interpreter | DoomBackend::Compiler => true,
            DoomBackend::PolkavmReference | DoomBackend::PolkavmInterpreter => cfg!(feature = "polkavm-reference"),
        }
    }
}

/// Why a Doom run failed.
#[derive(Debug, thiserror::Error)]
pub enum DoomError {
    /// The program is not a blob or an ELF that links.
    #[error("the program does not link: {0}")]
    Link(String),
    /// Our executor refused the blob or the configuration.
    #[error("the program does not load: {0}")]
    Load(#[from] pvm_executor::Error),
    /// The host functions do not match the program's imports.
    #[error("the host functions do not fit the program: {0}")]
    Imports(#[from] LinkError),
    /// The guest outgrew its stack.
    #[error(
        "`{export}` failed: {overflow}; link the ELF with a larger stack (`pvm link --min-stack-size`) \
         or run it with larger pages (`--page-size`)"
    )]
    StackOverflow {
        /// The entry point that was running.
        export: &'static str,
        /// Where it faulted.
        overflow: StackOverflow,
    },
    /// An entry point failed on our executor.
    #[error("`{export}` failed: {error}")]
    Call {
        /// The entry point.
        export: &'static str,
        /// How it failed.
        error: CallError,
    },
    /// PolkaVM failed (the reference backend).
    #[error("PolkaVM: {0}")]
    Reference(String),
    /// The backend is not compiled into this build.
    #[error("the {0} backend needs the `polkavm-reference` feature of pvm-tools")]
    Unavailable(&'static str),
}

/// A frame the guest handed over: `width * height` pixels, 4 bytes each, in BGRX order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels, row by row, B, G, R and an unused byte each.
    pub bgrx: Vec<u8>,
}

impl Frame {
    /// A 64-bit FNV-1a hash of the pixel bytes, taken 8 bytes (one little-endian word) at a
    /// time: stable across platforms and Rust versions, cheap enough to take every frame.
    pub fn hash(&self) -> u64 {
        fnv1a_words(&self.bgrx)
    }

    /// The pixels as RGBA with an opaque alpha, for image encoders.
    pub fn to_rgba(&self) -> Vec<u8> {
        self.bgrx.chunks_exact(4).flat_map(|pixel| [pixel[2], pixel[1], pixel[0], 0xff]).collect()
    }
}

/// FNV-1a over little-endian 64-bit words (a shorter tail is zero-padded).
pub fn fnv1a_words(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        hash ^= u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        hash = hash.wrapping_mul(PRIME);
    }
    if !chunks.remainder().is_empty() {
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        hash ^= u64::from_le_bytes(tail);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// What the host functions collect during a run (the same for every backend).
#[derive(Debug, Default)]
pub struct DoomHost {
    /// The WAD the guest reads through `ext_rom_read`.
    pub wad: Arc<[u8]>,
    /// The latest frame.
    pub frame: Option<Frame>,
    /// How many frames the guest has handed over.
    pub frames_output: u64,
    /// How many stereo samples the guest has handed over.
    pub audio_samples: u64,
    /// Everything the guest printed.
    pub stdout: Vec<u8>,
}

impl DoomHost {
    /// A host serving `wad`.
    pub fn new(wad: Arc<[u8]>) -> Self {
        DoomHost { wad, ..DoomHost::default() }
    }

    /// The WAD bytes `ext_rom_read(_, offset, length)` asks for.
    fn rom_slice(&self, offset: u32, length: u32) -> Result<&[u8], String> {
        let start = offset as usize;
        start
            .checked_add(length as usize)
            .and_then(|end| self.wad.get(start..end))
            .ok_or_else(|| format!("read of {length} bytes at {offset} is outside the {}-byte WAD", self.wad.len()))
    }

    /// Keeps a frame of `width * height` BGRX pixels read by `read`.
    fn take_frame(
        &mut self,
        width: u32,
        height: u32,
        read: impl FnOnce(&mut [u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        let length = width
            .checked_mul(height)
            .and_then(|pixels| pixels.checked_mul(4))
            .ok_or_else(|| format!("a {width}x{height} frame is too large"))?;
        let mut frame = self.frame.take().unwrap_or(Frame { width, height, bgrx: Vec::new() });
        frame.width = width;
        frame.height = height;
        frame.bgrx.resize(length as usize, 0);
        read(&mut frame.bgrx)?;
        self.frame = Some(frame);
        self.frames_output += 1;
        Ok(())
    }
}

/// A loaded Doom program, ready to play: one backend's instance with the host functions.
pub trait DoomMachine {
    /// Calls `ext_initialize`.
    fn initialize(&mut self) -> Result<(), DoomError>;
    /// Calls `ext_tick`: one game tic.
    fn tick(&mut self) -> Result<(), DoomError>;
    /// Calls `ext_on_keychange(key, pressed)`.
    fn key(&mut self, key: u8, pressed: bool) -> Result<(), DoomError>;
    /// The host functions' state.
    fn host(&self) -> &DoomHost;
    /// Gas used so far (every backend meters gas synchronously).
    fn gas_used(&self) -> Option<u64>;
}

/// A program loaded on a backend, with how long loading took.
pub struct LoadedDoom {
    /// The instance.
    pub machine: Box<dyn DoomMachine>,
    /// Time to load and compile the blob into a module (our `Module::from_blob`, PolkaVM's
    /// `ProgramBlob::parse` + `Module::from_blob`): for the JIT this includes compiling.
    pub compile_time: Duration,
    /// Time to resolve the imports and create the instance.
    pub instantiate_time: Duration,
}

/// Module creation times of one blob on one engine of a backend (see [`compile_times`]).
#[derive(Clone, Debug)]
pub struct CompileTimes {
    /// The engine's first module: what a process pays once.
    pub first: Duration,
    /// Each later module of the same blob on the same engine: what a node pays for every
    /// module after its first (our engine reuses the buffers and code mappings of dropped
    /// modules; PolkaVM's keeps its own).
    pub warm: Vec<Duration>,
}

/// Creates `1 + warm` modules of `blob`, one after another, on one new engine of `backend`
/// (module caches off, each module dropped before the next), and times each creation as
/// [`LoadedDoom::compile_time`] does.
pub fn compile_times(
    backend: DoomBackend,
    blob: &[u8],
    page_size: PageSize,
    warm: usize,
) -> Result<CompileTimes, DoomError> {
    let times = match backend {
        DoomBackend::Interpreter => ours::compile_times(BackendKind::Interpreter, blob, page_size, warm)?,
        DoomBackend::Compiler => ours::compile_times(BackendKind::Compiler, blob, page_size, warm)?,
        #[cfg(feature = "polkavm-reference")]
        DoomBackend::PolkavmReference => {
            reference::compile_times(polkavm::BackendKind::Compiler, blob, page_size, warm)?
        }
        #[cfg(feature = "polkavm-reference")]
        DoomBackend::PolkavmInterpreter => {
            reference::compile_times(polkavm::BackendKind::Interpreter, blob, page_size, warm)?
        }
        #[cfg(not(feature = "polkavm-reference"))]
        DoomBackend::PolkavmReference | DoomBackend::PolkavmInterpreter => {
            return Err(DoomError::Unavailable(backend.name()))
        }
    };
    let (first, warm) = times.split_first().map(|(first, warm)| (*first, warm.to_vec())).unwrap_or_default();
    Ok(CompileTimes { first, warm })
}

/// Loads a blob on `backend` with pages of `page_size` ([`DOOM_PAGE_SIZE`] is what Doom is
/// run with) and host functions serving `wad`.
pub fn load(backend: DoomBackend, blob: &[u8], page_size: PageSize, wad: Arc<[u8]>) -> Result<LoadedDoom, DoomError> {
    match backend {
        DoomBackend::Interpreter => ours::load(BackendKind::Interpreter, blob, page_size, wad),
        DoomBackend::Compiler => ours::load(BackendKind::Compiler, blob, page_size, wad),
        #[cfg(feature = "polkavm-reference")]
        DoomBackend::PolkavmReference => reference::load(polkavm::BackendKind::Compiler, blob, page_size, wad),
        #[cfg(feature = "polkavm-reference")]
        DoomBackend::PolkavmInterpreter => reference::load(polkavm::BackendKind::Interpreter, blob, page_size, wad),
        #[cfg(not(feature = "polkavm-reference"))]
        DoomBackend::PolkavmReference | DoomBackend::PolkavmInterpreter => Err(DoomError::Unavailable(backend.name())),
    }
}

/// Reads a program or WAD file's bytes, decompressing it if it is zstd-compressed (by its
/// magic number, whatever the file is called).
pub fn decompress_if_zstd(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return Ok(bytes);
    }
    let mut decoder =
        ruzstd::decoding::StreamingDecoder::new(bytes.as_slice()).map_err(|err| format!("bad zstd data: {err}"))?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut decoder, &mut out).map_err(|err| format!("bad zstd data: {err}"))?;
    Ok(out)
}

/// Turns program bytes into a blob: a blob (`PVM\0`) is taken as it is, an ELF is linked as
/// `pvm link` links it by default (an 8 KiB stack, unless the ELF asks for more: run it with
/// [`DOOM_PAGE_SIZE`] pages). Both may be zstd-compressed. Returns the blob and the time
/// linking took (zero for a blob).
pub fn program_blob(bytes: Vec<u8>) -> Result<(Vec<u8>, Duration), DoomError> {
    let bytes = decompress_if_zstd(bytes).map_err(DoomError::Link)?;
    if bytes.starts_with(b"PVM\0") {
        return Ok((bytes, Duration::ZERO));
    }
    let started = Instant::now();
    let blob = crate::linking::link(&bytes, &crate::linking::LinkOptions::default()).map_err(DoomError::Link)?;
    Ok((blob, started.elapsed()))
}

/// `warm + 1` module creations by `create`, each timed on its own (the module dropped outside
/// the timing), as [`compile_times`] reports them.
fn time_each<M>(warm: usize, mut create: impl FnMut() -> Result<M, DoomError>) -> Result<Vec<Duration>, DoomError> {
    (0..=warm)
        .map(|_| {
            let started = Instant::now();
            let module = create()?;
            let elapsed = started.elapsed();
            drop(module);
            Ok(elapsed)
        })
        .collect()
}

mod ours {
    use super::*;

    pub struct OurDoom {
        instance: LinkedInstance<DoomHost>,
        memory_map: Option<MemoryMap>,
    }

    fn host_functions() -> Result<Linker<DoomHost>, LinkError> {
        let mut linker = Linker::<DoomHost>::new();
        linker.func_wrap("ext_rom_size", |caller: Caller<'_, DoomHost>| caller.data().wad.len() as u32)?;
        linker.func_wrap(
            "ext_rom_read",
            |mut caller: Caller<'_, DoomHost>, pointer: u32, offset: u32, length: u32| -> Result<(), HostError> {
                let (host, guest, _) = caller.data_guest_and_context_mut();
                let bytes = host.rom_slice(offset, length).map_err(HostError::new)?;
                guest.write_memory(pointer, bytes).map_err(HostError::from)
            },
        )?;
        linker.func_wrap(
            "ext_output_video",
            |mut caller: Caller<'_, DoomHost>, address: u32, width: u32, height: u32| -> Result<(), HostError> {
                let (host, guest, _) = caller.data_guest_and_context_mut();
                host.take_frame(width, height, |out| guest.read_memory(address, out).map_err(|err| err.to_string()))
                    .map_err(HostError::new)
            },
        )?;
        linker.func_wrap("ext_output_audio", |mut caller: Caller<'_, DoomHost>, _address: u32, samples: u32| {
            caller.data_mut().audio_samples += u64::from(samples);
        })?;
        linker.func_wrap(
            "ext_stdout",
            |mut caller: Caller<'_, DoomHost>, buffer: u32, length: u32| -> Result<i32, HostError> {
                let text = caller.read_memory_vec(buffer, length).map_err(HostError::from)?;
                caller.data_mut().stdout.extend_from_slice(&text);
                Ok(length as i32)
            },
        )?;
        Ok(linker)
    }

    /// An engine that compiles afresh every time: `compile_time` measures compiling, not a
    /// cache lookup.
    fn engine(kind: BackendKind, page_size: PageSize) -> Result<(Engine, ModuleConfig), DoomError> {
        let mut config = Config::new();
        config.backend(kind).cache_modules(false);
        let engine = Engine::new(&config)?;
        let mut module_config = ModuleConfig::new();
        module_config.page_size(page_size);
        Ok((engine, module_config))
    }

    pub fn compile_times(
        kind: BackendKind,
        blob: &[u8],
        page_size: PageSize,
        warm: usize,
    ) -> Result<Vec<Duration>, DoomError> {
        let (engine, module_config) = engine(kind, page_size)?;
        time_each(warm, || Ok(Module::from_blob_with_config(&engine, blob, &module_config)?))
    }

    pub fn load(kind: BackendKind, blob: &[u8], page_size: PageSize, wad: Arc<[u8]>) -> Result<LoadedDoom, DoomError> {
        let (engine, module_config) = engine(kind, page_size)?;
        let started = Instant::now();
        let module = Module::from_blob_with_config(&engine, blob, &module_config)?;
        let compile_time = started.elapsed();
        let started = Instant::now();
        let mut instance = host_functions()?.instantiate_pre(&module)?.instantiate(DoomHost::new(wad))?;
        instance.instance_mut().set_gas(GAS_BUDGET);
        let instantiate_time = started.elapsed();
        let machine = OurDoom { instance, memory_map: module.memory_map() };
        Ok(LoadedDoom { machine: Box::new(machine), compile_time, instantiate_time })
    }

    impl OurDoom {
        fn call(&mut self, export: &'static str, args: &[u64]) -> Result<(), DoomError> {
            match self.instance.call(export, args) {
                Ok(_) => Ok(()),
                Err(CallError::Guest(GuestError::PageFault { address, pc })) => {
                    match self.memory_map.and_then(|map| map.stack_overflow(address)) {
                        Some(overflow) => Err(DoomError::StackOverflow { export, overflow }),
                        None => Err(DoomError::Call {
                            export,
                            error: CallError::Guest(GuestError::PageFault { address, pc }),
                        }),
                    }
                }
                Err(error) => Err(DoomError::Call { export, error }),
            }
        }
    }

    impl DoomMachine for OurDoom {
        fn initialize(&mut self) -> Result<(), DoomError> {
            self.call("ext_initialize", &[])
        }

        fn tick(&mut self) -> Result<(), DoomError> {
            self.call("ext_tick", &[])
        }

        fn key(&mut self, key: u8, pressed: bool) -> Result<(), DoomError> {
            self.call("ext_on_keychange", &[u64::from(key), u64::from(pressed)])
        }

        fn host(&self) -> &DoomHost {
            self.instance.data()
        }

        fn gas_used(&self) -> Option<u64> {
            Some((GAS_BUDGET - self.instance.instance().gas()) as u64)
        }
    }
}

#[cfg(feature = "polkavm-reference")]
mod reference {
    use super::*;
    use polkavm::{Caller, Linker};

    pub struct ReferenceDoom {
        instance: polkavm::Instance<DoomHost, String>,
        host: DoomHost,
    }

    fn err(error: impl std::fmt::Display) -> DoomError {
        DoomError::Reference(error.to_string())
    }

    fn host_functions() -> Result<Linker<DoomHost, String>, polkavm::Error> {
        let mut linker = Linker::<DoomHost, String>::new();
        linker.define_typed("ext_rom_size", |caller: Caller<DoomHost>| caller.user_data.wad.len() as u32)?;
        linker.define_typed(
            "ext_rom_read",
            |caller: Caller<DoomHost>, pointer: u32, offset: u32, length: u32| -> Result<(), String> {
                let bytes = caller.user_data.rom_slice(offset, length)?;
                caller.instance.write_memory(pointer, bytes).map_err(|err| err.to_string())
            },
        )?;
        linker.define_typed(
            "ext_output_video",
            |caller: Caller<DoomHost>, address: u32, width: u32, height: u32| -> Result<(), String> {
                let instance = caller.instance;
                caller.user_data.take_frame(width, height, |out| {
                    instance.read_memory_into(address, out).map(|_| ()).map_err(|err| err.to_string())
                })
            },
        )?;
        linker.define_typed("ext_output_audio", |caller: Caller<DoomHost>, _address: u32, samples: u32| {
            caller.user_data.audio_samples += u64::from(samples);
        })?;
        linker.define_typed(
            "ext_stdout",
            |caller: Caller<DoomHost>, buffer: u32, length: u32| -> Result<i32, String> {
                let text = caller.instance.read_memory(buffer, length).map_err(|err| err.to_string())?;
                caller.user_data.stdout.extend_from_slice(&text);
                Ok(length as i32)
            },
        )?;
        Ok(linker)
    }

    fn engine(
        kind: polkavm::BackendKind,
        page_size: PageSize,
    ) -> Result<(polkavm::Engine, polkavm::ModuleConfig), DoomError> {
        let mut config = polkavm::Config::new();
        config.set_backend(Some(kind));
        let engine = polkavm::Engine::new(&config).map_err(err)?;
        let mut module_config = polkavm::ModuleConfig::new();
        module_config.set_page_size(page_size.get());
        // Synchronous gas metering, like ours, so their speeds compare like for like.
        module_config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
        Ok((engine, module_config))
    }

    /// Parsing included, as our `Module::from_blob` includes it.
    fn compile(
        engine: &polkavm::Engine,
        module_config: &polkavm::ModuleConfig,
        blob: &[u8],
    ) -> Result<polkavm::Module, DoomError> {
        let parsed = polkavm::ProgramBlob::parse(blob.to_vec().into()).map_err(err)?;
        polkavm::Module::from_blob(engine, module_config, parsed).map_err(err)
    }

    pub fn compile_times(
        kind: polkavm::BackendKind,
        blob: &[u8],
        page_size: PageSize,
        warm: usize,
    ) -> Result<Vec<Duration>, DoomError> {
        let (engine, module_config) = engine(kind, page_size)?;
        time_each(warm, || compile(&engine, &module_config, blob))
    }

    pub fn load(
        kind: polkavm::BackendKind,
        blob: &[u8],
        page_size: PageSize,
        wad: Arc<[u8]>,
    ) -> Result<LoadedDoom, DoomError> {
        let (engine, module_config) = engine(kind, page_size)?;
        let started = Instant::now();
        let module = compile(&engine, &module_config, blob)?;
        let compile_time = started.elapsed();
        let started = Instant::now();
        let mut instance =
            host_functions().map_err(err)?.instantiate_pre(&module).map_err(err)?.instantiate().map_err(err)?;
        instance.set_gas(GAS_BUDGET);
        let instantiate_time = started.elapsed();
        let machine = ReferenceDoom { instance, host: DoomHost::new(wad) };
        Ok(LoadedDoom { machine: Box::new(machine), compile_time, instantiate_time })
    }

    impl ReferenceDoom {
        fn call(&mut self, export: &'static str, key: Option<(u8, bool)>) -> Result<(), DoomError> {
            // `polkavm::FuncArgs` is not public: one call site per argument shape.
            let result = match key {
                None => self.instance.call_typed(&mut self.host, export, ()),
                Some((key, pressed)) => {
                    self.instance.call_typed(&mut self.host, export, (u32::from(key), u32::from(pressed)))
                }
            };
            result.map_err(|error| match error {
                polkavm::CallError::User(message) => DoomError::Reference(format!("`{export}`: {message}")),
                other => DoomError::Reference(format!("`{export}` failed: {other:?}")),
            })
        }
    }

    impl DoomMachine for ReferenceDoom {
        fn initialize(&mut self) -> Result<(), DoomError> {
            self.call("ext_initialize", None)
        }

        fn tick(&mut self) -> Result<(), DoomError> {
            self.call("ext_tick", None)
        }

        fn key(&mut self, key: u8, pressed: bool) -> Result<(), DoomError> {
            self.call("ext_on_keychange", Some((key, pressed)))
        }

        fn host(&self) -> &DoomHost {
            &self.host
        }

        fn gas_used(&self) -> Option<u64> {
            Some((GAS_BUDGET - self.instance.gas()) as u64)
        }
    }
}

/// One tic's outcome in a [`play`] run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TicRecord {
    /// The tic (0 is the first `ext_tick` after `ext_initialize`).
    pub tic: u32,
    /// How many frames the guest had handed over after this tic.
    pub frames_output: u64,
    /// The hash of the latest frame after this tic ([`Frame::hash`]).
    pub frame_hash: Option<u64>,
    /// Gas used so far, on our backends.
    pub gas_used: Option<u64>,
}

/// Runs `ext_initialize` and `tics` tics, delivering `events` before the tics they are due at,
/// and calls `on_tic` after each tic (for images). Returns one record per tic and the time
/// spent in the guest (initialization excluded; the callback's time excluded).
pub fn play(
    machine: &mut dyn DoomMachine,
    tics: u32,
    events: &[keys::KeyEvent],
    mut on_tic: impl FnMut(u32, &DoomHost),
) -> Result<(Vec<TicRecord>, Duration, Duration), DoomError> {
    let started = Instant::now();
    machine.initialize()?;
    let initialize_time = started.elapsed();
    let mut records = Vec::with_capacity(tics as usize);
    let mut guest_time = Duration::ZERO;
    let mut next_event = 0;
    for tic in 0..tics {
        let started = Instant::now();
        while let Some(event) = events.get(next_event).filter(|event| event.tic <= tic) {
            machine.key(event.key, event.pressed)?;
            next_event += 1;
        }
        machine.tick()?;
        guest_time += started.elapsed();
        let host = machine.host();
        records.push(TicRecord {
            tic,
            frames_output: host.frames_output,
            frame_hash: host.frame.as_ref().map(Frame::hash),
            gas_used: machine.gas_used(),
        });
        on_tic(tic, machine.host());
    }
    Ok((records, initialize_time, guest_time))
}
