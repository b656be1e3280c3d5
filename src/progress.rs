//! The progress seam: the engine reports, the CLI draws a bar, the app emits events.
//! [`Throttle`] is the one place that counts from worker threads and limits how often a
//! front end is told (backup, verify and restore all report through it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The step a long action is in. Its wording lives in [`crate::view::phase_label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Finding what to back up.
    Scanning,
    /// Copying files.
    Copying,
    /// Copying databases.
    Databases,
    /// Writing the manifest and syncing.
    Finishing,
    /// Removing backups beyond `keep`.
    Rotating,
    /// Checking a backup.
    Verifying,
    /// Putting data back.
    Restoring,
}

/// Where a long action stands: files and bytes done out of the totals known so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProgressUpdate {
    /// The step the action is in.
    pub phase: Phase,
    /// Files done so far.
    pub files_done: u64,
    /// Files in all (0 while unknown).
    pub files_total: u64,
    /// Bytes done so far.
    pub bytes_done: u64,
    /// Bytes in all (0 while unknown).
    pub bytes_total: u64,
}

impl ProgressUpdate {
    /// A phase that has no counts (scanning, rotating).
    pub fn phase(phase: Phase) -> Self {
        ProgressUpdate { phase, files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0 }
    }

    /// 0 to 100, by bytes (by files when there are no bytes).
    pub fn percent(&self) -> u8 {
        let (done, total) = if self.bytes_total > 0 {
            (self.bytes_done, self.bytes_total)
        } else {
            (self.files_done, self.files_total)
        };
        (done.min(total) * 100).checked_div(total).unwrap_or(0) as u8
    }
}

/// Receives progress; called from worker threads, so it must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// One update; the engine calls it at most about ten times a second per action.
    fn update(&self, update: &ProgressUpdate);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &ProgressUpdate) {}
}

impl<F: Fn(&ProgressUpdate) + Send + Sync> Progress for F {
    fn update(&self, update: &ProgressUpdate) {
        self(update)
    }
}

/// How often a [`Throttle`] passes an update on, at most.
pub const REPORT_EVERY: Duration = Duration::from_millis(100);

/// Counts files and bytes from any number of threads and tells `progress` at most every
/// [`REPORT_EVERY`], plus once at [`Throttle::finish`].
pub struct Throttle<'a> {
    progress: &'a dyn Progress,
    phase: Phase,
    files_total: u64,
    bytes_total: u64,
    files: AtomicU64,
    bytes: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl<'a> Throttle<'a> {
    /// A counter for `phase` out of the given totals; reports the start at once.
    pub fn new(progress: &'a dyn Progress, phase: Phase, files_total: u64, bytes_total: u64) -> Self {
        let t = Throttle {
            progress,
            phase,
            files_total,
            bytes_total,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last: Mutex::new(None),
        };
        t.send();
        t
    }

    /// Counts `files` and `bytes` more done; reports when the last report is old enough.
    pub fn add(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let due = match self.last.try_lock() {
            Ok(mut last) if last.is_none_or(|t| t.elapsed() >= REPORT_EVERY) => {
                *last = Some(Instant::now());
                true
            }
            _ => false,
        };
        if due {
            self.send();
        }
    }

    /// Reports the final counts.
    pub fn finish(&self) {
        self.send();
    }

    fn send(&self) {
        self.progress.update(&ProgressUpdate {
            phase: self.phase,
            files_done: self.files.load(Ordering::Relaxed),
            files_total: self.files_total,
            bytes_done: self.bytes.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_reports_start_few_updates_and_the_end() {
        let seen = Mutex::new(Vec::new());
        let sink = |u: &ProgressUpdate| seen.lock().unwrap().push(u.clone());
        let t = Throttle::new(&sink, Phase::Copying, 1000, 1000);
        for _ in 0..1000 {
            t.add(1, 1);
        }
        t.finish();
        let seen = seen.into_inner().unwrap();
        assert!(seen.len() <= 4, "{} updates for a fast run", seen.len());
        assert_eq!(seen.first().unwrap().files_done, 0);
        assert_eq!(seen.last().unwrap().files_done, 1000);
    }
}
