//! Writes the scanned entries into the staging folder: folders and links first, then
//! files (hard-linked when unchanged, else copied and hashed) and databases (through
//! SQLite) in parallel, and assembles the manifest.
//!
//! Each entry ends one of three ways: stored; vanished since the scan (a deletion, left
//! out silently); or left out with a reason ([`SkipKind::Unreadable`] when the source
//! cannot be read, [`SkipKind::Unstorable`] when the destination refuses it). Only a
//! destination failure (full, read-only, gone) stops the backup.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use chrono::Utc;
use rayon::prelude::*;

use super::scan::{reason_of, Found, Previous, Scan};
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, CopyError};
use crate::manifest::{
    decode_rel, in_item, DatabaseInfo, EntryKind, FileEntry, Hash, ItemTotals, Manifest, SkipKind, Skipped, Stored,
    Totals, Trigger, FORMAT_VERSION,
};
use crate::progress::{Phase, Progress, Throttle};
use crate::sqlite;

/// How one entry ended.
enum Outcome<T> {
    Stored(T),
    /// Gone since the scan: a deletion.
    Vanished,
    Left(Skipped),
}

/// Writes every scanned entry into `staging` and returns the manifest (times and
/// sequence unset).
pub(super) fn write_tree(
    profile: &Profile,
    scan: &Scan,
    staging: &Path,
    previous: Option<&Previous>,
    progress: &dyn Progress,
) -> Result<Manifest> {
    let mut skipped = scan.skipped.clone();
    // The parents of nested items (`media/audio`), then folders in walk order (parents
    // before children), and symlinks. A folder the destination refuses takes what is
    // inside it along.
    for item in &scan.items {
        if let Some((parent, _)) = item.rsplit_once('/') {
            let dst = staging.join(decode_rel(parent).unwrap_or_default());
            fs::create_dir_all(&dst).at("create folder", &dst)?;
        }
    }
    let mut refused: Vec<&str> = Vec::new();
    let mut left: HashSet<&str> = HashSet::new();
    // Never write beneath a symlink made in the backup: that would write where it points.
    let mut links: HashSet<&str> = HashSet::new();
    for f in &scan.found {
        let mut up = f.rel.as_str();
        while let Some((parent, _)) = up.rsplit_once('/') {
            if links.contains(parent) {
                return Err(Error::Selection {
                    path: scan.source.join(&f.path),
                    message: "lies beneath a symlink in the backup; refusing to write through it".into(),
                });
            }
            up = parent;
        }
        if f.kind == EntryKind::Symlink {
            links.insert(&f.rel);
        }
    }
    for f in &scan.found {
        if let Some(dir) = refused.iter().find(|d| in_item(&f.rel, d)) {
            skipped.push(unstorable(&f.rel, format!("its folder {dir} could not be stored")));
            left.insert(&f.rel);
            continue;
        }
        let dst = staging.join(&f.path);
        let made = match f.kind {
            EntryKind::Dir => fs::create_dir(&dst),
            EntryKind::Symlink => {
                let target = decode_rel(f.target.as_deref().unwrap_or_default()).unwrap_or_default();
                make_link(&target, &dst)
            }
            _ => continue,
        };
        match made {
            Ok(()) => {}
            Err(e) if destination_refuses(&e) => {
                skipped.push(unstorable(&f.rel, format!("the destination cannot store it ({e})")));
                left.insert(&f.rel);
                if f.kind == EntryKind::Dir {
                    refused.push(&f.rel);
                }
            }
            Err(e) => {
                return Err(Error::io(
                    if f.kind == EntryKind::Dir { "create folder" } else { "create symlink" },
                    &dst,
                    e,
                ))
            }
        }
    }
    let throttle = Throttle::new(progress, Phase::Copying, scan.files_total(), scan.bytes_total());
    let can_link = AtomicBool::new(true);
    let warnings = Mutex::new(Vec::new());

    let files: Vec<&Found> =
        scan.found.iter().filter(|f| f.kind == EntryKind::File && !left.contains(f.rel.as_str())).collect();
    let dbs: Vec<&Found> =
        scan.found.iter().filter(|f| f.kind == EntryKind::Database && !left.contains(f.rel.as_str())).collect();
    let (file_entries, db_entries) = rayon::join(
        || {
            files
                .par_iter()
                .map(|f| {
                    let entry = store_file(&scan.source, f, staging, previous, &can_link, &warnings);
                    throttle.add(1, f.size);
                    entry
                })
                // Indexed: collected in place, in scan order (a `Result<Vec>` collect
                // would gather chunks in a list and copy them, doubling the peak).
                .collect::<Vec<Result<Outcome<FileEntry>>>>()
        },
        || {
            dbs.iter()
                .map(|f| {
                    let r = store_database(&scan.source, f, staging, previous, &can_link, &warnings);
                    throttle.add(1, f.size);
                    r
                })
                .collect::<Result<Vec<Outcome<(FileEntry, DatabaseInfo)>>>>()
        },
    );
    throttle.finish();

    // Both lists come back in scan order, so one ordered pass merges them.
    let file_entries = file_entries.into_iter().collect::<Result<Vec<_>>>()?;
    let db_entries = db_entries?;
    let mut stored_files = file_entries.into_iter();
    let mut stored_dbs = db_entries.into_iter();
    let mut databases = Vec::new();
    let mut totals = Totals::default();
    let mut items: Vec<ItemTotals> =
        scan.items.iter().map(|i| ItemTotals { item: i.clone(), files: 0, bytes: 0 }).collect();
    let mut entries = Vec::with_capacity(scan.found.len());
    for f in &scan.found {
        if left.contains(f.rel.as_str()) {
            continue;
        }
        let entry = match f.kind {
            EntryKind::Dir | EntryKind::Symlink => FileEntry {
                path: f.rel.clone(),
                kind: f.kind,
                size: 0,
                mtime_ns: f.mtime_ns,
                ctime_ns: f.id.ctime_ns,
                inode: f.id.inode,
                dev: f.id.dev,
                blake3: None,
                stored: Stored::Created,
                mode: f.mode,
                target: f.target.clone(),
            },
            EntryKind::File => match stored_files.next().expect("one outcome per file") {
                Outcome::Stored(e) => e,
                Outcome::Vanished => continue,
                Outcome::Left(k) => {
                    skipped.push(k);
                    continue;
                }
            },
            EntryKind::Database => match stored_dbs.next().expect("one outcome per database") {
                Outcome::Stored((e, info)) => {
                    databases.push(info);
                    e
                }
                Outcome::Vanished => continue,
                Outcome::Left(k) => {
                    skipped.push(k);
                    continue;
                }
            },
        };
        match entry.kind {
            EntryKind::Dir => totals.dirs += 1,
            EntryKind::Symlink => totals.symlinks += 1,
            EntryKind::File => totals.files += 1,
            EntryKind::Database => totals.databases += 1,
        }
        totals.bytes += entry.size;
        if entry.stored == Stored::Linked {
            totals.files_linked += 1;
        } else {
            totals.bytes_written += entry.size;
        }
        if matches!(entry.kind, EntryKind::File | EntryKind::Database) {
            items[f.item].files += 1;
            items[f.item].bytes += entry.size;
        }
        entries.push(entry);
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    let now = Utc::now();
    Ok(Manifest {
        format_version: FORMAT_VERSION,
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: profile.name.clone(),
        trigger: Trigger::Manual,
        host: fsx::host_name(),
        started_at: now,
        finished_at: now,
        source: profile.source.clone(),
        include: profile.include.clone(),
        totals,
        items,
        databases,
        warnings: warnings.into_inner().unwrap_or_default(),
        sequence: 0,
        skipped,
        item_links: scan.item_links.clone(),
        files: entries,
    })
}

fn unstorable(rel: &str, reason: String) -> Skipped {
    tracing::warn!("not backed up: {rel} ({reason})");
    Skipped { path: rel.to_string(), kind: SkipKind::Unstorable, reason }
}

fn unreadable(rel: &str, reason: String) -> Skipped {
    tracing::warn!("not backed up: {rel} ({reason})");
    Skipped { path: rel.to_string(), kind: SkipKind::Unreadable, reason }
}

fn make_link(target: &Path, link: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::symlink_file(target, link)
    }
}

/// Whether the destination refuses this one entry (its name, or symlinks altogether,
/// as exFAT and FAT do) rather than failing as a whole.
fn destination_refuses(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::EILSEQ | libc::ENAMETOOLONG | libc::EPERM | libc::ENOTSUP | libc::ENOSYS)
        ) || (libc::EOPNOTSUPP != libc::ENOTSUP && e.raw_os_error() == Some(libc::EOPNOTSUPP))
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::InvalidFilename || e.kind() == io::ErrorKind::Unsupported
    }
}

/// Hard-links an unchanged file from the previous backup, or copies it.
fn store_file(
    source: &Path,
    f: &Found,
    staging: &Path,
    previous: Option<&Previous>,
    can_link: &AtomicBool,
    warnings: &Mutex<Vec<String>>,
) -> Result<Outcome<FileEntry>> {
    let dst = staging.join(&f.path);
    let unchanged = previous.and_then(|p| p.unchanged(f).map(|e| (p.dir, e)));
    if let Some((prev_dir, prev)) = unchanged {
        if try_link(&prev_dir.join(&f.path), &dst, can_link)? {
            return Ok(Outcome::Stored(FileEntry { stored: Stored::Linked, mode: f.mode, ..prev.clone() }));
        }
    }
    let copied = match fsx::copy_file(&source.join(&f.path), &dst) {
        Ok(c) => c,
        Err(failure) => {
            // Whatever was written of it goes: the backup holds only what it lists.
            let _ = fs::remove_file(&dst);
            return match failure {
                CopyError::Source(e) if e.kind() == io::ErrorKind::NotFound => Ok(Outcome::Vanished),
                CopyError::Source(e) => Ok(Outcome::Left(unreadable(&f.rel, reason_of(&e)))),
                CopyError::Destination(Error::Io { source: e, .. }) if destination_refuses(&e) => {
                    Ok(Outcome::Left(unstorable(&f.rel, format!("the destination cannot store it ({e})"))))
                }
                CopyError::Destination(e) => Err(e),
            };
        }
    };
    if !copied.stable {
        warnings
            .lock()
            .expect("warnings lock")
            .push(format!("{} kept changing while it was copied; stored as last read", f.rel));
    }
    Ok(Outcome::Stored(FileEntry {
        path: f.rel.clone(),
        kind: EntryKind::File,
        size: copied.size,
        mtime_ns: copied.mtime_ns,
        ctime_ns: copied.id.ctime_ns,
        inode: copied.id.inode,
        dev: copied.id.dev,
        blake3: Some(Hash(copied.blake3)),
        stored: Stored::Copied,
        mode: f.mode,
        target: None,
    }))
}

/// Hard-links `old` (in the previous backup) at `dst`. `false` means copy instead: the
/// destination cannot link (then no further link is tried) or `old` has gone.
fn try_link(old: &Path, dst: &Path, can_link: &AtomicBool) -> Result<bool> {
    if !can_link.load(Ordering::Relaxed) {
        return Ok(false);
    }
    match fs::hard_link(old, dst) {
        Ok(()) => Ok(true),
        Err(e) if link_unsupported(&e) => {
            tracing::info!("destination cannot hard-link ({e}); copying unchanged files instead");
            can_link.store(false, Ordering::Relaxed);
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("link", dst, e)),
    }
}

fn link_unsupported(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::Unsupported || e.kind() == io::ErrorKind::CrossesDevices {
        return true;
    }
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EMLINK) | Some(libc::ENOTSUP))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Copies a live database through SQLite, or hard-links the previous backup's copy when
/// its live files (database and `-wal`) have not changed since that copy was taken. A
/// database that cannot be read is left out, named with the cause; one the destination
/// cannot take stops the backup.
fn store_database(
    source: &Path,
    f: &Found,
    staging: &Path,
    previous: Option<&Previous>,
    can_link: &AtomicBool,
    warnings: &Mutex<Vec<String>>,
) -> Result<Outcome<(FileEntry, DatabaseInfo)>> {
    let dst = staging.join(&f.path);
    let live = source.join(&f.path);
    let fingerprint = sqlite::fingerprint(&live);
    if let Some(Previous { dir: prev_dir, manifest: m, .. }) = previous {
        let prev_info = m.databases.iter().find(|d| d.path == f.rel && d.source_fingerprint == fingerprint);
        let prev_entry = m.files.iter().find(|e| e.path == f.rel && e.kind == EntryKind::Database);
        if let (Some(info), Some(entry)) = (prev_info, prev_entry) {
            if try_link(&prev_dir.join(&f.path), &dst, can_link)? {
                return Ok(Outcome::Stored((FileEntry { stored: Stored::Linked, ..entry.clone() }, info.clone())));
            }
        }
    }
    if let Err(e) = sqlite::copy_consistent(&live, &dst) {
        let _ = fs::remove_file(&dst);
        if fs::symlink_metadata(&live).is_err() {
            return Ok(Outcome::Vanished);
        }
        return match e {
            Error::Database { ref path, .. } | Error::DatabaseBusy { ref path } if path == &live => {
                Ok(Outcome::Left(unreadable(&f.rel, e.to_string())))
            }
            Error::PermissionDenied { ref path, .. } | Error::Io { ref path, .. } if path.starts_with(source) => {
                Ok(Outcome::Left(unreadable(&f.rel, e.to_string())))
            }
            e => Err(e),
        };
    }
    let file = fs::File::open(&dst).at("open", &dst)?;
    if fsx::FSYNC_EACH_FILE {
        file.sync_all().at("sync", &dst)?;
    }
    let size = file.metadata().at("read", &dst)?.len();
    drop(file);
    // Hash and check the copy at once: both read it, from the page cache.
    let (hash, stats) = rayon::join(|| fsx::hash_file(&dst), || sqlite::stats(&dst));
    let (hash, stats) = (hash?, stats?);
    if stats.integrity != "ok" {
        warnings
            .lock()
            .expect("warnings lock")
            .push(format!("{}: integrity check of the copy: {}", f.rel, stats.integrity));
    }
    let entry = FileEntry {
        path: f.rel.clone(),
        kind: EntryKind::Database,
        size,
        mtime_ns: f.mtime_ns,
        ctime_ns: f.id.ctime_ns,
        inode: f.id.inode,
        dev: f.id.dev,
        blake3: Some(Hash(hash)),
        stored: Stored::Sqlite,
        mode: f.mode,
        target: None,
    };
    let info = DatabaseInfo {
        path: f.rel.clone(),
        size,
        page_size: stats.page_size,
        page_count: stats.page_count,
        tables: stats.tables,
        integrity: stats.integrity,
        source_fingerprint: fingerprint,
    };
    Ok(Outcome::Stored((entry, info)))
}
