//! The wallet's market builders and its typed HTTP client against a dev
//! chain: providers register endpoints and advertise, a client creates a
//! contract with their acceptances, a provider's proof batch is admitted
//! and judged; `sherd_wallet::NodeClient` reads `/v1/providers`,
//! `/v1/contracts/{id}` and `/v1/endpoints/{addr}` as this node serves
//! them, and answers `None` for what the chain does not hold.

use std::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey};
use sherd_ledger::state::market::{acceptance_message, contract_id, per_gib_cost};
use sherd_ledger::state::FragmentStatus;
use sherd_ledger::tx::kind::{AdvertiseCapacity, CreateContract, FragmentDeal, ProofAnswer, Role};
use sherd_ledger::{Address, Amount, ChainId, Hash, Transaction};
use sherd_node::{run_dev, DevConfig};
use sherd_wallet::build::{self, TxParams, TxSigner, DEFAULT_FEE};
use sherd_wallet::client::{NodeClient, TxOutcome};

const WAIT: Duration = Duration::from_secs(30);
const FRAGMENT_SIZE: u64 = 64 * 1024;
const PRICE: Amount = Amount(2_000_000_000);

fn params(client: &NodeClient, chain_id: &ChainId, who: &Address) -> TxParams {
    TxParams {
        chain_id: chain_id.clone(),
        nonce: client.account(who).unwrap().nonce,
        fee: DEFAULT_FEE,
    }
}

/// Submits `txs` and waits until each is final; answers their outcomes.
fn run(client: &NodeClient, txs: &[Transaction]) -> Vec<(TxOutcome, Option<String>)> {
    let ids: Vec<Hash> = txs.iter().map(|tx| client.submit(tx).unwrap()).collect();
    ids.iter()
        .map(|id| {
            let done = client.wait_for_finality(id, WAIT).unwrap();
            (done.outcome.unwrap(), done.reason)
        })
        .collect()
}

fn peer_of(key: &SigningKey) -> libp2p::PeerId {
    let mut secret = key.to_bytes();
    libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
        .unwrap()
        .public()
        .to_peer_id()
}

#[test]
fn market_transactions_built_by_the_wallet_are_read_back_typed() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DevConfig::new(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
    let node = rt
        .block_on(async { tokio::time::timeout(WAIT, run_dev(config)).await })
        .expect("node start timed out")
        .expect("node starts");
    let client = NodeClient::new(&format!("http://{}", node.api)).unwrap();
    let chain_id = ChainId::new(&client.status().unwrap().chain_id).unwrap();

    // The faucet key, as the node wrote it, read through the wallet.
    let faucet = sherd_wallet::keyfile::read_ed25519(&dir.path().join("faucet.key")).unwrap();
    let providers: Vec<SigningKey> = (0..3u8)
        .map(|i| SigningKey::from_bytes(&[40 + i; 32]))
        .collect();
    let owner = SigningKey::from_bytes(&[50; 32]);
    let mut p = params(&client, &chain_id, &faucet.address());
    let mut funding = Vec::new();
    for who in providers.iter().chain([&owner]) {
        let tokens: Amount = "1000".parse().unwrap();
        funding.push(build::transfer(&faucet, &p, who.address(), tokens).unwrap());
        p.nonce += 1;
    }
    for (outcome, reason) in run(&client, &funding) {
        assert_eq!(outcome, TxOutcome::Success, "{reason:?}");
    }

    // Nothing yet.
    assert!(client.providers().unwrap().is_empty());
    assert_eq!(client.endpoint(&providers[0].address()).unwrap(), None);
    assert_eq!(client.contract(&Hash([7; 32])).unwrap(), None);

    let listen: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
    let terms = AdvertiseCapacity {
        capacity_bytes: 1 << 30,
        price_per_gib_epoch: PRICE,
        collateral_per_gib: Amount(3_000_000_000),
        min_duration_epochs: 1,
        max_duration_epochs: 50,
    };
    let mut offers = Vec::new();
    for key in &providers {
        let mut p = params(&client, &chain_id, &key.address());
        offers.push(
            build::register_provider_endpoint(
                key,
                &p,
                peer_of(key).to_bytes(),
                vec![listen.to_vec()],
            )
            .unwrap(),
        );
        p.nonce += 1;
        offers.push(build::advertise_capacity(key, &p, terms.clone()).unwrap());
    }
    for (outcome, reason) in run(&client, &offers) {
        assert_eq!(outcome, TxOutcome::Success, "{reason:?}");
    }

    let endpoint = client.endpoint(&providers[1].address()).unwrap().unwrap();
    assert_eq!(endpoint.principal, providers[1].address());
    assert_eq!(endpoint.role, Role::Provider);
    assert_eq!(endpoint.peer_id, peer_of(&providers[1]).to_string());
    assert_eq!(endpoint.multiaddrs, vec![listen.to_string()]);
    assert!(endpoint.updated_at > 0);

    // The client's contract, accepted by each provider for its nonce.
    let p = params(&client, &chain_id, &owner.address());
    let id = contract_id(&owner.address(), p.nonce);
    let mut contract = CreateContract {
        object_root: Hash([1; 32]),
        k: 2,
        m: 1,
        fragment_size: FRAGMENT_SIZE,
        duration_epochs: 3,
        price_per_gib_epoch: PRICE,
        fragments: providers
            .iter()
            .zip(0u8..)
            .map(|(key, i)| FragmentDeal {
                root: Hash([10 + i; 32]),
                provider: key.address(),
                acceptance: Signature::from_bytes(&[0; 64]),
            })
            .collect(),
    };
    for (key, index) in providers.iter().zip(0u32..) {
        let root = contract.fragments[index as usize].root;
        let message =
            acceptance_message(&chain_id, &id, &owner.address(), &contract, index, &root).unwrap();
        contract.fragments[index as usize].acceptance = key.sign(&message);
    }
    let escrow = build::contract_escrow(&contract).unwrap();
    let create = build::create_contract(&owner, &p, contract.clone()).unwrap();
    let (outcome, reason) = run(&client, &[create]).remove(0);
    assert_eq!(outcome, TxOutcome::Success, "{reason:?}");

    let stored = client
        .contract(&id)
        .unwrap()
        .expect("the contract is on chain");
    assert_eq!(stored.id, id);
    assert_eq!(stored.client, owner.address());
    assert_eq!(stored.object_root, contract.object_root);
    assert_eq!((stored.k, stored.m), (2, 1));
    assert_eq!(stored.fragment_size, FRAGMENT_SIZE);
    assert_eq!(stored.price_per_gib_epoch, PRICE);
    assert!(stored.first_period <= stored.last_period);
    let each = per_gib_cost(PRICE, FRAGMENT_SIZE, 3).unwrap();
    assert_eq!(Amount(each.0 * 3), escrow);
    for (f, deal) in stored.fragments.iter().zip(&contract.fragments) {
        assert_eq!(f.root, deal.root);
        assert_eq!(f.provider, deal.provider);
        assert_eq!(f.status, FragmentStatus::Active);
        assert_eq!(f.escrow_left, each);
        assert_eq!(
            f.collateral_left,
            per_gib_cost(terms.collateral_per_gib, FRAGMENT_SIZE, 1).unwrap()
        );
        assert_eq!((f.misses, f.proven), (0, 0));
        assert_eq!(f.since, stored.start_height);
    }
    let record = stored.to_contract();
    assert_eq!(record.fragments.len(), 3);
    assert_eq!(record.last_period, stored.last_period);

    let listed = client.providers().unwrap();
    assert_eq!(listed.len(), 3);
    for ad in &listed {
        assert!(providers.iter().any(|k| k.address() == ad.provider));
        assert_eq!(ad.capacity_bytes, terms.capacity_bytes);
        assert_eq!(ad.used_bytes, FRAGMENT_SIZE);
        assert_eq!(ad.price_per_gib_epoch, terms.price_per_gib_epoch);
        assert_eq!(ad.collateral_per_gib, terms.collateral_per_gib);
        assert_eq!((ad.min_duration_epochs, ad.max_duration_epochs), (1, 50));
    }

    // A provider's proof batch, signed with its bare key, is admitted and
    // judged: this proof is garbage, so the transaction fails with a reason.
    let prover = &providers[0];
    let p = params(&client, &chain_id, &prover.address());
    let proofs = build::submit_proofs(
        prover,
        &p,
        vec![ProofAnswer {
            contract_id: id,
            fragment_index: 0,
            period: stored.first_period,
            proof: vec![0; 32],
        }],
    )
    .unwrap();
    let (outcome, reason) = run(&client, &[proofs]).remove(0);
    assert_eq!(outcome, TxOutcome::Failed);
    assert!(reason.is_some_and(|r| !r.is_empty()));

    // Unknown ids and addresses are `None`.
    assert_eq!(client.contract(&Hash([8; 32])).unwrap(), None);
    assert_eq!(client.endpoint(&owner.address()).unwrap(), None);

    rt.block_on(async { tokio::time::timeout(WAIT, node.shutdown()).await })
        .expect("node stop timed out")
        .expect("node stops cleanly");
}
