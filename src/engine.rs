//! The facade both front ends call: one profile's backups made, listed, verified and
//! restored, each method one whole action that also records itself in the history.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::backup::{self, BackupOutcome};
use crate::catalog::{self, BackupInfo};
use crate::config::Profile;
use crate::error::{Error, ErrorKind, ErrorReport, Result};
use crate::history::{History, Outcome, RunRecord};
use crate::hooks;
use crate::layout::BackupKind;
use crate::manifest::Trigger;
use crate::progress::Progress;
use crate::restore::{self, Diff, EntryState, RestorePlan, RestoreReport, RestoreRequest};
use crate::verify::{self, VerifyReport};

/// How the profile is doing, at a glance. Its wording is [`crate::view::headline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The newest backup is partial: some entries could not be read or stored.
    Partial,
}

/// The state shown by `lifeboat status`, the tray and the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Status {
    /// The profile name.
    pub profile: String,
    /// The source folder (the application's data root).
    pub source: PathBuf,
    /// The destination folder.
    pub destination: PathBuf,
    /// Whether the destination folder can be read now.
    pub destination_available: bool,
    /// How the profile is doing.
    pub health: Health,
    /// The newest complete regular backup, if the destination can be read.
    pub last_backup: Option<BackupInfo>,
    /// When the last successful backup was made, from the history: known even while the
    /// destination is away (when `last_backup` cannot be read).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last backup attempt (not a skip), from the history.
    pub last_attempt: Option<RunRecord>,
    /// The last failure: the last backup attempt's, or the newest backup's failed verify.
    pub last_error: Option<ErrorReport>,
    /// When the next scheduled backup is due; `None`: due now.
    pub next_due: Option<DateTime<Utc>>,
    /// Regular backups kept now.
    pub backups: usize,
    /// Hours between scheduled backups.
    pub every_hours: f64,
    /// Regular backups kept.
    pub keep: usize,
    /// The entries the newest backup could not back up (relative, escaped), when it is
    /// partial.
    pub not_backed_up: Vec<String>,
    /// Set when a backup is dated later than now: this machine's clock was, or is, wrong.
    pub clock_warning: Option<String>,
    /// Set when a restore was interrupted (its journal is in the destination): the next
    /// restore or backup finishes it.
    pub interrupted_restore: Option<String>,
    /// The offsite copy: last push, backups not pushed yet, last error; `None` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsite: Option<crate::offsite::OffsiteStatus>,
}

/// One entry of a backup as `lifeboat ls` and the window's browser show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LsEntry {
    /// Relative path, escaped (as `restore PATH` takes it).
    pub path: String,
    /// The last component, for display (lossy where the name is not UTF-8).
    pub name: String,
    /// File, folder, symlink or database.
    pub kind: crate::manifest::EntryKind,
    /// Bytes (files and databases).
    pub size: u64,
    /// Modification time as backed up (or, for a new entry, as it is now).
    pub mtime: DateTime<Utc>,
    /// Against the live data now.
    pub state: EntryState,
    /// For a database: rows per table in the backup and now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<crate::restore::TableDiff>>,
}

/// A backup is called overdue once it is this much later than due.
pub const OVERDUE_GRACE: Duration = Duration::hours(1);

/// How far in the future a backup's time may be before the clock is called wrong.
pub const CLOCK_SLACK: Duration = Duration::minutes(5);

/// Due time after the newest backup (or last unchanged check): that time plus
/// `every_hours`. `None` when there is none: due now.
pub fn next_due(newest: Option<DateTime<Utc>>, every_hours: f64) -> Option<DateTime<Utc>> {
    let interval = Duration::milliseconds((every_hours * 3_600_000.0) as i64);
    newest.map(|t| t.checked_add_signed(interval).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

/// [`next_due`] from the newest backup and the last skip, ignoring times in the future.
fn trusted_next_due(
    newest: Option<DateTime<Utc>>,
    last_skip: Option<DateTime<Utc>>,
    every_hours: f64,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if newest.is_some_and(|t| t > now + CLOCK_SLACK) {
        return None;
    }
    next_due(newest.max(last_skip.filter(|t| *t <= now + CLOCK_SLACK)), every_hours)
}

/// Checks a new profile against the disk, as `init` and the app's setup do: its settings,
/// the source and every item exist, and the destination exists or can be made in an
/// existing parent.
///
/// # Errors
/// [`Error::Setting`], [`Error::SourceMissing`] or [`Error::DestinationUnavailable`].
pub fn check_on_disk(profile: &Profile) -> Result<()> {
    profile.validate()?;
    if !profile.source.is_dir() {
        return Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist or is not a folder".into(),
        });
    }
    for item in &profile.include {
        let path = profile.source.join(item);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(Error::SourceMissing {
                path,
                cause: "(an included item) does not exist — check the name".into(),
            });
        }
    }
    catalog::prepare_destination(&profile.destination)
}

/// One profile's backups: make, list, verify, restore. Each method is one whole action,
/// the same for the CLI, the scheduler and the tray app.
#[derive(Debug, Clone)]
pub struct Engine {
    profile: Profile,
    history: History,
}

impl Engine {
    /// An engine for `profile`, recording runs in the history at `history_db`.
    ///
    /// # Errors
    /// [`Error::Setting`] when the profile is not valid.
    pub fn new(profile: Profile, history_db: impl Into<PathBuf>) -> Result<Engine> {
        profile.validate()?;
        Ok(Engine { profile, history: History::new(history_db.into()) })
    }

    /// An engine using the platform data dir (or `LIFEBOAT_DATA_DIR`) for its history.
    ///
    /// # Errors
    /// As [`Engine::new`].
    pub fn with_default_history(profile: Profile) -> Result<Engine> {
        Self::new(profile, crate::env::history_db())
    }

    /// The profile this engine backs up.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The history it records runs in.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The profile's destination folder.
    pub fn destination(&self) -> &Path {
        &self.profile.destination
    }

    /// Makes one backup. Manual and pre-restore triggers always create one; scheduled and
    /// startup runs are skipped when nothing changed since the newest backup. The run is
    /// recorded in the history, with the hooks around it.
    ///
    /// # Errors
    /// See [`backup::backup`]; a failed hook is [`Error::Hook`].
    pub fn backup(&self, trigger: Trigger, progress: &dyn Progress) -> Result<BackupOutcome> {
        let started = Utc::now();
        let damaged = self.history.damaged_backups(&self.profile.name);
        let result = hooks::around(&self.profile, hooks::Stage::Backup, || {
            // A restore a crash interrupted is finished first, so a backup never takes a
            // half-restored mix; if that cannot be done, the backup still runs (its error
            // is logged, and a refused resume never holds backups back).
            if self.profile.destination.is_dir() {
                if let Err(e) = restore::resume_interrupted(&self.profile, progress, &damaged) {
                    tracing::error!("could not finish the interrupted restore: {e}");
                }
            }
            backup::backup(&self.profile, trigger, progress, &damaged)
        });
        let mut r = RunRecord::new(&self.profile.name, "backup", trigger.as_str(), started);
        match &result {
            Ok(BackupOutcome::Created { backup }) => {
                r.outcome = if backup.partial { Outcome::Partial } else { Outcome::Success };
                if backup.partial {
                    let n = backup.skipped.iter().filter(|k| k.is_problem()).count();
                    r.error = Some(format!("{} not backed up", crate::units::count(n as u64, "item", "items")));
                }
                r.backup = Some(backup.name.clone());
                r.files = backup.totals.files + backup.totals.databases;
                r.bytes = backup.totals.bytes;
            }
            Ok(BackupOutcome::Skipped { reason }) => {
                r.outcome = Outcome::Skipped;
                r.error = Some(reason.clone());
            }
            Err(e) => r.fail(e),
        }
        self.history.record_logged(&r);
        result
    }

    /// Complete backups and safety snapshots, newest first.
    ///
    /// # Errors
    /// [`Error::DestinationUnavailable`] when the destination is away.
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        catalog::list(&self.profile.destination)
    }

    /// When the next scheduled backup is due at `now`: newest backup (by sequence, not by
    /// date) or last skip, plus every_hours. `None` means due now: no backup yet, or the
    /// newest is dated in the future (made while the clock was wrong), which must not
    /// hold the schedule back.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let newest = catalog::newest_backup(&self.profile.destination).map(|b| b.started_at);
        let last_skip = self.history.last_skip(&self.profile.name).map(|r| r.started_at);
        trusted_next_due(newest, last_skip, self.profile.every_hours, now)
    }

    /// The profile's state at `now`.
    ///
    /// # Errors
    /// The destination cannot be listed although it exists.
    pub fn status(&self, now: DateTime<Utc>) -> Result<Status> {
        let p = &self.profile;
        let destination_available = p.destination.is_dir();
        let backups = if destination_available { self.list()? } else { Vec::new() };
        let last_backup = backups.iter().find(|b| b.kind == BackupKind::Backup).cloned();
        let last_attempt = self.history.last_attempt(&p.name);
        let last_error = last_attempt.as_ref().filter(|r| r.outcome == Outcome::Failed).map(|r| ErrorReport {
            kind: r.error_kind.unwrap_or(ErrorKind::Internal),
            message: r.error.clone().unwrap_or_default(),
        });
        // The destination, when it is there, is the truth: backups deleted by hand (or a
        // drive swapped) mean no backup, whatever the history says. Only a destination that
        // is away falls back to the history's last success.
        let last_success_at = last_backup.as_ref().map(|b| b.started_at).or_else(|| {
            (!destination_available).then(|| self.history.last_success(&p.name).map(|r| r.started_at)).flatten()
        });
        let last_skip = self.history.last_skip(&p.name).map(|r| r.started_at);
        let next_due = trusted_next_due(last_success_at, last_skip, p.every_hours, now);
        let clock_warning = backups.iter().find(|b| b.started_at > now + CLOCK_SLACK).map(|b| {
            format!(
                "backup {} is dated {}, later than now ({}): this machine's clock was or is wrong — check its date and time",
                b.name,
                b.started_at.to_rfc3339(),
                now.to_rfc3339()
            )
        });
        let not_backed_up: Vec<String> = last_backup
            .iter()
            .flat_map(|b| b.skipped.iter().filter(|k| k.is_problem()).map(|k| k.path.clone()))
            .collect();
        let damaged = last_backup.as_ref().and_then(|b| self.history.damaged(&p.name, &b.name));
        let last_error = last_error.or_else(|| {
            damaged
                .as_ref()
                .map(|r| ErrorReport { kind: ErrorKind::Damaged, message: r.error.clone().unwrap_or_default() })
        });
        let health = if damaged.is_some() && last_attempt.as_ref().is_none_or(|r| r.outcome != Outcome::Failed) {
            Health::Damaged
        } else if last_error.is_some() {
            Health::Failing
        } else if last_success_at.is_none() {
            Health::NoBackup
        } else if !not_backed_up.is_empty() {
            Health::Partial
        } else if next_due.is_some_and(|d| d.checked_add_signed(OVERDUE_GRACE).is_some_and(|late| now > late)) {
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
            not_backed_up,
            clock_warning,
            interrupted_restore: restore::interrupted(&p.destination),
            offsite: crate::offsite::status(p, &backups),
        })
    }

    /// Checks a backup (default: the newest) against its manifest, and records the result
    /// (a damaged newest backup makes the health [`Health::Damaged`]).
    ///
    /// # Errors
    /// [`Error::NoSuchBackup`]; a damaged backup is an `Ok` report with problems.
    pub fn verify(&self, name: Option<&str>, progress: &dyn Progress) -> Result<VerifyReport> {
        let dir = match name {
            Some(n) => catalog::backup_dir(&self.profile.destination, n)?,
            None => catalog::newest_backup(&self.profile.destination).map(|b| b.path).ok_or_else(|| {
                Error::NoSuchBackup { name: "(newest)".into(), destination: self.profile.destination.clone() }
            })?,
        };
        let started = Utc::now();
        let report = verify::verify(&dir, progress)?;
        let mut r = RunRecord::new(&self.profile.name, "verify", "manual", started);
        r.backup = Some(report.name.clone());
        r.files = report.files_checked;
        r.bytes = report.bytes_checked;
        if report.ok {
            r.outcome = Outcome::Success;
        } else {
            let lines = report.describe();
            let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
            let more = if lines.len() > 3 { format!(" and {} more", lines.len() - 3) } else { String::new() };
            r.error = Some(format!("{} is damaged: {}{more}", report.name, shown.join("; ")));
            r.error_kind = Some(ErrorKind::Damaged);
        }
        self.history.record_logged(&r);
        Ok(report)
    }

    /// What restoring all of `name` in place would change, without changing anything.
    ///
    /// # Errors
    /// See [`restore::preview`].
    pub fn restore_preview(&self, name: &str) -> Result<RestorePlan> {
        self.preview(&RestoreRequest::all(name))
    }

    /// What restoring as `request` asks would change, without changing anything.
    ///
    /// # Errors
    /// See [`restore::preview`].
    pub fn preview(&self, request: &RestoreRequest) -> Result<RestorePlan> {
        restore::preview(&self.profile, request)
    }

    /// The entries of backup `name` directly under `path` (escaped, "" for the top),
    /// each with its state against the live data; live entries new since are included.
    ///
    /// # Errors
    /// No such backup, or `path` not in it.
    pub fn ls(&self, name: &str, path: &str) -> Result<Vec<LsEntry>> {
        let entries = restore::entries_under(&self.profile, name, path.trim_end_matches('/'))?;
        let dir = catalog::backup_dir(&self.profile.destination, name)?;
        let dbs = crate::manifest::Manifest::read(&dir).map(|m| m.databases).unwrap_or_default();
        Ok(entries
            .into_iter()
            .map(|(e, state)| {
                let name = crate::manifest::decode_bytes(e.path.rsplit('/').next().unwrap_or(&e.path))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|| e.path.clone());
                let tables = dbs.iter().find(|d| d.path == e.path).map(|d| {
                    let live = crate::manifest::join_rel(&self.profile.source, &d.path);
                    let now = live.and_then(|l| crate::sqlite::row_counts(&l).ok()).unwrap_or_default();
                    d.tables
                        .iter()
                        .map(|t| crate::restore::TableDiff {
                            name: t.name.clone(),
                            then: Some(t.rows),
                            now: now.iter().find(|n| n.name == t.name).map(|n| n.rows),
                        })
                        .collect()
                });
                LsEntry {
                    name,
                    kind: e.kind,
                    size: e.size,
                    mtime: DateTime::<Utc>::from(crate::fsx::system_time(e.mtime_ns)),
                    state,
                    tables,
                    path: e.path,
                }
            })
            .collect())
    }

    /// What changed from backup `name` to backup `other`, or to the live data.
    ///
    /// # Errors
    /// No such backup.
    pub fn diff(&self, name: &str, other: Option<&str>) -> Result<Diff> {
        match other {
            Some(o) => restore::diff_backups(&self.profile, name, o),
            None => restore::diff_live(&self.profile, name),
        }
    }

    /// Restores all of `name` in place: verify, safety snapshot, then what differs put back.
    ///
    /// # Errors
    /// See [`restore::restore`]; a failed hook is [`Error::Hook`].
    pub fn restore(&self, name: &str, progress: &dyn Progress) -> Result<RestoreReport> {
        self.restore_request(&RestoreRequest::all(name), progress)
    }

    /// Restores as `request` asks: all or some paths, in place or into another folder.
    ///
    /// # Errors
    /// See [`restore::restore`]; a failed hook is [`Error::Hook`].
    pub fn restore_request(&self, request: &RestoreRequest, progress: &dyn Progress) -> Result<RestoreReport> {
        let name = request.name.as_str();
        let started = Utc::now();
        let damaged = self.history.damaged_backups(&self.profile.name);
        let result = hooks::around(&self.profile, hooks::Stage::Restore, || {
            restore::restore(&self.profile, request, progress, &damaged)
        });
        let mut r = RunRecord::new(&self.profile.name, "restore", "manual", started);
        r.backup = Some(name.to_string());
        match &result {
            Ok(report) => {
                r.outcome = Outcome::Success;
                r.files = report.files_restored;
            }
            Err(e) => r.fail(e),
        }
        self.history.record_logged(&r);
        result
    }
}
