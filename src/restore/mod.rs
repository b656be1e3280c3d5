//! Restore, safely and only what differs: work out what differs from the backup, check
//! what it will read from the backup, take a safety snapshot of the data it will change, note the restore in a journal, then put back each file that
//! differs on its own (databases through SQLite, wherever they are), remove what was
//! added since, and set folder times. `plan.rs` works out the changes (the preview is
//! their summary); `apply.rs` makes them.
//!
//! A restore killed part-way leaves every file either old or new, and its journal in the
//! destination: the next restore or backup finishes it first ([`resume_interrupted`]).

mod apply;
mod diff;
mod plan;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use diff::{against_live as diff_live, between as diff_backups, DatabaseDiff, Diff, TableDiff};
pub use plan::{check_outside, EntryState, RestorePlan, RestoreRequest};

use crate::backup;
use crate::catalog;
use crate::config::Profile;
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::{BackupKind, RESTORE_JOURNAL};
use crate::lock::DestinationLock;
use crate::manifest::{EntryKind, FileEntry, Trigger};
use crate::progress::{Phase, Progress, Throttle};
use crate::verify;

use plan::{Change, Plan};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RestoreReport {
    /// The backup restored from.
    pub name: String,
    /// The `pre-restore_*` snapshot of the data as it was; restore it to undo.
    pub safety_snapshot: Option<String>,
    /// Files that had changed since the backup and were put back.
    pub put_back: u64,
    /// Files that had been deleted since the backup and came back.
    pub brought_back: u64,
    /// Files (and links, and databases) written from the backup; unchanged ones are not.
    pub files_restored: u64,
    /// Files added since the backup, removed (they are in the safety snapshot).
    pub files_removed: u64,
    /// Databases put back, relative to the source.
    pub databases_restored: Vec<String>,
    /// Where it was written, when not in place.
    pub to: Option<PathBuf>,
}

/// A restore in progress, written to the destination before live data changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    request: RestoreRequest,
    safety_snapshot: Option<String>,
    started_at: DateTime<Utc>,
}

/// What restoring as `request` asks would change, without changing anything.
///
/// # Errors
/// No such backup, an unreadable manifest or an unsafe path in it, a requested path not
/// in the backup (the error names the nearest entries), a `--to` folder that is not empty.
pub fn preview(profile: &Profile, request: &RestoreRequest) -> Result<RestorePlan> {
    let plan = Plan::load(profile, request)?;
    Ok(plan.summary(&plan.changes()?))
}

/// How each entry directly under `path` (escaped; "" for the top) of backup `name`
/// compares with the live data, plus live entries there that the backup does not hold.
///
/// # Errors
/// As [`preview`].
pub fn entries_under(profile: &Profile, name: &str, path: &str) -> Result<Vec<(FileEntry, EntryState)>> {
    let plan = Plan::load(profile, &RestoreRequest::all(name))?;
    let parent_of = |p: &str| p.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
    let listed: Vec<&FileEntry> = plan.manifest.files.iter().filter(|e| parent_of(&e.path) == path).collect();
    if !path.is_empty() && !plan.manifest.files.iter().any(|e| e.path == path) {
        return Err(Error::Selection { path: PathBuf::from(path), message: format!("is not in backup {name}") });
    }
    let mut out: Vec<(FileEntry, EntryState)> = listed.iter().map(|e| ((*e).clone(), plan.state_of(e))).collect();
    // Live entries in that folder that the backup does not hold: new since.
    let folder = if path.is_empty() { None } else { Some(plan.live_entry(path)) };
    if let Some(folder) = folder.filter(|f| f.is_dir()) {
        let known: std::collections::HashSet<&str> = listed.iter().map(|e| e.path.as_str()).collect();
        for entry in fs::read_dir(&folder).at("read", &folder)?.flatten() {
            let rel = format!("{path}/{}", crate::manifest::encode_rel(Path::new(&entry.file_name())));
            let leftover = crate::layout::is_restore_leftover(&entry.file_name().to_string_lossy());
            if known.contains(rel.as_str()) || leftover || crate::sqlite::companion_of(&rel).is_some() {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let kind = if meta.is_dir() {
                EntryKind::Dir
            } else if meta.file_type().is_symlink() {
                EntryKind::Symlink
            } else {
                EntryKind::File
            };
            let id = fsx::file_id(&meta);
            out.push((
                FileEntry {
                    path: rel,
                    kind,
                    size: if meta.is_file() { meta.len() } else { 0 },
                    mtime_ns: fsx::mtime_ns(&meta),
                    ctime_ns: id.ctime_ns,
                    inode: id.inode,
                    dev: id.dev,
                    blake3: None,
                    stored: crate::manifest::Stored::Created,
                    mode: fsx::mode_of(&meta),
                    target: None,
                },
                EntryState::New,
            ));
        }
    }
    out.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    Ok(out)
}

/// Restores as `request` asks. See the module doc. `damaged` names backups a verify
/// found damaged, never linked from by the safety snapshot.
///
/// # Errors
/// The destination busy; the backup damaged ([`Error::Damaged`], every problem listed)
/// or holding an unsafe path; a path not in it; the source missing; a live database held
/// by another program. Once live data has changed, a failure is
/// [`Error::RestoreInterrupted`] naming the safety snapshot, with the kind of its cause.
pub fn restore(
    profile: &Profile,
    request: &RestoreRequest,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<RestoreReport> {
    let _lock = DestinationLock::acquire(&profile.destination, "a restore")?;
    catalog::remove_staging_leftovers(&profile.destination)?;
    if let Some(journal) = read_journal(&profile.destination)? {
        if journal.request != *request {
            tracing::warn!("finishing the interrupted restore of {} first", journal.request.name);
            run_locked(profile, &journal.request, progress, damaged, Some(journal.safety_snapshot.clone()))?;
        }
    }
    run_locked(profile, request, progress, damaged, None)
}

/// Finishes a restore a crash interrupted, if the destination's journal shows one.
///
/// # Errors
/// As [`restore`].
pub fn resume_interrupted(
    profile: &Profile,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<Option<RestoreReport>> {
    if !profile.destination.join(RESTORE_JOURNAL).exists() {
        return Ok(None);
    }
    let _lock = DestinationLock::acquire(&profile.destination, "a restore")?;
    let Some(journal) = read_journal(&profile.destination)? else { return Ok(None) };
    tracing::warn!("finishing the interrupted restore of {}", journal.request.name);
    run_locked(profile, &journal.request, progress, damaged, Some(journal.safety_snapshot)).map(Some)
}

/// A sentence about an interrupted restore, if the destination's journal shows one.
pub fn interrupted(destination: &Path) -> Option<String> {
    let journal = read_journal(destination).ok()??;
    Some(format!(
        "a restore of {} started {} was interrupted: the next restore or backup finishes it",
        journal.request.name,
        journal.started_at.to_rfc3339()
    ))
}

fn read_journal(destination: &Path) -> Result<Option<Journal>> {
    let path = destination.join(RESTORE_JOURNAL);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::Damaged {
            path: path.clone(),
            problems: 1,
            first: format!("the restore journal is unreadable: {e}"),
            all: vec![format!("the restore journal is unreadable: {e}")],
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

/// One restore, with the destination lock held. `resumed` carries the safety snapshot
/// of the interrupted run being finished (none is taken again).
fn run_locked(
    profile: &Profile,
    request: &RestoreRequest,
    progress: &dyn Progress,
    damaged: &[String],
    resumed: Option<Option<String>>,
) -> Result<RestoreReport> {
    let plan = Plan::load(profile, request)?;
    let in_place = request.to.is_none();
    if in_place && !profile.source.is_dir() {
        return Err(Error::SourceMissing {
            path: profile.source.clone(),
            cause: "does not exist — create it or connect its drive, then retry".into(),
        });
    }
    if in_place {
        for item in &plan.items {
            apply::clean_up(&plan.live_path(item))?;
        }
    }
    let changes = plan.changes()?;
    let summary = plan.summary(&changes);
    let m = &plan.manifest;
    // Check what the restore reads from the backup, before anything changes: every file
    // and database it puts back (BLAKE3 against the manifest, `integrity_check`). What
    // is already the same live is not read, so its copy need not be checked here
    // (`lifeboat verify` checks the whole backup).
    let read: HashSet<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Put { entry, .. } | Change::Database { entry, .. } => Some(m.files[*entry].path.as_str()),
            _ => None,
        })
        .collect();
    let report = verify::verify_entries(&plan.dir, m, &|p| read.contains(p), progress);
    if !report.ok {
        let all = report.describe();
        return Err(Error::Damaged { path: plan.dir.clone(), problems: all.len(), first: all[0].clone(), all });
    }
    if let Some(to) = &request.to {
        if !to.exists() {
            fs::create_dir(to).at("create folder", to)?;
        }
    }
    // Fail early, before anything changes, when a database is held by another program.
    for c in &changes {
        if let Change::Database { live, .. } = c {
            if crate::sqlite::is_database(live) {
                apply::ensure_not_locked(live)?;
            }
        }
    }

    let safety = match resumed {
        Some(s) => s,
        None if in_place && !changes.is_empty() => take_safety_snapshot(profile, &plan, progress, damaged)?,
        None => None,
    };
    let journal_path = profile.destination.join(RESTORE_JOURNAL);
    if in_place && !changes.is_empty() {
        let journal = Journal { request: request.clone(), safety_snapshot: safety.clone(), started_at: Utc::now() };
        let text = serde_json::to_vec_pretty(&journal).map_err(|e| Error::Internal { message: e.to_string() })?;
        fsx::write_atomic(&journal_path, &text)?;
    }
    // The journal is for a crash, which cannot report anything. A failure that is
    // reported (its error names the safety snapshot) removes it, so a restore that
    // cannot succeed never holds later backups back.
    let applied = (|| -> Result<(u64, u64, Vec<String>)> {
        let undo = |e: Error| match &safety {
            Some(s) => Error::RestoreInterrupted {
                backup: request.name.clone(),
                safety_snapshot: s.clone(),
                source: Box::new(e),
            },
            None => e,
        };

        let bytes: u64 = changes
            .iter()
            .map(|c| match c {
                Change::Put { entry, .. } | Change::Database { entry, .. } => m.files[*entry].size,
                _ => 0,
            })
            .fold(0u64, u64::saturating_add);
        let throttle = Throttle::new(progress, Phase::Restoring, changes.len() as u64, bytes);
        let (mut files_restored, mut files_removed, mut databases_restored) = (0u64, 0u64, Vec::new());
        // Folders first; then every file staged beside its live version and all of them
        // synced at once; then databases through SQLite; then the renames; then removals.
        for c in &changes {
            if let Change::MakeDir { live } = c {
                apply::make_dir(live).map_err(undo)?;
            }
        }
        let mut staged = Vec::new();
        for c in &changes {
            if let Change::Put { entry, live, .. } = c {
                let e = &m.files[*entry];
                if e.kind != EntryKind::Database {
                    staged.push((apply::stage(&plan.dir, live, e).map_err(undo)?, live, e));
                }
            }
        }
        if !staged.is_empty() {
            let root = request.to.as_deref().unwrap_or(&profile.source);
            fsx::sync_tree(root).map_err(undo)?;
        }
        for c in &changes {
            let (entry, live) = match c {
                Change::Database { entry, live } => (entry, live),
                Change::Put { entry, live, .. } if m.files[*entry].kind == EntryKind::Database => (entry, live),
                _ => continue,
            };
            let e = &m.files[*entry];
            apply::restore_database(&plan.dir, live, e).map_err(undo)?;
            databases_restored.push(e.path.clone());
            files_restored += 1;
            throttle.add(1, e.size);
        }
        for (tmp, live, e) in &staged {
            apply::commit(tmp, live).map_err(undo)?;
            files_restored += 1;
            throttle.add(1, e.size);
        }
        for c in &changes {
            if let Change::Remove { live, files } = c {
                apply::remove(live).map_err(undo)?;
                files_removed += files;
                throttle.add(1, 0);
            }
        }
        throttle.finish();
        // Folder times and modes last, deepest first: filling a folder changes its time.
        for e in m.files.iter().rev().filter(|e| e.kind == EntryKind::Dir && plan.selected(&e.path)) {
            apply::finish_dir(&plan.live_entry(&e.path), e);
        }
        let synced = match &request.to {
            Some(to) => fsx::sync_tree(to),
            None => fsx::sync_tree(&profile.source),
        };
        synced.map_err(undo)?;
        Ok((files_restored, files_removed, databases_restored))
    })();
    if in_place && journal_path.exists() {
        fs::remove_file(&journal_path).at("remove", &journal_path)?;
        fsx::sync_dir(&profile.destination)?;
    }
    let (files_restored, files_removed, databases_restored) = applied?;
    if let Err(e) = catalog::rotate_keeping(&profile.destination, BackupKind::PreRestore, catalog::KEEP_SAFETY, &[]) {
        tracing::error!("rotation of safety snapshots failed: {e}");
    }
    tracing::info!(
        "restored {}: {files_restored} files written, {files_removed} removed, databases {databases_restored:?}",
        request.name
    );
    Ok(RestoreReport {
        name: request.name.clone(),
        safety_snapshot: safety,
        put_back: summary.put_back,
        brought_back: summary.bring_back,
        files_restored,
        files_removed,
        databases_restored,
        to: request.to.clone(),
    })
}

/// The snapshot of the items the restore changes, as they are now, so the restore
/// itself can be undone. Unchanged files are hard-linked from the newest backup: cheap.
fn take_safety_snapshot(
    profile: &Profile,
    plan: &Plan,
    progress: &dyn Progress,
    damaged: &[String],
) -> Result<Option<String>> {
    let whole = plan.manifest.include.is_empty() && plan.request.paths.is_empty();
    // A restore of some paths changes nothing outside them: the snapshot holds each of
    // those as it is now, or, for one missing now, the nearest folder above it that
    // exists (so restoring the snapshot also takes back what the restore brought
    // back). One file of a 100,000-file item costs its folder, not the item.
    let touched: Vec<String> = if plan.request.paths.is_empty() {
        plan.items.clone()
    } else {
        let present = |p: &str| fs::symlink_metadata(plan.live_entry(p)).is_ok();
        let mut out: Vec<String> = plan
            .request
            .paths
            .iter()
            .filter_map(|p| {
                let mut at = p.as_str();
                loop {
                    if !plan.items.iter().any(|i| crate::manifest::in_item(at, i)) {
                        return None;
                    }
                    if present(at) {
                        return Some(at.to_string());
                    }
                    at = at.rsplit_once('/')?.0;
                }
            })
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let present: Vec<String> = touched
        .iter()
        .filter(|p| !touched.iter().any(|q| q != *p && crate::manifest::in_item(p, q)))
        .filter(|p| fs::symlink_metadata(plan.live_entry(p)).is_ok())
        .filter_map(|p| crate::manifest::decode_rel(p).and_then(|p| p.to_str().map(str::to_string)))
        .collect();
    if present.is_empty() && !whole {
        return Ok(None);
    }
    let mut p = profile.clone();
    p.include = if whole { Vec::new() } else { present };
    let info = backup::create_locked(
        &p,
        Trigger::PreRestore,
        BackupKind::PreRestore,
        progress,
        &[plan.request.name.as_str()],
        damaged,
    )?
    .ok_or_else(|| Error::Internal { message: "a pre-restore snapshot was skipped".into() })?;
    Ok(Some(info.name))
}
