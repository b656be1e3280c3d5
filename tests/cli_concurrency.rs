//! Backups while something else runs: a writer inserting into the live database, and a
//! second `lifeboat backup` started while the first one works.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rusqlite::Connection;

#[test]
fn writer_inserting_throughout_a_backup_gets_a_consistent_copy() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    // A database of some size, so its copy takes a while.
    app.conn
        .execute_batch(
            "CREATE TABLE takes(id INTEGER PRIMARY KEY, audio BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
             INSERT INTO takes(audio) SELECT randomblob(2048) FROM n;",
        )
        .unwrap();
    app.add_bulk("sessions", 600, 16 * 1024);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &["drumgen.db", "audio_files", "illugen_audio", "sessions"], &[]);

    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, inserted) = (app.db(), stop.clone(), inserted.clone());
        std::thread::spawn(move || {
            let conn = Connection::open(db).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                conn.execute(
                    "INSERT INTO test_results(prompt, score, created_at) VALUES (?1, ?2, datetime('now'))",
                    (format!("live insert {i}"), i as f64),
                )
                .unwrap();
                inserted.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(500));
            }
        })
    };
    // The writer is going before the backup starts.
    while inserted.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(Duration::from_millis(1));
    }

    let at_start = row_count(&app.db(), "test_results");
    let inserted_at_start = inserted.load(Ordering::SeqCst);
    let child = sb.cmd().arg("backup").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let out = output_within(child, Duration::from_secs(120), "backup under a writer");
    let inserted_during = inserted.load(Ordering::SeqCst) - inserted_at_start;
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let at_end = row_count(&app.db(), "test_results");
    assert!(out.status.success(), "backup under a writer failed: {}", describe(&out));
    assert!(inserted_during > 0, "the writer inserted nothing while the backup ran");

    let names = complete_backups(&dest);
    assert_eq!(names.len(), 1);
    let copy = dest.join(&names[0]).join("drumgen.db");
    assert_eq!(file_integrity(&copy), "ok");
    let rows = file_row_count(&copy, "test_results");
    assert!((at_start..=at_end).contains(&rows), "copy has {rows} rows, outside [{at_start}, {at_end}]");
    assert_eq!(file_row_count(&copy, "takes"), 6000);
    let m = read_manifest(&dest.join(&names[0]));
    let db = &m["databases"][0];
    assert_eq!(db["integrity"].as_str(), Some("ok"));
    let listed = db["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str() == Some("test_results"))
        .expect("test_results in the manifest")["rows"]
        .as_i64();
    assert_eq!(listed, Some(rows), "manifest row count is the copy's");
    for e in walkdir::WalkDir::new(dest.join(&names[0])) {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with("-wal") && !name.ends_with("-shm"), "{name} copied");
    }
}

#[test]
fn second_backup_while_one_runs_waits_or_says_one_is_running() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    app.add_bulk("sessions", 2400, 32 * 1024);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &["drumgen.db", "audio_files", "illugen_audio", "sessions"], &["--keep", "5"]);

    let mut first = sb.cmd().arg("backup").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Wait until the first holds the destination (staging folder or lock file there).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !entries(&dest).iter().any(|n| n.ends_with(".partial")) {
        assert!(first.try_wait().unwrap().is_none(), "the first backup ended before it was seen running");
        assert!(Instant::now() < deadline, "no staging folder appeared in {}", dest.display());
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first backup ended before the second started: make the tree larger"
    );
    let second = sb.cmd().arg("backup").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let second = output_within(second, Duration::from_secs(180), "second backup");
    let first = output_within(first, Duration::from_secs(180), "first backup");
    assert!(first.status.success(), "first backup failed: {}", describe(&first));

    let names = complete_backups(&dest);
    if second.status.success() {
        // It waited for the first, then made its own backup.
        eprintln!("the second backup waited for the first");
        assert_eq!(names.len(), 2, "both backups should exist: {names:?}");
    } else {
        assert_clear_error(&second, &[], &["running", "already"]);
        assert_eq!(names.len(), 1, "only the first backup should exist: {names:?}");
    }
    let mut seen = HashMap::new();
    for name in &names {
        assert_backup_hashes(&dest.join(name), &mut seen);
        let (files, _) = count_files_and_dirs(&dest.join(name).join("sessions"));
        assert_eq!(files, 2400, "{name} lacks files");
    }
    assert_eq!(leftovers(&dest), Vec::<String>::new());
}
