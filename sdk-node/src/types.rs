//! The chain's opaque types, as the node sees them.
//!
//! The node does not link the runtime crate (`runtimes/dev-runtime`): building it natively would
//! pull FRAME and substrate-wasm-builder (with binaryen's C++) into the node's build. What the
//! node needs of the runtime is only the shape of its blocks, and `pvm-dev-runtime` uses the
//! standard ones: `u32` block numbers, BlakeTwo256 headers, opaque extrinsics, `AccountId32`
//! accounts with `u32` nonces (see runtimes/README.md).

use sp_runtime::{generic, traits::BlakeTwo256, OpaqueExtrinsic};

/// Block number of the dev runtime (`frame_system::Config::Block`'s header number).
pub type BlockNumber = u32;
/// The header of the dev runtime's blocks.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// A block with opaque (still encoded) extrinsics: what the client stores, gossips and imports.
pub type Block = generic::Block<Header, OpaqueExtrinsic>;
/// Account identifier of the dev runtime (sr25519 public keys, SS58 prefix 42).
pub type AccountId = sp_runtime::AccountId32;
/// Account nonce of the dev runtime (`frame_system::Config::Nonce`).
pub type Nonce = u32;
/// Block hash.
pub type Hash = sp_core::H256;
