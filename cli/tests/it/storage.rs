//! The storage market with real processes on 127.0.0.1: validators and
//! providers from `sherd testnet init`, a client that is the `sherd`
//! binary in a fresh `HOME`.
//!
//! * A 64 MiB file put as 4+2 comes back byte-identical, and again with
//!   two providers killed (`kill -9`); providers never hold the plaintext;
//!   the killed providers restart with their fragments and prove again.
//! * A provider whose fragment file is deleted misses its proofs: it is
//!   slashed, the client refunded, the fragment lost after
//!   `max_missed_proofs`, while the others keep being paid.
//! * Sharing: alice shares an object with bob, who imports it into his own
//!   catalog and reads it back byte-identical; carol cannot import it; a
//!   malformed recipient is refused.
//! * A provider killed for good: its fragment is lost after its misses,
//!   and a repairer that is not the client (`sherd storage repair --watch`
//!   with another wallet) rebuilds it, places it with the spare provider
//!   and is paid the repair reward; the next loss is repaired by a node's
//!   own `[repair]` worker; the object is back at `k + m` and reads back
//!   with any `m` of the new set gone (both new providers).
//! * Bad input: too few providers, a wallet that cannot pay, an unknown
//!   object, the wrong wallet, an existing output; a provider that does not
//!   answer and one killed in the middle of an upload (their fragments go
//!   to spares, nothing half-written stays).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{free_ranges, homes, wait_until, Node};
use super::node::get;

/// A testnet of `validators` validators and `providers` providers, and a
/// client home.
pub(super) struct Net {
    _dir: tempfile::TempDir,
    pub(super) nodes: Vec<Node>,
    /// Provider addresses by node index.
    pub(super) providers: Vec<(usize, String)>,
    pub(super) client: PathBuf,
    pub(super) node_url: String,
    /// The testnet's faucet key (`sherd bench load --faucet-key`).
    pub(super) faucet_key: PathBuf,
}

impl Net {
    pub(super) fn start(
        validators: usize,
        providers: usize,
        proof_period: u64,
        proof_window: u64,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        let count = u16::try_from(validators + providers).unwrap();
        let (p2p, api) = free_ranges(count);
        let out = Command::new(env!("CARGO_BIN_EXE_sherd"))
            .args(["testnet", "init", "--epoch-length", "24", "--json", "--out"])
            .arg(&net)
            .args(["--validators", &validators.to_string()])
            .args(["--providers", &providers.to_string()])
            .args(["--proof-period", &proof_period.to_string()])
            .args(["--proof-window", &proof_window.to_string()])
            .args([
                "--p2p-port",
                &p2p.to_string(),
                "--api-port",
                &api.to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let providers: Vec<(usize, String)> = plan
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n["provider"].as_str()?.to_string())))
            .collect();
        let mut nodes = homes(&net, api, count);
        for node in &mut nodes {
            node.start();
        }
        let client = dir.path().join("client");
        std::fs::create_dir_all(&client).unwrap();
        let net = Self {
            node_url: format!("http://{}", nodes[0].api),
            faucet_key: net.join("faucet.key"),
            _dir: dir,
            nodes,
            providers,
            client,
        };
        let want = net.providers.len();
        wait_until(
            &net.nodes,
            "every provider registered and advertised",
            || {
                get(net.nodes[0].api, "/v1/providers").is_some_and(|v| {
                    v["providers"].as_array().is_some_and(|ps| {
                        ps.iter().filter(|p| !p["endpoint"].is_null()).count() == want
                    })
                })
            },
        );
        net
    }

    /// Runs `sherd ARGS` as the client (fresh HOME, the testnet's node).
    fn sherd(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sherd"))
            .args(args)
            .env("HOME", &self.client)
            .env_remove("SHERD_HOME")
            .env("SHERD_PASSWORD", "correct horse")
            .env("SHERD_NODE", &self.node_url)
            .output()
            .unwrap()
    }

    /// `sherd ARGS --json`, which must succeed.
    pub(super) fn ok(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.sherd(&all);
        assert!(
            out.status.success(),
            "sherd {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.tails()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sherd {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `sherd ARGS`, which must fail; answers its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.sherd(args);
        assert!(
            !out.status.success(),
            "sherd {args:?} should fail, printed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn tails(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log = n.log();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                format!(
                    "--- {} ---\n{}",
                    n.home.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn node_of(&self, provider: &str) -> usize {
        self.providers
            .iter()
            .find(|(_, a)| a == provider)
            .map(|(i, _)| *i)
            .unwrap_or_else(|| panic!("{provider} is not one of the testnet's providers"))
    }

    fn contract(&self, id: &str) -> Value {
        get(self.nodes[0].api, &format!("/v1/contracts/{id}")).expect("the contract is on chain")
    }

    fn balance(&self, address: &str) -> u64 {
        get(self.nodes[0].api, &format!("/v1/accounts/{address}")).unwrap()["balance_base"]
            .as_u64()
            .unwrap()
    }

    fn provider_report(&self, node: usize) -> Option<Value> {
        get(self.nodes[node].api, "/v1/provider")
    }
}

/// Random bytes with `marker` written at several places.
fn file_with_marker(path: &Path, size: usize, marker: &[u8]) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    for at in [0, size / 3, size / 2, size - marker.len()] {
        data[at..at + marker.len()].copy_from_slice(marker);
    }
    std::fs::write(path, &data).unwrap();
    data
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_file_comes_back_after_providers_vanish_and_a_provider_that_loses_it_is_slashed() {
    let net = Net::start(4, 6, 12, 6);
    net.ok(&["wallet", "new", "alice"]);
    net.ok(&["wallet", "faucet", "alice"]);
    let alice = net.ok(&["wallet", "address", "alice"])["address"]
        .as_str()
        .unwrap()
        .to_string();

    // Put 64 MiB as 4+2, get it back.
    const MARKER: &[u8] = b"SHERD-PLAINTEXT-MARKER-0x5eed-never-on-a-provider";
    let original = net.client.join("original.bin");
    let data = file_with_marker(&original, 64 << 20, MARKER);
    let put = net.ok(&[
        "storage",
        "put",
        original.to_str().unwrap(),
        "--data",
        "4",
        "--parity",
        "2",
        "--epochs",
        "10",
    ]);
    let id = put["id"].as_str().unwrap().to_string();
    assert_eq!(put["providers"].as_array().unwrap().len(), 6, "{put}");
    let back = net.client.join("back.bin");
    net.ok(&["storage", "get", &id, "--out", back.to_str().unwrap()]);
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the bytes came back different"
    );

    // Providers hold ciphertext only: the marker is in no file of theirs
    // (fragments, their index, logs).
    for (node, _) in &net.providers {
        for file in files_under(&net.nodes[*node].home) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !contains(&bytes, MARKER),
                "the plaintext marker is in {}",
                file.display()
            );
        }
    }

    // Two providers killed: still byte-identical (from the other four).
    let contract = net.contract(&id);
    let holders: Vec<String> = contract["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap().to_string())
        .collect();
    let mut net = net;
    let killed = [net.node_of(&holders[0]), net.node_of(&holders[4])];
    for &n in &killed {
        net.nodes[n].kill_9();
    }
    let back2 = net.client.join("back2.bin");
    let got = net.ok(&["storage", "get", &id, "--out", back2.to_str().unwrap()]);
    assert!(
        std::fs::read(&back2).unwrap() == data,
        "the bytes came back different with two providers down"
    );
    assert!(
        got["failures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| holders.contains(&f["provider"].as_str().unwrap().to_string())),
        "{got}"
    );

    // Restarted after kill -9, they keep their fragments and prove again.
    let proven = |net: &Net, index: usize| {
        net.contract(&id)["fragments"][index]["proven"]
            .as_u64()
            .unwrap()
    };
    let proven_before = [proven(&net, 0), proven(&net, 4)];
    for &n in &killed {
        net.nodes[n].start();
    }
    wait_until(
        &net.nodes,
        "the restarted providers to prove a later period",
        || proven(&net, 0) > proven_before[0] && proven(&net, 4) > proven_before[1],
    );
    for &n in &killed {
        let report = net.provider_report(n).unwrap();
        assert_eq!(report["fragments_active"], 1, "{report}");
        assert!(report["proofs_accepted"].as_u64().unwrap() >= 1, "{report}");
    }

    // A provider loses its fragment file: it misses, is slashed, and the
    // fragment is lost; the client is refunded; the others are still paid.
    let victim = holders[2].clone();
    let victim_node = net.node_of(&victim);
    let data_dir = net.nodes[victim_node].home.join("fragments").join("data");
    let removed: Vec<PathBuf> = files_under(&data_dir);
    assert_eq!(
        removed.len(),
        1,
        "one fragment file at {}",
        data_dir.display()
    );
    std::fs::remove_file(&removed[0]).unwrap();
    let client_before = net.balance(&alice);
    let before = net.contract(&id);
    let collateral_before = before["fragments"][2]["collateral_left_base"]
        .as_u64()
        .unwrap();
    let others_before: Vec<u64> = (0..6)
        .map(|i| before["fragments"][i]["proven"].as_u64().unwrap())
        .collect();
    wait_until(
        &net.nodes,
        "the fragment without its file to be lost",
        || net.contract(&id)["fragments"][2]["status"] == "lost",
    );
    let after = net.contract(&id);
    let lost = &after["fragments"][2];
    assert_eq!(
        lost["collateral_left_base"], 0,
        "all its collateral is slashed: {lost}"
    );
    assert!(collateral_before > 0);
    assert!(lost["misses"].as_u64().unwrap() >= 3, "{lost}");
    assert!(
        net.balance(&alice) > client_before,
        "the client got refunds and a share of the slash"
    );
    for i in [0usize, 1, 3, 4, 5] {
        assert!(
            after["fragments"][i]["proven"].as_u64().unwrap() > others_before[i],
            "fragment {i} kept being proven and paid: {}",
            after["fragments"][i]
        );
        assert_eq!(after["fragments"][i]["status"], "active");
        assert!(
            after["fragments"][i]["accepted"].as_u64().unwrap() >= 2,
            "{}",
            after["fragments"][i]
        );
    }
    assert!(
        lost["accepted"].as_u64().unwrap() >= 1,
        "it proved before its file went: {lost}"
    );
    let report = net.provider_report(victim_node).unwrap();
    assert!(
        report["proofs_unprovable"].as_u64().unwrap() >= 1,
        "{report}"
    );
    let status = net.ok(&["storage", "status", &id]);
    assert!(
        status["summary"].as_str().unwrap().contains("1 lost"),
        "{status}"
    );

    // Still readable from the five left.
    let back3 = net.client.join("back3.bin");
    net.ok(&["storage", "get", &id, "--out", back3.to_str().unwrap()]);
    assert!(std::fs::read(&back3).unwrap() == data);
}

#[test]
fn a_lost_fragment_is_repaired_by_anyone_while_its_client_is_offline() {
    let mut net = Net::start(1, 6, 6, 3);
    for name in ["alice", "bob"] {
        net.ok(&["wallet", "new", name]);
        net.ok(&["wallet", "faucet", name]);
    }
    let bob = net.ok(&["wallet", "address", "bob"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    let file = net.client.join("kept.bin");
    let data = file_with_marker(&file, 3 << 20, b"kept");
    let put = net.ok(&[
        "storage",
        "put",
        file.to_str().unwrap(),
        "--from",
        "alice",
        "--data",
        "2",
        "--parity",
        "2",
    ]);
    let id = put["id"].as_str().unwrap().to_string();

    // Alice shares it with bob, who reads it from his own catalog; carol,
    // a third key, cannot; a malformed key is refused.
    net.ok(&["wallet", "new", "carol"]);
    let share = net.client.join("kept.share.json");
    net.ok(&[
        "storage",
        "share",
        &id,
        "--with",
        &bob,
        "--from",
        "alice",
        "--out",
        share.to_str().unwrap(),
    ]);
    let (bobs, carols) = (
        net.client.join("bob-catalog"),
        net.client.join("carol-catalog"),
    );
    let imported = net.ok(&[
        "storage",
        "import",
        share.to_str().unwrap(),
        "--catalog",
        bobs.to_str().unwrap(),
    ]);
    assert_eq!(imported["wallet"], "bob", "{imported}");
    let bobs_copy = net.client.join("kept.bob");
    net.ok(&[
        "storage",
        "get",
        &id,
        "--out",
        bobs_copy.to_str().unwrap(),
        "--catalog",
        bobs.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&bobs_copy).unwrap() == data,
        "bob read other bytes"
    );
    let e = net.fails(&[
        "storage",
        "import",
        share.to_str().unwrap(),
        "--from",
        "carol",
        "--catalog",
        carols.to_str().unwrap(),
    ]);
    assert!(e.contains("this share is for"), "{e}");
    assert!(!carols.exists(), "nothing written for carol");
    let e = net.fails(&[
        "storage",
        "share",
        &id,
        "--with",
        "sherd1notakey",
        "--from",
        "alice",
    ]);
    assert!(e.contains("not an address"), "{e}");

    // Nothing is lost yet: a repair has nothing to do.
    let none = net.ok(&["storage", "repair", &id, "--from", "bob"]);
    assert_eq!(none["repaired"], serde_json::json!([]), "{none}");

    // Bob watches the chain for lost fragments; alice runs nothing.
    let log = net.client.join("repair.log");
    let watcher = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args([
            "storage",
            "repair",
            "--watch",
            "--interval",
            "1",
            "--from",
            "bob",
            "--json",
        ])
        .env("HOME", &net.client)
        .env_remove("SHERD_HOME")
        .env("SHERD_PASSWORD", "correct horse")
        .env("SHERD_NODE", &net.node_url)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(net.client.join("repair.err")).unwrap())
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _watcher = Stop(watcher);

    // The provider of fragment 1 is killed for good.
    let before = net.contract(&id);
    let gone = before["fragments"][1]["provider"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_before = net.balance(&bob);
    let gone_node = net.node_of(&gone);
    net.nodes[gone_node].kill_9();
    wait_until(&net.nodes, "fragment 1 to be lost and repaired", || {
        let f = &net.contract(&id)["fragments"][1];
        f["status"] == "active" && f["provider"] != gone.as_str()
    });
    let after = net.contract(&id);
    let spare = after["fragments"][1]["provider"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        after["fragments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "active"),
        "{after}"
    );
    let status = net.ok(&["storage", "status", &id]);
    assert!(
        status["summary"]
            .as_str()
            .unwrap()
            .starts_with("4 of 4 fragments active"),
        "{status}"
    );
    // Bob was paid the reward, less his fee.
    let reports: Vec<Value> = wait_for_lines(&log, 1);
    let done = &reports[0];
    assert_eq!(done["contract"], id.as_str(), "{done}");
    assert_eq!(done["index"], 1, "{done}");
    assert_eq!(done["provider"], spare.as_str(), "{done}");
    let reward = done["reward_base"].as_u64().unwrap();
    assert!(reward > 0, "{done}");
    let tx = get(
        net.nodes[0].api,
        &format!("/v1/txs/{}", done["tx"].as_str().unwrap()),
    )
    .unwrap();
    let fee = tx["fee_base"].as_u64().unwrap();
    assert_eq!(net.balance(&bob) + fee, bob_before + reward, "{tx}");

    drop(_watcher);

    // Node 0 gets a `[repair]` section: its own worker repairs the next
    // loss, signing with the validator's key.
    let config = net.nodes[0].home.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[repair]\ninterval_secs = 1\n");
    std::fs::write(&config, text).unwrap();
    net.nodes[0].kill_9();
    net.nodes[0].start();
    let gone = after["fragments"][3]["provider"]
        .as_str()
        .unwrap()
        .to_string();
    let gone_node = net.node_of(&gone);
    net.nodes[gone_node].kill_9();
    // (Node 0 is restarting: its API may not answer yet.)
    wait_until(&net.nodes, "the node's worker to repair fragment 3", || {
        get(net.nodes[0].api, &format!("/v1/contracts/{id}")).is_some_and(|c| {
            let f = &c["fragments"][3];
            f["status"] == "active" && f["provider"] != gone.as_str()
        })
    });
    assert!(
        net.nodes[0]
            .log()
            .contains("repair: fragment rebuilt, placed and sent"),
        "{}",
        net.tails()
    );
    let after = net.contract(&id);

    // Any m = 2 of the new set gone, the file still comes back.
    for i in [1, 3] {
        let p = after["fragments"][i]["provider"].as_str().unwrap();
        let n = net.node_of(p);
        net.nodes[n].kill_9();
    }
    let back = net.client.join("kept.back");
    net.ok(&["storage", "get", &id, "--out", back.to_str().unwrap()]);
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the bytes came back different"
    );
}

/// The first `n` JSON lines of `path`, waiting for them to be written.
fn wait_for_lines(path: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} lines: {text}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn bad_input_is_refused_and_failed_providers_are_replaced_by_spares() {
    let mut net = Net::start(1, 8, 12, 6);
    net.ok(&["wallet", "new", "alice"]);
    net.ok(&["wallet", "new", "bob"]);
    net.ok(&["wallet", "faucet", "alice"]);
    let alice = net.ok(&["wallet", "address", "alice"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    let file = net.client.join("photo.bin");
    let data = file_with_marker(&file, 3 << 20, b"x");
    let path = file.to_str().unwrap();

    // Too few providers for 7+3: a clear error before anything is sent.
    let before = net.balance(&alice);
    let e = net.fails(&[
        "storage", "put", path, "--from", "alice", "--data", "7", "--parity", "3",
    ]);
    assert!(
        e.contains("not enough storage providers") && e.contains("10 are needed"),
        "{e}"
    );
    // More than anyone charges.
    let e = net.fails(&[
        "storage",
        "put",
        path,
        "--from",
        "alice",
        "--max-price",
        "0.000000001",
    ]);
    assert!(e.contains("too expensive"), "{e}");
    // A wallet that cannot pay.
    let e = net.fails(&["storage", "put", path, "--from", "bob"]);
    assert!(e.contains("nothing was sent") && e.contains("needs"), "{e}");
    // Bad geometry, an empty file, a missing file.
    let e = net.fails(&["storage", "put", path, "--from", "alice", "--data", "1"]);
    assert!(e.contains("--data 1"), "{e}");
    let empty = net.client.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let e = net.fails(&["storage", "put", empty.to_str().unwrap(), "--from", "alice"]);
    assert!(e.contains("is empty"), "{e}");
    let e = net.fails(&["storage", "put", "/nonexistent/file", "--from", "alice"]);
    assert!(e.contains("cannot read /nonexistent/file"), "{e}");
    assert_eq!(net.balance(&alice), before, "nothing was spent");
    assert_eq!(
        net.ok(&["storage", "ls"])["objects"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // One provider does not answer (stopped), one is killed in the middle of
    // its upload: both fragments go to spares.
    let big = net.client.join("big.bin");
    let big_data = file_with_marker(&big, 48 << 20, b"y");
    let ranked: Vec<String> = get(net.nodes[0].api, "/v1/providers").unwrap()["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap().to_string())
        .collect();
    // Every provider has the same terms and no misses: the ranking is by
    // address, so the first two by address are certainly asked first.
    let mut by_address = ranked.clone();
    by_address.sort_by_key(|a| a.parse::<sherd_ledger::Address>().unwrap().0);
    let stalled = net.node_of(&by_address[0]);
    let dropped = net.node_of(&by_address[1]);
    let stalled_pid = net.nodes[stalled].child.as_ref().unwrap().id();
    assert!(Command::new("kill")
        .args(["-STOP", &stalled_pid.to_string()])
        .status()
        .unwrap()
        .success());
    let mut put = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args([
            "storage",
            "put",
            big.to_str().unwrap(),
            "--from",
            "alice",
            "--data",
            "2",
            "--parity",
            "1",
            "--json",
        ])
        .env("HOME", &net.client)
        .env_remove("SHERD_HOME")
        .env("SHERD_PASSWORD", "correct horse")
        .env("SHERD_NODE", &net.node_url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let incoming = net.nodes[dropped].home.join("fragments").join("incoming");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let receiving = files_under(&incoming)
            .iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > (1 << 20)));
        if receiving {
            net.nodes[dropped].kill_9();
            break;
        }
        if let Ok(Some(_)) = put.try_wait() {
            let out = put.wait_with_output().unwrap();
            panic!(
                "the put ended before the provider received anything:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            Instant::now() < deadline,
            "the provider never started receiving"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = put.wait_with_output().unwrap();
    assert!(Command::new("kill")
        .args(["-CONT", &stalled_pid.to_string()])
        .status()
        .unwrap()
        .success());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let put: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures = put["failures"].as_array().unwrap();
    let failed: Vec<&str> = failures
        .iter()
        .map(|f| f["provider"].as_str().unwrap())
        .collect();
    assert!(
        failed.contains(&by_address[0].as_str()),
        "the stalled provider failed: {put}"
    );
    assert!(
        failed.contains(&by_address[1].as_str()),
        "the dropped provider failed: {put}"
    );
    let holders: Vec<&str> = put["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert!(
        !holders.contains(&by_address[0].as_str()) && !holders.contains(&by_address[1].as_str()),
        "{put}"
    );
    let id = put["id"].as_str().unwrap().to_string();
    let back = net.client.join("big.back");
    net.ok(&["storage", "get", &id, "--out", back.to_str().unwrap()]);
    assert!(std::fs::read(&back).unwrap() == big_data);

    // The killed provider restarts with nothing half-written, nothing kept.
    net.nodes[dropped].start();
    wait_until(&net.nodes, "the killed provider to answer again", || {
        net.provider_report(dropped).is_some()
    });
    assert!(
        files_under(&incoming).is_empty(),
        "a partial upload survived the restart"
    );
    assert_eq!(net.provider_report(dropped).unwrap()["fragments_active"], 0);

    // Reading: an unknown id, the wrong wallet, an existing output.
    let e = net.fails(&["storage", "get", "deadbeefdeadbeef", "--out", "/tmp/never"]);
    assert!(e.contains("no object deadbeefdeadbeef"), "{e}");
    let e = net.fails(&[
        "storage",
        "get",
        &id,
        "--from",
        "bob",
        "--out",
        net.client.join("x").to_str().unwrap(),
    ]);
    assert!(e.contains("does not open with wallet"), "{e}");
    assert!(!net.client.join("x").exists());
    let e = net.fails(&["storage", "get", &id, "--out", back.to_str().unwrap()]);
    assert!(e.contains("already exists"), "{e}");
    let e = net.fails(&["storage", "status", "0123456789abcdef"]);
    assert!(e.contains("no object"), "{e}");
    // A provider's own commands: status, new terms on chain, init's checks.
    let (pnode, paddress) = net.providers[0].clone();
    let home = net.nodes[pnode].home.clone();
    let home = home.to_str().unwrap();
    let status = net.ok(&["provider", "status", "--home", home]);
    assert_eq!(status["address"], paddress.as_str());
    assert_eq!(status["registered"], true, "{status}");
    assert_eq!(status["advertised"], true, "{status}");
    let advertised = net.ok(&[
        "provider",
        "advertise",
        "--home",
        home,
        "--price",
        "0.002",
        "--max-epochs",
        "500",
    ]);
    assert_eq!(
        advertised["terms"]["price_per_gib_epoch"], "0.002",
        "{advertised}"
    );
    let ad = get(net.nodes[0].api, "/v1/providers").unwrap()["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == paddress.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (
            ad["price_per_gib_epoch"].as_str(),
            ad["max_duration_epochs"].as_u64()
        ),
        (Some("0.002"), Some(500)),
        "{ad}"
    );
    let config = std::fs::read_to_string(net.nodes[pnode].home.join("config.toml")).unwrap();
    assert!(
        config.contains("price_per_gib_epoch = \"0.002\""),
        "the config follows the chain:\n{config}"
    );
    let e = net.fails(&[
        "provider",
        "advertise",
        "--home",
        home,
        "--min-epochs",
        "600",
    ]);
    assert!(e.contains("empty range"), "{e}");
    // `provider init` refusals: (home, capacity, what the error says).
    for (at, capacity, says) in [
        (home, "1GiB", "already has a [provider] section"),
        ("/nonexistent", "1GiB", "sherd node init"),
        (home, "10GB", "is not a size"),
    ] {
        let e = net.fails(&[
            "provider",
            "init",
            "--home",
            at,
            "--capacity",
            capacity,
            "--price",
            "1",
            "--collateral",
            "1",
        ]);
        assert!(e.contains(says), "{at} {capacity}: {e}");
    }
    let e = net.fails(&["provider", "status", "--node", &net.node_url]);
    assert!(e.contains("not a storage provider"), "{e}");
    // A new home made by `sherd node init` becomes a provider.
    let fresh = net.client.join("newprovider");
    let genesis = net.nodes[0].home.join("genesis.json");
    let boot = format!("/ip4/127.0.0.1/tcp/1/p2p/{}", libp2p_peer_placeholder());
    let out = net.sherd(&[
        "node",
        "init",
        "--genesis",
        genesis.to_str().unwrap(),
        "--bootnode",
        &boot,
        "--home",
        fresh.to_str().unwrap(),
        "--api",
        "127.0.0.1:1",
        "--p2p",
        "/ip4/127.0.0.1/tcp/2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = net.ok(&[
        "provider",
        "init",
        "--home",
        fresh.to_str().unwrap(),
        "--capacity",
        "2GiB",
        "--price",
        "0.001",
        "--collateral",
        "1",
        "--max-epochs",
        "50",
    ]);
    assert_eq!(made["new_key"], true, "{made}");
    let key = fresh.join("provider.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = std::fs::read_to_string(fresh.join("config.toml")).unwrap();
    assert!(
        config.contains("[provider]") && config.contains("capacity = \"2GiB\""),
        "{config}"
    );
    let again = net.ok(&[
        "provider",
        "init",
        "--home",
        fresh.to_str().unwrap(),
        "--capacity",
        "3GiB",
        "--price",
        "0.001",
        "--collateral",
        "1",
        "--force",
    ]);
    assert_eq!(
        (again["new_key"].as_bool(), again["address"].as_str()),
        (Some(false), made["address"].as_str()),
        "the key is kept"
    );

    let listed = net.ok(&["storage", "ls"]);
    assert_eq!(
        listed["objects"][0]["chain_state"], "3 of 3 fragments active, health 100 %",
        "{listed}"
    );

    // The same file again is not paid twice; --again stores a second copy.
    let stored = listed["objects"][0]["id"].as_str().unwrap().to_string();
    let before = net.balance(&alice);
    let big = big.to_str().unwrap();
    let same = net.ok(&["storage", "put", big, "--from", "alice"]);
    assert_eq!(
        (same["id"].as_str(), &same["already_stored"]),
        (Some(stored.as_str()), &serde_json::json!(true)),
        "{same}"
    );
    assert_eq!(net.balance(&alice), before, "nothing was paid");
    let copy = net.ok(&[
        "storage", "put", big, "--from", "alice", "--data", "2", "--parity", "1", "--again",
    ]);
    assert_ne!(copy["id"].as_str(), Some(stored.as_str()), "{copy}");
    assert!(net.balance(&alice) < before, "the second copy is paid");

    // Extend the copy, then end it: balances move as the ledger's rules
    // say (checked exactly in the ledger's tests; here, the direction),
    // the providers delete its fragments, and it leaves the catalog.
    let copy_id = copy["id"].as_str().unwrap().to_string();
    let holders: Vec<String> = net.contract(&copy_id)["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap().to_string())
        .collect();
    let last = net.contract(&copy_id)["last_period"].as_u64().unwrap();
    let before = net.balance(&alice);
    let extended = net.ok(&["storage", "extend", &copy_id, "--epochs", "2"]);
    assert!(
        extended["last_period"].as_u64().unwrap() > last,
        "{extended}"
    );
    assert!(net.balance(&alice) < before, "the extension is paid");
    let e = net.fails(&[
        "storage", "extend", &copy_id, "--epochs", "0", "--from", "alice",
    ]);
    assert!(e.contains("at least 1 epoch"), "{e}");
    let e = net.fails(&["storage", "rm", &copy_id, "--from", "bob"]);
    assert!(e.contains("only its client"), "{e}");

    // A holder no longer offers the terms (it now stores for at most one
    // epoch): the extension is refused before anything is sent; with
    // --move the object is stored again on providers that do, read back
    // from the new contract, and the old contract is ended.
    let shy = &holders[0];
    let shy_home = net.nodes[net.node_of(shy)].home.clone();
    let shy_home = shy_home.to_str().unwrap();
    let terms = get(net.nodes[0].api, "/v1/providers").unwrap();
    let max_epochs = terms["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == shy.as_str())
        .unwrap()["max_duration_epochs"]
        .as_u64()
        .unwrap()
        .to_string();
    net.ok(&[
        "provider",
        "advertise",
        "--home",
        shy_home,
        "--max-epochs",
        "1",
    ]);
    let before = net.balance(&alice);
    let e = net.fails(&["storage", "extend", &copy_id, "--epochs", "2"]);
    assert!(
        e.contains("cannot be extended with the same providers")
            && e.contains(shy.as_str())
            && e.contains("at most 1 epochs")
            && e.contains("--move"),
        "{e}"
    );
    assert_eq!(net.balance(&alice), before, "nothing was sent, no fee");
    let moved = net.ok(&["storage", "extend", &copy_id, "--epochs", "2", "--move"]);
    assert_eq!(
        moved["moved_from"].as_str(),
        Some(copy_id.as_str()),
        "{moved}"
    );
    let old = net.contract(&copy_id);
    assert!(
        old["fragments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "ended"),
        "{old}"
    );
    let old_id = copy_id;
    let copy_id = moved["id"].as_str().unwrap().to_string();
    let placed = net.contract(&copy_id);
    assert!(
        placed["fragments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "active" && f["provider"] != shy.as_str()),
        "{placed}"
    );
    let back = net.client.join("moved.bin");
    net.ok(&["storage", "get", &copy_id, "--out", back.to_str().unwrap()]);
    assert!(
        std::fs::read(&back).unwrap() == std::fs::read(big).unwrap(),
        "the moved object reads back byte-identical"
    );
    let listed = net.ok(&["storage", "ls"]);
    let ids: Vec<&str> = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert!(
        ids.contains(&copy_id.as_str()) && !ids.contains(&old_id.as_str()),
        "the catalog has the new entry, not the old one: {listed}"
    );
    net.ok(&[
        "provider",
        "advertise",
        "--home",
        shy_home,
        "--max-epochs",
        &max_epochs,
    ]);
    let holders: Vec<String> = placed["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap().to_string())
        .collect();

    let before = net.balance(&alice);
    let ended = net.ok(&["storage", "rm", &copy_id]);
    assert_eq!(ended["ended"], true, "{ended}");
    assert!(net.balance(&alice) > before, "the escrow left came back");
    assert!(net.contract(&copy_id)["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["status"] == "ended"));
    let e = net.fails(&["storage", "rm", &copy_id]);
    assert!(e.contains("no object"), "{e}");
    let contract_dir = |p: &String| {
        net.nodes[net.node_of(p)]
            .home
            .join("fragments")
            .join("data")
    };
    wait_until(
        &net.nodes,
        "the providers to delete the ended fragments",
        || {
            holders.iter().all(|p| {
                files_under(&contract_dir(p))
                    .iter()
                    .all(|f| !f.to_string_lossy().contains(&copy_id[..16]))
            })
        },
    );

    // 10,000 files of 1 KiB as one pack: one contract, k + m proofs a
    // period; one file read on its own, then the whole directory.
    let small = net.client.join("small");
    for i in 0..10_000u32 {
        let dir = small.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..1024u32)
            .map(|j| (i.wrapping_mul(31) ^ j) as u8)
            .collect();
        std::fs::write(dir.join(format!("f{i:05}.bin")), body).unwrap();
    }
    let packed = net.ok(&["storage", "put", small.to_str().unwrap(), "--from", "alice"]);
    assert_eq!(packed["files"], 10_000, "{packed}");
    assert_eq!(packed["proofs_per_period"], 6, "{packed}");
    assert_eq!(
        packed["separately"]["proofs_per_period"], 60_000,
        "{packed}"
    );
    assert!(
        packed["stored_bytes"].as_u64().unwrap() * 2
            < packed["separately"]["stored_bytes"].as_u64().unwrap(),
        "{packed}"
    );
    let pack_id = packed["id"].as_str().unwrap().to_string();
    let one = net.client.join("one.bin");
    let got = net.ok(&[
        "storage",
        "get",
        &pack_id,
        "--file",
        "d17/f04217.bin",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert_eq!(got["size"], 1024, "{got}");
    assert!(
        std::fs::read(&one).unwrap() == std::fs::read(small.join("d17/f04217.bin")).unwrap(),
        "the one file came back different"
    );
    let e = net.fails(&[
        "storage",
        "get",
        &pack_id,
        "--file",
        "nope.bin",
        "--out",
        net.client.join("nope").to_str().unwrap(),
    ]);
    assert!(e.contains("has no file nope.bin"), "{e}");
    let all = net.client.join("small-again");
    let got = net.ok(&["storage", "get", &pack_id, "--out", all.to_str().unwrap()]);
    assert_eq!(got["files"], 10_000, "{got}");
    for probe in ["d00/f00000.bin", "d99/f09999.bin", "d42/f05042.bin"] {
        assert!(
            std::fs::read(all.join(probe)).unwrap() == std::fs::read(small.join(probe)).unwrap()
        );
    }
    println!("pack of 10,000 files: {packed}");
    drop(data);
}

/// A well-formed peer id (for a bootnode address that is never dialed).
fn libp2p_peer_placeholder() -> &'static str {
    "12D3KooWK49yC9gN68fme9kvM8cinhC6KVjGXHaXhsUKDpCvyESf"
}
