//! The built-in catalog as `build.rs` wrote it: `lists.toml` as JSON, read into the same raw
//! types as the TOML text. Parsing the TOML was most of the CPU a one-address check spent;
//! this takes a tenth of it.
//!
//! The JSON carries no positions, so the raw types' `Spanned` fields are given an empty span
//! here. A problem found on this path is never reported from it: the caller reads the TOML
//! text instead, which says where.

use serde::de::value::{BorrowedStrDeserializer, Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde_json::Value;

/// The JSON the build wrote; empty when it could not convert `lists.toml`.
pub(super) const BUILTIN_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/lists.json"));

/// Deserializes `T` from the built-in JSON.
pub(super) fn read<T: de::DeserializeOwned>(json: &str) -> Result<T, String> {
    if json.is_empty() {
        return Err("no JSON form of the built-in catalog".into());
    }
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    T::deserialize(Plain(&value)).map_err(|e| e.to_string())
}

/// A JSON value read as toml's deserializer would present the same TOML value, spans aside.
#[derive(Clone, Copy)]
struct Plain<'a>(&'a Value);

impl<'de> IntoDeserializer<'de, Error> for Plain<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Plain<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => visitor.visit_i64(i),
                (_, Some(u), _) => visitor.visit_u64(u),
                (_, _, Some(f)) => visitor.visit_f64(f),
                _ => Err(de::Error::custom(format!("number {n}"))),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(SeqDeserializer::new(items.iter().map(Plain))),
            Value::Object(map) => visitor.visit_map(MapDeserializer::new(
                map.iter().map(|(key, value)| (key.as_str(), Plain(value))),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// toml's `Spanned` asks for a struct of a private name with three fields (start, end,
    /// value); it is given an empty span around the value. Every other struct is a map.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match fields {
            [start, end, value] if name.starts_with("$__serde_spanned_private") => {
                let zero = Value::from(0u8);
                let key = BorrowedStrDeserializer::<Error>::new;
                visitor.visit_map(MapDeserializer::new(
                    [
                        (key(start), Plain(&zero)),
                        (key(end), Plain(&zero)),
                        (key(value), self),
                    ]
                    .into_iter(),
                ))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}
