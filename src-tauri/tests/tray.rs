//! Clicks "Back up now" in the real app's tray menu the way a desktop panel does: the
//! test is the StatusNotifierWatcher on the session bus, the app's item registers with
//! it, the test reads the item's menu over com.canonical.dbusmenu and sends "clicked".

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{wait_for, PrivateBus, Sandbox};
use zbus::blocking::Connection;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Structure, Value};

/// Registered items: (bus name, object path).
type Items = Arc<Mutex<Vec<(String, String)>>>;

struct Watcher {
    items: Items,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// Items pass their object path (libappindicator) or a bus name.
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let (bus, path) = if service.starts_with('/') {
            (sender, service.to_string())
        } else {
            (service.to_string(), "/StatusNotifierItem".to_string())
        };
        let registered = format!("{bus}{path}");
        self.items.lock().unwrap().push((bus, path));
        let _ = Self::status_notifier_item_registered(&emitter, &registered).await;
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().iter().map(|(b, p)| format!("{b}{p}")).collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

/// One dbusmenu entry: id, label (mnemonic underscores removed), enabled, children.
#[derive(Debug)]
struct Entry {
    id: i32,
    label: String,
    enabled: bool,
    children: Vec<Entry>,
}

impl Entry {
    fn from_parts(id: i32, props: &HashMap<String, OwnedValue>, children: &[OwnedValue]) -> Entry {
        let label = props
            .get("label")
            .and_then(|v| <&str>::try_from(&**v).ok())
            .map(|l| l.replace('_', ""))
            .unwrap_or_default();
        let enabled = props.get("enabled").and_then(|v| bool::try_from(&**v).ok()).unwrap_or(true);
        let children = children.iter().filter_map(|c| Entry::from_value(c)).collect();
        Entry { id, label, enabled, children }
    }

    fn from_value(v: &Value) -> Option<Entry> {
        match v {
            Value::Value(inner) => Entry::from_value(inner),
            Value::Structure(s) => Entry::from_structure(s),
            _ => None,
        }
    }

    fn from_structure(s: &Structure) -> Option<Entry> {
        let [id, props, children] = s.fields() else { return None };
        let id = i32::try_from(id).ok()?;
        let props: HashMap<String, OwnedValue> = props.try_clone().ok()?.try_into().ok()?;
        let children: Vec<OwnedValue> = children.try_clone().ok()?.try_into().ok()?;
        Some(Entry::from_parts(id, &props, &children))
    }

    fn find(&self, label: &str) -> Option<&Entry> {
        if self.label == label {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label))
    }

    fn labels(&self) -> Vec<String> {
        let mut out = vec![self.label.clone()];
        out.extend(self.children.iter().flat_map(|c| c.labels()));
        out
    }
}

/// A dbusmenu layout node as sent: `(ia{sv}av)`.
type RawEntry = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

fn layout(conn: &Connection, bus: &str, menu: &OwnedObjectPath) -> zbus::Result<Entry> {
    let reply = conn.call_method(
        Some(bus),
        menu.as_str(),
        Some("com.canonical.dbusmenu"),
        "GetLayout",
        &(0i32, -1i32, Vec::<String>::new()),
    )?;
    let (_revision, (id, props, children)): (u32, RawEntry) = reply.body().deserialize()?;
    Ok(Entry::from_parts(id, &props, &children))
}

#[test]
fn back_up_now_from_the_tray_menu_makes_a_backup() {
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    // The app starts first, hidden as at login: its item must register when the watcher
    // appears later, and no window opens.
    let mut app = sb.start_app_with(&bus, &["--hidden"], &[]);
    let startup = wait_for(Duration::from_secs(60), "the startup backup", || sb.backups().pop());

    let items: Items = Arc::default();
    let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .serve_at("/StatusNotifierWatcher", Watcher { items: Arc::clone(&items) })
        .unwrap()
        .build()
        .expect("own org.kde.StatusNotifierWatcher on the private bus");
    let (item_bus, item_path) = wait_for(Duration::from_secs(30), "the tray item to register", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        items.lock().unwrap().first().cloned()
    });

    let item =
        zbus::blocking::Proxy::new(&conn, item_bus.as_str(), item_path.as_str(), "org.kde.StatusNotifierItem").unwrap();
    let menu: OwnedObjectPath = item.get_property("Menu").expect("the item's Menu property");

    // Once the startup backup is done, the menu says so and "Back up now" is enabled.
    let root = wait_for(Duration::from_secs(30), "an idle menu with the last backup", || {
        let root = layout(&conn, &item_bus, &menu).ok()?;
        let ready = root.find("Back up now").is_some_and(|e| e.enabled)
            && root.labels().iter().any(|l| l.starts_with("Last backup just now"));
        ready.then_some(root)
    });
    for label in
        ["Open Lifeboat", "Open backup folder", "Pause backups", "For 1 hour", "Until resumed", "Resume", "Quit"]
    {
        assert!(root.find(label).is_some(), "no {label:?} in {:?}", root.labels());
    }
    assert!(root.find("Launch at login").is_some(), "{:?}", root.labels());
    println!("tray menu: {:?}", root.labels());
    let back_up_now = root.find("Back up now").unwrap();

    let before = sb.backups();
    conn.call_method(
        Some(item_bus.as_str()),
        menu.as_str(),
        Some("com.canonical.dbusmenu"),
        "Event",
        &(back_up_now.id, "clicked", Value::from(0i32), 0u32),
    )
    .expect("send the click");
    let created = wait_for(Duration::from_secs(60), "a backup from the tray click", || {
        let now = sb.backups();
        now.iter().find(|n| !before.contains(n)).cloned()
    });
    println!("startup backup {startup}, tray-click backup {created}");
    assert_ne!(created, startup);
    let manifest = std::fs::read_to_string(sb.destination.join(&created).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"manual\""), "the tray click is a manual backup");
    assert!(app.running(), "the app keeps running:\n{}", app.stderr());

    // Pausing from the menu shows in the status line, resuming clears it.
    let click = |label: &str| {
        let root = layout(&conn, &item_bus, &menu).unwrap();
        let id = root.find(label).unwrap_or_else(|| panic!("no {label:?} in {:?}", root.labels())).id;
        conn.call_method(
            Some(item_bus.as_str()),
            menu.as_str(),
            Some("com.canonical.dbusmenu"),
            "Event",
            &(id, "clicked", Value::from(0i32), 0u32),
        )
        .unwrap();
    };
    let status_line = |prefix: &str| {
        wait_for(Duration::from_secs(20), &format!("the status line {prefix:?}"), || {
            let root = layout(&conn, &item_bus, &menu).ok()?;
            root.labels().into_iter().find(|l| l.starts_with(prefix))
        })
    };
    click("Until resumed");
    status_line("Paused until resumed");
    click("Resume");
    status_line("Last backup just now");

    // "Open Lifeboat" opens the window: a WebKit web process appears under the app.
    assert!(web_processes(app.child.id()).is_empty(), "no window (and no web process) in the tray");
    click("Open Lifeboat");
    wait_for(Duration::from_secs(30), "the window's web process", || {
        (!web_processes(app.child.id()).is_empty()).then_some(())
    });
    assert!(app.running(), "{}", app.stderr());
}

/// Child processes of `pid` that are WebKit web processes (one per open webview).
fn web_processes(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            stat.contains("(WebKitWebProces") && ppid == Some(pid.to_string().as_str())
        })
        .collect()
}
