//! Placement: which provider each fragment goes to, and who steps in when
//! one fails. A pure state machine; [`super::put`] drives it.
//!
//! Providers come ranked (see [`super::select`]): fragment `i` is first
//! offered to provider `i`, the rest are spares. When an attempt fails (a
//! refusal, a timeout, a dropped or corrupt stream, a bad signature), that
//! provider is out for the whole put and the fragment goes to the next
//! unused spare. Every fragment has a provider of its own. The put fails
//! when a fragment fails and no spare is left.

use std::collections::VecDeque;

use sherd_ledger::Address;

/// One attempt to make: offer `fragment` to provider number `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The fragment index.
    pub fragment: u32,
    /// Index into the ranked providers.
    pub provider: usize,
}

/// A failed attempt, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The fragment.
    pub fragment: u32,
    /// The provider.
    pub provider: Address,
    /// What happened.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Trying(usize),
    Placed(usize),
    Failed,
}

/// The state of a placement.
#[derive(Debug, Clone)]
pub struct Placement {
    providers: Vec<Address>,
    slots: Vec<Slot>,
    spares: VecDeque<usize>,
    failures: Vec<Failure>,
}

impl Placement {
    /// `fragments` fragments over the `ranked` providers (at least as many
    /// as fragments). Answers the first attempt of every fragment.
    pub fn start(fragments: u32, ranked: Vec<Address>) -> (Self, Vec<Attempt>) {
        let n = fragments as usize;
        let attempts: Vec<Attempt> = (0..fragments)
            .zip(0..ranked.len())
            .map(|(fragment, provider)| Attempt { fragment, provider })
            .collect();
        let mut slots: Vec<Slot> = (0..n).map(Slot::Trying).collect();
        for slot in slots.iter_mut().skip(ranked.len()) {
            *slot = Slot::Failed;
        }
        let placement = Self {
            spares: (n..ranked.len()).collect(),
            providers: ranked,
            slots,
            failures: Vec::new(),
        };
        (placement, attempts)
    }

    /// The provider of attempt number `provider`.
    pub fn provider(&self, provider: usize) -> Option<&Address> {
        self.providers.get(provider)
    }

    /// `attempt` succeeded.
    pub fn placed(&mut self, attempt: Attempt) {
        if let Some(slot) = self.slots.get_mut(attempt.fragment as usize) {
            if *slot == Slot::Trying(attempt.provider) {
                *slot = Slot::Placed(attempt.provider);
            }
        }
    }

    /// `attempt` failed: answers the next attempt for its fragment, or
    /// `None` when no spare is left (the fragment has failed).
    pub fn failed(&mut self, attempt: Attempt, reason: String) -> Option<Attempt> {
        let index = attempt.fragment as usize;
        if self.slots.get(index) != Some(&Slot::Trying(attempt.provider)) {
            return None;
        }
        if let Some(address) = self.providers.get(attempt.provider) {
            self.failures.push(Failure {
                fragment: attempt.fragment,
                provider: *address,
                reason,
            });
        }
        let next = self.spares.pop_front();
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = match next {
                Some(p) => Slot::Trying(p),
                None => Slot::Failed,
            };
        }
        next.map(|provider| Attempt {
            fragment: attempt.fragment,
            provider,
        })
    }

    /// Whether every fragment is placed.
    pub fn is_complete(&self) -> bool {
        self.slots.iter().all(|s| matches!(s, Slot::Placed(_)))
    }

    /// Whether some fragment can no longer be placed.
    pub fn has_failed(&self) -> bool {
        self.slots.contains(&Slot::Failed)
    }

    /// Fragments placed so far.
    pub fn placed_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Placed(_)))
            .count()
    }

    /// The provider index of every fragment, once complete.
    pub fn assignment(&self) -> Option<Vec<usize>> {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Placed(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// Every failed attempt so far.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(n: u8) -> Vec<Address> {
        (0..n).map(|i| Address([i; 32])).collect()
    }

    #[test]
    fn failures_move_fragments_to_spares_until_none_is_left() {
        let (mut p, first) = Placement::start(3, providers(5));
        assert_eq!(first.len(), 3);
        p.placed(first[0]);
        let next = p.failed(first[1], "refused".into()).unwrap();
        assert_eq!(
            next,
            Attempt {
                fragment: 1,
                provider: 3
            }
        );
        let next2 = p.failed(first[2], "timeout".into()).unwrap();
        assert_eq!(next2.provider, 4);
        // A stale report of an attempt that was replaced changes nothing.
        assert_eq!(p.failed(first[1], "late".into()), None);
        p.placed(next);
        assert!(!p.is_complete());
        assert_eq!(p.failed(next2, "dropped".into()), None, "no spare left");
        assert!(p.has_failed());
        assert_eq!(p.failures().len(), 3);
    }

    #[test]
    fn a_complete_placement_uses_distinct_providers() {
        let (mut p, first) = Placement::start(2, providers(3));
        let retry = p.failed(first[0], "x".into()).unwrap();
        p.placed(retry);
        p.placed(first[1]);
        assert!(p.is_complete());
        assert_eq!(p.assignment(), Some(vec![2, 1]));
    }
}
