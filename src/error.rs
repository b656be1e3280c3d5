//! The one error type of the engine, and the policy every module follows.
//!
//! # Error policy
//! 1. Public functions return [`Result`]; its [`Error`] names the path and the cause in
//!    words a person can act on ("destination is full: /media/x — free some space").
//! 2. An I/O failure is wrapped once, where the path is known, with [`IoContext::at`]:
//!    the common causes (disk full, read-only, permission) become their own variants.
//!    Code further up adds nothing and never re-wraps: the first context is the right one.
//! 3. Every variant has a [`ErrorKind`] that front ends branch on (the window, `--json`,
//!    the history); the message is for people only, never parsed.
//! 4. A wrapper that adds context (a restore that stopped part-way) keeps the kind of
//!    the error it wraps.
//! 5. Panics are bugs: a bad input, a bad environment variable or a bad manifest is an
//!    error, never a panic.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, phrased so a person can act on it.
///
/// Each variant's `#[error]` message is its documentation: it shows what every field
/// holds (`path` is always the path the failure is about).
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum Error {
    /// The config file cannot be parsed or holds a wrong value; `message` names the line.
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A setting of a profile is wrong; `field` names it for a settings form.
    #[error("{message}")]
    Setting { field: &'static str, message: String },

    /// No profile, an unknown profile, or several profiles and none chosen.
    #[error("{message}")]
    Profile { message: String },

    /// The app has no profile yet.
    #[error("Lifeboat is not set up yet: choose what to back up first")]
    NotSetUp,

    /// A `LIFEBOAT_*` environment variable holds a value that cannot be used.
    #[error("environment variable {var}: {message}")]
    Env { var: &'static str, message: String },

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

    /// A path that cannot be backed up or restored as asked (outside the source, a loop).
    #[error("{path}: {message}")]
    Selection { path: PathBuf, message: String },

    #[error("database {path}: {message}")]
    Database { path: PathBuf, message: String },

    #[error("database {path} is in use by another program: stop it and retry")]
    DatabaseBusy { path: PathBuf },

    #[error("{what} is already running for {path} (pid {pid} on {host}) — wait for it to finish")]
    Busy { what: String, path: PathBuf, pid: u32, host: String },

    #[error("no backup named {name} in {destination}")]
    NoSuchBackup { name: String, destination: PathBuf },

    #[error("backup {path} is damaged: {}, first: {first}", crate::units::count(*problems as u64, "problem", "problems"))]
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

    /// An action that needs the user's yes did not get it.
    #[error("{message}")]
    Refused { message: String },

    /// A restore failed after it had started changing the live data; `source` says why
    /// and keeps its kind, `safety_snapshot` holds the data as it was.
    #[error("restore of {backup} stopped part-way: {source} — your data as it was before is in {safety_snapshot}; restore it to go back")]
    RestoreInterrupted {
        backup: String,
        safety_snapshot: String,
        #[source]
        source: Box<Error>,
    },

    /// A bug or a failure of the runtime itself (a job thread that panicked).
    #[error("internal error: {message}")]
    Internal { message: String },

    /// The offsite repository's password does not open any of its keys.
    #[error("wrong password for the offsite repository {repository}: it opens none of its keys — use the password given at `lifeboat offsite init` (LIFEBOAT_OFFSITE_PASSWORD, --password-file or the keychain)")]
    OffsiteWrongPassword { repository: String },

    /// The S3 store refused the keys (HTTP 403: unknown key, wrong secret, or no permission).
    #[error("the S3 store refused the access keys for {repository} (403 access denied): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and that the key may use this bucket — {detail}")]
    OffsiteAccessDenied { repository: String, detail: String },

    /// The bucket named in the repository URL does not exist at that endpoint.
    #[error("unknown bucket \"{bucket}\" at {endpoint}: create it first, or check the repository URL {repository}")]
    OffsiteNoBucket { repository: String, bucket: String, endpoint: String },

    /// The S3 endpoint did not answer (no network, wrong host or port, server down).
    #[error(
        "the S3 endpoint {endpoint} cannot be reached: {cause} — check the network and the repository URL {repository}"
    )]
    OffsiteUnreachable { repository: String, endpoint: String, cause: String },

    /// The bucket and prefix hold no restic repository.
    #[error("no restic repository at {repository} (there is no `config` file there): check the URL, or create one with `lifeboat offsite init --repo {repository}`")]
    OffsiteNotARepository { repository: String },

    /// The connection was lost or failed during an upload or download; the next push resumes.
    #[error("transfer with {repository} interrupted: {cause} — nothing is lost: run it again (a push resumes where it stopped)")]
    OffsiteInterrupted { repository: String, cause: String },

    /// The push or restore was stopped on request (pause, quit).
    #[error("offsite {what} for {repository} cancelled — the next push resumes it")]
    OffsiteCancelled { what: &'static str, repository: String },

    /// A secret the offsite copy needs is nowhere to be found.
    #[error("{message}")]
    OffsiteSecretMissing { message: String },

    /// `offsite verify` found the repository damaged.
    #[error(
        "offsite repository {repository} is damaged: {}, first: {first} — run `restic -r {repository} check` for details, then push again",
        crate::units::count(*problems as u64, "problem", "problems")
    )]
    OffsiteDamaged { repository: String, problems: usize, first: String },

    /// No offsite snapshot matches what was asked for.
    #[error(
        "no offsite snapshot \"{snapshot}\" in {repository}: `lifeboat offsite list --repo {repository}` shows them"
    )]
    OffsiteNoSnapshot { repository: String, snapshot: String },

    /// Another failure of the offsite repository, in rustic's words.
    #[error("offsite repository {repository}: {message}")]
    Offsite { repository: String, message: String },
}

/// The kind of an [`Error`], stable across versions: the window, `--json` and the
/// history carry it as a snake_case string (`"disk_full"`). Each kind is the
/// [`Error`] variant of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Config,
    Setting,
    Profile,
    NotSetUp,
    Env,
    NoConfig,
    SourceMissing,
    DestinationUnavailable,
    DiskFull,
    ReadOnly,
    PermissionDenied,
    Io,
    Selection,
    Database,
    DatabaseBusy,
    Busy,
    NoSuchBackup,
    Damaged,
    UnsafePath,
    Hook,
    Refused,
    Internal,
    OffsiteWrongPassword,
    OffsiteAccessDenied,
    OffsiteNoBucket,
    OffsiteUnreachable,
    OffsiteNotARepository,
    OffsiteInterrupted,
    OffsiteCancelled,
    OffsiteSecretMissing,
    OffsiteDamaged,
    OffsiteNoSnapshot,
    Offsite,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 33] = [
        ErrorKind::Config,
        ErrorKind::Setting,
        ErrorKind::Profile,
        ErrorKind::NotSetUp,
        ErrorKind::Env,
        ErrorKind::NoConfig,
        ErrorKind::SourceMissing,
        ErrorKind::DestinationUnavailable,
        ErrorKind::DiskFull,
        ErrorKind::ReadOnly,
        ErrorKind::PermissionDenied,
        ErrorKind::Io,
        ErrorKind::Selection,
        ErrorKind::Database,
        ErrorKind::DatabaseBusy,
        ErrorKind::Busy,
        ErrorKind::NoSuchBackup,
        ErrorKind::Damaged,
        ErrorKind::UnsafePath,
        ErrorKind::Hook,
        ErrorKind::Refused,
        ErrorKind::Internal,
        ErrorKind::OffsiteWrongPassword,
        ErrorKind::OffsiteAccessDenied,
        ErrorKind::OffsiteNoBucket,
        ErrorKind::OffsiteUnreachable,
        ErrorKind::OffsiteNotARepository,
        ErrorKind::OffsiteInterrupted,
        ErrorKind::OffsiteCancelled,
        ErrorKind::OffsiteSecretMissing,
        ErrorKind::OffsiteDamaged,
        ErrorKind::OffsiteNoSnapshot,
        ErrorKind::Offsite,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Setting => "setting",
            ErrorKind::Profile => "profile",
            ErrorKind::NotSetUp => "not_set_up",
            ErrorKind::Env => "env",
            ErrorKind::NoConfig => "no_config",
            ErrorKind::SourceMissing => "source_missing",
            ErrorKind::DestinationUnavailable => "destination_unavailable",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Io => "io",
            ErrorKind::Selection => "selection",
            ErrorKind::Database => "database",
            ErrorKind::DatabaseBusy => "database_busy",
            ErrorKind::Busy => "busy",
            ErrorKind::NoSuchBackup => "no_such_backup",
            ErrorKind::Damaged => "damaged",
            ErrorKind::UnsafePath => "unsafe_path",
            ErrorKind::Hook => "hook",
            ErrorKind::Refused => "refused",
            ErrorKind::Internal => "internal",
            ErrorKind::OffsiteWrongPassword => "offsite_wrong_password",
            ErrorKind::OffsiteAccessDenied => "offsite_access_denied",
            ErrorKind::OffsiteNoBucket => "offsite_no_bucket",
            ErrorKind::OffsiteUnreachable => "offsite_unreachable",
            ErrorKind::OffsiteNotARepository => "offsite_not_a_repository",
            ErrorKind::OffsiteInterrupted => "offsite_interrupted",
            ErrorKind::OffsiteCancelled => "offsite_cancelled",
            ErrorKind::OffsiteSecretMissing => "offsite_secret_missing",
            ErrorKind::OffsiteDamaged => "offsite_damaged",
            ErrorKind::OffsiteNoSnapshot => "offsite_no_snapshot",
            ErrorKind::Offsite => "offsite",
        }
    }

    /// The kind named `s`; `None` for a name this version does not know.
    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Wraps an I/O error with what was being done to which path, turning the common
    /// causes (disk full, read-only file system, permission) into their own variants.
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

    /// A wrong setting of a profile: `field` is its name in the config (`source`, `keep`...).
    pub fn setting(field: &'static str, message: impl Into<String>) -> Self {
        Error::Setting { field, message: message.into() }
    }

    /// The kind of failure, for the UI, `--json` and the history.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. } => ErrorKind::Config,
            Error::Setting { .. } => ErrorKind::Setting,
            Error::Profile { .. } => ErrorKind::Profile,
            Error::NotSetUp => ErrorKind::NotSetUp,
            Error::Env { .. } => ErrorKind::Env,
            Error::NoConfig { .. } => ErrorKind::NoConfig,
            Error::SourceMissing { .. } => ErrorKind::SourceMissing,
            Error::DestinationUnavailable { .. } => ErrorKind::DestinationUnavailable,
            Error::DiskFull { .. } => ErrorKind::DiskFull,
            Error::ReadOnly { .. } => ErrorKind::ReadOnly,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Io { .. } => ErrorKind::Io,
            Error::Selection { .. } => ErrorKind::Selection,
            Error::Database { .. } => ErrorKind::Database,
            Error::DatabaseBusy { .. } => ErrorKind::DatabaseBusy,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::NoSuchBackup { .. } => ErrorKind::NoSuchBackup,
            Error::Damaged { .. } => ErrorKind::Damaged,
            Error::UnsafePath { .. } => ErrorKind::UnsafePath,
            Error::Hook { .. } => ErrorKind::Hook,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::RestoreInterrupted { source, .. } => source.kind(),
            Error::Internal { .. } => ErrorKind::Internal,
            Error::OffsiteWrongPassword { .. } => ErrorKind::OffsiteWrongPassword,
            Error::OffsiteAccessDenied { .. } => ErrorKind::OffsiteAccessDenied,
            Error::OffsiteNoBucket { .. } => ErrorKind::OffsiteNoBucket,
            Error::OffsiteUnreachable { .. } => ErrorKind::OffsiteUnreachable,
            Error::OffsiteNotARepository { .. } => ErrorKind::OffsiteNotARepository,
            Error::OffsiteInterrupted { .. } => ErrorKind::OffsiteInterrupted,
            Error::OffsiteCancelled { .. } => ErrorKind::OffsiteCancelled,
            Error::OffsiteSecretMissing { .. } => ErrorKind::OffsiteSecretMissing,
            Error::OffsiteDamaged { .. } => ErrorKind::OffsiteDamaged,
            Error::OffsiteNoSnapshot { .. } => ErrorKind::OffsiteNoSnapshot,
            Error::Offsite { .. } => ErrorKind::Offsite,
        }
    }

    /// The error as front ends show it: its kind and its message.
    pub fn report(&self) -> ErrorReport {
        ErrorReport { kind: self.kind(), message: self.to_string() }
    }
}

/// An error as the UI and `--json` see it: `{"kind": "disk_full", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorReport {
    /// What kind of failure, for code to branch on.
    pub kind: ErrorKind,
    /// The error's text, for people.
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

/// Adds what was being done, and to which path, to an `io::Result`.
pub trait IoContext<T> {
    /// `action` is a verb phrase ("read", "create folder"); `path` the path it was done to.
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once() {
        let names: std::collections::HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn kinds_round_trip_by_name_and_serde() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::String(k.as_str().into()));
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_interrupted_restore_keeps_the_kind_of_its_cause() {
        let full = Error::io("write", "/media/x", io::Error::from_raw_os_error(libc::ENOSPC));
        let e = Error::RestoreInterrupted { backup: "b".into(), safety_snapshot: "s".into(), source: Box::new(full) };
        assert_eq!(e.kind(), ErrorKind::DiskFull);
        assert!(e.to_string().contains("your data as it was before is in s"), "{e}");
    }
}
