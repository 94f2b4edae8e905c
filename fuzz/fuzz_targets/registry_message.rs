//! Fuzz target `registry_message`: a Raft message of the site registry, as a node decodes it
//! from a peer (`ward_consensus::transport::decode_request` and `decode_reply`).
//!
//! The input is the payload of a frame with a sound checksum (see `ward_fuzz::registry`). A
//! decoded message must encode again within the wire limits and decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_consensus::transport::{decode_reply, decode_request, encode_reply, encode_request};
use ward_fuzz::registry::frame;

fuzz_target!(|payload: &[u8]| {
    let framed = frame(payload);
    if let Ok(request) = decode_request(&framed) {
        let again = encode_request(&request).expect("a decoded request encodes within the limit");
        let back = decode_request(&again).expect("an encoded request decodes");
        assert_eq!(format!("{request:?}"), format!("{back:?}"));
    }
    if let Ok(reply) = decode_reply(&framed) {
        let again = encode_reply(&reply).expect("a decoded reply encodes within the limit");
        let back = decode_reply(&again).expect("an encoded reply decodes");
        assert_eq!(format!("{reply:?}"), format!("{back:?}"));
    }
});
