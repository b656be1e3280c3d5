//! Finds everything to back up before anything is written, and decides what changed:
//! the change rule (what counts as unchanged since the previous backup) lives here.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::manifest::{DatabaseInfo, EntryKind, FileEntry, Manifest};
use crate::selection::Selection;
use crate::sqlite;

/// The newest complete backup, which unchanged files are hard-linked from.
pub(super) struct Previous<'a> {
    pub dir: &'a Path,
    pub manifest: &'a Manifest,
    files: HashMap<&'a str, &'a FileEntry>,
}

impl<'a> Previous<'a> {
    pub fn new(dir: &'a Path, manifest: &'a Manifest) -> Self {
        let files = manifest.files.iter().filter(|e| e.kind == EntryKind::File).map(|e| (e.path.as_str(), e)).collect();
        Previous { dir, manifest, files }
    }

    /// The previous entry of a plain file found unchanged: same size and mtime.
    pub fn unchanged(&self, f: &Found) -> Option<&'a FileEntry> {
        self.files.get(f.rel.as_str()).copied().filter(|e| e.size == f.size && e.mtime_ns == f.mtime_ns)
    }
}

/// One thing found in the source.
#[derive(Debug)]
pub(super) struct Found {
    /// Path relative to the source, `/`-separated.
    pub rel: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i128,
    pub mode: Option<u32>,
    pub target: Option<String>,
    /// Index of its item in [`Scan::items`].
    pub item: usize,
}

/// Everything to back up, found before anything is written.
pub(super) struct Scan {
    pub source: PathBuf,
    pub items: Vec<String>,
    pub found: Vec<Found>,
}

impl Scan {
    /// Finds everything `selection` holds. `previous` saves sniffing the header of files
    /// it already knows as plain and unchanged.
    pub fn run(selection: &Selection, previous: Option<&Previous>) -> Result<Scan> {
        let source = selection.source();
        let items = selection.items()?;
        let mut found = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let root = source.join(item);
            if let Err(e) = fs::symlink_metadata(&root) {
                return Err(if e.kind() == io::ErrorKind::NotFound {
                    Error::SourceMissing {
                        path: root,
                        cause: "(an included item) does not exist — fix `include` in the config".into(),
                    }
                } else {
                    Error::io("read", &root, e)
                });
            }
            for entry in selection.walk(&root) {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&root).to_path_buf();
                    match e.into_io_error() {
                        Some(io) => Error::io("read", &path, io),
                        None => Error::Selection { path, message: "a folder that contains itself (a loop)".into() },
                    }
                })?;
                let abs = entry.path();
                let rel = relative(source, abs)?;
                let meta = entry.metadata().map_err(|e| {
                    Error::io("read", abs, e.into_io_error().unwrap_or_else(|| io::Error::other("unreadable")))
                })?;
                let ft = meta.file_type();
                let (kind, target) = if ft.is_dir() {
                    (EntryKind::Dir, None)
                } else if ft.is_symlink() {
                    let t = fs::read_link(abs).at("read link", abs)?;
                    (EntryKind::Symlink, Some(t.to_string_lossy().into_owned()))
                } else if ft.is_file() {
                    (EntryKind::File, None)
                } else {
                    tracing::warn!("skipping {}: not a regular file, folder or symlink", abs.display());
                    continue;
                };
                found.push(Found {
                    rel,
                    size: if kind == EntryKind::File { meta.len() } else { 0 },
                    mtime_ns: fsx::mtime_ns(&meta),
                    mode: fsx::mode_of(&meta),
                    kind,
                    target,
                    item: index,
                });
            }
        }
        let mut scan = Scan { source: source.to_path_buf(), items, found };
        scan.mark_databases(previous);
        Ok(scan)
    }

    /// Finds databases by their header and drops their `-wal`/`-shm`/`-journal` companions.
    fn mark_databases(&mut self, previous: Option<&Previous>) {
        let unchanged_plain = |f: &Found| previous.is_some_and(|p| p.unchanged(f).is_some());
        let dbs: Vec<usize> = self
            .found
            .par_iter()
            .enumerate()
            .filter(|(_, f)| {
                f.kind == EntryKind::File
                    && f.size >= 512
                    && !unchanged_plain(f)
                    && sqlite::is_database(&self.source.join(&f.rel))
            })
            .map(|(i, _)| i)
            .collect();
        let mut db_paths = HashSet::new();
        for i in dbs {
            self.found[i].kind = EntryKind::Database;
            db_paths.insert(self.found[i].rel.clone());
        }
        self.found.retain(|f| {
            let companion =
                f.kind == EntryKind::File && sqlite::companion_of(&f.rel).is_some_and(|db| db_paths.contains(db));
            !companion
        });
    }

    /// Files and databases found.
    pub fn files_total(&self) -> u64 {
        self.found.iter().filter(|f| matches!(f.kind, EntryKind::File | EntryKind::Database)).count() as u64
    }

    /// Bytes of the files and databases found.
    pub fn bytes_total(&self) -> u64 {
        self.found.iter().map(|f| f.size).sum()
    }

    /// Whether the source is as `m` recorded it: same entries, sizes, mtimes, link
    /// targets, and database fingerprints.
    pub fn unchanged_since(&self, m: &Manifest) -> bool {
        if m.files.len() != self.found.len() {
            return false;
        }
        let dbs: HashMap<&str, &DatabaseInfo> = m.databases.iter().map(|d| (d.path.as_str(), d)).collect();
        self.found.iter().zip(&m.files).all(|(f, e)| {
            f.rel == e.path
                && f.kind == e.kind
                && match f.kind {
                    EntryKind::File => f.size == e.size && f.mtime_ns == e.mtime_ns,
                    EntryKind::Symlink => f.target == e.target,
                    EntryKind::Dir => true,
                    EntryKind::Database => dbs
                        .get(f.rel.as_str())
                        .is_some_and(|d| d.source_fingerprint == sqlite::fingerprint(&self.source.join(&f.rel))),
                }
        })
    }
}

/// `abs` relative to `base`, with `/` separators on every platform.
fn relative(base: &Path, abs: &Path) -> Result<String> {
    let outside = || Error::Selection { path: abs.to_path_buf(), message: "is outside the source".into() };
    let rel = abs.strip_prefix(base).map_err(|_| outside())?;
    let mut parts = Vec::new();
    for c in rel.components() {
        let part = c.as_os_str().to_str().ok_or_else(|| Error::Selection {
            path: abs.to_path_buf(),
            message: "cannot be backed up: its name is not valid UTF-8 — rename it".into(),
        })?;
        parts.push(part);
    }
    Ok(parts.join("/"))
}
