//! Lifeboat's engine: consistent, atomic, rotating backups of an app's SQLite database
//! and asset folders, with verify and safe restore. No GUI here: the `lifeboat` CLI and
//! the tray app are two thin front ends over [`Engine`] and [`Scheduler`].
//!
//! The modules form layers; each imports only from the layers below it (and, inside a
//! layer, without a circle). `tests/layers.rs` fails on any import that breaks this.
//!
//! 1. leaves: `error`, `fsx`, `layout`, `units`, `env`, `progress`, `logging`
//! 2. records: `config`, `manifest`, `selection`, `sqlite`
//! 3. the destination: `catalog`, `lock`, `history`
//! 4. jobs: `backup`, `verify`, `restore`, `hooks`, `offsite`
//! 5. facade: `engine`, `schedule`, `view`
//!
//! This file is the curated public API: module declarations and re-exports, nothing else.
#![warn(missing_docs)]

mod backup;
mod catalog;
mod config;
mod engine;
mod env;
mod error;
mod fsx;
mod history;
mod hooks;
mod layout;
mod lock;
mod logging;
mod manifest;
pub mod offsite;
mod progress;
mod restore;
mod schedule;
mod selection;
mod sqlite;
mod units;
mod verify;
pub mod view;

pub use backup::BackupOutcome;
pub use catalog::{backup_dir, newest_backup, BackupInfo, KEEP_SAFETY};
pub use config::{
    Config, Offsite, Profile, DEFAULT_EVERY_HOURS, DEFAULT_HOOK_TIMEOUT_SECS, DEFAULT_KEEP, DEFAULT_OFFSITE_KEEP,
};
pub use engine::{check_on_disk, next_due, Engine, Health, LsEntry, Status, OVERDUE_GRACE};
pub use env::{config_path, data_dir, history_db, log_dir, offsite_chunk_bytes, parse_tick, tick};
pub use error::{Error, ErrorKind, ErrorReport, IoContext, Result};
pub use fsx::write_atomic;
pub use history::{History, Outcome, RunRecord};
pub use layout::{BackupKind, INFO_FILE, LOCK_FILE, MANIFEST_FILE};
pub use logging::{current_log_file, init as init_logging};
pub use manifest::{
    decode_rel, encode_rel, DatabaseInfo, EntryKind, FileEntry, Hash, ItemTotals, Manifest, SkipKind, Skipped, Stored,
    TableInfo, Totals, Trigger,
};
pub use progress::{NoProgress, Phase, Progress, ProgressUpdate};
pub use restore::{
    check_outside as check_restore_folder, DatabaseDiff, Diff, EntryState, RestorePlan, RestoreReport, RestoreRequest,
    TableDiff,
};
pub use schedule::{
    Activity, Clock, DestinationQueue, Event, Pause, Scheduler, SystemClock, DEFAULT_RETRY_AFTER, DEFAULT_TICK,
};
pub use sqlite::BUSY_TIMEOUT;
pub use units::count;
pub use verify::{Problem, VerifyReport};
