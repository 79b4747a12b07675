#!/usr/bin/python3
"""A real SMTP server for the tests (Debian's python3-aiosmtpd) on 127.0.0.1.

Stores every accepted message in a maildir. Options: refuse every recipient, require a login, require STARTTLS.
Prints "ready" once it listens.

    smtp_server.py PORT MAILDIR [--reject-rcpt] [--auth USER:PASSWORD] [--tls-cert PEM --tls-key PEM [--implicit-tls]]
"""
import argparse
import mailbox
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, reject):
        self.box = mailbox.Maildir(maildir, create=True)
        self.reject = reject

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("maildir")
    parser.add_argument("--reject-rcpt", action="store_true")
    parser.add_argument("--auth")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--server-name", help="the name in the greeting (220 NAME ...)")
    args = parser.parse_args()
    kwargs = {}
    if args.server_name:
        kwargs.update({"server_hostname": args.server_name})
    if args.tls_cert:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            kwargs.update({"ssl_context": context})
        else:
            kwargs.update({"tls_context": context, "require_starttls": True})
    if args.auth:
        user, password = args.auth.split(":", 1)

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        kwargs.update({"authenticator": check, "auth_required": True, "auth_require_tls": False})
    controller = Controller(Handler(args.maildir, args.reject_rcpt), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
