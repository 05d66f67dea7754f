//! `pvm runtime info|genesis|block RUNTIME`: a polkadot-sdk runtime built for the PVM, run the
//! way a node runs it (`sp_state_machine` over `sc-executor-pvm`), on either backend.

use super::run::parse_backend;
use pvm_executor::program::ProgramBlob;
use pvm_executor::BackendKind;
use sc_executor_pvm::chain::{self, ChainError, GenesisOptions, Header};
use sc_executor_pvm::transfer::{self, TransferBuilder, DEV_RECIPIENT, DEV_SENDERS};
use sc_executor_pvm::{classify_code, CodeKind, PvmExecutor};
use sp_core::traits::CallContext;
use sp_version::RuntimeVersion;
use sp_wasm_interface::HostFunctions as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The host functions `pvm runtime` provides: sp-io's, as a node's executor has them.
type HostFunctions = sp_io::SubstrateHostFunctions;
type Executor = PvmExecutor<HostFunctions>;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print the runtime's version, its APIs and the host functions it imports (each marked
    /// provided or missing against sp-io's `SubstrateHostFunctions`).
    Info(Common),
    /// Build the genesis state from the runtime's genesis config and a preset; print its root
    /// (with `:code` set to the runtime, as a node's genesis has it) and its key count.
    Genesis(GenesisArgs),
    /// Build a block of signed balance transfers on the genesis state, execute it again on that
    /// state (import), and print the header, the storage root and the time of each phase.
    Block(BlockArgs),
}

#[derive(clap::Args)]
struct Common {
    /// The runtime: a PolkaVM program blob, plain or zstd-compressed as
    /// `sp-maybe-compressed-blob` compresses runtimes (e.g. the wasm-builder's
    /// `*.compact.compressed.polkavm`).
    runtime: PathBuf,
    /// Backend: interpreter, compiler, or auto (the compiler where it runs).
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    backend: BackendKind,
}

#[derive(clap::Args)]
struct PresetArgs {
    /// The genesis preset merged into the runtime's default genesis config. Default:
    /// `development` if the runtime has it, else the default config alone.
    #[arg(long, conflicts_with = "default_config")]
    preset: Option<String>,
    /// Use the runtime's default genesis config, without a preset.
    #[arg(long)]
    default_config: bool,
}

#[derive(clap::Args)]
struct GenesisArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    preset: PresetArgs,
    /// Write the genesis storage as JSON in the shape of a raw chain spec's `genesis.raw`
    /// (`{"top": {"0xKEY": "0xVALUE", ...}, "childrenDefault": {}}`), `:code` included.
    #[arg(long, value_name = "FILE")]
    raw_out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BlockArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    preset: PresetArgs,
    /// How many transfers the block carries.
    #[arg(long)]
    transfers: usize,
    /// How many dev accounts sign them, in turn (//Alice, //Charlie, //Dave, //Eve, //Ferdie);
    /// each has its own nonces. The recipient is //Bob.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// The amount of each transfer, in the runtime's smallest unit.
    #[arg(long, default_value_t = 1_000_000_000_000)]
    amount: u128,
    /// The block's timestamp (the timestamp inherent), in milliseconds since the Unix epoch.
    #[arg(long, default_value_t = 1_700_000_000_000)]
    timestamp: u64,
}

/// Prints what the runtime logs at warning level or above (`ext_logging_log`) to stderr: a
/// runtime's panic message reaches the host this way before it traps.
struct RuntimeLog;

impl log::Log for RuntimeLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        // The state machine's own warnings (e.g. transactions rolled back after a trap) are
        // the host's, not the runtime's.
        metadata.level() <= log::Level::Warn && !metadata.target().starts_with("sp_state_machine")
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("runtime log ({}, {}): {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

static RUNTIME_LOG: RuntimeLog = RuntimeLog;

pub fn run(args: Args) -> Result<ExitCode, String> {
    // Only fails if a logger is already set, which then prints instead.
    if log::set_logger(&RUNTIME_LOG).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    match args.command {
        Command::Info(args) => info(args),
        Command::Genesis(args) => genesis(args),
        Command::Block(args) => block(args),
    }
}

/// A runtime read from disk: the code as stored (what goes in `:code`) and its blob.
struct Runtime {
    stored: Vec<u8>,
    blob: ProgramBlob,
    compressed: bool,
}

fn load(path: &Path) -> Result<Runtime, String> {
    let stored = std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let (code, kind) = classify_code(&stored).map_err(|err| format!("{}: {err}", path.display()))?;
    if kind == CodeKind::Wasm {
        return Err(format!(
            "{} is a Wasm runtime: `pvm runtime` runs runtimes built for the PVM (a PolkaVM blob, e.g. the \
             wasm-builder's output with SUBSTRATE_RUNTIME_TARGET=riscv)",
            path.display()
        ));
    }
    let compressed = code.len() != stored.len();
    let blob = ProgramBlob::parse(&code).map_err(|err| format!("{}: invalid PolkaVM blob: {err}", path.display()))?;
    if !blob.exports().iter().any(|export| export.name == "Core_version") {
        return Err(format!(
            "{} is a PolkaVM blob but not a runtime: it exports no `Core_version` (its exports: {})",
            path.display(),
            list(blob.exports().iter().map(|export| export.name.to_string()).collect())
        ));
    }
    Ok(Runtime { stored, blob, compressed })
}

fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// An executor on `backend`. Missing host functions are allowed, so that a runtime importing
/// one it never calls still runs; a call that reaches one fails naming it.
fn executor(backend: BackendKind) -> Result<Executor, String> {
    Executor::builder()
        .with_backend(backend)
        .with_allow_missing_host_functions(true)
        .with_runtime_cache_size(1)
        .build()
        .map_err(|err| err.to_string())
}

/// The runtime's imports that `HostFunctions` does not provide.
fn missing_host_functions(blob: &ProgramBlob) -> Vec<String> {
    let provided: BTreeSet<&str> = HostFunctions::host_functions().iter().map(|f| f.name()).collect();
    blob.imports().iter().map(|name| name.to_string()).filter(|name| !provided.contains(name.as_str())).collect()
}

fn warn_missing(blob: &ProgramBlob) {
    let missing = missing_host_functions(blob);
    if !missing.is_empty() {
        eprintln!("warning: host functions the runtime imports and sp-io does not provide: {}", missing.join(", "));
    }
}

/// The version, with the load (compile) it needs: `Core_version` on an empty state.
fn version(executor: &Executor, runtime: &Runtime) -> Result<RuntimeVersion, String> {
    chain::Chain::new(executor, &runtime.stored, chain::Backend::default())
        .version(CallContext::Offchain)
        .map_err(|err| err.to_string())
}

fn print_version(version: &RuntimeVersion) {
    println!("spec name:            {}", version.spec_name);
    println!("impl name:            {}", version.impl_name);
    println!("authoring version:    {}", version.authoring_version);
    println!("spec version:         {}", version.spec_version);
    println!("impl version:         {}", version.impl_version);
    println!("transaction version:  {}", version.transaction_version);
    println!("system version:       {} (state version {})", version.system_version, version.state_version());
}

fn info(args: Common) -> Result<ExitCode, String> {
    let runtime = load(&args.runtime)?;
    let executor = executor(args.backend)?;
    let version = version(&executor, &runtime)?;
    println!(
        "runtime:              {} ({} bytes{}, {} on the {:?})",
        args.runtime.display(),
        runtime.stored.len(),
        if runtime.compressed { ", zstd-compressed" } else { "" },
        runtime.blob.isa(),
        executor.backend()
    );
    print_version(&version);
    println!("apis ({}):", version.apis.len());
    for (id, api_version) in version.apis.iter() {
        let name = chain::api_name(id).unwrap_or("(unknown)");
        println!("  0x{}  {name:<30} version {api_version}", hex(id));
    }
    let provided: BTreeSet<&str> = HostFunctions::host_functions().iter().map(|f| f.name()).collect();
    let imports = runtime.blob.imports();
    let missing = imports.iter().filter(|name| !provided.contains(name.as_str())).count();
    println!("host functions ({} imported, {} provided, {missing} missing):", imports.len(), imports.len() - missing);
    for name in imports.iter() {
        let mark = if provided.contains(name.as_str()) { "provided" } else { "MISSING " };
        println!("  {mark}  {name}");
    }
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    sp_core::bytes::to_hex(bytes, false).trim_start_matches("0x").to_string()
}

/// The preset to use: the one asked for, else `development` if the runtime names it.
fn choose_preset(executor: &Executor, runtime: &Runtime, args: &PresetArgs) -> Result<Option<String>, String> {
    if args.default_config {
        return Ok(None);
    }
    if let Some(name) = &args.preset {
        return Ok(Some(name.clone()));
    }
    let mut chain = chain::Chain::new(executor, &runtime.stored, chain::Backend::default());
    let version = chain.version(CallContext::Offchain).map_err(|err| err.to_string())?;
    chain::require_genesis_api(&version).map_err(|err| err.to_string())?;
    let names: Vec<Vec<u8>> = chain
        .call_decode("GenesisBuilder_preset_names", &[], CallContext::Offchain, "a list of preset names")
        .map_err(|err| err.to_string())?;
    Ok(names.iter().any(|name| name == b"development").then(|| "development".to_string()))
}

/// A genesis state as a node has it: built by the runtime, then `:code` set.
struct NodeGenesis {
    genesis: chain::Genesis,
    /// The root before `:code` was set.
    root_without_code: sp_core::H256,
    preset: Option<String>,
}

fn node_genesis(executor: &Executor, runtime: &Runtime, preset: Option<String>) -> Result<NodeGenesis, ChainError> {
    let options = GenesisOptions { preset: preset.clone(), with_code: false, record: false };
    let mut genesis = chain::genesis(executor, &runtime.stored, &options)?;
    let root_without_code = genesis.header.state_root;
    let mut with_code = chain::Chain::new(executor, &runtime.stored, genesis.state);
    with_code.set_storage(chain::CODE_KEY.to_vec(), runtime.stored.clone());
    with_code.commit()?;
    genesis.state = with_code.into_state();
    genesis.header = chain::genesis_header(&genesis.state);
    Ok(NodeGenesis { genesis, root_without_code, preset })
}

fn describe_preset(genesis: &NodeGenesis) -> String {
    let available = list(genesis.genesis.presets.clone());
    match &genesis.preset {
        Some(name) => format!("{name} (the runtime has: {available})"),
        None => format!("none, the default genesis config (the runtime has: {available})"),
    }
}

fn genesis(args: GenesisArgs) -> Result<ExitCode, String> {
    let runtime = load(&args.common.runtime)?;
    warn_missing(&runtime.blob);
    let executor = executor(args.common.backend)?;
    let preset = choose_preset(&executor, &runtime, &args.preset)?;
    let started = Instant::now();
    let genesis = node_genesis(&executor, &runtime, preset).map_err(|err| err.to_string())?;
    let elapsed = started.elapsed();
    let pairs = chain::storage_pairs(&genesis.genesis.state).map_err(|err| err.to_string())?;
    let version = &genesis.genesis.version;
    println!("runtime:        {} {} ({:?})", version.spec_name, version.spec_version, executor.backend());
    println!("preset:         {}", describe_preset(&genesis));
    println!(
        "storage root:   {:?} (with :code set to the runtime, as a node's genesis has it)",
        genesis.genesis.header.state_root
    );
    println!("without :code:  {:?}", genesis.root_without_code);
    println!("keys:           {} (top trie, :code included)", pairs.len());
    println!("genesis hash:   {:?}", genesis.genesis.header.hash());
    println!("built in:       {}", millis(elapsed));
    if let Some(path) = &args.raw_out {
        write_raw(path, &pairs)?;
        println!("raw storage:    {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `pairs` as a raw chain spec's `genesis.raw`.
fn write_raw(path: &Path, pairs: &chain::StoragePairs) -> Result<(), String> {
    if let Some((key, _)) = pairs.iter().find(|(key, _)| key.starts_with(b":child_storage:")) {
        return Err(format!("the genesis state has a child trie (0x{}), which --raw-out does not write", hex(key)));
    }
    let top: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(key, value)| (format!("0x{}", hex(key)), serde_json::Value::String(format!("0x{}", hex(value)))))
        .collect();
    let raw = serde_json::json!({ "top": top, "childrenDefault": {} });
    let text = serde_json::to_string_pretty(&raw).map_err(|err| err.to_string())?;
    std::fs::write(path, text + "\n").map_err(|err| format!("cannot write {}: {err}", path.display()))
}

fn millis(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

fn print_header(header: &Header) {
    println!("  number:           {}", header.number);
    println!("  parent hash:      {:?}", header.parent_hash);
    println!("  state root:       {:?}", header.state_root);
    println!("  extrinsics root:  {:?}", header.extrinsics_root);
    println!("  digest:           {} item(s)", header.digest.logs.len());
    println!("  hash:             {:?}", header.hash());
}

fn block(args: BlockArgs) -> Result<ExitCode, String> {
    let runtime = load(&args.common.runtime)?;
    warn_missing(&runtime.blob);
    let mut phases: Vec<(String, Duration)> = Vec::new();
    let mut timed = |name: String, started: Instant| phases.push((name, started.elapsed()));

    let started = Instant::now();
    let executor = executor(args.common.backend)?;
    let version = version(&executor, &runtime)?;
    timed("load (compile, Core_version)".into(), started);
    chain::require_block_apis(&version).map_err(|err| err.to_string())?;

    let preset = choose_preset(&executor, &runtime, &args.preset)?;
    let started = Instant::now();
    let genesis = node_genesis(&executor, &runtime, preset).map_err(|err| err.to_string())?;
    timed("genesis (build state, :code)".into(), started);

    // No transfers, no metadata: an empty block works on a runtime without Balances.
    let mut builder = None;
    let mut transfers = Vec::new();
    if args.transfers > 0 {
        let started = Instant::now();
        let metadata = transfer::read_metadata(&executor, &runtime.stored).map_err(|err| err.to_string())?;
        let built = TransferBuilder::from_metadata(&metadata, &version, genesis.genesis.header.hash())
            .map_err(|err| format!("building transfers: {err}"))?;
        timed("metadata (read, decode)".into(), started);
        let started = Instant::now();
        transfers = built.dev_transfers(args.transfers, args.senders, args.amount).map_err(|err| err.to_string())?;
        timed(format!("sign {} transfers", args.transfers), started);
        builder = Some(built);
    }

    // An Aura runtime checks the timestamp against the slot of the header's pre-runtime digest.
    let parent = &genesis.genesis;
    let aura = chain::aura_pre_digest(&executor, &runtime.stored, &parent.state, &version, args.timestamp)
        .map_err(|err| err.to_string())?;
    let digest = sp_runtime::generic::Digest { logs: aura.into_iter().collect() };
    let started = Instant::now();
    let inherent_data = chain::timestamp_inherent_data(args.timestamp);
    let produced = chain::produce_with_digest(
        &executor,
        &runtime.stored,
        &parent.state,
        &parent.header,
        digest,
        &inherent_data,
        &transfers,
        false,
    )
    .map_err(block_error)?;
    timed("produce (initialize, inherents, apply, finalize)".into(), started);

    let started = Instant::now();
    let imported = chain::import(&executor, &runtime.stored, &parent.state, &produced.block, false)
        .map_err(|err| format!("importing the block: {err}"))?;
    timed("import (Core_execute_block, commit)".into(), started);

    println!("runtime:      {} {} ({:?})", version.spec_name, version.spec_version, executor.backend());
    println!("preset:       {}", describe_preset(&genesis));
    println!("genesis:      root {:?}, hash {:?}", parent.header.state_root, parent.header.hash());
    match &builder {
        Some(builder) => {
            let senders = DEV_SENDERS[..args.senders.min(DEV_SENDERS.len())].join(", ");
            println!(
                "transfers:    {} x {} of {} from {senders} to {DEV_RECIPIENT}",
                args.transfers,
                builder.call_name(),
                args.amount
            );
            println!("extensions:   {}", builder.extension_names().collect::<Vec<_>>().join(", "));
        }
        None => println!("transfers:    none"),
    }
    println!(
        "block:        {} extrinsics ({} inherent(s), {} transfers), {} bytes",
        produced.extrinsics.len(),
        produced.inherents,
        args.transfers,
        produced.block.len()
    );
    print_header(&produced.header);
    let agrees = if imported.root == produced.header.state_root { "equals" } else { "DIFFERS FROM" };
    println!("import:       state root {:?} ({agrees} the header's)", imported.root);
    println!("phases:");
    for (name, duration) in &phases {
        println!("  {name:<50} {:>12}", millis(*duration));
    }
    if imported.root != produced.header.state_root {
        return Err("the imported state's root differs from the header's state root".to_string());
    }
    Ok(ExitCode::SUCCESS)
}

/// Block production's error; a failure making or finalizing the inherents is most likely
/// inherent data the runtime needs and the tool does not give.
fn block_error(error: ChainError) -> String {
    let inherent_stage = match &error {
        ChainError::Call { method, .. } => {
            method == "BlockBuilder_inherent_extrinsics" || method == "BlockBuilder_finalize_block"
        }
        ChainError::ApplyFailed { inherent, .. } => *inherent,
        _ => false,
    };
    let hint = match inherent_stage {
        true => " (the runtime may need inherent data or a digest this tool does not give: it gives the timestamp inherent, and an Aura slot digest to runtimes with AuraApi; see the runtime's log above)",
        false => "",
    };
    format!("producing the block: {error}{hint}")
}
