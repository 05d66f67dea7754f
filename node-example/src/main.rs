//! `pvm-node`: runs a chain (`--dev` or `--chain PATH`), or acts as its client (`client ...`).

use clap::{Args, Parser, Subcommand};
use pvm_node::chain::chain_spec::ChainSpec;
use pvm_node::chain::node::Node;
use pvm_node::client;
use pvm_node::server::{metrics, rpc};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "pvm-node", version, about = "Example node running pallet-revive contracts on the PVM executor")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Run the development chain (chain-spec/dev.json) with state in a temporary directory
    /// unless --base-path is given.
    #[arg(long, conflicts_with = "chain")]
    dev: bool,
    /// Chain spec file to run.
    #[arg(long, value_name = "PATH")]
    chain: Option<PathBuf>,
    /// Directory for the database (kept across restarts).
    #[arg(long, value_name = "DIR")]
    base_path: Option<PathBuf>,
    /// JSON-RPC port (HTTP and WebSocket) on 127.0.0.1; 0 picks a free port.
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// A second port on 127.0.0.1 serving the same JSON-RPC (with the Ethereum methods),
    /// where Ethereum tools look by default; 0 picks a free port.
    #[arg(long, default_value_t = 8545)]
    eth_rpc_port: u16,
    /// Do not open the second (Ethereum) port; the methods stay on --rpc-port.
    #[arg(long)]
    no_eth_rpc: bool,
    /// Prometheus metrics port on 127.0.0.1; 0 picks a free port.
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Do not serve Prometheus metrics.
    #[arg(long)]
    no_prometheus: bool,
    /// Where the JIT runs contract code: `in-process` or `process` (worker processes with a
    /// seccomp filter and no node memory; slower host calls). Overrides the chain spec's
    /// `executor.sandbox`.
    #[arg(long, value_name = "SANDBOX", value_parser = parse_sandbox)]
    sandbox: Option<pvm_executor::SandboxKind>,
}

fn parse_sandbox(name: &str) -> Result<pvm_executor::SandboxKind, String> {
    pvm_executor::SandboxKind::from_name(name)
        .ok_or_else(|| format!("unknown sandbox `{name}` (expected in-process or process)"))
}

#[derive(Subcommand)]
enum Command {
    /// Client commands against a running node.
    #[command(subcommand)]
    Client(ClientCommand),
}

/// The node a client command talks to by default.
const DEFAULT_URL: &str = "http://127.0.0.1:9944";

/// Who sends a signed transaction, to which node, with how much gas.
#[derive(clap::Args)]
struct Sender {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = DEFAULT_URL)]
    url: String,
    /// Secret URI of the signing key, e.g. //Alice.
    #[arg(long)]
    suri: String,
    /// Gas limit of the transaction.
    #[arg(long, default_value_t = client::DEFAULT_GAS)]
    gas: u64,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Prints the H160 and SS58 addresses of a key.
    Address {
        /// Secret URI, e.g. //Bob.
        #[arg(long)]
        suri: String,
    },
    /// Uploads code; prints its hash.
    Upload {
        #[command(flatten)]
        sender: Sender,
        /// Contract blob (.polkavm).
        #[arg(long)]
        code: PathBuf,
    },
    /// Uploads and instantiates a contract; prints its address and the gas used.
    Deploy {
        #[command(flatten)]
        sender: Sender,
        #[arg(long)]
        code: PathBuf,
        /// Constructor signature, e.g. 'constructor(uint256)'.
        #[arg(long)]
        constructor: Option<String>,
        /// Value endowed to the contract.
        #[arg(long, default_value_t = 0)]
        value: u128,
        /// CREATE2 salt (0x + 64 hex digits).
        #[arg(long)]
        salt: Option<String>,
        /// Constructor arguments.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
    },
    /// Sends a signed call; prints success or revert, gas used, block and events.
    Call {
        #[command(flatten)]
        sender: Sender,
        /// Contract address.
        #[arg(long)]
        to: String,
        /// Function signature, e.g. 'transfer(address,uint256)'.
        #[arg(long)]
        sig: String,
        #[arg(long, default_value_t = 0)]
        value: u128,
        /// ABI JSON to decode events and custom errors.
        #[arg(long)]
        abi: Option<PathBuf>,
        /// Arguments.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
    },
    /// Dry-runs a call; prints each decoded output on its own line.
    Query {
        #[arg(long, default_value = DEFAULT_URL)]
        url: String,
        /// Caller (secret URI or H160; default //Alice).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: String,
        /// Signature with outputs, e.g. 'balanceOf(address)(uint256)'.
        #[arg(long)]
        sig: String,
        /// ABI JSON to decode custom errors.
        #[arg(long)]
        abi: Option<PathBuf>,
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
    },
}

fn parse_salt(text: Option<&str>) -> Result<Option<[u8; 32]>, String> {
    let Some(text) = text else { return Ok(None) };
    let bytes = text
        .strip_prefix("0x")
        .and_then(|digits| hex::decode(digits).ok())
        .ok_or_else(|| format!("--salt: expected 0x hex, got `{text}`"))?;
    bytes.try_into().map(Some).map_err(|_| "--salt: expected 32 bytes".to_string())
}

async fn run_client(command: ClientCommand) -> Result<Vec<String>, String> {
    let result = match command {
        ClientCommand::Address { suri } => client::address_lines(&suri),
        ClientCommand::Upload { sender: Sender { url, suri, gas }, code } => {
            client::upload(&url, &suri, &code, gas).await
        }
        ClientCommand::Deploy { sender: Sender { url, suri, gas }, code, constructor, value, salt, args } => {
            let salt = parse_salt(salt.as_deref())?;
            client::deploy(&url, &suri, &code, constructor.as_deref(), &args, value, gas, salt).await
        }
        ClientCommand::Call { sender: Sender { url, suri, gas }, to, sig, value, abi, args } => {
            client::call(&url, &suri, &to, &sig, &args, value, gas, abi.as_deref()).await
        }
        ClientCommand::Query { url, from, to, sig, abi, args } => {
            client::query(&url, from.as_deref(), &to, &sig, &args, abi.as_deref()).await
        }
    };
    result.map_err(|error| error.to_string())
}

/// Runs the node until SIGINT or SIGTERM. Returns the temporary base path, if one was
/// made, so that it is removed only after the runtime (and every handle to the database)
/// is gone.
async fn run_node(args: RunArgs) -> Result<Option<tempfile::TempDir>, String> {
    let spec = match (&args.chain, args.dev) {
        (Some(path), _) => ChainSpec::from_file(path),
        (None, true) => ChainSpec::dev(),
        (None, false) => return Err("give --dev or --chain PATH (see --help)".into()),
    }
    .map_err(|error| error.to_string())?;
    let mut spec = spec;
    if let Some(sandbox) = args.sandbox {
        spec.sandbox = sandbox;
    }
    // The temporary directory lives until the node stops, then is removed.
    let (temporary, base_path) = match &args.base_path {
        Some(path) => (None, path.clone()),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("pvm-node-")
                .tempdir()
                .map_err(|error| format!("cannot create a temporary base path: {error}"))?;
            if !args.dev {
                tracing::warn!("no --base-path: state lives in {} and is removed on exit", dir.path().display());
            }
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    };
    let node = tokio::task::spawn_blocking(move || Node::open(spec, &base_path))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;

    let producer = {
        let node = node.clone();
        std::thread::Builder::new()
            .name("block-production".into())
            .spawn(move || node.run_block_production())
            .map_err(|error| error.to_string())?
    };

    // eth_accounts / eth_sendTransaction sign with the Hardhat dev keys on --dev only.
    let dev_keys = if args.dev { pvm_node::server::eth::dev_keys() } else { Vec::new() };
    let module = rpc::full_module(node.clone(), dev_keys).map_err(|error| error.to_string())?;
    let rpc_address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.rpc_port));
    let (rpc_bound, rpc_handle) = rpc::serve(module.clone(), rpc_address)
        .await
        .map_err(|error| format!("cannot serve JSON-RPC on {rpc_address}: {error}"))?;
    let (eth_bound, eth_handle) = if args.no_eth_rpc {
        (None, None)
    } else {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.eth_rpc_port));
        let (bound, handle) = rpc::serve(module, address)
            .await
            .map_err(|error| format!("cannot serve Ethereum JSON-RPC on {address} (--eth-rpc-port): {error}"))?;
        (Some(bound), Some(handle))
    };
    let (metrics_bound, metrics_task) = if args.no_prometheus {
        (None, None)
    } else {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.prometheus_port));
        let (bound, task) = metrics::start(node.clone(), address)
            .await
            .map_err(|error| format!("cannot serve metrics on {address}: {error}"))?;
        (Some(bound), Some(task))
    };
    tracing::info!("JSON-RPC (HTTP and WebSocket) on {rpc_bound}");
    if let Some(bound) = eth_bound {
        tracing::info!("JSON-RPC for Ethereum tools on http://{bound}");
    }
    if let Some(bound) = metrics_bound {
        tracing::info!("Prometheus metrics on http://{bound}/metrics");
    }
    // One machine-readable line for scripts and tests that start the node on port 0.
    println!(
        "pvm-node listening rpc={rpc_bound} metrics={} eth={}",
        metrics_bound.map(|bound| bound.to_string()).unwrap_or_else(|| "off".into()),
        eth_bound.map(|bound| bound.to_string()).unwrap_or_else(|| "off".into())
    );

    wait_for_shutdown_signal().await;
    tracing::info!("shutting down");
    node.shutdown();
    let _ = rpc_handle.stop();
    rpc_handle.stopped().await;
    if let Some(handle) = eth_handle {
        let _ = handle.stop();
        handle.stopped().await;
    }
    if let Some(task) = metrics_task {
        task.abort();
        let _ = task.await;
    }
    let _ = tokio::task::spawn_blocking(move || producer.join()).await;
    Ok(temporary)
}

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Client(command)) => runtime.block_on(run_client(command)).map(|lines| {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            for line in lines {
                // A closed pipe (`| head -1`) is not an error worth a message.
                if writeln!(stdout, "{line}").is_err() {
                    break;
                }
            }
        }),
        None => runtime.block_on(run_node(cli.run)).map(|temporary| {
            // Every task holding the node ends with the runtime; then the files can go.
            drop(runtime);
            drop(temporary);
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
