//! `lifeboat init` and `lifeboat backup` on seed-shaped data: the config, the backup
//! folder and its manifest, rotation, hard links, `list` and `status`, odd names.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Top-level entries of the source, to prove a backup added nothing there.
fn source_names(app: &SeedApp) -> Vec<String> {
    entries(&app.dir)
}

#[test]
fn init_then_backup_makes_one_complete_seed_backup() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("DrumGen Scorer DB backups");

    // The fixture really holds the last rows in the -wal only.
    assert!(fs::metadata(app.wal()).unwrap().len() > 0, "the -wal should hold data");
    assert_eq!(file_row_count(&app.db(), "test_results"), ROWS_IN_MAIN_FILE);
    assert_eq!(row_count(&app.db(), "test_results"), DB_ROWS);

    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &["--name", "DrumGen Scorer"]);

    // The config matches the contract.
    let config: toml::Value = toml::from_str(&fs::read_to_string(&sb.config).unwrap()).unwrap();
    let profiles = config["profile"].as_array().expect("[[profile]] array");
    assert_eq!(profiles.len(), 1);
    let p = &profiles[0];
    assert_eq!(p["name"].as_str(), Some("DrumGen Scorer"));
    assert_eq!(p["source"].as_str(), Some(app.dir.to_str().unwrap()));
    assert_eq!(p["destination"].as_str(), Some(dest.to_str().unwrap()));
    let include: Vec<&str> = p["include"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(include, SEED_INCLUDES);
    assert_eq!(p["keep"].as_integer(), Some(2));
    let every = p["every_hours"].as_float().or(p["every_hours"].as_integer().map(|i| i as f64));
    assert_eq!(every, Some(12.0));

    let before_names = source_names(&app);
    let audio_before = tree_digest(&app.dir.join("audio_files"));
    let illugen_before = tree_digest(&app.dir.join("illugen_audio"));

    sb.run_ok(&["backup"]);

    // Exactly one backup folder, named by the local start time.
    let names = entries(&dest);
    let backups: Vec<&String> = names.iter().filter(|n| n.starts_with("backup_")).collect();
    assert_eq!(backups.len(), 1, "destination holds {names:?}");
    assert!(is_backup_name(backups[0], false), "bad name {}", backups[0]);
    assert_eq!(leftovers(&dest), Vec::<String>::new());
    let b = dest.join(backups[0]);

    // Contents: the database, both folders with every file and folder, the two reports.
    assert!(b.join(DB_NAME).is_file());
    assert_eq!(count_files_and_dirs(&b.join("audio_files")), (AUDIO_FILES, 0));
    assert_eq!(count_files_and_dirs(&b.join("illugen_audio")), (ILLUGEN_FILES, ILLUGEN_DIRS));
    let mut top = entries(&b);
    top.sort();
    assert_eq!(
        top,
        ["audio_files", "backup_info.txt", DB_NAME, "illugen_audio", "manifest.json"],
        "top level of the backup"
    );
    for entry in walkdir::WalkDir::new(&b) {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !(name.ends_with("-wal") || name.ends_with("-shm") || name.ends_with("-journal")),
            "{name} must not be copied"
        );
    }

    // The copy holds the rows that were only in the -wal, and is sound.
    assert_eq!(file_row_count(&b.join(DB_NAME), "test_results"), DB_ROWS);
    assert_eq!(file_integrity(&b.join(DB_NAME)), "ok");

    // Bytes identical to the source.
    assert_eq!(tree_digest(&b.join("audio_files")), audio_before);
    assert_eq!(tree_digest(&b.join("illugen_audio")), illugen_before);

    // backup_info.txt speaks of the 241 test results.
    let info = fs::read_to_string(b.join("backup_info.txt")).unwrap();
    assert!(info.contains("241"), "backup_info.txt lacks the row count:\n{info}");
    let lower = info.to_lowercase();
    assert!(
        lower.contains("test results") || lower.contains("test_results"),
        "backup_info.txt does not mention test results:\n{info}"
    );

    // manifest.json
    let m = read_manifest(&b);
    assert!(m["format_version"].as_u64().is_some(), "format_version: {}", m["format_version"]);
    assert_eq!(m["trigger"].as_str(), Some("manual"));
    let files = manifest_entries(&m);
    let mut listed_files = 0;
    for (rel, e) in &files {
        if rel.starts_with("audio_files/") || rel.starts_with("illugen_audio/") {
            if e["kind"].as_str() == Some("dir") {
                continue;
            }
            listed_files += 1;
            let hash = e["blake3"].as_str().unwrap_or_else(|| panic!("{rel} has no blake3"));
            assert_eq!(hash.len(), 64, "{rel}: {hash}");
            assert_eq!(e["size"].as_u64(), Some(fs::metadata(b.join(rel)).unwrap().len()), "{rel}");
        }
    }
    assert_eq!(listed_files, AUDIO_FILES + ILLUGEN_FILES);
    let some = files.get(ACCENTED_FILE).expect("niño.wav listed");
    assert_eq!(some["blake3"].as_str().unwrap(), blake3_file(&app.dir.join(ACCENTED_FILE)));
    let dbs = m["databases"].as_array().expect("databases array");
    assert_eq!(dbs.len(), 1, "databases: {dbs:?}");
    assert_eq!(dbs[0]["path"].as_str(), Some(DB_NAME));
    assert_eq!(dbs[0]["integrity"].as_str(), Some("ok"));
    let tables = dbs[0]["tables"].as_array().expect("tables array");
    let results = tables.iter().find(|t| t["name"].as_str() == Some("test_results")).expect("test_results listed");
    assert_eq!(results["rows"].as_i64(), Some(DB_ROWS));
    assert_backup_complete(&b);
    assert_backup_hashes(&b, &mut Default::default());

    // The source is untouched: no new file, the same bytes, and the -wal was not
    // checkpointed into the main file (that would be a write into the source).
    assert_eq!(source_names(&app), before_names);
    assert_eq!(tree_digest(&app.dir.join("audio_files")), audio_before);
    assert_eq!(file_row_count(&app.db(), "test_results"), ROWS_IN_MAIN_FILE);

    // Lifeboat's own files (history, logs) went to LIFEBOAT_DATA_DIR, nothing to HOME.
    assert!(!entries(&sb.data).is_empty(), "nothing in LIFEBOAT_DATA_DIR");
    assert_eq!(entries(&sb.root().join("home")), Vec::<String>::new(), "files written under HOME");
}

#[test]
fn third_backup_rotates_to_the_two_newest_and_spares_unknown_folders() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    fs::create_dir_all(dest.join("notes")).unwrap();
    fs::write(dest.join("notes/todo.txt"), "buy a second drive").unwrap();
    fs::create_dir_all(dest.join("backup_bogus")).unwrap();
    fs::write(dest.join("backup_bogus/keep me.txt"), "not a Lifeboat backup").unwrap();
    fs::write(dest.join("README.txt"), "mine").unwrap();
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);

    let first = sb.backup_ok(&dest);
    let second = sb.backup_ok(&dest);
    assert_eq!(complete_backups(&dest).len(), 2);
    let third = sb.backup_ok(&dest);

    let mut expected = vec![second.clone(), third.clone()];
    expected.sort();
    assert_eq!(complete_backups(&dest), expected, "only the two newest remain");
    assert!(!dest.join(&first).exists(), "{first} should be rotated away");
    assert_eq!(fs::read_to_string(dest.join("notes/todo.txt")).unwrap(), "buy a second drive");
    assert_eq!(fs::read_to_string(dest.join("backup_bogus/keep me.txt")).unwrap(), "not a Lifeboat backup");
    assert_eq!(fs::read_to_string(dest.join("README.txt")).unwrap(), "mine");
    assert_eq!(leftovers(&dest), Vec::<String>::new());
    for name in [&second, &third] {
        assert_backup_complete(&dest.join(name));
    }
}

#[test]
fn keep_3_keeps_the_three_newest() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &["--keep", "3"]);
    let config: toml::Value = toml::from_str(&fs::read_to_string(&sb.config).unwrap()).unwrap();
    assert_eq!(config["profile"][0]["keep"].as_integer(), Some(3));

    let names: Vec<String> = (0..4).map(|_| sb.backup_ok(&dest)).collect();
    let mut expected = names[1..].to_vec();
    expected.sort();
    assert_eq!(complete_backups(&dest), expected);
    assert!(!dest.join(&names[0]).exists());
}

#[test]
fn unchanged_files_are_hard_linked_and_changed_files_copied() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &["--keep", "5"]);

    let first = dest.join(sb.backup_ok(&dest));
    let second = dest.join(sb.backup_ok(&dest));
    let m2 = manifest_entries(&read_manifest(&second));
    let mut linked = 0;
    for (rel, e) in &m2 {
        if e["kind"].as_str() != Some("file") {
            continue;
        }
        assert_eq!(e["stored"].as_str(), Some("linked"), "{rel} unchanged but not linked");
        assert_eq!(inode(&first.join(rel)), inode(&second.join(rel)), "{rel} is not a hard link");
        linked += 1;
    }
    assert_eq!(linked, AUDIO_FILES + ILLUGEN_FILES);

    // One file changes, one is new: both copied, the rest still linked.
    let changed = "audio_files/drum_0005.wav";
    append(&app.dir.join(changed), b"one more hit");
    let added = "illugen_audio/note_007/new take.wav";
    write_wav(&app.dir.join(added), 77, 300);
    let third = dest.join(sb.backup_ok(&dest));
    let m3 = manifest_entries(&read_manifest(&third));
    for rel in [changed, added] {
        assert_eq!(m3[rel]["stored"].as_str(), Some("copied"), "{rel}");
        assert_eq!(blake3_file(&third.join(rel)), blake3_file(&app.dir.join(rel)), "{rel}");
        assert_eq!(m3[rel]["blake3"].as_str().unwrap(), blake3_file(&app.dir.join(rel)));
    }
    assert_ne!(inode(&second.join(changed)), inode(&third.join(changed)));
    // The older copy keeps its old bytes.
    assert_eq!(m2[changed]["blake3"].as_str().unwrap(), blake3_file(&second.join(changed)));
    let still = "illugen_audio/note_007/clip 1.wav";
    assert_eq!(m3[still]["stored"].as_str(), Some("linked"));
    assert_eq!(inode(&second.join(still)), inode(&third.join(still)));
    assert_backup_hashes(&third, &mut Default::default());
}

#[test]
fn list_and_status_show_backups_newest_first() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &["--every-hours", "6"]);

    // Before any backup.
    let text = stdout(&sb.run_ok(&["status"])).to_lowercase().replace('_', " ");
    assert!(text.contains("no backup"), "status before any backup: {text}");
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert!(status["last_backup"].is_null(), "last_backup before any: {status}");
    let listed = parse_json(&sb.run_ok(&["list", "--json"]));
    assert!(json_backup_list(&listed).is_empty(), "{listed}");

    let older = sb.backup_ok(&dest);
    // `backup --json` prints one JSON document naming the new backup.
    let before = complete_backups(&dest);
    let doc = parse_json(&sb.run_ok(&["backup", "--json"]));
    let newer = complete_backups(&dest).into_iter().find(|n| !before.contains(n)).expect("a new backup");
    assert!(doc.to_string().contains(&newer), "backup --json does not name {newer}: {doc}");

    let listed = json_backup_list(&parse_json(&sb.run_ok(&["list", "--json"])));
    let names: Vec<&str> = listed.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, [newer.as_str(), older.as_str()], "newest first");

    let text = stdout(&sb.run_ok(&["list"]));
    let shown: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with("backup_"))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_' && c != '-'))
        .collect();
    assert_eq!(shown, [newer.as_str(), older.as_str()], "list shows newest first:\n{text}");

    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_eq!(status["last_backup"]["name"].as_str(), Some(newer.as_str()), "{status}");
    // Next due: the newest backup's start + every_hours (6, from init).
    let started = read_manifest(&dest.join(&newer))["started_at"].as_str().unwrap().to_string();
    let started = chrono::DateTime::parse_from_rfc3339(&started).unwrap();
    let due = status["next_due"].as_str().unwrap_or_else(|| panic!("no next_due: {status}"));
    let due = chrono::DateTime::parse_from_rfc3339(due).unwrap();
    let off = (due - started - chrono::Duration::hours(6)).num_seconds().abs();
    assert!(off <= 1, "next_due {due} is not 6 h after {started}");
    let text = stdout(&sb.run_ok(&["status"]));
    assert!(text.contains(&newer), "status names the last backup:\n{text}");
}

#[test]
fn paths_with_spaces_and_accents_round_trip() {
    let sb = Sandbox::new();
    let parent = sb.root().join("Mis Datos ñ");
    let app = SeedApp::create(&parent);
    let extra = "Grabaciones de sesión";
    fs::create_dir_all(app.dir.join(extra).join("épica")).unwrap();
    write_wav(&app.dir.join(extra).join("toma 1 — final.wav"), 5, 400);
    write_wav(&app.dir.join(extra).join("épica/über track.wav"), 6, 500);
    let dest = sb.root().join("Copias de Seguridad é/DrumGen Scorer DB backups");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();

    let include = ["drumgen.db", "audio_files", "illugen_audio", extra];
    sb.init_ok(&app.dir, &dest, &include, &[]);
    let config: toml::Value = toml::from_str(&fs::read_to_string(&sb.config).unwrap()).unwrap();
    assert_eq!(config["profile"][0]["source"].as_str(), Some(app.dir.to_str().unwrap()));
    assert_eq!(config["profile"][0]["include"][3].as_str(), Some(extra));

    let name = sb.backup_ok(&dest);
    let b = dest.join(&name);
    for item in &include[1..] {
        assert_eq!(tree_digest(&b.join(item)), tree_digest(&app.dir.join(item)), "{item}");
    }
    let m = manifest_entries(&read_manifest(&b));
    for rel in [
        ACCENTED_FILE,
        SPACED_AUDIO,
        ACCENTED_AUDIO,
        "Grabaciones de sesión/toma 1 — final.wav",
        "Grabaciones de sesión/épica/über track.wav",
    ] {
        let e = m.get(rel).unwrap_or_else(|| panic!("{rel} not in the manifest"));
        assert_eq!(e["blake3"].as_str().unwrap(), blake3_file(&app.dir.join(rel)), "{rel}");
        assert!(Path::new(&b.join(rel)).is_file());
    }
    let listed = json_backup_list(&parse_json(&sb.run_ok(&["list", "--json"])));
    assert_eq!(listed[0]["name"].as_str(), Some(name.as_str()));
}

#[test]
fn symlinks_are_stored_as_links_never_followed() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let outside = sb.root().join("outside secret.wav");
    write_wav(&outside, 3, 100);
    let audio = app.dir.join("audio_files");
    std::os::unix::fs::symlink("drum_0001.wav", audio.join("latest.wav")).unwrap();
    std::os::unix::fs::symlink(&outside, audio.join("outside.wav")).unwrap();
    std::os::unix::fs::symlink("note_001", app.dir.join("illugen_audio/link to note")).unwrap();
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);

    let b = dest.join(sb.backup_ok(&dest));
    for (rel, target) in [
        ("audio_files/latest.wav", Path::new("drum_0001.wav")),
        ("audio_files/outside.wav", outside.as_path()),
        ("illugen_audio/link to note", Path::new("note_001")),
    ] {
        let meta = fs::symlink_metadata(b.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(meta.file_type().is_symlink(), "{rel} should be stored as a symlink");
        assert_eq!(fs::read_link(b.join(rel)).unwrap(), target, "{rel}");
    }
    // Nothing was copied through the links.
    assert_eq!(count_files_and_dirs(&b.join("illugen_audio")), (ILLUGEN_FILES, ILLUGEN_DIRS));
    assert_eq!(tree_digest(&b.join("audio_files")), tree_digest(&audio));
    let m = manifest_entries(&read_manifest(&b));
    assert_eq!(m["audio_files/outside.wav"]["kind"].as_str(), Some("symlink"));
    assert!(!m.contains_key("illugen_audio/link to note/clip 0.wav"), "a folder link was followed");
}

#[test]
fn databases_are_found_by_their_header_not_their_name() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    // A SQLite database without a database-like name, its rows only in its -wal...
    let hidden = "illugen_audio/note_002/session state";
    let _keep = wal_db(&app.dir.join(hidden), "clips", 50);
    assert!(fs::metadata(app.dir.join(format!("{hidden}-wal"))).unwrap().len() > 0);
    // ...and a file named like a database that is not one.
    let fake = "audio_files/not really.db";
    write_wav(&app.dir.join(fake), 8, 300);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);

    let b = dest.join(sb.backup_ok(&dest));
    assert_eq!(file_row_count(&b.join(hidden), "clips"), 50, "rows in the -wal were left out");
    assert_eq!(file_integrity(&b.join(hidden)), "ok");
    assert!(!b.join(format!("{hidden}-wal")).exists());
    assert!(!b.join(format!("{hidden}-shm")).exists());
    let m = read_manifest(&b);
    let dbs: Vec<&str> = m["databases"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert!(dbs.contains(&hidden), "databases: {dbs:?}");
    assert!(!dbs.contains(&fake), "databases: {dbs:?}");
    assert_eq!(blake3_file(&b.join(fake)), blake3_file(&app.dir.join(fake)));
}

#[test]
fn exclude_globs_leave_files_out() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    fs::write(app.dir.join("audio_files/.DS_Store"), "finder junk").unwrap();
    fs::write(app.dir.join("illugen_audio/note_003/render.tmp"), "half a render").unwrap();
    let dest = sb.root().join("Backups");
    let mut profile = profile_toml("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);
    profile.insert("exclude".into(), toml::Value::Array(vec!["*.tmp".into(), ".DS_Store".into()]));
    sb.write_profiles(&[profile]);

    let b = dest.join(sb.backup_ok(&dest));
    assert!(!b.join("audio_files/.DS_Store").exists());
    assert!(!b.join("illugen_audio/note_003/render.tmp").exists());
    let m = manifest_entries(&read_manifest(&b));
    assert!(!m.keys().any(|k| k.ends_with(".DS_Store") || k.ends_with(".tmp")), "excluded files listed");
    assert_eq!(count_files_and_dirs(&b.join("audio_files")), (AUDIO_FILES, 0));
    assert_eq!(count_files_and_dirs(&b.join("illugen_audio")), (ILLUGEN_FILES, ILLUGEN_DIRS));
}

#[test]
fn several_profiles_need_a_choice() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let notes = sb.root().join("Illugen Notes");
    fs::create_dir_all(&notes).unwrap();
    write_wav(&notes.join("idea.wav"), 1, 100);
    let (dest_a, dest_b) = (sb.root().join("Backups A"), sb.root().join("Backups B"));
    sb.write_profiles(&[
        profile_toml("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest_a, 2),
        profile_toml("Illugen Notes", &notes, &[], &dest_b, 2),
    ]);

    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &["DrumGen Scorer", "Illugen Notes"], &["profile"]);
    assert_nothing_written(&dest_a);
    assert_nothing_written(&dest_b);

    sb.run_ok(&["--profile", "Illugen Notes", "backup"]);
    assert_nothing_written(&dest_a);
    let names = complete_backups(&dest_b);
    assert_eq!(names.len(), 1);
    assert_eq!(tree_digest(&dest_b.join(&names[0])).get("idea.wav"), tree_digest(&notes).get("idea.wav"));

    // With several profiles a hint names the profile it is about (else it would act on
    // the first one).
    fs::create_dir_all(&dest_a).unwrap();
    let out = sb.run_ok(&["--profile", "DrumGen Scorer", "list"]);
    // (The sandbox passes --config, so the hint does too.)
    let hint = format!("`lifeboat --config {} --profile 'DrumGen Scorer' backup`", sb.config.display());
    assert!(stdout(&out).contains(&hint), "{}", describe(&out));
}

#[test]
fn lowering_keep_rotates_down_at_the_next_backup() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 5);
    let names: Vec<String> = (0..4).map(|_| sb.backup_ok(&dest)).collect();
    assert_eq!(complete_backups(&dest).len(), 4);

    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);
    let newest = sb.backup_ok(&dest);
    let mut expected = vec![names[3].clone(), newest];
    expected.sort();
    assert_eq!(complete_backups(&dest), expected, "keep 2 after keep 5");
    assert_eq!(leftovers(&dest), Vec::<String>::new());
}

#[test]
fn an_included_item_that_is_a_symlink_is_backed_up_through_it_and_its_target_is_untouched() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    // The audio folder moved to another drive; the app reaches it through a link.
    let moved = sb.root().join("other drive/audio_files");
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(app.dir.join("audio_files"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, app.dir.join("audio_files")).unwrap();
    let before = tree_digest(&moved);
    let dest = sb.root().join("Backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);

    let b = dest.join(sb.backup_ok(&dest));
    let meta = fs::symlink_metadata(b.join("audio_files")).unwrap();
    assert!(meta.is_dir(), "the item's contents are backed up under its name, not a link to them");
    assert_eq!(tree_digest(&b.join("audio_files")), before, "the backup holds what the link points to");
    assert_eq!(tree_digest(&moved), before, "the link's target was written to");
    assert!(fs::read_to_string(b.join("backup_info.txt")).unwrap().contains(moved.to_str().unwrap()));
    assert!(stdout(&sb.run_ok(&["verify"])).contains("is whole"));
}

#[test]
fn the_readme_example_works_with_tilde_paths_and_a_bare_config_name() {
    let sb = Sandbox::new();
    let home = sb.root().join("home");
    let app = SeedApp::create(&home);
    let run = |args: &[&str]| {
        let mut c = assert_cmd::Command::cargo_bin("lifeboat").unwrap();
        c.current_dir(sb.root())
            .env("HOME", &home)
            .env("LIFEBOAT_DATA_DIR", &sb.data)
            .env_remove("LIFEBOAT_CONFIG")
            .arg("--config")
            .arg("lifeboat.toml")
            .args(args);
        let out = c.output().unwrap();
        assert!(out.status.success(), "lifeboat {args:?}: {}", describe(&out));
        out
    };
    run(&[
        "init",
        "--source",
        "~/DrumGen Scorer",
        "--dest",
        "~/DrumGen Scorer DB backups",
        "--include",
        "drumgen.db",
        "--include",
        "audio_files",
        "--include",
        "illugen_audio",
    ]);
    let config = fs::read_to_string(sb.root().join("lifeboat.toml")).unwrap();
    assert!(config.contains(&format!("source = \"{}\"", app.dir.display())), "{config}");
    run(&["backup"]);
    let dest = home.join("DrumGen Scorer DB backups");
    assert_eq!(complete_backups(&dest).len(), 1);
}

#[test]
fn status_after_the_backups_were_deleted_by_hand_says_there_is_none() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);
    let name = sb.backup_ok(&dest);
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_eq!(status["health"].as_str(), Some("ok"), "{status}");

    // The folder is emptied (by hand, or another drive at the same path): the history's
    // success no longer protects anything, and a backup is due at once.
    fs::remove_dir_all(dest.join(&name)).unwrap();
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_eq!(status["health"].as_str(), Some("no_backup"), "{status}");
    assert!(status["next_due"].is_null(), "due now: {status}");

    // A destination that is away still falls back to the history (overdue, not "never").
    fs::remove_dir_all(&dest).unwrap();
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_ne!(status["health"].as_str(), Some("no_backup"), "{status}");
}
