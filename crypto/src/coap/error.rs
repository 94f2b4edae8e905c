//! Why a CoAP message could not be read or written.

use super::option::OptionNumber;

/// Why bytes are not a CoAP message this codec accepts, or a message cannot be encoded.
///
/// RFC 7252 §4.2 and §4.3 tell a receiver what to do with a message it cannot process: a
/// message of an unknown version is silently ignored (§3), every other format error is
/// rejected (a Reset for a Confirmable or Non-confirmable message). [`CoapError::is_silent`]
/// tells the two apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoapError {
    /// The message is larger than the configured limit.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length of the message.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The message ends inside its header, token or an option, or an option claims more
    /// bytes than remain.
    #[error("message is truncated")]
    Truncated,
    /// The version field is not 1 (RFC 7252 §3).
    #[error("unknown CoAP version {0}")]
    UnknownVersion(u8),
    /// Token length 9 to 15, which RFC 7252 §3 reserves.
    #[error("reserved token length {0}")]
    InvalidTokenLength(u8),
    /// An Empty message (code 0.00) with a token or bytes after the message id (§4.1).
    #[error("empty message carries a token or data")]
    NonEmptyEmptyMessage,
    /// An option delta or length nibble of 15 outside a payload marker (§3.1).
    #[error("reserved option nibble")]
    ReservedOptionNibble,
    /// Option deltas add up past 65535.
    #[error("option number overflows")]
    OptionNumberOverflow,
    /// More options than the configured limit.
    #[error("more than {max} options")]
    TooManyOptions {
        /// The configured limit.
        max: usize,
    },
    /// A payload marker followed by nothing (§3: a message format error).
    #[error("payload marker without payload")]
    EmptyPayload,
    /// An option value whose length or content its definition does not allow.
    #[error("invalid value for option {0:?}")]
    InvalidOptionValue(OptionNumber),
    /// A token longer than 8 bytes was given to the encoder.
    #[error("token longer than 8 bytes")]
    TokenTooLong,
    /// The message is not what the operation expects (wrong code, missing option, ...).
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
}

impl CoapError {
    /// Whether RFC 7252 says to drop the message without any reply (unknown version, §3).
    pub fn is_silent(&self) -> bool {
        matches!(self, CoapError::UnknownVersion(_))
    }
}
