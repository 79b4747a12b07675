//! The pass lock: two passes never run at once against one store.
//!
//! An OS file lock (flock) on `<store>.lock`: the kernel drops it when the holder dies, so a
//! pass killed with SIGKILL never leaves a stale lock behind. The holder's pid is written into
//! the file for the message the second pass prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
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
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait => file.lock().map_err(io)?,
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
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(PassLock { file })
    }
}

impl Drop for PassLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
