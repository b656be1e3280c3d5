//! A destination that fills up, at more than fifty points on a real small ext4 disk (a
//! loop-mounted image) and as many on a small tmpfs (issue 9, proof at scale). A filler
//! file leaves N bytes free, N spread from "nothing fits" to "everything fits"; after each
//! `lifeboat backup`: either a new backup that verifies, or a clear one-line error naming
//! the destination and saying it is full, with nothing published, no staging left, the
//! older backup whole and the source untouched. Needs root to mount (CI runs as root).
//!
//! The seed is printed; `LIFEBOAT_DISK_FULL_SEED=<seed>` replays a run's points.

mod common;

use std::fs;
use std::path::Path;
use std::time::Instant;

use common::real::ext4_image;
use common::scale::*;
use common::*;

const MEDIA: usize = 250;
/// Points per filesystem, besides "nothing free at all".
const POINTS: usize = 55;

#[derive(Debug, Clone, Copy)]
enum Disk {
    Ext4,
    Tmpfs,
}

fn sweep(disk: Disk) {
    let test = format!("disk full on {disk:?}");
    if !is_root() {
        assert!(!in_ci(), "{test}: CI must run this test as root (it mounts a small filesystem)");
        eprintln!("skipped {test}: mounting a small filesystem needs root (CI runs it)");
        return;
    }
    let started = Instant::now();
    let mut rng = SeededRng::from_env("LIFEBOAT_DISK_FULL_SEED", &test);
    let sb = fast_sandbox();
    let app = LightApp::create(sb.root(), MEDIA);
    let at = sb.root().join("small disk");
    // Declared after the sandbox, so it is unmounted before the sandbox is removed.
    let _mount = match disk {
        Disk::Ext4 => ext4_image(&sb.root().join("disk.img"), 24, &at).unwrap_or_else(|e| panic!("{test}: {e}")),
        Disk::Tmpfs => Mount::tmpfs(&at, "size=12m"),
    };
    let dest = at.join("Light App backups");
    let dest_s = dest.to_str().unwrap().to_string();
    let filler = at.join("filler");
    // ext4 keeps a few clusters that even root cannot write to (`reserved_clusters`, 2%
    // of a small disk); counted out, so "N bytes free" means N bytes a backup can use.
    let reserved = match disk {
        Disk::Ext4 => ext4_reserved_bytes(&at),
        Disk::Tmpfs => 0,
    };
    let usable = |at: &Path| free_bytes(at).saturating_sub(reserved);

    // An older, small backup (the database alone), then the whole app.
    sb.write_config("Light App", &app.dir, &[LIGHT_DB], &dest, 5);
    let older = sb.backup_ok(&dest);
    sb.write_config("Light App", &app.dir, &LIGHT_INCLUDES, &dest, 5);

    // What a whole backup takes on this disk: every point below it cannot fit.
    sync_fs(&filler);
    let free_before = usable(&at);
    let probe = sb.backup_ok(&dest);
    sync_fs(&filler);
    let needed = free_before - usable(&at);
    fs::remove_dir_all(dest.join(&probe)).unwrap();
    sync_fs(&filler);
    eprintln!("{test}: a whole backup takes {needed} B; {} B free ({reserved} B more reserved)", usable(&at));
    assert!(usable(&at) > needed * 2, "{test}: the disk is too small for the fixture");

    // From nothing free to a quarter more than a backup keeps (it needs a little more
    // while it runs: the database copy's journal, folders not yet trimmed).
    let mut leaves: Vec<u64> = vec![0];
    leaves.extend(rng.stratified(POINTS, 0.0, needed as f64 * 1.25).into_iter().map(|b| b as u64));
    rng.shuffle(&mut leaves[1..]);
    let (mut succeeded, mut full) = (0, 0);
    let mut unclear: Vec<String> = Vec::new();
    for (round, leave) in leaves.iter().enumerate() {
        // The database changes every round, so it is copied (not linked) each time.
        app.conn
            .execute(&format!("INSERT INTO {LIGHT_TABLE}(note, score) VALUES ('round {round}', {round})"), [])
            .unwrap();
        let source_before = source_digest(&app.dir);
        let free = fill_leaving(&filler, *leave + reserved).saturating_sub(reserved);
        let when = format!("{test}, round {round}: {leave} B asked to stay free, {free} B free (seed {})", rng.seed);

        let out = sb.run(&["backup"]);
        assert_no_panic(&out, &when);
        if out.status.success() {
            succeeded += 1;
            let new: Vec<String> = complete_backups(&dest).into_iter().filter(|n| *n != older).collect();
            assert_eq!(new.len(), 1, "{when}: one new backup expected: {new:?}");
            let verified = sb.run(&["verify", &new[0]]);
            assert!(verified.status.success(), "{when}: the new backup does not verify: {}", describe(&verified));
            fs::remove_dir_all(dest.join(&new[0])).unwrap();
        } else {
            full += 1;
            // Every other check goes on; errors that are not clear are listed at the end.
            let err = stderr(&out);
            let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            let clear = lines.len() == 1 && lines[0].contains(&dest_s) && lines[0].to_lowercase().contains("full");
            if !clear {
                unclear.push(format!("{when}: exit {:?}, stderr {err:?}", out.status.code()));
            }
        }
        assert_eq!(backup_folders(&dest), std::slice::from_ref(&older), "{when}: a backup was published or lost");
        assert_eq!(leftovers(&dest), Vec::<String>::new(), "{when}: staging left behind");
        let verified = sb.run(&["verify", &older]);
        assert!(verified.status.success(), "{when}: the older backup no longer verifies: {}", describe(&verified));
        let changed = map_diff(&source_before, &source_digest(&app.dir));
        assert!(changed.is_empty(), "{when}: the source changed: {changed:#?}");
    }

    // The space of the failed runs is given back: with the filler gone, it fits.
    fs::remove_file(&filler).unwrap();
    sync_fs(&dest);
    let last = sb.backup_ok(&dest);
    sb.run_ok(&["verify", &last]);
    sb.run_ok(&["verify", &older]);
    eprintln!(
        "{test}: {} points, {succeeded} backups fitted, {full} refused as full; {:?}",
        leaves.len(),
        started.elapsed()
    );
    assert!(full >= POINTS / 2, "{test}: too few points filled the disk ({full})");
    assert!(
        unclear.is_empty(),
        "{test}: {} of {full} failed runs did not say, in one line naming the destination {dest_s}, that it is full:\n{}",
        unclear.len(),
        unclear.join("\n")
    );
    assert!(succeeded >= 1, "{test}: no point left enough room (the measure of a whole backup is off)");
}

/// Bytes of the ext4 filesystem mounted at `at` that only the filesystem itself may use.
fn ext4_reserved_bytes(at: &Path) -> u64 {
    let out = std::process::Command::new("findmnt").args(["-n", "-o", "SOURCE", "--target"]).arg(at).output().unwrap();
    assert!(out.status.success(), "findmnt {}: {}", at.display(), describe(&out));
    let source = stdout(&out).trim().to_string();
    let dev = Path::new(&source).file_name().unwrap().to_string_lossy().into_owned();
    let clusters = fs::read_to_string(format!("/sys/fs/ext4/{dev}/reserved_clusters"))
        .unwrap_or_else(|e| panic!("reserved clusters of {source}: {e}"));
    clusters.trim().parse::<u64>().unwrap() * 4096
}

#[test]
fn disk_full_at_fifty_points_on_a_small_ext4_disk() {
    sweep(Disk::Ext4);
}

#[test]
fn disk_full_at_fifty_points_on_a_small_tmpfs() {
    sweep(Disk::Tmpfs);
}
