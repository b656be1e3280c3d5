//! How Lifeboat opens: a launch by the user opens the window (configured or not), the
//! login item's `--hidden` opens none and a later launch by the user shows it; with no
//! tray host on the bus the notice is remembered once shown (its text in the window is
//! checked by `e2e.rs`).

mod common;

use std::time::{Duration, Instant};

use common::{visible_windows, wait_for, PrivateBus, Sandbox};

/// The window's title.
const TITLE: &str = "Lifeboat";

/// The file the app writes once it has shown the no-tray notice (`background.rs`).
fn notice_marker(sb: &Sandbox) -> std::path::PathBuf {
    lifeboat_app::background::notice_marker(&sb.data_dir)
}

#[test]
fn a_launch_by_the_user_opens_the_window_even_when_configured() {
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    let mut app = sb.start_app(&bus, &[]);
    let pid = app.child.id();
    wait_for(Duration::from_secs(60), "the window of a configured app", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        visible_windows(pid, TITLE).pop()
    });
    // The startup backup still runs: the window does not replace the tray's work.
    wait_for(Duration::from_secs(60), "the startup backup", || sb.backups().pop());
    // No tray host on this private bus: the notice was shown (in this window) and remembered.
    assert!(notice_marker(&sb).is_file(), "the no-tray notice is remembered once shown");
}

#[test]
fn hidden_start_opens_no_window_and_a_later_launch_shows_it() {
    let sb = Sandbox::new();
    let bus = PrivateBus::start();
    let (mut app, pid) = hidden_start_after_the_notice(&sb, &bus);
    let calm = Instant::now();
    while calm.elapsed() < Duration::from_secs(5) {
        assert!(visible_windows(pid, TITLE).is_empty(), "--hidden opened a window");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The login item again (a second hidden launch) hands over and shows nothing.
    let mut again = sb.start_app_with(&bus, &["--hidden"], &[]);
    let status =
        wait_for(Duration::from_secs(20), "the second hidden launch to exit", || again.child.try_wait().unwrap());
    assert!(status.success(), "{}", again.stderr());
    std::thread::sleep(Duration::from_secs(2));
    assert!(visible_windows(pid, TITLE).is_empty(), "a hidden second launch opened the window");

    // The user launches Lifeboat from the app menu: the running one shows its window.
    launch_again_and_see_the_window(&sb, &bus, pid, "the running app's window");
    assert!(app.running(), "{}", app.stderr());
}

#[test]
fn hidden_start_without_a_tray_host_waits_then_tells_once() {
    // At login the panel may start after Lifeboat: a hidden start waits for one
    // (background::LOGIN_WAIT) and only then opens the window with the notice, once.
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    let mut app = sb.start_app_with(&bus, &["--hidden"], &[]);
    let pid = app.child.id();
    sb.startup_backup(&mut app);
    assert!(visible_windows(pid, TITLE).is_empty(), "no window while waiting for a panel");
    assert!(!notice_marker(&sb).exists(), "the notice is not shown yet");
    let wait = lifeboat_app::background::LOGIN_WAIT;
    wait_for(wait + Duration::from_secs(30), "the window with the notice", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        visible_windows(pid, TITLE).pop()
    });
    assert!(app.started.elapsed() >= wait, "the window came before the wait was over");
    assert!(notice_marker(&sb).is_file(), "the notice is remembered");
    drop(app);

    // Shown once: the next hidden start stays hidden with no panel, past the wait.
    let mut app = sb.start_app_with(&bus, &["--hidden"], &[]);
    let pid = app.child.id();
    let calm = Instant::now();
    while calm.elapsed() < wait + Duration::from_secs(5) {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        assert!(visible_windows(pid, TITLE).is_empty(), "the notice came back after it was shown");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn an_idle_app_gives_back_the_file_pages_it_no_longer_uses() {
    // trim.rs: 20 s after the start, with no window and nothing running, the kernel is
    // asked to reclaim the app's read-only file mappings (code that ran once).
    let sb = Sandbox::new();
    let bus = PrivateBus::start();
    let (mut app, pid) = hidden_start_after_the_notice(&sb, &bus);
    let before = private_clean_kib(pid);
    let after = wait_for(Duration::from_secs(60), "the idle trim", || {
        assert!(app.running(), "{}", app.stderr());
        let now = private_clean_kib(pid);
        (now * 4 < before).then_some(now)
    });
    println!("private clean pages: {before} KiB after the start, {after} KiB once trimmed");
    assert!(visible_windows(pid, TITLE).is_empty());
    // The app works on from the pages it reads back: a second launch shows the window.
    launch_again_and_see_the_window(&sb, &bus, pid, "the window after the trim");
}

/// A configured app started hidden (as at login) whose no-tray notice was shown on an
/// earlier day, so it has nothing to show at all; returns once its startup backup is done.
fn hidden_start_after_the_notice(sb: &Sandbox, bus: &PrivateBus) -> (common::AppProcess, u32) {
    sb.write_config();
    std::fs::create_dir_all(&sb.data_dir).unwrap();
    std::fs::write(notice_marker(sb), "shown\n").unwrap();
    let mut app = sb.start_app_with(bus, &["--hidden"], &[]);
    let pid = app.child.id();
    sb.startup_backup(&mut app);
    (app, pid)
}

/// Launches Lifeboat again as from the app menu: the launch hands over and exits, and the
/// running app `pid` shows its window (`what`, for the timeout message).
fn launch_again_and_see_the_window(sb: &Sandbox, bus: &PrivateBus, pid: u32, what: &str) {
    let mut second = sb.start_app(bus, &[]);
    let status = wait_for(Duration::from_secs(20), "the second launch to exit", || second.child.try_wait().unwrap());
    assert!(status.success(), "{}", second.stderr());
    wait_for(Duration::from_secs(30), what, || visible_windows(pid, TITLE).pop());
}

/// The process's private clean pages (file pages only it maps), KiB, from smaps_rollup.
fn private_clean_kib(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Private_Clean:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("Private_Clean in smaps_rollup")
}
