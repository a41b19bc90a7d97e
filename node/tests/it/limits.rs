//! The HTTP API's limits (`sherd_node::limits`) on a dev node over real
//! loopback sockets: oversized bodies and headers; slow clients (headers
//! and a body trickled a byte at a time, idle connections); connections
//! beyond the caps; and a flood of submissions and faucet requests, during
//! which the chain keeps finalizing and the node's memory stays bounded.
//!
//! Clients come from several loopback addresses (all of 127.0.0.0/8 is
//! loopback on Linux), since the limits are per client address.

use std::io::{self, BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use sherd_ledger::Address;
use sherd_node::api::MAX_BODY_BYTES;
use sherd_node::limits::ApiLimits;
use sherd_node::{run_dev, DevConfig, DevNode};

use crate::dev_chain::{runtime, stop, transfer};
use crate::http::{get, request_text};
use crate::metrics::sample;

const WAIT: Duration = Duration::from_secs(30);
/// The address of the well-behaved client.
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn start_with(rt: &tokio::runtime::Runtime, home: &std::path::Path, limits: ApiLimits) -> DevNode {
    let mut config = DevConfig::new(home.to_path_buf(), "127.0.0.1:0".parse().unwrap());
    config.api_limits = limits;
    // A block every 100 ms when idle: the height shows progress at once.
    config.idle_interval = Duration::from_millis(100);
    rt.block_on(async { tokio::time::timeout(WAIT, run_dev(config)).await })
        .expect("node start timed out")
        .expect("node starts")
}

/// A blocking TCP connection to `to` from the loopback address `from`.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((from, 0)))?;
            socket.connect(to).await?.into_std()
        })
        .unwrap_or_else(|e| panic!("cannot connect from {from} to {to}: {e}"));
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// An HTTP answer: status, head (lowercase) and body as JSON.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    /// The bytes read from a connection until the server closed it (a
    /// reset after the answer, when the server did not read all that was
    /// sent, keeps what came before it).
    fn read(stream: &mut TcpStream) -> Self {
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let head = head.to_ascii_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = if head.contains("transfer-encoding: chunked") {
            crate::http::dechunk(body)
        } else {
            body.to_string()
        };
        Self {
            status,
            head,
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        }
    }

    fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim())
        })
    }
}

/// Sends `body` to `path` from `from` and reads the answer.
fn request_from(from: Ipv4Addr, to: SocketAddr, method: &str, path: &str, body: &str) -> Answer {
    let mut stream = connect_from(from, to);
    let sent = write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A server that answers before reading the whole body may close on
    // the rest: its answer is still there to read.
    let _ = sent;
    Answer::read(&mut stream)
}

/// Sends `size` bytes to `path` in chunks, without declaring a length,
/// and reads the answer.
fn chunked_upload(api: SocketAddr, path: &str, size: usize) -> Answer {
    let mut stream = connect_from(LOCAL, api);
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = thread::spawn(move || {
        let chunk = vec![b'a'; 64 << 10];
        let mut sent = 0;
        while sent < size {
            let wrote = write!(writer, "{:x}\r\n", chunk.len())
                .and_then(|()| writer.write_all(&chunk))
                .and_then(|()| writer.write_all(b"\r\n"));
            if wrote.is_err() {
                return;
            }
            sent += chunk.len();
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let answer = Answer::read(&mut stream);
    sending.join().unwrap();
    answer
}

/// The node's `/metrics` sample `series`.
fn metric(api: SocketAddr, series: &str) -> f64 {
    let (code, body) = request_text(api, "GET", "/metrics", None).unwrap();
    assert_eq!(code, 200, "{body}");
    sample(&body, series)
}

#[test]
fn oversized_bodies_and_headers_are_refused_and_the_node_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let node = start_with(&rt, dir.path(), ApiLimits::default());
    let api = node.api;

    for path in ["/v1/txs", "/v1/txs/batch", "/v1/faucet"] {
        // A declared length over the limit: refused before the body is read.
        let mut stream = connect_from(LOCAL, api);
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        )
        .unwrap();
        let answer = Answer::read(&mut stream);
        assert_eq!(
            (answer.status, answer.code()),
            (413, Some("bad_request")),
            "{path}: {answer:?}"
        );
        assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
        // In chunks, no length declared: cut at the limit as it is read.
        let answer = chunked_upload(api, path, MAX_BODY_BYTES + (1 << 20));
        assert_eq!(
            (answer.status, answer.code()),
            (413, Some("bad_request")),
            "{path}: {answer:?}"
        );
        assert!(
            answer.body["error"]
                .as_str()
                .unwrap()
                .contains(&MAX_BODY_BYTES.to_string()),
            "{answer:?}"
        );
    }
    // Just under the limit, the body is read and judged on what it holds.
    let body = format!(r#"{{"tx":"{}"}}"#, "0".repeat(MAX_BODY_BYTES - 10));
    assert!(body.len() < MAX_BODY_BYTES);
    let answer = request_from(LOCAL, api, "POST", "/v1/txs", &body);
    assert_eq!(
        (answer.status, answer.code()),
        (400, Some("bad_transaction")),
        "{answer:?}"
    );
    // Headers over 16 KiB: answered (and closed, maybe while the rest is
    // still being written) once 16 KiB are in.
    let mut stream = connect_from(LOCAL, api);
    let _ = write!(
        stream,
        "GET /v1/status HTTP/1.1\r\nHost: node\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(20 << 10)
    );
    let answer = Answer::read(&mut stream);
    assert_eq!(answer.status, 431, "{answer:?}");

    let (code, status) = get(api, "/v1/status");
    assert_eq!(code, 200, "{status}");
    assert!(metric(api, r#"sherd_api_refused_total{reason="too_large"}"#) >= 3.0);
    stop(&rt, node);
}

/// Sends `bytes` one a second on `stream` (nothing if empty) until the
/// server closes it; answers how long that took, or what went wrong.
fn trickle(mut stream: TcpStream, bytes: &'static [u8]) -> Result<Duration, String> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut next = bytes.iter().cycle();
    let mut buf = [0; 1024];
    while started.elapsed() < Duration::from_secs(15) {
        if let Some(byte) = next.next() {
            if stream.write_all(&[*byte]).is_err() {
                return Ok(started.elapsed());
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return Ok(started.elapsed()),
            Ok(n) => return Err(format!("answered: {}", String::from_utf8_lossy(&buf[..n]))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok(started.elapsed()),
        }
    }
    Err("still open after 15 s".into())
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let limits = ApiLimits {
        header_timeout_secs: 2,
        request_timeout_secs: 3,
        ..ApiLimits::default()
    };
    let node = start_with(&rt, dir.path(), limits);
    let api = node.api;

    // Sixteen connections trickle a request's headers, a byte a second,
    // and four send nothing at all.
    const HEADERS: &[u8] = b"GET /v1/status HTTP/1.1\r\nHost: node\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
    let slow: Vec<_> = (0..20)
        .map(|i| {
            let stream = connect_from(LOCAL, api);
            let bytes: &'static [u8] = if i < 16 { HEADERS } else { b"" };
            thread::spawn(move || trickle(stream, bytes))
        })
        .collect();
    // Meanwhile a client that sends its request at once is answered.
    thread::sleep(Duration::from_millis(500));
    let (code, status) = get(api, "/v1/status");
    assert_eq!(code, 200, "{status}");

    // A body trickled after whole headers: 408 at the request deadline.
    let mut stream = connect_from(LOCAL, api);
    write!(
        stream,
        "POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    )
    .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let body_trickle = thread::spawn(move || {
        for _ in 0..15 {
            thread::sleep(Duration::from_secs(1));
            if writer.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let answer = Answer::read(&mut stream);
    assert_eq!(
        (answer.status, answer.code()),
        (408, Some("request_timeout")),
        "{answer:?}"
    );
    assert_eq!(answer.header("connection"), Some("close"), "{answer:?}");
    body_trickle.join().unwrap();

    // Every slow connection was closed within its header timeout (2 s;
    // a trickle left alone goes on for 15 s).
    for (i, handle) in slow.into_iter().enumerate() {
        let closed = handle.join().unwrap();
        let after = closed.unwrap_or_else(|e| panic!("slow connection {i}: {e}"));
        assert!(
            after < Duration::from_secs(8),
            "connection {i} lasted {after:?}"
        );
    }
    let (code, _) = get(api, "/v1/status");
    assert_eq!(code, 200);
    assert!(metric(api, r#"sherd_api_refused_total{reason="header_timeout"}"#) >= 20.0);
    assert!(metric(api, r#"sherd_api_refused_total{reason="request_timeout"}"#) >= 1.0);
    stop(&rt, node);
}

#[test]
fn connections_beyond_the_caps_wait_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let limits = ApiLimits {
        max_connections: 8,
        max_connections_per_ip: 4,
        header_timeout_secs: 4,
        ..ApiLimits::default()
    };
    let node = start_with(&rt, dir.path(), limits);
    let api = node.api;
    let (a, b) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));

    // Four idle connections from one client; its fifth is refused.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect_from(a, api)).collect();
    let fifth = request_from(a, api, "GET", "/v1/status", "");
    assert_eq!(
        (fifth.status, fifth.code()),
        (503, Some("too_many_connections")),
        "{fifth:?}"
    );
    assert_eq!(fifth.header("retry-after"), Some("1"), "{fifth:?}");
    // Another client fills the node's eight.
    idle.extend((0..4).map(|_| connect_from(b, api)));
    // A ninth waits in the listen backlog while the eight are open...
    let mut waiting = connect_from(LOCAL, api);
    write!(
        waiting,
        "GET /v1/status HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(1_500)))
        .unwrap();
    let mut first = [0; 1];
    match waiting.read(&mut first) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("served while eight connections were open: {other:?}"),
    }
    // ...and is served once the idle ones reach their header timeout.
    waiting.set_read_timeout(Some(WAIT)).unwrap();
    let answer = Answer::read(&mut waiting);
    assert_eq!(answer.status, 200, "{answer:?}");
    for (i, mut stream) in idle.into_iter().enumerate() {
        let mut buf = [0; 64];
        match stream.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("idle connection {i}: {other:?}"),
        }
    }
    assert!(
        metric(
            api,
            r#"sherd_api_refused_total{reason="too_many_connections"}"#
        ) >= 1.0
    );
    assert!(metric(api, r#"sherd_api_refused_total{reason="header_timeout"}"#) >= 8.0);
    stop(&rt, node);
}

/// Turns [`flood_node`] on; its value is the node's home.
const FLOOD_NODE: &str = "SHERD_TEST_FLOOD_NODE";

/// The flood node's limits: small, so that a short flood reaches each.
fn flood_limits() -> ApiLimits {
    ApiLimits {
        max_in_flight: 4,
        max_connections: 128,
        submit_per_sec: 10,
        submit_burst: 1_024,
        faucet_per_min: 6,
        faucet_burst: 3,
        ..ApiLimits::default()
    }
}

/// Not a test on its own: the dev node of
/// [`a_flood_is_refused_while_the_chain_finalizes_in_bounded_memory`],
/// which runs it in a child process (this test binary again) so that the
/// node's memory is measured alone. Does nothing without
/// `SHERD_TEST_FLOOD_NODE`.
#[test]
#[ignore = "the flood test's node, run by that test in a child process"]
fn flood_node() {
    let Some(home) = std::env::var_os(FLOOD_NODE) else {
        return;
    };
    let rt = runtime();
    let node = start_with(&rt, std::path::Path::new(&home), flood_limits());
    println!("api={}", node.api);
    io::stdout().flush().unwrap();
    // Until the test closes stdin, two minutes at most.
    let (closed, stdin_closed) = mpsc::channel();
    thread::spawn(move || {
        let _ = io::stdin().read_to_end(&mut Vec::new());
        let _ = closed.send(());
    });
    let _ = stdin_closed.recv_timeout(Duration::from_secs(120));
    stop(&rt, node);
}

/// A child process's memory: (resident now, peak resident), KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The finalized height, from any address (GETs are not rate limited; a
/// shed request is asked again).
fn finalized(api: SocketAddr) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = request_from(LOCAL, api, "GET", "/v1/status", "");
        if let Some(height) = answer.body["finalized_height"].as_u64() {
            return height;
        }
        assert!(Instant::now() < deadline, "no status: {answer:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Polls until `hash` is final (from a client of its own).
fn wait_final(api: SocketAddr, hash: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = request_from(LOCAL, api, "GET", &format!("/v1/txs/{hash}"), "");
        if answer.body["status"] == "finalized" {
            return;
        }
        assert!(Instant::now() < deadline, "{hash} not final: {answer:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `clients` threads, each calling `send` until `duration` is over;
/// answers every status they saw (0: the connection was cut before an
/// answer).
fn flood(
    clients: usize,
    duration: Duration,
    send: impl Fn(usize, usize) -> Answer + Send + Sync + 'static,
) -> Vec<Answer> {
    let send = Arc::new(send);
    let over = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (send, over) = (send.clone(), over.clone());
            thread::spawn(move || {
                let mut seen = Vec::new();
                while !over.load(Ordering::Relaxed) {
                    seen.push(send(client, seen.len()));
                }
                seen
            })
        })
        .collect();
    thread::sleep(duration);
    over.store(true, Ordering::Relaxed);
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

#[test]
fn a_flood_is_refused_while_the_chain_finalizes_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["limits::flood_node", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(FLOOD_NODE, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (found, api) = mpsc::channel();
    thread::spawn(move || {
        for line in io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            // The harness writes `test limits::flood_node ... ` first.
            if let Some((_, addr)) = line.split_once("api=") {
                let _ = found.send(addr.parse::<SocketAddr>().unwrap());
            }
        }
    });
    let api = api.recv_timeout(WAIT).expect("the flood node starts");
    let flood_for = Duration::from_secs(6);

    // A well-behaved client with funds, from an address of its own.
    let good = Ipv4Addr::new(127, 0, 0, 5);
    let alice = SigningKey::from_bytes(&[51; 32]);
    let grant = request_from(
        good,
        api,
        "POST",
        "/v1/faucet",
        &format!(
            r#"{{"address":"{}","amount":"10"}}"#,
            Address::from(&alice.verifying_key())
        ),
    );
    assert_eq!(grant.status, 202, "{grant:?}");
    wait_final(api, grant.body["hash"].as_str().unwrap());
    let (_, baseline_peak) = memory_kib(pid);

    // Flood 1, from one address: transactions, a batch and faucet requests.
    let before = finalized(api);
    let batch = Arc::new(format!(
        r#"{{"txs":[{}]}}"#,
        vec![r#""00""#; 1_024].join(",")
    ));
    let submitting = {
        let batch = batch.clone();
        thread::spawn(move || {
            flood(4, flood_for, move |client, n| match (client, n % 8) {
                (0, 0) => request_from(LOCAL, api, "POST", "/v1/txs/batch", &batch),
                (0, _) => {
                    let to = Address([(n % 250) as u8; 32]);
                    request_from(
                        LOCAL,
                        api,
                        "POST",
                        "/v1/faucet",
                        &format!(r#"{{"address":"{to}"}}"#),
                    )
                }
                _ => request_from(LOCAL, api, "POST", "/v1/txs", r#"{"tx":"00"}"#),
            })
        })
    };
    // The well-behaved client's transfer goes through during the flood.
    thread::sleep(Duration::from_secs(1));
    let tx = transfer(&alice, "sherd-dev", 0, Address([52; 32]), 1_000);
    let sent = request_from(good, api, "POST", "/v1/txs", &format!(r#"{{"tx":"{tx}"}}"#));
    assert_eq!(sent.status, 202, "{sent:?}");
    wait_final(api, sent.body["hash"].as_str().unwrap());
    let answers = submitting.join().unwrap();
    let during = finalized(api);
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(!limited.is_empty(), "nothing rate limited");
    // What got past the limit: a transaction that does not decode (400)
    // costs 1, a batch read (200) 1,024; the budget is the burst and the
    // rate over the flood (and a second of slack).
    let spent = count(&answers, 400) + 1_024 * count(&answers, 200);
    let budget = 1_024 + 10 * (flood_for.as_secs() as usize + 2);
    assert!(
        spent <= budget,
        "{spent} transactions got past a limit of {budget} ({} requests)",
        answers.len()
    );
    for answer in &limited {
        assert_eq!(answer.code(), Some("rate_limited"), "{answer:?}");
        let after: u64 = answer
            .header("retry-after")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no Retry-After: {answer:?}"));
        assert!(after >= 1, "{answer:?}");
    }
    // The faucet granted its burst and about its rate (6 a minute), no more.
    let granted = count(&answers, 202);
    assert!((1..=4).contains(&granted), "{granted} faucet grants");
    assert!(
        during > before,
        "no block finalized during the flood ({before} → {during})"
    );

    // Flood 2, from 48 addresses: batches of 4 MiB, far more than the node
    // takes at once.
    let big = Arc::new(format!(
        r#"{{"txs":[{}]}}"#,
        vec![format!("\"{}\"", "ab".repeat(2_000)); 1_024].join(",")
    ));
    assert!(big.len() < MAX_BODY_BYTES && big.len() > MAX_BODY_BYTES - (200 << 10));
    let before = finalized(api);
    let answers = {
        let big = big.clone();
        flood(48, flood_for, move |client, _| {
            let from = Ipv4Addr::new(127, 0, 1, client as u8 + 1);
            request_from(from, api, "POST", "/v1/txs/batch", &big)
        })
    };
    let during = finalized(api);
    let (_, peak) = memory_kib(pid);
    let shed = metric(api, r#"sherd_api_refused_total{reason="overloaded"}"#);
    assert!(
        shed > 0.0,
        "nothing shed: 200 {}, 429 {}, 503 {}, cut {}",
        count(&answers, 200),
        count(&answers, 429),
        count(&answers, 503),
        count(&answers, 0)
    );
    assert!(count(&answers, 200) > 0, "no batch was read");
    assert!(
        during > before,
        "no block finalized during the flood ({before} → {during})"
    );
    // At most 4 bodies of 4 MiB are read at once, each parsed into about
    // as much again: about 35 MiB more at the peak. Without the cap on
    // requests in flight the 48 at once took about 200 MiB more.
    let grown_mib = peak.saturating_sub(baseline_peak) / 1024;
    assert!(
        grown_mib < 96,
        "the node's peak memory grew by {grown_mib} MiB during the flood (4 requests in flight at most)"
    );

    drop(child.stdin.take());
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the flood node did not stop");
        }
        thread::sleep(Duration::from_millis(50));
    }
}
