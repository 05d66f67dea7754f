//! JSON-RPC over HTTP and WebSocket (one port). Substrate's method names and shapes for
//! `system_*`, `chain_*` and `author_*`; `contracts_*` for contract queries and dry runs.
//! Every method is listed, with parameters and results, in `node-example/README.md`.
//!
//! Data is 0x hex; balances are decimal strings (they exceed JSON's safe integers); gas
//! and nonces are JSON numbers. Every bad request gets a JSON-RPC error with a code and a
//! message; no request can stop the node.

use crate::chain::keys;
use crate::chain::node::{CodeSource, DryRun, Node, SubmitError};
use crate::chain::primitives::{ContractEvent, Outcome, Receipt, H160, H256};
use crate::chain::store::{Block, Header, StoreError};
use crate::client::abi;
use crate::runtime::host::StorageKey;
use crate::server::body_deadline::{BodyDeadlineLayer, REQUEST_BODY_DEADLINE};
use crate::server::eth;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use parity_scale_codec::Encode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// Error codes (JSON-RPC's own below -32000; Substrate's author codes for transactions).
pub mod codes {
    /// Malformed parameters.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Storage failure inside the node.
    pub const INTERNAL: i32 = -32603;
    /// The extrinsic bytes do not decode (Substrate: "Extrinsic has invalid format").
    pub const BAD_FORMAT: i32 = 1001;
    /// The transaction is invalid (signature, nonce, gas limit) (Substrate: 1010).
    pub const INVALID_TRANSACTION: i32 = 1010;
    /// Already in the pool (Substrate: "Transaction Already Imported").
    pub const ALREADY_IMPORTED: i32 = 1013;
    /// The pool is full (Substrate: "Immediately Dropped").
    pub const POOL_FULL: i32 = 1016;
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

fn internal(store_error: StoreError) -> ErrorObjectOwned {
    tracing::error!(target: "pvm_node::server::rpc", "storage error: {store_error}");
    error(codes::INTERNAL, store_error.to_string())
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_bytes(field: &str, text: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let digits = text.strip_prefix("0x").ok_or_else(|| invalid(format!("{field}: expected 0x-prefixed hex")))?;
    hex::decode(digits).map_err(|err| invalid(format!("{field}: bad hex: {err}")))
}

fn parse_h256(field: &str, text: &str) -> Result<H256, ErrorObjectOwned> {
    let bytes = parse_bytes(field, text)?;
    if bytes.len() != 32 {
        return Err(invalid(format!("{field}: expected 32 bytes, got {}", bytes.len())));
    }
    Ok(H256::from_slice(&bytes))
}

/// An account given as an H160 (0x + 40 hex digits) or an SS58 sr25519 address.
fn parse_account(field: &str, text: &str) -> Result<H160, ErrorObjectOwned> {
    if text.starts_with("0x") {
        keys::parse_h160(text).map_err(|err| invalid(format!("{field}: {err}")))
    } else {
        keys::address_of_ss58(text).map_err(|err| invalid(format!("{field}: {err}")))
    }
}

fn parse_balance(field: &str, value: &Value) -> Result<u128, ErrorObjectOwned> {
    match value {
        Value::Null => Ok(0),
        Value::Number(number) => {
            number.as_u64().map(u128::from).ok_or_else(|| invalid(format!("{field}: expected a non-negative integer")))
        }
        Value::String(text) => {
            text.parse().map_err(|_| invalid(format!("{field}: `{text}` is not a non-negative integer below 2^128")))
        }
        _ => Err(invalid(format!("{field}: expected a decimal string or an integer"))),
    }
}

/// A block number given as a JSON number or a hex / decimal string.
fn parse_number(field: &str, value: &Value) -> Result<u64, ErrorObjectOwned> {
    match value {
        Value::Number(number) => number.as_u64().ok_or_else(|| invalid(format!("{field}: expected a block number"))),
        Value::String(text) => match text.strip_prefix("0x") {
            Some(digits) => u64::from_str_radix(digits, 16).map_err(|_| invalid(format!("{field}: bad hex number"))),
            None => text.parse().map_err(|_| invalid(format!("{field}: bad number"))),
        },
        _ => Err(invalid(format!("{field}: expected a block number"))),
    }
}

/// Header in Substrate's JSON shape.
pub fn header_json(header: &Header) -> Value {
    json!({
        "parentHash": format!("{:?}", header.parent_hash),
        "number": format!("{:#x}", header.number),
        "stateRoot": format!("{:?}", header.state_root),
        "extrinsicsRoot": format!("{:?}", header.extrinsics_root),
        "digest": { "logs": header.digest.iter().map(|item| hex0x(&item.encode())).collect::<Vec<_>>() },
    })
}

fn block_json(block: &Block) -> Value {
    json!({
        "block": {
            "header": header_json(&block.header),
            "extrinsics": block.extrinsics.iter().map(|extrinsic| hex0x(extrinsic)).collect::<Vec<_>>(),
        },
        "justifications": null,
    })
}

fn event_json(event: &ContractEvent) -> Value {
    json!({
        "address": format!("{:?}", event.address),
        "topics": event.topics.iter().map(|topic| format!("{topic:?}")).collect::<Vec<_>>(),
        "data": hex0x(&event.data),
    })
}

/// A receipt's status as the RPC reports it: status, whether reverted, the failure's kind
/// and message.
fn outcome_fields(outcome: &Outcome) -> (&'static str, bool, Option<&'static str>, Option<String>) {
    match outcome {
        Outcome::Success => ("success", false, None, None),
        Outcome::Reverted => ("reverted", true, None, None),
        Outcome::Failed { kind, message } => ("failed", false, Some(kind.as_str()), Some(message.clone())),
    }
}

/// Dry-run result as JSON: the status rendered as a receipt records it.
pub fn dry_run_json(result: &DryRun) -> Value {
    let (status, reverted, error_kind, error_message) = outcome_fields(&Outcome::from(&result.call.status));
    json!({
        "status": status,
        "reverted": reverted,
        "error": error_message,
        "errorKind": error_kind,
        "output": hex0x(&result.call.output),
        "gasUsed": result.call.gas_used,
        "events": result.events.iter().map(event_json).collect::<Vec<_>>(),
        "address": result.call.address.map(|address| format!("{address:?}")),
        "codeHash": result.code_hash.map(|hash| format!("{hash:?}")),
    })
}

/// Receipt as JSON.
pub fn receipt_json(receipt: &Receipt) -> Value {
    let (status, reverted, error_kind, error_message) = outcome_fields(&receipt.outcome);
    json!({
        "txHash": format!("{:?}", receipt.tx_hash),
        "blockNumber": receipt.block_number,
        "blockHash": format!("{:?}", receipt.block_hash),
        "index": receipt.index,
        "from": format!("{:?}", receipt.from),
        "nonce": receipt.nonce,
        "status": status,
        "reverted": reverted,
        "error": error_message,
        "errorKind": error_kind,
        "gasUsed": receipt.gas_used,
        "gasLimit": receipt.gas_limit,
        "output": hex0x(&receipt.output),
        "contractAddress": receipt.contract_address.map(|address| format!("{address:?}")),
        "codeHash": receipt.code_hash.map(|hash| format!("{hash:?}")),
        "events": receipt.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DryRunCallRequest {
    origin: String,
    dest: String,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    gas_limit: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DryRunInstantiateRequest {
    origin: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    code_hash: Option<String>,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    gas_limit: Option<u64>,
}

/// Which block a `chain_*` method asks about: the best one when absent.
fn resolve_block(node: &Node, hash: Option<String>) -> Result<Option<Block>, ErrorObjectOwned> {
    match hash {
        None => {
            let best = node.best_header();
            node.block(best.number).map_err(internal)
        }
        Some(text) => {
            let hash = parse_h256("hash", &text)?;
            node.block_by_hash(&hash).map_err(internal)
        }
    }
}

/// Every method name, for `rpc_methods`.
pub const METHODS: &[&str] = &[
    "system_name",
    "system_version",
    "system_chain",
    "system_chainType",
    "system_properties",
    "system_health",
    "system_accountNextIndex",
    "chain_getBlockHash",
    "chain_getHeader",
    "chain_getBlock",
    "chain_getFinalizedHead",
    "author_submitExtrinsic",
    "author_pendingExtrinsics",
    "contracts_dryRunCall",
    "contracts_dryRunInstantiate",
    "contracts_getStorage",
    "contracts_getReceipt",
    "contracts_getAccount",
    "contracts_getCode",
    "contracts_cacheStats",
    "rpc_methods",
];

/// Builds the RPC module over `node`.
pub fn module(node: Arc<Node>) -> Result<RpcModule<Arc<Node>>, jsonrpsee::core::RegisterMethodError> {
    let mut module = RpcModule::new(node);

    module.register_method("system_name", |_, _, _| "pvm-node")?;
    module.register_method("system_version", |_, _, _| env!("CARGO_PKG_VERSION"))?;
    module.register_method("system_chain", |_, node, _| node.spec().name.clone())?;
    module.register_method("system_chainType", |_, node, _| node.spec().chain_type.clone())?;
    module.register_method("system_properties", |_, node, _| Value::Object(node.spec().properties.clone()))?;
    module.register_method(
        "system_health",
        |_, _, _| json!({ "peers": 0, "isSyncing": false, "shouldHavePeers": false }),
    )?;
    module.register_method("system_accountNextIndex", |params: Params, node, _| {
        let account: String = params.one()?;
        let address = parse_account("account", &account)?;
        node.next_nonce(&address).map_err(internal)
    })?;

    module.register_method("chain_getBlockHash", |params: Params, node, _| {
        let number: Option<Value> = params.sequence().optional_next()?;
        let number = match number {
            None | Some(Value::Null) => node.best_header().number,
            Some(value) => parse_number("number", &value)?,
        };
        let block = node.block(number).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(block.map(|block| format!("{:?}", block.header.hash())))
    })?;
    module.register_method("chain_getFinalizedHead", |_, node, _| format!("{:?}", node.best_header().hash()))?;
    module.register_method("chain_getHeader", |params: Params, node, _| {
        let hash: Option<String> = params.sequence().optional_next()?;
        Ok::<_, ErrorObjectOwned>(resolve_block(node, hash)?.map(|block| header_json(&block.header)))
    })?;
    module.register_method("chain_getBlock", |params: Params, node, _| {
        let hash: Option<String> = params.sequence().optional_next()?;
        Ok::<_, ErrorObjectOwned>(resolve_block(node, hash)?.map(|block| block_json(&block)))
    })?;

    module.register_method("author_submitExtrinsic", |params: Params, node, _| {
        let text: String = params.one()?;
        let bytes = parse_bytes("extrinsic", &text)?;
        match node.submit(bytes) {
            Ok(hash) => Ok(format!("{hash:?}")),
            Err(SubmitError::Decode(err)) => Err(error(codes::BAD_FORMAT, err.to_string())),
            Err(SubmitError::Ethereum(err)) => Err(error(codes::BAD_FORMAT, err.to_string())),
            Err(SubmitError::Invalid(err)) => {
                Err(error(codes::INVALID_TRANSACTION, format!("Invalid Transaction: {err}")))
            }
            Err(SubmitError::AlreadyImported) => Err(error(codes::ALREADY_IMPORTED, "Transaction Already Imported")),
            Err(SubmitError::PoolFull) => Err(error(codes::POOL_FULL, "transaction pool is full")),
            Err(SubmitError::Store(err)) => Err(internal(err)),
        }
    })?;
    module.register_method("author_pendingExtrinsics", |_, node, _| {
        node.pending_extrinsics().iter().map(|bytes| hex0x(bytes)).collect::<Vec<_>>()
    })?;

    module.register_blocking_method("contracts_dryRunCall", |params: Params, node, _| {
        let request: DryRunCallRequest = params.one()?;
        let origin = parse_account("origin", &request.origin)?;
        let dest = parse_account("dest", &request.dest)?;
        let value = parse_balance("value", &request.value)?;
        let input = match request.input {
            Some(text) => parse_bytes("input", &text)?,
            None => Vec::new(),
        };
        let result = node.dry_run_call(origin, dest, value, input, request.gas_limit).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(dry_run_json(&result))
    })?;
    module.register_blocking_method("contracts_dryRunInstantiate", |params: Params, node, _| {
        let request: DryRunInstantiateRequest = params.one()?;
        let origin = parse_account("origin", &request.origin)?;
        let code = match (request.code, request.code_hash) {
            (Some(code), None) => CodeSource::Blob(parse_bytes("code", &code)?),
            (None, Some(hash)) => CodeSource::Hash(parse_h256("codeHash", &hash)?),
            _ => return Err(invalid("give exactly one of code and codeHash")),
        };
        let value = parse_balance("value", &request.value)?;
        let input = match request.input {
            Some(text) => parse_bytes("input", &text)?,
            None => Vec::new(),
        };
        let salt = match request.salt {
            Some(text) => Some(parse_h256("salt", &text)?.0),
            None => None,
        };
        let result = node.dry_run_instantiate(origin, code, value, input, salt, request.gas_limit).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(dry_run_json(&result))
    })?;
    module.register_method("contracts_getStorage", |params: Params, node, _| {
        let (address, key): (String, String) = params.parse()?;
        let address = parse_account("address", &address)?;
        let key = StorageKey::Fixed(parse_h256("key", &key)?.0);
        let value = node.storage(&address, &key).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(value.map(|value| hex0x(&value)))
    })?;
    module.register_method("contracts_getReceipt", |params: Params, node, _| {
        let hash: String = params.one()?;
        let hash = parse_h256("txHash", &hash)?;
        let receipt = node.receipt(&hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(receipt.as_ref().map(receipt_json))
    })?;
    module.register_method("contracts_getAccount", |params: Params, node, _| {
        let account: String = params.one()?;
        let address = parse_account("address", &account)?;
        let info = node.account(&address).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(json!({
            "address": format!("{address:?}"),
            "nonce": info.nonce,
            "balance": info.balance.to_string(),
            "codeHash": info.contract.as_ref().map(|contract| format!("{:?}", contract.code_hash)),
        }))
    })?;
    module.register_method("contracts_getCode", |params: Params, node, _| {
        let hash: String = params.one()?;
        let hash = parse_h256("codeHash", &hash)?;
        let code = node.code(&hash).map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(code.map(|code| hex0x(&code)))
    })?;
    module.register_method("contracts_cacheStats", |_, node, _| Ok::<_, ErrorObjectOwned>(node.cache_stats()))?;
    module.register_method("rpc_methods", |_, _, _| {
        let methods: Vec<&str> = METHODS.iter().chain(eth::METHODS).copied().collect();
        json!({ "methods": methods })
    })?;
    Ok(module)
}

/// The node's whole RPC: its own methods and the Ethereum ones (see [`eth`]), with
/// `dev_keys` for `eth_accounts` / `eth_sendTransaction` (empty unless `--dev`).
pub fn full_module(
    node: Arc<Node>,
    dev_keys: Vec<k256::ecdsa::SigningKey>,
) -> Result<RpcModule<()>, jsonrpsee::core::RegisterMethodError> {
    let mut all = RpcModule::new(());
    all.merge(module(node.clone())?)?;
    all.merge(eth::module(eth::EthContext::new(node, dev_keys))?)?;
    Ok(all)
}

/// Starts the server on `address` with every method and no dev keys; HTTP and WebSocket
/// share the port.
pub async fn start(node: Arc<Node>, address: SocketAddr) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let module = full_module(node, Vec::new()).map_err(|err| std::io::Error::other(err.to_string()))?;
    serve(module, address).await
}

/// The largest request body, in bytes.
pub const MAX_REQUEST_BODY: u32 = 8 * 1024 * 1024;

/// The most requests one batch may hold (geth's default): a larger batch gets one error and
/// runs nothing, so a single HTTP request cannot queue unbounded work.
pub const MAX_BATCH_LEN: u32 = 1_000;

/// Serves `module` on `address` (HTTP and WebSocket on one port), with the request size and
/// batch limits above, and every request body read whole within
/// [`REQUEST_BODY_DEADLINE`](crate::server::body_deadline::REQUEST_BODY_DEADLINE) before the
/// server counts the request (slow-loris protection: see [`crate::server::body_deadline`]).
pub async fn serve(module: RpcModule<()>, address: SocketAddr) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH_LEN))
        .build();
    let bodies = BodyDeadlineLayer { deadline: REQUEST_BODY_DEADLINE, max_body: MAX_REQUEST_BODY };
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(bodies))
        .build(address)
        .await?;
    let local = server.local_addr()?;
    Ok((local, server.start(module)))
}

/// Formats decoded ABI values for display (used by the client).
pub fn format_values(values: &[alloy_dyn_abi::DynSolValue]) -> Vec<String> {
    values.iter().map(abi::format_value).collect()
}
