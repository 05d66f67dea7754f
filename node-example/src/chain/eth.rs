//! Ethereum transactions: signed legacy (EIP-155), EIP-2930 and EIP-1559 envelopes as
//! `eth_sendRawTransaction` takes them, decoded and signer-recovered with `alloy-consensus`,
//! and turned into the node's own [`Call`].
//!
//! Units: a balance is a number of wei (the native token has 18 decimals, so
//! [`WEI_PER_NATIVE`] is 1); one Ethereum gas unit is [`ETH_GAS_RATIO`] units of the node's
//! gas (guest instructions and host-function costs). Deploying is a transaction without `to`
//! whose data is a PolkaVM blob (`PVM\0` …) followed by the constructor's ABI-encoded
//! arguments, as pallet-revive takes it; the contract lands at the CREATE address of the
//! sender and the transaction's nonce.

use crate::chain::primitives::{keccak_256, H160, H256};
use crate::chain::tx::{Call, SignedTransaction};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;

/// Node gas units per Ethereum gas unit: a transaction's `gasLimit` times this is its limit
/// in the node's gas, and gas used is reported divided by this (rounded up).
pub const ETH_GAS_RATIO: u64 = 1_000;

/// Wei per unit of the node's balance: balances are kept in wei.
pub const WEI_PER_NATIVE: u128 = 1;

/// The PolkaVM container's magic bytes, which start every deployable blob.
pub const PVM_MAGIC: &[u8; 4] = b"PVM\0";

/// Length of the PolkaVM container header: magic, version byte, and the whole blob's length
/// as a little-endian `u64`.
const PVM_HEADER_LEN: usize = 13;

/// Why an Ethereum transaction is refused before it reaches the pool.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EthTxError {
    /// Not an RLP / EIP-2718 transaction envelope.
    #[error("cannot decode Ethereum transaction: {0}")]
    Decode(String),
    /// EIP-4844 and EIP-7702 transactions have no meaning here.
    #[error("transaction type {0} is not supported (legacy, EIP-2930 and EIP-1559 are)")]
    UnsupportedType(u8),
    /// The signature does not give a signer.
    #[error("invalid signature: {0}")]
    BadSignature(String),
    /// Signed for another chain, or without EIP-155 replay protection.
    #[error("wrong chain id: expected {expected}, got {}", got.map_or("none (pre-EIP-155 signature)".to_string(), |id| id.to_string()))]
    WrongChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's (none for unprotected legacy transactions).
        got: Option<u64>,
    },
    /// A deployment whose code is not a PolkaVM blob.
    #[error("only PolkaVM (PVM) code can be deployed: the init code does not start with `PVM\\0` (EVM bytecode is not accepted; compile with resolc)")]
    NotPvmCode,
    /// A PolkaVM blob whose header's length disagrees with the data.
    #[error("malformed PolkaVM blob: {0}")]
    BadPvmBlob(String),
    /// The value does not fit the node's 128-bit balances.
    #[error("value {0} wei exceeds the largest balance")]
    ValueTooLarge(String),
}

/// A decoded Ethereum transaction with its recovered signer.
#[derive(Clone, Debug, PartialEq)]
pub struct EthTransaction {
    /// The signed envelope.
    pub envelope: TxEnvelope,
    /// Who signed it.
    pub sender: H160,
    /// Keccak-256 of the raw bytes (the Ethereum transaction hash).
    pub hash: H256,
    /// What it does, in the node's terms.
    pub call: Call,
    /// Gas limit in the node's units (the Ethereum limit times [`ETH_GAS_RATIO`]).
    pub gas_limit: u64,
}

/// Splits a deployment's data into the PolkaVM blob and the constructor input after it.
pub fn split_init_code(data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), EthTxError> {
    if !data.starts_with(PVM_MAGIC) {
        return Err(EthTxError::NotPvmCode);
    }
    if data.len() < PVM_HEADER_LEN {
        return Err(EthTxError::BadPvmBlob(format!("{} bytes is shorter than the header", data.len())));
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&data[5..PVM_HEADER_LEN]);
    let length = u64::from_le_bytes(length);
    if length < PVM_HEADER_LEN as u64 || length > data.len() as u64 {
        return Err(EthTxError::BadPvmBlob(format!(
            "the header gives a length of {length} bytes, the data has {}",
            data.len()
        )));
    }
    let (code, input) = data.split_at(length as usize);
    Ok((code.to_vec(), input.to_vec()))
}

/// The node's call for an Ethereum `to` / `value` / `data` triple: a deployment without
/// `to`, a call otherwise.
pub fn call_of(to: Option<H160>, value: alloy_primitives::U256, data: &[u8]) -> Result<Call, EthTxError> {
    let value = u128::try_from(value).map_err(|_| EthTxError::ValueTooLarge(value.to_string()))?;
    Ok(match to {
        None => {
            let (code, input) = split_init_code(data)?;
            Call::InstantiateWithCode { code, value, data: input, salt: None }
        }
        Some(dest) => Call::Call { dest, value, data: data.to_vec() },
    })
}

/// An alloy address as the node's H160.
pub fn h160(address: alloy_primitives::Address) -> H160 {
    H160(address.into_array())
}

impl EthTransaction {
    /// Decodes raw EIP-2718 bytes (what `eth_sendRawTransaction` receives), recovers the
    /// signer and checks the chain id.
    pub fn decode(raw: &[u8], chain_id: u64) -> Result<EthTransaction, EthTxError> {
        let envelope = TxEnvelope::decode_2718_exact(raw).map_err(|error| EthTxError::Decode(error.to_string()))?;
        match &envelope {
            TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
            other => return Err(EthTxError::UnsupportedType(other.tx_type() as u8)),
        }
        if envelope.chain_id() != Some(chain_id) {
            return Err(EthTxError::WrongChainId { expected: chain_id, got: envelope.chain_id() });
        }
        let sender = envelope.recover_signer().map_err(|error| EthTxError::BadSignature(error.to_string()))?;
        let call = call_of(envelope.to().map(h160), envelope.value(), envelope.input())?;
        Ok(EthTransaction {
            sender: h160(sender),
            hash: keccak_256(raw),
            call,
            gas_limit: envelope.gas_limit().saturating_mul(ETH_GAS_RATIO),
            envelope,
        })
    }

    /// The transaction's nonce.
    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }
}

/// A transaction as a block's Ethereum view shows it: an Ethereum transaction as signed, or
/// one of the node's sr25519 transactions (`author_submitExtrinsic`) presented in Ethereum's
/// terms (see [`ViewTransaction::Substrate`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ViewTransaction {
    /// Submitted with `eth_sendRawTransaction` (or signed by a dev key).
    Ethereum(Box<EthTransaction>),
    /// Submitted with `author_submitExtrinsic`. Its hash is the extrinsic hash that method
    /// returned (BLAKE2b-256 of the bytes); its sender is the signer's mapped H160
    /// ([`crate::chain::primitives::account_to_address`]); it is shown as a legacy (type 0)
    /// transaction with a gas price of 0 and, having no secp256k1 signature, `v`, `r` and `s`
    /// of 0.
    Substrate {
        /// The decoded extrinsic.
        tx: Box<SignedTransaction>,
        /// BLAKE2b-256 of its bytes.
        hash: H256,
        /// Its bytes as included.
        bytes: Vec<u8>,
    },
}

impl ViewTransaction {
    /// The transaction hash: Keccak-256 of an Ethereum transaction's bytes, BLAKE2b-256 of an
    /// sr25519 extrinsic's.
    pub fn hash(&self) -> H256 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.hash,
            ViewTransaction::Substrate { hash, .. } => *hash,
        }
    }

    /// The sender's H160 address.
    pub fn sender(&self) -> H160 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.sender,
            ViewTransaction::Substrate { tx, .. } => tx.sender(),
        }
    }

    /// The sender's nonce it used.
    pub fn nonce(&self) -> u64 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.nonce(),
            ViewTransaction::Substrate { tx, .. } => tx.payload.nonce,
        }
    }

    /// The node's call it made.
    pub fn call(&self) -> &Call {
        match self {
            ViewTransaction::Ethereum(tx) => &tx.call,
            ViewTransaction::Substrate { tx, .. } => &tx.payload.call,
        }
    }

    /// The account called or paid; `None` for deployments and code uploads.
    pub fn to(&self) -> Option<H160> {
        match self {
            ViewTransaction::Ethereum(tx) => tx.envelope.to().map(h160),
            ViewTransaction::Substrate { tx, .. } => match &tx.payload.call {
                Call::Transfer { dest, .. } | Call::Call { dest, .. } => Some(*dest),
                Call::UploadCode { .. } | Call::Instantiate { .. } | Call::InstantiateWithCode { .. } => None,
            },
        }
    }

    /// Value sent, in wei.
    pub fn value(&self) -> alloy_primitives::U256 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.envelope.value(),
            ViewTransaction::Substrate { tx, .. } => match &tx.payload.call {
                Call::Transfer { value, .. }
                | Call::Call { value, .. }
                | Call::Instantiate { value, .. }
                | Call::InstantiateWithCode { value, .. } => {
                    alloy_primitives::U256::from(*value) * alloy_primitives::U256::from(WEI_PER_NATIVE)
                }
                Call::UploadCode { .. } => alloy_primitives::U256::ZERO,
            },
        }
    }

    /// The input as Ethereum shows it: call data; for a deployment with code the blob
    /// followed by the constructor input (as an Ethereum deployment carries it); for an
    /// instantiation of uploaded code the constructor input alone; for an upload the blob.
    pub fn input(&self) -> Vec<u8> {
        match self {
            ViewTransaction::Ethereum(tx) => tx.envelope.input().to_vec(),
            ViewTransaction::Substrate { tx, .. } => match &tx.payload.call {
                Call::Transfer { .. } => Vec::new(),
                Call::UploadCode { code } => code.clone(),
                Call::Instantiate { data, .. } | Call::Call { data, .. } => data.clone(),
                Call::InstantiateWithCode { code, data, .. } => [code.as_slice(), data.as_slice()].concat(),
            },
        }
    }

    /// The gas limit in Ethereum units (an sr25519 transaction's node gas limit divided by
    /// [`ETH_GAS_RATIO`], rounded up).
    pub fn eth_gas_limit(&self) -> u64 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.envelope.gas_limit(),
            ViewTransaction::Substrate { tx, .. } => tx.payload.gas_limit.div_ceil(ETH_GAS_RATIO),
        }
    }

    /// The EIP-2718 type: the envelope's, 0 (legacy) for sr25519 transactions.
    pub fn tx_type(&self) -> u8 {
        match self {
            ViewTransaction::Ethereum(tx) => tx.envelope.tx_type() as u8,
            ViewTransaction::Substrate { .. } => 0,
        }
    }

    /// The bytes the block's `transactionsRoot` commits to: an Ethereum transaction's
    /// EIP-2718 encoding (its raw bytes), an sr25519 extrinsic's SCALE bytes.
    pub fn root_bytes(&self) -> Vec<u8> {
        match self {
            ViewTransaction::Ethereum(tx) => {
                use alloy_eips::eip2718::Encodable2718;
                tx.envelope.encoded_2718()
            }
            ViewTransaction::Substrate { bytes, .. } => bytes.clone(),
        }
    }

    /// The Ethereum envelope, for Ethereum transactions.
    pub fn envelope(&self) -> Option<&TxEnvelope> {
        match self {
            ViewTransaction::Ethereum(tx) => Some(&tx.envelope),
            ViewTransaction::Substrate { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_code_splits_at_the_blob_length() {
        let blob = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/contracts/Token.polkavm")).unwrap();
        let mut data = blob.clone();
        data.extend_from_slice(&[1, 2, 3]);
        assert_eq!(split_init_code(&data).unwrap(), (blob.clone(), vec![1, 2, 3]));
        assert!(matches!(split_init_code(&blob[..blob.len() - 1]), Err(EthTxError::BadPvmBlob(_))));
        // EVM init code (PUSH1 0x80 PUSH1 0x40 MSTORE ...) is refused as such.
        assert_eq!(split_init_code(&[0x60, 0x80, 0x60, 0x40, 0x52]), Err(EthTxError::NotPvmCode));
    }

    #[test]
    fn sr25519_transactions_in_ethereum_terms() {
        use crate::chain::keys::{address_of_suri, pair_from_suri};
        use crate::chain::tx::{extrinsic_hash, TransactionPayload};
        let view = |call: Call| {
            let tx = SignedTransaction::sign(
                &pair_from_suri("//Alice").unwrap(),
                &H256::repeat_byte(1),
                TransactionPayload { nonce: 7, gas_limit: 1_500, call },
            );
            let bytes = tx.to_extrinsic();
            ViewTransaction::Substrate { tx: Box::new(tx), hash: extrinsic_hash(&bytes), bytes }
        };
        let dest = H160::repeat_byte(9);
        let call = view(Call::Call { dest, value: 5, data: vec![1, 2] });
        assert_eq!(call.sender(), address_of_suri("//Alice").unwrap());
        assert_eq!((call.nonce(), call.to(), call.input()), (7, Some(dest), vec![1, 2]));
        assert_eq!(call.value(), alloy_primitives::U256::from(5));
        // 1 500 node gas is 2 Ethereum gas, rounded up; legacy type, no envelope.
        assert_eq!((call.eth_gas_limit(), call.tx_type(), call.envelope()), (2, 0, None));
        let ViewTransaction::Substrate { hash, bytes, .. } = &call else { unreachable!() };
        assert_eq!((call.hash(), call.root_bytes()), (*hash, bytes.clone()));
        // A deployment with code carries the blob then the constructor input, and no `to`.
        let deploy = view(Call::InstantiateWithCode { code: vec![0xAA], value: 0, data: vec![0xBB], salt: None });
        assert_eq!((deploy.to(), deploy.input()), (None, vec![0xAA, 0xBB]));
        let upload = view(Call::UploadCode { code: vec![0xCC] });
        assert_eq!((upload.to(), upload.input(), upload.value()), (None, vec![0xCC], alloy_primitives::U256::ZERO));
        let transfer = view(Call::Transfer { dest, value: 3 });
        assert_eq!((transfer.to(), transfer.input()), (Some(dest), Vec::new()));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(EthTransaction::decode(&[0x02, 0x01], 1), Err(EthTxError::Decode(_))));
        assert!(matches!(EthTransaction::decode(&[], 1), Err(EthTxError::Decode(_))));
    }
}
