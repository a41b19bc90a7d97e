//! The figures tables of BENCHMARKS.md, written between two marker lines
//! from the same history and catalogue as the dashboard; the hand-written
//! text around them is kept as it is.

use std::fmt::Write;

use crate::catalogue::Catalogue;
use crate::evaluate::{latest, Verdict};
use crate::format::{markdown_cell as cell, ratio, with_unit};
use crate::html::target_text;
use crate::record::{Mode, Record};

/// The line that opens the generated part (the rest of the line is free).
pub const BEGIN: &str = "<!-- figures:begin";
/// The line that closes it.
pub const END: &str = "<!-- figures:end";

/// One table per catalogue section, each figure from the newest full or
/// imported record that has it (quick runs are too noisy to quote).
pub fn tables(catalogue: &Catalogue, records: &[Record]) -> Result<String, String> {
    let mut out = String::new();
    for section in catalogue.sections() {
        let _ = write!(
            out,
            "\n**{}**\n\n| what | figure | raw library | ratio | target | | measured |\n|---|---|---|---|---|---|---|\n",
            cell(section)
        );
        for figure in catalogue.figures.iter().filter(|f| f.section == section) {
            let found = latest(figure, records, |r| r.mode.is_reference())
                .map_err(|e| format!("figure `{}`: {e}", figure.id))?;
            let target = target_text(figure);
            let Some((_, record, e)) = found else {
                let _ = writeln!(
                    out,
                    "| {} | not measured by a full run yet | {} | | {} | | |",
                    cell(&figure.what),
                    figure
                        .baseline
                        .as_ref()
                        .map(|b| cell(&b.name))
                        .unwrap_or_default(),
                    cell(&target)
                );
                continue;
            };
            // A document's own words when it gave a range or several runs.
            let value = e
                .stated
                .clone()
                .unwrap_or_else(|| with_unit(e.value, &figure.unit));
            let raw = match (&figure.baseline, e.baseline) {
                (Some(b), Some(v)) => format!("{} {}", b.name, with_unit(v, &figure.unit)),
                (Some(b), None) => format!("{} (not measured)", b.name),
                (None, _) => String::new(),
            };
            let verdict = match e.verdict {
                Verdict::Met => "met".to_string(),
                Verdict::NotMet => "**not met**".to_string(),
                Verdict::NoTarget => String::new(),
                Verdict::Unknown => "no baseline".to_string(),
            };
            let measured = match record.mode {
                Mode::Imported => "as stated before the dashboard".to_string(),
                _ => format!("`{}` {}", record.short_commit(), record.short_date()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&figure.what),
                cell(&value),
                cell(&raw),
                e.ratio.map(ratio).unwrap_or_default(),
                cell(&target),
                verdict,
                cell(&measured)
            );
        }
    }
    Ok(out)
}

/// `document` with the lines between its begin and end markers replaced
/// by `tables`; `Err` names the marker that is missing.
pub fn splice(document: &str, tables: &str) -> Result<String, &'static str> {
    let begin = line_starting(document, BEGIN, 0).ok_or(BEGIN)?;
    let begin_end = document[begin..]
        .find('\n')
        .map(|i| begin + i + 1)
        .ok_or(END)?;
    let end = line_starting(document, END, begin_end).ok_or(END)?;
    Ok(format!(
        "{}\n{}\n\n{}",
        &document[..begin_end],
        tables.trim_matches('\n'),
        &document[end..]
    ))
}

/// The byte offset of the first line at or after `from` that starts with `prefix`.
fn line_starting(text: &str, prefix: &str, from: usize) -> Option<usize> {
    let mut offset = from;
    for line in text.get(from..)?.split_inclusive('\n') {
        if line.starts_with(prefix) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_between_the_markers_is_replaced_and_the_rest_kept() {
        let doc = "# Benchmarks\n\nprose\n<!-- figures:begin: generated -->\nold\ntable\n<!-- figures:end -->\nmore prose\n";
        let out = splice(doc, "\n| a |\n").unwrap();
        assert_eq!(
            out,
            "# Benchmarks\n\nprose\n<!-- figures:begin: generated -->\n\n| a |\n\n<!-- figures:end -->\nmore prose\n"
        );
        // Idempotent.
        assert_eq!(splice(&out, "| a |").unwrap(), out);
    }

    #[test]
    fn a_missing_marker_is_named() {
        assert_eq!(splice("prose\n", "x"), Err(BEGIN));
        assert_eq!(splice("<!-- figures:begin -->\nprose\n", "x"), Err(END));
        // An end before the begin does not count.
        assert_eq!(
            splice("<!-- figures:end -->\n<!-- figures:begin -->\n", "x"),
            Err(END)
        );
    }
}
