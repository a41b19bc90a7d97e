//! Real node processes on 127.0.0.1 for the end-to-end tests: start,
//! `kill -9`, logs, free ports, waiting with the nodes' logs on timeout.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::node::get;

pub(super) const WAIT: Duration = Duration::from_secs(90);

/// A node process, killed when dropped.
pub(super) struct Node {
    pub(super) home: PathBuf,
    pub(super) api: SocketAddr,
    pub(super) child: Option<Child>,
    /// Extra environment for the process.
    pub(super) env: Vec<(&'static str, &'static str)>,
    /// The network namespace the process runs in (`ip netns exec`), if
    /// not the test's own.
    pub(super) netns: Option<String>,
}

impl Node {
    pub(super) fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("stderr.log"))
            .unwrap();
        let sherd = env!("CARGO_BIN_EXE_sherd");
        let mut command = match &self.netns {
            // `ip netns exec` execs the node: the child is the node itself.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, sherd]);
                c
            }
            None => Command::new(sherd),
        };
        let child = command
            .args(["node", "run", "--home"])
            .arg(&self.home)
            .env_remove("SHERD_HOME")
            .env("SHERD_LOG", "info")
            .envs(self.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sherd starts");
        self.child = Some(child);
    }

    pub(super) fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("stderr.log")).unwrap_or_default()
    }

    pub(super) fn finalized(&self) -> Option<u64> {
        get(self.api, "/v1/status")?["finalized_height"].as_u64()
    }
}

/// The first `count` nodes of the testnet in `net`, not started; node `i`
/// answers on port `api + i`.
pub(super) fn homes(net: &Path, api: u16, count: u16) -> Vec<Node> {
    (0..count)
        .map(|i| Node {
            home: net.join(format!("node{i}")),
            api: SocketAddr::from(([127, 0, 0, 1], api + i)),
            child: None,
            env: Vec::new(),
            netns: None,
        })
        .collect()
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// `count` consecutive free ports (checked, then released).
pub(super) fn free_range(count: u16) -> u16 {
    for _ in 0..200 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > u16::MAX - count {
            continue;
        }
        let held: Vec<_> = (0..count)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if held.len() == usize::from(count) {
            return base;
        }
    }
    panic!("no {count} consecutive free ports");
}

/// Two disjoint runs of `count` free ports, for the libp2p and the API
/// ports of `count` nodes: one run of `2 · count`, split. (Two calls of
/// [`free_range`] can answer overlapping runs: the ports are checked, then
/// released.)
pub(super) fn free_ranges(count: u16) -> (u16, u16) {
    let base = free_range(count.saturating_mul(2));
    (base, base + count)
}

pub(super) fn wait_until(nodes: &[Node], what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        if Instant::now() >= deadline {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    let log = n.log();
                    let tail: Vec<&str> = log.lines().rev().take(15).collect();
                    format!(
                        "--- {} ---\n{}",
                        n.home.display(),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )
                })
                .collect();
            panic!("timed out waiting for {what}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every node has the same block at every height from `from` to the
/// lowest finalized height; answers that height.
pub(super) fn same_chain(nodes: &[Node], from: u64) -> u64 {
    let top = nodes
        .iter()
        .map(|n| n.finalized().expect("every node answers"))
        .min()
        .unwrap();
    for height in from.max(1)..=top {
        let ids: Vec<Value> = nodes
            .iter()
            .map(|n| {
                get(n.api, &format!("/v1/blocks/{height}")).expect("a finalized block")["id"]
                    .clone()
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "a fork at height {height}: {ids:?}"
        );
    }
    top
}

/// The number in the environment variable `name`, else `default`.
pub(super) fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}
