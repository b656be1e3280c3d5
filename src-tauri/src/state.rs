//! The app's state (one scheduler per profile, config, login item) and the status the
//! tray and window show: each profile's engine status, worded by
//! `lifeboat::view::describe`, and the worst of them for the tray.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use lifeboat::view::{self, AppFacts, AppView, State};
use lifeboat::{Activity, DestinationQueue, Pause, Scheduler, SystemClock};
use lifeboat::{Config, Engine, Error, Status};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::Notify;

use crate::autostart::LoginItem;

/// Everything the commands, the tray and the event forwarder share.
pub struct AppState {
    pub config_path: PathBuf,
    pub history_db: PathBuf,
    pub log_dir: PathBuf,
    pub login: Arc<dyn LoginItem>,
    /// Rings when launch at login is switched: the one fact of the status that is the
    /// app's own, not the scheduler's, so the events loop listens to it beside the
    /// scheduler's events.
    pub login_changed: Notify,
    /// Rings when a profile is added: the events loop starts its scheduler and listens.
    pub profiles_changed: Notify,
    /// One scheduler per profile, in the config's order (a scheduler keeps its place when
    /// its profile is renamed: it is looked up by its engine's profile name).
    schedulers: RwLock<Vec<Arc<Scheduler>>>,
    /// Shared by every scheduler: one job at a time per destination, the others wait.
    queue: Arc<DestinationQueue>,
    /// The config as loaded or last saved; `None` until set up.
    config: Mutex<Option<Config>>,
    /// Why the config could not be loaded, shown until settings are saved.
    config_problem: Mutex<Option<String>>,
    /// Each profile's last engine status, so progress updates need not read the destination.
    last_status: Mutex<HashMap<String, Status>>,
    /// Where each profile's pause is kept across restarts ([`PAUSES_FILE`] in the data dir).
    pauses_path: PathBuf,
}

/// The file in the data dir that keeps each profile's pause across restarts (the login
/// item, a relaunch), as JSON: `{"Drumgen": {"until": "2026-11-30T08:00:00Z"}}` or
/// `{"Drumgen": "indefinitely"}`; a profile that is not paused is absent.
pub const PAUSES_FILE: &str = "paused.json";

impl AppState {
    /// Loads the config at `config_path`; no config (or a broken one) means "setup".
    pub fn load(config_path: PathBuf, data_dir: &Path, login: Arc<dyn LoginItem>) -> AppState {
        let history_db = data_dir.join("history.sqlite3");
        let (config, problem) = match Config::load(&config_path) {
            Ok(c) if !c.profiles.is_empty() => (Some(c), None),
            Ok(_) => (None, None),
            Err(Error::NoConfig { .. }) => (None, None),
            Err(e) => {
                tracing::error!("cannot use the config: {e}");
                (None, Some(e.to_string()))
            }
        };
        let queue = DestinationQueue::new();
        let mut schedulers = Vec::new();
        for profile in config.iter().flat_map(|c| &c.profiles) {
            match Engine::new(profile.clone(), &history_db) {
                Ok(engine) => {
                    tracing::info!("profile \"{}\" loaded from {}", profile.name, config_path.display());
                    schedulers.push(new_scheduler(Some(engine), &queue));
                }
                Err(e) => tracing::error!("cannot use the profile \"{}\": {e}", profile.name),
            }
        }
        if schedulers.is_empty() {
            tracing::info!("no usable config at {}: waiting for setup", config_path.display());
        }
        let pauses_path = data_dir.join(PAUSES_FILE);
        let pauses = load_pauses(&pauses_path);
        for s in &schedulers {
            if let Some(pause) = profile_name(s).and_then(|name| pauses.get(&name).copied()) {
                s.pause(pause);
            }
        }
        AppState {
            config_path,
            history_db,
            log_dir: data_dir.join("logs"),
            login,
            login_changed: Notify::new(),
            profiles_changed: Notify::new(),
            schedulers: RwLock::new(schedulers),
            queue,
            config: Mutex::new(config),
            config_problem: Mutex::new(problem),
            last_status: Mutex::new(HashMap::new()),
            pauses_path,
        }
    }

    /// Writes every profile's current pause to [`PAUSES_FILE`] (after a pause or resume).
    /// A failure is logged: the pause still holds until the app stops.
    pub fn save_pauses(&self) {
        let pauses: HashMap<String, Pause> =
            self.schedulers().iter().filter_map(|s| Some((profile_name(s)?, s.paused()?))).collect();
        let written = serde_json::to_vec_pretty(&pauses)
            .map_err(|e| Error::Internal { message: format!("pauses as JSON: {e}") })
            .and_then(|json| lifeboat::write_atomic(&self.pauses_path, &json));
        if let Err(e) = written {
            tracing::warn!("cannot keep the pause for the next start: {e}");
        }
    }

    /// The config as loaded or last saved.
    pub fn config(&self) -> Option<Config> {
        self.config.lock().expect("config lock").clone()
    }

    /// Every profile's scheduler, in the config's order.
    pub fn schedulers(&self) -> Vec<Arc<Scheduler>> {
        self.schedulers.read().expect("schedulers lock").clone()
    }

    /// The scheduler of `profile`; `None`: the first profile.
    ///
    /// # Errors
    /// [`Error::NotSetUp`] before the first setup; [`Error::Profile`] for an unknown name.
    pub fn scheduler(&self, profile: Option<&str>) -> Result<Arc<Scheduler>, Error> {
        let all = self.schedulers();
        let Some(name) = profile else { return all.first().cloned().ok_or(Error::NotSetUp) };
        if all.is_empty() {
            return Err(Error::NotSetUp);
        }
        all.iter().find(|s| profile_name(s).as_deref() == Some(name)).cloned().ok_or_else(|| Error::Profile {
            message: format!(
                "no profile named \"{name}\"; profiles: {}",
                all.iter().filter_map(|s| profile_name(s)).map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    /// The engine of `profile` (`None`: the first profile).
    pub fn require_engine(&self, profile: Option<&str>) -> Result<Arc<Engine>, Error> {
        self.scheduler(profile)?.engine().ok_or(Error::NotSetUp)
    }

    /// Records a saved config and applies `engine` to the scheduler of the profile that was
    /// named `was` (renamed or not), or starts a scheduler for a new profile.
    pub fn apply_profile(&self, config: Config, was: Option<&str>, engine: Engine) {
        *self.config.lock().expect("config lock") = Some(config);
        *self.config_problem.lock().expect("config lock") = None;
        let existing = was.and_then(|name| self.scheduler(Some(name)).ok());
        match existing {
            Some(scheduler) => {
                if let Some(old) = profile_name(&scheduler).filter(|old| *old != engine.profile().name) {
                    self.last_status.lock().expect("status lock").remove(&old);
                }
                scheduler.set_engine(engine);
            }
            None => {
                tracing::info!("profile \"{}\" added", engine.profile().name);
                self.schedulers.write().expect("schedulers lock").push(new_scheduler(Some(engine), &self.queue));
                self.profiles_changed.notify_one();
            }
        }
    }

    /// Switches launch at login and tells the events loop; returns the new state.
    pub fn set_login(&self, enabled: bool) -> Result<bool, Error> {
        let now = self.login.set(enabled)?;
        self.login_changed.notify_one();
        Ok(now)
    }

    /// Whether to notify after every successful backup.
    pub fn notify_on_success(&self) -> bool {
        self.config().is_some_and(|c| c.notify_on_success)
    }

    /// The log file to open: today's, or the log folder before anything was written.
    pub fn log_file(&self) -> PathBuf {
        lifeboat::current_log_file(&self.log_dir).unwrap_or_else(|| self.log_dir.clone())
    }

    /// Reads every profile's status afresh (touches the destinations and the history).
    pub fn status(&self) -> AppStatus {
        let fresh: Vec<Option<Status>> = self
            .schedulers()
            .iter()
            .map(|s| match s.engine().map(|e| e.status(s.now())) {
                Some(Ok(status)) => Some(status),
                Some(Err(e)) => {
                    tracing::warn!("cannot read the status: {e}");
                    None
                }
                None => None,
            })
            .collect();
        let mut last = self.last_status.lock().expect("status lock");
        for status in fresh.iter().flatten() {
            last.insert(status.profile.clone(), status.clone());
        }
        drop(last);
        self.compose()
    }

    /// The status from the last read, with the schedulers' live state (cheap: for progress).
    pub fn cached_status(&self) -> AppStatus {
        self.compose()
    }

    fn compose(&self) -> AppStatus {
        let problem = self.config_problem.lock().expect("config lock").clone();
        let last = self.last_status.lock().expect("status lock").clone();
        let profiles: Vec<ProfileStatus> = self
            .schedulers()
            .iter()
            .map(|s| {
                let name = profile_name(s).unwrap_or_default();
                profile_status(s, last.get(&name).cloned(), name, problem.as_deref())
            })
            .collect();
        // The first in the config's order among equals (`max_by_key` keeps the last).
        let worst = profiles.iter().rev().max_by_key(|p| severity(p.view.state));
        let summary = match worst {
            Some(p) => {
                let mut view = p.view.clone();
                if profiles.len() > 1 {
                    view.headline = format!("{}: {}", p.profile, view.headline);
                }
                ProfileStatus { view, ..p.clone() }
            }
            None => {
                let facts = AppFacts { setup_needed: true, config_problem: problem.as_deref(), ..AppFacts::default() };
                ProfileStatus {
                    profile: String::new(),
                    view: view::describe(None, &facts, chrono::Utc::now()),
                    status: None,
                    running: None,
                    paused_until: None,
                }
            }
        };
        AppStatus {
            view: summary.view,
            status: summary.status,
            running: summary.running,
            paused_until: summary.paused_until,
            profile: worst.map(|p| p.profile.clone()),
            profiles,
            autostart: self.login.enabled(),
            log_file: self.log_file(),
        }
    }
}

fn new_scheduler(engine: Option<Engine>, queue: &Arc<DestinationQueue>) -> Arc<Scheduler> {
    Scheduler::sharing(engine, Arc::new(SystemClock), lifeboat::DEFAULT_RETRY_AFTER, Arc::clone(queue))
}

/// The pauses kept in `path` ([`PAUSES_FILE`]); none when it is missing or unreadable
/// (logged: a lost pause means backups run, the safe side).
fn load_pauses(path: &Path) -> HashMap<String, Pause> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("ignoring {}: {e}", path.display());
            HashMap::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", path.display());
            HashMap::new()
        }
    }
}

/// The name of the profile a scheduler runs.
pub fn profile_name(scheduler: &Scheduler) -> Option<String> {
    scheduler.engine().map(|e| e.profile().name.clone())
}

/// One profile's words and facts, from its last engine status and its scheduler now.
fn profile_status(s: &Scheduler, status: Option<Status>, profile: String, problem: Option<&str>) -> ProfileStatus {
    let running = s.running();
    let paused = s.paused();
    let facts = AppFacts {
        setup_needed: s.engine().is_none(),
        config_problem: problem,
        running: running.as_ref().map(|(a, p)| (*a, p.as_ref())),
        paused,
        offsite_push: s.offsite().uploading(),
    };
    ProfileStatus {
        view: view::describe(status.as_ref(), &facts, s.now()),
        profile,
        status,
        running: running.map(|(a, _)| a),
        paused_until: paused.map(|p| match p {
            Pause::Until(t) => t.to_rfc3339(),
            Pause::Indefinitely => "indefinitely".into(),
        }),
    }
}

/// How much a state asks for the user's eye: the tray shows the worst profile's.
fn severity(state: State) -> u8 {
    match state {
        State::Protected => 0,
        State::BackingUp => 1,
        State::Paused => 2,
        State::Setup => 3,
        State::NeedsAttention => 4,
    }
}

/// One profile's state: its words (the window's header when it is the one shown) and the
/// facts behind them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProfileStatus {
    /// The profile's name: what commands take as `profile`.
    pub profile: String,
    /// The state, its words and the running job's progress (`lifeboat::view::describe`).
    #[serde(flatten)]
    pub view: AppView,
    /// The engine's status; `null` when it cannot be read.
    pub status: Option<Status>,
    /// The job running now.
    pub running: Option<Activity>,
    /// When scheduled backups resume (RFC 3339), `"indefinitely"`, or `null` when not paused.
    pub paused_until: Option<String>,
}

/// What `get_status` returns and `status-changed` carries: every profile's state, and
/// at the top the worst of them (what the tray shows: with several profiles its
/// headline starts with the profile's name).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AppStatus {
    /// The worst profile's state, its words and its running job's progress
    /// (`lifeboat::view::describe`); "setup" before the first profile.
    #[serde(flatten)]
    pub view: AppView,
    /// The worst profile's engine status; `null` before setup or when it cannot be read.
    pub status: Option<Status>,
    /// The job the worst profile runs now.
    pub running: Option<Activity>,
    /// When the worst profile's scheduled backups resume (RFC 3339), `"indefinitely"`,
    /// or `null` when not paused.
    pub paused_until: Option<String>,
    /// The profile the fields above describe; `null` before setup.
    pub profile: Option<String>,
    /// Every profile, in the config's order.
    pub profiles: Vec<ProfileStatus>,
    /// Whether Lifeboat starts at login.
    pub autostart: bool,
    /// The log file "Open log file" opens.
    pub log_file: PathBuf,
}
