//! Writes the scanned entries into the staging folder: folders and links first, then
//! files (hard-linked when unchanged, else copied and hashed) and databases (through
//! SQLite) in parallel, and assembles the manifest.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use chrono::Utc;
use rayon::prelude::*;

use super::scan::{Found, Previous, Scan};
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::manifest::{
    DatabaseInfo, EntryKind, FileEntry, Hash, ItemTotals, Manifest, Stored, Totals, Trigger, FORMAT_VERSION,
};
use crate::progress::{Phase, Progress, Throttle};
use crate::sqlite;

/// Writes every scanned entry into `staging` and returns the manifest (times unset).
pub(super) fn write_tree(
    profile: &Profile,
    scan: &Scan,
    staging: &Path,
    previous: Option<&Previous>,
    progress: &dyn Progress,
) -> Result<Manifest> {
    // The parents of nested items (`media/audio`), then folders in walk order (parents
    // before children), and symlinks.
    for item in &scan.items {
        if let Some((parent, _)) = item.rsplit_once('/') {
            let dst = staging.join(parent);
            fs::create_dir_all(&dst).at("create folder", &dst)?;
        }
    }
    for f in &scan.found {
        let dst = staging.join(&f.rel);
        match f.kind {
            EntryKind::Dir => fs::create_dir(&dst).at("create folder", &dst)?,
            EntryKind::Symlink => fsx::make_symlink(Path::new(f.target.as_deref().unwrap_or_default()), &dst)?,
            _ => {}
        }
    }
    let throttle = Throttle::new(progress, Phase::Copying, scan.files_total(), scan.bytes_total());
    let can_link = AtomicBool::new(true);
    let warnings = Mutex::new(Vec::new());

    let files: Vec<&Found> = scan.found.iter().filter(|f| f.kind == EntryKind::File).collect();
    let dbs: Vec<&Found> = scan.found.iter().filter(|f| f.kind == EntryKind::Database).collect();
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
                .collect::<Vec<Result<FileEntry>>>()
        },
        || {
            dbs.iter()
                .map(|f| {
                    let r = store_database(&scan.source, f, staging, previous, &can_link, &warnings);
                    throttle.add(1, f.size);
                    r
                })
                .collect::<Result<Vec<(FileEntry, DatabaseInfo)>>>()
        },
    );
    throttle.finish();

    // Both lists come back in scan order, so one ordered pass merges them.
    let (db_entries, databases): (Vec<FileEntry>, Vec<DatabaseInfo>) = db_entries?.into_iter().unzip();
    let file_entries = file_entries.into_iter().collect::<Result<Vec<FileEntry>>>()?;
    let mut stored_files = file_entries.into_iter();
    let mut stored_dbs = db_entries.into_iter();
    let mut totals = Totals::default();
    let mut items: Vec<ItemTotals> =
        scan.items.iter().map(|i| ItemTotals { item: i.clone(), files: 0, bytes: 0 }).collect();
    let mut entries = Vec::with_capacity(scan.found.len());
    for f in &scan.found {
        let entry = match f.kind {
            EntryKind::Dir | EntryKind::Symlink => FileEntry {
                path: f.rel.clone(),
                kind: f.kind,
                size: 0,
                mtime_ns: f.mtime_ns,
                blake3: None,
                stored: Stored::Created,
                mode: f.mode,
                target: f.target.clone(),
            },
            EntryKind::File => stored_files.next().expect("one stored entry per file"),
            EntryKind::Database => stored_dbs.next().expect("one stored entry per database"),
        };
        debug_assert_eq!(entry.path, f.rel);
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
        files: entries,
    })
}

/// Hard-links an unchanged file from the previous backup, or copies it.
fn store_file(
    source: &Path,
    f: &Found,
    staging: &Path,
    previous: Option<&Previous>,
    can_link: &AtomicBool,
    warnings: &Mutex<Vec<String>>,
) -> Result<FileEntry> {
    let dst = staging.join(&f.rel);
    let unchanged = previous.and_then(|p| p.unchanged(f).map(|e| (p.dir, e)));
    if let Some((prev_dir, prev)) = unchanged {
        if try_link(&prev_dir.join(&f.rel), &dst, can_link)? {
            return Ok(FileEntry { stored: Stored::Linked, mode: f.mode, ..prev.clone() });
        }
    }
    let copied = fsx::copy_file(&source.join(&f.rel), &dst)?;
    if !copied.stable {
        warnings
            .lock()
            .expect("warnings lock")
            .push(format!("{} kept changing while it was copied; stored as last read", f.rel));
    }
    Ok(FileEntry {
        path: f.rel.clone(),
        kind: EntryKind::File,
        size: copied.size,
        mtime_ns: copied.mtime_ns,
        blake3: Some(Hash(copied.blake3)),
        stored: Stored::Copied,
        mode: f.mode,
        target: None,
    })
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
/// its live files (database and `-wal`) have not changed since that copy was taken.
fn store_database(
    source: &Path,
    f: &Found,
    staging: &Path,
    previous: Option<&Previous>,
    can_link: &AtomicBool,
    warnings: &Mutex<Vec<String>>,
) -> Result<(FileEntry, DatabaseInfo)> {
    let dst = staging.join(&f.rel);
    let live = source.join(&f.rel);
    let fingerprint = sqlite::fingerprint(&live);
    if let Some(Previous { dir: prev_dir, manifest: m, .. }) = previous {
        let prev_info = m.databases.iter().find(|d| d.path == f.rel && d.source_fingerprint == fingerprint);
        let prev_entry = m.files.iter().find(|e| e.path == f.rel && e.kind == EntryKind::Database);
        if let (Some(info), Some(entry)) = (prev_info, prev_entry) {
            if try_link(&prev_dir.join(&f.rel), &dst, can_link)? {
                return Ok((FileEntry { stored: Stored::Linked, ..entry.clone() }, info.clone()));
            }
        }
    }
    sqlite::copy_consistent(&live, &dst)?;
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
    Ok((entry, info))
}
