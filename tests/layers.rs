//! The engine's modules form layers (see `src/lib.rs`): a module may import only from
//! its own layer or the ones below, and never in a circle. This test reads every
//! `crate::` path in `src/` and fails on an import that points up or closes a circle.
//! `cargo test --test layers -- --nocapture` prints the module graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Each engine module and its layer, bottom (1) to top (5).
const LAYERS: &[(&str, u8)] = &[
    ("error", 1),
    ("fsx", 1),
    ("layout", 1),
    ("units", 1),
    ("env", 1),
    ("progress", 1),
    ("logging", 1),
    ("config", 2),
    ("manifest", 2),
    ("selection", 2),
    ("sqlite", 2),
    ("catalog", 3),
    ("lock", 3),
    ("history", 3),
    ("backup", 4),
    ("verify", 4),
    ("restore", 4),
    ("hooks", 4),
    ("offsite", 4),
    ("engine", 5),
    ("schedule", 5),
    ("view", 5),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The module a file under `src/` belongs to: `backup/scan.rs` is `backup`.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "bin").then(|| name.to_string())
}

/// Every `crate::name` in `text` (imports and inline paths alike), comments left out.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = after;
        }
        // `use crate::{a, b::c}` groups.
        if let Some(i) = code.find("crate::{") {
            let group = &code[i + "crate::{".len()..];
            for part in group.split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

fn graph_of(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in walkdir::WalkDir::new(src).into_iter().flatten() {
        if entry.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = entry.path().strip_prefix(src).unwrap();
        let Some(module) = module_of(rel) else { continue };
        let text = fs::read_to_string(entry.path()).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        for dep in crate_refs(&text) {
            if dep != module {
                deps.insert(dep);
            }
        }
    }
    graph
}

/// Every import that points up a layer, every module missing from [`LAYERS`], and every
/// circle, one line each.
fn violations(graph: &Graph) -> Vec<String> {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut out = Vec::new();
    for (module, deps) in graph {
        let Some(&own) = layer.get(module.as_str()) else {
            out.push(format!("module {module} has no layer: add it to LAYERS and to the list in src/lib.rs"));
            continue;
        };
        for dep in deps {
            match layer.get(dep.as_str()) {
                Some(&l) if l > own => out.push(format!("{module} (layer {own}) imports {dep} (layer {l}): upward")),
                Some(_) => {}
                None => out.push(format!("{module} imports {dep}, which has no layer")),
            }
        }
    }
    // Circles: a depth-first search that meets a module on its own path.
    fn visit(m: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>, out: &mut Vec<String>) {
        if let Some(i) = path.iter().position(|p| p == m) {
            out.push(format!("circle: {} -> {m}", path[i..].join(" -> ")));
            return;
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        for dep in graph.get(m).into_iter().flatten() {
            visit(dep, graph, path, done, out);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, graph, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

#[test]
fn engine_modules_import_only_downward_and_never_in_a_circle() {
    let graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() >= LAYERS.len(), "only {} modules found", graph.len());
    for (module, deps) in &graph {
        println!("{module} -> {}", deps.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    let found = violations(&graph);
    assert!(found.is_empty(), "the layers are broken:\n{}", found.join("\n"));
}

#[test]
fn a_planted_upward_import_and_a_circle_are_caught() {
    let mut graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    graph.get_mut("catalog").unwrap().insert("engine".into());
    graph.get_mut("verify").unwrap().insert("restore".into());
    graph.get_mut("restore").unwrap().insert("verify".into());
    let found = violations(&graph);
    assert!(found.iter().any(|v| v.contains("catalog (layer 3) imports engine (layer 5)")), "{found:?}");
    assert!(
        found.iter().any(|v| v.starts_with("circle:") && v.contains("restore") && v.contains("verify")),
        "{found:?}"
    );
}

#[test]
fn crate_paths_are_read_from_imports_groups_and_inline_calls() {
    let refs = crate_refs(
        "use crate::error::{Error, Result};\nuse crate::{fsx, layout::X};\nlet x = crate::sqlite::f(); // crate::engine\n",
    );
    assert_eq!(refs, ["error", "fsx", "layout", "sqlite"].into_iter().map(String::from).collect());
}
