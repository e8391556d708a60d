//! fazhi-fault-vfs (tests only): a SQLite VFS over the default (unix) one that can cut the
//! power and inject I/O faults, for the store's power-loss and fault-sweep tests.
//!
//! A [`Domain`] watches one directory: the VFS (registered as [`VFS_NAME`] by
//! [`Domain::watch`]) passes every file outside a watched directory straight through, and for
//! the files inside one it
//!
//! - **models power loss.** For each file it keeps a *durable image*: the bytes as of the last
//!   completed `xSync`, and the writes and truncations made since (in order). Files present
//!   when the domain starts are taken as durable as they are. [`Domain::cut_power`] makes
//!   every later call on the domain's files fail (nothing more reaches the disk); after the
//!   store has been dropped, [`Domain::restore`] rewrites each file to its durable image,
//!   optionally ([`Torn`]) plus a random subset of the unsynced writes, each torn at
//!   512-byte sector granularity (writes may land in any order and partly, but a write
//!   never damages bytes outside its own range: SQLite's "powersafe overwrite", which the
//!   unix VFS declares). What the model says about names in the directory:
//!   - names (files created, files deleted) are durable only once the directory is synced:
//!     the unix VFS does so on the first `xSync` of each WAL or journal it opens, and after a
//!     delete asked for with `syncDir`; the model does the same at the same moments. So a
//!     file created and not yet covered by a directory sync is gone after a power cut, and a
//!     file deleted without one (SQLite deletes its WAL that way when the last connection
//!     closes) comes back with its durable image. A file whose name is durable but whose
//!     content was never synced comes back empty;
//!   - `-shm` files are never durable (SQLite rebuilds the WAL index from the WAL): restore
//!     removes them. Their writes go through memory maps, which the VFS does not see.
//!
//!   [`Domain::lose_syncs`] makes `xSync` answer success without syncing and without making
//!   anything durable: the disk that `PRAGMA synchronous=OFF` assumes, used to show that
//!   the power-loss test does catch lost writes.
//! - **injects faults.** A [`Fault`] fails the nth `xOpen`, `xRead`, `xWrite` or `xSync`
//!   (counted from when it is injected, on one kind of file or all), once or on every later
//!   call until [`Domain::heal`]; a short write writes the first half of the bytes and
//!   answers `SQLITE_FULL`, as the unix VFS does when `write` comes back short.
//!
//! The C interface lives in the private `shim` module, the only place with unsafe code.

use std::collections::HashMap;
use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use rusqlite::ffi;

mod shim;

/// The name under which the VFS is registered (give it to `SqliteOptions::vfs`).
pub const VFS_NAME: &str = "fazhi-fault";

/// An operation a [`Fault`] can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `xOpen` (answers `SQLITE_CANTOPEN`).
    Open,
    /// `xRead` (answers `SQLITE_IOERR_READ`).
    Read,
    /// `xWrite` (answers `SQLITE_IOERR_WRITE`, or `SQLITE_FULL` after a short write).
    Write,
    /// `xSync` (answers `SQLITE_IOERR_FSYNC`).
    Sync,
}

/// Which of SQLite's files an operation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The main database file.
    Main,
    /// The write-ahead log.
    Wal,
    /// A rollback journal (or super-journal).
    Journal,
    /// Anything else (temporary files).
    Other,
}

impl FileKind {
    /// The kind SQLite's open flags name.
    fn of_flags(flags: c_int) -> FileKind {
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            FileKind::Main
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
            FileKind::Wal
        } else if flags & (ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_SUPER_JOURNAL) != 0 {
            FileKind::Journal
        } else {
            FileKind::Other
        }
    }
}

/// A fault to inject: the `nth` call (from 1, counted from the injection) of `op` on files
/// of kind `file` (any kind when `None`) fails; with `until_healed`, so does every later one
/// until [`Domain::heal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation.
    pub op: Op,
    /// The kind of file, or any.
    pub file: Option<FileKind>,
    /// Which call fails first (1 is the next one).
    pub nth: u64,
    /// Whether every later call fails too, until healed.
    pub until_healed: bool,
    /// For writes: write the first half of the bytes and answer `SQLITE_FULL`, instead of
    /// writing nothing and answering `SQLITE_IOERR_WRITE`.
    pub short: bool,
}

impl Fault {
    /// The `nth` call of `op`, on any file, fails once.
    pub fn nth(op: Op, nth: u64) -> Fault {
        Fault {
            op,
            file: None,
            nth,
            until_healed: false,
            short: false,
        }
    }

    /// Only calls on files of `kind` count and fail.
    pub fn on(mut self, kind: FileKind) -> Fault {
        self.file = Some(kind);
        self
    }

    /// Every call from the nth on fails until [`Domain::heal`].
    pub fn until_healed(mut self) -> Fault {
        self.until_healed = true;
        self
    }

    /// A write fails short (half written, `SQLITE_FULL`).
    pub fn short(mut self) -> Fault {
        self.short = true;
        self
    }
}

/// How [`Domain::restore`] treats the writes that were not synced when the power went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Torn {
    /// All are lost.
    None,
    /// Each 512-byte sector of each such write (and each truncation) independently made it
    /// to the disk or not, as a generator seeded with this number decides.
    Seeded(u64),
}

/// What [`Domain::restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Files rewritten to their durable image.
    pub rewritten: usize,
    /// Files removed (never durably created, or durably deleted).
    pub removed: usize,
    /// Unsynced writes (or truncations) dropped in whole or part.
    pub dropped: usize,
    /// Unsynced writes (or truncations) that made it to the disk in whole or part.
    pub kept: usize,
}

/// What happened to a file since it was last durable.
#[derive(Debug, Clone)]
enum Pending {
    Write(u64, Vec<u8>),
    Truncate(u64),
}

/// One watched file: its durable image (`None`: its name is not durably in the directory),
/// whether it exists now, and what is pending.
#[derive(Debug, Default)]
struct Tracked {
    durable: Option<Vec<u8>>,
    exists: bool,
    pending: Vec<Pending>,
}

/// An injected fault and how far it has counted.
#[derive(Debug)]
struct Rule {
    fault: Fault,
    seen: u64,
    firing: bool,
    done: bool,
}

/// A domain's mutable state.
#[derive(Debug, Default)]
struct State {
    power_cut: bool,
    syncs_lost: bool,
    files: HashMap<PathBuf, Tracked>,
    rules: Vec<Rule>,
    injected: u64,
}

/// What a fault rule decides for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pass,
    Fail,
    Short,
}

/// A watched directory: the files in it get the power-loss model and the injected faults.
/// Dropping it stops the watching (files still open keep their model until closed).
#[derive(Debug)]
pub struct Domain {
    dir: PathBuf,
    state: Mutex<State>,
}

/// The watched directories.
fn domains() -> &'static Mutex<Vec<Weak<Domain>>> {
    static DOMAINS: OnceLock<Mutex<Vec<Weak<Domain>>>> = OnceLock::new();
    DOMAINS.get_or_init(|| Mutex::new(Vec::new()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a path is a WAL index (never durable, never watched).
fn is_shm(path: &Path) -> bool {
    path.to_string_lossy().ends_with("-shm")
}

impl Domain {
    /// Registers the VFS (once per process) and starts watching `dir`: every file in it now
    /// is taken as durable as it is.
    pub fn watch(dir: &Path) -> std::io::Result<Arc<Domain>> {
        shim::register().map_err(|rc| {
            std::io::Error::other(format!("cannot register the fault VFS: SQLite code {rc}"))
        })?;
        let dir = dir.canonicalize()?;
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_file() && !is_shm(&path) {
                let bytes = std::fs::read(&path)?;
                files.insert(
                    path,
                    Tracked {
                        durable: Some(bytes),
                        exists: true,
                        pending: Vec::new(),
                    },
                );
            }
        }
        let domain = Arc::new(Domain {
            dir,
            state: Mutex::new(State {
                files,
                ..State::default()
            }),
        });
        let mut all = lock(domains());
        all.retain(|d| d.strong_count() > 0);
        all.push(Arc::downgrade(&domain));
        Ok(domain)
    }

    /// The watched directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The domain that watches `path`, if any.
    fn of(path: &Path) -> Option<Arc<Domain>> {
        lock(domains())
            .iter()
            .filter_map(Weak::upgrade)
            .find(|d| path.starts_with(&d.dir))
    }

    /// Adds a fault (its count starts now).
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).rules.push(Rule {
            fault,
            seen: 0,
            firing: false,
            done: false,
        });
    }

    /// Removes every fault: the disk works again.
    pub fn heal(&self) {
        lock(&self.state).rules.clear();
    }

    /// How many calls a fault has failed so far.
    pub fn injected(&self) -> u64 {
        lock(&self.state).injected
    }

    /// Cuts the power: from now on every call on the domain's files fails and nothing more
    /// reaches the disk. Drop every connection, then [`Domain::restore`].
    pub fn cut_power(&self) {
        lock(&self.state).power_cut = true;
    }

    /// Whether `xSync` lies (answers success, syncs nothing, makes nothing durable).
    pub fn lose_syncs(&self, lose: bool) {
        lock(&self.state).syncs_lost = lose;
    }

    /// After [`Domain::cut_power`] and once every connection to the domain's files is
    /// closed: the power comes back. Each file is rewritten to its durable image (plus, with
    /// [`Torn::Seeded`], a random part of what was pending), files never durably created are
    /// removed, `-shm` files are removed, and the directory is synced. The domain then works
    /// again with no faults, every file durable as it now is.
    pub fn restore(&self, torn: Torn) -> std::io::Result<Restored> {
        let mut state = lock(&self.state);
        let mut rng = match torn {
            Torn::None => None,
            Torn::Seeded(seed) => Some(SplitMix(seed)),
        };
        let mut report = Restored::default();
        let mut paths: Vec<PathBuf> = state.files.keys().cloned().collect();
        paths.sort();
        for path in paths {
            let Some(t) = state.files.get_mut(&path) else {
                continue;
            };
            let pending = std::mem::take(&mut t.pending);
            match &mut t.durable {
                None => {
                    report.dropped += pending.len();
                    match std::fs::remove_file(&path) {
                        Ok(()) => report.removed += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                Some(image) => {
                    for p in &pending {
                        let kept = rng.as_mut().is_some_and(|rng| apply_torn(image, p, rng));
                        if kept {
                            report.kept += 1;
                        } else {
                            report.dropped += 1;
                        }
                    }
                    std::fs::write(&path, &image[..])?;
                    std::fs::File::open(&path)?.sync_all()?;
                    report.rewritten += 1;
                }
            }
        }
        state.files.retain(|_, t| t.durable.is_some());
        for t in state.files.values_mut() {
            t.exists = true;
        }
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if is_shm(&path) {
                std::fs::remove_file(&path)?;
            }
        }
        std::fs::File::open(&self.dir)?.sync_all()?;
        state.power_cut = false;
        state.syncs_lost = false;
        state.rules.clear();
        Ok(report)
    }

    // ---- called by the shim, for files in this domain ----

    /// Before an open: fails when the power is off or a fault says so.
    fn before_open(&self, kind: FileKind) -> Result<(), c_int> {
        let mut s = lock(&self.state);
        if s.power_cut {
            return Err(ffi::SQLITE_CANTOPEN);
        }
        match s.decide(Op::Open, kind) {
            Decision::Pass => Ok(()),
            Decision::Fail | Decision::Short => Err(ffi::SQLITE_CANTOPEN),
        }
    }

    /// After a successful open of `path` (which existed before the open or not).
    fn opened(&self, path: &Path, existed: bool) {
        if is_shm(path) {
            return;
        }
        let mut s = lock(&self.state);
        match s.files.get_mut(path) {
            None => {
                // Not seen yet: durable as it is when it was there before we looked (it
                // was made before the domain), else not durable until the directory is.
                let durable = if existed {
                    std::fs::read(path).ok()
                } else {
                    None
                };
                s.files.insert(
                    path.to_owned(),
                    Tracked {
                        durable,
                        exists: true,
                        pending: Vec::new(),
                    },
                );
            }
            Some(t) => {
                if !existed {
                    // Made again after a delete: empty now, the old image until synced.
                    t.pending.push(Pending::Truncate(0));
                }
                t.exists = true;
            }
        }
    }

    fn read(&self, kind: FileKind, read: impl FnOnce() -> c_int) -> c_int {
        {
            let mut s = lock(&self.state);
            if s.power_cut {
                return ffi::SQLITE_IOERR_READ;
            }
            if s.decide(Op::Read, kind) != Decision::Pass {
                return ffi::SQLITE_IOERR_READ;
            }
        }
        read()
    }

    fn write(
        &self,
        path: &Path,
        kind: FileKind,
        offset: u64,
        data: &[u8],
        write: impl FnOnce(&[u8]) -> c_int,
    ) -> c_int {
        let mut s = lock(&self.state);
        if s.power_cut {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let (data, answer) = match s.decide(Op::Write, kind) {
            Decision::Pass => (data, None),
            Decision::Fail => return ffi::SQLITE_IOERR_WRITE,
            Decision::Short => (
                data.get(..data.len() / 2).unwrap_or_default(),
                Some(ffi::SQLITE_FULL),
            ),
        };
        let rc = write(data);
        if rc == ffi::SQLITE_OK
            && !data.is_empty()
            && let Some(t) = s.files.get_mut(path)
        {
            t.pending.push(Pending::Write(offset, data.to_vec()));
        }
        answer.unwrap_or(rc)
    }

    fn truncate(&self, path: &Path, size: u64, truncate: impl FnOnce() -> c_int) -> c_int {
        let mut s = lock(&self.state);
        if s.power_cut {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        let rc = truncate();
        if rc == ffi::SQLITE_OK
            && let Some(t) = s.files.get_mut(path)
        {
            t.pending.push(Pending::Truncate(size));
        }
        rc
    }

    /// A sync: its answer, and whether the file (and the directory, when `syncs_dir`) was
    /// really synced.
    fn sync(
        &self,
        path: &Path,
        kind: FileKind,
        syncs_dir: bool,
        sync: impl FnOnce() -> c_int,
    ) -> (c_int, bool) {
        let mut s = lock(&self.state);
        if s.power_cut || s.decide(Op::Sync, kind) != Decision::Pass {
            return (ffi::SQLITE_IOERR_FSYNC, false);
        }
        if s.syncs_lost {
            return (ffi::SQLITE_OK, false);
        }
        let rc = sync();
        if rc == ffi::SQLITE_OK
            && let Some(t) = s.files.get_mut(path)
        {
            let image = t.durable.get_or_insert_with(Vec::new);
            for p in t.pending.drain(..) {
                apply(image, &p);
            }
        }
        if rc == ffi::SQLITE_OK && syncs_dir {
            s.dir_synced();
        }
        (rc, rc == ffi::SQLITE_OK)
    }

    /// Whether calls on the domain's files fail for want of power.
    fn powerless(&self) -> bool {
        lock(&self.state).power_cut
    }

    fn delete(&self, path: &Path, sync_dir: bool, delete: impl FnOnce() -> c_int) -> c_int {
        let mut s = lock(&self.state);
        if s.power_cut {
            return ffi::SQLITE_IOERR_DELETE;
        }
        let rc = delete();
        if rc == ffi::SQLITE_OK {
            if let Some(t) = s.files.get_mut(path) {
                t.pending.clear();
                t.exists = false;
            }
            if sync_dir {
                s.dir_synced();
            }
        }
        rc
    }
}

impl State {
    /// The directory was synced: every name in it is durable as it now is (a file whose
    /// content was never synced is durably there, empty).
    fn dir_synced(&mut self) {
        for t in self.files.values_mut() {
            if !t.exists {
                t.durable = None;
            } else if t.durable.is_none() {
                t.durable = Some(Vec::new());
            }
        }
    }

    fn decide(&mut self, op: Op, kind: FileKind) -> Decision {
        for rule in &mut self.rules {
            if rule.fault.op != op || rule.fault.file.is_some_and(|k| k != kind) || rule.done {
                continue;
            }
            let fire = if rule.firing {
                true
            } else {
                rule.seen += 1;
                rule.seen == rule.fault.nth
            };
            if fire {
                if rule.fault.until_healed {
                    rule.firing = true;
                } else {
                    rule.done = true;
                }
                self.injected += 1;
                return if rule.fault.short && op == Op::Write {
                    Decision::Short
                } else {
                    Decision::Fail
                };
            }
        }
        Decision::Pass
    }
}

/// Applies a pending change to an image in full.
fn apply(image: &mut Vec<u8>, p: &Pending) {
    match p {
        Pending::Write(offset, data) => write_at(image, *offset, data),
        Pending::Truncate(size) => image.truncate(usize::try_from(*size).unwrap_or(usize::MAX)),
    }
}

fn write_at(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let Ok(start) = usize::try_from(offset) else {
        return;
    };
    let end = start.saturating_add(data.len());
    if image.len() < end {
        image.resize(end, 0);
    }
    if let Some(dst) = image.get_mut(start..end) {
        dst.copy_from_slice(data);
    }
}

/// The sector granularity of torn writes.
const SECTOR: usize = 512;

/// Applies a random part of a pending change (each whole sector of a write, or a
/// truncation, with even odds); whether any of it was applied.
fn apply_torn(image: &mut Vec<u8>, p: &Pending, rng: &mut SplitMix) -> bool {
    match p {
        Pending::Truncate(_) => {
            let keep = rng.coin();
            if keep {
                apply(image, p);
            }
            keep
        }
        Pending::Write(offset, data) => {
            let mut any = false;
            let mut done = 0usize;
            while done < data.len() {
                // Sector boundaries are absolute file offsets.
                let at = offset.saturating_add(done as u64);
                let in_sector = SECTOR - (at % SECTOR as u64) as usize;
                let n = in_sector.min(data.len() - done);
                if rng.coin()
                    && let Some(chunk) = data.get(done..done + n)
                {
                    write_at(image, at, chunk);
                    any = true;
                }
                done += n;
            }
            any
        }
    }
}

/// A small seeded generator (SplitMix64), so that a torn restore is reproducible.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn conn(domain: &Domain, name: &str) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_with_flags_and_vfs(
            domain.dir().join(name),
            rusqlite::OpenFlags::default(),
            VFS_NAME,
        )
        .unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.pragma_update(None, "synchronous", "FULL").unwrap();
        c
    }

    fn count(domain: &Domain, name: &str) -> i64 {
        rusqlite::Connection::open(domain.dir().join(name))
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// Committed (synced) rows survive a power cut; with lying syncs they do not; a torn
    /// restore of the unsynced writes still leaves a database that opens and counts.
    #[test]
    fn power_cut_keeps_what_was_synced_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let domain = Domain::watch(dir.path()).unwrap();
        let c = conn(&domain, "a.db");
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        domain.cut_power();
        assert!(c.execute("INSERT INTO t VALUES (3)", []).is_err());
        drop(c);
        let r = domain.restore(Torn::Seeded(7)).unwrap();
        assert!(r.rewritten >= 1, "{r:?}");
        assert_eq!(count(&domain, "a.db"), 2);

        // Lying syncs: the commits reach the page cache only, and the power cut takes them.
        let c = conn(&domain, "a.db");
        domain.lose_syncs(true);
        c.execute("INSERT INTO t VALUES (4)", []).unwrap();
        domain.cut_power();
        drop(c);
        domain.restore(Torn::None).unwrap();
        assert_eq!(count(&domain, "a.db"), 2);
    }

    /// The nth write fails once, then the connection works again; a fault until healed
    /// fails every commit until healed; a fault on another directory does nothing here.
    #[test]
    fn faults_fire_on_the_nth_call_and_heal() {
        let dir = tempfile::tempdir().unwrap();
        let domain = Domain::watch(dir.path()).unwrap();
        let c = conn(&domain, "b.db");
        c.execute_batch("CREATE TABLE t (x);").unwrap();
        domain.inject(Fault::nth(Op::Write, 1).on(FileKind::Wal));
        assert!(c.execute("INSERT INTO t VALUES (1)", []).is_err());
        assert_eq!(domain.injected(), 1);
        c.execute("INSERT INTO t VALUES (2)", []).unwrap();
        domain.inject(Fault::nth(Op::Sync, 1).until_healed());
        assert!(c.execute("INSERT INTO t VALUES (3)", []).is_err());
        assert!(c.execute("INSERT INTO t VALUES (4)", []).is_err());
        domain.heal();
        c.execute("INSERT INTO t VALUES (5)", []).unwrap();
        let other = tempfile::tempdir().unwrap();
        let elsewhere = Domain::watch(other.path()).unwrap();
        elsewhere.inject(Fault::nth(Op::Write, 1).until_healed());
        c.execute("INSERT INTO t VALUES (6)", []).unwrap();
        drop(c);
        let rows: Vec<i64> = rusqlite::Connection::open(domain.dir().join("b.db"))
            .unwrap()
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // 3 and 4 failed at their sync; whether their frames count is the unknown outcome
        // (the WAL holds them but the WAL index does not): this connection never saw them.
        assert!(
            rows.starts_with(&[2]) && rows.ends_with(&[5, 6]),
            "{rows:?}"
        );
    }

    /// Torn writes keep whole sectors only, at absolute sector boundaries.
    #[test]
    fn a_torn_write_keeps_whole_sectors() {
        let mut image = vec![0u8; 2048];
        let mut rng = SplitMix(1);
        let p = Pending::Write(256, vec![1u8; 1024]);
        apply_torn(&mut image, &p, &mut rng);
        for sector in [256..512, 512..1024, 1024..1280] {
            let s = &image[sector.clone()];
            assert!(
                s.iter().all(|&b| b == 0) || s.iter().all(|&b| b == 1),
                "{sector:?}"
            );
        }
    }
}
