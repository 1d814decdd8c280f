//! The console as stdin/stdout/stderr.

use uk_abi::ioctl::{
    Termios, Winsize, B38400, CREAD, CS8, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, FIONBIO, FIONREAD,
    ICANON, ICRNL, IEXTEN, ISIG, IXON, NCCS, ONLCR, OPOST, TCGETS, TCSETS, TCSETSF, TCSETSW,
    TIOCGPGRP, TIOCGWINSZ, TIOCSWINSZ, VEOF, VERASE, VINTR, VKILL, VMIN, VQUIT, VTIME,
};
use uk_abi::stat::S_IFCHR;

use crate::file::{File, Sink, Source, Stat, Whence};
use crate::{Errno, KResult};
use uk_plat::ConsoleStream;

/// Most bytes one console read or host write moves.
const CHUNK: usize = 64 * 1024;

/// One of the three console descriptors, or /dev/tty opened on a console that is a
/// terminal ([`Console::controlling`]).
pub struct Console {
    fd: u32,
}

/// The `fd` of the /dev/tty variant: reads like stdin, writes like stdout.
const TTY: u32 = u32::MAX;

impl Console {
    pub fn new(fd: u32) -> Self {
        Console { fd }
    }

    /// /dev/tty: the process's controlling terminal, which is the console when the
    /// console is a terminal (the caller checked: otherwise the open is ENXIO). Read and
    /// write, terminal ioctls, never seekable.
    pub fn controlling() -> Self {
        Console { fd: TTY }
    }

    /// The console stream whose terminal facts this one reports (for /dev/tty: the
    /// first standard stream that is a terminal).
    fn tty_fd(&self) -> u32 {
        if self.fd != TTY {
            return self.fd;
        }
        (0..3)
            .find(|&fd| uk_plat::get().console_tty(fd).is_tty)
            .unwrap_or(0)
    }
}

/// The kernel's `struct termios` of a terminal in its usual cooked mode, returned for
/// TCGETS on a terminal whose settings the platform does not control (kvm's serial
/// console); linuxu answers with the host terminal's own.
fn cooked_termios() -> Termios {
    let mut cc = [0u8; NCCS];
    cc[VINTR] = 3; // ^C
    cc[VQUIT] = 28; // ^\
    cc[VERASE] = 127; // DEL
    cc[VKILL] = 21; // ^U
    cc[VEOF] = 4; // ^D
    cc[VTIME] = 0;
    cc[VMIN] = 1;
    Termios {
        c_iflag: ICRNL | IXON,
        c_oflag: OPOST | ONLCR,
        c_cflag: B38400 | CS8 | CREAD,
        c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
        c_line: 0,
        c_cc: cc,
    }
}

impl File for Console {
    fn read(&self, buf: &mut dyn Sink) -> KResult<usize> {
        if self.fd != 0 && self.fd != TTY {
            return Err(Errno::EBADF);
        }
        // The host reads into a kernel buffer (it may block); the program's buffer is
        // written afterwards, checked then.
        let mut b = alloc::vec![0u8; buf.len().min(CHUNK)];
        let n = uk_plat::get().console_read(&mut b)?;
        uk_abi::uio::give(buf, 0, &b[..n])
    }

    fn write(&self, buf: &dyn Source) -> KResult<usize> {
        let s = match self.fd {
            1 | TTY => ConsoleStream::Out,
            2 => ConsoleStream::Err,
            _ => return Err(Errno::EBADF),
        };
        // Small writes (printf's lines) through the stack, larger ones in chunks.
        let mut small = [0u8; 512];
        let mut big = alloc::vec::Vec::new();
        let chunk: &mut [u8] = if buf.len() <= small.len() {
            &mut small[..buf.len()]
        } else {
            big.resize(buf.len().min(CHUNK), 0);
            &mut big
        };
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(chunk.len());
            // As a terminal or pipe on Linux: a chunk is taken whole or not at all.
            if let Err(e) = buf.read_at(done, &mut chunk[..want]) {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            let k = want;
            let n = match uk_plat::get().console_write(s, &chunk[..k]) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += n;
            if n < k || k < want {
                break;
            }
        }
        Ok(done)
    }

    /// Seekable only when the host handed over a file (`./app < file`), as on Linux,
    /// where the stream is that file; terminals and pipes answer ESPIPE.
    fn seek(&self, off: i64, whence: Whence) -> KResult<u64> {
        if self.fd == TTY {
            return Err(Errno::ESPIPE);
        }
        let w = match whence {
            Whence::Set => 0,
            Whence::Cur => 1,
            Whence::End => 2,
        };
        uk_plat::get().console_seek(self.fd, off, w)
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        let tty = uk_plat::get().console_tty(self.tty_fd());
        match cmd {
            FIONBIO => Ok(0),
            FIONREAD => {
                crate::user::write(arg, &0i32)?;
                Ok(0)
            }
            _ if !tty.is_tty => Err(Errno::ENOTTY),
            TIOCGWINSZ => {
                let ws = Winsize {
                    ws_row: tty.rows,
                    ws_col: tty.cols,
                    ..Winsize::default()
                };
                crate::user::write(arg, &ws)?;
                Ok(0)
            }
            TCGETS => {
                // The host terminal's settings on linuxu; a serial console's fixed
                // cooked ones.
                crate::user::check(arg, core::mem::size_of::<Termios>(), true)?;
                let t = match uk_plat::get().console_tcgets(self.tty_fd()) {
                    Err(Errno::ENOSYS) => cooked_termios(),
                    r => r?,
                };
                crate::user::write(arg, &t)?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                // linuxu: the host terminal takes them (raw mode, echo off, ...) and
                // gets its own back when the image ends; elsewhere accepted, no effect.
                let t: Termios = crate::user::read(arg)?;
                match uk_plat::get().console_tcsets(self.tty_fd(), cmd, &t) {
                    Ok(()) | Err(Errno::ENOSYS) => Ok(0),
                    Err(e) => Err(e),
                }
            }
            TIOCSWINSZ => {
                // Accepted without effect, once the argument is readable.
                crate::user::check(arg, core::mem::size_of::<Winsize>(), false)?;
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
        if self.fd == TTY {
            // /dev/tty itself: (5, 0).
            return Ok(Stat {
                st_mode: S_IFCHR | 0o666,
                st_nlink: 1,
                st_rdev: (5 << 8) as u64,
                st_blksize: 1024,
                ..Stat::default()
            });
        }
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
        match self.fd {
            0 => 0,
            TTY => 2, // O_RDWR
            _ => 1,   // O_WRONLY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_semantics() {
        let _g = crate::testplat::serial();
        crate::testplat::setup();
        let out = Console::new(1);
        assert_eq!(out.write(&&b"abc"[..]), Ok(3));
        assert_eq!(out.read(&mut &mut [0u8; 4][..]), Err(Errno::EBADF));
        assert_eq!(Console::new(0).write(&&b"x"[..]), Err(Errno::EBADF));
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
