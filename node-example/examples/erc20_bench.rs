//! Measures ERC-20 (`Token.polkavm`) `transfer` dry runs per second in-process and over
//! JSON-RPC, with the module cache warm and cold, and the time from submitting a deploy to
//! the first call result, for each executor backend side by side in one run; then, over HTTP
//! with 1 and with 16 concurrent clients, `contracts_dryRunCall` and `eth_call` transfers per
//! second and `eth_sendRawTransaction` transfers per second (signed beforehand, counted from
//! the first submission until every one is in a sealed block). A benchmark, not a test:
//!
//! ```sh
//! cargo run --release -p pvm-node --example erc20_bench [-- ITERATIONS [auto|interpreter|jit|jit-process]..]
//! ```
//!
//! Without a backend it measures the interpreter, the JIT and the JIT in the process sandbox
//! (`jit-process`), then prints a Markdown table.

use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use k256::ecdsa::SigningKey;
use pvm_executor::SandboxKind;
use pvm_node::chain::chain_spec::{Backend, ChainSpec};
use pvm_node::chain::keys::{address_of_suri, pair_from_suri};
use pvm_node::chain::node::Node;
use pvm_node::chain::primitives::H256;
use pvm_node::chain::tx::{Call, SignedTransaction, TransactionPayload};
use pvm_node::client::abi::Signature;
use pvm_node::runtime::outcome::Status;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent clients of the concurrency figures.
const CLIENTS: usize = 16;

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
    /// Per method, transfers per second with 1 and with [`CLIENTS`] clients.
    http: Vec<(&'static str, f64, f64)>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let iterations: u32 = args.next().map(|text| text.parse()).transpose()?.unwrap_or(2000);
    let mut backends = Vec::new();
    for name in args {
        backends.push(match name.as_str() {
            "auto" => (Backend::Auto, SandboxKind::InProcess),
            "interpreter" => (Backend::Interpreter, SandboxKind::InProcess),
            "jit" => (Backend::Jit, SandboxKind::InProcess),
            "jit-process" => (Backend::Jit, SandboxKind::Process),
            other => return Err(format!("unknown backend `{other}` (auto, interpreter, jit or jit-process)").into()),
        });
    }
    if backends.is_empty() {
        backends = vec![
            (Backend::Interpreter, SandboxKind::InProcess),
            (Backend::Jit, SandboxKind::InProcess),
            (Backend::Jit, SandboxKind::Process),
        ];
    }
    let mut all = Vec::new();
    for (backend, sandbox) in backends {
        all.push(measure(backend, sandbox, iterations).await?);
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
    println!();
    println!("| backend | method | 1 client | {CLIENTS} clients |");
    println!("|---|---|---:|---:|");
    for f in &all {
        for (method, one, many) in &f.http {
            println!("| {} | `{method}` | {one:.0}/s | {many:.0}/s |", f.backend);
        }
    }
    Ok(())
}

/// Runs `per_client` requests on each of `clients` HTTP clients at once (each client
/// sequential); returns requests per second over all of them.
async fn concurrent_requests(
    url: &str,
    clients: usize,
    per_client: u32,
    method: &'static str,
    request: serde_json::Value,
) -> Result<f64, Box<dyn std::error::Error>> {
    let connections: Vec<HttpClient> =
        (0..clients).map(|_| pvm_node::client::connect(url)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                for _ in 0..per_client {
                    let _: serde_json::Value = client.request(method, rpc_params![request.clone()]).await?;
                }
                Ok::<_, jsonrpsee::core::client::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(per_second(per_client * clients as u32, started.elapsed()))
}

/// A legacy (EIP-155) transaction signed by `key`, as raw `0x` hex.
fn signed_legacy(key: &SigningKey, chain_id: u64, nonce: u64, to: Address, input: Vec<u8>) -> String {
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 0,
        gas_limit: 200_000,
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: Bytes::from(input),
    };
    let (signature, recovery) =
        key.sign_prehash_recoverable(tx.signature_hash().as_slice()).expect("a valid key signs");
    let signed = tx.into_signed(alloy_primitives::Signature::from_signature_and_parity(signature, recovery.is_y_odd()));
    format!("0x{}", hex::encode(TxEnvelope::from(signed).encoded_2718()))
}

/// Submits each sender's signed transactions in order over its own HTTP client, all senders at
/// once, and waits until every transaction is in a sealed block; returns transactions per
/// second from the first submission to the last inclusion.
async fn send_raw_transactions(
    node: &Arc<Node>,
    url: &str,
    batches: Vec<Vec<String>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let total: usize = batches.iter().map(Vec::len).sum();
    let connections: Vec<HttpClient> =
        batches.iter().map(|_| pvm_node::client::connect(url)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .zip(batches)
        .map(|(client, batch)| {
            tokio::spawn(async move {
                let mut last = String::new();
                for raw in batch {
                    last = client.request("eth_sendRawTransaction", rpc_params![raw]).await?;
                }
                Ok::<_, jsonrpsee::core::client::Error>(last)
            })
        })
        .collect();
    let mut last_hashes = Vec::new();
    for task in tasks {
        let hash: String = task.await??;
        last_hashes.push(H256::from_slice(&hex::decode(hash.trim_start_matches("0x"))?));
    }
    // A sender's transactions are included in nonce order: its last one included means all.
    for hash in last_hashes {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match node.receipt(&hash)? {
                Some(receipt) if receipt.outcome.is_success() => break,
                Some(receipt) => return Err(format!("transfer {hash:?} failed: {:?}", receipt.outcome).into()),
                None if Instant::now() > deadline => return Err(format!("transfer {hash:?} never included").into()),
                None => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
    Ok(per_second(total as u32, started.elapsed()))
}

/// `contracts_dryRunCall` and `eth_call` of a transfer, and transfers sent with
/// `eth_sendRawTransaction`, over HTTP with 1 and [`CLIENTS`] clients. Block production runs
/// as in the node (instant sealing) while the transactions arrive.
async fn http_figures(
    node: &Arc<Node>,
    url: &str,
    token: pvm_node::chain::primitives::H160,
    iterations: u32,
) -> Result<Vec<(&'static str, f64, f64)>, Box<dyn std::error::Error>> {
    let alice = address_of_suri("//Alice")?;
    let bob = address_of_suri("//Bob")?;
    let transfer =
        Signature::parse("transfer(address,uint256)")?.encode_call(&[format!("{bob:?}"), "1".to_string()])?;
    let per_client = (iterations / CLIENTS as u32).max(1);
    let mut figures = Vec::new();

    let dry_run = serde_json::json!({
        "origin": format!("{alice:?}"),
        "dest": format!("{token:?}"),
        "input": format!("0x{}", hex::encode(&transfer)),
    });
    let one = concurrent_requests(url, 1, iterations, "contracts_dryRunCall", dry_run.clone()).await?;
    let many = concurrent_requests(url, CLIENTS, per_client, "contracts_dryRunCall", dry_run).await?;
    println!("contracts_dryRunCall over HTTP: {one:.0}/s (1 client), {many:.0}/s ({CLIENTS} clients)");
    figures.push(("contracts_dryRunCall", one, many));

    let eth_call = serde_json::json!({
        "from": format!("{alice:?}"),
        "to": format!("{token:?}"),
        "data": format!("0x{}", hex::encode(&transfer)),
    });
    let one = concurrent_requests(url, 1, iterations, "eth_call", eth_call.clone()).await?;
    let many = concurrent_requests(url, CLIENTS, per_client, "eth_call", eth_call).await?;
    println!("eth_call over HTTP: {one:.0}/s (1 client), {many:.0}/s ({CLIENTS} clients)");
    figures.push(("eth_call", one, many));

    // Senders: 1 + CLIENTS fresh secp256k1 keys (no fees, so no ether needed), each given
    // tokens by Alice, whose transfers fill blocks of their own before the measurement.
    let chain_id = node.spec().chain_id;
    let token_address = Address::from(token.0);
    let keys: Vec<SigningKey> =
        (1..=CLIENTS as u8 + 1).map(|seed| SigningKey::from_slice(&[seed; 32])).collect::<Result<_, _>>()?;
    let senders: Vec<Address> = keys.iter().map(Address::from_private_key).collect();
    let genesis = node.genesis_hash();
    let alice_pair = pair_from_suri("//Alice")?;
    let mut alice_nonce = node.next_nonce(&alice)?;
    for sender in &senders {
        let fund = Signature::parse("transfer(address,uint256)")?
            .encode_call(&[sender.to_string(), (u64::from(iterations) * 2).to_string()])?;
        let tx = SignedTransaction::sign(
            &alice_pair,
            &genesis,
            TransactionPayload {
                nonce: alice_nonce,
                gas_limit: 200_000_000,
                call: Call::Call { dest: token, value: 0, data: fund },
            },
        );
        node.submit(tx.to_extrinsic())?;
        alice_nonce += 1;
    }
    while node.account(&alice)?.nonce != alice_nonce {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let transfer_to_bob =
        |key: &SigningKey, nonce: u64| signed_legacy(key, chain_id, nonce, token_address, transfer.clone());
    let one_batch: Vec<String> = (0..u64::from(iterations)).map(|nonce| transfer_to_bob(&keys[0], nonce)).collect();
    let one = send_raw_transactions(node, url, vec![one_batch]).await?;
    let many_batches: Vec<Vec<String>> = keys[1..]
        .iter()
        .map(|key| (0..u64::from(per_client)).map(|nonce| transfer_to_bob(key, nonce)).collect())
        .collect();
    let many = send_raw_transactions(node, url, many_batches).await?;
    println!("eth_sendRawTransaction transfers, sealed: {one:.0}/s (1 client), {many:.0}/s ({CLIENTS} clients)");
    figures.push(("eth_sendRawTransaction (until sealed)", one, many));
    Ok(figures)
}

/// Deploys the token on a fresh node with `backend` and measures it.
async fn measure(
    backend: Backend,
    sandbox: SandboxKind,
    iterations: u32,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let mut spec = ChainSpec::dev()?;
    spec.backend = backend;
    spec.sandbox = sandbox;
    println!("backend: {} ({} sandbox)", spec.backend.name(), sandbox.name());
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

    let producer = {
        let node = node.clone();
        std::thread::spawn(move || node.run_block_production())
    };
    let http = http_figures(&node, &format!("http://{address}"), token, iterations).await;
    node.shutdown();
    producer.join().map_err(|_| "block production panicked")?;
    let http = http?;
    let _ = handle.stop();
    Ok(Figures {
        backend: match (backend, sandbox) {
            (Backend::Jit, SandboxKind::Process) => "jit (process sandbox)",
            _ => backend.name(),
        },
        deploy_to_first_call,
        transfer_gas: first.call.gas_used,
        in_process_warm,
        in_process_cold,
        rpc_warm,
        rpc_cold,
        http,
    })
}
