//! Sending one mail over SMTP (lettre, rustls): STARTTLS, TLS or plain (loopback only), with
//! optional login. Failures say which step failed: connect, TLS, login, a rejected recipient.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Secret, SmtpConfig, SmtpSecurity};

/// The SMTP client for a configured server.
pub fn transport(smtp: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .timeout(Some(smtp.timeout));
    if smtp.security != SmtpSecurity::None {
        let mut params = TlsParameters::builder(smtp.host.clone());
        if let Some(ca) = &smtp.ca_file {
            let pem = crate::files::read_bytes(ca, crate::files::SECRET_LIMIT)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|e| format!("TLS setup: {e}"))?;
        builder = builder.tls(match smtp.security {
            SmtpSecurity::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let Some(user) = &smtp.username {
        let password = match &smtp.password {
            Some(Secret::Env(var)) => std::env::var(var)
                .map_err(|_| format!("the SMTP password variable ${var} is not set"))?,
            Some(Secret::File(path)) => crate::files::read_text(path, crate::files::SECRET_LIMIT)
                .map_err(|e| format!("password_file {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// Sends one multipart/alternative mail; `Err` says what failed, never the password.
pub async fn send(
    smtp: &SmtpConfig,
    to: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<(), String> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| format!("from `{}`: {e}", smtp.from))?;
    let to_box: Mailbox = to.parse().map_err(|e| format!("recipient `{to}`: {e}"))?;
    // Gmail and others refuse mail without a Message-ID (550-5.7.1); Auto-Submitted keeps
    // vacation responders from answering an alert (RFC 3834). Date is set by lettre.
    let id = format!(
        "<{:016x}{:016x}.rblwatch@{}>",
        rand::random::<u64>(),
        rand::random::<u64>(),
        from.email.domain()
    );
    let message = Message::builder()
        .from(from)
        .to(to_box)
        .subject(subject)
        .message_id(Some(id))
        .date_now()
        .header(AutoSubmitted)
        .multipart(MultiPart::alternative_plain_html(
            text.to_string(),
            html.to_string(),
        ))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let transport = transport(smtp)?;
    // lettre's own timeout covers each command; this bounds the whole conversation.
    let limit = smtp.timeout + Duration::from_secs(5);
    match tokio::time::timeout(limit, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(describe(smtp, &err)),
        Err(_) => Err(format!("{}:{}: timed out", smtp.host, smtp.port)),
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834 section 5).
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// Says which step of the SMTP conversation failed.
pub fn describe(smtp: &SmtpConfig, err: &lettre::transport::smtp::Error) -> String {
    // The error chain, each cause once (lettre repeats its source in its own message).
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    let step = if err.is_tls() || lower.contains("certificate") || lower.contains("handshake") {
        "TLS"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_permanent() && chain.contains("535") {
        "login refused"
    } else if err.is_permanent() {
        "rejected"
    } else if err.is_transient() {
        "temporarily refused"
    } else if lower.contains("starttls") {
        "STARTTLS"
    } else {
        "connection"
    };
    format!("{}:{}: {step}: {chain}", smtp.host, smtp.port)
}
