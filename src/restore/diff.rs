//! What changed between a backup and the live data, or between two backups: files
//! added, removed and changed, and per database the rows of each table then and now.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::plan::{Change, EntryState, Plan, RestoreRequest};
use crate::catalog;
use crate::config::Profile;
use crate::error::Result;
use crate::manifest::{EntryKind, FileEntry, Manifest};
use crate::sqlite;

/// What changed from one state (a backup) to another (a later backup, or the live data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Diff {
    /// The backup compared from.
    pub from: String,
    /// The backup compared to, or `None` for the live data.
    pub to: Option<String>,
    /// Files (and links) present now that the backup does not hold: new since.
    pub added: Vec<String>,
    /// Files in the backup that are gone now: deleted since.
    pub removed: Vec<String>,
    /// Files present in both whose content differs.
    pub changed: Vec<String>,
    /// Rows per table of every database, then and now.
    pub databases: Vec<DatabaseDiff>,
}

/// One database's tables, then and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DatabaseDiff {
    /// Relative path, escaped.
    pub path: String,
    /// Each table in either state.
    pub tables: Vec<TableDiff>,
}

/// Rows of one table then and now (`None`: the table, or the database, is not there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TableDiff {
    /// The table's name.
    pub name: String,
    /// Rows in the older state.
    pub then: Option<u64>,
    /// Rows in the newer state.
    pub now: Option<u64>,
}

fn is_file(e: &FileEntry) -> bool {
    matches!(e.kind, EntryKind::File | EntryKind::Symlink)
}

/// Backup `name` against the live data.
pub fn against_live(profile: &Profile, name: &str) -> Result<Diff> {
    let plan = Plan::load(profile, &RestoreRequest::all(name))?;
    let mut diff =
        Diff { from: name.into(), to: None, added: vec![], removed: vec![], changed: vec![], databases: vec![] };
    for e in plan.manifest.files.iter().filter(|e| is_file(e)) {
        match plan.state_of(e) {
            EntryState::Deleted => diff.removed.push(e.path.clone()),
            EntryState::Changed => diff.changed.push(e.path.clone()),
            _ => {}
        }
    }
    for c in plan.changes()? {
        if let Change::Remove { live, .. } = c {
            let rel = live.strip_prefix(plan.selection.source()).unwrap_or(&live);
            diff.added.push(crate::manifest::encode_rel(rel));
        }
    }
    for db in &plan.manifest.databases {
        let live = plan.live_entry(&db.path);
        let now = sqlite::row_counts(&live).ok();
        diff.databases.push(DatabaseDiff { path: db.path.clone(), tables: tables(Some(&db.tables), now.as_deref()) });
    }
    diff.added.sort();
    Ok(diff)
}

/// Backup `from` against the later backup `to` in the same destination.
pub fn between(profile: &Profile, from: &str, to: &str) -> Result<Diff> {
    let read = |n: &str| catalog::backup_dir(&profile.destination, n).and_then(|d| Manifest::read(&d));
    let (a, b) = (read(from)?, read(to)?);
    let index = |m: &Manifest| -> HashMap<String, FileEntry> {
        m.files
            .iter()
            .filter(|e| is_file(e) || e.kind == EntryKind::Database)
            .map(|e| (e.path.clone(), e.clone()))
            .collect()
    };
    let (old, new) = (index(&a), index(&b));
    let mut diff = Diff {
        from: from.into(),
        to: Some(to.into()),
        added: vec![],
        removed: vec![],
        changed: vec![],
        databases: vec![],
    };
    for (path, e) in &new {
        match old.get(path) {
            None => diff.added.push(path.clone()),
            Some(o) if o.blake3 != e.blake3 || o.target != e.target || o.size != e.size => {
                diff.changed.push(path.clone())
            }
            Some(_) => {}
        }
    }
    diff.removed = old.keys().filter(|p| !new.contains_key(*p)).cloned().collect();
    let mut dbs: BTreeMap<&str, (Option<&_>, Option<&_>)> = BTreeMap::new();
    for d in &a.databases {
        dbs.entry(d.path.as_str()).or_default().0 = Some(&d.tables);
    }
    for d in &b.databases {
        dbs.entry(d.path.as_str()).or_default().1 = Some(&d.tables);
    }
    for (path, (then, now)) in dbs {
        diff.databases.push(DatabaseDiff {
            path: path.to_string(),
            tables: tables(then.map(Vec::as_slice), now.map(Vec::as_slice)),
        });
    }
    diff.added.sort();
    diff.removed.sort();
    diff.changed.sort();
    Ok(diff)
}

fn tables(then: Option<&[crate::manifest::TableInfo]>, now: Option<&[crate::manifest::TableInfo]>) -> Vec<TableDiff> {
    let mut all: BTreeMap<String, TableDiff> = BTreeMap::new();
    for t in then.unwrap_or_default() {
        all.entry(t.name.clone()).or_insert(TableDiff { name: t.name.clone(), then: None, now: None }).then =
            Some(t.rows);
    }
    for t in now.unwrap_or_default() {
        all.entry(t.name.clone()).or_insert(TableDiff { name: t.name.clone(), then: None, now: None }).now =
            Some(t.rows);
    }
    all.into_values().collect()
}
