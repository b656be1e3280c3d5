//! Consistent copies of live SQLite databases, their stats and integrity.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::manifest::TableInfo;

const HEADER: &[u8; 16] = b"SQLite format 3\0";
/// Companion files SQLite keeps beside a database; never copied, never restored.
pub const COMPANION_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];
/// How long to wait for a lock held by another program.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a backup waits for a rollback-mode database another program is writing.
pub const COPY_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the file starts with the SQLite header (extension does not matter).
pub fn is_database(path: &Path) -> bool {
    let mut buf = [0u8; 16];
    File::open(path).and_then(|mut f| f.read_exact(&mut buf)).map(|_| &buf == HEADER).unwrap_or(false)
}

/// The database path `name` is a `-wal`/`-shm`/`-journal` companion of, if it is one
/// by its name (whether that database exists is for the caller to check).
pub fn companion_of(name: &str) -> Option<&str> {
    COMPANION_SUFFIXES.iter().find_map(|s| name.strip_suffix(s))
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::DatabaseBusy { path: path.to_path_buf() }
        }
        Some(rusqlite::ErrorCode::DiskFull) => Error::DiskFull { path: path.to_path_buf() },
        _ => Error::Database { path: path.to_path_buf(), message: e.to_string() },
    }
}

/// Opens a database copy inside a backup for reading: `immutable` so SQLite creates no
/// `-wal`/`-shm` beside it and takes no locks.
pub fn open_backup_copy(path: &Path) -> Result<Connection> {
    let uri = format!("file:{}?immutable=1", uri_escape(path));
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_error(path))
}

/// Bytes escaped in a SQLite `file:` URI path: all but unreserved characters and `/`
/// (<https://www.sqlite.org/uri.html>: `?`, `#` and `%` must be escaped).
const URI_PATH: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn uri_escape(path: &Path) -> String {
    percent_encoding::percent_encode(path.as_os_str().as_encoded_bytes(), URI_PATH).to_string()
}

/// Copies the live database `src` to the new file `dst` with SQLite's online backup API,
/// in one step so the copy is one consistent snapshot, committed `-wal` data included,
/// even while another process keeps writing. The copy is not synced here: the caller
/// makes the whole backup durable before it becomes visible.
///
/// A database left in a state a read-only reader cannot open (a hot `-journal` from a
/// writer that crashed mid-transaction, a WAL database in a folder Lifeboat may not
/// write to) is copied with its companion into a private folder beside `dst`, where
/// SQLite rolls the journal back or recovers the WAL; the source is never written to.
/// See <https://www.sqlite.org/lockingv3.html#hot_journals> and
/// <https://www.sqlite.org/wal.html#readonly>.
///
/// # Errors
/// [`Error::DatabaseBusy`] when a writer holds it for over a minute; [`Error::Database`]
/// naming `src` when it cannot be read; [`Error::DiskFull`] and I/O errors naming `dst`.
pub fn copy_consistent(src: &Path, dst: &Path) -> Result<()> {
    // Read-only: such a connection never checkpoints or deletes the `-wal` when it closes.
    let opened = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .and_then(|c| c.busy_timeout(BUSY_TIMEOUT).map(|()| c));
    let first = match opened {
        Ok(from) => backup_to(&from, src, dst),
        Err(e) => Err(Failure::Source(e)),
    };
    match first {
        Ok(()) => Ok(()),
        Err(Failure::Source(e)) if needs_private_copy(&e) => {
            tracing::info!("{} cannot be read in place ({e}); copying it privately to recover it", src.display());
            let _ = std::fs::remove_file(dst);
            copy_private(src, dst)
        }
        Err(Failure::Source(e)) => Err(db_error(src)(e)),
        Err(Failure::Other(e)) => Err(e),
    }
}

/// Why [`backup_to`] failed: reading the source (which a private copy may cure) or else.
enum Failure {
    Source(rusqlite::Error),
    Other(Error),
}

/// What a read-only reader cannot get past but a private read-write copy can: a hot
/// journal to roll back (`SQLITE_READONLY_ROLLBACK`), a WAL to recover or a `-shm` it
/// may not create (`SQLITE_READONLY_*`, `SQLITE_CANTOPEN`).
fn needs_private_copy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen))
}

/// Copies `from` (opened from `src`) into the new database `dst` in one backup step.
fn backup_to(from: &Connection, src: &Path, dst: &Path) -> std::result::Result<(), Failure> {
    let other = |e: rusqlite::Error| Failure::Other(db_error(dst)(e));
    let mut to = Connection::open(dst).map_err(other)?;
    to.execute_batch("PRAGMA synchronous = OFF").map_err(other)?;
    {
        let backup = rusqlite::backup::Backup::new(from, &mut to).map_err(Failure::Source)?;
        let deadline = std::time::Instant::now() + COPY_BUSY_TIMEOUT;
        loop {
            match backup.step(-1) {
                Ok(rusqlite::backup::StepResult::Done) => break,
                Ok(rusqlite::backup::StepResult::More) => continue,
                // Busy or locked: another program holds a write lock on a rollback-mode
                // source (WAL sources never block a reader); wait for it, within reason.
                Ok(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Ok(_) => return Err(Failure::Other(Error::DatabaseBusy { path: src.to_path_buf() })),
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) => {
                    return Err(Failure::Other(Error::DiskFull { path: dst.to_path_buf() }))
                }
                Err(e) => return Err(Failure::Source(e)),
            }
        }
    }
    // The copy carries the source's journal mode in its header; closing the only
    // connection checkpoints and removes any `-wal`/`-shm` the copy got: one file remains.
    to.close().map_err(|(_, e)| other(e))
}

/// The database and its journal or WAL, copied into a private folder beside `dst`
/// (retried while a writer changes them), opened read-write there so SQLite brings it
/// to its last committed state, then copied into `dst`. The private folder is removed.
fn copy_private(src: &Path, dst: &Path) -> Result<()> {
    let parent = dst.parent().unwrap_or(Path::new("."));
    let dir = tempfile::Builder::new()
        .prefix(".lifeboat-db-")
        .tempdir_in(parent)
        .map_err(|e| Error::io("create a folder in", parent, e))?;
    let private = dir.path().join("db");
    let companions = ["-journal", "-wal"];
    let with = |p: &Path, suffix: &str| {
        let mut s = p.as_os_str().to_os_string();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    for attempt in 1..=3 {
        let before = fingerprint_all(src);
        std::fs::copy(src, &private).map_err(|e| Error::io("read", src, e))?;
        for suffix in companions {
            let (from, to) = (with(src, suffix), with(&private, suffix));
            let _ = std::fs::remove_file(&to);
            match std::fs::copy(&from, &to) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("read", &from, e)),
            }
        }
        if fingerprint_all(src) == before {
            break;
        }
        tracing::info!("{} changed while it was copied privately (attempt {attempt})", src.display());
    }
    let conn = Connection::open(&private).map_err(db_error(src))?;
    match backup_to(&conn, src, dst) {
        Ok(()) => Ok(()),
        Err(Failure::Source(e)) => Err(db_error(src)(e)),
        Err(Failure::Other(e)) => Err(e),
    }
}

/// Size and mtime of a database and each companion that exists.
fn fingerprint_all(path: &Path) -> String {
    let mut out = fingerprint(path);
    let mut journal = path.as_os_str().to_os_string();
    journal.push("-journal");
    if let Ok(m) = std::fs::metadata(&journal) {
        out.push_str(&format!("/{}:{}", m.len(), crate::fsx::mtime_ns(&m)));
    }
    out
}

/// Page size, page count, tables with row counts and `PRAGMA integrity_check` of a copy.
pub struct DbStats {
    /// Bytes per page.
    pub page_size: u64,
    /// Pages in the file.
    pub page_count: u64,
    /// User tables (not `sqlite_*`) by name, with their row counts.
    pub tables: Vec<TableInfo>,
    /// "ok", or the first problems found.
    pub integrity: String,
}

/// Stats of a database copy inside a backup.
///
/// # Errors
/// [`Error::Database`] when it cannot be opened or read.
pub fn stats(path: &Path) -> Result<DbStats> {
    stats_of(&open_backup_copy(path)?, path)
}

fn stats_of(conn: &Connection, path: &Path) -> Result<DbStats> {
    let err = db_error(path);
    let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(&err)?;
    let page_count: u64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(&err)?;
    let tables = table_rows(conn, path)?;
    let integrity = integrity_check(conn).map_err(&err)?;
    Ok(DbStats { page_size, page_count, tables, integrity })
}

/// Tables and their row counts in the live database `path`, read without writing to it.
///
/// # Errors
/// [`Error::Database`] when it cannot be opened or read.
pub fn row_counts(path: &Path) -> Result<Vec<TableInfo>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(db_error(path))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_error(path))?;
    table_rows(&conn, path)
}

fn table_rows(conn: &Connection, path: &Path) -> Result<Vec<TableInfo>> {
    let err = db_error(path);
    let names: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .map_err(&err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(&err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(&err)?
    };
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        // Virtual tables whose module is not loaded cannot be counted; record 0 rows.
        let rows: u64 = conn.query_row(&sql, [], |r| r.get(0)).unwrap_or(0);
        tables.push(TableInfo { name, rows });
    }
    Ok(tables)
}

/// "ok", or the first problems `PRAGMA integrity_check` found, joined.
pub fn integrity_check(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
    let lines = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines.join("; "))
}

/// Checks a database copy in a backup; a file that is not one at all says so.
pub fn check_file(path: &Path) -> Result<String> {
    if !is_database(path) {
        return Ok("not a SQLite database (header damaged)".into());
    }
    let conn = open_backup_copy(path)?;
    Ok(integrity_check(&conn).unwrap_or_else(|e| e.to_string()))
}

/// A cheap fingerprint of the live files: size and mtime of the database and its `-wal`.
/// Equal fingerprints mean nothing was committed in between. An empty `-wal` holds
/// nothing (a reader, Lifeboat's own included, may create one), so it counts as absent.
pub fn fingerprint(path: &Path) -> String {
    let part = |p: &Path| match std::fs::metadata(p) {
        Ok(m) if m.len() > 0 => format!("{}:{}", m.len(), crate::fsx::mtime_ns(&m)),
        _ => "-".into(),
    };
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    format!("{}/{}", part(path), part(Path::new(&wal)))
}

/// Restores `backup` into the live database `live` through the backup API, so programs
/// that have it open see a consistent switch. Waits up to the busy timeout for them.
pub fn restore_into(backup: &Path, live: &Path) -> Result<()> {
    let from = open_backup_copy(backup)?;
    let mut to = Connection::open(live).map_err(db_error(live))?;
    to.busy_timeout(BUSY_TIMEOUT).map_err(db_error(live))?;
    {
        let b = rusqlite::backup::Backup::new(&from, &mut to).map_err(db_error(live))?;
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match b.step(-1) {
                Ok(rusqlite::backup::StepResult::Done) => break,
                Ok(rusqlite::backup::StepResult::More) => continue,
                Ok(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Ok(_) => return Err(Error::DatabaseBusy { path: live.to_path_buf() }),
                Err(e) => return Err(db_error(live)(e)),
            }
        }
    }
    to.close().map_err(|(_, e)| db_error(live)(e))?;
    Ok(())
}
