//! Integration tests of sherd-ledger: codec round trips and malformed input,
//! signatures, the state transition, supply conservation, golden vectors.

mod codec;
mod golden;
mod market;
mod signatures;
mod staking;
mod state;
mod supply;

use ed25519_dalek::SigningKey;
use sherd_consensus::bls;
use sherd_ledger::{
    genesis::{GenesisAccount, GenesisValidator},
    state::{records::Record, Validator},
    tx::kind::Transfer,
    verify, Account, Address, Amount, BlockContext, BlockResult, ChainId, ChainParams, Genesis,
    Hash, MemoryStore, ProofChecks, StateStore, StateView, Transaction, TxBody, TxKind, VerifiedTx,
};

/// The chain id the tests use.
pub const CHAIN: &str = "sherd-test";

/// Minimum fee of the test chain, in base units.
pub const MIN_FEE: u64 = 1_000;

/// The genesis validator's key index.
pub const VALIDATOR: u8 = 200;

/// The genesis validator's self-stake, in base units.
pub const VALIDATOR_STAKE: u64 = 10_000_000;

/// A deterministic key: the ed25519 seed is 32 copies of `i`.
pub fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

/// The address of [`key`]`(i)`.
pub fn addr(i: u8) -> Address {
    Address::from(&key(i).verifying_key())
}

/// A deterministic BLS key for key index `i`.
pub fn bls_key(i: u8) -> bls::SecretKey {
    bls::SecretKey::key_gen(&[i; 32], b"").unwrap()
}

/// The test chain's parameters: 10-block epochs, 5-block proof periods
/// with 3-block windows, no block reward (so fee arithmetic is exact).
pub fn params() -> ChainParams {
    ChainParams {
        chain_id: ChainId::new(CHAIN).unwrap(),
        min_fee: Amount(MIN_FEE),
        epoch_length: 10,
        max_validators: 10,
        min_self_stake: Amount(1_000_000),
        unbonding_epochs: 1,
        block_reward: Amount(0),
        proof_period: 5,
        proof_window: 3,
        proof_reward: Amount(100),
        missed_proof_slash_bps: 1_000,
        slash_to_client_bps: 5_000,
        max_missed_proofs: 2,
        repair_reward_bps: 5_000,
        equivocation_slash_bps: 500,
        jail_epochs: 2,
    }
}

/// A genesis validator for key index `i`.
pub fn genesis_validator(i: u8, stake: u64) -> GenesisValidator {
    let bls = bls_key(i);
    GenesisValidator {
        operator: addr(i),
        bls_pubkey: bls.public_key().to_bytes(),
        pop: bls.prove_possession().to_bytes(),
        self_stake: Amount(stake),
        commission_bps: 1_000,
    }
}

/// A genesis funding `balances` (key index, base units), with validator
/// [`VALIDATOR`].
pub fn genesis_with(params: ChainParams, balances: &[(u8, u64)]) -> Genesis {
    Genesis {
        genesis_time_ms: 1_000,
        params,
        accounts: balances
            .iter()
            .map(|&(i, b)| GenesisAccount {
                address: addr(i),
                balance: Amount(b),
            })
            .collect(),
        validators: vec![genesis_validator(VALIDATOR, VALIDATOR_STAKE)],
    }
}

/// A chain in memory, driven block by block.
#[derive(Debug, Clone)]
pub struct TestChain {
    /// The committed state.
    pub store: MemoryStore,
    /// Height of the last block.
    pub height: u64,
    /// State root after the last block.
    pub root: Hash,
    /// Who proposes the next block.
    pub proposer: Address,
}

impl TestChain {
    /// A chain from [`genesis_with`] and [`params`].
    pub fn new(balances: &[(u8, u64)]) -> Self {
        Self::from_genesis(&genesis_with(params(), balances))
    }

    /// A chain from `genesis`.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let mut store = MemoryStore::new();
        let state = genesis.write(&mut store).unwrap();
        Self {
            store,
            height: 0,
            root: state.state_root,
            proposer: genesis.validators[0].operator,
        }
    }

    /// The context of the next block.
    pub fn next_context(&self) -> BlockContext {
        let height = self.height + 1;
        BlockContext {
            height,
            epoch: height / params_of(&self.store).epoch_length,
            proposer: self.proposer,
            timestamp_ms: 1_000 + height,
            beacon_seed: Hash::digest(&height.to_le_bytes()),
        }
    }

    /// Executes and commits one block.
    pub fn block(&mut self, txs: &[VerifiedTx]) -> BlockResult {
        self.block_with(txs, ProofChecks::default())
    }

    /// Executes and commits one block, `SubmitProofs` checked the way
    /// `checks` says.
    pub fn block_with(&mut self, txs: &[VerifiedTx], checks: ProofChecks) -> BlockResult {
        let result =
            sherd_ledger::apply_block_with(&self.store, self.next_context(), txs, checks).unwrap();
        self.store.commit(result.output.changes.clone()).unwrap();
        self.height += 1;
        self.root = result.output.state_root;
        result
    }

    /// Empty blocks up to and including `height`.
    pub fn run_to(&mut self, height: u64) {
        while self.height < height {
            self.block(&[]);
        }
    }

    /// A read view.
    pub fn view(&self) -> StateView<'_, MemoryStore> {
        StateView::new(&self.store)
    }

    /// Account of key index `i`.
    pub fn account(&self, i: u8) -> Account {
        self.view().account(&addr(i)).unwrap()
    }

    /// Balance of key index `i`, in base units.
    pub fn balance(&self, i: u8) -> u64 {
        self.account(i).balance.base_units()
    }

    /// The validator record of key index `i`.
    pub fn validator(&self, i: u8) -> Option<Validator> {
        self.view().validator(&addr(i)).unwrap()
    }

    /// Asserts the supply invariant.
    pub fn assert_balanced(&self) {
        let audit = sherd_ledger::audit(&self.store).unwrap();
        assert!(audit.balanced(), "supply not balanced: {audit:?}");
    }
}

/// The parameters stored in `store`.
pub fn params_of(store: &MemoryStore) -> ChainParams {
    StateView::new(store).params().unwrap()
}

/// Writes `account` for key index `i` by hand (for states a genesis cannot reach).
pub fn put_account(store: &mut MemoryStore, i: u8, account: &Account) {
    store
        .put(
            &sherd_ledger::state::records::account_key(&addr(i)),
            &account.to_bytes().unwrap(),
        )
        .unwrap();
}

/// A transaction from key `from`, signed, for the test chain.
pub fn signed(from: u8, nonce: u64, fee: u64, kind: TxKind) -> Transaction {
    signed_on(CHAIN, from, nonce, fee, kind)
}

/// A signed, verified transaction from key `from` with the minimum fee.
pub fn tx(from: u8, nonce: u64, kind: TxKind) -> VerifiedTx {
    verify(signed(from, nonce, MIN_FEE, kind)).unwrap()
}

/// A transaction from key `from`, signed, for chain `chain`.
pub fn signed_on(chain: &str, from: u8, nonce: u64, fee: u64, kind: TxKind) -> Transaction {
    TxBody {
        chain_id: ChainId::new(chain).unwrap(),
        sender: addr(from),
        nonce,
        fee: Amount(fee),
        kind,
    }
    .sign(&key(from))
    .unwrap()
}

/// A verified transfer of `amount` base units from key `from` to key `to`.
pub fn transfer(from: u8, to: u8, nonce: u64, fee: u64, amount: u64) -> VerifiedTx {
    verify(signed(
        from,
        nonce,
        fee,
        TxKind::Transfer(Transfer {
            to: addr(to),
            amount: Amount(amount),
        }),
    ))
    .unwrap()
}
