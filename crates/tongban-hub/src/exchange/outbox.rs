//! The hub's own messages: what the service layer put in the outbox
//! (supervision's warnings, cards and notices, on `hub.supervision`),
//! signed with the hub's key (sender `urn:tongban:hub:{region}`), stored
//! like any message on a topic (one delivery per subscriber among the
//! row's audience, an `exchange.message` audit entry) and the recipients'
//! listeners woken.
//!
//! The envelope's id is the row's: a row sent twice (two nodes draining
//! at once, a crash between storing and marking) is refused the second
//! time as a replay and only marked, so each is delivered at most once;
//! a row not yet marked is sent at the next round, so each is delivered
//! at least once to those subscribed when it is stored.

use serde_json::json;
use tongban_proto::{Draft, Kind, Verified};
use tongban_store::{Accepted, AuditRecord, NewMessage, OutboxRow};

use crate::Shared;

/// Rows sent per round (one transaction).
const ROUND: usize = 100;

/// What a round of draining did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drained {
    /// Rows stored as messages now.
    pub sent: usize,
    /// Rows found stored already (marked only).
    pub replays: usize,
}

/// Sends what the outbox holds unsent, a round at a time, until it is
/// empty; stops at the first failure (the rows stay for the next call).
pub(crate) async fn drain(shared: &Shared) -> Result<Drained, tongban_service::Error> {
    let mut total = Drained::default();
    loop {
        let rows = shared.hub.store().outbox_unsent(ROUND).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let round = send(shared, &rows).await?;
        total.sent += round.sent;
        total.replays += round.replays;
        if rows.len() < ROUND {
            return Ok(total);
        }
    }
}

async fn send(shared: &Shared, rows: &[OutboxRow]) -> Result<Drained, tongban_service::Error> {
    let hub = &shared.hub;
    let identity = hub.identity().await?;
    let (key, record) = hub
        .current_key("hub", tongban_seal::KeyPurpose::Both)
        .await?;
    let now = hub.now();
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        let verified = sign(row, &identity.id, &key, &record, now)?;
        messages.push(message(row, verified, now));
    }
    let outcomes = hub.store().accept_messages(&messages).await?;
    let mut marks = Vec::with_capacity(rows.len());
    let mut drained = Drained::default();
    for ((row, m), outcome) in rows.iter().zip(&messages).zip(outcomes) {
        let seq = match outcome {
            Accepted::Stored { seq, recipients } => {
                for r in &recipients {
                    shared.registry.notify(r);
                }
                drained.sent += 1;
                seq
            }
            Accepted::Replay => {
                drained.replays += 1;
                match hub.store().message(&m.sender, &row.id).await? {
                    Some((seq, _)) => seq,
                    None => continue,
                }
            }
        };
        marks.push((row.id.clone(), seq));
    }
    hub.store().outbox_mark_sent(&marks).await?;
    Ok(drained)
}

/// The row as an envelope the hub signed, verified as any would be.
fn sign(
    row: &OutboxRow,
    hub_id: &str,
    key: &tongban_seal::SigningKey,
    record: &tongban_seal::KeyRecord,
    now: time::OffsetDateTime,
) -> Result<Verified, tongban_service::Error> {
    let internal = |e: tongban_proto::ProtoError| {
        tongban_service::Error::Store(tongban_store::StoreError::Corrupt(format!(
            "outbox row {}: {}",
            row.id, e.message
        )))
    };
    let payload = tongban_seal::json::from_str_strict(&row.payload).map_err(|e| {
        tongban_service::Error::Store(tongban_store::StoreError::Corrupt(format!(
            "outbox row {}: {e}",
            row.id
        )))
    })?;
    let envelope = Draft {
        id: row.id.clone(),
        sender: hub_id.to_owned(),
        recipient: None,
        topic: Some(row.topic.clone()),
        resource: row.topic.clone(),
        schema: row.schema.clone(),
        kind: Kind::Message,
        correlation_id: None,
        time: now,
        payload: Some(payload),
        payload_ref: None,
    }
    .sign(key)
    .map_err(internal)?;
    tongban_proto::envelope::parse(envelope)
        .and_then(|p| p.verify(record))
        .map_err(internal)
}

fn message(row: &OutboxRow, v: Verified, now: time::OffsetDateTime) -> NewMessage {
    let h = &v.header;
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    NewMessage {
        sender: h.sender.clone(),
        id: h.id.clone(),
        kind: Kind::Message.as_str().to_owned(),
        recipient: None,
        topic: Some(row.topic.clone()),
        resource: row.topic.clone(),
        schema: row.schema.clone(),
        envelope: v.to_json(),
        digest: v.digest().to_owned(),
        payload_sha256: None,
        sent_at_ms: ms(h.time),
        received_at_ms: ms(now),
        audit: AuditRecord::new(
            now,
            &h.sender,
            "exchange.message",
            format!("{}/{}", h.sender, h.id),
            json!({"recipient": null, "topic": row.topic, "resource": row.topic, "schema": row.schema, "digest": v.digest(), "correlationId": null, "audience": row.audience}),
        ),
        audience: Some(row.audience.clone()),
    }
}
