//! Restore on seed-shaped data: back to the backup's exact state, the safety snapshot
//! that undoes it, a live database held by other connections, `kill -9` mid-restore,
//! crafted manifests that try to write outside the source, and hooks.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use lifeboat::{BackupKind, BackupOutcome, Config, Engine, NoProgress, Profile, Trigger};
use rusqlite::Connection;

const FOLDERS: [&str; 2] = ["audio_files", "illugen_audio"];

/// The app's data as the tests compare it: every entry under each folder item by
/// digest, and every row of `test_results`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    items: BTreeMap<String, BTreeMap<String, String>>,
    rows: Vec<String>,
}

impl State {
    fn of(app_dir: &Path, folders: &[&str]) -> State {
        let items = folders.iter().map(|f| (f.to_string(), tree_digest(&app_dir.join(f)))).collect();
        State { items, rows: live_rows(&app_dir.join(DB_NAME)) }
    }
}

fn dump(conn: &Connection) -> Vec<String> {
    let mut st = conn.prepare("SELECT id, prompt, score, created_at FROM test_results ORDER BY id").unwrap();
    let rows = st
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, String>(3)?
            ))
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Every row of the live database, as a new connection of another program sees it.
fn live_rows(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    dump(&conn)
}

/// Every row of a database copy inside a backup (read from a scratch copy).
fn backup_rows(db: &Path) -> Vec<String> {
    with_file_copy(db, dump)
}

fn integrity(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

/// Staging or set-aside folders of an interrupted restore left in the source.
fn restore_leftovers(app_dir: &Path) -> Vec<String> {
    entries(app_dir).into_iter().filter(|n| n.starts_with('.') && n.contains(".lifeboat-")).collect()
}

fn safety_snapshots(dest: &Path) -> Vec<String> {
    entries(dest).into_iter().filter(|n| n.starts_with("pre-restore_")).collect()
}

/// A sandboxed `lifeboat` whose config holds one profile of the seed-shaped app, and an
/// engine for the same profile and data dir.
struct Fixture {
    sb: Sandbox,
    app: SeedApp,
    profile: Profile,
    engine: Engine,
}

impl Fixture {
    fn new() -> Fixture {
        Self::with(|_| {})
    }

    fn with(edit: impl FnOnce(&mut Profile)) -> Fixture {
        let sb = Sandbox::new();
        let app = SeedApp::create(sb.root());
        let mut profile = Profile::new("DrumGen Scorer", &app.dir, sb.root().join("Backups"));
        profile.include = SEED_INCLUDES.iter().map(|s| s.to_string()).collect();
        edit(&mut profile);
        Config { profiles: vec![profile.clone()], ..Default::default() }.save(&sb.config).unwrap();
        let engine = Engine::new(profile.clone(), sb.data.join("history.sqlite3")).unwrap();
        Fixture { sb, app, profile, engine }
    }

    fn root(&self) -> &Path {
        self.sb.root()
    }

    fn dest(&self) -> PathBuf {
        self.profile.destination.clone()
    }

    fn backup(&self) -> String {
        match self.engine.backup(Trigger::Manual, &NoProgress).unwrap() {
            BackupOutcome::Created { backup } => backup.name,
            other => panic!("a manual backup was not created: {other:?}"),
        }
    }

    fn state(&self) -> State {
        State::of(&self.app.dir, &FOLDERS)
    }
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

/// Flips one byte in place: same size, same inode.
fn flip_byte(path: &Path, at: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut bytes = fs::read(path).unwrap();
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0xA5;
    let mut f = fs::File::options().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    f.write_all(&[bytes[at]]).unwrap();
}

/// What `change_everything` did, as a restore plan should count it.
#[derive(Debug, PartialEq, Eq)]
struct Changes {
    put_back: u64,
    bring_back: u64,
    remove: u64,
}

/// Rows deleted, files deleted (one a whole folder), files changed, files added.
fn change_everything(app: &SeedApp) -> Changes {
    let d = &app.dir;
    let deleted = app.conn.execute("DELETE FROM test_results WHERE id % 4 = 0", []).unwrap();
    assert_eq!(deleted, 60);
    app.conn.execute("UPDATE test_results SET score = -1 WHERE id % 7 = 0", []).unwrap();

    // 5 + 1 + 6 files deleted.
    for i in 0..5 {
        fs::remove_file(d.join(format!("audio_files/drum_{i:04}.wav"))).unwrap();
    }
    fs::remove_file(d.join("illugen_audio/note_001/clip 0.wav")).unwrap();
    fs::remove_dir_all(d.join("illugen_audio/note_002")).unwrap();

    // 4 files changed: longer, same size with a later mtime, rewritten, shorter.
    let later = SystemTime::now() + Duration::from_secs(3600);
    append(&d.join("audio_files/drum_0010.wav"), b"appended take");
    flip_byte(&d.join("audio_files/drum_0011.wav"), 100);
    set_mtime(&d.join("audio_files/drum_0011.wav"), later);
    write_wav(&d.join(SPACED_AUDIO), 777, 4000);
    write_wav(&d.join(ACCENTED_FILE), 778, 100);

    // 5 files added, 3 of them in new folders.
    write_wav(&d.join("audio_files/new take.wav"), 1, 300);
    write_wav(&d.join("illugen_audio/note_003/extra.wav"), 2, 300);
    fs::create_dir_all(d.join("illugen_audio/new note/sub")).unwrap();
    write_wav(&d.join("illugen_audio/new note/a.wav"), 3, 300);
    write_wav(&d.join("illugen_audio/new note/b.wav"), 4, 300);
    write_wav(&d.join("illugen_audio/new note/sub/c.wav"), 5, 300);

    Changes { put_back: 4, bring_back: 12, remove: 5 }
}

#[test]
fn restore_after_rows_and_files_deleted_changed_and_added_gives_the_backup_state() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    assert_eq!(backed_up.rows.len() as i64, DB_ROWS);

    let changes = change_everything(&fx.app);
    let changed = fx.state();
    assert_ne!(changed, backed_up);
    assert_eq!(changed.rows.len(), 181);

    let plan = fx.engine.restore_preview(&name).unwrap();
    assert_eq!(
        Changes { put_back: plan.put_back, bring_back: plan.bring_back, remove: plan.remove },
        changes,
        "plan: {plan:?}"
    );
    assert_eq!(plan.unchanged, (AUDIO_FILES + ILLUGEN_FILES) as u64 - changes.put_back - changes.bring_back);
    assert_eq!(plan.databases, vec![DB_NAME.to_string()]);
    assert_eq!(fx.state(), changed, "the preview changed the data");

    let report = fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(report.name, name);
    // Only what differs is written: the files put back or brought back, and the database.
    assert_eq!(report.files_restored, changes.put_back + changes.bring_back + 1, "{report:?}");
    assert_eq!(
        Changes { put_back: report.put_back, bring_back: report.brought_back, remove: report.files_removed },
        changes,
        "report: {report:?}"
    );
    assert_eq!(report.databases_restored, vec![DB_NAME.to_string()]);
    assert!(report.safety_snapshot.as_deref().is_some_and(|s| s.starts_with("pre-restore_")), "{report:?}");

    let restored = fx.state();
    assert_eq!(restored.items, backed_up.items, "the folders differ from the backup");
    assert_eq!(restored.rows.len(), backed_up.rows.len(), "row count");
    assert_eq!(restored.rows, backed_up.rows, "rows differ from the backup");
    assert_eq!(row_count(&fx.app.db(), "test_results"), DB_ROWS);
    assert_eq!(integrity(&fx.app.db()), "ok");
    // The app's own connection, open all along, sees the restored rows too.
    assert_eq!(dump(&fx.app.conn), backed_up.rows);
    assert_eq!(restore_leftovers(&fx.app.dir), Vec::<String>::new());

    // Nothing left to do: a second preview finds the data equal to the backup.
    let again = fx.engine.restore_preview(&name).unwrap();
    assert_eq!((again.put_back, again.bring_back, again.remove), (0, 0, 0), "{again:?}");
    // The backup restored from is untouched.
    assert!(fx.engine.verify(Some(&name), &NoProgress).unwrap().ok);
}

#[test]
fn restore_puts_back_a_file_changed_in_place_with_its_size_and_mtime_kept() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    // Bit rot, or a tool that restores mtimes: same size, same mtime, other content.
    let victim = fx.app.dir.join("illugen_audio/note_004/clip 1.wav");
    let mtime = fs::metadata(&victim).unwrap().modified().unwrap();
    flip_byte(&victim, 60);
    set_mtime(&victim, mtime);
    assert_ne!(fx.state(), backed_up);

    fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(fx.state(), backed_up);
}

#[test]
fn safety_snapshot_holds_the_pre_restore_state_and_restoring_it_brings_that_back() {
    let fx = Fixture::with(|p| p.keep = 1);
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app);
    let before_restore = fx.state();

    let report = fx.engine.restore(&name, &NoProgress).unwrap();
    let safety = report.safety_snapshot.clone().expect("a safety snapshot");
    assert_eq!(fx.state(), backed_up);

    // Listed as a safety snapshot, whole, and holding exactly the data as it was.
    let listed = fx.engine.list().unwrap();
    let info = listed.iter().find(|b| b.name == safety).expect("the safety snapshot is listed");
    assert_eq!(info.kind, BackupKind::PreRestore);
    assert_eq!(info.trigger, Trigger::PreRestore);
    assert!(listed.iter().any(|b| b.name == name && b.kind == BackupKind::Backup));
    let verified = fx.engine.verify(Some(&safety), &NoProgress).unwrap();
    assert!(verified.ok, "{:?}", verified.problems);
    let snap = fx.dest().join(&safety);
    for folder in FOLDERS {
        assert_eq!(tree_digest(&snap.join(folder)), before_restore.items[folder], "{folder} in {safety}");
    }
    assert_eq!(backup_rows(&snap.join(DB_NAME)), before_restore.rows, "rows in {safety}");

    // Undo the restore.
    let undo = fx.engine.restore(&safety, &NoProgress).unwrap();
    assert_eq!(fx.state(), before_restore, "restoring {safety} did not bring the pre-restore state back");
    // The files added before the first restore come back, those it brought back go
    // again, and the changed ones are put back as they were.
    assert_eq!((undo.put_back, undo.brought_back, undo.files_removed), (4, 5, 12), "{undo:?}");
    assert_eq!(integrity(&fx.app.db()), "ok");
    // The undo took its own safety snapshot (of the backup's state), the newest one kept.
    let second = undo.safety_snapshot.expect("a second safety snapshot");
    assert_ne!(second, safety);
    for folder in FOLDERS {
        assert_eq!(tree_digest(&fx.dest().join(&second).join(folder)), backed_up.items[folder]);
    }
    assert_eq!(backup_rows(&fx.dest().join(&second).join(DB_NAME)), backed_up.rows);
    assert!(fx.dest().join(&name).is_dir(), "the regular backup must never be rotated by restores");
    assert_eq!(safety_snapshots(&fx.dest()), std::slice::from_ref(&second), "only the newest safety snapshot is kept");

    // Safety snapshots do not count against `keep` (1 here): a new backup rotates the
    // old regular backup away and leaves the safety snapshot.
    let newer = fx.backup();
    assert_eq!(backup_folders(&fx.dest()), [newer]);
    assert_eq!(safety_snapshots(&fx.dest()), [second]);
}

#[test]
fn restore_while_a_reader_has_the_database_open_switches_it_to_the_backup_rows() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    let reader = Connection::open(fx.app.db()).unwrap();
    assert_eq!(dump(&reader), backed_up.rows);
    change_everything(&fx.app);
    assert_eq!(dump(&reader).len(), 181);

    fx.engine.restore(&name, &NoProgress).unwrap();

    // The reader was open (outside a transaction) all along; its next query sees the restore.
    assert_eq!(dump(&reader), backed_up.rows);
    let check: String = reader.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    assert_eq!(fx.state(), backed_up);
}

#[test]
fn restore_waits_for_a_writer_that_finishes_then_succeeds() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app);
    let rows_before = live_rows(&fx.app.db());

    let db = fx.app.db();
    let (started, wait_started) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO test_results(prompt, score, created_at) VALUES ('late writer', 9.5, '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        started.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        conn.execute_batch("COMMIT").unwrap();
    });
    wait_started.recv().unwrap();
    let t0 = Instant::now();
    let report = fx.engine.restore(&name, &NoProgress);
    let took = t0.elapsed();
    writer.join().unwrap();
    let report = report.unwrap_or_else(|e| panic!("restore beside a finishing writer failed: {e} ({})", e.kind()));
    assert!(took >= Duration::from_millis(700), "the restore did not wait for the writer ({took:?})");
    assert!(took < sqlite_timeout() + Duration::from_secs(20), "{took:?}");

    assert_eq!(fx.state(), backed_up);
    // The writer's row was committed before the restore started changing anything, so the
    // safety snapshot holds it.
    let snap_rows = backup_rows(&fx.dest().join(report.safety_snapshot.unwrap()).join(DB_NAME));
    assert_eq!(snap_rows.len(), rows_before.len() + 1);
    assert!(snap_rows.iter().any(|r| r.contains("late writer")), "the writer's row is not in the snapshot");
}

fn sqlite_timeout() -> Duration {
    lifeboat::BUSY_TIMEOUT
}

#[test]
fn restore_refuses_a_database_held_by_a_writer_that_never_lets_go_and_changes_nothing() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app);
    let before = fx.state();
    let dest_before = entries(&fx.dest());

    let holder = Connection::open(fx.app.db()).unwrap();
    holder
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO test_results(prompt, score, created_at) VALUES ('never committed', 0, 'x');",
        )
        .unwrap();

    let t0 = Instant::now();
    let err = fx.engine.restore(&name, &NoProgress).expect_err("restore beside a writer that never lets go");
    let took = t0.elapsed();
    assert_eq!(err.kind().as_str(), "database_busy", "{err}");
    let msg = err.to_string();
    assert!(msg.contains(DB_NAME), "{msg}");
    assert!(msg.contains("in use by another program"), "{msg}");
    assert!(took < sqlite_timeout() + Duration::from_secs(20), "gave up only after {took:?}");

    // Nothing changed: files and rows as before, no staging left in the source, and any
    // safety snapshot taken is whole.
    assert_eq!(live_rows(&fx.app.db()), before.rows);
    assert_eq!(fx.state(), before);
    assert_eq!(restore_leftovers(&fx.app.dir), Vec::<String>::new());
    assert_eq!(unfinished(&fx.dest()), Vec::<String>::new());
    for extra in entries(&fx.dest()).iter().filter(|n| !dest_before.contains(n)) {
        assert!(extra.starts_with("pre-restore_"), "restore left {extra} in the destination");
        assert!(fx.engine.verify(Some(extra), &NoProgress).unwrap().ok);
    }

    // Once the writer lets go, the same restore goes through.
    holder.execute_batch("ROLLBACK").unwrap();
    fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(fx.state(), backed_up);
    assert_eq!(dump(&holder), backed_up.rows);
}

#[test]
fn restore_cleans_up_leftovers_of_an_interrupted_restore() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app);
    let d = &fx.app.dir;
    // A staging folder half filled, a set-aside copy that was never removed, and a folder
    // whose live copy is missing with its set-aside copy still present.
    fs::create_dir_all(d.join(".audio_files.lifeboat-restore/half")).unwrap();
    fs::write(d.join(".audio_files.lifeboat-restore/half/x.wav"), b"half").unwrap();
    fs::create_dir_all(d.join(".audio_files.lifeboat-old")).unwrap();
    fs::write(d.join(".audio_files.lifeboat-old/y.wav"), b"old").unwrap();
    fs::rename(d.join("illugen_audio"), d.join(".illugen_audio.lifeboat-old")).unwrap();
    fs::create_dir_all(d.join(".illugen_audio.lifeboat-restore")).unwrap();

    fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(fx.state(), backed_up);
    assert_eq!(restore_leftovers(d), Vec::<String>::new());
}

#[test]
fn restore_of_a_deleted_or_garbage_database_drops_a_stale_wal_left_beside_it() {
    let Fixture { sb, app, engine, .. } = Fixture::new();
    let name = match engine.backup(Trigger::Manual, &NoProgress).unwrap() {
        BackupOutcome::Created { backup } => backup.name,
        other => panic!("{other:?}"),
    };
    let backed_up = State::of(&app.dir, &FOLDERS);
    let SeedApp { dir, conn } = app;
    drop(conn); // the app stops; its -wal is checkpointed away
    let db = dir.join(DB_NAME);
    let wal = dir.join(format!("{DB_NAME}-wal"));

    // The -wal of another history of the database (same schema, other rows): SQLite
    // would replay it onto whatever file it finds next to it.
    let other = sb.root().join("other.db");
    let stale = Connection::open(&other).unwrap();
    stale
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE test_results(id INTEGER PRIMARY KEY, prompt TEXT, score REAL, created_at TEXT);
             INSERT INTO test_results(prompt, score, created_at) VALUES ('stale', 0, 'then');",
        )
        .unwrap();
    let stale_wal = fs::read(sb.root().join("other.db-wal")).unwrap();
    assert!(!stale_wal.is_empty());
    drop(stale);

    for case in ["deleted", "garbage"] {
        match case {
            "deleted" => fs::remove_file(&db).unwrap(),
            _ => fs::write(&db, pseudo_random(3, 8192)).unwrap(),
        }
        fs::write(&wal, &stale_wal).unwrap();
        let report = engine.restore(&name, &NoProgress).unwrap_or_else(|e| panic!("{case} database: {e}"));
        assert_eq!(report.databases_restored, vec![DB_NAME.to_string()], "{case}");
        assert!(!wal.exists() || fs::read(&wal).unwrap() != stale_wal, "{case}: the stale -wal survived");
        assert_eq!(integrity(&db), "ok", "{case}");
        assert_eq!(State::of(&dir, &FOLDERS), backed_up, "{case}: not the backup's rows");
    }
}

#[test]
fn restore_holds_the_destination_lock_so_a_backup_meanwhile_is_refused() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app);
    // A writer keeps the restore waiting (it waits up to the busy timeout, lock held).
    let holder = Connection::open(fx.app.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let child =
        fx.sb.cmd().args(["restore", &name, "--yes"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let lock = fx.dest().join(".lifeboat.lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(&lock).unwrap_or_default().contains(&child.id().to_string()) {
        assert!(Instant::now() < deadline, "the restore never took the destination lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = entries(&fx.dest());
    let out = fx.sb.run(&["backup"]);
    holder.execute_batch("ROLLBACK").unwrap();
    assert_clear_error(&out, &["a restore"], &["already running"]);
    assert_eq!(entries(&fx.dest()), before, "a backup was written during the restore");

    let out = output_within(child, Duration::from_secs(60), "lifeboat restore");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fx.state(), backed_up);
}

#[test]
fn whole_source_restore_removes_top_level_additions_and_keeps_the_live_database_files() {
    let fx = Fixture::with(|p| p.include.clear());
    let name = fx.backup();
    let backed_up = fx.state();
    let top_level = entries(&fx.app.dir);
    let changes = change_everything(&fx.app);
    fs::write(fx.app.dir.join("notes.txt"), b"added since").unwrap();
    fs::create_dir_all(fx.app.dir.join("new folder/sub")).unwrap();
    fs::write(fx.app.dir.join("new folder/a.txt"), b"a").unwrap();
    fs::write(fx.app.dir.join("new folder/sub/b.txt"), b"b").unwrap();
    let added = changes.remove + 3;

    let plan = fx.engine.restore_preview(&name).unwrap();
    assert_eq!((plan.put_back, plan.bring_back), (changes.put_back, changes.bring_back), "{plan:?}");

    let report = fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(fx.state(), backed_up);
    assert_eq!(entries(&fx.app.dir), top_level, "top level after the restore");
    assert_eq!(integrity(&fx.app.db()), "ok");
    assert_eq!(dump(&fx.app.conn), backed_up.rows, "the app's open connection");
    let snap = fx.dest().join(report.safety_snapshot.as_deref().expect("a safety snapshot"));
    assert_eq!(fs::read(snap.join("notes.txt")).unwrap(), b"added since");
    assert_eq!(fs::read(snap.join("new folder/sub/b.txt")).unwrap(), b"b");
    // The counts include the top-level additions, file by file as inside the folders.
    assert_eq!(report.files_removed, added, "files removed: {report:?}");
    assert_eq!(plan.remove, added, "files the preview said it would remove: {plan:?}");
}

#[test]
fn nested_include_item_is_backed_up_and_restored() {
    // The config accepts items below the top level of the source, e.g. `media/audio`.
    let fx = Fixture::with(|p| p.include = vec![DB_NAME.into(), "media/audio".into()]);
    let media = fx.app.dir.join("media");
    fs::create_dir_all(media.join("audio/kit")).unwrap();
    write_wav(&media.join("audio/kit/a.wav"), 1, 300);
    write_wav(&media.join("audio/b.wav"), 2, 300);
    fs::write(media.join("cover.png"), b"not included").unwrap();
    let name = fx.backup();
    let backed_up = tree_digest(&media.join("audio"));

    fs::remove_file(media.join("audio/kit/a.wav")).unwrap();
    write_wav(&media.join("audio/b.wav"), 3, 400);
    write_wav(&media.join("audio/c.wav"), 4, 300);
    fs::write(media.join("cover.png"), b"changed, still not included").unwrap();
    fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(tree_digest(&media.join("audio")), backed_up);
    assert_eq!(fs::read(media.join("cover.png")).unwrap(), b"changed, still not included");
    assert_eq!(entries(&media), ["audio", "cover.png"]);
}

#[test]
fn restore_refuses_an_item_reached_through_a_live_symlink_out_of_the_source() {
    let fx = Fixture::with(|p| p.include = vec![DB_NAME.into(), "sub/audio".into()]);
    let elsewhere = fx.root().join("elsewhere");
    fs::create_dir_all(elsewhere.join("audio")).unwrap();
    write_wav(&elsewhere.join("audio/one.wav"), 1, 100);
    std::os::unix::fs::symlink(&elsewhere, fx.app.dir.join("sub")).unwrap();
    let name = fx.backup();
    write_wav(&elsewhere.join("audio/one.wav"), 2, 200);
    write_wav(&elsewhere.join("audio/two.wav"), 3, 200);

    let outside_before = outside_snapshot(fx.root(), &fx.app.dir, &fx.dest());
    let rows_before = live_rows(&fx.app.db());
    let err = fx.engine.restore(&name, &NoProgress).expect_err("an item through a symlink out of the source");
    assert_eq!(err.kind().as_str(), "unsafe_path", "{err}");
    assert!(err.to_string().contains("sub/audio"), "{err}");
    assert_eq!(outside_snapshot(fx.root(), &fx.app.dir, &fx.dest()), outside_before, "written outside the source");
    assert_eq!(live_rows(&fx.app.db()), rows_before);
}

#[test]
fn restore_over_a_live_folder_replaced_by_a_symlink_writes_nothing_outside() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    let outside = fx.root().join("outside-audio");
    fs::create_dir_all(&outside).unwrap();
    write_wav(&outside.join("drum_0000.wav"), 99, 100);
    fs::write(outside.join("precious.txt"), b"not the app's").unwrap();
    fs::remove_dir_all(fx.app.dir.join("audio_files")).unwrap();
    std::os::unix::fs::symlink(&outside, fx.app.dir.join("audio_files")).unwrap();
    let outside_before = outside_snapshot(fx.root(), &fx.app.dir, &fx.dest());

    match fx.engine.restore(&name, &NoProgress) {
        Ok(_) => {
            assert!(!fs::symlink_metadata(fx.app.dir.join("audio_files")).unwrap().file_type().is_symlink());
            assert_eq!(fx.state(), backed_up);
        }
        Err(e) => assert_eq!(e.kind().as_str(), "unsafe_path", "{e}"),
    }
    assert_eq!(outside_snapshot(fx.root(), &fx.app.dir, &fx.dest()), outside_before, "written outside the source");
    assert_eq!(fs::read(outside.join("precious.txt")).unwrap(), b"not the app's");
}

/// A larger folder item, so `kill -9` lands in every phase of a restore.
const KILL_FILES: usize = 3000;
const KILL_SIZE: usize = 20 * 1024;
const KILL_FOLDERS: [&str; 3] = ["audio_files", "illugen_audio", "sessions"];

/// Paths a restore makes as it goes: the safety snapshot's staging folder and the
/// restore journal in the destination.
#[derive(Debug, Clone, Copy)]
enum Mark {
    SafetyStaging,
    Journal,
}

impl Mark {
    fn seen(self, dest: &Path) -> bool {
        match self {
            Mark::SafetyStaging => {
                entries(dest).iter().any(|n| n.starts_with(".pre-restore_") && n.ends_with(".partial"))
            }
            Mark::Journal => dest.join(".lifeboat-restore-journal.json").exists(),
        }
    }
}

/// When to `kill -9` the restore: after a delay from its start, or a delay after a mark appears.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    After(Duration),
    Seen(Mark, Duration),
}

/// Each file of `now` is its `old` or its `new` version (or absent where one of them has
/// none): a restore replaces files one by one, each atomically.
fn assert_each_file_old_or_new(
    now: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    when: &str,
) {
    let paths: std::collections::BTreeSet<&String> = now.keys().chain(old.keys()).chain(new.keys()).collect();
    // A file being replaced when the kill landed leaves its hidden temporary copy; the
    // next run removes it (checked at the end).
    for p in paths.into_iter().filter(|p| !p.ends_with(".lifeboat-restore")) {
        let got = now.get(p);
        assert!(got == old.get(p) || got == new.get(p), "{when}: {p} is neither its old nor its restored version");
    }
}

#[test]
fn kill_9_during_restore_leaves_each_file_old_or_new_and_the_next_restore_completes() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let sessions = app.add_bulk("sessions", KILL_FILES, KILL_SIZE);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &[DB_NAME, "audio_files", "illugen_audio", "sessions"], &["--keep", "3"]);
    let name = sb.backup_ok(&dest);
    let target = State::of(&app.dir, &KILL_FOLDERS);

    let mutate = |round: u64| {
        rewrite_bulk(&sessions, KILL_FILES, KILL_SIZE, round + 1, 2, round as usize % 2);
        let _ = fs::remove_file(app.dir.join(format!("audio_files/drum_{:04}.wav", 20 + round)));
        write_wav(&app.dir.join(format!("illugen_audio/added {round}.wav")), round, 500);
        app.conn.execute("DELETE FROM test_results WHERE id % 9 = ?1", [(round % 9) as i64]).unwrap();
    };
    let spawn =
        || sb.cmd().args(["restore", &name, "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();

    // One uninterrupted restore, timed, so the kills spread over a whole run.
    mutate(100);
    let t0 = Instant::now();
    let status = spawn().wait().unwrap();
    let full = t0.elapsed();
    assert!(status.success(), "the uninterrupted restore failed: {status:?}");
    assert_eq!(State::of(&app.dir, &KILL_FOLDERS), target);
    assert!(!Mark::Journal.seen(&dest), "the journal stays after a restore that finished");
    eprintln!("restore of {KILL_FILES} x {KILL_SIZE} B (half changed) + seed data: {full:?}");

    let ms = Duration::from_millis;
    let mut plan: Vec<KillAt> = (1..=14).map(|i| KillAt::After(full.mul_f64(i as f64 / 16.0))).collect();
    plan.extend([
        KillAt::Seen(Mark::SafetyStaging, ms(0)),
        KillAt::Seen(Mark::SafetyStaging, ms(20)),
        KillAt::Seen(Mark::Journal, ms(0)),
        KillAt::Seen(Mark::Journal, ms(3)),
        KillAt::Seen(Mark::Journal, ms(30)),
    ]);
    let (mut killed, mut journal_left) = (0, 0);
    for (round, at) in plan.iter().enumerate() {
        mutate(round as u64);
        let old = State::of(&app.dir, &KILL_FOLDERS);
        assert_ne!(old, target);

        let t0 = Instant::now();
        let mut child = spawn();
        let mut armed: Option<Instant> = None;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            let fire = match *at {
                KillAt::After(d) => t0.elapsed() >= d,
                KillAt::Seen(mark, d) => {
                    if armed.is_none() && mark.seen(&dest) {
                        armed = Some(Instant::now());
                    }
                    armed.is_some_and(|t| t.elapsed() >= d)
                }
            };
            if fire {
                let _ = child.kill(); // SIGKILL
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_micros(300));
        };
        if !status.success() {
            killed += 1;
        }

        let when = format!("after kill -9 at {at:?}, {:?} in (round {round}, {status:?})", t0.elapsed());
        let now = State::of(&app.dir, &KILL_FOLDERS);
        for folder in KILL_FOLDERS {
            assert_each_file_old_or_new(&now.items[folder], &old.items[folder], &target.items[folder], &when);
        }
        assert!(now.rows == old.rows || now.rows == target.rows, "{when}: rows are neither old nor restored");
        assert_eq!(integrity(&app.db()), "ok", "{when}");
        if Mark::Journal.seen(&dest) {
            journal_left += 1;
            // The interrupted restore is visible: status says so.
            let status = parse_json(&sb.run_ok(&["status", "--json"]));
            assert!(status["interrupted_restore"].as_str().is_some_and(|s| s.contains(&name)), "{when}: {status}");
        }
        assert!(dest.join(&name).join("manifest.json").is_file(), "{when}: the backup restored from is gone");
    }
    eprintln!(
        "kill -9 during restore: {killed} of {} runs killed, {journal_left} left the journal for the next run",
        plan.len()
    );
    assert!(killed * 2 >= plan.len(), "too few restores were interrupted ({killed} of {})", plan.len());
    assert!(journal_left > 0, "no kill landed while live files were being replaced");

    // The next restore finishes whatever was left.
    let out = sb.run_ok(&["restore", &name, "--yes"]);
    assert!(stdout(&out).contains("Restored"), "{}", describe(&out));
    assert_eq!(State::of(&app.dir, &KILL_FOLDERS), target, "the restore after the kills gave another state");
    assert_eq!(restore_leftovers(&app.dir), Vec::<String>::new());
    assert_eq!(unfinished(&dest), Vec::<String>::new());
    assert!(!Mark::Journal.seen(&dest), "the journal is removed once the restore completes");
    assert_eq!(integrity(&app.db()), "ok");
    for entry in entries(&dest).iter().filter(|n| n.starts_with("backup_") || n.starts_with("pre-restore_")) {
        assert!(dest.join(entry).join("manifest.json").is_file(), "{entry} is incomplete");
    }
    sb.run_ok(&["verify", &name]);
    let newest_safety = safety_snapshots(&dest).pop().expect("a safety snapshot");
    sb.run_ok(&["verify", &newest_safety]);
    // Safety snapshots rotated away were set aside; the next backup deletes them.
    sb.run_ok(&["backup"]);
    assert_eq!(leftovers(&dest), Vec::<String>::new(), "set-aside snapshots left after a backup");
    assert_eq!(safety_snapshots(&dest), [newest_safety]);
}

/// Rewrites the backup's manifest.json through `edit` on its JSON.
fn edit_manifest(backup: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut m = read_manifest(backup);
    edit(&mut m);
    fs::write(backup.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

fn file_entry(path: &str, content: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "kind": "file",
        "size": content.len(),
        "mtime_ns": 1_700_000_000_000_000_000i128,
        "blake3": blake3::hash(content).to_hex().to_string(),
        "stored": "copied",
        "mode": 0o644,
    })
}

/// Everything in the sandbox outside the source and the destination, with inodes and
/// mtimes, so a write anywhere there shows.
fn outside_snapshot(root: &Path, source: &Path, dest: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.path() != source && e.path() != dest && !e.path().starts_with(root.join("data")));
    for e in walk {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        let content = if m.is_file() { blake3_file(e.path()) } else { String::new() };
        out.insert(
            e.path().strip_prefix(root).unwrap().display().to_string(),
            format!("{} {}.{} {} {content}", m.ino(), m.mtime(), m.mtime_nsec(), m.len()),
        );
    }
    out
}

/// Restores a backup whose manifest was crafted, expecting a refusal that writes nothing
/// outside the source and changes nothing in it.
fn assert_crafted_restore_refused(fx: &Fixture, name: &str, what: &str) {
    let source_before = fx.state();
    let outside_before = outside_snapshot(fx.root(), &fx.app.dir, &fx.dest());
    let err = fx.engine.restore(name, &NoProgress).expect_err(what);
    assert!(matches!(err.kind().as_str(), "unsafe_path" | "damaged"), "{what}: refused as {} ({err})", err.kind());
    assert_eq!(outside_snapshot(fx.root(), &fx.app.dir, &fx.dest()), outside_before, "{what}: written outside");
    assert_eq!(fx.state(), source_before, "{what}: the source changed");
    assert_eq!(restore_leftovers(&fx.app.dir), Vec::<String>::new(), "{what}");
    assert!(fx.engine.restore_preview(name).is_err(), "{what}: the preview accepted it");
    // Through the CLI too: non-zero exit, nothing changed.
    let out = fx.sb.run(&["restore", name, "--yes"]);
    assert!(!out.status.success(), "{what}: CLI restore accepted it: {}", describe(&out));
    assert_eq!(outside_snapshot(fx.root(), &fx.app.dir, &fx.dest()), outside_before, "{what}: CLI wrote outside");
    assert_eq!(fx.state(), source_before, "{what}: the CLI changed the source");
}

#[test]
fn crafted_manifest_with_dot_dot_paths_is_refused_and_nothing_is_written() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backup = fx.dest().join(&name);
    let original = fs::read(backup.join("manifest.json")).unwrap();
    change_everything(&fx.app);
    let evil = b"escaped!".as_slice();

    // Inside an item, climbing out of the source; at the top level; and as an item.
    let cases: [(&str, &str); 3] = [
        ("audio_files/../../escape.txt", "audio_files/../../escape.txt"),
        ("../escape.txt", "../escape.txt"),
        ("../outside", "../outside/escape.txt"),
    ];
    for (item_or_path, file) in cases {
        // Put the content where the backup's own path leads, so a hash check alone passes.
        let stored = backup.join(file);
        fs::create_dir_all(stored.parent().unwrap()).unwrap();
        fs::write(&stored, evil).unwrap();
        edit_manifest(&backup, |m| {
            if item_or_path != file {
                m["include"].as_array_mut().unwrap().push(item_or_path.into());
                m["files"].as_array_mut().unwrap().push(serde_json::json!({
                    "path": item_or_path, "kind": "dir", "size": 0, "mtime_ns": 0, "stored": "created"
                }));
            }
            m["files"].as_array_mut().unwrap().push(file_entry(file, evil));
        });
        assert_crafted_restore_refused(&fx, &name, &format!("manifest entry {file:?}"));
        assert!(!fx.app.dir.join(file).exists(), "{file} was written");
        fs::remove_file(&stored).unwrap();
        fs::write(backup.join("manifest.json"), &original).unwrap();
    }
    assert!(fx.engine.verify(Some(&name), &NoProgress).unwrap().ok);
}

#[test]
fn crafted_manifest_with_absolute_paths_is_refused_and_nothing_is_written() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backup = fx.dest().join(&name);
    let original = fs::read(backup.join("manifest.json")).unwrap();
    change_everything(&fx.app);
    let target_dir = fx.root().join("absolute-target");
    fs::create_dir_all(&target_dir).unwrap();
    let evil = b"written through an absolute path".as_slice();

    // An absolute file entry, absent and then present where it points (so a hash check
    // of backup.join(path) would pass), and an absolute item.
    let abs_file = target_dir.join("evil.txt");
    let abs_file_s = abs_file.to_str().unwrap().to_string();
    for present in [false, true] {
        if present {
            fs::write(&abs_file, evil).unwrap();
        }
        edit_manifest(&backup, |m| m["files"].as_array_mut().unwrap().push(file_entry(&abs_file_s, evil)));
        assert_crafted_restore_refused(&fx, &name, &format!("absolute entry (file present: {present})"));
        if !present {
            assert!(!abs_file.exists(), "{abs_file_s} was written");
        }
        fs::write(backup.join("manifest.json"), &original).unwrap();
    }
    fs::remove_file(&abs_file).unwrap();

    let abs_item = target_dir.join("item");
    let abs_item_s = abs_item.to_str().unwrap().to_string();
    edit_manifest(&backup, |m| {
        m["include"].as_array_mut().unwrap().push(abs_item_s.clone().into());
        m["files"].as_array_mut().unwrap().push(serde_json::json!({
            "path": abs_item_s, "kind": "dir", "size": 0, "mtime_ns": 0, "stored": "created"
        }));
        m["files"].as_array_mut().unwrap().push(file_entry(&format!("{abs_item_s}/evil.txt"), evil));
    });
    assert_crafted_restore_refused(&fx, &name, "absolute item");
    assert!(!abs_item.exists(), "{abs_item_s} was created");
    fs::write(backup.join("manifest.json"), &original).unwrap();
    assert!(fx.engine.verify(Some(&name), &NoProgress).unwrap().ok);
}

#[test]
fn crafted_manifest_with_a_symlink_escape_is_refused_and_nothing_is_written() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backup = fx.dest().join(&name);
    change_everything(&fx.app);

    // `audio_files/link -> <outside>` then a file `audio_files/link/evil`: the backup holds
    // the same link and the outside folder already holds a matching `evil`, so every
    // size and hash check passes and only the path check can refuse it.
    let outside = fx.root().join("outside-dir");
    fs::create_dir_all(&outside).unwrap();
    let evil = b"this must never be written through the link".as_slice();
    fs::write(outside.join("evil"), evil).unwrap();
    fs::write(outside.join("precious.txt"), b"keep me").unwrap();
    let target = outside.to_str().unwrap().to_string();
    std::os::unix::fs::symlink(&target, backup.join("audio_files/link")).unwrap();
    edit_manifest(&backup, |m| {
        let files = m["files"].as_array_mut().unwrap();
        files.push(serde_json::json!({
            "path": "audio_files/link", "kind": "symlink", "size": 0, "mtime_ns": 0,
            "stored": "created", "target": target,
        }));
        files.push(file_entry("audio_files/link/evil", evil));
        files.push(file_entry("audio_files/link/new-file", evil));
    });
    fs::write(outside.join("new-file"), evil).unwrap();
    let report = fx.engine.verify(Some(&name), &NoProgress).unwrap();
    assert!(report.ok, "the crafted backup should pass verify so the path check is what refuses: {report:?}");

    let outside_before = outside_snapshot(fx.root(), &fx.app.dir, &fx.dest());
    let err = fx.engine.restore(&name, &NoProgress).expect_err("symlink escape");
    assert_eq!(err.kind().as_str(), "unsafe_path", "{err}");
    assert!(err.to_string().contains("audio_files/link/"), "{err}");
    assert_eq!(outside_snapshot(fx.root(), &fx.app.dir, &fx.dest()), outside_before, "written through the link");
    assert_crafted_restore_refused(&fx, &name, "symlink escape");
    assert_eq!(fs::read(outside.join("precious.txt")).unwrap(), b"keep me");
    assert_eq!(fs::read(outside.join("evil")).unwrap(), evil);
}

#[test]
fn failing_before_restore_hook_aborts_and_changes_nothing() {
    let fx = Fixture::with(|p| p.before_restore = Some("echo 'drumgen server refuses to stop' >&2; exit 3".into()));
    let name = fx.backup();
    change_everything(&fx.app);
    let before = fx.state();
    let dest_before = entries(&fx.dest());

    let err = fx.engine.restore(&name, &NoProgress).expect_err("before_restore failed");
    assert_eq!(err.kind().as_str(), "hook", "{err}");
    let msg = err.to_string();
    assert!(msg.contains("before_restore"), "{msg}");
    assert!(msg.contains("refuses to stop"), "{msg}");
    assert_eq!(fx.state(), before);
    assert_eq!(entries(&fx.dest()), dest_before, "the destination changed");

    let out = fx.sb.run(&["restore", &name, "--yes"]);
    assert_clear_error(&out, &["before_restore"], &["exit", "failed"]);
    assert_eq!(fx.state(), before);
    assert_eq!(entries(&fx.dest()), dest_before, "the destination changed");
}

#[test]
fn after_restore_hook_runs_after_the_restore_and_sees_the_outcome() {
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("after_restore.txt");
    let m = marker.display().to_string();
    let fx = Fixture::with(|p| {
        p.after_restore = Some(format!(
            "echo \"$LIFEBOAT_HOOK $LIFEBOAT_OUTCOME\" > '{m}'; \
             if test -f \"$LIFEBOAT_SOURCE/audio_files/drum_0000.wav\"; then echo restored >> '{m}'; fi"
        ))
    });
    let name = fx.backup();
    let backed_up = fx.state();
    change_everything(&fx.app); // deletes audio_files/drum_0000.wav
    assert!(!marker.exists(), "after_restore ran on a backup");

    fx.engine.restore(&name, &NoProgress).unwrap();
    assert_eq!(fx.state(), backed_up);
    let got = fs::read_to_string(&marker).expect("after_restore did not run");
    assert_eq!(got.lines().collect::<Vec<_>>(), ["after_restore success", "restored"], "{got}");

    // After a failed restore it runs too, and is told so.
    fs::remove_file(&marker).unwrap();
    let err = fx.engine.restore("backup_1999-01-01_00-00-00", &NoProgress).unwrap_err();
    assert_eq!(err.kind().as_str(), "no_such_backup", "{err}");
    let got = fs::read_to_string(&marker).expect("after_restore did not run after a failure");
    assert!(got.starts_with("after_restore failed"), "{got}");
}

#[test]
fn failing_before_backup_hook_aborts_the_backup_and_leaves_no_backup_folder() {
    let fx = Fixture::with(|p| p.before_backup = Some("echo 'cannot pause the scorer' >&2; exit 7".into()));
    let err = fx.engine.backup(Trigger::Manual, &NoProgress).expect_err("before_backup failed");
    assert_eq!(err.kind().as_str(), "hook", "{err}");
    assert!(err.to_string().contains("before_backup"), "{err}");
    assert_nothing_written(&fx.dest());

    let out = fx.sb.run(&["backup"]);
    assert_clear_error(&out, &["before_backup"], &["cannot pause the scorer", "exit"]);
    assert_nothing_written(&fx.dest());
    let out = fx.sb.run(&["list", "--json"]);
    if out.status.success() {
        assert!(json_backup_list(&parse_json(&out)).is_empty(), "{}", describe(&out));
    }
}

#[test]
fn cli_restore_asks_without_yes_and_restores_with_yes() {
    let fx = Fixture::new();
    let name = fx.backup();
    let backed_up = fx.state();
    let changes = change_everything(&fx.app);
    let before = fx.state();

    // No terminal and no --yes: refuse, change nothing.
    let out = fx.sb.run(&["restore", &name]);
    assert_clear_error(&out, &["--yes"], &["confirmation", "refus"]);
    assert_eq!(fx.state(), before);
    assert!(safety_snapshots(&fx.dest()).is_empty());

    let out = fx.sb.run_ok(&["restore", &name, "--yes", "--json"]);
    let report = parse_json(&out);
    assert_eq!(report["name"], name.as_str());
    assert_eq!(report["files_restored"], changes.put_back + changes.bring_back + 1);
    assert_eq!(report["files_removed"], changes.remove);
    assert_eq!(report["put_back"], changes.put_back);
    assert_eq!(report["brought_back"], changes.bring_back);
    assert_eq!(report["databases_restored"], serde_json::json!([DB_NAME]));
    let safety = report["safety_snapshot"].as_str().expect("safety snapshot named");
    assert_eq!(safety_snapshots(&fx.dest()), vec![safety.to_string()]);
    assert_eq!(fx.state(), backed_up);

    // `lifeboat restore <safety snapshot> --yes` undoes it.
    let out = fx.sb.run_ok(&["restore", safety, "--yes"]);
    assert!(stdout(&out).contains("Restored"), "{}", describe(&out));
    assert_eq!(fx.state(), before);
}
