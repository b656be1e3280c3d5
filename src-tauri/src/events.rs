//! Runs the scheduler and forwards what it does: every event refreshes the status shown
//! in the tray and sent to the window; progress goes out throttled; some events notify.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeboat::Event;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

use crate::notify::{self, Notifier};
use crate::state::{AppState, State};

/// At most this often a `progress` event (~10 per second).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// What was last shown, so the periodic refresh only emits on a change.
struct Publisher {
    notifier: Notifier,
    last: Mutex<Option<(State, String)>>,
}

/// Starts the scheduler loop, the event forwarder and the periodic refresh.
pub fn start<R: Runtime>(app: &AppHandle<R>, state: Arc<AppState>, tick: Duration) {
    app.manage(Arc::new(Publisher { notifier: Notifier::default(), last: Mutex::new(None) }));
    let events = state.scheduler.subscribe();
    tauri::async_runtime::spawn(forward(app.clone(), Arc::clone(&state), events));
    tauri::async_runtime::spawn(Arc::clone(&state.scheduler).run(tick));
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            publish(&app, false).await;
        }
    });
}

/// Re-reads the status and shows it everywhere (after a command changed something).
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move { publish(&app, true).await });
}

async fn forward<R: Runtime>(
    app: AppHandle<R>,
    state: Arc<AppState>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) {
    let mut last_progress: Option<Instant> = None;
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if let Event::Progress(progress) = &event {
            if last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                last_progress = Some(Instant::now());
                let _ = app.emit("progress", progress);
                crate::tray::update(&app, &state.cached_status());
            }
            continue;
        }
        log_event(&event);
        let publisher = app.state::<Arc<Publisher>>();
        if let Some(note) = publisher.notifier.for_event(&event, state.notify_on_success()) {
            notify::send(note);
        }
        publish(&app, true).await;
    }
}

/// Reads the status off the runtime, updates the tray, emits `status-changed` (always
/// when `force`, else only when the state or headline changed), and checks for overdue.
async fn publish<R: Runtime>(app: &AppHandle<R>, force: bool) {
    let state = Arc::clone(&app.state::<Arc<AppState>>());
    let Ok(status) = tauri::async_runtime::spawn_blocking(move || state.status()).await else { return };
    let publisher = Arc::clone(&app.state::<Arc<Publisher>>());
    let shown = (status.state, status.headline.clone());
    let changed = publisher.last.lock().expect("publisher lock").replace(shown.clone()) != Some(shown);
    crate::tray::update(app, &status);
    if force || changed {
        let _ = app.emit("status-changed", &status);
    }
    if let Some(engine_status) = &status.status {
        let now = app.state::<Arc<AppState>>().scheduler.now();
        if let Some(note) = publisher.notifier.for_status(engine_status, now) {
            notify::send(note);
        }
    }
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
        Event::Progress(_) => {}
    }
}
