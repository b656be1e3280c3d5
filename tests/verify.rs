//! Verify on seed-shaped backups: every kind of damage is reported with its path and
//! kind, a backup without a readable manifest is incomplete, the CLI exits non-zero and
//! lists the problems, and restore refuses a backup whose copies it needs are damaged,
//! without changing anything (a damaged copy of a file that is still the same live is
//! not needed, and does not stop a restore).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use lifeboat::{BackupOutcome, Config, Engine, NoProgress, Profile, Trigger, VerifyReport};
use rusqlite::Connection;

/// A sandboxed `lifeboat` whose config holds one profile of the seed-shaped app, an
/// engine for the same profile, and one backup of it.
struct Fixture {
    sb: Sandbox,
    app: SeedApp,
    engine: Engine,
    dest: PathBuf,
    name: String,
}

impl Fixture {
    fn new() -> Fixture {
        let sb = Sandbox::new();
        let app = SeedApp::create(sb.root());
        let dest = sb.root().join("Backups");
        let mut profile = Profile::new("DrumGen Scorer", &app.dir, &dest);
        profile.include = SEED_INCLUDES.iter().map(|s| s.to_string()).collect();
        Config { profiles: vec![profile.clone()], ..Default::default() }.save(&sb.config).unwrap();
        let engine = Engine::new(profile, sb.data.join("history.sqlite3")).unwrap();
        let name = match engine.backup(Trigger::Manual, &NoProgress).unwrap() {
            BackupOutcome::Created { backup } => backup.name,
            other => panic!("a manual backup was not created: {other:?}"),
        };
        Fixture { sb, app, engine, dest, name }
    }

    fn backup(&self) -> PathBuf {
        self.dest.join(&self.name)
    }

    fn verify(&self) -> VerifyReport {
        self.engine.verify(Some(&self.name), &NoProgress).unwrap()
    }
}

/// (path, problem kind) of every problem.
fn problems(report: &VerifyReport) -> Vec<(String, String)> {
    report.problems.iter().map(|p| (p.path.clone(), p.problem.clone())).collect()
}

fn one(path: &str, kind: &str) -> Vec<(String, String)> {
    vec![(path.to_string(), kind.to_string())]
}

/// Flips one byte in place: same size; the mtime is put back so only the content differs.
fn flip_byte(path: &Path, at: u64) {
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    let mut byte = [0u8];
    let mut f = fs::File::options().read(true).write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    std::io::Read::read_exact(&mut f, &mut byte).unwrap();
    byte[0] ^= 0x01;
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&byte).unwrap();
    f.set_modified(mtime).unwrap();
}

/// Overwrites database page `page` (1-based) of `db` with noise, keeping its size.
fn corrupt_page(db: &Path, page: u64) {
    let bytes = fs::read(db).unwrap();
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    assert!(bytes.len() as u64 >= page_size * (page + 1), "the database has too few pages to corrupt page {page}");
    let mut f = fs::File::options().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start(page_size * (page - 1))).unwrap();
    f.write_all(&pseudo_random(0xBAD, page_size as usize)).unwrap();
}

#[test]
fn verify_of_an_untouched_backup_is_whole() {
    let fx = Fixture::new();
    let report = fx.verify();
    assert!(report.ok, "{:?}", report.problems);
    assert!(report.problems.is_empty());
    assert_eq!(report.files_checked, (AUDIO_FILES + ILLUGEN_FILES + 1) as u64);
    assert_eq!(report.name, fx.name);
    // The default is the newest backup.
    assert_eq!(fx.engine.verify(None, &NoProgress).unwrap().name, fx.name);

    let out = fx.sb.run_ok(&["verify"]);
    assert!(stdout(&out).contains(&fx.name), "{}", describe(&out));
    let doc = parse_json(&fx.sb.run_ok(&["verify", &fx.name, "--json"]));
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["problems"], serde_json::json!([]));
}

#[test]
fn verify_catches_a_flipped_byte_of_the_same_size() {
    let fx = Fixture::new();
    let path = "audio_files/drum_0007.wav";
    let file = fx.backup().join(path);
    let size = fs::metadata(&file).unwrap().len();
    flip_byte(&file, size / 2);
    assert_eq!(fs::metadata(&file).unwrap().len(), size);

    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(path, "changed"), "{report:?}");
}

#[test]
fn verify_catches_a_truncated_file() {
    let fx = Fixture::new();
    let file = fx.backup().join(ACCENTED_FILE);
    let size = fs::metadata(&file).unwrap().len();
    fs::File::options().write(true).open(&file).unwrap().set_len(size / 2).unwrap();

    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(ACCENTED_FILE, "size"), "{report:?}");
}

#[test]
fn verify_catches_a_missing_file() {
    let fx = Fixture::new();
    fs::remove_file(fx.backup().join(SPACED_AUDIO)).unwrap();

    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(SPACED_AUDIO, "missing"), "{report:?}");
}

#[test]
fn verify_catches_an_extra_file() {
    let fx = Fixture::new();
    let path = "illugen_audio/note_005/stray take.wav";
    write_wav(&fx.backup().join(path), 5, 300);

    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(path, "extra"), "{report:?}");
}

#[test]
fn a_reader_of_a_backed_up_database_is_not_damage_but_a_wal_with_frames_is() {
    // A user checking a copy by hand (`sqlite3 -readonly backup_…/drumgen.db`) makes
    // SQLite put its `-shm` (and an empty `-wal`) beside it: that changes nothing.
    let fx = Fixture::new();
    let db = fx.backup().join(DB_NAME);
    let reader = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let rows: i64 = reader.query_row("SELECT count(*) FROM test_results", [], |r| r.get(0)).unwrap();
    assert!(rows > 0);
    let beside: Vec<String> = entries(&fx.backup()).into_iter().filter(|n| n.starts_with("drumgen.db-")).collect();
    assert!(!beside.is_empty(), "the reader left nothing beside the copy: nothing to check");
    let report = fx.verify();
    assert!(report.ok, "a reader's -shm/-wal taken for damage: {report:?}");
    drop(reader);

    // A `-wal` with frames in it would change what the copy holds: still reported.
    let wal = format!("{DB_NAME}-wal");
    fs::write(fx.backup().join(&wal), b"frames written into the backup").unwrap();
    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(&wal, "extra"), "{report:?}");
}

#[test]
fn verify_catches_a_corrupted_database_page() {
    let fx = Fixture::new();
    let db = fx.backup().join(DB_NAME);
    let size = fs::metadata(&db).unwrap().len();
    corrupt_page(&db, 2);
    assert_eq!(fs::metadata(&db).unwrap().len(), size);

    let report = fx.verify();
    assert!(!report.ok);
    let found = problems(&report);
    assert!(found.contains(&(DB_NAME.to_string(), "corrupt".to_string())), "{report:?}");
    assert!(found.iter().all(|(path, _)| path == DB_NAME), "{report:?}");
    // Verify opens the copy without writing beside it.
    assert_eq!(entries(&fx.backup()).iter().filter(|n| n.starts_with("drumgen.db-")).count(), 0);
}

#[test]
fn verify_catches_a_corrupted_database_page_even_with_its_hash_updated() {
    // Damage made before the manifest was written (or a manifest rewritten to match):
    // only the integrity check can tell.
    let fx = Fixture::new();
    let db = fx.backup().join(DB_NAME);
    corrupt_page(&db, 2);
    let hash = blake3_file(&db);
    let mut m = read_manifest(&fx.backup());
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == DB_NAME {
            f["blake3"] = hash.clone().into();
        }
    }
    fs::write(fx.backup().join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();

    let report = fx.verify();
    assert!(!report.ok);
    assert_eq!(problems(&report), one(DB_NAME, "corrupt"), "{report:?}");
}

#[test]
fn verify_reports_a_backup_with_a_missing_or_garbage_manifest_as_incomplete() {
    let fx = Fixture::new();
    let manifest = fx.backup().join("manifest.json");
    let original = fs::read(&manifest).unwrap();
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("missing", None),
        ("empty", Some(Vec::new())),
        ("garbage", Some(b"\x00\xffnot json at all {{{".to_vec())),
        ("cut in half", Some(original[..original.len() / 2].to_vec())),
        ("wrong shape", Some(br#"{"format_version": 1, "files": 3}"#.to_vec())),
    ];
    for (what, content) in cases {
        match &content {
            None => fs::remove_file(&manifest).unwrap(),
            Some(bytes) => fs::write(&manifest, bytes).unwrap(),
        }
        let report = fx.verify();
        assert!(!report.ok, "{what} manifest: reported whole");
        assert!(
            report.problems.iter().any(|p| p.path == "manifest.json" && p.problem == "manifest"),
            "{what} manifest: {report:?}"
        );

        let out = fx.sb.run(&["verify", &fx.name]);
        assert!(!out.status.success(), "{what} manifest: CLI verify exited 0: {}", describe(&out));
        assert!(stdout(&out).contains("manifest.json"), "{what} manifest: {}", describe(&out));
        let out = fx.sb.run(&["verify", &fx.name, "--json"]);
        assert!(!out.status.success(), "{what} manifest: CLI verify --json exited 0");
        assert_eq!(parse_json(&out)["ok"], false, "{what} manifest");

        // Nothing is restored from it either.
        let out = fx.sb.run(&["restore", &fx.name, "--yes"]);
        assert!(!out.status.success(), "{what} manifest: restore accepted: {}", describe(&out));
    }
    fs::write(&manifest, &original).unwrap();
    assert!(fx.verify().ok);
}

#[test]
fn cli_verify_exits_non_zero_and_lists_every_problem_path() {
    let fx = Fixture::new();
    let b = fx.backup();
    let flipped = "audio_files/drum_0100.wav";
    let truncated = "illugen_audio/note_010/attachments/clip 2.wav";
    let extra = "audio_files/stray.wav";
    flip_byte(&b.join(flipped), 50);
    fs::File::options().write(true).open(b.join(truncated)).unwrap().set_len(10).unwrap();
    fs::remove_file(b.join(ACCENTED_AUDIO)).unwrap();
    fs::write(b.join(extra), b"not from the source").unwrap();
    corrupt_page(&b.join(DB_NAME), 2);
    let expected: BTreeMap<&str, &str> = [
        (flipped, "changed"),
        (truncated, "size"),
        (ACCENTED_AUDIO, "missing"),
        (extra, "extra"),
        (DB_NAME, "corrupt"),
    ]
    .into();

    // The default (newest) backup.
    let out = fx.sb.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    for (path, kind) in &expected {
        assert!(
            text.lines().any(|l| l.contains(path) && l.contains(kind)),
            "no line names {path} as {kind}: {}",
            describe(&out)
        );
    }
    assert!(stderr(&out).contains("damaged"), "{}", describe(&out));

    let out = fx.sb.run(&["verify", &fx.name, "--json"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let doc = parse_json(&out);
    assert_eq!(doc["ok"], false);
    let listed: Vec<(String, String)> = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap().to_string(), p["problem"].as_str().unwrap().to_string()))
        .collect();
    for (path, kind) in &expected {
        assert!(listed.contains(&(path.to_string(), kind.to_string())), "{path} {kind} missing from {listed:?}");
    }
    assert!(listed.iter().all(|(p, _)| expected.contains_key(p.as_str())), "unexpected problems: {listed:?}");
}

/// Every entry under the app's folder items by digest, and its rows.
fn live_state(app: &SeedApp) -> (BTreeMap<String, String>, BTreeMap<String, String>, Vec<String>) {
    let conn = Connection::open(app.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut st = conn.prepare("SELECT id, prompt, score FROM test_results ORDER BY id").unwrap();
    let rows = st
        .query_map([], |r| Ok(format!("{}|{}|{}", r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, f64>(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    (tree_digest(&app.dir.join("audio_files")), tree_digest(&app.dir.join("illugen_audio")), rows)
}

/// Changes the live data so that a restore would have something to do.
fn change_live(app: &SeedApp) {
    app.conn.execute("DELETE FROM test_results WHERE id > 100", []).unwrap();
    fs::remove_file(app.dir.join("audio_files/drum_0003.wav")).unwrap();
    write_wav(&app.dir.join("audio_files/new.wav"), 1, 100);
    append(&app.dir.join(ACCENTED_FILE), b"more");
}

#[test]
fn restore_from_a_damaged_backup_is_refused_naming_the_problem_and_changes_nothing() {
    let fx = Fixture::new();
    let damaged = "audio_files/drum_0042.wav";
    flip_byte(&fx.backup().join(damaged), 60);
    change_live(&fx.app);
    // The restore needs that copy: the live file changed since.
    append(&fx.app.dir.join(damaged), b"changed since");
    let before = live_state(&fx.app);
    let dest_before = entries(&fx.dest);

    let err = fx.engine.restore(&fx.name, &NoProgress).expect_err("restore from a damaged backup");
    assert_eq!(err.kind().as_str(), "damaged", "{err}");
    assert!(err.to_string().contains(damaged), "{err}");
    assert_eq!(live_state(&fx.app), before, "the source changed");
    assert_eq!(entries(&fx.dest), dest_before, "the destination changed");

    let out = fx.sb.run(&["restore", &fx.name, "--yes"]);
    assert_clear_error(&out, &[damaged], &["damaged"]);
    assert_eq!(live_state(&fx.app), before, "the source changed");
    assert_eq!(entries(&fx.dest), dest_before, "the destination changed");
}

#[test]
fn cli_restore_from_a_damaged_backup_lists_every_problem() {
    let fx = Fixture::new();
    let b = fx.backup();
    let flipped = "illugen_audio/note_020/clip 1.wav";
    flip_byte(&b.join(flipped), 50);
    fs::remove_file(b.join(SPACED_AUDIO)).unwrap();
    corrupt_page(&b.join(DB_NAME), 2);
    change_live(&fx.app);
    // The restore needs every one of those copies: each live file changed or went.
    fs::remove_file(fx.app.dir.join(flipped)).unwrap();
    append(&fx.app.dir.join(SPACED_AUDIO), b"changed since");
    let before = live_state(&fx.app);

    let out = fx.sb.run(&["restore", &fx.name, "--yes"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    for path in [flipped, SPACED_AUDIO, DB_NAME] {
        assert!(all.contains(path), "the refusal does not list {path}: {}", describe(&out));
    }
    assert_eq!(live_state(&fx.app), before, "the source changed");
}

#[test]
fn a_damaged_copy_the_restore_does_not_need_does_not_stop_it() {
    // A file still the same live (size, mtime, ctime, inode as the backup recorded) is
    // not read from the backup, so damage to its copy cannot reach the live data.
    let fx = Fixture::new();
    let damaged = "audio_files/drum_0042.wav";
    let live_hash = blake3_file(&fx.app.dir.join(damaged));
    flip_byte(&fx.backup().join(damaged), 60);
    change_live(&fx.app);

    let report = fx.engine.restore(&fx.name, &NoProgress).expect("restore of what differs");
    assert!(report.files_restored > 0, "{report:?}");
    assert_eq!(blake3_file(&fx.app.dir.join(damaged)), live_hash, "the live file was replaced by the damaged copy");
    assert!(fx.app.dir.join("audio_files/drum_0003.wav").exists(), "the deleted file is back");
    assert!(!fx.app.dir.join("audio_files/new.wav").exists(), "the file added since is removed");
    // `verify` still reports the damage.
    let out = fx.sb.run(&["verify", &fx.name]);
    assert!(!out.status.success(), "verify passed a damaged backup: {}", describe(&out));
    assert!(stdout(&out).contains(damaged) || stderr(&out).contains(damaged), "{}", describe(&out));
}

#[test]
fn a_damaged_newest_backup_needs_attention_until_a_new_backup_is_made() {
    let fx = Fixture::new();
    let path = "audio_files/drum_0007.wav";
    assert_eq!(fx.engine.status(chrono::Utc::now()).unwrap().health, lifeboat::Health::Ok);

    flip_byte(&fx.backup().join(path), 10);
    assert!(!fx.verify().ok);
    let status = fx.engine.status(chrono::Utc::now()).unwrap();
    assert_eq!(status.health, lifeboat::Health::Damaged);
    let cause = status.last_error.expect("the damage is the status's error").message;
    assert!(cause.contains(&fx.name) && cause.contains(path), "{cause}");
    let shown = stdout(&fx.sb.run_ok(&["status"]));
    assert!(shown.contains("failed verify"), "{shown}");
    let runs = fx.engine.history().recent("DrumGen Scorer", 10).unwrap();
    assert_eq!((runs[0].action.as_str(), runs[0].outcome), ("verify", lifeboat::Outcome::Failed));

    // A new backup is whole: the damaged one is no longer the newest.
    std::thread::sleep(Duration::from_millis(1100));
    match fx.engine.backup(Trigger::Manual, &NoProgress).unwrap() {
        BackupOutcome::Created { backup } => assert_ne!(backup.name, fx.name),
        other => panic!("{other:?}"),
    }
    assert_eq!(fx.engine.status(chrono::Utc::now()).unwrap().health, lifeboat::Health::Ok);
    // Nothing was linked from the damaged backup: the new one is whole.
    let report = fx.engine.verify(None, &NoProgress).unwrap();
    assert!(report.ok, "the damage was carried into the new backup: {:?}", report.problems);
}
