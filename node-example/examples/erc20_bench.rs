//! Measures ERC-20 (`Token.polkavm`) `transfer` dry runs per second in-process and over
//! JSON-RPC, with the module cache warm and cold, and the time from submitting a deploy to
//! the first call result. A benchmark, not a test:
//!
//! ```sh
//! cargo run --release -p pvm-node --example erc20_bench [-- ITERATIONS [auto|interpreter|jit]]
//! ```

use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use pvm_node::abi::Signature;
use pvm_node::chain_spec::{Backend, ChainSpec};
use pvm_node::keys::{address_of_suri, pair_from_suri};
use pvm_node::node::Node;
use pvm_node::primitives::Outcome;
use pvm_node::tx::{Call, SignedTransaction, TransactionPayload};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

fn per_second(count: u32, elapsed: Duration) -> f64 {
    f64::from(count) / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u32 = std::env::args().nth(1).map(|text| text.parse()).transpose()?.unwrap_or(2000);
    let mut spec = ChainSpec::dev()?;
    if let Some(backend) = std::env::args().nth(2) {
        spec.backend = match backend.as_str() {
            "auto" => Backend::Auto,
            "interpreter" => Backend::Interpreter,
            "jit" => Backend::Jit,
            other => return Err(format!("unknown backend `{other}` (auto, interpreter or jit)").into()),
        };
    }
    println!("backend: {}", spec.backend.name());
    let dir = tempfile::tempdir()?;
    let node = Node::open(spec, dir.path())?;
    let alice = address_of_suri("//Alice")?;
    let bob = address_of_suri("//Bob")?;
    let code = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/contracts/Token.polkavm"))?;
    let constructor = pvm_node::abi::encode_constructor("constructor(uint256)", &["1000000000".to_string()])?;
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
    assert_eq!(first.outcome, Outcome::Success, "{first:?}");
    println!("deploy to first call result: {:.2} ms", deploy_to_first_call.as_secs_f64() * 1e3);
    println!("transfer dry run: {} gas", first.gas_used);

    let started = Instant::now();
    for _ in 0..iterations {
        node.dry_run_call(alice, token, 0, transfer.clone(), None)?;
    }
    println!("in-process, cache warm: {:.0} dry runs/s", per_second(iterations, started.elapsed()));

    let cold = (iterations / 10).max(1);
    let started = Instant::now();
    for _ in 0..cold {
        node.clear_module_cache();
        node.dry_run_call(alice, token, 0, transfer.clone(), None)?;
    }
    println!("in-process, cache cold: {:.0} dry runs/s", per_second(cold, started.elapsed()));

    let (address, handle) = pvm_node::rpc::start(node.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
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
    println!("over JSON-RPC, cache warm: {:.0} dry runs/s", per_second(iterations, started.elapsed()));
    let started = Instant::now();
    for _ in 0..cold {
        node.clear_module_cache();
        let _: serde_json::Value = client.request("contracts_dryRunCall", rpc_params![request.clone()]).await?;
    }
    println!("over JSON-RPC, cache cold: {:.0} dry runs/s", per_second(cold, started.elapsed()));
    let _ = handle.stop();
    Ok(())
}
