//! The OSCORE security context (RFC 8613 §3): its derivation from a Master Secret, its
//! mutable state, and the freshness state that Echo (RFC 9175) re-establishes.
//!
//! ```text
//!  Master Secret, Master Salt, ID Context, Sender ID, Recipient ID
//!                          | HKDF (§3.2.1)
//!            Sender Key, Recipient Key, Common IV
//!  + Sender Sequence Number (§3.2.2)   + Replay Window (§7.4)   + freshness (RFC 9175)
//! ```

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroize;

use super::ALG_AES_CCM_16_64_128;
use super::error::OscoreError;
use super::header::{MAX_PARTIAL_IV, PartialIv};
use super::replay::{DEFAULT_REPLAY_WINDOW, ReplayWindow};
use crate::backend::{AEAD_KEY_LEN, AEAD_NONCE_LEN, Backend};
use crate::cbor::Writer;
use crate::coap::MAX_ECHO_LEN;

/// Longest Sender or Recipient ID with AES-CCM-16-64-128: nonce length minus 6 (§3.3).
pub const MAX_ID_LEN: usize = AEAD_NONCE_LEN - 6;
/// Longest ID Context: its length travels in one byte of the OSCORE option (§6.1).
pub const MAX_ID_CONTEXT_LEN: usize = 255;
/// Longest Master Secret accepted (RFC 9528 Appendix A.1 allows longer than the AEAD key).
pub const MAX_MASTER_SECRET_LEN: usize = 255;

/// A Sender or Recipient ID of 0 to 7 bytes, kept inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id {
    bytes: [u8; MAX_ID_LEN],
    len: u8,
}

impl Id {
    /// An ID, or `None` if longer than [`MAX_ID_LEN`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_ID_LEN {
            return None;
        }
        let mut id = Id {
            bytes: [0; MAX_ID_LEN],
            len: bytes.len() as u8,
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(id)
    }

    /// The ID bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({:02x?})", self.as_slice())
    }
}

/// The input parameters of §3.2, as the caller holds them. AEAD and HKDF algorithms are
/// fixed to Ward's suite: AES-CCM-16-64-128 (COSE 10) and HKDF SHA-256.
#[derive(Clone, Copy)]
pub struct ContextParams<'a> {
    /// The Master Secret (secret).
    pub master_secret: &'a [u8],
    /// The Master Salt; the default is empty (§3.2).
    pub master_salt: &'a [u8],
    /// The ID Context, if the context has one (§5.1).
    pub id_context: Option<&'a [u8]>,
    /// This endpoint's Sender ID.
    pub sender_id: &'a [u8],
    /// The peer's Sender ID, this endpoint's Recipient ID.
    pub recipient_id: &'a [u8],
}

impl fmt::Debug for ContextParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextParams")
            .field("master_secret", &"..")
            .field("master_salt", &self.master_salt)
            .field("id_context", &self.id_context)
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .finish()
    }
}

/// Choices the two endpoints need not share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextConfig {
    /// Replay window size (§3.2.2; default 32).
    pub replay_window: usize,
    /// Whether requests carry the ID Context as 'kid context' (§5.1, Appendix C.6).
    pub send_kid_context: bool,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            replay_window: DEFAULT_REPLAY_WINDOW,
            send_kid_context: false,
        }
    }
}

/// The derived keys and Common IV, all secret (§12.6). Zeroized on drop.
pub(crate) struct Keys {
    pub(crate) sender_key: [u8; AEAD_KEY_LEN],
    pub(crate) recipient_key: [u8; AEAD_KEY_LEN],
    pub(crate) common_iv: [u8; AEAD_NONCE_LEN],
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.sender_key.zeroize();
        self.recipient_key.zeroize();
        self.common_iv.zeroize();
    }
}

/// An Echo value chosen by the server: 1 to 40 bytes (RFC 9175 §2.2.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct EchoValue {
    bytes: [u8; MAX_ECHO_LEN],
    len: u8,
}

impl EchoValue {
    pub(crate) fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > MAX_ECHO_LEN {
            return None;
        }
        let mut value = EchoValue {
            bytes: [0; MAX_ECHO_LEN],
            len: bytes.len() as u8,
        };
        value.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(value)
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Whether the replay state can be trusted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// The replay window reflects every request received with this context.
    Established,
    /// The replay state was lost or not carried over (a context loaded from storage): no
    /// request is processed until one proves fresh with Echo (Appendix B.1.2).
    Required,
    /// A 4.01 carrying this Echo value was sent; a request returning it is fresh.
    Challenged(EchoValue),
}

/// An OSCORE security context: Common, Sender and Recipient Context (§3.1).
///
/// Its `Debug` shows identifiers and counters, never keys.
pub struct SecurityContext {
    pub(crate) keys: Keys,
    pub(crate) sender_id: Id,
    pub(crate) recipient_id: Id,
    pub(crate) id_context: Option<Vec<u8>>,
    pub(crate) sender_sequence_number: u64,
    pub(crate) replay: ReplayWindow,
    pub(crate) freshness: Freshness,
    pub(crate) send_kid_context: bool,
}

impl fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityContext")
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("id_context", &self.id_context)
            .field("sender_sequence_number", &self.sender_sequence_number)
            .field("needs_freshness", &self.needs_freshness())
            .finish_non_exhaustive()
    }
}

/// Expands one parameter: `HKDF-Expand(PRK, info, L)` with
/// `info = [id, id_context / nil, alg_aead, type, L]` (§3.2.1).
fn expand<B: Backend>(
    backend: &B,
    prk: &crate::backend::Secret,
    id: &[u8],
    id_context: Option<&[u8]>,
    label: &str,
    out: &mut [u8],
) -> Result<(), OscoreError> {
    let mut info = Vec::with_capacity(24 + id.len() + id_context.map_or(0, <[u8]>::len));
    let mut w = Writer::new(&mut info);
    w.array(5);
    w.bytes(id);
    match id_context {
        Some(context) => w.bytes(context),
        None => w.null(),
    }
    w.int(ALG_AES_CCM_16_64_128);
    w.text(label);
    w.int(out.len() as i64);
    backend
        .hkdf_expand(prk, &info, out)
        .map_err(|_| OscoreError::InvalidParameter("HKDF output length"))
}

impl SecurityContext {
    /// Derives a fresh context (§3.2): Sender Sequence Number 0, empty replay window.
    pub fn derive<B: Backend>(
        backend: &B,
        params: &ContextParams<'_>,
        config: ContextConfig,
    ) -> Result<Self, OscoreError> {
        // §3.3: IDs are at most nonce length - 6 bytes; a context whose two IDs are equal
        // would encrypt both directions with one key and colliding nonces.
        let sender_id = Id::new(params.sender_id).ok_or(OscoreError::InvalidParameter(
            "Sender ID longer than 7 bytes",
        ))?;
        let recipient_id = Id::new(params.recipient_id).ok_or(OscoreError::InvalidParameter(
            "Recipient ID longer than 7 bytes",
        ))?;
        if sender_id == recipient_id {
            return Err(OscoreError::InvalidParameter(
                "Sender ID equals Recipient ID",
            ));
        }
        if params.master_secret.is_empty() || params.master_secret.len() > MAX_MASTER_SECRET_LEN {
            return Err(OscoreError::InvalidParameter("Master Secret length"));
        }
        if params
            .id_context
            .is_some_and(|c| c.len() > MAX_ID_CONTEXT_LEN)
        {
            return Err(OscoreError::InvalidParameter(
                "ID Context longer than 255 bytes",
            ));
        }
        let replay = ReplayWindow::new(config.replay_window)?;

        // §3.2.1: PRK = HMAC(Master Salt, Master Secret). An empty salt is the same HMAC key
        // as RFC 5869's string of zeros, both being padded with zeros to the block size.
        let prk = backend.hkdf_extract(params.master_salt, params.master_secret);
        let mut keys = Keys {
            sender_key: [0; AEAD_KEY_LEN],
            recipient_key: [0; AEAD_KEY_LEN],
            common_iv: [0; AEAD_NONCE_LEN],
        };
        let id_context = params.id_context;
        expand(
            backend,
            &prk,
            params.sender_id,
            id_context,
            "Key",
            &mut keys.sender_key,
        )?;
        expand(
            backend,
            &prk,
            params.recipient_id,
            id_context,
            "Key",
            &mut keys.recipient_key,
        )?;
        expand(backend, &prk, &[], id_context, "IV", &mut keys.common_iv)?;

        Ok(SecurityContext {
            keys,
            sender_id,
            recipient_id,
            id_context: params.id_context.map(<[u8]>::to_vec),
            sender_sequence_number: 0,
            replay,
            freshness: Freshness::Established,
            send_kid_context: config.send_kid_context,
        })
    }

    /// Rebuilds a context from storage, for instance a session resumed on another node
    /// (§7.5.1, Appendix B.1).
    ///
    /// `sender_sequence_number` must be above every number this Sender Context ever used,
    /// wherever it was used: store a reservation ahead of use and restore past it
    /// (Appendix B.1.1, SSN2 = SSN1 + K + F). The replay state is not trusted: the first
    /// requests are answered with an Echo challenge until one proves fresh (Appendix B.1.2).
    pub fn restore<B: Backend>(
        backend: &B,
        params: &ContextParams<'_>,
        config: ContextConfig,
        sender_sequence_number: u64,
    ) -> Result<Self, OscoreError> {
        let mut context = SecurityContext::derive(backend, params, config)?;
        context.sender_sequence_number = sender_sequence_number;
        context.freshness = Freshness::Required;
        Ok(context)
    }

    /// This endpoint's Sender ID.
    pub fn sender_id(&self) -> &[u8] {
        self.sender_id.as_slice()
    }

    /// This endpoint's Recipient ID: the 'kid' its peer's requests carry.
    pub fn recipient_id(&self) -> &[u8] {
        self.recipient_id.as_slice()
    }

    /// The ID Context, if any.
    pub fn id_context(&self) -> Option<&[u8]> {
        self.id_context.as_deref()
    }

    /// The next Sender Sequence Number, which a caller persisting the context stores (or a
    /// reservation above it).
    pub fn sender_sequence_number(&self) -> u64 {
        self.sender_sequence_number
    }

    /// Whether requests are refused until one proves fresh with Echo.
    pub fn needs_freshness(&self) -> bool {
        self.freshness != Freshness::Established
    }

    /// Stops trusting the replay state: the next request is answered with an Echo challenge
    /// (for instance after the window may have been lost, Appendix B.1.2).
    pub fn require_freshness(&mut self) {
        self.freshness = Freshness::Required;
    }

    /// Takes the next Partial IV from the Sender Sequence Number (§8.1 step 3), refusing once
    /// the number passes 2^40 - 1 (§7.2.1). The number is consumed even if the caller later
    /// fails, so that it is never used twice.
    pub(crate) fn next_partial_iv(&mut self) -> Result<PartialIv, OscoreError> {
        if self.sender_sequence_number > MAX_PARTIAL_IV {
            return Err(OscoreError::SequenceExhausted);
        }
        let piv =
            PartialIv::new(self.sender_sequence_number).ok_or(OscoreError::SequenceExhausted)?;
        self.sender_sequence_number += 1;
        Ok(piv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::RustCrypto;
    use crate::coap::test_support::hex;

    /// One key-derivation vector of RFC 8613 Appendix C.1 to C.3, for one side.
    struct Vector {
        salt: &'static str,
        id_context: Option<&'static str>,
        sender_id: &'static str,
        recipient_id: &'static str,
        sender_key: &'static str,
        recipient_key: &'static str,
        common_iv: &'static str,
    }

    const MASTER_SECRET: &str = "0102030405060708090a0b0c0d0e0f10";

    fn check(v: &Vector) {
        let (secret, salt) = (hex(MASTER_SECRET), hex(v.salt));
        let (sid, rid) = (hex(v.sender_id), hex(v.recipient_id));
        let context = v.id_context.map(hex);
        let params = ContextParams {
            master_secret: &secret,
            master_salt: &salt,
            id_context: context.as_deref(),
            sender_id: &sid,
            recipient_id: &rid,
        };
        let ctx = SecurityContext::derive(&RustCrypto, &params, ContextConfig::default())
            .expect("valid parameters");
        assert_eq!(
            ctx.keys.sender_key.to_vec(),
            hex(v.sender_key),
            "sender key"
        );
        assert_eq!(
            ctx.keys.recipient_key.to_vec(),
            hex(v.recipient_key),
            "recipient key"
        );
        assert_eq!(ctx.keys.common_iv.to_vec(), hex(v.common_iv), "common IV");
    }

    #[test]
    fn c1_key_derivation_with_master_salt() {
        let client = Vector {
            salt: "9e7ca92223786340",
            id_context: None,
            sender_id: "",
            recipient_id: "01",
            sender_key: "f0910ed7295e6ad4b54fc793154302ff",
            recipient_key: "ffb14e093c94c9cac9471648b4f98710",
            common_iv: "4622d4dd6d944168eefb54987c",
        };
        check(&client);
        check(&Vector {
            sender_id: "01",
            recipient_id: "",
            sender_key: client.recipient_key,
            recipient_key: client.sender_key,
            ..client
        });
    }

    #[test]
    fn c2_key_derivation_without_master_salt() {
        let client = Vector {
            salt: "",
            id_context: None,
            sender_id: "00",
            recipient_id: "01",
            sender_key: "321b26943253c7ffb6003b0b64d74041",
            recipient_key: "e57b5635815177cd679ab4bcec9d7dda",
            common_iv: "be35ae297d2dace910c52e99f9",
        };
        check(&client);
        check(&Vector {
            sender_id: "01",
            recipient_id: "00",
            sender_key: client.recipient_key,
            recipient_key: client.sender_key,
            ..client
        });
    }

    #[test]
    fn c3_key_derivation_with_id_context() {
        let client = Vector {
            salt: "9e7ca92223786340",
            id_context: Some("37cbf3210017a2d3"),
            sender_id: "",
            recipient_id: "01",
            sender_key: "af2a1300a5e95788b356336eeecd2b92",
            recipient_key: "e39a0c7c77b43f03b4b39ab9a268699f",
            common_iv: "2ca58fb85ff1b81c0b7181b85e",
        };
        check(&client);
        check(&Vector {
            sender_id: "01",
            recipient_id: "",
            sender_key: client.recipient_key,
            recipient_key: client.sender_key,
            ..client
        });
    }

    #[test]
    fn invalid_parameters_are_refused() {
        let secret = hex(MASTER_SECRET);
        let base = ContextParams {
            master_secret: &secret,
            master_salt: &[],
            id_context: None,
            sender_id: &[0x00],
            recipient_id: &[0x01],
        };
        let derive = |p: ContextParams<'_>, c: ContextConfig| {
            SecurityContext::derive(&RustCrypto, &p, c).map(|_| ())
        };
        let config = ContextConfig::default();
        assert!(derive(base, config).is_ok());
        assert!(
            derive(
                ContextParams {
                    sender_id: &[0; 8],
                    ..base
                },
                config
            )
            .is_err()
        );
        assert!(
            derive(
                ContextParams {
                    recipient_id: &[0; 8],
                    ..base
                },
                config
            )
            .is_err()
        );
        assert!(
            derive(
                ContextParams {
                    recipient_id: &[0x00],
                    ..base
                },
                config
            )
            .is_err()
        );
        assert!(
            derive(
                ContextParams {
                    master_secret: &[],
                    ..base
                },
                config
            )
            .is_err()
        );
        let long = [0u8; 256];
        assert!(
            derive(
                ContextParams {
                    id_context: Some(&long),
                    ..base
                },
                config
            )
            .is_err()
        );
        let no_window = ContextConfig {
            replay_window: 0,
            ..config
        };
        assert!(derive(base, no_window).is_err());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let secret = hex(MASTER_SECRET);
        let params = ContextParams {
            master_secret: &secret,
            master_salt: &[],
            id_context: None,
            sender_id: &[0x00],
            recipient_id: &[0x01],
        };
        let ctx =
            SecurityContext::derive(&RustCrypto, &params, ContextConfig::default()).expect("valid");
        let shown = alloc::format!("{ctx:?} {params:?}");
        // The C.2 sender key begins 0x32 0x1b; neither it nor the secret may appear.
        assert!(
            !shown.contains("321b") && !shown.contains("50, 27"),
            "{shown}"
        );
        assert!(!shown.contains("1, 2, 3, 4"), "{shown}");
    }

    #[test]
    fn the_sequence_number_stops_at_2_pow_40_minus_1() {
        let secret = hex(MASTER_SECRET);
        let params = ContextParams {
            master_secret: &secret,
            master_salt: &[],
            id_context: None,
            sender_id: &[0x00],
            recipient_id: &[0x01],
        };
        let mut ctx = SecurityContext::restore(
            &RustCrypto,
            &params,
            ContextConfig::default(),
            MAX_PARTIAL_IV,
        )
        .expect("valid");
        assert!(ctx.needs_freshness());
        let last = ctx.next_partial_iv().expect("the last number");
        assert_eq!(last.value(), MAX_PARTIAL_IV);
        assert_eq!(ctx.next_partial_iv(), Err(OscoreError::SequenceExhausted));
        assert_eq!(ctx.next_partial_iv(), Err(OscoreError::SequenceExhausted));
    }
}
