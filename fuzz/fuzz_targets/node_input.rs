//! What the example node (`pvm-node`) reads from the network: SCALE extrinsics
//! (`author_submitExtrinsic`), raw Ethereum transactions (`eth_sendRawTransaction`) and
//! JSON-RPC requests, each through the node's public API.
//!
//! The first byte picks the decoder; the rest is its input.
//!
//! * 0: `SignedTransaction::decode_extrinsic`; a decoded transaction re-encodes to bytes that
//!   decode to it again, and its signature check runs (it may fail, not panic).
//! * 1: `EthTransaction::decode` for the dev chain's id, every accessor of a decoded
//!   transaction (as the RPC views it), and the helpers it uses on the call data (`split_init_code`, `call_of`),
//!   which fuzzed bytes reach directly (a decoded transaction needs a valid signature).
//! * 2: the bytes as a JSON-RPC request body, handled by the node's whole RPC module
//!   (`server::rpc::full_module`, what the HTTP and WebSocket server serves) over a `--dev`
//!   chain in a temporary folder.
//! * 3: a request to one of the module's methods (the next byte picks it) with the rest as
//!   its `params`, so that every method's parameter parsing is reached quickly.
//!
//! For JSON-RPC, the node must answer every well-formed request with one JSON object with
//! the request's id and either a result or an error; nothing may panic. Subscriptions are left
//! out (each would leave a task behind in this single-threaded loop).
//!
//! `PVM_FUZZ_NODE_SEEDS=DIR` makes the first run write seed inputs to `DIR` (real signed
//! extrinsics and Ethereum transactions of every supported type, and typical requests); the
//! committed `corpus/node_input/` was made that way (see `fuzz/README.md`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvm_node::chain::chain_spec::ChainSpec;
use pvm_node::chain::eth::{call_of, split_init_code, EthTransaction, ViewTransaction};
use pvm_node::chain::node::Node;
use pvm_node::chain::tx::{extrinsic_hash, SignedTransaction};
use pvm_node::server::rpc::full_module;
use serde_json::Value;
use std::sync::Arc;

struct Setup {
    node: Arc<Node>,
    module: jsonrpsee::RpcModule<()>,
    methods: Vec<&'static str>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let node = Node::open(ChainSpec::dev().expect("the dev chain spec"), dir.path()).expect("the node opens");
    let module = full_module(node.clone(), Vec::new()).expect("the RPC module builds");
    let mut methods: Vec<&'static str> = module.method_names().filter(|name| !name.contains("subscribe")).collect();
    methods.sort_unstable();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    if let Some(seeds) = std::env::var_os("PVM_FUZZ_NODE_SEEDS") {
        write_seeds(std::path::Path::new(&seeds), &node);
    }
    Setup { node, module, methods, runtime, _dir: dir }
}

thread_local! {
    static SETUP: Setup = setup();
}

/// Writes seed inputs (mode byte first) to `dir`.
fn write_seeds(dir: &std::path::Path, node: &Arc<Node>) {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{Address, Bytes, TxKind, U256};
    use pvm_node::chain::tx::{Call, TransactionPayload};

    std::fs::create_dir_all(dir).expect("the seed folder");
    let mut count = 0;
    let mut write = |mode: u8, bytes: &[u8]| {
        let mut seed = vec![mode];
        seed.extend_from_slice(bytes);
        std::fs::write(dir.join(format!("seed-{count:02}")), seed).expect("a seed file");
        count += 1;
    };

    // Extrinsics, signed by Alice for this chain.
    let alice = pvm_node::chain::keys::pair_from_suri("//Alice").expect("Alice");
    let genesis = node.genesis_hash();
    let dest = pvm_node::chain::eth::h160(Address::repeat_byte(0x11));
    let calls = [
        Call::Transfer { dest, value: 1_000 },
        Call::UploadCode { code: include_bytes!("../../testdata/polkavm-edge/run-off-end-revive.polkavm").to_vec() },
        Call::Instantiate { code_hash: Default::default(), value: 0, data: vec![1, 2, 3], salt: Some([7; 32]) },
        Call::InstantiateWithCode { code: vec![0x50, 0x56, 0x4d, 0], value: 5, data: vec![], salt: None },
        Call::Call { dest, value: 0, data: vec![0xa9, 0x05, 0x9c, 0xbb] },
    ];
    let mut extrinsics = Vec::new();
    for (nonce, call) in calls.into_iter().enumerate() {
        let payload = TransactionPayload { nonce: nonce as u64, gas_limit: 1_000_000, call };
        let bytes = SignedTransaction::sign(&alice, &genesis, payload).to_extrinsic();
        write(0, &bytes);
        extrinsics.push(bytes);
    }

    // Ethereum transactions, signed with the first dev key, of each supported type.
    let key = &pvm_node::server::eth::dev_keys()[0];
    let chain_id = node.spec().chain_id;
    fn sign<T: SignableTransaction<alloy_primitives::Signature>>(key: &k256::ecdsa::SigningKey, tx: T) -> Vec<u8>
    where
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        let (signature, recovery) = key.sign_prehash_recoverable(tx.signature_hash().as_slice()).expect("signs");
        let signature = alloy_primitives::Signature::from_signature_and_parity(signature, recovery.is_y_odd());
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }
    let to = Address::repeat_byte(0x22);
    let input = Bytes::from(vec![0xa9, 0x05, 0x9c, 0xbb, 0, 0, 0, 1]);
    let raw = [
        sign(
            key,
            TxEip1559 {
                chain_id,
                nonce: 0,
                gas_limit: 100_000,
                max_fee_per_gas: 2,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(to),
                value: U256::from(5),
                access_list: Default::default(),
                input: input.clone(),
            },
        ),
        sign(
            key,
            TxEip1559 {
                chain_id,
                nonce: 1,
                gas_limit: 5_000_000,
                max_fee_per_gas: 2,
                max_priority_fee_per_gas: 1,
                to: TxKind::Create,
                value: U256::ZERO,
                access_list: Default::default(),
                input: Bytes::from(include_bytes!("../../testdata/polkavm-edge/run-off-end-revive.polkavm").to_vec()),
            },
        ),
        sign(
            key,
            TxLegacy {
                chain_id: Some(chain_id),
                nonce: 2,
                gas_price: 1,
                gas_limit: 21_000,
                to: TxKind::Call(to),
                value: U256::from(1),
                input: Bytes::new(),
            },
        ),
        sign(
            key,
            TxEip2930 {
                chain_id,
                nonce: 3,
                gas_price: 1,
                gas_limit: 50_000,
                to: TxKind::Call(to),
                value: U256::ZERO,
                access_list: Default::default(),
                input,
            },
        ),
    ];
    for bytes in &raw {
        write(1, bytes);
    }

    // Requests: raw bodies (mode 2) and method + params (mode 3).
    let hex = |bytes: &[u8]| format!("0x{}", hex::encode(bytes));
    let address = "0xf24ff3a9cf04c71dbc94d0b566f7a27b94566cac";
    let bodies = [
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["{}"]}}"#, hex(&raw[0])),
        format!(r#"{{"jsonrpc":"2.0","id":2,"method":"author_submitExtrinsic","params":["{}"]}}"#, hex(&extrinsics[0])),
        format!(r#"{{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["{address}","latest"]}}"#),
        r#"{"jsonrpc":"2.0","id":"x","method":"eth_call","params":[{"to":"0x2222222222222222222222222222222222222222","data":"0xa9059cbb"},"latest"]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":4,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"latest","topics":[null]}]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":5,"method":"chain_getBlock","params":[]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":6,"method":"eth_getBlockByNumber","params":["0x0",true]}"#.to_string(),
        r#"[{"jsonrpc":"2.0","id":7,"method":"rpc_methods","params":[]}]"#.to_string(),
    ];
    for body in &bodies {
        write(2, body.as_bytes());
    }
    let mut methods: Vec<&'static str> = full_module(std::sync::Arc::clone(node), Vec::new())
        .expect("the RPC module builds")
        .method_names()
        .filter(|name| !name.contains("subscribe"))
        .collect();
    methods.sort_unstable();
    let params = [
        (
            "eth_estimateGas",
            format!(r#"[{{"from":"{address}","to":"0x2222222222222222222222222222222222222222","value":"0x1"}}]"#),
        ),
        ("eth_getTransactionCount", format!(r#"["{address}","pending"]"#)),
        ("eth_getStorageAt", format!(r#"["{address}","0x0","latest"]"#)),
        (
            "eth_newFilter",
            r#"[{"address":["0x2222222222222222222222222222222222222222"],"topics":[["0x00"]]}]"#.to_string(),
        ),
        ("eth_getBlockByHash", format!(r#"["{}",false]"#, hex(genesis.as_bytes()))),
        (
            "contracts_dryRunCall",
            format!(
                r#"[{{"origin":"{address}","dest":"0x2222222222222222222222222222222222222222","value":0,"data":"0x00","gasLimit":100000}}]"#
            ),
        ),
        (
            "contracts_dryRunInstantiate",
            format!(
                r#"[{{"origin":"{address}","code":"{}","data":"0x","value":"0x0"}}]"#,
                hex(include_bytes!("../../testdata/polkavm-edge/run-off-end-revive.polkavm"))
            ),
        ),
        ("system_accountNextIndex", format!(r#"["{address}"]"#)),
        ("chain_getBlockHash", "[0]".to_string()),
        ("contracts_getStorage", format!(r#"["{address}","0x00"]"#)),
    ];
    for (method, params) in &params {
        if let Some(index) = methods.iter().position(|name| name == method) {
            let mut bytes = vec![index as u8];
            bytes.extend_from_slice(params.as_bytes());
            write(3, &bytes);
        }
    }
}

fn extrinsic(setup: &Setup, bytes: &[u8]) {
    let Ok(tx) = SignedTransaction::decode_extrinsic(bytes) else { return };
    let again = SignedTransaction::decode_extrinsic(&tx.to_extrinsic()).expect("a re-encoded extrinsic decodes");
    assert_eq!(again, tx, "an extrinsic changed through re-encoding");
    let _ = tx.verify(&setup.node.genesis_hash());
    let _ = tx.sender();
    view(&ViewTransaction::Substrate { tx: Box::new(tx), hash: extrinsic_hash(bytes), bytes: bytes.to_vec() });
}

/// Everything the RPC shows of a transaction.
fn view(tx: &ViewTransaction) {
    let _ = (tx.hash(), tx.sender(), tx.nonce(), tx.call(), tx.to(), tx.value(), tx.input());
    let _ = (tx.eth_gas_limit(), tx.tx_type(), tx.root_bytes(), tx.envelope());
}

fn ethereum(setup: &Setup, bytes: &[u8]) {
    if let Ok(tx) = EthTransaction::decode(bytes, setup.node.spec().chain_id) {
        view(&ViewTransaction::Ethereum(Box::new(tx)));
    }
    let _ = split_init_code(bytes);
    let _ = call_of(None, alloy_primitives::U256::ZERO, bytes);
    let _ = call_of(Some(Default::default()), alloy_primitives::U256::from(1), bytes);
}

fn request(setup: &Setup, body: &str) {
    if body.contains("subscribe") {
        return;
    }
    let Ok((response, _subscriptions)) = setup.runtime.block_on(setup.module.raw_json_request(body, 16)) else {
        return;
    };
    let value: Value = serde_json::from_str(response.get()).expect("the response is JSON");
    let object = value.as_object().unwrap_or_else(|| panic!("not one JSON object: {value}"));
    assert!(
        object.contains_key("result") != object.contains_key("error"),
        "neither or both of result and error: {value}"
    );
    if let Ok(Value::Object(request)) = serde_json::from_str::<Value>(body) {
        if let Some(id) = request.get("id") {
            if id.is_number() || id.is_string() {
                assert_eq!(object.get("id"), Some(id), "the response's id: {value}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    SETUP.with(|setup| match data.split_first() {
        Some((mode, rest)) => match mode % 4 {
            0 => extrinsic(setup, rest),
            1 => ethereum(setup, rest),
            2 => request(setup, &String::from_utf8_lossy(rest)),
            _ => {
                let Some((method, params)) = rest.split_first() else { return };
                let method = setup.methods[*method as usize % setup.methods.len()];
                let params = String::from_utf8_lossy(params);
                request(setup, &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#));
            }
        },
        None => {}
    });
});
