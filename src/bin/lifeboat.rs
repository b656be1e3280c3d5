//! `lifeboat`: the headless command line over the engine, for servers and scripts.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use chrono::Utc;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lifeboat::count;
use lifeboat::view::{self, human_bytes, local_time};
use lifeboat::{
    decode_rel, encode_rel, BackupInfo, BackupKind, BackupOutcome, Config, Engine, EntryKind, Error, Event, Profile,
    Progress, ProgressUpdate, RestoreRequest, Result, Scheduler, SystemClock, Trigger,
};

#[derive(Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Rolling, restorable backups of an app's SQLite database and asset folders"
)]
struct Cli {
    /// Config file [default: $LIFEBOAT_CONFIG, else the platform config dir, e.g. ~/.config/lifeboat/config.toml]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Profile to use when the config has several
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a profile to the config file
    Init {
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        dest: PathBuf,
        /// An item to back up, relative to the source (repeat); none = all of the source
        #[arg(long = "include")]
        include: Vec<String>,
        /// A glob of names to leave out (repeat)
        #[arg(long = "exclude")]
        exclude: Vec<String>,
        #[arg(long, default_value_t = lifeboat::DEFAULT_KEEP)]
        keep: usize,
        #[arg(long, default_value_t = lifeboat::DEFAULT_EVERY_HOURS)]
        every_hours: f64,
        /// Profile name [default: the source folder's name]
        #[arg(long)]
        name: Option<String>,
    },
    /// Make one backup now (always creates one)
    Backup {
        #[arg(long)]
        json: bool,
    },
    /// Backups, newest first, with their manifest summary
    List {
        #[arg(long)]
        json: bool,
    },
    /// Last backup, last attempt and its outcome, next due, health
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check a backup (default: the newest) against its manifest
    Verify {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Entries of a backup under PATH, with their state against the live data
    Ls {
        name: String,
        /// A folder in the backup, relative to the source [default: the top]
        path: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two backups, or between a backup and the live data
    Diff {
        name: String,
        /// A later backup [default: the live data]
        other: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup (or only PATHs of it) into the source, after a safety snapshot,
    /// or into an empty folder with --to
    Restore {
        name: String,
        /// Files or folders to restore, relative to the source, as `ls` shows them
        paths: Vec<PathBuf>,
        /// Write into this empty folder instead; the live data is left alone
        #[arg(long)]
        to: Option<PathBuf>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run the scheduler in the foreground (the same loop as the tray app)
    Run,
    /// The offsite copy: every backup also in an S3 store, as a restic repository
    Offsite {
        /// Read the repository password from the first line of this file
        /// [default: $LIFEBOAT_OFFSITE_PASSWORD, else the keychain]
        #[arg(long, global = true)]
        password_file: Option<PathBuf>,
        #[command(subcommand)]
        command: OffsiteCommand,
    },
}

#[derive(Subcommand)]
enum OffsiteCommand {
    /// Create the repository (or attach to an existing one), write [profile.offsite], keep the secrets
    Init {
        /// restic's URL form: s3:https://HOST/BUCKET/PREFIX or s3:http://127.0.0.1:PORT/BUCKET/PREFIX
        #[arg(long)]
        repo: String,
        /// Offsite snapshots kept
        #[arg(long, default_value_t = lifeboat::DEFAULT_OFFSITE_KEEP)]
        keep: usize,
        #[arg(long)]
        json: bool,
    },
    /// Push a local backup [default: every complete one not yet pushed, oldest first]
    Push {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Snapshots offsite: time, local backup name, size (needs no config with --repo)
    List {
        /// The repository [default: the profile's]
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check the repository; read back PERCENT of its data too
    Verify {
        /// Share of the data to read back and check, percent (0-100)
        #[arg(long, value_name = "PERCENT", default_value_t = 0.0)]
        read_data: f64,
        /// The repository [default: the profile's]
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot (a local backup name, an id, or latest) into an empty folder
    Restore {
        snapshot: String,
        /// Only these paths, relative to the backup (as in its manifest)
        paths: Vec<String>,
        #[arg(long)]
        to: PathBuf,
        /// The repository [default: the profile's]; with it no config is needed
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Bring a snapshot back into the destination as the local backup it was pushed from,
    /// then restore from it as from any backup (in place, chosen paths, safety snapshot)
    Fetch {
        /// A local backup name, an id, or latest
        snapshot: String,
        #[arg(long)]
        json: bool,
    },
}

/// Lets a command end quietly when the reader of its output goes away, as Unix tools do
/// (`lifeboat list | head -1`): the default action of SIGPIPE, which Rust's runtime sets
/// to "ignore" (so `println!` would panic on a closed pipe). Not for the commands that
/// talk to the network (`run`, `offsite`): a socket closed by the other end must be an
/// error they handle, never a signal that ends them.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any other thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run | Command::Offsite { .. }) {
        quiet_on_closed_pipe();
    }
    let stderr_level = matches!(cli.command, Command::Run).then_some(tracing::Level::INFO);
    let _guard = lifeboat::init_logging(&lifeboat::log_dir(), stderr_level);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Error::Damaged { all, .. } = &e {
                for problem in all {
                    println!("{problem}");
                }
            }
            tracing::error!("{e}");
            eprintln!("lifeboat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How the hints this run prints spell the command: `lifeboat`, plus the `--config` and
/// `--profile` it needs to act on the same profile (see [`set_invocation`]).
static INVOCATION: OnceLock<String> = OnceLock::new();

/// The command as hints spell it, e.g. `lifeboat --profile 'Field Recorder'`.
fn lb() -> &'static str {
    INVOCATION.get().map_or("lifeboat", String::as_str)
}

/// Sets [`lb`]: with `--config PATH` when one was given, and with `--profile NAME` when
/// the config holds several profiles (else the hint would act on the first one).
fn set_invocation(config: Option<&Path>, profiles: usize, profile: &str) {
    let mut cmd = String::from("lifeboat");
    if let Some(path) = config {
        cmd.push_str(&format!(" --config {}", shell_quote(&path.to_string_lossy())));
    }
    if profiles > 1 {
        cmd.push_str(&format!(" --profile {}", shell_quote(profile)));
    }
    let _ = INVOCATION.set(cmd);
}

/// `s` as one POSIX shell word: as it is when plain, else in single quotes.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_./-:=@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config_path = cli.config.clone().unwrap_or_else(Config::default_path);
    if let Command::Init { source, dest, include, exclude, keep, every_hours, name } = cli.command {
        let explicit_config = cli.config.as_deref();
        return init(&config_path, explicit_config, source, dest, include, exclude, keep, every_hours, name);
    }
    if let Ok(config) = Config::load(&config_path) {
        if let Ok(p) = config.profile(cli.profile.as_deref()) {
            set_invocation(cli.config.as_deref(), config.profiles.len(), &p.name);
        }
    }
    if let Command::Offsite { password_file, command } = cli.command {
        return offsite(&config_path, cli.profile.as_deref(), password_file.as_deref(), command);
    }
    let config = Config::load(&config_path)?;
    let profile = match config.profile(cli.profile.as_deref()) {
        Ok(p) => p.clone(),
        // Name the file: "config /path/config.toml: the config has no profile…".
        Err(Error::Profile { message }) => return Err(Error::Config { path: config_path, message }),
        Err(e) => return Err(e),
    };
    let engine = Engine::with_default_history(profile)?;
    match cli.command {
        Command::Init { .. } | Command::Offsite { .. } => unreachable!("handled above"),
        Command::Backup { json } => backup(&engine, json),
        Command::List { json } => list(&engine, json),
        Command::Status { json } => status(&engine, json),
        Command::Verify { name, json } => verify(&engine, name.as_deref(), json),
        Command::Ls { name, path, json } => ls(&engine, &name, path.as_deref(), json),
        Command::Diff { name, other, json } => diff(&engine, &name, other.as_deref(), json),
        Command::Restore { name, paths, to, yes, json } => {
            let request = RestoreRequest {
                name,
                paths: paths.iter().map(|p| rel_arg(p)).collect(),
                to: to.map(|t| absolute(&t)).transpose()?,
            };
            restore(&engine, &request, yes, json)
        }
        Command::Run => run_scheduler(engine),
    }
}

/// `~` and relative paths, made absolute as a person means them.
fn absolute(p: &Path) -> Result<PathBuf> {
    let s = p.to_string_lossy();
    let expanded = match s.strip_prefix("~") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\') => {
            let home =
                directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()).ok_or_else(|| Error::Selection {
                    path: p.to_path_buf(),
                    message: "cannot find your home folder to expand `~` — give the full path".into(),
                })?;
            home.join(rest.trim_start_matches(['/', '\\']))
        }
        _ => p.to_path_buf(),
    };
    Ok(std::path::absolute(&expanded).unwrap_or(expanded))
}

#[allow(clippy::too_many_arguments)]
fn init(
    config_path: &Path,
    explicit_config: Option<&Path>,
    source: PathBuf,
    dest: PathBuf,
    include: Vec<String>,
    exclude: Vec<String>,
    keep: usize,
    every_hours: f64,
    name: Option<String>,
) -> Result<ExitCode> {
    let source = absolute(&source)?;
    let dest = absolute(&dest)?;
    let name = name.unwrap_or_else(|| {
        source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "default".into())
    });
    let mut profile = Profile::new(name, source, dest);
    profile.include = include;
    profile.exclude = exclude;
    profile.keep = keep;
    profile.every_hours = every_hours;
    lifeboat::check_on_disk(&profile)?;
    let mut config = match Config::load(config_path) {
        Ok(c) => c,
        Err(Error::NoConfig { .. }) => Config::default(),
        Err(e) => return Err(e),
    };
    config.upsert(profile.clone());
    config.save(config_path)?;
    set_invocation(explicit_config, config.profiles.len(), &profile.name);
    println!("Wrote profile \"{}\" to {}", profile.name, config_path.display());
    println!("  source:      {}", profile.source.display());
    println!(
        "  include:     {}",
        if profile.include.is_empty() { "everything in the source".to_string() } else { profile.include.join(", ") }
    );
    println!("  destination: {}", profile.destination.display());
    println!("  every {} h, keeping {} backups", profile.every_hours, profile.keep);
    println!("Back up now with `{} backup`, or keep it backed up with `{} run`.", lb(), lb());
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal, nothing elsewhere.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(enabled: bool) -> Bar {
        if !enabled || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            // The message carries the phase and the file count; the bar counts bytes.
            ProgressStyle::with_template("{msg:32} [{bar:30}] {bytes}/{total_bytes} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Bar(Some(bar))
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn update(&self, u: &ProgressUpdate) {
        if let Some(b) = &self.0 {
            b.set_message(format!("{} {}/{}", view::phase_label(u.phase), u.files_done, u.files_total));
            // Nothing counted yet (scanning) draws an empty bar, not a full one.
            b.set_length(u.bytes_total.max(1));
            b.set_position(u.bytes_done);
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
}

fn backup(engine: &Engine, json: bool) -> Result<ExitCode> {
    let bar = Bar::new(!json);
    let outcome = engine.backup(Trigger::Manual, &bar);
    bar.finish();
    let outcome = outcome?;
    if json {
        print_json(&outcome);
    } else {
        match &outcome {
            BackupOutcome::Created { backup } => {
                println!("Created {} in {}", backup.name, engine.destination().display());
                print_summary(backup);
            }
            BackupOutcome::Skipped { reason } => println!("Skipped: {reason}"),
        }
    }
    match &outcome {
        BackupOutcome::Created { backup } if backup.partial => {
            let missing: Vec<String> = backup
                .skipped
                .iter()
                .filter(|k| k.is_problem())
                .map(|k| format!("{} ({})", k.path, k.reason))
                .collect();
            eprintln!(
                "lifeboat: partial backup {}: {} could not be backed up — the rest is safe:",
                backup.name,
                count(missing.len() as u64, "item", "items")
            );
            for line in view::first_names(&missing, 20) {
                eprintln!("  {line}");
            }
            Ok(ExitCode::from(EXIT_PARTIAL))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The exit code of a backup that completed without some entries (all named).
const EXIT_PARTIAL: u8 = 3;

fn print_summary(b: &BackupInfo) {
    println!(
        "  {} files, {} ({} newly written, {} unchanged files hard-linked), {:.1} s",
        b.totals.files + b.totals.databases,
        human_bytes(b.totals.bytes),
        human_bytes(b.totals.bytes_written),
        b.totals.files_linked,
        b.duration_secs
    );
    for db in &b.databases {
        let tables: Vec<String> = db.tables.iter().map(|t| format!("{} {}", t.name, t.rows)).collect();
        println!("  {} ({}): {}; integrity {}", db.path, human_bytes(db.size), tables.join(", "), db.integrity);
    }
    for w in &b.warnings {
        println!("  warning: {w}");
    }
    let problems = b.skipped.iter().filter(|k| k.is_problem()).count();
    if problems > 0 {
        println!("  PARTIAL: {} not backed up (listed in backup_info.txt)", count(problems as u64, "item", "items"));
    }
    let special = b.skipped.len() - problems;
    if special > 0 {
        println!(
            "  {} left out (FIFOs, sockets, devices hold no data)",
            count(special as u64, "special file", "special files")
        );
    }
}

fn list(engine: &Engine, json: bool) -> Result<ExitCode> {
    let backups = engine.list()?;
    if json {
        print_json(&backups);
        return Ok(ExitCode::SUCCESS);
    }
    if backups.is_empty() {
        println!("No backups yet in {}. Make one with `{} backup`.", engine.destination().display(), lb());
    }
    for b in &backups {
        let label = if b.kind == BackupKind::PreRestore { " (safety snapshot)" } else { "" };
        println!("{}{label}  {}  {}", b.name, local_time(b.started_at), b.trigger);
        print_summary(b);
    }
    Ok(ExitCode::SUCCESS)
}

fn status(engine: &Engine, json: bool) -> Result<ExitCode> {
    let s = engine.status(Utc::now())?;
    if json {
        print_json(&s);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Profile:      {}", s.profile);
    println!("Source:       {}", s.source.display());
    println!(
        "Destination:  {}{}",
        s.destination.display(),
        if s.destination_available { "" } else { " (NOT AVAILABLE)" }
    );
    let now = Utc::now();
    let words = view::status_view(&s, now);
    println!("Health:       {}", view::health_line(s.health, s.not_backed_up.len()));
    for line in view::first_names(&s.not_backed_up, 20) {
        println!("              not backed up: {line}");
    }
    if let Some(w) = &s.clock_warning {
        println!("Clock:        {w}");
    }
    match &s.last_backup {
        Some(b) => {
            println!("Last backup:  {} ({}, {})", b.name, local_time(b.started_at), view::ago(now, b.started_at))
        }
        None => println!("Last backup:  none"),
    }
    if let Some(a) = &s.last_attempt {
        println!(
            "Last attempt: {} {} ({})",
            local_time(a.started_at),
            serde_json::to_value(a.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            a.trigger
        );
    }
    if let Some(e) = &s.last_error {
        println!("Last error:   {}", e.message);
    }
    match s.next_due {
        Some(t) if t > now => println!("Next backup:  {} ({})", local_time(t), words.next_due),
        _ => println!("Next backup:  {}", words.next_due),
    }
    println!("Backups:      {} kept of {}, every {} h", s.backups, s.keep, s.every_hours);
    if let Some(o) = &s.offsite {
        println!("Offsite:      {}", o.repository);
        match &o.last_push {
            Some(p) => println!("Last push:    {} ({}, {})", p.backup, local_time(p.at), view::ago(now, p.at)),
            None => println!("Last push:    none"),
        }
        println!("Not pushed:   {}", if o.pending.is_empty() { "none".to_string() } else { o.pending.join(", ") });
        if let Some(e) = &o.last_error {
            println!("Offsite error: {}", e.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(engine: &Engine, name: Option<&str>, json: bool) -> Result<ExitCode> {
    let bar = Bar::new(!json);
    let report = engine.verify(name, &bar);
    bar.finish();
    let report = report?;
    if json {
        print_json(&report);
    } else if report.ok {
        println!(
            "{} is whole: {} files, {} checked against the manifest",
            report.name,
            report.files_checked,
            human_bytes(report.bytes_checked)
        );
    } else {
        for line in report.describe() {
            println!("{line}");
        }
        eprintln!(
            "lifeboat: backup {} is damaged: {}",
            report.path.display(),
            count(report.problems.len() as u64, "problem", "problems")
        );
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A path as the user typed it, relative to the source, in the manifest's form.
fn rel_arg(p: &Path) -> String {
    let s = encode_rel(p);
    s.trim_start_matches("./").trim_end_matches('/').to_string()
}

/// An escaped manifest path as a person reads it (lossy where a name is not UTF-8).
fn shown(rel: &str) -> String {
    decode_rel(rel).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| rel.to_string())
}

fn ls(engine: &Engine, name: &str, path: Option<&Path>, json: bool) -> Result<ExitCode> {
    let entries = engine.ls(name, &path.map(rel_arg).unwrap_or_default())?;
    if json {
        print_json(&entries);
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        let kind = match e.kind {
            EntryKind::Dir => "dir ",
            EntryKind::Symlink => "link",
            EntryKind::Database => "db  ",
            EntryKind::File => "file",
        };
        let state = view::entry_state(e.state);
        let size =
            if matches!(e.kind, EntryKind::File | EntryKind::Database) { human_bytes(e.size) } else { String::new() };
        println!("{kind}  {:>10}  {}  {:<15} {}", size, local_time(e.mtime), state, shown(&e.path));
        for t in e.tables.iter().flatten() {
            println!("        table {}: {}", t.name, view::rows_then_now(t));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn diff(engine: &Engine, name: &str, other: Option<&str>, json: bool) -> Result<ExitCode> {
    let d = engine.diff(name, other)?;
    if json {
        print_json(&d);
        return Ok(ExitCode::SUCCESS);
    }
    println!("From {} to {}: {}", d.from, d.to.as_deref().unwrap_or("the live data"), view::since_line(&d));
    for (label, list) in [("added", &d.added), ("removed", &d.removed), ("changed", &d.changed)] {
        for p in list {
            println!("  {label:<8} {}", shown(p));
        }
    }
    for db in &d.databases {
        for t in &db.tables {
            println!("  database {} table {}: {}", shown(&db.path), t.name, view::rows_then_now(t));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn restore(engine: &Engine, request: &RestoreRequest, yes: bool, json: bool) -> Result<ExitCode> {
    let name = &request.name;
    if !yes {
        let plan = engine.preview(request)?;
        if !std::io::stdin().is_terminal() {
            return Err(Error::Refused {
                message: format!(
                    "refusing to restore {name} without confirmation: there is no terminal to ask on — run again with --yes"
                ),
            });
        }
        match &request.to {
            Some(to) => println!("Restoring {name} into {} will:", to.display()),
            None => println!("Restoring {name} into {} will:", engine.profile().source.display()),
        }
        println!(
            "  put back {} changed files, bring back {} deleted files, remove {} files added since ({} unchanged, not touched)",
            plan.put_back, plan.bring_back, plan.remove, plan.unchanged
        );
        if !plan.databases.is_empty() {
            println!(
                "  replace the databases {}",
                plan.databases.iter().map(|d| shown(d)).collect::<Vec<_>>().join(", ")
            );
        }
        println!("  Scope: {}.", plan.scope);
        print!("Restore {name}? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("read", "standard input", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            println!("Nothing changed.");
            return Ok(ExitCode::FAILURE);
        }
    }
    let bar = Bar::new(!json);
    let report = engine.restore_request(request, &bar);
    bar.finish();
    let report = report?;
    if json {
        print_json(&report);
    } else {
        let files = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "file" } else { "files" });
        let databases = report.databases_restored.iter().map(|d| shown(d)).collect::<Vec<_>>().join(", ");
        match &report.to {
            Some(to) => println!(
                "Restored {name} into {}: {} copied{}",
                to.display(),
                files(report.put_back + report.brought_back, ""),
                if databases.is_empty() { String::new() } else { format!(" (databases {databases})") }
            ),
            None => println!(
                "Restored {name}: put back {}, brought back {}, removed {} added since{}",
                files(report.put_back, "changed "),
                files(report.brought_back, "deleted "),
                files(report.files_removed, ""),
                if databases.is_empty() { String::new() } else { format!("; databases put back: {databases}") }
            ),
        }
        if let Some(s) = &report.safety_snapshot {
            println!("The data as it was before is in {s}: `{} restore {s}` undoes this restore.", lb());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scheduler(engine: Engine) -> Result<ExitCode> {
    let tick = lifeboat::tick()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Internal { message: format!("cannot start the scheduler: {e}") })?;
    runtime.block_on(async move {
        let profile = engine.profile().clone();
        let scheduler = Scheduler::new(Some(engine), Arc::new(SystemClock));
        let mut events = scheduler.subscribe();
        tracing::info!(
            "lifeboat run: backing up \"{}\" every {} h to {}",
            profile.name,
            profile.every_hours,
            profile.destination.display()
        );
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                match event {
                    Event::BackupDone { trigger, outcome: BackupOutcome::Created { backup } } => {
                        tracing::info!(
                            "{trigger} backup {} done: {} files, {}",
                            backup.name,
                            backup.totals.files + backup.totals.databases,
                            human_bytes(backup.totals.bytes)
                        )
                    }
                    Event::BackupDone { trigger, outcome: BackupOutcome::Skipped { reason } } => {
                        tracing::info!("{trigger} backup skipped: {reason}")
                    }
                    Event::Failed { error, .. } => tracing::error!("backup failed: {}", error.message),
                    _ => {}
                }
            }
        });
        let looping = tokio::spawn(Arc::clone(&scheduler).run(tick));
        shutdown_signal().await;
        tracing::info!("lifeboat run: stopping");
        looping.abort();
        scheduler.shutdown();
    });
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

// ---------------------------------------------------------------- offsite

fn offsite(
    config_path: &Path,
    profile_name: Option<&str>,
    password_file: Option<&Path>,
    command: OffsiteCommand,
) -> Result<ExitCode> {
    use lifeboat::offsite;
    let load_profile = || -> Result<(Config, Profile)> {
        let config = Config::load(config_path)?;
        let profile = config.profile(profile_name)?.clone();
        Ok((config, profile))
    };
    // The repository: --repo, else the profile's (list, verify and restore need no config with --repo).
    let repository_of = |repo: Option<String>| -> Result<(String, Option<Profile>)> {
        match repo {
            Some(r) => Ok((r, load_profile().ok().map(|(_, p)| p))),
            None => {
                // With no config at all (a new machine), say how to reach the repository.
                let (_, p) = load_profile().map_err(|e| match e {
                    Error::NoConfig { path } => Error::Refused {
                        message: format!(
                            "no config at {}: name the repository with --repo URL (the secrets from \
                             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and LIFEBOAT_OFFSITE_PASSWORD)",
                            path.display()
                        ),
                    },
                    e => e,
                })?;
                let r = p.offsite.as_ref().map(|o| o.repository.clone()).ok_or_else(|| offsite_missing(&p))?;
                Ok((r, Some(p)))
            }
        }
    };
    match command {
        OffsiteCommand::Init { repo, keep, json } => {
            let (mut config, mut profile) = load_profile()?;
            let url = offsite::RepoUrl::parse(&repo)?;
            let mut settings = profile.offsite.clone().unwrap_or_else(|| lifeboat::Offsite::new(url.text.clone()));
            settings.repository = url.text.clone();
            settings.keep = keep;
            settings.validate(&format!("profile \"{}\"", profile.name))?;
            let (secrets, found) = offsite::resolve_secrets(&url.text, password_file)?;
            let report = offsite::init(&url.text, &secrets, lifeboat::offsite_chunk_bytes()?)?;
            let kept = found == offsite::Found::Keychain || offsite::store_secrets(&url.text, &secrets)?;
            profile.offsite = Some(settings);
            config.upsert(profile.clone());
            config.save(config_path)?;
            if json {
                print_json(&report);
                return Ok(ExitCode::SUCCESS);
            }
            if report.created {
                println!("Created the offsite repository {}", report.repository);
            } else {
                println!(
                    "Attached to the offsite repository {} ({} snapshots in it)",
                    report.repository, report.snapshots
                );
            }
            println!(
                "Wrote [profile.offsite] of \"{}\" to {}, keeping {keep} snapshots",
                profile.name,
                config_path.display()
            );
            if kept {
                println!("The S3 keys and the password are kept in the keychain.");
            } else {
                println!(
                    "No keychain to keep the secrets in: give them to every offsite command and to `{} run` \
                     (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, LIFEBOAT_OFFSITE_PASSWORD or --password-file).",
                    lb()
                );
            }
            println!("Keep the password somewhere safe: without it nobody, not even you, can read the copies.");
            println!("Push the backups now with `{} offsite push`.", lb());
            Ok(ExitCode::SUCCESS)
        }
        OffsiteCommand::Push { name, json } => {
            let (_, profile) = load_profile()?;
            let repository =
                profile.offsite.as_ref().map(|o| o.repository.clone()).ok_or_else(|| offsite_missing(&profile))?;
            let (secrets, _) = offsite::resolve_secrets(&repository, password_file)?;
            let run = offsite::push(&profile, name.as_deref(), &secrets, Arc::default())?;
            if json {
                print_json(&run);
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(n) = &run.already_offsite {
                println!("{n} is already offsite: nothing to push.");
            } else if run.pushed.is_empty() {
                println!("Nothing to push: every backup is already offsite in {}.", run.repository);
            }
            for p in &run.pushed {
                println!(
                    "Pushed {} as snapshot {}: {} files, {} ({} uploaded in {} objects), {:.1} s",
                    p.backup,
                    &p.snapshot[..8.min(p.snapshot.len())],
                    p.files,
                    human_bytes(p.bytes),
                    human_bytes(p.uploaded_bytes),
                    p.puts,
                    p.seconds
                );
            }
            if !run.retention.forgotten.is_empty() {
                println!(
                    "Retention: forgot {} ({}); {} marked unused, {} deleted",
                    count(run.retention.forgotten.len() as u64, "older snapshot", "older snapshots"),
                    run.retention.forgotten_backups.join(", "),
                    count(run.retention.packs_marked, "pack", "packs"),
                    run.retention.packs_deleted
                );
            }
            if let Some(share) = &run.checked_share {
                println!("Checked the repository and read back share {share} of its data: no problem found.");
            }
            Ok(ExitCode::SUCCESS)
        }
        OffsiteCommand::List { repo, json } => {
            let (repository, _) = repository_of(repo)?;
            let (secrets, _) = offsite::resolve_secrets(&repository, password_file)?;
            let snaps = offsite::list(&repository, &secrets)?;
            if json {
                print_json(&snaps);
                return Ok(ExitCode::SUCCESS);
            }
            if snaps.is_empty() {
                println!("No snapshots yet in {repository}. Push with `{} offsite push`.", lb());
            }
            for s in &snaps {
                println!(
                    "{}  {}  {}  {}  {}  {}",
                    s.short_id,
                    local_time(s.time),
                    s.backup.as_deref().unwrap_or("-"),
                    s.profile.as_deref().unwrap_or(&s.path),
                    human_bytes(s.size),
                    s.host
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        OffsiteCommand::Verify { read_data, repo, json } => {
            if !(0.0..=100.0).contains(&read_data) {
                return Err(Error::Refused {
                    message: format!("--read-data {read_data}: give a percent from 0 to 100"),
                });
            }
            let (repository, _) = repository_of(repo)?;
            let (secrets, _) = offsite::resolve_secrets(&repository, password_file)?;
            let report = offsite::verify(&repository, &secrets, read_data)?;
            if json {
                print_json(&report);
            } else if report.ok {
                println!(
                    "{} is whole: structure checked, {}% of the data read back and checked ({:.1} s)",
                    report.repository, report.read_data_percent, report.seconds
                );
            } else {
                for p in &report.problems {
                    println!("{p}");
                }
                eprintln!(
                    "lifeboat: offsite repository {} has problems: {}",
                    report.repository,
                    count(report.problems.len() as u64, "finding", "findings")
                );
            }
            Ok(if report.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        OffsiteCommand::Fetch { snapshot, json } => {
            let (_, profile) = load_profile()?;
            let repository =
                profile.offsite.as_ref().map(|o| o.repository.clone()).ok_or_else(|| offsite_missing(&profile))?;
            let (secrets, _) = offsite::resolve_secrets(&repository, password_file)?;
            let report = offsite::fetch(&profile, &secrets, &snapshot, Arc::default())?;
            if json {
                print_json(&report);
                return Ok(ExitCode::SUCCESS);
            }
            if report.already_local {
                println!("{} is already in {}: nothing to fetch.", report.backup, profile.destination.display());
            } else {
                println!(
                    "Brought back {} into {}: {}, {}, checked against its manifest, {:.1} s",
                    report.backup,
                    profile.destination.display(),
                    count(report.files, "file", "files"),
                    human_bytes(report.bytes),
                    report.seconds
                );
            }
            println!(
                "Restore from it as from any backup: `{} restore {}` (in place, with a preview), or with PATHs or --to.",
                lb(),
                report.backup
            );
            Ok(ExitCode::SUCCESS)
        }
        OffsiteCommand::Restore { snapshot, paths, to, repo, json } => {
            let (repository, profile) = repository_of(repo)?;
            let (secrets, _) = offsite::resolve_secrets(&repository, password_file)?;
            let to = absolute(&to)?;
            if let Some(p) = &profile {
                lifeboat::check_restore_folder(&to, p)?;
            }
            let report = offsite::restore(
                &repository,
                &secrets,
                &snapshot,
                &paths,
                &to,
                profile.as_ref().map(|p| p.name.as_str()),
                Arc::default(),
            )?;
            if json {
                print_json(&report);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Restored snapshot {} ({}, {}) into {}: {}, {}, {:.1} s",
                report.snapshot.short_id,
                report.snapshot.backup.as_deref().unwrap_or("-"),
                local_time(report.snapshot.time),
                report.to.display(),
                count(report.files, "file", "files"),
                human_bytes(report.bytes),
                report.seconds
            );
            if let Some(n) = report.checked_against_manifest {
                println!(
                    "Checked against the manifest inside it: {} whole (the rest are manifest.json and backup_info.txt).",
                    count(n, "file", "files")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn offsite_missing(p: &Profile) -> Error {
    Error::Setting {
        field: "offsite",
        message: format!(
            "profile \"{}\" has no offsite copy: set one up with `lifeboat offsite init --repo URL`, or give --repo",
            p.name
        ),
    }
}
