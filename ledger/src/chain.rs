//! Chain identity and chain parameters.
//!
//! A [`ChainId`] (consensus's type, re-exported) is 1 to 32 bytes of
//! printable ASCII without spaces (`0x21..=0x7e`), e.g. `sherd-dev`. It is in every transaction and every
//! signed message, so a signature made for one chain is worthless on
//! another. In the canonical codec it is a byte string
//! (`u32_le(len) ‖ bytes`) with a limit of 32.

use crate::{
    amount::Amount,
    codec::{Decode, DecodeError, Encode, EncodeError, Reader, Writer},
};

/// Longest chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = sherd_consensus::MAX_CHAIN_ID_BYTES;

/// The name of a chain: consensus's type (the workspace has one), which
/// the codec encodes here.
pub use sherd_consensus::{ChainId, ChainIdError};

impl Encode for ChainId {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        w.bytes("chain_id", MAX_CHAIN_ID_LEN, self.as_str().as_bytes())
    }
}

impl Decode for ChainId {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.bytes("chain_id", MAX_CHAIN_ID_LEN)?;
        ChainId::from_bytes(bytes).map_err(|e| DecodeError::Invalid {
            field: "chain_id",
            reason: e.to_string(),
        })
    }
}

/// Basis points in one whole (100 %).
pub const BPS: u16 = 10_000;

/// Everything the state transition needs to know about the chain. Fixed at
/// genesis and stored in the state (`0x00 ‖ "params"`), so a node reads
/// them from its own database.
///
/// Heights start at 1 (the genesis state is height 0). Block `h` is in
/// epoch `h / epoch_length` and proof period `h / proof_period`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainParams {
    /// The chain every transaction must name.
    pub chain_id: ChainId,
    /// The smallest fee a transaction may offer.
    pub min_fee: Amount,
    /// Blocks per epoch; a multiple of `proof_period`.
    pub epoch_length: u64,
    /// Most validators in an epoch's set (the top by bonded stake).
    pub max_validators: u32,
    /// Least self-stake a validator needs to be in a set.
    pub min_self_stake: Amount,
    /// Epochs an unbonding waits before it can be withdrawn.
    pub unbonding_epochs: u64,
    /// New currency paid to the proposer of every block.
    pub block_reward: Amount,
    /// Blocks per storage-proof period.
    pub proof_period: u64,
    /// Blocks, from the start of a period, in which its proofs are accepted
    /// (`1..=proof_period`).
    pub proof_window: u64,
    /// New currency paid to a provider per accepted proof.
    pub proof_reward: Amount,
    /// Share of a fragment's collateral slashed per missed proof, in bps.
    pub missed_proof_slash_bps: u16,
    /// Share of slashed storage collateral paid to the client, in bps; the
    /// rest is burned.
    pub slash_to_client_bps: u16,
    /// Missed proofs after which a fragment is lost and repairable.
    pub max_missed_proofs: u32,
    /// Share of the burned part of a lost fragment's collateral kept as the
    /// reward of whoever repairs it (`RepairFragment`), in bps; unclaimed
    /// when the contract ends, it is burned.
    pub repair_reward_bps: u16,
    /// Share of a validator's bonded stake slashed for equivocation, in bps.
    pub equivocation_slash_bps: u16,
    /// Epochs an equivocating validator is kept out of the set.
    pub jail_epochs: u64,
}

/// Why chain parameters cannot run a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain parameter `{field}` is invalid: {reason}")]
pub struct ParamsError {
    /// The parameter.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ChainParams {
    /// Parameters for a local development chain: short epochs and periods,
    /// so a person sees unbonding, rewards and proofs within minutes.
    pub fn dev(chain_id: ChainId) -> Self {
        Self {
            chain_id,
            min_fee: Amount(1_000),
            epoch_length: 100,
            max_validators: 100,
            min_self_stake: Amount(1_000_000_000),
            unbonding_epochs: 2,
            block_reward: Amount(1_000_000_000),
            proof_period: 20,
            proof_window: 10,
            proof_reward: Amount(1_000_000),
            missed_proof_slash_bps: 1_000,
            slash_to_client_bps: 5_000,
            max_missed_proofs: 3,
            repair_reward_bps: 5_000,
            equivocation_slash_bps: 500,
            jail_epochs: 10,
        }
    }

    /// Checks that the parameters make sense together.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let fail = |field: &'static str, reason: String| Err(ParamsError { field, reason });
        if self.proof_period == 0 {
            return fail("proof_period", "must be at least 1".into());
        }
        if self.epoch_length == 0 || self.epoch_length.checked_rem(self.proof_period) != Some(0) {
            return fail(
                "epoch_length",
                format!(
                    "must be a positive multiple of proof_period {}, is {}",
                    self.proof_period, self.epoch_length
                ),
            );
        }
        if self.proof_window == 0 || self.proof_window > self.proof_period {
            return fail(
                "proof_window",
                format!(
                    "must be 1..={}, is {}",
                    self.proof_period, self.proof_window
                ),
            );
        }
        if self.max_validators == 0 {
            return fail("max_validators", "must be at least 1".into());
        }
        if self.max_missed_proofs == 0 {
            return fail("max_missed_proofs", "must be at least 1".into());
        }
        for (field, bps) in [
            ("missed_proof_slash_bps", self.missed_proof_slash_bps),
            ("slash_to_client_bps", self.slash_to_client_bps),
            ("repair_reward_bps", self.repair_reward_bps),
            ("equivocation_slash_bps", self.equivocation_slash_bps),
        ] {
            if bps > BPS {
                return fail(field, format!("is {bps} basis points, more than 100 %"));
            }
        }
        Ok(())
    }

    /// The epoch of block `height`.
    pub fn epoch_of(&self, height: u64) -> u64 {
        height.checked_div(self.epoch_length).unwrap_or(0)
    }

    /// The proof period of block `height`.
    pub fn period_of(&self, height: u64) -> u64 {
        height.checked_div(self.proof_period).unwrap_or(0)
    }

    /// Proof periods per epoch.
    pub fn periods_per_epoch(&self) -> u64 {
        self.epoch_length
            .checked_div(self.proof_period)
            .unwrap_or(0)
    }
}

impl Encode for ChainParams {
    fn encode(&self, w: &mut Writer) -> Result<(), EncodeError> {
        self.chain_id.encode(w)?;
        self.min_fee.encode(w)?;
        w.u64(self.epoch_length);
        w.u32(self.max_validators);
        self.min_self_stake.encode(w)?;
        w.u64(self.unbonding_epochs);
        self.block_reward.encode(w)?;
        w.u64(self.proof_period);
        w.u64(self.proof_window);
        self.proof_reward.encode(w)?;
        w.u16(self.missed_proof_slash_bps);
        w.u16(self.slash_to_client_bps);
        w.u32(self.max_missed_proofs);
        w.u16(self.repair_reward_bps);
        w.u16(self.equivocation_slash_bps);
        w.u64(self.jail_epochs);
        Ok(())
    }
}

impl Decode for ChainParams {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            chain_id: ChainId::decode(r)?,
            min_fee: Amount(r.u64("min_fee")?),
            epoch_length: r.u64("epoch_length")?,
            max_validators: r.u32("max_validators")?,
            min_self_stake: Amount(r.u64("min_self_stake")?),
            unbonding_epochs: r.u64("unbonding_epochs")?,
            block_reward: Amount(r.u64("block_reward")?),
            proof_period: r.u64("proof_period")?,
            proof_window: r.u64("proof_window")?,
            proof_reward: Amount(r.u64("proof_reward")?),
            missed_proof_slash_bps: r.u16("missed_proof_slash_bps")?,
            slash_to_client_bps: r.u16("slash_to_client_bps")?,
            max_missed_proofs: r.u32("max_missed_proofs")?,
            repair_reward_bps: r.u16("repair_reward_bps")?,
            equivocation_slash_bps: r.u16("equivocation_slash_bps")?,
            jail_epochs: r.u64("jail_epochs")?,
        })
    }
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
