//! The tray icon in a real panel: `gtk-sni-tray-standalone --watcher` (Debian package
//! `haskell-gtk-sni-tray-utils`) is the StatusNotifier host on the test's bus and draws a
//! bar on the X display; the test finds the app's icon on screen, right-clicks it with
//! `xdotool`, finds "Back up now" in the GTK menu the panel builds from the app's dbusmenu
//! and clicks it with the mouse: a new backup folder appears. Screenshots (ImageMagick's
//! `import`) go to `target/tray-host-screenshots/`.
//!
//! Nothing here knows the panel's theme or metrics: the icon is what changed in the bar
//! when the app came, the menu is what changed on screen after the right click, and the
//! item is the row the first Down key highlights (the first enabled item: the status line
//! above it is disabled). The app's log then says which item the click reached.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{wait_for, PrivateBus, Sandbox};

/// The bar's height in pixels (`--size`).
const BAR: u32 = 48;

/// A box on screen: width, height, x, y.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Area {
    w: u32,
    h: u32,
    x: u32,
    y: u32,
}

impl Area {
    fn center(&self) -> (u32, u32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }

    fn geometry(&self) -> String {
        format!("{}x{}+{}+{}", self.w, self.h, self.x, self.y)
    }
}

/// A child process killed (with its process group) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (install xdotool and imagemagick)"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A screenshot of the whole display.
fn shoot(to: &Path) -> PathBuf {
    run("import", &["-window", "root", to.to_str().unwrap()]);
    to.to_path_buf()
}

/// The bounding box of the pixels that differ between two screenshots (within `within`,
/// if given); `None` when none do.
fn changed(a: &Path, b: &Path, within: Option<Area>) -> Option<Area> {
    let crop = within.map(|w| w.geometry()).unwrap_or_else(|| "100%x100%+0+0".into());
    let out = run(
        "convert",
        &[
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "-compose",
            "difference",
            "-composite",
            "-crop",
            &crop,
            "-fuzz",
            "4%",
            "-format",
            "%@",
            "info:",
        ],
    );
    // "WxH+X+Y", relative to the crop; 0x0 when nothing differs.
    let nums: Vec<u32> = out.trim().split(['x', '+']).filter_map(|n| n.parse().ok()).collect();
    let [w, h, x, y] = nums[..] else { panic!("cannot read the box {out:?}") };
    let origin = within.map(|a| (a.x, a.y)).unwrap_or((0, 0));
    (w > 0 && h > 0).then_some(Area { w, h, x: x + origin.0, y: y + origin.1 })
}

fn crop(from: &Path, area: Area, to: &Path) {
    run("convert", &[from.to_str().unwrap(), "-crop", &area.geometry(), "+repage", to.to_str().unwrap()]);
}

fn xdotool(args: &[&str]) {
    run("xdotool", args);
}

/// The panel's bar: the visible window named `gtk-sni-tray-standalone` wider than tall.
fn bar_area() -> Option<Area> {
    let ids = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "^gtk-sni-tray-standalone$"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&ids.stdout).lines().find_map(|id| {
        let geo = run("xdotool", &["getwindowgeometry", "--shell", id]);
        let get = |k: &str| {
            geo.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).and_then(|v| v.trim().parse::<i64>().ok())
        };
        let (x, y, w, h) = (get("X")?, get("Y")?, get("WIDTH")?, get("HEIGHT")?);
        (w > h && h >= BAR as i64 / 2 && x >= 0 && y >= 0).then_some(Area {
            w: w as u32,
            h: h as u32,
            x: x as u32,
            y: y as u32,
        })
    })
}

fn app_log(sb: &Sandbox) -> String {
    let Ok(entries) = std::fs::read_dir(sb.data_dir.join("logs")) else { return String::new() };
    entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
}

#[test]
fn back_up_now_clicked_in_a_real_panel_makes_a_backup() {
    common::require_display();
    let sb = Sandbox::new();
    sb.write_config();
    let bus = PrivateBus::start();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("tray-host-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let scratch = sb.root.path().join("shots");
    std::fs::create_dir_all(&scratch).unwrap();

    let panel = Proc(
        Command::new("gtk-sni-tray-standalone")
            .args(["--watcher", "--bottom", "--beginning", "--size", &BAR.to_string()])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(sb.root.path().join("panel.err")).unwrap())
            .spawn()
            .expect("gtk-sni-tray-standalone (package haskell-gtk-sni-tray-utils) is needed"),
    );
    let bar = wait_for(Duration::from_secs(30), "the panel's bar", bar_area);
    println!("panel bar at {bar:?} (pid {})", panel.0.id());
    let empty = shoot(&scratch.join("empty.png"));

    let mut app = sb.start_app_with(&bus, &["--hidden"], &[]);
    sb.startup_backup(&mut app);

    // The icon: what the app's coming changed in the bar.
    let mut n = 0;
    let icon = wait_for(Duration::from_secs(30), "the app's icon in the panel", || {
        n += 1;
        changed(&empty, &shoot(&scratch.join(format!("bar-{n}.png"))), Some(bar))
    });
    println!("icon at {icon:?}");
    assert!(icon.w <= BAR && icon.h <= BAR, "one icon-sized change in the bar, not {icon:?}");
    std::thread::sleep(Duration::from_millis(300)); // let a fading icon settle for the picture
    let with_icon = shoot(&scratch.join("icon.png"));
    let strip = Area { w: bar.w.min(320), ..bar };
    crop(&with_icon, strip, &shots.join("tray-host-panel.png"));

    // Right click: a menu opens. Retried, since the panel may take the first click while
    // it still lays the icon out.
    let (cx, cy) = icon.center();
    let mut tries = 0;
    let menu = wait_for(Duration::from_secs(40), "the menu after a right click", || {
        tries += 1;
        xdotool(&["mousemove", &cx.to_string(), &cy.to_string(), "click", "3"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            let now = shoot(&scratch.join(format!("menu-{tries}.png")));
            // Outside the bar: the icon itself may change state (a hover) in it.
            let above = Area { w: bar.w, h: bar.y, x: bar.x, y: 0 };
            if let Some(menu) = changed(&with_icon, &now, Some(above)).filter(|m| m.w >= 60 && m.h >= 60) {
                return Some(menu);
            }
        }
        xdotool(&["key", "Escape"]);
        None
    });
    println!("menu at {menu:?} after {tries} right click(s)");
    std::thread::sleep(Duration::from_millis(300));
    let menu_open = shoot(&scratch.join("menu-open.png"));

    // The first enabled item, highlighted by Down, is "Back up now": find its row on screen.
    xdotool(&["key", "Down"]);
    let row = wait_for(Duration::from_secs(10), "the highlighted menu row", || {
        std::thread::sleep(Duration::from_millis(200));
        changed(&menu_open, &shoot(&scratch.join("highlight.png")), Some(menu)).filter(|r| r.h >= 8)
    });
    println!("highlighted row at {row:?}");
    let highlighted = shoot(&scratch.join("highlight.png"));
    let top = menu.y.saturating_sub(8);
    let around = Area { w: (menu.w + 16).min(bar.w), h: bar.y + bar.h - top, x: menu.x.saturating_sub(8), y: top };
    crop(&highlighted, around, &shots.join("tray-host-menu.png"));

    let before = sb.backups();
    let (rx, ry) = row.center();
    xdotool(&["mousemove", &rx.to_string(), &ry.to_string()]);
    std::thread::sleep(Duration::from_millis(200));
    xdotool(&["click", "1"]);
    let created = wait_for(Duration::from_secs(60), "a backup from the panel's menu", || {
        assert!(app.running(), "the app exited:\n{}", app.stderr());
        sb.backups().into_iter().find(|n| !before.contains(n))
    });
    println!("backup from the panel: {created}");
    let manifest = std::fs::read_to_string(sb.destination.join(&created).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"manual\""), "a click in the menu is a manual backup");
    let log = app_log(&sb);
    assert!(log.contains("tray: backup_now"), "the click reached \"Back up now\":\n{log}");
    // The menu closed with the click.
    let after = wait_for(Duration::from_secs(10), "the menu to close", || {
        std::thread::sleep(Duration::from_millis(200));
        let now = shoot(&scratch.join("after.png"));
        changed(&with_icon, &now, Some(menu)).is_none().then_some(now)
    });
    assert!(after.exists());
}
