//! The built-in catalog as `build.rs` wrote it: `lists.toml` as a tree of tagged values, read
//! straight into the same raw types as the TOML text. Reading it is the first thing nearly
//! every command does; it takes a fraction of what parsing TOML or JSON took.
//!
//! The format: `t` / `f` (true, false), `i` + i64, `d` + f64 bits, `s` + length + UTF-8 text,
//! `a` + count + values, `m` + count + (key length + key + value) for each entry. Numbers are
//! written seven bits to a byte, lowest first: lengths and counts in 4 bytes, i64 and f64 in
//! 10. Every byte outside the texts is then ASCII, so the whole image is UTF-8, checked once
//! when the binary is compiled: its texts are borrowed as they are, with no check at start.
//!
//! Values the raw types keep with their place in the file (toml's `Spanned`) are written as
//! the bare value; the reader gives them an empty span. So a problem found on this path is
//! never reported from it: the caller reads the TOML text instead, which says where.

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess};
use serde::de::{Visitor, value::Error};

/// The image the build wrote; empty when it could not convert `lists.toml`.
pub(super) static BUILTIN_IMAGE: &str =
    match std::str::from_utf8(include_bytes!(concat!(env!("OUT_DIR"), "/lists.bin"))) {
        Ok(image) => image,
        Err(_) => panic!("build.rs wrote a catalog image that is not UTF-8"),
    };

/// The same text as `text` within the built-in image, with the image's lifetime, when `text`
/// lies in it: what the image reader hands out as borrowed does.
pub(super) fn within_builtin(text: &str) -> Option<&'static str> {
    let start = (text.as_ptr() as usize).checked_sub(BUILTIN_IMAGE.as_ptr() as usize)?;
    BUILTIN_IMAGE
        .get(start..start.checked_add(text.len())?)
        .filter(|found| found.as_ptr() == text.as_ptr())
}

/// Deserializes `T` from an image; the whole image must be one value.
pub(super) fn read<T: de::Deserialize<'static>>(image: &'static str) -> Result<T, String> {
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
    rest: &'static str,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&'static str, Error> {
        let (taken, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| de::Error::custom("the image ends early or splits a character"))?;
        self.rest = rest;
        Ok(taken)
    }

    fn tag(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?.as_bytes()[0])
    }

    /// A number of `N` bytes of seven bits each, lowest first.
    fn number<const N: usize>(&mut self) -> Result<u64, Error> {
        let bytes = self.take(N)?.as_bytes();
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |n, &b| (n << 7) | u64::from(b & 0x7f)))
    }

    fn count(&mut self) -> Result<usize, Error> {
        usize::try_from(self.number::<4>()?).map_err(|_| de::Error::custom("a count too large"))
    }

    fn text(&mut self) -> Result<&'static str, Error> {
        let n = self.count()?;
        self.take(n)
    }
}

impl Deserializer<'static> for &mut Reader {
    type Error = Error;

    fn deserialize_any<V: Visitor<'static>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.tag()? {
            b't' => visitor.visit_bool(true),
            b'f' => visitor.visit_bool(false),
            b'i' => visitor.visit_i64(i64::from_le_bytes(self.number::<10>()?.to_le_bytes())),
            b'd' => visitor.visit_f64(f64::from_bits(self.number::<10>()?)),
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
        match self.rest.as_bytes().first() {
            Some(b's') => {
                self.take(1)?;
                visitor.visit_enum(self.text()?.into_deserializer())
            }
            _ => Err(de::Error::custom("an enum that is not a name")),
        }
    }

    /// A spanned value is its bare value here, given an empty span; other structs are tables.
    fn deserialize_struct<V: Visitor<'static>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match fields {
            [start, end, value] if serde_spanned::de::is_spanned(name) => {
                visitor.visit_map(Spanned {
                    reader: self,
                    fields: [start, end, value],
                    next: 0,
                })
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        <W: Visitor<'static>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
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

/// A spanned value as the table `Spanned` reads: its start and end (both 0), then the value
/// itself, read from the image.
struct Spanned<'a> {
    reader: &'a mut Reader,
    fields: [&'static str; 3],
    next: usize,
}

impl MapAccess<'static> for Spanned<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'static>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.fields.get(self.next) {
            Some(key) => seed
                .deserialize(de::value::BorrowedStrDeserializer::new(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'static>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.next += 1;
        match self.next {
            1 | 2 => seed.deserialize(0usize.into_deserializer()),
            _ => seed.deserialize(&mut *self.reader),
        }
    }
}
