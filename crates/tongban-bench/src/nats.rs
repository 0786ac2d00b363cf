//! The comparison: the same signed envelopes through NATS JetStream (file
//! storage, publish with acknowledgement, durable pull consumer with
//! explicit acks), run twice: bare, and with the consumer doing what a
//! department would have to add on top of a broker (Ed25519 strict
//! verification of each envelope and JSON Schema validation of its payload).

use std::collections::VecDeque;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt;
use serde_json::Value;

/// The department's durable consumer.
type PullConsumer = jetstream::consumer::Consumer<jetstream::consumer::pull::Config>;

/// Messages per second, end to end.
#[derive(Debug)]
pub struct NatsFigures {
    /// No work in the consumer.
    pub bare: f64,
    /// Verification and validation in the consumer.
    pub verifying: f64,
}

struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> anyhow::Result<(Server, u16)> {
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .context("nats-server is not installed (apt-get install nats-server)")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let child = Command::new(binary)
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-sd",
            &dir.path().display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nats-server")?;
    let server = Server { child, _dir: dir };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, port))
}

/// Runs both comparisons on a fresh server each.
pub async fn compare(
    envelopes: &[Vec<u8>],
    connections: usize,
    window: usize,
    key: tongban_seal::KeyRecord,
    schema: Value,
) -> anyhow::Result<NatsFigures> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bare = round(envelopes, connections, window, None).await?;
    let verifying = round(envelopes, connections, window, Some((&key, &validator))).await?;
    Ok(NatsFigures { bare, verifying })
}

/// One round on a fresh server: messages per second, end to end.
async fn round(
    envelopes: &[Vec<u8>],
    connections: usize,
    window: usize,
    work: Option<(&tongban_seal::KeyRecord, &jsonschema::Validator)>,
) -> anyhow::Result<f64> {
    let (_server, port) = start_server()?;
    let url = format!("nats://127.0.0.1:{port}");
    let consumer = durable_consumer(&url).await?;
    let total = envelopes.len();
    let mut publishers = Vec::new();
    for _ in 0..connections.max(1) {
        publishers.push(jetstream::new(async_nats::connect(&url).await?));
    }
    let started = Instant::now();
    let (published, consumed) = tokio::join!(
        publish(publishers, envelopes, window),
        consume(&consumer, total, work)
    );
    published?;
    let got = consumed?;
    anyhow::ensure!(got == total, "JetStream delivered {got} of {total}");
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A file-stored stream `BENCH` on subject `bench` and a durable pull
/// consumer of it with explicit acknowledgements.
async fn durable_consumer(url: &str) -> anyhow::Result<PullConsumer> {
    let admin = jetstream::new(async_nats::connect(url).await?);
    admin
        .create_stream(jetstream::stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench".into()],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("create stream: {e}"))?;
    let stream = admin
        .get_stream("BENCH")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("department".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("create consumer: {e}"))
}

/// The department's side: takes `total` messages, verifying each (Ed25519
/// and the payload's schema) when given the `work`, and acknowledges it.
async fn consume(
    consumer: &PullConsumer,
    total: usize,
    work: Option<(&tongban_seal::KeyRecord, &jsonschema::Validator)>,
) -> anyhow::Result<usize> {
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut got = 0usize;
    while got < total {
        let Some(m) = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .ok()
            .flatten()
        else {
            break;
        };
        let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some((key, validator)) = work {
            let envelope: Value = serde_json::from_slice(&m.payload)?;
            let verified = tongban_proto::envelope::parse(envelope)?.verify(key)?;
            anyhow::ensure!(validator.is_valid(verified.payload()), "payload invalid");
        }
        m.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        got += 1;
    }
    Ok(got)
}

/// The senders' side: each connection publishes its share with up to
/// `window` acknowledgements outstanding.
async fn publish(
    publishers: Vec<jetstream::Context>,
    envelopes: &[Vec<u8>],
    window: usize,
) -> anyhow::Result<()> {
    let per = envelopes.len().div_ceil(publishers.len().max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, js) in publishers.into_iter().enumerate() {
        let mine: Vec<Vec<u8>> = envelopes.iter().skip(i * per).take(per).cloned().collect();
        tasks.spawn(async move {
            let mut pending = VecDeque::new();
            for e in mine {
                if pending.len() >= window.max(1) {
                    let ack: jetstream::context::PublishAckFuture =
                        pending.pop_front().context("window")?;
                    ack.await.map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                pending.push_back(
                    js.publish("bench", bytes::Bytes::from(e))
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
            }
            for ack in pending {
                ack.await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}
