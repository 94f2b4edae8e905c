//! OSCORE (RFC 8613): end-to-end protection of CoAP requests and responses with a security
//! context shared by a camera and a node, and Echo (RFC 9175) to re-establish freshness when
//! a context is loaded from storage.
//!
//! ```text
//! context   security context derivation (§3.2), Sender Sequence Number, freshness state
//! header    the OSCORE option value and Partial IV (§6.1)
//! cose      AEAD nonce (§5.2) and AAD (§5.4)
//! classes   Class E / U options (§4.1), Proxy-Uri decomposition (§4.1.3.3)
//! replay    the replay window (§7.4)
//! protect   protecting and verifying requests and responses (§8), Echo challenges
//! ```
//!
//! Everything is sans-IO and runs without `std`: the caller passes messages in and sends what
//! comes out, and draws the random Echo values itself. The cryptography goes through a
//! [`Backend`](crate::backend::Backend); the AEAD tag check is the backend's (constant time).
//!
//! # A session resumed on another node
//!
//! ```text
//! camera                                   node (context restored: needs freshness)
//!   request, PIV 7       ----------->      authentic, but replay state unknown
//!                        <-----------      4.01 {Echo: e}, own PIV      (challenge)
//!   request, PIV 8, {Echo: e} ------>      fresh: window restarts at 8, processed
//!   replay of PIV 8      ----------->      refused (Replay)
//! ```
//!
//! # Secrets
//!
//! Keys and the Common IV (which §12.6 also requires to be secret) zeroize on drop and are
//! never shown by `Debug`. The Master Secret is borrowed for derivation and not kept.
//!
//! # Errors
//!
//! [`OscoreError`] names precisely what failed; [`OscoreError::response_code`] maps the
//! peer's faults to the coarse, unprotected 4.00 / 4.01 / 4.02 of §8.2 and
//! [`error_response`] builds that response.

mod classes;
mod context;
mod cose;
mod error;
mod header;
mod protect;
mod replay;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use context::{
    ContextConfig, ContextParams, Id, MAX_ID_CONTEXT_LEN, MAX_ID_LEN, MAX_MASTER_SECRET_LEN,
    SecurityContext,
};
pub use error::OscoreError;
pub use header::{MAX_OPTION_LEN, MAX_PARTIAL_IV, OscoreOption, PartialIv};
pub use protect::{
    FreshnessChallenge, RequestBinding, ResponseNonce, Verdict, VerifiedRequest, VerifiedResponse,
    error_response,
};
pub use replay::{DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW, ReplayWindow};

/// The OSCORE version in the AAD (§5.4).
pub(crate) const OSCORE_VERSION: i64 = 1;
/// COSE algorithm identifier of AES-CCM-16-64-128, the only AEAD Ward uses (§3.2).
pub const ALG_AES_CCM_16_64_128: i64 = 10;
