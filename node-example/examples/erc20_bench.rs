//! Measures ERC-20 (`Token.polkavm`) `transfer` dry runs per second in-process and over
//! JSON-RPC, with the module cache warm and cold, and the time from submitting a deploy to
//! the first call result, for each executor backend side by side in one run. A benchmark,
//! not a test:
//!
//! ```sh
//! cargo run --release -p pvm-node --example erc20_bench [-- ITERATIONS [auto|interpreter|jit]..]
//! ```
//!
//! Without a backend it measures the interpreter and the JIT, then prints a Markdown table.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use pvm_node::chain::chain_spec::{Backend, ChainSpec};
use pvm_node::chain::keys::{address_of_suri, pair_from_suri};
use pvm_node::chain::node::Node;
use pvm_node::chain::tx::{Call, SignedTransaction, TransactionPayload};
use pvm_node::client::abi::Signature;
use pvm_node::runtime::outcome::Status;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn per_second(count: u32, elapsed: Duration) -> f64 {
    f64::from(count) / elapsed.as_secs_f64()
}

/// One backend's figures.
struct Figures {
    backend: &'static str,
    deploy_to_first_call: Duration,
    transfer_gas: u64,
    in_process_warm: f64,
    in_process_cold: f64,
    rpc_warm: f64,
    rpc_cold: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let iterations: u32 = args.next().map(|text| text.parse()).transpose()?.unwrap_or(2000);
    let mut backends = Vec::new();
    for name in args {
        backends.push(match name.as_str() {
            "auto" => Backend::Auto,
            "interpreter" => Backend::Interpreter,
            "jit" => Backend::Jit,
            other => return Err(format!("unknown backend `{other}` (auto, interpreter or jit)").into()),
        });
    }
    if backends.is_empty() {
        backends = vec![Backend::Interpreter, Backend::Jit];
    }
    let mut all = Vec::new();
    for backend in backends {
        all.push(measure(backend, iterations).await?);
    }
    println!();
    println!("| backend | deploy to first call result | transfer gas | in-process warm | in-process cold | JSON-RPC warm | JSON-RPC cold |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for f in &all {
        println!(
            "| {} | {:.2} ms | {} | {:.0}/s | {:.0}/s | {:.0}/s | {:.0}/s |",
            f.backend,
            f.deploy_to_first_call.as_secs_f64() * 1e3,
            f.transfer_gas,
            f.in_process_warm,
            f.in_process_cold,
            f.rpc_warm,
            f.rpc_cold
        );
    }
    Ok(())
}

/// Deploys the token on a fresh node with `backend` and measures it.
async fn measure(backend: Backend, iterations: u32) -> Result<Figures, Box<dyn std::error::Error>> {
    let mut spec = ChainSpec::dev()?;
    spec.backend = backend;
    println!("backend: {}", spec.backend.name());
    let dir = tempfile::tempdir()?;
    let node = Node::open(spec, dir.path())?;
    let alice = address_of_suri("//Alice")?;
    let bob = address_of_suri("//Bob")?;
    let code = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/contracts/Token.polkavm"))?;
    let constructor = pvm_node::client::abi::encode_constructor("constructor(uint256)", &["1000000000".to_string()])?;
    let transfer =
        Signature::parse("transfer(address,uint256)")?.encode_call(&[format!("{bob:?}"), "1".to_string()])?;

    // Deploy to first call result: submit, seal, read the receipt, dry-run a call.
    let started = Instant::now();
    let deploy = SignedTransaction::sign(
        &pair_from_suri("//Alice")?,
        &node.genesis_hash(),
        TransactionPayload {
            nonce: 0,
            gas_limit: 2_000_000_000,
            call: Call::InstantiateWithCode { code, value: 0, data: constructor, salt: None },
        },
    );
    let hash = node.submit(deploy.to_extrinsic())?;
    node.seal_pending()?;
    let receipt = node.receipt(&hash)?.ok_or("deploy not included")?;
    let token = receipt.contract_address.ok_or("deploy failed")?;
    let first = node.dry_run_call(alice, token, 0, transfer.clone(), None)?;
    let deploy_to_first_call = started.elapsed();
    assert_eq!(first.call.status, Status::Success, "{first:?}");
    println!("deploy to first call result: {:.2} ms", deploy_to_first_call.as_secs_f64() * 1e3);
    println!("transfer dry run: {} gas", first.call.gas_used);

    let started = Instant::now();
    for _ in 0..iterations {
        node.dry_run_call(alice, token, 0, transfer.clone(), None)?;
    }
    let in_process_warm = per_second(iterations, started.elapsed());
    println!("in-process, cache warm: {in_process_warm:.0} dry runs/s");

    let cold = (iterations / 10).max(1);
    let started = Instant::now();
    for _ in 0..cold {
        node.clear_module_cache();
        node.dry_run_call(alice, token, 0, transfer.clone(), None)?;
    }
    let in_process_cold = per_second(cold, started.elapsed());
    println!("in-process, cache cold: {in_process_cold:.0} dry runs/s");

    let (address, handle) =
        pvm_node::server::rpc::start(node.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let client = pvm_node::client::connect(&format!("http://{address}"))?;
    let request = serde_json::json!({
        "origin": format!("{alice:?}"),
        "dest": format!("{token:?}"),
        "input": format!("0x{}", hex::encode(&transfer)),
    });
    let started = Instant::now();
    for _ in 0..iterations {
        let _: serde_json::Value = client.request("contracts_dryRunCall", rpc_params![request.clone()]).await?;
    }
    let rpc_warm = per_second(iterations, started.elapsed());
    println!("over JSON-RPC, cache warm: {rpc_warm:.0} dry runs/s");
    let started = Instant::now();
    for _ in 0..cold {
        node.clear_module_cache();
        let _: serde_json::Value = client.request("contracts_dryRunCall", rpc_params![request.clone()]).await?;
    }
    let rpc_cold = per_second(cold, started.elapsed());
    println!("over JSON-RPC, cache cold: {rpc_cold:.0} dry runs/s");
    let _ = handle.stop();
    Ok(Figures {
        backend: backend.name(),
        deploy_to_first_call,
        transfer_gas: first.call.gas_used,
        in_process_warm,
        in_process_cold,
        rpc_warm,
        rpc_cold,
    })
}
