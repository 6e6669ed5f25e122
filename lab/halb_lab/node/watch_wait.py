#!/usr/bin/env python3
"""Wait, bounded, for what the watchers say, in the lab's client (the watch_* cases run it):

  watch_wait.py state URL KIND SUBJECT present|absent TIMEOUT
      a node's watcher (URL: http://NODE:9654/state) has the problem counted (present) or
      no longer (absent); prints the problem as the watcher published it, with `seen` (when
      this poll saw it), and the node's last events
  watch_wait.py mail MAILDIR KIND SUBJECT EVENT SINCE TIMEOUT
      a watcher's mail for the event (started, ended, restored) of KIND/SUBJECT, delivered
      after SINCE (epoch), arrived; prints its event header, subject and `received`
  watch_wait.py alert PROMETHEUS ALERTNAME firing|resolved TIMEOUT
      Prometheus (http://127.0.0.1:9090) has the alert firing, or none of that name any
      more; prints the alerts of that name and `seen`

Exit 0 when it came, 1 after TIMEOUT seconds (the last thing read is printed either way).
"""

from __future__ import annotations

import json
import mailbox
import sys
import time
import urllib.request

POLL = 0.1


def get(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as r:
        return json.loads(r.read())


def state(url: str, kind: str, subject: str, want: str) -> tuple[bool, dict]:
    try:
        s = get(url)
    except (OSError, ValueError) as exc:
        return False, {"error": str(exc)}
    found = [p for p in s.get("problems") or [] if p["kind"] == kind and p["subject"] == subject]
    out = {"problem": found[0] if found else None, "events": (s.get("events") or [])[-6:], "counters": s.get("counters")}
    return (bool(found) == (want == "present")), out


def mail(path: str, kind: str, subject: str, event: str, since: float) -> tuple[bool, dict]:
    for _key, msg in mailbox.Maildir(path, create=False).items():
        head = json.loads(msg["X-HALB-Event"]) if msg["X-HALB-Event"] else None
        if (head and head.get("kind") == kind and head.get("subject") == subject and head.get("event") == event
                and msg.get_date() >= since):
            return True, {"event": head, "subject": msg["Subject"], "received": msg.get_date()}
    return False, {}


def alert(base: str, name: str, want: str) -> tuple[bool, dict]:
    try:
        alerts = [a for a in get(base.rstrip("/") + "/api/v1/alerts")["data"]["alerts"] if a["labels"].get("alertname") == name]
    except (OSError, ValueError, KeyError) as exc:
        return False, {"error": str(exc)}
    firing = [a for a in alerts if a.get("state") == "firing"]
    done = bool(firing) if want == "firing" else not alerts
    return done, {"alerts": alerts}


def main(argv: list[str]) -> int:
    what, args = argv[1], argv[2:]
    if what == "state":
        url, kind, subject, want, timeout = args
        check = lambda: state(url, kind, subject, want)  # noqa: E731
    elif what == "mail":
        path, kind, subject, event, since, timeout = args
        check = lambda: mail(path, kind, subject, event, float(since))  # noqa: E731
    elif what == "alert":
        base, name, want, timeout = args
        check = lambda: alert(base, name, want)  # noqa: E731
    else:
        print(__doc__, file=sys.stderr)
        return 2
    deadline = time.time() + float(timeout)
    while True:
        ok, out = check()
        out["seen"] = time.time()
        if ok or time.time() >= deadline:
            print(json.dumps(out, sort_keys=True))
            return 0 if ok else 1
        time.sleep(POLL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
