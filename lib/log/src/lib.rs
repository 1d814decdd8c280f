//! The kernel log.
//!
//! Lines go to the platform console's error stream, prefixed `ukit: `, so that a
//! program's own stdout stays exactly what the program wrote. Each line is formatted
//! into a stack buffer and written with one console call, so lines never interleave.
#![cfg_attr(not(test), no_std)]

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

/// Severity, most severe first (the order of the `uk.log_level` choices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

impl Level {
    /// Parse a configuration or boot-option value.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "error" => Level::Error,
            "warn" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// Set the most verbose level that is printed.
pub fn set_level(l: Level) {
    LEVEL.store(l as u8, Ordering::Relaxed);
}

/// True when lines of this level are printed.
pub fn enabled(l: Level) -> bool {
    l as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// A fixed buffer that silently truncates: a log line must never allocate or fail.
pub struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl LineBuf {
    pub const fn new() -> Self {
        LineBuf {
            buf: [0; 512],
            len: 0,
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Format one log line (`ukit: <msg>\n`), truncated to the buffer.
pub fn format_line(args: fmt::Arguments<'_>) -> LineBuf {
    let mut b = LineBuf::new();
    let _ = b.write_str("ukit: ");
    let _ = b.write_fmt(args);
    if b.len == b.buf.len() {
        b.len -= 1;
    }
    let _ = b.write_str("\n");
    b
}

/// Print one line at `level`. Dropped before a platform is registered.
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) || !uk_plat::is_registered() {
        return;
    }
    let line = format_line(args);
    let _ = uk_plat::get().console_write(uk_plat::ConsoleStream::Err, line.as_bytes());
}

#[macro_export]
macro_rules! error { ($($a:tt)*) => { $crate::log($crate::Level::Error, format_args!($($a)*)) } }
#[macro_export]
macro_rules! warn { ($($a:tt)*) => { $crate::log($crate::Level::Warn, format_args!($($a)*)) } }
#[macro_export]
macro_rules! info { ($($a:tt)*) => { $crate::log($crate::Level::Info, format_args!($($a)*)) } }
#[macro_export]
macro_rules! debug { ($($a:tt)*) => { $crate::log($crate::Level::Debug, format_args!($($a)*)) } }

/// Print a warning the first time this call site is reached, never again.
#[macro_export]
macro_rules! warn_once {
    ($($a:tt)*) => {{
        static ONCE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        if !ONCE.swap(true, core::sync::atomic::Ordering::Relaxed) {
            $crate::warn!($($a)*);
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_and_truncation() {
        let l = format_line(format_args!("x={}", 5));
        assert_eq!(l.as_bytes(), b"ukit: x=5\n");
        let long = "a".repeat(2000);
        let l = format_line(format_args!("{long}"));
        assert_eq!(l.as_bytes().len(), 512);
        assert_eq!(*l.as_bytes().last().unwrap(), b'\n');
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("debug"), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
        set_level(Level::Error);
        assert!(enabled(Level::Error) && !enabled(Level::Warn));
        set_level(Level::Warn);
        assert!(enabled(Level::Warn) && !enabled(Level::Info));
    }
}
