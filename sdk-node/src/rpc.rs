//! The node's RPC methods beyond those sc-service installs itself (`system_*`, `chain_*`,
//! `state_*`, `author_*`, `childstate_*`, `offchain_*`, `rpc_methods`, the new JSON-RPC spec's
//! `chainHead_v1_*`/`transaction_v1_*`/...).

use crate::types::{AccountId, Block, Hash, Nonce};
use futures::channel::mpsc;
use jsonrpsee::RpcModule;
use sc_consensus_manual_seal::{
    rpc::{ManualSeal, ManualSealApiServer},
    EngineCommand,
};
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::HeaderBackend;
use std::sync::Arc;
use substrate_frame_rpc_system::{System, SystemApiServer};

/// What the extra RPC methods need.
pub struct Deps<C, P> {
    /// The client.
    pub client: Arc<C>,
    /// The transaction pool.
    pub pool: Arc<P>,
    /// The channel into the sealing task, when this node seals its own blocks: adds
    /// `engine_createBlock` and `engine_finalizeBlock`.
    pub seal_commands: Option<mpsc::Sender<EngineCommand<Hash>>>,
}

/// `system_accountNextIndex` (the account's nonce including pool transactions, which wallets
/// such as `@polkadot/api` ask before signing) and, on a sealing node, manual seal's `engine_*`.
pub fn create<C, P>(deps: Deps<C, P>) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> + BlockBuilder<Block>,
    P: TransactionPool + 'static,
{
    let Deps { client, pool, seal_commands } = deps;
    let mut module = RpcModule::new(());
    module.merge(System::new(client, pool).into_rpc())?;
    if let Some(commands) = seal_commands {
        module.merge(ManualSeal::new(commands).into_rpc())?;
    }
    Ok(module)
}
