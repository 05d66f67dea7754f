//! Ethereum JSON-RPC (`eth_*`, `net_*`, `web3_*`) over the node, so that ethers.js, web3.py
//! and other Ethereum tools deploy and call PVM contracts unchanged. Every method, with its
//! parameters, results and units, is listed in `node-example/README.md`.
//!
//! The Ethereum view of a block is the sealed block itself: its number, its hash (the
//! block's BLAKE2b-256 header hash), its parent and timestamp; its transactions are all the
//! extrinsics it includes, in order: Ethereum transactions as signed, and sr25519 ones in
//! Ethereum's terms ([`ViewTransaction`]). Gas is reported in Ethereum units (node gas
//! divided by [`ETH_GAS_RATIO`], rounded up); balances and values are wei. No fees are
//! charged: gas prices and the base fee are 0.

use crate::chain::eth::{self, EthTxError, ViewTransaction, ETH_GAS_RATIO};
use crate::chain::node::{eth_gas, CodeSource, DryRun, IncludedEthTx, Node, SubmitError};
use crate::chain::primitives::{AccountInfo, BlockNumber, Outcome, H160, H256};
use crate::chain::store::{Block, StoreError};
use crate::runtime::exec::InvalidTransaction;
use crate::runtime::host::StorageKey;
use alloy_consensus::{
    Eip658Value, ReceiptEnvelope, ReceiptWithBloom, SignableTransaction, Transaction as _, TxEip1559, TxEnvelope,
    TxType,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bloom, Bytes, TxKind, B256, U256, U64};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use k256::ecdsa::SigningKey;
use parity_scale_codec::Encode;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Error codes of the Ethereum methods, as geth and anvil use them.
pub mod codes {
    /// A call or estimate reverted; `data` holds the revert data.
    pub const EXECUTION_REVERTED: i32 = 3;
    /// A transaction was refused, or a call failed other than by reverting.
    pub const SERVER_ERROR: i32 = -32000;
    /// Malformed parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Storage failure inside the node.
    pub const INTERNAL: i32 = -32603;
}

/// Most blocks one `eth_getLogs` request may scan.
pub const MAX_LOG_BLOCK_RANGE: u64 = 10_000;

/// Most logs one `eth_getLogs` request returns.
pub const MAX_LOGS: usize = 10_000;

/// Most blocks one `eth_feeHistory` request covers.
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1_024;

/// The private keys of the ten accounts of the standard Hardhat / anvil development mnemonic
/// `test test test test test test test test test test test junk` (BIP-44 path
/// `m/44'/60'/0'/0/i`); the dev chain spec funds their addresses ([`DEV_ADDRESSES`]).
pub const DEV_PRIVATE_KEYS: [&str; 10] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// The addresses of [`DEV_PRIVATE_KEYS`], in the same order.
pub const DEV_ADDRESSES: [&str; 10] = [
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    "0x90f79bf6eb2c4f870365e785982e1f101e93b906",
    "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65",
    "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc",
    "0x976ea74026e726554db657fa54763abd0c3a0aa9",
    "0x14dc79964da2c08b23698b3d3cc7ca32193d9955",
    "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f",
    "0xa0ee7a142d267c1f36714e4a8f75612f20a79720",
];

/// The dev keys as signing keys.
pub fn dev_keys() -> Vec<SigningKey> {
    DEV_PRIVATE_KEYS
        .iter()
        .map(|key| SigningKey::from_slice(&hex::decode(key).expect("hex key")).expect("valid secp256k1 key"))
        .collect()
}

/// What the Ethereum methods run on.
pub struct EthContext {
    /// The node.
    pub node: Arc<Node>,
    /// Keys `eth_accounts` lists and `eth_sendTransaction` signs with (`--dev` only; empty
    /// otherwise, and then `eth_sendTransaction` refuses every sender).
    pub dev_keys: Vec<SigningKey>,
    /// Installed filters.
    pub filters: Mutex<Filters>,
}

impl EthContext {
    /// A context with no filters installed.
    pub fn new(node: Arc<Node>, dev_keys: Vec<SigningKey>) -> EthContext {
        EthContext { node, dev_keys, filters: Mutex::new(Filters::default()) }
    }
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

fn internal(store_error: StoreError) -> ErrorObjectOwned {
    tracing::error!(target: "pvm_node::server::eth", "storage error: {store_error}");
    error(codes::INTERNAL, store_error.to_string())
}

fn q(value: impl std::fmt::LowerHex) -> String {
    format!("{value:#x}")
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn addr(address: &H160) -> String {
    format!("{address:?}")
}

fn hash(value: &H256) -> String {
    format!("{value:?}")
}

fn alloy_address(address: &H160) -> Address {
    Address::from(address.0)
}

/// A refused transaction as the JSON-RPC error Ethereum tools recognise (geth's messages
/// for nonces, so ethers reports `NONCE_EXPIRED`).
fn submit_error(refusal: SubmitError) -> ErrorObjectOwned {
    match refusal {
        SubmitError::Invalid(InvalidTransaction::Stale { expected, got }) => {
            error(codes::SERVER_ERROR, format!("nonce too low: next nonce {expected}, tx nonce {got}"))
        }
        SubmitError::Invalid(InvalidTransaction::Future { expected, got }) => error(
            codes::SERVER_ERROR,
            format!("nonce too high: next nonce {expected}, tx nonce {got} (transactions must not leave gaps)"),
        ),
        SubmitError::Invalid(InvalidTransaction::GasLimitTooHigh { limit, max }) => error(
            codes::SERVER_ERROR,
            format!("gas limit {} exceeds the per-transaction limit {}", eth_gas(limit), max / ETH_GAS_RATIO),
        ),
        SubmitError::Invalid(InvalidTransaction::ZeroGasLimit) => {
            error(codes::SERVER_ERROR, "intrinsic gas too low: gas limit 0")
        }
        SubmitError::Ethereum(refusal @ EthTxError::Decode(_)) => invalid(refusal.to_string()),
        SubmitError::AlreadyImported => error(codes::SERVER_ERROR, "already known"),
        SubmitError::PoolFull => error(codes::SERVER_ERROR, "txpool is full"),
        SubmitError::Store(store_error) => internal(store_error),
        other => error(codes::SERVER_ERROR, other.to_string()),
    }
}

/// A block given as a tag (`latest`, `pending`, `safe`, `finalized`, `earliest`), a
/// number, or an EIP-1898 object (`{"blockNumber"}` / `{"blockHash"}`); absent = latest.
/// `None` when the block does not exist.
fn block_number(node: &Node, value: Option<&Value>) -> Result<Option<BlockNumber>, ErrorObjectOwned> {
    let best = node.best_header().number;
    let number = match value {
        None | Some(Value::Null) => best,
        Some(Value::String(text)) => match text.as_str() {
            "latest" | "pending" | "safe" | "finalized" => best,
            "earliest" => 0,
            other => parse_quantity("block", other)?,
        },
        Some(Value::Object(object)) => {
            if let Some(Value::String(hash)) = object.get("blockHash") {
                let hash = parse_h256("blockHash", hash)?;
                return Ok(node.block_by_hash(&hash).map_err(internal)?.map(|block| block.header.number));
            }
            return block_number(node, object.get("blockNumber"));
        }
        Some(_) => return Err(invalid("block: expected a tag, a 0x quantity or {blockHash}")),
    };
    Ok((number <= best).then_some(number))
}

fn parse_quantity(field: &str, text: &str) -> Result<u64, ErrorObjectOwned> {
    let digits = text.strip_prefix("0x").ok_or_else(|| invalid(format!("{field}: expected a 0x quantity")))?;
    u64::from_str_radix(digits, 16).map_err(|_| invalid(format!("{field}: `{text}` is not a hex quantity")))
}

fn parse_h256(field: &str, text: &str) -> Result<H256, ErrorObjectOwned> {
    let value: B256 = text.parse().map_err(|_| invalid(format!("{field}: expected 32 bytes of 0x hex")))?;
    Ok(H256(value.0))
}

fn parse_address(field: &str, text: &str) -> Result<H160, ErrorObjectOwned> {
    let value: Address = text.parse().map_err(|_| invalid(format!("{field}: expected a 20-byte 0x address")))?;
    Ok(eth::h160(value))
}

/// Parameter `index` of a positional list, if present.
fn param(params: &Params, index: usize) -> Result<Option<Value>, ErrorObjectOwned> {
    let values: Vec<Value> = if params.as_str().is_none() { Vec::new() } else { params.parse()? };
    Ok(values.get(index).cloned())
}

/// The account at the block a request names; an error for an unknown block.
fn account_at(node: &Node, address: &H160, block: Option<&Value>) -> Result<AccountInfo, ErrorObjectOwned> {
    let number = block_number(node, block)?.ok_or_else(|| invalid("block not found"))?;
    node.account_at(number, address).map_err(internal)?.ok_or_else(|| invalid("block not found"))
}

/// `eth_call` / `eth_estimateGas` / `eth_sendTransaction` request fields; others (`type`,
/// `chainId`, `accessList`...) are accepted and ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CallRequest {
    from: Option<Address>,
    to: Option<Address>,
    gas: Option<U64>,
    value: Option<U256>,
    data: Option<Bytes>,
    input: Option<Bytes>,
    nonce: Option<U64>,
    max_fee_per_gas: Option<U256>,
    max_priority_fee_per_gas: Option<U256>,
    gas_price: Option<U256>,
}

impl CallRequest {
    fn data(&self) -> &[u8] {
        self.input.as_ref().or(self.data.as_ref()).map_or(&[], |bytes| bytes.as_ref())
    }
}

/// What `eth_call` and `eth_estimateGas` share: the transaction of `params[0]` dry-run on the
/// state after the block `params[1]` names (the latest when absent), a failure or revert
/// turned into its RPC error.
fn dry_run_params(node: &Node, params: &Params) -> Result<DryRun, ErrorObjectOwned> {
    let request: CallRequest = serde_json::from_value(param(params, 0)?.unwrap_or_default())
        .map_err(|failure| invalid(format!("transaction: {failure}")))?;
    let at = block_number(node, param(params, 1)?.as_ref())?.ok_or_else(|| invalid("block not found"))?;
    let result = dry_run(node, &request, Some(at))?;
    match dry_run_error(&result) {
        Some(failure) => Err(failure),
        None => Ok(result),
    }
}

/// Runs a request as a dry run on the state after block `at` (the best block when `None`,
/// or when `at` is the best block). Without `to` it is a deployment.
fn dry_run(node: &Node, request: &CallRequest, at: Option<BlockNumber>) -> Result<DryRun, ErrorObjectOwned> {
    let origin = request.from.map(eth::h160).unwrap_or_default();
    let gas_limit = request.gas.map(|gas| gas.to::<u64>().saturating_mul(ETH_GAS_RATIO));
    let value =
        u128::try_from(request.value.unwrap_or_default()).map_err(|_| invalid("value: exceeds the largest balance"))?;
    let at = at.filter(|number| *number != node.best_header().number);
    let result = match (request.to, at) {
        (Some(to), None) => node.dry_run_call(origin, eth::h160(to), value, request.data().to_vec(), gas_limit),
        (Some(to), Some(at)) => node
            .dry_run_call_at(at, origin, eth::h160(to), value, request.data().to_vec(), gas_limit)
            .and_then(|found| found.ok_or(StoreError::Corrupt("a block below the best is missing"))),
        (None, at) => {
            let (code, input) = eth::split_init_code(request.data())
                .map_err(|refusal| error(codes::SERVER_ERROR, refusal.to_string()))?;
            match at {
                None => node.dry_run_instantiate(origin, CodeSource::Blob(code), value, input, None, gas_limit),
                Some(at) => node
                    .dry_run_instantiate_at(at, origin, CodeSource::Blob(code), value, input, None, gas_limit)
                    .and_then(|found| found.ok_or(StoreError::Corrupt("a block below the best is missing"))),
            }
        }
    };
    result.map_err(internal)
}

/// A dry run that did not succeed as the error Ethereum tools expect: code 3 with the revert
/// data for a revert (so clients decode `Error(string)` and custom errors), -32000 with the
/// reason for any other failure.
fn dry_run_error(result: &DryRun) -> Option<ErrorObjectOwned> {
    match Outcome::from(&result.call.status) {
        Outcome::Success => None,
        Outcome::Reverted => Some(ErrorObjectOwned::owned(
            codes::EXECUTION_REVERTED,
            "execution reverted",
            Some(hex0x(&result.call.output)),
        )),
        Outcome::Failed { message, .. } => Some(error(codes::SERVER_ERROR, message)),
    }
}

/// Ethereum gas a transaction should declare for what a dry run used: a quarter more, so
/// that gas forwarded to sub-calls and rounding never make the real run fall short.
fn estimate_from(node_gas_used: u64) -> u64 {
    eth_gas(node_gas_used.saturating_add(node_gas_used / 4)).max(1)
}

fn bloom_of(included: &IncludedEthTx) -> Bloom {
    let mut bloom = Bloom::default();
    for event in &included.receipt.events {
        let topics: Vec<B256> = event.topics.iter().map(|topic| B256::from(topic.0)).collect();
        bloom.accrue_raw_log(alloy_address(&event.address), &topics);
    }
    bloom
}

fn log_json(block: &Block, included: &IncludedEthTx, position: usize) -> Value {
    let event = &included.receipt.events[position];
    json!({
        "address": addr(&event.address),
        "topics": event.topics.iter().map(hash).collect::<Vec<_>>(),
        "data": hex0x(&event.data),
        "blockNumber": q(block.header.number),
        "blockHash": hash(&block.header.hash()),
        "blockTimestamp": q(block.header.timestamp_ms() / 1000),
        "transactionHash": hash(&included.tx.hash()),
        "transactionIndex": q(included.eth_index),
        "logIndex": q(included.first_log_index as usize + position),
        "removed": false,
    })
}

/// The price a transaction paid per gas: what its envelope says with a base fee of 0; 0 for
/// sr25519 transactions, which name no price.
fn effective_gas_price(tx: &ViewTransaction) -> u128 {
    tx.envelope().map_or(0, |envelope| envelope.effective_gas_price(Some(0)))
}

fn receipt_json(block: &Block, included: &IncludedEthTx) -> Value {
    let receipt = &included.receipt;
    let tx = &included.tx;
    let to = tx.to();
    json!({
        "transactionHash": hash(&tx.hash()),
        "transactionIndex": q(included.eth_index),
        "blockHash": hash(&block.header.hash()),
        "blockNumber": q(block.header.number),
        "from": addr(&tx.sender()),
        "to": to.as_ref().map(addr),
        "cumulativeGasUsed": q(included.cumulative_eth_gas),
        "gasUsed": q(eth_gas(receipt.gas_used)),
        "effectiveGasPrice": q(effective_gas_price(tx)),
        "contractAddress": if to.is_none() { receipt.contract_address.as_ref().map(addr) } else { None },
        "logs": (0..receipt.events.len()).map(|position| log_json(block, included, position)).collect::<Vec<_>>(),
        "logsBloom": bloom_of(included).to_string(),
        "type": q(tx.tx_type()),
        "status": if receipt.outcome.is_success() { "0x1" } else { "0x0" },
    })
}

/// A transaction in Ethereum's JSON shape; `included` gives its block and position (absent
/// for a transaction still in the pool).
fn transaction_json(included: Option<(&Block, u32)>, tx: &ViewTransaction, chain_id: u64) -> Value {
    let mut object = json!({
        "hash": hash(&tx.hash()),
        "nonce": q(tx.nonce()),
        "blockHash": included.map(|(block, _)| hash(&block.header.hash())),
        "blockNumber": included.map(|(block, _)| q(block.header.number)),
        "transactionIndex": included.map(|(_, index)| q(index)),
        "from": addr(&tx.sender()),
        "to": tx.to().as_ref().map(addr),
        "value": q(tx.value()),
        "gas": q(tx.eth_gas_limit()),
        "gasPrice": q(effective_gas_price(tx)),
        "input": hex0x(&tx.input()),
        "type": q(tx.tx_type()),
        "chainId": q(chain_id),
        // An sr25519 transaction has no secp256k1 signature: 0s, as chains show their
        // unsigned system transactions.
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
    });
    let Some(envelope) = tx.envelope() else { return object };
    let signature = envelope.signature();
    let v = match envelope {
        TxEnvelope::Legacy(_) => chain_id * 2 + 35 + u64::from(signature.v()),
        _ => u64::from(signature.v()),
    };
    object["v"] = json!(q(v));
    object["r"] = json!(q(signature.r()));
    object["s"] = json!(q(signature.s()));
    if !matches!(envelope, TxEnvelope::Legacy(_)) {
        let access_list: Vec<Value> = envelope
            .access_list()
            .map(|list| {
                list.0
                    .iter()
                    .map(|item| {
                        json!({
                            "address": item.address.to_string().to_lowercase(),
                            "storageKeys": item.storage_keys.iter().map(|key| key.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        object["accessList"] = Value::Array(access_list);
        object["yParity"] = json!(q(u8::from(signature.v())));
    }
    if let TxEnvelope::Eip1559(_) = envelope {
        object["maxFeePerGas"] = json!(q(envelope.max_fee_per_gas()));
        object["maxPriorityFeePerGas"] = json!(q(envelope.max_priority_fee_per_gas().unwrap_or_default()));
    }
    object
}

/// The block's `transactionsRoot`: the Ethereum ordered trie (alloy's `ordered_trie_root`,
/// keys `rlp(index)`) over each transaction's bytes (an Ethereum transaction's EIP-2718
/// encoding, an sr25519 extrinsic's SCALE bytes).
pub fn transactions_root(included: &[IncludedEthTx]) -> B256 {
    let encoded: Vec<Vec<u8>> = included.iter().map(|included| included.tx.root_bytes()).collect();
    alloy_consensus::proofs::ordered_trie_root_encoded(&encoded)
}

/// The block's `receiptsRoot`: the Ethereum ordered trie over each transaction's EIP-2718
/// receipt (status, cumulative gas, bloom, logs; typed as the transaction, legacy for sr25519
/// transactions), as alloy's `calculate_receipt_root` computes it.
pub fn receipts_root(included: &[IncludedEthTx]) -> B256 {
    let receipts: Vec<ReceiptEnvelope> = included
        .iter()
        .map(|included| {
            let logs = included
                .receipt
                .events
                .iter()
                .map(|event| {
                    alloy_primitives::Log::new_unchecked(
                        alloy_address(&event.address),
                        event.topics.iter().map(|topic| B256::from(topic.0)).collect(),
                        Bytes::copy_from_slice(&event.data),
                    )
                })
                .collect();
            let receipt = alloy_consensus::Receipt {
                status: Eip658Value::Eip658(included.receipt.outcome.is_success()),
                cumulative_gas_used: included.cumulative_eth_gas,
                logs,
            };
            let with_bloom = ReceiptWithBloom { receipt, logs_bloom: bloom_of(included) };
            match included.tx.envelope().map(TxEnvelope::tx_type) {
                Some(TxType::Eip2930) => ReceiptEnvelope::Eip2930(with_bloom),
                Some(TxType::Eip1559) => ReceiptEnvelope::Eip1559(with_bloom),
                _ => ReceiptEnvelope::Legacy(with_bloom),
            }
        })
        .collect();
    alloy_consensus::proofs::calculate_receipt_root(&receipts)
}

fn block_json(node: &Node, block: &Block, full: bool) -> Result<Value, ErrorObjectOwned> {
    let included = node.eth_transactions(block).map_err(internal)?;
    let mut bloom = Bloom::default();
    for tx in &included {
        bloom.accrue_bloom(&bloom_of(tx));
    }
    let chain_id = node.spec().chain_id;
    let transactions: Vec<Value> = included
        .iter()
        .map(|tx| {
            if full {
                transaction_json(Some((block, tx.eth_index)), &tx.tx, chain_id)
            } else {
                json!(hash(&tx.tx.hash()))
            }
        })
        .collect();
    let header = &block.header;
    Ok(json!({
        "number": q(header.number),
        "hash": hash(&header.hash()),
        "parentHash": hash(&header.parent_hash),
        "timestamp": q(header.timestamp_ms() / 1000),
        "stateRoot": hash(&header.state_root),
        "transactionsRoot": transactions_root(&included).to_string(),
        "receiptsRoot": receipts_root(&included).to_string(),
        "gasLimit": q(node.spec().gas.per_block / ETH_GAS_RATIO),
        "gasUsed": q(included.last().map_or(0, |tx| tx.cumulative_eth_gas)),
        "baseFeePerGas": "0x0",
        "logsBloom": bloom.to_string(),
        "miner": addr(&H160::zero()),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "nonce": "0x0000000000000000",
        "mixHash": hash(&H256::zero()),
        "sha3Uncles": alloy_consensus::EMPTY_OMMER_ROOT_HASH.to_string(),
        "extraData": "0x",
        "size": q(block.encode().len()),
        "uncles": [],
        "transactions": transactions,
    }))
}

/// `eth_getLogs` filter.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LogFilter {
    from_block: Option<Value>,
    to_block: Option<Value>,
    block_hash: Option<B256>,
    address: Option<Value>,
    #[serde(default)]
    topics: Vec<Value>,
}

/// A value that is one item, a list of items (any matches), or null (anything matches).
fn one_or_many<T: std::str::FromStr>(field: &str, value: &Value) -> Result<Option<Vec<T>>, ErrorObjectOwned> {
    let parse = |item: &Value| {
        item.as_str()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| invalid(format!("{field}: `{item}` is not valid")))
    };
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items.iter().map(parse).collect::<Result<Vec<T>, _>>().map(Some),
        single => Ok(Some(vec![parse(single)?])),
    }
}

/// Which logs a filter selects, parsed: addresses (any of them) and topics per position.
#[derive(Clone)]
struct LogSelection {
    addresses: Option<Vec<Address>>,
    topics: Vec<Option<Vec<B256>>>,
}

impl LogSelection {
    fn parse(filter: &LogFilter) -> Result<LogSelection, ErrorObjectOwned> {
        let addresses = match &filter.address {
            Some(value) => one_or_many("address", value)?,
            None => None,
        };
        let topics = filter.topics.iter().map(|topic| one_or_many("topics", topic)).collect::<Result<_, _>>()?;
        Ok(LogSelection { addresses, topics })
    }

    fn matches(&self, address: &H160, topics: &[H256]) -> bool {
        if let Some(addresses) = &self.addresses {
            if !addresses.contains(&alloy_address(address)) {
                return false;
            }
        }
        self.topics.iter().enumerate().all(|(slot, wanted)| match wanted {
            None => true,
            Some(wanted) => topics.get(slot).is_some_and(|topic| wanted.contains(&B256::from(topic.0))),
        })
    }
}

/// The selected logs of blocks `from..=to` (at most [`MAX_LOG_BLOCK_RANGE`] blocks and
/// [`MAX_LOGS`] logs).
fn scan_logs(node: &Node, selection: &LogSelection, from: u64, to: u64) -> Result<Vec<Value>, ErrorObjectOwned> {
    if to >= from && to - from >= MAX_LOG_BLOCK_RANGE {
        return Err(invalid(format!(
            "block range of {} blocks exceeds the limit of {MAX_LOG_BLOCK_RANGE}",
            to - from + 1
        )));
    }
    let mut logs = Vec::new();
    for number in from..=to {
        let Some(block) = node.block(number).map_err(internal)? else { continue };
        for included in node.eth_transactions(&block).map_err(internal)? {
            for (position, event) in included.receipt.events.iter().enumerate() {
                if !selection.matches(&event.address, &event.topics) {
                    continue;
                }
                if logs.len() == MAX_LOGS {
                    return Err(invalid(format!("more than {MAX_LOGS} logs match; narrow the block range")));
                }
                logs.push(log_json(&block, &included, position));
            }
        }
    }
    Ok(logs)
}

/// The first and last block a filter names: `blockHash`, or `fromBlock` / `toBlock`
/// (both default to the latest block; a block beyond the best is past the end).
fn filter_range(node: &Node, filter: &LogFilter) -> Result<(u64, u64), ErrorObjectOwned> {
    if let Some(block_hash) = filter.block_hash {
        let number = node
            .block_by_hash(&H256(block_hash.0))
            .map_err(internal)?
            .ok_or_else(|| invalid("blockHash: unknown block"))?
            .header
            .number;
        return Ok((number, number));
    }
    let best = node.best_header().number;
    let from = block_number(node, filter.from_block.as_ref())?;
    let to = block_number(node, filter.to_block.as_ref())?;
    // Two block numbers the wrong way round are a mistake to report, as geth does, not an
    // empty range (tags and defaults are not: `latest` may pass a number while one waits).
    let number = |value: Option<&Value>| match value {
        Some(Value::String(text)) if text.starts_with("0x") => parse_quantity("block", text).ok(),
        _ => None,
    };
    if let (Some(first), Some(last)) = (number(filter.from_block.as_ref()), number(filter.to_block.as_ref())) {
        if first > last {
            return Err(invalid(format!("invalid block range params: fromBlock {first} is after toBlock {last}")));
        }
    }
    Ok((from.unwrap_or(best + 1), to.unwrap_or(best)))
}

fn get_logs(node: &Node, filter: LogFilter) -> Result<Vec<Value>, ErrorObjectOwned> {
    let selection = LogSelection::parse(&filter)?;
    let (from, to) = filter_range(node, &filter)?;
    scan_logs(node, &selection, from, to)
}

/// Most filters installed at once.
pub const MAX_FILTERS: usize = 1024;

/// A filter not polled for this long is removed (as geth does).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

/// What an installed filter watches.
#[derive(Clone)]
enum FilterKind {
    /// `eth_newFilter`: logs of blocks from `from`, up to `to` (or following the chain).
    Logs { selection: LogSelection, from: u64, to: Option<u64> },
    /// `eth_newBlockFilter`: hashes of new blocks.
    Blocks,
}

/// An installed filter and how far its changes were read.
struct InstalledFilter {
    kind: FilterKind,
    /// First block whose changes were not returned yet.
    next_block: u64,
    last_polled: Instant,
}

/// The filters installed with `eth_newFilter` / `eth_newBlockFilter`, by id.
#[derive(Default)]
pub struct Filters {
    next_id: u64,
    installed: HashMap<u64, InstalledFilter>,
}

fn install_filter(context: &EthContext, kind: FilterKind) -> Result<String, ErrorObjectOwned> {
    let next_block = context.node.best_header().number + 1;
    let mut filters = context.filters.lock();
    filters.installed.retain(|_, filter| filter.last_polled.elapsed() < FILTER_TIMEOUT);
    if filters.installed.len() >= MAX_FILTERS {
        return Err(error(codes::SERVER_ERROR, format!("too many filters (at most {MAX_FILTERS}); uninstall some")));
    }
    filters.next_id += 1;
    let id = filters.next_id;
    filters.installed.insert(id, InstalledFilter { kind, next_block, last_polled: Instant::now() });
    Ok(q(id))
}

fn filter_id(params: &Params) -> Result<u64, ErrorObjectOwned> {
    let text = param(params, 0)?.and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
    parse_quantity("filter id", &text)
}

fn filter_not_found() -> ErrorObjectOwned {
    error(codes::SERVER_ERROR, "filter not found")
}

/// `eth_getFilterChanges`: what happened since the last poll.
fn filter_changes(context: &EthContext, id: u64) -> Result<Vec<Value>, ErrorObjectOwned> {
    let best = context.node.best_header().number;
    let (kind, next_block) = {
        let mut filters = context.filters.lock();
        let filter = filters.installed.get_mut(&id).ok_or_else(filter_not_found)?;
        filter.last_polled = Instant::now();
        let next_block = filter.next_block;
        filter.next_block = best + 1;
        (filter.kind.clone(), next_block)
    };
    match kind {
        FilterKind::Blocks => {
            let mut hashes = Vec::new();
            for number in next_block..=best {
                if let Some(block) = context.node.block(number).map_err(internal)? {
                    hashes.push(json!(hash(&block.header.hash())));
                }
            }
            Ok(hashes)
        }
        FilterKind::Logs { selection, from, to } => {
            let to = to.map_or(best, |to| to.min(best));
            scan_logs(&context.node, &selection, next_block.max(from), to)
        }
    }
}

/// How often an `eth_subscribe` subscription looks for newly sealed blocks.
pub const SUBSCRIPTION_POLL: Duration = Duration::from_millis(50);

/// A block header as `newHeads` notifications carry it: the block without its
/// transactions, uncles and size.
fn head_json(node: &Node, block: &Block) -> Result<Value, ErrorObjectOwned> {
    let mut head = block_json(node, block, false)?;
    if let Some(fields) = head.as_object_mut() {
        for field in ["transactions", "uncles", "size", "totalDifficulty"] {
            fields.remove(field);
        }
    }
    Ok(head)
}

/// What an `eth_subscribe` subscription sends.
enum Subscription {
    /// A header per new block.
    NewHeads,
    /// The selected logs of each new block.
    Logs(LogSelection),
}

impl Subscription {
    fn parse(params: &Params) -> Result<Subscription, ErrorObjectOwned> {
        let kind = param(params, 0)?.and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
        match kind.as_str() {
            "newHeads" => Ok(Subscription::NewHeads),
            "logs" => {
                let filter: LogFilter = serde_json::from_value(param(params, 1)?.unwrap_or_else(|| json!({})))
                    .map_err(|failure| invalid(format!("filter: {failure}")))?;
                Ok(Subscription::Logs(LogSelection::parse(&filter)?))
            }
            other => Err(invalid(format!("subscription `{other}` is not supported (newHeads and logs are)"))),
        }
    }

    /// The notifications for block `number`.
    fn notifications(&self, node: &Node, number: BlockNumber) -> Result<Vec<Value>, ErrorObjectOwned> {
        match self {
            Subscription::NewHeads => match node.block(number).map_err(internal)? {
                Some(block) => Ok(vec![head_json(node, &block)?]),
                None => Ok(Vec::new()),
            },
            Subscription::Logs(selection) => scan_logs(node, selection, number, number),
        }
    }
}

/// Signs a request with a dev key as an EIP-1559 transaction and submits it.
fn send_transaction(context: &EthContext, request: CallRequest) -> Result<H256, ErrorObjectOwned> {
    let node = &context.node;
    let from = request.from.ok_or_else(|| invalid("from: required"))?;
    let key = context.dev_keys.iter().find(|key| Address::from_private_key(key) == from).ok_or_else(|| {
        error(
            codes::SERVER_ERROR,
            format!("unknown account {from}: the node signs only for its dev accounts (eth_accounts, --dev)"),
        )
    })?;
    let nonce = match request.nonce {
        Some(nonce) => nonce.to::<u64>(),
        None => node.next_nonce(&eth::h160(from)).map_err(internal)?,
    };
    let gas_limit = match request.gas {
        Some(gas) => gas.to::<u64>(),
        None => {
            let result = dry_run(node, &request, None)?;
            if let Some(failure) = dry_run_error(&result) {
                return Err(failure);
            }
            estimate_from(result.call.gas_used)
        }
    };
    let max_fee = request.max_fee_per_gas.or(request.gas_price).unwrap_or_default();
    let tx = TxEip1559 {
        chain_id: node.spec().chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: u128::try_from(max_fee).map_err(|_| invalid("maxFeePerGas: too large"))?,
        max_priority_fee_per_gas: u128::try_from(request.max_priority_fee_per_gas.unwrap_or_default())
            .map_err(|_| invalid("maxPriorityFeePerGas: too large"))?,
        to: request.to.map_or(TxKind::Create, TxKind::Call),
        value: request.value.unwrap_or_default(),
        access_list: Default::default(),
        input: Bytes::copy_from_slice(request.data()),
    };
    let (signature, recovery) = key
        .sign_prehash_recoverable(tx.signature_hash().as_slice())
        .map_err(|failure| error(codes::SERVER_ERROR, format!("signing failed: {failure}")))?;
    let signed = tx.into_signed(alloy_primitives::Signature::from_signature_and_parity(signature, recovery.is_y_odd()));
    let raw = TxEnvelope::from(signed).encoded_2718();
    node.submit_ethereum(raw).map_err(submit_error)
}

/// Every Ethereum method name, for `rpc_methods`.
pub const METHODS: &[&str] = &[
    "web3_clientVersion",
    "net_version",
    "net_listening",
    "eth_chainId",
    "eth_syncing",
    "eth_blockNumber",
    "eth_accounts",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_call",
    "eth_estimateGas",
    "eth_sendRawTransaction",
    "eth_sendTransaction",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getLogs",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "eth_subscribe",
    "eth_unsubscribe",
];

/// Builds the Ethereum RPC module.
pub fn module(context: EthContext) -> Result<RpcModule<EthContext>, jsonrpsee::core::RegisterMethodError> {
    let mut module = RpcModule::new(context);

    module.register_method("web3_clientVersion", |_, _, _| format!("pvm-node/v{}", env!("CARGO_PKG_VERSION")))?;
    module.register_method("net_version", |_, context, _| context.node.spec().chain_id.to_string())?;
    module.register_method("net_listening", |_, _, _| true)?;
    module.register_method("eth_chainId", |_, context, _| q(context.node.spec().chain_id))?;
    module.register_method("eth_syncing", |_, _, _| false)?;
    module.register_method("eth_blockNumber", |_, context, _| q(context.node.best_header().number))?;
    module.register_method("eth_accounts", |_, context, _| {
        context.dev_keys.iter().map(|key| Address::from_private_key(key).to_string().to_lowercase()).collect::<Vec<_>>()
    })?;
    module.register_method("eth_gasPrice", |_, _, _| "0x0")?;
    module.register_method("eth_maxPriorityFeePerGas", |_, _, _| "0x0")?;

    module.register_method("eth_getBalance", |params: Params, context, _| {
        let address = parse_address(
            "address",
            &param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        )?;
        let account = account_at(&context.node, &address, param(&params, 1)?.as_ref())?;
        Ok::<_, ErrorObjectOwned>(q(account.balance))
    })?;
    module.register_method(
        "eth_getTransactionCount",
        |params: Params, context, _| -> Result<String, ErrorObjectOwned> {
            let address = parse_address(
                "address",
                &param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            )?;
            let block = param(&params, 1)?;
            if block.as_ref().and_then(Value::as_str) == Some("pending") {
                return Ok(q(context.node.next_nonce(&address).map_err(internal)?));
            }
            let account = account_at(&context.node, &address, block.as_ref())?;
            Ok::<_, ErrorObjectOwned>(q(account.nonce))
        },
    )?;
    module.register_method("eth_getCode", |params: Params, context, _| {
        let address = parse_address(
            "address",
            &param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        )?;
        let account = account_at(&context.node, &address, param(&params, 1)?.as_ref())?;
        let code = match account.contract {
            Some(contract) => context.node.code(&contract.code_hash).map_err(internal)?.unwrap_or_default(),
            None => Vec::new(),
        };
        Ok::<_, ErrorObjectOwned>(hex0x(&code))
    })?;
    module.register_method("eth_getStorageAt", |params: Params, context, _| {
        let address = parse_address(
            "address",
            &param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        )?;
        let slot_text = param(&params, 1)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let slot: U256 = slot_text.parse().map_err(|_| invalid("slot: expected a 0x quantity or 32 bytes"))?;
        let number =
            block_number(&context.node, param(&params, 2)?.as_ref())?.ok_or_else(|| invalid("block not found"))?;
        let key = StorageKey::Fixed(slot.to_be_bytes::<32>());
        let value = context.node.storage_at(number, &address, &key).map_err(internal)?.flatten().unwrap_or_default();
        let mut word = [0u8; 32];
        let length = value.len().min(32);
        word[32 - length..].copy_from_slice(&value[value.len() - length..]);
        Ok::<_, ErrorObjectOwned>(hex0x(&word))
    })?;

    module.register_blocking_method("eth_call", |params: Params, context, _| {
        let result = dry_run_params(&context.node, &params)?;
        Ok::<_, ErrorObjectOwned>(hex0x(&result.call.output))
    })?;
    module.register_blocking_method("eth_estimateGas", |params: Params, context, _| {
        let result = dry_run_params(&context.node, &params)?;
        Ok::<_, ErrorObjectOwned>(q(estimate_from(result.call.gas_used)))
    })?;
    module.register_method("eth_sendRawTransaction", |params: Params, context, _| {
        let text: String = params.one()?;
        let raw = alloy_primitives::hex::decode(&text).map_err(|_| invalid("transaction: expected 0x hex"))?;
        context.node.submit_ethereum(raw).map(|hash| format!("{hash:?}")).map_err(submit_error)
    })?;
    module.register_blocking_method("eth_sendTransaction", |params: Params, context, _| {
        let request: CallRequest = serde_json::from_value(param(&params, 0)?.unwrap_or_default())
            .map_err(|failure| invalid(format!("transaction: {failure}")))?;
        send_transaction(&context, request).map(|hash| format!("{hash:?}"))
    })?;

    module.register_method("eth_getTransactionByHash", |params: Params, context, _| {
        let tx_hash = parse_h256("hash", &params.one::<String>()?)?;
        let chain_id = context.node.spec().chain_id;
        // Included, or else still waiting in the pool (then without block fields).
        let found = context.node.eth_transaction(&tx_hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(match found {
            Some((block, included)) => {
                Some(transaction_json(Some((&block, included.eth_index)), &included.tx, chain_id))
            }
            None => context.node.pending_transaction(&tx_hash).map(|tx| transaction_json(None, &tx, chain_id)),
        })
    })?;
    module.register_method("eth_getTransactionReceipt", |params: Params, context, _| {
        let tx_hash = parse_h256("hash", &params.one::<String>()?)?;
        let found = context.node.eth_transaction(&tx_hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(found.map(|(block, included)| receipt_json(&block, &included)))
    })?;
    module.register_method(
        "eth_getBlockByNumber",
        |params: Params, context, _| -> Result<Value, ErrorObjectOwned> {
            let full = param(&params, 1)?.and_then(|value| value.as_bool()).unwrap_or(false);
            let Some(number) = block_number(&context.node, param(&params, 0)?.as_ref())? else {
                return Ok(Value::Null);
            };
            match context.node.block(number).map_err(internal)? {
                Some(block) => block_json(&context.node, &block, full),
                None => Ok(Value::Null),
            }
        },
    )?;
    module.register_method("eth_getBlockByHash", |params: Params, context, _| -> Result<Value, ErrorObjectOwned> {
        let text = param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let full = param(&params, 1)?.and_then(|value| value.as_bool()).unwrap_or(false);
        match context.node.block_by_hash(&parse_h256("hash", &text)?).map_err(internal)? {
            Some(block) => block_json(&context.node, &block, full),
            None => Ok(Value::Null),
        }
    })?;
    module.register_method(
        "eth_getBlockTransactionCountByNumber",
        |params: Params, context, _| -> Result<Value, ErrorObjectOwned> {
            let Some(number) = block_number(&context.node, param(&params, 0)?.as_ref())? else {
                return Ok(Value::Null);
            };
            match context.node.block(number).map_err(internal)? {
                Some(block) => Ok(json!(q(context.node.eth_transactions(&block).map_err(internal)?.len()))),
                None => Ok(Value::Null),
            }
        },
    )?;
    module.register_method(
        "eth_getBlockTransactionCountByHash",
        |params: Params, context, _| -> Result<Value, ErrorObjectOwned> {
            let text = param(&params, 0)?.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            match context.node.block_by_hash(&parse_h256("hash", &text)?).map_err(internal)? {
                Some(block) => Ok(json!(q(context.node.eth_transactions(&block).map_err(internal)?.len()))),
                None => Ok(Value::Null),
            }
        },
    )?;
    module.register_blocking_method("eth_getLogs", |params: Params, context, _| {
        let filter: LogFilter = serde_json::from_value(param(&params, 0)?.unwrap_or_default())
            .map_err(|failure| invalid(format!("filter: {failure}")))?;
        get_logs(&context.node, filter)
    })?;
    module.register_method("eth_newFilter", |params: Params, context, _| {
        let filter: LogFilter = serde_json::from_value(param(&params, 0)?.unwrap_or_default())
            .map_err(|failure| invalid(format!("filter: {failure}")))?;
        let selection = LogSelection::parse(&filter)?;
        let best = context.node.best_header().number;
        // Without `fromBlock`, or with a tag for the head, the filter starts after the
        // blocks sealed so far.
        let from = match &filter.from_block {
            None => best + 1,
            Some(Value::String(tag)) if matches!(tag.as_str(), "latest" | "pending" | "safe" | "finalized") => best + 1,
            Some(value) => block_number(&context.node, Some(value))?.unwrap_or(best + 1),
        };
        let to = match &filter.to_block {
            None => None,
            Some(Value::String(tag)) if matches!(tag.as_str(), "latest" | "pending" | "safe" | "finalized") => None,
            Some(value) => Some(match block_number(&context.node, Some(value))? {
                Some(number) => number,
                None => parse_quantity("toBlock", value.as_str().unwrap_or_default())?,
            }),
        };
        install_filter(context, FilterKind::Logs { selection, from, to })
    })?;
    module.register_method("eth_newBlockFilter", |_, context, _| install_filter(context, FilterKind::Blocks))?;
    module.register_blocking_method("eth_getFilterChanges", |params: Params, context, _| {
        filter_changes(&context, filter_id(&params)?)
    })?;
    module.register_blocking_method("eth_getFilterLogs", |params: Params, context, _| {
        let id = filter_id(&params)?;
        let kind = {
            let mut filters = context.filters.lock();
            let filter = filters.installed.get_mut(&id).ok_or_else(filter_not_found)?;
            filter.last_polled = Instant::now();
            filter.kind.clone()
        };
        match kind {
            FilterKind::Logs { selection, from, to } => {
                let best = context.node.best_header().number;
                scan_logs(&context.node, &selection, from, to.map_or(best, |to| to.min(best)))
            }
            FilterKind::Blocks => Err(invalid("eth_getFilterLogs: the filter is a block filter, not a log filter")),
        }
    })?;
    module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, context, _| async move {
            let subscription = match Subscription::parse(&params) {
                Ok(subscription) => subscription,
                Err(refusal) => {
                    pending.reject(refusal).await;
                    return Ok(());
                }
            };
            let sink = pending.accept().await.map_err(|failure| failure.to_string())?;
            let mut next = context.node.best_header().number + 1;
            loop {
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    _ = tokio::time::sleep(SUBSCRIPTION_POLL) => {}
                }
                let best = context.node.best_header().number;
                for number in next..=best {
                    let notifications =
                        subscription.notifications(&context.node, number).map_err(|failure| failure.to_string())?;
                    for notification in notifications {
                        let raw =
                            serde_json::value::to_raw_value(&notification).map_err(|failure| failure.to_string())?;
                        sink.send(raw).await.map_err(|failure| failure.to_string())?;
                    }
                }
                next = next.max(best + 1);
            }
        },
    )?;
    module.register_method("eth_uninstallFilter", |params: Params, context, _| {
        let id = filter_id(&params)?;
        Ok::<_, ErrorObjectOwned>(context.filters.lock().installed.remove(&id).is_some())
    })?;
    module.register_blocking_method(
        "eth_feeHistory",
        |params: Params, context, _| -> Result<Value, ErrorObjectOwned> {
            let count = match param(&params, 0)? {
                Some(Value::Number(number)) => {
                    number.as_u64().ok_or_else(|| invalid("blockCount: expected a count"))?
                }
                Some(Value::String(text)) => parse_quantity("blockCount", &text)?,
                _ => return Err(invalid("blockCount: required")),
            };
            let newest = block_number(&context.node, param(&params, 1)?.as_ref())?
                .ok_or_else(|| invalid("newestBlock: not found"))?;
            let percentiles = match param(&params, 2)? {
                Some(Value::Array(items)) => items.len(),
                _ => 0,
            };
            let count = count.clamp(1, MAX_FEE_HISTORY_BLOCKS).min(newest + 1);
            let oldest = newest + 1 - count;
            let block_gas_limit = (context.node.spec().gas.per_block / ETH_GAS_RATIO).max(1) as f64;
            let mut ratios = Vec::new();
            for number in oldest..=newest {
                let used = match context.node.block(number).map_err(internal)? {
                    Some(block) => context
                        .node
                        .eth_transactions(&block)
                        .map_err(internal)?
                        .last()
                        .map_or(0, |tx| tx.cumulative_eth_gas),
                    None => 0,
                };
                ratios.push(used as f64 / block_gas_limit);
            }
            let mut history = json!({
                "oldestBlock": q(oldest),
                "baseFeePerGas": vec!["0x0"; count as usize + 1],
                "gasUsedRatio": ratios,
            });
            if percentiles > 0 {
                history["reward"] = json!(vec![vec!["0x0"; percentiles]; count as usize]);
            }
            Ok(history)
        },
    )?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_give_the_hardhat_addresses() {
        let addresses: Vec<String> =
            dev_keys().iter().map(|key| Address::from_private_key(key).to_string().to_lowercase()).collect();
        assert_eq!(addresses, DEV_ADDRESSES);
        assert_eq!(DEV_ADDRESSES[0], "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".to_lowercase());
    }

    #[test]
    fn estimates_cover_what_was_used() {
        assert_eq!(estimate_from(0), 1);
        assert_eq!(estimate_from(1_000), 2);
        assert!(estimate_from(1_000_000) * ETH_GAS_RATIO >= 1_250_000);
    }
}
