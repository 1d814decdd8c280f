//! The kernel CSPRNG: ChaCha20, seeded from the platform's entropy (RDSEED/RDRAND, or
//! host entropy gathered at boot; docs/runtime.md says which on each platform).
//!
//! One generator serves getrandom(2), /dev/random and /dev/urandom (lib/vfs) and lwIP's
//! initial sequence numbers and ports (lib/net), which is why it is a library of its own
//! below all three rather than part of posix.
#![cfg_attr(not(test), no_std)]

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use uk_abi::Errno;

static RNG: spin::Mutex<Option<ChaCha20Rng>> = spin::Mutex::new(None);

/// Seed the generator from the platform (boot does this once; later calls reseed).
pub fn init() {
    let mut seed = [0u8; 32];
    uk_plat::get().entropy(&mut seed);
    seed_with(seed);
}

/// Seed the generator with `seed` (boot, through [`init`]; unit tests directly).
pub fn seed_with(seed: [u8; 32]) {
    *RNG.lock() = Some(ChaCha20Rng::from_seed(seed));
}

/// Fill `buf` with random bytes. Before the generator is seeded it seeds itself from the
/// platform; with no platform either (host unit tests that seeded nothing) it refuses
/// with EIO rather than hand out predictable bytes.
pub fn try_fill(buf: &mut [u8]) -> Result<(), Errno> {
    let mut g = RNG.lock();
    if g.is_none() {
        let p = uk_plat::try_get().ok_or(Errno::EIO)?;
        let mut seed = [0u8; 32];
        p.entropy(&mut seed);
        *g = Some(ChaCha20Rng::from_seed(seed));
    }
    if let Some(rng) = g.as_mut() {
        rng.fill_bytes(buf);
    }
    Ok(())
}

/// Fill `buf` with random bytes: [`try_fill`] for callers that run after boot, when the
/// platform is registered and the generator therefore always available.
pub fn fill(buf: &mut [u8]) {
    if try_fill(buf).is_err() {
        // Unreachable after boot; never leave the caller with zeros it might trust.
        panic!("ukit: random bytes asked for before a platform was registered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_output_is_not_constant() {
        seed_with([7; 32]);
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        try_fill(&mut a).unwrap();
        try_fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
