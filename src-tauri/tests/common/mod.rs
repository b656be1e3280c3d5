//! Shared fixtures for the app's tests, the end-to-end ones included: a sandbox (HOME, XDG
//! dirs, config, data dir, seed-shaped app data ([`seed`]) and a backup drive, all in a temp
//! folder), the environment that points the app into it, and a private session bus
//! ([`bus`]); for the app tests also a config and the real app binary started directly.

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

pub mod bus;
pub mod dbusmenu;
/// A real S3 server (SeaweedFS) for the offsite tests: the engine's own helper.
#[path = "../../../tests/common/s3.rs"]
pub mod s3;
pub mod seed;

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use bus::PrivateBus;
use seed::{AppData, Shape};
pub use seed::{APP_DIR, DB_NAME};

/// The app tests' data: the seed's shape, in smaller numbers, with nested note folders.
pub const DATA: Shape =
    Shape { rows: 120, rows_in_wal: 59, audio_files: 40, notes: 12, nested: true, illugen_files: 73 };
pub const DB_ROWS: i64 = DATA.rows;
pub const AUDIO_FILES: usize = DATA.audio_files;

/// The second profile's data ([`Sandbox::add_second_profile`]): small, another app.
pub const SECOND: Shape = Shape { rows: 20, rows_in_wal: 5, audio_files: 6, notes: 2, nested: false, illugen_files: 7 };
/// The second profile's name, and its data folder's.
pub const SECOND_NAME: &str = "Field Recorder";

/// The folder names the app's user would see; spaces on purpose.
pub const DRIVE: &str = "Backup drive";
pub const DEST_DIR: &str = "DrumGen Scorer DB backups";

/// Temp folders for one test: the app's data, the "backup drive", HOME and the config.
pub struct Sandbox {
    /// When the sandbox was made (its data written): where a test's time starts.
    pub started: Instant,
    pub root: tempfile::TempDir,
    /// The app's data (`<root>/DrumGen Scorer`), with the connection that keeps its `-wal`
    /// alive, as the running app would.
    pub data: AppData,
    /// The removable drive the destination is on: missing until [`Sandbox::plug_in_drive`]
    /// (or [`Sandbox::write_config`]); renaming or removing it "unplugs" the destination.
    pub drive: PathBuf,
    pub destination: PathBuf,
    pub home: PathBuf,
    pub config: PathBuf,
    pub data_dir: PathBuf,
}

impl Sandbox {
    /// The app tests' data ([`DATA`]), no drive and no config yet.
    pub fn new() -> Sandbox {
        Sandbox::with(DATA)
    }

    /// Seed-shaped data in the numbers of `shape` (a WAL-mode database with rows still in
    /// the `-wal`, audio files, note folders, names with spaces and accents), no drive and
    /// no config yet.
    pub fn with(shape: Shape) -> Sandbox {
        let started = Instant::now();
        let root = tempfile::Builder::new().prefix("lifeboat-app-test").tempdir().unwrap();
        let data = AppData::create(&root.path().join(APP_DIR), shape);
        let drive = root.path().join(DRIVE);
        let home = root.path().join("home");
        for sub in [".config", ".local/share", ".local/state", ".cache", "runtime"] {
            fs::create_dir_all(home.join(sub)).unwrap();
        }
        fs::set_permissions(home.join("runtime"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Sandbox {
            started,
            destination: drive.join(DEST_DIR),
            config: root.path().join("config/lifeboat/config.toml"),
            data_dir: root.path().join("data"),
            drive,
            home,
            data,
            root,
        }
    }

    /// Creates the (empty) backup drive.
    pub fn plug_in_drive(&self) {
        fs::create_dir_all(&self.drive).unwrap();
    }

    /// Writes a config for the seed's three items, backing up to `destination` (on the
    /// drive, which this plugs in).
    pub fn write_config(&self) {
        self.plug_in_drive();
        fs::create_dir_all(self.config.parent().unwrap()).unwrap();
        let text = format!(
            "[[profile]]\nname = \"DrumGen Scorer\"\nsource = {:?}\ninclude = [\"{DB_NAME}\", \"audio_files\", \
             \"illugen_audio\"]\ndestination = {:?}\nevery_hours = 12\nkeep = 2\n",
            self.data.root.display().to_string(),
            self.destination.display().to_string()
        );
        fs::write(&self.config, text).unwrap();
    }

    /// Appends a second profile to the config ([`Sandbox::write_config`] first): another
    /// app's data ([`SECOND`]) in `<root>/Field Recorder`, backed up to its own folder on
    /// the drive, or to `destination` when given (a shared one).
    pub fn add_second_profile(&self, destination: Option<&std::path::Path>) -> SecondProfile {
        let data = AppData::create(&self.root.path().join(SECOND_NAME), SECOND);
        let destination = destination.map_or_else(|| self.drive.join("Field Recorder backups"), |d| d.to_path_buf());
        let text = format!(
            "\n[[profile]]\nname = \"{SECOND_NAME}\"\nsource = {:?}\ndestination = {:?}\nevery_hours = 12\nkeep = 5\n",
            data.root.display().to_string(),
            destination.display().to_string()
        );
        let mut config = fs::read_to_string(&self.config).expect("write_config first");
        config.push_str(&text);
        fs::write(&self.config, config).unwrap();
        SecondProfile { data, destination }
    }

    /// Names of the folders in the destination starting with `prefix`, sorted.
    pub fn folders(&self, prefix: &str) -> Vec<String> {
        folders_in(&self.destination, prefix)
    }

    /// Complete backups in the destination (`backup_*`), sorted by name.
    pub fn backups(&self) -> Vec<String> {
        self.folders("backup_")
    }

    /// Waits (60 s at most) for the backup the app makes at start, failing at once
    /// when the app exits meanwhile; returns its name.
    pub fn startup_backup(&self, app: &mut AppProcess) -> String {
        wait_for(Duration::from_secs(60), "the startup backup", || {
            assert!(app.running(), "the app exited:\n{}", app.stderr());
            self.backups().pop()
        })
    }

    /// The environment the app runs in on `bus`: everything it could write to points into
    /// the sandbox.
    pub fn app_env(&self, bus: &str) -> Vec<(&'static str, OsString)> {
        let h = |sub: &str| self.home.join(sub).into_os_string();
        vec![
            ("HOME", self.home.clone().into_os_string()),
            ("XDG_CONFIG_HOME", h(".config")),
            ("XDG_DATA_HOME", h(".local/share")),
            ("XDG_STATE_HOME", h(".local/state")),
            ("XDG_CACHE_HOME", h(".cache")),
            ("XDG_RUNTIME_DIR", h("runtime")),
            ("LIFEBOAT_CONFIG", self.config.clone().into_os_string()),
            ("LIFEBOAT_DATA_DIR", self.data_dir.clone().into_os_string()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.into()),
            ("NO_AT_BRIDGE", "1".into()),
        ]
    }

    /// Starts the real app binary in this sandbox on `bus`, under the current display.
    pub fn start_app(&self, bus: &PrivateBus, extra_env: &[(&str, &str)]) -> AppProcess {
        self.start_app_with(bus, &[], extra_env)
    }

    /// [`Sandbox::start_app`] with command-line arguments (e.g. `--hidden`).
    pub fn start_app_with(&self, bus: &PrivateBus, args: &[&str], extra_env: &[(&str, &str)]) -> AppProcess {
        require_display();
        let log = self.root.path().join("app.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat-app"));
        cmd.envs(self.app_env(&bus.address))
            .env_remove("LIFEBOAT_TICK_SECS")
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(self.root.path().join("app.err")).unwrap());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let child = cmd.spawn().expect("start lifeboat-app");
        AppProcess { child, started, stderr: self.root.path().join("app.err") }
    }
}

/// A second profile's data and destination ([`Sandbox::add_second_profile`]).
pub struct SecondProfile {
    pub data: AppData,
    pub destination: PathBuf,
}

impl SecondProfile {
    /// Complete backups in its destination, sorted by name.
    pub fn backups(&self) -> Vec<String> {
        folders_in(&self.destination, "backup_")
    }
}

/// Names of the folders in `dir` starting with `prefix`, sorted.
pub fn folders_in(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The running app; killed when dropped.
pub struct AppProcess {
    pub child: Child,
    pub started: Instant,
    stderr: PathBuf,
}

impl AppProcess {
    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// What the app printed on stderr, for failure messages.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the tests run under CI (`CI` set and not false): then nothing is skipped.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sets this test process's environment once for in-process offsite calls: a data dir of
/// its own (`PREFIX-PID` under Cargo's tmp dir for tests), the keychain `keychain`
/// (`none` or `mock`, see `LIFEBOAT_OFFSITE_KEYCHAIN`), and no secrets in the environment.
pub fn offsite_env(prefix: &str, keychain: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        std::env::set_var("LIFEBOAT_DATA_DIR", &dir);
        std::env::set_var("LIFEBOAT_OFFSITE_KEYCHAIN", keychain);
        for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LIFEBOAT_OFFSITE_PASSWORD"] {
            std::env::remove_var(v);
        }
    });
}

/// The visible X windows of process `pid` titled exactly `title` (xdotool, package
/// `xdotool`), as window ids.
pub fn visible_windows(pid: u32, title: &str) -> Vec<String> {
    let out = Command::new("xdotool")
        .args(["search", "--all", "--onlyvisible", "--pid", &pid.to_string(), "--name", &format!("^{title}$")])
        .output()
        .expect("xdotool (package xdotool) is needed for the window tests");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// The GUI tests need an X display (run them under `xvfb-run -a`).
pub fn require_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()),
        "DISPLAY is not set: run the app tests under Xvfb, e.g. \
         `xvfb-run -a dbus-run-session -- cargo test -p lifeboat-app` (or `make test`)"
    );
}
