//! A real Postfix on a free loopback port, with its own configuration directory and queue:
//! no system mail setup is touched, and nothing can leave the machine (`default_transport =
//! error`, no relayhost). Stopped on Drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::servers::free_tcp_port;
use super::{shared_dir, write_file};

/// How the instance treats mail for outside domains.
pub(crate) enum Relay {
    /// Relays only for `mynetworks`, which holds no loopback address.
    Closed,
    /// The client's network (loopback) is in `mynetworks`: the classic mis-set trusted network.
    TrustedNetwork,
    /// `smtpd_relay_restrictions` with an access map that trusts every client.
    Everyone,
}

/// A running Postfix.
pub(crate) struct Postfix {
    pub(crate) port: u16,
    /// The implicit-TLS port, when started with TLS files.
    pub(crate) tls_port: Option<u16>,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl Postfix {
    /// Starts an instance; with `tls` = (certificate, key) it offers STARTTLS on the main
    /// port and implicit TLS on a second one.
    pub(crate) fn start(relay: &Relay, tls: Option<(&Path, &Path)>) -> Postfix {
        Postfix::start_with(relay, tls, "")
    }

    /// As `start`, with `extra` lines added to main.cf.
    pub(crate) fn start_with(relay: &Relay, tls: Option<(&Path, &Path)>, extra: &str) -> Postfix {
        let dir = shared_dir();
        let base = dir.path();
        let (conf, queue, data) = (base.join("conf"), base.join("queue"), base.join("data"));
        for d in [&conf, &queue, &data] {
            std::fs::create_dir_all(d).expect("postfix dirs");
        }
        let owned = Command::new("chown")
            .args(["postfix"])
            .arg(&data)
            .status()
            .expect("chown");
        assert!(
            owned.success(),
            "the postfix user must exist (apt-get install postfix) and the tests run as root"
        );
        let (mynetworks, restrictions) = match relay {
            Relay::Closed => (
                "192.0.2.0/24",
                "permit_mynetworks, reject_unauth_destination",
            ),
            Relay::TrustedNetwork => (
                "127.0.0.0/8",
                "permit_mynetworks, reject_unauth_destination",
            ),
            // Postfix refuses to start with a bare `permit` here; an access map that says OK
            // for every client passes its start-up test and opens the server all the same.
            Relay::Everyone => (
                "192.0.2.0/24",
                "check_client_access static:OK, reject_unauth_destination",
            ),
        };
        let mut main = format!(
            "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.relaytest.example
mydomain = relaytest.example
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = {mynetworks}
smtpd_relay_restrictions = {restrictions}
# Nothing leaves the machine: outside mail would go to the error transport.
default_transport = error
relayhost =
# Mail for the error transport is otherwise refused at RCPT, which would hide the relay
# decision the tests look at.
smtpd_reject_unlisted_recipient = no
maillog_file_prefixes = /tmp, /var
maillog_file = {log}
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
# Eighteen refused tricks pass the soft error limit (10); the tests do not wait a second per
# reply for it.
smtpd_error_sleep_time = 0s
{extra}
",
            queue = queue.display(),
            data = data.display(),
            log = base.join("maillog").display(),
        );
        let port = free_tcp_port();
        let mut master = format!("127.0.0.1:{port} inet n - n - - smtpd\n");
        let mut tls_port = None;
        if let Some((cert, key)) = tls {
            main.push_str(&format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n",
                cert.display(),
                key.display()
            ));
            let wrapped = free_tcp_port();
            master.push_str(&format!(
                "127.0.0.1:{wrapped} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n"
            ));
            tls_port = Some(wrapped);
        }
        master.push_str(MASTER);
        write_file(&conf, "main.cf", &main);
        write_file(&conf, "master.cf", &master);
        let started = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("start")
            .output()
            .expect("postfix must be installed (apt-get install postfix)");
        let postfix = Postfix {
            port,
            tls_port,
            conf,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postfix did not start on port {port}: {started:?}\n{}",
                postfix.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        postfix
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Postfix's own log.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Every file in the queue: a message accepted for delivery would be one of these.
    pub(crate) fn queued(&self) -> Vec<PathBuf> {
        let queue = self.dir.path().join("queue");
        [
            "incoming", "active", "deferred", "hold", "maildrop", "corrupt",
        ]
        .iter()
        .flat_map(|d| std::fs::read_dir(queue.join(d)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("abort")
            .output();
    }
}

/// The services an instance needs besides its SMTP listeners (Debian's master.cf, trimmed).
const MASTER: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
postlog   unix-dgram n  -       n       -       1       postlogd
";
