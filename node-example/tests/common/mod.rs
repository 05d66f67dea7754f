//! Starting `pvm-node` on free ports for end-to-end tests.

#![allow(dead_code)]

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A node process; killed when dropped.
pub struct RunningNode {
    pub child: Child,
    pub rpc: String,
    pub metrics: String,
    /// The Ethereum port (`--eth-rpc-port 0`) as an http:// URL.
    pub eth: String,
    pub log: PathBuf,
}

impl RunningNode {
    /// Starts `pvm-node` with `args` plus free ports and `--base-path base`.
    pub fn start(args: &[&str], base: &Path) -> RunningNode {
        RunningNode::start_with_ports(args, &["--eth-rpc-port", "0"], base)
    }

    /// Starts `pvm-node` with `args`, free RPC and metrics ports, `eth_port_args` for the
    /// Ethereum port (empty: the default 127.0.0.1:8545) and `--base-path base`.
    pub fn start_with_ports(args: &[&str], eth_port_args: &[&str], base: &Path) -> RunningNode {
        std::fs::create_dir_all(base).unwrap();
        let log = base.join(format!(
            "node-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pvm-node"))
            .args(args)
            .args(["--rpc-port", "0", "--prometheus-port", "0"])
            .args(eth_port_args)
            .arg("--base-path")
            .arg(base)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("pvm-node starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "node did not start; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            match lines.next() {
                Some(Ok(line)) if line.starts_with("pvm-node listening") => {
                    let mut rpc = String::new();
                    let mut metrics = String::new();
                    let mut eth = String::new();
                    for part in line.split_whitespace() {
                        if let Some(address) = part.strip_prefix("rpc=") {
                            rpc = format!("http://{address}");
                        }
                        if let Some(address) = part.strip_prefix("metrics=") {
                            metrics = address.to_string();
                        }
                        if let Some(address) = part.strip_prefix("eth=") {
                            eth = format!("http://{address}");
                        }
                    }
                    return RunningNode { child, rpc, metrics, eth, log };
                }
                Some(Ok(_)) => continue,
                _ => {
                    panic!("node exited before listening; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
                }
            }
        }
    }

    pub fn client(&self) -> HttpClient {
        pvm_node::client::connect(&self.rpc).unwrap()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "node exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Body of `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        let mut stream = TcpStream::connect(&self.metrics).unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one metric line.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("metric {name} missing in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Balance of an account as a u128.
pub async fn balance(client: &HttpClient, account: &str) -> u128 {
    let info: Value = client.request("contracts_getAccount", rpc_params![account]).await.unwrap();
    info["balance"].as_str().unwrap().parse().unwrap()
}

/// Nonce of an account in state.
pub async fn nonce(client: &HttpClient, account: &str) -> u64 {
    let info: Value = client.request("contracts_getAccount", rpc_params![account]).await.unwrap();
    info["nonce"].as_u64().unwrap()
}

/// A contract file (blob or ABI) from the workspace's `testdata/contracts`.
pub fn contract(name: &str) -> PathBuf {
    pvm_testkit::testdata("contracts").join(name)
}

/// H160 of a dev account as a 0x string.
pub fn address(suri: &str) -> String {
    format!("{:?}", pvm_node::chain::keys::address_of_suri(suri).unwrap())
}

/// The load generator of `tests/load.rs` and `benches/load.rs`.
pub mod load;
