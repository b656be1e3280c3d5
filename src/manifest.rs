//! `manifest.json` (for machines) and `backup_info.txt` (for people) of one backup, and
//! the rules a manifest path must follow to be used.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsx::Digest;
use crate::layout::MANIFEST_FILE;
use crate::units::human_bytes;

/// The manifest format written by this version.
pub const FORMAT_VERSION: u32 = 1;

/// Why a backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// By the schedule.
    Scheduled,
    /// At start, when one was due or missed.
    Startup,
    /// By the user (Back up now, `lifeboat backup`).
    Manual,
    /// The safety snapshot before a restore.
    PreRestore,
}

impl Trigger {
    /// The kebab-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Startup => "startup",
            Trigger::Manual => "manual",
            Trigger::PreRestore => "pre-restore",
        }
    }

    /// The trigger named `s`, if any.
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

/// A BLAKE3 hash: 32 bytes in memory, 64 hex digits in `manifest.json`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hash(pub Digest);

impl From<Digest> for Hash {
    fn from(d: Digest) -> Self {
        Hash(d)
    }
}

impl From<blake3::Hash> for Hash {
    fn from(h: blake3::Hash) -> Self {
        Hash(*h.as_bytes())
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(blake3::Hash::from_bytes(self.0).to_hex().as_str())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(blake3::Hash::from_bytes(self.0).to_hex().as_str())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let hex: std::borrow::Cow<'de, str> = Deserialize::deserialize(d)?;
        blake3::Hash::from_hex(hex.as_bytes()).map(Hash::from).map_err(serde::de::Error::custom)
    }
}

/// What one manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link, stored as a link.
    Symlink,
    /// A SQLite database, copied through SQLite.
    Database,
}

/// How the entry got into the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// What it is.
    pub kind: EntryKind,
    #[serde(default)]
    /// Size in bytes.
    pub size: u64,
    /// Modification time of the source, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub mtime_ns: i128,
    /// BLAKE3 of the content as stored in the backup (files and databases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<Hash>,
    /// How it got into the backup.
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TableInfo {
    /// The name.
    pub name: String,
    /// Rows in it.
    pub rows: u64,
}

/// A SQLite database found in the source (by its header) and copied consistently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatabaseInfo {
    /// The folder.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Bytes per page.
    pub page_size: u64,
    /// Pages in the file.
    pub page_count: u64,
    /// User tables with their row counts.
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Totals {
    /// Files written.
    pub files: u64,
    /// Folders.
    pub dirs: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Every database copied.
    pub databases: u64,
    /// Bytes in the backup.
    pub bytes: u64,
    /// Bytes written anew (copied, not hard-linked).
    pub bytes_written: u64,
    /// Files hard-linked from the previous backup.
    pub files_linked: u64,
}

/// Files and bytes per included item, for the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ItemTotals {
    /// The item, relative to the source.
    pub item: String,
    /// Files written.
    pub files: u64,
    /// Bytes in the backup.
    pub bytes: u64,
}

/// The machine-readable record of one backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The Lifeboat version that wrote it.
    pub lifeboat_version: String,
    /// The profile name.
    pub profile: String,
    /// What started it.
    pub trigger: Trigger,
    /// The machine it was made on.
    pub host: String,
    /// When it started, UTC.
    pub started_at: DateTime<Utc>,
    /// When it ended, UTC.
    pub finished_at: DateTime<Utc>,
    /// The source folder (the application's data root).
    pub source: PathBuf,
    /// The include list of the profile (empty: the whole source).
    pub include: Vec<String>,
    /// Counts of files, folders, links, databases and bytes.
    pub totals: Totals,
    /// Files and bytes per included item.
    pub items: Vec<ItemTotals>,
    /// Every database copied.
    pub databases: Vec<DatabaseInfo>,
    /// Files that kept changing while they were copied: stored as last read.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Files written.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Reads the manifest of the backup in `backup_dir`.
    ///
    /// # Errors
    /// [`Error::Damaged`] when it is missing or not a valid manifest (an incomplete backup).
    pub fn read(backup_dir: &Path) -> Result<Manifest> {
        read_manifest_as(backup_dir)
    }

    /// Writes the manifest to the new file `path`, streamed (a 100,000-file manifest is
    /// tens of MB), and fsyncs it.
    pub fn write(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        serde_json::to_writer_pretty(&mut out, self)
            .map_err(|e| Error::io("write", path, e.into()))
            .and_then(|()| std::io::Write::write_all(&mut out, b"\n").map_err(|e| Error::io("write", path, e)))?;
        let file = out.into_inner().map_err(|e| Error::io("write", path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("sync", path, e))
    }

    /// Seconds from start to end, to the millisecond.
    pub fn duration_secs(&self) -> f64 {
        duration_secs(self.started_at, self.finished_at)
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

/// Parses a backup's manifest as `T` (the whole manifest, or only the parts a caller
/// needs), streamed: a 100,000-file manifest is never held as bytes and structure at once.
pub fn read_manifest_as<T: serde::de::DeserializeOwned>(backup_dir: &Path) -> Result<T> {
    let path = backup_dir.join(MANIFEST_FILE);
    let file = std::fs::File::open(&path).map_err(|e| Error::io("read manifest", &path, e))?;
    serde_json::from_reader(std::io::BufReader::with_capacity(1 << 20, file)).map_err(|e| {
        let first = format!("{MANIFEST_FILE} is unreadable: {e}");
        Error::Damaged { path: backup_dir.to_path_buf(), problems: 1, all: vec![first.clone()], first }
    })
}

/// Seconds from `start` to `end`, to the millisecond.
pub fn duration_secs(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_milliseconds() as f64 / 1000.0
}

/// Why a manifest path may not be used, if it may not: empty, absolute, or with `..`.
pub fn unsafe_path(rel: &str) -> Option<&'static str> {
    let p = Path::new(rel);
    if rel.is_empty() {
        Some("empty path")
    } else if p.is_absolute() || rel.starts_with('/') || rel.starts_with('\\') || p.has_root() {
        Some("absolute path")
    } else if p.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
        || rel.split(['/', '\\']).any(|s| s == "..")
    {
        Some("contains `..`")
    } else {
        None
    }
}

/// Whether relative path `path` is `item` or inside it.
pub fn in_item(path: &str, item: &str) -> bool {
    item.is_empty() || path == item || path.strip_prefix(item).is_some_and(|r| r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_membership() {
        assert!(in_item("audio_files/a.wav", "audio_files"));
        assert!(in_item("audio_files", "audio_files"));
        assert!(!in_item("audio_files2/a.wav", "audio_files"));
        assert!(in_item("anything", ""));
    }
}
