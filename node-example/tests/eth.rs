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

    // Reads and calls of past blocks run on their state tries: at block 1 (the deployment)
    // the receiver held no tokens yet; at genesis there was no contract (empty output).
    let genesis_nonce: String =
        call(&client, "eth_getTransactionCount", vec![json!(DEV_ADDRESSES[0]), json!("earliest")]).await;
    assert_eq!(genesis_nonce, "0x0");
    let balance_call = json!({ "to": token_address, "data": format!("0x{}", hex::encode(&balance_data)) });
    let at_deployment: String = call(&client, "eth_call", vec![balance_call.clone(), json!("0x1")]).await;
    assert_eq!(balanceOfCall::abi_decode_returns(&hex::decode(&at_deployment[2..]).unwrap()).unwrap(), U256::ZERO);
    let by_hash: String =
        call(&client, "eth_call", vec![balance_call.clone(), json!({ "blockHash": transferred["blockHash"] })]).await;
    assert_eq!(balanceOfCall::abi_decode_returns(&hex::decode(&by_hash[2..]).unwrap()).unwrap(), U256::from(250));
    let at_genesis: String = call(&client, "eth_call", vec![balance_call.clone(), json!("earliest")]).await;
    assert_eq!(at_genesis, "0x");
    let beyond = call_error(&client, "eth_call", vec![balance_call, json!("0xffff")]).await;
    assert!(beyond.message().contains("block not found"), "{beyond:?}");
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

/// Deliverable 4: an sr25519 extrinsic (`author_submitExtrinsic`) and an Ethereum transaction
/// (`eth_sendRawTransaction`) sealed into one block, each seen in both views: the Ethereum
/// view (`eth_getBlockBy*`, transactions, receipts, logs, `transactionsRoot`, `receiptsRoot`)
/// and the node's own (`chain_getBlock`, `contracts_getReceipt`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sr25519_and_ethereum_transactions_share_blocks_and_both_views() {
    use alloy_consensus::{Eip658Value, ReceiptEnvelope, ReceiptWithBloom};
    use pvm_node::chain::keys::{address_of_suri, pair_from_suri};
    use pvm_node::chain::primitives::H256;
    use pvm_node::chain::tx::{Call, SignedTransaction, TransactionPayload};

    // The dev chain sealing on a 1.5 s tick, so that both transactions wait for the same block.
    let dir = tempfile::tempdir().unwrap();
    let mut spec: Value =
        serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/chain-spec/dev.json"))).unwrap();
    spec["sealing"] = json!({ "mode": "interval", "intervalMs": 1500 });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let node = RunningNode::start(&["--chain", spec_path.to_str().unwrap()], &dir.path().join("base"));
    let client = pvm_node::client::connect(&node.eth).unwrap();
    let genesis: String = call(&client, "chain_getBlockHash", vec![json!(0)]).await;
    let genesis = H256::from_slice(&hex::decode(&genesis[2..]).unwrap());
    let alice = format!("{:?}", address_of_suri("//Alice").unwrap());
    let keys = dev_keys();

    // Both deploy Token (its constructor emits the mint's Transfer): //Alice with sr25519,
    // dev account 0 with EIP-1559. Submitted back to back; should a tick fall between them
    // (they land in two blocks), the pair is sent again.
    let token = std::fs::read(contract("Token.polkavm")).unwrap();
    let supply = |amount: u64| U256::from(amount).to_be_bytes::<32>().to_vec();
    let mut attempt = 0u64;
    let (substrate_bytes, substrate_hash, eth_raw, eth_hash, substrate_receipt, eth_receipt) = loop {
        let substrate = SignedTransaction::sign(
            &pair_from_suri("//Alice").unwrap(),
            &genesis,
            TransactionPayload {
                nonce: attempt,
                gas_limit: 2_000_000_000,
                call: Call::InstantiateWithCode { code: token.clone(), value: 0, data: supply(700), salt: None },
            },
        )
        .to_extrinsic();
        let eth_raw = sign(&keys[0], eip1559(attempt, None, 2_000_000, [token.clone(), supply(300)].concat()));
        let substrate_hash: String =
            call(&client, "author_submitExtrinsic", vec![json!(format!("0x{}", hex::encode(&substrate)))]).await;
        let eth_hash: String = call(&client, "eth_sendRawTransaction", vec![json!(eth_raw)]).await;
        // Until the tick both are pending: eth_getTransactionByHash finds them in the pool.
        let pending_eth: Value = call(&client, "eth_getTransactionByHash", vec![json!(eth_hash)]).await;
        let pending_substrate: Value = call(&client, "eth_getTransactionByHash", vec![json!(substrate_hash)]).await;
        let sealed_meanwhile = !pending_eth["blockHash"].is_null() || !pending_substrate["blockHash"].is_null();
        if !sealed_meanwhile {
            assert_eq!(pending_eth["hash"], eth_hash, "{pending_eth}");
            assert_eq!(pending_eth["from"], DEV_ADDRESSES[0]);
            assert_eq!(pending_eth["transactionIndex"], Value::Null);
            assert_eq!(pending_substrate["hash"], substrate_hash, "{pending_substrate}");
            assert_eq!(pending_substrate["from"], alice);
        }
        let substrate_receipt = receipt(&client, &substrate_hash).await;
        let eth_receipt = receipt(&client, &eth_hash).await;
        if !sealed_meanwhile && substrate_receipt["blockHash"] == eth_receipt["blockHash"] {
            break (substrate, substrate_hash, eth_raw, eth_hash, substrate_receipt, eth_receipt);
        }
        attempt += 1;
        assert!(attempt < 3, "three pairs submitted back to back never shared a block");
    };

    // The Ethereum view of the sr25519 extrinsic: hash as author_submitExtrinsic returned it,
    // sender mapped by AccountId32Mapper, a deployment with its contract address and log.
    let block_hash = substrate_receipt["blockHash"].clone();
    assert_eq!(substrate_receipt["transactionIndex"], "0x0");
    assert_eq!(eth_receipt["transactionIndex"], "0x1");
    assert_eq!(substrate_receipt["from"], alice);
    assert_eq!(substrate_receipt["to"], Value::Null);
    assert_eq!(substrate_receipt["type"], "0x0");
    assert_eq!(substrate_receipt["status"], "0x1", "{substrate_receipt}");
    let substrate_logs = substrate_receipt["logs"].as_array().unwrap();
    assert_eq!(substrate_logs.len(), 1);
    assert_eq!(substrate_logs[0]["topics"][0], Transfer::SIGNATURE_HASH.to_string());
    assert_eq!(substrate_logs[0]["logIndex"], "0x0");
    assert_eq!(substrate_logs[0]["transactionHash"], substrate_hash);
    assert_eq!(eth_receipt["logs"][0]["logIndex"], "0x1");
    assert_eq!(
        quantity(&eth_receipt["cumulativeGasUsed"]),
        quantity(&substrate_receipt["gasUsed"]) + quantity(&eth_receipt["gasUsed"])
    );
    let substrate_tx: Value = call(&client, "eth_getTransactionByHash", vec![json!(substrate_hash)]).await;
    assert_eq!(substrate_tx["from"], alice);
    assert_eq!(substrate_tx["blockHash"], block_hash);
    assert_eq!(substrate_tx["nonce"], format!("{attempt:#x}"));
    assert_eq!(substrate_tx["input"], format!("0x{}{}", hex::encode(&token), hex::encode(supply(700))));

    // The node's own view of both: contracts_getReceipt by either hash, the same contract.
    let own_substrate: Value = call(&client, "contracts_getReceipt", vec![json!(substrate_hash)]).await;
    let own_eth: Value = call(&client, "contracts_getReceipt", vec![json!(eth_hash)]).await;
    assert_eq!(own_substrate["blockHash"], block_hash);
    assert_eq!(own_eth["blockHash"], block_hash);
    assert_eq!((own_substrate["index"].as_u64(), own_eth["index"].as_u64()), (Some(0), Some(1)));
    assert_eq!(own_substrate["contractAddress"], substrate_receipt["contractAddress"]);
    assert_eq!(own_eth["contractAddress"], eth_receipt["contractAddress"]);
    assert_eq!(own_eth["from"], DEV_ADDRESSES[0]);
    let own_block: Value = call(&client, "chain_getBlock", vec![block_hash.clone()]).await;
    assert_eq!(own_block["block"]["extrinsics"], json!([format!("0x{}", hex::encode(&substrate_bytes)), eth_raw]));

    // The Ethereum block: both transactions in order, by number and by hash, with roots.
    let number = substrate_receipt["blockNumber"].clone();
    let block: Value = call(&client, "eth_getBlockByNumber", vec![number.clone(), json!(false)]).await;
    assert_eq!(block["hash"], block_hash);
    assert_eq!(block["transactions"], json!([substrate_hash, eth_hash]));
    let full: Value = call(&client, "eth_getBlockByHash", vec![block_hash.clone(), json!(true)]).await;
    assert_eq!(full["transactions"][0]["hash"], substrate_hash);
    assert_eq!(full["transactions"][0]["from"], alice);
    assert_eq!(full["transactions"][1]["hash"], eth_hash);
    assert_eq!(full["transactions"][1]["type"], "0x2");
    let count: String = call(&client, "eth_getBlockTransactionCountByNumber", vec![number.clone()]).await;
    assert_eq!(count, "0x2");
    assert_eq!(quantity(&block["gasUsed"]), quantity(&eth_receipt["cumulativeGasUsed"]));
    let eth_raw_bytes = hex::decode(&eth_raw[2..]).unwrap();
    let transactions_root = alloy_consensus::proofs::ordered_trie_root_encoded(&[substrate_bytes, eth_raw_bytes]);
    assert_eq!(block["transactionsRoot"], transactions_root.to_string());
    // receiptsRoot over the receipts as eth_getTransactionReceipt returned them.
    let receipts: Vec<ReceiptEnvelope> = [&substrate_receipt, &eth_receipt]
        .iter()
        .map(|json| {
            let logs = json["logs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|log| {
                    alloy_primitives::Log::new_unchecked(
                        log["address"].as_str().unwrap().parse().unwrap(),
                        log["topics"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|t| t.as_str().unwrap().parse().unwrap())
                            .collect(),
                        log["data"].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect();
            let receipt = alloy_consensus::Receipt {
                status: Eip658Value::Eip658(json["status"] == "0x1"),
                cumulative_gas_used: quantity(&json["cumulativeGasUsed"]) as u64,
                logs,
            };
            let with_bloom =
                ReceiptWithBloom { receipt, logs_bloom: json["logsBloom"].as_str().unwrap().parse().unwrap() };
            if json["type"] == "0x2" {
                ReceiptEnvelope::Eip1559(with_bloom)
            } else {
                ReceiptEnvelope::Legacy(with_bloom)
            }
        })
        .collect();
    assert_eq!(block["receiptsRoot"], alloy_consensus::proofs::calculate_receipt_root(&receipts).to_string());

    // eth_getLogs over the block finds both mints, in log order.
    let logs: Vec<Value> =
        call(&client, "eth_getLogs", vec![json!({ "blockHash": block_hash, "topics": [Transfer::SIGNATURE_HASH] })])
            .await;
    let hashes: Vec<&Value> = logs.iter().map(|log| &log["transactionHash"]).collect();
    assert_eq!(hashes, [&json!(substrate_hash), &json!(eth_hash)]);
    node.stop();
}
