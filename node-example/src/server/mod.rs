//! What the node serves: JSON-RPC and metrics.

pub mod eth;
pub mod metrics;
pub mod rpc;
