//! Sending through whichever node of the hub answers: a [`Failover`] keeps
//! one connection, makes another (starting with the next address) when it
//! breaks, and sends an envelope whose acknowledgement was lost again, the
//! very same envelope, until the hub has it.
//!
//! The hub keeps `(sender, id)` unique in its store, which every node
//! shares: a resend of an envelope it had stored gets `REPLAY`, and for an
//! envelope this `Failover` had already written to a connection, that means
//! "accepted before" ([`Stored::seq`] is then `None`). Nothing the hub
//! acknowledged is sent twice as two messages, and nothing is given up
//! while a transient error ([`ClientError::is_transient`]) leaves attempts.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tongban_proto::{Draft, ErrorCode};

use crate::{Backoff, Client, ClientError, Connector};

/// How often and how patiently a [`Failover`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per envelope (the first included), at least 1.
    pub attempts: u32,
    /// The first delay between attempts; it doubles (jittered, [`Backoff`]).
    pub initial: Duration,
    /// The longest delay between attempts.
    pub max: Duration,
}

/// The default [`Retry::attempts`].
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 8;

impl Default for Retry {
    /// 8 attempts, 0.25 s apart doubling to 5 s: about 20 s of waiting at
    /// most, plus each attempt's own timeouts, well inside the hub's
    /// five-minute time window, so that a resend is still the same
    /// envelope.
    fn default() -> Self {
        Retry {
            attempts: DEFAULT_RETRY_ATTEMPTS,
            initial: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

/// What the hub has: an envelope it stored, now or at an earlier attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The envelope's id.
    pub id: String,
    /// The hub's sequence number; `None` when an earlier attempt had been
    /// stored and its acknowledgement lost (the resend got `REPLAY`).
    pub seq: Option<u64>,
    /// Attempts made, the first included.
    pub attempts: u32,
}

/// One connection to the hub, made again on any node when it breaks; cheap
/// to share between tasks (`Arc<Failover>`): they use one connection, and
/// one of them makes the next.
#[derive(Debug)]
pub struct Failover {
    connector: Connector,
    retry: Retry,
    /// The connection in use and its generation (which connection a failed
    /// attempt used, so that it only drops that one).
    current: tokio::sync::Mutex<(u64, Option<Client>)>,
}

impl Failover {
    /// Connects lazily with `connector`, with the [`Retry::default`].
    pub fn new(connector: Connector) -> Failover {
        Failover {
            connector,
            retry: Retry::default(),
            current: tokio::sync::Mutex::new((0, None)),
        }
    }

    /// Tries as `retry` says.
    pub fn with_retry(mut self, retry: Retry) -> Failover {
        self.retry = Retry {
            attempts: retry.attempts.max(1),
            ..retry
        };
        self
    }

    /// The connection in use, or a new one when there is none or it ended.
    pub async fn client(&self) -> Result<(u64, Client), ClientError> {
        let mut current = self.current.lock().await;
        if let (generation, Some(client)) = &*current {
            if client.close_reason().is_none() {
                return Ok((*generation, client.clone()));
            }
        }
        let client = self.connector.connect().await?;
        current.0 += 1;
        current.1 = Some(client.clone());
        Ok((current.0, client))
    }

    /// The address of the connection in use, if there is one.
    pub async fn hub(&self) -> Option<SocketAddr> {
        self.current.lock().await.1.as_ref().map(Client::hub)
    }

    /// Forgets connection `generation` after it failed (if it is still the
    /// one in use): the next attempt connects again, to the next address.
    async fn lost(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.0 == generation {
            current.1 = None;
        }
    }

    /// Uploads the payload if it is long ([`Client::offload`]), signs the
    /// draft once, and sends it as [`send_envelope`](Failover::send_envelope) does.
    pub async fn send(&self, draft: Draft) -> Result<Stored, ClientError> {
        let mut backoff = Backoff::new(self.retry.initial, self.retry.max);
        let mut attempt = 0;
        let envelope = loop {
            attempt += 1;
            let error = match self.client().await {
                Ok((generation, client)) => match client.offload(draft.clone()).await {
                    Ok(offloaded) => break client.sign(&offloaded)?,
                    Err(e) => {
                        self.forget_if_broken(generation, &e).await;
                        e
                    }
                },
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= self.retry.attempts {
                return Err(error);
            }
            tokio::time::sleep(backoff.next_delay()).await;
        };
        self.send_envelope(envelope).await
    }

    /// Sends a signed envelope until the hub has it: on a transient error
    /// it waits ([`Retry`]), connects again if the connection broke (to
    /// the next address first) and sends the same envelope again. `REPLAY`
    /// after an attempt that wrote the envelope means that attempt was
    /// stored: [`Stored`] with `seq: None`. A `REPLAY` at the first attempt
    /// is returned as the refusal it is (this `Failover` never sent it).
    pub async fn send_envelope(&self, envelope: Value) -> Result<Stored, ClientError> {
        let id = envelope
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut backoff = Backoff::new(self.retry.initial, self.retry.max);
        let mut written = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.client().await {
                Ok((generation, client)) => match client.send_envelope(envelope.clone()).await {
                    Ok(accepted) => {
                        return Ok(Stored {
                            id: accepted.id,
                            seq: Some(accepted.seq),
                            attempts: attempt,
                        });
                    }
                    Err(e) => {
                        self.forget_if_broken(generation, &e).await;
                        if e.code() == Some(ErrorCode::Replay) && written {
                            return Ok(Stored {
                                id,
                                seq: None,
                                attempts: attempt,
                            });
                        }
                        written = true;
                        e
                    }
                },
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= self.retry.attempts {
                return Err(error);
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    /// Drops connection `generation` when `error` says it broke or its node
    /// is going away.
    async fn forget_if_broken(&self, generation: u64, error: &ClientError) {
        let broken = matches!(error, ClientError::Connection(_))
            || matches!(
                error.code(),
                Some(ErrorCode::ShuttingDown | ErrorCode::Busy | ErrorCode::StoreUnavailable)
            );
        if broken {
            self.lost(generation).await;
        }
    }

    /// Closes the connection in use, if any, with `DONE`.
    pub async fn close(&self) {
        let client = self.current.lock().await.1.take();
        if let Some(client) = client {
            client.close().await;
        }
    }
}
