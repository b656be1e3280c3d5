//! Clicks "Back up now" in the real app's tray menu the way a desktop panel does: the
//! test is the StatusNotifierWatcher on the session bus, the app's item registers with
//! it, the test reads the item's menu over com.canonical.dbusmenu and sends "clicked"
//! (`common::dbusmenu`). `tray_host.rs` does the same through a real panel and a mouse.

mod common;

use std::time::Duration;

use common::dbusmenu::TrayHost;
use common::{visible_windows, wait_for, PrivateBus, Sandbox};

#[test]
fn back_up_now_from_the_tray_menu_makes_a_backup() {
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    // The app starts first, hidden as at login: its item must register when the watcher
    // appears later, and no window opens.
    let mut app = sb.start_app_with(&bus, &["--hidden"], &[]);
    let startup = wait_for(Duration::from_secs(60), "the startup backup", || sb.backups().pop());

    let tray = TrayHost::start(&bus, &mut app);

    // Once the startup backup is done, the menu says so and "Back up now" is enabled.
    let root = tray.wait("an idle menu with the last backup", |root| {
        root.find("Back up now").is_some_and(|e| e.enabled)
            && root.labels().iter().any(|l| l.starts_with("Last backup just now"))
    });
    for label in
        ["Open Lifeboat", "Open backup folder", "Pause backups", "For 1 hour", "Until resumed", "Resume", "Quit"]
    {
        assert!(root.find(label).is_some(), "no {label:?} in {:?}", root.labels());
    }
    assert!(root.find("Launch at login").is_some(), "{:?}", root.labels());
    println!("tray menu: {:?}", root.labels());
    let before = sb.backups();
    tray.click("Back up now");
    let created = wait_for(Duration::from_secs(60), "a backup from the tray click", || {
        let now = sb.backups();
        now.iter().find(|n| !before.contains(n)).cloned()
    });
    println!("startup backup {startup}, tray-click backup {created}");
    assert_ne!(created, startup);
    let manifest = std::fs::read_to_string(sb.destination.join(&created).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"manual\""), "the tray click is a manual backup");
    assert!(app.running(), "the app keeps running:\n{}", app.stderr());

    // Pausing from the menu shows in the status line, resuming clears it.
    let click = |label: &str| tray.click(label);
    let status_line = |prefix: &str| {
        wait_for(Duration::from_secs(20), &format!("the status line {prefix:?}"), || {
            let root = tray.root().ok()?;
            root.labels().into_iter().find(|l| l.starts_with(prefix))
        })
    };
    click("Until resumed");
    status_line("Paused until resumed");
    click("Resume");
    status_line("Last backup just now");

    // "Open Lifeboat" opens the window: a WebKit web process appears under the app.
    assert!(web_processes(app.child.id()).is_empty(), "no window (and no web process) in the tray");
    click("Open Lifeboat");
    wait_for(Duration::from_secs(30), "the window's web process", || {
        (!web_processes(app.child.id()).is_empty()).then_some(())
    });
    assert!(app.running(), "{}", app.stderr());
}

#[test]
fn a_closed_window_gives_its_memory_back_by_a_hidden_relaunch_that_keeps_the_pause() {
    common::require_display();
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    let mut app = sb.start_app_with(&bus, &["--hidden"], &[("LIFEBOAT_RELAUNCH_AFTER_SECS", "2")]);
    let pid = app.child.id();
    let startup = sb.startup_backup(&mut app);
    let mut tray = TrayHost::start(&bus, &mut app);
    tray.wait("an idle menu", |root| root.find("Back up now").is_some_and(|e| e.enabled));
    tray.click("Until resumed");
    let status_line = |tray: &TrayHost, prefix: &str| {
        wait_for(Duration::from_secs(30), &format!("the status line {prefix:?}"), || {
            tray.root().ok()?.labels().into_iter().find(|l| l.starts_with(prefix))
        })
    };
    status_line(&tray, "Paused until resumed");

    // Open the window, then close it as a window manager's close button does.
    tray.click("Open Lifeboat");
    let window = wait_for(Duration::from_secs(30), "the window", || visible_windows(pid, "Lifeboat").pop());
    wait_for(Duration::from_secs(30), "the window's web process", || web_processes(pid).first().copied());
    let xclose = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/xclose.py");
    let closed = std::process::Command::new("python3").arg(xclose).arg(&window).status().unwrap();
    assert!(closed.success(), "xclose.py {window}");

    // Two seconds on, nothing running: the app re-executes itself hidden. Same process,
    // no window, no WebKit process, a new tray item.
    tray.follow_new_item(Duration::from_secs(60), || assert!(app.running(), "the app exited:\n{}", app.stderr()));
    assert_eq!(app.child.id(), pid);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.split(|b| *b == 0).any(|a| a == b"--hidden"), "relaunched hidden: {cmdline:?}");
    assert!(visible_windows(pid, "Lifeboat").is_empty(), "the relaunch opened a window");
    wait_for(Duration::from_secs(30), "the WebKit processes to end", || {
        (web_processes(pid).is_empty() && webkit_children(pid).is_empty()).then_some(())
    });
    let log = std::fs::read_dir(sb.data_dir.join("logs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(log.contains("relaunching hidden"), "the log says why the app restarted:\n{log}");

    // The pause held across the relaunch (it is on disk), and the relaunched app works.
    status_line(&tray, "Paused until resumed");
    tray.click("Resume");
    status_line(&tray, "Last backup");
    tray.click("Back up now");
    let created = wait_for(Duration::from_secs(60), "a backup from the relaunched app", || {
        sb.backups().into_iter().find(|n| *n != startup)
    });
    println!("startup backup {startup}, after the relaunch {created}");
    assert!(sb.backups().len() >= 2);
    tray.click("Open Lifeboat");
    wait_for(Duration::from_secs(30), "the window again", || visible_windows(pid, "Lifeboat").pop());
    assert!(app.running(), "{}", app.stderr());
}

/// Child processes of `pid` whose name starts with "WebKit" (web and network processes).
fn webkit_children(pid: u32) -> Vec<u32> {
    children(pid, "(WebKit")
}

/// Child processes of `pid` that are WebKit web processes (one per open webview).
fn web_processes(pid: u32) -> Vec<u32> {
    children(pid, "(WebKitWebProces")
}

/// Child processes of `pid` whose `/proc/PID/stat` holds `name` (the command in parentheses).
fn children(pid: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            stat.contains(name) && ppid == Some(pid.to_string().as_str())
        })
        .collect()
}
