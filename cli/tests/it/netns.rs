//! Partitions with real processes: 4 validators, each in its own Linux
//! network namespace, linked through a bridge and a relay per node.
//!
//! ```text
//!   ns 0 (10.254.x.1) ─┐                    ┌─ relay 0 → 10.254.x.1
//!   ns 1 (10.254.x.2) ─┤ bridge 10.254.x.254 ├─ relay 1 → 10.254.x.2
//!   ns 2 (10.254.x.3) ─┤  (this process)     ├─ relay 2 → 10.254.x.3
//!   ns 3 (10.254.x.4) ─┘                    └─ relay 3 → 10.254.x.4
//! ```
//!
//! Every link between two nodes goes through the relay of the node dialed
//! (each node's bootnodes are the relays; nftables in each namespace
//! resets direct connections), so each namespace's nftables can cut the
//! links to one peer by the peer's relay port, and the relays can delay
//! every byte. The faults, in order:
//!
//! * a 2|2 split: no side finalizes (neither has a quorum) and nothing
//!   forks; after healing, all four finalize again, on the same blocks;
//! * the last block's proposer cut off from the rest: the other three go
//!   on finalizing; healed, it catches up to the same blocks;
//! * 20 % random loss on every node's inbound packets (nftables `numgen
//!   random`) and 100 ms more each way (the relays): still finalizing.
//!
//! Needs root (network namespaces), `ip` and `nft`. Without them the test
//! says so and passes, unless `SHERD_REQUIRE_NETNS=1` (as in `.ci/run`).
//! The soak: `SHERD_NETNS_ROUNDS=10 SHERD_NETNS_HOLD_SECS=60 cargo test -p
//! sherd --test it netns -- --nocapture` repeats the faults 10 times, with
//! other 2|2 splits and faults held 60 s (long enough for idle links to be
//! given up).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{env_number, same_chain, wait_until, Node};
use super::node::get;

/// The libp2p port of every node (each has its own namespace).
const P2P: u16 = 30333;
/// The API port of every node.
const API: u16 = 8545;
/// The first relay port; node `i`'s relay listens on `RELAY + i`.
const RELAY: u16 = 40100;
const VALIDATORS: usize = 4;

/// Runs `program args`, which must succeed.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces, veths and bridge of one test, removed when dropped.
struct Lab {
    bridge: String,
    namespaces: Vec<String>,
    /// The first three octets of the lab's /24.
    subnet: [u8; 3],
}

impl Lab {
    /// A bridge at `.254` and `count` namespaces at `.1`, `.2`, ….
    fn new(count: usize) -> Result<Self, String> {
        remove_stale_labs();
        let pid = std::process::id();
        let mut lab = Self {
            bridge: format!("shb{pid}"),
            namespaces: Vec::new(),
            subnet: [10, 254, (pid % 250) as u8],
        };
        run("ip", &["link", "add", &lab.bridge, "type", "bridge"])?;
        let host = format!("{}/24", lab.host());
        run("ip", &["addr", "add", &host, "dev", &lab.bridge])?;
        run("ip", &["link", "set", &lab.bridge, "up"])?;
        for i in 0..count {
            let ns = format!("sherd{pid}n{i}");
            run("ip", &["netns", "add", &ns])?;
            lab.namespaces.push(ns.clone());
            let outside = format!("shv{pid}n{i}");
            run(
                "ip",
                &[
                    "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            run(
                "ip",
                &["link", "set", &outside, "master", &lab.bridge, "up"],
            )?;
            let inside = format!("{}/24", lab.node(i));
            run("ip", &["-n", &ns, "addr", "add", &inside, "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        }
        for i in 0..count {
            lab.firewall(i, &[], false)?;
        }
        Ok(lab)
    }

    /// This process's address on the bridge, where the relays listen.
    fn host(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 254)
    }

    fn node(&self, i: usize) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, i as u8 + 1)
    }

    /// Sets namespace `i`'s rules: no direct links to other nodes; no
    /// links through the relays of `cut`; with `lossy`, 20 % of its inbound
    /// packets dropped (not the API's, which the test reads).
    fn firewall(&self, i: usize, cut: &[usize], lossy: bool) -> Result<(), String> {
        let [a, b, c] = self.subnet;
        let host = self.host();
        let mut rules = format!(
            "table inet sherd\ndelete table inet sherd\n\
             table inet sherd {{\n\
             chain output {{ type filter hook output priority 0; policy accept;\n\
             ip daddr {a}.{b}.{c}.0/24 ip daddr != {host} meta l4proto tcp reject with tcp reset\n"
        );
        let ports: Vec<String> = cut
            .iter()
            .map(|j| (RELAY + *j as u16).to_string())
            .collect();
        if !ports.is_empty() {
            let ports = ports.join(", ");
            rules += &format!("ip daddr {host} tcp dport {{ {ports} }} drop\n}}\n");
            rules += "chain input { type filter hook input priority 0; policy accept;\n";
            rules += &format!("ip saddr {host} tcp sport {{ {ports} }} drop\n");
        } else {
            rules += "}\nchain input { type filter hook input priority 0; policy accept;\n";
        }
        if lossy {
            rules += &format!("tcp dport != {API} numgen random mod 100 < 20 counter drop\n");
        }
        rules += "}\n}\n";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i], "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "nft refused the rules of node {i}: {}\n{rules}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Packets namespace `i`'s loss rule dropped since its rules were set.
    fn dropped(&self, i: usize) -> u64 {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i]])
            .args(["nft", "list", "chain", "inet", "sherd", "input"])
            .output()
            .expect("nft runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Cuts every link between the nodes of `a` and those of `b`.
    fn split(&self, a: &[usize], b: &[usize]) {
        for i in a {
            self.firewall(*i, b, false).unwrap();
        }
        for i in b {
            self.firewall(*i, a, false).unwrap();
        }
    }

    /// Every link back, with or without loss.
    fn heal(&self, lossy: bool) {
        for i in 0..self.namespaces.len() {
            self.firewall(i, &[], lossy).unwrap();
        }
    }
}

/// Removes the namespaces and bridge of earlier runs whose process is gone
/// (killed before its `Drop` ran), so that their subnet is free again.
fn remove_stale_labs() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for name in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix("sherd")
            .and_then(|rest| rest.split('n').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run("ip", &["netns", "delete", name]);
            let _ = run("ip", &["link", "delete", &format!("shb{pid}")]);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth, and so both.
        for ns in &self.namespaces {
            let _ = run("ip", &["netns", "delete", ns]);
        }
        let _ = run("ip", &["link", "delete", &self.bridge]);
    }
}

/// A TCP relay from `listen` to `target` that holds every chunk for the
/// current delay before passing it on; stops accepting when dropped
/// (open links end with their nodes).
struct Relay {
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(listen: SocketAddr, target: SocketAddr, delay_ms: Arc<AtomicU64>) -> Self {
        let listener = TcpListener::bind(listen).expect("the relay's port is free");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((inbound, _)) => {
                        let Ok(outbound) =
                            TcpStream::connect_timeout(&target, Duration::from_secs(2))
                        else {
                            continue;
                        };
                        let _ = inbound.set_nonblocking(false);
                        for (from, to) in [
                            (inbound.try_clone(), outbound.try_clone()),
                            (outbound.try_clone(), inbound.try_clone()),
                        ] {
                            if let (Ok(from), Ok(to)) = (from, to) {
                                pump(from, to, Arc::clone(&delay_ms));
                            }
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self { stop }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to`, each chunk `delay_ms` after it was read, in
/// order; an end or error on either side ends both directions.
fn pump(mut from: TcpStream, mut to: TcpStream, delay_ms: Arc<AtomicU64>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due =
                        Instant::now() + Duration::from_millis(delay_ms.load(Ordering::Relaxed));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = from.shutdown(Shutdown::Both);
    });
    thread::spawn(move || {
        for (due, chunk) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// Whether this process can make namespaces; `Err` names what is missing.
fn can_run() -> Result<(), String> {
    run("nft", &["--version"]).map_err(|_| "no `nft` (Debian's nftables)".to_string())?;
    let probe = format!("sherd{}probe", std::process::id());
    run("ip", &["netns", "add", &probe])?;
    run("ip", &["netns", "delete", &probe])
}

/// The finalized heights of the nodes in `which`.
fn heights(nodes: &[Node], which: &[usize]) -> Vec<Option<u64>> {
    which.iter().map(|i| nodes[*i].finalized()).collect()
}

/// The highest finalized height of any node.
fn highest(nodes: &[Node]) -> u64 {
    nodes.iter().filter_map(Node::finalized).max().unwrap_or(0)
}

/// Waits until every node of `which` has finalized `more` blocks past
/// its height now; answers the blocks per second of the slowest.
fn progress(nodes: &[Node], which: &[usize], more: u64, what: &str) -> f64 {
    let start = Instant::now();
    let from: Vec<u64> = heights(nodes, which)
        .into_iter()
        .map(|h| h.unwrap_or(0))
        .collect();
    wait_until(nodes, what, || {
        which
            .iter()
            .zip(&from)
            .all(|(i, h)| nodes[*i].finalized().is_some_and(|f| f >= h + more))
    });
    more as f64 / start.elapsed().as_secs_f64()
}

fn init(dir: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args(["testnet", "init", "--validators", "4"])
        .args(["--epoch-length", "20", "--json", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn partitions_halt_finality_without_a_fork_and_loss_and_delay_only_slow_it() {
    if let Err(why) = can_run() {
        assert!(
            std::env::var_os("SHERD_REQUIRE_NETNS").is_none(),
            "SHERD_REQUIRE_NETNS is set but network namespaces cannot be made here: {why}"
        );
        eprintln!("skipped: network namespaces cannot be made here ({why})");
        return;
    }
    let rounds = env_number("SHERD_NETNS_ROUNDS", 1);
    let hold = Duration::from_secs(env_number("SHERD_NETNS_HOLD_SECS", 8));
    let lab = Lab::new(VALIDATORS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let plan = init(&net);

    // Each node listens on its namespace's address; its bootnodes are the
    // other nodes' relays.
    let delay_ms = Arc::new(AtomicU64::new(0));
    let mut relays = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..VALIDATORS {
        let relay = SocketAddr::from((lab.host(), RELAY + i as u16));
        relays.push(Relay::start(
            relay,
            SocketAddr::from((lab.node(i), P2P)),
            Arc::clone(&delay_ms),
        ));
    }
    for i in 0..VALIDATORS {
        let bootnodes: Vec<String> = (0..VALIDATORS)
            .filter(|j| *j != i)
            .map(|j| {
                let peer = plan[j]["p2p"].as_str().unwrap().rsplit('/').next().unwrap();
                format!(
                    "\"/ip4/{}/tcp/{}/p2p/{peer}\"",
                    lab.host(),
                    RELAY + j as u16
                )
            })
            .collect();
        let home = net.join(format!("node{i}"));
        let api = SocketAddr::from((lab.node(i), API));
        std::fs::write(
            home.join("config.toml"),
            format!(
                "api = \"{api}\"\nlisten = [\"/ip4/{}/tcp/{P2P}\"]\nbootnodes = [{}]\nlog_file = \"node.log\"\n",
                lab.node(i),
                bootnodes.join(", ")
            ),
        )
        .unwrap();
        let mut node = Node {
            home,
            api,
            child: None,
            env: Vec::new(),
            netns: Some(lab.namespaces[i].clone()),
        };
        node.start();
        nodes.push(node);
    }
    let all: Vec<usize> = (0..VALIDATORS).collect();
    progress(&nodes, &all, 3, "all four to finalize 3 blocks");
    let mut checked = 1;
    let mut rng = std::process::id() as usize;

    for round in 0..rounds {
        // A 2|2 split (node 0 with another, chosen anew each round).
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let partner = 1 + (rng >> 33) % 3;
        let a = vec![0, partner];
        let b: Vec<usize> = (1..VALIDATORS).filter(|j| *j != partner).collect();
        lab.split(&a, &b);
        thread::sleep(Duration::from_secs(2)); // what was in flight lands
        let stalled = highest(&nodes);
        thread::sleep(hold);
        // A node behind may still sync what was final before the split;
        // nothing above it may become final.
        let after = heights(&nodes, &all);
        assert!(
            after.iter().all(|h| h.is_some_and(|h| h <= stalled)),
            "round {round}: a side of the split {a:?}|{b:?} finalized without a quorum: \
             {after:?}, the highest before {stalled}"
        );
        checked = same_chain(&nodes, checked);
        lab.heal(false);
        let rate = progress(
            &nodes,
            &all,
            3,
            "all four to finalize after the split healed",
        );
        eprintln!(
            "round {round}: split {a:?}|{b:?} held {hold:?} at height {stalled}: no block final, no fork; healed: {rate:.2} blocks/s"
        );

        // The last block's proposer cut off.
        let latest = get(nodes[0].api, "/v1/blocks/latest").unwrap();
        let proposer = latest["proposer"].as_str().unwrap();
        let leader = plan
            .as_array()
            .unwrap()
            .iter()
            .position(|n| n["operator"] == proposer)
            .expect("the proposer is a validator");
        let rest: Vec<usize> = all.iter().copied().filter(|j| *j != leader).collect();
        lab.split(&[leader], &rest);
        let cut_at = nodes[leader].finalized().unwrap_or(0);
        let rate = progress(
            &nodes,
            &rest,
            4,
            "the three others to finalize without the leader",
        );
        // Alone it finalizes nothing new (at most what was in flight).
        let alone = nodes[leader].finalized().unwrap_or(0);
        assert!(
            alone <= cut_at + 1,
            "round {round}: node {leader}, cut off at height {cut_at}, reached {alone} alone"
        );
        lab.heal(false);
        let top = highest(&nodes);
        wait_until(&nodes, "the cut-off leader back in step", || {
            nodes
                .iter()
                .all(|n| n.finalized().is_some_and(|h| h >= top))
        });
        checked = same_chain(&nodes, checked);
        eprintln!(
            "round {round}: proposer node {leader} cut off: the others finalized {rate:.2} blocks/s; healed, it caught up"
        );

        // Loss and delay on every link.
        delay_ms.store(100, Ordering::Relaxed);
        lab.heal(true);
        let rate = progress(&nodes, &all, 4, "finality with 20 % loss and 100 ms delay");
        let dropped = lab.dropped(0);
        assert!(dropped > 0, "round {round}: the loss rule dropped nothing");
        delay_ms.store(0, Ordering::Relaxed);
        lab.heal(false);
        checked = same_chain(&nodes, checked);
        eprintln!("round {round}: 20 % loss and +100 ms each way: {rate:.2} blocks/s");
    }
    for node in &nodes {
        let log = node.log();
        assert!(!log.contains("conflicting finalization"), "{log}");
        assert!(!log.contains("consensus.evidence"), "{log}");
    }
    drop(nodes);
    drop(relays);
    drop(lab);
}
