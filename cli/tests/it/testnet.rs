//! A 4-validator testnet of real processes on 127.0.0.1: it finalizes, a
//! transaction sent to one node is final and visible on all, one node down
//! does not stop it, two down stop it without a fork, and restarted nodes
//! catch up (across an epoch change) to the same blocks. A fifth node joins
//! from genesis, stakes, and proposes blocks from the next epoch.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{free_ranges, homes, wait_until, Node};
use super::node::{get, request};

fn init(dir: &Path, p2p: u16, api: u16) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args([
            "testnet",
            "init",
            "--validators",
            "4",
            "--epoch-length",
            "20",
            "--out",
        ])
        .arg(dir)
        .args([
            "--p2p-port",
            &p2p.to_string(),
            "--api-port",
            &api.to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nodes: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(nodes.as_array().unwrap().len(), 4);
    nodes
}

#[test]
fn four_validators_finalize_tolerate_faults_and_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let (p2p, api) = free_ranges(4);
    let plan = init(&net, p2p, api);
    let mut nodes = homes(&net, api, 4);
    for node in &mut nodes {
        node.start();
    }
    wait_until(&nodes, "all four to finalize 3 blocks", || {
        nodes.iter().all(|n| n.finalized().is_some_and(|h| h >= 3))
    });

    // A faucet grant through node 0 is final and visible on all four.
    let address = sherd_ledger::Address([9; 32]).to_string();
    let grant = request(
        nodes[0].api,
        "POST",
        "/v1/faucet",
        &format!(r#"{{"address":"{address}","amount":"7"}}"#),
    )
    .expect("faucet answers");
    assert_eq!(grant.0, 202, "{}", grant.1);
    wait_until(&nodes, "the grant on every node", || {
        nodes.iter().all(|n| {
            get(n.api, &format!("/v1/accounts/{address}"))
                .is_some_and(|a| a["balance_base"] == 7_000_000_000u64)
        })
    });

    // Every validator registered its endpoint on chain by itself.
    wait_until(&nodes, "every validator's endpoint on chain", || {
        plan.as_array().unwrap().iter().all(|n| {
            let operator = n["operator"].as_str().unwrap();
            get(nodes[3].api, &format!("/v1/endpoints/{operator}")).is_some_and(|e| {
                e["role"] == "validator"
                    && n["p2p"]
                        .as_str()
                        .unwrap()
                        .ends_with(e["peer_id"].as_str().unwrap_or("-"))
            })
        })
    });

    // One of four down: the others go on.
    nodes[3].kill_9();
    let h = nodes[0].finalized().unwrap();
    wait_until(&nodes, "progress with 3 of 4", || {
        nodes[0].finalized().is_some_and(|f| f >= h + 4)
    });

    // Two of four down: nothing more is final, and nothing forks.
    nodes[2].kill_9();
    std::thread::sleep(Duration::from_secs(2));
    let stalled = nodes[0].finalized().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        nodes[0].finalized().unwrap(),
        stalled,
        "finalized without a quorum"
    );
    assert_eq!(nodes[1].finalized().unwrap(), stalled);

    // Back up: the chain resumes and the restarted nodes catch up to the
    // same blocks, past an epoch change (20-block epochs).
    nodes[2].start();
    nodes[3].start();
    let target = stalled.max(20) + 4;
    wait_until(
        &nodes,
        "all four past the stall and an epoch change",
        || {
            nodes
                .iter()
                .all(|n| n.finalized().is_some_and(|f| f >= target))
        },
    );
    for height in [1, stalled, target] {
        let ids: Vec<Value> = nodes
            .iter()
            .map(|n| get(n.api, &format!("/v1/blocks/{height}")).unwrap()["id"].clone())
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "height {height}: {ids:?}"
        );
    }

    // kill -9 one validator again and again, at different moments of its
    // views: it always comes back, catches up, and its chain is everyone's.
    for pause_ms in [0u64, 700, 1_900] {
        std::thread::sleep(Duration::from_millis(pause_ms));
        nodes[1].kill_9();
        nodes[1].start();
        let h = nodes[0].finalized().unwrap() + 2;
        wait_until(&nodes, "node1 back after kill -9", || {
            nodes[1].finalized().is_some_and(|f| f >= h)
        });
    }
    let top = nodes.iter().filter_map(Node::finalized).min().unwrap();
    for height in (1..=top).step_by(7) {
        let ids: Vec<Value> = nodes
            .iter()
            .map(|n| get(n.api, &format!("/v1/blocks/{height}")).unwrap()["id"].clone())
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "height {height}: {ids:?}"
        );
    }
    // No conflicting finalization was ever seen, and no validator (the
    // killed one included) ever signed two conflicting votes: every node
    // turns those into evidence and logs it.
    for node in &nodes {
        let log = node.log();
        assert!(!log.contains("conflicting finalization"), "{log}");
        assert!(!log.contains("consensus.evidence"), "{log}");
    }
}

fn sherd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sherd"))
        .args(args)
        .env_remove("SHERD_HOME")
        .env_remove("SHERD_NODE")
        .output()
        .unwrap()
}

#[test]
fn a_fifth_node_joins_syncs_stakes_and_proposes() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let (p2p, api) = free_ranges(5);
    let plan = init(&net, p2p, api);
    let mut nodes = homes(&net, api, 4);
    for node in &mut nodes {
        node.start();
    }
    wait_until(&nodes, "the testnet to finalize 5 blocks", || {
        nodes.iter().all(|n| n.finalized().is_some_and(|h| h >= 5))
    });

    // The new machine: genesis and one bootnode only.
    let home = net.join("node4");
    let bootnode = plan[0]["p2p"].as_str().unwrap().to_string();
    let new_api = SocketAddr::from(([127, 0, 0, 1], api + 4));
    let out = sherd(&[
        "node",
        "init",
        "--genesis",
        net.join("genesis.json").to_str().unwrap(),
        "--bootnode",
        &bootnode,
        "--home",
        home.to_str().unwrap(),
        "--api",
        &new_api.to_string(),
        "--p2p",
        &format!("/ip4/127.0.0.1/tcp/{}", p2p + 4),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    nodes.push(Node {
        home: home.clone(),
        api: new_api,
        child: None,
        env: Vec::new(),
        netns: None,
    });
    nodes[4].start();
    let tip = nodes[0].finalized().unwrap();
    wait_until(&nodes, "the new node to sync to the tip", || {
        nodes[4].finalized().is_some_and(|h| h >= tip)
    });

    // A funded wallet stakes with the new node's vote key.
    let wallets = dir.path().join("wallets");
    let password = dir.path().join("password");
    std::fs::write(&password, "pw\n").unwrap();
    let node4 = format!("http://{new_api}");
    let w = |args: &[&str]| {
        let mut all = vec![
            "wallet",
            "--wallet-dir",
            wallets.to_str().unwrap(),
            "--password-file",
            password.to_str().unwrap(),
            "--node",
            &node4,
        ];
        all.extend_from_slice(args);
        sherd(&all)
    };
    assert!(w(&["new", "joiner"]).status.success());
    let address = String::from_utf8(w(&["address", "joiner"]).stdout)
        .unwrap()
        .trim()
        .to_string();
    let grant = request(
        nodes[0].api,
        "POST",
        "/v1/faucet",
        &format!(r#"{{"address":"{address}","amount":"1000000"}}"#),
    )
    .unwrap();
    assert_eq!(grant.0, 202, "{}", grant.1);
    wait_until(&nodes, "the grant on the new node", || {
        get(new_api, &format!("/v1/accounts/{address}"))
            .is_some_and(|a| a["balance_base"].as_u64() >= Some(1_000_000_000_000_000))
    });
    let stake = w(&[
        "stake",
        "--from",
        "joiner",
        "--amount",
        "999000",
        "--validator-key",
        home.join("validator.bls").to_str().unwrap(),
    ]);
    assert!(
        stake.status.success(),
        "{}{}",
        String::from_utf8_lossy(&stake.stdout),
        String::from_utf8_lossy(&stake.stderr)
    );

    // The operator registers the new node as its endpoint on chain.
    let register = w(&["register-endpoint", "--from", "joiner"]);
    assert!(
        register.status.success(),
        "{}",
        String::from_utf8_lossy(&register.stderr)
    );
    let identity = get(new_api, "/v1/node").unwrap();
    let endpoint = get(nodes[0].api, &format!("/v1/endpoints/{address}")).unwrap();
    assert_eq!(endpoint["peer_id"], identity["peer_id"]);
    assert_eq!(endpoint["multiaddrs"], identity["listen"]);
    assert_eq!(endpoint["role"], "validator");

    // From the next epoch (20 blocks) it is in the set, and it proposes.
    wait_until(&nodes, "the joiner to be an active validator", || {
        get(new_api, "/v1/validators").is_some_and(|v| {
            v["validators"].as_array().is_some_and(|vs| {
                vs.iter()
                    .any(|v| v["operator"] == address.as_str() && v["status"] == "active")
            })
        })
    });
    let from = nodes[0].finalized().unwrap();
    let mut next = from;
    wait_until(&nodes, "a block proposed by the joiner", || {
        let top = nodes[0].finalized().unwrap_or(next);
        while next <= top {
            if get(nodes[0].api, &format!("/v1/blocks/{next}"))
                .is_some_and(|b| b["proposer"] == address.as_str())
            {
                return true;
            }
            next += 1;
        }
        false
    });
    // Everyone, the joiner included, keeps finalizing the same chain.
    let target = nodes[0].finalized().unwrap() + 3;
    wait_until(&nodes, "all five past the joiner's block", || {
        nodes
            .iter()
            .all(|n| n.finalized().is_some_and(|f| f >= target))
    });
    let ids: Vec<Value> = nodes
        .iter()
        .map(|n| get(n.api, &format!("/v1/blocks/{target}")).unwrap()["id"].clone())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[test]
fn an_equivocating_validator_is_slashed_and_jailed_by_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let (p2p, api) = free_ranges(4);
    let plan = init(&net, p2p, api);
    let mut nodes = homes(&net, api, 4);
    // Node 3 signs a second, conflicting notarize vote for every vote.
    nodes[3].env = vec![("SHERD_TEST_EQUIVOCATE", "1")];
    for node in &mut nodes {
        node.start();
    }
    let cheater = plan[3]["operator"].as_str().unwrap().to_string();
    wait_until(&nodes, "the equivocator slashed and jailed", || {
        get(nodes[0].api, "/v1/validators").is_some_and(|v| {
            v["validators"].as_array().is_some_and(|vs| {
                vs.iter().any(|v| {
                    v["operator"] == cheater.as_str()
                        && v["jailed_until"].as_u64() > Some(0)
                        && v["self_stake_base"].as_u64() < Some(1_000_000_000_000_000)
                })
            })
        })
    });
    // The others noticed it on the wire, and the chain goes on.
    assert!(nodes[0..3]
        .iter()
        .any(|n| n.log().contains("consensus.evidence")));
    let h = nodes[0].finalized().unwrap();
    wait_until(&nodes, "progress after the slashing", || {
        nodes[0].finalized().is_some_and(|f| f >= h + 3)
    });
}

#[test]
fn a_bad_bootnode_or_a_port_in_use_fails_at_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let (p2p, api) = free_ranges(4);
    let _ = init(&net, p2p, api);
    let home = net.join("node1");
    let run = |home: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sherd"))
            .args(["node", "run", "--home"])
            .arg(home)
            .env_remove("SHERD_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (status, err);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the node did not stop on bad configuration");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // The libp2p port is taken by another process.
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    let holder = TcpListener::bind(("127.0.0.1", p2p + 1)).unwrap();
    let (status, err) = run(&home);
    assert!(!status.success());
    assert!(
        err.contains("cannot listen on") && err.contains("in use"),
        "{err}"
    );
    drop(holder);

    // A bootnode without its peer id.
    let bad = config.replace("/p2p/", "/x/");
    std::fs::write(home.join("config.toml"), &bad).unwrap();
    let (status, err) = run(&home);
    assert!(!status.success());
    assert!(err.contains("bootnode"), "{err}");

    // An unknown key (a typo) in the config.
    std::fs::write(home.join("config.toml"), config.replace("listen", "lisen")).unwrap();
    let (status, err) = run(&home);
    assert!(!status.success());
    assert!(err.contains("config.toml"), "{err}");
    std::fs::write(home.join("config.toml"), &config).unwrap();

    // A key file others may read: refused, with the fix, and the secret
    // never printed.
    #[cfg(unix)]
    for key in ["node.key", "validator.key", "validator.bls"] {
        use std::os::unix::fs::PermissionsExt;
        let path = home.join(key);
        let secret = std::fs::read_to_string(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (status, err) = run(&home);
        assert!(!status.success());
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{key}: {err}"
        );
        let secret_hex = secret
            .split('"')
            .skip_while(|s| *s != "secret_key")
            .nth(2)
            .unwrap()
            .to_string();
        assert!(!err.contains(&secret_hex), "{key}: the secret was printed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
