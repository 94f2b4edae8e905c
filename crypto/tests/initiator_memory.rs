//! Heap and stack of one EDHOC initiator run: what a camera with 64 KB of RAM must set aside.
//!
//! The initiator is the camera's side. Measured here: method 3 (static DH both ways), suite 2
//! (P-256), credentials referenced by `kid`, no EAD, with the pure-Rust backend, from
//! `Initiator::start` to the session returned by `process_message_4`. The responder's messages
//! are produced before the measurement, answering a first run of the initiator from the same
//! ephemeral scalar, so they answer the message_1 the measured run sends.
//!
//! - **Heap**: `allocation_counter` counts the allocations of the current thread only (so the
//!   test harness's own threads do not blur the figure) and reports the peak of live bytes and
//!   the number of allocations. The target is at most 8 KiB. The workspace forbids
//!   `unsafe_code`, which a `GlobalAlloc` of our own would need; of the crates that provide one,
//!   `cap` keeps a peak that cannot be reset and `stats_alloc` keeps no peak.
//! - **Stack**: a host-build approximation, not the camera's figure. In child processes (an
//!   overflow aborts the process), a thread of fixed size first fills its stack with 1 KiB
//!   frames and then runs the initiator at the bottom; the frames the initiator displaces,
//!   against a run with nothing at the bottom, are the stack it uses, to about a frame, for
//!   this build (profile, target and compiler as run).
//!
//! Run with `cargo test -p ward-crypto --test initiator_memory -- --nocapture` (add `--release`
//! for the optimised figures); both print what they measured.

use std::process::Command;

use sha2::{Digest as _, Sha256};
use ward_crypto::backend::RustCrypto;
use ward_crypto::edhoc::{
    AuthCredential, CipherSuite, ConnectionId, IdCred, Initiator, InitiatorConfig, LocalCredential,
    Method, Responder, ResponderConfig,
};
use ward_crypto::{Ccs, SecretKey};

/// The target for the initiator's heap.
const HEAP_TARGET: u64 = 8 * 1024;

/// Set in the child process to the stack size, in bytes, to run the initiator on.
const STACK_PROBE_VAR: &str = "WARD_INITIATOR_STACK_PROBE";

/// A static-DH party on P-256 with a CCS whose kid is `kid`.
struct Party {
    local: LocalCredential<RustCrypto>,
    public: AuthCredential,
}

fn party(seed: u64, kid: u8) -> Party {
    let scalar: [u8; 32] = Sha256::digest(seed.to_le_bytes()).into();
    let key = SecretKey::P256(
        p256::ecdsa::SigningKey::from_bytes(&scalar.into()).expect("a hash is a valid scalar"),
    );
    let ccs = Ccs::new(None, key.public_key(), Some(&[kid]));
    let public = AuthCredential::from_ccs(&ccs).expect("a CCS built from a valid key parses");
    let id_cred = IdCred::kid(&[kid]).expect("a one-byte kid is short enough");
    let local = LocalCredential::static_dh(
        &RustCrypto,
        public.clone(),
        id_cred,
        CipherSuite::Suite2.curve(),
        &scalar,
    )
    .expect("the scalar is the credential's key");
    Party { local, public }
}

/// Everything the initiator is handed: its credential, its peer's, and the peer's messages.
struct Setup {
    initiator: Party,
    responder: Party,
    config: InitiatorConfig,
    x: [u8; 32],
    message_2: Vec<u8>,
    message_4: Vec<u8>,
}

fn c_i() -> ConnectionId {
    ConnectionId::new(&[0x01]).expect("one byte")
}

fn setup() -> Setup {
    let method = Method::StaticStatic;
    let suite = CipherSuite::Suite2;
    let (initiator, responder) = (party(1, 0x0a), party(2, 0x0b));
    let config = InitiatorConfig::new(method, &[suite]).expect("one suite");
    let r_config = ResponderConfig::new(&[method], &[suite]).expect("one method, one suite");
    let x: [u8; 32] = Sha256::digest(b"x").into();
    let y: [u8; 32] = Sha256::digest(b"y").into();
    let c_r = ConnectionId::new(&[0x02]).expect("one byte");

    let (wait_m2, m1) = Initiator::start(RustCrypto, &config, &x, c_i(), &[]).expect("message_1");
    let (wait_m3, message_2) = Responder::process_message_1(RustCrypto, &r_config, &m1)
        .and_then(|s| s.prepare_message_2(&responder.local, &y, c_r, &[]))
        .expect("message_2");
    let (_, m3) = wait_m2
        .process_message_2(&message_2)
        .and_then(|s| s.verify(&responder.public))
        .and_then(|s| s.prepare_message_3(&initiator.local, &[]))
        .expect("message_3");
    let (_, message_4) = wait_m3
        .process_message_3(&m3)
        .and_then(|s| s.verify(&initiator.public))
        .and_then(|s| s.prepare_message_4(&[]))
        .expect("message_4");
    Setup {
        initiator,
        responder,
        config,
        x,
        message_2,
        message_4,
    }
}

/// The initiator's complete run, message_1 to the session, with every value alive until the end
/// of the step that needs it, as on the camera.
fn initiator_run(s: &Setup) {
    let (wait_m2, message_1) =
        Initiator::start(RustCrypto, &s.config, &s.x, c_i(), &[]).expect("message_1");
    let (wait_m4, message_3) = wait_m2
        .process_message_2(&s.message_2)
        .and_then(|state| state.verify(&s.responder.public))
        .and_then(|state| state.prepare_message_3(&s.initiator.local, &[]))
        .expect("message_3");
    let (session, ead_4) = wait_m4
        .process_message_4(&s.message_4)
        .expect("the responder's message_4");
    let oscore = session.oscore_parameters().expect("OSCORE parameters");
    assert_eq!((message_1.len(), message_3.len()), (37, 19));
    assert!(ead_4.is_empty());
    std::hint::black_box(oscore);
}

#[test]
fn method_3_initiator_heap_stays_within_budget() {
    let s = setup();
    // A first run in case anything is built on first use; the figures asserted are the second's.
    let warm_up = allocation_counter::measure(|| initiator_run(&s));
    let run = allocation_counter::measure(|| initiator_run(&s));
    // What stays on the heap between handshakes: two parties, each a LocalCredential with its
    // AuthCredential. A camera keeps one LocalCredential and the node's AuthCredential, less.
    let mut kept = None;
    let credentials = allocation_counter::measure(|| kept = Some((party(3, 0x0c), party(4, 0x0d))));
    drop(kept);
    println!("method 3 initiator, first run: {warm_up:?}");
    println!("method 3 initiator: {run:?}");
    println!("two static-DH parties built and kept (bytes_current stays live): {credentials:?}");

    assert_eq!(run.bytes_current, 0, "the run leaks nothing");
    assert!(
        run.bytes_max <= HEAP_TARGET,
        "peak heap {} B",
        run.bytes_max
    );
    // A regression bound just above what was measured (see docs/benchmarks.md).
    assert!(
        run.bytes_max <= 1536,
        "peak heap grew to {} B",
        run.bytes_max
    );
    assert!(run.count_total <= 40, "{} allocations", run.count_total);
}

/// Stack of every child's thread: far more than the initiator needs.
const PROBE_STACK: usize = 256 * 1024;

/// Uses about `frames` KiB of stack, then runs the initiator (or nothing) at the bottom.
fn burn(frames: usize, s: Option<&Setup>) {
    let frame = [0u8; 1024];
    std::hint::black_box(&frame);
    if frames == 0 {
        if let Some(s) = s {
            initiator_run(s);
        }
    } else {
        burn(frames - 1, s);
    }
    // Used after the call, so the frame is not reused as a tail call.
    std::hint::black_box(&frame);
}

/// In the child process: `burn(frames)` on a thread of [`PROBE_STACK`] bytes, with the
/// initiator at the bottom or not, as the variable says (`frames,initiator` or `frames,none`).
#[test]
fn initiator_stack_probe() {
    let Ok(probe) = std::env::var(STACK_PROBE_VAR) else {
        return;
    };
    let (frames, payload) = probe.split_once(',').expect("frames,payload");
    let frames: usize = frames.parse().expect("a number of frames");
    let s = setup();
    let s = (payload == "initiator").then_some(&s);
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(PROBE_STACK)
            .spawn_scoped(scope, || burn(frames, s))
            .expect("thread")
            .join()
            .expect("the run completes");
    });
}

/// The most 1 KiB frames that fit on the probe thread above `payload`, found in child
/// processes since a stack overflow aborts the whole process.
fn most_frames(payload: &str) -> usize {
    let exe = std::env::current_exe().expect("the test binary");
    let completes = |frames: usize| {
        Command::new(&exe)
            .args(["initiator_stack_probe", "--exact", "--test-threads=1", "-q"])
            .env(STACK_PROBE_VAR, format!("{frames},{payload}"))
            .output()
            .expect("the child runs")
            .status
            .success()
    };
    let (mut fits, mut overflows) = (0, PROBE_STACK / 1024);
    assert!(
        completes(fits),
        "{payload} alone overflows {PROBE_STACK} bytes"
    );
    while overflows - fits > 1 {
        let mid = (fits + overflows) / 2;
        if completes(mid) {
            fits = mid;
        } else {
            overflows = mid;
        }
    }
    fits
}

#[test]
fn method_3_initiator_stack_estimate() {
    if std::env::var_os(STACK_PROBE_VAR).is_some() {
        return;
    }
    // The frames the initiator displaces are the stack it uses, to about one frame.
    let (empty, with_initiator) = (most_frames("none"), most_frames("initiator"));
    // A frame is 1 KiB plus call overhead; spreading the thread's stack over the frames that
    // fit it gives the upper end of the estimate.
    let displaced = empty - with_initiator;
    println!(
        "method 3 initiator displaces {displaced} of {empty} burn frames: {displaced} to {} KiB \
         of stack",
        (displaced * PROBE_STACK / empty).div_ceil(1024)
    );
}
