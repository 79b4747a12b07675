//! Templates (minijinja) of the mails and the status page: the built-in ones from
//! `templates/`, compiled in, each overridable by a file of the same name in the configured
//! directory.
//!
//! Unknown variables are errors (strict mode), and HTML templates are auto-escaped.
//! `check` renders every template against a full sample, so a broken override is found by
//! `rblwatch config check`, with its file and line, not when the first alert is due.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::context::{Context, Kind};
use crate::error::Error;
use crate::location::Problem;

/// The built-in templates, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("_item.txt", include_str!("../../templates/_item.txt")),
    ("_item.html", include_str!("../../templates/_item.html")),
    ("listed.txt", include_str!("../../templates/listed.txt")),
    ("listed.html", include_str!("../../templates/listed.html")),
    ("delisted.txt", include_str!("../../templates/delisted.txt")),
    (
        "delisted.html",
        include_str!("../../templates/delisted.html"),
    ),
    ("digest.txt", include_str!("../../templates/digest.txt")),
    ("digest.html", include_str!("../../templates/digest.html")),
    ("reminder.txt", include_str!("../../templates/reminder.txt")),
    (
        "reminder.html",
        include_str!("../../templates/reminder.html"),
    ),
    ("status.html", include_str!("../../templates/status.html")),
];

/// A rendered message body: plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Body {
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

/// The loaded templates.
pub struct Templates {
    env: Environment<'static>,
    /// Where each template came from: built-in or an override file.
    origins: Vec<(String, String)>,
}

impl Templates {
    /// The built-in templates, with any file of the same name in `overrides` used instead.
    pub fn load(overrides: Option<&Path>) -> Result<Templates, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // HTML parts are escaped as HTML; in the text parts a value from outside (a TXT
        // reason with CR/LF or escape sequences) must not forge lines, so its controls are
        // written as escapes.
        env.set_formatter(
            |out, state, value| match (state.auto_escape(), value.as_str()) {
                (minijinja::AutoEscape::None, Some(text)) => out
                    .write_str(&crate::report::safe::clean(text))
                    .map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                    }),
                _ => minijinja::escape_formatter(out, state, value),
            },
        );
        let mut origins = Vec::new();
        for (name, builtin) in BUILTIN {
            let file: Option<PathBuf> = overrides.map(|dir| dir.join(name)).filter(|p| p.exists());
            let (source, origin) = match &file {
                Some(path) => {
                    let text = crate::files::read_text(path, crate::files::TEMPLATE_LIMIT)
                        .map_err(|source| Error::Read {
                            path: path.display().to_string(),
                            source,
                        })?;
                    (text, path.display().to_string())
                }
                None => (
                    (*builtin).to_string(),
                    format!("templates/{name} (built-in)"),
                ),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| problem(&e, &origin))?;
            origins.push(((*name).to_string(), origin));
        }
        Ok(Templates { env, origins })
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.to_string(), |(_, o)| o.clone())
    }

    /// Renders the text and HTML parts of a message of this kind.
    pub fn render(&self, ctx: &Context) -> Result<Body, Error> {
        let part = |ext: &str| self.render_named(&format!("{}.{ext}", ctx.kind.template()), ctx);
        Ok(Body {
            text: part("txt")?,
            html: part("html")?,
        })
    }

    /// Renders the template `name` with `ctx`.
    pub fn render_named<T: Serialize>(&self, name: &str, ctx: &T) -> Result<String, Error> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)))
            .map_err(|e| self.error(&e, name))
    }

    fn error(&self, err: &minijinja::Error, fallback: &str) -> Error {
        problem(err, &self.origin(err.name().unwrap_or(fallback)))
    }

    /// Renders every kind against a full sample, to find errors before an alert is due.
    pub fn check(&self) -> Result<(), Error> {
        for kind in [Kind::Listed, Kind::Delisted, Kind::Digest, Kind::Reminder] {
            self.render(&Context::sample(kind))?;
        }
        Ok(())
    }
}

/// A template error as a problem at its file and line.
fn problem(err: &minijinja::Error, origin: &str) -> Error {
    let message = match err.detail() {
        Some(detail) => format!("template error: {} ({detail})", err.kind()),
        None => format!("template error: {}", err.kind()),
    };
    Error::Invalid(vec![Problem {
        origin: origin.to_string(),
        line: err.line().unwrap_or(0),
        column: 1,
        message,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_renders_the_full_sample() {
        let templates = Templates::load(None).expect("built-in templates parse");
        templates.check().expect("built-in templates render");
        let body = templates
            .render(&Context::sample(Kind::Digest))
            .expect("digest");
        assert!(
            body.text.contains("NEWLY LISTED")
                && body.text.contains("192.0.2.25 (mx1) on Spamhaus ZEN"),
            "{}",
            body.text
        );
        assert!(
            body.text.contains("link: https://check.spamhaus.org/"),
            "{}",
            body.text
        );
        assert!(
            body.text
                .contains("fix first: spam sent through this server"),
            "{}",
            body.text
        );
        for part in [&body.text, &body.html] {
            assert!(!part.contains("{{") && !part.contains("{%"), "{part}");
        }
    }

    #[test]
    fn html_is_escaped() {
        let templates = Templates::load(None).expect("templates");
        let mut ctx = Context::sample(Kind::Listed);
        ctx.listings[0].txt = vec!["<script>alert(1)</script>".into()];
        let body = templates.render(&ctx).expect("render");
        assert!(body.html.contains("&lt;script&gt;"), "{}", body.html);
        assert!(body.text.contains("<script>"), "plain text is not escaped");
    }

    #[test]
    fn text_from_outside_cannot_forge_lines_in_the_text_part() {
        let templates = Templates::load(None).expect("templates");
        let mut ctx = Context::sample(Kind::Listed);
        ctx.listings[0].txt = vec!["spam\r\nDelisted: nothing to do\u{1b}[2J".into()];
        let body = templates.render(&ctx).expect("render");
        assert!(
            body.text
                .contains("spam\\r\\nDelisted: nothing to do\\x1b[2J"),
            "{}",
            body.text
        );
        assert!(!body.text.lines().any(|l| l.starts_with("Delisted")));
        assert!(!body.text.contains('\u{1b}'));
        // The HTML part keeps the text, escaped as HTML.
        assert!(
            body.html.contains("Delisted: nothing to do"),
            "{}",
            body.html
        );
    }

    #[test]
    fn a_broken_override_is_named_with_file_and_line() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("listed.txt"),
            "line one\n{{ listings | length }}\n{{ no_such_variable }}\n",
        )
        .expect("write");
        let templates = Templates::load(Some(dir.path())).expect("it parses");
        let err = templates.check().expect_err("unknown variable").to_string();
        assert!(
            err.starts_with(&format!(
                "{}:3:1: template error",
                dir.path().join("listed.txt").display()
            )),
            "{err}"
        );

        std::fs::write(dir.path().join("digest.html"), "ok\n{% if %}\n").expect("write");
        let err = Templates::load(Some(dir.path()))
            .err()
            .expect("syntax error")
            .to_string();
        assert!(
            err.starts_with(&format!(
                "{}:2:1: template error: syntax error",
                dir.path().join("digest.html").display()
            )),
            "{err}"
        );
    }
}
