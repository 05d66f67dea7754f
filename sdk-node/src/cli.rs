//! Command line: Substrate's own (`sc_cli::RunCmd` and the usual subcommands) plus the few
//! options of this node.

use sc_executor_pvm::BackendKind;

/// Which backend of our executor runs PolkaVM runtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The x86-64 compiler where it runs, the interpreter elsewhere.
    Auto,
    /// The interpreter (the reference semantics).
    Interpreter,
    /// The x86-64 compiler (fails on machines it does not support).
    Compiler,
}

impl From<Backend> for BackendKind {
    fn from(backend: Backend) -> Self {
        match backend {
            Backend::Auto => BackendKind::Auto,
            Backend::Interpreter => BackendKind::Interpreter,
            Backend::Compiler => BackendKind::Compiler,
        }
    }
}

/// Which build of the project's runtime the development chain carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DevRuntime {
    /// The PolkaVM blob (testdata/runtimes/dev_runtime.polkavm), run by our executor.
    Pvm,
    /// The Wasm blob of the same runtime, run by the inner `WasmExecutor` (wasmtime); for
    /// comparisons.
    Wasm,
}

/// The node's own options, next to Substrate's.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeOptions {
    /// Produce a block every this many milliseconds (with or without transactions) when the
    /// node seals its own blocks (`--dev`, or a development chain with `--validator`/`--alice`).
    #[arg(long, value_name = "MS", default_value_t = 6000, value_parser = clap::value_parser!(u64).range(1..))]
    pub dev_block_time: u64,

    /// Backend of the PVM executor.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub pvm_backend: Backend,

    /// Runtime build of the embedded development chain (`--dev`, `--chain dev`).
    #[arg(long, value_enum, default_value_t = DevRuntime::Pvm)]
    pub dev_runtime: DevRuntime,
}

/// `sdk-node [SUBCOMMAND] [OPTIONS]`.
#[derive(Debug, clap::Parser)]
pub struct Cli {
    /// A maintenance subcommand; none runs the node.
    #[command(subcommand)]
    pub subcommand: Option<Subcommand>,

    /// Substrate's node options (`--dev`, `--chain`, `--base-path`, `--rpc-port`, `--port`,
    /// `--bootnodes`, `--validator`, `--alice`, `--tmp`, ...).
    #[clap(flatten)]
    pub run: sc_cli::RunCmd,

    /// This node's options.
    #[clap(flatten)]
    pub node: NodeOptions,
}

/// Substrate's maintenance subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Key management (generate, inspect, insert, ...).
    #[command(subcommand)]
    Key(sc_cli::KeySubcommand),

    /// Write the chain spec as JSON (its genesis as raw storage, built by our executor).
    BuildSpec(sc_cli::BuildSpecCmd),

    /// Write the chain spec of `--chain` as JSON without starting a node's configuration.
    ExportChainSpec(sc_cli::ExportChainSpecCmd),

    /// Validate and import blocks.
    CheckBlock(sc_cli::CheckBlockCmd),

    /// Export blocks to a file.
    ExportBlocks(sc_cli::ExportBlocksCmd),

    /// Export the state of a block as a chain spec.
    ExportState(sc_cli::ExportStateCmd),

    /// Import blocks from a file.
    ImportBlocks(sc_cli::ImportBlocksCmd),

    /// Remove the whole chain.
    PurgeChain(sc_cli::PurgeChainCmd),

    /// Revert the chain to a previous state.
    Revert(sc_cli::RevertCmd),
}
