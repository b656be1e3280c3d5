//! Makes one backup: scan, copy into a hidden staging folder, fsync, rename, rotate.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::catalog::{self, BackupInfo, BackupKind};
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::lock::DestinationLock;
use crate::manifest::{
    DatabaseInfo, EntryKind, FileEntry, Hash, ItemTotals, Manifest, Stored, Totals, Trigger, FORMAT_VERSION, INFO_FILE,
    MANIFEST_FILE,
};
use crate::progress::{Phase, Progress, ProgressUpdate};
use crate::sqlite;
use crate::BackupOutcome;

/// How often a file that keeps changing while it is copied is copied again.
const COPY_ATTEMPTS: usize = 3;

/// Makes a backup of `profile` now. See [`crate::Engine::backup`]. `damaged` names
/// backups a verify found damaged: unchanged files are never linked from those.
pub fn backup(
    profile: &Profile,
    trigger: Trigger,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<BackupOutcome> {
    check_source(profile)?;
    prepare_destination(&profile.destination)?;
    let _lock = DestinationLock::acquire(&profile.destination, "a backup")?;
    catalog::remove_leftovers(&profile.destination)?;
    let kind = if trigger == Trigger::PreRestore { BackupKind::PreRestore } else { BackupKind::Backup };
    let made = create_locked(profile, trigger, kind, progress, &[], damaged)?;
    match made {
        Some(info) => Ok(BackupOutcome::Created { backup: info }),
        None => {
            let newest = catalog::newest_backup(&profile.destination).map(|b| b.name).unwrap_or_default();
            Ok(BackupOutcome::Skipped { reason: format!("nothing changed since {newest}") })
        }
    }
}

/// Makes a backup while the caller holds the destination lock (restore takes its safety
/// snapshot this way). Returns `None` when a scheduled run finds nothing changed.
pub(crate) fn create_locked(
    profile: &Profile,
    trigger: Trigger,
    kind: BackupKind,
    progress: &dyn Progress,
    protect: &[&str],
    damaged: &[String],
) -> Result<Option<BackupInfo>> {
    let started_at = Utc::now();
    let all = catalog::list(&profile.destination)?;
    let newest_backup = all.iter().find(|b| b.kind == BackupKind::Backup);
    // Unchanged files are linked from the newest complete backup of either kind, unless a
    // verify found it damaged: linking would carry the damage into the new backup.
    let link_from = all
        .iter()
        .find(|b| !damaged.contains(&b.name))
        .map(|b| (b.path.clone(), Manifest::read(&b.path)))
        .and_then(|(p, m)| m.ok().map(|m| (p, m)));

    progress.update(&ProgressUpdate {
        phase: Phase::Scanning,
        files_done: 0,
        files_total: 0,
        bytes_done: 0,
        bytes_total: 0,
    });
    let previous = link_from.as_ref().map(|(dir, m)| Previous::new(dir, m));
    let scan = Scan::run(profile, previous.as_ref())?;

    if matches!(trigger, Trigger::Scheduled | Trigger::Startup) {
        if let Some(newest) = newest_backup {
            let same = match &link_from {
                Some((p, m)) if *p == newest.path => scan.unchanged_since(m),
                _ => Manifest::read(&newest.path).map(|m| scan.unchanged_since(&m)).unwrap_or(false),
            };
            if same {
                tracing::info!("{trigger} backup skipped: nothing changed since {}", newest.name);
                return Ok(None);
            }
        }
    }

    let name = catalog::new_name(&profile.destination, kind, started_at);
    let staging = profile.destination.join(catalog::staging_name(&name));
    tracing::info!("{trigger} backup {name} of {} started", profile.source.display());
    let result = (|| {
        fs::create_dir(&staging).at("create staging folder", &staging)?;
        let mut manifest = write_tree(profile, &scan, &staging, previous.as_ref(), progress)?;
        manifest.trigger = trigger;
        manifest.started_at = started_at;
        progress.update(&ProgressUpdate {
            phase: Phase::Finishing,
            files_done: manifest.totals.files + manifest.totals.databases,
            files_total: manifest.totals.files + manifest.totals.databases,
            bytes_done: manifest.totals.bytes,
            bytes_total: manifest.totals.bytes,
        });
        manifest.finished_at = Utc::now();
        fsutil::write_synced(&staging.join(INFO_FILE), manifest.info_text(&name).as_bytes())?;
        manifest.write(&staging.join(MANIFEST_FILE))?;
        fsutil::sync_tree(&staging)?;
        let final_dir = profile.destination.join(&name);
        fs::rename(&staging, &final_dir).at("move the finished backup into place", &final_dir)?;
        fsutil::sync_dir(&profile.destination)?;
        Ok((final_dir, manifest))
    })();
    let (final_dir, manifest) = match result {
        Ok(r) => r,
        Err(e) => {
            if staging.exists() {
                if let Err(cleanup) = fs::remove_dir_all(&staging) {
                    tracing::error!("cannot remove staging folder {}: {cleanup}", staging.display());
                }
            }
            // Name the destination the person chose, not a file inside the hidden staging folder.
            let e = match e {
                Error::DiskFull { .. } => Error::DiskFull { path: profile.destination.clone() },
                Error::ReadOnly { .. } => Error::ReadOnly { path: profile.destination.clone() },
                e => e,
            };
            tracing::error!("backup {name} failed: {e}");
            return Err(e);
        }
    };
    tracing::info!(
        "backup {name} complete: {} files, {} bytes ({} written) in {:.1} s",
        manifest.totals.files + manifest.totals.databases,
        manifest.totals.bytes,
        manifest.totals.bytes_written,
        manifest.duration_secs()
    );
    for w in &manifest.warnings {
        tracing::warn!("backup {name}: {w}");
    }

    progress.update(&ProgressUpdate {
        phase: Phase::Rotating,
        files_done: 0,
        files_total: 0,
        bytes_done: 0,
        bytes_total: 0,
    });
    let limit = if kind == BackupKind::Backup { profile.keep } else { catalog::KEEP_SAFETY };
    let protect: Vec<&str> = protect.iter().copied().chain([name.as_str()]).collect();
    if let Err(e) = catalog::rotate_keeping(&profile.destination, kind, limit, &protect) {
        // The new backup is complete and safe; a failed rotation only leaves an extra one.
        tracing::error!("rotation after {name} failed: {e}");
    }
    Ok(Some(BackupInfo::from_manifest(name, final_dir, kind, &manifest)))
}

fn check_source(profile: &Profile) -> Result<()> {
    match fs::metadata(&profile.source) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::SourceMissing { path: profile.source.clone(), cause: "is not a folder".into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist — check `source` in the config, or connect its drive".into(),
        }),
        Err(e) => Err(Error::io("read source", &profile.source, e)),
    }
}

/// The destination must exist, or at least its parent must: a missing parent means the
/// drive is not mounted, and creating a look-alike on the system disk would be wrong.
pub(crate) fn prepare_destination(dest: &Path) -> Result<()> {
    match fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::DestinationUnavailable { path: dest.to_path_buf(), cause: "is not a folder".into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = dest.parent().filter(|p| p.is_dir()).ok_or_else(|| Error::DestinationUnavailable {
                path: dest.to_path_buf(),
                cause: format!(
                    "does not exist and neither does its parent {} — is the drive connected?",
                    dest.parent().unwrap_or(dest).display()
                ),
            })?;
            fs::create_dir(dest).at("create destination", dest)?;
            fsutil::sync_dir(parent)
        }
        Err(e) => Err(Error::io("read destination", dest, e)),
    }
}

/// The newest complete backup, which unchanged files are hard-linked from.
struct Previous<'a> {
    dir: &'a Path,
    manifest: &'a Manifest,
    files: HashMap<&'a str, &'a FileEntry>,
}

impl<'a> Previous<'a> {
    fn new(dir: &'a Path, manifest: &'a Manifest) -> Self {
        let files = manifest.files.iter().filter(|e| e.kind == EntryKind::File).map(|e| (e.path.as_str(), e)).collect();
        Previous { dir, manifest, files }
    }

    /// The previous entry of a plain file with the same size and mtime.
    fn unchanged(&self, f: &Found) -> Option<&'a FileEntry> {
        self.files.get(f.rel.as_str()).copied().filter(|e| e.size == f.size && e.mtime_ns == f.mtime_ns)
    }
}

/// One thing found in the source.
#[derive(Debug)]
struct Found {
    rel: String,
    kind: EntryKind,
    size: u64,
    mtime_ns: i128,
    mode: Option<u32>,
    target: Option<String>,
    item: usize,
}

/// Everything to back up, found before anything is written.
struct Scan {
    source: PathBuf,
    items: Vec<String>,
    found: Vec<Found>,
}

impl Scan {
    /// Finds everything to back up. `previous` saves sniffing the header of files it
    /// already knows as plain and unchanged.
    fn run(profile: &Profile, previous: Option<&Previous>) -> Result<Scan> {
        let excludes = build_excludes(&profile.exclude)?;
        let items: Vec<String> = if profile.include.is_empty() {
            let mut names = Vec::new();
            for entry in fs::read_dir(&profile.source).at("read source", &profile.source)? {
                let entry = entry.at("read source", &profile.source)?;
                names.push(utf8_name(&entry.path(), &entry.file_name())?);
            }
            names.sort();
            names.into_iter().filter(|n| !excludes.is_match(n) && !crate::restore::is_restore_leftover(n)).collect()
        } else {
            profile.include.iter().map(|i| i.trim_end_matches('/').to_string()).collect()
        };
        let mut found = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let root = profile.source.join(item);
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
            // An item that is itself a symlink is stored as a link: never walked through,
            // so nothing is ever read from, or written to, where it points.
            let walker = walkdir::WalkDir::new(&root)
                .follow_links(false)
                .follow_root_links(false)
                .sort_by_file_name()
                .into_iter();
            let walker = walker.filter_entry(|e| {
                let rel = e.path().strip_prefix(&profile.source).unwrap_or(e.path());
                let name = e.file_name().to_string_lossy();
                e.depth() == 0
                    || !(excludes.is_match(rel)
                        || excludes.is_match(e.file_name())
                        || crate::restore::is_restore_leftover(&name))
            });
            for entry in walker {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&root).to_path_buf();
                    match e.into_io_error() {
                        Some(io) => Error::io("read", &path, io),
                        None => Error::invalid(format!("cannot read {}: filesystem loop", path.display())),
                    }
                })?;
                let abs = entry.path().to_path_buf();
                let rel = relative(&profile.source, &abs)?;
                let meta = entry.metadata().map_err(|e| {
                    Error::io("read", &abs, e.into_io_error().unwrap_or_else(|| io::Error::other("unreadable")))
                })?;
                let ft = meta.file_type();
                let (kind, target) = if ft.is_dir() {
                    (EntryKind::Dir, None)
                } else if ft.is_symlink() {
                    let t = fs::read_link(&abs).at("read link", &abs)?;
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
                    mtime_ns: mtime_ns(&meta),
                    mode: mode_of(&meta),
                    kind,
                    target,
                    item: index,
                });
            }
        }
        let mut scan = Scan { source: profile.source.clone(), items, found };
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
        let mut db_paths = std::collections::HashSet::new();
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

    fn files_total(&self) -> u64 {
        self.found.iter().filter(|f| matches!(f.kind, EntryKind::File | EntryKind::Database)).count() as u64
    }

    fn bytes_total(&self) -> u64 {
        self.found.iter().map(|f| f.size).sum()
    }

    /// Whether the source is as `m` recorded it: same entries, sizes, mtimes, link
    /// targets, and database fingerprints.
    fn unchanged_since(&self, m: &Manifest) -> bool {
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

fn build_excludes(globs: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| Error::invalid(format!("exclude pattern \"{g}\": {e}")))?);
    }
    b.build().map_err(|e| Error::invalid(format!("exclude patterns: {e}")))
}

fn utf8_name(path: &Path, name: &std::ffi::OsStr) -> Result<String> {
    name.to_str().map(str::to_string).ok_or_else(|| {
        Error::invalid(format!("cannot back up {}: its name is not valid UTF-8 — rename it", path.display()))
    })
}

/// `abs` relative to `base`, with `/` separators on every platform.
fn relative(base: &Path, abs: &Path) -> Result<String> {
    let rel = abs.strip_prefix(base).map_err(|_| Error::invalid(format!("{} is outside the source", abs.display())))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(utf8_name(abs, c.as_os_str())?);
    }
    Ok(parts.join("/"))
}

pub fn mtime_ns(meta: &Metadata) -> i128 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        },
        Err(_) => 0,
    }
}

pub fn system_time(ns: i128) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos((-ns) as u64)
    }
}

fn mode_of(meta: &Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Counts progress from worker threads and reports at most ten times a second.
struct Reporter<'a> {
    progress: &'a dyn Progress,
    phase: Phase,
    files_total: u64,
    bytes_total: u64,
    files: AtomicU64,
    bytes: AtomicU64,
    last: Mutex<Instant>,
}

impl<'a> Reporter<'a> {
    fn new(progress: &'a dyn Progress, phase: Phase, files_total: u64, bytes_total: u64) -> Self {
        Reporter {
            progress,
            phase,
            files_total,
            bytes_total,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last: Mutex::new(Instant::now() - Duration::from_secs(1)),
        }
    }

    fn add(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let due = match self.last.try_lock() {
            Ok(mut last) if last.elapsed() >= Duration::from_millis(100) => {
                *last = Instant::now();
                true
            }
            _ => false,
        };
        if due {
            self.send();
        }
    }

    fn send(&self) {
        self.progress.update(&ProgressUpdate {
            phase: self.phase,
            files_done: self.files.load(Ordering::Relaxed),
            files_total: self.files_total,
            bytes_done: self.bytes.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
        });
    }
}

/// Writes every scanned entry into `staging` and returns the manifest (times unset).
fn write_tree(
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
            EntryKind::Symlink => make_symlink(f.target.as_deref().unwrap_or_default(), &dst)?,
            _ => {}
        }
    }
    let reporter = Reporter::new(progress, Phase::Copying, scan.files_total(), scan.bytes_total());
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
                    reporter.add(1, f.size);
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
                    reporter.add(1, f.size);
                    r
                })
                .collect::<Result<Vec<(FileEntry, DatabaseInfo)>>>()
        },
    );
    reporter.send();

    // Both lists come back in scan order, so one ordered pass merges them.
    let (db_entries, databases): (Vec<FileEntry>, Vec<DatabaseInfo>) = db_entries?.into_iter().unzip();
    if let Some(e) = file_entries.iter().position(Result::is_err) {
        return Err(file_entries.into_iter().nth(e).expect("position is in range").expect_err("an error"));
    }
    let mut stored_files = file_entries.into_iter().map(|r| r.expect("errors were returned above"));
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
        host: crate::history::host_name(),
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
    let copied = copy_file(&source.join(&f.rel), &dst)?;
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
        blake3: Some(copied.blake3),
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

/// Files up to this size are copied in one read-hash-write pass; larger ones through the
/// OS's fast path, then hashed from the page cache.
const SMALL_FILE: u64 = 1 << 20;

/// What [`copy_file`] stored.
pub(crate) struct Copied {
    pub blake3: Hash,
    pub size: u64,
    /// The source's mtime as copied.
    pub mtime_ns: i128,
    /// Whether the source held still while it was copied.
    pub stable: bool,
}

/// Copies `src` to the new file `dst`, keeping its mode and mtime, and copies it again if
/// the source changed meanwhile. Small files take one pass that hashes what it writes;
/// large ones use the OS's fast path (`copy_file_range` or a reflink on Linux,
/// `clonefile` on macOS) and are hashed from the copy.
pub(crate) fn copy_file(src: &Path, dst: &Path) -> Result<Copied> {
    let mut attempt = 1;
    loop {
        let mut from = fs::File::open(src).at("read", src)?;
        let before = from.metadata().at("read", src)?;
        let mut to;
        let mut hash = None;
        if before.len() <= SMALL_FILE {
            let mut buf = Vec::with_capacity(before.len() as usize + 1);
            io::Read::read_to_end(&mut from, &mut buf).at("read", src)?;
            hash = Some(Hash::from(blake3::hash(&buf)));
            to = fs::File::create(dst).at("write", dst)?;
            io::Write::write_all(&mut to, &buf).at("write", dst)?;
            to.set_permissions(before.permissions()).at("set permissions of", dst)?;
        } else {
            drop(from);
            fs::copy(src, dst).map_err(|e| copy_error(src, dst, e))?;
            to = fs::OpenOptions::new().write(true).open(dst).at("open", dst)?;
        }
        let after = fs::metadata(src).at("read", src)?;
        let stable = after.len() == before.len() && mtime_ns(&after) == mtime_ns(&before);
        if stable || attempt == COPY_ATTEMPTS {
            if let Ok(t) = before.modified() {
                to.set_modified(t).at("set time of", dst)?;
            }
            if fsutil::FSYNC_EACH_FILE {
                to.sync_all().at("sync", dst)?;
            }
            let size = to.metadata().at("read", dst)?.len();
            drop(to);
            let blake3 = match hash {
                Some(h) => h,
                None => hash_file(dst)?,
            };
            return Ok(Copied { blake3, size, mtime_ns: mtime_ns(&before), stable });
        }
        tracing::info!("{} changed while it was copied (attempt {attempt})", src.display());
        attempt += 1;
    }
}

/// A copy error names the side that failed: reading the source or writing the backup.
fn copy_error(src: &Path, dst: &Path, e: io::Error) -> Error {
    let readable = fs::File::open(src).and_then(|mut f| io::Read::read(&mut f, &mut [0u8; 1]));
    match readable {
        Err(read_err) => Error::io("read", src, read_err),
        Ok(_) => Error::io("write", dst, e),
    }
}

pub fn hash_file(path: &Path) -> Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).at("read", path)?;
    Ok(hasher.finalize().into())
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
    if fsutil::FSYNC_EACH_FILE {
        file.sync_all().at("sync", &dst)?;
    }
    let size = file.metadata().at("read", &dst)?.len();
    drop(file);
    // Hash and check the copy at once: both read it, from the page cache.
    let (hash, stats) = rayon::join(|| hash_file(&dst), || sqlite::stats(&dst));
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
        blake3: Some(hash),
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

pub(crate) fn make_symlink(target: &str, link: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link).at("create symlink", link)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::symlink_file(target, link).at("create symlink", link)
    }
}
