//! Signed transactions: SCALE-encoded, sr25519-signed, nonce-checked, gas-limited.
//!
//! The extrinsic bytes submitted with `author_submitExtrinsic` are the SCALE encoding of
//! [`SignedTransaction`]. The signature covers [`signing_payload`]: a domain tag, the
//! genesis hash (so a transaction is valid on one chain only) and the encoded
//! [`TransactionPayload`]; payloads above 256 bytes are hashed with BLAKE2b-256 first, as
//! Substrate does. The transaction hash is BLAKE2b-256 of the extrinsic bytes.

use crate::chain::eth::EthTransaction;
use crate::chain::primitives::{account_to_address, blake2_256, Balance, H160, H256};
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use sp_core::{sr25519, Pair};

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Moves balance to another account.
    #[codec(index = 0)]
    Transfer {
        /// Receiver.
        dest: H160,
        /// Amount.
        value: Balance,
    },
    /// Stores a code blob (validated) under its Keccak-256 hash.
    #[codec(index = 1)]
    UploadCode {
        /// The blob.
        code: Vec<u8>,
    },
    /// Instantiates uploaded code.
    #[codec(index = 2)]
    Instantiate {
        /// Hash of uploaded code.
        code_hash: H256,
        /// Value endowed.
        value: Balance,
        /// Constructor input.
        data: Vec<u8>,
        /// CREATE2 salt (CREATE with the signer's nonce without one).
        salt: Option<[u8; 32]>,
    },
    /// Uploads code and instantiates it.
    #[codec(index = 3)]
    InstantiateWithCode {
        /// The blob.
        code: Vec<u8>,
        /// Value endowed.
        value: Balance,
        /// Constructor input.
        data: Vec<u8>,
        /// CREATE2 salt.
        salt: Option<[u8; 32]>,
    },
    /// Calls a contract (or transfers to a plain account).
    #[codec(index = 4)]
    Call {
        /// Callee.
        dest: H160,
        /// Value sent.
        value: Balance,
        /// Call data.
        data: Vec<u8>,
    },
}

impl Call {
    /// Short name for logs and receipts.
    pub fn kind(&self) -> &'static str {
        match self {
            Call::Transfer { .. } => "transfer",
            Call::UploadCode { .. } => "uploadCode",
            Call::Instantiate { .. } => "instantiate",
            Call::InstantiateWithCode { .. } => "instantiateWithCode",
            Call::Call { .. } => "call",
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TransactionPayload {
    /// Must equal the signer's account nonce when the transaction runs.
    pub nonce: u64,
    /// Most gas the transaction may use.
    pub gas_limit: u64,
    /// What to do.
    pub call: Call,
}

/// A transaction as submitted.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedTransaction {
    /// The signer's sr25519 public key.
    pub signer: [u8; 32],
    /// sr25519 signature of [`signing_payload`].
    pub signature: [u8; 64],
    /// What is signed.
    pub payload: TransactionPayload,
}

/// A transaction that cannot be accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a transaction.
    #[error("cannot decode extrinsic: {0}")]
    Decode(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// Largest extrinsic accepted, in bytes (a code blob plus some).
pub const MAX_EXTRINSIC_BYTES: usize = 2 * 1024 * 1024;

/// The bytes an sr25519 signature covers.
pub fn signing_payload(genesis_hash: &H256, payload: &TransactionPayload) -> Vec<u8> {
    let mut message = b"pvm-node/tx".to_vec();
    message.extend_from_slice(genesis_hash.as_bytes());
    payload.encode_to(&mut message);
    if message.len() > 256 {
        blake2_256(&message).as_bytes().to_vec()
    } else {
        message
    }
}

impl SignedTransaction {
    /// Signs `payload` with `pair` for the chain with `genesis_hash`.
    pub fn sign(pair: &sr25519::Pair, genesis_hash: &H256, payload: TransactionPayload) -> SignedTransaction {
        let signature = pair.sign(&signing_payload(genesis_hash, &payload));
        SignedTransaction { signer: pair.public().0, signature: signature.0, payload }
    }

    /// Decodes extrinsic bytes (exactly one transaction, nothing left over).
    pub fn decode_extrinsic(bytes: &[u8]) -> Result<SignedTransaction, TxError> {
        if bytes.len() > MAX_EXTRINSIC_BYTES {
            return Err(TxError::Decode(format!("{} bytes is above the limit of {MAX_EXTRINSIC_BYTES}", bytes.len())));
        }
        SignedTransaction::decode_all_with_depth_limit(16, &mut &bytes[..])
            .map_err(|error| TxError::Decode(error.to_string()))
    }

    /// Checks the signature against the chain's genesis hash.
    pub fn verify(&self, genesis_hash: &H256) -> Result<(), TxError> {
        let public = sr25519::Public::from_raw(self.signer);
        let signature = sr25519::Signature::from_raw(self.signature);
        if sr25519::Pair::verify(&signature, signing_payload(genesis_hash, &self.payload), &public) {
            Ok(())
        } else {
            Err(TxError::BadSignature)
        }
    }

    /// The signer's H160 address.
    pub fn sender(&self) -> H160 {
        account_to_address(&self.signer)
    }

    /// Extrinsic bytes.
    pub fn to_extrinsic(&self) -> Vec<u8> {
        self.encode()
    }
}

/// A transaction in the pool or in a block: the node's own sr25519-signed kind, or an
/// Ethereum transaction (see [`crate::chain::eth`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Extrinsic {
    /// Submitted with `author_submitExtrinsic`.
    Substrate(Box<SignedTransaction>),
    /// Submitted with `eth_sendRawTransaction` (or signed by the node's dev keys).
    Ethereum(Box<EthTransaction>),
}

impl From<SignedTransaction> for Extrinsic {
    fn from(tx: SignedTransaction) -> Extrinsic {
        Extrinsic::Substrate(Box::new(tx))
    }
}

impl Extrinsic {
    /// Checks the sr25519 signature against the chain's genesis hash; an Ethereum
    /// transaction's signer was recovered (and so checked) when it was decoded.
    pub fn verify(&self, genesis_hash: &H256) -> Result<(), TxError> {
        match self {
            Extrinsic::Substrate(tx) => tx.verify(genesis_hash),
            Extrinsic::Ethereum(_) => Ok(()),
        }
    }

    /// The signer's H160 address.
    pub fn sender(&self) -> H160 {
        match self {
            Extrinsic::Substrate(tx) => tx.sender(),
            Extrinsic::Ethereum(tx) => tx.sender,
        }
    }

    /// The nonce the transaction uses.
    pub fn nonce(&self) -> u64 {
        match self {
            Extrinsic::Substrate(tx) => tx.payload.nonce,
            Extrinsic::Ethereum(tx) => tx.nonce(),
        }
    }

    /// Gas limit in the node's units.
    pub fn gas_limit(&self) -> u64 {
        match self {
            Extrinsic::Substrate(tx) => tx.payload.gas_limit,
            Extrinsic::Ethereum(tx) => tx.gas_limit,
        }
    }

    /// What it does.
    pub fn call(&self) -> &Call {
        match self {
            Extrinsic::Substrate(tx) => &tx.payload.call,
            Extrinsic::Ethereum(tx) => &tx.call,
        }
    }
}

/// Hash of extrinsic bytes (what `author_submitExtrinsic` returns).
pub fn extrinsic_hash(extrinsic: &[u8]) -> H256 {
    blake2_256(extrinsic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::keys::pair_from_suri;

    fn payload() -> TransactionPayload {
        TransactionPayload {
            nonce: 3,
            gas_limit: 1_000_000,
            call: Call::Call { dest: H160::repeat_byte(7), value: 5, data: vec![1, 2, 3] },
        }
    }

    #[test]
    fn sign_encode_decode_verify() {
        let alice = pair_from_suri("//Alice").unwrap();
        let genesis = H256::repeat_byte(1);
        let tx = SignedTransaction::sign(&alice, &genesis, payload());
        let bytes = tx.to_extrinsic();
        let decoded = SignedTransaction::decode_extrinsic(&bytes).unwrap();
        assert_eq!(decoded, tx);
        decoded.verify(&genesis).unwrap();
        assert_eq!(decoded.sender(), crate::chain::keys::address_of_suri("//Alice").unwrap());
    }

    #[test]
    fn tampering_or_other_chain_fails_verification() {
        let alice = pair_from_suri("//Alice").unwrap();
        let genesis = H256::repeat_byte(1);
        let tx = SignedTransaction::sign(&alice, &genesis, payload());
        assert_eq!(tx.verify(&H256::repeat_byte(2)), Err(TxError::BadSignature));
        let mut tampered = tx.clone();
        tampered.payload.nonce += 1;
        assert_eq!(tampered.verify(&genesis), Err(TxError::BadSignature));
        let mut other_signer = tx;
        other_signer.signer = pair_from_suri("//Bob").unwrap().public().0;
        assert_eq!(other_signer.verify(&genesis), Err(TxError::BadSignature));
    }

    #[test]
    fn large_payloads_are_signed_over_their_hash() {
        let alice = pair_from_suri("//Alice").unwrap();
        let genesis = H256::repeat_byte(1);
        let big = TransactionPayload { nonce: 0, gas_limit: 1, call: Call::UploadCode { code: vec![9; 10_000] } };
        assert_eq!(signing_payload(&genesis, &big).len(), 32);
        SignedTransaction::sign(&alice, &genesis, big).verify(&genesis).unwrap();
    }

    #[test]
    fn garbage_and_trailing_bytes_are_rejected() {
        assert!(matches!(SignedTransaction::decode_extrinsic(&[1, 2, 3]), Err(TxError::Decode(_))));
        let alice = pair_from_suri("//Alice").unwrap();
        let mut bytes = SignedTransaction::sign(&alice, &H256::zero(), payload()).to_extrinsic();
        bytes.push(0);
        assert!(matches!(SignedTransaction::decode_extrinsic(&bytes), Err(TxError::Decode(_))));
    }
}
