//! Offsite copies against a real S3 server (SeaweedFS, see `common/s3.rs`): init, push,
//! list, restore by Lifeboat and by Debian's `restic` CLI, disaster recovery with no
//! config, a server killed mid-push, every classified error, retention, cancel, and the
//! scheduler's background push.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, MutexGuard, Once};
use std::time::{Duration, Instant};

use common::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
use common::*;

const PASSWORD: &str = "correct horse battery staple";

/// The in-process side of this test binary (library calls): its own data dir, the mock
/// keychain, and no secrets from the developer's shell.
fn in_process_env() -> PathBuf {
    static INIT: Once = Once::new();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("offsite-data-{}", std::process::id()));
    INIT.call_once(|| {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Set once, before any library call reads them; the CLI runs get their own env.
        std::env::set_var("LIFEBOAT_DATA_DIR", &dir);
        std::env::set_var("LIFEBOAT_OFFSITE_KEYCHAIN", "mock");
        for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LIFEBOAT_OFFSITE_PASSWORD"] {
            std::env::remove_var(v);
        }
    });
    dir
}

fn lock(server: &'static std::sync::Mutex<S3Server>) -> MutexGuard<'static, S3Server> {
    server.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared server's repository URL for `prefix`; `None` when S3 tests are skipped.
fn shared_repo(prefix: &str) -> Option<String> {
    S3Server::shared().map(|s| lock(s).repo(prefix))
}

/// `lifeboat` in the sandbox with the offsite secrets in its environment.
fn offsite_cmd(sb: &Sandbox) -> Command {
    let mut c = sb.cmd();
    with_secrets(&mut c, PASSWORD);
    c
}

fn with_secrets(c: &mut Command, password: &str) {
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("LIFEBOAT_OFFSITE_PASSWORD", password)
        .env("LIFEBOAT_OFFSITE_KEYCHAIN", "none");
}

fn run(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().unwrap()
}

fn run_ok(c: Command, args: &[&str]) -> Output {
    let out = run(c, args);
    assert!(out.status.success(), "lifeboat {args:?} failed: {}", describe(&out));
    out
}

/// `restic` (Debian's) on `repo` with the test secrets.
fn restic(repo: &str, args: &[&str]) -> Output {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("restic-cache");
    let out = Command::new("restic")
        .arg("-r")
        .arg(repo)
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("RESTIC_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .output()
        .expect("restic is installed (scripts/deps.sh test)");
    assert!(out.status.success(), "restic {args:?} failed: {}", describe(&out));
    out
}

/// A seed-shaped app set up with a local profile (keep 10) and an offsite repository.
struct Setup {
    sb: Sandbox,
    app: SeedApp,
    dest: PathBuf,
}

impl Setup {
    fn new(repo: String, offsite_keep: &str) -> Setup {
        let sb = Sandbox::new();
        let app = SeedApp::create(sb.root());
        let dest = sb.root().join("backups");
        sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &["--keep", "10"]);
        run_ok(offsite_cmd(&sb), &["offsite", "init", "--repo", &repo, "--keep", offsite_keep]);
        Setup { sb, app, dest }
    }

    /// Changes one audio file, then makes a backup; returns its name.
    fn change_and_back_up(&self, seed: u64) -> String {
        write_wav(&self.app.dir.join("audio_files/drum_0001.wav"), seed, 3000);
        self.sb.backup_ok(&self.dest)
    }

    fn push(&self) -> serde_json::Value {
        parse_json(&run_ok(offsite_cmd(&self.sb), &["offsite", "push", "--json"]))
    }

    fn list(&self) -> Vec<serde_json::Value> {
        let doc = parse_json(&run_ok(offsite_cmd(&self.sb), &["offsite", "list", "--json"]));
        doc.as_array().unwrap().clone()
    }
}

/// Changes the config's only profile.
fn edit_profile(sb: &Sandbox, change: impl FnOnce(&mut toml::Value)) {
    let mut doc: toml::Value = toml::from_str(&std::fs::read_to_string(&sb.config).unwrap()).unwrap();
    change(&mut doc["profile"][0]);
    std::fs::write(&sb.config, toml::to_string(&doc).unwrap()).unwrap();
}

fn backups_of(list: &[serde_json::Value]) -> Vec<String> {
    list.iter().map(|s| s["backup"].as_str().unwrap().to_string()).collect()
}

fn snapshot_id_of(list: &[serde_json::Value], backup: &str) -> String {
    list.iter().find(|s| s["backup"] == backup).unwrap()["id"].as_str().unwrap().to_string()
}

#[test]
fn two_backups_are_pushed_listed_and_read_back_by_the_restic_cli() {
    let Some(repo) = shared_repo("flow") else { return };
    let s = Setup::new(repo.clone(), "14");
    let first = s.sb.backup_ok(&s.dest);
    let second = s.change_and_back_up(77);

    let run = s.push();
    let pushed: Vec<&str> = run["pushed"].as_array().unwrap().iter().map(|p| p["backup"].as_str().unwrap()).collect();
    assert_eq!(pushed, [first.as_str(), second.as_str()], "oldest first: {run}");
    let second_upload = run["pushed"][1]["uploaded_bytes"].as_u64().unwrap();
    let first_upload = run["pushed"][0]["uploaded_bytes"].as_u64().unwrap();
    assert!(second_upload * 4 < first_upload, "the second push dedups: {first_upload} then {second_upload}");
    assert!(run["checked_share"].is_string(), "a check ran: {run}");

    // Nothing left to push; status knows it without asking the store.
    let again = s.push();
    assert!(again["pushed"].as_array().unwrap().is_empty(), "{again}");
    let status = parse_json(&s.sb.run_ok(&["status", "--json"]));
    assert_eq!(status["offsite"]["last_push"]["backup"], second.as_str(), "{status}");
    assert_eq!(status["offsite"]["pending"], serde_json::json!([]), "{status}");

    let list = s.list();
    assert_eq!(backups_of(&list), [second.clone(), first.clone()], "newest first");
    assert_eq!(list[0]["profile"], APP_DIR);
    assert!(list[0]["size"].as_u64().unwrap() > 500_000, "{}", list[0]);
    let human = stdout(&run_ok(offsite_cmd(&s.sb), &["offsite", "list"]));
    assert!(human.contains(&first) && human.contains(&second), "{human}");

    // Debian's restic reads the repository Lifeboat wrote.
    let snaps: serde_json::Value = serde_json::from_slice(&restic(&repo, &["snapshots", "--json"]).stdout).unwrap();
    let tags: Vec<String> =
        snaps.as_array().unwrap().iter().map(|s| s["tags"][0].as_str().unwrap().to_string()).collect();
    assert_eq!(tags.len(), 2, "{snaps}");
    assert!(tags.contains(&first) && tags.contains(&second), "{tags:?}");
    let target = s.sb.root().join("restic-restore");
    let id = snapshot_id_of(&list, &first);
    restic(&repo, &["restore", &id, "--target", target.to_str().unwrap()]);
    let restored = target.join("lifeboat").join(APP_DIR);
    assert_eq!(tree_digest(&restored), tree_digest(&s.dest.join(&first)), "restic restored {first} byte for byte");
    restic(&repo, &["check"]);
}

#[test]
fn disaster_recovery_restores_the_latest_from_a_fresh_home_with_no_config() {
    let Some(repo) = shared_repo("recovery") else { return };
    let s = Setup::new(repo.clone(), "14");
    s.sb.backup_ok(&s.dest);
    let newest = s.change_and_back_up(5);
    s.push();

    // A new machine: nothing but the URL and the secrets.
    let fresh = Sandbox::new();
    assert!(!fresh.config.exists());
    let list = parse_json(&run_ok(offsite_cmd(&fresh), &["offsite", "list", "--repo", &repo, "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let to = fresh.root().join("recovered");
    let out =
        run_ok(offsite_cmd(&fresh), &["offsite", "restore", "latest", "--to", to.to_str().unwrap(), "--repo", &repo]);
    assert!(stdout(&out).contains("files whole"), "{}", describe(&out));
    assert_eq!(tree_digest(&to), tree_digest(&s.dest.join(&newest)), "the latest backup, byte for byte");
    assert_eq!(row_count(&to.join(DB_NAME), "test_results"), DB_ROWS);

    // One path of an older backup, by its local name.
    let older = backups_of(&list.as_array().unwrap().clone())[1].clone();
    let part = fresh.root().join("one file");
    run_ok(
        offsite_cmd(&fresh),
        &["offsite", "restore", &older, SPACED_AUDIO, "--to", part.to_str().unwrap(), "--repo", &repo],
    );
    assert_eq!(blake3_file(&part.join(SPACED_AUDIO)), blake3_file(&s.dest.join(&older).join(SPACED_AUDIO)));
    assert!(!part.join(DB_NAME).exists(), "only the path asked for");

    // A folder that holds files is refused, never overwritten; so is a file.
    let out =
        run(offsite_cmd(&fresh), &["offsite", "restore", "latest", "--to", to.to_str().unwrap(), "--repo", &repo]);
    assert_clear_error(&out, &[], &["not empty"]);
    let file = to.join(DB_NAME);
    let out =
        run(offsite_cmd(&fresh), &["offsite", "restore", "latest", "--to", file.to_str().unwrap(), "--repo", &repo]);
    assert_clear_error(&out, &[], &["is a file"]);

    // On the old machine, a folder inside the source (the next backup would take the copy
    // in) or inside the backup folder is refused, as the local restore does.
    for inside in [s.app.dir.join("restored"), s.dest.join("restored")] {
        let out = run(offsite_cmd(&s.sb), &["offsite", "restore", "latest", "--to", inside.to_str().unwrap()]);
        assert_clear_error(&out, &[], &["inside the source", "inside the backup destination"]);
        assert!(!inside.exists(), "nothing written into {}", inside.display());
    }
}

#[test]
fn each_failure_names_its_cause_in_plain_words() {
    let Some(server) = S3Server::shared() else { return };
    let (repo, endpoint) = {
        let s = lock(server);
        (s.repo("errors"), s.endpoint())
    };
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    sb.init_ok(&app.dir, &sb.root().join("backups"), &SEED_INCLUDES, &[]);
    run_ok(offsite_cmd(&sb), &["offsite", "init", "--repo", &repo]);
    let list = |c: Command, repo: &str| {
        let started = Instant::now();
        let out = run(c, &["offsite", "list", "--repo", repo]);
        (out, started.elapsed())
    };
    let never = ["report", "bug", "rustic_core"];
    let check = |out: &Output, causes: &[&str]| {
        let line = assert_clear_error(out, &[], causes);
        for n in never {
            assert!(!line.to_lowercase().contains(n), "{line}");
        }
    };

    let mut wrong_password = sb.cmd();
    with_secrets(&mut wrong_password, "not the password");
    check(&list(wrong_password, &repo).0, &["wrong password"]);

    let mut wrong_keys = offsite_cmd(&sb);
    wrong_keys.env("AWS_SECRET_ACCESS_KEY", "wrong-secret");
    check(&list(wrong_keys, &repo).0, &["refused the access keys"]);
    let mut unknown_key = offsite_cmd(&sb);
    unknown_key.env("AWS_ACCESS_KEY_ID", "nobody");
    check(&list(unknown_key, &repo).0, &["403"]);

    check(
        &list(offsite_cmd(&sb), &format!("s3:{endpoint}/no-such-bucket/x")).0,
        &["unknown bucket \"no-such-bucket\""],
    );
    check(&list(offsite_cmd(&sb), &format!("s3:{endpoint}/lifeboat/nothing-here")).0, &["no restic repository"]);

    // Nothing listens: refused at once. A server that accepts and never answers: given up on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (out, took) = list(offsite_cmd(&sb), &format!("s3:http://127.0.0.1:{closed}/lifeboat/x"));
    check(&out, &["cannot be reached"]);
    assert!(took < Duration::from_secs(15), "{took:?}");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (out, took) = list(offsite_cmd(&sb), &format!("s3:http://127.0.0.1:{port}/lifeboat/x"));
    check(&out, &["cannot be reached"]);
    assert!(took < Duration::from_secs(15), "an unreachable endpoint is reported within 15 s, took {took:?}");
    drop(silent);

    // No secrets at all: says where to give them.
    let mut bare = sb.cmd();
    bare.env("LIFEBOAT_OFFSITE_KEYCHAIN", "none").env_remove("LIFEBOAT_OFFSITE_PASSWORD");
    check(&list(bare, &repo).0, &["LIFEBOAT_OFFSITE_PASSWORD"]);

    // A kind for each in --json consumers' terms: the status keeps the last push error.
    let mut wrong = sb.cmd();
    with_secrets(&mut wrong, "not the password");
    let out = run(wrong, &["offsite", "push"]);
    check(&out, &["wrong password"]);
    let status = parse_json(&sb.run_ok(&["status", "--json"]));
    assert_eq!(status["offsite"]["last_error"]["kind"], "offsite_wrong_password", "{status}");
}

#[test]
fn retention_keeps_the_newest_two_snapshots() {
    let Some(repo) = shared_repo("retention") else { return };
    let s = Setup::new(repo.clone(), "2");
    let mut names = Vec::new();
    for i in 0..4 {
        names.push(s.change_and_back_up(100 + i));
        let run = s.push();
        let forgotten = run["retention"]["forgotten_backups"].as_array().unwrap().len();
        assert_eq!(forgotten, usize::from(i >= 2), "push {i}: {run}");
    }
    assert_eq!(backups_of(&s.list()), [names[3].clone(), names[2].clone()]);
    restic(&repo, &["check"]);
    // The last snapshot restores whole after the prunes.
    let to = s.sb.root().join("after-prune");
    run_ok(offsite_cmd(&s.sb), &["offsite", "restore", &names[3], "--to", to.to_str().unwrap()]);
    assert_eq!(tree_digest(&to), tree_digest(&s.dest.join(&names[3])));
}

#[test]
fn a_push_cut_off_by_a_killed_server_completes_on_the_next_try() {
    let Some(mut server) = S3Server::start() else { return };
    let s = Setup::new(server.repo("killed"), "14");
    s.app.add_bulk("recordings", 60, 1_000_000);
    edit_profile(&s.sb, |p| {
        p["include"].as_array_mut().unwrap().push("recordings".into());
        p["offsite"].as_table_mut().unwrap().insert("upload_limit_kbps".into(), 20000.into());
    });
    let backup = s.sb.backup_ok(&s.dest);

    let child =
        offsite_cmd(&s.sb).args(["offsite", "push"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let out = output_within(child, Duration::from_secs(120), "offsite push");
    assert_clear_error(&out, &[], &["interrupted", "cannot be reached"]);

    server.restart();
    edit_profile(&s.sb, |p| {
        p["offsite"].as_table_mut().unwrap().remove("upload_limit_kbps");
    });
    let run = s.push();
    assert_eq!(run["pushed"][0]["backup"], backup.as_str(), "{run}");
    let out = run_ok(offsite_cmd(&s.sb), &["offsite", "verify", "--read-data", "100", "--json"]);
    let report = parse_json(&out);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["read_data_percent"], 100.0);
    let to = s.sb.root().join("after-crash");

    // A restore killed as soon as it started writing leaves nothing in view: its files
    // are in the hidden partial folder, which the next restore clears before it starts.
    let partial = to.join(lifeboat::offsite::PARTIAL_DIR);
    let mut child = offsite_cmd(&s.sb)
        .args(["offsite", "restore", "latest", "--to", to.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !partial.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(partial.exists(), "the restore writes into {}", partial.display());
    let visible: Vec<_> = std::fs::read_dir(&to)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != lifeboat::offsite::PARTIAL_DIR)
        .collect();
    assert!(visible.is_empty(), "a killed restore left {visible:?} in view");

    run_ok(offsite_cmd(&s.sb), &["offsite", "restore", "latest", "--to", to.to_str().unwrap()]);
    assert!(!partial.exists(), "the partial folder is gone once the restore is done");
    assert_eq!(tree_digest(&to), tree_digest(&s.dest.join(&backup)));
    restic(&server.repo("killed"), &["check", "--read-data"]);
}

#[test]
fn fetch_brings_a_snapshot_back_as_a_local_backup_that_restores_in_place() {
    let Some(repo) = shared_repo("fetch") else { return };
    let s = Setup::new(repo, "14");
    let first = s.sb.backup_ok(&s.dest);
    let first_digest = tree_digest(&s.dest.join(&first));
    s.push();
    // The local copy is lost (the drive was wiped); the live data moves on.
    std::fs::remove_dir_all(s.dest.join(&first)).unwrap();
    write_wav(&s.app.dir.join("audio_files/drum_0001.wav"), 77, 3000);

    let report = parse_json(&run_ok(offsite_cmd(&s.sb), &["offsite", "fetch", &first, "--json"]));
    assert_eq!(report["backup"], first.as_str(), "{report}");
    assert_eq!(report["already_local"], false);
    assert_eq!(tree_digest(&s.dest.join(&first)), first_digest, "the backup folder as it was pushed");
    assert!(
        std::fs::read_dir(&s.dest).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".partial")),
        "no staging folder left in the destination"
    );
    run_ok(s.sb.cmd(), &["verify", &first]);

    // Fetching again finds it there; the usual restore then works from it, in place.
    let again = parse_json(&run_ok(offsite_cmd(&s.sb), &["offsite", "fetch", &first, "--json"]));
    assert_eq!(again["already_local"], true);
    run_ok(s.sb.cmd(), &["restore", &first, "--yes"]);
    assert_eq!(
        blake3_file(&s.app.dir.join("audio_files/drum_0001.wav")),
        blake3_file(&s.dest.join(&first).join("audio_files/drum_0001.wav")),
        "the live file is back as it was in the fetched backup"
    );
}

/// A Secret Service of its own for one test: gnome-keyring-daemon (Debian's
/// `gnome-keyring`) on a private session bus, its keyring files in `home`, unlocked.
struct SecretService {
    bus: String,
    daemons: Vec<std::process::Child>,
}

impl SecretService {
    fn start(home: &Path) -> SecretService {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus)");
        let mut address = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(bus.stdout.take().unwrap()), &mut address).unwrap();
        let address = address.trim().to_string();
        let runtime = home.join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("share"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (package gnome-keyring; scripts/deps.sh test installs it)");
        // --unlock reads the login keyring's password (here: a new keyring's) from stdin.
        std::io::Write::write_all(&mut keyring.stdin.take().unwrap(), b"test-keyring").unwrap();
        let service = SecretService { bus: address, daemons: vec![keyring, bus] };
        let started = Instant::now();
        while !service.has_owner("org.freedesktop.secrets") {
            assert!(started.elapsed() < Duration::from_secs(20), "gnome-keyring-daemon did not take the bus name");
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    fn has_owner(&self, name: &str) -> bool {
        let out = Command::new("dbus-send")
            .args(["--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .arg("org.freedesktop.DBus.NameHasOwner")
            .arg(format!("string:{name}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("dbus-send (package dbus)");
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// `lifeboat` in `sb` using this keychain, with no secret in its environment.
    fn cmd(&self, sb: &Sandbox) -> Command {
        let mut c = sb.cmd();
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.bus).env("LIFEBOAT_OFFSITE_KEYCHAIN", "system");
        for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LIFEBOAT_OFFSITE_PASSWORD"] {
            c.env_remove(v);
        }
        c
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

#[test]
fn init_keeps_the_secrets_in_a_real_secret_service_and_later_commands_need_no_other() {
    let Some(repo) = shared_repo("keyring") else { return };
    let sb = Sandbox::new();
    let app = SeedApp::create(sb.root());
    let dest = sb.root().join("backups");
    sb.init_ok(&app.dir, &dest, &SEED_INCLUDES, &[]);
    let backup = sb.backup_ok(&dest);
    let keychain = SecretService::start(&sb.root().join("keyring-home"));

    // init is given the secrets once, in its environment, and keeps them.
    let mut init = keychain.cmd(&sb);
    init.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("LIFEBOAT_OFFSITE_PASSWORD", PASSWORD);
    let out = run_ok(init, &["offsite", "init", "--repo", &repo]);
    assert!(stdout(&out).contains("kept in the keychain"), "{}", describe(&out));
    assert!(
        sb.root().join("keyring-home/share/keyrings").read_dir().unwrap().next().is_some(),
        "the keyring's files are in the test's folder"
    );

    // From then on, nothing in the environment: push and list read the keychain.
    let pushed = parse_json(&run_ok(keychain.cmd(&sb), &["offsite", "push", "--json"]));
    assert_eq!(pushed["pushed"][0]["backup"], backup.as_str(), "{pushed}");
    let list = parse_json(&run_ok(keychain.cmd(&sb), &["offsite", "list", "--json"]));
    assert_eq!(backups_of(list.as_array().unwrap()), vec![backup.clone()]);

    // Without the keychain (another session) the same command says what is missing.
    let mut bare = sb.cmd();
    bare.env("LIFEBOAT_OFFSITE_KEYCHAIN", "none");
    for v in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LIFEBOAT_OFFSITE_PASSWORD"] {
        bare.env_remove(v);
    }
    let out = run(bare, &["offsite", "list"]);
    assert_clear_error(&out, &[], &["password"]);
}

/// A profile (in-process) with one backup and an offsite repository at `repo`.
fn in_process_profile(root: &Path, repo: &str) -> (lifeboat::Profile, lifeboat::offsite::Secrets, SeedApp) {
    in_process_env();
    let app = SeedApp::create(root);
    let mut profile = lifeboat::Profile::new("In process", &app.dir, root.join("backups"));
    profile.include = SEED_INCLUDES.iter().map(|s| s.to_string()).collect();
    let mut offsite = lifeboat::Offsite::new(repo);
    offsite.keep = 5;
    profile.offsite = Some(offsite);
    let secrets = lifeboat::offsite::Secrets {
        keys: lifeboat::offsite::Keys { access_key_id: ACCESS_KEY.into(), secret_access_key: SECRET_KEY.into() },
        password: PASSWORD.into(),
    };
    lifeboat::offsite::init(repo, &secrets, lifeboat::offsite_chunk_bytes().unwrap()).unwrap();
    (profile, secrets, app)
}

#[test]
fn a_cancelled_push_stops_at_the_next_upload_and_the_next_push_completes() {
    let Some(repo) = shared_repo("cancel") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (mut profile, secrets, app) = in_process_profile(tmp.path(), &repo);
    app.add_bulk("recordings", 30, 1_000_000);
    profile.include.push("recordings".into());
    profile.offsite.as_mut().unwrap().upload_limit_kbps = Some(2000);
    let engine = lifeboat::Engine::new(profile.clone(), tmp.path().join("history.db")).unwrap();
    engine.backup(lifeboat::Trigger::Manual, &lifeboat::NoProgress).unwrap();

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let started = Instant::now();
    let e = lifeboat::offsite::push(&profile, None, &secrets, cancel).unwrap_err();
    stopper.join().unwrap();
    assert!(matches!(e, lifeboat::Error::OffsiteCancelled { .. }), "{e:?}");
    assert_eq!(e.kind(), lifeboat::ErrorKind::OffsiteCancelled);
    assert!(started.elapsed() < Duration::from_secs(20), "stopped soon after the flag: {:?}", started.elapsed());
    let status = engine.status(chrono::Utc::now()).unwrap();
    assert_eq!(status.offsite.as_ref().unwrap().pending.len(), 1);

    profile.offsite.as_mut().unwrap().upload_limit_kbps = None;
    let run = lifeboat::offsite::push(&profile, None, &secrets, Arc::default()).unwrap();
    assert_eq!(run.pushed.len(), 1);
    let status =
        lifeboat::Engine::new(profile, tmp.path().join("history.db")).unwrap().status(chrono::Utc::now()).unwrap();
    let offsite = status.offsite.unwrap();
    assert!(offsite.pending.is_empty() && offsite.last_error.is_none(), "{offsite:?}");
}

#[test]
fn the_scheduler_pushes_in_the_background_with_secrets_from_the_keychain() {
    let Some(repo) = shared_repo("scheduler") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (profile, secrets, _app) = in_process_profile(tmp.path(), &repo);
    // `offsite init` keeps the secrets in the keychain (here the mock store); the pusher finds them there.
    assert!(lifeboat::offsite::store_secrets(&repo, &secrets).unwrap());
    let (found, how) = lifeboat::offsite::resolve_secrets(&repo, None).unwrap();
    assert_eq!((found.password.as_str(), how), (PASSWORD, lifeboat::offsite::Found::Keychain));

    let engine = lifeboat::Engine::new(profile, tmp.path().join("history.db")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scheduler = lifeboat::Scheduler::new(Some(engine), Arc::new(lifeboat::SystemClock));
    rt.block_on(scheduler.backup_now(lifeboat::Trigger::Manual)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while scheduler.offsite().pushes() == 0 {
        assert!(
            Instant::now() < deadline,
            "no background push within 120 s (failures: {})",
            scheduler.offsite().failures()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = lifeboat::offsite::list(&repo, &secrets).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].profile.as_deref(), Some("In process"));
    scheduler.shutdown();
}
