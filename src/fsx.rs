//! File-system helpers every layer uses: hashing, times, modes, symlinks, durable
//! (synced, atomic) writes, the hashed, hole-keeping file copy and the host name.

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

/// This machine's name, for manifests and lock files.
pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// What identifies a file's current version beyond size and mtime: status-change time,
/// inode and device. Zero where the platform has no such thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileId {
    /// Status-change time, ns since the epoch: set by the kernel on every change,
    /// never settable by a program (unlike mtime).
    pub ctime_ns: i128,
    /// Inode number.
    pub inode: u64,
    /// Device of the file system.
    pub dev: u64,
}

/// The [`FileId`] of `meta`.
pub fn file_id(meta: &Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId {
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            inode: meta.ino(),
            dev: meta.dev(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FileId::default()
    }
}

/// Whether the file has holes: fewer bytes allocated than its length. Such files are
/// copied and hashed range by range so the holes stay holes and are never read through
/// a memory map (on tmpfs, faulting in a hole can exhaust the file system).
pub fn is_sparse(meta: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.is_file() && meta.len() > 64 * 1024 && meta.blocks().saturating_mul(512) < meta.len()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// The byte ranges of `f` that hold data (`lseek(2)` `SEEK_DATA`/`SEEK_HOLE`); the whole
/// file where the platform cannot tell.
fn data_ranges(f: &File, len: u64) -> Vec<(u64, u64)> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{seek, SeekFrom};
        let mut out = Vec::new();
        let mut pos = 0u64;
        while pos < len {
            let Ok(start) = seek(f, SeekFrom::Data(pos)) else { break };
            let end = seek(f, SeekFrom::Hole(start)).map(|e| e.min(len)).unwrap_or(len);
            if end <= start {
                break;
            }
            out.push((start, end));
            pos = end;
        }
        if out.is_empty() && len > 0 && seek(f, SeekFrom::Data(0)).is_err() {
            // ENXIO: all hole. Any other error: treat as data below.
            return Vec::new();
        }
        out
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = f;
        vec![(0, len)]
    }
}

/// Feeds `n` zero bytes to `hasher` (the content of a hole).
fn hash_zeros(hasher: &mut blake3::Hasher, mut n: u64) {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        hasher.update(&ZEROS[..k]);
        n -= k as u64;
    }
}

/// Reads the data ranges of `f` (length `len`) in chunks of up to 1 MiB, handing each
/// chunk and its offset to `data`, and returns the BLAKE3 of the whole content (holes
/// hashed as the zeros they read as). A failed read is `read_err`'s to wrap.
fn for_each_data_chunk<E>(
    f: &File,
    len: u64,
    read_err: impl Fn(io::Error) -> E,
    mut data: impl FnMut(&[u8], u64) -> std::result::Result<(), E>,
) -> std::result::Result<Digest, E> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    for (start, end) in data_ranges(f, len) {
        hash_zeros(&mut hasher, start - pos);
        let mut at = start;
        while at < end {
            let k = ((end - at) as usize).min(buf.len());
            read_exact_at(f, &mut buf[..k], at).map_err(&read_err)?;
            data(&buf[..k], at)?;
            hasher.update(&buf[..k]);
            at += k as u64;
        }
        pos = end;
    }
    hash_zeros(&mut hasher, len - pos);
    Ok(*hasher.finalize().as_bytes())
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}

#[cfg(not(unix))]
fn read_exact_at(mut f: &File, buf: &mut [u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

/// BLAKE3 of a file with holes, reading only its data ranges.
fn hash_sparse(f: &File, len: u64, path: &Path) -> Result<Digest> {
    for_each_data_chunk(f, len, |e| Error::io("read", path, e), |_, _| Ok(()))
}

/// BLAKE3 of a whole file: through a memory map on several threads, or range by range
/// for a file with holes.
///
/// # Errors
/// `path` cannot be opened or read.
pub fn hash_file(path: &Path) -> Result<Digest> {
    let f = File::open(path).at("read", path)?;
    let meta = f.metadata().at("read", path)?;
    if is_sparse(&meta) {
        return hash_sparse(&f, meta.len(), path);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).at("read", path)?;
    Ok(*hasher.finalize().as_bytes())
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
    /// Bytes written (the length, holes included).
    pub size: u64,
    /// The source's mtime as copied, ns since the epoch.
    pub mtime_ns: i128,
    /// The source's identity as copied.
    pub id: FileId,
    /// Whether the source held still while it was copied.
    pub stable: bool,
}

/// Why a copy failed: the side matters, since a source that cannot be read is one entry
/// left out, while a destination that cannot be written stops the whole backup.
#[derive(Debug)]
pub enum CopyError {
    /// Opening or reading the source failed (`NotFound`: it vanished).
    Source(io::Error),
    /// Writing the copy failed; the error names the copy's path.
    Destination(Error),
}

/// Copies `src` to the new file `dst`, keeping its mode and mtime and its holes, and
/// copies it again (up to 3 times) if the source changed meanwhile. Small files take one
/// pass that hashes what it writes; files with holes are copied range by range; other
/// large ones use the OS's fast path (`copy_file_range` or a reflink on Linux,
/// `clonefile` on macOS) and are hashed from the copy.
///
/// # Errors
/// [`CopyError::Source`] when `src` cannot be opened or read, [`CopyError::Destination`]
/// when `dst` cannot be written (disk full, read-only...).
pub fn copy_file(src: &Path, dst: &Path) -> std::result::Result<Copied, CopyError> {
    let dest = |action: &'static str| move |e: io::Error| CopyError::Destination(Error::io(action, dst, e));
    let mut attempt = 1;
    loop {
        let mut from = File::open(src).map_err(CopyError::Source)?;
        let before = from.metadata().map_err(CopyError::Source)?;
        if before.is_dir() {
            return Err(CopyError::Source(io::Error::from(io::ErrorKind::NotFound)));
        }
        let mut to;
        let mut hash = None;
        if is_sparse(&before) {
            to = File::create(dst).map_err(dest("write"))?;
            hash = Some(copy_sparse(&from, &to, before.len(), dst)?);
            to.set_permissions(before.permissions()).map_err(dest("set permissions of"))?;
        } else if before.len() <= SMALL_FILE {
            let mut buf = Vec::with_capacity(before.len() as usize + 1);
            from.read_to_end(&mut buf).map_err(CopyError::Source)?;
            hash = Some(*blake3::hash(&buf).as_bytes());
            to = File::create(dst).map_err(dest("write"))?;
            to.write_all(&buf).map_err(dest("write"))?;
            to.set_permissions(before.permissions()).map_err(dest("set permissions of"))?;
        } else {
            drop(from);
            fs::copy(src, dst).map_err(|e| copy_error(src, dst, e))?;
            to = fs::OpenOptions::new().write(true).open(dst).map_err(dest("open"))?;
        }
        let after = fs::metadata(src).map_err(CopyError::Source)?;
        let stable =
            after.len() == before.len() && mtime_ns(&after) == mtime_ns(&before) && file_id(&after) == file_id(&before);
        if stable || attempt == COPY_ATTEMPTS {
            if let Ok(t) = before.modified() {
                to.set_modified(t).map_err(dest("set time of"))?;
            }
            if FSYNC_EACH_FILE {
                to.sync_all().map_err(dest("sync"))?;
            }
            let size = to.metadata().map_err(dest("read"))?.len();
            drop(to);
            let blake3 = match hash {
                Some(h) => h,
                None => hash_file(dst).map_err(CopyError::Destination)?,
            };
            return Ok(Copied { blake3, size, mtime_ns: mtime_ns(&before), id: file_id(&before), stable });
        }
        tracing::info!("{} changed while it was copied (attempt {attempt})", src.display());
        drop(to);
        let _ = fs::remove_file(dst);
        attempt += 1;
    }
}

/// Copies the data ranges of `from` into the new, empty `to`, leaving holes as holes;
/// returns the BLAKE3 of the whole content.
fn copy_sparse(from: &File, to: &File, len: u64, dst: &Path) -> std::result::Result<Digest, CopyError> {
    let dest = |e: io::Error| CopyError::Destination(Error::io("write", dst, e));
    let digest =
        for_each_data_chunk(from, len, CopyError::Source, |chunk, at| write_all_at(to, chunk, at).map_err(dest))?;
    to.set_len(len).map_err(dest)?;
    Ok(digest)
}

#[cfg(unix)]
fn write_all_at(f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}

#[cfg(not(unix))]
fn write_all_at(mut f: &File, buf: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(at))?;
    f.write_all(buf)
}

/// A failed `fs::copy` names the side that failed: reading the source or writing the copy.
fn copy_error(src: &Path, dst: &Path, e: io::Error) -> CopyError {
    match File::open(src).and_then(|mut f| f.read(&mut [0u8; 1])) {
        Err(read_err) => CopyError::Source(read_err),
        Ok(_) => CopyError::Destination(Error::io("write", dst, e)),
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
    fn holes_stay_holes_and_hash_like_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("sparse"), dir.path().join("copy"));
        let f = File::create(&src).unwrap();
        f.set_len(64 << 20).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::FileExt::write_all_at(&f, b"marker", 40 << 20).unwrap();
        drop(f);
        let copied = copy_file(&src, &dst).unwrap();
        assert_eq!(copied.size, 64 << 20);
        let whole = *blake3::hash(&fs::read(&src).unwrap()).as_bytes();
        assert_eq!(copied.blake3, whole);
        assert_eq!(hash_file(&dst).unwrap(), whole);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert!(fs::metadata(&dst).unwrap().blocks() * 512 < 1 << 20, "the copy is not sparse");
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
