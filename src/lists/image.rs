//! The built-in catalog as `build.rs` wrote it: `lists.toml` as JSON, read straight into the
//! same raw types as the TOML text. Parsing the TOML was most of the CPU a one-address check
//! spent; this takes a small part of it.
//!
//! The JSON carries no positions (its spanned values have an empty span), so a problem found
//! on this path is never reported from it: the caller reads the TOML text instead, which says
//! where.

use serde::de::DeserializeOwned;

/// The JSON the build wrote; empty when it could not convert `lists.toml`.
pub(super) const BUILTIN_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/lists.json"));

/// Deserializes `T` from the built-in JSON.
pub(super) fn read<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    if json.is_empty() {
        return Err("no JSON form of the built-in catalog".into());
    }
    serde_json::from_str(json).map_err(|e| e.to_string())
}
