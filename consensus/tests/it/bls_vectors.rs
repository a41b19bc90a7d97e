//! The ciphersuite's golden vectors (`tests/vectors/bls12-381/`), every file
//! of every folder, each asserted byte-for-byte. `hash_to_G2` runs as a unit
//! test of `bls::backend`, which owns the raw curve points.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sherd_consensus::bls::{
    aggregate_verify, batch_verify, fast_aggregate_verify, AggregateSignature, BlsError, PublicKey,
    SecretKey, Signature,
};

fn vector_dir(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/bls12-381")
        .join(folder)
}

/// Every case of one folder, as `(file name, input, output)`, sorted by name.
fn cases(folder: &str) -> Vec<(String, Value, Value)> {
    let mut paths: Vec<_> = std::fs::read_dir(vector_dir(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let mut case: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, case["input"].take(), case["output"].take())
        })
        .collect()
}

fn bytes(value: &Value) -> Vec<u8> {
    let text = value.as_str().unwrap();
    hex::decode(text.strip_prefix("0x").unwrap()).unwrap()
}

fn hex_out(bytes: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(bytes)))
}

fn public_keys(value: &Value) -> Result<Vec<PublicKey>, BlsError> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|key| PublicKey::from_bytes(&bytes(key)))
        .collect()
}

fn messages(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().unwrap().iter().map(bytes).collect()
}

#[test]
fn sign() {
    let cases = cases("sign");
    assert_eq!(cases.len(), 10);
    for (name, input, output) in cases {
        let found = SecretKey::from_bytes(&bytes(&input["privkey"]))
            .map(|sk| hex_out(&sk.sign(&bytes(&input["message"])).to_bytes()))
            .unwrap_or(Value::Null);
        assert_eq!(found, output, "{name}");
    }
}

#[test]
fn verify() {
    let cases = cases("verify");
    assert_eq!(cases.len(), 29);
    for (name, input, output) in cases {
        let found = PublicKey::from_bytes(&bytes(&input["pubkey"]))
            .and_then(|pk| {
                let sig = Signature::from_bytes(&bytes(&input["signature"]))?;
                pk.verify(&bytes(&input["message"]), &sig)
            })
            .is_ok();
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

#[test]
fn aggregate() {
    let cases = cases("aggregate");
    assert_eq!(cases.len(), 6);
    for (name, input, output) in cases {
        let signatures: Result<Vec<_>, _> = input
            .as_array()
            .unwrap()
            .iter()
            .map(|sig| Signature::from_bytes(&bytes(sig)))
            .collect();
        let found = signatures
            .and_then(|sigs| AggregateSignature::aggregate(&sigs))
            .map(|agg| hex_out(&agg.to_bytes()))
            .unwrap_or(Value::Null);
        assert_eq!(found, output, "{name}");
    }
}

#[test]
fn fast_aggregate_verify_vectors() {
    let cases = cases("fast_aggregate_verify");
    assert_eq!(cases.len(), 12);
    for (name, input, output) in cases {
        let found = public_keys(&input["pubkeys"])
            .and_then(|pks| {
                let sig = Signature::from_bytes(&bytes(&input["signature"]))?;
                fast_aggregate_verify(&pks, &bytes(&input["message"]), &sig)
            })
            .is_ok();
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

#[test]
fn aggregate_verify_vectors() {
    let cases = cases("aggregate_verify");
    assert_eq!(cases.len(), 5);
    for (name, input, output) in cases {
        let msgs = messages(&input["messages"]);
        let msg_refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let found = public_keys(&input["pubkeys"])
            .and_then(|pks| {
                let sig = Signature::from_bytes(&bytes(&input["signature"]))?;
                aggregate_verify(&pks, &msg_refs, &sig)
            })
            .is_ok();
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

#[test]
fn batch_verify_vectors() {
    let cases = cases("batch_verify");
    assert_eq!(cases.len(), 4);
    for (name, input, output) in cases {
        let msgs = messages(&input["messages"]);
        let msg_refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let found = public_keys(&input["pubkeys"])
            .and_then(|pks| {
                let sigs: Vec<_> = input["signatures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|sig| Signature::from_bytes(&bytes(sig)))
                    .collect::<Result<_, _>>()?;
                batch_verify(&pks, &msg_refs, &sigs)
            })
            .is_ok();
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

/// `deserialization_G1` asks whether the bytes decode to a subgroup point.
/// The identity does, but `PublicKey::from_bytes` also runs KeyValidate, so
/// for it the expected `true` shows up as `IdentityPublicKey`.
#[test]
fn deserialization_g1() {
    let cases = cases("deserialization_G1");
    assert_eq!(cases.len(), 16);
    for (name, input, output) in cases {
        let found = match PublicKey::from_bytes(&bytes(&input["pubkey"])) {
            Ok(_) => true,
            Err(BlsError::IdentityPublicKey) => {
                assert_eq!(
                    name,
                    "deserialization_succeeds_infinity_with_true_b_flag.json"
                );
                true
            }
            Err(BlsError::PublicKeyEncoding(_)) => false,
            Err(other) => panic!("{name}: unexpected error {other}"),
        };
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

#[test]
fn deserialization_g2() {
    let cases = cases("deserialization_G2");
    assert_eq!(cases.len(), 18);
    for (name, input, output) in cases {
        let found = match Signature::from_bytes(&bytes(&input["signature"])) {
            Ok(sig) => {
                assert_eq!(
                    hex_out(&sig.to_bytes()),
                    input["signature"],
                    "{name}: re-encoding"
                );
                true
            }
            Err(BlsError::SignatureEncoding(_)) => false,
            Err(other) => panic!("{name}: unexpected error {other}"),
        };
        assert_eq!(Value::Bool(found), output, "{name}");
    }
}

/// Pins which `PointError` each malformed encoding gets, so error messages
/// stay precise.
#[test]
fn deserialization_errors_are_specific() {
    use sherd_consensus::bls::PointError;
    let expected_g1 = [
        (
            "deserialization_fails_infinity_with_false_b_flag.json",
            PointError::NotInSubgroup,
        ),
        (
            "deserialization_fails_infinity_with_true_b_flag.json",
            PointError::NonCanonicalInfinity { first_byte: 0xc0 },
        ),
        (
            "deserialization_fails_not_in_G1.json",
            PointError::NotInSubgroup,
        ),
        (
            "deserialization_fails_not_in_curve.json",
            PointError::NotOnCurve,
        ),
        (
            "deserialization_fails_too_few_bytes.json",
            PointError::Length {
                expected: 48,
                found: 47,
            },
        ),
        (
            "deserialization_fails_too_many_bytes.json",
            PointError::Length {
                expected: 48,
                found: 49,
            },
        ),
        (
            "deserialization_fails_with_b_flag_and_a_flag_true.json",
            PointError::NonCanonicalInfinity { first_byte: 0xe0 },
        ),
        (
            "deserialization_fails_with_b_flag_and_x_nonzero.json",
            PointError::NonCanonicalInfinity { first_byte: 0xc1 },
        ),
        (
            "deserialization_fails_with_mask_bits_001.json",
            PointError::NotCompressed { first_byte: 0x24 },
        ),
        (
            "deserialization_fails_with_mask_bits_011.json",
            PointError::NotCompressed { first_byte: 0x64 },
        ),
        (
            "deserialization_fails_with_mask_bits_111.json",
            PointError::NonCanonicalInfinity { first_byte: 0xe4 },
        ),
        (
            "deserialization_fails_with_wrong_c_flag.json",
            PointError::NotCompressed { first_byte: 0x01 },
        ),
        (
            "deserialization_fails_x_equal_to_modulus.json",
            PointError::CoordinateNotInField { offset: 0 },
        ),
        (
            "deserialization_fails_x_greater_than_modulus.json",
            PointError::CoordinateNotInField { offset: 0 },
        ),
    ];
    for (name, input, _) in cases("deserialization_G1") {
        let Some((_, error)) = expected_g1.iter().find(|(file, _)| *file == name) else {
            continue;
        };
        assert_eq!(
            PublicKey::from_bytes(&bytes(&input["pubkey"])),
            Err(BlsError::PublicKeyEncoding(*error)),
            "{name}"
        );
    }
}
