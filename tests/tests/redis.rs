//! Redis end to end on linuxu: the unmodified redis-server from `recipes/redis.toml`,
//! built by `ukport build redis` and started by `ukport run redis -p PORT:6379`
//! (user-mode networking through passt, the forward bound to 127.0.0.1). The test speaks
//! RESP over a plain `TcpStream` (no redis-cli): PING, a 1 MiB binary value byte-exact,
//! 1000 INCRs, LPUSH/LRANGE, EXPIRE/TTL and a key that really expires, INFO server,
//! 50 concurrent connections of 100 SET/GET each, and finally a clean shutdown on
//! SIGTERM: Redis's own "bye bye", exit status 0, port free again. Persistence with
//! Redis's defaults: BGSAVE and BGREWRITEAOF in a forked child while the server answers,
//! and later runs on the same host folder load the RDB and the AOF.
//!
//! The rootfs is the recipe's redis.conf in a temporary folder given with `--root`, so a
//! save from another run cannot leave a dump.rdb that this run would load. All traffic is
//! on the host's loopback. Only the `ukport` process this test starts (and, on a
//! failure, its own process group) is signalled.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use uk_tests::net::{client, Netns};
use uk_tests::server::{free_port, Server};
use uk_tests::{repo_root, require_tool, run_command, text, tools, ukport_build_once, TempDir};

/// From `ukport run` to the first PONG (the image is built already).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Per-reply I/O limit once Redis is up.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const BIG_SIZE: usize = 1024 * 1024;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    /// `None`: the null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `None`: the null array (`*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    fn bulk(&self) -> &[u8] {
        match self {
            Reply::Bulk(Some(b)) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

/// A RESP client on one connection.
struct Conn {
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            r: BufReader::with_capacity(64 * 1024, s),
        })
    }

    /// Sends one command as an array of bulk strings (binary safe) and reads its reply.
    fn cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&req)?;
        self.reply()
    }

    /// `cmd` for text arguments split at spaces.
    fn cmds(&mut self, line: &str) -> std::io::Result<Reply> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.cmd(&args)
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.r.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a reply",
            ));
        }
        if !l.ends_with("\r\n") {
            return Err(std::io::Error::other(format!(
                "reply line without CRLF: {l:?}"
            )));
        }
        l.truncate(l.len() - 2);
        Ok(l)
    }

    fn reply(&mut self) -> std::io::Result<Reply> {
        let l = self.line()?;
        let bad = || std::io::Error::other(format!("bad reply line {l:?}"));
        let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
        let Some(kind) = l.chars().next() else {
            return Err(bad());
        };
        let rest = &l[kind.len_utf8()..];
        Ok(match kind {
            '+' => Reply::Simple(rest.to_string()),
            '-' => Reply::Error(rest.to_string()),
            ':' => Reply::Int(num(rest)?),
            '$' => match num(rest)? {
                -1 => Reply::Bulk(None),
                n if n >= 0 => {
                    let mut b = vec![0; n as usize + 2];
                    self.r.read_exact(&mut b)?;
                    if !b.ends_with(b"\r\n") {
                        return Err(std::io::Error::other("bulk string without CRLF"));
                    }
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
                _ => return Err(bad()),
            },
            '*' => match num(rest)? {
                -1 => Reply::Array(None),
                n if n >= 0 => {
                    let mut v = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        v.push(self.reply()?);
                    }
                    Reply::Array(Some(v))
                }
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        })
    }
}

/// Pseudo-random bytes (xorshift64*, seeded per run), so that a misplaced or repeated
/// block cannot compare equal; they include CR and LF, which RESP must carry as data.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// `ukport build redis` once per test binary; how long it took.
fn build_redis() -> Duration {
    ukport_build_once("redis")
}

/// The recipe's redis.conf in a fresh root folder under `dir`.
fn redis_rootfs(dir: &TempDir) -> std::path::PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("etc/redis")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy(
        repo_root().join("recipes/redis/redis.conf"),
        root.join("etc/redis/redis.conf"),
    )
    .unwrap();
    root
}

/// `ukport run redis -p PORT:6379` on `root`, and a connection once it answers PING
/// (passt accepts on the host port before Redis listens and then drops the
/// connection); how long that took.
fn start_through_passt(dir: &TempDir, root: &Path, port: u16) -> (Server, Conn, Duration) {
    start_on(&[], dir, root, port)
}

/// [`start_through_passt`] with `ukport run` options for the platform first: none for
/// linuxu (`--root`), `--plat kvm` for kvm (the folder through virtio-9p, `--share`).
fn start_on(plat: &[&str], dir: &TempDir, root: &Path, port: u16) -> (Server, Conn, Duration) {
    let mut cmd = Command::new(&tools().ukport);
    cmd.arg("run")
        .args(plat)
        .args(["redis", "-p", &format!("{port}:6379")])
        .arg(if plat.is_empty() { "--root" } else { "--share" })
        .arg(root);
    let mut server = Server::start(cmd, dir.path());
    let started = Instant::now();
    let c = loop {
        if let Some(status) = server.wait_exit(Duration::ZERO) {
            panic!(
                "ukport run redis exited ({status}) before serving\n{}",
                server.logs()
            );
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "redis did not answer PING on 127.0.0.1:{port} within {START_TIMEOUT:?}\n{}",
            server.logs()
        );
        if let Ok(mut c) = Conn::open(port) {
            match c.cmds("PING") {
                // Still reading its RDB or AOF (slow under TCG): ask again.
                Ok(Reply::Error(e)) if e.starts_with("LOADING") => {}
                Ok(r) => {
                    assert_eq!(r, Reply::Simple("PONG".into()), "{}", server.logs());
                    break c;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (server, c, started.elapsed())
}

#[test]
fn redis_serves_resp_over_passt_and_stops_on_sigterm() {
    let built = build_redis();
    let dir = TempDir::new("redis-e2e");
    let root = redis_rootfs(&dir);
    let port = free_port();
    let (mut server, mut c, ready_after) = start_through_passt(&dir, &root, port);
    let logs = || server.logs();

    // The configuration is the recipe's.
    let r = c.cmds("CONFIG GET maxclients").unwrap();
    assert_eq!(
        r,
        Reply::Array(Some(vec![
            Reply::Bulk(Some(b"maxclients".to_vec())),
            Reply::Bulk(Some(b"992".to_vec()))
        ])),
        "{}",
        logs()
    );
    assert_eq!(c.cmds("DBSIZE").unwrap(), Reply::Int(0));

    // 1 MiB of binary data, byte-exact, and its length as Redis counts it.
    let big = random_bytes(BIG_SIZE, u64::from(std::process::id()));
    let t = Instant::now();
    assert_eq!(
        c.cmd(&[b"SET", b"big", &big]).unwrap(),
        Reply::Simple("OK".into())
    );
    let got = c.cmd(&[b"GET", b"big"]).unwrap();
    let big_rt = t.elapsed();
    assert!(
        got.bulk() == big.as_slice(),
        "GET big: {} bytes back, differs from the 1 MiB sent",
        got.bulk().len()
    );
    assert_eq!(c.cmds("STRLEN big").unwrap(), Reply::Int(BIG_SIZE as i64));
    let range = c.cmds("GETRANGE big 500000 500015").unwrap();
    assert_eq!(range.bulk(), &big[500_000..500_016]);

    // INCR: every reply is the count so far.
    let t = Instant::now();
    for i in 1..=1000 {
        assert_eq!(c.cmds("INCR counter").unwrap(), Reply::Int(i), "INCR #{i}");
    }
    let incr = t.elapsed();
    assert_eq!(c.cmds("GET counter").unwrap().bulk(), b"1000");
    assert_eq!(c.cmds("INCRBY counter -1001").unwrap(), Reply::Int(-1));

    // Lists: LPUSH prepends, so LRANGE returns the pushes in reverse.
    let items: Vec<String> = (0..20).map(|i| format!("item-{i}")).collect();
    for (n, it) in items.iter().enumerate() {
        let r = c.cmd(&[b"LPUSH", b"list", it.as_bytes()]).unwrap();
        assert_eq!(r, Reply::Int(n as i64 + 1));
    }
    let want: Vec<Reply> = items
        .iter()
        .rev()
        .map(|s| Reply::Bulk(Some(s.as_bytes().to_vec())))
        .collect();
    assert_eq!(
        c.cmds("LRANGE list 0 -1").unwrap(),
        Reply::Array(Some(want.clone()))
    );
    assert_eq!(
        c.cmds("LRANGE list 2 4").unwrap(),
        Reply::Array(Some(want[2..5].to_vec()))
    );
    assert_eq!(c.cmds("LLEN list").unwrap(), Reply::Int(20));
    assert_eq!(c.cmds("RPOP list").unwrap().bulk(), b"item-0");

    // EXPIRE + TTL, and a key that does expire (Redis's clock is the kernel's).
    assert_eq!(c.cmds("SET ttlkey v").unwrap(), Reply::Simple("OK".into()));
    assert_eq!(c.cmds("TTL ttlkey").unwrap(), Reply::Int(-1));
    assert_eq!(c.cmds("EXPIRE ttlkey 100").unwrap(), Reply::Int(1));
    let ttl = c.cmds("TTL ttlkey").unwrap().int();
    assert!((99..=100).contains(&ttl), "TTL after EXPIRE 100: {ttl}");
    assert_eq!(c.cmds("TTL nosuchkey").unwrap(), Reply::Int(-2));
    assert_eq!(
        c.cmds("SET shortlived v PX 300").unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(c.cmds("EXISTS shortlived").unwrap(), Reply::Int(1));
    let pttl = c.cmds("PTTL shortlived").unwrap().int();
    assert!((1..=300).contains(&pttl), "PTTL: {pttl}");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(c.cmds("GET shortlived").unwrap(), Reply::Bulk(None));
    assert_eq!(c.cmds("EXISTS shortlived").unwrap(), Reply::Int(0));

    // INFO server names the release the recipe builds.
    let info = text(c.cmds("INFO server").unwrap().bulk());
    assert!(
        info.contains("redis_version:7.0.15\r\n"),
        "INFO server:\n{info}"
    );
    assert!(info.contains("multiplexing_api:epoll\r\n"), "{info}");

    // 50 concurrent connections, 100 SET/GET each on their own keys.
    let t = Instant::now();
    let workers: Vec<_> = (0..50)
        .map(|w| {
            std::thread::spawn(move || -> Result<(), String> {
                let mut c = Conn::open(port).map_err(|e| format!("conn {w}: connect: {e}"))?;
                for i in 0..100 {
                    let key = format!("w{w}:k{i}");
                    let val = random_bytes(64 + (i * 37) % 200, (w * 1000 + i) as u64);
                    let r = c
                        .cmd(&[b"SET", key.as_bytes(), &val])
                        .map_err(|e| format!("conn {w} SET {i}: {e}"))?;
                    if r != Reply::Simple("OK".into()) {
                        return Err(format!("conn {w} SET {i}: {r:?}"));
                    }
                    let r = c
                        .cmd(&[b"GET", key.as_bytes()])
                        .map_err(|e| format!("conn {w} GET {i}: {e}"))?;
                    if r != Reply::Bulk(Some(val)) {
                        return Err(format!("conn {w} GET {i}: wrong value {r:?}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = workers
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(failures.is_empty(), "{failures:?}\n{}", logs());
    let concurrent = t.elapsed();
    // big, counter, list, ttlkey + 50 * 100.
    assert_eq!(
        c.cmds("DBSIZE").unwrap(),
        Reply::Int(4 + 5000),
        "{}",
        logs()
    );
    drop(c);

    // SIGTERM to ukport: forwarded to the image; Redis shuts down by itself.
    let pid = server.pid();
    let t = Instant::now();
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -TERM {pid}");
    let Some(status) = server.wait_exit(Duration::from_secs(10)) else {
        panic!(
            "ukport run redis did not stop within 10 s of SIGTERM\n{}",
            server.logs()
        );
    };
    let stopped = t.elapsed();
    let logs = server.logs();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{logs}");
    assert!(
        logs.contains("Received SIGTERM scheduling shutdown")
            && logs.contains("Redis is now ready to exit, bye bye"),
        "no clean Redis shutdown in the log\n{logs}"
    );
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "127.0.0.1:{port} is still bound after ukport exited: passt was not stopped"
    );
    eprintln!(
        "redis e2e: build {built:?}; ready after {ready_after:?}; 1 MiB SET+GET {big_rt:?}; \
         1000 INCR {incr:?}; 50x100 SET/GET concurrent {concurrent:?}; stopped {stopped:?} \
         after SIGTERM"
    );
}

/// Redis's requests per operation from `redis-benchmark -q` output, which must hold
/// every one of `ops` and no error.
fn benchmark_rates(out: &str, ops: &[&str]) -> Vec<(String, f64)> {
    assert!(
        !out.contains("Error") && !out.contains("reset by peer"),
        "redis-benchmark reported errors:\n{out}"
    );
    let rates: Vec<(String, f64)> = out
        .split(['\r', '\n'])
        .filter_map(|l| {
            let (op, rest) = l.split_once(": ")?;
            let rps = rest
                .strip_suffix(" requests per second")
                .or_else(|| rest.split_once(" requests per second").map(|(r, _)| r))?;
            Some((op.trim().to_string(), rps.trim().parse().ok()?))
        })
        .collect();
    for op in ops {
        assert!(
            rates
                .iter()
                .any(|(o, r)| o.eq_ignore_ascii_case(op) && *r > 0.0),
            "no {op} rate in redis-benchmark's output:\n{out}"
        );
    }
    rates
}

/// `redis-benchmark -c 500 -P 16` (500 clients at once, 16 commands in flight each):
/// every connection must get through the listen backlog (redis.conf's tcp-backlog 511)
/// and every request complete.
fn benchmark_500_clients(mut cmd: Command, host: &str, port: u16) -> Vec<(String, f64)> {
    cmd.args(["-h", host, "-p", &port.to_string()]).args([
        "-c", "500", "-P", "16", "-n", "200000", "-t", "set,get", "-q",
    ]);
    let out = client(cmd, Duration::from_secs(120));
    benchmark_rates(&out, &["SET", "GET"])
}

/// Redis keeps polling its sockets (with a zero timeout) while a Lua script runs, so
/// that SCRIPT KILL can stop a runaway script: with ukit the image must see that
/// input although the program never blocks. Then 500 pipelining clients through
/// passt. The busy threshold is lowered from Redis's default 5 s to 100 ms so that
/// the test does not wait for it; the behaviour is Redis's own either way.
#[test]
fn a_runaway_script_is_killed_and_500_clients_get_through_passt() {
    build_redis();
    let dir = TempDir::new("redis-liveness");
    let root = redis_rootfs(&dir);
    let port = free_port();
    let (server, mut b, _) = start_through_passt(&dir, &root, port);
    let logs = || server.logs();
    assert_eq!(
        b.cmds("CONFIG SET busy-reply-threshold 100").unwrap(),
        Reply::Simple("OK".into())
    );
    let mut a = Conn::open(port).unwrap();
    let runaway = std::thread::spawn(move || a.cmd(&[b"EVAL", b"while true do end", b"0"]));

    // Redis answers BUSY once the script has run past the threshold.
    let t = Instant::now();
    loop {
        match b.cmds("PING").unwrap() {
            Reply::Error(e) if e.starts_with("BUSY") => break,
            Reply::Simple(p) if p == "PONG" => {}
            other => panic!("PING while the script runs: {other:?}\n{}", logs()),
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "never BUSY: the script did not start\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    let killed = b.cmds("SCRIPT KILL").unwrap();
    let kill_took = t.elapsed();
    assert_eq!(killed, Reply::Simple("OK".into()), "{}", logs());
    assert!(
        kill_took < Duration::from_secs(2),
        "SCRIPT KILL took {kill_took:?}"
    );
    match runaway.join().unwrap() {
        Ok(Reply::Error(e)) if e.starts_with("ERR Script killed by user with SCRIPT KILL") => {}
        other => panic!("the script's client got {other:?}\n{}", logs()),
    }
    // The server keeps serving.
    assert_eq!(b.cmds("PING").unwrap(), Reply::Simple("PONG".into()));
    assert_eq!(
        b.cmds("SET after kill").unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(b.cmds("GET after").unwrap().bulk(), b"kill");

    let rates = benchmark_500_clients(
        Command::new(require_tool("redis-benchmark")),
        "127.0.0.1",
        port,
    );
    assert_eq!(b.cmds("PING").unwrap(), Reply::Simple("PONG".into()));
    eprintln!("redis liveness: SCRIPT KILL answered in {kill_took:?}; 500 clients -P 16 through passt: {rates:?}");
}

/// The same 500 pipelining clients over a tap device, from inside a network namespace
/// the test creates.
#[test]
fn five_hundred_clients_get_through_over_tap() {
    build_redis();
    let dir = TempDir::new("redis-tap");
    let root = redis_rootfs(&dir);
    let ns = Netns::with_tap();
    let mut cmd = ns.ukport_run("redis");
    cmd.arg("--root").arg(&root);
    let mut server = Server::start(cmd, dir.path());
    let started = Instant::now();
    loop {
        if let Some(status) = server.wait_exit(Duration::ZERO) {
            panic!("ukport run redis exited ({status})\n{}", server.logs());
        }
        assert!(
            started.elapsed() < START_TIMEOUT,
            "redis did not answer on {} within {START_TIMEOUT:?}\n{}",
            ns.guest_ip,
            server.logs()
        );
        let mut ping = ns.command(require_tool("redis-cli"));
        ping.args(["-h", &ns.guest_ip, "ping"]);
        if text(&run_command(ping, Duration::from_secs(10)).stdout).trim() == "PONG" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let rates = benchmark_500_clients(
        ns.command(require_tool("redis-benchmark")),
        &ns.guest_ip,
        6379,
    );
    eprintln!("redis over tap: 500 clients -P 16: {rates:?}");
    drop(server);
}

/// The value of `field` in an INFO reply (`field:value` lines).
fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let info = text(c.cmds(&format!("INFO {section}")).unwrap().bulk());
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .to_string()
}

/// Waits until the background child of a BGSAVE or BGREWRITEAOF (`in_progress`, an
/// INFO persistence field) is done, sending INCR `counter` between looks: the server
/// must answer, and every reply must be the next count. Returns how many INCRs were
/// answered while the child was running, and the counter's last value.
fn answer_while_child_runs(
    c: &mut Conn,
    in_progress: &str,
    mut count: i64,
    logs: &dyn Fn() -> String,
) -> (u32, i64) {
    let t = Instant::now();
    let mut during = 0;
    loop {
        let running = info_field(c, "persistence", in_progress) == "1";
        count += 1;
        assert_eq!(
            c.cmds("INCR counter").unwrap(),
            Reply::Int(count),
            "INCR while {in_progress}\n{}",
            logs()
        );
        if !running {
            return (during, count);
        }
        during += 1;
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{in_progress} still 1 after 60 s\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The keys this test writes: `n` strings of 100-500 bytes (seeded by `seed`).
fn fill(c: &mut Conn, prefix: &str, n: usize, seed: u64) {
    for i in 0..n {
        let key = format!("{prefix}:{i}");
        let val = random_bytes(100 + (i * 53) % 400, seed + i as u64);
        assert_eq!(
            c.cmd(&[b"SET", key.as_bytes(), &val]).unwrap(),
            Reply::Simple("OK".into())
        );
    }
}

/// Checks that the keys [`fill`] wrote are there, byte-exact.
fn check(c: &mut Conn, prefix: &str, n: usize, seed: u64, logs: &dyn Fn() -> String) {
    for i in 0..n {
        let key = format!("{prefix}:{i}");
        let val = random_bytes(100 + (i * 53) % 400, seed + i as u64);
        assert_eq!(
            c.cmd(&[b"GET", key.as_bytes()]).unwrap(),
            Reply::Bulk(Some(val)),
            "{key} after a restart\n{}",
            logs()
        );
    }
}

/// `SHUTDOWN NOSAVE` (so that what the next run loads is what the background child
/// wrote, not a save at exit), and the image's exit.
fn shutdown_nosave(mut c: Conn, server: &mut Server) -> String {
    // Redis closes the connection instead of replying.
    let _ = c.cmds("SHUTDOWN NOSAVE");
    let Some(status) = server.wait_exit(Duration::from_secs(20)) else {
        panic!(
            "redis did not exit after SHUTDOWN NOSAVE\n{}",
            server.logs()
        );
    };
    let logs = server.logs();
    assert_eq!(status.code(), Some(0), "exit status {status}\n{logs}");
    logs
}

/// Redis's default persistence, which forks: BGSAVE writes the RDB in a child process
/// while the server keeps answering, a second run on the same host folder (`--root`,
/// hostfs) loads it; `appendonly yes` turned on at run time rewrites the AOF in a child,
/// BGREWRITEAOF again, and a third run with `appendonly yes` loads the AOF, keys
/// written after the rewrite included. Redis's own `rdb-key-save-delay` (microseconds
/// per key, a setting its test suite uses) keeps each child busy for about two seconds,
/// so that "while the child runs" is observed, not assumed.
#[test]
fn bgsave_and_bgrewriteaof_fork_and_later_runs_load_them() {
    persistence(&[]);
}

/// The same on kvm (QEMU, TCG here): the host folder through virtio-9p.
#[test]
fn bgsave_and_bgrewriteaof_on_kvm() {
    persistence(&["--plat", "kvm"]);
}

fn persistence(plat: &[&str]) {
    build_redis();
    let dir = TempDir::new(if plat.is_empty() {
        "redis-persist"
    } else {
        "redis-persist-kvm"
    });
    let root = redis_rootfs(&dir);
    let seed = u64::from(std::process::id());
    const N: usize = 400;

    // Run 1: fill, BGSAVE while answering, exit without saving again.
    let port = free_port();
    let (mut server, mut c, _) = start_on(plat, &dir, &root, port);
    let logs = || server.logs();
    fill(&mut c, "rdb", N, seed);
    assert_eq!(
        c.cmds("CONFIG SET rdb-key-save-delay 5000").unwrap(),
        Reply::Simple("OK".into())
    );
    let before = c.cmds("LASTSAVE").unwrap().int();
    assert_eq!(
        c.cmds("BGSAVE").unwrap(),
        Reply::Simple("Background saving started".into()),
        "{}",
        logs()
    );
    let t = Instant::now();
    let (during, _) = answer_while_child_runs(&mut c, "rdb_bgsave_in_progress", 0, &logs);
    let bgsave = t.elapsed();
    assert!(
        during > 0,
        "the BGSAVE child was never seen running\n{}",
        logs()
    );
    assert_eq!(
        info_field(&mut c, "persistence", "rdb_last_bgsave_status"),
        "ok",
        "{}",
        logs()
    );
    assert!(c.cmds("LASTSAVE").unwrap().int() >= before);
    let rdb = std::fs::read(root.join("tmp/dump.rdb")).expect("dump.rdb in the host folder");
    assert!(rdb.starts_with(b"REDIS"), "dump.rdb is not an RDB file");
    let logs1 = shutdown_nosave(c, &mut server);
    assert!(
        logs1.contains("Background saving started by pid")
            && logs1.contains("Background saving terminated with success"),
        "{logs1}"
    );
    drop(server);

    // Run 2: the RDB is loaded; then AOF on at run time (a rewrite in a child), more
    // keys, BGREWRITEAOF, more keys.
    let port = free_port();
    let (mut server, mut c, _) = start_on(plat, &dir, &root, port);
    let logs = || server.logs();
    // The child's copy was made at BGSAVE, before the first INCR.
    assert_eq!(
        c.cmds("DBSIZE").unwrap(),
        Reply::Int(N as i64),
        "{}",
        logs()
    );
    check(&mut c, "rdb", N, seed, &logs);
    assert_eq!(c.cmds("GET counter").unwrap(), Reply::Bulk(None));
    assert_eq!(c.cmds("SET counter 0").unwrap(), Reply::Simple("OK".into()));
    assert_eq!(
        c.cmds("CONFIG SET rdb-key-save-delay 5000").unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        c.cmds("CONFIG SET appendonly yes").unwrap(),
        Reply::Simple("OK".into())
    );
    let (during_on, count) = answer_while_child_runs(&mut c, "aof_rewrite_in_progress", 0, &logs);
    fill(&mut c, "aof1", N / 4, seed + 1);
    let bg = c.cmds("BGREWRITEAOF").unwrap();
    assert!(
        matches!(&bg, Reply::Simple(s) if s.starts_with("Background append only file rewriting")),
        "BGREWRITEAOF: {bg:?}\n{}",
        logs()
    );
    let t = Instant::now();
    let (during_rw, count) =
        answer_while_child_runs(&mut c, "aof_rewrite_in_progress", count, &logs);
    let rewrite = t.elapsed();
    assert!(
        during_on > 0 && during_rw > 0,
        "an AOF rewrite child was never seen running ({during_on}, {during_rw})\n{}",
        logs()
    );
    assert_eq!(
        info_field(&mut c, "persistence", "aof_last_bgrewrite_status"),
        "ok",
        "{}",
        logs()
    );
    fill(&mut c, "aof2", N / 4, seed + 2);
    assert!(
        root.join("tmp/appendonlydir").is_dir(),
        "no appendonlydir in the host folder"
    );
    let logs2 = shutdown_nosave(c, &mut server);
    assert!(
        logs2.contains("DB loaded from disk")
            && logs2.contains("Background AOF rewrite finished successfully"),
        "{logs2}"
    );
    drop(server);

    // Run 3 with `appendonly yes`: everything comes back from the AOF (its RDB
    // preamble, written by the rewrite child, and the commands appended after it).
    let conf = root.join("etc/redis/redis.conf");
    let mut text_conf = std::fs::read_to_string(&conf).unwrap();
    text_conf.push_str("appendonly yes\n");
    std::fs::write(&conf, text_conf).unwrap();
    let port = free_port();
    let (mut server, mut c, _) = start_on(plat, &dir, &root, port);
    let logs = || server.logs();
    check(&mut c, "rdb", N, seed, &logs);
    check(&mut c, "aof1", N / 4, seed + 1, &logs);
    check(&mut c, "aof2", N / 4, seed + 2, &logs);
    assert_eq!(
        c.cmds("GET counter").unwrap().bulk(),
        count.to_string().as_bytes(),
        "{}",
        logs()
    );
    let logs3 = shutdown_nosave(c, &mut server);
    assert!(logs3.contains("DB loaded from append only file"), "{logs3}");
    eprintln!(
        "redis persistence {plat:?}: BGSAVE of {N} keys (5 ms each) took {bgsave:?}, {during} INCRs \
         answered meanwhile; BGREWRITEAOF took {rewrite:?}, {during_rw} INCRs meanwhile"
    );
}
