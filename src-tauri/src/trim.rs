//! Giving back the memory an idle app does not use (Linux). [`FIRST`] after the start and
//! then every [`EVERY`], while the window is closed and no job or push runs, the app
//! asks the kernel to reclaim the pages of its mapped files that it has stopped using:
//! `madvise(MADV_PAGEOUT)` (Linux 5.4 and later) over every read-only file mapping (the
//! code and read-only data of its binary and libraries), and `malloc_trim` for the heap.
//!
//! Why: most of the idle app's resident memory is such pages (measured by
//! `bench/idle.sh`, "Private_Clean" in `/proc/PID/smaps`): code that ran once at the start,
//! in its own 40 MB binary and in WebKitGTK, whose libraries an idle tray app keeps
//! loaded. They are clean copies of files on disk, so the kernel drops them instead of
//! writing them anywhere, and the next use reads them back (a minor fault while they are
//! still in the page cache). Pages another process also maps stay mapped (the kernel
//! skips them), and anonymous memory (heap, stacks) is not touched by the `madvise`:
//! paging it out would mean swap. It is the same reclaim the kernel does under memory
//! pressure, done for a process that knows it is idle, as Android does for cached apps.

use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

/// The first trim, after the start's backup and page load have usually settled.
pub const FIRST: Duration = Duration::from_secs(20);
/// The trims after that: a scheduler tick or a tray menu brings a few pages back between them.
pub const EVERY: Duration = Duration::from_secs(300);

/// Starts the trims (a thread that sleeps between them). A no-op outside Linux.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let app = app.clone();
    std::thread::Builder::new()
        .name("lifeboat-trim".into())
        .spawn(move || {
            std::thread::sleep(FIRST);
            loop {
                let idle = app.get_webview_window(crate::window::MAIN).is_none()
                    && app.try_state::<Arc<AppState>>().is_some_and(|s| {
                        s.schedulers().iter().all(|s| s.running().is_none() && !s.offsite().running())
                    });
                if idle {
                    let kib = page_out_file_mappings();
                    trim_heap();
                    tracing::debug!("idle: asked the kernel to reclaim {kib} KiB of file mappings");
                }
                std::thread::sleep(EVERY);
            }
        })
        .expect("a thread starts");
}

/// `madvise(MADV_PAGEOUT)` over this process's read-only file mappings; returns their
/// size in KiB (what was offered, not what the kernel reclaimed). Errors (an older kernel:
/// `EINVAL`) are ignored: the pages then stay, as before.
#[cfg(target_os = "linux")]
fn page_out_file_mappings() -> u64 {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return 0 };
    let mut offered = 0;
    for line in maps.lines() {
        // "START-END PERMS OFFSET DEV INODE PATH"
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms), Some(_), Some(_), Some(inode), Some(path)) =
            (fields.next(), fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if inode == "0" || !path.starts_with('/') || perms.as_bytes().get(1) != Some(&b'-') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
            continue;
        };
        // SAFETY: a hint over a whole mapping of this process, as /proc/self/maps lists it;
        // MADV_PAGEOUT never changes the mapping's contents, only where they are kept.
        let r = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        if r == 0 {
            offered += ((end - start) / 1024) as u64;
        }
    }
    offered
}

#[cfg(not(target_os = "linux"))]
fn page_out_file_mappings() -> u64 {
    0
}

/// Hands the heap's free memory back to the system (glibc).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
