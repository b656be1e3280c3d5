//! The steps that change the live data (or fill a `--to` folder): each file or link
//! replaced on its own through a synced temporary name renamed over it, databases put
//! back through SQLite, folders made, additions removed, folder times and modes set.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, CopyError};
use crate::layout::{is_restore_leftover, restore_swap_names, RESTORE_SUFFIX};
use crate::manifest::{decode_rel, join_rel, EntryKind, FileEntry};
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

/// Puts a database back: through SQLite into a live database (a program that has it
/// open sees the switch at once and keeps writing to the right file), or as a file put
/// in place when there is no usable live database; stale `-wal`/`-shm`/`-journal` never
/// survive next to a file put in place.
pub(super) fn restore_database(backup_dir: &Path, live: &Path, e: &FileEntry) -> Result<()> {
    if sqlite::is_database(live) {
        let copy = join_rel(backup_dir, &e.path).unwrap_or_else(|| backup_dir.join(&e.path));
        match sqlite::restore_into(&copy, live) {
            Ok(()) => return Ok(()),
            Err(e @ Error::DatabaseBusy { .. }) => return Err(e),
            Err(err) => {
                tracing::warn!("restoring {} through SQLite failed ({err}); replacing the file", live.display())
            }
        }
    }
    for suffix in sqlite::COMPANION_SUFFIXES {
        let mut p = live.as_os_str().to_os_string();
        p.push(suffix);
        match fs::remove_file(PathBuf::from(&p)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io("remove", PathBuf::from(p), err)),
        }
    }
    put(backup_dir, live, e)
}

/// The temporary name a file is written under beside `live`: `.<name>.lifeboat-restore`.
fn temp_name(live: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(live.file_name().unwrap_or_default());
    name.push(RESTORE_SUFFIX);
    live.with_file_name(name)
}

/// Replaces the file or link at `live` by the backup's entry `e`, at once: [`stage`]
/// then [`commit`].
pub(super) fn put(backup_dir: &Path, live: &Path, e: &FileEntry) -> Result<()> {
    let tmp = stage(backup_dir, live, e)?;
    if !fsx::FSYNC_EACH_FILE {
        fs::File::open(&tmp).and_then(|f| f.sync_all()).at("sync", &tmp)?;
    }
    commit(&tmp, live)?;
    fsx::sync_dir(live.parent().unwrap_or(Path::new(".")))
}

/// Writes the backup's entry `e` under a temporary name beside `live` (its time and mode
/// set) and returns that name. Nothing live changes yet; the caller syncs the staged
/// copies (one `syncfs` for all of them on Linux) before [`commit`] renames them over.
pub(super) fn stage(backup_dir: &Path, live: &Path, e: &FileEntry) -> Result<PathBuf> {
    let tmp = temp_name(live);
    let _ = fs::remove_file(&tmp);
    match e.kind {
        EntryKind::Symlink => {
            let target = e.target.as_deref().unwrap_or_default();
            fsx::make_symlink(&decode_rel(target).unwrap_or_else(|| PathBuf::from(target)), &tmp)?;
        }
        _ => {
            let from = join_rel(backup_dir, &e.path).unwrap_or_else(|| backup_dir.join(&e.path));
            fsx::copy_file(&from, &tmp).map_err(|err| match err {
                CopyError::Source(err) => Error::io("read", &from, err),
                CopyError::Destination(err) => err,
            })?;
            let f = fs::OpenOptions::new().write(true).open(&tmp).at("open", &tmp)?;
            f.set_modified(fsx::system_time(e.mtime_ns)).at("set time of", &tmp)?;
            #[cfg(unix)]
            if let Some(mode) = e.mode {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(fs::Permissions::from_mode(mode)).at("set permissions of", &tmp)?;
            }
            if fsx::FSYNC_EACH_FILE {
                f.sync_all().at("sync", &tmp)?;
            }
        }
    }
    Ok(tmp)
}

/// Renames the synced copy `tmp` over `live`: a crash leaves the old version or the new
/// one, never a mix. A folder in its way is removed first.
pub(super) fn commit(tmp: &Path, live: &Path) -> Result<()> {
    if fs::symlink_metadata(live).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(live).at("remove", live)?;
    }
    fs::rename(tmp, live).at("move into place", live)
}

/// Makes the folder `live`, removing a file or link in its way (never following it).
pub(super) fn make_dir(live: &Path) -> Result<()> {
    if fs::symlink_metadata(live).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(live).at("remove", live)?;
    }
    match fs::create_dir(live) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && live.is_dir() => Ok(()),
        Err(e) => Err(Error::io("create folder", live, e)),
    }
}

/// Removes what was added since the backup: a whole folder, or a file or link.
pub(super) fn remove(live: &Path) -> Result<()> {
    match fs::symlink_metadata(live) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(live).at("remove", live),
        Ok(_) => fs::remove_file(live).at("remove", live),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", live, e)),
    }
}

/// Sets a restored folder's time and mode as the backup recorded them.
pub(super) fn finish_dir(live: &Path, e: &FileEntry) {
    #[cfg(unix)]
    if let Some(mode) = e.mode {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(live, fs::Permissions::from_mode(mode));
    }
    if let Ok(f) = fs::File::open(live) {
        let _ = f.set_modified(fsx::system_time(e.mtime_ns));
    }
}

/// Removes what interrupted restores left under `root`: temporary files of a file being
/// replaced, and the staging and set-aside folders of the folder swaps older versions
/// made (a folder missing with its set-aside copy present gets that copy back first).
pub(super) fn clean_up(root: &Path) -> Result<()> {
    let (staging, old) = restore_swap_names(root);
    if fs::symlink_metadata(root).is_err() && old.exists() {
        tracing::warn!("an interrupted restore left {} aside; putting it back", old.display());
        fs::rename(&old, root).at("put back", root)?;
    }
    for leftover in [staging, old] {
        if fs::symlink_metadata(&leftover).is_ok() {
            remove(&leftover)?;
        }
    }
    if !fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let mut walk = walkdir::WalkDir::new(root).follow_links(false).min_depth(1).into_iter();
    while let Some(Ok(entry)) = walk.next() {
        if is_restore_leftover(&entry.file_name().to_string_lossy()) {
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
            remove(entry.path())?;
        }
    }
    Ok(())
}
