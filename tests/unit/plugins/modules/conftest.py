# Copyright: halb.pair contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process: args through patch_module_args, run_command faked,
exit_json/fail_json turned into exceptions carrying the result."""

from __future__ import annotations

import typing as t

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, kind: str, result: dict[str, t.Any]):
        super().__init__(kind, result)
        self.kind = kind
        self.result = result


@pytest.fixture
def run_module(monkeypatch):
    """run_module(main, args, commands) -> (kind, result); commands(argv) -> (rc, out, err)."""

    def _run(
        main: t.Callable[[], None],
        args: dict[str, t.Any],
        commands: t.Callable[[list[str]], tuple[int, str, str]],
        check_mode: bool = False,
        diff: bool = False,
        # nft is absent unless a test brings it (vip_info reads the VRRP guard's counters with it)
        missing: tuple[str, ...] = ("nft",),
    ):
        calls: list[list[str]] = []

        def run_command(self, argv, *a, **kw):
            calls.append(list(argv))
            return commands(list(argv))

        def exit_json(self, **kwargs):
            raise ModuleExit("exit", kwargs)

        def fail_json(self, **kwargs):
            raise ModuleExit("fail", kwargs)

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
        monkeypatch.setattr(
            basic.AnsibleModule,
            "get_bin_path",
            lambda self, name, required=False, opt_dirs=None: None if name in missing else f"/usr/sbin/{name.rsplit('/', 1)[-1]}",
        )
        full = dict(args)
        if check_mode:
            full["_ansible_check_mode"] = True
        if diff:
            full["_ansible_diff"] = True
        with patch_module_args(full), pytest.raises(ModuleExit) as info:
            main()
        info.value.result["_calls"] = calls
        return info.value.kind, info.value.result

    return _run
