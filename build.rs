//! Turns the built-in catalog (`lists.toml`) into a compact image for the binary to embed:
//! read at every start, it takes a fraction of the time TOML or JSON does (no text to scan,
//! no escapes, no numbers to parse). The TOML text is embedded too; it is what errors point
//! into, and what is read if this conversion could not be made (a syntax error in lists.toml
//! is then reported by the binary and its tests, with line and column).
//!
//! The image is the TOML document as a tree of tagged values, read by `src/lists/image.rs`
//! (which holds the format) straight into the raw catalog types. Those types keep some values
//! with their place in the file (toml's `Spanned`); serde reads those as a struct of three
//! private fields. They are written that way here, with an empty span. The unit test
//! `the_image_reads_as_the_toml` fails if this list and the types part ways.

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
    let image = toml::from_str::<Value>(&text)
        .ok()
        .and_then(|mut catalog| {
            for list in catalog.get_mut("list")?.as_array_mut()? {
                spans(list.as_object_mut()?);
            }
            let mut image = Vec::new();
            encode(&catalog, &mut image)?;
            Some(image)
        })
        .unwrap_or_default();
    std::fs::write(out.join("lists.bin"), image).expect("OUT_DIR is writable");
}

/// Appends `value` in the image format (see `src/lists/image.rs`); None for a value it has
/// no tag for.
fn encode(value: &Value, out: &mut Vec<u8>) -> Option<()> {
    let len = |n: usize, out: &mut Vec<u8>| -> Option<()> {
        out.extend_from_slice(&u32::try_from(n).ok()?.to_le_bytes());
        Some(())
    };
    match value {
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                out.push(b'i');
                out.extend_from_slice(&i.to_le_bytes());
            }
            (None, Some(f)) => {
                out.push(b'd');
                out.extend_from_slice(&f.to_le_bytes());
            }
            (None, None) => return None,
        },
        Value::String(text) => {
            out.push(b's');
            len(text.len(), out)?;
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.push(b'a');
            len(items.len(), out)?;
            for item in items {
                encode(item, out)?;
            }
        }
        Value::Object(table) => {
            out.push(b'm');
            len(table.len(), out)?;
            for (key, item) in table {
                len(key.len(), out)?;
                out.extend_from_slice(key.as_bytes());
                encode(item, out)?;
            }
        }
        Value::Null => return None,
    }
    Some(())
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
