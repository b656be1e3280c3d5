//! Starts the real app under Xvfb with a temp config whose destination has no backup:
//! the startup backup appears, complete, and the app keeps running in the tray; a
//! second launch hands over to it.

mod common;

use std::time::Duration;

use common::{wait_for, PrivateBus, Sandbox};

#[test]
fn startup_backup_appears_and_the_app_keeps_running() {
    let sb = Sandbox::new();
    sb.write_config();
    assert!(sb.backups().is_empty());
    let bus = PrivateBus::start();
    let mut app = sb.start_app(&bus, &[]);

    let name = sb.startup_backup(&mut app);
    let took = app.started.elapsed();
    println!("launch to first backup: {:.2} s", took.as_secs_f64());
    let dir = sb.destination.join(&name);
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"startup\""), "trigger is startup: {manifest:.300}");
    assert!(dir.join(common::DB_NAME).is_file());
    assert_eq!(std::fs::read_dir(dir.join("audio_files")).unwrap().count(), common::AUDIO_FILES);

    std::thread::sleep(Duration::from_secs(3));
    assert!(app.running(), "the app keeps running after its backup:\n{}", app.stderr());
    assert_eq!(sb.backups(), vec![name], "one startup backup, no more");
    // A second launch hands over to the running app (single instance) and leaves.
    let mut second = sb.start_app(&bus, &[]);
    let status = wait_for(Duration::from_secs(20), "the second launch to exit", || second.child.try_wait().unwrap());
    assert!(status.success(), "second launch: {status:?}\n{}", second.stderr());
    assert!(app.running(), "the first app is still running:\n{}", app.stderr());
    assert_eq!(sb.backups().len(), 1, "the second launch made no backup");

    let log = std::fs::read_dir(sb.data_dir.join("logs")).unwrap().next().expect("a log file").unwrap().path();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("Lifeboat 0.1.0 starting") && log.contains("done (Startup)"), "{log}");
    assert!(log.contains("second launch: focusing the running app"), "{log}");
}
