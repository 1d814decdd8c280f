//! Bad boot options (`UKIT_OPTS`) stop an image before the program runs, with a message
//! that names the problem, instead of being ignored.

use uk_tests::{build_uk, c_source, ensure_setup, exit_code, run, text, TempDir};

#[test]
fn bad_boot_options_are_clear_errors() {
    ensure_setup();
    let tmp = TempDir::new("boot-options");
    let image = tmp.join("enosys");
    build_uk(&c_source("enosys.c"), &image);
    let cases = [
        ("mem=lots", "mem= wants a size"),
        ("mem=1K", "mem= must be at least"),
        ("bogus=1", "unknown boot option `bogus=1`"),
        ("log=loud", "unknown boot option `log=loud`"),
        ("root=nowhere", "root="),
    ];
    for (opts, want) in cases {
        let out = run(&image, &[], &[("UKIT_OPTS", opts)]);
        let err = text(&out.stderr);
        assert_eq!(exit_code(&out.status), 2, "UKIT_OPTS={opts}: {err}");
        assert!(
            err.contains(want),
            "UKIT_OPTS={opts}: want {want:?} in {err:?}"
        );
        assert!(
            out.stdout.is_empty(),
            "UKIT_OPTS={opts}: the program must not have run"
        );
    }
    // A good option still boots.
    let out = run(&image, &[], &[("UKIT_OPTS", "mem=64M log=warn")]);
    assert_eq!(exit_code(&out.status), 0, "{}", text(&out.stderr));
}
