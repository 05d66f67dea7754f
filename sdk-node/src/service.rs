//! The node's service: client, database, transaction pool, networking, RPC and, on an
//! authority of a development chain, block production by manual seal on a timer.

use crate::{
    cli::NodeOptions,
    genesis::HostFunctions,
    runtime_api::RuntimeApi,
    types::{Block, Hash},
};
use futures::channel::mpsc;
use sc_client_api::StorageProvider;
use sc_consensus_manual_seal::EngineCommand;
use sc_executor_pvm::PvmExecutor;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sp_core::storage::StorageKey;
use sp_runtime::traits::Block as BlockT;
use std::{sync::Arc, time::Duration};

/// The executor of this node: PolkaVM runtimes on our engine, Wasm runtimes on sc-executor's
/// `WasmExecutor` inside it.
pub type Executor = PvmExecutor<HostFunctions>;

/// The client: polkadot-sdk's full client with our executor.
pub type FullClient = sc_service::TFullClient<Block, RuntimeApi, Executor>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;

/// The parts of a node that the maintenance subcommands need too.
pub type Partial = sc_service::PartialComponents<
    FullClient,
    FullBackend,
    FullSelectChain,
    sc_consensus::DefaultImportQueue<Block>,
    sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
    Option<Telemetry>,
>;

/// `pallet_timestamp`'s `MinimumPeriod` in the dev runtime: a block's timestamp must be at
/// least this much after its parent's (runtimes/README.md: 3,000 ms).
const MINIMUM_PERIOD_MS: u64 = 3_000;

/// Pending seal commands; the timer skips a tick rather than queue more when sealing is slower
/// than the block time.
const SEAL_QUEUE: usize = 16;

/// Our executor on the node's configuration: the chosen PVM backend, and for Wasm runtimes the
/// `WasmExecutor` sc-service would have built (`--wasm-execution`, heap pages, instance count,
/// runtime cache size).
pub fn new_executor(config: &Configuration, options: &NodeOptions) -> Result<Executor, ServiceError> {
    let wasm = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
    PvmExecutor::builder()
        .with_backend(options.pvm_backend.into())
        .with_runtime_cache_size(usize::from(config.executor.runtime_cache_size.max(1)))
        .with_wasm_executor(wasm)
        .build()
        .map_err(|e| ServiceError::Other(format!("creating the PVM executor: {e}")))
}

/// Client, backend, pool and import queue (what `new_full` and the subcommands share).
pub fn new_partial(config: &Configuration, options: &NodeOptions) -> Result<Partial, ServiceError> {
    let telemetry = config
        .telemetry_endpoints
        .clone()
        .filter(|endpoints| !endpoints.is_empty())
        .map(|endpoints| -> Result<_, sc_telemetry::Error> {
            let worker = TelemetryWorker::new(16)?;
            let telemetry = worker.handle().new_telemetry(endpoints);
            Ok((worker, telemetry))
        })
        .transpose()?;

    let executor = new_executor(config, options)?;
    let (client, backend, keystore_container, task_manager) = sc_service::new_full_parts::<Block, RuntimeApi, _>(
        config,
        telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
        executor,
        Vec::new(),
    )?;
    let client = Arc::new(client);

    let telemetry = telemetry.map(|(worker, telemetry)| {
        task_manager.spawn_handle().spawn("telemetry", None, worker.run());
        telemetry
    });

    let select_chain = sc_consensus::LongestChain::new(backend.clone());

    let transaction_pool = Arc::from(
        sc_transaction_pool::Builder::new(
            task_manager.spawn_essential_handle(),
            client.clone(),
            config.role.is_authority().into(),
        )
        .with_options(config.transaction_pool.clone())
        .with_prometheus(config.prometheus_registry())
        .build(),
    );

    // Manual seal's verifier accepts any block (there is no seal to check); every block is
    // still executed by the client on import, on our executor.
    let import_queue = sc_consensus_manual_seal::import_queue(
        Box::new(client.clone()),
        &task_manager.spawn_essential_handle(),
        config.prometheus_registry(),
    );

    Ok(sc_service::PartialComponents {
        client,
        backend,
        task_manager,
        import_queue,
        keystore_container,
        select_chain,
        transaction_pool,
        other: telemetry,
    })
}

/// The full node. An authority (`--validator`, `--alice`, implied by `--dev`) seals a block
/// every `--dev-block-time` ms, empty or not, and finalizes it at once; other nodes import
/// what they receive.
pub fn new_full<Network: sc_network::NetworkBackend<Block, <Block as BlockT>::Hash>>(
    config: Configuration,
    options: &NodeOptions,
) -> Result<TaskManager, ServiceError> {
    let sc_service::PartialComponents {
        client,
        backend,
        mut task_manager,
        import_queue,
        keystore_container,
        select_chain,
        transaction_pool,
        other: mut telemetry,
    } = new_partial(&config, options)?;

    let net_config = sc_network::config::FullNetworkConfiguration::<Block, <Block as BlockT>::Hash, Network>::new(
        &config.network,
        config.prometheus_config.as_ref().map(|cfg| cfg.registry.clone()),
    );
    let metrics = Network::register_notification_metrics(config.prometheus_config.as_ref().map(|cfg| &cfg.registry));

    let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
        sc_service::build_network(sc_service::BuildNetworkParams {
            config: &config,
            net_config,
            client: client.clone(),
            transaction_pool: transaction_pool.clone(),
            spawn_handle: task_manager.spawn_handle(),
            spawn_essential_handle: task_manager.spawn_essential_handle(),
            import_queue,
            block_announce_validator_builder: None,
            warp_sync_config: None,
            block_relay: None,
            metrics,
            gap_sync_body_policy: None,
        })?;

    let sealing = config.role.is_authority();
    let (seal_sink, seal_commands) = mpsc::channel::<EngineCommand<Hash>>(SEAL_QUEUE);

    let rpc_builder = {
        let client = client.clone();
        let pool = transaction_pool.clone();
        let seal_sink = sealing.then(|| seal_sink.clone());
        Box::new(move |_| {
            crate::rpc::create(crate::rpc::Deps {
                client: client.clone(),
                pool: pool.clone(),
                seal_commands: seal_sink.clone(),
            })
            .map_err(ServiceError::Application)
        })
    };

    let prometheus_registry = config.prometheus_registry().cloned();

    sc_service::spawn_tasks(sc_service::SpawnTasksParams {
        network,
        client: client.clone(),
        keystore: keystore_container.keystore(),
        task_manager: &mut task_manager,
        transaction_pool: transaction_pool.clone(),
        rpc_builder,
        backend,
        system_rpc_tx,
        tx_handler_controller,
        sync_service,
        config,
        telemetry: telemetry.as_mut(),
        tracing_execute_block: None,
    })?;

    if !sealing {
        return Ok(task_manager);
    }

    let proposer = sc_basic_authorship::ProposerFactory::new(
        task_manager.spawn_handle(),
        client.clone(),
        transaction_pool.clone(),
        prometheus_registry.as_ref(),
        telemetry.as_ref().map(|telemetry| telemetry.handle()),
    );

    let block_time = Duration::from_millis(options.dev_block_time);
    task_manager.spawn_handle().spawn("seal-timer", None, seal_timer(seal_sink, block_time));

    let timestamp_client = client.clone();
    let params = sc_consensus_manual_seal::ManualSealParams {
        block_import: client.clone(),
        env: proposer,
        client,
        pool: transaction_pool,
        select_chain,
        commands_stream: Box::pin(seal_commands),
        consensus_data_provider: None,
        create_inherent_data_providers: move |parent: Hash, ()| {
            let client = timestamp_client.clone();
            async move {
                let timestamp = next_timestamp(&client, parent)?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(sp_timestamp::InherentDataProvider::new(
                    timestamp.into(),
                ))
            }
        },
    };
    task_manager.spawn_essential_handle().spawn_blocking(
        "manual-seal",
        None,
        sc_consensus_manual_seal::run_manual_seal(params),
    );

    Ok(task_manager)
}

/// Asks the sealing task for a block (empty if the pool is) every `block_time`, finalized at
/// once. Ends when the sealing task has gone away.
async fn seal_timer(mut sink: mpsc::Sender<EngineCommand<Hash>>, block_time: Duration) {
    loop {
        futures_timer::Delay::new(block_time).await;
        let command =
            EngineCommand::SealNewBlock { create_empty: true, finalize: true, parent_hash: None, sender: None };
        match sink.try_send(command) {
            Ok(()) => {}
            Err(e) if e.is_full() => log::debug!(target: "sdk-node", "sealing is behind the block time; tick skipped"),
            Err(_) => {
                log::info!(target: "sdk-node", "sealing task ended; block timer stops");
                return;
            }
        }
    }
}

/// The timestamp of a block built on `parent`: the wall clock, but never less than the
/// parent's timestamp plus the runtime's minimum period, which `pallet_timestamp` requires (a
/// `--dev-block-time` below 3 s would otherwise make every block fail). The parent's
/// timestamp is read from its state (`Timestamp::Now`), so a restarted node continues
/// correctly.
fn next_timestamp(client: &FullClient, parent: Hash) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let now = sp_timestamp::Timestamp::current().as_millis();
    let key = [sp_crypto_hashing::twox_128(b"Timestamp"), sp_crypto_hashing::twox_128(b"Now")].concat();
    let parent_timestamp = match client.storage(parent, &StorageKey(key))? {
        Some(data) => <u64 as codec::Decode>::decode(&mut &data.0[..])?,
        None => 0,
    };
    Ok(if parent_timestamp == 0 { now } else { now.max(parent_timestamp + MINIMUM_PERIOD_MS) })
}
