//! Segment encryption: AES-256-GCM over fixed-size segments.
//!
//! Each segment is sealed on its own with the object key. The 96-bit nonce is
//! the segment's index (u64, little-endian) followed by a u32 flag that is 1
//! for the object's final segment and 0 otherwise, so a dropped, reordered or
//! truncated segment fails to authenticate. AES-256-GCM was chosen over
//! ChaCha20-Poly1305 because it measured several times faster on the
//! development machine (see `fragments/README.md`).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::TAG_LEN;

/// The cipher named in manifests.
pub const CIPHER_NAME: &str = "aes-256-gcm";

/// A segment failed to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("segment {segment} failed to authenticate: wrong key, or the ciphertext was altered")]
pub struct DecryptError {
    /// Global index of the segment.
    pub segment: u64,
}

/// The random 32-byte key an object is encrypted with. Whoever holds it can
/// read the object; the client keeps it, providers never see it. Its bytes
/// are wiped from memory when it is dropped.
#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct ObjectKey([u8; 32]);

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectKey(..)")
    }
}

impl ObjectKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for storing it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn sealer(&self) -> SegmentCipher {
        let key =
            UnboundKey::new(&aead::AES_256_GCM, &self.0).expect("AES-256 takes any 32-byte key");
        SegmentCipher {
            key: LessSafeKey::new(key),
        }
    }
}

/// An expanded key, shared by the threads that seal or open segments.
pub(crate) struct SegmentCipher {
    key: LessSafeKey,
}

fn nonce(index: u64, last: bool) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&index.to_le_bytes());
    bytes[8..].copy_from_slice(&u32::from(last).to_le_bytes());
    Nonce::assume_unique_for_key(bytes)
}

impl SegmentCipher {
    /// Encrypts `buf[..len]` in place and writes the tag to `buf[len..len + 16]`.
    pub(crate) fn seal(&self, buf: &mut [u8], len: usize, index: u64, last: bool) {
        let (data, rest) = buf.split_at_mut(len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(index, last), Aad::empty(), data)
            .expect("segments are far below AES-GCM's 64 GiB limit");
        rest[..TAG_LEN].copy_from_slice(tag.as_ref());
    }

    /// Decrypts the segment in `buf[..len + 16]` in place; the plaintext is `buf[..len]`.
    pub(crate) fn open(
        &self,
        buf: &mut [u8],
        len: usize,
        index: u64,
        last: bool,
    ) -> Result<(), DecryptError> {
        self.key
            .open_in_place(nonce(index, last), Aad::empty(), &mut buf[..len + TAG_LEN])
            .map(|_| ())
            .map_err(|_| DecryptError { segment: index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_every_flip_is_caught() {
        let key = ObjectKey::from_bytes([9; 32]);
        let cipher = key.sealer();
        let plain: Vec<u8> = (0..100u8).collect();
        let mut buf = plain.clone();
        buf.resize(100 + TAG_LEN, 0);
        cipher.seal(&mut buf, 100, 7, false);
        assert_ne!(&buf[..100], &plain[..]);

        for bit in 0..(buf.len() * 8) {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                cipher.open(&mut bad, 100, 7, false),
                Err(DecryptError { segment: 7 })
            );
        }
        // Another index or the final flag: refused.
        assert!(cipher.open(&mut buf.clone(), 100, 8, false).is_err());
        assert!(cipher.open(&mut buf.clone(), 100, 7, true).is_err());
        assert!(ObjectKey::from_bytes([8; 32])
            .sealer()
            .open(&mut buf.clone(), 100, 7, false)
            .is_err());

        cipher.open(&mut buf, 100, 7, false).unwrap();
        assert_eq!(&buf[..100], &plain[..]);
    }
}
