//! Secret keys, public keys and proofs of possession.

use std::fmt;
use std::hash::{Hash, Hasher};

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::backend::{self, PublicPoint, SecretScalar};
use super::error::BlsError;
use super::signature::{HashedMessage, Signature};
use super::{
    KEYGEN_SALT, MIN_KEY_MATERIAL_BYTES, POP_DST, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES,
    SIGNATURE_BYTES, SIGNATURE_DST,
};

/// A BLS secret key: a scalar in `[1, r)`.
///
/// Its `Debug` output is redacted and its memory is zeroed when dropped. It
/// is deliberately not `Clone`: derive it again from its key material, or
/// move it.
pub struct SecretKey(SecretScalar);

impl SecretKey {
    /// IETF `KeyGen(IKM, key_info)` (draft-irtf-cfrg-bls-signature-05 §2.3):
    ///
    /// ```text
    /// salt = "BLS-SIG-KEYGEN-SALT-"
    /// SK = 0
    /// while SK == 0:
    ///     salt = SHA-256(salt)
    ///     PRK  = HKDF-Extract(salt, IKM ‖ 0x00)
    ///     OKM  = HKDF-Expand(PRK, key_info ‖ 0x0030, 48)
    ///     SK   = OS2IP(OKM) mod r
    /// ```
    ///
    /// `ikm` must hold at least 32 bytes of secret randomness. With an empty
    /// `key_info` this is EIP-2333's `derive_master_SK`.
    pub fn key_gen(ikm: &[u8], key_info: &[u8]) -> Result<Self, BlsError> {
        if ikm.len() < MIN_KEY_MATERIAL_BYTES {
            return Err(BlsError::KeyMaterialTooShort {
                minimum: MIN_KEY_MATERIAL_BYTES,
                found: ikm.len(),
            });
        }
        let mut ikm_padded = Vec::with_capacity(ikm.len().saturating_add(1));
        ikm_padded.extend_from_slice(ikm);
        ikm_padded.push(0);
        let mut info = Vec::with_capacity(key_info.len().saturating_add(2));
        info.extend_from_slice(key_info);
        info.extend_from_slice(&48u16.to_be_bytes());

        let mut salt: [u8; 32] = Sha256::digest(KEYGEN_SALT).into();
        let mut okm = [0u8; 48];
        let result = loop {
            let hkdf = Hkdf::<Sha256>::new(Some(&salt), &ikm_padded);
            // 48 bytes is far below HKDF-SHA256's limit of 255 · 32 bytes.
            if hkdf.expand(&info, &mut okm).is_err() {
                break Err(BlsError::KeyMaterialTooShort {
                    minimum: MIN_KEY_MATERIAL_BYTES,
                    found: ikm.len(),
                });
            }
            let sk = backend::scalar_from_okm(&okm);
            if !backend::scalar_is_zero(&sk) {
                break Ok(Self(sk));
            }
            salt = Sha256::digest(salt).into();
        };
        okm.zeroize();
        ikm_padded.zeroize();
        result
    }

    /// Reads a secret key: 32 bytes, big-endian, in `[1, r)`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        let array: &[u8; SECRET_KEY_BYTES] =
            bytes.try_into().map_err(|_| BlsError::SecretKeyLength {
                expected: SECRET_KEY_BYTES,
                found: bytes.len(),
            })?;
        let scalar = backend::scalar_from_be_bytes(array).ok_or(BlsError::SecretKeyOutOfRange)?;
        if backend::scalar_is_zero(&scalar) {
            return Err(BlsError::ZeroSecretKey);
        }
        Ok(Self(scalar))
    }

    /// The 32-byte big-endian encoding. Zero it when done.
    pub fn to_bytes(&self) -> [u8; SECRET_KEY_BYTES] {
        backend::scalar_to_be_bytes(&self.0)
    }

    /// `SkToPk`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(backend::sk_to_pk(&self.0))
    }

    /// `Sign(SK, message)` with the signature DST.
    pub fn sign(&self, message: &[u8]) -> Signature {
        #[cfg(test)]
        super::hash_count::add();
        Signature(backend::sign(&self.0, message, SIGNATURE_DST))
    }

    /// [`sign`](Self::sign) of a message hashed once with
    /// [`HashedMessage::new`]: the same signature.
    pub fn sign_hashed(&self, message: &HashedMessage) -> Signature {
        Signature(backend::sign_point(&self.0, &message.point))
    }

    /// `PopProve(SK)`: a signature, under the PoP DST, over the 48-byte
    /// compressed public key.
    pub fn prove_possession(&self) -> ProofOfPossession {
        let public_key = self.public_key().to_bytes();
        ProofOfPossession(Signature(backend::sign(&self.0, &public_key, POP_DST)))
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A BLS public key: a G1 point that passed KeyValidate (on the curve, in the
/// subgroup, not the identity). Encoded as 48 compressed bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(super) PublicPoint);

impl PublicKey {
    /// Decodes 48 compressed bytes and runs KeyValidate.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        let point = backend::decode_g1(bytes).map_err(BlsError::PublicKeyEncoding)?;
        if backend::g1_is_identity(&point) {
            return Err(BlsError::IdentityPublicKey);
        }
        Ok(Self(point))
    }

    /// The 48-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_BYTES] {
        backend::encode_g1(&self.0)
    }

    /// `Verify(PK, message, signature)` with the signature DST.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), BlsError> {
        self.verify_hashed(&HashedMessage::new(message), signature)
    }

    /// `Verify` against a message hashed once with [`HashedMessage::new`].
    pub fn verify_hashed(
        &self,
        message: &HashedMessage,
        signature: &Signature,
    ) -> Result<(), BlsError> {
        if backend::pairing_check(&self.0, &message.prepared, &signature.0) {
            Ok(())
        } else {
            Err(BlsError::InvalidSignature)
        }
    }

    /// `PopVerify(PK, proof)`: the proof must be a signature over this key's
    /// 48 compressed bytes under the PoP DST.
    pub fn verify_possession(&self, proof: &ProofOfPossession) -> Result<(), BlsError> {
        let hashed = backend::prepare_hash(&self.to_bytes(), POP_DST);
        if backend::pairing_check(&self.0, &hashed, &proof.0 .0) {
            Ok(())
        } else {
            Err(BlsError::InvalidProofOfPossession)
        }
    }
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        write_hex_prefix(f, &self.to_bytes())?;
        write!(f, ")")
    }
}

/// A proof of possession of a secret key (`PopProve`): 96 compressed bytes.
/// Required when a validator registers its key, so that no one can register
/// a rogue key crafted from other validators' keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProofOfPossession(Signature);

impl ProofOfPossession {
    /// Decodes 96 compressed bytes, with the subgroup check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BlsError> {
        let point = backend::decode_g2(bytes).map_err(BlsError::ProofOfPossessionEncoding)?;
        Ok(Self(Signature(point)))
    }

    /// The 96-byte compressed encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        self.0.to_bytes()
    }
}

impl fmt::Debug for ProofOfPossession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProofOfPossession(")?;
        write_hex_prefix(f, &self.to_bytes())?;
        write!(f, ")")
    }
}

/// Writes the first 8 bytes as hex followed by `…`.
pub(super) fn write_hex_prefix(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for byte in bytes.iter().take(8) {
        write!(f, "{byte:02x}")?;
    }
    f.write_str("…")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EIP-2333 `derive_master_SK` test cases: IETF KeyGen with empty key_info.
    #[test]
    fn key_gen_matches_eip2333() {
        let cases = [
            (
                "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
                "0d7359d57963ab8fbbde1852dcf553fedbc31f464d80ee7d40ae683122b45070",
            ),
            (
                "3141592653589793238462643383279502884197169399375105820974944592",
                "41c9e07822b092a93fd6797396338c3ada4170cc81829fdfce6b5d34bd5e7ec7",
            ),
            (
                "0099ff991111002299dd7744ee3355bbdd8844115566cc55663355668888cc00",
                "3cfa341ab3910a7d00d933d8f7c4fe87c91798a0397421d6b19fd5b815132e80",
            ),
            (
                "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
                "2a0e28ffa5fbbe2f8e7aad4ed94f745d6bf755c51182e119bb1694fe61d3afca",
            ),
        ];
        for (seed, master) in cases {
            let sk = SecretKey::key_gen(&hex::decode(seed).unwrap(), b"").unwrap();
            assert_eq!(hex::encode(sk.to_bytes()), master, "seed {seed}");
        }
    }

    #[test]
    fn key_gen_rejects_short_material() {
        assert_eq!(
            SecretKey::key_gen(&[7; 31], b"").unwrap_err(),
            BlsError::KeyMaterialTooShort {
                minimum: 32,
                found: 31
            }
        );
    }

    #[test]
    fn key_info_changes_the_key() {
        let a = SecretKey::key_gen(&[1; 32], b"").unwrap();
        let b = SecretKey::key_gen(&[1; 32], b"validator").unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn secret_key_bytes() {
        assert_eq!(
            SecretKey::from_bytes(&[0; 31]).unwrap_err(),
            BlsError::SecretKeyLength {
                expected: 32,
                found: 31
            }
        );
        assert_eq!(
            SecretKey::from_bytes(&[0; 32]).unwrap_err(),
            BlsError::ZeroSecretKey
        );
        assert_eq!(
            SecretKey::from_bytes(&[0xff; 32]).unwrap_err(),
            BlsError::SecretKeyOutOfRange
        );
        let sk = SecretKey::key_gen(&[9; 32], b"").unwrap();
        let again = SecretKey::from_bytes(&sk.to_bytes()).unwrap();
        assert_eq!(sk.public_key(), again.public_key());
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let sk = SecretKey::key_gen(&[3; 32], b"").unwrap();
        let shown = format!("{sk:?}");
        assert_eq!(shown, "SecretKey(<redacted>)");
        assert!(!shown.contains(&hex::encode(sk.to_bytes())[..8]));
    }

    #[test]
    fn proof_of_possession() {
        let sk = SecretKey::key_gen(&[4; 32], b"").unwrap();
        let pk = sk.public_key();
        let proof = sk.prove_possession();
        pk.verify_possession(&proof).unwrap();
        let decoded = ProofOfPossession::from_bytes(&proof.to_bytes()).unwrap();
        pk.verify_possession(&decoded).unwrap();

        // A PoP is not a signature over the key bytes under the signature DST ...
        assert_eq!(
            pk.verify(
                &pk.to_bytes(),
                &Signature::from_bytes(&proof.to_bytes()).unwrap()
            ),
            Err(BlsError::InvalidSignature)
        );
        // ... and a signature over the key bytes is not a PoP.
        let forged = ProofOfPossession::from_bytes(&sk.sign(&pk.to_bytes()).to_bytes()).unwrap();
        assert_eq!(
            pk.verify_possession(&forged),
            Err(BlsError::InvalidProofOfPossession)
        );
        // Another key's proof does not carry over.
        let other = SecretKey::key_gen(&[5; 32], b"").unwrap();
        assert_eq!(
            other.public_key().verify_possession(&proof),
            Err(BlsError::InvalidProofOfPossession)
        );
    }

    #[test]
    fn identity_public_key_is_rejected() {
        let mut identity = [0u8; 48];
        identity[0] = 0xc0;
        assert_eq!(
            PublicKey::from_bytes(&identity).unwrap_err(),
            BlsError::IdentityPublicKey
        );
    }
}
