//! The console as stdin/stdout/stderr.

use uk_abi::ioctl::{
    FIONBIO, FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGWINSZ, TIOCSWINSZ,
};
use uk_abi::stat::S_IFCHR;

use crate::file::{File, Stat, Whence};
use crate::{Errno, KResult};
use uk_plat::ConsoleStream;

/// One of the three console descriptors.
pub struct Console {
    fd: u32,
}

impl Console {
    pub fn new(fd: u32) -> Self {
        Console { fd }
    }
}

/// `struct termios` (kernel layout, 60 bytes) of a terminal in its usual cooked mode,
/// returned for TCGETS on a terminal. The host's settings are not read after boot.
fn cooked_termios() -> [u8; 60] {
    let mut t = [0u8; 60];
    let iflag: u32 = 0o2400; // ICRNL | IXON
    let oflag: u32 = 0o5; // OPOST | ONLCR
    let cflag: u32 = 0o277; // B38400 | CS8 | CREAD
    let lflag: u32 = 0o105073; // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    t[0..4].copy_from_slice(&iflag.to_le_bytes());
    t[4..8].copy_from_slice(&oflag.to_le_bytes());
    t[8..12].copy_from_slice(&cflag.to_le_bytes());
    t[12..16].copy_from_slice(&lflag.to_le_bytes());
    // c_line at 16, c_cc[19] from 17: VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D,
    // VTIME 0, VMIN 1.
    let cc = [3u8, 28, 127, 21, 4, 0, 1];
    t[17..17 + cc.len()].copy_from_slice(&cc);
    t
}

impl File for Console {
    fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if self.fd != 0 {
            return Err(Errno::EBADF);
        }
        uk_plat::get().console_read(buf)
    }

    fn write(&self, buf: &[u8]) -> KResult<usize> {
        let s = match self.fd {
            1 => ConsoleStream::Out,
            2 => ConsoleStream::Err,
            _ => return Err(Errno::EBADF),
        };
        uk_plat::get().console_write(s, buf)
    }

    /// Seekable only when the host handed over a file (`./app < file`), as on Linux,
    /// where the stream is that file; terminals and pipes answer ESPIPE.
    fn seek(&self, off: i64, whence: Whence) -> KResult<u64> {
        let w = match whence {
            Whence::Set => 0,
            Whence::Cur => 1,
            Whence::End => 2,
        };
        uk_plat::get().console_seek(self.fd, off, w)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        let tty = uk_plat::get().console_tty(self.fd);
        match cmd {
            FIONBIO => Ok(0),
            FIONREAD => {
                crate::user::write(arg, &0i32)?;
                Ok(0)
            }
            _ if !tty.is_tty => Err(Errno::ENOTTY),
            TIOCGWINSZ => {
                let ws: [u16; 4] = [tty.rows, tty.cols, 0, 0];
                crate::user::write(arg, &ws)?;
                Ok(0)
            }
            TCGETS => {
                crate::user::write(arg, &cooked_termios())?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ => {
                crate::user::slice(arg, if cmd == TIOCSWINSZ { 8 } else { 60 })?;
                Ok(0)
            }
            TIOCGPGRP => {
                crate::user::write(arg, &1i32)?;
                Ok(0)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn stat(&self) -> KResult<Stat> {
        let tty = uk_plat::get().console_tty(self.fd).is_tty;
        Ok(Stat {
            st_mode: S_IFCHR | 0o620,
            st_nlink: 1,
            // /dev/pts/0 for a terminal, /dev/console otherwise.
            st_rdev: if tty {
                (136 << 8) as u64
            } else {
                (5 << 8 | 1) as u64
            },
            st_blksize: 1024,
            ..Stat::default()
        })
    }

    fn status_flags(&self) -> u32 {
        if self.fd == 0 {
            0
        } else {
            1 // O_WRONLY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_semantics() {
        crate::testplat::setup();
        let out = Console::new(1);
        assert_eq!(out.write(b"abc"), Ok(3));
        assert_eq!(out.read(&mut [0u8; 4]), Err(Errno::EBADF));
        assert_eq!(Console::new(0).write(b"x"), Err(Errno::EBADF));
        let ws = crate::user::tests::user_buf(8, true);
        // The test platform says fd 1 is not a terminal, fd 2 is.
        assert_eq!(out.ioctl(TIOCGWINSZ, ws), Err(Errno::ENOTTY));
        let err = Console::new(2);
        assert_eq!(err.ioctl(TIOCGWINSZ, ws), Ok(0));
        assert_eq!(crate::user::read::<[u16; 2]>(ws).unwrap(), [24, 80]);
        assert_eq!(err.ioctl(TIOCGWINSZ, 8), Err(Errno::EFAULT));
        assert_eq!(err.ioctl(0x9999, ws), Err(Errno::EINVAL));
        assert_eq!(out.seek(0, crate::file::Whence::Set), Err(Errno::ESPIPE));
    }
}
