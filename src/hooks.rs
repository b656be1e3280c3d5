//! The profile's optional commands around a backup or restore, run with a timeout.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::config::Profile;
use crate::error::{Error, Result};

/// Which action a hook pair surrounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Backup,
    Restore,
}

/// Runs the `before_*` hook, then `action`, then the `after_*` hook.
///
/// # Errors
/// [`Error::Hook`] when a hook fails or times out (a failed before hook stops the
/// action); otherwise the action's own error. The after hook runs
/// whenever the before hook succeeded, also when the action failed (a server stopped
/// before a restore must be started again); it sees `LIFEBOAT_OUTCOME`.
pub fn around<T>(profile: &Profile, stage: Stage, action: impl FnOnce() -> Result<T>) -> Result<T> {
    let (before, after, verb) = match stage {
        Stage::Backup => (&profile.before_backup, &profile.after_backup, "backup"),
        Stage::Restore => (&profile.before_restore, &profile.after_restore, "restore"),
    };
    let timeout = Duration::from_secs(profile.hook_timeout_secs.max(1));
    if let Some(cmd) = before {
        run(&format!("before_{verb}"), cmd, profile, timeout, None)?;
    }
    let result = action();
    if let Some(cmd) = after {
        let outcome = if result.is_ok() { "success" } else { "failed" };
        let hook = run(&format!("after_{verb}"), cmd, profile, timeout, Some(outcome));
        if let (Ok(_), Err(e)) = (&result, hook) {
            return Err(e);
        }
    }
    result
}

/// Runs one hook through the platform shell (`sh -c`, `cmd /C`); its output goes to the
/// log. The hook sees `LIFEBOAT_PROFILE`, `LIFEBOAT_SOURCE`, `LIFEBOAT_DESTINATION`,
/// `LIFEBOAT_HOOK` and, after the action, `LIFEBOAT_OUTCOME` (`success` or `failed`).
///
/// # Errors
/// [`Error::Hook`] when it cannot start, exits non-zero (its last output line is
/// quoted) or runs longer than `timeout`.
pub fn run(name: &str, command: &str, profile: &Profile, timeout: Duration, outcome: Option<&str>) -> Result<()> {
    let fail = |message: String| Error::Hook { name: name.to_string(), message };
    tracing::info!(hook = name, "running `{command}`");
    let mut cmd = shell(command);
    cmd.env("LIFEBOAT_PROFILE", &profile.name)
        .env("LIFEBOAT_SOURCE", &profile.source)
        .env("LIFEBOAT_DESTINATION", &profile.destination)
        .env("LIFEBOAT_HOOK", name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(o) = outcome {
        cmd.env("LIFEBOAT_OUTCOME", o);
    }
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot start `{command}`: {e}")))?;
    let readers: Vec<_> = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    })
    .collect();
    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("`{command}` did not finish within {} s and was stopped", timeout.as_secs())));
        }
        Err(e) => return Err(fail(format!("cannot wait for `{command}`: {e}"))),
    };
    let output: Vec<String> = readers.into_iter().filter_map(|r| r.join().ok()).collect();
    let output = output.join("").trim().to_string();
    if !output.is_empty() {
        tracing::info!(hook = name, "output: {output}");
    }
    if status.success() {
        Ok(())
    } else {
        let last = output.lines().last().unwrap_or("no output");
        Err(fail(format!("`{command}` exited with {status}: {last}")))
    }
}

fn shell(command: &str) -> Command {
    #[cfg(windows)]
    {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    }
    #[cfg(not(windows))]
    {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::new("T", "/tmp/src", "/tmp/dst")
    }

    #[test]
    fn failing_before_hook_stops_the_action() {
        let mut p = profile();
        p.before_backup = Some("echo stopping; exit 3".into());
        let mut ran = false;
        let e = around(&p, Stage::Backup, || {
            ran = true;
            Ok(())
        })
        .unwrap_err();
        assert!(!ran);
        assert!(e.to_string().contains("before_backup"), "{e}");
        assert!(e.to_string().contains("stopping"), "{e}");
    }

    #[test]
    fn after_hook_runs_after_a_failure_and_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("outcome");
        let mut p = profile();
        p.after_restore = Some(format!("echo $LIFEBOAT_OUTCOME > '{}'", marker.display()));
        let r: Result<()> = around(&p, Stage::Restore, || Err(Error::Internal { message: "boom".into() }));
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(marker).unwrap().trim(), "failed");
    }

    #[test]
    fn slow_hook_times_out() {
        let mut p = profile();
        p.hook_timeout_secs = 1;
        p.before_backup = Some("sleep 30".into());
        let t = std::time::Instant::now();
        let e = around(&p, Stage::Backup, || Ok(())).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(e.to_string().contains("did not finish"), "{e}");
    }
}
