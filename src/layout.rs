//! Every name Lifeboat writes: backup folders, their staging and deleting names, the
//! files inside a backup, the lock file, and the leftovers of an interrupted restore.
//! Code elsewhere asks here instead of spelling a name itself.

use std::path::Path;

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

/// Regular backups: `backup_YYYY-MM-DD_HH-MM-SS` (local time of the start, as in the seed).
pub const BACKUP_PREFIX: &str = "backup_";
/// Safety snapshots taken before a restore: `pre-restore_YYYY-MM-DD_HH-MM-SS`.
pub const SAFETY_PREFIX: &str = "pre-restore_";
/// Staging folders are `.<name>.partial` while a backup is written.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// Folders being deleted by rotation are `.<name>.deleting`.
pub const DELETING_SUFFIX: &str = ".deleting";
/// The lock file in a destination, held while a backup or restore runs.
pub const LOCK_FILE: &str = ".lifeboat.lock";
/// The machine-readable record inside every backup.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The human-readable summary inside every backup.
pub const INFO_FILE: &str = "backup_info.txt";
/// The restore journal in a destination, present while a restore changes live data:
/// an interrupted restore is found and finished by the next restore or backup.
pub const RESTORE_JOURNAL: &str = ".lifeboat-restore-journal.json";
/// A folder's staging copy during a restore, beside it in the source: `.<name>.lifeboat-restore`.
pub const RESTORE_SUFFIX: &str = ".lifeboat-restore";
/// A folder set aside during a restore's swap: `.<name>.lifeboat-old`.
pub const OLD_SUFFIX: &str = ".lifeboat-old";

/// Which of the two kinds of complete backup a folder is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    /// A `backup_*` folder, counted against `keep`.
    Backup,
    /// A `pre-restore_*` safety snapshot, not counted against `keep`.
    PreRestore,
}

impl BackupKind {
    /// The folder-name prefix of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            BackupKind::Backup => BACKUP_PREFIX,
            BackupKind::PreRestore => SAFETY_PREFIX,
        }
    }

    /// The kind a folder named `name` is, if it is one of Lifeboat's.
    pub fn of_name(name: &str) -> Option<BackupKind> {
        if name.starts_with(BACKUP_PREFIX) {
            Some(BackupKind::Backup)
        } else if name.starts_with(SAFETY_PREFIX) {
            Some(BackupKind::PreRestore)
        } else {
            None
        }
    }
}

/// The staging folder name of backup `name`: `.<name>.partial`.
pub fn staging_name(name: &str) -> String {
    format!(".{name}{PARTIAL_SUFFIX}")
}

/// The name a backup folder has while rotation deletes it: `.<name>.deleting`.
pub fn deleting_name(name: &str) -> String {
    format!(".{name}{DELETING_SUFFIX}")
}

/// Whether `name` (a destination entry) is a staging or half-deleted backup folder.
pub fn is_destination_leftover(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(PARTIAL_SUFFIX).or_else(|| n.strip_suffix(DELETING_SUFFIX)))
        .is_some_and(|n| BackupKind::of_name(n).is_some())
}

/// Whether `name` (a source entry) is a staging or old copy of an interrupted restore.
pub fn is_restore_leftover(name: &str) -> bool {
    name.starts_with('.') && (name.ends_with(RESTORE_SUFFIX) || name.ends_with(OLD_SUFFIX))
}

/// The staging and set-aside names of `live` during its restore, beside it.
pub fn restore_swap_names(live: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let parent = live.parent().unwrap_or(Path::new("."));
    let name = live.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    (parent.join(format!(".{name}{RESTORE_SUFFIX}")), parent.join(format!(".{name}{OLD_SUFFIX}")))
}

/// A new folder name for a backup of `kind` started at `at` (local time, as in the seed),
/// with `-2`, `-3`... when that name, or its staging name, is taken in `destination`.
pub fn new_backup_name(destination: &Path, kind: BackupKind, at: DateTime<Utc>) -> String {
    let local: DateTime<Local> = at.into();
    let base = format!("{}{}", kind.prefix(), local.format("%Y-%m-%d_%H-%M-%S"));
    let taken = |n: &str| destination.join(n).exists() || destination.join(staging_name(n)).exists();
    if !taken(&base) {
        return base;
    }
    (2..).map(|i| format!("{base}-{i}")).find(|n| !taken(n)).expect("some suffix is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_recognised_by_name() {
        assert!(is_destination_leftover(".backup_2025-12-29_09-57-15.partial"));
        assert!(is_destination_leftover(".pre-restore_2025-12-29_09-57-15.deleting"));
        assert!(!is_destination_leftover(".other.partial"));
        assert!(!is_destination_leftover("backup_2025-12-29_09-57-15"));
        assert!(is_restore_leftover(".audio_files.lifeboat-restore"));
        assert!(is_restore_leftover(".audio_files.lifeboat-old"));
        assert!(!is_restore_leftover("audio_files"));
    }
}
