//! Shared fixtures for the app's tests: app data shaped like the seed's, a config, a
//! private session bus, and the real app binary started in a sandbox (HOME, config and
//! data dir in temp folders).

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub const APP_DIR: &str = "DrumGen Scorer";
pub const DB_NAME: &str = "drumgen.db";
pub const DB_ROWS: i64 = 120;
pub const AUDIO_FILES: usize = 40;
pub const NOTE_DIRS: usize = 12;

/// A sandbox: the app's data, a destination, HOME, config and data dir, all temporary.
pub struct Sandbox {
    pub root: tempfile::TempDir,
    pub source: PathBuf,
    pub destination: PathBuf,
    pub home: PathBuf,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    /// Keeps the `-wal` of the database alive, as the running app would.
    pub conn: Connection,
}

impl Sandbox {
    /// Seed-shaped data (a WAL-mode database with rows still in the `-wal`, audio files,
    /// nested note folders, names with spaces and accents) and no config yet.
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new().prefix("lifeboat-app-test").tempdir().unwrap();
        let source = root.path().join(APP_DIR);
        let conn = create_app_data(&source);
        let home = root.path().join("home");
        fs::create_dir_all(home.join(".config")).unwrap();
        Sandbox {
            destination: root.path().join("Backups/DrumGen Scorer DB backups"),
            config: root.path().join("config/config.toml"),
            data_dir: root.path().join("data"),
            source,
            home,
            conn,
            root,
        }
    }

    /// Writes a config for the seed's three items, backing up to `destination`.
    pub fn write_config(&self) {
        fs::create_dir_all(self.destination.parent().unwrap()).unwrap();
        fs::create_dir_all(self.config.parent().unwrap()).unwrap();
        let text = format!(
            "[[profile]]\nname = \"DrumGen Scorer\"\nsource = {:?}\ninclude = [\"{DB_NAME}\", \"audio_files\", \
             \"illugen_audio\"]\ndestination = {:?}\nevery_hours = 12\nkeep = 2\n",
            self.source.display().to_string(),
            self.destination.display().to_string()
        );
        fs::write(&self.config, text).unwrap();
    }

    /// Complete backups in the destination (`backup_*`), sorted by name.
    pub fn backups(&self) -> Vec<String> {
        backups_in(&self.destination)
    }

    /// Starts the real app binary in this sandbox on `bus`, under the current display.
    pub fn start_app(&self, bus: &PrivateBus, extra_env: &[(&str, &str)]) -> AppProcess {
        require_display();
        let runtime = self.root.path().join("runtime");
        fs::create_dir_all(&runtime).unwrap();
        fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let log = self.root.path().join("app.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat-app"));
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("LIFEBOAT_CONFIG", &self.config)
            .env("LIFEBOAT_DATA_DIR", &self.data_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("NO_AT_BRIDGE", "1")
            .env_remove("LIFEBOAT_TICK_SECS")
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

pub fn backups_in(destination: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(destination) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("backup_"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
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

/// The GUI tests need an X display (run them under `xvfb-run -a`).
pub fn require_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()),
        "DISPLAY is not set: run the app tests under Xvfb, e.g. \
         `xvfb-run -a dbus-run-session -- cargo test -p lifeboat-app` (or `make test`)"
    );
}

/// A private D-Bus session bus (its own dbus-daemon), so each test owns its names and
/// nothing is bus-activated unless the test puts a service file in `services`.
pub struct PrivateBus {
    pub address: String,
    pub services: PathBuf,
    daemon: Child,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        let dir = tempfile::Builder::new().prefix("lb-bus").tempdir().unwrap();
        let services = dir.path().join("services");
        fs::create_dir_all(&services).unwrap();
        let config = dir.path().join("bus.conf");
        let mut f = fs::File::create(&config).unwrap();
        write!(
            f,
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <servicedir>{}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            dir.path().join("bus").display(),
            services.display()
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon (package dbus) is needed for the app tests");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        PrivateBus { address, services, daemon, _dir: dir }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The app's data root, shaped like the seed's: `drumgen.db` (WAL mode, some rows only in
/// the `-wal`), `audio_files/*.wav`, `illugen_audio/<note>/<nested>/*.wav`.
fn create_app_data(dir: &Path) -> Connection {
    fs::create_dir_all(dir).unwrap();
    let conn = Connection::open(dir.join(DB_NAME)).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE test_results (id INTEGER PRIMARY KEY, name TEXT, score REAL);",
    )
    .unwrap();
    for i in 0..DB_ROWS {
        conn.execute("INSERT INTO test_results (name, score) VALUES (?1, ?2)", (format!("take {i}"), i as f64 / 3.0))
            .unwrap();
        if i == DB_ROWS / 2 {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        }
    }
    let audio = dir.join("audio_files");
    fs::create_dir_all(&audio).unwrap();
    for i in 0..AUDIO_FILES {
        let name = if i == 0 { "kick 01.wav".to_string() } else { format!("drum_{i:04}.wav") };
        fs::write(audio.join(name), wav_bytes(i as u64, 400 + i * 13)).unwrap();
    }
    for n in 0..NOTE_DIRS {
        let note =
            dir.join("illugen_audio").join(if n == 0 { "Café Noir".to_string() } else { format!("note_{n:03}") });
        let nested = note.join("attachments");
        fs::create_dir_all(&nested).unwrap();
        for (k, folder) in [&note, &nested].into_iter().enumerate() {
            fs::write(folder.join(format!("clip {k}.wav")), wav_bytes(1000 + n as u64, 200 + k * 50)).unwrap();
        }
    }
    conn
}

/// A small WAV-looking file with deterministic content.
fn wav_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    while out.len() < len {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push((x >> 33) as u8);
    }
    out
}
