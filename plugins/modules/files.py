#!/usr/bin/python
# Copyright: (c) 2026, halb.pair developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write several small files in one step, each validated before it takes effect
version_added: 0.1.0
description:
  - Creates directories, removes paths and writes files from content given by the controller,
    on the node in a single module run, in that order; then, when no file was refused, prunes
    the directories O(prune) names. The roles of this collection use it
    instead of one C(template)/C(copy)/C(file) task per file, each of which costs several
    round trips to the node, one run of this module costs one.
  - Paths in O(absent) are removed B(before) any file is validated, so a validator that reads
    the whole configuration (C(nginx -t)) never sees a file this run removes (Debian's default
    site next to a new C(default_server)).
  - A file is replaced only when its content differs; its mode, owner, group, SELinux context and
    attributes are then set as the file common arguments ask (C(set_fs_attributes_if_different)).
    A new content is written to a temporary file in the destination's directory and, with
    O(files[].validate), checked there first; it then replaces the destination with Ansible's
    C(atomic_move), which keeps the destination's SELinux context. A destination that is a
    symbolic link is followed (O(files[].follow)); the file it points to is replaced, the link stays.
  - A refused file never replaces the live one, and never hides the files written before it;
    the module goes on with the next files and returns, with C(changed) and RV(changed_paths) for
    what it did, the list RV(refused). With O(fail_on_refusal=true) (the default) it then fails;
    with V(false) it does not, so that Ansible still notifies the handlers of the task for the
    files written (Ansible notifies no handler for a failed task), and the next task fails on
    RV(refused) (see EXAMPLES).
  - Contents are returned only as C(--diff) output, and never for a file marked
    O(files[].secret). Every string in O(secrets) is masked in everything the module
    returns, its own arguments included (they show with C(-vvv)).
notes:
  - Writing system files (C(/etc/keepalived), C(/etc/nginx)), setting their owner and running
    their validators needs root on the node (the collection's playbooks set C(become)).
author: halb.pair developers (@halb-pair)
attributes:
  check_mode:
    support: full
    description: Predicts what would change and which files would be refused; writes nothing.
    details:
      - Validators still run, on a temporary copy, so check mode predicts refusals too. A validator that
        this run would install (or update) is run from a temporary copy of its new content.
      - When a validator refuses a file in check mode while files before it in the batch would change (or be
        removed) first, the refusal cannot be predicted (the validator sees them as they are now), and the module
        warns instead of refusing. The module also warns when it cannot run a validator at all.
  diff_mode:
    support: full
    description: Shows each changed file's content before and after.
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
      mode: {description: Octal mode such as C("0640"); a new file without one gets C(0644)., type: raw}
      seuser: {description: SELinux user of the file (as in M(ansible.builtin.file)); unset keeps the destination's context., type: str}
      serole: {description: SELinux role of the file., type: str}
      setype: {description: SELinux type of the file., type: str}
      selevel: {description: SELinux level of the file., type: str}
      attributes: {description: File attributes as C(lsattr) shows them (as in M(ansible.builtin.file))., type: str}
      follow:
        description: When the destination is a symbolic link, write the file it points to and keep the link.
        type: bool
        default: true
      backup:
        description: Keep a dated copy of the file being replaced; RV(backup_files) names it.
        type: bool
        default: false
      validate:
        description: Command that checks the candidate; C(%s) is its path. Exit 0 accepts it.
        type: str
      secret:
        description: The file holds a secret; never show its diff.
        type: bool
        default: false
  absent:
    description: Paths to remove (files or links), before any file is validated or written.
    type: list
    elements: path
    default: []
  prune:
    description:
      - After the files are written, and only when none was refused, remove every file or link directly in
        O(prune[].path) that O(prune[].keep) does not name (subdirectories stay; a missing directory is fine).
      - For files named after their content that a configuration references (a certificate and its key), a new
        pair gets new names, is written before the configuration that references it is validated, and the old
        pair, still referenced by the live configuration until that one is replaced, goes only once it was.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path of the directory., type: path, required: true}
      keep: {description: "Names of the entries to keep (names in the directory, not paths).", type: list, elements: str, default: []}
  pending:
    description:
      - Check mode only - paths an earlier task of this run would have changed (its RV(changed_paths)). A validator
        cannot see them as the run would leave them, so a refusal after them is a warning, as after this run's own
        predicted changes. Ignored outside check mode.
    type: list
    elements: path
    default: []
  fail_on_refusal:
    description:
      - V(true) fails the task when a file was refused (RV(refused) not empty). Ansible does not notify
        handlers for a failed task, so the files written before the refusal would not be reloaded.
      - V(false) returns RV(refused) without failing; fail in the next task (after C(notify) has done its work).
    type: bool
    default: true
  secrets:
    description: Strings that must never appear in the module's output (for example a password inside a validator's message).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
# A role's pattern: the handler is notified for every file written, even when a later file is
# refused; the next tasks run the handlers for those files and then fail with the refusal.
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
    fail_on_refusal: false
  register: written
  notify: keepalived config changed

- name: Apply the files written before a refusal
  ansible.builtin.meta: flush_handlers
  when: written.refused | length > 0

- name: Fail on a refused file
  ansible.builtin.fail:
    msg: "{{ written.refused | map(attribute='msg') | join('\n') }}"
  when: written.refused | length > 0
"""

RETURN = r"""
changed_paths:
  description: Every path created, replaced, re-permissioned or removed, in order.
  returned: always
  type: list
  elements: str
  sample: [/etc/keepalived/keepalived.conf]
refused:
  description: The files not written, in order, each with the reason (the validator's output, secrets masked).
  returned: always
  type: list
  elements: dict
  contains:
    path: {description: The destination., type: str, sample: /etc/nginx/conf.d/halb-lb.conf}
    msg:
      description: Why it was not written.
      type: str
      sample: "/etc/nginx/conf.d/halb-lb.conf was refused by its validator (exit 1) and not written ..."
backup_files:
  description: For each file replaced with O(files[].backup=true), the path of its backup.
  returned: when a backup was made
  type: dict
  sample: {/etc/nginx/nginx.conf: /etc/nginx/nginx.conf.1234.2026-12-01@22:00:00~}
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
    effective_mode,
    parse_mode,
    refusal_message,
    stale,
    text_diff,
    unpredictable_message,
    validate_argv,
)

#: A validator's exit status for "cannot test here: what I test with is not installed"
#: (the shell's "command not found"); a warning in check mode, a refusal otherwise.
NOT_INSTALLED = 127


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
    try:
        uid, gid = _ids(spec.get("owner"), spec.get("group"))
    except FilesError:
        if not check:
            raise
        return True  # check mode: an owner an earlier task of this run creates; a predicted change
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


def _remove(path: str, check: bool) -> bool:
    if not os.path.lexists(path):
        return False
    if os.path.isdir(path) and not os.path.islink(path):
        raise FilesError(f"{path}: is a directory; absent removes files and links only")
    if not check:
        os.unlink(path)
    return True


def _prune(path: str, keep: list[str], check: bool) -> list[str]:
    """Remove the files and links in ``path`` that ``keep`` does not name; the paths removed."""
    try:
        with os.scandir(path) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except FileNotFoundError:
        return []
    removed = []
    for name in stale(entries, keep):
        target = os.path.join(path, name)
        if not check:
            os.unlink(target)
        removed.append(target)
    return removed


class Batch:
    """One run: what was changed, refused and warned, in order."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.check = module.check_mode
        self.changed_paths: list[str] = []
        self.refused: list[dict[str, str]] = []
        self.diffs: list[dict[str, str]] = []
        self.backups: dict[str, str] = {}
        # check mode: what this run would have changed before the current file (validators do not see it)
        self.unseen: list[str] = []
        # check mode: the new content of files this run would write (validators among them)
        self.pending: dict[str, bytes] = {}

    def file(self, spec: dict[str, t.Any]) -> None:
        path = spec["path"]
        dest = os.path.realpath(path) if spec["follow"] and os.path.islink(path) else path
        uid, gid = _ids(spec.get("owner"), spec.get("group"))
        current = _current(dest)
        wanted = Wanted(spec["content"].encode("utf-8"), parse_mode(spec.get("mode")), uid, gid)
        content_changed = current.content != wanted.content
        if content_changed:
            self._validate_and_write(spec, dest, wanted, current)
        args = self.module.load_file_common_arguments(
            {**spec, "mode": effective_mode(wanted, current), "follow": False}, path=dest)
        attrs_changed = self.module.set_fs_attributes_if_different(args, False)
        if content_changed or attrs_changed:
            self.changed_paths.append(path)
            if self.check:
                self.unseen.append(path)
                self.pending[dest] = wanted.content
            if self.module._diff and not spec["secret"] and content_changed:
                self.diffs.append(text_diff(path, current, wanted))

    def _validate_and_write(self, spec: dict[str, t.Any], dest: str, wanted: Wanted, current: Current) -> None:
        path = spec["path"]
        directory = os.path.dirname(dest) or "."
        if not os.path.isdir(directory):
            if not self.check:
                raise FilesError(f"{path}: directory {directory} does not exist")
            directory = self.module.tmpdir  # created by this run: validate the candidate elsewhere
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(dest)}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(wanted.content)
            if spec.get("validate"):
                self._run_validator(spec, tmp)
            if self.check:
                return
            if spec["backup"] and current.content is not None:
                self.backups[path] = self.module.backup_local(dest)
            creating = current.content is None
            # atomic_move makes a new file 0666 & ~umask before the attributes are set:
            # never world-readable, even for a moment (keepalived.conf holds a password).
            old = os.umask(0o077) if creating else None
            try:
                self.module.atomic_move(tmp, dest, unsafe_writes=False)
            finally:
                if old is not None:
                    os.umask(old)
            tmp = ""
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def _run_validator(self, spec: dict[str, t.Any], candidate: str) -> None:
        path = spec["path"]
        argv = validate_argv(spec["validate"], candidate)
        validator = os.path.realpath(argv[0])
        # what the validator cannot see in check mode (its own new content it runs, below)
        unseen = [p for p in self.unseen if os.path.realpath(p) != validator]
        if self.check and validator in self.pending:
            # the validator is one of the files this run would write: run its new content
            fd, copy = tempfile.mkstemp(dir=self.module.tmpdir, prefix="validator.")
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.pending[validator])
            os.chmod(copy, 0o700)
            argv = [copy, *argv[1:]]
        elif not os.path.exists(argv[0]):
            if self.check:
                self.module.warn(f"{path}: not validated in check mode: its validator {argv[0]} is not installed")
                return
            raise FilesError(f"{path}: its validator {argv[0]} does not exist; not written")
        try:
            rc, out, err = self.module.run_command(argv)
        except OSError as exc:
            rc, out, err = 126, "", str(exc)
        if rc == 0:
            return
        msg = refusal_message(path, rc, out, err, candidate)
        if self.check and rc == NOT_INSTALLED:
            # the validator runs, but what it tests with is not installed yet (a fresh host)
            self.module.warn(f"{path}: not validated in check mode: {msg}")
            return
        if self.check and unseen:
            self.module.warn(unpredictable_message(path, rc, unseen))
            return
        raise FilesError(msg)


def main() -> None:
    file_options = {
        "path": {"type": "path", "required": True},
        "content": {"type": "str", "required": True, "no_log": False},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "mode": {"type": "raw"},
        "seuser": {"type": "str"},
        "serole": {"type": "str"},
        "setype": {"type": "str"},
        "selevel": {"type": "str"},
        "attributes": {"type": "str"},
        "follow": {"type": "bool", "default": True},
        "backup": {"type": "bool", "default": False},
        "validate": {"type": "str"},
        "secret": {"type": "bool", "default": False},
    }
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
            "files": {"type": "list", "elements": "dict", "default": [], "options": file_options},
            "absent": {"type": "list", "elements": "path", "default": []},
            "prune": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "keep": {"type": "list", "elements": "str", "default": []},
                },
            },
            "pending": {"type": "list", "elements": "path", "default": []},
            "fail_on_refusal": {"type": "bool", "default": True},
            "secrets": {"type": "list", "elements": "str", "default": [], "no_log": True},
        },
        supports_check_mode=True,
    )
    batch = Batch(module)
    if batch.check:
        batch.unseen.extend(module.params["pending"])
    try:
        for spec in module.params["directories"]:
            if _ensure_dir(spec, batch.check):
                batch.changed_paths.append(spec["path"])
    except (FilesError, OSError) as exc:
        module.fail_json(msg=str(exc), changed=bool(batch.changed_paths), changed_paths=batch.changed_paths, refused=[])
    # Removals first: a validator that reads the whole configuration must not see them.
    for path in module.params["absent"]:
        try:
            if _remove(path, batch.check):
                batch.changed_paths.append(path)
                if batch.check:
                    batch.unseen.append(path)
        except (FilesError, OSError) as exc:
            batch.refused.append({"path": path, "msg": str(exc)})
    # A refused file is skipped; the files after it are still written (each is validated
    # against the configuration as it is, so this is safe) and every write is reported.
    for spec in module.params["files"]:
        try:
            batch.file(spec)
        except (FilesError, OSError) as exc:
            batch.refused.append({"path": spec["path"], "msg": str(exc)})
    # Last, and only when nothing was refused: what the files written replace (a refused
    # configuration leaves the live one, which may still reference them).
    if not batch.refused:
        for spec in module.params["prune"]:
            try:
                removed = _prune(spec["path"], spec["keep"], batch.check)
            except (FilesError, OSError) as exc:
                batch.refused.append({"path": spec["path"], "msg": str(exc)})
                continue
            batch.changed_paths.extend(removed)
    result: dict[str, t.Any] = {
        "changed": bool(batch.changed_paths),
        "changed_paths": batch.changed_paths,
        "refused": batch.refused,
    }
    if batch.backups:
        result["backup_files"] = batch.backups
    if batch.diffs:
        result["diff"] = batch.diffs
    if batch.refused and module.params["fail_on_refusal"]:
        module.fail_json(msg="\n".join(r["msg"] for r in batch.refused), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
