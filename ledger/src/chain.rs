//! Chain identity and chain parameters.
//!
//! A [`ChainId`] is 1 to 32 bytes of printable ASCII without spaces
//! (`0x21..=0x7e`), e.g. `sherd-dev`. It is in every transaction and every
//! signed message, so a signature made for one chain is worthless on
//! another. In the canonical codec it is a byte string
//! (`u32_le(len) ‖ bytes`) with a limit of 32.

use std::{fmt, str::FromStr};

use crate::{
    amount::Amount,
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
};

/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 32;

/// The name of a chain.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(String);

/// Why a string is not a chain id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainIdError {
    /// Empty or longer than [`MAX_CHAIN_ID_LEN`].
    #[error("a chain id is 1 to {MAX_CHAIN_ID_LEN} bytes, this one is {found}")]
    Length {
        /// Its length in bytes.
        found: usize,
    },
    /// A byte outside `0x21..=0x7e`.
    #[error("a chain id is printable ASCII without spaces; byte {position} is {byte:#04x}")]
    Character {
        /// Offset of the byte.
        position: usize,
        /// The byte.
        byte: u8,
    },
}

impl ChainId {
    /// Checks and wraps `id`.
    pub fn new(id: &str) -> Result<Self, ChainIdError> {
        Self::from_bytes(id.as_bytes())
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ChainIdError> {
        if bytes.is_empty() || bytes.len() > MAX_CHAIN_ID_LEN {
            return Err(ChainIdError::Length { found: bytes.len() });
        }
        if let Some((position, &byte)) = bytes
            .iter()
            .enumerate()
            .find(|(_, b)| !(0x21..=0x7e).contains(*b))
        {
            return Err(ChainIdError::Character { position, byte });
        }
        // All bytes are ASCII, so nothing is lost.
        Ok(Self(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl FromStr for ChainId {
    type Err = ChainIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Encode for ChainId {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bytes("chain_id", MAX_CHAIN_ID_LEN, self.0.as_bytes())
    }
}

impl Decode for ChainId {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.bytes("chain_id", MAX_CHAIN_ID_LEN)?;
        Self::from_bytes(bytes).map_err(|e| DecodeError::Invalid {
            field: "chain_id",
            reason: e.to_string(),
        })
    }
}

/// The parameters the state transition reads. Only what the implemented
/// transactions use is here; epochs, unbonding, proof periods, slashing and
/// rewards come with the parts of the ledger that use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    /// The chain every transaction must name.
    pub chain_id: ChainId,
    /// The smallest fee a transaction may offer.
    pub min_fee: Amount,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_ascii_of_1_to_32_bytes() {
        assert_eq!(ChainId::new("sherd-dev").unwrap().as_str(), "sherd-dev");
        assert!(ChainId::new(&"x".repeat(32)).is_ok());
        assert_eq!(ChainId::new(""), Err(ChainIdError::Length { found: 0 }));
        assert_eq!(
            ChainId::new(&"x".repeat(33)),
            Err(ChainIdError::Length { found: 33 })
        );
        assert_eq!(
            ChainId::new("a b"),
            Err(ChainIdError::Character {
                position: 1,
                byte: b' '
            })
        );
        assert_eq!(
            ChainId::new("é"),
            Err(ChainIdError::Character {
                position: 0,
                byte: 0xc3
            })
        );
    }

    #[test]
    fn decoding_checks_the_characters() {
        let mut w = Writer::new();
        w.bytes("x", 32, b"a\nb").unwrap();
        let bytes = w.into_bytes();
        assert!(matches!(
            ChainId::decode(&mut Reader::new(&bytes)),
            Err(DecodeError::Invalid {
                field: "chain_id",
                ..
            })
        ));
    }
}
