//! Several profiles in one app: each on its own schedule and destination, one job at a
//! time per destination (a second profile on a busy destination waits its turn), saving
//! one profile keeps the others and their offsite tables; in the real app both get their
//! startup backups and the tray's "Back up now" submenu backs up each and "All".

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::dbusmenu::TrayHost;
use common::{wait_for, PrivateBus, Sandbox, SECOND_NAME};
use lifeboat::view::State;
use lifeboat::{BackupOutcome, Config};
use lifeboat_app::api::{self, ProfileSettings, Settings};
use lifeboat_app::autostart::MemoryLoginItem;
use lifeboat_app::state::AppState;

const FIRST_NAME: &str = "DrumGen Scorer";
const OFFSITE: &str = "\n[profile.offsite]\nrepository = \"s3:http://127.0.0.1:9000/bucket/drumgen\"\nkeep_daily = 7\n";

fn app_state(sb: &Sandbox) -> AppState {
    AppState::load(sb.config.clone(), &sb.data_dir, Arc::new(MemoryLoginItem::default()))
}

fn form(name: &str, source: PathBuf, destination: PathBuf) -> Settings {
    Settings {
        configured: true,
        profile: Some(ProfileSettings { name: name.into(), source, destination, ..ProfileSettings::default() }),
        notify_on_success: false,
        launch_at_login: false,
        config_path: PathBuf::new(),
        offsite: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_profile_has_its_own_backups_and_saving_one_keeps_the_others() {
    let sb = Sandbox::new();
    sb.write_config();
    // The first profile has an offsite table, which the window does not edit.
    let mut text = std::fs::read_to_string(&sb.config).unwrap();
    text.push_str(OFFSITE);
    std::fs::write(&sb.config, text).unwrap();
    // The second profile backs up to a drive of its own.
    let second_drive = sb.root.path().join("Second drive");
    std::fs::create_dir_all(&second_drive).unwrap();
    let second = sb.add_second_profile(Some(&second_drive.join("Field Recorder backups")));
    let state = app_state(&sb);

    let status = api::get_status(&state);
    let names: Vec<&str> = status.profiles.iter().map(|p| p.profile.as_str()).collect();
    assert_eq!(names, [FIRST_NAME, SECOND_NAME]);
    assert_eq!(status.view.state, State::NeedsAttention, "no backup yet: {}", status.view.headline);
    assert!(status.view.headline.starts_with(&format!("{FIRST_NAME}: ")), "{}", status.view.headline);

    // Each profile backs up into its own destination, and lists only its own.
    let outcome = api::backup_now(&state, Some(SECOND_NAME)).await.unwrap();
    assert!(matches!(outcome, BackupOutcome::Created { .. }));
    assert_eq!(second.backups().len(), 1);
    assert!(sb.backups().is_empty(), "the first profile's destination is untouched");
    assert_eq!(api::list_backups(&state, Some(SECOND_NAME)).unwrap().len(), 1);
    assert!(api::list_backups(&state, Some(FIRST_NAME)).unwrap_or_default().is_empty());
    assert_eq!(api::get_history(&state, Some(SECOND_NAME), 10).unwrap().len(), 1);
    assert!(api::get_history(&state, Some(FIRST_NAME), 10).unwrap().is_empty());
    let e = api::list_backups(&state, Some("Nobody")).unwrap_err();
    assert!(e.message.contains("no profile named \"Nobody\""), "{e:?}");

    // The worst state leads: the first profile has no backup; once it has, all is well.
    api::backup_now(&state, Some(FIRST_NAME)).await.unwrap();
    let status = api::get_status(&state);
    assert_eq!(status.view.state, State::Protected, "{}", status.view.headline);
    assert!(status.profiles.iter().all(|p| p.view.state == State::Protected));

    // The second profile's drive is unplugged: its failure is what the tray shows.
    let away = sb.root.path().join("Second drive (unplugged)");
    std::fs::rename(&second_drive, &away).unwrap();
    let e = api::backup_now(&state, Some(SECOND_NAME)).await.unwrap_err();
    assert_eq!(e.kind.as_str(), "destination_unavailable", "{e:?}");
    let status = api::get_status(&state);
    assert_eq!((status.view.state, status.profile.as_deref()), (State::NeedsAttention, Some(SECOND_NAME)));
    assert!(
        status.view.headline.starts_with(&format!("{SECOND_NAME}: Last backup failed")),
        "{}",
        status.view.headline
    );
    assert_eq!(status.profiles[0].view.state, State::Protected, "the first profile is fine");
    std::fs::rename(&away, &second_drive).unwrap();

    // Saving the second profile keeps the first, its offsite table included.
    let mut settings = api::get_settings(&state, Some(SECOND_NAME));
    assert_eq!(settings.profile.as_ref().unwrap().source, second.data.root);
    settings.profile.as_mut().unwrap().keep = 7;
    api::save_settings(&state, Some(SECOND_NAME), settings).unwrap();
    let config = Config::load(&sb.config).unwrap();
    assert_eq!(config.profiles.len(), 2);
    assert_eq!(config.profile(Some(SECOND_NAME)).unwrap().keep, 7);
    let first = config.profile(Some(FIRST_NAME)).unwrap();
    assert_eq!(first.offsite.as_ref().map(|o| o.keep_daily), Some(Some(7)), "offsite table kept");
    assert_eq!(first.source, sb.data.root);
    assert!(std::fs::read_to_string(&sb.config).unwrap().contains("[profile.offsite]"));

    // Saving the first (renamed) keeps its offsite table and the second profile.
    let mut settings = api::get_settings(&state, Some(FIRST_NAME));
    settings.profile.as_mut().unwrap().name = "Scorer".into();
    api::save_settings(&state, Some(FIRST_NAME), settings).unwrap();
    let config = Config::load(&sb.config).unwrap();
    let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Scorer", SECOND_NAME], "renamed in place");
    assert!(config.profile(Some("Scorer")).unwrap().offsite.is_some());
    assert!(state.scheduler(Some("Scorer")).is_ok() && state.scheduler(Some(FIRST_NAME)).is_err());
    assert_eq!(state.schedulers().len(), 2, "the renamed profile keeps its scheduler");

    // A name in use is refused, on the name field.
    let taken = form(SECOND_NAME, sb.data.root.clone(), sb.drive.join("Elsewhere"));
    let e = api::add_profile(&state, taken).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("name"), "{e:?}");
    assert_eq!(Config::load(&sb.config).unwrap().profiles.len(), 2, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_profile_into_the_same_destination_is_refused_on_that_field() {
    // A destination's backups and its rotation belong to one profile: another
    // profile's `keep` would delete them. The refusal says what to choose instead.
    let sb = Sandbox::new();
    sb.write_config();
    let state = app_state(&sb);
    let second = common::seed::AppData::create(&sb.root.path().join(SECOND_NAME), common::SECOND);
    let e = api::add_profile(&state, form(SECOND_NAME, second.root.clone(), sb.destination.clone())).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("destination"), "{e:?}");
    assert!(e.message.contains("a folder of its own"), "{e:?}");
    assert_eq!(Config::load(&sb.config).unwrap().profiles.len(), 1, "nothing written");
    assert_eq!(state.schedulers().len(), 1);

    // A folder of its own inside it is fine, and "All" backs up both.
    let own = sb.destination.join(SECOND_NAME);
    api::add_profile(&state, form(SECOND_NAME, second.root.clone(), own.clone())).unwrap();
    let outcomes = api::backup_all(&state).await;
    let names: Vec<&str> = outcomes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [FIRST_NAME, SECOND_NAME]);
    for (name, outcome) in &outcomes {
        assert!(matches!(outcome, Ok(BackupOutcome::Created { .. })), "{name}: {outcome:?}");
    }
    assert_eq!(sb.backups().len(), 1, "the first profile's backup, in its folder");
    assert_eq!(common::folders_in(&own, "backup_").len(), 1, "the second profile's, in its own folder");
}

/// The real app with two profiles: both startup backups appear, each in its destination;
/// the tray's status line is the worst profile's, "Back up now" is a submenu whose
/// entries back up one profile each, and "All" both; "Open backup folder" lists each.
#[test]
fn the_tray_backs_up_each_profile_and_all() {
    let sb = Sandbox::new();
    sb.write_config();
    let second = sb.add_second_profile(None);
    let bus = PrivateBus::start();
    let mut app = sb.start_app(&bus, &[]);
    let first_startup = wait_for(Duration::from_secs(90), "the first profile's startup backup", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        sb.backups().pop()
    });
    let second_startup =
        wait_for(Duration::from_secs(90), "the second profile's startup backup", || second.backups().pop());
    for (dir, name) in [(&sb.destination, &first_startup), (&second.destination, &second_startup)] {
        let manifest = std::fs::read_to_string(dir.join(name).join("manifest.json")).unwrap();
        assert!(manifest.contains("\"startup\""), "{manifest:.300}");
    }

    let tray = TrayHost::start(&bus, &mut app);
    let root = tray.wait("an idle menu with a submenu per profile", |root| {
        [FIRST_NAME, SECOND_NAME, "All"].iter().all(|l| root.find(l).is_some_and(|e| e.enabled))
            && root.labels().iter().any(|l| l.starts_with(&format!("{FIRST_NAME}: Last backup just now")))
    });
    let submenu = root.find("Back up now").expect("Back up now");
    let entries: Vec<&str> = submenu.children.iter().map(|c| c.label.as_str()).filter(|l| !l.is_empty()).collect();
    assert_eq!(entries, [FIRST_NAME, SECOND_NAME, "All"], "{:?}", root.labels());
    let folders: Vec<&str> = root
        .find("Open backup folder")
        .expect("Open backup folder")
        .children
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(folders, [FIRST_NAME, SECOND_NAME], "a backup folder per profile");
    println!("tray menu: {:?}", root.labels());

    let idle = |tray: &TrayHost| {
        tray.wait("every Back up now entry enabled again", |root| {
            [FIRST_NAME, SECOND_NAME, "All"].iter().all(|l| root.find(l).is_some_and(|e| e.enabled))
        });
    };
    // Each profile's entry backs up that profile only.
    let (first_before, second_before) = (sb.backups(), second.backups());
    tray.click_in("Back up now", SECOND_NAME);
    wait_for(Duration::from_secs(60), "a backup of the second profile", || {
        (second.backups().len() > second_before.len()).then_some(())
    });
    idle(&tray);
    assert_eq!(sb.backups(), first_before, "the first profile did not back up");
    tray.click_in("Back up now", FIRST_NAME);
    wait_for(Duration::from_secs(60), "a backup of the first profile", || {
        (sb.backups().len() > first_before.len() || sb.backups() != first_before).then_some(())
    });
    idle(&tray);

    // "All" backs up both.
    let (first_before, second_before) = (sb.backups(), second.backups());
    // A second apart from the last ones: backup names carry the second they started in.
    std::thread::sleep(Duration::from_millis(1100));
    tray.click_in("Back up now", "All");
    wait_for(Duration::from_secs(90), "a backup of each profile from All", || {
        let first_new = sb.backups().iter().any(|n| !first_before.contains(n));
        let second_new = second.backups().iter().any(|n| !second_before.contains(n));
        (first_new && second_new).then_some(())
    });
    for dir in [&sb.destination, &second.destination] {
        let newest = common::folders_in(dir, "backup_").pop().unwrap();
        let manifest = std::fs::read_to_string(dir.join(newest).join("manifest.json")).unwrap();
        assert!(manifest.contains("\"manual\""), "{manifest:.300}");
    }
    assert!(app.running(), "the app keeps running:\n{}", app.stderr());
}
