//! What this machine knows about a profile's offsite copy without asking the store:
//! which backups are pushed, the last push, the last error. One small JSON file per
//! profile in the data dir, written atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorReport};

use super::LastPush;

/// The state file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The repository it describes: a changed URL starts afresh.
    pub repository: String,
    /// Local backup name -> offsite snapshot id.
    #[serde(default)]
    pub pushed: BTreeMap<String, String>,
    /// The last push that completed.
    #[serde(default)]
    pub last_push: Option<LastPush>,
    /// The start time of the newest local backup in the repository, milliseconds since
    /// the epoch: older backups are never pending (retention may have forgotten them).
    #[serde(default)]
    pub newest_ms: Option<i64>,
    /// The last failure, cleared by the next push that completes.
    #[serde(default)]
    pub last_error: Option<ErrorReport>,
    /// When it failed.
    #[serde(default)]
    pub last_error_at: Option<DateTime<Utc>>,
    /// Checks run after pushes: picks the next share of the data to read.
    #[serde(default)]
    pub checks: u32,
}

/// The state file of `profile`: `<data dir>/offsite/<profile>.json`.
pub fn path(profile: &str) -> PathBuf {
    let safe: String = profile
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '-' || c == '_' || c == ' ' { c } else { '_' })
        .collect();
    crate::env::offsite_state_dir().join(format!("{safe}.json"))
}

impl State {
    /// Whether the local backup `name` started at `started_ms` still needs a push.
    pub fn pending(&self, name: &str, started_ms: i64) -> bool {
        !self.pushed.contains_key(name) && self.newest_ms.is_none_or(|n| started_ms > n)
    }
}

/// The state of `profile` for `repository`; a fresh one when there is none, it cannot be
/// read, or it describes another repository.
pub fn load(profile: &str, repository: &str) -> State {
    let fresh = || State { repository: repository.to_string(), ..State::default() };
    match std::fs::read(path(profile)) {
        Ok(bytes) => match serde_json::from_slice::<State>(&bytes) {
            Ok(s) if s.repository == repository => s,
            Ok(_) => fresh(),
            Err(e) => {
                tracing::warn!("offsite state {} unreadable, starting afresh: {e}", path(profile).display());
                fresh()
            }
        },
        Err(_) => fresh(),
    }
}

/// Writes the state; a failure is logged, never fatal (the store is the truth).
pub fn save(profile: &str, state: &State) {
    let file = path(profile);
    let write = || -> crate::error::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
        }
        let text = serde_json::to_vec_pretty(state).map_err(|e| Error::Internal { message: e.to_string() })?;
        crate::fsx::write_atomic(&file, &text)
    };
    if let Err(e) = write() {
        tracing::warn!("cannot write the offsite state {}: {e}", file.display());
    }
}

/// Records a failure of `profile`'s offsite copy.
pub fn record_error(profile: &str, repository: &str, e: &Error) {
    let mut s = load(profile, repository);
    s.last_error = Some(e.report());
    s.last_error_at = Some(Utc::now());
    save(profile, &s);
}
