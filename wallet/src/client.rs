//! A blocking HTTP client for the node's JSON API (`node/README.md`).
//!
//! Every call answers the typed body or a [`ClientError`] that says which
//! of three things went wrong: the node could not be reached (with the URL
//! tried), the node answered with its JSON error (status, `code`,
//! `error`), or the node answered something that is not the documented
//! shape. [`NodeClient::wait_for_finality`] polls `GET /v1/txs/{hash}` until
//! the transaction is finalized.
//!
//! A node that is restarting, or shedding load (429, 503), is not a reason
//! to give up on a transaction: [`NodeClient::submit`] tries again for up
//! to [`SUBMIT_PATIENCE`], and [`NodeClient::wait_for_finality`] keeps
//! polling through such failures until its timeout.

pub mod browse;
pub mod types;

use std::{
    thread,
    time::{Duration, Instant},
};

use serde::{de::DeserializeOwned, Serialize};
use sherd_ledger::{Address, Amount, EncodeError, Hash, Transaction};
use ureq::Agent;

pub use browse::{
    ActivityReport, BlockPage, BlockSummary, ContractPage, ContractSummary, FieldType,
    FinalityReport, FinalitySample, Peers, ProviderStats, ProviderStatsList, SearchHit, SearchKind,
    TxField, TxFields, TxPage, TxSummary, ValidatorActivity,
};
pub use types::{
    kind_name, AccountInfo, ApiErrorBody, BatchRequest, BatchResult, BatchSubmitted, BlockInfo,
    ChainParamsSchema, ContractInfo, EndpointInfo, FaucetAmount, FaucetReceipt, FaucetRequest,
    FragmentInfo, NodeIdentity, ProofOutcome, ProofVerdictInfo, ProviderInfo, ProviderList,
    ProviderReport, ProviderTerms, RepairInfo, RepairList, Status, SubmitRequest, Submitted,
    TxInfo, TxList, TxOutcome, TxStatus, Unbonding, ValidatorInfo, ValidatorStatus, Validators,
};

/// The body of a GET: none.
const NO_BODY: Option<&()> = None;

/// The local dev node.
pub const DEFAULT_NODE_URL: &str = "http://127.0.0.1:8545";

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Polling interval of [`NodeClient::wait_for_finality`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long [`NodeClient::submit`] tries again while the node is
/// unreachable or busy.
pub const SUBMIT_PATIENCE: Duration = Duration::from_secs(20);
/// How long [`NodeClient::current_status`] waits for a node that is
/// catching up.
pub const SYNC_PATIENCE: Duration = Duration::from_secs(30);
/// The longest pause between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Longest body read from the node.
const MAX_BODY: u64 = 16 << 20;

/// Why a call to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Not an `http://` or `https://` URL.
    #[error("`{url}` is not a node URL: write it like http://127.0.0.1:8545")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// No answer: nothing listens there, DNS failed, a timeout, TLS.
    #[error("cannot reach the node at {url}: {reason}. Is it running (`sherd node run --dev`)? Use --node URL or SHERD_NODE to point elsewhere")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The node answered with an error.
    #[error("the node refused ({status} {code}): {message}")]
    Api {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The stable error code (`insufficient_funds`, `rejected`, …), or
        /// `http_STATUS` when the body was not the documented error.
        code: String,
        /// The node's explanation.
        message: String,
    },
    /// The node answered something that is not the documented shape.
    #[error("the node at {url} answered something unexpected: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The transaction was not finalized in time.
    #[error("transaction {hash} is not finalized after {waited:?}; it may still be: check later with `GET /v1/txs/{hash}`")]
    NotFinalized {
        /// The transaction id.
        hash: Hash,
        /// How long we waited.
        waited: Duration,
    },
    /// The node is still catching up with its peers: its state may be
    /// old, so nothing is built from it.
    #[error("the node at {url} is catching up with its peers (final height {height}); its accounts may be behind the chain: try again shortly, or use another node (--node URL)")]
    Syncing {
        /// The node.
        url: String,
        /// Its final height.
        height: u64,
    },
    /// The transaction could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl ClientError {
    /// The node's error code, if the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the same request may succeed later: the node was not
    /// reached, or it is over its limits (429) or not ready (503).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Api {
                    status: 429 | 503,
                    ..
                }
        )
    }
}

/// Which block to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRef {
    /// The latest block.
    Latest,
    /// The block at a height.
    Height(u64),
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    base: String,
    agent: Agent,
}

impl NodeClient {
    /// A client of the node at `url` (`http://host:port`, no path needed).
    pub fn new(url: &str) -> Result<Self, ClientError> {
        Self::with_timeout(url, REQUEST_TIMEOUT)
    }

    /// A client whose requests give up after `timeout`.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let base = url.trim().trim_end_matches('/').to_owned();
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"));
        if rest.is_none_or(|host| host.is_empty()) {
            return Err(ClientError::BadUrl { url: url.into() });
        }
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .user_agent(concat!("sherd-wallet/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Self { base, agent })
    }

    /// The node's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn call<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let (url, text) = self.fetch(path, body)?;
        serde_json::from_str(&text).map_err(|e| ClientError::Malformed {
            url,
            reason: format!("{e} in {}", snippet(&text)),
        })
    }

    /// The body of a 2xx answer to `GET path` (or `POST path` with a JSON
    /// `body`), with the URL asked; the node's JSON error otherwise.
    fn fetch(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(String, String), ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| ClientError::Unreachable {
            url: url.clone(),
            reason: e.to_string(),
        };
        let response = match body {
            Some(body) => self.agent.post(&url).send_json(body),
            None => self.agent.get(&url).call(),
        }
        .map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| ClientError::Unreachable {
                url: url.clone(),
                reason: format!("reading the answer failed: {e}"),
            })?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<ApiErrorBody>(&text) {
                Ok(body) => ClientError::Api {
                    url,
                    status,
                    code: body.code,
                    message: body.error,
                },
                Err(_) => ClientError::Api {
                    url,
                    status,
                    code: format!("http_{status}"),
                    message: snippet(&text),
                },
            });
        }
        Ok((url, text))
    }

    /// `GET /metrics`: the node's Prometheus exposition, as text.
    pub fn metrics(&self) -> Result<String, ClientError> {
        self.fetch("/metrics", NO_BODY).map(|(_, text)| text)
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.call("/v1/status", NO_BODY)
    }

    /// `GET /v1/status` of a node that is not catching up with its peers:
    /// what a transaction is built from (its nonce, the chain id). Waits
    /// up to [`SYNC_PATIENCE`] while the node answers that it is syncing
    /// (a node just restarted), then answers [`ClientError::Syncing`]; a
    /// node that does not answer fails at once, as [`Self::status`].
    pub fn current_status(&self) -> Result<Status, ClientError> {
        self.current_status_within(SYNC_PATIENCE, POLL_INTERVAL)
    }

    /// [`Self::current_status`], waiting up to `patience`, asking `every`.
    pub fn current_status_within(
        &self,
        patience: Duration,
        every: Duration,
    ) -> Result<Status, ClientError> {
        let started = Instant::now();
        loop {
            let status = self.status()?;
            if !status.syncing {
                return Ok(status);
            }
            if started.elapsed() >= patience {
                return Err(ClientError::Syncing {
                    url: self.base.clone(),
                    height: status.finalized_height,
                });
            }
            thread::sleep(every);
        }
    }

    /// `GET /v1/accounts/{addr}` (an unknown account answers zeros).
    pub fn account(&self, address: &Address) -> Result<AccountInfo, ClientError> {
        self.call(&format!("/v1/accounts/{address}"), NO_BODY)
    }

    /// `GET /v1/accounts/{addr}/txs`: finalized transactions, newest first.
    pub fn account_txs(&self, address: &Address) -> Result<Vec<TxInfo>, ClientError> {
        self.call::<TxList>(&format!("/v1/accounts/{address}/txs"), NO_BODY)
            .map(|l| l.txs)
    }

    /// `GET /v1/txs/{hash}`; `None` if the node does not know it.
    pub fn tx(&self, hash: &Hash) -> Result<Option<TxInfo>, ClientError> {
        match self.call(&format!("/v1/txs/{hash}"), NO_BODY) {
            Ok(tx) => Ok(Some(tx)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/txs`: answers the id, checked against the local one.
    ///
    /// Tried again for up to [`SUBMIT_PATIENCE`] while the failure
    /// [`is_transient`](ClientError::is_transient). After such a failure
    /// the first try may have reached the node, so a refusal of a later
    /// try is checked against `GET /v1/txs/{id}`: a transaction the node
    /// knows is submitted.
    pub fn submit(&self, tx: &Transaction) -> Result<Hash, ClientError> {
        self.submit_within(tx, SUBMIT_PATIENCE)
    }

    /// [`Self::submit`], trying again for up to `patience`.
    pub fn submit_within(&self, tx: &Transaction, patience: Duration) -> Result<Hash, ClientError> {
        let started = Instant::now();
        let mut pause = POLL_INTERVAL;
        let mut retried = false;
        loop {
            match self.submit_once(tx) {
                Err(e) if e.is_transient() && started.elapsed() + pause <= patience => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(MAX_BACKOFF);
                    retried = true;
                }
                // An earlier try may have landed (its answer lost): a
                // transaction the node knows is submitted.
                Err(e) if retried => {
                    let id = tx.id()?;
                    return match self.tx(&id) {
                        Ok(Some(_)) => Ok(id),
                        _ => Err(e),
                    };
                }
                other => return other,
            }
        }
    }

    fn submit_once(&self, tx: &Transaction) -> Result<Hash, ClientError> {
        let bytes = tx.to_bytes()?;
        let id = tx.id()?;
        let request = SubmitRequest {
            tx: hex::encode(bytes),
        };
        let answer: Submitted = self.call("/v1/txs", Some(&request))?;
        if !answer.hash.eq_ignore_ascii_case(&id.to_string()) {
            return Err(ClientError::Malformed {
                url: format!("{}/v1/txs", self.base),
                reason: format!("hash {} for a transaction whose id is {id}", answer.hash),
            });
        }
        Ok(id)
    }

    /// `POST /v1/txs/batch`: many transactions in one request (at most
    /// 1,024), their signatures checked together by the node. One result
    /// per transaction, in order: its id, or the node's refusal of it.
    pub fn submit_batch(
        &self,
        txs: &[Transaction],
    ) -> Result<Vec<Result<Hash, ClientError>>, ClientError> {
        let url = format!("{}/v1/txs/batch", self.base);
        let mut ids = Vec::with_capacity(txs.len());
        let mut hexes = Vec::with_capacity(txs.len());
        for tx in txs {
            ids.push(tx.id()?);
            hexes.push(hex::encode(tx.to_bytes()?));
        }
        let answer: BatchSubmitted =
            self.call("/v1/txs/batch", Some(&BatchRequest { txs: hexes }))?;
        if answer.results.len() != txs.len() {
            return Err(ClientError::Malformed {
                url,
                reason: format!(
                    "{} results for {} transactions",
                    answer.results.len(),
                    txs.len()
                ),
            });
        }
        let results = ids
            .into_iter()
            .zip(answer.results)
            .map(|(id, result)| match result {
                BatchResult::Admitted(Submitted { hash })
                    if hash.eq_ignore_ascii_case(&id.to_string()) =>
                {
                    Ok(id)
                }
                BatchResult::Admitted(Submitted { hash }) => Err(ClientError::Malformed {
                    url: url.clone(),
                    reason: format!("hash {hash} for a transaction whose id is {id}"),
                }),
                BatchResult::Refused(refusal) => Err(ClientError::Api {
                    url: url.clone(),
                    status: 200,
                    code: refusal.code,
                    message: refusal.error,
                }),
            })
            .collect();
        Ok(results)
    }

    /// `POST /v1/faucet`: `amount` (or the faucet's default) to `address`.
    pub fn faucet(
        &self,
        address: &Address,
        amount: Option<Amount>,
    ) -> Result<FaucetReceipt, ClientError> {
        let request = FaucetRequest {
            address: address.to_string(),
            amount: amount.map(|a| FaucetAmount::Decimal(a.to_string())),
        };
        self.call("/v1/faucet", Some(&request))
    }

    /// `GET /v1/node`: the node's libp2p identity, binary (peer id,
    /// listen multiaddrs).
    pub fn node_identity(&self) -> Result<(Vec<u8>, Vec<Vec<u8>>), ClientError> {
        let answer: NodeIdentity = self.call("/v1/node", NO_BODY)?;
        let malformed = |reason: &str| ClientError::Malformed {
            url: format!("{}/v1/node", self.base),
            reason: reason.to_string(),
        };
        let peer_id =
            hex::decode(&answer.peer_id_hex).map_err(|_| malformed("peer_id_hex is not hex"))?;
        let listen = answer
            .listen_hex
            .iter()
            .map(hex::decode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| malformed("listen_hex is not hex"))?;
        Ok((peer_id, listen))
    }

    /// `GET /v1/provider`: the node's storage provider; `None` if the
    /// node is not one.
    pub fn provider_report(&self) -> Result<Option<ProviderReport>, ClientError> {
        match self.call("/v1/provider", NO_BODY) {
            Ok(report) => Ok(Some(report)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/validators`.
    pub fn validators(&self) -> Result<Validators, ClientError> {
        self.call("/v1/validators", NO_BODY)
    }

    /// `GET /v1/providers`: every provider's advertisement.
    pub fn providers(&self) -> Result<Vec<ProviderInfo>, ClientError> {
        self.call::<ProviderList>("/v1/providers", NO_BODY)
            .map(|l| l.providers)
    }

    /// `GET /v1/repairs`: every lost fragment waiting for a repair, least
    /// healthy object first.
    pub fn repairs(&self) -> Result<Vec<RepairInfo>, ClientError> {
        self.call::<RepairList>("/v1/repairs", NO_BODY)
            .map(|l| l.repairs)
    }

    /// `GET /v1/contracts/{id}`; `None` if the chain has no such contract.
    /// The answer is checked to be the contract asked for, its fragments
    /// numbered in order.
    pub fn contract(&self, id: &Hash) -> Result<Option<ContractInfo>, ClientError> {
        let path = format!("/v1/contracts/{id}");
        let contract: ContractInfo = match self.call(&path, NO_BODY) {
            Ok(contract) => contract,
            Err(ClientError::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let malformed = |reason: String| ClientError::Malformed {
            url: format!("{}{path}", self.base),
            reason,
        };
        if contract.id != *id {
            return Err(malformed(format!("contract {} for {id}", contract.id)));
        }
        if let Some((position, f)) = contract
            .fragments
            .iter()
            .enumerate()
            .find(|(i, f)| usize::try_from(f.index).ok() != Some(*i))
        {
            return Err(malformed(format!(
                "fragment {} listed at position {position}",
                f.index
            )));
        }
        Ok(Some(contract))
    }

    /// `GET /v1/endpoints/{addr}`; `None` if `address` registered none.
    pub fn endpoint(&self, address: &Address) -> Result<Option<EndpointInfo>, ClientError> {
        let path = format!("/v1/endpoints/{address}");
        match self.call::<EndpointInfo>(&path, NO_BODY) {
            Ok(e) if e.principal == *address => Ok(Some(e)),
            Ok(e) => Err(ClientError::Malformed {
                url: format!("{}{path}", self.base),
                reason: format!("the endpoint of {} for {address}", e.principal),
            }),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/blocks/{height|latest}`.
    pub fn block(&self, block: BlockRef) -> Result<BlockInfo, ClientError> {
        match block {
            BlockRef::Latest => self.call("/v1/blocks/latest", NO_BODY),
            BlockRef::Height(h) => self.call(&format!("/v1/blocks/{h}"), NO_BODY),
        }
    }

    /// Polls `GET /v1/txs/{hash}` every [`POLL_INTERVAL`] until it is
    /// finalized, for at most `timeout`. Unknown (404) counts as not yet
    /// visible and is polled again, and so does a transient failure (the
    /// node restarting or busy); another error ends the wait.
    pub fn wait_for_finality(&self, hash: &Hash, timeout: Duration) -> Result<TxInfo, ClientError> {
        self.wait_for_finality_every(hash, timeout, POLL_INTERVAL)
    }

    /// [`Self::wait_for_finality`] with another polling interval.
    pub fn wait_for_finality_every(
        &self,
        hash: &Hash,
        timeout: Duration,
        every: Duration,
    ) -> Result<TxInfo, ClientError> {
        let started = Instant::now();
        loop {
            let last = match self.tx(hash) {
                Ok(Some(tx)) if tx.status == TxStatus::Finalized => return Ok(tx),
                Ok(_) => None,
                Err(e) if e.is_transient() => Some(e),
                Err(e) => return Err(e),
            };
            let waited = started.elapsed();
            if waited >= timeout {
                // Still unreachable at the end: that is the answer, not
                // "not finalized".
                return Err(last.unwrap_or(ClientError::NotFinalized {
                    hash: *hash,
                    waited,
                }));
            }
            thread::sleep(every.min(timeout.saturating_sub(waited)));
        }
    }
}

/// The start of a body, for error messages.
fn snippet(text: &str) -> String {
    let trimmed = text.trim();
    match trimmed.char_indices().nth(200) {
        Some((cut, _)) => format!("`{}…`", &trimmed[..cut]),
        None if trimmed.is_empty() => "an empty body".into(),
        None => format!("`{trimmed}`"),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Read, Write},
        net::TcpListener,
    };

    use super::*;

    /// A one-thread HTTP server answering `answers` in order, one per
    /// connection; returns its URL and the requests it saw.
    fn serve(answers: Vec<(u16, String)>) -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    request.push_str(&line);
                }
                let mut body_in = vec![0; length];
                reader.read_exact(&mut body_in).unwrap();
                request.push_str(&String::from_utf8_lossy(&body_in));
                seen.push(request);
                let mut stream = stream;
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            seen
        });
        (url, handle)
    }

    fn tx_json(status: &str) -> String {
        let height = if status == "finalized" { "5" } else { "null" };
        let outcome = if status == "finalized" {
            "\"success\""
        } else {
            "null"
        };
        format!(
            r#"{{"hash":"00","status":"{status}","height":{height},"index":null,"sender":"s","nonce":0,"fee":"0","fee_base":0,"kind":"transfer","outcome":{outcome},"reason":null}}"#
        )
    }

    /// A signed `Withdraw` from the wallet of entropy `[seed; 32]`.
    fn withdrawal(seed: u8) -> Transaction {
        use crate::{build, keys::WalletKey, mnemonic::Mnemonic};
        let key = WalletKey::from_mnemonic(&Mnemonic::from_entropy(&[seed; 32]).unwrap(), 0);
        let params = build::TxParams {
            chain_id: "sherd-dev".parse().unwrap(),
            nonce: 0,
            fee: build::DEFAULT_FEE,
        };
        build::withdraw(&key, &params).unwrap()
    }

    #[test]
    fn nothing_listening_is_unreachable_with_the_url() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let client = NodeClient::new(&url).unwrap();
        let err = client.status().unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("{url}/v1/status")),
            "{err}"
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(NodeClient::new("127.0.0.1:8545").is_err());
        assert!(NodeClient::new("http://").is_err());
        assert_eq!(NodeClient::new("http://h:1/").unwrap().url(), "http://h:1");
    }

    #[test]
    fn api_errors_pass_through_with_their_code() {
        let (url, server) = serve(vec![
            (
                422,
                r#"{"error":"insufficient funds: balance 3.2 is less than 12.5","code":"insufficient_funds"}"#.into(),
            ),
            (500, "oops".into()),
            (200, "{\"height\": \"x\"}".into()),
        ]);
        let client = NodeClient::new(&url).unwrap();
        let err = client.status().unwrap_err();
        assert_eq!(err.code(), Some("insufficient_funds"));
        assert!(err.to_string().contains("balance 3.2"), "{err}");
        let err = client.status().unwrap_err();
        assert_eq!(err.code(), Some("http_500"));
        let err = client.status().unwrap_err();
        assert!(matches!(err, ClientError::Malformed { .. }), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn market_reads_answer_typed_values_and_none_when_unknown() {
        use sherd_ledger::{state::FragmentStatus, tx::kind::Role};
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        let id = Hash([9; 32]);
        let contract = format!(
            r#"{{"id":"{id}","client":"{a}","object_root":"{root}","k":2,"m":1,"fragment_size":49152,
                "price_per_gib_epoch":"1","price_per_gib_epoch_base":1000000000,"start_height":4,
                "first_period":1,"last_period":8,"fragments":[
                {{"index":0,"root":"{root}","provider":"{b}","status":"lost","escrow_left":"0.000001",
                  "escrow_left_base":1000,"collateral_left":"0","collateral_left_base":0,"repair_reward":"0","repair_reward_base":0,
                  "misses":3,"accepted":0,"proven":0,"since":4}}]}}"#,
            root = Hash([3; 32]),
        );
        let (url, server) = serve(vec![
            (
                200,
                format!(
                    r#"{{"providers":[{{"provider":"{b}","capacity_bytes":100,"used_bytes":40,
                    "price_per_gib_epoch":"0.000001","price_per_gib_epoch_base":1000,
                    "collateral_per_gib":"0.000002","collateral_per_gib_base":2000,
                    "min_duration_epochs":1,"max_duration_epochs":9,"updated_at":3,"recent_misses":0,
                    "endpoint":null}}]}}"#
                ),
            ),
            (200, contract.clone()),
            (
                404,
                format!(r#"{{"error":"no contract {id}","code":"not_found"}}"#),
            ),
            (
                200,
                contract.replace(
                    &format!("\"id\":\"{id}\""),
                    &format!("\"id\":\"{}\"", Hash([8; 32])),
                ),
            ),
            (
                200,
                format!(
                    r#"{{"principal":"{b}","role":"provider","peer_id":"12D3KooW","peer_id_hex":"00",
                    "multiaddrs":["/ip4/127.0.0.1/tcp/1"],"multiaddrs_hex":["0401"],"updated_at":7}}"#
                ),
            ),
            (404, r#"{"error":"no endpoint","code":"not_found"}"#.into()),
            (500, r#"{"error":"disk on fire","code":"internal"}"#.into()),
        ]);
        let client = NodeClient::new(&url).unwrap();
        let providers = client.providers().unwrap();
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].provider, b);
        assert_eq!(providers[0].price_per_gib_epoch, Amount(1000));
        assert_eq!(providers[0].collateral_per_gib, Amount(2000));
        assert_eq!(providers[0].free_bytes(), 60);
        let got = client.contract(&id).unwrap().unwrap();
        assert_eq!(got.client, a);
        assert_eq!(got.fragments[0].status, FragmentStatus::Lost);
        assert_eq!(got.fragments[0].escrow_left, Amount(1000));
        let record = got.to_contract();
        assert_eq!(record.id, id);
        assert_eq!(record.fragments[0].misses, 3);
        assert_eq!(client.contract(&id).unwrap(), None);
        let err = client.contract(&id).unwrap_err();
        assert!(matches!(err, ClientError::Malformed { .. }), "{err}");
        let endpoint = client.endpoint(&b).unwrap().unwrap();
        assert_eq!(endpoint.role, Role::Provider);
        assert_eq!(endpoint.updated_at, 7);
        assert_eq!(client.endpoint(&a).unwrap(), None);
        assert_eq!(client.endpoint(&a).unwrap_err().code(), Some("internal"));
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("GET /v1/providers "), "{}", seen[0]);
        assert!(seen[1].starts_with(&format!("GET /v1/contracts/{id} ")));
        assert!(seen[4].starts_with(&format!("GET /v1/endpoints/{b} ")));
    }

    #[test]
    fn submit_posts_hex_and_checks_the_hash_then_waits_for_finality() {
        let tx = withdrawal(5);
        let id = tx.id().unwrap();
        let (url, server) = serve(vec![
            (202, format!(r#"{{"hash":"{id}"}}"#)),
            (404, r#"{"error":"unknown","code":"not_found"}"#.into()),
            (200, tx_json("pending")),
            (200, tx_json("finalized")),
            (202, r#"{"hash":"00"}"#.into()),
        ]);
        let client = NodeClient::new(&url).unwrap();
        assert_eq!(client.submit(&tx).unwrap(), id);
        let done = client
            .wait_for_finality_every(&id, Duration::from_secs(10), Duration::from_millis(1))
            .unwrap();
        assert_eq!(done.height, Some(5));
        assert_eq!(done.outcome, Some(TxOutcome::Success));
        let err = client.submit(&tx).unwrap_err();
        assert!(matches!(err, ClientError::Malformed { .. }), "{err}");
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("POST /v1/txs "), "{}", seen[0]);
        assert!(seen[0].contains(&hex::encode(tx.to_bytes().unwrap())));
        assert!(seen[1].starts_with(&format!("GET /v1/txs/{id} ")));
    }

    #[test]
    fn a_busy_or_restarting_node_is_tried_again_and_a_landed_retry_counts() {
        let tx = withdrawal(6);
        let id = tx.id().unwrap();
        let busy = r#"{"error":"over the limit","code":"rate_limited"}"#.to_string();
        let (url, server) = serve(vec![
            // Busy, then accepted.
            (503, busy.clone()),
            (202, format!(r#"{{"hash":"{id}"}}"#)),
            // Busy, then refused as a replay: the first try had landed.
            (429, busy.clone()),
            (
                422,
                r#"{"error":"already final (a replay)","code":"rejected"}"#.into(),
            ),
            (200, tx_json("finalized")),
            // Refused at once: no retry, no lookup.
            (422, r#"{"error":"bad nonce","code":"rejected"}"#.into()),
            // Polling goes on through a busy answer.
            (503, busy),
            (200, tx_json("finalized")),
        ]);
        let client = NodeClient::new(&url).unwrap();
        assert_eq!(client.submit(&tx).unwrap(), id);
        assert_eq!(client.submit(&tx).unwrap(), id);
        let err = client.submit(&tx).unwrap_err();
        assert_eq!(err.code(), Some("rejected"), "{err}");
        let done = client
            .wait_for_finality_every(&id, Duration::from_secs(10), Duration::from_millis(1))
            .unwrap();
        assert_eq!(done.height, Some(5));
        let seen = server.join().unwrap();
        assert!(
            seen[4].starts_with(&format!("GET /v1/txs/{id} ")),
            "{}",
            seen[4]
        );
        assert!(seen[5].starts_with("POST /v1/txs "), "{}", seen[5]);
    }

    #[test]
    fn patience_runs_out_with_the_transient_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = NodeClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let started = Instant::now();
        let err = client
            .wait_for_finality_every(
                &Hash([1; 32]),
                Duration::from_millis(300),
                Duration::from_millis(50),
            )
            .unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    fn status_json(syncing: bool, height: u64) -> String {
        format!(
            r#"{{"chain_id":"sherd-dev","height":{height},"finalized_height":{height},"latest_block_id":"00","state_root":"00","epoch":0,"view":1,"mempool_size":0,"dev":false,"syncing":{syncing},"faucet":false,"version":"0.1.0"}}"#
        )
    }

    #[test]
    fn nothing_is_built_from_a_node_that_is_catching_up() {
        let (url, server) = serve(vec![
            // Catching up, then current: waited for.
            (200, status_json(true, 3)),
            (200, status_json(false, 40)),
            // Catching up for longer than the patience: refused, naming it.
            (200, status_json(true, 5)),
            (200, status_json(true, 6)),
            (200, status_json(true, 7)),
        ]);
        let client = NodeClient::new(&url).unwrap();
        let every = Duration::from_millis(20);
        let status = client
            .current_status_within(Duration::from_secs(5), every)
            .unwrap();
        assert_eq!(status.finalized_height, 40);
        let err = client
            .current_status_within(Duration::from_millis(30), every)
            .unwrap_err();
        assert!(
            matches!(err, ClientError::Syncing { height: 5..=7, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("catching up"), "{err}");
        drop(client);
        // An old node's status (no `syncing`) reads as current.
        let old: Status =
            serde_json::from_str(&status_json(false, 1).replace(r#""syncing":false,"#, ""))
                .unwrap();
        assert!(!old.syncing);
        let _ = server;
    }
}
