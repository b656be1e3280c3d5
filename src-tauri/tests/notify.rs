//! Notifications reach a real daemon (dunst on a private session bus), and a missing or
//! broken daemon never blocks the caller.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{require_display, wait_for, PrivateBus};
use lifeboat::{Activity, Event};
use lifeboat::{ErrorReport, Trigger};
use lifeboat_app::notify::{self, Note, Notifier};

/// Tests here point DBUS_SESSION_BUS_ADDRESS (process-wide) at their own bus, one at a time.
static BUS_ENV: Mutex<()> = Mutex::new(());

fn use_bus(bus: &PrivateBus) -> MutexGuard<'static, ()> {
    let guard = BUS_ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    guard
}

fn failure(streak: usize) -> Event {
    Event::Failed {
        activity: Activity::Backup,
        trigger: Some(Trigger::Scheduled),
        error: ErrorReport {
            kind: lifeboat::ErrorKind::DestinationUnavailable,
            message: "destination not available: /media/ana/Backups does not exist — is the drive connected?".into(),
        },
        streak,
    }
}

struct Dunst(Child);

impl Drop for Dunst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dunstctl(bus: &PrivateBus, args: &[&str]) -> Option<String> {
    let out = Command::new("dunstctl").args(args).env("DBUS_SESSION_BUS_ADDRESS", &bus.address).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn start_dunst(bus: &PrivateBus, dir: &Path) -> Dunst {
    let config = dir.join("dunstrc");
    std::fs::write(&config, "[global]\n    monitor = 0\n    follow = none\n    history_length = 20\n").unwrap();
    let child = Command::new("dunst")
        .args(["-config", config.to_str().unwrap()])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst is needed for the notification test");
    let dunst = Dunst(child);
    wait_for(Duration::from_secs(15), "dunst on the bus", || dunstctl(bus, &["is-paused"]));
    dunst
}

#[test]
fn failure_notification_reaches_the_daemon() {
    require_display();
    let bus = PrivateBus::start();
    let dir = tempfile::tempdir().unwrap();
    let _dunst = start_dunst(&bus, dir.path());

    let notifier = Notifier::default();
    let note = notifier.for_event(&failure(1), false).expect("the first failure of a streak notifies");
    assert!(notifier.for_event(&failure(2), false).is_none(), "not again within the streak");
    assert!(note.body.contains("is the drive connected"), "{note:?}");

    let guard = use_bus(&bus);
    let result = notify::send(note.clone()).recv_timeout(Duration::from_secs(10));
    drop(guard);
    assert_eq!(result, Ok(Ok(())), "the daemon accepted the notification");

    // Shown notifications move to dunst's history once closed.
    wait_for(Duration::from_secs(10), "dunst to show it", || {
        dunstctl(&bus, &["count", "displayed"]).filter(|n| n.trim() != "0")
    });
    dunstctl(&bus, &["close-all"]).unwrap();
    let history = wait_for(Duration::from_secs(10), "the notification in dunst's history", || {
        dunstctl(&bus, &["history"]).filter(|h| h.contains(&note.summary))
    });
    assert!(history.contains("is the drive connected"), "{history}");
    assert!(history.contains("Lifeboat"), "app name: {history}");
}

#[test]
fn no_daemon_does_not_block() {
    let bus = PrivateBus::start();
    let guard = use_bus(&bus);
    let start = Instant::now();
    let outcome = notify::send(Note { summary: "Lifeboat: backup failed".into(), body: "test".into() });
    assert!(start.elapsed() < Duration::from_millis(200), "send returns at once: {:?}", start.elapsed());
    let result = outcome.recv_timeout(Duration::from_secs(5)).expect("the attempt ends within a few seconds");
    drop(guard);
    assert!(result.is_err(), "no daemon: {result:?}");
}

#[test]
fn a_daemon_that_fails_to_start_does_not_block_the_caller() {
    // A bus-activatable daemon that never claims its name: the D-Bus call waits ~25 s.
    let bus = PrivateBus::start();
    std::fs::write(
        bus.services.join("org.freedesktop.Notifications.service"),
        "[D-BUS Service]\nName=org.freedesktop.Notifications\nExec=/bin/sleep 40\n",
    )
    .unwrap();
    let guard = use_bus(&bus);
    let start = Instant::now();
    let outcome = notify::send(Note { summary: "Lifeboat: backup failed".into(), body: "test".into() });
    assert!(start.elapsed() < Duration::from_millis(200), "send returns at once: {:?}", start.elapsed());
    // The call itself is still stuck on its own thread, which is the point of that thread.
    assert!(outcome.recv_timeout(Duration::from_secs(2)).is_err(), "the daemon should still be starting");
    drop(guard);
}

#[test]
fn overdue_is_told_once_per_episode() {
    let dir = tempfile::tempdir().unwrap();
    let profile = lifeboat::Profile::new("A", dir.path().join("src"), dir.path().join("dest"));
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let engine = lifeboat::Engine::new(profile, dir.path().join("history.sqlite3")).unwrap();
    let now = chrono::Utc::now();
    let mut status = engine.status(now).unwrap();
    let notifier = Notifier::default();
    assert!(notifier.for_status(&status, now).is_none(), "no backup yet is not 'overdue'");

    let backup_at = now - chrono::Duration::days(3);
    status.last_backup = Some(fake_backup(backup_at));
    status.next_due = Some(backup_at + chrono::Duration::hours(12));
    let note = notifier.for_status(&status, now).expect("overdue for 3 days");
    assert_eq!(note.summary, "Lifeboat: no successful backup for 3 days");
    assert!(notifier.for_status(&status, now).is_none(), "once per episode");

    status.last_backup = Some(fake_backup(now));
    status.next_due = Some(now + chrono::Duration::hours(12));
    assert!(notifier.for_status(&status, now).is_none());
    status.last_backup = Some(fake_backup(backup_at));
    status.next_due = Some(backup_at + chrono::Duration::hours(12));
    assert!(notifier.for_status(&status, now).is_some(), "a new episode is told again");
}

#[test]
fn a_partial_backup_is_told_once_per_new_set_of_paths() {
    let dir = tempfile::tempdir().unwrap();
    let profile = lifeboat::Profile::new("A", dir.path().join("src"), dir.path().join("dest"));
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let engine = lifeboat::Engine::new(profile, dir.path().join("history.sqlite3")).unwrap();
    let mut status = engine.status(chrono::Utc::now()).unwrap();
    let notifier = Notifier::default();
    assert!(notifier.for_partial(&status).is_none(), "a whole backup (or none) says nothing");

    let set = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    status.health = lifeboat::Health::Partial;
    status.not_backed_up = set(&["audio_files/locked.wav", "notes/secret.txt"]);
    let note = notifier.for_partial(&status).expect("a partial backup is told");
    assert_eq!(note.summary, "Lifeboat: 2 items not backed up");
    assert_eq!(note.body, "audio_files/locked.wav, notes/secret.txt");

    assert!(notifier.for_partial(&status).is_none(), "the same set again: nothing new");
    status.not_backed_up = set(&["notes/secret.txt", "audio_files/locked.wav"]);
    assert!(notifier.for_partial(&status).is_none(), "the same set in another order: nothing new");

    status.not_backed_up = set(&["notes/secret.txt"]);
    let note = notifier.for_partial(&status).expect("another set is told");
    assert_eq!(note.summary, "Lifeboat: 1 item not backed up");

    status.health = lifeboat::Health::Ok;
    status.not_backed_up.clear();
    assert!(notifier.for_partial(&status).is_none());
    status.health = lifeboat::Health::Partial;
    status.not_backed_up = set(&["notes/secret.txt"]);
    assert!(notifier.for_partial(&status).is_some(), "after a whole backup the same set is news again");
}

fn fake_backup(at: chrono::DateTime<chrono::Utc>) -> lifeboat::BackupInfo {
    serde_json::from_value(serde_json::json!({
        "name": "backup_x", "path": "/x", "kind": "backup", "trigger": "scheduled",
        "started_at": at, "finished_at": at, "duration_secs": 1.0,
        "totals": {"files": 0, "dirs": 0, "symlinks": 0, "databases": 0, "bytes": 0, "bytes_written": 0, "files_linked": 0},
        "items": [], "databases": [], "warnings": []
    }))
    .unwrap()
}

#[test]
fn a_failed_startup_backup_notifies_through_the_app() {
    require_display();
    let sb = common::Sandbox::new();
    sb.write_config();
    std::fs::remove_dir_all(sb.destination.parent().unwrap()).unwrap();
    let bus = PrivateBus::start();
    let _dunst = start_dunst(&bus, sb.root.path());
    let mut app = sb.start_app(&bus, &[]);

    wait_for(Duration::from_secs(60), "the app's failure notification", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        dunstctl(&bus, &["count", "displayed"]).filter(|n| n.trim() != "0")
    });
    dunstctl(&bus, &["close-all"]).unwrap();
    let history = wait_for(Duration::from_secs(10), "the notification in dunst's history", || {
        dunstctl(&bus, &["history"]).filter(|h| h.contains("Lifeboat: backup failed"))
    });
    assert!(history.contains("destination not available"), "{history}");
    assert!(history.contains(&sb.destination.display().to_string()), "names the path: {history}");
    assert!(app.running(), "the app keeps running after a failure:\n{}", app.stderr());
}
