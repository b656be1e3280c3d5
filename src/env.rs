//! Where Lifeboat keeps its own files, and every `LIFEBOAT_*` environment variable, read
//! and checked in one place for both front ends. A bad value is an [`Error::Env`] that
//! names the variable, never a panic.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `LIFEBOAT_CONFIG` | the config file | `<config dir>/config.toml` |
//! | `LIFEBOAT_DATA_DIR` | history database and logs | the platform data dir |
//! | `LIFEBOAT_TICK_SECS` | how often the scheduler looks at the clock, seconds (> 0, finite) | 60 |
//! | `LIFEBOAT_LOG` | log filter for the log file (`tracing` `EnvFilter` syntax) | `info` |
//! | `LIFEBOAT_OFFSITE_PASSWORD` | the offsite repository's password (else `--password-file`, else the keychain) | none |
//! | `LIFEBOAT_OFFSITE_KEYCHAIN` | where offsite secrets are kept: `system` (the OS keychain), `mock` (in memory, for tests), `none` | `system` |
//! | `LIFEBOAT_OFFSITE_CHUNK_KIB` | average chunk size of a *new* offsite repository, KiB, a power of 2 from 16 to 8192 (benchmarks) | 64 |
//! | `LIFEBOAT_RELAUNCH_AFTER_SECS` | app only (read in its `relaunch` module): seconds after the window closes before the app re-executes itself hidden (Linux), `0` never | 30 |
//! | `LIFEBOAT_WEED` | tests only (`tests/common/s3.rs`): the SeaweedFS `weed` binary | `.venv-s3/bin/weed` |
//! | `LIFEBOAT_NO_S3_TESTS` | tests only: `1` skips the S3 tests when `weed` is missing (never in CI) | unset |
//!
//! The S3 keys are read from the standard `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The config file variable.
pub const CONFIG: &str = "LIFEBOAT_CONFIG";
/// The data dir variable.
pub const DATA_DIR: &str = "LIFEBOAT_DATA_DIR";
/// The scheduler tick variable.
pub const TICK_SECS: &str = "LIFEBOAT_TICK_SECS";
/// The log filter variable.
pub const LOG: &str = "LIFEBOAT_LOG";

/// The offsite password variable.
pub const OFFSITE_PASSWORD: &str = "LIFEBOAT_OFFSITE_PASSWORD";
/// The offsite keychain choice variable.
pub const OFFSITE_KEYCHAIN: &str = "LIFEBOAT_OFFSITE_KEYCHAIN";
/// The offsite chunk size variable.
pub const OFFSITE_CHUNK_KIB: &str = "LIFEBOAT_OFFSITE_CHUNK_KIB";
/// The S3 access key id (the standard AWS name).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The S3 secret access key (the standard AWS name).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// Average chunk size of a new offsite repository, KiB (see README "Offsite").
pub const DEFAULT_OFFSITE_CHUNK_KIB: u64 = 64;

/// How often the scheduler looks at the clock by default.
pub const DEFAULT_TICK: Duration = Duration::from_secs(60);
/// The shortest tick accepted: a shorter one would spin.
pub const MIN_TICK: Duration = Duration::from_millis(10);

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "Lifeboat")
}

/// The platform config dir, e.g. `~/.config/lifeboat` or `~/Library/Application Support/Lifeboat`.
pub fn config_dir() -> PathBuf {
    project_dirs().map(|d| d.config_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".lifeboat"))
}

/// The config file: `LIFEBOAT_CONFIG`, else `config.toml` in [`config_dir`].
pub fn config_path() -> PathBuf {
    std::env::var_os(CONFIG)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir().join("config.toml"))
}

/// The data dir for history and logs: `LIFEBOAT_DATA_DIR`, else the platform data dir.
pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(DATA_DIR).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    project_dirs().map(|d| d.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".lifeboat"))
}

/// The folder of the daily log files.
pub fn log_dir() -> PathBuf {
    data_dir().join("logs")
}

/// The history database.
pub fn history_db() -> PathBuf {
    data_dir().join("history.sqlite3")
}

/// The scheduler tick: `LIFEBOAT_TICK_SECS`, else [`DEFAULT_TICK`].
///
/// # Errors
/// [`Error::Env`] when the value is not a finite number of seconds of at least 0.01.
pub fn tick() -> Result<Duration> {
    match std::env::var(TICK_SECS) {
        Ok(s) => parse_tick(&s),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_TICK),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Env { var: TICK_SECS, message: "is not valid text".into() })
        }
    }
}

/// Parses a tick in seconds; see [`tick`].
pub fn parse_tick(s: &str) -> Result<Duration> {
    let bad = || Error::Env {
        var: TICK_SECS,
        message: format!(
            "\"{s}\" is not a number of seconds of at least {} — unset it or fix it",
            MIN_TICK.as_secs_f64()
        ),
    };
    let secs: f64 = s.trim().parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < MIN_TICK.as_secs_f64() || secs > 86_400.0 * 365.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The log filter for the log file: `LIFEBOAT_LOG`, else `info`.
pub fn log_filter() -> String {
    std::env::var(LOG).ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "info".into())
}

/// A non-empty variable's value; `None` when unset or empty.
///
/// # Errors
/// [`Error::Env`] when it is not valid text.
fn text_var(var: &'static str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(s) if s.is_empty() => Ok(None),
        Ok(s) => Ok(Some(s)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Env { var, message: "is not valid text".into() }),
    }
}

/// The offsite password from `LIFEBOAT_OFFSITE_PASSWORD`, if set.
///
/// # Errors
/// [`Error::Env`] when it is not valid text.
pub fn offsite_password() -> Result<Option<String>> {
    text_var(OFFSITE_PASSWORD)
}

/// The S3 keys from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, when both are set.
///
/// # Errors
/// [`Error::Env`] when only one is set, or one is not valid text.
pub fn aws_keys() -> Result<Option<(String, String)>> {
    match (text_var(AWS_ACCESS_KEY_ID)?, text_var(AWS_SECRET_ACCESS_KEY)?) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::Env {
            var: AWS_SECRET_ACCESS_KEY,
            message: "is not set, but AWS_ACCESS_KEY_ID is: set both, or neither to use the keychain".into(),
        }),
        (None, Some(_)) => Err(Error::Env {
            var: AWS_ACCESS_KEY_ID,
            message: "is not set, but AWS_SECRET_ACCESS_KEY is: set both, or neither to use the keychain".into(),
        }),
    }
}

/// Where offsite secrets are kept, from `LIFEBOAT_OFFSITE_KEYCHAIN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keychain {
    /// The OS keychain (macOS Keychain, Windows Credential Manager, Secret Service).
    System,
    /// An in-memory store that lives as long as the process (tests).
    Mock,
    /// No keychain: secrets come from the environment or a password file only.
    None,
}

/// The keychain to use: `LIFEBOAT_OFFSITE_KEYCHAIN`, else [`Keychain::System`].
///
/// # Errors
/// [`Error::Env`] for a value other than `system`, `mock` or `none`.
pub fn offsite_keychain() -> Result<Keychain> {
    match text_var(OFFSITE_KEYCHAIN)?.as_deref().map(str::trim) {
        None | Some("system") => Ok(Keychain::System),
        Some("mock") => Ok(Keychain::Mock),
        Some("none") => Ok(Keychain::None),
        Some(other) => {
            Err(Error::Env { var: OFFSITE_KEYCHAIN, message: format!("\"{other}\" is not one of system, mock, none") })
        }
    }
}

/// Average chunk size of a new offsite repository in bytes: `LIFEBOAT_OFFSITE_CHUNK_KIB`
/// KiB, else [`DEFAULT_OFFSITE_CHUNK_KIB`].
///
/// # Errors
/// [`Error::Env`] unless it is a power of 2 from 16 to 8192.
pub fn offsite_chunk_bytes() -> Result<u64> {
    let Some(s) = text_var(OFFSITE_CHUNK_KIB)? else { return Ok(DEFAULT_OFFSITE_CHUNK_KIB * 1024) };
    match s.trim().parse::<u64>() {
        Ok(k) if k.is_power_of_two() && (16..=8192).contains(&k) => Ok(k * 1024),
        _ => Err(Error::Env {
            var: OFFSITE_CHUNK_KIB,
            message: format!("\"{s}\" is not a power of 2 from 16 to 8192 (KiB) — unset it or fix it"),
        }),
    }
}

/// The offsite cache folder (what is already uploaded: index and snapshot files).
pub fn offsite_cache_dir() -> PathBuf {
    data_dir().join("offsite-cache")
}

/// The folder of the per-profile offsite state files (pushed backups, last push, last error).
pub fn offsite_state_dir() -> PathBuf {
    data_dir().join("offsite")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_checked_not_panicked_on() {
        assert_eq!(parse_tick("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_tick(" 60 ").unwrap(), Duration::from_secs(60));
        for bad in ["-1", "0", "inf", "NaN", "abc", "", "1e300"] {
            let e = parse_tick(bad).unwrap_err();
            assert!(e.to_string().contains("LIFEBOAT_TICK_SECS"), "{bad}: {e}");
        }
    }
}
