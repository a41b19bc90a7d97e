//! The web explorer in a real headless Chromium, driven over WebDriver
//! (chromedriver on a free loopback port), against a local testnet of real
//! processes: a transfer and a `sherd storage put` made during the test,
//! then every page renders with no page error, shows the values the API
//! gives, search finds each kind of id and explains what it cannot find,
//! a phone-sized window does not scroll sideways, and the dark theme is
//! remembered. A screenshot of each page goes to
//! `target/explorer-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`,
//! `chromium-driver`; `.ci/run` installs them). Without them the test
//! fails saying so, unless `SHERD_SKIP_BROWSER_TEST=1`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::node::get;
use super::storage::Net;

/// The whole browser part may take this long.
const BROWSER_BUDGET: Duration = Duration::from_secs(420);
/// One page may take this long to render.
const PAGE_WAIT: Duration = Duration::from_secs(20);

/// chromedriver in a process group of its own, with the Chromium it
/// starts: the whole group is killed when dropped, so a failing test leaves
/// no browser behind.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// chromedriver, and the Chromium it starts, with their temporary
    /// files in `tmp`.
    fn start(tmp: &Path) -> Option<Self> {
        let binary = which("chromedriver")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .process_group(0)
            .env("TMPDIR", tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(driver)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// `target/explorer-screenshots`, next to the binary's profile directory.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_sherd"))
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in target/<profile>/")
        .to_path_buf();
    let dir = target.join("explorer-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A decimal amount grouped as the explorer shows it, with its unit.
fn shown_tokens(decimal: &str) -> String {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push('.');
        grouped.push_str(frac);
    }
    format!("{grouped} sherd")
}

/// The explorer in one browser session.
struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
}

impl Browser {
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until the page at hash route `route` is rendered (or, when
    /// `lands` is given, until the explorer moved on to that route).
    async fn open(&self, route: &str) {
        let url = format!("{}/#/{route}", self.base);
        self.client.goto(&url).await.unwrap();
        self.wait_page(route).await;
    }

    async fn wait_page(&self, route: &str) {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let shown = self
                .js(
                    "const v = document.getElementById('view');
                     return v.dataset.page === arguments[0] && !v.hasAttribute('aria-busy');",
                    vec![json!(route)],
                )
                .await;
            if shown == json!(true) {
                break;
            }
            if Instant::now() > deadline {
                let now = self
                    .js(
                        "return [location.hash, document.getElementById('view').innerText.slice(0, 500)];",
                        vec![],
                    )
                    .await;
                panic!("page #/{route} did not render: {now}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.no_errors(route).await;
    }

    /// The page recorded no error (console.error, onerror, rejections).
    async fn no_errors(&self, route: &str) {
        let errors = self.js("return window.sherdErrors;", vec![]).await;
        assert_eq!(
            errors,
            json!([]),
            "page #/{route} had errors (or app.js did not run)"
        );
    }

    /// A screenshot of the whole page: the window is made as tall as the
    /// page (up to 4000 px) for it, then put back.
    async fn shot(&self, name: &str) {
        let (width, height) = self.client.get_window_size().await.unwrap();
        let page = self
            .js(
                "return document.documentElement.scrollHeight + (window.outerHeight - window.innerHeight);",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(height);
        let tall = page.clamp(height, 4000);
        let (w, h) = (
            u32::try_from(width).unwrap(),
            u32::try_from(height).unwrap(),
        );
        self.client
            .set_window_size(w, u32::try_from(tall).unwrap())
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(w, h).await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The text of the first element matching `css`, read in one script:
    /// the page renders itself again every 2 s, so an element found in
    /// one WebDriver call can be gone (stale) by the next.
    async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = self
                .js(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                    vec![json!(css)],
                )
                .await;
            if let Some(text) = found.as_str() {
                return text.trim().to_string();
            }
            assert!(Instant::now() < deadline, "no `{css}` on the page");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The full values (`data-full`) of the hashes and addresses under `css`.
    async fn full_values(&self, css: &str) -> Vec<String> {
        let found = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.full);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(found).unwrap()
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Types `query` in the search box, submits it, and waits for `lands`
    /// (from the overview, so that landing is always a change of page).
    async fn search(&self, query: &str, lands: &str) {
        self.open("").await;
        self.submit_search(query).await;
        self.wait_page(lands).await;
    }

    /// Types `query` in the search box and submits it.
    async fn submit_search(&self, query: &str) {
        let input = self.client.find(Locator::Id("q")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(query).await.unwrap();
        self.client
            .find(Locator::Css("#search button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Searches something that leads nowhere; answers the message shown.
    async fn search_fails(&self, query: &str) -> String {
        self.submit_search(query).await;
        let encoded = self
            .js(
                "return encodeURIComponent(arguments[0]);",
                vec![json!(query)],
            )
            .await;
        self.wait_page(&format!("search/{}", encoded.as_str().unwrap()))
            .await;
        self.text(".notice.error").await
    }
}

#[test]
fn the_explorer_shows_a_live_testnet_in_a_real_browser() {
    if std::env::var_os("SHERD_SKIP_BROWSER_TEST").is_some() {
        eprintln!("SHERD_SKIP_BROWSER_TEST is set: the explorer's browser test is SKIPPED");
        return;
    }
    // Chromium's profile and temporary files, removed at the end.
    let browser_dir = tempfile::tempdir().unwrap();
    let profile = browser_dir.path().join("profile");
    let Some(driver) = Driver::start(browser_dir.path()) else {
        panic!(
            "chromedriver is not on PATH: install chromium and chromium-driver \
             (Debian: apt-get install -y chromium chromium-driver), or set \
             SHERD_SKIP_BROWSER_TEST=1 to skip this test"
        );
    };

    let net = Net::start(2, 3, 12, 6);
    let api = net.nodes[0].api;
    net.ok(&["wallet", "new", "alice"]);
    net.ok(&["wallet", "new", "bob"]);
    net.ok(&["wallet", "faucet", "alice"]);
    let address = |name: &str| {
        net.ok(&["wallet", "address", name])["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (alice, bob) = (address("alice"), address("bob"));
    let sent = net.ok(&[
        "wallet", "send", "--from", "alice", "--to", &bob, "--amount", "12.5",
    ]);
    let transfer = sent["hash"].as_str().unwrap().to_string();
    let file = net.client.join("explorer.bin");
    std::fs::write(&file, vec![7u8; 200 << 10]).unwrap();
    let put = net.ok(&[
        "storage",
        "put",
        file.to_str().unwrap(),
        "--data",
        "2",
        "--parity",
        "1",
        "--epochs",
        "5",
        "--from",
        "alice",
    ]);
    let contract = put["id"].as_str().unwrap().to_string();
    let put_tx = put["tx"].as_str().unwrap().to_string();

    let tx = get(api, &format!("/v1/txs/{transfer}")).expect("the transfer is known");
    assert_eq!(tx["status"], "finalized", "{tx}");
    let height = tx["height"].as_u64().unwrap();
    let block = get(api, &format!("/v1/blocks/{height}")).unwrap();
    let block_id = block["id"].as_str().unwrap().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(BROWSER_BUDGET, async {
            let mut options = json!({
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--force-prefers-reduced-motion", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.display()),
                ],
            });
            if let Some(chromium) = which("chromium") {
                options["binary"] = json!(chromium);
            }
            let mut caps = serde_json::Map::new();
            caps.insert("goog:chromeOptions".into(), options);
            let client =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{}", driver.port))
                    .await
                    .expect("a WebDriver session with headless Chromium");
            let b = Browser {
                client,
                base: format!("http://{api}"),
                shots: screenshot_dir(),
            };
            pages(
                &b,
                &Ids {
                    alice: &alice,
                    bob: &bob,
                    transfer: &transfer,
                    height,
                    block_id: &block_id,
                    contract: &contract,
                    put_tx: &put_tx,
                },
                api,
            )
            .await;
            b.client.close().await.unwrap();
        })
        .await
        .expect("the browser test finished in time");
    });
    drop(driver);
}

struct Ids<'a> {
    alice: &'a str,
    bob: &'a str,
    transfer: &'a str,
    height: u64,
    block_id: &'a str,
    contract: &'a str,
    put_tx: &'a str,
}

async fn pages(b: &Browser, ids: &Ids<'_>, api: SocketAddr) {
    // Overview: the cards and the latency chart.
    b.open("").await;
    let finalized: u64 = b
        .text("[data-card=finalized_height] .value")
        .await
        .replace(',', "")
        .parse()
        .expect("the finalized height is a number");
    assert!(finalized >= ids.height, "{finalized} < {}", ids.height);
    assert_eq!(
        b.count(".chart svg path.line").await,
        1,
        "the chart is drawn"
    );
    b.shot("overview").await;

    // The transfer's page: kind, amount, receiver, block, fee, as the API.
    let tx = get(api, &format!("/v1/txs/{}", ids.transfer)).unwrap();
    b.open(&format!("tx/{}", ids.transfer)).await;
    assert_eq!(b.text("[data-key=status] dd").await, "success");
    assert_eq!(b.text("[data-key=kind] dd").await, "transfer");
    assert_eq!(b.text("[data-key='field:amount'] dd").await, "12.5 sherd");
    assert_eq!(
        b.text("[data-key=fee] dd").await,
        shown_tokens(tx["fee"].as_str().unwrap())
    );
    assert_eq!(
        b.full_values("[data-key='field:to'] .hash").await,
        vec![ids.bob.to_string()]
    );
    assert_eq!(
        b.full_values("[data-key=sender] .hash").await,
        vec![ids.alice.to_string()]
    );
    assert!(b
        .text("[data-key=block] dd")
        .await
        .starts_with(&ids.height.to_string()));
    b.shot("tx-transfer").await;

    // The put's transaction: a create_contract naming the contract.
    let contract = get(api, &format!("/v1/contracts/{}", ids.contract)).unwrap();
    let providers: Vec<String> = contract["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["provider"].as_str().unwrap().to_string())
        .collect();
    b.open(&format!("tx/{}", ids.put_tx)).await;
    assert_eq!(b.text("[data-key=kind] dd").await, "create contract");
    assert_eq!(
        b.full_values("[data-key='field:contract'] .hash").await,
        vec![ids.contract.to_string()]
    );
    assert_eq!(
        b.full_values("td[data-col='fragments.provider'] .hash")
            .await,
        providers,
        "the deals' table names the contract's providers"
    );
    b.shot("tx-create-contract").await;

    // The transfer's block lists it.
    let block = get(api, &format!("/v1/blocks/{}", ids.height)).unwrap();
    b.open(&format!("block/{}", ids.height)).await;
    assert!(b
        .full_values("td[data-col=hash] .hash")
        .await
        .contains(&ids.transfer.to_string()));
    assert_eq!(
        b.full_values("[data-key=proposer] .hash").await,
        vec![block["proposer"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        b.count("td[data-col=hash]").await,
        block["txs"].as_array().unwrap().len()
    );
    b.shot("block").await;

    // Accounts: balances as the API, and the transfer in both histories.
    for (name, who) in [("alice", ids.alice), ("bob", ids.bob)] {
        let account = get(api, &format!("/v1/accounts/{who}")).unwrap();
        b.open(&format!("account/{who}")).await;
        assert_eq!(
            b.text("[data-key=balance] dd").await,
            shown_tokens(account["balance"].as_str().unwrap()),
            "{name}'s balance"
        );
        assert_eq!(
            b.text("[data-key=nonce] dd").await,
            account["nonce"].to_string()
        );
        assert!(
            b.full_values("td[data-col=hash] .hash")
                .await
                .contains(&ids.transfer.to_string()),
            "the transfer is in {name}'s history"
        );
        b.shot(&format!("account-{name}")).await;
    }

    // The contract: k + m, one row per fragment with its provider.
    b.open(&format!("contract/{}", ids.contract)).await;
    let fragments = contract["fragments"].as_array().unwrap();
    assert_eq!(fragments.len(), 3);
    assert!(b
        .text("[data-key=km] dd")
        .await
        .starts_with("2 data + 1 parity"));
    assert_eq!(
        b.full_values("td[data-col=provider] .hash").await,
        providers
    );
    assert_eq!(b.count("td[data-col=status] .badge.good").await, 3);
    b.shot("contract").await;

    // Lists.
    b.open("contracts").await;
    assert!(b
        .full_values("td[data-col=id] .hash")
        .await
        .contains(&ids.contract.to_string()));
    b.shot("contracts").await;

    let validators = get(api, "/v1/validators").unwrap();
    b.open("validators").await;
    assert_eq!(
        b.count("td[data-col=operator]").await,
        validators["validators"].as_array().unwrap().len()
    );
    b.shot("validators").await;

    let providers = get(api, "/v1/providers").unwrap();
    b.open("providers").await;
    assert_eq!(
        b.count("td[data-col=provider]").await,
        providers["providers"].as_array().unwrap().len()
    );
    b.shot("providers").await;

    let head = get(api, "/v1/status").unwrap()["finalized_height"]
        .as_u64()
        .unwrap();
    b.open("blocks").await;
    let rows = b.count("td[data-col=height]").await;
    assert!(
        (head.min(20) as usize..=20).contains(&rows),
        "{rows} blocks listed, head {head}"
    );
    b.shot("blocks").await;

    // The transactions below the transfer's block's successor: the
    // transfer's block comes first.
    let route = format!("txs?before={}", ids.height + 1);
    b.open(&route).await;
    assert!(b
        .full_values("td[data-col=hash] .hash")
        .await
        .contains(&ids.transfer.to_string()));
    b.open("txs").await;
    assert!(b.count("td[data-col=hash]").await > 0);
    b.shot("txs").await;

    // Search: each kind of id lands on its page.
    b.open("").await;
    b.search(ids.alice, &format!("account/{}", ids.alice)).await;
    b.search(ids.transfer, &format!("tx/{}", ids.transfer))
        .await;
    b.search(&ids.height.to_string(), &format!("block/{}", ids.height))
        .await;
    b.search(ids.block_id, &format!("block/{}", ids.height))
        .await;
    b.search(ids.contract, &format!("contract/{}", ids.contract))
        .await;
    // ... and says what it cannot find.
    let garbage = b.search_fails("not an id!").await;
    assert!(garbage.contains("is not an address"), "{garbage}");
    b.shot("search-garbage").await;
    let unknown = b.search_fails(&"ab".repeat(32)).await;
    assert!(
        unknown.contains("no transaction, block or contract"),
        "{unknown}"
    );
    b.shot("search-unknown").await;
    let huge = b.search_fails("123456789012345678901234567890").await;
    assert!(huge.contains("too large to be a block height"), "{huge}");
    let ahead = b.search_fails("18446744073709551615").await;
    assert!(ahead.contains("no block at height"), "{ahead}");
    b.open("contract/nothex").await;
    let bad = b.text(".notice.error").await;
    assert!(bad.contains("is not a contract id"), "{bad}");
    b.open("no/such/page").await;
    let lost = b.text(".notice.error").await;
    assert!(lost.contains("No such page"), "{lost}");
    assert!(lost.contains("search box"), "{lost}");
    // A page of one thing also answers to the plural of the API's paths
    // (#/accounts/… as /v1/accounts/…), and shows the same.
    let height = ids.height.to_string();
    for (singular, plural, id) in [
        ("account", "accounts", ids.alice),
        ("tx", "txs", ids.transfer),
        ("block", "blocks", height.as_str()),
        ("contract", "contracts", ids.contract),
    ] {
        b.open(&format!("{singular}/{id}")).await;
        let title = b.text("h1").await;
        b.open(&format!("{plural}/{id}")).await;
        assert_eq!(b.count(".notice.error").await, 0, "#/{plural}/{id}");
        assert_eq!(b.text("h1").await, title, "#/{plural}/{id}");
    }

    // Dark theme: toggled, remembered across a reload.
    b.open("").await;
    let before = b
        .js(
            "return document.documentElement.dataset.theme || null;",
            vec![],
        )
        .await;
    b.client
        .find(Locator::Id("theme"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let theme = b
        .js("return document.documentElement.dataset.theme;", vec![])
        .await;
    assert_ne!(theme, before);
    b.client.refresh().await.unwrap();
    b.wait_page("").await;
    assert_eq!(
        b.js("return document.documentElement.dataset.theme;", vec![])
            .await,
        theme
    );
    b.shot(&format!("overview-{}", theme.as_str().unwrap()))
        .await;
    b.open(&format!("contract/{}", ids.contract)).await;
    b.shot(&format!("contract-{}", theme.as_str().unwrap()))
        .await;

    // A phone: nothing scrolls sideways.
    b.client.set_window_size(390, 844).await.unwrap();
    for (route, name) in [
        (String::new(), "phone-overview"),
        (format!("tx/{}", ids.transfer), "phone-tx"),
        (format!("contract/{}", ids.contract), "phone-contract"),
        ("validators".to_string(), "phone-validators"),
    ] {
        b.open(&route).await;
        let overflow = b
            .js(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await;
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "#/{route} scrolls sideways by {overflow} px on a phone"
        );
        b.shot(name).await;
    }
    eprintln!("explorer screenshots: {}", b.shots.display());
}
