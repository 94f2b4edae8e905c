//! The two crypto backends side by side, on the operations a node repeats per handshake and
//! per message.
//!
//! Each group times one operation on `rust-crypto` (p256, dalek, RustCrypto) and on
//! `aws-lc-rs`; the ratio of the two is what a node gains by building with `aws-lc`:
//!
//! - `p256_ephemeral_ecdh`: import 32 random bytes as an ephemeral key, compute its public
//!   x-coordinate for message_2, then ECDH with the initiator's G_X (EDHOC, every handshake);
//! - `p256_static_ecdh`: ECDH with a key imported once, as method 3 does with the node's
//!   static key;
//! - `x25519_ephemeral_dh`: the same as the first, on suite 0's curve;
//! - `es256_sign`, `es256_verify`, `ed25519_verify`: signatures over a 100-byte message, about
//!   the size of EDHOC's Signature_or_MAC input;
//! - `aes_ccm_seal`, `aes_ccm_open`: OSCORE's AEAD on 64 B and 1 KiB;
//! - `hmac_sha256`: one HKDF-Expand block (32-byte key, 40 bytes of input).
//!
//! `AwsLc` hands Ed25519, HMAC and AES-CCM to the pure-Rust code, where they are as fast or
//! faster, so those rows time the same code twice and show the noise between two runs.
//! `aws_lc_rs_direct` times the aws-lc-rs routes it declined.
//!
//! Run with `cargo bench -p ward-crypto --features aws-lc --bench backend`.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ward_crypto::SecretKey;
use ward_crypto::backend::{AEAD_TAG_LEN, AwsLc, Backend, Curve, RustCrypto};

/// A signed message of about the size EDHOC signs (Signature_or_MAC's COSE Sig_structure).
const MESSAGE: [u8; 100] = [0x6d; 100];

/// Scalars below the P-256 group order, so valid on both curves. Both backends are constant
/// time in the scalar, so one fixed value times the same as fresh random ones.
const EPHEMERAL: [u8; 32] = [0x3a; 32];
const PEER: [u8; 32] = [0x51; 32];

/// Both backends, in the order each group lists them.
fn backends(aws: &AwsLc) -> [(&'static str, &dyn Ops); 2] {
    [("rust-crypto", &RustCrypto), ("aws-lc-rs", aws)]
}

/// ECDH with a key imported beforehand: peer public key in, shared secret out.
type StaticDh<'a> = Box<dyn Fn(&[u8; 32]) -> [u8; 32] + 'a>;

/// The operations timed, behind one object-safe trait so each group loops over both backends.
trait Ops {
    fn ephemeral_dh(&self, curve: Curve, peer: &[u8; 32]) -> ([u8; 32], [u8; 32]);
    fn static_key(&self, curve: Curve) -> StaticDh<'_>;
    fn public(&self, curve: Curve, scalar: &[u8; 32]) -> [u8; 32];
    fn sign(&self, key: &SecretKey, message: &[u8]) -> [u8; 64];
    fn verify(&self, key: &ward_crypto::PublicKey, message: &[u8], sig: &[u8]) -> bool;
    fn seal(&self, buffer: &mut Vec<u8>);
    fn open(&self, buffer: &mut Vec<u8>) -> bool;
    fn hmac(&self, key: &[u8], data: &[u8]) -> [u8; 32];
}

const AEAD_KEY: [u8; 16] = [0x0f; 16];
const AEAD_NONCE: [u8; 13] = [0x1e; 13];
const AEAD_AAD: [u8; 12] = [0x2d; 12];

impl<B: Backend> Ops for B {
    fn ephemeral_dh(&self, curve: Curve, peer: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
        let key = self
            .agreement_key(curve, black_box(&EPHEMERAL))
            .expect("in range");
        let public = self.agreement_public(&key);
        let shared = self.agree(&key, peer).expect("valid peer");
        (public, *shared.expose())
    }

    fn static_key(&self, curve: Curve) -> StaticDh<'_> {
        let key = self.agreement_key(curve, &EPHEMERAL).expect("in range");
        Box::new(move |peer| *self.agree(&key, peer).expect("valid peer").expose())
    }

    fn public(&self, curve: Curve, scalar: &[u8; 32]) -> [u8; 32] {
        let key = self.agreement_key(curve, scalar).expect("in range");
        self.agreement_public(&key)
    }

    fn sign(&self, key: &SecretKey, message: &[u8]) -> [u8; 64] {
        Backend::sign(self, key, message)
    }

    fn verify(&self, key: &ward_crypto::PublicKey, message: &[u8], sig: &[u8]) -> bool {
        Backend::verify(self, key, message, sig).is_ok()
    }

    fn seal(&self, buffer: &mut Vec<u8>) {
        self.aead_seal(&AEAD_KEY, &AEAD_NONCE, &AEAD_AAD, buffer);
    }

    fn open(&self, buffer: &mut Vec<u8>) -> bool {
        self.aead_open(&AEAD_KEY, &AEAD_NONCE, &AEAD_AAD, buffer)
            .is_ok()
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        *self.hmac_sha256(key, &[data]).expose()
    }
}

fn agreement(c: &mut Criterion) {
    let aws = AwsLc::new().expect("the system RNG answers");
    for (curve, ephemeral, fixed) in [
        (Curve::P256, "p256_ephemeral_ecdh", Some("p256_static_ecdh")),
        (Curve::X25519, "x25519_ephemeral_dh", None),
    ] {
        let peer = RustCrypto.public(curve, &PEER);
        let mut group = c.benchmark_group(ephemeral);
        for (name, ops) in backends(&aws) {
            group.bench_function(name, |b| {
                b.iter(|| ops.ephemeral_dh(curve, black_box(&peer)))
            });
        }
        group.finish();

        let Some(fixed) = fixed else { continue };
        let mut group = c.benchmark_group(fixed);
        for (name, ops) in backends(&aws) {
            let agree = ops.static_key(curve);
            group.bench_function(name, |b| b.iter(|| agree(black_box(&peer))));
        }
        group.finish();
    }
}

fn signatures(c: &mut Criterion) {
    let aws = AwsLc::new().expect("the system RNG answers");
    let p256 = SecretKey::P256(
        p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).expect("below the group order"),
    );
    let ed25519 = SecretKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x17; 32]));

    let mut group = c.benchmark_group("es256_sign");
    for (name, ops) in backends(&aws) {
        group.bench_function(name, |b| b.iter(|| ops.sign(&p256, black_box(&MESSAGE))));
    }
    group.finish();

    for (key, label) in [(&p256, "es256_verify"), (&ed25519, "ed25519_verify")] {
        let public = key.public_key();
        let sig = key.sign(&MESSAGE);
        let mut group = c.benchmark_group(label);
        for (name, ops) in backends(&aws) {
            group.bench_function(name, |b| {
                b.iter(|| assert!(ops.verify(&public, black_box(&MESSAGE), black_box(&sig))))
            });
        }
        group.finish();
    }
}

fn aead(c: &mut Criterion) {
    let aws = AwsLc::new().expect("the system RNG answers");
    let plaintexts = [vec![0xa5u8; 64], vec![0xa5u8; 1024]];

    // The buffers are made outside the timing, with room for the tag, as OSCORE's are.
    let mut group = c.benchmark_group("aes_ccm_seal");
    for plaintext in &plaintexts {
        group.throughput(Throughput::Bytes(plaintext.len() as u64));
        for (name, ops) in backends(&aws) {
            let id = BenchmarkId::new(name, plaintext.len());
            group.bench_with_input(id, plaintext, |b, plaintext| {
                b.iter_batched_ref(
                    || {
                        let mut buffer = Vec::with_capacity(plaintext.len() + AEAD_TAG_LEN);
                        buffer.extend_from_slice(plaintext);
                        buffer
                    },
                    |buffer| ops.seal(buffer),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("aes_ccm_open");
    for plaintext in &plaintexts {
        let mut sealed = plaintext.clone();
        RustCrypto.seal(&mut sealed);
        group.throughput(Throughput::Bytes(plaintext.len() as u64));
        for (name, ops) in backends(&aws) {
            let id = BenchmarkId::new(name, plaintext.len());
            group.bench_with_input(id, &sealed, |b, sealed| {
                b.iter_batched_ref(
                    || sealed.clone(),
                    |buffer| assert!(ops.open(buffer)),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

fn hmac(c: &mut Criterion) {
    let aws = AwsLc::new().expect("the system RNG answers");
    let (key, data) = ([0x0b; 32], [0x0c; 40]);
    let mut group = c.benchmark_group("hmac_sha256");
    for (name, ops) in backends(&aws) {
        group.bench_function(name, |b| {
            b.iter(|| ops.hmac(black_box(&key), black_box(&data)))
        });
    }
    group.finish();
}

/// The aws-lc-rs routes `AwsLc` does not take, timed so each choice in `backend/aws_lc.rs`
/// can be checked again when either side changes. Compare with the `rust-crypto` rows above
/// and, for the peer point, with `p256_static_ecdh/aws-lc-rs`.
fn aws_lc_rs_direct(c: &mut Criterion) {
    use aws_lc_rs::{agreement, digest, hmac, signature};

    let mut group = c.benchmark_group("aws_lc_rs_direct");
    group.bench_function("hmac_sha256", |b| {
        b.iter(|| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, black_box(&[0x0b; 32]));
            let mut context = hmac::Context::with_key(&key);
            context.update(black_box(&[0x0c; 40]));
            context.sign()
        })
    });
    group.bench_function("sha256_64B", |b| {
        b.iter(|| digest::digest(&digest::SHA256, black_box(&[0x0d; 64])))
    });

    let seed = [0x17; 32];
    let pair = signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("a seed");
    let sig = pair.sign(&MESSAGE);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| {
            signature::UnparsedPublicKey::new(&signature::ED25519, public.as_bytes())
                .verify(black_box(&MESSAGE), black_box(sig.as_ref()))
                .expect("genuine")
        })
    });
    group.bench_function("ed25519_sign_with_import", |b| {
        b.iter(|| {
            let pair =
                signature::Ed25519KeyPair::from_seed_unchecked(black_box(&seed)).expect("a seed");
            pair.sign(black_box(&MESSAGE))
        })
    });

    // The compact P-256 key as AWS-LC would take it, 0x02 || x, decompressed by AWS-LC.
    let me = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &EPHEMERAL)
        .expect("in range");
    let mut compressed = [0x02; 33];
    compressed[1..].copy_from_slice(&RustCrypto.public(Curve::P256, &PEER));
    group.bench_function("p256_static_ecdh_compressed_peer", |b| {
        b.iter(|| {
            let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &compressed);
            agreement::agree(&me, peer, (), |shared| Ok(shared[0])).expect("valid peer")
        })
    });
    group.finish();
}

criterion_group!(benches, agreement, signatures, aead, hmac, aws_lc_rs_direct);
criterion_main!(benches);
