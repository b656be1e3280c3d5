//! The one window: opened from the tray, hidden (or destroyed) on close, focused on a
//! second launch, and the folder picker it asks for. The app lives on in the tray until
//! "Quit".

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, Window, WindowEvent};
use tauri_plugin_dialog::DialogExt;

pub const MAIN: &str = "main";

/// Closing destroys the webview rather than hiding it: WebKit's web process (~245 MB
/// resident, measured under Xvfb) then exits and the app idles without it.
pub const DESTROY_ON_CLOSE: bool = true;

/// The page's query that makes the window show the background notice (`ui/main.js`).
pub const NOTICE_QUERY: &str = "notice=background";

/// Shows and focuses the window, creating it if it was closed.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    open(app, false);
}

/// Shows the window with the notice that Lifeboat keeps running in the background and how
/// to open it again (for a desktop with no tray icon).
pub fn show_notice<R: Runtime>(app: &AppHandle<R>) {
    open(app, true);
}

fn open<R: Runtime>(app: &AppHandle<R>, notice: bool) {
    if let Some(window) = app.get_webview_window(MAIN) {
        if notice {
            let _ = window.eval("window.lifeboatShowNotice && window.lifeboatShowNotice()");
        }
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return;
    }
    let page = if notice { format!("index.html?{NOTICE_QUERY}") } else { "index.html".to_string() };
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App(page.into()))
        .title("Lifeboat")
        .inner_size(420.0, 640.0)
        .min_inner_size(360.0, 480.0)
        .build();
    match built {
        Ok(window) => {
            let _ = window.set_focus();
            tracing::info!("window opened");
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}

/// Close hides the window (or lets it be destroyed); the app keeps running either way.
pub fn on_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == MAIN && !DESTROY_ON_CLOSE {
            api.prevent_close();
            let _ = window.hide();
        }
        tracing::info!("window closed");
    }
}

/// The test seam for [`pick_folder`]: when set, its value is returned as the folder picked
/// and no dialog opens (WebDriver cannot drive the native picker). Unset in normal use.
pub const TEST_PICK_FOLDER: &str = "LIFEBOAT_TEST_PICK_FOLDER";

/// A native folder picker over the window, starting at `start`; `None` when cancelled.
pub async fn pick_folder<R: Runtime>(app: &AppHandle<R>, start: Option<String>) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(TEST_PICK_FOLDER).filter(|p| !p.is_empty()) {
        tracing::info!("folder picked through {TEST_PICK_FOLDER} (test seam): {}", PathBuf::from(&path).display());
        return Some(PathBuf::from(path));
    }
    let mut dialog = app.dialog().file().set_title("Choose a folder");
    if let Some(start) = start.filter(|s| !s.is_empty()) {
        dialog = dialog.set_directory(start);
    }
    if let Some(window) = app.get_webview_window(MAIN) {
        dialog = dialog.set_parent(&window);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked.and_then(|p| p.into_path().ok()));
    });
    let picked = rx.await.unwrap_or(None);
    tracing::info!("folder picked: {picked:?}");
    picked
}
