//! Text from outside (TXT records, SMTP replies, PTR names, mirror and catalog text) made
//! safe to show a person: control characters are written as escapes, so nothing it holds can
//! move the cursor, retitle a terminal, clear the screen or start a line that looks like ours
//! (`\r\nRBL OK - not listed`). JSON keeps the exact text (its own escaping is enough) and HTML
//! is escaped by its templates; everything else that a person reads goes through `clean`.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every C0 control, DEL and C1 control written as an escape (`\n`, `\r`, `\t`,
/// `\x1b`, `\u{9b}`); borrowed when there is nothing to escape.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && is_control(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Every item of `texts` cleaned, joined with `sep`.
pub fn join(texts: &[String], sep: &str) -> String {
    texts.iter().map(|t| clean(t)).collect::<Vec<_>>().join(sep)
}

/// C0 controls, DEL and C1 controls.
fn is_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(input: &str, expected: &str) {
        assert_eq!(clean(input), expected);
    }

    #[test]
    fn controls_are_escaped_and_plain_text_is_kept() {
        case(
            "Listed by bl.test: see https://bl.test/?ip=1",
            "Listed by bl.test: see https://bl.test/?ip=1",
        );
        case("ok\r\nRBL OK - not listed", "ok\\r\\nRBL OK - not listed");
        case("\u{1b}]0;owned\u{7}\u{1b}[2J", "\\x1b]0;owned\\x07\\x1b[2J");
        case("tab\there\u{7f}", "tab\\there\\x7f");
        case("c1 \u{9b}31m csi", "c1 \\u{9b}31m csi");
        case("caf\u{e9} \u{2603}", "caf\u{e9} \u{2603}");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(join(&["a\nb".into(), "c".into()], "; "), "a\\nb; c");
    }
}
