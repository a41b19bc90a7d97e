use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sherd_fragments::{
    commit::{tree_levels, Hash as Digest},
    decode::Unstriper,
    file::{write_trailer, Footer},
    Object, ObjectKey, Params, ReadAt,
};
use sherd_ledger::{
    state::{market, Contract, ContractFragment, FragmentStatus, ProviderAd},
    Address, Amount, ChainId, Hash,
};
use sherd_market::{
    client::{
        assemble::Assembly,
        get::{fetch, FetchSink, Source},
        placement::Failure,
        put::{place, Placed, PutError, PutRequest, Quiet},
        range::read_range,
        repair::{repair, LostFragment},
        select::{select, Candidate, Needs},
        source::{Streamed, Trailers},
    },
    provider::{ChainFacts, PolicyConfig, Provider, ProviderChain},
    store::{FragmentKey, FragmentStore, MemoryStore},
    transport::{Endpoint, Transport, TransportError},
    wire::{DealRequest, DealResponse},
};

use crate::pipe::{pipe, End, Fault};

const CHAIN: &str = "sherd-sim";

/// How a provider behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Its own view of the chain says it is full: every proposal is refused.
    Refuses,
    /// Deal requests time out.
    DealTimeout,
    /// Cannot be reached at all.
    Vanished,
    /// The upload stream breaks after this many bytes.
    BreaksUpload(u64),
    /// The upload stream stalls after this many bytes.
    StallsUpload(u64),
    /// A byte of the upload is flipped on the way.
    FlipsUpload(u64),
    /// Answers `Finish` with a signature that does not verify.
    BadSignature,
}

fn ad(capacity: u64) -> ProviderAd {
    ProviderAd {
        capacity_bytes: capacity,
        used_bytes: 0,
        price_per_gib_epoch: Amount(10),
        collateral_per_gib: Amount(1_000),
        min_duration_epochs: 1,
        max_duration_epochs: 100,
        updated_at: 1,
    }
}

/// The chain as every provider sees it: its terms, and the contracts
/// recorded so far (shared by all providers of a run).
#[derive(Debug)]
struct Chain {
    capacity: u64,
    contracts: Contracts,
}

type Contracts = Arc<Mutex<HashMap<Hash, Contract>>>;

impl ProviderChain for Chain {
    fn facts(&self, id: &Hash) -> Result<ChainFacts, String> {
        Ok(ChainFacts {
            chain_id: ChainId::new(CHAIN).unwrap(),
            height: 10,
            ad: Some(ad(self.capacity)),
            balance: Amount(1 << 40),
            contract: self.contract(id)?,
        })
    }
    fn contract(&self, id: &Hash) -> Result<Option<Contract>, String> {
        Ok(self.contracts.lock().unwrap().get(id).cloned())
    }
}

struct Node {
    provider: Provider<MemoryStore, Chain>,
    behaviour: Mutex<Behaviour>,
    /// Applied to what the provider writes (downloads).
    serve_fault: Mutex<Fault>,
}

#[derive(Clone)]
struct Net {
    nodes: Arc<HashMap<Address, Arc<Node>>>,
    /// The providers' stream tasks, so a test can wait for them to end.
    serving: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Net {
    /// Waits until every stream a provider was serving has ended.
    async fn settle(&self) {
        let tasks: Vec<_> = self.serving.lock().unwrap().drain(..).collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
}

fn node_of<'a>(net: &'a Net, e: &Endpoint) -> Result<&'a Arc<Node>, TransportError> {
    net.nodes
        .get(&e.address)
        .ok_or_else(|| TransportError::Unreachable("unknown".into()))
}

fn behaviour(node: &Node) -> Behaviour {
    *node.behaviour.lock().unwrap()
}

#[async_trait::async_trait]
impl Transport for Net {
    type Stream = End;

    async fn deal(
        &self,
        e: &Endpoint,
        request: DealRequest,
    ) -> Result<DealResponse, TransportError> {
        let node = node_of(self, e)?;
        match behaviour(node) {
            Behaviour::Vanished => Err(TransportError::Unreachable("connection refused".into())),
            Behaviour::DealTimeout => Err(TransportError::Timeout),
            Behaviour::BadSignature if matches!(request, DealRequest::Finish { .. }) => {
                Ok(DealResponse::Accepted { signature: [7; 64] })
            }
            _ => Ok(node.provider.deal(request)),
        }
    }

    async fn open(&self, e: &Endpoint) -> Result<End, TransportError> {
        let node = node_of(self, e)?.clone();
        let client_fault = match behaviour(&node) {
            Behaviour::Vanished => {
                return Err(TransportError::Unreachable("connection refused".into()))
            }
            Behaviour::BreaksUpload(n) => Fault::BreakAfter(n),
            Behaviour::StallsUpload(n) => Fault::StallAfter(n),
            Behaviour::FlipsUpload(n) => Fault::FlipAt(n),
            _ => Fault::None,
        };
        let serve_fault = *node.serve_fault.lock().unwrap();
        let (client, server) = pipe(client_fault, serve_fault);
        let task = tokio::spawn(async move {
            let _ = node.provider.serve_stream(server).await;
        });
        self.serving.lock().unwrap().push(task);
        Ok(client)
    }
}

/// Fetched fragment files, in memory.
#[derive(Default)]
struct Sink {
    files: Mutex<BTreeMap<u32, Vec<u8>>>,
}

impl FetchSink for Sink {
    type Writer = Vec<u8>;
    fn create(&self, _: u32) -> std::io::Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn finish(
        &self,
        index: u32,
        mut w: Vec<u8>,
        footer: &Footer,
        leaves: &[Digest],
    ) -> std::io::Result<()> {
        write_trailer(&mut w, &tree_levels(leaves), footer)?;
        self.files.lock().unwrap().insert(index, w);
        Ok(())
    }
    fn discard(&self, _: u32, _: Vec<u8>) {}
}

/// A provider signing with `signing`, advertising `capacity`, that behaves
/// as `behaviour`, seeing the chain's `contracts`.
fn node(
    signing: SigningKey,
    capacity: u64,
    behaviour: Behaviour,
    contracts: &Contracts,
) -> Arc<Node> {
    let chain = Chain {
        capacity,
        contracts: contracts.clone(),
    };
    let provider = Provider::new(
        signing,
        MemoryStore::default(),
        chain,
        PolicyConfig::default(),
        4,
    )
    .unwrap();
    Arc::new(Node {
        provider,
        behaviour: Mutex::new(behaviour),
        serve_fault: Mutex::new(Fault::None),
    })
}

fn random_behaviour(rng: &mut ChaCha8Rng, fragment_size: u64) -> Behaviour {
    let upload = fragment_size + 64;
    match rng.random_range(0..16) {
        0..=7 => Behaviour::Honest,
        8 => Behaviour::Refuses,
        9 => Behaviour::DealTimeout,
        10 => Behaviour::Vanished,
        11 => Behaviour::BreaksUpload(rng.random_range(0..upload)),
        12 => Behaviour::StallsUpload(rng.random_range(0..upload)),
        // Past the request frame (whose flip would name another fragment).
        13 | 14 => Behaviour::FlipsUpload(rng.random_range(44..upload)),
        _ => Behaviour::BadSignature,
    }
}

fn run(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = rng.random_range(2..=4usize);
    let m = rng.random_range(1..=2usize);
    let n = k + m;
    let size = rng.random_range(1..300_000u64);
    let data: Vec<u8> = (0..size).map(|_| rng.random()).collect();
    let key = ObjectKey::from_bytes(rng.random());
    let mut files: Vec<Vec<u8>> = vec![Vec::new(); n];
    let object = sherd_fragments::encode_with_key(
        &data[..],
        size,
        // Small shards: many stripes, so streamed puts and gets cross them.
        Params::with_shard_size(k, m, 16384 * (1 + (seed % 2) as u32)).unwrap(),
        &key,
        &mut files,
        &mut |_| {},
    )
    .unwrap();
    let fragment_size = object.layout.fragment_size;

    let mut nodes = HashMap::new();
    let mut candidates = Vec::new();
    let mut behaviours = HashMap::new();
    for i in 0..8u8 {
        let signing = SigningKey::from_bytes(&rng.random());
        let address = Address::from(&signing.verifying_key());
        let b = random_behaviour(&mut rng, fragment_size);
        let capacity = if b == Behaviour::Refuses { 0 } else { 1 << 30 };
        nodes.insert(address, node(signing, capacity, b, &Contracts::default()));
        behaviours.insert(address, b);
        candidates.push(Candidate {
            endpoint: Endpoint {
                address,
                peer_id: vec![i],
                multiaddrs: vec![vec![i]],
            },
            ad: ad(1 << 30),
            recent_misses: 0,
        });
    }
    let net = Net {
        nodes: Arc::new(nodes),
        serving: Arc::default(),
    };
    let selection = select(
        &candidates,
        &Needs {
            fragment_size,
            duration_epochs: 5,
            max_price: Amount(10),
            count: n,
            spares: 8 - n,
            exclude: vec![],
        },
    )
    .unwrap();
    let honest = behaviours
        .values()
        .filter(|b| **b == Behaviour::Honest)
        .count();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client = Address([0xc1; 32]);
    let providers: Vec<Endpoint> = selection
        .ranked
        .iter()
        .map(|c| c.endpoint.clone())
        .collect();
    let target = Target {
        runtime: &runtime,
        net: &net,
        object: &object,
        client,
        nonce: seed,
        price: selection.price,
        providers,
    };
    // Odd seeds put as `sherd storage put` does, coding the fragments again
    // as they are sent (with the smallest window, so stripes are coded over
    // and over); even seeds from the fragment files.
    let result = if seed % 2 == 1 {
        let trailers = Trailers::new(
            files
                .iter()
                .map(|f| f[fragment_size as usize..].to_vec())
                .collect(),
        );
        // And every fourth of those changes the file after it was coded.
        let changed = seed % 8 == 7;
        let mut plaintext = data.clone();
        if changed {
            plaintext[0] ^= 1;
        }
        let streamed = Streamed::new(&object, &key, &plaintext[..], trailers)
            .unwrap()
            .with_window(0);
        let result = target.put(&streamed.fragments());
        if changed {
            // The put stops at once on our side, blaming no provider; no
            // provider keeps anything.
            match &result {
                Err(PutError::Local { reason, .. }) => {
                    assert!(reason.contains("changed"), "seed {seed}: {reason}")
                }
                other => assert!(
                    honest == 0 && matches!(other, Err(PutError::NotPlaced { .. })),
                    "seed {seed}: a changed file gave {other:?}"
                ),
            }
            for node in net.nodes.values() {
                assert_eq!(node.provider.store().writing(), 0, "seed {seed}");
                assert!(
                    node.provider.store().records().unwrap().is_empty(),
                    "seed {seed}: a provider kept a fragment of a changed file"
                );
            }
            return;
        }
        result
    } else {
        target.put(&files)
    };
    let contract_id = market::contract_id(&client, seed);

    // Nothing half-written anywhere, whatever happened.
    for node in net.nodes.values() {
        assert_eq!(
            node.provider.store().writing(),
            0,
            "seed {seed}: a leaked upload"
        );
    }
    let placed = match result {
        Err(e) => {
            assert!(
                honest < n,
                "seed {seed}: {honest} honest providers for {n} fragments, yet: {e}"
            );
            return;
        }
        Ok((placed, failures)) => {
            assert!(
                honest >= n,
                "seed {seed}: placed with only {honest} honest providers"
            );
            // Spares are taken in rank order, one per failure: the failures
            // are the dishonest providers ranked before the n-th honest one.
            let mut seen = 0;
            let tried = selection
                .ranked
                .iter()
                .position(|c| {
                    seen += usize::from(behaviours[&c.endpoint.address] == Behaviour::Honest);
                    seen == n
                })
                .unwrap()
                + 1;
            assert_eq!(failures.len(), tried - n, "seed {seed}: {failures:?}");
            placed
        }
    };
    // Every fragment is with an honest provider, whose store holds exactly
    // the fragment file the client encoded; nobody else kept anything.
    let mut holders = BTreeMap::new();
    for p in &placed {
        assert_eq!(
            behaviours[&p.provider.address],
            Behaviour::Honest,
            "seed {seed}"
        );
        let node = &net.nodes[&p.provider.address];
        let fkey = FragmentKey {
            contract_id,
            index: p.index,
        };
        assert_eq!(
            node.provider.store().file(&fkey).as_deref(),
            Some(&files[p.index as usize][..]),
            "seed {seed}: fragment {} as stored",
            p.index
        );
        holders.insert(p.provider.address, p.index);
    }
    // A provider whose acceptance the client could not use (a bad
    // signature) stored the fragment and waits for a contract that never
    // names it: it holds it as pending, and drops it once the reservation
    // runs out. Nobody else kept anything.
    let expiry = 10 + PolicyConfig::default().reservation_blocks + 1;
    for (address, node) in net.nodes.iter() {
        if holders.contains_key(address) {
            continue;
        }
        let records = node.provider.store().records().unwrap();
        let b = behaviours[address];
        if b != Behaviour::BadSignature {
            assert!(records.is_empty(), "seed {seed}: {b:?} kept something");
        }
        for r in &records {
            assert!(
                matches!(r.state, sherd_market::store::FragmentState::Pending { .. }),
                "seed {seed}: an unused fragment is active"
            );
        }
        node.provider.maintain(expiry, true).unwrap();
        assert!(
            node.provider.store().records().unwrap().is_empty(),
            "seed {seed}: kept past expiry"
        );
    }

    // Get: some holders rot or vanish.
    let mut good = 0;
    let mut corrupted = Vec::new();
    for p in &placed {
        let node = &net.nodes[&p.provider.address];
        match rng.random_range(0..5) {
            0 => {
                let at = rng.random_range(0..fragment_size as usize);
                node.provider.store().corrupt(
                    &FragmentKey {
                        contract_id,
                        index: p.index,
                    },
                    at,
                );
                corrupted.push(p.provider.address);
            }
            1 => *node.behaviour.lock().unwrap() = Behaviour::Vanished,
            2 => {
                *node.serve_fault.lock().unwrap() =
                    Fault::BreakAfter(rng.random_range(0..fragment_size))
            }
            _ => good += 1,
        }
    }
    let sources: Vec<Source> = placed
        .iter()
        .map(|p| Source {
            index: p.index,
            root: Hash(object.fragment_roots[p.index as usize]),
            endpoint: p.provider.clone(),
        })
        .collect();
    if seed % 3 == 1 {
        // A ranged read, as one file of a pack is read: only the stripes
        // that hold it, from any k good holders.
        let start = rng.random_range(0..size);
        let end = rng.random_range(start..=size.min(start + 70_000));
        let read = runtime.block_on(read_range(
            &net,
            contract_id,
            object.layout,
            &key,
            sources,
            start..end,
            1 << 20,
        ));
        match read {
            // (A holder whose rot lies outside the range serves it well.)
            Ok(bytes) => {
                assert!(
                    bytes[..] == data[start as usize..end as usize],
                    "seed {seed}: bytes {start}..{end} differ"
                );
            }
            Err(e) => assert!(good < k, "seed {seed}: {good} good holders, yet: {e}"),
        }
        return;
    }
    if seed % 3 == 0 {
        // As `sherd storage get` reads: decoding while fetching, with
        // fragments held to one shard ahead of the decoder.
        let assembly = Assembly::with_ahead(object.layout, 0);
        let (fetched, decoded) = std::thread::scope(|scope| {
            let decoder = scope.spawn(|| {
                let mut out = Vec::new();
                let mut unstriper = Unstriper::new(object.layout, &key);
                let result = assembly.decode(&mut unstriper, &mut out, &mut |_| {});
                if result.is_err() {
                    assembly.end("decoding stopped".into());
                }
                result.map(|()| out)
            });
            let fetched = runtime.block_on(fetch(
                &net,
                contract_id,
                fragment_size,
                k,
                sources,
                &assembly,
                &Quiet,
            ));
            assembly.end("the fetch is over".into());
            (fetched, decoder.join().unwrap())
        });
        match (fetched, decoded) {
            (Ok(_), Ok(out)) => {
                assert!(good >= k, "seed {seed}: read with {good} good holders");
                assert!(out == data, "seed {seed}: the decoded bytes differ");
            }
            (Err(e), Err(_)) => assert!(good < k, "seed {seed}: {good} good holders, yet: {e}"),
            (fetched, decoded) => panic!(
                "seed {seed}: fetch {:?} but decode {:?}",
                fetched.map(|_| ()),
                decoded.map(|_| ())
            ),
        }
        return;
    }
    let sink = Sink::default();
    let fetched = runtime.block_on(fetch(
        &net,
        contract_id,
        fragment_size,
        k,
        sources,
        &sink,
        &Quiet,
    ));
    match fetched {
        Err(e) => assert!(
            good < k,
            "seed {seed}: {good} good holders, k = {k}, yet: {e}"
        ),
        Ok(report) => {
            assert!(
                good >= k,
                "seed {seed}: read with {good} good holders, k = {k}"
            );
            for f in &report.failures {
                if f.corrupt {
                    assert!(
                        corrupted.contains(&f.provider),
                        "seed {seed}: an honest provider named corrupt"
                    );
                }
            }
            for address in &corrupted {
                if report.failures.iter().any(|f| f.provider == *address) {
                    assert!(
                        report
                            .failures
                            .iter()
                            .any(|f| f.provider == *address && f.corrupt),
                        "seed {seed}: a rotten provider is named as corrupt"
                    );
                }
            }
            let got = sink.files.lock().unwrap();
            let sources: Vec<Option<&Vec<u8>>> = (0..n as u32).map(|i| got.get(&i)).collect();
            let mut out = Vec::new();
            sherd_fragments::decode(&object, &key, &sources, &mut out, &mut |_| {}).unwrap();
            assert_eq!(out, data, "seed {seed}: the bytes came back");
        }
    }
}

/// Where a put goes.
struct Target<'a> {
    runtime: &'a tokio::runtime::Runtime,
    net: &'a Net,
    object: &'a Object,
    client: Address,
    nonce: u64,
    price: Amount,
    providers: Vec<Endpoint>,
}

impl Target<'_> {
    fn put<F: ReadAt>(&self, fragments: &[F]) -> Result<(Vec<Placed>, Vec<Failure>), PutError> {
        let request = PutRequest {
            chain_id: ChainId::new(CHAIN).unwrap(),
            client: self.client,
            nonce: self.nonce,
            object: self.object,
            duration_epochs: 5,
            price: self.price,
            fragments,
            providers: self.providers.clone(),
        };
        self.runtime.block_on(async {
            let result = place(self.net, &request, &Quiet).await;
            self.net.settle().await;
            result
        })
    }
}

#[test]
fn puts_and_gets_survive_faulty_providers_over_many_seeds() {
    for seed in 0..192 {
        run(seed);
    }
}

/// One repair: an object is put on `k + m` honest providers, one of them is
/// lost for good, and a repairer (not the client) rebuilds it from the
/// others, some of which vanish or serve rotten bytes, and offers it to
/// candidates that misbehave at random. It must succeed exactly when `k`
/// good holders and one good candidate exist, and the fragment the new
/// provider keeps must be the original, byte for byte. Answers whether it
/// was repaired.
fn repair_run(seed: u64) -> bool {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = rng.random_range(2..=4usize);
    let m = rng.random_range(1..=3usize);
    let n = k + m;
    let size = rng.random_range(1..200_000u64);
    let data: Vec<u8> = (0..size).map(|_| rng.random()).collect();
    let key = ObjectKey::from_bytes(rng.random());
    let mut files: Vec<Vec<u8>> = vec![Vec::new(); n];
    let object = sherd_fragments::encode_with_key(
        &data[..],
        size,
        Params::with_shard_size(k, m, 16384).unwrap(),
        &key,
        &mut files,
        &mut |_| {},
    )
    .unwrap();
    let fragment_size = object.layout.fragment_size;
    let contracts = Contracts::default();
    let mut nodes = HashMap::new();
    let mut endpoints = Vec::new();
    let spares = 3;
    for i in 0..(n + spares) as u8 {
        let signing = SigningKey::from_bytes(&rng.random());
        let address = Address::from(&signing.verifying_key());
        nodes.insert(
            address,
            node(signing, 1 << 30, Behaviour::Honest, &contracts),
        );
        endpoints.push(Endpoint {
            address,
            peer_id: vec![i],
            multiaddrs: vec![vec![i]],
        });
    }
    let net = Net {
        nodes: Arc::new(nodes),
        serving: Arc::default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let client = Address([0xc1; 32]);
    let target = Target {
        runtime: &runtime,
        net: &net,
        object: &object,
        client,
        nonce: seed,
        price: Amount(10),
        providers: endpoints[..n].to_vec(),
    };
    let (placed, _) = target.put(&files).unwrap();
    let id = market::contract_id(&client, seed);

    // The contract on chain, with one fragment lost: its provider is gone.
    let lost = rng.random_range(0..n) as u32;
    let mut contract = Contract {
        id,
        client,
        object_root: Hash(object.root),
        k: k as u16,
        m: m as u16,
        fragment_size,
        price_per_gib_epoch: Amount(10),
        start_height: 5,
        first_period: 1,
        last_period: 50,
        fragments: placed
            .iter()
            .map(|p| ContractFragment {
                root: Hash(object.fragment_roots[p.index as usize]),
                provider: p.provider.address,
                status: FragmentStatus::Active,
                escrow_left: Amount(100),
                collateral_left: Amount(100),
                repair_reward: Amount(0),
                misses: 0,
                accepted: 0,
                proven: 0,
                since: 5,
            })
            .collect(),
    };
    contract.fragments[lost as usize].status = FragmentStatus::Lost;
    contracts.lock().unwrap().insert(id, contract.clone());
    for node in net.nodes.values() {
        node.provider.maintain(11, false).unwrap();
    }
    let node = |a: &Address| net.nodes[a].clone();
    *node(&contract.fragments[lost as usize].provider)
        .behaviour
        .lock()
        .unwrap() = Behaviour::Vanished;

    // Other holders fail at random: they vanish, or serve a flipped byte.
    let mut good_holders = 0;
    for (i, f) in contract.fragments.iter().enumerate() {
        if i as u32 == lost {
            continue;
        }
        match rng.random_range(0..6) {
            0 => *node(&f.provider).behaviour.lock().unwrap() = Behaviour::Vanished,
            1 => {
                *node(&f.provider).serve_fault.lock().unwrap() =
                    Fault::FlipAt(rng.random_range(300..300 + fragment_size))
            }
            _ => good_holders += 1,
        }
    }
    // Candidates: the spares at random, then the holders (to be skipped).
    let mut good_candidates = 0;
    let mut candidates = Vec::new();
    for e in &endpoints[n..] {
        let b = random_behaviour(&mut rng, fragment_size);
        if b == Behaviour::Honest {
            good_candidates += 1;
        }
        *node(&e.address).behaviour.lock().unwrap() = b;
        if b == Behaviour::Refuses {
            *node(&e.address).behaviour.lock().unwrap() = Behaviour::DealTimeout;
        }
        candidates.push(e.clone());
    }
    candidates.extend(endpoints[..n].iter().cloned());
    let sources: Vec<Source> = contract
        .fragments
        .iter()
        .zip(0u32..)
        .filter(|(f, _)| f.status == FragmentStatus::Active)
        .map(|(f, index)| Source {
            index,
            root: f.root,
            endpoint: endpoints
                .iter()
                .find(|e| e.address == f.provider)
                .unwrap()
                .clone(),
        })
        .collect();
    let repairer = Address([0xee; 32]);
    let scratch = tempfile::tempfile().unwrap();
    let request = LostFragment {
        chain_id: ChainId::new(CHAIN).unwrap(),
        repairer,
        contract: &contract,
        index: lost,
        epochs_left: 3,
        sources,
        candidates,
    };
    let result = runtime.block_on(async {
        let result = repair(&net, &request, &scratch, &Quiet).await;
        net.settle().await;
        result
    });
    let possible = good_holders >= k && good_candidates > 0;
    let repaired = match result {
        Ok(repaired) => {
            assert!(possible, "seed {seed}: repaired with {good_holders} good holders of {k}, {good_candidates} good candidates");
            repaired
        }
        Err(e) => {
            assert!(
                !possible,
                "seed {seed}: {e} ({good_holders} good holders of {k}, {good_candidates} good candidates)"
            );
            return false;
        }
    };
    // The acceptance is the ledger's repair message naming the repairer.
    let message = market::repair_message(
        &ChainId::new(CHAIN).unwrap(),
        &market::RepairedFragment::of(&contract, lost).unwrap(),
        &repairer,
    )
    .unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(repaired.provider.address.as_bytes())
        .unwrap()
        .verify_strict(&message, &repaired.signature)
        .unwrap();
    assert!(
        contract
            .fragments
            .iter()
            .all(|f| f.provider != repaired.provider.address),
        "seed {seed}: a holder took a second fragment"
    );
    // The new provider keeps the original fragment file, and holds it while
    // the fragment is still lost on chain, then takes it on when the
    // RepairFragment lands.
    let fkey = FragmentKey {
        contract_id: id,
        index: lost,
    };
    let new = node(&repaired.provider.address);
    assert!(
        new.provider.store().file(&fkey).unwrap() == files[lost as usize],
        "seed {seed}: the rebuilt fragment differs"
    );
    assert_eq!(new.provider.maintain(12, false).unwrap().confirmed, 0);
    assert!(new.provider.store().file(&fkey).is_some());
    contract.fragments[lost as usize].provider = repaired.provider.address;
    contract.fragments[lost as usize].status = FragmentStatus::Active;
    contracts.lock().unwrap().insert(id, contract);
    assert_eq!(new.provider.maintain(13, false).unwrap().confirmed, 1);
    true
}

#[test]
fn lost_fragments_are_rebuilt_and_replaced_over_many_seeds() {
    let repaired = (0..96).filter(|&seed| repair_run(seed)).count();
    // Both outcomes must be exercised, and mostly success.
    assert!((48..96).contains(&repaired), "{repaired} of 96 repaired");
}
