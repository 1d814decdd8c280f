//! Boot options for a linuxu image: the environment variable `UKIT_OPTS`
//! (space-separated `key=value` words). The platform consumes its own keys and passes
//! the rest to the boot sequence, which rejects what nobody knows.

/// What the platform itself reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `mem=SIZE`: memory to take from the host.
    pub mem: Option<usize>,
    /// `seccomp=off`: skip the host-call filter (platform debugging only).
    pub no_seccomp: bool,
    /// Words for the boot sequence.
    pub rest: &'static str,
}

static mut REST: [u8; 256] = [0; 256];

/// Find `UKIT_OPTS=` in the environment, remove it (shifting the later entries down)
/// and return its value.
///
/// # Safety
/// `envp` must point to `n` valid C-string pointers followed by NULL, writable.
pub unsafe fn take_env(envp: *mut *const u8, n: usize) -> &'static [u8] {
    const KEY: &[u8] = b"UKIT_OPTS=";
    for i in 0..n {
        // SAFETY: i < n.
        let p = unsafe { *envp.add(i) };
        // SAFETY: a C string from the host.
        let s = unsafe { cstr(p) };
        if s.starts_with(KEY) {
            for j in i..n {
                // SAFETY: j+1 <= n; the NULL terminator moves down too.
                unsafe { *envp.add(j) = *envp.add(j + 1) };
            }
            return &s[KEY.len()..];
        }
    }
    b""
}

/// # Safety
/// `p` must be a NUL-terminated string that lives for the program's life.
unsafe fn cstr(p: *const u8) -> &'static [u8] {
    let mut n = 0;
    // SAFETY: NUL-terminated.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: n bytes before the NUL.
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// Parse a size: `4096`, `64K`, `256M`, `2G`.
pub fn parse_size(s: &[u8]) -> Option<usize> {
    let (num, mul) = match s.last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1usize << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        b'g' | b'G' => (&s[..s.len() - 1], 1 << 30),
        b't' | b'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    if num.is_empty() {
        return None;
    }
    let mut v: usize = 0;
    for &c in num {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as usize)?;
    }
    v.checked_mul(mul)
}

/// Parse the option words. Errors name the bad word's problem.
pub fn parse(raw: &'static [u8]) -> Result<Parsed, &'static str> {
    let mut p = Parsed::default();
    // SAFETY: REST is only touched here, once, on the single boot path.
    let rest = unsafe { &mut *core::ptr::addr_of_mut!(REST) };
    let mut rn = 0;
    for w in raw
        .split(|&c| c == b' ' || c == b'\t')
        .filter(|w| !w.is_empty())
    {
        if let Some(v) = w.strip_prefix(b"mem=") {
            let m = parse_size(v).ok_or("mem= wants a size like 256M or 2G")?;
            if m < (4 << 20) {
                return Err("mem= must be at least 4M");
            }
            p.mem = Some(m);
        } else if w == b"seccomp=off" {
            p.no_seccomp = true;
        } else {
            if rn + w.len() + 1 > rest.len() {
                return Err("too many boot options");
            }
            if rn > 0 {
                rest[rn] = b' ';
                rn += 1;
            }
            rest[rn..rn + w.len()].copy_from_slice(w);
            rn += w.len();
        }
    }
    p.rest = core::str::from_utf8(&rest[..rn]).map_err(|_| "boot options must be ASCII")?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"4096"), Some(4096));
        assert_eq!(parse_size(b"64K"), Some(65536));
        assert_eq!(parse_size(b"2G"), Some(2 << 30));
        assert_eq!(parse_size(b"M"), None);
        assert_eq!(parse_size(b"12x"), None);
        assert_eq!(parse_size(b"99999999999999999999999"), None);
    }

    #[test]
    fn words() {
        let p = parse(b"mem=256M  trace log=debug").unwrap();
        assert_eq!(p.mem, Some(256 << 20));
        assert_eq!(p.rest, "trace log=debug");
        assert!(parse(b"mem=1K").is_err());
        assert!(parse(b"mem=lots").is_err());
    }

    #[test]
    fn env_removal() {
        let a = c"A=1".as_ptr() as *const u8;
        let b = c"UKIT_OPTS=mem=8M".as_ptr() as *const u8;
        let c = c"C=3".as_ptr() as *const u8;
        let mut env = [a, b, c, core::ptr::null()];
        // SAFETY: env holds three C strings and a NULL.
        let v = unsafe { take_env(env.as_mut_ptr(), 3) };
        assert_eq!(v, b"mem=8M");
        assert_eq!(env[1], c);
        assert!(env[2].is_null());
    }
}
