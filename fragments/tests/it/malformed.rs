//! Malformed input of every decoder is refused with an error, never a panic:
//! proofs, footers, fragment files, manifests, key files.

use proptest::prelude::*;
use serde_json::Value;
use sherd_fragments::{
    check, check_fragment, file, manifest::Manifest, proof::Proof, Footer, KeyFile, ObjectKey,
    Params,
};

use crate::{decode_from_memory, encode_to_memory, object_bytes};

/// A footer with arbitrary fields but a correct checksum, so parsing gets
/// past the checksum into the fields.
fn footer_bytes(fragment_size: u64, index: u16, k: u16, m: u16, shard: u32) -> Vec<u8> {
    Footer {
        index,
        data: k,
        parity: m,
        shard_size: shard,
        object_size: fragment_size,
        fragment_size,
        fragment_root: [1; 32],
        object_root: [2; 32],
    }
    .to_bytes()
    .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn proof_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000), n in any::<u64>(), index in any::<u64>()) {
        if let Ok(proof) = Proof::from_bytes(&bytes) {
            let _ = check(&[0; 32], n, index, &proof);
        }
    }

    #[test]
    fn proofs_with_any_shape(chunk_len in 0usize..1100, siblings in 0usize..40, n in any::<u64>(), index in any::<u64>()) {
        let proof = Proof { chunk: vec![7; chunk_len], siblings: vec![[3; 32]; siblings] };
        prop_assert!(check(&[0; 32], n, index, &proof).is_err());
    }

    #[test]
    fn fragment_files(data in proptest::collection::vec(any::<u8>(), 0..3000), index in any::<u64>()) {
        prop_assert!(file::prove(&data, index).is_err());
    }

    #[test]
    fn fragment_files_with_valid_checksums(
        fragment_size in prop_oneof![any::<u64>(), (1u64..64).prop_map(|c| c * 1024)],
        body in 0usize..70_000,
        index in any::<u64>(),
        k in any::<u16>(), m in any::<u16>(), shard in any::<u32>(),
    ) {
        let mut bytes = object_bytes(body, 9);
        bytes.extend(footer_bytes(fragment_size, 0, k, m, shard));
        // Either refused, or (sizes happen to fit) a proof that fails its self-check.
        prop_assert!(file::prove(&bytes, index).is_err());
    }

    #[test]
    fn manifests(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(Manifest::from_json(&bytes).is_err());
    }

    #[test]
    fn manifests_with_any_numbers(
        field in prop::sample::select(vec!["size", "data_fragments", "parity_fragments", "shard_size", "stripes", "fragment_size", "chunks", "chunk_size", "group_size", "version"]),
        value in any::<u64>(),
    ) {
        let (object, _) = encode_to_memory(&object_bytes(5000, 1), Params::new(3, 2).unwrap(), &ObjectKey::from_bytes([1; 32]));
        let mut json: Value = serde_json::from_str(&object.manifest().to_json()).unwrap();
        let original = json[field].clone();
        json[field] = value.into();
        let result = Manifest::from_json(json.to_string().as_bytes());
        if json[field] != original {
            prop_assert!(result.is_err(), "{} = {} accepted", field, value);
        }
    }

    #[test]
    fn key_files(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (object, _) = encode_to_memory(&object_bytes(100, 1), Params::new(2, 1).unwrap(), &ObjectKey::from_bytes([1; 32]));
        prop_assert!(KeyFile::key_for(&bytes, &object).is_err());
    }
}

/// Fragment slots holding garbage, of the right size or not, are named
/// corrupt; the decode succeeds from the others or fails, never panics.
#[test]
fn garbage_fragment_files() {
    let data = object_bytes(60_000, 3);
    let key = ObjectKey::from_bytes([4; 32]);
    let (object, files) =
        encode_to_memory(&data, Params::with_shard_size(3, 2, 16384).unwrap(), &key);
    let len = files[0].len();
    for (slot, garbage) in [
        (0, vec![0u8; len]),
        (4, object_bytes(len, 5)),
        (1, Vec::new()),
        (2, vec![1; 100]),
    ] {
        let mut slots: Vec<Option<Vec<u8>>> = files.iter().cloned().map(Some).collect();
        slots[slot] = Some(garbage.clone());
        assert!(check_fragment(&object, slot, &garbage).is_err());
        let (out, report) = decode_from_memory(&object, &key, &slots).unwrap();
        assert!(out == data);
        assert!(
            !report.fragments[slot].is_good(),
            "slot {slot}: {:?}",
            report.fragments[slot]
        );
    }
}
