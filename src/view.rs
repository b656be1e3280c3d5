//! Presentation-neutral wording and numbers, owned once for the CLI, the tray and the
//! window: relative times ("2 h ago"), sizes, the health headline, phase labels. Front
//! ends render these strings; none words them again.

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Health, Status};
use crate::progress::{Phase, ProgressUpdate};
use crate::restore::{Diff, EntryState, TableDiff};

pub use crate::units::human_bytes;

/// The label of a phase: "Copying files".
pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Scanning => "Scanning",
        Phase::Copying => "Copying files",
        Phase::Databases => "Copying databases",
        Phase::Finishing => "Finishing",
        Phase::Rotating => "Removing old backups",
        Phase::Verifying => "Verifying",
        Phase::Restoring => "Restoring",
    }
}

/// One line for a progress update: "Copying files 120/967 (45%)".
pub fn progress_line(p: &ProgressUpdate) -> String {
    if p.files_total == 0 {
        return phase_label(p.phase).to_string();
    }
    format!("{} {}/{} ({}%)", phase_label(p.phase), p.files_done, p.files_total, p.percent())
}

/// "just now", "5 min ago", "3 h ago", "4 days ago"; "in 5 min", "in 3 h" for the future.
pub fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let d = now - t;
    if d.num_seconds() < 0 {
        let d = -d;
        return if d.num_days() >= 2 {
            format!("in {} days", d.num_days())
        } else if d.num_hours() >= 1 {
            format!("in {} h", d.num_hours())
        } else {
            format!("in {} min", d.num_minutes() + 1)
        };
    }
    if d.num_days() >= 2 {
        format!("{} days ago", d.num_days())
    } else if d.num_hours() >= 1 {
        format!("{} h ago", d.num_hours())
    } else if d.num_minutes() >= 1 {
        format!("{} min ago", d.num_minutes())
    } else {
        "just now".into()
    }
}

/// Local time as "2025-12-29 09:57:15".
pub fn local_time(t: DateTime<Utc>) -> String {
    DateTime::<Local>::from(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The short state shown in the tray and the window's header: "Protected".
pub fn headline(health: Health) -> &'static str {
    match health {
        Health::Ok => "Protected",
        Health::NoBackup => "No backup yet",
        Health::Failing | Health::Overdue | Health::Damaged | Health::Partial => "Needs attention",
    }
}

/// What needs doing, when something does: the sentence after the headline.
/// `not_backed_up` counts the entries the newest backup left out (for [`Health::Partial`]).
pub fn health_detail(health: Health, not_backed_up: usize) -> Option<String> {
    match health {
        Health::Ok | Health::NoBackup => None,
        Health::Failing => Some("the last backup failed".into()),
        Health::Overdue => Some("backups are overdue".into()),
        Health::Damaged => Some("the newest backup failed verify — make a new backup".into()),
        Health::Partial => Some(format!("{not_backed_up} {} not backed up", plural(not_backed_up, "item", "items"))),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The health as one line: "needs attention: the last backup failed".
pub fn health_line(health: Health, not_backed_up: usize) -> String {
    match (health, health_detail(health, not_backed_up)) {
        (Health::Ok, _) => "protected".into(),
        (_, Some(detail)) => format!("{}: {detail}", headline(health).to_lowercase()),
        (_, None) => headline(health).to_lowercase(),
    }
}

/// At most `limit` names, then "and N more": how lists of paths are shown.
pub fn first_names(names: &[String], limit: usize) -> Vec<String> {
    let mut out: Vec<String> = names.iter().take(limit).cloned().collect();
    if names.len() > limit {
        out.push(format!("and {} more", names.len() - limit));
    }
    out
}

/// An entry's state against the live data: "same", "changed", "deleted since", "new since".
pub fn entry_state(state: EntryState) -> &'static str {
    match state {
        EntryState::Same => "same",
        EntryState::Changed => "changed",
        EntryState::Deleted => "deleted since",
        EntryState::New => "new since",
    }
}

/// A table's rows then and now: "241 then, 253 now (+12)".
pub fn rows_then_now(t: &TableDiff) -> String {
    match (t.then, t.now) {
        (Some(a), Some(b)) if a == b => format!("{a} rows, unchanged"),
        (Some(a), Some(b)) => format!("{a} then, {b} now ({:+})", b as i64 - a as i64),
        (Some(a), None) => format!("{a} then, gone now"),
        (None, Some(b)) => format!("new, {b} now"),
        (None, None) => "no rows".into(),
    }
}

/// What changed since a backup, in one line: "since then: 3 changed, 5 deleted, 2 new;
/// test_results +12 rows" ("since then: nothing changed" when nothing did).
pub fn since_line(d: &Diff) -> String {
    let mut parts = Vec::new();
    for (n, word) in [(d.changed.len(), "changed"), (d.removed.len(), "deleted"), (d.added.len(), "new")] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let rows: Vec<String> = d
        .databases
        .iter()
        .flat_map(|db| db.tables.iter())
        .filter_map(|t| match (t.then, t.now) {
            (Some(a), Some(b)) if a != b => Some(format!("{} {:+} rows", t.name, b as i64 - a as i64)),
            _ => None,
        })
        .collect();
    let files = if parts.is_empty() { String::new() } else { parts.join(", ") };
    match (files.is_empty(), rows.is_empty()) {
        (true, true) => "since then: nothing changed".into(),
        (false, true) => format!("since then: {files}"),
        (true, false) => format!("since then: {}", rows.join(", ")),
        (false, false) => format!("since then: {files}; {}", rows.join(", ")),
    }
}

/// The words of a status at one moment, for every front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatusView {
    /// "Protected", "No backup yet", "Needs attention".
    pub headline: String,
    /// What needs doing, if anything: "the last backup failed".
    pub detail: Option<String>,
    /// The tray's status line: "Protected · last backup 2 h ago".
    pub tray_line: String,
    /// "2 h ago", or `None` with no backup.
    pub last_backup_ago: Option<String>,
    /// "in 10 h", "due now".
    pub next_due: String,
}

/// Words `status` at `now`.
pub fn status_view(status: &Status, now: DateTime<Utc>) -> StatusView {
    let last_backup_ago = status.last_success_at.map(|t| ago(now, t));
    let next_due = match status.next_due {
        Some(t) if t > now => ago(now, t),
        _ => "due now".into(),
    };
    let headline = headline(status.health).to_string();
    let tray_line = match &last_backup_ago {
        Some(a) => format!("{headline} · last backup {a}"),
        None => headline.clone(),
    };
    StatusView {
        headline,
        detail: health_detail(status.health, status.not_backed_up.len()),
        tray_line,
        last_backup_ago,
        next_due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn relative_times_in_both_directions() {
        let now = Utc::now();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now - Duration::minutes(5)), "5 min ago");
        assert_eq!(ago(now, now - Duration::hours(3)), "3 h ago");
        assert_eq!(ago(now, now - Duration::days(4)), "4 days ago");
        assert_eq!(ago(now, now + Duration::hours(3)), "in 3 h");
        assert_eq!(ago(now, now + Duration::days(3)), "in 3 days");
    }

    #[test]
    fn health_lines() {
        assert_eq!(health_line(Health::Ok, 0), "protected");
        assert_eq!(health_line(Health::Failing, 0), "needs attention: the last backup failed");
        assert_eq!(health_line(Health::NoBackup, 0), "no backup yet");
        assert_eq!(health_line(Health::Partial, 3), "needs attention: 3 items not backed up");
        let names: Vec<String> = (0..25).map(|i| format!("f{i}")).collect();
        let shown = first_names(&names, 20);
        assert_eq!(shown.len(), 21);
        assert_eq!(shown[20], "and 5 more");
    }
}
