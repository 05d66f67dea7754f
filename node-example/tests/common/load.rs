//! The load generator shared by `tests/load.rs` (a short run in CI) and `benches/load.rs`
//! (the full run, `cargo bench -p pvm-node --bench load`).
//!
//! Against a `--dev` node on loopback: `//Alice` deploys the ERC-20 `Token` and funds
//! `clients` fresh accounts (`//LoadClient<i>`) with balance and tokens; then every client,
//! over its own HTTP connection, sends for `duration` a random mix of signed balance
//! transfers, signed ERC-20 transfers, signed transactions with a stale nonce (which must be
//! refused), ERC-20 transfer dry runs and reads (account, header, contract storage, next
//! nonce), each request timed. Then it waits for the pool to drain and accounts for every
//! submitted transaction: accepted ones must be in a block (found by hash, with a receipt in
//! that block), refused ones must carry the RPC error and be in no block. Last, every block
//! of the chain is replayed in order on a fresh in-process node (`Node::open` on a new base
//! path, the same chain spec, blocks sealed by hand with exactly the original extrinsics) and
//! each block's state root must equal the original's.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use pvm_node::chain::chain_spec::ChainSpec;
use pvm_node::chain::keys::pair_from_suri;
use pvm_node::chain::node::{Node, SubmitError};
use pvm_node::chain::primitives::{account_to_address, H160, H256};
use pvm_node::chain::tx::{extrinsic_hash, Call, SignedTransaction, TransactionPayload, TxError};
use pvm_node::client::abi::Signature;
use serde_json::{json, Value};
use sp_core::{sr25519, Pair};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent clients, each with its own account and HTTP connection.
    pub clients: usize,
    /// Length of the timed phase.
    pub duration: Duration,
    /// Seed of the clients' choices.
    pub seed: u64,
    /// The ERC-20 blob (`testdata/contracts/Token.polkavm`).
    pub token_code: PathBuf,
    /// How the fresh node replays the chain: each original block re-sealed as one block
    /// (every block's state root compared), or, faster, runs of whole blocks of up to
    /// [`REPLAY_CHUNK`] extrinsics sealed together (the state root compared at the end of
    /// each run; the transactions and their order are the same, only the block boundaries
    /// inside a run differ, which none of these transactions can observe).
    pub replay: ReplayMode,
}

/// How the chain is replayed on the fresh node (see [`LoadConfig::replay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    /// Block by block.
    PerBlock,
    /// Runs of whole blocks.
    Chunked,
}

/// Most extrinsics sealed together in a [`ReplayMode::Chunked`] replay (below the pool's
/// limit of 8192).
pub const REPLAY_CHUNK: usize = 4096;

/// One kind of request a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `author_submitExtrinsic`: a balance transfer to another client.
    Transfer,
    /// `author_submitExtrinsic`: an ERC-20 `transfer` of one token to another client.
    TokenTransfer,
    /// `author_submitExtrinsic`: a transfer signed with an already used nonce (must be
    /// refused).
    StaleNonce,
    /// `contracts_dryRunCall`: an ERC-20 `transfer`.
    DryRun,
    /// `contracts_getAccount` of another client.
    ReadAccount,
    /// `chain_getHeader` (the block number).
    ReadHeader,
    /// `contracts_getStorage`: the token's total supply slot.
    ReadStorage,
    /// `system_accountNextIndex` of the client itself.
    ReadNonce,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 8] = [
        Kind::Transfer,
        Kind::TokenTransfer,
        Kind::StaleNonce,
        Kind::DryRun,
        Kind::ReadAccount,
        Kind::ReadHeader,
        Kind::ReadStorage,
        Kind::ReadNonce,
    ];

    /// How the table names it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Transfer => "signed balance transfer (`author_submitExtrinsic`)",
            Kind::TokenTransfer => "signed ERC-20 `transfer` (`author_submitExtrinsic`)",
            Kind::StaleNonce => "signed transfer, stale nonce (`author_submitExtrinsic`)",
            Kind::DryRun => "ERC-20 `transfer` dry run (`contracts_dryRunCall`)",
            Kind::ReadAccount => "`contracts_getAccount`",
            Kind::ReadHeader => "`chain_getHeader`",
            Kind::ReadStorage => "`contracts_getStorage`",
            Kind::ReadNonce => "`system_accountNextIndex`",
        }
    }

    /// Whether the request submits a transaction.
    pub fn is_transaction(self) -> bool {
        matches!(self, Kind::Transfer | Kind::TokenTransfer | Kind::StaleNonce)
    }

    /// Picks a kind from a number in 0..100: 40 % transactions (2 % of all requests with a
    /// stale nonce), 20 % dry runs, 40 % reads.
    fn pick(roll: u64) -> Kind {
        match roll {
            0..=19 => Kind::Transfer,
            20..=37 => Kind::TokenTransfer,
            38..=39 => Kind::StaleNonce,
            40..=59 => Kind::DryRun,
            60..=69 => Kind::ReadAccount,
            70..=79 => Kind::ReadHeader,
            80..=89 => Kind::ReadStorage,
            _ => Kind::ReadNonce,
        }
    }
}

/// A submitted transaction and what the node said.
#[derive(Clone, Debug)]
pub struct Submission {
    /// BLAKE2b-256 of the extrinsic bytes (the node's transaction hash).
    pub hash: H256,
    /// What it was.
    pub kind: Kind,
    /// `Ok` when the node accepted it into the pool, else the RPC error's code and message.
    pub answer: Result<(), (i32, String)>,
}

/// What one client did.
#[derive(Default)]
struct ClientLog {
    latencies: HashMap<Kind, Vec<Duration>>,
    /// Failed requests that are not transactions (dry runs and reads must not fail).
    failures: Vec<String>,
    submissions: Vec<Submission>,
}

/// Where a transaction ended up.
#[derive(Clone, Debug)]
pub struct Inclusion {
    /// Block number.
    pub block: u64,
    /// Receipt status (`success`, `reverted`, `failed`).
    pub status: String,
}

/// Per-kind figures.
#[derive(Clone, Debug, Default)]
pub struct KindFigures {
    /// Requests sent.
    pub count: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Transactions accepted into the pool.
    pub accepted: usize,
    /// Transactions refused by the node.
    pub refused: usize,
    /// Accepted transactions found in a block.
    pub included: usize,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// Clients.
    pub clients: usize,
    /// Timed phase.
    pub duration: Duration,
    /// Requests sent during the timed phase.
    pub requests: usize,
    /// From the end of the timed phase until the pool was empty and every accepted
    /// transaction was in a block.
    pub drain: Duration,
    /// Per kind, in [`Kind::ALL`] order (kinds not sent are left out).
    pub kinds: Vec<(Kind, KindFigures)>,
    /// Every transaction submitted in the timed phase.
    pub submissions: Vec<Submission>,
    /// Where each accepted transaction was included, by hash.
    pub included: HashMap<H256, Inclusion>,
    /// Accepted transactions in no block: must be empty.
    pub unaccounted: Vec<Submission>,
    /// Refused transactions that are nevertheless in a block: must be empty.
    pub refused_but_included: Vec<Submission>,
    /// Transactions in the timed phase's blocks that no client submitted: must be empty.
    pub unknown_included: Vec<H256>,
    /// Dry runs and reads that failed: must be empty.
    pub failures: Vec<String>,
    /// Receipt statuses of the included transactions.
    pub statuses: BTreeMap<String, usize>,
    /// Refusals by `code: message` with the nonces taken out of the message.
    pub refusals: BTreeMap<String, usize>,
    /// From the start until the token was deployed and the clients funded.
    pub setup: Duration,
    /// The replay on a fresh node.
    pub replay: ReplayReport,
}

/// The replay of every block on a fresh node.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    /// Blocks replayed (all after genesis).
    pub blocks: u64,
    /// Blocks the fresh node sealed for them.
    pub sealed: u64,
    /// State roots compared (one per block, or one per run of blocks).
    pub roots_compared: u64,
    /// Extrinsics replayed.
    pub extrinsics: usize,
    /// The original node's best state root.
    pub original_root: H256,
    /// The fresh node's state root after the replay.
    pub replayed_root: H256,
    /// The first block whose state root (or extrinsic count) differed, with both roots.
    pub first_mismatch: Option<String>,
    /// How long the replay took.
    pub elapsed: Duration,
}

impl ReplayReport {
    /// Every block's state root matched.
    pub fn matches(&self) -> bool {
        self.first_mismatch.is_none() && self.original_root == self.replayed_root
    }
}

impl LoadReport {
    /// Every submitted transaction is either in a block or refused with a reason, nothing
    /// else is in the timed phase's blocks, and no dry run or read failed.
    pub fn all_accounted(&self) -> bool {
        self.unaccounted.is_empty()
            && self.refused_but_included.is_empty()
            && self.unknown_included.is_empty()
            && self.failures.is_empty()
            && self.submissions.iter().all(|submission| match &submission.answer {
                Ok(()) => self.included.contains_key(&submission.hash),
                Err((_, message)) => !message.is_empty(),
            })
    }

    /// The figures as Markdown tables.
    pub fn markdown(&self) -> String {
        let seconds = self.duration.as_secs_f64();
        let accepted = self.submissions.iter().filter(|submission| submission.answer.is_ok()).count();
        let refused = self.submissions.len() - accepted;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} clients for {:.0} s: {} requests, {:.0} requests/s; {} transactions submitted, {} accepted, \
             {} included ({:.0} included tx/s over the timed phase; pool drained {:.2} s after it), {} refused \
             with a reason, {} unaccounted (set-up before the timed phase: {:.1} s). Replay of {} blocks \
             ({} extrinsics) on a fresh node as {} blocks in {:.2} s, {} state roots compared: {} (final \
             root {:?}).",
            self.clients,
            seconds,
            self.requests,
            self.requests as f64 / seconds,
            self.submissions.len(),
            accepted,
            self.included.len(),
            self.included.len() as f64 / seconds,
            self.drain.as_secs_f64(),
            refused,
            self.unaccounted.len(),
            self.setup.as_secs_f64(),
            self.replay.blocks,
            self.replay.extrinsics,
            self.replay.sealed,
            self.replay.elapsed.as_secs_f64(),
            self.replay.roots_compared,
            if self.replay.matches() { "all identical" } else { "DIFFERENT" },
            self.replay.original_root,
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| request | count | per second | p50 | p99 | accepted | included | refused |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        let ms = |duration: Duration| format!("{:.2} ms", duration.as_secs_f64() * 1e3);
        for (kind, figures) in &self.kinds {
            let (accepted, included, refused) = if kind.is_transaction() {
                (figures.accepted.to_string(), figures.included.to_string(), figures.refused.to_string())
            } else {
                ("".into(), "".into(), "".into())
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {} | {} | {accepted} | {included} | {refused} |",
                kind.label(),
                figures.count,
                figures.count as f64 / seconds,
                ms(figures.p50),
                ms(figures.p99),
            );
        }
        let total = self.kinds.iter().map(|(_, figures)| figures.count).sum::<usize>();
        let _ = writeln!(
            out,
            "| all | {total} | {:.0} | | | {accepted} | {} | {refused} |",
            total as f64 / seconds,
            self.included.len()
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| outcome | transactions |");
        let _ = writeln!(out, "|---|---:|");
        for (status, count) in &self.statuses {
            let _ = writeln!(out, "| included, receipt `{status}` | {count} |");
        }
        for (reason, count) in &self.refusals {
            let _ = writeln!(out, "| refused: `{reason}` | {count} |");
        }
        let _ = writeln!(out, "| accepted but in no block | {} |", self.unaccounted.len());
        out
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_h256(text: &str) -> Result<H256, String> {
    let bytes = hex::decode(text.trim_start_matches("0x")).map_err(|error| format!("`{text}`: {error}"))?;
    if bytes.len() != 32 {
        return Err(format!("`{text}` is not 32 bytes"));
    }
    Ok(H256::from_slice(&bytes))
}

fn rpc_error(error: ClientError) -> String {
    error.to_string()
}

/// Gas limit of a balance transfer (the transfer costs 21 000).
const TRANSFER_GAS: u64 = 100_000;

/// Tokens and balance each client starts with.
const CLIENT_TOKENS: u64 = 1_000_000_000;
const CLIENT_BALANCE: u128 = 1_000_000_000_000_000_000;

/// The secret URI of load client `index`.
pub fn client_suri(index: usize) -> String {
    format!("//LoadClient{index}")
}

fn sign(pair: &sr25519::Pair, genesis: &H256, nonce: u64, gas_limit: u64, call: Call) -> Vec<u8> {
    SignedTransaction::sign(pair, genesis, TransactionPayload { nonce, gas_limit, call }).to_extrinsic()
}

async fn submit(client: &HttpClient, extrinsic: &[u8]) -> Result<(), (i32, String)> {
    let answer: Result<String, ClientError> =
        client.request("author_submitExtrinsic", rpc_params![hex0x(extrinsic)]).await;
    match answer {
        Ok(_) => Ok(()),
        Err(ClientError::Call(error)) => Err((error.code(), error.message().to_string())),
        Err(other) => Err((0, format!("transport: {other}"))),
    }
}

async fn next_nonce(client: &HttpClient, address: &H160) -> Result<u64, String> {
    client.request("system_accountNextIndex", rpc_params![format!("{address:?}")]).await.map_err(rpc_error)
}

async fn receipt(client: &HttpClient, hash: &H256) -> Result<Option<Value>, String> {
    client.request("contracts_getReceipt", rpc_params![format!("{hash:?}")]).await.map_err(rpc_error)
}

async fn wait_for_receipt(client: &HttpClient, hash: &H256) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(receipt) = receipt(client, hash).await? {
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            return Err(format!("no receipt for {hash:?} within 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn best_number(client: &HttpClient) -> Result<u64, String> {
    let header: Value = client.request("chain_getHeader", rpc_params![]).await.map_err(rpc_error)?;
    let number = header["number"].as_str().ok_or("header without number")?;
    u64::from_str_radix(number.trim_start_matches("0x"), 16).map_err(|error| error.to_string())
}

/// A block as the RPC gives it: state root and extrinsics.
struct FetchedBlock {
    number: u64,
    state_root: H256,
    extrinsics: Vec<Vec<u8>>,
}

async fn fetch_block(client: &HttpClient, number: u64) -> Result<FetchedBlock, String> {
    let hash: Option<String> = client.request("chain_getBlockHash", rpc_params![number]).await.map_err(rpc_error)?;
    let hash = hash.ok_or_else(|| format!("no block #{number}"))?;
    let block: Value = client.request("chain_getBlock", rpc_params![hash]).await.map_err(rpc_error)?;
    let block = &block["block"];
    let state_root = parse_h256(block["header"]["stateRoot"].as_str().ok_or("block without stateRoot")?)?;
    let extrinsics = block["extrinsics"]
        .as_array()
        .ok_or("block without extrinsics")?
        .iter()
        .map(|extrinsic| {
            let text = extrinsic.as_str().ok_or("extrinsic not a string")?;
            hex::decode(text.trim_start_matches("0x")).map_err(|error| error.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(FetchedBlock { number, state_root, extrinsics })
}

/// What the clients share.
struct Setup {
    url: String,
    genesis: H256,
    token: H160,
    token_gas: u64,
    addresses: Vec<H160>,
}

/// Deploys the token and funds the clients; returns what the clients need.
async fn set_up(url: &str, config: &LoadConfig) -> Result<Setup, String> {
    let client = pvm_node::client::connect(url).map_err(|error| error.to_string())?;
    let genesis: Option<String> = client.request("chain_getBlockHash", rpc_params![0]).await.map_err(rpc_error)?;
    let genesis = parse_h256(&genesis.ok_or("no genesis block")?)?;
    let alice = pair_from_suri("//Alice").map_err(|error| error.to_string())?;
    let alice_address = account_to_address(&alice.public().0);
    let mut nonce = next_nonce(&client, &alice_address).await?;
    let code =
        std::fs::read(&config.token_code).map_err(|error| format!("{}: {error}", config.token_code.display()))?;
    let supply = CLIENT_TOKENS as u128 * config.clients as u128 * 2;
    let data = pvm_node::client::abi::encode_constructor("constructor(uint256)", &[supply.to_string()])
        .map_err(|error| error.to_string())?;
    let deploy = sign(
        &alice,
        &genesis,
        nonce,
        pvm_node::client::DEFAULT_GAS,
        Call::InstantiateWithCode { code, value: 0, data, salt: None },
    );
    nonce += 1;
    submit(&client, &deploy).await.map_err(|(code, message)| format!("deploy refused: {code} {message}"))?;
    let deployed = wait_for_receipt(&client, &extrinsic_hash(&deploy)).await?;
    if deployed["status"] != "success" {
        return Err(format!("token deployment: {deployed}"));
    }
    let token: H160 = pvm_node::chain::keys::parse_h160(deployed["contractAddress"].as_str().unwrap_or_default())
        .map_err(|error| error.to_string())?;

    let addresses: Vec<H160> = (0..config.clients)
        .map(|index| pair_from_suri(&client_suri(index)).map(|pair| account_to_address(&pair.public().0)))
        .collect::<Result<_, _>>()
        .map_err(|error| error.to_string())?;
    let transfer_sig = Signature::parse("transfer(address,uint256)").map_err(|error| error.to_string())?;
    // The gas an ERC-20 transfer uses, with room: the declared limit bounds how many fit in a block.
    let probe =
        transfer_sig.encode_call(&[format!("{:?}", addresses[0]), "1".into()]).map_err(|error| error.to_string())?;
    let dry: Value = client
        .request(
            "contracts_dryRunCall",
            rpc_params![
                json!({"origin": format!("{alice_address:?}"), "dest": format!("{token:?}"), "input": hex0x(&probe)})
            ],
        )
        .await
        .map_err(rpc_error)?;
    let token_gas = dry["gasUsed"].as_u64().ok_or_else(|| format!("dry run: {dry}"))? * 2 + 100_000;

    let mut funding = Vec::new();
    for address in &addresses {
        funding.push(sign(
            &alice,
            &genesis,
            nonce,
            TRANSFER_GAS,
            Call::Transfer { dest: *address, value: CLIENT_BALANCE },
        ));
        nonce += 1;
        let data = transfer_sig
            .encode_call(&[format!("{address:?}"), CLIENT_TOKENS.to_string()])
            .map_err(|error| error.to_string())?;
        funding.push(sign(&alice, &genesis, nonce, token_gas, Call::Call { dest: token, value: 0, data }));
        nonce += 1;
    }
    for extrinsic in &funding {
        submit(&client, extrinsic).await.map_err(|(code, message)| format!("funding refused: {code} {message}"))?;
    }
    for extrinsic in &funding {
        let receipt = wait_for_receipt(&client, &extrinsic_hash(extrinsic)).await?;
        if receipt["status"] != "success" {
            return Err(format!("funding: {receipt}"));
        }
    }
    Ok(Setup { url: url.to_string(), genesis, token, token_gas, addresses })
}

/// One client's loop until `deadline`.
async fn run_client(setup: Arc<Setup>, index: usize, seed: u64, deadline: Instant) -> Result<ClientLog, String> {
    let client = pvm_node::client::connect(&setup.url).map_err(|error| error.to_string())?;
    let pair = pair_from_suri(&client_suri(index)).map_err(|error| error.to_string())?;
    let me = setup.addresses[index];
    let transfer_sig = Signature::parse("transfer(address,uint256)").map_err(|error| error.to_string())?;
    let mut rng = Rng::new(seed ^ (index as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let mut nonce = next_nonce(&client, &me).await?;
    let mut log = ClientLog::default();
    let mut stale_value = 1_000_000u128;
    let total_supply_slot = format!("0x{:064x}", 2);
    while Instant::now() < deadline {
        let kind = Kind::pick(rng.below(100));
        let other =
            setup.addresses[(index + 1 + rng.below(setup.addresses.len() as u64 - 1) as usize) % setup.addresses.len()];
        let (extrinsic, used_nonce) = match kind {
            Kind::Transfer => {
                (Some(sign(&pair, &setup.genesis, nonce, TRANSFER_GAS, Call::Transfer { dest: other, value: 1 })), true)
            }
            Kind::TokenTransfer => {
                let data =
                    transfer_sig.encode_call(&[format!("{other:?}"), "1".into()]).map_err(|error| error.to_string())?;
                let call = Call::Call { dest: setup.token, value: 0, data };
                (Some(sign(&pair, &setup.genesis, nonce, setup.token_gas, call)), true)
            }
            Kind::StaleNonce if nonce > 0 => {
                // A distinct value for each, so each has its own hash.
                stale_value += 1;
                let call = Call::Transfer { dest: other, value: stale_value };
                (Some(sign(&pair, &setup.genesis, nonce - 1 - rng.below(nonce.min(4)), TRANSFER_GAS, call)), false)
            }
            Kind::StaleNonce => continue,
            _ => (None, false),
        };
        let started = Instant::now();
        if let Some(extrinsic) = extrinsic {
            let answer = submit(&client, &extrinsic).await;
            log.latencies.entry(kind).or_default().push(started.elapsed());
            let accepted = answer.is_ok();
            log.submissions.push(Submission { hash: extrinsic_hash(&extrinsic), kind, answer });
            if used_nonce {
                if accepted {
                    nonce += 1;
                } else {
                    // Refused (the pool may be full): ask the node which nonce comes next.
                    nonce = next_nonce(&client, &me).await?;
                }
            }
            continue;
        }
        let result: Result<Value, ClientError> = match kind {
            Kind::DryRun => {
                let data =
                    transfer_sig.encode_call(&[format!("{other:?}"), "1".into()]).map_err(|error| error.to_string())?;
                let request =
                    json!({"origin": format!("{me:?}"), "dest": format!("{:?}", setup.token), "input": hex0x(&data)});
                client.request("contracts_dryRunCall", rpc_params![request]).await
            }
            Kind::ReadAccount => client.request("contracts_getAccount", rpc_params![format!("{other:?}")]).await,
            Kind::ReadHeader => client.request("chain_getHeader", rpc_params![]).await,
            Kind::ReadStorage => {
                client
                    .request(
                        "contracts_getStorage",
                        rpc_params![format!("{:?}", setup.token), total_supply_slot.clone()],
                    )
                    .await
            }
            Kind::ReadNonce => client.request("system_accountNextIndex", rpc_params![format!("{me:?}")]).await,
            _ => unreachable!("transactions are handled above"),
        };
        log.latencies.entry(kind).or_default().push(started.elapsed());
        match result {
            Ok(value) => {
                if kind == Kind::DryRun && value["status"] != "success" {
                    log.failures.push(format!("client {index}: dry run did not succeed: {value}"));
                }
                if kind == Kind::ReadStorage && value.is_null() {
                    log.failures.push(format!("client {index}: total supply slot empty"));
                }
            }
            Err(error) => log.failures.push(format!("client {index}: {kind:?}: {error}")),
        }
    }
    Ok(log)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A refusal message with the digits taken out, so that refusals group by reason.
fn reason_class(code: i32, message: &str) -> String {
    let mut class = String::new();
    let mut in_number = false;
    for character in message.chars() {
        if character.is_ascii_digit() {
            if !in_number {
                class.push('N');
            }
            in_number = true;
        } else {
            class.push(character);
            in_number = false;
        }
    }
    format!("{code}: {class}")
}

/// Runs the whole load test against the `--dev` node at `url`: set-up, the timed phase,
/// the drain, the accounting and the replay on a fresh node.
pub async fn run(url: &str, config: &LoadConfig) -> Result<LoadReport, String> {
    assert!(config.clients >= 2, "at least two clients (they transfer to each other)");
    let setup_started = Instant::now();
    let setup = Arc::new(set_up(url, config).await?);
    let setup_time = setup_started.elapsed();
    let client = pvm_node::client::connect(url).map_err(|error| error.to_string())?;
    let first_block = best_number(&client).await? + 1;

    let started = Instant::now();
    let deadline = started + config.duration;
    let tasks: Vec<_> = (0..config.clients)
        .map(|index| tokio::spawn(run_client(setup.clone(), index, config.seed, deadline)))
        .collect();
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(task.await.map_err(|error| format!("client task: {error}"))??);
    }
    let timed = started.elapsed();
    let ended = Instant::now();

    let mut latencies: HashMap<Kind, Vec<Duration>> = HashMap::new();
    let mut submissions = Vec::new();
    let mut failures = Vec::new();
    for log in logs {
        for (kind, values) in log.latencies {
            latencies.entry(kind).or_default().extend(values);
        }
        submissions.extend(log.submissions);
        failures.extend(log.failures);
    }
    let accepted: HashMap<H256, Kind> = submissions
        .iter()
        .filter(|submission| submission.answer.is_ok())
        .map(|submission| (submission.hash, submission.kind))
        .collect();

    // The drain: until the pool is empty and every accepted transaction is in a block, or
    // until nothing has changed for 10 s after the pool emptied.
    let mut found: HashMap<H256, u64> = HashMap::new();
    let mut blocks: Vec<FetchedBlock> = Vec::new();
    let mut next_block = first_block;
    let mut quiet_since: Option<Instant> = None;
    let drain_deadline = Instant::now() + Duration::from_secs(300);
    let drain = loop {
        let best = best_number(&client).await?;
        while next_block <= best {
            let block = fetch_block(&client, next_block).await?;
            for extrinsic in &block.extrinsics {
                found.insert(extrinsic_hash(extrinsic), block.number);
            }
            blocks.push(block);
            next_block += 1;
        }
        let pending: Vec<String> =
            client.request("author_pendingExtrinsics", rpc_params![]).await.map_err(rpc_error)?;
        let missing = accepted.keys().filter(|hash| !found.contains_key(hash)).count();
        if pending.is_empty() && missing == 0 {
            break ended.elapsed();
        }
        if pending.is_empty() {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(10) {
                break ended.elapsed();
            }
        } else {
            quiet_since = None;
        }
        if Instant::now() > drain_deadline {
            return Err(format!("the pool did not drain within 300 s ({} pending)", pending.len()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Receipts of the included transactions: there, in the block the transaction is in.
    let hashes: Vec<H256> = accepted.keys().filter(|hash| found.contains_key(hash)).copied().collect();
    let chunks: Vec<Vec<H256>> = hashes.chunks(hashes.len().div_ceil(8).max(1)).map(<[H256]>::to_vec).collect();
    let mut receipt_tasks = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        receipt_tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for hash in chunk {
                out.push((hash, receipt(&client, &hash).await?));
            }
            Ok::<_, String>(out)
        }));
    }
    let mut included = HashMap::new();
    let mut statuses = BTreeMap::new();
    for task in receipt_tasks {
        for (hash, receipt) in task.await.map_err(|error| format!("receipt task: {error}"))?? {
            let block = found[&hash];
            let Some(receipt) = receipt else {
                failures.push(format!("{hash:?} is in block #{block} but has no receipt"));
                continue;
            };
            if receipt["blockNumber"].as_u64() != Some(block) {
                failures.push(format!("{hash:?} is in block #{block} but its receipt says {}", receipt["blockNumber"]));
            }
            let status = receipt["status"].as_str().unwrap_or("?").to_string();
            *statuses.entry(status.clone()).or_insert(0) += 1;
            included.insert(hash, Inclusion { block, status });
        }
    }
    let unaccounted: Vec<Submission> = submissions
        .iter()
        .filter(|submission| submission.answer.is_ok() && !included.contains_key(&submission.hash))
        .cloned()
        .collect();
    let refused_but_included: Vec<Submission> = submissions
        .iter()
        .filter(|submission| submission.answer.is_err() && found.contains_key(&submission.hash))
        .cloned()
        .collect();
    let submitted: HashSet<H256> = submissions.iter().map(|submission| submission.hash).collect();
    let unknown_included: Vec<H256> = found.keys().filter(|hash| !submitted.contains(hash)).copied().collect();
    let mut refusals = BTreeMap::new();
    for submission in &submissions {
        if let Err((code, message)) = &submission.answer {
            *refusals.entry(reason_class(*code, message)).or_insert(0) += 1;
        }
    }

    let mut kinds = Vec::new();
    for kind in Kind::ALL {
        let Some(mut values) = latencies.remove(&kind) else { continue };
        values.sort();
        let of_kind = || submissions.iter().filter(move |submission| submission.kind == kind);
        kinds.push((
            kind,
            KindFigures {
                count: values.len(),
                p50: percentile(&values, 0.50),
                p99: percentile(&values, 0.99),
                accepted: of_kind().filter(|submission| submission.answer.is_ok()).count(),
                refused: of_kind().filter(|submission| submission.answer.is_err()).count(),
                included: of_kind().filter(|submission| included.contains_key(&submission.hash)).count(),
            },
        ));
    }
    let requests = kinds.iter().map(|(_, figures)| figures.count).sum();

    // Every block from genesis, for the replay.
    let mut all_blocks = Vec::new();
    for number in 1..first_block {
        all_blocks.push(fetch_block(&client, number).await?);
    }
    all_blocks.extend(blocks);
    let best = best_number(&client).await?;
    for number in next_block..=best {
        all_blocks.push(fetch_block(&client, number).await?);
    }
    let genesis = setup.genesis;
    let mode = config.replay;
    let replay = tokio::task::spawn_blocking(move || replay(genesis, &all_blocks, mode))
        .await
        .map_err(|error| format!("replay task: {error}"))??;

    Ok(LoadReport {
        clients: config.clients,
        duration: timed,
        requests,
        drain,
        kinds,
        submissions,
        included,
        unaccounted,
        refused_but_included,
        unknown_included,
        failures,
        statuses,
        refusals,
        setup: setup_time,
        replay,
    })
}

/// Replays `blocks` (every block after genesis, in order) on a fresh `--dev` node in a new
/// temporary base path: the extrinsics are submitted in their order and sealed by hand,
/// block by block or in runs of whole blocks (see [`ReplayMode`]); after each block or run
/// the state root must be the original's.
fn replay(genesis: H256, blocks: &[FetchedBlock], mode: ReplayMode) -> Result<ReplayReport, String> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let spec = ChainSpec::dev().map_err(|error| error.to_string())?;
    let node = Node::open(spec, dir.path()).map_err(|error| error.to_string())?;
    if node.genesis_hash() != genesis {
        return Err(format!("fresh node's genesis {:?} is not {genesis:?}", node.genesis_hash()));
    }
    let mut first_mismatch = None;
    let mut extrinsics = 0;
    let mut sealed = 0;
    let mut roots_compared = 0;
    let mut index = 0;
    while index < blocks.len() {
        // The run: one block, or whole blocks up to REPLAY_CHUNK extrinsics.
        let mut end = index + 1;
        if mode == ReplayMode::Chunked {
            let mut count = blocks[index].extrinsics.len();
            while end < blocks.len() && count + blocks[end].extrinsics.len() <= REPLAY_CHUNK {
                count += blocks[end].extrinsics.len();
                end += 1;
            }
        }
        let run = &blocks[index..end];
        let last = &run[run.len() - 1];
        for block in run {
            if block.extrinsics.is_empty() {
                // Sealing never makes an empty block unless every transaction of its batch
                // was dropped as invalid.
                first_mismatch.get_or_insert_with(|| format!("block #{} is empty", block.number));
            }
            for extrinsic in &block.extrinsics {
                let submitted = match node.submit(extrinsic.clone()) {
                    Err(SubmitError::Decode(TxError::Decode(_))) => node.submit_ethereum(extrinsic.clone()),
                    other => other,
                };
                submitted.map_err(|error| {
                    format!(
                        "replay: block #{} extrinsic {:?} refused: {error}",
                        block.number,
                        extrinsic_hash(extrinsic)
                    )
                })?;
                extrinsics += 1;
            }
        }
        let mut header = None;
        while node.pending_count() > 0 {
            let sealed_header = node
                .seal_pending()
                .map_err(|error| format!("replay: sealing up to block #{}: {error}", last.number))?
                .ok_or_else(|| format!("replay: nothing sealed up to block #{}", last.number))?;
            sealed += 1;
            header = Some(sealed_header);
            if mode == ReplayMode::PerBlock {
                break;
            }
        }
        if node.pending_count() != 0 {
            first_mismatch.get_or_insert_with(|| {
                format!("block #{}: {} extrinsics left out of the replayed block", last.number, node.pending_count())
            });
            while node.pending_count() > 0 && node.seal_pending().map_err(|error| error.to_string())?.is_some() {}
        }
        if let Some(header) = header {
            roots_compared += 1;
            let same_number = mode == ReplayMode::Chunked || header.number == last.number;
            if !same_number || header.state_root != last.state_root {
                first_mismatch.get_or_insert_with(|| {
                    format!(
                        "after block #{}: original state root {:?}, replayed (block #{}) {:?}",
                        last.number, last.state_root, header.number, header.state_root
                    )
                });
            }
        }
        index = end;
    }
    let original_root = blocks.last().map(|block| block.state_root).unwrap_or_default();
    let replayed_root = node.best_header().state_root;
    node.shutdown();
    Ok(ReplayReport {
        blocks: blocks.len() as u64,
        sealed,
        roots_compared,
        extrinsics,
        original_root,
        replayed_root,
        first_mismatch,
        elapsed: started.elapsed(),
    })
}
