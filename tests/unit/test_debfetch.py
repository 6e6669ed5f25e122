# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/helpers/debfetch.py, scripts/bootstrap's fetcher of the quick tier's tools: the
sources, the index, the versions, the dependencies and the stamp, from tables."""

from __future__ import annotations

import pytest

from tests.helpers import debfetch as d

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: http://example.org/debian
Suites: bookworm
Components: main
"""


@pytest.mark.parametrize(
    ("text", "parse", "want"),
    [
        (DEB822, d.parse_deb822_sources,
         [d.Source("http://deb.debian.org/debian", "bookworm", ("main",)),
          d.Source("http://deb.debian.org/debian", "bookworm-updates", ("main",))]),
        ("deb http://deb.debian.org/debian trixie main contrib\n# deb http://x y main\ndeb-src http://a b main\n",
         d.parse_one_line_sources, [d.Source("http://deb.debian.org/debian", "trixie", ("main", "contrib"))]),
        ("deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian/ bookworm-security main\n",
         d.parse_one_line_sources, [d.Source("http://deb.debian.org/debian", "bookworm-security", ("main",))]),
        ('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n', d.os_release_sources,
         [d.Source(d.FALLBACK_MIRROR, "trixie", ("main",))]),
        ("ID=debian\n", d.os_release_sources, []),
    ],
)
def test_sources(text, parse, want):
    assert parse(text) == want


def test_system_sources_fall_back_to_os_release(tmp_path):
    (tmp_path / "os-release").write_text("VERSION_CODENAME=bookworm\n")
    assert d.system_sources(tmp_path) == [d.Source(d.FALLBACK_MIRROR, "bookworm", ("main",))]
    (tmp_path / "apt" / "sources.list.d").mkdir(parents=True)
    (tmp_path / "apt" / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "apt" / "sources.list.d" / "other.list.disabled").write_text("deb http://x/debian y main\n")
    assert [s.suite for s in d.system_sources(tmp_path)] == ["bookworm", "bookworm-updates"]


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        ("1.0", "1.0", 0), ("1.0", "1.1", -1), ("1.10", "1.9", 1), ("1:1.0", "2.0", 1),
        ("1.0~rc1", "1.0", -1), ("1.0", "1.0+deb12u1", -1), ("1.22.1-9", "1.22.1-9+deb12u12", -1),
        ("1.22.1-9+deb12u2", "1.22.1-9+deb12u12", -1), ("2.2.7-1+b2", "2.2.7-1", 1), ("1.0a", "1.0", 1),
        ("0~20130707", "0~2013", 1), ("1.0-1", "1.0-1~bpo1", 1),
    ],
)
def test_compare_versions(a, b, want):
    assert d.compare_versions(a, b) == want
    assert d.compare_versions(b, a) == -want


INDEX = """\
Package: nginx
Version: 1.22.1-9
Depends: libc6 (>= 2.34), libpcre2-8-0 (>= 10.22), nginx-common (= 1.22.1-9), libssl3 | libssl1.1
Filename: pool/main/n/nginx/nginx_1.22.1-9_amd64.deb
SHA256: aa
Description: small, powerful, scalable web/proxy server
 Nginx ("engine X") is a high-performance web and reverse proxy server.

Package: nginx
Version: 1.22.1-9+deb12u12
Pre-Depends: nginx-common:any
Depends: libc6, libssl3t64 | libssl3
Filename: pool/main/n/nginx/nginx_1.22.1-9+deb12u12_amd64.deb
SHA256: bb

Package: nginx-common
Version: 1.22.1-9+deb12u12
Depends: lsb-base (>= 3.0-6), www-server-helper
Filename: pool/main/n/nginx/nginx-common_all.deb
SHA256: cc

Package: libssl3
Version: 3.0.15-1
Filename: pool/main/o/openssl/libssl3.deb
SHA256: dd

Package: helper-a
Version: 1
Provides: www-server-helper (= 1)
Filename: pool/a.deb
SHA256: ee

Package: helper-b
Version: 1
Provides: www-server-helper
Filename: pool/b.deb
SHA256: ff

Package: keepalived
Version: 1:2.2.7-1+b2
Depends: libnl-3-200 | missing-virtual, iproute2
Filename: pool/main/k/keepalived/keepalived.deb
SHA256: 11
"""


def test_parse_packages_keeps_the_newest_version_and_the_fields():
    idx = d.parse_packages(INDEX, "http://m/debian")
    nginx = idx["nginx"]
    assert (nginx.version, nginx.filename, nginx.sha256, nginx.base) == (
        "1.22.1-9+deb12u12", "pool/main/n/nginx/nginx_1.22.1-9+deb12u12_amd64.deb", "bb", "http://m/debian")
    assert nginx.depends == [["nginx-common"], ["libc6"], ["libssl3t64", "libssl3"]]  # Pre-Depends first
    assert idx["helper-a"].provides == ["www-server-helper"]
    assert idx["keepalived"].version == "1:2.2.7-1+b2"


def test_merge_takes_the_newer_suite():
    old = d.parse_packages("Package: x\nVersion: 1.0\nFilename: a\nSHA256: 1\n", "main")
    new = d.parse_packages("Package: x\nVersion: 1.0+deb12u1\nFilename: b\nSHA256: 2\n", "security")
    assert d.merge(old, new)["x"].base == "security" and d.merge(new, old)["x"].base == "security"


@pytest.mark.parametrize(
    ("wanted", "installed", "want"),
    [
        # libc6 installed; libssl3t64 absent from the index: its alternative libssl3; the virtual
        # www-server-helper: the first package that provides it
        (["nginx"], {"libc6", "lsb-base"}, ["nginx", "nginx-common", "libssl3", "helper-a"]),
        # an installed alternative satisfies the group; a provider installed satisfies the virtual
        (["nginx"], {"libc6", "lsb-base", "libssl3t64", "helper-b"}, ["nginx", "nginx-common"]),
        # what is wanted is fetched even when installed (the tool is the package's own binary)
        (["nginx"], {"nginx", "nginx-common", "libc6", "libssl3", "lsb-base", "www-server-helper"}, ["nginx"]),
        (["keepalived"], {"libnl-3-200", "iproute2"}, ["keepalived"]),
    ],
)
def test_resolve(wanted, installed, want):
    assert d.resolve(wanted, d.parse_packages(INDEX), installed) == want


@pytest.mark.parametrize(
    ("wanted", "installed", "match"),
    [
        (["nosuch"], set(), "no package nosuch"),
        (["keepalived"], set(), r"libnl-3-200 \| missing-virtual, which nothing in the index provides"),
        (["keepalived"], {"libnl-3-200"}, "iproute2, which nothing in the index provides"),
        (["nginx"], set(), "libc6, which nothing"),
    ],
)
def test_resolve_refuses_what_the_index_lacks(wanted, installed, match):
    with pytest.raises(d.Unresolvable, match=match):
        d.resolve(wanted, d.parse_packages(INDEX), installed)


KEY = d.stamp_key(["nginx:nginx", "keepalived:keepalived"], [d.Source("http://m", "bookworm", ("main",))], "amd64")


@pytest.mark.parametrize(
    ("stamp", "now", "fresh"),
    [
        (None, 100, False),
        ({**KEY, "time": 100}, 100 + 3600, True),
        ({**KEY, "time": 100}, 100 + d.MAX_AGE + 1, False),  # a week old: the index is read again
        ({**KEY, "time": 100}, 50, False),  # from the future: the clock moved
        ({**KEY, "arch": "arm64", "time": 100}, 101, False),
        ({**KEY, "specs": ["nginx:nginx"], "time": 100}, 101, False),  # another request
        ({**KEY, "sources": ["http://m trixie"], "time": 100}, 101, False),  # another release
    ],
)
def test_stamp(stamp, now, fresh):
    assert d.stamp_is_fresh(stamp, KEY, now) is fresh


def test_stamp_key_ignores_the_order_of_the_request():
    src = [d.Source("http://m", "bookworm", ("main",))]
    assert d.stamp_key(["a:a", "b:b"], src, "amd64") == d.stamp_key(["b:b", "a:a"], src, "amd64")


def test_wrapper_runs_the_binary_with_its_libraries(tmp_path):
    (tmp_path / "usr" / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "usr" / "sbin").mkdir(parents=True)
    binary = tmp_path / "usr" / "sbin" / "tool"
    binary.write_text("")
    assert d.find_binary(tmp_path, "tool") == binary and d.find_binary(tmp_path, "other") is None
    text = d.wrapper(tmp_path, binary)
    assert text.startswith("#!/bin/sh\n") and f'exec "{binary}" "$@"' in text
    assert f"{tmp_path}/usr/lib/x86_64-linux-gnu" in text and f"{tmp_path}/lib/x86_64" not in text
