//! The parity-db store: the `StateStore` contract, atomic commits across
//! columns, and everything surviving a reopen.

use sherd_ledger::{ChangeSet, MemoryStore, StateStore};
use sherd_node::store::{col, Layered, NodeDb};

fn entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for prefix in [1u8, 2, 3] {
        for i in 0u8..20 {
            out.push((vec![prefix, i, 0xff], vec![prefix, i]));
        }
    }
    out.push((vec![2], b"bare prefix".to_vec()));
    out.push((vec![2, 0xff, 0xff, 0xff], b"last".to_vec()));
    out
}

#[test]
fn state_store_matches_memory_store_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut memory = MemoryStore::new();
    {
        let db = NodeDb::open(dir.path()).unwrap();
        let mut state = db.state();
        for (k, v) in entries() {
            state.put(&k, &v).unwrap();
            memory.put(&k, &v).unwrap();
        }
        state.delete(&[1, 5, 0xff]).unwrap();
        memory.delete(&[1, 5, 0xff]).unwrap();
        state.delete(b"missing").unwrap();
        let changes = ChangeSet::from([
            (vec![3, 1, 0xff], None),
            (vec![3, 1, 0x00], Some(b"new".to_vec())),
            (vec![4], Some(b"four".to_vec())),
        ]);
        state.commit(changes.clone()).unwrap();
        memory.commit(changes).unwrap();
        for prefix in [&[][..], &[1], &[2], &[2, 0xff], &[3, 1], &[9]] {
            assert_eq!(
                state.scan_prefix(prefix).unwrap(),
                memory.scan_prefix(prefix).unwrap(),
                "prefix {prefix:?}"
            );
        }
    }
    let db = NodeDb::open(dir.path()).unwrap();
    let state = db.state();
    for (k, v) in memory.iter() {
        assert_eq!(state.get(k).unwrap().as_deref(), Some(v));
    }
    assert_eq!(state.get(&[1, 5, 0xff]).unwrap(), None);
    assert_eq!(
        state.scan_prefix(&[]).unwrap(),
        memory.scan_prefix(&[]).unwrap()
    );
}

#[test]
fn one_commit_spans_columns_and_is_durable_on_return() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = NodeDb::open(dir.path()).unwrap();
        let mut ops = Vec::new();
        for i in 0u32..2_000 {
            ops.push((col::STATE, i.to_be_bytes().to_vec(), Some(vec![1; 100])));
            ops.push((col::TXS, i.to_le_bytes().to_vec(), Some(vec![2; 40])));
        }
        ops.push((col::META, b"head".to_vec(), Some(b"h".to_vec())));
        db.commit(ops).unwrap();
        // Visible at once, to every reader.
        assert_eq!(db.get(col::META, b"head").unwrap(), Some(b"h".to_vec()));
        assert_eq!(db.scan(col::STATE, &[], usize::MAX).unwrap().len(), 2_000);
        assert_eq!(db.scan(col::STATE, &[0, 0], 10).unwrap().len(), 10);
        db.commit(vec![(col::META, b"head".to_vec(), None)])
            .unwrap();
        assert_eq!(db.get(col::META, b"head").unwrap(), None);
    }
    let db = NodeDb::open(dir.path()).unwrap();
    assert_eq!(db.get(col::META, b"head").unwrap(), None);
    for i in (0u32..2_000).step_by(97) {
        assert_eq!(
            db.get(col::TXS, &i.to_le_bytes()).unwrap(),
            Some(vec![2; 40])
        );
        assert_eq!(
            db.get(col::STATE, &i.to_be_bytes()).unwrap(),
            Some(vec![1; 100])
        );
    }
}

#[test]
fn many_small_commits_grow_the_hash_index() {
    // Enough entries to make parity-db reindex its hash index, driven by
    // the synchronous pipeline.
    let dir = tempfile::tempdir().unwrap();
    let db = NodeDb::open(dir.path()).unwrap();
    for batch in 0u32..40 {
        let ops = (0u32..500)
            .map(|i| {
                let key = (batch * 500 + i).to_le_bytes().to_vec();
                (col::TXS, key, Some(vec![7; 16]))
            })
            .collect();
        db.commit(ops).unwrap();
    }
    for n in (0u32..20_000).step_by(331) {
        assert_eq!(
            db.get(col::TXS, &n.to_le_bytes()).unwrap(),
            Some(vec![7; 16])
        );
    }
}

#[test]
fn layered_view_puts_pending_writes_over_the_base() {
    let mut base = MemoryStore::new();
    base.put(&[1, 1], b"a").unwrap();
    base.put(&[1, 2], b"b").unwrap();
    base.put(&[2, 1], b"c").unwrap();
    let first = ChangeSet::from([(vec![1, 2], None), (vec![1, 3], Some(b"d".to_vec()))]);
    let second = ChangeSet::from([
        (vec![1, 3], Some(b"e".to_vec())),
        (vec![1, 2], Some(b"f".to_vec())),
    ]);
    let layered = Layered::new(&base, vec![&first, &second]);
    assert_eq!(layered.get(&[1, 3]).unwrap(), Some(b"e".to_vec()));
    assert_eq!(layered.get(&[2, 1]).unwrap(), Some(b"c".to_vec()));
    assert_eq!(
        layered.scan_prefix(&[1]).unwrap(),
        vec![
            (vec![1, 1], b"a".to_vec()),
            (vec![1, 2], b"f".to_vec()),
            (vec![1, 3], b"e".to_vec()),
        ]
    );
    let only_first = Layered::new(&base, vec![&first]);
    assert_eq!(only_first.get(&[1, 2]).unwrap(), None);
    assert_eq!(only_first.scan_prefix(&[1]).unwrap().len(), 2);
}

#[test]
fn genesis_writes_into_the_database_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let home = sherd_node::dev::DevHome::open_or_init(dir.path()).unwrap();
    let db = NodeDb::open(&home.db_path()).unwrap();
    let mut state = db.state();
    let written = home.genesis.write(&mut state).unwrap();
    let audit = sherd_ledger::audit(&state).unwrap();
    assert!(audit.balanced(), "{audit:?}");
    // The same genesis on a memory store gives the same root.
    let mut memory = MemoryStore::new();
    assert_eq!(
        home.genesis.write(&mut memory).unwrap().state_root,
        written.state_root
    );
    // A second start reads the same keys back.
    let again = sherd_node::dev::DevHome::open_or_init(dir.path()).unwrap();
    assert_eq!(again.genesis, home.genesis);
    assert_eq!(again.faucet.to_bytes(), home.faucet.to_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["validator.key", "validator.bls", "faucet.key"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}

#[test]
fn staged_writes_are_seen_at_once_and_made_durable_by_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = NodeDb::open(dir.path()).unwrap();
        db.stage(vec![(col::JOURNAL, vec![1], Some(b"staged".to_vec()))]);
        assert_eq!(
            db.get(col::JOURNAL, &[1]).unwrap(),
            Some(b"staged".to_vec())
        );
        // A later staged write of the same key wins, a delete included.
        db.stage(vec![(col::JOURNAL, vec![2], Some(b"first".to_vec()))]);
        db.stage(vec![(col::JOURNAL, vec![2], None)]);
        assert_eq!(db.get(col::JOURNAL, &[2]).unwrap(), None);
        db.commit(vec![(col::META, b"with".to_vec(), Some(b"it".to_vec()))])
            .unwrap();
        assert_eq!(
            db.scan(col::JOURNAL, &[], usize::MAX).unwrap(),
            vec![(vec![1], b"staged".to_vec())]
        );
    }
    let db = NodeDb::open(dir.path()).unwrap();
    assert_eq!(
        db.get(col::JOURNAL, &[1]).unwrap(),
        Some(b"staged".to_vec())
    );
    assert_eq!(db.get(col::META, b"with").unwrap(), Some(b"it".to_vec()));
}

#[test]
fn cached_state_reads_follow_every_commit_and_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let key = b"account".to_vec();
    {
        let db = NodeDb::open(dir.path()).unwrap();
        assert_eq!(db.get(col::STATE, &key).unwrap(), None); // cached as absent
        for i in 0u32..300 {
            db.commit(vec![(
                col::STATE,
                key.clone(),
                Some(i.to_le_bytes().to_vec()),
            )])
            .unwrap();
            assert_eq!(
                db.get(col::STATE, &key).unwrap(),
                Some(i.to_le_bytes().to_vec())
            );
        }
        db.commit(vec![(col::STATE, key.clone(), None)]).unwrap();
        assert_eq!(db.get(col::STATE, &key).unwrap(), None);
        db.commit(vec![(col::STATE, key.clone(), Some(b"last".to_vec()))])
            .unwrap();
    }
    // Reopened: the tables (the flusher applied the log) say the same.
    let db = NodeDb::open(dir.path()).unwrap();
    assert_eq!(db.get(col::STATE, &key).unwrap(), Some(b"last".to_vec()));
    assert_eq!(
        db.scan(col::STATE, &[], usize::MAX).unwrap(),
        vec![(key, b"last".to_vec())]
    );
}

#[test]
fn queued_commits_are_read_at_once_and_announced_in_order_once_durable() {
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let announced: Arc<Mutex<Vec<u32>>> = Arc::default();
    {
        let db = Arc::new(NodeDb::open(dir.path()).unwrap());
        for i in 0u32..40 {
            let ops = (0u32..200)
                .map(|k| {
                    let key = [i.to_be_bytes(), k.to_be_bytes()].concat();
                    (col::STATE, key, Some(vec![7; 64]))
                })
                .chain([(col::META, b"head".to_vec(), Some(i.to_be_bytes().to_vec()))])
                .collect();
            let announced = announced.clone();
            db.commit_then(ops, move || announced.lock().unwrap().push(i))
                .unwrap();
            // Every reader sees a queued commit at once: a point read, a
            // btree scan.
            assert_eq!(
                db.get(col::META, b"head").unwrap(),
                Some(i.to_be_bytes().to_vec())
            );
            assert_eq!(
                db.scan(col::STATE, &i.to_be_bytes(), usize::MAX)
                    .unwrap()
                    .len(),
                200
            );
        }
        // A commit returns once it is durable, and the ones queued before
        // it are durable with it: every callback has run, in order.
        db.commit(vec![(col::META, b"last".to_vec(), Some(vec![1]))])
            .unwrap();
        assert_eq!(*announced.lock().unwrap(), (0..40).collect::<Vec<_>>());

        // The last handle dropped inside a callback, on the committer
        // thread: no self-join, no deadlock.
        let held = db.clone();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        db.commit_then(
            vec![(col::META, b"late".to_vec(), Some(vec![2]))],
            move || {
                wait.recv().unwrap();
                drop(held);
            },
        )
        .unwrap();
        drop(db);
        go.send(()).unwrap();
    }
    // The threads of the database dropped on its committer finish on their
    // own; then it opens again with every commit there.
    let started = std::time::Instant::now();
    let db = loop {
        match NodeDb::open(dir.path()) {
            Ok(db) => break db,
            Err(e) if started.elapsed() < std::time::Duration::from_secs(10) => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("the database does not open again: {e}"),
        }
    };
    assert_eq!(db.get(col::META, b"late").unwrap(), Some(vec![2]));
    assert_eq!(
        db.get(col::META, b"head").unwrap(),
        Some(39u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        db.scan(col::STATE, &[], usize::MAX).unwrap().len(),
        40 * 200
    );
}
