//! A dev chain in-process on a temporary home, driven through the HTTP
//! API on a free loopback port: faucet, a signed transfer, bad input, and
//! a restart that keeps height, state root and balances.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use sherd_ledger::tx::kind::Transfer;
use sherd_ledger::{Address, Amount, ChainId, TxBody, TxKind};
use sherd_node::{run_dev, DevConfig, DevNode};

use crate::http::{get, post};

const WAIT: Duration = Duration::from_secs(30);

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn start(rt: &tokio::runtime::Runtime, home: &std::path::Path) -> DevNode {
    let config = DevConfig::new(home.to_path_buf(), "127.0.0.1:0".parse().unwrap());
    rt.block_on(async { tokio::time::timeout(WAIT, run_dev(config)).await })
        .expect("node start timed out")
        .expect("node starts")
}

pub(crate) fn stop(rt: &tokio::runtime::Runtime, node: DevNode) {
    rt.block_on(async { tokio::time::timeout(WAIT, node.shutdown()).await })
        .expect("node stop timed out")
        .expect("node stops cleanly");
}

/// Polls until the transaction is finalized; answers it.
pub(crate) fn wait_finalized(api: SocketAddr, hash: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, tx) = get(api, &format!("/v1/txs/{hash}"));
        if code == 200 && tx["status"] == "finalized" {
            return tx;
        }
        assert!(
            Instant::now() < deadline,
            "{hash} not final in time: {code} {tx}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn balance(api: SocketAddr, address: &Address) -> u64 {
    let (code, account) = get(api, &format!("/v1/accounts/{address}"));
    assert_eq!(code, 200, "{account}");
    account["balance_base"].as_u64().unwrap()
}

/// Grants `tokens` to `key`'s account from the faucet and waits until the
/// grant is final.
pub(crate) fn fund(api: SocketAddr, key: &SigningKey, tokens: &str) {
    let address = Address::from(&key.verifying_key());
    let (code, grant) = post(
        api,
        "/v1/faucet",
        &format!(r#"{{"address":"{address}","amount":"{tokens}"}}"#),
    );
    assert_eq!(code, 202, "{grant}");
    wait_finalized(api, grant["hash"].as_str().unwrap());
}

pub(crate) fn transfer(
    key: &SigningKey,
    chain: &str,
    nonce: u64,
    to: Address,
    amount: u64,
) -> String {
    let body = TxBody {
        chain_id: ChainId::new(chain).unwrap(),
        sender: Address::from(&key.verifying_key()),
        nonce,
        fee: Amount(1_000),
        kind: TxKind::Transfer(Transfer {
            to,
            amount: Amount(amount),
        }),
    };
    hex::encode(body.sign(key).unwrap().to_bytes().unwrap())
}

#[test]
fn dev_chain_finalizes_transfers_and_restarts_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start(&rt, dir.path());
    let api = node.api;

    let (code, status) = get(api, "/v1/status");
    assert_eq!(code, 200);
    assert_eq!(status["chain_id"], "sherd-dev");
    assert_eq!(status["dev"], true);
    assert_eq!(status["faucet"], true);

    let alice = SigningKey::from_bytes(&[11; 32]);
    let bob = Address([22; 32]);
    let alice_address = Address::from(&alice.verifying_key());

    // Faucet: 100 tokens to alice.
    let (code, grant) = post(
        api,
        "/v1/faucet",
        &format!(r#"{{"address":"{alice_address}","amount":"100"}}"#),
    );
    assert_eq!(code, 202, "{grant}");
    assert_eq!(grant["amount_base"], 100_000_000_000u64);
    let hash = grant["hash"].as_str().unwrap().to_string();
    wait_finalized(api, &hash);
    assert_eq!(balance(api, &alice_address), 100_000_000_000);
    let (code, again) = post(
        api,
        "/v1/faucet",
        &format!(r#"{{"address":"{alice_address}"}}"#),
    );
    assert_eq!((code, again["code"].as_str()), (429, Some("rate_limited")));

    // A transfer signed here, submitted as hex.
    let tx = transfer(&alice, "sherd-dev", 0, bob, 7_500_000_000);
    let (code, submitted) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(code, 202, "{submitted}");
    let hash = submitted["hash"].as_str().unwrap().to_string();
    let finalized = wait_finalized(api, &hash);
    assert_eq!(finalized["outcome"], "success");
    assert_eq!(finalized["kind"], "transfer");
    assert_eq!(finalized["sender"], alice_address.to_string());
    let height = finalized["height"].as_u64().unwrap();
    assert_eq!(balance(api, &bob), 7_500_000_000);
    assert_eq!(
        balance(api, &alice_address),
        100_000_000_000 - 7_500_000_000 - 1_000
    );
    let (_, history) = get(api, &format!("/v1/accounts/{alice_address}/txs"));
    let hashes: Vec<&str> = history["txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, vec![hash.as_str(), grant["hash"].as_str().unwrap()]);
    let (_, block) = get(api, &format!("/v1/blocks/{height}"));
    assert!(block["txs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == hash.as_str()));

    // Bad input: each a 4xx with its code, nothing changes.
    let (code, e) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(
        (code, e["code"].as_str()),
        (422, Some("rejected")),
        "replay: {e}"
    );
    let other_chain = transfer(&alice, "sherd-other", 1, bob, 1);
    let (code, e) = post(api, "/v1/txs", &format!(r#"{{"tx":"{other_chain}"}}"#));
    assert_eq!(
        (code, e["code"].as_str()),
        (422, Some("rejected")),
        "chain: {e}"
    );
    let mut forged = hex::decode(transfer(&alice, "sherd-dev", 1, bob, 1)).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let (code, e) = post(
        api,
        "/v1/txs",
        &format!(r#"{{"tx":"{}"}}"#, hex::encode(forged)),
    );
    assert_eq!(
        (code, e["code"].as_str()),
        (400, Some("bad_transaction")),
        "{e}"
    );
    let (code, e) = post(api, "/v1/txs", "{ not json");
    assert_eq!((code, e["code"].as_str()), (400, Some("bad_request")));
    let (code, e) = post(api, "/v1/txs", r#"{"tx":"xyz"}"#);
    assert_eq!((code, e["code"].as_str()), (400, Some("bad_transaction")));
    let (code, e) = get(api, "/v1/accounts/sherd1notanaddress");
    assert_eq!((code, e["code"].as_str()), (400, Some("bad_address")));
    let (code, e) = get(api, &format!("/v1/txs/{}", "00".repeat(32)));
    assert_eq!((code, e["code"].as_str()), (404, Some("not_found")));
    let (code, e) = get(api, "/v1/blocks/99999999");
    assert_eq!((code, e["code"].as_str()), (404, Some("not_found")));
    let (code, e) = get(api, "/v1/faucet");
    assert_eq!((code, e["code"].as_str()), (405, Some("bad_request")));
    let (code, validators) = get(api, "/v1/validators");
    assert_eq!(code, 200);
    assert_eq!(validators["validators"][0]["status"], "active");

    // Restart from the same home.
    let (_, before) = get(api, "/v1/status");
    let before_height = before["finalized_height"].as_u64().unwrap();
    let (_, before_block) = get(api, &format!("/v1/blocks/{before_height}"));
    stop(&rt, node);

    // A crash after the blocks' commits and before their account index
    // commits (written after each block's): no index rows, the mark at
    // genesis. The restarted node writes them again from the blocks.
    {
        use sherd_node::store::{col, meta, NodeDb};
        let db = NodeDb::open(&dir.path().join("db")).unwrap();
        let mut ops = Vec::new();
        for who in [alice_address, bob] {
            let rows = db.scan(col::ACCOUNT_TXS, &who.0, usize::MAX).unwrap();
            assert!(!rows.is_empty(), "{who} has no index rows to lose");
            ops.extend(
                rows.into_iter()
                    .map(|(key, _)| (col::ACCOUNT_TXS, key, None)),
            );
        }
        ops.push((
            col::META,
            meta::INDEXED.to_vec(),
            Some(0u64.to_be_bytes().to_vec()),
        ));
        db.commit(ops).unwrap();
    }

    let node = start(&rt, dir.path());
    let api = node.api;
    let (code, after) = get(api, "/v1/status");
    assert_eq!(code, 200);
    assert!(after["finalized_height"].as_u64().unwrap() >= before_height);
    let (_, after_block) = get(api, &format!("/v1/blocks/{before_height}"));
    assert_eq!(after_block, before_block);
    assert_eq!(before_block["state_root"], before["state_root"]);
    assert_eq!(balance(api, &bob), 7_500_000_000);
    assert_eq!(wait_finalized(api, &hash)["height"], height);
    let (_, rebuilt) = get(api, &format!("/v1/accounts/{alice_address}/txs"));
    assert_eq!(
        rebuilt, history,
        "alice's history after the index is rebuilt"
    );
    let (_, bobs) = get(api, &format!("/v1/accounts/{bob}/txs"));
    assert_eq!(bobs["txs"][0]["hash"], hash.as_str(), "{bobs}");
    // The chain goes on after the restart: alice's next nonce is 1.
    let tx = transfer(&alice, "sherd-dev", 1, bob, 500_000_000);
    let (code, submitted) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(code, 202, "{submitted}");
    wait_finalized(api, submitted["hash"].as_str().unwrap());
    assert_eq!(balance(api, &bob), 8_000_000_000);
    let (code, _) = crate::http::request(api, "GET", "/metrics", None).unwrap();
    assert_eq!(code, 200);
    stop(&rt, node);
}

#[test]
fn epochs_advance_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let config = || {
        let mut config = DevConfig::new(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
        config.epoch_length = Some(20);
        config.idle_interval = Duration::from_millis(20);
        config
    };
    let start_short = || {
        rt.block_on(async { tokio::time::timeout(WAIT, run_dev(config())).await })
            .expect("node start timed out")
            .expect("node starts")
    };
    let wait_epoch = |api: SocketAddr, epoch: u64| {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (_, status) = get(api, "/v1/status");
            if status["finalized_height"].as_u64() >= Some(epoch * 20) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "epoch {epoch} not reached: {status}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let node = start_short();
    let status = wait_epoch(node.api, 2);
    let height = status["finalized_height"].as_u64().unwrap();
    for h in [1, 19, 20, 39, 40] {
        let (code, block) = get(node.api, &format!("/v1/blocks/{h}"));
        assert_eq!(code, 200, "{block}");
        assert_eq!(block["epoch"].as_u64(), Some(h / 20), "{block}");
    }
    let (_, validators) = get(node.api, "/v1/validators");
    assert!(validators["epoch"].as_u64() >= Some(2));
    stop(&rt, node);

    let node = start_short();
    let (_, after) = get(node.api, "/v1/status");
    assert!(after["finalized_height"].as_u64() >= Some(height));
    wait_epoch(node.api, 3);
    stop(&rt, node);

    // Every unit of the supply is where it should be.
    let db = sherd_node::store::NodeDb::open(&dir.path().join("db")).unwrap();
    let audit = sherd_ledger::audit(&db.state()).unwrap();
    assert!(audit.balanced(), "{audit:?}");
}

#[test]
fn a_block_finalized_but_not_committed_is_recovered_from_its_proposal() {
    // The engine journals the finalization before the node commits the
    // block; a crash in between must not lose the block: on restart the
    // engine reports it final again and the node re-executes it from the
    // PROPOSED record.
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut config = DevConfig::new(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
    config.idle_interval = Duration::from_millis(20);
    config.hooks = sherd_node::hooks::Hooks::crash_before_commit_at(3);
    let node = rt
        .block_on(async { tokio::time::timeout(WAIT, run_dev(config.clone())).await })
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while !node.actor_stopped() {
        assert!(Instant::now() < deadline, "the failpoint did not fire");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, status) = get(node.api, "/v1/status");
    assert_eq!(status["finalized_height"], 2, "{status}");
    let stopped = rt.block_on(async { tokio::time::timeout(WAIT, node.shutdown()).await });
    assert!(stopped.unwrap().is_err(), "the actor reports its failure");

    config.hooks = sherd_node::hooks::Hooks::default();
    let node = rt
        .block_on(async { tokio::time::timeout(WAIT, run_dev(config)).await })
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, status) = get(node.api, "/v1/status");
        if status["finalized_height"].as_u64() >= Some(4) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no progress after the restart: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, block3) = get(node.api, "/v1/blocks/3");
    let (_, block4) = get(node.api, "/v1/blocks/4");
    assert_eq!(block4["parent"], block3["id"]);
    // The same block 3 (view 3), not a new one built in a later view.
    assert_eq!(block3["view"], 3, "{block3}");
    assert!(!node.actor_stopped());
    stop(&rt, node);
}

#[test]
fn a_batch_submission_answers_each_transaction_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start(&rt, dir.path());
    let api = node.api;
    let alice = SigningKey::from_bytes(&[31; 32]);
    fund(api, &alice, "10");

    let bob = Address([32; 32]);
    let good0 = transfer(&alice, "sherd-dev", 0, bob, 5);
    let good1 = transfer(&alice, "sherd-dev", 1, bob, 6);
    let mut forged = hex::decode(transfer(&alice, "sherd-dev", 2, bob, 7)).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1; // the signature's last byte
    let forged = hex::encode(forged);
    let too_far = transfer(&alice, "sherd-dev", 500, bob, 8);
    let body = format!(r#"{{"txs":["{good0}","zz","{forged}","{good1}","{too_far}","{good0}"]}}"#);
    let (code, answer) = post(api, "/v1/txs/batch", &body);
    assert_eq!(code, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 6, "{answer}");
    let codes: Vec<Option<&str>> = results.iter().map(|r| r["code"].as_str()).collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some("bad_transaction"),
            Some("bad_transaction"),
            None,
            Some("rejected"),
            None,
        ],
        "{answer}"
    );
    // Submitting a pending transaction again is harmless: the same hash.
    assert_eq!(results[5]["hash"], results[0]["hash"]);
    assert!(results[1]["error"].as_str().unwrap().contains("txs[1]"));
    for i in [0, 3] {
        wait_finalized(api, results[i]["hash"].as_str().unwrap());
    }
    assert_eq!(balance(api, &bob), 11);

    for bad in [
        "{}".to_string(),
        r#"{"txs":[]}"#.to_string(),
        format!(
            r#"{{"txs":[{}]}}"#,
            vec![format!("\"{good0}\""); 1_025].join(",")
        ),
    ] {
        let (code, e) = post(api, "/v1/txs/batch", &bad);
        assert_eq!(
            (code, e["code"].as_str()),
            (400, Some("bad_request")),
            "{e}"
        );
    }
    stop(&rt, node);
}
