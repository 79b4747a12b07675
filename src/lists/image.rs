//! The built-in catalog as `build.rs` wrote it: `lists.toml` as a tree of tagged values, read
//! straight into the same raw types as the TOML text. Reading it is the first thing nearly
//! every command does; it takes a fraction of what parsing TOML or JSON took.
//!
//! The format, every length and count a little-endian u32:
//! `t` / `f` (true, false), `i` + i64, `d` + f64, `s` + length + UTF-8 bytes,
//! `a` + count + values, `m` + count + (key length + key bytes + value) for each entry.
//!
//! The image carries no positions (its spanned values have an empty span), so a problem found
//! on this path is never reported from it: the caller reads the TOML text instead, which says
//! where.

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess};
use serde::de::{Visitor, value::Error};

/// The image the build wrote; empty when it could not convert `lists.toml`.
pub(super) const BUILTIN_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lists.bin"));

/// Deserializes `T` from an image; the whole image must be one value.
pub(super) fn read<T: de::Deserialize<'static>>(image: &'static [u8]) -> Result<T, String> {
    if image.is_empty() {
        return Err("no image of the built-in catalog".into());
    }
    let mut reader = Reader { rest: image };
    let value = T::deserialize(&mut reader).map_err(|e| e.to_string())?;
    if !reader.rest.is_empty() {
        return Err("bytes after the end of the image".into());
    }
    Ok(value)
}

/// The part of the image not read yet.
struct Reader {
    rest: &'static [u8],
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&'static [u8], Error> {
        if self.rest.len() < n {
            return Err(de::Error::custom("the image ends early"));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn count(&mut self) -> Result<usize, Error> {
        usize::try_from(u32::from_le_bytes(self.array()?))
            .map_err(|_| de::Error::custom("a count too large"))
    }

    fn text(&mut self) -> Result<&'static str, Error> {
        let n = self.count()?;
        std::str::from_utf8(self.take(n)?).map_err(de::Error::custom)
    }
}

impl Deserializer<'static> for &mut Reader {
    type Error = Error;

    fn deserialize_any<V: Visitor<'static>>(self, visitor: V) -> Result<V::Value, Error> {
        let [tag] = self.array()?;
        match tag {
            b't' => visitor.visit_bool(true),
            b'f' => visitor.visit_bool(false),
            b'i' => visitor.visit_i64(i64::from_le_bytes(self.array()?)),
            b'd' => visitor.visit_f64(f64::from_le_bytes(self.array()?)),
            b's' => visitor.visit_borrowed_str(self.text()?),
            b'a' => {
                let left = self.count()?;
                visitor.visit_seq(Items { reader: self, left })
            }
            b'm' => {
                let left = self.count()?;
                visitor.visit_map(Items { reader: self, left })
            }
            other => Err(de::Error::custom(format!("unknown tag {other}"))),
        }
    }

    /// A value that is there is `Some`: a missing key is how the image says `None`.
    fn deserialize_option<V: Visitor<'static>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    /// Enums are unit variants written as their names (`ipv4`, `self-service`).
    fn deserialize_enum<V: Visitor<'static>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.rest.first() {
            Some(b's') => {
                self.take(1)?;
                visitor.visit_enum(self.text()?.into_deserializer())
            }
            _ => Err(de::Error::custom("an enum that is not a name")),
        }
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'static>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// The items of an array or the entries of a table still to read.
struct Items<'a> {
    reader: &'a mut Reader,
    left: usize,
}

impl SeqAccess<'static> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'static>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl MapAccess<'static> for Items<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'static>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let key = self.reader.text()?;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'static>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.reader)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}
