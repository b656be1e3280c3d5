//! Reading the repository back: the snapshot list, `verify` (restic's check, with as much
//! of the data read as asked), and restore of a snapshot into a folder. All of it works
//! from the repository URL and the secrets alone: the disaster-recovery path needs no
//! config.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{CheckOptions, LocalDestination, LsOptions, ReadSubsetOption, RestoreOptions};

use crate::error::{Error, Result};
use crate::progress::NoProgress;

use super::repo::{OpenRepo, Remote};
use super::secrets::Secrets;
use super::url::RepoUrl;
use super::{to_chrono, FetchReport, OffsiteRestoreReport, OffsiteSnapshot, OffsiteVerifyReport, SNAPSHOT_ROOT};
use crate::config::Profile;
use crate::layout;
use crate::lock::DestinationLock;

fn connect(
    repository: &str,
    secrets: &Secrets,
    cancel: Arc<AtomicBool>,
    what: &'static str,
) -> Result<(Remote, OpenRepo)> {
    let url = RepoUrl::parse(repository)?;
    let remote = Remote::connect(&url, secrets, None, cancel)?;
    let repo = remote.open(secrets, what)?;
    Ok((remote, repo))
}

fn describe(s: &SnapshotFile) -> OffsiteSnapshot {
    let path = s.paths.iter().next().cloned().unwrap_or_default();
    let summary = s.summary.clone().unwrap_or_default();
    OffsiteSnapshot {
        id: s.id.to_hex().to_string(),
        short_id: s.id.to_hex().to_string().chars().take(8).collect(),
        time: to_chrono(&s.time),
        backup: s.tags.iter().next().cloned(),
        profile: path.strip_prefix(SNAPSHOT_ROOT).map(|p| p.trim_start_matches('/').to_string()),
        host: s.hostname.clone(),
        path,
        files: summary.total_files_processed,
        size: summary.total_bytes_processed,
        added: summary.data_added_packed,
    }
}

/// Every snapshot in the repository, newest first (Lifeboat's and any other).
///
/// # Errors
/// A classified offsite error.
pub fn list(repository: &str, secrets: &Secrets) -> Result<Vec<OffsiteSnapshot>> {
    let (remote, repo) = connect(repository, secrets, Arc::default(), "list")?;
    let mut all = repo.get_all_snapshots().map_err(|e| remote.fail(&e, "list"))?;
    all.sort_by(|a, b| b.time.cmp(&a.time));
    Ok(all.iter().map(describe).collect())
}

/// Checks the repository's structure and reads `read_data_percent` % of its packs back
/// (100: all of them; 0: none), checking every blob's hash.
///
/// # Errors
/// A classified offsite error; a damaged repository is an `Ok` report with problems.
pub fn verify(repository: &str, secrets: &Secrets, read_data_percent: f64) -> Result<OffsiteVerifyReport> {
    let started = Instant::now();
    let (remote, repo) = connect(repository, secrets, Arc::default(), "verify")?;
    let subset = if read_data_percent >= 100.0 {
        // A 100 % random subset can leave out the last pack: ask for all of them.
        ReadSubsetOption::All
    } else {
        ReadSubsetOption::Percentage(read_data_percent.max(0.0))
    };
    let opts = CheckOptions::default().read_data(read_data_percent > 0.0).read_data_subset(subset);
    let problems = super::run_check(&remote, &repo, opts)?;
    Ok(OffsiteVerifyReport {
        repository: remote.url.text.clone(),
        ok: problems.iter().all(|p| !p.starts_with("error")),
        read_data_percent: read_data_percent.clamp(0.0, 100.0),
        problems,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The snapshot `wanted` names: `latest`, a local backup's name (its tag), or an id or
/// the start of one; only Lifeboat's snapshots, and only `profile`'s when given.
fn find(all: Vec<SnapshotFile>, wanted: &str, profile: Option<&str>, repository: &str) -> Result<SnapshotFile> {
    let profile_path = profile.map(super::snapshot_path);
    let mut ours: Vec<SnapshotFile> = all
        .into_iter()
        .filter(|s| {
            s.paths.iter().any(|p| match &profile_path {
                Some(pp) => p == pp,
                None => p.starts_with(SNAPSHOT_ROOT),
            })
        })
        .collect();
    ours.sort_by(|a, b| b.time.cmp(&a.time));
    let none = || Error::OffsiteNoSnapshot { repository: repository.to_string(), snapshot: wanted.to_string() };
    if wanted == "latest" {
        return ours.into_iter().next().ok_or_else(none);
    }
    if let Some(pos) = ours.iter().position(|s| s.tags.contains(wanted)) {
        return Ok(ours.swap_remove(pos));
    }
    let by_id: Vec<SnapshotFile> =
        ours.into_iter().filter(|s| wanted.len() >= 4 && s.id.to_hex().to_string().starts_with(wanted)).collect();
    match by_id.len() {
        1 => Ok(by_id.into_iter().next().expect("one")),
        0 => Err(none()),
        n => Err(Error::Offsite {
            repository: repository.to_string(),
            message: format!("\"{wanted}\" is the start of {n} snapshot ids: give more of it"),
        }),
    }
}

/// The hidden folder inside the restore's folder that it writes into. Its entries move up
/// only once everything is restored (and, for a whole backup, checked against its
/// manifest), so an interrupted restore leaves only this; the next restore into the same
/// folder removes it.
pub const PARTIAL_DIR: &str = ".lifeboat-partial";

/// Moves the entries of `staging` up into `to` (renames on one filesystem), then removes it.
fn move_into_place(staging: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(staging).map_err(|e| Error::io("read folder", staging, e))? {
        let entry = entry.map_err(|e| Error::io("read folder", staging, e))?;
        let target = to.join(entry.file_name());
        std::fs::rename(entry.path(), &target).map_err(|e| Error::io("move into place", &target, e))?;
    }
    std::fs::remove_dir(staging).map_err(|e| Error::io("remove", staging, e))?;
    crate::fsx::sync_dir(to)
}

/// Restores snapshot `wanted` (see [`find`]) into `to`, which must be empty or new:
/// all of it, or only `paths` (relative to the backup, as in its manifest). A whole
/// restore is then checked against the manifest inside it. Everything is written into
/// [`PARTIAL_DIR`] inside `to` first and moved up at the end: an interrupted or failed
/// restore leaves no partial files in view.
///
/// # Errors
/// A classified offsite error; [`Error::OffsiteNoSnapshot`]; [`Error::Refused`] for a
/// `to` that holds files; [`Error::Selection`] for a path not in the snapshot.
pub fn restore(
    repository: &str,
    secrets: &Secrets,
    wanted: &str,
    paths: &[String],
    to: &Path,
    profile: Option<&str>,
    cancel: Arc<AtomicBool>,
) -> Result<OffsiteRestoreReport> {
    let started = Instant::now();
    if to.exists() && !to.is_dir() {
        return Err(Error::Refused {
            message: format!("{} is a file: restore into a new or empty folder", to.display()),
        });
    }
    let staging = to.join(PARTIAL_DIR);
    let others = std::fs::read_dir(to).map(|d| d.flatten().any(|e| e.file_name() != PARTIAL_DIR)).unwrap_or(false);
    if others {
        return Err(Error::Refused {
            message: format!("{} is not empty: restore into a new or empty folder", to.display()),
        });
    }
    if staging.exists() {
        tracing::info!("removing an interrupted restore's {}", staging.display());
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io("remove", &staging, e))?;
    }
    let staging_text = staging.to_str().ok_or_else(|| Error::Selection {
        path: to.to_path_buf(),
        message: "the restore folder's path must be valid UTF-8".into(),
    })?;
    let _policy = super::backend::return_big_buffers();
    let (remote, repo) = connect(repository, secrets, Arc::clone(&cancel), "restore")?;
    let fail = |e: Box<rustic_core::RusticError>| remote.fail(&e, "restore");
    let all = repo.get_all_snapshots().map_err(fail)?;
    let snap = find(all, wanted, profile, &remote.url.text)?;
    let root_path = snap.paths.iter().next().cloned().unwrap_or_default();
    let repo = repo.to_indexed().map_err(fail)?;
    let root = repo.node_from_snapshot_and_path(&snap, &root_path).map_err(fail)?;
    let wanted_paths: Vec<PathBuf> = paths.iter().map(|p| PathBuf::from(p.trim_matches('/'))).collect();
    for p in &wanted_paths {
        let full = format!("{root_path}/{}", p.display());
        if repo.node_from_snapshot_and_path(&snap, &full).is_err() {
            return Err(Error::Selection {
                path: p.clone(),
                message: format!("is not in snapshot {} ({})", describe(&snap).short_id, root_path),
            });
        }
    }
    let keep = |path: &Path| {
        wanted_paths.is_empty() || wanted_paths.iter().any(|w| path.starts_with(w) || w.starts_with(path))
    };
    let nodes = repo.ls(&root, &LsOptions::default()).map_err(fail)?;
    let nodes = nodes.filter(move |n| n.as_ref().map_or(true, |(p, _)| keep(p)));
    std::fs::create_dir_all(&staging).map_err(|e| Error::io("create folder", &staging, e))?;
    let dest = LocalDestination::new(staging_text, true, false).map_err(fail)?;
    let opts = RestoreOptions::default().no_ownership(true);
    let plan = repo.prepare_restore(&opts, nodes.clone(), &dest, false).map_err(fail)?;
    let (files, bytes) = (plan.stats.files.restore, plan.restore_size);
    // rustic_core's restore unwraps a failed read inside its threads (a lost connection,
    // a cancel): catch that panic and say what happened.
    let restored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| repo.restore(plan, &opts, nodes, &dest)));
    if !matches!(restored, Ok(Ok(()))) {
        let _ = std::fs::remove_dir_all(&staging);
    }
    match restored {
        Ok(r) => r.map_err(fail)?,
        Err(_) if cancel.load(std::sync::atomic::Ordering::SeqCst) => {
            return Err(Error::OffsiteCancelled { what: "restore", repository: remote.url.text.clone() })
        }
        Err(_) => {
            return Err(Error::OffsiteInterrupted {
                repository: remote.url.text.clone(),
                cause: format!("a read failed while restoring into {}; run the restore again", to.display()),
            })
        }
    }
    super::backend::trim_heap();
    let checked = if wanted_paths.is_empty() && staging.join(crate::layout::MANIFEST_FILE).is_file() {
        let report = crate::verify::verify(&staging, &NoProgress)?;
        if !report.ok {
            let lines = report.describe();
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Error::Offsite {
                repository: remote.url.text.clone(),
                message: format!(
                    "the files restored into {} differ from their manifest (nothing kept): {}",
                    to.display(),
                    lines.first().cloned().unwrap_or_default()
                ),
            });
        }
        Some(report.files_checked)
    } else {
        None
    };
    move_into_place(&staging, to)?;
    Ok(OffsiteRestoreReport {
        snapshot: describe(&snap),
        to: to.to_path_buf(),
        files,
        bytes,
        checked_against_manifest: checked,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Brings offsite snapshot `wanted` (see [`find`]; only `profile`'s) back into the
/// profile's destination as the local backup it was pushed from, under that backup's
/// name, so the usual restore works from it: a preview, in place or chosen paths, and a
/// safety snapshot. Written as `.<name>.partial` under the destination's lock, checked
/// against the manifest inside it, then renamed into place, as a backup is. A local
/// backup of that name already there is left as it is (`already_local`).
///
/// # Errors
/// As [`restore`]; [`Error::Busy`] while a backup or restore holds the destination;
/// [`Error::Offsite`] for a snapshot that is not a Lifeboat backup.
pub fn fetch(profile: &Profile, secrets: &Secrets, wanted: &str, cancel: Arc<AtomicBool>) -> Result<FetchReport> {
    let started = Instant::now();
    let repository = &super::push::settings(profile)?.repository;
    let (remote, repo) = connect(repository, secrets, Arc::clone(&cancel), "restore")?;
    let all = repo.get_all_snapshots().map_err(|e| remote.fail(&e, "restore"))?;
    let snap = find(all, wanted, Some(&profile.name), &remote.url.text)?;
    let Some(name) = snap.tags.iter().find(|t| layout::BackupKind::of_name(t) == Some(layout::BackupKind::Backup))
    else {
        return Err(Error::Offsite {
            repository: remote.url.text.clone(),
            message: format!(
                "snapshot {} is not a Lifeboat backup (no backup name among its tags)",
                describe(&snap).short_id
            ),
        });
    };
    let destination = &profile.destination;
    let path = destination.join(name);
    let report = |already_local: bool, files: u64, bytes: u64| FetchReport {
        backup: name.clone(),
        path: path.clone(),
        already_local,
        files,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    if path.exists() {
        return Ok(report(true, 0, 0));
    }
    let _lock = DestinationLock::acquire(destination, "offsite fetch")?;
    let staging = destination.join(layout::staging_name(name));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io("remove", &staging, e))?;
    }
    let id = snap.id.to_hex().to_string();
    let restored = restore(repository, secrets, &id, &[], &staging, Some(&profile.name), cancel);
    let restored = match restored {
        Ok(r) if r.checked_against_manifest.is_some() => r,
        Ok(_) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Error::Offsite {
                repository: remote.url.text.clone(),
                message: format!("snapshot {} holds no manifest: it is not a whole Lifeboat backup", &id[..8]),
            });
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    std::fs::rename(&staging, &path).map_err(|e| Error::io("move into place", &path, e))?;
    crate::fsx::sync_dir(destination)?;
    tracing::info!("offsite: brought back {name} into {} ({} files)", destination.display(), restored.files);
    Ok(report(false, restored.files, restored.bytes))
}
