//! The app's state (scheduler, config, login item) and the status the tray and window
//! show: the engine's status, worded by `lifeboat::view::describe`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lifeboat::view::{self, AppFacts, AppView};
use lifeboat::{Activity, Pause, Scheduler, SystemClock};
use lifeboat::{Config, Engine, Error, Status};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::Notify;

use crate::autostart::LoginItem;

/// Everything the commands, the tray and the event forwarder share.
pub struct AppState {
    pub scheduler: Arc<Scheduler>,
    pub config_path: PathBuf,
    pub history_db: PathBuf,
    pub log_dir: PathBuf,
    pub login: Arc<dyn LoginItem>,
    /// Rings when launch at login is switched: the one fact of the status that is the
    /// app's own, not the scheduler's, so the events loop listens to it beside the
    /// scheduler's events.
    pub login_changed: Notify,
    /// The config as loaded or last saved; `None` until set up.
    config: Mutex<Option<Config>>,
    /// Why the config could not be loaded, shown until settings are saved.
    config_problem: Mutex<Option<String>>,
    /// The engine's last status, so progress updates need not read the destination.
    last_status: Mutex<Option<Status>>,
}

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
        let engine = config.as_ref().and_then(|c| match Engine::new(c.profiles[0].clone(), &history_db) {
            Ok(engine) => Some(engine),
            Err(e) => {
                tracing::error!("cannot use the profile: {e}");
                None
            }
        });
        match &engine {
            Some(e) => tracing::info!("profile \"{}\" loaded from {}", e.profile().name, config_path.display()),
            None => tracing::info!("no usable config at {}: waiting for setup", config_path.display()),
        }
        AppState {
            scheduler: Scheduler::new(engine, Arc::new(SystemClock)),
            config_path,
            history_db,
            log_dir: data_dir.join("logs"),
            login,
            login_changed: Notify::new(),
            config: Mutex::new(config),
            config_problem: Mutex::new(problem),
            last_status: Mutex::new(None),
        }
    }

    pub fn config(&self) -> Option<Config> {
        self.config.lock().expect("config lock").clone()
    }

    /// Records a saved config and applies its first profile to the scheduler.
    pub fn apply_config(&self, config: Config, engine: Engine) {
        *self.config.lock().expect("config lock") = Some(config);
        *self.config_problem.lock().expect("config lock") = None;
        self.scheduler.set_engine(engine);
    }

    /// Switches launch at login and tells the events loop; returns the new state.
    pub fn set_login(&self, enabled: bool) -> Result<bool, Error> {
        let now = self.login.set(enabled)?;
        self.login_changed.notify_one();
        Ok(now)
    }

    pub fn notify_on_success(&self) -> bool {
        self.config().is_some_and(|c| c.notify_on_success)
    }

    pub fn require_engine(&self) -> Result<Arc<Engine>, Error> {
        self.scheduler.engine().ok_or(Error::NotSetUp)
    }

    /// The log file to open: today's, or the log folder before anything was written.
    pub fn log_file(&self) -> PathBuf {
        lifeboat::current_log_file(&self.log_dir).unwrap_or_else(|| self.log_dir.clone())
    }

    /// Reads the engine's status afresh (touches the destination and the history).
    pub fn status(&self) -> AppStatus {
        let engine_status = self.scheduler.engine().map(|e| e.status(self.scheduler.now()));
        let status = match engine_status {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                tracing::warn!("cannot read the status: {e}");
                None
            }
            None => None,
        };
        *self.last_status.lock().expect("status lock") = status.clone();
        self.compose(status)
    }

    /// The status from the last read, with the scheduler's live state (cheap: for progress).
    pub fn cached_status(&self) -> AppStatus {
        let status = self.last_status.lock().expect("status lock").clone();
        self.compose(status)
    }

    fn compose(&self, status: Option<Status>) -> AppStatus {
        let running = self.scheduler.running();
        let paused = self.scheduler.paused();
        let problem = self.config_problem.lock().expect("config lock").clone();
        let facts = AppFacts {
            setup_needed: self.scheduler.engine().is_none(),
            config_problem: problem.as_deref(),
            running: running.as_ref().map(|(a, p)| (*a, p.as_ref())),
            paused,
            offsite_push: self.scheduler.offsite().uploading(),
        };
        AppStatus {
            view: view::describe(status.as_ref(), &facts, self.scheduler.now()),
            status,
            running: running.map(|(a, _)| a),
            paused_until: paused.map(|p| match p {
                Pause::Until(t) => t.to_rfc3339(),
                Pause::Indefinitely => "indefinitely".into(),
            }),
            autostart: self.login.enabled(),
            log_file: self.log_file(),
        }
    }
}

/// What `get_status` returns and `status-changed` carries: the words the tray and the
/// window's header show, and the facts behind them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AppStatus {
    /// The state, its words and the running job's progress (`lifeboat::view::describe`).
    #[serde(flatten)]
    pub view: AppView,
    /// The engine's status; `null` before setup (no profile) or when it cannot be read.
    pub status: Option<Status>,
    /// The job running now.
    pub running: Option<Activity>,
    /// When scheduled backups resume (RFC 3339), `"indefinitely"`, or `null` when not paused.
    pub paused_until: Option<String>,
    /// Whether Lifeboat starts at login.
    pub autostart: bool,
    /// The log file "Open log file" opens.
    pub log_file: PathBuf,
}
