"""Print the failover figures of Molecule runs as a table (stdlib only).

    python3 lab/halb_lab/results_table.py .cache/results/*.jsonl

Each line of a results file is one measured phase, written by halb_probe.py stop.
"""

from __future__ import annotations

import json
import sys

COLS = [
    ("scenario", "scenario", 12),
    ("case", "case", 18),
    ("phase", "phase", 16),
    ("vip", "VIP", 15),
    ("expect", "new holder", 16),
    ("vip_moved_s", "moved s", 8),
    ("vip_single_s", "alone s", 8),
    ("no_holder_s", "none s", 7),
    ("multi_holder_s", "two s", 6),
    ("error_window_s", "err win s", 9),
    ("failed_requests", "failed/total", 12),
    ("served", "served by", 34),
]


def rows(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        r["failed_requests"] = f"{r.get('failed', 0)}/{r.get('requests', 0)}"
        r["served"] = f"{r.get('served_before') or '-'} -> {r.get('served_after') or '-'}"
        out.append(r)
    return out


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def table(rs: list[dict]) -> str:
    head = " ".join(f"{t:<{w}}" for _, t, w in COLS)
    body = [" ".join(f"{fmt(r.get(k)):<{w}}" for k, _, w in COLS) for r in rs]
    return "\n".join([head, "-" * len(head), *body])


if __name__ == "__main__":
    lines: list[str] = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            lines += f.readlines()
    print(table(rows(lines)))
