//! The dashboard: one self-contained HTML page (inline CSS, inline SVG,
//! no script), readable on a laptop and a phone, light and dark.

use std::fmt::Write;

use serde_json::Value;

use crate::catalogue::{Better, Catalogue, Figure};
use crate::evaluate::{evaluate, latest, Evaluated, Verdict};
use crate::format::{html, number, ratio, with_unit};
use crate::record::Record;
use crate::svg::{sparkline, xy_chart, Point, Series};

/// The page for `records` (oldest first; the last is the run shown). An
/// error names the figure whose catalogue entry does not fit the data.
pub fn page(catalogue: &Catalogue, records: &[Record]) -> Result<String, String> {
    let mut body = String::new();
    let Some(current) = records.last() else {
        return Err("the history has no record yet: run benches/run.sh".into());
    };
    let _ = write!(
        body,
        r#"<header><h1>sherd benchmarks</h1><p class="run">Run shown: commit <code>{}</code>{} · {} · {} mode · CPU <b>{}</b>{}</p>{}</header>"#,
        html(&current.short_commit()),
        if current.dirty {
            " (uncommitted changes)"
        } else {
            ""
        },
        html(&current.short_date()),
        current.mode.as_str(),
        html(&current.cpu),
        current
            .cores
            .map(|c| format!(", {c} cores"))
            .unwrap_or_default(),
        current
            .note
            .as_ref()
            .map(|n| format!(r#"<p class="note">{}</p>"#, html(n)))
            .unwrap_or_default(),
    );

    let mut counts = [0usize; 4];
    let mut sections = String::new();
    for section in catalogue.sections() {
        let _ = write!(
            sections,
            r#"<section id="{}"><h2>{}</h2><table class="figures"><colgroup><col class="c-fig"><col class="c-val"><col class="c-raw"><col class="c-ratio"><col class="c-target"><col class="c-status"><col class="c-hist"></colgroup><thead><tr><th>Figure</th><th>Value</th><th>Raw library</th><th>Ratio</th><th>Target</th><th>Status</th><th>History</th></tr></thead><tbody>"#,
            anchor(section),
            html(section)
        );
        for figure in catalogue.figures.iter().filter(|f| f.section == section) {
            let row = figure_row(figure, records, &mut counts)
                .map_err(|e| format!("figure `{}`: {e}", figure.id))?;
            sections.push_str(&row);
        }
        sections.push_str("</tbody></table></section>");
    }
    let _ = write!(
        body,
        r#"<p class="summary"><span class="badge met">{} met</span> <span class="badge not-met">{} not met</span> <span class="badge report">{} reported without a target</span> <span class="badge absent">{} never measured</span></p>"#,
        counts[0], counts[1], counts[2], counts[3]
    );
    body.push_str(&sections);
    body.push_str(&testnet(records));
    body.push_str(&storage(records));
    body.push_str(&history(records));
    body.push_str(&all_criterion(current));
    let _ = write!(
        body,
        "<footer>Rendered by <code>sherd-bench-dashboard</code> from <code>benches/results/history.jsonl</code> ({} records) and <code>benches/figures.toml</code>. Figures from a record other than the run shown name their commit; imported figures are as BENCHMARKS.md stated them, not measured by <code>benches/run.sh</code>.</footer>",
        records.len()
    );
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><title>sherd benchmarks · {}</title><style>{STYLE}</style></head>
<body><main>{body}</main></body></html>
"#,
        html(&current.short_commit())
    ))
}

/// A figure's row: its latest value (from the run shown if it measured
/// it), baseline, ratio, target, verdict and history.
fn figure_row(
    figure: &Figure,
    records: &[Record],
    counts: &mut [usize; 4],
) -> Result<String, String> {
    let last = records.len().saturating_sub(1);
    let found = latest(figure, records, |_| true)?;
    let mut history = Vec::new();
    for record in records {
        if let Some(e) = evaluate(figure, record)? {
            let label = format!(
                "{} {} {}: {}",
                record.short_commit(),
                record.mode.as_str(),
                record.short_date(),
                with_unit(e.value, &figure.unit)
            );
            history.push((label, e.value));
        }
    }
    let what = format!(
        r#"<td data-label="Figure"><div><span class="what">{}</span><br><code class="id">{}</code>{}</div></td>"#,
        html(&figure.what),
        html(&figure.id),
        figure
            .note
            .as_ref()
            .map(|n| format!(r#"<br><span class="note">{}</span>"#, html(n)))
            .unwrap_or_default()
    );
    let target = target_text(figure);
    let Some((index, record, e)) = found else {
        counts[3] += 1;
        return Ok(format!(
            r#"<tr class="absent">{what}<td data-label="Value"><div>not measured yet</div></td><td data-label="Raw library"><div>{}</div></td><td data-label="Ratio"><div></div></td><td data-label="Target"><div>{target}</div></td><td data-label="Status"><div><span class="badge absent">no data</span></div></td><td data-label="History"><div></div></td></tr>"#,
            figure
                .baseline
                .as_ref()
                .map(|b| html(&b.name))
                .unwrap_or_default()
        ));
    };
    let Evaluated {
        value,
        baseline,
        ratio: r,
        verdict,
        stated,
    } = e;
    counts[match verdict {
        Verdict::Met => 0,
        Verdict::NotMet => 1,
        Verdict::NoTarget | Verdict::Unknown => 2,
    }] += 1;
    let origin = if index == last {
        String::new()
    } else {
        format!(
            r#"<br><span class="origin">from {} ({}, {}, {})</span>"#,
            html(&record.short_commit()),
            record.mode.as_str(),
            html(&record.short_date()),
            html(&record.cpu)
        )
    };
    let stated = stated
        .map(|s| format!(r#"<br><span class="note">stated: {}</span>"#, html(&s)))
        .unwrap_or_default();
    let raw = match (&figure.baseline, baseline) {
        (Some(b), Some(v)) => format!(
            r#"<span class="num">{}</span><br><span class="note">{}</span>"#,
            html(&with_unit(v, &figure.unit)),
            html(&b.name)
        ),
        (Some(b), None) => format!(
            r#"not measured<br><span class="note">{}</span>"#,
            html(&b.name)
        ),
        (None, _) => String::new(),
    };
    let class = match verdict {
        Verdict::Met => "met",
        Verdict::NotMet => "not-met",
        Verdict::NoTarget | Verdict::Unknown => "report",
    };
    Ok(format!(
        r#"<tr>{what}<td data-label="Value" class="value"><div><span class="num">{}</span>{stated}{origin}</div></td><td data-label="Raw library"><div>{raw}</div></td><td data-label="Ratio"><div>{}</div></td><td data-label="Target"><div>{target}</div></td><td data-label="Status"><div><span class="badge {class}">{}</span></div></td><td data-label="History"><div>{}</div></td></tr>"#,
        html(&with_unit(value, &figure.unit)),
        r.map(ratio).unwrap_or_default(),
        verdict.label(),
        sparkline(&history, figure.target.value)
    ))
}

/// `testnet-4-validators-on-this-machine`: a section's id for links.
fn anchor(title: &str) -> String {
    let mut id = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_string()
}

/// `≥ 100,000 transfers/s`, `≤ 2.50× raw`.
pub fn target_text(figure: &Figure) -> String {
    let sign = match figure.better {
        Better::Higher => "≥",
        Better::Lower => "≤",
    };
    let mut parts = Vec::new();
    if let Some(v) = figure.target.value {
        parts.push(format!("{sign} {}", with_unit(v, &figure.unit)));
    }
    if let Some(r) = figure.target.ratio {
        parts.push(format!("{sign} {} raw", ratio(r)));
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

/// The newest record with load reports, and the newest full or imported
/// one before it: finalized transfers a second against finality latency.
fn testnet(records: &[Record]) -> String {
    let with_load: Vec<&Record> = records.iter().filter(|r| !r.load.is_empty()).collect();
    let Some(newest) = with_load.last() else {
        return "<section><h2>Testnet under load</h2><p>No <code>sherd bench load</code> run in the history yet.</p></section>".into();
    };
    let reference = with_load
        .iter()
        .rev()
        .skip(1)
        .find(|r| r.mode.is_reference() && r.commit != newest.commit);
    let mut series = Vec::new();
    for (i, record) in std::iter::once(*newest)
        .chain(reference.copied())
        .enumerate()
    {
        for (stat, dashed) in [("p50", false), ("p99", true)] {
            let mut points: Vec<Point> = record
                .load
                .iter()
                .filter_map(|run| {
                    let x = run.get("finalized_per_s")?.as_f64()?;
                    let y = run.get("latency_ms")?.get(stat)?.as_f64()?;
                    let offered = run.get("target_rate").and_then(Value::as_u64)?;
                    Some(Point {
                        x,
                        y,
                        label: format!(
                            "{} offered {offered}/s: {} finalized/s, {stat} {} ms",
                            record.short_commit(),
                            number(x),
                            number(y)
                        ),
                    })
                })
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            if !points.is_empty() {
                series.push(Series {
                    name: format!(
                        "{stat}, {} ({})",
                        record.short_commit(),
                        record.mode.as_str()
                    ),
                    points,
                    dashed,
                    colour: 2 * i,
                });
            }
        }
    }
    let mut out = format!(
        r#"<section id="testnet-under-load"><h2>Testnet under load</h2><p>Finalized transfers a second against finality latency, one point per offered rate (<code>sherd bench load</code> on a local testnet of 4 validators and 6 providers on this machine). Solid p50, dashed p99; the run shown{}.</p><figure class="chart">{}</figure>"#,
        if reference.is_some() {
            " and the latest full or imported record before it"
        } else {
            ""
        },
        xy_chart(&series, "finalized transfers/s", "latency (ms)")
    );
    out.push_str(r#"<table class="runs"><thead><tr><th>Record</th><th>Offered</th><th>Finalized/s</th><th>Refused</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>Note</th></tr></thead><tbody>"#);
    for record in std::iter::once(*newest).chain(reference.copied()) {
        for run in &record.load {
            let cell = |path: &[&str], unit: &str| {
                path.iter()
                    .try_fold(run, |v, k| v.get(k))
                    .and_then(Value::as_f64)
                    .map(|v| format!("{}{unit}", number(v)))
                    .unwrap_or_else(|| "—".into())
            };
            let note = run.get("note").and_then(Value::as_str).unwrap_or_default();
            let _ = write!(
                out,
                r#"<tr><td data-label="Record"><div>{} ({})</div></td><td data-label="Offered"><div>{}</div></td><td data-label="Finalized/s"><div>{}</div></td><td data-label="Refused"><div>{}</div></td><td data-label="p50"><div>{}</div></td><td data-label="p90"><div>{}</div></td><td data-label="p99"><div>{}</div></td><td data-label="max"><div>{}</div></td><td data-label="Note" class="wrap"><div>{}</div></td></tr>"#,
                html(&record.short_commit()),
                record.mode.as_str(),
                cell(&["target_rate"], "/s"),
                cell(&["finalized_per_s"], ""),
                cell(&["submit_errors"], ""),
                cell(&["latency_ms", "p50"], " ms"),
                cell(&["latency_ms", "p90"], " ms"),
                cell(&["latency_ms", "p99"], " ms"),
                cell(&["latency_ms", "max"], " ms"),
                html(note),
            );
        }
    }
    out.push_str("</tbody></table></section>");
    out
}

/// The newest record's `sherd bench storage` runs, and the newest full or
/// imported one's before it.
fn storage(records: &[Record]) -> String {
    let with: Vec<&Record> = records.iter().filter(|r| !r.storage.is_empty()).collect();
    let Some(newest) = with.last() else {
        return "<section><h2>Storage: put and get</h2><p>No <code>sherd bench storage</code> run in the history yet.</p></section>".into();
    };
    let reference = with
        .iter()
        .rev()
        .skip(1)
        .find(|r| r.mode.is_reference() && r.commit != newest.commit);
    let mut out = String::from(
        r#"<section id="storage-runs"><h2>Storage: put and get</h2><p><code>sherd bench storage</code> on the same testnet: a random file encoded and decoded locally, then put to the providers and got back; MiB/s over the median round.</p><table class="runs"><thead><tr><th>Record</th><th>File</th><th>Local encode</th><th>Local decode</th><th>Put</th><th>Get</th><th>Put / encode</th><th>Get / decode</th><th>Put p50</th><th>Get p50</th><th>Note</th></tr></thead><tbody>"#,
    );
    for record in std::iter::once(*newest).chain(reference.copied()) {
        for run in &record.storage {
            let get = |path: &[&str]| {
                path.iter()
                    .try_fold(run, |v, k| v.get(k))
                    .and_then(Value::as_f64)
            };
            let cell = |path: &[&str], unit: &str| {
                get(path)
                    .map(|v| format!("{}{unit}", number(v)))
                    .unwrap_or_else(|| "—".into())
            };
            let size = get(&["size"]).map(size_text).unwrap_or_else(|| "—".into());
            let _ = write!(
                out,
                r#"<tr><td data-label="Record"><div>{} ({})</div></td><td data-label="File"><div>{size}, {}+{}, ×{}</div></td><td data-label="Local encode"><div>{}</div></td><td data-label="Local decode"><div>{}</div></td><td data-label="Put"><div>{}</div></td><td data-label="Get"><div>{}</div></td><td data-label="Put / encode"><div>{}</div></td><td data-label="Get / decode"><div>{}</div></td><td data-label="Put p50"><div>{}</div></td><td data-label="Get p50"><div>{}</div></td><td data-label="Note" class="wrap"><div>{}</div></td></tr>"#,
                html(&record.short_commit()),
                record.mode.as_str(),
                cell(&["k"], ""),
                cell(&["m"], ""),
                cell(&["count"], ""),
                cell(&["mib_per_s", "encode"], " MiB/s"),
                cell(&["mib_per_s", "decode"], " MiB/s"),
                cell(&["mib_per_s", "put"], " MiB/s"),
                cell(&["mib_per_s", "get"], " MiB/s"),
                cell(&["ratio", "put_over_encode"], ""),
                cell(&["ratio", "get_over_decode"], ""),
                cell(&["put_ms", "p50"], " ms"),
                cell(&["get_ms", "p50"], " ms"),
                html(run.get("note").and_then(Value::as_str).unwrap_or_default()),
            );
        }
    }
    out.push_str("</tbody></table></section>");
    out
}

/// `4 KiB`, `256 MiB`.
fn size_text(bytes: f64) -> String {
    let mut value = bytes;
    for unit in ["B", "KiB", "MiB"] {
        if value < 1024.0 {
            return format!("{} {unit}", number(value));
        }
        value /= 1024.0;
    }
    format!("{} GiB", number(value))
}

/// Every record, newest first.
fn history(records: &[Record]) -> String {
    let mut out = String::from(
        r#"<section id="history"><h2>History</h2><table class="runs"><thead><tr><th>Commit</th><th>Date (UTC)</th><th>Mode</th><th>CPU</th><th>Measured</th></tr></thead><tbody>"#,
    );
    for record in records.iter().rev() {
        let measured = if record.mode == crate::record::Mode::Imported {
            format!("{} figures stated", record.figures.len())
        } else {
            format!(
                "{} criterion benchmarks, {} load runs, {} storage runs",
                record.criterion.len(),
                record.load.len(),
                record.storage.len()
            )
        };
        let _ = write!(
            out,
            r#"<tr><td data-label="Commit"><div><code>{}</code></div></td><td data-label="Date"><div>{}</div></td><td data-label="Mode"><div>{}</div></td><td data-label="CPU"><div>{}{}</div></td><td data-label="Measured"><div>{measured}{}</div></td></tr>"#,
            html(&record.short_commit()),
            html(&record.short_date()),
            record.mode.as_str(),
            html(&record.cpu),
            record
                .cores
                .map(|c| format!(", {c} cores"))
                .unwrap_or_default(),
            record
                .note
                .as_ref()
                .map(|n| format!(r#"<br><span class="note">{}</span>"#, html(n)))
                .unwrap_or_default()
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

/// Every criterion result of the run shown, folded.
fn all_criterion(record: &Record) -> String {
    if record.criterion.is_empty() {
        return String::new();
    }
    let mut out = format!(
        r#"<section><details><summary>All {} criterion benchmarks of this run (median per iteration)</summary><table class="runs"><thead><tr><th>Benchmark</th><th>Median</th><th>Throughput</th></tr></thead><tbody>"#,
        record.criterion.len()
    );
    for (id, m) in &record.criterion {
        let time = if m.median_ns >= 1e9 {
            with_unit(m.median_ns / 1e9, "s")
        } else if m.median_ns >= 1e6 {
            with_unit(m.median_ns / 1e6, "ms")
        } else if m.median_ns >= 1e3 {
            with_unit(m.median_ns / 1e3, "µs")
        } else {
            with_unit(m.median_ns, "ns")
        };
        let seconds = m.median_ns / 1e9;
        let rate = match m.throughput {
            Some(crate::criterion::Throughput::Bytes(b)) => {
                with_unit(b as f64 / seconds / (1u64 << 30) as f64, "GiB/s")
            }
            Some(crate::criterion::Throughput::Elements(n)) => with_unit(n as f64 / seconds, "/s"),
            None => String::new(),
        };
        let _ = write!(
            out,
            r#"<tr><td data-label="Benchmark"><div><code>{}</code></div></td><td data-label="Median"><div>{time}</div></td><td data-label="Throughput"><div>{rate}</div></td></tr>"#,
            html(id)
        );
    }
    out.push_str("</tbody></table></details></section>");
    out
}

const STYLE: &str = r#"
:root{--bg:#fff;--fg:#1b1f24;--muted:#5b6570;--line:#d8dee4;--head:#f3f5f7;--met:#1a7f37;--met-bg:#dafbe1;--not:#b42318;--not-bg:#ffebe9;--rep:#57606a;--rep-bg:#eaeef2;--c0:#0969da;--c1:#0969da;--c2:#bf5700;--c3:#bf5700;--target:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--head:#161b22;--met:#3fb950;--met-bg:#12261a;--not:#ff7b72;--not-bg:#2d1414;--rep:#9da7b3;--rep-bg:#21262d;--c0:#58a6ff;--c1:#58a6ff;--c2:#f0883e;--c3:#f0883e;--target:#ff7b72}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
.run,.note,.origin,.id,footer{color:var(--muted)}
.note,.origin,.id{font-size:.85em}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600;font-size:.9em}
table.figures{table-layout:fixed}
col.c-fig{width:27%}col.c-val{width:17%}col.c-raw{width:16%}col.c-ratio{width:7%}col.c-target{width:12%}col.c-status{width:9%}col.c-hist{width:176px}
.num{white-space:nowrap}
td.value .num{font-weight:600}
table.runs td{white-space:nowrap}
table.runs td.wrap{white-space:normal;min-width:12em}
section{overflow-x:auto}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:600;white-space:nowrap}
.badge.met{color:var(--met);background:var(--met-bg)}
.badge.not-met{color:var(--not);background:var(--not-bg)}
.badge.report,.badge.absent{color:var(--rep);background:var(--rep-bg)}
tr.absent td{color:var(--muted)}
svg text{fill:var(--muted);font-size:12px}
svg .legend{fill:var(--fg)}
svg .grid{stroke:var(--line);stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .target{stroke:var(--target);stroke-width:1;stroke-dasharray:3 3}
svg polyline.s0,svg line.s0{stroke:var(--c0);stroke-width:2}
svg polyline.s1,svg line.s1{stroke:var(--c1);stroke-width:2}
svg polyline.s2,svg line.s2{stroke:var(--c2);stroke-width:2}
svg polyline.s3,svg line.s3{stroke:var(--c3);stroke-width:2}
svg circle.s0,svg circle.s1{fill:var(--c0)}
svg circle.s2,svg circle.s3{fill:var(--c2)}
.spark{display:block}
figure.chart{margin:0 0 12px}
.xy{width:100%;max-width:760px;height:auto;display:block}
details summary{cursor:pointer;font-weight:600}
footer{margin:2em 0 1em;font-size:.85em}
@media (max-width:760px){
 main{padding:10px}
 table,thead,tbody,tr,td{display:block;width:100%}
 thead{display:none}
 tr{border:1px solid var(--line);border-radius:8px;margin:0 0 10px;padding:4px 0}
 td{border:0;padding:3px 10px;display:flex;gap:10px}
 td::before{content:attr(data-label);flex:0 0 7.5em;color:var(--muted);font-size:.85em}
 table.figures{table-layout:auto}
 section{overflow-x:visible}
 table.runs td{white-space:normal}
}
"#;
