//! The window's contract, pinned.
//!
//! - `docs/app-api.schema.json` is exactly the JSON Schema the code derives
//!   (`lifeboat_app::contract::document`), and the generated part of `docs/app-api.md` is
//!   exactly its rendering; `LIFEBOAT_UPDATE_SCHEMA=1` rewrites both instead of failing.
//! - The contract's signatures are those of the `#[tauri::command]`s in `commands.rs`.
//! - Every side names the same commands: the schema, the commands declared, the invoke
//!   handler (`generate_handler!` in lib.rs), the permissions (build.rs), the capability's
//!   grants, the window's one door (`call('...')` in ui/api.js) and the preview's mock;
//!   and the same events (the schema, `on('...')` in ui/api.js).
//! - The error kinds the window checks are the engine's `ErrorKind` names.
//! - Nothing else is granted (no shell, fs, dialog or opener); the CSP stays strict.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");
const SCHEMA_FILE: &str = "../docs/app-api.schema.json";
const DOC_FILE: &str = "../docs/app-api.md";
const BEGIN: &str =
    "<!-- BEGIN GENERATED from docs/app-api.schema.json by src-tauri/tests/contract.rs: do not edit -->";
const END: &str = "<!-- END GENERATED -->";
const UPDATE: &str = "LIFEBOAT_UPDATE_SCHEMA";

type Names = BTreeSet<String>;

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{CRATE}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn write(rel: &str, text: &str) {
    std::fs::write(format!("{CRATE}/{rel}"), text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The pinned schema, as committed.
fn schema() -> Value {
    serde_json::from_str(&read(SCHEMA_FILE)).unwrap_or_else(|e| panic!("{SCHEMA_FILE}: {e}"))
}

/// Fails with the first line where `file` (committed) and `derived` differ.
fn assert_same(file: &str, committed: &str, derived: &str) {
    if committed == derived {
        return;
    }
    let (n, (old, new)) = committed
        .lines()
        .chain(std::iter::repeat(""))
        .zip(derived.lines().chain(std::iter::repeat("")))
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap_or((0, ("", "")));
    panic!(
        "{file} differs from what the code derives, first at line {}:\n  committed: {old}\n  derived:   {new}\n\
         If the change to the window's contract is meant, run\n  {UPDATE}=1 cargo test -p lifeboat-app --test contract\n\
         and commit the files it rewrites (and the window's side of the change).",
        n + 1
    );
}

#[test]
fn the_schema_and_the_doc_are_what_the_code_derives() {
    let derived = lifeboat_app::contract::document();
    let schema_text = serde_json::to_string_pretty(&derived).unwrap() + "\n";
    let doc = read(DOC_FILE);
    let (before, rest) = doc.split_once(BEGIN).unwrap_or_else(|| panic!("{DOC_FILE} has no line {BEGIN}"));
    let (_, after) = rest.split_once(END).unwrap_or_else(|| panic!("{DOC_FILE} has no line {END}"));
    let doc_text = format!("{before}{BEGIN}\n{}{END}{after}", markdown(&derived));
    if std::env::var(UPDATE).is_ok_and(|v| v == "1") {
        write(SCHEMA_FILE, &schema_text);
        write(DOC_FILE, &doc_text);
        println!("rewrote {SCHEMA_FILE} and the generated part of {DOC_FILE}");
        return;
    }
    assert_same(SCHEMA_FILE, &read(SCHEMA_FILE), &schema_text);
    assert_same(DOC_FILE, &doc, &doc_text);
}

// ---- every side names the same commands ----

/// Command names in the pinned schema.
fn schema_commands() -> Names {
    schema()["commands"].as_object().expect("commands").keys().cloned().collect()
}

/// `#[tauri::command] pub async fn NAME` in commands.rs.
fn declared_commands() -> Names {
    signatures().into_iter().map(|s| s.name).collect()
}

/// The commands in lib.rs's `tauri::generate_handler![...]`.
fn handler_commands() -> Names {
    let lib = read("src/lib.rs");
    let list = lib.split("generate_handler![").nth(1).expect("generate_handler! in lib.rs");
    let list = list.split(']').next().unwrap();
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches("commands::").into())
        .collect()
}

/// build.rs's `COMMANDS`, from which the `allow-<command>` permissions are generated.
fn permitted_commands() -> Names {
    let build = read("build.rs");
    let list = build.split("const COMMANDS").nth(1).unwrap().split("];").next().unwrap();
    list.split('"').skip(1).step_by(2).map(String::from).collect()
}

/// The capability's grants: `allow-<command>` back to command names, and the rest as is.
fn granted() -> (Names, Names) {
    let capability: Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    assert_eq!(capability["windows"], serde_json::json!(["main"]));
    let grants = capability["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string());
    let (commands, other): (Vec<String>, Vec<String>) = grants.partition(|p| p.starts_with("allow-"));
    let commands = commands.iter().map(|p| p.trim_start_matches("allow-").replace('-', "_")).collect();
    (commands, other.into_iter().collect())
}

/// Every `NAME` quoted right after `opener` in `text`: `call('get_status'` gives `get_status`.
fn quoted_after(text: &str, opener: &str) -> Names {
    text.split(opener).skip(1).filter_map(|rest| rest.split('\'').next()).map(String::from).collect()
}

/// The commands the preview's mock answers: the keys of its `const commands = { ... }`.
fn mocked_commands() -> Names {
    let mock = read("../ui/dev/mock-tauri.js");
    let body = mock.split("const commands = {").nth(1).expect("const commands in the mock");
    let body = body.split("\n};").next().unwrap();
    body.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.trim().split(':').next())
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(String::from)
        .collect()
}

/// What `side` has that the schema lacks, and the other way round, if anything.
fn disagreement(side: &str, found: &Names, schema: &Names) -> Option<String> {
    let extra: Vec<_> = found.difference(schema).collect();
    let missing: Vec<_> = schema.difference(found).collect();
    (!extra.is_empty() || !missing.is_empty())
        .then(|| format!("{side}: not in the schema {extra:?}, missing {missing:?}"))
}

#[test]
fn every_side_names_the_same_commands_and_events() {
    let commands = schema_commands();
    assert_eq!(commands.len(), 27, "{commands:?}");
    let (granted, other) = granted();
    let api_js = read("../ui/api.js");
    let events: Names = schema()["events"].as_object().expect("events").keys().cloned().collect();
    assert_eq!(events, ["progress", "status-changed"].map(String::from).into());
    let sides = [
        ("commands.rs #[tauri::command]", declared_commands(), &commands),
        ("lib.rs generate_handler![]", handler_commands(), &commands),
        ("build.rs COMMANDS (the permissions)", permitted_commands(), &commands),
        ("capabilities/main.json allow-*", granted, &commands),
        ("ui/api.js call('...')", quoted_after(&api_js, "call('"), &commands),
        ("ui/dev/mock-tauri.js commands", mocked_commands(), &commands),
        ("ui/api.js on('...')", quoted_after(&api_js, "on('"), &events),
    ];
    let disagreements: Vec<String> =
        sides.iter().filter_map(|(side, found, schema)| disagreement(side, found, schema)).collect();
    assert!(disagreements.is_empty(), "disagree with {SCHEMA_FILE}:\n  {}", disagreements.join("\n  "));

    // Besides the commands, only listening to events.
    let only_events: Names = ["core:event:allow-listen", "core:event:allow-unlisten"].map(String::from).into();
    assert_eq!(other, only_events, "capabilities/main.json grants more than the commands and events");
}

// ---- the contract's signatures are the commands' ----

/// A `#[tauri::command]` as written: name, window arguments (name, type), result type.
struct Signature {
    name: String,
    args: Vec<(String, String)>,
    returns: String,
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Splits on commas outside `<...>` and `(...)`.
fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut current) = (Vec::new(), 0i32, String::new());
    for c in s.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// The `#[tauri::command]`s of commands.rs; the state and app handle are not the window's.
fn signatures() -> Vec<Signature> {
    let source = read("src/commands.rs");
    source
        .split("#[tauri::command]")
        .skip(1)
        .map(|item| {
            let item = item.trim_start();
            let rest = item.strip_prefix("pub async fn ").unwrap_or_else(|| panic!("not a pub async fn: {item:.80}"));
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let params_start = rest.find('(').unwrap();
            let (params, tail) = rest[params_start + 1..].split_once(") -> ").unwrap();
            let result = tail.split(" {").next().unwrap().trim();
            let returns = result
                .strip_prefix("ApiResult<")
                .and_then(|r| r.strip_suffix('>'))
                .unwrap_or_else(|| panic!("{name} does not return ApiResult<...>"));
            let args = split_top(params)
                .into_iter()
                .map(|p| {
                    let (n, t) = p.split_once(':').unwrap();
                    (n.trim().to_string(), squeeze(t))
                })
                .filter(|(_, t)| !t.starts_with("AppStateRef") && !t.starts_with("AppHandle"))
                .collect();
            Signature { name, args, returns: squeeze(returns) }
        })
        .collect()
}

#[test]
fn the_contract_lists_the_commands_as_declared() {
    let declared = signatures();
    let listed = lifeboat_app::contract::command_list();
    let names = |v: Vec<&str>| v.join(", ");
    assert_eq!(
        names(listed.iter().map(|c| c.name).collect()),
        names(declared.iter().map(|s| s.name.as_str()).collect()),
        "contract.rs lists the commands of commands.rs, in the same order"
    );
    for (c, s) in listed.iter().zip(&declared) {
        let args: Vec<(String, String)> = c.args.iter().map(|a| (a.name.to_string(), squeeze(a.rust))).collect();
        assert_eq!(args, s.args, "the arguments of {} in contract.rs and commands.rs", c.name);
        assert_eq!(squeeze(c.returns_rust), s.returns, "the result of {} in contract.rs and commands.rs", c.name);
    }
}

// ---- the error kinds the window checks ----

/// The engine's `ErrorKind` names, from the schema.
fn error_kinds() -> Names {
    let kind = &schema()["$defs"]["ErrorKind"];
    let names: Names = match kind["enum"].as_array() {
        Some(values) => values.iter().filter_map(Value::as_str).map(String::from).collect(),
        None => kind["oneOf"]
            .as_array()
            .expect("ErrorKind: enum or oneOf")
            .iter()
            .filter_map(|v| v["const"].as_str())
            .map(String::from)
            .collect(),
    };
    assert!(names.contains("setting") && names.contains("destination_unavailable"), "{names:?}");
    names
}

/// Kinds the window's code names for errors: `err?.kind === '...'`, `err.kind ?? '...'`,
/// `{ kind: '...', message` (a rejection it makes or mocks), `errorKind: '...'` (mock history).
fn kinds_named_in(js: &str) -> Names {
    let mut out = Names::new();
    for err in ["err?.", "err.", "error?.", "error."] {
        for test in ["kind === '", "kind !== '", "kind ?? '"] {
            out.extend(quoted_after(js, &format!("{err}{test}")));
        }
    }
    out.extend(quoted_after(js, "errorKind: '"));
    for rest in js.split("kind: '").skip(1) {
        let (word, after) = rest.split_once('\'').unwrap_or((rest, ""));
        if after.starts_with(", message") || after.starts_with(", field") {
            out.insert(word.to_string());
        }
    }
    out
}

#[test]
fn the_window_checks_the_engines_error_kinds() {
    let kinds = error_kinds();
    let mut named = Names::new();
    let ui = format!("{CRATE}/../ui");
    let dirs = [ui.clone(), format!("{ui}/views"), format!("{ui}/dev")];
    for dir in &dirs {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "js") {
                named.extend(kinds_named_in(&std::fs::read_to_string(entry.path()).unwrap()));
            }
        }
    }
    assert!(named.contains("setting") && named.contains("destination_unavailable"), "found {named:?}");
    let unknown: Vec<_> = named.difference(&kinds).collect();
    assert!(unknown.is_empty(), "ui/ names error kinds the engine does not have: {unknown:?} (kinds: {kinds:?})");
}

#[test]
fn the_content_security_policy_is_strict() {
    let conf: Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let csp = conf["app"]["security"]["csp"].as_str().unwrap();
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(conf["app"]["withGlobalTauri"], true);
    assert_eq!(conf["build"]["frontendDist"], "../ui");
    assert!(conf["build"].get("devUrl").is_none() && conf["build"].get("beforeBuildCommand").is_none());
}

// ---- docs/app-api.md's generated part ----

/// The generated part of docs/app-api.md: the commands, the events and every type.
fn markdown(doc: &Value) -> String {
    let mut out = String::new();
    out.push_str("\n## Commands\n\n| command | args | returns |\n|---|---|---|\n");
    for (name, c) in doc["commands"].as_object().unwrap() {
        let args = match c["args"]["properties"].as_object() {
            Some(p) if !p.is_empty() => {
                let required = string_set(&c["args"]["required"]);
                let fields: Vec<String> = p
                    .iter()
                    .map(|(k, s)| format!("{k}{}: {}", if required.contains(k) { "" } else { "?" }, ty(s)))
                    .collect();
                format!("`{{ {} }}`", fields.join(", "))
            }
            _ => "–".to_string(),
        };
        writeln!(out, "| `{name}` | {} | `{}` |", cell(&args), cell(&ty(&c["returns"]))).unwrap();
    }
    out.push_str("\nA failing command rejects with `CommandError`.\n");
    out.push_str("\n## Events\n\n| event | payload |\n|---|---|\n");
    for (name, payload) in doc["events"].as_object().unwrap() {
        writeln!(out, "| `{name}` | `{}` |", cell(&ty(payload))).unwrap();
    }
    out.push_str("\n## Types\n\nFrom the Rust types' doc comments. `?` marks a field that may be left out.\n");
    for (name, def) in doc["$defs"].as_object().unwrap() {
        write!(out, "\n### {name}\n\n").unwrap();
        if let Some(d) = def["description"].as_str() {
            writeln!(out, "{}\n", one_line(d)).unwrap();
        }
        type_body(&mut out, def);
    }
    out
}

fn type_body(out: &mut String, def: &Value) {
    if let Some(props) = def["properties"].as_object() {
        let required = string_set(&def["required"]);
        out.push_str("| field | type | meaning |\n|---|---|---|\n");
        for (k, s) in props {
            let opt = if required.contains(k) { "" } else { "?" };
            let meaning = s["description"].as_str().map(one_line).unwrap_or_default();
            writeln!(out, "| `{k}{opt}` | `{}` | {} |", cell(&ty(s)), cell(&meaning)).unwrap();
        }
        for part in def["allOf"].as_array().into_iter().flatten() {
            writeln!(out, "\nand the fields of `{}`.", ty(part)).unwrap();
        }
        return;
    }
    let variants = def["oneOf"].as_array().or(def["anyOf"].as_array());
    match variants {
        Some(vs) if vs.iter().any(|v| v["description"].is_string()) => {
            out.push_str("One of:\n\n");
            for v in vs {
                let meaning = v["description"].as_str().map(|d| format!(": {}", one_line(d))).unwrap_or_default();
                writeln!(out, "- `{}`{meaning}", ty(&strip_description(v))).unwrap();
            }
        }
        _ => writeln!(out, "`{}`", ty(def)).unwrap(),
    }
}

fn strip_description(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("description");
    }
    v
}

fn string_set(v: &Value) -> Names {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes `|` for a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A schema as a short TypeScript-like type: `string | null`, `BackupInfo[]`, `"ok" | "failed"`.
fn ty(s: &Value) -> String {
    if s == &Value::Bool(true) {
        return "any".into();
    }
    if let Some(r) = s["$ref"].as_str() {
        return r.rsplit('/').next().unwrap().to_string();
    }
    if let Some(c) = s.get("const") {
        return c.to_string();
    }
    if let Some(values) = s["enum"].as_array() {
        return values.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
    }
    if let Some(vs) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        let mut parts: Vec<String> = vs.iter().map(ty).collect();
        parts.dedup();
        return parts.join(" | ");
    }
    match &s["type"] {
        Value::Array(types) => types.iter().map(|t| ty(&with_type(s, t))).collect::<Vec<_>>().join(" | "),
        Value::String(t) => match t.as_str() {
            "array" => {
                let item = ty(&s["items"]);
                if item.contains(' ') {
                    format!("({item})[]")
                } else {
                    format!("{item}[]")
                }
            }
            "object" => match (s["properties"].as_object(), s["title"].as_str()) {
                (_, Some(title)) => title.to_string(),
                (Some(props), None) => {
                    let required = string_set(&s["required"]);
                    let fields: Vec<String> = props
                        .iter()
                        .map(|(k, v)| format!("{k}{}: {}", if required.contains(k) { "" } else { "?" }, ty(v)))
                        .collect();
                    format!("{{ {} }}", fields.join(", "))
                }
                (None, None) => match s.get("additionalProperties") {
                    Some(v) if v.is_object() => format!("{{ [key: string]: {} }}", ty(v)),
                    _ => "object".into(),
                },
            },
            other => other.to_string(),
        },
        _ => "any".into(),
    }
}

/// `s` with one of its types only (for `"type": ["string", "null"]`).
fn with_type(s: &Value, t: &Value) -> Value {
    let mut one = s.clone();
    one["type"] = t.clone();
    one
}
