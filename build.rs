//! Turns the built-in catalog (`lists.toml`) into JSON for the binary to embed: read at every
//! start, JSON takes a fraction of the time TOML does. The TOML text is embedded too; it is
//! what errors point into, and what is read if this conversion could not be made (a syntax
//! error in lists.toml is then reported by the binary and its tests, with line and column).
//!
//! The raw catalog types keep some values with their place in the file (toml's `Spanned`);
//! serde reads those as a struct of three private fields. They are written that way here,
//! with an empty span, so that serde_json reads the JSON straight into the same types. The
//! unit test `the_json_form_reads_as_the_toml` fails if this list and the types part ways.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// Keys of a `[[list]]` entry whose values are spanned.
const LIST_SPANNED: &[&str] = &[
    "id", "zone", "query", "access", "key_env", "default", "codes", "delist", "sources", "limits",
    "mirror",
];

fn main() {
    println!("cargo::rerun-if-changed=lists.toml");
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let text = std::fs::read_to_string("lists.toml").expect("lists.toml is readable");
    let json = toml::from_str::<Value>(&text)
        .ok()
        .and_then(|mut catalog| {
            for list in catalog.get_mut("list")?.as_array_mut()? {
                spans(list.as_object_mut()?);
            }
            serde_json::to_string(&catalog).ok()
        })
        .unwrap_or_default();
    std::fs::write(out.join("lists.json"), json).expect("OUT_DIR is writable");
}

/// Wraps the spanned values of one list entry (and of its codes and test points).
fn spans(list: &mut Map<String, Value>) {
    for key in ["codes", "refusals"] {
        for code in list
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(code) = code.as_object_mut() {
                wrap(code, &["code"]);
            }
        }
    }
    if let Some(test) = list.get_mut("test").and_then(Value::as_object_mut) {
        wrap(test, &["positive", "negative"]);
    }
    wrap(list, LIST_SPANNED);
}

fn wrap(table: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(value) = table.get_mut(*key) {
            let inner = value.take();
            *value = serde_json::json!({
                "$__serde_spanned_private_start": 0,
                "$__serde_spanned_private_end": 0,
                "$__serde_spanned_private_value": inner,
            });
        }
    }
}
