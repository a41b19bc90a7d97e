//! A hostile peer on the wire: garbage on both gossip topics, a transaction
//! with a bad signature, malformed sync requests and a flood. The node
//! refuses all of it, keeps finalizing, and nothing of it reaches its
//! mempool or chain.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, ChainId, TxBody, TxKind};
use sherd_node::home::{init_testnet, TestnetPlan};
use sherd_node::net::{self, NetConfig, NetEvent, Topic};

use crate::http::get;

fn free_range(count: u16) -> u16 {
    for _ in 0..200 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > u16::MAX - count {
            continue;
        }
        let held: Vec<_> = (0..count)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no free ports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_peer_is_refused_and_the_node_keeps_finalizing() {
    let dir = tempfile::tempdir().unwrap();
    let (p2p, api) = (free_range(1), free_range(1));
    let nodes = init_testnet(
        dir.path(),
        &TestnetPlan {
            validators: 1,
            full_nodes: 0,
            p2p_port: p2p,
            api_port: api,
            chain_id: "sherd-rogue".into(),
            epoch_length: 100,
        },
    )
    .unwrap();
    let node = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let api = node.api;

    let (rogue, mut events) = net::start(NetConfig {
        keypair: libp2p::identity::Keypair::generate_ed25519(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootnodes: vec![nodes[0].p2p.parse().unwrap()],
        chain_id: "sherd-rogue".into(),
    })
    .await
    .unwrap();
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
        .publish(Topic::Transactions, forged.to_bytes().unwrap())
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
