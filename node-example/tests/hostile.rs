//! Hostile requests against a running `--dev` node, over raw HTTP on both of its JSON-RPC
//! ports: malformed JSON, wrong parameter types, unknown methods, huge hex strings, deeply
//! nested JSON, oversized bodies and batches, invalid SCALE, badly signed Ethereum
//! transactions, and slow-loris connections. Every request must be answered with an error
//! (or refused at the HTTP level), the node must keep serving well-formed requests after
//! each one and while the slow connections hang, and its resident memory must stay bounded.

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Bytes, TxKind, U256};
use common::RunningNode;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `host:port` of an `http://host:port` URL.
fn authority(url: &str) -> &str {
    url.strip_prefix("http://").expect("an http:// URL")
}

/// POSTs `body` as JSON and returns the HTTP status and the response body.
fn post(url: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(authority(url)).expect("the node accepts a connection");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        authority(url),
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {:?}", &text[..text.len().min(200)]));
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, body)| body.to_string());
    (status, body)
}

/// The JSON-RPC error code of a response body that must be one error object.
fn error_code(what: &str, body: &str) -> i64 {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|err| panic!("{what}: not JSON ({err}): {body:.200}"));
    assert!(value.get("result").is_none(), "{what}: a result: {body:.200}");
    value["error"]["code"].as_i64().unwrap_or_else(|| panic!("{what}: no error code: {body:.200}"))
}

/// A well-formed request must still be served.
fn assert_serving(url: &str, what: &str) {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "rpc_methods", "params": []});
    let (status, body) = post(url, request.to_string().as_bytes());
    assert_eq!(status, 200, "after {what}: {body:.200}");
    let value: Value = serde_json::from_str(&body).unwrap();
    assert!(value["result"]["methods"].is_array(), "after {what}: {body:.200}");
}

fn request(method: &str, params: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string().into_bytes()
}

fn resident_kib(node: &RunningNode) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An EIP-1559 transaction "signed" with r = s = 0, which recovers to no key.
fn zero_signature_transaction() -> String {
    let tx = TxEip1559 {
        chain_id: 420420420,
        nonce: 0,
        gas_limit: 100_000,
        max_fee_per_gas: 2,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Default::default()),
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signed = tx.into_signed(alloy_primitives::Signature::new(U256::ZERO, U256::ZERO, false));
    format!("0x{}", hex::encode(TxEnvelope::from(signed).encoded_2718()))
}

#[test]
fn hostile_requests_get_errors_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let (rpc, eth) = (node.rpc.clone(), node.eth.clone());
    assert_serving(&rpc, "start-up");
    let resident_before = resident_kib(&node);

    let huge_hex = format!("0x{}", "ab".repeat(3 * 1024 * 1024));
    let mut deep = "[".repeat(100_000);
    deep.push_str(&"]".repeat(100_000));
    let deep_request = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"chain_getBlockHash","params":{deep}}}"#);
    let big_batch: Vec<Value> =
        (0..5_000).map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "system_name", "params": []})).collect();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("truncated JSON", &rpc, br#"{"jsonrpc":"2.0","id":1,"method":"#.to_vec()),
        ("not JSON at all", &rpc, b"\xff\xfe\x00garbage".to_vec()),
        ("an unknown method", &rpc, request("no_such_method", json!([]))),
        ("a string for a block number", &rpc, request("chain_getBlockHash", json!(["x"]))),
        ("an object for an address", &rpc, request("contracts_getAccount", json!([{"a": 1}]))),
        ("invalid SCALE", &rpc, request("author_submitExtrinsic", json!(["0x0102"]))),
        ("odd-length hex", &rpc, request("author_submitExtrinsic", json!(["0x123"]))),
        ("a 3 MiB extrinsic of junk", &rpc, request("author_submitExtrinsic", json!([huge_hex]))),
        ("100,000 nested arrays", &rpc, deep_request.into_bytes()),
        ("a 5,000-request batch", &rpc, serde_json::to_vec(&big_batch).unwrap()),
        ("a 3 MiB Ethereum transaction of junk", &eth, request("eth_sendRawTransaction", json!([huge_hex]))),
        (
            "a transaction signed with r = s = 0",
            &eth,
            request("eth_sendRawTransaction", json!([zero_signature_transaction()])),
        ),
        ("eth_call with a number for `to`", &eth, request("eth_call", json!([{"to": 5, "data": "0x"}, "latest"]))),
        ("eth_getBalance of a short address", &eth, request("eth_getBalance", json!(["0x1234", "latest"]))),
        (
            "eth_getLogs over a reversed range",
            &eth,
            request("eth_getLogs", json!([{"fromBlock": "0x10", "toBlock": "0x1"}])),
        ),
    ];
    for (what, url, body) in cases {
        let (status, response) = post(url, &body);
        assert!(status == 200 || (400..500).contains(&status), "{what}: HTTP {status}: {response:.200}");
        if status == 200 {
            let code = error_code(what, &response);
            assert!((-32768..=-1).contains(&code) || code > 0, "{what}: error code {code}");
        }
        assert_serving(url, what);
    }

    // A body over the 8 MiB request limit is refused before it is parsed.
    let (status, _) = post(&rpc, &vec![b' '; 9 * 1024 * 1024]);
    assert_eq!(status, 413, "an oversized body");
    assert_serving(&rpc, "an oversized body");

    // Slow-loris: connections that send headers and half a body, then hang. More of them than
    // the server's 100 connection permits: the node reads bodies before it counts a request,
    // so they hold none and others are served at once; each hanging request is answered
    // `408` once its body is 10 s late (`REQUEST_BODY_DEADLINE`), and its connection closed.
    let started = Instant::now();
    let mut hanging = Vec::new();
    for _ in 0..150 {
        let mut stream = TcpStream::connect(authority(&rpc)).unwrap();
        stream
            .write_all(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"js",
            )
            .unwrap();
        hanging.push(stream);
    }
    let served = Instant::now();
    assert_serving(&rpc, "150 hanging connections");
    assert!(served.elapsed() < Duration::from_secs(5), "served only after {:?}", served.elapsed());
    for (index, stream) in hanging.iter_mut().enumerate().step_by(37) {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 408"), "hanging connection {index}: {text:.200}");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(9) && waited < Duration::from_secs(30), "408 after {waited:?}");
    }
    drop(hanging);
    assert_serving(&rpc, "the hanging connections closed");

    let resident_after = resident_kib(&node);
    assert!(
        resident_after < resident_before + 256 * 1024,
        "resident memory grew from {resident_before} KiB to {resident_after} KiB"
    );
    node.stop();
}
