//! The chain's data and its production: primitives, keys, transactions, the store, chain
//! specs, and the node that builds blocks.

pub mod chain_spec;
pub mod eth;
pub mod keys;
pub mod node;
pub mod primitives;
pub mod store;
pub mod tx;
