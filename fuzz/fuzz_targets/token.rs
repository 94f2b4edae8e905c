//! Fuzz target `token`: frame token parsing, and a frame gate checked step by step against a
//! reference model.
//!
//! The input is a [`GateScript`]: a gate policy, a start time and steps that present raw,
//! signed, minted, replayed or tampered tokens while the gate's clock moves back and forth.
//! After every step the gate's verdict must equal the model's, error fields included, and on
//! top of the model two properties are checked directly: no token is ever accepted twice,
//! and every accepted counter is above the one accepted before it. A refused token must leave
//! the gate as it was.
//!
//! The model computes tags itself from the wire format in `ward_crypto::token`'s docs, with
//! the hmac and sha2 crates and none of ward-crypto's code, so a token that the gate and the
//! model both accept is also a cross-check of the MAC input.

#![no_main]

use std::collections::HashSet;

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use ward_crypto::token::{
    FrameDigest, FrameGate, FrameToken, FrameTokenKey, MAX_CLOCK_SKEW_MS, MAX_LIFETIME_MS,
    MIN_LIFETIME_MS, SessionId, TAG_LEN, TOKEN_LEN, TokenError, TokenMinter, TokenPolicy, VERSION,
};
use ward_fuzz::gate_script::{Action, GateScript, SESSION, Step, TOKEN_KEY, frame};

/// The MAC label, copied from the format description rather than from ward-crypto's constant.
const LABEL: &[u8] = b"ward frame token v1";
const HEADER_LEN: usize = TOKEN_LEN - TAG_LEN;

fuzz_target!(|data: &[u8]| {
    check_parse(data);
    if let Some(script) = GateScript::parse(data) {
        run(&script);
    }
});

/// `FrameToken::parse` on any bytes: it accepts exactly the 41-byte version-1 strings, reads
/// every field from its documented offset, and `to_bytes` gives the bytes back.
fn check_parse(bytes: &[u8]) {
    match FrameToken::parse(bytes) {
        Ok(token) => {
            assert_eq!((bytes.len(), bytes[0]), (TOKEN_LEN, VERSION));
            assert_eq!(token.session.0, bytes[1..9]);
            assert_eq!(token.timestamp_ms, be_u64(&bytes[9..17]));
            assert_eq!(token.counter, be_u64(&bytes[17..25]));
            assert_eq!(token.tag, bytes[25..]);
            assert_eq!(token.to_bytes(), bytes);
        }
        Err(TokenError::WrongLength { actual }) => {
            assert_eq!(actual, bytes.len());
            assert_ne!(actual, TOKEN_LEN);
        }
        Err(TokenError::UnknownVersion(version)) => {
            assert_eq!((bytes.len(), bytes[0]), (TOKEN_LEN, version));
            assert_ne!(version, VERSION);
        }
        Err(other) => panic!("parsing looks at shape only, yet refused with {other:?}"),
    }
}

fn run(script: &GateScript) {
    let policy = policy(script);
    let mut gate = FrameGate::new(FrameTokenKey::from_bytes(TOKEN_KEY), SESSION, policy);
    let mut minter = TokenMinter::new(FrameTokenKey::from_bytes(TOKEN_KEY), SESSION);
    let mut model = Model {
        lifetime_ms: policy.lifetime_ms(),
        max_skew_ms: policy.max_skew_ms(),
        last: None,
    };
    // Tokens with a valid tag that steps built, with the frame each was signed over.
    let mut signed: Vec<([u8; TOKEN_LEN], u8)> = Vec::new();
    let mut accepted: HashSet<[u8; TOKEN_LEN]> = HashSet::new();
    let mut now = script.start_ms;

    for (index, step) in script.steps.iter().enumerate() {
        now = now.wrapping_add_signed(step.clock_step_ms.into());
        check_parse(&step.token);
        let Some((token, frame_selector)) = token_for(step, now, &mut minter, &mut signed) else {
            continue;
        };
        let presented = frame(frame_selector);

        // The gate must reach the model's verdict, and a refusal must change nothing.
        let expected = model.verdict(&token, &presented, now);
        let last_before = gate.last_counter();
        let verdict = gate.verify(&token, &presented, now);
        assert_eq!(verdict, expected, "step {index} {step:?} at {now} ms");
        let Ok(counter) = verdict else {
            assert_eq!(
                gate.last_counter(),
                last_before,
                "step {index}: a refused token moved the gate"
            );
            continue;
        };

        // The replay rules, checked directly and not only through the model.
        assert!(
            accepted.insert(token),
            "step {index}: token {token:02x?} accepted a second time"
        );
        assert!(
            last_before.is_none_or(|last| counter > last),
            "step {index}: counter {counter} accepted after {last_before:?}"
        );
        assert_eq!(gate.last_counter(), Some(counter));
        assert_ne!(
            step.action,
            Action::Tamper,
            "step {index}: a token with a flipped bit passed"
        );
        model.last = Some(counter);
    }
}

/// The policy the script asks for, after checking that `TokenPolicy::new` refuses exactly the
/// values outside the documented bounds; a refused one falls back to the default.
fn policy(script: &GateScript) -> TokenPolicy {
    let (lifetime, skew) = (u64::from(script.lifetime_ms), u64::from(script.max_skew_ms));
    let in_bounds =
        (MIN_LIFETIME_MS..=MAX_LIFETIME_MS).contains(&lifetime) && skew <= MAX_CLOCK_SKEW_MS;
    match TokenPolicy::new(lifetime, skew) {
        Ok(policy) => {
            assert!(
                in_bounds,
                "policy {lifetime}/{skew} ms accepted outside the bounds"
            );
            assert_eq!(
                (policy.lifetime_ms(), policy.max_skew_ms()),
                (lifetime, skew)
            );
            policy
        }
        Err(err) => {
            assert!(
                !in_bounds,
                "policy {lifetime}/{skew} ms refused within the bounds: {err}"
            );
            TokenPolicy::default()
        }
    }
}

/// The token a step presents and the selector of the frame it comes with; `None` for a
/// replay or tamper step before any token was signed.
fn token_for(
    step: &Step,
    now: u64,
    minter: &mut TokenMinter,
    signed: &mut Vec<([u8; TOKEN_LEN], u8)>,
) -> Option<([u8; TOKEN_LEN], u8)> {
    let dated = now.wrapping_add_signed(step.offset_ms().into());
    match step.action {
        Action::Present => Some((step.token, step.presented_frame)),
        Action::Sign => {
            let token = reference_token(dated, step.counter(), step.signed_frame);
            signed.push((token, step.signed_frame));
            Some((token, step.presented_frame))
        }
        Action::Mint => {
            let counter = minter.next_counter();
            let token = minter.mint(dated, &frame(step.signed_frame));
            assert_eq!(
                token,
                reference_token(dated, counter, step.signed_frame),
                "the minter and the reference model disagree on a token"
            );
            signed.push((token, step.signed_frame));
            Some((token, step.presented_frame))
        }
        Action::Replay => {
            let earlier = signed.get(step.history_index() % signed.len().max(1))?;
            Some(*earlier)
        }
        Action::Tamper => {
            let (mut token, signed_over) =
                *signed.get(step.history_index() % signed.len().max(1))?;
            let bit = step.bit() % (TOKEN_LEN * 8);
            token[bit / 8] ^= 1 << (bit % 8);
            Some((token, signed_over))
        }
    }
}

/// What a gate should answer, written from the module docs of `ward_crypto::token` alone.
struct Model {
    lifetime_ms: u64,
    max_skew_ms: u64,
    last: Option<u64>,
}

impl Model {
    /// The verdict on `token`, with the checks in the documented order: shape, session, tag,
    /// age, future date, counter.
    fn verdict(&self, token: &[u8], digest: &FrameDigest, now_ms: u64) -> Result<u64, TokenError> {
        let Ok(token) = <&[u8; TOKEN_LEN]>::try_from(token) else {
            return Err(TokenError::WrongLength {
                actual: token.len(),
            });
        };
        if token[0] != VERSION {
            return Err(TokenError::UnknownVersion(token[0]));
        }
        let session: [u8; 8] = token[1..9].try_into().expect("8 bytes");
        if session != SESSION.0 {
            return Err(TokenError::WrongSession {
                found: SessionId(session),
            });
        }
        let header: &[u8; HEADER_LEN] = token[..HEADER_LEN].try_into().expect("header");
        if token[HEADER_LEN..] != reference_tag(header, digest) {
            return Err(TokenError::BadTag);
        }

        // In i128 no difference of two u64 clocks can overflow.
        let (timestamp, counter) = (be_u64(&token[9..17]), be_u64(&token[17..25]));
        let age = i128::from(now_ms) - i128::from(timestamp);
        if age > i128::from(self.lifetime_ms) {
            let age_ms = u64::try_from(age).expect("a positive u64 difference");
            return Err(TokenError::Expired {
                age_ms,
                lifetime_ms: self.lifetime_ms,
            });
        }
        if -age > i128::from(self.max_skew_ms) {
            let ahead_ms = u64::try_from(-age).expect("a positive u64 difference");
            return Err(TokenError::FromFuture {
                ahead_ms,
                max_skew_ms: self.max_skew_ms,
            });
        }
        match self.last {
            Some(last) if counter <= last => Err(TokenError::Replayed { counter, last }),
            _ => Ok(counter),
        }
    }
}

/// A token of the gate's session with a valid tag over frame `frame_selector`.
fn reference_token(timestamp_ms: u64, counter: u64, frame_selector: u8) -> [u8; TOKEN_LEN] {
    let mut token = [0; TOKEN_LEN];
    token[0] = VERSION;
    token[1..9].copy_from_slice(&SESSION.0);
    token[9..17].copy_from_slice(&timestamp_ms.to_be_bytes());
    token[17..25].copy_from_slice(&counter.to_be_bytes());
    let header: &[u8; HEADER_LEN] = token[..HEADER_LEN].try_into().expect("header");
    let tag = reference_tag(header, &frame(frame_selector));
    token[HEADER_LEN..].copy_from_slice(&tag);
    token
}

/// `HMAC-SHA256(key, label || header || SHA-256(slice data))`, leftmost 16 bytes.
fn reference_tag(header: &[u8; HEADER_LEN], digest: &FrameDigest) -> [u8; TAG_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(&TOKEN_KEY).expect("HMAC takes any key length");
    mac.update(LABEL);
    mac.update(header);
    mac.update(&digest.0);
    let full = mac.finalize().into_bytes();
    full[..TAG_LEN]
        .try_into()
        .expect("HMAC-SHA256 gives 32 bytes")
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8 bytes"))
}
