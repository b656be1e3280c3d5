//! The app's offsite plumbing against a real S3 server (SeaweedFS, `../tests/common/s3.rs`),
//! without a window: `save_offsite` with typed secrets (kept in the engine's mock keychain),
//! the background push seen in the status the tray and the window show ("uploading 1
//! backup… 1.20 MB sent", paced by `upload_limit_kbps` so it can be watched), Quit
//! (`stop_offsite`) cancelling it mid-way, and the next start resuming it.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
use common::Sandbox;
use lifeboat::view::OffsiteState;
use lifeboat::Trigger;
use lifeboat_app::api::{self, OffsiteForm};
use lifeboat_app::autostart::MemoryLoginItem;
use lifeboat_app::state::AppState;

const PASSWORD: &str = "correct horse battery staple";

fn app_state(sb: &Sandbox) -> AppState {
    AppState::load(sb.config.clone(), &sb.data_dir, Arc::new(MemoryLoginItem::default()))
}

/// `n` bytes nothing can compress or dedup (xorshift).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Polls the offsite part of the status until `check` accepts it; its line.
fn wait_offsite(state: &AppState, what: &str, timeout: Duration, check: impl Fn(OffsiteState, &str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let status = api::get_status(state);
        if let Some(o) = &status.view.offsite {
            if check(o.state, &o.line) {
                return o.line.clone();
            }
        }
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}; offsite now {:?}", status.view.offsite);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_push_shows_its_bytes_quit_stops_it_and_the_next_start_resumes_it() {
    common::offsite_env("offsite-app", "mock");
    let Some(server) = S3Server::start() else { return };
    let repo = server.repo("app/paced");
    let sb = Sandbox::new();
    sb.write_config();
    // Paced, so the push can be watched and stopped half-way: 1.2 MB at 300 kB/s.
    let mut config = std::fs::OpenOptions::new().append(true).open(&sb.config).unwrap();
    writeln!(config, "[profile.offsite]\nrepository = \"{repo}\"\nkeep = 3\nupload_limit_kbps = 300").unwrap();
    drop(config);
    std::fs::write(sb.data.root.join("audio_files/long take.wav"), noise(1_200_000, 0x9e37_79b9_7f4a_7c15)).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = app_state(&sb);
    // The window's Save offsite: typed secrets, the repository created, the pace kept.
    let form = OffsiteForm {
        repository: repo.clone(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        password: PASSWORD.into(),
        keep: 3,
    };
    let saved = api::save_offsite(&state, None, &form).unwrap_or_else(|e| panic!("save_offsite: {e}"));
    assert!(saved.created && saved.secrets_kept, "{}", saved.message);
    assert_eq!(saved.settings.offsite.as_ref().and_then(|o| o.upload_limit_kbps), Some(300), "the pace is kept");

    rt.block_on(state.scheduler(None).unwrap().backup_now(Trigger::Manual)).unwrap();
    let line = wait_offsite(&state, "the push uploading, with bytes sent", Duration::from_secs(60), |s, l| {
        s == OffsiteState::Uploading && l.ends_with(" sent")
    });
    assert!(line.starts_with("Offsite: uploading 1 backup… "), "{line}");
    println!("while pushing: {line}");

    // Quit: the push in flight stops at its next upload, soon.
    let started = Instant::now();
    lifeboat_app::stop_offsite(&state);
    assert!(!state.scheduler(None).unwrap().offsite().running(), "stopped within {:?}", lifeboat_app::QUIT_WAIT);
    println!("stopped after {:.1} s", started.elapsed().as_secs_f64());
    let line = wait_offsite(&state, "the push stopped, still pending", Duration::from_secs(10), |s, _| {
        s == OffsiteState::Waiting
    });
    assert_eq!(line, "Offsite: 1 backup stopped, resumes with the next push");
    let name = state.status().status.unwrap().last_backup.unwrap().name;
    drop(state);

    // The next start pushes what is pending and ends up to date.
    let again = app_state(&sb);
    again.scheduler(None).unwrap().offsite_request();
    let line = wait_offsite(&again, "the resumed push to complete", Duration::from_secs(120), |s, _| {
        s == OffsiteState::UpToDate
    });
    assert!(line.starts_with("Offsite: last copy"), "{line}");
    let offsite = again.status().status.unwrap().offsite.unwrap();
    assert!(offsite.pushed.contains(&name) && offsite.pending.is_empty(), "{offsite:?}");

    // "Bring back as a backup": the local copy is lost, the window's command fetches it
    // back into the destination, where the backup list shows it again.
    let folder = sb.destination.join(&name);
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(!api::list_backups(&again, None).unwrap().iter().any(|b| b.name == name));
    let snapshot = api::list_offsite(&again, None).unwrap().into_iter().find(|s| s.backup.as_deref() == Some(&name));
    let report = api::fetch_offsite(&again, None, &snapshot.expect("the pushed snapshot is listed").id)
        .unwrap_or_else(|e| panic!("fetch_offsite: {e}"));
    assert_eq!((report.backup.as_str(), report.already_local), (name.as_str(), false));
    assert!(api::list_backups(&again, None).unwrap().iter().any(|b| b.name == name), "listed again");
    assert!(folder.join("manifest.json").is_file());
    lifeboat_app::stop_offsite(&again);
}
