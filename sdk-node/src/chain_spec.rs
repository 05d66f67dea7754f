//! The node's chain specs: the embedded development chain and chain-spec files, with any
//! runtime genesis in them turned into raw storage by our executor (see `genesis`).

use crate::genesis::{GenesisInput, GenesisRuntime, HostFunctions};
use sc_chain_spec::{ChainSpec as _, ChainType, NoExtension};
use sc_executor_pvm::PvmExecutor;
use std::path::Path;

/// The chain spec type of this node. No extensions; the second parameter (host functions for
/// sc-chain-spec's own Wasm genesis builder) stays `()` because that builder is never used:
/// every spec the node loads has raw genesis storage by the time sc-service sees it.
pub type ChainSpec = sc_chain_spec::GenericChainSpec<NoExtension>;

/// The project's FRAME runtime built for the PVM (`runtimes/dev-runtime`, a raw `PVM\0` blob),
/// the code of the development chain.
pub const DEV_RUNTIME_PVM: &[u8] = include_bytes!("../../testdata/runtimes/dev_runtime.polkavm");

/// The same runtime built for Wasm, for `--dev-runtime wasm` (runs on the inner `WasmExecutor`).
pub const DEV_RUNTIME_WASM: &[u8] = include_bytes!("../../testdata/runtimes/dev_runtime.wasm");

/// The genesis preset of the development chain (`sp_genesis_builder::DEV_RUNTIME_PRESET`):
/// //Alice..//Ferdie funded, //Alice the sudo key.
pub const DEV_PRESET: &str = "development";

/// The development chain: `code` (the PVM runtime unless asked otherwise) with the runtime's
/// `development` preset, its genesis storage built by `executor`.
pub fn development(executor: &PvmExecutor<HostFunctions>, code: &[u8]) -> Result<ChainSpec, String> {
    let mut spec = ChainSpec::builder(code, None)
        .with_name("PVM Development")
        .with_id("dev")
        .with_chain_type(ChainType::Development)
        .with_properties(dev_properties())
        // Replaced below by the raw storage; the builder wants a genesis source to start with.
        .with_genesis_config_patch(serde_json::json!({}))
        .build();
    let storage = GenesisRuntime::new(executor, code)
        .build_storage(&GenesisInput::Preset(DEV_PRESET.to_owned()))
        .map_err(|e| format!("building the development genesis on the PVM executor: {e}"))?;
    spec.set_storage(storage);
    Ok(spec)
}

/// Token properties the dev runtime's balances use (12 decimals, SS58 prefix 42), for
/// wallets such as polkadot.js.
fn dev_properties() -> sc_chain_spec::Properties {
    let mut properties = sc_chain_spec::Properties::new();
    properties.insert("tokenSymbol".into(), "UNIT".into());
    properties.insert("tokenDecimals".into(), 12.into());
    properties.insert("ss58Format".into(), 42.into());
    properties
}

/// A chain spec read from a JSON file. A raw spec is used as it is; a spec with a
/// `runtimeGenesis` (code plus `patch` or `config`) gets its storage built by `executor`.
pub fn from_file(executor: &PvmExecutor<HostFunctions>, path: &Path) -> Result<ChainSpec, String> {
    let mut spec = ChainSpec::from_json_file(path.to_path_buf())?;
    let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let genesis = &json["genesis"];
    if genesis.get("raw").is_some() {
        return Ok(spec);
    }
    let runtime_genesis = genesis.get("runtimeGenesis").ok_or_else(|| {
        format!(
            "{}: genesis is neither `raw` nor `runtimeGenesis` (legacy `runtime` specs are not supported)",
            path.display()
        )
    })?;
    let code_hex = runtime_genesis["code"]
        .as_str()
        .ok_or_else(|| format!("{}: runtimeGenesis.code is not a hex string", path.display()))?;
    let code = sp_core::bytes::from_hex(code_hex)
        .map_err(|e| format!("{}: runtimeGenesis.code is not hex: {e}", path.display()))?;
    let input = if let Some(patch) = runtime_genesis.get("patch") {
        GenesisInput::Patch(patch.clone())
    } else if let Some(config) = runtime_genesis.get("config") {
        GenesisInput::Config(config.clone())
    } else {
        return Err(format!("{}: runtimeGenesis has neither `patch` nor `config`", path.display()));
    };
    let storage = GenesisRuntime::new(executor, &code)
        .build_storage(&input)
        .map_err(|e| format!("{}: building the genesis storage on the PVM executor: {e}", path.display()))?;
    spec.set_storage(storage);
    Ok(spec)
}
