//! A short load test in CI: 32 clients for 5 s against a `--dev` node on loopback, mixing
//! signed transfers (balance and ERC-20), signed transactions with a stale nonce, dry runs
//! and reads (see `common/load.rs`, which `benches/load.rs` runs for 60 s). Every submitted
//! transaction must be accounted for (included in a block with its receipt, or refused
//! with a reason), and replaying every block on a fresh node must give the same state root
//! after each block.

mod common;

use common::load::{self, Kind, LoadConfig, ReplayMode};
use common::RunningNode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_every_transaction_accounted_for_and_the_replay_matches() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let node = RunningNode::start(&["--dev"], dir.path());
    let config = LoadConfig {
        clients: 32,
        duration: Duration::from_secs(5),
        seed: 16,
        token_code: common::contract("Token.polkavm"),
        replay: ReplayMode::Chunked,
    };
    let report = load::run(&node.rpc, &config).await.unwrap();
    println!("{}", report.markdown());

    assert!(report.failures.is_empty(), "dry runs or reads failed: {:?}", report.failures);
    assert!(report.unaccounted.is_empty(), "accepted but in no block: {:?}", report.unaccounted);
    assert!(report.refused_but_included.is_empty(), "refused yet included: {:?}", report.refused_but_included);
    assert!(report.unknown_included.is_empty(), "included, never submitted: {:?}", report.unknown_included);
    assert!(report.all_accounted());
    for submission in &report.submissions {
        match (submission.kind, &submission.answer) {
            // A stale nonce is always refused as an invalid transaction.
            (Kind::StaleNonce, answer) => {
                let (code, message) = answer.as_ref().expect_err("a stale nonce was accepted");
                assert_eq!(*code, 1010, "{message}");
                assert!(message.contains("stale"), "{message}");
            }
            // A valid transaction may only be refused because the pool is full.
            (_, Err((code, message))) => assert_eq!(*code, 1016, "a valid transaction refused: {message}"),
            (_, Ok(())) => {}
        }
    }
    for (kind, figures) in &report.kinds {
        assert!(figures.count > 0, "{kind:?}");
    }
    let included = |kind| report.kinds.iter().find(|(k, _)| *k == kind).map_or(0, |(_, figures)| figures.included);
    assert!(included(Kind::Transfer) > 0 && included(Kind::TokenTransfer) > 0, "{}", report.markdown());
    assert_eq!(report.statuses.keys().collect::<Vec<_>>(), ["success"], "every included transfer succeeds");
    assert!(report.replay.matches(), "replay: {:?}", report.replay);
    println!("load test took {:.1} s", started.elapsed().as_secs_f64());
    node.stop();
}
