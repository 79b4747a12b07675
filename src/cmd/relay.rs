//! `rblwatch relay-test HOST[:PORT]`: is the admin's own mail server an open relay?

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::cli::{ListFormat, RelayTestArgs};
use crate::error::Error;
use crate::relay::smtp::{Endpoint, Security};
use crate::relay::{self, Request};
use crate::report;

fn usage(arg: &str, message: &str) -> Error {
    Error::Usage {
        arg: arg.to_string(),
        message: message.to_string(),
    }
}

/// `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address, as host and port.
fn split_server(server: &str) -> Result<(String, Option<u16>), Error> {
    let bad_port = || {
        usage(
            server,
            "the port after the colon is not a number from 1 to 65535",
        )
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad_port)
    };
    if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| usage(server, "an IPv6 address in brackets lacks its `]`"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(port(p)?),
            None if after.is_empty() => None,
            None => return Err(usage(server, "expected `:PORT` after `]`")),
        };
        return Ok((host.to_string(), port));
    }
    if server.parse::<IpAddr>().is_ok() {
        return Ok((server.to_string(), None));
    }
    match server.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(port(p)?))),
        None => Ok((server.to_string(), None)),
    }
}

/// A name sent in a command (`--helo`, `--own-name`, `--own-domain`): a host name or an
/// address literal, never empty, with no space or control character (a CR/LF would end the
/// command and start another, DATA included).
fn check_name(flag: &str, name: &str) -> Result<(), Error> {
    let fits = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
    if fits {
        Ok(())
    } else {
        Err(usage(
            &format!("{flag} {}", crate::report::safe::clean(name)),
            "must be a host name or an address literal ([192.0.2.1]): letters, digits, `.-_:[]`, no spaces",
        ))
    }
}

/// `--ca-file` must be a readable file holding at least one PEM certificate.
fn check_ca_file(path: &std::path::Path) -> Result<(), Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let arg = format!("--ca-file {}", path.display());
    let bytes = crate::files::read_bytes(path, crate::files::SECRET_LIMIT)
        .map_err(|e| usage(&arg, &format!("cannot be read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(&arg, &format!("is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(usage(
            &arg,
            "holds no certificate (PEM `BEGIN CERTIFICATE`)",
        ));
    }
    Ok(())
}

/// An address as the tests write it in MAIL FROM and RCPT TO: `local@domain`, no brackets.
fn check_address(flag: &str, address: &str) -> Result<(), Error> {
    let fits = address.rsplit_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !user.contains('@')
    }) && !address.contains(|c: char| c.is_whitespace() || "<>\"".contains(c));
    if fits {
        Ok(())
    } else {
        Err(usage(
            &format!("{flag} {address}"),
            "expected an address like user@example.org (no brackets, no spaces)",
        ))
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        usage(
            &format!("{flag} {value}"),
            "must be a number of seconds, 0 or more",
        )
    })
}

/// Builds the request from the command line, resolving the host.
pub async fn request(args: &RelayTestArgs) -> Result<Request, Error> {
    let (host, given_port) = split_server(&args.server)?;
    if host.is_empty() {
        return Err(usage(
            &args.server,
            "the server's name or address is missing",
        ));
    }
    let port = match (given_port, args.port) {
        (Some(a), Some(b)) if a != b => {
            return Err(usage(
                &format!("--port {b}"),
                &format!("the server already says port {a}"),
            ));
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => 25,
    };
    let security = args.security.unwrap_or(match port {
        465 => Security::Tls,
        587 => Security::Starttls,
        _ => Security::None,
    });
    check_address("--from", &args.from)?;
    check_address("--to", &args.to)?;
    if let Some(ca) = &args.ca_file {
        check_ca_file(ca)?;
    }
    for (flag, value) in [
        ("--helo", &args.helo),
        ("--own-name", &args.own_name),
        ("--own-domain", &args.own_domain),
    ] {
        if let Some(value) = value {
            check_name(flag, value)?;
        }
    }
    let timeout = seconds("--timeout", args.timeout)?;
    let wait = seconds("--wait", args.wait)?;
    if timeout.is_zero() {
        return Err(usage("--timeout 0", "must be more than 0 seconds"));
    }
    // Only the host named is ever contacted: its first address.
    let addr = match host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| usage(&args.server, &format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| usage(&args.server, &format!("{host} has no address")))?,
    };
    let endpoint = Endpoint {
        addr,
        name: host.clone(),
        security,
        ca_file: args.ca_file.clone(),
        timeout,
    };
    let mut request = Request::new(host, endpoint);
    if let Some(helo) = &args.helo {
        request.helo.clone_from(helo);
    }
    request.own_name.clone_from(&args.own_name);
    request.own_domain.clone_from(&args.own_domain);
    request.sender.clone_from(&args.from);
    request.recipient.clone_from(&args.to);
    request.wait = wait;
    request.all = args.all;
    Ok(request)
}

/// Runs the test and prints the report; the exit code is the verdict's.
pub async fn run(args: &RelayTestArgs) -> Result<u8, Error> {
    let request = request(args).await?;
    let found = relay::run(&request).await;
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Table => report::relay::write(&mut out, &found)?,
        ListFormat::Json => report::relay::write_json(&mut out, &found)?,
    }
    Ok(found.verdict.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_as_written() {
        let ok = |s: &str| split_server(s).expect(s);
        assert_eq!(ok("mx.example.org"), ("mx.example.org".into(), None));
        assert_eq!(
            ok("mx.example.org:587"),
            ("mx.example.org".into(), Some(587))
        );
        assert_eq!(ok("[2001:db8::1]:25"), ("2001:db8::1".into(), Some(25)));
        assert_eq!(ok("2001:db8::1"), ("2001:db8::1".into(), None));
        assert!(split_server("mx.example.org:smtp").is_err());
        assert!(split_server("[2001:db8::1").is_err());
        assert!(check_address("--to", "a@b.example").is_ok());
        assert!(check_address("--to", "<a@b.example>").is_err());
        assert!(check_address("--to", "nobody").is_err());
        assert!(check_address("--from", "a@b.example\r\nDATA").is_err());
        assert!(check_name("--own-name", "mx.example.org").is_ok());
        assert!(check_name("--helo", "[192.0.2.1]").is_ok());
        for bad in ["", "mx.example.org\r\nDATA", "two words", "mx\u{1b}"] {
            assert!(check_name("--own-name", bad).is_err(), "{bad:?}");
        }
    }
}
