//! Running in the background: whether a desktop panel shows the tray icon (a
//! StatusNotifier host on the session bus), and the notice, shown once in the window, that
//! tells a user without one how to open Lifeboat again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tauri::{AppHandle, Runtime};

use crate::window;

/// The bus name of the StatusNotifier watcher a panel (the host) talks to.
pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// How long a hidden start (at login) waits for a panel that starts after Lifeboat.
pub const LOGIN_WAIT: Duration = Duration::from_secs(30);

/// The file that remembers the notice was shown (in the data dir): it is shown once.
pub fn notice_marker(data_dir: &Path) -> PathBuf {
    data_dir.join("background-notice-shown")
}

/// Whether a tray host is there now: the watcher has an owner and (when it says) a host
/// registered with it. `None` when the session bus cannot be reached at all.
#[cfg(target_os = "linux")]
pub fn tray_host_present() -> Option<bool> {
    let conn = zbus::blocking::Connection::session().ok()?;
    let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).ok()?;
    let owned = dbus.name_has_owner(zbus::names::BusName::try_from(WATCHER).ok()?).ok()?;
    if !owned {
        return Some(false);
    }
    let host = zbus::blocking::Proxy::new(&conn, WATCHER, "/StatusNotifierWatcher", WATCHER)
        .and_then(|p| p.get_property::<bool>("IsStatusNotifierHostRegistered"));
    // A watcher that does not answer the property still has a panel behind it.
    Some(host.unwrap_or(true))
}

/// macOS and Windows always show the menu-bar / notification-area icon.
#[cfg(not(target_os = "linux"))]
pub fn tray_host_present() -> Option<bool> {
    Some(true)
}

/// Polls [`tray_host_present`] until it says yes or `wait` is over; a bus that cannot be
/// reached counts as no host.
pub fn wait_for_tray_host(wait: Duration) -> bool {
    let start = Instant::now();
    loop {
        if tray_host_present() == Some(true) {
            return true;
        }
        if start.elapsed() >= wait {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Whether the notice is still to be shown: no tray host and never shown before.
pub fn notice_due(data_dir: &Path, host: bool) -> bool {
    !host && !notice_marker(data_dir).exists()
}

/// Remembers that the notice was shown, so it never shows again.
pub fn remember_notice(data_dir: &Path) {
    let marker = notice_marker(data_dir);
    let written = std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(&marker, b"shown\n"));
    if let Err(e) = written {
        tracing::warn!("cannot remember the background notice at {}: {e}", marker.display());
    }
}

/// A launch by the user: opens the window, with the notice in it when there is no tray
/// host and the notice has not been shown yet.
pub fn open_on_launch<R: Runtime>(app: &AppHandle<R>, data_dir: &Path) {
    let host = tray_host_present() == Some(true);
    if notice_due(data_dir, host) {
        tracing::info!("no tray host on the session bus: the window tells how to open Lifeboat again");
        // Remembered first: the window can be on screen before building it returns.
        remember_notice(data_dir);
        window::show_notice(app);
    } else {
        window::show(app);
    }
}

/// A hidden start (the login item): no window, unless no tray host appears within
/// [`LOGIN_WAIT`] and the notice is due; then the window opens once, with the notice.
pub fn watch_hidden_start<R: Runtime>(app: &AppHandle<R>, data_dir: PathBuf) {
    if notice_marker(&data_dir).exists() {
        return;
    }
    let app = app.clone();
    std::thread::spawn(move || {
        if wait_for_tray_host(LOGIN_WAIT) {
            return;
        }
        tracing::info!("no tray host after {} s: the window tells how to open Lifeboat again", LOGIN_WAIT.as_secs());
        let main = app.clone();
        if app.run_on_main_thread(move || window::show_notice(&main)).is_ok() {
            remember_notice(&data_dir);
        }
    });
}
