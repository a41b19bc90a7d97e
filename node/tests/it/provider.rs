//! A storage provider on a real node and a client that lies: over libp2p,
//! through the light peer, uploads whose group hashes do not build the
//! proposed root, whose bytes do not match their hashes, that stop short
//! or run long, and an upload nobody reserved. Each is refused with its
//! reason and leaves nothing behind (no index entry, no file, no partial
//! upload); the reservation survives, and an honest upload afterwards is
//! stored, accepted with a valid signature and kept pending for its
//! contract. Fragment files on disk survive a restart; a partial upload
//! and an unindexed file do not.

use std::time::{Duration, Instant};

use futures::AsyncWriteExt;
use sherd_fragments::{file::read_footer, Params};
use sherd_market::{
    store::{FragmentKey, FragmentState, FragmentStore},
    transfer::{read_message, write_message},
    transport::{Endpoint, Transport},
    wire::{self, DealRequest, DealResponse, FragmentRequest, Proposal, UploadResponse},
};
use sherd_node::home::{init_testnet, TestnetPlan};
use sherd_node::net::light::{LightPeer, Timeouts};
use sherd_node::provider::disk::DiskStore;

use crate::free_ranges;

/// Asks the provider to sign for fragment 0 of `fkey`'s contract.
async fn finish(peer: &LightPeer, endpoint: &Endpoint, fkey: FragmentKey) -> DealResponse {
    peer.deal(
        endpoint,
        DealRequest::Finish {
            contract_id: fkey.contract_id,
            index: 0,
        },
    )
    .await
    .unwrap()
}

/// The upload a lying client sends: request, group hashes, data.
async fn raw_upload(
    peer: &LightPeer,
    endpoint: &Endpoint,
    key: FragmentKey,
    leaves: &[u8],
    data: &[u8],
) -> UploadResponse {
    let mut stream = peer.open(endpoint).await.expect("a stream opens");
    write_message(
        &mut stream,
        &FragmentRequest::Upload {
            contract_id: key.contract_id,
            index: key.index,
        },
    )
    .await
    .unwrap();
    // The provider may refuse (and stop reading) before everything is
    // written: a write error here is expected then.
    let _ = async {
        stream.write_all(leaves).await?;
        stream.write_all(data).await?;
        stream.close().await
    }
    .await;
    read_message(&mut stream, wire::MAX_FRAGMENT_REQUEST)
        .await
        .expect("the provider answers")
}

fn refusal(answer: UploadResponse) -> String {
    match answer {
        UploadResponse::Refused(reason) => reason.to_string(),
        UploadResponse::Stored => panic!("a lying upload was stored"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_client_is_refused_and_nothing_it_sent_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (p2p, api) = free_ranges(2);
    let nodes = init_testnet(
        dir.path(),
        &TestnetPlan {
            validators: 1,
            full_nodes: 0,
            p2p_port: p2p,
            api_port: api,
            chain_id: "sherd-liar".into(),
            epoch_length: 100,
            providers: 1,
            proof_period: None,
            proof_window: None,
            repair: false,
        },
    )
    .unwrap();
    let validator = sherd_node::run_home(&nodes[0].home).await.unwrap();
    let provider_node = sherd_node::run_home(&nodes[1].home).await.unwrap();
    let runtime = provider_node.shared.provider.get().unwrap().clone();
    let address = runtime.address();

    // The provider registers and advertises itself; wait for the chain.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (endpoint, ad) = loop {
        let state = validator.shared.db.state();
        let view = sherd_ledger::StateView::new(&state);
        if let (Some(e), Some(ad)) = (
            view.endpoint(&address).unwrap(),
            view.provider(&address).unwrap(),
        ) {
            break (
                Endpoint {
                    address,
                    peer_id: e.peer_id,
                    multiaddrs: e.multiaddrs.into_iter().map(|m| m.0).collect(),
                },
                ad,
            );
        }
        assert!(Instant::now() < deadline, "the provider never advertised");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The provider's own view must have caught up too before it reserves.
    while provider_node.shared.committed_status().head.height < ad.updated_at {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A small object; fragment 0 is offered.
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut files = vec![Vec::new(); 3];
    let key = sherd_fragments::ObjectKey::from_bytes([3; 32]);
    let object = sherd_fragments::encode_with_key(
        &data[..],
        data.len() as u64,
        Params::new(2, 1).unwrap(),
        &key,
        &mut files,
        &mut |_| {},
    )
    .unwrap();
    let client = sherd_ledger::Address([0xc1; 32]);
    let proposal = Proposal {
        chain_id: sherd_ledger::ChainId::new("sherd-liar").unwrap(),
        client,
        nonce: 0,
        object_root: sherd_ledger::Hash(object.root),
        k: 2,
        m: 1,
        shard_size: object.layout.params.shard_size(),
        object_size: object.layout.size,
        fragment_size: object.layout.fragment_size,
        duration_epochs: 2,
        price_per_gib_epoch: ad.price_per_gib_epoch,
        index: 0,
        fragment_root: sherd_ledger::Hash(object.fragment_roots[0]),
        repair: None,
    };
    let fkey = FragmentKey {
        contract_id: proposal.contract_id(),
        index: 0,
    };
    let peer = LightPeer::start(Timeouts::default()).unwrap();

    // Nothing reserved yet: an upload is refused.
    let file = &files[0];
    let size = object.layout.fragment_size as usize;
    let footer = read_footer(file).unwrap();
    let leaves = &file[size..size + 32 * (size.div_ceil(16 * 1024))];
    let fragment = &file[..size];
    let e = refusal(raw_upload(&peer, &endpoint, fkey, leaves, fragment).await);
    assert!(e.contains("reserv") || e.contains("propose"), "{e}");

    match peer
        .deal(&endpoint, DealRequest::Propose(Box::new(proposal.clone())))
        .await
        .unwrap()
    {
        DealResponse::Reserved { .. } => {}
        other => panic!("the proposal was not reserved: {other:?}"),
    }
    let store = runtime.provider.store();
    let nothing_kept = |what: &str| {
        assert!(
            store.records().unwrap().is_empty(),
            "{what}: an index entry was kept"
        );
        for sub in ["incoming", "data"] {
            let path = store.dir().join(sub);
            let left: Vec<_> = std::fs::read_dir(&path).unwrap().collect();
            assert!(left.is_empty(), "{what}: {} holds {left:?}", path.display());
        }
    };

    // Group hashes that do not build the proposed root.
    let mut bad_leaves = leaves.to_vec();
    bad_leaves[5] ^= 1;
    let e = refusal(raw_upload(&peer, &endpoint, fkey, &bad_leaves, fragment).await);
    assert!(e.contains("do not build the proposed fragment root"), "{e}");
    nothing_kept("wrong group hashes");

    // The right hashes, a wrong byte in the data.
    let mut bad_data = fragment.to_vec();
    bad_data[20_000] ^= 0x40;
    let e = refusal(raw_upload(&peer, &endpoint, fkey, leaves, &bad_data).await);
    assert!(e.contains("group 1 does not match its hash"), "{e}");
    nothing_kept("a flipped byte");

    // Truncated: the stream ends early.
    let e = refusal(raw_upload(&peer, &endpoint, fkey, leaves, &fragment[..size / 2]).await);
    assert!(
        e.contains("ended after") && e.contains(&format!("of {size} bytes")),
        "{e}"
    );
    nothing_kept("a truncated upload");

    // Oversized: more than the fragment.
    let mut long = fragment.to_vec();
    long.extend_from_slice(&[0u8; 4096]);
    let e = refusal(raw_upload(&peer, &endpoint, fkey, leaves, &long).await);
    assert!(e.contains("more than the fragment's"), "{e}");
    nothing_kept("an oversized upload");

    // Finish before any stored upload is refused.
    match finish(&peer, &endpoint, fkey).await {
        DealResponse::Refused(r) => assert!(r.to_string().contains("upload it first"), "{r}"),
        other => panic!("an acceptance for nothing stored: {other:?}"),
    }

    // The honest upload, on the same reservation: stored, then accepted.
    let mut stream = peer.open(&endpoint).await.unwrap();
    sherd_market::transfer::upload(&mut stream, fkey.contract_id, &footer, file, &mut |_| {})
        .await
        .expect("the honest upload is stored");
    let signature = match finish(&peer, &endpoint, fkey).await {
        DealResponse::Accepted { signature } => ed25519_dalek::Signature::from_bytes(&signature),
        other => panic!("no acceptance: {other:?}"),
    };
    ed25519_dalek::VerifyingKey::from_bytes(address.as_bytes())
        .unwrap()
        .verify_strict(&proposal.acceptance_message().unwrap(), &signature)
        .expect("the acceptance is the provider's");
    let records = store.records().unwrap();
    assert_eq!(records.len(), 1);
    assert!(matches!(records[0].state, FragmentState::Pending { .. }));
    let stored = std::fs::read(store.path(&fkey)).unwrap();
    assert!(stored == *file, "the stored fragment file is the client's");

    // After a stop: the indexed file stays; a partial upload and a file
    // without an index entry are removed when the store opens again.
    let db = provider_node.shared.db.clone();
    let storage = store.dir().to_path_buf();
    std::fs::write(storage.join("incoming").join("x.part-0"), b"half").unwrap();
    std::fs::write(storage.join("data").join("orphan.frag"), b"no index entry").unwrap();
    let (again, recovery) = DiskStore::open(&storage, db).unwrap();
    assert_eq!(
        (recovery.partial, recovery.orphans, recovery.missing),
        (1, 1, 0)
    );
    assert_eq!(again.records().unwrap().len(), 1);
    assert!(again.open(&fkey).unwrap().is_some());
    let mut read_back = Vec::new();
    std::fs::File::open(again.path(&fkey))
        .map(|f| {
            use std::io::Read;
            let mut f = f;
            f.read_to_end(&mut read_back).unwrap();
        })
        .unwrap();
    assert!(read_back == *file);

    provider_node.shutdown().await.unwrap();
    validator.shutdown().await.unwrap();
}
