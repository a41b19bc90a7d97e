//! fragments/README.md, implemented again from its text alone (BLAKE3, ring
//! and reed-solomon-simd only, none of the crate's helpers), and checked
//! against what the crate produces. If the README and the code disagree,
//! this fails.

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, HasherExt, Mode};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sherd_fragments::{file, ObjectKey, Params};

use crate::{encode_to_memory, object_bytes};

const GROUP_CONTEXT: &str = "sherd 2026-11-23 fragment chunk group v1";
const OBJECT_CONTEXT: &str = "sherd 2026-11-23 object root v1";

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let key = *blake3::hash(b"sherd 2026-11-23 merkle node v1").as_bytes();
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(l);
    input[32..].copy_from_slice(r);
    *blake3::keyed_hash(&key, &input).as_bytes()
}

fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    node(&p[0], &p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    level[0]
}

fn group_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::Hasher::new_derive_key(GROUP_CONTEXT)
        .update(bytes)
        .finalize()
        .as_bytes()
}

/// §6, step by step.
fn verify_from_readme(r: &[u8; 32], n_chunks: u64, j: u64, proof: &[u8]) -> bool {
    if n_chunks == 0 || j >= n_chunks || proof.len() < 1024 || (proof.len() - 1024) % 32 != 0 {
        return false;
    }
    let (chunk, rest) = proof.split_at(1024);
    let siblings: Vec<[u8; 32]> = rest.chunks(32).map(|c| c.try_into().unwrap()).collect();
    let (g, pos) = (j / 16, j % 16);
    let gc = (n_chunks - 16 * g).min(16);
    // In-group splits, top-down: is the chunk on the left?
    let mut sides = Vec::new();
    let (mut lo, mut hi) = (0u64, gc);
    while hi - lo > 1 {
        let split = lo + (1u64 << (63 - (hi - lo - 1).leading_zeros()));
        if pos < split {
            sides.push(true);
            hi = split;
        } else {
            sides.push(false);
            lo = split;
        }
    }
    // Tree levels with a sibling, bottom-up: is our node on the left?
    let mut tree_sides = Vec::new();
    let (mut idx, mut size) = (g, n_chunks.div_ceil(16));
    while size > 1 {
        if !(idx % 2 == 0 && idx == size - 1) {
            tree_sides.push(idx % 2 == 0);
        }
        idx /= 2;
        size = size.div_ceil(2);
    }
    if siblings.len() != sides.len() + tree_sides.len() {
        return false;
    }
    let key = blake3::hazmat::hash_derive_key_context(GROUP_CONTEXT);
    let mode = Mode::DeriveKeyMaterial(&key);
    let mut x = if gc == 1 {
        group_hash(chunk)
    } else {
        let mut h = blake3::Hasher::new_derive_key(GROUP_CONTEXT);
        h.set_input_offset(pos * 1024);
        let mut cv = h.update(chunk).finalize_non_root();
        let depth = sides.len();
        for (level, s) in siblings[..depth].iter().enumerate() {
            let left = sides[depth - 1 - level];
            let (a, b) = if left { (&cv, s) } else { (s, &cv) };
            cv = if level + 1 == depth {
                *merge_subtrees_root(a, b, mode).as_bytes()
            } else {
                merge_subtrees_non_root(a, b, mode)
            };
        }
        cv
    };
    for (left, s) in tree_sides.iter().zip(&siblings[sides.len()..]) {
        x = if *left { node(&x, s) } else { node(s, &x) };
    }
    x == *r
}

#[test]
fn the_readme_specifies_what_the_code_does() {
    let (k, m, s) = (3usize, 2usize, 32768u32);
    let size = 150_001u64;
    let data = object_bytes(size as usize, 21);
    let key_bytes = [0x5a; 32];
    let params = Params::with_shard_size(k, m, s).unwrap();
    let (object, files) = encode_to_memory(&data, params, &ObjectKey::from_bytes(key_bytes));

    // §1 geometry.
    let per_stripe = k as u64 * (s as u64 - 16);
    let stripes = size.div_ceil(per_stripe);
    let rest = size - (stripes - 1) * per_stripe;
    let last = (rest.div_ceil(k as u64) + 16).next_multiple_of(1024);
    let fragment_size = (stripes - 1) * s as u64 + last;
    assert_eq!(object.layout.fragment_size, fragment_size);
    let n_chunks = fragment_size / 1024;

    // §4 fragment roots, §7 file layout.
    let mut roots = Vec::new();
    for f in &files {
        let leaves: Vec<[u8; 32]> = f[..fragment_size as usize]
            .chunks(16384)
            .map(group_hash)
            .collect();
        let r = root(&leaves);
        let footer = &f[f.len() - 128..];
        assert_eq!(&footer[..8], b"SHERDFRG");
        assert_eq!(&footer[40..72], &r);
        assert_eq!(&footer[72..104], &object.root);
        assert_eq!(
            &footer[112..],
            &blake3::hash(&footer[..112]).as_bytes()[..16]
        );
        assert_eq!(
            &f[fragment_size as usize..fragment_size as usize + 32],
            &leaves[0]
        );
        roots.push(r);
    }
    assert_eq!(roots, object.fragment_roots);

    // §4 object root.
    let mut pre = Vec::new();
    pre.extend([1u8, 1u8]);
    pre.extend((k as u16).to_le_bytes());
    pre.extend((m as u16).to_le_bytes());
    pre.extend(1024u16.to_le_bytes());
    pre.extend(16384u32.to_le_bytes());
    pre.extend(s.to_le_bytes());
    pre.extend(size.to_le_bytes());
    pre.extend(fragment_size.to_le_bytes());
    assert_eq!(pre.len(), 32);
    pre.extend(root(&roots));
    assert_eq!(
        *blake3::Hasher::new_derive_key(OBJECT_CONTEXT)
            .update(&pre)
            .finalize()
            .as_bytes(),
        object.root
    );

    // §5 challenge.
    let (b, c) = ([9u8; 32], [8u8; 32]);
    let mut input = b"sherd/challenge".to_vec();
    input.extend(b);
    input.extend(c);
    input.extend(4u32.to_le_bytes());
    input.extend(77u64.to_le_bytes());
    let h = blake3::hash(&input);
    let expected = u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap()) % n_chunks;
    assert_eq!(
        sherd_fragments::challenge_index(&b, &c, 4, 77, n_chunks),
        Some(expected)
    );

    // §6 proofs: every chunk of two fragments, and a tampered one.
    for (i, f) in files.iter().enumerate().skip(3) {
        for j in 0..n_chunks {
            let (_, proof) = file::prove(f, j).unwrap();
            let bytes = proof.to_bytes();
            assert!(
                verify_from_readme(&roots[i], n_chunks, j, &bytes),
                "fragment {i} chunk {j}"
            );
            let mut bad = bytes.clone();
            bad[bytes.len() - 1] ^= 1;
            assert!(!verify_from_readme(&roots[i], n_chunks, j, &bad));
        }
    }

    // §2 encryption: decrypt the data fragments by hand.
    let aes = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes).unwrap());
    let mut plain = Vec::new();
    let total_segments = (stripes - 1) * k as u64 + rest.div_ceil(last - 16);
    for stripe in 0..stripes {
        let shard = if stripe + 1 == stripes {
            last
        } else {
            s as u64
        };
        let capacity = shard - 16;
        let in_stripe = if stripe + 1 == stripes {
            rest
        } else {
            per_stripe
        };
        for j in 0..in_stripe.div_ceil(capacity) {
            let len = capacity.min(in_stripe - j * capacity) as usize;
            let n = stripe * k as u64 + j;
            let at = (stripe * s as u64) as usize;
            let mut seg = files[j as usize][at..at + len + 16].to_vec();
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&n.to_le_bytes());
            nonce[8..].copy_from_slice(&u32::from(n + 1 == total_segments).to_le_bytes());
            let opened = aes
                .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut seg)
                .unwrap();
            plain.extend_from_slice(opened);
        }
    }
    assert!(plain == data, "hand decryption differs");
}
