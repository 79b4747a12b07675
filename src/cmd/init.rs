//! `rblwatch init [PATH]`: write the commented example config; never overwrite.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::InitArgs;
use crate::config::{self, EXAMPLE};
use crate::error::Error;

/// Writes the example config to the path given, or the first config path searched.
pub fn run(args: &InitArgs) -> Result<u8, Error> {
    let path: PathBuf = match &args.path {
        Some(path) => path.clone(),
        None => config::search_path()
            .into_iter()
            .next()
            .unwrap_or_else(|| PathBuf::from("rblwatch.toml")),
    };
    let shown = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Read {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Usage {
                arg: shown.clone(),
                message: "already exists; not overwritten".into(),
            },
            _ => Error::Read {
                path: shown.clone(),
                source,
            },
        })?;
    file.write_all(EXAMPLE.as_bytes())
        .map_err(|source| Error::Read {
            path: shown.clone(),
            source,
        })?;
    writeln!(
        std::io::stdout().lock(),
        "wrote {shown}: put your servers in [[target]], then run `rblwatch --config {shown} config check`"
    )?;
    Ok(0)
}
