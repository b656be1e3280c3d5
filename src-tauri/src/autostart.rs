//! Launch at login through tauri-plugin-autostart, with the Linux entry's command quoted.
//! The login item starts Lifeboat with [`HIDDEN_ARG`]: into the tray, no window.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use lifeboat::Error;
use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// The name of the login entry (`~/.config/autostart/Lifeboat.desktop` on Linux).
pub const ENTRY_NAME: &str = "Lifeboat";

/// The argument the login item passes: start in the background, open no window.
pub const HIDDEN_ARG: &str = "--hidden";

/// Whether the app starts at login, and the switch for it.
pub trait LoginItem: Send + Sync {
    fn enabled(&self) -> bool;
    /// Turns launch at login on or off; returns the new state.
    fn set(&self, enabled: bool) -> Result<bool, Error>;
}

/// The autostart plugin, as configured for Lifeboat.
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    let builder = tauri_plugin_autostart::Builder::new().app_name(ENTRY_NAME).args([HIDDEN_ARG]);
    #[cfg(target_os = "macos")]
    let builder = builder.macos_launcher(tauri_plugin_autostart::MacosLauncher::LaunchAgent);
    builder.build()
}

/// The login item of a running app (the plugin must be registered).
pub struct PluginLoginItem<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> LoginItem for PluginLoginItem<R> {
    fn enabled(&self) -> bool {
        self.0.autolaunch().is_enabled().unwrap_or(false)
    }

    fn set(&self, enabled: bool) -> Result<bool, Error> {
        let manager = self.0.autolaunch();
        let result = if enabled { manager.enable() } else { manager.disable() };
        result.map_err(|e| Error::Internal { message: format!("cannot change launch at login: {e}") })?;
        #[cfg(target_os = "linux")]
        if enabled {
            if let Some(entry) = linux_entry_path() {
                fix_exec_line(&entry, &[HIDDEN_ARG]).map_err(|e| Error::io("fix the login entry", &entry, e))?;
            }
        }
        let now = manager.is_enabled().unwrap_or(enabled);
        tracing::info!("launch at login {}", if now { "on" } else { "off" });
        Ok(now)
    }
}

/// A login item that only remembers its state: for headless use and tests.
#[derive(Default)]
pub struct MemoryLoginItem(AtomicBool);

impl LoginItem for MemoryLoginItem {
    fn enabled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, enabled: bool) -> Result<bool, Error> {
        self.0.store(enabled, Ordering::SeqCst);
        Ok(enabled)
    }
}

/// Where the plugin writes the entry: `$HOME/.config/autostart/Lifeboat.desktop`.
pub fn linux_entry_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(Path::new(&home).join(".config/autostart").join(format!("{ENTRY_NAME}.desktop")))
}

/// The plugin writes `Exec=<path> <args joined by spaces>` unquoted, which breaks on a path
/// with a space; this rewrites the line with the program and each of `args` (what the
/// plugin was given) quoted per the Desktop Entry spec. Idempotent.
pub fn fix_exec_line(entry: &Path, args: &[&str]) -> std::io::Result<()> {
    let joined = args.join(" ");
    let text = std::fs::read_to_string(entry)?;
    let mut changed = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.strip_prefix("Exec=") {
            Some(value) if !value.trim_start().starts_with('"') => {
                changed = true;
                let value = value.trim();
                let program = value.strip_suffix(joined.as_str()).unwrap_or(value).trim_end();
                let mut line = format!("Exec={}", quote_exec_arg(program));
                for arg in args {
                    line.push(' ');
                    line.push_str(&quote_exec_arg(arg));
                }
                line
            }
            _ => line.to_string(),
        })
        .collect();
    if changed {
        std::fs::write(entry, lines.join("\n") + "\n")?;
    }
    Ok(())
}

/// One argument of an `Exec` key, quoted per the Desktop Entry spec: inside double quotes
/// `"`, `` ` ``, `$` and `\` are escaped; `%` is doubled; then the string-level escapes.
pub fn quote_exec_arg(arg: &str) -> String {
    const RESERVED: &[char] =
        &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];
    let quoted = if arg.contains(RESERVED) {
        let mut q = String::from("\"");
        for c in arg.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        arg.to_string()
    };
    let mut out = String::new();
    for c in quoted.replace('%', "%%").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Splits an `Exec` value back into arguments, as a desktop launcher does (string-level
/// escapes, then quoting, then `%%`); used to check [`quote_exec_arg`].
pub fn parse_exec(value: &str) -> Vec<String> {
    let mut unescaped = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('s') => unescaped.push(' '),
                Some('n') => unescaped.push('\n'),
                Some('t') => unescaped.push('\t'),
                Some('r') => unescaped.push('\r'),
                Some(other) => unescaped.push(other),
                None => {}
            }
        } else {
            unescaped.push(c);
        }
    }
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = unescaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let arg = current.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => arg.extend(chars.next()),
                        q => arg.push(q),
                    }
                }
            }
            ' ' | '\t' => args.extend(current.take()),
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    args.extend(current);
    args.into_iter().map(|a| a.replace("%%", "%")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_plain() {
        assert_eq!(quote_exec_arg("/usr/bin/lifeboat-app"), "/usr/bin/lifeboat-app");
    }

    #[test]
    fn spaces_and_specials_are_quoted_and_round_trip() {
        assert_eq!(quote_exec_arg("/opt/Life boat/lifeboat-app"), "\"/opt/Life boat/lifeboat-app\"");
        for path in ["/opt/Life boat/app", "/a \"b\"/c", "/x/$HOME/`y`", "/back\\slash dir/app", "/100% sure/app"] {
            assert_eq!(parse_exec(&quote_exec_arg(path)), vec![path.to_string()], "{path}");
        }
    }

    #[test]
    fn fix_up_quotes_the_plugin_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("Lifeboat.desktop");
        std::fs::write(
            &entry,
            "[Desktop Entry]\nType=Application\nExec=/opt/Life boat/lifeboat-app --hidden\nTerminal=false",
        )
        .unwrap();
        fix_exec_line(&entry, &[HIDDEN_ARG]).unwrap();
        fix_exec_line(&entry, &[HIDDEN_ARG]).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(text.contains("\nExec=\"/opt/Life boat/lifeboat-app\" --hidden\n"), "{text}");
        let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
        assert_eq!(parse_exec(exec), vec!["/opt/Life boat/lifeboat-app", "--hidden"]);
        assert!(text.starts_with("[Desktop Entry]\nType=Application\n"), "{text}");
    }
}
