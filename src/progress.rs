//! The progress seam: the engine reports, the CLI draws a bar, the app emits events.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Scanning,
    Copying,
    Databases,
    Finishing,
    Rotating,
    Verifying,
    Restoring,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Scanning => "Scanning",
            Phase::Copying => "Copying files",
            Phase::Databases => "Copying databases",
            Phase::Finishing => "Finishing",
            Phase::Rotating => "Removing old backups",
            Phase::Verifying => "Verifying",
            Phase::Restoring => "Restoring",
        }
    }
}

/// Where a long action stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressUpdate {
    pub phase: Phase,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

impl ProgressUpdate {
    /// 0 to 100, by bytes (files when there are no bytes).
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
