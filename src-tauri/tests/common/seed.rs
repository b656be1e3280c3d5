//! App data shaped like the seed's: `drumgen.db` (WAL mode, the last rows of `test_results`
//! only in the `-wal`, the connection kept open as the running app would), small WAV-looking
//! files in `audio_files/` and in note folders under `illugen_audio/`, names with spaces and
//! accents; in the seed's numbers ([`SEED`], for the end-to-end tests) or in fewer (the app
//! tests' [`Shape`]). Plus snapshots of it, to compare before and after a restore.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// The app's data folder, as its user sees it; a space on purpose.
pub const APP_DIR: &str = "DrumGen Scorer";
pub const DB_NAME: &str = "drumgen.db";
pub const TABLE: &str = "test_results";
pub const AUDIO: &str = "audio_files";
pub const ILLUGEN: &str = "illugen_audio";

/// How much data [`AppData::create`] writes, and how it nests.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Rows in `test_results`.
    pub rows: i64,
    /// Rows written after the last checkpoint: they live only in `drumgen.db-wal`.
    pub rows_in_wal: i64,
    /// Files in `audio_files/`.
    pub audio_files: usize,
    /// Note folders in `illugen_audio/`.
    pub notes: usize,
    /// Whether each note folder holds a nested `attachments/` folder with files of its own.
    pub nested: bool,
    /// The files that makes in `illugen_audio/`, checked when the data is written: three in
    /// each folder, four in the first.
    pub illugen_files: usize,
}

/// The seed's numbers: 241 rows (the last 41 only in the `-wal`), 240 files in
/// `audio_files/`, 727 files in 242 folders in `illugen_audio/`.
pub const SEED: Shape =
    Shape { rows: 241, rows_in_wal: 41, audio_files: 240, notes: 242, nested: false, illugen_files: 727 };

/// The app's data root and the open connection of "the app" that owns it.
pub struct AppData {
    pub root: PathBuf,
    pub conn: Connection,
}

impl AppData {
    /// Creates the data under `root` (which must not exist yet).
    pub fn create(root: &Path, shape: Shape) -> AppData {
        fs::create_dir_all(root).unwrap();
        let conn = Connection::open(root.join(DB_NAME)).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE test_results (id INTEGER PRIMARY KEY, drum TEXT NOT NULL, score REAL NOT NULL,
                                        audio_path TEXT NOT NULL, created_at TEXT NOT NULL);",
        )
        .unwrap();
        for i in 1..=shape.rows {
            conn.execute(
                "INSERT INTO test_results (drum, score, audio_path, created_at) VALUES (?1, ?2, ?3, ?4)",
                (
                    ["kick", "snare", "hat", "tom", "ride"][i as usize % 5],
                    (i * 37 % 100) as f64 / 10.0,
                    format!("{AUDIO}/{}", audio_name(i as usize % shape.audio_files)),
                    format!("2025-12-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
                ),
            )
            .unwrap();
            if i == shape.rows - shape.rows_in_wal {
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
            }
        }
        let audio = root.join(AUDIO);
        fs::create_dir_all(&audio).unwrap();
        for i in 0..shape.audio_files {
            fs::write(audio.join(audio_name(i)), wav_bytes(i as u64, 300 + (i * 53) % 1700)).unwrap();
        }
        let mut written = 0;
        for d in 0..shape.notes {
            let note = root.join(ILLUGEN).join(illugen_dir(d));
            let mut folders = vec![note.clone()];
            if shape.nested {
                folders.push(note.join("attachments"));
            }
            // `n` is 0 for the note folder itself, 1 for the nested one.
            for (n, dir) in folders.iter().enumerate() {
                fs::create_dir_all(dir).unwrap();
                let files = if d == 0 && n == 0 { 4 } else { 3 };
                for k in 0..files {
                    fs::write(
                        dir.join(format!("take {k}.wav")),
                        wav_bytes((10_000 * (n + 1) + d * 7 + k) as u64, 200 + (d + n * 50 + k * 91) % 900),
                    )
                    .unwrap();
                    written += 1;
                }
            }
        }
        assert_eq!(written, shape.illugen_files, "files written in {ILLUGEN}/ for {shape:?}");
        AppData { root: root.to_path_buf(), conn }
    }

    /// Rows in `test_results`, read through a fresh connection (what is on disk now).
    pub fn rows(&self) -> i64 {
        count_rows(&Connection::open(self.root.join(DB_NAME)).unwrap())
    }

    /// Every row of `test_results`, in order, through a fresh connection; checks integrity.
    pub fn db_contents(&self) -> Vec<String> {
        let conn = Connection::open(self.root.join(DB_NAME)).unwrap();
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "integrity of {}", self.root.join(DB_NAME).display());
        let mut stmt =
            conn.prepare("SELECT id, drum, score, audio_path, created_at FROM test_results ORDER BY id").unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{}|{}|{}|{}|{}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?
                ))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows
    }

    /// Every file under the root except the database (compared by its rows), by relative
    /// path, with its bytes.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out);
        out.retain(|path, _| !path.starts_with(DB_NAME));
        out
    }

    /// A digest of the files and the rows, to print; equality is checked on the contents.
    pub fn digest(&self) -> String {
        let mut h = Fnv::default();
        for (path, bytes) in self.files() {
            h.write(path.as_bytes());
            h.write(&bytes);
        }
        for row in self.db_contents() {
            h.write(row.as_bytes());
        }
        format!("{:016x}", h.0)
    }
}

/// Rows in `test_results`, as `conn` sees them.
pub fn count_rows(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM test_results", [], |r| r.get(0)).unwrap()
}

pub fn audio_name(i: usize) -> String {
    if i.is_multiple_of(40) {
        format!("kick {i:03}.wav")
    } else {
        format!("take_{i:04}.wav")
    }
}

pub fn illugen_dir(d: usize) -> String {
    match d {
        0 => "Café Noir".to_string(),
        d if d.is_multiple_of(50) => format!("note {d:03} (final)"),
        d => format!("note_{d:03}"),
    }
}

/// Every regular file under `dir`, recursively: relative path -> bytes.
pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Counts the regular files under `dir`, recursively.
pub fn count_files(dir: &Path) -> usize {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.len()
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let kind = fs::symlink_metadata(&path).unwrap().file_type();
        if kind.is_dir() {
            walk(base, &path, out);
        } else if kind.is_file() {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.insert(rel, fs::read(&path).unwrap());
        }
    }
}

/// A small WAV-looking file with deterministic content.
fn wav_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    while out.len() < len {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push((x >> 33) as u8);
    }
    out
}

/// FNV-1a, 64 bits: enough to print a short fingerprint of a data set.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf29ce484222325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x100000001b3);
    }
}

/// The differences between two file sets, for a readable assertion message.
pub fn diff(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in before {
        match after.get(path) {
            None => out.push(format!("missing: {path}")),
            Some(b) if b != bytes => out.push(format!("differs: {path}")),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("extra: {path}"));
    }
    out
}
