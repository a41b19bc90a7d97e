use sherd_fragments::{
    check_fragment, file, manifest::Manifest, DecodeError, FragmentStatus, KeyFile, ObjectKey,
    Params,
};

use crate::{decode_from_memory, encode_to_memory, object_bytes};

fn small_object() -> (Vec<u8>, ObjectKey, sherd_fragments::Object, Vec<Vec<u8>>) {
    let data = object_bytes(40_000, 11);
    let key = ObjectKey::from_bytes([3; 32]);
    let params = Params::with_shard_size(2, 1, 16384).unwrap();
    let (object, files) = encode_to_memory(&data, params, &key);
    (data, key, object, files)
}

/// Flip bytes of every fragment file in turn (every tree and footer byte,
/// and data and parity bytes at a stride that visits every chunk and both
/// ends of each group): the decode returns the exact input, with the flipped
/// fragment reported corrupt or unused. Never wrong output.
#[test]
fn a_flip_anywhere_in_one_fragment_is_survived_or_refused() {
    let (data, key, object, files) = small_object();
    let fragment_size = object.layout.fragment_size as usize;
    for target in 0..files.len() {
        let positions = (0..fragment_size)
            .filter(|p| p % 97 == 0 || p % 16384 == 0 || p % 16384 == 16383)
            .chain(fragment_size..files[target].len());
        for pos in positions {
            let mut slots: Vec<Option<Vec<u8>>> = files.iter().cloned().map(Some).collect();
            slots[target].as_mut().unwrap()[pos] ^= 0x01;
            let (out, report) = decode_from_memory(&object, &key, &slots)
                .unwrap_or_else(|e| panic!("fragment {target} byte {pos}: {e}"));
            assert!(out == data, "fragment {target} byte {pos}: wrong output");
            let status = &report.fragments[target];
            let in_leaves = pos >= fragment_size
                && pos < fragment_size + 32 * object.layout.chunks().div_ceil(16) as usize;
            if pos < fragment_size && *status == FragmentStatus::Used {
                panic!("fragment {target} byte {pos}: a damaged data byte was used");
            }
            if in_leaves || pos >= files[target].len() - file::FOOTER_LEN {
                assert!(
                    matches!(status, FragmentStatus::Corrupt(_)),
                    "{target}/{pos}: {status}"
                );
            }
            // check_fragment sees every damaged byte, including upper tree levels.
            assert!(
                check_fragment(&object, target, &slots[target].clone().unwrap()).is_err(),
                "{target}/{pos}"
            );
        }
    }
}

#[test]
fn flips_in_more_than_m_fragments_are_refused() {
    let (_, key, object, files) = small_object();
    let mut slots: Vec<Option<Vec<u8>>> = files.into_iter().map(Some).collect();
    slots[0].as_mut().unwrap()[100] ^= 0x40;
    // Same stripe: only one good shard is left for it. (Damage in different
    // stripes of different fragments is recoverable, and is recovered.)
    slots[2].as_mut().unwrap()[200] ^= 0x40;
    match decode_from_memory(&object, &key, &slots) {
        Err(DecodeError::NotEnough {
            needed: 2,
            statuses,
            ..
        }) => {
            assert!(
                matches!(statuses[0], FragmentStatus::Corrupt(_)),
                "{statuses:?}"
            );
            assert!(
                matches!(statuses[2], FragmentStatus::Corrupt(_)),
                "{statuses:?}"
            );
        }
        Ok((_, report)) => panic!("expected NotEnough, decoded with {report:?}"),
        Err(other) => panic!("expected NotEnough, got {other}"),
    }
}

#[test]
fn wrong_key_is_an_error() {
    let (_, _, object, files) = small_object();
    let slots: Vec<Option<Vec<u8>>> = files.into_iter().map(Some).collect();
    let err = decode_from_memory(&object, &ObjectKey::from_bytes([4; 32]), &slots).unwrap_err();
    assert!(matches!(err, DecodeError::Decrypt(_)), "{err}");
    assert!(err.to_string().contains("key does not belong"), "{err}");
}

#[test]
fn fragments_of_another_object_or_index_are_refused() {
    let (_, key, object, files) = small_object();
    let other_key = ObjectKey::from_bytes([5; 32]);
    let (_, other_files) =
        encode_to_memory(&object_bytes(40_000, 12), object.layout.params, &other_key);
    let mut slots: Vec<Option<Vec<u8>>> = files.iter().cloned().map(Some).collect();
    slots[1] = Some(other_files[1].clone());
    let (_, report) = decode_from_memory(&object, &key, &slots).unwrap();
    assert_eq!(
        report.fragments[1],
        FragmentStatus::Corrupt("the footer is damaged or this is not a sherd fragment file (it belongs to another object)".into())
    );
    let mut swapped: Vec<Option<Vec<u8>>> = files.iter().cloned().map(Some).collect();
    swapped.swap(0, 1);
    let err = decode_from_memory(&object, &key, &swapped)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another fragment index"), "{err}");
}

/// Every field of the manifest is covered by the object root: changing any
/// of them is refused when the manifest is loaded.
#[test]
fn every_manifest_field_is_checked() {
    let (_, key, object, _) = small_object();
    let json = object.manifest().to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edits: Vec<(&str, serde_json::Value)> = vec![
        ("version", 2.into()),
        ("size", 40_001.into()),
        ("size", 39_999.into()),
        ("size", 0.into()),
        ("data_fragments", 3.into()),
        ("parity_fragments", 2.into()),
        ("parity_fragments", 0.into()),
        ("cipher", "chacha20-poly1305".into()),
        ("chunk_size", 4096.into()),
        ("group_size", 1024.into()),
        ("shard_size", 32768.into()),
        ("shard_size", 1000.into()),
        ("stripes", 3.into()),
        ("fragment_size", 1024.into()),
        ("chunks", 1.into()),
        ("object_root", "00".repeat(32).into()),
        ("object_root", "zz".into()),
    ];
    for (field, new) in edits {
        let mut edited = value.clone();
        edited[field] = new.clone();
        let err = Manifest::from_json(edited.to_string().as_bytes());
        assert!(err.is_err(), "{field} = {new} was accepted");
    }
    let mut edited = value.clone();
    edited["fragments"][1]["root"] = "11".repeat(32).into();
    assert!(Manifest::from_json(edited.to_string().as_bytes()).is_err());
    let mut edited = value.clone();
    edited["fragments"].as_array_mut().unwrap().pop();
    assert!(Manifest::from_json(edited.to_string().as_bytes()).is_err());
    let mut edited = value.clone();
    edited["extra"] = 1.into();
    assert!(Manifest::from_json(edited.to_string().as_bytes()).is_err());
    // Truncated JSON.
    assert!(Manifest::from_json(&json.as_bytes()[..json.len() / 2]).is_err());

    // The key file is tied to its object.
    let key_json = KeyFile::new(&object, &key).to_json();
    assert!(KeyFile::key_for(key_json.as_bytes(), &object).is_ok());
    let (_, _, other, _) = {
        let data = object_bytes(1000, 1);
        let k2 = ObjectKey::from_bytes([6; 32]);
        let (o, f) = encode_to_memory(&data, Params::new(2, 1).unwrap(), &k2);
        (data, k2, o, f)
    };
    let err = KeyFile::key_for(key_json.as_bytes(), &other)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the key is for object"), "{err}");
}

#[test]
fn bad_inputs_to_encode_are_named() {
    let key = ObjectKey::from_bytes([1; 32]);
    let params = Params::new(2, 1).unwrap();
    let mut outs = vec![Vec::new(); 3];
    let err = sherd_fragments::encode_with_key(&b""[..], 0, params, &key, &mut outs, &mut |_| {})
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the object is empty: there is nothing to store"
    );
    let err =
        sherd_fragments::encode_with_key(&b"abc"[..], 10, params, &key, &mut outs, &mut |_| {})
            .unwrap_err();
    assert!(err.to_string().contains("ended after 3 bytes"), "{err}");
    let err =
        sherd_fragments::encode_with_key(&b"abcdef"[..], 3, params, &key, &mut outs, &mut |_| {})
            .unwrap_err();
    assert!(
        err.to_string().contains("longer than the declared 3 bytes"),
        "{err}"
    );
    // A declared size far beyond the input is an error, not a huge allocation.
    let err = sherd_fragments::encode_with_key(
        &b"abc"[..],
        1 << 50,
        params,
        &key,
        &mut outs,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("ended after 3 bytes"), "{err}");
    let mut two = vec![Vec::new(); 2];
    let err = sherd_fragments::encode_with_key(&b"abc"[..], 3, params, &key, &mut two, &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string().contains("3 fragment outputs are needed"),
        "{err}"
    );
}

/// The encryption layer on its own: change ciphertext, then recommit
/// everything (group hashes, trees, footers, object root) as if the change
/// were legitimate. Every check above the cipher passes; decryption must not.
#[test]
fn recommitted_ciphertext_fails_to_authenticate() {
    use sherd_fragments::{
        commit::{group_hash, object_root, tree_levels},
        file::{write_trailer, Footer},
        Object, GROUP_SIZE,
    };
    let (_, key, object, files) = small_object();
    let size = object.layout.fragment_size as usize;
    for target in [10usize, 16_383, 16_384 + 5] {
        let mut files = files.clone();
        files[0][target] ^= 0x01;
        let levels: Vec<_> = files
            .iter()
            .map(|f| {
                tree_levels(
                    &f[..size]
                        .chunks(GROUP_SIZE)
                        .map(group_hash)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let roots: Vec<_> = levels.iter().map(|l| l.last().unwrap()[0]).collect();
        let forged = Object {
            layout: object.layout,
            fragment_roots: roots.clone(),
            root: object_root(&object.layout, &roots),
        };
        for (i, f) in files.iter_mut().enumerate() {
            f.truncate(size);
            let footer = Footer {
                index: i as u16,
                data: 2,
                parity: 1,
                shard_size: 16384,
                object_size: object.layout.size,
                fragment_size: object.layout.fragment_size,
                fragment_root: roots[i],
                object_root: forged.root,
            };
            write_trailer(f, &levels[i], &footer).unwrap();
        }
        let slots: Vec<Option<Vec<u8>>> = files.into_iter().map(Some).collect();
        match decode_from_memory(&forged, &key, &slots) {
            Err(DecodeError::Decrypt(_)) => {}
            Ok(_) => panic!("byte {target}: altered ciphertext decoded"),
            Err(other) => panic!("byte {target}: expected a decryption error, got {other}"),
        }
    }
}
