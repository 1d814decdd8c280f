//! Where things live: the recipe engine's places (repository, recipes, the cache and its
//! sources, build trees and ports) plus the tools' own cache areas (kernels, their
//! cargo target folder, images).

use std::path::PathBuf;

pub use uk_recipes::paths::*;

/// Built kernels, one folder per platform, resolved-configuration hash and checkout.
pub fn kernels_dir() -> PathBuf {
    cache_dir().join("kernel")
}

/// Cargo's target folder for kernel builds: `kernel-target/<checkout>`. Apart from the
/// workspace's own so that kernel flags never invalidate the host tools' build; one per
/// checkout (named by a hash of its path) because cargo copies each build's staticlib to
/// one fixed path in its target folder, so checkouts sharing a folder could be handed
/// each other's kernel.
pub fn kernel_target_dir() -> PathBuf {
    cache_dir().join("kernel-target").join(checkout_id())
}

/// 12 hex digits naming this checkout (a hash of its path): the kernels and the cargo
/// target folder of one checkout are its own. Kernels are stamped with their sources'
/// modification times, so two checkouts sharing a kernel folder would each find the
/// other's kernel stale and build it again, under each other's running links.
pub fn checkout_id() -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::ffi::OsStrExt;
    let h = Sha256::digest(repo_root().as_os_str().as_bytes());
    hex::encode(&h[..6])
}

/// Where `ukport build` leaves images (`images/<app>.<plat>`).
pub fn images_dir() -> PathBuf {
    cache_dir().join("images")
}
