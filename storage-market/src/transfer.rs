//! Both ends of `/sherd/fragment/1` (see [`crate::wire`] for the layout),
//! over any byte stream (`futures` `AsyncRead`/`AsyncWrite`): a libp2p
//! stream in the node, an in-memory pipe in tests.
//!
//! Memory is bounded on both sides whatever the fragment's size: data
//! moves in pieces of at most [`PIECE`] bytes and is checked one 16 KiB
//! group at a time; only the group hashes (32 bytes per 16 KiB, 0.2 % of
//! the fragment) are held whole, because the tree over them must be checked
//! against the fragment root before the first data byte is trusted.

use std::io::{self, Write};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use sherd_fragments::{
    commit::{group_hash, merkle_root, Hash},
    file::{Footer, FOOTER_LEN},
    ReadAt, CHUNK_SIZE, GROUP_SIZE,
};

use crate::wire::{self, DownloadResponse, FragmentRequest, Refusal, UploadResponse};

/// Bytes moved per read or write.
pub const PIECE: usize = 1 << 20;

/// What went wrong moving a fragment.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The other side said no, with its reason.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The bytes received are not the fragment: the other side is faulty or
    /// lying.
    #[error("{0}")]
    Corrupt(String),
    /// The stream failed (closed early, timed out, reset).
    #[error("transfer failed: {0}")]
    Io(#[from] io::Error),
    /// Our own fragment file could not be read, or the received one written.
    #[error("local file: {0}")]
    Local(io::Error),
}

/// The number of 16 KiB groups of a fragment of `fragment_size` bytes.
pub fn group_count(fragment_size: u64) -> u64 {
    fragment_size.div_ceil(GROUP_SIZE as u64)
}

/// Bytes of group `g` of a fragment of `fragment_size` bytes.
fn group_len(fragment_size: u64, g: u64) -> usize {
    let start = g.saturating_mul(GROUP_SIZE as u64);
    fragment_size.saturating_sub(start).min(GROUP_SIZE as u64) as usize
}

/// Writes `u32_be(len) ‖ bytes`.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(bytes).await
}

/// Reads one frame of at most `max` bytes (checked before allocating).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(buf)
}

fn invalid_data(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Writes a message as one frame.
pub async fn write_message<W: AsyncWrite + Unpin, T: sherd_ledger::codec::Encode>(
    w: &mut W,
    message: &T,
) -> io::Result<()> {
    let bytes = wire::encode(message).map_err(invalid_data)?;
    write_frame(w, &bytes).await
}

/// Reads a message sent as one frame of at most `max` bytes.
pub async fn read_message<R: AsyncRead + Unpin, T: sherd_ledger::codec::Decode>(
    r: &mut R,
    max: usize,
) -> io::Result<T> {
    let bytes = read_frame(r, max).await?;
    wire::decode(&bytes, max).map_err(invalid_data)
}

/// The group hashes stored in a fragment file (level 0 of its tree).
fn stored_leaves<F: ReadAt + ?Sized>(file: &F, fragment_size: u64) -> io::Result<Vec<u8>> {
    let groups = usize::try_from(group_count(fragment_size))
        .map_err(|_| io::Error::other("fragment too large"))?;
    let mut bytes = vec![0u8; groups.saturating_mul(32)];
    file.read_exact_at(&mut bytes, fragment_size)?;
    Ok(bytes)
}

/// Copies `len` bytes of `file` from `offset` to `w`, a piece at a time;
/// `progress` gets the bytes sent so far.
async fn send_range<W: AsyncWrite + Unpin, F: ReadAt + ?Sized>(
    w: &mut W,
    file: &F,
    offset: u64,
    len: u64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TransferError> {
    let mut buf = vec![0u8; PIECE.min(len as usize).max(1)];
    let mut sent = 0u64;
    while sent < len {
        let n = (len - sent).min(buf.len() as u64) as usize;
        let piece = &mut buf[..n];
        file.read_exact_at(piece, offset + sent)
            .map_err(TransferError::Local)?;
        w.write_all(piece).await?;
        sent += n as u64;
        progress(sent);
    }
    Ok(())
}

/// The client's side of an upload: sends the request, the group hashes and
/// the data of the fragment file `file` (described by `footer`), closes its
/// side and reads the provider's answer. The answer is read while sending,
/// so a provider that refuses in the middle (a group that does not match,
/// a full disk) stops the transfer at once, and its reason is returned.
pub async fn upload<S, F>(
    stream: S,
    contract_id: sherd_ledger::Hash,
    footer: &Footer,
    file: &F,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(), TransferError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: ReadAt + ?Sized,
{
    let (mut reader, mut writer) = stream.split();
    let request = FragmentRequest::Upload {
        contract_id,
        index: u32::from(footer.index),
    };
    let send = async {
        let sent = async {
            write_message(&mut writer, &request).await?;
            let leaves = stored_leaves(file, footer.fragment_size).map_err(TransferError::Local)?;
            writer.write_all(&leaves).await?;
            send_range(&mut writer, file, 0, footer.fragment_size, progress).await?;
            Ok::<(), TransferError>(())
        }
        .await;
        // Closed on failure too: the provider then sees the upload end
        // short and answers its refusal instead of waiting for more bytes.
        let closed = writer.close().await;
        sent?;
        closed.map_err(TransferError::Io)
    };
    let answer = read_message::<_, UploadResponse>(&mut reader, wire::MAX_FRAGMENT_REQUEST);
    futures::pin_mut!(send);
    futures::pin_mut!(answer);
    let (sent, answer) = match futures::future::select(send, answer).await {
        futures::future::Either::Left((sent, answer)) => (sent, answer.await),
        // The provider answered before we were done: a refusal (or a
        // broken provider claiming success early, which is refused too).
        futures::future::Either::Right((answer, _)) => (
            Err(TransferError::Corrupt(
                "the provider answered before the upload was complete".into(),
            )),
            answer,
        ),
    };
    match (answer, sent) {
        // Our own side failed first: the provider's refusal only says the
        // upload ended short.
        (_, Err(e @ TransferError::Local(_))) => Err(e),
        (Ok(UploadResponse::Refused(reason)), _) => Err(TransferError::Refused(reason)),
        (Ok(UploadResponse::Stored), sent) => sent,
        // The answer could not be read: that error says more than ours
        // (which may only be that the answer came early).
        (Err(e), Err(TransferError::Corrupt(_))) => Err(TransferError::Io(e)),
        (Err(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(TransferError::Io(e)),
    }
}

/// Why a provider did not keep an upload.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The bytes are not the reserved fragment (or not all of it): answer
    /// this refusal.
    #[error("{0}")]
    Refused(Refusal),
    /// The stream failed.
    #[error("transfer failed: {0}")]
    Io(#[from] io::Error),
    /// The local file could not be written.
    #[error("local file: {0}")]
    Local(io::Error),
}

/// The provider's side of an upload, after the request frame: reads the
/// group hashes, checks that they build `root` before any data, then reads
/// `fragment_size` data bytes group by group, each checked against its hash
/// before it is written to `sink`, and finally that the stream ends there.
/// Answers the group hashes (level 0 of the fragment tree).
pub async fn receive_upload<R, W>(
    stream: &mut R,
    fragment_size: u64,
    root: &Hash,
    sink: &mut W,
) -> Result<Vec<Hash>, ReceiveError>
where
    R: AsyncRead + Unpin,
    W: Write,
{
    let groups = group_count(fragment_size);
    let groups_usize = usize::try_from(groups)
        .map_err(|_| ReceiveError::Refused(Refusal::invalid("too large")))?;
    let mut hash_bytes = vec![0u8; groups_usize.saturating_mul(32)];
    read_or_refuse(stream, &mut hash_bytes, "the group hashes").await?;
    let leaves: Vec<Hash> = hash_bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    if merkle_root(&leaves) != *root {
        return Err(ReceiveError::Refused(Refusal::invalid(
            "the group hashes do not build the proposed fragment root",
        )));
    }
    let mut group = vec![0u8; GROUP_SIZE];
    let mut received = 0u64;
    for (g, expected) in leaves.iter().enumerate() {
        let len = group_len(fragment_size, g as u64);
        let buf = &mut group[..len];
        if let Err(e) = stream.read_exact(buf).await {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                ReceiveError::Refused(Refusal::invalid(format!(
                    "the upload ended after {received} of {fragment_size} bytes"
                )))
            } else {
                ReceiveError::Io(e)
            });
        }
        if group_hash(buf) != *expected {
            return Err(ReceiveError::Refused(Refusal::invalid(format!(
                "group {g} does not match its hash"
            ))));
        }
        sink.write_all(buf).map_err(ReceiveError::Local)?;
        received += len as u64;
    }
    let mut extra = [0u8; 1];
    match stream.read(&mut extra).await {
        Ok(0) => Ok(leaves),
        Ok(_) => Err(ReceiveError::Refused(Refusal::invalid(format!(
            "more than the fragment's {fragment_size} bytes were sent"
        )))),
        Err(e) => Err(ReceiveError::Io(e)),
    }
}

async fn read_or_refuse<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut [u8],
    what: &str,
) -> Result<(), ReceiveError> {
    stream.read_exact(buf).await.map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReceiveError::Refused(Refusal::invalid(format!("the stream ended inside {what}")))
        } else {
            ReceiveError::Io(e)
        }
    })
}

/// The provider's side of a download: checks the range and sends the
/// footer, the group hashes and the data of groups
/// `first_group .. first_group + groups` of the fragment file `file`.
pub async fn send_download<W, F>(
    stream: &mut W,
    file: &F,
    footer: &Footer,
    first_group: u64,
    groups: u64,
) -> Result<(), TransferError>
where
    W: AsyncWrite + Unpin,
    F: ReadAt + ?Sized,
{
    let total = group_count(footer.fragment_size);
    if first_group
        .checked_add(groups)
        .is_none_or(|end| end > total)
    {
        let reason = Refusal::invalid(format!(
            "groups {first_group}..+{groups} are outside the fragment's {total}"
        ));
        write_message(stream, &DownloadResponse::Refused(reason)).await?;
        stream.close().await?;
        return Ok(());
    }
    let leaves = stored_leaves(file, footer.fragment_size).map_err(TransferError::Local)?;
    write_message(
        stream,
        &DownloadResponse::Sending {
            footer: footer.to_bytes(),
        },
    )
    .await?;
    stream.write_all(&leaves).await?;
    let start = first_group * GROUP_SIZE as u64;
    let end = (first_group + groups)
        .saturating_mul(GROUP_SIZE as u64)
        .min(footer.fragment_size);
    send_range(stream, file, start, end.saturating_sub(start), &mut |_| {}).await?;
    stream.close().await?;
    Ok(())
}

/// What the client knows of a fragment before it reads it: from the
/// contract on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The fragment root.
    pub root: Hash,
    /// Its size.
    pub fragment_size: u64,
    /// Its index.
    pub index: u32,
}

/// The client's side of a download of the whole fragment: sends the
/// request, checks the footer and the group hashes against `expected`, then
/// every group against its hash before writing it to `sink`. Answers the
/// footer and the group hashes, so the caller can write the fragment file's
/// trailer. `progress` gets the data bytes received so far.
pub async fn download<S, W>(
    stream: &mut S,
    contract_id: sherd_ledger::Hash,
    expected: &Expected,
    sink: &mut W,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Footer, Vec<Hash>), TransferError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    W: Write,
{
    let groups = group_count(expected.fragment_size);
    download_range(stream, contract_id, expected, 0..groups, sink, progress).await
}

/// [`download`] of groups `range` only (a ranged read: the stripes that
/// hold one file of a pack). The group hashes come whole and are checked
/// against the root; the groups in `range` are each checked against their
/// hash before they reach `sink`.
pub async fn download_range<S, W>(
    stream: &mut S,
    contract_id: sherd_ledger::Hash,
    expected: &Expected,
    range: std::ops::Range<u64>,
    sink: &mut W,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<(Footer, Vec<Hash>), TransferError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    W: Write,
{
    let total = group_count(expected.fragment_size);
    if range.start > range.end || range.end > total {
        return Err(TransferError::Local(io::Error::other(format!(
            "groups {}..{} are outside the fragment's {total}",
            range.start, range.end
        ))));
    }
    let footer = request(
        stream,
        contract_id,
        expected,
        range.start,
        range.end - range.start,
    )
    .await?;
    let groups_usize = usize::try_from(total)
        .map_err(|_| TransferError::Corrupt("the fragment is too large".into()))?;
    let mut hash_bytes = vec![0u8; groups_usize.saturating_mul(32)];
    stream.read_exact(&mut hash_bytes).await?;
    let leaves: Vec<Hash> = hash_bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    if merkle_root(&leaves) != expected.root {
        return Err(TransferError::Corrupt(
            "the group hashes do not build the fragment root".into(),
        ));
    }
    let mut group = vec![0u8; GROUP_SIZE];
    let mut received = 0u64;
    for g in range {
        let len = group_len(expected.fragment_size, g);
        let buf = &mut group[..len];
        stream.read_exact(buf).await?;
        if group_hash(buf) != leaves[g as usize] {
            return Err(TransferError::Corrupt(format!(
                "group {g} does not match its hash"
            )));
        }
        sink.write_all(buf).map_err(TransferError::Local)?;
        received += len as u64;
        progress(received);
    }
    debug_assert_eq!(received % CHUNK_SIZE as u64, 0);
    Ok((footer, leaves))
}

/// Asks for fragment `expected.index`'s footer only (a download of no
/// groups): how a repairer, who has no manifest, learns the object's
/// layout. The footer is checked against `expected`; the layout it gives
/// must still be checked against the contract's object root, which commits
/// to it (a holder could lie about the fields the fragment root does not
/// cover).
pub async fn footer<S>(
    stream: &mut S,
    contract_id: sherd_ledger::Hash,
    expected: &Expected,
) -> Result<Footer, TransferError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    request(stream, contract_id, expected, 0, 0).await
}

/// Sends a download request for `groups` groups from `first_group` and
/// reads the footer that answers it, checked against `expected`.
async fn request<S>(
    stream: &mut S,
    contract_id: sherd_ledger::Hash,
    expected: &Expected,
    first_group: u64,
    groups: u64,
) -> Result<Footer, TransferError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    write_message(
        stream,
        &FragmentRequest::Download {
            contract_id,
            index: expected.index,
            first_group,
            groups,
        },
    )
    .await?;
    stream.close().await?;
    let footer =
        match read_message::<_, DownloadResponse>(stream, wire::MAX_FRAGMENT_REQUEST).await? {
            DownloadResponse::Refused(reason) => return Err(TransferError::Refused(reason)),
            DownloadResponse::Sending { footer } => footer,
        };
    let footer: [u8; FOOTER_LEN] = footer;
    let footer = Footer::from_bytes(&footer)
        .map_err(|e| TransferError::Corrupt(format!("the footer is invalid: {e}")))?;
    if footer.fragment_root != expected.root
        || footer.fragment_size != expected.fragment_size
        || u32::from(footer.index) != expected.index
    {
        return Err(TransferError::Corrupt(format!(
            "the footer describes fragment {} of {} bytes with root {}, not the contract's",
            footer.index,
            footer.fragment_size,
            hex::encode(footer.fragment_root)
        )));
    }
    Ok(footer)
}
