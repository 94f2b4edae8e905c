//! What a completed handshake leaves: PRK_out, and what applications derive from it with
//! EDHOC_Exporter (RFC 9528 §4.2.1), EDHOC_KeyUpdate (Appendix H) and the OSCORE parameters
//! of Appendix A.1.

use core::fmt;

use zeroize::Zeroizing;

use super::error::{Error, Misuse};
use super::id::ConnectionId;
use super::key_schedule::{self, LABEL_KEY_UPDATE};
use super::suite::{CipherSuite, Method};
use crate::backend::{AEAD_KEY_LEN, Backend, MAX_HKDF_OUTPUT, Secret};

/// Exporter label of the OSCORE Master Secret (RFC 9528 §10.1).
const EXPORTER_OSCORE_SECRET: u16 = 0;
/// Exporter label of the OSCORE Master Salt (RFC 9528 §10.1).
const EXPORTER_OSCORE_SALT: u16 = 1;
/// Length of the OSCORE Master Salt derived from EDHOC (RFC 9528 Appendix A.1).
pub const OSCORE_SALT_LEN: usize = 8;

/// Which side of the handshake a party was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The party that sent message_1 (a camera, in Ward).
    Initiator,
    /// The party that answered it (a node).
    Responder,
}

/// An established EDHOC session: PRK_out and the connection identifiers.
///
/// Ward stores sessions in the site registry so that another node can continue one;
/// [`Session::prk_out`] and [`Session::restore`] are the two halves of that.
// Only fuzz builds (`cargo fuzz` sets `--cfg fuzzing`) may copy this state, so a target can
// attack it without replaying the handshake for every input. Elsewhere a copy would let a
// caller run the rest of the handshake twice with one ephemeral key.
#[cfg_attr(fuzzing, derive(Clone))]
pub struct Session<B: Backend> {
    backend: B,
    role: Role,
    method: Method,
    suite: CipherSuite,
    c_i: ConnectionId,
    c_r: ConnectionId,
    prk_out: Secret,
    prk_exporter: Secret,
}

impl<B: Backend> Session<B> {
    pub(crate) fn new(
        backend: B,
        role: Role,
        method: Method,
        suite: CipherSuite,
        (c_i, c_r): (ConnectionId, ConnectionId),
        prk_out: Secret,
    ) -> Result<Session<B>, Error> {
        let prk_exporter = key_schedule::prk_exporter(&backend, &prk_out)?;
        Ok(Session {
            backend,
            role,
            method,
            suite,
            c_i,
            c_r,
            prk_out,
            prk_exporter,
        })
    }

    /// Rebuilds a session from a stored PRK_out.
    pub fn restore(
        backend: B,
        role: Role,
        method: Method,
        suite: CipherSuite,
        c_i: ConnectionId,
        c_r: ConnectionId,
        prk_out: Secret,
    ) -> Result<Session<B>, Error> {
        if c_i == c_r {
            return Err(Misuse::SameConnectionId.into());
        }
        Session::new(backend, role, method, suite, (c_i, c_r), prk_out)
    }

    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }

    /// This party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The authentication method used.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The cipher suite used.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// C_I, the Initiator's connection identifier.
    pub fn c_i(&self) -> ConnectionId {
        self.c_i
    }

    /// C_R, the Responder's connection identifier.
    pub fn c_r(&self) -> ConnectionId {
        self.c_r
    }

    /// PRK_out (RFC 9528 §4.1.3), for storing the session. Keep it as secret as a key.
    pub fn prk_out(&self) -> &Secret {
        &self.prk_out
    }

    /// EDHOC_Exporter( label, context, length ) = EDHOC_KDF( PRK_exporter, label, context,
    /// length ) (RFC 9528 §4.2.1), filling `out`. Labels 0 and 1 are OSCORE's; 32768 and
    /// above are for private use.
    pub fn exporter(&self, label: u16, context: &[u8], out: &mut [u8]) -> Result<(), Error> {
        if out.len() > MAX_HKDF_OUTPUT {
            return Err(Misuse::OutputTooLong.into());
        }
        key_schedule::kdf(&self.backend, &self.prk_exporter, label, context, out)
    }

    /// EDHOC_KeyUpdate( context ) (RFC 9528 Appendix H): PRK_out = EDHOC_KDF( PRK_out, 11,
    /// context, hash_length ), and PRK_exporter derived anew. Both parties must use the same
    /// `context`, which should be fresh (a nonce from each side).
    pub fn key_update(&mut self, context: &[u8]) -> Result<(), Error> {
        let prk_out =
            key_schedule::kdf_secret(&self.backend, &self.prk_out, LABEL_KEY_UPDATE, context)?;
        self.prk_exporter = key_schedule::prk_exporter(&self.backend, &prk_out)?;
        self.prk_out = prk_out;
        Ok(())
    }

    /// The OSCORE Security Context parameters of RFC 9528 Appendix A.1.
    pub fn oscore_parameters(&self) -> Result<OscoreParameters, Error> {
        let mut master_secret = Zeroizing::new([0u8; AEAD_KEY_LEN]);
        self.exporter(EXPORTER_OSCORE_SECRET, &[], master_secret.as_mut())?;
        let mut master_salt = [0u8; OSCORE_SALT_LEN];
        self.exporter(EXPORTER_OSCORE_SALT, &[], &mut master_salt)?;
        // RFC 9528 §3.3.3: C_R is the Initiator's Sender ID and the Responder's Recipient ID;
        // C_I the other way round.
        let (sender_id, recipient_id) = match self.role {
            Role::Initiator => (self.c_r, self.c_i),
            Role::Responder => (self.c_i, self.c_r),
        };
        Ok(OscoreParameters {
            master_secret,
            master_salt,
            sender_id,
            recipient_id,
            aead_algorithm: self.suite.application_aead(),
            hash_algorithm: self.suite.application_hash(),
        })
    }

    #[cfg(test)]
    pub(crate) fn prk_exporter(&self) -> &Secret {
        &self.prk_exporter
    }
}

impl<B: Backend> fmt::Debug for Session<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("method", &self.method)
            .field("suite", &self.suite)
            .field("c_i", &self.c_i)
            .field("c_r", &self.c_r)
            .finish_non_exhaustive()
    }
}

/// The input to an OSCORE Security Context (RFC 8613 §3.2) derived from EDHOC.
pub struct OscoreParameters {
    master_secret: Zeroizing<[u8; AEAD_KEY_LEN]>,
    master_salt: [u8; OSCORE_SALT_LEN],
    sender_id: ConnectionId,
    recipient_id: ConnectionId,
    aead_algorithm: i64,
    hash_algorithm: i64,
}

impl OscoreParameters {
    /// The OSCORE Master Secret: EDHOC_Exporter( 0, h'', 16 ). Zeroized on drop.
    pub fn master_secret(&self) -> &[u8; AEAD_KEY_LEN] {
        &self.master_secret
    }

    /// The OSCORE Master Salt: EDHOC_Exporter( 1, h'', 8 ).
    pub fn master_salt(&self) -> &[u8; OSCORE_SALT_LEN] {
        &self.master_salt
    }

    /// This party's Sender ID.
    pub fn sender_id(&self) -> &[u8] {
        self.sender_id.as_bytes()
    }

    /// This party's Recipient ID.
    pub fn recipient_id(&self) -> &[u8] {
        self.recipient_id.as_bytes()
    }

    /// The AEAD algorithm as a COSE value (10, AES-CCM-16-64-128).
    pub fn aead_algorithm(&self) -> i64 {
        self.aead_algorithm
    }

    /// The HKDF hash algorithm as a COSE value (-16, SHA-256).
    pub fn hash_algorithm(&self) -> i64 {
        self.hash_algorithm
    }
}

impl fmt::Debug for OscoreParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OscoreParameters")
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("aead_algorithm", &self.aead_algorithm)
            .field("hash_algorithm", &self.hash_algorithm)
            .finish_non_exhaustive()
    }
}
