//! Shared fixtures for the CLI tests: seed-shaped app data, a sandboxed `lifeboat`
//! (its own config and data dir, nothing under `~`), and checks on backup folders.

// Each `tests/cli_*.rs` binary uses only some of these helpers.
#![allow(dead_code)]

pub mod real;
pub mod s3;
pub mod scale;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use rusqlite::Connection;

pub const APP_DIR: &str = "DrumGen Scorer";
pub const DB_NAME: &str = "drumgen.db";
/// Rows of `test_results`: the first [`ROWS_IN_MAIN_FILE`] are checkpointed into the
/// main file, the rest exist only in the `-wal`.
pub const DB_ROWS: i64 = 241;
pub const ROWS_IN_MAIN_FILE: i64 = 200;
pub const AUDIO_FILES: usize = 240;
pub const ILLUGEN_FILES: usize = 727;
pub const ILLUGEN_DIRS: usize = 242;
/// The seed's includes.
pub const SEED_INCLUDES: [&str; 3] = [DB_NAME, "audio_files", "illugen_audio"];
/// Names with spaces and accents placed in the fixture.
pub const ACCENTED_DIR: &str = "illugen_audio/Café Noir";
pub const ACCENTED_FILE: &str = "illugen_audio/Café Noir/niño.wav";
pub const SPACED_AUDIO: &str = "audio_files/kick 01.wav";
pub const ACCENTED_AUDIO: &str = "audio_files/caja añeja.wav";

/// The app's data, shaped like the seed's: a WAL-mode `drumgen.db` whose last rows are
/// still in the `-wal` (held there by `conn`, which must stay open), 240 WAV files in
/// `audio_files/`, 727 files in 242 folders in `illugen_audio/`.
pub struct SeedApp {
    /// `<root>/DrumGen Scorer`
    pub dir: PathBuf,
    /// The app's own connection: keeps the `-wal` alive (autocheckpoint off).
    pub conn: Connection,
}

impl SeedApp {
    pub fn create(root: &Path) -> SeedApp {
        let dir = root.join(APP_DIR);
        fs::create_dir_all(&dir).unwrap();
        let conn = create_db(&dir.join(DB_NAME));

        let audio = dir.join("audio_files");
        fs::create_dir_all(&audio).unwrap();
        for i in 0..AUDIO_FILES - 2 {
            write_wav(&audio.join(format!("drum_{i:04}.wav")), i as u64, 200 + (i * 37) % 1800);
        }
        write_wav(&dir.join(SPACED_AUDIO), 9001, 700);
        write_wav(&dir.join(ACCENTED_AUDIO), 9002, 900);

        // 121 note folders, each with one nested folder: 242 folders; 3 files in each,
        // plus niño.wav: 727 files.
        let illugen = dir.join("illugen_audio");
        let mut seed = 10_000u64;
        for n in 0..ILLUGEN_DIRS / 2 {
            let (note, nested) = if n == 0 {
                (dir.join(ACCENTED_DIR), "pistas de sesión".to_string())
            } else {
                (illugen.join(format!("note_{n:03}")), "attachments".to_string())
            };
            for folder in [note.clone(), note.join(nested)] {
                fs::create_dir_all(&folder).unwrap();
                for k in 0..3 {
                    seed += 1;
                    write_wav(&folder.join(format!("clip {k}.wav")), seed, 64 + (seed as usize % 600));
                }
            }
        }
        write_wav(&dir.join(ACCENTED_FILE), 424_242, 512);
        SeedApp { dir, conn }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join(DB_NAME)
    }

    pub fn wal(&self) -> PathBuf {
        self.dir.join(format!("{DB_NAME}-wal"))
    }

    /// Adds `files` files of `size` bytes under `<dir>/<name>/`, 30 to a folder.
    pub fn add_bulk(&self, name: &str, files: usize, size: usize) -> PathBuf {
        let bulk = self.dir.join(name);
        write_bulk(&bulk, files, size, 0);
        bulk
    }
}

fn create_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint=0;
         CREATE TABLE test_results(id INTEGER PRIMARY KEY, prompt TEXT, score REAL, created_at TEXT);",
    )
    .unwrap();
    insert_results(&conn, 0, ROWS_IN_MAIN_FILE);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    insert_results(&conn, ROWS_IN_MAIN_FILE, DB_ROWS);
    conn
}

fn insert_results(conn: &Connection, from: i64, to: i64) {
    let tx = conn.unchecked_transaction().unwrap();
    for i in from..to {
        tx.execute(
            "INSERT INTO test_results(prompt, score, created_at) VALUES (?1, ?2, ?3)",
            (
                format!("punchy 808 kick with tape saturation, take {i}"),
                (i % 100) as f64 / 10.0,
                format!("2025-12-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
            ),
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// A small but valid-looking 16-bit mono PCM WAV: 44-byte RIFF header, then `data_len` bytes.
pub fn write_wav(path: &Path, seed: u64, data_len: usize) {
    let mut b = Vec::with_capacity(44 + data_len);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&44_100u32.to_le_bytes());
    b.extend_from_slice(&88_200u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data_len as u32).to_le_bytes());
    b.extend_from_slice(&pseudo_random(seed, data_len));
    fs::write(path, b).unwrap();
}

/// Deterministic bytes that do not compress or deduplicate.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `files` files of `size` bytes under `dir`, 30 to a folder; `generation`
/// changes their content.
pub fn write_bulk(dir: &Path, files: usize, size: usize, generation: u64) {
    for i in 0..files {
        let folder = dir.join(format!("session {:03}", i / 30));
        if i % 30 == 0 {
            fs::create_dir_all(&folder).unwrap();
        }
        let seed = (i as u64) << 16 | generation;
        fs::write(folder.join(format!("take_{i:05}.bin")), pseudo_random(seed, size)).unwrap();
    }
}

/// Rewrites every `step`-th file written by [`write_bulk`] (starting at `offset`) with new content.
pub fn rewrite_bulk(dir: &Path, files: usize, size: usize, generation: u64, step: usize, offset: usize) {
    for i in (offset..files).step_by(step) {
        let path = dir.join(format!("session {:03}/take_{i:05}.bin", i / 30));
        let seed = (i as u64) << 16 | generation;
        fs::write(path, pseudo_random(seed, size + (generation as usize % 7))).unwrap();
    }
}

/// A `lifeboat` confined to a temporary folder: `--config <tmp>/config.toml`,
/// `LIFEBOAT_DATA_DIR=<tmp>/data`, and `HOME`/XDG dirs inside the folder too.
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new().prefix("lifeboat-cli-").tempdir().unwrap();
        let config = tmp.path().join("config.toml");
        let data = tmp.path().join("data");
        fs::create_dir_all(tmp.path().join("home")).unwrap();
        Sandbox { tmp, config, data }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn bin() -> PathBuf {
        assert_cmd::cargo::cargo_bin("lifeboat")
    }

    /// `lifeboat --config <config>` with the sandbox's environment; add the command.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("lifeboat").unwrap();
        self.confine(&mut c);
        c.arg("--config").arg(&self.config);
        c
    }

    fn confine(&self, c: &mut Command) {
        let home = self.root().join("home");
        c.env("LIFEBOAT_DATA_DIR", &self.data)
            .env_remove("LIFEBOAT_CONFIG")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts success, showing stderr when it fails.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "lifeboat {args:?} failed: {}", describe(&out));
        out
    }

    /// `lifeboat init --source SOURCE --dest DEST --include ...` plus `extra` arguments.
    pub fn init(&self, source: &Path, dest: &Path, include: &[&str], extra: &[&str]) -> Output {
        let mut c = self.cmd();
        c.arg("init").arg("--source").arg(source).arg("--dest").arg(dest);
        for item in include {
            c.arg("--include").arg(item);
        }
        c.args(extra).output().unwrap()
    }

    pub fn init_ok(&self, source: &Path, dest: &Path, include: &[&str], extra: &[&str]) {
        let out = self.init(source, dest, include, extra);
        assert!(out.status.success(), "lifeboat init failed: {}", describe(&out));
    }

    /// Writes a config with one profile by hand (not through `init`).
    pub fn write_config(&self, name: &str, source: &Path, include: &[&str], dest: &Path, keep: i64) {
        self.write_profiles(&[profile_toml(name, source, include, dest, keep)]);
    }

    /// Writes a config holding these `[[profile]]` tables.
    pub fn write_profiles(&self, profiles: &[toml::Table]) {
        let mut doc = toml::Table::new();
        doc.insert("profile".into(), toml::Value::Array(profiles.iter().cloned().map(toml::Value::Table).collect()));
        fs::write(&self.config, toml::to_string(&doc).unwrap()).unwrap();
    }

    /// Runs `lifeboat backup` and returns the name of the one new `backup_*` folder.
    pub fn backup_ok(&self, dest: &Path) -> String {
        let before = complete_backups(dest);
        self.run_ok(&["backup"]);
        let after = complete_backups(dest);
        let new: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
        assert_eq!(new.len(), 1, "one new backup expected; before {before:?}, after {after:?}");
        new[0].clone()
    }

    /// Runs the binary as user `nobody` through `setpriv`, with the sandbox handed to that
    /// user; `None` when that is not possible here (not root, or no `setpriv`).
    pub fn run_as_nobody(&self, args: &[&str]) -> Option<Output> {
        if !is_root() || !have_setpriv() {
            return None;
        }
        // The binary may sit under a folder `nobody` cannot enter: use a copy in the sandbox.
        let bin = self.root().join("lifeboat-bin");
        if !bin.exists() {
            fs::copy(Self::bin(), &bin).unwrap();
            fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&bin);
        self.confine(&mut c);
        c.arg("--config").arg(&self.config).args(args);
        Some(c.output().unwrap())
    }

    /// Gives the whole sandbox to `nobody` (uid/gid 65534) and lets it in.
    pub fn hand_to_nobody(&self) {
        fs::set_permissions(self.root(), fs::Permissions::from_mode(0o755)).unwrap();
        let status = Command::new("chown").args(["-R", "65534:65534"]).arg(self.root()).status().unwrap();
        assert!(status.success(), "chown -R nobody failed");
    }
}

/// One `[[profile]]` table, as a person would write it.
pub fn profile_toml(name: &str, source: &Path, include: &[&str], dest: &Path, keep: i64) -> toml::Table {
    let mut profile = toml::Table::new();
    profile.insert("name".into(), name.into());
    profile.insert("source".into(), source.to_str().unwrap().into());
    profile.insert("include".into(), toml::Value::Array(include.iter().map(|i| toml::Value::from(*i)).collect()));
    profile.insert("destination".into(), dest.to_str().unwrap().into());
    profile.insert("every_hours".into(), 12.into());
    profile.insert("keep".into(), keep.into());
    profile
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A failed run with a one-line error on stderr that contains every one of `must` and
/// at least one of `any_cause` (case-insensitive). Returns the line.
pub fn assert_clear_error(out: &Output, must: &[&str], any_cause: &[&str]) -> String {
    assert!(!out.status.success(), "expected a failure: {}", describe(out));
    assert_ne!(out.status.code(), None, "killed by a signal: {}", describe(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "stderr should be one line: {}", describe(out));
    let line = lines[0].to_string();
    for m in must {
        assert!(line.contains(m), "stderr does not name {m:?}: {line}");
    }
    eprintln!("lifeboat said: {line}");
    let lower = line.to_lowercase();
    assert!(
        any_cause.iter().any(|c| lower.contains(&c.to_lowercase())),
        "stderr gives none of the causes {any_cause:?}: {line}"
    );
    line
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub fn have_setpriv() -> bool {
    Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `backup_YYYY-MM-DD_HH-MM-SS`, optionally with a `-N` suffix (two in one second).
pub fn is_backup_name(name: &str, allow_suffix: bool) -> bool {
    let Some(rest) = name.strip_prefix("backup_") else { return false };
    if rest.len() < 19 || !rest.is_char_boundary(19) {
        return false;
    }
    let (stamp, suffix) = rest.split_at(19);
    let stamp_ok = stamp.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 | 13 | 16 => b == b'-',
        10 => b == b'_',
        _ => b.is_ascii_digit(),
    });
    let suffix_ok = suffix.is_empty()
        || (allow_suffix
            && suffix.len() > 1
            && suffix.starts_with('-')
            && suffix[1..].bytes().all(|b| b.is_ascii_digit()));
    stamp_ok && suffix_ok
}

/// Names of the entries of `dir` (empty when it does not exist), sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<String> = rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Every `backup_*` entry of the destination, complete or not.
pub fn backup_folders(dest: &Path) -> Vec<String> {
    entries(dest).into_iter().filter(|n| n.starts_with("backup_")).collect()
}

/// `backup_*` folders with a time-stamped name and a manifest.
pub fn complete_backups(dest: &Path) -> Vec<String> {
    backup_folders(dest)
        .into_iter()
        .filter(|n| is_backup_name(n, true) && dest.join(n).join("manifest.json").is_file())
        .collect()
}

/// Staging or half-deleted leftovers in the destination.
pub fn leftovers(dest: &Path) -> Vec<String> {
    entries(dest).into_iter().filter(|n| n.contains(".partial") || n.contains(".deleting")).collect()
}

/// Leftovers other than safety snapshots rotation set aside (`.pre-restore_*.deleting`):
/// a restore leaves those for the next backup to delete.
pub fn unfinished(dest: &Path) -> Vec<String> {
    leftovers(dest).into_iter().filter(|n| !(n.starts_with(".pre-restore_") && n.ends_with(".deleting"))).collect()
}

/// After a refused or failed run: no `backup_*` and no staging folder in `dest`.
pub fn assert_nothing_written(dest: &Path) {
    assert_eq!(backup_folders(dest), Vec::<String>::new(), "backup folders in {}", dest.display());
    assert_eq!(leftovers(dest), Vec::<String>::new(), "leftovers in {}", dest.display());
}

pub fn blake3_file(path: &Path) -> String {
    let mut h = blake3::Hasher::new();
    let mut f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    h.finalize().to_hex().to_string()
}

/// Every entry below `dir` (links never followed) by its relative path in raw bytes:
/// "link -> target" for a symlink, "dir" for a folder, and for anything else what
/// `file` says (`None` leaves the entry out). The walk the tree digests share.
pub fn walk_tree(dir: &Path, mut file: impl FnMut(&walkdir::DirEntry) -> Option<String>) -> BTreeMap<Vec<u8>, String> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).follow_links(false) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(dir).unwrap().as_os_str().as_bytes().to_vec();
        let ft = entry.file_type();
        let v = if ft.is_symlink() {
            Some(format!("link -> {}", fs::read_link(entry.path()).unwrap().display()))
        } else if ft.is_dir() {
            Some("dir".to_string())
        } else {
            file(&entry)
        };
        if let Some(v) = v {
            out.insert(rel, v);
        }
    }
    out
}

/// Every entry below `dir` by relative path (with `/`): a file's BLAKE3, "dir" for a
/// folder, "link -> target" for a symlink. Panics on a name that is not UTF-8.
pub fn tree_digest(dir: &Path) -> BTreeMap<String, String> {
    walk_tree(dir, |e| Some(blake3_file(e.path())))
        .into_iter()
        .map(|(rel, v)| (String::from_utf8(rel).expect("UTF-8 name"), v))
        .collect()
}

/// Files and folders below `dir` (not counting `dir`).
pub fn count_files_and_dirs(dir: &Path) -> (usize, usize) {
    let (mut files, mut dirs) = (0, 0);
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.unwrap();
        if entry.file_type().is_dir() {
            dirs += 1;
        } else if entry.file_type().is_file() {
            files += 1;
        }
    }
    (files, dirs)
}

/// Row count of a live database (opened normally, so its `-wal` counts).
pub fn row_count(db: &Path, table: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap()
}

/// Opens a copy of the database file alone (no `-wal`, no `-shm`) in a scratch folder, so
/// a backup folder is never touched by SQLite and only the main file counts.
pub fn with_file_copy<T>(db: &Path, f: impl FnOnce(&Connection) -> T) -> T {
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy.db");
    fs::copy(db, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", db.display()));
    let conn = Connection::open(&copy).unwrap();
    f(&conn)
}

/// Row count of the database file alone.
pub fn file_row_count(db: &Path, table: &str) -> i64 {
    with_file_copy(db, |c| c.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap())
}

/// `PRAGMA integrity_check` of the database file alone.
pub fn file_integrity(db: &Path) -> String {
    with_file_copy(db, |c| {
        let mut st = c.prepare("PRAGMA integrity_check").unwrap();
        let rows: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        rows.join("; ")
    })
}

pub fn read_manifest(backup: &Path) -> serde_json::Value {
    let path = backup.join("manifest.json");
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The manifest's entries by relative path.
pub fn manifest_entries(manifest: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    manifest["files"]
        .as_array()
        .expect("manifest has a files array")
        .iter()
        .map(|f| (f["path"].as_str().expect("entry has a path").to_string(), f.clone()))
        .collect()
}

/// A backup is complete when its manifest parses and every listed entry exists as the
/// kind listed, files with the listed size. Returns the number of files checked.
pub fn assert_backup_complete(backup: &Path) -> usize {
    let manifest = read_manifest(backup);
    let mut files = 0;
    for (rel, entry) in manifest_entries(&manifest) {
        let path = backup.join(&rel);
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{} lists {rel} but: {e}", backup.display()));
        match entry["kind"].as_str() {
            Some("dir") => assert!(meta.is_dir(), "{rel} should be a folder"),
            Some("symlink") => assert!(meta.file_type().is_symlink(), "{rel} should be a symlink"),
            Some("database") => assert!(meta.is_file(), "{rel} should be a file"),
            _ => {
                assert!(meta.is_file(), "{rel} should be a file in {}", backup.display());
                let size = entry["size"].as_u64().expect("file entry has a size");
                assert_eq!(meta.len(), size, "size of {rel} in {}", backup.display());
                files += 1;
            }
        }
    }
    files
}

/// Checks every file and database against the BLAKE3 in the manifest; `seen` caches
/// hashes by inode, so hard-linked copies are read once.
pub fn assert_backup_hashes(backup: &Path, seen: &mut HashMap<(u64, u64), String>) {
    assert_backup_complete(backup);
    let manifest = read_manifest(backup);
    for (rel, entry) in manifest_entries(&manifest) {
        let Some(expected) = entry["blake3"].as_str() else { continue };
        let path = backup.join(&rel);
        let meta = fs::metadata(&path).unwrap();
        let got = seen.entry((meta.dev(), meta.ino())).or_insert_with(|| blake3_file(&path)).clone();
        assert_eq!(got, expected, "BLAKE3 of {rel} in {}", backup.display());
    }
}

pub fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).ino()
}

/// The array of backups in `list --json` output: either the document itself or its
/// `backups` field.
pub fn json_backup_list(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    if let Some(a) = doc.as_array() {
        return a.clone();
    }
    doc["backups"].as_array().unwrap_or_else(|| panic!("no list of backups in {doc}")).clone()
}

pub fn parse_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", describe(out)))
}

/// Waits for `child` at most `limit`; kills it and panics past that.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` (with piped output) at most `limit` and collects its output.
pub fn output_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stdout.as_mut() {
            std::io::Read::read_to_end(s, &mut v).unwrap();
        }
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            std::io::Read::read_to_end(s, &mut v).unwrap();
        }
        v
    });
    let status = wait_or_kill(&mut child, limit, what);
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// A filesystem mounted for one test, unmounted (lazily) when dropped.
pub struct Mount {
    pub path: PathBuf,
}

impl Mount {
    /// `mount -t tmpfs -o <options> tmpfs <path>`; needs root.
    pub fn tmpfs(path: &Path, options: &str) -> Mount {
        fs::create_dir_all(path).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(path).output().unwrap();
        assert!(out.status.success(), "mount tmpfs on {}: {}", path.display(), describe(&out));
        Mount { path: path.to_path_buf() }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Appends bytes to a file (changes its size and mtime).
pub fn append(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Another WAL-mode database with all `rows` rows of `table` still in its `-wal`, held
/// there by the returned connection.
pub fn wal_db(path: &Path, table: &str, rows: i64) -> Connection {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(&format!(
        "PRAGMA wal_autocheckpoint=0;
         CREATE TABLE \"{table}\"(id INTEGER PRIMARY KEY, note TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO \"{table}\"(note) SELECT 'note ' || i FROM n;"
    ))
    .unwrap();
    conn
}
