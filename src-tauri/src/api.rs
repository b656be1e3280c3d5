//! What each window command and tray item does, as plain functions over [`AppState`]
//! (docs/app-api.md). The `#[tauri::command]` wrappers in `commands.rs` and the tray menu
//! only call these; what they change reaches the tray and the window as the scheduler's
//! events (see `events.rs`), never by a call back.

use std::path::{Path, PathBuf};

use lifeboat::Pause;
use lifeboat::{BackupInfo, BackupOutcome, Engine, Error, ErrorKind, Profile, RunRecord, Trigger};
use lifeboat::{Diff, LsEntry, RestorePlan, RestoreReport, RestoreRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::{AppState, AppStatus};

/// How a command fails: the engine's `{kind, message}`, and for settings the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CommandError {
    /// What kind of failure, for code to branch on (the engine's `ErrorKind`).
    pub kind: ErrorKind,
    /// The error's text, for people: it names the path and the cause.
    pub message: String,
    /// The setting at fault, when `save_settings` refuses one: `source`, `include`,
    /// `destination`, `every_hours`, `keep`, a hook name...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let r = e.report();
        CommandError { kind: r.kind, message: r.message, field: None }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

pub type ApiResult<T> = Result<T, CommandError>;

/// The settings the window reads and saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Settings {
    /// Whether a config exists (read only).
    pub configured: bool,
    /// The profile, `null` before the first setup.
    pub profile: Option<ProfileSettings>,
    /// Notify after every successful backup, not only after failures.
    pub notify_on_success: bool,
    /// Start Lifeboat at login.
    pub launch_at_login: bool,
    /// Where the config file is (read only).
    pub config_path: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            configured: false,
            profile: None,
            notify_on_success: false,
            launch_at_login: true,
            config_path: PathBuf::new(),
        }
    }
}

/// A profile as the settings form edits it: lenient, so a half-filled form is validated
/// by the engine (with the field named) rather than refused by deserialisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ProfileSettings {
    /// The profile's name; blank: the source folder's name.
    pub name: String,
    /// The application's data folder.
    pub source: PathBuf,
    /// What to back up, relative to the source; empty: all of it.
    pub include: Vec<String>,
    /// Glob patterns left out.
    pub exclude: Vec<String>,
    /// Where the backups go.
    pub destination: PathBuf,
    /// Hours between scheduled backups.
    pub every_hours: f64,
    /// Backups kept.
    pub keep: usize,
    /// A command run before each backup.
    pub before_backup: Option<String>,
    /// A command run after each backup.
    pub after_backup: Option<String>,
    /// A command run before each restore.
    pub before_restore: Option<String>,
    /// A command run after each restore.
    pub after_restore: Option<String>,
    /// How long a command may run, in seconds.
    pub hook_timeout_secs: u64,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        ProfileSettings {
            name: String::new(),
            source: PathBuf::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            destination: PathBuf::new(),
            every_hours: lifeboat::DEFAULT_EVERY_HOURS,
            keep: lifeboat::DEFAULT_KEEP,
            before_backup: None,
            after_backup: None,
            before_restore: None,
            after_restore: None,
            hook_timeout_secs: lifeboat::DEFAULT_HOOK_TIMEOUT_SECS,
        }
    }
}

impl From<&Profile> for ProfileSettings {
    fn from(p: &Profile) -> Self {
        ProfileSettings {
            name: p.name.clone(),
            source: p.source.clone(),
            include: p.include.clone(),
            exclude: p.exclude.clone(),
            destination: p.destination.clone(),
            every_hours: p.every_hours,
            keep: p.keep,
            before_backup: p.before_backup.clone(),
            after_backup: p.after_backup.clone(),
            before_restore: p.before_restore.clone(),
            after_restore: p.after_restore.clone(),
            hook_timeout_secs: p.hook_timeout_secs,
        }
    }
}

impl ProfileSettings {
    /// The engine's profile: blank entries dropped, a missing name taken from the source.
    pub fn to_profile(&self) -> Profile {
        let clean = |items: &[String]| -> Vec<String> {
            items.iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect()
        };
        let hook = |h: &Option<String>| h.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let name = match self.name.trim() {
            "" => self.source.file_name().map_or("Lifeboat".into(), |n| n.to_string_lossy().into_owned()),
            n => n.to_string(),
        };
        Profile {
            name,
            source: self.source.clone(),
            include: clean(&self.include),
            exclude: clean(&self.exclude),
            destination: self.destination.clone(),
            every_hours: self.every_hours,
            keep: self.keep,
            before_backup: hook(&self.before_backup),
            after_backup: hook(&self.after_backup),
            before_restore: hook(&self.before_restore),
            after_restore: hook(&self.after_restore),
            hook_timeout_secs: self.hook_timeout_secs,
            // The window does not edit the offsite copy: save_settings keeps the saved one.
            offsite: None,
        }
    }
}

pub fn get_status(state: &AppState) -> AppStatus {
    state.status()
}

pub fn list_backups(state: &AppState, profile: Option<&str>) -> ApiResult<Vec<BackupInfo>> {
    Ok(state.require_engine(profile)?.list()?)
}

/// A manual backup of `profile` (`None`: the first) now; it waits its turn when another
/// profile's job uses the same destination.
pub async fn backup_now(state: &AppState, profile: Option<&str>) -> ApiResult<BackupOutcome> {
    let scheduler = state.scheduler(profile)?;
    tracing::info!("back up now (manual): {}", profile.unwrap_or("the first profile"));
    Ok(scheduler.backup_now(Trigger::Manual).await?)
}

/// A manual backup of every profile, all started at once (profiles sharing a destination
/// take turns); each profile's outcome, in the config's order.
pub async fn backup_all(state: &AppState) -> Vec<(String, ApiResult<BackupOutcome>)> {
    tracing::info!("back up now (manual): all profiles");
    let jobs = state.schedulers().into_iter().map(|s| async move {
        let name = crate::state::profile_name(&s).unwrap_or_default();
        (name, s.backup_now(Trigger::Manual).await.map_err(CommandError::from))
    });
    let handles: Vec<_> = jobs.map(tauri::async_runtime::spawn).collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        match handle.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => tracing::warn!("a backup task stopped: {e}"),
        }
    }
    outcomes
}

pub async fn verify_backup(state: &AppState, profile: Option<&str>, name: String) -> ApiResult<lifeboat::VerifyReport> {
    let scheduler = state.scheduler(profile)?;
    tracing::info!("verify {name}");
    Ok(scheduler.verify(Some(name)).await?)
}

pub fn restore_preview(state: &AppState, profile: Option<&str>, name: &str) -> ApiResult<lifeboat::RestorePlan> {
    Ok(state.require_engine(profile)?.restore_preview(name)?)
}

pub async fn restore_backup(
    state: &AppState,
    profile: Option<&str>,
    name: String,
) -> ApiResult<lifeboat::RestoreReport> {
    let scheduler = state.scheduler(profile)?;
    tracing::info!("restore {name}");
    Ok(scheduler.restore(name).await?)
}

/// One entry of a backup as the window's browser shows it: the engine's entry and its words.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BrowseEntry {
    /// The entry (`lifeboat ls`).
    #[serde(flatten)]
    pub entry: LsEntry,
    /// Its state against now in words: "same", "changed", "deleted since", "new since"
    /// (`lifeboat::view::entry_state`).
    pub state_words: String,
    /// For a database, each table's rows then and now in words, in the order of
    /// `tables`: "241 then, 253 now (+12)" (`lifeboat::view::rows_then_now`).
    pub table_words: Vec<String>,
}

/// The entries of backup `name` directly under `path` ("" for the top), with their state
/// against the live data now.
pub fn list_entries(state: &AppState, profile: Option<&str>, name: &str, path: &str) -> ApiResult<Vec<BrowseEntry>> {
    let entries = state.require_engine(profile)?.ls(name, path)?;
    Ok(entries
        .into_iter()
        .map(|entry| BrowseEntry {
            state_words: lifeboat::view::entry_state(entry.state).to_string(),
            table_words: entry.tables.iter().flatten().map(lifeboat::view::rows_then_now).collect(),
            entry,
        })
        .collect())
}

/// What changed since a backup: the lists, and the one line a card shows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SinceBackup {
    /// Files added, removed and changed since, and rows per table then and now.
    pub diff: Diff,
    /// In one line: "since then: 3 changed, 5 deleted, 2 new; test_results +12 rows"
    /// (`lifeboat::view::since_line`).
    pub line: String,
}

/// What changed in the live data since backup `name`.
pub fn diff_backup(state: &AppState, profile: Option<&str>, name: &str) -> ApiResult<SinceBackup> {
    let diff = state.require_engine(profile)?.diff(name, None)?;
    Ok(SinceBackup { line: lifeboat::view::since_line(&diff), diff })
}

/// What restoring as `request` asks (some paths, or into another folder) would change.
pub fn preview_restore(state: &AppState, profile: Option<&str>, request: &RestoreRequest) -> ApiResult<RestorePlan> {
    Ok(state.require_engine(profile)?.preview(request)?)
}

/// Restores as `request` asks, as the profile's one job.
pub async fn restore_request(
    state: &AppState,
    profile: Option<&str>,
    request: RestoreRequest,
) -> ApiResult<RestoreReport> {
    let scheduler = state.scheduler(profile)?;
    tracing::info!(
        "restore {} ({} paths{})",
        request.name,
        request.paths.len(),
        request.to.as_ref().map(|t| format!(", into {}", t.display())).unwrap_or_default()
    );
    Ok(scheduler.restore_request(request).await?)
}

/// The settings of `profile` (`None`: the first profile).
pub fn get_settings(state: &AppState, profile: Option<&str>) -> Settings {
    let config = state.config();
    let chosen = config.as_ref().and_then(|c| match profile {
        Some(name) => c.profiles.iter().find(|p| p.name == name),
        None => c.profiles.first(),
    });
    Settings {
        configured: config.is_some(),
        profile: chosen.map(ProfileSettings::from),
        notify_on_success: config.as_ref().is_some_and(|c| c.notify_on_success),
        // Before the first setup this is the default the form offers: on.
        launch_at_login: if config.is_some() { state.login.enabled() } else { true },
        config_path: state.config_path.clone(),
    }
}

/// Saves the settings of `profile` (`None`: the first profile, or the first setup):
/// validates with the engine (shape, then the disk), writes the config with every other
/// profile (and this one's offsite table) as it was, applies it at once. The first save
/// also turns launch at login on, unless the form turned it off.
pub fn save_settings(state: &AppState, profile: Option<&str>, settings: Settings) -> ApiResult<Settings> {
    let was = match profile {
        Some(name) => {
            Some(state.scheduler(Some(name))?.engine().map_or(name.to_string(), |e| e.profile().name.clone()))
        }
        None => state.config().and_then(|c| c.profiles.first().map(|p| p.name.clone())),
    };
    store_profile(state, was.as_deref(), settings)
}

/// Adds a profile to the config (its name must be new) and starts its schedule.
pub fn add_profile(state: &AppState, settings: Settings) -> ApiResult<Settings> {
    store_profile(state, None, settings)
}

/// Writes the form's profile in place of the one named `was`, or as a new one.
fn store_profile(state: &AppState, was: Option<&str>, settings: Settings) -> ApiResult<Settings> {
    let Some(form) = &settings.profile else {
        return Err(field_error(Error::setting("source", "choose the folder to back up"), "source"));
    };
    let profile = form.to_profile();
    let previous = state.config();
    if previous.iter().flat_map(|c| &c.profiles).any(|p| p.name == profile.name && Some(p.name.as_str()) != was) {
        let e = Error::setting("name", format!("a profile is already named \"{}\": choose another name", profile.name));
        return Err(field_error(e, "name"));
    }
    lifeboat::check_on_disk(&profile).map_err(|e| {
        let field = field_of(&e, &profile);
        tracing::info!("settings refused ({}): {e}", field.unwrap_or("-"));
        CommandError { field: field.map(String::from), ..e.into() }
    })?;
    let engine = Engine::new(profile.clone(), &state.history_db)?;
    let first_setup = previous.is_none();
    let mut config = previous.unwrap_or_default();
    config.notify_on_success = settings.notify_on_success;
    match config.profiles.iter_mut().find(|p| Some(p.name.as_str()) == was) {
        Some(old) => *old = Profile { offsite: old.offsite.take(), ..profile.clone() },
        None => config.profiles.push(profile.clone()),
    }
    // The config's own checks (e.g. a destination another profile uses) name a field too.
    config.save(&state.config_path).map_err(|e| {
        let field = field_of(&e, &profile);
        CommandError { field: field.map(String::from), ..e.into() }
    })?;
    tracing::info!("settings of \"{}\" saved to {}", profile.name, state.config_path.display());
    if first_setup || settings.launch_at_login != state.login.enabled() {
        if let Err(e) = state.login.set(settings.launch_at_login) {
            tracing::warn!("{e}");
        }
    }
    state.apply_profile(config, was, engine);
    Ok(get_settings(state, Some(&profile.name)))
}

/// Which setting an engine validation error is about.
pub fn field_of(e: &Error, p: &Profile) -> Option<&'static str> {
    let about = |path: &Path| {
        if path.starts_with(&p.destination) {
            Some("destination")
        } else if path == p.source {
            Some("source")
        } else if path.starts_with(&p.source) {
            Some("include")
        } else {
            None
        }
    };
    match e {
        Error::SourceMissing { path, .. } => about(path).or(Some("source")),
        Error::DestinationUnavailable { .. } | Error::DiskFull { .. } => Some("destination"),
        Error::PermissionDenied { path, .. } | Error::ReadOnly { path } | Error::Io { path, .. } => about(path),
        Error::Setting { field, .. } => Some(field),
        _ => None,
    }
}

fn field_error(e: Error, field: &str) -> CommandError {
    CommandError { field: Some(field.to_string()), ..e.into() }
}

pub fn get_autostart(state: &AppState) -> bool {
    state.login.enabled()
}

pub fn set_autostart(state: &AppState, enabled: bool) -> ApiResult<bool> {
    Ok(state.set_login(enabled)?)
}

/// Pauses the scheduled backups of `profile` (`None`: every profile, as the tray does)
/// for `hours`, or until resumed when `hours` is `None`.
pub fn pause_backups(state: &AppState, profile: Option<&str>, hours: Option<f64>) -> ApiResult<AppStatus> {
    let schedulers = chosen(state, profile)?;
    let Some(now) = schedulers.first().map(|s| s.now()) else { return Err(Error::NotSetUp.into()) };
    let pause = match hours {
        None => Pause::Indefinitely,
        Some(h) if h.is_finite() && h > 0.0 => {
            Pause::Until(now + chrono::Duration::milliseconds((h * 3_600_000.0) as i64))
        }
        Some(h) => return Err(Error::setting("hours", format!("pause for a number of hours above 0, not {h}")).into()),
    };
    schedulers.iter().for_each(|s| s.pause(pause));
    Ok(state.status())
}

/// Resumes the scheduled backups of `profile` (`None`: every profile).
pub fn resume_backups(state: &AppState, profile: Option<&str>) -> ApiResult<AppStatus> {
    chosen(state, profile)?.iter().for_each(|s| s.resume());
    Ok(state.status())
}

/// The scheduler of `profile`, or every one for `None`.
fn chosen(state: &AppState, profile: Option<&str>) -> ApiResult<Vec<std::sync::Arc<lifeboat::Scheduler>>> {
    Ok(match profile {
        Some(_) => vec![state.scheduler(profile)?],
        None => state.schedulers(),
    })
}

/// The last `limit` runs of `profile` (`None`: the first), newest first.
pub fn get_history(state: &AppState, profile: Option<&str>, limit: usize) -> ApiResult<Vec<RunRecord>> {
    match state.require_engine(profile) {
        Ok(engine) => Ok(engine.history().recent(&engine.profile().name, limit)?),
        Err(Error::NotSetUp) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// The folder "Show in folder" opens: the profile's destination, or one backup in it.
pub fn backup_folder(state: &AppState, profile: Option<&str>, name: Option<&str>) -> ApiResult<PathBuf> {
    let engine = state.require_engine(profile)?;
    match name {
        Some(n) => Ok(lifeboat::backup_dir(engine.destination(), n)?),
        None if engine.destination().is_dir() => Ok(engine.destination().to_path_buf()),
        None => Err(Error::DestinationUnavailable {
            path: engine.destination().to_path_buf(),
            cause: "does not exist — is the drive connected?".into(),
        }
        .into()),
    }
}

/// Opens the profile's destination, or one backup in it, in the file manager.
pub fn open_backup_folder(state: &AppState, profile: Option<&str>, name: Option<&str>) -> ApiResult<()> {
    open_path(backup_folder(state, profile, name)?)
}

/// Opens today's log file (or the log folder) with the desktop's default app.
pub fn open_log_file(state: &AppState) -> ApiResult<()> {
    open_path(state.log_file())
}

/// Opens a file or folder with the desktop's default app.
fn open_path(path: PathBuf) -> ApiResult<()> {
    tracing::info!("open {}", path.display());
    opener::open(&path).map_err(|e| CommandError {
        kind: ErrorKind::Io,
        message: format!("cannot open {}: {e}", path.display()),
        field: None,
    })
}
