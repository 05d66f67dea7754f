//! Prometheus metrics in the text exposition format, served at `GET /metrics`.

use crate::chain::node::Node;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Renders every metric of `node`.
pub fn render(node: &Node) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    let best = node.best_header();
    let cache = node.cache_stats();
    let counters = &node.metrics;
    metric("pvm_node_best_block", "gauge", "Number of the best block.", best.number);
    metric(
        "pvm_node_blocks_sealed_total",
        "counter",
        "Blocks sealed since the node started.",
        counters.blocks_sealed.load(Ordering::Relaxed),
    );
    metric(
        "pvm_node_transactions_included_total",
        "counter",
        "Transactions included in blocks since the node started.",
        counters.transactions_included.load(Ordering::Relaxed),
    );
    metric(
        "pvm_node_transactions_rejected_total",
        "counter",
        "Extrinsics refused at submission since the node started.",
        counters.transactions_rejected.load(Ordering::Relaxed),
    );
    metric(
        "pvm_node_dry_runs_total",
        "counter",
        "Dry-run calls and instantiations served.",
        counters.dry_runs.load(Ordering::Relaxed),
    );
    metric("pvm_node_pool_pending", "gauge", "Transactions waiting in the pool.", node.pending_count() as u64);
    metric(
        "pvm_node_module_cache_hits_total",
        "counter",
        "Module cache lookups that found a compiled module.",
        cache.hits,
    );
    metric("pvm_node_module_cache_misses_total", "counter", "Module cache lookups that had to compile.", cache.misses);
    metric(
        "pvm_node_module_cache_evictions_total",
        "counter",
        "Modules evicted from the module cache.",
        cache.evictions,
    );
    metric("pvm_node_module_cache_compilations_total", "counter", "Modules compiled.", cache.compilations);
    metric("pvm_node_module_cache_entries", "gauge", "Modules held in the module cache.", cache.entries);
    metric("pvm_node_module_cache_bytes", "gauge", "Bytes held in the module cache.", cache.bytes);
    out
}

/// Serves `/metrics` on `address` until the task is dropped. Returns the bound address.
pub async fn start(node: Arc<Node>, address: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let node = node.clone();
            tokio::spawn(async move {
                let mut request = Vec::with_capacity(1024);
                let mut buffer = [0u8; 1024];
                // Read the request head (bounded in size and time).
                let head_complete = tokio::time::timeout(Duration::from_secs(5), async {
                    loop {
                        match socket.read(&mut buffer).await {
                            Ok(0) | Err(_) => return false,
                            Ok(read) => {
                                request.extend_from_slice(&buffer[..read]);
                                if request.windows(4).any(|window| window == b"\r\n\r\n") {
                                    return true;
                                }
                                if request.len() > 16 * 1024 {
                                    return false;
                                }
                            }
                        }
                    }
                })
                .await
                .unwrap_or(false);
                if !head_complete {
                    return;
                }
                let line = request.split(|byte| *byte == b'\n').next().unwrap_or_default();
                let line = String::from_utf8_lossy(line);
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                let response = if method == "GET" && (path == "/metrics" || path.starts_with("/metrics?")) {
                    let body = render(&node);
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    let body = "not found; metrics are at /metrics\n";
                    format!(
                        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok((local, task))
}
