//! What each window command and tray item does, as plain functions over [`AppState`]
//! (docs/app-api.md). The `#[tauri::command]` wrappers in `commands.rs` and the tray menu
//! only call these; what they change reaches the tray and the window as the scheduler's
//! events (see `events.rs`), never by a call back.

use std::path::{Path, PathBuf};

use lifeboat::offsite::{FetchReport, OffsiteRestoreReport, OffsiteSnapshot};
use lifeboat::Pause;
use lifeboat::{BackupInfo, BackupOutcome, Config, Engine, Error, ErrorKind, Profile, RunRecord, Trigger};
use lifeboat::{Diff, LsEntry, Offsite, RestorePlan, RestoreReport, RestoreRequest};
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
    /// `destination`, `every_hours`, `keep`, a hook name...; for the offsite settings
    /// `offsite_repository`, `offsite_keep`, `offsite_access_key_id`,
    /// `offsite_secret_access_key`, `offsite_password`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For an offsite failure, what went wrong in a few plain words ("Wrong password: it
    /// does not open this repository."), before the message (`lifeboat::view::offsite_problem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let r = e.report();
        let headline = lifeboat::view::offsite_problem(r.kind).map(String::from);
        CommandError { kind: r.kind, message: r.message, field: None, headline }
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
    /// The profile's offsite copy (`[profile.offsite]`), `null` without one (read only
    /// here: `save_offsite` and `remove_offsite` change it, `save_settings` keeps it).
    pub offsite: Option<Offsite>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            configured: false,
            profile: None,
            notify_on_success: false,
            launch_at_login: true,
            config_path: PathBuf::new(),
            offsite: None,
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
            // Edited apart (save_offsite): save_settings puts the saved one back.
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
        offsite: chosen.and_then(|p| p.offsite.clone()),
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
    let first_setup = previous.is_none();
    let mut config = previous.unwrap_or_default();
    config.notify_on_success = settings.notify_on_success;
    // The form does not edit the offsite copy: the saved one is kept, and reaches the
    // engine (so the scheduler keeps pushing with the new settings, no restart needed).
    let kept = config.profiles.iter().find(|p| Some(p.name.as_str()) == was).and_then(|p| p.offsite.clone());
    let profile = Profile { offsite: kept, ..profile };
    let engine = Engine::new(profile.clone(), &state.history_db)?;
    match config.profiles.iter_mut().find(|p| Some(p.name.as_str()) == was) {
        Some(old) => *old = profile.clone(),
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

// ---------------------------------------------------------------- offsite

/// The offsite section of the settings form. A blank secret means "the one already kept
/// for this repository" (the keychain, or the environment); the secrets are never sent
/// back to the window and never written to the config.
#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct OffsiteForm {
    /// The restic repository URL: `s3:https://HOST/BUCKET/PREFIX` or `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`.
    pub repository: String,
    /// The S3 access key id; blank: the one kept.
    pub access_key_id: String,
    /// The S3 secret access key; blank: the one kept.
    pub secret_access_key: String,
    /// The repository password; blank: the one kept.
    pub password: String,
    /// Offsite snapshots kept; 0: the saved value, else the default.
    pub keep: usize,
}

/// What "Test connection" found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OffsiteCheck {
    /// The repository URL, as Lifeboat writes it.
    pub repository: String,
    /// A repository is there and the password opens it; `false`: nothing there yet, and
    /// saving creates one.
    pub exists: bool,
    /// Snapshots in it (all of them, any machine's).
    pub snapshots: usize,
    /// The outcome in a sentence.
    pub message: String,
}

/// What saving the offsite settings did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OffsiteSaved {
    /// The settings as saved.
    pub settings: Settings,
    /// A new repository was made (`false`: an existing one was attached to).
    pub created: bool,
    /// Snapshots already in it.
    pub snapshots: usize,
    /// The secrets are kept in the OS keychain; `false`: there is none, and the app
    /// needs them in its environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// LIFEBOAT_OFFSITE_PASSWORD).
    pub secrets_kept: bool,
    /// The outcome in a sentence.
    pub message: String,
}

/// The engine's offsite setting names as the window's field ids.
fn offsite_field(e: Error) -> CommandError {
    let field = match &e {
        Error::Setting { field: "offsite.repository", .. } => Some("offsite_repository"),
        Error::Setting { field: "offsite.keep", .. } => Some("offsite_keep"),
        Error::Setting { field, .. } => Some(*field),
        _ => None,
    };
    CommandError { field: field.map(String::from), ..e.into() }
}

/// The repository URL and the secrets of `form`; blanks filled from what is kept.
fn form_secrets(form: &OffsiteForm) -> ApiResult<(lifeboat::offsite::RepoUrl, lifeboat::offsite::Secrets)> {
    let url = lifeboat::offsite::RepoUrl::parse(&form.repository).map_err(offsite_field)?;
    let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (mut id, mut secret, mut password) =
        (given(form.access_key_id.trim()), given(form.secret_access_key.trim()), given(&form.password));
    if id.is_none() || secret.is_none() || password.is_none() {
        if let Ok((kept, _)) = lifeboat::offsite::resolve_secrets(&url.text, None) {
            id = id.or(Some(kept.keys.access_key_id));
            secret = secret.or(Some(kept.keys.secret_access_key));
            password = password.or(Some(kept.password));
        }
    }
    let missing = |field: &str, what: &str| CommandError {
        kind: ErrorKind::OffsiteSecretMissing,
        message: format!("enter the {what}: none is kept for {}", url.text),
        field: Some(field.to_string()),
        headline: lifeboat::view::offsite_problem(ErrorKind::OffsiteSecretMissing).map(String::from),
    };
    let id = id.ok_or_else(|| missing("offsite_access_key_id", "access key id"))?;
    let secret = secret.ok_or_else(|| missing("offsite_secret_access_key", "secret access key"))?;
    let password = password.ok_or_else(|| missing("offsite_password", "repository password"))?;
    let keys = lifeboat::offsite::Keys { access_key_id: id, secret_access_key: secret };
    Ok((url, lifeboat::offsite::Secrets { keys, password }))
}

/// Checks the connection, the keys, the bucket and the password (within 15 s when the
/// endpoint does not answer); changes nothing.
pub fn test_offsite(form: &OffsiteForm) -> ApiResult<OffsiteCheck> {
    let (url, secrets) = form_secrets(form)?;
    tracing::info!("offsite: testing {}", url.text);
    match lifeboat::offsite::list(&url.text, &secrets) {
        Ok(snapshots) => Ok(OffsiteCheck {
            message: format!(
                "Connected: the password opens the repository ({}).",
                match snapshots.len() {
                    0 => "no snapshots in it yet".to_string(),
                    1 => "1 snapshot in it".to_string(),
                    n => format!("{n} snapshots in it"),
                }
            ),
            repository: url.text,
            exists: true,
            snapshots: snapshots.len(),
        }),
        // The keys and the bucket answered; there is simply nothing at that prefix yet.
        Err(Error::OffsiteNotARepository { .. }) => Ok(OffsiteCheck {
            message: "Connected: the keys work and the bucket is there. There is no repository at this address \
                      yet: Save creates one."
                .to_string(),
            repository: url.text,
            exists: false,
            snapshots: 0,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Creates the repository (or attaches to the one there) as `lifeboat offsite init`
/// does, keeps the secrets in the keychain, writes `[profile.offsite]` and applies it at
/// once: the scheduler pushes what is pending now and after every backup.
pub fn save_offsite(state: &AppState, profile: Option<&str>, form: &OffsiteForm) -> ApiResult<OffsiteSaved> {
    let (mut config, at) = config_of(state, profile)?;
    let mut profile = config.profiles[at].clone();
    let (url, secrets) = form_secrets(form)?;
    let mut settings = profile.offsite.clone().unwrap_or_else(|| Offsite::new(url.text.clone()));
    settings.repository = url.text.clone();
    if form.keep > 0 {
        settings.keep = form.keep;
    }
    settings.validate(&format!("profile \"{}\"", profile.name)).map_err(offsite_field)?;
    let report = lifeboat::offsite::init(&url.text, &secrets, lifeboat::offsite_chunk_bytes()?)?;
    let secrets_kept = lifeboat::offsite::store_secrets(&url.text, &secrets)?;
    profile.offsite = Some(settings);
    let engine = Engine::new(profile.clone(), &state.history_db)?;
    let name = profile.name.clone();
    config.profiles[at] = profile;
    config.save(&state.config_path)?;
    tracing::info!(
        "offsite: {} {} ({} snapshots); settings saved to {}",
        if report.created { "created" } else { "attached to" },
        report.repository,
        report.snapshots,
        state.config_path.display()
    );
    state.apply_profile(config, Some(&name), engine);
    let mut message = if report.created {
        "Saved. A new offsite repository was created; your backups are being copied to it.".to_string()
    } else {
        format!(
            "Saved. Lifeboat attached to the repository there ({} snapshots); new backups are copied to it.",
            report.snapshots
        )
    };
    if !secrets_kept {
        message.push_str(
            " There is no keychain to keep the keys and the password in: start Lifeboat with \
             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and LIFEBOAT_OFFSITE_PASSWORD set.",
        );
    }
    Ok(OffsiteSaved {
        settings: get_settings(state, Some(&name)),
        created: report.created,
        snapshots: report.snapshots,
        secrets_kept,
        message,
    })
}

/// Turns the offsite copy off: `[profile.offsite]` removed, a push in flight stopped.
/// The repository, its snapshots and the kept secrets stay where they are.
pub fn remove_offsite(state: &AppState, profile: Option<&str>) -> ApiResult<Settings> {
    let (mut config, at) = config_of(state, profile)?;
    let chosen = &mut config.profiles[at];
    let gone = chosen.offsite.take();
    let engine = Engine::new(chosen.clone(), &state.history_db)?;
    let name = chosen.name.clone();
    config.save(&state.config_path)?;
    tracing::info!("offsite copy of \"{name}\" turned off (was {:?})", gone.map(|o| o.repository));
    state.apply_profile(config, Some(&name), engine);
    Ok(get_settings(state, Some(&name)))
}

/// The saved config and the index in it of `profile` (`None`: the first).
fn config_of(state: &AppState, profile: Option<&str>) -> ApiResult<(Config, usize)> {
    let name = state.require_engine(profile)?.profile().name.clone();
    let config = state.config().ok_or(Error::NotSetUp)?;
    let at = config.profiles.iter().position(|p| p.name == name).ok_or(Error::NotSetUp)?;
    Ok((config, at))
}

/// The profile's offsite repository and its secrets (environment, else keychain).
fn offsite_access(state: &AppState, profile: Option<&str>) -> ApiResult<(String, lifeboat::offsite::Secrets)> {
    let engine = state.require_engine(profile)?;
    let repository = engine.profile().offsite.as_ref().map(|o| o.repository.clone()).ok_or_else(|| {
        offsite_field(Error::setting("offsite", "there is no offsite copy: set one up in Settings first"))
    })?;
    let (secrets, _) = lifeboat::offsite::resolve_secrets(&repository, None)?;
    Ok((repository, secrets))
}

/// The snapshots in the profile's offsite repository, newest first (Lifeboat's only).
pub fn list_offsite(state: &AppState, profile: Option<&str>) -> ApiResult<Vec<OffsiteSnapshot>> {
    let (repository, secrets) = offsite_access(state, profile)?;
    let all = lifeboat::offsite::list(&repository, &secrets)?;
    Ok(all.into_iter().filter(|s| s.path.starts_with(lifeboat::offsite::SNAPSHOT_ROOT)).collect())
}

/// Restores offsite snapshot `snapshot` (its id) whole into `to`, a new or empty folder,
/// and checks it against the manifest inside it. The live data is not touched.
pub fn restore_offsite(
    state: &AppState,
    profile: Option<&str>,
    snapshot: &str,
    to: &Path,
) -> ApiResult<OffsiteRestoreReport> {
    let (repository, secrets) = offsite_access(state, profile)?;
    if !to.is_absolute() {
        return Err(Error::Refused { message: format!("{} is not a full path: choose a folder", to.display()) }.into());
    }
    lifeboat::check_restore_folder(to, state.require_engine(profile)?.profile())?;
    tracing::info!("offsite: restore {snapshot} into {}", to.display());
    let report = lifeboat::offsite::restore(&repository, &secrets, snapshot, &[], to, None, Default::default())?;
    tracing::info!("offsite: restored {} files into {}", report.files, report.to.display());
    Ok(report)
}

/// Brings offsite snapshot `snapshot` (its id) back into the profile's destination as the
/// local backup it was pushed from (`lifeboat::offsite::fetch`): the backup list then
/// shows it, and the usual restore works from it (in place, chosen paths, safety snapshot).
pub fn fetch_offsite(state: &AppState, profile: Option<&str>, snapshot: &str) -> ApiResult<FetchReport> {
    let engine = state.require_engine(profile)?;
    let (_, secrets) = offsite_access(state, profile)?;
    tracing::info!("offsite: fetch {snapshot} into {}", engine.destination().display());
    Ok(lifeboat::offsite::fetch(engine.profile(), &secrets, snapshot, Default::default())?)
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
    state.save_pauses();
    Ok(state.status())
}

/// Resumes the scheduled backups of `profile` (`None`: every profile).
pub fn resume_backups(state: &AppState, profile: Option<&str>) -> ApiResult<AppStatus> {
    chosen(state, profile)?.iter().for_each(|s| s.resume());
    state.save_pauses();
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
        headline: None,
    })
}
