//! The catalog's texts, borrowed from the built-in image where they were read from it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// A text of a catalog entry (a note, a meaning, a source). Read from the image compiled into
/// the binary, it points into that image instead of being copied: the built-in catalog's texts
/// are most of its size, and copying them was a fifth of the allocations of a one-address check.
/// Read from a catalog file, it is owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(Cow<'static, str>);

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&'static str> for Text {
    fn from(text: &'static str) -> Text {
        Text(Cow::Borrowed(text))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(Cow::Owned(text))
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_string(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text, E> {
        Ok(match super::image::within_builtin(text) {
            Some(text) => Text(Cow::Borrowed(text)),
            None => Text(Cow::Owned(text.to_owned())),
        })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text, E> {
        Ok(Text(Cow::Owned(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{BUILTIN_TOML, Catalog, image, parse};

    fn first_note(catalog: &Catalog) -> &Text {
        catalog
            .lists
            .iter()
            .find_map(|l| l.note.as_ref())
            .expect("a list with a note")
    }

    #[test]
    fn texts_of_the_image_are_borrowed_and_others_owned() {
        let builtin = Catalog::builtin().expect("the built-in catalog");
        let note = first_note(&builtin);
        assert!(matches!(note.0, Cow::Borrowed(_)), "{note:?}");
        assert!(image::within_builtin(note).is_some());
        assert!(image::within_builtin(&note.to_string()).is_none());

        let from_file = parse::parse(BUILTIN_TOML, "lists.toml").expect("lists.toml parses");
        let owned = first_note(&from_file);
        assert!(matches!(owned.0, Cow::Owned(_)), "{owned:?}");
        assert_eq!(owned, note);
    }
}
