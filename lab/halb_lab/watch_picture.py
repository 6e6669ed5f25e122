"""A picture of the watchers' metrics during a split brain, as the lab's Prometheus scraped
them: VRRP dropped on lb2 for 20 s (the bench's split brain), then undone.

  scripts/lab up && .venv/bin/python lab/halb_lab/watch_picture.py [--out docs/img/watch-split-brain.png]

Plots, against time: who holds VI_1's VIP (halb_vip_held of lb1 and lb2), the holders
lb1's watcher sees (halb_vip_holders), the split brain it counted (halb_problem) and the
alerts Prometheus fired (ALERTS), from Prometheus's range API (1 s steps).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from pathlib import Path

from halb_lab.bench_watch import DROP, VIP1, ex
from halb_lab.operations import CLIENT, LBS, REPO, VIPS, settle


def query_range(q: str, start: float, end: float) -> list[dict]:
    url = "http://127.0.0.1:9090/api/v1/query_range?" + urllib.parse.urlencode({"query": q, "start": start, "end": end, "step": "1"})
    return json.loads(ex(CLIENT, "curl", "-sf", "--max-time", "5", url))["data"]["result"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="watch_picture.py")
    ap.add_argument("--out", default=str(REPO / "docs" / "img" / "watch-split-brain.png"))
    ap.add_argument("--seconds", type=float, default=20.0, help="how long VRRP stays dropped on lb2")
    a = ap.parse_args(argv)
    t0 = time.time()
    time.sleep(5)
    ex(LBS["lb2"], "sh", "-ec", DROP)
    t_break = time.time()
    time.sleep(a.seconds)
    ex(LBS["lb2"], "nft", "delete", "table", "inet", "halb_bench_sb", check=False)
    t_fix = time.time()
    settle(VIPS, timeout=30)
    time.sleep(12)
    end = time.time()
    held = query_range(f'halb_vip_held{{vip="{VIP1}"}} * on (instance) group_left (node) halb_watch_info', t0, end)
    seen = query_range(f'halb_vip_holders{{vip="{VIP1}"}} * on (instance) group_left (node) halb_watch_info', t0, end)
    problem = query_range(f'max by (kind) (halb_problem{{kind="split_brain",subject="{VIP1}"}})', t0, end)
    alerts = query_range('ALERTS{alertstate="firing"}', t0, end)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(10, 6.4), sharex=True, gridspec_kw={"height_ratios": [2, 1.4, 1, 1.4]})

    def xy(series: dict) -> tuple[list[float], list[float]]:
        return [float(v[0]) - t_break for v in series["values"]], [float(v[1]) for v in series["values"]]

    for s in sorted(held, key=lambda s: s["metric"].get("node", "")):
        x, y = xy(s)
        off = 0.04 if s["metric"].get("node") == "lb2" else 0.0
        axes[0].step(x, [v + off for v in y], where="post", label=f"{s['metric'].get('node')} holds {VIP1}")
    axes[0].set_ylabel("halb_vip_held")
    axes[0].set_yticks([0, 1])
    for s in sorted(seen, key=lambda s: s["metric"].get("node", "")):
        x, y = xy(s)
        axes[1].step(x, y, where="post", label=f"holders {s['metric'].get('node')}'s watcher sees")
    axes[1].set_ylabel("halb_vip_holders")
    for s in problem:
        x, y = xy(s)
        axes[2].step(x, y, where="post", color="tab:red", label="halb_problem{kind=split_brain}")
    axes[2].set_ylabel("problem")
    axes[2].set_yticks([0, 1])
    names = sorted({s["metric"]["alertname"] for s in alerts})
    for i, name in enumerate(names):
        for s in [s for s in alerts if s["metric"]["alertname"] == name]:
            x, _y = xy(s)
            axes[3].plot(x, [i] * len(x), "|", markersize=9, label=name if s is alerts[0] else None)
    axes[3].set_yticks(range(len(names)))
    axes[3].set_yticklabels(names, fontsize=7)
    axes[3].set_ylabel("firing")
    for ax in axes:
        ax.axvspan(0, t_fix - t_break, color="tab:orange", alpha=0.12)
        ax.grid(alpha=0.3)
        if ax is not axes[3]:
            ax.legend(fontsize=7, loc="upper right")
    axes[3].set_xlabel("seconds after VRRP was dropped on lb2 (shaded: dropped)")
    fig.suptitle("Split brain in the lab, as Prometheus scraped the watchers (1 s)", fontsize=10)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"{a.out}: VRRP dropped {t_fix - t_break:.1f} s; alerts fired: {', '.join(names) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
