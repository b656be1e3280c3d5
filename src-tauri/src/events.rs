//! Runs the scheduler and shows what it does: one loop takes the scheduler's events (and
//! the clock, and launch-at-login switches) and is the only place that updates the tray
//! and emits to the window. Progress goes out throttled; some events notify.
//!
//! State flows one way: commands and the tray act through the scheduler (`api`), the
//! scheduler announces, this loop shows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeboat::view::{self, AppView, ProgressView};
use lifeboat::Event;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::notify::{self, Notifier};
use crate::state::{AppState, AppStatus};

/// The window's event after every state change; its payload is [`AppStatus`].
pub const STATUS_CHANGED: &str = "status-changed";
/// The window's event while a job runs; its payload is [`ProgressView`].
pub const PROGRESS: &str = "progress";

/// At most this often a `progress` event (~10 per second).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// While an offsite push runs, the status is read again this often: the bytes it has
/// sent so far (the push itself only announces its start and end).
pub const OFFSITE_EVERY: Duration = Duration::from_secs(1);

/// Starts the scheduler loop and the loop that shows its events.
pub fn start<R: Runtime>(app: &AppHandle<R>, state: Arc<AppState>, tick: Duration) {
    let events = state.scheduler.subscribe();
    tauri::async_runtime::spawn(Arc::clone(&state.scheduler).run(tick));
    tauri::async_runtime::spawn(show(app.clone(), state, events, tick));
}

/// What the loop showed last, so a clock tick only emits when the words changed.
struct Shown {
    notifier: Notifier,
    last: Option<AppView>,
}

/// The one subscriber: every scheduler event (and every `tick`, for the times in the
/// words, and every launch-at-login switch) refreshes the tray and the window.
async fn show<R: Runtime>(app: AppHandle<R>, state: Arc<AppState>, mut events: Receiver<Event>, tick: Duration) {
    let mut shown = Shown { notifier: Notifier::default(), last: None };
    let mut clock = tokio::time::interval(tick);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress: Option<Instant> = None;
    let mut pushing = false;
    loop {
        let force = tokio::select! {
            event = events.recv() => match event {
                Ok(Event::Progress(progress)) => {
                    if last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                        last_progress = Some(Instant::now());
                        emit_progress(&app, &view::progress_view(&progress));
                        crate::tray::update(&app, &state.cached_status());
                    }
                    continue;
                }
                Ok(event) => {
                    log_event(&event);
                    if let Event::Offsite { pushing: now } = event {
                        pushing = now;
                    }
                    if let Some(note) = shown.notifier.for_event(&event, state.notify_on_success()) {
                        notify::send(note);
                    }
                    true
                }
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            },
            _ = clock.tick() => false,
            _ = tokio::time::sleep(OFFSITE_EVERY), if pushing => false,
            _ = state.login_changed.notified() => true,
        };
        publish(&app, &state, &mut shown, force).await;
    }
}

/// Reads the status off the runtime, updates the tray, emits `status-changed` (always
/// when `force`, else only when the words changed), and checks for overdue.
async fn publish<R: Runtime>(app: &AppHandle<R>, state: &Arc<AppState>, shown: &mut Shown, force: bool) {
    let reader = Arc::clone(state);
    let Ok(status) = tauri::async_runtime::spawn_blocking(move || reader.status()).await else { return };
    let changed = shown.last.replace(status.view.clone()).as_ref() != Some(&status.view);
    crate::tray::update(app, &status);
    if force || changed {
        emit_status(app, &status);
    }
    if let Some(engine_status) = &status.status {
        if let Some(note) = shown.notifier.for_status(engine_status, state.scheduler.now()) {
            notify::send(note);
        }
        if let Some(note) = shown.notifier.for_partial(engine_status) {
            notify::send(note);
        }
    }
}

fn emit_status<R: Runtime>(app: &AppHandle<R>, status: &AppStatus) {
    let _ = app.emit(STATUS_CHANGED, status);
}

fn emit_progress<R: Runtime>(app: &AppHandle<R>, progress: &ProgressView) {
    let _ = app.emit(PROGRESS, progress);
}

fn log_event(event: &Event) {
    match event {
        Event::Started { activity, trigger } => tracing::info!("{activity:?} started ({trigger:?})"),
        Event::BackupDone { trigger, outcome } => match outcome {
            lifeboat::BackupOutcome::Created { backup } => tracing::info!("backup {} done ({trigger:?})", backup.name),
            lifeboat::BackupOutcome::Skipped { reason } => tracing::info!("backup skipped ({trigger:?}): {reason}"),
        },
        Event::RestoreDone { report } => tracing::info!("restore of {} done", report.name),
        Event::VerifyDone { report } => tracing::info!("verify of {}: ok = {}", report.name, report.ok),
        Event::Failed { activity, error, streak, .. } => {
            tracing::warn!("{activity:?} failed (streak {streak}): {}", error.message)
        }
        Event::Changed => tracing::info!("settings or pause changed"),
        Event::Offsite { pushing } => {
            tracing::info!("offsite push {}", if *pushing { "started" } else { "ended" })
        }
        Event::Progress(_) => {}
    }
}
