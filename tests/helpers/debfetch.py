# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian packages' binaries for the quick tier, without root and without installing anything.

scripts/bootstrap runs ``python3 -m tests.helpers.debfetch DEST package:binary ...``: the
configured Debian mirror and suites are read from /etc/apt/sources.list(.d) (deb822 or one-line,
else /etc/os-release), each suite's Packages.xz is fetched with urllib and parsed, the named
packages and their Depends/Pre-Depends (recursively; alternatives ``a | b`` and virtual
packages through Provides; a dependency dpkg-query reports installed is skipped) are
downloaded, checked against the index's SHA256 and unpacked with ``dpkg-deb -x`` (nothing is
installed) under DEST/root. Each binary gets a small wrapper DEST/<binary> that runs it with
the unpacked libraries first (LD_LIBRARY_PATH). DEST/debfetch.stamp names what was fetched:
a rerun with the same request and sources within a week does no network access at all.

Version constraints in dependencies are not evaluated: the mirror's suite carries the
versions that go together, and the newest version among the configured suites is taken.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STAMP = "debfetch.stamp"
MAX_AGE = 7 * 24 * 3600
FALLBACK_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class Source:
    uri: str
    suite: str
    components: tuple[str, ...]


@dataclass
class Package:
    name: str
    version: str
    filename: str
    sha256: str
    depends: list[list[str]] = field(default_factory=list)  # groups of alternatives
    provides: list[str] = field(default_factory=list)
    base: str = ""  # the mirror it comes from


# --------------------------------------------------------------------------- sources


def parse_deb822_sources(text: str) -> list[Source]:
    """The `deb` entries of a deb822 .sources file (Enabled: no and deb-src skipped)."""
    out: list[Source] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                out.append(Source(uri.rstrip("/"), suite, tuple(fields.get("components", "").split())))
    return out


def parse_one_line_sources(text: str) -> list[Source]:
    """The `deb` lines of a one-line sources.list (options in [...] ignored)."""
    out: list[Source] = []
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            out.append(Source(line[1].rstrip("/"), line[2], tuple(line[3:])))
    return out


def os_release_sources(text: str) -> list[Source]:
    codename = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', text, re.M)).get("VERSION_CODENAME", "")
    return [Source(FALLBACK_MIRROR, codename, ("main",))] if codename else []


def system_sources(etc: Path = Path("/etc")) -> list[Source]:
    """The Debian `main` sources apt is configured with here; /etc/os-release's release on
    deb.debian.org when there are none."""
    found: list[Source] = []
    one = etc / "apt" / "sources.list"
    if one.is_file():
        found += parse_one_line_sources(one.read_text())
    d = etc / "apt" / "sources.list.d"
    if d.is_dir():
        for f in sorted(d.iterdir()):
            if f.suffix == ".list":
                found += parse_one_line_sources(f.read_text())
            elif f.suffix == ".sources":
                found += parse_deb822_sources(f.read_text())
    found = [s for s in found if "main" in s.components and "debian" in s.uri]
    if not found and (etc / "os-release").is_file():
        found = os_release_sources((etc / "os-release").read_text())
    return found


# --------------------------------------------------------------------------- versions


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256 if c else 0


def _compare_part(a: str, b: str) -> int:
    while a or b:
        na = re.match(r"\D*", a).group()
        nb = re.match(r"\D*", b).group()
        for i in range(max(len(na), len(nb))):
            ca = _order(na[i]) if i < len(na) else 0
            cb = _order(nb[i]) if i < len(nb) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"\d*", a).group()
        db = re.match(r"\d*", b).group()
        if int(da or 0) != int(db or 0):
            return -1 if int(da or 0) < int(db or 0) else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def compare_versions(a: str, b: str) -> int:
    """dpkg's ordering of two versions: -1, 0 or 1."""
    def split(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), upstream, revision

    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


# --------------------------------------------------------------------------- the index


def _names(value: str) -> list[list[str]]:
    """`a (>= 1) | b:any, c` -> [["a", "b"], ["c"]] (versions and architecture qualifiers dropped)."""
    groups = []
    for group in value.split(","):
        alts = [re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip().split(":")[0] for alt in group.split("|")]
        alts = [a for a in alts if a]
        if alts:
            groups.append(alts)
    return groups


def parse_packages(text: str, base: str = "") -> dict[str, Package]:
    """A Packages index: the newest version of each package."""
    out: dict[str, Package] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" not in fields or "Filename" not in fields:
            continue
        deps = _names(fields.get("Pre-Depends", "")) + _names(fields.get("Depends", ""))
        pkg = Package(fields["Package"], fields.get("Version", "0"), fields["Filename"], fields.get("SHA256", ""),
                      deps, [g[0] for g in _names(fields.get("Provides", ""))], base)
        old = out.get(pkg.name)
        if old is None or compare_versions(pkg.version, old.version) > 0:
            out[pkg.name] = pkg
    return out


def merge(*indexes: dict[str, Package]) -> dict[str, Package]:
    out: dict[str, Package] = {}
    for index in indexes:
        for name, pkg in index.items():
            if name not in out or compare_versions(pkg.version, out[name].version) > 0:
                out[name] = pkg
    return out


def providers(index: dict[str, Package]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pkg in index.values():
        for v in pkg.provides:
            out.setdefault(v, []).append(pkg.name)
    for v in out:
        out[v].sort()
    return out


class Unresolvable(Exception):
    pass


def resolve(wanted: list[str], index: dict[str, Package], installed: set[str]) -> list[str]:
    """Every package to fetch for ``wanted``: the wanted ones themselves (always) and their
    dependencies, recursively, but those already ``installed`` (names and what installed
    packages provide). Of alternatives, one already satisfied wins, else the first the index
    has as a package, else the first that a package provides."""
    prov = providers(index)
    chosen: list[str] = []
    queue = list(wanted)
    for name in wanted:
        if name not in index:
            raise Unresolvable(f"no package {name} in the index")
    while queue:
        name = queue.pop(0)
        if name in chosen:
            continue
        chosen.append(name)
        for group in index[name].depends:
            if any(alt in installed or alt in chosen or alt in queue for alt in group):
                continue
            pick = next((alt for alt in group if alt in index), None)
            if pick is None:
                pick = next((p for alt in group for p in prov.get(alt, []) if p in installed or p in chosen), None)
                if pick is not None:
                    continue
                pick = next((p for alt in group for p in prov.get(alt, [])), None)
            if pick is None:
                raise Unresolvable(f"{name} depends on {' | '.join(group)}, which nothing in the index provides")
            queue.append(pick)
    return chosen


def installed_packages() -> set[str]:
    """What dpkg-query reports installed here: package names and what they provide."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\t${Provides}\n"],
                          capture_output=True, text=True, check=False)
    out: set[str] = set()
    for line in proc.stdout.splitlines():
        name, status, provides = ([*line.split("\t"), "", ""])[:3]
        if status == "installed":
            out.add(name)
            out.update(g[0] for g in _names(provides))
    return out


# --------------------------------------------------------------------------- the stamp


def stamp_key(specs: list[str], sources: list[Source], arch: str) -> dict:
    return {"specs": sorted(specs), "arch": arch, "sources": sorted(f"{s.uri} {s.suite}" for s in sources)}


def stamp_is_fresh(stamp: dict | None, key: dict, now: float, max_age: float = MAX_AGE) -> bool:
    """A stamp that was written for this same request and is younger than ``max_age``."""
    if not stamp:
        return False
    return {k: stamp.get(k) for k in key} == key and 0 <= now - stamp.get("time", 0) < max_age


# --------------------------------------------------------------------------- fetching


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def fetch_index(sources: list[Source], arch: str) -> dict[str, Package]:
    parts = []
    for s in sources:
        url = f"{s.uri}/dists/{s.suite}/main/binary-{arch}/Packages.xz"
        try:
            text = lzma.decompress(_get(url)).decode("utf-8", "replace")
        except OSError as e:
            raise SystemExit(f"debfetch: cannot read {url}: {e}") from e
        parts.append(parse_packages(text, s.uri))
    return merge(*parts)


def wrapper(root: Path, binary: Path) -> str:
    libs = [root / d for d in ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu",
                               "lib/aarch64-linux-gnu", "usr/lib")]
    libpath = ":".join(str(p) for p in libs if p.is_dir())
    state = STATE_DIRS.get(binary.name)
    ns = ""
    if state:
        # the binary was built for a state directory its package makes: where the package is
        # not installed (a new machine), root runs it in a mount namespace of its own whose
        # /var/lib is an empty tmpfs with that directory (the host's /var/lib is not touched)
        parent = str(Path(state).parent)
        ns = (f'if [ ! -d {state} ] && [ "$(id -u)" = 0 ] && [ -z "${{HALB_DEBFETCH_NS:-}}" ]; then\n'
              f"  HALB_DEBFETCH_NS=1 exec unshare --mount --propagation private sh -c "
              f"'mount -t tmpfs halb-debfetch {parent} && mkdir -p {state} && exec \"$0\" \"$@\"' \"$0\" \"$@\"\n"
              "fi\n")
    return (f"#!/bin/sh\n# made by tests/helpers/debfetch.py (scripts/bootstrap): {binary.relative_to(root)}, unpacked, not installed\n"
            + ns +
            f'LD_LIBRARY_PATH="{libpath}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "{binary}" "$@"\n')


#: binary -> the directory it was built to use that its package creates (nginx's temp paths:
#: ``nginx -t`` creates /var/lib/nginx/body and fails when /var/lib/nginx is missing)
STATE_DIRS = {"nginx": "/var/lib/nginx"}


def find_binary(root: Path, name: str) -> Path | None:
    for d in ("usr/sbin", "usr/bin", "sbin", "bin"):
        p = root / d / name
        if p.is_file():
            return p
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python3 -m tests.helpers.debfetch DEST package:binary ...", file=sys.stderr)
        return 2
    dest = Path(argv[0]).resolve()
    specs = argv[1:]
    pairs = [([*s.split(":", 1), ""])[:2] for s in specs]  # "package" alone: no wrapper
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    sources = system_sources()
    key = stamp_key(specs, sources, arch)
    try:
        stamp = json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        stamp = None
    if stamp_is_fresh(stamp, key, time.time()) and all((dest / b).is_file() for _, b in pairs if b):
        return 0
    if not sources:
        print("debfetch: no Debian source in /etc/apt nor a release in /etc/os-release", file=sys.stderr)
        return 1
    index = fetch_index(sources, arch)
    todo = resolve(sorted({p for p, _ in pairs}), index, installed_packages())
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest, prefix=".fetch-"))
    root = work / "root"
    try:
        for name in todo:
            pkg = index[name]
            data = _get(f"{pkg.base}/{pkg.filename}")
            if hashlib.sha256(data).hexdigest() != pkg.sha256:
                print(f"debfetch: {pkg.filename}: SHA256 differs from the index", file=sys.stderr)
                return 1
            deb = work / f"{name}.deb"
            deb.write_bytes(data)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            deb.unlink()
        final = dest / "root"
        if final.exists():
            shutil.rmtree(final)
        root.rename(final)
        for _, binary in pairs:
            if not binary:
                continue
            found = find_binary(final, binary)
            if found is None:
                print(f"debfetch: no {binary} in the fetched packages", file=sys.stderr)
                return 1
            w = dest / binary
            w.write_text(wrapper(final, found))
            w.chmod(0o755)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    versions = {n: index[n].version for n in todo}
    (dest / STAMP).write_text(json.dumps({**key, "time": time.time(), "packages": versions}, indent=1) + "\n")
    print("debfetch: " + ", ".join(f"{n} {v}" for n, v in versions.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
