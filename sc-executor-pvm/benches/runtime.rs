//! The project's FRAME runtime (`testdata/runtimes/`) on every executor a node could use, side
//! by side in one process: our executor (JIT and interpreter) on the PolkaVM build through
//! [`PvmExecutor`], sc-executor's `WasmExecutor` (wasmtime, compiled, no on-disk cache) on the
//! Wasm build, and sc-executor's own PolkaVM executor (`sc-executor-polkavm`, which
//! `WasmExecutor` hands PolkaVM blobs to when `SUBSTRATE_ENABLE_POLKAVM=1`) on the PolkaVM
//! build. Prints a markdown report (the BENCHMARKS.md section) on stdout.
//!
//!     cargo bench -p sc-executor-pvm --bench runtime [-- --runs 5 --transfers 1,100,1000]
//!
//! Phases, each measured `--runs` times with the executors taking turns (so that a noisy
//! moment of the shared machine hits all of them, not one):
//!
//! * cold start: a new executor (new engine, empty caches, no on-disk cache), then the runtime
//!   from its bytes to the first `Core_version` result: compilation, instantiation and the
//!   call;
//! * `Core_version` warm: the same call again on an executor that has the runtime compiled
//!   and an instance idle;
//! * block production: block 1 on the genesis state of the `development` preset, with the
//!   timestamp inherent and N signed `Balances` transfers to //Bob ([`chain::produce`]:
//!   `Core_initialize_block`, `BlockBuilder_inherent_extrinsics`, N + 1 times
//!   `BlockBuilder_apply_extrinsic`, `BlockBuilder_finalize_block`, each a `StateMachine` call
//!   as a node's block builder makes them);
//! * block import: `Core_execute_block` of that block on the genesis state (one
//!   `StateMachine` call; the runtime checks the state and extrinsics roots itself).
//!
//! Results are checked, not only timed: every executor must return the same `Core_version`
//! bytes, build the same genesis state, produce the same header and end the import in the
//! state root the header names; the run fails (exit status 1) if one of ours or wasmtime's
//! does not.
//!
//! `--profile-import N --vm NAME [--repeat K]` imports one block of N transfers (K times) on
//! one executor and prints its state root, for a profiler:
//!
//!     valgrind --tool=callgrind --toggle-collect='sc_executor_pvm::chain::import*' \
//!         target/release/deps/runtime-HASH --profile-import 1000 --vm ours-jit
//! `sc-executor-polkavm` is measured where it runs; where it fails, its error is reported in
//! the table and below it, and the run goes on.

use pvm_testkit::machine;
use sc_executor::WasmExecutor;
use sc_executor_pvm::chain::{self, Backend, Chain, GenesisOptions, Header};
use sc_executor_pvm::transfer::{self, TransferBuilder};
use sc_executor_pvm::{BackendKind, PvmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, Externalities, ReadRuntimeVersion, RuntimeCode, WrappedRuntimeCode};
use sp_state_machine::BasicExternalities;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Which clock a table is read from.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Clock {
    /// CPU time of the whole process (every thread, user and system): what the work cost,
    /// much less disturbed than wall time by other jobs on a shared machine.
    Cpu,
    /// Elapsed time.
    Wall,
}

/// A measured interval on both clocks.
#[derive(Copy, Clone, Debug)]
struct Time {
    wall: Duration,
    cpu: Duration,
}

impl Time {
    fn on(self, clock: Clock) -> Duration {
        match clock {
            Clock::Cpu => self.cpu,
            Clock::Wall => self.wall,
        }
    }

    fn per(self, calls: u32) -> Time {
        Time { wall: self.wall / calls, cpu: self.cpu / calls }
    }
}

/// The CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Started by [`Timer::start`], read by [`Timer::stop`].
struct Timer {
    wall: Instant,
    cpu: Duration,
}

impl Timer {
    fn start() -> Self {
        Timer { cpu: process_cpu_time(), wall: Instant::now() }
    }

    fn stop(&self) -> Time {
        let wall = self.wall.elapsed();
        Time { wall, cpu: process_cpu_time().saturating_sub(self.cpu) }
    }
}

type HostFunctions = sp_io::SubstrateHostFunctions;
type ExecError = sc_executor::error::Error;

/// The genesis preset the chain starts from (it funds the dev accounts).
const PRESET: &str = "development";
/// The timestamp inherent of block 1, milliseconds.
const TIMESTAMP: u64 = 1_700_000_000_000;
/// What each transfer moves: one unit (12 decimals).
const AMOUNT: u128 = 1_000_000_000_000;

/// The executors compared, in column order (the discriminant is the column).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Vm {
    /// Our x86-64 compiler, PolkaVM build.
    OursJit,
    /// Our interpreter, PolkaVM build.
    OursInterp,
    /// `WasmExecutor` (wasmtime, compiled), Wasm build.
    Wasmtime,
    /// `WasmExecutor` handing the PolkaVM build to `sc-executor-polkavm`.
    ScPolkavm,
}

impl Vm {
    const ALL: [Vm; 4] = [Vm::OursJit, Vm::OursInterp, Vm::Wasmtime, Vm::ScPolkavm];

    fn from_name(name: &str) -> Result<Vm, String> {
        Vm::ALL.into_iter().find(|vm| vm.name() == name).ok_or_else(|| {
            let names: Vec<_> = Vm::ALL.iter().map(|vm| vm.name()).collect();
            format!("unknown executor {name:?} (known: {})", names.join(", "))
        })
    }

    fn name(self) -> &'static str {
        match self {
            Vm::OursJit => "ours-jit",
            Vm::OursInterp => "ours-interp",
            Vm::Wasmtime => "wasmtime",
            Vm::ScPolkavm => "sc-executor-polkavm",
        }
    }

    /// Whether a failure of this executor fails the run (ours and wasmtime must work;
    /// `sc-executor-polkavm` is reported where it does not).
    fn must_work(self) -> bool {
        self != Vm::ScPolkavm
    }

    /// A new executor with empty caches.
    fn executor(self) -> Result<Executor, String> {
        let pvm = |backend| {
            PvmExecutor::<HostFunctions>::builder()
                .with_backend(backend)
                .build()
                .map(Executor::Pvm)
                .map_err(|error| format!("{}: {error}", self.name()))
        };
        match self {
            Vm::OursJit => pvm(BackendKind::Compiler),
            Vm::OursInterp => pvm(BackendKind::Interpreter),
            // The builder's defaults are a node's: compiled with wasmtime, pooling
            // copy-on-write instances, and no `cache_path`, so nothing compiled is kept on
            // disk between executors.
            Vm::Wasmtime | Vm::ScPolkavm => Ok(Executor::Wasm(WasmExecutor::builder().build())),
        }
    }
}

/// One of the executors, as one type (`CodeExecutor` is not object safe), with sc-executor's
/// error type (`PvmError` converts into it).
#[derive(Clone)]
enum Executor {
    Pvm(PvmExecutor<HostFunctions>),
    Wasm(WasmExecutor<HostFunctions>),
}

impl ReadRuntimeVersion for Executor {
    fn read_runtime_version(&self, code: &[u8], ext: &mut dyn Externalities) -> Result<Vec<u8>, String> {
        match self {
            Executor::Pvm(executor) => executor.read_runtime_version(code, ext),
            Executor::Wasm(executor) => executor.read_runtime_version(code, ext),
        }
    }
}

impl CodeExecutor for Executor {
    type Error = ExecError;

    fn call(
        &self,
        ext: &mut dyn Externalities,
        runtime_code: &RuntimeCode,
        method: &str,
        data: &[u8],
        context: CallContext,
    ) -> (Result<Vec<u8>, ExecError>, bool) {
        match self {
            Executor::Pvm(executor) => {
                let (result, native) = executor.call(ext, runtime_code, method, data, context);
                (result.map_err(ExecError::from), native)
            }
            Executor::Wasm(executor) => executor.call(ext, runtime_code, method, data, context),
        }
    }
}

/// A runtime blob and its code hash (a node has the hash from the state, so it is computed
/// once here, outside every measurement).
struct Code {
    wrapped: WrappedRuntimeCode<'static>,
    hash: Vec<u8>,
}

impl Code {
    fn new(bytes: Vec<u8>) -> Self {
        let hash = sp_crypto_hashing::blake2_256(&bytes).to_vec();
        Code { wrapped: WrappedRuntimeCode(Cow::Owned(bytes)), hash }
    }

    fn bytes(&self) -> &[u8] {
        &self.wrapped.0
    }

    fn runtime_code(&self) -> RuntimeCode<'_> {
        RuntimeCode { code_fetcher: &self.wrapped, heap_pages: None, hash: self.hash.clone() }
    }
}

/// The blobs each executor runs.
struct Blobs {
    pvm: Code,
    wasm: Code,
}

impl Blobs {
    fn load() -> Result<Self, String> {
        let read = |name: &str| {
            let path = pvm_testkit::testdata(&format!("runtimes/{name}"));
            std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))
        };
        Ok(Blobs { pvm: Code::new(read("dev_runtime.polkavm")?), wasm: Code::new(read("dev_runtime.wasm")?) })
    }

    fn for_vm(&self, vm: Vm) -> &Code {
        match vm {
            Vm::Wasmtime => &self.wasm,
            Vm::OursJit | Vm::OursInterp | Vm::ScPolkavm => &self.pvm,
        }
    }
}

/// `Core_version` on `executor`, with empty externalities (the runtime reads no storage for
/// it), as an RPC `state_getRuntimeVersion` would call it.
fn core_version(executor: &Executor, code: &Code) -> Result<Vec<u8>, String> {
    let mut ext = BasicExternalities::new_empty();
    executor
        .call(&mut ext, &code.runtime_code(), "Core_version", &[], CallContext::Offchain)
        .0
        .map_err(|error| error.to_string())
}

/// The timings of one phase on one executor, or why it could not be measured.
#[derive(Default)]
struct Samples {
    times: Vec<Time>,
    error: Option<String>,
}

impl Samples {
    fn median(&self, clock: Clock) -> Option<Duration> {
        let mut times: Vec<Duration> = self.times.iter().map(|time| time.on(clock)).collect();
        times.sort();
        match times.len() {
            0 => None,
            n if n % 2 == 1 => Some(times[n / 2]),
            n => Some((times[n / 2 - 1] + times[n / 2]) / 2),
        }
    }

    /// Half the range of the runs, (max - min) / 2, in percent of the median.
    fn spread(&self, clock: Clock) -> Option<f64> {
        let median = self.median(clock)?.as_secs_f64();
        let min = self.times.iter().map(|time| time.on(clock)).min()?.as_secs_f64();
        let max = self.times.iter().map(|time| time.on(clock)).max()?.as_secs_f64();
        Some(50.0 * (max - min) / median)
    }
}

/// One row of the report: a phase, with samples for each executor in [`Vm::ALL`] order.
struct Row {
    phase: String,
    samples: Vec<Samples>,
    /// Whether the ours ÷ wasmtime columns mean anything for this row.
    ratios: bool,
}

impl Row {
    fn new(phase: impl Into<String>) -> Self {
        Row { phase: phase.into(), samples: Vm::ALL.iter().map(|_| Samples::default()).collect(), ratios: true }
    }

    fn of(&self, vm: Vm) -> &Samples {
        &self.samples[vm as usize]
    }

    fn of_mut(&mut self, vm: Vm) -> &mut Samples {
        &mut self.samples[vm as usize]
    }

    /// Records `result` for `vm`: a time, or (once) the error that stopped it. An executor
    /// that has failed in this phase is not measured again in it.
    fn record(&mut self, vm: Vm, result: Result<Time, String>) -> Result<(), String> {
        let samples = self.of_mut(vm);
        match result {
            Ok(time) => samples.times.push(time),
            Err(error) if vm.must_work() => return Err(format!("{}: {}", vm.name(), error)),
            Err(error) => {
                samples.error.get_or_insert(error);
            }
        }
        Ok(())
    }

    fn failed(&self, vm: Vm) -> bool {
        self.of(vm).error.is_some()
    }
}

/// Settings from the command line.
struct Options {
    runs: usize,
    warm_calls: u32,
    transfers: Vec<u32>,
    /// How many dev accounts send the transfers (nonces in sequence per sender).
    senders: usize,
    /// `--profile-import N`: import one block of N transfers on `vm` only.
    profile_import: Option<u32>,
    vm: Option<Vm>,
    /// With `--profile-import`: how many times to import it (for a sampling profiler).
    repeat: u32,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Options {
            runs: 5,
            warm_calls: 200,
            transfers: vec![1, 100, 1000],
            senders: 1,
            profile_import: None,
            vm: None,
            repeat: 1,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                // What `cargo bench` passes to every bench target.
                "--bench" => {}
                "--runs" => options.runs = parse_number(&value("--runs")?)?,
                "--warm-calls" => options.warm_calls = parse_number(&value("--warm-calls")?)?,
                "--transfers" => {
                    options.transfers = value("--transfers")?.split(',').map(parse_number).collect::<Result<_, _>>()?;
                }
                "--senders" => options.senders = parse_number(&value("--senders")?)?,
                "--profile-import" => options.profile_import = Some(parse_number(&value("--profile-import")?)?),
                "--vm" => options.vm = Some(Vm::from_name(&value("--vm")?)?),
                "--repeat" => options.repeat = parse_number(&value("--repeat")?)?,
                other => {
                    return Err(format!(
                        "unknown argument {other:?} (known: --runs N, --warm-calls N, --transfers N,N,..., \
                         --senders N, --profile-import N --vm NAME [--repeat N])"
                    ))
                }
            }
        }
        if options.runs == 0 || options.warm_calls == 0 {
            return Err("--runs and --warm-calls must be at least 1".into());
        }
        if options.profile_import.is_some() != options.vm.is_some() {
            return Err("--profile-import and --vm go together".into());
        }
        Ok(options)
    }
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("not a number: {text:?}"))
}

/// `items` in the order run `run` takes them: rotated by one place per run, so that no
/// executor always comes first or always follows the same one (what ran just before, its
/// caches and the allocator's state it leaves behind, moves a measurement by several percent).
fn in_turn<T>(items: &[T], run: usize) -> impl Iterator<Item = &T> {
    let shift = run % items.len().max(1);
    items[shift..].iter().chain(&items[..shift])
}

/// Cold start and `Core_version` warm, every executor, `runs` times in turn. Returns the
/// two rows; fails if an executor that must work fails or gives another version than the
/// others.
fn version_phases(blobs: &Blobs, options: &Options) -> Result<(Row, Row), String> {
    let mut cold = Row::new("cold start: blob to first `Core_version` (compile included)");
    let mut warm = Row::new("`Core_version`, warm");
    let mut expected: Option<(Vm, Vec<u8>)> = None;
    for run in 0..options.runs {
        for &vm in in_turn(&Vm::ALL, run) {
            if cold.failed(vm) {
                continue;
            }
            let code = blobs.for_vm(vm);
            let timer = Timer::start();
            let first = vm.executor().and_then(|executor| Ok((core_version(&executor, code)?, executor)));
            let elapsed = timer.stop();
            let (version, executor) = match first {
                Ok(done) => done,
                Err(error) => {
                    cold.record(vm, Err(error))?;
                    continue;
                }
            };
            match &expected {
                None => expected = Some((vm, version)),
                Some((reference, bytes)) if *bytes != version => {
                    return Err(format!(
                        "{} returned another Core_version than {}: {version:02x?}",
                        vm.name(),
                        reference.name()
                    ))
                }
                Some(_) => {}
            }
            cold.record(vm, Ok(elapsed))?;
            // Warm: the executor now has the runtime compiled and an idle instance.
            if warm.failed(vm) {
                continue;
            }
            let timer = Timer::start();
            let mut result = Ok(());
            for _ in 0..options.warm_calls {
                if let Err(error) = core_version(&executor, code) {
                    result = Err(error);
                    break;
                }
            }
            warm.record(vm, result.map(|()| timer.stop().per(options.warm_calls)))?;
        }
    }
    Ok((cold, warm))
}

/// The chain every executor builds on: the genesis state of [`PRESET`] (without `:code`, the
/// one entry in which the PolkaVM and Wasm builds' states would differ; the runtime does not
/// read it here, the executors get the code through `RuntimeCode`), and what signs transfers.
struct Start {
    state: Backend,
    header: Header,
    transfers: TransferBuilder,
}

/// Genesis on every executor (each must reach the same root as the first), and the transfer
/// format from the runtime's metadata.
fn start(blobs: &Blobs, executors: &[(Vm, Executor)]) -> Result<Start, String> {
    let options = GenesisOptions { preset: Some(PRESET.to_string()), with_code: false, record: false };
    let mut reference: Option<(Vm, chain::Genesis)> = None;
    for (vm, executor) in executors {
        let genesis = match chain::genesis(executor, blobs.for_vm(*vm).bytes(), &options) {
            Ok(genesis) => genesis,
            Err(error) if vm.must_work() => return Err(format!("{}: genesis: {error}", vm.name())),
            Err(_) => continue, // reported by the phases that time it
        };
        match &reference {
            Some((first, expected)) if expected.header != genesis.header => {
                return Err(format!(
                    "{} built another genesis state than {}: root {:?}, not {:?}",
                    vm.name(),
                    first.name(),
                    genesis.header.state_root,
                    expected.header.state_root
                ))
            }
            Some(_) => {}
            None => reference = Some((*vm, genesis)),
        }
    }
    let (vm, genesis) = reference.ok_or("no executor built the genesis state")?;
    let executor = &executors.iter().find(|(v, _)| *v == vm).ok_or("the reference executor")?.1;
    let metadata = transfer::read_metadata(executor, blobs.for_vm(vm).bytes()).map_err(|error| error.to_string())?;
    let transfers = TransferBuilder::from_metadata(&metadata, &genesis.version, genesis.header.hash())
        .map_err(|error| error.to_string())?;
    Ok(Start { state: genesis.state, header: genesis.header, transfers })
}

/// Block production and import of a block of `count` transfers, every executor, `runs` times
/// in turn. Every executor must produce the header the first one produced, and every import
/// must end in the state root that header names.
fn block_phases(
    blobs: &Blobs,
    executors: &[(Vm, Executor)],
    start: &Start,
    count: u32,
    options: &Options,
) -> Result<(Row, Row), String> {
    let transactions =
        start.transfers.dev_transfers(count as usize, options.senders, AMOUNT).map_err(|error| error.to_string())?;
    let inherent_data = chain::timestamp_inherent_data(TIMESTAMP);
    let plural = if count == 1 { "" } else { "s" };
    let mut production = Row::new(format!("block production, {count} transfer{plural}"));
    let mut import = Row::new(format!("block import, {count} transfer{plural}"));
    let mut expected: Option<(Vm, chain::Produced)> = None;
    for run in 0..options.runs {
        for (vm, executor) in in_turn(executors, run) {
            if production.failed(*vm) {
                continue;
            }
            let code = blobs.for_vm(*vm).bytes();
            let timer = Timer::start();
            let produced =
                chain::produce(executor, code, &start.state, &start.header, &inherent_data, &transactions, false);
            let elapsed = timer.stop();
            let produced = match produced {
                Ok(produced) => produced,
                Err(error) => {
                    production.record(*vm, Err(error.to_string()))?;
                    continue;
                }
            };
            match &expected {
                Some((first, block)) if block.header != produced.header || block.block != produced.block => {
                    return Err(format!(
                        "{} produced another block of {count} transfers than {}: header {:?}, not {:?}",
                        vm.name(),
                        first.name(),
                        produced.header,
                        block.header
                    ))
                }
                Some(_) => {}
                None => expected = Some((*vm, produced)),
            }
            production.record(*vm, Ok(elapsed))?;
        }
        let Some((_, block)) = &expected else {
            return Err(format!("no executor produced the block of {count} transfers"));
        };
        for (vm, executor) in in_turn(executors, run) {
            if import.failed(*vm) {
                continue;
            }
            // The parent state and the code set up outside the measurement; measured is the
            // one runtime call a node makes to import a block.
            let mut on = Chain::new(executor, blobs.for_vm(*vm).bytes(), start.state.clone());
            let timer = Timer::start();
            let result = on.call("Core_execute_block", &block.block, CallContext::Onchain { import: true });
            let elapsed = timer.stop();
            if let Err(error) = result {
                import.record(*vm, Err(error.to_string()))?;
                continue;
            }
            let root = on.storage_root();
            if root != block.header.state_root {
                return Err(format!(
                    "{}: importing the block of {count} transfers ends in root {root:?}, not the header's {:?}",
                    vm.name(),
                    block.header.state_root
                ));
            }
            import.record(*vm, Ok(elapsed))?;
        }
    }
    Ok((production, import))
}

/// The fixed cost `chain::produce` adds to every production it is timed for, whatever the
/// executor: copying the runtime code and hashing it with BLAKE2-256 (`Chain::new`; a node has
/// the hash from the state instead) and cloning the parent state. Median of `runs`.
fn driver_overhead(blobs: &Blobs, executor: &Executor, start: &Start, runs: usize) -> Row {
    let mut row = Row::new("(driver cost inside production: code copy + BLAKE2-256 of the blob + state clone)");
    row.ratios = false;
    for vm in Vm::ALL {
        for _ in 0..runs {
            let timer = Timer::start();
            let chain = Chain::new(executor, blobs.for_vm(vm).bytes(), start.state.clone());
            let elapsed = timer.stop();
            drop(chain);
            row.of_mut(vm).times.push(elapsed);
        }
    }
    row
}

/// Imports one block of `count` transfers on `vm` `--repeat` times (genesis and production on
/// `vm` too, once), for a profiler; says the state root and the time per import.
fn profile_import(blobs: &Blobs, vm: Vm, count: u32, options: &Options) -> Result<String, String> {
    let executor = vm.executor()?;
    let executors = [(vm, executor)];
    let start = start(blobs, &executors)?;
    let transactions =
        start.transfers.dev_transfers(count as usize, options.senders, AMOUNT).map_err(|error| error.to_string())?;
    let code = blobs.for_vm(vm).bytes();
    let executor = &executors[0].1;
    let inherent_data = chain::timestamp_inherent_data(TIMESTAMP);
    let produced = chain::produce(executor, code, &start.state, &start.header, &inherent_data, &transactions, false)
        .map_err(|error| error.to_string())?;
    let timer = Timer::start();
    for _ in 0..options.repeat {
        let imported =
            chain::import(executor, code, &start.state, &produced.block, false).map_err(|error| error.to_string())?;
        if imported.root != produced.header.state_root {
            return Err(format!(
                "the import ends in {:?}, not the header's {:?}",
                imported.root, produced.header.state_root
            ));
        }
    }
    let time = timer.stop().per(options.repeat.max(1));
    Ok(format!(
        "{}: imported block 1 with {count} transfers {} times, state root {:?}, {} CPU / {} wall per import\n",
        vm.name(),
        options.repeat,
        produced.header.state_root,
        format_duration(time.cpu),
        format_duration(time.wall)
    ))
}

/// `polkavm`'s choice of backend and sandbox under the environment this process has (the
/// same `Config::from_env` that `sc-executor-polkavm` builds its engine from).
fn polkavm_backend() -> String {
    match polkavm::Config::from_env().and_then(|config| polkavm::Engine::new(&config)) {
        Ok(engine) => format!("{:?}", engine.backend()).to_lowercase(),
        Err(error) => format!("no engine: {error}"),
    }
}

fn format_duration(time: Duration) -> String {
    let ns = time.as_nanos() as f64;
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

/// The markdown report.
fn report(rows: &[Row], options: &Options, polkavm: &str, load_before: &str) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!(
        "Produced by `cargo bench -p sc-executor-pvm --bench runtime -- --runs {} --warm-calls {} --transfers {}` \
         on {} ({}, {} logical CPUs), load average {} before and {} after.",
        options.runs,
        options.warm_calls,
        options.transfers.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
        machine::today(),
        machine::cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        machine::load_average(),
    ));
    line(String::new());
    line(format!(
        "Median of {} runs (the executors took turns, the order rotated by one place every run), and in parentheses half the range of the runs, \
         (max - min) / 2, in percent of the median. `sc-executor-polkavm` ran on polkavm 0.33's {polkavm} backend; \
         its guest runs in a sandbox process whose CPU time the CPU-time table does not include.",
        options.runs
    ));
    // The errors, numbered once (the same in both tables).
    let mut failures = Vec::new();
    for row in rows {
        for vm in Vm::ALL {
            if let Some(error) = &row.of(vm).error {
                failures.push((row.phase.as_str(), vm, error.as_str()));
            }
        }
    }
    for (clock, title) in
        [(Clock::Cpu, "CPU time of the process (all threads, user + system)"), (Clock::Wall, "Wall time")]
    {
        line(String::new());
        line(format!("**{title}**"));
        line(String::new());
        let mut header = "| phase |".to_string();
        let mut rule = "|---|".to_string();
        for vm in Vm::ALL {
            let _ = write!(header, " {} |", vm.name());
            rule.push_str("---:|");
        }
        header.push_str(" jit ÷ wasmtime | interp ÷ wasmtime |");
        rule.push_str("---:|---:|");
        line(header);
        line(rule);
        for row in rows {
            let mut text = format!("| {} |", row.phase);
            for vm in Vm::ALL {
                let samples = row.of(vm);
                match (samples.median(clock), &samples.error) {
                    (_, Some(_)) => {
                        let n = failures.iter().position(|(phase, v, _)| *phase == row.phase && *v == vm);
                        let _ = write!(text, " fails ({}) |", n.map_or(0, |n| n + 1));
                    }
                    (Some(median), None) => {
                        let spread = samples.spread(clock).unwrap_or(0.0);
                        let _ = write!(text, " {} (±{spread:.0}%) |", format_duration(median));
                    }
                    (None, None) => text.push_str(" – |"),
                }
            }
            let wasmtime = row.of(Vm::Wasmtime).median(clock);
            for vm in [Vm::OursJit, Vm::OursInterp] {
                match (row.of(vm).median(clock), wasmtime) {
                    (Some(ours), Some(theirs)) if row.ratios => {
                        let _ = write!(text, " {:.3} |", ours.as_secs_f64() / theirs.as_secs_f64());
                    }
                    _ => text.push_str(" – |"),
                }
            }
            line(text);
        }
    }
    if !failures.is_empty() {
        line(String::new());
        line("Where an executor failed (numbered as in the tables):".into());
        line(String::new());
        for (n, (phase, vm, error)) in failures.iter().enumerate() {
            line(format!("{}. `{}`, {phase}: {error}", n + 1, vm.name()));
        }
    }
    out
}

fn run() -> Result<String, String> {
    let options = Options::parse()?;
    let load_before = machine::load_average();
    let blobs = Blobs::load()?;
    if let (Some(count), Some(vm)) = (options.profile_import, options.vm) {
        return profile_import(&blobs, vm, count, &options);
    }
    if !pvm_executor::compiler::is_supported() {
        return Err("our compiler does not run on this machine: the benchmark compares it, so it cannot run".into());
    }
    let polkavm = polkavm_backend();
    let (cold, warm) = version_phases(&blobs, &options)?;
    let mut rows = vec![cold, warm];
    // One warm executor each for the block phases (the runtime compiled by a first call).
    let mut executors = Vec::new();
    for vm in Vm::ALL {
        let executor = vm.executor()?;
        // One that fails here (sc-executor-polkavm may) fails the block phases too, which
        // report its error.
        if let Err(error) = core_version(&executor, blobs.for_vm(vm)) {
            if vm.must_work() {
                return Err(format!("{}: {error}", vm.name()));
            }
        }
        executors.push((vm, executor));
    }
    let start = start(&blobs, &executors)?;
    for &count in &options.transfers {
        let (production, import) = block_phases(&blobs, &executors, &start, count, &options)?;
        rows.push(production);
        rows.push(import);
    }
    rows.push(driver_overhead(&blobs, &executors[0].1, &start, options.runs));
    Ok(report(&rows, &options, &polkavm, &load_before))
}

fn main() -> std::process::ExitCode {
    // sc-executor refuses PolkaVM blobs unless this is set (it reads it for every blob); set
    // before any other thread exists, so nothing reads the environment while it changes.
    std::env::set_var("SUBSTRATE_ENABLE_POLKAVM", "1");
    // sc-executor catches a panic in a host function and returns it as the call's error (which
    // the report shows); one line on stderr instead of the default hook's backtrace.
    std::panic::set_hook(Box::new(|info| eprintln!("note: a panic, caught and reported as an error: {info}")));
    match run() {
        Ok(report) => {
            print!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
