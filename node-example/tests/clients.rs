//! Ethereum clients the project did not write, against a fresh `--dev` node's
//! `--eth-rpc-port`: `tests/clients/ethers.cjs` with ethers v6 and
//! `tests/clients/web3_check.py` with web3.py (versions pinned below).
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

/// The installed `ethers` package folder, installing it first if needed.
fn ethers_module() -> PathBuf {
    let install = "install Node.js 18 or newer with npm (e.g. `apt-get install nodejs npm`)";
    require("node", install);
    require("npm", install);
    let prefix = cache_dir().join(format!("ethers-{ETHERS_VERSION}"));
    let module = prefix.join("node_modules").join("ethers");
    if !module.join("package.json").exists() {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("ethers@{ETHERS_VERSION}"))
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm install ethers@{ETHERS_VERSION} into {} failed", prefix.display());
    }
    module
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
    let output = Command::new(program)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(script))
        .env(env.0, &env.1)
        .env("ETH_RPC_URL", &node.eth)
        .env("CONTRACTS", pvm_testkit::testdata("contracts"))
        .output()
        .expect("the client script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(done),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nnode log:\n{}",
        std::fs::read_to_string(&node.log).unwrap_or_default()
    );
    node.stop();
}

#[test]
fn web3_py_deploys_calls_reads_events_and_sees_reverts() {
    run_script("python3", "web3_check.py", ("WEB3_PATH", web3_path()), "web3.py: all checks passed");
}

#[test]
fn ethers_v6_deploys_calls_reads_events_and_sees_reverts() {
    run_script("node", "ethers.cjs", ("ETHERS_MODULE", ethers_module()), "ethers: all checks passed");
}
