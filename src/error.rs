//! The one error type of the engine: every variant names the path and the cause.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, phrased so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{0}")]
    Invalid(String),

    /// A setting of a profile is wrong; `field` names it for a settings form.
    #[error("{message}")]
    Setting { field: &'static str, message: String },

    #[error("no config at {path}: create one with `lifeboat init --source DIR --dest DIR`")]
    NoConfig { path: PathBuf },

    #[error("source not available: {path} {cause}")]
    SourceMissing { path: PathBuf, cause: String },

    #[error("destination not available: {path} {cause}")]
    DestinationUnavailable { path: PathBuf, cause: String },

    #[error("destination is full: {path}: no space left on the device — free some space or choose another destination, then try again")]
    DiskFull { path: PathBuf },

    #[error("{path} is on a read-only file system — remount it writable or choose another folder")]
    ReadOnly { path: PathBuf },

    #[error("permission denied: {path} ({action}) — check its owner and permissions")]
    PermissionDenied { path: PathBuf, action: &'static str },

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("database {path}: {message}")]
    Database { path: PathBuf, message: String },

    #[error("database {path} is in use by another program: stop it and retry")]
    DatabaseBusy { path: PathBuf },

    #[error("{what} is already running for {path} (pid {pid} on {host}) — wait for it to finish")]
    Busy { what: String, path: PathBuf, pid: u32, host: String },

    #[error("no backup named {name} in {destination}")]
    NoSuchBackup { name: String, destination: PathBuf },

    #[error("backup {path} is damaged: {problems} problem(s), first: {first}")]
    Damaged {
        path: PathBuf,
        problems: usize,
        first: String,
        /// Every problem, one line each, for a front end to list.
        all: Vec<String>,
    },

    #[error("unsafe path in manifest of {backup}: {entry} ({why}) — refusing to restore")]
    UnsafePath { backup: PathBuf, entry: String, why: &'static str },

    #[error("hook `{name}` failed: {message}")]
    Hook { name: String, message: String },
}

impl Error {
    /// Wraps an I/O error, turning the common causes into their own clear variants.
    pub fn io(action: &'static str, path: impl AsRef<Path>, source: io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        if is_disk_full(&source) {
            return Error::DiskFull { path };
        }
        if source.kind() == io::ErrorKind::ReadOnlyFilesystem {
            return Error::ReadOnly { path };
        }
        if source.kind() == io::ErrorKind::PermissionDenied {
            return Error::PermissionDenied { path, action };
        }
        Error::Io { action, path, source }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// A wrong setting of a profile: `field` is its name in the config (`source`, `keep`...).
    pub fn setting(field: &'static str, message: impl Into<String>) -> Self {
        Error::Setting { field, message: message.into() }
    }

    /// A short stable name for the kind of failure, for the UI and `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Invalid(_) | Error::Setting { .. } => "invalid",
            Error::NoConfig { .. } => "no_config",
            Error::SourceMissing { .. } => "source_missing",
            Error::DestinationUnavailable { .. } => "destination_unavailable",
            Error::DiskFull { .. } => "disk_full",
            Error::ReadOnly { .. } => "read_only",
            Error::PermissionDenied { .. } => "permission_denied",
            Error::Io { .. } => "io",
            Error::Database { .. } => "database",
            Error::DatabaseBusy { .. } => "database_busy",
            Error::Busy { .. } => "busy",
            Error::NoSuchBackup { .. } => "no_such_backup",
            Error::Damaged { .. } => "damaged",
            Error::UnsafePath { .. } => "unsafe_path",
            Error::Hook { .. } => "hook",
        }
    }

    pub fn report(&self) -> ErrorReport {
        ErrorReport { kind: self.kind().to_string(), message: self.to_string() }
    }
}

/// An error as the UI and `--json` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorReport {
    pub kind: String,
    pub message: String,
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        e.report()
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
        return true;
    }
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Adds the path to an `io::Result`.
pub trait IoContext<T> {
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}
