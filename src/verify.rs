//! Checks a backup against its manifest: every entry present, sizes and BLAKE3 hashes
//! equal, no unexpected files, every database whole with its recorded tables.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsx;
use crate::layout::{INFO_FILE, MANIFEST_FILE};
use crate::manifest::{encode_rel, join_rel, unsafe_path, EntryKind, FileEntry, Manifest};
use crate::progress::{Phase, Progress, Throttle};
use crate::sqlite;

/// One thing wrong with a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Problem {
    /// The entry, relative to the backup folder.
    pub path: String,
    /// missing, size, changed, extra, corrupt, manifest, unreadable, unsafe
    pub problem: String,
    /// What exactly is wrong.
    pub detail: String,
}

/// The result of checking one backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyReport {
    /// The backup's folder name.
    pub name: String,
    /// The folder.
    pub path: PathBuf,
    /// No problem found.
    pub ok: bool,
    /// Files and databases checked.
    pub files_checked: u64,
    /// Bytes checked.
    pub bytes_checked: u64,
    /// Every problem, sorted by path.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// One line per problem, for the CLI and error messages.
    pub fn describe(&self) -> Vec<String> {
        self.problems.iter().map(|p| format!("{}: {} ({})", p.path, p.problem, p.detail)).collect()
    }
}

fn problem(path: &str, problem: &str, detail: impl Into<String>) -> Problem {
    Problem { path: path.to_string(), problem: problem.to_string(), detail: detail.into() }
}

fn empty_report(dir: &Path) -> VerifyReport {
    VerifyReport {
        name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        path: dir.to_path_buf(),
        ok: false,
        files_checked: 0,
        bytes_checked: 0,
        problems: Vec::new(),
    }
}

/// Checks the backup in `dir`. A missing or unreadable manifest makes the backup
/// incomplete: reported as a problem, never as fine.
///
/// # Errors
/// None today: every finding is a [`Problem`] in the report.
pub fn verify(dir: &Path, progress: &dyn Progress) -> Result<VerifyReport> {
    match Manifest::read(dir) {
        Ok(m) => Ok(verify_against(dir, &m, progress)),
        Err(e) => {
            let mut report = empty_report(dir);
            report.problems.push(problem(
                MANIFEST_FILE,
                "manifest",
                format!("missing or unreadable, the backup is incomplete: {e}"),
            ));
            Ok(report)
        }
    }
}

/// Checks the backup in `dir` against `manifest`, already read (restore reads it once).
pub fn verify_against(dir: &Path, manifest: &Manifest, progress: &dyn Progress) -> VerifyReport {
    let mut report = verify_entries(dir, manifest, &|_| true, progress);
    report.problems.extend(extra_files(dir, manifest));
    report.problems.sort_by(|a, b| a.path.cmp(&b.path));
    report.ok = report.problems.is_empty();
    report
}

/// Checks only the entries `wanted` selects (what a restore of some paths reads), not
/// the rest of the backup nor files it does not list.
pub fn verify_entries(
    dir: &Path,
    manifest: &Manifest,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    progress: &dyn Progress,
) -> VerifyReport {
    let data = |f: &&FileEntry| matches!(f.kind, EntryKind::File | EntryKind::Database) && wanted(&f.path);
    let total_bytes = manifest.files.iter().filter(data).fold(0u64, |sum, f| sum.saturating_add(f.size));
    let total_files = manifest.files.iter().filter(data).count() as u64;
    let throttle = Throttle::new(progress, Phase::Verifying, total_files, total_bytes);
    let mut problems: Vec<Problem> = manifest
        .files
        .par_iter()
        .filter(|entry| wanted(&entry.path))
        .flat_map_iter(|entry| {
            let found = check_entry(dir, entry, manifest);
            if matches!(entry.kind, EntryKind::File | EntryKind::Database) {
                throttle.add(1, entry.size);
            }
            found
        })
        .collect();
    throttle.finish();
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    let mut report = empty_report(dir);
    report.files_checked = total_files;
    report.bytes_checked = total_bytes;
    report.ok = problems.is_empty();
    report.problems = problems;
    report
}

fn check_entry(dir: &Path, entry: &FileEntry, manifest: &Manifest) -> Vec<Problem> {
    if let Some(why) = unsafe_path(&entry.path) {
        return vec![problem(&entry.path, "unsafe", why)];
    }
    let Some(path) = join_rel(dir, &entry.path) else {
        return vec![problem(&entry.path, "unsafe", "malformed escape")];
    };
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return vec![problem(&entry.path, "missing", "listed in the manifest but not in the backup")]
        }
        Err(e) => return vec![problem(&entry.path, "unreadable", e.to_string())],
    };
    match entry.kind {
        EntryKind::Dir if !meta.is_dir() => vec![problem(&entry.path, "changed", "should be a folder")],
        EntryKind::Dir => vec![],
        EntryKind::Symlink => match fs::read_link(&path) {
            Ok(t) if Some(crate::manifest::encode_bytes(t.as_os_str().as_encoded_bytes())) == entry.target => vec![],
            Ok(t) => vec![problem(
                &entry.path,
                "changed",
                format!("link points to {} instead of {}", t.display(), entry.target.as_deref().unwrap_or("?")),
            )],
            Err(_) => vec![problem(&entry.path, "changed", "should be a symlink")],
        },
        EntryKind::File | EntryKind::Database => {
            if !meta.is_file() {
                return vec![problem(&entry.path, "changed", "should be a file")];
            }
            if meta.len() != entry.size {
                return vec![problem(&entry.path, "size", format!("{} bytes instead of {}", meta.len(), entry.size))];
            }
            let mut out = Vec::new();
            match fsx::hash_file(&path) {
                Ok(h) if Some(crate::manifest::Hash(h)) == entry.blake3 => {}
                Ok(_) => out.push(problem(&entry.path, "changed", "content differs from the manifest's BLAKE3 hash")),
                Err(e) => return vec![problem(&entry.path, "unreadable", e.to_string())],
            }
            if entry.kind == EntryKind::Database {
                out.extend(check_database(&path, entry, manifest));
            }
            out
        }
    }
}

fn check_database(path: &Path, entry: &FileEntry, manifest: &Manifest) -> Vec<Problem> {
    let integrity = match sqlite::check_file(path) {
        Ok(i) => i,
        Err(e) => return vec![problem(&entry.path, "corrupt", e.to_string())],
    };
    if integrity != "ok" {
        return vec![problem(&entry.path, "corrupt", format!("integrity check: {integrity}"))];
    }
    let Some(info) = manifest.databases.iter().find(|d| d.path == entry.path) else { return vec![] };
    match sqlite::stats(path) {
        Ok(stats) => {
            let have: HashSet<&str> = stats.tables.iter().map(|t| t.name.as_str()).collect();
            info.tables
                .iter()
                .filter(|t| !have.contains(t.name.as_str()))
                .map(|t| problem(&entry.path, "corrupt", format!("table {} is missing", t.name)))
                .collect()
        }
        Err(e) => vec![problem(&entry.path, "corrupt", e.to_string())],
    }
}

/// Files in the backup that the manifest does not list.
/// Whether `rel` is what SQLite leaves beside a backed-up database that a reader opened
/// (`sqlite3 -readonly backup_…/drumgen.db`, as a user checking a copy by hand does): its
/// `-shm` index, or a `-wal` with no frames in it (0 bytes). Neither changes the
/// database, so neither is damage. A `-wal` with frames is (it would change what the copy
/// holds), and stays "extra". See <https://www.sqlite.org/walformat.html>.
fn reader_leftover(rel: &str, path: &Path, manifest: &Manifest) -> bool {
    let of_database =
        |suffix: &str| rel.strip_suffix(suffix).is_some_and(|db| manifest.databases.iter().any(|d| d.path == db));
    of_database("-shm") || (of_database("-wal") && std::fs::metadata(path).is_ok_and(|m| m.len() == 0))
}

fn extra_files(dir: &Path, manifest: &Manifest) -> Vec<Problem> {
    let mut listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    // The folders holding nested items (`media` for `media/audio`) are not entries.
    let includes: Vec<String> = manifest.include.iter().map(|i| encode_rel(Path::new(i))).collect();
    for item in &includes {
        let mut parent = item.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            listed.insert(up);
            parent = up;
        }
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).follow_links(false) {
        let Ok(entry) = entry else { continue };
        let Ok(rel) = entry.path().strip_prefix(dir) else { continue };
        let rel = encode_rel(rel);
        if rel == MANIFEST_FILE || rel == INFO_FILE || listed.contains(rel.as_str()) {
            continue;
        }
        if reader_leftover(&rel, entry.path(), manifest) {
            continue;
        }
        out.push(problem(&rel, "extra", "in the backup but not in the manifest"));
    }
    out
}
