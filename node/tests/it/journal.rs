//! The consensus journal on parity-db: what the engine appends comes back,
//! in order, after a reopen; a restarted engine refuses to vote twice; old
//! epochs are pruned.

use std::sync::Arc;

use sherd_consensus::bls::SecretKey;
use sherd_consensus::engine::{Anchor, Config, Entry, Input, Output, SignatureMode};
use sherd_consensus::{BlockId, ChainId, Engine, Journal, ValidatorSet};
use sherd_node::journal::DbJournal;
use sherd_node::store::NodeDb;

fn key() -> SecretKey {
    SecretKey::key_gen(&[42; 32], b"").unwrap()
}

fn config(epoch: u64) -> Config {
    Config {
        chain_id: ChainId::new("sherd-test").unwrap(),
        validators: Arc::new(ValidatorSet::new(epoch, vec![(key().public_key(), 10)]).unwrap()),
        epoch_seed: [3; 32],
        me: 0,
        anchor: Anchor {
            view: 0,
            height: 0,
            block_id: BlockId([0; 32]),
            beacon: [1; 32],
        },
        leader_timeout_ms: 1_000,
        advance_timeout_ms: 2_000,
        retry_ms: 1_000,
        max_views_ahead: 10,
        signatures: SignatureMode::Verify,
        silent_leader_views: 3,
        last_height: None,
    }
}

/// Drives a single-validator engine through `views` blocks.
fn run(engine: &mut Engine<DbJournal>, views: usize) -> usize {
    let mut finalized = 0;
    let mut inputs = vec![Input::Start];
    while let Some(input) = inputs.pop() {
        for output in engine.handle(input) {
            match output {
                Output::Build { view, parent, .. } if finalized < views => {
                    inputs.push(Input::Built {
                        view,
                        parent,
                        payload: [view as u8; 32],
                    });
                }
                Output::Finalized { .. } => finalized += 1,
                _ => {}
            }
        }
    }
    finalized
}

#[test]
fn journal_survives_reopen_and_prunes_old_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let entries = {
        let db = Arc::new(NodeDb::open(dir.path()).unwrap());
        let journal = DbJournal::load(db).unwrap();
        assert!(journal.is_empty());
        let mut engine = Engine::new(config(1), key(), journal).unwrap();
        assert_eq!(run(&mut engine, 3), 3);
        let entries = engine.journal().entries();
        // Per block: notarize, finalize, and their certificates.
        assert!(entries.len() >= 6, "{}", entries.len());
        assert!(entries.iter().any(|e| matches!(e, Entry::Vote(_))));
        assert!(entries
            .iter()
            .any(|e| matches!(e, Entry::Certificate { .. })));
        entries
    };
    let db = Arc::new(NodeDb::open(dir.path()).unwrap());
    let journal = DbJournal::load(db.clone()).unwrap();
    assert_eq!(journal.entries(), entries);

    // A restarted engine starts after the journaled views.
    let engine = Engine::new(config(1), key(), journal.clone()).unwrap();
    assert!(engine.view() >= 3, "view {}", engine.view());

    // Entries of epochs before 2 go, in one commit with whatever else.
    let ops = journal.prune_before(2);
    assert_eq!(ops.len(), entries.len());
    db.commit(ops).unwrap();
    assert!(journal.is_empty());
    assert!(DbJournal::load(db).unwrap().is_empty());
}
