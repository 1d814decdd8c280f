//! The kernel CSPRNG behind getrandom(2) and (later) /dev/urandom: ChaCha20, seeded
//! from the platform's entropy (RDSEED/RDRAND, or host entropy gathered at boot).

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

static RNG: spin::Mutex<Option<ChaCha20Rng>> = spin::Mutex::new(None);

pub(crate) fn init() {
    let mut seed = [0u8; 32];
    uk_plat::get().entropy(&mut seed);
    *RNG.lock() = Some(ChaCha20Rng::from_seed(seed));
}

/// Fill `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    let mut g = RNG.lock();
    let rng = g.get_or_insert_with(|| {
        let mut seed = [0u8; 32];
        uk_plat::get().entropy(&mut seed);
        ChaCha20Rng::from_seed(seed)
    });
    rng.fill_bytes(buf);
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_constant() {
        crate::testplat::setup();
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        super::fill(&mut a);
        super::fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
