# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.halb.pair.plugins.module_utils._files import (
    Current,
    FilesError,
    Wanted,
    differences,
    effective_mode,
    parse_mode,
    refusal_message,
    stale,
    unpredictable_message,
    validate_argv,
)


@pytest.mark.parametrize(("raw", "expected"), [("0640", 0o640), ("640", 0o640), ("0755", 0o755), (0o600, 0o600), (None, None), ("", None)])
def test_parse_mode(raw, expected):
    assert parse_mode(raw) == expected


@pytest.mark.parametrize("raw", ["u+rw", "0999", "12345", True])
def test_parse_mode_refuses(raw):
    with pytest.raises(FilesError):
        parse_mode(raw)


W = Wanted(b"x\n", 0o640, 0, 0)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (Current(None), ["absent"]),
        (Current(b"x\n", 0o640, 0, 0), []),
        (Current(b"y\n", 0o640, 0, 0), ["content"]),
        (Current(b"x\n", 0o644, 0, 0), ["mode"]),
        (Current(b"x\n", 0o640, 1000, 0), ["owner"]),
        (Current(b"x\n", 0o640, 0, 7), ["group"]),
        (Current(b"x", 0o600, 5, 5), ["content", "mode", "owner", "group"]),
    ],
)
def test_differences(current, expected):
    assert differences(current, W) == expected


def test_unset_mode_and_owner_are_not_compared():
    assert differences(Current(b"x\n", 0o600, 5, 5), Wanted(b"x\n", None, None, None)) == []


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("/usr/bin/v %s", ["/usr/bin/v", "/t/f"]),
        (
            "/x/nginx-config-test /usr/sbin/nginx '/etc/my nginx' conf.d/a.conf %s",
            ["/x/nginx-config-test", "/usr/sbin/nginx", "/etc/my nginx", "conf.d/a.conf", "/t/f"],
        ),
        ("check -f %s --strict", ["check", "-f", "/t/f", "--strict"]),
    ],
)
def test_validate_argv(template, expected):
    assert validate_argv(template, "/t/f") == expected


@pytest.mark.parametrize("template", ["check", "check %s %s"])
def test_validate_argv_needs_one_placeholder(template):
    with pytest.raises(FilesError):
        validate_argv(template, "/t/f")


@pytest.mark.parametrize(
    ("wanted", "current", "expected"),
    [
        (Wanted(b"x", 0o640, None, None), Current(b"y", 0o600), 0o640),
        (Wanted(b"x", None, None, None), Current(b"y", 0o600), 0o600),
        (Wanted(b"x", None, None, None), Current(None), 0o644),
    ],
)
def test_effective_mode(wanted, current, expected):
    assert effective_mode(wanted, current) == expected


def test_refusal_message_names_the_destination_not_the_candidate():
    msg = refusal_message("/etc/k.conf", 4, "line 3: bad in /etc/.k.conf.x1\n", "\nerror\n", "/etc/.k.conf.x1")
    assert msg == "/etc/k.conf was refused by its validator (exit 4) and not written:\nline 3: bad in /etc/k.conf\nerror"
    assert refusal_message("/etc/k.conf", 1, "", "", "/tmp/c") == "/etc/k.conf was refused by its validator (exit 1) and not written"


def test_unpredictable_message_lists_what_the_validator_cannot_see():
    assert unpredictable_message("/etc/nginx/conf.d/a.conf", 1, ["/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/default"]) == (
        "/etc/nginx/conf.d/a.conf: check mode cannot predict its validation: the validator refused it (exit 1), but it sees "
        "/etc/nginx/nginx.conf, /etc/nginx/sites-enabled/default as they are now, not as this run would leave them")


@pytest.mark.parametrize(("entries", "keep", "expected"), [
    ([("a.crt", False), ("a.key", False), ("b.crt", False)], ["a.crt", "a.key"], ["b.crt"]),
    ([("b.key", False), ("a.key", False)], [], ["a.key", "b.key"]),
    ([("sub", True), ("a", False)], ["a"], []),  # subdirectories stay
    ([], ["a"], []),
])
def test_stale(entries, keep, expected):
    assert stale(entries, keep) == expected


@pytest.mark.parametrize("keep", ["", "/etc/nginx/halb-tls/a.crt", "../a", ".", ".."])
def test_stale_keep_holds_names_only(keep):
    with pytest.raises(FilesError, match="prune: keep holds names"):
        stale([("a", False)], [keep])
