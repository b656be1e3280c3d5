//! Small file-system helpers shared by backup and restore: durable writes and syncing.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Writes `bytes` to `path` through a temp file in the same folder: fsync, rename, fsync folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // A bare file name has an empty parent: the current folder.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).at("create", &tmp)?;
        f.write_all(bytes).at("write", &tmp)?;
        f.sync_all().at("sync", &tmp)?;
        fs::rename(&tmp, path).at("rename into place", path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a new file and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).at("create", path)?;
    f.write_all(bytes).at("write", path)?;
    f.sync_all().at("sync", path)
}

/// Makes a folder's entries (creations, renames) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|f| f.sync_all()).at("sync folder", dir)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Flushes everything written under `dir` to stable storage.
///
/// On Linux one `syncfs` on the destination's file system does the work of an fsync per
/// file (the same as `sync` after `cp -a`); elsewhere each file was already fsynced as it
/// was written (see [`FSYNC_EACH_FILE`]).
pub fn sync_tree(dir: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let f = File::open(dir).at("open", dir)?;
        // SAFETY: syncfs takes a valid open descriptor and has no memory effects.
        let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
        if rc != 0 {
            return Err(crate::Error::io("sync", dir, std::io::Error::last_os_error()));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        sync_dir(dir)
    }
}

/// Whether each file must be fsynced as it is written (where there is no `syncfs`).
pub const FSYNC_EACH_FILE: bool = !cfg!(target_os = "linux");

/// Removes a folder tree, first renaming it so a half-removed tree never looks whole.
pub fn remove_tree_safely(path: &Path, hidden_name: &str) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let doomed = parent.join(hidden_name);
    fs::rename(path, &doomed).at("rename for removal", path)?;
    fs::remove_dir_all(&doomed).at("remove", &doomed)
}
