//! When the next backup is due, and the loop both `lifeboat run` and the tray app run.
//!
//! The loop reads the wall clock every tick instead of sleeping for hours: a laptop that
//! slept through a due time, or an app that was closed, backs up soon after it wakes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

use crate::backup::BackupOutcome;
use crate::engine::Engine;
use crate::error::{Error, ErrorReport, Result};
use crate::manifest::Trigger;
use crate::progress::{Progress, ProgressUpdate};
use crate::restore::{RestoreReport, RestoreRequest};
use crate::verify::VerifyReport;

/// How often the loop looks at the clock.
pub const DEFAULT_TICK: StdDuration = crate::env::DEFAULT_TICK;
/// After a failed scheduled attempt, wait this long before the next one.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::minutes(10);

/// The wall clock, injectable so tests can jump over sleep and DST.
pub trait Clock: Send + Sync {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What the scheduler is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// A backup.
    Backup,
    /// A restore.
    Restore,
    /// A verify.
    Verify,
}

/// Backups paused until a time, or until resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    /// Until that time (UTC).
    Until(DateTime<Utc>),
    /// Until resumed.
    Indefinitely,
}

/// What the scheduler tells its front end.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A job started.
    Started {
        /// The job.
        activity: Activity,
        /// What started it.
        trigger: Option<Trigger>,
    },
    /// Progress of the running job.
    Progress(ProgressUpdate),
    /// A backup run ended well (made one, or skipped).
    BackupDone {
        /// What started it.
        trigger: Trigger,
        /// How it ended.
        outcome: BackupOutcome,
    },
    /// A restore ended well.
    RestoreDone {
        /// What it found or did.
        report: RestoreReport,
    },
    /// A verify ended (its report says whether the backup is whole).
    VerifyDone {
        /// What it found or did.
        report: VerifyReport,
    },
    /// `streak` counts backup failures in a row (1 = the first of a streak).
    Failed {
        /// The job.
        activity: Activity,
        /// What started it.
        trigger: Option<Trigger>,
        /// What went wrong.
        error: ErrorReport,
        /// Backup failures in a row (1 = the first of a streak).
        streak: usize,
    },
    /// Paused, resumed, or the profile changed.
    Changed,
    /// The background offsite push started (`pushing`) or ended, however it ended: the
    /// offsite part of the status changed.
    Offsite {
        /// A push runs now.
        pushing: bool,
    },
}

/// One job at a time per destination among the schedulers that share this queue (the
/// tray app's profiles): a job whose destination is busy with another profile's job waits
/// for its turn instead of failing on the destination's lock.
#[derive(Default)]
pub struct DestinationQueue {
    turns: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl DestinationQueue {
    /// An empty queue, to share between schedulers.
    pub fn new() -> Arc<DestinationQueue> {
        Arc::new(DestinationQueue::default())
    }

    /// Waits until no other job of this queue uses `destination`; the turn lasts as long
    /// as the guard. Two spellings of one folder (links, `..`) are one destination.
    pub async fn turn(&self, destination: &Path) -> tokio::sync::OwnedMutexGuard<()> {
        let key = crate::config::resolve_lexically(destination);
        let turn = Arc::clone(self.turns.lock().expect("destination queue").entry(key).or_default());
        turn.lock_owned().await
    }
}

#[derive(Default)]
struct State {
    paused: Option<Pause>,
    running: Option<Activity>,
    progress: Option<ProgressUpdate>,
    last_failure: Option<DateTime<Utc>>,
    streak: usize,
}

/// Runs backups on time and on demand, one job at a time.
pub struct Scheduler {
    engine: RwLock<Option<Arc<Engine>>>,
    clock: Arc<dyn Clock>,
    retry_after: Duration,
    state: Mutex<State>,
    job: tokio::sync::Mutex<()>,
    events: broadcast::Sender<Event>,
    wake: Notify,
    offsite: crate::offsite::Pusher,
    queue: Arc<DestinationQueue>,
}

impl Scheduler {
    /// A scheduler for `engine` (`None` until the app is set up).
    pub fn new(engine: Option<Engine>, clock: Arc<dyn Clock>) -> Arc<Scheduler> {
        Self::with_retry(engine, clock, DEFAULT_RETRY_AFTER)
    }

    /// A scheduler that waits `retry_after` after a failed scheduled attempt.
    pub fn with_retry(engine: Option<Engine>, clock: Arc<dyn Clock>, retry_after: Duration) -> Arc<Scheduler> {
        Self::sharing(engine, clock, retry_after, DestinationQueue::new())
    }

    /// A scheduler whose jobs take turns with those of the other schedulers on `queue`
    /// when they use the same destination (several profiles in one app).
    pub fn sharing(
        engine: Option<Engine>,
        clock: Arc<dyn Clock>,
        retry_after: Duration,
        queue: Arc<DestinationQueue>,
    ) -> Arc<Scheduler> {
        let (events, _) = broadcast::channel(256);
        let told = events.clone();
        let offsite = crate::offsite::Pusher::observed(Box::new(move |pushing| {
            let _ = told.send(Event::Offsite { pushing });
        }));
        Arc::new(Scheduler {
            engine: RwLock::new(engine.map(Arc::new)),
            clock,
            retry_after,
            state: Mutex::new(State::default()),
            job: tokio::sync::Mutex::new(()),
            events,
            wake: Notify::new(),
            offsite,
            queue,
        })
    }

    /// Every event from now on (a broadcast: a slow receiver may miss old ones).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The engine of the current profile, if set up.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.read().expect("engine lock").clone()
    }

    /// Switches to a new profile (settings saved); takes effect at once, the offsite copy
    /// included: the pusher gets the new profile (and pushes what is pending), or stops
    /// when the offsite copy was turned off.
    pub fn set_engine(&self, engine: Engine) {
        *self.engine.write().expect("engine lock") = Some(Arc::new(engine));
        let mut s = self.state();
        s.last_failure = None;
        s.streak = 0;
        drop(s);
        self.offsite_request();
        self.emit(Event::Changed);
        self.wake.notify_one();
    }

    /// The scheduler's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Pauses scheduled backups (a manual backup still runs).
    pub fn pause(&self, pause: Pause) {
        self.state().paused = Some(pause);
        self.offsite_sync_pause();
        tracing::info!("backups paused: {pause:?}");
        self.emit(Event::Changed);
    }

    /// Resumes scheduled backups and looks at once whether one is due.
    pub fn resume(&self) {
        self.state().paused = None;
        self.offsite_sync_pause();
        tracing::info!("backups resumed");
        self.emit(Event::Changed);
        self.wake.notify_one();
    }

    /// The current pause, if it has not run out.
    pub fn paused(&self) -> Option<Pause> {
        let now = self.now();
        let mut s = self.state();
        if let Some(Pause::Until(t)) = s.paused {
            if now >= t {
                s.paused = None;
            }
        }
        s.paused
    }

    /// The job running now and its latest progress.
    pub fn running(&self) -> Option<(Activity, Option<ProgressUpdate>)> {
        let s = self.state();
        s.running.map(|a| (a, s.progress.clone()))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("scheduler state")
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    fn require_engine(&self) -> Result<Arc<Engine>> {
        self.engine().ok_or(Error::NotSetUp)
    }

    /// Runs `work` on a blocking thread as the one job, forwarding its progress.
    async fn job<T: Send + 'static>(
        self: &Arc<Self>,
        activity: Activity,
        trigger: Option<Trigger>,
        work: impl FnOnce(&Engine, &dyn Progress) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let engine = self.require_engine()?;
        let Ok(_guard) = self.job.try_lock() else {
            let what = self.running().map(|(a, _)| a).unwrap_or(activity);
            return Err(Error::Busy {
                what: format!(
                    "a {}",
                    match what {
                        Activity::Backup => "backup",
                        Activity::Restore => "restore",
                        Activity::Verify => "verify",
                    }
                ),
                path: engine.destination().to_path_buf(),
                pid: std::process::id(),
                host: crate::fsx::host_name(),
            });
        };
        // Another profile's job on the same destination goes first; this one waits.
        let _turn = self.queue.turn(engine.destination()).await;
        {
            let mut s = self.state();
            s.running = Some(activity);
            s.progress = None;
        }
        self.emit(Event::Started { activity, trigger });
        let me = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let forward = |p: &ProgressUpdate| {
                me.state().progress = Some(p.clone());
                me.emit(Event::Progress(p.clone()));
            };
            work(&engine, &forward)
        })
        .await
        .unwrap_or_else(|e| {
            Err(Error::Internal { message: format!("the {activity:?} job stopped unexpectedly: {e}") })
        });
        {
            let mut s = self.state();
            s.running = None;
            s.progress = None;
        }
        result
    }

    /// Makes a backup now as the one job, as the tray's "Back up now" and the scheduler do.
    ///
    /// # Errors
    /// [`Error::Busy`] while another job runs; see [`Engine::backup`].
    pub async fn backup_now(self: &Arc<Self>, trigger: Trigger) -> Result<BackupOutcome> {
        let result = self.job(Activity::Backup, Some(trigger), move |e, p| e.backup(trigger, p)).await;
        match &result {
            Ok(outcome) => {
                {
                    let mut s = self.state();
                    s.last_failure = None;
                    s.streak = 0;
                }
                self.emit(Event::BackupDone { trigger, outcome: outcome.clone() });
                self.offsite_after_backup(outcome);
            }
            Err(Error::Busy { .. }) => {}
            Err(e) => {
                let streak = {
                    let mut s = self.state();
                    s.last_failure = Some(self.clock.now());
                    s.streak += 1;
                    s.streak
                };
                self.emit(Event::Failed {
                    activity: Activity::Backup,
                    trigger: Some(trigger),
                    error: e.report(),
                    streak,
                });
            }
        }
        result
    }

    /// Restores `name` as the one job.
    ///
    /// # Errors
    /// [`Error::Busy`] while another job runs; see [`Engine::restore`].
    pub async fn restore(self: &Arc<Self>, name: String) -> Result<RestoreReport> {
        self.restore_request(RestoreRequest::all(&name)).await
    }

    /// Restores as `request` asks (some paths, or into another folder) as the one job,
    /// announcing it as [`Scheduler::restore`] does.
    ///
    /// # Errors
    /// [`Error::Busy`] while another job runs; see [`Engine::restore_request`].
    pub async fn restore_request(self: &Arc<Self>, request: RestoreRequest) -> Result<RestoreReport> {
        let result = self.job(Activity::Restore, None, move |e, p| e.restore_request(&request, p)).await;
        match &result {
            Ok(report) => self.emit(Event::RestoreDone { report: report.clone() }),
            Err(e) => {
                self.emit(Event::Failed { activity: Activity::Restore, trigger: None, error: e.report(), streak: 0 })
            }
        }
        result
    }

    /// Verifies `name` (default: the newest) as the one job.
    ///
    /// # Errors
    /// [`Error::Busy`] while another job runs; see [`Engine::verify`].
    pub async fn verify(self: &Arc<Self>, name: Option<String>) -> Result<VerifyReport> {
        let result = self.job(Activity::Verify, None, move |e, p| e.verify(name.as_deref(), p)).await;
        match &result {
            Ok(report) => self.emit(Event::VerifyDone { report: report.clone() }),
            Err(e) => {
                self.emit(Event::Failed { activity: Activity::Verify, trigger: None, error: e.report(), streak: 0 })
            }
        }
        result
    }

    /// Whether a scheduled backup should start now: set up, not paused, not running,
    /// past due, and not right after a failure.
    pub fn due_now(&self) -> bool {
        let Some(engine) = self.engine() else { return false };
        if self.paused().is_some() || self.running().is_some() {
            return false;
        }
        let now = self.now();
        if let Some(failed) = self.state().last_failure {
            if now < failed + self.retry_after {
                return false;
            }
        }
        engine.next_due(now).is_none_or(|due| now >= due)
    }

    /// The loop: a startup backup when one is due or was missed, then a look at the
    /// clock every `tick` (or sooner when woken by a settings change or resume).
    pub async fn run(self: Arc<Self>, tick: StdDuration) {
        let mut trigger = Trigger::Startup;
        self.offsite_request();
        loop {
            self.offsite_sync_pause();
            if self.due_now() {
                let _ = self.backup_now(trigger).await;
            }
            trigger = Trigger::Scheduled;
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// The offsite hookup (issue 11): after every completed backup the pending backups are
/// pushed in the background by [`crate::offsite::Pusher`]'s own thread; a local backup
/// never waits for it. Pausing cancels the push in flight; resuming restarts it.
impl Scheduler {
    fn offsite_after_backup(&self, outcome: &BackupOutcome) {
        if matches!(outcome, BackupOutcome::Created { .. }) {
            self.offsite_request();
        }
    }

    /// Asks the pusher to push the current profile's pending backups (no-op without an
    /// offsite copy).
    pub fn offsite_request(&self) {
        if let Some(engine) = self.engine() {
            self.offsite.request(engine.profile());
        }
    }

    fn offsite_sync_pause(&self) {
        self.offsite.set_paused(self.paused().is_some());
    }

    /// The background pusher (whether it runs, pushes done, failures in a row).
    pub fn offsite(&self) -> &crate::offsite::Pusher {
        &self.offsite
    }

    /// The job slot, when no job runs: while the guard is held every job is refused as
    /// busy. The app holds it across re-executing itself (`relaunch` in the app), so no
    /// backup is cut off by it.
    pub fn try_idle(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        self.job.try_lock().ok()
    }

    /// Stops the pusher, cancelling a push in flight (on quit).
    pub fn shutdown(&self) {
        self.offsite.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::next_due;

    #[test]
    fn next_due_adds_the_interval() {
        let t = DateTime::parse_from_rfc3339("2025-12-29T09:57:15Z").unwrap().with_timezone(&Utc);
        assert_eq!(next_due(Some(t), 12.0), Some(t + Duration::hours(12)));
        assert_eq!(next_due(Some(t), 0.5), Some(t + Duration::minutes(30)));
        assert_eq!(next_due(None, 12.0), None);
    }
}
