//! What a restore will do, worked out before anything changes. The [`Plan`] is what
//! runs: the preview shows its summary, and the restore executes the same list of
//! changes, so the two cannot disagree; the manifest is read once, here.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog;
use crate::config::{resolve_lexically, Profile};
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::is_restore_leftover;
use crate::manifest::{
    decode_rel, encode_bytes, encode_rel, in_item, join_rel, unsafe_path, EntryKind, FileEntry, Hash, Manifest,
};
use crate::selection::Selection;
use crate::sqlite;

/// What to restore: a backup, optionally only some paths, optionally into another folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RestoreRequest {
    /// The backup's folder name.
    pub name: String,
    /// Paths relative to the source, as `ls` shows them (escaped); empty: everything.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Write into this empty folder instead of the live data, which stays untouched.
    #[serde(default)]
    pub to: Option<PathBuf>,
}

impl RestoreRequest {
    /// The whole backup `name`, in place.
    pub fn all(name: &str) -> RestoreRequest {
        RestoreRequest { name: name.to_string(), paths: Vec::new(), to: None }
    }
}

/// What a restore would change, counted against the live data (or the `--to` folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RestorePlan {
    /// The backup restored from.
    pub name: String,
    /// Files that changed since the backup: put back.
    pub put_back: u64,
    /// Files deleted since the backup: brought back.
    pub bring_back: u64,
    /// Files added since the backup: removed (kept in the safety snapshot).
    pub remove: u64,
    /// Files the same as in the backup: not touched.
    pub unchanged: u64,
    /// Databases that will be replaced (through SQLite when live), relative to the source.
    pub databases: Vec<String>,
    /// The items restored, relative to the source.
    pub items: Vec<String>,
    /// The paths restored; empty: everything in the backup.
    pub paths: Vec<String>,
    /// The folder written into instead of the live data, if any.
    pub to: Option<PathBuf>,
    /// What will and will not be touched, in one sentence.
    pub scope: String,
}

/// How an entry of a backup compares with the live data now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// The same as in the backup.
    Same,
    /// Present, but different from the backup.
    Changed,
    /// In the backup, gone from the live data.
    Deleted,
    /// In the live data, not in the backup.
    New,
}

/// One step of a restore.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// Make the folder (removing a file or link in its way).
    MakeDir { live: PathBuf },
    /// Put a file or link back: `existed` tells a changed one from a deleted one.
    Put { entry: usize, live: PathBuf, existed: bool },
    /// Put a database back (through SQLite into a live database).
    Database { entry: usize, live: PathBuf },
    /// Remove what was added since (a file, link or whole folder).
    Remove { live: PathBuf, files: u64 },
}

/// A loaded backup, checked, with the changes a restore makes.
pub(super) struct Plan {
    pub request: RestoreRequest,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub items: Vec<String>,
    pub selection: Selection,
}

impl Plan {
    /// Reads the manifest of the requested backup, refuses any unsafe path in it, and
    /// checks the requested paths and `--to` folder.
    pub fn load(profile: &Profile, request: &RestoreRequest) -> Result<Plan> {
        let dir = catalog::backup_dir(&profile.destination, &request.name)?;
        let manifest = Manifest::read(&dir)?;
        let items = items_of(&manifest);
        check_paths(&dir, &manifest, &items, profile)?;
        let plan = Plan { request: request.clone(), dir, manifest, items, selection: Selection::new(profile)? };
        for p in &plan.request.paths {
            if !plan.manifest.files.iter().any(|e| e.path == *p) {
                return Err(Error::Selection {
                    path: PathBuf::from(p),
                    message: format!(
                        "is not in backup {}{}",
                        request.name,
                        nearest(&plan.manifest, p).map(|n| format!(" — did you mean: {n}?")).unwrap_or_default()
                    ),
                });
            }
        }
        if let Some(to) = &plan.request.to {
            check_to(to, profile)?;
        }
        Ok(plan)
    }

    /// Whether the entry `rel` is restored.
    pub fn selected(&self, rel: &str) -> bool {
        self.request.paths.is_empty() || self.request.paths.iter().any(|p| in_item(rel, p))
    }

    /// Whether the folder `rel` leads to a selected path (made if missing, else left alone).
    fn leads_to_selected(&self, rel: &str) -> bool {
        self.request.paths.iter().any(|p| p != rel && in_item(p, rel))
    }

    /// Where item `item` (escaped) is written. With `--to`, under that folder; in place,
    /// an item the backup followed as a symlink is restored into where the live link
    /// points (the link stays); otherwise the item's own path in the source.
    pub fn live_path(&self, item: &str) -> PathBuf {
        if let Some(to) = &self.request.to {
            return join_rel(to, item).unwrap_or_else(|| to.join(item));
        }
        let source = self.selection.source();
        let live = join_rel(source, item).unwrap_or_else(|| source.join(item));
        if self.manifest.item_links.contains_key(item) && fs::symlink_metadata(&live).is_ok_and(|m| m.is_symlink()) {
            if let Ok(target) = fs::canonicalize(&live) {
                return target;
            }
        }
        live
    }

    /// Where the manifest entry `rel` (escaped) is written: under its item's live path.
    pub fn live_entry(&self, rel: &str) -> PathBuf {
        match self.items.iter().find(|i| in_item(rel, i)) {
            Some(item) => {
                let rest = rel[item.len()..].trim_start_matches('/');
                let base = self.live_path(item);
                if rest.is_empty() {
                    base
                } else {
                    join_rel(&base, rest).unwrap_or_else(|| base.join(rest))
                }
            }
            None => self.live_path(rel),
        }
    }

    /// How the entry compares with what is at its live path now.
    pub fn state_of(&self, e: &FileEntry) -> EntryState {
        let live = self.live_entry(&e.path);
        let Ok(meta) = fs::symlink_metadata(&live) else { return EntryState::Deleted };
        let same = match e.kind {
            EntryKind::Dir => meta.is_dir(),
            EntryKind::Symlink => {
                meta.file_type().is_symlink()
                    && fs::read_link(&live).ok().map(|t| encode_bytes(t.as_os_str().as_encoded_bytes())) == e.target
            }
            EntryKind::File | EntryKind::Database => meta.is_file() && same_content(e, &live, &meta),
        };
        if same {
            EntryState::Same
        } else {
            EntryState::Changed
        }
    }

    /// Whether the live database at `live` is still as the backup found it: its
    /// [`sqlite::fingerprint`] (size and mtime of the file and its `-wal`) equals the one
    /// the backup recorded, so nothing was committed since and there is nothing to put
    /// back. The same rule lets a backup link an unchanged database.
    fn database_unchanged(&self, path: &str, live: &Path) -> bool {
        self.manifest.databases.iter().any(|d| d.path == path && d.source_fingerprint == sqlite::fingerprint(live))
    }

    /// Every change the restore makes, in the order it makes them: folders before what
    /// is inside them, then removals.
    pub fn changes(&self) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        for (i, e) in self.manifest.files.iter().enumerate() {
            let needed = self.selected(&e.path) || (e.kind == EntryKind::Dir && self.leads_to_selected(&e.path));
            if !needed {
                continue;
            }
            let live = self.live_entry(&e.path);
            let meta = fs::symlink_metadata(&live).ok();
            match e.kind {
                EntryKind::Dir => {
                    if !meta.as_ref().is_some_and(|m| m.is_dir()) {
                        out.push(Change::MakeDir { live });
                    }
                }
                EntryKind::Database if self.request.to.is_none() && meta.is_some() => {
                    if !self.database_unchanged(&e.path, &live) {
                        out.push(Change::Database { entry: i, live });
                    }
                }
                _ => {
                    let existed = meta.is_some();
                    if !existed || self.state_of(e) != EntryState::Same {
                        out.push(Change::Put { entry: i, live, existed });
                    }
                }
            }
        }
        if self.request.to.is_none() {
            self.for_each_addition(|live, files| out.push(Change::Remove { live: live.to_path_buf(), files }))?;
        }
        Ok(out)
    }

    /// Counts the changes. Changes nothing.
    pub fn summary(&self, changes: &[Change]) -> RestorePlan {
        let m = &self.manifest;
        let mut plan = RestorePlan {
            name: self.request.name.clone(),
            put_back: 0,
            bring_back: 0,
            remove: 0,
            unchanged: 0,
            databases: Vec::new(),
            items: self.items.clone(),
            paths: self.request.paths.clone(),
            to: self.request.to.clone(),
            scope: String::new(),
        };
        let mut touched = HashSet::new();
        for c in changes {
            match c {
                Change::Put { entry, existed, .. } if m.files[*entry].kind != EntryKind::Dir => {
                    touched.insert(*entry);
                    if m.files[*entry].kind == EntryKind::Database {
                        plan.databases.push(m.files[*entry].path.clone());
                    }
                    if *existed {
                        plan.put_back += 1;
                    } else {
                        plan.bring_back += 1;
                    }
                }
                Change::Database { entry, .. } => {
                    touched.insert(*entry);
                    plan.databases.push(m.files[*entry].path.clone());
                }
                Change::Remove { files, .. } => plan.remove += files,
                _ => {}
            }
        }
        plan.unchanged = m
            .files
            .iter()
            .enumerate()
            .filter(|(i, e)| e.kind == EntryKind::File && self.selected(&e.path) && !touched.contains(i))
            .count() as u64;
        plan.scope = match (&self.request.to, self.request.paths.as_slice()) {
            (Some(to), []) => format!("the whole backup into {}; the live data is not touched", to.display()),
            (Some(to), paths) => {
                format!("only {} into {}; the live data is not touched", paths.join(", "), to.display())
            }
            (None, []) => "everything in the backup, in place; a safety snapshot is taken first".into(),
            (None, paths) => format!(
                "only {} in place; everything else stays as it is; a safety snapshot is taken first",
                paths.join(", ")
            ),
        };
        plan
    }

    /// Calls `f` with each live entry added since the backup under what is restored (a
    /// file or link, or the top of a whole folder that was added), and its file count;
    /// database companions, excluded paths and restore leftovers are left alone.
    fn for_each_addition(&self, mut f: impl FnMut(&Path, u64)) -> Result<()> {
        let listed: HashSet<&str> = self.manifest.files.iter().map(|e| e.path.as_str()).collect();
        let roots: Vec<String> =
            if self.request.paths.is_empty() { self.items.clone() } else { self.request.paths.clone() };
        for rel in roots {
            if !self.manifest.files.iter().any(|e| e.path == rel && e.kind == EntryKind::Dir) {
                continue;
            }
            let root = self.live_entry(&rel);
            if !fs::symlink_metadata(&root).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let mut walk = walkdir::WalkDir::new(&root).follow_links(false).min_depth(1).into_iter();
            while let Some(entry) = walk.next() {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&root).to_path_buf();
                    let cause = e.into_io_error().unwrap_or_else(|| std::io::Error::other("a folder loop"));
                    Error::io("read", path, cause)
                })?;
                let rest = entry.path().strip_prefix(&root).unwrap_or(entry.path());
                let entry_rel = format!("{rel}/{}", encode_rel(rest));
                let in_source = entry.path().strip_prefix(self.selection.source()).unwrap_or(rest);
                let name = entry.file_name().to_string_lossy();
                let skip = is_restore_leftover(&name)
                    || self.selection.skips(in_source)
                    || sqlite::companion_of(&entry_rel).is_some_and(|db| listed.contains(db));
                if listed.contains(entry_rel.as_str()) {
                    continue;
                }
                if entry.file_type().is_dir() {
                    walk.skip_current_dir();
                }
                if !skip {
                    f(entry.path(), count_files(entry.path()));
                }
            }
        }
        // Whole-source backups: top-level entries of the source added since go too.
        if self.manifest.include.is_empty() && self.request.paths.is_empty() {
            let source = self.selection.source();
            let keep: HashSet<&str> = self.items.iter().map(String::as_str).collect();
            for entry in fs::read_dir(source).at("read", source)? {
                let entry = entry.at("read", source)?;
                let name = entry.file_name();
                let n = encode_rel(Path::new(&name));
                let companion = sqlite::companion_of(&n).is_some_and(|db| keep.contains(db));
                if keep.contains(n.as_str())
                    || companion
                    || self.selection.skips(Path::new(&name))
                    || self.selection.is_destination(&entry.path())
                {
                    continue;
                }
                f(&entry.path(), count_files(&entry.path()));
            }
        }
        Ok(())
    }
}

/// Whether the live file at `live` holds what `e` recorded: its recorded identity (size,
/// mtime, ctime, inode, device: nothing touched it since the backup read it), or else
/// the same size and BLAKE3 hash.
fn same_content(e: &FileEntry, live: &Path, meta: &fs::Metadata) -> bool {
    if meta.len() != e.size {
        return false;
    }
    let id = fsx::file_id(meta);
    if e.ctime_ns != 0 && fsx::mtime_ns(meta) == e.mtime_ns && id.ctime_ns == e.ctime_ns && id.inode == e.inode {
        return true;
    }
    fsx::hash_file(live).ok().map(Hash) == e.blake3
}

/// The entries of `m` whose names are closest to the missing path `p`: those in the same
/// folder, by edit distance (at most 5).
fn nearest(m: &Manifest, p: &str) -> Option<String> {
    let parent = p.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut candidates: Vec<(f64, &str)> = m
        .files
        .iter()
        .filter(|e| e.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("") == parent)
        .map(|e| (strsim::normalized_levenshtein(&e.path, p), e.path.as_str()))
        .collect();
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    let names: Vec<&str> = candidates.iter().take(5).map(|(_, n)| *n).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// Refuses a restore folder `to` (absolute) inside `profile`'s backup destination (it
/// would sit among the backups) or its source (the next backup would take the copy in).
///
/// # Errors
/// [`Error::Selection`] naming `to` and which of the two it is inside.
pub fn check_outside(to: &Path, profile: &Profile) -> Result<()> {
    let refuse = |message: &str| Error::Selection { path: to.to_path_buf(), message: message.into() };
    let resolved = resolve_lexically(to);
    if resolved.starts_with(resolve_lexically(&profile.destination)) {
        return Err(refuse("is inside the backup destination — choose a folder elsewhere"));
    }
    if resolved.starts_with(resolve_lexically(&profile.source)) {
        return Err(refuse("is inside the source — choose a folder elsewhere, or restore in place"));
    }
    Ok(())
}

/// `--to` must be an empty (or new, in an existing parent) folder outside the source and
/// the destination.
fn check_to(to: &Path, profile: &Profile) -> Result<()> {
    let refuse = |message: &str| Error::Selection { path: to.to_path_buf(), message: message.into() };
    if !to.is_absolute() {
        return Err(refuse("is not an absolute path"));
    }
    check_outside(to, profile)?;
    match fs::read_dir(to) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(refuse("is not empty — choose an empty or new folder"));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !to.parent().is_some_and(Path::is_dir) {
                return Err(refuse("does not exist, and neither does its parent folder"));
            }
        }
        Err(e) => return Err(Error::io("read", to, e)),
    }
    Ok(())
}

/// The backup's items: its include list, or every top-level entry it holds (escaped).
fn items_of(m: &Manifest) -> Vec<String> {
    if m.include.is_empty() {
        m.items.iter().map(|i| i.item.clone()).collect()
    } else {
        m.include.iter().map(|i| encode_rel(Path::new(i.trim_end_matches('/')))).collect()
    }
}

/// Refuses manifest paths that are absolute, contain `..`, pass through a symlink the
/// backup itself creates, or lie outside the backup's items; and live parents of items
/// that are symlinks leading out of the source.
fn check_paths(backup: &Path, m: &Manifest, items: &[String], profile: &Profile) -> Result<()> {
    let refuse = |entry: &str, why: &'static str| Error::UnsafePath {
        backup: backup.to_path_buf(),
        entry: entry.to_string(),
        why,
    };
    for item in items {
        if let Some(why) = unsafe_path(item) {
            return Err(refuse(item, why));
        }
    }
    let links: HashSet<&str> =
        m.files.iter().filter(|f| f.kind == EntryKind::Symlink).map(|f| f.path.as_str()).collect();
    for f in m.files.iter().map(|f| f.path.as_str()).chain(m.databases.iter().map(|d| d.path.as_str())) {
        if let Some(why) = unsafe_path(f) {
            return Err(refuse(f, why));
        }
        if !items.iter().any(|i| in_item(f, i)) {
            return Err(refuse(f, "outside the backed-up items"));
        }
        let mut prefix = String::new();
        for part in f.split('/').take(f.split('/').count() - 1) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if links.contains(prefix.as_str()) {
                return Err(refuse(f, "would write through a symlink"));
            }
        }
    }
    let source = resolve_lexically(&profile.source);
    for item in items {
        let live = profile.source.join(decode_rel(item).unwrap_or_default());
        let parent = live.parent().unwrap_or(&profile.source);
        if !resolve_lexically(parent).starts_with(&source) {
            return Err(refuse(item, "would write through a symlink outside the source"));
        }
    }
    Ok(())
}

/// Files (and links) in a tree, counted as a restore removes them.
fn count_files(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .follow_root_links(false)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .count() as u64
}
