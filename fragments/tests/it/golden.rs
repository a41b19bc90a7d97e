//! Golden vectors: they pin every hashed or encrypted byte format. If one of
//! these changes, the on-disk and on-chain formats changed: bump
//! `FORMAT_VERSION` and regenerate with `SHERD_UPDATE_VECTORS=1 cargo test -p sherd-fragments golden`.

use std::path::PathBuf;

use serde_json::{json, Value};
use sherd_fragments::{
    challenge_index,
    commit::{group_hash, merkle_root, node_hash},
    file, ObjectKey, Params,
};

use crate::{encode_to_memory, object_bytes};

fn vectors() -> Value {
    let pattern: Vec<u8> = (0..16384u32).map(|i| (i % 251) as u8).collect();
    let challenges: Vec<Value> = [
        (1u8, 2u8, 0u32, 0u64, 1024u64),
        (7, 9, 13, 1_000_000, 65536),
        (255, 0, 95, 42, 1),
    ]
    .iter()
    .map(|&(b, c, i, p, n)| {
        json!({
            "beacon": hex::encode([b; 32]),
            "contract_id": hex::encode([c; 32]),
            "fragment_index": i,
            "period": p,
            "n_chunks": n,
            "chunk_index": challenge_index(&[b; 32], &[c; 32], i, p, n),
        })
    })
    .collect();

    let data = object_bytes(100_000, 42);
    let key = ObjectKey::from_bytes([0x42; 32]);
    let params = Params::with_shard_size(3, 2, 16384).unwrap();
    let (object, files) = encode_to_memory(&data, params, &key);
    let (_, proof) = file::prove(&files[4], 30).unwrap();
    json!({
        "group_hash": {
            "input": "bytes i % 251 for i in 0..16384",
            "full_group": hex::encode(group_hash(&pattern)),
            "one_chunk": hex::encode(group_hash(&pattern[..1024])),
        },
        "node_hash": {
            "left": hex::encode([1u8; 32]),
            "right": hex::encode([2u8; 32]),
            "node": hex::encode(node_hash(&[1; 32], &[2; 32])),
            "three_leaves": [hex::encode([1u8; 32]), hex::encode([2u8; 32]), hex::encode([3u8; 32])],
            "root_of_three_leaves": hex::encode(merkle_root(&[[1; 32], [2; 32], [3; 32]])),
        },
        "challenges": challenges,
        "object": {
            "input": "100000 bytes: s = (42 * 0x9E3779B97F4A7C15 mod 2^64) | 1; per byte: s ^= s << 13; s ^= s >> 7; s ^= s << 17 (mod 2^64); the byte is s mod 256",
            "input_first_bytes": hex::encode(&data[..16]),
            "input_blake3": blake3::hash(&data).to_hex().to_string(),
            "key": hex::encode(key.as_bytes()),
            "k": 3, "m": 2, "shard_size": 16384,
            "object_root": hex::encode(object.root),
            "fragment_roots": object.fragment_roots.iter().map(hex::encode).collect::<Vec<_>>(),
            "fragment_file_blake3": files.iter().map(|f| blake3::hash(f).to_hex().to_string()).collect::<Vec<_>>(),
            "manifest": object.manifest().to_json(),
            "manifest_blake3": blake3::hash(object.manifest().to_json().as_bytes()).to_hex().to_string(),
            "proof_fragment_4_chunk_30": hex::encode(proof.to_bytes()),
        },
    })
}

#[test]
fn golden_vectors_match() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/fragments.json");
    let computed = vectors();
    if std::env::var_os("SHERD_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&computed).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in ["group_hash", "node_hash", "challenges", "object"] {
        assert_eq!(stored[key], computed[key], "golden vector `{key}` changed");
    }
}
