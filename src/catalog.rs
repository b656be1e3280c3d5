//! The backups in a destination: find, order, rotate. Only complete backups count.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::manifest::{DatabaseInfo, ItemTotals, Manifest, Totals, Trigger};

pub const BACKUP_PREFIX: &str = "backup_";
pub const SAFETY_PREFIX: &str = "pre-restore_";
/// Staging folders are `.<name>.partial`; folders being deleted are `.<name>.deleting`.
pub const PARTIAL_SUFFIX: &str = ".partial";
pub const DELETING_SUFFIX: &str = ".deleting";
pub const LOCK_FILE: &str = ".lifeboat.lock";
/// How many safety snapshots are kept (the newest).
pub const KEEP_SAFETY: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    Backup,
    PreRestore,
}

impl BackupKind {
    pub fn prefix(self) -> &'static str {
        match self {
            BackupKind::Backup => BACKUP_PREFIX,
            BackupKind::PreRestore => SAFETY_PREFIX,
        }
    }

    fn of_name(name: &str) -> Option<BackupKind> {
        if name.starts_with(BACKUP_PREFIX) {
            Some(BackupKind::Backup)
        } else if name.starts_with(SAFETY_PREFIX) {
            Some(BackupKind::PreRestore)
        } else {
            None
        }
    }
}

/// A complete backup and its manifest summary (the file list left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupInfo {
    pub name: String,
    pub path: PathBuf,
    pub kind: BackupKind,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_secs: f64,
    pub totals: Totals,
    pub items: Vec<ItemTotals>,
    pub databases: Vec<DatabaseInfo>,
    pub warnings: Vec<String>,
}

/// The parts of a manifest a listing needs. Its file list is skipped while parsing,
/// never held in memory: a destination of 100,000-file backups lists cheaply.
#[derive(Deserialize)]
struct Summary {
    trigger: Trigger,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    totals: Totals,
    items: Vec<ItemTotals>,
    databases: Vec<DatabaseInfo>,
    #[serde(default)]
    warnings: Vec<String>,
}

impl BackupInfo {
    fn from_summary(name: String, path: PathBuf, kind: BackupKind, m: Summary) -> Self {
        BackupInfo {
            name,
            path,
            kind,
            trigger: m.trigger,
            started_at: m.started_at,
            finished_at: m.finished_at,
            duration_secs: crate::manifest::duration_secs(m.started_at, m.finished_at),
            totals: m.totals,
            items: m.items,
            databases: m.databases,
            warnings: m.warnings,
        }
    }

    pub fn from_manifest(name: String, path: PathBuf, kind: BackupKind, m: &Manifest) -> Self {
        BackupInfo {
            name,
            path,
            kind,
            trigger: m.trigger,
            started_at: m.started_at,
            finished_at: m.finished_at,
            duration_secs: m.duration_secs(),
            totals: m.totals.clone(),
            items: m.items.clone(),
            databases: m.databases.clone(),
            warnings: m.warnings.clone(),
        }
    }
}

/// Complete backups (a `backup_*` or `pre-restore_*` folder with a readable manifest),
/// newest first by the manifest's UTC start time, never by folder name alone.
pub fn list(destination: &Path) -> Result<Vec<BackupInfo>> {
    let entries = match fs::read_dir(destination) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::DestinationUnavailable {
                path: destination.to_path_buf(),
                cause: "does not exist — is the drive connected?".into(),
            })
        }
        Err(e) => return Err(Error::io("read", destination, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.at("read", destination)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(kind) = BackupKind::of_name(&name) else { continue };
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        match crate::manifest::read_manifest_as::<Summary>(&path) {
            Ok(m) => out.push(BackupInfo::from_summary(name, path, kind, m)),
            Err(e) => tracing::warn!("ignoring incomplete backup {}: {e}", path.display()),
        }
    }
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then_with(|| b.name.cmp(&a.name)));
    Ok(out)
}

/// The newest complete regular backup, if the destination can be read.
pub fn newest_backup(destination: &Path) -> Option<BackupInfo> {
    list(destination).ok()?.into_iter().find(|b| b.kind == BackupKind::Backup)
}

/// The folder of the complete backup `name`.
pub fn backup_dir(destination: &Path, name: &str) -> Result<PathBuf> {
    let not_found = || Error::NoSuchBackup { name: name.to_string(), destination: destination.to_path_buf() };
    if BackupKind::of_name(name).is_none() || name.contains(['/', '\\']) || name.contains("..") {
        return Err(not_found());
    }
    let dir = destination.join(name);
    if !dir.is_dir() {
        if !destination.is_dir() {
            return Err(Error::DestinationUnavailable {
                path: destination.to_path_buf(),
                cause: "does not exist — is the drive connected?".into(),
            });
        }
        return Err(not_found());
    }
    Ok(dir)
}

/// A new folder name for a backup started at `at` (local time, as in the seed),
/// with `-2`, `-3`... when that name is taken.
pub fn new_name(destination: &Path, kind: BackupKind, at: DateTime<Utc>) -> String {
    let local: DateTime<Local> = at.into();
    let base = format!("{}{}", kind.prefix(), local.format("%Y-%m-%d_%H-%M-%S"));
    let taken = |n: &str| destination.join(n).exists() || destination.join(staging_name(n)).exists();
    if !taken(&base) {
        return base;
    }
    (2..).map(|i| format!("{base}-{i}")).find(|n| !taken(n)).expect("some suffix is free")
}

pub fn staging_name(name: &str) -> String {
    format!(".{name}{PARTIAL_SUFFIX}")
}

/// Removes staging and half-deleted folders left by an interrupted run.
/// Call only while holding the destination lock.
pub fn remove_leftovers(destination: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(destination).at("read", destination)? {
        let entry = entry.at("read", destination)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with('.')
            && (name.ends_with(PARTIAL_SUFFIX) || name.ends_with(DELETING_SUFFIX))
            && BackupKind::of_name(&name[1..]).is_some();
        if ours && entry.path().is_dir() {
            tracing::info!("removing leftover of an interrupted run: {}", entry.path().display());
            fs::remove_dir_all(entry.path()).at("remove leftover", entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Deletes complete backups of `kind` beyond the newest `limit` (oldest first), never
/// one named in `protect` (the one just made, one being restored from), never an unknown
/// or incomplete folder, never the last one. Call only while holding the destination lock.
pub fn rotate_keeping(destination: &Path, kind: BackupKind, limit: usize, protect: &[&str]) -> Result<Vec<String>> {
    let of_kind: Vec<BackupInfo> = list(destination)?.into_iter().filter(|b| b.kind == kind).collect();
    let mut deleted = Vec::new();
    // Oldest first, so a run killed part-way has removed the oldest, never a newer one.
    for old in of_kind.iter().skip(limit.max(1)).rev() {
        if protect.contains(&old.name.as_str()) {
            continue;
        }
        crate::fsutil::remove_tree_safely(&old.path, &format!(".{}{DELETING_SUFFIX}", old.name))?;
        tracing::info!("rotated away {}", old.name);
        deleted.push(old.name.clone());
    }
    if !deleted.is_empty() {
        crate::fsutil::sync_dir(destination)?;
    }
    Ok(deleted)
}
