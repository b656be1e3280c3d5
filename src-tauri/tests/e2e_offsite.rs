//! The offsite copy in the real window, end to end, against a real S3 server (SeaweedFS,
//! started by the test on free ports: `../tests/common/s3.rs`). The built app is driven
//! through WebDriver like `e2e.rs`: the offsite settings are typed and tested (a new
//! location, then a wrong password in plain words), saved (the repository is created,
//! `[profile.offsite]` written without secrets, the running app pushes at once), *Back up
//! now* is pushed in the background and its card says "offsite", and *Restore from
//! offsite…* brings that backup back into a picked folder byte for byte.
//!
//! The secrets go where the window puts them: the keychain (here the engine's in-memory
//! mock keychain, `LIFEBOAT_OFFSITE_KEYCHAIN=mock`, as there is no Secret Service under
//! Xvfb); none come from the environment.
//!
//! Run: `xvfb-run -a dbus-run-session -- cargo test -p lifeboat-app --test e2e_offsite`.

mod common;
#[path = "e2e/harness.rs"]
mod harness;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
use common::seed::{diff, files_under};
use common::Sandbox;
use harness::{sandbox, App};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";
const INCLUDE: &str = "drumgen.db, audio_files, illugen_audio";
/// A push (scrypt, upload, retention, a check) on a loaded 2-core machine.
const PUSH_WAIT: Duration = Duration::from_secs(180);

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

fn card(name: &str) -> String {
    format!(".backup-card[data-name=\"{name}\"]")
}

/// First run through the window; waits for the backup the app makes once set up.
async fn set_up(app: &App, sb: &Sandbox) -> String {
    app.wait_visible("#setup-form").await;
    app.type_into("#source", path(&sb.data.root)).await;
    app.type_into("#include", INCLUDE).await;
    app.type_into("#destination", path(&sb.destination)).await;
    app.click("#setup-save").await;
    app.protected_with(1).await[0].clone()
}

/// Clicks `button` in the offsite form and waits for its outcome: `(ok, text)`.
async fn offsite_outcome(app: &App, button: &str) -> (bool, String) {
    app.click(button).await;
    let ok = app
        .wait_js(
            "the offsite form's outcome",
            "const r = document.querySelector('#offsite-result');
             return r && !r.dataset.running && r.dataset.ok ? r.dataset.ok : null",
            &[],
        )
        .await;
    (ok == json!("true"), app.text("#offsite-result").await.unwrap_or_default())
}

/// Scrolls the offsite form's outcome to the bottom of the window (for a screenshot).
async fn show_result(app: &App) {
    app.js("document.querySelector('#offsite-result').scrollIntoView({ block: 'end' }); return null;", &[]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Opens "Restore from offsite…" and waits for its list of snapshots.
async fn open_offsite_dialog(app: &App) {
    app.click("#offsite-restore-open").await;
    app.wait_js(
        "the offsite snapshots",
        "const d = document.querySelector('#offsite-dialog');
         return d && d.open && d.dataset.phase === 'list' ? true : null",
        &[],
    )
    .await;
}

/// Waits for the dialog's action (`what`) to end, and asserts it ended done, showing the
/// dialog's error when not.
async fn wait_offsite_done(app: &App, what: &str) {
    let phase = app
        .wait_js(
            &format!("{what} to finish"),
            "const d = document.querySelector('#offsite-dialog');
             const p = d?.dataset.phase;
             return p === 'done' || (p === 'list' && document.querySelector('#offsite-restore-error').textContent)
               ? p : null",
            &[],
        )
        .await;
    let error = app.text("#offsite-restore-error").await.unwrap_or_default();
    assert_eq!(phase, json!("done"), "{what}: {error}");
}

/// Waits (up to [`PUSH_WAIT`]) until the card of `name` carries the "offsite" badge.
async fn wait_offsite_badge(app: &App, name: &str) {
    let started = Instant::now();
    let css = format!("{} .offsite-badge", card(name));
    loop {
        if app.text(&css).await.as_deref() == Some("offsite") {
            println!("[offsite] {name} offsite after {:.1} s", started.elapsed().as_secs_f64());
            return;
        }
        if started.elapsed() > PUSH_WAIT {
            panic!(
                "{name} not offsite within {PUSH_WAIT:?}: header offsite {:?} ({:?})\n{}",
                app.text("#offsite-state").await,
                app.attr("#offsite-state", "title").await,
                app.page_summary().await
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn offsite_settings_push_and_restore_from_offsite_in_the_window() {
    let Some(mut server) = S3Server::start() else { return };
    let repo = server.repo("window/drumgen");
    let sb = sandbox();
    let restored = sb.root.path().join("Restored from offsite");
    let mut app = App::launch_with(
        &sb,
        "offsite",
        &[
            ("LIFEBOAT_OFFSITE_KEYCHAIN", "mock"),
            // Nothing from the developer's shell: the secrets are the ones typed in the window.
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("LIFEBOAT_OFFSITE_PASSWORD", ""),
            ("LIFEBOAT_TEST_PICK_FOLDER", path(&restored)),
        ],
    )
    .await;
    let first = set_up(&app, &sb).await;
    assert!(app.js("return document.querySelector('.offsite-fact').hidden", &[]).await == json!(true));

    // The offsite settings: a location with nothing there yet.
    app.click("#tab-settings").await;
    app.scroll_to("form#offsite").await;
    app.type_into("#offsite-repository", &repo).await;
    app.type_into("#offsite-access-key-id", ACCESS_KEY).await;
    app.type_into("#offsite-secret-access-key", SECRET_KEY).await;
    app.type_into("#offsite-password", PASSWORD).await;
    app.type_into("#offsite-keep", "5").await;
    let (ok, text) = offsite_outcome(&app, "#offsite-test").await;
    assert!(ok && text.contains("no repository at this address yet"), "{text}");

    // Save: the repository is created and the config gets [profile.offsite], no secrets.
    let (ok, text) = offsite_outcome(&app, "#offsite-save").await;
    assert!(ok && text.contains("new offsite repository was created"), "{text}");
    let toml = fs::read_to_string(&sb.config).unwrap();
    let config = lifeboat::Config::load(&sb.config).unwrap();
    let offsite = config.profiles[0].offsite.clone().expect("[profile.offsite] written");
    assert_eq!((offsite.repository.as_str(), offsite.keep), (repo.as_str(), 5));
    for secret in [PASSWORD, SECRET_KEY, ACCESS_KEY] {
        assert!(!toml.contains(secret), "a secret in the config:\n{toml}");
    }
    let on = app.text("#offsite-on").await.unwrap_or_default();
    assert!(on.contains(&repo), "{on}");
    let placeholder = app.attr("#offsite-password", "placeholder").await.unwrap_or_default();
    assert!(placeholder.contains("Kept"), "the secrets are not sent back: {placeholder}");
    show_result(&app).await;
    app.shot("offsite-settings").await;

    // A wrong password for the repository now there: said in plain words.
    app.type_into("#offsite-password", "not the password").await;
    let (ok, text) = offsite_outcome(&app, "#offsite-test").await;
    assert!(!ok, "a wrong password is refused: {text}");
    let headline = app.text("#offsite-result .problem-headline").await.unwrap_or_default();
    assert!(headline.starts_with("Wrong password"), "{headline}");
    assert!(text.contains("wrong password for the offsite repository"), "{text}");
    assert_eq!(app.attr("#offsite-result", "role").await.as_deref(), Some("alert"));
    show_result(&app).await;
    app.shot("offsite-wrong-password").await;
    // The saved settings are untouched by a failed test.
    assert_eq!(lifeboat::Config::load(&sb.config).unwrap().profiles[0].offsite, Some(offsite.clone()));

    // Without a restart, the running app pushes the backup that was there...
    app.click("#tab-backups").await;
    wait_offsite_badge(&app, &first).await;
    app.wait_visible(".offsite-fact").await;
    // ...and after Back up now, the new one, in the background.
    app.click("#backup-now").await;
    let names = app.protected_with(2).await;
    let newest = names[0].clone();
    assert_ne!(newest, first);
    wait_offsite_badge(&app, &newest).await;
    let state = app
        .wait_js(
            "the header's offsite state after the push",
            "const d = document.querySelector('#offsite-state');
             return d && d.dataset.state === 'up_to_date' ? d.textContent : null",
            &[],
        )
        .await;
    assert!(state.as_str().is_some_and(|s| s.contains("ago") || s.contains("now")), "{state}");
    assert_eq!(app.text("#offsite-alert").await.as_deref(), Some(""));
    let tooltip = app.attr("#offsite-state", "title").await.unwrap_or_default();
    assert!(tooltip.starts_with("Offsite: last copy"), "{tooltip}");
    app.shot("offsite-badges").await;

    // Restore from offsite…: the remote snapshots, newest first, by their local names.
    open_offsite_dialog(&app).await;
    let listed = app
        .js("return [...document.querySelectorAll('#offsite-snapshots li.offsite-snapshot')].map((li) => li.dataset.backup)", &[])
        .await;
    assert_eq!(listed, json!([newest, first]));
    // The older one, to show it is the chosen one that comes back.
    app.click(&format!("#offsite-snapshots li.offsite-snapshot[data-backup=\"{first}\"] input.offsite-pick")).await;
    app.shot("offsite-restore-dialog").await;
    app.click("#offsite-restore").await;
    wait_offsite_done(&app, "the offsite restore").await;
    assert_eq!(app.text("#offsite-restore-to").await.as_deref(), Some(path(&restored)));
    let result = app.text("#offsite-restore-result").await.unwrap_or_default();
    assert!(result.contains("checked against the backup's manifest"), "{result}");
    app.shot("offsite-restore-done").await;

    // The folder holds that backup as it is on the drive, byte for byte.
    let local = files_under(&sb.destination.join(&first));
    let back = files_under(&restored);
    assert!(local.len() > 100, "{} files in the local backup", local.len());
    assert!(back == local, "the offsite restore differs: {:?}", diff(&local, &back));

    // "Bring back as a backup": the local copy of the older one is lost; the dialog brings
    // it back into the destination, where its card (and the usual Restore…) is again.
    app.click("#offsite-close").await;
    std::fs::remove_dir_all(sb.destination.join(&first)).unwrap();
    open_offsite_dialog(&app).await;
    app.click(&format!("#offsite-snapshots li.offsite-snapshot[data-backup=\"{first}\"] input.offsite-pick")).await;
    app.click("#offsite-fetch").await;
    wait_offsite_done(&app, "the fetch").await;
    let result = app.text("#offsite-restore-result").await.unwrap_or_default();
    assert!(result.contains(&format!("{first} is back in your backups")), "{result}");
    assert!(files_under(&sb.destination.join(&first)) == local, "the fetched backup is the pushed one");

    app.quit().await;
    server.stop();
}
