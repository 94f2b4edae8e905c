//! What one EDHOC handshake costs, bytes on the wire and CPU on each side, next to a TLS 1.3
//! handshake with client certificates measured in the same run.
//!
//! A node answers every camera that (re)connects, so the responder's CPU per handshake bounds
//! how fast a node can re-admit a fleet after an outage; a camera's MCU pays the initiator's
//! share. EDHOC is measured on suite 2 (P-256, ES256) for method 0 (both sides sign) and
//! method 3 (both sides use static Diffie-Hellman), with credentials referenced by `kid`, as a
//! camera would send them:
//!
//! - the responder on both backends, pure Rust ([`RustCrypto`], what a camera links) and
//!   aws-lc-rs ([`AwsLc`], what a node runs);
//! - the initiator on the pure-Rust backend, as a camera runs it.
//!
//! The TLS side (module `tls`) is rustls with its aws-lc-rs provider, ECDSA P-256
//! certificates and a client certificate required, full and resumed; its server-side time is
//! what compares with the EDHOC responder.
//!
//! Each iteration is one handshake with fresh ephemeral keys on both sides, run message by
//! message in memory. Only the measured side's own calls are timed (`iter_custom`); the peer's
//! work between them is not. Drawing random bytes for ephemeral keys is outside the timing;
//! turning them into keys is inside. Credential lookup by `kid` is the caller's and is left
//! out: each side is handed its peer's credential directly.
//!
//! Before timing, the size of every message is printed, for methods 0 and 3 on suite 2 and
//! method 0 on suite 0, to compare with RFC 9528's 37, 45 and 19 bytes for method 3, and the
//! bytes of each TLS handshake.
//!
//! Run with `cargo bench -p ward-crypto --features aws-lc --bench edhoc`.

#[path = "../support/seeded_rng.rs"]
mod seeded_rng;
mod tls;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use rand_core::TryRng as _;
use ward_crypto::backend::{AwsLc, Backend, RustCrypto};
use ward_crypto::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, IdCred, Initiator, InitiatorConfig, LocalCredential,
    Method, Responder, ResponderConfig,
};
use ward_crypto::{Ccs, SecretKey};

use seeded_rng::SeededRng;

impl SeededRng {
    /// 32 random bytes: below the P-256 order except with probability about 2^-32.
    fn scalar(&mut self) -> [u8; 32] {
        let mut scalar = [0u8; 32];
        let Ok(()) = self.try_fill_bytes(&mut scalar);
        scalar
    }
}

/// One side's credential: what it holds, and what its peer has provisioned for it.
struct Party<B: Backend> {
    local: LocalCredential<B>,
    public: AuthCredential,
}

/// A party for `suite` with a CCS whose kid is `kid`, signing or using static DH, on `backend`.
fn party<B: Backend>(
    backend: &B,
    rng: &mut SeededRng,
    suite: CipherSuite,
    signs: bool,
    kid: u8,
) -> Party<B> {
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
        LocalCredential::static_dh(backend, public.clone(), id_cred, suite.curve(), &scalar)
    }
    .expect("the key is the credential's");
    Party { local, public }
}

/// An initiator and a responder, both on backend `B`, for one method and suite.
struct Pair<B: Backend> {
    backend: B,
    initiator: Party<B>,
    responder: Party<B>,
    config: InitiatorConfig,
    r_config: ResponderConfig,
}

impl<B: Backend + Clone> Pair<B> {
    fn new(backend: B, rng: &mut SeededRng, method: Method, suite: CipherSuite) -> Pair<B> {
        let initiator = party(&backend, rng, suite, method.initiator_signs(), 0x0a);
        let responder = party(&backend, rng, suite, method.responder_signs(), 0x0b);
        Pair {
            backend,
            initiator,
            responder,
            config: InitiatorConfig::new(method, &[suite]).expect("one suite"),
            r_config: ResponderConfig::new(&[method], &[suite]).expect("one method, one suite"),
        }
    }

    /// One whole handshake with fresh ephemeral keys, message_4 included. Returns the four
    /// messages and the time spent in the initiator's and in the responder's calls (message_4
    /// is left out of both: it is optional, and Ward's cameras do not ask for it).
    fn handshake(&self, rng: &mut SeededRng) -> (Vec<Vec<u8>>, Duration, Duration) {
        let (x, y) = (rng.scalar(), rng.scalar());

        let start = Instant::now();
        let (wait_m2, m1) = Initiator::start(self.backend.clone(), &self.config, &x, c_i(), &[])
            .expect("message_1");
        let mut initiator = start.elapsed();

        let start = Instant::now();
        let (wait_m3, m2) = Responder::process_message_1(self.backend.clone(), &self.r_config, &m1)
            .and_then(|s| s.prepare_message_2(&self.responder.local, &y, c_r(), &[]))
            .expect("message_2");
        let mut responder = start.elapsed();

        let start = Instant::now();
        let (wait_m4, m3) = wait_m2
            .process_message_2(&m2)
            .and_then(|s| s.verify(&self.responder.public))
            .and_then(|s| s.prepare_message_3(&self.initiator.local, &[]))
            .expect("message_3");
        initiator += start.elapsed();

        let start = Instant::now();
        let ready_m4 = wait_m3
            .process_message_3(&m3)
            .and_then(|s| s.verify(&self.initiator.public))
            .expect("initiator authenticated");
        let session = black_box(ready_m4.session()).prk_out().clone();
        responder += start.elapsed();

        let (_, m4) = ready_m4.prepare_message_4(&[]).expect("message_4");
        let (initiator_session, _) = wait_m4.process_message_4(&m4).expect("session");
        assert!(
            *initiator_session.prk_out() == session,
            "both sides derive the same PRK_out"
        );
        (vec![m1, m2, m3, m4], initiator, responder)
    }
}

fn c_i() -> ConnectionId {
    ConnectionId::new(&[0x01]).expect("one byte")
}

fn c_r() -> ConnectionId {
    ConnectionId::new(&[0x02]).expect("one byte")
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
        let pair = Pair::new(RustCrypto, &mut rng, method, suite);
        let (messages, _, _) = pair.handshake(&mut rng);
        let sizes: Vec<usize> = messages.iter().map(Vec::len).collect();
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

/// Criterion's `iter_custom` over handshakes, timing one side: `responder` or the initiator.
fn time_side<B: Backend + Clone>(
    pair: &Pair<B>,
    rng: &mut SeededRng,
    responder: bool,
    iters: u64,
) -> Duration {
    (0..iters)
        .map(|_| {
            let (_, initiator_time, responder_time) = pair.handshake(rng);
            if responder {
                responder_time
            } else {
                initiator_time
            }
        })
        .sum()
}

fn edhoc_handshakes(c: &mut Criterion) {
    let mut rng = SeededRng(0x4544_484f_4300_0001);
    let aws_lc = AwsLc::new().expect("AWS-LC starts");
    let mut group = c.benchmark_group("edhoc_suite2");
    for (name, method) in [
        ("method0", Method::SignatureSignature),
        ("method3", Method::StaticStatic),
    ] {
        let on_rust_crypto = Pair::new(RustCrypto, &mut rng, method, CipherSuite::Suite2);
        let on_aws_lc = Pair::new(aws_lc.clone(), &mut rng, method, CipherSuite::Suite2);
        group.bench_function(format!("responder_aws_lc/{name}"), |b| {
            b.iter_custom(|iters| time_side(&on_aws_lc, &mut rng, true, iters))
        });
        group.bench_function(format!("responder_rustcrypto/{name}"), |b| {
            b.iter_custom(|iters| time_side(&on_rust_crypto, &mut rng, true, iters))
        });
        group.bench_function(format!("initiator_rustcrypto/{name}"), |b| {
            b.iter_custom(|iters| time_side(&on_rust_crypto, &mut rng, false, iters))
        });
    }
    group.finish();
}

criterion_group!(edhoc, edhoc_handshakes, tls::handshakes);

fn main() {
    print_sizes();
    tls::print_sizes();
    edhoc();
    Criterion::default().configure_from_args().final_summary();
}
