//! What a restore will do, worked out before anything changes. The [`Plan`] is what
//! runs: the preview shows its summary, and the restore executes the same plan, so the
//! two cannot disagree; the manifest is read once, here.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog;
use crate::config::{resolve_lexically, Profile};
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::manifest::{encode_rel, in_item, join_rel, unsafe_path, EntryKind, Manifest};
use crate::selection::Selection;
use crate::sqlite;

/// What a restore would change, counted against the live data.
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
    /// Files the same as in the backup.
    pub unchanged: u64,
    /// Databases that will be replaced, relative to the source.
    pub databases: Vec<String>,
    /// The items restored, relative to the source.
    pub items: Vec<String>,
}

/// A loaded backup, checked and ready to restore.
pub(super) struct Plan {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub items: Vec<String>,
    pub selection: Selection,
}

impl Plan {
    /// Reads the manifest of `name` and refuses any unsafe path in it.
    pub fn load(profile: &Profile, name: &str) -> Result<Plan> {
        let dir = catalog::backup_dir(&profile.destination, name)?;
        let manifest = Manifest::read(&dir)?;
        let items = items_of(&manifest);
        check_paths(&dir, &manifest, &items, profile)?;
        Ok(Plan { dir, manifest, items, selection: Selection::new(profile)? })
    }

    /// Where item `item` (escaped) lives now. An item the backup followed as a symlink
    /// is restored into where the live link points, and the link stays; otherwise the
    /// item's own path in the source.
    pub fn live_path(&self, item: &str) -> PathBuf {
        let source = self.selection.source();
        let live = join_rel(source, item).unwrap_or_else(|| source.join(item));
        if self.manifest.item_links.contains_key(item) && fs::symlink_metadata(&live).is_ok_and(|m| m.is_symlink()) {
            if let Ok(target) = fs::canonicalize(&live) {
                return target;
            }
        }
        live
    }

    /// Where the manifest entry `rel` (escaped) lives now: under its item's live path.
    pub fn live_entry(&self, rel: &str) -> PathBuf {
        let source = self.selection.source();
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
            None => join_rel(source, rel).unwrap_or_else(|| source.join(rel)),
        }
    }

    /// Counts what the restore would change against the live data. Changes nothing.
    pub fn summary(&self, name: &str) -> Result<RestorePlan> {
        let m = &self.manifest;
        let mut plan = RestorePlan {
            name: name.to_string(),
            put_back: 0,
            bring_back: 0,
            remove: 0,
            unchanged: 0,
            databases: m.databases.iter().map(|d| d.path.clone()).collect(),
            items: self.items.clone(),
        };
        for f in m.files.iter().filter(|f| f.kind == EntryKind::File) {
            let live = self.live_entry(&f.path);
            match fs::symlink_metadata(&live) {
                Ok(meta) if meta.is_file() && meta.len() == f.size => {
                    let same = fsx::mtime_ns(&meta) == f.mtime_ns
                        || fsx::hash_file(&live).ok().map(crate::manifest::Hash) == f.blake3;
                    if same {
                        plan.unchanged += 1;
                    } else {
                        plan.put_back += 1;
                    }
                }
                Ok(_) => plan.put_back += 1,
                Err(_) => plan.bring_back += 1,
            }
        }
        self.for_each_live_extra(|_| plan.remove += 1)?;
        for added in self.top_level_additions()? {
            plan.remove += count_files(&added);
        }
        Ok(plan)
    }

    /// For a whole-source backup: the top-level entries of the source added since (not in
    /// the backup, not excluded, not a database companion, not Lifeboat's own leftovers,
    /// not the destination).
    pub fn top_level_additions(&self) -> Result<Vec<PathBuf>> {
        if !self.manifest.include.is_empty() {
            return Ok(Vec::new());
        }
        let source = self.selection.source();
        let keep: HashSet<&str> = self.items.iter().map(String::as_str).collect();
        let mut out = Vec::new();
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
            out.push(entry.path());
        }
        Ok(out)
    }

    /// Calls `f` for each live file under the items that the backup does not hold (files
    /// added since), leaving out database companions and what the selection skips.
    pub fn for_each_live_extra(&self, mut f: impl FnMut(&Path)) -> Result<()> {
        let listed: HashSet<&str> = self.manifest.files.iter().map(|f| f.path.as_str()).collect();
        for item in &self.items {
            let root = self.live_path(item);
            if fs::symlink_metadata(&root).is_err() {
                continue;
            }
            for entry in self.selection.walk(&root, false) {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&root).to_path_buf();
                    let cause = e.into_io_error().unwrap_or_else(|| std::io::Error::other("a folder loop"));
                    Error::io("read", path, cause)
                })?;
                if entry.file_type().is_dir() {
                    continue;
                }
                let Ok(rest) = entry.path().strip_prefix(&root) else { continue };
                let rel =
                    if rest.as_os_str().is_empty() { item.clone() } else { format!("{item}/{}", encode_rel(rest)) };
                if listed.contains(rel.as_str()) || sqlite::companion_of(&rel).is_some_and(|db| listed.contains(db)) {
                    continue;
                }
                f(entry.path());
            }
        }
        Ok(())
    }
}

/// The backup's items: its include list, or every top-level entry it holds.
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
        let live = join_rel(&profile.source, item).unwrap_or_else(|| profile.source.join(item));
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
