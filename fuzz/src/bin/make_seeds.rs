//! Writes seed inputs for every fuzz target into `fuzz/corpus/<target>/`, or under the
//! directory given as the only argument.
//!
//! Seeds are valid inputs, most of them signed by the fixed fleet of `ward_fuzz::fleet`, so
//! the fuzzer starts from inputs that pass every check and spends its time on mutations of
//! them rather than on finding the CBOR structure by chance. Serials and some keys are drawn
//! from the system RNG, so two runs write different bytes of the same shape; a corpus
//! directory keeps whatever it held before.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds
//! ```

#![forbid(unsafe_code)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use coset::CborSerializable as _;
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use libp2p_identity::PeerId;
use serde_bytes::ByteBuf;
use ward_crypto::backend::RustCrypto;
use ward_crypto::coap::{
    Correlation, ErrorCause, Limits, Message, Token, combine_edhoc_oscore, edhoc_error_response,
    edhoc_request, edhoc_response, edhoc_trigger_request,
};
use ward_crypto::credential::Credential;
use ward_crypto::edhoc::{
    CipherSuite, ConnectionId, EadItem, Error, ErrorMessage, Initiator, InitiatorConfig, Method,
    Responder, ResponderConfig, SuiteList,
};
use ward_crypto::issue::{CredentialRequest, Issuer, fleet_root};
use ward_crypto::token::{FrameTokenKey, TokenMinter};
use ward_crypto::{
    Ccs, Revocation, RevocationReason, RevocationSet, RevocationStatement, RevocationTarget, Role,
    SecretKey,
};
use ward_fuzz::edhoc_parties::{
    EAD_LABELS, INITIATOR_EPHEMERAL, genuine, initiator_wait_m2, responder_wait_m3,
    to_initiator_wait_m4,
};
use ward_fuzz::fleet::{CAMERA_NAME, CAMERA_SCOPE, NOW, ROOT_NAME, SITE, YEAR, fleet};
use ward_fuzz::gate_script::{GateScript, SESSION, Step, TOKEN_KEY, frame};
use ward_fuzz::mesh::{OTHER_SITE, mesh, remote_peer};
use ward_fuzz::oscore_pair::genuine_requests;
use ward_node::join::check_joined;
use ward_node::mesh::sync::{
    SyncRequest, SyncResponse, decode_gossip_revocation, encode_gossip_revocation, split_ids,
};
use ward_node::mesh::{AdmissionMessage, JoinRequest, JoinResponse};

/// COSE_Sign1's tag 18 as its one-byte head, and the CWT tag 61 as its two-byte head.
const TAG_COSE_SIGN1: u8 = 0xd2;
const TAG_CWT: [u8; 2] = [0xd8, 0x3d];

/// A seed: its file name and its bytes.
type Seed = (&'static str, Vec<u8>);

/// Whether a seed is an input its target's decoder accepts.
type Decodes = fn(&[u8]) -> bool;

fn main() -> io::Result<()> {
    let root = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
    };
    let mut rng = UnwrapErr(SysRng);

    let nodes = MeshNodes::issue(&mut rng);

    let targets: [(&str, Vec<Seed>, Decodes); 17] = [
        ("credential", credential_seeds(&mut rng), |b| {
            Credential::decode(b).is_ok()
        }),
        ("ccs", ccs_seeds(&mut rng), |b| Ccs::decode(b).is_ok()),
        ("revocation", revocation_seeds(), |b| {
            Revocation::decode(b).is_ok()
        }),
        ("key_file", key_file_seeds(&mut rng), |b| {
            SecretKey::from_cose_key_bytes(b).is_ok()
        }),
        ("token", token_seeds(), |b| GateScript::parse(b).is_some()),
        ("edhoc_responder_m1", message_1_seeds(), |b| {
            Responder::process_message_1(RustCrypto, &all_methods_and_suites(), b).is_ok()
        }),
        // The handshake targets take the genuine message, or an error message in its place.
        ("edhoc_initiator_m2", handshake_seeds(1), |b| {
            let (wait_m2, _) = initiator_wait_m2();
            matches!(wait_m2.process_message_2(b), Ok(_) | Err(Error::Aborted(_)))
        }),
        ("edhoc_responder_m3", handshake_seeds(2), |b| {
            let (wait_m3, _) = responder_wait_m3().expect("the fixed handshake");
            matches!(wait_m3.process_message_3(b), Ok(_) | Err(Error::Aborted(_)))
        }),
        ("edhoc_initiator_m4", handshake_seeds(3), |b| {
            let (wait_m4, _) = to_initiator_wait_m4().expect("the fixed handshake");
            matches!(wait_m4.process_message_4(b), Ok(_) | Err(Error::Aborted(_)))
        }),
        ("edhoc_error", error_message_seeds(), |b| {
            ErrorMessage::decode(b).is_ok()
        }),
        ("oscore_verify", oscore_seeds(), |b| {
            Message::decode(b, &Limits::default()).is_ok()
        }),
        ("coap_decode", coap_seeds(), |b| {
            Message::decode(b, &Limits::default()).is_ok()
        }),
        // The mesh targets' inputs decode as the libp2p codec decodes them.
        ("mesh_admission", mesh_admission_seeds(&nodes), |b| {
            b.split_first().is_some_and(|(_, message)| {
                cbor4ii::serde::from_slice::<AdmissionMessage>(message).is_ok()
            })
        }),
        ("mesh_join", mesh_join_seeds(&nodes), |b| {
            match b.split_first() {
                Some((selector, message)) if selector % 2 == 0 => {
                    cbor4ii::serde::from_slice::<JoinRequest>(message).is_ok()
                }
                Some((_, message)) => cbor4ii::serde::from_slice::<JoinResponse>(message).is_ok(),
                None => false,
            }
        }),
        ("mesh_sync", mesh_sync_seeds(&nodes), |b| {
            cbor4ii::serde::from_slice::<SyncRequest>(b).is_ok()
                || cbor4ii::serde::from_slice::<SyncResponse>(b).is_ok()
                || split_ids(b, usize::MAX).is_some()
                || decode_gossip_revocation(b).is_some()
        }),
        (
            "mesh_gossip",
            mesh_gossip_seeds(&nodes),
            mesh_gossip_decodes,
        ),
        // Payloads: the target frames them with a sound checksum.
        ("registry_message", registry_seeds(), |b| {
            let framed = ward_fuzz::registry::frame(b);
            ward_consensus::transport::decode_request(&framed).is_ok()
                || ward_consensus::transport::decode_reply(&framed).is_ok()
        }),
    ];
    for (target, seeds, decodes) in targets {
        let dir = root.join(target);
        fs::create_dir_all(&dir).map_err(|err| in_path(&dir, err))?;
        for (name, bytes) in &seeds {
            // A seed the decoder refuses would only teach the fuzzer the first error path.
            assert!(decodes(bytes), "seed {target}/{name} does not decode");
            let path = dir.join(name);
            fs::write(&path, bytes).map_err(|err| in_path(&path, err))?;
        }
        println!("{:>3} seeds in {}", seeds.len(), dir.display());
    }
    Ok(())
}

fn in_path(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

fn credential_seeds(rng: &mut UnwrapErr<SysRng>) -> Vec<Seed> {
    let fleet = fleet();
    let camera = fleet.camera.as_bytes().to_vec();
    let mut seeds = vec![
        ("root", fleet.root.credential().as_bytes().to_vec()),
        ("site-ca", fleet.site_ca.credential().as_bytes().to_vec()),
        ("camera", camera.clone()),
        // RFC 8392 §6: the COSE tag may be left out, or wrapped in the CWT tag.
        ("camera-untagged", camera[1..].to_vec()),
        ("camera-cwt-tagged", [&TAG_CWT[..], &camera].concat()),
    ];
    assert_eq!(
        camera[0], TAG_COSE_SIGN1,
        "credentials are written with the COSE_Sign1 tag"
    );

    // The issuance API, as `ward cert` uses it.
    let other_root_key = SecretKey::generate_ed25519(rng);
    let other_root = fleet_root("fleet:other", &other_root_key, NOW, 10 * YEAR, rng)
        .expect("a valid fleet root request");
    seeds.push(("other-root", other_root.as_bytes().to_vec()));
    let root = Issuer::new(&fleet.root_key, fleet.root.credential()).expect("the root's key");
    let site_ca = Issuer::new(&fleet.site_key, fleet.site_ca.credential()).expect("its key");
    let requests = [
        (
            "site-ca-issued",
            &root,
            request(SITE, Role::SiteCa, SecretKey::generate_p256(rng), &[]),
        ),
        (
            "node",
            &site_ca,
            request(
                "12D3KooWfuzznode",
                Role::Node,
                SecretKey::generate_p256(rng),
                &[CAMERA_SCOPE, "api:events", "gossip:revocations"],
            ),
        ),
        // Admins are the one leaf role that may hold an Ed25519 key.
        (
            "admin",
            &site_ca,
            request("alice", Role::Admin, SecretKey::generate_ed25519(rng), &[]),
        ),
        (
            "camera-issued",
            &site_ca,
            request(
                CAMERA_NAME,
                Role::Camera,
                SecretKey::generate_p256(rng),
                &[CAMERA_SCOPE],
            ),
        ),
    ];
    for (name, issuer, request) in requests {
        let credential = issuer.issue(&request, NOW, rng).expect("a valid request");
        seeds.push((name, credential.as_bytes().to_vec()));
    }
    seeds
}

fn request(subject: &str, role: Role, key: SecretKey, scopes: &[&str]) -> CredentialRequest {
    CredentialRequest {
        subject: subject.into(),
        role,
        key: key.public_key(),
        scopes: scopes.iter().map(|scope| String::from(*scope)).collect(),
        lifetime_secs: YEAR,
    }
}

fn ccs_seeds(rng: &mut UnwrapErr<SysRng>) -> Vec<Seed> {
    let fleet = fleet();
    let camera = Ccs::new(
        Some(CAMERA_NAME.into()),
        fleet.camera_key.public_key(),
        None,
    );
    let camera = camera.as_bytes().to_vec();
    // RFC 9053 §7.1.1: a P-256 `y` may be just its sign bit, a CBOR boolean.
    let y_at = find(&camera, &[0x22, 0x58, 0x20]).expect("a P-256 COSE_Key has a 32-byte y");
    let compressed = |sign: u8| [&camera[..y_at], &[0x22, sign], &camera[y_at + 35..]].concat();
    vec![
        ("camera", camera.clone()),
        ("camera-compressed-true", compressed(0xf5)),
        ("camera-compressed-false", compressed(0xf4)),
        (
            "root-with-kid",
            Ccs::new(None, fleet.root.key().clone(), Some(b"root"))
                .as_bytes()
                .into(),
        ),
        (
            "node",
            Ccs::new(
                Some("node".into()),
                SecretKey::generate_ed25519(rng).public_key(),
                None,
            )
            .as_bytes()
            .into(),
        ),
    ]
}

fn revocation_seeds() -> Vec<Seed> {
    let fleet = fleet();
    let site_ca = fleet.site_ca.credential().claims();
    let camera = fleet.camera.claims();
    let statement = |issuer: &str, target, reason| RevocationStatement {
        issuer: issuer.into(),
        target,
        reason,
        revoked_at: NOW,
    };
    let by_root = |statement| {
        Revocation::sign(statement, &fleet.root_key)
            .as_bytes()
            .to_vec()
    };
    let by_site = |statement| {
        Revocation::sign(statement, &fleet.site_key)
            .as_bytes()
            .to_vec()
    };
    let site_ca_serial = RevocationTarget::Serial(site_ca.serial);
    let camera_serial = RevocationTarget::Serial(camera.serial);
    let camera_key = RevocationTarget::Key(fleet.camera.key_id());

    let root_revokes_site_ca = by_root(statement(
        ROOT_NAME,
        site_ca_serial,
        RevocationReason::Superseded,
    ));
    vec![
        ("root-revokes-site-ca", root_revokes_site_ca.clone()),
        (
            "root-revokes-site-ca-untagged",
            root_revokes_site_ca[1..].to_vec(),
        ),
        (
            "root-revokes-camera-key",
            by_root(statement(
                ROOT_NAME,
                camera_key,
                RevocationReason::KeyCompromise,
            )),
        ),
        (
            "site-revokes-camera",
            by_site(statement(SITE, camera_serial, RevocationReason::Quarantine)),
        ),
        (
            "site-revokes-camera-key",
            by_site(statement(SITE, camera_key, RevocationReason::Unspecified)),
        ),
        // Refused for a signature by the wrong key, and for an issuer nobody knows.
        (
            "site-signs-as-root",
            by_site(statement(
                ROOT_NAME,
                camera_serial,
                RevocationReason::CessationOfOperation,
            )),
        ),
        (
            "unknown-issuer",
            by_root(statement(
                "site-elsewhere",
                camera_serial,
                RevocationReason::Superseded,
            )),
        ),
    ]
}

fn key_file_seeds(rng: &mut UnwrapErr<SysRng>) -> Vec<Seed> {
    let fleet = fleet();
    let ed25519 = fleet.root_key.to_cose_key_bytes().to_vec();
    let p256 = fleet.site_key.to_cose_key_bytes().to_vec();
    // Optional members: `alg` (3) and `kid` (2), appended with the map's count raised by one.
    let with = |file: &[u8], entry: &[u8]| [&[file[0] + 1], &file[1..], entry].concat();
    // The shortest file: kty, crv and d alone, with no public parameters to check.
    let d_at = find(&ed25519, &[0x23, 0x58, 0x20]).expect("an Ed25519 key file holds d");
    vec![
        ("ed25519", ed25519.clone()),
        ("ed25519-alg", with(&ed25519, &[0x03, 0x27])),
        ("ed25519-kid", with(&ed25519, &[0x02, 0x42, b'k', b'1'])),
        (
            "ed25519-d-only",
            [&[0xa3, 0x01, 0x01, 0x20, 0x06], &ed25519[d_at..]].concat(),
        ),
        ("p256", p256.clone()),
        ("p256-alg", with(&p256, &[0x03, 0x26])),
        (
            "ed25519-random",
            SecretKey::generate_ed25519(rng)
                .to_cose_key_bytes()
                .to_vec(),
        ),
        (
            "p256-random",
            SecretKey::generate_p256(rng).to_cose_key_bytes().to_vec(),
        ),
    ]
}

fn token_seeds() -> Vec<Seed> {
    const T0: u64 = NOW * 1_000;
    let script = |lifetime_ms, max_skew_ms, start_ms, steps: Vec<Step>| {
        GateScript {
            lifetime_ms,
            max_skew_ms,
            start_ms,
            steps,
        }
        .to_bytes()
    };
    let minted =
        TokenMinter::new(FrameTokenKey::from_bytes(TOKEN_KEY), SESSION).mint(T0, &frame(0));
    let mut foreign = minted;
    foreign[1..9].copy_from_slice(b"othersss");

    vec![
        // A stream: minted frames, a gap, a replay, a tampered token, a stale counter.
        (
            "stream",
            script(
                2_000,
                250,
                T0,
                vec![
                    Step::mint(0, 0),
                    Step::mint(40, -5),
                    Step::sign(40, 0, 7),
                    Step::replay(40, 1),
                    Step::tamper(0, 2, 200),
                    Step::mint(40, 0),
                    Step::sign(3_000, 0, 8),
                    Step::replay(0, 3),
                ],
            ),
        ),
        // The widest policy, with tokens just inside and just outside its window.
        (
            "window-edges",
            script(
                5_000,
                1_000,
                T0,
                vec![
                    Step::sign(0, -5_000, 1),
                    Step::sign(0, -5_001, 2),
                    Step::sign(0, 1_000, 3),
                    Step::sign(0, 1_001, 4),
                    Step::sign(-1_000, 0, 5),
                ],
            ),
        ),
        // Bounds TokenPolicy::new refuses, and clocks about to wrap.
        (
            "refused-policy-wrapping-clock",
            script(
                999,
                1_001,
                u64::MAX - 1_000,
                vec![
                    Step::sign(900, 200, 1),
                    Step::sign(200, 0, 2),
                    Step::mint(-32_768, 32_767),
                ],
            ),
        ),
        // Raw tokens: a valid one, the same again, and one of another session.
        (
            "raw-tokens",
            script(
                1_000,
                0,
                T0,
                vec![
                    Step::present(0, minted),
                    Step::present(0, minted),
                    Step::present(0, foreign),
                ],
            ),
        ),
        ("header-only", script(2_000, 250, T0, vec![])),
    ]
}

/// The configuration of the `edhoc_responder_m1` target: every method on suites 0 and 2.
fn all_methods_and_suites() -> ResponderConfig {
    ResponderConfig::new(&METHODS, &[CipherSuite::Suite0, CipherSuite::Suite2])
        .expect("every method on suites 0 and 2 is supported")
        .with_ead_labels(&EAD_LABELS)
}

const METHODS: [Method; 4] = [
    Method::SignatureSignature,
    Method::SignatureStatic,
    Method::StaticSignature,
    Method::StaticStatic,
];

/// message_1 for every method and suite, with the fixed ephemeral scalar, and variants of
/// C_I and EAD_1.
fn message_1_seeds() -> Vec<Seed> {
    let message_1 = |method, suite, c_i: &[u8], ead_1: &[EadItem]| {
        let config = InitiatorConfig::new(method, &[suite])
            .expect("a supported method and suite")
            .with_ead_labels(&EAD_LABELS);
        let c_i = ConnectionId::new(c_i).expect("a short connection identifier");
        Initiator::start(RustCrypto, &config, &INITIATOR_EPHEMERAL, c_i, ead_1)
            .expect("the fixed scalar is valid on both curves")
            .1
    };
    let mut seeds = Vec::new();
    for method in METHODS {
        for suite in [CipherSuite::Suite0, CipherSuite::Suite2] {
            let name = format!("method-{}-suite-{}", method.value(), suite.value());
            seeds.push((leak(name), message_1(method, suite, &[0x01], &[])));
        }
    }
    let ead = [
        EadItem::new(1, true, Some(b"enrol")).expect("a short EAD item"),
        EadItem::new(7, false, None).expect("an EAD item without a value"),
        EadItem::padding(3).expect("short padding"),
    ];
    let (m3, s2) = (Method::StaticStatic, CipherSuite::Suite2);
    seeds.extend([
        ("c-i-empty", message_1(m3, s2, &[], &[])),
        ("c-i-int-form", message_1(m3, s2, &[0x37], &[])),
        (
            "c-i-seven-bytes",
            message_1(m3, s2, &[1, 2, 3, 4, 5, 6, 7], &[]),
        ),
        ("ead-1", message_1(m3, s2, &[0x01], &ead)),
    ]);
    seeds
}

/// The genuine message `index` (0 is message_1) of the fixed handshake, and error messages.
fn handshake_seeds(index: usize) -> Vec<Seed> {
    let mut seeds = vec![("genuine", genuine()[index].clone())];
    seeds.extend(error_message_seeds());
    seeds
}

fn error_message_seeds() -> Vec<Seed> {
    let suites = SuiteList::new(&[CipherSuite::Suite0, CipherSuite::Suite2]).expect("two suites");
    vec![
        ("unspecified", ErrorMessage::unspecified().encode()),
        (
            "unspecified-text",
            ErrorMessage::Unspecified("credential expired".into()).encode(),
        ),
        (
            "wrong-suite",
            ErrorMessage::WrongSelectedSuite(suites).encode(),
        ),
        (
            "unknown-credential",
            ErrorMessage::UnknownCredential.encode(),
        ),
        ("other-code", ErrorMessage::Other(-8).encode()),
        // An unknown code with a nested ERR_INFO: 32, [1, {2: h'00'}].
        (
            "other-nested",
            vec![0x18, 0x20, 0x82, 0x01, 0xa1, 0x02, 0x41, 0x00],
        ),
    ]
}

/// The genuine OSCORE-protected requests of `ward_fuzz::oscore_pair`.
fn oscore_seeds() -> Vec<Seed> {
    let names = ["piv-0-put", "piv-1-get", "piv-2-post", "piv-3-echo"];
    genuine_requests()
        .iter()
        .zip(names)
        .map(|(request, name)| (name, request.wire.clone()))
        .collect()
}

/// The CoAP messages of EDHOC over CoAP, the combined request and OSCORE.
fn coap_seeds() -> Vec<Seed> {
    let limits = Limits::default();
    let encode = |message: &Message| message.encode(&limits).expect("fits the default limits");
    let token = Token::new(&[0x7a, 0x01]).expect("a two-byte token");
    let messages = genuine();
    let c_r = [0x02];
    let request_1 = edhoc_request(1, token, Correlation::NewSession, &messages[0]);
    let request_3 = edhoc_request(2, token, Correlation::ConnectionId(&c_r), &messages[2]);
    let protected = Message::decode(&genuine_requests()[0].wire, &limits).expect("decodes");
    let combined =
        combine_edhoc_oscore(&protected, &messages[2]).expect("an OSCORE request and message_3");
    let error = ErrorMessage::unspecified().encode();
    let mut seeds = vec![
        ("edhoc-request-1", encode(&request_1)),
        (
            "edhoc-response-2",
            encode(&edhoc_response(&request_1, &messages[1])),
        ),
        ("edhoc-request-3", encode(&request_3)),
        ("edhoc-trigger", encode(&edhoc_trigger_request(3, token))),
        (
            "edhoc-error-response",
            encode(&edhoc_error_response(
                &request_1,
                ErrorCause::Client,
                &error,
            )),
        ),
        ("edhoc-oscore-combined", encode(&combined)),
    ];
    seeds.extend(oscore_seeds());
    seeds
}

/// A node credential for `peer`, issued through the issuance API as `ward cert` issues one.
fn node_credential(
    issuer: &Issuer<'_>,
    peer: &PeerId,
    key: &SecretKey,
    rng: &mut UnwrapErr<SysRng>,
) -> Credential {
    let request = CredentialRequest {
        subject: peer.to_base58(),
        role: Role::Node,
        key: key.public_key(),
        scopes: vec![],
        lifetime_secs: YEAR,
    };
    issuer.issue(&request, NOW, rng).expect("a valid request")
}

/// Encodes a value as libp2p-request-response's CBOR codec does.
fn cbor(value: &impl serde::Serialize) -> Vec<u8> {
    cbor4ii::serde::to_vec(Vec::new(), value).expect("encoding into a Vec")
}

/// The fixed peer's credential and the other peer's, from the fixed site CA, and a node of
/// the second site CA held by the other peer, with their keys.
struct MeshNodes {
    node: Credential,
    other: Credential,
    other_key: SecretKey,
    other_site_node: Credential,
    other_site_node_key: SecretKey,
}

impl MeshNodes {
    fn issue(rng: &mut UnwrapErr<SysRng>) -> MeshNodes {
        let (fleet, mesh) = (fleet(), mesh());
        let site_ca = Issuer::new(&fleet.site_key, fleet.site_ca.credential()).expect("its key");
        let other_site = Issuer::new(&mesh.other_site_key, &mesh.other_site_ca).expect("its key");
        let other_key = SecretKey::generate_p256(rng);
        let other_site_node_key = SecretKey::generate_p256(rng);
        MeshNodes {
            node: node_credential(&site_ca, &mesh.peer, &mesh.node_key, rng),
            other: node_credential(&site_ca, &mesh.other_peer, &other_key, rng),
            other_key,
            other_site_node: node_credential(
                &other_site,
                &mesh.other_peer,
                &other_site_node_key,
                rng,
            ),
            other_site_node_key,
        }
    }
}

fn mesh_admission_seeds(nodes: &MeshNodes) -> Vec<Seed> {
    let mesh = mesh();
    let message = |credential, key, peer| {
        AdmissionMessage::new(credential, key, peer).expect("the credential's own key")
    };
    // The first byte picks the remote peer: 0 the fixed one, 1 the other.
    let input =
        |selector: u8, message: &AdmissionMessage| [&[selector][..], &cbor(message)].concat();

    let node = message(&nodes.node, &mesh.node_key, &mesh.peer);
    let other = message(&nodes.other, &nodes.other_key, &mesh.other_peer);
    let other_site = message(
        &nodes.other_site_node,
        &nodes.other_site_node_key,
        &mesh.other_peer,
    );
    // The message as nodes sent it before `site_ca` existed: a map of two entries.
    let mut two_fields = vec![0xa2];
    for (key, value) in [("credential", &node.credential), ("binding", &node.binding)] {
        two_fields.extend(cbor_head(3, key.len()));
        two_fields.extend_from_slice(key.as_bytes());
        two_fields.extend(cbor_head(2, value.len()));
        two_fields.extend_from_slice(value);
    }
    let junk = AdmissionMessage {
        credential: b"not a credential".to_vec(),
        binding: vec![0; 64],
        site_ca: Vec::new(),
    };

    let seeds = vec![
        ("node", input(0, &node)),
        (
            "node-with-site-ca",
            input(0, &node.clone().with_site_ca(fleet().site_ca.credential())),
        ),
        ("node-two-fields", [&[0][..], &two_fields].concat()),
        ("other-peer", input(1, &other)),
        (
            "other-site-with-site-ca",
            input(1, &other_site.clone().with_site_ca(&mesh.other_site_ca)),
        ),
        // Refused: a site nobody vouches for, a message replayed by another peer, junk.
        ("other-site-alone", input(1, &other_site)),
        ("node-replayed-by-other-peer", input(1, &node)),
        ("junk", input(0, &junk)),
    ];
    // The genuine messages must pass, or the fuzzer would start outside the checks.
    for (name, seed) in &seeds[..5] {
        let message: AdmissionMessage =
            cbor4ii::serde::from_slice(&seed[1..]).expect("a seed decodes");
        mesh.admission
            .check(&remote_peer(seed[0]), &message, NOW)
            .unwrap_or_else(|refusal| panic!("seed mesh_admission/{name} refused: {refusal}"));
    }
    seeds
}

fn mesh_join_seeds(nodes: &MeshNodes) -> Vec<Seed> {
    let (fleet, mesh) = (fleet(), mesh());
    // The first byte picks the message: 0 a request, 1 a response.
    let request = |key: &SecretKey| {
        let message = JoinRequest {
            token_id: vec![0x4a; 16],
            token_secret: vec![0x5e; 32],
            key: key.public_key().to_cose_key().to_vec().expect("a COSE_Key"),
        };
        [&[0][..], &cbor(&message)].concat()
    };
    let response = |message: &JoinResponse| [&[1][..], &cbor(message)].concat();
    let joined = |credential: &Credential| JoinResponse::Joined {
        credential: credential.as_bytes().to_vec(),
        site_ca: fleet.site_ca.credential().as_bytes().to_vec(),
        fleet_root: fleet.root.credential().as_bytes().to_vec(),
    };
    let node = joined(&nodes.node);
    // The genuine answer must pass, or the fuzzer would start outside the checks.
    let key = SecretKey::from_cose_key_bytes(&mesh.node_key.to_cose_key_bytes()).expect("a key");
    if let Err(e) = check_joined(&mesh.peer, key, node.clone(), NOW, 0) {
        panic!("seed mesh_join/joined refused: {e:?}");
    }
    let ed25519 =
        SecretKey::from_cose_key_bytes(&fleet.root_key.to_cose_key_bytes()).expect("a key");
    vec![
        ("request", request(&mesh.node_key)),
        ("request-ed25519-key", request(&ed25519)),
        ("joined", response(&node)),
        ("joined-other-peer", response(&joined(&nodes.other))),
        (
            "refused",
            response(&JoinResponse::Refused(
                "join token refused: join token already used by someone".into(),
            )),
        ),
    ]
}

/// A CBOR head of major type `major` (2 byte string, 3 text string) for a length below 2^16.
fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    let major = major << 5;
    match u16::try_from(len).expect("a short seed field") {
        len @ 0..24 => vec![major | len as u8],
        len @ 24..256 => vec![major | 24, len as u8],
        len => [&[major | 25][..], &len.to_be_bytes()].concat(),
    }
}

/// Genuine revocations of the mesh's credentials, verified by the fixed node's policy.
fn mesh_revocations(nodes: &MeshNodes) -> Vec<(&'static str, Revocation)> {
    let fleet = fleet();
    let statement = |issuer: &str, target, reason| RevocationStatement {
        issuer: issuer.into(),
        target,
        reason,
        revoked_at: NOW,
    };
    vec![
        (
            "root-revokes-site-ca",
            Revocation::sign(
                statement(
                    ROOT_NAME,
                    RevocationTarget::Serial(fleet.site_ca.credential().claims().serial),
                    RevocationReason::Superseded,
                ),
                &fleet.root_key,
            ),
        ),
        (
            "site-revokes-node",
            Revocation::sign(
                statement(
                    SITE,
                    RevocationTarget::Serial(nodes.node.claims().serial),
                    RevocationReason::KeyCompromise,
                ),
                &fleet.site_key,
            ),
        ),
        (
            "site-revokes-other-key",
            Revocation::sign(
                statement(
                    SITE,
                    RevocationTarget::Key(nodes.other.key_id()),
                    RevocationReason::Quarantine,
                ),
                &fleet.site_key,
            ),
        ),
    ]
}

fn mesh_sync_seeds(nodes: &MeshNodes) -> Vec<Seed> {
    let mesh = mesh();
    let revocations = mesh_revocations(nodes);
    let mut ids = Vec::new();
    for (_, revocation) in &revocations {
        let verified = mesh
            .admission
            .verify_revocation(revocation.clone())
            .expect("a genuine revocation");
        ids.extend_from_slice(&verified.entry_id());
    }
    let mut set = RevocationSet::new();
    for (_, revocation) in &revocations {
        set.insert(
            mesh.admission
                .verify_revocation(revocation.clone())
                .expect("a genuine revocation"),
        );
    }
    let digest = set.digest().0;
    let bufs = |all: Vec<&[u8]>| all.into_iter().map(ByteBuf::from).collect::<Vec<_>>();

    vec![
        ("summary", cbor(&SyncRequest::Summary { digest })),
        ("fetch", cbor(&SyncRequest::Fetch { ids: ids.clone() })),
        ("in-sync", cbor(&SyncResponse::InSync)),
        (
            "inventory",
            cbor(&SyncResponse::Inventory {
                digest,
                ids: ids.clone(),
                site_cas: bufs(vec![
                    fleet().site_ca.credential().as_bytes(),
                    mesh.other_site_ca.as_bytes(),
                ]),
            }),
        ),
        (
            "revocations",
            cbor(&SyncResponse::Revocations(bufs(
                revocations.iter().map(|(_, r)| r.as_bytes()).collect(),
            ))),
        ),
        // For the splitters alone: bare ids, and a gossiped revocation.
        ("ids", ids),
        (
            "gossip-revocation",
            encode_gossip_revocation(NOW * 1_000, revocations[0].1.as_bytes()),
        ),
    ]
}

fn mesh_gossip_seeds(nodes: &MeshNodes) -> Vec<Seed> {
    let (fleet, mesh) = (fleet(), mesh());
    // The first byte picks the topic: 0 revocations, 1 credentials.
    let revocation = |revocation: &Revocation| {
        [
            &[0][..],
            &encode_gossip_revocation(NOW * 1_000 + 250, revocation.as_bytes()),
        ]
        .concat()
    };
    let credential = |credential: &Credential| [&[1][..], credential.as_bytes()].concat();

    let mut seeds: Vec<Seed> = mesh_revocations(nodes)
        .iter()
        .map(|(name, r)| (leak(format!("revocation-{name}")), revocation(r)))
        .collect();
    // Refused: an authority the node does not trust yet.
    let other_site_revokes = Revocation::sign(
        RevocationStatement {
            issuer: OTHER_SITE.into(),
            target: RevocationTarget::Serial(nodes.other_site_node.claims().serial),
            reason: RevocationReason::Unspecified,
            revoked_at: NOW,
        },
        &mesh.other_site_key,
    );
    seeds.push(("revocation-other-site", revocation(&other_site_revokes)));
    seeds.extend([
        ("credential-node", credential(&nodes.node)),
        ("credential-other-peer", credential(&nodes.other)),
        ("credential-site-ca", credential(fleet.site_ca.credential())),
        ("credential-other-site-ca", credential(&mesh.other_site_ca)),
        // Refused: a node of a site not trusted yet, and a camera.
        (
            "credential-other-site-node",
            credential(&nodes.other_site_node),
        ),
        ("credential-camera", credential(&fleet.camera)),
    ]);
    seeds
}

fn mesh_gossip_decodes(bytes: &[u8]) -> bool {
    match bytes.split_first() {
        Some((topic, body)) if topic % 2 == 0 => decode_gossip_revocation(body)
            .is_some_and(|(_, revocation)| Revocation::decode(revocation).is_ok()),
        Some((_, body)) => Credential::decode(body).is_ok(),
        None => false,
    }
}

fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Genuine registry messages, as payloads without their 9-byte frame header.
fn registry_seeds() -> Vec<Seed> {
    use ward_consensus::transport::{encode_reply, encode_request};
    let mut seeds: Vec<Seed> = ward_fuzz::registry::requests()
        .into_iter()
        .map(|(name, request)| {
            let framed = encode_request(&request).expect("a genuine request encodes");
            (name, framed[9..].to_vec())
        })
        .collect();
    seeds.extend(
        ward_fuzz::registry::replies()
            .into_iter()
            .map(|(name, reply)| {
                let framed = encode_reply(&reply).expect("a genuine reply encodes");
                (name, framed[9..].to_vec())
            }),
    );
    seeds
}
