//! Helpers for the real-world tests (issue 9): names by their raw bytes and the
//! manifest's escaped form of them, sparse and special files, a crashed SQLite writer,
//! an unprivileged `lifeboat`, read-only bind mounts, a faked clock.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{blake3_file, describe, in_ci, is_root, output_within, read_manifest, Mount, Sandbox};

/// `base` joined with a relative path given as raw bytes (`/`-separated).
pub fn raw(base: &Path, rel: &[u8]) -> PathBuf {
    base.join(OsStr::from_bytes(rel))
}

/// The manifest's form of a relative path (the contract): valid UTF-8 stays as is except
/// a backslash, written `\\`; each byte that is not valid UTF-8 is written `\xNN`.
pub fn escape_path(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The bytes a manifest path stands for (the inverse of [`escape_path`]); `None` when it
/// holds a backslash that is neither `\\` nor `\xNN`.
pub fn unescape_path(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 4;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Every entry below `dir` by its relative path in raw bytes: a file's BLAKE3, "dir" for
/// a folder, "link -> target" (target bytes, lossy) for a symlink. Never follows links.
pub fn tree_raw(dir: &Path) -> BTreeMap<Vec<u8>, String> {
    super::walk_tree(dir, |e| Some(blake3_file(e.path())))
}

/// Checks every `files[]` entry of a backup's manifest against the folder, decoding the
/// escaped paths: present as the kind listed, files with the listed size and BLAKE3.
/// Returns the decoded paths.
pub fn assert_backup_matches_manifest(backup: &Path) -> Vec<Vec<u8>> {
    let manifest = read_manifest(backup);
    let mut paths = Vec::new();
    for e in manifest["files"].as_array().expect("manifest has a files array") {
        let shown = e["path"].as_str().expect("entry has a path");
        let rel = unescape_path(shown).unwrap_or_else(|| panic!("manifest path {shown:?} is not in the escaped form"));
        let path = raw(backup, &rel);
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|err| panic!("{shown:?} listed but: {err}"));
        match e["kind"].as_str() {
            Some("dir") => assert!(meta.is_dir(), "{shown:?} should be a folder"),
            Some("symlink") => assert!(meta.file_type().is_symlink(), "{shown:?} should be a symlink"),
            _ => {
                assert!(meta.is_file(), "{shown:?} should be a file");
                assert_eq!(Some(meta.len()), e["size"].as_u64(), "size of {shown:?}");
                if let Some(h) = e["blake3"].as_str() {
                    assert_eq!(blake3_file(&path), h, "BLAKE3 of {shown:?}");
                }
            }
        }
        paths.push(rel);
    }
    paths
}

/// The manifest's `skipped` array (the contract's `[{path, kind, reason}]`).
pub fn skipped(manifest: &serde_json::Value) -> Vec<serde_json::Value> {
    manifest["skipped"]
        .as_array()
        .unwrap_or_else(|| panic!("manifest.json has no `skipped` array (top-level keys: {:?})", keys(manifest)))
        .clone()
}

/// Top-level keys of a JSON object, for messages.
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The manifest's `sequence`.
pub fn sequence(backup: &Path) -> u64 {
    let m = read_manifest(backup);
    m["sequence"]
        .as_u64()
        .unwrap_or_else(|| panic!("manifest of {} has no u64 `sequence` (keys: {:?})", backup.display(), keys(&m)))
}

/// A file of `len` bytes that is a hole except for `marks` (offset, bytes).
pub fn make_sparse(path: &Path, len: u64, marks: &[(u64, &[u8])]) {
    let mut f = fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
    for (off, bytes) in marks {
        f.seek(SeekFrom::Start(*off)).unwrap();
        f.write_all(bytes).unwrap();
    }
    f.sync_all().unwrap();
}

/// Bytes the file occupies on disk (`st_blocks * 512`).
pub fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).blocks() * 512
}

pub fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut f = fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

pub fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Sets a file's mtime (as a tool that restores timestamps does); its ctime moves on.
pub fn set_mtime(path: &Path, t: SystemTime) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

/// ctime in nanoseconds since the epoch, as the manifest records it.
pub fn ctime_ns(meta: &fs::Metadata) -> i128 {
    meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128
}

/// Polls `done` every few hundred microseconds until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    done()
}

/// Whether a backup's hidden staging folder exists in `dest` (the run is under way).
pub fn staging_exists(dest: &Path) -> bool {
    fs::read_dir(dest)
        .map(|rd| rd.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".partial")))
        .unwrap_or(false)
}

/// Runs `cmd` with its output collected, killing it past `limit` (a run that blocks on a
/// FIFO or loops through a symlink fails instead of hanging the suite).
pub fn run_within(mut cmd: Command, limit: Duration, what: &str) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    output_within(cmd.spawn().unwrap(), limit, what)
}

/// stdout and stderr together.
pub fn all_output(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `program pre... <cmd's program> <cmd's args>` with `cmd`'s environment: e.g. the
/// sandboxed `lifeboat` under `faketime`.
pub fn wrapped(cmd: &Command, program: &str, pre: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(pre).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.stdin(Stdio::null());
    c
}

/// Where `name` is on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Whether `faketime` can be used here. In CI it must be (scripts/deps.sh installs it);
/// elsewhere its absence skips the test, saying so.
pub fn have_faketime(test: &str) -> bool {
    if which("faketime").is_some() {
        return true;
    }
    assert!(!in_ci(), "{test}: CI must have `faketime` (scripts/deps.sh installs the Debian package)");
    eprintln!("skipped {test}: `faketime` is not installed (apt-get install faketime)");
    false
}

/// Runs the sandboxed `lifeboat` with its clock faked by `faketime -f SPEC` (e.g.
/// `@2031-06-01 12:00:00` starts the clock there, `-1h` puts it an hour back).
pub fn run_faketime(sb: &Sandbox, spec: &str, args: &[&str]) -> Output {
    let mut base = sb.cmd();
    base.args(args);
    run_within(wrapped(&base, "faketime", &["-f", spec]), Duration::from_secs(120), "lifeboat under faketime")
}

/// Runs `lifeboat` as a user for whom file modes bite: `nobody` through `setpriv` when
/// root (after [`hand_over`]), else the current user.
pub fn run_unprivileged(sb: &Sandbox, args: &[&str]) -> Output {
    if is_root() {
        sb.run_as_nobody(args).expect("running as root without setpriv: cannot drop privileges to test this")
    } else {
        sb.run(args)
    }
}

/// Gives the sandbox to the user [`run_unprivileged`] runs as (only needed as root).
pub fn hand_over(sb: &Sandbox) {
    if is_root() {
        sb.hand_to_nobody();
    }
}

/// Mounts `from` read-only at `at`: a bind mount, then remounted read-only. Needs root;
/// `Err` says why it could not be done. Unmounted when the returned value is dropped.
pub fn bind_read_only(from: &Path, at: &Path) -> Result<Mount, String> {
    fs::create_dir_all(at).map_err(|e| e.to_string())?;
    let out = Command::new("mount").arg("--bind").arg(from).arg(at).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(describe(&out));
    }
    let mount = Mount { path: at.to_path_buf() };
    let out = Command::new("mount").args(["-o", "remount,ro,bind"]).arg(at).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(describe(&out));
    }
    Ok(mount)
}

/// A small ext4 filesystem in an image file `image` of `size_mib` MiB, loop-mounted at
/// `at`: a small real disk that keeps holes (tmpfs does not when a file is read through
/// `mmap`: every hole touched gets a page). Needs root; `Err` says why it could not be
/// done. Unmounted (and its loop device freed) when the returned value is dropped.
pub fn ext4_image(image: &Path, size_mib: u64, at: &Path) -> Result<Mount, String> {
    fs::File::create(image).and_then(|f| f.set_len(size_mib << 20)).map_err(|e| e.to_string())?;
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "4096"])
        .arg(image)
        .output()
        .map_err(|e| format!("mkfs.ext4: {e}"))?;
    if !out.status.success() {
        return Err(describe(&out));
    }
    fs::create_dir_all(at).map_err(|e| e.to_string())?;
    let out = Command::new("mount").args(["-o", "loop"]).arg(image).arg(at).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(describe(&out));
    }
    Ok(Mount { path: at.to_path_buf() })
}

/// A crashed writer: runs `sql` in the `sqlite3` shell on `db`, waits until it has run
/// (the shell then touches a marker file in `scratch`), and kills the shell with SIGKILL
/// while its transaction is still open: nothing is committed, rolled back or closed.
pub fn crash_sqlite_writer(db: &Path, sql: &str, scratch: &Path) {
    fs::create_dir_all(scratch).unwrap();
    let marker = scratch.join("writer-ran-its-statements");
    let marker_s = marker.to_str().unwrap();
    assert!(!marker_s.contains([' ', '\'', '"']), "marker path must need no quoting: {marker_s}");
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sqlite3 shell (Debian package sqlite3, installed by scripts/deps.sh)");
    // Kept open until the kill: end of input would make the shell roll back and exit.
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "{sql}\n.system touch {marker_s}\n").unwrap();
    stdin.flush().unwrap();
    let ran = wait_for(Duration::from_secs(60), || marker.exists() || child.try_wait().unwrap().is_some());
    let exited = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(ran && exited.is_none() && marker.exists(), "the sqlite3 writer did not get to its end: {exited:?} {err}");
    assert!(err.trim().is_empty(), "the sqlite3 writer reported: {err}");
}

/// A small xorshift generator for shuffles; its seed is printed so a run can be replayed
/// (`LIFEBOAT_TEST_SEED`).
pub struct Rng(u64);

impl Rng {
    pub fn seeded(what: &str) -> Rng {
        let seed = std::env::var("LIFEBOAT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
        eprintln!("{what}: LIFEBOAT_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
