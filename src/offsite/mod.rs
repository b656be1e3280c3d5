//! Offsite copies: every local backup also pushed, encrypted and deduplicated, as a
//! snapshot in a restic repository in an S3-compatible store, so the stock `restic` CLI
//! can read it too. Written with rustic_core over Lifeboat's own OpenDAL backend
//! (`backend.rs`, S3 only).
//!
//! - `init` creates the repository (or attaches to one), `push` uploads local backups
//!   then runs retention and a check, `list`/`verify`/`restore` read it back with the
//!   repository URL and the secrets alone (no config: the disaster-recovery path).
//! - rustic_core blocks: every function here must run on its own thread or in
//!   `spawn_blocking`, never on a tokio worker. [`Pusher`] is the scheduler's background
//!   thread for it.
//! - Storage failures are classified (`classify.rs`) into errors that name the cause.

mod backend;
mod classify;
mod push;
mod repo;
mod restore;
mod secrets;
mod state;
mod url;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::BackupInfo;
use crate::config::Profile;
use crate::error::{ErrorReport, Result};
use crate::layout::BackupKind;

pub use backend::{Keys, Uploaded, PROBE_TIMEOUT};
pub use push::{push, push_counting, ROLLING_PARTS};
pub use restore::{fetch, list, restore, verify, PARTIAL_DIR};
pub use secrets::{read_password_file, resolve as resolve_secrets, store as store_secrets, Found, Secrets};
pub use url::RepoUrl;
pub use worker::{PushObserver, Pusher};

/// Every Lifeboat snapshot's path starts here: `/lifeboat/<profile>`.
pub const SNAPSHOT_ROOT: &str = "/lifeboat/";

/// The logical path every snapshot of `profile` gets (`/lifeboat/<profile>`, a `/` in the
/// name written as `_`), whatever the local backup folder's name: so each push finds the
/// previous one as its parent and reads only changed files.
pub fn snapshot_path(profile: &str) -> String {
    format!("{SNAPSHOT_ROOT}{}", profile.replace(['/', '\\'], "_"))
}

fn to_chrono(t: &jiff::Zoned) -> DateTime<Utc> {
    let ts = t.timestamp();
    DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// The last push that completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LastPush {
    /// When it ended (UTC).
    pub at: DateTime<Utc>,
    /// The local backup pushed last.
    pub backup: String,
    /// Its snapshot id (64 hex digits).
    pub snapshot: String,
    /// Bytes uploaded for it.
    pub uploaded_bytes: u64,
}

/// A profile's offsite copy as `status` shows it, from this machine's records (no request
/// to the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OffsiteStatus {
    /// The repository URL.
    pub repository: String,
    /// The last push that completed.
    pub last_push: Option<LastPush>,
    /// Complete local backups not pushed yet (newer than the newest offsite), oldest first.
    pub pending: Vec<String>,
    /// Complete local backups that are also offsite (by this machine's records of its
    /// pushes, less what retention forgot), oldest first: the window's "offsite" badge.
    #[serde(default)]
    pub pushed: Vec<String>,
    /// The last failure, cleared by the next push that completes.
    pub last_error: Option<ErrorReport>,
    /// When it failed (UTC).
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The offsite state of `profile`, given its complete local backups; `None` without an
/// offsite copy.
pub fn status(profile: &Profile, local: &[BackupInfo]) -> Option<OffsiteStatus> {
    let offsite = profile.offsite.as_ref()?;
    let st = state::load(&profile.name, &offsite.repository);
    let mut complete: Vec<&BackupInfo> = local.iter().filter(|b| b.kind == BackupKind::Backup).collect();
    complete.sort_by_key(|b| b.started_at);
    let names = |keep: &dyn Fn(&BackupInfo) -> bool| -> Vec<String> {
        complete.iter().filter(|b| keep(b)).map(|b| b.name.clone()).collect()
    };
    Some(OffsiteStatus {
        repository: offsite.repository.clone(),
        pending: names(&|b| st.pending(&b.name, b.started_at.timestamp_millis())),
        pushed: names(&|b| st.pushed.contains_key(&b.name)),
        last_push: st.last_push,
        last_error: st.last_error,
        last_error_at: st.last_error_at,
    })
}

/// One local backup pushed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushReport {
    /// The local backup's name (also the snapshot's tag).
    pub backup: String,
    /// The new snapshot's id (64 hex digits).
    pub snapshot: String,
    /// The snapshot's time: the local backup's start (UTC).
    pub time: DateTime<Utc>,
    /// Files in it.
    pub files: u64,
    /// Bytes in it (before dedup and compression).
    pub bytes: u64,
    /// New data it added to the repository, compressed and encrypted, bytes.
    pub added_bytes: u64,
    /// Bytes actually uploaded for it (packs, index, snapshot).
    pub uploaded_bytes: u64,
    /// Objects uploaded for it (one PUT each).
    pub puts: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// What retention did after a push.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RetentionReport {
    /// Snapshot ids forgotten.
    pub forgotten: Vec<String>,
    /// The local backup names of those snapshots.
    pub forgotten_backups: Vec<String>,
    /// Packs marked unused now (deleted by a prune at least 23 h later).
    pub packs_marked: u64,
    /// Packs deleted now (marked by an earlier prune).
    pub packs_deleted: u64,
}

/// The outcome of `offsite push`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushRun {
    /// The repository URL.
    pub repository: String,
    /// The backups pushed, oldest first (empty: nothing was pending).
    pub pushed: Vec<PushReport>,
    /// The backup asked for by name, when it was already offsite (nothing uploaded).
    pub already_offsite: Option<String>,
    /// What retention forgot and pruned.
    pub retention: RetentionReport,
    /// Which share of the data the check read back (`"3/32"`); `None`: no check ran.
    pub checked_share: Option<String>,
    /// Bytes uploaded in all (pushes, retention, check).
    pub uploaded_bytes: u64,
    /// Objects uploaded in all.
    pub puts: u64,
}

/// One snapshot in the repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OffsiteSnapshot {
    /// Its id (64 hex digits).
    pub id: String,
    /// The first 8 hex digits, as restic shows it.
    pub short_id: String,
    /// Its time (UTC): for Lifeboat's, the local backup's start.
    pub time: DateTime<Utc>,
    /// The local backup's name (its first tag).
    pub backup: Option<String>,
    /// The profile (from its path `/lifeboat/<profile>`); `None` for other snapshots.
    pub profile: Option<String>,
    /// The machine that pushed it.
    pub host: String,
    /// Its path.
    pub path: String,
    /// Files in it.
    pub files: u64,
    /// Bytes in it (before dedup and compression).
    pub size: u64,
    /// New data it added, compressed and encrypted, bytes.
    pub added: u64,
}

/// The outcome of `offsite verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OffsiteVerifyReport {
    /// The repository URL.
    pub repository: String,
    /// No error found (warnings may be listed).
    pub ok: bool,
    /// The share of the packs read back and hash-checked, percent.
    pub read_data_percent: f64,
    /// Every finding, one line each, starting with `error:` or `warning:`.
    pub problems: Vec<String>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The outcome of `offsite restore`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OffsiteRestoreReport {
    /// The snapshot restored.
    pub snapshot: OffsiteSnapshot,
    /// Where it went.
    pub to: PathBuf,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files found whole against the restored manifest (a whole restore); `None`: not checked.
    pub checked_against_manifest: Option<u64>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The outcome of `offsite fetch`: an offsite snapshot back in the destination as a
/// local backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FetchReport {
    /// The local backup's name (`backup_…`).
    pub backup: String,
    /// Its folder in the destination.
    pub path: PathBuf,
    /// It was there already; nothing was downloaded.
    pub already_local: bool,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The outcome of `offsite init`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InitReport {
    /// The repository URL.
    pub repository: String,
    /// A new repository was made (`false`: an existing one was attached to).
    pub created: bool,
    /// Its average chunk size, bytes.
    pub chunk_size: u64,
    /// Snapshots already in it.
    pub snapshots: usize,
}

/// Creates the repository at `repository` (restic format version 2, readable by restic
/// 0.14 and later) or, when there is one, opens it with the password to attach to it.
/// New repositories get `chunk_bytes` average chunks (see `LIFEBOAT_OFFSITE_CHUNK_KIB`).
///
/// # Errors
/// A classified offsite error (a wrong password for an existing repository, refused
/// keys, an unknown bucket, an unreachable endpoint).
pub fn init(repository: &str, secrets: &Secrets, chunk_bytes: u64) -> Result<InitReport> {
    let url = RepoUrl::parse(repository)?;
    let remote = repo::Remote::connect(&url, secrets, None, Arc::default())?;
    let (repo, created) = remote.init_or_open(secrets, chunk_bytes)?;
    let snapshots = repo.get_all_snapshots().map_err(|e| remote.fail(&e, "init"))?.len();
    Ok(InitReport { repository: url.text, created, chunk_size: repo.config().chunk_size() as u64, snapshots })
}

/// Runs restic's check with `opts`; each finding as one line (`error: ...`/`warning: ...`).
fn run_check<S: rustic_core::Open>(
    remote: &repo::Remote,
    repo: &rustic_core::Repository<S>,
    opts: rustic_core::CheckOptions,
) -> Result<Vec<String>> {
    let results = repo.check(opts).map_err(|e| remote.fail(&e, "verify"))?;
    let mut lines: Vec<String> = results
        .0
        .iter()
        .map(|(level, e)| format!("{}: {}", format!("{level:?}").to_lowercase(), classify::one_line(&e.to_string())))
        .collect();
    if results.is_ok().is_err() && !lines.iter().any(|l| l.starts_with("error")) {
        lines.push("error: check found errors".into());
    }
    Ok(lines)
}

/// Fails with [`crate::error::Error::OffsiteDamaged`] when `problems` hold an error.
fn damaged_if_any(repository: &str, problems: &[String]) -> Result<()> {
    let errors: Vec<&String> = problems.iter().filter(|p| p.starts_with("error")).collect();
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(crate::error::Error::OffsiteDamaged {
            repository: repository.to_string(),
            problems: errors.len(),
            first: first.to_string(),
        }),
    }
}
