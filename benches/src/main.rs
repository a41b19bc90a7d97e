//! `sherd-bench-dashboard`: records a benchmark run into the history file
//! and renders the dashboard and BENCHMARKS.md's figures tables from it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sherd_benches::{criterion, html, markdown, record, Catalogue, Error, Mode, Record};

/// Records benchmark runs and renders the benchmark dashboard.
#[derive(Debug, Parser)]
#[command(name = "sherd-bench-dashboard")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append one run's figures (criterion's output, `sherd bench` reports)
    /// to the history file as one JSON line.
    Record(RecordArgs),
    /// Render the dashboard page (and BENCHMARKS.md's tables) from the history.
    Render(RenderArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RunMode {
    Quick,
    Full,
}

#[derive(Debug, clap::Args)]
struct RecordArgs {
    /// The history file to append to.
    #[arg(long, default_value = "benches/results/history.jsonl")]
    history: PathBuf,
    #[arg(long, value_enum)]
    mode: RunMode,
    /// The commit measured (full hash).
    #[arg(long)]
    commit: String,
    /// The work tree had uncommitted changes.
    #[arg(long)]
    dirty: bool,
    /// When the run ended, RFC 3339 UTC (`date -u +%Y-%m-%dT%H:%M:%SZ`).
    #[arg(long)]
    date: String,
    /// The CPU's model name.
    #[arg(long)]
    cpu: String,
    /// Logical CPUs.
    #[arg(long)]
    cores: Option<u32>,
    /// criterion's output directory of this run (its CRITERION_HOME).
    #[arg(long)]
    criterion: Option<PathBuf>,
    /// A `sherd bench load --json` report (repeatable).
    #[arg(long)]
    load: Vec<PathBuf>,
    /// A `sherd bench storage --json` report (repeatable).
    #[arg(long)]
    storage: Vec<PathBuf>,
    /// A remark kept with the record.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RenderArgs {
    #[arg(long, default_value = "benches/results/history.jsonl")]
    history: PathBuf,
    #[arg(long, default_value = "benches/figures.toml")]
    catalogue: PathBuf,
    /// Directory for index.html.
    #[arg(long)]
    out: PathBuf,
    /// Rewrite the figures tables of this file (BENCHMARKS.md) between its
    /// `<!-- figures:begin` and `<!-- figures:end` lines.
    #[arg(long)]
    benchmarks_md: Option<PathBuf>,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Record(args) => record_run(args),
        Command::Render(args) => render(args),
    }
}

fn record_run(args: RecordArgs) -> Result<()> {
    let criterion = match &args.criterion {
        Some(dir) => criterion::read_dir(dir)?,
        None => Default::default(),
    };
    let record = Record {
        commit: args.commit,
        dirty: args.dirty,
        date: args.date,
        cpu: args.cpu,
        cores: args.cores,
        mode: match args.mode {
            RunMode::Quick => Mode::Quick,
            RunMode::Full => Mode::Full,
        },
        note: args.note,
        criterion,
        load: read_reports(&args.load)?,
        storage: read_reports(&args.storage)?,
        figures: Default::default(),
    };
    record::append(&args.history, &record)?;
    eprintln!(
        "recorded {} criterion benchmarks, {} load runs, {} storage runs for {} in {}",
        record.criterion.len(),
        record.load.len(),
        record.storage.len(),
        record.short_commit(),
        args.history.display()
    );
    Ok(())
}

/// `sherd bench … --json` reports: each file one JSON object.
fn read_reports(paths: &[PathBuf]) -> Result<Vec<serde_json::Value>> {
    paths
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| Error::Json {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if !value.is_object() {
                return Err(Error::Json {
                    path: path.clone(),
                    message: "not a JSON object (a `sherd bench … --json` report)".into(),
                }
                .into());
            }
            Ok(value)
        })
        .collect()
}

fn render(args: RenderArgs) -> Result<()> {
    let catalogue = Catalogue::read(&args.catalogue)?;
    let records = record::read_history(&args.history)?;
    let in_catalogue = |message: String| Error::Catalogue {
        path: args.catalogue.clone(),
        message,
    };
    let page = html::page(&catalogue, &records).map_err(in_catalogue)?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let index = args.out.join("index.html");
    write(&index, &page)?;
    eprintln!("dashboard: {}", index.display());
    if let Some(path) = &args.benchmarks_md {
        let tables = markdown::tables(&catalogue, &records).map_err(in_catalogue)?;
        let document = fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        let updated = markdown::splice(&document, &tables).map_err(|marker| Error::Marker {
            path: path.clone(),
            marker,
        })?;
        if updated != document {
            write(path, &updated)?;
            eprintln!("updated the figures tables of {}", path.display());
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| {
        Error::Io {
            path: path.to_path_buf(),
            source: e,
        }
        .into()
    })
}
