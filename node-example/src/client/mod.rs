//! `pvm-node client`: keys, signed transactions and dry runs against a running node, with
//! Solidity ABI encoding and decoding through alloy.

pub mod abi;

use self::abi::{AbiError, Signature};
use crate::chain::keys::{self, KeyError};
use crate::chain::primitives::{account_to_address, H160, H256};
use crate::chain::tx::{Call, SignedTransaction, TransactionPayload};
use alloy_json_abi::JsonAbi;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;
use sp_core::{sr25519, Pair};
use std::path::Path;
use std::time::{Duration, Instant};

/// Gas limit used when `--gas` is not given.
pub const DEFAULT_GAS: u64 = 2_000_000_000;

/// How long to wait for a transaction's receipt.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Key or address problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// ABI problem.
    #[error(transparent)]
    Abi(#[from] AbiError),
    /// The node answered with an error or could not be reached.
    #[error("rpc: {0}")]
    Rpc(String),
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The node's answer is not what the client expects.
    #[error("unexpected answer from the node: {0}")]
    Unexpected(String),
    /// No receipt in time.
    #[error("transaction {0:?} was not included within {RECEIPT_TIMEOUT:?}")]
    Timeout(H256),
    /// The transaction or dry run did not succeed.
    #[error("{0}")]
    Failed(String),
}

impl From<jsonrpsee::core::ClientError> for ClientError {
    fn from(error: jsonrpsee::core::ClientError) -> Self {
        ClientError::Rpc(error.to_string())
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|error| ClientError::File { path: path.display().to_string(), message: error.to_string() })
}

/// Reads an ABI JSON file.
pub fn read_abi(path: &Path) -> Result<JsonAbi, ClientError> {
    let text = String::from_utf8(read_file(path)?)
        .map_err(|_| ClientError::File { path: path.display().to_string(), message: "not UTF-8".into() })?;
    Ok(abi::parse_abi_json(&text)?)
}

/// Connects to a node's HTTP JSON-RPC endpoint.
pub fn connect(url: &str) -> Result<HttpClient, ClientError> {
    HttpClientBuilder::default()
        .max_request_size(8 * 1024 * 1024)
        .request_timeout(Duration::from_secs(120))
        .build(url)
        .map_err(|error| ClientError::Rpc(format!("cannot use {url}: {error}")))
}

/// `client address`: the H160 and SS58 addresses of a secret URI.
pub fn address_lines(suri: &str) -> Result<Vec<String>, ClientError> {
    let pair = keys::pair_from_suri(suri)?;
    let public = pair.public();
    Ok(vec![format!("H160: {:?}", account_to_address(&public.0)), format!("SS58: {}", keys::ss58_of(&public, 42))])
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, ClientError> {
    value.get(name).ok_or_else(|| ClientError::Unexpected(format!("missing `{name}` in {value}")))
}

fn field_str<'a>(value: &'a Value, name: &str) -> Result<&'a str, ClientError> {
    field(value, name)?.as_str().ok_or_else(|| ClientError::Unexpected(format!("`{name}` is not a string")))
}

fn hex_field(value: &Value, name: &str) -> Result<Vec<u8>, ClientError> {
    let text = field_str(value, name)?;
    hex::decode(text.trim_start_matches("0x")).map_err(|_| ClientError::Unexpected(format!("`{name}` is not hex")))
}

/// Signs and submits `call`, then waits for its receipt.
pub async fn submit_and_wait(
    client: &HttpClient,
    pair: &sr25519::Pair,
    call: Call,
    gas_limit: u64,
) -> Result<Value, ClientError> {
    let genesis: Option<String> = client.request("chain_getBlockHash", rpc_params![0]).await?;
    let genesis = genesis.ok_or_else(|| ClientError::Unexpected("node has no genesis block".into()))?;
    let genesis = H256::from_slice(
        &hex::decode(genesis.trim_start_matches("0x"))
            .map_err(|_| ClientError::Unexpected("bad genesis hash".into()))?,
    );
    let sender = account_to_address(&pair.public().0);
    let nonce: u64 = client.request("system_accountNextIndex", rpc_params![format!("{sender:?}")]).await?;
    let tx = SignedTransaction::sign(pair, &genesis, TransactionPayload { nonce, gas_limit, call });
    let hash: String = client.request("author_submitExtrinsic", rpc_params![hex0x(&tx.to_extrinsic())]).await?;
    let tx_hash = H256::from_slice(
        &hex::decode(hash.trim_start_matches("0x"))
            .map_err(|_| ClientError::Unexpected("bad transaction hash".into()))?,
    );
    let started = Instant::now();
    loop {
        let receipt: Option<Value> = client.request("contracts_getReceipt", rpc_params![hash.clone()]).await?;
        if let Some(receipt) = receipt {
            return Ok(receipt);
        }
        if started.elapsed() > RECEIPT_TIMEOUT {
            return Err(ClientError::Timeout(tx_hash));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Explains a receipt or dry run that did not succeed.
fn failure(result: &Value, abi: Option<&JsonAbi>) -> Result<Option<String>, ClientError> {
    match field_str(result, "status")? {
        "success" => Ok(None),
        "reverted" => Ok(Some(format!("reverted: {}", abi::describe_revert(&hex_field(result, "output")?, abi)))),
        _ => Ok(Some(format!("failed: {}", result.get("error").and_then(Value::as_str).unwrap_or("unknown error")))),
    }
}

/// `client upload`: prints the code hash.
pub async fn upload(url: &str, suri: &str, code: &Path, gas: u64) -> Result<Vec<String>, ClientError> {
    let pair = keys::pair_from_suri(suri)?;
    let client = connect(url)?;
    let code = read_file(code)?;
    let receipt = submit_and_wait(&client, &pair, Call::UploadCode { code }, gas).await?;
    if let Some(reason) = failure(&receipt, None)? {
        return Err(ClientError::Failed(format!("upload {reason}")));
    }
    Ok(vec![format!("code hash: {}", field_str(&receipt, "codeHash")?)])
}

/// `client deploy`: prints the contract address and gas used.
#[allow(clippy::too_many_arguments)]
pub async fn deploy(
    url: &str,
    suri: &str,
    code: &Path,
    constructor: Option<&str>,
    args: &[String],
    value: u128,
    gas: u64,
    salt: Option<[u8; 32]>,
) -> Result<Vec<String>, ClientError> {
    let pair = keys::pair_from_suri(suri)?;
    let data = match constructor {
        Some(signature) => abi::encode_constructor(signature, args)?,
        None if args.is_empty() => Vec::new(),
        None => {
            return Err(ClientError::Failed("constructor arguments need --constructor 'constructor(types)'".into()))
        }
    };
    let client = connect(url)?;
    let code = read_file(code)?;
    let receipt = submit_and_wait(&client, &pair, Call::InstantiateWithCode { code, value, data, salt }, gas).await?;
    if let Some(reason) = failure(&receipt, None)? {
        return Err(ClientError::Failed(format!("deploy {reason} (gas used {})", field(&receipt, "gasUsed")?)));
    }
    Ok(vec![
        format!("address: {}", field_str(&receipt, "contractAddress")?),
        format!("gas used: {}", field(&receipt, "gasUsed")?),
        format!("block: {}", field(&receipt, "blockNumber")?),
        format!("code hash: {}", field_str(&receipt, "codeHash")?),
    ])
}

fn event_lines(result: &Value, abi: Option<&JsonAbi>) -> Result<Vec<String>, ClientError> {
    let events = field(result, "events")?.as_array().cloned().unwrap_or_default();
    let mut lines = Vec::new();
    for event in events {
        let topics: Vec<[u8; 32]> = field(&event, "topics")?
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|topic| topic.as_str())
            .filter_map(|topic| hex::decode(topic.trim_start_matches("0x")).ok())
            .filter_map(|bytes| bytes.try_into().ok())
            .collect();
        let data = hex_field(&event, "data")?;
        let address = field_str(&event, "address")?;
        let decoded = abi.and_then(|abi| abi::describe_event(abi, &topics, &data));
        lines.push(match decoded {
            Some(text) => format!("event {address}: {text}"),
            None => format!(
                "event {address}: topics [{}] data {}",
                topics.iter().map(|topic| hex0x(topic)).collect::<Vec<_>>().join(", "),
                hex0x(&data)
            ),
        });
    }
    Ok(lines)
}

/// `client call`: a signed call; prints the outcome, gas used, block and events.
#[allow(clippy::too_many_arguments)]
pub async fn call(
    url: &str,
    suri: &str,
    to: &str,
    signature: &str,
    args: &[String],
    value: u128,
    gas: u64,
    abi_file: Option<&Path>,
) -> Result<Vec<String>, ClientError> {
    let pair = keys::pair_from_suri(suri)?;
    let dest: H160 = keys::parse_h160(to)?;
    let parsed = Signature::parse(signature)?;
    let data = parsed.encode_call(args)?;
    let abi = abi_file.map(read_abi).transpose()?;
    let client = connect(url)?;
    let receipt = submit_and_wait(&client, &pair, Call::Call { dest, value, data }, gas).await?;
    let mut lines = vec![match failure(&receipt, abi.as_ref())? {
        None => "success".to_string(),
        Some(reason) => reason,
    }];
    lines.push(format!("gas used: {}", field(&receipt, "gasUsed")?));
    lines.push(format!("block: {} ({})", field(&receipt, "blockNumber")?, field_str(&receipt, "blockHash")?));
    lines.push(format!("tx: {}", field_str(&receipt, "txHash")?));
    if field_str(&receipt, "status")? == "success" && !parsed.outputs.is_empty() {
        for value in parsed.decode_output(&hex_field(&receipt, "output")?)? {
            lines.push(format!("output: {}", abi::format_value(&value)));
        }
    }
    lines.extend(event_lines(&receipt, abi.as_ref())?);
    Ok(lines)
}

/// `client query`: a dry-run call; one line per decoded output value.
pub async fn query(
    url: &str,
    from: Option<&str>,
    to: &str,
    signature: &str,
    args: &[String],
    abi_file: Option<&Path>,
) -> Result<Vec<String>, ClientError> {
    let dest = keys::parse_h160(to)?;
    let parsed = Signature::parse(signature)?;
    let data = parsed.encode_call(args)?;
    let abi = abi_file.map(read_abi).transpose()?;
    let origin = match from {
        Some(from) if from.starts_with("//") => keys::address_of_suri(from)?,
        Some(from) => keys::parse_h160(from)?,
        None => keys::address_of_suri("//Alice")?,
    };
    let client = connect(url)?;
    let request = serde_json::json!({
        "origin": format!("{origin:?}"),
        "dest": format!("{dest:?}"),
        "input": hex0x(&data),
    });
    let result: Value = client.request("contracts_dryRunCall", rpc_params![request]).await?;
    if let Some(reason) = failure(&result, abi.as_ref())? {
        return Err(ClientError::Failed(reason));
    }
    let output = hex_field(&result, "output")?;
    if parsed.outputs.is_empty() {
        return Ok(vec![hex0x(&output)]);
    }
    Ok(parsed.decode_output(&output)?.iter().map(abi::format_value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_of_bob() {
        let lines = address_lines("//Bob").unwrap();
        assert_eq!(lines[0], "H160: 0x41dccbd49b26c50d34355ed86ff0fa9e489d1e01");
        assert_eq!(lines[1], "SS58: 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty");
    }
}
