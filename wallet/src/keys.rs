//! ed25519 keys from a mnemonic: SLIP-0010 derivation along sherd's path.
//!
//! # Derivation (SLIP-0010, ed25519 curve)
//!
//! ```text
//! seed         = BIP-39 seed of the mnemonic, empty passphrase
//! I            = HMAC-SHA512(key = "ed25519 seed", seed)
//! k, c         = I[0..32], I[32..64]                      (master key, chain code)
//! for each index i (hardened: i ≥ 2^31):
//!     I        = HMAC-SHA512(key = c, 0x00 ‖ k ‖ ser32_be(i))
//!     k, c     = I[0..32], I[32..64]
//! secret       = k   (an ed25519 secret key seed)
//! ```
//!
//! ed25519 in SLIP-0010 has hardened children only; a path with a normal
//! index is refused.
//!
//! # sherd's path
//!
//! `m/44'/7787'/ACCOUNT'/0'/0'`: BIP-44 purpose `44'`, coin type `7787'`
//! for sherd, the account index (0 by default), change `0'` and address
//! index `0'`, all hardened. The same words and account always give the same
//! address.

use std::{fmt, str::FromStr};

use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use sherd_ledger::Address;
use zeroize::Zeroizing;

use crate::mnemonic::Mnemonic;

/// sherd's BIP-44 coin type.
pub const COIN_TYPE: u32 = 7787;

/// The hardened bit of a derivation index.
pub const HARDENED: u32 = 1 << 31;

/// Why a derivation path is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not `m/…` with numeric components.
    #[error("`{input}` is not a derivation path like m/44'/7787'/0'/0'/0'")]
    Malformed {
        /// The input.
        input: String,
    },
    /// ed25519 (SLIP-0010) only derives hardened children.
    #[error(
        "`{input}`: component {position} is not hardened; ed25519 paths are hardened only (add ')"
    )]
    NotHardened {
        /// The input.
        input: String,
        /// 1-based component position.
        position: usize,
    },
}

/// A hardened-only derivation path. Indices are stored without the
/// hardened bit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DerivationPath(Vec<u32>);

impl DerivationPath {
    /// sherd's path for `account`: `m/44'/7787'/account'/0'/0'`.
    pub fn sherd(account: u32) -> Self {
        Self(vec![44, COIN_TYPE, account & !HARDENED, 0, 0])
    }

    /// The indices, without the hardened bit.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }
}

impl fmt::Display for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("m")?;
        for i in &self.0 {
            write!(f, "/{i}'")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DerivationPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivationPath({self})")
    }
}

impl FromStr for DerivationPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || PathError::Malformed { input: s.into() };
        let mut parts = s.split('/');
        if parts.next() != Some("m") {
            return Err(malformed());
        }
        parts
            .enumerate()
            .map(|(i, part)| {
                let digits = part
                    .strip_suffix('\'')
                    .or_else(|| part.strip_suffix('h'))
                    .ok_or(PathError::NotHardened {
                        input: s.into(),
                        position: i + 1,
                    })?;
                match digits.parse::<u32>() {
                    Ok(n) if n < HARDENED && !digits.starts_with('+') => Ok(n),
                    _ => Err(malformed()),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// A SLIP-0010 extended private key: key and chain code, zeroed on drop.
pub struct ExtendedKey {
    key: Zeroizing<[u8; 32]>,
    chain_code: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for ExtendedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExtendedKey(redacted)")
    }
}

fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> ExtendedKey {
    let mut mac = Hmac::<Sha512>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    let mut k = Zeroizing::new([0u8; 32]);
    let mut c = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(&out[..32]);
    c.copy_from_slice(&out[32..]);
    ExtendedKey {
        key: k,
        chain_code: c,
    }
}

impl ExtendedKey {
    /// The master key of `seed`.
    pub fn master(seed: &[u8]) -> Self {
        hmac_sha512(b"ed25519 seed", &[seed])
    }

    /// The hardened child `index` (the hardened bit is added).
    pub fn child(&self, index: u32) -> Self {
        let i = (index | HARDENED).to_be_bytes();
        hmac_sha512(&self.chain_code[..], &[&[0], &self.key[..], &i])
    }

    /// The key at `path` below the master key of `seed`.
    pub fn derive(seed: &[u8], path: &DerivationPath) -> Self {
        path.indices()
            .iter()
            .fold(Self::master(seed), |key, &i| key.child(i))
    }

    /// The 32-byte private key (an ed25519 secret key seed).
    pub fn secret(&self) -> &[u8; 32] {
        &self.key
    }

    /// The chain code.
    pub fn chain_code(&self) -> &[u8; 32] {
        &self.chain_code
    }

    /// The ed25519 signing key.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.key)
    }
}

/// An account's signing key and address. The secret is zeroed on drop
/// (`ed25519_dalek::SigningKey` zeroizes itself) and never printed.
#[derive(Clone)]
pub struct WalletKey {
    signing: SigningKey,
    address: Address,
    path: DerivationPath,
}

impl fmt::Debug for WalletKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WalletKey")
            .field("address", &self.address)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WalletKey {
    /// The key of `mnemonic` (empty BIP-39 passphrase) at `path`.
    pub fn derive(mnemonic: &Mnemonic, path: &DerivationPath) -> Self {
        let seed = mnemonic.to_seed("");
        let signing = ExtendedKey::derive(&seed[..], path).signing_key();
        let address = Address::from(&signing.verifying_key());
        Self {
            signing,
            address,
            path: path.clone(),
        }
    }

    /// The key of `mnemonic` at sherd's path for `account`.
    pub fn from_mnemonic(mnemonic: &Mnemonic, account: u32) -> Self {
        Self::derive(mnemonic, &DerivationPath::sherd(account))
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The path the key was derived at.
    pub fn path(&self) -> &DerivationPath {
        &self.path
    }

    /// The ed25519 key, for the ledger's signing functions.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        path: &'static str,
        chain_code: &'static str,
        private: &'static str,
        public: &'static str,
    }

    fn check(seed: &str, vectors: &[Vector]) {
        let seed = hex::decode(seed).unwrap();
        for v in vectors {
            let path: DerivationPath = v.path.parse().unwrap();
            let key = ExtendedKey::derive(&seed, &path);
            assert_eq!(hex::encode(key.chain_code()), v.chain_code, "{}", v.path);
            assert_eq!(hex::encode(key.secret()), v.private, "{}", v.path);
            // SLIP-0010 prints ed25519 public keys with a leading 0x00.
            let public = key.signing_key().verifying_key().to_bytes();
            assert_eq!(format!("00{}", hex::encode(public)), v.public, "{}", v.path);
        }
    }

    /// SLIP-0010, "Test vector 1 for ed25519".
    #[test]
    fn slip10_ed25519_vector_1() {
        check(
            "000102030405060708090a0b0c0d0e0f",
            &[
                Vector {
                    path: "m",
                    chain_code: "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
                    private: "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
                    public: "00a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed",
                },
                Vector {
                    path: "m/0'",
                    chain_code: "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
                    private: "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
                    public: "008c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c",
                },
                Vector {
                    path: "m/0'/1'",
                    chain_code: "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
                    private: "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
                    public: "001932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187",
                },
                Vector {
                    path: "m/0'/1'/2'",
                    chain_code: "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
                    private: "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
                    public: "00ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1",
                },
                Vector {
                    path: "m/0'/1'/2'/2'",
                    chain_code: "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
                    private: "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
                    public: "008abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c",
                },
                Vector {
                    path: "m/0'/1'/2'/2'/1000000000'",
                    chain_code: "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
                    private: "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
                    public: "003c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a",
                },
            ],
        );
    }

    /// SLIP-0010, "Test vector 2 for ed25519".
    #[test]
    fn slip10_ed25519_vector_2() {
        check(
            "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
            &[
                Vector {
                    path: "m",
                    chain_code: "ef70a74db9c3a5af931b5fe73ed8e1a53464133654fd55e7a66f8570b8e33c3b",
                    private: "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
                    public: "008fe9693f8fa62a4305a140b9764c5ee01e455963744fe18204b4fb948249308a",
                },
                Vector {
                    path: "m/0'",
                    chain_code: "0b78a3226f915c082bf118f83618a618ab6dec793752624cbeb622acb562862d",
                    private: "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
                    public: "0086fab68dcb57aa196c77c5f264f215a112c22a912c10d123b0d03c3c28ef1037",
                },
                Vector {
                    path: "m/0'/2147483647'",
                    chain_code: "138f0b2551bcafeca6ff2aa88ba8ed0ed8de070841f0c4ef0165df8181eaad7f",
                    private: "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
                    public: "005ba3b9ac6e90e83effcd25ac4e58a1365a9e35a3d3ae5eb07b9e4d90bcf7506d",
                },
                Vector {
                    path: "m/0'/2147483647'/1'",
                    chain_code: "73bd9fff1cfbde33a1b846c27085f711c0fe2d66fd32e139d3ebc28e5a4a6b90",
                    private: "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
                    public: "002e66aa57069c86cc18249aecf5cb5a9cebbfd6fadeab056254763874a9352b45",
                },
                Vector {
                    path: "m/0'/2147483647'/1'/2147483646'",
                    chain_code: "0902fe8a29f9140480a00ef244bd183e8a13288e4412d8389d140aac1794825a",
                    private: "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
                    public: "00e33c0f7d81d843c572275f287498e8d408654fdf0d1e065b84e2e6f157aab09b",
                },
                Vector {
                    path: "m/0'/2147483647'/1'/2147483646'/2'",
                    chain_code: "5d70af781f3a37b829f0d060924d5e960bdc02e85423494afc0b1a41bbe196d4",
                    private: "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
                    public: "0047150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0",
                },
            ],
        );
    }

    #[test]
    fn paths_parse_print_and_refuse_normal_indices() {
        let p = DerivationPath::sherd(0);
        assert_eq!(p.to_string(), "m/44'/7787'/0'/0'/0'");
        assert_eq!("m/44'/7787'/0'/0'/0'".parse::<DerivationPath>(), Ok(p));
        assert_eq!(DerivationPath::sherd(3).to_string(), "m/44'/7787'/3'/0'/0'");
        assert!(matches!(
            "m/44'/0".parse::<DerivationPath>(),
            Err(PathError::NotHardened { position: 2, .. })
        ));
        assert!("x/1'".parse::<DerivationPath>().is_err());
        assert!("m/2147483648'".parse::<DerivationPath>().is_err());
        assert_eq!(
            "m".parse::<DerivationPath>().unwrap().indices(),
            &[] as &[u32]
        );
    }

    #[test]
    fn same_words_same_address_other_account_other_address() {
        let m = Mnemonic::from_entropy(&[7; 32]).unwrap();
        let again = Mnemonic::parse(&m.phrase()).unwrap();
        let a = WalletKey::from_mnemonic(&m, 0);
        assert_eq!(a.address(), WalletKey::from_mnemonic(&again, 0).address());
        assert_ne!(a.address(), WalletKey::from_mnemonic(&m, 1).address());
        let debug = format!("{a:?}");
        let secret = hex::encode(a.signing_key().to_bytes());
        assert!(!debug.contains(&secret));
    }
}
