//! The window's reach, pinned: the commands in docs/app-api.md are exactly the app's
//! command permissions (build.rs) and exactly what the capability grants, plus event
//! listening; nothing else (no shell, fs, dialog or opener); the CSP stays strict.

use std::collections::BTreeSet;

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{CRATE}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Command names from the Commands table in docs/app-api.md: rows like "| `get_status` | ...".
fn documented_commands() -> BTreeSet<String> {
    let doc = read("../docs/app-api.md");
    let commands = doc.split("## Commands").nth(1).unwrap().split("## Events").next().unwrap();
    commands
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(String::from)
        .collect()
}

fn manifest_commands() -> BTreeSet<String> {
    let build = read("build.rs");
    let list = build.split("const COMMANDS").nth(1).unwrap().split("];").next().unwrap();
    list.split('"').skip(1).step_by(2).map(String::from).collect()
}

#[test]
fn documented_commands_are_the_permitted_ones() {
    let documented = documented_commands();
    assert_eq!(documented.len(), 16, "{documented:?}");
    assert_eq!(manifest_commands(), documented, "build.rs COMMANDS vs docs/app-api.md");

    let capability: serde_json::Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    assert_eq!(capability["windows"], serde_json::json!(["main"]));
    let granted: BTreeSet<String> =
        capability["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    let mut expected: BTreeSet<String> = documented.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
    expected.insert("core:event:allow-listen".into());
    expected.insert("core:event:allow-unlisten".into());
    assert_eq!(granted, expected);

    let source = read("src/lib.rs");
    for command in &documented {
        assert!(source.contains(&format!("commands::{command},")), "{command} is not in the invoke handler");
    }
}

#[test]
fn the_content_security_policy_is_strict() {
    let conf: serde_json::Value = serde_json::from_str(&read("tauri.conf.json")).unwrap();
    let csp = conf["app"]["security"]["csp"].as_str().unwrap();
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(conf["app"]["withGlobalTauri"], true);
    assert_eq!(conf["build"]["frontendDist"], "../ui");
    assert!(conf["build"].get("devUrl").is_none() && conf["build"].get("beforeBuildCommand").is_none());
}
