//! Frame decoder, operation parser and envelope parser on arbitrary bytes:
//! `cargo fuzz run decode` (from this directory's parent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tongban_proto::{ClientOp, Decoder, ServerOp, envelope};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(64 * 1024);
    // Feed in two pieces to exercise partial frames.
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    decoder.push(&data[..split]);
    decoder.push(&data[split..]);
    while let Ok(Some(frame)) = decoder.next_frame() {
        let _ = ServerOp::parse(frame.clone());
        if let Ok(ClientOp::Send { envelope: e } | ClientOp::Request { envelope: e, .. } | ClientOp::Respond { envelope: e }) =
            ClientOp::parse(frame)
        {
            let _ = envelope::parse(e);
        }
    }
    let _ = decoder.finish();
});
