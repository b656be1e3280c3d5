//! The window's commands (docs/app-api.md): each one calls its plain function in `api`,
//! blocking work on a blocking thread so the runtime and the UI stay responsive.

use std::path::PathBuf;
use std::sync::Arc;

use lifeboat::{BackupInfo, BackupOutcome, RestorePlan, RestoreReport, RunRecord, VerifyReport};
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::api::{self, ApiResult, CommandError, Settings};
use crate::state::{AppState, AppStatus};

type AppStateRef<'a> = State<'a, Arc<AppState>>;

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let state = Arc::clone(state);
    tauri::async_runtime::spawn_blocking(move || f(&state)).await.unwrap_or_else(|e| {
        Err(CommandError { kind: lifeboat::ErrorKind::Internal, message: e.to_string(), field: None })
    })
}

#[tauri::command]
pub async fn get_status(state: AppStateRef<'_>) -> ApiResult<AppStatus> {
    blocking(&state, |s| Ok(api::get_status(s))).await
}

#[tauri::command]
pub async fn list_backups(state: AppStateRef<'_>) -> ApiResult<Vec<BackupInfo>> {
    blocking(&state, api::list_backups).await
}

#[tauri::command]
pub async fn backup_now(state: AppStateRef<'_>) -> ApiResult<BackupOutcome> {
    api::backup_now(&state).await
}

#[tauri::command]
pub async fn verify_backup(state: AppStateRef<'_>, name: String) -> ApiResult<VerifyReport> {
    api::verify_backup(&state, name).await
}

#[tauri::command]
pub async fn restore_preview(state: AppStateRef<'_>, name: String) -> ApiResult<RestorePlan> {
    blocking(&state, move |s| api::restore_preview(s, &name)).await
}

#[tauri::command]
pub async fn restore_backup(state: AppStateRef<'_>, name: String) -> ApiResult<RestoreReport> {
    api::restore_backup(&state, name).await
}

#[tauri::command]
pub async fn get_settings(state: AppStateRef<'_>) -> ApiResult<Settings> {
    blocking(&state, |s| Ok(api::get_settings(s))).await
}

#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: AppStateRef<'_>,
    settings: Settings,
) -> ApiResult<Settings> {
    let saved = blocking(&state, move |s| api::save_settings(s, settings)).await?;
    crate::events::refresh(&app);
    Ok(saved)
}

/// A native folder picker, run from Rust: the window has no dialog permission.
#[tauri::command]
pub async fn pick_folder<R: Runtime>(app: AppHandle<R>, start: Option<String>) -> ApiResult<Option<PathBuf>> {
    let mut dialog = app.dialog().file().set_title("Choose a folder");
    if let Some(start) = start.filter(|s| !s.is_empty()) {
        dialog = dialog.set_directory(start);
    }
    if let Some(window) = app.get_webview_window(crate::window::MAIN) {
        dialog = dialog.set_parent(&window);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked.and_then(|p| p.into_path().ok()));
    });
    let picked = rx.await.unwrap_or(None);
    tracing::info!("folder picked: {picked:?}");
    Ok(picked)
}

#[tauri::command]
pub async fn get_autostart(state: AppStateRef<'_>) -> ApiResult<bool> {
    blocking(&state, |s| Ok(api::get_autostart(s))).await
}

#[tauri::command]
pub async fn set_autostart<R: Runtime>(app: AppHandle<R>, state: AppStateRef<'_>, enabled: bool) -> ApiResult<bool> {
    let now = blocking(&state, move |s| api::set_autostart(s, enabled)).await?;
    crate::events::refresh(&app);
    Ok(now)
}

#[tauri::command]
pub async fn pause_backups(state: AppStateRef<'_>, hours: Option<f64>) -> ApiResult<AppStatus> {
    blocking(&state, move |s| api::pause_backups(s, hours)).await
}

#[tauri::command]
pub async fn resume_backups(state: AppStateRef<'_>) -> ApiResult<AppStatus> {
    blocking(&state, |s| Ok(api::resume_backups(s))).await
}

#[tauri::command]
pub async fn get_history(state: AppStateRef<'_>, limit: usize) -> ApiResult<Vec<RunRecord>> {
    blocking(&state, move |s| api::get_history(s, limit)).await
}

#[tauri::command]
pub async fn open_backup_folder(state: AppStateRef<'_>, name: Option<String>) -> ApiResult<()> {
    blocking(&state, move |s| open_path(api::backup_folder(s, name.as_deref())?)).await
}

#[tauri::command]
pub async fn open_log_file(state: AppStateRef<'_>) -> ApiResult<()> {
    blocking(&state, |s| open_path(s.log_file())).await
}

/// Opens a file or folder with the desktop's default app.
pub fn open_path(path: PathBuf) -> ApiResult<()> {
    tracing::info!("open {}", path.display());
    opener::open(&path).map_err(|e| CommandError {
        kind: lifeboat::ErrorKind::Io,
        message: format!("cannot open {}: {e}", path.display()),
        field: None,
    })
}
