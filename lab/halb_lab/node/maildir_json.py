#!/usr/bin/env python3
"""Print the messages of a Maildir as JSON lines: from, to, subject, date, received (when the
lab's server delivered it: the file's time), event (the watcher's X-HALB-Event header, or
null), body (the lab's mail server keeps keepalived's and the watcher's alerts there; the
mail_alerts and watch_* cases read them)."""

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
                    "received": msg.get_date(),
                    "event": json.loads(msg["X-HALB-Event"]) if msg["X-HALB-Event"] else None,
                    "body": (body or b"").decode("utf-8", "replace").strip(),
                },
                sort_keys=True,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/var/mail/halb-lab"))
