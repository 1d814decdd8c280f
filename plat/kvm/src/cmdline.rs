//! The kernel command line of a kvm image.
//!
//! Format (what `ukport run --plat kvm` writes with QEMU's `-append`):
//!
//! ```text
//! [boot option ...] [env=KEY=VALUE ...] -- ARGV0 [ARG ...]
//! ```
//!
//! Words are separated by spaces. Boot options are the same `key=value` words a linuxu
//! image takes from `UKIT_OPTS` (plus kvm's own, e.g. `bootstats`). `env=` words and
//! every word after the first `--` are percent-encoded: `%XX` (two hex digits) stands
//! for any byte, so a space is `%20` and a percent sign `%25`; every other byte stands
//! for itself. Without `--` the program gets `argv = ["app"]`.

/// Where the decoded strings go: NUL-terminated, one after the other.
pub struct Arena<const N: usize, const P: usize> {
    pub buf: [u8; N],
    pub used: usize,
    /// Offsets into `buf` of the environment strings, then the arguments.
    pub env: [usize; P],
    pub n_env: usize,
    pub args: [usize; P],
    pub n_args: usize,
    /// Boot options, space-separated, in `buf[opts.0..opts.1]`.
    pub opts: (usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineError {
    TooLong,
    TooMany,
    BadEscape,
}

impl CmdlineError {
    pub fn message(self) -> &'static str {
        match self {
            CmdlineError::TooLong => "the command line is too long for the kernel's buffer",
            CmdlineError::TooMany => "too many arguments or environment variables",
            CmdlineError::BadEscape => "a %-escape in the command line is not two hex digits",
        }
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl<const N: usize, const P: usize> Arena<N, P> {
    pub const fn new() -> Self {
        Arena {
            buf: [0; N],
            used: 0,
            env: [0; P],
            n_env: 0,
            args: [0; P],
            n_args: 0,
            opts: (0, 0),
        }
    }

    fn push_raw(&mut self, b: u8) -> Result<(), CmdlineError> {
        if self.used >= N {
            return Err(CmdlineError::TooLong);
        }
        self.buf[self.used] = b;
        self.used += 1;
        Ok(())
    }

    /// Decode one word into the arena, NUL-terminated; its offset.
    fn push_decoded(&mut self, w: &[u8]) -> Result<usize, CmdlineError> {
        let at = self.used;
        let mut i = 0;
        while i < w.len() {
            let c = if w[i] == b'%' {
                let (h, l) = (w.get(i + 1).copied(), w.get(i + 2).copied());
                let v = h
                    .and_then(hex)
                    .zip(l.and_then(hex))
                    .ok_or(CmdlineError::BadEscape)?;
                i += 3;
                v.0 << 4 | v.1
            } else {
                i += 1;
                w[i - 1]
            };
            self.push_raw(c)?;
        }
        self.push_raw(0)?;
        Ok(at)
    }

    /// The string at `off` (without its NUL).
    pub fn str_at(&self, off: usize) -> &[u8] {
        let end = self.buf[off..]
            .iter()
            .position(|&c| c == 0)
            .map_or(N, |p| off + p);
        &self.buf[off..end]
    }

    /// The boot options.
    pub fn opts(&self) -> &[u8] {
        &self.buf[self.opts.0..self.opts.1]
    }

    /// Split and decode `line`.
    pub fn parse(&mut self, line: &[u8]) -> Result<(), CmdlineError> {
        let mut words = line
            .split(|&c| c == b' ' || c == b'\t' || c == b'\n')
            .filter(|w| !w.is_empty());
        // Boot options first, copied as they are.
        let start = self.used;
        let mut saw_dashes = false;
        let mut envs: [(usize, usize); P] = [(0, 0); P];
        let mut ne = 0;
        for w in words.by_ref() {
            if w == b"--" {
                saw_dashes = true;
                break;
            }
            if let Some(kv) = w.strip_prefix(b"env=") {
                if ne == P {
                    return Err(CmdlineError::TooMany);
                }
                // Remember where the word is in `line`; decode after the options.
                let off = kv.as_ptr() as usize - line.as_ptr() as usize;
                envs[ne] = (off, off + kv.len());
                ne += 1;
                continue;
            }
            if self.used > start {
                self.push_raw(b' ')?;
            }
            for &c in w {
                self.push_raw(c)?;
            }
        }
        self.opts = (start, self.used);
        self.push_raw(0)?;
        for &(a, b) in &envs[..ne] {
            let off = self.push_decoded(&line[a..b])?;
            self.env[self.n_env] = off;
            self.n_env += 1;
        }
        if saw_dashes {
            for w in words {
                if self.n_args == P {
                    return Err(CmdlineError::TooMany);
                }
                let off = self.push_decoded(w)?;
                self.args[self.n_args] = off;
                self.n_args += 1;
            }
        }
        if self.n_args == 0 {
            let off = self.push_decoded(b"app")?;
            self.args[0] = off;
            self.n_args = 1;
        }
        Ok(())
    }
}

impl<const N: usize, const P: usize> Default for Arena<N, P> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs<const N: usize, const P: usize>(a: &Arena<N, P>, offs: &[usize]) -> Vec<String> {
        offs.iter()
            .map(|&o| String::from_utf8(a.str_at(o).to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn options_env_and_args() {
        let mut a: Arena<512, 8> = Arena::new();
        a.parse(b"trace  bootstats env=A=1 env=MSG=two%20words -- prog x%25y '' %00z")
            .unwrap();
        assert_eq!(a.opts(), b"trace bootstats");
        assert_eq!(strs(&a, &a.env[..a.n_env]), ["A=1", "MSG=two words"]);
        assert_eq!(a.n_args, 4);
        assert_eq!(strs(&a, &a.args[..2]), ["prog", "x%y"]);
        assert_eq!(a.str_at(a.args[2]), b"''");
        // An encoded NUL ends the C string early: the program sees "".
        assert_eq!(a.str_at(a.args[3]), b"");
    }

    #[test]
    fn defaults_and_errors() {
        let mut a: Arena<64, 2> = Arena::new();
        a.parse(b"").unwrap();
        assert_eq!(a.opts(), b"");
        assert_eq!(strs(&a, &a.args[..a.n_args]), ["app"]);

        let mut a: Arena<64, 2> = Arena::new();
        assert_eq!(a.parse(b"-- a%2"), Err(CmdlineError::BadEscape));
        let mut a: Arena<64, 2> = Arena::new();
        assert_eq!(a.parse(b"-- a b c"), Err(CmdlineError::TooMany));
        let mut a: Arena<8, 2> = Arena::new();
        assert_eq!(a.parse(b"-- abcdefghij"), Err(CmdlineError::TooLong));
    }

    #[test]
    fn unicode_bytes_pass_through() {
        let mut a: Arena<64, 4> = Arena::new();
        a.parse("-- ünï %C3%BC".as_bytes()).unwrap();
        assert_eq!(strs(&a, &a.args[..2]), ["ünï", "ü"]);
    }
}
