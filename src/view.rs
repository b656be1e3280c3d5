//! Presentation-neutral wording and numbers, owned once for the CLI, the tray and the
//! window: relative times ("2 h ago"), sizes, the health headline, phase labels, and the
//! tray app's state word and headline ([`describe`]). Front ends render these strings;
//! none words them again.

use chrono::{DateTime, Duration, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Health, Status};
use crate::error::ErrorKind;
use crate::offsite::OffsiteStatus;
use crate::progress::{Phase, ProgressUpdate};
use crate::restore::{Diff, EntryState, TableDiff};
use crate::schedule::{Activity, Pause};

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

/// A rough length of time, to the nearest unit: "45 s", "5 min", "2 h", "3 days".
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

/// "just now", "5 min ago", "3 h ago", "4 days ago" (whole units passed); "in 5 min",
/// "in 10 h" for the future (the nearest [`span`]).
pub fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let d = now - t;
    if d < Duration::zero() {
        return format!("in {}", span(-d));
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
    /// "2 h ago", or `None` with no backup.
    pub last_backup_ago: Option<String>,
    /// "in 10 h", "due now".
    pub next_due: String,
}

/// Words `status` at `now`.
pub fn status_view(status: &Status, now: DateTime<Utc>) -> StatusView {
    StatusView {
        headline: headline(status.health).to_string(),
        detail: health_detail(status.health, status.not_backed_up.len()),
        last_backup_ago: status.last_success_at.map(|t| ago(now, t)),
        next_due: next_due(status, now),
    }
}

/// "in 10 h", or "due now" once the due time has passed (or with no backup yet).
fn next_due(status: &Status, now: DateTime<Utc>) -> String {
    match status.next_due {
        Some(t) if t > now => ago(now, t),
        _ => "due now".into(),
    }
}

/// The tray app's state at a glance: its tray icon and the window's header follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No usable profile yet: the first-run setup.
    Setup,
    /// Backed up recently, nothing wrong.
    Protected,
    /// A backup, restore or verify is running.
    BackingUp,
    /// Something needs doing: a failure, a damaged or overdue backup, no backup yet.
    NeedsAttention,
    /// Scheduled backups are paused.
    Paused,
}

/// What the tray app knows besides the engine's [`Status`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AppFacts<'a> {
    /// No usable profile yet: the first-run setup is needed.
    pub setup_needed: bool,
    /// Why the config could not be used, when there is one.
    pub config_problem: Option<&'a str>,
    /// The job running now, and its latest progress.
    pub running: Option<(Activity, Option<&'a ProgressUpdate>)>,
    /// The pause in force.
    pub paused: Option<Pause>,
    /// The background offsite push running now, with the bytes it has uploaded so far.
    pub offsite_push: Option<u64>,
}

/// What the tray and the window's header show at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AppView {
    /// The state, for icons and styles.
    pub state: State,
    /// The state in words, the window's heading: "Protected", "Backing up", "Restoring",
    /// "Verifying", "Needs attention", "Paused", "Set up Lifeboat".
    pub title: String,
    /// The tray's status line: "Last backup 2 h ago · next in 10 h", "Backing up… 45%",
    /// "Last backup failed: destination not available: …".
    pub headline: String,
    /// The last failure in a sentence, for the window's alert; null when all is well.
    pub alert: Option<String>,
    /// The next backup when it is not a due time: "Now", "Paused until you resume",
    /// "Paused until 14:05"; null: the status's `next_due` (shown as a relative time).
    pub next_backup: Option<String>,
    /// The running job's progress, once it has reported.
    pub progress: Option<ProgressView>,
    /// The offsite copy in words; null without one.
    pub offsite: Option<OffsiteView>,
}

/// Where the offsite copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OffsiteState {
    /// Every local backup that should be offsite is.
    UpToDate,
    /// A push runs now.
    Uploading,
    /// Backups wait for the next push (or a push was stopped and resumes next time).
    Waiting,
    /// The last push failed.
    Failed,
}

/// The offsite copy at one moment, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OffsiteView {
    /// The state, for icons and styles.
    pub state: OffsiteState,
    /// In a few words, for the window's header: "5 min ago", "Uploading…", "2 waiting", "Failed".
    pub short: String,
    /// In a line, for the tray: "Offsite: last copy 5 min ago", "Offsite: uploading 1 backup…",
    /// "Offsite copy failed: …".
    pub line: String,
}

/// Words the offsite status at `now`; `pushing`: a push runs now and has uploaded that
/// many bytes so far.
pub fn offsite_view(o: &OffsiteStatus, pushing: Option<u64>, now: DateTime<Utc>) -> OffsiteView {
    let waiting = o.pending.len();
    let last = o.last_push.as_ref().map(|p| ago(now, p.at));
    let cancelled = o.last_error.as_ref().is_some_and(|e| e.kind == ErrorKind::OffsiteCancelled);
    let (state, short, line) = if let Some(sent) = pushing {
        let what = match waiting {
            0 => "Offsite: uploading…".to_string(),
            1 => "Offsite: uploading 1 backup…".to_string(),
            n => format!("Offsite: uploading {n} backups…"),
        };
        let line = if sent > 0 { format!("{what} {} sent", human_bytes(sent)) } else { what };
        (OffsiteState::Uploading, "Uploading…".to_string(), line)
    } else if let Some(e) = o.last_error.as_ref().filter(|_| !cancelled) {
        (OffsiteState::Failed, "Failed".to_string(), format!("Offsite copy failed: {}", e.message))
    } else if waiting > 0 {
        let since = last.as_ref().map(|l| format!(" · last copy {l}")).unwrap_or_default();
        let why = if cancelled { "stopped, resumes with the next push" } else { "waiting to upload" };
        (
            OffsiteState::Waiting,
            format!("{waiting} waiting"),
            format!(
                "Offsite: {} {why}{since}",
                if waiting == 1 { "1 backup".into() } else { format!("{waiting} backups") }
            ),
        )
    } else {
        match last {
            Some(l) => (OffsiteState::UpToDate, l.clone(), format!("Offsite: last copy {l}")),
            None => (OffsiteState::UpToDate, "Nothing yet".to_string(), "Offsite: nothing copied yet".to_string()),
        }
    };
    OffsiteView { state, short, line }
}

/// A short, plain headline for an offsite failure of `kind` (the error's message says the
/// rest): what a "Test connection" shows first. `None` for kinds that are not the offsite
/// copy's.
pub fn offsite_problem(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::OffsiteWrongPassword => "Wrong password: it does not open this repository.",
        ErrorKind::OffsiteAccessDenied => "The storage refused the access keys.",
        ErrorKind::OffsiteNoBucket => "There is no such bucket.",
        ErrorKind::OffsiteUnreachable => "The storage cannot be reached.",
        ErrorKind::OffsiteNotARepository => "This is not a restic repository.",
        ErrorKind::OffsiteInterrupted => "The connection was interrupted.",
        ErrorKind::OffsiteCancelled => "Stopped before it finished.",
        ErrorKind::OffsiteSecretMissing => "A key or the password is missing.",
        ErrorKind::OffsiteDamaged => "The offsite repository is damaged.",
        ErrorKind::OffsiteNoSnapshot => "There is no such offsite snapshot.",
        ErrorKind::Offsite => "The offsite copy failed.",
        _ => return None,
    })
}

/// A progress update with its words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProgressView {
    /// The numbers.
    #[serde(flatten)]
    pub update: ProgressUpdate,
    /// The phase in words: "Copying files".
    pub label: String,
    /// 0 to 100 (by bytes, else by files; 0 while nothing is counted).
    pub percent: u8,
    /// What is counted so far: "120 of 967 files · 18.87 MB of 26.84 MB"; empty before.
    pub detail: String,
}

/// Words a progress update: its phase, percentage, files and sizes.
pub fn progress_view(p: &ProgressUpdate) -> ProgressView {
    let files = (p.files_total > 0).then(|| format!("{} of {} files", p.files_done, p.files_total));
    let size = (p.bytes_total > 0).then(|| format!("{} of {}", human_bytes(p.bytes_done), human_bytes(p.bytes_total)));
    ProgressView {
        update: p.clone(),
        label: phase_label(p.phase).to_string(),
        percent: p.percent(),
        detail: files.into_iter().chain(size).collect::<Vec<_>>().join(" · "),
    }
}

/// The last failure in a sentence, or the destination that cannot be reached.
pub fn alert(status: &Status) -> Option<String> {
    match &status.last_error {
        Some(_) if status.health == Health::Damaged => Some(format!("{} — make a new backup.", failure(status)?)),
        Some(_) => failure(status),
        None if !status.destination_available => Some(format!(
            "Backup folder not available: {} — connect the drive and try again.",
            status.destination.display()
        )),
        None if status.health == Health::Partial => Some(format!(
            "The newest backup is partial: {} not backed up: {}.",
            status.not_backed_up.len(),
            first_names(&status.not_backed_up, 5).join(", ")
        )),
        None => status.interrupted_restore.clone().or_else(|| status.clock_warning.clone()),
    }
}

/// "Last backup failed: …" or "Newest backup is damaged: …", when the health says so.
fn failure(status: &Status) -> Option<String> {
    let cause = |default: &'static str| status.last_error.as_ref().map_or(default, |e| e.message.as_str());
    match status.health {
        Health::Failing => Some(format!("Last backup failed: {}", cause("unknown error"))),
        Health::Damaged => Some(format!("Newest backup is damaged: {}", cause("verify found problems"))),
        _ => None,
    }
}

/// The tray app's words for `status` (`None`: not set up, or unreadable) and the app's
/// own facts at `now`: its state, heading, status line, alert and next backup.
pub fn describe(status: Option<&Status>, app: &AppFacts, now: DateTime<Utc>) -> AppView {
    let (state, headline) = state_and_headline(status, app, now);
    let title = match (state, app.running) {
        (State::Setup, _) => "Set up Lifeboat",
        (State::BackingUp, Some((Activity::Restore, _))) => "Restoring",
        (State::BackingUp, Some((Activity::Verify, _))) => "Verifying",
        (State::BackingUp, _) => "Backing up",
        (State::Protected, _) => "Protected",
        (State::NeedsAttention, _) => "Needs attention",
        (State::Paused, _) => "Paused",
    };
    let next_backup = match (app.paused, app.running) {
        (Some(Pause::Indefinitely), _) => Some("Paused until you resume".to_string()),
        (Some(Pause::Until(t)), _) => Some(format!("Paused until {}", clock_or_date(now, t))),
        (None, Some((Activity::Backup, _))) => Some("Now".to_string()),
        (None, _) => None,
    };
    AppView {
        state,
        title: title.to_string(),
        headline,
        alert: status.and_then(alert),
        next_backup,
        progress: app.running.and_then(|(_, p)| p).map(progress_view),
        offsite: status.and_then(|s| s.offsite.as_ref()).map(|o| offsite_view(o, app.offsite_push, now)),
    }
}

fn state_and_headline(status: Option<&Status>, app: &AppFacts, now: DateTime<Utc>) -> (State, String) {
    if app.setup_needed {
        let headline = match app.config_problem {
            Some(p) => format!("Settings need attention: {p}"),
            None => "Set up Lifeboat: choose what to back up".to_string(),
        };
        return (State::Setup, headline);
    }
    if let Some((activity, progress)) = app.running {
        let verb = match activity {
            Activity::Backup => "Backing up…",
            Activity::Restore => "Restoring…",
            Activity::Verify => "Verifying…",
        };
        let headline = match progress.filter(|p| p.bytes_total > 0 || p.files_total > 0) {
            Some(p) => format!("{verb} {}%", p.percent()),
            None => verb.to_string(),
        };
        return (State::BackingUp, headline);
    }
    let last = match status.and_then(|s| s.last_success_at) {
        Some(t) => format!("last backup {}", ago(now, t)),
        None => "no backup yet".to_string(),
    };
    if let Some(pause) = app.paused {
        let until = match pause {
            Pause::Until(t) => format!("Paused for {}", span(t - now)),
            Pause::Indefinitely => "Paused until resumed".to_string(),
        };
        return (State::Paused, format!("{until} · {last}"));
    }
    let Some(status) = status else {
        return (State::NeedsAttention, "Cannot read the backup status: see the log".to_string());
    };
    let next = format!("next {}", next_due(status, now));
    let state = if status.health == Health::Ok { State::Protected } else { State::NeedsAttention };
    let headline = match status.health {
        Health::Failing | Health::Damaged => failure(status).unwrap_or_default(),
        Health::Overdue => format!("{} · overdue", capitalized(&last)),
        Health::Partial => format!(
            "{} · {}",
            capitalized(&last),
            health_detail(Health::Partial, status.not_backed_up.len()).unwrap_or_default()
        ),
        Health::NoBackup | Health::Ok => format!("{} · {next}", capitalized(&last)),
    };
    (state, headline)
}

/// Only the clock time when `t` is on today's date, else a short date and time.
fn clock_or_date(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let (now, t) = (DateTime::<Local>::from(now), DateTime::<Local>::from(t));
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%a %-d %b, %H:%M").to_string()
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, ErrorReport};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn status(health: Health, last: Option<DateTime<Utc>>, next_due: Option<DateTime<Utc>>) -> Status {
        Status {
            profile: "DrumGen Scorer".into(),
            source: "/home/ana/DrumGen Scorer".into(),
            destination: "/media/ana/Backups".into(),
            destination_available: true,
            health,
            last_backup: None,
            last_success_at: last,
            last_attempt: None,
            last_error: None,
            next_due,
            backups: usize::from(last.is_some()),
            every_hours: 12.0,
            keep: 2,
            not_backed_up: Vec::new(),
            clock_warning: None,
            interrupted_restore: None,
            offsite: None,
        }
    }

    #[test]
    fn relative_times_in_both_directions() {
        let now = Utc::now();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now - Duration::seconds(20)), "just now");
        assert_eq!(ago(now, now - Duration::minutes(5)), "5 min ago");
        assert_eq!(ago(now, now - Duration::hours(3)), "3 h ago");
        assert_eq!(ago(now, now - Duration::days(4)), "4 days ago");
        assert_eq!(ago(now, now + Duration::hours(3)), "in 3 h");
        assert_eq!(ago(now, now + Duration::days(3)), "in 3 days");
        assert_eq!(ago(now, now + Duration::hours(12) - Duration::seconds(2)), "in 12 h");
    }

    #[test]
    fn spans_round_to_the_nearest_unit() {
        assert_eq!(span(Duration::seconds(45)), "45 s");
        assert_eq!(span(Duration::minutes(5)), "5 min");
        assert_eq!(span(Duration::minutes(125)), "2 h");
        assert_eq!(span(Duration::hours(10)), "10 h");
        assert_eq!(span(Duration::seconds(3599)), "1 h");
        assert_eq!(span(Duration::hours(50)), "2 days");
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

    #[test]
    fn a_running_backup_shows_its_percent_and_numbers() {
        let p =
            ProgressUpdate { phase: Phase::Copying, files_done: 1, files_total: 10, bytes_done: 45, bytes_total: 100 };
        let app = AppFacts { running: Some((Activity::Backup, Some(&p))), ..AppFacts::default() };
        let v = describe(None, &app, at("2025-12-29T10:00:00Z"));
        assert_eq!(
            (v.state, v.title.as_str(), v.headline.as_str()),
            (State::BackingUp, "Backing up", "Backing up… 45%")
        );
        assert_eq!(v.next_backup.as_deref(), Some("Now"));
        let progress = v.progress.unwrap();
        assert_eq!((progress.label.as_str(), progress.percent), ("Copying files", 45));
        assert_eq!(progress.detail, "1 of 10 files · 45 B of 100 B");

        let restoring = AppFacts { running: Some((Activity::Restore, None)), ..AppFacts::default() };
        let v = describe(None, &restoring, at("2025-12-29T10:00:00Z"));
        assert_eq!((v.title.as_str(), v.headline.as_str(), v.progress), ("Restoring", "Restoring…", None));
        assert_eq!(progress_view(&ProgressUpdate::phase(Phase::Scanning)).detail, "");
    }

    #[test]
    fn setup_and_pause_are_named() {
        let now = at("2025-12-29T10:00:00Z");
        let v = describe(None, &AppFacts { setup_needed: true, ..AppFacts::default() }, now);
        assert_eq!((v.state, v.title.as_str()), (State::Setup, "Set up Lifeboat"));
        let broken = AppFacts { setup_needed: true, config_problem: Some("line 3"), ..AppFacts::default() };
        assert_eq!(describe(None, &broken, now).headline, "Settings need attention: line 3");

        let paused = AppFacts { paused: Some(Pause::Until(now + Duration::hours(1))), ..AppFacts::default() };
        let v = describe(None, &paused, now);
        assert_eq!((v.state, v.headline.as_str()), (State::Paused, "Paused for 1 h · no backup yet"));
        assert!(v.next_backup.unwrap().starts_with("Paused until "));
        let s = status(Health::Ok, Some(now - Duration::hours(2)), Some(now + Duration::hours(10)));
        let v = describe(Some(&s), &AppFacts { paused: Some(Pause::Indefinitely), ..AppFacts::default() }, now);
        assert_eq!(v.headline, "Paused until resumed · last backup 2 h ago");
        assert_eq!(v.next_backup.as_deref(), Some("Paused until you resume"));
    }

    #[test]
    fn the_headline_follows_the_health() {
        let now = at("2025-12-29T10:00:00Z");
        let ok = status(Health::Ok, Some(now - Duration::hours(2)), Some(now + Duration::hours(10)));
        let v = describe(Some(&ok), &AppFacts::default(), now);
        assert_eq!((v.state, v.title.as_str()), (State::Protected, "Protected"));
        assert_eq!(v.headline, "Last backup 2 h ago · next in 10 h");
        assert_eq!((v.alert, v.next_backup), (None, None));

        let fresh = status(Health::NoBackup, None, None);
        assert_eq!(describe(Some(&fresh), &AppFacts::default(), now).headline, "No backup yet · next due now");

        let mut failing = ok.clone();
        failing.health = Health::Failing;
        failing.destination_available = false;
        failing.last_error = Some(ErrorReport {
            kind: ErrorKind::DestinationUnavailable,
            message: "destination not available: /media/ana/Backups".into(),
        });
        let v = describe(Some(&failing), &AppFacts::default(), now);
        assert_eq!((v.state, v.title.as_str()), (State::NeedsAttention, "Needs attention"));
        assert_eq!(v.headline, "Last backup failed: destination not available: /media/ana/Backups");
        assert_eq!(v.alert.as_deref(), Some(v.headline.as_str()));

        failing.health = Health::Damaged;
        let v = describe(Some(&failing), &AppFacts::default(), now);
        assert_eq!(v.headline, "Newest backup is damaged: destination not available: /media/ana/Backups");
        assert_eq!(v.alert.unwrap(), format!("{} — make a new backup.", v.headline));

        let mut away = ok.clone();
        away.destination_available = false;
        let alert = describe(Some(&away), &AppFacts::default(), now).alert.unwrap();
        assert_eq!(alert, "Backup folder not available: /media/ana/Backups — connect the drive and try again.");
    }

    #[test]
    fn the_offsite_copy_in_words() {
        let now = at("2025-12-29T12:00:00Z");
        let mut o = OffsiteStatus {
            repository: "s3:https://s3.example.com/b/p".into(),
            last_push: None,
            pending: vec!["backup_2025-12-29_09-57-15".into()],
            pushed: Vec::new(),
            last_error: None,
            last_error_at: None,
        };
        let v = offsite_view(&o, Some(0), now);
        assert_eq!(
            (v.state, v.short.as_str(), v.line.as_str()),
            (OffsiteState::Uploading, "Uploading…", "Offsite: uploading 1 backup…")
        );
        assert_eq!(offsite_view(&o, Some(12_300_000), now).line, "Offsite: uploading 1 backup… 12.30 MB sent");
        let v = offsite_view(&o, None, now);
        assert_eq!((v.state, v.line.as_str()), (OffsiteState::Waiting, "Offsite: 1 backup waiting to upload"));
        o.last_error = Some(ErrorReport { kind: ErrorKind::OffsiteCancelled, message: "cancelled".into() });
        assert_eq!(offsite_view(&o, None, now).line, "Offsite: 1 backup stopped, resumes with the next push");
        o.last_error = Some(ErrorReport { kind: ErrorKind::OffsiteUnreachable, message: "no answer".into() });
        let v = offsite_view(&o, None, now);
        assert_eq!(
            (v.state, v.short.as_str(), v.line.as_str()),
            (OffsiteState::Failed, "Failed", "Offsite copy failed: no answer")
        );
        o.last_error = None;
        o.pending.clear();
        o.last_push = Some(crate::offsite::LastPush {
            at: now - Duration::minutes(5),
            backup: "backup_2025-12-29_09-57-15".into(),
            snapshot: "0".repeat(64),
            uploaded_bytes: 1,
        });
        let v = offsite_view(&o, None, now);
        assert_eq!(
            (v.state, v.short.as_str(), v.line.as_str()),
            (OffsiteState::UpToDate, "5 min ago", "Offsite: last copy 5 min ago")
        );
        assert_eq!(
            offsite_problem(ErrorKind::OffsiteWrongPassword),
            Some("Wrong password: it does not open this repository.")
        );
        assert_eq!(offsite_problem(ErrorKind::Io), None);
    }
}
