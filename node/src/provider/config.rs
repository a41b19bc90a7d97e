//! The `[provider]` section of a node's `config.toml`, written by
//! `sherd provider init`:
//!
//! ```toml
//! [provider]
//! storage_dir = "fragments"        # relative to the home
//! capacity = "10GiB"               # bytes offered on chain
//! price_per_gib_epoch = "0.001"    # least price accepted, per GiB per epoch
//! collateral_per_gib = "1"         # collateral locked per GiB stored
//! min_duration_epochs = 1
//! max_duration_epochs = 1000
//! # optional:
//! max_fragment_size = "4GiB"       # largest fragment taken
//! reservation_blocks = 200         # blocks a reserved or uploaded fragment waits for its contract
//! max_uploads = 16                 # uploads received at once
//! ```
//!
//! The provider signs with `<home>/provider.key` (its account: acceptances,
//! advertisements, proofs). Sizes take `B`, `KiB`, `MiB`, `GiB`, `TiB` (or
//! a plain number of bytes).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sherd_ledger::{tx::kind::AdvertiseCapacity, Amount};
use sherd_market::provider::PolicyConfig;
use sherd_wallet::client::types::ProviderTerms;

/// A number of bytes, written with a binary unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a size: write a whole number with an optional unit B, KiB, MiB, GiB or TiB, e.g. 10GiB")]
pub struct SizeError {
    /// What was given.
    pub text: String,
}

const UNITS: [(&str, u64); 5] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<Self, SizeError> {
        let err = || SizeError {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        let (digits, factor) = UNITS
            .iter()
            .find_map(|(unit, factor)| Some((trimmed.strip_suffix(unit)?, *factor)))
            .unwrap_or((trimmed, 1));
        let digits = digits.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u64 = digits.parse().map_err(|_| err())?;
        n.checked_mul(factor).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, factor) in UNITS {
            if self.0 >= factor && self.0 % factor == 0 {
                return write!(f, "{}{unit}", self.0 / factor);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(u64),
        }
        match Either::deserialize(d)? {
            Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
            Either::Number(n) => Ok(ByteSize(n)),
        }
    }
}

fn default_storage_dir() -> PathBuf {
    PathBuf::from("fragments")
}

fn default_min_duration() -> u64 {
    1
}

fn default_max_duration() -> u64 {
    1_000
}

/// The `[provider]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// Where fragments are kept; relative to the home unless absolute.
    #[serde(default = "default_storage_dir")]
    pub storage_dir: PathBuf,
    /// Bytes offered on chain.
    pub capacity: ByteSize,
    /// Least price accepted per GiB per epoch.
    pub price_per_gib_epoch: Amount,
    /// Collateral locked per GiB stored.
    pub collateral_per_gib: Amount,
    /// Shortest contract accepted, in epochs.
    #[serde(default = "default_min_duration")]
    pub min_duration_epochs: u64,
    /// Longest contract accepted, in epochs.
    #[serde(default = "default_max_duration")]
    pub max_duration_epochs: u64,
    /// Largest fragment taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fragment_size: Option<ByteSize>,
    /// Blocks a reserved or uploaded fragment waits for its contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_blocks: Option<u64>,
    /// Uploads received at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<usize>,
}

/// Uploads received at once unless the section says otherwise.
pub const DEFAULT_MAX_UPLOADS: usize = 16;

impl ProviderSection {
    /// Checks what the ledger would refuse, so a bad section stops the node
    /// at start with a reason instead of failing on chain.
    pub fn check(&self) -> Result<(), String> {
        if self.capacity.0 == 0 {
            return Err("capacity must be more than 0".into());
        }
        if self.min_duration_epochs == 0 || self.min_duration_epochs > self.max_duration_epochs {
            return Err(format!(
                "min_duration_epochs {} and max_duration_epochs {} make an empty range (min must be at least 1 and at most max)",
                self.min_duration_epochs, self.max_duration_epochs
            ));
        }
        if self.max_fragment_size.is_some_and(|s| s.0 < 1024) {
            return Err("max_fragment_size must be at least 1KiB".into());
        }
        if self.reservation_blocks == Some(0) {
            return Err("reservation_blocks must be at least 1".into());
        }
        if self.max_uploads == Some(0) {
            return Err("max_uploads must be at least 1".into());
        }
        Ok(())
    }

    /// The section as `GET /v1/provider` shows it: the same JSON as the
    /// section itself.
    pub fn terms(&self) -> ProviderTerms {
        ProviderTerms {
            storage_dir: self.storage_dir.display().to_string(),
            capacity: self.capacity.to_string(),
            price_per_gib_epoch: self.price_per_gib_epoch,
            collateral_per_gib: self.collateral_per_gib,
            min_duration_epochs: self.min_duration_epochs,
            max_duration_epochs: self.max_duration_epochs,
            max_fragment_size: self.max_fragment_size.map(|s| s.to_string()),
            reservation_blocks: self.reservation_blocks,
            max_uploads: self.max_uploads.map(|n| n as u64),
        }
    }

    /// The advertisement these terms make.
    pub fn advertisement(&self) -> AdvertiseCapacity {
        AdvertiseCapacity {
            capacity_bytes: self.capacity.0,
            price_per_gib_epoch: self.price_per_gib_epoch,
            collateral_per_gib: self.collateral_per_gib,
            min_duration_epochs: self.min_duration_epochs,
            max_duration_epochs: self.max_duration_epochs,
        }
    }

    /// The deal policy's limits.
    pub fn policy(&self) -> PolicyConfig {
        let default = PolicyConfig::default();
        PolicyConfig {
            reservation_blocks: self
                .reservation_blocks
                .unwrap_or(default.reservation_blocks),
            max_fragment_size: self
                .max_fragment_size
                .map_or(default.max_fragment_size, |s| s.0),
            ..default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        for (text, bytes) in [
            ("10GiB", 10u64 << 30),
            ("512MiB", 512 << 20),
            ("1 KiB", 1024),
            ("4096", 4096),
            ("7B", 7),
        ] {
            assert_eq!(text.parse::<ByteSize>().unwrap().0, bytes, "{text}");
        }
        assert_eq!(ByteSize(10 << 30).to_string(), "10GiB");
        assert_eq!(ByteSize(1500).to_string(), "1500B");
        for bad in ["", "GiB", "1.5GiB", "-1", "10GB", "99999999999TiB"] {
            let e = bad.parse::<ByteSize>().unwrap_err();
            assert!(e.to_string().contains("is not a size"), "{bad}");
        }
    }

    /// `GET /v1/provider` shows the section as the section's own JSON.
    #[test]
    fn the_terms_are_the_sections_json() {
        let mut section: ProviderSection = toml::from_str(
            r#"
            capacity = "1GiB"
            price_per_gib_epoch = "0.001"
            collateral_per_gib = "1"
        "#,
        )
        .unwrap();
        let json = |s: &ProviderSection| {
            (
                serde_json::to_value(s).unwrap(),
                serde_json::to_value(s.terms()).unwrap(),
            )
        };
        let (own, terms) = json(&section);
        assert_eq!(own, terms);
        section.max_fragment_size = Some(ByteSize(4 << 30));
        section.reservation_blocks = Some(200);
        section.max_uploads = Some(3);
        let (own, terms) = json(&section);
        assert_eq!(own, terms);
        assert_eq!(terms["max_fragment_size"], "4GiB");
    }

    #[test]
    fn the_section_round_trips_and_refuses_typos() {
        let text = r#"
            capacity = "1GiB"
            price_per_gib_epoch = "0.001"
            collateral_per_gib = "1"
        "#;
        let section: ProviderSection = toml::from_str(text).unwrap();
        assert_eq!(section.storage_dir, PathBuf::from("fragments"));
        assert_eq!(section.max_duration_epochs, 1_000);
        section.check().unwrap();
        let again: ProviderSection = toml::from_str(&toml::to_string(&section).unwrap()).unwrap();
        assert_eq!(again, section);
        let typo = format!("{text}\ncapacty = \"2GiB\"");
        assert!(toml::from_str::<ProviderSection>(&typo).is_err());
        let empty = ProviderSection {
            min_duration_epochs: 5,
            max_duration_epochs: 4,
            ..section
        };
        assert!(empty.check().unwrap_err().contains("empty range"));
    }
}
