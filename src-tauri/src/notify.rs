//! Desktop notifications: which events deserve one, and sending them off the async runtime.
//!
//! notify-rust talks to the notification daemon synchronously; when a bus-activatable
//! daemon fails to start, the call blocks ~25 s. So every notification is sent from its
//! own short-lived thread, never from the runtime or the UI thread.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use chrono::{DateTime, Duration, Utc};
use lifeboat::{Activity, Event};
use lifeboat::{BackupOutcome, Health, Status};

/// No successful backup for this long is worth telling (once per episode).
pub const OVERDUE_AFTER: Duration = Duration::days(2);

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub summary: String,
    pub body: String,
}

/// Shows `note` from a new thread; the receiver gets the outcome (nobody has to wait).
pub fn send(note: Note) -> mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("lifeboat-notify".into()).spawn(move || {
        let result = notify_rust::Notification::new()
            .appname("Lifeboat")
            .summary(&note.summary)
            .body(&note.body)
            .icon("lifeboat")
            .show()
            .map(|_| ())
            .map_err(|e| e.to_string());
        match &result {
            Ok(()) => tracing::info!("notified: {}", note.summary),
            Err(e) => tracing::warn!("cannot show the notification \"{}\": {e}", note.summary),
        }
        let _ = tx.send(result);
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the notification thread: {e}");
    }
    rx
}

/// Decides which events and states deserve a notification.
#[derive(Default)]
pub struct Notifier {
    overdue_told: AtomicBool,
    /// The set of not-backed-up paths last told about; `None` once a backup is whole again.
    partial_told: Mutex<Option<BTreeSet<String>>>,
}

impl Notifier {
    /// A failed backup (first of a streak), or a success when the user asked for those.
    pub fn for_event(&self, event: &Event, notify_on_success: bool) -> Option<Note> {
        match event {
            Event::Failed { activity: Activity::Backup, error, streak: 1, .. } => {
                Some(Note { summary: "Lifeboat: backup failed".into(), body: error.message.clone() })
            }
            Event::BackupDone { outcome: BackupOutcome::Created { backup }, .. } => {
                self.overdue_told.store(false, Ordering::SeqCst);
                notify_on_success.then(|| Note {
                    summary: "Lifeboat: backup complete".into(),
                    body: format!(
                        "{}: {} files, {}",
                        backup.name,
                        backup.totals.files + backup.totals.databases,
                        lifeboat::view::human_bytes(backup.totals.bytes)
                    ),
                })
            }
            _ => None,
        }
    }

    /// "N items not backed up" for a partial newest backup, once per new set of paths
    /// left out: the same set again says nothing; a whole backup in between, or another
    /// set, tells again.
    pub fn for_partial(&self, status: &Status) -> Option<Note> {
        let mut told = self.partial_told.lock().unwrap_or_else(|e| e.into_inner());
        if status.not_backed_up.is_empty() {
            *told = None;
            return None;
        }
        let set: BTreeSet<String> = status.not_backed_up.iter().cloned().collect();
        if told.as_ref() == Some(&set) {
            return None;
        }
        *told = Some(set);
        let n = status.not_backed_up.len();
        let detail = lifeboat::view::health_detail(Health::Partial, n).unwrap_or_default();
        Some(Note {
            summary: format!("Lifeboat: {detail}"),
            body: lifeboat::view::first_names(&status.not_backed_up, 5).join(", "),
        })
    }

    /// "No successful backup for N days", once per overdue episode.
    pub fn for_status(&self, status: &Status, now: DateTime<Utc>) -> Option<Note> {
        let last = status.last_backup.as_ref()?.started_at;
        let overdue = now - last >= OVERDUE_AFTER
            && status
                .next_due
                .and_then(|due| due.checked_add_signed(lifeboat::OVERDUE_GRACE))
                .is_some_and(|late| now > late);
        if !overdue {
            self.overdue_told.store(false, Ordering::SeqCst);
            return None;
        }
        if self.overdue_told.swap(true, Ordering::SeqCst) {
            return None;
        }
        let days = (now - last).num_days();
        let cause = status.last_error.as_ref().map(|e| format!("Last attempt: {}", e.message));
        Some(Note {
            summary: format!("Lifeboat: no successful backup for {days} days"),
            body: cause.unwrap_or_else(|| format!("Backups go to {}", status.destination.display())),
        })
    }
}
