//! Reading criterion's output: every `<group>/<id>/new/benchmark.json`
//! (the benchmark's full id and throughput) with the `estimates.json`
//! beside it (nanoseconds per iteration).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What one iteration of a benchmark processes, as criterion states it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Throughput {
    Bytes(u64),
    Elements(u64),
}

/// One criterion benchmark's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Median time of one iteration, in nanoseconds.
    pub median_ns: f64,
    /// Mean time of one iteration, in nanoseconds.
    pub mean_ns: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
}

#[derive(Deserialize)]
struct BenchmarkFile {
    full_id: String,
    #[serde(default)]
    throughput: Option<CriterionThroughput>,
}

/// criterion's own spelling of [`Throughput`].
#[derive(Deserialize)]
enum CriterionThroughput {
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
    Bits(u64),
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesFile {
    mean: Estimate,
    median: Estimate,
}

/// Every benchmark under `root` (criterion's output directory, its
/// `CRITERION_HOME`), by full id (`fragments::encode/raw/k=10,m=4,shard=1MiB`).
/// A missing `root` is no benchmarks; a file that does not parse is an error
/// naming it.
pub fn read_dir(root: &Path) -> Result<BTreeMap<String, Measured>> {
    let mut found = BTreeMap::new();
    if !root.exists() {
        return Ok(found);
    }
    let mut files = Vec::new();
    benchmark_files(root, &mut files)?;
    for file in files {
        let (id, measured) = read_benchmark(&file)?;
        found.insert(id, measured);
    }
    Ok(found)
}

/// The `new/benchmark.json` files under `dir`, depth first.
fn benchmark_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    paths.sort();
    for path in paths {
        if path.is_dir() {
            // criterion's own HTML report lives in `report/`; skip it.
            if path.file_name().is_some_and(|n| n == "report") {
                continue;
            }
            benchmark_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "benchmark.json")
            && path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "new")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One benchmark from its `new/benchmark.json` and the `estimates.json` beside it.
pub fn read_benchmark(benchmark_json: &Path) -> Result<(String, Measured)> {
    let text = fs::read_to_string(benchmark_json).map_err(|e| Error::io(benchmark_json, e))?;
    let benchmark: BenchmarkFile =
        serde_json::from_str(&text).map_err(|e| Error::json(benchmark_json, e))?;
    let estimates_json = benchmark_json.with_file_name("estimates.json");
    let text = fs::read_to_string(&estimates_json).map_err(|e| Error::io(&estimates_json, e))?;
    let measured = parse_estimates(&text, benchmark.throughput.map(Throughput::from))
        .map_err(|message| Error::json(&estimates_json, message))?;
    Ok((benchmark.full_id, measured))
}

/// An `estimates.json`'s median and mean, which must be positive and finite.
pub fn parse_estimates(
    text: &str,
    throughput: Option<Throughput>,
) -> std::result::Result<Measured, String> {
    let estimates: EstimatesFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (name, value) in [
        ("median", estimates.median.point_estimate),
        ("mean", estimates.mean.point_estimate),
    ] {
        if !(value.is_finite() && value > 0.0) {
            return Err(format!(
                "{name}.point_estimate is {value}, not a positive time"
            ));
        }
    }
    Ok(Measured {
        median_ns: estimates.median.point_estimate,
        mean_ns: estimates.mean.point_estimate,
        throughput,
    })
}

impl From<CriterionThroughput> for Throughput {
    fn from(t: CriterionThroughput) -> Self {
        match t {
            CriterionThroughput::Bytes(n) | CriterionThroughput::BytesDecimal(n) => Self::Bytes(n),
            CriterionThroughput::Bits(n) => Self::Bytes(n / 8),
            CriterionThroughput::Elements(n) => Self::Elements(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1284703.5,"standard_error":6004.6},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1283512.25,"standard_error":6933.0},"median_abs_dev":null,"slope":null,"std_dev":null}"#;

    fn write_benchmark(root: &Path, dir: &str, benchmark: &str, estimates: &str) {
        let new = root.join(dir).join("new");
        fs::create_dir_all(&new).unwrap();
        fs::write(new.join("benchmark.json"), benchmark).unwrap();
        fs::write(new.join("estimates.json"), estimates).unwrap();
    }

    #[test]
    fn estimates_give_median_and_mean() {
        let m = parse_estimates(ESTIMATES, Some(Throughput::Elements(3000))).unwrap();
        assert_eq!(m.median_ns, 1283512.25);
        assert_eq!(m.mean_ns, 1284703.5);
        assert_eq!(m.throughput, Some(Throughput::Elements(3000)));
    }

    #[test]
    fn a_directory_gives_every_benchmark_by_full_id_and_skips_base_and_report() {
        let root = tempfile::tempdir().unwrap();
        write_benchmark(
            root.path(),
            "provider__restart/records/n=3000",
            r#"{"group_id":"provider::restart","full_id":"provider::restart/records/n=3000","throughput":{"Elements":3000}}"#,
            ESTIMATES,
        );
        write_benchmark(
            root.path(),
            "consensus__bls/sign",
            r#"{"full_id":"consensus::bls/sign","throughput":null}"#,
            ESTIMATES,
        );
        // criterion's previous run, and its report: not read.
        let base = root.path().join("consensus__bls/sign/base");
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("benchmark.json"), "not json").unwrap();
        fs::create_dir_all(root.path().join("report")).unwrap();

        let found = read_dir(root.path()).unwrap();
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            ["consensus::bls/sign", "provider::restart/records/n=3000"]
        );
        assert_eq!(found["consensus::bls/sign"].throughput, None);
        assert_eq!(
            found["provider::restart/records/n=3000"].throughput,
            Some(Throughput::Elements(3000))
        );
    }

    #[test]
    fn a_missing_directory_is_no_benchmarks() {
        let root = tempfile::tempdir().unwrap();
        assert!(read_dir(&root.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_estimates_file_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        write_benchmark(
            root.path(),
            "g/f",
            r#"{"full_id":"g/f"}"#,
            r#"{"mean":{"point_estimate":1.0}}"#,
        );
        let err = read_dir(root.path()).unwrap_err().to_string();
        assert!(err.contains("g/f/new/estimates.json"), "{err}");
        assert!(err.contains("median"), "{err}");
    }

    #[test]
    fn a_zero_or_negative_time_is_refused() {
        let text = r#"{"mean":{"point_estimate":0.0},"median":{"point_estimate":5.0}}"#;
        let err = parse_estimates(text, None).unwrap_err();
        assert!(err.contains("mean.point_estimate is 0"), "{err}");
    }

    #[test]
    fn a_missing_estimates_file_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("g/f/new");
        fs::create_dir_all(&new).unwrap();
        fs::write(new.join("benchmark.json"), r#"{"full_id":"g/f"}"#).unwrap();
        let err = read_dir(root.path()).unwrap_err().to_string();
        assert!(err.contains("g/f/new/estimates.json"), "{err}");
    }
}
