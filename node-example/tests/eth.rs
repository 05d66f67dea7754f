//! The Ethereum JSON-RPC end to end, over the `--eth-rpc-port` of a `--dev` node, with
//! transactions signed here by the Hardhat dev keys (alloy-consensus, k256): Token deployed
//! with an EIP-1559 transaction, transfers as legacy and EIP-2930 transactions, receipts,
//! logs, blocks, `eth_call` with a decoded custom error, estimates, nonce and chain-id
//! refusals, EVM bytecode refused, and `eth_sendTransaction` with a dev account.

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use alloy_sol_types::{sol, SolCall, SolError, SolEvent};
use common::{contract, RunningNode};
use jsonrpsee::core::client::{ClientT, Error as ClientError, SubscriptionClientT};
use jsonrpsee::http_client::HttpClient;
use k256::ecdsa::SigningKey;
use pvm_node::server::eth::{dev_keys, DEV_ADDRESSES};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

sol! {
    function transfer(address to, uint256 value) returns (bool);
    function balanceOf(address account) returns (uint256);
    event Transfer(address indexed from, address indexed to, uint256 value);
    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
}

const CHAIN_ID: u64 = 420420420;

fn sign<T: SignableTransaction<alloy_primitives::Signature>>(key: &SigningKey, tx: T) -> String
where
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    let (signature, recovery) = key.sign_prehash_recoverable(tx.signature_hash().as_slice()).unwrap();
    let signed = tx.into_signed(alloy_primitives::Signature::from_signature_and_parity(signature, recovery.is_y_odd()));
    format!("0x{}", hex::encode(TxEnvelope::from(signed).encoded_2718()))
}

fn eip1559(nonce: u64, to: Option<Address>, gas_limit: u64, input: Vec<u8>) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2,
        max_priority_fee_per_gas: 1,
        to: to.map_or(TxKind::Create, TxKind::Call),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    }
}

fn legacy(nonce: u64, to: Address, gas_limit: u64, input: Vec<u8>) -> TxLegacy {
    TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_price: 1,
        gas_limit,
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: Bytes::from(input),
    }
}

async fn call<T: serde::de::DeserializeOwned>(client: &HttpClient, method: &str, params: Vec<Value>) -> T {
    let mut builder = jsonrpsee::core::params::ArrayParams::new();
    for param in params {
        builder.insert(param).unwrap();
    }
    client.request(method, builder).await.unwrap_or_else(|error| panic!("{method}: {error}"))
}

async fn call_error(client: &HttpClient, method: &str, params: Vec<Value>) -> jsonrpsee::types::ErrorObjectOwned {
    let mut builder = jsonrpsee::core::params::ArrayParams::new();
    for param in params {
        builder.insert(param).unwrap();
    }
    match client.request::<Value, _>(method, builder).await {
        Err(ClientError::Call(error)) => error,
        other => panic!("{method}: expected an error, got {other:?}"),
    }
}

async fn receipt(client: &HttpClient, hash: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt: Value = call(client, "eth_getTransactionReceipt", vec![json!(hash)]).await;
        if !receipt.is_null() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn quantity(value: &Value) -> u128 {
    u128::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethereum_tools_deploy_call_and_read_events() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let client = pvm_node::client::connect(&node.eth).unwrap();
    let keys = dev_keys();
    let deployer: Address = DEV_ADDRESSES[0].parse().unwrap();
    let receiver: Address = DEV_ADDRESSES[1].parse().unwrap();

    // Chain and accounts.
    assert_eq!(call::<String>(&client, "eth_chainId", vec![]).await, format!("{CHAIN_ID:#x}"));
    assert_eq!(call::<String>(&client, "net_version", vec![]).await, CHAIN_ID.to_string());
    let accounts: Vec<String> = call(&client, "eth_accounts", vec![]).await;
    assert_eq!(accounts, DEV_ADDRESSES);
    let balance: Value = call(&client, "eth_getBalance", vec![json!(DEV_ADDRESSES[0]), json!("latest")]).await;
    assert_eq!(quantity(&balance), 10_000 * 10u128.pow(18));

    // Deploy Token(1_000_000) with an EIP-1559 transaction, after estimating its gas.
    let mut init = std::fs::read(contract("Token.polkavm")).unwrap();
    init.extend_from_slice(&U256::from(1_000_000u64).to_be_bytes::<32>());
    let estimate: Value = call(
        &client,
        "eth_estimateGas",
        vec![json!({ "from": DEV_ADDRESSES[0], "data": format!("0x{}", hex::encode(&init)) })],
    )
    .await;
    let deploy_gas = quantity(&estimate) as u64;
    let raw = sign(&keys[0], eip1559(0, None, deploy_gas, init.clone()));
    let deploy_hash: String = call(&client, "eth_sendRawTransaction", vec![json!(raw)]).await;
    let deployed = receipt(&client, &deploy_hash).await;
    assert_eq!(deployed["status"], "0x1", "{deployed}");
    assert_eq!(deployed["type"], "0x2");
    let token_address = deployer.create(0);
    assert_eq!(deployed["contractAddress"], token_address.to_string().to_lowercase());
    let code: String = call(&client, "eth_getCode", vec![json!(token_address), json!("latest")]).await;
    assert!(code.starts_with("0x50564d00"), "{code}");

    // Filters installed now see what follows.
    let log_filter: String =
        call(&client, "eth_newFilter", vec![json!({ "address": token_address, "topics": [Transfer::SIGNATURE_HASH] })])
            .await;
    let block_filter: String = call(&client, "eth_newBlockFilter", vec![]).await;

    // The same bytes again are a replay; a gap and another chain are refused.
    let replay = call_error(&client, "eth_sendRawTransaction", vec![json!(raw)]).await;
    assert!(replay.message().contains("nonce too low"), "{replay:?}");
    let gap = sign(&keys[0], eip1559(5, Some(token_address), 100_000, vec![]));
    let gap = call_error(&client, "eth_sendRawTransaction", vec![json!(gap)]).await;
    assert!(gap.message().contains("nonce too high"), "{gap:?}");
    let mut other_chain = eip1559(1, Some(token_address), 100_000, vec![]);
    other_chain.chain_id = 1;
    let other_chain = call_error(&client, "eth_sendRawTransaction", vec![json!(sign(&keys[0], other_chain))]).await;
    assert!(other_chain.message().contains("wrong chain id"), "{other_chain:?}");
    // EVM init code is refused, saying only PVM code deploys.
    let evm = sign(&keys[0], eip1559(1, None, 100_000, vec![0x60, 0x80, 0x60, 0x40, 0x52]));
    let evm = call_error(&client, "eth_sendRawTransaction", vec![json!(evm)]).await;
    assert!(evm.message().contains("only PolkaVM"), "{evm:?}");

    // transfer(receiver, 250) as a legacy (EIP-155) transaction.
    let transfer_data = transferCall { to: receiver, value: U256::from(250) }.abi_encode();
    let estimate: Value = call(
        &client,
        "eth_estimateGas",
        vec![json!({ "from": DEV_ADDRESSES[0], "to": token_address, "data": format!("0x{}", hex::encode(&transfer_data)) })],
    )
    .await;
    let transfer_gas = quantity(&estimate) as u64;
    let transfer_hash: String = call(
        &client,
        "eth_sendRawTransaction",
        vec![json!(sign(&keys[0], legacy(1, token_address, transfer_gas, transfer_data.clone())))],
    )
    .await;
    let transferred = receipt(&client, &transfer_hash).await;
    assert_eq!(transferred["status"], "0x1", "{transferred}");
    assert_eq!(transferred["type"], "0x0");
    assert!(quantity(&transferred["gasUsed"]) <= u128::from(transfer_gas));
    let logs = transferred["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["topics"][0], Transfer::SIGNATURE_HASH.to_string());
    assert_eq!(logs[0]["address"], token_address.to_string().to_lowercase());
    assert_eq!(logs[0]["transactionHash"], transfer_hash);
    assert_eq!(logs[0]["blockNumber"], transferred["blockNumber"]);
    assert_ne!(transferred["logsBloom"], format!("0x{}", "0".repeat(512)));

    // balanceOf through eth_call.
    let balance_data = balanceOfCall { account: receiver }.abi_encode();
    let output: String = call(
        &client,
        "eth_call",
        vec![json!({ "to": token_address, "data": format!("0x{}", hex::encode(&balance_data)) }), json!("latest")],
    )
    .await;
    let balance = balanceOfCall::abi_decode_returns(&hex::decode(&output[2..]).unwrap()).unwrap();
    assert_eq!(balance, U256::from(250));

    // A transfer above the balance reverts with OpenZeppelin's custom error in `data`.
    let too_much = transferCall { to: deployer, value: U256::from(1_000) }.abi_encode();
    let request =
        json!({ "from": DEV_ADDRESSES[1], "to": token_address, "data": format!("0x{}", hex::encode(&too_much)) });
    for method in ["eth_call", "eth_estimateGas"] {
        let reverted = call_error(&client, method, vec![request.clone()]).await;
        assert_eq!(reverted.code(), 3, "{reverted:?}");
        assert_eq!(reverted.message(), "execution reverted");
        let data: String = serde_json::from_str(reverted.data().unwrap().get()).unwrap();
        let decoded = ERC20InsufficientBalance::abi_decode(&hex::decode(&data[2..]).unwrap()).unwrap();
        assert_eq!((decoded.sender, decoded.balance, decoded.needed), (receiver, U256::from(250), U256::from(1_000)));
    }

    // An EIP-2930 transfer by the receiver; its receipt is the block's only transaction.
    let back = transferCall { to: deployer, value: U256::from(50) }.abi_encode();
    let tx = TxEip2930 {
        chain_id: CHAIN_ID,
        nonce: 0,
        gas_price: 1,
        gas_limit: transfer_gas,
        to: TxKind::Call(token_address),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(back),
    };
    let back_hash: String = call(&client, "eth_sendRawTransaction", vec![json!(sign(&keys[1], tx))]).await;
    let back_receipt = receipt(&client, &back_hash).await;
    assert_eq!(back_receipt["status"], "0x1");
    assert_eq!(back_receipt["type"], "0x1");

    // The filters saw both transfers and their blocks; a second poll sees nothing new.
    let changes: Vec<Value> = call(&client, "eth_getFilterChanges", vec![json!(log_filter)]).await;
    let hashes: Vec<&Value> = changes.iter().map(|log| &log["transactionHash"]).collect();
    assert_eq!(hashes, [&json!(transfer_hash), &json!(back_hash)]);
    let again: Vec<Value> = call(&client, "eth_getFilterChanges", vec![json!(log_filter)]).await;
    assert!(again.is_empty());
    let filter_logs: Vec<Value> = call(&client, "eth_getFilterLogs", vec![json!(log_filter)]).await;
    assert_eq!(filter_logs, changes);
    let blocks: Vec<Value> = call(&client, "eth_getFilterChanges", vec![json!(block_filter)]).await;
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0], transferred["blockHash"]);
    assert!(call::<bool>(&client, "eth_uninstallFilter", vec![json!(log_filter)]).await);
    let gone = call_error(&client, "eth_getFilterChanges", vec![json!(log_filter)]).await;
    assert_eq!(gone.message(), "filter not found");

    // The Transfer logs through eth_getLogs: mint, transfer, transfer back; and only the
    // receiver's by topic.
    let all: Vec<Value> = call(
        &client,
        "eth_getLogs",
        vec![json!({ "fromBlock": "earliest", "toBlock": "latest", "address": token_address, "topics": [Transfer::SIGNATURE_HASH] })],
    )
    .await;
    assert_eq!(all.len(), 3, "{all:?}");
    let receiver_topic = format!("0x{}{}", "0".repeat(24), hex::encode(receiver));
    let to_receiver: Vec<Value> = call(
        &client,
        "eth_getLogs",
        vec![json!({ "fromBlock": "0x0", "address": [token_address], "topics": [null, null, [receiver_topic]] })],
    )
    .await;
    assert_eq!(to_receiver.len(), 1);
    assert_eq!(to_receiver[0]["transactionHash"], transfer_hash);

    // Blocks and transactions agree with the receipts.
    let block: Value =
        call(&client, "eth_getBlockByNumber", vec![transferred["blockNumber"].clone(), json!(true)]).await;
    assert_eq!(block["hash"], transferred["blockHash"]);
    assert_eq!(block["transactions"][0]["hash"], transfer_hash);
    assert_eq!(block["transactions"][0]["from"], DEV_ADDRESSES[0]);
    assert_eq!(block["gasUsed"], transferred["cumulativeGasUsed"]);
    let by_hash: Value = call(&client, "eth_getBlockByHash", vec![block["hash"].clone(), json!(false)]).await;
    assert_eq!(by_hash["transactions"], json!([transfer_hash]));
    let count: String = call(&client, "eth_getBlockTransactionCountByHash", vec![block["hash"].clone()]).await;
    assert_eq!(count, "0x1");
    let tx: Value = call(&client, "eth_getTransactionByHash", vec![json!(deploy_hash)]).await;
    assert_eq!(tx["type"], "0x2");
    assert_eq!(tx["input"], format!("0x{}", hex::encode(&init)));
    let nonce: String = call(&client, "eth_getTransactionCount", vec![json!(DEV_ADDRESSES[0]), json!("latest")]).await;
    assert_eq!(nonce, "0x2");
    // Storage: OpenZeppelin's ERC20 keeps the total supply in slot 2.
    let supply: String =
        call(&client, "eth_getStorageAt", vec![json!(token_address), json!("0x2"), json!("latest")]).await;
    assert_eq!(supply, format!("0x{:064x}", 1_000_000));
    let count: String =
        call(&client, "eth_getBlockTransactionCountByNumber", vec![transferred["blockNumber"].clone()]).await;
    assert_eq!(count, "0x1");
    assert_eq!(call::<String>(&client, "eth_gasPrice", vec![]).await, "0x0");
    assert_eq!(call::<String>(&client, "eth_maxPriorityFeePerGas", vec![]).await, "0x0");
    assert!(call::<bool>(&client, "net_listening", vec![]).await);
    assert!(!call::<bool>(&client, "eth_syncing", vec![]).await);
    assert!(call::<String>(&client, "web3_clientVersion", vec![]).await.starts_with("pvm-node/v"));

    // Reads of past blocks come from their state tries; calls run on the latest state only.
    let genesis_nonce: String =
        call(&client, "eth_getTransactionCount", vec![json!(DEV_ADDRESSES[0]), json!("earliest")]).await;
    assert_eq!(genesis_nonce, "0x0");
    let old_call = call_error(
        &client,
        "eth_call",
        vec![json!({ "to": token_address, "data": format!("0x{}", hex::encode(&balance_data)) }), json!("0x1")],
    )
    .await;
    assert!(old_call.message().contains("latest block's state only"), "{old_call:?}");
    let history: Value = call(&client, "eth_feeHistory", vec![json!("0x2"), json!("latest"), json!([50])]).await;
    assert_eq!(history["gasUsedRatio"].as_array().unwrap().len(), 2);

    // eth_subscribe over WebSocket: a new head and the Transfer log of the next transfer.
    let ws =
        jsonrpsee::ws_client::WsClientBuilder::default().build(node.eth.replace("http://", "ws://")).await.unwrap();
    let mut heads =
        ws.subscribe::<Value, _>("eth_subscribe", jsonrpsee::rpc_params!["newHeads"], "eth_unsubscribe").await.unwrap();
    let mut token_logs = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            jsonrpsee::rpc_params!["logs", json!({ "address": token_address })],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let one = transferCall { to: receiver, value: U256::from(1) }.abi_encode();
    let one_hash: String = call(
        &client,
        "eth_sendRawTransaction",
        vec![json!(sign(&keys[0], eip1559(2, Some(token_address), transfer_gas, one)))],
    )
    .await;
    let one_receipt = receipt(&client, &one_hash).await;
    let head = tokio::time::timeout(Duration::from_secs(10), heads.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(head["number"], one_receipt["blockNumber"]);
    assert_eq!(head["hash"], one_receipt["blockHash"]);
    let log = tokio::time::timeout(Duration::from_secs(10), token_logs.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(log["transactionHash"], one_hash);
    let refused = ws.subscribe::<Value, _>("eth_subscribe", jsonrpsee::rpc_params!["syncing"], "eth_unsubscribe").await;
    assert!(refused.is_err());

    // eth_sendTransaction: the node signs for its dev accounts on --dev.
    let sent: String = call(
        &client,
        "eth_sendTransaction",
        vec![json!({ "from": DEV_ADDRESSES[2], "to": token_address, "data": format!("0x{}", hex::encode(&balance_data)) })],
    )
    .await;
    assert_eq!(receipt(&client, &sent).await["status"], "0x1");
    let stranger = call_error(
        &client,
        "eth_sendTransaction",
        vec![json!({ "from": format!("{:?}", Address::repeat_byte(9)), "to": token_address })],
    )
    .await;
    assert!(stranger.message().contains("unknown account"), "{stranger:?}");
    // The keys are the standard ones: the first signs for 0xf39F…2266.
    assert_eq!(Address::from_private_key(&keys[0]), deployer);
    assert_eq!(keccak256(b"Transfer(address,address,uint256)"), Transfer::SIGNATURE_HASH);
    node.stop();
}
