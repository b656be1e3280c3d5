//! Pushing local backups as snapshots, then retention (restic's two-phase prune) and a
//! cheap check with a rolling read of a small share of the data.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rustic_core::repofile::SnapshotFile;
use rustic_core::{
    BackupOptions, CheckOptions, KeepOptions, ParentOptions, PathList, PruneOptions, ReadSubsetOption, SnapshotOptions,
};

use crate::catalog::{self, BackupInfo};
use crate::config::{Offsite, Profile};
use crate::error::{Error, Result};
use crate::layout::BackupKind;

use super::backend::Uploaded;
use super::repo::{IndexedRepo, Remote};
use super::secrets::Secrets;
use super::state::{self, State};
use super::url::RepoUrl;
use super::{snapshot_path, to_chrono, LastPush, PushReport, PushRun, RetentionReport};

/// After each push the check reads one of this many shares of the packs, in turn: with
/// two pushes a day every pack is read back within about two weeks.
pub const ROLLING_PARTS: u32 = 32;

/// The profile's offsite settings.
///
/// # Errors
/// [`Error::Setting`] (`offsite`) when it has none.
pub fn settings(profile: &Profile) -> Result<&Offsite> {
    profile.offsite.as_ref().ok_or_else(|| {
        Error::setting(
            "offsite",
            format!(
                "profile \"{}\" has no offsite copy: set one up with `lifeboat offsite init --repo URL`",
                profile.name
            ),
        )
    })
}

/// Pushes `only` (a local backup's name), or every complete local backup not yet in the
/// repository, oldest first; then retention and a check. The outcome (or the failure)
/// is kept in the profile's offsite state for `status`.
///
/// # Errors
/// A classified offsite error; [`Error::NoSuchBackup`] for an unknown `only`;
/// [`Error::DestinationUnavailable`] when the local backups cannot be read.
pub fn push(profile: &Profile, only: Option<&str>, secrets: &Secrets, cancel: Arc<AtomicBool>) -> Result<PushRun> {
    push_counting(profile, only, secrets, cancel, None)
}

/// As [`push`], counting the bytes uploaded into `uploaded` as they go (the background
/// pusher's progress).
///
/// # Errors
/// As [`push`].
pub fn push_counting(
    profile: &Profile,
    only: Option<&str>,
    secrets: &Secrets,
    cancel: Arc<AtomicBool>,
    uploaded: Option<Arc<Uploaded>>,
) -> Result<PushRun> {
    let offsite = settings(profile)?;
    let result = push_inner(profile, offsite, only, secrets, cancel, uploaded);
    if let Err(e) = &result {
        state::record_error(&profile.name, &offsite.repository, e);
    }
    result
}

fn push_inner(
    profile: &Profile,
    offsite: &Offsite,
    only: Option<&str>,
    secrets: &Secrets,
    cancel: Arc<AtomicBool>,
    uploaded: Option<Arc<Uploaded>>,
) -> Result<PushRun> {
    let url = RepoUrl::parse(&offsite.repository)?;
    let limit = offsite.upload_limit_kbps.map(|k| u64::from(k) * 1000);
    let remote = Remote::connect_counting(&url, secrets, limit, Arc::clone(&cancel), uploaded)?;
    let mut repo = remote.open(secrets, "push")?.to_indexed_ids().map_err(|e| remote.fail(&e, "push"))?;
    let host = crate::fsx::host_name();
    let as_path = snapshot_path(&profile.name);
    let mine = |s: &SnapshotFile| s.hostname == host && s.paths.contains(&as_path);
    let ours = repo.get_matching_snapshots(mine).map_err(|e| remote.fail(&e, "push"))?;
    let mut st = state::load(&profile.name, &offsite.repository);
    st.pushed = ours.iter().flat_map(|s| s.tags.iter().map(move |t| (t.clone(), s.id.to_hex().to_string()))).collect();
    st.newest_ms = ours.iter().map(|s| s.time.timestamp().as_millisecond()).max();

    let todo = to_push(&profile.destination, only, &st)?;
    let mut pushed = Vec::new();
    for (i, backup) in todo.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Err(Error::OffsiteCancelled { what: "push", repository: url.text.clone() });
        }
        if i > 0 {
            // Re-read the index: the next backup dedups against what the last one added.
            repo = repo.to_indexed_ids().map_err(|e| remote.fail(&e, "push"))?;
        }
        let report = push_one(&remote, &repo, backup, &host, &as_path)?;
        st.pushed.insert(report.backup.clone(), report.snapshot.clone());
        st.newest_ms = st.newest_ms.max(Some(backup.started_at.timestamp_millis()));
        st.last_push = Some(LastPush {
            at: Utc::now(),
            backup: report.backup.clone(),
            snapshot: report.snapshot.clone(),
            uploaded_bytes: report.uploaded_bytes,
        });
        state::save(&profile.name, &st);
        pushed.push(report);
    }
    let retention = if pushed.is_empty() {
        RetentionReport::default()
    } else {
        retention(&remote, &repo, offsite, &host, &as_path)?
    };
    for gone in &retention.forgotten_backups {
        st.pushed.remove(gone);
    }
    let (part, parts) = (st.checks % ROLLING_PARTS, ROLLING_PARTS);
    let checked = if pushed.is_empty() { None } else { Some(check_share(&remote, &repo, part, parts)?) };
    if checked.is_some() {
        st.checks = st.checks.wrapping_add(1);
    }
    st.last_error = None;
    st.last_error_at = None;
    state::save(&profile.name, &st);
    let uploaded = remote.uploaded();
    Ok(PushRun {
        repository: url.text.clone(),
        pushed,
        already_offsite: if todo.is_empty() { only.map(str::to_string) } else { None },
        retention,
        checked_share: checked.map(|()| format!("{}/{parts}", part + 1)),
        uploaded_bytes: uploaded.bytes.load(Ordering::Relaxed),
        puts: uploaded.puts.load(Ordering::Relaxed),
    })
}

/// The local backups to push: `only`, or every complete `backup_*` newer than the newest
/// one in the repository, oldest first (an older one that retention forgot stays forgotten).
fn to_push(destination: &std::path::Path, only: Option<&str>, st: &State) -> Result<Vec<BackupInfo>> {
    let mut local: Vec<BackupInfo> =
        catalog::list(destination)?.into_iter().filter(|b| b.kind == BackupKind::Backup).collect();
    local.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.name.cmp(&b.name)));
    match only {
        Some(name) => {
            let b = local.into_iter().find(|b| b.name == name).ok_or_else(|| Error::NoSuchBackup {
                name: name.to_string(),
                destination: destination.to_path_buf(),
            })?;
            Ok(if st.pushed.contains_key(name) { Vec::new() } else { vec![b] })
        }
        None => Ok(local.into_iter().filter(|b| st.pending(&b.name, b.started_at.timestamp_millis())).collect()),
    }
}

/// Uploads one backup folder as a snapshot at `as_path`, dated by the backup's start.
fn push_one(remote: &Remote, repo: &IndexedRepo, backup: &BackupInfo, host: &str, as_path: &str) -> Result<PushReport> {
    let started = Instant::now();
    let uploaded = remote.uploaded();
    let (bytes0, puts0) = (uploaded.bytes.load(Ordering::Relaxed), uploaded.puts.load(Ordering::Relaxed));
    let fail = |e: Box<rustic_core::RusticError>| remote.fail(&e, "push");
    let time = jiff::Timestamp::from_millisecond(backup.started_at.timestamp_millis())
        .map_err(|e| Error::Internal { message: format!("backup time out of range: {e}") })?
        .to_zoned(jiff::tz::TimeZone::UTC);
    let options = SnapshotOptions::default()
        .host(host.to_string())
        .time(time)
        .description(format!("Lifeboat backup {} ({} trigger)", backup.name, backup.trigger))
        .add_tags(&backup.name)
        .map_err(fail)?;
    let snapshot = SnapshotFile::from_options(&options).map_err(fail)?;
    let backup_opts = BackupOptions::default()
        .as_path(PathBuf::from(as_path))
        .no_scan(true)
        .parent_opts(ParentOptions::default().ignore_ctime(true).ignore_inode(true));
    let source = PathList::from_iter([backup.path.clone()])
        .sanitize()
        .map_err(|e| Error::Internal { message: format!("backup path {}: {e}", backup.path.display()) })?;
    let snap = repo.backup(&backup_opts, &source, snapshot).map_err(fail)?;
    if !backup.path.is_dir() {
        // Rotation removed the folder while it was read: the snapshot may be partial.
        let _ = repo.delete_snapshots(&[snap.id]);
        return Err(Error::Offsite {
            repository: remote.url.text.clone(),
            message: format!(
                "backup {} was removed locally (rotation) while it was pushed; its snapshot was dropped",
                backup.name
            ),
        });
    }
    let summary = snap.summary.clone().unwrap_or_default();
    tracing::info!(
        "offsite: pushed {} as snapshot {} ({} files, {} bytes added)",
        backup.name,
        snap.id,
        summary.total_files_processed,
        summary.data_added_packed
    );
    Ok(PushReport {
        backup: backup.name.clone(),
        snapshot: snap.id.to_hex().to_string(),
        time: to_chrono(&snap.time),
        files: summary.total_files_processed,
        bytes: summary.total_bytes_processed,
        added_bytes: summary.data_added_packed,
        uploaded_bytes: uploaded.bytes.load(Ordering::Relaxed) - bytes0,
        puts: uploaded.puts.load(Ordering::Relaxed) - puts0,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Forgets this profile's snapshots beyond what `offsite` keeps (never the newest), then
/// prunes in restic's two phases: unused packs are marked now and deleted by a later
/// prune at least 23 h on, so a concurrent reader never loses a pack it still needs.
fn retention(
    remote: &Remote,
    repo: &IndexedRepo,
    offsite: &Offsite,
    host: &str,
    as_path: &str,
) -> Result<RetentionReport> {
    let fail = |e: Box<rustic_core::RusticError>| remote.fail(&e, "retention");
    let ours = repo.get_matching_snapshots(|s| s.hostname == host && s.paths.contains(as_path)).map_err(fail)?;
    let Some(newest) = ours.iter().max_by(|a, b| a.time.cmp(&b.time)).map(|s| s.id) else {
        return Ok(RetentionReport::default());
    };
    let keep = KeepOptions::default()
        .keep_last(i32::try_from(offsite.keep).unwrap_or(i32::MAX))
        .keep_daily(offsite.keep_daily.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
        .keep_weekly(offsite.keep_weekly.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
        .keep_monthly(offsite.keep_monthly.map(|n| i32::try_from(n).unwrap_or(i32::MAX)));
    let decided = keep.apply(ours, &jiff::Zoned::now()).map_err(fail)?;
    let gone: Vec<_> = decided.into_iter().filter(|f| !f.keep && f.snapshot.id != newest).map(|f| f.snapshot).collect();
    if gone.is_empty() {
        return Ok(RetentionReport::default());
    }
    let ids: Vec<_> = gone.iter().map(|s| s.id).collect();
    repo.delete_snapshots(&ids).map_err(fail)?;
    let opts = PruneOptions::default();
    let plan = repo.prune_plan(&opts).map_err(fail)?;
    let packs_marked = plan.stats.packs.unused + plan.stats.packs.repack;
    let packs_deleted = plan.stats.packs_to_delete.remove;
    repo.prune(&opts, plan).map_err(fail)?;
    Ok(RetentionReport {
        forgotten: ids.iter().map(|i| i.to_hex().to_string()).collect(),
        forgotten_backups: gone.iter().flat_map(|s| s.tags.iter().cloned()).collect(),
        packs_marked,
        packs_deleted,
    })
}

/// A structure check plus reading share `part` of `parts` of the packs.
fn check_share(remote: &Remote, repo: &IndexedRepo, part: u32, parts: u32) -> Result<()> {
    let opts = CheckOptions::default().read_data(true).read_data_subset(ReadSubsetOption::IdSubSet((part, parts)));
    let problems = super::run_check(remote, repo, opts)?;
    super::damaged_if_any(&remote.url.text, &problems)
}
