//! State flows one way in the app crate: commands and the tray act through `api`, and only
//! the loop in `events.rs` updates the tray and emits to the window. This test reads every
//! `crate::` path in `src/` and fails on a circle between modules, on a module other than
//! `lib.rs` reaching `commands`, and on an emit or tray update outside `events.rs`.

use std::collections::{BTreeMap, BTreeSet};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The app's modules and the modules each one names (`crate::x`, `crate::{x, y}`), comments left out.
fn graph() -> Graph {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_none_or(|e| e != "rs") || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut refs = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for rest in code.split("crate::").skip(1) {
                // `crate::x::...` names x; `crate::{x, y::z}` names x and y.
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                    None => vec![rest],
                };
                for part in names {
                    let name: String =
                        part.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() && name != module {
                        refs.insert(name);
                    }
                }
            }
        }
        graph.insert(module, refs);
    }
    graph
}

/// A circle through `from`, if there is one: the path back to it.
fn circle(graph: &Graph, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == from {
                return Some([path.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

fn sources() -> Vec<(String, String)> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap()))
        .collect()
}

#[test]
fn app_modules_import_one_way() {
    let graph = graph();
    for (module, refs) in &graph {
        println!("{module} -> {}", refs.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    for module in graph.keys() {
        assert_eq!(circle(&graph, module), None, "a circle of imports through {module}");
    }
    for (module, refs) in &graph {
        if module != "lib" {
            assert!(!refs.contains("commands"), "{module} reaches into commands: act through api instead");
        }
        if module != "lib" && module != "contract" {
            assert!(!refs.contains("events"), "{module} reaches into events: let the scheduler announce the change");
        }
    }
}

#[test]
fn only_the_events_loop_shows_state() {
    for (file, text) in sources() {
        if file == "events.rs" {
            continue;
        }
        let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        assert!(!code.contains(".emit("), "{file} emits to the window: only events.rs does");
        assert!(!code.contains("tray::update("), "{file} updates the tray: only events.rs does");
    }
}

#[test]
fn a_planted_circle_is_caught() {
    let mut graph = graph();
    graph.get_mut("tray").unwrap().insert("events".into());
    assert!(circle(&graph, "events").is_some(), "events -> tray -> events");
}
