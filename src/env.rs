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
