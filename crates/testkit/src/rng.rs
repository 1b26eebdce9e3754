//! Deterministic pseudo-random numbers (xorshift64): tests, fuzz seeds and
//! benchmark files stay reproducible from a seed, and no test depends on a
//! random crate's version. Not for anything that needs real randomness.

/// An xorshift64 generator.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator for `seed`; every seed, 0 included, gives a usable state.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fills `buf` with the next bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// `len` pseudo-random bytes from `seed`.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    XorShift::new(seed).fill(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
        assert_eq!(bytes(100, 7), bytes(100, 7));
        assert_ne!(bytes(100, 7), bytes(100, 8));
        assert_ne!(bytes(16, 0), vec![0; 16], "seed 0 is not stuck at zero");
        // A prefix of a longer run is the shorter run.
        assert_eq!(bytes(13, 3)[..], bytes(40, 3)[..13]);
    }

    #[test]
    fn below_stays_in_range_and_reaches_both_ends() {
        let mut rng = XorShift::new(1);
        let seen: Vec<u64> = (0..1000).map(|_| rng.below(5)).collect();
        assert!(seen.iter().all(|&n| n < 5));
        assert!(seen.contains(&0) && seen.contains(&4));
    }
}
