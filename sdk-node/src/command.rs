//! What each command line does.

use crate::{
    chain_spec,
    cli::{Cli, DevRuntime, Subcommand},
    genesis::HostFunctions,
    service,
};
use sc_cli::SubstrateCli;
use sc_executor_pvm::PvmExecutor;
use sc_service::PartialComponents;

impl SubstrateCli for Cli {
    fn impl_name() -> String {
        "PVM sdk-node".into()
    }

    fn impl_version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }

    fn description() -> String {
        env!("CARGO_PKG_DESCRIPTION").into()
    }

    fn author() -> String {
        "the pvm project".into()
    }

    fn support_url() -> String {
        "the project's issue tracker".into()
    }

    fn copyright_start_year() -> i32 {
        2026
    }

    /// `dev` (what `--dev` selects) and the empty id are the embedded development chain;
    /// anything else is a chain-spec file.
    fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
        // The executor that builds the genesis storage: the backend the node will run with.
        // sc-service has not configured one yet at this point, so this one is the builder's
        // default apart from the backend.
        let executor = PvmExecutor::<HostFunctions>::builder()
            .with_backend(self.node.pvm_backend.into())
            .build()
            .map_err(|e| format!("creating the PVM executor for the genesis: {e}"))?;
        Ok(match id {
            "dev" | "" => {
                let code = match self.node.dev_runtime {
                    DevRuntime::Pvm => chain_spec::DEV_RUNTIME_PVM,
                    DevRuntime::Wasm => chain_spec::DEV_RUNTIME_WASM,
                };
                Box::new(chain_spec::development(&executor, code)?)
            }
            path => Box::new(chain_spec::from_file(&executor, std::path::Path::new(path))?),
        })
    }
}

/// Parses the command line and runs it. Errors come back typed (`sc_cli::Error`); `main`
/// prints them.
pub fn run() -> sc_cli::Result<()> {
    let cli = Cli::from_args();
    let options = &cli.node;

    match &cli.subcommand {
        Some(Subcommand::Key(cmd)) => cmd.run(&cli),
        Some(Subcommand::BuildSpec(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
        }
        Some(Subcommand::ExportChainSpec(cmd)) => {
            let spec = cli.load_spec(&cmd.chain)?;
            cmd.run(spec)
        }
        Some(Subcommand::CheckBlock(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents { client, task_manager, import_queue, .. } =
                    service::new_partial(&config, options)?;
                Ok((cmd.run(client, import_queue), task_manager))
            })
        }
        Some(Subcommand::ExportBlocks(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents { client, task_manager, .. } = service::new_partial(&config, options)?;
                Ok((cmd.run(client, config.database), task_manager))
            })
        }
        Some(Subcommand::ExportState(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents { client, task_manager, .. } = service::new_partial(&config, options)?;
                Ok((cmd.run(client, config.chain_spec), task_manager))
            })
        }
        Some(Subcommand::ImportBlocks(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents { client, task_manager, import_queue, .. } =
                    service::new_partial(&config, options)?;
                Ok((cmd.run(client, import_queue), task_manager))
            })
        }
        Some(Subcommand::PurgeChain(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.sync_run(|config| cmd.run(config.database))
        }
        Some(Subcommand::Revert(cmd)) => {
            let runner = cli.create_runner(cmd)?;
            runner.async_run(|config| {
                let PartialComponents { client, task_manager, backend, .. } = service::new_partial(&config, options)?;
                Ok((cmd.run(client, backend, None), task_manager))
            })
        }
        None => {
            let runner = cli.create_runner(&cli.run)?;
            runner.run_node_until_exit(|config| async move {
                match config.network.network_backend {
                    sc_network::config::NetworkBackendType::Libp2p => {
                        service::new_full::<sc_network::NetworkWorker<_, _>>(config, options)
                    }
                    sc_network::config::NetworkBackendType::Litep2p => {
                        service::new_full::<sc_network::Litep2pNetworkBackend>(config, options)
                    }
                }
                .map_err(sc_cli::Error::Service)
            })
        }
    }
}
