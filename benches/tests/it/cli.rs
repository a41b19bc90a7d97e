//! The `sherd-bench-dashboard` binary: a run recorded from criterion's
//! output and `sherd bench` reports, rendered; bad input refused with the
//! file named, never a panic.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn dashboard(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sherd-bench-dashboard"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

const ESTIMATES: &str =
    r#"{"mean":{"point_estimate":910000.0},"median":{"point_estimate":900000.0}}"#;

fn criterion_output(dir: &Path) {
    let new = dir.join("criterion/fragments__encode/sherd/k=10,m=4,shard=1MiB/new");
    fs::create_dir_all(&new).unwrap();
    fs::write(
        new.join("benchmark.json"),
        r#"{"full_id":"fragments::encode/sherd/k=10,m=4,shard=1MiB","throughput":{"Bytes":10485760}}"#,
    )
    .unwrap();
    fs::write(new.join("estimates.json"), ESTIMATES).unwrap();
}

fn record_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "record",
        "--history",
        "history.jsonl",
        "--mode",
        "quick",
        "--commit",
        "abc",
        "--date",
        "2026-12-03T08:00:00Z",
        "--cpu",
        "AMD EPYC",
        "--cores",
        "2",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_run_is_recorded_then_rendered_with_benchmarks_md() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    criterion_output(d);
    fs::write(
        d.join("load.json"),
        r#"{"target_rate":100,"finalized_per_s":99.0,"latency_ms":{"p50":95.0,"p90":120.0,"p99":150.0,"max":160.0}}"#,
    )
    .unwrap();
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures.toml");
    fs::copy(&catalogue, d.join("figures.toml")).unwrap();
    fs::write(
        d.join("B.md"),
        "# B\n\nprose\n<!-- figures:begin -->\n<!-- figures:end -->\nend\n",
    )
    .unwrap();

    let out = dashboard(
        &record_args(&["--criterion", "criterion", "--load", "load.json"]),
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = fs::read_to_string(d.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1);
    assert!(history.contains("fragments::encode/sherd/k=10,m=4,shard=1MiB"));

    let out = dashboard(
        &[
            "render",
            "--history",
            "history.jsonl",
            "--catalogue",
            "figures.toml",
            "--out",
            "page",
            "--benchmarks-md",
            "B.md",
        ],
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = fs::read_to_string(d.join("page/index.html")).unwrap();
    // 10 MiB in 0.9 ms.
    assert!(page.contains("10.9 GiB/s"), "the encode figure is missing");
    assert!(page.contains("95 ms"));
    // A quick run is not quoted in BENCHMARKS.md; the prose stays.
    let md = fs::read_to_string(d.join("B.md")).unwrap();
    assert!(md.starts_with("# B\n\nprose\n<!-- figures:begin -->\n"));
    assert!(md.ends_with("<!-- figures:end -->\nend\n"));
    assert!(md.contains("| RS encode, k=10, m=4, 1 MiB shards | not measured by a full run yet |"));
}

#[test]
fn bad_input_is_refused_naming_the_file_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures.toml");
    fs::copy(&catalogue, d.join("figures.toml")).unwrap();

    // A malformed estimates file.
    criterion_output(d);
    let estimates =
        d.join("criterion/fragments__encode/sherd/k=10,m=4,shard=1MiB/new/estimates.json");
    fs::write(&estimates, "{\"mean\": ").unwrap();
    let out = dashboard(&record_args(&["--criterion", "criterion"]), d);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("k=10,m=4,shard=1MiB/new/estimates.json"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // A load report that is not JSON.
    fs::write(d.join("load.json"), "target 100 tx/s").unwrap();
    let out = dashboard(&record_args(&["--load", "load.json"]), d);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("load.json"), "{err}");

    // A malformed history line: its file and line.
    fs::write(d.join("history.jsonl"), "\n{\"commit\": \"abc\"}\n").unwrap();
    let out = dashboard(
        &[
            "render",
            "--out",
            "page",
            "--history",
            "history.jsonl",
            "--catalogue",
            "figures.toml",
        ],
        d,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("history.jsonl:2: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // BENCHMARKS.md without markers.
    fs::write(d.join("history.jsonl"), "").unwrap();
    let out = dashboard(&record_args(&[]), d);
    assert!(out.status.success());
    fs::write(d.join("B.md"), "# B\n").unwrap();
    let out = dashboard(
        &[
            "render",
            "--out",
            "page",
            "--history",
            "history.jsonl",
            "--catalogue",
            "figures.toml",
            "--benchmarks-md",
            "B.md",
        ],
        d,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("B.md: no `<!-- figures:begin` line"),
        "{err}"
    );
}
