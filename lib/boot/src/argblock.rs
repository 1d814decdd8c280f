//! The program's argument block: the same layout as the Linux initial stack
//! (argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL, then the strings), placed in
//! program memory so that every pointer the program sees is one it owns.

/// Values for the auxiliary vector.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuxInfo {
    pub phdr: usize,
    pub phnum: usize,
    pub hwcap: usize,
    pub hwcap2: usize,
    /// 16 random bytes for AT_RANDOM (musl seeds its stack protector canary from it).
    pub random: [u8; 16],
}

/// Where the block landed.
#[derive(Clone, Copy, Debug)]
pub struct ArgBlock {
    pub argc: usize,
    /// Address of argv[0]'s pointer.
    pub argv: usize,
    pub envp: usize,
}

use uk_abi::auxv::{
    AT_CLKTCK, AT_EGID, AT_EUID, AT_EXECFN, AT_GID, AT_HWCAP, AT_HWCAP2, AT_NULL, AT_PAGESZ,
    AT_PHDR, AT_PHENT, AT_PHNUM, AT_PLATFORM, AT_RANDOM, AT_SECURE, AT_UID,
};

const N_AUX: usize = 15;

/// Build the block. `args` and `env` are the strings (without NUL); `alloc(len)` returns
/// program memory of `len` bytes (8-aligned) or None. Note there is no AT_SYSINFO_EHDR:
/// the host's vDSO must never be reached from the program.
pub fn build_arg_block<'a>(
    args: impl Iterator<Item = &'a [u8]> + Clone,
    env: impl Iterator<Item = &'a [u8]> + Clone,
    aux: &AuxInfo,
    alloc: impl FnOnce(usize) -> Option<usize>,
) -> Option<ArgBlock> {
    let argc = args.clone().count();
    let envc = env.clone().count();
    let strings: usize = args
        .clone()
        .chain(env.clone())
        .map(|s| s.len() + 1)
        .sum::<usize>()
        + b"x86_64\0".len();
    let words = 1 + argc + 1 + envc + 1 + 2 * (N_AUX + 1);
    let total = words * 8 + 16 + strings;
    let base = alloc(total)?;
    let mut w = base;
    let mut s = base + words * 8 + 16;
    let random_at = base + words * 8;
    let put = |at: &mut usize, v: usize| {
        // SAFETY: `at` stays inside [base, base + words * 8), memory from `alloc`.
        unsafe { core::ptr::write(*at as *mut usize, v) };
        *at += 8;
    };
    let copy_str = |at: &mut usize, b: &[u8]| -> usize {
        let start = *at;
        // SAFETY: the strings area was sized for every string plus its NUL.
        unsafe {
            core::ptr::copy_nonoverlapping(b.as_ptr(), start as *mut u8, b.len());
            *((start + b.len()) as *mut u8) = 0;
        }
        *at += b.len() + 1;
        start
    };
    put(&mut w, argc);
    let argv = w;
    let mut execfn = 0;
    for (i, a) in args.enumerate() {
        let p = copy_str(&mut s, a);
        if i == 0 {
            execfn = p;
        }
        put(&mut w, p);
    }
    put(&mut w, 0);
    let envp = w;
    for e in env {
        let p = copy_str(&mut s, e);
        put(&mut w, p);
    }
    put(&mut w, 0);
    let platform = copy_str(&mut s, b"x86_64");
    // SAFETY: 16 bytes reserved after the word area.
    unsafe { core::ptr::copy_nonoverlapping(aux.random.as_ptr(), random_at as *mut u8, 16) };
    let auxv: [(usize, usize); N_AUX] = [
        (AT_PHDR, aux.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, aux.phnum),
        (AT_PAGESZ, uk_abi::PAGE_SIZE),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random_at),
        (AT_HWCAP, aux.hwcap),
        (AT_HWCAP2, aux.hwcap2),
        (AT_CLKTCK, uk_abi::time::CLK_TCK as usize),
        (AT_PLATFORM, platform),
        (AT_EXECFN, execfn),
    ];
    for (k, v) in auxv {
        put(&mut w, k);
        put(&mut w, v);
    }
    put(&mut w, AT_NULL);
    put(&mut w, 0);
    Some(ArgBlock { argc, argv, envp })
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe fn cstr(p: usize) -> &'static [u8] {
        // SAFETY: test strings are NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(p as *const std::ffi::c_char).to_bytes() }
    }

    #[test]
    fn layout_matches_linux_initial_stack() {
        let args: Vec<&[u8]> = vec![b"prog", b"a b", b""];
        let env: Vec<&[u8]> = vec![b"HOME=/", b"X=1"];
        let mut mem = vec![0u64; 1024];
        let aux = AuxInfo {
            phdr: 0x400040,
            phnum: 9,
            hwcap: 7,
            hwcap2: 2,
            random: [9; 16],
        };
        let b = build_arg_block(args.iter().copied(), env.iter().copied(), &aux, |len| {
            assert!(len <= 8192);
            Some(mem.as_mut_ptr() as usize)
        })
        .unwrap();
        assert_eq!(b.argc, 3);
        let word = |a: usize| {
            // SAFETY: inside `mem`.
            unsafe { *(a as *const usize) }
        };
        assert_eq!(word(b.argv - 8), 3, "argc precedes argv");
        // SAFETY: pointers into `mem`, written by build_arg_block.
        unsafe {
            assert_eq!(cstr(word(b.argv)), b"prog");
            assert_eq!(cstr(word(b.argv + 8)), b"a b");
            assert_eq!(cstr(word(b.argv + 16)), b"");
            assert_eq!(word(b.argv + 24), 0);
            assert_eq!(b.envp, b.argv + 32);
            assert_eq!(cstr(word(b.envp)), b"HOME=/");
            assert_eq!(cstr(word(b.envp + 8)), b"X=1");
            assert_eq!(word(b.envp + 16), 0);
        }
        // auxv after envp's NULL; find AT_PHDR, AT_RANDOM, and no AT_SYSINFO_EHDR (33).
        let mut a = b.envp + 24;
        let mut seen = std::collections::HashMap::new();
        loop {
            let (k, v) = (word(a), word(a + 8));
            if k == 0 {
                break;
            }
            seen.insert(k, v);
            a += 16;
        }
        assert_eq!(seen[&3], 0x400040);
        assert_eq!(seen[&5], 9);
        assert!(!seen.contains_key(&33));
        // SAFETY: AT_RANDOM points at 16 bytes in `mem`.
        let r = unsafe { std::slice::from_raw_parts(seen[&25] as *const u8, 16) };
        assert_eq!(r, &[9; 16]);
    }

    #[test]
    fn allocation_failure_is_none() {
        let args: Vec<&[u8]> = vec![b"p"];
        assert!(build_arg_block(
            args.iter().copied(),
            [].iter().copied(),
            &AuxInfo::default(),
            |_| None
        )
        .is_none());
    }
}
