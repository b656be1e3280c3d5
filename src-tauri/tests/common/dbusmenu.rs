//! A tray host for the app tests, as a desktop panel is one: the test owns
//! org.kde.StatusNotifierWatcher on the private bus, the app's item registers with it,
//! and the test reads the item's menu over com.canonical.dbusmenu and clicks its entries
//! (submenu entries included). The same protocol as tests/tray.rs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::blocking::Connection;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Structure, Value};

use super::{wait_for, AppProcess, PrivateBus};

/// Registered items: (bus name, object path).
pub type Items = Arc<Mutex<Vec<(String, String)>>>;

pub struct Watcher {
    pub items: Items,
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
pub struct Entry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub children: Vec<Entry>,
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

    pub fn find(&self, label: &str) -> Option<&Entry> {
        if self.label == label {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label))
    }

    pub fn labels(&self) -> Vec<String> {
        let mut out = vec![self.label.clone()];
        out.extend(self.children.iter().flat_map(|c| c.labels()));
        out
    }
}

/// A dbusmenu layout node as sent: `(ia{sv}av)`.
type RawEntry = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

pub fn layout(conn: &Connection, bus: &str, menu: &OwnedObjectPath) -> zbus::Result<Entry> {
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

/// The test's side of the tray: the watcher, and the app's registered item.
pub struct TrayHost {
    pub conn: Connection,
    pub item_bus: String,
    pub item_path: String,
    /// Every item registered so far, in order.
    items: Items,
}

impl TrayHost {
    /// Owns the watcher on `bus` and waits for `app`'s item to register.
    pub fn start(bus: &PrivateBus, app: &mut AppProcess) -> TrayHost {
        TrayHost::on(&bus.address, || assert!(app.running(), "the app exited:\n{}", app.stderr()))
    }

    /// Owns the watcher on the bus at `address` and waits for an item to register,
    /// calling `check` (which may panic: the app is gone) while it waits.
    pub fn on(address: &str, mut check: impl FnMut()) -> TrayHost {
        let items: Items = Arc::default();
        let conn = zbus::blocking::connection::Builder::address(address)
            .unwrap()
            .name("org.kde.StatusNotifierWatcher")
            .unwrap()
            .serve_at("/StatusNotifierWatcher", Watcher { items: Arc::clone(&items) })
            .unwrap()
            .build()
            .expect("own org.kde.StatusNotifierWatcher on the private bus");
        let (item_bus, item_path) = wait_for(Duration::from_secs(30), "the tray item to register", || {
            check();
            items.lock().unwrap().first().cloned()
        });
        TrayHost { conn, item_bus, item_path, items }
    }

    /// Waits (up to `timeout`) for an item to register after the one followed now (the
    /// app re-executed itself), calling `check` meanwhile, and follows the new one.
    pub fn follow_new_item(&mut self, timeout: Duration, mut check: impl FnMut()) {
        let seen = self.items.lock().unwrap().len();
        let (item_bus, item_path) = wait_for(timeout, "a new tray item to register", || {
            check();
            self.items.lock().unwrap().get(seen).cloned()
        });
        self.item_bus = item_bus;
        self.item_path = item_path;
    }

    /// The item's menu object (read each time: a rebuilt menu may be exported anew).
    fn menu(&self) -> zbus::Result<OwnedObjectPath> {
        let item = zbus::blocking::Proxy::new(
            &self.conn,
            self.item_bus.as_str(),
            self.item_path.as_str(),
            "org.kde.StatusNotifierItem",
        )?;
        item.get_property("Menu")
    }

    /// The menu as it is now.
    pub fn root(&self) -> zbus::Result<Entry> {
        layout(&self.conn, &self.item_bus, &self.menu()?)
    }

    /// Waits until `ready` holds for the menu, and returns it.
    pub fn wait(&self, what: &str, ready: impl Fn(&Entry) -> bool) -> Entry {
        wait_for(Duration::from_secs(60), what, || self.root().ok().filter(|root| ready(root)))
    }

    /// Clicks the entry labelled `label` (anywhere in the menu, submenus included).
    pub fn click(&self, label: &str) {
        let root = self.root().unwrap();
        let id = root.find(label).unwrap_or_else(|| panic!("no {label:?} in {:?}", root.labels())).id;
        self.send_click(id);
    }

    /// Clicks the entry labelled `label` in the submenu labelled `submenu`.
    pub fn click_in(&self, submenu: &str, label: &str) {
        let root = self.root().unwrap();
        let parent = root.find(submenu).unwrap_or_else(|| panic!("no {submenu:?} in {:?}", root.labels()));
        let id = parent
            .children
            .iter()
            .find(|c| c.label == label)
            .unwrap_or_else(|| panic!("no {label:?} in {submenu:?}: {:?}", parent.labels()))
            .id;
        self.send_click(id);
    }

    fn send_click(&self, id: i32) {
        let menu = self.menu().expect("the item's Menu property");
        self.conn
            .call_method(
                Some(self.item_bus.as_str()),
                menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", Value::from(0i32), 0u32),
            )
            .expect("send the click");
    }
}
