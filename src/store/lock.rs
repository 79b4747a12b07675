//! The pass lock: two passes never run at once against one store.
//!
//! An OS file lock (flock) on `<store>.lock`: the kernel drops it when the holder dies, so a
//! pass killed with SIGKILL never leaves a stale lock behind. The holder's pid is written into
//! the file for the message the second pass prints.
//!
//! rblwatch runs as root from cron beside a daemon that runs as a service user, in a state
//! directory that user can write: the lock file is opened without following a link, must be
//! a regular file of our own with no other name (a hard link), and is never truncated; the
//! pid is written over a fixed-width field.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

use std::path::{Path, PathBuf};

use crate::error::Error;

/// A held pass lock, released on drop.
#[derive(Debug)]
pub struct PassLock {
    file: File,
}

impl PassLock {
    /// Takes the lock of the store at `store`; with `wait`, waits for a running pass to end.
    pub fn acquire(store: &Path, wait: bool) -> Result<PassLock, Error> {
        if let Some(dir) = store
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::Store {
                path: store.display().to_string(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        check_directory(store)?;
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io = |source: std::io::Error| Error::Store {
            path: path.display().to_string(),
            message: source.to_string(),
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::Store {
                    path: path.display().to_string(),
                    message: "is a symbolic link; refused (remove it)".into(),
                },
                _ => io(e),
            })?;
        check_own_file(&file, &path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                tracing::debug!(
                    holder = %crate::report::safe::clean(holder.trim()),
                    "waiting for the store's lock"
                );
                let asked = std::time::Instant::now();
                file.lock().map_err(io)?;
                tracing::debug!(
                    waited_ms = asked.elapsed().as_millis(),
                    "took the store's lock"
                );
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Busy {
                    path: path.display().to_string(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(err)) => return Err(io(err)),
        }
        // Never truncated: the pid goes over a fixed-width field at the start.
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{:<20}", std::process::id()).map_err(io)?;
        Ok(PassLock { file })
    }
}

impl Drop for PassLock {
    fn drop(&mut self) {
        let _ = self.file.rewind();
        let _ = writeln!(self.file, "{:<20}", "");
        let _ = self.file.unlock();
    }
}

/// The store's directory must not be writable by every user: anyone could plant links or
/// files there for a root pass to open.
pub(crate) fn check_directory(store: &Path) -> Result<(), Error> {
    let dir = match store.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(meta) = std::fs::metadata(&dir) else {
        return Ok(());
    };
    if meta.permissions().mode() & 0o002 != 0 {
        return Err(Error::Store {
            path: store.display().to_string(),
            message: format!(
                "its directory {} is writable by every user; refused (chmod o-w it, or keep the store in a directory of its own)",
                dir.display()
            ),
        });
    }
    Ok(())
}

/// A file the store uses must be a regular file with no other name: writing it must not
/// write another file (a hard link to /etc/shadow, say). Its owner may be another user (the
/// daemon's service user shares the store with a root cron pass).
pub(crate) fn check_own_file(file: &File, path: &Path) -> Result<(), Error> {
    let refuse = |why: String| Error::Store {
        path: path.display().to_string(),
        message: format!("{why}; refused"),
    };
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("cannot be examined: {e}")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".into()));
    }
    if meta.nlink() > 1 {
        return Err(refuse(format!(
            "has {} names (a hard link to another file?)",
            meta.nlink()
        )));
    }
    Ok(())
}

/// Before SQLite opens the store: the store, its `-wal` and its `-shm`, where they exist,
/// must be regular files with one name, not links (SQLite would follow them).
pub(crate) fn check_store_files(store: &Path) -> Result<(), Error> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        let refuse = |why: &str| Error::Store {
            path: path.display().to_string(),
            message: format!("{why}; refused"),
        };
        match std::fs::symlink_metadata(&path) {
            Err(_) => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refuse("is a symbolic link (remove it)"));
            }
            Ok(meta) if !meta.is_file() => return Err(refuse("is not a regular file")),
            Ok(meta) if meta.nlink() > 1 => {
                return Err(refuse(
                    "has more than one name (a hard link to another file?)",
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}
