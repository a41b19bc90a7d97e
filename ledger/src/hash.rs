//! 32-byte BLAKE3 digests: transaction ids, roots, block ids.

use std::{fmt, str::FromStr};

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// A 32-byte BLAKE3 digest. Encoded as its 32 bytes; printed as 64
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// BLAKE3 of `data`.
    pub fn digest(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// Why a string is not a hash.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a hash is 64 hex digits: {0}")]
pub struct ParseHashError(#[from] hex::FromHexError);

impl FromStr for Hash {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Self(out))
    }
}

impl Encode for Hash {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.fixed(&self.0);
        Ok(())
    }
}

impl Decode for Hash {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.fixed("hash").map(Self)
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_blake3_and_hex_round_trips() {
        let h = Hash::digest(b"abc");
        assert_eq!(
            h.to_string(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert!("00".parse::<Hash>().is_err());
        assert!("zz".repeat(32).parse::<Hash>().is_err());
    }
}
