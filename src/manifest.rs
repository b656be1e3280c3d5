//! `manifest.json` (for machines) and `backup_info.txt` (for people) of one backup.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const INFO_FILE: &str = "backup_info.txt";
pub const FORMAT_VERSION: u32 = 1;

/// Why a backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Scheduled,
    Startup,
    Manual,
    PreRestore,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Startup => "startup",
            Trigger::Manual => "manual",
            Trigger::PreRestore => "pre-restore",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        [Trigger::Scheduled, Trigger::Startup, Trigger::Manual, Trigger::PreRestore]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Database,
}

/// How the entry got into the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stored {
    /// Written anew.
    Copied,
    /// Hard-linked from the previous backup (unchanged size and mtime).
    Linked,
    /// Copied through SQLite's online backup API.
    Sqlite,
    /// A folder or symlink: nothing to copy.
    Created,
}

/// One file, folder, symlink or database, at its path relative to the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative path with `/` separators.
    pub path: String,
    pub kind: EntryKind,
    #[serde(default)]
    pub size: u64,
    /// Modification time of the source, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub mtime_ns: i128,
    /// BLAKE3 of the content as stored in the backup (files and databases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    pub stored: Stored,
    /// Unix permission bits of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Where a symlink points, as written in the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A table and its row count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    pub rows: u64,
}

/// A SQLite database found in the source (by its header) and copied consistently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub path: String,
    pub size: u64,
    pub page_size: u64,
    pub page_count: u64,
    pub tables: Vec<TableInfo>,
    /// `PRAGMA integrity_check` of the copy: "ok" or the first problems.
    pub integrity: String,
    /// Fingerprint of the live files when copied (main and `-wal` size and mtime),
    /// so an unchanged database is recognised without opening it.
    #[serde(default)]
    pub source_fingerprint: String,
}

/// Counts of one backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub databases: u64,
    pub bytes: u64,
    /// Bytes written anew (copied, not hard-linked).
    pub bytes_written: u64,
    pub files_linked: u64,
}

/// Files and bytes per included item, for the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemTotals {
    pub item: String,
    pub files: u64,
    pub bytes: u64,
}

/// The machine-readable record of one backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub lifeboat_version: String,
    pub profile: String,
    pub trigger: Trigger,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub source: PathBuf,
    pub include: Vec<String>,
    pub totals: Totals,
    pub items: Vec<ItemTotals>,
    pub databases: Vec<DatabaseInfo>,
    /// Files that kept changing while they were copied: stored as last read.
    #[serde(default)]
    pub warnings: Vec<String>,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn read(backup_dir: &Path) -> Result<Manifest> {
        let path = backup_dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read manifest", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            let first = format!("{MANIFEST_FILE} is unreadable: {e}");
            Error::Damaged { path: backup_dir.to_path_buf(), problems: 1, all: vec![first.clone()], first }
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serialises");
        v.push(b'\n');
        v
    }

    pub fn duration_secs(&self) -> f64 {
        (self.finished_at - self.started_at).num_milliseconds() as f64 / 1000.0
    }

    /// The human summary written as `backup_info.txt`.
    pub fn info_text(&self, name: &str) -> String {
        let local: DateTime<Local> = self.started_at.into();
        let mut s = String::new();
        let _ = writeln!(s, "Lifeboat backup {name}");
        let _ = writeln!(s, "==========================================");
        let _ = writeln!(s, "Profile:     {}", self.profile);
        let _ = writeln!(s, "Created:     {} ({})", local.format("%Y-%m-%d %H:%M:%S %Z"), self.started_at.to_rfc3339());
        let _ = writeln!(s, "Trigger:     {}", self.trigger);
        let _ = writeln!(s, "Host:        {}", self.host);
        let _ = writeln!(s, "Source:      {}", self.source.display());
        let _ = writeln!(s, "Duration:    {:.1} s", self.duration_secs());
        let _ = writeln!(
            s,
            "Total:       {} files, {} ({} newly written, {} files unchanged and hard-linked)",
            self.totals.files + self.totals.databases,
            human_bytes(self.totals.bytes),
            human_bytes(self.totals.bytes_written),
            self.totals.files_linked
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "Contents");
        let _ = writeln!(s, "--------");
        for db in &self.databases {
            let rows: Vec<String> =
                db.tables.iter().map(|t| format!("{} {}", t.rows, t.name.replace('_', " "))).collect();
            let _ = writeln!(
                s,
                "{} ({}, {}; integrity {})",
                db.path,
                human_bytes(db.size),
                if rows.is_empty() { "no tables".to_string() } else { rows.join(", ") },
                db.integrity
            );
        }
        for item in &self.items {
            if self.databases.iter().any(|d| d.path == item.item) {
                continue;
            }
            let dirs = self
                .files
                .iter()
                .filter(|f| f.kind == EntryKind::Dir && in_item(&f.path, &item.item) && f.path != item.item)
                .count();
            if self.files.iter().any(|f| f.path == item.item && f.kind == EntryKind::Dir) {
                let _ = writeln!(
                    s,
                    "{}/ ({} files in {} folders, {})",
                    item.item,
                    item.files,
                    dirs,
                    human_bytes(item.bytes)
                );
            } else {
                let _ = writeln!(s, "{} ({})", item.item, human_bytes(item.bytes));
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "Warnings");
            let _ = writeln!(s, "--------");
            for w in &self.warnings {
                let _ = writeln!(s, "- {w}");
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Restore with: lifeboat restore {name}");
        let _ = writeln!(s, "Every file is listed with its BLAKE3 hash in {MANIFEST_FILE}.");
        s
    }
}

/// Whether relative path `path` is `item` or inside it.
pub fn in_item(path: &str, item: &str) -> bool {
    item.is_empty() || path == item || path.strip_prefix(item).is_some_and(|r| r.starts_with('/'))
}

/// "1.48 MB" style sizes (decimal units, as file managers show them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_480_000), "1.48 MB");
    }

    #[test]
    fn item_membership() {
        assert!(in_item("audio_files/a.wav", "audio_files"));
        assert!(in_item("audio_files", "audio_files"));
        assert!(!in_item("audio_files2/a.wav", "audio_files"));
        assert!(in_item("anything", ""));
    }
}
