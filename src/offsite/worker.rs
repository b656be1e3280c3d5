//! The background pusher the scheduler drives: after each completed local backup it
//! pushes whatever is pending, on its own thread (rustic_core blocks), so a local backup
//! never waits for the network. A failed push is retried with growing pauses; pausing
//! or quitting cancels the push in flight (its next upload fails), and the next push
//! resumes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::Profile;
use crate::error::{Error, Result};

use super::backend::Uploaded;

/// The first retry waits this long after a failed push; each further failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest wait between retries.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// The thread looks again at least this often (a sleeping laptop stops monotonic waits).
const LOOK_EVERY: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Inner {
    profile: Option<Profile>,
    requested: bool,
    paused: bool,
    stopped: bool,
    running: bool,
    failures: u32,
    retry_at: Option<Instant>,
    pushes: u64,
    /// What the push running now has uploaded so far.
    uploading: Option<Arc<Uploaded>>,
}

/// Told when a push starts (`true`) and when it ends (`false`), however it ended.
pub type PushObserver = Box<dyn Fn(bool) + Send + Sync>;

struct Shared {
    inner: Mutex<Inner>,
    wake: Condvar,
    cancel: Arc<AtomicBool>,
    first_retry: Duration,
    observer: Option<PushObserver>,
}

/// Pushes a profile's pending backups in the background, one push at a time.
pub struct Pusher {
    shared: Arc<Shared>,
}

impl Pusher {
    /// Starts the pusher's thread; it idles until [`Pusher::request`].
    pub fn start() -> Pusher {
        Self::with_first_retry(FIRST_RETRY)
    }

    /// As [`Pusher::start`], with the first retry after `first_retry` (tests).
    pub fn with_first_retry(first_retry: Duration) -> Pusher {
        Self::spawn(first_retry, None)
    }

    /// As [`Pusher::start`], telling `observer` when each push starts and ends (the
    /// scheduler turns that into an event, so a front end shows "uploading" and its end).
    pub fn observed(observer: PushObserver) -> Pusher {
        Self::spawn(FIRST_RETRY, Some(observer))
    }

    fn spawn(first_retry: Duration, observer: Option<PushObserver>) -> Pusher {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            wake: Condvar::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            first_retry,
            observer,
        });
        let worker = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name("lifeboat-offsite".into()).spawn(move || run(&worker));
        if let Err(e) = spawned {
            tracing::error!("offsite: cannot start the push thread: {e}");
        }
        Pusher { shared }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("offsite pusher state")
    }

    /// Asks for a push of `profile`'s pending backups. Returns at once; a push already
    /// running picks the request up when it ends. A profile without an offsite copy (it
    /// was turned off) stops the push in flight and any retry.
    pub fn request(&self, profile: &Profile) {
        if profile.offsite.is_none() {
            let mut s = self.inner();
            let had = s.profile.take().is_some();
            s.requested = false;
            s.retry_at = None;
            s.failures = 0;
            if had && s.running {
                self.shared.cancel.store(true, Ordering::SeqCst);
            }
            return;
        }
        let mut s = self.inner();
        s.profile = Some(profile.clone());
        s.requested = true;
        s.failures = 0;
        s.retry_at = None;
        drop(s);
        self.shared.wake.notify_all();
    }

    /// Pauses (`true`: the push in flight is cancelled) or resumes pushing.
    pub fn set_paused(&self, paused: bool) {
        let mut s = self.inner();
        if s.paused == paused {
            return;
        }
        s.paused = paused;
        if paused {
            self.shared.cancel.store(true, Ordering::SeqCst);
        } else if s.profile.is_some() {
            s.requested = true;
        }
        drop(s);
        self.shared.wake.notify_all();
    }

    /// Stops the thread, cancelling the push in flight.
    pub fn stop(&self) {
        self.inner().stopped = true;
        self.shared.cancel.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
    }

    /// Whether a push runs now.
    pub fn running(&self) -> bool {
        self.inner().running
    }

    /// Bytes the push running now has uploaded so far; `None` when none runs.
    pub fn uploading(&self) -> Option<u64> {
        self.inner().uploading.as_ref().map(|u| u.bytes.load(Ordering::Relaxed))
    }

    /// Pushes completed since the start (tests wait on it).
    pub fn pushes(&self) -> u64 {
        self.inner().pushes
    }

    /// Failed pushes in a row (reset by a success or a new request).
    pub fn failures(&self) -> u32 {
        self.inner().failures
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The wait after `failures` failures in a row: `first`, doubling, at most [`MAX_RETRY`].
pub fn backoff(first: Duration, failures: u32) -> Duration {
    first.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_RETRY.max(first))
}

fn run(shared: &Shared) {
    loop {
        let (profile, uploaded) = {
            let mut s = shared.inner.lock().expect("offsite pusher state");
            loop {
                if s.stopped {
                    return;
                }
                let retry_due = s.retry_at.is_some_and(|t| Instant::now() >= t);
                if !s.paused && s.profile.is_some() && (s.requested || retry_due) {
                    break;
                }
                let wait =
                    s.retry_at.map_or(LOOK_EVERY, |t| t.saturating_duration_since(Instant::now())).min(LOOK_EVERY);
                s = shared.wake.wait_timeout(s, wait.max(Duration::from_millis(10))).expect("offsite pusher state").0;
            }
            s.requested = false;
            s.retry_at = None;
            s.running = true;
            let uploaded = Arc::new(Uploaded::default());
            s.uploading = Some(Arc::clone(&uploaded));
            shared.cancel.store(false, Ordering::SeqCst);
            (s.profile.clone().expect("checked above"), uploaded)
        };
        shared.tell(true);
        let result = push_pending(&profile, Arc::clone(&shared.cancel), uploaded);
        let mut s = shared.inner.lock().expect("offsite pusher state");
        s.running = false;
        s.uploading = None;
        match result {
            Ok(()) => {
                s.failures = 0;
                s.pushes += 1;
            }
            Err(Error::OffsiteCancelled { .. }) => {
                tracing::info!("offsite: push cancelled; it resumes when pushing is resumed");
                s.requested = true;
            }
            Err(e) => {
                s.failures += 1;
                let wait = backoff(shared.first_retry, s.failures);
                tracing::warn!("offsite: push failed ({} in a row), retrying in {} s: {e}", s.failures, wait.as_secs());
                s.retry_at = Some(Instant::now() + wait);
            }
        }
        // Told after the lock is released: the observer may read the pusher's state.
        drop(s);
        shared.tell(false);
    }
}

impl Shared {
    fn tell(&self, pushing: bool) {
        if let Some(observer) = &self.observer {
            observer(pushing);
        }
    }
}

fn push_pending(profile: &Profile, cancel: Arc<AtomicBool>, uploaded: Arc<Uploaded>) -> Result<()> {
    let offsite = super::push::settings(profile)?;
    let secrets = match super::secrets::resolve(&offsite.repository, None) {
        Ok((s, _)) => s,
        Err(e) => {
            super::state::record_error(&profile.name, &offsite.repository, &e);
            return Err(e);
        }
    };
    let run = super::push::push_counting(profile, None, &secrets, cancel, Some(uploaded))?;
    for p in &run.pushed {
        tracing::info!("offsite: {} pushed ({} bytes uploaded, {:.1} s)", p.backup, p.uploaded_bytes, p.seconds);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        let f = Duration::from_secs(60);
        assert_eq!(backoff(f, 1), f);
        assert_eq!(backoff(f, 2), 2 * f);
        assert_eq!(backoff(f, 4), 8 * f);
        assert_eq!(backoff(f, 30), MAX_RETRY);
    }
}
