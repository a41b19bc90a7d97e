//! `sherd fragments …` round trips and bad input, through the real binary.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use tempfile::TempDir;

fn sherd(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sherd runs")
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = sherd(args, dir);
    assert!(
        out.status.success(),
        "sherd {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str], dir: &Path) -> String {
    let out = sherd(args, dir);
    assert!(
        !out.status.success(),
        "sherd {args:?} succeeded but should not have"
    );
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

fn input(dir: &Path, size: usize) -> PathBuf {
    let mut state = 0x1234_5678_9abc_def1u64;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let path = dir.join("input.bin");
    fs::write(&path, data).unwrap();
    path
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-") || n.contains(".tmp-"))
        .collect()
}

#[test]
fn round_trip_survives_any_m_missing_or_corrupt_fragments() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    input(dir, 2_500_000);
    let root = ok(
        &[
            "fragments",
            "encode",
            "input.bin",
            "--data",
            "5",
            "--parity",
            "3",
            "--out",
            "obj",
        ],
        dir,
    );
    assert_eq!(root.trim().len(), 64, "prints the object root: {root}");
    assert!(dir.join("obj.key").exists() && !dir.join("obj/obj.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("obj.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("obj/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["object_root"], root.trim());
    assert!(
        manifest.get("key").is_none(),
        "the key is not in the manifest"
    );

    // Lose one data fragment, corrupt a second (data) and truncate a third (parity).
    fs::remove_file(dir.join("obj/fragment-0001.sherd")).unwrap();
    let path = dir.join("obj/fragment-0003.sherd");
    let mut bytes = fs::read(&path).unwrap();
    bytes[300_000] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let path = dir.join("obj/fragment-0006.sherd");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();

    let inspect = sherd(&["fragments", "inspect", "obj", "--json"], dir);
    assert!(inspect.status.success());
    let report: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(report["good"], 5);
    assert_eq!(report["fragments"][1]["status"], "missing");
    assert_eq!(report["fragments"][3]["status"], "corrupt");
    assert_eq!(report["fragments"][6]["status"], "corrupt");
    let why = report["fragments"][6]["reason"].as_str().unwrap();
    assert!(why.contains("truncated or extended"), "{why}");

    let out = ok(
        &[
            "fragments",
            "decode",
            "obj",
            "--out",
            "output.bin",
            "--json",
        ],
        dir,
    );
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["fragments"][1]["status"], "missing");
    assert_eq!(summary["fragments"][3]["status"], "corrupt");
    assert_eq!(
        fs::read(dir.join("output.bin")).unwrap(),
        fs::read(dir.join("input.bin")).unwrap()
    );

    // One more loss is one too many: a clear error, no output file.
    fs::remove_file(dir.join("obj/fragment-0000.sherd")).unwrap();
    let err = fails(&["fragments", "decode", "obj", "--out", "again.bin"], dir);
    assert!(err.contains("5 are needed, 4 are good"), "{err}");
    assert!(!dir.join("again.bin").exists());
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
    let inspect = sherd(&["fragments", "inspect", "obj"], dir);
    assert_eq!(inspect.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("decodable: NO"));
}

#[test]
fn proofs_verify_and_tampered_ones_do_not() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    input(dir, 700_000);
    ok(
        &[
            "fragments",
            "encode",
            "input.bin",
            "-k",
            "3",
            "-m",
            "2",
            "--out",
            "obj",
        ],
        dir,
    );
    ok(
        &[
            "fragments",
            "prove",
            "obj",
            "--fragment",
            "4",
            "--chunk",
            "17",
            "--out",
            "p.json",
        ],
        dir,
    );
    let verdict = ok(&["fragments", "verify", "p.json", "--manifest", "obj"], dir);
    assert!(
        verdict.starts_with("valid: chunk 17 of fragment 4"),
        "{verdict}"
    );

    let proof: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("p.json")).unwrap()).unwrap();
    let tamper = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut bad = proof.clone();
        edit(&mut bad);
        fs::write(dir.join(name), bad.to_string()).unwrap();
        let out = sherd(&["fragments", "verify", name, "--manifest", "obj"], dir);
        assert_eq!(out.status.code(), Some(1), "{name} verified");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let flip = |hex_str: &str| {
        let mut b = hex::decode(hex_str).unwrap();
        b[0] ^= 1;
        hex::encode(b)
    };
    let why = tamper("chunk.json", &|p| {
        p["chunk"] = flip(p["chunk"].as_str().unwrap()).into()
    });
    assert!(why.contains("invalid: the proof leads to root"), "{why}");
    tamper("sibling.json", &|p| {
        p["siblings"][2] = flip(p["siblings"][2].as_str().unwrap()).into()
    });
    let why = tamper("index.json", &|p| p["chunk_index"] = 18.into());
    assert!(why.starts_with("invalid"), "{why}");
    let why = tamper("count.json", &|p| {
        p["siblings"].as_array_mut().unwrap().pop();
    });
    assert!(why.contains("sibling hashes"), "{why}");
    let why = tamper("other-fragment.json", &|p| p["fragment_index"] = 3.into());
    assert!(why.contains("another fragment"), "{why}");
    let why = tamper("not-hex.json", &|p| p["fragment_root"] = "xyz".into());
    assert!(why.contains("fragment_root"), "{why}");
    fs::write(dir.join("garbage.json"), "{ not json").unwrap();
    let out = sherd(&["fragments", "verify", "garbage.json"], dir);
    assert_eq!(out.status.code(), Some(1));
    // A proof that cannot be read could not be checked: exit 2, not 1.
    let out = sherd(&["fragments", "verify", "missing.json"], dir);
    assert_eq!(out.status.code(), Some(2));

    // The challenged chunk and the trusted root are checked when given.
    let out = sherd(&["fragments", "verify", "p.json", "--chunk", "18"], dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the challenge named chunk 18"));
    let root = proof["fragment_root"].as_str().unwrap().to_string();
    ok(
        &[
            "fragments",
            "verify",
            "p.json",
            "--root",
            &root,
            "--chunk",
            "17",
        ],
        dir,
    );
    let other_root = "ab".repeat(32);
    let out = sherd(
        &["fragments", "verify", "p.json", "--root", &other_root],
        dir,
    );
    assert_eq!(out.status.code(), Some(1));

    // A proof of another object relabelled with this object's root is refused
    // against the manifest; on its own it is only self-consistent, and verify
    // says so.
    ok(
        &[
            "fragments",
            "encode",
            "input.bin",
            "-k",
            "2",
            "-m",
            "2",
            "--out",
            "other",
        ],
        dir,
    );
    ok(
        &[
            "fragments",
            "prove",
            "other",
            "--fragment",
            "1",
            "--chunk",
            "3",
            "--out",
            "q.json",
        ],
        dir,
    );
    let mut forged: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("q.json")).unwrap()).unwrap();
    forged["object_root"] = proof["object_root"].clone();
    fs::write(dir.join("forged.json"), forged.to_string()).unwrap();
    let out = sherd(
        &["fragments", "verify", "forged.json", "--manifest", "obj"],
        dir,
    );
    assert_eq!(out.status.code(), Some(1));
    let out = sherd(&["fragments", "verify", "forged.json"], dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("checked against the root the proof file carries"));

    // prove --out does not overwrite without --force.
    let err = fails(
        &[
            "fragments",
            "prove",
            "obj",
            "--fragment",
            "4",
            "--chunk",
            "1",
            "--out",
            "p.json",
        ],
        dir,
    );
    assert!(err.contains("already exists"), "{err}");
    ok(
        &[
            "fragments",
            "prove",
            "obj",
            "--fragment",
            "4",
            "--chunk",
            "1",
            "--out",
            "p.json",
            "--force",
        ],
        dir,
    );

    // Challenged chunks out of range or fragments that do not exist are named.
    let err = fails(
        &[
            "fragments",
            "prove",
            "obj",
            "--fragment",
            "5",
            "--chunk",
            "0",
        ],
        dir,
    );
    assert!(err.contains("fragment 5 does not exist"), "{err}");
    let err = fails(
        &[
            "fragments",
            "prove",
            "obj",
            "--fragment",
            "0",
            "--chunk",
            "100000",
        ],
        dir,
    );
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_half_written() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    input(dir, 100_000);
    fs::write(dir.join("empty.bin"), b"").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "fragments",
                "encode",
                "input.bin",
                "-k",
                "0",
                "-m",
                "2",
                "--out",
                "o",
            ],
            "at least 2",
        ),
        (
            &[
                "fragments",
                "encode",
                "input.bin",
                "-k",
                "4",
                "-m",
                "0",
                "--out",
                "o",
            ],
            "parity",
        ),
        (
            &[
                "fragments",
                "encode",
                "input.bin",
                "-k",
                "1000",
                "-m",
                "100",
                "--out",
                "o",
            ],
            "exceeds the maximum",
        ),
        (
            &[
                "fragments",
                "encode",
                "input.bin",
                "-k",
                "4",
                "-m",
                "2",
                "--shard-size",
                "1000",
                "--out",
                "o",
            ],
            "multiple of 16384",
        ),
        (
            &[
                "fragments",
                "encode",
                "empty.bin",
                "-k",
                "4",
                "-m",
                "2",
                "--out",
                "o",
            ],
            "empty",
        ),
        (
            &[
                "fragments",
                "encode",
                "nothing.bin",
                "-k",
                "4",
                "-m",
                "2",
                "--out",
                "o",
            ],
            "cannot open",
        ),
        (
            &["fragments", "decode", "nowhere", "--out", "x"],
            "cannot read the manifest",
        ),
    ];
    #[rustfmt::skip]
    let more: &[(&[&str], &str)] = &[
        (&["fragments", "encode", "input.bin", "-k", "1", "-m", "2", "--out", "o"], "identical copy"),
        (&["fragments", "encode", "input.bin", "-k", "4", "-m", "2", "--shard-size", "5GiB", "--out", "o"], "too large"),
        (&["fragments", "encode", "input.bin", "-k", "10", "-m", "10", "--shard-size", "4MiB", "--out", "o"], "smaller shard size"),
        (&["fragments", "encode", "input.bin", "-k", "4", "-m", "2", "--out", "."], "must name a new directory"),
        (&["fragments", "encode", "input.bin", "-k", "4", "-m", "2", "--out", "o", "--key-out", "o/k.json"], "must not be inside"),
        (&["fragments", "encode", "input.bin", "-k", "4", "-m", "2", "--out", "o", "--key-out", "nodir/k.json"], "is not a directory"),
    ];
    for (args, expected) in cases.iter().chain(more) {
        let err = fails(args, dir);
        assert!(err.contains(expected), "sherd {args:?}: {err}");
        assert!(
            !dir.join("o").exists() && !dir.join("o.key").exists(),
            "sherd {args:?} left output"
        );
    }

    ok(
        &[
            "fragments",
            "encode",
            "input.bin",
            "-k",
            "2",
            "-m",
            "1",
            "--out",
            "obj",
        ],
        dir,
    );
    let err = fails(
        &[
            "fragments",
            "encode",
            "input.bin",
            "-k",
            "2",
            "-m",
            "1",
            "--out",
            "obj",
        ],
        dir,
    );
    assert!(err.contains("already exists"), "{err}");

    // A truncated manifest and an edited one are refused with the reason.
    let manifest = fs::read_to_string(dir.join("obj/manifest.json")).unwrap();
    fs::write(
        dir.join("obj/manifest.json"),
        &manifest[..manifest.len() / 2],
    )
    .unwrap();
    let err = fails(&["fragments", "decode", "obj", "--out", "out.bin"], dir);
    assert!(err.contains("not a usable manifest"), "{err}");
    fs::write(
        dir.join("obj/manifest.json"),
        manifest.replace("\"size\": 100000", "\"size\": 99999"),
    )
    .unwrap();
    let err = fails(&["fragments", "decode", "obj", "--out", "out.bin"], dir);
    assert!(
        err.contains("was altered") || err.contains("expected"),
        "{err}"
    );
    fs::write(dir.join("obj/manifest.json"), &manifest).unwrap();

    // A key of another object is named as such; a missing key says where it looked.
    ok(
        &[
            "fragments",
            "encode",
            "input.bin",
            "-k",
            "2",
            "-m",
            "1",
            "--out",
            "other",
        ],
        dir,
    );
    let err = fails(
        &[
            "fragments",
            "decode",
            "obj",
            "--key",
            "other.key",
            "--out",
            "out.bin",
        ],
        dir,
    );
    assert!(err.contains("the key is for object"), "{err}");
    fs::rename(dir.join("obj.key"), dir.join("moved.key")).unwrap();
    let err = fails(&["fragments", "decode", "obj", "--out", "out.bin"], dir);
    assert!(err.contains("cannot read the key file"), "{err}");
    assert!(!dir.join("out.bin").exists());

    // An output path taken by a directory is refused and left alone.
    fs::create_dir(dir.join("busy.bin")).unwrap();
    let err = fails(
        &[
            "fragments",
            "decode",
            "obj",
            "--key",
            "moved.key",
            "--out",
            "busy.bin",
        ],
        dir,
    );
    assert!(err.contains("already exists"), "{err}");
    assert!(dir.join("busy.bin").is_dir());

    // An existing output is kept unless --force.
    fs::write(dir.join("out.bin"), b"keep me").unwrap();
    let err = fails(
        &[
            "fragments",
            "decode",
            "obj",
            "--key",
            "moved.key",
            "--out",
            "out.bin",
        ],
        dir,
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(dir.join("out.bin")).unwrap(), b"keep me");
    ok(
        &[
            "fragments",
            "decode",
            "obj",
            "--key",
            "moved.key",
            "--out",
            "out.bin",
            "--force",
        ],
        dir,
    );
    assert_eq!(
        fs::read(dir.join("out.bin")).unwrap(),
        fs::read(dir.join("input.bin")).unwrap()
    );
    assert!(leftovers(dir).is_empty());
}

#[test]
fn challenge_matches_the_library() {
    let tmp = TempDir::new().unwrap();
    let beacon = "01".repeat(32);
    let contract = "02".repeat(32);
    let out = ok(
        &[
            "fragments",
            "challenge",
            "--beacon",
            &beacon,
            "--contract",
            &contract,
            "--fragment",
            "0",
            "--period",
            "0",
            "--chunks",
            "1024",
        ],
        tmp.path(),
    );
    let expected = sherd_fragments::challenge_index(&[1; 32], &[2; 32], 0, 0, 1024).unwrap();
    assert_eq!(out.trim(), expected.to_string());
}
