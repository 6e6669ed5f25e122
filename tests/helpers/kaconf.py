"""A small reader of keepalived.conf for tests: blocks and keyword lines.

parse(text) -> list of (keyword, args, children) with children for `{ ... }` blocks.
"""

from __future__ import annotations

import shlex


def _tokens(text: str):
    for line in text.splitlines():
        line = line.split("#", 1)[0].split("!", 1)[0].strip()
        if not line:
            continue
        lex = shlex.shlex(line, posix=True)
        lex.whitespace_split = True
        lex.commenters = ""
        toks = []
        for tok in lex:
            # split braces glued to words: "x{" / "}"
            while tok:
                if tok[0] in "{}":
                    toks.append(tok[0])
                    tok = tok[1:]
                elif "{" in tok or "}" in tok:
                    i = min(p for p in (tok.find("{"), tok.find("}")) if p >= 0)
                    toks.append(tok[:i])
                    tok = tok[i:]
                else:
                    toks.append(tok)
                    tok = ""
        yield toks


def parse(text: str):
    root: list = []
    stack = [root]
    for toks in _tokens(text):
        cur: list[str] = []
        for tok in toks:
            if tok == "{":
                node = (cur[0] if cur else "", cur[1:], [])
                stack[-1].append(node)
                stack.append(node[2])
                cur = []
            elif tok == "}":
                if cur:
                    stack[-1].append((cur[0], cur[1:], None))
                    cur = []
                stack.pop()
            else:
                cur.append(tok)
        if cur:
            stack[-1].append((cur[0], cur[1:], None))
    if len(stack) != 1:
        raise ValueError("unbalanced braces")
    return root


def find(nodes, keyword):
    return [n for n in nodes if n[0] == keyword]


def value(nodes, keyword):
    hits = find(nodes, keyword)
    return " ".join(hits[0][1]) if hits else None


def instances(text: str) -> dict[str, dict]:
    """{name: {state, interface, vrid, priority, advert_int, version, vips, auth, unicast_peers, ...}}"""
    out = {}
    for kw, args, children in parse(text):
        if kw != "vrrp_instance":
            continue
        vips = [" ".join([k, *a]) for k, a, _ in (find(children, "virtual_ipaddress")[0][2] or [])]
        auth = find(children, "authentication")
        peers = find(children, "unicast_peer")
        out[args[0]] = {
            "state": value(children, "state"),
            "interface": value(children, "interface"),
            "vrid": int(value(children, "virtual_router_id")),
            "priority": int(value(children, "priority")),
            "advert_int": value(children, "advert_int"),
            "version": value(children, "version"),
            "auth_type": value(auth[0][2], "auth_type") if auth else None,
            "vips": vips,
            "track_script": [k for k, _, _ in (find(children, "track_script")[0][2] or [])],
            "track_file": [k for k, _, _ in (find(children, "track_file")[0][2] or [])],
            "unicast_src_ip": value(children, "unicast_src_ip"),
            "unicast_peers": [k for k, _, _ in (peers[0][2] or [])] if peers else [],
            "nopreempt": bool(find(children, "nopreempt")),
            "preempt_delay": value(children, "preempt_delay"),
            "smtp_alert": bool(find(children, "smtp_alert")),
            "notify": value(children, "notify"),
        }
    return out
