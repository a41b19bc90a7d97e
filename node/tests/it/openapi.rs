//! The OpenAPI document (`GET /v1/openapi.json`) against the router and
//! the answers of a live dev chain: every route the router serves is in
//! the document and every documented route is served, but for the
//! explorer's files; the document is OpenAPI 3.1 with every `$ref`
//! resolving; on a chain with transfers, providers, a contract and a
//! failed proof batch, every documented operation answers what its schema
//! allows, each at least once with success (but for the few a dev chain
//! cannot give), and the bounds documented for query parameters are the
//! ones the handlers keep.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sherd_ledger::state::market::{acceptance_message, contract_id};
use sherd_ledger::tx::kind::{AdvertiseCapacity, CreateContract, FragmentDeal, ProofAnswer};
use sherd_ledger::{Address, Amount, ChainId, Hash, Transaction};
use sherd_wallet::build::{self, TxParams, TxSigner, DEFAULT_FEE};

use crate::dev_chain::{runtime, start, stop};
use crate::http::{get, post, request};

const WAIT: Duration = Duration::from_secs(30);
/// The methods probed on every route.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// The paths the router matches, from its `Debug` form (axum lists them;
/// it has no other way to enumerate a router's routes). Only the main
/// path router, not the fallback's.
fn router_paths() -> BTreeSet<String> {
    let text = format!("{:?}", sherd_node::api::routes());
    let main = text
        .split_once("fallback_router")
        .map_or(text.as_str(), |(main, _)| main);
    let (_, paths) = main
        .split_once("paths: {")
        .expect("axum's Router Debug lists `paths: {…}`; its format changed: update this parser");
    // `{RouteId(0): "/v1/status", …}` up to the closing brace outside quotes.
    let mut found = BTreeSet::new();
    let mut quoted: Option<String> = None;
    for c in paths.chars() {
        match (&mut quoted, c) {
            (Some(path), '"') => {
                found.insert(std::mem::take(path));
                quoted = None;
            }
            (Some(path), c) => path.push(c),
            (None, '"') => quoted = Some(String::new()),
            (None, '}') => break,
            (None, _) => {}
        }
    }
    found
}

/// `path` with every `{param}` filled: axum matches any segment, and the
/// handler's own answer (even a 400) shows the route exists.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the live router serves `method` on `path`: neither the
/// unknown-route answer nor the unknown-method one.
fn served(api: SocketAddr, method: &str, path: &str) -> bool {
    let (code, body) = request(api, method, &concrete(path), Some("")).expect("the node answers");
    let unknown_route = code == 404 && body["error"] == sherd_node::api::NO_SUCH_ROUTE;
    !(unknown_route || code == 405)
}

/// Every `$ref` of `value`, with where it is.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(v, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// What `$ref` points at, if it is one (a response may be a reference).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => schema,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The schema keywords [`misfit`] checks.
const CHECKED: [&str; 12] = [
    "$ref",
    "allOf",
    "anyOf",
    "oneOf",
    "type",
    "enum",
    "minimum",
    "maximum",
    "properties",
    "additionalProperties",
    "required",
    "items",
];
/// Keywords that describe a value without constraining it.
const ANNOTATIONS: [&str; 8] = [
    "description",
    "example",
    "examples",
    "title",
    "summary",
    "format",
    "default",
    "deprecated",
];

/// Why `value` does not fit `schema`, a JSON Schema of the document;
/// `None` if it fits. It checks the keywords of [`CHECKED`] and, stricter
/// than JSON Schema, refuses a field that `properties` does not list
/// unless `additionalProperties` allows it (the API documents every field
/// it sends). It refuses a schema with any other keyword but
/// annotations: a new kind of schema cannot pass unchecked.
fn misfit(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let Some(keywords) = schema.as_object() else {
        return Some(format!("{at}: the schema {schema} is not an object"));
    };
    if let Some(unknown) = keywords
        .keys()
        .find(|k| !CHECKED.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str()))
    {
        return Some(format!(
            "{at}: the checker does not know `{unknown}` (in {schema}): teach it"
        ));
    }
    if let Some(r) = keywords.get("$ref") {
        let target = r
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| doc.pointer(pointer));
        let Some(target) = target else {
            return Some(format!("{at}: {r} does not resolve"));
        };
        if let Some(e) = misfit(doc, target, value, at) {
            return Some(e);
        }
    }
    // The options `value` does not fit, with why, and how many it fits.
    let options = |key: &str| -> Option<(Vec<String>, usize)> {
        let options = keywords.get(key)?.as_array()?;
        let misfits: Vec<String> = options
            .iter()
            .filter_map(|o| misfit(doc, o, value, at))
            .collect();
        let fits = options.len() - misfits.len();
        Some((misfits, fits))
    };
    if let Some(parts) = keywords.get("allOf").and_then(Value::as_array) {
        if let Some(e) = parts.iter().find_map(|p| misfit(doc, p, value, at)) {
            return Some(e);
        }
    }
    if let Some((misfits, 0)) = options("anyOf") {
        return Some(format!("{at}: fits none of `anyOf`: {misfits:#?}"));
    }
    match options("oneOf") {
        Some((misfits, 0)) => return Some(format!("{at}: fits none of `oneOf`: {misfits:#?}")),
        Some((_, n)) if n > 1 => {
            return Some(format!(
                "{at}: {value} fits {n} of `oneOf`, not exactly one"
            ))
        }
        _ => {}
    }
    let found = type_of(value);
    let allowed: Vec<&str> = match keywords.get("type") {
        None => Vec::new(),
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        Some(other) => return Some(format!("{at}: `type` {other} is not a type")),
    };
    let fits = allowed.is_empty()
        || allowed
            .iter()
            .any(|t| *t == found || (*t == "number" && found == "integer"));
    if !fits {
        return Some(format!("{at}: {value} is {found}, documented {allowed:?}"));
    }
    if let Some(values) = keywords.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Some(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), keywords.get("minimum")) {
        if min.as_f64().is_none_or(|min| n < min) {
            return Some(format!("{at}: {value} is below the minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), keywords.get("maximum")) {
        if max.as_f64().is_none_or(|max| n > max) {
            return Some(format!("{at}: {value} is above the maximum {max}"));
        }
    }
    match value {
        Value::Object(map) => {
            for name in keywords
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    return Some(format!("{at}: required `{name}` is missing"));
                }
            }
            let properties = keywords.get("properties").and_then(Value::as_object);
            let additional = keywords.get("additionalProperties");
            if properties.is_none() && additional.is_none() {
                return None; // any object
            }
            map.iter().find_map(|(k, v)| {
                let at = format!("{at}.{k}");
                match (properties.and_then(|p| p.get(k)), additional) {
                    (Some(s), _) => misfit(doc, s, v, &at),
                    (None, Some(Value::Bool(true))) => None,
                    (None, Some(s @ Value::Object(_))) => misfit(doc, s, v, &at),
                    (None, _) => Some(format!("{at} is not documented")),
                }
            })
        }
        Value::Array(items) => {
            let schema = keywords.get("items")?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| misfit(doc, schema, v, &format!("{at}[{i}]")))
        }
        _ => None,
    }
}

/// Checks a live answer against the document's schema for it.
fn conforms(doc: &Value, method: &str, path: &str, code: u16, answer: &Value) {
    let response = &doc["paths"][path][method.to_ascii_lowercase()]["responses"][code.to_string()];
    let response = resolve(doc, response);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} answered {code}, which the document does not describe: {answer}"
    );
    if let Some(e) = misfit(doc, schema, answer, &format!("{method} {path} {code}")) {
        panic!("{e}\nanswer: {answer}");
    }
}

/// A live node whose every answer is checked against the document, with
/// the operations that answered and their statuses.
struct Live {
    api: SocketAddr,
    doc: Value,
    answered: BTreeSet<(String, String, u16)>,
}

impl Live {
    fn check(&mut self, method: &str, path: &str, code: u16, answer: &Value) {
        conforms(&self.doc, method, path, code, answer);
        self.answered
            .insert((method.to_string(), path.to_string(), code));
    }

    /// `GET concrete`, an instance of the documented `path`, which must
    /// answer `status`.
    fn get(&mut self, status: u16, path: &str, concrete: &str) -> Value {
        let (code, answer) = get(self.api, concrete);
        assert_eq!(code, status, "GET {concrete}: {answer}");
        self.check("GET", path, code, &answer);
        answer
    }

    /// `POST path`, which must answer `status`.
    fn post(&mut self, status: u16, path: &str, body: &str) -> Value {
        let (code, answer) = post(self.api, path, body);
        assert_eq!(code, status, "POST {path} {body}: {answer}");
        self.check("POST", path, code, &answer);
        answer
    }

    /// Polls the transaction until it is finalized; answers it.
    fn finalized(&mut self, hash: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let tx = self.get(200, "/v1/txs/{hash}", &format!("/v1/txs/{hash}"));
            if tx["status"] == "finalized" {
                return tx;
            }
            assert!(Instant::now() < deadline, "{hash} not final in time: {tx}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The next transaction's parameters for `who`.
    fn params(&mut self, who: &Address) -> TxParams {
        let status = self.get(200, "/v1/status", "/v1/status");
        let account = self.get(200, "/v1/accounts/{addr}", &format!("/v1/accounts/{who}"));
        TxParams {
            chain_id: ChainId::new(status["chain_id"].as_str().unwrap()).unwrap(),
            nonce: account["nonce"].as_u64().unwrap(),
            fee: DEFAULT_FEE,
        }
    }

    /// Submits one transaction and waits until it is final.
    fn run(&mut self, tx: &Transaction) -> Value {
        let hex = hex::encode(tx.to_bytes().unwrap());
        let submitted = self.post(202, "/v1/txs", &json!({ "tx": hex }).to_string());
        self.finalized(submitted["hash"].as_str().unwrap())
    }

    /// Submits transactions in one batch and waits until each is final.
    fn run_batch(&mut self, txs: &[Transaction]) -> Vec<Value> {
        let txs: Vec<String> = txs
            .iter()
            .map(|tx| hex::encode(tx.to_bytes().unwrap()))
            .collect();
        let answer = self.post(200, "/v1/txs/batch", &json!({ "txs": txs }).to_string());
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let hash = r["hash"].as_str().unwrap_or_else(|| panic!("refused: {r}"));
                self.finalized(hash)
            })
            .collect()
    }
}

/// What [`market`] put on chain.
struct Market {
    /// A provider, with its endpoint and terms.
    provider: Address,
    /// The contract's client.
    owner: Address,
    contract: Hash,
    /// The transaction that created the contract, finalized.
    created: Value,
    /// Every transaction, finalized: faucet grants, endpoints, terms, the
    /// contract, the proof batch.
    txs: Vec<Value>,
}

/// Three providers register endpoints and advertise, a client creates a
/// contract with their acceptances, a provider submits a garbage proof
/// (its transaction fails with a reason). Every answer is checked.
fn market(live: &mut Live) -> Market {
    let providers: Vec<SigningKey> = (0..3u8)
        .map(|i| SigningKey::from_bytes(&[60 + i; 32]))
        .collect();
    let owner = SigningKey::from_bytes(&[63; 32]);
    let mut txs = Vec::new();
    for key in providers.iter().chain([&owner]) {
        let body = json!({ "address": key.address().to_string(), "amount": 1000 });
        let grant = live.post(202, "/v1/faucet", &body.to_string());
        txs.push(live.finalized(grant["hash"].as_str().unwrap()));
    }

    let price = Amount(2_000_000_000);
    let terms = AdvertiseCapacity {
        capacity_bytes: 1 << 30,
        price_per_gib_epoch: price,
        collateral_per_gib: Amount(3_000_000_000),
        min_duration_epochs: 1,
        max_duration_epochs: 50,
    };
    let listen: libp2p::Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
    let mut offers = Vec::new();
    for key in &providers {
        let mut p = live.params(&key.address());
        let mut secret = key.to_bytes();
        let peer = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret)
            .unwrap()
            .public()
            .to_peer_id();
        offers.push(
            build::register_provider_endpoint(key, &p, peer.to_bytes(), vec![listen.to_vec()])
                .unwrap(),
        );
        p.nonce += 1;
        offers.push(build::advertise_capacity(key, &p, terms.clone()).unwrap());
    }
    txs.extend(live.run_batch(&offers));

    let p = live.params(&owner.address());
    let chain_id = p.chain_id.clone();
    let id = contract_id(&owner.address(), p.nonce);
    let mut contract = CreateContract {
        object_root: Hash([1; 32]),
        k: 2,
        m: 1,
        fragment_size: 64 * 1024,
        duration_epochs: 3,
        price_per_gib_epoch: price,
        fragments: providers
            .iter()
            .zip(0u8..)
            .map(|(key, i)| FragmentDeal {
                root: Hash([10 + i; 32]),
                provider: key.address(),
                acceptance: ed25519_dalek::Signature::from_bytes(&[0; 64]),
            })
            .collect(),
    };
    for (key, index) in providers.iter().zip(0u32..) {
        let root = contract.fragments[index as usize].root;
        let message =
            acceptance_message(&chain_id, &id, &owner.address(), &contract, index, &root).unwrap();
        contract.fragments[index as usize].acceptance = key.sign(&message);
    }
    let created = live.run(&build::create_contract(&owner, &p, contract).unwrap());
    assert_eq!(created["outcome"], "success", "{created}");
    let contract_info = live.get(200, "/v1/contracts/{id}", &format!("/v1/contracts/{id}"));
    txs.push(created.clone());

    let prover = &providers[0];
    let p = live.params(&prover.address());
    let proof = ProofAnswer {
        contract_id: id,
        fragment_index: 0,
        period: contract_info["first_period"].as_u64().unwrap(),
        proof: vec![0; 32],
    };
    let judged = live.run(&build::submit_proofs(prover, &p, vec![proof]).unwrap());
    assert_eq!(judged["outcome"], "failed", "{judged}");
    txs.push(judged);

    Market {
        provider: prover.address(),
        owner: owner.address(),
        contract: id,
        created,
        txs,
    }
}

/// `answer[field]` is a list that is not empty, so its items' schema was
/// checked.
fn listed<'a>(answer: &'a Value, field: &str) -> &'a [Value] {
    let items = answer[field].as_array().map_or(&[][..], Vec::as_slice);
    assert!(!items.is_empty(), "no `{field}` to check: {answer}");
    items
}

/// Every integer query parameter the document bounds is bounded so by its
/// handler: each bound answers 200, one past it 400. `samples` gives, per
/// path, a concrete URL that answers 200 without the parameter.
fn bounds_hold(live: &mut Live, samples: &BTreeMap<&str, String>) {
    let doc = live.doc.clone();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        for parameter in parameters {
            let schema = &parameter["schema"];
            if parameter["in"] != "query" || schema["type"] != "integer" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap();
            let sample = samples
                .get(path.as_str())
                .unwrap_or_else(|| panic!("give a sample URL of {path} to check `{name}`"));
            let join = if sample.contains('?') { '&' } else { '?' };
            let min = schema["minimum"].as_u64();
            let max = schema["maximum"].as_u64();
            assert!(min.is_some(), "{path}: `{name}` has no documented minimum");
            let mut probes = Vec::new();
            if let Some(min) = min {
                probes.push((200, min.to_string()));
                probes.push((400, (i128::from(min) - 1).to_string()));
            }
            if let Some(max) = max {
                probes.push((200, max.to_string()));
                probes.push((400, (i128::from(max) + 1).to_string()));
            }
            for (status, value) in probes {
                live.get(status, path, &format!("{sample}{join}{name}={value}"));
            }
        }
    }
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start(&rt, dir.path());
    let api = node.api;

    let (code, doc) = get(api, "/v1/openapi.json");
    assert_eq!(code, 200, "{doc}");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    let served_doc = serde_json::to_value(sherd_node::api::openapi()).unwrap();
    assert_eq!(doc, served_doc);

    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty(), "the document has no $ref at all");
    for (at, r) in found {
        assert!(
            r.starts_with("#/") && doc.pointer(&r[1..]).is_some(),
            "{r} at {at} does not resolve"
        );
    }

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .map(move |m| (m.to_string(), path.clone()))
        })
        .collect();
    let paths = router_paths();
    assert!(paths.contains("/v1/status"), "router paths: {paths:?}");
    let routed: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|path| METHODS.iter().map(move |m| (m.to_string(), path.clone())))
        .filter(|(method, path)| served(api, method, path))
        .collect();
    // The explorer's files are pages, not API: they, and nothing else, are
    // served without a description.
    let files: BTreeSet<(String, String)> = sherd_node::browse::EXPLORER_FILES
        .iter()
        .map(|path| ("GET".to_string(), path.to_string()))
        .collect();
    assert_eq!(
        routed
            .difference(&documented)
            .cloned()
            .collect::<BTreeSet<_>>(),
        files,
        "served but not in the OpenAPI document: exactly the explorer's files"
    );
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in the OpenAPI document but not served"
    );
    // Every operation says what its errors look like.
    for (method, path) in &documented {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            op["responses"]["500"].is_object(),
            "{method} {path}: no 500"
        );
    }

    // Real answers fit their documented schemas: on a chain with a faucet
    // grant (a transfer), providers, a contract and a failed proof batch.
    let mut live = Live {
        api,
        doc: doc.clone(),
        answered: BTreeSet::new(),
    };
    live.get(200, "/v1/openapi.json", "/v1/openapi.json");
    let alice = Address([41; 32]);
    let grant = live.post(
        202,
        "/v1/faucet",
        &format!(r#"{{"address":"{alice}","amount":"5"}}"#),
    );
    let granted = live.finalized(grant["hash"].as_str().unwrap());
    let market = market(&mut live);
    let (provider, owner, contract) = (market.provider, market.owner, market.contract);
    let height = market.created["height"].as_u64().unwrap();
    let zero = "0".repeat(64);

    // The core API.
    for (status, path, concrete) in [
        (
            200,
            "/v1/accounts/{addr}/txs",
            format!("/v1/accounts/{alice}/txs"),
        ),
        (400, "/v1/accounts/{addr}", "/v1/accounts/nope".to_string()),
        (200, "/v1/blocks/{height}", "/v1/blocks/latest".to_string()),
        (404, "/v1/blocks/{height}", "/v1/blocks/0".to_string()),
        (400, "/v1/blocks/{height}", "/v1/blocks/x".to_string()),
        (404, "/v1/txs/{hash}", format!("/v1/txs/{zero}")),
        (400, "/v1/txs/{hash}", "/v1/txs/zz".to_string()),
        (200, "/v1/validators", "/v1/validators".to_string()),
        (200, "/v1/providers", "/v1/providers".to_string()),
        (200, "/v1/repairs", "/v1/repairs".to_string()),
        (404, "/v1/contracts/{id}", format!("/v1/contracts/{zero}")),
        (
            200,
            "/v1/endpoints/{addr}",
            format!("/v1/endpoints/{provider}"),
        ),
        (
            404,
            "/v1/endpoints/{addr}",
            format!("/v1/endpoints/{alice}"),
        ),
        (404, "/v1/node", "/v1/node".to_string()),
        (404, "/v1/provider", "/v1/provider".to_string()),
    ] {
        live.get(status, path, &concrete);
    }
    let providers = live.get(200, "/v1/providers", "/v1/providers");
    assert_eq!(listed(&providers, "providers").len(), 3);
    live.post(200, "/v1/txs/batch", r#"{"txs":["zz"]}"#);
    live.post(400, "/v1/txs", r#"{"tx":"zz"}"#);

    // The browsing routes.
    let blocks = live.get(200, "/v1/blocks", "/v1/blocks?limit=100");
    listed(&blocks, "blocks");
    live.get(400, "/v1/blocks", "/v1/blocks?colour=red");
    let block = live.get(200, "/v1/blocks/{height}", &format!("/v1/blocks/{height}"));
    let block_id = block["id"].as_str().unwrap().to_string();
    let path = "/v1/blocks/by-id/{id}";
    live.get(200, path, &format!("/v1/blocks/by-id/{block_id}"));
    live.get(400, path, "/v1/blocks/by-id/nothex");
    live.get(404, path, &format!("/v1/blocks/by-id/{zero}"));
    let path = "/v1/blocks/{height}/txs";
    let txs = live.get(200, path, &format!("/v1/blocks/{height}/txs"));
    listed(&txs, "txs");
    live.get(404, path, "/v1/blocks/0/txs");
    live.get(400, path, "/v1/blocks/x/txs");
    let recent = live.get(200, "/v1/txs", "/v1/txs?limit=100");
    let recent = listed(&recent, "txs");
    assert!(recent.iter().any(|t| t["outcome"] == "failed"));
    assert!(recent.iter().any(|t| t["to"].is_string()));
    assert!(recent.iter().any(|t| t["contract"].is_string()));
    for tx in market.txs.iter().chain([&granted]) {
        let hash = tx["hash"].as_str().unwrap();
        let fields = live.get(
            200,
            "/v1/txs/{hash}/fields",
            &format!("/v1/txs/{hash}/fields"),
        );
        assert_eq!(fields["kind"], tx["kind"], "{fields}");
    }
    live.get(400, "/v1/txs/{hash}/fields", "/v1/txs/zz/fields");
    live.get(
        404,
        "/v1/txs/{hash}/fields",
        &format!("/v1/txs/{zero}/fields"),
    );
    let path = "/v1/accounts/{addr}/history";
    let history = live.get(200, path, &format!("/v1/accounts/{owner}/history"));
    listed(&history, "txs");
    live.get(400, path, "/v1/accounts/nope/history");
    let contracts = live.get(200, "/v1/contracts", "/v1/contracts");
    listed(&contracts, "contracts");
    live.get(400, "/v1/contracts", "/v1/contracts?offset=x");
    let stats = live.get(200, "/v1/providers/stats", "/v1/providers/stats");
    assert_eq!(listed(&stats, "providers").len(), 3);
    let path = "/v1/validators/activity";
    let activity = live.get(200, path, path);
    listed(&activity, "validators");
    let finality = live.get(200, "/v1/finality", "/v1/finality");
    listed(&finality, "samples");
    live.get(200, "/v1/peers", "/v1/peers");
    for (status, q) in [
        (200, height.to_string()),
        (200, block_id),
        (200, market.created["hash"].as_str().unwrap().to_string()),
        (200, owner.to_string()),
        (200, contract.to_string()),
        (400, String::new()),
        (400, "sherd1qqqq".to_string()),
        (400, "hello".to_string()),
        (404, "0".to_string()),
        (404, zero.clone()),
    ] {
        live.get(status, "/v1/search", &format!("/v1/search?q={q}"));
    }

    // The documented bounds of the query parameters are the handlers'.
    let samples: BTreeMap<&str, String> = [
        ("/v1/blocks", "/v1/blocks".to_string()),
        (
            "/v1/blocks/{height}/txs",
            format!("/v1/blocks/{height}/txs"),
        ),
        ("/v1/txs", "/v1/txs".to_string()),
        (
            "/v1/accounts/{addr}/history",
            format!("/v1/accounts/{owner}/history"),
        ),
        ("/v1/contracts", "/v1/contracts".to_string()),
        (
            "/v1/validators/activity",
            "/v1/validators/activity".to_string(),
        ),
    ]
    .into();
    bounds_hold(&mut live, &samples);

    // Every operation was checked, each with success but where a dev
    // chain cannot succeed; `/metrics` is text (`tests/it/metrics.rs`).
    let cannot: BTreeSet<(String, String)> = [
        ("GET", "/metrics"),
        ("GET", "/v1/node"),
        ("GET", "/v1/provider"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    let checked: BTreeSet<(String, String)> = live
        .answered
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let succeeded: BTreeSet<(String, String)> = live
        .answered
        .iter()
        .filter(|(_, _, code)| (200..300).contains(code))
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let unchecked: Vec<_> = documented
        .iter()
        .filter(|op| !checked.contains(*op) && op.1 != "/metrics")
        .collect();
    assert!(
        unchecked.is_empty(),
        "no live answer checked: {unchecked:?}"
    );
    let unsucceeded: Vec<_> = documented
        .iter()
        .filter(|op| !succeeded.contains(*op) && !cannot.contains(*op))
        .collect();
    assert!(
        unsucceeded.is_empty(),
        "no successful answer checked: {unsucceeded:?}"
    );
    stop(&rt, node);
}

/// The checker itself finds what does not fit.
#[test]
fn the_schema_checker_refuses_misfits() {
    let doc: Value = json!({
        "components": { "schemas": {
            "T": {
                "type": "object",
                "description": "a T",
                "required": ["n"],
                "properties": {
                    "n": { "type": "integer", "format": "int64", "minimum": 1, "maximum": 9 },
                    "s": { "type": ["string", "null"], "enum": ["a", null] },
                    "l": { "type": "array", "items": { "type": "boolean" } },
                    "u": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/U" }] },
                    "a": { "allOf": [{ "type": "number" }, { "minimum": 0 }] },
                    "b": { "anyOf": [{ "type": "string" }, { "type": "boolean" }] }
                }
            },
            "U": { "type": "string", "enum": ["x"] },
            "Odd": { "type": "string", "pattern": "^a$" },
            "Both": { "oneOf": [{ "type": "string" }, { "type": "string" }] },
            "Map": { "type": "object", "additionalProperties": { "type": "integer" } },
            "Closed": {
                "type": "object",
                "properties": { "n": { "type": "integer" } },
                "additionalProperties": false
            },
            "Dangling": { "$ref": "#/components/schemas/Nothing" }
        } }
    });
    let schema = json!({ "$ref": "#/components/schemas/T" });
    let ok = json!({ "n": 1, "s": null, "l": [true], "u": "x", "a": 0.5, "b": false });
    assert_eq!(misfit(&doc, &schema, &ok, "t"), None);
    assert_eq!(
        misfit(&doc, &schema, &json!({ "n": 9, "u": null }), "t"),
        None
    );
    for bad in [
        json!({ "s": "a" }),
        json!({ "n": "1" }),
        json!({ "n": 0 }),
        json!({ "n": 10 }),
        json!({ "n": 1.5 }),
        json!({ "n": 1, "s": "b" }),
        json!({ "n": 1, "l": [1] }),
        json!({ "n": 1, "x": 0 }),
        json!({ "n": 1, "u": "y" }),
        json!({ "n": 1, "a": -1 }),
        json!({ "n": 1, "a": "1" }),
        json!({ "n": 1, "b": 1 }),
        json!([]),
    ] {
        assert!(misfit(&doc, &schema, &bad, "t").is_some(), "{bad}");
    }
    let map = json!({ "$ref": "#/components/schemas/Map" });
    assert_eq!(misfit(&doc, &map, &json!({ "a": 1, "b": 2 }), "t"), None);
    assert!(misfit(&doc, &map, &json!({ "a": "1" }), "t").is_some());
    let closed = json!({ "$ref": "#/components/schemas/Closed" });
    assert_eq!(misfit(&doc, &closed, &json!({ "n": 1 }), "t"), None);
    assert!(misfit(&doc, &closed, &json!({ "n": 1, "m": 2 }), "t").is_some());
    // What it cannot check, it refuses.
    for name in ["Odd", "Both", "Dangling"] {
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        assert!(misfit(&doc, &schema, &json!("a"), "t").is_some(), "{name}");
    }
}
