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

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Hash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Blake3Hash".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "A BLAKE3 hash: 64 lowercase hex digits."
        })
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FileEntry {
    /// Relative path with `/` separators, in the escaped form of [`encode_rel`].
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Modification time of the source, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub mtime_ns: i128,
    /// Status-change time of the source, ns since the epoch (0 where the platform has
    /// none). A program can set mtime back; it cannot set ctime, so the change rule
    /// compares both.
    #[serde(default, skip_serializing_if = "is_zero_i128")]
    pub ctime_ns: i128,
    /// Inode number of the source (0 where the platform has none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inode: u64,
    /// Device number of the source's file system (0 where the platform has none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dev: u64,
    /// BLAKE3 of the content as stored in the backup (files and databases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<Hash>,
    /// How it got into the backup.
    pub stored: Stored,
    /// Unix permission bits of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Where a symlink points, as written in the link (escaped like `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i128(n: &i128) -> bool {
    *n == 0
}

/// Why an entry of the source is not in a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SkipKind {
    /// It could not be read (permissions, an I/O error): the backup is partial.
    Unreadable,
    /// A FIFO, socket or device: it holds no data to back up. Not a problem.
    Special,
    /// The destination cannot store it (a symlink on exFAT, a name it refuses): the
    /// backup is partial.
    Unstorable,
}

/// An entry of the source left out of a backup, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Skipped {
    /// Relative path, escaped like [`FileEntry::path`].
    pub path: String,
    /// Why, in one word.
    pub kind: SkipKind,
    /// Why, in words: "permission denied", "a FIFO (named pipe)".
    pub reason: String,
}

impl Skipped {
    /// Whether this entry makes the backup partial (data that should be there is not).
    pub fn is_problem(&self) -> bool {
        self.kind != SkipKind::Special
    }
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
    /// Relative path, in the manifest's escaped form (see [`encode_rel`]).
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
    /// Regular files (databases not counted).
    pub files: u64,
    /// Folders.
    pub dirs: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Databases copied through SQLite.
    pub databases: u64,
    /// Bytes of files and databases in the backup.
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
    /// Files and databases in it.
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
    /// Increasing per destination: the order of backups that does not trust the wall
    /// clock (0 in manifests written before it existed).
    #[serde(default)]
    pub sequence: u64,
    /// Entries left out, with the reason: unreadable ones make the backup partial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// Included items that are symlinks, followed: item -> where it pointed (escaped).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub item_links: std::collections::BTreeMap<String, String>,
    /// Every file, folder, symlink and database, parents before children.
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

    /// Whether some entries that hold data could not be backed up.
    pub fn is_partial(&self) -> bool {
        self.skipped.iter().any(Skipped::is_problem)
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
        for (item, target) in &self.item_links {
            let _ = writeln!(s, "{item} is a symlink to {target}: its contents are backed up under {item}");
        }
        let problems: Vec<&Skipped> = self.skipped.iter().filter(|k| k.is_problem()).collect();
        if !problems.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "PARTIAL BACKUP: {} item(s) not backed up", problems.len());
            let _ = writeln!(s, "------------------------------------------");
            for k in &problems {
                let _ = writeln!(s, "- {}: {}", k.path, k.reason);
            }
        }
        let special: Vec<&Skipped> = self.skipped.iter().filter(|k| !k.is_problem()).collect();
        if !special.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "Special files left out (they hold no data)");
            let _ = writeln!(s, "------------------------------------------");
            for k in &special {
                let _ = writeln!(s, "- {}: {}", k.path, k.reason);
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

/// A relative path as the manifest writes it: components joined by `/`; valid UTF-8
/// kept as is except that `\` is written `\\`; every byte that is not part of valid
/// UTF-8 written `\xNN` (two lowercase hex digits). Lossless for any name the OS allows,
/// and the identity for ordinary names. On Windows the bytes are the OS string's
/// WTF-8 encoding.
pub fn encode_rel(rel: &Path) -> String {
    let mut out = String::new();
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_bytes_into(c.as_os_str().as_encoded_bytes(), &mut out);
    }
    out
}

/// Escapes one name or link target (see [`encode_rel`]); `/` inside is kept.
pub fn encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    encode_bytes_into(bytes, &mut out);
    out
}

fn encode_bytes_into(mut bytes: &[u8], out: &mut String) {
    while !bytes.is_empty() {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (ok, bad) = bytes.split_at(e.valid_up_to());
                // SAFETY-free: `ok` is valid UTF-8 by `valid_up_to`.
                (std::str::from_utf8(ok).unwrap_or_default(), bad)
            }
        };
        for ch in valid.chars() {
            if ch == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(ch);
            }
        }
        if let Some((&b, more)) = rest.split_first() {
            let _ = write!(out, "\\x{b:02x}");
            bytes = more;
        } else {
            bytes = rest;
        }
    }
}

/// The bytes an escaped name or path stands for; `None` for a malformed escape.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next()? {
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hi = (it.next()? as char).to_digit(16)?;
                let lo = (it.next()? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The relative path an escaped manifest path stands for; `None` for a malformed
/// escape, or bytes that are no OS string here.
pub fn decode_rel(s: &str) -> Option<PathBuf> {
    let bytes = decode_bytes(s)?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes).ok().map(PathBuf::from)
    }
}

/// `base` joined with the escaped relative path `rel`; `None` when `rel` is malformed.
pub fn join_rel(base: &Path, rel: &str) -> Option<PathBuf> {
    decode_rel(rel).map(|r| base.join(r))
}

/// Why a manifest path may not be used, if it may not: empty, absolute, with `..`, or
/// a malformed escape.
pub fn unsafe_path(rel: &str) -> Option<&'static str> {
    let Some(decoded) = decode_rel(rel) else { return Some("malformed escape") };
    if decoded.components().any(|c| !matches!(c, std::path::Component::Normal(_))) && !rel.is_empty() {
        return Some(if decoded.has_root() { "absolute path" } else { "contains `..`" });
    }
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
    fn escaped_names_round_trip() {
        for raw in
            [&b"caf\xe9.wav"[..], b"a\\b.wav", b"plain name.wav", b"\xe2\x82", b"caf\\xe9.txt", "niño".as_bytes()]
        {
            let enc = encode_bytes(raw);
            assert_eq!(decode_bytes(&enc).as_deref(), Some(raw), "{enc}");
        }
        assert_eq!(encode_bytes(b"caf\xe9.wav"), "caf\\xe9.wav");
        assert_eq!(encode_bytes(b"a\\b"), "a\\\\b");
        assert_eq!(encode_bytes("niño".as_bytes()), "niño");
        assert_eq!(decode_bytes("bad\\q"), None);
        assert_eq!(unsafe_path("a/\\x2e\\x2e/b"), Some("contains `..`"));
    }

    #[test]
    fn item_membership() {
        assert!(in_item("audio_files/a.wav", "audio_files"));
        assert!(in_item("audio_files", "audio_files"));
        assert!(!in_item("audio_files2/a.wav", "audio_files"));
        assert!(in_item("anything", ""));
    }
}
