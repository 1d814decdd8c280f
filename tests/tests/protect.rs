//! Memory protection is the MMU's on linuxu: a store into a read-only map, a thread
//! overflowing into musl's stack guard page and a main-stack overflow end the image
//! with SIGSEGV and a one-line report, exactly as the native program ends (without the
//! report); lifting a protection lets the access through again.

use std::os::unix::process::ExitStatusExt;
use uk_tests::{build_native, build_uk, c_source, run, text, TempDir};

#[test]
fn protection_faults_like_native() {
    let tmp = TempDir::new("protect");
    let (image, native) = (tmp.join("protect.uk"), tmp.join("protect.native"));
    build_uk(&c_source("protect.c"), &image);
    build_native(&c_source("protect.c"), &native);

    for case in ["ro", "thread", "main"] {
        let n = run(&native, &[case], &[]);
        assert_eq!(n.status.signal(), Some(11), "native {case}: {:?}", n.status);
        let u = run(&image, &[case], &[]);
        let err = text(&u.stderr);
        assert_eq!(
            u.status.signal(),
            Some(11),
            "ukit {case}: {:?}; stderr: {err}",
            u.status
        );
        assert!(
            err.contains("ukit: linuxu: fatal SIGSEGV: write at 0x")
                && err.contains("the page is protected"),
            "ukit {case}: no fault report in stderr: {err}"
        );
        assert_eq!(text(&u.stdout), text(&n.stdout), "{case}: stdout differs");
    }
    let ro = run(&image, &["ro"], &[]);
    assert_eq!(
        text(&ro.stdout),
        "read 42\n",
        "the read before the store works"
    );

    // The control: protection lifted (and pages freed back) lets writes through.
    for prog in [&image, &native] {
        let out = run(prog, &["reopen"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "reopened\n");
    }
}
