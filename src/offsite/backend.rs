//! Lifeboat's own storage under rustic_core: a restic repository in one S3 bucket and
//! prefix, through OpenDAL's S3 service only. It counts what it uploads, paces uploads to
//! a limit, and fails the next request once the cancel flag is set (rustic_core has no
//! cancel of its own).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::options::{ListOptions, ReadOptions};
use rustic_core::{BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend};

use super::url::RepoUrl;

/// The connection check gives up after this long: an unreachable endpoint is reported
/// well within 15 s instead of after a minute of retries.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(8);
/// One control request (stat, list, delete) may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// One read or write of a body may stall this long (OpenDAL's 10 s is too short for a
/// large pack on a slow uplink).
const IO_TIMEOUT: Duration = Duration::from_secs(300);
/// Retries of a failed request (temporary errors only), with backoff up to 8 s.
const RETRIES: usize = 4;
/// Reads of at least this many bytes (pack ranges: rustic_core's restore reads up to
/// 40 MiB at once on 20 threads) wait for one of [`BIG_READS`] places...
const BIG_READ: usize = 1 << 20;
/// ...and hold it until their buffer is dropped: restore's peak memory stays near
/// `BIG_READS` x 40 MiB (plus what it decompresses from them) instead of 20 x that.
const BIG_READS: usize = 1;

/// The error a request returns once the cancel flag is set; found again by [`super::classify`].
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// What the backend uploaded: bytes and PUT requests.
#[derive(Debug, Default)]
pub struct Uploaded {
    /// Bytes written (packs, indexes, snapshots, keys, config).
    pub bytes: AtomicU64,
    /// Objects written, one PUT (or one multipart upload) each.
    pub puts: AtomicU64,
}

/// One tokio runtime for every OpenDAL request of the process; rustic_core's threads
/// block on it (never a tokio worker of the caller's).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        opendal::install_default();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lifeboat-offsite-io")
            .enable_all()
            .build()
            .expect("the offsite I/O runtime starts")
    })
}

/// Restores running now (see [`BigBuffersReturned`]).
static RESTORES: Mutex<usize> = Mutex::new(0);

/// While one lives, glibc gives buffers of 1 MiB and more back to the system when they
/// are freed (a restore's policy; taken with [`return_big_buffers`]).
///
/// Why scoped: the two directions want opposite policies.
/// - A restore reads pack ranges of up to 40 MiB on 20 threads. With glibc's own policy
///   its mmap threshold grows with every big buffer freed, the ranges then come from the
///   heap and stay resident: restoring a 250 MB database peaked at 370 MB, against
///   287 MB with a fixed 1 MiB threshold.
/// - A push compresses every blob with a new zstd context of a few MiB (rustic_core's
///   `encode_all`). Under a 1 MiB threshold each one was a fresh mmap, page-faulted,
///   zeroed and unmapped: half the push's CPU, and the first push took 1.55x the wall
///   time of `restic backup`; with glibc's own policy, 0.92x (`bench/offsite.sh`).
///
/// glibc has no call to go back to its own policy once a threshold is set, so the last
/// restore to end sets what that policy settles at for big buffers: mmap for 32 MiB and
/// more (`DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit), heap trimmed past 64 MiB (twice that).
/// A push running beside a restore is slower for that while, never wrong.
pub struct BigBuffersReturned(());

/// Starts a restore's malloc policy (see [`BigBuffersReturned`]); a no-op outside glibc.
pub fn return_big_buffers() -> BigBuffersReturned {
    let mut running = RESTORES.lock().expect("restores lock");
    *running += 1;
    set_malloc_policy(1 << 20, None);
    BigBuffersReturned(())
}

impl Drop for BigBuffersReturned {
    fn drop(&mut self) {
        let mut running = RESTORES.lock().expect("restores lock");
        *running -= 1;
        if *running == 0 {
            set_malloc_policy(32 << 20, Some(64 << 20));
        }
    }
}

fn set_malloc_policy(mmap_threshold: i32, trim_threshold: Option<i32>) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's policy; these values are in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
        if let Some(trim) = trim_threshold {
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (mmap_threshold, trim_threshold);
}

/// Hands memory freed on the heap back to the system (after a restore, before the
/// restored files are hashed).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The S3 keys.
#[derive(Clone)]
pub struct Keys {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({}, ***)", self.access_key_id)
    }
}

/// A restic repository in `bucket/prefix` of an S3 store.
#[derive(Clone)]
pub struct S3Backend {
    url: RepoUrl,
    /// With retries and timeouts: what rustic_core uses.
    op: opendal::blocking::Operator,
    /// Without retries: the connection check.
    probe: opendal::Operator,
    cancel: Arc<AtomicBool>,
    uploaded: Arc<Uploaded>,
    pace: Option<Arc<Pace>>,
    big_reads: Arc<Gate>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Backend({})", self.url.text)
    }
}

/// What the connection check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The bucket answers and holds a repository `config` at the prefix.
    Repository,
    /// The bucket answers; no repository at the prefix.
    Empty,
}

impl S3Backend {
    /// A backend for `url` with `keys`; nothing is sent yet. `upload_limit` is in bytes
    /// per second.
    ///
    /// # Errors
    /// OpenDAL refusing the settings (an endpoint it cannot use).
    pub fn new(
        url: &RepoUrl,
        keys: &Keys,
        upload_limit: Option<u64>,
        cancel: Arc<AtomicBool>,
    ) -> Result<S3Backend, opendal::Error> {
        let build = || {
            let root = format!("/{}", url.prefix);
            let builder = opendal::services::S3::default()
                .endpoint(&url.endpoint)
                .region(&url.region)
                .bucket(&url.bucket)
                .root(&root)
                .access_key_id(&keys.access_key_id)
                .secret_access_key(&keys.secret_access_key)
                .disable_config_load()
                .disable_ec2_metadata();
            opendal::Operator::new(builder)
        };
        let _guard = runtime().enter();
        let op = build()?
            .layer(TimeoutLayer::new().with_timeout(REQUEST_TIMEOUT).with_io_timeout(IO_TIMEOUT))
            .layer(RetryLayer::new().with_max_times(RETRIES).with_max_delay(Duration::from_secs(8)).with_jitter());
        let probe = build()?.layer(TimeoutLayer::new().with_timeout(PROBE_TIMEOUT).with_io_timeout(PROBE_TIMEOUT));
        Ok(S3Backend {
            url: url.clone(),
            op: opendal::blocking::Operator::new(op)?,
            probe,
            cancel,
            uploaded: Arc::new(Uploaded::default()),
            pace: upload_limit.map(|limit| Arc::new(Pace::new(limit))),
            big_reads: Arc::new(Gate::new(BIG_READS)),
        })
    }

    /// Counts what it uploads in `uploaded` (shared with whoever shows the progress).
    pub fn counting_into(mut self, uploaded: Arc<Uploaded>) -> S3Backend {
        self.uploaded = uploaded;
        self
    }

    /// What was uploaded through this backend (and its clones) so far.
    pub fn uploaded(&self) -> Arc<Uploaded> {
        Arc::clone(&self.uploaded)
    }

    /// Checks the connection with two short requests, each given up after
    /// [`PROBE_TIMEOUT`]: a list of one key (a missing bucket, refused keys, a dead
    /// endpoint) and a `stat` of the repository's `config`.
    ///
    /// # Errors
    /// The OpenDAL error, or a timeout as an `Unexpected` one.
    pub fn probe(&self) -> Result<Probe, opendal::Error> {
        let op = self.probe.clone();
        runtime().block_on(async move {
            let timed_out = || {
                opendal::Error::new(
                    opendal::ErrorKind::Unexpected,
                    format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
                )
            };
            let list = op.list_options("", ListOptions { limit: Some(1), ..Default::default() });
            match tokio::time::timeout(PROBE_TIMEOUT, list).await.map_err(|_| timed_out())? {
                Ok(_) => {}
                // A bucket listing answered 404: the bucket is not there (or this is no S3 endpoint).
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => {
                    return Err(opendal::Error::new(opendal::ErrorKind::ConfigInvalid, "NoSuchBucket (404 listing it)"))
                }
                Err(e) => return Err(e),
            }
            match tokio::time::timeout(PROBE_TIMEOUT, op.stat("config")).await.map_err(|_| timed_out())? {
                Ok(_) => Ok(Probe::Repository),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Probe::Empty),
                Err(e) => Err(e),
            }
        })
    }

    fn path(tpe: FileType, id: &Id) -> String {
        let hex = id.to_hex();
        match tpe {
            FileType::Config => "config".to_string(),
            FileType::Pack => format!("data/{}/{}", &hex[0..2], &*hex),
            _ => format!("{}/{}", tpe.dirname(), &*hex),
        }
    }

    fn check_cancel(&self) -> RusticResult<()> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(RusticError::with_source(ErrorKind::Backend, "cancelled", Cancelled));
        }
        Ok(())
    }

    fn fail(what: &'static str, path: &str, err: opendal::Error) -> Box<RusticError> {
        RusticError::with_source(ErrorKind::Backend, "{what} `{path}` failed", err)
            .attach_context("what", what)
            .attach_context("path", path.to_string())
    }

    fn list_dir(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.check_cancel()?;
        if tpe == FileType::Config {
            return match self.op.stat("config") {
                Ok(meta) => Ok(vec![(Id::default(), meta.content_length().try_into().unwrap_or(u32::MAX))]),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(Self::fail("stat", "config", e)),
            };
        }
        let dir = format!("{}/", tpe.dirname());
        let entries = self
            .op
            .list_options(&dir, ListOptions { recursive: true, ..Default::default() })
            .map_err(|e| Self::fail("list", &dir, e))?;
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .filter_map(|e| {
                let id = Id::parse_some(e.name(), tpe)?;
                Some((id, e.metadata().content_length().try_into().ok()?))
            })
            .collect())
    }
}

impl ReadBackend for S3Backend {
    fn location(&self) -> String {
        self.url.text.clone()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        self.list_dir(tpe)
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        self.check_cancel()?;
        let path = Self::path(tpe, id);
        // Packs are big; index, snapshot and key files are small.
        let permit = (tpe == FileType::Pack).then(|| self.big_reads.acquire());
        let data = self.op.read(&path).map_err(|e| Self::fail("read", &path, e))?.to_bytes();
        Ok(hold(data, permit))
    }

    fn read_partial(&self, tpe: FileType, id: &Id, _cacheable: bool, offset: u32, length: u32) -> RusticResult<Bytes> {
        self.check_cancel()?;
        let path = Self::path(tpe, id);
        let range = u64::from(offset)..u64::from(offset) + u64::from(length);
        let opts = ReadOptions { range: range.into(), ..Default::default() };
        let permit = (length as usize >= BIG_READ).then(|| self.big_reads.acquire());
        let data = self.op.read_options(&path, opts).map_err(|e| Self::fail("read", &path, e))?.to_bytes();
        Ok(hold(data, permit))
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        let prefix = self.url.prefix.trim_matches('/');
        let path = Self::path(tpe, id);
        if prefix.is_empty() {
            path
        } else {
            format!("{prefix}/{path}")
        }
    }
}

impl WriteBackend for S3Backend {
    /// S3 has no folders: nothing to create (rustic_backend writes 260 empty "folder"
    /// objects here; restic does not need them).
    fn create(&self) -> RusticResult<()> {
        Ok(())
    }

    fn write_bytes(&self, tpe: FileType, id: &Id, _cacheable: bool, content: BytesList) -> RusticResult<()> {
        self.check_cancel()?;
        let size = content.size() as u64;
        if let Some(pace) = &self.pace {
            pace.wait_for(size, &self.cancel);
            self.check_cancel()?;
        }
        let path = Self::path(tpe, id);
        self.op.write(&path, content.into_vec()).map_err(|e| Self::fail("upload", &path, e))?;
        self.uploaded.bytes.fetch_add(size, Ordering::Relaxed);
        self.uploaded.puts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        self.check_cancel()?;
        let path = Self::path(tpe, id);
        self.op.delete(&path).map_err(|e| Self::fail("delete", &path, e))
    }
}

/// Keeps the average upload rate at or under a limit: each write waits until the bytes
/// sent so far fit the limit (a burst is one object).
struct Pace {
    bytes_per_sec: u64,
    state: Mutex<(Instant, u64)>,
}

impl Pace {
    fn new(bytes_per_sec: u64) -> Pace {
        Pace { bytes_per_sec: bytes_per_sec.max(1), state: Mutex::new((Instant::now(), 0)) }
    }

    fn wait_for(&self, bytes: u64, cancel: &AtomicBool) {
        let due = {
            let mut s = self.state.lock().expect("pace lock");
            let due = s.0 + Duration::from_secs_f64(s.1 as f64 / self.bytes_per_sec as f64);
            s.1 += bytes;
            due
        };
        while Instant::now() < due && !cancel.load(Ordering::SeqCst) {
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(200)));
        }
    }
}

/// A counting semaphore for big reads.
struct Gate {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Gate {
    fn new(places: usize) -> Gate {
        Gate { free: Mutex::new(places), freed: std::sync::Condvar::new() }
    }

    fn acquire(self: &Arc<Self>) -> Permit {
        let mut free = self.free.lock().expect("gate lock");
        while *free == 0 {
            free = self.freed.wait(free).expect("gate lock");
        }
        *free -= 1;
        Permit(Arc::clone(self))
    }
}

/// A place taken in a [`Gate`], given back on drop.
struct Permit(Arc<Gate>);

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.free.lock().expect("gate lock") += 1;
        self.0.freed.notify_one();
    }
}

/// A buffer that keeps its permit until the last clone of it is dropped.
struct Held {
    data: Bytes,
    _permit: Permit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

fn hold(data: Bytes, permit: Option<Permit>) -> Bytes {
    match permit {
        Some(p) => Bytes::from_owner(Held { data, _permit: p }),
        None => data,
    }
}
