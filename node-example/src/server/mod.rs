//! What the node serves: JSON-RPC and metrics.

pub mod body_deadline;
pub mod eth;
pub mod metrics;
pub mod rpc;
