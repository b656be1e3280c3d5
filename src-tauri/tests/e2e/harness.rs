//! Drives the real, built app through tauri-driver and WebKitWebDriver. Each test gets
//! its own sandbox (HOME, XDG dirs, config, data dir, app data, backup drive in a temp
//! folder), its own private session bus (the app is single-instance over D-Bus, so tests
//! sharing a bus would find each other) and its own tauri-driver on free ports, so the
//! tests run in parallel. Screenshots go to `target/e2e-screenshots/<test>/`.

// Each WebDriver test binary (e2e.rs, e2e_offsite.rs) uses only some of these helpers.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::common::seed::SEED;
use crate::common::{PrivateBus, Sandbox};

/// Long enough for a loaded 2-core machine; a healthy run needs a fraction of it.
pub const WAIT: Duration = Duration::from_secs(90);

/// A sandbox for one test (see [`Sandbox`]) with the seed's data, an empty backup drive
/// and no config (first run). The private bus has no tray host, so the once-only
/// background notice is marked as shown already (its own test removes the mark).
pub fn sandbox() -> Sandbox {
    let sb = Sandbox::with(SEED);
    sb.plug_in_drive();
    fs::create_dir_all(&sb.data_dir).unwrap();
    fs::write(lifeboat_app::background::notice_marker(&sb.data_dir), "shown\n").unwrap();
    sb
}

/// The GUI needs a display and a session bus: the tests are meant to run under
/// `xvfb-run -a dbus-run-session -- cargo test` (as `make test` does).
pub fn require_session() {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    assert!(
        set("DISPLAY") && set("DBUS_SESSION_BUS_ADDRESS"),
        "the end-to-end tests drive the real app window: DISPLAY and DBUS_SESSION_BUS_ADDRESS must be set \
         (DISPLAY={:?}, DBUS_SESSION_BUS_ADDRESS={:?}). Run them under Xvfb and a session bus: \
         `xvfb-run -a dbus-run-session -- cargo test -p lifeboat-app --test e2e`, or `make test`.",
        std::env::var_os("DISPLAY"),
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS"),
    );
}

/// tauri-driver: on PATH, else in cargo's bin folder (where `cargo install` puts it).
fn tauri_driver() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("tauri-driver")).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(Path::new(&cargo_home).join("bin/tauri-driver"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/tauri-driver"));
    }
    let found = candidates.into_iter().find(|p| p.is_file());
    let webkit_driver = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("WebKitWebDriver").is_file()))
        .unwrap_or(false);
    assert!(
        webkit_driver,
        "WebKitWebDriver is not on PATH: install Debian's webkit2gtk-driver (scripts/deps.sh test does)"
    );
    found.expect("tauri-driver not found on PATH or in ~/.cargo/bin: `cargo install tauri-driver --locked` (scripts/deps.sh test does)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child in its own process group, killed with everything it started when dropped
/// (tauri-driver -> WebKitWebDriver -> the app and its web processes).
struct Group {
    child: Child,
}

impl Group {
    fn spawn(mut cmd: Command) -> Group {
        cmd.process_group(0);
        let what = cmd.get_program().to_string_lossy().into_owned();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Group { child }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running app, driven through WebDriver.
pub struct App {
    pub client: Client,
    test: String,
    test_started: Instant,
    shots: PathBuf,
    shot_no: usize,
    driver_log: PathBuf,
    app_logs: PathBuf,
    _driver: Group,
    bus: PrivateBus,
}

impl App {
    /// Starts a private bus and tauri-driver, then a WebDriver session, which launches the
    /// app; waits for its window to show the UI. `test` names the screenshot folder.
    pub async fn launch(sb: &Sandbox, test: &str) -> App {
        App::launch_with(sb, test, &[]).await
    }

    /// [`App::launch`] with more environment for the app (e.g. `GTK_THEME`).
    pub async fn launch_with(sb: &Sandbox, test: &str, extra_env: &[(&str, &str)]) -> App {
        require_session();
        let driver_bin = tauri_driver();
        let bus = PrivateBus::start();
        let shots = screenshot_dir().join(test);
        let _ = fs::remove_dir_all(&shots);
        fs::create_dir_all(&shots).unwrap();

        let started = Instant::now();
        let driver_log = sb.root.path().join("tauri-driver.log");
        let driver_err = sb.root.path().join("tauri-driver.err");
        let mut failures = Vec::new();
        // Free ports are only free until someone takes them: on a failed start, try again
        // with new ones (the failed driver's process group, app included, is killed first).
        let (client, driver) = loop {
            let (port, native_port) = (free_port(), free_port());
            let mut cmd = Command::new(&driver_bin);
            cmd.args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .envs(sb.app_env(&bus.address))
                // Scheduled checks stay out of the way; what the tests see comes from clicks and
                // from the backup the app makes as soon as it is set up (a settings change wakes it).
                .env("LIFEBOAT_TICK_SECS", "3600")
                .envs(extra_env.iter().copied())
                .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
                .stdin(Stdio::null())
                .stdout(fs::File::create(&driver_log).unwrap())
                .stderr(fs::File::create(&driver_err).unwrap());
            let driver = Group::spawn(cmd);
            match session(port, native_port).await {
                Ok(client) => break (client, driver),
                Err(e) => {
                    drop(driver);
                    let said = fs::read_to_string(&driver_err).unwrap_or_default();
                    failures.push(format!("ports {port}/{native_port}: {e}\ntauri-driver said: {}", tail(&said)));
                    assert!(failures.len() < 3, "no WebDriver session with the app:\n{}", failures.join("\n"));
                }
            }
        };
        println!("[{test}] app up with a WebDriver session after {:.1} s", started.elapsed().as_secs_f64());
        let app_logs = sb.data_dir.join("logs");
        let app = App {
            client,
            test: test.to_string(),
            test_started: sb.started,
            shots,
            shot_no: 0,
            driver_log,
            app_logs,
            _driver: driver,
            bus,
        };
        app.wait_js("the window's UI", "return document.querySelector('#state') ? true : null", &[]).await;
        app
    }

    /// Ends the WebDriver session (the driver closes the app; the process groups go on drop)
    /// and says how long the test took.
    /// The address of the app's private session bus (for a test-owned tray host).
    pub fn bus_address(&self) -> &str {
        &self.bus.address
    }

    pub async fn quit(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        println!("[{}] done after {:.1} s", self.test, self.test_started.elapsed().as_secs_f64());
    }

    /// Runs a script (`return ...`) in the window.
    pub async fn js(&self, script: &str, args: &[Value]) -> Value {
        self.client.execute(script, args.to_vec()).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until the header says Protected and the list shows `n` backup cards; their
    /// names, newest first.
    pub async fn protected_with(&self, n: usize) -> Vec<String> {
        let v = self
            .wait_js(
                &format!("Protected with {n} backup card(s)"),
                "const cards = [...document.querySelectorAll('#backup-list .backup-card')].map((c) => c.dataset.name);
                 const state = document.querySelector('#health')?.dataset.state;
                 return state === 'protected' && cards.length === arguments[0] ? cards : null;",
                &[json!(n)],
            )
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Polls `script` until it returns something other than null, false, "" or [];
    /// on timeout saves a screenshot and fails with what the header says.
    pub async fn wait_js(&self, what: &str, script: &str, args: &[Value]) -> Value {
        let start = Instant::now();
        loop {
            if let Ok(v) = self.client.execute(script, args.to_vec()).await {
                let empty = matches!(&v, Value::Null | Value::Bool(false))
                    || v.as_str() == Some("")
                    || v.as_array().is_some_and(|a| a.is_empty());
                if !empty {
                    return v;
                }
            }
            if start.elapsed() > WAIT {
                panic!("{}", self.failure(what).await);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits for an element matching `css` that is displayed.
    pub async fn wait_visible(&self, css: &str) {
        self.wait_js(&format!("{css} to be visible"), VISIBLE_JS, &[json!(css)]).await;
    }

    /// Waits for the text of `css` to satisfy `pred`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(css).await;
            if let Some(t) = text.as_deref().filter(|t| pred(t)) {
                return t.to_string();
            }
            if start.elapsed() > WAIT {
                panic!("{}", self.failure(&format!("{what} (last text of {css}: {text:?})")).await);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The trimmed text of the first match, or None.
    pub async fn text(&self, css: &str) -> Option<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                &[json!(css)],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// An attribute of the first match, or None.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
                &[json!(css), json!(name)],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Clicks the element like a user (WebDriver element click: scrolled into view, hit-tested)
    /// once it is visible and enabled, as a user waits for a greyed-out button. The window
    /// redraws a list when a status event arrives, which may land between finding the
    /// element and clicking it: then it is found again.
    pub async fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            self.wait_visible(css).await;
            self.wait_js(&format!("{css} to be enabled"), ENABLED_JS, &[json!(css)]).await;
            let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
            match el.click().await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && start.elapsed() < WAIT => continue,
                Err(e) => panic!("cannot click {css}: {e:?}"),
            }
        }
    }

    /// Replaces the text of an input by typing it.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_visible(css).await;
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.clear().await.unwrap_or_else(|e| panic!("cannot clear {css}: {e}"));
        el.send_keys(text).await.unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
        let value = el.prop("value").await.unwrap().unwrap_or_default();
        assert_eq!(value, text, "{css} holds what was typed");
    }

    pub async fn is_enabled(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.unwrap().is_enabled().await.unwrap()
    }

    /// Scrolls `css` into view (for a screenshot of something below the fold).
    pub async fn scroll_to(&self, css: &str) {
        self.js(
            "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'}); return null;",
            &[json!(css)],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Saves a WebDriver screenshot of the window as `NN-name.png`, after checking the
    /// layout: nothing sticks out sideways (the window must read without horizontal scrolling).
    pub async fn shot(&mut self, name: &str) -> PathBuf {
        // WebKitGTK's WebDriver screenshot is the last painted frame: taken right after a
        // DOM change it shows the page as it was before. Two animation frames make it current.
        let settle = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const t0 = performance.now();
                 let finished = false;
                 const finish = (how) => { if (!finished) { finished = true;
                   done(how + ' ' + Math.round(performance.now() - t0) + ' ' + document.visibilityState); } };
                 requestAnimationFrame(() => requestAnimationFrame(() => finish('raf')));
                 setTimeout(() => finish('timeout'), 3000);",
                vec![],
            )
            .await;
        if !matches!(&settle, Ok(Value::String(s)) if s.starts_with("raf")) {
            println!("no animation frame before the screenshot {name}: {settle:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.shot_no += 1;
        let file = self.shots.join(format!("{:02}-{name}.png", self.shot_no));
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        fs::write(&file, &png).unwrap();
        let problems = self.js(LAYOUT_JS, &[]).await;
        assert_eq!(
            problems,
            json!([]),
            "layout problems in state {name} (see {}): elements outside the window's width",
            file.display()
        );
        file
    }

    /// A timeout report: saves a screenshot and says what the page shows.
    async fn failure(&self, what: &str) -> String {
        let slug: String = what.chars().take(60).map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
        let file = self.shots.join(format!("FAILED-{slug}.png"));
        if let Ok(png) = self.client.screenshot().await {
            let _ = fs::write(&file, png);
        }
        let page = self.page_summary().await;
        format!("timed out after {WAIT:?} waiting for {what}\npage: {page}\nscreenshot: {}", file.display())
    }

    /// The header's words and the visible alerts, for failure messages.
    pub async fn page_summary(&self) -> String {
        let v = self
            .client
            .execute(
                "const t = (s) => document.querySelector(s)?.textContent.trim() ?? null;
                 return JSON.stringify({ state: t('#state'), health: document.querySelector('#health')?.dataset.state,
                   lastError: t('#last-error'), actionError: t('#action-error'), actionStatus: t('#action-status'),
                   setupError: t('#setup-error'), settingsError: t('#settings-error'),
                   cards: [...document.querySelectorAll('.backup-card')].map((c) => c.dataset.name),
                   restore: document.querySelector('#restore-dialog')?.dataset.phase ?? null,
                   restoreError: t('#restore-error') });",
                vec![],
            )
            .await;
        let driver_log = fs::read_to_string(&self.driver_log).unwrap_or_default();
        let app_log = fs::read_dir(&self.app_logs)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>();
        format!(
            "{}\napp log (tail): {}\ntauri-driver log (tail): {}",
            v.map(|v| v.to_string()).unwrap_or_else(|e| e.to_string()),
            tail(&app_log),
            tail(&driver_log)
        )
    }
}

/// Waits for tauri-driver and the native driver behind it to listen, then opens a session,
/// which launches the app.
async fn session(port: u16, native_port: u16) -> Result<Client, String> {
    let started = Instant::now();
    for p in [port, native_port] {
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("nothing listens on port {p}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let caps = json!({
        "browserName": "wry",
        "tauri:options": { "application": env!("CARGO_BIN_EXE_lifeboat-app") },
    });
    let Value::Object(caps) = caps else { unreachable!() };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(caps);
    let url = format!("http://127.0.0.1:{port}");
    let connect = builder.connect(&url);
    match tokio::time::timeout(Duration::from_secs(90), connect).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("new session: {e}")),
        Err(_) => Err("new session: no answer in 90 s".to_string()),
    }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(1500);
    let start = (start..s.len()).find(|i| s.is_char_boundary(*i)).unwrap_or(s.len());
    &s[start..]
}

/// `target/e2e-screenshots` (next to `target/tmp`, cargo's folder for integration tests).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("e2e-screenshots")
}

const VISIBLE_JS: &str = "const e = document.querySelector(arguments[0]);
  if (!e || e.closest('[hidden]')) return null;
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' ? true : null;";

const ENABLED_JS: &str = "const e = document.querySelector(arguments[0]); return e && !e.disabled ? true : null;";

/// Visible elements reaching past the window's left or right edge (outside any container
/// that scrolls or clips them), and a page wider than the window.
const LAYOUT_JS: &str = "const vw = document.documentElement.clientWidth;
  const out = [];
  const sw = document.documentElement.scrollWidth;
  if (sw > vw + 1) out.push(`the page scrolls sideways: ${sw}px wide in a ${vw}px window`);
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || s.position === 'fixed' && el.tagName === 'DIALOG' && !el.open) continue;
    if (r.right <= vw + 1 && r.left >= -1) continue;
    if (clipped(el)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + [...el.classList].map((c) => '.' + c).join('');
    out.push(`${name} spans x ${Math.round(r.left)}..${Math.round(r.right)} in a ${vw}px window`);
  }
  return out.slice(0, 12);";
