//! CoAP messages (RFC 7252 §3) as Ward's camera protocols need them: a sans-IO, bounded codec,
//! typed access to the options EDHOC and OSCORE use, and the framing of EDHOC over CoAP
//! (RFC 9528 Appendix A.2) and of the combined EDHOC + OSCORE request (RFC 9668).
//!
//! ```text
//! code      message types and codes
//! option    option numbers and properties, the §3.1 option block, uint and Block values
//! message   the message, its decoder and encoder
//! typed     Uri-Path, Content-Format, Observe, Block1/2, Echo, Request-Tag, OSCORE, EDHOC ...
//! edhoc     /.well-known/edhoc requests and responses, EDHOC + OSCORE build and split
//! ```
//!
//! # Why not a CoAP crate
//!
//! `coap-lite` 0.13 (passively maintained) builds without `std`, but its decoder takes input
//! of any size with no bound on the number of options, keeps each option in a `BTreeMap` of
//! `LinkedList`s of `Vec`s (several allocations per option), accepts an unknown version
//! instead of ignoring it and a payload marker followed by no payload (both contrary to
//! RFC 7252 §3), and pulls two incompatible versions of `coap-message` (0.2 and 0.3), which
//! with `coap-message-implementations` is a pre-1.0 trait layer and helper implementations.
//! OSCORE also needs byte-exact control of option blocks both in messages and inside the
//! encrypted plaintext (RFC 8613 §5.3), which is the same codec. RFC 7252 §3 is a few hundred
//! lines, so Ward keeps its own.
//!
//! # Bounds
//!
//! [`Limits`] caps the message size (1152 bytes by default, RFC 7252 §4.6) and the number of
//! options. The decoder checks every claimed length against the bytes present before copying,
//! so no allocation is sized by a length an attacker merely claims, and it never panics.

mod code;
mod edhoc;
mod error;
mod message;
mod option;
mod typed;

pub use code::{Code, MessageType};
pub use edhoc::{
    CombinedRequest, Correlation, EdhocResponse, ErrorCause, WELL_KNOWN_EDHOC,
    combine_edhoc_oscore, edhoc_error_response, edhoc_request, edhoc_response,
    edhoc_trigger_request, encode_connection_id, read_edhoc_request, read_edhoc_response,
    split_correlation, split_edhoc_oscore,
};
pub use error::CoapError;
pub use message::{MAX_TOKEN_LEN, Message, Token};
pub use option::{Block, CoapOption, OptionNumber, content_format, decode_uint, encode_uint};
pub use typed::{MAX_ECHO_LEN, MAX_REQUEST_TAG_LEN};

pub(crate) use option::{decode_options, encode_options};

/// Largest message the codec reads or writes by default: RFC 7252 §4.6's upper bound for a
/// message when the path MTU is unknown (1152 bytes, of which 1024 payload).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1152;
/// Most options a message may carry by default; Ward's requests use fewer than ten.
pub const DEFAULT_MAX_OPTIONS: usize = 32;

/// How much of a message the codec accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded message, in bytes.
    pub max_message_size: usize,
    /// Most options in one message.
    pub max_options: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_options: DEFAULT_MAX_OPTIONS,
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use alloc::vec::Vec;

    /// Bytes from a hex string with no separators.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
}
