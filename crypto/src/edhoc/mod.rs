//! EDHOC (RFC 9528): the lightweight authenticated key exchange a camera runs before OSCORE.
//!
//! Both roles are sans-IO chains of states. Each state consumes itself and returns the next
//! one, named for what it expects next, together with the bytes to send. Nothing here reads
//! a clock, draws randomness or touches a socket: the caller passes the ephemeral private
//! scalar in (so the traces of RFC 9529 can be replayed byte for byte), or uses the `*_with_rng`
//! conveniences, which draw it from a [`rand_core::CryptoRng`].
//!
//! ```text
//!  Initiator (camera)                                        Responder (node)
//!  Initiator::start ──────────── message_1 ────────────────▶ Responder::process_message_1
//!        │                                                         │ ResponderReadyM2
//!        │  InitiatorWaitM2                                        │ .prepare_message_2
//!  .process_message_2 ◀───────── message_2 (or error) ──────────── │ ResponderWaitM3
//!        │  InitiatorWaitCredR: id_cred_r(), ead_2()               │
//!  .verify(CRED_R)  (the caller resolved ID_CRED_R and trusts it)  │
//!        │  InitiatorReadyM3                                       │
//!  .prepare_message_3 ────────── message_3 ─────────────────▶ .process_message_3
//!        │  InitiatorWaitM4                                        │ ResponderWaitCredI
//!        │                                                  .verify(CRED_I)
//!        │                                                         │ ResponderReadyM4
//!  .process_message_4 ◀───────── message_4 (optional) ─────── .prepare_message_4 / .finish
//!        ▼                                                         ▼
//!     Session: PRK_out, EDHOC_Exporter, EDHOC_KeyUpdate, OSCORE parameters (Appendix A.1)
//! ```
//!
//! # What is implemented
//!
//! Methods 0 to 3 (signature or static Diffie-Hellman for each side, §3.2); cipher suites 0
//! (AES-CCM-16-64-128, SHA-256, 8, X25519, EdDSA) and 2 (AES-CCM-16-64-128, SHA-256, 8,
//! P-256, ES256), with the negotiation of §6.3 (error code 2 carrying SUITES_R, and an
//! initiator that retries with a suite both support); the error message of §6; connection
//! identifiers and compact `kid` references (§3.3.2, §3.5.3); credentials as CCS or CWT,
//! by value (`kccs`, `kcwt`) or by reference (`kid`), plus any other COSE header map such as
//! `x5t`, which the caller resolves; EAD items with the critical flag of §3.8; message_4;
//! `EDHOC_Exporter`, `EDHOC_KeyUpdate` (Appendix H) and the OSCORE parameters (Appendix A.1).
//!
//! # Trust
//!
//! EDHOC proves possession of the key in a credential; whether the credential is trusted is
//! the caller's decision. The states that need the peer's credential hand out its `ID_CRED_x`
//! and take an [`AuthCredential`] back ([`CredentialResolver`] wraps that in one call). A
//! caller that cannot find or does not trust the credential drops the state and sends the
//! error message of [`Rejection`].
//!
//! # Duplicates and retransmission
//!
//! Each state is consumed by the message it processes, so no message is ever processed
//! twice in one session (RFC 9528 §7). A caller that must answer a retransmitted message
//! resends the bytes it sent before; it never rebuilds them, which with ES256 would reuse
//! K_3 and IV_3 on a different plaintext.
//!
//! # Untrusted input
//!
//! Every message is checked against [`MAX_MESSAGE_LEN`] first and then read item by item with
//! a borrowing CBOR reader: every length a peer claims is checked against the bytes present
//! before anything is copied, and identifiers, EAD items and credentials have their own
//! limits. Decoding never panics. Failures are reported to the caller in detail
//! ([`Error`]), but the peer only ever learns the coarse error message of
//! [`Error::to_error_message`], the same for every integrity or parsing failure, so a peer
//! that flips bits in a ciphertext learns nothing about which check failed.
//!
//! # Secrets
//!
//! Pseudorandom keys travel in [`Secret`](crate::backend::Secret), AEAD keys and keystreams in
//! zeroizing buffers, and ephemeral and static Diffie-Hellman keys in the backend's
//! zeroizing key type. No state prints a secret under `Debug`. MACs are compared in constant
//! time.

mod credential;
mod ead;
mod error;
mod id;
mod initiator;
mod key_schedule;
mod message;
mod responder;
mod session;
mod suite;

pub use credential::{
    AuthCredential, CredentialKey, CredentialResolver, LocalCredential, Rejection,
};
pub use ead::EadItem;
pub use error::{Error, ErrorMessage, GENERIC_DIAGNOSTIC, Misuse, PeerError, Unsupported};
pub use id::{ConnectionId, IdCred};
pub use initiator::{
    Initiator, InitiatorConfig, InitiatorReadyM3, InitiatorWaitCredR, InitiatorWaitM2,
    InitiatorWaitM4,
};
pub use responder::{
    Responder, ResponderConfig, ResponderReadyM2, ResponderReadyM4, ResponderWaitCredI,
    ResponderWaitM3,
};
pub use session::{OSCORE_SALT_LEN, OscoreParameters, Role, Session};
pub use suite::{CipherSuite, Method, SuiteList};

/// Largest EDHOC message accepted or produced, in bytes. A message_2 carrying a Ward CWT by
/// value, a signature and an EAD item stays well below it; the keystream of message_2 is
/// derived with HKDF-Expand, which could go to 8160 bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Longest connection identifier: C_I and C_R become OSCORE Sender and Recipient IDs
/// (Appendix A.1), and AES-CCM-16-64-128's 13-byte nonce leaves room for 7 (RFC 8613 §3.3).
pub const MAX_CONNECTION_ID_LEN: usize = 7;
/// Longest `kid` accepted in ID_CRED_x: an RFC 9679 thumbprint is 32 bytes.
pub const MAX_KID_LEN: usize = 32;
/// Most EAD items in one message, padding included.
pub const MAX_EAD_ITEMS: usize = 8;
/// Longest `ead_value` in one EAD item.
pub const MAX_EAD_VALUE_LEN: usize = 1024;
/// Most cipher suites in SUITES_I or SUITES_R.
pub const MAX_SUITES: usize = 8;
/// Longest diagnostic text kept from an error message with ERR_CODE 1.
pub const MAX_DIAGNOSTIC_LEN: usize = 128;
/// Deepest nesting accepted inside ID_CRED_x, EAD and error messages.
const MAX_NESTING: usize = 8;

#[cfg(test)]
mod tests;
