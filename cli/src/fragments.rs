//! `sherd fragments`: the offline toolkit over the fragments engine.
//!
//! An encoded object is a directory holding `manifest.json` and one
//! `fragment-NNNN.sherd` file per fragment; its key is a separate file
//! (`DIR.key` by default, mode 0600).

use std::{
    fs::{self, File},
    io::{BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sherd_fragments::{
    challenge_index, check, check_fragment, decode, encode, file, FragmentStatus, KeyFile, Object,
    Params, Proof,
};
use sherd_wallet::keyfile::{self, PrivateFile};
use zeroize::{Zeroize, Zeroizing};

use sherd_market::object::{
    self, check_key_path, check_object_dir, default_key_path, fragment_file, MANIFEST,
};

use crate::{
    fsutil::{self, Cleanup},
    output,
};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt FILE and erasure-code it into K data + M parity fragments in
    /// DIR, with a manifest; the key goes to a separate file. Prints the object root.
    Encode(EncodeArgs),
    /// Rebuild the file from DIR; up to M fragment files may be missing or corrupt.
    Decode(DecodeArgs),
    /// Prove that fragment I holds chunk J: the chunk and its Merkle path, as JSON.
    Prove(ProveArgs),
    /// Check a proof file: exit 0 if it is valid, 1 (with the reason) if not,
    /// 2 if it could not be checked (unreadable proof or manifest).
    Verify(VerifyArgs),
    /// Check every fragment of DIR: what is there, what is missing or corrupt.
    Inspect(InspectArgs),
    /// The chunk a challenge names: BLAKE3("sherd/challenge" ‖ beacon ‖ contract ‖ fragment ‖ period) mod chunks.
    Challenge(ChallengeArgs),
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The file to encode.
    file: PathBuf,
    /// Data fragments (k): any k fragments rebuild the file.
    #[arg(long = "data", short = 'k', value_name = "K")]
    data: usize,
    /// Parity fragments (m): how many fragments may be lost.
    #[arg(long = "parity", short = 'm', value_name = "M")]
    parity: usize,
    /// Directory to create for the fragments and manifest.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where to write the object key [default: DIR.key].
    #[arg(long, value_name = "FILE")]
    key_out: Option<PathBuf>,
    /// Bytes per shard of a stripe, a multiple of 16KiB [default: about 1MiB / k].
    #[arg(long, value_name = "SIZE", value_parser = output::parse_size)]
    shard_size: Option<u64>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Directory of an encoded object.
    dir: PathBuf,
    /// Where to write the rebuilt file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The object's key file [default: DIR.key].
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// Directory of an encoded object.
    dir: PathBuf,
    /// Fragment index I.
    #[arg(long, value_name = "I")]
    fragment: usize,
    /// Chunk index J within the fragment.
    #[arg(long, value_name = "J")]
    chunk: u64,
    /// Write the proof here instead of stdout.
    #[arg(long, value_name = "P.json")]
    out: Option<PathBuf>,
    /// Replace P.json if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A proof file written by `sherd fragments prove`.
    proof: PathBuf,
    /// Check the proof against this object's roots and chunk count (a
    /// manifest.json, or the directory holding it).
    #[arg(long, value_name = "MANIFEST", conflicts_with = "root")]
    manifest: Option<PathBuf>,
    /// Check the proof against this fragment root (hex), e.g. from a contract.
    #[arg(long, value_name = "HEX", value_parser = parse_hash)]
    root: Option<[u8; 32]>,
    /// The chunk the challenge named: a proof of any other chunk is invalid.
    #[arg(long, value_name = "J")]
    chunk: Option<u64>,
    /// Print a JSON verdict instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Directory of an encoded object.
    dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// The beacon of the proof period, 32 bytes hex.
    #[arg(long, value_parser = parse_hash)]
    beacon: [u8; 32],
    /// The contract id, 32 bytes hex.
    #[arg(long, value_parser = parse_hash)]
    contract: [u8; 32],
    /// Fragment index.
    #[arg(long)]
    fragment: u32,
    /// Proof period.
    #[arg(long)]
    period: u64,
    /// Chunks in the fragment.
    #[arg(long)]
    chunks: u64,
    /// Print JSON instead of the bare index.
    #[arg(long)]
    json: bool,
}

fn parse_hash(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, expected 32", b.len()))
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Encode(args) => encode_cmd(args),
        Command::Decode(args) => decode_cmd(args),
        Command::Prove(args) => prove_cmd(args),
        Command::Verify(args) => verify_cmd(args),
        Command::Inspect(args) => inspect_cmd(args),
        Command::Challenge(args) => {
            let index = challenge_index(
                &args.beacon,
                &args.contract,
                args.fragment,
                args.period,
                args.chunks,
            )
            .ok_or_else(|| anyhow!("--chunks must be at least 1"))?;
            if args.json {
                output::json(&json!({"chunk_index": index, "n_chunks": args.chunks}));
            } else {
                println!("{index}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads and checks `DIR/manifest.json`.
pub fn load_manifest(path: &Path) -> Result<Object> {
    Ok(object::load_manifest(path)?)
}

fn encode_cmd(args: EncodeArgs) -> Result<ExitCode> {
    let params = match args.shard_size {
        Some(size) => {
            let size = u32::try_from(size).map_err(|_| {
                anyhow!("--shard-size {size} is too large: the largest shard is 16MiB")
            })?;
            Params::with_shard_size(args.data, args.parity, size)
        }
        None => Params::new(args.data, args.parity),
    }?;
    let input =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = input.metadata()?.len();
    if size == 0 {
        bail!(
            "{} is empty: there is nothing to store",
            args.file.display()
        );
    }
    check_object_dir(&args.out)?;
    let key_path = args
        .key_out
        .clone()
        .unwrap_or_else(|| default_key_path(&args.out));
    fsutil::ensure_free(&args.out, true, "output directory")?;
    fsutil::ensure_free(&key_path, false, "key file")?;
    check_key_path(&key_path, &args.out)?;

    let started = Instant::now();
    let tmp = fsutil::partial(&args.out);
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    // Armed only once the directory is ours: never remove what we did not create.
    let mut guard = Cleanup::new(tmp.clone());
    let mut files = (0..params.total())
        .map(|i| {
            let path = tmp.join(fragment_file(i));
            fsutil::create_new(&path).with_context(|| format!("cannot create {}", path.display()))
        })
        .collect::<Result<Vec<File>>>()?;
    let bar = output::progress(size, args.json, "encoding");
    let (object, key) = encode(
        BufReader::with_capacity(1 << 20, input),
        size,
        params,
        &mut files,
        &mut |done| bar.set_position(done),
    )
    .with_context(|| format!("cannot encode {}", args.file.display()))?;
    bar.finish_and_clear();
    files
        .par_iter()
        .try_for_each(|f| f.sync_all())
        .context("cannot sync the fragment files")?;
    drop(files);
    fsutil::write_atomic(
        &tmp.join(MANIFEST),
        object.manifest().to_json().as_bytes(),
        false,
    )?;
    let mut key_file = KeyFile::new(&object, &key);
    let key_json = Zeroizing::new(key_file.to_json());
    key_file.key.zeroize();
    keyfile::write_new_private(&key_path, key_json.as_bytes())?;
    if let Err(e) = fs::rename(&tmp, &args.out) {
        let _ = fs::remove_file(&key_path);
        return Err(e)
            .with_context(|| format!("cannot move the fragments into {}", args.out.display()));
    }
    guard.disarm();
    fsutil::sync_parent(&args.out);

    let seconds = started.elapsed().as_secs_f64();
    let layout = object.layout;
    if args.json {
        output::json(&json!({
            "object_root": hex::encode(object.root),
            "size": size,
            "data_fragments": params.data(),
            "parity_fragments": params.parity(),
            "shard_size": params.shard_size(),
            "fragment_size": layout.fragment_size,
            "chunks": layout.chunks(),
            "dir": args.out,
            "key_file": key_path,
            "seconds": seconds,
        }));
    } else {
        println!("{}", hex::encode(object.root));
        eprintln!(
            "encoded {} into {} + {} fragments of {} in {} ({:.0} MiB/s)",
            output::bytes(size),
            params.data(),
            params.parity(),
            output::bytes(layout.fragment_size),
            args.out.display(),
            size as f64 / (1 << 20) as f64 / seconds.max(1e-9),
        );
        eprintln!(
            "key written to {} (mode 0600): anyone with it can read the file; without it nobody can",
            key_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the fragment files of an object (see [`object::open_fragments`]),
/// warning on stderr about those that exist but cannot be opened.
fn open_fragments(dir: &Path, object: &Object) -> Vec<Option<File>> {
    let (files, warnings) = object::open_fragments(dir, object);
    for w in warnings {
        eprintln!("warning: {w}");
    }
    files
}

/// The statuses as JSON; `inspected` when every byte was checked (`inspect`),
/// so that a good fragment is `ok` rather than `used` or `unread`.
fn status_json(statuses: &[FragmentStatus], k: usize, inspected: bool) -> serde_json::Value {
    statuses
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (status, reason) = match s {
                FragmentStatus::Used | FragmentStatus::Spare if inspected => ("ok", None),
                FragmentStatus::Used => ("used", None),
                FragmentStatus::Spare => (
                    "unread",
                    Some(
                        "not needed: its footer and tree were checked, its data was not read"
                            .to_string(),
                    ),
                ),
                FragmentStatus::Missing => ("missing", None),
                FragmentStatus::Corrupt(why) => ("corrupt", Some(why.clone())),
            };
            json!({
                "index": i,
                "file": fragment_file(i),
                "role": if i < k { "data" } else { "parity" },
                "status": status,
                "reason": reason,
            })
        })
        .collect()
}

fn decode_cmd(args: DecodeArgs) -> Result<ExitCode> {
    let object = load_manifest(&args.dir)?;
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| default_key_path(&args.dir));
    let key_bytes = fs::read(&key_path).with_context(|| {
        format!(
            "cannot read the key file {} (pass --key FILE if it is elsewhere)",
            key_path.display()
        )
    })?;
    let key = KeyFile::key_for(&key_bytes, &object)
        .with_context(|| format!("key file {}", key_path.display()))?;
    if !args.force {
        fsutil::ensure_free(&args.out, false, "output file")?;
    }
    let files = open_fragments(&args.dir, &object);
    let sources: Vec<Option<&File>> = files.iter().map(Option::as_ref).collect();

    let started = Instant::now();
    // The plaintext is readable by its owner only, and appears whole or not
    // at all: an error or a failed decode removes the temporary.
    let out = PrivateFile::create(&args.out)?;
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    let bar = output::progress(object.layout.size, args.json, "decoding");
    let report = decode(&object, &key, &sources, &mut writer, &mut |done| {
        bar.set_position(done)
    })
    .with_context(|| format!("cannot decode {}", args.dir.display()))?;
    bar.finish_and_clear();
    let out = writer.into_inner().map_err(|e| e.into_error())?;
    if args.force {
        out.commit_replace()
    } else {
        out.commit_new()
    }
    .with_context(|| format!("cannot move the output to {}", args.out.display()))?;

    let seconds = started.elapsed().as_secs_f64();
    let k = object.layout.params.data();
    if args.json {
        output::json(&json!({
            "object_root": hex::encode(object.root),
            "size": object.layout.size,
            "out": args.out,
            "seconds": seconds,
            "fragments": status_json(&report.fragments, k, false),
        }));
    } else {
        for (i, status) in report.fragments.iter().enumerate() {
            if !status.is_good() {
                eprintln!("fragment {i}: {status}");
            }
        }
        eprintln!(
            "decoded {} to {} in {:.2} s ({:.0} MiB/s)",
            output::bytes(object.layout.size),
            args.out.display(),
            seconds,
            object.layout.size as f64 / (1 << 20) as f64 / seconds.max(1e-9),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A proof as `sherd fragments prove` writes it: every binary field in hex.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofFile {
    object_root: String,
    fragment_index: u16,
    fragment_root: String,
    n_chunks: u64,
    chunk_index: u64,
    chunk: String,
    siblings: Vec<String>,
}

fn prove_cmd(args: ProveArgs) -> Result<ExitCode> {
    let object = load_manifest(&args.dir)?;
    let total = object.layout.params.total();
    if args.fragment >= total {
        bail!(
            "fragment {} does not exist: this object has fragments 0 to {}",
            args.fragment,
            total - 1
        );
    }
    let path = args.dir.join(fragment_file(args.fragment));
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let (footer, proof) = file::prove(&file, args.chunk)
        .with_context(|| format!("cannot prove from {}", path.display()))?;
    if footer.fragment_root != object.fragment_roots[args.fragment]
        || footer.object_root != object.root
    {
        bail!(
            "{} is not fragment {} of this object (its footer names other roots)",
            path.display(),
            args.fragment
        );
    }
    let proof_file = ProofFile {
        object_root: hex::encode(object.root),
        fragment_index: footer.index,
        fragment_root: hex::encode(footer.fragment_root),
        n_chunks: footer.chunks(),
        chunk_index: args.chunk,
        chunk: hex::encode(&proof.chunk),
        siblings: proof.siblings.iter().map(hex::encode).collect(),
    };
    let text = serde_json::to_string_pretty(&proof_file)? + "\n";
    match &args.out {
        Some(out) => {
            fsutil::write_atomic(out, text.as_bytes(), args.force)?;
            eprintln!(
                "proof of chunk {} of fragment {} written to {} ({} bytes encoded)",
                args.chunk,
                args.fragment,
                out.display(),
                proof.to_bytes().len()
            );
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads what `verify` needs: the proof file's bytes and the object, if a
/// manifest was given. An error here means the proof could not be checked at
/// all (exit 2), not that it is invalid.
fn verify_inputs(args: &VerifyArgs) -> Result<(Vec<u8>, Option<Object>)> {
    let bytes =
        fs::read(&args.proof).with_context(|| format!("cannot read {}", args.proof.display()))?;
    let object = args.manifest.as_deref().map(load_manifest).transpose()?;
    Ok((bytes, object))
}

/// Checks a proof file against what the verifier trusts: the object (or a
/// fragment root) and the challenged chunk. An error says why it is invalid.
fn judge(bytes: &[u8], object: Option<&Object>, args: &VerifyArgs) -> Result<ProofFile> {
    let file: ProofFile = serde_json::from_slice(bytes).context("not a proof file")?;
    let hash = |field: &str, text: &str| -> Result<[u8; 32]> {
        parse_hash(text).map_err(|e| anyhow!("field `{field}`: {e}"))
    };
    let root = hash("fragment_root", &file.fragment_root)?;
    let chunk = hex::decode(&file.chunk).map_err(|e| anyhow!("field `chunk`: not hex: {e}"))?;
    let siblings = file
        .siblings
        .iter()
        .enumerate()
        .map(|(i, s)| hash(&format!("siblings[{i}]"), s))
        .collect::<Result<Vec<_>>>()?;
    if let Some(challenged) = args.chunk {
        if challenged != file.chunk_index {
            bail!(
                "the proof is for chunk {}, the challenge named chunk {challenged}",
                file.chunk_index
            );
        }
    }
    if let Some(expected) = args.root {
        if expected != root {
            bail!(
                "the proof is for another fragment: its root is not {}",
                hex::encode(expected)
            );
        }
    }
    if let Some(object) = object {
        let index = file.fragment_index as usize;
        if hash("object_root", &file.object_root)? != object.root {
            bail!("the proof is for another object");
        }
        if object.fragment_roots.get(index) != Some(&root) {
            bail!("the proof is for another fragment than fragment {index} of this object");
        }
        if file.n_chunks != object.layout.chunks() {
            bail!(
                "the proof says {} chunks, the object's fragments have {}",
                file.n_chunks,
                object.layout.chunks()
            );
        }
    }
    check(
        &root,
        file.n_chunks,
        file.chunk_index,
        &Proof { chunk, siblings },
    )?;
    Ok(file)
}

fn verify_cmd(args: VerifyArgs) -> Result<ExitCode> {
    let (bytes, object) = match verify_inputs(&args) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let anchored = object.is_some() || args.root.is_some();
    match judge(&bytes, object.as_ref(), &args) {
        Ok(file) => {
            if args.json {
                output::json(&json!({
                    "valid": true,
                    "anchored": anchored,
                    "fragment_index": file.fragment_index,
                    "chunk_index": file.chunk_index,
                    "fragment_root": file.fragment_root,
                }));
            } else {
                println!(
                    "valid: chunk {} of fragment {} (root {})",
                    file.chunk_index, file.fragment_index, file.fragment_root
                );
                if !anchored {
                    eprintln!("note: checked against the root the proof file carries; pass --manifest DIR or --root HEX to check it is the root you expect");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            if args.json {
                output::json(&json!({"valid": false, "reason": format!("{reason:#}")}));
            } else {
                println!("invalid: {reason:#}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn inspect_cmd(args: InspectArgs) -> Result<ExitCode> {
    let object = load_manifest(&args.dir)?;
    let files = open_fragments(&args.dir, &object);
    let statuses: Vec<FragmentStatus> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| match f {
            None => FragmentStatus::Missing,
            Some(f) => match check_fragment(&object, i, f) {
                Ok(()) => FragmentStatus::Spare,
                Err(e) => FragmentStatus::Corrupt(e.to_string()),
            },
        })
        .collect();
    let layout = object.layout;
    let (k, m) = (layout.params.data(), layout.params.parity());
    let good = statuses.iter().filter(|s| s.is_good()).count();
    let key_path = default_key_path(&args.dir);
    if args.json {
        output::json(&json!({
            "object_root": hex::encode(object.root),
            "size": layout.size,
            "data_fragments": k,
            "parity_fragments": m,
            "shard_size": layout.params.shard_size(),
            "fragment_size": layout.fragment_size,
            "chunks": layout.chunks(),
            "good": good,
            "decodable": good >= k,
            "key_file": key_path.exists().then_some(&key_path),
            "fragments": status_json(&statuses, k, true),
        }));
    } else {
        println!("object   {}", hex::encode(object.root));
        println!(
            "size     {} ({} bytes)",
            output::bytes(layout.size),
            layout.size
        );
        println!(
            "coding   k={k} data + m={m} parity, {} stripe{} of {} shards",
            layout.stripes,
            if layout.stripes == 1 { "" } else { "s" },
            output::bytes(layout.params.shard_size().into())
        );
        println!(
            "fragment {} each, {} chunks of 1 KiB",
            output::bytes(layout.fragment_size),
            layout.chunks()
        );
        println!(
            "key      {}",
            if key_path.exists() {
                format!("{} (present)", key_path.display())
            } else {
                "not beside the directory".into()
            }
        );
        println!();
        println!("{:>5}  {:<6}  {:<18}  status", "index", "role", "file");
        for (i, status) in statuses.iter().enumerate() {
            let shown = match status {
                FragmentStatus::Spare | FragmentStatus::Used => "ok".to_string(),
                other => other.to_string(),
            };
            println!(
                "{i:>5}  {:<6}  {:<18}  {shown}",
                if i < k { "data" } else { "parity" },
                fragment_file(i)
            );
        }
        println!();
        if good >= k {
            println!(
                "decodable: yes ({good} of {} fragments good, {k} needed; {} more may be lost)",
                k + m,
                good - k
            );
        } else {
            println!(
                "decodable: NO ({good} of {} fragments good, {k} needed)",
                k + m
            );
        }
    }
    Ok(if good >= k {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
