//! Frame tokens: a per-frame MAC that lets the stream gate drop video a camera did not send.
//!
//! A camera puts one token into every H.264/H.265 access unit (in a `user_data_unregistered`
//! SEI message; carrying it there is the stream gate's job, not this module's). The token binds
//! the frame's slice data to the camera's session, to the time the frame was made and to its
//! place in the stream, so the gate can refuse a frame that was forged, altered, held back or
//! replayed (DESIGN §4, "Frame tokens"). Both ends derive the token key from their EDHOC
//! session; this module only takes the 32 key bytes.
//!
//! Wire format, 41 bytes, integers big-endian:
//!
//! ```text
//!  0         1              9                17               25                        41
//!  +---------+--------------+----------------+----------------+-------------------------+
//!  | version |  session id  |  timestamp ms  | frame counter  |           tag           |
//!  |   = 1   |   8 bytes    | u64, UNIX time |      u64       | HMAC-SHA256, left 16 B  |
//!  +---------+--------------+----------------+----------------+-------------------------+
//!  \___________________ header (25 B) ____________________/
//!
//!  tag = HMAC-SHA256(key, "ward frame token v1" || header || SHA-256(slice data))[..16]
//! ```
//!
//! The frame digest is not on the wire: the gate recomputes it from the slices it received,
//! which is what makes an altered frame fail. The flow, one token per access unit:
//!
//! ```text
//!  camera: FrameDigest::of(slices) --> TokenMinter::mint(now, digest) --> 41 bytes into SEI
//!  gate:   FrameDigest::of(slices) + SEI token --> FrameGate::verify(token, digest, now)
//!                                                   |-- Ok(counter): forward the frame
//!                                                   '-- Err(TokenError): drop and count it
//! ```
//!
//! Everything here is sans-IO: no clock reads (callers pass the time), no allocation, and
//! verification never panics, whatever bytes arrive.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of an encoded frame token.
pub const TOKEN_LEN: usize = HEADER_LEN + TAG_LEN;

/// Length of the tag: HMAC-SHA256 truncated to its leftmost 128 bits.
///
/// RFC 2104 §5 allows keeping the leftmost bits of the output; 128 bits leave a forger a
/// 2^-128 chance per attempt, and every attempt costs a frame the gate drops and counts.
pub const TAG_LEN: usize = 16;

/// The only token version this module writes or accepts.
pub const VERSION: u8 = 1;

/// Length of a frame-token key.
pub const KEY_LEN: usize = 32;

/// Prefix of every MAC input, so a frame-token tag is never valid in another Ward MAC context.
///
/// Keys are already derived per purpose, so a frame-token key should never MAC anything else.
/// The label is the second fence: should a key ever be reused by mistake, or a future format
/// share it, a tag computed here still cannot be presented as a valid MAC over some other
/// message type, because that type's input starts with a different label. Every field that
/// follows it has a fixed length, so the input also parses one way only.
pub const DOMAIN_LABEL: &[u8] = b"ward frame token v1";

/// Shortest token lifetime a [`TokenPolicy`] accepts (DESIGN §4: 1–5 s).
pub const MIN_LIFETIME_MS: u64 = 1_000;

/// Longest token lifetime a [`TokenPolicy`] accepts (DESIGN §4: 1–5 s).
pub const MAX_LIFETIME_MS: u64 = 5_000;

/// Largest clock skew a [`TokenPolicy`] tolerates for tokens dated in the gate's future.
///
/// A token dated `skew` ms ahead stays acceptable for `lifetime + skew` ms, so this bound also
/// caps how long any one frame can be held back and still pass: 6 s at the extremes.
pub const MAX_CLOCK_SKEW_MS: u64 = 1_000;

/// Token lifetime of [`TokenPolicy::default`].
///
/// Long enough for encoder latency, SEI insertion and a TCP retransmission or two between camera
/// and gate; short enough that a frame held back by someone on the path is shown at most two
/// seconds late.
pub const DEFAULT_LIFETIME_MS: u64 = 2_000;

/// Clock skew tolerance of [`TokenPolicy::default`].
///
/// Cameras and nodes of a site keep time from the same NTP source, which holds them within a few
/// milliseconds; a quarter second absorbs a camera clock that drifted between syncs.
pub const DEFAULT_MAX_SKEW_MS: u64 = 250;

// Byte offsets of the fields, following the diagram in the module docs.
const SESSION_AT: usize = 1;
const TIMESTAMP_AT: usize = SESSION_AT + SessionId::LEN;
const COUNTER_AT: usize = TIMESTAMP_AT + 8;
const HEADER_LEN: usize = COUNTER_AT + 8;

// Version 1's layout is frozen: a change to any field width must break this line first.
const _: () = assert!(TOKEN_LEN == 41);

// A `FrameTokenKey` keeps the HMAC state keyed with the secret (the SHA-256 midstates after
// the ipad and opad blocks), which is as good as the key itself. hmac and sha2 wipe those states
// on drop only when sha2's `zeroize` feature is on; this check turns a build without it into a
// compile error rather than a key left in freed memory.
const _: () = {
    const fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<<Sha256 as hmac::EagerHash>::Core>();
};

/// Why a frame token was refused, or why a [`TokenPolicy`] could not be built.
///
/// The variants say precisely what failed, for logs and drop counters; none carries key
/// material or anything derived from the key beyond the token's own public fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is not exactly [`TOKEN_LEN`] bytes long.
    #[error("frame token is {actual} bytes long, expected {expected}", expected = TOKEN_LEN)]
    WrongLength {
        /// Length of the bytes received.
        actual: usize,
    },
    /// The token's version byte is not [`VERSION`].
    #[error("frame token version {0} is not supported, expected {expected}", expected = VERSION)]
    UnknownVersion(u8),
    /// The token names another session than the one this gate verifies.
    #[error("frame token names session {found}, not this stream's session")]
    WrongSession {
        /// Session id carried by the token.
        found: SessionId,
    },
    /// The tag does not match the token's fields and the frame: forged, corrupted, minted under
    /// another key, or the frame was altered.
    #[error("frame token tag does not verify")]
    BadTag,
    /// The token is older than the policy's lifetime.
    #[error("frame token expired: {age_ms} ms old, lifetime is {lifetime_ms} ms")]
    Expired {
        /// How long before the gate's clock the token was minted.
        age_ms: u64,
        /// The lifetime in force.
        lifetime_ms: u64,
    },
    /// The token is dated further ahead of the gate's clock than the policy's skew allows.
    #[error("frame token is {ahead_ms} ms in the future, allowed skew is {max_skew_ms} ms")]
    FromFuture {
        /// How far ahead of the gate's clock the token is dated.
        ahead_ms: u64,
        /// The skew in force.
        max_skew_ms: u64,
    },
    /// The frame counter does not advance past the last accepted one.
    #[error("frame counter {counter} does not advance past {last}")]
    Replayed {
        /// Counter carried by the token.
        counter: u64,
        /// Counter of the last token this gate accepted.
        last: u64,
    },
    /// A policy asked for a lifetime outside [`MIN_LIFETIME_MS`]..=[`MAX_LIFETIME_MS`].
    #[error(
        "frame token lifetime {lifetime_ms} ms is outside {min}..={max} ms",
        min = MIN_LIFETIME_MS,
        max = MAX_LIFETIME_MS
    )]
    LifetimeOutOfRange {
        /// The lifetime asked for.
        lifetime_ms: u64,
    },
    /// A policy asked for a clock skew above [`MAX_CLOCK_SKEW_MS`].
    #[error("clock skew {max_skew_ms} ms exceeds the {bound} ms bound", bound = MAX_CLOCK_SKEW_MS)]
    SkewTooLarge {
        /// The skew asked for.
        max_skew_ms: u64,
    },
}

/// The secret a camera and its gate share for one session's frame tokens.
///
/// It holds the HMAC state already keyed with the secret, so minting and verifying clone that
/// state instead of running the HMAC key schedule again for every frame. The state is wiped on
/// drop, and `Debug` shows no part of it. It is deliberately not `Clone`: one copy per owner.
pub struct FrameTokenKey {
    keyed: Hmac<Sha256>,
}

impl FrameTokenKey {
    /// Keys frame tokens with `bytes`, and wipes this function's copy of them.
    ///
    /// The caller still owns, and should wipe, the array it passed in.
    pub fn from_bytes(mut bytes: [u8; KEY_LEN]) -> Self {
        let keyed = Hmac::<Sha256>::new_from_slice(&bytes)
            .expect("HMAC takes keys of any length (RFC 2104 §2)");
        bytes.zeroize();
        Self { keyed }
    }

    /// The MAC state after absorbing the whole tag input for `header` and `frame`; the caller
    /// finalizes it (to mint) or compares it against a received tag (to verify).
    fn tag_input(&self, header: &[u8; HEADER_LEN], frame: &FrameDigest) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(DOMAIN_LABEL);
        mac.update(header);
        mac.update(&frame.0);
        mac
    }
}

// The only field is `Hmac<Sha256>`, whose SHA-256 cores wipe themselves on drop (checked at
// compile time above), so dropping the key wipes it.
impl ZeroizeOnDrop for FrameTokenKey {}

impl fmt::Debug for FrameTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FrameTokenKey(<redacted>)")
    }
}

/// Identifies the camera session a token belongs to, as agreed at session setup.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; SessionId::LEN]);

impl SessionId {
    /// Length of a session id on the wire.
    pub const LEN: usize = 8;
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// SHA-256 of a frame's slice data: what a token binds the frame's content by.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameDigest(pub [u8; 32]);

impl FrameDigest {
    /// Digest of slice data held in one buffer.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Digest of slice data held in several buffers (one per slice NAL unit, say), equal to
    /// [`FrameDigest::of`] over their concatenation and without copying them together.
    pub fn of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part);
        }
        Self(hash.finalize().into())
    }
}

/// A frame token's fields, parsed but not yet authenticated.
///
/// [`FrameToken::parse`] checks only the shape; nothing here is trustworthy until
/// [`FrameGate::verify`] has checked the tag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FrameToken {
    /// Session the token claims to belong to.
    pub session: SessionId,
    /// When the camera minted it, in milliseconds since the UNIX epoch.
    pub timestamp_ms: u64,
    /// The frame's position in the session's stream.
    pub counter: u64,
    /// Truncated HMAC over the fields above and the frame digest.
    pub tag: [u8; TAG_LEN],
}

impl FrameToken {
    /// Parses exactly [`TOKEN_LEN`] bytes of a version-1 token.
    pub fn parse(bytes: &[u8]) -> Result<Self, TokenError> {
        let bytes: &[u8; TOKEN_LEN] = bytes.try_into().map_err(|_| TokenError::WrongLength {
            actual: bytes.len(),
        })?;
        // Refuse what we cannot read rather than guess: a later version may lay the
        // fields out differently.
        if bytes[0] != VERSION {
            return Err(TokenError::UnknownVersion(bytes[0]));
        }
        Ok(Self {
            session: SessionId(field(bytes, SESSION_AT)),
            timestamp_ms: u64::from_be_bytes(field(bytes, TIMESTAMP_AT)),
            counter: u64::from_be_bytes(field(bytes, COUNTER_AT)),
            tag: field(bytes, HEADER_LEN),
        })
    }

    /// Encodes the token in the wire format.
    pub fn to_bytes(&self) -> [u8; TOKEN_LEN] {
        let mut out = [0; TOKEN_LEN];
        out[..HEADER_LEN].copy_from_slice(&self.header());
        out[HEADER_LEN..].copy_from_slice(&self.tag);
        out
    }

    /// The authenticated fields, encoded as on the wire.
    ///
    /// Verification MACs this re-encoding of the parsed fields, not the received bytes, so the
    /// bytes authenticated are always exactly the values acted on.
    fn header(&self) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        out[0] = VERSION;
        out[SESSION_AT..TIMESTAMP_AT].copy_from_slice(&self.session.0);
        out[TIMESTAMP_AT..COUNTER_AT].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        out[COUNTER_AT..HEADER_LEN].copy_from_slice(&self.counter.to_be_bytes());
        out
    }
}

/// The `N` bytes of `token` starting at `at`.
///
/// Only called with the constant offsets above, which the layout assertion ties to
/// [`TOKEN_LEN`], so the range is always in bounds whatever the token holds.
fn field<const N: usize>(token: &[u8; TOKEN_LEN], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&token[at..at + N]);
    out
}

/// The camera side: mints one token per frame of a session.
#[derive(Debug)]
pub struct TokenMinter {
    key: FrameTokenKey,
    session: SessionId,
    next_counter: u64,
}

impl TokenMinter {
    /// A minter for `session` whose first token carries counter 0.
    pub fn new(key: FrameTokenKey, session: SessionId) -> Self {
        Self {
            key,
            session,
            next_counter: 0,
        }
    }

    /// Mints the token for the frame with digest `frame`, made at `timestamp_ms` (milliseconds
    /// since the UNIX epoch, read by the caller).
    ///
    /// Each call takes the next counter value, so counters strictly increase. After 2^64 frames
    /// (some 585 million years at 1,000 frames/s) the counter stays at `u64::MAX`, and the gate
    /// refuses every further token as replayed: the minter fails closed instead of wrapping.
    pub fn mint(&mut self, timestamp_ms: u64, frame: &FrameDigest) -> [u8; TOKEN_LEN] {
        let mut token = FrameToken {
            session: self.session,
            timestamp_ms,
            counter: self.next_counter,
            tag: [0; TAG_LEN],
        };
        self.next_counter = self.next_counter.saturating_add(1);

        // RFC 2104 §5: the tag is the leftmost TAG_LEN bytes of the HMAC output.
        let full = self
            .key
            .tag_input(&token.header(), frame)
            .finalize()
            .into_bytes();
        token.tag.copy_from_slice(&full[..TAG_LEN]);
        token.to_bytes()
    }

    /// The session this minter signs for.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The counter the next minted token will carry.
    pub fn next_counter(&self) -> u64 {
        self.next_counter
    }
}

/// How fresh a token must be for the gate to accept it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TokenPolicy {
    lifetime_ms: u64,
    max_skew_ms: u64,
}

impl TokenPolicy {
    /// A policy accepting tokens up to `lifetime_ms` old and up to `max_skew_ms` ahead of the
    /// gate's clock.
    pub const fn new(lifetime_ms: u64, max_skew_ms: u64) -> Result<Self, TokenError> {
        // DESIGN §4: the token lifetime is configurable within 1–5 s.
        if lifetime_ms < MIN_LIFETIME_MS || lifetime_ms > MAX_LIFETIME_MS {
            return Err(TokenError::LifetimeOutOfRange { lifetime_ms });
        }
        if max_skew_ms > MAX_CLOCK_SKEW_MS {
            return Err(TokenError::SkewTooLarge { max_skew_ms });
        }
        Ok(Self {
            lifetime_ms,
            max_skew_ms,
        })
    }

    /// How old, in milliseconds, a token may be.
    pub const fn lifetime_ms(&self) -> u64 {
        self.lifetime_ms
    }

    /// How far ahead of the gate's clock, in milliseconds, a token may be dated.
    pub const fn max_skew_ms(&self) -> u64 {
        self.max_skew_ms
    }
}

/// The default policy, checked against the bounds when the crate compiles.
const DEFAULT_POLICY: TokenPolicy = match TokenPolicy::new(DEFAULT_LIFETIME_MS, DEFAULT_MAX_SKEW_MS)
{
    Ok(policy) => policy,
    Err(_) => panic!("the default token policy lies outside the policy bounds"),
};

impl Default for TokenPolicy {
    /// [`DEFAULT_LIFETIME_MS`] and [`DEFAULT_MAX_SKEW_MS`]; their docs say why.
    fn default() -> Self {
        DEFAULT_POLICY
    }
}

/// The gate side: verifies the tokens of one session's stream, in arrival order.
///
/// It remembers the last accepted counter so that no frame is accepted twice or after a newer
/// one. Counter gaps are fine (frames get lost); going backwards is not, so a stream must reach
/// the gate in order, as it does over the gate's TCP port.
#[derive(Debug)]
pub struct FrameGate {
    key: FrameTokenKey,
    session: SessionId,
    policy: TokenPolicy,
    last_counter: Option<u64>,
}

impl FrameGate {
    /// A gate for `session` that has accepted no frame yet.
    pub fn new(key: FrameTokenKey, session: SessionId, policy: TokenPolicy) -> Self {
        Self {
            key,
            session,
            policy,
            last_counter: None,
        }
    }

    /// Checks `token` for the frame whose slice data hashes to `frame`, at gate time `now_ms`
    /// (milliseconds since the UNIX epoch), and returns the token's counter if it passes.
    ///
    /// Only a token that passes every check advances the gate; a refused one changes nothing.
    /// Checks run cheapest and least trusting first, and everything after the MAC check acts
    /// only on authenticated fields. Allocation-free, and panic-free for any input.
    pub fn verify(
        &mut self,
        token: &[u8],
        frame: &FrameDigest,
        now_ms: u64,
    ) -> Result<u64, TokenError> {
        // Shape: exact length and a version we can read.
        let token = FrameToken::parse(token)?;

        // A token from another session can never verify under this session's key, and its
        // session id is public, so refuse it before spending a MAC on it.
        if token.session != self.session {
            return Err(TokenError::WrongSession {
                found: token.session,
            });
        }

        // DESIGN §4: accept a frame only when the MAC verifies. The comparison is
        // constant-time, so timing reveals nothing about how much of a forged tag was right.
        self.key
            .tag_input(&token.header(), frame)
            .verify_truncated_left(&token.tag)
            .map_err(|_| TokenError::BadTag)?;

        // DESIGN §4: the timestamp must be within the token lifetime. Saturating differences:
        // any u64 pair is a valid input and none may overflow.
        let age_ms = now_ms.saturating_sub(token.timestamp_ms);
        if age_ms > self.policy.lifetime_ms {
            return Err(TokenError::Expired {
                age_ms,
                lifetime_ms: self.policy.lifetime_ms,
            });
        }
        let ahead_ms = token.timestamp_ms.saturating_sub(now_ms);
        if ahead_ms > self.policy.max_skew_ms {
            return Err(TokenError::FromFuture {
                ahead_ms,
                max_skew_ms: self.policy.max_skew_ms,
            });
        }

        // DESIGN §4: the counter must advance, which refuses both replays and old frames.
        if let Some(last) = self.last_counter
            && token.counter <= last
        {
            return Err(TokenError::Replayed {
                counter: token.counter,
                last,
            });
        }

        self.last_counter = Some(token.counter);
        Ok(token.counter)
    }

    /// The session whose tokens this gate accepts.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The policy this gate enforces.
    pub fn policy(&self) -> TokenPolicy {
        self.policy
    }

    /// Counter of the last accepted token, if any token was accepted.
    pub fn last_counter(&self) -> Option<u64> {
        self.last_counter
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::format;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    const KEY: [u8; KEY_LEN] = [0x11; KEY_LEN];
    const OTHER_KEY: [u8; KEY_LEN] = [0x22; KEY_LEN];
    const SESSION: SessionId = SessionId([0xc0, 0xff, 0xee, 0x00, 0x00, 0x00, 0x00, 0x07]);
    const T0: u64 = 1_700_000_000_000;

    fn frame() -> FrameDigest {
        FrameDigest::of(b"\x00\x00\x01\x65 slice data")
    }

    fn minter() -> TokenMinter {
        TokenMinter::new(FrameTokenKey::from_bytes(KEY), SESSION)
    }

    fn gate() -> FrameGate {
        FrameGate::new(
            FrameTokenKey::from_bytes(KEY),
            SESSION,
            TokenPolicy::default(),
        )
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vectors are hex"))
            .collect()
    }

    #[test]
    fn valid_token_is_accepted() {
        let token = minter().mint(T0, &frame());
        let mut gate = gate();
        assert_eq!(gate.verify(&token, &frame(), T0 + 40), Ok(0));
        assert_eq!(gate.last_counter(), Some(0));
    }

    // An independent implementation (Python's hmac and hashlib) computed this token; it pins
    // the wire layout and the exact MAC input, label included, for other implementations.
    #[test]
    fn token_matches_independent_test_vector() {
        let key: [u8; KEY_LEN] = core::array::from_fn(|i| i as u8);
        let session = SessionId([1, 2, 3, 4, 5, 6, 7, 8]);
        let digest = FrameDigest::of(b"\x00\x00\x01\x65 ward test slice");
        assert_eq!(
            digest.0.as_slice(),
            hex("ade010c1818002d99378ec5a402edafbeb15bc7803915e873aafa4e0cecdb456")
        );
        let mut minter = TokenMinter::new(FrameTokenKey::from_bytes(key), session);
        minter.next_counter = 42;

        let token = minter.mint(1_700_000_000_123, &digest);
        let expected = hex(
            "0101020304050607080000018bcfe5687b000000000000002a1cf7f598bdee21d3679ebc0b3a544c05",
        );
        assert_eq!(token.as_slice(), expected);
    }

    #[test]
    fn frame_digest_of_parts_equals_digest_of_concatenation() {
        let parts: [&[u8]; 3] = [b"\x00\x00\x01\x65", b"first slice", b"second slice"];
        assert_eq!(
            FrameDigest::of_parts(parts),
            FrameDigest::of(&parts.concat())
        );
    }

    #[test]
    fn token_exactly_at_lifetime_is_accepted() {
        let token = minter().mint(T0, &frame());
        assert_eq!(
            gate().verify(&token, &frame(), T0 + DEFAULT_LIFETIME_MS),
            Ok(0)
        );
    }

    #[test]
    fn token_one_ms_past_lifetime_is_expired() {
        let token = minter().mint(T0, &frame());
        assert_eq!(
            gate().verify(&token, &frame(), T0 + DEFAULT_LIFETIME_MS + 1),
            Err(TokenError::Expired {
                age_ms: DEFAULT_LIFETIME_MS + 1,
                lifetime_ms: DEFAULT_LIFETIME_MS
            })
        );
    }

    #[test]
    fn token_within_skew_is_accepted() {
        let token = minter().mint(T0 + DEFAULT_MAX_SKEW_MS, &frame());
        assert_eq!(gate().verify(&token, &frame(), T0), Ok(0));
    }

    #[test]
    fn token_beyond_skew_is_from_future() {
        let token = minter().mint(T0 + DEFAULT_MAX_SKEW_MS + 1, &frame());
        assert_eq!(
            gate().verify(&token, &frame(), T0),
            Err(TokenError::FromFuture {
                ahead_ms: DEFAULT_MAX_SKEW_MS + 1,
                max_skew_ms: DEFAULT_MAX_SKEW_MS
            })
        );
    }

    #[test]
    fn minted_counters_strictly_increase() {
        let mut minter = minter();
        let counters: Vec<u64> = (0..4)
            .map(|_| {
                FrameToken::parse(&minter.mint(T0, &frame()))
                    .expect("minted")
                    .counter
            })
            .collect();
        assert_eq!(counters, [0, 1, 2, 3]);
    }

    #[test]
    fn replayed_counter_is_rejected() {
        let token = minter().mint(T0, &frame());
        let mut gate = gate();
        assert_eq!(gate.verify(&token, &frame(), T0), Ok(0));
        assert_eq!(
            gate.verify(&token, &frame(), T0),
            Err(TokenError::Replayed {
                counter: 0,
                last: 0
            })
        );
    }

    #[test]
    fn older_counter_is_rejected() {
        let mut minter = minter();
        let first = minter.mint(T0, &frame());
        let second = minter.mint(T0, &frame());
        let mut gate = gate();
        assert_eq!(gate.verify(&second, &frame(), T0), Ok(1));
        assert_eq!(
            gate.verify(&first, &frame(), T0),
            Err(TokenError::Replayed {
                counter: 0,
                last: 1
            })
        );
    }

    #[test]
    fn counter_gaps_are_accepted() {
        let mut minter = minter();
        let first = minter.mint(T0, &frame());
        minter.mint(T0, &frame());
        let third = minter.mint(T0, &frame());
        let mut gate = gate();
        assert_eq!(gate.verify(&first, &frame(), T0), Ok(0));
        assert_eq!(gate.verify(&third, &frame(), T0), Ok(2));
    }

    #[test]
    fn exhausted_counter_fails_closed() {
        let mut minter = minter();
        minter.next_counter = u64::MAX;
        let last = minter.mint(T0, &frame());
        let repeat = minter.mint(T0, &frame());
        let mut gate = gate();
        assert_eq!(gate.verify(&last, &frame(), T0), Ok(u64::MAX));
        assert_eq!(
            gate.verify(&repeat, &frame(), T0),
            Err(TokenError::Replayed {
                counter: u64::MAX,
                last: u64::MAX
            })
        );
    }

    #[test]
    fn token_under_another_key_is_rejected() {
        let token =
            TokenMinter::new(FrameTokenKey::from_bytes(OTHER_KEY), SESSION).mint(T0, &frame());
        assert_eq!(gate().verify(&token, &frame(), T0), Err(TokenError::BadTag));
    }

    #[test]
    fn altered_frame_is_rejected() {
        let token = minter().mint(T0, &frame());
        let altered = FrameDigest::of(b"\x00\x00\x01\x65 slice dat4");
        assert_eq!(gate().verify(&token, &altered, T0), Err(TokenError::BadTag));
    }

    #[test]
    fn token_for_another_session_is_rejected() {
        let other = SessionId([9; 8]);
        let token = TokenMinter::new(FrameTokenKey::from_bytes(KEY), other).mint(T0, &frame());
        assert_eq!(
            gate().verify(&token, &frame(), T0),
            Err(TokenError::WrongSession { found: other })
        );
    }

    #[test]
    fn wrong_length_is_rejected() {
        let token = minter().mint(T0, &frame());
        let mut long = [0; TOKEN_LEN + 1];
        long[..TOKEN_LEN].copy_from_slice(&token);
        let mut gate = gate();
        for (bytes, actual) in [
            (&token[..TOKEN_LEN - 1], TOKEN_LEN - 1),
            (&long[..], TOKEN_LEN + 1),
        ] {
            assert_eq!(
                gate.verify(bytes, &frame(), T0),
                Err(TokenError::WrongLength { actual })
            );
        }
        assert_eq!(
            gate.verify(&[], &frame(), T0),
            Err(TokenError::WrongLength { actual: 0 })
        );
    }

    #[test]
    fn unknown_version_is_rejected() {
        let mut token = minter().mint(T0, &frame());
        token[0] = 2;
        assert_eq!(
            FrameToken::parse(&token),
            Err(TokenError::UnknownVersion(2))
        );
        assert_eq!(
            gate().verify(&token, &frame(), T0),
            Err(TokenError::UnknownVersion(2))
        );
    }

    #[test]
    fn flipped_bit_anywhere_is_rejected() {
        let token = minter().mint(T0, &frame());
        for byte in 0..TOKEN_LEN {
            for bit in 0..8 {
                let mut flipped = token;
                flipped[byte] ^= 1 << bit;
                let refused = gate().verify(&flipped, &frame(), T0);
                // Each field is caught by its own check, the MAC catching all the rest.
                let expected_kind = match byte {
                    0 => matches!(refused, Err(TokenError::UnknownVersion(_))),
                    SESSION_AT..TIMESTAMP_AT => {
                        matches!(refused, Err(TokenError::WrongSession { .. }))
                    }
                    _ => refused == Err(TokenError::BadTag),
                };
                assert!(expected_kind, "byte {byte} bit {bit}: {refused:?}");
            }
        }
    }

    #[test]
    fn rejected_token_does_not_advance_counter() {
        let mut minter = minter();
        let first = minter.mint(T0, &frame());
        let mut forged = minter.mint(T0, &frame());
        forged[TOKEN_LEN - 1] ^= 1;
        let stale = minter.mint(T0 - DEFAULT_LIFETIME_MS - 1, &frame());
        let early = minter.mint(T0 + DEFAULT_MAX_SKEW_MS + 1, &frame());
        let mut gate = gate();

        // Counters 1, 2 and 3 fail for a bad tag, age and future date; none may move the gate
        // past counter 0, which must still be accepted after them.
        assert_eq!(gate.verify(&forged, &frame(), T0), Err(TokenError::BadTag));
        assert!(matches!(
            gate.verify(&stale, &frame(), T0),
            Err(TokenError::Expired { .. })
        ));
        assert!(matches!(
            gate.verify(&early, &frame(), T0),
            Err(TokenError::FromFuture { .. })
        ));
        assert_eq!(gate.last_counter(), None);
        assert_eq!(gate.verify(&first, &frame(), T0), Ok(0));
    }

    #[test]
    fn policy_bounds_are_enforced() {
        assert_eq!(
            TokenPolicy::new(MIN_LIFETIME_MS - 1, 0),
            Err(TokenError::LifetimeOutOfRange {
                lifetime_ms: MIN_LIFETIME_MS - 1
            })
        );
        assert_eq!(
            TokenPolicy::new(MAX_LIFETIME_MS + 1, 0),
            Err(TokenError::LifetimeOutOfRange {
                lifetime_ms: MAX_LIFETIME_MS + 1
            })
        );
        assert_eq!(
            TokenPolicy::new(MIN_LIFETIME_MS, MAX_CLOCK_SKEW_MS + 1),
            Err(TokenError::SkewTooLarge {
                max_skew_ms: MAX_CLOCK_SKEW_MS + 1
            })
        );
        let widest = TokenPolicy::new(MAX_LIFETIME_MS, MAX_CLOCK_SKEW_MS).expect("in bounds");
        assert_eq!((widest.lifetime_ms(), widest.max_skew_ms()), (5_000, 1_000));
        let narrowest = TokenPolicy::new(MIN_LIFETIME_MS, 0).expect("in bounds");
        assert_eq!(
            (narrowest.lifetime_ms(), narrowest.max_skew_ms()),
            (1_000, 0)
        );
        let default = TokenPolicy::default();
        assert_eq!((default.lifetime_ms(), default.max_skew_ms()), (2_000, 250));
    }

    #[test]
    fn key_debug_shows_no_key_bytes() {
        let key = [0xa5; KEY_LEN];
        assert_eq!(
            format!("{:?}", FrameTokenKey::from_bytes(key)),
            "FrameTokenKey(<redacted>)"
        );
        // The owners of a key print it through the key's own Debug.
        let shown = [
            format!(
                "{:?}",
                TokenMinter::new(FrameTokenKey::from_bytes(key), SESSION)
            ),
            format!(
                "{:?}",
                FrameGate::new(FrameTokenKey::from_bytes(key), SESSION, DEFAULT_POLICY)
            ),
        ];
        for text in shown {
            assert!(text.contains("FrameTokenKey(<redacted>)"), "{text}");
            // 0xa5 in hex and decimal, and the HMAC state's pads (0xa5 ^ 0x36, 0xa5 ^ 0x5c).
            for leak in ["a5", "A5", "165", "147", "249"] {
                assert!(!text.contains(leak), "{text} shows {leak}");
            }
        }
    }

    #[test]
    fn errors_name_no_key_material() {
        let token =
            TokenMinter::new(FrameTokenKey::from_bytes(OTHER_KEY), SESSION).mint(T0, &frame());
        let refused = gate().verify(&token, &frame(), T0).expect_err("wrong key");
        assert_eq!(format!("{refused}"), "frame token tag does not verify");
    }

    proptest! {
        #[test]
        fn parse_inverts_to_bytes(
            session in any::<[u8; 8]>(),
            timestamp_ms in any::<u64>(),
            counter in any::<u64>(),
            tag in any::<[u8; TAG_LEN]>(),
        ) {
            let token = FrameToken { session: SessionId(session), timestamp_ms, counter, tag };
            prop_assert_eq!(FrameToken::parse(&token.to_bytes()), Ok(token));
        }

        #[test]
        fn to_bytes_inverts_parse(mut bytes in proptest::collection::vec(any::<u8>(), TOKEN_LEN)) {
            bytes[0] = VERSION;
            let token = FrameToken::parse(&bytes).expect("41 bytes of version 1");
            let encoded = token.to_bytes();
            prop_assert_eq!(encoded.as_slice(), bytes.as_slice());
        }

        #[test]
        fn random_bytes_never_verify(
            bytes in proptest::collection::vec(any::<u8>(), 0..2 * TOKEN_LEN),
            now_ms in any::<u64>(),
        ) {
            prop_assert!(gate().verify(&bytes, &frame(), now_ms).is_err());
        }

        // Random bytes almost never get past the version and session checks, so force those
        // fields to reach the MAC check with random timestamps, counters and tags.
        #[test]
        fn random_tokens_for_this_session_never_verify(
            mut bytes in proptest::collection::vec(any::<u8>(), TOKEN_LEN),
            now_ms in any::<u64>(),
        ) {
            bytes[0] = VERSION;
            bytes[SESSION_AT..TIMESTAMP_AT].copy_from_slice(&SESSION.0);
            prop_assert_eq!(gate().verify(&bytes, &frame(), now_ms), Err(TokenError::BadTag));
        }

        // Authentic tokens reach the time checks with any pair of u64 clocks: the verdict must
        // match the policy computed without overflow, and nothing may panic.
        #[test]
        fn time_window_holds_for_any_clocks(
            timestamp_ms in any::<u64>(),
            near in any::<bool>(),
            offset in -3_000i64..3_000,
            far in any::<u64>(),
        ) {
            // Half the cases put the clocks within seconds of each other, where the verdict
            // flips; the rest anywhere in u64, where the arithmetic could overflow.
            let now_ms = if near { timestamp_ms.wrapping_add_signed(offset) } else { far };
            let token = minter().mint(timestamp_ms, &frame());
            let offset = i128::from(now_ms) - i128::from(timestamp_ms);
            let fresh = -i128::from(DEFAULT_MAX_SKEW_MS) <= offset
                && offset <= i128::from(DEFAULT_LIFETIME_MS);
            prop_assert_eq!(gate().verify(&token, &frame(), now_ms).is_ok(), fresh);
        }
    }
}
