#![allow(clippy::unwrap_used)]

mod decode_anything;
mod envelopes;
