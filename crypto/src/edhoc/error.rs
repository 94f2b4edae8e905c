//! Why a handshake failed, grouped by who is at fault, and the EDHOC error message (RFC 9528
//! §6) that tells the peer as little as the RFC allows.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::credential::Rejection;
use super::suite::SuiteList;
use super::{MAX_DIAGNOSTIC_LEN, MAX_MESSAGE_LEN, MAX_NESTING};
use crate::backend::CryptoError;
use crate::cbor::{Reader, Writer};
use crate::error::DecodeError;

/// The diagnostic sent with ERR_CODE 1 for every failure. It is the same whatever failed,
/// so the peer cannot tell a bad MAC from a bad encoding (RFC 9528 §6.2).
pub const GENERIC_DIAGNOSTIC: &str = "EDHOC processing failed";

/// Why an EDHOC step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent a message that is malformed, fails authentication or breaks a rule of
    /// RFC 9528.
    #[error("peer misbehaved: {0}")]
    Peer(PeerError),
    /// The peer asked for something Ward does not implement or its configuration refuses.
    #[error("peer incompatible: {0}")]
    Unsupported(Unsupported),
    /// The peer ended the handshake with an EDHOC error message.
    #[error("peer sent an EDHOC error: {0}")]
    Aborted(ErrorMessage),
    /// The caller could not find, or does not trust, the peer's credential.
    #[error("peer credential rejected: {0}")]
    Rejected(Rejection),
    /// The caller used the API in a way RFC 9528 or Ward forbids.
    #[error("API misuse: {0}")]
    Misuse(Misuse),
}

impl Error {
    /// The error message to send to the peer (RFC 9528 §6), or `None` when the peer itself
    /// sent an error, which is never answered.
    ///
    /// Only cipher suite negotiation (ERR_CODE 2) and unknown credentials (ERR_CODE 3) are
    /// reported as such; every other failure is ERR_CODE 1 with [`GENERIC_DIAGNOSTIC`].
    pub fn to_error_message(&self) -> Option<ErrorMessage> {
        match self {
            Error::Aborted(_) => None,
            Error::Unsupported(Unsupported::CipherSuite { suites_r }) => {
                Some(ErrorMessage::WrongSelectedSuite(*suites_r))
            }
            Error::Rejected(Rejection::UnknownCredential) => Some(ErrorMessage::UnknownCredential),
            _ => Some(ErrorMessage::unspecified()),
        }
    }
}

impl From<PeerError> for Error {
    fn from(err: PeerError) -> Self {
        Error::Peer(err)
    }
}

impl From<Unsupported> for Error {
    fn from(err: Unsupported) -> Self {
        Error::Unsupported(err)
    }
}

impl From<Misuse> for Error {
    fn from(err: Misuse) -> Self {
        Error::Misuse(err)
    }
}

/// What the peer did wrong. Detail for the operator's logs; the peer learns none of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The message is longer than [`MAX_MESSAGE_LEN`].
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The message is not the CBOR sequence RFC 9528 §5 defines.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The ephemeral public key is not a point of the suite's curve, or a low-order point.
    #[error("invalid ephemeral public key")]
    InvalidEphemeralKey,
    /// A MAC, a signature or the AEAD tag did not verify.
    #[error("authentication failed")]
    Authentication,
    /// C_R equals C_I, which would give both OSCORE endpoints the same Sender ID.
    #[error("connection identifiers C_I and C_R are equal")]
    SameConnectionId,
}

impl From<DecodeError> for PeerError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::Malformed(what) => PeerError::Malformed(what),
            DecodeError::TooLarge { len, .. } => PeerError::TooLarge(len),
            DecodeError::Truncated => PeerError::Malformed("truncated"),
            DecodeError::TooDeep => PeerError::Malformed("nesting too deep"),
            DecodeError::TooManyItems => PeerError::Malformed("too many items"),
            DecodeError::TrailingBytes => PeerError::Malformed("trailing bytes"),
            _ => PeerError::Malformed("invalid item"),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(err: DecodeError) -> Self {
        Error::Peer(err.into())
    }
}

/// What the peer asked for that Ward does not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// A METHOD that is not 0 to 3, or one the configuration does not allow.
    #[error("method {0}")]
    Method(i64),
    /// The selected suite is not supported, or a suite the Initiator prefers is
    /// (RFC 9528 §5.2.3); `suites_r` is what this Responder supports, for ERR_CODE 2.
    #[error("cipher suite; supported: {suites_r}")]
    CipherSuite {
        /// SUITES_R: the suites this Responder supports.
        suites_r: SuiteList,
    },
    /// The Responder's SUITES_R holds no suite the Initiator supports (RFC 9528 §6.3.1).
    #[error("no cipher suite in common")]
    NoCommonSuite,
    /// A critical EAD item whose label the application does not handle (RFC 9528 §3.8).
    #[error("critical EAD item with label {0}")]
    CriticalEad(i64),
    /// A connection identifier longer than [`super::MAX_CONNECTION_ID_LEN`].
    #[error("connection identifier too long for OSCORE")]
    ConnectionIdLength,
    /// The peer's credential holds a key that cannot authenticate with this method and suite.
    #[error("credential key does not fit the method and cipher suite")]
    CredentialKey,
}

/// How the caller misused the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A configuration without suites or methods, or with too many suites.
    #[error("empty or oversized configuration")]
    Configuration,
    /// The suite asked for is not in the configuration.
    #[error("cipher suite not configured")]
    SuiteNotConfigured,
    /// The local credential's key does not fit the method and suite of this handshake.
    #[error("local credential does not fit the method and cipher suite")]
    LocalCredential,
    /// The private key does not belong to the credential's public key.
    #[error("private key does not match the credential")]
    KeyMismatch,
    /// A private scalar that is zero or not below the group order.
    #[error("invalid private scalar")]
    InvalidScalar,
    /// C_R chosen equal to C_I (RFC 9528 §3.3.3: OSCORE needs distinct IDs).
    #[error("C_R equals C_I")]
    SameConnectionId,
    /// A connection identifier or kid beyond its limit.
    #[error("identifier too long")]
    IdentifierTooLong,
    /// EAD items beyond [`super::MAX_EAD_ITEMS`] or [`super::MAX_EAD_VALUE_LEN`], or a
    /// critical padding item.
    #[error("invalid EAD items")]
    Ead,
    /// The message being built would exceed [`MAX_MESSAGE_LEN`].
    #[error("message would exceed the size limit")]
    MessageTooLarge,
    /// An exporter output longer than HKDF can produce.
    #[error("exporter output too long")]
    OutputTooLong,
    /// The random number generator kept producing invalid scalars.
    #[error("could not draw a valid ephemeral key")]
    Randomness,
}

/// Maps a backend failure on a key the peer supplied.
pub(crate) fn peer_key_error(_: CryptoError) -> Error {
    Error::Peer(PeerError::InvalidEphemeralKey)
}

/// Maps a backend failure on a key or length the caller supplied.
pub(crate) fn local_error(err: CryptoError) -> Error {
    match err {
        CryptoError::OutputTooLong => Error::Misuse(Misuse::OutputTooLong),
        _ => Error::Misuse(Misuse::InvalidScalar),
    }
}

/// An EDHOC error message (RFC 9528 §6): `(ERR_CODE : int, ERR_INFO : any)`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorMessage {
    /// ERR_CODE 1: an unspecified error with a text for humans (§6.2).
    Unspecified(String),
    /// ERR_CODE 2: wrong selected cipher suite, with the Responder's SUITES_R (§6.3).
    WrongSelectedSuite(SuiteList),
    /// ERR_CODE 3: the credential referenced by ID_CRED_x is unknown (§6.4).
    UnknownCredential,
    /// Any other ERR_CODE; its ERR_INFO is skipped.
    Other(i64),
}

const ERR_UNSPECIFIED: i64 = 1;
const ERR_WRONG_SUITE: i64 = 2;
const ERR_UNKNOWN_CREDENTIAL: i64 = 3;

impl ErrorMessage {
    /// ERR_CODE 1 with the fixed [`GENERIC_DIAGNOSTIC`].
    pub fn unspecified() -> ErrorMessage {
        ErrorMessage::Unspecified(String::from(GENERIC_DIAGNOSTIC))
    }

    /// The ERR_CODE.
    pub fn code(&self) -> i64 {
        match self {
            ErrorMessage::Unspecified(_) => ERR_UNSPECIFIED,
            ErrorMessage::WrongSelectedSuite(_) => ERR_WRONG_SUITE,
            ErrorMessage::UnknownCredential => ERR_UNKNOWN_CREDENTIAL,
            ErrorMessage::Other(code) => *code,
        }
    }

    /// The message as a CBOR sequence. An `Other` code is sent with ERR_INFO `true`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        let mut w = Writer::new(&mut out);
        w.int(self.code());
        match self {
            ErrorMessage::Unspecified(text) => {
                // Our own diagnostics are short; cut a caller's at a character boundary.
                let mut end = text.len().min(MAX_DIAGNOSTIC_LEN);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                w.text(&text[..end]);
            }
            ErrorMessage::WrongSelectedSuite(suites) => suites.encode(&mut w),
            ErrorMessage::UnknownCredential | ErrorMessage::Other(_) => w.bool(true),
        }
        out
    }

    /// Reads an error message from untrusted bytes.
    pub fn decode(bytes: &[u8]) -> Result<ErrorMessage, PeerError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(PeerError::TooLarge(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        let code = r.int()?;
        let message = match code {
            // RFC 9528 §6.2: ERR_INFO is a text string for humans.
            ERR_UNSPECIFIED => {
                let text = r.text()?;
                if text.len() > MAX_DIAGNOSTIC_LEN {
                    return Err(PeerError::Malformed("diagnostic text too long"));
                }
                ErrorMessage::Unspecified(String::from(text))
            }
            // RFC 9528 §6.3: ERR_INFO is SUITES_R.
            ERR_WRONG_SUITE => ErrorMessage::WrongSelectedSuite(SuiteList::decode(&mut r)?),
            // RFC 9528 §6.4: ERR_INFO is `true`.
            ERR_UNKNOWN_CREDENTIAL => {
                if !r.bool()? {
                    return Err(PeerError::Malformed("ERR_INFO of code 3 is not true"));
                }
                ErrorMessage::UnknownCredential
            }
            // RFC 9528 §6.1: code 0 is never sent; whoever receives it aborts without
            // answering, as for any other code, so it is kept like an unknown code.
            other => {
                r.item(MAX_NESTING)?;
                ErrorMessage::Other(other)
            }
        };
        if !r.is_empty() {
            return Err(PeerError::Malformed(
                "trailing bytes after the error message",
            ));
        }
        Ok(message)
    }
}

impl fmt::Debug for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The text comes from the peer: show it escaped.
            ErrorMessage::Unspecified(text) => write!(f, "Unspecified({text:?})"),
            ErrorMessage::WrongSelectedSuite(s) => write!(f, "WrongSelectedSuite({s:?})"),
            ErrorMessage::UnknownCredential => f.write_str("UnknownCredential"),
            ErrorMessage::Other(code) => write!(f, "Other({code})"),
        }
    }
}

impl fmt::Display for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorMessage::Unspecified(text) => write!(f, "unspecified error {text:?}"),
            ErrorMessage::WrongSelectedSuite(s) => write!(f, "wrong selected suite, SUITES_R {s}"),
            ErrorMessage::UnknownCredential => f.write_str("unknown credential referenced"),
            ErrorMessage::Other(code) => write!(f, "error code {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edhoc::CipherSuite;

    #[test]
    fn error_messages_round_trip() {
        let suites = SuiteList::new(&[CipherSuite::Suite2]).expect("one suite");
        for message in [
            ErrorMessage::unspecified(),
            ErrorMessage::WrongSelectedSuite(suites),
            ErrorMessage::UnknownCredential,
            ErrorMessage::Other(-5),
            ErrorMessage::Other(0),
        ] {
            assert_eq!(ErrorMessage::decode(&message.encode()), Ok(message));
        }
        // RFC 9529 §3.2: the Responder supporting only suite 2 answers `02 02`.
        assert_eq!(
            ErrorMessage::WrongSelectedSuite(suites).encode(),
            [0x02, 0x02]
        );
    }

    #[test]
    fn malformed_error_messages_are_refused() {
        for wire in [
            &[0x01, 0x01][..], // ERR_INFO of code 1 must be text
            &[0x03, 0xf4],     // ERR_INFO of code 3 must be true
            &[0x02, 0x02, 0x00],
            &[0x40],
            &[],
        ] {
            assert!(ErrorMessage::decode(wire).is_err(), "{wire:02x?}");
        }
    }

    #[test]
    fn every_failure_but_negotiation_looks_the_same_to_the_peer() {
        let auth = Error::Peer(PeerError::Authentication).to_error_message();
        let parse = Error::Peer(PeerError::Malformed("x")).to_error_message();
        assert_eq!(auth, parse);
        assert_eq!(auth, Some(ErrorMessage::unspecified()));
        assert_eq!(
            Error::Aborted(ErrorMessage::UnknownCredential).to_error_message(),
            None
        );
    }
}
