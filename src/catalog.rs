//! The backups in a destination: prepare it, list, order and rotate its backups. Only
//! complete backups (a folder with a readable manifest) count.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::{self, BackupKind};
use crate::manifest::{DatabaseInfo, ItemTotals, Manifest, Skipped, Totals, Trigger};

/// How many safety snapshots are kept (the newest).
pub const KEEP_SAFETY: usize = 1;

/// A complete backup and its manifest summary (the file list left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BackupInfo {
    /// The folder name, e.g. `backup_2025-12-29_09-57-15`.
    pub name: String,
    /// The folder.
    pub path: PathBuf,
    /// What it is.
    pub kind: BackupKind,
    /// What started it.
    pub trigger: Trigger,
    /// Start and end, UTC.
    pub started_at: DateTime<Utc>,
    /// When it ended, UTC.
    pub finished_at: DateTime<Utc>,
    /// Seconds from start to end.
    pub duration_secs: f64,
    /// Counts of files, folders, links, databases and bytes.
    pub totals: Totals,
    /// Files and bytes per included item.
    pub items: Vec<ItemTotals>,
    /// Every database copied, with its tables and integrity.
    pub databases: Vec<DatabaseInfo>,
    /// Files that kept changing while they were copied, integrity findings.
    pub warnings: Vec<String>,
    /// The order of backups in this destination, independent of the wall clock.
    #[serde(default)]
    pub sequence: u64,
    /// Whether some entries holding data could not be backed up (see `skipped`).
    #[serde(default)]
    pub partial: bool,
    /// Entries left out, with the reason (unreadable, special, unstorable).
    #[serde(default)]
    pub skipped: Vec<Skipped>,
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
    #[serde(default)]
    sequence: u64,
    #[serde(default)]
    skipped: Vec<Skipped>,
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
            sequence: m.sequence,
            partial: m.skipped.iter().any(Skipped::is_problem),
            skipped: m.skipped,
        }
    }

    /// The summary of the backup `name` in `path` whose manifest is `m`.
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
            sequence: m.sequence,
            partial: m.is_partial(),
            skipped: m.skipped.clone(),
        }
    }
}

/// Complete backups (a `backup_*` or `pre-restore_*` folder with a readable manifest),
/// newest first: by the manifest's sequence number (which a wrong clock cannot disturb),
/// then by its UTC start time, never by folder name alone.
///
/// # Errors
/// [`Error::DestinationUnavailable`] when the destination is missing; I/O errors reading it.
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
    out.sort_by(|a, b| {
        b.sequence.cmp(&a.sequence).then_with(|| b.started_at.cmp(&a.started_at)).then_with(|| b.name.cmp(&a.name))
    });
    Ok(out)
}

/// The newest complete regular backup, if the destination can be read.
pub fn newest_backup(destination: &Path) -> Option<BackupInfo> {
    list(destination).ok()?.into_iter().find(|b| b.kind == BackupKind::Backup)
}

/// The folder of the complete backup `name`.
///
/// # Errors
/// [`Error::NoSuchBackup`] for a name that is not a backup here (or not a backup name at
/// all), [`Error::DestinationUnavailable`] when the destination is missing.
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

/// Removes staging and half-deleted folders left by an interrupted run, and safety
/// snapshots rotation set aside; returns them. Call only while holding the destination
/// lock.
///
/// # Errors
/// The destination cannot be read, or a leftover cannot be removed.
pub fn remove_leftovers(destination: &Path) -> Result<Vec<PathBuf>> {
    remove_leftovers_where(destination, layout::is_destination_leftover)
}

/// Removes only the staging folders of interrupted runs (`.<name>.partial`), leaving
/// folders set aside for deletion to the next backup: what a restore, which a user
/// waits for, cleans up. Call only while holding the destination lock.
///
/// # Errors
/// As [`remove_leftovers`].
pub fn remove_staging_leftovers(destination: &Path) -> Result<Vec<PathBuf>> {
    remove_leftovers_where(destination, |name| {
        layout::is_destination_leftover(name) && !name.ends_with(layout::DELETING_SUFFIX)
    })
}

fn remove_leftovers_where(destination: &Path, leftover: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(destination).at("read", destination)? {
        let entry = entry.at("read", destination)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if leftover(&name) && entry.path().is_dir() {
            tracing::info!("removing leftover of an interrupted run: {}", entry.path().display());
            fs::remove_dir_all(entry.path()).at("remove leftover", entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Deletes complete backups of `kind` beyond the newest `limit` (oldest first), never
/// one named in `protect` (the one just made, one being restored from), never an unknown
/// or incomplete folder, never the last one, and never the newest backup with nothing
/// skipped while newer ones are partial. Call only while holding the destination lock.
/// Returns the names deleted.
///
/// Safety snapshots ([`BackupKind::PreRestore`]) are only set aside (renamed to
/// `.<name>.deleting`, out of every listing) and deleted by the next backup's
/// [`remove_leftovers`]: a restore, which a user waits for, does not wait for the
/// removal of tens of thousands of links.
///
/// # Errors
/// Listing the destination or removing a backup failing (what was removed stays removed).
pub fn rotate_keeping(destination: &Path, kind: BackupKind, limit: usize, protect: &[&str]) -> Result<Vec<String>> {
    let of_kind: Vec<BackupInfo> = list(destination)?.into_iter().filter(|b| b.kind == kind).collect();
    // The newest whole backup is kept while any newer one is partial: it holds what
    // the partial ones lack.
    let newest_whole = of_kind.iter().position(|b| !b.partial).filter(|&i| i > 0).map(|i| of_kind[i].name.as_str());
    let mut deleted = Vec::new();
    // Oldest first, so a run killed part-way has removed the oldest, never a newer one.
    for old in of_kind.iter().skip(limit.max(1)).rev() {
        if protect.contains(&old.name.as_str()) || newest_whole == Some(old.name.as_str()) {
            continue;
        }
        if kind == BackupKind::PreRestore {
            let aside = destination.join(layout::deleting_name(&old.name));
            fs::rename(&old.path, &aside).at("set aside for removal", &old.path)?;
        } else {
            fsx::remove_tree_safely(&old.path, &layout::deleting_name(&old.name))?;
        }
        tracing::info!("rotated away {}", old.name);
        deleted.push(old.name.clone());
    }
    if !deleted.is_empty() {
        fsx::sync_dir(destination)?;
    }
    Ok(deleted)
}

/// Makes sure the destination exists. It may be created, but only in an existing parent:
/// a missing parent means the drive is not mounted, and creating a look-alike folder on
/// the system disk would be wrong.
///
/// # Errors
/// [`Error::DestinationUnavailable`] when it is not a folder or its parent is missing;
/// I/O errors creating it.
pub fn prepare_destination(dest: &Path) -> Result<()> {
    match fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::DestinationUnavailable { path: dest.to_path_buf(), cause: "is not a folder".into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = dest.parent().filter(|p| p.is_dir()).ok_or_else(|| Error::DestinationUnavailable {
                path: dest.to_path_buf(),
                cause: format!(
                    "does not exist and neither does its parent {} — is the drive connected?",
                    dest.parent().unwrap_or(dest).display()
                ),
            })?;
            fs::create_dir(dest).at("create destination", dest)?;
            fsx::sync_dir(parent)
        }
        Err(e) => Err(Error::io("read destination", dest, e)),
    }
}
