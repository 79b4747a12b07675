//! Where in a TOML file a problem is: file, line and column from a byte span.
//!
//! Shared by the catalog and config loaders, whose errors all name `file:line:column`.

use std::fmt;
use std::ops::Range;

/// A problem at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, or `lists.toml (built-in)`.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at the start of `span` in `text`, which was read from `origin`.
    pub fn at(text: &str, origin: &str, span: Range<usize>, message: impl Into<String>) -> Problem {
        let start = span.start.min(text.len());
        let before = text.get(..start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
        Problem {
            origin: origin.to_string(),
            line,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }

    /// The problem of a TOML parse or serde error, placed where toml says.
    pub fn from_toml(text: &str, origin: &str, err: &toml::de::Error) -> Problem {
        Problem::at(
            text,
            origin,
            err.span().unwrap_or(0..0),
            err.message().trim_end(),
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_become_lines_and_columns() {
        let text = "a = 1\nbé = \"x\"\n";
        let p = Problem::at(text, "f.toml", 12..13, "bad");
        assert_eq!((p.line, p.column), (2, 6));
        assert_eq!(p.to_string(), "f.toml:2:6: bad");
        assert_eq!(Problem::at(text, "f", 0..0, "x").line, 1);
    }
}
