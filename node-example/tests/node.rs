//! End-to-end tests of the node that need no contract execution: RPC, transactions,
//! blocks, persistence, crash safety, code upload, metrics.

mod common;

use common::{address, balance, metric, nonce, RunningNode};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use pvm_node::chain::keys::pair_from_suri;
use pvm_node::chain::primitives::{keccak_256, H256};
use pvm_node::chain::tx::{Call, SignedTransaction, TransactionPayload};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const INITIAL: u128 = 1_000_000_000_000_000_000_000_000;

async fn genesis_hash(client: &HttpClient) -> H256 {
    let hash: String = client.request("chain_getBlockHash", rpc_params![0]).await.unwrap();
    H256::from_slice(&hex::decode(&hash[2..]).unwrap())
}

fn transfer(suri: &str, genesis: &H256, nonce: u64, to: &str, value: u128) -> String {
    let tx = SignedTransaction::sign(
        &pair_from_suri(suri).unwrap(),
        genesis,
        TransactionPayload {
            nonce,
            gas_limit: 100_000,
            call: Call::Transfer { dest: pvm_node::chain::keys::parse_h160(to).unwrap(), value },
        },
    );
    format!("0x{}", hex::encode(tx.to_extrinsic()))
}

async fn wait_receipt(client: &HttpClient, hash: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt: Option<Value> = client.request("contracts_getReceipt", rpc_params![hash]).await.unwrap();
        if let Some(receipt) = receipt {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn error_code<T: std::fmt::Debug>(
    request: impl std::future::Future<Output = Result<T, jsonrpsee::core::ClientError>>,
) -> (i32, String) {
    match request.await {
        Err(jsonrpsee::core::ClientError::Call(error)) => (error.code(), error.message().to_string()),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_transfers_blocks_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let client = node.client();

    let name: String = client.request("system_name", rpc_params![]).await.unwrap();
    assert_eq!(name, "pvm-node");
    let chain: String = client.request("system_chain", rpc_params![]).await.unwrap();
    assert_eq!(chain, "PVM Development");
    let health: Value = client.request("system_health", rpc_params![]).await.unwrap();
    assert_eq!(health, json!({"peers": 0, "isSyncing": false, "shouldHavePeers": false}));

    let genesis = genesis_hash(&client).await;
    let header: Value = client.request("chain_getHeader", rpc_params![format!("{genesis:?}")]).await.unwrap();
    assert_eq!(header["number"], "0x0");
    assert_eq!(header["parentHash"], format!("{:?}", H256::zero()));

    let alice = address("//Alice");
    let bob = address("//Bob");
    assert_eq!(balance(&client, &alice).await, INITIAL);

    let extrinsic = transfer("//Alice", &genesis, 0, &bob, 1000);
    let hash: String = client.request("author_submitExtrinsic", rpc_params![extrinsic.clone()]).await.unwrap();
    let receipt = wait_receipt(&client, &hash).await;
    assert_eq!(receipt["status"], "success", "{receipt}");
    assert_eq!(receipt["blockNumber"], 1);
    assert_eq!(balance(&client, &alice).await, INITIAL - 1000);
    assert_eq!(balance(&client, &bob).await, INITIAL + 1000);
    assert_eq!(nonce(&client, &alice).await, 1);

    // The block holds the extrinsic, links to genesis and commits to a new state.
    let block: Value = client.request("chain_getBlock", rpc_params![receipt["blockHash"].clone()]).await.unwrap();
    assert_eq!(block["block"]["extrinsics"], json!([extrinsic]));
    assert_eq!(block["block"]["header"]["parentHash"], format!("{genesis:?}"));
    assert_eq!(block["block"]["header"]["number"], "0x1");
    assert_ne!(block["block"]["header"]["stateRoot"], header["stateRoot"]);
    let expected_root = pvm_node::chain::store::extrinsics_root(&[hex::decode(&extrinsic[2..]).unwrap()]);
    assert_eq!(block["block"]["header"]["extrinsicsRoot"], format!("{expected_root:?}"));
    let best: String = client.request("chain_getBlockHash", rpc_params![]).await.unwrap();
    assert_eq!(Value::String(best), receipt["blockHash"]);

    // A replay is refused (its nonce is used), as are future nonces and bad signatures.
    let (code, message) =
        error_code(client.request::<String, _>("author_submitExtrinsic", rpc_params![extrinsic])).await;
    assert_eq!(code, 1010, "{message}");
    assert!(message.contains("stale"), "{message}");
    let future = transfer("//Alice", &genesis, 5, &bob, 1);
    let (code, message) = error_code(client.request::<String, _>("author_submitExtrinsic", rpc_params![future])).await;
    assert_eq!(code, 1010);
    assert!(message.contains("future"), "{message}");
    let other_chain = transfer("//Alice", &H256::repeat_byte(9), 1, &bob, 1);
    let (code, message) =
        error_code(client.request::<String, _>("author_submitExtrinsic", rpc_params![other_chain])).await;
    assert_eq!(code, 1010);
    assert!(message.contains("signature"), "{message}");
    let (code, _) = error_code(client.request::<String, _>("author_submitExtrinsic", rpc_params!["0x0102"])).await;
    assert_eq!(code, 1001);
    let (code, message) = error_code(client.request::<String, _>("author_submitExtrinsic", rpc_params!["zz"])).await;
    assert_eq!(code, -32602, "{message}");

    // Bad requests of every kind get errors; the node keeps serving.
    let (code, _) = error_code(client.request::<Value, _>("no_such_method", rpc_params![])).await;
    assert_eq!(code, -32601);
    let (code, message) =
        error_code(client.request::<Value, _>("contracts_getStorage", rpc_params![bob.clone(), "0x01"])).await;
    assert_eq!(code, -32602);
    assert!(message.contains("key"), "{message}");
    let (code, _) = error_code(client.request::<Value, _>("contracts_getAccount", rpc_params!["nonsense"])).await;
    assert_eq!(code, -32602);
    let (code, _) = error_code(
        client.request::<Value, _>("contracts_dryRunCall", rpc_params![json!({"origin": alice, "bogus": 1})]),
    )
    .await;
    assert_eq!(code, -32602);
    let (code, _) = error_code(client.request::<Value, _>("chain_getBlockHash", rpc_params!["0xnothex"])).await;
    assert_eq!(code, -32602);
    let missing: Option<Value> =
        client.request("chain_getBlock", rpc_params![format!("{:?}", H256::repeat_byte(1))]).await.unwrap();
    assert_eq!(missing, None);
    let missing: Option<Value> =
        client.request("contracts_getReceipt", rpc_params![format!("{:?}", H256::repeat_byte(1))]).await.unwrap();
    assert_eq!(missing, None);

    // A dry-run transfer to a plain account succeeds and changes nothing.
    let dry: Value = client
        .request("contracts_dryRunCall", rpc_params![json!({"origin": alice, "dest": bob, "value": "5"})])
        .await
        .unwrap();
    assert_eq!(dry["status"], "success", "{dry}");
    assert_eq!(balance(&client, &bob).await, INITIAL + 1000);

    let health: Value = client.request("system_health", rpc_params![]).await.unwrap();
    assert_eq!(health["peers"], 0);
    let text = node.metrics_text();
    assert_eq!(metric(&text, "pvm_node_best_block"), 1);
    assert_eq!(metric(&text, "pvm_node_transactions_included_total"), 1);
    assert_eq!(metric(&text, "pvm_node_transactions_rejected_total"), 4);
    assert_eq!(metric(&text, "pvm_node_dry_runs_total"), 1);
    let stats: Value = client.request("contracts_cacheStats", rpc_params![]).await.unwrap();
    assert_eq!(stats["hits"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_validates_code_and_names_unknown_imports() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let client = node.client();
    let pair = pair_from_suri("//Alice").unwrap();

    let blob = std::fs::read(common::contract("Token.polkavm")).unwrap();
    let receipt =
        pvm_node::client::submit_and_wait(&client, &pair, Call::UploadCode { code: blob.clone() }, 1_000_000_000)
            .await
            .unwrap();
    assert_eq!(receipt["status"], "success", "{receipt}");
    assert_eq!(receipt["codeHash"], format!("{:?}", keccak_256(&blob)));
    let stored: Option<String> =
        client.request("contracts_getCode", rpc_params![format!("{:?}", keccak_256(&blob))]).await.unwrap();
    assert_eq!(stored, Some(format!("0x{}", hex::encode(&blob))));

    let mut renamed = std::fs::read(common::contract("Flipper.polkavm")).unwrap();
    let at = renamed.windows(17).position(|window| window == b"value_transferred").unwrap();
    renamed[at..at + 17].copy_from_slice(b"value_transferrex");
    let receipt = pvm_node::client::submit_and_wait(&client, &pair, Call::UploadCode { code: renamed }, 1_000_000_000)
        .await
        .unwrap();
    assert_eq!(receipt["status"], "failed");
    assert!(receipt["error"].as_str().unwrap().contains("`value_transferrex`"), "{receipt}");
    assert_eq!(receipt["errorKind"], "codeRejected", "{receipt}");
    // The failed upload still used its nonce.
    assert_eq!(nonce(&client, &address("//Alice")).await, 2);

    // The client command prints the code hash.
    let lines = pvm_node::client::upload(&node.rpc, "//Bob", &common::contract("Flipper.polkavm"), 1_000_000_000)
        .await
        .unwrap();
    let flipper = std::fs::read(common::contract("Flipper.polkavm")).unwrap();
    assert_eq!(lines, [format!("code hash: {:?}", keccak_256(&flipper))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let bob = address("//Bob");
    let charlie = address("//Charlie");
    let (best_before, root_before) = {
        let node = RunningNode::start(&["--dev"], dir.path());
        let client = node.client();
        let genesis = genesis_hash(&client).await;
        for nonce in 0..3 {
            let hash: String = client
                .request("author_submitExtrinsic", rpc_params![transfer("//Bob", &genesis, nonce, &charlie, 10)])
                .await
                .unwrap();
            wait_receipt(&client, &hash).await;
        }
        let header: Value = client.request("chain_getHeader", rpc_params![]).await.unwrap();
        node.stop();
        (header["number"].clone(), header["stateRoot"].clone())
    };
    let node = RunningNode::start(&["--dev"], dir.path());
    let client = node.client();
    let header: Value = client.request("chain_getHeader", rpc_params![]).await.unwrap();
    assert_eq!(header["number"], best_before);
    assert_eq!(header["stateRoot"], root_before);
    assert_eq!(balance(&client, &bob).await, INITIAL - 30);
    assert_eq!(balance(&client, &charlie).await, INITIAL + 30);
    let next: u64 = client.request("system_accountNextIndex", rpc_params![bob.clone()]).await.unwrap();
    assert_eq!(next, 3);
    let genesis = genesis_hash(&client).await;
    let hash: String = client
        .request("author_submitExtrinsic", rpc_params![transfer("//Bob", &genesis, 3, &charlie, 10)])
        .await
        .unwrap();
    let receipt = wait_receipt(&client, &hash).await;
    assert_eq!(receipt["status"], "success");
    assert_eq!(balance(&client, &charlie).await, INITIAL + 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_loses_no_sealed_block() {
    let dir = tempfile::tempdir().unwrap();
    let dave = address("//Dave");
    let eve = address("//Eve");
    let mut reported: Vec<(String, Value)> = Vec::new();
    {
        let node = RunningNode::start(&["--dev"], dir.path());
        let client = node.client();
        let genesis = genesis_hash(&client).await;
        let mut hashes = Vec::new();
        for nonce in 0..200u64 {
            let hash: String = client
                .request("author_submitExtrinsic", rpc_params![transfer("//Dave", &genesis, nonce, &eve, 1)])
                .await
                .unwrap();
            hashes.push(hash);
            // Collect receipts as they appear, without waiting, while blocks keep being sealed.
            if nonce % 10 == 9 {
                for hash in &hashes {
                    if reported.iter().any(|(seen, _)| seen == hash) {
                        continue;
                    }
                    let receipt: Option<Value> =
                        client.request("contracts_getReceipt", rpc_params![hash]).await.unwrap();
                    if let Some(receipt) = receipt {
                        reported.push((hash.clone(), receipt));
                    }
                }
            }
        }
        // Kill while the producer is still sealing the tail of the queue.
        node.kill();
    }
    assert!(!reported.is_empty(), "some blocks were reported before the kill");

    let node = RunningNode::start(&["--dev"], dir.path());
    let client = node.client();
    for (hash, receipt) in &reported {
        let after: Option<Value> = client.request("contracts_getReceipt", rpc_params![hash]).await.unwrap();
        let after = after.unwrap_or_else(|| panic!("receipt of {hash} lost"));
        assert_eq!(&after, receipt);
        let block_hash: Option<String> =
            client.request("chain_getBlockHash", rpc_params![receipt["blockNumber"].clone()]).await.unwrap();
        assert_eq!(Some(receipt["blockHash"].as_str().unwrap().to_string()), block_hash);
    }
    // The state is that of the best block: every included transfer is counted once.
    let header: Value = client.request("chain_getHeader", rpc_params![]).await.unwrap();
    let best = u64::from_str_radix(header["number"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let mut included = 0u64;
    let mut parent: Option<String> = None;
    for number in 0..=best {
        let hash: String = client.request("chain_getBlockHash", rpc_params![number]).await.unwrap();
        let block: Value = client.request("chain_getBlock", rpc_params![hash.clone()]).await.unwrap();
        if let Some(parent) = &parent {
            assert_eq!(&block["block"]["header"]["parentHash"], parent);
        }
        parent = Some(hash);
        included += block["block"]["extrinsics"].as_array().unwrap().len() as u64;
    }
    assert!(included >= reported.len() as u64);
    assert_eq!(nonce(&client, &dave).await, included);
    assert_eq!(balance(&client, &dave).await, INITIAL - u128::from(included));
    assert_eq!(balance(&client, &eve).await, INITIAL + u128::from(included));
}

#[test]
fn bad_chain_spec_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.json");
    let mut value: Value = serde_json::from_str(pvm_node::chain::chain_spec::DEV_SPEC).unwrap();
    value["gas"]["perCall"] = json!("a lot");
    std::fs::write(&spec, value.to_string()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pvm-node"))
        .args([
            "--chain",
            spec.to_str().unwrap(),
            "--base-path",
            dir.path().to_str().unwrap(),
            "--rpc-port",
            "0",
            "--eth-rpc-port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`gas.perCall`"), "{stderr}");
}

#[test]
fn client_address_prints_h160_and_ss58() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pvm-node"))
        .args(["client", "address", "--suri", "//Bob"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "H160: 0x41dccbd49b26c50d34355ed86ff0fa9e489d1e01\nSS58: 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty\n"
    );
}

/// `jit` runs where the executor's compiler backend is available here, and is refused at
/// start with an error naming the field where it is not, never a crash.
#[test]
fn jit_backend_runs_where_supported_and_is_refused_by_name_elsewhere() {
    use std::io::{BufRead, BufReader};
    let mut config = pvm_executor::Config::new();
    config.backend(pvm_executor::BackendKind::Compiler);
    let supported = pvm_executor::Engine::new(&config).is_ok();
    let dir = tempfile::tempdir().unwrap();
    let mut value: Value = serde_json::from_str(pvm_node::chain::chain_spec::DEV_SPEC).unwrap();
    value["executor"]["backend"] = json!("jit");
    let spec = dir.path().join("jit.json");
    std::fs::write(&spec, value.to_string()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pvm-node"))
        .args(["--chain", spec.to_str().unwrap(), "--base-path", dir.path().to_str().unwrap()])
        .args(["--rpc-port", "0", "--eth-rpc-port", "0", "--no-prometheus"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first_line = BufReader::new(child.stdout.take().unwrap()).lines().next();
    match first_line {
        Some(Ok(line)) if line.starts_with("pvm-node listening") => {
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(supported, "the node started on a backend the executor does not support here");
        }
        _ => {
            assert!(!supported, "the compiler backend is available here, but the node did not start on it");
            let output = child.wait_with_output().unwrap();
            assert!(!output.status.success());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("`executor.backend`"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}
