//! The C side: a `sqlite3_vfs` that wraps the default VFS, and the `sqlite3_io_methods` of
//! its files. Every function forwards to the wrapped VFS or file; for files in a watched
//! directory it asks the [`Domain`] first and tells it what happened.
//!
//! Safety, in one place: SQLite gives each `xOpen` a block of `szOsFile` bytes, which we lay
//! out as a [`FaultFile`] header followed (at [`REAL_OFFSET`]) by the wrapped VFS's own file
//! object; SQLite calls a file's methods only between a successful `xOpen` (which set
//! `pMethods`) and `xClose`, and never concurrently on one file object in ways that the
//! wrapped VFS does not already allow. The wrapped VFS is the process's default one, which
//! lives as long as the process; ours is leaked on purpose (registered VFSes must outlive
//! every connection that uses them).
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rusqlite::ffi;

use crate::{Domain, FileKind};

/// A watched file's link to its domain.
struct Handle {
    domain: Arc<Domain>,
    path: PathBuf,
    kind: FileKind,
    /// Whether the unix VFS will sync the directory on this handle's next sync (it does on
    /// the first sync of each WAL or journal it opens: `UNIXFILE_DIRSYNC`).
    dir_sync_due: AtomicBool,
}

/// The head of the block SQLite gives each open file.
#[repr(C)]
struct FaultFile {
    /// SQLite's part: our methods (null when the open failed).
    base: ffi::sqlite3_file,
    /// The domain link, or null for a file outside every watched directory.
    handle: *mut Handle,
    /// The wrapped VFS's file object, in the same block.
    real: *mut ffi::sqlite3_file,
}

/// Where the wrapped file object starts in the block (8-byte aligned).
const REAL_OFFSET: usize = (std::mem::size_of::<FaultFile>() + 7) & !7;

/// The wrapped (default) VFS.
fn root(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: `vfs` is ours (registered in `register`), whose app data is the root VFS.
    unsafe { (*vfs).pAppData.cast() }
}

/// Registers the VFS under [`crate::VFS_NAME`] (not as the default), once per process.
pub(crate) fn register() -> Result<(), c_int> {
    static REGISTERED: OnceLock<Result<(), c_int>> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: plain calls into SQLite; the copied struct keeps the default VFS's
        // functions, which ignore their VFS argument except `xOpen` (wrapped below, given
        // the root VFS) and are called with ours.
        unsafe {
            let rc = ffi::sqlite3_initialize();
            if rc != ffi::SQLITE_OK {
                return Err(rc);
            }
            let root = ffi::sqlite3_vfs_find(ptr::null());
            if root.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let mut vfs: ffi::sqlite3_vfs = *root;
            vfs.pNext = ptr::null_mut();
            vfs.zName = c"fazhi-fault".as_ptr();
            vfs.pAppData = root.cast();
            let size = REAL_OFFSET + usize::try_from((*root).szOsFile).unwrap_or(0);
            vfs.szOsFile = c_int::try_from(size).map_err(|_| ffi::SQLITE_ERROR)?;
            vfs.xOpen = Some(x_open);
            vfs.xDelete = Some(x_delete);
            vfs.xAccess = Some(x_access);
            vfs.xFullPathname = Some(x_full_pathname);
            let vfs = Box::into_raw(Box::new(vfs));
            let rc = ffi::sqlite3_vfs_register(vfs, 0);
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(rc)
            }
        }
    })
}

/// A C path as a Rust one (`None` for a temporary file's null name).
///
/// # Safety
/// `name` is null or a NUL-terminated string.
unsafe fn path_of<'a>(name: *const c_char) -> Option<&'a Path> {
    if name.is_null() {
        return None;
    }
    // SAFETY: as the caller promises.
    let s = unsafe { CStr::from_ptr(name) };
    s.to_str().ok().map(Path::new)
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let root = root(vfs);
    let f: *mut FaultFile = file.cast();
    // SAFETY: SQLite gave `szOsFile` bytes at `file`; the wrapped object fits after the head.
    unsafe {
        let real: *mut ffi::sqlite3_file = file.cast::<u8>().add(REAL_OFFSET).cast();
        ptr::write(
            f,
            FaultFile {
                base: ffi::sqlite3_file {
                    pMethods: ptr::null(),
                },
                handle: ptr::null_mut(),
                real,
            },
        );
        let kind = FileKind::of_flags(flags);
        let watched = path_of(name).and_then(|p| Domain::of(p).map(|d| (d, p.to_owned())));
        let mut existed = false;
        if let Some((domain, path)) = &watched {
            if let Err(rc) = domain.before_open(kind) {
                return rc;
            }
            existed = path.exists();
        }
        let Some(open) = (*root).xOpen else {
            return ffi::SQLITE_ERROR;
        };
        let rc = open(root, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // The wrapped open cleans up after itself; SQLite calls no method on us.
            return rc;
        }
        if let Some((domain, path)) = watched {
            domain.opened(&path, existed);
            let create = flags & ffi::SQLITE_OPEN_CREATE != 0;
            let dir_sync_due =
                AtomicBool::new(create && matches!(kind, FileKind::Wal | FileKind::Journal));
            (*f).handle = Box::into_raw(Box::new(Handle {
                domain,
                path,
                kind,
                dir_sync_due,
            }));
        }
        (*f).base.pMethods = &METHODS;
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    let root = root(vfs);
    // SAFETY: forwards SQLite's own arguments to the wrapped VFS.
    unsafe {
        let Some(delete) = (*root).xDelete else {
            return ffi::SQLITE_ERROR;
        };
        match path_of(name).and_then(Domain::of) {
            Some(domain) => {
                let path = path_of(name).unwrap_or(Path::new(""));
                domain.delete(path, sync_dir != 0, || delete(root, name, sync_dir))
            }
            None => delete(root, name, sync_dir),
        }
    }
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let root = root(vfs);
    // SAFETY: forwards SQLite's own arguments to the wrapped VFS.
    unsafe {
        match (*root).xAccess {
            Some(access) => access(root, name, flags, out),
            None => ffi::SQLITE_ERROR,
        }
    }
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let root = root(vfs);
    // SAFETY: forwards SQLite's own arguments to the wrapped VFS.
    unsafe {
        match (*root).xFullPathname {
            Some(full) => full(root, name, n, out),
            None => ffi::SQLITE_ERROR,
        }
    }
}

/// Our methods (version 2: with the WAL index's shared memory, without memory-mapped reads).
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

/// The wrapped file, its methods, and our domain link (if watched).
///
/// # Safety
/// `file` is one of ours, opened and not yet closed.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (
    *mut ffi::sqlite3_file,
    &'a ffi::sqlite3_io_methods,
    Option<&'a Handle>,
) {
    // SAFETY: as the caller promises: `x_open` set both pointers, and the wrapped open set
    // its methods.
    unsafe {
        let f: *mut FaultFile = file.cast();
        let real = (*f).real;
        (real, &*(*real).pMethods, (*f).handle.as_ref())
    }
}

/// Forwards a call to the wrapped file's method `$m`, or answers `$missing` when it has none.
macro_rules! forward {
    ($file:expr, $m:ident, $missing:expr $(, $arg:expr)*) => {{
        // SAFETY: called only from our methods, on a file SQLite opened through us.
        let (real, methods, _) = unsafe { parts($file) };
        match methods.$m {
            // SAFETY: the wrapped VFS's own method on its own file object.
            Some(m) => unsafe { m(real $(, $arg)*) },
            None => $missing,
        }
    }};
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let rc = forward!(file, xClose, ffi::SQLITE_OK);
    // SAFETY: the handle was boxed in `x_open`; SQLite closes a file once.
    unsafe {
        let f: *mut FaultFile = file.cast();
        if !(*f).handle.is_null() {
            drop(Box::from_raw((*f).handle));
            (*f).handle = ptr::null_mut();
        }
    }
    rc
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    let read = || forward!(file, xRead, ffi::SQLITE_IOERR_READ, buf, amount, offset);
    match handle {
        Some(h) => h.domain.read(h.kind, read),
        None => read(),
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    match handle {
        Some(h) => {
            let len = usize::try_from(amount).unwrap_or(0);
            // SAFETY: SQLite passes `amount` readable bytes at `buf`.
            let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
            h.domain.write(
                &h.path,
                h.kind,
                u64::try_from(offset).unwrap_or(0),
                data,
                |d| {
                    let n = c_int::try_from(d.len()).unwrap_or(0);
                    forward!(
                        file,
                        xWrite,
                        ffi::SQLITE_IOERR_WRITE,
                        d.as_ptr().cast(),
                        n,
                        offset
                    )
                },
            )
        }
        None => forward!(file, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset),
    }
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    let truncate = || forward!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size);
    match handle {
        Some(h) => h
            .domain
            .truncate(&h.path, u64::try_from(size).unwrap_or(0), truncate),
        None => truncate(),
    }
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    let sync = || forward!(file, xSync, ffi::SQLITE_IOERR_FSYNC, flags);
    match handle {
        Some(h) => {
            let due = h.dir_sync_due.load(Ordering::SeqCst);
            let (rc, synced) = h.domain.sync(&h.path, h.kind, due, sync);
            if synced {
                // The unix VFS synced the directory, if it was due, and will not again.
                h.dir_sync_due.store(false, Ordering::SeqCst);
            }
            rc
        }
        None => sync(),
    }
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    if handle.is_some_and(|h| h.domain.powerless()) {
        return ffi::SQLITE_IOERR_FSTAT;
    }
    forward!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite calls this on a file it opened through us.
    let (_, _, handle) = unsafe { parts(file) };
    if handle.is_some_and(|h| h.domain.powerless()) {
        return ffi::SQLITE_IOERR_LOCK;
    }
    forward!(file, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(file, xUnlock, ffi::SQLITE_OK, level)
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(file, xCheckReservedLock, ffi::SQLITE_IOERR, out)
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    forward!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xSectorSize, 4096)
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(file, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(
        file,
        xShmMap,
        ffi::SQLITE_IOERR_SHMMAP,
        region,
        size,
        extend,
        out
    )
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    forward!(file, xShmBarrier, ())
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}
