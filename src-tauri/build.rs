//! Generates the app's command permissions (`allow-<command>`) for the capability file.

/// Every command the window may call: the list in docs/app-api.md.
const COMMANDS: &[&str] = &[
    "get_status",
    "list_backups",
    "backup_now",
    "verify_backup",
    "restore_preview",
    "restore_backup",
    "list_entries",
    "diff_backup",
    "preview_restore",
    "restore_request",
    "get_settings",
    "save_settings",
    "add_profile",
    "test_offsite",
    "save_offsite",
    "remove_offsite",
    "list_offsite",
    "restore_offsite",
    "fetch_offsite",
    "pick_folder",
    "get_autostart",
    "set_autostart",
    "pause_backups",
    "resume_backups",
    "get_history",
    "open_backup_folder",
    "open_log_file",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}
