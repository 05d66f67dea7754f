//! End-to-end tests with real resolc-built contracts on the PVM executor: a node on free
//! ports, the client library, and the chain specs in `chain-spec/`.

mod common;

use common::{address, contract, RunningNode};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use pvm_node::client;
use serde_json::Value;

fn deployed_address(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|line| line.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address in {lines:?}"))
        .to_string()
}

async fn query(node: &RunningNode, to: &str, sig: &str, args: &[&str]) -> Vec<String> {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    client::query(&node.rpc, None, to, sig, &args, None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn token_transfer_events_revert_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let alice = address("//Alice");
    let bob = address("//Bob");
    let abi = contract("Token.abi.json");
    let token = {
        let node = RunningNode::start(&["--dev"], dir.path());
        let lines = client::deploy(
            &node.rpc,
            "//Alice",
            &contract("Token.polkavm"),
            Some("constructor(uint256)"),
            &["1000000".to_string()],
            0,
            client::DEFAULT_GAS,
            None,
        )
        .await
        .unwrap();
        let token = deployed_address(&lines);

        assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&alice]).await, ["1000000"]);
        assert_eq!(query(&node, &token, "totalSupply()(uint256)", &[]).await, ["1000000"]);
        assert_eq!(query(&node, &token, "symbol()(string)", &[]).await, ["SEED"]);

        let lines = client::call(
            &node.rpc,
            "//Alice",
            &token,
            "transfer(address,uint256)",
            &[bob.clone(), "100".to_string()],
            0,
            client::DEFAULT_GAS,
            Some(&abi),
        )
        .await
        .unwrap();
        assert_eq!(lines[0], "success", "{lines:?}");
        let event = lines.iter().find(|line| line.contains("Transfer(")).unwrap_or_else(|| panic!("{lines:?}"));
        assert!(event.to_lowercase().contains(&alice[2..]) && event.to_lowercase().contains(&bob[2..]), "{event}");
        assert!(event.contains("value: 100"), "{event}");
        assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&alice]).await, ["999900"]);
        assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&bob]).await, ["100"]);

        // Above the balance: reverts with the ERC-20 error, changes nothing, emits nothing.
        let lines = client::call(
            &node.rpc,
            "//Bob",
            &token,
            "transfer(address,uint256)",
            &[alice.clone(), "101".to_string()],
            0,
            client::DEFAULT_GAS,
            Some(&abi),
        )
        .await
        .unwrap();
        assert!(lines[0].starts_with("reverted: ERC20InsufficientBalance("), "{lines:?}");
        assert!(!lines.iter().any(|line| line.starts_with("event")), "{lines:?}");
        assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&alice]).await, ["999900"]);
        assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&bob]).await, ["100"]);

        // Deploy compiled the code once; every later call and query hit the cache.
        let client = node.client();
        let stats: Value = client.request("contracts_cacheStats", rpc_params![]).await.unwrap();
        assert_eq!(stats["compilations"], 1, "{stats}");
        assert!(stats["hits"].as_u64().unwrap() >= 7, "{stats}");
        let text = node.metrics_text();
        assert_eq!(common::metric(&text, "pvm_node_module_cache_compilations_total"), 1);
        node.stop();
        token
    };
    let node = RunningNode::start(&["--dev"], dir.path());
    assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&alice]).await, ["999900"]);
    assert_eq!(query(&node, &token, "balanceOf(address)(uint256)", &[&bob]).await, ["100"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn flipper_flip_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let lines = client::deploy(
        &node.rpc,
        "//Alice",
        &contract("Flipper.polkavm"),
        Some("constructor(bool)"),
        &["true".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    let flipper = deployed_address(&lines);
    assert_eq!(query(&node, &flipper, "get()(bool)", &[]).await, ["true"]);
    let lines = client::call(&node.rpc, "//Bob", &flipper, "flip()", &[], 0, client::DEFAULT_GAS, None).await.unwrap();
    assert_eq!(lines[0], "success");
    assert_eq!(query(&node, &flipper, "get()(bool)", &[]).await, ["false"]);
    assert_eq!(query(&node, &flipper, "value()(bool)", &[]).await, ["false"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_hashes_immutables_and_contract_calls() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let alice = address("//Alice");

    // Probe: block and transaction context, hashes, immutables, payable calls, events.
    let lines = client::deploy(
        &node.rpc,
        "//Alice",
        &contract("Probe.polkavm"),
        Some("constructor(uint256)"),
        &["77".to_string()],
        5,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    let probe = deployed_address(&lines);
    assert_eq!(query(&node, &probe, "seed()(uint256)", &[]).await, ["77"]);
    assert_eq!(query(&node, &probe, "deployer()(address)", &[]).await[0].to_lowercase(), alice);
    let env = query(&node, &probe, "env()(uint256,uint256,uint256,uint256,address,address)", &[]).await;
    assert_eq!(env[2], "420420420");
    assert_eq!(env[4].to_lowercase(), alice);
    assert_eq!(env[5].to_lowercase(), probe.to_lowercase());
    let balances = query(&node, &probe, "balances(address)(uint256,uint256)", &[&alice]).await;
    assert_eq!(balances[0], "5");
    let hashes = query(&node, &probe, "hashes(bytes)(bytes32,bytes32)", &["0x616263"]).await;
    assert_eq!(hashes[0], "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    assert_eq!(hashes[1], "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let err = client::query(&node.rpc, None, &probe, "fail(string)", &["nope".to_string()], None).await.unwrap_err();
    assert!(err.to_string().contains("Error(\"nope\")"), "{err}");

    // Factory: instantiate from a contract (the child's code must be uploaded), call it,
    // and catch a reverting call.
    client::upload(&node.rpc, "//Alice", &contract("Flipper.polkavm"), client::DEFAULT_GAS).await.unwrap();
    let lines =
        client::deploy(&node.rpc, "//Alice", &contract("Factory.polkavm"), None, &[], 0, client::DEFAULT_GAS, None)
            .await
            .unwrap();
    let factory = deployed_address(&lines);
    let lines = client::call(
        &node.rpc,
        "//Alice",
        &factory,
        "create(bool)(address)",
        &["false".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    assert_eq!(lines[0], "success", "{lines:?}");
    let child = query(&node, &factory, "last()(address)", &[]).await[0].clone();
    assert_eq!(query(&node, &child, "get()(bool)", &[]).await, ["false"]);
    let lines = client::call(&node.rpc, "//Alice", &factory, "flipLast()(bool)", &[], 0, client::DEFAULT_GAS, None)
        .await
        .unwrap();
    assert!(lines.contains(&"output: true".to_string()), "{lines:?}");

    let lines = client::deploy(
        &node.rpc,
        "//Alice",
        &contract("Token.polkavm"),
        Some("constructor(uint256)"),
        &["10".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    let token = deployed_address(&lines);
    let caught =
        query(&node, &factory, "tryTransfer(address,address,uint256)(bool,bytes)", &[&token, &alice, "1"]).await;
    assert_eq!(caught[0], "false", "the factory holds no tokens: {caught:?}");
    assert!(caught[1].len() > 10, "revert data was passed back: {caught:?}");

    // Ownable: only the owner may set.
    let lines = client::deploy(
        &node.rpc,
        "//Alice",
        &contract("Owned.polkavm"),
        Some("constructor(uint256)"),
        &["1".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    let owned = deployed_address(&lines);
    let lines = client::call(
        &node.rpc,
        "//Bob",
        &owned,
        "set(uint256)",
        &["2".to_string()],
        0,
        client::DEFAULT_GAS,
        Some(&contract("Owned.abi.json")),
    )
    .await
    .unwrap();
    assert!(lines[0].starts_with("reverted: OwnableUnauthorizedAccount("), "{lines:?}");
    let lines =
        client::call(&node.rpc, "//Alice", &owned, "set(uint256)", &["2".to_string()], 0, client::DEFAULT_GAS, None)
            .await
            .unwrap();
    assert_eq!(lines[0], "success");
    assert_eq!(query(&node, &owned, "stored()(uint256)", &[]).await, ["2"]);

    // ERC-721: mint to Bob, read the owner.
    let lines = client::deploy(&node.rpc, "//Alice", &contract("Nft.polkavm"), None, &[], 0, client::DEFAULT_GAS, None)
        .await
        .unwrap();
    let nft = deployed_address(&lines);
    let bob = address("//Bob");
    let lines = client::call(
        &node.rpc,
        "//Alice",
        &nft,
        "mint(address,uint256)",
        &[bob.clone(), "7".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    assert_eq!(lines[0], "success", "{lines:?}");
    assert_eq!(query(&node, &nft, "ownerOf(uint256)(address)", &["7"]).await[0].to_lowercase(), bob);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_chain_predeploys_flipper_and_seals_on_an_interval() {
    let dir = tempfile::tempdir().unwrap();
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/chain-spec/local.json");
    let node = RunningNode::start(&["--chain", spec], dir.path());
    // Alice deployed the flipper at genesis with her nonce 0 (CREATE).
    let alice = pvm_node::chain::keys::address_of_suri("//Alice").unwrap();
    let flipper = format!("{:?}", pvm_node::chain::primitives::create1_address(&alice, 0));
    assert_eq!(query(&node, &flipper, "get()(bool)", &[]).await, ["true"]);
    let client = node.client();
    let chain: String = client.request("system_chain", rpc_params![]).await.unwrap();
    assert_eq!(chain, "PVM Local Testnet");
    let nonce: u64 = client.request("system_accountNextIndex", rpc_params![format!("{alice:?}")]).await.unwrap();
    assert_eq!(nonce, 1);

    // Interval sealing: two transactions sent back to back land in the same block.
    let pair = pvm_node::chain::keys::pair_from_suri("//Bob").unwrap();
    let data = pvm_node::client::abi::Signature::parse("flip()").unwrap().encode_call(&[]).unwrap();
    let dest = pvm_node::chain::keys::parse_h160(&flipper).unwrap();
    let first = {
        let (client, pair, data) = (client.clone(), pair.clone(), data.clone());
        tokio::spawn(async move {
            client::submit_and_wait(
                &client,
                &pair,
                pvm_node::chain::tx::Call::Call { dest, value: 0, data },
                client::DEFAULT_GAS,
            )
            .await
        })
    };
    // Let the first submission take nonce 0 before the second asks for the next nonce.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = client::submit_and_wait(
        &client,
        &pair,
        pvm_node::chain::tx::Call::Call { dest, value: 0, data },
        client::DEFAULT_GAS,
    )
    .await
    .unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first["status"], "success");
    assert_eq!(second["status"], "success");
    assert_eq!(first["blockNumber"], second["blockNumber"]);
    assert_eq!(query(&node, &flipper, "get()(bool)", &[]).await, ["true"]);
}

/// Deploys the ERC-20, makes three transfers (one of them reverting) and returns the head's
/// number and state root.
async fn token_scenario_root(node: &RunningNode) -> (Value, Value) {
    let bob = address("//Bob");
    let token = deployed_address(
        &client::deploy(
            &node.rpc,
            "//Alice",
            &contract("Token.polkavm"),
            Some("constructor(uint256)"),
            &["5000".to_string()],
            0,
            client::DEFAULT_GAS,
            None,
        )
        .await
        .unwrap(),
    );
    for (suri, amount) in [("//Alice", "1200"), ("//Bob", "9999"), ("//Bob", "200")] {
        let to = if suri == "//Alice" { bob.clone() } else { address("//Charlie") };
        client::call(
            &node.rpc,
            suri,
            &token,
            "transfer(address,uint256)",
            &[to, amount.to_string()],
            0,
            client::DEFAULT_GAS,
            None,
        )
        .await
        .unwrap();
    }
    assert_eq!(query(node, &token, "balanceOf(address)(uint256)", &[&bob]).await, ["1000"]);
    let header: Value = node.client().request("chain_getHeader", rpc_params![]).await.unwrap();
    (header["number"].clone(), header["stateRoot"].clone())
}

/// The same transactions on our executor and on the `polkavm` reference interpreter end
/// in the same state (gas differs between the two cost models; gas is not state).
#[cfg(feature = "polkavm-reference")]
#[tokio::test(flavor = "multi_thread")]
async fn executor_and_reference_reach_the_same_state_root() {
    let mut spec: Value = serde_json::from_str(pvm_node::chain::chain_spec::DEV_SPEC).unwrap();
    spec["executor"]["backend"] = Value::String("polkavm-reference".into());
    let reference_dir = tempfile::tempdir().unwrap();
    let reference_spec = reference_dir.path().join("reference.json");
    std::fs::write(&reference_spec, spec.to_string()).unwrap();
    let executor_dir = tempfile::tempdir().unwrap();

    let executor = RunningNode::start(&["--dev"], executor_dir.path());
    let reference = RunningNode::start(&["--chain", reference_spec.to_str().unwrap()], reference_dir.path());
    assert_eq!(token_scenario_root(&executor).await, token_scenario_root(&reference).await);
}

/// The JIT in the process sandbox (`--sandbox process`) ends in the same state as in-process,
/// gas included (receipts are state).
#[tokio::test(flavor = "multi_thread")]
async fn the_process_sandbox_reaches_the_same_state_root() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let (in_process_dir, process_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let in_process = RunningNode::start(&["--dev"], in_process_dir.path());
    let process = RunningNode::start(&["--dev", "--sandbox", "process"], process_dir.path());
    assert_eq!(token_scenario_root(&in_process).await, token_scenario_root(&process).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_calls_nest_25_deep_below_the_outermost_and_no_deeper() {
    // pallet-revive's `CALL_STACK_DEPTH`: 25 frames below the outermost one, 26 in all.
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let lines =
        client::deploy(&node.rpc, "//Alice", &contract("Deep.polkavm"), None, &[], 0, client::DEFAULT_GAS, None)
            .await
            .unwrap();
    let deep = deployed_address(&lines);
    assert_eq!(query(&node, &deep, "down(uint256)(uint256)", &["25"]).await, ["26"]);
    // The 27th frame is refused; the 26th sees its call fail and reverts, and so on up.
    let refused = client::query(&node.rpc, None, &deep, "down(uint256)(uint256)", &["26".to_string()], None).await;
    assert!(refused.is_err(), "{refused:?}");
    // As in pallet-revive, a call refused for depth is no error code the 26th frame could
    // catch (`MaxCallDepthReached` fails the calling frame): the 26th frame traps, and the
    // 25th catches that. So 25 frames report, however deep `probe` was asked to go.
    assert_eq!(query(&node, &deep, "probe(uint256)(uint256)", &["1000"]).await, ["25"]);
    // And as a transaction: included, the outermost call succeeds.
    let lines = client::call(
        &node.rpc,
        "//Alice",
        &deep,
        "probe(uint256)(uint256)",
        &["40".to_string()],
        0,
        client::DEFAULT_GAS,
        None,
    )
    .await
    .unwrap();
    assert_eq!(lines[0], "success", "{lines:?}");
    assert!(lines.contains(&"output: 25".to_string()), "{lines:?}");
    node.stop();
}
