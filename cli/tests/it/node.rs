//! `sherd node run --dev` as a real process: it starts, serves the API,
//! finalizes a faucet grant, survives `kill -9` (SIGKILL), and restarts with
//! the same height, state root and balance.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// Kills the node when the test ends, whether it passes or fails.
struct NodeProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl NodeProcess {
    fn start(home: &Path, api: SocketAddr, log: std::path::PathBuf) -> Self {
        Self::start_with(home, api, log, &[])
    }

    fn start_with(
        home: &Path,
        api: SocketAddr,
        log: std::path::PathBuf,
        env: &[(&str, &str)],
    ) -> Self {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sherd"))
            .args(["node", "run", "--dev", "--home"])
            .arg(home)
            .args(["--api", &api.to_string()])
            .env_remove("SHERD_HOME")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("sherd starts");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no clean shutdown of any kind.
    fn kill_9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub(super) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(rest).unwrap_or(Value::Null)))
}

fn wait_for(node: &NodeProcess, what: &str, mut f: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; node log:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A faucet grant of `amount` to `address`, once the node answers.
fn faucet(node: &NodeProcess, api: SocketAddr, address: &str, amount: &str) -> Value {
    wait_for(node, "the faucet", || {
        match request(
            api,
            "POST",
            "/v1/faucet",
            &format!(r#"{{"address":"{address}","amount":"{amount}"}}"#),
        ) {
            Some((202, v)) => Some(v),
            Some((code, v)) => panic!("faucet answered {code}: {v}\n{}", node.log()),
            None => None,
        }
    })
}

pub(super) fn get(api: SocketAddr, path: &str) -> Option<Value> {
    match request(api, "GET", path, "") {
        Some((200, v)) => Some(v),
        _ => None,
    }
}

/// The API answers a block final only once its commit is durable: a node
/// killed the moment `/v1/status` shows a new height has that block after
/// its restart, with the same id.
#[test]
fn a_height_answered_final_survives_kill_9_right_after() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let api = free_port();
    let log = dir.path().join("node.log");
    let mut node = NodeProcess::start(&home, api, log.clone());
    let mut last = wait_for(&node, "/v1/status", || get(api, "/v1/status"))["finalized_height"]
        .as_u64()
        .unwrap();
    for round in 0..8 {
        // Asked as fast as it answers; killed at the first new height.
        let deadline = Instant::now() + Duration::from_secs(20);
        let (height, id) = loop {
            assert!(
                Instant::now() < deadline,
                "round {round}: no new block\n{}",
                node.log()
            );
            if let Some(s) = get(api, "/v1/status") {
                let h = s["finalized_height"].as_u64().unwrap();
                if h > last {
                    break (h, s["latest_block_id"].clone());
                }
            }
        };
        node.kill_9();
        node = NodeProcess::start(&home, api, log.clone());
        let after = wait_for(&node, "/v1/status after the kill", || {
            get(api, "/v1/status")
        });
        assert!(
            after["finalized_height"].as_u64().unwrap() >= height,
            "round {round}: answered final at {height}, after the restart {after}"
        );
        let block = get(api, &format!("/v1/blocks/{height}")).expect("the block is there");
        assert_eq!(block["id"], id, "round {round}: height {height}");
        last = after["finalized_height"].as_u64().unwrap();
    }
}

/// The account index is written just after each block's commit: a node
/// killed the moment a transaction is answered final may have the block
/// and not yet its index rows. The restarted node lists it all the same.
#[test]
fn a_transaction_answered_final_is_in_its_history_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let api = free_port();
    let log = dir.path().join("node.log");
    let mut node = NodeProcess::start(&home, api, log.clone());
    for round in 0u8..4 {
        let address = sherd_ledger::Address([round.wrapping_add(90); 32]).to_string();
        let grant = faucet(&node, api, &address, "1");
        let hash = grant["hash"].as_str().unwrap().to_string();
        // Asked as fast as it answers; killed as soon as it is final.
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(api, &format!("/v1/txs/{hash}")).is_none_or(|t| t["status"] != "finalized") {
            assert!(
                Instant::now() < deadline,
                "round {round}: {hash} not final\n{}",
                node.log()
            );
        }
        node.kill_9();
        node = NodeProcess::start(&home, api, log.clone());
        let history = wait_for(&node, "the history after the kill", || {
            get(api, &format!("/v1/accounts/{address}/txs"))
        });
        assert_eq!(
            history["txs"][0]["hash"], hash,
            "round {round}: final before the kill, not in the history after it"
        );
    }
}

#[test]
fn dev_node_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let api = free_port();
    let log = dir.path().join("node.log");
    let mut node = NodeProcess::start(&home, api, log.clone());
    wait_for(&node, "/v1/status", || get(api, "/v1/status"));

    let address = sherd_ledger::Address([7; 32]).to_string();
    let grant = faucet(&node, api, &address, "42.5");
    let hash = grant["hash"].as_str().unwrap().to_string();
    let tx = wait_for(&node, "finality of the grant", || {
        get(api, &format!("/v1/txs/{hash}")).filter(|t| t["status"] == "finalized")
    });
    let account = get(api, &format!("/v1/accounts/{address}")).unwrap();
    assert_eq!(account["balance_base"], 42_500_000_000u64);
    let status = get(api, "/v1/status").unwrap();
    let height = status["finalized_height"].as_u64().unwrap();
    assert!(height >= tx["height"].as_u64().unwrap());
    let block = get(api, &format!("/v1/blocks/{height}")).unwrap();
    assert_eq!(block["state_root"], status["state_root"]);

    node.kill_9();

    let mut node = NodeProcess::start(&home, api, log);
    let after = wait_for(&node, "/v1/status after the restart", || {
        get(api, "/v1/status")
    });
    assert!(
        after["finalized_height"].as_u64().unwrap() >= height,
        "{after} vs height {height}"
    );
    assert_eq!(get(api, &format!("/v1/blocks/{height}")).unwrap(), block);
    let account = get(api, &format!("/v1/accounts/{address}")).unwrap();
    assert_eq!(account["balance_base"], 42_500_000_000u64);
    assert_eq!(
        get(api, &format!("/v1/txs/{hash}")).unwrap()["height"],
        tx["height"]
    );
    // And it keeps finalizing blocks.
    wait_for(&node, "a block after the restart", || {
        get(api, "/v1/status").filter(|s| s["finalized_height"].as_u64() > Some(height))
    });

    // Killed at other moments (mid-view, mid-commit): never a finalized
    // block lost, never a different root at a height seen before.
    let mut seen = Vec::new();
    for delay_ms in [0u64, 350, 900, 1_700] {
        let status = get(api, "/v1/status").unwrap();
        let h = status["finalized_height"].as_u64().unwrap();
        seen.push((h, status["state_root"].clone()));
        std::thread::sleep(Duration::from_millis(delay_ms));
        node.kill_9();
        node = NodeProcess::start(&home, api, node.log.clone());
        let after = wait_for(&node, "/v1/status after a kill", || get(api, "/v1/status"));
        assert!(
            after["finalized_height"].as_u64().unwrap() >= h,
            "{after} vs {h}"
        );
        for (h, root) in &seen {
            let block = get(api, &format!("/v1/blocks/{h}")).unwrap();
            assert_eq!(&block["state_root"], root, "height {h}");
        }
    }
    let top = seen.last().map_or(0, |(h, _)| *h);
    wait_for(&node, "progress after the kills", || {
        get(api, "/v1/status").filter(|s| s["finalized_height"].as_u64() > Some(top))
    });
    let account = get(api, &format!("/v1/accounts/{address}")).unwrap();
    assert_eq!(account["balance_base"], 42_500_000_000u64);
    node.kill_9();
}

/// `sherd bench load` against a dev chain: every transfer it sends is
/// final, and it says so in its JSON report.
#[test]
fn bench_load_reports_what_it_sent_and_saw_final() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let api = free_port();
    let node = NodeProcess::start(&home, api, dir.path().join("node.log"));
    wait_for(&node, "/v1/status", || get(api, "/v1/status"));
    let url = format!("http://{api}");
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sherd"))
            .args(["bench", "load", "--node", &url, "--faucet-key"])
            .arg(home.join("faucet.key"))
            .args([
                "--rate",
                "60",
                "--duration",
                "2",
                "--accounts",
                "12",
                "--json",
            ])
            .args(extra)
            .output()
            .expect("sherd runs");
        assert!(
            out.status.success(),
            "bench load failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            node.log()
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("a JSON report")
    };
    // Batches of 10 per request, then each transfer alone.
    for (extra, batch) in [(&["--batch", "10"][..], 10), (&[][..], 1)] {
        let report = run(extra);
        assert_eq!(report["batch"], batch, "{report}");
        assert_eq!(report["submitted"], 120, "{report}");
        assert_eq!(report["submit_errors"], 0, "{report}");
        assert_eq!(report["finalized"], 120, "{report}");
        let (p50, p99) = (
            report["latency_ms"]["p50"].as_f64().unwrap(),
            report["latency_ms"]["p99"].as_f64().unwrap(),
        );
        assert!(p50 > 0.0 && p99 >= p50, "{report}");
        assert!(report["finalized_per_s"].as_f64().unwrap() > 0.0);
        // The node's CPU over the run, per finalized transfer.
        assert!(
            report["cpu_per_node"][0]["us_per_transfer"]
                .as_f64()
                .unwrap()
                > 0.0,
            "{report}"
        );
        assert_eq!(report["failovers"], 0, "{report}");
    }
    // A second node that does not answer: the sender that starts on it
    // moves to the live one, and nothing is lost.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let report = run(&["--node", &dead, "--batch", "10"]);
    assert!(report["failovers"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["submitted"], 120, "{report}");
    assert_eq!(report["finalized"], 120, "{report}");
    assert!(
        report["cpu_per_node"][1]["us_per_transfer"].is_null(),
        "{report}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args(["bench", "load", "--node", &url, "--faucet-key"])
        .arg(home.join("faucet.key"))
        .args(["--batch", "5000"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--batch must be 1 to 1024"));
}

/// The binary the tests run is a test build: it names its hooks and obeys
/// them (`testnet/dev.sh` shows that the release binary ignores them).
#[test]
fn a_test_build_obeys_its_hooks_and_refuses_a_bad_one() {
    let version = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(version.contains("test build"), "{version}");

    let dir = tempfile::tempdir().unwrap();
    let (home, api, log) = (
        dir.path().join("home"),
        free_port(),
        dir.path().join("node.log"),
    );
    let mut node =
        NodeProcess::start_with(&home, api, log, &[("SHERD_TEST_CRASH_BEFORE_COMMIT", "2")]);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the crash point did not fire:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    assert!(
        node.log()
            .contains("simulated crash before committing block 2"),
        "{}",
        node.log()
    );

    let bad = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args(["node", "run", "--dev", "--home"])
        .arg(dir.path().join("other"))
        .args(["--api", &free_port().to_string()])
        .env("SHERD_TEST_CRASH_BEFORE_COMMIT", "soon")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("SHERD_TEST_CRASH_BEFORE_COMMIT=\"soon\": not a block height"),
        "{stderr}"
    );
}
