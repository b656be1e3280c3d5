//! Makes one backup: scan the source, write every entry into a hidden staging folder,
//! fsync, rename it into place, then rotate. `scan.rs` finds what to back up and decides
//! what changed; `store.rs` writes it.

mod scan;
mod store;

use std::fs;
use std::io;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::catalog::{self, BackupInfo};
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::{self, BackupKind, INFO_FILE, MANIFEST_FILE};
use crate::lock::DestinationLock;
use crate::manifest::{Manifest, Trigger};
use crate::progress::{Phase, Progress, ProgressUpdate};
use crate::selection::Selection;

use scan::Previous;
use scan::Scan;

/// What a backup run ended with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
// One value per run, never stored in bulk: boxing would only add a pointer for callers.
#[allow(clippy::large_enum_variant)]
pub enum BackupOutcome {
    /// A new complete backup.
    Created {
        /// Its summary.
        backup: BackupInfo,
    },
    /// A scheduled or startup run found nothing changed since the newest backup.
    Skipped {
        /// "nothing changed since backup_…".
        reason: String,
    },
}

/// Makes a backup of `profile` now: takes the destination lock, removes leftovers of
/// interrupted runs, then [`create_locked`]. `damaged` names backups a verify found
/// damaged: unchanged files are never linked from those.
///
/// # Errors
/// The source or destination missing, the destination busy, full or read-only, a
/// database that cannot be copied. Nothing is published on error; older backups and the
/// source are untouched.
pub fn backup(
    profile: &Profile,
    trigger: Trigger,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<BackupOutcome> {
    check_source(profile)?;
    catalog::prepare_destination(&profile.destination)?;
    let _lock = DestinationLock::acquire(&profile.destination, "a backup")?;
    catalog::remove_leftovers(&profile.destination)?;
    let kind = if trigger == Trigger::PreRestore { BackupKind::PreRestore } else { BackupKind::Backup };
    match create_locked(profile, trigger, kind, progress, &[], damaged)? {
        Some(info) => Ok(BackupOutcome::Created { backup: info }),
        None => {
            let newest = catalog::newest_backup(&profile.destination).map(|b| b.name).unwrap_or_default();
            Ok(BackupOutcome::Skipped { reason: format!("nothing changed since {newest}") })
        }
    }
}

/// Makes a backup while the caller holds the destination lock (restore takes its safety
/// snapshot this way). `protect` names backups rotation must keep. Returns `None` when a
/// scheduled or startup run finds nothing changed.
///
/// # Errors
/// As [`backup`].
pub fn create_locked(
    profile: &Profile,
    trigger: Trigger,
    kind: BackupKind,
    progress: &dyn Progress,
    protect: &[&str],
    damaged: &[String],
) -> Result<Option<BackupInfo>> {
    let started_at = Utc::now();
    let selection = Selection::new(profile)?;
    let all = catalog::list(&profile.destination)?;
    let newest_backup = all.iter().find(|b| b.kind == BackupKind::Backup);
    // Unchanged files are linked from the newest complete backup of either kind, unless a
    // verify found it damaged: linking would carry the damage into the new backup.
    let link_from = all
        .iter()
        .find(|b| !damaged.contains(&b.name))
        .and_then(|b| Manifest::read(&b.path).ok().map(|m| (b.path.clone(), m)));

    progress.update(&ProgressUpdate::phase(Phase::Scanning));
    let previous = link_from.as_ref().map(|(dir, m)| Previous::new(dir, m));
    let scan = Scan::run(&selection, previous.as_ref())?;
    let sequence = all.iter().map(|b| b.sequence).max().unwrap_or(0) + 1;

    if matches!(trigger, Trigger::Scheduled | Trigger::Startup) {
        if let Some(newest) = newest_backup {
            let same = match &link_from {
                Some((p, m)) if *p == newest.path => scan.unchanged_since(m),
                _ => Manifest::read(&newest.path).map(|m| scan.unchanged_since(&m)).unwrap_or(false),
            };
            if same {
                tracing::info!("{trigger} backup skipped: nothing changed since {}", newest.name);
                return Ok(None);
            }
        }
    }

    let name = layout::new_backup_name(&profile.destination, kind, started_at);
    let staging = profile.destination.join(layout::staging_name(&name));
    tracing::info!("{trigger} backup {name} of {} started", profile.source.display());
    let result = (|| {
        fs::create_dir(&staging).at("create staging folder", &staging)?;
        let mut manifest = store::write_tree(profile, &scan, &staging, previous.as_ref(), progress)?;
        manifest.trigger = trigger;
        manifest.started_at = started_at;
        manifest.sequence = sequence;
        let count = manifest.totals.files + manifest.totals.databases;
        progress.update(&ProgressUpdate {
            phase: Phase::Finishing,
            files_done: count,
            files_total: count,
            bytes_done: manifest.totals.bytes,
            bytes_total: manifest.totals.bytes,
        });
        manifest.finished_at = Utc::now();
        fsx::write_synced(&staging.join(INFO_FILE), manifest.info_text(&name).as_bytes())?;
        manifest.write(&staging.join(MANIFEST_FILE))?;
        fsx::sync_tree(&staging)?;
        let final_dir = profile.destination.join(&name);
        fs::rename(&staging, &final_dir).at("move the finished backup into place", &final_dir)?;
        fsx::sync_dir(&profile.destination)?;
        Ok((final_dir, manifest))
    })();
    let (final_dir, manifest) = match result {
        Ok(r) => r,
        Err(e) => {
            if staging.exists() {
                if let Err(cleanup) = fs::remove_dir_all(&staging) {
                    tracing::error!("cannot remove staging folder {}: {cleanup}", staging.display());
                }
            }
            // Name the destination the person chose, not a file inside the hidden staging folder.
            let e = match e {
                Error::DiskFull { .. } => Error::DiskFull { path: profile.destination.clone() },
                Error::ReadOnly { .. } => Error::ReadOnly { path: profile.destination.clone() },
                e => e,
            };
            tracing::error!("backup {name} failed: {e}");
            return Err(e);
        }
    };
    tracing::info!(
        "backup {name} complete: {} files, {} bytes ({} written) in {:.1} s",
        manifest.totals.files + manifest.totals.databases,
        manifest.totals.bytes,
        manifest.totals.bytes_written,
        manifest.duration_secs()
    );
    for w in &manifest.warnings {
        tracing::warn!("backup {name}: {w}");
    }
    if manifest.is_partial() {
        tracing::warn!(
            "backup {name} is partial: {} not backed up",
            crate::units::count(manifest.skipped.iter().filter(|k| k.is_problem()).count() as u64, "item", "items")
        );
    }

    progress.update(&ProgressUpdate::phase(Phase::Rotating));
    let limit = if kind == BackupKind::Backup { profile.keep } else { catalog::KEEP_SAFETY };
    let protect: Vec<&str> = protect.iter().copied().chain([name.as_str()]).collect();
    if let Err(e) = catalog::rotate_keeping(&profile.destination, kind, limit, &protect) {
        // The new backup is complete and safe; a failed rotation only leaves an extra one.
        tracing::error!("rotation after {name} failed: {e}");
    }
    Ok(Some(BackupInfo::from_manifest(name, final_dir, kind, &manifest)))
}

fn check_source(profile: &Profile) -> Result<()> {
    match fs::metadata(&profile.source) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::SourceMissing { path: profile.source.clone(), cause: "is not a folder".into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist — check `source` in the config, or connect its drive".into(),
        }),
        Err(e) => Err(Error::io("read source", &profile.source, e)),
    }
}
