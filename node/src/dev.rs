//! The dev chain's home directory: keys and genesis, created on first start.
//!
//! ```text
//! <home>/genesis.json     the genesis (chain id `sherd-dev`)
//! <home>/validator.key    the validator's ed25519 operator key   (0600)
//! <home>/validator.bls    the validator's BLS12-381 vote key     (0600)
//! <home>/faucet.key       the faucet account's ed25519 key       (0600)
//! <home>/db/              parity-db
//! ```
//!
//! Key files are JSON: `{ "version": 1, "scheme": "ed25519", "secret_key":
//! "<64 hex>", "address": "sherd1…" }`, and for the BLS key the format of
//! `sherd-wallet`'s validator key files (`"scheme": "bls12-381-g1-pop"`,
//! `"secret_key"`, `"public_key"`), so it can be passed to
//! `sherd wallet stake --validator-key`. They are read and written by
//! [`sherd_wallet::keyfile`]: written atomically and never overwritten,
//! and refused on reading when other users may read them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use sherd_consensus::bls::SecretKey;
use sherd_ledger::genesis::{GenesisAccount, GenesisValidator};
use sherd_ledger::{Address, Amount, ChainId, ChainParams, Genesis};
use sherd_wallet::keyfile::{read_bls, read_ed25519, write_bls, write_ed25519};

/// Chain id of the dev chain.
pub const DEV_CHAIN_ID: &str = "sherd-dev";
/// The faucet's genesis balance, whole tokens.
pub const FAUCET_TOKENS: u64 = 1_000_000_000;
/// The validator's self-stake, whole tokens.
pub const VALIDATOR_STAKE_TOKENS: u64 = 1_000_000;
/// The validator operator's spendable genesis balance, whole tokens.
pub const VALIDATOR_BALANCE_TOKENS: u64 = 1_000;

/// Keys and genesis of a dev home.
pub struct DevHome {
    /// The directory.
    pub home: PathBuf,
    /// The genesis.
    pub genesis: Genesis,
    /// Validator operator key.
    pub validator: SigningKey,
    /// Validator BLS key.
    pub bls: SecretKey,
    /// Faucet key.
    pub faucet: SigningKey,
}

impl std::fmt::Debug for DevHome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevHome")
            .field("home", &self.home)
            .field("validator", &Address::from(&self.validator.verifying_key()))
            .field("faucet", &Address::from(&self.faucet.verifying_key()))
            .finish_non_exhaustive()
    }
}

pub(crate) fn random32() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(bytes)
}

/// Whole tokens as an amount.
pub(crate) fn tokens(n: u64) -> Amount {
    Amount(n.saturating_mul(sherd_ledger::amount::BASE_UNITS_PER_UNIT))
}

impl DevHome {
    /// Opens `home`, creating keys and genesis if it holds no genesis yet.
    pub fn open_or_init(home: &Path) -> anyhow::Result<Self> {
        Self::open_or_init_with(home, None)
    }

    /// As [`open_or_init`](Self::open_or_init); a new genesis gets
    /// `epoch_length` if given (tests use short epochs).
    pub fn open_or_init_with(home: &Path, epoch_length: Option<u64>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(home)
            .with_context(|| format!("cannot create the home directory {}", home.display()))?;
        let genesis_path = home.join("genesis.json");
        let paths = [
            home.join("validator.key"),
            home.join("validator.bls"),
            home.join("faucet.key"),
        ];
        if !genesis_path.exists() {
            if let Some(existing) = paths.iter().find(|p| p.exists()) {
                bail!(
                    "{} exists but {} does not: the home is half-initialized; remove it or use another --home",
                    existing.display(),
                    genesis_path.display()
                );
            }
            let validator = SigningKey::from_bytes(&random32()?);
            let faucet = SigningKey::from_bytes(&random32()?);
            let bls = SecretKey::key_gen(&random32()?, b"")
                .map_err(|e| anyhow::anyhow!("BLS key generation failed: {e}"))?;
            let chain_id =
                ChainId::new(DEV_CHAIN_ID).map_err(|e| anyhow::anyhow!("dev chain id: {e}"))?;
            let operator = Address::from(&validator.verifying_key());
            let mut params = ChainParams::dev(chain_id);
            if let Some(length) = epoch_length {
                params.epoch_length = length;
            }
            let genesis = Genesis {
                genesis_time_ms: crate::now_ms(),
                params,
                accounts: vec![
                    GenesisAccount {
                        address: Address::from(&faucet.verifying_key()),
                        balance: tokens(FAUCET_TOKENS),
                    },
                    GenesisAccount {
                        address: operator,
                        balance: tokens(VALIDATOR_BALANCE_TOKENS),
                    },
                ],
                validators: vec![GenesisValidator {
                    operator,
                    bls_pubkey: bls.public_key().to_bytes(),
                    pop: bls.prove_possession().to_bytes(),
                    self_stake: tokens(VALIDATOR_STAKE_TOKENS),
                    commission_bps: 500,
                }],
            };
            genesis
                .validate()
                .map_err(|e| anyhow::anyhow!("generated dev genesis is invalid: {e}"))?;
            let [validator_path, bls_path, faucet_path] = &paths;
            write_ed25519(validator_path, &validator)?;
            write_bls(bls_path, &bls)?;
            write_ed25519(faucet_path, &faucet)?;
            // Written last: its presence means the home is complete.
            let tmp = home.join("genesis.json.tmp");
            std::fs::write(&tmp, genesis.to_json())
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &genesis_path)
                .with_context(|| format!("cannot write {}", genesis_path.display()))?;
            tracing::info!(home = %home.display(), validator = %operator, faucet = %Address::from(&faucet.verifying_key()), "dev.init: created keys and genesis");
            return Ok(Self {
                home: home.to_path_buf(),
                genesis,
                validator,
                bls,
                faucet,
            });
        }
        let text = std::fs::read_to_string(&genesis_path)
            .with_context(|| format!("cannot read {}", genesis_path.display()))?;
        let genesis = Genesis::from_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", genesis_path.display()))?;
        let [validator_path, bls_path, faucet_path] = &paths;
        Ok(Self {
            home: home.to_path_buf(),
            genesis,
            validator: read_ed25519(validator_path)?,
            bls: read_bls(bls_path)?,
            faucet: read_ed25519(faucet_path)?,
        })
    }

    /// Where the database lives.
    pub fn db_path(&self) -> PathBuf {
        self.home.join("db")
    }
}
