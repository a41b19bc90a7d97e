use proptest::prelude::*;
use sherd_fragments::{
    check_fragment, decode::Unstriper, encode::Restriper, file, manifest::Manifest, FragmentStatus,
    ObjectKey, Params, CHUNK_SIZE,
};

use crate::{decode_from_memory, encode_to_memory, object_bytes};

fn round_trip(size: usize, k: usize, m: usize, shard: u32, lost: &[usize], seed: u64) {
    let params = Params::with_shard_size(k, m, shard).unwrap();
    let data = object_bytes(size, seed);
    let key = ObjectKey::from_bytes([seed as u8; 32]);
    let (object, files) = encode_to_memory(&data, params, &key);
    let layout = object.layout;
    for f in &files {
        assert_eq!(Some(f.len() as u64), file::file_len(layout.fragment_size));
    }
    let mut slots: Vec<Option<Vec<u8>>> = files.into_iter().map(Some).collect();
    for &i in lost {
        slots[i] = None;
    }
    let (out, report) = decode_from_memory(&object, &key, &slots).unwrap();
    assert!(
        out == data,
        "size {size} k {k} m {m} lost {lost:?}: output differs"
    );
    for &i in lost {
        assert_eq!(report.fragments[i], FragmentStatus::Missing);
    }
    let used = report
        .fragments
        .iter()
        .filter(|s| **s == FragmentStatus::Used)
        .count();
    assert_eq!(used, k);
    // The manifest survives a JSON round trip and re-derives the same object.
    let again = Manifest::from_json(object.manifest().to_json().as_bytes()).unwrap();
    assert_eq!(again, object);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any k of the k + m fragments decode to the input, for sizes that are
    /// multiples of nothing in particular and that straddle stripe edges.
    #[test]
    fn any_k_of_n_fragments_decode(
        k in 2usize..7,
        m in 1usize..6,
        size in 1usize..200_000,
        seed in any::<u64>(),
        lost_seed in any::<u64>(),
    ) {
        let n = k + m;
        // Pick m distinct fragments to lose.
        let mut order: Vec<usize> = (0..n).collect();
        let mut s = lost_seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        // Shard sizes of one to three groups, so stripes and groups meet in
        // every arrangement.
        let shard = 16384 * (1 + (seed % 3) as u32);
        round_trip(size, k, m, shard, &order[..m], seed);
    }
}

#[test]
fn stripe_edges() {
    let k = 3;
    let per_stripe = k * (16384 - 16);
    for size in [
        1,
        15,
        16,
        1007,
        1008,
        1009,
        per_stripe - 1,
        per_stripe,
        per_stripe + 1,
        2 * per_stripe,
    ] {
        round_trip(size, k, 2, 16384, &[], 1);
        round_trip(size, k, 2, 16384, &[0, 2], 2);
        round_trip(size, k, 2, 16384, &[3, 4], 3);
    }
}

#[test]
fn wide_codes_and_default_shard_sizes() {
    round_trip(300_000, 32, 64, 16384, &(0..64).collect::<Vec<_>>(), 4);
    let params = Params::new(10, 4).unwrap();
    round_trip(1_000_000, 10, 4, params.shard_size(), &[1, 3, 5, 7], 5);
    round_trip(5_000_000, 10, 4, params.shard_size(), &[10, 11, 12, 13], 6);
}

#[test]
fn too_many_losses_name_every_fragment() {
    let params = Params::with_shard_size(3, 2, 16384).unwrap();
    let data = object_bytes(50_000, 7);
    let key = ObjectKey::from_bytes([1; 32]);
    let (object, files) = encode_to_memory(&data, params, &key);
    let mut slots: Vec<Option<Vec<u8>>> = files.into_iter().map(Some).collect();
    slots[0] = None;
    slots[4] = None;
    slots[2].as_mut().unwrap().truncate(1000);
    let err = decode_from_memory(&object, &key, &slots)
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 are needed, 2 are good"), "{err}");
    assert!(err.contains("fragment 0 missing"), "{err}");
    assert!(err.contains("fragment 2 corrupt"), "{err}");
    assert!(err.contains("fragment 4 missing"), "{err}");
}

#[test]
fn every_chunk_of_a_fragment_file_proves() {
    let params = Params::with_shard_size(2, 1, 32768).unwrap();
    let data = object_bytes(150_000, 8);
    let key = ObjectKey::from_bytes([2; 32]);
    let (object, files) = encode_to_memory(&data, params, &key);
    let n_chunks = object.layout.chunks();
    assert_eq!(object.layout.fragment_size, n_chunks * CHUNK_SIZE as u64);
    for (i, f) in files.iter().enumerate() {
        check_fragment(&object, i, f).unwrap();
        for index in 0..n_chunks {
            let (footer, proof) = file::prove(f, index).unwrap();
            assert_eq!(footer.fragment_root, object.fragment_roots[i]);
            assert!(sherd_fragments::verify(
                &object.fragment_roots[i],
                n_chunks,
                index,
                &proof
            ));
            assert_eq!(
                proof.to_bytes().len(),
                sherd_fragments::proof_len(n_chunks, index).unwrap()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Coding a stripe again from the plaintext gives the first encoding's
    /// bytes and group hashes, for every stripe including a short last one;
    /// a changed plaintext byte changes the hashes of its stripe.
    #[test]
    fn restriped_stripes_are_the_encoding(
        k in 2usize..6,
        m in 1usize..4,
        size in 1usize..150_000,
        seed in any::<u64>(),
    ) {
        let shard = 16384 * (1 + (seed % 2) as u32);
        let params = Params::with_shard_size(k, m, shard).unwrap();
        let data = object_bytes(size, seed);
        let key = ObjectKey::from_bytes([seed as u8 ^ 0x5a; 32]);
        let (object, files) = encode_to_memory(&data, params, &key);
        let layout = object.layout;
        let groups = layout.fragment_size.div_ceil(sherd_fragments::GROUP_SIZE as u64) as usize;
        let leaves: Vec<&[u8]> = files
            .iter()
            .map(|f| &f[layout.fragment_size as usize..][..groups * 32])
            .collect();
        let restriper = Restriper::new(layout, &key, &data[..]);
        let (mut shards, mut hashes) = (Vec::new(), Vec::new());
        for s in 0..layout.stripes {
            restriper.stripe(s, &mut shards, &mut hashes).unwrap();
            let len = layout.shard_size(s);
            let at = layout.shard_offset(s) as usize;
            let per_shard = len.div_ceil(sherd_fragments::GROUP_SIZE);
            let first = at / sherd_fragments::GROUP_SIZE;
            let (mut one, mut one_hashes) = (Vec::new(), Vec::new());
            for i in 0..k {
                restriper.data_shard(s, i, &mut one, &mut one_hashes).unwrap();
                prop_assert_eq!(&one[..], &shards[i * len..(i + 1) * len]);
                prop_assert_eq!(&one_hashes[..], &hashes[i * per_shard..(i + 1) * per_shard]);
            }
            for (i, file) in files.iter().enumerate() {
                prop_assert_eq!(&shards[i * len..(i + 1) * len], &file[at..at + len]);
                for g in 0..per_shard {
                    prop_assert_eq!(
                        &hashes[i * per_shard + g][..],
                        &leaves[i][(first + g) * 32..(first + g + 1) * 32]
                    );
                }
            }
        }
        // Any k shards of each stripe decode back to the plaintext.
        let mut unstriper = Unstriper::new(layout, &key);
        let mut out = Vec::new();
        for s in 0..layout.stripes {
            restriper.stripe(s, &mut shards, &mut hashes).unwrap();
            let mut present = vec![true; k + m];
            for lost in 0..m {
                let i = (s as usize + lost * 7 + seed as usize) % (k + m);
                present[i] = false;
            }
            while present.iter().filter(|&&p| p).count() < k {
                let i = present.iter().position(|&p| !p).unwrap();
                present[i] = true;
            }
            let len = layout.shard_size(s);
            for (i, p) in present.iter().enumerate() {
                if !p {
                    shards[i * len..(i + 1) * len].fill(0xee);
                }
            }
            unstriper.stripe(s, &mut shards, &present, &mut out).unwrap();
        }
        prop_assert!(out == data, "unstriped plaintext differs");
        let flip = (seed as usize) % size;
        let mut edited = data.clone();
        edited[flip] ^= 1;
        let changed = Restriper::new(layout, &key, &edited[..]);
        let stripe = (flip as u64) / (layout.stripe_plaintext(0));
        let mut again = Vec::new();
        changed.stripe(stripe, &mut shards, &mut again).unwrap();
        restriper.stripe(stripe, &mut shards, &mut hashes).unwrap();
        prop_assert_ne!(&again, &hashes);
        prop_assert!(restriper.stripe(layout.stripes, &mut shards, &mut hashes).is_err());
    }
}

/// Rebuilds fragment `lost` from the fragments `from` (each read shard by
/// shard, as a repairer receives them), answering the rebuilt file.
fn rebuild(
    object: &sherd_fragments::Object,
    files: &[Vec<u8>],
    lost: usize,
    from: &[usize],
) -> Result<Vec<u8>, sherd_fragments::RebuildError> {
    let layout = object.layout;
    let n = layout.params.total();
    let mut rebuilder = sherd_fragments::Rebuilder::new(layout, lost, object.root);
    let mut out = Vec::new();
    for stripe in 0..layout.stripes {
        let shard = layout.shard_size(stripe);
        let offset = layout.shard_offset(stripe) as usize;
        let mut shards = vec![0u8; n * shard];
        let mut present = vec![false; n];
        for &i in from {
            shards[i * shard..(i + 1) * shard].copy_from_slice(&files[i][offset..offset + shard]);
            present[i] = true;
        }
        rebuilder.stripe(stripe, &mut shards, &present, &mut out)?;
    }
    rebuilder.finish(&object.fragment_roots[lost], &mut out)?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Any fragment, data or parity, rebuilt from any k others without
    /// the key, is the original fragment file byte for byte.
    #[test]
    fn any_fragment_is_rebuilt_from_any_k_others(
        k in 2usize..6,
        m in 1usize..4,
        size in 1usize..150_000,
        seed in any::<u64>(),
        pick in any::<u64>(),
    ) {
        let n = k + m;
        let params = Params::with_shard_size(k, m, 16 * 1024).unwrap();
        let data = object_bytes(size, seed);
        let key = ObjectKey::from_bytes([seed as u8; 32]);
        let (object, files) = encode_to_memory(&data, params, &key);
        let lost = (pick % n as u64) as usize;
        let mut others: Vec<usize> = (0..n).filter(|&i| i != lost).collect();
        let turn = (pick >> 8) as usize % others.len();
        others.rotate_left(turn);
        let from = &others[..k];
        let rebuilt = rebuild(&object, &files, lost, from).unwrap();
        prop_assert!(rebuilt == files[lost], "fragment {lost} from {from:?} differs");
        prop_assert!(check_fragment(&object, lost, &rebuilt[..]).is_ok());
    }
}

#[test]
fn a_rebuild_from_a_wrong_shard_is_refused_by_its_root() {
    let params = Params::with_shard_size(3, 2, 16 * 1024).unwrap();
    let data = object_bytes(100_000, 5);
    let key = ObjectKey::from_bytes([5; 32]);
    let (object, mut files) = encode_to_memory(&data, params, &key);
    assert!(rebuild(&object, &files, 4, &[0, 1, 3]).is_ok());
    files[1][CHUNK_SIZE * 3] ^= 1;
    assert!(matches!(
        rebuild(&object, &files, 4, &[0, 1, 3]),
        Err(sherd_fragments::RebuildError::Root { .. })
    ));
    // Fewer than k shards cannot rebuild anything.
    assert!(rebuild(&object, &files, 4, &[0, 3]).is_err());
}
