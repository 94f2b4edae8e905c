//! Why OSCORE refused to protect or verify a message.
//!
//! The variants are grouped by who is at fault. For the peer's faults RFC 8613 §8.2 names
//! the unprotected error response a server MAY send; [`OscoreError::response_code`] gives it,
//! so that the caller answers with the coarse code and keeps the detail for its logs.

use crate::coap::{CoapError, Code};

/// Why OSCORE processing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OscoreError {
    // The message from the peer.
    /// The message has no OSCORE option: it is not an OSCORE message.
    #[error("no OSCORE option")]
    NotOscore,
    /// The OSCORE option or the COSE object cannot be decompressed (§6.1, §8.2 step 2):
    /// reserved flag bits or Partial IV length, a non-minimal or missing Partial IV, a
    /// repeated option, no payload (§2).
    #[error("malformed OSCORE option: {0}")]
    Malformed(&'static str),
    /// No security context matches the 'kid' and 'kid context' (§8.2 step 2).
    #[error("no security context for this kid")]
    UnknownContext,
    /// The Partial IV was received before or is below the replay window (§7.4).
    #[error("replayed or too old")]
    Replay,
    /// The AEAD tag did not verify (§8.2 step 6, §8.4 step 5).
    #[error("decryption failed")]
    DecryptionFailed,
    /// The decrypted plaintext is not a code, options and payload of the right kind (§5.3).
    #[error("malformed plaintext: {0}")]
    MalformedPlaintext(&'static str),

    // This endpoint's state or its caller.
    /// The Sender Sequence Number passed 2^40 - 1: no more messages may be protected with
    /// this Sender Context (§7.2.1).
    #[error("sender sequence number exhausted")]
    SequenceExhausted,
    /// The message to protect already has an OSCORE option: nested OSCORE is not supported
    /// (§4.1.3.7).
    #[error("message is already OSCORE-protected")]
    Nested,
    /// The response to a request already protected with the request's nonce: a second
    /// response to it needs its own Partial IV (§5.2, Appendix D.4).
    #[error("request nonce already used")]
    NonceReuse,
    /// The message cannot be protected as given (a request without a method, a Proxy-Uri
    /// that cannot be decomposed, an Echo value of the wrong length, ...).
    #[error("cannot protect: {0}")]
    Unprotectable(&'static str),
    /// Security context parameters out of range (§3.3, §5.2).
    #[error("invalid security context parameter: {0}")]
    InvalidParameter(&'static str),
    /// A CoAP encoding failure while assembling a message.
    #[error("CoAP: {0}")]
    Coap(#[from] CoapError),
}

impl OscoreError {
    /// The code of the unprotected error response a server MAY send for a request that failed
    /// with this error (§8.2, §7.4), or `None` when the failure is this endpoint's own.
    ///
    /// The caller may also set an outer Max-Age of zero on that response (§4.1.3.1).
    pub fn response_code(&self) -> Option<Code> {
        match self {
            OscoreError::Malformed(_) => Some(Code::BAD_OPTION),
            OscoreError::UnknownContext | OscoreError::Replay => Some(Code::UNAUTHORIZED),
            OscoreError::DecryptionFailed | OscoreError::MalformedPlaintext(_) => {
                Some(Code::BAD_REQUEST)
            }
            _ => None,
        }
    }
}
