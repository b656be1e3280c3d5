//! Giving the window's memory back (Linux): once the window has been closed for
//! [`DEFAULT_AFTER`] and no job or push is running, the app re-executes itself with
//! `--hidden`: the same process id, tray icon, profiles and schedule, and the memory of a
//! start that never opened the window.
//!
//! Why: WebKitGTK keeps about 80 MB (PSS) after its last webview is destroyed, measured by
//! `bench/idle.sh`: the network process outlives the webview (WebKitGTK has no call to end
//! it), and Mesa's software GL and the WebKit and JavaScriptCore pages the page touched
//! stay mapped in the app. macOS's WKWebView runs out of process and ends with the
//! webview, so there the app does nothing of this.
//!
//! What carries over: the config, the history and each profile's pause are on disk
//! (`state::PAUSES_FILE`); a backup is never cut off (every profile's job slot is held
//! across the exec); an offsite push is waited for. The few seconds of a retry backoff
//! after a failed backup do not carry over: the new start looks at once whether a backup
//! is due, as any start does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

/// The variable that sets how long after the window closes the app re-executes itself,
/// seconds; `0` never (app only).
pub const AFTER_VAR: &str = "LIFEBOAT_RELAUNCH_AFTER_SECS";

/// How long the window stays closed before the app re-executes itself, by default: long
/// enough that closing and reopening the window at once does not restart the tray icon.
pub const DEFAULT_AFTER: Duration = Duration::from_secs(30);

/// How often it looks again while a job or push is running.
const BUSY_RETRY: Duration = Duration::from_secs(10);

/// Counts window closes: a wait for an earlier close gives up when a later one started.
static CLOSES: AtomicU64 = AtomicU64::new(0);

/// The log writer's guard (`lifeboat::init_logging`'s), dropped, which flushes the log,
/// just before the exec or the exit.
static LOG_GUARD: Mutex<Option<Box<dyn std::any::Any + Send>>> = Mutex::new(None);

/// Keeps the log writer's guard until the app exits or re-executes itself.
pub fn keep_log_guard<G: Send + 'static>(guard: Option<G>) {
    *LOG_GUARD.lock().expect("log guard lock") = guard.map(|g| Box::new(g) as Box<dyn std::any::Any + Send>);
}

/// Flushes the log (the app is about to exit).
pub fn flush_log() {
    drop(LOG_GUARD.lock().expect("log guard lock").take());
}

/// [`AFTER_VAR`], else [`DEFAULT_AFTER`]; `None` for `0` (never). A bad value is logged
/// and the default used.
pub fn after() -> Option<Duration> {
    let Ok(text) = std::env::var(AFTER_VAR) else { return Some(DEFAULT_AFTER) };
    match text.trim().parse::<f64>() {
        Ok(0.0) => None,
        Ok(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        _ => {
            tracing::error!(
                "{AFTER_VAR}=\"{text}\" is not a number of seconds (0 for never); using {} s",
                DEFAULT_AFTER.as_secs()
            );
            Some(DEFAULT_AFTER)
        }
    }
}

/// The window was closed (destroyed): re-executes the app hidden once it has stayed
/// closed for [`after`] and nothing runs. A no-op outside Linux.
pub fn window_closed<R: Runtime>(app: &AppHandle<R>) {
    let close = CLOSES.fetch_add(1, Ordering::SeqCst) + 1;
    if !cfg!(target_os = "linux") {
        return;
    }
    let Some(after) = after() else { return };
    let app = app.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        loop {
            if CLOSES.load(Ordering::SeqCst) != close || app.get_webview_window(crate::window::MAIN).is_some() {
                return;
            }
            let Some(state) = app.try_state::<Arc<AppState>>() else { return };
            if relaunch_when_idle(&state) {
                return;
            }
            std::thread::sleep(BUSY_RETRY);
        }
    });
}

/// Re-executes the app hidden unless a job or push runs; `false` when something runs (or
/// the exec failed: then the app goes on as it is, logged).
fn relaunch_when_idle(state: &AppState) -> bool {
    let schedulers = state.schedulers();
    let held: Vec<_> = schedulers.iter().filter_map(|s| s.try_idle()).collect();
    if held.len() < schedulers.len() || schedulers.iter().any(|s| s.offsite().running()) {
        return false;
    }
    let exe = match std::env::current_exe() {
        // An upgrade replaced the binary: `/proc/self/exe` names the deleted file.
        Ok(p) if p.is_file() => p,
        Ok(p) => {
            tracing::info!("not relaunching: {} is gone (replaced by an upgrade?)", p.display());
            return true;
        }
        Err(e) => {
            tracing::warn!("not relaunching: cannot find the app's binary: {e}");
            return true;
        }
    };
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if !args.iter().any(|a| a == crate::autostart::HIDDEN_ARG) {
        args.push(crate::autostart::HIDDEN_ARG.into());
    }
    tracing::info!("window closed and nothing running: relaunching hidden to give WebKit's memory back");
    exec(&exe, &args);
    drop(held);
    true
}

#[cfg(unix)]
fn exec(exe: &std::path::Path, args: &[std::ffi::OsString]) {
    use std::os::unix::process::CommandExt;
    #[cfg(target_os = "linux")]
    end_webkit_children();
    flush_log();
    // Returns only when the exec failed; the process goes on as it was, its log closed.
    let e = std::process::Command::new(exe).args(args).exec();
    eprintln!("lifeboat-app: cannot relaunch {}: {e}", exe.display());
}

#[cfg(not(unix))]
fn exec(_exe: &std::path::Path, _args: &[std::ffi::OsString]) {}

/// Ends and reaps this process's WebKit children (the network process outlives the
/// webview). After the exec nothing would reap them: each would stay a zombie.
#[cfg(target_os = "linux")]
fn end_webkit_children() {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    let kids: Vec<libc::pid_t> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            // "PID (COMM) STATE PPID ...": COMM may hold spaces, so split after the last ')'.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            stat.contains("(WebKit") && ppid == Some(me.as_str())
        })
        .collect();
    for &pid in &kids {
        // SAFETY: signals a child of this process found just above.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    for pid in kids {
        let reaped = (0..40).any(|_| {
            // SAFETY: waits for a child of this process without blocking.
            let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            if r == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            r != 0 // reaped, or not ours to reap any more (ECHILD)
        });
        if !reaped {
            tracing::warn!("WebKit process {pid} did not end on SIGTERM within 2 s; killing it");
            // SAFETY: as above; the blocking wait returns at once after SIGKILL.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}
