#!/usr/bin/python
# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write several small files in one step, each validated before it takes effect
version_added: 0.1.0
description:
  - Creates directories, writes files from content given by the controller, and removes
    paths, on the node in a single module run. The roles of this collection use it instead
    of one C(template)/C(copy)/C(file) task per file, each of which costs several round
    trips to the node, one run of this module costs one.
  - A file is replaced only when its content, mode, owner or group differ. A new content
    is written to a temporary file beside the destination and, with O(files[].validate),
    checked there first; a refused file never replaces the live one and the module fails
    with the validator's output. Files are handled in the order given, so a validator can
    be written before the files it checks.
  - Contents are returned only as C(--diff) output, and never for a file marked
    O(files[].secret). Every string in O(secrets) is masked in everything the module
    returns, its own arguments included (they show with C(-vvv)).
author: halb.pair developers
attributes:
  check_mode:
    support: full
    details: Validators still run, on a temporary copy, so check mode predicts refusals too.
  diff_mode:
    support: full
    details: Not for files marked O(files[].secret).
options:
  directories:
    description: Directories to create (with their parents) before any file is written.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: path, required: true}
      owner: {description: Owner name., type: str}
      group: {description: Group name., type: str}
      mode: {description: Octal mode such as C("0755")., type: raw}
  files:
    description: Files to write, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path of the destination., type: path, required: true}
      content: {description: The whole content., type: str, required: true}
      owner: {description: Owner name., type: str}
      group: {description: Group name., type: str}
      mode: {description: Octal mode such as C("0640")., type: raw}
      validate:
        description: Command that checks the candidate; C(%s) is its path. Exit 0 accepts it.
        type: str
      secret:
        description: The file holds a secret; never show its diff.
        type: bool
        default: false
  absent:
    description: Paths to remove (files or links).
    type: list
    elements: path
    default: []
  secrets:
    description: Strings that must never appear in the module's output (for example a password inside a validator's message).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Write keepalived's files, the configuration validated first
  halb.pair.files:
    directories:
      - {path: /var/lib/halb-pair, mode: "0755"}
    files:
      - path: /usr/local/libexec/halb-pair/keepalived-validate
        content: "{{ lookup('ansible.builtin.file', 'libexec/keepalived-validate', rstrip=false) }}"
        mode: "0755"
      - path: /etc/keepalived/keepalived.conf
        content: "{{ lookup('ansible.builtin.template', 'keepalived.conf.j2') }}"
        mode: "0640"
        validate: /usr/local/libexec/halb-pair/keepalived-validate %s
        secret: true
    secrets: ["{{ keepalived_auth_pass }}"]
  register: written
"""

RETURN = r"""
changed_paths:
  description: Every path created, replaced, re-permissioned or removed, in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/keepalived/keepalived.conf]
"""

import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import tempfile  # noqa: E402
import typing as t  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.halb.pair.plugins.module_utils._files import (  # noqa: E402
    Current,
    FilesError,
    Wanted,
    differences,
    parse_mode,
    text_diff,
    validate_argv,
)


def _ids(owner: str | None, group: str | None) -> tuple[int | None, int | None]:
    try:
        uid = pwd.getpwnam(owner).pw_uid if owner else None
    except KeyError as exc:
        raise FilesError(f"owner {owner!r} does not exist on this node") from exc
    try:
        gid = grp.getgrnam(group).gr_gid if group else None
    except KeyError as exc:
        raise FilesError(f"group {group!r} does not exist on this node") from exc
    return uid, gid


def _current(path: str) -> Current:
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            return Current(fh.read(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
    except FileNotFoundError:
        return Current(None)


def _ensure_dir(spec: dict[str, t.Any], check: bool) -> bool:
    path = spec["path"]
    mode = parse_mode(spec.get("mode"))
    uid, gid = _ids(spec.get("owner"), spec.get("group"))
    changed = False
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise FilesError(f"{path}: exists and is not a directory")
        changed = True
        if not check:
            os.makedirs(path, mode=0o755 if mode is None else mode, exist_ok=True)
    if not check or not changed:
        st = os.stat(path)
        if mode is not None and st.st_mode & 0o7777 != mode:
            changed = True
            if not check:
                os.chmod(path, mode)
        if (uid is not None and st.st_uid != uid) or (gid is not None and st.st_gid != gid):
            changed = True
            if not check:
                os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    return changed


def _write(module: AnsibleModule, spec: dict[str, t.Any], wanted: Wanted, current: Current, check: bool) -> None:
    path = spec["path"]
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        if check:
            return  # its directory is created by this run (or the run fails before)
        raise FilesError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(wanted.content)
        mode = wanted.mode if wanted.mode is not None else (current.mode if current.mode is not None else 0o644)
        os.chmod(tmp, mode)
        uid = wanted.uid if wanted.uid is not None else current.uid
        gid = wanted.gid if wanted.gid is not None else current.gid
        if uid is not None or gid is not None:
            os.chown(tmp, -1 if uid is None else uid, -1 if gid is None else gid)
        argv = validate_argv(spec["validate"], tmp) if spec.get("validate") else []
        # In check mode the validator may be one of the files this run would write.
        if check and argv and not os.path.exists(argv[0]):
            argv = []
        if argv and current.content != wanted.content:
            rc, out, err = module.run_command(argv)
            if rc != 0:
                detail = "\n".join(x for x in (out.strip(), err.strip()) if x).replace(tmp, path)
                raise FilesError(f"{path} was refused by its validator (exit {rc}) and not written:\n{detail}")
        if not check:
            os.replace(tmp, path)
            tmp = ""
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "mode": {"type": "raw"},
                },
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True, "no_log": False},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "mode": {"type": "raw"},
                    "validate": {"type": "str"},
                    "secret": {"type": "bool", "default": False},
                },
            },
            "absent": {"type": "list", "elements": "path", "default": []},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
        },
        supports_check_mode=True,
    )
    check = module.check_mode
    changed_paths: list[str] = []
    diffs: list[dict[str, str]] = []
    try:
        for spec in module.params["directories"]:
            if _ensure_dir(spec, check):
                changed_paths.append(spec["path"])
        for spec in module.params["files"]:
            path = spec["path"]
            uid, gid = _ids(spec.get("owner"), spec.get("group"))
            wanted = Wanted(spec["content"].encode("utf-8"), parse_mode(spec.get("mode")), uid, gid)
            current = _current(path)
            if not differences(current, wanted):
                continue
            _write(module, spec, wanted, current, check)
            changed_paths.append(path)
            if module._diff and not spec["secret"] and current.content != wanted.content:
                diffs.append(text_diff(path, current, wanted))
        for path in module.params["absent"]:
            if os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    raise FilesError(f"{path}: is a directory; absent removes files and links only")
                changed_paths.append(path)
                if not check:
                    os.unlink(path)
    except (FilesError, OSError) as exc:
        module.fail_json(msg=str(exc), changed=bool(changed_paths), changed_paths=changed_paths)
    result: dict[str, t.Any] = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
