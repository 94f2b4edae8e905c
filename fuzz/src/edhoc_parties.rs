//! Fixed EDHOC parties and one genuine handshake between them, for the EDHOC fuzz targets and
//! their seeds.
//!
//! Every key and every ephemeral scalar is written here, so the handshake is the same on each
//! run: the targets run it up to the state they attack and compare what the fuzzer sends
//! with the genuine message. The handshake uses method 3 (static DH on both sides) on cipher
//! suite 0: X25519 keeps cheap the Diffie-Hellman an input can trigger, and the message
//! parsers under test do not depend on the curve. Nothing here protects
//! anything.

use std::sync::OnceLock;

use ward_crypto::backend::{Backend, Curve, RustCrypto};
use ward_crypto::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, CredentialKey, Error, IdCred, Initiator,
    InitiatorConfig, InitiatorWaitM2, InitiatorWaitM4, LocalCredential, Method, Responder,
    ResponderConfig, ResponderWaitM3,
};
use ward_crypto::{Ccs, SecretKey};

use crate::fleet::fleet;

/// The method and suite of the genuine handshake.
pub const METHOD: Method = Method::StaticStatic;
/// The suite of the genuine handshake.
pub const SUITE: CipherSuite = CipherSuite::Suite0;
/// EAD labels both parties accept as critical.
pub const EAD_LABELS: [u16; 2] = [1, 2];

const INITIATOR_STATIC: [u8; 32] = [0x31; 32];
const RESPONDER_STATIC: [u8; 32] = [0x32; 32];
/// The Initiator's ephemeral X (and the scalar of every seeded message_1).
pub const INITIATOR_EPHEMERAL: [u8; 32] = [0x11; 32];
/// The Responder's ephemeral Y.
pub const RESPONDER_EPHEMERAL: [u8; 32] = [0x22; 32];
const KID_I: u8 = 0x0a;
const KID_R: u8 = 0x0b;

/// C_I of the genuine handshake.
pub fn c_i() -> ConnectionId {
    ConnectionId::new(&[0x01]).expect("one byte is a valid connection identifier")
}

/// C_R of the genuine handshake.
pub fn c_r() -> ConnectionId {
    ConnectionId::new(&[0x02]).expect("one byte is a valid connection identifier")
}

/// The Initiator's configuration.
pub fn initiator_config() -> InitiatorConfig {
    InitiatorConfig::new(METHOD, &[SUITE])
        .expect("method 3 on suite 0 is supported")
        .with_ead_labels(&EAD_LABELS)
}

/// The Responder's configuration for the genuine handshake.
pub fn responder_config() -> ResponderConfig {
    ResponderConfig::new(&[METHOD], &[SUITE])
        .expect("method 3 on suite 0 is supported")
        .with_ead_labels(&EAD_LABELS)
}

/// An X25519 static-DH party, its CCS written out by hand: Ward's `Ccs` builds signature keys.
fn x25519_party(scalar: &[u8; 32], kid: u8) -> (LocalCredential<RustCrypto>, AuthCredential) {
    let backend = RustCrypto;
    let key = backend
        .agreement_key(Curve::X25519, scalar)
        .expect("every 32-byte string is an X25519 scalar");
    let public = backend.agreement_public(&key);
    // {2: "fuzz", 8: {1: {1: 1 (OKP), 2: h'kid', -1: 4 (X25519), -2: h'public'}}}
    let mut ccs = vec![
        0xa2, 0x02, 0x64, b'f', b'u', b'z', b'z', 0x08, 0xa1, 0x01, 0xa4,
    ];
    ccs.extend_from_slice(&[0x01, 0x01, 0x02, 0x41, kid, 0x20, 0x04, 0x21, 0x58, 0x20]);
    ccs.extend_from_slice(&public);
    let credential = AuthCredential::from_parts(ccs, CredentialKey::x25519(public));
    let id_cred = IdCred::kid(&[kid]).expect("a one-byte kid");
    let local =
        LocalCredential::static_dh(&backend, credential.clone(), id_cred, Curve::X25519, scalar)
            .expect("the credential holds the scalar's public key");
    (local, credential)
}

/// The Initiator's credential.
pub fn initiator_credential() -> (LocalCredential<RustCrypto>, AuthCredential) {
    x25519_party(&INITIATOR_STATIC, KID_I)
}

/// The Responder's credential.
pub fn responder_credential() -> (LocalCredential<RustCrypto>, AuthCredential) {
    x25519_party(&RESPONDER_STATIC, KID_R)
}

/// A Responder credential for every suite and authentication kind, for answering whatever
/// message_1 a fuzzer finds: `(suite 0 signing, suite 0 DH, suite 2 signing, suite 2 DH)`.
pub fn responder_credentials() -> [LocalCredential<RustCrypto>; 4] {
    let fleet = fleet();
    let signing = |key: &SecretKey, kid: u8| {
        let ccs = Ccs::new(Some("node".into()), key.public_key(), Some(&[kid]));
        let credential = AuthCredential::from_ccs(&ccs).expect("Ward's own CCS");
        let id_cred = IdCred::kid(&[kid]).expect("a one-byte kid");
        // `SecretKey` is not `Clone`; a copy goes through its key file.
        let key = SecretKey::from_cose_key_bytes(&key.to_cose_key_bytes())
            .expect("a key file reads back");
        LocalCredential::signing(credential, id_cred, key).expect("the CCS holds the key")
    };
    let p256_dh = {
        let ccs = Ccs::new(None, fleet.site_key.public_key(), Some(&[0x0d]));
        let credential = AuthCredential::from_ccs(&ccs).expect("Ward's own CCS");
        let id_cred = IdCred::kid(&[0x0d]).expect("a one-byte kid");
        // The fleet's site key is the P-256 scalar 0x5c..5c (see `fleet`).
        LocalCredential::static_dh(&RustCrypto, credential, id_cred, Curve::P256, &[0x5c; 32])
            .expect("the CCS holds the scalar's public key")
    };
    [
        signing(&fleet.root_key, 0x0c),
        responder_credential().0,
        signing(&fleet.camera_key, 0x0e),
        p256_dh,
    ]
}

/// The four messages of the genuine handshake.
pub fn genuine() -> &'static [Vec<u8>; 4] {
    static MESSAGES: OnceLock<[Vec<u8>; 4]> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let (wait_m4, messages) = to_initiator_wait_m4().expect("the fixed handshake succeeds");
        wait_m4
            .process_message_4(&messages[3])
            .expect("the genuine message_4 verifies");
        messages
    })
}

/// The Initiator after sending the genuine message_1.
pub fn initiator_wait_m2() -> (InitiatorWaitM2<RustCrypto>, Vec<u8>) {
    Initiator::start(
        RustCrypto,
        &initiator_config(),
        &INITIATOR_EPHEMERAL,
        c_i(),
        &[],
    )
    .expect("the fixed Initiator starts")
}

/// The Responder after the genuine message_1 and message_2, with the two messages.
pub fn responder_wait_m3() -> Result<(ResponderWaitM3<RustCrypto>, [Vec<u8>; 2]), Error> {
    let (_, m1) = initiator_wait_m2();
    let ready_m2 = Responder::process_message_1(RustCrypto, &responder_config(), &m1)?;
    let (local, _) = responder_credential();
    let (wait_m3, m2) = ready_m2.prepare_message_2(&local, &RESPONDER_EPHEMERAL, c_r(), &[])?;
    Ok((wait_m3, [m1, m2]))
}

/// The Initiator after the genuine message_3, with all four genuine messages (message_4 is
/// built by the Responder but not yet processed).
pub fn to_initiator_wait_m4() -> Result<(InitiatorWaitM4<RustCrypto>, [Vec<u8>; 4]), Error> {
    let (wait_m2, m1) = initiator_wait_m2();
    let ready_m2 = Responder::process_message_1(RustCrypto, &responder_config(), &m1)?;
    let (r_local, r_public) = responder_credential();
    let (wait_m3, m2) = ready_m2.prepare_message_2(&r_local, &RESPONDER_EPHEMERAL, c_r(), &[])?;
    let ready_m3 = wait_m2.process_message_2(&m2)?.verify(&r_public)?;
    let (i_local, i_public) = initiator_credential();
    let (wait_m4, m3) = ready_m3.prepare_message_3(&i_local, &[])?;
    let ready_m4 = wait_m3.process_message_3(&m3)?.verify(&i_public)?;
    let (_, m4) = ready_m4.prepare_message_4(&[])?;
    Ok((wait_m4, [m1, m2, m3, m4]))
}

// Copies of the attacked states, made once per process: replaying the handshake for every
// input would cost the targets most of their speed (about 270 inputs a second for message_3,
// 130 for message_4, under AddressSanitizer). ward-crypto lets only fuzz builds copy a
// handshake state, so these exist only in them.

/// A copy of the Initiator after sending the genuine message_1.
#[cfg(fuzzing)]
pub fn initiator_wait_m2_copy() -> InitiatorWaitM2<RustCrypto> {
    static STATE: OnceLock<InitiatorWaitM2<RustCrypto>> = OnceLock::new();
    STATE.get_or_init(|| initiator_wait_m2().0).clone()
}

/// A copy of the Responder after the genuine message_1 and message_2.
#[cfg(fuzzing)]
pub fn responder_wait_m3_copy() -> ResponderWaitM3<RustCrypto> {
    static STATE: OnceLock<ResponderWaitM3<RustCrypto>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            responder_wait_m3()
                .expect("the fixed handshake reaches message_3")
                .0
        })
        .clone()
}

/// A copy of the Initiator after the genuine message_3.
#[cfg(fuzzing)]
pub fn initiator_wait_m4_copy() -> InitiatorWaitM4<RustCrypto> {
    static STATE: OnceLock<InitiatorWaitM4<RustCrypto>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            to_initiator_wait_m4()
                .expect("the fixed handshake reaches message_4")
                .0
        })
        .clone()
}
