//! The browsing routes and the explorer's files on a dev chain: good
//! input answers the typed shapes of `sherd_wallet::client::browse`, bad
//! input (garbage, huge numbers, out-of-range limits, unknown parameters)
//! `400`, unknown ids `404`, always with `{ "error", "code" }`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::Value;
use sherd_ledger::Address;
use sherd_wallet::client::{
    ActivityReport, BlockInfo, BlockPage, ContractPage, FinalityReport, Peers, ProviderStatsList,
    SearchHit, SearchKind, TxFields, TxPage,
};

use crate::dev_chain::{fund, runtime, start, stop, transfer, wait_finalized};
use crate::http::{get, post};

fn typed<T: serde::de::DeserializeOwned>(api: SocketAddr, path: &str) -> T {
    let (code, body) = get(api, path);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("GET {path} is not the documented shape ({e}): {body}"))
}

/// `GET path` must fail with `status` and an error naming `needle`.
fn refused(api: SocketAddr, path: &str, status: u16, needle: &str) {
    let (code, body) = get(api, path);
    assert_eq!(code, status, "GET {path}: {body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(body["code"].is_string(), "GET {path}: {body}");
    assert!(
        error.contains(needle),
        "GET {path}: `{error}` should mention `{needle}`"
    );
}

/// One raw GET: status, headers (lowercase), body.
fn raw(api: SocketAddr, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&api, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {api}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&bytes[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, bytes[split + 4..].to_vec())
}

#[test]
fn browsing_routes_answer_typed_pages_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start(&rt, dir.path());
    let api = node.api;

    // A faucet grant and a transfer to look at.
    let alice = SigningKey::from_bytes(&[31; 32]);
    let alice_address = Address::from(&alice.verifying_key());
    let bob = Address([32; 32]);
    fund(api, &alice, "50");
    let tx = transfer(&alice, "sherd-dev", 0, bob, 2_500_000_000);
    let (code, submitted) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(code, 202, "{submitted}");
    let hash = submitted["hash"].as_str().unwrap().to_string();
    let done = wait_finalized(api, &hash);
    let height = done["height"].as_u64().unwrap();

    // Blocks: newest first, bounded, paged.
    let page: BlockPage = typed(api, "/v1/blocks?limit=3");
    assert!(!page.blocks.is_empty() && page.blocks.len() <= 3);
    assert!(page
        .blocks
        .windows(2)
        .all(|w| w[0].height == w[1].height + 1));
    let top = page.blocks[0].height;
    assert!(top >= height);
    let below: BlockPage = typed(api, &format!("/v1/blocks?before={height}&limit=100"));
    assert_eq!(below.blocks.first().map(|b| b.height), Some(height - 1));
    assert_eq!(below.blocks.last().map(|b| b.height), Some(1));
    assert_eq!(below.next_before, None);
    let one: BlockPage = typed(api, "/v1/blocks?before=2&limit=1");
    assert_eq!(one.blocks.len(), 1);
    assert_eq!(one.next_before, None);
    let beyond: BlockPage = typed(api, "/v1/blocks?before=18446744073709551615");
    // A `before` past the head starts at the head.
    assert!(beyond.blocks[0].height >= top);
    refused(api, "/v1/blocks?limit=0", 400, "`limit`");
    refused(api, "/v1/blocks?limit=101", 400, "from 1 to 100");
    refused(api, "/v1/blocks?limit=abc", 400, "`limit`");
    refused(api, "/v1/blocks?before=0", 400, "`before`");
    refused(
        api,
        "/v1/blocks?before=99999999999999999999999",
        400,
        "`before`",
    );
    refused(
        api,
        "/v1/blocks?colour=red",
        400,
        "unknown parameter `colour`",
    );

    // A block by id is the block by height.
    let by_height: BlockInfo = typed(api, &format!("/v1/blocks/{height}"));
    let by_id: BlockInfo = typed(api, &format!("/v1/blocks/by-id/{}", by_height.id));
    assert_eq!(by_id, by_height);
    assert!(by_id.txs.contains(&hash));
    refused(api, "/v1/blocks/by-id/nothex", 400, "not a block id");
    refused(
        api,
        &format!("/v1/blocks/by-id/{}", "0".repeat(64)),
        404,
        "no finalized block",
    );

    // A block's transactions.
    let txs: TxPage = typed(api, &format!("/v1/blocks/{height}/txs"));
    let ours = txs
        .txs
        .iter()
        .find(|t| t.hash.to_string() == hash)
        .expect("the transfer is in its block");
    assert_eq!(ours.kind, "transfer");
    assert_eq!(ours.sender, alice_address);
    assert_eq!(ours.to, Some(bob));
    assert_eq!(ours.amount.map(|a| a.0), Some(2_500_000_000));
    assert_eq!(ours.fee.0, done["fee_base"].as_u64().unwrap());
    refused(
        api,
        "/v1/blocks/0/txs",
        404,
        "no finalized block at height 0",
    );
    refused(
        api,
        "/v1/blocks/99999999999999999999/txs",
        400,
        "not a block height",
    );
    refused(
        api,
        &format!("/v1/blocks/{height}/txs?limit=1000"),
        400,
        "`limit`",
    );

    // Recent transactions: the transfer, newest first.
    let recent: TxPage = typed(api, &format!("/v1/txs?before={}", height + 1));
    assert_eq!(
        recent.txs.first().map(|t| t.hash.to_string()),
        Some(hash.clone())
    );
    assert!(recent.txs.windows(2).all(|w| w[0].height >= w[1].height));
    refused(api, "/v1/txs?limit=-1", 400, "`limit`");

    // A transaction's fields.
    let fields: TxFields = typed(api, &format!("/v1/txs/{hash}/fields"));
    assert_eq!(fields.kind, "transfer");
    let field = |name: &str| {
        fields
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    assert_eq!(field("to"), Some(bob.to_string()));
    assert_eq!(field("amount"), Some("2.5".to_string()));
    refused(api, "/v1/txs/zz/fields", 400, "not a transaction hash");
    refused(
        api,
        &format!("/v1/txs/{}/fields", "1".repeat(64)),
        404,
        "unknown",
    );

    // An account's history, as summaries.
    let history: TxPage = typed(api, &format!("/v1/accounts/{bob}/history"));
    assert_eq!(history.txs.len(), 1);
    assert_eq!(history.txs[0].hash.to_string(), hash);
    refused(
        api,
        "/v1/accounts/sherd1nope/history",
        400,
        "not a sherd address",
    );
    refused(
        api,
        &format!("/v1/accounts/{bob}/history?limit=0"),
        400,
        "`limit`",
    );

    // Contracts, providers, validators: a dev chain has no market.
    let contracts: ContractPage = typed(api, "/v1/contracts");
    assert_eq!((contracts.total, contracts.next_offset), (0, None));
    refused(api, "/v1/contracts?offset=x", 400, "`offset`");
    let stats: ProviderStatsList = typed(api, "/v1/providers/stats");
    assert!(stats.providers.is_empty());
    let activity: ActivityReport = typed(api, "/v1/validators/activity?blocks=500");
    assert_eq!(activity.validators.len(), 1, "{activity:?}");
    assert_eq!(activity.from_height, 1);
    let counted = activity.to_height - activity.from_height + 1;
    assert_eq!(activity.validators[0].proposed, counted);
    assert!(activity.validators[0].signed >= 1);
    refused(api, "/v1/validators/activity?blocks=501", 400, "`blocks`");

    // Finality as this node measured it; peers of a dev chain.
    let finality: FinalityReport = typed(api, "/v1/finality");
    assert!(finality.samples.iter().any(|s| s.height == height));
    assert!(finality
        .samples
        .iter()
        .all(|s| s.committed_ms >= s.timestamp_ms || s.latency_ms == 0));
    let peers: Peers = typed(api, "/v1/peers");
    assert!(!peers.networked && peers.count == 0);

    // Search.
    let search = |q: &str| -> SearchHit { typed(api, &format!("/v1/search?q={q}")) };
    let hit = search(&height.to_string());
    assert_eq!((hit.kind, hit.key), (SearchKind::Block, height.to_string()));
    let hit = search(&by_height.id);
    assert_eq!((hit.kind, hit.key), (SearchKind::Block, height.to_string()));
    let hit = search(&hash);
    assert_eq!(
        (hit.kind, hit.key.as_str()),
        (SearchKind::Tx, hash.as_str())
    );
    let hit = search(&hash.to_uppercase());
    assert_eq!(hit.kind, SearchKind::Tx);
    let hit = search(&bob.to_string());
    assert_eq!((hit.kind, hit.key), (SearchKind::Account, bob.to_string()));
    refused(api, "/v1/search?q=", 400, "search for an address");
    refused(api, "/v1/search", 400, "search for an address");
    refused(api, "/v1/search?q=hello%20world", 400, "is not an address");
    refused(api, "/v1/search?q=sherd1qqqq", 400, "not a sherd address");
    refused(
        api,
        "/v1/search?q=123456789012345678901234567890",
        400,
        "too large",
    );
    refused(
        api,
        "/v1/search?q=18446744073709551615",
        404,
        "no block at height",
    );
    refused(api, "/v1/search?q=0", 404, "genesis");
    refused(
        api,
        &format!("/v1/search?q={}", "ab".repeat(32)),
        404,
        "no transaction, block or contract",
    );
    refused(
        api,
        &format!("/v1/search?q={}", "a".repeat(300)),
        400,
        "too long",
    );

    // The explorer's files: types, revalidation, 304, unknown paths 404.
    let (status, head, body) = raw(api, "/", "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("/explorer/app.js"));
    for (path, kind) in [
        ("/explorer/app.js", "text/javascript"),
        ("/explorer/style.css", "text/css"),
        ("/explorer/icon.svg", "image/svg+xml"),
    ] {
        let (status, head, body) = raw(api, path, "");
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("content-type: {kind}")),
            "{path}: {head}"
        );
        assert!(!body.is_empty());
        let etag = head
            .lines()
            .find_map(|l| l.strip_prefix("etag: "))
            .expect("an etag")
            .to_string();
        let (status, _, body) = raw(api, path, &format!("If-None-Match: {etag}\r\n"));
        assert_eq!((status, body.len()), (304, 0), "{path}");
    }
    let (status, _, body) = raw(api, "/explorer/missing.js", "");
    assert_eq!(status, 404);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "not_found");

    stop(&rt, node);
}
