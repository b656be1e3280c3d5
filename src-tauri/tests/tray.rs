//! Clicks "Back up now" in the real app's tray menu the way a desktop panel does: the
//! test is the StatusNotifierWatcher on the session bus, the app's item registers with
//! it, the test reads the item's menu over com.canonical.dbusmenu and sends "clicked"
//! (`common::dbusmenu`). `tray_host.rs` does the same through a real panel and a mouse.

mod common;

use std::time::Duration;

use common::dbusmenu::TrayHost;
use common::{wait_for, PrivateBus, Sandbox};

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

/// Child processes of `pid` that are WebKit web processes (one per open webview).
fn web_processes(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            stat.contains("(WebKitWebProces") && ppid == Some(pid.to_string().as_str())
        })
        .collect()
}
