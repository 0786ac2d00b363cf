//! `tongban-bench exchange`: the load generator. An in-process hub on
//! loopback, N department connections pipelining pre-signed 1 KiB messages,
//! one consumer acknowledging deliveries; in the same run, this machine's
//! raw Ed25519 `verify_strict` rate and, when `nats-server` is installed,
//! the same messages through NATS JetStream (file storage, publish with ack,
//! durable consumer), bare and with the consumer doing the verification and
//! schema validation a department would have to add on top of a broker.
//!
//! A peak phase runs first, then a phase paced at half the measured peak (or
//! `--rate`); `--no-nats` leaves the comparison out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tongban_client::{Client, Event};
use tongban_hub::ServeConfig;
use tongban_proto::{ClientOp, Decoder, ServerOp};
use tongban_seal::SigningKey;
use tongban_service::{Service, ServiceConfig, samples};
use tongban_testhub::LocalHub;

use crate::measure::{durability, percentile, raw_verify_rate, round2, say, warn_if_debug};
use crate::nats::{self, NatsFigures};
use crate::output::print_json;

const PROVIDER: &str = samples::MARKET;
const CONSUMER: &str = samples::CIVIL_AFFAIRS;
const RESOURCE: &str = "business-registration";
const SCHEMA: &str = "business-registration@1";

#[derive(Debug, Args)]
pub struct ExchangeBenchArgs {
    /// Sending connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    /// Payload size in bytes (approximate; the envelope adds ~500).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Unacknowledged messages per connection.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Commit durability: process (the default, like JetStream's) or power (fsync every commit).
    #[arg(long, default_value = "process", value_parser = ["process", "power"])]
    durability: String,
    /// Rate (messages/s in all) of the paced phase; default: half the measured peak.
    #[arg(long)]
    rate: Option<f64>,
    /// Skip the NATS JetStream comparison.
    #[arg(long)]
    no_nats: bool,
    /// Seconds per raw Ed25519 measurement.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

/// A payload of about `size` bytes that validates against the schema.
pub(crate) fn payload(size: usize, i: usize) -> Value {
    let mut scope = format!("电子元器件制造；技术服务（第{i}号）；");
    while scope.len() < size.saturating_sub(420) {
        scope.push_str("软件开发；");
    }
    json!({
        "uscc": samples::COMPANY_CODE,
        "entityName": samples::COMPANY_NAME,
        "entityType": "有限责任公司（自然人投资或控股）",
        "legalRepresentative": "李建华",
        "businessScope": scope,
        "establishedDate": "2026-11-20",
        "domicile": "广州市花都区新华街道迎宾大道123号",
        "registrationAuthority": "广州市花都区市场监督管理局",
        "regionCode": "440114",
        "licenceIdentifier": "1.2.156.3005.2.11100000TB0000001K001.11440114MB2C00007U.2026112500000000.001.3"
    })
}

struct Setup {
    hub: Service,
    server: LocalHub,
    _dir: tempfile::TempDir,
}

async fn start_hub(
    durability: tongban_store::Durability,
    window: usize,
    connections: usize,
) -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let mut config = ServiceConfig::embedded(dir.path());
    config.store.durability = durability;
    let hub = Service::open(&config).await?;
    samples::initialise(&hub, samples::REGION, samples::HUB_NAME, true).await?;
    // Shared on conditions, approved for the consumer: every message pays
    // for the access rule as a department's would.
    let draft = serde_json::from_value(serde_json::json!({
        "id": RESOURCE, "name": "负载测试资源", "schema": SCHEMA, "sharingType": "conditional",
    }))?;
    hub.catalogue_publish(PROVIDER, draft, false).await?;
    let now = hub.now();
    let application = hub
        .access_apply(
            CONSUMER,
            RESOURCE,
            "负载测试",
            now - time::Duration::hours(1),
            now + time::Duration::days(1),
        )
        .await?;
    hub.access_decide(PROVIDER, application.id, true, None)
        .await?;
    // Every sending connection is the provider's: one phase's may still be
    // closing while the next phase's connect.
    let serve = ServeConfig {
        window_per_stream: window.max(1),
        connections_per_department: u32::try_from(2 * connections + 2).unwrap_or(u32::MAX),
        ..ServeConfig::default()
    };
    let server = LocalHub::start(&hub, "bench CA", serve).await?;
    Ok(Setup {
        hub,
        server,
        _dir: dir,
    })
}

async fn client(s: &Setup, department: &str) -> anyhow::Result<Client> {
    s.server.client(&s.hub, department).await
}

/// One connection's pipelined sends: (accept latencies, refused count).
pub(crate) async fn pipeline(
    client: Client,
    frames: Vec<Vec<u8>>,
    window: usize,
    pace: Option<(Duration, Duration)>,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let (mut send, mut recv) = client.raw_stream().await?;
    let n = frames.len();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(window.max(1));
    let credits = Arc::new(tokio::sync::Semaphore::new(window.max(1)));
    let writer_credits = Arc::clone(&credits);
    let writer = tokio::spawn(async move {
        let started = Instant::now();
        for (i, frame) in frames.into_iter().enumerate() {
            if let Some((offset, gap)) = pace {
                let due = started + offset + gap * i as u32;
                tokio::time::sleep_until(due.into()).await;
            }
            let Ok(permit) = writer_credits.acquire().await else {
                break;
            };
            permit.forget();
            if tx.send(Instant::now()).await.is_err() || send.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = send.finish();
    });
    let mut decoder = Decoder::new(1 << 20);
    let mut latencies = Vec::with_capacity(n);
    let mut refused = 0;
    while latencies.len() + refused < n {
        let frame = loop {
            if let Some(f) = decoder.next_frame()? {
                break Some(f);
            }
            match recv.read_chunk(64 * 1024, true).await? {
                Some(c) => decoder.push(&c.bytes),
                None => break None,
            }
        };
        let Some(frame) = frame else { break };
        let sent = rx.recv().await.unwrap_or_else(Instant::now);
        credits.add_permits(1);
        match ServerOp::parse(frame)? {
            ServerOp::Accepted { .. } => latencies.push(sent.elapsed()),
            _ => refused += 1,
        }
    }
    let _ = writer.await;
    Ok((latencies, refused))
}

struct Phase {
    messages: usize,
    seconds: f64,
    accepted: usize,
    refused: usize,
    latencies: Vec<Duration>,
}

impl Phase {
    /// Accept latency quantiles, for the JSON report.
    fn latency_ms(&self) -> Value {
        json!({
            "p50": percentile(&self.latencies, 0.5),
            "p99": percentile(&self.latencies, 0.99),
            "p999": percentile(&self.latencies, 0.999),
        })
    }
}

/// Sends every message (optionally paced to `rate` per second in all) and waits until the consumer acknowledged them all.
async fn run_phase(
    s: &Setup,
    args: &ExchangeBenchArgs,
    json: bool,
    signed: &[Vec<Vec<u8>>],
    rate: Option<f64>,
) -> anyhow::Result<Phase> {
    let consumer = client(s, CONSUMER).await?;
    let mut listener = consumer.listen(1024).await?;
    let total: usize = signed.iter().map(Vec::len).sum();
    let mut senders = Vec::new();
    for _ in 0..signed.len() {
        senders.push(client(s, PROVIDER).await?);
    }
    let per_conn_gap = rate.map(|r| Duration::from_secs_f64(signed.len() as f64 / r.max(1.0)));
    let started = Instant::now();
    let bar = crate::progress::bar(json, total as u64, "messages delivered");
    let consume = tokio::spawn(async move {
        let mut got = 0usize;
        while got < total {
            match tokio::time::timeout(Duration::from_secs(30), listener.next()).await {
                Ok(Ok(Some(Event::Delivery(d)))) => {
                    got += 1;
                    bar.inc(1);
                    if listener.ack(d.delivery).await.is_err() {
                        break;
                    }
                }
                Ok(Ok(Some(_))) => {}
                _ => break,
            }
        }
        bar.finish_and_clear();
        (got, Instant::now())
    });
    let mut tasks = tokio::task::JoinSet::new();
    let connections = signed.len().max(1) as u32;
    for (i, (c, frames)) in senders.into_iter().zip(signed.iter().cloned()).enumerate() {
        let window = args.window;
        // Connections take turns: an even rate, not a burst from all of them at once.
        let pace = per_conn_gap.map(|gap| (gap * i as u32 / connections, gap));
        tasks.spawn(pipeline(c, frames, window, pace));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut refused = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, f) = r??;
        latencies.extend(l);
        refused += f;
    }
    let accepted = latencies.len();
    let (delivered, finished) = consume.await?;
    anyhow::ensure!(
        delivered == accepted,
        "{accepted} accepted but {delivered} delivered"
    );
    latencies.sort();
    consumer.close().await;
    Ok(Phase {
        messages: total,
        seconds: finished.duration_since(started).as_secs_f64(),
        accepted,
        refused,
        latencies,
    })
}

pub async fn run(args: ExchangeBenchArgs, json: bool) -> anyhow::Result<()> {
    warn_if_debug("exchange");
    say(
        json,
        "measuring raw Ed25519 verify_strict (1 and 2 threads) ...",
    );
    let raw1 = raw_verify_rate(1, args.seconds, true);
    let raw2 = raw_verify_rate(2, args.seconds, true);

    let s = start_hub(durability(&args.durability), args.window, args.connections).await?;
    say(
        json,
        &format!(
            "signing {} messages of ~{} bytes for {} connections (before timing) ...",
            args.messages, args.size, args.connections
        ),
    );
    let key = s.hub.danger_signing_key(PROVIDER).await?;
    let (signed, plain) = sign_all(&args, &key)?;
    say(
        json,
        &format!(
            "peak: {} connections pipelining, window {} each ...",
            args.connections, args.window
        ),
    );
    let peak = run_phase(&s, &args, json, &signed, None).await?;
    let peak_rate = peak.accepted as f64 / peak.seconds;
    // Half the peak (or the given rate), paced, with fresh ids (the first
    // ones are replays now).
    let paced_rate = args.rate.unwrap_or(peak_rate / 2.0);
    say(json, &format!("paced at {paced_rate:.0} messages/s ..."));
    let (fresh, _) = sign_all(&args, &key)?;
    let half = run_phase(&s, &args, json, &fresh, Some(paced_rate)).await?;
    s.server.stop().await;

    let nats = if args.no_nats {
        None
    } else {
        compare_with_nats(&args, &key, &plain).await?
    };
    let figures = Figures {
        envelope_bytes: plain.first().map_or(0, Vec::len),
        raw1,
        raw2,
        peak_rate,
        peak,
        half,
        nats,
    };
    if json {
        print_json(&figures.to_json(&args))
    } else {
        figures.print(&args);
        Ok(())
    }
}

/// The same envelopes through NATS JetStream; `None`, said loudly, when
/// it cannot run here (no `nats-server`).
async fn compare_with_nats(
    args: &ExchangeBenchArgs,
    key: &SigningKey,
    plain: &[Vec<u8>],
) -> anyhow::Result<Option<NatsFigures>> {
    let schema: Value = serde_json::from_str(samples::MESSAGE_TYPES[0].1)?;
    let key_record = tongban_seal::KeyRecord {
        controller: format!("urn:uscc:{PROVIDER}"),
        public: key.public(),
        validity: tongban_seal::Validity::from(time::OffsetDateTime::UNIX_EPOCH),
        purpose: tongban_seal::KeyPurpose::Exchange,
    };
    match nats::compare(plain, args.connections, args.window, key_record, schema).await {
        Ok(n) => Ok(Some(n)),
        Err(e) => {
            eprintln!("\n**** SKIPPED the NATS JetStream comparison: {e:#} ****\n");
            Ok(None)
        }
    }
}

/// Both phases' figures, the reference and the comparison.
struct Figures {
    envelope_bytes: usize,
    raw1: f64,
    raw2: f64,
    peak_rate: f64,
    peak: Phase,
    half: Phase,
    nats: Option<NatsFigures>,
}

impl Figures {
    fn to_json(&self, args: &ExchangeBenchArgs) -> Value {
        let (peak, half, peak_rate) = (&self.peak, &self.half, self.peak_rate);
        json!({
            "messages": peak.messages,
            "connections": args.connections,
            "envelopeBytes": self.envelope_bytes,
            "durability": args.durability,
            "rawVerifyStrictPerSec": {"threads1": self.raw1.round(), "threads2": self.raw2.round()},
            "peak": {"perSec": peak_rate.round(), "accepted": peak.accepted, "refused": peak.refused, "acceptLatencyMs": peak.latency_ms()},
            "halfPeak": {"perSec": (half.accepted as f64 / half.seconds).round(), "acceptLatencyMs": half.latency_ms()},
            "ratioToRawVerify2Threads": round2(peak_rate / self.raw2),
            "nats": self.nats.as_ref().map(|n| json!({"barePerSec": n.bare.round(), "verifyingPerSec": n.verifying.round(), "hubVsVerifying": round2(peak_rate / n.verifying)})),
        })
    }

    fn print(&self, args: &ExchangeBenchArgs) {
        let (peak, half, peak_rate) = (&self.peak, &self.half, self.peak_rate);
        println!();
        println!(
            "messages            {} of {} bytes (envelope), {} connections, {} durability",
            peak.messages, self.envelope_bytes, args.connections, args.durability
        );
        println!(
            "raw verify_strict   {:>9.0} /s (1 thread)  {:>9.0} /s (2 threads)",
            self.raw1, self.raw2
        );
        println!(
            "hub, peak           {:>9.0} /s end to end (verified, validated, stored, logged, delivered, acknowledged)",
            peak_rate
        );
        println!(
            "                    accept latency p50 {:.1} ms  p99 {:.1} ms  p999 {:.1} ms",
            percentile(&peak.latencies, 0.5),
            percentile(&peak.latencies, 0.99),
            percentile(&peak.latencies, 0.999)
        );
        println!(
            "                    {:.2} × raw 2-thread verify_strict (target ≥ 0.45)",
            peak_rate / self.raw2
        );
        println!(
            "hub, paced          {:>9.0} /s   accept latency p50 {:.1} ms  p99 {:.1} ms  p999 {:.1} ms (target p99 < 10 ms)",
            half.accepted as f64 / half.seconds,
            percentile(&half.latencies, 0.5),
            percentile(&half.latencies, 0.99),
            percentile(&half.latencies, 0.999)
        );
        if let Some(n) = &self.nats {
            println!(
                "JetStream, bare     {:>9.0} /s end to end (publish with ack, durable consumer, file storage)",
                n.bare
            );
            println!(
                "JetStream + verify  {:>9.0} /s end to end (consumer verifies Ed25519 and validates the schema)",
                n.verifying
            );
            println!(
                "hub ÷ JetStream+verify = {:.2} (target ≥ 1)",
                peak_rate / n.verifying
            );
        }
    }
}

/// One connection's encoded frames.
type Frames = Vec<Vec<u8>>;

/// The messages, signed and framed per connection (each with a fresh id),
/// and the bare envelopes' bytes for the JetStream comparison.
fn sign_all(
    args: &ExchangeBenchArgs,
    key: &SigningKey,
) -> anyhow::Result<(Vec<Frames>, Vec<Vec<u8>>)> {
    let per = args.messages.div_ceil(args.connections.max(1));
    let mut signed = Vec::new();
    let mut plain = Vec::new();
    for c in 0..args.connections.max(1) {
        let mut frames = Vec::new();
        for i in 0..per.min(args.messages.saturating_sub(c * per)) {
            let draft = tongban_proto::Draft {
                id: tongban_client::new_id(),
                sender: PROVIDER.into(),
                recipient: Some(CONSUMER.into()),
                topic: None,
                resource: RESOURCE.into(),
                schema: SCHEMA.into(),
                kind: tongban_proto::Kind::Message,
                correlation_id: None,
                time: time::OffsetDateTime::now_utc(),
                payload: Some(payload(args.size, c * per + i)),
                payload_ref: None,
            };
            let envelope = draft.sign(key)?;
            plain.push(serde_json::to_vec(&envelope)?);
            frames.push(tongban_proto::encode(
                &ClientOp::Send { envelope }.to_value(),
            ));
        }
        signed.push(frames);
    }
    Ok((signed, plain))
}
