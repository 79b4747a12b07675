//! Reading files rblwatch is given (configs, catalogs, templates, mirrors, secrets): regular
//! files only, up to a size limit, so a FIFO cannot hang a run and `/dev/zero` cannot fill the
//! memory. Symbolic links are followed here (a managed config is often one); the store's own
//! files are opened without following them (`store::lock`).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest config file read.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The largest list catalog read.
pub const CATALOG_LIMIT: u64 = 8 << 20;
/// The largest template read.
pub const TEMPLATE_LIMIT: u64 = 1 << 20;
/// The largest mirror data file read (rsync feeds of whole lists run to tens of megabytes).
pub const MIRROR_LIMIT: u64 = 1 << 30;
/// The largest secret (password file) or CA file read.
pub const SECRET_LIMIT: u64 = 1 << 20;

/// Opens `path` for reading: it must be a regular file (after links). Opened non-blocking,
/// so a FIFO is refused instead of waiting for a writer.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// The bytes of a regular file of at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_big(limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the limit: a file that grows while it is read is caught too.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(limit));
    }
    Ok(bytes)
}

/// The text of a regular UTF-8 file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_bytes(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// What is wrong with who may change (or, for a `secret`, read) a file the config names:
/// writable by every user or by its group; a secret readable by every user. None when fine
/// or when the file cannot be examined (reading it reports that).
pub fn exposure(path: &Path, secret: bool) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o002 != 0 {
        Some("is writable by every user (chmod o-w)".into())
    } else if mode & 0o020 != 0 {
        Some("is writable by its group (chmod g-w, unless the group is trusted)".into())
    } else if secret && mode & 0o004 != 0 {
        Some("is readable by every user (chmod o-r)".into())
    } else {
        None
    }
}

/// Whether `exposure` found the file writable by every user: a secret such a file holds
/// cannot be trusted, and `run` refuses it.
pub fn world_writable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

fn too_big(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {} bytes, the most read", limit),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_permissions_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "x").expect("write");
        let mode = |m: u32| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(m));
        mode(0o600).expect("chmod");
        assert_eq!(exposure(&file, true), None);
        mode(0o644).expect("chmod");
        assert_eq!(exposure(&file, false), None);
        assert!(exposure(&file, true).is_some_and(|e| e.contains("readable by every user")));
        mode(0o664).expect("chmod");
        assert!(exposure(&file, false).is_some_and(|e| e.contains("by its group")));
        mode(0o666).expect("chmod");
        assert!(exposure(&file, false).is_some_and(|e| e.contains("by every user")));
        assert!(world_writable(&file));
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "x = 1\n").expect("write");
        assert_eq!(read_text(&file, 100).expect("read"), "x = 1\n");
        let err = read_text(&file, 3).expect_err("too big");
        assert!(err.to_string().contains("larger than 3 bytes"), "{err}");
        let err = read_text(dir.path(), 100).expect_err("a directory");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_text(Path::new("/dev/zero"), 100).expect_err("a device");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // A FIFO is refused at once, not waited on.
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_text(&fifo, 100).expect_err("a FIFO");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
