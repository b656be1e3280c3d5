//! File-system helpers every layer uses: hashing, times, modes, symlinks, durable
//! (synced, atomic) writes, the hashed file copy, the atomic exchange and the host name.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, IoContext, Result};

/// A BLAKE3 digest: 32 bytes. See <https://github.com/BLAKE3-team/BLAKE3>.
pub type Digest = [u8; 32];

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsynced, renamed
/// over `path`, then the folder fsynced. A crash leaves the old file or the new one.
///
/// # Errors
/// The write, sync or rename failing, named with `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // A bare file name has an empty parent: the current folder.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".lifeboat-").tempfile_in(dir).at("create a file in", dir)?;
    tmp.write_all(bytes).at("write", tmp.path())?;
    tmp.as_file().sync_all().at("sync", tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io("rename into place", path, e.error))?;
    sync_dir(dir)
}

/// Writes the new file `path` and fsyncs it.
///
/// # Errors
/// Creating, writing or syncing `path` failing.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).at("create", path)?;
    f.write_all(bytes).at("write", path)?;
    f.sync_all().at("sync", path)
}

/// Makes a folder's entries (creations, renames) durable. A no-op where folders cannot
/// be opened for syncing (Windows).
///
/// # Errors
/// Opening or syncing `dir` failing.
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
/// On Linux one `syncfs(2)` on the file system of `dir` does the work of an fsync per
/// file (what `sync` does after `cp -a`); elsewhere each file was already fsynced as it
/// was written (see [`FSYNC_EACH_FILE`]) and only `dir` itself is synced.
///
/// # Errors
/// The sync failing, named with `dir`.
pub fn sync_tree(dir: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let f = File::open(dir).at("open", dir)?;
        rustix::fs::syncfs(&f).map_err(|e| Error::io("sync", dir, e.into()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        sync_dir(dir)
    }
}

/// Whether each file must be fsynced as it is written (where there is no `syncfs`).
pub const FSYNC_EACH_FILE: bool = !cfg!(target_os = "linux");

/// Removes a folder tree, first renaming it to `hidden_name` beside it, so a
/// half-removed tree never looks whole.
///
/// # Errors
/// The rename or the removal failing.
pub fn remove_tree_safely(path: &Path, hidden_name: &str) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let doomed = parent.join(hidden_name);
    fs::rename(path, &doomed).at("rename for removal", path)?;
    fs::remove_dir_all(&doomed).at("remove", &doomed)
}

/// Modification time in nanoseconds since the Unix epoch (negative before 1970; 0 where
/// the platform has none).
pub fn mtime_ns(meta: &Metadata) -> i128 {
    meta.modified().map(ns_since_epoch).unwrap_or(0)
}

/// Nanoseconds since the Unix epoch of `t`, negative before 1970.
pub fn ns_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The time `ns` nanoseconds after the Unix epoch (before it when negative).
pub fn system_time(ns: i128) -> SystemTime {
    let magnitude = Duration::from_nanos(ns.unsigned_abs().min(u64::MAX as u128) as u64);
    if ns >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// Unix permission bits (`0o7777`), `None` where the platform has none.
pub fn mode_of(meta: &Metadata) -> Option<u32> {
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

/// BLAKE3 of a whole file, read through a memory map and hashed on several threads.
///
/// # Errors
/// `path` cannot be opened or read.
pub fn hash_file(path: &Path) -> Result<Digest> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).at("read", path)?;
    Ok(*hasher.finalize().as_bytes())
}

/// Creates the symlink `link` pointing at `target` (written as given, never resolved).
///
/// # Errors
/// The link cannot be created (exists, or the file system has no symlinks).
pub fn make_symlink(target: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link).at("create symlink", link)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::symlink_file(target, link).at("create symlink", link)
    }
}

/// Atomically exchanges two paths (`renameat2(RENAME_EXCHANGE)` on Linux,
/// `renamex_np(RENAME_SWAP)` on macOS); `Unsupported` elsewhere or where the file system
/// cannot.
pub fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (a, b);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// This machine's name, for manifests and lock files.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// How often a file that keeps changing while it is copied is copied again.
const COPY_ATTEMPTS: usize = 3;

/// Files up to this size are copied in one read-hash-write pass; larger ones through the
/// OS's fast path, then hashed from the page cache.
const SMALL_FILE: u64 = 1 << 20;

/// What [`copy_file`] stored.
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    /// BLAKE3 of the bytes written.
    pub blake3: Digest,
    /// Bytes written.
    pub size: u64,
    /// The source's mtime as copied, ns since the epoch.
    pub mtime_ns: i128,
    /// Whether the source held still while it was copied.
    pub stable: bool,
}

/// Copies `src` to the new file `dst`, keeping its mode and mtime, and copies it again
/// (up to 3 times) if the source changed meanwhile. Small files take one pass that hashes
/// what it writes; large ones use the OS's fast path (`copy_file_range` or a reflink on
/// Linux, `clonefile` on macOS) and are hashed from the copy.
///
/// # Errors
/// Reading `src` or writing `dst` failing; the error names the side that failed.
pub fn copy_file(src: &Path, dst: &Path) -> Result<Copied> {
    let mut attempt = 1;
    loop {
        let mut from = File::open(src).at("read", src)?;
        let before = from.metadata().at("read", src)?;
        let mut to;
        let mut hash = None;
        if before.len() <= SMALL_FILE {
            let mut buf = Vec::with_capacity(before.len() as usize + 1);
            from.read_to_end(&mut buf).at("read", src)?;
            hash = Some(*blake3::hash(&buf).as_bytes());
            to = File::create(dst).at("write", dst)?;
            to.write_all(&buf).at("write", dst)?;
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
            if FSYNC_EACH_FILE {
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

/// A copy error names the side that failed: reading the source or writing the copy.
fn copy_error(src: &Path, dst: &Path, e: io::Error) -> Error {
    let readable = File::open(src).and_then(|mut f| f.read(&mut [0u8; 1]));
    match readable {
        Err(read_err) => Error::io("read", src, read_err),
        Ok(_) => Error::io("write", dst, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_on_both_sides_of_the_epoch() {
        for ns in [0i128, 1, 1_700_000_000_123_456_789, -1, -86_400_000_000_000] {
            assert_eq!(ns_since_epoch(system_time(ns)), ns);
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
