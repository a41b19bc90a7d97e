//! The figure catalogue (`benches/figures.toml`): which numbers the
//! dashboard and BENCHMARKS.md show, in what unit, which way is better,
//! their targets, and the raw library each is compared with.
//!
//! ```toml
//! [[figure]]
//! id = "fragments.encode.k10m4"
//! section = "Fragments engine"
//! what = "RS encode, k=10, m=4, 1 MiB shards"
//! unit = "GiB/s"
//! better = "higher"
//! source = { criterion = "fragments::encode/sherd/k=10,m=4,shard=1MiB" }
//! baseline = { name = "reed-solomon-simd", criterion = "fragments::encode/raw/k=10,m=4,shard=1MiB" }
//! target = { ratio = 0.95 }
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Every figure, in the order the page shows them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(rename = "figure")]
    pub figures: Vec<Figure>,
}

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// One number the dashboard shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// Stable id: history and imported records refer to it.
    pub id: String,
    /// The heading it is listed under.
    pub section: String,
    /// What it measures, in a few words.
    pub what: String,
    /// `ns`, `µs`, `ms`, `s`; `MiB/s`, `GiB/s`; `<things>/s`; `×`.
    pub unit: String,
    pub better: Better,
    /// Where a run's value comes from.
    pub source: Source,
    /// The raw library doing the same work, in the same unit.
    #[serde(default)]
    pub baseline: Option<Baseline>,
    #[serde(default)]
    pub target: Target,
    /// A sentence for the reader: where the target comes from, a caveat.
    #[serde(default)]
    pub note: Option<String>,
}

/// Where a figure's value is read from in a record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Source {
    /// A criterion benchmark by full id, converted to the figure's unit:
    /// time per iteration (or per element, with `per_element`), or the
    /// benchmark's throughput (bytes or elements) per second.
    Criterion {
        criterion: String,
        #[serde(default)]
        per_element: bool,
    },
    /// How many times faster benchmark `speedup` is than benchmark `over`
    /// (the ratio of their median times).
    Speedup { speedup: String, over: String },
    /// A field of the `sherd bench load` report at an offered rate (the
    /// median when a record holds several at that rate).
    Load { load: u64, field: String },
    /// A field of the `sherd bench storage` report for a file size
    /// (`4KiB`, `256MiB`; the median when a record holds several).
    Storage { storage: String, field: String },
}

/// The raw library a figure is compared with.
#[derive(Debug, Clone, Deserialize)]
pub struct Baseline {
    /// What it is (`raw reed-solomon-simd`).
    pub name: String,
    #[serde(flatten)]
    pub source: Source,
}

/// A figure's targets; the direction comes from [`Figure::better`]. Met
/// when every target given is met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The value itself, in the figure's unit.
    #[serde(default)]
    pub value: Option<f64>,
    /// The value over the baseline's.
    #[serde(default)]
    pub ratio: Option<f64>,
}

impl Catalogue {
    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|message| Error::Catalogue {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and checks a catalogue's text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let catalogue: Catalogue = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut ids = BTreeSet::new();
        for figure in &catalogue.figures {
            if !ids.insert(figure.id.as_str()) {
                return Err(format!("figure `{}` is listed twice", figure.id));
            }
            figure.check()?;
        }
        Ok(catalogue)
    }

    /// The sections, in the order of their first figure.
    pub fn sections(&self) -> Vec<&str> {
        let mut sections: Vec<&str> = Vec::new();
        for figure in &self.figures {
            if !sections.contains(&figure.section.as_str()) {
                sections.push(&figure.section);
            }
        }
        sections
    }
}

impl Figure {
    fn check(&self) -> std::result::Result<(), String> {
        let problem = |what: String| Err(format!("figure `{}`: {what}", self.id));
        if self.target.ratio.is_some() && self.baseline.is_none() {
            return problem("a ratio target needs a baseline".into());
        }
        for source in std::iter::once(&self.source).chain(self.baseline.as_ref().map(|b| &b.source))
        {
            match source {
                Source::Criterion { .. } => {
                    if Unit::of(&self.unit) == Unit::Times {
                        return problem(format!(
                            "unit `{}` is for speedups; a criterion source gives a time or a rate",
                            self.unit
                        ));
                    }
                }
                Source::Speedup { .. } => {
                    if Unit::of(&self.unit) != Unit::Times {
                        return problem(format!("a speedup's unit is `×`, not `{}`", self.unit));
                    }
                }
                Source::Storage { storage, .. } => {
                    if parse_size(storage).is_none() {
                        return problem(format!(
                            "storage size `{storage}` is not a size like 4KiB or 256MiB"
                        ));
                    }
                }
                Source::Load { .. } => {}
            }
        }
        for (name, bound) in [("value", self.target.value), ("ratio", self.target.ratio)] {
            if bound.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
                return problem(format!("target {name} must be a positive number"));
            }
        }
        Ok(())
    }
}

/// How a criterion time becomes a figure's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// A duration: nanoseconds per unit.
    Time(f64),
    /// Bytes a second: bytes per unit.
    Bytes(f64),
    /// Elements a second.
    PerSecond,
    /// A ratio of two times.
    Times,
}

impl Unit {
    pub fn of(unit: &str) -> Self {
        match unit {
            "ns" => Unit::Time(1.0),
            "µs" | "us" => Unit::Time(1e3),
            "ms" => Unit::Time(1e6),
            "s" => Unit::Time(1e9),
            "KiB/s" => Unit::Bytes(1024.0),
            "MiB/s" => Unit::Bytes(1024.0 * 1024.0),
            "GiB/s" => Unit::Bytes(1024.0 * 1024.0 * 1024.0),
            "×" | "x" => Unit::Times,
            _ => Unit::PerSecond,
        }
    }
}

/// `4KiB`, `16MiB`, `1GiB`, `512` (bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match suffix.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"
[[figure]]
id = "a"
section = "S"
what = "w"
unit = "GiB/s"
better = "higher"
source = { criterion = "g/sherd" }
baseline = { name = "raw", criterion = "g/raw" }
target = { ratio = 0.95 }
"#;

    #[test]
    fn a_figure_parses_with_its_baseline_and_target() {
        let c = Catalogue::parse(ONE).unwrap();
        let f = &c.figures[0];
        assert_eq!(
            f.source,
            Source::Criterion {
                criterion: "g/sherd".into(),
                per_element: false
            }
        );
        assert_eq!(f.baseline.as_ref().unwrap().name, "raw");
        assert_eq!(f.target.ratio, Some(0.95));
        assert_eq!(c.sections(), ["S"]);
    }

    #[test]
    fn load_storage_and_speedup_sources_parse() {
        let text = r#"
[[figure]]
id = "l"
section = "S"
what = "w"
unit = "ms"
better = "lower"
source = { load = 100, field = "latency_ms.p50" }
[[figure]]
id = "s"
section = "S"
what = "w"
unit = "MiB/s"
better = "higher"
source = { storage = "256MiB", field = "mib_per_s.put" }
baseline = { name = "local encode", storage = "256MiB", field = "mib_per_s.encode" }
[[figure]]
id = "x"
section = "T"
what = "w"
unit = "×"
better = "higher"
source = { speedup = "g/batch", over = "g/single" }
"#;
        let c = Catalogue::parse(text).unwrap();
        assert!(matches!(
            c.figures[0].source,
            Source::Load { load: 100, .. }
        ));
        assert!(matches!(c.figures[1].source, Source::Storage { .. }));
        assert!(matches!(c.figures[2].source, Source::Speedup { .. }));
        assert_eq!(c.sections(), ["S", "T"]);
    }

    #[test]
    fn mistakes_are_refused_naming_the_figure() {
        let twice = format!("{ONE}{ONE}");
        assert!(Catalogue::parse(&twice)
            .unwrap_err()
            .contains("`a` is listed twice"));
        let no_baseline = ONE.replace("baseline = { name = \"raw\", criterion = \"g/raw\" }", "");
        assert!(Catalogue::parse(&no_baseline)
            .unwrap_err()
            .contains("figure `a`: a ratio target needs a baseline"));
        let bad_size = ONE.replace(
            "{ criterion = \"g/sherd\" }",
            "{ storage = \"big\", field = \"x\" }",
        );
        assert!(Catalogue::parse(&bad_size).unwrap_err().contains("`big`"));
        let negative = ONE.replace("ratio = 0.95", "ratio = -1.0");
        assert!(Catalogue::parse(&negative)
            .unwrap_err()
            .contains("positive"));
        let typo = ONE.replace("better = \"higher\"", "better = \"up\"");
        assert!(Catalogue::parse(&typo).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB"), Some(4096));
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("4kb"), None);
        assert_eq!(parse_size("MiB"), None);
    }

    #[test]
    fn the_checked_in_catalogue_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("figures.toml");
        let c = Catalogue::read(&path).unwrap();
        assert!(!c.figures.is_empty());
    }
}
