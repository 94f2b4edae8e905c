//! The `token` target's input: a script that drives one frame gate through a sequence of
//! steps.
//!
//! Random bytes almost never carry a valid frame token tag, so a script cannot just list
//! tokens. Most steps instead name the fields of a token, and the target computes the tag for
//! them with the fixed [`TOKEN_KEY`]; other steps replay or alter a token an earlier step
//! made. Every field has a fixed place, which keeps the script easy for the fuzzer to mutate.
//!
//! ```text
//!  0          2          4                12                        12 + 46 n
//!  +----------+----------+----------------+--------+--------+-- ... --+
//!  | lifetime | max skew | start clock ms | step 0 | step 1 |         |
//!  | u16 ms   | u16 ms   | u64            |  46 B  |  46 B  |         |
//!  +----------+----------+----------------+--------+--------+-- ... --+
//!
//!  step = action (1) | clock step, i16 ms (2) | signed frame (1) | presented frame (1)
//!         | token field (41)
//! ```
//!
//! Integers are big-endian. Bytes after the last whole step are ignored.

use ward_crypto::token::{FrameDigest, KEY_LEN, SessionId, TOKEN_LEN};

/// The key of the gate under test, and of every token a script step signs.
pub const TOKEN_KEY: [u8; KEY_LEN] = [0x7a; KEY_LEN];
/// The session of the gate under test.
pub const SESSION: SessionId = SessionId(*b"fuzzsess");

/// Length of the script header: lifetime, skew and start clock.
pub const HEADER_LEN: usize = 12;
/// Length of one step.
pub const STEP_LEN: usize = 5 + TOKEN_LEN;

// Where a step's token field keeps the numbers that Sign, Mint, Replay and Tamper read: the
// timestamp offset in the timestamp's low 16 bits and the counter in the counter field, so a
// signed token reads the same as the raw bytes would; the history index and bit position in
// the version and session bytes, which those actions do not otherwise use.
const OFFSET_AT: usize = 15;
const COUNTER_AT: usize = 17;
const INDEX_AT: usize = 0;
const BIT_AT: usize = 1;

/// The digest of the frame a step names by one byte.
pub fn frame(selector: u8) -> FrameDigest {
    FrameDigest::of(&[0x00, 0x00, 0x01, 0x65, selector])
}

/// What a step does. The action byte is taken modulo the number of actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Present the token field to the gate as it is.
    Present,
    /// Build a token of the gate's session, dated the step's offset from the clock and carrying
    /// the step's counter, sign it over the signed frame and present it with the presented
    /// frame.
    Sign,
    /// Present an earlier step's signed token again, with the frame it was signed over.
    Replay,
    /// Mint the next token with ward-crypto's own `TokenMinter`, dated the step's offset from
    /// the clock, over the signed frame, and present it with the presented frame.
    Mint,
    /// Flip one bit of an earlier step's signed token and present it with its frame.
    Tamper,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::Present,
        Action::Sign,
        Action::Replay,
        Action::Mint,
        Action::Tamper,
    ];

    fn from_byte(byte: u8) -> Action {
        Action::ALL[usize::from(byte) % Action::ALL.len()]
    }

    fn to_byte(self) -> u8 {
        Action::ALL
            .iter()
            .position(|action| *action == self)
            .expect("every action is listed") as u8
    }
}

/// One step of a script.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// What the step does.
    pub action: Action,
    /// How far the gate's clock moves before the step, in milliseconds; it may go back.
    pub clock_step_ms: i16,
    /// The frame a signed or minted token is computed over.
    pub signed_frame: u8,
    /// The frame the gate is told the token came with.
    pub presented_frame: u8,
    /// The raw token for [`Action::Present`]; the other actions read their numbers from it.
    pub token: [u8; TOKEN_LEN],
}

impl Step {
    fn with(action: Action, clock_step_ms: i16) -> Step {
        Step {
            action,
            clock_step_ms,
            signed_frame: 0,
            presented_frame: 0,
            token: [0; TOKEN_LEN],
        }
    }

    /// A step presenting `token` as it is, with frame 0.
    pub fn present(clock_step_ms: i16, token: [u8; TOKEN_LEN]) -> Step {
        Step {
            token,
            ..Step::with(Action::Present, clock_step_ms)
        }
    }

    /// A step signing a token dated `offset_ms` from the clock with `counter`, over frame 0.
    pub fn sign(clock_step_ms: i16, offset_ms: i16, counter: u64) -> Step {
        let mut step = Step::with(Action::Sign, clock_step_ms);
        step.token[OFFSET_AT..OFFSET_AT + 2].copy_from_slice(&offset_ms.to_be_bytes());
        step.token[COUNTER_AT..COUNTER_AT + 8].copy_from_slice(&counter.to_be_bytes());
        step
    }

    /// A step minting the next token, dated `offset_ms` from the clock, over frame 0.
    pub fn mint(clock_step_ms: i16, offset_ms: i16) -> Step {
        Step {
            action: Action::Mint,
            ..Step::sign(clock_step_ms, offset_ms, 0)
        }
    }

    /// A step replaying the `index`th signed token.
    pub fn replay(clock_step_ms: i16, index: u8) -> Step {
        let mut step = Step::with(Action::Replay, clock_step_ms);
        step.token[INDEX_AT] = index;
        step
    }

    /// A step flipping bit `bit` of the `index`th signed token.
    pub fn tamper(clock_step_ms: i16, index: u8, bit: u16) -> Step {
        let mut step = Step::with(Action::Tamper, clock_step_ms);
        step.token[INDEX_AT] = index;
        step.token[BIT_AT..BIT_AT + 2].copy_from_slice(&bit.to_be_bytes());
        step
    }

    /// The token's date relative to the gate's clock, for Sign and Mint.
    pub fn offset_ms(&self) -> i16 {
        i16::from_be_bytes(
            self.token[OFFSET_AT..OFFSET_AT + 2]
                .try_into()
                .expect("2 bytes"),
        )
    }

    /// The token's counter, for Sign.
    pub fn counter(&self) -> u64 {
        u64::from_be_bytes(
            self.token[COUNTER_AT..COUNTER_AT + 8]
                .try_into()
                .expect("8 bytes"),
        )
    }

    /// Which earlier signed token Replay and Tamper take, modulo how many there are.
    pub fn history_index(&self) -> usize {
        usize::from(self.token[INDEX_AT])
    }

    /// Which bit of the token Tamper flips, modulo the token's bit length.
    pub fn bit(&self) -> usize {
        usize::from(u16::from_be_bytes(
            self.token[BIT_AT..BIT_AT + 2].try_into().expect("2 bytes"),
        ))
    }
}

/// A whole script.
#[derive(Clone, Debug)]
pub struct GateScript {
    /// The lifetime asked of `TokenPolicy::new`, which may refuse it.
    pub lifetime_ms: u16,
    /// The clock skew asked of `TokenPolicy::new`, which may refuse it.
    pub max_skew_ms: u16,
    /// The gate's clock before the first step.
    pub start_ms: u64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl GateScript {
    /// Reads a script; `None` if `bytes` are shorter than the header.
    pub fn parse(bytes: &[u8]) -> Option<GateScript> {
        let (header, steps) = bytes.split_first_chunk::<HEADER_LEN>()?;
        let steps = steps
            .chunks_exact(STEP_LEN)
            .map(|step| Step {
                action: Action::from_byte(step[0]),
                clock_step_ms: i16::from_be_bytes([step[1], step[2]]),
                signed_frame: step[3],
                presented_frame: step[4],
                token: step[5..]
                    .try_into()
                    .expect("a step ends with a whole token"),
            })
            .collect();
        Some(GateScript {
            lifetime_ms: u16::from_be_bytes([header[0], header[1]]),
            max_skew_ms: u16::from_be_bytes([header[2], header[3]]),
            start_ms: u64::from_be_bytes(header[4..].try_into().expect("8 bytes")),
            steps,
        })
    }

    /// Writes the script in the format [`GateScript::parse`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + STEP_LEN * self.steps.len());
        out.extend_from_slice(&self.lifetime_ms.to_be_bytes());
        out.extend_from_slice(&self.max_skew_ms.to_be_bytes());
        out.extend_from_slice(&self.start_ms.to_be_bytes());
        for step in &self.steps {
            out.push(step.action.to_byte());
            out.extend_from_slice(&step.clock_step_ms.to_be_bytes());
            out.extend_from_slice(&[step.signed_frame, step.presented_frame]);
            out.extend_from_slice(&step.token);
        }
        out
    }
}
