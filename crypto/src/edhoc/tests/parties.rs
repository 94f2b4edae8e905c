//! Test parties: keys and credentials for every method and suite, a resolver, and a driver
//! that runs a whole handshake.

use alloc::string::String;
use alloc::vec::Vec;

use crate::backend::{Backend as _, Curve, RustCrypto};
use crate::cbor::Writer;
use crate::credential::Ccs;
use crate::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, CredentialResolver, EadItem, Error, IdCred,
    Initiator, InitiatorConfig, LocalCredential, Method, Rejection, Responder, ResponderConfig,
    Session,
};
use crate::keys::SecretKey;
use crate::test_rng::TestRng;

/// One side's credential: what it holds, and what its peer knows of it.
pub(super) struct Party {
    pub local: LocalCredential<RustCrypto>,
    pub public: AuthCredential,
}

/// How a party's ID_CRED_x refers to its credential.
#[derive(Clone, Copy, Debug)]
pub(super) enum Reference {
    Kid,
    ByValue,
}

/// A CCS with an X25519 key, which Ward's `Ccs` does not build (RFC 9528 §3.5.2 example).
pub(in crate::edhoc) fn x25519_ccs(public: &[u8; 32], kid: u8) -> Vec<u8> {
    let mut ccs = Vec::new();
    let mut w = Writer::new(&mut ccs);
    w.map(2);
    w.int(2);
    w.text("42-50-31-FF-EF-37-32-39");
    w.int(8);
    w.map(1);
    w.int(1);
    w.map(4);
    w.int(1);
    w.int(1);
    w.int(2);
    w.bytes(&[kid]);
    w.int(-1);
    w.int(4);
    w.int(-2);
    w.bytes(public);
    ccs
}

/// A party for `suite` that signs or uses static DH, with a CCS whose kid is `kid`.
pub(super) fn party(
    rng: &mut TestRng,
    suite: CipherSuite,
    signs: bool,
    kid: u8,
    reference: Reference,
) -> Party {
    let b = RustCrypto;
    let (ccs, key): (Vec<u8>, Option<SecretKey>) = match (suite, signs) {
        (CipherSuite::Suite2, true) => {
            let key = SecretKey::generate_p256(rng);
            let ccs = Ccs::new(Some(String::from("cam")), key.public_key(), Some(&[kid]));
            (ccs.as_bytes().to_vec(), Some(key))
        }
        (_, true) => {
            let key = SecretKey::generate_ed25519(rng);
            let ccs = Ccs::new(Some(String::from("node")), key.public_key(), Some(&[kid]));
            (ccs.as_bytes().to_vec(), Some(key))
        }
        (CipherSuite::Suite2, false) => {
            let key = SecretKey::generate_p256(rng);
            let ccs = Ccs::new(None, key.public_key(), Some(&[kid]));
            (ccs.as_bytes().to_vec(), Some(key))
        }
        (_, false) => {
            let mut scalar = [0u8; 32];
            rand_core::Rng::fill_bytes(rng, &mut scalar);
            let secret = b
                .agreement_key(Curve::X25519, &scalar)
                .expect("X25519 scalar");
            let public = b.agreement_public(&secret);
            let party = static_party(&x25519_ccs(&public, kid), &scalar, suite, kid, reference);
            return party;
        }
    };
    let key = key.expect("a key for every other branch");
    if signs {
        let public = AuthCredential::parse_ccs(&ccs).expect("own CCS");
        let id_cred = id_cred(&ccs, kid, reference);
        let local = LocalCredential::signing(public.clone(), id_cred, key).expect("key fits");
        Party { local, public }
    } else {
        let SecretKey::P256(signing) = &key else {
            unreachable!("P-256 branch")
        };
        let mut scalar = [0u8; 32];
        scalar.copy_from_slice(&signing.to_bytes());
        static_party(&ccs, &scalar, suite, kid, reference)
    }
}

fn static_party(
    ccs: &[u8],
    scalar: &[u8; 32],
    suite: CipherSuite,
    kid: u8,
    reference: Reference,
) -> Party {
    let public = AuthCredential::parse_ccs(ccs).expect("own CCS");
    let id_cred = id_cred(ccs, kid, reference);
    let local =
        LocalCredential::static_dh(&RustCrypto, public.clone(), id_cred, suite.curve(), scalar)
            .expect("scalar fits");
    Party { local, public }
}

fn id_cred(ccs: &[u8], kid: u8, reference: Reference) -> IdCred {
    match reference {
        Reference::Kid => IdCred::kid(&[kid]).expect("short kid"),
        Reference::ByValue => IdCred::Kccs(ccs.to_vec()),
    }
}

/// Resolves kids from a list, and credentials by value when their key is on the list.
#[derive(Default)]
pub(super) struct Directory {
    pub known: Vec<(Vec<u8>, AuthCredential)>,
}

impl Directory {
    pub(super) fn with(party: &Party) -> Directory {
        let kid = party.public.kid().expect("test CCSs have a kid").to_vec();
        Directory {
            known: alloc::vec![(kid, party.public.clone())],
        }
    }
}

impl CredentialResolver for Directory {
    fn resolve(&mut self, id_cred: &IdCred) -> Result<AuthCredential, Rejection> {
        match id_cred {
            IdCred::Kid(kid) => self
                .known
                .iter()
                .find(|(k, _)| k == kid)
                .map(|(_, cred)| cred.clone())
                .ok_or(Rejection::UnknownCredential),
            IdCred::Kccs(ccs) => {
                let cred = AuthCredential::parse_ccs(ccs).map_err(|_| Rejection::Untrusted)?;
                // By value, trust the key only if it is the one provisioned.
                self.known
                    .iter()
                    .any(|(_, known)| known.key() == cred.key())
                    .then_some(cred)
                    .ok_or(Rejection::Untrusted)
            }
            // RFC 9528 §6.4: ERR_CODE 3 is not for identifier types we do not support.
            _ => Err(Rejection::Untrusted),
        }
    }
}

/// The outcome of a whole handshake, with the messages exchanged.
pub(super) struct Run {
    pub initiator: Session<RustCrypto>,
    pub responder: Session<RustCrypto>,
    pub messages: [Vec<u8>; 4],
    pub ead: [Vec<EadItem>; 4],
}

/// EAD items to send in message_1 to message_4.
pub(super) type Ead<'a> = [&'a [EadItem]; 4];

/// Runs a handshake between `i` and `r` with fixed ephemeral keys, message_4 included.
pub(super) fn run(
    method: Method,
    suite: CipherSuite,
    i: &Party,
    r: &Party,
    ead: Ead<'_>,
) -> Result<Run, Error> {
    let labels = [1, 2, 3, 4];
    let config = InitiatorConfig::new(method, &[suite])?.with_ead_labels(&labels);
    let responder_config = ResponderConfig::new(&[method], &[suite])?.with_ead_labels(&labels);
    let c_i = ConnectionId::new(&[0x01]).expect("short");
    let c_r = ConnectionId::new(&[0x02]).expect("short");
    let (wait_m2, m1) = Initiator::start(RustCrypto, &config, &[0x11; 32], c_i, ead[0])?;
    let ready_m2 = Responder::process_message_1(RustCrypto, &responder_config, &m1)?;
    let ead_1 = ready_m2.ead_1().to_vec();
    let (wait_m3, m2) = ready_m2.prepare_message_2(&r.local, &[0x22; 32], c_r, ead[1])?;
    let wait_cred_r = wait_m2.process_message_2(&m2)?;
    let ready_m3 = wait_cred_r.resolve(&mut Directory::with(r))?;
    let ead_2 = ready_m3.ead_2().to_vec();
    let (wait_m4, m3) = ready_m3.prepare_message_3(&i.local, ead[2])?;
    let wait_cred_i = wait_m3.process_message_3(&m3)?;
    let ready_m4 = wait_cred_i.resolve(&mut Directory::with(i))?;
    let ead_3 = ready_m4.ead_3().to_vec();
    let (responder, m4) = ready_m4.prepare_message_4(ead[3])?;
    let (initiator, ead_4) = wait_m4.process_message_4_with_labels(&m4, &labels)?;
    Ok(Run {
        initiator,
        responder,
        messages: [m1, m2, m3, m4],
        ead: [ead_1, ead_2, ead_3, ead_4],
    })
}

/// The two parties of `method` on `suite`, with the given references.
pub(super) fn parties(
    seed: u64,
    method: Method,
    suite: CipherSuite,
    reference: Reference,
) -> (Party, Party) {
    let mut rng = TestRng::new(seed);
    let i = party(&mut rng, suite, method.initiator_signs(), 0x0a, reference);
    let r = party(&mut rng, suite, method.responder_signs(), 0x0b, reference);
    (i, r)
}
