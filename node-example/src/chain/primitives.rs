//! Basic types shared by every part of the node: hashes, addresses, balances, accounts,
//! events, receipts, and the two address derivations (account mapping and contract addresses).

use parity_scale_codec::{Decode, Encode};
pub use sp_core::{H160, H256, U256};

/// Native balance of an account. `U256` values that contracts see are this, widened.
pub type Balance = u128;

/// Block number.
pub type BlockNumber = u64;

/// The 32-byte Keccak-256 hash (the hash of contract code, as in pallet-revive).
pub fn keccak_256(data: &[u8]) -> H256 {
    H256(sp_crypto_hashing::keccak_256(data))
}

/// The 32-byte BLAKE2b-256 hash (block hashes, transaction hashes, trie nodes).
pub fn blake2_256(data: &[u8]) -> H256 {
    H256(sp_crypto_hashing::blake2_256(data))
}

/// Maps a 32-byte account id (an sr25519 public key) to the H160 address contracts see.
///
/// This is pallet-revive's current `AccountId32Mapper::to_address` (polkadot-sdk,
/// `substrate/frame/revive/src/address.rs`, since the change "pallet_revive: Change address
/// derivation to use hashing"): an account id whose last 12 bytes are all `0xEE` was itself
/// made from an Ethereum address and maps back to its first 20 bytes; any other account id
/// maps to the last 20 bytes of its Keccak-256 hash. The node keys all balances and nonces
/// by the H160, so an sr25519 key controls exactly the account at its mapped address.
pub fn account_to_address(public: &[u8; 32]) -> H160 {
    if public[20..].iter().all(|byte| *byte == 0xEE) {
        H160::from_slice(&public[..20])
    } else {
        H160::from_slice(&keccak_256(public).as_bytes()[12..])
    }
}

/// Contract address for CREATE semantics: `keccak256(rlp([deployer, nonce]))[12..]`.
pub fn create1_address(deployer: &H160, nonce: u64) -> H160 {
    // RLP of a 20-byte string is 0x94 followed by the bytes; the nonce is a big-endian
    // integer without leading zeros (0 is the empty string 0x80, values below 0x80 are a
    // single byte). The whole list is shorter than 56 bytes, so its header is one byte.
    let mut payload = Vec::with_capacity(30);
    payload.push(0x80 + 20);
    payload.extend_from_slice(deployer.as_bytes());
    if nonce == 0 {
        payload.push(0x80);
    } else if nonce < 0x80 {
        payload.push(nonce as u8);
    } else {
        let bytes = nonce.to_be_bytes();
        let skip = bytes.iter().take_while(|byte| **byte == 0).count();
        payload.push(0x80 + (8 - skip) as u8);
        payload.extend_from_slice(&bytes[skip..]);
    }
    let mut encoded = Vec::with_capacity(payload.len() + 1);
    encoded.push(0xc0 + payload.len() as u8);
    encoded.extend_from_slice(&payload);
    H160::from_slice(&keccak_256(&encoded).as_bytes()[12..])
}

/// Contract address for CREATE2 semantics as pallet-revive defines it: the init code hash
/// covers the code blob followed by the constructor input.
pub fn create2_address(deployer: &H160, code: &[u8], input: &[u8], salt: &[u8; 32]) -> H160 {
    let mut init_code = Vec::with_capacity(code.len() + input.len());
    init_code.extend_from_slice(code);
    init_code.extend_from_slice(input);
    let init_code_hash = keccak_256(&init_code);
    let mut preimage = [0u8; 85];
    preimage[0] = 0xff;
    preimage[1..21].copy_from_slice(deployer.as_bytes());
    preimage[21..53].copy_from_slice(salt);
    preimage[53..85].copy_from_slice(init_code_hash.as_bytes());
    H160::from_slice(&keccak_256(&preimage).as_bytes()[12..])
}

/// What the node stores per address: plain accounts and contracts alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct AccountInfo {
    /// Transactions sent (plain accounts) or contracts instantiated (contracts).
    pub nonce: u64,
    /// Free balance.
    pub balance: Balance,
    /// Present when a contract lives at this address.
    pub contract: Option<ContractInfo>,
}

/// The contract part of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct ContractInfo {
    /// Keccak-256 hash of the code blob the contract runs.
    pub code_hash: H256,
    /// Data the constructor attached with `set_immutable_data`.
    pub immutable_data: Vec<u8>,
}

/// An event emitted by a contract with `deposit_event`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractEvent {
    /// The contract that emitted it.
    pub address: H160,
    /// Up to four 32-byte topics (Solidity puts the event signature hash first).
    pub topics: Vec<H256>,
    /// Unindexed data.
    pub data: Vec<u8>,
}

/// How a transaction ended.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Outcome {
    /// Ran to completion; state changes kept.
    Success,
    /// The contract reverted (`seal_return` with the revert flag); state changes undone.
    Reverted,
    /// Execution failed (trap, out of gas, bad input to a host function, transfer failed...);
    /// state changes undone.
    Failed {
        /// What kind of failure, for clients that act on it.
        kind: FailureKind,
        /// Why, in words (the node's typed failure rendered where it is stored).
        message: String,
    },
}

/// The kinds of failure a receipt records: the node's typed failure without its details,
/// stable in the store and in the RPC's `errorKind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum FailureKind {
    /// The contract panicked (a trap, an invalid jump, an access below 64 KiB...).
    Panic,
    /// The contract touched an inaccessible page.
    PageFault,
    /// A host function stopped the contract (bad input, a failed precondition).
    HostFunction,
    /// A host function panicked: a bug in the node, caught.
    HostPanic,
    /// A host call to an import the contract does not have.
    MissingImport,
    /// Out of gas.
    OutOfGas,
    /// The value transfer failed.
    TransferFailed,
    /// An instantiation hit an address that already holds a contract.
    DuplicateContract,
    /// The code to run is not stored.
    CodeNotFound,
    /// The VM could not load or run the code.
    Vm,
    /// Uploaded code failed validation.
    CodeRejected,
    /// Refused before any frame ran (call depth, reentrancy, an unknown code hash...).
    Rejected,
}

impl FailureKind {
    /// The kind's name in the RPC (camel case, as the RPC's other fields).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Panic => "panic",
            FailureKind::PageFault => "pageFault",
            FailureKind::HostFunction => "hostFunction",
            FailureKind::HostPanic => "hostPanic",
            FailureKind::MissingImport => "missingImport",
            FailureKind::OutOfGas => "outOfGas",
            FailureKind::TransferFailed => "transferFailed",
            FailureKind::DuplicateContract => "duplicateContract",
            FailureKind::CodeNotFound => "codeNotFound",
            FailureKind::Vm => "vm",
            FailureKind::CodeRejected => "codeRejected",
            FailureKind::Rejected => "rejected",
        }
    }
}

impl Outcome {
    /// True for [`Outcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// What the node records for every transaction included in a block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    /// BLAKE2b-256 of the encoded extrinsic (what `author_submitExtrinsic` returned).
    pub tx_hash: H256,
    /// Block that includes the transaction.
    pub block_number: BlockNumber,
    /// Hash of that block.
    pub block_hash: H256,
    /// Position of the transaction in the block.
    pub index: u32,
    /// The signer's H160 address.
    pub from: H160,
    /// The signer's nonce the transaction used.
    pub nonce: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Gas consumed.
    pub gas_used: u64,
    /// Gas limit the transaction declared.
    pub gas_limit: u64,
    /// Data the contract returned (or the revert reason data).
    pub output: Vec<u8>,
    /// Address of the instantiated contract, for instantiations that succeeded.
    pub contract_address: Option<H160>,
    /// Hash of uploaded or instantiated code.
    pub code_hash: Option<H256>,
    /// Events of the frames that were not reverted, in emission order.
    pub events: Vec<ContractEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h160(hex_str: &str) -> H160 {
        H160::from_slice(&hex::decode(hex_str).unwrap())
    }

    #[test]
    fn create1_matches_ethereum_vectors() {
        // Addresses of the first contracts created by a well-known Ethereum account.
        let sender = h160("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0");
        assert_eq!(create1_address(&sender, 0), h160("cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"));
        assert_eq!(create1_address(&sender, 1), h160("343c43a37d37dff08ae8c4a11544c718abb4fcf8"));
        assert_eq!(create1_address(&sender, 2), h160("f778b86fa74e846c4f0a1fbd1335fe81c00a0c91"));
        assert_eq!(create1_address(&sender, 3), h160("fffd933a0bc612844eaf0c6fe3e5b8e9b6c1d19c"));
    }

    #[test]
    fn create1_encodes_large_nonces() {
        let sender = h160("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0");
        // Different nonces around the single-byte boundary give different addresses.
        let a = create1_address(&sender, 0x7f);
        let b = create1_address(&sender, 0x80);
        let c = create1_address(&sender, 0x100);
        assert_ne!(a, b);
        assert_ne!(b, c);
    }

    #[test]
    fn create2_matches_eip_1014_when_input_is_empty() {
        // EIP-1014 example 0: deployer 0x00..00, salt 0, init code 0x00.
        let address = create2_address(&H160::zero(), &[0x00], &[], &[0u8; 32]);
        assert_eq!(address, h160("4d1a2e2bb4f88f0250f26ffff098b0b30b26bf38"));
        // Splitting the init code between code and input gives the same address.
        // EIP-1014 example 5.
        let deployer = h160("00000000000000000000000000000000deadbeef");
        let mut salt = [0u8; 32];
        salt[28..].copy_from_slice(&[0xca, 0xfe, 0xba, 0xbe]);
        let whole = create2_address(&deployer, &[0xde, 0xad, 0xbe, 0xef], &[], &salt);
        let split = create2_address(&deployer, &[0xde, 0xad], &[0xbe, 0xef], &salt);
        assert_eq!(whole, split);
        assert_eq!(whole, h160("60f3f640a8508fc6a86d45df051962668e1e8ac7"));
    }

    #[test]
    fn account_mapping_hashes_all_but_eth_derived_ids() {
        // //Alice's public key maps to the H160 pallet-revive chains show for her.
        let alice = hex::decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d").unwrap();
        let alice: [u8; 32] = alice.try_into().unwrap();
        assert_eq!(account_to_address(&alice), h160("9621dde636de098b43efb0fa9b61facfe328f99d"));
        // An id made from an H160 (padded with 0xEE) maps back to that H160.
        let mut eth_derived = [0xEEu8; 32];
        eth_derived[..20].copy_from_slice(&[7u8; 20]);
        assert_eq!(account_to_address(&eth_derived), H160::repeat_byte(7));
    }
}
