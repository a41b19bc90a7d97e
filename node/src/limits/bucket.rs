//! Token buckets keyed by client, in a map of bounded size: the rate
//! limits of [`super`].
//!
//! A client's bucket holds up to `burst` tokens and refills at `rate` per
//! second; a request takes its cost in tokens or is refused with the time
//! until they are there. A bucket that has refilled to `burst` says nothing
//! a new bucket would not, so it may be forgotten: when the map is full, a
//! sweep (at most once per [`SWEEP_EVERY`]) drops every full bucket. If the
//! map is still full, clients without a bucket share one overflow bucket,
//! so the map never grows past its bound and a flood of new addresses
//! cannot reset anyone's limit.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The shortest time between two sweeps of a full map.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One client's tokens, as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The tokens at `now`: refilled at `rate` per second, at most `burst`.
    fn refill(&mut self, now: Instant, rate: f64, burst: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        self.tokens
    }
}

/// Token buckets for at most `capacity` clients (plus one shared overflow
/// bucket).
#[derive(Debug)]
pub(crate) struct Buckets<K> {
    rate: f64,
    burst: f64,
    capacity: usize,
    map: HashMap<K, Bucket>,
    overflow: Bucket,
    next_sweep: Instant,
}

impl<K: Hash + Eq> Buckets<K> {
    /// Buckets of `burst` tokens refilling at `rate` per second, for at
    /// most `capacity` clients. `rate` and `burst` are positive (the
    /// config is checked before).
    pub(crate) fn new(rate: f64, burst: u32, capacity: usize, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            capacity,
            map: HashMap::new(),
            overflow: Bucket {
                tokens: burst,
                at: now,
            },
            next_sweep: now,
        }
    }

    /// Takes `cost` tokens from `key`'s bucket at `now`, or answers how
    /// long until they are there. A cost above the burst costs the whole
    /// burst (it could never be paid otherwise).
    pub(crate) fn take(&mut self, key: K, cost: u32, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.rate, self.burst);
        let cost = f64::from(cost).min(burst);
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity && now >= self.next_sweep
        {
            self.map
                .retain(|_, bucket| bucket.refill(now, rate, burst) < burst);
            self.next_sweep = now + SWEEP_EVERY;
        }
        let bucket = if self.map.len() < self.capacity || self.map.contains_key(&key) {
            self.map.entry(key).or_insert(Bucket {
                tokens: burst,
                at: now,
            })
        } else {
            &mut self.overflow
        };
        let tokens = bucket.refill(now, rate, burst);
        if tokens >= cost {
            bucket.tokens = tokens - cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - tokens) / rate))
        }
    }

    /// Clients with a bucket of their own.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_bucket_gives_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(2.0, 5, 10, t0);
        // (seconds after t0, cost, answer): Ok, or the wait in ms.
        let steps: &[(f64, u32, Result<(), u128>)] = &[
            (0.0, 3, Ok(())),
            (0.0, 2, Ok(())),
            (0.0, 1, Err(500)),
            (0.25, 1, Err(250)),
            (0.5, 1, Ok(())),
            (0.5, 2, Err(1_000)),
            // Idle for a long while: full again, never more than the burst.
            (100.0, 5, Ok(())),
            (100.0, 1, Err(500)),
            // A cost above the burst costs the whole burst.
            (103.0, 9, Ok(())),
            (103.0, 1, Err(500)),
        ];
        for (i, (at, cost, expected)) in steps.iter().enumerate() {
            let now = t0 + Duration::from_secs_f64(*at);
            let got = buckets.take("a", *cost, now).map_err(|d| d.as_millis());
            assert_eq!(&got, expected, "step {i}");
        }
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(1.0, 1, 10, t0);
        assert_eq!(buckets.take("a", 1, t0), Ok(()));
        assert!(buckets.take("a", 1, t0).is_err());
        assert_eq!(buckets.take("b", 1, t0), Ok(()));
        assert_eq!(buckets.len(), 2);
    }

    #[test]
    fn the_map_never_grows_past_its_bound() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(1.0, 2, 3, t0);
        for client in 0..3 {
            assert_eq!(buckets.take(client, 2, t0), Ok(()));
        }
        // Full of drained buckets: newcomers share the overflow bucket.
        assert_eq!(buckets.take(10, 2, t0), Ok(()));
        assert!(buckets.take(11, 1, t0).is_err());
        assert_eq!(buckets.len(), 3);
        // Every client keeps its own drained bucket: no reset by a flood.
        for client in 0..3 {
            assert!(buckets.take(client, 1, t0).is_err(), "client {client}");
        }
        // Once refilled, the old buckets are swept for newcomers.
        let later = t0 + 3 * SECOND;
        assert_eq!(buckets.take(20, 2, later), Ok(()));
        assert_eq!(buckets.len(), 1);
        assert!(buckets.take(20, 1, later).is_err());
    }

    #[test]
    fn a_full_map_is_swept_at_most_once_a_second() {
        let t0 = Instant::now();
        let mut buckets = Buckets::new(1.0, 1, 1, t0);
        assert_eq!(buckets.take("a", 1, t0), Ok(()));
        // The sweep at t0 finds nothing to drop and waits a second.
        assert_eq!(buckets.take("b", 1, t0), Ok(()));
        let soon = t0 + SECOND / 2;
        assert!(buckets.take("c", 1, soon + SECOND / 4).is_err());
        // A second on, "a" has refilled and is swept.
        assert_eq!(buckets.take("c", 1, t0 + SECOND), Ok(()));
        assert_eq!(buckets.len(), 1);
    }
}
