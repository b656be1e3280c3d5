//! Restore, safely: verify the backup, take a safety snapshot of the current data, then
//! put databases back through SQLite and folders back through a staging copy swapped in.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::{self, BackupKind};
use crate::config::{resolve_lexically, Profile};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::lock::DestinationLock;
use crate::manifest::{in_item, EntryKind, FileEntry, Manifest, Trigger};
use crate::progress::{Phase, Progress, ProgressUpdate};
use crate::snapshot::{self, mtime_ns, system_time};
use crate::sqlite;
use crate::verify::{self, unsafe_path};

/// Staging and old copies of a folder during its swap, beside it in the source.
const RESTORE_SUFFIX: &str = ".lifeboat-restore";
const OLD_SUFFIX: &str = ".lifeboat-old";

/// What a restore would change, counted against the live data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    pub name: String,
    /// Files that changed since the backup: put back.
    pub put_back: u64,
    /// Files deleted since the backup: brought back.
    pub bring_back: u64,
    /// Files added since the backup: removed (kept in the safety snapshot).
    pub remove: u64,
    pub unchanged: u64,
    /// Databases that will be replaced.
    pub databases: Vec<String>,
    pub items: Vec<String>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    pub name: String,
    /// The `pre-restore_*` snapshot of the data as it was; restore it to undo.
    pub safety_snapshot: Option<String>,
    /// Files that had changed since the backup and were put back (as in the plan).
    pub put_back: u64,
    /// Files that had been deleted since the backup and came back (as in the plan).
    pub brought_back: u64,
    /// Every file written from the backup (changed or not: folders are swapped whole).
    pub files_restored: u64,
    /// Files added since the backup, removed (they are in the safety snapshot).
    pub files_removed: u64,
    pub databases_restored: Vec<String>,
}

/// Whether `name` is a staging or old folder of an interrupted restore.
pub fn is_restore_leftover(name: &str) -> bool {
    name.starts_with('.') && (name.ends_with(RESTORE_SUFFIX) || name.ends_with(OLD_SUFFIX))
}

/// The backup's items: its include list, or every top-level entry it holds.
fn items_of(m: &Manifest) -> Vec<String> {
    if m.include.is_empty() {
        m.items.iter().map(|i| i.item.clone()).collect()
    } else {
        m.include.iter().map(|i| i.trim_end_matches('/').to_string()).collect()
    }
}

/// Refuses manifest paths that are absolute, contain `..`, pass through a symlink the
/// backup itself creates, or lie outside the backup's items; and live parents of items
/// that are symlinks leading out of the source.
fn check_paths(backup: &Path, m: &Manifest, profile: &Profile) -> Result<()> {
    let refuse = |entry: &str, why: &'static str| Error::UnsafePath {
        backup: backup.to_path_buf(),
        entry: entry.to_string(),
        why,
    };
    let items = items_of(m);
    for item in &items {
        if let Some(why) = unsafe_path(item) {
            return Err(refuse(item, why));
        }
    }
    let links: HashSet<&str> =
        m.files.iter().filter(|f| f.kind == EntryKind::Symlink).map(|f| f.path.as_str()).collect();
    for f in m.files.iter().map(|f| f.path.as_str()).chain(m.databases.iter().map(|d| d.path.as_str())) {
        if let Some(why) = unsafe_path(f) {
            return Err(refuse(f, why));
        }
        if !items.iter().any(|i| in_item(f, i)) {
            return Err(refuse(f, "outside the backed-up items"));
        }
        let mut prefix = String::new();
        for part in f.split('/').take(f.split('/').count() - 1) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if links.contains(prefix.as_str()) {
                return Err(refuse(f, "would write through a symlink"));
            }
        }
    }
    let source = resolve_lexically(&profile.source);
    for item in &items {
        let live = profile.source.join(item);
        let parent = live.parent().unwrap_or(&profile.source);
        if !resolve_lexically(parent).starts_with(&source) {
            return Err(refuse(item, "would write through a symlink outside the source"));
        }
    }
    Ok(())
}

/// Counts what restoring `name` would change. Changes nothing.
pub fn plan(profile: &Profile, name: &str) -> Result<RestorePlan> {
    let dir = catalog::backup_dir(&profile.destination, name)?;
    let m = Manifest::read(&dir)?;
    check_paths(&dir, &m, profile)?;
    let items = items_of(&m);
    let mut plan = RestorePlan {
        name: name.to_string(),
        put_back: 0,
        bring_back: 0,
        remove: 0,
        unchanged: 0,
        databases: m.databases.iter().map(|d| d.path.clone()).collect(),
        items: items.clone(),
    };
    let listed: HashSet<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    for f in m.files.iter().filter(|f| f.kind == EntryKind::File) {
        let live = profile.source.join(&f.path);
        match fs::symlink_metadata(&live) {
            Ok(meta) if meta.is_file() && meta.len() == f.size => {
                let same = mtime_ns(&meta) == f.mtime_ns || snapshot::hash_file(&live).ok() == f.blake3;
                if same {
                    plan.unchanged += 1;
                } else {
                    plan.put_back += 1;
                }
            }
            Ok(_) => plan.put_back += 1,
            Err(_) => plan.bring_back += 1,
        }
    }
    for_each_live_extra(profile, &items, &listed, |_| plan.remove += 1)?;
    for added in top_level_additions(profile, &m)? {
        plan.remove += count_files(&added);
    }
    Ok(plan)
}

/// For a whole-source backup: the top-level entries of the source added since (not in
/// the backup, not excluded, not a database companion, not Lifeboat's own leftovers).
fn top_level_additions(profile: &Profile, m: &Manifest) -> Result<Vec<PathBuf>> {
    if !m.include.is_empty() {
        return Ok(Vec::new());
    }
    let items = items_of(m);
    let keep: HashSet<&str> = items.iter().map(String::as_str).collect();
    let excludes = exclude_set(profile);
    let destination = resolve_lexically(&profile.destination);
    let mut out = Vec::new();
    for entry in fs::read_dir(&profile.source).at("read", &profile.source)? {
        let entry = entry.at("read", &profile.source)?;
        let n = entry.file_name().to_string_lossy().into_owned();
        let ours = is_restore_leftover(&n) || sqlite::companion_of(&n).is_some_and(|db| keep.contains(db));
        if keep.contains(n.as_str()) || ours || excludes.is_match(&n) {
            continue;
        }
        if resolve_lexically(&entry.path()).starts_with(&destination) {
            continue;
        }
        out.push(entry.path());
    }
    Ok(out)
}

/// Files (and links) in a tree, counted as a restore removes them.
fn count_files(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .follow_root_links(false)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .count() as u64
}

/// Calls `f` for each live file under the items that the backup does not hold (files
/// added since), leaving out database companions and excluded names.
fn for_each_live_extra(
    profile: &Profile,
    items: &[String],
    listed: &HashSet<&str>,
    mut f: impl FnMut(&Path),
) -> Result<()> {
    let excludes = exclude_set(profile);
    for item in items {
        let root = profile.source.join(item);
        if fs::symlink_metadata(&root).is_err() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&root).follow_links(false).follow_root_links(false) {
            let entry = entry.map_err(|e| Error::invalid(format!("cannot read {}: {e}", root.display())))?;
            if entry.file_type().is_dir() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&profile.source) else { continue };
            let rel_s = rel.to_string_lossy().replace('\\', "/");
            let name = entry.file_name().to_string_lossy();
            if listed.contains(rel_s.as_str())
                || sqlite::companion_of(&rel_s).is_some_and(|db| listed.contains(db))
                || excludes.is_match(rel)
                || excludes.is_match(name.as_ref())
            {
                continue;
            }
            f(entry.path());
        }
    }
    Ok(())
}

fn exclude_set(profile: &Profile) -> globset::GlobSet {
    let mut b = globset::GlobSetBuilder::new();
    for g in &profile.exclude {
        if let Ok(g) = globset::Glob::new(g) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| globset::GlobSet::empty())
}

/// Restores backup `name` into the profile's source. See the module doc.
/// `damaged` names backups a verify found damaged, never linked from by the safety snapshot.
pub fn restore(profile: &Profile, name: &str, progress: &dyn Progress, damaged: &[String]) -> Result<RestoreReport> {
    let dir = catalog::backup_dir(&profile.destination, name)?;
    let _lock = DestinationLock::acquire(&profile.destination, "a restore")?;
    catalog::remove_leftovers(&profile.destination)?;
    let report = verify::verify(&dir, progress)?;
    if !report.ok {
        let all = report.describe();
        return Err(Error::Damaged { path: dir, problems: all.len(), first: all[0].clone(), all });
    }
    let m = Manifest::read(&dir)?;
    check_paths(&dir, &m, profile)?;
    let items = items_of(&m);
    if !profile.source.is_dir() {
        return Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist — create it or connect its drive, then retry".into(),
        });
    }
    recover_interrupted(profile, &items)?;
    let before = plan(profile, name)?;
    // Fail early, before anything changes, when a database is held by another program.
    for db in &m.databases {
        let live = profile.source.join(&db.path);
        if items.contains(&db.path) && sqlite::is_database(&live) {
            ensure_not_locked(&live)?;
        }
    }

    let safety = take_safety_snapshot(profile, &m, &items, name, progress, damaged)?;
    let undo = |e: Error| match &safety {
        Some(s) => Error::invalid(format!(
            "restore of {name} stopped part-way: {e} — your data as it was before is in {s}; restore it to go back"
        )),
        None => e,
    };

    let total_files = m.files.iter().filter(|f| matches!(f.kind, EntryKind::File | EntryKind::Database)).count() as u64;
    let total_bytes: u64 = m.files.iter().map(|f| f.size).sum();
    let mut done = (0u64, 0u64);
    let mut tick = |files: u64, bytes: u64| {
        done.0 += files;
        done.1 += bytes;
        progress.update(&ProgressUpdate {
            phase: Phase::Restoring,
            files_done: done.0,
            files_total: total_files,
            bytes_done: done.1,
            bytes_total: total_bytes,
        });
    };

    let mut databases_restored = Vec::new();
    let mut files_restored = 0;
    for item in &items {
        let entry = m.files.iter().find(|f| f.path == *item);
        let live = profile.source.join(item);
        match entry.map(|e| e.kind) {
            Some(EntryKind::Database) => {
                let e = entry.expect("found");
                restore_database(&dir.join(item), &live, e).map_err(undo)?;
                databases_restored.push(item.clone());
                files_restored += 1;
                tick(1, e.size);
            }
            Some(EntryKind::File) | Some(EntryKind::Symlink) => {
                let e = entry.expect("found");
                replace_single(&dir, &live, e).map_err(undo)?;
                files_restored += 1;
                tick(1, e.size);
            }
            Some(EntryKind::Dir) => {
                let entries: Vec<&FileEntry> = m.files.iter().filter(|f| in_item(&f.path, item)).collect();
                let kept = keep_excluded(profile, item).map_err(undo)?;
                let n = restore_folder(&dir, &profile.source, item, &entries, &kept, &mut tick).map_err(undo)?;
                databases_restored
                    .extend(entries.iter().filter(|f| f.kind == EntryKind::Database).map(|f| f.path.clone()));
                files_restored += n;
            }
            None => {}
        }
    }
    // Whole-source backups: top-level entries added since are removed too.
    for path in top_level_additions(profile, &m)? {
        if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path).at("remove", &path)?;
        } else {
            fs::remove_file(&path).at("remove", &path)?;
        }
    }
    fsutil::sync_tree(&profile.source)?;
    fsutil::sync_dir(&profile.source)?;
    if let Err(e) = catalog::rotate_keeping(&profile.destination, BackupKind::PreRestore, catalog::KEEP_SAFETY, &[]) {
        tracing::error!("rotation of safety snapshots failed: {e}");
    }
    // The files added since were counted by the plan, before the folders were swapped.
    let files_removed = before.remove;
    tracing::info!(
        "restored {name}: {files_restored} files, {files_removed} removed, databases {databases_restored:?}"
    );
    Ok(RestoreReport {
        name: name.to_string(),
        safety_snapshot: safety,
        put_back: before.put_back,
        brought_back: before.bring_back,
        files_restored,
        files_removed,
        databases_restored,
    })
}

/// The snapshot of the items as they are now, so the restore itself can be undone.
fn take_safety_snapshot(
    profile: &Profile,
    m: &Manifest,
    items: &[String],
    restoring: &str,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<Option<String>> {
    let present: Vec<String> =
        items.iter().filter(|i| fs::symlink_metadata(profile.source.join(i)).is_ok()).cloned().collect();
    if present.is_empty() && !m.include.is_empty() {
        return Ok(None);
    }
    let mut p = profile.clone();
    p.include = if m.include.is_empty() { Vec::new() } else { present };
    let info =
        snapshot::create_locked(&p, Trigger::PreRestore, BackupKind::PreRestore, progress, &[restoring], damaged)?
            .expect("a pre-restore snapshot is never skipped");
    Ok(Some(info.name))
}

/// Fails with "in use" when another program holds a write lock past the busy timeout.
fn ensure_not_locked(live: &Path) -> Result<()> {
    let conn = rusqlite::Connection::open(live)
        .map_err(|e| Error::Database { path: live.to_path_buf(), message: e.to_string() })?;
    conn.busy_timeout(sqlite::BUSY_TIMEOUT)
        .map_err(|e| Error::Database { path: live.to_path_buf(), message: e.to_string() })?;
    match conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ) =>
        {
            Err(Error::DatabaseBusy { path: live.to_path_buf() })
        }
        Err(e) => Err(Error::Database { path: live.to_path_buf(), message: e.to_string() }),
    }
}

/// Puts a database back: through SQLite into a live database (readers see a consistent
/// switch), or as a file swapped in when there is no usable live database; stale
/// `-wal`/`-shm` never survive next to a swapped-in file.
fn restore_database(backup_file: &Path, live: &Path, entry: &FileEntry) -> Result<()> {
    if sqlite::is_database(live) {
        match sqlite::restore_into(backup_file, live) {
            Ok(()) => return Ok(()),
            Err(e @ Error::DatabaseBusy { .. }) => return Err(e),
            Err(e) => tracing::warn!("restoring {} through SQLite failed ({e}); replacing the file", live.display()),
        }
    }
    for suffix in sqlite::COMPANION_SUFFIXES {
        let mut p = live.as_os_str().to_os_string();
        p.push(suffix);
        match fs::remove_file(PathBuf::from(&p)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", PathBuf::from(p), e)),
        }
    }
    replace_single(
        backup_file.parent().unwrap_or(backup_file),
        live,
        &FileEntry { path: file_name(backup_file), ..entry.clone() },
    )
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Replaces one file or symlink by the backup's, through a temp name and a rename.
fn replace_single(backup_dir: &Path, live: &Path, e: &FileEntry) -> Result<()> {
    let parent = live.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).at("create folder", parent)?;
    let tmp = parent.join(format!(".{}{RESTORE_SUFFIX}", file_name(live)));
    let _ = fs::remove_file(&tmp);
    put_entry(backup_dir, &tmp, e)?;
    if fs::symlink_metadata(live).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(live).at("remove", live)?;
    }
    fs::rename(&tmp, live).at("move into place", live)?;
    fsutil::sync_dir(parent)
}

/// Writes one manifest entry from the backup at `to`: files are copied (never linked,
/// so the backup stays independent of the live data) with their mtime and mode.
fn put_entry(backup_dir: &Path, to: &Path, e: &FileEntry) -> Result<()> {
    match e.kind {
        EntryKind::Dir => fs::create_dir(to).at("create folder", to),
        EntryKind::Symlink => snapshot::make_symlink(e.target.as_deref().unwrap_or_default(), to),
        EntryKind::File | EntryKind::Database => {
            let from = backup_dir.join(&e.path);
            fs::copy(&from, to).map_err(|err| Error::io("restore", to, err))?;
            let f = fs::OpenOptions::new().write(true).open(to).at("open", to)?;
            f.set_modified(system_time(e.mtime_ns)).at("set time of", to)?;
            #[cfg(unix)]
            if let Some(mode) = e.mode {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(fs::Permissions::from_mode(mode)).at("set permissions of", to)?;
            }
            if fsutil::FSYNC_EACH_FILE {
                f.sync_all().at("sync", to)?;
            }
            Ok(())
        }
    }
}

/// Excluded files inside a folder item are not in any backup; they are carried over
/// into the restored folder rather than lost. Returns their relative paths.
fn keep_excluded(profile: &Profile, item: &str) -> Result<Vec<String>> {
    if profile.exclude.is_empty() {
        return Ok(Vec::new());
    }
    let excludes = exclude_set(profile);
    let root = profile.source.join(item);
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&root).follow_links(false).follow_root_links(false).into_iter().flatten() {
        let Ok(rel) = entry.path().strip_prefix(&profile.source) else { continue };
        if entry.file_type().is_file() && (excludes.is_match(rel) || excludes.is_match(entry.file_name())) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(out)
}

/// Builds the folder `item` from the backup in a staging folder beside the live one,
/// then swaps it in: atomically where the OS can exchange two paths, else by two renames
/// that [`recover_interrupted`] can finish after a crash.
fn restore_folder(
    backup: &Path,
    source: &Path,
    item: &str,
    entries: &[&FileEntry],
    keep: &[String],
    tick: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let live = source.join(item);
    let (staging, old) = swap_names(&live);
    if staging.exists() {
        fs::remove_dir_all(&staging).at("remove leftover", &staging)?;
    }
    let mut by_path: HashMap<&str, &FileEntry> = HashMap::new();
    for e in entries {
        by_path.insert(e.path.as_str(), e);
    }
    let mut n = 0;
    for e in entries {
        let rest = e.path.strip_prefix(item).unwrap_or("").trim_start_matches('/');
        let to = if rest.is_empty() { staging.clone() } else { staging.join(rest) };
        put_entry(backup, &to, e)?;
        if matches!(e.kind, EntryKind::File | EntryKind::Database) {
            n += 1;
            tick(1, e.size);
        }
    }
    for rel in keep {
        let rest = rel.strip_prefix(item).unwrap_or(rel).trim_start_matches('/');
        let to = staging.join(rest);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at("create folder", parent)?;
        }
        fs::copy(source.join(rel), &to).at("carry over excluded file", &to)?;
    }
    // Folder times were disturbed by filling them; put them back.
    for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
        let rest = e.path.strip_prefix(item).unwrap_or("").trim_start_matches('/');
        let p = if rest.is_empty() { staging.clone() } else { staging.join(rest) };
        if let Ok(f) = fs::File::open(&p) {
            let _ = f.set_modified(system_time(e.mtime_ns));
        }
    }
    fsutil::sync_tree(&staging)?;
    if fs::symlink_metadata(&live).is_ok() {
        swap(&staging, &live, &old)?;
        fs::remove_dir_all(&old).at("remove the replaced folder", &old)?;
    } else {
        fs::rename(&staging, &live).at("move into place", &live)?;
    }
    fsutil::sync_dir(live.parent().unwrap_or(source))?;
    Ok(n)
}

fn swap_names(live: &Path) -> (PathBuf, PathBuf) {
    let parent = live.parent().unwrap_or(Path::new("."));
    let name = file_name(live);
    (parent.join(format!(".{name}{RESTORE_SUFFIX}")), parent.join(format!(".{name}{OLD_SUFFIX}")))
}

/// Puts `staging` at `live`, leaving the previous `live` at `old`.
fn swap(staging: &Path, live: &Path, old: &Path) -> Result<()> {
    if exchange(staging, live).is_ok() {
        return fs::rename(staging, old).at("set aside the replaced folder", old);
    }
    fs::rename(live, old).at("set aside", live)?;
    fs::rename(staging, live).at("move into place", live)
}

/// Atomically exchanges two paths where the OS offers it.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let ca = CString::new(a.as_os_str().as_bytes())?;
        let cb = CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: both are valid NUL-terminated paths.
        #[cfg(target_os = "linux")]
        let rc =
            unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
        #[cfg(target_os = "macos")]
        let rc = unsafe { libc::renamex_np(ca.as_ptr(), cb.as_ptr(), libc::RENAME_SWAP) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = (a, b);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Finishes or undoes a folder swap that a crash interrupted: a live folder missing with
/// its old copy present gets the old copy back (the restore then runs again); staging
/// and old leftovers are removed.
fn recover_interrupted(profile: &Profile, items: &[String]) -> Result<()> {
    for item in items {
        let live = profile.source.join(item);
        let (staging, old) = swap_names(&live);
        if fs::symlink_metadata(&live).is_err() && old.exists() {
            tracing::warn!("an interrupted restore left {} aside; putting it back", old.display());
            fs::rename(&old, &live).at("put back", &live)?;
        }
        for leftover in [staging, old] {
            if fs::symlink_metadata(&leftover).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(&leftover).at("remove leftover", &leftover)?;
            } else if leftover.exists() {
                fs::remove_file(&leftover).at("remove leftover", &leftover)?;
            }
        }
    }
    Ok(())
}
