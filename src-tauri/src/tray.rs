//! The tray icon and its menu: a status line (the worst profile's), "Back up now" (with
//! several profiles a submenu: each profile, and "All"), open, open backup folder (with
//! several, a submenu of each profile), pause, launch at login.
//! A click acts through `api` (the scheduler); what it changes comes back to
//! [`update`] from the events loop, never by a call from here.

use std::sync::{Arc, Mutex};

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use lifeboat::view::State;

use crate::api;
use crate::state::{AppState, AppStatus};

const TRAY_ID: &str = "lifeboat";
/// Menu ids of the entries that act on a profile; in a submenu, a profile's item is
/// `ID:NAME` and "All" is `ID_all`.
const BACKUP_NOW: &str = "backup_now";
const OPEN_FOLDER: &str = "open_folder";

/// An entry that acts on a profile: one item for one profile; with several, a submenu of
/// each profile (and "All" when it has one).
enum PerProfile<R: Runtime> {
    One(MenuItem<R>),
    Several { menu: Submenu<R>, profiles: Vec<(String, MenuItem<R>)>, all: Option<MenuItem<R>> },
}

impl<R: Runtime> PerProfile<R> {
    fn build(app: &AppHandle<R>, id: &str, label: &str, profiles: &[String], all: bool) -> tauri::Result<Self> {
        if profiles.len() < 2 {
            return Ok(PerProfile::One(MenuItem::with_id(app, id, label, true, None::<&str>)?));
        }
        let items = profiles
            .iter()
            .map(|name| Ok((name.clone(), MenuItem::with_id(app, format!("{id}:{name}"), name, true, None::<&str>)?)))
            .collect::<tauri::Result<Vec<_>>>()?;
        let all =
            if all { Some(MenuItem::with_id(app, format!("{id}_all"), "All", true, None::<&str>)?) } else { None };
        let separator = PredefinedMenuItem::separator(app)?;
        let mut entries: Vec<&dyn IsMenuItem<R>> = items.iter().map(|(_, i)| i as &dyn IsMenuItem<R>).collect();
        if let Some(all) = &all {
            entries.extend([&separator as &dyn IsMenuItem<R>, all]);
        }
        let menu = Submenu::with_id_and_items(app, format!("{id}_menu"), label, true, &entries)?;
        Ok(PerProfile::Several { menu, profiles: items, all })
    }

    /// The item, or the submenu, to put in the menu.
    fn entry(&self) -> &dyn IsMenuItem<R> {
        match self {
            PerProfile::One(item) => item,
            PerProfile::Several { menu, .. } => menu,
        }
    }

    /// Enables the single item when `one`, each profile's when `each(name)`, "All" when `all`.
    fn set_enabled(&self, one: bool, each: impl Fn(&str) -> bool, all: bool) -> Vec<tauri::Result<()>> {
        match self {
            PerProfile::One(item) => vec![item.set_enabled(one)],
            PerProfile::Several { profiles, all: all_item, .. } => {
                let mut results: Vec<_> = profiles.iter().map(|(name, item)| item.set_enabled(each(name))).collect();
                results.extend(all_item.iter().map(|item| item.set_enabled(all)));
                results
            }
        }
    }
}

/// The menu items whose text or state follows the status, and the profiles the menu was
/// built for (a new profile rebuilds it).
struct TrayMenu<R: Runtime> {
    profiles: Vec<String>,
    status: MenuItem<R>,
    offsite: MenuItem<R>,
    /// The offsite line shown: it changes seldom, so it is set only when it does (each
    /// menu change is a round trip to the main thread).
    offsite_shown: Mutex<String>,
    backup_now: PerProfile<R>,
    open_folder: PerProfile<R>,
    pause_hour: MenuItem<R>,
    pause_indefinitely: MenuItem<R>,
    resume: MenuItem<R>,
    launch_at_login: CheckMenuItem<R>,
}

/// The tray icon and its current menu.
struct TrayHandles<R: Runtime> {
    icon: TrayIcon<R>,
    menu: Mutex<TrayMenu<R>>,
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

fn profile_names(status: &AppStatus) -> Vec<String> {
    status.profiles.iter().map(|p| p.profile.clone()).collect()
}

/// Builds the menu for the profiles of `status`.
fn build_menu<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) -> tauri::Result<(Menu<R>, TrayMenu<R>)> {
    let profiles = profile_names(status);
    let status_item = MenuItem::with_id(app, "status", &status.view.headline, false, None::<&str>)?;
    let offsite = MenuItem::with_id(app, "offsite", offsite_line(status), false, None::<&str>)?;
    let backup_now = PerProfile::build(app, BACKUP_NOW, "Back up now", &profiles, true)?;
    let open = MenuItem::with_id(app, "open", "Open Lifeboat", true, None::<&str>)?;
    let open_folder = PerProfile::build(app, OPEN_FOLDER, "Open backup folder", &profiles, false)?;
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
            backup_now.entry(),
            &open,
            open_folder.entry(),
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &launch_at_login,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let handles = TrayMenu {
        profiles,
        status: status_item,
        offsite_shown: Mutex::new(offsite_line(status)),
        offsite,
        backup_now,
        open_folder,
        pause_hour,
        pause_indefinitely,
        resume,
        launch_at_login,
    };
    Ok((menu, handles))
}

/// Builds the tray icon and its menu for the current status.
pub fn create<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) -> tauri::Result<()> {
    let (menu, items) = build_menu(app, status)?;
    let icon = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon_for(status.view.state))
        .tooltip(format!("Lifeboat: {}", status.view.headline))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    let handles = TrayHandles { icon, menu: Mutex::new(items) };
    handles.show(status);
    app.manage(handles);
    Ok(())
}

impl<R: Runtime> TrayHandles<R> {
    fn show(&self, status: &AppStatus) {
        let mut results = vec![
            self.icon.set_icon(Some(icon_for(status.view.state))),
            self.icon.set_tooltip(Some(format!("Lifeboat: {}", status.view.headline))),
        ];
        let menu = self.menu.lock().unwrap_or_else(|e| e.into_inner());
        results.extend(menu.show(status));
        for e in results.into_iter().filter_map(Result::err) {
            tracing::warn!("cannot update the tray: {e}");
        }
    }
}

impl<R: Runtime> TrayMenu<R> {
    fn show(&self, status: &AppStatus) -> Vec<tauri::Result<()>> {
        let configured = status.view.state != State::Setup;
        let idle = |name: &str| status.profiles.iter().any(|p| p.profile == name && p.running.is_none());
        let any_paused = status.profiles.iter().any(|p| p.paused_until.is_some());
        let all_paused_indefinitely = !status.profiles.is_empty()
            && status.profiles.iter().all(|p| p.paused_until.as_deref() == Some("indefinitely"));
        let mut results = vec![
            self.status.set_text(&status.view.headline),
            self.show_offsite(status),
            self.pause_hour.set_enabled(configured),
            self.pause_indefinitely.set_enabled(configured && !all_paused_indefinitely),
            self.resume.set_enabled(any_paused),
            self.launch_at_login.set_checked(status.autostart),
        ];
        let any_idle = status.profiles.iter().any(|p| p.running.is_none());
        results.extend(self.backup_now.set_enabled(configured && status.running.is_none(), idle, any_idle));
        results.extend(self.open_folder.set_enabled(configured, |_| true, true));
        results
    }
}

impl<R: Runtime> TrayMenu<R> {
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

/// The offsite line of the menu: the engine's words for the profile the status line
/// shows, or that there is no offsite copy.
fn offsite_line(status: &AppStatus) -> String {
    status.view.offsite.as_ref().map_or_else(|| "Offsite copy: not set up".to_string(), |o| o.line.clone())
}

/// Shows `status` in the tray: icon, status line, enabled items; a menu built for other
/// profiles than `status` has (one was added) is built again.
pub fn update<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) {
    let Some(handles) = app.try_state::<TrayHandles<R>>() else { return };
    let stale = handles.menu.lock().unwrap_or_else(|e| e.into_inner()).profiles != profile_names(status);
    if stale {
        match build_menu(app, status) {
            Ok((menu, items)) => {
                if let Err(e) = handles.icon.set_menu(Some(menu)) {
                    tracing::warn!("cannot update the tray menu: {e}");
                }
                *handles.menu.lock().unwrap_or_else(|e| e.into_inner()) = items;
            }
            Err(e) => tracing::warn!("cannot build the tray menu: {e}"),
        }
    }
    handles.show(status);
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    tracing::info!("tray: {id}");
    let state = Arc::clone(&app.state::<Arc<AppState>>());
    if let Some(profile) = id.strip_prefix(BACKUP_NOW).and_then(|rest| rest.strip_prefix(':')) {
        let profile = profile.to_string();
        tauri::async_runtime::spawn(async move {
            if let Err(e) = api::backup_now(&state, Some(&profile)).await {
                tracing::warn!("back up now ({profile}): {e}");
            }
        });
        return;
    }
    if let Some(profile) = id.strip_prefix(OPEN_FOLDER).and_then(|rest| rest.strip_prefix(':')) {
        let profile = profile.to_string();
        std::thread::spawn(move || {
            if let Err(e) = api::open_backup_folder(&state, Some(&profile), None) {
                tracing::warn!("open backup folder ({profile}): {e}");
            }
        });
        return;
    }
    match id {
        "backup_now" => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = api::backup_now(&state, None).await {
                    tracing::warn!("back up now: {e}");
                }
            });
        }
        "backup_now_all" => {
            tauri::async_runtime::spawn(async move {
                for (profile, outcome) in api::backup_all(&state).await {
                    if let Err(e) = outcome {
                        tracing::warn!("back up now ({profile}): {e}");
                    }
                }
            });
        }
        "open" => crate::window::show(app),
        "open_folder" => {
            std::thread::spawn(move || {
                if let Err(e) = api::open_backup_folder(&state, None, None) {
                    tracing::warn!("open backup folder: {e}");
                }
            });
        }
        "pause_hour" | "pause_indefinitely" => {
            let hours = (id == "pause_hour").then_some(1.0);
            std::thread::spawn(move || {
                if let Err(e) = api::pause_backups(&state, None, hours) {
                    tracing::warn!("pause: {e}");
                }
            });
        }
        "resume" => {
            std::thread::spawn(move || {
                if let Err(e) = api::resume_backups(&state, None) {
                    tracing::warn!("resume: {e}");
                }
            });
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
