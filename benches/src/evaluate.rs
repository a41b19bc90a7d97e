//! A figure's value in a record, its ratio to the raw library's, and
//! whether it meets its target.

use serde_json::Value;

use crate::catalogue::{parse_size, Better, Figure, Source, Target, Unit};
use crate::criterion::Throughput;
use crate::record::Record;

/// Whether a figure meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    NotMet,
    /// The figure has no target: it is reported only.
    NoTarget,
    /// A ratio target, but no baseline measured to compare with.
    Unknown,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not met",
            Verdict::NoTarget => "report",
            Verdict::Unknown => "no baseline",
        }
    }
}

/// A figure as one record measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub value: f64,
    pub baseline: Option<f64>,
    /// `value / baseline`.
    pub ratio: Option<f64>,
    pub verdict: Verdict,
    /// The document's own words, for imported figures given as a range.
    pub stated: Option<String>,
}

/// `figure` in `record`: `None` when the record did not measure it; an
/// error when it did but the catalogue and the data disagree (a unit that
/// needs a throughput the benchmark lacks, a field that is not a number).
pub fn evaluate(figure: &Figure, record: &Record) -> Result<Option<Evaluated>, String> {
    let (value, baseline, stated) = if let Some(stated) = record.figures.get(&figure.id) {
        (stated.value, stated.baseline, stated.stated.clone())
    } else {
        let Some(value) = read(&figure.source, &figure.unit, record)? else {
            return Ok(None);
        };
        let baseline = match &figure.baseline {
            Some(b) => read(&b.source, &figure.unit, record)?,
            None => None,
        };
        (value, baseline, None)
    };
    let ratio = baseline.filter(|b| *b > 0.0).map(|b| value / b);
    Ok(Some(Evaluated {
        value,
        baseline,
        ratio,
        verdict: judge(figure.better, figure.target, value, ratio),
        stated,
    }))
}

/// Met when every target given is met, in the direction that is better.
pub fn judge(better: Better, target: Target, value: f64, ratio: Option<f64>) -> Verdict {
    if target.value.is_none() && target.ratio.is_none() {
        return Verdict::NoTarget;
    }
    let meets = |v: f64, bound: f64| match better {
        Better::Higher => v >= bound,
        Better::Lower => v <= bound,
    };
    if target.value.is_some_and(|bound| !meets(value, bound)) {
        return Verdict::NotMet;
    }
    match (target.ratio, ratio) {
        (Some(bound), Some(r)) if !meets(r, bound) => Verdict::NotMet,
        (Some(_), None) => Verdict::Unknown,
        _ => Verdict::Met,
    }
}

/// The newest record (last in `records`) accepted by `keep` that measured
/// `figure`, with its index.
pub fn latest<'r>(
    figure: &Figure,
    records: &'r [Record],
    keep: impl Fn(&Record) -> bool,
) -> Result<Option<(usize, &'r Record, Evaluated)>, String> {
    for (index, record) in records.iter().enumerate().rev() {
        if !keep(record) {
            continue;
        }
        if let Some(evaluated) = evaluate(figure, record)? {
            return Ok(Some((index, record, evaluated)));
        }
    }
    Ok(None)
}

/// A source's value in `unit`, if the record measured it.
fn read(source: &Source, unit: &str, record: &Record) -> Result<Option<f64>, String> {
    match source {
        Source::Criterion {
            criterion,
            per_element,
        } => {
            let Some(m) = record.criterion.get(criterion) else {
                return Ok(None);
            };
            convert(criterion, m.median_ns, m.throughput, unit, *per_element).map(Some)
        }
        Source::Speedup { speedup, over } => {
            match (record.criterion.get(speedup), record.criterion.get(over)) {
                (Some(fast), Some(slow)) => Ok(Some(slow.median_ns / fast.median_ns)),
                _ => Ok(None),
            }
        }
        Source::Load { load, field } => {
            let runs = record
                .load
                .iter()
                .filter(|r| r.get("target_rate").and_then(Value::as_u64) == Some(*load));
            median_field(runs, field)
        }
        Source::Storage { storage, field } => {
            let size = parse_size(storage);
            let runs = record
                .storage
                .iter()
                .filter(|r| r.get("size").and_then(Value::as_u64) == size);
            median_field(runs, field)
        }
    }
}

/// A criterion median in the figure's unit.
fn convert(
    id: &str,
    median_ns: f64,
    throughput: Option<Throughput>,
    unit: &str,
    per_element: bool,
) -> Result<f64, String> {
    let elements = match throughput {
        Some(Throughput::Elements(n)) if n > 0 => Some(n as f64),
        _ => None,
    };
    let seconds = median_ns / 1e9;
    match Unit::of(unit) {
        Unit::Time(ns_per_unit) => {
            let ns = if per_element {
                median_ns
                    / elements.ok_or_else(|| {
                        format!("`{id}` has no element throughput to divide its time by")
                    })?
            } else {
                median_ns
            };
            Ok(ns / ns_per_unit)
        }
        Unit::Bytes(bytes_per_unit) => match throughput {
            Some(Throughput::Bytes(bytes)) => Ok(bytes as f64 / seconds / bytes_per_unit),
            _ => Err(format!(
                "`{id}` has no byte throughput for a figure in {unit}"
            )),
        },
        Unit::PerSecond => elements
            .map(|n| n / seconds)
            .ok_or_else(|| format!("`{id}` has no element throughput for a figure in {unit}")),
        Unit::Times => Err(format!("`{id}`: a figure in × needs a speedup source")),
    }
}

/// The median of `field` (dotted: `latency_ms.p50`) over `runs`; runs
/// where it is null (a latency of no transactions) are left out.
fn median_field<'a>(
    runs: impl Iterator<Item = &'a Value>,
    field: &str,
) -> Result<Option<f64>, String> {
    let mut values = Vec::new();
    for run in runs {
        let found = field.split('.').try_fold(run, |v, key| v.get(key));
        match found {
            None | Some(Value::Null) => {}
            Some(v) => values.push(
                v.as_f64()
                    .ok_or_else(|| format!("field `{field}` is {v}, not a number"))?,
            ),
        }
    }
    Ok(median(&mut values))
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::criterion::Measured;
    use crate::record::tests::record;
    use crate::record::{Mode, Stated};

    fn figure(toml: &str) -> Figure {
        let text = format!("[[figure]]\nid = \"f\"\nsection = \"S\"\nwhat = \"w\"\n{toml}");
        Catalogue::parse(&text).unwrap().figures.remove(0)
    }

    fn measured(median_ns: f64, throughput: Option<Throughput>) -> Measured {
        Measured {
            median_ns,
            mean_ns: median_ns,
            throughput,
        }
    }

    const GIB: u64 = 1 << 30;

    #[test]
    fn met_and_not_met_when_higher_is_better() {
        let t = Target {
            value: Some(100.0),
            ratio: None,
        };
        assert_eq!(judge(Better::Higher, t, 100.0, None), Verdict::Met);
        assert_eq!(judge(Better::Higher, t, 99.9, None), Verdict::NotMet);
        let r = Target {
            value: None,
            ratio: Some(0.95),
        };
        assert_eq!(judge(Better::Higher, r, 1.0, Some(1.01)), Verdict::Met);
        assert_eq!(judge(Better::Higher, r, 1.0, Some(0.94)), Verdict::NotMet);
        assert_eq!(judge(Better::Higher, r, 1.0, None), Verdict::Unknown);
    }

    #[test]
    fn met_and_not_met_when_lower_is_better() {
        let both = Target {
            value: Some(3.0),
            ratio: Some(2.5),
        };
        assert_eq!(judge(Better::Lower, both, 2.9, Some(0.98)), Verdict::Met);
        assert_eq!(judge(Better::Lower, both, 3.1, Some(0.98)), Verdict::NotMet);
        assert_eq!(judge(Better::Lower, both, 2.9, Some(2.6)), Verdict::NotMet);
        assert_eq!(
            judge(Better::Lower, Target::default(), 1e9, None),
            Verdict::NoTarget
        );
    }

    #[test]
    fn criterion_times_become_rates_against_the_raw_library() {
        let f = figure(
            r#"unit = "GiB/s"
better = "higher"
source = { criterion = "enc/sherd" }
baseline = { name = "raw", criterion = "enc/raw" }
target = { ratio = 0.95 }"#,
        );
        let mut r = record("c", Mode::Full);
        // 1 GiB in 0.5 s and in 0.4 s.
        r.criterion.insert(
            "enc/sherd".into(),
            measured(0.5e9, Some(Throughput::Bytes(GIB))),
        );
        r.criterion.insert(
            "enc/raw".into(),
            measured(0.4e9, Some(Throughput::Bytes(GIB))),
        );
        let e = evaluate(&f, &r).unwrap().unwrap();
        assert!((e.value - 2.0).abs() < 1e-12);
        assert!((e.baseline.unwrap() - 2.5).abs() < 1e-12);
        assert!((e.ratio.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(e.verdict, Verdict::NotMet);
    }

    #[test]
    fn times_per_element_elements_per_second_and_speedups() {
        let mut r = record("c", Mode::Full);
        r.criterion.insert(
            "votes/n=100".into(),
            measured(2.0e6, Some(Throughput::Elements(100))),
        );
        r.criterion.insert("single".into(), measured(3.0e6, None));
        r.criterion.insert("batch".into(), measured(1.0e6, None));
        let per_vote = figure(
            "unit = \"µs\"\nbetter = \"lower\"\nsource = { criterion = \"votes/n=100\", per_element = true }\ntarget = { value = 50.0 }",
        );
        let e = evaluate(&per_vote, &r).unwrap().unwrap();
        assert_eq!((e.value, e.verdict), (20.0, Verdict::Met));
        let rate = figure(
            "unit = \"votes/s\"\nbetter = \"higher\"\nsource = { criterion = \"votes/n=100\" }",
        );
        assert_eq!(evaluate(&rate, &r).unwrap().unwrap().value, 50_000.0);
        let speedup = figure(
            "unit = \"×\"\nbetter = \"higher\"\nsource = { speedup = \"batch\", over = \"single\" }\ntarget = { value = 2.0 }",
        );
        let e = evaluate(&speedup, &r).unwrap().unwrap();
        assert_eq!((e.value, e.verdict), (3.0, Verdict::Met));
        // A rate of a benchmark without throughput: the catalogue is wrong.
        let wrong =
            figure("unit = \"GiB/s\"\nbetter = \"higher\"\nsource = { criterion = \"single\" }");
        assert!(evaluate(&wrong, &r).unwrap_err().contains("`single`"));
    }

    #[test]
    fn load_and_storage_reports_by_rate_and_size() {
        let mut r = record("c", Mode::Quick);
        for p50 in [92.0, 102.0, 110.0] {
            r.load
                .push(json!({"target_rate": 100, "latency_ms": {"p50": p50}}));
        }
        r.load
            .push(json!({"target_rate": 1000, "latency_ms": {"p50": null}}));
        r.storage
            .push(json!({"size": 4096, "put_ms": {"p50": 267.0}, "mib_per_s": {"put": 1.0}}));
        let light = figure("unit = \"ms\"\nbetter = \"lower\"\nsource = { load = 100, field = \"latency_ms.p50\" }\ntarget = { value = 150.0 }");
        let e = evaluate(&light, &r).unwrap().unwrap();
        assert_eq!((e.value, e.verdict), (102.0, Verdict::Met));
        let null = figure("unit = \"ms\"\nbetter = \"lower\"\nsource = { load = 1000, field = \"latency_ms.p50\" }");
        assert_eq!(evaluate(&null, &r).unwrap(), None);
        let small = figure("unit = \"ms\"\nbetter = \"lower\"\nsource = { storage = \"4KiB\", field = \"put_ms.p50\" }\ntarget = { value = 1000.0 }");
        assert_eq!(evaluate(&small, &r).unwrap().unwrap().value, 267.0);
        let absent = figure("unit = \"ms\"\nbetter = \"lower\"\nsource = { storage = \"256MiB\", field = \"put_ms.p50\" }");
        assert_eq!(evaluate(&absent, &r).unwrap(), None);
        let text = figure("unit = \"ms\"\nbetter = \"lower\"\nsource = { storage = \"4KiB\", field = \"mib_per_s\" }");
        assert!(evaluate(&text, &r).unwrap_err().contains("mib_per_s"));
    }

    #[test]
    fn imported_figures_are_taken_as_stated_and_the_latest_record_wins() {
        let f = figure(
            "unit = \"ms\"\nbetter = \"lower\"\nsource = { criterion = \"blk\" }\ntarget = { value = 20.0 }",
        );
        let mut imported = record("a", Mode::Imported);
        imported.figures.insert(
            "f".into(),
            Stated {
                value: 33.3,
                baseline: None,
                stated: None,
            },
        );
        let mut quick = record("b", Mode::Quick);
        quick.criterion.insert("blk".into(), measured(19.0e6, None));
        let records = [imported, quick, record("c", Mode::Quick)];
        let (i, r, e) = latest(&f, &records, |_| true).unwrap().unwrap();
        assert_eq!((i, r.commit.as_str(), e.verdict), (1, "b", Verdict::Met));
        let (i, _, e) = latest(&f, &records, |r| r.mode.is_reference())
            .unwrap()
            .unwrap();
        assert_eq!((i, e.value, e.verdict), (0, 33.3, Verdict::NotMet));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
