//! Finds everything to back up before anything is written, and decides what changed:
//! the change rule (what counts as unchanged since the previous backup) lives here.
//!
//! One bad entry never stops the scan: an entry that vanished is a deletion (left out,
//! not reported), one that cannot be read is recorded as [`SkipKind::Unreadable`], a FIFO,
//! socket or device as [`SkipKind::Special`]. Only the source root or an included item
//! missing stops it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsx::{self, FileId};
use crate::manifest::{encode_bytes, encode_rel, DatabaseInfo, EntryKind, FileEntry, Manifest, SkipKind, Skipped};
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

    /// The previous entry of a plain file found unchanged (see [`same_version`]).
    pub fn unchanged(&self, f: &Found) -> Option<&'a FileEntry> {
        self.files.get(f.rel.as_str()).copied().filter(|e| same_version(f, e))
    }
}

/// The change rule: a file is unchanged only when its size, mtime, ctime, inode and
/// device all equal what the previous backup recorded. A program can set mtime back
/// (`touch -d`, an editor keeping times); it cannot set ctime, which the kernel moves on
/// every write, and a file replaced by a rename has a new inode. Entries recorded before
/// ctime existed (0) never count as unchanged.
fn same_version(f: &Found, e: &FileEntry) -> bool {
    e.size == f.size
        && e.mtime_ns == f.mtime_ns
        && e.ctime_ns == f.id.ctime_ns
        && e.inode == f.id.inode
        && e.dev == f.id.dev
        && (e.ctime_ns != 0 || f.id.ctime_ns == 0)
}

/// One thing found in the source.
#[derive(Debug)]
pub(super) struct Found {
    /// Path relative to the source, escaped as the manifest writes it.
    pub rel: String,
    /// The same path as the OS spells it, relative to the source.
    pub path: PathBuf,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i128,
    pub id: FileId,
    pub mode: Option<u32>,
    /// A symlink's target, escaped.
    pub target: Option<String>,
    /// Index of its item in [`Scan::items`].
    pub item: usize,
}

/// Everything to back up, found before anything is written.
pub(super) struct Scan {
    pub source: PathBuf,
    /// Items, escaped.
    pub items: Vec<String>,
    pub found: Vec<Found>,
    /// Entries left out, with the reason.
    pub skipped: Vec<Skipped>,
    /// Items that are symlinks, followed: item -> target (escaped).
    pub item_links: BTreeMap<String, String>,
}

impl Scan {
    /// Finds everything `selection` holds. `previous` saves sniffing the header of files
    /// it already knows as plain and unchanged.
    pub fn run(selection: &Selection, previous: Option<&Previous>) -> Result<Scan> {
        let source = selection.source();
        let items = selection.items()?;
        let mut scan = Scan {
            source: source.to_path_buf(),
            items: Vec::new(),
            found: Vec::new(),
            skipped: Vec::new(),
            item_links: BTreeMap::new(),
        };
        for (index, item) in items.iter().enumerate() {
            let root = crate::manifest::join_rel(source, item).unwrap_or_else(|| source.join(item));
            let root_meta = match fs::symlink_metadata(&root) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(Error::SourceMissing {
                        path: root,
                        cause: "(an included item) does not exist — fix `include` in the config".into(),
                    })
                }
                Err(e) => return Err(Error::io("read", &root, e)),
            };
            let follow = root_meta.file_type().is_symlink() && selection.follows_item_links();
            if follow {
                let target = fs::read_link(&root).map_err(|e| Error::io("read link", &root, e))?;
                if fs::metadata(&root).is_err() {
                    return Err(Error::SourceMissing {
                        path: root,
                        cause: format!(
                            "(an included item) is a symlink to {}, which does not exist — connect its drive or fix the link",
                            target.display()
                        ),
                    });
                }
                scan.item_links.insert(item.clone(), encode_bytes(target.as_os_str().as_encoded_bytes()));
            }
            for entry in selection.walk(&root, follow) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let path = e.path().unwrap_or(&root).to_path_buf();
                        match e.into_io_error() {
                            Some(io) if io.kind() == io::ErrorKind::NotFound => {}
                            Some(io) => scan.skip(source, &path, SkipKind::Unreadable, reason_of(&io)),
                            None => {
                                scan.skip(source, &path, SkipKind::Unreadable, "a folder that contains itself".into())
                            }
                        }
                        continue;
                    }
                };
                let abs = entry.path();
                // A followed item is stored as what it points to (walkdir reports the
                // root's own type even when it follows it).
                let meta = if entry.depth() == 0 && follow {
                    fs::metadata(abs)
                } else {
                    entry.metadata().map_err(io::Error::from)
                };
                let meta = match meta {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        scan.skip(source, abs, SkipKind::Unreadable, reason_of(&e));
                        continue;
                    }
                };
                scan.add(source, abs, &meta, index);
            }
        }
        scan.items = items;
        scan.mark_databases(previous);
        Ok(scan)
    }

    /// Records the entry at `abs` (relative to `source`), or why it is left out.
    fn add(&mut self, source: &Path, abs: &Path, meta: &Metadata, item: usize) {
        let Ok(rel_path) = abs.strip_prefix(source) else { return };
        let ft = meta.file_type();
        let (kind, target) = if ft.is_dir() {
            (EntryKind::Dir, None)
        } else if ft.is_symlink() {
            match fs::read_link(abs) {
                Ok(t) => (EntryKind::Symlink, Some(encode_bytes(t.as_os_str().as_encoded_bytes()))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(e) => return self.skip(source, abs, SkipKind::Unreadable, reason_of(&e)),
            }
        } else if ft.is_file() {
            (EntryKind::File, None)
        } else {
            return self.skip(source, abs, SkipKind::Special, special_kind(meta).into());
        };
        self.found.push(Found {
            rel: encode_rel(rel_path),
            path: rel_path.to_path_buf(),
            size: if kind == EntryKind::File { meta.len() } else { 0 },
            mtime_ns: fsx::mtime_ns(meta),
            id: fsx::file_id(meta),
            mode: fsx::mode_of(meta),
            kind,
            target,
            item,
        });
    }

    fn skip(&mut self, source: &Path, abs: &Path, kind: SkipKind, reason: String) {
        let rel = encode_rel(abs.strip_prefix(source).unwrap_or(abs));
        tracing::warn!("not backed up: {} ({reason})", abs.display());
        self.skipped.push(Skipped { path: rel, kind, reason });
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
                    && sqlite::is_database(&self.source.join(&f.path))
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
        self.found.iter().fold(0u64, |sum, f| sum.saturating_add(f.size))
    }

    /// Whether the source is as `m` recorded it: same entries, the change rule for each
    /// file, link targets, database fingerprints, and the same entries left out.
    pub fn unchanged_since(&self, m: &Manifest) -> bool {
        if m.files.len() != self.found.len() || m.skipped != self.skipped || m.item_links != self.item_links {
            return false;
        }
        let dbs: HashMap<&str, &DatabaseInfo> = m.databases.iter().map(|d| (d.path.as_str(), d)).collect();
        self.found.iter().zip(&m.files).all(|(f, e)| {
            f.rel == e.path
                && f.kind == e.kind
                && match f.kind {
                    EntryKind::File => same_version(f, e),
                    EntryKind::Symlink => f.target == e.target,
                    EntryKind::Dir => true,
                    EntryKind::Database => dbs
                        .get(f.rel.as_str())
                        .is_some_and(|d| d.source_fingerprint == sqlite::fingerprint(&self.source.join(&f.path))),
                }
        })
    }
}

/// Why an entry could not be read, in words.
pub(super) fn reason_of(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// What kind of special file `meta` is, in words.
fn special_kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        if ft.is_fifo() {
            return "a FIFO (named pipe): holds no data";
        }
        if ft.is_socket() {
            return "a socket: holds no data";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device: holds no data";
        }
    }
    let _ = meta;
    "not a regular file, folder or symlink"
}
