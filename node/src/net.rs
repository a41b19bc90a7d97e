//! The network: one libp2p swarm in one task. The rest of the node talks to
//! it over channels ([`NetHandle`] in, [`NetEvent`] out) and never sees a
//! libp2p type other than [`PeerId`] and [`Multiaddr`].
//!
//! Protocols (all standard libp2p, so a peer in another language can
//! connect, identify and ping a sherd node):
//!
//! * transport: TCP with noise and yamux, and QUIC;
//! * `/ipfs/id/1.0.0` identify, `/ipfs/ping/1.0.0` ping;
//! * `/ipfs/kad/1.0.0` kademlia, seeded with the bootnodes, for discovery;
//! * `/meshsub/1.1.0` gossipsub, one topic per kind of message and chain
//!   (`sherd/<chain>/txs/1`, `sherd/<chain>/consensus/1`), with message
//!   validation: a message is forwarded only after the node accepted it,
//!   and a rejected message lowers its sender's score;
//! * `/sherd/sync/1` request-response: a length-delimited request and
//!   response of opaque bytes (the node's sync messages), at most
//!   [`MAX_REQUEST`] and [`MAX_RESPONSE`] bytes;
//! * on a storage provider only, `/sherd/deal/1` request-response (the
//!   deal messages of `sherd_market::wire`, at most
//!   `sherd_market::wire::MAX_DEAL_MESSAGE` bytes each way) and
//!   `/sherd/fragment/1` streams (fragment uploads and ranged downloads,
//!   framed by `sherd_market::transfer`), handed to the provider as plain
//!   byte streams ([`FragmentStream`]).
//!
//! A client that stores files is a light peer of its own ([`light`]): it
//! speaks only the deal and fragment protocols, as a dialer.
//!
//! A peer the node penalizes [`BAN_STRIKES`] times is disconnected and
//! blocked until the node restarts.

use std::{
    collections::{HashMap, HashSet},
    io,
    time::Duration,
};

use futures::{AsyncWriteExt, StreamExt};
use libp2p::{
    allow_block_list, gossipsub, identify, identity, kad, noise, ping, request_response,
    swarm::{
        dial_opts::{DialOpts, PeerCondition},
        NetworkBehaviour, SwarmEvent,
    },
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use tokio::sync::{mpsc, oneshot};

pub mod counted;
pub mod light;
pub mod limits;
pub mod timed;

/// Largest sync request, in bytes.
pub const MAX_REQUEST: usize = 64 << 10;
/// Largest sync response, in bytes.
pub const MAX_RESPONSE: usize = 32 << 20;
/// Largest gossip message, in bytes.
pub const MAX_GOSSIP: usize = 4 << 20;
/// What identify tells peers this software is.
pub const AGENT_VERSION: &str = concat!("sherd/", env!("CARGO_PKG_VERSION"));
/// Penalties after which a peer is blocked.
pub const BAN_STRIKES: u32 = 5;
/// How often each connection is pinged.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// A ping unanswered this long closes its connection.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the bootnodes this node is not connected to are dialed
/// again: a link that dropped (a partition, a peer's restart) comes back
/// within this, whether or not anything else is connected.
pub const REDIAL_INTERVAL: Duration = Duration::from_secs(5);
/// The sync protocol id.
pub const SYNC_PROTOCOL: &str = "/sherd/sync/1";
/// The identify protocol version string.
pub const PROTOCOL_VERSION: &str = "/sherd/1.0.0";
/// Largest deal request or response, in bytes.
pub const MAX_DEAL: usize = sherd_market::wire::MAX_DEAL_MESSAGE;

/// A gossip topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Signed transactions.
    Transactions,
    /// Consensus messages.
    Consensus,
}

impl Topic {
    /// The gossipsub topic name on chain `chain`.
    pub fn name(self, chain: &str) -> String {
        match self {
            Self::Transactions => format!("sherd/{chain}/txs/1"),
            Self::Consensus => format!("sherd/{chain}/consensus/1"),
        }
    }
}

/// What the node decided about a gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it.
    Accept,
    /// Invalid: drop it and lower the sender's score.
    Reject,
    /// Not invalid, not useful (a duplicate, too old): drop it quietly.
    Ignore,
}

/// Something the network saw.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message waiting for a [`Verdict`] ([`NetHandle::validate`]).
    Gossip {
        /// Its topic.
        topic: Topic,
        /// Its bytes.
        data: Vec<u8>,
        /// The peer that sent it to us.
        source: PeerId,
        /// Its gossipsub id, for the verdict.
        id: gossipsub::MessageId,
    },
    /// A sync request; answer with [`NetHandle::respond`].
    Request {
        /// Who asks.
        peer: PeerId,
        /// The request bytes.
        request: Vec<u8>,
        /// Where the answer goes.
        reply: Reply,
    },
    /// A deal request (providers only); answer with
    /// [`NetHandle::respond_deal`].
    Deal {
        /// Who asks.
        peer: PeerId,
        /// The request bytes.
        request: Vec<u8>,
        /// Where the answer goes.
        reply: DealReply,
    },
    /// A connection to `peer` was established.
    Connected(PeerId),
    /// The last connection to `peer` closed.
    Disconnected(PeerId),
    /// Listening on a new address.
    Listening(Multiaddr),
}

/// Where an answer to a sync request goes.
#[derive(Debug)]
pub struct Reply(request_response::ResponseChannel<Vec<u8>>);

/// Where an answer to a deal request goes.
#[derive(Debug)]
pub struct DealReply(request_response::ResponseChannel<Vec<u8>>);

/// An inbound `/sherd/fragment/1` stream: a bidirectional byte stream
/// (`futures` `AsyncRead + AsyncWrite`).
pub type FragmentStream = libp2p::Stream;

/// Opens and accepts raw protocol streams (a `libp2p_stream::Control`).
#[derive(Clone)]
pub struct StreamControl(libp2p_stream::Control);

impl std::fmt::Debug for StreamControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamControl")
    }
}

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The swarm task has stopped.
    #[error("the network task has stopped")]
    Stopped,
    /// A sync request failed.
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// What happened.
        reason: String,
    },
    /// Gossip could not be published.
    #[error("cannot publish: {0}")]
    Publish(String),
    /// The transport or a listen address failed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// What the OS said.
        reason: String,
    },
    /// A bootnode address is not dialable.
    #[error("bootnode {addr} is invalid: {reason}")]
    Bootnode {
        /// The address.
        addr: Multiaddr,
        /// What is wrong.
        reason: String,
    },
    /// The swarm could not be built.
    #[error("cannot start libp2p: {0}")]
    Build(String),
}

enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        done: oneshot::Sender<Result<(), NetError>>,
    },
    Validate {
        id: gossipsub::MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    Request {
        peer: PeerId,
        request: Vec<u8>,
        done: oneshot::Sender<Result<Vec<u8>, NetError>>,
    },
    Respond {
        reply: Reply,
        response: Vec<u8>,
    },
    RespondDeal {
        reply: DealReply,
        response: Vec<u8>,
    },
    Penalize {
        peer: PeerId,
    },
    Peers {
        done: oneshot::Sender<Vec<PeerId>>,
    },
    Score {
        peer: PeerId,
        done: oneshot::Sender<Option<f64>>,
    },
    Dial {
        addr: Multiaddr,
    },
}

/// The node's side of the network task.
#[derive(Debug, Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
    streams: StreamControl,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl NetHandle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// Publishes `data` on `topic`. Having no peer yet is not an error.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), NetError> {
        let (done, answer) = oneshot::channel();
        self.send(Command::Publish { topic, data, done }).await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Tells gossipsub what to do with a received message.
    pub async fn validate(
        &self,
        id: gossipsub::MessageId,
        source: PeerId,
        verdict: Verdict,
    ) -> Result<(), NetError> {
        self.send(Command::Validate {
            id,
            source,
            verdict,
        })
        .await
    }

    /// Sends a sync request to `peer` and waits for the answer.
    pub async fn request(&self, peer: PeerId, request: Vec<u8>) -> Result<Vec<u8>, NetError> {
        let (done, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            request,
            done,
        })
        .await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Answers a sync request.
    pub async fn respond(&self, reply: Reply, response: Vec<u8>) -> Result<(), NetError> {
        self.send(Command::Respond { reply, response }).await
    }

    /// Answers a deal request.
    pub async fn respond_deal(&self, reply: DealReply, response: Vec<u8>) -> Result<(), NetError> {
        self.send(Command::RespondDeal { reply, response }).await
    }

    /// Inbound `/sherd/fragment/1` streams, with the peer that opened each.
    /// Only one taker: a second call fails.
    pub fn accept_fragments(
        &self,
    ) -> Result<impl futures::Stream<Item = (PeerId, FragmentStream)> + Send + Unpin, NetError>
    {
        self.streams
            .0
            .clone()
            .accept(StreamProtocol::new(sherd_market::wire::FRAGMENT_PROTOCOL))
            .map_err(|_| NetError::Build("fragment streams are already taken".into()))
    }

    /// Counts a misbehaviour of `peer`; after [`BAN_STRIKES`] it is blocked.
    pub async fn penalize(&self, peer: PeerId) -> Result<(), NetError> {
        self.send(Command::Penalize { peer }).await
    }

    /// The peers connected now.
    pub async fn peers(&self) -> Result<Vec<PeerId>, NetError> {
        let (done, answer) = oneshot::channel();
        self.send(Command::Peers { done }).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// gossipsub's score of `peer` (`None` if it is not connected): what
    /// it delivered that this node rejected lowers it ([`score_params`]).
    pub async fn peer_score(&self, peer: PeerId) -> Result<Option<f64>, NetError> {
        let (done, answer) = oneshot::channel();
        self.send(Command::Score { peer, done }).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// Dials `addr`.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.send(Command::Dial { addr }).await
    }
}

/// How to start the network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The node's libp2p key (its peer id).
    pub keypair: identity::Keypair,
    /// Where to listen, e.g. `/ip4/127.0.0.1/tcp/30333`.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start; each must end in `/p2p/<peer id>`.
    pub bootnodes: Vec<Multiaddr>,
    /// The chain id, part of the topic names.
    pub chain_id: String,
    /// Whether this node is a storage provider: it answers the deal
    /// protocol and accepts fragment streams.
    pub provider: bool,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<FrameCodec>,
    deal: request_response::Behaviour<FrameCodec>,
    streams: libp2p_stream::Behaviour,
}

/// Length-delimited opaque bytes, `u32_be(len) ‖ bytes`, with a limit
/// each way checked before anything is allocated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameCodec {
    max_request: usize,
    max_response: usize,
}

impl FrameCodec {
    /// The sync protocol's limits.
    pub(crate) const SYNC: Self = Self {
        max_request: MAX_REQUEST,
        max_response: MAX_RESPONSE,
    };
    /// The deal protocol's limits.
    pub(crate) const DEAL: Self = Self {
        max_request: MAX_DEAL,
        max_response: MAX_DEAL,
    };
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    data: &[u8],
    max: usize,
) -> io::Result<()> {
    if data.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes is over the limit of {max}", data.len()),
        ));
    }
    sherd_market::transfer::write_frame(io, data).await?;
    io.close().await
}

#[async_trait::async_trait]
impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        sherd_market::transfer::read_frame(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        sherd_market::transfer::read_frame(io, self.max_response).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, self.max_request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_response).await
    }
}

/// The deal protocol's behaviour: answering (`Full`) on a provider,
/// asking only (`Outbound`) elsewhere.
pub(crate) fn deal_behaviour(serve: bool) -> request_response::Behaviour<FrameCodec> {
    let support = if serve {
        request_response::ProtocolSupport::Full
    } else {
        request_response::ProtocolSupport::Outbound
    };
    request_response::Behaviour::with_codec(
        FrameCodec::DEAL,
        [(
            StreamProtocol::new(sherd_market::wire::DEAL_PROTOCOL),
            support,
        )],
        request_response::Config::default().with_request_timeout(Duration::from_secs(20)),
    )
}

fn build_swarm(
    keypair: identity::Keypair,
    provider: bool,
    chain_id: &str,
) -> Result<Swarm<Behaviour>, NetError> {
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| build(&e))?
        .with_quic()
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            // Messages are not signed by gossipsub: everything published
            // carries its own signatures (a consensus message its BLS
            // signatures, a transaction its ed25519 one), checked by the
            // receiver before it accepts or forwards it, so a second
            // ed25519 signature per message, made by the publisher and
            // checked by every receiver, bought nothing (8 % of a node's
            // CPU at light load). The author and sequence number are still
            // sent, unsigned, for the message id below; `Permissive` checks
            // their form, and a signature if one comes. Peer scoring and
            // the application's verdicts work as before.
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Permissive)
                .validate_messages()
                .max_transmit_size(MAX_GOSSIP)
                .heartbeat_interval(Duration::from_millis(500))
                // One id per publication (the bytes, the origin and its
                // sequence number), not per content: the engine re-sends
                // its votes and certificates while a view is stuck, and
                // identical bytes would be refused as already seen for a
                // minute, so a message lost at start-up (published before
                // the peers subscribed, or dropped from a full queue) could
                // never be sent again.
                .message_id_fn(|m| {
                    let mut id = blake3::Hasher::new();
                    id.update(&m.data);
                    if let Some(source) = &m.source {
                        id.update(&source.to_bytes());
                    }
                    if let Some(seq) = m.sequence_number {
                        id.update(&seq.to_le_bytes());
                    }
                    gossipsub::MessageId::from(id.finalize().as_bytes()[..20].to_vec())
                })
                .build()
                .map_err(|e| e.to_string())?;
            let mut gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Author(peer_id),
                gossip_config,
            )?;
            gossipsub
                .with_peer_score(
                    score_params(chain_id),
                    gossipsub::PeerScoreThresholds::default(),
                )
                .map_err(|e| e.to_string())?;
            let mut kad = kad::Behaviour::new(peer_id, kad::store::MemoryStore::new(peer_id));
            kad.set_mode(Some(kad::Mode::Server));
            Ok(Behaviour {
                blocked: allow_block_list::Behaviour::default(),
                identify: identify::Behaviour::new(
                    identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                        .with_agent_version(AGENT_VERSION.to_owned()),
                ),
                ping: ping::Behaviour::new(
                    ping::Config::new()
                        .with_interval(PING_INTERVAL)
                        .with_timeout(PING_TIMEOUT),
                ),
                kad,
                gossipsub,
                sync: request_response::Behaviour::with_codec(
                    FrameCodec::SYNC,
                    [(
                        StreamProtocol::new(SYNC_PROTOCOL),
                        request_response::ProtocolSupport::Full,
                    )],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(30)),
                ),
                deal: deal_behaviour(provider),
                streams: libp2p_stream::Behaviour::new(),
            })
        })
        .map_err(|e| build(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}

/// libp2p listens with `SO_REUSEPORT`, so a second node on the same port
/// would start without an error and share the port. Binding the port once
/// without that option first makes "port in use" an error at start.
fn check_port_free(addr: &Multiaddr) -> Result<(), NetError> {
    use libp2p::multiaddr::Protocol;
    let mut iter = addr.iter();
    let ip: std::net::IpAddr = match iter.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    let Some(Protocol::Tcp(port)) = iter.next() else {
        return Ok(());
    };
    if port == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind((ip, port))
        .map(drop)
        .map_err(|e| NetError::Listen {
            addr: addr.clone(),
            reason: e.to_string(),
        })
}

/// Starts the swarm: listens, dials the bootnodes, and spawns its task.
/// Fails at once (with the address) if an address cannot be listened on or
/// a bootnode address has no peer id.
pub async fn start(config: NetConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    let peer_id = config.keypair.public().to_peer_id();
    let mut swarm = build_swarm(config.keypair, config.provider, &config.chain_id)?;
    let streams = StreamControl(swarm.behaviour().streams.new_control());
    let topics: HashMap<gossipsub::TopicHash, Topic> = [Topic::Transactions, Topic::Consensus]
        .into_iter()
        .map(|t| {
            (
                gossipsub::IdentTopic::new(t.name(&config.chain_id)).hash(),
                t,
            )
        })
        .collect();
    for topic in [Topic::Transactions, Topic::Consensus] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&gossipsub::IdentTopic::new(topic.name(&config.chain_id)))
            .map_err(|e| NetError::Build(e.to_string()))?;
    }
    for addr in &config.listen {
        check_port_free(addr)?;
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    // A listen failure (port in use) arrives as an event: wait for the
    // first answer of each address, so it fails here, not later.
    let mut pending = config.listen.len();
    let mut listening = Vec::with_capacity(pending);
    while pending > 0 {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                pending -= 1;
                listening.push(address);
            }
            SwarmEvent::ListenerError { error, .. }
            | SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                return Err(NetError::Listen {
                    addr: config
                        .listen
                        .first()
                        .cloned()
                        .unwrap_or_else(Multiaddr::empty),
                    reason: error.to_string(),
                });
            }
            _ => {}
        }
    }
    let mut bootnodes = Vec::with_capacity(config.bootnodes.len());
    for addr in &config.bootnodes {
        let Some(libp2p::multiaddr::Protocol::P2p(boot_peer)) = addr.iter().last() else {
            return Err(NetError::Bootnode {
                addr: addr.clone(),
                reason: "it does not end in /p2p/<peer id>".into(),
            });
        };
        if boot_peer == peer_id {
            continue;
        }
        swarm
            .behaviour_mut()
            .kad
            .add_address(&boot_peer, addr.clone());
        swarm.dial(addr.clone()).map_err(|e| NetError::Bootnode {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
        bootnodes.push((boot_peer, addr.clone()));
    }
    let (commands, command_rx) = mpsc::channel(1024);
    let (event_tx, events) = mpsc::channel(4096);
    for address in listening {
        let _ = event_tx.try_send(NetEvent::Listening(address));
    }
    let task = Task {
        swarm,
        topics,
        chain_id: config.chain_id,
        commands: command_rx,
        events: event_tx,
        pending: HashMap::new(),
        strikes: HashMap::new(),
        connected: HashSet::new(),
        bootnodes,
        sync_limit: limits::PeerLimit::new(limits::SYNC),
        deal_limit: limits::PeerLimit::new(limits::DEALS),
    };
    tokio::spawn(task.run());
    Ok((
        NetHandle {
            commands,
            peer_id,
            streams,
        },
        events,
    ))
}

struct Task {
    swarm: Swarm<Behaviour>,
    topics: HashMap<gossipsub::TopicHash, Topic>,
    chain_id: String,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    pending:
        HashMap<request_response::OutboundRequestId, oneshot::Sender<Result<Vec<u8>, NetError>>>,
    strikes: HashMap<PeerId, u32>,
    connected: HashSet<PeerId>,
    /// The bootnodes, dialed again while not connected.
    bootnodes: Vec<(PeerId, Multiaddr)>,
    /// Per-peer request rates ([`limits`]).
    sync_limit: limits::PeerLimit,
    deal_limit: limits::PeerLimit,
}

impl Task {
    async fn run(mut self) {
        let mut discovery = tokio::time::interval(Duration::from_secs(30));
        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => {
                    if self.event(event).await.is_err() {
                        return;
                    }
                }
                _ = discovery.tick() => {
                    if !self.connected.is_empty() {
                        let _ = self.swarm.behaviour_mut().kad.bootstrap();
                    }
                }
                _ = redial.tick() => self.redial(),
            }
        }
    }

    /// Dials every bootnode not connected and not being dialed.
    fn redial(&mut self) {
        for (peer, addr) in &self.bootnodes {
            if self.connected.contains(peer) {
                continue;
            }
            let opts = DialOpts::peer_id(*peer)
                .addresses(vec![addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, %addr, error = %e, "redial failed");
            }
        }
    }

    fn command(&mut self, command: Command) {
        let behaviour = self.swarm.behaviour_mut();
        match command {
            Command::Publish { topic, data, done } => {
                let topic = gossipsub::IdentTopic::new(topic.name(&self.chain_id));
                let result = match behaviour.gossipsub.publish(topic, data) {
                    Ok(_) | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(()),
                    Err(gossipsub::PublishError::Duplicate) => Ok(()),
                    Err(e) => Err(NetError::Publish(e.to_string())),
                };
                let _ = done.send(result);
            }
            Command::Validate {
                id,
                source,
                verdict,
            } => {
                let acceptance = match verdict {
                    Verdict::Accept => gossipsub::MessageAcceptance::Accept,
                    Verdict::Reject => gossipsub::MessageAcceptance::Reject,
                    Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
                };
                behaviour
                    .gossipsub
                    .report_message_validation_result(&id, &source, acceptance);
            }
            Command::Request {
                peer,
                request,
                done,
            } => {
                let id = behaviour.sync.send_request(&peer, request);
                self.pending.insert(id, done);
            }
            Command::Respond { reply, response } => {
                let _ = behaviour.sync.send_response(reply.0, response);
            }
            Command::RespondDeal { reply, response } => {
                let _ = behaviour.deal.send_response(reply.0, response);
            }
            Command::Penalize { peer } => {
                let strikes = self.strikes.entry(peer).or_default();
                *strikes = strikes.saturating_add(1);
                if *strikes >= BAN_STRIKES {
                    tracing::warn!(%peer, "blocking peer after repeated misbehaviour");
                    behaviour.blocked.block_peer(peer);
                }
            }
            Command::Peers { done } => {
                let _ = done.send(self.connected.iter().copied().collect());
            }
            Command::Score { peer, done } => {
                let _ = done.send(behaviour.gossipsub.peer_score(&peer));
            }
            Command::Dial { addr } => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "dial failed");
                }
            }
        }
    }

    /// Handles one swarm event; `Err` when the node dropped its receiver.
    async fn event(&mut self, event: SwarmEvent<BehaviourEvent>) -> Result<(), ()> {
        let out = match event {
            SwarmEvent::NewListenAddr { address, .. } => Some(NetEvent::Listening(address)),
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if endpoint.is_dialer() {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer_id, endpoint.get_remote_address().clone());
                }
                self.connected
                    .insert(peer_id)
                    .then_some(NetEvent::Connected(peer_id))
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.connected.remove(&peer_id);
                Some(NetEvent::Disconnected(peer_id))
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                // Learn the addresses peers listen on, for discovery.
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
                None
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => match self.topics.get(&message.topic) {
                Some(&topic) => Some(NetEvent::Gossip {
                    topic,
                    data: message.data,
                    source: propagation_source,
                    id: message_id,
                }),
                None => {
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            gossipsub::MessageAcceptance::Reject,
                        );
                    None
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    if !self.sync_limit.allow(peer, std::time::Instant::now()) {
                        tracing::debug!(%peer, "net.sync: over the peer's request rate; dropped");
                        return Ok(());
                    }
                    Some(NetEvent::Request {
                        peer,
                        request,
                        reply: Reply(channel),
                    })
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(done) = self.pending.remove(&request_id) {
                        let _ = done.send(Ok(response));
                    }
                    None
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Deal(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                if !self.deal_limit.allow(peer, std::time::Instant::now()) {
                    tracing::debug!(%peer, "net.deal: over the peer's request rate; dropped");
                    return Ok(());
                }
                Some(NetEvent::Deal {
                    peer,
                    request,
                    reply: DealReply(channel),
                })
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    peer,
                    request_id,
                    error,
                    ..
                },
            )) => {
                if let Some(done) = self.pending.remove(&request_id) {
                    let _ = done.send(Err(NetError::Request {
                        peer,
                        reason: error.to_string(),
                    }));
                }
                None
            }
            // A peer without ping (a light client) keeps its connection.
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error @ (ping::Failure::Timeout | ping::Failure::Other { .. })),
            })) => {
                // A link that stopped carrying anything (a partition, a
                // peer frozen or gone without a FIN) is closed, so the
                // redial brings a fresh one when the path is back, instead
                // of TCP's retransmission backoff holding a dead one.
                tracing::debug!(%peer, %error, "ping failed: closing the connection");
                self.swarm.close_connection(connection);
                None
            }
            _ => None,
        };
        match out {
            Some(event) => self.events.send(event).await.map_err(|_| ()),
            None => Ok(()),
        }
    }
}

/// Each rejected message costs its deliverer `10 · n²` points on the topic
/// (`n`: its rejected messages, decaying by a tenth a second), and nothing
/// else counts, for or against a peer: a quiet but honest peer is not
/// penalized for delivering little, and a peer cannot bank credit by
/// staying long or delivering much before it misbehaves. With gossipsub's default thresholds (gossip
/// −10, publish −50, graylist −80), two rejected messages (−40) stop
/// gossip exchanges with the peer, three (−90) graylist it: everything it
/// sends is ignored until the count decays (about 20 s for one message).
pub fn score_params(chain_id: &str) -> gossipsub::PeerScoreParams {
    let mut params = gossipsub::PeerScoreParams::default();
    for topic in [Topic::Transactions, Topic::Consensus] {
        let topic_params = gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            time_in_mesh_weight: 0.0,
            first_message_deliveries_weight: 0.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: -10.0,
            invalid_message_deliveries_decay: 0.9,
            ..gossipsub::TopicScoreParams::default()
        };
        params.topics.insert(
            gossipsub::IdentTopic::new(topic.name(chain_id)).hash(),
            topic_params,
        );
    }
    params
}
