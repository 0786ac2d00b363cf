//! A department's operations, one stream each, named by the stream's first
//! frame: `send` (pipelined messages), `request` (to a provider or one of
//! the hub's services), `listen` (deliveries out, acknowledgements and
//! responses in), `records`, `upload` and `download`, `subscribe` and
//! `unsubscribe`. Each hands envelopes to the exchange and writes its
//! answers; none decides what the exchange admits, and none reaches
//! another region (`conn` routes `{region}:{id}` requests to federation).

use std::sync::Arc;

use tokio::sync::watch;
use tongban_proto::{ProtoError, ServerOp};

use crate::Shared;
use crate::exchange::{Outcome, Pipeline};

pub(crate) mod blobs;
pub(crate) mod listen;
pub(crate) mod records;
pub(crate) mod request;
pub(crate) mod send;
pub(crate) mod subscriptions;

/// What a department's stream works with.
pub(crate) struct DepartmentStream {
    pub department: String,
    pub shared: Arc<Shared>,
    pub pipeline: Pipeline,
    pub stop: watch::Receiver<bool>,
}

fn reply_for(id: Option<String>, result: Result<Outcome, ProtoError>) -> ServerOp {
    match result {
        Ok(o) => ServerOp::Accepted {
            id: o.verified.header.id.clone(),
            seq: o.seq,
        },
        Err(e) => ServerOp::error(id, &e),
    }
}
