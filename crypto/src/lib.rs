//! Ward's cryptography: keys, compact credentials, chain validation, revocations, frame
//! tokens, and the EDHOC and OSCORE protocols cameras speak.
//!
//! This crate holds every rule about what Ward trusts, and nothing else: no I/O, no async,
//! no clock. Callers pass the time in (seconds since the UNIX epoch for credentials,
//! milliseconds for frame tokens) and pass randomness in as a [`rand_core::CryptoRng`], so
//! the same code runs on a gateway, in a seeded simulation and, built without the `std`
//! feature, on a camera's microcontroller.
//!
//! ```text
//! keys        Ed25519 and P-256 keys, COSE_Key files, RFC 9679 key ids
//! credential  CWT credentials (COSE_Sign1) and CCS raw-public-key claim sets
//! issue       fleet root, site CA and end-entity issuance
//! chain       fleet root → site CA → leaf validation, with a reason for every refusal
//! revocation  signed revocations by serial or key id, and the O(1) RevocationSet
//! token       per-frame tokens for video streams
//! backend     the seam to the code that does the arithmetic (pure Rust here)
//! edhoc       EDHOC (RFC 9528) initiator and responder, sans-IO
//! oscore      OSCORE (RFC 8613) security contexts, with Echo (RFC 9175)
//! coap        CoAP messages (RFC 7252) and EDHOC over CoAP (RFC 9528 A.2, RFC 9668)
//! ```
//!
//! # Secrets
//!
//! Private keys and token keys zeroize on drop, never appear in `Debug` output or error
//! messages, and are serialised only into zeroizing buffers. MAC tags are compared in
//! constant time.
//!
//! # Untrusted input
//!
//! Every decoder takes a byte slice, refuses input over a fixed size, screens the CBOR for
//! well-formedness, depth and item count before parsing it, and returns a [`DecodeError`]
//! rather than panicking.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod backend;
mod cbor;
pub mod chain;
pub mod coap;
pub mod credential;
pub mod edhoc;
mod error;
pub mod issue;
pub mod keys;
pub mod oscore;
pub mod revocation;
pub mod token;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod test_rng;

pub use chain::{ChainError, FleetRoot, Link, Policy, Rejection, TrustedSiteCa};
pub use credential::{Ccs, Claims, Credential, Role, Serial};
pub use error::{DecodeError, SignatureError};
pub use issue::{CredentialRequest, IssueError, Issuer};
pub use keys::{Algorithm, KeyId, PublicKey, SecretKey};
pub use revocation::{
    Authority, NoRevocations, Revocation, RevocationError, RevocationReason, RevocationStatement,
    RevocationStatus, RevocationTarget, RevokedBy, VerifiedRevocation,
};
#[cfg(feature = "std")]
pub use revocation::{RevocationDigest, RevocationSet};
