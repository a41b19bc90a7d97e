//! Unit tests of the engine: a lock-step network in memory, real BLS.

use std::collections::VecDeque;

use super::*;
use crate::bls::SecretKey;
use crate::vote::ChainId;

fn secret(i: u32) -> SecretKey {
    let mut ikm = [7u8; 32];
    ikm[..4].copy_from_slice(&i.to_be_bytes());
    SecretKey::key_gen(&ikm, b"").unwrap()
}

fn config(powers: &[u64], me: u32, signatures: SignatureMode) -> Config {
    let validators = powers
        .iter()
        .zip(0u32..)
        .map(|(p, i)| (secret(i).public_key(), *p))
        .collect();
    Config {
        chain_id: ChainId::new("sherd-test").unwrap(),
        validators: Arc::new(ValidatorSet::new(1, validators).unwrap()),
        epoch_seed: [3; 32],
        me,
        anchor: Anchor {
            view: 0,
            height: 0,
            block_id: BlockId([0; 32]),
            beacon: [1; 32],
        },
        leader_timeout_ms: 200,
        advance_timeout_ms: 300,
        retry_ms: 500,
        max_views_ahead: 10,
        signatures,
        silent_leader_views: 3,
        last_height: None,
    }
}

fn engines(powers: &[u64], signatures: SignatureMode) -> Vec<Engine<MemoryJournal>> {
    (0..powers.len() as u32)
        .map(|i| {
            Engine::new(
                config(powers, i, signatures),
                secret(i),
                MemoryJournal::new(),
            )
            .unwrap()
        })
        .collect()
}

fn finalized(outputs: &[Output]) -> Vec<(u64, BlockId)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Finalized { block, .. } => Some((block.height, block.id())),
            _ => None,
        })
        .collect()
}

#[test]
fn single_validator_finalizes_every_view() {
    let mut engines = engines(&[5], SignatureMode::Verify);
    let out = run_until_view(&mut engines, vec![(0, Input::Start)], 12);
    let blocks = finalized(&out[0]);
    assert_eq!(blocks.len(), 12);
    for (expected, (height, _)) in (1u64..).zip(&blocks) {
        assert_eq!(*height, expected);
    }
    assert_ne!(engines[0].beacon(), [1; 32]);
}

#[test]
fn four_validators_agree_with_real_signatures() {
    let powers = [30, 10, 25, 35];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let inputs = (0..4).map(|i| (i, Input::Start)).collect();
    let out = run_until_view(&mut engines, inputs, 4);
    let chains: Vec<_> = out.iter().map(|o| finalized(o)).collect();
    assert!(chains[0].len() >= 2, "{chains:?}");
    for chain in &chains {
        let common = chain.len().min(chains[0].len());
        assert_eq!(chain[..common], chains[0][..common]);
    }
    let beacons: Vec<_> = engines
        .iter()
        .map(|e| (e.finalized(), e.beacon()))
        .collect();
    for (anchor, beacon) in &beacons {
        if anchor.height == beacons[0].0.height {
            assert_eq!(*beacon, beacons[0].1);
        }
    }
    assert!(out
        .iter()
        .flatten()
        .all(|o| !matches!(o, Output::Evidence(_))));
}

#[test]
fn each_vote_message_is_hashed_to_g2_once_per_engine() {
    // Per engine and view: the leader's reveal (signed by the leader,
    // checked by the others), the notarize and the finalize messages, each
    // hashed once for signing, the leader's vote, the tally and the
    // certificates: 3 per engine-view. Hashing them at every use took 5.6
    // (180 in this run).
    let powers = [1, 1, 1, 1];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let before = crate::bls::hash_count::get();
    let inputs = (0..4).map(|i| (i, Input::Start)).collect();
    run_until_view(&mut engines, inputs, 8);
    let hashed = crate::bls::hash_count::get() - before;
    let views: u64 = engines.iter().map(|e| e.view() - 1).sum();
    assert!(views >= 4 * 7, "{views} views");
    assert!(
        hashed <= 3 * views,
        "{hashed} messages hashed in {views} engine-views"
    );
}

/// Delivers every message at once and in order, answers the application
/// immediately, fires no timers; inputs for engines already past
/// `last_view` are dropped. Returns the outputs other than messages.
fn run_until_view(
    engines: &mut [Engine<MemoryJournal>],
    inputs: Vec<(u32, Input)>,
    last_view: View,
) -> Vec<Vec<Output>> {
    let mut all = vec![Vec::new(); engines.len()];
    let mut queue: VecDeque<(u32, Input)> = inputs.into();
    while let Some((node, input)) = queue.pop_front() {
        if engines[node as usize].view() > last_view {
            continue;
        }
        let outputs = engines[node as usize].handle(input);
        for output in outputs {
            match output {
                Output::Broadcast(message) => {
                    for to in 0..engines.len() as u32 {
                        if to != node {
                            queue.push_back((
                                to,
                                Input::Message {
                                    from: node,
                                    message: message.clone(),
                                },
                            ));
                        }
                    }
                }
                Output::Send { to, message } => queue.push_back((
                    to,
                    Input::Message {
                        from: node,
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
                Output::SetTimer { .. } => {}
                other => all[node as usize].push(other),
            }
        }
    }
    all
}

#[test]
fn proposal_from_a_non_leader_is_rejected() {
    let powers = [1, 1, 1, 1];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let view = 1;
    let leader = leader(&engines[0].config.validators, &[3; 32], view);
    let impostor = (leader + 1) % 4;
    let target = (leader + 2) % 4;
    let chain = ChainId::new("sherd-test").unwrap();
    let proposal = Proposal {
        epoch: 1,
        view,
        height: 1,
        parent_view: 0,
        parent: BlockId([0; 32]),
        payload: [9; 32],
        proposer: impostor,
        reveal: secret(impostor).sign(&beacon_message(&chain, 1, view)),
    };
    let notarize = SignedVote::sign(
        &chain,
        1,
        impostor,
        Vote::Notarize {
            view,
            block_id: proposal.id(),
        },
        &secret(impostor),
    );
    let out = engines[target as usize].handle(Input::Message {
        from: impostor,
        message: Message::Proposal { proposal, notarize },
    });
    assert_eq!(
        out,
        vec![Output::Rejected {
            from: impostor,
            error: EngineError::NotLeader {
                view,
                proposer: impostor,
                leader
            }
        }]
    );

    // The real leader with a reveal signed by someone else: rejected too.
    let forged = Proposal {
        proposer: leader,
        ..proposal
    };
    let notarize = SignedVote::sign(
        &chain,
        1,
        leader,
        Vote::Notarize {
            view,
            block_id: forged.id(),
        },
        &secret(leader),
    );
    let out = engines[target as usize].handle(Input::Message {
        from: leader,
        message: Message::Proposal {
            proposal: forged,
            notarize,
        },
    });
    assert_eq!(
        out,
        vec![Output::Rejected {
            from: leader,
            error: EngineError::InvalidReveal {
                view,
                proposer: leader
            }
        }]
    );
    // Nothing was stored: no verify request, no vote.
    assert_eq!(engines[target as usize].view(), 1);
}

#[test]
fn conflicting_votes_become_verifiable_evidence() {
    let powers = [1, 1, 1, 1];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let chain = ChainId::new("sherd-test").unwrap();
    let nullify = SignedVote::sign(&chain, 1, 2, Vote::Nullify { view: 1 }, &secret(2));
    let finalize = SignedVote::sign(
        &chain,
        1,
        2,
        Vote::Finalize {
            view: 1,
            block_id: BlockId([4; 32]),
        },
        &secret(2),
    );
    let out = engines[0].handle(Input::Message {
        from: 2,
        message: Message::Vote(nullify),
    });
    assert!(out.is_empty(), "{out:?}");
    let out = engines[0].handle(Input::Message {
        from: 2,
        message: Message::Vote(finalize),
    });
    let [Output::Evidence(evidence)] = out.as_slice() else {
        panic!("{out:?}");
    };
    evidence
        .verify_in(&chain, &engines[0].config.validators)
        .unwrap();
    assert_eq!(evidence.signer(), 2);
    // Reported once.
    let again = SignedVote::sign(
        &chain,
        1,
        2,
        Vote::Finalize {
            view: 1,
            block_id: BlockId([5; 32]),
        },
        &secret(2),
    );
    let out = engines[0].handle(Input::Message {
        from: 2,
        message: Message::Vote(again),
    });
    assert!(out.iter().all(|o| !matches!(o, Output::Evidence(_))));

    // A forged "conflicting" vote (bad signature) is no evidence.
    let forged = SignedVote {
        vote: Vote::Finalize {
            view: 1,
            block_id: BlockId([4; 32]),
        },
        ..SignedVote::sign(&chain, 1, 3, Vote::Nullify { view: 2 }, &secret(3))
    };
    engines[0].handle(Input::Message {
        from: 3,
        message: Message::Vote(SignedVote::sign(
            &chain,
            1,
            3,
            Vote::Nullify { view: 1 },
            &secret(3),
        )),
    });
    let out = engines[0].handle(Input::Message {
        from: 3,
        message: Message::Vote(forged),
    });
    assert_eq!(
        out,
        vec![Output::Rejected {
            from: 3,
            error: EngineError::Vote(VoteError::InvalidSignature { signer: 3 })
        }]
    );
}

/// A journal that refuses writes: nothing is sent.
#[derive(Debug, Default)]
struct BrokenJournal;

impl Journal for BrokenJournal {
    fn append(&mut self, _: &Entry) -> Result<(), JournalError> {
        Err(JournalError {
            reason: "disk full".into(),
        })
    }
    fn entries(&self) -> Vec<Entry> {
        Vec::new()
    }
}

#[test]
fn votes_are_journaled_before_sending_and_restarts_keep_them() {
    let powers = [1, 1, 1, 1];
    let mut engine = Engine::new(
        config(&powers, 0, SignatureMode::Trusted),
        secret(0),
        MemoryJournal::new(),
    )
    .unwrap();
    engine.handle(Input::Start);
    let out = engine.handle(Input::Timeout {
        view: 1,
        kind: TimerKind::Leader,
    });
    let sent: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Vote(v)) => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(engine.journal().votes(), sent);

    // Restart from the journal: the engine is in view 1, has nullified it,
    // re-sends the nullify on start and never finalizes view 1.
    let journal = engine.into_journal();
    let mut restarted = Engine::new(
        config(&powers, 0, SignatureMode::Trusted),
        secret(0),
        journal,
    )
    .unwrap();
    assert_eq!(restarted.view(), 1);
    let out = restarted.handle(Input::Start);
    assert!(out.contains(&Output::Broadcast(Message::Vote(sent[0]))));
    // A notarization of view 1 arrives: it moves on but must not finalize.
    let block = Proposal {
        epoch: 1,
        view: 1,
        height: 1,
        parent_view: 0,
        parent: BlockId([0; 32]),
        payload: [1; 32],
        proposer: leader(&restarted.config.validators, &[3; 32], 1),
        reveal: placeholder_signature(),
    };
    let mut signers = crate::SignerBitmap::new(4);
    for i in 1..4 {
        signers.insert(i).unwrap();
    }
    let certificate = Certificate {
        epoch: 1,
        vote: Vote::Notarize {
            view: 1,
            block_id: block.id(),
        },
        signers,
        signature: placeholder_signature(),
    };
    let out = restarted.handle(Input::Message {
        from: 1,
        message: Message::Notarization {
            proposal: block,
            certificate: certificate.clone(),
        },
    });
    assert_eq!(restarted.view(), 2);
    assert!(out.iter().all(|o| !matches!(
        o,
        Output::Broadcast(Message::Vote(SignedVote {
            vote: Vote::Finalize { .. },
            ..
        }))
    )));
    assert_eq!(restarted.journal().votes().len(), 1);

    // The certificate that moved it on is journaled too: a second restart
    // starts in view 2 and hands that certificate to whoever is still in view 1.
    let mut again = Engine::new(
        config(&powers, 0, SignatureMode::Trusted),
        secret(0),
        restarted.into_journal(),
    )
    .unwrap();
    assert_eq!(again.view(), 2);
    let out = again.handle(Input::Start);
    assert!(out.contains(&Output::Broadcast(Message::Notarization {
        proposal: block,
        certificate: certificate.clone(),
    })));

    // A journal that fails: the vote is not sent.
    let mut broken = Engine::new(
        config(&powers, 0, SignatureMode::Trusted),
        secret(0),
        BrokenJournal,
    )
    .unwrap();
    broken.handle(Input::Start);
    let out = broken.handle(Input::Timeout {
        view: 1,
        kind: TimerKind::Leader,
    });
    assert!(out
        .iter()
        .all(|o| !matches!(o, Output::Broadcast(Message::Vote(_)))));
    assert!(matches!(
        out.as_slice(),
        [Output::Rejected {
            error: EngineError::Journal(_),
            ..
        }]
    ));
}

#[test]
fn engine_refuses_a_wrong_key_or_foreign_journal() {
    let powers = [1, 1];
    assert_eq!(
        Engine::new(
            config(&powers, 0, SignatureMode::Verify),
            secret(1),
            MemoryJournal::new()
        )
        .unwrap_err(),
        EngineError::KeyMismatch { me: 0 }
    );
    assert_eq!(
        Engine::new(
            config(&powers, 2, SignatureMode::Verify),
            secret(2),
            MemoryJournal::new()
        )
        .unwrap_err(),
        EngineError::NotAValidator {
            me: 2,
            validators: 2
        }
    );
    let mut journal = MemoryJournal::new();
    journal
        .append(&Entry::Vote(SignedVote {
            epoch: 1,
            signer: 1,
            vote: Vote::Nullify { view: 3 },
            signature: placeholder_signature().into(),
        }))
        .unwrap();
    assert_eq!(
        Engine::new(
            config(&powers, 0, SignatureMode::Verify),
            secret(0),
            journal
        )
        .unwrap_err(),
        EngineError::ForeignJournal {
            epoch: 1,
            signer: 1
        }
    );
}

#[test]
fn finalized_blocks_check_from_their_certificates_alone() {
    use crate::sync::{verify_chain, verify_finalized, SyncError};
    let powers = [30, 10, 25, 35];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let inputs = (0..4).map(|i| (i, Input::Start)).collect();
    let out = run_until_view(&mut engines, inputs, 5);
    let chain = ChainId::new("sherd-test").unwrap();
    let validators = engines[0].config.validators.clone();
    let finalized: Vec<(Proposal, Certificate)> = out[0]
        .iter()
        .filter_map(|o| match o {
            Output::Finalized {
                block, certificate, ..
            } => Some((*block, certificate.clone())),
            _ => None,
        })
        .collect();
    assert!(finalized.len() >= 3, "{}", finalized.len());
    let mut checked_directly = 0;
    for (i, (block, certificate)) in finalized.iter().enumerate() {
        if certificate.block_id() == Some(block.id()) {
            verify_finalized(&chain, &validators, block, certificate).unwrap();
            let headers: Vec<_> = finalized[..=i].iter().map(|(b, _)| *b).collect();
            verify_chain(&chain, &validators, &headers, certificate).unwrap();
            checked_directly += 1;
        }
    }
    assert!(checked_directly >= 1);

    // A certificate does not prove another block, nor a notarization finality.
    let (block, certificate) = finalized
        .iter()
        .find(|(b, c)| c.block_id() == Some(b.id()))
        .unwrap();
    let other = Proposal {
        payload: [0xee; 32],
        ..*block
    };
    assert_eq!(
        verify_finalized(&chain, &validators, &other, certificate),
        Err(SyncError::WrongBlock { view: block.view })
    );
    let mut as_notarization = certificate.clone();
    as_notarization.vote = Vote::Notarize {
        view: block.view,
        block_id: block.id(),
    };
    assert_eq!(
        verify_finalized(&chain, &validators, block, &as_notarization),
        Err(SyncError::NotAFinalization {
            found: VoteKind::Notarize
        })
    );
    // A header whose reveal was swapped does not pass.
    let swapped = Proposal {
        reveal: finalized[0].0.reveal,
        ..*block
    };
    if swapped.reveal != block.reveal {
        assert_eq!(
            verify_finalized(&chain, &validators, &swapped, certificate),
            Err(SyncError::InvalidReveal { view: block.view })
        );
    }
    // Headers that do not link.
    let broken = vec![other, *block];
    assert!(matches!(
        verify_chain(&chain, &validators, &broken, certificate),
        Err(SyncError::Broken { .. })
    ));
}

#[test]
fn a_silent_leader_gets_no_leader_timer() {
    let powers = [1, 1, 1, 1];
    let mut engine = Engine::new(
        config(&powers, 0, SignatureMode::Trusted),
        secret(0),
        MemoryJournal::new(),
    )
    .unwrap();
    engine.handle(Input::Start);
    let validators = engine.config.validators.clone();
    let nullification = |view| {
        let mut signers = crate::SignerBitmap::new(4);
        for i in 1..4 {
            signers.insert(i).unwrap();
        }
        Certificate {
            epoch: 1,
            vote: Vote::Nullify { view },
            signers,
            signature: placeholder_signature(),
        }
    };
    // Views end by nullification, no proposal ever arrives: every leader
    // becomes "silent" after 3 of its views.
    let mut missed = [0u32; 4];
    let mut skips = 0;
    for view in 1..60 {
        let out = engine.handle(Input::Message {
            from: 1,
            message: Message::Nullification(nullification(view)),
        });
        assert_eq!(engine.view(), view + 1);
        missed[leader(&validators, &[3; 32], view) as usize] += 1;
        let next_leader = leader(&validators, &[3; 32], view + 1);
        let expect_skip = next_leader != 0 && missed[next_leader as usize] >= 3;
        let nullified = out.iter().any(|o| {
            matches!(o, Output::Broadcast(Message::Vote(SignedVote {
                vote: Vote::Nullify { view: v },
                ..
            })) if *v == view + 1)
        });
        let leader_timer = out.iter().any(|o| {
            matches!(
                o,
                Output::SetTimer {
                    kind: TimerKind::Leader,
                    ..
                }
            )
        });
        assert_eq!(nullified, expect_skip, "view {}", view + 1);
        assert_eq!(leader_timer, !expect_skip, "view {}", view + 1);
        skips += usize::from(expect_skip);
    }
    assert!(skips > 10, "{skips}");
}

#[test]
fn an_invalid_payload_is_not_notarized() {
    let powers = [1, 1, 1, 1];
    let view = 1;
    let leader_index = {
        let c = config(&powers, 0, SignatureMode::Trusted);
        leader(&c.validators, &c.epoch_seed, view)
    };
    let me = (leader_index + 1) % 4;
    let mut engine = Engine::new(
        config(&powers, me, SignatureMode::Trusted),
        secret(me),
        MemoryJournal::new(),
    )
    .unwrap();
    engine.handle(Input::Start);
    let proposal = Proposal {
        epoch: 1,
        view,
        height: 1,
        parent_view: 0,
        parent: BlockId([0; 32]),
        payload: [9; 32],
        proposer: leader_index,
        reveal: placeholder_signature(),
    };
    let notarize = SignedVote {
        epoch: 1,
        signer: leader_index,
        vote: Vote::Notarize {
            view,
            block_id: proposal.id(),
        },
        signature: placeholder_signature().into(),
    };
    let out = engine.handle(Input::Message {
        from: leader_index,
        message: Message::Proposal { proposal, notarize },
    });
    assert_eq!(out, vec![Output::Verify(proposal)]);
    let out = engine.handle(Input::Verified {
        block_id: proposal.id(),
        valid: false,
    });
    assert!(out.is_empty(), "{out:?}");
    // The leader timer then nullifies the view.
    let out = engine.handle(Input::Timeout {
        view,
        kind: TimerKind::Leader,
    });
    assert!(matches!(
        out.as_slice(),
        [Output::Broadcast(Message::Vote(SignedVote {
            vote: Vote::Nullify { view: 1 },
            ..
        }))]
    ));
    // A valid verdict arriving late changes nothing: no notarize after nullify.
    let out = engine.handle(Input::Verified {
        block_id: proposal.id(),
        valid: true,
    });
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(engine.journal().votes().len(), 1);
}

/// Bad input, each rejected with its typed error and no vote or view change.
#[test]
fn bad_input_is_rejected_with_typed_errors() {
    let powers = [30, 10, 25, 35];
    let mut engine = Engine::new(
        config(&powers, 0, SignatureMode::Verify),
        secret(0),
        MemoryJournal::new(),
    )
    .unwrap();
    engine.handle(Input::Start);
    let chain = ChainId::new("sherd-test").unwrap();
    let nullify = |signer: u32, epoch| {
        SignedVote::sign(
            &chain,
            epoch,
            signer,
            Vote::Nullify { view: 1 },
            &secret(signer),
        )
    };
    let certificate = |signers: &[u32]| {
        let vote = Vote::Nullify { view: 1 };
        let message = vote.signing_message(&chain, 1);
        let mut bitmap = crate::SignerBitmap::new(4);
        let mut signature = crate::bls::AggregateSignature::new();
        for &i in signers {
            bitmap.insert(i).unwrap();
            signature.add(&secret(i).sign(&message));
        }
        Certificate {
            epoch: 1,
            vote,
            signers: bitmap,
            signature: signature.to_signature(),
        }
    };
    let cases: Vec<(Message, EngineError)> = vec![
        (
            Message::Vote(nullify(2, 0)),
            EngineError::WrongEpoch {
                expected: 1,
                found: 0,
            },
        ),
        (
            Message::Vote(SignedVote {
                signer: 7,
                ..nullify(2, 1)
            }),
            EngineError::Vote(VoteError::SignerOutOfRange {
                signer: 7,
                validators: 4,
            }),
        ),
        (
            Message::Vote(SignedVote {
                vote: Vote::Nullify { view: 99 },
                ..nullify(2, 1)
            }),
            EngineError::ViewOutOfRange {
                view: 99,
                low: 1,
                high: 11,
            },
        ),
        (
            // 10 + 25 of 100: no quorum.
            Message::Nullification(certificate(&[1, 2])),
            EngineError::Certificate(CertificateError::NoQuorum {
                power: 35,
                quorum: 67,
                total: 100,
            }),
        ),
        (
            // A quorum bitmap over a signature by fewer validators.
            Message::Nullification(Certificate {
                signers: certificate(&[0, 2, 3]).signers,
                ..certificate(&[0, 2])
            }),
            EngineError::Certificate(CertificateError::InvalidSignature {
                signers: 3,
                source: crate::bls::BlsError::InvalidSignature,
            }),
        ),
    ];
    for (message, error) in cases {
        let out = engine.handle(Input::Message { from: 2, message });
        assert_eq!(out, vec![Output::Rejected { from: 2, error }]);
    }
    assert_eq!(engine.view(), 1);
    assert!(engine.journal().votes().is_empty());
    // And the real thing moves the engine on.
    let out = engine.handle(Input::Message {
        from: 2,
        message: Message::Nullification(certificate(&[0, 2, 3])),
    });
    assert_eq!(engine.view(), 2);
    assert!(
        out.contains(&Output::Broadcast(Message::Nullification(certificate(&[
            0, 2, 3
        ]))))
    );
}

/// While finalization stalls, per-view vote state is kept only within the
/// vote window around the current view, and an equivocating voter cannot
/// open more than one tally per view and kind.
#[test]
fn vote_state_is_bounded_while_finalization_stalls() {
    let powers = [1, 1, 1, 1];
    // No timers fire here; without silent-leader skipping the engine casts
    // no vote of its own, so every tally below is a peer's.
    let config = Config {
        silent_leader_views: 0,
        ..config(&powers, 0, SignatureMode::Trusted)
    };
    let window = config.max_views_ahead;
    let mut engine = Engine::new(config, secret(0), MemoryJournal::new()).unwrap();
    engine.handle(Input::Start);
    let vote = |signer: u32, vote: Vote| {
        Message::Vote(SignedVote {
            epoch: 1,
            signer,
            vote,
            signature: placeholder_signature().into(),
        })
    };
    let views = 100u64;
    for view in 1..=views {
        assert_eq!(engine.view(), view);
        // Signer 3 equivocates on many blocks: one tally, one piece of evidence.
        let mut evidence = 0;
        for block in 0..50u8 {
            let block_id = BlockId([block; 32]);
            let out = engine.handle(Input::Message {
                from: 3,
                message: vote(3, Vote::Notarize { view, block_id }),
            });
            evidence += out
                .iter()
                .filter(|o| matches!(o, Output::Evidence(_)))
                .count();
        }
        assert_eq!(evidence, 1, "view {view}");
        assert_eq!(engine.tallies(view), 1, "view {view}");
        // Three of four nullify: the view is nullified, nothing is final.
        for signer in 1..=3 {
            engine.handle(Input::Message {
                from: signer,
                message: vote(signer, Vote::Nullify { view }),
            });
        }
    }
    assert_eq!(engine.view(), views + 1);
    assert_eq!(engine.finalized().view, 0);
    // Only the window below the current view still holds vote state.
    let low = engine.view() - window;
    let with_votes = engine.views_with_votes();
    assert!(!with_votes.is_empty());
    assert!(
        with_votes.iter().all(|&v| v >= low),
        "views with vote state: {with_votes:?}, window starts at {low}"
    );
    // The old views keep their certificates: the engine can still hand
    // them out.
    let out = engine.handle(Input::Message {
        from: 1,
        message: Message::Fetch { view: 5 },
    });
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send {
            message: Message::Nullification(_),
            ..
        }
    )));
    // Votes behind the window are rejected and open nothing.
    let out = engine.handle(Input::Message {
        from: 2,
        message: vote(
            2,
            Vote::Finalize {
                view: 5,
                block_id: BlockId([1; 32]),
            },
        ),
    });
    assert_eq!(
        out,
        vec![Output::Rejected {
            from: 2,
            error: EngineError::ViewOutOfRange {
                view: 5,
                low,
                high: engine.view() + window,
            },
        }]
    );
    assert_eq!(engine.tallies(5), 0);
}

/// A node outside the set follows the chain: same finalized blocks, no
/// vote, no proposal, no payload verdict asked.
#[test]
fn a_follower_tracks_finality_without_voting() {
    let powers = [30, 10, 25, 35];
    let mut engines = engines(&powers, SignatureMode::Verify);
    let follower = Engine::follower(
        config(&powers, 0, SignatureMode::Verify),
        MemoryJournal::new(),
    )
    .unwrap();
    assert_eq!(follower.signer(), None);
    assert!((1..50).all(|v| !follower.is_leader(v)));
    engines.push(follower);
    let inputs = (0..5).map(|i| (i, Input::Start)).collect();
    let out = run_until_view(&mut engines, inputs, 4);
    let validator = finalized(&out[0]);
    let following = finalized(&out[4]);
    assert!(following.len() >= 2, "{following:?}");
    let common = following.len().min(validator.len());
    assert_eq!(following[..common], validator[..common]);
    assert_eq!(engines[4].beacon(), {
        let same_height = engines
            .iter()
            .find(|e| e.finalized().height == engines[4].finalized().height)
            .unwrap();
        same_height.beacon()
    });
    // Every vote is journaled before it is sent: none was.
    assert!(engines[4].journal().votes().is_empty());
    assert!(engines[4]
        .views
        .values()
        .all(|s| !s.verify_requested && !s.build_requested && s.my_votes.is_empty()));

    // A follower's journal holds no votes of its epoch.
    let mut journal = MemoryJournal::new();
    journal
        .append(&Entry::Vote(engines[0].journal().votes()[0]))
        .unwrap();
    assert!(matches!(
        Engine::follower(config(&powers, 0, SignatureMode::Verify), journal),
        Err(EngineError::ForeignJournal { .. })
    ));
}

/// A validator whose key is not in the next epoch's set follows it.
#[test]
fn a_validator_leaving_the_set_becomes_a_follower() {
    let config = Config {
        last_height: Some(2),
        ..config(&[5], 0, SignatureMode::Trusted)
    };
    let mut engines = vec![Engine::new(config, secret(0), MemoryJournal::new()).unwrap()];
    let out = run_until_view(&mut engines, vec![(0, Input::Start)], 20);
    assert!(out[0]
        .iter()
        .any(|o| matches!(o, Output::EpochEnded { epoch: 1, .. })));
    let engine = engines.pop().unwrap();
    let next = Arc::new(ValidatorSet::new(2, vec![(secret(1).public_key(), 1)]).unwrap());
    let follower = engine.next_epoch(next, [4; 32], None).unwrap();
    assert_eq!(follower.epoch(), 2);
    assert_eq!(follower.signer(), None);
    assert_eq!(follower.finalized().height, 2);
}
