//! The OpenAPI document (`GET /v1/openapi.json`) against the router and
//! the answers of a live dev chain: every route the router serves is in
//! the document and every documented route is served; the document is
//! OpenAPI 3.1 with every `$ref` resolving; and real answers have the
//! fields their documented schemas say.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use sherd_ledger::Address;
use sherd_node::{run_dev, DevConfig, DevNode};

use crate::http::{get, post, request};

const WAIT: Duration = Duration::from_secs(30);
/// The methods probed on every route.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

fn start(rt: &tokio::runtime::Runtime, home: &std::path::Path) -> DevNode {
    let config = DevConfig::new(home.to_path_buf(), "127.0.0.1:0".parse().unwrap());
    rt.block_on(async { tokio::time::timeout(WAIT, run_dev(config)).await })
        .expect("node start timed out")
        .expect("node starts")
}

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

/// Why `value` does not fit `schema` (a small checker for what the
/// document uses: `$ref`, `oneOf`, `type` (or a list of types),
/// `properties`, `required`, `items`, `enum`); `None` if it fits.
fn misfit(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        return if options.iter().any(|o| misfit(doc, o, value, at).is_none()) {
            None
        } else {
            Some(format!("{at}: {value} fits none of {}", schema["oneOf"]))
        };
    }
    let found = type_of(value);
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return None, // any value (e.g. the document's own body)
    };
    let fits = allowed
        .iter()
        .any(|t| *t == found || (*t == "number" && found == "integer"));
    if !fits {
        return Some(format!("{at}: {value} is {found}, documented {allowed:?}"));
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(value) {
            return Some(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    return Some(format!("{at}: required `{name}` is missing"));
                }
            }
            let properties = properties?;
            for (k, v) in map {
                let Some(s) = properties.get(k) else {
                    return Some(format!("{at}: `{k}` is not documented"));
                };
                if let Some(e) = misfit(doc, s, v, &format!("{at}.{k}")) {
                    return Some(e);
                }
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| misfit(doc, &schema["items"], v, &format!("{at}[{i}]"))),
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

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
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
    // The explorer's browsing routes are served without a description yet:
    // exactly those, no more and no fewer.
    let browsing: BTreeSet<(String, String)> = sherd_node::browse::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        routed
            .difference(&documented)
            .filter(|r| !browsing.contains(*r))
            .collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not in the OpenAPI document"
    );
    assert_eq!(
        browsing.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "listed in browse::ROUTES but not served"
    );
    assert!(
        browsing.is_disjoint(&documented),
        "a browsing route is documented now: take it out of browse::ROUTES"
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

    // Real answers have the documented fields and types.
    let alice = Address([41; 32]);
    let (code, grant) = post(
        api,
        "/v1/faucet",
        &format!(r#"{{"address":"{alice}","amount":"5"}}"#),
    );
    conforms(&doc, "POST", "/v1/faucet", code, &grant);
    let hash = grant["hash"].as_str().unwrap().to_string();
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, tx) = get(api, &format!("/v1/txs/{hash}"));
        conforms(&doc, "GET", "/v1/txs/{hash}", code, &tx);
        if tx["status"] == "finalized" {
            break;
        }
        assert!(Instant::now() < deadline, "{hash} not final in time");
        std::thread::sleep(Duration::from_millis(100));
    }
    let zero = "0".repeat(64);
    for (path, concrete) in [
        ("/v1/status", "/v1/status".to_string()),
        ("/v1/accounts/{addr}", format!("/v1/accounts/{alice}")),
        ("/v1/accounts/{addr}", "/v1/accounts/nope".to_string()),
        (
            "/v1/accounts/{addr}/txs",
            format!("/v1/accounts/{alice}/txs"),
        ),
        ("/v1/blocks/{height}", "/v1/blocks/latest".to_string()),
        ("/v1/blocks/{height}", "/v1/blocks/0".to_string()),
        ("/v1/txs/{hash}", format!("/v1/txs/{zero}")),
        ("/v1/validators", "/v1/validators".to_string()),
        ("/v1/providers", "/v1/providers".to_string()),
        ("/v1/repairs", "/v1/repairs".to_string()),
        ("/v1/contracts/{id}", format!("/v1/contracts/{zero}")),
        ("/v1/endpoints/{addr}", format!("/v1/endpoints/{alice}")),
        ("/v1/node", "/v1/node".to_string()),
        ("/v1/provider", "/v1/provider".to_string()),
    ] {
        let (code, answer) = get(api, &concrete);
        conforms(&doc, "GET", path, code, &answer);
    }
    let (code, answer) = post(api, "/v1/txs/batch", r#"{"txs":["zz"]}"#);
    conforms(&doc, "POST", "/v1/txs/batch", code, &answer);
    let (code, answer) = post(api, "/v1/txs", r#"{"tx":"zz"}"#);
    conforms(&doc, "POST", "/v1/txs", code, &answer);
    rt.block_on(async { tokio::time::timeout(WAIT, node.shutdown()).await })
        .expect("node stop timed out")
        .expect("node stops cleanly");
}

/// The checker itself finds what does not fit.
#[test]
fn the_schema_checker_refuses_misfits() {
    let doc: Value = serde_json::json!({
        "components": { "schemas": { "T": {
            "type": "object",
            "required": ["n"],
            "properties": {
                "n": { "type": "integer" },
                "s": { "type": ["string", "null"], "enum": ["a", null] },
                "l": { "type": "array", "items": { "type": "boolean" } }
            }
        } } }
    });
    let schema = serde_json::json!({ "$ref": "#/components/schemas/T" });
    let ok = serde_json::json!({ "n": 1, "s": null, "l": [true] });
    assert_eq!(misfit(&doc, &schema, &ok, "t"), None);
    for bad in [
        serde_json::json!({ "s": "a" }),
        serde_json::json!({ "n": "1" }),
        serde_json::json!({ "n": 1, "s": "b" }),
        serde_json::json!({ "n": 1, "l": [1] }),
        serde_json::json!({ "n": 1, "x": 0 }),
    ] {
        assert!(misfit(&doc, &schema, &bad, "t").is_some(), "{bad}");
    }
}
