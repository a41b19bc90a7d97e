//! The mempool: signature-checked transactions waiting for a block.
//!
//! * **Entry**: the signature is checked (`sherd_ledger::verify`) before anything
//!   else; then, against the finalized state: the chain id, the minimum
//!   fee, a nonce not below the sender's next one (a replay) and at most
//!   [`MAX_FUTURE_NONCES`] ahead of it, a sender account that can pay the
//!   fees of all its pending transactions. A transaction already held (same
//!   id) is accepted again without change.
//! * **Same nonce twice**: a second transaction for a sender's nonce
//!   replaces the first only if its fee is higher.
//! * **Order**: per sender by nonce, contiguous from the sender's next
//!   nonce; across senders by fee (highest first), then by arrival.
//! * **Bound**: at most `capacity` transactions. A full pool makes room for
//!   a transaction that could run now (its sender's pending nonces reach it
//!   without a gap) by dropping one that cannot (the last of a sender whose
//!   pending nonces have a gap, which waits for a nonce that may never
//!   come); otherwise it refuses new ones (`mempool_full`). Without this,
//!   a burst of refused transactions leaves gaps, the pool fills with what
//!   can never run, and blocks stay empty while every new transaction is
//!   refused. Transactions older than [`MAX_AGE`] are dropped.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use sherd_ledger::{Account, Address, Amount, ChainParams, Hash, Rejection, VerifiedTx};

/// How far ahead of the sender's next nonce a transaction may be.
pub const MAX_FUTURE_NONCES: u64 = 16;
/// Transactions waiting longer than this are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// What a block would reject it for, before any state: another chain,
    /// a fee under the minimum ([`sherd_ledger::check_chain_and_fee`], the
    /// ledger's own check), or a sender without an account.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The nonce is used already.
    #[error(
        "nonce {found} is too low: the sender's next nonce is {next} (already used: a replay?)"
    )]
    NonceTooLow {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        found: u64,
    },
    /// The nonce is further ahead of the sender's next one than is held.
    #[error("nonce {found} is too far ahead: the sender's next nonce is {next}, at most {ahead} ahead are held")]
    NonceTooFarAhead {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's.
        found: u64,
        /// How far ahead the sender's transactions are held.
        ahead: u64,
    },
    /// Another transaction of the sender with this nonce is pending, with
    /// at least this fee.
    #[error("a transaction with nonce {nonce} is already pending with fee {pending_fee}; offer a higher fee to replace it")]
    AlreadyPending {
        /// The nonce.
        nonce: u64,
        /// The pending one's fee.
        pending_fee: Amount,
    },
    /// The balance does not cover the fees of the sender's pending
    /// transactions and this one.
    #[error("cannot pay the fee: balance {balance} is less than the fees {fees} of the sender's pending transactions")]
    CannotPay {
        /// The sender's balance.
        balance: Amount,
        /// The fees.
        fees: Amount,
    },
    /// No room.
    #[error("mempool is full ({capacity} transactions); retry later")]
    Full {
        /// The bound.
        capacity: usize,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    vtx: VerifiedTx,
    seq: u64,
    added: Instant,
    /// When it was last gossiped by [`Mempool::reannounce`] (or added).
    announced: Instant,
}

/// The mempool (see the module docs).
#[derive(Debug)]
pub struct Mempool {
    capacity: usize,
    by_id: HashMap<Hash, (Address, u64)>,
    by_sender: HashMap<Address, BTreeMap<u64, Pending>>,
    /// Senders allowed more than [`MAX_FUTURE_NONCES`] ahead (the faucet).
    ahead: HashMap<Address, u64>,
    /// Each pending sender's next nonce in the finalized state, as last seen.
    next_nonce: HashMap<Address, u64>,
    seq: u64,
}

impl Mempool {
    /// An empty pool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            by_id: HashMap::new(),
            by_sender: HashMap::new(),
            ahead: HashMap::new(),
            next_nonce: HashMap::new(),
            seq: 0,
        }
    }

    /// Lets `sender` (a local key such as the faucet's, whose transactions
    /// the node makes itself) have up to `nonces` pending transactions
    /// ahead of its next nonce.
    pub fn allow_ahead(&mut self, sender: Address, nonces: u64) {
        self.ahead.insert(sender, nonces);
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: &Hash) -> bool {
        self.by_id.contains_key(id)
    }

    /// The transaction `id`, if held.
    pub fn get(&self, id: &Hash) -> Option<&VerifiedTx> {
        let (sender, nonce) = self.by_id.get(id)?;
        self.by_sender
            .get(sender)?
            .get(nonce)
            .map(|p| &p.vtx)
            .filter(|vtx| vtx.id() == *id)
    }

    /// Adds a signature-checked transaction; `account` is the sender's
    /// finalized account (`None`: no account).
    pub fn insert(
        &mut self,
        vtx: VerifiedTx,
        params: &ChainParams,
        account: Option<Account>,
    ) -> Result<Hash, MempoolError> {
        let id = vtx.id();
        if self.by_id.contains_key(&id) {
            return Ok(id);
        }
        let body = &vtx.tx().body;
        sherd_ledger::check_chain_and_fee(body, params)?;
        let sender = body.sender;
        let Some(account) = account else {
            return Err(Rejection::UnknownSender { sender }.into());
        };
        if body.nonce < account.nonce {
            return Err(MempoolError::NonceTooLow {
                next: account.nonce,
                found: body.nonce,
            });
        }
        let ahead = self
            .ahead
            .get(&body.sender)
            .copied()
            .unwrap_or(MAX_FUTURE_NONCES);
        if body.nonce > account.nonce.saturating_add(ahead) {
            return Err(MempoolError::NonceTooFarAhead {
                next: account.nonce,
                found: body.nonce,
                ahead,
            });
        }
        let queue = self.by_sender.get(&sender);
        let replaced = queue.and_then(|q| q.get(&body.nonce));
        if let Some(old) = replaced {
            if old.vtx.tx().body.fee >= body.fee {
                return Err(MempoolError::AlreadyPending {
                    nonce: body.nonce,
                    pending_fee: old.vtx.tx().body.fee,
                });
            }
        }
        // Fees of every other pending transaction of the sender, plus this one.
        let mut fees = u128::from(body.fee.0);
        for (nonce, p) in queue.into_iter().flatten() {
            if *nonce != body.nonce {
                fees = fees.saturating_add(u128::from(p.vtx.tx().body.fee.0));
            }
        }
        if fees > u128::from(account.balance.0) {
            return Err(MempoolError::CannotPay {
                balance: account.balance,
                fees: Amount(u64::try_from(fees).unwrap_or(u64::MAX)),
            });
        }
        let nonce = body.nonce;
        self.next_nonce.insert(sender, account.nonce);
        if replaced.is_none() && self.by_id.len() >= self.capacity {
            let runnable = queue.map_or(nonce == account.nonce, |q| {
                (account.nonce..nonce).all(|n| q.contains_key(&n))
            });
            match self.stuck().filter(|_| runnable) {
                Some(victim) => self.remove(&[victim]),
                None => {
                    return Err(MempoolError::Full {
                        capacity: self.capacity,
                    })
                }
            }
        }
        self.seq = self.seq.saturating_add(1);
        let pending = Pending {
            vtx,
            seq: self.seq,
            added: Instant::now(),
            announced: Instant::now(),
        };
        if let Some(old) = self
            .by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, pending)
        {
            self.by_id.remove(&old.vtx.id());
        }
        self.by_id.insert(id, (sender, nonce));
        Ok(id)
    }

    /// Up to `max` transactions for a block, in execution order: per
    /// sender contiguous from `next_nonce(sender)`, across senders by fee.
    pub fn select(
        &self,
        max: usize,
        mut next_nonce: impl FnMut(&Address) -> u64,
    ) -> Vec<VerifiedTx> {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct Head {
            fee: u64,
            /// Earlier arrival first (reversed).
            seq: std::cmp::Reverse<u64>,
            sender: Address,
            nonce: u64,
        }
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let nonce = next_nonce(sender);
            if let Some(p) = queue.get(&nonce) {
                heap.push(Head {
                    fee: p.vtx.tx().body.fee.0,
                    seq: std::cmp::Reverse(p.seq),
                    sender: *sender,
                    nonce,
                });
            }
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(head) = heap.pop() else { break };
            let Some(queue) = self.by_sender.get(&head.sender) else {
                continue;
            };
            if let Some(p) = queue.get(&head.nonce) {
                out.push(p.vtx.clone());
            }
            let next = head.nonce.saturating_add(1);
            if let Some(p) = queue.get(&next) {
                heap.push(Head {
                    fee: p.vtx.tx().body.fee.0,
                    seq: std::cmp::Reverse(p.seq),
                    sender: head.sender,
                    nonce: next,
                });
            }
        }
        out
    }

    /// Whether some transaction could go in the next block: a sender's
    /// lowest pending nonce is its next one.
    pub fn has_runnable(&self) -> bool {
        self.by_sender.iter().any(|(sender, queue)| {
            queue.keys().next() == Some(&self.next_nonce.get(sender).copied().unwrap_or(0))
        })
    }

    /// A transaction that cannot run until a missing nonce of its sender
    /// arrives: the last of the first sender found whose pending nonces do
    /// not run on from its next nonce. Only asked of a full pool.
    fn stuck(&self) -> Option<Hash> {
        self.by_sender.iter().find_map(|(sender, queue)| {
            let mut expected = self.next_nonce.get(sender).copied().unwrap_or(0);
            let gap = queue.keys().any(|&n| {
                let gap = n != expected;
                expected = n.saturating_add(1);
                gap
            });
            gap.then(|| queue.values().next_back().map(|p| p.vtx.id()))
                .flatten()
        })
    }

    /// Removes the transactions `ids`.
    pub fn remove(&mut self, ids: &[Hash]) {
        for id in ids {
            if let Some((sender, nonce)) = self.by_id.remove(id) {
                if let Some(queue) = self.by_sender.get_mut(&sender) {
                    queue.remove(&nonce);
                    if queue.is_empty() {
                        self.by_sender.remove(&sender);
                        self.next_nonce.remove(&sender);
                    }
                }
            }
        }
    }

    /// Drops `sender`'s transactions below its next nonce `next`.
    pub fn drop_used(&mut self, sender: &Address, next: u64) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let keep = queue.split_off(&next);
        for p in queue.values() {
            self.by_id.remove(&p.vtx.id());
        }
        *queue = keep;
        if queue.is_empty() {
            self.by_sender.remove(sender);
            self.next_nonce.remove(sender);
        } else {
            self.next_nonce.insert(*sender, next);
        }
    }

    /// Drops transactions older than [`MAX_AGE`]; answers how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let old: Vec<Hash> = self
            .by_sender
            .values()
            .flat_map(|q| q.values())
            .filter(|p| now.saturating_duration_since(p.added) > MAX_AGE)
            .map(|p| p.vtx.id())
            .collect();
        self.remove(&old);
        old.len()
    }

    /// Up to `limit` transactions pending for `after` since they were added
    /// or last announced, oldest first, marked announced at `now`: the
    /// network gossips them again, so a transaction that was published
    /// before the node had peers (or whose message was lost) still reaches
    /// the validators.
    pub fn reannounce(&mut self, now: Instant, after: Duration, limit: usize) -> Vec<VerifiedTx> {
        let mut due: Vec<&mut Pending> = self
            .by_sender
            .values_mut()
            .flat_map(|q| q.values_mut())
            .filter(|p| now.saturating_duration_since(p.announced) >= after)
            .collect();
        due.sort_by_key(|p| p.seq);
        due.into_iter()
            .take(limit)
            .map(|p| {
                p.announced = now;
                p.vtx.clone()
            })
            .collect()
    }

    /// Whether `sender` has a transaction with `nonce` pending.
    pub fn has_nonce(&self, sender: &Address, nonce: u64) -> bool {
        self.by_sender
            .get(sender)
            .is_some_and(|q| q.contains_key(&nonce))
    }

    /// How many transactions `sender` has pending.
    pub fn pending_of(&self, sender: &Address) -> usize {
        self.by_sender.get(sender).map_or(0, BTreeMap::len)
    }

    /// Senders with pending transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.by_sender.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use sherd_ledger::tx::kind::Transfer;
    use sherd_ledger::{ChainId, TxBody, TxKind};

    fn params() -> ChainParams {
        ChainParams::dev(ChainId::new("sherd-test").unwrap())
    }

    fn tx(key: &SigningKey, nonce: u64, fee: u64) -> VerifiedTx {
        let body = TxBody {
            chain_id: ChainId::new("sherd-test").unwrap(),
            sender: Address::from(&key.verifying_key()),
            nonce,
            fee: Amount(fee),
            kind: TxKind::Transfer(Transfer {
                to: Address([9; 32]),
                amount: Amount(1),
            }),
        };
        sherd_ledger::verify(body.sign(key).unwrap()).unwrap()
    }

    fn rich() -> Option<Account> {
        Some(Account {
            balance: Amount(1_000_000_000),
            nonce: 0,
        })
    }

    #[test]
    fn orders_by_nonce_then_fee_and_dedupes() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        let mut pool = Mempool::new(10);
        let p = params();
        let a1 = tx(&a, 1, 5_000);
        let a0 = tx(&a, 0, 1_000);
        let b0 = tx(&b, 0, 3_000);
        pool.insert(a1.clone(), &p, rich()).unwrap();
        pool.insert(a0.clone(), &p, rich()).unwrap();
        pool.insert(b0.clone(), &p, rich()).unwrap();
        assert_eq!(pool.insert(b0.clone(), &p, rich()).unwrap(), b0.id());
        assert_eq!(pool.len(), 3);
        let picked: Vec<Hash> = pool.select(10, |_| 0).iter().map(|t| t.id()).collect();
        assert_eq!(picked, vec![b0.id(), a0.id(), a1.id()]);
        // A gap: nothing of `a` from nonce 1 if its next nonce is 2.
        let picked = pool.select(10, |s| if *s == a1.tx().body.sender { 2 } else { 0 });
        assert_eq!(picked.len(), 1);
        pool.drop_used(&a0.tx().body.sender, 1);
        assert_eq!(pool.len(), 2);
        pool.remove(&[b0.id()]);
        assert_eq!(pool.len(), 1);
        assert!(pool.contains(&a1.id()));
    }

    #[test]
    fn rejects_with_reasons_and_bounds_size() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let p = params();
        let mut pool = Mempool::new(2);
        let low_fee = tx(&a, 0, 1);
        assert!(matches!(
            pool.insert(low_fee, &p, rich()),
            Err(MempoolError::Rejected(Rejection::FeeTooLow { .. }))
        ));
        let replay = tx(&a, 0, 2_000);
        let used = Some(Account {
            balance: Amount(1_000_000),
            nonce: 1,
        });
        assert!(matches!(
            pool.insert(replay.clone(), &p, used),
            Err(MempoolError::NonceTooLow { next: 1, found: 0 })
        ));
        assert!(matches!(
            pool.insert(replay.clone(), &p, None),
            Err(MempoolError::Rejected(Rejection::UnknownSender { .. }))
        ));
        let poor = Some(Account {
            balance: Amount(10),
            nonce: 0,
        });
        assert!(matches!(
            pool.insert(replay, &p, poor),
            Err(MempoolError::CannotPay {
                balance: Amount(10),
                ..
            })
        ));
        let far = tx(&a, 99, 2_000);
        assert!(matches!(
            pool.insert(far, &p, rich()),
            Err(MempoolError::NonceTooFarAhead { found: 99, .. })
        ));
        pool.insert(tx(&a, 0, 2_000), &p, rich()).unwrap();
        pool.insert(tx(&a, 1, 2_000), &p, rich()).unwrap();
        assert_eq!(
            pool.insert(tx(&a, 2, 2_000), &p, rich()),
            Err(MempoolError::Full { capacity: 2 })
        );
        // Same nonce: replaced only by a higher fee, even when full.
        assert!(pool.insert(tx(&a, 1, 2_000), &p, rich()).is_ok());
        let better = tx(&a, 1, 9_000);
        pool.insert(better.clone(), &p, rich()).unwrap();
        assert_eq!(pool.len(), 2);
        assert!(pool.contains(&better.id()));
        assert!(matches!(
            pool.insert(tx(&a, 1, 3_000), &p, rich()),
            Err(MempoolError::AlreadyPending {
                nonce: 1,
                pending_fee: Amount(9_000)
            })
        ));
    }

    #[test]
    fn a_full_pool_drops_what_cannot_run_for_what_can() {
        let (a, b, c) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
            SigningKey::from_bytes(&[3; 32]),
        );
        let p = params();
        let mut pool = Mempool::new(3);
        assert!(!pool.has_runnable());
        pool.insert(tx(&a, 2, 2_000), &p, rich()).unwrap();
        assert!(!pool.has_runnable(), "nonce 2 cannot run before 0 and 1");
        pool.remove(&[tx(&a, 2, 2_000).id()]);
        // `a` has nonces 0 and 2: 2 waits for a 1 that never came.
        let a0 = tx(&a, 0, 2_000);
        let a2 = tx(&a, 2, 2_000);
        let b0 = tx(&b, 0, 2_000);
        for t in [&a0, &a2, &b0] {
            pool.insert(t.clone(), &p, rich()).unwrap();
        }
        // A transaction that cannot run either is refused: nothing is gained.
        assert_eq!(
            pool.insert(tx(&c, 5, 2_000), &p, rich()),
            Err(MempoolError::Full { capacity: 3 })
        );
        // One that can run takes the stuck one's place.
        let c0 = tx(&c, 0, 2_000);
        pool.insert(c0.clone(), &p, rich()).unwrap();
        assert_eq!(pool.len(), 3);
        assert!(!pool.contains(&a2.id()));
        for t in [&a0, &b0, &c0] {
            assert!(pool.contains(&t.id()));
        }
        assert!(pool.has_runnable());
        // Nothing is stuck now: a full pool refuses.
        assert_eq!(
            pool.insert(tx(&b, 1, 2_000), &p, rich()),
            Err(MempoolError::Full { capacity: 3 })
        );
        // A sender whose earlier nonces are final is not stuck.
        pool.drop_used(&a0.tx().body.sender, 1);
        let used = Some(Account {
            balance: Amount(1_000_000_000),
            nonce: 1,
        });
        pool.insert(tx(&a, 1, 2_000), &p, used).unwrap();
        assert_eq!(
            pool.insert(tx(&b, 1, 2_000), &p, rich()),
            Err(MempoolError::Full { capacity: 3 })
        );
    }
}
