#!/usr/bin/python3
"""Parses the messages of a maildir with Python's email package and prints them as JSON:
headers, content types, and every part decoded."""
import email
import html
import email.policy
import json
import mailbox
import sys

out = []
for key, raw in mailbox.Maildir(sys.argv[1], create=False).items():
    # The strict policy raises on any defect (a malformed header, a missing boundary): a
    # message that parses here is well-formed RFC 5322.
    msg = email.message_from_bytes(raw.as_bytes(), policy=email.policy.strict)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        body = part.get_content()
        # HTML as a browser reads it: entities (minijinja escapes "/" as &#x2f;) decoded.
        if part.get_content_type() == "text/html":
            body = html.unescape(body)
        parts.append({"type": part.get_content_type(), "body": body})
    out.append({
        "subject": str(msg["subject"]),
        "from": str(msg["from"]),
        "to": str(msg["to"]),
        "content_type": msg.get_content_type(),
        "message_id": str(msg["message-id"]) if msg["message-id"] else None,
        "date": msg["date"].datetime.isoformat() if msg["date"] else None,
        "auto_submitted": str(msg["auto-submitted"]) if msg["auto-submitted"] else None,
        "parts": parts,
    })
print(json.dumps(out))
