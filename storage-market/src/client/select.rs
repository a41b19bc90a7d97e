//! Choosing providers from the chain's advertisements.
//!
//! A provider is eligible for a fragment of `fragment_size` bytes kept
//! `duration_epochs` epochs at no more than `max_price` when it has that
//! much free (advertised capacity less used), its price is at most the
//! maximum, the duration is inside its range, and it has a provider
//! endpoint on chain. Eligible providers are ranked by fewest recent
//! missed proofs, then lowest price, then most free space (then address,
//! so the order is deterministic); the first `k + m` hold the fragments,
//! the next ones are spares for refusals and failures.
//!
//! One contract has one price, so the price offered is the highest price
//! among the chosen providers *and* the spares: any spare can step in
//! without a new round of proposals.

use sherd_ledger::{state::ProviderAd, Address, Amount};

use crate::transport::Endpoint;

/// A provider as the chain describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where it is reached (its address is its signing key).
    pub endpoint: Endpoint,
    /// Its advertisement.
    pub ad: ProviderAd,
    /// Proofs it missed on fragments it still holds.
    pub recent_misses: u64,
}

/// What the fragments need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needs {
    /// Bytes per fragment.
    pub fragment_size: u64,
    /// Contract length.
    pub duration_epochs: u64,
    /// The most the client pays per GiB-epoch.
    pub max_price: Amount,
    /// Fragments to place (`k + m`).
    pub count: usize,
    /// Spares wanted beyond `count`.
    pub spares: usize,
    /// Providers not to use.
    pub exclude: Vec<Address>,
}

/// The providers chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `count` providers, best first, then the spares.
    pub ranked: Vec<Candidate>,
    /// The contract price: the highest price among `ranked`.
    pub price: Amount,
}

/// Why not enough providers qualify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{eligible} provider(s) can take a fragment of {fragment_size} bytes for {duration_epochs} epochs at ≤ {max_price} per GiB-epoch, {needed} are needed (of {total} advertised: {full} without room, {expensive} too expensive, {duration} outside their duration range, {unreachable} without an endpoint{excluded})",
    excluded = if *.excluded > 0 { format!(", {} excluded", .excluded) } else { String::new() }
)]
pub struct TooFewProviders {
    /// Providers that qualify.
    pub eligible: usize,
    /// Providers needed.
    pub needed: usize,
    /// Advertised providers.
    pub total: usize,
    /// Without room.
    pub full: usize,
    /// Over the price.
    pub expensive: usize,
    /// Outside their duration range.
    pub duration: usize,
    /// Without an endpoint.
    pub unreachable: usize,
    /// Excluded by the caller.
    pub excluded: usize,
    /// The fragment size asked.
    pub fragment_size: u64,
    /// The duration asked.
    pub duration_epochs: u64,
    /// The price limit.
    pub max_price: Amount,
}

/// Ranks the eligible candidates; at least `needs.count` must qualify.
pub fn select(candidates: &[Candidate], needs: &Needs) -> Result<Selection, TooFewProviders> {
    let mut err = TooFewProviders {
        eligible: 0,
        needed: needs.count,
        total: candidates.len(),
        full: 0,
        expensive: 0,
        duration: 0,
        unreachable: 0,
        excluded: 0,
        fragment_size: needs.fragment_size,
        duration_epochs: needs.duration_epochs,
        max_price: needs.max_price,
    };
    let mut eligible: Vec<&Candidate> = Vec::new();
    for c in candidates {
        let free = c.ad.capacity_bytes.saturating_sub(c.ad.used_bytes);
        if needs.exclude.contains(&c.endpoint.address) {
            err.excluded += 1;
        } else if c.endpoint.peer_id.is_empty() || c.endpoint.multiaddrs.is_empty() {
            err.unreachable += 1;
        } else if free < needs.fragment_size {
            err.full += 1;
        } else if c.ad.price_per_gib_epoch > needs.max_price {
            err.expensive += 1;
        } else if !(c.ad.min_duration_epochs..=c.ad.max_duration_epochs)
            .contains(&needs.duration_epochs)
        {
            err.duration += 1;
        } else {
            eligible.push(c);
        }
    }
    err.eligible = eligible.len();
    if eligible.len() < needs.count {
        return Err(err);
    }
    eligible.sort_by(|a, b| {
        let free = |c: &Candidate| c.ad.capacity_bytes.saturating_sub(c.ad.used_bytes);
        a.recent_misses
            .cmp(&b.recent_misses)
            .then(a.ad.price_per_gib_epoch.cmp(&b.ad.price_per_gib_epoch))
            .then(free(b).cmp(&free(a)))
            .then(a.endpoint.address.0.cmp(&b.endpoint.address.0))
    });
    eligible.truncate(needs.count.saturating_add(needs.spares));
    let price = eligible
        .iter()
        .map(|c| c.ad.price_per_gib_epoch)
        .max()
        .unwrap_or(Amount::ZERO);
    Ok(Selection {
        ranked: eligible.into_iter().cloned().collect(),
        price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: u8, free: u64, price: u64, misses: u64) -> Candidate {
        Candidate {
            endpoint: Endpoint {
                address: Address([id; 32]),
                peer_id: vec![id],
                multiaddrs: vec![vec![id]],
            },
            ad: ProviderAd {
                capacity_bytes: free + 10,
                used_bytes: 10,
                price_per_gib_epoch: Amount(price),
                collateral_per_gib: Amount(1),
                min_duration_epochs: 1,
                max_duration_epochs: 100,
                updated_at: 0,
            },
            recent_misses: misses,
        }
    }

    fn needs(count: usize, spares: usize) -> Needs {
        Needs {
            fragment_size: 1000,
            duration_epochs: 10,
            max_price: Amount(50),
            count,
            spares,
            exclude: vec![],
        }
    }

    #[test]
    fn ranks_by_misses_then_price_then_room() {
        let list = vec![
            candidate(1, 5000, 10, 2),
            candidate(2, 5000, 20, 0),
            candidate(3, 9000, 20, 0),
            candidate(4, 5000, 5, 0),
            candidate(5, 500, 1, 0),   // full
            candidate(6, 5000, 60, 0), // too expensive
        ];
        let s = select(&list, &needs(2, 2)).unwrap();
        let ids: Vec<u8> = s.ranked.iter().map(|c| c.endpoint.address.0[0]).collect();
        assert_eq!(ids, vec![4, 3, 2, 1]);
        assert_eq!(s.price, Amount(20), "the highest among chosen and spares");
    }

    #[test]
    fn too_few_says_why() {
        let mut unreachable = candidate(7, 5000, 1, 0);
        unreachable.endpoint.multiaddrs.clear();
        let mut short = candidate(8, 5000, 1, 0);
        short.ad.max_duration_epochs = 5;
        let list = vec![
            candidate(1, 5000, 10, 0),
            candidate(5, 500, 1, 0),
            candidate(6, 5000, 60, 0),
            unreachable,
            short,
        ];
        let err = select(&list, &needs(3, 0)).unwrap_err();
        assert_eq!(
            (
                err.eligible,
                err.full,
                err.expensive,
                err.unreachable,
                err.duration
            ),
            (1, 1, 1, 1, 1)
        );
        assert!(err.to_string().contains("3 are needed"), "{err}");
        let mut n = needs(1, 0);
        n.exclude = vec![Address([1; 32])];
        assert_eq!(select(&list, &n).unwrap_err().excluded, 1);
    }
}
