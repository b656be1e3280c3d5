//! The real app, end to end: the built `lifeboat-app` started by tauri-driver and
//! WebKitWebDriver under Xvfb, driven through its window like a user (type, click), with
//! HOME, the config and the data dir in temp folders and seed-shaped app data. Each test
//! checks the files on disk as well as what the window shows, and saves a screenshot of
//! each state under `target/e2e-screenshots/<test>/` after checking that nothing in the
//! window sticks out sideways.
//!
//! Run: `xvfb-run -a dbus-run-session -- cargo test -p lifeboat-app --test e2e` (or `make test`).

mod common;
#[path = "e2e/harness.rs"]
mod harness;

use std::fs;
use std::path::Path;

use common::seed::{
    audio_name, count_files, count_rows, diff, files_under, illugen_dir, APP_DIR, AUDIO, DB_NAME, ILLUGEN, SEED, TABLE,
};
use common::Sandbox;
use harness::{sandbox, App};
use serde_json::json;

const DB_ROWS: i64 = SEED.rows;
const AUDIO_FILES: usize = SEED.audio_files;
const ILLUGEN_FILES: usize = SEED.illugen_files;

const INCLUDE: &str = "drumgen.db, audio_files, illugen_audio";

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn card(name: &str) -> String {
    format!(".backup-card[data-name=\"{name}\"]")
}

/// Fills the first-run form by typing (the native folder pickers can't be driven) and saves.
async fn fill_setup(app: &mut App, sb: &Sandbox, shoot: bool) {
    app.wait_visible("#setup-form").await;
    app.type_into("#source", path(&sb.data.root)).await;
    app.type_into("#include", INCLUDE).await;
    app.type_into("#destination", path(&sb.destination)).await;
    if shoot {
        app.shot("setup-filled").await;
    }
    app.click("#setup-save").await;
    app.wait_js(
        "the main view after setup",
        "return document.querySelector('#tab-backups') && !document.querySelector('#setup-form') ? true : null",
        &[],
    )
    .await;
}

/// First run through the window, then the backup the app makes as soon as it is set up.
async fn set_up(app: &mut App, sb: &Sandbox) -> String {
    fill_setup(app, sb, false).await;
    let names = app.protected_with(1).await;
    assert_eq!(sb.backups(), names, "the card is the backup folder on the drive");
    names[0].clone()
}

/// The counts a card shows, as `(data attribute, text)` pairs.
async fn card_counts(app: &App, name: &str) -> Vec<(Option<String>, Option<String>)> {
    let c = card(name);
    let mut out = Vec::new();
    for css in
        [format!("{c} .files-count[data-item=\"{AUDIO}\"]"), format!("{c} .files-count[data-item=\"{ILLUGEN}\"]")]
    {
        out.push((app.attr(&css, "data-count").await, app.text(&css).await));
    }
    let rows = format!("{c} .db-rows[data-db=\"{DB_NAME}\"][data-table=\"{TABLE}\"]");
    out.push((app.attr(&rows, "data-rows").await, app.text(&rows).await));
    out
}

fn expected_counts(rows: i64) -> Vec<(Option<String>, Option<String>)> {
    [AUDIO_FILES.to_string(), ILLUGEN_FILES.to_string(), rows.to_string()]
        .into_iter()
        .map(|n| (Some(n.clone()), Some(n)))
        .collect()
}

/// Rows of `test_results` in a backed-up database file.
fn rows_in(db: &Path) -> i64 {
    count_rows(&rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap())
}

/// Waits until the header's health is `state` (`backing_up`, `needs_attention`, ...).
async fn wait_health(app: &App, what: &str, state: &str) {
    app.wait_js(
        what,
        "return document.querySelector('#health')?.dataset.state === arguments[0] ? true : null",
        &[json!(state)],
    )
    .await;
}

#[tokio::test]
async fn first_run_setup_writes_the_config_and_shows_the_main_view() {
    let sb = sandbox();
    assert!(!sb.config.exists());
    let mut app = App::launch(&sb, "setup").await;

    app.wait_visible("#setup-form").await;
    assert_eq!(app.text("#state").await.as_deref(), Some("Set up Lifeboat"));
    assert_eq!(app.attr("#health", "data-state").await.as_deref(), Some("setup"));
    assert_eq!(app.js("return document.querySelector('#tab-backups') === null", &[]).await, json!(true));
    app.shot("setup").await;

    fill_setup(&mut app, &sb, true).await;

    // The config file holds what was typed, in the engine's format.
    let config = lifeboat::Config::load(&sb.config).unwrap_or_else(|e| panic!("the saved config loads: {e}"));
    assert_eq!(config.profiles.len(), 1);
    let profile = &config.profiles[0];
    assert_eq!(profile.source, sb.data.root);
    assert_eq!(profile.include, vec![DB_NAME, AUDIO, ILLUGEN]);
    assert_eq!(profile.destination, sb.destination);
    assert_eq!((profile.every_hours, profile.keep), (12.0, 2), "the form's defaults");
    assert_eq!(profile.name, APP_DIR, "named after the source folder");

    // Launch at login is on after setup, and its entry went to the sandbox's HOME.
    let entry = sb.home.join(".config/autostart/Lifeboat.desktop");
    let entry_text = fs::read_to_string(&entry).unwrap_or_else(|e| panic!("autostart entry {}: {e}", entry.display()));
    assert!(entry_text.contains("lifeboat-app"), "{entry_text}");

    // Set up, the app protects the data at once: the main view with the first backup.
    let names = app.protected_with(1).await;
    assert_eq!(sb.backups(), names);
    assert_eq!(app.text("#state").await.as_deref(), Some("Protected"));
    assert_eq!(app.text("#profile-name").await.as_deref(), Some(APP_DIR));
    assert_eq!(app.text("#last-error").await.as_deref(), Some(""));
    let last = app.attr("#last-backup time", "datetime").await;
    assert!(last.is_some_and(|t| t.starts_with("20")), "#last-backup shows a time");
    assert!(app.is_enabled("#backup-now").await);
    assert_eq!(card_counts(&app, &names[0]).await, expected_counts(DB_ROWS));
    app.shot("protected").await;

    // The settings tab shows the saved profile.
    app.click("#tab-settings").await;
    app.wait_visible("form#settings").await;
    let source = app.js("return document.querySelector('#source').value", &[]).await;
    assert_eq!(source, json!(path(&sb.data.root)));
    let dest = app.js("return document.querySelector('#destination').value", &[]).await;
    assert_eq!(dest, json!(path(&sb.destination)));
    let chips =
        app.js("return [...document.querySelectorAll('.chip[data-item]')].map((c) => c.dataset.item)", &[]).await;
    assert_eq!(chips, json!([DB_NAME, AUDIO, ILLUGEN]));
    app.shot("settings").await;

    // And the activity tab the run that made the backup.
    app.click("#tab-activity").await;
    app.wait_visible("#activity li.run[data-outcome=success]").await;
    app.shot("activity").await;

    app.quit().await;
}

#[tokio::test]
async fn back_up_now_makes_a_backup_and_its_card_shows_the_counts() {
    let sb = sandbox();
    let mut app = App::launch(&sb, "backup-now").await;
    let first = set_up(&mut app, &sb).await;

    // A command before each backup keeps this one running long enough to be seen.
    app.click("#tab-settings").await;
    app.click("details.advanced > summary").await;
    app.type_into("#before-backup", "sleep 3").await;
    app.click("#save-settings").await;
    app.wait_text("#settings-saved", "the settings saved", |t| !t.is_empty()).await;
    let config = lifeboat::Config::load(&sb.config).unwrap();
    assert_eq!(config.profiles[0].before_backup.as_deref(), Some("sleep 3"));
    app.click("#tab-backups").await;

    app.click("#backup-now").await;
    wait_health(&app, "the header to show the backup running", "backing_up").await;
    assert_eq!(app.text("#state").await.as_deref(), Some("Backing up"));
    assert!(!app.is_enabled("#backup-now").await, "Back up now is disabled while a backup runs");
    app.wait_visible("#progress").await;
    app.shot("backing-up").await;

    let names = app.protected_with(2).await;
    assert_eq!(names[1], first, "newest first");
    let name = names[0].clone();
    assert_eq!(sb.backups(), {
        let mut n = names.clone();
        n.sort();
        n
    });

    // The backup folder on the drive: complete, from this click, with everything in it.
    let dir = sb.destination.join(&name);
    let manifest = fs::read_to_string(dir.join("manifest.json")).expect("the backup has its manifest");
    assert!(manifest.contains("\"manual\""), "trigger is manual: {manifest:.400}");
    assert_eq!(count_files(&dir.join(AUDIO)), AUDIO_FILES);
    assert_eq!(count_files(&dir.join(ILLUGEN)), ILLUGEN_FILES);
    assert_eq!(rows_in(&dir.join(DB_NAME)), DB_ROWS, "rows still in the -wal are in the copy");

    // Its card shows the right numbers.
    assert_eq!(card_counts(&app, &name).await, expected_counts(DB_ROWS));
    let c = card(&name);
    assert!(app.attr(&format!("{c} .db[data-db=\"{DB_NAME}\"] .integrity.ok"), "class").await.is_some());
    assert!(app.attr(&format!("{c} .trigger-manual"), "class").await.is_some(), "the card says Manual");
    assert!(app.is_enabled(&format!("{c} .restore-btn")).await && app.is_enabled(&format!("{c} .verify-btn")).await);
    let action = app.text("#action-status").await.unwrap_or_default();
    assert!(action.contains("Backup complete"), "{action}");
    app.shot("protected-two-backups").await;

    app.quit().await;
}

#[tokio::test]
async fn restore_brings_the_data_back_and_shows_the_safety_snapshot() {
    let sb = sandbox();
    let before_files = sb.data.files();
    let before_rows = sb.data.db_contents();
    let digest = sb.data.digest();
    let mut app = App::launch(&sb, "restore").await;
    let name = set_up(&mut app, &sb).await;

    // The app's data changes: rows deleted (through the app's own open connection),
    // files deleted, changed and added.
    sb.data.conn.execute("DELETE FROM test_results WHERE id > 200", []).unwrap();
    assert_eq!(sb.data.rows(), 200);
    let root = &sb.data.root;
    for i in [1, 2, 3, 40, 239] {
        fs::remove_file(root.join(AUDIO).join(audio_name(i))).unwrap();
    }
    for d in [0, 7, 100] {
        let file = root.join(ILLUGEN).join(illugen_dir(d)).join("take 1.wav");
        let mut bytes = fs::read(&file).unwrap();
        bytes.extend_from_slice(b" re-recorded");
        fs::write(&file, bytes).unwrap();
    }
    fs::write(root.join(AUDIO).join("new take.wav"), b"RIFF new").unwrap();
    fs::create_dir_all(root.join(ILLUGEN).join("new note")).unwrap();
    fs::write(root.join(ILLUGEN).join("new note/take 0.wav"), b"RIFF newer").unwrap();
    assert_ne!(sb.data.digest(), digest);

    // Restore…: the dialog says what will change and that a safety snapshot comes first.
    app.click(&format!("{} .restore-btn", card(&name))).await;
    app.wait_js(
        "the restore dialog's summary",
        "const d = document.querySelector('#restore-dialog');
         return d && d.open && d.dataset.phase === 'confirm' ? true : null",
        &[],
    )
    .await;
    let summary = app
        .js(
            "return Object.fromEntries([...document.querySelectorAll('#restore-summary li[data-change]')]
               .map((li) => [li.dataset.change, Number(li.dataset.count)]))",
            &[],
        )
        .await;
    assert_eq!(summary, json!({"put_back": 3, "bring_back": 5, "remove": 2, "databases": 1}));
    let text = app.text("#restore-dialog").await.unwrap_or_default();
    assert!(text.contains("safety snapshot"), "{text}");
    app.shot("restore-dialog").await;

    app.click("#restore-confirm").await;
    app.wait_js(
        "the restore to finish",
        "const p = document.querySelector('#restore-dialog')?.dataset.phase;
         return p === 'done' || p === 'failed' ? p : null",
        &[],
    )
    .await;
    let error = app.text("#restore-error").await.unwrap_or_default();
    assert_eq!(app.attr("#restore-dialog", "data-phase").await.as_deref(), Some("done"), "{error}");
    let safety = sb.folders("pre-restore_");
    assert_eq!(safety.len(), 1, "one safety snapshot on the drive: {safety:?}");
    let result = app.text("#restore-result").await.unwrap_or_default();
    assert!(result.contains(&safety[0]), "the result names the safety snapshot: {result}");
    app.shot("restore-done").await;

    // The data is back, byte for byte, and the database has its 241 rows.
    let after = sb.data.files();
    assert!(after == before_files, "files differ after the restore: {:?}", diff(&before_files, &after));
    assert_eq!(sb.data.rows(), DB_ROWS);
    assert_eq!(sb.data.db_contents(), before_rows);
    assert_eq!(sb.data.digest(), digest);
    assert_eq!(count_rows(&sb.data.conn), DB_ROWS, "the app's open connection sees the restored rows");

    // The safety snapshot is shown apart, holding the data as it was before the restore.
    app.click("#restore-cancel").await;
    app.wait_js("the dialog to close", "return document.querySelector('#restore-dialog').open ? null : true", &[])
        .await;
    app.wait_visible("#safety-section .backup-card[data-kind=\"pre-restore\"]").await;
    let shown = app.attr("#safety-section .backup-card", "data-name").await;
    assert_eq!(shown.as_deref(), Some(safety[0].as_str()));
    let rows = app.attr("#safety-section .db-rows[data-table=\"test_results\"]", "data-rows").await;
    assert_eq!(rows.as_deref(), Some("200"), "the snapshot holds the data from just before the restore");
    assert!(app.is_enabled("#safety-section .restore-btn").await, "the snapshot has its own restore button");
    assert_eq!(app.protected_with(1).await, vec![name.clone()], "the snapshot is not one of the backups");
    app.scroll_to("#safety-section").await;
    app.shot("safety-snapshot").await;

    println!("[restore] data digest {digest}");
    app.quit().await;
}

#[tokio::test]
async fn unplugged_destination_needs_attention_with_the_cause() {
    let sb = sandbox();
    let mut app = App::launch(&sb, "unplugged").await;
    let first = set_up(&mut app, &sb).await;

    // The drive goes away.
    let away = sb.drive.with_file_name("Backup drive (unplugged)");
    fs::rename(&sb.drive, &away).unwrap();
    app.click("#backup-now").await;
    wait_health(&app, "Needs attention", "needs_attention").await;
    assert_eq!(app.text("#state").await.as_deref(), Some("Needs attention"));
    let cause = app.wait_text("#last-error", "the cause in #last-error", |t| !t.is_empty()).await;
    assert!(cause.contains("not available"), "{cause}");
    assert!(cause.contains(path(&sb.destination)), "the cause names the destination: {cause}");
    let role = app.attr("#last-error", "role").await;
    assert_eq!(role.as_deref(), Some("alert"));
    assert!(!sb.drive.exists(), "nothing was created where the drive was");
    app.shot("needs-attention").await;

    // Plugged back in, Back up now works again and the alarm goes away.
    fs::rename(&away, &sb.drive).unwrap();
    app.click("#backup-now").await;
    let names = app.protected_with(2).await;
    assert_eq!(names[1], first);
    assert_eq!(app.text("#last-error").await.as_deref(), Some(""));
    app.shot("plugged-back").await;

    app.quit().await;
}

#[tokio::test]
async fn verify_shows_a_backup_with_a_flipped_byte_as_damaged() {
    let sb = sandbox();
    // In the dark: the window follows the system theme (and its layout is checked in it too).
    let mut app = App::launch_with(&sb, "verify", &[("GTK_THEME", "Adwaita:dark")]).await;
    let dark = app
        .js(
            "const bg = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number);
             return [matchMedia('(prefers-color-scheme: dark)').matches, Math.max(...bg)]",
            &[],
        )
        .await;
    assert_eq!(dark[0], json!(true), "a dark GTK theme reaches the webview");
    assert!(dark[1].as_u64().is_some_and(|v| v < 80), "the window is dark in a dark theme: background {dark}");
    let name = set_up(&mut app, &sb).await;
    let c = card(&name);
    let result = format!("{c} .verify-result");

    // Intact first: Verify says so.
    app.click(&format!("{c} .verify-btn")).await;
    app.wait_visible(&result).await;
    assert_eq!(app.attr(&result, "data-ok").await.as_deref(), Some("true"), "{:?}", app.text(&result).await);

    // One byte flips inside the backup.
    let rel = format!("{ILLUGEN}/{}/take 1.wav", illugen_dir(7));
    let file = sb.destination.join(&name).join(&rel);
    let mut bytes = fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    fs::write(&file, &bytes).unwrap();

    app.click(&format!("{c} .verify-btn")).await;
    app.wait_js(
        "Verify to report the damage",
        "return document.querySelector(arguments[0])?.dataset.ok === 'false' ? true : null",
        &[json!(result)],
    )
    .await;
    let text = app.text(&result).await.unwrap_or_default();
    assert!(text.contains("Damaged"), "{text}");
    assert!(text.contains(&rel), "the damaged file is named: {text}");
    assert_eq!(app.attr(&result, "role").await.as_deref(), Some("alert"));
    app.scroll_to(&result).await;
    app.shot("verify-damaged").await;

    app.quit().await;
}

/// Opens Browse… on backup `name`, and in it the top-level folder `folder`; waits for its entries.
async fn browse_folder(app: &App, name: &str, folder: &str) {
    app.click(&format!("{} .browse-btn", card(name))).await;
    app.wait_js(
        "the browser's top level",
        "const d = document.querySelector('#browse-dialog');
         return d && d.open && d.dataset.name === arguments[0]
           && document.querySelector(`#browse-tree li.entry[data-path=\"${arguments[1]}\"]`) ? true : null",
        &[json!(name), json!(folder)],
    )
    .await;
    app.click(&format!("#browse-tree li.entry[data-path=\"{folder}\"] > .entry-row > .entry-toggle")).await;
    app.wait_js(
        "the folder's entries",
        "return document.querySelector(`#browse-tree li.entry[data-path=\"${arguments[0]}\"][data-loaded=true]`)
           ? true : null",
        &[json!(folder)],
    )
    .await;
}

/// The browser's entry named `file_name` (in a loaded folder): its data-path and state words.
async fn entry(app: &App, file_name: &str) -> (String, String, String) {
    let v = app
        .js(
            "const li = [...document.querySelectorAll('#browse-tree li.entry')].find((e) => e.dataset.name === arguments[0]);
             return li ? [li.dataset.path, li.dataset.state, li.querySelector('.entry-state').textContent] : null",
            &[json!(file_name)],
        )
        .await;
    serde_json::from_value(v).unwrap_or_else(|e| panic!("no entry {file_name} in the browser: {e}"))
}

/// Waits for the restore dialog to reach `confirm`; its scope sentence and summary counts.
async fn restore_preview(app: &App) -> (String, serde_json::Value) {
    app.wait_js(
        "the restore dialog's preview",
        "const d = document.querySelector('#restore-dialog');
         return d && d.open && d.dataset.phase === 'confirm' ? true : null",
        &[],
    )
    .await;
    let scope = app.text("#restore-scope").await.unwrap_or_default();
    let summary = app
        .js(
            "return Object.fromEntries([...document.querySelectorAll('#restore-summary li[data-change]')]
               .map((li) => [li.dataset.change, Number(li.dataset.count)]))",
            &[],
        )
        .await;
    (scope, summary)
}

/// Confirms the restore dialog and waits until it is done (failing with its error otherwise).
async fn confirm_restore(app: &App) {
    app.click("#restore-confirm").await;
    let phase = app
        .wait_js(
            "the restore to finish",
            "const p = document.querySelector('#restore-dialog')?.dataset.phase;
             return p === 'done' || p === 'failed' ? p : null",
            &[],
        )
        .await;
    let error = app.text("#restore-error").await.unwrap_or_default();
    assert_eq!(phase, json!("done"), "{error}");
}

#[tokio::test]
async fn browse_restores_one_deleted_file_and_keeps_a_safety_snapshot() {
    let sb = sandbox();
    let mut app = App::launch(&sb, "browse-restore").await;
    let name = set_up(&mut app, &sb).await;

    // Two files deleted, one changed; only one deleted file is picked to come back.
    let root = &sb.data.root;
    let (wanted, other) = (audio_name(3), audio_name(40));
    let wanted_bytes = fs::read(root.join(AUDIO).join(&wanted)).unwrap();
    fs::remove_file(root.join(AUDIO).join(&wanted)).unwrap();
    fs::remove_file(root.join(AUDIO).join(&other)).unwrap();
    let changed = root.join(AUDIO).join(audio_name(7));
    let mut bytes = fs::read(&changed).unwrap();
    bytes.extend_from_slice(b" re-recorded");
    fs::write(&changed, &bytes).unwrap();

    browse_folder(&app, &name, AUDIO).await;
    let (path, state, words) = entry(&app, &wanted).await;
    assert_eq!((state.as_str(), words.as_str()), ("deleted", "deleted since"), "{path}");
    let (_, state, words) = entry(&app, &audio_name(7)).await;
    assert_eq!((state.as_str(), words.as_str()), ("changed", "changed"));
    let (_, state, words) = entry(&app, &audio_name(8)).await;
    assert_eq!((state.as_str(), words.as_str()), ("same", "same"));
    // The database shows its rows per table then and now, in the engine's words.
    let rows = app
        .text(&format!("#browse-tree li.entry[data-path=\"{DB_NAME}\"] .entry-tables li[data-table=\"{TABLE}\"]"))
        .await
        .unwrap_or_default();
    assert!(rows.contains(&format!("{DB_ROWS} rows, unchanged")), "{rows}");

    // The filter narrows the tree to what matches (folders with a match stay).
    app.type_into("#browse-filter", &wanted).await;
    let shown = app
        .js(
            "return [...document.querySelectorAll('#browse-tree li.entry')].filter((e) => !e.hidden)
               .map((e) => e.dataset.name)",
            &[],
        )
        .await;
    assert_eq!(shown, json!([AUDIO, wanted]));

    assert!(!app.is_enabled("#browse-restore").await, "nothing ticked: nothing to restore");
    let li = format!("#browse-tree li.entry[data-path=\"{path}\"]");
    app.click(&format!("{li} .entry-check")).await;
    assert_eq!(app.text("#browse-count").await.as_deref(), Some("1 item selected"));
    app.shot("browse-dialog").await;

    // Restore selected…: the same preview dialog, its scope naming only that file.
    app.click("#browse-restore").await;
    let (scope, summary) = restore_preview(&app).await;
    assert!(scope.contains(&format!("only {path} in place")), "{scope}");
    assert_eq!(summary, json!({"bring_back": 1}), "only what will happen is listed");
    app.shot("restore-selected-preview").await;
    confirm_restore(&app).await;

    // That file is back byte for byte; the rest is as it was (the other still deleted,
    // the changed one still changed).
    assert_eq!(fs::read(root.join(AUDIO).join(&wanted)).unwrap(), wanted_bytes);
    assert!(!root.join(AUDIO).join(&other).exists(), "only the ticked file came back");
    assert_eq!(fs::read(&changed).unwrap(), bytes, "the changed file was not ticked: left alone");
    let safety = sb.folders("pre-restore_");
    assert_eq!(safety.len(), 1, "one safety snapshot on the drive: {safety:?}");
    let result = app.text("#restore-result").await.unwrap_or_default();
    assert!(result.contains(&safety[0]), "the result names the safety snapshot: {result}");

    app.click("#restore-cancel").await;
    app.wait_visible("#safety-section .backup-card[data-kind=\"pre-restore\"]").await;
    let shown = app.attr("#safety-section .backup-card", "data-name").await;
    assert_eq!(shown.as_deref(), Some(safety[0].as_str()));

    // The card says what changed since it, in the engine's one line.
    let since = app
        .wait_js(
            "the card's since-line",
            "const p = document.querySelector(`.backup-card[data-name=\"${arguments[0]}\"] .since-line[data-loaded=true]`);
             return p ? p.textContent : null",
            &[json!(name)],
        )
        .await;
    let since = since.as_str().unwrap_or_default();
    // (Whether the open database counts as changed depends on its -wal: not pinned here.)
    assert!(since.starts_with("since then: ") && since.contains("changed, 1 deleted"), "{since}");
    app.shot("since-line").await;

    app.quit().await;
}

#[tokio::test]
async fn save_a_copy_of_a_folder_into_an_empty_folder() {
    let sb = sandbox();
    let copy = sb.root.path().join("Copy of the backup");
    fs::create_dir_all(&copy).unwrap();
    // The native folder picker cannot be driven: the app's test seam answers it instead.
    let mut app = App::launch_with(&sb, "save-copy", &[("LIFEBOAT_TEST_PICK_FOLDER", path(&copy))]).await;
    let name = set_up(&mut app, &sb).await;
    let digest = sb.data.digest();

    browse_folder(&app, &name, ILLUGEN).await;
    app.click(&format!("#browse-tree li.entry[data-path=\"{ILLUGEN}\"] > .entry-row > .entry-check")).await;
    // What a ticked folder covers shows ticked beneath it.
    let covered = app
        .js(
            "return [...document.querySelectorAll(`#browse-tree li.entry[data-path=\"${arguments[0]}\"] .tree-children .entry-check`)]
               .every((c) => c.checked && c.disabled)",
            &[json!(ILLUGEN)],
        )
        .await;
    assert_eq!(covered, json!(true));
    app.click("#browse-save").await;
    let (scope, summary) = restore_preview(&app).await;
    assert_eq!(summary, json!({"copy": ILLUGEN_FILES}));
    assert!(scope.contains(&format!("only {ILLUGEN} into {}", path(&copy))), "{scope}");
    assert!(scope.contains("not touched"), "{scope}");
    assert_eq!(app.text("#restore-confirm").await.as_deref(), Some("Save copy"));
    app.shot("save-copy-preview").await;
    confirm_restore(&app).await;
    assert_eq!(app.text("#restore-to").await.as_deref(), Some(path(&copy)));

    // The copy holds the folder byte for byte; the live data and the backups are untouched.
    let original = files_under(&sb.data.root.join(ILLUGEN));
    let copied = files_under(&copy.join(ILLUGEN));
    assert_eq!(copied.len(), ILLUGEN_FILES);
    assert!(copied == original, "the copy differs: {:?}", diff(&original, &copied));
    assert_eq!(files_under(&copy).len(), ILLUGEN_FILES, "only the ticked folder was copied");
    assert_eq!(sb.data.digest(), digest, "the live data is not touched");
    assert!(sb.folders("pre-restore_").is_empty(), "a copy needs no safety snapshot");
    app.shot("save-copy-done").await;

    app.quit().await;
}

/// Selects profile `name` in the switcher, as a user picking it from the list does.
async fn switch_profile(app: &App, name: &str) {
    app.js(
        "const s = document.querySelector('#profile-select'); s.value = arguments[0];
         s.dispatchEvent(new Event('change', { bubbles: true })); return null;",
        &[json!(name)],
    )
    .await;
}

/// The backup cards shown, once the header names profile `name` as protected and the
/// list shows `cards` cards (and, when given, exactly `names`: a switch reloads the list).
async fn showing(app: &App, name: &str, cards: usize, names: Option<&[String]>) -> Vec<String> {
    let v = app
        .wait_js(
            &format!("profile {name} with {cards} card(s) {names:?}"),
            "const cards = [...document.querySelectorAll('#backup-list .backup-card')].map((c) => c.dataset.name);
             const shown = document.querySelector('#profile-name')?.textContent;
             const state = document.querySelector('#health')?.dataset.state;
             const exact = arguments[2] === null || JSON.stringify(cards) === JSON.stringify(arguments[2]);
             return shown === arguments[0] && state === 'protected' && cards.length === arguments[1] && exact
               ? cards : null;",
            &[json!(name), json!(cards), json!(names)],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn add_a_second_profile_and_switch_between_them() {
    let sb = sandbox();
    let mut app = App::launch(&sb, "profiles").await;
    let first = set_up(&mut app, &sb).await;
    assert_eq!(app.attr("#profiles", "data-count").await.as_deref(), Some("1"));
    // The tray, as a desktop panel sees it: one profile, a plain "Back up now".
    let tray = common::dbusmenu::TrayHost::on(app.bus_address(), || {});
    let root = tray.wait("the tray menu", |root| root.find("Back up now").is_some());
    assert!(root.find("Back up now").unwrap().children.is_empty(), "{:?}", root.labels());

    // "Add profile": the same form, with a name; the new profile backs up at once.
    let other = common::seed::AppData::create(&sb.root.path().join(common::SECOND_NAME), common::SECOND);
    let other_dest = sb.drive.join("Field Recorder backups");
    app.click("#add-profile").await;
    app.wait_visible("#setup-form #name").await;
    assert_eq!(app.text("#setup-title").await.as_deref(), Some("Add a profile"));
    app.type_into("#name", common::SECOND_NAME).await;
    app.type_into("#source", path(&other.root)).await;
    app.type_into("#destination", path(&other_dest)).await;
    app.shot("add-profile").await;
    app.click("#setup-save").await;
    let second = showing(&app, common::SECOND_NAME, 1, None).await;
    assert_eq!(common::folders_in(&other_dest, "backup_"), second, "its backup is in its own destination");
    assert_eq!(sb.backups(), vec![first.clone()], "the first profile's destination has only its own");
    let config = lifeboat::Config::load(&sb.config).unwrap();
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [APP_DIR, common::SECOND_NAME]);
    assert_eq!(config.profiles[0].include, vec![DB_NAME, AUDIO, ILLUGEN], "the first profile is kept as it was");
    assert_eq!(app.attr("#profiles", "data-count").await.as_deref(), Some("2"));
    // The tray's menu was built again: "Back up now" is now a submenu of both, and All.
    let root = tray.wait("a Back up now submenu of both profiles", |root| {
        root.find("Back up now").is_some_and(|b| b.children.iter().any(|c| c.label == "All"))
    });
    let entries: Vec<&str> = root.find("Back up now").unwrap().children.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(entries, [APP_DIR, common::SECOND_NAME, "", "All"], "{:?}", root.labels());
    let card_counts_second = app.text(&format!("{} .files-count[data-item=\"{AUDIO}\"]", card(&second[0]))).await;
    assert_eq!(card_counts_second.as_deref(), Some(common::SECOND.audio_files.to_string().as_str()));
    app.shot("second-profile").await;

    // Switching shows each profile's own header, cards and settings.
    switch_profile(&app, APP_DIR).await;
    showing(&app, APP_DIR, 1, Some(std::slice::from_ref(&first))).await;
    assert_eq!(card_counts(&app, &first).await, expected_counts(DB_ROWS));
    app.click("#tab-settings").await;
    app.wait_js(
        "the first profile's settings",
        "return document.querySelector('#source')?.value === arguments[0] ? true : null",
        &[json!(path(&sb.data.root))],
    )
    .await;
    app.click("#tab-backups").await;
    app.shot("switched-to-first").await;

    // Back up now acts on the profile shown.
    app.click("#backup-now").await;
    let cards = showing(&app, APP_DIR, 2, None).await;
    assert_eq!(cards[1], first);
    assert_eq!(common::folders_in(&other_dest, "backup_"), second, "the other profile did not back up");

    switch_profile(&app, common::SECOND_NAME).await;
    showing(&app, common::SECOND_NAME, 1, Some(&second)).await;
    app.click("#tab-settings").await;
    app.wait_js(
        "the second profile's settings",
        "return document.querySelector('#source')?.value === arguments[0] ? true : null",
        &[json!(path(&other.root))],
    )
    .await;
    app.quit().await;
}

/// Whether the once-only background notice shows in the window.
async fn notice_shown(app: &App) -> bool {
    app.js("return !document.querySelector('#background-notice').hidden", &[]).await == json!(true)
}

#[tokio::test]
async fn with_no_tray_host_the_window_says_once_how_to_open_it_again() {
    let sb = sandbox();
    let marker = lifeboat_app::background::notice_marker(&sb.data_dir);
    fs::remove_file(&marker).unwrap();
    // The test's private bus has no StatusNotifier watcher: no panel would show the icon.
    let mut app = App::launch(&sb, "background-notice").await;
    app.wait_visible("#background-notice").await;
    let text = app.text("#background-notice p").await.unwrap_or_default();
    assert!(text.contains("keeps running in the background"), "{text}");
    assert!(text.contains("launch Lifeboat again from your app menu"), "{text}");
    assert!(marker.is_file(), "the notice is remembered once shown");
    app.shot("notice").await;
    app.click("#background-notice-ok").await;
    app.wait_js("the notice to close", "return document.querySelector('#background-notice').hidden", &[]).await;
    app.quit().await;

    // The next launch, still with no tray host: the window opens without the notice.
    let app = App::launch(&sb, "background-notice-again").await;
    app.wait_visible("#setup-form").await;
    assert!(!notice_shown(&app).await, "the notice is shown once only");
    app.quit().await;
}
