//! The window's commands (docs/app-api.md): each one calls its plain function in `api`,
//! blocking work on a blocking thread so the runtime and the UI stay responsive. What a
//! command changes reaches the tray and the window through the scheduler's events.
//! `contract.rs` lists these signatures for the pinned schema; tests/contract.rs checks
//! that the two agree. Every command about one profile takes `profile` (its name; `null`:
//! the first profile).

use std::path::PathBuf;
use std::sync::Arc;

use lifeboat::{BackupInfo, BackupOutcome, RestorePlan, RestoreReport, RestoreRequest, RunRecord, VerifyReport};
use tauri::{AppHandle, Runtime, State};

use lifeboat::offsite::{FetchReport, OffsiteRestoreReport, OffsiteSnapshot};

use crate::api::{
    self, ApiResult, BrowseEntry, CommandError, OffsiteCheck, OffsiteForm, OffsiteSaved, Settings, SinceBackup,
};
use crate::state::{AppState, AppStatus};

type AppStateRef<'a> = State<'a, Arc<AppState>>;

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let state = Arc::clone(state);
    tauri::async_runtime::spawn_blocking(move || f(&state)).await.unwrap_or_else(|e| {
        Err(CommandError { kind: lifeboat::ErrorKind::Internal, message: e.to_string(), field: None, headline: None })
    })
}

#[tauri::command]
pub async fn get_status(state: AppStateRef<'_>) -> ApiResult<AppStatus> {
    blocking(&state, |s| Ok(api::get_status(s))).await
}

#[tauri::command]
pub async fn list_backups(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<Vec<BackupInfo>> {
    blocking(&state, move |s| api::list_backups(s, profile.as_deref())).await
}

#[tauri::command]
pub async fn backup_now(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<BackupOutcome> {
    api::backup_now(&state, profile.as_deref()).await
}

#[tauri::command]
pub async fn verify_backup(state: AppStateRef<'_>, profile: Option<String>, name: String) -> ApiResult<VerifyReport> {
    api::verify_backup(&state, profile.as_deref(), name).await
}

#[tauri::command]
pub async fn restore_preview(state: AppStateRef<'_>, profile: Option<String>, name: String) -> ApiResult<RestorePlan> {
    blocking(&state, move |s| api::restore_preview(s, profile.as_deref(), &name)).await
}

#[tauri::command]
pub async fn restore_backup(state: AppStateRef<'_>, profile: Option<String>, name: String) -> ApiResult<RestoreReport> {
    api::restore_backup(&state, profile.as_deref(), name).await
}

#[tauri::command]
pub async fn list_entries(
    state: AppStateRef<'_>,
    profile: Option<String>,
    name: String,
    path: String,
) -> ApiResult<Vec<BrowseEntry>> {
    blocking(&state, move |s| api::list_entries(s, profile.as_deref(), &name, &path)).await
}

#[tauri::command]
pub async fn diff_backup(state: AppStateRef<'_>, profile: Option<String>, name: String) -> ApiResult<SinceBackup> {
    blocking(&state, move |s| api::diff_backup(s, profile.as_deref(), &name)).await
}

#[tauri::command]
pub async fn preview_restore(
    state: AppStateRef<'_>,
    profile: Option<String>,
    request: RestoreRequest,
) -> ApiResult<RestorePlan> {
    blocking(&state, move |s| api::preview_restore(s, profile.as_deref(), &request)).await
}

#[tauri::command]
pub async fn restore_request(
    state: AppStateRef<'_>,
    profile: Option<String>,
    request: RestoreRequest,
) -> ApiResult<RestoreReport> {
    api::restore_request(&state, profile.as_deref(), request).await
}

#[tauri::command]
pub async fn get_settings(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<Settings> {
    blocking(&state, move |s| Ok(api::get_settings(s, profile.as_deref()))).await
}

#[tauri::command]
pub async fn save_settings(state: AppStateRef<'_>, profile: Option<String>, settings: Settings) -> ApiResult<Settings> {
    blocking(&state, move |s| api::save_settings(s, profile.as_deref(), settings)).await
}

#[tauri::command]
pub async fn add_profile(state: AppStateRef<'_>, settings: Settings) -> ApiResult<Settings> {
    blocking(&state, move |s| api::add_profile(s, settings)).await
}

#[tauri::command]
pub async fn test_offsite(state: AppStateRef<'_>, form: OffsiteForm) -> ApiResult<OffsiteCheck> {
    blocking(&state, move |_| api::test_offsite(&form)).await
}

#[tauri::command]
pub async fn save_offsite(
    state: AppStateRef<'_>,
    profile: Option<String>,
    form: OffsiteForm,
) -> ApiResult<OffsiteSaved> {
    blocking(&state, move |s| api::save_offsite(s, profile.as_deref(), &form)).await
}

#[tauri::command]
pub async fn remove_offsite(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<Settings> {
    blocking(&state, move |s| api::remove_offsite(s, profile.as_deref())).await
}

#[tauri::command]
pub async fn list_offsite(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<Vec<OffsiteSnapshot>> {
    blocking(&state, move |s| api::list_offsite(s, profile.as_deref())).await
}

#[tauri::command]
pub async fn restore_offsite(
    state: AppStateRef<'_>,
    profile: Option<String>,
    snapshot: String,
    to: PathBuf,
) -> ApiResult<OffsiteRestoreReport> {
    blocking(&state, move |s| api::restore_offsite(s, profile.as_deref(), &snapshot, &to)).await
}

#[tauri::command]
pub async fn fetch_offsite(
    state: AppStateRef<'_>,
    profile: Option<String>,
    snapshot: String,
) -> ApiResult<FetchReport> {
    blocking(&state, move |s| api::fetch_offsite(s, profile.as_deref(), &snapshot)).await
}

/// A native folder picker, run from Rust: the window has no dialog permission. Test seam:
/// with `LIFEBOAT_TEST_PICK_FOLDER` set, that path is "picked" without a dialog.
#[tauri::command]
pub async fn pick_folder<R: Runtime>(app: AppHandle<R>, start: Option<String>) -> ApiResult<Option<PathBuf>> {
    Ok(crate::window::pick_folder(&app, start).await)
}

#[tauri::command]
pub async fn get_autostart(state: AppStateRef<'_>) -> ApiResult<bool> {
    blocking(&state, |s| Ok(api::get_autostart(s))).await
}

#[tauri::command]
pub async fn set_autostart(state: AppStateRef<'_>, enabled: bool) -> ApiResult<bool> {
    blocking(&state, move |s| api::set_autostart(s, enabled)).await
}

#[tauri::command]
pub async fn pause_backups(
    state: AppStateRef<'_>,
    profile: Option<String>,
    hours: Option<f64>,
) -> ApiResult<AppStatus> {
    blocking(&state, move |s| api::pause_backups(s, profile.as_deref(), hours)).await
}

#[tauri::command]
pub async fn resume_backups(state: AppStateRef<'_>, profile: Option<String>) -> ApiResult<AppStatus> {
    blocking(&state, move |s| api::resume_backups(s, profile.as_deref())).await
}

#[tauri::command]
pub async fn get_history(state: AppStateRef<'_>, profile: Option<String>, limit: usize) -> ApiResult<Vec<RunRecord>> {
    blocking(&state, move |s| api::get_history(s, profile.as_deref(), limit)).await
}

#[tauri::command]
pub async fn open_backup_folder(
    state: AppStateRef<'_>,
    profile: Option<String>,
    name: Option<String>,
) -> ApiResult<()> {
    blocking(&state, move |s| api::open_backup_folder(s, profile.as_deref(), name.as_deref())).await
}

#[tauri::command]
pub async fn open_log_file(state: AppStateRef<'_>) -> ApiResult<()> {
    blocking(&state, api::open_log_file).await
}
