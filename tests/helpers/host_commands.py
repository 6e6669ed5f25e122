"""Which external commands do the project's scripts and tests call on this host, and
which Debian package brings each one?

A new machine of the project's kind has only the packages listed in
lab/tests/fresh-machine/debian<N>.txt. The quick tier (scripts/test --quick: scripts/test,
scripts/bootstrap and tests/, run as any user) may call only those and the binaries
scripts/bootstrap takes out of Debian packages into .cache/tools without installing them
(its `tool_pkgs=(package:binary ...)` line: keepalived, nginx, nft, promtool, shellcheck).
The lab (lab/, scripts/lab, scripts/bench, .ci) may also call what lab/bin/bootstrap
installs as root (its `host_pkgs=(...)` line). The scanner is
deliberately simple and strict: a command word it cannot resolve to an installed file
is reported, so a new tool shows up the day it is first called.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Shell words that are not external commands.
BASH_BUILTINS = frozenset(
    """
    alias bg bind break builtin caller cd command compgen complete continue declare dirs disown echo enable eval exec
    exit export false fc fg getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read
    readarray readonly return set shift shopt source suspend test times trap true type typeset ulimit umask unalias
    unset wait case esac do done elif else fi for function if in select then time until while coproc
    """.split()
)
# Words after which the next word is the command (prefix commands and their options).
PREFIXES = frozenset({"exec", "command", "env", "nice", "nohup", "sudo", "builtin", "do", "then", "else", "elif", "if", "while", "until", "time"})

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_FUNC = re.compile(r"^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_:-]*)\s*\(\)\s*\{?", re.M)
_CASE_PATTERN = re.compile(r"(^|;;|\bin\b)\s*[^\s()|;]+(?:\|[^\s()|;]+)*\)(?=\s)")
_ARRAY = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*\+?=)\([^()]*\)")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
_NAME = re.compile(r"^[a-z][a-z0-9._+-]*$")
_SEPARATORS = re.compile(r"\$\(|<\(|>\(|\|\||&&|[;|&(){}`!]")


def strip_heredocs(text: str) -> str:
    """Drop the bodies of here-documents (Python, YAML, configuration: not shell)."""
    out, end = [], None
    for line in text.splitlines():
        if end is not None:
            if line.strip() == end:
                end = None
            continue
        m = _HEREDOC.search(line)
        if m:
            end = m.group(2)
        out.append(line)
    return "\n".join(out)


def code_only(text: str) -> str:
    """The shell text with comments and quoted text removed, command substitutions kept.

    Single-quoted text is dropped (awk/sed programs, trap bodies); double-quoted text is
    dropped except for the `$( ... )` inside it, which is shell again.
    """
    out: list[str] = []
    stack = [["code", 0]]  # state, parenthesis depth inside a $( )
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        state = stack[-1][0]
        if c == "\\" and state != "sq":
            i += 2
            continue
        if state == "sq":
            if c == "'":
                stack.pop()
            i += 1
            continue
        if state == "dq":
            if c == '"':
                stack.pop()
                out.append(" Q ")
            elif text.startswith("$(", i):
                stack.append(["subst", 0])
                out.append(" $( ")
                i += 2
                continue
            i += 1
            continue
        # code or subst
        if c == "#" and (i == 0 or text[i - 1] in " \t\n;|&("):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "'":
            stack.append(["sq", 0])
            out.append(" Q ")
        elif c == '"':
            stack.append(["dq", 0])
        elif text.startswith("$((", i):  # arithmetic: no commands inside
            end = text.find("))", i)
            out.append(" V ")
            i = n if end < 0 else end + 2
            continue
        elif text.startswith("$(", i) or text.startswith("<(", i):
            if state == "subst":
                stack[-1][1] += 1
            else:
                stack.append(["subst", 0])
                stack[-1][1] = 0
            out.append(" $( ")
            i += 2
            continue
        elif c == "(" and state == "subst":
            stack[-1][1] += 1
            out.append(" ( ")
        elif c == ")" and state == "subst":
            if stack[-1][1] == 0:
                stack.pop()
            else:
                stack[-1][1] -= 1
            out.append(" ) ")
        elif text.startswith("${", i):
            depth, j = 0, i + 1
            while j < n:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append(" V ")
            i = j + 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def shell_functions(text: str) -> set[str]:
    return set(_FUNC.findall(text))


def shell_commands(text: str) -> set[str]:
    """Command words of a bash script (first word of every simple command)."""
    found: set[str] = set()
    body = strip_heredocs(text)
    lines = [_CASE_PATTERN.sub(r"\1;", _ARRAY.sub(r"\1V", line)) for line in code_only(body).splitlines()]
    for segment in _SEPARATORS.split("\n".join(lines).replace("\n", ";")):
        words = segment.split()
        while words and (_ASSIGN.match(words[0]) or words[0] in PREFIXES or words[0].startswith("-")):
            words.pop(0)
        if words and words[0] in ("xargs", "timeout", "flock"):
            found.add(words[0])
            continue
        if words and _NAME.match(words[0]) and words[0] not in BASH_BUILTINS:
            found.add(words[0])
    return found


def python_commands(text: str) -> set[str]:
    """Commands named literally by a Python file: subprocess calls' argv[0], shutil.which()."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0]
        if name == "which" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
        elif name in ("run", "Popen", "check_output", "check_call", "call") and isinstance(first, (ast.List, ast.Tuple)):
            if first.elts and isinstance(first.elts[0], ast.Constant) and isinstance(first.elts[0].value, str):
                found.add(first.elts[0].value)
    return {c for c in found if _NAME.match(c)}


def is_bash(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    try:
        first = path.read_text(errors="replace").split("\n", 1)[0]
    except OSError:
        return False
    return first.startswith("#!") and ("bash" in first or first.endswith("/sh"))


def project_files() -> tuple[list[Path], list[Path]]:
    """(shell files, Python files) whose commands run on the machine of the lab and tests."""
    dirs = ("scripts", "lab/bin", "lab/lib", "lab/vm/bin", "lab/vm/lib")
    shell = [p for d in dirs for p in sorted((REPO / d).rglob("*")) if p.is_file() and is_bash(p)]
    shell += [REPO / ".ci" / "run"]
    py = sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "lab").rglob("*.py"))
    return shell, [p for p in py if "fixtures" not in p.parts]


def commands_by_file() -> dict[str, set[str]]:
    shell, py = project_files()
    functions: set[str] = set()
    for p in shell:
        functions |= shell_functions(p.read_text())
    out: dict[str, set[str]] = {}
    for p in shell:
        out[str(p.relative_to(REPO))] = shell_commands(p.read_text()) - functions
    for p in py:
        out[str(p.relative_to(REPO))] = python_commands(p.read_text())
    return out


def bootstrap_packages(text: str | None = None) -> list[str]:
    """The packages on the `host_pkgs=(...)` line lab/bin/bootstrap installs (lab/lib/host-packages.sh)."""
    text = (REPO / "lab" / "lib" / "host-packages.sh").read_text() if text is None else text
    m = re.search(r"^host_pkgs=\(([^)]*)\)", text, re.M)
    if not m:
        raise ValueError("lab/lib/host-packages.sh has no host_pkgs=(...) line")
    return m.group(1).split()


TOOLS = REPO / ".cache" / "tools"


def bootstrap_tools(text: str | None = None) -> dict[str, str]:
    """{binary: package} of scripts/bootstrap's `tool_pkgs=(package:binary ...)` line: binaries
    it keeps in .cache/tools from a package it downloads without installing it (a word
    without a binary, `package`, is a package fetched for the others: a module, no command)."""
    text = (REPO / "scripts" / "bootstrap").read_text() if text is None else text
    m = re.search(r"^tool_pkgs=\(([^)]*)\)", text, re.M)
    if not m:
        raise ValueError("scripts/bootstrap has no tool_pkgs=(...) line")
    pairs = [w.split(":", 1) for w in m.group(1).split() if ":" in w]
    if any(len(p) != 2 or not all(p) for p in pairs) or any(not w for w in m.group(1).split()):
        raise ValueError(f"expected package:binary words on scripts/bootstrap's tool_pkgs line, found {m.group(1)!r}")
    return {binary: package for package, binary in pairs}


def engine_parts() -> dict[str, str]:
    """The engine parts the lab's containers.conf names (lab/lib/engine.sh)."""
    text = (REPO / "lab" / "lib" / "engine.sh").read_text()
    parts = dict(re.findall(r"^HALB_(NET_BACKEND|OCI_RUNTIME)=(\S+)$", text, re.M))
    return {"network backend": parts["NET_BACKEND"], "runtime": parts["OCI_RUNTIME"]}


PODMAN_HELPER_DIRS = ("/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman")


def locate(command: str) -> str | None:
    """The file a command name runs here: the repo's .venv and .cache/tools first, then PATH and sbin, then podman's helpers."""
    path = f"{REPO / '.venv' / 'bin'}:{TOOLS}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    found = shutil.which(command, path=path)
    if found:
        return found
    for d in PODMAN_HELPER_DIRS:
        p = Path(d) / command
        if p.is_file():
            return str(p)
    return None


def owning_package(path: str) -> str | None:
    """The Debian package that ships a file (dpkg -S), following symlinks and usrmerge."""
    real = str(Path(path).resolve())
    candidates = [real, path]
    for p in list(candidates):
        if p.startswith("/usr/"):
            candidates.append(p[4:])
        else:
            candidates.append("/usr" + p)
    for p in dict.fromkeys(candidates):
        proc = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and ":" in proc.stdout:
            first = proc.stdout.splitlines()[0]
            return first.split(":", 1)[0].split(",")[0].strip()
    return None


def fresh_packages(release: str) -> set[str]:
    f = REPO / "lab" / "tests" / "fresh-machine" / f"debian{release}.txt"
    return {line.strip() for line in f.read_text().splitlines() if line.strip()}


QUICK_TIER = ("scripts/test", "scripts/bootstrap", "tests/")


def is_quick_tier(where: str) -> bool:
    """Whether a file runs in the quick tier (as any user: no host package of lab/bin/bootstrap)."""
    return where in QUICK_TIER or where.startswith("tests/")


def problems(commands: dict[str, set[str]], installs: list[str], fresh: set[str], tools: dict[str, str] | None = None) -> list[str]:
    """Every command that a new machine would lack: not installed here; in .cache/tools but
    not among the binaries scripts/bootstrap keeps there (`tools`, its tool_pkgs line); from a
    package that neither a new machine has nor lab/bin/bootstrap installs; or, for the quick
    tier (is_quick_tier), from a package lab/bin/bootstrap installs (the quick tier has no root)."""
    out = []
    installs_set = set(installs)
    tools = bootstrap_tools() if tools is None else tools
    for where, cmds in sorted(commands.items()):
        for cmd in sorted(cmds):
            path = locate(cmd)
            if path is None and cmd in tools:
                out.append(f"{where}: calls '{cmd}', which scripts/bootstrap keeps in .cache/tools from package {tools[cmd]}: run scripts/bootstrap")
                continue
            if path is None:
                out.append(f"{where}: calls '{cmd}', which is not installed here (add its package to scripts/bootstrap's tool_pkgs, "
                           "or for the lab to lab/bin/bootstrap's host_pkgs)")
                continue
            if path.startswith(str(REPO / ".venv")):
                continue  # from requirements-dev.txt, installed by scripts/bootstrap
            if path.startswith(str(TOOLS) + "/"):
                if cmd not in tools:
                    out.append(f"{where}: calls '{cmd}' ({path}), which scripts/bootstrap's tool_pkgs does not name: a new machine lacks it")
                continue
            pkg = owning_package(path)
            if pkg is None:
                out.append(f"{where}: calls '{cmd}' ({path}), which no Debian package ships: fetch it from scripts/bootstrap")
            elif pkg in fresh:
                continue
            elif is_quick_tier(where) and cmd not in tools:
                out.append(f"{where}: calls '{cmd}' from package {pkg}, which a new machine lacks: the quick tier takes it from "
                           "scripts/bootstrap's tool_pkgs (.cache/tools), never from lab/bin/bootstrap's host packages")
            elif pkg not in installs_set and cmd not in tools:
                out.append(f"{where}: calls '{cmd}' from package {pkg}, which a new machine lacks and lab/bin/bootstrap does not install")
    return out
