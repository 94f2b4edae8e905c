//! The server's replay window over received Partial IVs (RFC 8613 §7.4, §3.2.2).
//!
//! It is the anti-replay sliding window of RFC 6347 §4.1.2.6: the highest sequence number
//! accepted so far, and a bitmap of which of the `size` numbers at and below it have been
//! accepted. A number above the highest is new; one inside the window is new unless its bit
//! is set; one below the window is refused, since it can no longer be told apart from a
//! replay.
//!
//! ```text
//!            window of `size` numbers
//!   refused |<--------------------------->| new
//!   ... ----+---+---+---+---+---+---+----+----> sequence number
//!                bit set = seen       highest
//! ```
//!
//! [`ReplayWindow::check`] and [`ReplayWindow::accept`] are separate because the window may
//! only move once the message has been authenticated (§8.2 steps 3 and 6); both take the
//! window by reference, so the check and the update of one message cannot interleave with
//! another's (§7.4: the operation MUST be atomic).

use alloc::vec;
use alloc::vec::Vec;

use super::error::OscoreError;

/// Window size RFC 8613 §3.2.2 gives as default.
pub const DEFAULT_REPLAY_WINDOW: usize = 32;
/// Largest window this implementation keeps (a 512-byte bitmap).
pub const MAX_REPLAY_WINDOW: usize = 4096;

/// A sliding replay window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    /// Highest sequence number accepted, if any.
    highest: Option<u64>,
    /// Bit `i` (word `i / 64`, bit `i % 64`) is set when `highest - i` was accepted.
    seen: Vec<u64>,
    size: usize,
}

impl ReplayWindow {
    /// An empty window of `size` numbers, 1 to [`MAX_REPLAY_WINDOW`].
    pub fn new(size: usize) -> Result<Self, OscoreError> {
        if size == 0 || size > MAX_REPLAY_WINDOW {
            return Err(OscoreError::InvalidParameter("replay window size"));
        }
        Ok(ReplayWindow {
            highest: None,
            seen: vec![0; size.div_ceil(64)],
            size,
        })
    }

    /// The window size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The highest sequence number accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `highest - offset` was seen; offsets past the bitmap read as seen.
    fn bit(&self, offset: u64) -> bool {
        let Ok(offset) = usize::try_from(offset) else {
            return true;
        };
        self.seen
            .get(offset / 64)
            .is_none_or(|word| word & (1 << (offset % 64)) != 0)
    }

    fn set_bit(&mut self, offset: u64) {
        let Ok(offset) = usize::try_from(offset) else {
            return;
        };
        if let Some(word) = self.seen.get_mut(offset / 64) {
            *word |= 1 << (offset % 64);
        }
    }

    /// Whether `seq` would be accepted: not seen before and not below the window (§7.4).
    pub fn check(&self, seq: u64) -> Result<(), OscoreError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if seq > highest {
            return Ok(());
        }
        let offset = highest - seq;
        if offset >= self.size as u64 || self.bit(offset) {
            return Err(OscoreError::Replay);
        }
        Ok(())
    }

    /// Records `seq` as received, after the message carrying it has been authenticated.
    pub fn accept(&mut self, seq: u64) -> Result<(), OscoreError> {
        self.check(seq)?;
        match self.highest {
            Some(highest) if seq <= highest => self.set_bit(highest - seq),
            Some(highest) => {
                self.shift(seq - highest);
                self.highest = Some(seq);
                self.set_bit(0);
            }
            None => {
                self.highest = Some(seq);
                self.set_bit(0);
            }
        }
        Ok(())
    }

    /// Forgets everything and makes `seq` the lower limit: `seq` and every number below it
    /// are refused from now on, every number above accepted once (Appendix B.1.2, after a
    /// request has been proven fresh with Echo).
    pub fn restart_at(&mut self, seq: u64) {
        self.highest = Some(seq);
        self.seen.fill(u64::MAX);
    }

    /// Moves the window up by `by` numbers: bit `i` becomes bit `i + by`.
    fn shift(&mut self, by: u64) {
        if by >= self.size as u64 {
            self.seen.fill(0);
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        for i in (0..self.seen.len()).rev() {
            let mut word = 0u64;
            if i >= words {
                word = self.seen[i - words] << bits;
                if bits > 0 && i > words {
                    word |= self.seen[i - words - 1] >> (64 - bits);
                }
            }
            self.seen[i] = word;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_replay_is_refused() {
        let mut window = ReplayWindow::new(DEFAULT_REPLAY_WINDOW).expect("valid size");
        window.accept(0).expect("first");
        assert_eq!(window.check(0), Err(OscoreError::Replay));
        assert_eq!(window.accept(0), Err(OscoreError::Replay));
    }

    #[test]
    fn reordering_inside_the_window_is_accepted_once() {
        let mut window = ReplayWindow::new(32).expect("valid size");
        for seq in [5, 3, 4, 1, 40, 9, 39] {
            window.accept(seq).expect("new and inside the window");
        }
        for seq in [5, 40, 9, 39] {
            assert_eq!(window.check(seq), Err(OscoreError::Replay), "{seq}");
        }
    }

    #[test]
    fn numbers_below_the_window_are_refused() {
        let mut window = ReplayWindow::new(32).expect("valid size");
        window.accept(40).expect("first");
        // 40 - 8 = 32 is outside a window of 32, 40 - 9 = 31 is its last slot.
        assert_eq!(window.check(8), Err(OscoreError::Replay));
        window.accept(9).expect("last slot");
        window.accept(1000).expect("jump ahead");
        assert_eq!(window.check(968), Err(OscoreError::Replay));
        window.accept(969).expect("inside");
    }

    #[test]
    fn restarting_sets_a_lower_limit() {
        let mut window = ReplayWindow::new(32).expect("valid size");
        window.restart_at(100);
        for seq in [0, 99, 100] {
            assert_eq!(window.check(seq), Err(OscoreError::Replay), "{seq}");
        }
        window.accept(101).expect("above the limit");
        assert_eq!(window.check(100), Err(OscoreError::Replay));
    }

    #[test]
    fn sizes_are_bounded() {
        assert!(ReplayWindow::new(0).is_err());
        assert!(ReplayWindow::new(MAX_REPLAY_WINDOW + 1).is_err());
        assert_eq!(ReplayWindow::new(100).map(|w| w.size()), Ok(100));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The bitmap window agrees with a model that remembers every number it accepted.
        #[test]
        fn the_window_matches_a_set_model(
            size in 1usize..200,
            seqs in proptest::collection::vec(0u64..400, 0..300),
        ) {
            let mut window = ReplayWindow::new(size).expect("valid size");
            let mut accepted = alloc::collections::BTreeSet::new();
            let mut highest: Option<u64> = None;
            for seq in seqs {
                let expect_ok = !accepted.contains(&seq)
                    && highest.is_none_or(|h| seq > h || h - seq < size as u64);
                prop_assert_eq!(window.accept(seq).is_ok(), expect_ok, "seq {}", seq);
                if expect_ok {
                    accepted.insert(seq);
                    highest = Some(highest.map_or(seq, |h| h.max(seq)));
                }
            }
        }
    }
}
