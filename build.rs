//! Turns the built-in catalog (`lists.toml`) into JSON for the binary to embed: read at every
//! start, JSON takes a tenth of the time TOML does. The TOML text is embedded too; it is what
//! errors point into, and what is read if this conversion could not be made (a syntax error
//! in lists.toml is then reported by the binary and its tests, with line and column).

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=lists.toml");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = std::fs::read_to_string("lists.toml").expect("lists.toml is readable");
    let json = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|table| serde_json::to_string(&table).ok())
        .unwrap_or_default();
    std::fs::write(out.join("lists.json"), json).expect("OUT_DIR is writable");
}
