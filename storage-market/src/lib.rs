//! sherd's storage market: the provider service and the client's put, get and repair logic.
//!
//! Both sides of the market, without sockets or a clock, so that they are
//! tested against in-memory providers that refuse, stall, vanish and lie
//! (`tests/it`), and driven in production by `sherd-node` over libp2p:
//!
//! * [`wire`]: the messages of `/sherd/deal/1` and `/sherd/fragment/1`, in
//!   the ledger's canonical codec, every one size-bounded;
//! * [`transfer`]: both ends of a fragment upload and download over a byte
//!   stream, verified one 16 KiB group at a time, in bounded memory;
//! * [`provider`]: the deal policy (capacity, price, duration, collateral,
//!   reservations that expire), the service that answers deals and streams
//!   and keeps the store in step with the chain, and the prover;
//! * [`store`]: the [`FragmentStore`](store::FragmentStore) seam (files and
//!   a database index in the node, memory in tests);
//! * [`client`]: provider selection, placement with spares, and the
//!   verified parallel fetch;
//! * [`transport`]: the client's [`Transport`](transport::Transport) seam;
//! * [`object`]: the object directory (manifest and fragment files);
//! * [`catalog`]: the client's local catalog, object keys sealed to the
//!   owner's wallet key.

pub mod catalog;
pub mod client;
pub mod object;
pub mod pack;
pub mod provider;
pub mod share;
pub mod store;
pub mod transfer;
pub mod transport;
pub mod wire;
