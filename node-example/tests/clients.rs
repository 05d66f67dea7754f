//! Ethereum clients the project did not write, against a fresh `--dev` node's
//! `--eth-rpc-port`: `tests/clients/ethers.cjs` with ethers v6 and
//! `tests/clients/web3_check.py` with web3.py (versions pinned below), and
//! `tests/clients/viem.cjs` with viem on the default `http://127.0.0.1:8545` against a
//! contract no other test uses (`tests/clients/escrow`).
//!
//! The client libraries are installed from npm and PyPI on first use into a cache outside
//! the clone and the target folder (`$PVM_NODE_CLIENTS_CACHE`, else
//! `$HOME/.cache/pvm-node-eth-clients`). A missing Node.js, npm or Python fails the test with a message
//! saying what to install; it never passes silently.

mod common;

use common::RunningNode;
use std::path::PathBuf;
use std::process::Command;

/// The ethers version the script is tested with.
const ETHERS_VERSION: &str = "6.13.5";

/// The viem version the script is tested with.
const VIEM_VERSION: &str = "2.57.20";

/// The web3.py version the script is tested with.
const WEB3_VERSION: &str = "7.6.0";

fn cache_dir() -> PathBuf {
    match std::env::var_os("PVM_NODE_CLIENTS_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is set (or set PVM_NODE_CLIENTS_CACHE)");
            PathBuf::from(home).join(".cache").join("pvm-node-eth-clients")
        }
    }
}

/// Runs `program --version`, failing the test with `install` when it is missing.
fn require(program: &str, install: &str) {
    let found = Command::new(program).arg("--version").output().map(|output| output.status.success());
    assert!(matches!(found, Ok(true)), "tests/clients.rs needs `{program}` on PATH: {install}");
}

/// The `node_modules` folder holding npm package `name` at `version`, installing it into
/// its own prefix under the cache first if needed.
fn npm_package(name: &str, version: &str) -> PathBuf {
    let install = "install Node.js 18 or newer with npm (e.g. `apt-get install nodejs npm`)";
    require("node", install);
    require("npm", install);
    let prefix = cache_dir().join(format!("{name}-{version}"));
    let modules = prefix.join("node_modules");
    if !modules.join(name).join("package.json").exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("{name}@{version}"))
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm install {name}@{version} into {} failed", prefix.display());
    }
    modules
}

/// The installed `ethers` package folder, installing it first if needed.
fn ethers_module() -> PathBuf {
    npm_package("ethers", ETHERS_VERSION).join("ethers")
}

/// The folder web3.py is installed in (`pip install --target`), installing it first if
/// needed.
fn web3_path() -> PathBuf {
    let install = "install Python 3.8 or newer with pip (e.g. `apt-get install python3 python3-pip`)";
    require("python3", install);
    let found = Command::new("python3").args(["-m", "pip", "--version"]).output().map(|output| output.status.success());
    assert!(matches!(found, Ok(true)), "tests/clients.rs needs `python3 -m pip`: {install}");
    let target = cache_dir().join(format!("web3-{WEB3_VERSION}"));
    if !target.join("web3").join("__init__.py").exists() {
        std::fs::create_dir_all(&target).unwrap();
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
            .arg(&target)
            .arg(format!("web3=={WEB3_VERSION}"))
            .status()
            .expect("pip runs");
        assert!(status.success(), "pip install web3=={WEB3_VERSION} into {} failed", target.display());
    }
    target
}

/// Runs a client script against a fresh `--dev` node and checks it printed `done`.
fn run_script(program: &str, script: &str, env: (&str, PathBuf), done: &str) {
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    run_script_on(&node, program, script, env, done);
    node.stop();
}

/// Seals an sr25519 transfer (//Alice to //Bob, `author_submitExtrinsic`) on `node`, for the
/// scripts to read back through the Ethereum view; returns its hash and Alice's mapped H160.
fn seal_sr25519_transfer(node: &RunningNode) -> (String, String) {
    use jsonrpsee::core::client::ClientT;
    use pvm_node::chain::keys::{address_of_suri, pair_from_suri};
    use pvm_node::chain::primitives::H256;
    use pvm_node::chain::tx::{Call, SignedTransaction, TransactionPayload};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = node.client();
        let genesis: String = client.request("chain_getBlockHash", jsonrpsee::rpc_params![0]).await.unwrap();
        let genesis = H256::from_slice(&hex::decode(&genesis[2..]).unwrap());
        let tx = SignedTransaction::sign(
            &pair_from_suri("//Alice").unwrap(),
            &genesis,
            TransactionPayload {
                nonce: 0,
                gas_limit: 100_000,
                call: Call::Transfer { dest: address_of_suri("//Bob").unwrap(), value: 1 },
            },
        );
        let extrinsic = format!("0x{}", hex::encode(tx.to_extrinsic()));
        let hash: String = client.request("author_submitExtrinsic", jsonrpsee::rpc_params![extrinsic]).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let receipt: serde_json::Value =
                client.request("contracts_getReceipt", jsonrpsee::rpc_params![hash.clone()]).await.unwrap();
            if !receipt.is_null() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the sr25519 transfer was not sealed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        (hash, format!("{:?}", address_of_suri("//Alice").unwrap()))
    })
}

/// Runs a client script against `node` and checks it printed `done`.
fn run_script_on(node: &RunningNode, program: &str, script: &str, env: (&str, PathBuf), done: &str) {
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let (sr25519_tx, sr25519_from) = seal_sr25519_transfer(node);
    let output = Command::new(program)
        .arg(clients.join(script))
        .env(env.0, &env.1)
        .env("ETH_RPC_URL", &node.eth)
        .env("CONTRACTS", pvm_testkit::testdata("contracts"))
        .env("ESCROW", clients.join("escrow"))
        .env("SR25519_TX", sr25519_tx)
        .env("SR25519_FROM", sr25519_from)
        .output()
        .expect("the client script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(done),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nnode log:\n{}",
        std::fs::read_to_string(&node.log).unwrap_or_default()
    );
}

#[test]
fn web3_py_deploys_calls_reads_events_and_sees_reverts() {
    run_script("python3", "web3_check.py", ("WEB3_PATH", web3_path()), "web3.py: all checks passed");
}

#[test]
fn ethers_v6_deploys_calls_reads_events_and_sees_reverts() {
    run_script("node", "ethers.cjs", ("ETHERS_MODULE", ethers_module()), "ethers: all checks passed");
}

/// Must-show: a client the team did not write (viem), against a contract no other test uses
/// (the Escrow), through the address Ethereum tools use by default, `http://127.0.0.1:8545`
/// (`pvm-node --dev` without `--eth-rpc-port`), with the first Hardhat dev key. It is the one
/// test that takes port 8545; if something else holds it, the node does not start and the
/// test fails saying so.
#[test]
fn viem_deploys_calls_reads_events_and_sees_reverts_on_8545() {
    let modules = npm_package("viem", VIEM_VERSION);
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start_with_ports(&["--dev"], &[], dir.path());
    assert_eq!(node.eth, "http://127.0.0.1:8545", "the node's default Ethereum port");
    run_script_on(&node, "node", "viem.cjs", ("VIEM_NODE_MODULES", modules), "viem: all checks passed");
    node.stop();
}
