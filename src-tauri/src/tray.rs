//! The tray icon and its menu: a status line, "Back up now", open, pause, launch at login.
//! A click acts through `api` (the scheduler); what it changes comes back to
//! [`update`] from the events loop, never by a call from here.

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use lifeboat::view::State;

use crate::api;
use crate::state::{AppState, AppStatus};

const TRAY_ID: &str = "lifeboat";

/// The menu items whose text or state follows the status.
struct TrayHandles<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    offsite: MenuItem<R>,
    /// The offsite line shown: it changes seldom, so it is set only when it does (each
    /// menu change is a round trip to the main thread).
    offsite_shown: std::sync::Mutex<String>,
    backup_now: MenuItem<R>,
    open_folder: MenuItem<R>,
    pause_hour: MenuItem<R>,
    pause_indefinitely: MenuItem<R>,
    resume: MenuItem<R>,
    launch_at_login: CheckMenuItem<R>,
}

fn icon_for(state: State) -> Image<'static> {
    let bytes: &[u8] = match state {
        State::Protected => include_bytes!("../../icons/tray-ok@2x.png"),
        State::BackingUp => include_bytes!("../../icons/tray-running@2x.png"),
        State::NeedsAttention | State::Setup => include_bytes!("../../icons/tray-attention@2x.png"),
        State::Paused => include_bytes!("../../icons/tray-paused@2x.png"),
    };
    Image::from_bytes(bytes).expect("tray icons are valid PNGs")
}

/// Builds the tray icon and its menu for the current status.
pub fn create<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) -> tauri::Result<()> {
    let status_item = MenuItem::with_id(app, "status", &status.view.headline, false, None::<&str>)?;
    let offsite = MenuItem::with_id(app, "offsite", offsite_line(status), false, None::<&str>)?;
    let backup_now = MenuItem::with_id(app, "backup_now", "Back up now", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Lifeboat", true, None::<&str>)?;
    let open_folder = MenuItem::with_id(app, "open_folder", "Open backup folder", true, None::<&str>)?;
    let pause_hour = MenuItem::with_id(app, "pause_hour", "For 1 hour", true, None::<&str>)?;
    let pause_indefinitely = MenuItem::with_id(app, "pause_indefinitely", "Until resumed", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume", "Resume", false, None::<&str>)?;
    let pause = Submenu::with_id_and_items(
        app,
        "pause",
        "Pause backups",
        true,
        &[&pause_hour, &pause_indefinitely, &PredefinedMenuItem::separator(app)?, &resume],
    )?;
    let launch_at_login =
        CheckMenuItem::with_id(app, "launch_at_login", "Launch at login", true, status.autostart, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status_item,
            &offsite,
            &PredefinedMenuItem::separator(app)?,
            &backup_now,
            &open,
            &open_folder,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &launch_at_login,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let icon = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_for(status.view.state))
        .tooltip(format!("Lifeboat: {}", status.view.headline))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    let handles = TrayHandles {
        icon,
        status: status_item,
        offsite,
        offsite_shown: std::sync::Mutex::new(offsite_line(status)),
        backup_now,
        open_folder,
        pause_hour,
        pause_indefinitely,
        resume,
        launch_at_login,
    };
    handles.show(status);
    app.manage(handles);
    Ok(())
}

impl<R: Runtime> TrayHandles<R> {
    fn show(&self, status: &AppStatus) {
        let configured = status.view.state != State::Setup;
        let paused = status.paused_until.is_some();
        let results = [
            self.icon.set_icon(Some(icon_for(status.view.state))),
            self.icon.set_tooltip(Some(format!("Lifeboat: {}", status.view.headline))),
            self.status.set_text(&status.view.headline),
            self.show_offsite(status),
            self.backup_now.set_enabled(configured && status.running.is_none()),
            self.open_folder.set_enabled(configured),
            self.pause_hour.set_enabled(configured),
            self.pause_indefinitely.set_enabled(configured && status.paused_until.as_deref() != Some("indefinitely")),
            self.resume.set_enabled(paused),
            self.launch_at_login.set_checked(status.autostart),
        ];
        for e in results.into_iter().filter_map(Result::err) {
            tracing::warn!("cannot update the tray: {e}");
        }
    }
}

impl<R: Runtime> TrayHandles<R> {
    fn show_offsite(&self, status: &AppStatus) -> tauri::Result<()> {
        let line = offsite_line(status);
        let mut shown = self.offsite_shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown == line {
            return Ok(());
        }
        self.offsite.set_text(&line)?;
        *shown = line;
        Ok(())
    }
}

/// The offsite line of the menu: the engine's words, or that there is no offsite copy.
fn offsite_line(status: &AppStatus) -> String {
    status.view.offsite.as_ref().map_or_else(|| "Offsite copy: not set up".to_string(), |o| o.line.clone())
}

/// Shows `status` in the tray: icon, status line, enabled items.
pub fn update<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) {
    if let Some(handles) = app.try_state::<TrayHandles<R>>() {
        handles.show(status);
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    tracing::info!("tray: {id}");
    let state = Arc::clone(&app.state::<Arc<AppState>>());
    match id {
        "backup_now" => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = api::backup_now(&state).await {
                    tracing::warn!("back up now: {e}");
                }
            });
        }
        "open" => crate::window::show(app),
        "open_folder" => {
            std::thread::spawn(move || {
                if let Err(e) = api::open_backup_folder(&state, None) {
                    tracing::warn!("open backup folder: {e}");
                }
            });
        }
        "pause_hour" | "pause_indefinitely" => {
            let hours = (id == "pause_hour").then_some(1.0);
            std::thread::spawn(move || {
                if let Err(e) = api::pause_backups(&state, hours) {
                    tracing::warn!("pause: {e}");
                }
            });
        }
        "resume" => {
            std::thread::spawn(move || api::resume_backups(&state));
        }
        "launch_at_login" => {
            std::thread::spawn(move || {
                let wanted = !api::get_autostart(&state);
                if let Err(e) = api::set_autostart(&state, wanted) {
                    tracing::warn!("launch at login: {e}");
                }
            });
        }
        "quit" => {
            tracing::info!("quit from the tray");
            app.exit(0);
        }
        _ => {}
    }
}
