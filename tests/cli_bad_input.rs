//! Bad input: each case fails with a non-zero exit and one line on stderr naming the
//! path and the cause, and writes nothing into the destination (nor the source).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const MISSING: [&str; 6] = ["not available", "does not exist", "missing", "not found", "no such", "not mounted"];
const NOT_WRITABLE: [&str; 4] = ["permission", "read-only", "read only", "not writable"];

/// Source, destination (created, empty) and a config made by `init`.
fn ready(sb: &Sandbox) -> (SeedApp, std::path::PathBuf) {
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    fs::create_dir_all(&dest).unwrap();
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    (app, dest)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_source_is_named() {
    let sb = Sandbox::new();
    let (app, dest) = ready(&sb);
    let moved = sb.root().join("moved away");
    fs::rename(&app.dir, &moved).unwrap();

    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &[s(&app.dir)], &MISSING);
    assert_nothing_written(&dest);
    assert!(!app.dir.exists(), "the backup must not recreate the source");

    // `status` reports the failed attempt and its cause.
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_eq!(status["health"].as_str(), Some("failing"), "{status}");
    assert!(status.to_string().contains(s(&app.dir)), "status does not name the source: {status}");
}

#[test]
fn missing_include_item_is_named() {
    let sb = Sandbox::new();
    let (app, dest) = ready(&sb);
    fs::rename(app.dir.join("illugen_audio"), app.dir.join("illugen_audio.old")).unwrap();

    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &["illugen_audio"], &MISSING);
    assert_nothing_written(&dest);
    assert!(!app.dir.join("illugen_audio").exists());
}

#[test]
fn destination_inside_an_included_item_is_refused_at_init() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let digest = tree_digest(&app.dir.join("audio_files"));
    let dest = app.dir.join("audio_files/Backups");

    let out = sb.init(&app.dir, &dest, &SEED_INCLUDES, &[]);
    assert_clear_error(&out, &["audio_files"], &["inside"]);
    assert!(!sb.config.exists(), "a refused init must not write the config");
    assert!(!dest.exists());

    // The whole source included (no --include): same refusal.
    let dest = app.dir.join("Backups");
    let out = sb.init(&app.dir, &dest, &[], &[]);
    assert_clear_error(&out, &[s(&dest)], &["inside"]);
    assert!(!dest.exists());
    assert_eq!(tree_digest(&app.dir.join("audio_files")), digest);
}

#[test]
fn destination_inside_an_included_item_is_refused_from_a_hand_written_config() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let digest = tree_digest(&app.dir.join("illugen_audio"));
    let dest = app.dir.join("illugen_audio/Backups");
    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);

    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &["illugen_audio"], &["inside"]);
    assert!(!dest.exists(), "nothing may be created inside the source");
    assert_eq!(tree_digest(&app.dir.join("illugen_audio")), digest);
}

#[test]
fn included_item_inside_the_destination_is_refused() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    // The destination is the folder that holds the source: every item is inside it.
    let dest = sb.root().to_path_buf();

    let out = sb.init(&app.dir, &dest, &SEED_INCLUDES, &[]);
    assert_clear_error(&out, &[s(&dest)], &["inside"]);
    assert!(!sb.config.exists(), "a refused init must not write the config");

    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);
    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &[s(&dest)], &["inside"]);
    assert_nothing_written(&dest);
}

#[test]
fn destination_whose_drive_is_not_mounted_is_not_created() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let unmounted = sb.root().join("not-mounted");
    let dest = unmounted.join("Backups");

    // Whatever init says, it must not make a look-alike folder.
    let _ = sb.init(&app.dir, &dest, &SEED_INCLUDES, &[]);
    assert!(!unmounted.exists(), "init created {}", unmounted.display());

    sb.write_config("DrumGen Scorer", &app.dir, &SEED_INCLUDES, &dest, 2);
    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &[s(&unmounted)], &MISSING);
    assert!(!unmounted.exists(), "backup created {}", unmounted.display());
}

#[test]
fn read_only_destination_is_refused() {
    let sb = Sandbox::new();
    let (_app, dest) = ready(&sb);
    if is_root() {
        // chmod does not stop root: a read-only filesystem does.
        let _ro = Mount::tmpfs(&dest, "ro,size=1m");
        let out = sb.run(&["backup"]);
        assert_clear_error(&out, &[s(&dest)], &NOT_WRITABLE);
        assert_nothing_written(&dest);
    } else {
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o555)).unwrap();
        let out = sb.run(&["backup"]);
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
        assert_clear_error(&out, &[s(&dest)], &NOT_WRITABLE);
        assert_nothing_written(&dest);
    }
}

#[test]
fn destination_without_write_permission_is_refused() {
    let sb = Sandbox::new();
    let (_app, dest) = ready(&sb);
    let out = if is_root() {
        // As root, run the binary as `nobody`, for whom mode 555 means what it says.
        sb.hand_to_nobody();
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o555)).unwrap();
        match sb.run_as_nobody(&["backup"]) {
            Some(out) => out,
            None => panic!("running as root without setpriv: cannot drop privileges to test this"),
        }
    } else {
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o555)).unwrap();
        sb.run(&["backup"])
    };
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
    assert_clear_error(&out, &[s(&dest)], &NOT_WRITABLE);
    assert_nothing_written(&dest);
}

#[test]
fn unreadable_source_file_is_named_and_the_rest_is_backed_up() {
    let sb = Sandbox::new();
    let (app, dest) = ready(&sb);
    let secret = app.dir.join("audio_files/drum_0007.wav");
    let out = if is_root() {
        sb.hand_to_nobody();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
        match sb.run_as_nobody(&["backup"]) {
            Some(out) => out,
            None => panic!("running as root without setpriv: cannot drop privileges to test this"),
        }
    } else {
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
        sb.run(&["backup"])
    };
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    // A partial backup: exit 3, the file named with its cause, everything else kept.
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("drum_0007.wav") && err.contains("permission denied"), "{err}");
    let made = complete_backups(&dest);
    assert_eq!(made.len(), 1, "one partial backup is published: {made:?}");
    let b = dest.join(&made[0]);
    assert!(!b.join("audio_files/drum_0007.wav").exists());
    assert!(b.join("audio_files/drum_0006.wav").exists());
    assert!(fs::read_to_string(b.join("backup_info.txt")).unwrap().contains("drum_0007.wav"));
}

#[test]
fn malformed_config_names_line_and_column() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("Backups");
    fs::create_dir_all(&dest).unwrap();
    fs::write(
        &sb.config,
        format!(
            "[[profile]]\nname = \"DrumGen Scorer\"\nsource = \"{}\"\ndestination = \"{}\"\nkeep = = 2\n",
            app.dir.display(),
            dest.display()
        ),
    )
    .unwrap();

    for cmd in [&["backup"][..], &["status"][..], &["list"][..]] {
        let out = sb.run(cmd);
        let line = assert_clear_error(&out, &[s(&sb.config)], &["line"]);
        assert!(line.contains("column"), "{cmd:?}: {line}");
        assert!(line.contains('5'), "{cmd:?} should point at line 5: {line}");
    }
    assert_nothing_written(&dest);
}

#[test]
fn include_named_like_lifeboat_files_is_refused() {
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    fs::write(app.dir.join("manifest.json"), "{}").unwrap();
    fs::write(app.dir.join("backup_info.txt"), "the app's own notes").unwrap();
    let dest = sb.root().join("Backups");
    fs::create_dir_all(&dest).unwrap();

    for name in ["manifest.json", "backup_info.txt"] {
        let out = sb.init(&app.dir, &dest, &["audio_files", name], &[]);
        assert_clear_error(&out, &[name], &["collide", "reserved", "lifeboat", "conflict", "clash"]);
        assert!(!sb.config.exists(), "a refused init must not write the config");
    }

    sb.write_config("DrumGen Scorer", &app.dir, &["audio_files", "backup_info.txt"], &dest, 2);
    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &["backup_info.txt"], &["collide", "reserved", "lifeboat", "conflict", "clash"]);
    assert_nothing_written(&dest);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    // `lifeboat list | head -1`: the reader is gone before the output is written.
    let sb = Sandbox::new();
    ready(&sb);
    sb.run_ok(&["backup"]);
    for args in [&["list"][..], &["status"], &["status", "--json"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sb.cmd().args(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "lifeboat {args:?} panicked on a closed pipe: {stderr}");
        assert_ne!(out.status.code(), Some(101), "lifeboat {args:?}: {stderr}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "lifeboat {args:?} ended by SIGPIPE: {:?}", out.status);
    }
}
