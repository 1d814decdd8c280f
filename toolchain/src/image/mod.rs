//! Images as `ukport` makes them: an app built from its recipe (or relinked from an
//! earlier build's objects) into `images/<app>.<plat>`, its root file system assembled
//! from the recipe's `[rootfs]`, cpio archives of a folder for initrds, and Python apps
//! (`[python]`: the interpreter's image over a root with the app and its wheels).

pub mod app;
pub mod build;
pub mod cpio;
pub mod hostrun;
pub mod programs;
pub mod pyapp;
pub mod rootfs;
