//! Where Lifeboat keeps its own files: config, history and logs.

use std::path::PathBuf;

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "Lifeboat")
}

/// The platform config dir, e.g. `~/.config/lifeboat` or `~/Library/Application Support/Lifeboat`.
pub fn config_dir() -> PathBuf {
    project_dirs().map(|d| d.config_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".lifeboat"))
}

/// The platform data dir for history and logs; `LIFEBOAT_DATA_DIR` overrides it.
pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("LIFEBOAT_DATA_DIR") {
        return PathBuf::from(p);
    }
    project_dirs().map(|d| d.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".lifeboat"))
}

pub fn log_dir() -> PathBuf {
    data_dir().join("logs")
}

pub fn history_db() -> PathBuf {
    data_dir().join("history.sqlite3")
}
