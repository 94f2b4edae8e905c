//! The Initiator: the side that sends message_1 and message_3, a camera in Ward.
//!
//! ```text
//! Initiator::start ─▶ InitiatorWaitM2 ─process_message_2─▶ InitiatorWaitCredR
//!   ─verify(CRED_R)─▶ InitiatorReadyM3 ─prepare_message_3─▶ InitiatorWaitM4
//!   ─process_message_4 / finish_without_message_4─▶ Session
//! ```

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use super::credential::{AuthCredential, CredentialResolver, LocalCredential, check_peer_key};
use super::ead::EadItem;
use super::error::{Error, Misuse, PeerError, Unsupported, peer_key_error};
use super::id::{ConnectionId, IdCred};
use super::key_schedule::{self as ks, Th};
use super::message;
use super::session::{Role, Session};
use super::suite::{CipherSuite, Method, SuiteList};
use super::{MAX_EAD_ITEMS, MAX_SUITES};
use crate::backend::{Backend, Secret};

/// What an Initiator offers: its method and its cipher suites in order of preference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitiatorConfig {
    method: Method,
    suites: Vec<CipherSuite>,
    selected: CipherSuite,
    ead_labels: Vec<u16>,
}

impl InitiatorConfig {
    /// A configuration for `method` offering `suites`, most preferred first. The most
    /// preferred suite is selected until [`InitiatorConfig::select_after_error`] says
    /// otherwise.
    pub fn new(method: Method, suites: &[CipherSuite]) -> Result<InitiatorConfig, Error> {
        let distinct = suites
            .iter()
            .enumerate()
            .all(|(i, s)| !suites[..i].contains(s));
        let selected = *suites.first().ok_or(Misuse::Configuration)?;
        if suites.len() > MAX_SUITES || !distinct {
            return Err(Misuse::Configuration.into());
        }
        Ok(InitiatorConfig {
            method,
            suites: suites.to_vec(),
            selected,
            ead_labels: Vec::new(),
        })
    }

    /// The EAD labels the application handles; a critical EAD item with any other label
    /// ends the handshake (RFC 9528 §3.8).
    pub fn with_ead_labels(mut self, labels: &[u16]) -> InitiatorConfig {
        self.ead_labels = labels.to_vec();
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The suite the next message_1 selects.
    pub fn selected(&self) -> CipherSuite {
        self.selected
    }

    /// Selects `suite` for the next message_1, for instance one that worked before.
    pub fn select(&mut self, suite: CipherSuite) -> Result<(), Error> {
        if !self.suites.contains(&suite) {
            return Err(Misuse::SuiteNotConfigured.into());
        }
        self.selected = suite;
        Ok(())
    }

    /// RFC 9528 §6.3.1: after an error with ERR_CODE 2, select the most preferred of our
    /// suites that SUITES_R lists, and remember it for the next message_1.
    pub fn select_after_error(&mut self, suites_r: &SuiteList) -> Result<CipherSuite, Error> {
        let suite = self
            .suites
            .iter()
            .copied()
            .find(|suite| suites_r.contains(*suite))
            .ok_or(Unsupported::NoCommonSuite)?;
        self.selected = suite;
        Ok(suite)
    }

    /// SUITES_I (RFC 9528 §5.2.2): our suites in order of preference, truncated after the
    /// selected one, which is therefore last.
    fn suites_i(&self) -> Result<SuiteList, Error> {
        let end = self
            .suites
            .iter()
            .position(|s| *s == self.selected)
            .ok_or(Misuse::SuiteNotConfigured)?;
        SuiteList::new(&self.suites[..=end]).ok_or_else(|| Misuse::Configuration.into())
    }
}

/// The start of a handshake as Initiator.
#[derive(Clone, Copy, Debug)]
pub struct Initiator;

impl Initiator {
    /// Builds message_1 (RFC 9528 §5.2.1) with the ephemeral private key `ephemeral` on the
    /// selected suite's curve, and returns the state that expects message_2.
    pub fn start<B: Backend>(
        backend: B,
        config: &InitiatorConfig,
        ephemeral: &[u8; 32],
        c_i: ConnectionId,
        ead_1: &[EadItem],
    ) -> Result<(InitiatorWaitM2<B>, Vec<u8>), Error> {
        let suites_i = config.suites_i()?;
        let params = (config.method, config.selected, suites_i);
        Initiator::start_offering(backend, params, &config.ead_labels, ephemeral, c_i, ead_1)
    }

    /// Builds message_1 with an explicit SUITES_I, whose last suite is `suite`. RFC 9529 §3
    /// offers suite 6, which Ward does not implement, before suite 2; its trace needs this.
    pub(crate) fn start_offering<B: Backend>(
        backend: B,
        (method, suite, suites_i): (Method, CipherSuite, SuiteList),
        ead_labels: &[u16],
        ephemeral: &[u8; 32],
        c_i: ConnectionId,
        ead_1: &[EadItem],
    ) -> Result<(InitiatorWaitM2<B>, Vec<u8>), Error> {
        let x = backend
            .agreement_key(suite.curve(), ephemeral)
            .map_err(|_| Misuse::InvalidScalar)?;
        let g_x = backend.agreement_public(&x);
        let message_1 = message::encode_message_1(method, &suites_i, &g_x, &c_i, ead_1)?;
        let h_message_1 = backend.sha256(&[&message_1]);
        let state = InitiatorWaitM2 {
            backend,
            method,
            suite,
            ead_labels: ead_labels.to_vec(),
            x,
            c_i,
            h_message_1,
        };
        Ok((state, message_1))
    }

    /// [`Initiator::start`] with an ephemeral key drawn from `rng`.
    pub fn start_with_rng<B: Backend, R: CryptoRng + ?Sized>(
        backend: B,
        config: &InitiatorConfig,
        rng: &mut R,
        c_i: ConnectionId,
        ead_1: &[EadItem],
    ) -> Result<(InitiatorWaitM2<B>, Vec<u8>), Error> {
        let scalar = draw_scalar(&backend, config.selected, rng)?;
        Initiator::start(backend, config, &scalar, c_i, ead_1)
    }
}

/// Draws a private scalar the backend accepts on `suite`'s curve. For P-256 a random 32-byte
/// string is at or above the group order with probability below 2^-32; redraw then.
pub(crate) fn draw_scalar<B: Backend, R: CryptoRng + ?Sized>(
    backend: &B,
    suite: CipherSuite,
    rng: &mut R,
) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    let mut scalar = zeroize::Zeroizing::new([0u8; 32]);
    for _ in 0..8 {
        rng.fill_bytes(scalar.as_mut());
        if backend.agreement_key(suite.curve(), &scalar).is_ok() {
            return Ok(scalar);
        }
    }
    Err(Misuse::Randomness.into())
}

/// The Initiator after message_1: expects message_2 or an error message.
// Only fuzz builds (`cargo fuzz` sets `--cfg fuzzing`) may copy this state, so a target can
// attack it without replaying the handshake for every input. Elsewhere a copy would let a
// caller run the rest of the handshake twice with one ephemeral key.
#[cfg_attr(fuzzing, derive(Clone))]
pub struct InitiatorWaitM2<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    ead_labels: Vec<u16>,
    x: B::AgreementKey,
    c_i: ConnectionId,
    h_message_1: Th,
}

impl<B: Backend> InitiatorWaitM2<B> {
    /// Decrypts and reads message_2 (RFC 9528 §5.3.3). An error message in its place ends
    /// the handshake with [`Error::Aborted`]; after ERR_CODE 2, call
    /// [`InitiatorConfig::select_after_error`] and start again.
    pub fn process_message_2(self, message_2: &[u8]) -> Result<InitiatorWaitCredR<B>, Error> {
        let b = &self.backend;
        let content = message::decode_bstr_message(message_2)?;
        let (g_y, ciphertext_2) = message::split_message_2(content)?;
        let g_y: [u8; 32] = g_y
            .try_into()
            .map_err(|_| PeerError::Malformed("G_Y length"))?;

        // RFC 9528 §5.3.2: TH_2 = H( G_Y, H(message_1) ); PRK_2e = Extract( TH_2, G_XY ).
        let th_2 = ks::th_2(b, &g_y, &self.h_message_1);
        let g_xy = b.agree(&self.x, &g_y).map_err(peer_key_error)?;
        let prk_2e = ks::prk_2e(b, &th_2, &g_xy);

        // RFC 9528 §5.3.3: PLAINTEXT_2 = CIPHERTEXT_2 XOR KEYSTREAM_2.
        let keystream = ks::keystream_2(b, &prk_2e, &th_2, ciphertext_2.len())?;
        let plaintext_2: Vec<u8> = ciphertext_2
            .iter()
            .zip(keystream.iter())
            .map(|(c, k)| c ^ k)
            .collect();
        let parsed = message::decode_plaintext_2(&plaintext_2, &self.ead_labels)?;

        // RFC 9528 §3.3.3: OSCORE needs C_R != C_I, or both sides would share a Sender ID.
        if parsed.c_r == self.c_i {
            return Err(PeerError::SameConnectionId.into());
        }
        let expected_len = if self.method.responder_signs() {
            crate::keys::SIGNATURE_LEN
        } else {
            self.suite.mac_length()
        };
        if parsed.signature_or_mac.len() != expected_len {
            return Err(PeerError::Malformed("Signature_or_MAC_2 length").into());
        }
        let (c_r, id_cred_r) = (parsed.c_r, parsed.id_cred_r);
        let signature_or_mac_2 = parsed.signature_or_mac.to_vec();
        let ead_2_encoded = parsed.ead.to_vec();
        let ead_2 = parsed.ead_items;
        Ok(InitiatorWaitCredR {
            backend: self.backend,
            method: self.method,
            suite: self.suite,
            x: self.x,
            g_y,
            c_i: self.c_i,
            c_r,
            th_2,
            prk_2e,
            plaintext_2,
            id_cred_r,
            signature_or_mac_2,
            ead_2_encoded,
            ead_2,
        })
    }

    /// The selected cipher suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }
}

/// The Initiator with message_2 decrypted: expects the Responder's credential, which the
/// caller finds from [`InitiatorWaitCredR::id_cred_r`] and decides to trust.
pub struct InitiatorWaitCredR<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    x: B::AgreementKey,
    g_y: [u8; 32],
    c_i: ConnectionId,
    c_r: ConnectionId,
    pub(crate) th_2: Th,
    pub(crate) prk_2e: Secret,
    pub(crate) plaintext_2: Vec<u8>,
    id_cred_r: IdCred,
    signature_or_mac_2: Vec<u8>,
    ead_2_encoded: Vec<u8>,
    ead_2: Vec<EadItem>,
}

impl<B: Backend> InitiatorWaitCredR<B> {
    /// ID_CRED_R: which credential the Responder claims.
    pub fn id_cred_r(&self) -> &IdCred {
        &self.id_cred_r
    }

    /// EAD_2. Not yet authenticated: trust nothing in it before [`Self::verify`] succeeds.
    pub fn ead_2(&self) -> &[EadItem] {
        &self.ead_2
    }

    /// C_R, the Responder's connection identifier.
    pub fn c_r(&self) -> ConnectionId {
        self.c_r
    }

    /// Verifies Signature_or_MAC_2 with the Responder's credential CRED_R (RFC 9528 §5.3.3).
    pub fn verify(self, cred_r: &AuthCredential) -> Result<InitiatorReadyM3<B>, Error> {
        let b = &self.backend;
        let (method, suite) = (self.method, self.suite);
        check_peer_key(
            cred_r,
            method.responder_signs(),
            suite.signature_algorithm(),
            suite.curve(),
        )?;

        // RFC 9528 §4.1.1.2: with a static DH Responder, PRK_3e2m binds G_RX.
        let prk_3e2m = if method.responder_signs() {
            self.prk_2e.clone()
        } else {
            let g_r = cred_r
                .key()
                .dh_public(suite.curve())
                .ok_or(Unsupported::CredentialKey)?;
            let g_rx = b
                .agree(&self.x, &g_r)
                .map_err(|_| Unsupported::CredentialKey)?;
            ks::prk_3e2m(b, &self.prk_2e, &self.th_2, &g_rx)?
        };

        // RFC 9528 §5.3.2: MAC_2 over context_2 = << C_R, ID_CRED_R, TH_2, CRED_R, ? EAD_2 >>.
        let id_cred_map = self.id_cred_r.map_bytes();
        let cred = cred_r.as_bytes();
        let context_2 = ks::mac_context(
            Some(&self.c_r),
            &id_cred_map,
            &self.th_2,
            cred,
            &self.ead_2_encoded,
        );
        let mac_len = if method.responder_signs() {
            suite.hash_length()
        } else {
            suite.mac_length()
        };
        let mac_2 = ks::mac(b, &prk_3e2m, ks::LABEL_MAC_2, &context_2, mac_len)?;

        // RFC 9528 §5.3.3: verify Signature_or_MAC_2 as a COSE_Sign1 signature over MAC_2,
        // or compare it with MAC_2 in constant time.
        let authentic = if method.responder_signs() {
            let key = cred_r
                .key()
                .signature_key(suite.signature_algorithm())
                .ok_or(Unsupported::CredentialKey)?;
            let to_verify =
                ks::sig_structure(&id_cred_map, &self.th_2, cred, &self.ead_2_encoded, &mac_2);
            b.verify(key, &to_verify, &self.signature_or_mac_2).is_ok()
        } else {
            ks::ct_eq(&mac_2, &self.signature_or_mac_2)
        };
        if !authentic {
            return Err(PeerError::Authentication.into());
        }

        // RFC 9528 §5.3.2: TH_3 = H( TH_2, PLAINTEXT_2, CRED_R ).
        let th_3 = ks::th_next(b, &self.th_2, &self.plaintext_2, cred);
        Ok(InitiatorReadyM3 {
            backend: self.backend,
            method,
            suite,
            g_y: self.g_y,
            c_i: self.c_i,
            c_r: self.c_r,
            th_3,
            prk_3e2m,
            ead_2: self.ead_2,
        })
    }

    /// [`Self::verify`] with the credential `resolver` finds and trusts.
    pub fn resolve(
        self,
        resolver: &mut impl CredentialResolver,
    ) -> Result<InitiatorReadyM3<B>, Error> {
        let cred_r = resolver.resolve(&self.id_cred_r).map_err(Error::Rejected)?;
        self.verify(&cred_r)
    }
}

/// The Initiator with the Responder authenticated: expects its own credential and EAD_3 to
/// build message_3.
pub struct InitiatorReadyM3<B: Backend> {
    backend: B,
    method: Method,
    suite: CipherSuite,
    g_y: [u8; 32],
    c_i: ConnectionId,
    c_r: ConnectionId,
    pub(crate) th_3: Th,
    pub(crate) prk_3e2m: Secret,
    ead_2: Vec<EadItem>,
}

impl<B: Backend> InitiatorReadyM3<B> {
    /// EAD_2, now authenticated.
    pub fn ead_2(&self) -> &[EadItem] {
        &self.ead_2
    }

    /// Builds message_3 (RFC 9528 §5.4.2) authenticated with `local`, and derives PRK_out.
    pub fn prepare_message_3(
        self,
        local: &LocalCredential<B>,
        ead_3: &[EadItem],
    ) -> Result<(InitiatorWaitM4<B>, Vec<u8>), Error> {
        let b = &self.backend;
        let (method, suite) = (self.method, self.suite);
        if ead_3.len() > MAX_EAD_ITEMS {
            return Err(Misuse::Ead.into());
        }

        // RFC 9528 §4.1.1.3: with a static DH Initiator, PRK_4e3m binds G_IY.
        let prk_4e3m = if method.initiator_signs() {
            local.signing_key(suite.signature_algorithm())?;
            self.prk_3e2m.clone()
        } else {
            let i = local.dh_key(suite.curve())?;
            let g_iy = b.agree(i, &self.g_y).map_err(peer_key_error)?;
            ks::prk_4e3m(b, &self.prk_3e2m, &self.th_3, &g_iy)?
        };

        // RFC 9528 §5.4.2: MAC_3 over context_3 = << ID_CRED_I, TH_3, CRED_I, ? EAD_3 >>.
        let id_cred_map = local.id_cred().map_bytes();
        let cred = local.credential().as_bytes();
        let mut ead_encoded = Vec::new();
        super::ead::encode(ead_3, &mut crate::cbor::Writer::new(&mut ead_encoded))?;
        let context_3 = ks::mac_context(None, &id_cred_map, &self.th_3, cred, &ead_encoded);
        let mac_len = if method.initiator_signs() {
            suite.hash_length()
        } else {
            suite.mac_length()
        };
        let mac_3 = ks::mac(b, &prk_4e3m, ks::LABEL_MAC_3, &context_3, mac_len)?;
        let signature_or_mac_3 = if method.initiator_signs() {
            let key = local.signing_key(suite.signature_algorithm())?;
            let to_sign = ks::sig_structure(&id_cred_map, &self.th_3, cred, &ead_encoded, &mac_3);
            b.sign(key, &to_sign).to_vec()
        } else {
            mac_3.to_vec()
        };

        // RFC 9528 §5.4.2: CIPHERTEXT_3 = AEAD( K_3, IV_3, A_3, PLAINTEXT_3 ).
        let plaintext_3 = message::encode_plaintext_3(local.id_cred(), &signature_or_mac_3, ead_3)?;
        let keys = ks::aead_keys(b, &self.prk_3e2m, ks::LABEL_K_3, ks::LABEL_IV_3, &self.th_3)?;
        let mut ciphertext_3 = plaintext_3.clone();
        b.aead_seal(
            &keys.key,
            &keys.iv,
            &ks::enc_structure(&self.th_3),
            &mut ciphertext_3,
        );
        let message_3 = message::encode_bstr_message(&[&ciphertext_3])?;

        // RFC 9528 §5.4.2, §4.1.3: TH_4 = H( TH_3, PLAINTEXT_3, CRED_I ); PRK_out.
        let th_4 = ks::th_next(b, &self.th_3, &plaintext_3, cred);
        let prk_out = ks::prk_out(b, &prk_4e3m, &th_4)?;
        let session = Session::new(
            self.backend,
            Role::Initiator,
            method,
            suite,
            (self.c_i, self.c_r),
            prk_out,
        )?;
        Ok((
            InitiatorWaitM4 {
                session,
                prk_4e3m,
                th_4,
            },
            message_3,
        ))
    }
}

/// The Initiator after message_3: expects message_4, or, where the application profile has
/// none, a first OSCORE message from the Responder as key confirmation (RFC 9528 §5.5).
// Only fuzz builds (`cargo fuzz` sets `--cfg fuzzing`) may copy this state, so a target can
// attack it without replaying the handshake for every input. Elsewhere a copy would let a
// caller run the rest of the handshake twice with one ephemeral key.
#[cfg_attr(fuzzing, derive(Clone))]
pub struct InitiatorWaitM4<B: Backend> {
    session: Session<B>,
    pub(crate) prk_4e3m: Secret,
    pub(crate) th_4: Th,
}

impl<B: Backend> InitiatorWaitM4<B> {
    /// Decrypts message_4 (RFC 9528 §5.5.3) and returns the session and EAD_4.
    pub fn process_message_4(self, message_4: &[u8]) -> Result<(Session<B>, Vec<EadItem>), Error> {
        self.process_message_4_with_labels(message_4, &[])
    }

    /// [`Self::process_message_4`] accepting critical EAD_4 items with `ead_labels`.
    pub fn process_message_4_with_labels(
        self,
        message_4: &[u8],
        ead_labels: &[u16],
    ) -> Result<(Session<B>, Vec<EadItem>), Error> {
        let plaintext = open_message_4(&self.session, &self.prk_4e3m, &self.th_4, message_4)?;
        let ead_4 = message::decode_plaintext_4(&plaintext, ead_labels)?;
        Ok((self.session, ead_4))
    }

    /// The session without message_4. The Responder is not yet known to hold PRK_out:
    /// treat the session as confirmed only once an OSCORE message from it verifies.
    pub fn finish_without_message_4(self) -> Session<B> {
        self.session
    }

    /// The session, to derive OSCORE keys before message_4 arrives.
    pub fn session(&self) -> &Session<B> {
        &self.session
    }
}

/// Checks and decrypts message_4 with K_4 and IV_4 (RFC 9528 §5.5.3).
fn open_message_4<B: Backend>(
    session: &Session<B>,
    prk_4e3m: &Secret,
    th_4: &Th,
    message_4: &[u8],
) -> Result<Vec<u8>, Error> {
    let b = session.backend();
    let ciphertext = message::decode_bstr_message(message_4)?;
    let keys = ks::aead_keys(b, prk_4e3m, ks::LABEL_K_4, ks::LABEL_IV_4, th_4)?;
    let mut plaintext = ciphertext.to_vec();
    b.aead_open(
        &keys.key,
        &keys.iv,
        &ks::enc_structure(th_4),
        &mut plaintext,
    )
    .map_err(|_| PeerError::Authentication)?;
    Ok(plaintext)
}

impl<B: Backend> fmt::Debug for InitiatorWaitM2<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorWaitM2")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for InitiatorWaitCredR<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorWaitCredR")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .field("c_r", &self.c_r)
            .field("id_cred_r", &self.id_cred_r)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for InitiatorReadyM3<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorReadyM3")
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .field("c_r", &self.c_r)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> fmt::Debug for InitiatorWaitM4<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorWaitM4")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
