//! Framing on a QUIC stream: a 4-byte big-endian length, then that many
//! bytes of UTF-8 JSON (one object). Sans-IO: bytes in, frames out.

use serde_json::Value;
use tongban_seal::json::{StrictJsonError, from_slice_strict};

use crate::error::{ErrorCode, ProtoError};

/// Default largest frame (1 MiB). Larger payloads go to the blob store.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// The largest frame any party may be configured to accept (16 MiB).
pub const MAX_FRAME_CEILING: usize = 16 << 20;

/// Encodes one frame.
pub fn encode(value: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct Decoder {
    buffer: Vec<u8>,
    max_frame: usize,
}

impl Decoder {
    /// A decoder refusing frames larger than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            buffer: Vec::new(),
            max_frame: max_frame.min(MAX_FRAME_CEILING),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, if one is buffered.
    ///
    /// A frame announcing more than the limit is refused as soon as its
    /// length is read, before its body is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Value>, ProtoError> {
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]) as usize;
        if len > self.max_frame {
            return Err(ProtoError::new(
                ErrorCode::FrameTooLarge,
                format!(
                    "frame of {len} bytes exceeds the {}-byte limit",
                    self.max_frame
                ),
            ));
        }
        if self.buffer.len() < 4 + len {
            return Ok(None);
        }
        let value = from_slice_strict(&self.buffer[4..4 + len]);
        self.buffer.drain(..4 + len);
        match value {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            Ok(_) => Err(ProtoError::new(
                ErrorCode::FrameMalformed,
                "a frame is one JSON object",
            )),
            Err(e) => Err(refusal(&e)),
        }
    }

    /// Checks that the stream ended on a frame boundary.
    pub fn finish(&self) -> Result<(), ProtoError> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::new(
                ErrorCode::FrameTruncated,
                format!(
                    "the stream ended inside a frame ({} bytes pending)",
                    self.buffer.len()
                ),
            ))
        }
    }

    /// Takes the bytes buffered after the last frame (raw bytes that
    /// follow an `upload` or `blob` frame).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    /// Bytes buffered and not yet framed.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// The refusal of a frame body that is not strict JSON.
///
/// A repeated member name inside the frame's `envelope` (its payload
/// included) is the envelope's fault, `ENVELOPE_MALFORMED`: the envelope
/// does not say one thing, whatever its signature covers. Anywhere else
/// (`envelope` itself given twice included) it is `FRAME_MALFORMED`. Either way nothing of the frame is used: not even
/// the envelope's `id` can be trusted to name it.
fn refusal(e: &StrictJsonError) -> ProtoError {
    match e.pointer() {
        Some(p) if p.starts_with("/envelope/") => ProtoError::new(
            ErrorCode::EnvelopeMalformed,
            format!("the envelope repeats a member name: {e}"),
        ),
        Some(_) => ProtoError::new(
            ErrorCode::FrameMalformed,
            format!("the frame repeats a member name: {e}"),
        ),
        None => ProtoError::new(ErrorCode::FrameMalformed, format!("frame is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_round_trip_split_anywhere() {
        let frames = [
            json!({"op": "send", "n": 1}),
            json!({"op": "ack", "中文": "值"}),
            json!({}),
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
        for split in 0..bytes.len() {
            let mut d = Decoder::new(DEFAULT_MAX_FRAME);
            let mut out = Vec::new();
            for chunk in [&bytes[..split], &bytes[split..]] {
                d.push(chunk);
                while let Some(f) = d.next_frame().unwrap() {
                    out.push(f);
                }
            }
            assert_eq!(out, frames);
            d.finish().unwrap();
        }
    }

    #[test]
    fn oversized_truncated_and_garbage_frames() {
        let mut d = Decoder::new(16);
        d.push(&100u32.to_be_bytes());
        assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::FrameTooLarge);
        let mut d = Decoder::new(1024);
        d.push(&encode(&json!({"a": 1}))[..5]);
        assert!(d.next_frame().unwrap().is_none());
        assert_eq!(d.finish().unwrap_err().code, ErrorCode::FrameTruncated);
        let mut d = Decoder::new(1024);
        d.push(&[0, 0, 0, 3, b'x', b'y', b'z']);
        assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::FrameMalformed);
        let mut d = Decoder::new(1024);
        d.push(&[0, 0, 0, 2, b'[', b']']);
        assert_eq!(d.next_frame().unwrap_err().code, ErrorCode::FrameMalformed);
    }
}
