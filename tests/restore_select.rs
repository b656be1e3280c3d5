//! Restore rebuilt (issue 10): a database inside a folder, open in a running app, is
//! restored through SQLite; one file restored from a 100,000-file backup changes only
//! that file; `--to` writes a byte-identical copy and leaves the live data alone; a path
//! not in the backup names its nearest neighbours; `ls` and `diff` tell what changed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use rusqlite::Connection;

fn rows(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0)).unwrap()
}

/// inode of every file under `dir`, by relative path.
fn inodes(dir: &Path) -> BTreeMap<String, u64> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(), e.metadata().unwrap().ino()))
        .collect()
}

#[test]
fn a_database_in_a_folder_open_in_a_running_app_sees_the_restore_at_once() {
    let sb = Sandbox::new();
    let app = sb.root().join("app");
    fs::create_dir_all(app.join("data")).unwrap();
    fs::write(app.join("data/readme.txt"), b"notes app").unwrap();
    let db = app.join("data/app.db");
    // The running app: WAL, no automatic checkpoint, so later rows live only in the -wal.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
    )
    .unwrap();
    for i in 0..100 {
        conn.execute("INSERT INTO notes (body) VALUES (?1)", [format!("note {i}")]).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&app, &dest, &["data"], &[]);
    let name = sb.backup_ok(&dest);

    for i in 100..150 {
        conn.execute("INSERT INTO notes (body) VALUES (?1)", [format!("note {i}")]).unwrap();
    }
    assert!(fs::metadata(app.join("data/app.db-wal")).unwrap().len() > 0, "the new rows are in the -wal");
    assert_eq!(rows(&conn), 150);

    let out = sb.run_ok(&["restore", &name, "--yes", "--json"]);
    let report = parse_json(&out);
    assert_eq!(report["databases_restored"], serde_json::json!(["data/app.db"]), "{report}");

    // The app, still running on the same connection, sees the restored rows at once...
    assert_eq!(rows(&conn), 100, "the running app still sees its old rows");
    // ...and its next write lands in the restored database, not in a file moved aside.
    conn.execute("INSERT INTO notes (body) VALUES ('written after the restore')", []).unwrap();
    drop(conn);
    let fresh = Connection::open(&db).unwrap();
    assert_eq!(rows(&fresh), 101, "the app's write after the restore is in the live database");
    let integrity: String = fresh.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");

    // The safety snapshot holds all 150 rows the app had.
    let safety = report["safety_snapshot"].as_str().expect("a safety snapshot").to_string();
    let snap = Connection::open(dest.join(&safety).join("data/app.db")).unwrap();
    assert_eq!(rows(&snap), 150, "the safety snapshot holds the rows from before the restore");
}

#[test]
fn one_deleted_file_from_a_100000_file_backup_comes_back_and_nothing_else_is_touched() {
    let sb = Sandbox::new();
    let app = sb.root().join("app");
    let files = 100_000;
    for i in 0..files {
        let dir = app.join(format!("assets/{:03}", i / 1000));
        if i % 1000 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        fs::write(dir.join(format!("s{i:06}.wav")), format!("sample {i}")).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&app, &dest, &["assets"], &[]);
    let name = sb.backup_ok(&dest);

    let lost = app.join("assets/042/s042424.wav");
    fs::remove_file(&lost).unwrap();
    let before = inodes(&app);
    let t = std::time::Instant::now();
    let out = sb.run_ok(&["restore", &name, "assets/042/s042424.wav", "--yes", "--json"]);
    eprintln!("restore of one file from a {files}-file backup: {:?} (CLI, debug build)", t.elapsed());
    let report = parse_json(&out);
    assert_eq!(report["brought_back"], 1, "{report}");
    assert_eq!(report["files_restored"], 1, "{report}");
    assert_eq!(report["files_removed"], 0, "{report}");
    assert_eq!(fs::read(&lost).unwrap(), b"sample 42424");
    let after = inodes(&app);
    assert_eq!(after.len(), files);
    for (path, ino) in &before {
        assert_eq!(after.get(path), Some(ino), "{path} was rewritten");
    }
}

#[test]
fn a_folder_restored_to_an_empty_folder_is_byte_identical_and_the_live_data_is_untouched() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let name = sb.backup_ok(&dest);
    let backed_up = tree_digest(&app.dir.join("illugen_audio"));

    fs::remove_dir_all(app.dir.join("illugen_audio/note_005")).unwrap();
    fs::write(app.dir.join("illugen_audio/new since.wav"), b"new").unwrap();
    let live_before = tree_digest(&app.dir);

    let copy = sb.root().join("copy");
    let out = sb.run_ok(&["restore", &name, "illugen_audio", "--to", copy.to_str().unwrap(), "--yes", "--json"]);
    let report = parse_json(&out);
    assert!(report["safety_snapshot"].is_null(), "--to needs no safety snapshot: {report}");
    assert_eq!(tree_digest(&copy.join("illugen_audio")), backed_up, "the copy is byte-identical");
    assert_eq!(entries(&copy), vec!["illugen_audio".to_string()], "only the selected folder is written");
    assert_eq!(tree_digest(&app.dir), live_before, "the live data was changed");
    assert!(entries(&dest).iter().all(|n| !n.starts_with("pre-restore_")));

    // The whole backup into a new folder: the database comes as a consistent file.
    let whole = sb.root().join("whole copy");
    sb.run_ok(&["restore", &name, "--to", whole.to_str().unwrap(), "--yes"]);
    assert_eq!(file_row_count(&whole.join(DB_NAME), "test_results"), DB_ROWS);
    assert_eq!(tree_digest(&whole.join("audio_files")), tree_digest(&dest.join(&name).join("audio_files")));
}

#[test]
fn to_refuses_a_folder_that_is_not_empty_or_lies_in_the_source_or_the_destination() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let name = sb.backup_ok(&dest);
    let busy = sb.root().join("busy");
    fs::create_dir_all(&busy).unwrap();
    fs::write(busy.join("keep.txt"), b"mine").unwrap();
    for (to, why) in [
        (busy.clone(), "not empty"),
        (app.dir.join("restored"), "inside the source"),
        (dest.join("restored"), "inside the backup destination"),
    ] {
        let out = sb.run(&["restore", &name, "--to", to.to_str().unwrap(), "--yes"]);
        assert_clear_error(&out, &[to.to_str().unwrap()], &[why]);
    }
    assert_eq!(fs::read(busy.join("keep.txt")).unwrap(), b"mine");
    assert!(!app.dir.join("restored").exists() && !dest.join("restored").exists());
}

#[test]
fn a_path_not_in_the_backup_names_the_nearest_entries_and_changes_nothing() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let name = sb.backup_ok(&dest);
    let before = tree_digest(&app.dir);
    let out = sb.run(&["restore", &name, "audio_files/drum_0O07.wav", "--yes"]);
    assert_clear_error(&out, &["drum_0O07.wav"], &["not in backup", "did you mean", "audio_files/drum_0007.wav"]);
    assert_eq!(tree_digest(&app.dir), before);
}

#[test]
fn restoring_one_path_leaves_every_other_change_alone() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let name = sb.backup_ok(&dest);
    fs::write(app.dir.join("audio_files/drum_0001.wav"), b"changed").unwrap();
    fs::write(app.dir.join("audio_files/drum_0002.wav"), b"changed too").unwrap();
    fs::write(app.dir.join("audio_files/added.wav"), b"new").unwrap();

    let out = sb.run_ok(&["restore", &name, "audio_files/drum_0001.wav", "--yes", "--json"]);
    let report = parse_json(&out);
    assert_eq!((report["put_back"].as_u64(), report["files_removed"].as_u64()), (Some(1), Some(0)), "{report}");
    assert_ne!(fs::read(app.dir.join("audio_files/drum_0001.wav")).unwrap(), b"changed");
    assert_eq!(fs::read(app.dir.join("audio_files/drum_0002.wav")).unwrap(), b"changed too");
    assert_eq!(fs::read(app.dir.join("audio_files/added.wav")).unwrap(), b"new");
}

#[test]
fn ls_and_diff_tell_what_changed_since_a_backup() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let name = sb.backup_ok(&dest);
    fs::write(app.dir.join("audio_files/drum_0001.wav"), b"changed").unwrap();
    fs::remove_file(app.dir.join("audio_files/drum_0002.wav")).unwrap();
    fs::write(app.dir.join("audio_files/added.wav"), b"new").unwrap();
    app.conn.execute("DELETE FROM test_results WHERE id <= 12", []).unwrap();

    let ls = parse_json(&sb.run_ok(&["ls", &name, "audio_files", "--json"]));
    let state = |p: &str| {
        ls.as_array().unwrap().iter().find(|e| e["path"] == p).map(|e| e["state"].as_str().unwrap().to_string())
    };
    assert_eq!(state("audio_files/drum_0001.wav").as_deref(), Some("changed"));
    assert_eq!(state("audio_files/drum_0002.wav").as_deref(), Some("deleted"));
    assert_eq!(state("audio_files/added.wav").as_deref(), Some("new"));
    assert_eq!(state("audio_files/drum_0003.wav").as_deref(), Some("same"));
    let top = parse_json(&sb.run_ok(&["ls", &name, "--json"]));
    let db = top.as_array().unwrap().iter().find(|e| e["path"] == DB_NAME).expect("the database is listed");
    let table = db["tables"].as_array().unwrap().iter().find(|t| t["name"] == "test_results").unwrap();
    assert_eq!((table["then"].as_i64(), table["now"].as_i64()), (Some(DB_ROWS), Some(DB_ROWS - 12)));

    let diff = parse_json(&sb.run_ok(&["diff", &name, "--json"]));
    assert_eq!(diff["changed"], serde_json::json!(["audio_files/drum_0001.wav"]), "{diff}");
    assert_eq!(diff["removed"], serde_json::json!(["audio_files/drum_0002.wav"]), "{diff}");
    assert_eq!(diff["added"], serde_json::json!(["audio_files/added.wav"]), "{diff}");
    let text = stdout(&sb.run_ok(&["diff", &name]));
    assert!(text.contains("since then: 1 changed, 1 deleted, 1 new; test_results -12 rows"), "{text}");

    // Two backups: what the second holds that the first did not.
    let second = sb.backup_ok(&dest);
    let between = parse_json(&sb.run_ok(&["diff", &name, &second, "--json"]));
    assert_eq!(between["added"], serde_json::json!(["audio_files/added.wav"]), "{between}");
    assert_eq!(between["removed"], serde_json::json!(["audio_files/drum_0002.wav"]), "{between}");
}
