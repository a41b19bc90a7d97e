//! `GET /metrics` of a live dev node: after some traffic (a faucet grant,
//! a transfer, a replay refused) the chain's histograms have samples, and
//! `promtool check metrics`, Prometheus's own linter, accepts the body.
//! promtool must be installed (Debian's `prometheus` package; `.ci/run`
//! installs it): without it the test fails, it does not skip.

use std::io::Write;
use std::process::{Command, Stdio};

use ed25519_dalek::SigningKey;
use sherd_ledger::Address;

use crate::dev_chain::{fund, runtime, start, stop, transfer, wait_finalized};
use crate::http::{post, request_text};

/// The value of the sample `series` (name and labels, as served).
pub(crate) fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{body}"))
}

/// Runs `promtool check metrics` on `body`; fails with what it said.
fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}); it checks the /metrics exposition: \
                 install it with `apt-get install prometheus` (.ci/run does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics refused /metrics ({}):\n{said}\n--- the body ---\n{body}",
        out.status
    );
}

#[test]
fn metrics_of_a_live_node_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start(&rt, dir.path());
    let api = node.api;

    let alice = SigningKey::from_bytes(&[31; 32]);
    fund(api, &alice, "10");
    let tx = transfer(&alice, "sherd-dev", 0, Address([32; 32]), 1_000_000);
    let (code, submitted) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(code, 202, "{submitted}");
    wait_finalized(api, submitted["hash"].as_str().unwrap());
    let (code, replay) = post(api, "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(code, 422, "{replay}");

    let (code, body) = request_text(api, "GET", "/metrics", None).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(sample(&body, "sherd_txs_finalized_total") >= 2.0);
    assert!(sample(&body, "sherd_txs_rejected_total") >= 1.0);
    assert!(sample(&body, "sherd_blocks_built_total") >= 2.0);
    assert!(sample(&body, "sherd_blocks_finalized_total") >= 2.0);
    assert!(sample(&body, "sherd_finalized_height") >= 2.0);
    assert!(sample(&body, "sherd_finality_latency_seconds_count") >= 2.0);
    assert!(
        sample(
            &body,
            "sherd_block_execution_seconds_count{phase=\"build\"}"
        ) >= 2.0
    );
    assert!(
        sample(
            &body,
            "sherd_vote_collection_seconds_count{certificate=\"notarization\"}"
        ) >= 2.0
    );
    assert!(
        sample(
            &body,
            "sherd_vote_collection_seconds_count{certificate=\"finalization\"}"
        ) >= 2.0
    );
    promtool_check(&body);
    stop(&rt, node);
}
