//! The HTTP API's limits: how much of the node one client, or all clients
//! together, can hold, and what a client gets when it reaches a limit.
//!
//! | limit | default | beyond it |
//! |---|---|---|
//! | request body ([`crate::api::MAX_BODY_BYTES`]) | 4 MiB | `413 bad_request` |
//! | request line and headers ([`MAX_HEADER_BYTES`]) | 16 KiB | `431`, no body (the HTTP layer answers) |
//! | time to send the request line and headers, and an idle keep-alive connection's wait for its next request (`header_timeout_secs`) | 10 s | the connection is closed |
//! | time from the end of the headers to the answer, reading the body included (`request_timeout_secs`) | 30 s | `408 request_timeout`, then the connection is closed |
//! | time a response may wait on a client that does not read it (`request_timeout_secs`) | 30 s | the connection is closed |
//! | open connections (`max_connections`) | 512 | new connections wait in the kernel's listen backlog until one closes |
//! | open connections from one client (`max_connections_per_ip`) | 32 | the connection's request is answered `503 too_many_connections`, then it is closed |
//! | requests being handled at once (`max_in_flight`) | 64 | `503 overloaded` with `Retry-After: 1` |
//! | transactions submitted per client (`POST /v1/txs`, `POST /v1/txs/batch`; `submit_per_sec`, `submit_burst`) | 2,500 a second, 5,000 at once | `429 rate_limited` with `Retry-After` |
//! | faucet requests per client (`POST /v1/faucet`; `faucet_per_min`, `faucet_burst`) | 10 a minute, 10 at once | `429 rate_limited` with `Retry-After` |
//!
//! A client is an IPv4 address, or an IPv6 /64 (what one host is usually
//! given; an IPv4-mapped IPv6 address counts as its IPv4 address). Behind
//! a reverse proxy every client is the proxy: raise the per-client limits
//! there and let the proxy limit its clients (`X-Forwarded-For` is not
//! trusted, as anyone can send it). Requests that do not come over a
//! socket (a router driven in-process) have no client and no rate limit.
//!
//! Rate limits are token buckets ([`bucket`]): a client may spend a burst
//! at once, then its rate. A submission costs one token per transaction:
//! the request pays one as it comes in, and a batch of `n` pays the other
//! `n − 1` once its body is read ([`Charge`]), before any signature is
//! checked. `submit_burst` is at least [`crate::api::MAX_SUBMIT_BATCH`],
//! so every batch can be paid. The faucet's own limit of one grant per
//! address per [`crate::api::FAUCET_INTERVAL`] applies as well.
//!
//! The defaults let `sherd bench load` drive a local testnet from one
//! address at the rates in BENCHMARKS.md (7,000 tx/s over four nodes is
//! 1,750 to each); a single node loaded beyond 2,500 tx/s from one
//! address needs a higher `submit_per_sec`.
//!
//! Memory: the connections' read buffers are at most
//! `max_connections` × [`READ_BUFFER_BYTES`] (32 MiB by default), and the
//! bodies read at once at most `max_in_flight` × 4 MiB, plus what the
//! handlers make of them. A request refused before its handler runs
//! (429, 413, 503) is never read.
//!
//! `config.toml`:
//!
//! ```toml
//! [api_limits]                # optional; each key optional, defaults shown
//! max_connections = 512
//! max_connections_per_ip = 32
//! max_in_flight = 64
//! header_timeout_secs = 10
//! request_timeout_secs = 30
//! submit_per_sec = 2500
//! submit_burst = 5000
//! faucet_per_min = 10
//! faucet_burst = 10
//! ```
//!
//! The connection limits are kept by the server loop ([`crate::server`]);
//! the request limits by [`layer`]'s middleware, in this order: rate limit
//! (429), declared body size (413), requests in flight (503), deadline
//! (408).

mod bucket;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::api::{ApiError, MAX_BODY_BYTES, MAX_SUBMIT_BATCH};
use crate::metrics::ApiRefusals;
use bucket::Buckets;

/// Default `max_connections`: open connections.
pub const MAX_CONNECTIONS: usize = 512;
/// Default `max_connections_per_ip`: open connections from one client.
pub const MAX_CONNECTIONS_PER_IP: usize = 32;
/// Default `max_in_flight`: requests being handled at once.
pub const MAX_IN_FLIGHT: usize = 64;
/// Default `header_timeout_secs`.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `request_timeout_secs`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `submit_per_sec`: transactions a client may submit per second.
pub const SUBMIT_PER_SEC: u32 = 2_500;
/// Default `submit_burst`: transactions a client may submit at once.
pub const SUBMIT_BURST: u32 = 5_000;
/// Default `faucet_per_min`: faucet requests a client may make per minute.
pub const FAUCET_PER_MIN: u32 = 10;
/// Default `faucet_burst`: faucet requests a client may make at once.
pub const FAUCET_BURST: u32 = 10;
/// Largest request line and headers; more is answered `431`.
pub const MAX_HEADER_BYTES: usize = 16 << 10;
/// A connection's read buffer (hyper's `max_buf_size`).
pub const READ_BUFFER_BYTES: usize = 64 << 10;
/// Most clients each rate limit keeps a bucket for (see [`bucket`]).
pub const RATE_LIMITED_CLIENTS: usize = 16_384;
/// How long a stopping node waits for its open requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The `Retry-After` of `503 overloaded` and `503 too_many_connections`.
pub const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The `reason` label of `sherd_api_refused_total`, one per way a limit
/// refuses.
pub mod reason {
    /// A rate limit (429).
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A declared body over the limit (413 before reading it).
    pub const TOO_LARGE: &str = "too_large";
    /// Too many requests in flight (503).
    pub const OVERLOADED: &str = "overloaded";
    /// A request past its deadline (408).
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// A connection that did not send its headers in time (closed).
    pub const HEADER_TIMEOUT: &str = "header_timeout";
    /// A connection whose client stopped reading (closed).
    pub const WRITE_TIMEOUT: &str = "write_timeout";
    /// A client with too many connections open (503, closed).
    pub const TOO_MANY_CONNECTIONS: &str = "too_many_connections";
    /// Every reason.
    pub const ALL: [&str; 7] = [
        RATE_LIMITED,
        TOO_LARGE,
        OVERLOADED,
        REQUEST_TIMEOUT,
        HEADER_TIMEOUT,
        WRITE_TIMEOUT,
        TOO_MANY_CONNECTIONS,
    ];
}

/// The `[api_limits]` section of `config.toml` (module docs); every key
/// is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiLimits {
    /// Open connections; more wait in the listen backlog.
    pub max_connections: usize,
    /// Open connections from one client; more are answered 503 and closed.
    pub max_connections_per_ip: usize,
    /// Requests handled at once; more are answered 503.
    pub max_in_flight: usize,
    /// Seconds to send the request line and headers (and an idle
    /// connection's wait for its next request).
    pub header_timeout_secs: u64,
    /// Seconds from the end of the headers to the answer; also the
    /// longest a response waits on a client that does not read.
    pub request_timeout_secs: u64,
    /// Transactions a client may submit per second.
    pub submit_per_sec: u32,
    /// Transactions a client may submit at once.
    pub submit_burst: u32,
    /// Faucet requests a client may make per minute.
    pub faucet_per_min: u32,
    /// Faucet requests a client may make at once.
    pub faucet_burst: u32,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            max_in_flight: MAX_IN_FLIGHT,
            header_timeout_secs: HEADER_TIMEOUT.as_secs(),
            request_timeout_secs: REQUEST_TIMEOUT.as_secs(),
            submit_per_sec: SUBMIT_PER_SEC,
            submit_burst: SUBMIT_BURST,
            faucet_per_min: FAUCET_PER_MIN,
            faucet_burst: FAUCET_BURST,
        }
    }
}

impl ApiLimits {
    /// Checks that every limit can be met, so a bad section stops the node
    /// at start with a reason.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("max_in_flight", self.max_in_flight as u64),
            ("header_timeout_secs", self.header_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("submit_per_sec", u64::from(self.submit_per_sec)),
            ("faucet_per_min", u64::from(self.faucet_per_min)),
            ("faucet_burst", u64::from(self.faucet_burst)),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        // Semaphores hold at most this many permits.
        for (name, value) in [
            ("max_connections", self.max_connections),
            ("max_in_flight", self.max_in_flight),
        ] {
            if value > Semaphore::MAX_PERMITS {
                return Err(format!(
                    "{name} {value} is more than {}",
                    Semaphore::MAX_PERMITS
                ));
            }
        }
        if (self.submit_burst as usize) < MAX_SUBMIT_BATCH {
            return Err(format!(
                "submit_burst {} is less than a batch of {MAX_SUBMIT_BATCH} transactions (POST /v1/txs/batch)",
                self.submit_burst
            ));
        }
        for (name, secs) in [
            ("header_timeout_secs", self.header_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
        ] {
            if secs > 3_600 {
                return Err(format!("{name} {secs} is more than an hour"));
            }
        }
        Ok(())
    }

    /// Whether this is the default (a config file leaves it out).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// `header_timeout_secs`.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// `request_timeout_secs`.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// Whom a limit counts against: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 client (IPv4-mapped IPv6 addresses included).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 client's address.
    V6(u64),
}

impl From<IpAddr> for Client {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6(net) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*net) << 64)),
        }
    }
}

/// The rate-limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// `POST /v1/txs` and `POST /v1/txs/batch`: per transaction.
    Submit,
    /// `POST /v1/faucet`: per request.
    Faucet,
}

impl Limit {
    /// The limit of a request to `route` (the router's pattern).
    fn of(method: &Method, route: &str) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match route {
            "/v1/txs" | "/v1/txs/batch" => Some(Self::Submit),
            "/v1/faucet" => Some(Self::Faucet),
            _ => None,
        }
    }
}

/// The limits of a running API, shared by the server loop and the
/// middleware.
#[derive(Debug)]
pub struct Limiter {
    limits: ApiLimits,
    submit: Mutex<Buckets<Client>>,
    faucet: Mutex<Buckets<Client>>,
    in_flight: Arc<Semaphore>,
    connections: Mutex<HashMap<Client, usize>>,
    refusals: ApiRefusals,
}

impl Limiter {
    /// The limiter of `limits` (checked: see [`ApiLimits::check`]),
    /// counting refusals in `refusals`.
    pub fn new(limits: ApiLimits, refusals: ApiRefusals) -> Result<Arc<Self>, String> {
        limits.check()?;
        let now = Instant::now();
        Ok(Arc::new(Self {
            submit: Mutex::new(Buckets::new(
                f64::from(limits.submit_per_sec),
                limits.submit_burst,
                RATE_LIMITED_CLIENTS,
                now,
            )),
            faucet: Mutex::new(Buckets::new(
                f64::from(limits.faucet_per_min) / 60.0,
                limits.faucet_burst,
                RATE_LIMITED_CLIENTS,
                now,
            )),
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            connections: Mutex::new(HashMap::new()),
            limits,
            refusals,
        }))
    }

    /// The limits.
    pub fn limits(&self) -> &ApiLimits {
        &self.limits
    }

    /// Counts a refusal (`reason::…`) in `sherd_api_refused_total`.
    pub(crate) fn refused(&self, reason: &'static str) {
        self.refusals.inc(reason);
    }

    /// Takes `cost` tokens from `client`'s bucket of `limit`, or answers
    /// `429 rate_limited` with the wait.
    fn take(&self, limit: Limit, client: Client, cost: u32) -> Result<(), ApiError> {
        let buckets = match limit {
            Limit::Submit => &self.submit,
            Limit::Faucet => &self.faucet,
        };
        let taken =
            buckets
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(client, cost, Instant::now());
        taken.map_err(|wait| {
            self.refused(reason::RATE_LIMITED);
            let seconds = retry_seconds(wait);
            let message = match limit {
                Limit::Submit => format!(
                    "{client} submits too many transactions: at most {} a second, {} at once; retry in {seconds} s",
                    self.limits.submit_per_sec, self.limits.submit_burst
                ),
                Limit::Faucet => format!(
                    "{client} asks the faucet too often: at most {} requests a minute, {} at once; retry in {seconds} s",
                    self.limits.faucet_per_min, self.limits.faucet_burst
                ),
            };
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
                .with_retry_after(seconds)
        })
    }

    /// A slot for one more open connection from `client`, or `None` when
    /// it has `max_connections_per_ip` open.
    pub(crate) fn connection(self: &Arc<Self>, client: Client) -> Option<ConnectionSlot> {
        let mut open = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(client).or_insert(0);
        if *count >= self.limits.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            limiter: self.clone(),
            client,
        })
    }

    /// Clients with a connection open (the map forgets a client as its
    /// last connection closes).
    #[cfg(test)]
    fn clients_connected(&self) -> usize {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// Whole seconds to wait, at least 1 (a `Retry-After`).
fn retry_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// One open connection of a client, counted until dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    limiter: Arc<Limiter>,
    client: Client,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// What a submission still owes its client's rate limit, in the request's
/// extensions: the request paid one transaction as it came in, and a
/// batch pays for the rest once it knows how many it holds.
#[derive(Debug, Clone)]
pub struct Charge {
    limiter: Arc<Limiter>,
    client: Client,
}

impl Charge {
    /// Pays for `more` transactions, or answers `429 rate_limited`.
    pub(crate) fn take(&self, more: usize) -> Result<(), ApiError> {
        if more == 0 {
            return Ok(());
        }
        let cost = u32::try_from(more).unwrap_or(u32::MAX);
        self.limiter.take(Limit::Submit, self.client, cost)
    }
}

/// `router` with the request limits of `limiter` (module docs).
pub fn layer(router: Router, limiter: Arc<Limiter>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(limiter, guard))
}

/// The request limits, in order: rate limit, declared body size, requests
/// in flight, deadline.
async fn guard(State(limiter): State<Arc<Limiter>>, mut request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| Client::from(peer.ip()));
    let limit = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|route| Limit::of(request.method(), route.as_str()));
    if let (Some(client), Some(limit)) = (client, limit) {
        if let Err(refused) = limiter.take(limit, client, 1) {
            return refused.into_response();
        }
        if limit == Limit::Submit {
            request.extensions_mut().insert(Charge {
                limiter: limiter.clone(),
                client,
            });
        }
    }
    if let Some(length) = declared_length(&request) {
        if length > MAX_BODY_BYTES as u64 {
            limiter.refused(reason::TOO_LARGE);
            return closing(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bad_request",
                format!(
                    "the request body is {length} bytes, more than the {MAX_BODY_BYTES} this API takes"
                ),
            ));
        }
    }
    let Ok(permit) = limiter.in_flight.clone().try_acquire_owned() else {
        limiter.refused(reason::OVERLOADED);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the node is handling {} requests already; retry in a second",
                limiter.limits.max_in_flight
            ),
        )
        .with_retry_after(OVERLOADED_RETRY_AFTER.as_secs())
        .into_response();
    };
    let answered = tokio::time::timeout(limiter.limits.request_timeout(), next.run(request)).await;
    drop(permit);
    answered.unwrap_or_else(|_| {
        limiter.refused(reason::REQUEST_TIMEOUT);
        closing(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not answered within {} s of its headers (a body sent too slowly?)",
                limiter.limits.request_timeout_secs
            ),
        ))
    })
}

/// The router of a connection refused for its client's connection count:
/// any request is answered `503 too_many_connections` and the connection
/// is closed.
pub(crate) fn too_many_connections(limits: &ApiLimits) -> Router {
    let most = limits.max_connections_per_ip;
    Router::new().fallback(move || async move {
        closing(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                format!(
                    "this client has {most} connections open to the node already; reuse one, or retry when one is closed"
                ),
            )
            .with_retry_after(OVERLOADED_RETRY_AFTER.as_secs()),
        )
    })
}

/// The `Content-Length` a request declares, if any (a body sent in chunks
/// declares none and is cut at the limit as it is read).
fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// `error`, answered with `Connection: close`: the connection's request
/// body is left unread, so it cannot carry another request.
fn closing(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_ipv4_addresses_or_ipv6_64s() {
        let parse = |text: &str| Client::from(text.parse::<IpAddr>().unwrap());
        assert_eq!(parse("192.0.2.7").to_string(), "192.0.2.7");
        assert_eq!(parse("::ffff:192.0.2.7"), parse("192.0.2.7"));
        assert_eq!(parse("2001:db8:1:2::1"), parse("2001:db8:1:2:ffff::9"));
        assert_ne!(parse("2001:db8:1:2::1"), parse("2001:db8:1:3::1"));
        assert_eq!(parse("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn only_submissions_and_the_faucet_are_rate_limited() {
        let post = Method::POST;
        assert_eq!(Limit::of(&post, "/v1/txs"), Some(Limit::Submit));
        assert_eq!(Limit::of(&post, "/v1/txs/batch"), Some(Limit::Submit));
        assert_eq!(Limit::of(&post, "/v1/faucet"), Some(Limit::Faucet));
        assert_eq!(Limit::of(&Method::GET, "/v1/txs"), None);
        assert_eq!(Limit::of(&post, "/v1/txs/{hash}"), None);
    }

    #[test]
    fn the_default_limits_pass_their_check_and_bad_ones_say_why() {
        ApiLimits::default().check().unwrap();
        let refused = |change: fn(&mut ApiLimits), needle: &str| {
            let mut limits = ApiLimits::default();
            change(&mut limits);
            let error = limits.check().unwrap_err();
            assert!(error.contains(needle), "{error}");
        };
        refused(|l| l.max_in_flight = 0, "max_in_flight must be at least 1");
        refused(
            |l| l.submit_per_sec = 0,
            "submit_per_sec must be at least 1",
        );
        refused(|l| l.submit_burst = 100, "less than a batch of 1024");
        refused(|l| l.header_timeout_secs = 0, "header_timeout_secs");
        refused(|l| l.request_timeout_secs = 7_200, "more than an hour");
    }

    #[test]
    fn the_section_reads_with_defaults_and_refuses_typos() {
        let limits: ApiLimits = toml::from_str("submit_per_sec = 100").unwrap();
        assert_eq!(limits.submit_per_sec, 100);
        assert_eq!(limits.max_in_flight, MAX_IN_FLIGHT);
        assert!(toml::from_str::<ApiLimits>("submit_rate = 100").is_err());
        let empty: ApiLimits = toml::from_str("").unwrap();
        assert!(empty.is_default());
    }

    #[test]
    fn a_client_holds_at_most_its_share_of_connections() {
        let limits = ApiLimits {
            max_connections_per_ip: 2,
            ..ApiLimits::default()
        };
        let limiter = Limiter::new(limits, ApiRefusals::default()).unwrap();
        let a = Client::V4(Ipv4Addr::new(192, 0, 2, 1));
        let b = Client::V4(Ipv4Addr::new(192, 0, 2, 2));
        let first = limiter.connection(a).unwrap();
        let _second = limiter.connection(a).unwrap();
        assert!(limiter.connection(a).is_none());
        let _other = limiter.connection(b).unwrap();
        drop(first);
        assert!(limiter.connection(a).is_some());
        assert_eq!(limiter.clients_connected(), 2);
    }

    #[test]
    fn a_refusal_says_when_to_retry() {
        let limits = ApiLimits {
            faucet_per_min: 1,
            faucet_burst: 1,
            ..ApiLimits::default()
        };
        let limiter = Limiter::new(limits, ApiRefusals::default()).unwrap();
        let client = Client::V4(Ipv4Addr::LOCALHOST);
        limiter.take(Limit::Faucet, client, 1).unwrap();
        let refused = limiter.take(Limit::Faucet, client, 1).unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let after: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((59..=60).contains(&after), "{after}");
        // Another client is not affected.
        let other = Client::V4(Ipv4Addr::new(127, 0, 0, 2));
        limiter.take(Limit::Faucet, other, 1).unwrap();
    }
}
