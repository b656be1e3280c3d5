//! The scheduler: due times with an injected clock, and `lifeboat run` in real time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lifeboat::{BackupOutcome, Engine, Profile, Trigger};
use lifeboat::{Clock, Pause, Scheduler};

struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    fn advance(&self, d: chrono::Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// A small app: a WAL database and a folder of files.
fn small_app(root: &Path) -> Profile {
    let source = root.join("My App");
    std::fs::create_dir_all(source.join("audio files")).unwrap();
    for i in 0..20 {
        std::fs::write(source.join(format!("audio files/take {i}.wav")), vec![i as u8; 4096]).unwrap();
    }
    let db = rusqlite::Connection::open(source.join("app.db")).unwrap();
    db.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);").unwrap();
    drop(db);
    let mut p = Profile::new("My App", &source, root.join("backups"));
    p.include = vec!["app.db".into(), "audio files".into()];
    p
}

fn backups(dest: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dest)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| n.starts_with("backup_"));
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_missed_while_asleep_is_due_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let profile = small_app(dir.path());
    let engine = Engine::new(profile.clone(), dir.path().join("history.sqlite3")).unwrap();
    let clock = Arc::new(FakeClock(Mutex::new(Utc::now())));
    let s = Scheduler::new(Some(engine), clock.clone());

    assert!(s.due_now(), "no backup yet: due at once");
    let first = s.backup_now(Trigger::Startup).await.unwrap();
    assert!(matches!(first, BackupOutcome::Created { .. }));
    assert!(!s.due_now(), "just backed up");

    clock.advance(chrono::Duration::hours(11));
    assert!(!s.due_now(), "11 h after: not due yet");
    // The machine slept through the due time: on waking, the wall clock says it is late.
    clock.advance(chrono::Duration::hours(3));
    assert!(s.due_now(), "14 h after: overdue, due at once");

    s.pause(Pause::Until(clock.now() + chrono::Duration::hours(1)));
    assert!(!s.due_now(), "paused");
    clock.advance(chrono::Duration::minutes(61));
    assert!(s.paused().is_none(), "a timed pause runs out");
    assert!(s.due_now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_after_a_pause_not_every_tick() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = small_app(dir.path());
    profile.destination = dir.path().join("unplugged drive/Backups");
    let engine = Engine::new(profile, dir.path().join("history.sqlite3")).unwrap();
    let clock = Arc::new(FakeClock(Mutex::new(Utc::now())));
    let s = Scheduler::new(Some(engine), clock.clone());
    let mut events = s.subscribe();

    let e = s.backup_now(Trigger::Scheduled).await.unwrap_err();
    assert_eq!(e.kind().as_str(), "destination_unavailable");
    assert!(e.to_string().contains("unplugged drive"), "{e}");
    assert!(!dir.path().join("unplugged drive").exists(), "no look-alike folder is created");
    let mut streaks = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let lifeboat::Event::Failed { streak, .. } = ev {
            streaks.push(streak);
        }
    }
    assert_eq!(streaks, vec![1]);
    assert!(!s.due_now(), "right after a failure");
    clock.advance(lifeboat::DEFAULT_RETRY_AFTER + chrono::Duration::seconds(1));
    assert!(s.due_now(), "retried after the pause");
    let _ = s.backup_now(Trigger::Scheduled).await;
    let streak = loop {
        if let lifeboat::Event::Failed { streak, .. } = events.recv().await.unwrap() {
            break streak;
        }
    };
    assert_eq!(streak, 2, "the second failure of a streak");
}

/// Two profiles backing up into one folder (the tray app's profiles share one queue):
/// started together, the second waits for the first instead of failing on the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_on_one_destination_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = small_app(dir.path());
    let mut second = small_app(&dir.path().join("other"));
    second.name = "Other App".into();
    second.destination = first.destination.clone();
    first.keep = 10;
    second.keep = 10;
    let history = dir.path().join("history.sqlite3");
    let queue = lifeboat::DestinationQueue::new();
    let clock: Arc<dyn Clock> = Arc::new(lifeboat::SystemClock);
    let retry = lifeboat::DEFAULT_RETRY_AFTER;
    let a = Scheduler::sharing(Some(Engine::new(first, &history).unwrap()), clock.clone(), retry, queue.clone());
    let b = Scheduler::sharing(Some(Engine::new(second, &history).unwrap()), clock, retry, queue);

    let (ra, rb) = tokio::join!(a.backup_now(Trigger::Manual), b.backup_now(Trigger::Manual));
    assert!(matches!(ra.unwrap(), BackupOutcome::Created { .. }));
    assert!(matches!(rb.unwrap(), BackupOutcome::Created { .. }));
    assert_eq!(backups(&dir.path().join("backups")).len(), 2, "one backup of each profile");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(dir: &Path, config: &Path) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_lifeboat"))
            .args(["--config".as_ref(), config.as_os_str(), "run".as_ref()])
            .env("LIFEBOAT_DATA_DIR", dir.join("data"))
            .env("LIFEBOAT_TICK_SECS", "0.2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write_config(dir: &Path, profile: &Profile) -> PathBuf {
    let mut c = lifeboat::Config::default();
    c.upsert(profile.clone());
    let path = dir.join("config.toml");
    c.save(&path).unwrap();
    path
}

#[test]
fn lifeboat_run_backs_up_on_start_then_skips_unchanged_then_backs_up_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = small_app(dir.path());
    profile.every_hours = 2.0 / 3600.0; // every 2 s
    let config = write_config(dir.path(), &profile);
    let dest = profile.destination.clone();

    let run = start_run(dir.path(), &config);
    wait_for("the startup backup", Duration::from_secs(20), || backups(&dest).len() == 1);
    let history = lifeboat::History::new(dir.path().join("data/history.sqlite3"));
    wait_for("a skipped unchanged run", Duration::from_secs(20), || {
        history.recent("My App", 50).unwrap().iter().any(|r| r.outcome == lifeboat::Outcome::Skipped)
    });
    assert_eq!(backups(&dest).len(), 1, "unchanged sources make no new backup");
    let first = history.recent("My App", 50).unwrap().into_iter().last().unwrap();
    assert_eq!(first.trigger, "startup");

    std::fs::write(profile.source.join("audio files/take 3.wav"), b"a new take").unwrap();
    wait_for("a backup of the change", Duration::from_secs(20), || backups(&dest).len() == 2);
    let newest = lifeboat::newest_backup(&dest).unwrap();
    assert_eq!(newest.trigger, Trigger::Scheduled);
    drop(run);
}

#[test]
fn lifeboat_run_waits_when_the_newest_backup_is_recent() {
    let dir = tempfile::tempdir().unwrap();
    let profile = small_app(dir.path());
    let engine = Engine::new(profile.clone(), dir.path().join("data/history.sqlite3")).unwrap();
    engine.backup(Trigger::Manual, &lifeboat::NoProgress).unwrap();
    std::fs::write(profile.source.join("audio files/take 1.wav"), b"changed").unwrap();
    let config = write_config(dir.path(), &profile);

    let run = start_run(dir.path(), &config);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(backups(&profile.destination).len(), 1, "not due for 12 h: no startup backup");
    drop(run);
}
