//! `kill -9` at more than a hundred seeded points of `lifeboat backup` and `lifeboat
//! restore NAME --yes` on a light app (issue 9, proof at scale): delays spread over a
//! measured run, and points caught by what a run makes as it goes (staging, the database
//! copy, the manifest, the rename, rotation, the safety snapshot, a restore's staging and
//! set-aside folders). After each kill: every `backup_*` and `pre-restore_*` verifies,
//! a killed backup left the source as it was, a killed restore left each live file old or
//! new and the database whole, and the next run succeeds.
//!
//! The seed is printed; `LIFEBOAT_KILL_SEED=<seed>` replays a run: the same order of
//! points, the same fractions of the measured run, the same delays after each mark.
//! `LIFEBOAT_KILL_VERBOSE=1` prints every round.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::scale::*;
use common::*;

/// Media files of the light app: a few hundred, so 100+ rounds fit in about two minutes.
const MEDIA: usize = 250;
const KEEP: usize = 3;

/// What a run makes as it goes, seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    /// A backup's `.backup_*.partial` staging folder exists (scan done, copy starting).
    Staging,
    /// The database copy exists in the staging folder.
    DbInStaging,
    /// The staging folder holds its manifest (the rename is next).
    ManifestInStaging,
    /// The new `backup_*` exists (rotation and history still to come).
    NewBackup,
    /// An older `backup_*` is going away (keep 3 reached).
    RotationStarts,
    /// A restore's safety snapshot is being written (`.pre-restore_*.partial`).
    SafetyStaging,
    /// A restore's safety snapshot is complete (its rotation, then the database restore,
    /// are next).
    SafetyDone,
    /// A folder's staging copy exists in the source (`.<item>.lifeboat-restore`).
    RestoreStaging(&'static str),
    /// A folder is set aside in the source (`.<item>.lifeboat-old`).
    SetAside(&'static str),
    /// The older safety snapshot is going away.
    SafetyRotation,
}

/// What was there when a run started.
struct Before<'a> {
    dest: &'a Path,
    source: &'a Path,
    names: Vec<String>,
}

impl Mark {
    fn seen(self, b: &Before) -> bool {
        let dest = entries(b.dest);
        let staging =
            |prefix: &'static str| dest.iter().filter(move |n| n.starts_with(prefix) && n.ends_with(".partial"));
        match self {
            Mark::Staging => staging(".backup_").next().is_some(),
            Mark::DbInStaging => staging(".backup_").any(|n| b.dest.join(n).join(LIGHT_DB).exists()),
            Mark::ManifestInStaging => staging(".backup_").any(|n| b.dest.join(n).join("manifest.json").exists()),
            Mark::NewBackup => dest.iter().any(|n| {
                n.starts_with("backup_") && !b.names.contains(n) && b.dest.join(n).join("manifest.json").exists()
            }),
            Mark::RotationStarts => gone(b, &dest, "backup_"),
            Mark::SafetyStaging => staging(".pre-restore_").next().is_some(),
            Mark::SafetyDone => dest.iter().any(|n| {
                n.starts_with("pre-restore_") && !b.names.contains(n) && b.dest.join(n).join("manifest.json").exists()
            }),
            Mark::RestoreStaging(item) => b.source.join(format!(".{item}.lifeboat-restore")).exists(),
            Mark::SetAside(item) => b.source.join(format!(".{item}.lifeboat-old")).exists(),
            Mark::SafetyRotation => gone(b, &dest, "pre-restore_"),
        }
    }
}

/// Whether a folder named `prefix*` that was there is gone or being deleted.
fn gone(b: &Before, now: &[String], prefix: &str) -> bool {
    now.iter().any(|n| n.starts_with(&format!(".{prefix}")) && n.ends_with(".deleting"))
        || b.names.iter().any(|n| n.starts_with(prefix) && !now.contains(n))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Backup,
    Restore,
}

/// When to kill: a delay after the start, or a delay after a mark appears.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    After(Duration),
    Seen(Mark, Duration),
}

#[derive(Debug, Clone, Copy)]
struct Point {
    op: Op,
    at: KillAt,
}

/// Runs `child` until the point comes (then `kill -9`) or it ends. Returns its status,
/// whether it was killed, and when the mark (if any) was seen.
fn kill_at(mut child: Child, at: KillAt, before: &Before) -> (ExitStatus, bool, Option<Duration>) {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(60);
    let mut armed: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, false, armed.map(|a| a - t0));
        }
        assert!(Instant::now() < deadline, "a run took more than 60 s");
        let fire = match at {
            KillAt::After(d) => t0.elapsed() >= d,
            KillAt::Seen(mark, d) => {
                if armed.is_none() && mark.seen(before) {
                    armed = Some(Instant::now());
                }
                armed.is_some_and(|a| a.elapsed() >= d)
            }
        };
        if fire {
            let _ = child.kill(); // SIGKILL
            let status = child.wait().unwrap();
            return (status, true, armed.map(|a| a - t0));
        }
        match at {
            KillAt::After(d) => std::thread::sleep((d.saturating_sub(t0.elapsed())).min(Duration::from_millis(2))),
            KillAt::Seen(..) => std::thread::sleep(Duration::from_micros(250)),
        }
    }
}

/// The folder items and rows, as a restore changes them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    files: BTreeMap<String, String>,
    rows: Vec<String>,
}

fn items_digest(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in LIGHT_FOLDERS {
        if root.join(item).is_dir() {
            out.insert(item.to_string(), "dir".to_string());
        }
        for (rel, v) in tree_digest(&root.join(item)) {
            out.insert(format!("{item}/{rel}"), v);
        }
    }
    out
}

fn live_state(app: &LightApp) -> State {
    State { files: items_digest(&app.dir), rows: live_rows(&app.dir.join(LIGHT_DB)) }
}

fn backup_state(backup: &Path) -> State {
    State { files: items_digest(backup), rows: backup_rows(&backup.join(LIGHT_DB)) }
}

/// The regular backups among `names`, oldest first by their manifest's start time.
fn by_start(dest: &Path, names: &[String]) -> Vec<String> {
    let mut v: Vec<(chrono::DateTime<chrono::FixedOffset>, String)> = names
        .iter()
        .filter(|n| n.starts_with("backup_"))
        .map(|n| {
            let m = read_manifest(&dest.join(n));
            let at = m["started_at"].as_str().unwrap_or_else(|| panic!("{n}: no started_at"));
            (
                chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{n}: started_at {at}: {e}")),
                n.clone(),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

fn restore_leftovers(source: &Path) -> Vec<String> {
    entries(source).into_iter().filter(|n| n.starts_with('.') && n.contains(".lifeboat-")).collect()
}

fn spawn(sb: &Sandbox, args: &[&str]) -> Child {
    sb.cmd().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// One uninterrupted run, noting when each mark appears.
fn measure(sb: &Sandbox, args: &[&str], before: &Before, marks: &[Mark]) -> (Duration, Vec<(Mark, Duration)>) {
    let t0 = Instant::now();
    let mut child = spawn(sb, args);
    let mut seen: Vec<(Mark, Duration)> = Vec::new();
    let status = loop {
        for m in marks {
            if !seen.iter().any(|(s, _)| s == m) && m.seen(before) {
                seen.push((*m, t0.elapsed()));
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_micros(250));
    };
    assert!(status.success(), "the uninterrupted `lifeboat {args:?}` failed: {status:?}");
    (t0.elapsed(), seen)
}

#[test]
fn kill_9_at_a_hundred_seeded_points_of_backup_and_restore() {
    let started = Instant::now();
    let mut rng = SeededRng::from_env("LIFEBOAT_KILL_SEED", "kill -9 at scale");
    let sb = fast_sandbox();
    eprintln!("sandbox {}", sb.root().display());
    let app = LightApp::create(sb.root(), MEDIA);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &LIGHT_INCLUDES, &["--keep", &KEEP.to_string()]);
    for round in 0..KEEP as u64 {
        app.mutate(1000 + round);
        sb.backup_ok(&dest);
    }
    assert_all_verify(&sb, &dest, "before the kills");

    // Uninterrupted backups and restores, to spread the timed kills over a whole run on a
    // fast or a slow (or busy) machine, and to show when each mark appears.
    let backup_marks =
        [Mark::Staging, Mark::DbInStaging, Mark::ManifestInStaging, Mark::NewBackup, Mark::RotationStarts];
    let restore_marks = [
        Mark::SafetyStaging,
        Mark::SafetyDone,
        Mark::RestoreStaging("media"),
        Mark::SetAside("media"),
        Mark::RestoreStaging("notes"),
        Mark::SetAside("notes"),
        Mark::SafetyRotation,
    ];
    // Each measured twice, the quicker kept: one slow outlier would push the timed kills
    // past the end of most runs.
    let mut backup_runs = Vec::new();
    let mut restore_runs = Vec::new();
    for k in 0..2 {
        app.mutate(2000 + 3 * k);
        let before = Before { dest: &dest, source: &app.dir, names: all_backups(&dest) };
        backup_runs.push(measure(&sb, &["backup"], &before, &backup_marks));
        let target = complete_backups(&dest)[0].clone();
        if k == 0 {
            app.mutate(2001);
            sb.run_ok(&["restore", &target, "--yes"]); // a first safety snapshot, so the next one rotates it
        }
        app.mutate(2002 + 3 * k);
        let before = Before { dest: &dest, source: &app.dir, names: all_backups(&dest) };
        restore_runs.push(measure(&sb, &["restore", &target, "--yes"], &before, &restore_marks));
    }
    let (backup_run, backup_seen) = backup_runs.into_iter().min_by_key(|r| r.0).unwrap();
    let (restore_run, restore_seen) = restore_runs.into_iter().min_by_key(|r| r.0).unwrap();
    eprintln!("backup run {backup_run:?}, marks {backup_seen:?}");
    eprintln!("restore run {restore_run:?}, marks {restore_seen:?}");

    // The points: delays spread over each run (one in each slice of it, so every phase
    // gets some), and each mark several times with a seeded short delay after it.
    let ms = |f: f64| Duration::from_secs_f64(f / 1000.0);
    let mut points: Vec<Point> = Vec::new();
    for f in rng.stratified(36, 0.0, 1.05) {
        points.push(Point { op: Op::Backup, at: KillAt::After(backup_run.mul_f64(f)) });
    }
    for f in rng.stratified(30, 0.0, 1.05) {
        points.push(Point { op: Op::Restore, at: KillAt::After(restore_run.mul_f64(f)) });
    }
    let mut marked = |op: Op, mark: Mark, times: usize, max_ms: f64, rng: &mut SeededRng| {
        for k in 0..times {
            // The first of each has no delay: the earliest moment the mark can be caught.
            let d = if k == 0 { Duration::ZERO } else { ms(rng.unit() * max_ms) };
            points.push(Point { op, at: KillAt::Seen(mark, d) });
        }
    };
    marked(Op::Backup, Mark::Staging, 5, 40.0, &mut rng);
    marked(Op::Backup, Mark::DbInStaging, 5, 10.0, &mut rng);
    marked(Op::Backup, Mark::ManifestInStaging, 5, 3.0, &mut rng);
    marked(Op::Backup, Mark::NewBackup, 5, 3.0, &mut rng);
    marked(Op::Backup, Mark::RotationStarts, 5, 2.0, &mut rng);
    marked(Op::Restore, Mark::SafetyStaging, 4, 30.0, &mut rng);
    marked(Op::Restore, Mark::SafetyDone, 4, 5.0, &mut rng);
    marked(Op::Restore, Mark::RestoreStaging("media"), 4, 20.0, &mut rng);
    marked(Op::Restore, Mark::SetAside("media"), 3, 2.0, &mut rng);
    marked(Op::Restore, Mark::RestoreStaging("notes"), 3, 5.0, &mut rng);
    marked(Op::Restore, Mark::SetAside("notes"), 2, 2.0, &mut rng);
    marked(Op::Restore, Mark::SafetyRotation, 3, 1.0, &mut rng);
    rng.shuffle(&mut points);
    assert!(points.len() >= 100, "{} points", points.len());

    let mut killed = 0;
    let mut interrupted_marks: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut mixed, mut with_leftovers) = (0, 0);
    for (round, point) in points.iter().enumerate() {
        let when = format!("round {round}, {point:?} (seed {})", rng.seed);
        if std::env::var_os("LIFEBOAT_KILL_VERBOSE").is_some() {
            eprintln!("{when}: starting");
        }
        assert_eq!(unfinished(&dest), Vec::<String>::new(), "{when}: leftovers at the start");
        assert_eq!(restore_leftovers(&app.dir), Vec::<String>::new(), "{when}: restore leftovers at the start");
        app.mutate(round as u64);
        let names = all_backups(&dest);
        let before = Before { dest: &dest, source: &app.dir, names: names.clone() };

        let (status, was_killed, armed) = match point.op {
            Op::Backup => {
                let source_before = source_digest(&app.dir);
                let rows_before = rows_of(&app.conn);
                let oldest_first = by_start(&dest, &names);
                let r = kill_at(spawn(&sb, &["backup"]), point.at, &before);
                let when = format!("{when}: {:?}", r.0);

                let after = assert_all_verify(&sb, &dest, &when);
                let regular =
                    |v: &[String]| -> Vec<String> { v.iter().filter(|n| n.starts_with("backup_")).cloned().collect() };
                let (old, new) = (regular(&names), regular(&after));
                assert_eq!(new, complete_backups(&dest), "{when}: a backup_* folder without a manifest");
                let added: Vec<&String> = new.iter().filter(|n| !old.contains(n)).collect();
                let lost: Vec<&String> = old.iter().filter(|n| !new.contains(n)).collect();
                assert!(added.len() <= 1, "{when}: more than one new backup: {old:?} -> {new:?}");
                if added.is_empty() {
                    assert!(lost.is_empty(), "{when}: backups lost without a new one: {old:?} -> {new:?}");
                } else {
                    assert!(new.len() >= KEEP.min(old.len() + 1), "{when}: rotated below keep: {old:?} -> {new:?}");
                    // Oldest by the manifests' start time: names of one second may be
                    // `-2`, `-3`... in any order, as names free up again.
                    assert!(
                        lost.iter().all(|l| oldest_first.iter().take(lost.len()).any(|o| o == *l)),
                        "{when}: rotation deleted a backup that was not among the oldest: {oldest_first:?} -> {new:?}"
                    );
                }
                let changed = map_diff(&source_before, &source_digest(&app.dir));
                assert!(changed.is_empty(), "{when}: the backup changed the source: {changed:#?}");
                assert_eq!(rows_of(&app.conn), rows_before, "{when}: the backup changed the database");

                // The next run takes over the stale lock, clears the leftovers and succeeds.
                let next = sb.backup_ok(&dest);
                assert_eq!(leftovers(&dest), Vec::<String>::new(), "{when}: leftovers after the next run");
                sb.run_ok(&["verify", &next]);
                r
            }
            Op::Restore => {
                let backups = complete_backups(&dest);
                let target = backups[rng.below(backups.len() as u64) as usize].clone();
                let new = backup_state(&dest.join(&target));
                let old = live_state(&app);
                assert_ne!(old, new, "{when}: nothing to restore");
                let args = ["restore", target.as_str(), "--yes"];
                let r = kill_at(spawn(&sb, &args), point.at, &before);
                let when = format!("{when}: restoring {target}, {:?}", r.0);

                // Each live file (and folder) is its old or its new version; the rows are
                // all old or all new; the database is whole.
                let now = live_state(&app);
                let keys: BTreeSet<&String> =
                    old.files.keys().chain(new.files.keys()).chain(now.files.keys()).collect();
                // A file being replaced when the kill landed leaves its hidden temporary
                // copy (`.name.lifeboat-restore`); the next run removes it (checked below).
                for k in keys.into_iter().filter(|k| !k.ends_with(".lifeboat-restore")) {
                    let (o, n, got) = (old.files.get(k), new.files.get(k), now.files.get(k));
                    assert!(got == o || got == n, "{when}: {k} is {got:?}, neither old {o:?} nor new {n:?}");
                }
                assert!(now.rows == old.rows || now.rows == new.rows, "{when}: rows are neither old nor restored");
                assert_eq!(live_integrity(&app.dir.join(LIGHT_DB)), "ok", "{when}");
                if now != old && now != new {
                    mixed += 1;
                }
                if !restore_leftovers(&app.dir).is_empty() {
                    with_leftovers += 1;
                }
                let after = assert_all_verify(&sb, &dest, &when);
                let regular =
                    |v: &[String]| -> Vec<String> { v.iter().filter(|n| n.starts_with("backup_")).cloned().collect() };
                assert_eq!(regular(&after), regular(&names), "{when}: a restore changed the regular backups");

                // The next restore finishes the job.
                let out = sb.run_ok(&args);
                assert!(stdout(&out).contains("Restored"), "{when}: {}", describe(&out));
                assert_eq!(live_state(&app), new, "{when}: the next restore gave another state");
                assert_eq!(restore_leftovers(&app.dir), Vec::<String>::new(), "{when}: after the next restore");
                assert_eq!(unfinished(&dest), Vec::<String>::new(), "{when}: after the next restore");
                assert_eq!(live_integrity(&app.dir.join(LIGHT_DB)), "ok", "{when}");
                for name in all_backups(&dest).iter().filter(|n| !after.contains(n)) {
                    sb.run_ok(&["verify", name]);
                }
                r
            }
        };
        killed += usize::from(was_killed && !status.success());
        let label = match point.at {
            KillAt::After(_) => format!("{:?} after a delay", point.op),
            KillAt::Seen(m, _) => format!("{m:?}"),
        };
        let e = interrupted_marks.entry(label).or_default();
        e.0 += 1;
        e.1 += usize::from(was_killed && !status.success());
        if std::env::var_os("LIFEBOAT_KILL_VERBOSE").is_some() {
            eprintln!("{when}: {status:?}, killed {was_killed}, mark seen at {armed:?}");
        }
    }

    eprintln!(
        "kill -9 at {} points (seed {}): {killed} runs killed, the rest finished first; \
         {mixed} restores left a mix of old and new items, {with_leftovers} left staging or set-aside folders; \
         {:?}",
        points.len(),
        rng.seed,
        started.elapsed()
    );
    for (label, (n, k)) in &interrupted_marks {
        eprintln!("  {label}: {k} of {n} interrupted");
    }
    assert!(killed * 10 >= points.len() * 6, "too few runs were interrupted: {killed} of {}", points.len());

    // The destination is whole at the end: keep 3 regular backups, one safety snapshot.
    let names = assert_all_verify(&sb, &dest, "at the end");
    let regular = names.iter().filter(|n| n.starts_with("backup_")).count();
    assert_eq!(regular, KEEP, "{names:?}");
    assert!(names.iter().filter(|n| n.starts_with("pre-restore_")).count() <= 1, "{names:?}");
}
