//! sherd's wallet: keys, mnemonics, keystores, addresses, transaction building and the node RPC client.
//!
//! * [`mnemonic`]: 24-word BIP-39 mnemonics (English) and their seeds;
//! * [`keys`]: SLIP-0010 ed25519 derivation along sherd's path
//!   `m/44'/7787'/ACCOUNT'/0'/0'`, and the [`WalletKey`] it gives;
//! * [`keystore`]: the encrypted keystore file (Argon2id + ChaCha20-Poly1305);
//! * [`store`]: the wallet directory, one keystore per wallet;
//! * [`validator_key`]: BLS validator key files for `Stake`;
//! * [`keyfile`]: every secret sherd writes to disk (atomically, mode
//!   0600) and the plain key files of node homes (ed25519, BLS), which the
//!   node reads and writes through it;
//! * [`build`]: building and signing `Transfer`, `Stake`, `Delegate`,
//!   `Undelegate`, `Withdraw`, `RegisterEndpoint` and the market's
//!   `AdvertiseCapacity`, `CreateContract`, `SubmitProofs` and
//!   `RepairFragment` with the ledger's own signing;
//! * [`client`]: a blocking client of the node's HTTP API.
//!
//! Secrets (entropy, seeds, derived keys) live in zeroizing buffers and no
//! `Debug` output shows one.

pub mod build;
pub mod client;
pub mod keyfile;
pub mod keys;
pub mod keystore;
pub mod mnemonic;
pub mod store;
pub mod validator_key;

pub use build::{BuildError, TxParams, DEFAULT_FEE};
pub use client::{BlockRef, ClientError, NodeClient, DEFAULT_NODE_URL};
pub use keyfile::{KeyFileError, PrivateFile};
pub use keys::{DerivationPath, WalletKey, COIN_TYPE};
pub use keystore::{KdfParams, Keystore, KeystoreError, Unlocked};
pub use mnemonic::{Mnemonic, MnemonicError};
pub use store::{StoreError, WalletDir};
pub use validator_key::{ValidatorKey, ValidatorKeyError};
