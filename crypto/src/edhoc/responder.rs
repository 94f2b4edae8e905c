//! The Responder: the side that answers message_1 with message_2, a node in Ward.
//!
//! ```text
//! Responder::process_message_1 ─▶ ResponderReadyM2 ─prepare_message_2─▶ ResponderWaitM3
//!   ─process_message_3─▶ ResponderWaitCredI ─verify(CRED_I)─▶ ResponderReadyM4
//!   ─prepare_message_4 / finish─▶ Session
//! ```
//!
//! A message_3 replayed from another session fails here: its keys come from that
//! session's G_XY and TH_3, and each state is consumed by the message it processes, so a
//! second message_3 cannot reach the same state either.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use super::MAX_EAD_ITEMS;
use super::credential::{AuthCredential, CredentialResolver, LocalCredential, check_peer_key};
use super::ead::{self, EadItem};
use super::error::{Error, Misuse, PeerError, Unsupported, peer_key_error};
use super::id::{ConnectionId, IdCred};
use super::initiator::draw_scalar;
use super::key_schedule::{self as ks, Th};
use super::message::{self, ECDH_PUBLIC_LEN};
use super::session::{Role, Session};
use super::suite::{CipherSuite, Method, SuiteList};
use crate::backend::{Backend, Secret};
use crate::cbor::Writer;

/// What a Responder accepts: methods, cipher suites and EAD labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponderConfig {
    methods: Vec<Method>,
    suites: Vec<CipherSuite>,
    suites_r: SuiteList,
    ead_labels: Vec<u16>,
}

impl ResponderConfig {
    /// A configuration accepting `methods` and `suites`. SUITES_R lists `suites` in the
    /// order given.
    pub fn new(methods: &[Method], suites: &[CipherSuite]) -> Result<ResponderConfig, Error> {
        let suites_r = SuiteList::new(suites).ok_or(Misuse::Configuration)?;
        if methods.is_empty() {
            return Err(Misuse::Configuration.into());
        }
        Ok(ResponderConfig {
            methods: methods.to_vec(),
            suites: suites.to_vec(),
            suites_r,
            ead_labels: Vec::new(),
        })
    }

    /// The EAD labels the application handles; a critical EAD item with any other label
    /// ends the handshake (RFC 9528 §3.8).
    pub fn with_ead_labels(mut self, labels: &[u16]) -> ResponderConfig {
        self.ead_labels = labels.to_vec();
        self
    }

    /// SUITES_R: the suites this Responder supports.
    pub fn suites_r(&self) -> SuiteList {
        self.suites_r
    }
}

/// The start of a handshake as Responder.
#[derive(Clone, Copy, Debug)]
pub struct Responder;

impl Responder {
    /// Reads and checks message_1 (RFC 9528 §5.2.3). On failure, send the peer
    /// [`Error::to_error_message`]: for a suite this Responder cannot use, that is the
    /// error with ERR_CODE 2 and SUITES_R.
    pub fn process_message_1<B: Backend>(
        backend: B,
        config: &ResponderConfig,
        message_1: &[u8],
    ) -> Result<ResponderReadyM2<B>, Error> {
        let m1 = message::decode_message_1(message_1)?;

        // RFC 9528 §5.2.3: the method must be one we accept.
        let method = Method::from_value(m1.method)
            .filter(|m| config.methods.contains(m))
            .ok_or(Unsupported::Method(m1.method))?;

        // RFC 9528 §5.2.3: the selected suite (the last of SUITES_I) must be supported, and
        // no suite the Initiator prefers to it may be, or a downgrade could go unnoticed.
        let values = m1.suites_i.values();
        let (selected, preferred) = values
            .split_last()
            .ok_or(PeerError::Malformed("SUITES_I"))?;
        let suite = CipherSuite::from_value(i64::from(*selected))
            .filter(|s| config.suites.contains(s))
            .filter(|_| {
                !preferred
                    .iter()
                    .any(|v| config.suites.iter().any(|s| s.value() == *v))
            })
            .ok_or(Unsupported::CipherSuite {
                suites_r: config.suites_r,
            })?;

        // RFC 9528 §3.7: G_X is the x-coordinate (or u-coordinate) of the ephemeral key.
        let g_x: [u8; ECDH_PUBLIC_LEN] = m1
            .g_x
            .try_into()
            .map_err(|_| PeerError::Malformed("G_X length"))?;
        let ead_1 = ead::decode(&mut crate::cbor::Reader::new(m1.ead_1), &config.ead_labels)?;
        let h_message_1 = backend.sha256(&[message_1]);
        Ok(ResponderReadyM2 {
            backend,
            method,
            suite,
            ead_labels: config.ead_labels.clone(),
            g_x,
            c_i: m1.c_i,
            h_message_1,
            ead_1,
        })
    }
}

/// The Responder after a valid message_1: expects its credential, ephemeral key, C_R and
/// EAD_2 to build message_2.
pub struct ResponderReadyM2<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    ead_labels: Vec<u16>,
    g_x: [u8; ECDH_PUBLIC_LEN],
    c_i: ConnectionId,
    h_message_1: Th,
    ead_1: Vec<EadItem>,
}

impl<B: Backend> ResponderReadyM2<B> {
    /// The method the Initiator chose.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The selected cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// C_I, the Initiator's connection identifier.
    pub fn c_i(&self) -> ConnectionId {
        self.c_i
    }

    /// EAD_1, unauthenticated: message_1 is not protected.
    pub fn ead_1(&self) -> &[EadItem] {
        &self.ead_1
    }

    /// Builds message_2 (RFC 9528 §5.3.2) with the ephemeral private key `ephemeral`.
    pub fn prepare_message_2(
        self,
        local: &LocalCredential<B>,
        ephemeral: &[u8; 32],
        c_r: ConnectionId,
        ead_2: &[EadItem],
    ) -> Result<(ResponderWaitM3<B>, Vec<u8>), Error> {
        let b = &self.backend;
        let (method, suite) = (self.method, self.suite);
        // RFC 9528 §3.3.3: C_R and C_I become each other's OSCORE IDs; they must differ.
        if c_r == self.c_i {
            return Err(Misuse::SameConnectionId.into());
        }
        if ead_2.len() > MAX_EAD_ITEMS {
            return Err(Misuse::Ead.into());
        }

        // RFC 9528 §5.3.2: TH_2 = H( G_Y, H(message_1) ); PRK_2e = Extract( TH_2, G_XY ).
        let y = b
            .agreement_key(suite.curve(), ephemeral)
            .map_err(|_| Misuse::InvalidScalar)?;
        let g_y = b.agreement_public(&y);
        let th_2 = ks::th_2(b, &g_y, &self.h_message_1);
        let g_xy = b.agree(&y, &self.g_x).map_err(peer_key_error)?;
        let prk_2e = ks::prk_2e(b, &th_2, &g_xy);

        // RFC 9528 §4.1.1.2: with static DH, PRK_3e2m binds G_RX.
        let prk_3e2m = if method.responder_signs() {
            local.signing_key(suite.signature_algorithm())?;
            prk_2e.clone()
        } else {
            let r = local.dh_key(suite.curve())?;
            let g_rx = b.agree(r, &self.g_x).map_err(peer_key_error)?;
            ks::prk_3e2m(b, &prk_2e, &th_2, &g_rx)?
        };

        // RFC 9528 §5.3.2: MAC_2 over context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >>.
        let id_cred_map = local.id_cred().map_bytes();
        let cred = local.credential().as_bytes();
        let mut ead_encoded = Vec::new();
        ead::encode(ead_2, &mut Writer::new(&mut ead_encoded))?;
        let context_2 = ks::mac_context(Some(&c_r), &id_cred_map, &th_2, cred, &ead_encoded);
        let mac_len = if method.responder_signs() {
            suite.hash_length()
        } else {
            suite.mac_length()
        };
        let mac_2 = ks::mac(b, &prk_3e2m, ks::LABEL_MAC_2, &context_2, mac_len)?;
        let signature_or_mac_2 = if method.responder_signs() {
            let key = local.signing_key(suite.signature_algorithm())?;
            let to_sign = ks::sig_structure(&id_cred_map, &th_2, cred, &ead_encoded, &mac_2);
            b.sign(key, &to_sign).to_vec()
        } else {
            mac_2.to_vec()
        };

        // RFC 9528 §5.3.2: CIPHERTEXT_2 = PLAINTEXT_2 XOR KEYSTREAM_2.
        let plaintext_2 =
            message::encode_plaintext_2(&c_r, local.id_cred(), &signature_or_mac_2, ead_2)?;
        let keystream = ks::keystream_2(b, &prk_2e, &th_2, plaintext_2.len())?;
        let ciphertext_2: Vec<u8> = plaintext_2
            .iter()
            .zip(keystream.iter())
            .map(|(p, k)| p ^ k)
            .collect();
        let message_2 = message::encode_bstr_message(&[&g_y, &ciphertext_2])?;

        // RFC 9528 §5.3.2: TH_3 = H( TH_2, PLAINTEXT_2, CRED_R ).
        let th_3 = ks::th_next(b, &th_2, &plaintext_2, cred);
        let state = ResponderWaitM3 {
            backend: self.backend,
            method,
            suite,
            ead_labels: self.ead_labels,
            y,
            c_i: self.c_i,
            c_r,
            th_3,
            prk_3e2m,
        };
        Ok((state, message_2))
    }

    /// [`Self::prepare_message_2`] with an ephemeral key drawn from `rng`.
    pub fn prepare_message_2_with_rng<R: CryptoRng + ?Sized>(
        self,
        local: &LocalCredential<B>,
        rng: &mut R,
        c_r: ConnectionId,
        ead_2: &[EadItem],
    ) -> Result<(ResponderWaitM3<B>, Vec<u8>), Error> {
        let scalar = draw_scalar(&self.backend, self.suite, rng)?;
        self.prepare_message_2(local, &scalar, c_r, ead_2)
    }
}

/// The Responder after message_2: expects message_3 or an error message.
// Only fuzz builds (`cargo fuzz` sets `--cfg fuzzing`) may copy this state, so a target can
// attack it without replaying the handshake for every input. Elsewhere a copy would let a
// caller run the rest of the handshake twice with one ephemeral key.
#[cfg_attr(fuzzing, derive(Clone))]
pub struct ResponderWaitM3<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    ead_labels: Vec<u16>,
    y: B::AgreementKey,
    c_i: ConnectionId,
    c_r: ConnectionId,
    pub(crate) th_3: Th,
    pub(crate) prk_3e2m: Secret,
}

impl<B: Backend> ResponderWaitM3<B> {
    /// C_R, which the transport uses to find this state for message_3 (RFC 9528 Appendix A.2).
    pub fn c_r(&self) -> ConnectionId {
        self.c_r
    }

    /// Decrypts and reads message_3 (RFC 9528 §5.4.3).
    pub fn process_message_3(self, message_3: &[u8]) -> Result<ResponderWaitCredI<B>, Error> {
        let b = &self.backend;
        let ciphertext = message::decode_bstr_message(message_3)?;

        // RFC 9528 §5.4.3: decrypt with K_3 and IV_3 from PRK_3e2m and TH_3, A_3 as AAD.
        let keys = ks::aead_keys(b, &self.prk_3e2m, ks::LABEL_K_3, ks::LABEL_IV_3, &self.th_3)?;
        let mut plaintext_3 = ciphertext.to_vec();
        b.aead_open(
            &keys.key,
            &keys.iv,
            &ks::enc_structure(&self.th_3),
            &mut plaintext_3,
        )
        .map_err(|_| PeerError::Authentication)?;

        let parsed = message::decode_plaintext_3(&plaintext_3, &self.ead_labels)?;
        let expected_len = if self.method.initiator_signs() {
            crate::keys::SIGNATURE_LEN
        } else {
            self.suite.mac_length()
        };
        if parsed.signature_or_mac.len() != expected_len {
            return Err(PeerError::Malformed("Signature_or_MAC_3 length").into());
        }
        let id_cred_i = parsed.id_cred_i;
        let signature_or_mac_3 = parsed.signature_or_mac.to_vec();
        let ead_3_encoded = parsed.ead.to_vec();
        let ead_3 = parsed.ead_items;
        Ok(ResponderWaitCredI {
            backend: self.backend,
            method: self.method,
            suite: self.suite,
            y: self.y,
            c_i: self.c_i,
            c_r: self.c_r,
            th_3: self.th_3,
            prk_3e2m: self.prk_3e2m,
            plaintext_3,
            id_cred_i,
            signature_or_mac_3,
            ead_3_encoded,
            ead_3,
        })
    }
}

/// The Responder with message_3 decrypted: expects the Initiator's credential, which the
/// caller finds from [`ResponderWaitCredI::id_cred_i`] and decides to trust.
pub struct ResponderWaitCredI<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    y: B::AgreementKey,
    c_i: ConnectionId,
    c_r: ConnectionId,
    th_3: Th,
    prk_3e2m: Secret,
    pub(crate) plaintext_3: Vec<u8>,
    id_cred_i: IdCred,
    signature_or_mac_3: Vec<u8>,
    ead_3_encoded: Vec<u8>,
    ead_3: Vec<EadItem>,
}

impl<B: Backend> ResponderWaitCredI<B> {
    /// ID_CRED_I: which credential the Initiator claims.
    pub fn id_cred_i(&self) -> &IdCred {
        &self.id_cred_i
    }

    /// EAD_3. Decrypted but not yet authenticated: trust nothing in it before
    /// [`Self::verify`] succeeds.
    pub fn ead_3(&self) -> &[EadItem] {
        &self.ead_3
    }

    /// C_I, the Initiator's connection identifier.
    pub fn c_i(&self) -> ConnectionId {
        self.c_i
    }

    /// Verifies Signature_or_MAC_3 with the Initiator's credential CRED_I (RFC 9528 §5.4.3)
    /// and derives PRK_out.
    pub fn verify(self, cred_i: &AuthCredential) -> Result<ResponderReadyM4<B>, Error> {
        let b = &self.backend;
        let (method, suite) = (self.method, self.suite);
        check_peer_key(
            cred_i,
            method.initiator_signs(),
            suite.signature_algorithm(),
            suite.curve(),
        )?;

        // RFC 9528 §4.1.1.3: with a static DH Initiator, PRK_4e3m binds G_IY.
        let prk_4e3m = if method.initiator_signs() {
            self.prk_3e2m.clone()
        } else {
            let g_i = cred_i
                .key()
                .dh_public(suite.curve())
                .ok_or(Unsupported::CredentialKey)?;
            let g_iy = b
                .agree(&self.y, &g_i)
                .map_err(|_| Unsupported::CredentialKey)?;
            ks::prk_4e3m(b, &self.prk_3e2m, &self.th_3, &g_iy)?
        };

        // RFC 9528 §5.4.2: MAC_3 over context_3 = << ID_CRED_I, TH_3, CRED_I, ? EAD_3 >>.
        let id_cred_map = self.id_cred_i.map_bytes();
        let cred = cred_i.as_bytes();
        let context_3 = ks::mac_context(None, &id_cred_map, &self.th_3, cred, &self.ead_3_encoded);
        let mac_len = if method.initiator_signs() {
            suite.hash_length()
        } else {
            suite.mac_length()
        };
        let mac_3 = ks::mac(b, &prk_4e3m, ks::LABEL_MAC_3, &context_3, mac_len)?;

        // RFC 9528 §5.4.3: verify the signature over MAC_3, or MAC_3 in constant time.
        let authentic = if method.initiator_signs() {
            let key = cred_i
                .key()
                .signature_key(suite.signature_algorithm())
                .ok_or(Unsupported::CredentialKey)?;
            let to_verify =
                ks::sig_structure(&id_cred_map, &self.th_3, cred, &self.ead_3_encoded, &mac_3);
            b.verify(key, &to_verify, &self.signature_or_mac_3).is_ok()
        } else {
            ks::ct_eq(&mac_3, &self.signature_or_mac_3)
        };
        if !authentic {
            return Err(PeerError::Authentication.into());
        }

        // RFC 9528 §5.4.3, §4.1.3: TH_4 = H( TH_3, PLAINTEXT_3, CRED_I ); PRK_out.
        let th_4 = ks::th_next(b, &self.th_3, &self.plaintext_3, cred);
        let prk_out = ks::prk_out(b, &prk_4e3m, &th_4)?;
        let session = Session::new(
            self.backend,
            Role::Responder,
            method,
            suite,
            (self.c_i, self.c_r),
            prk_out,
        )?;
        Ok(ResponderReadyM4 {
            session,
            prk_4e3m,
            th_4,
            ead_3: self.ead_3,
        })
    }

    /// [`Self::verify`] with the credential `resolver` finds and trusts.
    pub fn resolve(
        self,
        resolver: &mut impl CredentialResolver,
    ) -> Result<ResponderReadyM4<B>, Error> {
        let cred_i = resolver.resolve(&self.id_cred_i).map_err(Error::Rejected)?;
        self.verify(&cred_i)
    }
}

/// The Responder with the Initiator authenticated: the session is established; message_4
/// is optional (RFC 9528 §5.5).
pub struct ResponderReadyM4<B: Backend> {
    session: Session<B>,
    pub(crate) prk_4e3m: Secret,
    pub(crate) th_4: Th,
    ead_3: Vec<EadItem>,
}

impl<B: Backend> ResponderReadyM4<B> {
    /// EAD_3, now authenticated.
    pub fn ead_3(&self) -> &[EadItem] {
        &self.ead_3
    }

    /// The session.
    pub fn session(&self) -> &Session<B> {
        &self.session
    }

    /// Builds message_4 (RFC 9528 §5.5.2) and returns the session.
    pub fn prepare_message_4(self, ead_4: &[EadItem]) -> Result<(Session<B>, Vec<u8>), Error> {
        let b = self.session.backend();
        let plaintext = message::encode_plaintext_4(ead_4)?;
        let keys = ks::aead_keys(b, &self.prk_4e3m, ks::LABEL_K_4, ks::LABEL_IV_4, &self.th_4)?;
        let mut ciphertext = plaintext;
        b.aead_seal(
            &keys.key,
            &keys.iv,
            &ks::enc_structure(&self.th_4),
            &mut ciphertext,
        );
        let message_4 = message::encode_bstr_message(&[&ciphertext])?;
        Ok((self.session, message_4))
    }

    /// The session, without message_4: the application profile then has the Responder send
    /// an OSCORE message first, which confirms the key to the Initiator.
    pub fn finish(self) -> Session<B> {
        self.session
    }
}

impl<B: Backend> fmt::Debug for ResponderReadyM2<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderReadyM2")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for ResponderWaitM3<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderWaitM3")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .field("c_r", &self.c_r)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for ResponderWaitCredI<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderWaitCredI")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .field("c_r", &self.c_r)
            .field("id_cred_i", &self.id_cred_i)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for ResponderReadyM4<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponderReadyM4")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
