//! Helpers for the tests at scale (issue 9's "proof at scale"): a light app fixture that
//! a hundred runs fit in, a replayable seeded generator, the checks made after every
//! interrupted or failed run, and free space on a small filesystem.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use super::{blake3_file, describe, entries, pseudo_random, with_file_copy, Sandbox};

/// The light app's database and its table.
pub const LIGHT_DB: &str = "app.db";
pub const LIGHT_TABLE: &str = "takes";
/// The light app's folder items.
pub const LIGHT_FOLDERS: [&str; 2] = ["media", "notes"];
/// Everything the light app's profile includes.
pub const LIGHT_INCLUDES: [&str; 3] = [LIGHT_DB, "media", "notes"];

/// Notes in `notes/` and ideas in `notes/drafts/`.
const NOTES: usize = 40;

/// A small app, so a hundred runs fit in a couple of minutes: a WAL-mode database whose
/// newest rows are still in its `-wal` (held there by `conn`), `media/` with `media`
/// files of 1-8 KiB in folders of 25, and `notes/` with 80 small text files, half of
/// them in a nested folder.
pub struct LightApp {
    pub dir: PathBuf,
    pub conn: Connection,
    pub media: usize,
}

impl LightApp {
    pub fn create(root: &Path, media: usize) -> LightApp {
        let dir = root.join("Light App");
        fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(dir.join(LIGHT_DB)).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint=0;
             CREATE TABLE {LIGHT_TABLE}(id INTEGER PRIMARY KEY, note TEXT, score REAL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
             INSERT INTO {LIGHT_TABLE}(note, score) SELECT 'take ' || i || ' with tape hiss', i % 97 FROM n;
             PRAGMA wal_checkpoint(TRUNCATE);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO {LIGHT_TABLE}(note, score) SELECT 'late take ' || i, -i FROM n;"
        ))
        .unwrap();
        let app = LightApp { dir, conn, media };
        for i in 0..media {
            app.write_media(i, 0);
        }
        let notes = app.dir.join("notes");
        fs::create_dir_all(notes.join("drafts")).unwrap();
        for i in 0..NOTES {
            fs::write(notes.join(format!("note {i:02}.txt")), format!("note {i}\n").repeat(40 + i)).unwrap();
            fs::write(notes.join(format!("drafts/idea {i:02}.txt")), format!("a groove in {i}/8")).unwrap();
        }
        app
    }

    pub fn media_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("media/set {:02}/clip_{i:04}.bin", i / 25))
    }

    /// Writes media file `i` with content of `generation`.
    pub fn write_media(&self, i: usize, generation: u64) {
        let path = self.media_path(i);
        if i.is_multiple_of(25) {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
        }
        let len = 1024 + (i * 997 + generation as usize * 131) % (7 * 1024);
        fs::write(path, pseudo_random((i as u64) << 20 | generation, len)).unwrap();
    }

    /// Changes the app as a user would between runs: a tenth of the media rewritten, one
    /// media file and one note deleted or brought back, a note added, rows added and deleted.
    pub fn mutate(&self, round: u64) {
        let generation = round + 1;
        for i in (round as usize % 10..self.media).step_by(10) {
            self.write_media(i, generation);
        }
        let victim = self.media_path((round as usize * 7) % self.media);
        if victim.exists() {
            fs::remove_file(&victim).unwrap();
        } else {
            self.write_media((round as usize * 7) % self.media, generation);
        }
        fs::write(self.dir.join(format!("notes/round {round}.txt")), format!("round {round}\n")).unwrap();
        let old_note = self.dir.join(format!("notes/note {:02}.txt", round as usize % NOTES));
        if old_note.exists() {
            fs::remove_file(old_note).unwrap();
        }
        self.conn
            .execute_batch(&format!(
                "DELETE FROM {LIGHT_TABLE} WHERE id % 13 = {};
                 INSERT INTO {LIGHT_TABLE}(note, score) VALUES ('round {round}', {round});",
                round % 13
            ))
            .unwrap();
    }
}

/// Every row of a live database, as another program opening it sees it.
pub fn rows_of(conn: &Connection) -> Vec<String> {
    let mut st = conn.prepare(&format!("SELECT id, note, score FROM {LIGHT_TABLE} ORDER BY id")).unwrap();
    let rows = st
        .query_map([], |r| Ok(format!("{}|{}|{}", r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, f64>(2)?)))
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Rows of the live database at `db` (a new connection, so a hot `-wal` is recovered).
pub fn live_rows(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    rows_of(&conn)
}

/// Rows of a database copy inside a backup, read from a scratch copy.
pub fn backup_rows(db: &Path) -> Vec<String> {
    with_file_copy(db, rows_of)
}

/// `PRAGMA integrity_check` of a live database.
pub fn live_integrity(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut st = conn.prepare("PRAGMA integrity_check").unwrap();
    let rows: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    rows.join("; ")
}

/// Every entry below `dir` by relative path (raw bytes, lossy): a file's BLAKE3 with its
/// inode, size, mtime and ctime, "dir", or "link -> target".
///
/// A database and its `-wal`/`-journal` are only looked at (`stat`), never opened: this
/// process holds the app's connection, and closing any other descriptor of those files
/// here would drop its POSIX locks, so another program could take itself for the last
/// user and checkpoint the `-wal` away under it. A write still shows in the mtime. Their
/// ctime is left out: SQLite running as root `fchown`s a `-wal` it opens to the
/// database's owner, which moves the ctime and changes nothing. SQLite's `-shm` index is
/// left out too: readers write their read marks into it.
pub fn source_digest(dir: &Path) -> BTreeMap<String, String> {
    let digest = super::walk_tree(dir, |entry| {
        let name = entry.file_name().to_string_lossy();
        if name.ends_with("-shm") {
            return None;
        }
        let m = fs::symlink_metadata(entry.path()).unwrap();
        let stat = format!("{} {} {}.{}", m.ino(), m.len(), m.mtime(), m.mtime_nsec());
        Some(if [".db", ".db-wal", ".db-journal"].iter().any(|s| name.ends_with(s)) {
            stat
        } else {
            format!("{stat} {}.{} {}", m.ctime(), m.ctime_nsec(), blake3_file(entry.path()))
        })
    });
    digest.into_iter().map(|(rel, v)| (String::from_utf8_lossy(&rel).into_owned(), v)).collect()
}

/// Everything below `root` except the trees in `skip`: type, inode, size, mtime and
/// content (or link target), so any write, replacement or new entry there shows.
pub fn snapshot_except(root: &Path, skip: &[&Path]) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !skip.iter().any(|s| e.path() == *s));
    for e in walk {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                out.insert(b"<walk error>".to_vec(), err.to_string());
                continue;
            }
        };
        let rel = e.path().strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
        let m = fs::symlink_metadata(e.path()).unwrap();
        let what = if m.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(e.path()).unwrap().display())
        } else if m.is_file() {
            blake3_file(e.path())
        } else if m.is_dir() {
            "dir".to_string()
        } else {
            "other".to_string()
        };
        out.insert(rel, format!("{} {} {}.{} {what}", m.ino(), m.len(), m.mtime(), m.mtime_nsec()));
    }
    out
}

/// `backup_*` and `pre-restore_*` entries of a destination.
pub fn all_backups(dest: &Path) -> Vec<String> {
    entries(dest).into_iter().filter(|n| n.starts_with("backup_") || n.starts_with("pre-restore_")).collect()
}

/// Every `backup_*` and `pre-restore_*` folder has a manifest and `lifeboat verify NAME`
/// exits 0. Returns their names.
pub fn assert_all_verify(sb: &Sandbox, dest: &Path, when: &str) -> Vec<String> {
    let names = all_backups(dest);
    for name in &names {
        assert!(dest.join(name).join("manifest.json").is_file(), "{when}: {name} has no manifest: {names:?}");
        let out = sb.run(&["verify", name]);
        assert!(out.status.success(), "{when}: `lifeboat verify {name}` failed: {}", describe(&out));
    }
    names
}

/// Asserts the run did not panic: no exit code 101, no "panicked" on stderr, not killed.
pub fn assert_no_panic(out: &std::process::Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some() && out.status.code() != Some(101) && !err.contains("panicked"),
        "{what}: lifeboat panicked or died: {}",
        describe(out)
    );
}

/// A xorshift generator seeded from the environment variable `var` when set (to replay a
/// run), else from the clock; prints the seed.
pub struct SeededRng {
    state: u64,
    pub seed: u64,
}

impl SeededRng {
    pub fn from_env(var: &str, what: &str) -> SeededRng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64);
        eprintln!("{what}: seed {seed} (replay with {var}={seed})");
        SeededRng { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, seed }
    }

    pub fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }

    /// `n` values spread over `[from, to)`: one uniform pick in each of `n` equal strata,
    /// so they cover the whole range whatever the seed.
    pub fn stratified(&mut self, n: usize, from: f64, to: f64) -> Vec<f64> {
        let width = (to - from) / n as f64;
        (0..n).map(|k| from + width * (k as f64 + self.unit())).collect()
    }
}

/// Bytes free on the filesystem holding `path`, for root (`f_bfree`, reserved blocks too).
pub fn free_bytes(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    assert_eq!(rc, 0, "statvfs {}: {}", path.display(), std::io::Error::last_os_error());
    st.f_bfree as u64 * st.f_frsize as u64
}

/// Makes `filler` take space so that about `leave` bytes stay free on its filesystem:
/// allocated (not sparse) with `fallocate`, shrinking the request until it fits.
/// Returns the bytes actually left free.
pub fn fill_leaving(filler: &Path, leave: u64) -> u64 {
    use std::os::unix::io::AsRawFd;
    let f = fs::OpenOptions::new().create(true).write(true).truncate(true).open(filler).unwrap();
    f.sync_all().unwrap();
    sync_fs(filler);
    let free = free_bytes(filler);
    let mut want = free.saturating_sub(leave) & !4095;
    while want > 0 {
        // SAFETY: a valid open file descriptor.
        let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, want as libc::off_t) };
        if rc == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "fallocate {}: {err}", filler.display());
        want = want.saturating_sub(64 * 1024);
    }
    f.sync_all().unwrap();
    sync_fs(filler);
    free_bytes(filler)
}

/// `syncfs` of the filesystem holding `path`, so freed blocks are free again.
pub fn sync_fs(path: &Path) {
    let f = fs::File::open(path.parent().unwrap_or(path)).unwrap();
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid open file descriptor.
    unsafe { libc::syncfs(f.as_raw_fd()) };
}

/// The entries that differ between two maps, for short failure messages.
pub fn map_diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("{k:?} gone (was {v:?})")),
            Some(w) if w != v => out.push(format!("{k:?}: {v:?} -> {w:?}")),
            _ => {}
        }
    }
    for (k, w) in after {
        if !before.contains_key(k) {
            out.push(format!("{k:?} new: {w:?}"));
        }
    }
    out
}

/// A sandbox on a tmpfs (`/dev/shm`) when there is one with room: many runs that each
/// fsync are several times faster there, and a `kill -9` tests what a process leaves
/// behind, which does not depend on the disk. Elsewhere, the usual temporary folder.
pub fn fast_sandbox() -> Sandbox {
    let shm = Path::new("/dev/shm");
    let is_tmpfs = fs::read_to_string("/proc/mounts")
        .map(|m| m.lines().any(|l| l.split(' ').nth(1) == Some("/dev/shm") && l.split(' ').nth(2) == Some("tmpfs")))
        .unwrap_or(false);
    let room = is_tmpfs && free_bytes(shm) > 256 << 20;
    let tmp = if room { tempfile::Builder::new().prefix("lifeboat-cli-").tempdir_in(shm).ok() } else { None };
    let Some(tmp) = tmp else { return Sandbox::new() };
    let config = tmp.path().join("config.toml");
    let data = tmp.path().join("data");
    fs::create_dir_all(tmp.path().join("home")).unwrap();
    Sandbox { tmp, config, data }
}
