//! One benchmark run as one JSON line of the history file, keyed by the
//! commit it measured.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::criterion::Measured;
use crate::error::{Error, Result};

/// How the figures of a record were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `benches/run.sh --quick`: short criterion runs, a subset, small loads.
    Quick,
    /// `benches/run.sh`: every benchmark at its own settings.
    Full,
    /// Figures copied from what BENCHMARKS.md stated, not measured by `run.sh`.
    Imported,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Full => "full",
            Mode::Imported => "imported",
        }
    }

    /// Whether BENCHMARKS.md may quote the record (quick runs are too noisy).
    pub fn is_reference(self) -> bool {
        matches!(self, Mode::Full | Mode::Imported)
    }
}

/// A figure as a document stated it (imported records only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stated {
    /// In the unit of the catalogue's figure.
    pub value: f64,
    /// The raw library's figure in the same unit, when one was stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The words the document used, when the value is one end of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stated: Option<String>,
}

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The commit measured (full hash).
    pub commit: String,
    /// Whether the work tree had changes not in `commit`.
    pub dirty: bool,
    /// When the run ended, RFC 3339 in UTC.
    pub date: String,
    /// The CPU's model name (`/proc/cpuinfo`).
    pub cpu: String,
    /// Logical CPUs the machine had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    pub mode: Mode,
    /// Where the figures come from, when not from `run.sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// criterion results by full benchmark id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub criterion: BTreeMap<String, Measured>,
    /// `sherd bench load --json` reports, one per offered rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<serde_json::Value>,
    /// `sherd bench storage --json` reports, one per file size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<serde_json::Value>,
    /// Figures stated by a document, by catalogue id (imported records).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, Stated>,
}

impl Record {
    /// The commit's first 9 hex digits, `+` when the tree was dirty.
    pub fn short_commit(&self) -> String {
        let short: String = self.commit.chars().take(9).collect();
        if self.dirty {
            format!("{short}+")
        } else {
            short
        }
    }

    /// The date's day and minute, `2026-12-03 07:28`.
    pub fn short_date(&self) -> String {
        self.date
            .chars()
            .take(16)
            .collect::<String>()
            .replace('T', " ")
    }
}

/// Every record of a history file, oldest first. A missing file is an
/// empty history; a line that is not a record is an error naming the file
/// and the line.
pub fn read_history(path: &Path) -> Result<Vec<Record>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_history(&text, path)
}

/// Every record of a history file's text (`path` is for errors).
pub fn parse_history(text: &str, path: &Path) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line).map_err(|e| Error::HistoryLine {
            path: path.to_path_buf(),
            line: index + 1,
            message: e.to_string(),
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Appends `record` as one line to the history file (created if missing).
pub fn append(path: &Path, record: &Record) -> Result<()> {
    let line = serde_json::to_string(record).map_err(|e| Error::json(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    // A history edited by hand may lack its last newline.
    let needs_newline = fs::read(path)
        .map_err(|e| Error::io(path, e))?
        .last()
        .is_some_and(|b| *b != b'\n');
    let text = if needs_newline {
        format!("\n{line}\n")
    } else {
        format!("{line}\n")
    };
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(commit: &str, mode: Mode) -> Record {
        Record {
            commit: commit.to_string(),
            dirty: false,
            date: "2026-12-03T07:28:34Z".to_string(),
            cpu: "AMD EPYC".to_string(),
            cores: Some(2),
            mode,
            note: None,
            criterion: BTreeMap::new(),
            load: Vec::new(),
            storage: Vec::new(),
            figures: BTreeMap::new(),
        }
    }

    #[test]
    fn records_appended_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results/history.jsonl");
        let first = record("aaaa", Mode::Imported);
        let mut second = record("bbbb", Mode::Quick);
        second.dirty = true;
        append(&path, &first).unwrap();
        append(&path, &second).unwrap();
        assert_eq!(read_history(&path).unwrap(), vec![first, second.clone()]);
        assert_eq!(second.short_commit(), "bbbb+");
        assert_eq!(second.short_date(), "2026-12-03 07:28");
    }

    #[test]
    fn a_history_without_its_last_newline_still_gets_one_record_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let first = serde_json::to_string(&record("aaaa", Mode::Full)).unwrap();
        fs::write(&path, first).unwrap();
        append(&path, &record("bbbb", Mode::Full)).unwrap();
        assert_eq!(read_history(&path).unwrap().len(), 2);
    }

    #[test]
    fn a_malformed_line_is_reported_with_its_file_and_line() {
        let good = serde_json::to_string(&record("aaaa", Mode::Full)).unwrap();
        let text = format!("{good}\n\n{{\"commit\": 5}}\n");
        let err = parse_history(&text, Path::new("benches/results/history.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("benches/results/history.jsonl:3: "),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_mode_is_refused() {
        let text = serde_json::to_string(&record("aaaa", Mode::Full))
            .unwrap()
            .replace("\"full\"", "\"fast\"");
        let err = parse_history(&text, Path::new("h.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("h.jsonl:1: "), "{err}");
        assert!(err.contains("fast"), "{err}");
    }

    #[test]
    fn a_missing_history_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_history(&dir.path().join("none.jsonl"))
            .unwrap()
            .is_empty());
    }
}
