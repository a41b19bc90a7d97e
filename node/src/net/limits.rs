//! Per-peer limits on request-response traffic.
//!
//! Each peer has a token bucket per protocol: a request takes a token,
//! tokens come back at a steady rate up to a burst. A request beyond the
//! limit is dropped unanswered (the asker sees a failed request, as from a
//! busy peer). Honest use stays far below the limits: a syncing node asks
//! for at most [`crate::gossip::MAX_SYNC_BLOCKS`] blocks per request, one
//! request at a time, and a client places a fragment with one deal.
//!
//! | protocol | burst | sustained | constant |
//! |---|---|---|---|
//! | `/sherd/sync/1` | 64 requests | 16 per second | [`SYNC`] |
//! | `/sherd/deal/1` | 128 requests | 32 per second | [`DEALS`] |
//!
//! Fragment streams are limited where they are served (at most
//! `provider::MAX_STREAMS_PER_PEER` open per peer). The table of buckets
//! is bounded: past [`MAX_PEERS`] entries, the full (idle) ones are
//! forgotten, then all.

use std::collections::HashMap;
use std::time::Instant;

use libp2p::PeerId;

/// A rate: a burst, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests a peer may make at once.
    pub burst: f64,
    /// Requests per second it may sustain.
    pub per_second: f64,
}

/// Sync requests (status and blocks).
pub const SYNC: Rate = Rate {
    burst: 64.0,
    per_second: 16.0,
};
/// Deal requests, on a provider.
pub const DEALS: Rate = Rate {
    burst: 128.0,
    per_second: 32.0,
};
/// Peers tracked per limit, at most.
pub const MAX_PEERS: usize = 4_096;

/// Token buckets of one protocol, by peer.
#[derive(Debug)]
pub struct PeerLimit {
    rate: Rate,
    buckets: HashMap<PeerId, (f64, Instant)>,
}

impl PeerLimit {
    /// Buckets filling at `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: HashMap::new(),
        }
    }

    /// Whether `peer` may make a request now (and takes its token).
    pub fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.buckets.len() >= MAX_PEERS && !self.buckets.contains_key(&peer) {
            let rate = self.rate;
            self.buckets
                .retain(|_, (tokens, at)| refill(rate, *tokens, *at, now) < rate.burst);
            if self.buckets.len() >= MAX_PEERS {
                self.buckets.clear();
            }
        }
        let (tokens, at) = self.buckets.entry(peer).or_insert((self.rate.burst, now));
        let available = refill(self.rate, *tokens, *at, now);
        *at = now;
        if available >= 1.0 {
            *tokens = available - 1.0;
            true
        } else {
            *tokens = available;
            false
        }
    }
}

fn refill(rate: Rate, tokens: f64, at: Instant, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(at).as_secs_f64();
    (tokens + elapsed * rate.per_second).min(rate.burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let mut limit = PeerLimit::new(Rate {
            burst: 4.0,
            per_second: 2.0,
        });
        let (peer, other) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        let allowed = (0..10).filter(|_| limit.allow(peer, start)).count();
        assert_eq!(allowed, 4);
        // Another peer has its own bucket.
        assert!(limit.allow(other, start));
        // Half a second later: one more token.
        let later = start + Duration::from_millis(500);
        assert!(limit.allow(peer, later));
        assert!(!limit.allow(peer, later));
        // Idle long: back to the burst, not beyond.
        let much_later = start + Duration::from_secs(60);
        let allowed = (0..10).filter(|_| limit.allow(peer, much_later)).count();
        assert_eq!(allowed, 4);
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut limit = PeerLimit::new(SYNC);
        let now = Instant::now();
        for _ in 0..MAX_PEERS + 10 {
            limit.allow(PeerId::random(), now);
        }
        assert!(limit.buckets.len() <= MAX_PEERS);
    }
}
