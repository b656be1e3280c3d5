//! A destination that fills up in the middle of a backup, on a small real filesystem
//! (a 3 MB tmpfs; needs root, which CI has).

mod common;

use std::collections::HashMap;
use std::fs;

use common::*;

#[test]
fn disk_full_midway_removes_staging_and_keeps_the_older_backup() {
    if !is_root() {
        assert!(!in_ci(), "CI must run this test as root (it mounts a tmpfs)");
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs it)");
        return;
    }
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    app.add_bulk("big", 8, 1024 * 1024);
    let disk = sb.root().join("small disk");
    // Declared after the sandbox, so it is unmounted before the sandbox is removed.
    let _mount = Mount::tmpfs(&disk, "size=3m");
    let dest = disk.join("DrumGen Scorer DB backups");

    // An older, small backup that fits.
    sb.init_ok(&app.dir, &dest, &["drumgen.db"], &[]);
    let older = sb.backup_ok(&dest);
    let mut hashes = HashMap::new();
    assert_backup_hashes(&dest.join(&older), &mut hashes);
    let older_digest = tree_digest(&dest.join(&older));

    // Now everything, 8 MB and more, onto the 3 MB disk.
    sb.write_config("DrumGen Scorer", &app.dir, &["drumgen.db", "audio_files", "illugen_audio", "big"], &dest, 2);
    let out = sb.run(&["backup"]);
    assert_clear_error(&out, &[dest.to_str().unwrap()], &["full"]);

    assert_eq!(backup_folders(&dest), vec![older.clone()], "only the older backup may remain");
    assert_eq!(leftovers(&dest), Vec::<String>::new(), "staging must be removed");
    assert_eq!(tree_digest(&dest.join(&older)), older_digest, "older backup changed");
    assert_backup_hashes(&dest.join(&older), &mut HashMap::new());
    assert_eq!(file_row_count(&dest.join(&older).join("drumgen.db"), "test_results"), DB_ROWS);

    // The space of the failed run is given back: a small backup fits again.
    sb.write_config("DrumGen Scorer", &app.dir, &["drumgen.db", "audio_files"], &dest, 2);
    let newer = sb.backup_ok(&dest);
    assert_backup_hashes(&dest.join(&newer), &mut HashMap::new());
    let _ = fs::metadata(dest.join(&older)).expect("keep 2: the older backup stays");
}
