//! Restore, safely: verify the backup, take a safety snapshot of the current data, then
//! put databases back through SQLite and folders back through a staging copy swapped in.
//! `plan.rs` works out what will change (the preview is its summary); `apply.rs` changes it.

mod apply;
mod plan;

use std::fs;

use serde::{Deserialize, Serialize};

pub use plan::RestorePlan;

use crate::backup;
use crate::catalog;
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::BackupKind;
use crate::lock::DestinationLock;
use crate::manifest::{in_item, join_rel, EntryKind, FileEntry, Trigger};
use crate::progress::{Phase, Progress, Throttle};
use crate::sqlite;
use crate::verify;

use plan::Plan;

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RestoreReport {
    /// The backup restored from.
    pub name: String,
    /// The `pre-restore_*` snapshot of the data as it was; restore it to undo.
    pub safety_snapshot: Option<String>,
    /// Files that had changed since the backup and were put back (as in the plan).
    pub put_back: u64,
    /// Files that had been deleted since the backup and came back (as in the plan).
    pub brought_back: u64,
    /// Every file written from the backup (changed or not: folders are swapped whole).
    pub files_restored: u64,
    /// Files added since the backup, removed (they are in the safety snapshot).
    pub files_removed: u64,
    /// Databases put back, relative to the source.
    pub databases_restored: Vec<String>,
}

/// What restoring `name` would change, without changing anything.
///
/// # Errors
/// No such backup, an unreadable manifest, or an unsafe path in it.
pub fn preview(profile: &Profile, name: &str) -> Result<RestorePlan> {
    Plan::load(profile, name)?.summary(name)
}

/// Restores backup `name` into the profile's source. See the module doc. `damaged`
/// names backups a verify found damaged, never linked from by the safety snapshot.
///
/// # Errors
/// The destination busy; the backup damaged ([`Error::Damaged`], every problem listed)
/// or holding an unsafe path; the source missing; a live database held by another
/// program. Once live data has changed, a failure is [`Error::RestoreInterrupted`]
/// naming the safety snapshot, with the kind of its cause.
pub fn restore(profile: &Profile, name: &str, progress: &dyn Progress, damaged: &[String]) -> Result<RestoreReport> {
    let _lock = DestinationLock::acquire(&profile.destination, "a restore")?;
    catalog::remove_leftovers(&profile.destination)?;
    let plan = Plan::load(profile, name)?;
    let report = verify::verify_against(&plan.dir, &plan.manifest, progress);
    if !report.ok {
        let all = report.describe();
        return Err(Error::Damaged { path: plan.dir, problems: all.len(), first: all[0].clone(), all });
    }
    if !profile.source.is_dir() {
        return Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist — create it or connect its drive, then retry".into(),
        });
    }
    let lives: Vec<std::path::PathBuf> = plan.items.iter().map(|i| plan.live_path(i)).collect();
    apply::recover_interrupted(&lives)?;
    let before = plan.summary(name)?;
    let m = &plan.manifest;
    // Fail early, before anything changes, when a database is held by another program.
    for db in &m.databases {
        let live = plan.live_entry(&db.path);
        if plan.items.contains(&db.path) && sqlite::is_database(&live) {
            apply::ensure_not_locked(&live)?;
        }
    }

    let safety = take_safety_snapshot(profile, &plan, name, progress, damaged)?;
    let undo = |e: Error| match &safety {
        Some(s) => {
            Error::RestoreInterrupted { backup: name.to_string(), safety_snapshot: s.clone(), source: Box::new(e) }
        }
        None => e,
    };

    let total_files = m.files.iter().filter(|f| matches!(f.kind, EntryKind::File | EntryKind::Database)).count() as u64;
    let total_bytes: u64 = m.files.iter().map(|f| f.size).sum();
    let throttle = Throttle::new(progress, Phase::Restoring, total_files, total_bytes);
    let mut tick = |files: u64, bytes: u64| throttle.add(files, bytes);

    let mut databases_restored = Vec::new();
    let mut files_restored = 0;
    for (item, live) in plan.items.iter().zip(&lives) {
        let entry = m.files.iter().find(|f| f.path == *item);
        match entry {
            Some(e) if e.kind == EntryKind::Database => {
                let copy = join_rel(&plan.dir, item).unwrap_or_else(|| plan.dir.join(item));
                apply::restore_database(&copy, live, e).map_err(undo)?;
                databases_restored.push(item.clone());
                files_restored += 1;
                tick(1, e.size);
            }
            Some(e) if matches!(e.kind, EntryKind::File | EntryKind::Symlink) => {
                apply::replace_single(&plan.dir, live, e).map_err(undo)?;
                files_restored += 1;
                tick(1, e.size);
            }
            Some(_) => {
                let entries: Vec<&FileEntry> = m.files.iter().filter(|f| in_item(&f.path, item)).collect();
                let kept = apply::keep_excluded(&plan.selection, live);
                let n = apply::restore_folder(&plan.dir, live, item, &entries, &kept, &mut tick).map_err(undo)?;
                databases_restored
                    .extend(entries.iter().filter(|f| f.kind == EntryKind::Database).map(|f| f.path.clone()));
                files_restored += n;
            }
            None => {}
        }
    }
    throttle.finish();
    // Whole-source backups: top-level entries added since are removed too.
    for path in plan.top_level_additions()? {
        if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path).at("remove", &path).map_err(undo)?;
        } else {
            fs::remove_file(&path).at("remove", &path).map_err(undo)?;
        }
    }
    fsx::sync_tree(&profile.source)?;
    fsx::sync_dir(&profile.source)?;
    if let Err(e) = catalog::rotate_keeping(&profile.destination, BackupKind::PreRestore, catalog::KEEP_SAFETY, &[]) {
        tracing::error!("rotation of safety snapshots failed: {e}");
    }
    // The files added since were counted by the plan, before the folders were swapped.
    let files_removed = before.remove;
    tracing::info!(
        "restored {name}: {files_restored} files, {files_removed} removed, databases {databases_restored:?}"
    );
    Ok(RestoreReport {
        name: name.to_string(),
        safety_snapshot: safety,
        put_back: before.put_back,
        brought_back: before.bring_back,
        files_restored,
        files_removed,
        databases_restored,
    })
}

/// The snapshot of the items as they are now, so the restore itself can be undone.
fn take_safety_snapshot(
    profile: &Profile,
    plan: &Plan,
    restoring: &str,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<Option<String>> {
    let whole = plan.manifest.include.is_empty();
    let present: Vec<String> =
        plan.items.iter().filter(|i| fs::symlink_metadata(profile.source.join(i)).is_ok()).cloned().collect();
    if present.is_empty() && !whole {
        return Ok(None);
    }
    let mut p = profile.clone();
    p.include = if whole { Vec::new() } else { present };
    let info = backup::create_locked(&p, Trigger::PreRestore, BackupKind::PreRestore, progress, &[restoring], damaged)?
        .ok_or_else(|| Error::Internal { message: "a pre-restore snapshot was skipped".into() })?;
    Ok(Some(info.name))
}
