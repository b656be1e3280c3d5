//! `kill -9` of `lifeboat backup` at many points of a larger run: no `backup_*` folder is
//! ever incomplete, older backups stay intact, and the next run succeeds.

mod common;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

const FILES: usize = 2000;
const SIZE: usize = 20 * 1024;

/// When to kill a run.
#[derive(Debug)]
enum KillAt {
    After(Duration),
    /// As soon as its staging folder exists.
    StagingAppears,
    /// As soon as the staging folder holds a manifest (just before the rename).
    ManifestInStaging,
    /// As soon as the new `backup_*` folder exists (rotation and history still to come).
    NewBackupAppears,
    /// As soon as an older backup starts to go away (keep 3 reached).
    RotationStarts,
}

/// Polls `seen` until it holds or the run ends (at most a minute).
fn wait_until(child: &mut Child, mut seen: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen() && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// Every `backup_*` folder is a complete backup; returns their names.
fn assert_all_complete(dest: &std::path::Path, when: &str) -> Vec<String> {
    let all = backup_folders(dest);
    let complete = complete_backups(dest);
    assert_eq!(all, complete, "{when}: a backup_* folder without a manifest");
    for name in &complete {
        assert_backup_complete(&dest.join(name));
    }
    assert!(!complete.is_empty(), "{when}: the last complete backup was lost");
    complete
}

#[test]
fn kill_9_at_many_points_never_leaves_an_incomplete_backup() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let sessions = app.add_bulk("sessions", FILES, SIZE);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &["drumgen.db", "audio_files", "illugen_audio", "sessions"], &["--keep", "3"]);
    let first = sb.backup_ok(&dest);
    assert_backup_hashes(&dest.join(&first), &mut HashMap::new());

    // How long one round's run takes here, so the timed kills spread over the whole run
    // on a fast or a slow (or busy) machine.
    rewrite_bulk(&sessions, FILES, SIZE, 1000, 10, 9);
    let started = Instant::now();
    sb.backup_ok(&dest);
    let full_run = started.elapsed();
    let mut points: Vec<KillAt> = [0.0, 0.15, 0.4, 0.7].iter().map(|f| KillAt::After(full_run.mul_f64(*f))).collect();
    // The late phases are short: catch them by what appears in the destination.
    for _ in 0..2 {
        points.extend([
            KillAt::StagingAppears,
            KillAt::ManifestInStaging,
            KillAt::NewBackupAppears,
            KillAt::RotationStarts,
        ]);
    }
    eprintln!("one run takes {full_run:?}; killing at {points:?}");

    let mut completed_anyway = 0;
    let mut before = assert_all_complete(&dest, "before the kills");
    for (round, point) in points.iter().enumerate() {
        // A tenth of the files change each round, so every run copies as well as links.
        rewrite_bulk(&sessions, FILES, SIZE, round as u64 + 1, 10, round % 10);
        // Leftovers of the previous kill: the run removes them first and may reuse a name.
        let old_leftovers = leftovers(&dest);
        let staging = || -> Vec<String> { entries(&dest).into_iter().filter(|n| n.ends_with(".partial")).collect() };

        let mut child = sb.cmd().arg("backup").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        if !matches!(point, KillAt::After(_)) {
            wait_until(&mut child, || leftovers(&dest).iter().all(|n| !old_leftovers.contains(n)));
        }
        match point {
            KillAt::After(delay) => std::thread::sleep(*delay),
            KillAt::StagingAppears => wait_until(&mut child, || !staging().is_empty()),
            KillAt::ManifestInStaging => {
                wait_until(&mut child, || staging().iter().any(|n| dest.join(n).join("manifest.json").exists()))
            }
            KillAt::NewBackupAppears => {
                wait_until(&mut child, || complete_backups(&dest).iter().any(|n| !before.contains(n)))
            }
            KillAt::RotationStarts => wait_until(&mut child, || before.iter().any(|n| !dest.join(n).exists())),
        }
        let _ = child.kill(); // SIGKILL; fails only when the run already ended
        let status = child.wait().unwrap();
        if status.success() {
            completed_anyway += 1;
        }

        let when = format!("after kill at {point:?} (round {round}, {status:?})");
        let after = assert_all_complete(&dest, &when);
        // Older backups are still there unless a completed run rotated them away (keep 3).
        // Rotation deletes only the oldest, only after a new backup is complete, and keeps 3.
        let newer = after.iter().filter(|n| !before.contains(n)).count();
        assert!(newer <= 1, "{when}: more than one new backup: {after:?}");
        let lost: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
        if newer == 0 {
            assert!(lost.is_empty(), "{when}: backups lost: {before:?} -> {after:?}");
        } else {
            assert!(after.len() >= (before.len() + 1).min(3), "{when}: rotated below keep: {before:?} -> {after:?}");
            assert!(
                lost.iter().all(|l| before.iter().take(lost.len()).any(|o| o == *l)),
                "{when}: rotation deleted a backup that was not among the oldest: {before:?} -> {after:?}"
            );
        }
        eprintln!("{when}: {newer} new, {} rotated away, leftovers {:?}", lost.len(), leftovers(&dest));
        before = after;
    }
    eprintln!("{completed_anyway} of {} killed runs had already finished", points.len());

    // The next run takes over the stale lock, clears the leftovers and succeeds.
    rewrite_bulk(&sessions, FILES, SIZE, 99, 7, 0);
    let last = sb.backup_ok(&dest);
    assert_eq!(leftovers(&dest), Vec::<String>::new(), "leftovers after a good run");
    let names = assert_all_complete(&dest, "after the final run");
    assert!(names.contains(&last));
    assert!(names.len() <= 3, "keep 3: {names:?}");
    // A fresh cache: inodes of rotated backups may have been reused since.
    let mut hashes = HashMap::new();
    for name in &names {
        assert_backup_hashes(&dest.join(name), &mut hashes);
    }
    let (files, _) = count_files_and_dirs(&dest.join(&last).join("sessions"));
    assert_eq!(files, FILES);
    assert_eq!(tree_digest(&dest.join(&last).join("sessions")), tree_digest(&sessions));
}
