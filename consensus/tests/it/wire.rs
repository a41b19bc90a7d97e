//! The wire codec: golden vectors for one message of every kind, and
//! property tests (round trip, canonicity, truncation, random bytes).
//!
//! The vectors pin the format of `sherd_consensus::codec`. If they change,
//! the wire format changed: bump `WIRE_VERSION` and regenerate with
//! `SHERD_UPDATE_VECTORS=1 cargo test -p sherd-consensus --test it wire::`.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use sherd_consensus::bls::{PublicKey, SecretKey, Signature};
use sherd_consensus::codec::{certified_vote, CodecError, Wire, WIRE_VERSION};
use sherd_consensus::engine::{beacon_message, placeholder_signature, Entry};
use sherd_consensus::{
    BlockId, Certificate, ChainId, Evidence, Message, Proposal, SignedVote, SignerBitmap, Vote,
};

fn chain() -> ChainId {
    ChainId::new("sherd-golden").unwrap()
}

fn keys() -> &'static [SecretKey] {
    static KEYS: OnceLock<Vec<SecretKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (1u8..=4)
            .map(|i| SecretKey::key_gen(&[i; 32], b"").unwrap())
            .collect()
    })
}

/// A certificate signed by validators 0, 1 and 3 of 4 (a real aggregate).
fn certificate(epoch: u64, vote: Vote) -> Certificate {
    let message = vote.signing_message(&chain(), epoch);
    let mut signers = SignerBitmap::new(4);
    let mut signatures = Vec::new();
    for i in [0u32, 1, 3] {
        signers.insert(i).unwrap();
        signatures.push(keys()[i as usize].sign(&message));
    }
    Certificate {
        epoch,
        vote,
        signers,
        signature: sherd_consensus::bls::AggregateSignature::aggregate(&signatures).unwrap(),
    }
}

fn golden_messages() -> Vec<(&'static str, Message)> {
    let (epoch, view) = (2u64, 17u64);
    let proposer = 1u32;
    let proposal = Proposal {
        epoch,
        view,
        height: 12,
        parent_view: 15,
        parent: BlockId([0x11; 32]),
        payload: [0x22; 32],
        proposer,
        reveal: keys()[proposer as usize].sign(&beacon_message(&chain(), epoch, view)),
    };
    let block_id = proposal.id();
    let sign = |signer: u32, vote: Vote| {
        SignedVote::sign(&chain(), epoch, signer, vote, &keys()[signer as usize])
    };
    let notarize = Vote::Notarize { view, block_id };
    let nullify = Vote::Nullify { view: view + 1 };
    let finalize = Vote::Finalize { view, block_id };
    vec![
        (
            "proposal",
            Message::Proposal {
                proposal,
                notarize: sign(proposer, notarize),
            },
        ),
        ("vote_notarize", Message::Vote(sign(2, notarize))),
        ("vote_nullify", Message::Vote(sign(3, nullify))),
        ("vote_finalize", Message::Vote(sign(0, finalize))),
        (
            "notarization",
            Message::Notarization {
                proposal,
                certificate: certificate(epoch, notarize),
            },
        ),
        (
            "nullification",
            Message::Nullification(certificate(epoch, nullify)),
        ),
        (
            "finalization",
            Message::Finalization {
                proposal,
                certificate: certificate(epoch, finalize),
            },
        ),
        ("header", Message::Header(proposal)),
        ("fetch", Message::Fetch { view: 0x0102_0304 }),
    ]
}

fn golden_evidence() -> Evidence {
    let key = &keys()[2];
    let vote = |block: u8| {
        SignedVote::sign(
            &chain(),
            2,
            2,
            Vote::Notarize {
                view: 30,
                block_id: BlockId([block; 32]),
            },
            key,
        )
    };
    Evidence {
        public_key: key.public_key(),
        first: vote(0xaa),
        second: vote(0xbb),
    }
}

/// One journal entry of each shape: an own vote, a certificate with its
/// header, a certificate without one.
fn golden_entries() -> Vec<(&'static str, Entry)> {
    let messages = golden_messages();
    let find = |name: &str| {
        messages
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let Message::Vote(vote) = find("vote_notarize") else {
        unreachable!()
    };
    let Message::Finalization {
        proposal,
        certificate,
    } = find("finalization")
    else {
        unreachable!()
    };
    let Message::Nullification(nullification) = find("nullification") else {
        unreachable!()
    };
    vec![
        ("vote", Entry::Vote(vote)),
        (
            "finalization",
            Entry::Certificate {
                certificate,
                header: Some(Box::new(proposal)),
            },
        ),
        (
            "nullification",
            Entry::Certificate {
                certificate: nullification,
                header: None,
            },
        ),
    ]
}

fn vectors() -> Value {
    let messages: Vec<Value> = golden_messages()
        .iter()
        .map(|(name, message)| json!({ "name": name, "hex": hex::encode(message.encode()) }))
        .collect();
    let evidence = golden_evidence();
    let journal: Vec<Value> = golden_entries()
        .iter()
        .map(|(name, entry)| json!({ "name": name, "hex": hex::encode(entry.encode()) }))
        .collect();
    json!({
        "format": format!("sherd consensus wire v{WIRE_VERSION}, see consensus/src/codec.rs"),
        "chain_id": chain().as_str(),
        "secret_keys": "SecretKey::key_gen([i; 32], \"\") for i in 1..=4",
        "messages": messages,
        "evidence": hex::encode(evidence.encode()),
        "evidence_verifies": evidence.verify(&chain()).is_ok(),
        "journal_entries": journal,
    })
}

#[test]
fn golden_vectors_match() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/consensus-wire.json");
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
    assert_eq!(
        stored, computed,
        "the wire format changed: bump WIRE_VERSION and regenerate (module docs)"
    );
    assert_eq!(stored["evidence_verifies"], json!(true));

    // The stored bytes decode to exactly the values, kind by kind.
    let stored_messages = stored["messages"].as_array().unwrap();
    let golden = golden_messages();
    assert_eq!(stored_messages.len(), golden.len());
    for (entry, (name, message)) in stored_messages.iter().zip(&golden) {
        assert_eq!(entry["name"], json!(name));
        let bytes = hex::decode(entry["hex"].as_str().unwrap()).unwrap();
        assert_eq!(&Message::decode(&bytes).unwrap(), message, "{name}");
    }
    let bytes = hex::decode(stored["evidence"].as_str().unwrap()).unwrap();
    assert_eq!(Evidence::decode(&bytes).unwrap(), golden_evidence());
    let stored_entries = stored["journal_entries"].as_array().unwrap();
    let golden = golden_entries();
    assert_eq!(stored_entries.len(), golden.len());
    for (stored, (name, entry)) in stored_entries.iter().zip(&golden) {
        assert_eq!(stored["name"], json!(name));
        let bytes = hex::decode(stored["hex"].as_str().unwrap()).unwrap();
        assert_eq!(&Entry::decode(&bytes).unwrap(), entry, "journal {name}");
    }
}

/// The lengths in the module docs.
#[test]
fn golden_lengths() {
    let lengths: Vec<(&str, usize)> = golden_messages()
        .iter()
        .map(|(name, m)| (*name, m.encode().len()))
        .collect();
    let cert_notarize = 8 + 41 + 4 + 1 + 96;
    let cert_nullify = 8 + 9 + 4 + 1 + 96;
    assert_eq!(
        lengths,
        [
            ("proposal", 2 + 196 + 245),
            ("vote_notarize", 2 + 245),
            ("vote_nullify", 2 + 213),
            ("vote_finalize", 2 + 245),
            ("notarization", 2 + 196 + cert_notarize),
            ("nullification", 2 + cert_nullify),
            ("finalization", 2 + 196 + cert_notarize),
            ("header", 2 + 196),
            ("fetch", 2 + 8),
        ]
    );
    assert_eq!(golden_evidence().encode().len(), 2 + 48 + 245 + 245);
    let entries: Vec<(&str, usize)> = golden_entries()
        .iter()
        .map(|(name, e)| (*name, e.encode().len()))
        .collect();
    assert_eq!(
        entries,
        [
            ("vote", 2 + 1 + 245),
            ("finalization", 2 + 1 + cert_notarize + 1 + 196),
            ("nullification", 2 + 1 + cert_nullify + 1),
        ]
    );
}

// ---- property tests ------------------------------------------------------

/// A few real signatures and the identity: decoding checks every point, so
/// random bytes would not do, and signing per case would be slow.
fn signatures() -> &'static [Signature] {
    static SIGNATURES: OnceLock<Vec<Signature>> = OnceLock::new();
    SIGNATURES.get_or_init(|| {
        let mut out: Vec<Signature> = keys()
            .iter()
            .zip(0u8..)
            .map(|(key, i)| key.sign(&[i; 5]))
            .collect();
        out.push(placeholder_signature());
        out
    })
}

fn public_keys() -> Vec<PublicKey> {
    keys().iter().map(SecretKey::public_key).collect()
}

fn signature() -> impl Strategy<Value = Signature> {
    (0..signatures().len()).prop_map(|i| signatures()[i])
}

fn block_id() -> impl Strategy<Value = BlockId> {
    prop_oneof![Just(BlockId([0; 32])), any::<[u8; 32]>().prop_map(BlockId)]
}

fn vote() -> impl Strategy<Value = Vote> {
    prop_oneof![
        (any::<u64>(), block_id()).prop_map(|(view, block_id)| Vote::Notarize { view, block_id }),
        any::<u64>().prop_map(|view| Vote::Nullify { view }),
        (any::<u64>(), block_id()).prop_map(|(view, block_id)| Vote::Finalize { view, block_id }),
    ]
}

fn signed_vote() -> impl Strategy<Value = SignedVote> {
    (any::<u64>(), any::<u32>(), vote(), signature()).prop_map(
        |(epoch, signer, vote, signature)| SignedVote {
            epoch,
            signer,
            vote,
            signature: signature.into(),
        },
    )
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        block_id(),
        any::<[u8; 32]>(),
        any::<u32>(),
        signature(),
    )
        .prop_map(
            |((epoch, view, height, parent_view), parent, payload, proposer, reveal)| Proposal {
                epoch,
                view,
                height,
                parent_view,
                parent,
                payload,
                proposer,
                reveal,
            },
        )
}

fn bitmap() -> impl Strategy<Value = SignerBitmap> {
    prop_oneof![8 => 0usize..=20, 8 => 0usize..=300, 1 => Just(65_536)].prop_flat_map(|len| {
        proptest::collection::vec(any::<u32>(), 0..40).prop_map(move |signers| {
            let mut bitmap = SignerBitmap::new(len);
            if len > 0 {
                for s in signers {
                    bitmap.insert(s % len as u32).unwrap();
                }
            }
            bitmap
        })
    })
}

fn certificate_strategy() -> impl Strategy<Value = Certificate> {
    (any::<u64>(), vote(), bitmap(), signature()).prop_map(|(epoch, vote, signers, signature)| {
        Certificate {
            epoch,
            vote,
            signers,
            signature,
        }
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (proposal(), signed_vote())
            .prop_map(|(proposal, notarize)| Message::Proposal { proposal, notarize }),
        signed_vote().prop_map(Message::Vote),
        (proposal(), certificate_strategy()).prop_map(|(proposal, certificate)| {
            Message::Notarization {
                proposal,
                certificate,
            }
        }),
        certificate_strategy().prop_map(Message::Nullification),
        (proposal(), certificate_strategy()).prop_map(|(proposal, certificate)| {
            Message::Finalization {
                proposal,
                certificate,
            }
        }),
        proposal().prop_map(Message::Header),
        any::<u64>().prop_map(|view| Message::Fetch { view }),
    ]
}

fn evidence() -> impl Strategy<Value = Evidence> {
    (0..4usize, signed_vote(), signed_vote()).prop_map(|(key, first, second)| Evidence {
        public_key: public_keys()[key],
        first,
        second,
    })
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        signed_vote().prop_map(Entry::Vote),
        (certificate_strategy(), proptest::option::of(proposal())).prop_map(
            |(certificate, header)| Entry::Certificate {
                certificate,
                header: header.map(Box::new),
            }
        ),
    ]
}

/// Decodes, and if that succeeds, checks canonicity: the bytes re-encode to
/// themselves.
fn decode_canonical(bytes: &[u8]) -> Result<Message, CodecError> {
    let decoded = Message::decode(bytes)?;
    assert_eq!(decoded.encode(), bytes, "non-canonical encoding accepted");
    Ok(decoded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip(message in message()) {
        let bytes = message.encode();
        prop_assert_eq!(Message::decode(&bytes), Ok(message));
    }

    /// The certificate a message carries is read from its bytes alone,
    /// the same as its full decode gives; any other message gives none.
    #[test]
    fn certified_vote_matches_the_full_decode(message in message()) {
        let bytes = message.encode();
        let expected = match &message {
            Message::Notarization { certificate, .. }
            | Message::Finalization { certificate, .. }
            | Message::Nullification(certificate) => {
                Some((certificate.epoch, certificate.vote))
            }
            _ => None,
        };
        prop_assert_eq!(certified_vote(&bytes), expected);
        // Truncated where it looks: no answer, no panic.
        for len in 0..bytes.len().min(260) {
            let peeked = certified_vote(&bytes[..len]);
            prop_assert!(peeked.is_none() || peeked == expected);
        }
    }

    #[test]
    fn stored_values_round_trip(
        evidence in evidence(),
        proposal in proposal(),
        vote in signed_vote(),
        certificate in certificate_strategy(),
    ) {
        prop_assert_eq!(Evidence::decode(&evidence.encode()), Ok(evidence));
        prop_assert_eq!(Proposal::decode(&proposal.encode()), Ok(proposal));
        prop_assert_eq!(SignedVote::decode(&vote.encode()), Ok(vote));
        prop_assert_eq!(Certificate::decode(&certificate.encode()), Ok(certificate));
    }

    /// Journal entries: round trip, every strict prefix is a truncation,
    /// trailing bytes are rejected.
    #[test]
    fn journal_entries_round_trip(entry in entry(), extra in proptest::collection::vec(any::<u8>(), 1..4)) {
        let bytes = entry.encode();
        prop_assert_eq!(Entry::decode(&bytes), Ok(entry));
        for end in 0..bytes.len() {
            let result = Entry::decode(&bytes[..end]);
            prop_assert!(
                matches!(result, Err(CodecError::Truncated { .. })),
                "entry prefix of {} bytes: {:?}", end, result
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert_eq!(
            Entry::decode(&longer),
            Err(CodecError::TrailingBytes { value: "Entry", count: extra.len() })
        );
    }

    /// Mutated journal entries never panic; whatever decodes is canonical.
    #[test]
    fn mutated_journal_entries_never_panic(
        entry in entry(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = entry.encode();
        for (index, byte) in edits {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(decoded) = Entry::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    /// Every strict prefix fails, and as a truncation (the structure pass
    /// runs before any point is decoded, so this is cheap).
    #[test]
    fn every_strict_prefix_fails(message in message(), evidence in evidence()) {
        let bytes = message.encode();
        for end in 0..bytes.len() {
            let result = Message::decode(&bytes[..end]);
            prop_assert!(
                matches!(result, Err(CodecError::Truncated { .. })),
                "prefix of {} bytes: {:?}", end, result
            );
        }
        let bytes = evidence.encode();
        for end in 0..bytes.len() {
            let result = Evidence::decode(&bytes[..end]);
            prop_assert!(
                matches!(result, Err(CodecError::Truncated { .. })),
                "evidence prefix of {} bytes: {:?}", end, result
            );
        }
    }

    /// Extra bytes are rejected.
    #[test]
    fn trailing_bytes_fail(message in message(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = message.encode();
        bytes.extend_from_slice(&extra);
        prop_assert_eq!(
            Message::decode(&bytes),
            Err(CodecError::TrailingBytes { value: "Message", count: extra.len() })
        );
    }

    /// Random bytes never panic; whatever decodes is canonical.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_canonical(&bytes);
        let _ = Evidence::decode(&bytes);
        let _ = Entry::decode(&bytes);
        let mut enveloped = vec![WIRE_VERSION];
        enveloped.extend_from_slice(&bytes);
        let _ = decode_canonical(&enveloped);
    }

    /// Valid encodings with a few bytes overwritten never panic, and if they
    /// still decode, the result is canonical.
    #[test]
    fn mutated_encodings_never_panic(
        message in message(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = message.encode();
        for (index, byte) in edits {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode_canonical(&bytes);
    }
}
