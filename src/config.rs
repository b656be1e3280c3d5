//! The config file: load, validate with clear errors, save.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::layout::{INFO_FILE, MANIFEST_FILE};

/// Hours between scheduled backups when the config does not say.
pub const DEFAULT_EVERY_HOURS: f64 = 12.0;
/// The longest interval accepted: a year, in hours.
pub const MAX_EVERY_HOURS: f64 = 24.0 * 366.0;
/// Backups kept when the config does not say.
pub const DEFAULT_KEEP: usize = 2;
/// Seconds a hook may run when the config does not say.
pub const DEFAULT_HOOK_TIMEOUT_SECS: u64 = 300;

/// The whole config file: app-wide settings and one or more profiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Notify after every successful backup, not only on failure.
    #[serde(default, skip_serializing_if = "is_false")]
    pub notify_on_success: bool,
    #[serde(default, rename = "profile")]
    /// The profiles, in file order (`[[profile]]`).
    pub profiles: Vec<Profile>,
}

/// One application's data and where its backups go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in the window, the tray and `--profile`; unique in a config.
    pub name: String,
    /// The application's data root.
    pub source: PathBuf,
    /// Items relative to `source`; empty means everything in it.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs matched against each path relative to `source` and against the file name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Where the `backup_*` folders go.
    pub destination: PathBuf,
    /// Hours between scheduled backups (fractions allowed).
    #[serde(default = "default_every_hours")]
    pub every_hours: f64,
    /// How many regular backups are kept (at least 1).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Shell command run before each backup; a failure stops the backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_backup: Option<String>,
    /// Shell command run after each backup, also a failed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_backup: Option<String>,
    /// Shell command run before each restore; a failure stops the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_restore: Option<String>,
    /// Shell command run after each restore, also a failed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_restore: Option<String>,
    /// Seconds a hook may run before it is stopped.
    #[serde(default = "default_hook_timeout")]
    pub hook_timeout_secs: u64,
    /// The offsite copy (`[profile.offsite]`): every backup also pushed to an S3 store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsite: Option<Offsite>,
}

/// Offsite snapshots kept by default.
pub const DEFAULT_OFFSITE_KEEP: usize = 14;

/// Where a profile's offsite copies go and how many are kept (`[profile.offsite]`).
/// Secrets are never here: the S3 keys and the repository password come from the
/// environment, a password file or the OS keychain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Offsite {
    /// The restic repository, in restic's URL form:
    /// `s3:https://s3.eu-central-1.amazonaws.com/BUCKET/PREFIX` or `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`.
    pub repository: String,
    /// Offsite snapshots of this profile kept (the newest `keep`); retention runs after each push.
    #[serde(default = "default_offsite_keep")]
    pub keep: usize,
    /// Also keep the newest snapshot of each of the last N days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// Also keep the newest snapshot of each of the last N weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Also keep the newest snapshot of each of the last N months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Upload speed limit in kilobytes (1,000 bytes) per second; none: as fast as the link allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_limit_kbps: Option<u32>,
}

fn default_offsite_keep() -> usize {
    DEFAULT_OFFSITE_KEEP
}

impl Offsite {
    /// Offsite settings for `repository` with the default retention.
    pub fn new(repository: impl Into<String>) -> Offsite {
        Offsite {
            repository: repository.into(),
            keep: DEFAULT_OFFSITE_KEEP,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            upload_limit_kbps: None,
        }
    }

    /// Checks the numbers and the repository's shape.
    ///
    /// # Errors
    /// [`Error::Setting`] naming `offsite.repository`, `offsite.keep` or `offsite.upload_limit_kbps`.
    pub fn validate(&self, who: &str) -> Result<()> {
        if self.keep == 0 {
            return Err(Error::setting("offsite.keep", format!("{who}: offsite keep must be at least 1")));
        }
        if self.upload_limit_kbps == Some(0) {
            return Err(Error::setting(
                "offsite.upload_limit_kbps",
                format!("{who}: offsite upload_limit_kbps must be above 0, or left out for no limit"),
            ));
        }
        if !self.repository.starts_with("s3:") {
            return Err(Error::setting(
                "offsite.repository",
                format!(
                    "{who}: offsite repository \"{}\" is not an S3 URL: write it as restic does, e.g. s3:https://s3.eu-central-1.amazonaws.com/BUCKET/PREFIX",
                    self.repository
                ),
            ));
        }
        Ok(())
    }
}

fn default_every_hours() -> f64 {
    DEFAULT_EVERY_HOURS
}
fn default_keep() -> usize {
    DEFAULT_KEEP
}
fn default_hook_timeout() -> u64 {
    DEFAULT_HOOK_TIMEOUT_SECS
}
fn is_false(b: &bool) -> bool {
    !*b
}

impl Profile {
    /// A profile with the defaults for everything but its paths.
    pub fn new(name: impl Into<String>, source: impl Into<PathBuf>, destination: impl Into<PathBuf>) -> Self {
        Profile {
            name: name.into(),
            source: source.into(),
            include: Vec::new(),
            exclude: Vec::new(),
            destination: destination.into(),
            every_hours: DEFAULT_EVERY_HOURS,
            keep: DEFAULT_KEEP,
            before_backup: None,
            after_backup: None,
            before_restore: None,
            after_restore: None,
            hook_timeout_secs: DEFAULT_HOOK_TIMEOUT_SECS,
            offsite: None,
        }
    }

    /// Checks what can be checked without touching the disk: names, numbers, paths' shapes
    /// and how source and destination relate (invariant 8).
    ///
    /// # Errors
    /// [`Error::Setting`] naming the wrong field.
    pub fn validate(&self) -> Result<()> {
        let who = format!("profile \"{}\"", self.name);
        if self.name.trim().is_empty() {
            return Err(Error::setting("name", "profile name is empty: give it a name"));
        }
        if !self.source.is_absolute() {
            return Err(Error::setting(
                "source",
                format!("{who}: source {} is not an absolute path", self.source.display()),
            ));
        }
        if !self.destination.is_absolute() {
            return Err(Error::setting(
                "destination",
                format!("{who}: destination {} is not an absolute path", self.destination.display()),
            ));
        }
        if !(self.every_hours.is_finite() && self.every_hours > 0.0 && self.every_hours <= MAX_EVERY_HOURS) {
            return Err(Error::setting(
                "every_hours",
                format!(
                    "{who}: every_hours must be a number of hours above 0 and at most {MAX_EVERY_HOURS} (a year), not {}",
                    self.every_hours
                ),
            ));
        }
        if self.keep == 0 {
            return Err(Error::setting("keep", format!("{who}: keep must be at least 1")));
        }
        for item in &self.include {
            validate_item(&who, item)?;
        }
        let mut seen = std::collections::HashSet::new();
        for item in &self.include {
            if !seen.insert(item.trim_end_matches('/')) {
                return Err(Error::setting("include", format!("{who}: include lists \"{item}\" twice")));
            }
        }
        for glob in &self.exclude {
            globset::Glob::new(glob)
                .map_err(|e| Error::setting("exclude", format!("{who}: exclude pattern \"{glob}\": {e}")))?;
        }
        if let Some(offsite) = &self.offsite {
            offsite.validate(&who)?;
        }
        self.check_overlap(&who)
    }

    /// The included items as absolute paths; all of `source` when `include` is empty.
    pub fn item_paths(&self) -> Vec<PathBuf> {
        if self.include.is_empty() {
            vec![self.source.clone()]
        } else {
            self.include.iter().map(|i| self.source.join(i)).collect()
        }
    }

    fn check_overlap(&self, who: &str) -> Result<()> {
        let dest = resolve_lexically(&self.destination);
        // Checked first: items are inside the source, unless one is a symlink leading out.
        if resolve_lexically(&self.source).starts_with(&dest) {
            return Err(Error::setting(
                "source",
                format!(
                    "{who}: source {} is inside the destination {} — choose a destination outside it",
                    self.source.display(),
                    self.destination.display()
                ),
            ));
        }
        for item in self.item_paths() {
            let item = resolve_lexically(&item);
            if dest.starts_with(&item) {
                return Err(Error::setting(
                    "destination",
                    format!(
                        "{who}: destination {} is inside the backed-up item {} — choose a destination outside it",
                        self.destination.display(),
                        item.display()
                    ),
                ));
            }
            if item.starts_with(&dest) {
                return Err(Error::setting(
                    "destination",
                    format!(
                    "{who}: backed-up item {} is inside the destination {} — choose a destination outside the source",
                    item.display(),
                    self.destination.display()
                ),
                ));
            }
        }
        Ok(())
    }
}

fn validate_item(who: &str, item: &str) -> Result<()> {
    let path = Path::new(item);
    let bad = |why: &str| Err(Error::setting("include", format!("{who}: include \"{item}\" {why}")));
    if item.trim().is_empty() {
        return bad("is empty");
    }
    if path.is_absolute() {
        return bad("must be relative to the source, not absolute");
    }
    if path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return bad("must stay inside the source (no `..` or `.`)");
    }
    let first = path.components().next().and_then(|c| c.as_os_str().to_str()).unwrap_or("");
    if first == INFO_FILE || first == MANIFEST_FILE {
        return bad("collides with the file Lifeboat writes in every backup: rename it or leave it out");
    }
    Ok(())
}

/// Canonicalizes the longest existing prefix, so links and `..` cannot hide an overlap,
/// even for paths that do not exist yet.
pub fn resolve_lexically(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = existing.canonicalize() {
            let mut out = canon;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

impl Config {
    /// The config path: `LIFEBOAT_CONFIG`, else `config.toml` in the platform config dir.
    pub fn default_path() -> PathBuf {
        crate::env::config_path()
    }

    /// Loads and validates the config at `path`.
    ///
    /// # Errors
    /// [`Error::NoConfig`] when there is none; [`Error::Config`] naming the line and
    /// column of a syntax error or the wrong setting; I/O errors reading it.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoConfig { path: path.to_path_buf() })
            }
            Err(e) => return Err(Error::io("read config", path, e)),
        };
        Self::parse(&text, path)
    }

    /// Parses and validates; errors name the line and column.
    ///
    /// # Errors
    /// [`Error::Config`] naming `path`, the line and the column.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text)
            .map_err(|e| Error::Config { path: path.to_path_buf(), message: describe_toml_error(text, &e) })?;
        config.validate().map_err(|e| Error::Config { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(config)
    }

    /// Validates every profile, that their names differ, and that no two share a
    /// destination folder: a destination's backups, their names (`backup_<time>`) and
    /// its rotation belong to one profile, so another profile's `keep` could otherwise
    /// delete them.
    ///
    /// # Errors
    /// The first wrong setting, [`Error::Profile`] for a repeated name, or a `destination`
    /// setting error for a shared destination.
    pub fn validate(&self) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        let mut destinations: Vec<(PathBuf, &str)> = Vec::new();
        for p in &self.profiles {
            p.validate()?;
            if !names.insert(p.name.as_str()) {
                return Err(Error::Profile { message: format!("two profiles are named \"{}\"", p.name) });
            }
            let dest = resolve_lexically(&p.destination);
            if let Some((_, other)) = destinations.iter().find(|(d, _)| *d == dest) {
                return Err(Error::setting(
                    "destination",
                    format!(
                        "profile \"{}\": destination {} is already profile \"{other}\"'s — give each profile a folder of its own, e.g. {}",
                        p.name,
                        p.destination.display(),
                        p.destination.join(&p.name).display()
                    ),
                ));
            }
            destinations.push((dest, p.name.as_str()));
        }
        Ok(())
    }

    /// Writes atomically (temp file, fsync, rename), after validating.
    ///
    /// # Errors
    /// A wrong setting (nothing is written), or the write failing.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::Config { path: path.to_path_buf(), message: format!("cannot be written: {e}") })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).at("create config folder", dir)?;
        }
        crate::fsx::write_atomic(path, text.as_bytes())
    }

    /// The named profile, or the only one.
    ///
    /// # Errors
    /// [`Error::Profile`] when there is no such profile, none at all, or several and no name.
    pub fn profile(&self, name: Option<&str>) -> Result<&Profile> {
        match name {
            Some(n) => self.profiles.iter().find(|p| p.name == n).ok_or_else(|| Error::Profile {
                message: format!("no profile named \"{n}\"; profiles: {}", self.names()),
            }),
            None => match self.profiles.as_slice() {
                [only] => Ok(only),
                [] => Err(Error::Profile {
                    message: "the config has no profile: add one with `lifeboat init --source DIR --dest DIR`".into(),
                }),
                _ => Err(Error::Profile {
                    message: format!("the config has several profiles, choose one with --profile: {}", self.names()),
                }),
            },
        }
    }

    /// Adds or replaces the profile with the same name. A replacement without an
    /// `offsite` table keeps the one it replaces: front ends that do not edit the offsite
    /// settings never drop them.
    pub fn upsert(&mut self, mut profile: Profile) {
        match self.profiles.iter_mut().find(|p| p.name == profile.name) {
            Some(p) => {
                if profile.offsite.is_none() {
                    profile.offsite = p.offsite.take();
                }
                *p = profile
            }
            None => self.profiles.push(profile),
        }
    }

    fn names(&self) -> String {
        self.profiles.iter().map(|p| format!("\"{}\"", p.name)).collect::<Vec<_>>().join(", ")
    }
}

fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/tmp/config.toml"))
    }

    #[test]
    #[cfg(unix)]
    fn two_profiles_cannot_share_a_destination_folder() {
        let two = |a: &str, b: &str| {
            format!(
                "[[profile]]\nname = \"A\"\nsource = \"/data/a\"\ndestination = \"{a}\"\n\
                 [[profile]]\nname = \"B\"\nsource = \"/data/b\"\ndestination = \"{b}\"\n"
            )
        };
        // The same folder, spelt differently or reached through a symlink.
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let (real, link) = (real.display().to_string(), tmp.path().join("link").display().to_string());
        for (a, b) in [("/backups", "/backups"), ("/backups", "/backups/"), (real.as_str(), link.as_str())] {
            let e = parse(&two(a, b)).unwrap_err().to_string();
            assert!(e.contains("\"B\"") && e.contains("\"A\"") && e.contains("a folder of its own"), "{b}: {e}");
        }
        // A folder of its own, even inside the other's, is fine.
        parse(&two("/backups", "/backups/B")).unwrap();
        parse(&two("/backups/A", "/backups/B")).unwrap();
    }

    #[test]
    fn defaults_apply() {
        let c = parse("[[profile]]\nname = \"A\"\nsource = \"/data/app\"\ndestination = \"/backups/app\"\n").unwrap();
        let p = c.profile(None).unwrap();
        assert_eq!(p.every_hours, 12.0);
        assert_eq!(p.keep, 2);
        assert!(p.include.is_empty());
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let e = parse("[[profile]]\nname = \"A\"\nkeep = = 2\n").unwrap_err().to_string();
        assert!(e.contains("line 3, column"), "{e}");
        assert!(e.contains("/tmp/config.toml"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused() {
        let e = parse("[[profile]]\nname = \"A\"\nsource = \"/a\"\ndestination = \"/b\"\nkeeep = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("keeep"), "{e}");
    }

    #[test]
    fn destination_inside_item_is_refused() {
        let mut p = Profile::new("A", "/data/app", "/data/app/audio_files/backups");
        p.include = vec!["audio_files".into()];
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("inside the backed-up item"), "{e}");
        p.include = vec![];
        assert!(p.validate().is_err(), "whole source includes the destination");
        let p = Profile::new("A", "/data/app/x", "/data/app");
        assert!(p.validate().unwrap_err().to_string().contains("inside the destination"));
    }

    #[test]
    fn bad_items_are_refused() {
        for item in ["../etc", "/etc", "manifest.json", "backup_info.txt", "a/../../b", ""] {
            let mut p = Profile::new("A", "/data/app", "/backups");
            p.include = vec![item.into()];
            assert!(p.validate().is_err(), "{item:?} accepted");
        }
    }

    #[test]
    fn each_wrong_setting_names_its_field() {
        let field = |change: &dyn Fn(&mut Profile)| {
            let mut p = Profile::new("A", "/data/app", "/backups/app");
            change(&mut p);
            match p.validate() {
                Err(Error::Setting { field, .. }) => field,
                other => panic!("not a setting error: {other:?}"),
            }
        };
        assert_eq!(field(&|p| p.name.clear()), "name");
        assert_eq!(field(&|p| p.source = "relative".into()), "source");
        assert_eq!(field(&|p| p.destination = "relative".into()), "destination");
        assert_eq!(field(&|p| p.every_hours = 0.0), "every_hours");
        assert_eq!(field(&|p| p.keep = 0), "keep");
        assert_eq!(field(&|p| p.include = vec!["../x".into()]), "include");
        assert_eq!(field(&|p| p.exclude = vec!["a[".into()]), "exclude");
        assert_eq!(field(&|p| p.destination = "/data/app/backups".into()), "destination");
        assert_eq!(field(&|p| p.source = "/backups/app/data".into()), "source");
    }

    #[test]
    fn several_profiles_need_a_name() {
        let c = parse(
            "[[profile]]\nname = \"A\"\nsource = \"/a\"\ndestination = \"/b\"\n\
             [[profile]]\nname = \"B\"\nsource = \"/c\"\ndestination = \"/d\"\n",
        )
        .unwrap();
        let e = c.profile(None).unwrap_err().to_string();
        assert!(e.contains("\"A\", \"B\""), "{e}");
        assert_eq!(c.profile(Some("B")).unwrap().source, Path::new("/c"));
    }

    #[test]
    fn an_offsite_table_is_read_checked_and_kept_by_upsert() {
        let text = "[[profile]]\nname = \"A\"\nsource = \"/a\"\ndestination = \"/b\"\n\
                    [profile.offsite]\nrepository = \"s3:http://127.0.0.1:9000/bucket/a\"\nkeep_daily = 7\n";
        let mut c = parse(text).unwrap();
        let o = c.profile(None).unwrap().offsite.clone().unwrap();
        assert_eq!((o.keep, o.keep_daily, o.upload_limit_kbps), (DEFAULT_OFFSITE_KEEP, Some(7), None));
        let e = parse(&text.replace("keep_daily", "keep_dialy")).unwrap_err().to_string();
        assert!(e.contains("keep_dialy"), "{e}");
        let e = parse(&text.replace("s3:http", "http")).unwrap_err().to_string();
        assert!(e.contains("not an S3 URL"), "{e}");
        let mut p = Profile::new("A", "/a", "/b");
        p.offsite = Some(Offsite { keep: 0, ..o.clone() });
        assert!(matches!(p.validate(), Err(Error::Setting { field: "offsite.keep", .. })));
        // A front end that does not know the offsite table does not drop it.
        c.upsert(Profile::new("A", "/a", "/c"));
        assert_eq!(c.profile(None).unwrap().offsite.as_ref(), Some(&o));
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub dir/config.toml");
        let mut c = Config::default();
        let mut p = Profile::new("DrumGen Scorer", "/home/ana/DrumGen Scorer", "/media/ana/Backups");
        p.include = vec!["drumgen.db".into(), "audio_files".into()];
        p.before_restore = Some("echo stop".into());
        c.upsert(p);
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
    }
}
