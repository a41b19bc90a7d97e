//! A light libp2p peer for storage clients (`sherd storage …`): no gossip,
//! no sync, no chain; it dials providers directly, asks them deal
//! questions over `/sherd/deal/1` and opens `/sherd/fragment/1` streams.
//! It implements the market's [`Transport`] seam, so the client logic of
//! `sherd_market` runs on it unchanged.
//!
//! Time limits (the transport's business, see
//! [`sherd_market::transport`]): connecting, each deal request, and every
//! read or write of a stream that makes no progress for
//! [`Timeouts::idle`] end in [`TransportError::Timeout`].

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::{
    identify, identity, noise, ping, request_response,
    swarm::{dial_opts::DialOpts, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use sherd_market::{
    transport::{Endpoint, Transport, TransportError},
    wire::{self, DealRequest, DealResponse},
};
use tokio::sync::{mpsc, oneshot};

use super::{deal_behaviour, timed::Timed, FrameCodec, AGENT_VERSION, PROTOCOL_VERSION};

/// The light peer's time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect to a provider.
    pub connect: Duration,
    /// For a deal request's answer.
    pub deal: Duration,
    /// For a stream read or write to make progress.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            deal: Duration::from_secs(20),
            idle: Duration::from_secs(30),
        }
    }
}

#[derive(NetworkBehaviour)]
struct LightBehaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    deal: request_response::Behaviour<FrameCodec>,
    streams: libp2p_stream::Behaviour,
}

enum Command {
    Connect {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        done: oneshot::Sender<Result<(), String>>,
    },
    Deal {
        peer: PeerId,
        request: Vec<u8>,
        done: oneshot::Sender<Result<Vec<u8>, String>>,
    },
}

/// A running light peer. Dropping it stops its swarm.
pub struct LightPeer {
    commands: mpsc::Sender<Command>,
    streams: libp2p_stream::Control,
    peer_id: PeerId,
    timeouts: Timeouts,
}

impl std::fmt::Debug for LightPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LightPeer")
            .field("peer_id", &self.peer_id)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl LightPeer {
    /// Starts a light peer with a fresh identity on the current tokio
    /// runtime. It listens nowhere: it only dials.
    pub fn start(timeouts: Timeouts) -> Result<Self, super::NetError> {
        let build = |e: &dyn std::fmt::Display| super::NetError::Build(e.to_string());
        let swarm =
            libp2p::SwarmBuilder::with_existing_identity(identity::Keypair::generate_ed25519())
                .with_tokio()
                .with_tcp(
                    tcp::Config::default().nodelay(true),
                    noise::Config::new,
                    yamux::Config::default,
                )
                .map_err(|e| build(&e))?
                .with_quic()
                .with_behaviour(|key| LightBehaviour {
                    identify: identify::Behaviour::new(
                        identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                            .with_agent_version(format!("{AGENT_VERSION} (client)")),
                    ),
                    ping: ping::Behaviour::new(ping::Config::new()),
                    deal: deal_behaviour(false),
                    streams: libp2p_stream::Behaviour::new(),
                })
                .map_err(|e| build(&e))?
                .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
                .build();
        let peer_id = *swarm.local_peer_id();
        let streams = swarm.behaviour().streams.new_control();
        let (commands, command_rx) = mpsc::channel(256);
        tokio::spawn(
            Task {
                swarm,
                commands: command_rx,
                connecting: HashMap::new(),
                deals: HashMap::new(),
            }
            .run(),
        );
        Ok(Self {
            commands,
            streams,
            peer_id,
            timeouts,
        })
    }

    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<PeerId, TransportError> {
        let peer = PeerId::from_bytes(&endpoint.peer_id).map_err(|_| {
            TransportError::Unreachable(format!(
                "{} registered a peer id that is not one",
                endpoint.address
            ))
        })?;
        let addrs: Vec<Multiaddr> = endpoint
            .multiaddrs
            .iter()
            .filter_map(|a| Multiaddr::try_from(a.clone()).ok())
            .collect();
        if addrs.is_empty() {
            return Err(TransportError::Unreachable(format!(
                "{} registered no usable address",
                endpoint.address
            )));
        }
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Connect { peer, addrs, done })
            .await
            .map_err(|_| TransportError::Broken("the network task stopped".into()))?;
        match tokio::time::timeout(self.timeouts.connect, answer).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(Err(_)) => Err(TransportError::Broken("the network task stopped".into())),
            Ok(Ok(Err(e))) => Err(TransportError::Unreachable(e)),
            Ok(Ok(Ok(()))) => Ok(peer),
        }
    }
}

#[async_trait::async_trait]
impl Transport for LightPeer {
    type Stream = Timed<libp2p::Stream>;

    async fn deal(
        &self,
        provider: &Endpoint,
        request: DealRequest,
    ) -> Result<DealResponse, TransportError> {
        let peer = self.connect(provider).await?;
        let bytes = wire::encode(&request).map_err(|e| TransportError::Broken(e.to_string()))?;
        let (done, answer) = oneshot::channel();
        self.commands
            .send(Command::Deal {
                peer,
                request: bytes,
                done,
            })
            .await
            .map_err(|_| TransportError::Broken("the network task stopped".into()))?;
        let response = match tokio::time::timeout(self.timeouts.deal, answer).await {
            Err(_) => return Err(TransportError::Timeout),
            Ok(Err(_)) => return Err(TransportError::Broken("the network task stopped".into())),
            Ok(Ok(Err(e))) => return Err(TransportError::Broken(e)),
            Ok(Ok(Ok(bytes))) => bytes,
        };
        wire::decode(&response, wire::MAX_DEAL_MESSAGE)
            .map_err(|e| TransportError::Garbage(e.to_string()))
    }

    async fn open(&self, provider: &Endpoint) -> Result<Self::Stream, TransportError> {
        let peer = self.connect(provider).await?;
        let mut control = self.streams.clone();
        let protocol = StreamProtocol::new(wire::FRAGMENT_PROTOCOL);
        match tokio::time::timeout(self.timeouts.connect, control.open_stream(peer, protocol)).await
        {
            Err(_) => Err(TransportError::Timeout),
            Ok(Err(e)) => Err(TransportError::Unreachable(e.to_string())),
            Ok(Ok(stream)) => Ok(Timed::new(stream, self.timeouts.idle)),
        }
    }
}

struct Task {
    swarm: Swarm<LightBehaviour>,
    commands: mpsc::Receiver<Command>,
    connecting: HashMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>>,
    deals: HashMap<request_response::OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>>,
}

impl Task {
    async fn run(mut self) {
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command),
                    // The peer was dropped.
                    None => return,
                },
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Connect { peer, addrs, done } => {
                if self.swarm.is_connected(&peer) {
                    let _ = done.send(Ok(()));
                    return;
                }
                let waiting = self.connecting.entry(peer).or_default();
                waiting.push(done);
                if waiting.len() == 1 {
                    let opts = DialOpts::peer_id(peer).addresses(addrs).build();
                    if let Err(e) = self.swarm.dial(opts) {
                        self.connected(peer, Err(e.to_string()));
                    }
                }
            }
            Command::Deal {
                peer,
                request,
                done,
            } => {
                let id = self.swarm.behaviour_mut().deal.send_request(&peer, request);
                self.deals.insert(id, done);
            }
        }
    }

    fn connected(&mut self, peer: PeerId, result: Result<(), String>) {
        for done in self.connecting.remove(&peer).unwrap_or_default() {
            let _ = done.send(result.clone());
        }
    }

    fn event(&mut self, event: SwarmEvent<LightBehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => self.connected(peer_id, Ok(())),
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } if !self.swarm.is_connected(&peer) => {
                self.connected(peer, Err(dial_error(&error)));
            }
            SwarmEvent::Behaviour(LightBehaviourEvent::Deal(event)) => match event {
                request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                } => {
                    if let Some(done) = self.deals.remove(&request_id) {
                        let _ = done.send(Ok(response));
                    }
                }
                request_response::Event::OutboundFailure {
                    request_id, error, ..
                } => {
                    if let Some(done) = self.deals.remove(&request_id) {
                        let _ = done.send(Err(error.to_string()));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// A dial failure for a person: each address tried with the innermost
/// cause (`connection refused`), not libp2p's nested wrappers.
fn dial_error(error: &libp2p::swarm::DialError) -> String {
    fn root(e: &(dyn std::error::Error + 'static)) -> String {
        let mut cause = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    }
    match error {
        libp2p::swarm::DialError::Transport(tries) if !tries.is_empty() => tries
            .iter()
            .map(|(addr, e)| format!("{addr}: {}", root(e)))
            .collect::<Vec<_>>()
            .join("; "),
        other => root(other),
    }
}
