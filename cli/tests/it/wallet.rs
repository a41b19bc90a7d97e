//! `sherd wallet …` offline commands and their errors, through the real binary.
//! (No node exists in these tests: commands that need one are checked to
//! fail with the URL they tried.)

use std::{
    fs,
    net::TcpListener,
    path::Path,
    process::{Command, Output, Stdio},
};

use serde_json::Value;
use tempfile::TempDir;

/// Runs `sherd wallet ARGS --wallet-dir DIR/wallets` in `dir`, with no
/// password or node taken from the environment and no terminal.
fn wallet(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sherd"));
    cmd.arg("wallet")
        .args(args)
        .arg("--wallet-dir")
        .arg(dir.join("wallets"))
        .current_dir(dir)
        .env_remove("SHERD_PASSWORD")
        .env_remove("SHERD_NODE")
        .env_remove("SHERD_HOME")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("sherd runs")
}

fn ok(args: &[&str], dir: &Path) -> String {
    let out = wallet(args, dir, &[]);
    assert!(
        out.status.success(),
        "sherd wallet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str], dir: &Path) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(&args, dir)).expect("--json prints JSON")
}

fn fails(args: &[&str], dir: &Path) -> String {
    let out = wallet(args, dir, &[]);
    assert!(
        !out.status.success(),
        "sherd wallet {args:?} succeeded but should not have"
    );
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

fn setup() -> TempDir {
    let tmp = TempDir::new().unwrap();
    fs::write(tmp.path().join("pw"), "correct horse battery\n").unwrap();
    fs::write(tmp.path().join("bad-pw"), "incorrect horse\n").unwrap();
    tmp
}

/// A URL on which nothing listens.
fn dead_node() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn new_list_address_export_and_import_agree() {
    let tmp = setup();
    let dir = tmp.path();
    let created = json(&["new", "alice", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap().to_owned();
    assert!(address.starts_with("sherd1"), "{created}");
    let words = created["mnemonic"].as_str().unwrap().to_owned();
    assert_eq!(words.split(' ').count(), 24);
    assert_eq!(created["derivation_path"], "m/44'/7787'/0'/0'/0'");
    assert!(created["warning"]
        .as_str()
        .unwrap()
        .contains("Write these words down"));

    let keystore = fs::read_to_string(dir.join("wallets/alice.json")).unwrap();
    assert!(!keystore.contains(&words), "no plaintext words on disk");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join("wallets/alice.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    assert_eq!(ok(&["address", "alice"], dir).trim(), address);
    let list = json(&["list"], dir);
    assert_eq!(list["wallets"][0]["name"], "alice");
    assert_eq!(list["wallets"][0]["address"], address.as_str());

    let exported = json(&["export", "alice", "--password-file", "pw"], dir);
    assert_eq!(exported["mnemonic"], words.as_str());

    // The same words restore the same address; another account gives another.
    fs::write(dir.join("words"), format!("  {}\n", words.to_uppercase())).unwrap();
    let restored = json(
        &[
            "import",
            "restored",
            "--mnemonic-file",
            "words",
            "--password-file",
            "pw",
        ],
        dir,
    );
    assert_eq!(restored["address"], address.as_str());
    let other = json(
        &[
            "import",
            "acct1",
            "--mnemonic-file",
            "words",
            "--password-file",
            "pw",
            "--account",
            "1",
        ],
        dir,
    );
    assert_ne!(other["address"], address.as_str());
    assert_eq!(other["derivation_path"], "m/44'/7787'/1'/0'/0'");

    let text = ok(&["list"], dir);
    assert!(
        text.contains("acct1") && text.contains("alice") && text.contains("restored"),
        "{text}"
    );
}

#[test]
fn a_wallet_is_never_overwritten() {
    let tmp = setup();
    let dir = tmp.path();
    ok(&["new", "alice", "--password-file", "pw"], dir);
    let before = fs::read(dir.join("wallets/alice.json")).unwrap();
    let err = fails(&["new", "alice", "--password-file", "pw"], dir);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(dir.join("wallets/alice.json")).unwrap(), before);
    let leftovers: Vec<_> = fs::read_dir(dir.join("wallets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn wrong_password_is_named_and_the_environment_password_works() {
    let tmp = setup();
    let dir = tmp.path();
    ok(&["new", "alice", "--password-file", "pw"], dir);
    let err = fails(&["export", "alice", "--password-file", "bad-pw"], dir);
    assert!(err.contains("wrong password for wallet `alice`"), "{err}");

    let out = wallet(
        &["export", "alice", "--json"],
        dir,
        &[("SHERD_PASSWORD", "correct horse battery")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_wallet_lists_the_known_ones() {
    let tmp = setup();
    let dir = tmp.path();
    let err = fails(&["address", "nobody"], dir);
    assert!(err.contains("no wallet named `nobody`"), "{err}");
    assert!(err.contains("sherd wallet new"), "{err}");
    ok(&["new", "alice", "--password-file", "pw"], dir);
    ok(&["new", "bob", "--password-file", "pw"], dir);
    let err = fails(&["balance", "carol"], dir);
    assert!(err.contains("known wallets: alice, bob"), "{err}");
    let err = fails(&["address", "../x"], dir);
    assert!(err.contains("is not a wallet name"), "{err}");
}

#[test]
fn bad_addresses_and_mnemonics_are_explained() {
    let tmp = setup();
    let dir = tmp.path();
    let created = json(&["new", "alice", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap();
    // Change one data character: the checksum no longer matches.
    let mut typo: Vec<char> = address.chars().collect();
    typo[10] = if typo[10] == 'q' { 'p' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    let err = fails(
        &[
            "send",
            "--from",
            "alice",
            "--to",
            &typo,
            "--amount",
            "1",
            "--node",
            &dead_node(),
        ],
        dir,
    );
    assert!(err.contains("checksum"), "{err}");
    let err = fails(&["balance", &typo, "--node", &dead_node()], dir);
    assert!(err.contains("checksum"), "{err}");
    let err = fails(
        &[
            "send",
            "--from",
            "alice",
            "--to",
            address,
            "--amount",
            "1.0000000001",
        ],
        dir,
    );
    assert!(err.contains("decimals"), "{err}");

    let words = created["mnemonic"].as_str().unwrap();
    let last = words.rsplit(' ').next().unwrap();
    let replacement = if last == "zoo" { "abandon" } else { "zoo" };
    let broken = format!("{} {replacement}", &words[..words.len() - last.len() - 1]);
    fs::write(dir.join("broken"), broken).unwrap();
    let err = fails(
        &[
            "import",
            "x",
            "--mnemonic-file",
            "broken",
            "--password-file",
            "pw",
        ],
        dir,
    );
    assert!(err.contains("checksum"), "{err}");
    assert!(!dir.join("wallets/x.json").exists());
}

#[test]
fn an_unreachable_node_is_reported_with_the_url_tried() {
    let tmp = setup();
    let dir = tmp.path();
    let node = dead_node();
    let created = json(&["new", "alice", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap();
    for args in [
        vec!["balance", "alice"],
        vec!["balance", address],
        vec!["history", "alice"],
        vec!["faucet", "alice"],
        // Fails before asking for a password (stdin is not a terminal here).
        vec!["send", "--from", "alice", "--to", address, "--amount", "1"],
        vec!["withdraw", "--from", "alice"],
    ] {
        let mut args = args.clone();
        args.extend(["--node", node.as_str()]);
        let err = fails(&args, dir);
        assert!(
            err.contains(&format!("cannot reach the node at {node}/v1/")),
            "{args:?}: {err}"
        );
    }
    let out = wallet(&["balance", "alice"], dir, &[("SHERD_NODE", node.as_str())]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&node));
}

/// A stand-in for the node's API (node/README.md): answers `count`
/// requests, one per connection, with `route(method, path, body)`.
fn mock_node(
    count: usize,
    route: impl Fn(&str, &str, &str) -> (u16, String) + Send + 'static,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..count {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            reader.read_line(&mut head).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut parts = head.split_whitespace();
            let (method, path) = (parts.next().unwrap(), parts.next().unwrap());
            let (status, answer) = route(method, path, &String::from_utf8_lossy(&body));
            seen.push(format!("{method} {path}"));
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
        }
        seen
    });
    (url, handle)
}

fn status_json() -> String {
    r#"{"chain_id":"sherd-dev","height":10,"finalized_height":10,"latest_block_id":"00","state_root":"00","epoch":0,"view":10,"mempool_size":0,"dev":true,"faucet":true,"version":"0.1.0"}"#.into()
}

fn account_json(address: &str, balance_base: u64, nonce: u64) -> String {
    let balance = sherd_ledger::Amount(balance_base);
    format!(
        r#"{{"address":"{address}","balance":"{balance}","balance_base":{balance_base},"nonce":{nonce},"staked":"0","staked_base":0,"unbonding":[]}}"#
    )
}

#[test]
fn insufficient_funds_are_caught_before_submitting() {
    let tmp = setup();
    let dir = tmp.path();
    let created = json(&["new", "alice", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap().to_owned();
    let to = address.clone();
    let (node, server) = mock_node(2, move |_, path, _| {
        if path == "/v1/status" {
            (200, status_json())
        } else {
            (200, account_json(&address, 3_200_000_000, 0))
        }
    });
    let err = fails(
        &[
            "send", "--from", "alice", "--to", &to, "--amount", "12.5", "--node", &node,
        ],
        dir,
    );
    assert!(err.contains("insufficient funds"), "{err}");
    assert!(err.contains("has 3.2"), "{err}");
    assert!(err.contains("needs 12.50001"), "{err}");
    assert!(err.contains("sherd wallet faucet alice"), "{err}");
    assert_eq!(
        server.join().unwrap(),
        vec![
            "GET /v1/status".to_string(),
            format!("GET /v1/accounts/{to}")
        ]
    );
}

#[test]
fn send_signs_for_the_nodes_chain_and_nonce_and_waits_for_finality() {
    use sherd_ledger::{Transaction, TxKind};
    let tmp = setup();
    let dir = tmp.path();
    let created = json(&["new", "alice", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap().to_owned();
    let sender = address.clone();
    let (node, server) = mock_node(4, move |method, path, body| match (method, path) {
        ("GET", "/v1/status") => (200, status_json()),
        ("GET", p) if p.starts_with("/v1/accounts/") => {
            (200, account_json(&sender, 100_000_000_000, 7))
        }
        ("POST", "/v1/txs") => {
            let body: Value = serde_json::from_str(body).unwrap();
            let bytes = hex::decode(body["tx"].as_str().unwrap()).unwrap();
            let tx = Transaction::from_bytes(&bytes).unwrap();
            assert_eq!(tx.body.chain_id.as_str(), "sherd-dev");
            assert_eq!(tx.body.nonce, 7);
            assert!(matches!(tx.body.kind, TxKind::Transfer(_)));
            let verified = sherd_ledger::verify(tx).expect("a valid signature");
            (202, format!(r#"{{"hash":"{}"}}"#, verified.id()))
        }
        ("GET", p) => {
            let hash = p.trim_start_matches("/v1/txs/");
            (
                200,
                format!(
                    r#"{{"hash":"{hash}","status":"finalized","height":11,"index":0,"sender":"{sender}","nonce":7,"fee":"0.00001","fee_base":10000,"kind":"transfer","outcome":"success","reason":null}}"#
                ),
            )
        }
        _ => (404, r#"{"error":"no","code":"not_found"}"#.into()),
    });
    let out = json(
        &[
            "send",
            "--from",
            "alice",
            "--to",
            &address,
            "--amount",
            "12.5",
            "--node",
            &node,
            "--password-file",
            "pw",
        ],
        dir,
    );
    assert_eq!(out["status"], "finalized");
    assert_eq!(out["height"], 11);
    assert_eq!(out["outcome"], "success");
    assert_eq!(out["kind"], "transfer");
    assert_eq!(out["nonce"], 7);
    let seen = server.join().unwrap();
    assert_eq!(seen[2], "POST /v1/txs");
    assert_eq!(
        seen[3],
        format!("GET /v1/txs/{}", out["hash"].as_str().unwrap())
    );
}

#[test]
fn stake_creates_a_validator_key_and_uses_it() {
    use sherd_ledger::{Transaction, TxKind};
    let tmp = setup();
    let dir = tmp.path();
    let created = json(&["new", "val", "--password-file", "pw"], dir);
    let address = created["address"].as_str().unwrap().to_owned();
    let (sent, staked) = std::sync::mpsc::channel();
    let (node, server) = mock_node(3, move |method, path, body| match (method, path) {
        ("GET", "/v1/status") => (200, status_json()),
        ("GET", _) => (200, account_json(&address, 5_000_000_000, 0)),
        _ => {
            let body: Value = serde_json::from_str(body).unwrap();
            let bytes = hex::decode(body["tx"].as_str().unwrap()).unwrap();
            let tx = Transaction::from_bytes(&bytes).unwrap();
            let TxKind::Stake(stake) = &tx.body.kind else {
                panic!("not a stake: {:?}", tx.body.kind)
            };
            sent.send((hex::encode(stake.bls_pubkey), stake.commission_bps))
                .unwrap();
            (202, format!(r#"{{"hash":"{}"}}"#, tx.id().unwrap()))
        }
    });
    let out = json(
        &[
            "stake",
            "--from",
            "val",
            "--amount",
            "2",
            "--commission-bps",
            "250",
            "--no-wait",
            "--node",
            &node,
            "--password-file",
            "pw",
        ],
        dir,
    );
    assert_eq!(out["status"], "pending");
    assert_eq!(out["kind"], "stake");
    server.join().unwrap();
    let key_file = dir.join("wallets/val.bls.json");
    let key: Value = serde_json::from_str(&fs::read_to_string(&key_file).unwrap()).unwrap();
    let (pubkey, commission) = staked.recv().unwrap();
    assert_eq!(key["public_key"].as_str().unwrap(), pubkey);
    assert_eq!(commission, 250);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The key file is not mistaken for a wallet.
    assert_eq!(json(&["list"], dir)["wallets"].as_array().unwrap().len(), 1);
}
