//! Frames on a stream: reading them within the party's share of frame
//! memory and the read deadline, and writing answers and deliveries.
//!
//! A `Reader` holds the most its stream has buffered from the party's share of
//! frame memory, and cuts a stream quiet past `read_timeout` before its first
//! frame or inside a frame (`READ_TIMEOUT`).

use std::time::Duration;

use serde_json::Value;
use tongban_proto::{Decoder, ErrorCode, ProtoError, ServerOp};

use crate::Shared;
use crate::base::shares::Share;

/// Bytes read off a stream at once.
const READ_CHUNK: usize = 64 * 1024;

/// The least share of frame memory a party has: one frame of `max_frame`
/// and one read beyond it.
pub(crate) fn frame_share_floor(max_frame: usize) -> u64 {
    (max_frame + 4 + READ_CHUNK) as u64
}

/// Reads frames off a stream, holding the party's share of frame memory
/// for what it has buffered, within the read deadline.
pub(crate) struct Reader {
    pub(crate) recv: quinn::RecvStream,
    decoder: Decoder,
    max_frame: usize,
    done: bool,
    /// The most bytes buffered since the buffer was last empty (its memory
    /// stays allocated until then).
    held: Share,
    read_timeout: Duration,
    /// Whether a frame was read: the first one has a deadline; between
    /// frames a stream may be quiet (a listener waiting for deliveries).
    started: bool,
    /// When the wait in progress for bytes (the first frame's, or the rest
    /// of a frame's) ends; kept when `next` is cancelled and called again.
    deadline: Option<tokio::time::Instant>,
}

impl Reader {
    pub(crate) fn new(recv: quinn::RecvStream, shared: &Shared, party: &str) -> Reader {
        Reader {
            recv,
            decoder: Decoder::new(shared.config.max_frame),
            max_frame: shared.config.max_frame,
            done: false,
            held: shared.frames.empty(party),
            read_timeout: shared.config.read_timeout,
            started: false,
            deadline: None,
        }
    }

    /// The next frame; `None` at the end of the stream. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Result<Option<Value>, ProtoError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                self.started = true;
                self.release();
                return Ok(Some(f));
            }
            if self.done {
                return Ok(None);
            }
            let waiting = !self.started || self.decoder.pending() > 0;
            let deadline = if waiting {
                Some(
                    *self
                        .deadline
                        .get_or_insert_with(|| tokio::time::Instant::now() + self.read_timeout),
                )
            } else {
                None
            };
            let read = self.recv.read_chunk(READ_CHUNK, true);
            let read = match deadline {
                Some(at) => tokio::time::timeout_at(at, read)
                    .await
                    .map_err(|_| self.timed_out())?,
                None => read.await,
            };
            match read {
                Ok(Some(chunk)) => {
                    self.deadline = None;
                    self.hold(self.decoder.pending() + chunk.bytes.len())?;
                    self.decoder.push(&chunk.bytes);
                }
                Ok(None) => {
                    self.done = true;
                    self.decoder.finish()?;
                }
                Err(e) => {
                    self.done = true;
                    return Err(ProtoError::new(
                        ErrorCode::FrameTruncated,
                        format!("stream ended: {e}"),
                    ));
                }
            }
        }
    }

    fn timed_out(&mut self) -> ProtoError {
        self.done = true;
        let waited = self.read_timeout.as_secs_f32();
        let message = if self.started {
            format!(
                "the rest of a frame did not come within {waited} s ({} bytes of it came)",
                self.decoder.pending()
            )
        } else {
            format!("no frame came on the stream within {waited} s")
        };
        ProtoError::new(ErrorCode::ReadTimeout, message)
    }

    /// Holds `buffered` bytes of frame memory, if more than held.
    fn hold(&mut self, buffered: usize) -> Result<(), ProtoError> {
        let buffered = buffered as u64;
        if buffered > self.held.held() {
            self.held
                .resize(buffered)
                .inspect_err(|_| self.done = true)?;
        }
        Ok(())
    }

    /// Gives the frame memory back once nothing is buffered, with the
    /// buffer itself.
    fn release(&mut self) {
        if self.decoder.pending() == 0 && self.held.held() > 0 {
            self.decoder = Decoder::new(self.max_frame);
            let _ = self.held.resize(0);
        }
    }

    /// The bytes buffered after the last frame (an upload's first bytes),
    /// which then count against the upload's share instead.
    pub(crate) fn take_rest(&mut self) -> Vec<u8> {
        let rest = self.decoder.take_rest();
        self.release();
        rest
    }
}

/// Writes `bytes`, each piece taken by the client within `deadline`;
/// false when it was not (or the stream is gone).
pub(crate) async fn write_within(
    send: &mut quinn::SendStream,
    bytes: &[u8],
    deadline: Duration,
) -> bool {
    for piece in bytes.chunks(READ_CHUNK) {
        match tokio::time::timeout(deadline, send.write_all(piece)).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
    true
}

pub(crate) async fn write(send: &mut quinn::SendStream, op: &ServerOp) -> bool {
    send.write_all(&tongban_proto::encode(&op.to_value()))
        .await
        .is_ok()
}

/// A `deliver` frame around stored envelope text (no re-serialisation).
pub(crate) fn deliver_frame(delivery: u64, envelope_json: &str) -> Vec<u8> {
    let body =
        format!("{{\"op\":\"deliver\",\"delivery\":{delivery},\"envelope\":{envelope_json}}}");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

pub(crate) fn envelope_id(v: &Value) -> Option<String> {
    v.get("id").and_then(Value::as_str).map(str::to_owned)
}
