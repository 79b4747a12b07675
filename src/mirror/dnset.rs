//! rbldnsd's `dnset`: domain names, `*.name` for every name under it, `.name` for the name
//! and every name under it, `!` to exclude. An exact entry decides before a wildcard, and a
//! nearer wildcard before a farther one.

use std::collections::HashMap;
use std::sync::Arc;

use super::value::{self, Value};

/// The entries of a name: the values it is listed with, or `None` when excluded.
type Entries = HashMap<String, Option<Vec<Arc<Value>>>>;

/// A parsed dnset file.
#[derive(Debug, Default)]
pub(super) struct Dnset {
    exact: Entries,
    /// Keyed by the name the wildcard sits under (`*.example.com` under `example.com`).
    under: Entries,
}

fn record(map: &mut Entries, name: &str, value: Option<&Arc<Value>>) {
    let slot = map
        .entry(name.to_string())
        .or_insert_with(|| Some(Vec::new()));
    match (slot.as_mut(), value) {
        (Some(values), Some(v)) => values.push(v.clone()),
        (_, None) => *slot = None,
        (None, Some(_)) => {}
    }
}

impl Dnset {
    /// Parses the text of a dnset file; `origin` names it in errors.
    pub(super) fn parse(text: &str, origin: &str) -> Result<Dnset, String> {
        let mut set = Dnset::default();
        value::read_entries(text, origin, true, |key, value| {
            let key = key.trim_end_matches('.').to_ascii_lowercase();
            if let Some(name) = key.strip_prefix("*.") {
                record(&mut set.under, name, value.as_ref());
            } else if let Some(name) = key.strip_prefix('.') {
                record(&mut set.exact, name, value.as_ref());
                record(&mut set.under, name, value.as_ref());
            } else if !key.is_empty() {
                record(&mut set.exact, &key, value.as_ref());
            } else {
                return None;
            }
            Some(())
        })?;
        Ok(set)
    }

    /// The values `name` is listed with and the name of the entry that lists it (what `$`
    /// stands for: for a wildcard, the name it sits under); `None` when not listed or
    /// excluded.
    pub(super) fn lookup(&self, name: &str) -> Option<(Vec<Arc<Value>>, String)> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(found) = self.exact.get(&name) {
            return found.clone().map(|values| (values, name));
        }
        let mut rest = name.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(found) = self.under.get(parent) {
                return found.clone().map(|values| (values, parent.to_string()));
            }
            rest = parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_wildcards_and_exclusions() {
        let s = Dnset::parse(
            ":127.0.1.2:Listed $\nexact.example\n*.under.example\n.both.example :127.0.1.3:\n!keep.both.example\n",
            "t",
        )
        .expect("parses");
        let a = |n: &str| {
            s.lookup(n)
                .map(|(v, _)| v.iter().map(|v| v.a.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(a("Exact.Example."), Some(vec!["127.0.1.2".to_string()]));
        assert_eq!(a("www.exact.example"), None);
        assert_eq!(a("under.example"), None);
        assert_eq!(a("a.b.under.example"), Some(vec!["127.0.1.2".to_string()]));
        assert_eq!(a("both.example"), Some(vec!["127.0.1.3".to_string()]));
        assert_eq!(a("x.both.example"), Some(vec!["127.0.1.3".to_string()]));
        assert_eq!(a("keep.both.example"), None);
    }
}
