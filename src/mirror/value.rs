//! What a listed entry answers: its A value and TXT template, as rbldnsd data files write
//! them (`:A:TXT`, `:A`, `:A:`, a bare TXT), the file's default (`:A:TXT` alone on a line),
//! substitution variables (`$1 text`) and the base template (`$= text`).

use std::net::Ipv4Addr;
use std::sync::Arc;

/// One value an entry is listed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    pub(crate) a: Ipv4Addr,
    /// The TXT template, variables already filled in; `$` stands for the entry asked about.
    pub(crate) txt: Option<String>,
}

/// The state of a data file as it is read: the default value, variables, base template.
#[derive(Debug)]
struct Scope {
    default: Arc<Value>,
    variables: [Option<String>; 10],
    base: Option<String>,
}

impl Default for Scope {
    fn default() -> Scope {
        Scope {
            default: Arc::new(Value {
                a: Ipv4Addr::new(127, 0, 0, 2),
                txt: None,
            }),
            variables: Default::default(),
            base: None,
        }
    }
}

/// What one line of a data file is, once comments and blanks are set aside.
enum Line<'a> {
    /// Handled here (a default, a variable, a special rblwatch does not need).
    Special,
    /// An entry and its value text.
    Entry {
        excluded: bool,
        key: &'a str,
        value: &'a str,
    },
}

impl Scope {
    /// Reads one trimmed, non-empty line; `None` when it cannot be read. In IPv4 and name
    /// data a `:` ends the entry and starts its value; IPv6 entries hold colons, so there
    /// only white space does (`colon_ends`).
    fn line<'a>(&mut self, line: &'a str, colon_ends: bool) -> Option<Line<'a>> {
        if let Some(rest) = line.strip_prefix('$') {
            let mut chars = rest.chars();
            match chars.next() {
                Some(d) if d.is_ascii_digit() && rest[1..].starts_with(char::is_whitespace) => {
                    let n = d.to_digit(10)? as usize;
                    self.variables[n] = Some(rest[1..].trim().to_string());
                }
                Some('=') => self.base = Some(rest[1..].trim().to_string()),
                // $SOA, $NS, $TTL, $TIMESTAMP, $MAXRANGE4: for serving, not for answers.
                _ => {}
            }
            return Some(Line::Special);
        }
        // In IPv6 data `::1` is an entry, not a default value.
        let ipv6_entry = !colon_ends
            && line
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .is_some_and(|first| first.parse::<std::net::Ipv6Addr>().is_ok());
        if line.starts_with(':') && !ipv6_entry {
            self.default = self.value(line)?;
            return Some(Line::Special);
        }
        let (key, value) = match line.find(|c: char| c.is_whitespace() || (colon_ends && c == ':'))
        {
            Some(at) => line.split_at(at),
            None => (line, ""),
        };
        let (excluded, key) = match key.strip_prefix('!') {
            Some(k) => (true, k),
            None => (false, key),
        };
        Some(Line::Entry {
            excluded,
            key,
            value,
        })
    }

    /// `:A:TXT`, `:A`, `:A:` or a bare TXT, against the default; a comment alone (after `#`
    /// or `;`) means the default.
    fn value(&self, text: &str) -> Option<Arc<Value>> {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') || text.starts_with(';') {
            return Some(self.default.clone());
        }
        let Some(rest) = text.strip_prefix(':') else {
            return Some(Arc::new(Value {
                a: self.default.a,
                txt: Some(self.template(text)),
            }));
        };
        let (a, txt) = match rest.split_once(':') {
            // An empty TXT means none: rbldnsd then answers TXT queries with nothing.
            Some((a, txt)) => (a, Some(self.template(txt)).filter(|t| !t.is_empty())),
            None => (rest, self.default.txt.clone()),
        };
        let a = match a.trim() {
            "" => self.default.a,
            // "127.0.0 prefix for A value may be omitted" (rbldnsd(8)).
            last if !last.contains('.') => Ipv4Addr::new(127, 0, 0, last.parse().ok()?),
            full => full.parse().ok()?,
        };
        Some(Arc::new(Value { a, txt }))
    }

    /// A TXT template with `$1`..`$9` filled in and set in the base template, if any.
    fn template(&self, text: &str) -> String {
        let text = self.fill(text.trim());
        match &self.base {
            Some(base) => self.fill(base).replace("$=", &text),
            None => text,
        }
    }

    fn fill(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek().copied()) {
                ('$', Some('$')) => {
                    chars.next();
                    out.push_str("$$");
                }
                ('$', Some(d)) if d.is_ascii_digit() => {
                    chars.next();
                    let n = d.to_digit(10).unwrap_or(0) as usize;
                    out.push_str(self.variables[n].as_deref().unwrap_or_default());
                }
                _ => out.push(c),
            }
        }
        out
    }
}

/// Reads the entries of a data file in order. Blank lines, comments, defaults and variables
/// are handled here; `entry` gets each entry's key and value (`None` for an exclusion) and
/// returns `None` when it cannot use the key. An error names `origin` and the line.
pub(crate) fn read_entries(
    text: &str,
    origin: &str,
    colon_ends: bool,
    mut entry: impl FnMut(&str, Option<Arc<Value>>) -> Option<()>,
) -> Result<(), String> {
    let mut scope = Scope::default();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let bad = || format!("{origin}:{}: cannot read `{line}`", number + 1);
        let Line::Entry {
            excluded,
            key,
            value,
        } = scope.line(line, colon_ends).ok_or_else(bad)?
        else {
            continue;
        };
        let value = if excluded {
            None
        } else {
            Some(scope.value(value).ok_or_else(bad)?)
        };
        entry(key, value).ok_or_else(bad)?;
    }
    Ok(())
}

/// A template as answered for `entry`: `$` is the entry, `$$` a dollar sign.
pub(crate) fn expand(template: &str, entry: &str) -> String {
    let mut out = String::with_capacity(template.len() + entry.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
        } else if chars.peek() == Some(&'$') {
            chars.next();
            out.push('$');
        } else {
            out.push_str(entry);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_variables_and_templates() {
        let mut scope = Scope::default();
        assert!(matches!(
            scope.line("$1 See http://bl.example/", true),
            Some(Line::Special)
        ));
        assert!(matches!(
            scope.line(":3:Listed $1$", true),
            Some(Line::Special)
        ));
        assert_eq!(scope.default.a, Ipv4Addr::new(127, 0, 0, 3));
        let v = scope.value(":127.0.0.5").expect("value");
        assert_eq!(
            (v.a, v.txt.as_deref()),
            (
                Ipv4Addr::new(127, 0, 0, 5),
                Some("Listed See http://bl.example/$")
            )
        );
        assert_eq!(scope.value(":6:").expect("value").txt, None);
        assert_eq!(scope.value("# comment").expect("value"), scope.default);
        assert!(scope.value(":300").is_none());
        let v = scope.value("wants $$$$. $1$").expect("value");
        assert_eq!(
            expand(v.txt.as_deref().unwrap_or_default(), "192.0.2.1"),
            "wants $$. See http://bl.example/192.0.2.1"
        );
    }
}
