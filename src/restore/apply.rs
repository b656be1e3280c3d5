//! The steps that change the live data: databases put back through SQLite, single files
//! replaced through a temporary name, folders built beside the live one and swapped in,
//! and the recovery of a swap a crash interrupted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::{restore_swap_names, RESTORE_SUFFIX};
use crate::manifest::{decode_rel, encode_rel, join_rel, EntryKind, FileEntry};
use crate::selection::Selection;
use crate::sqlite;

/// Fails with "in use" when another program holds a write lock past the busy timeout.
pub(super) fn ensure_not_locked(live: &Path) -> Result<()> {
    let db = |e: rusqlite::Error| Error::Database { path: live.to_path_buf(), message: e.to_string() };
    let conn = rusqlite::Connection::open(live).map_err(db)?;
    conn.busy_timeout(sqlite::BUSY_TIMEOUT).map_err(db)?;
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
        Err(e) => Err(db(e)),
    }
}

/// Puts a database back: through SQLite into a live database (readers see a consistent
/// switch), or as a file swapped in when there is no usable live database; stale
/// `-wal`/`-shm` never survive next to a swapped-in file.
pub(super) fn restore_database(backup_file: &Path, live: &Path, entry: &FileEntry) -> Result<()> {
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
    let name = encode_rel(Path::new(backup_file.file_name().unwrap_or_default()));
    replace_single(backup_file.parent().unwrap_or(backup_file), live, &FileEntry { path: name, ..entry.clone() })
}

/// Replaces one file or symlink by the backup's, through a temp name and a rename.
pub(super) fn replace_single(backup_dir: &Path, live: &Path, e: &FileEntry) -> Result<()> {
    let parent = live.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).at("create folder", parent)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(live.file_name().unwrap_or_default());
    tmp_name.push(RESTORE_SUFFIX);
    let tmp = parent.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    put_entry(backup_dir, &tmp, e)?;
    if fs::symlink_metadata(live).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(live).at("remove", live)?;
    }
    fs::rename(&tmp, live).at("move into place", live)?;
    fsx::sync_dir(parent)
}

/// Writes one manifest entry from the backup at `to`: files are copied (never linked,
/// so the backup stays independent of the live data) with their mtime and mode.
fn put_entry(backup_dir: &Path, to: &Path, e: &FileEntry) -> Result<()> {
    match e.kind {
        EntryKind::Dir => fs::create_dir(to).at("create folder", to),
        EntryKind::Symlink => {
            let target = e.target.as_deref().unwrap_or_default();
            fsx::make_symlink(&decode_rel(target).unwrap_or_else(|| PathBuf::from(target)), to)
        }
        EntryKind::File | EntryKind::Database => {
            let from = join_rel(backup_dir, &e.path).unwrap_or_else(|| backup_dir.join(&e.path));
            fsx::copy_file(&from, to).map_err(|err| match err {
                fsx::CopyError::Source(err) => Error::io("read", &from, err),
                fsx::CopyError::Destination(err) => err,
            })?;
            let f = fs::OpenOptions::new().write(true).open(to).at("open", to)?;
            f.set_modified(fsx::system_time(e.mtime_ns)).at("set time of", to)?;
            #[cfg(unix)]
            if let Some(mode) = e.mode {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(fs::Permissions::from_mode(mode)).at("set permissions of", to)?;
            }
            if fsx::FSYNC_EACH_FILE {
                f.sync_all().at("sync", to)?;
            }
            Ok(())
        }
    }
}

/// Excluded files inside a folder item are not in any backup; they are carried over
/// into the restored folder rather than lost. Returns their paths relative to `live`.
pub(super) fn keep_excluded(selection: &Selection, live: &Path) -> Vec<PathBuf> {
    if !selection.has_excludes() {
        return Vec::new();
    }
    let source = selection.source();
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(live).follow_links(false).follow_root_links(false).into_iter().flatten() {
        let rel = entry.path().strip_prefix(source).unwrap_or(entry.path());
        if entry.file_type().is_file() && selection.excluded(rel) {
            out.push(entry.path().strip_prefix(live).unwrap_or(entry.path()).to_path_buf());
        }
    }
    out
}

/// Builds the folder `item` from the backup in a staging folder beside the live one,
/// then swaps it in: atomically where the OS can exchange two paths, else by two renames
/// that [`recover_interrupted`] can finish after a crash. Returns the files written.
pub(super) fn restore_folder(
    backup: &Path,
    live: &Path,
    item: &str,
    entries: &[&FileEntry],
    keep: &[PathBuf],
    tick: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let (staging, old) = restore_swap_names(live);
    if staging.exists() {
        fs::remove_dir_all(&staging).at("remove leftover", &staging)?;
    }
    let mut n = 0;
    let inside = |rel: &str| -> PathBuf {
        let rest = rel.strip_prefix(item).unwrap_or("").trim_start_matches('/');
        if rest.is_empty() {
            staging.clone()
        } else {
            join_rel(&staging, rest).unwrap_or_else(|| staging.join(rest))
        }
    };
    for e in entries {
        let to = inside(&e.path);
        put_entry(backup, &to, e)?;
        if matches!(e.kind, EntryKind::File | EntryKind::Database) {
            n += 1;
            tick(1, e.size);
        }
    }
    for rest in keep {
        let to = staging.join(rest);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).at("create folder", parent)?;
        }
        fs::copy(live.join(rest), &to).at("carry over excluded file", &to)?;
    }
    // Folder times were disturbed by filling them; put them back.
    for e in entries.iter().rev().filter(|e| e.kind == EntryKind::Dir) {
        if let Ok(f) = fs::File::open(inside(&e.path)) {
            let _ = f.set_modified(fsx::system_time(e.mtime_ns));
        }
    }
    fsx::sync_tree(&staging)?;
    if fs::symlink_metadata(live).is_ok() {
        swap(&staging, live, &old)?;
        fs::remove_dir_all(&old).at("remove the replaced folder", &old)?;
    } else {
        fs::rename(&staging, live).at("move into place", live)?;
    }
    fsx::sync_dir(live.parent().unwrap_or(Path::new(".")))?;
    Ok(n)
}

/// Puts `staging` at `live`, leaving the previous `live` at `old`.
fn swap(staging: &Path, live: &Path, old: &Path) -> Result<()> {
    if fsx::exchange(staging, live).is_ok() {
        return fs::rename(staging, old).at("set aside the replaced folder", old);
    }
    fs::rename(live, old).at("set aside", live)?;
    fs::rename(staging, live).at("move into place", live)
}

/// Finishes or undoes a folder swap that a crash interrupted: a live folder missing with
/// its old copy present gets the old copy back (the restore then runs again); staging
/// and old leftovers are removed.
pub(super) fn recover_interrupted(lives: &[PathBuf]) -> Result<()> {
    for live in lives {
        let (staging, old) = restore_swap_names(live);
        if fs::symlink_metadata(live).is_err() && old.exists() {
            tracing::warn!("an interrupted restore left {} aside; putting it back", old.display());
            fs::rename(&old, live).at("put back", live)?;
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
