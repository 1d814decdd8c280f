//! SQLite end to end on linuxu: the unmodified `sqlite3` shell from `recipes/sqlite.toml`,
//! built by `ukport build sqlite` and run by `ukport run sqlite --root DIR`, so that the
//! database is a file in a host folder reached through hostfs.
//!
//! One run creates the database (two tables, 10,000 rows inserted in one transaction by a
//! recursive CTE, an index, aggregates, `PRAGMA integrity_check`). A second run re-opens
//! the file and queries it (a join, GROUP BY ... ORDER BY, an index lookup whose plan is
//! printed, an UPDATE, integrity check again). Both runs are repeated by a native
//! `sqlite3` compiled with `musl-gcc -static` from the amalgamation (`sqlite3.c`,
//! `shell.c`) that the ukit build generated, with the same `-D` flags as the ukit link
//! line, in a second folder. Stdout, stderr, exit status and the final database file must
//! be byte-identical. The first run's aggregates are also checked against values computed
//! here in Rust, so the test does not rest on the native build alone.
//!
//! Two more runs switch the database to WAL with `PRAGMA mmap_size` set, so SQLite reads
//! the database through a read-only shared map while it pwrites the same file, and keeps
//! the WAL index in shared maps of the `-shm` file (stores through a map that read(2)
//! must see): the shared-map paths of the kernel's memory model (issue 8).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use uk_tests::{ensure_setup, require_tool, run_command, text, tools, TempDir};

/// A cold `ukport build sqlite` (fetch, configure, tclsh-generated amalgamation, compile
/// of the 8 MB `sqlite3.c`, and possibly the kernel) on a busy machine.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1500);
/// `musl-gcc -O2` of the amalgamation (about 45 s on an idle 2-core machine).
const NATIVE_BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// One shell run over the database (a few hundred ms).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

const ROWS: u64 = 10_000;

/// First run: schema, 10,000 rows in one transaction, index, aggregates, integrity.
/// `qty` and `price` are arithmetic functions of the id, recomputed in [`expected_create`].
const CREATE_SQL: &str = "\
CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO dept VALUES (0,'zero'),(1,'one'),(2,'two'),(3,'three'),(4,'four'),(5,'five'),(6,'six');
CREATE TABLE item(id INTEGER PRIMARY KEY, dept INTEGER NOT NULL REFERENCES dept(id),
                  qty INTEGER, price REAL, label TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000)
INSERT INTO item(id, dept, qty, price, label)
  SELECT i, i % 7, (i * 37) % 101, (i % 250) * 0.25, printf('item-%05d', i) FROM n;
COMMIT;
CREATE INDEX item_dept_qty ON item(dept, qty);
SELECT count(*), sum(id), printf('%.4f', avg(qty)), printf('%.2f', sum(price)) FROM item;
PRAGMA integrity_check;
";

/// Second run, on the re-opened file.
const QUERY_SQL: &str = "\
.mode list
.headers on
SELECT count(*) AS n, sum(id) AS s, total(qty) AS q, printf('%.6f', avg(price)) AS avg_price FROM item;
SELECT d.name, count(*) AS n, sum(i.qty) AS q, printf('%.3f', avg(i.price)) AS p, min(i.label) AS first
  FROM item i JOIN dept d ON d.id = i.dept
  GROUP BY d.name ORDER BY q DESC, d.name;
SELECT label FROM item WHERE dept = 3 AND qty BETWEEN 10 AND 12 ORDER BY id LIMIT 5;
EXPLAIN QUERY PLAN SELECT * FROM item WHERE dept = 3 AND qty = 11;
UPDATE item SET qty = qty + 1 WHERE id % 1000 = 0;
SELECT group_concat(qty, ',') FROM (SELECT qty FROM item WHERE id % 1000 = 0 ORDER BY id);
SELECT sqlite_version();
PRAGMA integrity_check;
PRAGMA journal_mode;
";

/// Third run: WAL and memory-mapped I/O, writes through both.
const WAL_SQL: &str = "\
PRAGMA mmap_size=268435456;
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 10001 UNION ALL SELECT i+1 FROM n WHERE i < 15000)
INSERT INTO item(id, dept, qty, price, label)
  SELECT i, i % 7, (i * 41) % 97, (i % 100) * 0.5, printf('wal-%05d', i) FROM n;
COMMIT;
UPDATE item SET label = label || '+' WHERE id % 250 = 0;
DELETE FROM item WHERE id % 333 = 0;
SELECT count(*), sum(id), total(qty) FROM item;
SELECT label FROM item WHERE id IN (250, 12500, 14999) ORDER BY id;
PRAGMA wal_checkpoint(PASSIVE);
INSERT INTO dept VALUES (7, 'seven');
SELECT count(*) FROM dept;
PRAGMA integrity_check;
PRAGMA journal_mode;
";

/// Fourth run: a fresh image reads the WAL database through a map.
const WAL_QUERY_SQL: &str = "\
PRAGMA mmap_size=268435456;
SELECT count(*), sum(id), total(qty) FROM item;
SELECT d.name, count(*) FROM item i JOIN dept d ON d.id = i.dept GROUP BY d.name ORDER BY d.name;
SELECT 'dept 7 is ' || name FROM dept WHERE id = 7;
PRAGMA integrity_check;
PRAGMA journal_mode;
";

/// The cache `ukport` uses (same rule as the toolchain's `paths::cache_dir`).
fn cache_dir() -> PathBuf {
    uk_tests::ukit_cache()
}

/// `version = "..."` of the recipe, which names its build tree (`build/<name>-<version>`).
fn recipe_version() -> String {
    let path = uk_tests::repo_root().join("recipes/sqlite.toml");
    let toml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml.lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no top-level version in {}", path.display()))
        .to_string()
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The first run's output line, computed here: count, sum of ids, average qty to 4
/// places, total price to 2 places, then the integrity check's `ok`.
fn expected_create() -> String {
    let qty_sum: u64 = (1..=ROWS).map(|i| (i * 37) % 101).sum();
    // price = (i % 250) * 0.25: sum in quarters, exact in integers.
    let quarters: u64 = (1..=ROWS).map(|i| i % 250).sum();
    let avg_qty = qty_sum as f64 / ROWS as f64;
    format!(
        "{ROWS}|{}|{avg_qty:.4}|{}.{:02}\nok\n",
        ROWS * (ROWS + 1) / 2,
        quarters / 4,
        (quarters % 4) * 25
    )
}

/// Compiles the generated amalgamation natively with the `-D` flags of the ukit link line
/// (taken from the build log, so both binaries have the same SQLite configuration).
fn build_native(tree: &Path, out: &Path) {
    let log_path = tree
        .parent()
        .expect("build tree has a parent")
        .join("build.log");
    let log = std::fs::read_to_string(&log_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", log_path.display()));
    let link = log
        .lines()
        .rev()
        .find(|l| l.contains("-o sqlite3 shell.c sqlite3.c"))
        .unwrap_or_else(|| panic!("no sqlite3 link line in {}", log_path.display()));
    let defines: Vec<&str> = link
        .split_whitespace()
        .filter(|w| w.starts_with("-D"))
        .collect();
    assert!(
        defines.contains(&"-DSQLITE_THREADSAFE=1"),
        "the ukit build is expected to use the default (threadsafe) configuration: {link}"
    );
    let mut cmd = Command::new(require_tool("musl-gcc"));
    cmd.args(["-static", "-O2"])
        .args(&defines)
        .arg("-I")
        .arg(tree)
        .arg("-o")
        .arg(out)
        .arg(tree.join("shell.c"))
        .arg(tree.join("sqlite3.c"))
        .arg("-lm");
    ok(
        "musl-gcc of the sqlite amalgamation",
        &run_command(cmd, NATIVE_BUILD_TIMEOUT),
    );
}

/// Writes both scripts into `root` (the folder that is `/` for the ukit run and the
/// working folder for the native one).
fn fill_root(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("create.sql"), CREATE_SQL).unwrap();
    std::fs::write(root.join("query.sql"), QUERY_SQL).unwrap();
    std::fs::write(root.join("wal.sql"), WAL_SQL).unwrap();
    std::fs::write(root.join("walquery.sql"), WAL_QUERY_SQL).unwrap();
}

fn run_ukit(root: &Path, script: &str) -> Output {
    let mut cmd = Command::new(&tools().ukport);
    cmd.args(["run", "sqlite", "--root"]).arg(root).args([
        "--",
        "/data.db",
        &format!(".read /{script}"),
    ]);
    run_command(cmd, RUN_TIMEOUT)
}

fn run_native(bin: &Path, root: &Path, script: &str) -> Output {
    let mut cmd = Command::new(bin);
    cmd.current_dir(root)
        .args(["data.db", &format!(".read {script}")]);
    run_command(cmd, RUN_TIMEOUT)
}

fn same(what: &str, uk: &Output, native: &Output) {
    assert_eq!(
        uk.status.code(),
        native.status.code(),
        "{what}: exit status differs (ukit stderr: {})",
        text(&uk.stderr)
    );
    assert_eq!(
        text(&uk.stdout),
        text(&native.stdout),
        "{what}: stdout differs"
    );
    assert_eq!(
        text(&uk.stderr),
        text(&native.stderr),
        "{what}: stderr differs"
    );
}

#[test]
fn sqlite_database_on_hostfs_matches_native() {
    ensure_setup();
    let mut build = Command::new(&tools().ukport);
    build.args(["build", "sqlite"]);
    ok("ukport build sqlite", &run_command(build, BUILD_TIMEOUT));

    let tree = cache_dir()
        .join("build")
        .join(format!("sqlite-{}", recipe_version()))
        .join("src");
    assert!(
        tree.join("sqlite3.c").is_file() && tree.join("shell.c").is_file(),
        "the generated amalgamation is missing from {} after `ukport build sqlite`",
        tree.display()
    );

    let tmp = TempDir::new("sqlite");
    let native = tmp.join("native-sqlite3");
    build_native(&tree, &native);
    let (uk_root, native_root) = (tmp.join("uk"), tmp.join("native"));
    fill_root(&uk_root);
    fill_root(&native_root);

    // Run 1: create and fill the database file.
    let uk1 = run_ukit(&uk_root, "create.sql");
    ok("ukit sqlite3 (create)", &uk1);
    assert_eq!(
        text(&uk1.stdout),
        expected_create(),
        "create run: aggregates"
    );
    let n1 = run_native(&native, &native_root, "create.sql");
    same("create run", &uk1, &n1);
    let db = uk_root.join("data.db");
    let size = std::fs::metadata(&db)
        .unwrap_or_else(|e| panic!("the ukit run left no {}: {e}", db.display()))
        .len();
    assert!(size > 100 * 1024, "data.db is only {size} bytes");

    // Run 2: a fresh image re-opens the file written by run 1 and queries it.
    let uk2 = run_ukit(&uk_root, "query.sql");
    ok("ukit sqlite3 (query)", &uk2);
    let out2 = text(&uk2.stdout);
    assert!(
        out2.starts_with(&format!(
            "n|s|q|avg_price\n{ROWS}|{}|",
            ROWS * (ROWS + 1) / 2
        )),
        "the second run did not see the first run's rows:\n{out2}"
    );
    assert!(
        out2.contains("USING INDEX item_dept_qty"),
        "index not used:\n{out2}"
    );
    let n2 = run_native(&native, &native_root, "query.sql");
    same("query run", &uk2, &n2);

    // The same SQL through the same SQLite code leaves the same bytes on disk.
    let (a, b) = (
        std::fs::read(&db).unwrap(),
        std::fs::read(native_root.join("data.db")).unwrap(),
    );
    assert!(
        a == b,
        "database files differ ({} vs {} bytes)",
        a.len(),
        b.len()
    );
    for j in ["data.db-journal", "data.db-wal"] {
        assert!(!uk_root.join(j).exists(), "{j} left behind by the ukit run");
    }

    // Runs 3 and 4: WAL with memory-mapped I/O.
    let uk3 = run_ukit(&uk_root, "wal.sql");
    ok("ukit sqlite3 (wal)", &uk3);
    let out3 = text(&uk3.stdout);
    assert!(
        out3.ends_with("8\nok\nwal\n") && out3.starts_with("268435456\nwal\n"),
        "the WAL run did not map and commit:\n{out3}"
    );
    let n3 = run_native(&native, &native_root, "wal.sql");
    same("wal run", &uk3, &n3);
    let uk4 = run_ukit(&uk_root, "walquery.sql");
    ok("ukit sqlite3 (wal query)", &uk4);
    let n4 = run_native(&native, &native_root, "walquery.sql");
    same("wal query run", &uk4, &n4);
    assert!(
        text(&uk4.stdout).contains("dept 7 is seven\n"),
        "the fresh image did not see the WAL run's commits:\n{}",
        text(&uk4.stdout)
    );
    let (a, b) = (
        std::fs::read(&db).unwrap(),
        std::fs::read(native_root.join("data.db")).unwrap(),
    );
    assert!(
        a == b,
        "WAL database files differ ({} vs {} bytes)",
        a.len(),
        b.len()
    );
}
