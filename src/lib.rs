//! Lifeboat's engine: consistent, atomic, rotating backups of an app's SQLite database
//! and asset folders, with verify and safe restore. No GUI here: the `lifeboat` CLI and
//! the tray app are two thin front ends over [`Engine`] and [`schedule::Scheduler`].

pub mod catalog;
pub mod config;
pub mod error;
pub mod fsutil;
pub mod history;
pub mod hooks;
pub mod lock;
pub mod logging;
pub mod manifest;
pub mod paths;
pub mod progress;
pub mod restore;
pub mod schedule;
pub mod snapshot;
pub mod sqlite;
pub mod verify;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use catalog::{BackupInfo, BackupKind};
pub use config::{Config, Profile};
pub use error::{Error, ErrorReport, Result};
pub use history::{History, Outcome, RunRecord};
pub use manifest::{Manifest, Trigger};
pub use progress::{NoProgress, Phase, Progress, ProgressUpdate};
pub use restore::{RestorePlan, RestoreReport};
pub use verify::{Problem, VerifyReport};

/// What a backup run ended with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum BackupOutcome {
    Created {
        backup: BackupInfo,
    },
    /// A scheduled or startup run found nothing changed since the newest backup.
    Skipped {
        reason: String,
    },
}

/// How the profile is doing, at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// A recent backup exists and the last attempt succeeded.
    Ok,
    /// No backup was ever made.
    NoBackup,
    /// The last attempt failed.
    Failing,
    /// The next backup is well past due (e.g. the drive has been away).
    Overdue,
    /// The newest backup failed its last verify: make a new one.
    Damaged,
}

/// The state shown by `lifeboat status` and the tray.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub profile: String,
    pub source: PathBuf,
    pub destination: PathBuf,
    pub destination_available: bool,
    pub health: Health,
    pub last_backup: Option<BackupInfo>,
    /// When the last successful backup was made, from the history: known even while the
    /// destination is away (when `last_backup` cannot be read).
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt: Option<RunRecord>,
    /// The last failure: the last backup attempt's, or the newest backup's failed verify.
    pub last_error: Option<ErrorReport>,
    pub next_due: Option<DateTime<Utc>>,
    pub backups: usize,
    pub every_hours: f64,
    pub keep: usize,
}

/// One profile's backups: make, list, verify, restore. Each method is one whole action,
/// the same for the CLI, the scheduler and the tray app.
#[derive(Debug, Clone)]
pub struct Engine {
    profile: Profile,
    history: History,
}

/// A backup is called overdue once it is this much later than due.
pub const OVERDUE_GRACE: Duration = Duration::hours(1);

impl Engine {
    /// An engine for `profile`, recording runs in the history at `history_db`.
    pub fn new(profile: Profile, history_db: impl Into<PathBuf>) -> Result<Engine> {
        profile.validate()?;
        Ok(Engine { profile, history: History::new(history_db.into()) })
    }

    /// An engine using the platform data dir for its history.
    pub fn with_default_history(profile: Profile) -> Result<Engine> {
        Self::new(profile, paths::history_db())
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn destination(&self) -> &Path {
        &self.profile.destination
    }

    /// Makes one backup. Manual and pre-restore triggers always create one; scheduled and
    /// startup runs are skipped when nothing changed since the newest backup.
    pub fn backup(&self, trigger: Trigger, progress: &dyn Progress) -> Result<BackupOutcome> {
        let started = Utc::now();
        let result = hooks::around(&self.profile, hooks::Stage::Backup, || {
            snapshot::backup(&self.profile, trigger, progress, &self.history.damaged_backups(&self.profile.name))
        });
        self.history.record_backup(&self.profile.name, trigger, started, &result);
        result
    }

    /// Complete backups and safety snapshots, newest first.
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        catalog::list(&self.profile.destination)
    }

    /// When the next scheduled backup is due: newest backup (or last skip) + every_hours.
    /// `None` when no backup exists yet, meaning due now.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let newest = catalog::newest_backup(&self.profile.destination).map(|b| b.started_at);
        let last_skip = self.history.last_skip(&self.profile.name).map(|r| r.started_at);
        Ok(schedule::next_due(newest.max(last_skip), self.profile.every_hours))
    }

    pub fn status(&self, now: DateTime<Utc>) -> Result<Status> {
        let p = &self.profile;
        let destination_available = p.destination.is_dir();
        let backups = if destination_available { self.list()? } else { Vec::new() };
        let last_backup = backups.iter().find(|b| b.kind == BackupKind::Backup).cloned();
        let last_attempt = self.history.last_attempt(&p.name);
        let last_error = last_attempt.as_ref().filter(|r| r.outcome == Outcome::Failed).map(|r| ErrorReport {
            kind: r.error_kind.clone().unwrap_or_else(|| "error".into()),
            message: r.error.clone().unwrap_or_default(),
        });
        let last_success_at = last_backup
            .as_ref()
            .map(|b| b.started_at)
            .or_else(|| self.history.last_success(&p.name).map(|r| r.started_at));
        let last_skip = self.history.last_skip(&p.name).map(|r| r.started_at);
        let next_due = schedule::next_due(last_success_at.max(last_skip), p.every_hours);
        let damaged = last_backup.as_ref().and_then(|b| self.history.damaged(&p.name, &b.name));
        let last_error = last_error.or_else(|| {
            damaged
                .as_ref()
                .map(|r| ErrorReport { kind: "damaged".into(), message: r.error.clone().unwrap_or_default() })
        });
        let health = if damaged.is_some() && last_attempt.as_ref().is_none_or(|r| r.outcome != Outcome::Failed) {
            Health::Damaged
        } else if last_error.is_some() {
            Health::Failing
        } else if last_success_at.is_none() {
            Health::NoBackup
        } else if next_due.is_some_and(|d| now > d + OVERDUE_GRACE) {
            Health::Overdue
        } else {
            Health::Ok
        };
        Ok(Status {
            profile: p.name.clone(),
            source: p.source.clone(),
            destination: p.destination.clone(),
            destination_available,
            health,
            backups: backups.iter().filter(|b| b.kind == BackupKind::Backup).count(),
            last_backup,
            last_success_at,
            last_attempt,
            last_error,
            next_due,
            every_hours: p.every_hours,
            keep: p.keep,
        })
    }

    /// Checks a backup (default: the newest) against its manifest.
    pub fn verify(&self, name: Option<&str>, progress: &dyn Progress) -> Result<VerifyReport> {
        let dir = match name {
            Some(n) => catalog::backup_dir(&self.profile.destination, n)?,
            None => catalog::newest_backup(&self.profile.destination).map(|b| b.path).ok_or_else(|| {
                Error::NoSuchBackup { name: "(newest)".into(), destination: self.profile.destination.clone() }
            })?,
        };
        let started = Utc::now();
        let report = verify::verify(&dir, progress);
        if let Ok(r) = &report {
            self.history.record_verify(&self.profile.name, started, r);
        }
        report
    }

    /// What restoring `name` would change, without changing anything.
    pub fn restore_preview(&self, name: &str) -> Result<RestorePlan> {
        restore::plan(&self.profile, name)
    }

    /// Restores `name`: verify, safety snapshot, then databases and folders put back.
    pub fn restore(&self, name: &str, progress: &dyn Progress) -> Result<RestoreReport> {
        let started = Utc::now();
        let result = hooks::around(&self.profile, hooks::Stage::Restore, || {
            restore::restore(&self.profile, name, progress, &self.history.damaged_backups(&self.profile.name))
        });
        self.history.record_restore(&self.profile.name, name, started, &result);
        result
    }
}
