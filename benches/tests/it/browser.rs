//! The rendered dashboard opened in a real headless Chromium: every figure
//! of the catalogue is on the page, the charts are there, the browser
//! reports no error, and screenshots (desktop light, phone dark) are kept
//! in `<target>/bench-dashboard/` for a person to look at.
//!
//! Needs `chromium` on the PATH (Debian: `apt-get install chromium`;
//! `.ci/run` installs it when missing). The test installs nothing: without
//! a browser it fails, unless `SHERD_SKIP_BROWSER_TEST=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sherd_benches::{html, record, Catalogue};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/bench-dashboard`, next to the page `benches/run.sh` renders.
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("bench-dashboard")
}

fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs the browser headless on `page` with `args`; its stdout and stderr.
fn run_browser(browser: &Path, profile: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("waits").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not finish within 90 s", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{} failed: {}",
        browser.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the page itself caused: console messages and failed loads (not
/// the browser's own complaints about D-Bus or GPUs in a container).
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Failed to load resource")
                || l.contains("Uncaught")
                || l.contains("net::ERR_")
        })
        .collect()
}

#[test]
fn the_dashboard_renders_in_chromium_with_every_figure_and_its_charts() {
    let Some(browser) = browser() else {
        if std::env::var_os("SHERD_SKIP_BROWSER_TEST").is_some() {
            eprintln!("no chromium on the PATH; skipped (SHERD_SKIP_BROWSER_TEST)");
            return;
        }
        panic!(
            "no chromium on the PATH: `apt-get install chromium` (or SHERD_SKIP_BROWSER_TEST=1)"
        );
    };
    let catalogue = Catalogue::read(&manifest_dir().join("figures.toml")).expect("catalogue");
    let records = record::read_history(&manifest_dir().join("tests/fixtures/history.jsonl"))
        .expect("fixture history");
    let page = html::page(&catalogue, &records).expect("renders");

    // Self-contained: nothing fetched, no script.
    for outside in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!page.contains(outside), "the page contains {outside}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let index = dir.path().join("index.html");
    std::fs::write(&index, &page).expect("writes");
    let profile = dir.path().join("profile");

    let (dom, stderr) = run_browser(&browser, &profile, &index, &["--dump-dom"]);
    assert!(
        page_errors(&stderr).is_empty(),
        "the browser reported: {:#?}",
        page_errors(&stderr)
    );
    assert!(
        dom.contains("<h1>sherd benchmarks</h1>"),
        "no page in the DOM: {dom:.300}"
    );
    for figure in &catalogue.figures {
        assert!(
            dom.contains(&format!("<code class=\"id\">{}</code>", figure.id)),
            "figure {} is not on the page",
            figure.id
        );
    }
    // The CPU is named (and escaped), a sparkline per measured figure, the
    // testnet's chart with the run's and the imported record's lines.
    assert!(dom.contains("Test CPU &lt;fixture&gt;"));
    let sparks = dom.matches("<svg class=\"spark\"").count();
    assert!(sparks >= 20, "only {sparks} history lines");
    assert_eq!(dom.matches("<svg class=\"xy\"").count(), 1);
    assert!(dom.contains("p50, 012345678+ (quick)") && dom.contains("p99, f9cbfd3c8 (imported)"));
    assert!(dom.contains("badge met") && dom.contains("badge not-met"));

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    for (name, args) in [
        ("test-desktop-light.png", vec!["--window-size=1280,4200"]),
        (
            "test-phone-dark.png",
            vec!["--window-size=390,9000", "--force-dark-mode"],
        ),
    ] {
        let path = shots.join(name);
        let _ = std::fs::remove_file(&path);
        let mut all = args.clone();
        let shot = format!("--screenshot={}", path.display());
        all.push(&shot);
        let (_, stderr) = run_browser(&browser, &profile, &index, &all);
        assert!(
            page_errors(&stderr).is_empty(),
            "the browser reported: {:#?}",
            page_errors(&stderr)
        );
        let png = std::fs::read(&path).expect("the screenshot was written");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} is not a page's screenshot",
            path.display()
        );
    }
}
