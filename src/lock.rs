//! One writer per destination, across processes: an OS file lock on `.lifeboat.lock`.
//!
//! The OS releases the lock when its process dies, so a lock left by a killed run is
//! simply taken over; the pid and host written inside are for the error message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::layout::LOCK_FILE;

/// Held while a backup or restore runs; released on drop.
#[derive(Debug)]
pub struct DestinationLock {
    file: File,
}

impl DestinationLock {
    /// Takes the lock of `destination` for `what` ("a backup", "a restore").
    ///
    /// # Errors
    /// [`Error::Busy`] naming the pid, host and action of the holder; I/O errors on the
    /// lock file.
    pub fn acquire(destination: &Path, what: &str) -> Result<DestinationLock> {
        let path = destination.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at("open lock file", &path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let mut parts = holder.split_whitespace();
                let pid = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                let host = parts.next().unwrap_or("unknown host").to_string();
                let what_running = parts.collect::<Vec<_>>().join(" ");
                return Err(Error::Busy {
                    what: if what_running.is_empty() { "a backup or restore".into() } else { what_running },
                    path: destination.to_path_buf(),
                    pid,
                    host,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        let me = format!("{} {} {}\n", std::process::id(), crate::fsx::host_name(), what);
        file.set_len(0).at("write lock file", &path)?;
        file.seek(SeekFrom::Start(0)).at("write lock file", &path)?;
        file.write_all(me.as_bytes()).at("write lock file", &path)?;
        let _ = file.sync_data();
        Ok(DestinationLock { file })
    }
}

impl Drop for DestinationLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_told_who_runs() {
        let dir = tempfile::tempdir().unwrap();
        let first = DestinationLock::acquire(dir.path(), "a backup").unwrap();
        let e = DestinationLock::acquire(dir.path(), "a backup").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("a backup is already running"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        DestinationLock::acquire(dir.path(), "a restore").unwrap();
    }
}
