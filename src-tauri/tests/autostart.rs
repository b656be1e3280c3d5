//! Launch at login through the real autostart plugin in a (mock-runtime) Tauri app:
//! switching it on writes `~/.config/autostart/Lifeboat.desktop` whose `Exec` runs the
//! program with `--hidden` (start in the tray, no window) even from a path with a space;
//! switching it off removes the entry.
//!
//! The plugin takes the program path from `current_exe()`, so the test runs a copy of
//! itself placed in a folder whose name has a space, with `HOME` in a temp folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use lifeboat_app::autostart::{self, LoginItem, PluginLoginItem};

const CHILD_ENV: &str = "LIFEBOAT_AUTOSTART_TEST_CHILD";

/// In the child: enable, report the entry, disable, report again.
fn child(report: &Path) {
    let app = tauri::test::mock_builder()
        .plugin(autostart::plugin())
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .expect("mock app");
    let login = PluginLoginItem(app.handle().clone());
    assert!(!login.enabled(), "a fresh HOME has no login entry");
    assert!(login.set(true).expect("enable"));
    assert!(login.enabled());
    let entry = autostart::linux_entry_path().unwrap();
    let text = std::fs::read_to_string(&entry).expect("entry written");
    std::fs::write(report.join("entry.desktop"), &text).unwrap();
    assert!(!login.set(false).expect("disable"));
    std::fs::write(report.join("after-disable"), if entry.exists() { "present" } else { "absent" }).unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn enabling_writes_a_quoted_entry_and_disabling_removes_it() {
    if let Some(report) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&report));
        return;
    }
    // A hard link keeps current_exe() at the spaced path (a symlink would resolve away).
    let scratch = tempfile::Builder::new().prefix("autostart").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let app_dir = scratch.path().join("My Apps/Life boat");
    std::fs::create_dir_all(&app_dir).unwrap();
    let exe: PathBuf = app_dir.join("lifeboat-app test");
    let me = std::env::current_exe().unwrap();
    if std::fs::hard_link(&me, &exe).is_err() {
        std::fs::copy(&me, &exe).unwrap();
    }
    let home = scratch.path().join("home");
    let report = scratch.path().join("report");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&report).unwrap();
    let out = Command::new(&exe)
        .args(["--exact", "enabling_writes_a_quoted_entry_and_disabling_removes_it", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &report)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let text = std::fs::read_to_string(report.join("entry.desktop")).unwrap();
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line");
    assert_eq!(exec, format!("\"{}\" --hidden", exe.display()), "entry:\n{text}");
    assert_eq!(
        autostart::parse_exec(exec),
        vec![exe.display().to_string(), autostart::HIDDEN_ARG.to_string()],
        "a launcher runs exactly this program, hidden"
    );
    assert!(text.contains("[Desktop Entry]") && text.contains("Type=Application"), "{text}");
    assert_eq!(std::fs::read_to_string(report.join("after-disable")).unwrap(), "absent");
    assert!(home.join(".config/autostart").is_dir(), "the entry went to $HOME/.config/autostart");
}
