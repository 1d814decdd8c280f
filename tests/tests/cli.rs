//! ukport's and uk-cc's command lines as scripts and shells see them: shell completions
//! (the bash scripts are loaded into bash and asked to complete), `--json` output, and
//! `ukport check` on every recipe of the repository, and what `ukport kill` refuses.

use std::process::Command;
use std::time::Duration;

use uk_tests::{repo_root, run_command, text, tools};

fn out(cmd: Command) -> String {
    let shown = format!("{cmd:?}");
    uk_tests::stdout_ok(&run_command(cmd, Duration::from_secs(120)), &shown)
}

/// Loads `script` into bash, then asks the completion function it registers (`complete
/// -F FUNC`) for `words` (the last one being completed) and returns the candidates.
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let func = script
        .split("complete -F ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the script registers a function");
    let dir = uk_tests::TempDir::new("complete");
    let f = dir.join("script.bash");
    std::fs::write(&f, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let prog = format!(
        "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n\
         {func} {} '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        f.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[0],
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "-c", &prog]);
    out(cmd).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_ukport_and_uk_cc() {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["completions", "bash"]);
    let script = out(cmd);
    let got = bash_complete(&script, &["ukport", "m"]);
    assert!(got.contains(&"menuconfig".to_string()), "{got:?}");
    let got = bash_complete(&script, &["ukport", "l"]);
    for w in ["list", "logs"] {
        assert!(got.contains(&w.to_string()), "{w}: {got:?}");
    }
    let got = bash_complete(&script, &["ukport", "run", "--de"]);
    assert_eq!(got, ["--detach"]);

    let mut cmd = Command::new(&tools().uk_cc);
    cmd.arg("--uk-completions=bash");
    let script = out(cmd);
    let got = bash_complete(&script, &["uk-cc", "--uk-pl"]);
    assert_eq!(got, ["--uk-plat"]);
    let got = bash_complete(&script, &["uk-cc", "--uk-pr"]);
    assert_eq!(got, ["--uk-program"]);
    let mut got = bash_complete(&script, &["uk-cc", "--uk-plat", ""]);
    got.sort();
    assert_eq!(got, ["kvm", "linuxu"]);

    for shell in ["zsh", "fish"] {
        let mut cmd = Command::new(&tools().ukport);
        cmd.args(["completions", shell]);
        assert!(out(cmd).contains("menuconfig"), "{shell}");
    }
    let mut cmd = Command::new(&tools().uk_cc);
    cmd.arg("--uk-completions=tcsh");
    let o = run_command(cmd, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("unknown shell `tcsh`"));
}

#[test]
fn json_for_list_and_config() {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["list", "--json"]).current_dir(repo_root());
    let list = out(cmd);
    assert!(list.trim_start().starts_with('['), "{list}");
    for name in [
        "\"name\": \"nginx\"",
        "\"name\": \"musl\"",
        "\"kind\": \"port\"",
    ] {
        assert!(list.contains(name), "{name} in {list}");
    }
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["config", "hello", "--json", "--set", "uk.log_level=debug"]);
    let cfg = out(cmd);
    assert!(cfg.contains("\"hash\": "), "{cfg}");
    let entry = cfg.split("\"uk.log_level\": ").nth(1).unwrap();
    let entry = &entry[..entry.find("\n    },").unwrap()];
    assert!(entry.contains("\"str\": \"debug\""), "{entry}");
    assert!(entry.contains("\"origin\": \"--set\""), "{entry}");
}

/// Every recipe of the repository passes `ukport check` (warnings allowed).
#[test]
fn every_repository_recipe_checks() {
    for e in std::fs::read_dir(repo_root().join("recipes"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let mut cmd = Command::new(&tools().ukport);
            cmd.arg("check").arg(&p);
            let o = out(cmd);
            assert!(
                o.lines().last().unwrap().starts_with("ok: "),
                "{}: {o}",
                p.display()
            );
        }
    }
}

/// `ukport kill` with bad input: each fails with a clear message and sends nothing. A
/// `sleep` started here stands for a process that is not a `ukport run` (it does not
/// catch signal 40, which would kill it): it must survive the attempt.
#[test]
fn ukport_kill_refuses_bad_input() {
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    let by = bystander.id().to_string();
    let cases: [(&[&str], &str); 6] = [
        (&[&by, "--pid", "2", "-s", "FOO"], "FOO"),
        (&[&by, "--pid", "2", "-s", "65"], "out of range"),
        (&[&by, "--pid", "0"], "out of range"),
        (&[&by, "--pid", "2"], "does not take signal 40"),
        (&["4194305", "--pid", "2"], "no process 4194305"),
        (
            &["no-such-instance-here", "--pid", "2"],
            "no-such-instance-here",
        ),
    ];
    for (args, want) in cases {
        let mut cmd = Command::new(&tools().ukport);
        cmd.arg("kill").args(args);
        let o = run_command(cmd, Duration::from_secs(60));
        let err = text(&o.stderr);
        assert!(!o.status.success(), "ukport kill {args:?} succeeded");
        assert!(
            err.contains(want),
            "ukport kill {args:?}: want {want:?} in:\n{err}"
        );
    }
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the process that does not take signal 40 was killed"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}
