//! Account addresses: bech32m (BIP-350) with human-readable part `sherd`
//! over the 32 bytes of an ed25519 public key.
//!
//! An address prints as `sherd1` followed by 52 data characters (the 256
//! key bits in 5-bit groups, 4 zero padding bits) and 6 checksum
//! characters: 64 characters, lowercase. Parsing accepts the all-uppercase
//! form too (BIP-173), and rejects anything else with the reason: not
//! bech32 at all, another HRP, a bech32 (not bech32m) checksum, a bad
//! checksum, a payload that is not 32 bytes, or non-zero padding bits (so
//! one key has one address). In the canonical codec an address is its 32
//! key bytes.

use std::{fmt, str::FromStr};

use bech32::{
    primitives::decode::{CheckedHrpstring, UncheckedHrpstring},
    Bech32, Bech32m, Hrp,
};
use ed25519_dalek::VerifyingKey;

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// The human-readable part of every address.
pub const ADDRESS_HRP: &str = "sherd";

const HRP: Hrp = Hrp::parse_unchecked(ADDRESS_HRP);

/// Data characters of an address: 256 bits in 5-bit groups.
const DATA_CHARS: usize = 52;

/// Characters of a bech32m checksum.
const CHECKSUM_CHARS: usize = 6;

/// An account address: the account's 32-byte ed25519 public key.
///
/// The bytes need not be a valid curve point; a transaction from such an
/// address fails signature verification.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The address of `key`.
    pub fn from_public_key(key: &VerifyingKey) -> Self {
        Self(key.to_bytes())
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<&VerifyingKey> for Address {
    fn from(key: &VerifyingKey) -> Self {
        Self::from_public_key(key)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        bech32::encode_lower_to_fmt::<Bech32m, _>(f, HRP, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAddressError {
    /// Not a bech32 string at all.
    #[error("`{input}` is not a bech32m address: {reason}")]
    Malformed {
        /// The input.
        input: String,
        /// What the bech32 parser said.
        reason: String,
    },
    /// A bech32m string for something else.
    #[error("address has prefix `{found}`, a sherd address starts with `{ADDRESS_HRP}1`")]
    WrongHrp {
        /// The human-readable part found.
        found: String,
    },
    /// A valid bech32 (BIP-173) checksum where bech32m is required.
    #[error("address has a bech32 checksum, sherd addresses use bech32m")]
    Bech32NotBech32m,
    /// The checksum does not match: a character was mistyped.
    #[error("address checksum does not match: check for a mistyped character")]
    BadChecksum,
    /// The payload is not an ed25519 public key (or a character was
    /// dropped or added).
    #[error("address has {found} data characters, a sherd address has {DATA_CHARS}: check for a missing or extra character")]
    WrongLength {
        /// Data characters found (checksum excluded).
        found: usize,
    },
    /// The 4 padding bits after the key are not zero.
    #[error("address has non-zero padding bits: it is not the canonical encoding of any key")]
    NonZeroPadding,
}

impl FromStr for Address {
    type Err = ParseAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unchecked = UncheckedHrpstring::new(s).map_err(|e| ParseAddressError::Malformed {
            input: s.to_owned(),
            reason: e.to_string(),
        })?;
        let hrp = unchecked.hrp().to_lowercase();
        if hrp != ADDRESS_HRP {
            return Err(ParseAddressError::WrongHrp { found: hrp });
        }
        // A dropped or extra character is reported as such, not as a bad checksum.
        let found = unchecked
            .data_part_ascii()
            .len()
            .saturating_sub(CHECKSUM_CHARS);
        if found != DATA_CHARS {
            return Err(ParseAddressError::WrongLength { found });
        }
        if !unchecked.has_valid_checksum::<Bech32m>() {
            return Err(if unchecked.has_valid_checksum::<Bech32>() {
                ParseAddressError::Bech32NotBech32m
            } else {
                ParseAddressError::BadChecksum
            });
        }
        let checked =
            CheckedHrpstring::new::<Bech32m>(s).map_err(|_| ParseAddressError::BadChecksum)?;
        checked
            .validate_segwit_padding()
            .map_err(|_| ParseAddressError::NonZeroPadding)?;
        let mut out = [0u8; 32];
        for (slot, byte) in out.iter_mut().zip(checked.byte_iter()) {
            *slot = byte;
        }
        Ok(Self(out))
    }
}

impl Encode for Address {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.fixed(&self.0);
        Ok(())
    }
}

impl Decode for Address {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.fixed("address").map(Self)
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace_char(s: &str, at: usize, with: char) -> String {
        s.char_indices()
            .map(|(i, c)| if i == at { with } else { c })
            .collect()
    }

    #[test]
    fn prints_64_lowercase_chars_and_parses_back() {
        let a = Address([7; 32]);
        let s = a.to_string();
        assert_eq!(s.len(), 64);
        assert!(s.starts_with("sherd1"));
        assert_eq!(s.parse::<Address>().unwrap(), a);
        assert_eq!(s.to_uppercase().parse::<Address>().unwrap(), a);
    }

    #[test]
    fn matches_the_bip350_reference_encoder() {
        // Computed with the BIP-350 reference implementation (Python), not this crate.
        assert_eq!(
            Address([0; 32]).to_string(),
            "sherd1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqfff358"
        );
        let key: [u8; 32] = [
            0x3b, 0x6a, 0x27, 0xbc, 0xce, 0xb6, 0xa4, 0x2d, 0x62, 0xa3, 0xa8, 0xd0, 0x2a, 0x6f,
            0x0d, 0x73, 0x65, 0x32, 0x15, 0x77, 0x1d, 0xe2, 0x43, 0xa6, 0x3a, 0xc0, 0x48, 0xa1,
            0x8b, 0x59, 0xda, 0x29,
        ];
        assert_eq!(
            "sherd18d4z00xwk6jz6c4r4rgz5mcdwdjny9thrh3y8f36cpy2rz6emg5ss7d6u0".parse::<Address>(),
            Ok(Address(key))
        );
    }

    #[test]
    fn a_mistyped_character_is_a_checksum_error() {
        let s = Address([7; 32]).to_string();
        let c = if s.as_bytes().get(20) == Some(&b'q') {
            'p'
        } else {
            'q'
        };
        assert_eq!(
            replace_char(&s, 20, c).parse::<Address>(),
            Err(ParseAddressError::BadChecksum)
        );
    }

    #[test]
    fn other_prefixes_lengths_and_checksums_are_rejected() {
        let other = bech32::encode::<Bech32m>(Hrp::parse_unchecked("cosmos"), &[7; 32]).unwrap();
        assert_eq!(
            other.parse::<Address>(),
            Err(ParseAddressError::WrongHrp {
                found: "cosmos".into()
            })
        );
        let short = bech32::encode::<Bech32m>(HRP, &[7; 31]).unwrap();
        assert_eq!(
            short.parse::<Address>(),
            Err(ParseAddressError::WrongLength { found: 50 })
        );
        let old = bech32::encode::<Bech32>(HRP, &[7; 32]).unwrap();
        assert_eq!(
            old.parse::<Address>(),
            Err(ParseAddressError::Bech32NotBech32m)
        );
        assert!(matches!(
            "sherd".parse::<Address>(),
            Err(ParseAddressError::Malformed { .. })
        ));
        let s = Address([7; 32]).to_string();
        let mut dropped = s.clone();
        dropped.remove(30);
        assert_eq!(
            dropped.parse::<Address>(),
            Err(ParseAddressError::WrongLength { found: 51 })
        );
        let mixed = replace_char(&s, 10, s.chars().nth(10).unwrap().to_ascii_uppercase());
        assert!(matches!(
            mixed.parse::<Address>(),
            Err(ParseAddressError::Malformed { .. }) | Err(ParseAddressError::BadChecksum)
        ));
    }

    #[test]
    fn non_zero_padding_is_rejected() {
        // 52 data characters whose last one carries a set padding bit.
        let mut fes: Vec<bech32::Fe32> = vec![bech32::Fe32::Q; 51];
        fes.push(bech32::Fe32::P); // value 1: the lowest (padding) bit set
        let s: String = {
            use bech32::Fe32IterExt;
            fes.into_iter()
                .with_checksum::<Bech32m>(&HRP)
                .chars()
                .collect()
        };
        assert_eq!(s.parse::<Address>(), Err(ParseAddressError::NonZeroPadding));
    }
}
