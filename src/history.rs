//! The history of runs (backup, restore, verify), in a small SQLite database in the
//! platform data dir. It stores run records only: what a run was and how it ended.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A backup was made, but some entries could not be backed up.
    Partial,
    /// It worked.
    Success,
    /// Nothing had changed: no backup made.
    Skipped,
    /// It failed.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Partial => "partial",
            Outcome::Success => "success",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Outcome {
        match s {
            "success" => Outcome::Success,
            "partial" => Outcome::Partial,
            "skipped" => Outcome::Skipped,
            _ => Outcome::Failed,
        }
    }
}

/// One backup, restore or verify run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunRecord {
    /// Row id, increasing; 0 before it is recorded.
    pub id: i64,
    /// The profile name.
    pub profile: String,
    /// "backup", "restore" or "verify".
    pub action: String,
    /// What started it: a backup trigger ("scheduled", "manual"...) or "manual".
    pub trigger: String,
    /// When it started, UTC.
    pub started_at: DateTime<Utc>,
    /// When it ended, UTC.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: Outcome,
    /// The backup created, restored from or verified.
    pub backup: Option<String>,
    /// Files written.
    pub files: u64,
    /// Bytes in the backup.
    pub bytes: u64,
    /// The error message of a failure, or the reason of a skip.
    pub error: Option<String>,
    /// The kind of the error.
    pub error_kind: Option<ErrorKind>,
}

impl RunRecord {
    /// A run of `action` started at `started`, ending now, failed until told otherwise.
    pub fn new(profile: &str, action: &str, trigger: &str, started: DateTime<Utc>) -> RunRecord {
        RunRecord {
            id: 0,
            profile: profile.to_string(),
            action: action.to_string(),
            trigger: trigger.to_string(),
            started_at: started,
            finished_at: Utc::now(),
            outcome: Outcome::Failed,
            backup: None,
            files: 0,
            bytes: 0,
            error: None,
            error_kind: None,
        }
    }

    /// Marks the run failed with `e`.
    pub fn fail(&mut self, e: &Error) {
        self.outcome = Outcome::Failed;
        self.error = Some(e.to_string());
        self.error_kind = Some(e.kind());
    }
}

/// The history database. Opened per call: runs are minutes apart, and a short-lived
/// connection never holds the file open across a long backup.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    action TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    backup TEXT,
    files INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    error_kind TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_profile ON runs(profile, id);
";

impl History {
    /// The history in the SQLite file `path` (created on first use).
    pub fn new(path: PathBuf) -> History {
        History { path }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<Connection> {
        let db_err = |e: rusqlite::Error| Error::Database { path: self.path.clone(), message: e.to_string() };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create data folder", dir, e))?;
        }
        let conn = Connection::open(&self.path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(conn)
    }

    /// Appends `r`; returns its row id.
    ///
    /// # Errors
    /// [`Error::Database`] when the history cannot be written.
    pub fn record(&self, r: &RunRecord) -> Result<i64> {
        let conn = self.open()?;
        conn.execute(
            "INSERT INTO runs (profile, action, trigger, started_at, finished_at, outcome, backup, files, bytes, error, error_kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                r.profile,
                r.action,
                r.trigger,
                r.started_at.to_rfc3339(),
                r.finished_at.to_rfc3339(),
                r.outcome.as_str(),
                r.backup,
                r.files as i64,
                r.bytes as i64,
                r.error,
                r.error_kind.map(ErrorKind::as_str)
            ],
        )
        .map_err(|e| Error::Database { path: self.path.clone(), message: e.to_string() })?;
        Ok(conn.last_insert_rowid())
    }

    /// The last verify of `backup`, when it found the backup damaged.
    pub fn damaged(&self, profile: &str, backup: &str) -> Option<RunRecord> {
        self.last_verifies(profile)
            .into_iter()
            .find(|r| r.backup.as_deref() == Some(backup))
            .filter(|r| r.outcome == Outcome::Failed)
    }

    /// The backups whose last verify found them damaged.
    pub fn damaged_backups(&self, profile: &str) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.last_verifies(profile)
            .into_iter()
            .filter(|r| seen.insert(r.backup.clone()))
            .filter(|r| r.outcome == Outcome::Failed)
            .filter_map(|r| r.backup)
            .collect()
    }

    fn last_verifies(&self, profile: &str) -> Vec<RunRecord> {
        self.query("WHERE profile = ?1 AND action = 'verify' ORDER BY id DESC LIMIT ?2", profile, 1000)
            .unwrap_or_default()
    }

    /// Records `r`; a history that cannot be written is logged, never fatal.
    pub fn record_logged(&self, r: &RunRecord) {
        if let Err(e) = self.record(r) {
            tracing::error!("cannot record the run in the history: {e}");
        }
    }

    /// Runs of `profile`, newest first.
    pub fn recent(&self, profile: &str, limit: usize) -> Result<Vec<RunRecord>> {
        self.query("WHERE profile = ?1 ORDER BY id DESC LIMIT ?2", profile, limit)
    }

    /// The last backup attempt (not a skip) of `profile`.
    pub fn last_attempt(&self, profile: &str) -> Option<RunRecord> {
        self.query(
            "WHERE profile = ?1 AND action = 'backup' AND outcome != 'skipped' ORDER BY id DESC LIMIT ?2",
            profile,
            1,
        )
        .ok()?
        .pop()
    }

    /// The last successful backup of `profile`, known even while its drive is away.
    pub fn last_success(&self, profile: &str) -> Option<RunRecord> {
        self.query(
            "WHERE profile = ?1 AND action = 'backup' AND outcome IN ('success', 'partial') ORDER BY id DESC LIMIT ?2",
            profile,
            1,
        )
        .ok()?
        .pop()
    }

    /// The last skipped (unchanged) scheduled run, which counts as a check for scheduling.
    pub fn last_skip(&self, profile: &str) -> Option<RunRecord> {
        self.query(
            "WHERE profile = ?1 AND action = 'backup' AND outcome = 'skipped' ORDER BY id DESC LIMIT ?2",
            profile,
            1,
        )
        .ok()?
        .pop()
    }

    fn query(&self, clause: &str, profile: &str, limit: usize) -> Result<Vec<RunRecord>> {
        let conn = self.open()?;
        let sql = format!(
            "SELECT id, profile, action, trigger, started_at, finished_at, outcome, backup, files, bytes, error, error_kind FROM runs {clause}"
        );
        let db_err = |e: rusqlite::Error| Error::Database { path: self.path.clone(), message: e.to_string() };
        let mut stmt = conn.prepare(&sql).map_err(db_err)?;
        let rows = stmt
            .query_map(params![profile, limit as i64], |row| {
                let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
                    let s: String = row.get(i)?;
                    Ok(DateTime::parse_from_rfc3339(&s).map(|d| d.with_timezone(&Utc)).unwrap_or_default())
                };
                Ok(RunRecord {
                    id: row.get(0)?,
                    profile: row.get(1)?,
                    action: row.get(2)?,
                    trigger: row.get(3)?,
                    started_at: time(4)?,
                    finished_at: time(5)?,
                    outcome: Outcome::parse(&row.get::<_, String>(6)?),
                    backup: row.get(7)?,
                    files: row.get::<_, i64>(8)? as u64,
                    bytes: row.get::<_, i64>(9)? as u64,
                    error: row.get(10)?,
                    error_kind: row.get::<_, Option<String>>(11)?.as_deref().and_then(ErrorKind::parse),
                })
            })
            .map_err(db_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
    }
}
