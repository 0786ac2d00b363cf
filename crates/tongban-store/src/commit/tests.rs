//! The commit plan on its own (no IO), and both backends' paths executing
//! it to the same rows.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use time::macros::datetime;

use super::*;
use crate::{BlobConfig, DatabaseConfig, StoreConfig};

fn message(sender: &str, id: &str, to: Option<&str>, topic: Option<&str>) -> NewMessage {
    NewMessage {
        sender: sender.into(),
        id: id.into(),
        kind: "message".into(),
        recipient: to.map(Into::into),
        topic: topic.map(Into::into),
        resource: "business-registration".into(),
        schema: "business-registration@1".into(),
        envelope: format!(r#"{{"id":"{id}"}}"#),
        digest: format!("{:0>64}", id.len()),
        payload_sha256: None,
        sent_at_ms: 1_780_000_000_000,
        received_at_ms: 1_780_000_000_100,
        audit: AuditRecord::new(
            datetime!(2026-11-25 02:00 UTC),
            sender,
            "exchange.accept",
            id,
            serde_json::json!({"resource": "business-registration"}),
        ),
        audience: None,
    }
}

fn request(sender: &str, id: &str) -> NewMessage {
    NewMessage {
        kind: "request".into(),
        ..message(sender, id, None, None)
    }
}

fn view(existing: &[(&str, &str)], subscribers: &[(&str, &[&str])]) -> CommitView {
    CommitView {
        existing: existing
            .iter()
            .map(|(s, i)| ((*s).to_owned(), (*i).to_owned()))
            .collect::<HashSet<_>>(),
        subscribers: subscribers
            .iter()
            .map(|(t, d)| ((*t).to_owned(), d.iter().map(|s| (*s).to_owned()).collect()))
            .collect::<HashMap<_, _>>(),
        message_head: 41,
        audit_head: (7, [9; 32]),
    }
}

fn stored(seq: u64, recipients: &[&str]) -> Accepted {
    Accepted::Stored {
        seq,
        recipients: recipients.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn the_plan_decides_replays_sequence_numbers_and_recipients() {
    let with_audience = NewMessage {
        audience: Some(vec!["B".into()]),
        ..message("A", "m5", None, Some("t"))
    };
    // (case, batch, what the store holds, expected outcomes)
    let cases: Vec<(&str, Vec<NewMessage>, CommitView, Vec<Accepted>)> = vec![
        (
            "direct message",
            vec![message("A", "m1", Some("B"), None)],
            view(&[], &[]),
            vec![stored(42, &["B"])],
        ),
        (
            "stored before: a replay, no sequence number used",
            vec![
                message("A", "m1", Some("B"), None),
                message("A", "m2", Some("B"), None),
            ],
            view(&[("A", "m1")], &[]),
            vec![Accepted::Replay, stored(42, &["B"])],
        ),
        (
            "twice in one batch: the first is stored",
            vec![
                message("A", "m1", Some("B"), None),
                message("A", "m1", Some("C"), None),
            ],
            view(&[], &[]),
            vec![stored(42, &["B"]), Accepted::Replay],
        ),
        (
            "same id from another sender is another message",
            vec![
                message("A", "m1", Some("B"), None),
                message("C", "m1", Some("B"), None),
            ],
            view(&[], &[]),
            vec![stored(42, &["B"]), stored(43, &["B"])],
        ),
        (
            "topic: every subscriber but the sender",
            vec![message("A", "m3", None, Some("t"))],
            view(&[], &[("t", &["A", "B", "C"])]),
            vec![stored(42, &["B", "C"])],
        ),
        (
            "topic without subscribers: stored, delivered to nobody",
            vec![message("A", "m4", None, Some("t"))],
            view(&[], &[]),
            vec![stored(42, &[])],
        ),
        (
            "topic within an audience",
            vec![with_audience],
            view(&[], &[("t", &["A", "B", "C"])]),
            vec![stored(42, &["B"])],
        ),
        (
            "requests are delivered by the hub, not stored for anyone",
            vec![request("A", "r1")],
            view(&[], &[]),
            vec![stored(42, &[])],
        ),
    ];
    for (name, batch, view, expected) in cases {
        let plan = CommitPlan::new(&batch, &[], view);
        assert_eq!(plan.outcomes(), expected, "{name}");
    }
}

#[test]
fn the_plan_chains_audit_entries_after_the_head_and_moves_both_heads() {
    let batch = vec![
        message("A", "m1", Some("B"), None),
        message("A", "m1", Some("B"), None),
        message("A", "m2", Some("B"), None),
    ];
    let plan = CommitPlan::new(&batch, &[], view(&[], &[]));
    assert_eq!(plan.audit.len(), 2, "one entry per stored message");
    assert_eq!(plan.audit[0].seq, 8);
    assert_eq!(plan.audit[0].prev_hash, [9; 32]);
    assert_eq!(plan.audit[1].prev_hash, plan.audit[0].hash);
    let statements = plan.statements(Marks::Numbered);
    let heads: Vec<&Statement<'_>> = statements
        .iter()
        .filter(|s| {
            s.sql.starts_with("UPDATE message_head") || s.sql.starts_with("UPDATE audit_head")
        })
        .collect();
    assert_eq!(heads.len(), 2);
    assert_eq!(
        heads[0].sql,
        "UPDATE message_head SET seq = $1 WHERE id = 1"
    );
    assert_eq!(heads[0].params, vec![Param::Int(43)]);
    assert_eq!(
        heads[1].sql,
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1"
    );
    assert_eq!(
        heads[1].params,
        vec![Param::Int(9), Param::Bytes(&plan.audit[1].hash)]
    );
}

#[test]
fn only_acknowledgements_write_no_heads() {
    let acks = vec![AckSet {
        recipient: "B".into(),
        seqs: vec![3, 5],
        at_ms: 1_780_000_000_200,
    }];
    let plan = CommitPlan::new(&[], &acks, view(&[], &[]));
    let statements = plan.statements(Marks::Anonymous);
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0].sql,
        "UPDATE deliveries SET state = 'delivered', acked_at_ms = ? WHERE recipient = ? AND state = 'pending' AND seq IN (?,?)"
    );
    assert_eq!(
        statements[0].params,
        vec![
            Param::Int(1_780_000_000_200),
            Param::Text("B"),
            Param::Int(3),
            Param::Int(5)
        ]
    );
}

#[test]
fn every_statement_binds_as_many_parameters_as_it_marks() {
    let mut batch: Vec<NewMessage> = (0..450)
        .map(|i| message("A", &format!("m{i}"), None, Some("t")))
        .collect();
    batch.push(message("A", "m0", None, Some("t")));
    let subscribers: Vec<String> = (0..3).map(|i| format!("D{i}")).collect();
    let mut v = view(&[], &[]);
    v.subscribers.insert("t".into(), subscribers);
    let acks = vec![AckSet {
        recipient: "B".into(),
        seqs: (1..=1_200).collect(),
        at_ms: 1,
    }];
    let plan = CommitPlan::new(&batch, &acks, v);
    for marks in [Marks::Anonymous, Marks::Numbered] {
        let statements = plan.statements(marks);
        for s in &statements {
            let count = match marks {
                Marks::Anonymous => s.sql.matches('?').count(),
                Marks::Numbered => s.sql.matches('$').count(),
            };
            assert_eq!(count, s.params.len(), "{}", &s.sql[..60]);
        }
        // 3 ack chunks, 3 message chunks, 3 delivery chunks (1 350 rows),
        // 1 audit chunk, 2 heads.
        assert_eq!(statements.len(), 12);
    }
}

/// Rows a commit leaves behind, in a form both backends give alike.
async fn rows_of(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    on_db!(&store.db, pool => {
        for row in sqlx::query("SELECT seq, sender, id, kind, recipient, topic, resource, schema, envelope, digest, sent_at_ms, received_at_ms, payload_sha256 FROM messages ORDER BY seq").fetch_all(pool).await.unwrap() {
            out.push(format!(
                "message {} {} {} {} {:?} {:?} {} {} {} {} {} {} {:?}",
                row.int("seq").unwrap(), row.text("sender").unwrap(), row.text("id").unwrap(),
                row.text("kind").unwrap(), row.opt_text("recipient").unwrap(), row.opt_text("topic").unwrap(),
                row.text("resource").unwrap(), row.text("schema").unwrap(), row.text("envelope").unwrap(),
                row.text("digest").unwrap(), row.int("sent_at_ms").unwrap(), row.int("received_at_ms").unwrap(),
                row.opt_text("payload_sha256").unwrap(),
            ));
        }
        for row in sqlx::query("SELECT recipient, seq, state, acked_at_ms FROM deliveries ORDER BY seq, recipient").fetch_all(pool).await.unwrap() {
            out.push(format!(
                "delivery {} {} {} {:?}",
                row.text("recipient").unwrap(), row.int("seq").unwrap(),
                row.text("state").unwrap(), row.opt_int("acked_at_ms").unwrap(),
            ));
        }
        for row in sqlx::query("SELECT seq, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq").fetch_all(pool).await.unwrap() {
            out.push(format!(
                "audit {} {} {} {} {} {} {:?} {:?}",
                row.int("seq").unwrap(), row.int("at_ms").unwrap(), row.text("actor").unwrap(),
                row.text("action").unwrap(), row.text("subject").unwrap(), row.text("detail").unwrap(),
                row.bytes("prev_hash").unwrap(), row.bytes("hash").unwrap(),
            ));
        }
        let heads = sqlx::query(heads_sql(false)).fetch_one(pool).await.unwrap();
        out.push(format!(
            "heads {} {} {:?}",
            heads.int("mseq").unwrap(), heads.int("aseq").unwrap(), heads.bytes("ahash").unwrap()
        ));
    });
    out
}

#[derive(Clone, Copy, Debug)]
enum Path {
    SqliteFast,
    Portable,
}

/// Subscriptions, two batches (with replays, a topic, an audience, a
/// request) and acknowledgements, committed by one path.
async fn exercise(store: &Store, path: Path) -> Vec<Vec<Accepted>> {
    for d in ["B", "C", "D"] {
        store
            .subscribe(d, &["t".to_owned()], datetime!(2026-11-25 02:00 UTC), &[])
            .await
            .unwrap();
    }
    let first = vec![
        message("A", "m1", Some("B"), None),
        message("A", "m2", None, Some("t")),
        NewMessage {
            audience: Some(vec!["C".into()]),
            ..message("A", "m3", None, Some("t"))
        },
        request("B", "r1"),
        message("A", "m1", Some("C"), None),
    ];
    let second = vec![
        message("A", "m2", None, Some("t")),
        message("C", "m4", None, Some("t")),
    ];
    let acks = vec![AckSet {
        recipient: "B".into(),
        seqs: vec![1, 2],
        at_ms: 1_780_000_000_500,
    }];
    let commit = |batch: Vec<NewMessage>, acks: Vec<AckSet>| async move {
        match path {
            Path::SqliteFast => {
                let Db::Sqlite(db) = &store.db else {
                    panic!("the fast path is SQLite's")
                };
                commit_sqlite(db, &batch, &acks).await.unwrap()
            }
            Path::Portable => commit_portable(&store.db, &batch, &acks).await.unwrap(),
        }
    };
    vec![commit(first, Vec::new()).await, commit(second, acks).await]
}

async fn open(url: &str, blobs: &std::path::Path) -> Store {
    Store::open(&StoreConfig::new(
        DatabaseConfig::parse(url),
        BlobConfig::Local(blobs.to_owned()),
    ))
    .await
    .unwrap()
}

/// SQLite's fast path, the portable path on SQLite and the portable path
/// on PostgreSQL leave the same rows and report the same outcomes.
#[tokio::test]
async fn every_path_commits_the_same_rows() {
    let mut results = Vec::new();
    for path in [Path::SqliteFast, Path::Portable] {
        let backend = tongban_tests::sqlite();
        let store = open(&backend.database_url, &backend.blob_dir()).await;
        let outcomes = exercise(&store, path).await;
        results.push((format!("sqlite {path:?}"), outcomes, rows_of(&store).await));
        store.close().await;
    }
    if let Some(url) = tongban_tests::postgres_url() {
        let backend = tongban_tests::postgres(&url, "commit_paths_agree").await;
        let store = open(&backend.database_url, &backend.blob_dir()).await;
        let outcomes = exercise(&store, Path::Portable).await;
        results.push(("postgres Portable".into(), outcomes, rows_of(&store).await));
        store.close().await;
        backend.cleanup().await;
    }
    let (first, outcomes, rows) = &results[0];
    assert_eq!(
        outcomes[0],
        vec![
            stored(1, &["B"]),
            stored(2, &["B", "C", "D"]),
            stored(3, &["C"]),
            stored(4, &[]),
            Accepted::Replay,
        ]
    );
    assert_eq!(outcomes[1], vec![Accepted::Replay, stored(5, &["B", "D"])]);
    assert!(
        rows.iter()
            .any(|r| r.starts_with("delivery B 1 delivered Some(1780000000500)"))
    );
    assert!(rows.iter().any(|r| r.starts_with("heads 5 5 ")));
    for (name, o, r) in &results[1..] {
        assert_eq!(o, outcomes, "{name} against {first}");
        assert_eq!(r, rows, "{name} against {first}");
    }
}
