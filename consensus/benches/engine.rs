//! Engine benchmarks of sherd-consensus: CPU time per view.
//!
//! `cargo bench -p sherd-consensus --bench engine -- --warm-up-time 1 --measurement-time 3`
//!
//! N engines in one thread exchange every message at once (no loss, no
//! timers, the application answers immediately) until each has moved past
//! a number of views; the figure is the CPU time of all N engines per view,
//! so `views/s` is how many views per second one core could drive for the
//! whole network. `crypto=bls` signs and verifies everything,
//! `crypto=none` runs with placeholder signatures
//! (`SignatureMode::Trusted`): the difference is the cost of BLS.

use std::collections::VecDeque;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sherd_consensus::bls::SecretKey;
use sherd_consensus::engine::{
    Anchor, Config, Engine, Input, MemoryJournal, Output, SignatureMode,
};
use sherd_consensus::{BlockId, ChainId, ValidatorSet};

fn secret_key(i: usize) -> SecretKey {
    let mut ikm = [0x5a; 32];
    ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::key_gen(&ikm, b"bench").unwrap()
}

fn engines(n: usize, signatures: SignatureMode) -> Vec<Engine<MemoryJournal>> {
    let validators = Arc::new(
        ValidatorSet::new(
            0,
            (0..n)
                .map(|i| (secret_key(i).public_key(), 1 + i as u64 % 7))
                .collect(),
        )
        .unwrap(),
    );
    (0..n)
        .map(|i| {
            let config = Config {
                chain_id: ChainId::new("sherd-bench").unwrap(),
                validators: validators.clone(),
                epoch_seed: [1; 32],
                me: i as u32,
                anchor: Anchor {
                    view: 0,
                    height: 0,
                    block_id: BlockId([0; 32]),
                    beacon: [0; 32],
                },
                leader_timeout_ms: 200,
                advance_timeout_ms: 300,
                retry_ms: 500,
                max_views_ahead: 10,
                signatures,
                silent_leader_views: 3,
                last_height: None,
            };
            Engine::new(config, secret_key(i), MemoryJournal::new()).unwrap()
        })
        .collect()
}

/// Runs `engines` in lock step until every one is past `views` views.
fn run(engines: &mut [Engine<MemoryJournal>], views: u64) {
    let mut queue: VecDeque<(usize, Input)> =
        (0..engines.len()).map(|i| (i, Input::Start)).collect();
    while let Some((node, input)) = queue.pop_front() {
        if engines[node].view() > views {
            continue;
        }
        for output in engines[node].handle(input) {
            match output {
                Output::Broadcast(message) => {
                    for to in (0..engines.len()).filter(|&to| to != node) {
                        queue.push_back((
                            to,
                            Input::Message {
                                from: node as u32,
                                message: message.clone(),
                            },
                        ));
                    }
                }
                Output::Send { to, message } => queue.push_back((
                    to as usize,
                    Input::Message {
                        from: node as u32,
                        message,
                    },
                )),
                Output::Build { view, parent, .. } => queue.push_back((
                    node,
                    Input::Built {
                        view,
                        parent,
                        payload: [view as u8; 32],
                    },
                )),
                Output::Verify(proposal) => queue.push_back((
                    node,
                    Input::Verified {
                        block_id: proposal.id(),
                        valid: true,
                    },
                )),
                _ => {}
            }
        }
    }
}

fn views(c: &mut Criterion) {
    let mut group = c.benchmark_group("consensus::engine/views");
    group.sample_size(10);
    for (n, signatures, views) in [
        (4, SignatureMode::Trusted, 50),
        (4, SignatureMode::Verify, 5),
        (100, SignatureMode::Trusted, 5),
        (100, SignatureMode::Verify, 1),
    ] {
        let crypto = match signatures {
            SignatureMode::Trusted => "none",
            SignatureMode::Verify => "bls",
        };
        group.throughput(Throughput::Elements(views));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("n={n},crypto={crypto}")),
            &n,
            |b, &n| {
                b.iter_batched(
                    || engines(n, signatures),
                    |mut engines| run(&mut engines, views),
                    criterion::BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, views);
criterion_main!(benches);
