//! Logs through `tracing` to a daily-rotating file in the data dir (and to stderr).

use std::path::Path;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::{fmt, prelude::*, EnvFilter, Layer};

/// How many daily log files are kept.
pub const KEEP_LOG_FILES: usize = 14;
/// Log files are `lifeboat.log.YYYY-MM-DD`.
pub const LOG_FILE_PREFIX: &str = "lifeboat.log";

/// Installs the global subscriber: everything at info and above to the rotating file in
/// `log_dir`, and `stderr_level` and above (if any) to stderr. Keep the guard until exit.
pub fn init(
    log_dir: &Path,
    stderr_level: Option<tracing::Level>,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let _ = std::fs::create_dir_all(log_dir);
    let file = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .max_log_files(KEEP_LOG_FILES)
        .build(log_dir);
    match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file_layer = fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(EnvFilter::try_new(crate::env::log_filter()).unwrap_or_else(|_| EnvFilter::new("info")));
            let _ = tracing_subscriber::registry().with(file_layer).with(stderr_layer(stderr_level)).try_init();
            Some(guard)
        }
        Err(e) => {
            let _ = tracing_subscriber::registry().with(stderr_layer(stderr_level)).try_init();
            tracing::warn!("cannot write logs to {}: {e}", log_dir.display());
            None
        }
    }
}

fn stderr_layer<S>(level: Option<tracing::Level>) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = level.map_or(LevelFilter::OFF, LevelFilter::from_level);
    fmt::layer().with_writer(std::io::stderr).with_target(false).without_time().with_filter(filter)
}

/// The newest log file in `log_dir`, for "open log file".
pub fn current_log_file(log_dir: &Path) -> Option<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(log_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(LOG_FILE_PREFIX))
        .map(|e| e.path())
        .collect();
    files.sort();
    files.pop()
}
