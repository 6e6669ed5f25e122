#!/usr/bin/env python3
"""Print the messages of a Maildir as JSON lines: from, to, subject, date, body (the lab's
mail server keeps keepalived's alerts there; the mail_alerts case reads them)."""

from __future__ import annotations

import email.utils
import json
import mailbox
import sys


def main(path: str) -> int:
    for _key, msg in mailbox.Maildir(path, create=False).items():
        body = msg.get_payload(decode=True) if not msg.is_multipart() else b""
        when = email.utils.parsedate_to_datetime(msg["Date"]).timestamp() if msg["Date"] else None
        print(
            json.dumps(
                {
                    "from": msg.get("From", ""),
                    "to": msg.get("To", ""),
                    "subject": msg.get("Subject", ""),
                    "date": when,
                    "body": (body or b"").decode("utf-8", "replace").strip(),
                },
                sort_keys=True,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/var/mail/halb-lab"))
