//! Whatever bytes arrive, the decoder and parsers return errors, never panic.
//! (The cargo-fuzz target `fuzz/fuzz_targets/decode.rs` does the same with
//! coverage guidance.)

use proptest::prelude::*;
use tongban_proto::{ClientOp, Decoder, envelope};

fn feed(bytes: &[u8]) {
    let mut d = Decoder::new(4096);
    d.push(bytes);
    while let Ok(Some(frame)) = d.next_frame() {
        if let Ok(
            ClientOp::Send { envelope: e }
            | ClientOp::Request { envelope: e, .. }
            | ClientOp::Respond { envelope: e },
        ) = ClientOp::parse(frame)
        {
            let _ = envelope::parse(e);
        }
    }
    let _ = d.finish();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        feed(&bytes);
    }

    #[test]
    fn framed_random_json(body in "\\{\"op\":\"(send|request|respond)\",\"envelope\":\\{(\"[a-zA-Z]{1,10}\":(\"[^\"]{0,20}\"|[0-9]{1,5}|null|true|\\{\\}),?){0,12}\\}\\}") {
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(body.as_bytes());
        feed(&bytes);
    }
}

#[test]
fn adversarial_lengths() {
    for len in [0u32, 1, 4095, 4096, 4097, u32::MAX] {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'{', 64));
        feed(&bytes);
    }
}
