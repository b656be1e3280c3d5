//! The app's state (scheduler, config, login item) and the status the tray and window show.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use lifeboat::{Activity, Pause, Scheduler, SystemClock};
use lifeboat::{Config, Engine, Error, Health, ProgressUpdate, Status};
use serde::Serialize;

use crate::autostart::LoginItem;

/// Everything the commands, the tray and the event forwarder share.
pub struct AppState {
    pub scheduler: Arc<Scheduler>,
    pub config_path: PathBuf,
    pub history_db: PathBuf,
    pub log_dir: PathBuf,
    pub login: Arc<dyn LoginItem>,
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
        let now = self.scheduler.now();
        let setup = self.scheduler.engine().is_none();
        let problem = self.config_problem.lock().expect("config lock").clone();
        let (state, headline) = describe(&Describe {
            setup,
            config_problem: problem.as_deref(),
            status: status.as_ref(),
            running: running.as_ref().map(|(a, p)| (*a, p.as_ref())),
            paused,
            now,
        });
        AppStatus {
            state,
            headline,
            status,
            progress: running.as_ref().and_then(|(_, p)| p.clone()),
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

/// The state word for the tray icon and the window's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Setup,
    Protected,
    BackingUp,
    NeedsAttention,
    Paused,
}

/// What `get_status` returns and `status-changed` carries (docs/app-api.md).
#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    pub state: State,
    pub headline: String,
    pub status: Option<Status>,
    pub progress: Option<ProgressUpdate>,
    pub running: Option<Activity>,
    pub paused_until: Option<String>,
    pub autostart: bool,
    pub log_file: PathBuf,
}

/// The inputs of [`describe`], gathered so the wording can be tested without an app.
pub struct Describe<'a> {
    pub setup: bool,
    pub config_problem: Option<&'a str>,
    pub status: Option<&'a Status>,
    pub running: Option<(Activity, Option<&'a ProgressUpdate>)>,
    pub paused: Option<Pause>,
    pub now: DateTime<Utc>,
}

/// The state and the one-line headline, e.g. "Last backup 2 h ago · next in 10 h".
pub fn describe(d: &Describe) -> (State, String) {
    if d.setup {
        let headline = match d.config_problem {
            Some(p) => format!("Settings need attention: {p}"),
            None => "Set up Lifeboat: choose what to back up".to_string(),
        };
        return (State::Setup, headline);
    }
    if let Some((activity, progress)) = d.running {
        let verb = match activity {
            Activity::Backup => "Backing up…",
            Activity::Restore => "Restoring…",
            Activity::Verify => "Verifying…",
        };
        let headline = match progress.and_then(percent) {
            Some(p) => format!("{verb} {p}%"),
            None => verb.to_string(),
        };
        return (State::BackingUp, headline);
    }
    let last = d.status.and_then(|s| s.last_backup.as_ref()).map(|b| b.started_at);
    let last_text = match last {
        Some(t) => format!("Last backup {}", ago(d.now - t)),
        None => "No backup yet".to_string(),
    };
    if let Some(pause) = d.paused {
        let until = match pause {
            Pause::Until(t) => format!("Paused for {}", span(t - d.now)),
            Pause::Indefinitely => "Paused until resumed".to_string(),
        };
        return (State::Paused, format!("{until} · {}", last_text.to_lowercase_first()));
    }
    let Some(status) = d.status else {
        return (State::NeedsAttention, "Cannot read the backup status: see the log".to_string());
    };
    let next = match status.next_due {
        Some(due) if due > d.now => format!("next in {}", span(due - d.now)),
        _ => "next due now".to_string(),
    };
    match status.health {
        Health::Failing => {
            let cause = status.last_error.as_ref().map_or("unknown error", |e| e.message.as_str());
            (State::NeedsAttention, format!("Last backup failed: {cause}"))
        }
        Health::Damaged => {
            let cause = status.last_error.as_ref().map_or("verify found problems", |e| e.message.as_str());
            (State::NeedsAttention, format!("Newest backup is damaged: {cause}"))
        }
        Health::Overdue => (State::NeedsAttention, format!("{last_text} · overdue")),
        Health::Partial => (
            State::NeedsAttention,
            format!(
                "{last_text} · {}",
                lifeboat::view::health_detail(Health::Partial, status.not_backed_up.len()).unwrap_or_default()
            ),
        ),
        Health::NoBackup => (State::NeedsAttention, format!("{last_text} · {next}")),
        Health::Ok => (State::Protected, format!("{last_text} · {next}")),
    }
}

/// The engine's percentage, once there is anything to count.
fn percent(p: &ProgressUpdate) -> Option<u8> {
    (p.bytes_total > 0 || p.files_total > 0).then(|| p.percent())
}

/// "just now", "5 min ago", "2 h ago", "3 days ago".
pub fn ago(d: Duration) -> String {
    if d < Duration::minutes(1) {
        "just now".to_string()
    } else {
        format!("{} ago", span(d))
    }
}

/// A rough length of time: "45 s", "5 min", "2 h", "3 days".
pub fn span(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let minutes = (secs + 30) / 60;
    if secs < 60 {
        format!("{secs} s")
    } else if minutes < 60 {
        format!("{minutes} min")
    } else if secs < 172_800 {
        format!("{} h", (secs + 1800) / 3600)
    } else {
        format!("{} days", (secs + 43_200) / 86_400)
    }
}

trait LowercaseFirst {
    fn to_lowercase_first(&self) -> String;
}

impl LowercaseFirst for String {
    fn to_lowercase_first(&self) -> String {
        let mut chars = self.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::Phase;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(ago(Duration::seconds(20)), "just now");
        assert_eq!(ago(Duration::minutes(5)), "5 min ago");
        assert_eq!(ago(Duration::minutes(125)), "2 h ago");
        assert_eq!(span(Duration::hours(10)), "10 h");
        assert_eq!(span(Duration::hours(50)), "2 days");
        assert_eq!(span(Duration::seconds(3599)), "1 h");
    }

    #[test]
    fn running_backup_shows_percent() {
        let p =
            ProgressUpdate { phase: Phase::Copying, files_done: 1, files_total: 10, bytes_done: 45, bytes_total: 100 };
        let d = Describe {
            setup: false,
            config_problem: None,
            status: None,
            running: Some((Activity::Backup, Some(&p))),
            paused: None,
            now: at("2025-12-29T10:00:00Z"),
        };
        assert_eq!(describe(&d), (State::BackingUp, "Backing up… 45%".to_string()));
    }

    #[test]
    fn setup_and_pause_are_named() {
        let now = at("2025-12-29T10:00:00Z");
        let d = Describe { setup: true, config_problem: None, status: None, running: None, paused: None, now };
        assert_eq!(describe(&d).0, State::Setup);
        let d = Describe {
            setup: false,
            config_problem: None,
            status: None,
            running: None,
            paused: Some(Pause::Until(now + Duration::hours(1))),
            now,
        };
        assert_eq!(describe(&d), (State::Paused, "Paused for 1 h · no backup yet".to_string()));
    }
}
