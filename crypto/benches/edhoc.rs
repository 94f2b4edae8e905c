//! What one EDHOC handshake costs: bytes on the wire and CPU on each side.
//!
//! A node answers every camera that (re)connects, so the responder's CPU per handshake bounds
//! how fast a node can re-admit a fleet after an outage; a camera's MCU pays the initiator's
//! share. Both are measured here with the pure-Rust backend ([`RustCrypto`]) on suite 2 (P-256,
//! ES256) for method 0 (both sides sign) and method 3 (both sides use static Diffie-Hellman),
//! with credentials referenced by `kid`, as a camera would send them.
//!
//! Every handshake uses fresh ephemeral keys on both sides. The peer's messages each side needs
//! are produced in criterion's batch setup, outside the timing: the timed routine replays one
//! side from its ephemeral scalar (key generation from the scalar is inside the timing; drawing
//! the random bytes is not). Signatures are deterministic (RFC 6979), so the replayed side
//! produces the very bytes the peer answered in setup; `main` checks that once before timing.
//! Credential lookup by `kid` is the caller's and is left out: each side is handed its peer's
//! credential directly.
//!
//! Before timing, the size of every message is printed, for methods 0 and 3 on suite 2 and
//! method 0 on suite 0, to compare with RFC 9528's 37, 45 and 19 bytes for method 3.
//!
//! Run with `cargo bench -p ward-crypto --bench edhoc`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group};
use sha2::{Digest as _, Sha256};
use ward_crypto::backend::RustCrypto;
use ward_crypto::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, IdCred, Initiator, InitiatorConfig, LocalCredential,
    Method, Responder, ResponderConfig, Session,
};
use ward_crypto::{Ccs, SecretKey};

/// One side's credential: what it holds, and what its peer has provisioned for it.
struct Party {
    local: LocalCredential<RustCrypto>,
    public: AuthCredential,
}

/// A party for `suite` with a CCS whose kid is `kid`, signing or using static DH on P-256.
fn party(rng: &mut SeededRng, suite: CipherSuite, signs: bool, kid: u8) -> Party {
    let key = match suite {
        CipherSuite::Suite2 => SecretKey::generate_p256(rng),
        _ => SecretKey::generate_ed25519(rng),
    };
    let ccs = Ccs::new(None, key.public_key(), Some(&[kid]));
    let public = AuthCredential::from_ccs(&ccs).expect("a CCS built from a valid key parses");
    let id_cred = IdCred::kid(&[kid]).expect("a one-byte kid is short enough");
    let local = if signs {
        LocalCredential::signing(public.clone(), id_cred, key)
    } else {
        // Static DH is benchmarked on P-256 only; the ECDSA scalar doubles as the DH scalar.
        let SecretKey::P256(signing) = &key else {
            panic!("static DH parties are only built for suite 2")
        };
        let scalar: [u8; 32] = signing.to_bytes().into();
        LocalCredential::static_dh(&RustCrypto, public.clone(), id_cred, suite.curve(), &scalar)
    }
    .expect("the key is the credential's");
    Party { local, public }
}

/// Both parties of one method and suite, with their configurations.
struct Pair {
    method: Method,
    initiator: Party,
    responder: Party,
    config: InitiatorConfig,
    r_config: ResponderConfig,
}

impl Pair {
    fn new(rng: &mut SeededRng, method: Method, suite: CipherSuite) -> Pair {
        Pair {
            method,
            initiator: party(rng, suite, method.initiator_signs(), 0x0a),
            responder: party(rng, suite, method.responder_signs(), 0x0b),
            config: InitiatorConfig::new(method, &[suite]).expect("one suite"),
            r_config: ResponderConfig::new(&[method], &[suite]).expect("one method, one suite"),
        }
    }
}

fn c_i() -> ConnectionId {
    ConnectionId::new(&[0x01]).expect("one byte")
}

fn c_r() -> ConnectionId {
    ConnectionId::new(&[0x02]).expect("one byte")
}

/// One handshake's worth of inputs: both ephemeral scalars and the messages they produce.
struct Exchange {
    x: [u8; 32],
    y: [u8; 32],
    messages: Vec<Vec<u8>>,
}

/// Runs a whole handshake with fresh ephemeral keys, message_4 included.
fn exchange(pair: &Pair, rng: &mut SeededRng) -> Exchange {
    let (x, y) = (rng.scalar(), rng.scalar());
    let (wait_m2, m1) =
        Initiator::start(RustCrypto, &pair.config, &x, c_i(), &[]).expect("message_1");
    let (wait_m3, m2) = Responder::process_message_1(RustCrypto, &pair.r_config, &m1)
        .and_then(|s| s.prepare_message_2(&pair.responder.local, &y, c_r(), &[]))
        .expect("message_2");
    let (wait_m4, m3) = wait_m2
        .process_message_2(&m2)
        .and_then(|s| s.verify(&pair.responder.public))
        .and_then(|s| s.prepare_message_3(&pair.initiator.local, &[]))
        .expect("message_3");
    let (_, m4) = wait_m3
        .process_message_3(&m3)
        .and_then(|s| s.verify(&pair.initiator.public))
        .and_then(|s| s.prepare_message_4(&[]))
        .expect("message_4");
    wait_m4.process_message_4(&m4).expect("session");
    Exchange {
        x,
        y,
        messages: vec![m1, m2, m3, m4],
    }
}

/// The responder's whole share of a handshake: message_1 in, message_2 out, message_3 in,
/// the session out (without message_4, which is optional). Returns message_2 too.
fn respond(pair: &Pair, e: &Exchange) -> (Session<RustCrypto>, Vec<u8>) {
    let (wait_m3, m2) = Responder::process_message_1(RustCrypto, &pair.r_config, &e.messages[0])
        .and_then(|s| s.prepare_message_2(&pair.responder.local, &e.y, c_r(), &[]))
        .expect("message_2");
    let session = wait_m3
        .process_message_3(&e.messages[2])
        .and_then(|s| s.verify(&pair.initiator.public))
        .expect("initiator authenticated")
        .finish();
    (session, m2)
}

/// The initiator's whole share: message_1 out, message_2 in, message_3 out, the session.
fn initiate(pair: &Pair, e: &Exchange) -> (Session<RustCrypto>, Vec<u8>) {
    let (wait_m2, _) =
        Initiator::start(RustCrypto, &pair.config, &e.x, c_i(), &[]).expect("message_1");
    let (wait_m4, m3) = wait_m2
        .process_message_2(&e.messages[1])
        .and_then(|s| s.verify(&pair.responder.public))
        .and_then(|s| s.prepare_message_3(&pair.initiator.local, &[]))
        .expect("message_3");
    (wait_m4.finish_without_message_4(), m3)
}

fn print_sizes() {
    let mut rng = SeededRng(0x4544_484f_4300_0000);
    println!("EDHOC message sizes in bytes (kid references, no EAD, one-byte C_I and C_R):");
    println!("| method | suite | message_1 | message_2 | message_3 | message_4 | total (1-3) |");
    for (method, suite) in [
        (Method::SignatureSignature, CipherSuite::Suite2),
        (Method::SignatureSignature, CipherSuite::Suite0),
        (Method::StaticStatic, CipherSuite::Suite2),
    ] {
        let pair = Pair::new(&mut rng, method, suite);
        let e = exchange(&pair, &mut rng);
        let sizes: Vec<usize> = e.messages.iter().map(Vec::len).collect();
        let total: usize = sizes[..3].iter().sum();
        println!(
            "| {} | {} | {} | {} | {} | {} | {total} |",
            method.value(),
            suite.value(),
            sizes[0],
            sizes[1],
            sizes[2],
            sizes[3],
        );
    }
}

fn handshakes(c: &mut Criterion) {
    let mut rng = SeededRng(0x4544_484f_4300_0001);
    let mut group = c.benchmark_group("edhoc_suite2_rustcrypto");
    for (name, method) in [
        ("method0", Method::SignatureSignature),
        ("method3", Method::StaticStatic),
    ] {
        let pair = Pair::new(&mut rng, method, CipherSuite::Suite2);

        // The replayed side must reproduce the bytes its peer answered in setup.
        let e = exchange(&pair, &mut rng);
        assert_eq!(respond(&pair, &e).1, e.messages[1], "{:?}", pair.method);
        assert_eq!(initiate(&pair, &e).1, e.messages[2], "{:?}", pair.method);

        group.bench_function(format!("responder/{name}"), |b| {
            b.iter_batched(
                || exchange(&pair, &mut rng),
                |e| respond(black_box(&pair), black_box(&e)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("initiator/{name}"), |b| {
            b.iter_batched(
                || exchange(&pair, &mut rng),
                |e| initiate(black_box(&pair), black_box(&e)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(edhoc, handshakes);

fn main() {
    print_sizes();
    edhoc();
    Criterion::default().configure_from_args().final_summary();
}

/// SHA-256 over a counter: the same keys on every run, fresh ones for every handshake.
struct SeededRng(u64);

impl SeededRng {
    /// 32 random bytes: below the P-256 order except with probability about 2^-32.
    fn scalar(&mut self) -> [u8; 32] {
        self.0 += 1;
        Sha256::digest(self.0.to_le_bytes()).into()
    }
}

impl rand_core::TryRng for SeededRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            chunk.copy_from_slice(&self.scalar()[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SeededRng {}
