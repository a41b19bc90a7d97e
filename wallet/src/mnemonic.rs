//! BIP-39 mnemonics (English word list) and their seeds.
//!
//! A mnemonic is kept as its entropy (16 to 32 bytes, a multiple of 4) in
//! memory that is zeroed when dropped. Words are `entropy ‖ checksum` in
//! 11-bit groups, the checksum being the first `bits / 32` bits of
//! `SHA-256(entropy)`; sherd creates 24-word mnemonics (256 bits of entropy)
//! and imports any standard length (12, 15, 18, 21 or 24 words).
//!
//! The seed is `PBKDF2-HMAC-SHA512(password = the words joined by one space,
//! salt = "mnemonic" ‖ passphrase, 2048 iterations, 64 bytes)`, as in
//! BIP-39. sherd uses the empty passphrase.
//!
//! Only the word list is taken from the `bip39` crate; encoding, checksum and
//! seed are computed here so that every intermediate secret is zeroized.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// Words of a mnemonic made by [`Mnemonic::generate`].
pub const WORDS: usize = 24;

/// PBKDF2 iterations of the BIP-39 seed.
const SEED_ITERATIONS: u32 = 2048;

/// Why words or bytes are not a mnemonic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MnemonicError {
    /// Not 12, 15, 18, 21 or 24 words.
    #[error("a mnemonic has 12, 15, 18, 21 or 24 words, this one has {found}")]
    WordCount {
        /// Words found.
        found: usize,
    },
    /// A word outside the English BIP-39 list (position counts from 1).
    #[error("word {position} is not in the BIP-39 English word list: check its spelling")]
    UnknownWord {
        /// 1-based position of the word.
        position: usize,
    },
    /// The words do not end with their checksum: one is wrong or out of order.
    #[error("the mnemonic's checksum does not match: a word is wrong or out of order")]
    BadChecksum,
    /// Entropy of a length BIP-39 does not allow.
    #[error("mnemonic entropy is 16 to 32 bytes in steps of 4, found {found}")]
    EntropyLength {
        /// Bytes found.
        found: usize,
    },
    /// The operating system gave no randomness.
    #[error("cannot get randomness from the operating system: {0}")]
    Random(String),
}

/// A BIP-39 mnemonic, held as its entropy. `Debug` shows no secret.
#[derive(Clone)]
pub struct Mnemonic {
    entropy: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mnemonic({} words, redacted)", self.word_count())
    }
}

fn word_list() -> &'static [&'static str; 2048] {
    bip39::Language::English.word_list()
}

impl Mnemonic {
    /// A fresh 24-word mnemonic: 256 bits from the operating system.
    pub fn generate() -> Result<Self, MnemonicError> {
        let mut entropy = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut entropy).map_err(|e| MnemonicError::Random(e.to_string()))?;
        Ok(Self { entropy })
    }

    /// The mnemonic of `entropy` (16 to 32 bytes, a multiple of 4).
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, MnemonicError> {
        let n = entropy.len();
        if !(16..=32).contains(&n) || n % 4 != 0 {
            return Err(MnemonicError::EntropyLength { found: n });
        }
        Ok(Self {
            entropy: Zeroizing::new(entropy.to_vec()),
        })
    }

    /// Reads words separated by any whitespace, in any letter case.
    pub fn parse(text: &str) -> Result<Self, MnemonicError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let count = words.len();
        if ![12, 15, 18, 21, 24].contains(&count) {
            return Err(MnemonicError::WordCount { found: count });
        }
        // 11 bits per word; the last `count / 3` bits are the checksum.
        let mut bits = Zeroizing::new(Vec::with_capacity(count * 11));
        for (i, word) in words.iter().enumerate() {
            let lower = Zeroizing::new(word.to_lowercase());
            let index = bip39::Language::English
                .find_word(&lower)
                .ok_or(MnemonicError::UnknownWord { position: i + 1 })?;
            bits.extend((0..11).rev().map(|b| (index >> b) & 1 == 1));
        }
        let checksum_bits = count / 3;
        let entropy_bits = count * 11 - checksum_bits;
        let mut entropy = Zeroizing::new(vec![0u8; entropy_bits / 8]);
        for (i, bit) in bits[..entropy_bits].iter().enumerate() {
            if *bit {
                entropy[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let mnemonic = Self { entropy };
        let expected = mnemonic.checksum_bits();
        if bits[entropy_bits..] != expected[..] {
            return Err(MnemonicError::BadChecksum);
        }
        Ok(mnemonic)
    }

    /// The first `bits / 32` bits of SHA-256(entropy).
    fn checksum_bits(&self) -> Vec<bool> {
        let hash = Sha256::digest(&self.entropy[..]);
        let n = self.entropy.len() * 8 / 32;
        (0..n)
            .map(|i| hash[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect()
    }

    /// The entropy: what a keystore encrypts.
    pub fn entropy(&self) -> &[u8] {
        &self.entropy
    }

    /// Number of words.
    pub fn word_count(&self) -> usize {
        self.entropy.len() * 3 / 4
    }

    /// The words, in order.
    pub fn words(&self) -> Vec<&'static str> {
        let mut bits = Zeroizing::new(Vec::with_capacity(self.entropy.len() * 8 + 8));
        for byte in self.entropy.iter() {
            bits.extend((0..8).rev().map(|b| (byte >> b) & 1 == 1));
        }
        bits.extend(self.checksum_bits());
        bits.chunks(11)
            .map(|chunk| {
                let index = chunk
                    .iter()
                    .fold(0usize, |acc, bit| (acc << 1) | usize::from(*bit));
                word_list()[index]
            })
            .collect()
    }

    /// The words joined by single spaces.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.words().join(" "))
    }

    /// The BIP-39 seed with `passphrase` (sherd uses `""`).
    pub fn to_seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        let phrase = self.phrase();
        let mut salt = Zeroizing::new(Vec::with_capacity(8 + passphrase.len() + 4));
        salt.extend_from_slice(b"mnemonic");
        salt.extend_from_slice(passphrase.as_bytes());
        salt.extend_from_slice(&1u32.to_be_bytes());
        // PBKDF2 with one 64-byte block: T = U1 ^ U2 ^ … ^ U2048.
        let keyed = Hmac::<Sha512>::new_from_slice(phrase.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        let mut u = Zeroizing::new([0u8; 64]);
        let mut mac = keyed.clone();
        mac.update(&salt);
        u.copy_from_slice(&mac.finalize().into_bytes());
        let mut out = Zeroizing::new(*u);
        for _ in 1..SEED_ITERATIONS {
            let mut mac = keyed.clone();
            mac.update(&u[..]);
            u.copy_from_slice(&mac.finalize().into_bytes());
            for (o, x) in out.iter_mut().zip(u.iter()) {
                *o ^= x;
            }
        }
        out
    }
}

impl PartialEq for Mnemonic {
    fn eq(&self, other: &Self) -> bool {
        self.entropy[..] == other.entropy[..]
    }
}

impl Eq for Mnemonic {}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the TREZOR reference vectors (python-mnemonic `vectors.json`),
    /// passphrase "TREZOR": (entropy, mnemonic, seed).
    const TREZOR: &[(&str, &str, &str)] = &[
        (
            "00000000000000000000000000000000",
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
        ),
        (
            "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
            "legal winner thank year wave sausage worth useful legal winner thank yellow",
            "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
            "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
        ),
        (
            "8080808080808080808080808080808080808080808080808080808080808080",
            "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
            "c0c519bd0e91a2ed54357d9d1ebef6f5af218a153624cf4f2da911a0ed8f7a09e2ef61af0aca007096df430022f7a2b6fb91661a9589097069720d015e4e982f",
        ),
    ];

    #[test]
    fn trezor_vectors() {
        for (entropy, words, seed) in TREZOR {
            let m = Mnemonic::from_entropy(&hex::decode(entropy).unwrap()).unwrap();
            assert_eq!(m.phrase().as_str(), *words);
            let parsed = Mnemonic::parse(words).unwrap();
            assert_eq!(parsed.entropy(), m.entropy());
            assert_eq!(hex::encode(&m.to_seed("TREZOR")[..]), *seed);
        }
    }

    #[test]
    fn generated_mnemonics_have_24_words_and_parse_back() {
        let m = Mnemonic::generate().unwrap();
        assert_eq!(m.words().len(), WORDS);
        let phrase = m.phrase();
        let back = Mnemonic::parse(&phrase.to_uppercase()).unwrap();
        assert_eq!(back.entropy(), m.entropy());
        // The bip39 crate agrees on the words.
        let theirs = bip39::Mnemonic::from_entropy(m.entropy()).unwrap();
        assert_eq!(theirs.to_string(), *phrase);
        assert_eq!(
            theirs.to_seed_normalized("")[..],
            m.to_seed("")[..],
            "seed matches the bip39 crate"
        );
    }

    #[test]
    fn bad_words_count_and_checksum_are_reported() {
        let (_, words, _) = TREZOR[0];
        assert_eq!(
            Mnemonic::parse("abandon abandon"),
            Err(MnemonicError::WordCount { found: 2 })
        );
        let typo = words.replacen("about", "abuot", 1);
        assert_eq!(
            Mnemonic::parse(&typo),
            Err(MnemonicError::UnknownWord { position: 12 })
        );
        let swapped = words.replacen("about", "abandon", 1);
        assert_eq!(Mnemonic::parse(&swapped), Err(MnemonicError::BadChecksum));
        assert!(Mnemonic::from_entropy(&[0; 15]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_entropy_round_trips_and_matches_the_bip39_crate(
            words in proptest::sample::select(vec![12usize, 15, 18, 21, 24]),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 32),
        ) {
            let entropy = &bytes[..words * 4 / 3];
            let m = Mnemonic::from_entropy(entropy).unwrap();
            proptest::prop_assert_eq!(m.word_count(), words);
            let phrase = m.phrase();
            let parsed = Mnemonic::parse(&phrase).unwrap();
            proptest::prop_assert_eq!(parsed.entropy(), entropy);
            let theirs = bip39::Mnemonic::from_entropy(entropy).unwrap().to_string();
            proptest::prop_assert_eq!(theirs.as_str(), phrase.as_str());
        }
    }

    #[test]
    fn debug_shows_no_words() {
        let m = Mnemonic::from_entropy(&[0; 32]).unwrap();
        let debug = format!("{m:?}");
        assert!(!debug.contains("abandon"), "{debug}");
    }
}
