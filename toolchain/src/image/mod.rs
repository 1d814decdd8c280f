//! Images as `ukport` makes them: an app built from its recipe (or relinked from an
//! earlier build's objects) into `images/<app>.<plat>`, its root file system assembled
//! from the recipe's `[rootfs]`, and cpio archives of a folder for initrds.

pub mod build;
pub mod cpio;
pub mod rootfs;
