//! The window's contract as data: every command's arguments and result and every event's
//! payload, as JSON Schemas derived from the Rust types. `docs/app-api.schema.json` and
//! the generated part of `docs/app-api.md` are [`document`], pinned by tests/contract.rs,
//! which also checks these signatures against `commands.rs`.

use std::path::PathBuf;

use lifeboat::{BackupInfo, BackupOutcome, RestorePlan, RestoreReport, RestoreRequest, RunRecord, VerifyReport};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use lifeboat::offsite::{FetchReport, OffsiteRestoreReport, OffsiteSnapshot};

use crate::api::{BrowseEntry, CommandError, OffsiteCheck, OffsiteForm, OffsiteSaved, Settings, SinceBackup};
use crate::events::{ProfileProgress, PROGRESS, STATUS_CHANGED};
use crate::state::AppStatus;

/// One argument of a command, as the window passes it.
pub struct Arg {
    /// Its name in `commands.rs`.
    pub name: &'static str,
    /// Its key in the `invoke` arguments (Tauri reads the Rust name in camelCase).
    pub key: String,
    /// Its Rust type as written in `commands.rs`.
    pub rust: &'static str,
    /// What the window may send (the deserialising side's schema, self-contained).
    pub schema: Schema,
}

/// One command: its name, arguments and result.
pub struct Command {
    /// The name the window invokes.
    pub name: &'static str,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
    /// Its result's Rust type as written in `commands.rs` (inside `ApiResult<...>`).
    pub returns_rust: &'static str,
    /// What the window gets back.
    pub returns: Schema,
}

/// The generators: what the window sends is read (deserialised), what it gets is written.
struct Generators {
    input: SchemaGenerator,
    output: SchemaGenerator,
}

impl Generators {
    fn arg<T: JsonSchema>(&mut self, name: &'static str, rust: &'static str) -> Arg {
        Arg { name, key: camel_case(name), rust, schema: self.input.subschema_for::<T>() }
    }
}

/// `#[tauri::command]` arguments arrive under their camelCase names.
fn camel_case(name: &str) -> String {
    let mut parts = name.split('_');
    let first = parts.next().unwrap_or_default().to_string();
    parts.fold(first, |mut out, p| {
        let mut chars = p.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase().chain(chars));
        }
        out
    })
}

macro_rules! command {
    ($g:ident, $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        Command {
            name: stringify!($name),
            args: vec![$($g.arg::<$ty>(stringify!($arg), stringify!($ty))),*],
            returns_rust: stringify!($ret),
            returns: $g.output.subschema_for::<$ret>(),
        }
    };
}

/// Every command of `commands.rs`, in the order of the invoke handler.
fn commands(g: &mut Generators) -> Vec<Command> {
    vec![
        command!(g, get_status() -> AppStatus),
        command!(g, list_backups(profile: Option<String>) -> Vec<BackupInfo>),
        command!(g, backup_now(profile: Option<String>) -> BackupOutcome),
        command!(g, verify_backup(profile: Option<String>, name: String) -> VerifyReport),
        command!(g, restore_preview(profile: Option<String>, name: String) -> RestorePlan),
        command!(g, restore_backup(profile: Option<String>, name: String) -> RestoreReport),
        command!(g, list_entries(profile: Option<String>, name: String, path: String) -> Vec<BrowseEntry>),
        command!(g, diff_backup(profile: Option<String>, name: String) -> SinceBackup),
        command!(g, preview_restore(profile: Option<String>, request: RestoreRequest) -> RestorePlan),
        command!(g, restore_request(profile: Option<String>, request: RestoreRequest) -> RestoreReport),
        command!(g, get_settings(profile: Option<String>) -> Settings),
        command!(g, save_settings(profile: Option<String>, settings: Settings) -> Settings),
        command!(g, add_profile(settings: Settings) -> Settings),
        command!(g, test_offsite(form: OffsiteForm) -> OffsiteCheck),
        command!(g, save_offsite(profile: Option<String>, form: OffsiteForm) -> OffsiteSaved),
        command!(g, remove_offsite(profile: Option<String>) -> Settings),
        command!(g, list_offsite(profile: Option<String>) -> Vec<OffsiteSnapshot>),
        command!(g, restore_offsite(profile: Option<String>, snapshot: String, to: PathBuf) -> OffsiteRestoreReport),
        command!(g, fetch_offsite(profile: Option<String>, snapshot: String) -> FetchReport),
        command!(g, pick_folder(start: Option<String>) -> Option<PathBuf>),
        command!(g, get_autostart() -> bool),
        command!(g, set_autostart(enabled: bool) -> bool),
        command!(g, pause_backups(profile: Option<String>, hours: Option<f64>) -> AppStatus),
        command!(g, resume_backups(profile: Option<String>) -> AppStatus),
        command!(g, get_history(profile: Option<String>, limit: usize) -> Vec<RunRecord>),
        command!(g, open_backup_folder(profile: Option<String>, name: Option<String>) -> ()),
        command!(g, open_log_file() -> ()),
    ]
}

/// Every event the window can listen to, with its payload.
fn events(g: &mut Generators) -> Vec<(&'static str, Schema)> {
    vec![
        (STATUS_CHANGED, g.output.subschema_for::<AppStatus>()),
        (PROGRESS, g.output.subschema_for::<ProfileProgress>()),
    ]
}

/// The commands with their schemas (for checks that need the Rust side too).
pub fn command_list() -> Vec<Command> {
    commands(&mut generators())
}

fn generators() -> Generators {
    let settings = SchemaSettings::draft2020_12();
    Generators {
        // Arguments inlined: each one's schema reads alone, and never shares a name with
        // the (serialised) result type of the same name.
        input: settings.clone().for_deserialize().with(|s| s.inline_subschemas = true).into_generator(),
        output: settings.for_serialize().into_generator(),
    }
}

/// An argument's schema, titled with its Rust type when it is a whole object (inlined).
fn arg_schema(arg: &Arg) -> Value {
    let mut schema = arg.schema.clone().to_value();
    if schema.get("properties").is_some() && schema.get("title").is_none() {
        schema["title"] = Value::from(arg.rust);
    }
    schema
}

/// The whole contract as one JSON Schema document: `commands` (each with `args`, an
/// object schema of the invoke arguments, and `returns`), `events` (each its payload),
/// `error` (what every failing command rejects with) and the shared `$defs`.
pub fn document() -> Value {
    let mut g = generators();
    let commands: Map<String, Value> = commands(&mut g)
        .into_iter()
        .map(|c| {
            let required: Vec<&str> =
                c.args.iter().filter(|a| !a.rust.starts_with("Option<")).map(|a| a.key.as_str()).collect();
            let properties: Map<String, Value> = c.args.iter().map(|a| (a.key.clone(), arg_schema(a))).collect();
            let args = json!({ "type": "object", "properties": properties, "required": required });
            (c.name.to_string(), json!({ "args": args, "returns": c.returns }))
        })
        .collect();
    let events: Map<String, Value> = events(&mut g).into_iter().map(|(n, s)| (n.to_string(), s.to_value())).collect();
    let error = g.output.subschema_for::<CommandError>();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Lifeboat window API",
        "description": "The commands (window.__TAURI__.core.invoke(name, args)) and events (window.__TAURI__.event.listen(name, cb)) between the window (ui/) and the tray app (src-tauri/). Generated from the Rust types by src-tauri/src/contract.rs; LIFEBOAT_UPDATE_SCHEMA=1 cargo test -p lifeboat-app --test contract rewrites it.",
        "commands": commands,
        "events": events,
        "error": error,
        "$defs": g.output.take_definitions(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_keys_are_camel_case() {
        assert_eq!(camel_case("name"), "name");
        assert_eq!(camel_case("hook_timeout_secs"), "hookTimeoutSecs");
    }
}
