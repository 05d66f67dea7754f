//! The node under load: `clients` concurrent clients (default 32) for `seconds` (default 60)
//! against a `pvm-node --dev` started on loopback (free ports, a temporary base path), each
//! mixing signed balance and ERC-20 transfers, transactions with a stale nonce, dry runs and
//! reads; then every submitted transaction is accounted for and every block replayed on a
//! fresh node (see `tests/common/load.rs`, shared with `tests/load.rs`). Prints Markdown
//! tables; exits with status 1 if a transaction is unaccounted for or the replay's state
//! root differs.
//!
//! ```sh
//! cargo bench -p pvm-node --bench load -- --clients 32 --seconds 60
//! cargo bench -p pvm-node --bench load -- --clients 32 --seconds 60 --sandbox process
//! ```
//!
//! `--sandbox` is passed to the node: where its compiled contract code runs (`in-process`,
//! the default, or `process`, the executor's worker processes).

#[path = "../tests/common/mod.rs"]
mod common;

use common::load::{self, LoadConfig, ReplayMode};
use common::RunningNode;
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: load [--clients N] [--seconds S] [--seed N] [--sandbox in-process|process]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut config = LoadConfig {
        clients: 32,
        duration: Duration::from_secs(60),
        seed: 16,
        token_code: common::contract("Token.polkavm"),
        replay: ReplayMode::PerBlock,
    };
    let mut sandbox = "in-process".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--sandbox" {
            sandbox = args.next().filter(|name| name == "in-process" || name == "process").unwrap_or_else(|| usage());
            continue;
        }
        let mut value = || args.next().and_then(|text| text.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match arg.as_str() {
            "--clients" => config.clients = value() as usize,
            "--seconds" => config.duration = Duration::from_secs(value()),
            "--seed" => config.seed = value(),
            // `cargo bench` passes `--bench` to harness-less benches.
            "--bench" => {}
            _ => usage(),
        }
    }
    if config.clients < 2 {
        usage();
    }
    let dir = tempfile::tempdir().expect("a temporary base path");
    let node = RunningNode::start(&["--dev", "--sandbox", &sandbox], dir.path());
    eprintln!("node at {} ({sandbox} sandbox); {} clients for {:?}", node.rpc, config.clients, config.duration);
    let report = match load::run(&node.rpc, &config).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("load test failed: {error}");
            std::process::exit(1);
        }
    };
    println!("{}", report.markdown());
    node.stop();
    if !report.all_accounted() || !report.replay.matches() {
        eprintln!(
            "FAILED: unaccounted {:?}, refused but included {:?}, unknown included {:?}, failures {:?}, replay {:?}",
            report.unaccounted, report.refused_but_included, report.unknown_included, report.failures, report.replay
        );
        std::process::exit(1);
    }
}
