//! `subscribe` and `unsubscribe` streams: a department's topics.

use tongban_proto::{ProtoError, ServerOp};

use crate::base::failures::{Through, told};
use crate::base::wire::write;
use crate::ops::DepartmentStream;

/// Subscribes `ctx`'s department to `topics` (or unsubscribes it) and
/// answers with its topics now.
pub(crate) async fn serve_subscriptions(
    ctx: &DepartmentStream,
    send: &mut quinn::SendStream,
    topics: &[String],
    subscribe: bool,
) {
    let hub = &ctx.shared.hub;
    let r = if subscribe {
        hub.subscribe(&ctx.department, topics).await
    } else {
        hub.unsubscribe(&ctx.department, topics).await
    };
    reply_subscriptions(r, send).await;
}

fn service_error(e: &tongban_service::Error) -> ProtoError {
    told(
        e,
        Through::Protocol,
        "the hub could not change the subscriptions",
    )
}

async fn reply_subscriptions(
    r: tongban_service::Result<Vec<String>>,
    send: &mut quinn::SendStream,
) {
    match r {
        Ok(topics) => write(send, &ServerOp::Subscribed { topics }).await,
        Err(e) => write(send, &ServerOp::error(None, &service_error(&e))).await,
    };
}
