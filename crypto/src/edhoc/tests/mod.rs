//! EDHOC tests: the traces of RFC 9529 byte for byte, handshakes for every method and
//! suite, refusals, and mutation properties.

mod handshake;
mod mutation;
pub(super) mod parties;
mod refusal;
mod trace_1;
mod trace_2;

use alloc::string::String;
use alloc::vec::Vec;

/// Bytes from hex, ignoring whitespace, as the RFC prints them.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// 32 bytes from hex.
pub(super) fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32 bytes")
}
