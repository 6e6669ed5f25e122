"""A new machine passes the README's commands: every external command the quick tier
(scripts/test --quick, tests/) calls comes from a package a new machine has or from
scripts/bootstrap's .cache/tools; the lab's may also come from what lab/bin/bootstrap installs.

The check resolves each command to its file (`which`) and the file to its Debian package
(`dpkg -S`), on this machine, after lab/bin/bootstrap ran (scripts/test runs it first).
"""

from __future__ import annotations

import pytest

from tests.helpers import host_commands as hc

# Commands a script calls only as an optional probe, with the fallback that follows.
OPTIONAL = {
    "pyenv": "scripts/bootstrap's Python probe (`pyenv root 2>/dev/null`), then HALB_PYTHON and ~/.pyenv/versions",
}


def _release() -> str:
    text = open("/etc/os-release").read()
    for line in text.splitlines():
        if line.startswith("VERSION_ID="):
            return line.split("=", 1)[1].strip('"').split(".")[0]
    raise AssertionError("/etc/os-release has no VERSION_ID")


def test_every_command_the_project_calls_is_installed_by_bootstrap_or_on_a_new_machine():
    commands = hc.commands_by_file()
    commands = {f: {c for c in cmds if c not in OPTIONAL} for f, cmds in commands.items()}
    # The engine parts podman runs for the lab's containers.conf, never named in a script.
    commands["lab/lib/engine.sh (containers.conf)"] = set(hc.engine_parts().values()) | {"aardvark-dns", "conmon"}
    found = hc.problems(commands, hc.bootstrap_packages(), hc.fresh_packages(_release()))
    assert found == [], "\n".join(found)


def test_the_scan_sees_the_commands_that_matter():
    # Guards the scanner itself: if these went unseen the test above would pass vacuously.
    cmds = hc.commands_by_file()
    assert {"podman", "debootstrap", "iptables", "chroot", "dpkg-deb"} <= cmds["lab/lib/image.sh"] | cmds["lab/lib/engine.sh"]
    assert "apt-get" in cmds["lab/bin/bootstrap"]
    # the VM lab: QEMU, its disks and the guests' SSH
    assert {"qemu-system-x86_64", "qemu-img", "mkfs.ext4"} <= cmds["lab/vm/lib/vm.sh"]
    assert "keepalived" in cmds["tests/render/test_keepalived.py"]
    assert "nginx" in cmds["tests/render/test_nginx.py"]
    # promtool: not from a package installed here, but from .cache/tools (tool_pkgs)
    assert "promtool" in cmds["tests/unit/monitoring/test_rules.py"]
    assert {"dpkg-deb", "dpkg-query"} <= cmds["tests/helpers/debfetch.py"]
    assert "apt-get" not in cmds["scripts/bootstrap"] and "podman" not in cmds["scripts/bootstrap"]


def test_the_quick_tier_takes_no_host_package_of_lab_bootstrap():
    # podman is installed here by lab/bin/bootstrap: fine for the lab, not for a test of the quick tier
    fresh = hc.fresh_packages(_release())
    assert hc.problems({"lab/lib/x.sh": {"podman"}}, hc.bootstrap_packages(), fresh) == []
    found = hc.problems({"tests/x.py": {"podman"}}, hc.bootstrap_packages(), fresh)
    assert len(found) == 1 and "the quick tier takes it from scripts/bootstrap's tool_pkgs" in found[0]
    assert hc.is_quick_tier("scripts/test") and hc.is_quick_tier("scripts/bootstrap") and not hc.is_quick_tier("scripts/lab")
    # keepalived, nginx, nft: the quick tier's come from .cache/tools
    assert {"keepalived", "nginx", "nft", "promtool", "shellcheck"} <= set(hc.bootstrap_tools())


def test_a_package_missing_from_bootstrap_is_reported():
    # netavark is exactly what a new machine lacked (issue: podman had no network backend).
    without = [p for p in hc.bootstrap_packages() if p != "netavark"]
    found = hc.problems({"containers.conf": {"netavark"}}, without, hc.fresh_packages(_release()))
    assert len(found) == 1 and "package netavark" in found[0]
    assert hc.problems({"containers.conf": {"netavark"}}, hc.bootstrap_packages(), hc.fresh_packages(_release())) == []


def test_a_tool_is_taken_from_cache_tools_only_when_bootstrap_keeps_it_there(tmp_path, monkeypatch):
    tool = tmp_path / "no-such-tool-halb"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setattr(hc, "TOOLS", tmp_path)
    cmds = {"scripts/x": {"no-such-tool-halb"}}
    assert hc.problems(cmds, [], set(), {"no-such-tool-halb": "some-package"}) == []
    found = hc.problems(cmds, [], set(), {})
    assert len(found) == 1 and "tool_pkgs does not name" in found[0]
    tool.unlink()
    found = hc.problems(cmds, [], set(), {"no-such-tool-halb": "some-package"})
    assert len(found) == 1 and "run scripts/bootstrap" in found[0]


def test_bootstrap_tool_line_is_read():
    assert hc.bootstrap_tools()["promtool"] == "prometheus" and hc.bootstrap_tools()["nginx"] == "nginx"
    assert hc.bootstrap_tools("x\ntool_pkgs=(a:b c-d:e.f g)\n") == {"b": "a", "e.f": "c-d"}
    for bad in ("tool_pkgs=(a:)\n", "tool_pkgs=(:b)\n", "x\n"):
        with pytest.raises(ValueError):
            hc.bootstrap_tools(bad)


def test_an_unknown_command_is_reported():
    found = hc.problems({"scripts/x": {"no-such-tool-halb"}}, [], set())
    assert found and "not installed here" in found[0]


@pytest.mark.parametrize(
    ("script", "expected", "absent"),
    [
        ("podman ps\n", {"podman"}, set()),
        ('x=$(podman exec "$c" ip -j addr)\n', {"podman"}, {"ip"}),
        ('echo "$(curl -s http://x)"\n', {"curl"}, set()),
        ("env DEBIAN_FRONTEND=noninteractive apt-get install -y x\n", {"apt-get"}, {"install"}),
        ("A=1 B=2 debootstrap x\n", {"debootstrap"}, set()),
        ("cat <<'PY'\nimport os\nfrobnicate now\nPY\nsort -u f\n", {"cat", "sort"}, {"import", "frobnicate"}),
        ("awk '{ print $1; system(\"rm -rf x\") }' f\n", {"awk"}, {"rm", "print"}),
        ("for n in lb1 lb2; do podman stop $n; done\n", {"podman"}, {"lb1", "for", "n"}),
        ("case $x in add) iptables -A ;; del) nft list ;; esac\n", {"iptables", "nft"}, {"add", "del", "list"}),
        ("NODES=(lb1 lb2 web1)\ncount=$((n + 1))\n", set(), {"lb1", "n"}),
        ("# podman in a comment\nls # and curl here\n", {"ls"}, {"podman", "curl"}),
        ("f() { runc list; }\nf\n", {"runc"}, set()),
        ("a && b || c | d; e &\n", {"a", "b", "c", "d", "e"}, set()),
        ("done < <(iptables -S)\n", {"iptables"}, set()),
    ],
)
def test_shell_scanner(script, expected, absent):
    found = hc.shell_commands(script)
    assert expected <= found
    assert not (absent & found)


def test_python_scanner():
    src = 'import shutil, subprocess\nsubprocess.run(["keepalived", "-t"])\nX = shutil.which("nginx")\nsubprocess.run(cmd)\n'
    assert hc.python_commands(src) == {"keepalived", "nginx"}


def test_bootstrap_package_line_is_read():
    assert hc.bootstrap_packages("x\nhost_pkgs=(a b-c d.e)\n") == ["a", "b-c", "d.e"]
    with pytest.raises(ValueError):
        hc.bootstrap_packages("host_pkgs=\n")
