//! Numbers and text as the page and BENCHMARKS.md print them.

/// Three significant digits, thousands separated: `451,234`, `5,403`,
/// `348`, `33.3`, `2.34`, `0.985`.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if a >= 1000.0 {
        return thousands(v.round());
    }
    // Counts and round figures: `5`, `150`, not `5.00`.
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        // Three significant digits below one.
        (2 - a.log10().floor() as i32).clamp(2, 9) as usize
    };
    format!("{v:.decimals$}")
}

fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A value with its unit: `2.34 GiB/s`, `3.27×`.
pub fn with_unit(v: f64, unit: &str) -> String {
    if unit == "×" {
        format!("{}×", number(v))
    } else {
        format!("{} {unit}", number(v))
    }
}

/// `0.98×`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}×")
}

/// Text safe inside HTML elements and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe in a Markdown table cell.
pub fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(number(451_234.4), "451,234");
        assert_eq!(number(5403.0), "5,403");
        assert_eq!(number(-1234.0), "-1,234");
        assert_eq!(number(348.4), "348");
        assert_eq!(number(33.33), "33.3");
        assert_eq!(number(2.345), "2.35");
        assert_eq!(number(0.9851), "0.985");
        assert_eq!(number(0.0001234), "0.000123");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(5.0), "5");
        assert_eq!(number(150.0), "150");
        assert_eq!(number(f64::NAN), "—");
        assert_eq!(with_unit(3.27, "×"), "3.27×");
        assert_eq!(with_unit(22.6, "µs"), "22.6 µs");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(markdown_cell("a|b"), "a\\|b");
    }
}
