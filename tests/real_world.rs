//! Issue 9: inputs from real machines that broke backups, driven through the real
//! `lifeboat` binary on real files, real SQLite and a real (faked) clock. Each test names
//! the rule it pins: ARCHITECTURE.md invariants 1, 3, 4, 5 and 5b, and issue 9's contract
//! (`ctime_ns`/`inode`/`dev`, `skipped`, `sequence`, `item_links`, escaped names, exit 3,
//! `health = partial`, `not_backed_up`, `clock_warning`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::real::*;
use common::*;
use rusqlite::Connection;

const MINUTE: Duration = Duration::from_secs(60);
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The app's data root, `<sandbox>/Studio`.
fn studio(sb: &Sandbox) -> PathBuf {
    let dir = sb.root().join("Studio");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `lifeboat backup`, killed if it takes over `limit`.
fn backup_within(sb: &Sandbox, limit: Duration) -> Output {
    let mut cmd = sb.cmd();
    cmd.arg("backup");
    run_within(cmd, limit, "lifeboat backup")
}

/// The one backup that `after` holds and `before` did not.
fn new_backup(before: &[String], dest: &Path) -> String {
    let new: Vec<String> = complete_backups(dest).into_iter().filter(|n| !before.contains(n)).collect();
    assert_eq!(new.len(), 1, "one new backup expected; before {before:?}, now {:?}", complete_backups(dest));
    new[0].clone()
}

fn started_at(backup: &Path) -> chrono::DateTime<chrono::FixedOffset> {
    let m = read_manifest(backup);
    chrono::DateTime::parse_from_rfc3339(m["started_at"].as_str().expect("started_at")).unwrap()
}

fn status_json(sb: &Sandbox) -> serde_json::Value {
    parse_json(&sb.run_ok(&["status", "--json"]))
}

/// `skipped` entries of `kind`, when the manifest has the array at all.
fn skipped_of_kind(manifest: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    manifest["skipped"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["kind"].as_str() == Some(kind)).cloned().collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// 1. Same size, same mtime, new content: never hard-linked from the previous backup.
// ---------------------------------------------------------------------------------------

#[test]
fn same_size_and_mtime_with_new_content_is_copied_not_linked() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    fs::create_dir_all(src.join("assets")).unwrap();
    let wav = src.join("assets/a.wav");
    fs::write(&wav, "take one").unwrap();
    fs::write(src.join("assets/b.wav"), "left alone").unwrap();
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["assets"], &["--keep", "5"]);
    let first = dest.join(sb.backup_ok(&dest));

    // Rewritten in place with bytes of the same length, then the old mtime set back, as
    // a sample editor or a sync tool does.
    let before = fs::metadata(&wav).unwrap();
    fs::write(&wav, "TAKE TWO").unwrap();
    set_mtime(&wav, before.modified().unwrap());
    let after = fs::metadata(&wav).unwrap();
    assert_eq!(
        (after.len(), after.ino(), after.mtime(), after.mtime_nsec()),
        (before.len(), before.ino(), before.mtime(), before.mtime_nsec()),
        "the edit must look unchanged by size, inode and mtime"
    );
    assert_ne!(ctime_ns(&after), ctime_ns(&before), "the ctime moves on");

    let second = dest.join(sb.backup_ok(&dest));
    assert_eq!(
        String::from_utf8_lossy(&fs::read(second.join("assets/a.wav")).unwrap()),
        "TAKE TWO",
        "the second backup holds the old take"
    );
    let m = manifest_entries(&read_manifest(&second));
    let a = &m["assets/a.wav"];
    assert_eq!(a["stored"].as_str(), Some("copied"), "assets/a.wav changed but was not copied: {a}");
    assert_eq!(a["blake3"].as_str(), Some(blake3_file(&wav).as_str()));
    assert_ne!(inode(&first.join("assets/a.wav")), inode(&second.join("assets/a.wav")), "still a hard link");
    assert_eq!(fs::read(first.join("assets/a.wav")).unwrap(), b"take one", "the older backup keeps its bytes");
    // What the next comparison needs is recorded: ctime, inode and device of the source.
    assert_eq!(a["ctime_ns"].as_i64().map(i128::from), Some(ctime_ns(&after)), "ctime_ns: {a}");
    assert_eq!(a["inode"].as_u64(), Some(after.ino()), "inode: {a}");
    assert_eq!(a["dev"].as_u64(), Some(after.dev()), "dev: {a}");
    // A file nobody touched is still linked.
    assert_eq!(m["assets/b.wav"]["stored"].as_str(), Some("linked"));
    sb.run_ok(&["verify"]);
    assert!(sequence(&second) > sequence(&first), "sequence must increase");
}

#[test]
fn in_place_rewrites_and_renamed_replacements_keeping_the_old_mtime_are_copied() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    let assets = src.join("assets");
    fs::create_dir_all(&assets).unwrap();
    for (name, content) in [("x.wav", "xxxx old"), ("y.wav", "yyyy same"), ("z.wav", "zzzz old")] {
        fs::write(assets.join(name), content).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["assets"], &["--keep", "5"]);
    sb.backup_ok(&dest);
    let old = |name: &str| fs::metadata(assets.join(name)).unwrap();
    let (x, y, z) = (old("x.wav"), old("y.wav"), old("z.wav"));

    // x: truncated and rewritten in place (same inode) with new bytes of the same length.
    {
        let mut f = fs::OpenOptions::new().write(true).truncate(true).open(assets.join("x.wav")).unwrap();
        f.write_all(b"XXXX new").unwrap();
    }
    set_mtime(&assets.join("x.wav"), x.modified().unwrap());
    assert_eq!(inode(&assets.join("x.wav")), x.ino());
    // y: the same bytes written again in place.
    fs::write(assets.join("y.wav"), "yyyy same").unwrap();
    set_mtime(&assets.join("y.wav"), y.modified().unwrap());
    // z: replaced by a rename, as editors save (new inode), with the old mtime.
    let tmp = assets.join(".z.wav.saving");
    fs::write(&tmp, "ZZZZ new").unwrap();
    set_mtime(&tmp, z.modified().unwrap());
    fs::rename(&tmp, assets.join("z.wav")).unwrap();
    let z_now = old("z.wav");
    assert_ne!(z_now.ino(), z.ino(), "a rename gives a new inode");
    assert_eq!((z_now.len(), z_now.modified().unwrap()), (z.len(), z.modified().unwrap()));

    let b = dest.join(sb.backup_ok(&dest));
    for (name, want) in [("x.wav", "XXXX new"), ("y.wav", "yyyy same"), ("z.wav", "ZZZZ new")] {
        assert_eq!(String::from_utf8_lossy(&fs::read(b.join("assets").join(name)).unwrap()), want, "assets/{name}");
    }
    let m = manifest_entries(&read_manifest(&b));
    for rel in ["assets/x.wav", "assets/z.wav"] {
        assert_eq!(m[rel]["stored"].as_str(), Some("copied"), "{rel} changed but was not copied: {}", m[rel]);
    }
    assert_eq!(m["assets/z.wav"]["inode"].as_u64(), Some(z_now.ino()), "{}", m["assets/z.wav"]);
    assert_backup_hashes(&b, &mut Default::default());
    sb.run_ok(&["verify"]);
}

// ---------------------------------------------------------------------------------------
// 2. Entries that vanish while the backup runs are deletions, not failures.
// ---------------------------------------------------------------------------------------

/// Runs `lifeboat backup` while `mutate` runs on another thread, from the moment the
/// run's staging folder appears (or 100 ms after the start, whichever comes first) until
/// it has done everything or the run has ended. `mutate` gets a "stop" flag to check
/// between steps; its result is returned.
fn backup_while<T: Send + 'static>(
    sb: &Sandbox,
    dest: &Path,
    mutate: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> (Output, T) {
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        let dest = dest.to_path_buf();
        std::thread::spawn(move || {
            wait_for(Duration::from_millis(100), || stop.load(Ordering::Relaxed) || staging_exists(&dest));
            mutate(&stop)
        })
    };
    let out = backup_within(sb, 2 * MINUTE);
    stop.store(true, Ordering::Relaxed);
    (out, worker.join().unwrap())
}

#[test]
fn files_vanishing_during_the_run_are_deletions_not_failures() {
    const FILES: usize = 4000;
    let sb = Sandbox::new();
    let src = studio(&sb);
    let drops = src.join("drops");
    fs::create_dir_all(&drops).unwrap();
    let name = |i: usize| format!("drop_{i:04}.wav");
    let content = |i: usize| pseudo_random(i as u64 + 1, 600 + i % 400);
    for i in 0..FILES {
        fs::write(drops.join(name(i)), content(i)).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["drops"], &[]);

    let mut order: Vec<usize> = (0..FILES).collect();
    Rng::seeded("vanishing files").shuffle(&mut order);
    let folder = drops.clone();
    let (out, deleted) = backup_while(&sb, &dest, move |stop| {
        let mut deleted = Vec::new();
        for i in order {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            fs::remove_file(folder.join(name(i))).unwrap();
            deleted.push(i);
        }
        deleted
    });
    let deleted: HashSet<usize> = deleted.into_iter().collect();
    eprintln!("{} of {FILES} files deleted while the backup ran", deleted.len());

    assert_eq!(out.status.code(), Some(0), "a vanished file is a deletion, not a failure: {}", describe(&out));
    let names = complete_backups(&dest);
    assert_eq!(names.len(), 1, "{names:?}");
    let b = dest.join(&names[0]);
    assert_backup_hashes(&b, &mut Default::default());
    // Only files that existed, with the bytes they had...
    let mut held = 0;
    for entry in fs::read_dir(b.join("drops")).unwrap() {
        let entry = entry.unwrap();
        let n = entry.file_name().to_string_lossy().into_owned();
        let i: usize = n
            .strip_prefix("drop_")
            .and_then(|r| r.strip_suffix(".wav"))
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("the backup holds {n:?}, never in the source"));
        assert_eq!(fs::read(entry.path()).unwrap(), content(i), "{n}");
        held += 1;
    }
    // ...and every file that was never deleted.
    for i in (0..FILES).filter(|i| !deleted.contains(i)) {
        assert!(b.join("drops").join(name(i)).is_file(), "{} was there all along but is not in the backup", name(i));
    }
    eprintln!("the backup holds {held} files");
    let m = read_manifest(&b);
    assert_eq!(skipped_of_kind(&m, "unreadable"), Vec::<serde_json::Value>::new(), "vanished is not unreadable");
    sb.run_ok(&["verify"]);
    assert_eq!(status_json(&sb)["health"].as_str(), Some("ok"));
}

#[test]
fn a_folder_vanishing_and_files_turning_into_folders_mid_run() {
    const FOLDERS: usize = 40;
    const PER_FOLDER: usize = 50;
    const RENDERS: usize = 1000;
    let sb = Sandbox::new();
    let src = studio(&sb);
    let clip = |f: usize, k: usize| format!("sessions/s_{f:02}/clip_{k:02}.wav");
    let clip_bytes = |f: usize, k: usize| pseudo_random((f * 1000 + k) as u64 + 7, 500 + k * 3);
    let render = |r: usize| format!("renders/r_{r:04}.wav");
    let render_bytes = |r: usize| pseudo_random(r as u64 + 900_000, 300 + r % 200);
    let inner_bytes = |r: usize| format!("now a folder {r}").into_bytes();
    for f in 0..FOLDERS {
        fs::create_dir_all(src.join(format!("sessions/s_{f:02}"))).unwrap();
        for k in 0..PER_FOLDER {
            fs::write(src.join(clip(f, k)), clip_bytes(f, k)).unwrap();
        }
    }
    fs::create_dir_all(src.join("renders")).unwrap();
    for r in 0..RENDERS {
        fs::write(src.join(render(r)), render_bytes(r)).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["sessions", "renders"], &[]);

    #[derive(Clone, Copy)]
    enum Op {
        RemoveFolder(usize),
        FileToFolder(usize),
    }
    let mut ops: Vec<Op> = (0..FOLDERS).map(Op::RemoveFolder).chain((0..RENDERS).map(Op::FileToFolder)).collect();
    Rng::seeded("vanishing folders").shuffle(&mut ops);
    let root = src.clone();
    let scratch = sb.root().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let (out, (removed, turned)) = backup_while(&sb, &dest, move |stop| {
        let (mut removed, mut turned) = (HashSet::new(), HashSet::new());
        for op in ops {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match op {
                Op::RemoveFolder(f) => {
                    removed.insert(f);
                    fs::remove_dir_all(root.join(format!("sessions/s_{f:02}"))).unwrap();
                }
                Op::FileToFolder(r) => {
                    turned.insert(r);
                    let p = root.join(render(r));
                    // The new folder's file appears whole (written aside, renamed in).
                    let aside = scratch.join(format!("inner {r}"));
                    fs::write(&aside, inner_bytes(r)).unwrap();
                    fs::remove_file(&p).unwrap();
                    fs::create_dir(&p).unwrap();
                    fs::rename(&aside, p.join("inner.wav")).unwrap();
                }
            }
        }
        (removed, turned)
    });
    eprintln!("{} folders removed, {} files turned into folders while the backup ran", removed.len(), turned.len());

    assert_eq!(out.status.code(), Some(0), "vanished entries are deletions, not failures: {}", describe(&out));
    let names = complete_backups(&dest);
    assert_eq!(names.len(), 1, "{names:?}");
    let b = dest.join(&names[0]);
    assert_backup_hashes(&b, &mut Default::default());
    sb.run_ok(&["verify"]);
    let m = read_manifest(&b);
    assert_eq!(skipped_of_kind(&m, "unreadable"), Vec::<serde_json::Value>::new(), "vanished is not unreadable");

    // Sessions: only clips that existed, with their bytes; untouched folders whole.
    for f in 0..FOLDERS {
        for k in 0..PER_FOLDER {
            let p = b.join(clip(f, k));
            if p.exists() {
                assert_eq!(fs::read(&p).unwrap(), clip_bytes(f, k), "{}", clip(f, k));
            } else {
                assert!(removed.contains(&f), "{} was there all along but is not in the backup", clip(f, k));
            }
        }
    }
    // Renders: each is the old file with its bytes, or (once turned) the new folder.
    for r in 0..RENDERS {
        let p = b.join(render(r));
        match fs::symlink_metadata(&p) {
            Ok(meta) if meta.is_file() => assert_eq!(fs::read(&p).unwrap(), render_bytes(r), "{}", render(r)),
            Ok(meta) if meta.is_dir() => {
                assert!(turned.contains(&r), "{} was never a folder", render(r));
                for inner in fs::read_dir(&p).unwrap() {
                    let inner = inner.unwrap();
                    assert_eq!(inner.file_name(), "inner.wav");
                    assert_eq!(fs::read(inner.path()).unwrap(), inner_bytes(r));
                }
            }
            Ok(_) => panic!("{} is neither a file nor a folder in the backup", render(r)),
            Err(_) => assert!(turned.contains(&r), "{} was there all along but is not in the backup", render(r)),
        }
    }
    for entry in fs::read_dir(b.join("renders")).unwrap() {
        let n = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(n.starts_with("r_") && n.ends_with(".wav"), "the backup holds renders/{n}, never in the source");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Any name the OS allows round-trips byte for byte.
// ---------------------------------------------------------------------------------------

#[test]
fn names_that_are_not_utf8_round_trip_byte_for_byte() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    let audio = src.join("audio_files");
    fs::create_dir_all(raw(&src, b"audio_files/d\xfcr")).unwrap();
    // (name bytes, content, the manifest's escaped form)
    let files: [(&[u8], &[u8], &str); 5] = [
        (b"audio_files/caf\xe9.wav", b"a Latin-1 cafe", r"audio_files/caf\xe9.wav"),
        (b"audio_files/d\xfcr/take.wav", b"in a Latin-1 folder", r"audio_files/d\xfcr/take.wav"),
        (b"audio_files/a\\b.wav", b"a backslash", r"audio_files/a\\b.wav"),
        (b"audio_files/caf\\xe9.txt", b"looks escaped, is not", r"audio_files/caf\\xe9.txt"),
        (b"audio_files/half \xe2\x82.wav", b"a cut euro sign", r"audio_files/half \xe2\x82.wav"),
    ];
    for (rel, content, shown) in &files {
        fs::write(raw(&src, rel), content).unwrap();
        assert_eq!(escape_path(rel), *shown, "the test's own reading of the contract");
        assert_eq!(unescape_path(shown).as_deref(), Some(*rel));
    }
    write_wav(&audio.join("plain.wav"), 1, 300);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &[]);
    let name = sb.backup_ok(&dest);
    let b = dest.join(&name);

    // Every name under its exact bytes, every content intact.
    assert_eq!(tree_raw(&b.join("audio_files")), tree_raw(&audio));
    // The manifest is valid JSON (read_manifest parses it) and writes the escaped form.
    let text = fs::read_to_string(b.join("manifest.json")).expect("manifest.json is UTF-8");
    assert!(text.contains(r#""audio_files/caf\\xe9.wav""#), "no \"audio_files/caf\\\\xe9.wav\" in manifest.json");
    let m = manifest_entries(&read_manifest(&b));
    let listed: Vec<&String> = m.keys().filter(|k| k.starts_with("audio_files/")).collect();
    for (_, content, shown) in &files {
        let e = m.get(*shown).unwrap_or_else(|| panic!("{shown:?} is not in the manifest, which lists {listed:?}"));
        assert_eq!(e["blake3"].as_str(), Some(blake3::hash(content).to_hex().as_str()), "{shown}");
    }
    assert_eq!(m[r"audio_files/d\xfcr"]["kind"].as_str(), Some("dir"));
    assert_backup_matches_manifest(&b);
    sb.run_ok(&["verify"]);

    // Restore brings deleted ones back under the same bytes, and nothing else.
    let live_before = tree_raw(&audio);
    fs::remove_file(raw(&src, files[0].0)).unwrap();
    fs::remove_dir_all(raw(&src, b"audio_files/d\xfcr")).unwrap();
    fs::remove_file(raw(&src, files[2].0)).unwrap();
    sb.run_ok(&["restore", &name, "--yes"]);
    assert_eq!(tree_raw(&audio), live_before);
}

// ---------------------------------------------------------------------------------------
// 4. SQLite: a crashed writer's hot journal; a WAL database in a read-only folder.
// ---------------------------------------------------------------------------------------

const TAKES: i64 = 2000;

/// A rollback-journal (`journal_mode=DELETE`) database with [`TAKES`] committed rows.
fn create_rollback_db(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "delete");
    conn.execute_batch(&format!(
        "CREATE TABLE takes(id INTEGER PRIMARY KEY, take TEXT NOT NULL, pad TEXT NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {TAKES})
         INSERT INTO takes(id, take, pad) SELECT i, 'original take ' || i, printf('%0200d', i) FROM n;"
    ))
    .unwrap();
    conn.close().unwrap();
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

const ORIGINAL_ROWS: &str = "SELECT count(*) FROM takes WHERE take = 'original take ' || id";

#[test]
fn a_crashed_writers_hot_journal_is_rolled_back_in_the_copy_never_in_the_source() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    let db = src.join("drumgen.db");
    let journal = src.join("drumgen.db-journal");
    create_rollback_db(&db);
    fs::create_dir_all(src.join("audio_files")).unwrap();
    write_wav(&src.join("audio_files/kick.wav"), 1, 800);
    let committed = blake3_file(&db);

    // A writer with a one-page cache updates every row, so SQLite spills uncommitted
    // pages into the database file; it is killed before COMMIT: a hot journal remains.
    crash_sqlite_writer(
        &db,
        "PRAGMA cache_size=1;\nBEGIN;\nUPDATE takes SET take = 'uncommitted ' || id, pad = printf('%0200d', id + 1);",
        &sb.root().join("writer"),
    );
    let journal_len = fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    assert!(journal_len > 0, "no hot journal was left");
    assert_ne!(blake3_file(&db), committed, "the writer did not spill into the database file");
    // The committed state is what SQLite rolls back to (checked on copies; the source
    // must stay as the crash left it).
    {
        let scratch = tempfile::tempdir().unwrap();
        fs::copy(&db, scratch.path().join("x.db")).unwrap();
        fs::copy(&journal, scratch.path().join("x.db-journal")).unwrap();
        let conn = Connection::open(scratch.path().join("x.db")).unwrap();
        assert_eq!(count(&conn, ORIGINAL_ROWS), TAKES, "the hot journal does not roll back to the committed rows");
    }
    let source_before = tree_digest(&src);

    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["drumgen.db", "audio_files"], &[]);
    let b = dest.join(sb.backup_ok(&dest));

    // The copy holds the committed rows, as they were before the crashed transaction.
    let copy = b.join("drumgen.db");
    assert_eq!(file_integrity(&copy), "ok");
    assert_eq!(file_row_count(&copy, "takes"), TAKES);
    assert_eq!(with_file_copy(&copy, |c| count(c, ORIGINAL_ROWS)), TAKES, "uncommitted values in the backup");
    for entry in walkdir::WalkDir::new(&b) {
        let n = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!(n.ends_with("-journal") || n.ends_with("-wal") || n.ends_with("-shm")), "{n} copied");
    }
    let m = read_manifest(&b);
    let dbs = m["databases"].as_array().expect("databases");
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    assert_eq!(dbs[0]["integrity"].as_str(), Some("ok"));
    // Lifeboat never writes into the source: the database and its hot journal are as
    // the crash left them, and nothing was added beside them.
    assert_eq!(tree_digest(&src), source_before, "the source changed");
    assert_eq!(fs::metadata(&journal).unwrap().len(), journal_len);
    sb.run_ok(&["verify"]);
}

#[test]
fn a_wal_database_in_a_read_only_folder_is_backed_up_whole_or_named() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    fs::create_dir_all(src.join("audio_files")).unwrap();
    write_wav(&src.join("audio_files/kick.wav"), 1, 800);
    // A WAL database whose writer crashed: every row is still only in its -wal.
    let card = sb.root().join("card/notes");
    fs::create_dir_all(&card).unwrap();
    crash_sqlite_writer(
        &card.join("notes.db"),
        "PRAGMA journal_mode=WAL;\nPRAGMA wal_autocheckpoint=0;\n\
         CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n\
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)\n\
         INSERT INTO notes(body) SELECT 'note ' || i FROM n;\n\
         BEGIN;\nINSERT INTO notes(body) VALUES ('never committed');",
        &sb.root().join("writer"),
    );
    assert!(fs::metadata(card.join("notes.db-wal")).unwrap().len() > 0, "the rows should be in the -wal");

    // The folder is read-only to Lifeboat: a read-only bind mount as root (modes do not
    // stop root), mode 0555 otherwise.
    let notes = src.join("notes");
    let _read_only: Option<Mount> = if is_root() {
        match bind_read_only(&card, &notes) {
            Ok(m) => Some(m),
            Err(why) => {
                eprintln!("skipped: cannot bind-mount a folder read-only here: {why}");
                return;
            }
        }
    } else {
        fs::rename(&card, &notes).unwrap();
        fs::set_permissions(&notes, fs::Permissions::from_mode(0o555)).unwrap();
        None
    };
    assert!(fs::write(notes.join("probe"), "x").is_err(), "{} should be read-only", notes.display());
    let before = tree_digest(&notes);

    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["notes", "audio_files"], &[]);
    let out = backup_within(&sb, 2 * MINUTE);
    if out.status.success() {
        let names = complete_backups(&dest);
        assert_eq!(names.len(), 1, "{names:?}");
        let copy = dest.join(&names[0]).join("notes/notes.db");
        assert_eq!(file_integrity(&copy), "ok");
        assert_eq!(file_row_count(&copy, "notes"), 500, "committed rows in the -wal are missing");
        for companion in ["notes.db-wal", "notes.db-shm"] {
            assert!(!dest.join(&names[0]).join("notes").join(companion).exists(), "{companion} copied");
        }
        sb.run_ok(&["verify"]);
        eprintln!("the read-only WAL database was backed up with its 500 committed rows");
    } else {
        assert_clear_error(
            &out,
            &["notes.db"],
            &["read-only", "read only", "readonly", "write", "permission", "lock", "open", "wal", "shm"],
        );
        assert_nothing_written(&dest);
    }
    assert_eq!(tree_digest(&notes), before, "the source changed");
    if !is_root() {
        fs::set_permissions(&notes, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// 5. Symlinks: an included item that is a link is backed up as what it points to.
// ---------------------------------------------------------------------------------------

#[test]
fn an_included_folder_that_is_a_symlink_is_backed_up_as_its_files() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    // The audio folder moved to another drive; a link was left in its place.
    let moved = sb.root().join("other drive/audio_files");
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(app.dir.join("audio_files"), &moved).unwrap();
    let link = app.dir.join("audio_files");
    std::os::unix::fs::symlink(&moved, &link).unwrap();
    // Links inside it stay links; one that loops is never walked.
    std::os::unix::fs::symlink("drum_0001.wav", moved.join("latest.wav")).unwrap();
    std::os::unix::fs::symlink("..", moved.join("up")).unwrap();
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);

    let name = sb.backup_ok(&dest);
    let b = dest.join(&name);
    let meta = fs::symlink_metadata(b.join("audio_files")).unwrap();
    assert!(meta.is_dir(), "audio_files should be a real folder in the backup, not a link");
    assert_eq!(tree_digest(&b.join("audio_files")), tree_digest(&moved), "the backup should hold the real files");
    for (rel, target) in [("audio_files/latest.wav", "drum_0001.wav"), ("audio_files/up", "..")] {
        assert!(fs::symlink_metadata(b.join(rel)).unwrap().file_type().is_symlink(), "{rel} should stay a link");
        assert_eq!(fs::read_link(b.join(rel)).unwrap(), Path::new(target));
    }
    let info = fs::read_to_string(b.join("backup_info.txt")).unwrap();
    assert!(info.contains(moved.to_str().unwrap()), "backup_info.txt does not say where audio_files points:\n{info}");
    let m = read_manifest(&b);
    assert_eq!(
        m["item_links"]["audio_files"].as_str(),
        Some(moved.to_str().unwrap()),
        "item_links: {}",
        m["item_links"]
    );
    sb.run_ok(&["verify"]);

    // A file deleted from the target comes back into the target; the link stays a link.
    let before = tree_digest(&moved);
    fs::remove_file(moved.join("drum_0005.wav")).unwrap();
    sb.run_ok(&["restore", &name, "--yes"]);
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "restore replaced the link");
    assert_eq!(fs::read_link(&link).unwrap(), moved);
    assert!(fs::symlink_metadata(&moved).unwrap().is_dir());
    assert_eq!(tree_digest(&moved), before, "the target folder was not restored");
}

#[test]
fn an_included_file_that_is_a_symlink_is_backed_up_as_its_content() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    let shared = sb.root().join("Shared");
    fs::create_dir_all(&shared).unwrap();
    let target = shared.join("settings.json");
    fs::write(&target, r#"{"bpm": 128, "swing": 0.56}"#).unwrap();
    let link = src.join("settings.json");
    std::os::unix::fs::symlink("../Shared/settings.json", &link).unwrap();
    fs::create_dir_all(src.join("audio_files")).unwrap();
    write_wav(&src.join("audio_files/kick.wav"), 1, 800);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["settings.json", "audio_files"], &[]);

    let name = sb.backup_ok(&dest);
    let b = dest.join(&name);
    let meta = fs::symlink_metadata(b.join("settings.json")).unwrap();
    assert!(meta.is_file(), "settings.json should be stored as its content, not as a link");
    assert_eq!(fs::read(b.join("settings.json")).unwrap(), fs::read(&target).unwrap());
    // Where it points, as written in the link or resolved: either is a fair record.
    let written = m_item_link(&b, "settings.json");
    assert_eq!(
        fs::canonicalize(src.join(&written)).ok(),
        Some(fs::canonicalize(&target).unwrap()),
        "item_links[settings.json] = {written:?} is not where the link points"
    );
    let info = fs::read_to_string(b.join("backup_info.txt")).unwrap();
    assert!(info.contains(&written), "backup_info.txt does not say where settings.json points:\n{info}");
    sb.run_ok(&["verify"]);

    // Restore writes the content back through the link into the target.
    let original = fs::read(&target).unwrap();
    fs::write(&target, r#"{"bpm": 90}"#).unwrap();
    sb.run_ok(&["restore", &name, "--yes"]);
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "restore replaced the link");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("../Shared/settings.json"));
    assert_eq!(fs::read(&target).unwrap(), original, "the target file was not restored");
}

/// `item_links[item]` of a backup's manifest.
fn m_item_link(backup: &Path, item: &str) -> String {
    let m = read_manifest(backup);
    m["item_links"][item]
        .as_str()
        .unwrap_or_else(|| panic!("no item_links[{item:?}] in the manifest: item_links = {}", m["item_links"]))
        .to_string()
}

#[test]
fn symlinks_inside_an_item_stay_links_and_a_loop_is_not_followed() {
    let sb = Sandbox::new();
    let src = studio(&sb);
    let a = src.join("library/a");
    fs::create_dir_all(&a).unwrap();
    write_wav(&a.join("song.wav"), 3, 900);
    for (name, target) in [("latest.wav", "song.wav"), ("loop", ".."), ("self", "."), ("gone.wav", "missing.wav")] {
        std::os::unix::fs::symlink(target, a.join(name)).unwrap();
    }
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["library"], &[]);

    let out = backup_within(&sb, MINUTE);
    assert!(out.status.success(), "{}", describe(&out));
    let b = dest.join(&complete_backups(&dest)[0]);
    assert_eq!(tree_digest(&b.join("library")), tree_digest(&src.join("library")));
    let m = manifest_entries(&read_manifest(&b));
    for link in ["library/a/loop", "library/a/self", "library/a/latest.wav", "library/a/gone.wav"] {
        assert_eq!(m[link]["kind"].as_str(), Some("symlink"), "{link}: {}", m[link]);
    }
    let through: Vec<&String> =
        m.keys().filter(|k| k.starts_with("library/a/loop/") || k.starts_with("library/a/self/")).collect();
    assert!(through.is_empty(), "a looping link was followed: {through:?}");
    sb.run_ok(&["verify"]);
}

// ---------------------------------------------------------------------------------------
// 6. A wrong clock: order and rotation by the recorded sequence, and a warning.
// ---------------------------------------------------------------------------------------

/// A small source with one item.
fn small_source(sb: &Sandbox) -> PathBuf {
    let src = studio(sb);
    fs::create_dir_all(src.join("audio_files")).unwrap();
    for i in 0..5 {
        write_wav(&src.join(format!("audio_files/take_{i}.wav")), i, 400);
    }
    src
}

const IN_2031: &str = "@2031-06-01 12:00:00";

#[test]
fn a_backup_dated_2031_by_a_wrong_clock_is_the_one_rotated_away() {
    if !have_faketime("a_backup_dated_2031_by_a_wrong_clock_is_the_one_rotated_away") {
        return;
    }
    let sb = Sandbox::new();
    let src = small_source(&sb);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &["--keep", "2", "--every-hours", "12"]);

    let out = run_faketime(&sb, IN_2031, &["backup"]);
    assert!(out.status.success(), "backup with the clock in 2031: {}", describe(&out));
    let future = new_backup(&[], &dest);
    let future_manifest = read_manifest(&dest.join(&future));
    assert!(
        future_manifest["started_at"].as_str().unwrap_or("").starts_with("2031-"),
        "faketime did not reach lifeboat: started_at {}",
        future_manifest["started_at"]
    );

    let older = sb.backup_ok(&dest);
    let newer = sb.backup_ok(&dest);
    let mut expected = vec![older.clone(), newer.clone()];
    expected.sort();
    assert_eq!(complete_backups(&dest), expected, "the 2031 backup ({future}) should be the one rotated away");

    let seq_future = future_manifest["sequence"].as_u64().expect("the 2031 backup's sequence");
    assert!(seq_future < sequence(&dest.join(&older)) && sequence(&dest.join(&older)) < sequence(&dest.join(&newer)));

    let status = status_json(&sb);
    assert_eq!(status["last_backup"]["name"].as_str(), Some(newer.as_str()), "{status}");
    let due = status["next_due"].as_str().unwrap_or_else(|| panic!("no next_due: {status}"));
    let due = chrono::DateTime::parse_from_rfc3339(due).unwrap();
    let off = (due - started_at(&dest.join(&newer)) - chrono::Duration::hours(12)).num_seconds().abs();
    assert!(off <= 1, "next_due {due} is not 12 h after the newest present-day backup");
    assert_eq!(status.get("clock_warning"), Some(&serde_json::Value::Null), "no backup is in the future now: {status}");
}

#[test]
fn status_warns_when_the_newest_backup_is_dated_in_the_future() {
    if !have_faketime("status_warns_when_the_newest_backup_is_dated_in_the_future") {
        return;
    }
    let sb = Sandbox::new();
    let src = small_source(&sb);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &[]);
    let out = run_faketime(&sb, IN_2031, &["backup"]);
    assert!(out.status.success(), "backup with the clock in 2031: {}", describe(&out));

    let status = status_json(&sb);
    let warning = status["clock_warning"].as_str().unwrap_or_else(|| panic!("no clock_warning: {status}"));
    assert!(!warning.trim().is_empty(), "{status}");
    let text = stdout(&sb.run_ok(&["status"]));
    assert!(text.to_lowercase().contains("clock"), "`lifeboat status` does not warn about the clock:\n{text}");
}

#[test]
fn a_clock_moved_back_an_hour_keeps_both_backups_in_recorded_order() {
    if !have_faketime("a_clock_moved_back_an_hour_keeps_both_backups_in_recorded_order") {
        return;
    }
    let sb = Sandbox::new();
    let src = small_source(&sb);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &["--keep", "2"]);
    let first = sb.backup_ok(&dest);
    // The clock goes back an hour (DST ends, or a sync corrects it).
    let before = complete_backups(&dest);
    let out = run_faketime(&sb, "-1h", &["backup"]);
    assert!(out.status.success(), "backup with the clock an hour back: {}", describe(&out));
    let second = new_backup(&before, &dest);
    assert!(started_at(&dest.join(&second)) < started_at(&dest.join(&first)), "faketime did not reach lifeboat");

    assert_eq!(complete_backups(&dest).len(), 2, "both are kept");
    assert!(sequence(&dest.join(&second)) > sequence(&dest.join(&first)));
    let listed = json_backup_list(&parse_json(&sb.run_ok(&["list", "--json"])));
    let names: Vec<&str> = listed.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, [second.as_str(), first.as_str()], "newest first, by the recorded sequence");
    assert_eq!(status_json(&sb)["last_backup"]["name"].as_str(), Some(second.as_str()));

    // The next backup rotates away the first one made, not the one that looks oldest.
    let third = sb.backup_ok(&dest);
    let mut expected = vec![second, third];
    expected.sort();
    assert_eq!(complete_backups(&dest), expected, "{first} (the first made) should be rotated away");
}

// ---------------------------------------------------------------------------------------
// Partial backups, special files, rotation around partial backups.
// ---------------------------------------------------------------------------------------

/// `audio_files/` with `plain` readable takes and `locked` files nobody may read
/// (mode 0000; the runs go through [`run_unprivileged`], so this bites as root too).
fn source_with_locked_files(sb: &Sandbox, plain: usize, locked: usize) -> (PathBuf, Vec<String>) {
    let src = studio(sb);
    let audio = src.join("audio_files");
    fs::create_dir_all(&audio).unwrap();
    for i in 0..plain {
        write_wav(&audio.join(format!("take_{i:02}.wav")), i as u64, 500 + i * 10);
    }
    let locked: Vec<String> = (0..locked).map(|i| format!("audio_files/locked_{i:02}.wav")).collect();
    for (i, rel) in locked.iter().enumerate() {
        write_wav(&src.join(rel), 100 + i as u64, 300);
    }
    (src, locked)
}

fn lock_files(src: &Path, rels: &[String]) {
    for rel in rels {
        fs::set_permissions(src.join(rel), fs::Permissions::from_mode(0o000)).unwrap();
    }
}

#[test]
fn unreadable_files_make_a_partial_backup_that_names_every_one() {
    let sb = Sandbox::new();
    let (src, locked) = source_with_locked_files(&sb, 40, 25);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &[]);
    hand_over(&sb);
    lock_files(&src, &locked);

    let out = run_unprivileged(&sb, &["backup"]);
    assert_eq!(out.status.code(), Some(3), "a partial backup exits 3: {}", describe(&out));
    let text = all_output(&out);
    let file_name = |rel: &String| rel.rsplit('/').next().unwrap().to_string();
    let named = locked.iter().filter(|rel| text.contains(&file_name(rel))).count();
    assert!(named >= 20, "only {named} of the 25 unreadable files are named:\n{text}");
    assert!(text.to_lowercase().contains("and 5 more"), "no \"and 5 more\" after the first 20:\n{text}");

    let names = complete_backups(&dest);
    assert_eq!(names.len(), 1, "the partial backup is published: {names:?}");
    let b = dest.join(&names[0]);
    let m = read_manifest(&b);
    let sk = skipped(&m);
    let mut paths: Vec<String> = sk.iter().map(|s| s["path"].as_str().unwrap_or("?").to_string()).collect();
    paths.sort();
    assert_eq!(paths, locked, "skipped: {sk:?}");
    for s in &sk {
        assert_eq!(s["kind"].as_str(), Some("unreadable"), "{s}");
        assert!(s["reason"].as_str().is_some_and(|r| !r.trim().is_empty()), "no reason: {s}");
    }
    let info = fs::read_to_string(b.join("backup_info.txt")).unwrap();
    for rel in &locked {
        assert!(info.contains(&file_name(rel)), "backup_info.txt does not list {rel}:\n{info}");
    }
    // The rest is backed up and verifies.
    for i in 0..40 {
        let rel = format!("audio_files/take_{i:02}.wav");
        assert_eq!(blake3_file(&b.join(&rel)), blake3_file(&src.join(&rel)), "{rel}");
    }
    for rel in &locked {
        assert!(!b.join(rel).exists(), "{rel} is in the backup");
    }
    assert_backup_hashes(&b, &mut Default::default());
    let verify = run_unprivileged(&sb, &["verify"]);
    assert!(verify.status.success(), "verify of a partial backup: {}", describe(&verify));

    let status = parse_json(&run_unprivileged(&sb, &["status", "--json"]));
    assert_eq!(status["health"].as_str(), Some("partial"), "{status}");
    let missing: Vec<String> = status["not_backed_up"]
        .as_array()
        .unwrap_or_else(|| panic!("no not_backed_up array: {status}"))
        .iter()
        .map(|p| p.as_str().unwrap_or("").to_string())
        .collect();
    for rel in &locked {
        assert!(missing.iter().any(|p| p.ends_with(rel.as_str())), "not_backed_up lacks {rel}: {missing:?}");
    }
    let listed = json_backup_list(&parse_json(&run_unprivileged(&sb, &["list", "--json"])));
    assert_eq!(listed[0]["partial"].as_bool(), Some(true), "{}", listed[0]);
    let skipped_count = listed[0]["skipped"].as_u64().or(listed[0]["skipped"].as_array().map(|a| a.len() as u64));
    assert_eq!(skipped_count, Some(25), "list --json skipped: {}", listed[0]["skipped"]);
}

#[test]
fn fifos_and_sockets_are_skipped_as_special_files_not_partial() {
    let sb = Sandbox::new();
    let src = small_source(&sb);
    let audio = src.join("audio_files");
    mkfifo(&audio.join("control.fifo"));
    // The app is running: its socket is live.
    let _listener = std::os::unix::net::UnixListener::bind(audio.join("app.sock")).unwrap();
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &[]);

    let out = backup_within(&sb, MINUTE);
    assert_eq!(out.status.code(), Some(0), "special files do not make a backup partial: {}", describe(&out));
    let b = dest.join(&complete_backups(&dest)[0]);
    let m = read_manifest(&b);
    let sk = skipped(&m);
    let got: BTreeMap<String, String> = sk
        .iter()
        .map(|s| (s["path"].as_str().unwrap_or("?").to_string(), s["kind"].as_str().unwrap_or("?").to_string()))
        .collect();
    let want: BTreeMap<String, String> = [("audio_files/app.sock", "special"), ("audio_files/control.fifo", "special")]
        .into_iter()
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    assert_eq!(got, want, "skipped: {sk:?}");
    for s in &sk {
        assert!(s["reason"].as_str().is_some_and(|r| !r.trim().is_empty()), "no reason: {s}");
    }
    for name in ["control.fifo", "app.sock"] {
        assert!(fs::symlink_metadata(b.join("audio_files").join(name)).is_err(), "{name} is in the backup");
    }
    sb.run_ok(&["verify"]);
    assert_eq!(status_json(&sb)["health"].as_str(), Some("ok"));
    let listed = json_backup_list(&parse_json(&sb.run_ok(&["list", "--json"])));
    assert_eq!(listed[0]["partial"].as_bool(), Some(false), "{}", listed[0]);
}

#[test]
fn rotation_keeps_the_newest_backup_with_nothing_skipped_while_newer_ones_are_partial() {
    let sb = Sandbox::new();
    let (src, _) = source_with_locked_files(&sb, 10, 0);
    let dest = sb.root().join("Backups");
    sb.init_ok(&src, &dest, &["audio_files"], &["--keep", "1"]);
    hand_over(&sb);

    let out = run_unprivileged(&sb, &["backup"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let whole = new_backup(&[], &dest);
    // A new file nobody may read: it has to be read (nothing to link it from).
    let locked = "audio_files/locked_00.wav".to_string();
    write_wav(&src.join(&locked), 77, 400);
    lock_files(&src, std::slice::from_ref(&locked));
    let mut newest = String::new();
    for run in 1..=2 {
        let before = complete_backups(&dest);
        let out = run_unprivileged(&sb, &["backup"]);
        assert_eq!(out.status.code(), Some(3), "partial run {run}: {}", describe(&out));
        newest = new_backup(&before, &dest);
    }
    let all = complete_backups(&dest);
    assert!(all.contains(&whole), "keep 1 rotated away {whole}, the only backup with nothing skipped: {all:?}");
    assert!(all.contains(&newest), "the newest backup is gone: {all:?}");
    let verify = run_unprivileged(&sb, &["verify", &whole]);
    assert!(verify.status.success(), "{}", describe(&verify));
}

// ---------------------------------------------------------------------------------------
// Sparse and large files.
// ---------------------------------------------------------------------------------------

/// A destination with room for the data of sparse files but not for their holes written
/// out: a 256 MiB ext4 disk as root (unmounted when the returned guard drops), so a copy
/// that fills holes fails fast; else a plain folder, where it fails slowly.
fn small_disk(sb: &Sandbox) -> (PathBuf, Option<Mount>) {
    let disk = sb.root().join("small disk");
    if is_root() {
        match ext4_image(&sb.root().join("small disk.img"), 256, &disk) {
            Ok(mount) => return (disk.join("Backups"), Some(mount)),
            Err(why) => eprintln!("note: no loop-mounted disk here ({why}); the destination is a plain folder"),
        }
    } else {
        eprintln!("note: not root, so the destination is a plain folder; holes written out would fill it");
    }
    fs::create_dir_all(&disk).unwrap();
    (disk.join("Backups"), None)
}

fn assert_marks(path: &Path, marks: &[(u64, &[u8])]) {
    for (off, bytes) in marks {
        assert_eq!(read_at(path, *off, bytes.len()), *bytes, "bytes at {off} of {}", path.display());
    }
}

#[test]
fn sparse_files_keep_their_holes_in_the_backup_and_on_restore() {
    const LEN: u64 = 5 * GIB;
    let sb = Sandbox::new();
    let src = studio(&sb);
    let renders = src.join("renders");
    fs::create_dir_all(&renders).unwrap();
    let image = renders.join("session.img");
    let marks: [(u64, &[u8]); 4] =
        [(0, b"HEAD"), (GIB + 7, b"one gig in"), (4 * GIB + 3, b"past 4 GiB"), (LEN - 5, b"TAIL!")];
    make_sparse(&image, LEN, &marks);
    assert!(allocated(&image) < MIB, "the source filesystem does not keep holes");
    write_wav(&renders.join("click.wav"), 2, 600);
    let (dest, _disk) = small_disk(&sb);
    sb.init_ok(&src, &dest, &["renders"], &[]);

    let out = backup_within(&sb, 5 * MINUTE);
    assert!(out.status.success(), "{}", describe(&out));
    let name = complete_backups(&dest).pop().expect("a backup");
    let copy = dest.join(&name).join("renders/session.img");
    assert_eq!(fs::metadata(&copy).unwrap().len(), LEN);
    assert!(allocated(&copy) < MIB, "the copy takes {} bytes on disk: its holes were filled", allocated(&copy));
    assert_marks(&copy, &marks);
    let m = manifest_entries(&read_manifest(&dest.join(&name)));
    assert_eq!(m["renders/session.img"]["size"].as_u64(), Some(LEN));
    sb.run_ok(&["verify"]);

    fs::remove_file(&image).unwrap();
    sb.run_ok(&["restore", &name, "--yes"]);
    assert_eq!(fs::metadata(&image).unwrap().len(), LEN);
    assert!(allocated(&image) < MIB, "the restored file takes {} bytes on disk", allocated(&image));
    assert_marks(&image, &marks);
}

#[test]
fn sizes_over_4_gib_are_recorded_exactly() {
    const LEN: u64 = 4 * GIB + 4097;
    let sb = Sandbox::new();
    let src = studio(&sb);
    fs::create_dir_all(src.join("renders")).unwrap();
    let image = src.join("renders/mixdown.raw");
    make_sparse(&image, LEN, &[(4 * GIB - 2, b"across the 4 GiB line"), (LEN - 1, b"!")]);
    write_wav(&src.join("renders/click.wav"), 2, 600);
    let click = fs::metadata(src.join("renders/click.wav")).unwrap().len();
    let (dest, _disk) = small_disk(&sb);
    sb.init_ok(&src, &dest, &["renders"], &[]);

    let out = backup_within(&sb, 5 * MINUTE);
    assert!(out.status.success(), "{}", describe(&out));
    let b = dest.join(complete_backups(&dest).pop().expect("a backup"));
    let text = fs::read_to_string(b.join("manifest.json")).unwrap();
    assert!(text.contains(&LEN.to_string()), "{LEN} does not appear in manifest.json");
    let m = read_manifest(&b);
    let files = manifest_entries(&m);
    assert_eq!(files["renders/mixdown.raw"]["size"].as_u64(), Some(LEN));
    assert_eq!(m["totals"]["bytes"].as_u64(), Some(LEN + click), "totals: {}", m["totals"]);
    assert_eq!(fs::metadata(b.join("renders/mixdown.raw")).unwrap().len(), LEN);
    let listed = json_backup_list(&parse_json(&sb.run_ok(&["list", "--json"])));
    assert_eq!(listed[0]["totals"]["bytes"].as_u64(), Some(LEN + click), "{}", listed[0]["totals"]);
}

// ---------------------------------------------------------------------------------------
// The tests' own reading of the escaped-name contract.
// ---------------------------------------------------------------------------------------

#[test]
fn the_escaped_name_form_round_trips() {
    let names: [&[u8]; 6] =
        [b"caf\xe9.wav", b"a\\b.wav", b"caf\\xe9.txt", b"half \xe2\x82.wav", "niño.wav".as_bytes(), b"\xff\xfe"];
    let shown: BTreeSet<String> = names.iter().map(|n| escape_path(n)).collect();
    assert_eq!(shown.len(), names.len(), "two names share an escaped form");
    for n in names {
        assert_eq!(unescape_path(&escape_path(n)).as_deref(), Some(n));
    }
    assert_eq!(escape_path(b"caf\xe9.wav"), r"caf\xe9.wav");
    assert_eq!(escape_path(b"a\\b.wav"), r"a\\b.wav");
    assert_eq!(escape_path("niño.wav".as_bytes()), "niño.wav");
    assert_eq!(unescape_path(r"a\b.wav"), None, "a lone backslash is not the escaped form");
}
