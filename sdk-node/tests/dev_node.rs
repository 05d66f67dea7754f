//! Starts `sdk-node --dev` on loopback ports and checks over Substrate's JSON-RPC that it
//! produces blocks on our executor; then starts a second node on the same chain, pointed at the
//! first, and checks that it imports the first node's blocks (same hashes, same state roots).
//!
//! Then //Alice pays //Bob with a transfer built and signed by `@polkadot/api` (a client this
//! project did not write), submitted to the first node with `author_submitExtrinsic`; both
//! nodes must show the same balances at the block that includes it. `@polkadot/api` is
//! installed from npm on first use into a cache outside the clone (`$SDK_NODE_CLIENTS_CACHE`,
//! else `$HOME/.cache/sdk-node-clients`); without Node.js and npm the test fails saying so.
//!
//! Finally the second node is stopped and restarted on its database while the first goes on,
//! and must catch up.
//!
//! Bounded: every wait has a deadline, both nodes are killed when the test ends (pass or fail),
//! and nothing listens beyond 127.0.0.1.

use serde_json::{json, Value};
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a debug build of the node may take to start and seal its first blocks on a busy
/// 2-core machine (genesis and the first block include compiling the runtime).
const START_DEADLINE: Duration = Duration::from_secs(240);

/// A node process, killed and reaped on drop.
struct Node {
    child: Child,
    rpc_port: u16,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        // The child is ours; killing an already exited child only returns an error we can ignore.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts a node; its state is in a temporary folder unless `extra` names a `--base-path`.
    fn start(name: &str, extra: &[String]) -> Node {
        let rpc_port = free_port();
        let p2p_port = free_port();
        let log = std::env::temp_dir().join(format!("sdk-node-test-{name}-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create the node's log file");
        let mut args: Vec<String> = vec![
            "--rpc-port".into(),
            rpc_port.to_string(),
            "--listen-addr".into(),
            format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
            "--no-prometheus".into(),
            "--no-telemetry".into(),
            "--no-mdns".into(),
            "--name".into(),
            name.into(),
        ];
        args.extend(extra.iter().cloned());
        if !extra.iter().any(|arg| arg == "--base-path") {
            args.push("--tmp".into());
        }
        let child = Command::new(env!("CARGO_BIN_EXE_sdk-node"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn sdk-node");
        Node { child, rpc_port, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// One JSON-RPC call over HTTP; `None` while the server is not up.
    fn try_rpc(&self, method: &str, params: Value) -> Option<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.rpc_port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        // HTTP/1.0: the response comes whole, without chunked encoding, and the connection closes.
        // The Host header carries the port: a node that is not `--dev` filters hosts, and only
        // accepts `127.0.0.1:PORT`/`localhost:PORT`.
        let request = format!(
            "POST / HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.rpc_port,
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (_, payload) = response.split_once("\r\n\r\n")?;
        let reply: Value = serde_json::from_str(payload).ok()?;
        if let Some(error) = reply.get("error") {
            panic!("{method} failed: {error}");
        }
        reply.get("result").cloned()
    }

    fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params).unwrap_or_else(|| panic!("{method}: no answer\n{}", self.log_tail()))
    }

    fn best_number(&self) -> Option<u64> {
        self.try_rpc("chain_getHeader", json!([])).map(|header| header_number(&header))
    }

    /// Waits until the best block is at least `number`.
    fn wait_for_block(&mut self, number: u64, deadline: Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the node") {
                panic!("the node exited ({status}) before block {number}\n{}", self.log_tail());
            }
            if self.best_number().is_some_and(|best| best >= number) {
                return;
            }
            if start.elapsed() > deadline {
                panic!("no block {number} after {deadline:?}\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn block_hash(&self, number: u64) -> Value {
        self.rpc("chain_getBlockHash", json!([number]))
    }
}

/// //Alice's sr25519 public key.
const ALICE: [u8; 32] = [
    0xd4, 0x35, 0x93, 0xc7, 0x15, 0xfd, 0xd3, 0x1c, 0x61, 0x14, 0x1a, 0xbd, 0x04, 0xa9, 0x9f, 0xd6, 0x82, 0x2c, 0x85,
    0x58, 0x85, 0x4c, 0xcd, 0xe3, 0x9a, 0x56, 0x84, 0xe7, 0xa5, 0x6d, 0xa2, 0x7d,
];

/// //Bob's sr25519 public key.
const BOB: [u8; 32] = [
    0x8e, 0xaf, 0x04, 0x15, 0x16, 0x87, 0x73, 0x63, 0x26, 0xc9, 0xfe, 0xa1, 0x7e, 0x25, 0xfc, 0x52, 0x87, 0x61, 0x36,
    0x93, 0xc9, 0x12, 0x90, 0x9c, 0xb2, 0x26, 0xaa, 0x47, 0x94, 0xf2, 0x6a, 0x48,
];

/// The storage key of `System::Account(account)` (a `Blake2_128Concat` map), as hex.
fn system_account_key(account: [u8; 32]) -> String {
    let mut key = sp_crypto_hashing::twox_128(b"System").to_vec();
    key.extend(sp_crypto_hashing::twox_128(b"Account"));
    key.extend(sp_crypto_hashing::blake2_128(&account));
    key.extend(account);
    format!("0x{}", key.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// `AccountInfo { nonce: u32, consumers: u32, providers: u32, sufficients: u32, data: { free: u128, ... } }`:
/// the free balance of a SCALE-encoded account, given as a hex string.
fn free_balance(account: &Value) -> u128 {
    let hex = account.as_str().unwrap_or_else(|| panic!("no account at {account}")).trim_start_matches("0x");
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    u128::from_le_bytes(bytes[16..32].try_into().unwrap())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

#[test]
fn dev_node_produces_blocks_and_a_peer_imports_them() {
    let mut alice = Node::start("alice", &["--dev".into(), "--dev-block-time".into(), "1000".into()]);
    alice.wait_for_block(3, START_DEADLINE);

    let version = alice.rpc("state_getRuntimeVersion", json!([]));
    assert_eq!(version["specName"], "pvm-dev-runtime", "{version}");
    let health = alice.rpc("system_health", json!([]));
    assert_eq!(health["isSyncing"], false, "{health}");
    // Blocks are sealed and finalized at once.
    let finalized = alice.rpc("chain_getFinalizedHead", json!([]));
    let finalized_header = alice.rpc("chain_getHeader", json!([finalized]));
    assert_ne!(finalized_header["number"], "0x0", "{finalized_header}");
    let properties = alice.rpc("system_properties", json!([]));
    assert_eq!(properties["tokenDecimals"], 12, "{properties}");
    // The genesis our executor built from the `development` preset funds //Alice with
    // 1,000,000 UNIT (10^18): System::Account(//Alice).data.free, at the genesis block.
    let genesis = alice.block_hash(0);
    let account = alice.rpc("state_getStorage", json!([system_account_key(ALICE), genesis]));
    assert_eq!(free_balance(&account), 1_000_000_000_000_000_000, "{account}");

    // A second node on the same chain, not an authority, pointed at the first.
    let peer_id = alice.rpc("system_localPeerId", json!([]));
    let listen = alice.rpc("system_localListenAddresses", json!([]));
    let address = listen
        .as_array()
        .and_then(|addresses| addresses.iter().filter_map(Value::as_str).find(|a| a.starts_with("/ip4/127.0.0.1/")))
        .unwrap_or_else(|| panic!("no loopback listen address in {listen}"))
        .to_owned();
    let bootnode =
        if address.contains("/p2p/") { address } else { format!("{address}/p2p/{}", peer_id.as_str().unwrap()) };
    // Bob keeps his state in a folder of his own, to be restarted on it below.
    let bob_base = BasePath::new("bob");
    let bob_args: Vec<String> = vec![
        "--chain".into(),
        "dev".into(),
        "--bootnodes".into(),
        bootnode,
        "--base-path".into(),
        bob_base.0.display().to_string(),
    ];
    let mut bob = Node::start("bob", &bob_args);

    // Bob has Alice's genesis (both built by our executor from the same preset) ...
    bob.wait_for_block(0, START_DEADLINE);
    assert_eq!(bob.block_hash(0), alice.block_hash(0));
    // ... and imports her blocks, executing each on our executor.
    let target = alice.best_number().expect("alice's best block") + 2;
    bob.wait_for_block(target, START_DEADLINE);
    for number in [1, target] {
        let hash = alice.block_hash(number);
        assert_eq!(bob.block_hash(number), hash, "block {number}");
        let a = alice.rpc("chain_getHeader", json!([hash]));
        let b = bob.rpc("chain_getHeader", json!([hash]));
        assert_eq!(a["stateRoot"], b["stateRoot"], "block {number}");
    }
    let peers = bob.rpc("system_health", json!([]));
    assert!(peers["peers"].as_u64().is_some_and(|n| n >= 1), "{peers}");

    // //Alice -> //Bob, 25 UNIT, signed by @polkadot/api, submitted to Alice's node.
    const AMOUNT: u128 = 25_000_000_000_000;
    let output = Command::new("node")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/transfer.mjs"))
        .arg(format!("ws://127.0.0.1:{}", alice.rpc_port))
        .arg(AMOUNT.to_string())
        .env("NODE_PATH", polkadot_api_modules())
        .output()
        .expect("node runs transfer.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "transfer.mjs failed\nstdout:\n{stdout}\nstderr:\n{}\nalice:\n{}",
        String::from_utf8_lossy(&output.stderr),
        alice.log_tail()
    );
    let receipt: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let events = receipt["events"].to_string();
    assert!(events.contains("balances.Transfer") && events.contains("system.ExtrinsicSuccess"), "{receipt}");
    let block = receipt["block"].clone();
    let number = header_number(&alice.rpc("chain_getHeader", json!([block])));
    bob.wait_for_block(number, START_DEADLINE);
    assert_eq!(bob.block_hash(number), block, "bob has the transfer's block");
    for (who, key) in [("alice", ALICE), ("bob", BOB)] {
        let on_alice = alice.rpc("state_getStorage", json!([system_account_key(key), block]));
        let on_bob = bob.rpc("state_getStorage", json!([system_account_key(key), block]));
        assert_eq!(on_alice, on_bob, "{who}'s account differs between the nodes");
    }
    let bob_free = free_balance(&alice.rpc("state_getStorage", json!([system_account_key(BOB), block])));
    assert_eq!(bob_free, 1_000_000_000_000_000_000 + AMOUNT);
    let alice_free = free_balance(&alice.rpc("state_getStorage", json!([system_account_key(ALICE), block])));
    assert!(alice_free < 1_000_000_000_000_000_000 - AMOUNT, "alice paid the amount and a fee: {alice_free}");
    let roots = [&alice, &bob].map(|node| node.rpc("chain_getHeader", json!([block]))["stateRoot"].clone());
    assert_eq!(roots[0], roots[1]);

    // Bob stops; Alice goes on for a few blocks; Bob restarted on his database catches up.
    let stopped_at = bob.best_number().expect("bob's best block");
    drop(bob);
    alice.wait_for_block(stopped_at + 4, START_DEADLINE);
    let target = alice.best_number().expect("alice's best block");
    let mut bob = Node::start("bob-restarted", &bob_args);
    bob.wait_for_block(target, START_DEADLINE);
    assert_eq!(bob.block_hash(target), alice.block_hash(target), "block {target} after the restart");
    assert_eq!(bob.block_hash(number), block, "the transfer's block survived the restart");
}

/// A node's `--base-path` under the system's temporary folder, removed when dropped.
struct BasePath(PathBuf);

impl BasePath {
    fn new(name: &str) -> BasePath {
        let path = std::env::temp_dir().join(format!("sdk-node-test-{name}-base-{}", std::process::id()));
        // A leftover of an earlier run with the same process id would start the node on old state.
        let _ = std::fs::remove_dir_all(&path);
        BasePath(path)
    }
}

impl Drop for BasePath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn header_number(header: &Value) -> u64 {
    u64::from_str_radix(header["number"].as_str().expect("a header number").trim_start_matches("0x"), 16).expect("hex")
}

/// The @polkadot/api version the script is tested with, and its keyring.
const POLKADOT_API_VERSION: &str = "16.5.6";
const POLKADOT_KEYRING_VERSION: &str = "14.0.3";

/// A `node_modules` folder holding @polkadot/api and @polkadot/keyring, installed first if
/// needed.
fn polkadot_api_modules() -> PathBuf {
    let install = "install Node.js 18 or newer with npm (e.g. `apt-get install nodejs npm`)";
    for program in ["node", "npm"] {
        let found = Command::new(program).arg("--version").output().map(|output| output.status.success());
        assert!(matches!(found, Ok(true)), "tests/dev_node.rs needs `{program}` on PATH: {install}");
    }
    let cache = match std::env::var_os("SDK_NODE_CLIENTS_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set (or set SDK_NODE_CLIENTS_CACHE)"))
            .join(".cache")
            .join("sdk-node-clients"),
    };
    let prefix = cache.join(format!("polkadot-api-{POLKADOT_API_VERSION}"));
    let modules = prefix.join("node_modules");
    let installed = ["api", "keyring"].iter().all(|p| modules.join("@polkadot").join(p).join("package.json").exists());
    if !installed {
        std::fs::create_dir_all(&prefix).expect("create the npm cache folder");
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("@polkadot/api@{POLKADOT_API_VERSION}"))
            .arg(format!("@polkadot/keyring@{POLKADOT_KEYRING_VERSION}"))
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm install @polkadot/api into {} failed", prefix.display());
    }
    modules
}
