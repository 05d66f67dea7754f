//! Keys and account identifiers: sr25519 key pairs from secret URIs (`//Alice`), SS58
//! addresses, and the H160 addresses contracts see (see [`crate::chain::primitives::account_to_address`]).

use crate::chain::primitives::{account_to_address, H160};
use sp_core::crypto::{Ss58AddressFormat, Ss58Codec};
use sp_core::{sr25519, Pair};

/// An unusable key or address.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret URI does not give a key.
    #[error("invalid secret URI `{0}`")]
    Suri(String),
    /// Not an SS58 address.
    #[error("invalid SS58 address `{0}`")]
    Ss58(String),
    /// Not a 20-byte 0x-hex address.
    #[error("invalid H160 address `{0}` (expected 0x followed by 40 hex digits)")]
    H160(String),
}

/// The sr25519 key pair of a secret URI such as `//Alice` or a mnemonic with derivations.
pub fn pair_from_suri(suri: &str) -> Result<sr25519::Pair, KeyError> {
    sr25519::Pair::from_string(suri, None).map_err(|_| KeyError::Suri(suri.to_string()))
}

/// The H160 address controlled by a secret URI.
pub fn address_of_suri(suri: &str) -> Result<H160, KeyError> {
    Ok(account_to_address(&pair_from_suri(suri)?.public().0))
}

/// The H160 address of an SS58-encoded sr25519 account.
pub fn address_of_ss58(text: &str) -> Result<H160, KeyError> {
    let public = sr25519::Public::from_ss58check(text).map_err(|_| KeyError::Ss58(text.to_string()))?;
    Ok(account_to_address(&public.0))
}

/// The SS58 form of a public key with the given address format (42 = generic Substrate).
pub fn ss58_of(public: &sr25519::Public, format: u16) -> String {
    public.to_ss58check_with_version(Ss58AddressFormat::custom(format))
}

/// Parses `0x` + 40 hex digits.
pub fn parse_h160(text: &str) -> Result<H160, KeyError> {
    let error = || KeyError::H160(text.to_string());
    let digits = text.strip_prefix("0x").ok_or_else(error)?;
    let bytes = hex::decode(digits).map_err(|_| error())?;
    if bytes.len() != 20 {
        return Err(error());
    }
    Ok(H160::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alice_is_the_well_known_dev_key() {
        let alice = pair_from_suri("//Alice").unwrap();
        // Alice's public key and SS58 address as every Substrate dev chain knows them.
        assert_eq!(hex::encode(alice.public().0), "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d");
        assert_eq!(ss58_of(&alice.public(), 42), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert_eq!(
            address_of_suri("//Alice").unwrap(),
            parse_h160("0x9621dde636de098b43efb0fa9b61facfe328f99d").unwrap()
        );
        assert_eq!(
            address_of_ss58("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap(),
            address_of_suri("//Alice").unwrap()
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(pair_from_suri("not a secret uri").is_err());
        assert!(address_of_ss58("5Grw").is_err());
        assert!(parse_h160("0x12").is_err());
        assert!(parse_h160("d43593c715fdd31c61141abd04a99fd6822c8558").is_err());
    }
}
