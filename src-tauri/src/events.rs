//! Runs every profile's scheduler and shows what they do: one loop takes their events
//! (and the clock, launch-at-login switches and added profiles) and is the only place
//! that updates the tray and emits to the window. Progress goes out throttled; some
//! events notify.
//!
//! State flows one way: commands and the tray act through the scheduler (`api`), the
//! scheduler announces, this loop shows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeboat::view::{self, AppView, ProgressView};
use lifeboat::{Event, Scheduler};
use schemars::JsonSchema;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::notify::{self, Note, Notifier};
use crate::state::{profile_name, AppState, AppStatus};

/// The window's event after every state change; its payload is [`AppStatus`].
pub const STATUS_CHANGED: &str = "status-changed";
/// The window's event while a job runs; its payload is [`ProfileProgress`].
pub const PROGRESS: &str = "progress";

/// At most this often a `progress` event per profile (~10 per second).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// While an offsite push runs, the status is read again this often: the bytes it has
/// sent so far (the push itself only announces its start and end).
pub const OFFSITE_EVERY: Duration = Duration::from_secs(1);

/// A running job's progress, and whose job it is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProfileProgress {
    /// The profile whose job this is.
    pub profile: String,
    /// The numbers and their words.
    #[serde(flatten)]
    pub progress: ProgressView,
}

/// A scheduler's event, with the name of its profile.
type ProfileEvent = (String, Event);

/// Starts every profile's scheduler loop and the loop that shows their events.
pub fn start<R: Runtime>(app: &AppHandle<R>, state: Arc<AppState>, tick: Duration) {
    let (tx, events) = unbounded_channel();
    let mut running = Vec::new();
    run_new_profiles(&state, &mut running, &tx, tick);
    tauri::async_runtime::spawn(show(app.clone(), state, Schedulers { running, tx, events, tick }));
}

/// The schedulers started so far, and the channel their events come in on.
struct Schedulers {
    running: Vec<Arc<Scheduler>>,
    tx: UnboundedSender<ProfileEvent>,
    events: UnboundedReceiver<ProfileEvent>,
    tick: Duration,
}

/// Starts the loop of each scheduler not started yet (a profile just added), and forwards
/// its events, named by profile, to the one loop.
fn run_new_profiles(
    state: &AppState,
    running: &mut Vec<Arc<Scheduler>>,
    tx: &UnboundedSender<ProfileEvent>,
    tick: Duration,
) {
    for scheduler in state.schedulers() {
        if running.iter().any(|r| Arc::ptr_eq(r, &scheduler)) {
            continue;
        }
        running.push(Arc::clone(&scheduler));
        // Subscribed before the loop starts: its startup backup is not missed.
        let mut events = scheduler.subscribe();
        let tx = tx.clone();
        let forwarded = Arc::clone(&scheduler);
        tauri::async_runtime::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => Event::Changed,
                    Err(RecvError::Closed) => return,
                };
                if tx.send((profile_name(&forwarded).unwrap_or_default(), event)).is_err() {
                    return;
                }
            }
        });
        tauri::async_runtime::spawn(scheduler.run(tick));
    }
}

/// What the loop showed last, so a clock tick only emits when the words changed.
struct Shown {
    /// Per profile: what was told, so each profile is told once per episode.
    notifiers: HashMap<String, Notifier>,
    last: Option<Vec<AppView>>,
}

impl Shown {
    fn notifier(&mut self, profile: &str) -> &Notifier {
        self.notifiers.entry(profile.to_string()).or_default()
    }
}

/// The one subscriber: every scheduler event (and every `tick`, for the times in the
/// words, and every launch-at-login switch or added profile) refreshes the tray and the
/// window.
async fn show<R: Runtime>(app: AppHandle<R>, state: Arc<AppState>, mut schedulers: Schedulers) {
    let mut shown = Shown { notifiers: HashMap::new(), last: None };
    let mut clock = tokio::time::interval(schedulers.tick);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress: HashMap<String, Instant> = HashMap::new();
    // The profiles whose offsite push runs now.
    let mut pushing: HashSet<String> = HashSet::new();
    loop {
        let force = tokio::select! {
            event = schedulers.events.recv() => match event {
                Some((profile, Event::Progress(progress))) => {
                    let last = last_progress.get(&profile);
                    if last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                        last_progress.insert(profile.clone(), Instant::now());
                        emit_progress(&app, &ProfileProgress { profile, progress: view::progress_view(&progress) });
                        crate::tray::update(&app, &state.cached_status());
                    }
                    continue;
                }
                Some((profile, event)) => {
                    log_event(&profile, &event);
                    if let Event::Offsite { pushing: now } = event {
                        if now {
                            pushing.insert(profile.clone());
                        } else {
                            pushing.remove(&profile);
                        }
                    }
                    let several = state.schedulers().len() > 1;
                    if let Some(note) = shown.notifier(&profile).for_event(&event, state.notify_on_success()) {
                        notify::send(naming(note, &profile, several));
                    }
                    true
                }
                None => return,
            },
            _ = clock.tick() => false,
            _ = tokio::time::sleep(OFFSITE_EVERY), if !pushing.is_empty() => false,
            _ = state.login_changed.notified() => true,
            _ = state.profiles_changed.notified() => {
                run_new_profiles(&state, &mut schedulers.running, &schedulers.tx, schedulers.tick);
                true
            }
        };
        publish(&app, &state, &mut shown, force).await;
    }
}

/// With several profiles a notification says whose it is.
fn naming(note: Note, profile: &str, several: bool) -> Note {
    if several {
        Note { summary: format!("{} ({profile})", note.summary), ..note }
    } else {
        note
    }
}

/// Reads the status off the runtime, updates the tray, emits `status-changed` (always
/// when `force`, else only when the words changed), and checks each profile for overdue
/// and partial backups.
async fn publish<R: Runtime>(app: &AppHandle<R>, state: &Arc<AppState>, shown: &mut Shown, force: bool) {
    let reader = Arc::clone(state);
    let Ok(status) = tauri::async_runtime::spawn_blocking(move || reader.status()).await else { return };
    let views: Vec<AppView> =
        std::iter::once(status.view.clone()).chain(status.profiles.iter().map(|p| p.view.clone())).collect();
    let changed = shown.last.replace(views.clone()).as_ref() != Some(&views);
    crate::tray::update(app, &status);
    if force || changed {
        emit_status(app, &status);
    }
    let several = status.profiles.len() > 1;
    let now = chrono::Utc::now();
    for profile in &status.profiles {
        let Some(engine_status) = &profile.status else { continue };
        let notifier = shown.notifier(&profile.profile);
        let notes = [notifier.for_status(engine_status, now), notifier.for_partial(engine_status)];
        for note in notes.into_iter().flatten() {
            notify::send(naming(note, &profile.profile, several));
        }
    }
}

fn emit_status<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) {
    let _ = app.emit(STATUS_CHANGED, status);
}

fn emit_progress<R: Runtime>(app: &AppHandle<R>, progress: &ProfileProgress) {
    let _ = app.emit(PROGRESS, progress);
}

fn log_event(profile: &str, event: &Event) {
    match event {
        Event::Started { activity, trigger } => tracing::info!("{profile}: {activity:?} started ({trigger:?})"),
        Event::BackupDone { trigger, outcome } => match outcome {
            lifeboat::BackupOutcome::Created { backup } => {
                tracing::info!("{profile}: backup {} done ({trigger:?})", backup.name)
            }
            lifeboat::BackupOutcome::Skipped { reason } => {
                tracing::info!("{profile}: backup skipped ({trigger:?}): {reason}")
            }
        },
        Event::RestoreDone { report } => tracing::info!("{profile}: restore of {} done", report.name),
        Event::VerifyDone { report } => tracing::info!("{profile}: verify of {}: ok = {}", report.name, report.ok),
        Event::Failed { activity, error, streak, .. } => {
            tracing::warn!("{profile}: {activity:?} failed (streak {streak}): {}", error.message)
        }
        Event::Changed => tracing::info!("{profile}: settings or pause changed"),
        Event::Offsite { pushing } => {
            tracing::info!("{profile}: offsite push {}", if *pushing { "started" } else { "ended" })
        }
        Event::Progress(_) => {}
    }
}
