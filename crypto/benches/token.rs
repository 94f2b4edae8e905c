//! What frame tokens cost on one core.
//!
//! The stream gate verifies one token per access unit it forwards, so `frame_token/verify`
//! bounds how many frames a node can gate per core; the target is at least 1,000,000 per second
//! (1 µs each). `frame_token/mint` is the camera's cost per frame, and `frame_digest/sha256` the
//! cost of hashing the slice data both sides must hash anyway, per byte.
//!
//! Run with `cargo bench -p ward-crypto --bench token`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ward_crypto::token::{
    FrameDigest, FrameGate, FrameTokenKey, KEY_LEN, SessionId, TOKEN_LEN, TokenMinter, TokenPolicy,
};

const KEY: [u8; KEY_LEN] = [0x5a; KEY_LEN];
const SESSION: SessionId = SessionId([0x3c; SessionId::LEN]);
const NOW_MS: u64 = 1_700_000_000_000;

/// Tokens minted before timing starts: 2.6 MB, enough that the working set looks like a stream
/// of fresh tokens rather than one token hot in L1.
const PREMINTED: usize = 1 << 16;

/// A large intra-coded slice: big enough that the hash runs at its streaming rate.
const SLICE_LEN: usize = 64 * 1024;

fn frame_token(c: &mut Criterion) {
    let frame = FrameDigest::of(b"\x00\x00\x01\x65 benchmark slice");
    let mut minter = TokenMinter::new(FrameTokenKey::from_bytes(KEY), SESSION);
    let tokens: Vec<[u8; TOKEN_LEN]> = (0..PREMINTED)
        .map(|_| minter.mint(NOW_MS, &frame))
        .collect();

    let mut group = c.benchmark_group("frame_token");
    group.throughput(Throughput::Elements(1));

    // Every iteration verifies the next token in counter order, so each one passes every check,
    // the counter included. When the tokens run out the gate is replaced, which re-admits
    // counter 0; that costs one key setup per 65,536 verifications.
    let new_gate = || {
        FrameGate::new(
            FrameTokenKey::from_bytes(KEY),
            SESSION,
            TokenPolicy::default(),
        )
    };
    let mut gate = new_gate();
    let mut next = 0;
    group.bench_function("verify", |b| {
        b.iter(|| {
            if next == tokens.len() {
                gate = new_gate();
                next = 0;
            }
            let token = &tokens[next];
            next += 1;
            gate.verify(black_box(token), black_box(&frame), black_box(NOW_MS))
                .expect("pre-minted tokens are fresh, authentic and verified in counter order")
        })
    });

    group.bench_function("mint", |b| {
        b.iter(|| minter.mint(black_box(NOW_MS), black_box(&frame)))
    });
    group.finish();
}

fn frame_digest(c: &mut Criterion) {
    let slice: Vec<u8> = (0..SLICE_LEN).map(|i| (i % 251) as u8).collect();

    let mut group = c.benchmark_group("frame_digest");
    group.throughput(Throughput::Bytes(SLICE_LEN as u64));
    group.bench_function("sha256", |b| b.iter(|| FrameDigest::of(black_box(&slice))));
    group.finish();
}

criterion_group!(benches, frame_token, frame_digest);
criterion_main!(benches);
