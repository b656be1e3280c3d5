//! The one rule for what belongs to a backup, compiled once per run and used on both
//! sides: by the backup's scan, by restore's plan (what to put back, what to remove,
//! what to carry over) and by the change check.
//!
//! An entry of the source belongs to the backup when it is inside an included item (or
//! anywhere in the source when `include` is empty), and neither it nor any folder above
//! it matches an `exclude` glob (matched against the path relative to the source and
//! against the name alone), and it is not a leftover of an interrupted restore. SQLite's
//! `-wal`/`-shm`/`-journal` companions of a database are never entries of their own.

use std::fs;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::{resolve_lexically, Profile};
use crate::error::{Error, IoContext, Result};
use crate::layout::is_restore_leftover;
use crate::manifest::encode_rel;

/// A profile's selection, compiled.
#[derive(Debug, Clone)]
pub struct Selection {
    source: PathBuf,
    include: Vec<String>,
    excludes: GlobSet,
    destination: PathBuf,
}

impl Selection {
    /// Compiles the selection of `profile`.
    ///
    /// # Errors
    /// [`Error::Setting`] (field `exclude`) for a glob that does not compile.
    pub fn new(profile: &Profile) -> Result<Selection> {
        let mut b = GlobSetBuilder::new();
        for g in &profile.exclude {
            b.add(Glob::new(g).map_err(|e| Error::setting("exclude", format!("exclude pattern \"{g}\": {e}")))?);
        }
        let excludes = b.build().map_err(|e| Error::setting("exclude", format!("exclude patterns: {e}")))?;
        Ok(Selection {
            source: profile.source.clone(),
            include: profile.include.iter().map(|i| i.trim_end_matches('/').to_string()).collect(),
            excludes,
            destination: resolve_lexically(&profile.destination),
        })
    }

    /// The source folder.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The included items, relative to the source, in the manifest's escaped form
    /// ([`encode_rel`]): the `include` list, or every top-level entry of the source that
    /// belongs to the backup, sorted.
    ///
    /// # Errors
    /// The source cannot be read.
    pub fn items(&self) -> Result<Vec<String>> {
        if !self.include.is_empty() {
            return Ok(self.include.iter().map(|i| encode_rel(Path::new(i))).collect());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.source).at("read source", &self.source)? {
            let entry = entry.at("read source", &self.source)?;
            let name = entry.file_name();
            if !self.skips(Path::new(&name)) && !self.is_destination(&entry.path()) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names.iter().map(|n| encode_rel(Path::new(n))).collect())
    }

    /// Whether an item that is itself a symlink is followed: items the user included by
    /// name are (their contents are backed up under the item's name); the top-level
    /// entries of a whole-source backup are stored as they are.
    pub fn follows_item_links(&self) -> bool {
        !self.include.is_empty()
    }

    /// Whether `rel` (relative to the source) is left out: it or a folder above it
    /// matches an exclude glob, or it is a restore leftover.
    pub fn skips(&self, rel: &Path) -> bool {
        rel.file_name().and_then(|n| n.to_str()).is_some_and(is_restore_leftover) || self.excluded(rel)
    }

    /// Whether `rel` is excluded by a glob (and so kept out of every backup, and carried
    /// over, untouched, by a restore).
    pub fn excluded(&self, rel: &Path) -> bool {
        !self.excludes.is_empty()
            && rel
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .any(|a| self.excludes.is_match(a) || a.file_name().is_some_and(|n| self.excludes.is_match(n)))
    }

    /// Whether `path` is the destination or inside it (a whole-source profile never
    /// backs up its own backups, even through a symlink).
    pub fn is_destination(&self, path: &Path) -> bool {
        resolve_lexically(path).starts_with(&self.destination)
    }

    /// Walks the item `root` (an absolute path inside the source) without following
    /// symlinks, parents before children, names sorted, never descending into what
    /// [`Selection::skips`]. The root itself is always yielded.
    /// With `follow_root`, a root that is a symlink is walked as the folder (or file) it
    /// points to; links below it are never followed, so a loop cannot recurse.
    pub fn walk<'a>(
        &'a self,
        root: &Path,
        follow_root: bool,
    ) -> impl Iterator<Item = walkdir::Result<walkdir::DirEntry>> + 'a {
        walkdir::WalkDir::new(root)
            .follow_links(false)
            .follow_root_links(follow_root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(move |e| {
                e.depth() == 0 || !self.skips(e.path().strip_prefix(&self.source).unwrap_or(e.path()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(exclude: &[&str]) -> Selection {
        let mut p = Profile::new("T", "/data/app", "/backups/app");
        p.exclude = exclude.iter().map(|s| s.to_string()).collect();
        Selection::new(&p).unwrap()
    }

    #[test]
    fn a_folder_excluded_excludes_what_is_inside() {
        let s = selection(&["cache", "*.tmp"]);
        assert!(s.skips(Path::new("audio/cache")));
        assert!(s.skips(Path::new("audio/cache/a.wav")));
        assert!(s.skips(Path::new("audio/x.tmp")));
        assert!(!s.skips(Path::new("audio/a.wav")));
        assert!(s.skips(Path::new("audio/.a.wav.lifeboat-restore")));
    }

    #[test]
    fn a_bad_glob_is_a_setting_error_not_dropped() {
        let mut p = Profile::new("T", "/data/app", "/backups/app");
        p.exclude = vec!["a[".into()];
        assert!(matches!(Selection::new(&p), Err(Error::Setting { field: "exclude", .. })));
    }
}
