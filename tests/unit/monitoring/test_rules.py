"""The monitoring files the keepalived role ships (roles/keepalived/files/monitoring): the
Prometheus alert rules pass promtool (check, and their unit tests), and the rules, the
Grafana dashboard and the README name only the watcher's metrics (_watch_metrics.METRICS)
with only their labels.

promtool is Debian's, taken out of the prometheus package by lab/bin/bootstrap into
.cache/tools without installing the package (which would add a Prometheus service).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.halb.pair.plugins.module_utils._watch_metrics import KINDS, METRICS

REPO = Path(__file__).resolve().parents[3]
HERE = REPO / "roles" / "keepalived" / "files" / "monitoring"
RULES = HERE / "halb-pair.rules.yml"
RULES_TEST = HERE / "halb-pair.rules.test.yml"
DASHBOARD = HERE / "halb-pair-dashboard.json"
README = REPO / "roles" / "keepalived" / "README.md"

# Labels Prometheus gives every scraped series (the target), on top of a metric's own.
TARGET_LABELS = {"instance", "job"}
# Series that are not the watcher's: Prometheus's own per target.
PROMETHEUS_SERIES = {"up": ()}
# The PromQL functions and aggregations the files may call (a name outside both lists,
# followed by '(', is reported: a typo of a function would otherwise pass as one).
FUNCTIONS = frozenset(
    """
    abs absent absent_over_time avg avg_over_time ceil changes clamp clamp_max clamp_min count count_over_time
    count_values delta deriv floor group histogram_quantile idelta increase irate label_join label_replace
    last_over_time max max_over_time min min_over_time present_over_time quantile rate resets round scalar sort
    sort_desc stddev sum sum_over_time time timestamp topk bottomk vector
    """.split()
)
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"})


def promtool() -> str:
    found = shutil.which("promtool", path=f"{REPO / '.cache' / 'tools'}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, (
        "promtool is missing: lab/bin/bootstrap puts it in .cache/tools (taken from Debian's prometheus package, "
        "which it downloads but does not install); run lab/bin/bootstrap"
    )
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=HERE, capture_output=True, text=True, check=False, timeout=120)


def test_promtool_checks_the_rules():
    proc = run_promtool("check", "rules", RULES.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in proc.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    proc = run_promtool("test", "rules", RULES_TEST.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


# --- PromQL: the metrics and labels an expression names -----------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*""')
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_WORD = re.compile(r"(?<![\w$.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


class Expr(dict):
    """{metric: set of labels its selectors match on} of one expression, and the labels
    of its by/on/group_left/... clauses (.grouping)."""

    grouping: set[str]
    functions: set[str]


def parse(expr: str) -> Expr:
    out = Expr()
    out.grouping, out.functions = set(), set()
    # string values emptied first (a regex may hold brackets), then ranges and Grafana's
    # variables outside strings ([$__rate_interval]) dropped: neither names a metric
    text = _STRING.sub('""', expr)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    for m in _LABEL_LIST.finditer(text):
        out.grouping |= {label.strip() for label in m.group(2).split(",") if label.strip()}
    text = _LABEL_LIST.sub(" ", text)

    def selector(m: re.Match[str]) -> str:
        if m.group(1) is None:
            raise ValueError(f"a selector without a metric name in {expr!r}")
        out.setdefault(m.group(1), set()).update(_MATCHER.findall(m.group(2)))
        return " "

    text = _SELECTOR.sub(selector, text)
    for m in _WORD.finditer(text):
        word, call = m.group(1), m.group(2)
        if word in KEYWORDS:
            continue
        if call:
            out.functions.add(word)
        elif word not in ("Inf", "NaN"):
            out.setdefault(word, set())
    return out


def known_labels(metric: str) -> set[str]:
    if metric in PROMETHEUS_SERIES:
        return set(PROMETHEUS_SERIES[metric]) | TARGET_LABELS
    return set(METRICS[metric].labels) | TARGET_LABELS


def problems(where: str, expr: str, extra_labels: set[str] = frozenset()) -> list[str]:
    """What one expression names that the watcher does not export."""
    try:
        parsed = parse(expr)
    except ValueError as e:
        return [f"{where}: {e}"]
    out = [f"{where}: unknown function {f}()" for f in sorted(parsed.functions - FUNCTIONS)]
    available: set[str] = set()
    for metric, labels in sorted(parsed.items()):
        if metric not in METRICS and metric not in PROMETHEUS_SERIES:
            out.append(f"{where}: {metric} is not a metric of _watch_metrics.METRICS")
            continue
        available |= known_labels(metric)
        for label in sorted(labels - known_labels(metric)):
            out.append(f"{where}: {metric} has no label {label} (it has {sorted(known_labels(metric))})")
    for label in sorted((parsed.grouping | extra_labels) - available):
        out.append(f"{where}: the label {label} is on none of its metrics ({sorted(parsed)})")
    return out


def test_the_parser_sees_metrics_labels_and_functions():
    p = parse('max by (job, pair) (halb_problem{kind="split_brain"} * on (job, instance) group_left (pair) halb_watch_info) == 1')
    assert p == {"halb_problem": {"kind"}, "halb_watch_info": set()}
    assert p.grouping == {"job", "pair", "instance"} and p.functions == {"max"}
    p = parse('sum by (counter) (rate(halb_guard_packets_total{job="$job", instance=~"$instance"}[$__rate_interval])) or up offset 5m')
    assert p == {"halb_guard_packets_total": {"job", "instance"}, "up": set()} and p.functions == {"sum", "rate"}
    assert parse("time() - halb_watch_last_tick_timestamp_seconds > 30") == {"halb_watch_last_tick_timestamp_seconds": set()}
    assert parse('halb_watch_info{node=~"lb[12]", pair!="a,b"}') == {"halb_watch_info": {"node", "pair"}}


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        ('halb_vip_held{node="lb1"}', "halb_vip_held has no label node"),
        ("halb_vip_hold == 1", "halb_vip_hold is not a metric"),
        ("max by (vip) (halb_problem)", "the label vip is on none of its metrics"),
        ("maxx(halb_problem)", "unknown function maxx()"),
        ('up{vip="x"}', "up has no label vip"),
    ],
)
def test_a_name_or_label_the_watcher_does_not_export_is_reported(expr, found):
    reported = problems("x", expr)
    assert len(reported) == 1 and found in reported[0], reported


def alerts() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_the_rules_name_only_the_watchers_metrics_and_labels():
    found = []
    for rule in alerts():
        used = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule.get("annotations", {}))))
        found += problems(rule["alert"], rule["expr"], used)
    assert found == [], "\n".join(found)
    names = set().union(*(parse(r["expr"]) for r in alerts()))
    assert {"halb_problem", "halb_vip_held", "halb_watch_info", "up", "halb_watch_last_tick_timestamp_seconds"} <= names


def test_every_alert_has_a_severity_a_summary_and_a_description():
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]


def test_every_problem_kind_has_its_alert():
    kinds = {k for r in alerts() for k in re.findall(r'kind="(\w+)"', r["expr"])}
    assert kinds == set(KINDS)


def test_every_alert_is_unit_tested_firing_and_quiet():
    fired, quiet = set(), set()
    for group in yaml.safe_load(RULES_TEST.read_text())["tests"]:
        for case in group.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
            for alert in case.get("exp_alerts") or []:
                assert alert.get("exp_labels") and alert.get("exp_annotations"), case
    names = {r["alert"] for r in alerts()}
    assert fired == names and quiet == names


# --- The dashboard ---------------------------------------------------------------------------


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict) -> list[dict]:
    out = []
    for p in board["panels"]:
        out.append(p)
        out += p.get("panels", [])  # a collapsed row keeps its panels
    return out


def test_the_dashboard_is_grafana_json_with_its_variables():
    board = dashboard()
    assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("job", "node"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert "halb_watch_info" in json.dumps(variables["node"]["query"])
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids are unique"


def test_the_dashboard_names_its_datasource_only_by_the_variable():
    def walk(node, path="$"):
        if isinstance(node, dict):
            if "datasource" in node:
                yield path, node["datasource"]
            for k, v in node.items():
                yield from walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{path}[{i}]")

    seen = list(walk(dashboard()))
    assert seen, "the panels name their datasource"
    wrong = [f"{path}: {ds}" for path, ds in seen if ds != {"type": "prometheus", "uid": "${datasource}"}]
    assert wrong == [], "\n".join(wrong)


def dashboard_queries() -> list[tuple[str, str, set[str]]]:
    """(where, PromQL, labels its legend names) of every panel target and query variable."""
    board = dashboard()
    out = []
    for p in panels(board):
        for t in p.get("targets", []):
            legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")))
            out.append((f"panel {p['title']!r} {t.get('refId')}", t["expr"], legend))
    for v in board["templating"]["list"]:
        if v["type"] != "query":
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
        assert m, f"variable {v['name']}: expected label_values(SERIES, LABEL), found {query!r}"
        out.append((f"variable {v['name']}", m.group(1), {m.group(2)}))
    return out


def test_the_dashboard_names_only_the_watchers_metrics_and_labels():
    queries = dashboard_queries()
    found = [x for where, expr, labels in queries for x in problems(where, expr, labels)]
    assert found == [], "\n".join(found)
    assert all(p.get("targets") for p in panels(dashboard()) if p["type"] != "row"), "every panel has a query"


def test_every_panel_the_dashboard_promises_is_there():
    used = set().union(*(parse(expr) for _, expr, _ in dashboard_queries()))
    wanted = {
        "halb_vip_held", "halb_vrrp_state", "halb_problem", "halb_drain_value", "halb_nginx_healthy",
        "halb_nginx_health_latency_seconds", "halb_guard_packets_total", "halb_handovers_total",
        "halb_crash_handovers_total", "halb_config_drift", "halb_alerts_total", "halb_watch_info",
    }
    assert wanted <= used, sorted(wanted - used)


# --- The README's tables ---------------------------------------------------------------------


def readme_table(heading: str) -> list[list[str]]:
    """The rows (cells, backticks stripped) of the first table after a README heading."""
    text = README.read_text()
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not re.fullmatch(r"\|[\s|:-]+\|?", line):
            rows.append([c.strip().strip("`") for c in line.strip().strip("|").split("|")])
    return rows[1:]  # the header row


def test_the_readme_lists_exactly_the_watchers_metrics():
    rows = readme_table("### Metrics")
    assert [r[0] for r in rows] == list(METRICS), "the table follows _watch_metrics.METRICS (names and order)"
    for name, kind, labels, *_ in rows:
        assert kind == METRICS[name].type, name
        assert labels == (", ".join(METRICS[name].labels) or "-"), name


def test_the_readme_lists_exactly_the_alerts():
    rows = readme_table("### Alerts")
    table = {r[0]: (r[2], r[3]) for r in rows}
    assert list(table) == [r["alert"] for r in alerts()], "the table follows the rules (names and order)"
    for rule in alerts():
        assert table[rule["alert"]] == (rule["labels"]["severity"], rule["for"]), rule["alert"]
