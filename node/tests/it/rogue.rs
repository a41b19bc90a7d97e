//! A hostile peer on the wire: garbage on both gossip topics, a transaction
//! with a bad signature, malformed sync requests and a flood; and a peer
//! that claims to be far ahead and answers sync requests with forged,
//! missing or no blocks. The node refuses all of it, keeps finalizing (or syncs from an
//! honest peer), and nothing of it reaches its mempool or chain.

use std::time::{Duration, Instant};

use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, ChainId, TxBody, TxKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sherd_consensus::engine::Proposal;
use sherd_consensus::{Certificate, Wire};
use sherd_node::gossip::{decode_blocks, encode_blocks, encode_txs, SyncRequest};
use sherd_node::home::{init_testnet, TestnetNode, TestnetPlan};
use sherd_node::net::{self, NetConfig, NetEvent, Topic};
use sherd_node::store::{col, NodeDb, StoredBlock};

use crate::free_ranges;
use crate::http::get;

/// A testnet of one validator and `full_nodes` more on free loopback ports.
fn testnet(dir: &std::path::Path, chain_id: &str, full_nodes: u16) -> Vec<TestnetNode> {
    let count = 1 + full_nodes;
    let (p2p, api) = free_ranges(count);
    init_testnet(
        dir,
        &TestnetPlan {
            validators: 1,
            full_nodes: usize::from(full_nodes),
            p2p_port: p2p,
            api_port: api,
            chain_id: chain_id.into(),
            epoch_length: 100,
            providers: 0,
            proof_period: None,
            proof_window: None,
            repair: false,
        },
    )
    .unwrap()
}

/// A libp2p peer of our own making, on a free loopback port, dialing `bootnode`.
async fn rogue_peer(
    bootnode: &str,
    chain_id: &str,
) -> (net::NetHandle, tokio::sync::mpsc::Receiver<NetEvent>) {
    net::start(NetConfig {
        provider: false,
        keypair: libp2p::identity::Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootnodes: vec![bootnode.parse().unwrap()],
        chain_id: chain_id.into(),
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_peer_is_refused_and_the_node_keeps_finalizing() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = testnet(dir.path(), "sherd-rogue", 0);
    let node = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let api = node.api;

    let (rogue, mut events) = rogue_peer(&nodes[0].p2p, "sherd-rogue").await;
    let node_peer = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(NetEvent::Connected(peer))) => break peer,
            Ok(Some(_)) => continue,
            other => panic!("the rogue never connected: {other:?}"),
        }
    };
    // Let gossipsub form its mesh.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A transfer from a funded-looking account with a broken signature.
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let mut forged = TxBody {
        chain_id: ChainId::new("sherd-rogue").unwrap(),
        sender: Address::from(&key.verifying_key()),
        nonce: 0,
        fee: Amount(10_000),
        kind: TxKind::Transfer(Transfer {
            to: Address([1; 32]),
            amount: Amount(1),
        }),
    }
    .sign(&key)
    .unwrap();
    forged.body.nonce = 1; // the signature no longer matches
    let forged_id = forged.id().unwrap();
    rogue
        .publish(
            Topic::Transactions,
            encode_txs(&[forged.to_bytes().unwrap()]),
        )
        .await
        .unwrap();
    for i in 0..2_000u32 {
        let mut garbage = i.to_le_bytes().to_vec();
        garbage.extend_from_slice(&[0xab; 64]);
        let topic = if i % 2 == 0 {
            Topic::Consensus
        } else {
            Topic::Transactions
        };
        let _ = rogue.publish(topic, garbage).await;
    }
    for bad in [vec![], vec![9, 9, 9], vec![2, 1]] {
        let answer = rogue.request(node_peer, bad).await;
        assert!(
            answer.is_err(),
            "a malformed sync request was answered: {answer:?}"
        );
    }

    // The node goes on: finalizing, answering, nothing of the rogue's inside.
    let start = get(api, "/v1/status").1["finalized_height"]
        .as_u64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, status) = get(api, "/v1/status");
        assert_eq!(code, 200);
        if status["finalized_height"].as_u64().unwrap() >= start + 3 {
            assert_eq!(status["mempool_size"], 0, "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node stopped finalizing: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(api, &format!("/v1/txs/{forged_id}")).0, 404);
    assert!(!node.actor_stopped());
    node.shutdown().await.unwrap();
}

/// What the rogue answers to a request for blocks, in turn.
fn forged_answer(round: usize, real: &[Vec<u8>]) -> Vec<u8> {
    if real.is_empty() {
        return encode_blocks(&[]);
    }
    let stored: Vec<StoredBlock> = real
        .iter()
        .map(|b| StoredBlock::from_bytes(b).unwrap())
        .collect();
    match round % 5 {
        // Real blocks, each carrying a valid certificate of an earlier block.
        0 => {
            let mut forged = stored.clone();
            for (i, block) in forged.iter_mut().enumerate() {
                let earlier = (i + stored.len() - 1) % stored.len();
                block.certificate = stored[earlier].certificate.clone();
            }
            encode_blocks(&forged.iter().map(StoredBlock::to_bytes).collect::<Vec<_>>())
        }
        // Real headers and certificates over a changed block body.
        1 => {
            let mut forged = stored.clone();
            for block in &mut forged {
                let last = block.block.len() - 1;
                block.block[last] ^= 1;
            }
            encode_blocks(&forged.iter().map(StoredBlock::to_bytes).collect::<Vec<_>>())
        }
        // Nothing, though it claims to be far ahead.
        2 => encode_blocks(&[]),
        // Real blocks with the first one missing: they do not extend the head.
        3 => encode_blocks(&real[1..]),
        // Not an answer at all.
        _ => vec![0xff; 64],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syncing_node_refuses_forged_blocks_and_syncs_from_an_honest_peer() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = testnet(dir.path(), "sherd-forger", 1);
    let validator = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(validator.api, "/v1/status").1["finalized_height"]
        .as_u64()
        .unwrap_or(0)
        < 4
    {
        assert!(Instant::now() < deadline, "the validator does not finalize");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The forger: it takes real final blocks from the validator, then
    // claims to be far ahead and serves forgeries of them.
    let (rogue, mut events) = rogue_peer(&nodes[0].p2p, "sherd-forger").await;
    let (mut listen, mut validator_peer) = (None, None);
    while listen.is_none() || validator_peer.is_none() {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(NetEvent::Listening(addr))) => listen = Some(addr),
            Ok(Some(NetEvent::Connected(peer))) => validator_peer = Some(peer),
            Ok(Some(_)) => {}
            other => panic!("the forger never connected: {other:?}"),
        }
    }
    let asked = Arc::new(AtomicUsize::new(0));
    let serving = {
        let (rogue, asked) = (rogue.clone(), asked.clone());
        let validator_peer = validator_peer.unwrap();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let NetEvent::Request { request, reply, .. } = event else {
                    continue;
                };
                let answer = match SyncRequest::decode(&request) {
                    Some(SyncRequest::Status) => 1_000_000u64.to_le_bytes().to_vec(),
                    Some(blocks @ SyncRequest::Blocks { .. }) => {
                        // The real blocks asked for, from the validator, forged.
                        let real = rogue
                            .request(validator_peer, blocks.encode())
                            .await
                            .ok()
                            .and_then(|b| decode_blocks(&b))
                            .unwrap_or_default();
                        forged_answer(asked.fetch_add(1, Ordering::SeqCst), &real)
                    }
                    None => continue,
                };
                let _ = rogue.respond(reply, answer).await;
            }
        })
    };

    // A new node whose first bootnode is the forger, started five times so
    // that it meets every kind of forgery, each time behind the validator.
    let forger = format!("{}/p2p/{}", listen.unwrap(), rogue.peer_id());
    let config_path = nodes[1].home.join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let config = config.replacen("bootnodes = [", &format!("bootnodes = [\"{forger}\", "), 1);
    std::fs::write(&config_path, config).unwrap();
    let mut synced_to = 0;
    for start in 1..=5 {
        let deadline = Instant::now() + Duration::from_secs(20);
        let target = loop {
            let height = get(validator.api, "/v1/status").1["finalized_height"]
                .as_u64()
                .unwrap_or(0);
            if height > synced_to + 1 {
                break height;
            }
            assert!(Instant::now() < deadline, "the validator stopped");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let follower = sherd_node::run_home(&nodes[1].home).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let height = get(follower.api, "/v1/status").1["finalized_height"]
                .as_u64()
                .unwrap_or(0);
            if height >= target {
                synced_to = height;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "start {start}: the follower is stuck at {height} of {target}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            asked.load(Ordering::SeqCst) >= start,
            "start {start}: the follower did not ask the forger, so nothing was tested"
        );
        for height in 1..=target {
            let path = format!("/v1/blocks/{height}");
            let (ours, theirs) = (get(follower.api, &path).1, get(validator.api, &path).1);
            assert_eq!(ours["id"], theirs["id"], "block {height} differs");
            assert!(ours["id"].is_string());
        }
        assert!(!follower.actor_stopped());
        follower.shutdown().await.unwrap();
    }
    serving.abort();
    validator.shutdown().await.unwrap();
    let target = synced_to;

    // Every block the follower keeps carries a certificate of itself or of
    // a later block of its chain: none of the forged ones.
    // The last task to let go of the database closes it as it goes.
    let path = nodes[1].home.join("db");
    let started = Instant::now();
    let db = loop {
        match NodeDb::open(&path) {
            Ok(db) => break db,
            Err(e) if started.elapsed() < Duration::from_secs(5) => {
                eprintln!("reopening the follower's database: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the follower's database is still held: {e}"),
        }
    };
    let mut chain = Vec::new();
    for height in 1.. {
        let Some(bytes) = db.get(col::BLOCKS, &u64::to_be_bytes(height)).unwrap() else {
            break;
        };
        let stored = StoredBlock::from_bytes(&bytes).unwrap();
        let proposal = Proposal::decode(&stored.proposal).unwrap();
        let certificate = Certificate::decode(&stored.certificate).unwrap();
        chain.push((proposal.id(), certificate.block_id()));
    }
    assert!(chain.len() as u64 >= target);
    for (i, (_, named)) in chain.iter().enumerate() {
        assert!(
            chain[i..].iter().any(|(id, _)| Some(*id) == *named),
            "block {} is kept with a certificate of another block",
            i + 1
        );
    }
}

/// A peer that allows itself 16 MiB gossip messages (the node's limit is
/// 4 MiB) sends 6 MiB on both topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_gossip_is_dropped_and_the_node_keeps_finalizing() {
    use futures::StreamExt;
    use libp2p::{gossipsub, noise, swarm::SwarmEvent, tcp, yamux};

    let dir = tempfile::tempdir().unwrap();
    let nodes = testnet(dir.path(), "sherd-big", 0);
    let node = sherd_node::run_home(&nodes[0].home).await.unwrap();

    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .max_transmit_size(16 << 20)
                .build()
                .unwrap();
            gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                config,
            )
            .unwrap()
        })
        .unwrap()
        .build();
    let topics: Vec<_> = [Topic::Transactions, Topic::Consensus]
        .into_iter()
        .map(|t| gossipsub::IdentTopic::new(t.name("sherd-big")))
        .collect();
    for topic in &topics {
        swarm.behaviour_mut().subscribe(topic).unwrap();
    }
    swarm
        .dial(nodes[0].p2p.parse::<libp2p::Multiaddr>().unwrap())
        .unwrap();
    // Wait until the node is subscribed to both topics, as we see it.
    let mut subscribed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while subscribed < topics.len() {
        match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. })) => subscribed += 1,
            Ok(_) => {}
            Err(_) => panic!("the node never subscribed"),
        }
    }
    for (i, topic) in topics.iter().enumerate() {
        let big = vec![i as u8; 6 << 20];
        swarm
            .behaviour_mut()
            .publish(topic.clone(), big)
            .expect("sent to the node");
    }
    // Drive the swarm while the node goes on.
    let start = get(node.api, "/v1/status").1["finalized_height"]
        .as_u64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = tokio::time::timeout(Duration::from_millis(200), swarm.select_next_some()).await;
        let (code, status) = get(node.api, "/v1/status");
        assert_eq!(code, 200);
        if status["finalized_height"].as_u64().unwrap() >= start + 3 {
            assert_eq!(status["mempool_size"], 0, "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node stopped finalizing: {status}"
        );
    }
    assert!(!node.actor_stopped());
    node.shutdown().await.unwrap();
}

/// A peer that relays consensus messages the engine refuses is scored
/// down by gossipsub; one that sends what cannot be checked yet (another
/// epoch) is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_relaying_invalid_consensus_messages_is_scored_down() {
    use sherd_consensus::bls::SecretKey;
    use sherd_consensus::vote::Vote;
    use sherd_consensus::{Message, SignerBitmap};
    use sherd_node::gossip::ConsensusGossip;

    let dir = tempfile::tempdir().unwrap();
    let nodes = testnet(dir.path(), "sherd-score", 0);
    let node = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let (rogue, mut events) = rogue_peer(&nodes[0].p2p, "sherd-score").await;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(NetEvent::Connected(_))) => break,
            Ok(Some(_)) => continue,
            other => panic!("the rogue never connected: {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let net = node
        .shared
        .observed
        .net
        .get()
        .expect("a networked node")
        .clone();
    let score = || async { net.peer_score(rogue.peer_id()).await.unwrap() };
    assert!(score().await.expect("the rogue is connected") >= 0.0);

    // A nullification whose signature is some other key's over another
    // message: on the curve, decodes, and does not verify.
    let status = get(node.api, "/v1/status").1;
    let (epoch, view) = (
        status["epoch"].as_u64().unwrap(),
        status["view"].as_u64().unwrap(),
    );
    let stranger = SecretKey::key_gen(&[9; 32], b"").unwrap();
    let forged = |epoch: u64| {
        let mut signers = SignerBitmap::new(1);
        signers.insert(0).unwrap();
        ConsensusGossip::Message {
            from: 0,
            message: Message::Nullification(Certificate {
                epoch,
                vote: Vote::Nullify { view: view + 1_000 },
                signers,
                signature: stranger.sign(b"something else"),
            }),
        }
        .encode()
    };

    // Another epoch's: cannot be checked here, nobody's fault.
    rogue
        .publish(Topic::Consensus, forged(epoch + 5))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = score().await.unwrap();
    assert!(
        before >= 0.0,
        "scored down for an unverifiable message: {before}"
    );

    // This epoch's: invalid, rejected, and the score falls.
    for _ in 0..3 {
        rogue
            .publish(Topic::Consensus, forged(epoch))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = score().await;
        if now.is_some_and(|s| s < -20.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the score did not fall: {before} before, {now:?} now"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!node.actor_stopped());
    node.shutdown().await.unwrap();
}

/// A peer flooding sync requests gets its burst answered and the rest
/// dropped; once it slows down it is answered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_request_flood_is_cut_to_the_peer_s_rate() {
    use sherd_node::net::limits::SYNC;

    let dir = tempfile::tempdir().unwrap();
    let nodes = testnet(dir.path(), "sherd-flood", 0);
    let node = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let (rogue, mut events) = rogue_peer(&nodes[0].p2p, "sherd-flood").await;
    let node_peer = loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(NetEvent::Connected(peer))) => break peer,
            Ok(Some(_)) => continue,
            other => panic!("the rogue never connected: {other:?}"),
        }
    };
    let flood = 4 * SYNC.burst as usize;
    let answers = futures::future::join_all(
        (0..flood).map(|_| rogue.request(node_peer, SyncRequest::Status.encode())),
    )
    .await;
    let answered = answers.iter().filter(|a| a.is_ok()).count();
    // The burst, plus what refilled while the flood was in flight.
    assert!(
        answered >= SYNC.burst as usize / 2 && answered < flood * 3 / 4,
        "{answered} of {flood} answered"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(rogue
        .request(node_peer, SyncRequest::Status.encode())
        .await
        .is_ok());
    assert_eq!(get(node.api, "/v1/status").0, 200);
    node.shutdown().await.unwrap();
}
