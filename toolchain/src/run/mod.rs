//! `ukport run`: hands an image to its platform's runner.

pub mod net;
pub mod qemu;
pub mod supervise;
