//! Lifeboat's tray app: a thin Tauri shell over the engine's scheduler. It shows the
//! state in the tray, runs backups on time, notifies, and serves the window's commands.

pub mod api;
pub mod autostart;
pub mod background;
pub mod commands;
pub mod contract;
pub mod events;
pub mod notify;
pub mod relaunch;
pub mod state;
pub mod tray;
pub mod trim;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use lifeboat::Config;
use tauri::{Manager, RunEvent};

use crate::state::AppState;

/// How often the scheduler looks at the clock: `LIFEBOAT_TICK_SECS`, else 60 s. A bad
/// value is logged and the default used: the tray app has no terminal to refuse on.
pub fn tick() -> Duration {
    lifeboat::tick().unwrap_or_else(|e| {
        tracing::error!("{e}; using {} s", lifeboat::DEFAULT_TICK.as_secs());
        lifeboat::DEFAULT_TICK
    })
}

/// How long Quit waits for a push in flight to stop at its next upload.
pub const QUIT_WAIT: Duration = Duration::from_secs(5);

/// On quit: cancels every profile's offsite push in flight (each stops at its next
/// upload; the next start resumes it) and waits a little for them to stop, so their
/// state is recorded.
pub fn stop_offsite(state: &AppState) {
    let schedulers = state.schedulers();
    let was_pushing = schedulers.iter().any(|s| s.offsite().running());
    schedulers.iter().for_each(|s| s.shutdown());
    let started = std::time::Instant::now();
    while schedulers.iter().any(|s| s.offsite().running()) && started.elapsed() < QUIT_WAIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    if was_pushing {
        tracing::info!("offsite push cancelled on quit; it resumes at the next start");
    }
}

/// Whether the command line asks for a start in the background (the login item's
/// [`autostart::HIDDEN_ARG`]): no window then.
pub fn hidden_start<S: AsRef<str>>(args: impl IntoIterator<Item = S>) -> bool {
    args.into_iter().skip(1).any(|a| a.as_ref() == autostart::HIDDEN_ARG)
}

/// Starts the app and runs until "Quit"; returns the exit code. A launch by the user opens
/// the window; `--hidden` (the login item) opens none; a second launch focuses the window.
pub fn run() -> i32 {
    relaunch::keep_log_guard(lifeboat::init_logging(&lifeboat::log_dir(), Some(tracing::Level::WARN)));
    tracing::info!("Lifeboat {} starting (pid {})", env!("CARGO_PKG_VERSION"), std::process::id());
    let tick = tick();
    let hidden = hidden_start(std::env::args());
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            if hidden_start(&argv) {
                tracing::info!("second launch, hidden: nothing to show");
            } else {
                tracing::info!("second launch: focusing the running app");
                window::show(app);
            }
        }))
        .plugin(autostart::plugin())
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            let handle = app.handle().clone();
            let login = Arc::new(autostart::PluginLoginItem(handle.clone()));
            let state = Arc::new(AppState::load(Config::default_path(), &lifeboat::data_dir(), login));
            app.manage(Arc::clone(&state));
            tray::create(&handle, &state.status())?;
            events::start(&handle, Arc::clone(&state), tick);
            trim::start(&handle);
            if hidden {
                background::watch_hidden_start(&handle, lifeboat::data_dir());
            } else {
                background::open_on_launch(&handle, &lifeboat::data_dir());
            }
            Ok(())
        })
        .on_window_event(|w, event| {
            window::on_event(w, event);
            // Once the window is gone, the app relaunches itself hidden when idle.
            if matches!(event, tauri::WindowEvent::Destroyed) && w.label() == window::MAIN {
                relaunch::window_closed(w.app_handle());
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::get_status,
            commands::list_backups,
            commands::backup_now,
            commands::verify_backup,
            commands::restore_preview,
            commands::restore_backup,
            commands::list_entries,
            commands::diff_backup,
            commands::preview_restore,
            commands::restore_request,
            commands::get_settings,
            commands::save_settings,
            commands::add_profile,
            commands::test_offsite,
            commands::save_offsite,
            commands::remove_offsite,
            commands::list_offsite,
            commands::restore_offsite,
            commands::fetch_offsite,
            commands::pick_folder,
            commands::get_autostart,
            commands::set_autostart,
            commands::pause_backups,
            commands::resume_backups,
            commands::get_history,
            commands::open_backup_folder,
            commands::open_log_file,
        ])
        .build(tauri::generate_context!())
        .expect("cannot start Lifeboat");
    let code = app.run_return(|app, event| match event {
        // Closing the window leaves the app in the tray; only "Quit" (exit code set) ends it.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(state) = app.try_state::<Arc<AppState>>() {
                stop_offsite(&state);
            }
        }
        _ => {}
    });
    tracing::info!("Lifeboat stopped");
    relaunch::flush_log();
    code
}
