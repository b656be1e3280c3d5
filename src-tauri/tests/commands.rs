//! The command layer on real files: a temp config, seed-shaped source data, a real
//! destination, the engine's scheduler. The same functions the window's commands call.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::Sandbox;
use lifeboat::view::State;
use lifeboat::Pause;
use lifeboat::{BackupKind, BackupOutcome, Trigger};
use lifeboat_app::api::{self, ProfileSettings, Settings};
use lifeboat_app::autostart::MemoryLoginItem;
use lifeboat_app::state::AppState;

fn app_state(sb: &Sandbox) -> AppState {
    AppState::load(sb.config.clone(), &sb.data_dir, Arc::new(MemoryLoginItem::default()))
}

fn settings_for(sb: &Sandbox) -> Settings {
    Settings {
        configured: false,
        profile: Some(ProfileSettings {
            name: String::new(),
            source: sb.data.root.clone(),
            include: vec!["drumgen.db".into(), "audio_files".into(), " illugen_audio ".into(), "".into()],
            exclude: vec![],
            destination: sb.destination.clone(),
            every_hours: 12.0,
            keep: 2,
            before_backup: Some("  ".into()),
            after_backup: None,
            before_restore: None,
            after_restore: None,
            hook_timeout_secs: 300,
        }),
        notify_on_success: false,
        launch_at_login: true,
        config_path: PathBuf::new(),
        offsite: None,
    }
}

#[test]
fn status_before_and_after_setup() {
    let sb = Sandbox::new();
    let state = app_state(&sb);
    let before = api::get_status(&state);
    assert_eq!(before.view.state, State::Setup);
    assert!(before.status.is_none());
    let settings = api::get_settings(&state, None);
    assert!(!settings.configured && settings.profile.is_none());
    assert!(settings.launch_at_login, "the setup form offers launch at login, on");
    assert!(!api::get_autostart(&state));

    std::fs::create_dir_all(sb.destination.parent().unwrap()).unwrap();
    let saved = api::save_settings(&state, None, settings_for(&sb)).unwrap();
    assert!(saved.configured);
    let profile = saved.profile.unwrap();
    assert_eq!(profile.name, "DrumGen Scorer", "name taken from the source folder");
    assert_eq!(profile.include, ["drumgen.db", "audio_files", "illugen_audio"]);
    assert_eq!(profile.before_backup, None, "blank hook dropped");
    assert!(sb.config.is_file(), "config written");
    assert!(sb.destination.is_dir(), "destination created in its existing parent");
    assert!(api::get_autostart(&state), "first setup turns launch at login on");

    let after = api::get_status(&state);
    assert_eq!(after.view.state, State::NeedsAttention, "{after:?}");
    assert!(after.view.headline.starts_with("No backup yet"), "{}", after.view.headline);
    let status = after.status.unwrap();
    assert_eq!(status.destination, sb.destination);
    assert!(state.scheduler(None).unwrap().due_now(), "a new profile is due at once");

    // The saved config is what a restart loads.
    let reloaded = app_state(&sb);
    assert_eq!(api::get_settings(&reloaded, None).profile.unwrap().source, sb.data.root);

    // A later save applies the switch as given.
    let mut off = settings_for(&sb);
    off.launch_at_login = false;
    off.notify_on_success = true;
    let saved = api::save_settings(&state, None, off).unwrap();
    assert!(!saved.launch_at_login && saved.notify_on_success);
    assert!(!api::get_autostart(&state));
}

#[test]
fn invalid_settings_name_the_field() {
    let sb = Sandbox::new();
    let state = app_state(&sb);

    let mut s = settings_for(&sb);
    s.profile.as_mut().unwrap().destination = sb.root.path().join("no such drive/Backups/app");
    let e = api::save_settings(&state, None, s).unwrap_err();
    assert_eq!(e.kind.as_str(), "destination_unavailable");
    assert_eq!(e.field.as_deref(), Some("destination"));
    assert!(e.message.contains("no such drive"), "{}", e.message);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["kind"], "destination_unavailable");
    assert_eq!(json["field"], "destination");
    assert!(json["message"].as_str().unwrap().contains("is the drive connected"), "{json}");

    type Spoil = fn(&mut ProfileSettings);
    let cases: [(&str, Spoil); 5] = [
        ("source", |p| p.source = PathBuf::from("/no/such/source")),
        ("include", |p| p.include.push("missing_folder".into())),
        ("keep", |p| p.keep = 0),
        ("every_hours", |p| p.every_hours = 0.0),
        ("destination", |p| p.destination = p.source.join("audio_files/backups")),
    ];
    for (field, spoil) in cases {
        let mut s = settings_for(&sb);
        spoil(s.profile.as_mut().unwrap());
        let e = api::save_settings(&state, None, s).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{e:?}");
    }
    assert!(!sb.config.exists(), "nothing saved after refused settings");
    assert_eq!(api::get_status(&state).view.state, State::Setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_now_creates_a_backup_that_list_and_history_show() {
    let sb = Sandbox::new();
    sb.write_config();
    let state = app_state(&sb);
    assert!(sb.backups().is_empty());

    let outcome = api::backup_now(&state, None).await.unwrap();
    let BackupOutcome::Created { backup } = outcome else { panic!("a manual backup is always made") };
    assert_eq!(sb.backups(), vec![backup.name.clone()]);
    assert!(backup.path.join("drumgen.db").is_file());
    assert!(backup.path.join("manifest.json").is_file());
    assert_eq!(backup.totals.databases, 1);
    assert_eq!(backup.databases[0].tables[0].rows as i64, common::DB_ROWS, "rows in the -wal included");

    let list = api::list_backups(&state, None).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, backup.name);
    assert_eq!(list[0].kind, BackupKind::Backup);
    assert_eq!(list[0].trigger, Trigger::Manual);

    let history = api::get_history(&state, None, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].backup.as_deref(), Some(backup.name.as_str()));

    let status = api::get_status(&state);
    assert_eq!(status.view.state, State::Protected, "{status:?}");
    assert!(status.view.headline.starts_with("Last backup just now · next in 12 h"), "{}", status.view.headline);
    assert_eq!(api::backup_folder(&state, None, Some(&backup.name)).unwrap(), backup.path);
    assert!(api::backup_folder(&state, None, Some("../etc")).is_err());

    let report = api::verify_backup(&state, None, backup.name.clone()).await.unwrap();
    assert!(report.ok, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_destination_fails_with_its_cause() {
    let sb = Sandbox::new();
    sb.write_config();
    let state = app_state(&sb);
    std::fs::remove_dir_all(sb.destination.parent().unwrap()).unwrap();
    let mut events = state.scheduler(None).unwrap().subscribe();
    let e = api::backup_now(&state, None).await.unwrap_err();
    assert_eq!(e.kind.as_str(), "destination_unavailable", "{e:?}");
    let status = api::get_status(&state);
    assert_eq!(status.view.state, State::NeedsAttention);
    assert!(
        status.view.headline.starts_with("Last backup failed: destination not available"),
        "{}",
        status.view.headline
    );
    // The first failure of a streak is what the app notifies.
    let mut streak = None;
    while let Ok(ev) = events.try_recv() {
        if let lifeboat::Event::Failed { streak: s, .. } = ev {
            streak = Some(s);
        }
    }
    assert_eq!(streak, Some(1));
}

#[test]
fn pause_and_resume() {
    let sb = Sandbox::new();
    sb.write_config();
    let state = app_state(&sb);
    assert!(state.scheduler(None).unwrap().due_now());

    let paused = api::pause_backups(&state, None, Some(1.0)).unwrap();
    assert_eq!(paused.view.state, State::Paused);
    assert!(paused.view.headline.starts_with("Paused for 1 h"), "{}", paused.view.headline);
    let until = chrono::DateTime::parse_from_rfc3339(paused.paused_until.as_deref().unwrap()).unwrap();
    let left = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(59) && left <= chrono::Duration::hours(1), "{left}");
    assert!(!state.scheduler(None).unwrap().due_now(), "no scheduled backup while paused");

    let paused = api::pause_backups(&state, None, None).unwrap();
    assert_eq!(paused.paused_until.as_deref(), Some("indefinitely"));
    assert_eq!(state.scheduler(None).unwrap().paused(), Some(Pause::Indefinitely));
    assert!(api::pause_backups(&state, None, Some(-2.0)).is_err());

    let resumed = api::resume_backups(&state, None).unwrap();
    assert_ne!(resumed.view.state, State::Paused);
    assert_eq!(resumed.paused_until, None);
    assert!(state.scheduler(None).unwrap().due_now());
}

#[test]
fn autostart_switches() {
    let sb = Sandbox::new();
    let state = app_state(&sb);
    assert!(api::set_autostart(&state, true).unwrap());
    assert!(api::get_status(&state).autostart);
    assert!(!api::set_autostart(&state, false).unwrap());
    assert!(!api::get_autostart(&state));
}

#[test]
fn a_broken_config_asks_for_setup_with_the_cause() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.config.parent().unwrap()).unwrap();
    std::fs::write(&sb.config, "[[profile]]\nname = \"A\"\nkeep = = 2\n").unwrap();
    let status = api::get_status(&app_state(&sb));
    assert_eq!(status.view.state, State::Setup);
    assert!(status.view.headline.contains("line 3, column"), "{}", status.view.headline);
}

#[test]
fn saving_settings_keeps_the_offsite_copy_and_hands_it_to_the_running_engine() {
    common::offsite_env("commands-offsite", "none");
    let sb = Sandbox::new();
    sb.write_config();
    let repo = "s3:http://127.0.0.1:9/lifeboat/kept";
    let mut text = std::fs::read_to_string(&sb.config).unwrap();
    text.push_str(&format!("[profile.offsite]\nrepository = \"{repo}\"\nkeep = 7\nkeep_daily = 3\n"));
    std::fs::write(&sb.config, text).unwrap();
    let state = app_state(&sb);
    let shown = api::get_settings(&state, None).offsite.expect("the settings show the offsite copy");
    assert_eq!((shown.repository.as_str(), shown.keep), (repo, 7));

    // The settings form (which does not edit the offsite copy) saves a new keep.
    let mut settings = api::get_settings(&state, None);
    settings.offsite = None;
    settings.profile.as_mut().unwrap().keep = 3;
    api::save_settings(&state, None, settings).unwrap();
    let saved = lifeboat::Config::load(&sb.config).unwrap();
    let offsite = saved.profiles[0].offsite.clone().expect("the offsite table is kept in the file");
    assert_eq!((offsite.repository.as_str(), offsite.keep, offsite.keep_daily), (repo, 7, Some(3)));
    // ...and the engine the scheduler now runs has it too: no restart needed for pushes.
    let engine = state.scheduler(None).unwrap().engine().unwrap();
    assert_eq!(engine.profile().keep, 3);
    assert_eq!(engine.profile().offsite.as_ref(), Some(&offsite));

    // Turned off: gone from the file and from the running engine.
    let after = api::remove_offsite(&state, None).unwrap();
    assert!(after.offsite.is_none());
    assert!(lifeboat::Config::load(&sb.config).unwrap().profiles[0].offsite.is_none());
    assert!(state.scheduler(None).unwrap().engine().unwrap().profile().offsite.is_none());
}

#[test]
fn the_offsite_form_names_the_field_at_fault() {
    common::offsite_env("commands-offsite", "none");
    let bad_url = api::OffsiteForm { repository: "https://example.com/bucket".into(), ..Default::default() };
    let e = api::test_offsite(&bad_url).expect_err("not an s3: URL");
    assert_eq!(e.field.as_deref(), Some("offsite_repository"), "{e}");
    assert!(e.message.contains("s3:"), "{e}");
    let no_keys = api::OffsiteForm {
        repository: "s3:http://127.0.0.1:9/lifeboat/none".into(),
        password: "pw".into(),
        ..Default::default()
    };
    let e = api::test_offsite(&no_keys).expect_err("no keys anywhere");
    assert_eq!(e.kind, lifeboat::ErrorKind::OffsiteSecretMissing);
    assert_eq!(e.field.as_deref(), Some("offsite_access_key_id"), "{e}");
    assert_eq!(e.headline.as_deref(), Some("A key or the password is missing."));
}
