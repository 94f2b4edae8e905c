//! A deterministic generator for benchmarks: the same keys, serials and ephemeral scalars, and
//! therefore the same bytes, on every run, and fresh values on every draw.

use sha2::{Digest as _, Sha256};

/// SHA-256 over a counter, 32 bytes per step.
pub struct SeededRng(pub u64);

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
            self.0 += 1;
            chunk.copy_from_slice(&Sha256::digest(self.0.to_le_bytes())[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SeededRng {}
